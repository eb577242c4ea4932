import Synchronization

#if canImport(Glibc)
/// glibc's `int mallopt(int param, int value)` (`<malloc.h>`, which the Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// A reference-counted, 64-byte-aligned buffer of `Float32` values: the memory behind one or
/// more `Tensor`s (a reshape or `detached()` shares it).
public final class TensorStorage {
    /// Alignment of every buffer, in bytes: one cache line, and the width of an AVX-512 register.
    public static let alignment = 64

    /// The first element.
    public let base: UnsafeMutablePointer<Float>
    /// Number of `Float` elements.
    public let count: Int

    /// Keeps freed small tensors in the process for reuse instead of returning them to the system
    /// after every op (with glibc's defaults each reallocation was fresh pages to fault in and zero:
    /// about 90 page faults per LeNet step at batch 256). Buffers of at least
    /// `LargeBufferCache.threshold` bytes do not come from the heap at all but from
    /// `LargeBufferCache`, which reuses them by size without fragmenting. Applied once, before the
    /// first allocation.
    private static let reuseFreedMemory: Void = {
        #if canImport(Glibc)
        _ = glibcMallopt(-3, 256 << 20) // M_MMAP_THRESHOLD: other buffers below 256 MiB come from the heap...
        _ = glibcMallopt(-1, 1 << 30) // M_TRIM_THRESHOLD: ...which is not trimmed until 1 GiB is free at its top
        #endif
    }()

    /// Bytes held by live tensor storages now, and the most held at once since the last
    /// `resetPeakLiveBytes()`: the memory the values of tensors need, without the allocator's
    /// retained heap, convolution workspaces or anything else (benchmarks print it beside the
    /// resident set, so the two can be told apart).
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)

    /// Bytes of tensor values alive now (every `TensorStorage` not yet freed).
    public static var liveBytes: Int { live.load(ordering: .relaxed) }

    /// The largest `liveBytes` seen since the process started or the last `resetPeakLiveBytes()`.
    public static var peakLiveBytes: Int { peak.load(ordering: .relaxed) }

    /// Starts a new peak measurement at the current `liveBytes`.
    public static func resetPeakLiveBytes() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }

    private static func track(_ bytes: Int) {
        let now = live.add(bytes, ordering: .relaxed).newValue
        if bytes > 0 { _ = peak.max(now, ordering: .relaxed) }
    }

    /// Allocates `count` uninitialized elements.
    init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        TensorStorage.reuseFreedMemory
        let byteCount = Swift.max(count, 1) * MemoryLayout<Float>.stride
        let raw = allocateBuffer(byteCount: byteCount)
        base = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        self.count = count
        TensorStorage.track(count * MemoryLayout<Float>.stride)
    }

    /// Allocates `count` elements, each set to `value`.
    convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        base.initialize(repeating: value, count: count)
    }

    deinit {
        TensorStorage.track(-count * MemoryLayout<Float>.stride)
        let byteCount = Swift.max(count, 1) * MemoryLayout<Float>.stride
        deallocateBuffer(UnsafeMutableRawPointer(base), byteCount: byteCount)
    }
}
