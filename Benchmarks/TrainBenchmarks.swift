import Engine
import Foundation

/// Examples per second of one full training step (forward, backward, SGD update) of a network at
/// its book batch and input size, on random data with fixed seeds.
func trainStepBenchmark(name: String, model: any Module, inputShape: [Int], classes: Int = 10,
                        learningRate: Float = 0.1) -> (Int, Int) -> BenchmarkResult {
    { warmup, repetitions in
        var generator = RandomGenerator(seed: 3)
        let batch = inputShape[0]
        let images = Tensor.randomUniform(inputShape, using: &generator)
        let labels = (0..<batch).map { _ in generator.nextInt(below: classes) }
        let optimizer = SGD(model, learningRate: learningRate)
        model.train()
        var lastLoss = Tensor(scalar: 0)
        let times = measure(warmup: warmup, repetitions: repetitions) {
            optimizer.zeroGrad()
            let loss = crossEntropy(logits: model(images), labels: labels)
            loss.backward()
            optimizer.step()
            lastLoss = loss
        }
        checkResult(lastLoss, shape: [], name)
        let examplesPerSecond = Double(batch) / (median(times) / 1e3)
        return BenchmarkResult(
            name: name, group: "train", params: model.parameterCount, flops: 0,
            medianMilliseconds: median(times), minimumMilliseconds: times.first!, maximumMilliseconds: times.last!,
            repetitions: repetitions, gflops: 0,
            notes: String(format: "%.0f examples/s, batch %d, input %@", examplesPerSecond, batch, "\(inputShape.dropFirst())"))
    }
}
