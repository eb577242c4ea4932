// The model zoo's registry: every textbook network by name, with the input its shape walk uses,
// the book's training hyperparameters and initialization (from ../shared/D2L_REFERENCE.md,
// d2l-zh 2.0.0 = d2l-en 0.17.5), and the book's shape walk
// (`for layer in net: X = layer(X); print(layer.__class__.__name__, 'output shape:\t', X.shape)`).
// The CLI and the benchmarks read this one table.
import Engine
import Foundation

/// The book's training settings for one network (`batch_size`, `lr`, `num_epochs`, `resize` of
/// `load_data_fashion_mnist`); plain SGD without momentum or weight decay throughout.
public struct TrainingHyperparameters: Sendable, Equatable {
    /// Examples per mini-batch.
    public var batchSize: Int
    /// The SGD learning rate.
    public var learningRate: Float
    /// Passes over the 60 000 training images.
    public var epochs: Int
    /// The side the 28×28 images are resized to per batch (`nil`: no resizing).
    public var resize: Int?

    /// Settings `batchSize`, `learningRate`, `epochs` and optional `resize`.
    public init(batchSize: Int, learningRate: Float, epochs: Int, resize: Int? = nil) {
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.epochs = epochs
        self.resize = resize
    }

    /// The shape of one training example, `[1, side, side]` with `side = resize ?? 28`.
    public var exampleShape: [Int] {
        let side = resize ?? 28
        return [1, side, side]
    }
}

/// A final value of the book's training runs over its executed builds: the median and the range
/// over the runs (D2L_REFERENCE.md's "spread", the recommended acceptance band; no seed is fixed
/// in the book, so no single run is "the" reference).
public struct BookSpread: Sendable, Equatable {
    /// The median over the runs.
    public var median: Float
    /// The smallest and largest value over the runs.
    public var range: ClosedRange<Float>

    /// A spread `median [lower, upper]`.
    public init(_ median: Float, _ lower: Float, _ upper: Float) {
        precondition(lower <= median && median <= upper, "BookSpread: \(median) is outside [\(lower), \(upper)]")
        self.median = median
        self.range = lower...upper
    }
}

/// What the book's runs ended with after the last epoch (d2l-zh 2.0.0, 21 executed builds, or 20
/// where noted in D2L_REFERENCE.md): the mean training loss and training accuracy of the last epoch
/// (accumulated batch by batch in training mode) and the test accuracy in evaluation mode.
public struct BookResult: Sendable, Equatable {
    /// Mean per-example cross-entropy over the last epoch.
    public var loss: BookSpread
    /// Training accuracy over the last epoch (dropout active).
    public var trainAccuracy: BookSpread
    /// Accuracy on the 10 000 test images after the last epoch.
    public var testAccuracy: BookSpread
    /// A remark on the spread (e.g. runs that failed to converge), or `nil`.
    public var note: String?
    /// The decimals of the book's numbers: 3 where `train_ch6` printed them, 4 where they were
    /// read off the book's plots. Compare a result rounded to as many decimals.
    public var decimals: Int

    /// The result `loss`, `trainAccuracy`, `testAccuracy`, with an optional `note`.
    public init(
        loss: BookSpread, trainAccuracy: BookSpread, testAccuracy: BookSpread, note: String? = nil,
        decimals: Int = 3
    ) {
        self.loss = loss
        self.trainAccuracy = trainAccuracy
        self.testAccuracy = testAccuracy
        self.note = note
        self.decimals = decimals
    }
}

extension BookResult {
    /// What `d2l` prints after a run: a header, then the run's final `loss`, `trainAccuracy` and
    /// `testAccuracy` each beside the book's spread, then the note, if any:
    ///
    ///     compared with the book (same settings):
    ///       loss 0.470 (the book's runs: 0.468 [0.451, 0.497]: inside)
    ///
    /// Only a run at the book's settings (`atBookSettings`) gets a verdict, `inside` or `OUTSIDE`
    /// (the value rounded to `decimals` first): a shortened run (fewer examples or epochs, another
    /// learning rate, batch size or size) is no test of the book's result, so its lines show the
    /// spread for orientation and nothing else.
    public func comparisonLines(
        loss: Double, trainAccuracy: Double, testAccuracy: Double, atBookSettings: Bool
    ) -> [String] {
        let format = "%.\(decimals)f"
        func line(_ name: String, _ ours: Double, _ spread: BookSpread) -> String {
            let book = String(
                format: "the book's runs: \(format) [\(format), \(format)]", Double(spread.median),
                Double(spread.range.lowerBound), Double(spread.range.upperBound))
            let value = String(format: format, ours)
            guard atBookSettings else { return "  \(name) \(value) (\(book))" }
            let scale = Foundation.pow(10, Double(decimals))
            let rounded = Float((ours * scale).rounded() / scale)
            return "  \(name) \(value) (\(book): \(spread.range.contains(rounded) ? "inside" : "OUTSIDE"))"
        }
        return [
            atBookSettings
                ? "compared with the book (same settings):"
                : "compared with the book (NOT the book's settings; for orientation only):",
            line("loss", loss, self.loss), line("train acc", trainAccuracy, self.trainAccuracy),
            line("test acc", testAccuracy, self.testAccuracy),
        ]
            + (note.map { ["  note: \($0)"] } ?? [])
    }
}

/// One network of the zoo: how to build it and how the book uses it.
public struct ZooModel: Sendable {
    /// The registry name (`lenet`, `resnet`, …), as the CLI spells it.
    public let name: String
    /// A human-readable title.
    public let title: String
    /// The textbook section (d2l-zh 2.0.0 / d2l-en 0.17.5 numbering), e.g. `"6.6"`.
    public let section: String
    /// The input of the shape walk, `[1, C, H, W]`: the book's where it prints one (224×224 for
    /// AlexNet, VGG, NiN and ResNet, 96×96 for GoogLeNet), else one Fashion-MNIST image.
    public let summaryInputShape: [Int]
    /// The book's training settings.
    public let hyperparameters: TrainingHyperparameters
    /// How the book re-initializes every `Linear`/`Conv2D` weight before training (biases keep
    /// PyTorch's default): `N(0, 0.01²)` for the linear models, Xavier-uniform (`train_ch6`) for
    /// the CNNs; `nil` for none.
    public let weightInitializer: Initializer?
    /// What the book's runs of this network ended with (the band a reproduction should land in).
    public let bookResult: BookResult
    /// Whether `d2l` trains it data-parallel inside the process (`DataParallel`, one shard per
    /// core) when more than one core is available: set where that measured faster than splitting
    /// each op over the cores (BENCHMARKS.md, the `train … data-parallel` rows) and a step equals
    /// the serial one (no dropout, no from-scratch batch norm): the MLP, LeNet, BN-LeNet,
    /// GoogLeNet, ResNet-18 and DenseNet.
    public var prefersDataParallel = false
    /// Builds the network with PyTorch's default initialization.
    let build: @Sendable (inout RandomGenerator) -> Sequential

    /// The network with PyTorch's default initialization drawn from `generator`.
    public func make(using generator: inout RandomGenerator) -> Sequential { build(&generator) }

    /// The network as the book trains it: built from `generator`, then every weight re-drawn
    /// from `weightInitializer` (the book's `net.apply(init_weights)`).
    public func makeInitialized(using generator: inout RandomGenerator) -> Sequential {
        let network = build(&generator)
        if let weightInitializer { network.initializeWeights(weightInitializer, using: &generator) }
        return network
    }
}

/// A model name the zoo does not know.
public enum ModelZooError: Error, CustomStringConvertible, Equatable {
    /// `name` is not registered; `known` lists the registered names.
    case unknownModel(name: String, known: [String])

    public var description: String {
        switch self {
        case .unknownModel(let name, let known):
            return "unknown model '\(name)'; known models: \(known.joined(separator: ", "))"
        }
    }
}

/// One row of a shape walk: a top-level layer's type name and the shape of its output.
public struct ShapeWalkRow: Sendable, Equatable, CustomStringConvertible {
    /// The layer's type (`Conv2D`, `Sequential`, `Inception`, …), like PyTorch's
    /// `layer.__class__.__name__`.
    public var layer: String
    /// The output shape after this layer.
    public var outputShape: [Int]

    /// A row for `layer` producing `outputShape`.
    public init(layer: String, outputShape: [Int]) {
        self.layer = layer
        self.outputShape = outputShape
    }

    /// The book's line: `Conv2D output shape:\t[1, 6, 28, 28]`.
    public var description: String { "\(layer) output shape:\t\(outputShape)" }
}

/// A network with its shape walk (what `d2l summary <model>` prints).
public struct ModelSummary: CustomStringConvertible {
    /// The registry entry.
    public let model: ZooModel
    /// The network (fresh, PyTorch's default initialization, in training mode).
    public let network: Sequential
    /// The input the walk used.
    public let inputShape: [Int]
    /// One row per top-level layer, in order.
    public let rows: [ShapeWalkRow]
    /// The number of trainable scalars.
    public var parameterCount: Int { network.parameterCount }

    /// A title line, the book's shape-walk lines, and the parameter count:
    ///
    ///     lenet: LeNet (sigmoid, average pooling), d2l §6.6, input [1, 1, 28, 28]
    ///     Conv2D output shape:	[1, 6, 28, 28]
    ///     …
    ///     61706 parameters
    public var description: String {
        (["\(model.name): \(model.title), d2l §\(model.section), input \(inputShape)"]
            + rows.map(\.description) + ["\(parameterCount) parameters"]).joined(separator: "\n")
    }
}

/// Applies the top-level layers of `network` one at a time to `input`, recording each layer's
/// type and output shape (the book's shape walk). Runs in evaluation mode without recording
/// gradients (batch normalization of one example has no batch statistics), then restores every
/// module's training flag.
public func shapeWalk(_ network: Sequential, input: Tensor) -> [ShapeWalkRow] {
    let modules = network.namedModules()
    let modes = modules.map { $0.module.isTraining }
    network.eval()
    defer { for (entry, mode) in zip(modules, modes) { entry.module.isTraining = mode } }
    return withNoGrad {
        var x = input
        return network.layers.map { layer in
            x = layer(x)
            return ShapeWalkRow(layer: String(describing: type(of: layer)), outputShape: x.shape)
        }
    }
}

/// The registry of the textbook's networks.
public enum ModelZoo {
    private static let xavier = Initializer.xavierUniform()
    private static let smallNormal = Initializer.normal(mean: 0, standardDeviation: 0.01)
    private static let image = [1, 1, 28, 28]

    /// Every network, in the book's order.
    public static let all: [ZooModel] = [
        ZooModel(
            name: "softmax-regression", title: "Softmax regression (concise)", section: "3.7",
            summaryInputShape: image,
            hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.1, epochs: 10),
            weightInitializer: smallNormal,
            bookResult: BookResult(
                loss: BookSpread(0.4472, 0.4468, 0.4484), trainAccuracy: BookSpread(0.8481, 0.8469, 0.8488),
                testAccuracy: BookSpread(0.8315, 0.8254, 0.8356), note: "20 runs; values read from the book's plots",
                decimals: 4),
            build: { SoftmaxRegression.make(using: &$0) }),
        ZooModel(
            name: "mlp", title: "Multilayer perceptron 784-256-10 (concise)", section: "4.3",
            summaryInputShape: image,
            hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.1, epochs: 10),
            weightInitializer: smallNormal,
            bookResult: BookResult(
                loss: BookSpread(0.3832, 0.3795, 0.3864), trainAccuracy: BookSpread(0.8643, 0.8632, 0.8664),
                testAccuracy: BookSpread(0.8439, 0.8283, 0.8528), note: "values read from the book's plots", decimals: 4
            ),
            prefersDataParallel: true,
            build: { MLP.make(.book, using: &$0) }),
        ZooModel(
            name: "mlp-dropout", title: "MLP 784-256-256-10 with dropout 0.2/0.5 (concise)", section: "4.6",
            summaryInputShape: image,
            hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.5, epochs: 10),
            weightInitializer: smallNormal,
            bookResult: BookResult(
                loss: BookSpread(0.3439, 0.3387, 0.3644), trainAccuracy: BookSpread(0.8738, 0.8687, 0.8759),
                testAccuracy: BookSpread(0.8554, 0.8228, 0.8723), note: "20 runs; values read from the book's plots",
                decimals: 4),
            build: { MLP.make(.dropout, using: &$0) }),
        ZooModel(
            name: "lenet", title: "LeNet (sigmoid, average pooling)", section: "6.6",
            summaryInputShape: image,
            hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.9, epochs: 10),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.468, 0.451, 0.497), trainAccuracy: BookSpread(0.824, 0.811, 0.834),
                testAccuracy: BookSpread(0.808, 0.779, 0.824), note: nil),
            prefersDataParallel: true,
            build: { LeNet.make(using: &$0) }),
        ZooModel(
            name: "batch-norm-lenet", title: "LeNet with batch normalization (concise)", section: "7.5",
            summaryInputShape: image,
            hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 1.0, epochs: 10),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.263, 0.244, 0.281), trainAccuracy: BookSpread(0.903, 0.896, 0.911),
                testAccuracy: BookSpread(0.843, 0.708, 0.879),
                note: "test accuracy swings with lr 1.0; compare loss and train accuracy"),
            prefersDataParallel: true,
            build: { BatchNormLeNet.make(.library, using: &$0) }),
        ZooModel(
            name: "batch-norm-lenet-scratch", title: "LeNet with batch normalization (from scratch)", section: "7.5",
            summaryInputShape: image,
            hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 1.0, epochs: 10),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.261, 0.247, 0.273), trainAccuracy: BookSpread(0.904, 0.899, 0.910),
                testAccuracy: BookSpread(0.826, 0.590, 0.885),
                note: "test accuracy swings with lr 1.0; compare loss and train accuracy"),
            build: { BatchNormLeNet.make(.scratch, using: &$0) }),
        ZooModel(
            name: "alexnet", title: "AlexNet (Fashion-MNIST at 224×224)", section: "7.1",
            summaryInputShape: [1, 1, 224, 224],
            hyperparameters: TrainingHyperparameters(batchSize: 128, learningRate: 0.01, epochs: 10, resize: 224),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.328, 0.326, 0.333), trainAccuracy: BookSpread(0.880, 0.877, 0.881),
                testAccuracy: BookSpread(0.879, 0.866, 0.885), note: nil),
            build: { AlexNet.make(using: &$0) }),
        ZooModel(
            name: "vgg", title: "VGG-11 with channels ÷4", section: "7.2",
            summaryInputShape: [1, 1, 224, 224],
            hyperparameters: TrainingHyperparameters(batchSize: 128, learningRate: 0.05, epochs: 10, resize: 224),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.177, 0.171, 0.220), trainAccuracy: BookSpread(0.935, 0.918, 0.937),
                testAccuracy: BookSpread(0.919, 0.900, 0.924), note: nil),
            build: { VGG.make(.vgg11, ratio: 4, using: &$0) }),
        ZooModel(
            name: "nin", title: "Network in Network", section: "7.3",
            summaryInputShape: [1, 1, 224, 224],
            hyperparameters: TrainingHyperparameters(batchSize: 128, learningRate: 0.1, epochs: 10, resize: 224),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.373, 0.321, 0.799), trainAccuracy: BookSpread(0.860, 0.708, 0.881),
                testAccuracy: BookSpread(0.838, 0.690, 0.879),
                note: "18 converged runs of 21; 3 failed (test accuracy 0.378, 0.390, 0.100)"),
            build: { NiN.make(using: &$0) }),
        ZooModel(
            name: "googlenet", title: "GoogLeNet (Inception v1)", section: "7.4",
            summaryInputShape: [1, 1, 96, 96],
            hyperparameters: TrainingHyperparameters(batchSize: 128, learningRate: 0.1, epochs: 10, resize: 96),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.246, 0.235, 0.267), trainAccuracy: BookSpread(0.906, 0.898, 0.912),
                testAccuracy: BookSpread(0.889, 0.850, 0.899), note: "1 run of 21 ended in NaN"),
            prefersDataParallel: true,
            build: { GoogLeNet.make(using: &$0) }),
        ZooModel(
            name: "resnet", title: "ResNet-18", section: "7.6",
            summaryInputShape: [1, 1, 224, 224],
            hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.05, epochs: 10, resize: 96),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.012, 0.008, 0.019), trainAccuracy: BookSpread(0.997, 0.995, 0.999),
                testAccuracy: BookSpread(0.909, 0.838, 0.922), note: "test accuracy is noisy (batch-norm statistics)"),
            prefersDataParallel: true,
            build: { ResNet.make(.resNet18, using: &$0) }),
        ZooModel(
            name: "densenet", title: "DenseNet (4 dense blocks of 4, growth rate 32)", section: "7.7",
            summaryInputShape: [1, 1, 96, 96],
            hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.1, epochs: 10, resize: 96),
            weightInitializer: xavier,
            bookResult: BookResult(
                loss: BookSpread(0.149, 0.139, 0.166), trainAccuracy: BookSpread(0.945, 0.938, 0.950),
                testAccuracy: BookSpread(0.855, 0.406, 0.918), note: "test accuracy is noisy (batch-norm statistics)"),
            prefersDataParallel: true,
            build: { DenseNet.make(using: &$0) }),
    ]

    /// The registered names, in the book's order.
    public static var names: [String] { all.map(\.name) }

    /// The network registered as `name`.
    /// - Throws: `ModelZooError.unknownModel` listing the known names.
    public static func model(named name: String) throws -> ZooModel {
        guard let model = all.first(where: { $0.name == name }) else {
            throw ModelZooError.unknownModel(name: name, known: names)
        }
        return model
    }

    /// Builds the network `name` from `seed` and walks one random input (uniform in [0, 1), like
    /// the book's `torch.rand`) of `inputShape`, by default the model's `summaryInputShape`,
    /// through its top-level layers (`d2l summary <model>`). Pass e.g. `[1, 1, 96, 96]` to walk
    /// ResNet at its training size instead of the book's 224.
    /// - Throws: `ModelZooError.unknownModel` for an unknown name.
    public static func summary(of name: String, inputShape: [Int]? = nil, seed: UInt64 = 0) throws -> ModelSummary {
        let model = try model(named: name)
        let shape = inputShape ?? model.summaryInputShape
        var generator = RandomGenerator(seed: seed)
        let network = model.make(using: &generator)
        let input = Tensor.randomUniform(shape, using: &generator)
        return ModelSummary(model: model, network: network, inputShape: shape, rows: shapeWalk(network, input: input))
    }
}
