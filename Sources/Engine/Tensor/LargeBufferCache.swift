import Foundation

/// The allocator of large buffers (at least `LargeBufferCache.threshold` bytes): tensor values
/// and convolution workspaces.
///
/// A training step frees and allocates the same large buffers every step. Taken from glibc's heap
/// they fragment it: buffers of many sizes freed in one order and asked for in another leave
/// holes no later request fits, and the heap grows to about twice the bytes ever live at once
/// (measured: VGG-11/4's step held 1.5 GiB of tensors in a 3.4 GiB resident set). Mapped and
/// unmapped by the kernel every time, they cost a page fault per 4 KiB on every step (LeNet's
/// step at batch 256 took 94 ms instead of 59, in one run on a loaded machine).
///
/// So each large buffer is its own anonymous mapping, and a freed one is kept for reuse by a later
/// request of exactly its size (a step asks for the same sizes every time, so after the first
/// step nearly every request is met from the cache). A request the cache cannot meet first
/// unmaps cached buffers, oldest first, until as many bytes are returned to the system as it
/// needs, then maps a new buffer. Hence the bytes mapped (live plus cached) never exceed the most
/// bytes ever live at once, the bound the resident set of large buffers stays within.
/// `releaseCached()` returns the whole cache to the system. Thread-safe.
final class LargeBufferCache: @unchecked Sendable {
    /// The cache every tensor and workspace uses.
    static let shared = LargeBufferCache()

    /// Requests of at least this many bytes are served here; smaller ones come from the heap.
    static let threshold = 1 << 20

    /// Bytes of one page; every mapping is a whole number of pages (so 64-byte aligned).
    private static let pageBytes = 4096

    /// The freed buffers, oldest first, behind a lock.
    private final class State {
        var cached: [(bytes: Int, base: UnsafeMutableRawPointer)] = []
        var cachedBytes = 0
        /// Bytes mapped now (in use plus cached), and the most ever mapped at once.
        var mappedBytes = 0
        var peakMappedBytes = 0
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
        enum Outcome { case reused(UnsafeMutableRawPointer), evicted([(bytes: Int, base: UnsafeMutableRawPointer)]) }
        let outcome: Outcome = withLock { state in
            // The newest exact fit: its pages were touched last, so they are the likeliest resident.
            if let index = state.cached.lastIndex(where: { $0.bytes == bytes }) {
                state.cachedBytes -= bytes
                return .reused(state.cached.remove(at: index).base)
            }
            var evicted: [(bytes: Int, base: UnsafeMutableRawPointer)] = []
            var freed = 0
            while freed < bytes, !state.cached.isEmpty {
                let oldest = state.cached.removeFirst()
                state.cachedBytes -= oldest.bytes
                freed += oldest.bytes
                evicted.append(oldest)
            }
            return .evicted(evicted)
        }
        switch outcome {
        case .reused(let base):
            return base
        case .evicted(let evicted):
            for (size, base) in evicted { unmap(base, bytes: size) }
            let base = map(bytes)
            withLock { state in
                state.mappedBytes += bytes - evicted.reduce(0) { $0 + $1.bytes }
                state.peakMappedBytes = max(state.peakMappedBytes, state.mappedBytes)
            }
            return base
        }
    }

    /// Gives back a buffer from `allocate(byteCount:)` with the same `byteCount`, for reuse.
    func deallocate(_ base: UnsafeMutableRawPointer, byteCount: Int) {
        let bytes = roundedToPages(byteCount)
        withLock { state in
            state.cached.append((bytes, base))
            state.cachedBytes += bytes
        }
    }

    /// Bytes of freed buffers kept for reuse.
    var cachedBytes: Int { withLock { $0.cachedBytes } }

    /// The most bytes this cache had mapped at once (buffers in use plus cached ones).
    var peakMappedBytes: Int { withLock { $0.peakMappedBytes } }

    /// Returns every cached buffer to the system (PyTorch's `torch.cuda.empty_cache()` for this
    /// allocator); buffers in use are not affected.
    func releaseCached() {
        let cached = withLock { state in
            defer { state.cached = []; state.cachedBytes = 0 }
            return state.cached
        }
        for (bytes, base) in cached { unmap(base, bytes: bytes) }
        withLock { $0.mappedBytes -= cached.reduce(0) { $0 + $1.bytes } }
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

    private func unmap(_ base: UnsafeMutableRawPointer, bytes: Int) {
        #if canImport(Glibc)
        munmap(base, bytes)
        #else
        base.deallocate()
        #endif
    }
}
