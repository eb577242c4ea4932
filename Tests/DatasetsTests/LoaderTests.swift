import Datasets
import Engine
import TestSupport
import Testing

@Suite("Batch samplers and loaders")
struct LoaderTests {
    /// 10 images of 2×3 whose pixels are `10 i + j` (so every batch says which images it holds).
    static let images = LabeledImageSet(
        pixels: (0..<60).map { UInt8($0 / 6 * 10 + $0 % 6) }, height: 2, width: 3,
        labels: (0..<10).map { ($0 * 3) % 10 })

    @Test("batch counts and sizes with and without drop-last")
    func batchCounts() {
        let keep = BatchSampler(count: 10, batchSize: 4, shuffle: false)
        #expect(keep.batchCount == 3)
        #expect(keep.batchIndices(epoch: 0) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        let drop = BatchSampler(count: 10, batchSize: 4, shuffle: true, seed: 3, dropLast: true)
        #expect(drop.batchCount == 2)
        #expect(drop.batchIndices(epoch: 0).map(\.count) == [4, 4])
        #expect(BatchSampler(count: 8, batchSize: 4, shuffle: false, dropLast: true).batchCount == 2)
        #expect(BatchSampler(count: 0, batchSize: 4, shuffle: true).batchIndices(epoch: 0).isEmpty)
    }

    @Test("shards of a batch (data-parallel): disjoint, contiguous, together the batch, sizes within one")
    func shards() {
        let sampler = BatchSampler(count: 23, batchSize: 8, shuffle: true, seed: 7)
        for processes in 1...5 {
            let parts = (0..<processes).map {
                sampler.batchIndices(epoch: 2, shard: BatchShard(index: $0, of: processes))
            }
            for (batch, whole) in sampler.batchIndices(epoch: 2).enumerated() {
                #expect(parts.flatMap { $0[batch] } == whole, "\(processes) processes, batch \(batch)")
                let sizes = parts.map { $0[batch].count }
                #expect(sizes.max()! - sizes.min()! <= 1, "\(processes) processes, batch \(batch): \(sizes)")
            }
        }
        // The last batch of 7 over 2 processes: 3 and 4; over 8 processes (more than its examples) one is empty.
        #expect(sampler.batchIndices(epoch: 0, shard: BatchShard(index: 0, of: 2)).map(\.count) == [4, 4, 3])
        #expect(sampler.batchIndices(epoch: 0, shard: BatchShard(index: 0, of: 8)).map(\.count) == [1, 1, 0])
        let loader = ImageBatchLoader(dataSet: LoaderTests.images, batchSize: 4, shuffle: true, seed: 1)
        let halves = (0..<2).map { rank in
            Array(loader.batches(epoch: 0, shard: BatchShard(index: rank, of: 2))).map(\.labels)
        }
        let whole = Array(loader.batches(epoch: 0)).map(\.labels)
        #expect(zip(halves[0], halves[1]).map { $0 + $1 } == whole)
    }

    @Test("a batch size of 0 or a negative limit stops with a precondition")
    func preconditions() async {
        await #expect(processExitsWith: .failure) { _ = BatchSampler(count: 3, batchSize: 0, shuffle: false) }
        await #expect(processExitsWith: .failure) {
            _ = ImageBatchLoader(dataSet: LoaderTests.images, batchSize: 2, shuffle: false, limit: -1)
        }
    }

    @Test("shuffling is a permutation, reproducible from the seed, new each epoch")
    func shuffling() {
        let sampler = BatchSampler(count: 100, batchSize: 7, shuffle: true, seed: 42)
        let epoch0 = sampler.epochOrder(epoch: 0), epoch1 = sampler.epochOrder(epoch: 1)
        #expect(epoch0.sorted() == Array(0..<100) && epoch1.sorted() == Array(0..<100))
        #expect(epoch0 != Array(0..<100))
        #expect(epoch0 != epoch1)
        #expect(BatchSampler(count: 100, batchSize: 7, shuffle: true, seed: 42).epochOrder(epoch: 1) == epoch1)
        #expect(BatchSampler(count: 100, batchSize: 7, shuffle: true, seed: 43).epochOrder(epoch: 0) != epoch0)
        #expect(sampler.batchIndices(epoch: 1).flatMap { $0 } == epoch1)
        var generator = RandomGenerator(seed: 5), same = RandomGenerator(seed: 5)
        #expect(
            BatchSampler(count: 20, batchSize: 4, shuffle: true, using: &generator)
                == BatchSampler(count: 20, batchSize: 4, shuffle: true, using: &same))
    }

    @Test("image batches: [B, 1, H, W] in [0, 1], labels, limit, drop-last, resume, transform")
    func imageBatches() {
        let loader = ImageBatchLoader(dataSet: Self.images, batchSize: 4, shuffle: true, seed: 9)
        let batches = Array(loader.batches(epoch: 2))
        #expect(batches.map(\.images.shape) == [[4, 1, 2, 3], [4, 1, 2, 3], [2, 1, 2, 3]])
        let order = loader.sampler.epochOrder(epoch: 2)
        #expect(batches.flatMap(\.labels) == order.map { Self.images.labels[$0] })
        // Image order[4] is the first of batch 1; its pixel (1, 2) is 10·order[4] + 5, divided by 255.
        #expect(batches[1].images[0, 0, 1, 2] == Float(10 * order[4] + 5) / 255)
        #expect(Array(loader.batches(epoch: 2, startBatch: 1)).map(\.labels) == batches.dropFirst().map(\.labels))

        let test = ImageBatchLoader(dataSet: Self.images, batchSize: 3, shuffle: false, dropLast: true, limit: 7)
        #expect(test.count == 7 && test.batchCount == 2)
        #expect(Array(test.batches(epoch: 5)).map(\.labels) == [[0, 3, 6], [9, 2, 5]])
        #expect(Self.images.prefix(3).labels == [0, 3, 6] && Self.images.prefix(3).pixels.count == 18)

        let doubled = ImageBatchLoader(
            dataSet: Self.images, batchSize: 5, shuffle: false,
            transform: { images in images * 2 })
        let first = Array(doubled.batches(epoch: 0))[0]
        #expect(first.images[4, 0, 0, 1] == 2 * Float(41) / 255)
    }

    @Test("resizing per batch, and background prefetching gives the same batches")
    func resizeAndPrefetch() {
        let plain = ImageBatchLoader(dataSet: Self.images, batchSize: 4, shuffle: true, seed: 3)
        let resized = ImageBatchLoader(
            dataSet: Self.images, batchSize: 4, shuffle: true, seed: 3, resize: ImageSize(5, 7))
        #expect(resized.batchImageShape == [4, 1, 5, 7])
        let small = Array(plain.batches(epoch: 1)), large = Array(resized.batches(epoch: 1))
        #expect(large.map(\.images.shape) == [[4, 1, 5, 7], [4, 1, 5, 7], [2, 1, 5, 7]])
        for (a, b) in zip(small, large) {
            #expect(a.labels == b.labels)
            expectClose(
                b.images, resizeBilinear(a.images, height: 5, width: 7), relativeTolerance: 0, absoluteTolerance: 0,
                "resized batch")
        }
        for start in [0, 2, 3] {
            let prefetched = Array(resized.prefetchingBatches(epoch: 1, startBatch: start))
            #expect(prefetched.count == 3 - start)
            for (a, b) in zip(prefetched, large.dropFirst(start)) {
                #expect(a.labels == b.labels && a.images.scalars == b.images.scalars)
            }
        }
        // Abandoning an iteration part-way is fine.
        let iterator = resized.prefetchingBatches(epoch: 0).makeIterator()
        #expect(iterator.next()?.labels == Array(resized.batches(epoch: 0))[0].labels)
    }

    @Test("tensor loader (load_array): rows stay paired, every row once per epoch")
    func tensorLoader() {
        let features = Tensor((0..<20).map(Float.init), shape: [10, 2])
        let targets = Tensor((0..<10).map { Float($0) * 100 }, shape: [10, 1])
        let loader = TensorDataLoader(features: features, targets: targets, batchSize: 3, shuffle: true, seed: 1)
        let batches = Array(loader.batches(epoch: 0))
        #expect(loader.batchCount == 4 && batches.map(\.features.shape) == [[3, 2], [3, 2], [3, 2], [1, 2]])
        var seen: [Int] = []
        for (x, y) in batches {
            for row in 0..<x.shape[0] {
                let index = Int(x[row, 0]) / 2
                #expect(x[row, 1] == Float(2 * index + 1) && y[row, 0] == Float(index) * 100)
                seen.append(index)
            }
        }
        #expect(seen == loader.sampler.epochOrder(epoch: 0))
        #expect(seen.sorted() == Array(0..<10))
    }
}
