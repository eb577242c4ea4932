import ArgumentParser
import Engine
import Foundation

/// §4.8, numerical stability and initialization: the symmetry problem. The same MLP
/// (Flatten, Linear(784, 256), ReLU, Linear(256, 10)) is trained twice on Fashion-MNIST from the
/// same data order: once with every weight set to one constant (biases 0), once with Xavier
/// uniform weights (biases 0). With a constant start every hidden unit computes the same
/// function and receives the same gradient, so SGD never tells them apart: the 256 rows of the
/// first weight matrix stay identical (their largest pairwise difference stays exactly 0) and the
/// network is as good as one hidden unit. Xavier's random start breaks the symmetry.
///
/// Defaults: SGD lr 0.1, batch 256 (the MLP's), 1 epoch, constant 0.001 (0.01 stays symmetric
/// too, but its 256 identical units act as one unit with a 256× step, and lr 0.1 overshoots).
/// `--train-limit` and `--test-limit` take a slice of the data.
struct InitializationExperiment: Experiment {
    static let section = "4.8"
    static let configuration = CommandConfiguration(
        commandName: "initialization",
        abstract: "The symmetry problem: an MLP started from constant weights vs Xavier on Fashion-MNIST.",
        discussion: "Default: 1 epoch of the full training set; --train-limit / --test-limit take a slice. --data DIR is the Fashion-MNIST directory.")

    @OptionGroup var options: ExperimentOptions
    @Option(help: "The constant every weight starts from in the symmetric run.") var constant: Float = 0.001
    @Option(help: "Hidden units.") var hidden = 256

    func validate() throws {
        guard constant.isFinite else { throw ValidationError("--constant must be a finite number, got \(constant)") }
        guard hidden >= 2 else { throw ValidationError("--hidden must be >= 2, got \(hidden)") }
    }

    /// What `--json` writes for one run.
    struct RunResult: Codable {
        var initialization: String
        /// `max over i, j, k of |W₁[i, k] − W₁[j, k]|` before and after training.
        var initialHiddenSpread: Float
        var finalHiddenSpread: Float
        /// Hidden units whose weight row (and bias) differs from every earlier one.
        var distinctHiddenUnits: Int
        var trainLoss: Float
        var testAccuracy: Float
    }

    /// What `--json` writes.
    struct Results: Codable {
        var experiment = "initialization"
        var section = InitializationExperiment.section
        var epochs: Int
        var batchSize: Int
        var learningRate: Float
        var trainExamples: Int
        var testExamples: Int
        var seed: UInt64
        var blas: String
        var runs: [RunResult]
    }

    func run() throws {
        options.configureThreads()
        let epochs = options.epochs ?? 1, batchSize = options.batchSize ?? 256, lr = options.lr ?? 0.1
        let data = try FashionMNIST(directory: options.data)
        let (trainLoader, testLoader) = data.loaders(batchSize: batchSize, seed: options.seed,
                                                     trainLimit: options.trainLimit, testLimit: options.testLimit)
        print("d2l §4.8 symmetry: MLP 784-\(hidden)-10 (ReLU), SGD lr \(lr), batch \(batchSize), \(epochs) epoch\(epochs == 1 ? "" : "s"), \(trainLoader.count) train / \(testLoader.count) test images, seed \(options.seed) (\(BLAS.summary))")

        var runs: [RunResult] = []
        for (name, initializer) in [("constant \(constant)", Initializer.constant(constant)), ("xavier uniform", Initializer.xavierUniform())] {
            var generator = RandomGenerator(seed: options.seed)
            let hiddenLayer = Linear(inputFeatures: 784, outputFeatures: hidden, using: &generator)
            let net = Sequential(Flatten(), hiddenLayer, ReLU(), Linear(inputFeatures: hidden, outputFeatures: 10, using: &generator))
            net.initializeWeights(initializer, bias: .zeros, using: &generator)
            let initialSpread = Self.spread(of: hiddenLayer.weight)
            let optimizer = SGD(net, learningRate: lr)
            var lossSum = 0.0, lossCount = 0
            for epoch in 0..<epochs {
                lossSum = 0
                lossCount = 0
                for (images, labels) in trainLoader.batches(epoch: epoch) {
                    optimizer.zeroGrad()
                    let loss = crossEntropy(logits: net(images), labels: labels)
                    loss.backward()
                    optimizer.step()
                    lossSum += Double(loss.item) * Double(labels.count)
                    lossCount += labels.count
                }
            }
            net.eval()
            var correct = 0
            withNoGrad {
                for (images, labels) in testLoader.batches(epoch: 0) {
                    correct += zip(net(images).argmax(axis: 1), labels).filter { $0 == $1 }.count
                }
            }
            let result = RunResult(initialization: name, initialHiddenSpread: initialSpread, finalHiddenSpread: Self.spread(of: hiddenLayer.weight),
                                   distinctHiddenUnits: Self.distinctRows(hiddenLayer.weight, bias: hiddenLayer.bias!),
                                   trainLoss: lossCount > 0 ? Float(lossSum / Double(lossCount)) : .nan,
                                   testAccuracy: Float(correct) / Float(Swift.max(testLoader.count, 1)))
            print("\(name): max pairwise difference of hidden weight rows \(String(format: "%g", result.initialHiddenSpread)) → \(String(format: "%g", result.finalHiddenSpread)) after training, "
                  + "distinct hidden units \(result.distinctHiddenUnits) of \(hidden), train loss \(String(format: "%.3f", result.trainLoss)), test acc \(String(format: "%.3f", result.testAccuracy))")
            runs.append(result)
        }
        if let json = options.json {
            try ExperimentOutput.writeJSON(Results(epochs: epochs, batchSize: batchSize, learningRate: lr, trainExamples: trainLoader.count,
                                                   testExamples: testLoader.count, seed: options.seed, blas: BLAS.summary, runs: runs), to: json)
        }
    }

    /// `max over columns k of (max_i W[i, k] − min_i W[i, k])`: the largest difference between
    /// any two rows (hidden units) of `weight` `[units, inputs]`, 0 exactly when all rows are equal.
    static func spread(of weight: Tensor) -> Float {
        let rows = weight.shape[0], columns = weight.shape[1]
        var result: Float = 0
        for k in 0..<columns {
            var low = Float.infinity, high = -Float.infinity
            for i in 0..<rows {
                low = Swift.min(low, weight.pointer[i * columns + k])
                high = Swift.max(high, weight.pointer[i * columns + k])
            }
            result = Swift.max(result, high - low)
        }
        return result
    }

    /// The number of distinct (weight row, bias) pairs among the hidden units.
    static func distinctRows(_ weight: Tensor, bias: Tensor) -> Int {
        let columns = weight.shape[1]
        var seen = Set<[Float]>()
        for i in 0..<weight.shape[0] {
            seen.insert(Array(UnsafeBufferPointer(start: weight.pointer + i * columns, count: columns)) + [bias.pointer[i]])
        }
        return seen.count
    }
}
