import Engine

/// Mini-batches of an in-memory data set of `(features, targets)` tensor pairs: the book's
/// `load_array` (a `TensorDataset` in a `DataLoader`), used for the synthetic regression sets.
///
///     let loader = TensorDataLoader(features: x, targets: y, batchSize: 10, shuffle: true, seed: 0)
///     for epoch in 0..<3 {
///         for (features, targets) in loader.batches(epoch: epoch) { … }
///     }
public struct TensorDataLoader {
    /// All features, `[N, …]`.
    public let features: Tensor
    /// All targets, `[N, …]` (same N).
    public let targets: Tensor
    /// Which rows form each batch of each epoch.
    public let sampler: BatchSampler

    /// A loader over the rows of `features` `[N, …]` and `targets` `[N, …]`, `batchSize` rows per
    /// batch, shuffled per epoch from `seed` when `shuffle` is set (the book shuffles training
    /// data only), the last partial batch kept unless `dropLast`.
    public init(
        features: Tensor, targets: Tensor, batchSize: Int, shuffle: Bool, seed: UInt64 = 0, dropLast: Bool = false
    ) {
        precondition(
            features.rank >= 1 && targets.rank >= 1 && features.shape[0] == targets.shape[0],
            "TensorDataLoader: features \(features.shape) and targets \(targets.shape) need the same first extent")
        self.features = features
        self.targets = targets
        sampler = BatchSampler(
            count: features.shape[0], batchSize: batchSize, shuffle: shuffle, seed: seed, dropLast: dropLast)
    }

    /// A loader whose shuffling seed is drawn from `generator` (one step).
    public init(
        features: Tensor, targets: Tensor, batchSize: Int, shuffle: Bool, dropLast: Bool = false,
        using generator: inout RandomGenerator
    ) {
        self.init(
            features: features, targets: targets, batchSize: batchSize, shuffle: shuffle,
            seed: generator.next(), dropLast: dropLast)
    }

    /// The number of examples N.
    public var count: Int { sampler.count }

    /// The number of batches per epoch.
    public var batchCount: Int { sampler.batchCount }

    /// The order in which epoch `epoch` visits the examples (`sampler.epochOrder(epoch:)`): a
    /// function of the seed and the epoch only, so a checkpoint resumes with `(sampler.seed,
    /// epoch, next batch)`.
    public func epochOrder(epoch: Int) -> [Int] { sampler.epochOrder(epoch: epoch) }

    /// The batches of epoch `epoch` (0-based), from batch `startBatch` on (to resume an epoch):
    /// `features` `[B, …]` and `targets` `[B, …]` gathered lazily, one batch at a time.
    public func batches(epoch: Int, startBatch: Int = 0) -> some Sequence<(features: Tensor, targets: Tensor)> {
        let indices = sampler.batchIndices(epoch: epoch)
        precondition(
            startBatch >= 0 && startBatch <= indices.count,
            "TensorDataLoader.batches: start batch \(startBatch) out of range 0...\(indices.count)")
        let features = self.features, targets = self.targets
        return indices[startBatch...].lazy.map { rows in
            withNoGrad { (features: features.gatheringRows(rows), targets: targets.gatheringRows(rows)) }
        }
    }
}
