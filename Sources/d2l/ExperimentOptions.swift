import ArgumentParser
import Datasets
import Engine
import Foundation

/// The options every experiment accepts. Unset values take the book's defaults for that
/// experiment (`ExperimentDefaults`).
struct ExperimentOptions: ParsableArguments {
    @Option(help: "Number of epochs (default: the book's).") var epochs: Int?
    @Option(help: "Minibatch size (default: the book's).") var batchSize: Int?
    @Option(help: "Learning rate (default: the book's).") var lr: Float?
    @Option(help: "Resize images to N×N (default: the book's for the model).") var resize: Int?
    @Option(help: "Seed of every random generator (data order, initialization, dropout).") var seed: UInt64 = 0
    @Option(help: "Use only the first N training examples.") var trainLimit: Int?
    @Option(help: "Use only the first N test examples.") var testLimit: Int?
    @Option(help: "OpenBLAS threads (default: one per core).") var threads: Int?
    @Option(
        help:
            "Data directory (Fashion-MNIST IDX files; default \(FashionMNIST.defaultDirectory) or $\(FashionMNIST.directoryEnvironmentVariable)) or data file."
    )
    var data: String?
    @Option(help: "Save the trained weights (safetensors state dict, loadable by PyTorch).") var save: String?
    @Option(
        help:
            "Checkpoint file: continues the run saved there, or starts a new run there when the file does not exist yet; rewritten (atomically) after every epoch. A checkpoint of another experiment or configuration is refused."
    )
    var resume: String?
    @Option(help: "Write a JSON log of the run (configuration, per-epoch metrics, BLAS core and threads).") var json:
        String?
    @Option(help: "Write an SVG plot of the training curves, rewritten after every epoch.") var plot: String?

    /// Refuses values no experiment can use, each with a one-line message: epochs, batch sizes,
    /// limits and threads below 1, a learning rate that is not a positive finite number, a size
    /// outside 1…`largestResize`. Whether a network takes the size is checked against the network
    /// itself (`checkSize`).
    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be >= 1, got \(epochs)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be >= 1, got \(batchSize)") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let resize, !(1...largestResize).contains(resize) {
            throw ValidationError("--resize must be between 1 and \(largestResize), got \(resize)")
        }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be >= 1, got \(trainLimit)") }
        if let testLimit, testLimit < 1 { throw ValidationError("--test-limit must be >= 1, got \(testLimit)") }
        if let threads, !(1...1024).contains(threads) {
            throw ValidationError("--threads must be between 1 and 1024, got \(threads)")
        }
        for (name, path) in [("--save", save), ("--resume", resume), ("--json", json), ("--plot", plot)]
        where path?.isEmpty == true {
            throw ValidationError("\(name) needs a file name")
        }
    }

    /// Applies `--threads`.
    func configureThreads() {
        if let threads { BLAS.setThreadCount(threads) }
    }

    /// `path` as a file URL.
    static func url(_ path: String?) -> URL? { path.map { URL(fileURLWithPath: $0) } }
}
