import Dispatch
import Engine

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
        precondition(
            height >= 1 && width >= 1 && pixels.count == labels.count * height * width,
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
        return LabeledImageSet(
            pixels: Array(pixels.prefix(n * height * width)), height: height, width: width,
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
                precondition(
                    index >= 0 && index < count, "LabeledImageSet.images(at:): index \(index) out of range 0..<\(count)"
                )
                let from = source.baseAddress! + index * size, to = output + row * size
                for j in 0..<size { to[j] = Float(from[j]) / 255 }
            }
        }
        return result
    }
}

/// One mini-batch of images: `images` `[B, C, H, W]` and their class `labels` `[B]`.
public typealias ImageBatch = (images: Tensor, labels: [Int])

/// A per-batch change of a `[B, C, H, W]` image tensor (e.g. an augmentation). It runs on the
/// thread that prepares the batch: the caller's, or the background one of
/// `ImageBatchLoader.prefetchingBatches`, hence `@Sendable`.
public typealias ImageTransform = @Sendable (Tensor) -> Tensor

/// The height and width to resize images to (`resize=224` in the book is `ImageSize(224, 224)`).
public struct ImageSize: Sendable, Equatable {
    /// Rows of pixels.
    public let height: Int
    /// Columns of pixels.
    public let width: Int

    /// A size of `height × width` pixels (both ≥ 1).
    public init(_ height: Int, _ width: Int) {
        precondition(height >= 1 && width >= 1, "ImageSize: \(height)×\(width) must be positive")
        self.height = height
        self.width = width
    }
}

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
    /// The size every batch is resized to (bilinear, `resizeBilinear`), if set.
    public let resize: ImageSize?
    /// Applied to every batch's `[B, 1, H, W]` tensor after conversion to [0, 1] and resizing, if set.
    public let transform: ImageTransform?

    /// A loader of `batchSize` images per batch from the first `limit` images of `dataSet` (all by
    /// default), shuffled per epoch from `seed` when `shuffle` is set, the last partial batch kept
    /// unless `dropLast`, each batch resized to `resize` and passed through `transform` when given
    /// (per batch: the resized set never exists as a whole).
    public init(
        dataSet: LabeledImageSet, batchSize: Int, shuffle: Bool, seed: UInt64 = 0, dropLast: Bool = false,
        limit: Int? = nil, resize: ImageSize? = nil, transform: ImageTransform? = nil
    ) {
        precondition(limit.map { $0 >= 0 } ?? true, "ImageBatchLoader: negative limit \(limit!)")
        self.dataSet = dataSet
        sampler = BatchSampler(
            count: Swift.min(limit ?? dataSet.count, dataSet.count), batchSize: batchSize,
            shuffle: shuffle, seed: seed, dropLast: dropLast)
        self.resize = resize
        self.transform = transform
    }

    /// The shape of the image tensor of a full batch: `[batchSize, 1, H, W]` (after resizing).
    public var batchImageShape: [Int] {
        [sampler.batchSize, 1, resize?.height ?? dataSet.height, resize?.width ?? dataSet.width]
    }

    /// The number of images used per epoch.
    public var count: Int { sampler.count }

    /// The number of batches per epoch.
    public var batchCount: Int { sampler.batchCount }

    /// The order in which epoch `epoch` visits the examples (`sampler.epochOrder(epoch:)`): a
    /// function of the seed and the epoch only, so a checkpoint resumes with `(sampler.seed,
    /// epoch, next batch)`.
    public func epochOrder(epoch: Int) -> [Int] { sampler.epochOrder(epoch: epoch) }

    /// The batch of the images at `indices`: converted to [0, 1], resized, then transformed.
    public func batch(_ indices: [Int]) -> ImageBatch {
        var images = dataSet.images(at: indices)
        if let resize, !indices.isEmpty, resize.height != dataSet.height || resize.width != dataSet.width {
            images = resizeBilinear(images, height: resize.height, width: resize.width)
        }
        return (images: transform.map { $0(images) } ?? images, labels: indices.map { dataSet.labels[$0] })
    }

    /// The batches of epoch `epoch` (0-based), from batch `startBatch` on (to resume an epoch),
    /// each prepared on the caller's thread when the iteration reaches it; with a `shard`, only
    /// that part of each batch (`BatchSampler.batchIndices(epoch:shard:)`).
    public func batches(epoch: Int, startBatch: Int = 0, shard: BatchShard = .whole) -> some Sequence<ImageBatch> {
        let indices = sampler.batchIndices(epoch: epoch, shard: shard)
        precondition(
            startBatch >= 0 && startBatch <= indices.count,
            "ImageBatchLoader.batches: start batch \(startBatch) out of range 0...\(indices.count)")
        let loader = self
        return indices[startBatch...].lazy.map { loader.batch($0) }
    }
}

// MARK: - Preparing the next batch in the background

extension ImageBatchLoader {
    /// The same batches as `batches(epoch:startBatch:)`, but batch k + 1 is prepared (converted,
    /// resized, transformed) on one background thread while the caller works on batch k.
    ///
    /// Worth it when preparing a batch is slow compared with a training step's non-BLAS part (a
    /// resize to 224×224); the background thread does compete with OpenBLAS's threads for the
    /// cores. Each batch is made by exactly one thread and handed over complete (a semaphore
    /// orders the write before the read), so no tensor is ever shared between running threads.
    /// Stopping the iteration early just lets the last prepared batch go.
    /// With a `shard`, only that part of each batch, as `batches(epoch:startBatch:shard:)`.
    public func prefetchingBatches(
        epoch: Int, startBatch: Int = 0, shard: BatchShard = .whole
    ) -> PrefetchingImageBatches {
        let indices = sampler.batchIndices(epoch: epoch, shard: shard)
        precondition(
            startBatch >= 0 && startBatch <= indices.count,
            "ImageBatchLoader.prefetchingBatches: start batch \(startBatch) out of range 0...\(indices.count)")
        return PrefetchingImageBatches(loader: self, batches: Array(indices[startBatch...]))
    }
}

/// The batches of one epoch, each prepared one step ahead on a background queue
/// (see `ImageBatchLoader.prefetchingBatches`).
public struct PrefetchingImageBatches: Sequence {
    let loader: ImageBatchLoader
    let batches: [[Int]]

    /// A new pass over the batches, which starts preparing the first one right away.
    public func makeIterator() -> Iterator { Iterator(loader: loader, batches: batches) }

    /// Hands out batch k after starting the preparation of batch k + 1.
    public final class Iterator: IteratorProtocol {
        /// One batch, written by the background queue before it signals `ready`, read after.
        private final class Slot: @unchecked Sendable {
            var batch: ImageBatch?
            let ready = DispatchSemaphore(value: 0)
        }

        private let loader: ImageBatchLoader
        private let batches: [[Int]]
        private var nextIndex = 0
        private var pending: Slot?
        private let queue = DispatchQueue(label: "d2l.ImageBatchLoader.prefetch")

        init(loader: ImageBatchLoader, batches: [[Int]]) {
            self.loader = loader
            self.batches = batches
            pending = prepare(0)
        }

        private func prepare(_ index: Int) -> Slot? {
            guard index < batches.count else { return nil }
            let slot = Slot(), loader = self.loader, indices = batches[index]
            queue.async {
                slot.batch = loader.batch(indices)
                slot.ready.signal()
            }
            return slot
        }

        /// The next batch (waiting for it if the background queue is not done), or `nil` at the end.
        public func next() -> ImageBatch? {
            guard let slot = pending else { return nil }
            slot.ready.wait()
            nextIndex += 1
            pending = prepare(nextIndex)
            let batch = slot.batch
            slot.batch = nil
            return batch
        }
    }
}
