import Foundation
import Synchronization

/// The `K` threads that run one data-parallel step's shards (`DataParallel`), and what they need to
/// compute statistics of the whole batch together: a barrier and an all-reduce of `Double` sums.
/// Batch normalization (`batchNorm`) uses it to take its mean, variance and gradient sums over all
/// shards (PyTorch's `SyncBatchNorm`), so a data-parallel step equals the serial one.
///
/// Every thread of the group must make the same sequence of calls (the replicas run the same
/// network, so they reach the same batch-norm layers in the same order, forward and backward).
final class ShardGroup: @unchecked Sendable {
    /// `K`.
    let count: Int
    /// Threads that have reached the barrier in the current round.
    private let arrived = Atomic<Int>(0)
    /// Rounds completed; a thread waits until it changes.
    private let round = Atomic<Int>(0)
    /// Each thread's operand of the all-reduce in progress, published before the first barrier.
    private let operands: UnsafeMutablePointer<UnsafeMutablePointer<Double>?>

    init(count: Int) {
        precondition(count >= 1, "ShardGroup: count must be >= 1, got \(count)")
        self.count = count
        operands = .allocate(capacity: count)
        operands.initialize(repeating: nil, count: count)
    }

    deinit { operands.deallocate() }

    /// Waits until all `K` threads have called it (a sense-reversing barrier: spins, then yields;
    /// on a machine with a core per shard the wait is the slowest shard's lag).
    func wait() {
        let current = round.load(ordering: .acquiring)
        if arrived.add(1, ordering: .acquiringAndReleasing).newValue == count {
            arrived.store(0, ordering: .relaxed)
            round.store(current + 1, ordering: .releasing)
            return
        }
        var spins = 0
        while round.load(ordering: .acquiring) == current {
            spins += 1
            if spins > 1000 { sched_yield() }
        }
    }

    /// Replaces `values[0 ..< length]` on every thread by the sum over the threads, added in
    /// shard order 0, 1, …, K − 1, so every thread gets the same bits.
    func allReduceSum(_ values: UnsafeMutablePointer<Double>, count length: Int, shard: Int) {
        if count == 1 { return }
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: length)
        defer { sums.deallocate() }
        operands[shard] = values
        wait()
        sums.initialize(repeating: 0, count: length)
        for k in 0..<count {
            let operand = operands[k]!
            for i in 0..<length { sums[i] += operand[i] }
        }
        wait() // every thread has read every operand before any is overwritten
        values.update(from: sums, count: length)
    }

    // MARK: The calling thread's group

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "ShardGroup: pthread_key_create failed (\(status))")
        return key
    }()

    private static let shardKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "ShardGroup: pthread_key_create failed (\(status))")
        return key
    }()

    /// The group and shard index of the calling thread while it runs a shard, else `nil`.
    static var current: (group: ShardGroup, shard: Int)? {
        guard let raw = pthread_getspecific(currentKey) else { return nil }
        let group = Unmanaged<ShardGroup>.fromOpaque(raw).takeUnretainedValue()
        return (group, Int(bitPattern: pthread_getspecific(shardKey)) - 1)
    }

    /// Runs `body` with the calling thread marked as shard `shard` of this group.
    func run<Result>(shard: Int, _ body: () -> Result) -> Result {
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        pthread_setspecific(Self.shardKey, UnsafeRawPointer(bitPattern: shard + 1))
        defer {
            pthread_setspecific(Self.currentKey, nil)
            pthread_setspecific(Self.shardKey, nil)
        }
        return body()
    }
}
