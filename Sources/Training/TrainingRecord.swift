import Engine
import Foundation

/// The metrics of one epoch, as the textbook's `train_ch6` computes them.
public struct EpochMetrics: Codable, Equatable, Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean per-example training loss accumulated batch by batch during the epoch (training
    /// mode, dropout active), `Σ loss_b · n_b / Σ n_b`: the book's "loss".
    public var loss: Double
    /// Fraction of training examples classified correctly during the epoch (training mode).
    public var trainAccuracy: Double
    /// Fraction of test examples classified correctly after the epoch (evaluation mode, no grad).
    public var testAccuracy: Double
    /// Training examples per second over the epoch's training loop (data, forward, backward,
    /// update; evaluation excluded).
    public var examplesPerSecond: Double
    /// Seconds spent in the epoch's training loop.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case epoch, loss, seconds
        case trainAccuracy = "train_acc"
        case testAccuracy = "test_acc"
        case examplesPerSecond = "examples_per_sec"
    }

    public init(
        epoch: Int, loss: Double, trainAccuracy: Double, testAccuracy: Double,
        examplesPerSecond: Double, seconds: Double
    ) {
        self.epoch = epoch
        self.loss = loss
        self.trainAccuracy = trainAccuracy
        self.testAccuracy = testAccuracy
        self.examplesPerSecond = examplesPerSecond
        self.seconds = seconds
    }
}

/// A point of the within-epoch training curves (the book's animator adds five per epoch):
/// `x` is the fractional epoch, e.g. 1.2 after a fifth of epoch 2.
public struct CurvePoint: Codable, Equatable, Sendable {
    public var x: Double
    public var loss: Double
    public var trainAccuracy: Double

    enum CodingKeys: String, CodingKey {
        case x, loss
        case trainAccuracy = "train_acc"
    }
}

/// Everything a run has measured so far; written as the JSON log and restored from checkpoints.
public struct TrainingRecord: Codable, Sendable {
    /// Free-form configuration: model, batch size, learning rate, seed, … (as given by the caller).
    public var configuration: [String: String]
    /// The BLAS kernel and threads the run used.
    public var blas: [String: String]
    /// Per-epoch metrics, in order.
    public var epochs: [EpochMetrics]
    /// The within-epoch training curves.
    public var curve: [CurvePoint]
    /// Training examples per second over all epochs so far (total examples / total loop time).
    public var examplesPerSecond: Double
    /// Total seconds of the training loops so far.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case configuration, blas, epochs, curve, seconds
        case examplesPerSecond = "examples_per_sec"
    }

    public init(configuration: [String: String]) {
        self.configuration = configuration
        self.blas = ["core": BLAS.coreName, "threads": String(BLAS.threadCount)]
        self.epochs = []
        self.curve = []
        self.examplesPerSecond = 0
        self.seconds = 0
    }

    /// The record as pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The per-epoch curves as CSV: `epoch,loss,train_acc,test_acc,examples_per_sec,seconds`.
    public func csv() -> String {
        var text = "epoch,loss,train_acc,test_acc,examples_per_sec,seconds\n"
        for e in epochs {
            text += "\(e.epoch),\(e.loss),\(e.trainAccuracy),\(e.testAccuracy),\(e.examplesPerSecond),\(e.seconds)\n"
        }
        return text
    }
}
