import Foundation

/// Data parallelism inside one process: the batch `[B, …]` is split into `K` consecutive shards
/// of `⌊B/K⌋` or `⌈B/K⌉` examples, and core `k` runs forward, loss and backward of shard `k` on its
/// own replica of the network at the same time as the others, with single-threaded kernels and
/// BLAS (`SingleThreadedBLASSections`). Replica 0 is `model` itself; the others are copies that
/// share nothing with it but the values copied into them.
///
/// Each shard's mean loss `ℓₖ` is weighted by `Bₖ/B`, so the gradients summed over the replicas
/// are those of the batch mean, `∇ (1/B) Σᵢ ℓ(xᵢ) = Σₖ (Bₖ/B) ∇ℓₖ` — the serial step's gradient up to
/// the order of float summation. The sum lands in `model`'s gradients; the caller's optimizer
/// then steps `model`, and `synchronizeReplicas()` copies its parameters and buffers into the
/// replicas for the next step.
///
/// Batch normalization (`batchNorm`, the `BatchNorm` layers) takes its statistics over the whole
/// batch: the shards' threads form a `ShardGroup` and all-reduce the per-channel sums, forward and
/// backward (PyTorch's `SyncBatchNorm`), so every replica normalizes with the batch's mean and
/// variance and updates its running averages as the serial step would. What still differs from
/// one network on the whole batch: statistics computed with tensor ops (the book's from-scratch
/// `batch_norm`) see one shard each, and dropout in a replica draws from the replica's own
/// generator. For networks without those, a step equals the serial one within float summation
/// order (`DataParallelTests`: LeNet and BN-LeNet). Whether it is faster than splitting each
/// op over the cores depends on the network: it wins where the ops are too small to split well
/// (LeNet at batch 256); `BENCHMARKS.md` has the measurements.
public final class DataParallel {
    /// The network that holds the summed gradients and that the optimizer steps.
    public let model: any Module
    /// The copies that run shards 1 ..< K.
    public let replicas: [any Module]

    /// `model` and `replicas` (built with the same architecture; their values are overwritten
    /// with `model`'s). Stops when a replica's parameter or buffer keys or shapes differ from
    /// `model`'s.
    public init(model: any Module, replicas: [any Module]) {
        self.model = model
        self.replicas = replicas
        let keys = model.namedTensors().map { "\($0.key) \($0.tensor.shape)" }
        for (index, replica) in replicas.enumerated() {
            let replicaKeys = replica.namedTensors().map { "\($0.key) \($0.tensor.shape)" }
            precondition(
                replicaKeys == keys,
                "DataParallel: replica \(index + 1) has tensors \(replicaKeys.prefix(4))…, the model \(keys.prefix(4))…"
            )
        }
        // The module trees are fixed: walk them once, not on every step.
        modelParameters = model.parameters()
        modelTensors = model.namedTensors().map(\.tensor)
        replicaParameters = replicas.map { $0.parameters() }
        replicaTensors = replicas.map { $0.namedTensors().map(\.tensor) }
        synchronizeReplicas()
    }

    /// `model`'s parameters, and its parameters and buffers, in traversal order.
    private let modelParameters: [Tensor], modelTensors: [Tensor]
    /// The same lists for each replica, in the same order.
    private let replicaParameters: [[Tensor]], replicaTensors: [[Tensor]]

    /// The cores this process may use (its CPU affinity mask): one shard each by default.
    public static var availableCores: Int { coreCount }

    /// `K`, the number of shards: the model and its replicas.
    public var shardCount: Int { replicas.count + 1 }

    /// The rows of shard `k` of a batch of `batchSize`: `⌊k·B/K⌋ ..< ⌊(k+1)·B/K⌋`.
    public func shard(_ k: Int, of batchSize: Int) -> Range<Int> {
        (k * batchSize / shardCount)..<((k + 1) * batchSize / shardCount)
    }

    /// Forward, `loss` and backward of the shards in parallel. `images` `[B, …]`, `labels` `B`
    /// values; `loss(logits, labels)` must be the mean over its shard (`crossEntropy`). Adds the
    /// batch-mean gradient to `model`'s parameters' `grad` (clear them first with the optimizer's
    /// `zeroGrad()`) and returns the batch-mean loss `Σₖ (Bₖ/B) ℓₖ` and the logits `[B, classes]`
    /// (detached, for accuracy). Needs `B ≥ K`.
    public func forwardBackward(
        _ images: Tensor, labels: [Int],
        loss: (Tensor, [Int]) -> Tensor
    ) -> (loss: Float, logits: Tensor) {
        let batch = images.shape[0]
        precondition(
            labels.count == batch, "DataParallel.forwardBackward: \(labels.count) labels for a batch of \(batch)")
        precondition(
            batch >= shardCount, "DataParallel.forwardBackward: a batch of \(batch) cannot feed \(shardCount) shards")
        let modules = [model] + replicas
        for replica in replicas { replica.train(model.isTraining) }
        for parameters in replicaParameters { for parameter in parameters { parameter.zeroGrad() } }
        var losses = [Float](repeating: 0, count: shardCount)
        var logits = [Tensor?](repeating: nil, count: shardCount)
        let group = ShardGroup(count: shardCount)
        SingleThreadedBLASSections.shared.enter()
        losses.withUnsafeMutableBufferPointer { lossSlots in
            logits.withUnsafeMutableBufferPointer { logitSlots in
                let lossBase = lossSlots.baseAddress!, logitBase = logitSlots.baseAddress!
                withoutActuallyEscaping({ (k: Int) in
                    group.run(shard: k) {
                        // This thread is one of the parts that occupy the cores: its loops split no further.
                        PartThread.run {
                            let rows = self.shard(k, of: batch)
                            let shardLabels = Array(labels[rows])
                            let output = modules[k](images.rows(rows))
                            let weighted = loss(output, shardLabels) * (Float(rows.count) / Float(batch))
                            weighted.backward()
                            lossBase[k] = weighted.item
                            logitBase[k] = output.detached()
                        }
                    }
                }) { body in
                    runOnOwnThreads(shardCount, unsafeBitCast(body, to: (@Sendable (Int) -> Void).self))
                }
            }
        }
        SingleThreadedBLASSections.shared.leave()
        // The replicas' gradients into the model's, in shard order.
        for parameters in replicaParameters {
            for (parameter, copy) in zip(modelParameters, parameters) {
                guard let gradient = copy.grad else { continue }
                if let existing = parameter.grad { existing.addInPlace(gradient) } else { parameter.grad = gradient }
            }
        }
        return (losses.reduce(0, +), concatenate(logits.map { $0! }, axis: 0))
    }

    /// Copies `model`'s parameters and buffers into every replica (after the optimizer's step).
    public func synchronizeReplicas() {
        for tensors in replicaTensors {
            for (value, copy) in zip(modelTensors, tensors) where value !== copy {
                withNoGrad { copy.assign(value) }
            }
        }
    }
}

/// Runs `body(0)` on the calling thread and `body(1) … body(count − 1)` each on a thread of its
/// own, started for the call, and returns when all have finished (joined, so nothing holds
/// `body` afterwards). Not a thread pool's `concurrentPerform`: the shards wait for each other at
/// `ShardGroup`'s barriers, so they must all run at once, even with more shards than cores (a
/// pool would queue the third behind two that wait for it). Starting a thread costs tens of
/// microseconds; a step, milliseconds.
private func runOnOwnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Job {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, 16 << 20)
    var threads: [pthread_t] = []
    for index in 1..<max(count, 1) {
        let job = Unmanaged.passRetained(Job { body(index) }).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(
            &thread, &attributes,
            { raw in
                Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, job)
        precondition(status == 0, "DataParallel: cannot start a shard thread (pthread_create: \(status))")
        threads.append(thread)
    }
    if count > 0 { body(0) }
    for thread in threads { pthread_join(thread, nil) }
}
