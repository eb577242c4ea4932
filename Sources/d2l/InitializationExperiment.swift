import ArgumentParser
import Datasets
import Engine
import Foundation

/// §4.8, numerical stability and initialization: the symmetry problem. The same MLP
/// (Flatten, Linear(784, 256), ReLU, Linear(256, 10)) is trained twice on Fashion-MNIST from the
/// same data order: once with every weight set to one constant (biases 0), once with Xavier
/// uniform weights (biases 0). With a constant start every hidden unit computes the same
/// function and receives the same gradient, so SGD never tells them apart: in exact arithmetic the
/// 256 rows of the first weight matrix stay identical and the network is as good as one hidden
/// unit. Xavier's random start breaks the symmetry.
///
/// In float32 through OpenBLAS the rows stay equal only up to rounding: the GEMM kernel computes
/// the hidden units of one output tile and those of an edge tile with its sums in different
/// orders, and which units share a tile depends on the kernel (on AMD Zen 3 with OpenBLAS `Zen`,
/// rows differ by 1 ulp after two steps; on `Cooperlake` and `Prescott` by 0). So the experiment
/// counts hidden units as distinct when their (weight row, bias) differ by more than
/// `symmetryTolerance` (1e-5) times the largest weight, about 170 float32 ulps of it: far above
/// rounding, far below the differences of a random start (of the order of the weights themselves).
/// The symmetric state is unstable: where rounding did split the units, a full epoch amplifies the
/// split (on `Zen`, 1e-7 of the largest weight after 100 steps, 1e-1 after 235, 6 distinct units),
/// and the closing line says which happened.
///
/// Defaults: SGD lr 0.1, batch 256 (the MLP's), 1 epoch, constant 0.001 (0.01 stays symmetric
/// too, but its 256 identical units act as one unit with a 256× step, and lr 0.1 overshoots).
/// `--train-limit` and `--test-limit` take a slice of the data.
struct InitializationExperiment: Experiment {
    static let section = "4.8"
    static let configuration = CommandConfiguration(
        commandName: "initialization",
        abstract: "The symmetry problem: an MLP started from constant weights vs Xavier on Fashion-MNIST.",
        discussion:
            "Default: 1 epoch of the full training set; --train-limit / --test-limit take a slice. --data DIR is the Fashion-MNIST directory."
    )

    @OptionGroup var options: ExperimentOptions
    @Option(help: "The constant every weight starts from in the symmetric run.") var constant: Float = 0.001
    @Option(help: "Hidden units.") var hidden = 256

    func validate() throws {
        guard constant.isFinite else { throw ValidationError("--constant must be a finite number, got \(constant)") }
        guard hidden >= 2 else { throw ValidationError("--hidden must be >= 2, got \(hidden)") }
    }

    /// Two hidden units count as one when every weight and the bias differ by at most this
    /// fraction of the largest `|weight|` of the layer. Float32 rounds to 2⁻²⁴ ≈ 6e-8 of a value,
    /// so 1e-5 leaves room for ~170 ulps of rounding differences; units of a random start differ
    /// by a sizeable fraction of the largest weight.
    static let symmetryTolerance: Float = 1e-5

    /// What `--json` writes for one run.
    struct RunResult: Codable {
        var initialization: String
        /// `max over i, j, k of |W₁[i, k] − W₁[j, k]|` before and after training.
        var initialHiddenSpread: Float
        var finalHiddenSpread: Float
        /// `max over i, k of |W₁[i, k]|` after training: the scale the spread is compared with.
        var finalLargestHiddenWeight: Float
        /// `finalHiddenSpread / finalLargestHiddenWeight`: float32 rounding level is ~1e-7.
        var finalRelativeHiddenSpread: Float
        /// `symmetryTolerance · finalLargestHiddenWeight`: units closer than this count as one.
        var distinctUnitTolerance: Float
        /// Hidden units whose weight row and bias differ from those of every earlier distinct unit
        /// by more than `distinctUnitTolerance` somewhere.
        var distinctHiddenUnits: Int
        /// Hidden units whose weight row and bias differ in any bit from every earlier one.
        var bitwiseDistinctHiddenUnits: Int
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
        let (trainLoader, testLoader) = data.loaders(
            batchSize: batchSize, seed: options.seed,
            trainLimit: options.trainLimit, testLimit: options.testLimit)
        print(
            "d2l §4.8 symmetry: MLP 784-\(hidden)-10 (ReLU), SGD lr \(lr), batch \(batchSize), \(epochs) epoch\(epochs == 1 ? "" : "s"), \(trainLoader.count) train / \(testLoader.count) test images, seed \(options.seed) (\(BLAS.summary))"
        )

        var runs: [RunResult] = []
        for (name, initializer) in [
            ("constant \(constant)", Initializer.constant(constant)), ("xavier uniform", Initializer.xavierUniform()),
        ] {
            var generator = RandomGenerator(seed: options.seed)
            let hiddenLayer = Linear(inputFeatures: 784, outputFeatures: hidden, using: &generator)
            let net = Sequential(
                Flatten(), hiddenLayer, ReLU(), Linear(inputFeatures: hidden, outputFeatures: 10, using: &generator))
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
            let finalSpread = Self.spread(of: hiddenLayer.weight)
            let largest = Self.largestMagnitude(of: hiddenLayer.weight)
            let tolerance = Self.symmetryTolerance * largest
            let result = RunResult(
                initialization: name, initialHiddenSpread: initialSpread, finalHiddenSpread: finalSpread,
                finalLargestHiddenWeight: largest,
                finalRelativeHiddenSpread: largest > 0 ? finalSpread / largest : 0,
                distinctUnitTolerance: tolerance,
                distinctHiddenUnits: Self.distinctRows(
                    hiddenLayer.weight, bias: hiddenLayer.bias!, tolerance: tolerance),
                bitwiseDistinctHiddenUnits: Self.distinctRows(
                    hiddenLayer.weight, bias: hiddenLayer.bias!, tolerance: 0),
                trainLoss: lossCount > 0 ? Float(lossSum / Double(lossCount)) : .nan,
                testAccuracy: Float(correct) / Float(Swift.max(testLoader.count, 1)))
            print(
                "\(name): max pairwise difference of hidden weight rows \(String(format: "%g", result.initialHiddenSpread)) → \(String(format: "%g", result.finalHiddenSpread)) after training "
                    + "(\(String(format: "%.1e", result.finalRelativeHiddenSpread)) of the largest weight), "
                    + "distinct hidden units \(result.distinctHiddenUnits) of \(hidden), train loss \(String(format: "%.3f", result.trainLoss)), test acc \(String(format: "%.3f", result.testAccuracy))"
            )
            runs.append(result)
        }
        print(Self.symmetrySummary(constantRun: runs[0], hiddenUnits: hidden))
        if let json = options.json {
            try ExperimentOutput.writeJSON(
                Results(
                    epochs: epochs, batchSize: batchSize, learningRate: lr, trainExamples: trainLoader.count,
                    testExamples: testLoader.count, seed: options.seed, blas: BLAS.summary, runs: runs), to: json)
        }
    }

    /// The closing sentence: how units are counted, why the constant start's units are not
    /// bitwise equal on every BLAS kernel, and what became of them in this run.
    static func symmetrySummary(constantRun run: RunResult, hiddenUnits: Int) -> String {
        let relative = String(format: "%.1e", run.finalRelativeHiddenSpread)
        let outcome: String
        if run.finalHiddenSpread == 0 {
            outcome = "here they stayed exactly equal"
        } else if run.distinctHiddenUnits == 1 {
            outcome = "here they stayed at rounding level (\(relative) of the largest weight)"
        } else {
            outcome =
                "here training amplified those differences to \(relative) of the largest weight: "
                + "the symmetric state is unstable, yet only \(run.distinctHiddenUnits) of \(hiddenUnits) units came apart"
        }
        return
            "Units count as distinct when they differ by more than \(String(format: "%g", symmetryTolerance)) of the largest weight. "
            + "In exact arithmetic a constant start keeps all \(hiddenUnits) units identical; in float32 they may differ by rounding "
            + "(OpenBLAS sums the units of different output tiles in different orders), and \(outcome)."
    }

    /// `max over columns k of (max_i W[i, k] − min_i W[i, k])`: the largest difference between
    /// any two rows (hidden units) of `weight` `[units, inputs]`, 0 exactly when all rows are equal.
    static func spread(of weight: Tensor) -> Float {
        // max_i W[i, k] + max_i (−W[i, k]) is max − min per column, the same float operation.
        withNoGrad { (weight.max(axis: 0) + (-weight).max(axis: 0)).max().item }
    }

    /// `max over i, k of |W[i, k]|` of `weight` `[units, inputs]`.
    static func largestMagnitude(of weight: Tensor) -> Float {
        withNoGrad { Swift.max(weight.max().item, (-weight).max().item) }
    }

    /// The number of distinct hidden units of a layer with `weight` `[units, inputs]` and `bias`
    /// `[units]`: unit i is new unless some earlier new unit j has `|W[i, k] − W[j, k]| ≤ tolerance`
    /// for every k and `|b[i] − b[j]| ≤ tolerance` (greedy, in unit order). With `tolerance` 0 it
    /// counts the bitwise distinct (weight row, bias) pairs.
    static func distinctRows(_ weight: Tensor, bias: Tensor, tolerance: Float) -> Int {
        let columns = weight.shape[1]
        func row(_ i: Int) -> [Float] { Array(weight.buffer[(i * columns)..<((i + 1) * columns)]) + [bias.buffer[i]] }
        var representatives: [[Float]] = []
        for i in 0..<weight.shape[0] {
            let candidate = row(i)
            let known = representatives.contains { representative in
                zip(representative, candidate).allSatisfy { abs($0 - $1) <= tolerance }
            }
            if !known { representatives.append(candidate) }
        }
        return representatives.count
    }
}
