import Datasets
import Engine
import Foundation

/// What stops a training run.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// The loss became NaN or infinite. The last good checkpoint (if any) was kept as it was.
    case diverged(epoch: Int, batch: Int, loss: Float, learningRate: Float, checkpoint: String?)
    /// A checkpoint could not be read or does not fit the model/optimizer.
    case checkpoint(path: String, reason: String)
    /// A log, curve or plot file could not be written.
    case output(path: String, reason: String)

    public var description: String {
        switch self {
        case .diverged(let epoch, let batch, let loss, let learningRate, let checkpoint):
            return "training diverged: the loss became \(loss) at epoch \(epoch), batch \(batch) "
                + "(learning rate \(learningRate)); try a smaller learning rate"
                + (checkpoint.map { ". The last good checkpoint is kept at \($0)" } ?? "")
        case .checkpoint(let path, let reason):
            return "checkpoint \(path): \(reason)"
        case .output(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}

/// How progress is shown while training.
public enum ProgressStyle: Sendable {
    /// A live bar on a terminal, `lines` otherwise.
    case automatic
    /// Plain lines: one per epoch and, within an epoch that has run longer than
    /// `Trainer.progressLinesAfter` seconds, one at each fifth of it (the cadence at which the
    /// book's `train_ch6` adds points to its plot), so an hour-long epoch in a log file shows
    /// how far it has got.
    case lines
    /// Nothing but the final summary.
    case quiet
}

/// The files a run writes after every epoch, and what it resumes from. All writes are atomic.
public struct TrainingOutputs {
    /// Checkpoint (safetensors): model parameters and buffers, optimizer state, dropout
    /// generators, completed epochs and the record so far.
    public var checkpoint: URL?
    /// JSON log of the run (`TrainingRecord`).
    public var json: URL?
    /// CSV of the per-epoch curves.
    public var csv: URL?
    /// SVG plot of the curves (the book's animated figure).
    public var plot: URL?

    public init(checkpoint: URL? = nil, json: URL? = nil, csv: URL? = nil, plot: URL? = nil) {
        self.checkpoint = checkpoint
        self.json = json
        self.csv = csv
        self.plot = plot
    }
}

/// The textbook's `train_ch6` (and `train_ch3`) for classifiers on image batches: per epoch,
/// minibatch SGD (or any `Optimizer`) on the mean cross-entropy in training mode, accumulating the
/// mean training loss and accuracy; then the test accuracy in evaluation mode without recording.
///
///     let trainer = Trainer(model: net, optimizer: SGD(...), train: loaders.train, test: loaders.test)
///     let record = try trainer.fit(epochs: 10)
///     // loss 0.469, train acc 0.823, test acc 0.779
///     // 17000.0 examples/sec on CPU (OpenBLAS SkylakeX, 2 threads)
public final class Trainer {
    public let model: any Module
    public let optimizer: any Optimizer
    public let trainLoader: ImageBatchLoader
    public let testLoader: ImageBatchLoader
    /// The loss of one batch: `logits [B, classes]`, labels → a scalar mean over the batch.
    public var loss: (Tensor, [Int]) -> Tensor = { crossEntropy(logits: $0, labels: $1) }
    /// Where output lines go: standard output by default, flushed after every line so that a
    /// long run's progress shows up in a log file or a pipe as it happens.
    public var write: (String) -> Void = { line in
        print(line)
        fflush(nil)
    }
    public var progress: ProgressStyle = .automatic
    /// In `lines` style, an epoch that has been running for at least this many seconds prints a
    /// line at each fifth of its batches: `epoch 1/10, batch 188/469: loss 1.270, train acc 0.528,
    /// 23.4 examples/sec, about 20 min to the end of the epoch`. Short epochs print only their
    /// summary line, as the book does.
    public var progressLinesAfter: Double = 60
    /// Prepare the next batch on a background thread while the current one trains.
    public var prefetch = false
    /// The files written after every epoch.
    public var outputs = TrainingOutputs()
    /// What has been measured so far (restored by `resume(from:)`).
    public internal(set) var record: TrainingRecord
    /// Epochs completed so far (restored by `resume(from:)`).
    public internal(set) var completedEpochs = 0
    /// The processes this one trains the model with (data-parallel, see `ProcessGroup`), or `nil`
    /// to train alone. Only rank 0 writes lines and files.
    public var processGroup: (any ProcessGroup)?
    /// Replicas of the model that train the shards of each batch at the same time, one per core
    /// (`DataParallel`, inside this process), or `nil` for one network on the whole batch. Its
    /// `model` must be this trainer's. A batch smaller than the shard count trains whole.
    public var dataParallel: DataParallel? {
        didSet {
            precondition(
                dataParallel.map { $0.model === model } ?? true, "Trainer.dataParallel: its model is not the trainer's")
        }
    }
    /// Whether this process prints and writes files: it trains alone or is rank 0.
    public var isRoot: Bool { (processGroup?.rank ?? 0) == 0 }
    /// The hardware a run uses, for summary lines: `OpenBLAS Zen, 2 threads`; with a process
    /// group `2 processes × OpenBLAS Zen, 1 thread`; data-parallel `OpenBLAS Zen, 2 shards × 1 thread`.
    public var hardwareSummary: String {
        if let processGroup { return processGroup.summary }
        if let dataParallel { return "OpenBLAS \(BLAS.coreName), \(dataParallel.shardCount) shards × 1 thread" }
        return BLAS.summary
    }

    public init(
        model: any Module, optimizer: any Optimizer, train: ImageBatchLoader, test: ImageBatchLoader,
        configuration: [String: String] = [:]
    ) {
        self.model = model
        self.optimizer = optimizer
        self.trainLoader = train
        self.testLoader = test
        self.record = TrainingRecord(configuration: configuration)
    }

    /// Trains until `epochs` epochs are complete in total (so after resuming from a checkpoint of
    /// epoch 3, `fit(epochs: 10)` runs epochs 4…10), writing `outputs` after every epoch, then
    /// prints the book's two summary lines. Throws `TrainingError.diverged` on a non-finite loss.
    @discardableResult
    public func fit(epochs: Int) throws -> TrainingRecord {
        precondition(epochs >= 0, "Trainer.fit: epochs must be >= 0, got \(epochs)")
        if let processGroup {
            try synchronizeReplicas(processGroup)
            record.blas["processes"] = String(processGroup.size)
        }
        if let dataParallel {
            dataParallel.synchronizeReplicas() // the model may have been loaded from a checkpoint
            record.blas["shards"] = String(dataParallel.shardCount)
        }
        let write: (String) -> Void = isRoot ? self.write : { _ in }
        // Under mpirun standard output is a pseudo-terminal whatever it is forwarded to: lines then.
        let bar =
            processGroup == nil && progress == .automatic && isatty(STDOUT_FILENO) != 0
            ? ProgressBar(write: write) : nil
        let partialLines = progress != .quiet && bar == nil
        while completedEpochs < epochs {
            let epoch = completedEpochs + 1
            let metrics = try trainEpoch(epoch, of: epochs, bar: bar, partialLines: partialLines, write: write)
            record.epochs.append(metrics)
            record.seconds += metrics.seconds
            let examples = record.epochs.reduce(0) { $0 + $1.examplesPerSecond * $1.seconds }
            record.examplesPerSecond = record.seconds > 0 ? examples / record.seconds : 0
            completedEpochs = epoch
            if progress != .quiet {
                write(
                    String(
                        format: "epoch %d/%d: loss %.3f, train acc %.3f, test acc %.3f, %.1f examples/sec, %.1f s",
                        epoch, epochs, metrics.loss, metrics.trainAccuracy, metrics.testAccuracy,
                        metrics.examplesPerSecond, metrics.seconds))
            }
            if isRoot { try writeOutputs(totalEpochs: epochs) }
        }
        if let last = record.epochs.last {
            write(
                String(
                    format: "loss %.3f, train acc %.3f, test acc %.3f", last.loss, last.trainAccuracy, last.testAccuracy
                ))
            write(String(format: "%.1f examples/sec on CPU (%@)", record.examplesPerSecond, hardwareSummary))
        }
        return record
    }

    private func trainEpoch(
        _ epoch: Int, of totalEpochs: Int, bar: ProgressBar?, partialLines: Bool,
        write: (String) -> Void
    ) throws -> EpochMetrics {
        model.train()
        let batchCount = trainLoader.batchCount
        let curveEvery = max(batchCount / 5, 1)
        var lossSum = 0.0, correct = 0, seen = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

        let shard = processGroup.map { BatchShard(index: $0.rank, of: $0.size) } ?? .whole
        let batches: AnySequence<ImageBatch> =
            prefetch
            ? AnySequence(trainLoader.prefetchingBatches(epoch: epoch - 1, shard: shard))
            : AnySequence(trainLoader.batches(epoch: epoch - 1, shard: shard))
        let parameters = processGroup == nil ? [] : model.parameters()
        var reduceBuffer: [Float] = []
        for (index, batch) in batches.enumerated() {
            func diverged(_ value: Float) -> TrainingError {
                .diverged(
                    epoch: epoch, batch: index + 1, loss: value, learningRate: optimizer.learningRate,
                    checkpoint: completedEpochs > 0 ? outputs.checkpoint?.path : nil)
            }
            optimizer.zeroGrad()
            if let processGroup {
                // A shard of a batch smaller than the number of processes may be empty.
                var value: Float = 0, batchCorrect = 0
                if !batch.labels.isEmpty {
                    let logits = model(batch.images)
                    let batchLoss = loss(logits, batch.labels)
                    value = batchLoss.item
                    batchCorrect = correctPredictionCount(logits: logits, labels: batch.labels)
                    batchLoss.backward()
                }
                let step = allReduceGradients(
                    processGroup, parameters: parameters, buffer: &reduceBuffer,
                    loss: value, correct: batchCorrect, examples: batch.labels.count)
                if let rank = step.losses.firstIndex(where: { !$0.isFinite }) {
                    throw DataParallelError.diverged(rank: rank, underlying: diverged(step.losses[rank]))
                }
                optimizer.step()
                lossSum += step.lossSum
                correct += step.correct
                seen += step.examples
            } else if let dataParallel, batch.labels.count >= dataParallel.shardCount {
                let (value, logits) = dataParallel.forwardBackward(batch.images, labels: batch.labels, loss: loss)
                guard value.isFinite else { throw diverged(value) }
                optimizer.step()
                dataParallel.synchronizeReplicas()
                lossSum += Double(value) * Double(batch.labels.count)
                correct += correctPredictionCount(logits: logits, labels: batch.labels)
                seen += batch.labels.count
            } else {
                let logits = model(batch.images)
                let batchLoss = loss(logits, batch.labels)
                let value = batchLoss.item
                guard value.isFinite else { throw diverged(value) }
                batchLoss.backward()
                optimizer.step()

                lossSum += Double(value) * Double(batch.labels.count)
                correct += correctPredictionCount(logits: logits, labels: batch.labels)
                seen += batch.labels.count
            }
            if (index + 1) % curveEvery == 0 || index == batchCount - 1 {
                let point = CurvePoint(
                    x: Double(epoch - 1) + Double(index + 1) / Double(batchCount),
                    loss: lossSum / Double(seen), trainAccuracy: Double(correct) / Double(seen))
                record.curve.append(point)
                let seconds = elapsed
                if partialLines && index < batchCount - 1 && seconds >= progressLinesAfter {
                    let remaining = seconds / Double(index + 1) * Double(batchCount - index - 1)
                    write(
                        String(
                            format:
                                "epoch %d/%d, batch %d/%d: loss %.3f, train acc %.3f, %.1f examples/sec, about %@ to the end of the epoch",
                            epoch, totalEpochs, index + 1, batchCount, point.loss, point.trainAccuracy,
                            Double(seen) / seconds, durationText(remaining)))
                }
            }
            bar?.update(
                epoch: epoch, of: totalEpochs, batch: index + 1, of: batchCount,
                loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                examples: seen, seconds: elapsed)
        }
        let seconds = elapsed
        bar?.clear()
        if let processGroup {
            // Rank 0's running statistics (batch norm) and weights are what is evaluated and saved.
            processGroup.broadcastFromRoot(model.namedTensors().map(\.tensor))
        }
        let testAccuracy = processGroup.map { evaluateAccuracyInShards($0) } ?? evaluateAccuracy(model, on: testLoader)
        return EpochMetrics(
            epoch: epoch, loss: seen > 0 ? lossSum / Double(seen) : 0,
            trainAccuracy: seen > 0 ? Double(correct) / Double(seen) : 0,
            testAccuracy: testAccuracy, examplesPerSecond: seconds > 0 ? Double(seen) / seconds : 0,
            seconds: seconds)
    }

    private func writeOutputs(totalEpochs: Int) throws {
        func save(_ data: Data, to url: URL?) throws {
            guard let url else { return }
            do { try SafeTensors.writeAtomically(data, to: url) } catch {
                throw TrainingError.output(path: url.path, reason: "\(error)")
            }
        }
        if let url = outputs.checkpoint { try saveCheckpoint(to: url) }
        try save(record.jsonData(), to: outputs.json)
        try save(Data(record.csv().utf8), to: outputs.csv)
        try save(Data(CurvePlot(record: record, epochs: totalEpochs).svg().utf8), to: outputs.plot)
    }
}

/// `seconds` rounded for a progress line: "45 s", "12 min", "1 h 05 min".
func durationText(_ seconds: Double) -> String {
    let rounded = Int(seconds.rounded())
    if rounded < 90 { return "\(rounded) s" }
    let minutes = (rounded + 30) / 60
    if minutes < 60 { return "\(minutes) min" }
    return String(format: "%d h %02d min", minutes / 60, minutes % 60)
}

/// The fraction of `loader`'s examples that `model` classifies correctly, in evaluation mode and
/// without recording (the book's `evaluate_accuracy_gpu`). Restores the model's training flags.
public func evaluateAccuracy(_ model: any Module, on loader: ImageBatchLoader) -> Double {
    let modes = model.namedModules().map { ($0.module, $0.module.isTraining) }
    model.eval()
    defer { for (module, mode) in modes { module.isTraining = mode } }
    var correct = 0, seen = 0
    withNoGrad {
        for batch in loader.batches(epoch: 0) {
            correct += correctPredictionCount(logits: model(batch.images), labels: batch.labels)
            seen += batch.labels.count
        }
    }
    return seen > 0 ? Double(correct) / Double(seen) : 0
}

/// A one-line progress bar on a terminal: `epoch 2/10 [=========>          ] 120/235 loss 0.612
/// acc 0.781 17234 ex/s ETA 3s`, redrawn at most ten times a second.
final class ProgressBar {
    private let write: (String) -> Void
    private var lastDraw: UInt64 = 0

    init(write: @escaping (String) -> Void) { self.write = write }

    func update(
        epoch: Int, of epochs: Int, batch: Int, of batches: Int, loss: Double, accuracy: Double,
        examples: Int, seconds: Double
    ) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard batch == batches || now - lastDraw > 100_000_000 else { return }
        lastDraw = now
        let width = 24
        let filled = batches > 0 ? width * batch / batches : width
        let bar =
            String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(width - filled - 1, 0))
        let rate = seconds > 0 ? Double(examples) / seconds : 0
        let eta = batch > 0 ? seconds / Double(batch) * Double(batches - batch) : 0
        FileHandle.standardOutput.write(
            Data(
                String(
                    format: "\r\u{1B}[2Kepoch %d/%d [%@] %d/%d loss %.3f acc %.3f %.0f ex/s ETA %.0fs",
                    epoch, epochs, bar, batch, batches, loss, accuracy, rate, eta
                ).utf8))
    }

    func clear() { FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8)) }
}
