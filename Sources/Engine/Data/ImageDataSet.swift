/// Labelled grey-scale images kept as raw bytes, and the loader that turns them into mini-batches
/// of `Float` tensors one batch at a time (like torchvision's `ToTensor()` applied per item).

/// `N` grey-scale images of `H × W` pixels with one class label each, stored as the raw `UInt8`
/// pixels of the IDX files (60 000 × 784 bytes for Fashion-MNIST's training set): converting
/// and resizing happen per batch, so the whole `Float` (or 224×224 resized) set never exists.
public struct LabeledImageSet: Sendable, Equatable {
    /// The pixels, row-major `[N, H, W]`, 0 (black) to 255.
    public let pixels: [UInt8]
    /// The class of each image, `[N]`.
    public let labels: [Int]
    /// Image height H.
    public let height: Int
    /// Image width W.
    public let width: Int

    /// Images of `height × width` from `pixels` `[N, H, W]` with `labels` `[N]`; the sizes must match.
    public init(pixels: [UInt8], height: Int, width: Int, labels: [Int]) {
        precondition(height >= 1 && width >= 1 && pixels.count == labels.count * height * width,
                     "LabeledImageSet: \(pixels.count) pixels do not make \(labels.count) images of \(height)×\(width)")
        self.pixels = pixels
        self.height = height
        self.width = width
        self.labels = labels
    }

    /// The number of images N.
    public var count: Int { labels.count }

    /// The first `limit` images (all of them when `limit ≥ count`), e.g. for quick runs.
    public func prefix(_ limit: Int) -> LabeledImageSet {
        precondition(limit >= 0, "LabeledImageSet.prefix: negative limit \(limit)")
        let n = Swift.min(limit, count)
        return LabeledImageSet(pixels: Array(pixels.prefix(n * height * width)), height: height, width: width,
                               labels: Array(labels.prefix(n)))
    }

    /// The images at `indices` as a `[B, 1, H, W]` tensor with values `pixel / 255` in [0, 1]
    /// (torchvision's `ToTensor()`), B = `indices.count`.
    public func images(at indices: [Int]) -> Tensor {
        let size = height * width
        let result = Tensor(shape: [indices.count, 1, height, width], repeating: 0)
        let output = result.pointer
        pixels.withUnsafeBufferPointer { source in
            for (row, index) in indices.enumerated() {
                precondition(index >= 0 && index < count, "LabeledImageSet.images(at:): index \(index) out of range 0..<\(count)")
                let from = source.baseAddress! + index * size, to = output + row * size
                for j in 0..<size { to[j] = Float(from[j]) / 255 }
            }
        }
        return result
    }
}

/// One mini-batch of images: `images` `[B, C, H, W]` and their class `labels` `[B]`.
public typealias ImageBatch = (images: Tensor, labels: [Int])

/// A per-batch change of a `[B, C, H, W]` image tensor, e.g. resizing to 224×224 for AlexNet.
/// It runs on the thread that asks for the batch (see `ImageBatchLoader.prefetchingBatches`).
public typealias ImageTransform = @Sendable (Tensor) -> Tensor

/// Mini-batches of a `LabeledImageSet`: the loaders of the book's `load_data_fashion_mnist`.
///
/// Each batch is converted from bytes (and transformed, e.g. resized) when it is asked for.
/// Epoch orders come from `sampler` (a pure function of seed and epoch), so a run resumes exactly
/// from `(sampler.seed, epoch, next batch)`.
///
///     let train = ImageBatchLoader(dataSet: mnist.train, batchSize: 256, shuffle: true, seed: 1)
///     for epoch in 0..<10 {
///         for (images, labels) in train.batches(epoch: epoch) { … }  // images [256, 1, 28, 28]
///     }
public struct ImageBatchLoader: Sendable {
    /// The images, all of them (the loader uses the first `sampler.count`).
    public let dataSet: LabeledImageSet
    /// Which images form each batch of each epoch.
    public let sampler: BatchSampler
    /// Applied to every batch's `[B, 1, H, W]` tensor after conversion to [0, 1], if set.
    public let transform: ImageTransform?

    /// A loader of `batchSize` images per batch from the first `limit` images of `dataSet` (all by
    /// default), shuffled per epoch from `seed` when `shuffle` is set, the last partial batch kept
    /// unless `dropLast`, each batch passed through `transform` when given.
    public init(dataSet: LabeledImageSet, batchSize: Int, shuffle: Bool, seed: UInt64 = 0, dropLast: Bool = false,
                limit: Int? = nil, transform: ImageTransform? = nil) {
        precondition(limit.map { $0 >= 0 } ?? true, "ImageBatchLoader: negative limit \(limit!)")
        self.dataSet = dataSet
        sampler = BatchSampler(count: Swift.min(limit ?? dataSet.count, dataSet.count), batchSize: batchSize,
                               shuffle: shuffle, seed: seed, dropLast: dropLast)
        self.transform = transform
    }

    /// The number of images used per epoch.
    public var count: Int { sampler.count }

    /// The number of batches per epoch.
    public var batchCount: Int { sampler.batchCount }

    /// The batch of the images at `indices`: converted to [0, 1], then transformed.
    public func batch(_ indices: [Int]) -> ImageBatch {
        let images = dataSet.images(at: indices)
        return (images: transform.map { $0(images) } ?? images, labels: indices.map { dataSet.labels[$0] })
    }

    /// The batches of epoch `epoch` (0-based), from batch `startBatch` on (to resume an epoch),
    /// each prepared on the caller's thread when the iteration reaches it.
    public func batches(epoch: Int, startBatch: Int = 0) -> some Sequence<ImageBatch> {
        let indices = sampler.batchIndices(epoch: epoch)
        precondition(startBatch >= 0 && startBatch <= indices.count,
                     "ImageBatchLoader.batches: start batch \(startBatch) out of range 0...\(indices.count)")
        let loader = self
        return indices[startBatch...].lazy.map { loader.batch($0) }
    }
}
