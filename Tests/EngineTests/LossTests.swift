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
        let naiveProbability = exps[0] / (exps[0] + exps[1] + exps[2]) // inf / inf
        #expect(naiveProbability.isNaN)
        let naiveLoss = -Foundation.log(exps[2] / (exps[0] + exps[1] + exps[2])) // -log(0)
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

    /// Issue #14: `x − (m + log Σ exp(x − m))` rounded `m + log Σ …` at the size of the logits
    /// (spacing 2.4e-4 at 3000; measured error 6.0e-5 on `[3000, 2999, 2995]`). Computed as
    /// `(x − m) − log Σ exp(x − m)`, the result must be as close to the float64 value of the same
    /// float32 logits as PyTorch's float32 result (`Fixtures/ops.json`, cases "… near ±3000", from
    /// `Tools/Reference/generate_op_fixtures.py`, torch 2.15.0; the op table also checks their
    /// gradients).
    ///
    /// Tolerance per value r, with u = 2⁻²⁴: here x − m is exact (integers), the three-term sum
    /// s = Σ exp(x − m) ∈ [1, 1.38] carries about 3u relative error (each `exp` below 1 ulp, two
    /// additions), which `log` turns into ≤ 3u absolute, `log` itself adds ≤ 1 ulp of 0.32, and
    /// the last subtraction half an ulp of r: ≤ 4u + ulp(r), 2.7e-7 … 7.2e-7 for r in −0.32 … −5.32.
    @Test("log-softmax and cross-entropy at logits near ±3000 round at the size of the result, as PyTorch's")
    func largeLogitsRoundAtTheResultsSize() throws {
        let cases = try loadFixture(OpFixtureFile.self, "ops.json").cases
        let logSoftmaxCase = try #require(cases.first { $0.name == "logSoftmax logits near ±3000" })
        let crossEntropyCase = try #require(cases.first { $0.name == "crossEntropy logits near ±3000" })
        let logits = logSoftmaxCase.inputs[0].tensor
        #expect(logits.shape == [2, 3] && logits.scalars.allSatisfy { abs($0) >= 2995 })

        // float64 log-softmax of the same float32 logits.
        let columns = logits.shape[1]
        var reference = [Double]()
        for row in 0..<logits.shape[0] {
            let x = (0..<columns).map { Double(logits.scalars[row * columns + $0]) }
            let m = x.max()!
            let logSum = Foundation.log(x.reduce(0) { $0 + Foundation.exp($1 - m) })
            reference += x.map { ($0 - m) - logSum }
        }
        func tolerance(_ r: Double) -> Double { 4 * 0x1p-24 + Double(Float(r).ulp) }

        let ours = logits.logSoftmax().scalars, torch = logSoftmaxCase.output.data
        for (i, r) in reference.enumerated() {
            #expect(abs(Double(ours[i]) - r) <= tolerance(r), "logSoftmax[\(i)]: ours \(ours[i]), float64 \(r)")
            #expect(abs(Double(torch[i]) - r) <= tolerance(r), "PyTorch's logSoftmax[\(i)]: \(torch[i]), float64 \(r)")
        }

        let labels = try #require(crossEntropyCase.params.labels)
        let pickedReference = labels.enumerated().map { reference[$0.offset * columns + $0.element] }
        let referenceLoss = -pickedReference.reduce(0, +) / Double(labels.count)
        let loss = crossEntropy(logits: logits, labels: labels).item
        // Two losses of the tolerance above, averaged, and the mean's own rounding.
        let lossTolerance = pickedReference.map(tolerance).max()! + Double(Float(referenceLoss).ulp) / 2
        #expect(
            abs(Double(loss) - referenceLoss) <= lossTolerance, "crossEntropy: ours \(loss), float64 \(referenceLoss)")
        #expect(abs(Double(crossEntropyCase.output.data[0]) - referenceLoss) <= lossTolerance)
    }

    /// Issue #14: the mean over a batch was a float32 running sum, 1e-6 relative error at batch 256
    /// (PyTorch: 2e-7). Now the reductions (`crossEntropy`'s `.sum`/`.mean`, `Tensor.sum()`/`mean()`,
    /// so `mseLoss`) accumulate in `Double` and round once.
    ///
    /// Tolerances, u = 2⁻²⁴: (1) the reduction alone, against the float64 mean of our own float32
    /// per-example values: the `Double` sum of 256 terms errs by ~256·2⁻⁵³ relative, so only the
    /// final rounding remains, ≤ half an ulp; we allow one. (2) MSE end to end, against float64 from
    /// the same float32 inputs: each (a − b)² carries ≤ 3u relative error (one rounding in the
    /// difference, doubled by squaring, one in the square), the terms are positive, so the mean
    /// carries ≤ 3u + the final rounding ≤ 4u = 2.4e-7 relative. (3) Cross-entropy end to end: each
    /// loss ℓ = log s − (x_y − m) errs by at most about u·(n + 2 + 2·maxₖ|xₖ − m| + 2·log s + ℓ)
    /// (the rounded shifts xₖ − m, the exps and the n − 1 additions in s, the log, the last
    /// subtraction; first order), computed here per example, averaged, plus the final rounding.
    /// (1) is the check that tells the sums apart: on these 256 losses a float32 running sum lands
    /// 3.9 ulps from the float64 mean of the same values (measured), the `Double` sum within one.
    @Test("batch means of 256 losses are as close to float64 as one rounding allows")
    func batchMeansAreAccurate() {
        var generator = RandomGenerator(seed: 14)
        let batch = 256, classes = 10
        let logits = Tensor.randomNormal([batch, classes], standardDeviation: 3, using: &generator)
        let labels = (0..<batch).map { _ in generator.nextInt(below: classes) }

        // (1) The reductions alone.
        let perExample = crossEntropy(logits: logits, labels: labels, reduction: .none).scalars
        let meanOfOurs = perExample.reduce(0.0) { $0 + Double($1) } / Double(batch)
        let mean = crossEntropy(logits: logits, labels: labels).item
        #expect(
            abs(Double(mean) - meanOfOurs) <= Double(Float(meanOfOurs).ulp),
            "mean \(mean), float64 mean of the same losses \(meanOfOurs)")
        let sum = crossEntropy(logits: logits, labels: labels, reduction: .sum).item
        #expect(abs(Double(sum) - meanOfOurs * Double(batch)) <= Double(Float(meanOfOurs * Double(batch)).ulp))

        // (3) Cross-entropy against float64.
        var referenceSum = 0.0, toleranceSum = 0.0
        for i in 0..<batch {
            let x = (0..<classes).map { Double(logits.scalars[i * classes + $0]) }
            let m = x.max()!
            let logSum = Foundation.log(x.reduce(0) { $0 + Foundation.exp($1 - m) })
            let loss = logSum - (x[labels[i]] - m)
            referenceSum += loss
            toleranceSum += 0x1p-24 * (Double(classes) + 2 + 2 * (m - x.min()!) + 2 * logSum + loss)
        }
        let reference = referenceSum / Double(batch)
        let tolerance = toleranceSum / Double(batch) + Double(Float(reference).ulp) / 2
        #expect(
            abs(Double(mean) - reference) <= tolerance,
            "crossEntropy mean \(mean), float64 \(reference), allowed \(tolerance)")

        // (1) and (2) for the mean squared error.
        let prediction = Tensor.randomNormal([batch, 1], standardDeviation: 2, using: &generator)
        let target = Tensor.randomNormal([batch, 1], standardDeviation: 2, using: &generator)
        let squaredErrors = mseLoss(prediction, target, reduction: .none).scalars
        let mse = mseLoss(prediction, target).item
        let mseOfOurs = squaredErrors.reduce(0.0) { $0 + Double($1) } / Double(batch)
        #expect(
            abs(Double(mse) - mseOfOurs) <= Double(Float(mseOfOurs).ulp),
            "mse \(mse), float64 mean of the same squares \(mseOfOurs)")
        var mseReference = 0.0
        for (p, t) in zip(prediction.scalars, target.scalars) {
            let difference = Double(p) - Double(t)
            mseReference += difference * difference
        }
        mseReference /= Double(batch)
        #expect(abs(Double(mse) - mseReference) <= 4 * 0x1p-24 * mseReference, "mse \(mse), float64 \(mseReference)")
    }
}
