import Datasets
import Engine
import Foundation

/// Data-parallel training (PyTorch's `DistributedDataParallel`), written against `ProcessGroup`,
/// the few collective operations it needs, so that Engine never imports MPI: the `MPI` target
/// implements `ProcessGroup` over Open MPI and the `d2l` executable hands one to `Trainer`.
///
/// What a `Trainer` with a `processGroup` of K processes does (every rank runs the same program):
/// - at the start of `fit`, it refuses to train unless every rank has the same configuration,
///   model structure, optimizer, data and completed epochs (`DataParallelError.mismatch`), then
///   copies rank 0's parameters, buffers and optimizer state to every rank;
/// - each global batch of the loader's batch size is split into K disjoint contiguous shards of
///   the same shuffled order (`BatchShard`), so global batch, learning rate and steps per epoch are
///   the single-process ones;
/// - after backward, one all-reduce sums every rank's gradient weighted by its shard size, with the
///   ranks' losses, correct predictions and example counts in the same buffer; every rank then
///   divides by the global example count, so each applies the gradient of the global batch's mean
///   loss and the weights stay equal on every rank. A non-finite loss on any rank stops every rank
///   before the update (`DataParallelError.diverged`, naming the rank);
/// - batch norm normalizes with each rank's own shard statistics and updates its running
///   statistics from them (DDP's default, no `SyncBatchNorm`); at the end of every epoch rank 0's
///   buffers (and parameters) are copied to every rank, which is what DDP's `broadcast_buffers`
///   gives the model that is evaluated and saved;
/// - the test set is evaluated in shards and the counts summed; loss, accuracy and examples/s are
///   those of the global batches; only rank 0 prints and writes files.
///
/// Gradients are reduced in one flat buffer after the whole backward pass (no bucketed overlap
/// with backward).
public protocol ProcessGroup: AnyObject, Sendable {
    /// This process's number, `0..<size`; rank 0 prints and writes files.
    var rank: Int { get }
    /// The number of processes that train together (K).
    var size: Int { get }
    /// Overwrites `buffer` on every rank with its contents on `root` (`MPI_Bcast`).
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int)
    /// Replaces `buffer` on every rank by the elementwise sum over all ranks (`MPI_Allreduce`).
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
    /// Replaces `buffer` on every rank by the elementwise sum over all ranks, in double precision.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>)
    /// Replaces `buffer` on every rank by the elementwise minimum (`maximum` false) or maximum
    /// (`maximum` true) over all ranks.
    func allReduceExtreme(_ buffer: UnsafeMutableBufferPointer<UInt64>, maximum: Bool)
}

/// What stops a data-parallel run on every rank at once.
public enum DataParallelError: Error, CustomStringConvertible, Equatable {
    /// The ranks were started with different settings, models or data: the named items differ.
    case mismatch(processes: Int, differences: [String])
    /// The loss of rank `rank` became non-finite (`underlying` says where); nothing was updated.
    case diverged(rank: Int, underlying: TrainingError)

    /// One line for the user: what differs between the ranks, or which rank diverged where.
    public var description: String {
        switch self {
        case .mismatch(let processes, let differences):
            let listed =
                differences.prefix(4).joined(separator: ", ")
                + (differences.count > 4 ? ", and \(differences.count - 4) more" : "")
            return "the \(processes) processes were started differently (\(listed) differ between ranks); "
                + "start every rank with the same command, data and checkpoint"
        case .diverged(let rank, let underlying):
            return "rank \(rank): \(underlying)"
        }
    }
}

extension ProcessGroup {
    /// `"K processes × OpenBLAS <core>, T threads"` (`T` per process), for headers and summaries.
    public var summary: String { "\(size) process\(size == 1 ? "" : "es") × \(BLAS.summary)" }

    /// Checks that every rank's `items` (name, value) are equal; throws
    /// `DataParallelError.mismatch` naming those that are not, on every rank. The values are
    /// compared through 64-bit FNV-1a hashes (the minimum and the maximum over the ranks).
    public func checkSameEverywhere(_ items: [(name: String, value: String)]) throws {
        // First the number of items, so that the all-reduce below has one length on every rank.
        var counts: [UInt64] = [UInt64(items.count), UInt64(items.count)]
        counts.withUnsafeMutableBufferPointer {
            allReduceExtreme(UnsafeMutableBufferPointer(rebasing: $0[0..<1]), maximum: false)
        }
        counts.withUnsafeMutableBufferPointer {
            allReduceExtreme(UnsafeMutableBufferPointer(rebasing: $0[1..<2]), maximum: true)
        }
        guard counts[0] == counts[1] else {
            throw DataParallelError.mismatch(processes: size, differences: ["the program (its number of settings)"])
        }
        var low = items.map { fingerprint(of: Array($0.name.utf8) + [0] + Array($0.value.utf8)) }
        var high = low
        low.withUnsafeMutableBufferPointer { allReduceExtreme($0, maximum: false) }
        high.withUnsafeMutableBufferPointer { allReduceExtreme($0, maximum: true) }
        let differences = items.indices.filter { low[$0] != high[$0] }.map { items[$0].name }
        guard differences.isEmpty else { throw DataParallelError.mismatch(processes: size, differences: differences) }
    }

    /// Copies rank 0's values of `tensors` to every rank, through one buffer.
    public func broadcastFromRoot(_ tensors: [Tensor]) {
        var flat = [Float](repeating: 0, count: tensors.reduce(0) { $0 + $1.count })
        if rank == 0 { pack(tensors, into: &flat) }
        flat.withUnsafeMutableBufferPointer { broadcast($0, from: 0) }
        var offset = 0
        for tensor in tensors {
            flat.withUnsafeBufferPointer { tensor.pointer.update(from: $0.baseAddress! + offset, count: tensor.count) }
            offset += tensor.count
        }
    }
}

/// The 64-bit FNV-1a hash of `bytes`: the same on every machine (Swift's `Hasher` is seeded per process).
func fingerprint<Bytes: Sequence>(of bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}

/// Copies the values of `tensors` one after the other into the start of `flat`.
private func pack(_ tensors: [Tensor], into flat: inout [Float]) {
    var offset = 0
    flat.withUnsafeMutableBufferPointer { buffer in
        for tensor in tensors {
            (buffer.baseAddress! + offset).update(from: tensor.pointer, count: tensor.count)
            offset += tensor.count
        }
    }
}

/// What one step's all-reduce gives every rank besides the averaged gradients.
struct ReducedStep {
    /// Each rank's mean loss over its shard (0 for an empty shard), by rank.
    var losses: [Float]
    /// Correct predictions in the global batch.
    var correct: Int
    /// Examples in the global batch.
    var examples: Int
    /// Σ loss·examples over the ranks, the global batch's summed loss.
    var lossSum: Double
}

extension Trainer {
    /// The items every rank must agree on before training together (`checkSameEverywhere`).
    func replicaFingerprintItems() -> [(name: String, value: String)] {
        var items: [(name: String, value: String)] = record.configuration.sorted { $0.key < $1.key }.map {
            ($0.key, $0.value)
        }
        items.append(
            (
                "model structure",
                model.namedTensors().map { "\($0.key) \($0.kind) \($0.tensor.shape)" }.joined(separator: ";")
            ))
        items.append(
            (
                "optimizer",
                "\(type(of: optimizer)) "
                    + optimizer.parameterGroups.map {
                        "\($0.learningRate) \($0.weightDecay) \($0.parameters.map(\.key))"
                    }.joined(separator: ";")
            ))
        items.append(("optimizer state", optimizer.stateDict().keys.sorted().joined(separator: ";")))
        items.append(("completed epochs", String(completedEpochs)))
        for (name, loader) in [("training data", trainLoader), ("test data", testLoader)] {
            let sampler = loader.sampler, set = loader.dataSet
            let pixels = set.pixels.prefix(sampler.count * set.height * set.width)
            items.append(
                (
                    name,
                    "\(sampler) \(set.height)×\(set.width) \(String(describing: loader.resize)) "
                        + "\(fingerprint(of: pixels)) \(fingerprint(of: set.labels.prefix(sampler.count).map { UInt8(truncatingIfNeeded: $0) }))"
                ))
        }
        return items
    }

    /// Refuses mismatched ranks, then makes every rank start from rank 0's parameters, buffers and
    /// optimizer state (DDP's broadcast at construction).
    func synchronizeReplicas(_ group: any ProcessGroup) throws {
        try group.checkSameEverywhere(replicaFingerprintItems())
        let state = optimizer.stateDict().sorted { $0.key < $1.key }.map(\.value)
        group.broadcastFromRoot(model.namedTensors().map(\.tensor))
        if !state.isEmpty {
            group.broadcastFromRoot(state)
            try optimizer.loadStateDict(
                Dictionary(uniqueKeysWithValues: zip(optimizer.stateDict().keys.sorted(), state)))
        }
    }

    /// Sums every rank's gradients weighted by its shard's example count, with each rank's loss,
    /// correct predictions and count, in one all-reduce, and leaves in every parameter's `grad`
    /// the gradient of the global batch's mean loss: `(1/B) Σ_r b_r · ∇L_r`, with `b_r` the
    /// examples of rank r's shard and `B = Σ b_r`. A parameter without a gradient on this rank
    /// (an empty shard) contributes zeros. `buffer` is reused between steps.
    func allReduceGradients(
        _ group: any ProcessGroup, parameters: [Tensor], buffer: inout [Float],
        loss: Float, correct: Int, examples: Int
    ) -> ReducedStep {
        let gradientCount = parameters.reduce(0) { $0 + $1.count }
        let size = group.size
        if buffer.count != gradientCount + 3 * size { buffer = [Float](repeating: 0, count: gradientCount + 3 * size) }
        let weight = Float(examples)
        buffer.withUnsafeMutableBufferPointer { flat in
            var offset = 0
            for parameter in parameters {
                let target = flat.baseAddress! + offset
                if let grad = parameter.grad, examples > 0 {
                    let source = grad.pointer
                    for index in 0..<parameter.count { target[index] = source[index] * weight }
                } else {
                    target.update(repeating: 0, count: parameter.count)
                }
                offset += parameter.count
            }
            let metrics = flat.baseAddress! + gradientCount
            metrics.update(repeating: 0, count: 3 * size)
            metrics[3 * group.rank] = examples > 0 ? loss : 0
            metrics[3 * group.rank + 1] = Float(correct)
            metrics[3 * group.rank + 2] = Float(examples)
            group.allReduceSum(flat)
        }
        var step = ReducedStep(losses: [], correct: 0, examples: 0, lossSum: 0)
        for rank in 0..<size {
            let loss = buffer[gradientCount + 3 * rank], count = Int(buffer[gradientCount + 3 * rank + 2])
            step.losses.append(loss)
            step.correct += Int(buffer[gradientCount + 3 * rank + 1])
            step.examples += count
            step.lossSum += Double(loss) * Double(count)
        }
        let scale = step.examples > 0 ? 1 / Float(step.examples) : 0
        buffer.withUnsafeBufferPointer { flat in
            var offset = 0
            for parameter in parameters {
                let grad = parameter.grad ?? Tensor.zeros(parameter.shape)
                let target = grad.pointer, source = flat.baseAddress! + offset
                for index in 0..<parameter.count { target[index] = source[index] * scale }
                parameter.grad = grad
                offset += parameter.count
            }
        }
        return step
    }

    /// The fraction of the test set the model classifies correctly, each rank evaluating its shard
    /// of every test batch and the counts summed over the ranks (`evaluateAccuracy` otherwise).
    func evaluateAccuracyInShards(_ group: any ProcessGroup) -> Double {
        let modes = model.namedModules().map { ($0.module, $0.module.isTraining) }
        model.eval()
        defer { for (module, mode) in modes { module.isTraining = mode } }
        var counts = [0.0, 0.0]
        withNoGrad {
            for batch in testLoader.batches(epoch: 0, shard: BatchShard(index: group.rank, of: group.size))
            where !batch.labels.isEmpty {
                counts[0] += Double(correctPredictionCount(logits: model(batch.images), labels: batch.labels))
                counts[1] += Double(batch.labels.count)
            }
        }
        counts.withUnsafeMutableBufferPointer { group.allReduceSum($0) }
        return counts[1] > 0 ? counts[0] / counts[1] : 0
    }
}
