// The model zoo's registry: every textbook network by name, with the input its shape walk uses,
// the book's training hyperparameters and initialization (from /work/shared/D2L_REFERENCE.md,
// d2l-zh 2.0.0 = d2l-en 0.17.5), and the book's shape walk
// (`for layer in net: X = layer(X); print(layer.__class__.__name__, 'output shape:\t', X.shape)`).
// The CLI and the benchmarks read this one table.
import Engine

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
public struct ModelSummary {
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
        ZooModel(name: "softmax-regression", title: "Softmax regression (concise)", section: "3.7",
                 summaryInputShape: image,
                 hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.1, epochs: 10),
                 weightInitializer: smallNormal, build: { SoftmaxRegression.make(using: &$0) }),
        ZooModel(name: "mlp", title: "Multilayer perceptron 784-256-10 (concise)", section: "4.3",
                 summaryInputShape: image,
                 hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.1, epochs: 10),
                 weightInitializer: smallNormal, build: { MLP.make(.book, using: &$0) }),
        ZooModel(name: "mlp-dropout", title: "MLP 784-256-256-10 with dropout 0.2/0.5 (concise)", section: "4.6",
                 summaryInputShape: image,
                 hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.5, epochs: 10),
                 weightInitializer: smallNormal, build: { MLP.make(.dropout, using: &$0) }),
        ZooModel(name: "lenet", title: "LeNet (sigmoid, average pooling)", section: "6.6",
                 summaryInputShape: image,
                 hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.9, epochs: 10),
                 weightInitializer: xavier, build: { LeNet.make(using: &$0) }),
        ZooModel(name: "batch-norm-lenet", title: "LeNet with batch normalization (concise)", section: "7.5",
                 summaryInputShape: image,
                 hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 1.0, epochs: 10),
                 weightInitializer: xavier, build: { BatchNormLeNet.make(.library, using: &$0) }),
        ZooModel(name: "batch-norm-lenet-scratch", title: "LeNet with batch normalization (from scratch)", section: "7.5",
                 summaryInputShape: image,
                 hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 1.0, epochs: 10),
                 weightInitializer: xavier, build: { BatchNormLeNet.make(.scratch, using: &$0) }),
        ZooModel(name: "alexnet", title: "AlexNet (Fashion-MNIST at 224×224)", section: "7.1",
                 summaryInputShape: [1, 1, 224, 224],
                 hyperparameters: TrainingHyperparameters(batchSize: 128, learningRate: 0.01, epochs: 10, resize: 224),
                 weightInitializer: xavier, build: { AlexNet.make(using: &$0) }),
        ZooModel(name: "vgg", title: "VGG-11 with channels ÷4", section: "7.2",
                 summaryInputShape: [1, 1, 224, 224],
                 hyperparameters: TrainingHyperparameters(batchSize: 128, learningRate: 0.05, epochs: 10, resize: 224),
                 weightInitializer: xavier, build: { VGG.make(.vgg11, ratio: 4, using: &$0) }),
        ZooModel(name: "nin", title: "Network in Network", section: "7.3",
                 summaryInputShape: [1, 1, 224, 224],
                 hyperparameters: TrainingHyperparameters(batchSize: 128, learningRate: 0.1, epochs: 10, resize: 224),
                 weightInitializer: xavier, build: { NiN.make(using: &$0) }),
        ZooModel(name: "googlenet", title: "GoogLeNet (Inception v1)", section: "7.4",
                 summaryInputShape: [1, 1, 96, 96],
                 hyperparameters: TrainingHyperparameters(batchSize: 128, learningRate: 0.1, epochs: 10, resize: 96),
                 weightInitializer: xavier, build: { GoogLeNet.make(using: &$0) }),
        ZooModel(name: "resnet", title: "ResNet-18", section: "7.6",
                 summaryInputShape: [1, 1, 224, 224],
                 hyperparameters: TrainingHyperparameters(batchSize: 256, learningRate: 0.05, epochs: 10, resize: 96),
                 weightInitializer: xavier, build: { ResNet.make(.resNet18, using: &$0) }),
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

    /// Builds the network `name` from `seed` and walks one random input of its
    /// `summaryInputShape` (uniform in [0, 1), like the book's `torch.rand`) through its
    /// top-level layers (`d2l summary <model>`).
    /// - Throws: `ModelZooError.unknownModel` for an unknown name.
    public static func summary(of name: String, seed: UInt64 = 0) throws -> ModelSummary {
        let model = try model(named: name)
        var generator = RandomGenerator(seed: seed)
        let network = model.make(using: &generator)
        let input = Tensor.randomUniform(model.summaryInputShape, using: &generator)
        return ModelSummary(model: model, network: network, inputShape: model.summaryInputShape,
                            rows: shapeWalk(network, input: input))
    }
}
