import Engine
import Models
import Testing

/// `DataParallel` against the serial step: LeNet (no batch norm, no dropout), the same initial
/// weights, three SGD steps on the same batches, once on the whole batch and once on 2 and 3
/// shards in parallel. The gradients are the same sums grouped differently (per shard, then
/// across shards; and each shard's GEMMs run single-threaded), so they agree to float32
/// summation order: a relative error of about √n·2⁻²⁴ ≈ 10⁻⁵ for the n ≈ 10⁴ terms of a
/// convolution weight's gradient. The tolerance, 2·10⁻⁴ of each tensor's largest entry, is 20×
/// that; a wrong shard weight (a factor Bₖ/B) or a lost replica gradient (half the batch) is
/// off by 30 % or more.
@Suite("Data parallelism inside one process")
struct DataParallelTests {
    static func largestDifference(_ a: Tensor, _ b: Tensor) -> (difference: Float, scale: Float) {
        var difference: Float = 0, scale: Float = 0
        for i in 0..<a.count {
            difference = max(difference, abs(a.pointer[i] - b.pointer[i]))
            scale = max(scale, abs(b.pointer[i]))
        }
        return (difference, scale)
    }

    @Test("K shards give the serial step's loss, gradients and weights", arguments: [2, 3])
    func equalsSerialStep(_ shards: Int) {
        var generator = RandomGenerator(seed: 61)
        let serial = LeNet.make(using: &generator)
        var replicaGenerator = RandomGenerator(seed: 62)
        let parallelModel = LeNet.make(using: &replicaGenerator)
        let replicas = (1..<shards).map { _ in LeNet.make(using: &replicaGenerator) as any Module }
        _ = try! parallelModel.loadStateDict(serial.stateDict())
        let parallel = DataParallel(model: parallelModel, replicas: replicas)
        let serialOptimizer = SGD(serial, learningRate: 0.9), parallelOptimizer = SGD(parallelModel, learningRate: 0.9)
        for step in 0..<3 {
            let batch = 64 + step   // 64, 65, 66: shards of unequal sizes too
            let images = Tensor.randomUniform([batch, 1, 28, 28], using: &generator)
            let labels = (0..<batch).map { _ in generator.nextInt(below: 10) }

            serialOptimizer.zeroGrad()
            let logits = serial(images)
            let loss = crossEntropy(logits: logits, labels: labels)
            loss.backward()

            parallelOptimizer.zeroGrad()
            let (parallelLoss, parallelLogits) = parallel.forwardBackward(images, labels: labels) {
                crossEntropy(logits: $0, labels: $1)
            }
            #expect(abs(parallelLoss - loss.item) <= 2e-4 * abs(loss.item), "step \(step): loss \(parallelLoss) vs \(loss.item)")
            let (logitDifference, logitScale) = Self.largestDifference(parallelLogits, logits.detached())
            #expect(parallelLogits.shape == logits.shape && logitDifference <= 2e-4 * logitScale, "step \(step): logits")
            for (s, p) in zip(serial.namedParameters(), parallelModel.namedParameters()) {
                let (difference, scale) = Self.largestDifference(p.tensor.grad!, s.tensor.grad!)
                #expect(scale > 0 && difference <= 2e-4 * scale, "step \(step) \(s.key): gradient off by \(difference) of \(scale)")
            }
            serialOptimizer.step()
            parallelOptimizer.step()
            parallel.synchronizeReplicas()
        }
        for (s, p) in zip(serial.namedParameters(), parallelModel.namedParameters()) {
            let (difference, scale) = Self.largestDifference(p.tensor, s.tensor)
            #expect(difference <= 2e-4 * scale, "\(s.key): weights off by \(difference) of \(scale)")
        }
        // The replicas hold the model's weights after synchronizing.
        for replica in replicas {
            for (r, p) in zip(replica.parameters(), parallelModel.parameters()) {
                #expect(Self.largestDifference(r, p).difference == 0)
            }
        }
    }
}
