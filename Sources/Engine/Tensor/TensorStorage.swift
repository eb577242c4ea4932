/// A reference-counted, 64-byte-aligned buffer of `Float32` values: the memory behind one or
/// more `Tensor`s (a reshape or `detached()` shares it).
public final class TensorStorage {
    /// Alignment of every buffer, in bytes: one cache line, and the width of an AVX-512 register.
    public static let alignment = 64

    /// The first element.
    public let base: UnsafeMutablePointer<Float>
    /// Number of `Float` elements.
    public let count: Int

    /// Allocates `count` uninitialized elements.
    init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
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
