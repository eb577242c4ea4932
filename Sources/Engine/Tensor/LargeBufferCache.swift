import Foundation

/// The allocator of large buffers (at least `LargeBufferCache.threshold` bytes): tensor values
/// and convolution workspaces.
///
/// A training step frees and allocates the same large buffers every step. Taken from glibc's heap
/// they fragment it: buffers of many sizes freed in one order and asked for in another leave
/// holes no later request fits, and the heap grows to about twice the bytes ever live at once
/// (measured: VGG-11/4's step held 1.5 GiB of tensors in a 3.4 GiB resident set). Mapped and
/// unmapped by the kernel every time, they cost a page fault per 4 KiB of every buffer on every
/// step.
///
/// So each large buffer is its own anonymous mapping, and a freed one is kept for reuse by a later
/// request of its size, or of up to twice less (a step asks for the same sizes every time, so after
/// the first step most requests are met from the cache). A request the cache cannot meet maps a new
/// buffer, after unmapping cached buffers, oldest first, as far as needed to keep the bytes mapped
/// (in use plus cached) within the most bytes ever in use at once plus a slack
/// (`minimumSlackBytes`): the bound the resident set of large buffers stays within. `releaseCached()` returns the whole cache to the system.
/// Thread-safe.
final class LargeBufferCache: @unchecked Sendable {
    /// The cache every tensor and workspace uses.
    static let shared = LargeBufferCache()

    /// Requests of at least this many bytes are served here; smaller ones come from the heap.
    static let threshold = 1 << 20

    /// The bytes mapped may exceed the most bytes ever in use by this much or an eighth of that
    /// peak, whichever is more. Without slack every request is met only if the cache holds, at each
    /// moment, exactly the sizes the step asks for next; a step needs different mixes of sizes at
    /// different times (three buffers of a layer's output size in backward, one in forward), and a
    /// cache capped at the peak itself evicted and re-mapped 7 of LeNet's 10 large requests per step.
    let minimumSlackBytes: Int

    /// A cache whose mapped bytes stay within the peak in use plus `max(minimumSlackBytes, peak/8)`.
    init(minimumSlackBytes: Int = 64 << 20) {
        self.minimumSlackBytes = minimumSlackBytes
    }

    /// Bytes of one page; every mapping is a whole number of pages (so 64-byte aligned).
    private static let pageBytes = 4096

    private typealias Buffer = (bytes: Int, base: UnsafeMutableRawPointer)

    /// The freed buffers (oldest first) and the byte counts, behind `lock`.
    private final class State {
        var cached: [Buffer] = []
        var cachedBytes = 0
        /// The mapped size of each buffer in use (a request may get a larger cached buffer).
        var inUse: [UnsafeMutableRawPointer: Int] = [:]
        /// Bytes of buffers in use now, and the most in use at once so far.
        var inUseBytes = 0
        var peakInUseBytes = 0
        /// The most bytes mapped at once (in use plus cached).
        var peakMappedBytes = 0
        /// Requests met from the cache, and requests that mapped a new buffer.
        var hits = 0
        var misses = 0
    }
    private let lock = NSLock()
    private let state = State()

    private func withLock<Result>(_ body: (State) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(state)
    }

    deinit { releaseCached() }

    /// A buffer of at least `byteCount` bytes (`byteCount ≥ threshold`), page-aligned; its
    /// contents are unspecified (a reused buffer keeps its old values).
    func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let bytes = roundedToPages(byteCount)
        var reused: UnsafeMutableRawPointer?
        let evicted: [Buffer] = withLock { state in
            // The smallest cached buffer of at least `bytes` and at most twice that, the newest
            // among equals (its pages were touched last). A larger buffer costs no resident memory
            // (its pages are mapped already) and spares mapping and faulting in a new one.
            var best: Int?
            for index in state.cached.indices.reversed() {
                let size = state.cached[index].bytes
                if size >= bytes, size <= 2 * bytes, best.map({ size < state.cached[$0].bytes }) ?? true {
                    best = index
                    if size == bytes { break }
                }
            }
            if let best {
                let buffer = state.cached.remove(at: best)
                state.cachedBytes -= buffer.bytes
                state.inUseBytes += buffer.bytes
                state.inUse[buffer.base] = buffer.bytes
                state.hits += 1
                reused = buffer.base
                return []
            }
            state.misses += 1
            state.inUseBytes += bytes
            state.peakInUseBytes = max(state.peakInUseBytes, state.inUseBytes)
            var evicted: [Buffer] = []
            let budget = state.peakInUseBytes + max(minimumSlackBytes, state.peakInUseBytes / 8)
            while state.inUseBytes + state.cachedBytes > budget, !state.cached.isEmpty {
                let oldest = state.cached.removeFirst()
                state.cachedBytes -= oldest.bytes
                evicted.append(oldest)
            }
            state.peakMappedBytes = max(state.peakMappedBytes, state.inUseBytes + state.cachedBytes)
            return evicted
        }
        if let reused { return reused }
        for buffer in evicted { unmap(buffer) }
        let base = map(bytes)
        withLock { $0.inUse[base] = bytes }
        return base
    }

    /// Gives back a buffer from `allocate(byteCount:)` (with the `byteCount` it was asked for),
    /// for reuse.
    func deallocate(_ base: UnsafeMutableRawPointer, byteCount: Int) {
        withLock { state in
            let bytes = state.inUse.removeValue(forKey: base) ?? roundedToPages(byteCount)
            state.inUseBytes -= bytes
            state.cached.append((bytes, base))
            state.cachedBytes += bytes
        }
    }

    /// Bytes of freed buffers kept for reuse.
    var cachedBytes: Int { withLock { $0.cachedBytes } }

    /// How many requests were met from the cache, and how many mapped a new buffer.
    var requestCounts: (hits: Int, misses: Int) { withLock { ($0.hits, $0.misses) } }

    /// The most bytes this cache had mapped at once (buffers in use plus cached ones).
    var peakMappedBytes: Int { withLock { $0.peakMappedBytes } }

    /// Returns every cached buffer to the system (what `torch.cuda.empty_cache()` does for
    /// PyTorch's GPU allocator); buffers in use are not affected.
    func releaseCached() {
        let cached = withLock { state in
            defer {
                state.cached = []
                state.cachedBytes = 0
            }
            return state.cached
        }
        for buffer in cached { unmap(buffer) }
    }

    private func roundedToPages(_ byteCount: Int) -> Int {
        (byteCount + Self.pageBytes - 1) / Self.pageBytes * Self.pageBytes
    }

    private func map(_ bytes: Int) -> UnsafeMutableRawPointer {
        #if canImport(Glibc)
        let base = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let base, base != MAP_FAILED else {
            fatalError("LargeBufferCache: cannot map \(bytes) bytes (out of memory?)")
        }
        return base
        #else
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.pageBytes)
        #endif
    }

    private func unmap(_ buffer: Buffer) {
        #if canImport(Glibc)
        munmap(buffer.base, buffer.bytes)
        #else
        buffer.base.deallocate()
        #endif
    }
}

/// A buffer of `count` values of a trivial type that a backward rule saves (max pooling's argmax,
/// ReLU's sign bits), freed with the rule. Large ones come from `LargeBufferCache`, like tensor
/// values, so they neither fragment the heap nor are faulted in afresh every step.
final class SavedBuffer<Element> {
    /// The first element (uninitialized until the forward pass writes it).
    let base: UnsafeMutablePointer<Element>
    private let byteCount: Int

    init(count: Int) {
        byteCount = Swift.max(count, 1) * MemoryLayout<Element>.stride
        base = allocateBuffer(byteCount: byteCount).bindMemory(to: Element.self, capacity: Swift.max(count, 1))
    }

    deinit { deallocateBuffer(UnsafeMutableRawPointer(base), byteCount: byteCount) }
}

/// `byteCount` bytes aligned to `TensorStorage.alignment`, uninitialized: from
/// `LargeBufferCache.shared` when `byteCount ≥ LargeBufferCache.threshold`, else from the heap.
/// The one allocation path of tensor values, workspaces and saved buffers.
func allocateBuffer(byteCount: Int) -> UnsafeMutableRawPointer {
    byteCount >= LargeBufferCache.threshold
        ? LargeBufferCache.shared.allocate(byteCount: byteCount)
        : UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: TensorStorage.alignment)
}

/// Frees a buffer from `allocateBuffer(byteCount:)`, given the same `byteCount`.
func deallocateBuffer(_ base: UnsafeMutableRawPointer, byteCount: Int) {
    if byteCount >= LargeBufferCache.threshold {
        LargeBufferCache.shared.deallocate(base, byteCount: byteCount)
    } else {
        base.deallocate()
    }
}
