/// Max, average and global average pooling over `[N, C, H, W]`, forward and backward, over the
/// kernels of `Kernels/PoolingKernels.swift`.

/// Checks a pooling's arguments and returns its geometry; stops with a message naming `operation`
/// and the shapes otherwise. Like PyTorch, padding may be at most half the kernel, so every window
/// holds at least one input element.
func poolingGeometry(
    _ shape: [Int], kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int),
    operation: String
) -> Pooling2DGeometry {
    do {
        return try checkedPoolingGeometry(
            shape, kernelSize: kernelSize, stride: stride, padding: padding, operation: operation)
    } catch {
        preconditionFailure("\(error)")
    }
}

/// The geometry of a pooling, or a `ShapeError` with the message `poolingGeometry` stops with:
/// the one check behind both the op and shape inference (`MaxPool2D.outputShape(for:)`).
func checkedPoolingGeometry(
    _ shape: [Int], kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int),
    operation: String
) throws(ShapeError) -> Pooling2DGeometry {
    let arguments = "input \(shape), kernel \(kernelSize), stride \(stride), padding \(padding)"
    func check(_ condition: Bool, _ message: @autoclosure () -> String) throws(ShapeError) {
        if !condition { throw ShapeError("\(operation): \(message()); \(arguments)") }
    }
    try check(shape.count == 4, "input must be [N, C, H, W]")
    try check(kernelSize.0 >= 1 && kernelSize.1 >= 1, "kernel size must be positive")
    try check(stride.0 >= 1 && stride.1 >= 1, "stride must be positive")
    try check(
        padding.0 >= 0 && padding.1 >= 0 && 2 * padding.0 <= kernelSize.0 && 2 * padding.1 <= kernelSize.1,
        "padding must be between 0 and half the kernel size")
    try check(
        kernelSize.0 <= shape[2] + 2 * padding.0 && kernelSize.1 <= shape[3] + 2 * padding.1,
        "kernel \(kernelSize.0)×\(kernelSize.1) is larger than the padded input \(shape[2] + 2 * padding.0)×\(shape[3] + 2 * padding.1)"
    )
    return Pooling2DGeometry(
        planes: shape[0] * shape[1], inputHeight: shape[2], inputWidth: shape[3],
        kernelHeight: kernelSize.0, kernelWidth: kernelSize.1,
        strideHeight: stride.0, strideWidth: stride.1,
        paddingHeight: padding.0, paddingWidth: padding.1)
}

/// Max pooling (PyTorch's `F.max_pool2d`, floor mode): `[N, C, H, W]` → `[N, C, H′, W′]`,
/// `H′ = ⌊(H + 2ph − kh)/sh⌋ + 1`, `y[n, c, i, j] = max` of `x[n, c]` over the window at
/// `(i·sh − ph, j·sw − pw)` of size `kh × kw`. Padding never wins (it acts as −∞); among equal
/// maxima the first in row-major scan order is chosen, as in PyTorch.
/// Backward: the gradient of each output goes to the element it chose.
///
/// - Precondition: rank 4, strides ≥ 1, `0 ≤ padding ≤ kernel/2`, kernel within the padded input.
public func maxPool2D(
    _ input: Tensor, kernelSize: (Int, Int), stride: (Int, Int),
    padding: (Int, Int) = (0, 0)
) -> Tensor {
    let g = poolingGeometry(
        input.shape, kernelSize: kernelSize, stride: stride, padding: padding,
        operation: "maxPool2D")
    let shape = input.shape
    let result = Tensor(uninitializedShape: [shape[0], shape[1], g.outputHeight, g.outputWidth])
    let indices = SavedBuffer<Int32>(count: result.count)
    maxPool2DForward(result.pointer, argmax: indices.base, input.pointer, g)
    return Tensor.record(result, operation: "maxPool2D", inputs: [input]) { gradient in
        let dx = Tensor.zeros(shape)
        maxPool2DBackward(dx.pointer, gradient.pointer, argmax: indices.base, g)
        return [dx]
    }
}

/// Average pooling (PyTorch's `F.avg_pool2d` with `count_include_pad=True`, floor mode):
/// `y[n, c, i, j] = (1/(kh·kw)) Σ` of `x[n, c]` over the window, the padding counting as zeros.
/// Output size as in `maxPool2D`. Backward: each element of a window receives `dy/(kh·kw)`.
///
/// - Precondition: as for `maxPool2D`.
public func avgPool2D(
    _ input: Tensor, kernelSize: (Int, Int), stride: (Int, Int),
    padding: (Int, Int) = (0, 0)
) -> Tensor {
    let g = poolingGeometry(
        input.shape, kernelSize: kernelSize, stride: stride, padding: padding,
        operation: "avgPool2D")
    let shape = input.shape
    let result = Tensor(uninitializedShape: [shape[0], shape[1], g.outputHeight, g.outputWidth])
    averagePool2DForward(result.pointer, input.pointer, g)
    return Tensor.record(result, operation: "avgPool2D", inputs: [input]) { gradient in
        let dx = Tensor.zeros(shape)
        averagePool2DBackward(dx.pointer, gradient.pointer, g)
        return [dx]
    }
}

/// Global average pooling: `[N, C, H, W]` → `[N, C, 1, 1]`, `y[n, c] = (1/(H·W)) Σ_{i,j} x[n, c, i, j]`
/// (PyTorch's `adaptive_avg_pool2d(x, 1)`). Backward: every element receives `dy/(H·W)`.
///
/// - Precondition: rank 4 with a non-empty plane.
public func globalAvgPool2D(_ input: Tensor) -> Tensor {
    precondition(
        input.rank == 4 && input.shape[2] * input.shape[3] > 0,
        "globalAvgPool2D: input must be [N, C, H, W] with H·W > 0, got \(input.shape)")
    let shape = input.shape, planes = shape[0] * shape[1], plane = shape[2] * shape[3]
    let result = Tensor(uninitializedShape: [shape[0], shape[1], 1, 1])
    let x = input.pointer, y = result.pointer
    for p in 0..<planes { y[p] = vectorSum(x + p * plane, count: plane) / Float(plane) }
    return Tensor.record(result, operation: "globalAvgPool2D", inputs: [input]) { gradient in
        let dx = Tensor(uninitializedShape: shape)
        for p in 0..<planes {
            let share = gradient.pointer[p] / Float(plane)
            (dx.pointer + p * plane).update(repeating: share, count: plane)
        }
        return [dx]
    }
}
