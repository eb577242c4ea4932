import Datasets
import Engine
import Foundation
import Training

// Two stacked 3×3 convolutions (C→C→C, padding 1, ReLU between) against one 5×5 (C→C, padding 2):
// the same 5×5 receptive field and the same output shape [N, C, H, H] (VGG's argument, d2l §7.2).
//
// Counts (a multiply-add is 2 FLOPs; bias additions and ReLU are not counted):
//   parameters   3×3 stack: 2·(9C² + C) = 18C² + 2C        5×5: 25C² + C
//   forward      3×3 stack: 2 · 2·N·H·H·C·9C = 36·N·C²·H²   5×5: 2·N·H·H·C·25C = 50·N·C²·H²
//   fwd+bwd      3 × forward (dX and dW are each one GEMM of the forward's size per conv)

/// The two blocks compared.
enum ConvolutionBlock: String, CaseIterable {
    case stack3x3 = "conv-3x3-stack"
    case single5x5 = "conv-5x5"

    /// Trainable scalars on `channels` channels, biases included.
    func parameterCount(channels c: Int) -> Int {
        self == .stack3x3 ? 18 * c * c + 2 * c : 25 * c * c + c
    }

    /// Forward FLOPs on `[batch, channels, size, size]`.
    func forwardFlops(batch n: Int, channels c: Int, size h: Int) -> Double {
        Double(self == .stack3x3 ? 36 : 50) * Double(n) * Double(c * c) * Double(h * h)
    }

    /// The block's layers on `channels` channels.
    func layers(channels c: Int, using generator: inout RandomGenerator) -> [any Module] {
        switch self {
        case .stack3x3:
            return [
                Conv2D(inputChannels: c, outputChannels: c, kernelSize: 3, padding: 1, using: &generator), ReLU(),
                Conv2D(inputChannels: c, outputChannels: c, kernelSize: 3, padding: 1, using: &generator),
            ]
        case .single5x5:
            return [Conv2D(inputChannels: c, outputChannels: c, kernelSize: 5, padding: 2, using: &generator)]
        }
    }
}

/// The (N, C, H) shapes of the comparison; `quick` keeps C and H and uses N = 2.
func convolutionBlockShapes(quick: Bool) -> [(batch: Int, channels: Int, size: Int)] {
    [(32, 64, 56), (128, 16, 28), (64, 32, 32)].map { (quick ? 2 : $0.0, $0.1, $0.2) }
}

/// `"conv-3x3-stack 32x64x56 fwd"` and the like: forward alone (no tape) and forward + backward
/// (`backward(seed: ones)` giving dX, dW, db) of each block on each shape.
func convolutionBlockBenchmarks(quick: Bool) -> [Benchmark] {
    var benchmarks: [Benchmark] = []
    for shape in convolutionBlockShapes(quick: quick) {
        for block in ConvolutionBlock.allCases {
            for backward in [false, true] {
                let name =
                    "\(block.rawValue) \(shape.batch)x\(shape.channels)x\(shape.size) \(backward ? "fwd+bwd" : "fwd")"
                benchmarks.append(
                    Benchmark(name: name) { warmup, repetitions in
                        var generator = RandomGenerator(seed: 4)
                        let inputShape = [shape.batch, shape.channels, shape.size, shape.size]
                        let x = Tensor.randomNormal(inputShape, using: &generator)
                        let network = Sequential(block.layers(channels: shape.channels, using: &generator))
                        let seed = Tensor.ones(inputShape)
                        x.requiresGrad = backward
                        var output = Tensor.zeros([0])
                        let times = measure(warmup: warmup, repetitions: repetitions) {
                            if backward {
                                x.zeroGrad()
                                network.zeroGrad()
                                output = network(x)
                                output.backward(seed: seed)
                            } else {
                                output = withNoGrad { network(x) }
                            }
                        }
                        checkResult(output, shape: inputShape, name)
                        let forward = block.forwardFlops(batch: shape.batch, channels: shape.channels, size: shape.size)
                        precondition(
                            network.parameterCount == block.parameterCount(channels: shape.channels),
                            "benchmark \(name): \(network.parameterCount) parameters, expected \(block.parameterCount(channels: shape.channels))"
                        )
                        return BenchmarkResult(
                            name: name, group: "conv-block", params: network.parameterCount,
                            flops: backward ? 3 * forward : forward, times: times,
                            notes:
                                "input \(inputShape); FLOPs \(block == .stack3x3 ? "36" : "50")·N·C²·H²\(backward ? " × 3" : "")"
                        )
                    })
            }
        }
    }
    return benchmarks
}

/// The Fashion-MNIST network around a block: conv 1→16 3×3 (padding 1) → ReLU → [block on 16
/// channels] → ReLU → max-pool 2 → flatten → linear 16·14·14 → 10.
func convolutionBlockNetwork(_ block: ConvolutionBlock, using generator: inout RandomGenerator) -> Sequential {
    Sequential(
        [Conv2D(inputChannels: 1, outputChannels: 16, kernelSize: 3, padding: 1, using: &generator), ReLU()]
            + block.layers(channels: 16, using: &generator)
            + [
                ReLU(), MaxPool2D(kernelSize: 2, stride: 2), Flatten(),
                Linear(inputFeatures: 16 * 14 * 14, outputFeatures: 10, using: &generator),
            ])
}

/// The settings of the "same effect" half: images used, epochs, batch, learning rate.
struct BlockTrainingSettings {
    var trainImages: Int
    var testImages: Int
    var epochs: Int
    var batchSize = 128
    var learningRate: Float = 0.1
    var seed: UInt64 = 0

    init(quick: Bool) {
        (trainImages, testImages, epochs) = quick ? (256, 256, 1) : (10_000, 10_000, 2)
    }
}

/// Fashion-MNIST, read once for both networks.
let fashionMNIST = Result { try FashionMNIST() }

/// `"train-effect conv-3x3-stack"` / `"train-effect conv-5x5"`: the network of
/// `convolutionBlockNetwork` trained with `Trainer` (plain SGD) from the same seed on the first
/// `trainImages` Fashion-MNIST training images, evaluated on the first `testImages` test images.
/// The time is the training time (test evaluation excluded); `test_accuracy` the final accuracy.
/// Without Fashion-MNIST the result has repetitions 0 and a note saying so.
func convolutionBlockTrainingBenchmarks(quick: Bool) -> [Benchmark] {
    ConvolutionBlock.allCases.map { block in
        let name = "train-effect \(block.rawValue)"
        return Benchmark(name: name) { _, _ in
            let settings = BlockTrainingSettings(quick: quick)
            var generator = RandomGenerator(seed: settings.seed)
            let network = convolutionBlockNetwork(block, using: &generator)
            let settingsNote =
                "\(settings.epochs) epoch(s), \(settings.trainImages) train / \(settings.testImages) test images, batch \(settings.batchSize), SGD lr \(settings.learningRate)"
            let data: FashionMNIST
            do { data = try fashionMNIST.get() } catch {
                var result = BenchmarkResult(
                    name: name, group: "train-effect", params: network.parameterCount,
                    flops: 0, times: [0], notes: "skipped: \(error)")
                result.repetitions = 0
                return result
            }
            let loaders = data.loaders(
                batchSize: settings.batchSize, seed: settings.seed,
                trainLimit: settings.trainImages, testLimit: settings.testImages)
            let trainer = Trainer(
                model: network, optimizer: SGD(network, learningRate: settings.learningRate),
                train: loaders.train, test: loaders.test)
            trainer.progress = .quiet
            trainer.write = { _ in }
            let record: TrainingRecord
            do { record = try trainer.fit(epochs: settings.epochs) } catch {
                fatalError("benchmark \(name): \(error)")
            }
            var result = BenchmarkResult(
                name: name, group: "train-effect", params: network.parameterCount, flops: 0,
                times: [record.seconds * 1e3], notes: settingsNote)
            result.testAccuracy = record.epochs.last?.testAccuracy
            result.examplesPerSecond = record.examplesPerSecond
            return result
        }
    }
}

/// The pair table and the verdict, computed from whichever conv-block and train-effect results
/// `results` holds (and the reference's, for the same names, when comparing).
func convolutionBlockReport(_ results: [BenchmarkResult]) -> [String] {
    let byName = Dictionary(results.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    var lines: [String] = []
    var stackFaster = 0, pairs = 0
    for prefix in Set(results.filter { $0.group == "conv-block" }.map { $0.name.split(separator: " ")[1] }).sorted() {
        for pass in ["fwd", "fwd+bwd"] {
            guard let stack = byName["conv-3x3-stack \(prefix) \(pass)"],
                let single = byName["conv-5x5 \(prefix) \(pass)"]
            else { continue }
            if lines.isEmpty {
                lines.append(
                    "3x3 stack vs 5x5     pass      params 3x3/5x5   GFLOP 3x3/5x5    ms 3x3/5x5          GFLOP/s 3x3/5x5   time ratio 3x3/5x5"
                )
            }
            let ratio = stack.medianMilliseconds / single.medianMilliseconds
            pairs += 1
            if ratio < 1 { stackFaster += 1 }
            lines.append(
                String(prefix).padding(toLength: 21, withPad: " ", startingAt: 0)
                    + pass.padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(
                        format: "%8d/%-8d %7.2f/%-7.2f %9.2f/%-9.2f %7.1f/%-7.1f %8.2f",
                        stack.params, single.params, stack.flops / 1e9, single.flops / 1e9,
                        stack.medianMilliseconds, single.medianMilliseconds, stack.gflops, single.gflops, ratio))
        }
    }
    var verdict: [String] = []
    if pairs > 0 {
        verdict.append(
            "The 3×3 stack has 18C² weights against 25C² (28 % fewer) and 36 against 50 N·C²·H² FLOPs; "
                + "it ran faster than the 5×5 in \(stackFaster) of \(pairs) timed pairs on this machine.")
    }
    if let stack = byName["train-effect conv-3x3-stack"], let single = byName["train-effect conv-5x5"],
        let a = stack.testAccuracy, let b = single.testAccuracy
    {
        // The test-set size as the run's notes state it ("… / 10000 test images …").
        let words = stack.notes.split(separator: " ")
        let n = words.firstIndex(of: "test").flatMap { $0 > 0 ? Double(words[$0 - 1]) : nil } ?? 10_000
        // Two independent binomial proportions on n test images: the standard error of the difference.
        let standardError = (a * (1 - a) / n + b * (1 - b) / n).squareRoot()
        let difference = a - b
        let same = abs(difference) <= 1.96 * standardError
        let timeRatio = stack.medianMilliseconds / single.medianMilliseconds
        verdict.append(
            String(
                format:
                    "Training the Fashion-MNIST net (%@): the 3×3 stack took %.1f s against %.1f s for the 5×5 (ratio %.2f, so it trains %@), "
                    + "with test accuracy %.2f %% against %.2f %% (difference %+.2f points). \"The same\" means within 1.96 standard errors "
                    + "of the difference of two binomial proportions on %.0f test images (here ±%.2f points): the accuracies are %@.",
                stack.notes, stack.medianMilliseconds / 1e3, single.medianMilliseconds / 1e3, timeRatio,
                timeRatio < 1 ? "faster" : "slower", 100 * a, 100 * b, 100 * difference, n, 196 * standardError,
                same
                    ? "the same"
                    : (difference > 0 ? "not the same (the 3×3 stack is better)" : "not the same (the 5×5 is better)")))
    }
    if !verdict.isEmpty { lines.append("verdict: " + verdict.joined(separator: " ")) }
    return lines
}
