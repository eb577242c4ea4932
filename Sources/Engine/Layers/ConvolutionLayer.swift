/// The 2-D convolution layer over `conv2D` (im2col + GEMM).

/// A 2-D convolution (PyTorch's `nn.Conv2d`, a cross-correlation): `[N, C, H, W]` →
/// `[N, O, H′, W′]` with `H′ = ⌊(H + 2·padding.0 − kh)/stride.0⌋ + 1` (likewise `W′`) and
///
///     y[n, o, i, j] = b[o] + Σ_{c, ki, kj} w[o, c, ki, kj] · x[n, c, i·sh − ph + ki, j·sw − pw + kj]
///
/// `weight` is `[O, C, kh, kw]`, `bias` `[O]`. Tuples are (height, width).
public final class Conv2D: ModuleBase, WeightedLayer {
    /// `w`, shape `[outputChannels, inputChannels, kh, kw]` (PyTorch's layout).
    public let weight: Tensor
    /// `b`, shape `[outputChannels]`, or `nil`.
    public let bias: Tensor?
    /// Step between windows, (height, width).
    public let stride: (Int, Int)
    /// Zeros added on each side, (height, width).
    public let padding: (Int, Int)

    /// A convolution with the given parameters (`weight` `[O, C, kh, kw]`, `bias` `[O]`), which it
    /// owns from now on (their `requiresGrad` is set).
    public init(weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) {
        precondition(weight.rank == 4, "Conv2D: weight must be [O, C, kh, kw], got shape \(weight.shape)")
        precondition(
            bias == nil || bias!.shape == [weight.shape[0]],
            "Conv2D: bias must be [\(weight.shape[0])], got shape \(bias!.shape)")
        precondition(
            stride.0 >= 1 && stride.1 >= 1 && padding.0 >= 0 && padding.1 >= 0,
            "Conv2D: stride \(stride) must be positive and padding \(padding) non-negative")
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        weight.requiresGrad = true
        bias?.requiresGrad = true
    }

    /// A convolution `inputChannels → outputChannels` with a `kernelSize` window, with PyTorch's
    /// default initialization from `generator`: weight and bias `U(−1/√fan_in, 1/√fan_in)`,
    /// `fan_in = inputChannels·kh·kw`.
    public convenience init(
        inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int),
        stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), bias: Bool = true,
        using generator: inout RandomGenerator
    ) {
        precondition(
            inputChannels > 0 && outputChannels > 0 && kernelSize.0 > 0 && kernelSize.1 > 0,
            "Conv2D: channels \(inputChannels) → \(outputChannels) and kernel size \(kernelSize) must be positive")
        let weight = Tensor.zeros([outputChannels, inputChannels, kernelSize.0, kernelSize.1])
        let biasTensor = bias ? Tensor.zeros([outputChannels]) : nil
        Initializer.pytorchDefault(weight: weight, bias: biasTensor, using: &generator)
        self.init(weight: weight, bias: biasTensor, stride: stride, padding: padding)
    }

    /// A convolution with a square `kernelSize × kernelSize` window and the same stride and
    /// padding in both directions (`nn.Conv2d(1, 6, kernel_size=5, padding=2)`).
    public convenience init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
        padding: Int = 0, bias: Bool = true, using generator: inout RandomGenerator
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: (kernelSize, kernelSize),
            stride: (stride, stride), padding: (padding, padding), bias: bias, using: &generator)
    }

    /// `C`, the number of input channels.
    public var inputChannels: Int { weight.shape[1] }
    /// `O`, the number of output channels.
    public var outputChannels: Int { weight.shape[0] }
    /// `(kh, kw)`.
    public var kernelSize: (Int, Int) { (weight.shape[2], weight.shape[3]) }

    /// `[N, C, H, W]` → `[N, O, H′, W′]`.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let g = try checkedConvolutionGeometry(
            input: inputShape, weight: weight.shape, bias: bias?.shape, stride: stride,
            padding: padding)
        return [g.batch, g.outputChannels, g.outputHeight, g.outputWidth]
    }

    /// The convolution of `input` `[N, C, H, W]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2D(input, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}
