import Engine

/// Which examples make up each mini-batch of each epoch: the index logic shared by every loader.
///
/// The order of epoch `e` is a pure function of `(seed, e)`: a fresh `RandomGenerator` seeded with
/// a hash of both draws a Fisher–Yates permutation of `0..<count`. A checkpoint therefore only
/// needs `seed`, the epoch number and the index of the next batch to resume an epoch sequence
/// exactly (`batchIndices(epoch:)[batch...]`), and no generator state has to be carried along.
/// Without shuffling the order is `0, 1, …, count − 1` in every epoch.
public struct BatchSampler: Sendable, Equatable {
    /// The number of examples.
    public let count: Int
    /// The largest number of examples per batch.
    public let batchSize: Int
    /// Whether each epoch visits the examples in a new random order (training) or in order (test).
    public let shuffle: Bool
    /// The seed the epoch orders derive from (ignored without shuffling).
    public let seed: UInt64
    /// Whether a last batch smaller than `batchSize` is left out (PyTorch's `drop_last`).
    public let dropLast: Bool

    /// A sampler over `count` examples. Requires `count ≥ 0` and `batchSize ≥ 1`.
    public init(count: Int, batchSize: Int, shuffle: Bool, seed: UInt64 = 0, dropLast: Bool = false) {
        precondition(count >= 0, "BatchSampler: negative example count \(count)")
        precondition(batchSize >= 1, "BatchSampler: batch size must be >= 1, got \(batchSize)")
        self.count = count
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
    }

    /// A sampler whose seed is the next 64 bits of `generator` (which advances by one step).
    public init(
        count: Int, batchSize: Int, shuffle: Bool, dropLast: Bool = false, using generator: inout RandomGenerator
    ) {
        self.init(count: count, batchSize: batchSize, shuffle: shuffle, seed: generator.next(), dropLast: dropLast)
    }

    /// Batches per epoch: `⌊count / batchSize⌋` with `dropLast`, else `⌈count / batchSize⌉`.
    public var batchCount: Int { dropLast ? count / batchSize : (count + batchSize - 1) / batchSize }

    /// The order in which epoch `epoch` (0-based) visits the examples: a permutation of `0..<count`.
    public func epochOrder(epoch: Int) -> [Int] {
        precondition(epoch >= 0, "BatchSampler.epochOrder: negative epoch \(epoch)")
        guard shuffle else { return Array(0..<count) }
        var generator = RandomGenerator(
            seed: BatchSampler.mix(seed &+ BatchSampler.mix(UInt64(epoch) &+ 0x632B_E59B_D9B4_E019)))
        return generator.permutation(count)
    }

    /// The example indices of every batch of epoch `epoch`, in order (`batchCount` arrays).
    public func batchIndices(epoch: Int) -> [[Int]] {
        let order = epochOrder(epoch: epoch)
        return (0..<batchCount).map { batch in
            Array(order[(batch * batchSize)..<Swift.min((batch + 1) * batchSize, count)])
        }
    }

    /// The example indices of each batch of epoch `epoch` that `shard` takes: batch by batch, the
    /// shard's contiguous part of the whole batch (`shard.range(in:)`), so the `shard.count`
    /// shards of a batch are disjoint, together make up the batch, and every shard draws from the
    /// same epoch order. A shard of a batch smaller than `shard.count` may be empty.
    public func batchIndices(epoch: Int, shard: BatchShard) -> [[Int]] {
        let batches = batchIndices(epoch: epoch)
        guard shard.count > 1 else { return batches }
        return batches.map { Array($0[shard.range(in: $0.count)]) }
    }

    /// The SplitMix64 finaliser: a bijective mixing of 64 bits, so nearby (seed, epoch) pairs give
    /// unrelated generator streams.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One of `count` equal parts of every batch: what one process of a data-parallel run trains on
/// (PyTorch's `DistributedSampler`, applied per global batch, so that the global batch, the
/// learning rate and the steps per epoch stay the single-process ones).
public struct BatchShard: Sendable, Equatable {
    /// Which part, `0..<count` (the process's rank).
    public let index: Int
    /// Into how many parts each batch is split (the number of processes).
    public let count: Int

    /// Part `index` of `count` (requires `0 ≤ index < count`).
    public init(index: Int, of count: Int) {
        precondition(count >= 1 && (0..<count).contains(index), "BatchShard: part \(index) of \(count)")
        self.index = index
        self.count = count
    }

    /// The whole batch (one part of one).
    public static let whole = BatchShard(index: 0, of: 1)

    /// The positions of this part in a batch of `batchSize` examples:
    /// `⌊index·n/count⌋ ..< ⌊(index+1)·n/count⌋`, so part sizes differ by at most one.
    public func range(in batchSize: Int) -> Range<Int> {
        (index * batchSize / count)..<((index + 1) * batchSize / count)
    }
}
