/// 2-D convolution (PyTorch's `F.conv2d`, a cross-correlation), forward and backward, over the
/// im2col + GEMM kernels of `Kernels/ConvolutionKernels.swift`.

/// 2-D convolution of `input` `[N, C, H, W]` with `weight` `[O, C, kh, kw]` plus an optional
/// `bias` `[O]`, giving `[N, O, H′, W′]` with `H′ = ⌊(H + 2ph − kh)/sh⌋ + 1` and
/// `W′ = ⌊(W + 2pw − kw)/sw⌋ + 1`:
///
///     y[n, o, i, j] = b[o] + Σ_{c, ki, kj} w[o, c, ki, kj] · x[n, c, i·sh − ph + ki, j·sw − pw + kj]
///
/// where `x` is zero outside the input (zero padding). `stride` and `padding` are (height, width).
///
/// Lowered to im2col + `BLAS.sgemm`: `Y = W[O, C·kh·kw] · col`. Backward: `dW += dY · colᵀ`
/// (accumulated over the batch), `db = Σ dY`, `dX = col2im(Wᵀ · dY)`. 1×1 convolutions with
/// stride 1 and no padding skip im2col; stride-1 convolutions with at most 4 input channels
/// (LeNet's first layer) compute y, dW and db with direct SIMD kernels instead
/// (`Kernels/DirectConvolutionKernels.swift`, equal to the im2col path within rounding). Large
/// batches of small planes are split into one part per core, each with its own chunks and
/// single-threaded GEMMs.
///
/// Memory bound: images are processed in chunks whose column matrix `[C·kh·kw, B·H′·W′]` plus
/// staging matrix `[O, B·H′·W′]` fit in 64 MiB (at least one image per chunk, so the bound is
/// `max(64 MiB, (C·kh·kw + O)·H′·W′·4 bytes)` per call), independent of N. The workspaces are
/// reused by every chunk and kept between calls (at most four free buffers, each within that
/// bound); the backward pass recomputes the column matrix instead of keeping it from the forward
/// pass.
///
/// - Precondition: `input` is rank 4, `weight` rank 4 with `C` input channels, `bias` `[O]`;
///   strides ≥ 1, paddings ≥ 0, and the kernel fits in the padded input.
public func conv2D(
    _ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
    padding: (Int, Int) = (0, 0)
) -> Tensor {
    conv2D(
        input, weight: weight, bias: bias, stride: stride, padding: padding,
        workspaceBudgetBytes: convolutionWorkspaceBudgetBytes)
}

/// `conv2D` with an explicit workspace budget (tests force tiny budgets to exercise chunking).
func conv2D(
    _ input: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
    workspaceBudgetBytes: Int
) -> Tensor {
    let g = convolutionGeometry(
        input: input.shape, weight: weight.shape, bias: bias?.shape, stride: stride,
        padding: padding)
    let result = Tensor(uninitializedShape: [g.batch, g.outputChannels, g.outputHeight, g.outputWidth])
    convolution2DForward(
        result.pointer, input.pointer, weight.pointer, bias?.pointer, g,
        workspaceBudgetBytes: workspaceBudgetBytes)
    let savedInput = input.detached(), savedWeight = weight.detached()
    var inputs = [input, weight]
    if let bias { inputs.append(bias) }
    let hasBias = bias != nil, biasNeedsGrad = bias?.requiresGrad ?? false
    let inputNeedsGrad = input.requiresGrad, weightNeedsGrad = weight.requiresGrad
    return Tensor.record(result, operation: "conv2D", inputs: inputs) { gradient in
        let dx = inputNeedsGrad ? Tensor(uninitializedShape: savedInput.shape) : nil
        let dw = weightNeedsGrad ? Tensor.zeros(savedWeight.shape) : nil
        let db = biasNeedsGrad ? Tensor.zeros([g.outputChannels]) : nil
        convolution2DBackward(
            inputGradient: dx?.pointer, weightGradient: dw?.pointer, biasGradient: db?.pointer,
            outputGradient: gradient.pointer, input: savedInput.pointer,
            weight: savedWeight.pointer, g, workspaceBudgetBytes: workspaceBudgetBytes)
        return hasBias ? [dx, dw, db] : [dx, dw]
    }
}

/// Checks the shapes and hyperparameters of a convolution and returns its geometry; stops with
/// a message naming `conv2D` and the shapes otherwise.
func convolutionGeometry(
    input: [Int], weight: [Int], bias: [Int]?, stride: (Int, Int),
    padding: (Int, Int)
) -> Convolution2DGeometry {
    do {
        return try checkedConvolutionGeometry(
            input: input, weight: weight, bias: bias, stride: stride, padding: padding)
    } catch {
        preconditionFailure("\(error)")
    }
}

/// The geometry of a convolution, or a `ShapeError` with the message `convolutionGeometry` stops
/// with: the one check behind both the op and shape inference (`Conv2D.outputShape(for:)`).
func checkedConvolutionGeometry(
    input: [Int], weight: [Int], bias: [Int]?, stride: (Int, Int),
    padding: (Int, Int)
) throws(ShapeError) -> Convolution2DGeometry {
    let shapes =
        "input \(input), weight \(weight)\(bias.map { ", bias \($0)" } ?? ""), stride \(stride), padding \(padding)"
    func check(_ condition: Bool, _ message: @autoclosure () -> String) throws(ShapeError) {
        if !condition { throw ShapeError("conv2D: \(message()); \(shapes)") }
    }
    try check(input.count == 4, "input must be [N, C, H, W]")
    try check(weight.count == 4, "weight must be [O, C, kh, kw]")
    try check(input[1] == weight[1], "input has \(input[1]) channels but weight expects \(weight[1])")
    try check(bias == nil || bias! == [weight[0]], "bias must be [\(weight[0])]")
    try check(stride.0 >= 1 && stride.1 >= 1, "stride must be positive")
    try check(padding.0 >= 0 && padding.1 >= 0, "padding must be non-negative")
    try check(weight[2] >= 1 && weight[3] >= 1, "empty kernel")
    try check(
        weight[2] <= input[2] + 2 * padding.0 && weight[3] <= input[3] + 2 * padding.1,
        "kernel \(weight[2])×\(weight[3]) is larger than the padded input \(input[2] + 2 * padding.0)×\(input[3] + 2 * padding.1)"
    )
    return Convolution2DGeometry(
        batch: input[0], inputChannels: input[1], inputHeight: input[2], inputWidth: input[3],
        outputChannels: weight[0], kernelHeight: weight[2], kernelWidth: weight[3],
        strideHeight: stride.0, strideWidth: stride.1, paddingHeight: padding.0, paddingWidth: padding.1)
}

/// The padding `((kh − 1)/2, (kw − 1)/2)` that keeps `H′ = H`, `W′ = W` at stride 1 ("same"
/// convolution) for a kernel of odd size `(kh, kw)`.
///
/// - Precondition: both extents are odd and positive.
public func samePadding(kernelSize: (Int, Int)) -> (Int, Int) {
    precondition(
        kernelSize.0 > 0 && kernelSize.1 > 0 && kernelSize.0 % 2 == 1 && kernelSize.1 % 2 == 1,
        "samePadding: kernel size \(kernelSize) must be odd and positive")
    return ((kernelSize.0 - 1) / 2, (kernelSize.1 - 1) / 2)
}
