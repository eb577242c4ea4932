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
            let batch = 64 + step // 64, 65, 66: shards of unequal sizes too
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
            #expect(
                abs(parallelLoss - loss.item) <= 2e-4 * abs(loss.item),
                "step \(step): loss \(parallelLoss) vs \(loss.item)")
            let (logitDifference, logitScale) = Self.largestDifference(parallelLogits, logits.detached())
            #expect(
                parallelLogits.shape == logits.shape && logitDifference <= 2e-4 * logitScale, "step \(step): logits")
            for (s, p) in zip(serial.namedParameters(), parallelModel.namedParameters()) {
                let (difference, scale) = Self.largestDifference(p.tensor.grad!, s.tensor.grad!)
                #expect(
                    scale > 0 && difference <= 2e-4 * scale,
                    "step \(step) \(s.key): gradient off by \(difference) of \(scale)")
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

/// The same with batch normalization (BN-LeNet, the library `BatchNorm` layers): the shards
/// all-reduce the per-channel sums (`ShardGroup`), so the statistics, the gradients and the running
/// averages are the whole batch's. Without the all-reduce each shard would normalize with its own
/// half-batch statistics: the loss and the gradients would differ by far more than the tolerance
/// (each shard's mean is off by about σ/√(B·H·W/2)), and the running averages too.
@Suite("Data parallelism with batch norm")
struct DataParallelBatchNormTests {
    @Test("K shards give the serial step with synchronized batch statistics", arguments: [2, 3])
    func equalsSerialStep(_ shards: Int) {
        var generator = RandomGenerator(seed: 67)
        let serial = BatchNormLeNet.make(.library, using: &generator)
        var replicaGenerator = RandomGenerator(seed: 68)
        let parallelModel = BatchNormLeNet.make(.library, using: &replicaGenerator)
        let replicas = (1..<shards).map { _ in BatchNormLeNet.make(.library, using: &replicaGenerator) as any Module }
        _ = try! parallelModel.loadStateDict(serial.stateDict())
        let parallel = DataParallel(model: parallelModel, replicas: replicas)
        let serialOptimizer = SGD(serial, learningRate: 1.0), parallelOptimizer = SGD(parallelModel, learningRate: 1.0)
        for step in 0..<3 {
            let batch = 64 + step
            let images = Tensor.randomUniform([batch, 1, 28, 28], using: &generator)
            let labels = (0..<batch).map { _ in generator.nextInt(below: 10) }
            serialOptimizer.zeroGrad()
            let loss = crossEntropy(logits: serial(images), labels: labels)
            loss.backward()
            parallelOptimizer.zeroGrad()
            let (parallelLoss, _) = parallel.forwardBackward(images, labels: labels) {
                crossEntropy(logits: $0, labels: $1)
            }
            #expect(
                abs(parallelLoss - loss.item) <= 2e-4 * abs(loss.item),
                "step \(step): loss \(parallelLoss) vs \(loss.item)")
            // The biases of the layers before batch norm have an exact gradient of 0 (the
            // normalization removes any constant): both sides hold only rounding noise there
            // (about 10⁻⁶ of the network's largest gradient), so those are checked to be noise on
            // both sides, the others to agree within 2·10⁻⁴ of their largest entry.
            let networkScale = serial.parameters().map { DataParallelTests.largestDifference($0.grad!, $0.grad!).scale }
                .max()!
            for (s, p) in zip(serial.namedParameters(), parallelModel.namedParameters()) {
                let (difference, scale) = DataParallelTests.largestDifference(p.tensor.grad!, s.tensor.grad!)
                if scale < 1e-4 * networkScale {
                    let parallelScale = DataParallelTests.largestDifference(p.tensor.grad!, p.tensor.grad!).scale
                    #expect(
                        parallelScale < 1e-4 * networkScale,
                        "step \(step) \(s.key): gradient \(parallelScale), serial \(scale)")
                } else {
                    #expect(
                        difference <= 2e-4 * scale, "step \(step) \(s.key): gradient off by \(difference) of \(scale)")
                }
            }
            serialOptimizer.step()
            parallelOptimizer.step()
            parallel.synchronizeReplicas()
        }
        // Weights and the running statistics (buffers) of the model.
        for (s, p) in zip(serial.namedTensors(), parallelModel.namedTensors()) {
            let (difference, scale) = DataParallelTests.largestDifference(p.tensor, s.tensor)
            #expect(difference <= 2e-4 * scale, "\(s.key): off by \(difference) of \(scale)")
        }
    }
}
