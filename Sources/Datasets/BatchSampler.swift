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
    public init(count: Int, batchSize: Int, shuffle: Bool, dropLast: Bool = false, using generator: inout RandomGenerator) {
        self.init(count: count, batchSize: batchSize, shuffle: shuffle, seed: generator.next(), dropLast: dropLast)
    }

    /// Batches per epoch: `⌊count / batchSize⌋` with `dropLast`, else `⌈count / batchSize⌉`.
    public var batchCount: Int { dropLast ? count / batchSize : (count + batchSize - 1) / batchSize }

    /// The order in which epoch `epoch` (0-based) visits the examples: a permutation of `0..<count`.
    public func epochOrder(epoch: Int) -> [Int] {
        precondition(epoch >= 0, "BatchSampler.epochOrder: negative epoch \(epoch)")
        guard shuffle else { return Array(0..<count) }
        var generator = RandomGenerator(seed: BatchSampler.mix(seed &+ BatchSampler.mix(UInt64(epoch) &+ 0x632B_E59B_D9B4_E019)))
        return generator.permutation(count)
    }

    /// The example indices of every batch of epoch `epoch`, in order (`batchCount` arrays).
    public func batchIndices(epoch: Int) -> [[Int]] {
        let order = epochOrder(epoch: epoch)
        return (0..<batchCount).map { batch in
            Array(order[(batch * batchSize)..<Swift.min((batch + 1) * batchSize, count)])
        }
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
