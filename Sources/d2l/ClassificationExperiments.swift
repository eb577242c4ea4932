import ArgumentParser
import Datasets
import Engine
import Foundation
import Models
import Training

/// A Fashion-MNIST classification experiment of the book: a zoo model trained by `Trainer`
/// (`train_ch3`/`train_ch6`) with the book's hyperparameters, printed like the book, compared
/// with the book's numbers.
protocol ClassificationExperiment: Experiment {
    /// The common options.
    var options: ExperimentOptions { get }
    /// The `ModelZoo` name of the network to train.
    var modelName: String { get }
}

extension ClassificationExperiment {
    func run() throws {
        try runClassification(
            model: ModelZoo.model(named: modelName), options: options,
            experimentName: Self.configuration.commandName ?? modelName)
    }
}

/// Trains `model` on Fashion-MNIST as the book does and prints the book's lines, then the spread
/// of the book's own runs (`ZooModel.bookResult`) beside ours, with verdicts only at the book's
/// settings. Writes a checkpoint, JSON log, CSV and SVG plot after every epoch (under
/// `runs/<experiment>/` unless the options name other files). `--resume FILE` continues the run
/// of FILE when it exists and starts one that checkpoints there when it does not, so one command
/// starts and continues a long run.
///
/// Before anything is loaded or trained, the options are checked against the network
/// (`checkOptions`): a size it cannot take or a batch batch normalization cannot use is one
/// thrown error, never a stop inside an op.
func runClassification(model: ZooModel, options: ExperimentOptions, experimentName: String) throws {
    options.configureThreads()
    let defaults = model.hyperparameters
    let epochs = options.epochs ?? defaults.epochs
    let batchSize = options.batchSize ?? defaults.batchSize
    let learningRate = options.lr ?? defaults.learningRate
    let resize = options.resize ?? defaults.resize

    var generator = RandomGenerator(seed: options.seed)
    let network = model.makeInitialized(using: &generator)
    try checkSize(of: network, experimentName: experimentName, side: resize ?? 28)
    let normalizesBatches = network.namedModules().contains { $0.module is any BatchNormLayer }

    let data = try FashionMNIST(directory: options.data)
    let trainCount = min(options.trainLimit ?? data.train.count, data.train.count)
    // A batch-norm layer in training needs more than one value per channel, which a one-example
    // batch does not have after a linear layer or at a 1×1 plane (PyTorch raises there). A final
    // one-example batch is dropped, as PyTorch's drop_last would; a run of only such batches is refused.
    if normalizesBatches && (batchSize == 1 || trainCount == 1) {
        throw ValidationError(
            (batchSize == 1 ? "--batch-size 1" : "--train-limit 1")
                + ": \(experimentName) trains with batch normalization, which needs at least 2 examples per training batch"
        )
    }
    let dropsLastBatch = normalizesBatches && trainCount % batchSize == 1
    let processes = D2L.processes
    if let processes, normalizesBatches {
        // Each process normalizes its own shard of a batch (DDP's default): every shard needs two examples.
        let lastBatch = dropsLastBatch ? batchSize : (trainCount % batchSize == 0 ? batchSize : trainCount % batchSize)
        let smallest = min(min(batchSize, trainCount), lastBatch) / processes.size
        if smallest < 2 {
            throw ValidationError(
                "\(experimentName) trains with batch normalization, which each of the \(processes.size) processes "
                    + "applies to its share of a batch; a batch of \(min(min(batchSize, trainCount), lastBatch)) examples "
                    + "leaves a share of \(smallest); use a larger --batch-size or --train-limit, or fewer processes")
        }
    }
    let loaders = data.loaders(
        batchSize: batchSize, seed: options.seed, trainLimit: options.trainLimit,
        testLimit: options.testLimit, dropLast: dropsLastBatch, resize: resize.map { ImageSize($0, $0) })
    let optimizer = SGD(network, learningRate: learningRate)

    let outputDirectory = URL(fileURLWithPath: "runs").appendingPathComponent(experimentName)
    let checkpoint =
        ExperimentOptions.url(options.resume) ?? outputDirectory.appendingPathComponent("checkpoint.safetensors")
    let json = ExperimentOptions.url(options.json) ?? outputDirectory.appendingPathComponent("log.json")
    let plot = ExperimentOptions.url(options.plot) ?? outputDirectory.appendingPathComponent("curves.svg")
    let csv = json.deletingPathExtension().appendingPathExtension("csv")
    for directory in Set([checkpoint, json, plot, csv].map { $0.deletingLastPathComponent() })
    where (processes?.rank ?? 0) == 0 {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    let configuration: [String: String] = [
        "experiment": experimentName, "model": model.name, "section": model.section,
        "epochs": String(epochs), "batch_size": String(batchSize), "lr": String(learningRate),
        "resize": resize.map(String.init) ?? "none", "seed": String(options.seed),
        "train_examples": String(loaders.train.count), "test_examples": String(loaders.test.count),
        "initialization": model.weightInitializer.map { "\($0)" } ?? "PyTorch default",
        "parameters": String(network.parameterCount),
    ]
    let trainer = Trainer(
        model: network, optimizer: optimizer, train: loaders.train, test: loaders.test,
        configuration: configuration)
    trainer.outputs = TrainingOutputs(checkpoint: checkpoint, json: json, csv: csv, plot: plot)
    trainer.processGroup = processes
    // Networks measured faster data-parallel (one shard per core, `ZooModel.prefersDataParallel`)
    // train so when alone on more than one core; `--threads N` sets the shards, `--threads 1` turns it off.
    let shards = options.threads ?? DataParallel.availableCores
    if model.prefersDataParallel && processes == nil && shards > 1 {
        var replicaGenerator = RandomGenerator(seed: options.seed)
        trainer.dataParallel = DataParallel(
            model: network, replicas: (1..<shards).map { _ in model.make(using: &replicaGenerator) })
    }
    trainer.prefetch = resize != nil
    if options.resume != nil {
        if FileManager.default.fileExists(atPath: checkpoint.path) {
            try trainer.resume(from: checkpoint)
            print("resumed from \(checkpoint.path) after epoch \(trainer.completedEpochs)")
        } else {
            print("no checkpoint at \(checkpoint.path) yet: starting a new run, checkpointed there after every epoch")
        }
    }

    print(
        "d2l §\(model.section) \(model.title): Fashion-MNIST \(loaders.train.count)/\(loaders.test.count) examples"
            + (resize.map { " at \($0)×\($0)" } ?? "") + ", batch \(batchSize), lr \(learningRate), \(epochs) epochs, "
            + "\(network.parameterCount) parameters (\(trainer.hardwareSummary))")
    if dropsLastBatch {
        print(
            "note: each epoch's last training batch would hold 1 example, which batch normalization cannot "
                + "normalize; it is dropped (\(loaders.train.count - 1) of \(loaders.train.count) examples per epoch, as PyTorch's drop_last)"
        )
    }
    if trainer.completedEpochs >= epochs {
        print(
            "the checkpoint already holds \(trainer.completedEpochs) epochs; nothing to train (ask for more with --epochs)"
        )
    }
    let record = try trainer.fit(epochs: epochs)
    if let save = options.save, trainer.isRoot { try network.saveStateDict(to: URL(fileURLWithPath: save)) }

    guard let last = record.epochs.last else { return }
    let atBookSettings =
        epochs == defaults.epochs && batchSize == defaults.batchSize && learningRate == defaults.learningRate
        && resize == defaults.resize && loaders.train.count == data.train.count && loaders.test.count == data.test.count
    for line in model.bookResult.comparisonLines(
        loss: last.loss, trainAccuracy: last.trainAccuracy,
        testAccuracy: last.testAccuracy, atBookSettings: atBookSettings)
    {
        print(line)
    }
    print("log \(json.path), curves \(csv.path), plot \(plot.path), checkpoint \(checkpoint.path)")
}

/// The largest `--resize` accepted: more than twice the book's largest size (224), and small
/// enough that a batch of the book's size fits in memory.
let largestResize = 512

/// Checks that `network` takes `side × side` images (`Module.outputShape(for:)`, nothing runs).
/// - Throws: `ValidationError` naming the side, the layer that refuses it, and the sides the
///   network takes between 1 and `largestResize`.
func checkSize(of network: Sequential, experimentName: String, side: Int) throws {
    do {
        _ = try network.outputShape(for: [2, 1, side, side])
    } catch let error as ShapeError {
        let accepted = network.acceptedSquareSides(in: 1...largestResize, batch: 2)
        let sides =
            accepted.isEmpty
            ? "none from 1 to \(largestResize)"
            : accepted.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound) to \($0.upperBound)" }.joined(
                separator: ", ")
        throw ValidationError(
            "--resize \(side): \(experimentName) cannot take \(side)×\(side) images (\(error)); "
                + "it takes --resize \(sides)")
    }
}

struct SoftmaxRegressionExperiment: ClassificationExperiment {
    static let section = "3.7"
    static let configuration = CommandConfiguration(
        commandName: "softmax-regression",
        abstract: "Softmax regression on Fashion-MNIST (concise: Flatten + Linear(784, 10)).")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "softmax-regression" }
}

struct MLPExperiment: ClassificationExperiment {
    static let section = "4.3"
    static let configuration = CommandConfiguration(
        commandName: "mlp", abstract: "Multilayer perceptron 784-256-10 with ReLU.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "mlp" }
}

struct DropoutExperiment: ClassificationExperiment {
    static let section = "4.6"
    static let configuration = CommandConfiguration(
        commandName: "dropout", abstract: "MLP 784-256-256-10 with dropout 0.2 and 0.5.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "mlp-dropout" }
}

struct LeNetExperiment: ClassificationExperiment {
    static let section = "6.6"
    static let configuration = CommandConfiguration(
        commandName: "lenet", abstract: "LeNet (sigmoid, average pooling), Xavier init, SGD lr 0.9.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "lenet" }
}

struct BatchNormExperiment: ClassificationExperiment {
    static let section = "7.5"
    static let configuration = CommandConfiguration(
        commandName: "batch-norm",
        abstract: "LeNet with batch normalization (library BN; --scratch for the book's own).")
    @OptionGroup var options: ExperimentOptions
    @Flag(help: "Use the book's from-scratch batch norm (moving averages with momentum 0.9) instead of the library's.")
    var scratch = false
    var modelName: String { scratch ? "batch-norm-lenet-scratch" : "batch-norm-lenet" }

    func run() throws {
        try runClassification(
            model: ModelZoo.model(named: modelName), options: options,
            experimentName: scratch ? "batch-norm-scratch" : "batch-norm")
    }
}

struct AlexNetExperiment: ClassificationExperiment {
    static let section = "7.1"
    static let configuration = CommandConfiguration(
        commandName: "alexnet", abstract: "AlexNet on Fashion-MNIST resized to 224×224.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "alexnet" }
}

struct VGGExperiment: ClassificationExperiment {
    static let section = "7.2"
    static let configuration = CommandConfiguration(
        commandName: "vgg", abstract: "VGG-11 with channels divided by 4, 224×224.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "vgg" }
}

struct NiNExperiment: ClassificationExperiment {
    static let section = "7.3"
    static let configuration = CommandConfiguration(commandName: "nin", abstract: "Network in Network, 224×224.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "nin" }
}

struct GoogLeNetExperiment: ClassificationExperiment {
    static let section = "7.4"
    static let configuration = CommandConfiguration(
        commandName: "googlenet", abstract: "GoogLeNet (Inception blocks b1-b5), 96×96.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "googlenet" }
}

struct ResNetExperiment: ClassificationExperiment {
    static let section = "7.6"
    static let configuration = CommandConfiguration(commandName: "resnet", abstract: "ResNet-18, 96×96.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "resnet" }
}

struct DenseNetExperiment: ClassificationExperiment {
    static let section = "7.7"
    static let configuration = CommandConfiguration(
        commandName: "densenet", abstract: "DenseNet (4 dense blocks of 4 convolutions, growth rate 32), 96×96.")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "densenet" }
}
