import Engine
import Foundation
import Testing

@Suite("Losses")
struct LossTests {
    @Test("cross-entropy through LogSumExp is finite for logits ±1000 where the naive formula overflows")
    func logSumExpStability() {
        let logits = Tensor([[1000, 0, -1000], [1000, 0, -1000]])
        logits.requiresGrad = true

        // The naive way: softmax by exp/sum, then log. exp(1000) overflows to +inf.
        let exps = logits.scalars.map { Foundation.exp($0) }
        let naiveProbability = exps[0] / (exps[0] + exps[1] + exps[2])  // inf / inf
        #expect(naiveProbability.isNaN)
        let naiveLoss = -Foundation.log(exps[2] / (exps[0] + exps[1] + exps[2]))  // -log(0)
        #expect(!naiveLoss.isFinite)

        let loss = crossEntropy(logits: logits, labels: [0, 2], reduction: .none)
        #expect(loss.scalars == [0, 2000])
        loss.sum().backward()
        // softmax − onehot: [1, 0, 0] − e₀ = 0 for the first row, [1, 0, −1] for the second.
        #expect(logits.grad?.scalars == [0, 0, 0, 1, 0, -1])
    }

    @Test("fused cross-entropy equals the composed −log_softmax picked at the label")
    func fusedMatchesComposed() {
        var generator = RandomGenerator(seed: 1)
        let logits = Tensor.randomNormal([6, 4], standardDeviation: 3, using: &generator)
        let labels = [0, 3, 1, 1, 2, 0]
        logits.requiresGrad = true
        crossEntropy(logits: logits, labels: labels).backward()
        let fused = logits.grad!
        logits.zeroGrad()

        var onehot = [Float](repeating: 0, count: 24)
        for (row, label) in labels.enumerated() { onehot[row * 4 + label] = 1 }
        let composed = -(logits.logSoftmax() * Tensor(onehot, shape: [6, 4])).sum() / 6
        #expect(abs(composed.item - crossEntropy(logits: logits, labels: labels).item) < 1e-5)
        composed.backward()
        #expect(fused.isClose(to: logits.grad!, relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
    }

    @Test("squared loss is ½(ŷ − y)² and MSE its mean without the ½")
    func squaredAndMSE() {
        let prediction = Tensor([1, 2, 4], shape: [3, 1])
        let target = Tensor([1, 0, 1])
        #expect(squaredLoss(prediction, target).scalars == [0, 2, 4.5])
        #expect(mseLoss(prediction, target.reshaped([3, 1])).item == 13.0 / 3)
        #expect(mseLoss(prediction, target.reshaped([3, 1]), reduction: .sum).item == 13)
    }
}
