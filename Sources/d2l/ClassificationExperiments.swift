import ArgumentParser
import Engine
import Foundation
import Models

/// The book's printed results for an experiment (d2l-zh 2.0.0, the main reference of
/// `../shared/D2L_REFERENCE.md`) and their spread over the book's own runs (median [min, max]).
struct BookResult {
    /// One metric: the reference run's value and the spread over the book's runs.
    struct Metric {
        var reference: Double
        var median: Double
        var range: ClosedRange<Double>
    }
    var loss: Metric
    var trainAccuracy: Metric
    var testAccuracy: Metric
    /// Anything to know when comparing (failed runs excluded from the spread, …).
    var note: String?
    /// The decimals the book's numbers have (3 when printed, 4 when read off a plot); ours are
    /// rounded to as many before checking the spread.
    var decimals = 3
}

/// A Fashion-MNIST classification experiment of the book: a zoo model trained by `Trainer`
/// (`train_ch3`/`train_ch6`) with the book's hyperparameters, printed like the book, compared
/// with the book's numbers.
protocol ClassificationExperiment: Experiment {
    /// The common options.
    var options: ExperimentOptions { get }
    /// The `ModelZoo` name of the network to train.
    var modelName: String { get }
    /// The book's results for this experiment.
    static var book: BookResult { get }
}

extension ClassificationExperiment {
    func run() throws {
        try runClassification(model: ModelZoo.model(named: modelName), options: options, book: Self.book,
                              experimentName: Self.configuration.commandName ?? modelName)
    }
}

/// Trains `model` on Fashion-MNIST as the book does and prints the book's lines, then the book's
/// numbers beside ours. Writes a checkpoint, JSON log, CSV and SVG plot after every epoch
/// (under `runs/<experiment>/` unless the options name other files).
func runClassification(model: ZooModel, options: ExperimentOptions, book: BookResult, experimentName: String) throws {
    options.configureThreads()
    let defaults = model.hyperparameters
    let epochs = options.epochs ?? defaults.epochs
    let batchSize = options.batchSize ?? defaults.batchSize
    let learningRate = options.lr ?? defaults.learningRate
    let resize = options.resize ?? defaults.resize

    let data = try FashionMNIST(directory: options.data)
    let loaders = data.loaders(batchSize: batchSize, seed: options.seed, trainLimit: options.trainLimit,
                               testLimit: options.testLimit, resize: resize.map { ImageSize($0, $0) })
    var generator = RandomGenerator(seed: options.seed)
    let network = model.makeInitialized(using: &generator)
    let optimizer = SGD(network, learningRate: learningRate)

    let outputDirectory = URL(fileURLWithPath: "runs").appendingPathComponent(experimentName)
    let checkpoint = ExperimentOptions.url(options.resume) ?? outputDirectory.appendingPathComponent("checkpoint.safetensors")
    let json = ExperimentOptions.url(options.json) ?? outputDirectory.appendingPathComponent("log.json")
    let plot = ExperimentOptions.url(options.plot) ?? outputDirectory.appendingPathComponent("curves.svg")
    let csv = json.deletingPathExtension().appendingPathExtension("csv")
    for directory in Set([checkpoint, json, plot, csv].map { $0.deletingLastPathComponent() }) {
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
    let trainer = Trainer(model: network, optimizer: optimizer, train: loaders.train, test: loaders.test,
                          configuration: configuration)
    trainer.outputs = TrainingOutputs(checkpoint: checkpoint, json: json, csv: csv, plot: plot)
    trainer.prefetch = resize != nil
    if options.resume != nil {
        try trainer.resume(from: checkpoint)
        print("resumed from \(checkpoint.path) after epoch \(trainer.completedEpochs)")
    }

    print("d2l §\(model.section) \(model.title): Fashion-MNIST \(loaders.train.count)/\(loaders.test.count) examples"
          + (resize.map { " at \($0)×\($0)" } ?? "") + ", batch \(batchSize), lr \(learningRate), \(epochs) epochs, "
          + "\(network.parameterCount) parameters (\(BLAS.summary))")
    let record = try trainer.fit(epochs: epochs)
    if let save = options.save { try network.saveStateDict(to: URL(fileURLWithPath: save)) }

    guard let last = record.epochs.last else { return }
    func compare(_ name: String, _ ours: Double, _ metric: BookResult.Metric) -> String {
        let scale = Foundation.pow(10, Double(book.decimals))
        let inside = metric.range.contains((ours * scale).rounded() / scale) ? "inside" : "OUTSIDE"
        let f = "%.\(book.decimals)f"
        return String(format: "%@ \(f) (book \(f), spread \(f) [\(f), \(f)]: %@)", name, ours, metric.reference,
                      metric.median, metric.range.lowerBound, metric.range.upperBound, inside)
    }
    let full = epochs == defaults.epochs && batchSize == defaults.batchSize && learningRate == defaults.learningRate
        && resize == defaults.resize && loaders.train.count == data.train.count && loaders.test.count == data.test.count
    print(full ? "compared with the book (same settings):" : "compared with the book (NOT the book's settings; for orientation only):")
    print("  " + compare("loss", last.loss, book.loss))
    print("  " + compare("train acc", last.trainAccuracy, book.trainAccuracy))
    print("  " + compare("test acc", last.testAccuracy, book.testAccuracy))
    if let note = book.note { print("  note: \(note)") }
    print("log \(json.path), curves \(csv.path), plot \(plot.path), checkpoint \(checkpoint.path)")
}

private func metric(_ reference: Double, _ median: Double, _ low: Double, _ high: Double) -> BookResult.Metric {
    BookResult.Metric(reference: reference, median: median, range: low...high)
}

struct SoftmaxRegressionExperiment: ClassificationExperiment {
    static let section = "3.7"
    static let configuration = CommandConfiguration(commandName: "softmax-regression",
                                                    abstract: "Softmax regression on Fashion-MNIST (concise: Flatten + Linear(784, 10)).")
    static let book = BookResult(loss: metric(0.4481, 0.4472, 0.4468, 0.4484), trainAccuracy: metric(0.8481, 0.8481, 0.8469, 0.8488),
                                 testAccuracy: metric(0.8281, 0.8315, 0.8254, 0.8356), note: "the book's values are read off its plot (4 decimals)", decimals: 4)
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "softmax-regression" }
}

struct MLPExperiment: ClassificationExperiment {
    static let section = "4.3"
    static let configuration = CommandConfiguration(commandName: "mlp", abstract: "Multilayer perceptron 784-256-10 with ReLU.")
    static let book = BookResult(loss: metric(0.3820, 0.3832, 0.3795, 0.3864), trainAccuracy: metric(0.8652, 0.8643, 0.8632, 0.8664),
                                 testAccuracy: metric(0.8382, 0.8439, 0.8283, 0.8528), note: "the book's values are read off its plot (4 decimals)", decimals: 4)
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "mlp" }
}

struct DropoutExperiment: ClassificationExperiment {
    static let section = "4.6"
    static let configuration = CommandConfiguration(commandName: "dropout", abstract: "MLP 784-256-256-10 with dropout 0.2 and 0.5.")
    static let book = BookResult(loss: metric(0.3435, 0.3439, 0.3387, 0.3644), trainAccuracy: metric(0.8747, 0.8738, 0.8687, 0.8759),
                                 testAccuracy: metric(0.8441, 0.8554, 0.8228, 0.8723), note: "the book's values are read off its plot (4 decimals)", decimals: 4)
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "mlp-dropout" }
}

struct LeNetExperiment: ClassificationExperiment {
    static let section = "6.6"
    static let configuration = CommandConfiguration(commandName: "lenet", abstract: "LeNet (sigmoid, average pooling), Xavier init, SGD lr 0.9.")
    static let book = BookResult(loss: metric(0.469, 0.468, 0.451, 0.497), trainAccuracy: metric(0.823, 0.824, 0.811, 0.834),
                                 testAccuracy: metric(0.779, 0.808, 0.779, 0.824))
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "lenet" }
}

struct BatchNormExperiment: ClassificationExperiment {
    static let section = "7.5"
    static let configuration = CommandConfiguration(commandName: "batch-norm", abstract: "LeNet with batch normalization (library BN; --scratch for the book's own).")
    static let book = BookResult(loss: metric(0.267, 0.263, 0.244, 0.281), trainAccuracy: metric(0.902, 0.903, 0.896, 0.911),
                                 testAccuracy: metric(0.708, 0.843, 0.708, 0.879), note: "from scratch the book's spread is loss 0.261 [0.247, 0.273], train acc 0.904 [0.899, 0.910], test acc 0.826 [0.590, 0.885]")
    @OptionGroup var options: ExperimentOptions
    @Flag(help: "Use the book's from-scratch batch norm (moving averages with momentum 0.9) instead of the library's.") var scratch = false
    var modelName: String { scratch ? "batch-norm-lenet-scratch" : "batch-norm-lenet" }

    func run() throws {
        let book = scratch
            ? BookResult(loss: metric(0.273, 0.261, 0.247, 0.273), trainAccuracy: metric(0.899, 0.904, 0.899, 0.910),
                         testAccuracy: metric(0.807, 0.826, 0.590, 0.885), note: nil)
            : Self.book
        try runClassification(model: ModelZoo.model(named: modelName), options: options, book: book,
                              experimentName: scratch ? "batch-norm-scratch" : "batch-norm")
    }
}

struct AlexNetExperiment: ClassificationExperiment {
    static let section = "7.1"
    static let configuration = CommandConfiguration(commandName: "alexnet", abstract: "AlexNet on Fashion-MNIST resized to 224×224.")
    static let book = BookResult(loss: metric(0.331, 0.328, 0.326, 0.333), trainAccuracy: metric(0.878, 0.880, 0.877, 0.881),
                                 testAccuracy: metric(0.883, 0.879, 0.866, 0.885))
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "alexnet" }
}

struct VGGExperiment: ClassificationExperiment {
    static let section = "7.2"
    static let configuration = CommandConfiguration(commandName: "vgg", abstract: "VGG-11 with channels divided by 4, 224×224.")
    static let book = BookResult(loss: metric(0.178, 0.177, 0.171, 0.220), trainAccuracy: metric(0.935, 0.935, 0.918, 0.937),
                                 testAccuracy: metric(0.920, 0.919, 0.900, 0.924))
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "vgg" }
}

struct NiNExperiment: ClassificationExperiment {
    static let section = "7.3"
    static let configuration = CommandConfiguration(commandName: "nin", abstract: "Network in Network, 224×224.")
    static let book = BookResult(loss: metric(0.563, 0.373, 0.321, 0.799), trainAccuracy: metric(0.786, 0.860, 0.708, 0.881),
                                 testAccuracy: metric(0.790, 0.838, 0.690, 0.879), note: "spread over the 18 of 21 book runs that converged; 3 failed")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "nin" }
}

struct GoogLeNetExperiment: ClassificationExperiment {
    static let section = "7.4"
    static let configuration = CommandConfiguration(commandName: "googlenet", abstract: "GoogLeNet (Inception blocks b1-b5), 96×96.")
    static let book = BookResult(loss: metric(0.262, 0.246, 0.235, 0.267), trainAccuracy: metric(0.900, 0.906, 0.898, 0.912),
                                 testAccuracy: metric(0.886, 0.889, 0.850, 0.899), note: "1 of the book's 21 runs ended in NaN")
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "googlenet" }
}

struct ResNetExperiment: ClassificationExperiment {
    static let section = "7.6"
    static let configuration = CommandConfiguration(commandName: "resnet", abstract: "ResNet-18, 96×96.")
    static let book = BookResult(loss: metric(0.012, 0.012, 0.008, 0.019), trainAccuracy: metric(0.997, 0.997, 0.995, 0.999),
                                 testAccuracy: metric(0.893, 0.909, 0.838, 0.922))
    @OptionGroup var options: ExperimentOptions
    var modelName: String { "resnet" }
}
