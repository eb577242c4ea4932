import Datasets
import Foundation
import Testing

@testable import Engine
@testable import Training

/// `Trainer` with a `ProcessGroup`, without MPI: K ranks as K threads of this process, whose
/// collective operations go through shared memory (`ThreadRank`). The same semantics as over
/// MPI (Tests/CLITests/DataParallelTests.swift runs those under `mpirun`), testable everywhere.

/// The meeting point of the threads that play the ranks.
private final class ThreadHub: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var arrived = 0, generation = 0
    private var slots: [Any]

    init(size: Int) {
        self.size = size
        slots = Array(repeating: 0, count: size)
    }

    /// Waits until every rank has called it.
    func barrier() {
        condition.lock()
        let current = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while current == generation { condition.wait() }
        }
        condition.unlock()
    }

    /// Every rank's copy of `buffer`, by rank.
    func exchange<Element>(rank: Int, _ buffer: UnsafeMutableBufferPointer<Element>) -> [[Element]] {
        condition.lock()
        slots[rank] = Array(buffer)
        condition.unlock()
        barrier()
        condition.lock()
        let all = slots.map { $0 as! [Element] }
        condition.unlock()
        barrier() // nobody overwrites its slot before everyone has read
        return all
    }
}

/// One rank of a `ThreadHub`: sums in rank order, as a deterministic all-reduce would.
private final class ThreadRank: ProcessGroup {
    let rank: Int
    let hub: ThreadHub
    var size: Int { hub.size }

    init(rank: Int, hub: ThreadHub) {
        self.rank = rank
        self.hub = hub
    }

    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int) {
        let all = hub.exchange(rank: rank, buffer)
        for index in buffer.indices { buffer[index] = all[root][index] }
    }

    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        let all = hub.exchange(rank: rank, buffer)
        for index in buffer.indices { buffer[index] = all.dropFirst().reduce(all[0][index]) { $0 + $1[index] } }
    }

    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        let all = hub.exchange(rank: rank, buffer)
        for index in buffer.indices { buffer[index] = all.dropFirst().reduce(all[0][index]) { $0 + $1[index] } }
    }

    func allReduceExtreme(_ buffer: UnsafeMutableBufferPointer<UInt64>, maximum: Bool) {
        let all = hub.exchange(rank: rank, buffer)
        for index in buffer.indices {
            buffer[index] = maximum ? all.map { $0[index] }.max()! : all.map { $0[index] }.min()!
        }
    }
}

/// What one rank's run gave: the record and the final weights, or the error it stopped with.
private final class RankResult: @unchecked Sendable {
    var record: TrainingRecord?
    var weights: [String: [Float]] = [:]
    var error: (any Error)?
}

/// 96 random 6×6 images in 3 classes; the class brightens one third of the image.
private func makeImages(seed: UInt64) -> LabeledImageSet {
    var generator = RandomGenerator(seed: seed)
    var pixels: [UInt8] = [], labels: [Int] = []
    for index in 0..<96 {
        labels.append(index % 3)
        for position in 0..<36 {
            pixels.append(UInt8(min(255, (position / 12 == index % 3 ? 120 : 0) + generator.nextInt(below: 120))))
        }
    }
    return LabeledImageSet(pixels: pixels, height: 6, width: 6, labels: labels)
}

/// Trains Flatten → Linear(36, 16) → ReLU → Linear(16, 3) (no dropout, no batch norm) with SGD and
/// momentum, global batch `batch`, for `epochs` epochs; `group` makes it one rank of a run.
private func train(
    group: (any ProcessGroup)?, batch: Int, epochs: Int, learningRate: Float = 0.1,
    trainSeed: UInt64 = 5, initializationSeed: UInt64 = 99
) -> RankResult {
    let result = RankResult()
    var generator = RandomGenerator(seed: initializationSeed)
    let model = Sequential(
        Flatten(), Linear(inputFeatures: 36, outputFeatures: 16, using: &generator), ReLU(),
        Linear(inputFeatures: 16, outputFeatures: 3, using: &generator))
    let trainer = Trainer(
        model: model, optimizer: SGD(model, learningRate: learningRate, momentum: 0.9),
        train: ImageBatchLoader(dataSet: makeImages(seed: 1), batchSize: batch, shuffle: true, seed: trainSeed),
        test: ImageBatchLoader(dataSet: makeImages(seed: 2), batchSize: 32, shuffle: false))
    trainer.write = { _ in }
    trainer.progress = .quiet
    trainer.processGroup = group
    do {
        result.record = try trainer.fit(epochs: epochs)
        for named in model.namedTensors() { result.weights[named.key] = named.tensor.scalars }
    } catch {
        result.error = error
    }
    return result
}

/// Runs `body(rank)` on `size` threads at once (each rank must run while the others wait in a
/// collective operation, so not on a pool that might run them one after another).
private func onThreads(_ size: Int, _ body: @escaping @Sendable (Int) -> RankResult) -> [RankResult] {
    let results = (0..<size).map { _ in RankResult() }
    let done = DispatchSemaphore(value: 0)
    for rank in 0..<size {
        let thread = Thread {
            let result = body(rank)
            results[rank].record = result.record
            results[rank].weights = result.weights
            results[rank].error = result.error
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    for _ in 0..<size { done.wait() }
    return results
}

@Suite("Data-parallel training loop (ranks as threads)")
struct DataParallelTrainerTests {
    @Test("2 and 3 ranks train the weights and metrics of 1 process with the same global batch, equal on every rank")
    func ranksEqualOneProcess() throws {
        let single = train(group: nil, batch: 16, epochs: 3)
        let reference = try #require(single.record)
        for size in [2, 3] { // 16 = 8 + 8 and 5 + 5 + 6: equal and unequal shards
            let hub = ThreadHub(size: size)
            let ranks = onThreads(size) { rank in train(group: ThreadRank(rank: rank, hub: hub), batch: 16, epochs: 3) }
            for (rank, result) in ranks.enumerated() {
                #expect(result.error == nil, "rank \(rank) of \(size): \(String(describing: result.error))")
                // Every rank applies the same reduced gradient to the same weights: bit for bit equal.
                #expect(result.weights == ranks[0].weights, "rank \(rank) of \(size) has other weights than rank 0")
            }
            // Against one process: the gradient sums run in another order (per shard, then across
            // ranks) and the shard weights 5/16, 6/16 round; 18 steps of a small MLP keep that at
            // float32 rounding (measured ≤ 3e-7 of the largest weight, 2 and 3 ranks, Zen).
            for (key, expected) in single.weights.sorted(by: { $0.key < $1.key }) {
                let actual = try #require(ranks[0].weights[key])
                let scale = expected.map { abs($0) }.max()!
                let difference = zip(actual, expected).map { abs($0 - $1) }.max()!
                #expect(
                    difference <= 1e-5 * scale,
                    "\(size) ranks, \(key): differs by \(difference) (largest weight \(scale))")
            }
            let record = try #require(ranks[0].record)
            for (ours, theirs) in zip(record.epochs, reference.epochs) {
                #expect(
                    abs(ours.loss - theirs.loss) <= 1e-5 * theirs.loss,
                    "\(size) ranks, epoch \(ours.epoch): loss \(ours.loss) vs \(theirs.loss)")
                #expect(
                    abs(ours.trainAccuracy - theirs.trainAccuracy) <= 1.0 / 96, "\(size) ranks, epoch \(ours.epoch)")
                #expect(abs(ours.testAccuracy - theirs.testAccuracy) <= 1.0 / 96, "\(size) ranks, epoch \(ours.epoch)")
            }
            #expect(record.blas["processes"] == String(size))
        }
    }

    @Test("ranks with another data order or other initial weights: the order is refused, the weights are rank 0's")
    func mismatchAndBroadcast() throws {
        let hub = ThreadHub(size: 2)
        let refused = onThreads(2) { rank in
            train(group: ThreadRank(rank: rank, hub: hub), batch: 16, epochs: 1, trainSeed: 5 + UInt64(rank))
        }
        for result in refused {
            guard case .mismatch(let processes, let differences)? = result.error as? DataParallelError else {
                Issue.record("expected a mismatch, got \(String(describing: result.error))")
                continue
            }
            #expect(processes == 2 && differences == ["training data"])
        }
        // Other initial weights are no mismatch (only rank 0's count): rank 0's are broadcast.
        let single = train(group: nil, batch: 16, epochs: 1)
        let broadcastHub = ThreadHub(size: 2)
        let ranks = onThreads(2) { rank in
            train(
                group: ThreadRank(rank: rank, hub: broadcastHub), batch: 16, epochs: 1,
                initializationSeed: 99 + UInt64(rank))
        }
        #expect(ranks[0].error == nil && ranks[1].error == nil)
        #expect(ranks[1].weights == ranks[0].weights)
        for (key, expected) in single.weights {
            let difference = zip(try #require(ranks[1].weights[key]), expected).map { abs($0 - $1) }.max()!
            #expect(difference <= 1e-5 * expected.map { abs($0) }.max()!, "\(key)")
        }
    }

    @Test("a non-finite loss stops every rank before the update, naming the rank")
    func divergence() {
        let hub = ThreadHub(size: 2)
        let ranks = onThreads(2) { rank in
            train(group: ThreadRank(rank: rank, hub: hub), batch: 16, epochs: 1, learningRate: 3e38)
        }
        for result in ranks {
            guard
                case .diverged(let rank, .diverged(let epoch, _, let loss, _, _))? = result.error as? DataParallelError
            else {
                Issue.record("expected divergence, got \(String(describing: result.error))")
                continue
            }
            #expect(rank == 0 && epoch == 1 && !loss.isFinite)
        }
    }
}
