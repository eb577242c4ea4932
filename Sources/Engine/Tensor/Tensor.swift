/// An n-dimensional array of `Float32` values, row-major and contiguous, that can take part in
/// reverse-mode automatic differentiation.
///
/// `Tensor` is a class (reference semantics), like `torch.Tensor`: a parameter is one object that
/// the network, the optimizer and the tape all point to, its `grad` accumulates across uses, and
/// sharing a layer shares its weights. Values are never changed behind the tape's back: ops
/// return new tensors, and the in-place methods (`addInPlace`, …) are for optimizers and run
/// outside of recorded computations. See `ARCHITECTURE.md` for the reasons.
///
/// Shapes are `[Int]`; a scalar has shape `[]` and one element. Images are `[N, C, H, W]`.
public final class Tensor {
    /// The extent of each dimension, outermost first.
    public let shape: [Int]
    /// The number of elements, the product of `shape`.
    public let count: Int
    /// The memory holding the values (shared by reshapes and `detached()` copies). Package-only:
    /// writing through it would bypass the in-place check (`allowsInPlaceChanges`).
    package let storage: TensorStorage

    /// Whether gradients with respect to this tensor are computed by `backward()`.
    /// Set it on leaves (parameters, inputs); results of ops on such tensors get it automatically.
    public var requiresGrad: Bool {
        didSet {
            precondition(
                requiresGrad || gradientNode == nil,
                "requiresGrad: cannot turn off on a non-leaf result of '\(gradientNode?.operation ?? "")'; use detached()"
            )
        }
    }

    /// The accumulated gradient `∂loss/∂self` (same shape), after `backward()`; `nil` until then
    /// and after `zeroGrad()`. Only leaves keep gradients, as in PyTorch.
    public package(set) var grad: Tensor?

    /// The recorded operation that produced this tensor, if it was produced while recording.
    var gradientNode: GradientNode?

    /// Wraps existing storage. `shape` must describe exactly `storage.count` elements.
    init(shape: [Int], storage: TensorStorage, requiresGrad: Bool = false) {
        let count = Tensor.elementCount(shape, operation: "Tensor")
        precondition(
            count == storage.count, "Tensor: shape \(shape) needs \(count) elements, storage has \(storage.count)")
        self.shape = shape
        self.count = count
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A tensor of the given shape with uninitialized values, for kernels to fill.
    init(uninitializedShape shape: [Int]) {
        let count = Tensor.elementCount(shape, operation: "Tensor")
        self.shape = shape
        self.count = count
        self.storage = TensorStorage(uninitializedCount: count)
        self.requiresGrad = false
    }

    /// The product of `shape`, after checking that no extent is negative.
    static func elementCount(_ shape: [Int], operation: String) -> Int {
        var count = 1
        for extent in shape {
            precondition(extent >= 0, "\(operation): negative extent in shape \(shape)")
            count *= extent
        }
        return count
    }

    /// The number of dimensions (`shape.count`).
    public var rank: Int { shape.count }

    /// Whether this tensor was created by the user rather than recorded as an op's result.
    public var isLeaf: Bool { gradientNode == nil }

    /// The name of the op that produced this tensor while recording (PyTorch's `grad_fn`), if any.
    public var gradientFunctionName: String? { gradientNode?.operation }

    /// Pointer to the first element (read/write), for the package's kernels, which write only
    /// results they have just allocated. Valid while the tensor is alive. Package-only: code
    /// outside the package changes values through `withUnsafeMutableBufferPointer(_:)`, which
    /// checks the in-place rule.
    package var pointer: UnsafeMutablePointer<Float> { storage.base }

    /// The values as a buffer, for reading.
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: storage.base, count: count) }

    /// The values in row-major order, copied into an array.
    public var scalars: [Float] { Array(buffer) }

    /// The single value of a one-element tensor (PyTorch's `item()`).
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        return storage.base[0]
    }

    /// The element at a full multi-index, e.g. `x[1, 2]` for a matrix. Not recorded on the tape.
    /// Setting an element is an in-place change: it stops, like `assign(_:)`, on a recorded
    /// result (`allowsInPlaceChanges` is `false`).
    public subscript(indices: Int...) -> Float {
        get { storage.base[flatIndex(indices)] }
        set {
            checkInPlace("subscript")
            storage.base[flatIndex(indices)] = newValue
        }
    }

    private func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == rank, "subscript: \(indices.count) indices for a tensor of shape \(shape)")
        var index = 0
        for (axis, i) in indices.enumerated() {
            precondition(
                i >= 0 && i < shape[axis], "subscript: index \(i) out of range for axis \(axis) of shape \(shape)")
            index = index * shape[axis] + i
        }
        return index
    }

    /// A tensor sharing these values, cut from the tape: it does not require grad and has no
    /// history (PyTorch's `detach()`). Changing the values of one changes the other.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// A new tensor with a copy of the values, not recorded on the tape (PyTorch's `clone().detach()`).
    public func copy() -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        result.pointer.update(from: pointer, count: count)
        return result
    }

    /// Forgets the accumulated gradient (sets `grad` to `nil`, PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() { grad = nil }
}

// MARK: - Creation

extension Tensor {
    /// A tensor of `shape` with every element equal to `value` (`torch.full`).
    public convenience init(shape: [Int], repeating value: Float) {
        let count = Tensor.elementCount(shape, operation: "Tensor(shape:repeating:)")
        self.init(shape: shape, storage: TensorStorage(count: count, repeating: value))
    }

    /// A tensor of `shape` holding `scalars` in row-major order; `scalars.count` must equal the
    /// product of `shape`.
    public convenience init(_ scalars: [Float], shape: [Int]) {
        let count = Tensor.elementCount(shape, operation: "Tensor(_:shape:)")
        precondition(
            scalars.count == count, "Tensor(_:shape:): \(scalars.count) values for shape \(shape), which needs \(count)"
        )
        let storage = TensorStorage(uninitializedCount: count)
        scalars.withUnsafeBufferPointer { storage.base.initialize(from: $0.baseAddress!, count: count) }
        self.init(shape: shape, storage: storage)
    }

    /// A vector (shape `[scalars.count]`).
    public convenience init(_ scalars: [Float]) { self.init(scalars, shape: [scalars.count]) }

    /// A matrix from rows of equal length (shape `[rows.count, rows[0].count]`).
    public convenience init(_ rows: [[Float]]) {
        let columns = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == columns }, "Tensor(_ rows:): rows of unequal length")
        self.init(rows.flatMap { $0 }, shape: [rows.count, columns])
    }

    /// A scalar (shape `[]`).
    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    /// Zeros of the given shape (`torch.zeros`).
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }

    /// Ones of the given shape (`torch.ones`).
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }

    /// `value` everywhere (`torch.full`).
    public static func full(_ shape: [Int], _ value: Float) -> Tensor { Tensor(shape: shape, repeating: value) }

    /// `[0, 1, …, end − 1]` (`torch.arange(end)`), as a vector.
    public static func arange(_ end: Float) -> Tensor { arange(0, end) }

    /// `[start, start + step, …]` up to but excluding `end` (`torch.arange`), as a vector.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange: step must not be 0")
        let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor((0..<count).map { start + Float($0) * step })
    }

    /// Samples of N(mean, std²) from `generator` (`torch.normal`); same seed, same values.
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
        using generator: inout RandomGenerator
    ) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        for i in 0..<result.count {
            result.pointer[i] = mean + standardDeviation * Float(generator.nextNormal())
        }
        return result
    }

    /// Samples of U[low, high) from `generator` (`torch.rand` scaled); same seed, same values.
    public static func randomUniform(
        _ shape: [Int], low: Float = 0, high: Float = 1,
        using generator: inout RandomGenerator
    ) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        for i in 0..<result.count {
            result.pointer[i] = low + (high - low) * generator.nextFloat()
        }
        return result
    }
}

// MARK: - In-place updates (outside the tape)

extension Tensor {
    /// Whether the values may be changed in place: `false` for a result recorded on the tape (its
    /// backward rule, or the rules of the ops that consumed it, may read these values), `true`
    /// for leaves (parameters, inputs, results made under `withNoGrad`). Every mutating path
    /// (`addInPlace`, `scaleInPlace`, `assign`, `fill`, the subscript setter and
    /// `withUnsafeMutableBufferPointer(_:)`) stops with a message when it is `false`. PyTorch
    /// refuses the same changes through its version counters when backward runs; here they are
    /// refused when they are attempted.
    public var allowsInPlaceChanges: Bool { gradientNode == nil }

    /// Calls `body` with the values as a mutable buffer of `count` elements in row-major order,
    /// and returns what it returns: the checked way to change values outside the tape (filling a
    /// batch, editing a weight). The buffer is valid only during the call.
    /// - Precondition: `allowsInPlaceChanges` (the tensor is not a recorded result).
    public func withUnsafeMutableBufferPointer<Result>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> Result
    ) rethrows -> Result {
        checkInPlace("withUnsafeMutableBufferPointer")
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
    }

    /// Calls `body` with the values as a read-only buffer of `count` elements in row-major
    /// order, and returns what it returns. The buffer is valid only during the call.
    public func withUnsafeBufferPointer<Result>(
        _ body: (UnsafeBufferPointer<Float>) throws -> Result
    ) rethrows -> Result {
        try body(UnsafeBufferPointer(start: storage.base, count: count))
    }

    /// Checks that an in-place change does not touch a tensor the tape depends on.
    private func checkInPlace(_ operation: String) {
        precondition(
            gradientNode == nil,
            "\(operation): cannot change the values of a recorded result of '\(gradientNode!.operation)' in place")
    }

    /// `self += alpha · other` elementwise (BLAS `axpy`); shapes must match. For optimizers.
    public func addInPlace(_ other: Tensor, scaledBy alpha: Float = 1) {
        checkInPlace("addInPlace")
        precondition(other.shape == shape, "addInPlace: shapes \(shape) and \(other.shape) differ")
        let a = pointer, b = other.pointer
        for i in 0..<count { a[i] += alpha * b[i] }
    }

    /// `self *= factor` elementwise. For optimizers.
    public func scaleInPlace(by factor: Float) {
        checkInPlace("scaleInPlace")
        let a = pointer
        for i in 0..<count { a[i] *= factor }
    }

    /// Overwrites the values with those of `other` (same shape). For loading weights.
    public func assign(_ other: Tensor) {
        checkInPlace("assign")
        precondition(other.shape == shape, "assign: shapes \(shape) and \(other.shape) differ")
        pointer.update(from: other.pointer, count: count)
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) {
        checkInPlace("fill")
        pointer.update(repeating: value, count: count)
    }
}
