import Testing

@testable import Engine

/// When the values of tensors are freed: the graph holds nodes, not results, so an intermediate
/// result lives only while the user or a rule that saved it holds it; backward frees each rule's
/// saved values once the rule has run. Observed with weak references to the storages.
@Suite("Memory release")
struct MemoryReleaseTests {
    private func parameter(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = RandomGenerator(seed: seed)
        let tensor = Tensor.randomNormal(shape, using: &generator)
        tensor.requiresGrad = true
        return tensor
    }

    @Test("a result no rule saved is freed as soon as the user drops it, before backward")
    func unsavedIntermediateIsFreedInForward() {
        let w = parameter([4, 3], seed: 1)
        let x = Tensor.ones([2, 4])
        weak var product: TensorStorage?
        let loss: Tensor
        do {
            let z = matmul(x, w) // relu saves its output, not z; add saves nothing
            product = z.storage
            loss = (z.relu() + Tensor(scalar: 1)).sum()
        }
        #expect(product == nil, "the graph kept the matmul's result alive though no rule reads it")
        loss.backward()
        #expect(w.grad?.shape == [4, 3])
    }

    @Test("the values a rule saved are freed by backward, and kept with retainGraph until the graph goes")
    func savedValuesAreFreedByBackward() {
        let w = parameter([3, 3], seed: 2)
        weak var activation: TensorStorage?
        let loss: Tensor
        do {
            let hidden = matmul(Tensor.ones([2, 3]), w).relu() // saved by relu and by the next matmul
            activation = hidden.storage
            loss = matmul(hidden, w).sum()
        }
        #expect(activation != nil, "the rules need the activation until backward")
        loss.backward(retainGraph: true)
        #expect(activation != nil, "retainGraph keeps the saved values for a second backward")
        loss.backward()
        #expect(activation == nil, "backward released the rules but the activation is still alive")
    }

    @Test("multiplying by a constant saves the constant only, not the input")
    func mulSavesOnlyWhatItsGradientReads() {
        let w = parameter([5], seed: 3)
        weak var input: TensorStorage?
        let loss: Tensor
        do {
            let doubled = w * Tensor(scalar: 2) // a recorded result
            input = doubled.storage
            loss = (doubled * Tensor(scalar: 3)).sum() // ∂/∂doubled reads only the constant 3
        }
        #expect(input == nil)
        loss.backward()
        #expect(w.grad?.scalars == [Float](repeating: 6, count: 5))
    }

    @Test(
        "a freed large buffer is reused for a request of its size or up to half of it; a miss unmaps cached buffers only beyond the bound"
    )
    func largeBufferCacheReusesAndBoundsMapping() {
        // No minimum slack: mapped bytes stay within peak in use · 9/8.
        let cache = LargeBufferCache(minimumSlackBytes: 0)
        let mebibyte = LargeBufferCache.threshold, size = 2 * mebibyte
        let first = cache.allocate(byteCount: size)
        cache.deallocate(first, byteCount: size)
        #expect(cache.cachedBytes == size)
        let second = cache.allocate(byteCount: size)
        #expect(second == first, "an exact fit must be reused")
        #expect(cache.cachedBytes == 0)

        // Two buffers in use set the peak in use at 4 MiB (bound 4.5 MiB); both freed stay cached.
        let third = cache.allocate(byteCount: size)
        cache.deallocate(second, byteCount: size)
        cache.deallocate(third, byteCount: size)
        #expect(cache.cachedBytes == 2 * size)
        // Half the size is served by the newest cached buffer of that size.
        let small = cache.allocate(byteCount: mebibyte)
        #expect(small == third)
        #expect(cache.cachedBytes == size)
        small.storeBytes(of: 1, as: Float.self) // mapped and writable
        // A request of 3 MiB misses (2 MiB is too small): 2 MiB (small) + 3 MiB in use is a new
        // peak of 5 MiB, bound 5.625 MiB, so the cached 2 MiB buffer is unmapped first.
        let larger = cache.allocate(byteCount: 3 * mebibyte)
        #expect(cache.cachedBytes == 0)
        #expect(cache.peakMappedBytes == 5 * mebibyte)
        // A request of less than half a cached buffer misses: 1 MiB does not take the 3 MiB one,
        // and 2 + 1 MiB in use + 3 MiB cached exceeding the bound, the 3 MiB buffer is unmapped.
        cache.deallocate(larger, byteCount: 3 * mebibyte)
        let tiny = cache.allocate(byteCount: mebibyte)
        #expect(tiny != larger)
        #expect(cache.cachedBytes == 0)
        #expect(cache.requestCounts == (hits: 2, misses: 4))
        for (buffer, bytes) in [(tiny, mebibyte), (small, mebibyte)] { cache.deallocate(buffer, byteCount: bytes) }
        cache.releaseCached()
        #expect(cache.cachedBytes == 0)
    }

    @Test("tensors of a large size come from the cache and keep their values")
    func largeTensorsRoundTrip() {
        let count = LargeBufferCache.threshold // 4 MiB of floats
        let tensor = Tensor(shape: [count], repeating: 1.5)
        #expect(Int(bitPattern: tensor.pointer) % TensorStorage.alignment == 0)
        #expect(tensor.scalars.allSatisfy { $0 == 1.5 })
    }
}
