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

    /// Keeps freed tensor memory in the process for reuse instead of returning it to the system
    /// after every op: a training step frees and reallocates the same few large buffers, and with
    /// glibc's defaults each reallocation was fresh pages to fault in and zero (about 90 page
    /// faults per LeNet step at batch 256). Applied once, before the first allocation.
    private static let reuseFreedMemory: Void = {
        #if canImport(Glibc)
        _ = glibcMallopt(-3, 256 << 20)  // M_MMAP_THRESHOLD: buffers below 256 MiB come from the heap...
        _ = glibcMallopt(-1, 1 << 30)    // M_TRIM_THRESHOLD: ...which is not trimmed until 1 GiB is free at its top
        #endif
    }()

    /// Allocates `count` uninitialized elements.
    init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        TensorStorage.reuseFreedMemory
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: TensorStorage.alignment)
        base = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        self.count = count
    }

    /// Allocates `count` elements, each set to `value`.
    convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        base.initialize(repeating: value, count: count)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
