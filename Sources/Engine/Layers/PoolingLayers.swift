/// Pooling layers over `maxPool2D`, `avgPool2D` and `globalAvgPool2D`. Tuples are (height, width);
/// output sizes are `H′ = ⌊(H + 2·padding.0 − kh)/stride.0⌋ + 1` (floor mode), likewise `W′`.

/// A pooling layer with a window: `MaxPool2D`, `AvgPool2D`. Gives both the square-window
/// initializer PyTorch users write (`MaxPool2d(kernel_size=3, stride=2, padding=1)`).
public protocol WindowedPoolingLayer: ParameterlessLayer {
    /// A layer with window `kernelSize`, `stride` (default: the kernel size, as in PyTorch) and
    /// `padding`, each (height, width).
    init(kernelSize: (Int, Int), stride: (Int, Int)?, padding: (Int, Int))
}

extension WindowedPoolingLayer {
    /// A square window of side `kernelSize`, square `stride` (default: the kernel size) and `padding`.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.init(kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }
}

/// Max pooling (PyTorch's `nn.MaxPool2d`): `[N, C, H, W]` → `[N, C, H′, W′]`, each output the
/// largest value of its `kh × kw` window.
public final class MaxPool2D: ModuleBase, WindowedPoolingLayer {
    /// Window size.
    public let kernelSize: (Int, Int)
    /// Step between windows (PyTorch's default: the kernel size).
    public let stride: (Int, Int)
    /// Padding on each side (acts as −∞).
    public let padding: (Int, Int)

    /// Max pooling with `stride` defaulting to `kernelSize`, as in PyTorch.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    /// `[N, C, H, W]` → `[N, C, H′, W′]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        maxPool2D(input, kernelSize: kernelSize, stride: stride, padding: padding)
    }

    /// `[N, C, H, W]` → `[N, C, H′, W′]`.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let g = try checkedPoolingGeometry(
            inputShape, kernelSize: kernelSize, stride: stride, padding: padding,
            operation: "maxPool2D")
        return [inputShape[0], inputShape[1], g.outputHeight, g.outputWidth]
    }
}

/// Average pooling (PyTorch's `nn.AvgPool2d`, padding counted as zeros): `[N, C, H, W]` →
/// `[N, C, H′, W′]`, each output the mean of its `kh × kw` window.
public final class AvgPool2D: ModuleBase, WindowedPoolingLayer {
    /// Window size.
    public let kernelSize: (Int, Int)
    /// Step between windows (PyTorch's default: the kernel size).
    public let stride: (Int, Int)
    /// Zero padding on each side (counted in the mean, `count_include_pad=True`).
    public let padding: (Int, Int)

    /// Average pooling with `stride` defaulting to `kernelSize`, as in PyTorch.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    /// `[N, C, H, W]` → `[N, C, H′, W′]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        avgPool2D(input, kernelSize: kernelSize, stride: stride, padding: padding)
    }

    /// `[N, C, H, W]` → `[N, C, H′, W′]`.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let g = try checkedPoolingGeometry(
            inputShape, kernelSize: kernelSize, stride: stride, padding: padding,
            operation: "avgPool2D")
        return [inputShape[0], inputShape[1], g.outputHeight, g.outputWidth]
    }
}

/// Global average pooling: `[N, C, H, W]` → `[N, C, 1, 1]`, the mean of each channel's plane
/// (NiN's and GoogLeNet's head; PyTorch's `nn.AdaptiveAvgPool2d((1, 1))`).
public final class GlobalAvgPool2D: ModuleBase, ParameterlessLayer {
    /// A global average pooling layer.
    override public init() {}
    /// `[N, C, H, W]` → `[N, C, 1, 1]`.
    public func callAsFunction(_ input: Tensor) -> Tensor { globalAvgPool2D(input) }
    /// `[N, C, H, W]` → `[N, C, 1, 1]`.
    public func outputShape(for inputShape: [Int]) throws -> [Int] { try globalPooledShape(inputShape) }
}

/// PyTorch's `nn.AdaptiveAvgPool2d`, for the only output size the textbook uses, `(1, 1)`:
/// the same as `GlobalAvgPool2D`, under PyTorch's name.
public final class AdaptiveAvgPool2D: ModuleBase, ParameterlessLayer {
    /// The output plane size; only `(1, 1)` is supported.
    public let outputSize: (Int, Int)

    /// Adaptive average pooling to `outputSize` (must be `(1, 1)`).
    public init(outputSize: (Int, Int) = (1, 1)) {
        precondition(outputSize == (1, 1), "AdaptiveAvgPool2D: only output size (1, 1) is supported, got \(outputSize)")
        self.outputSize = outputSize
    }

    /// `[N, C, H, W]` → `[N, C, 1, 1]`.
    public func callAsFunction(_ input: Tensor) -> Tensor { globalAvgPool2D(input) }
    /// `[N, C, H, W]` → `[N, C, 1, 1]`.
    public func outputShape(for inputShape: [Int]) throws -> [Int] { try globalPooledShape(inputShape) }
}

/// `[N, C, 1, 1]` for `[N, C, H, W]` with a non-empty plane (`globalAvgPool2D`'s condition).
private func globalPooledShape(_ shape: [Int]) throws -> [Int] {
    guard shape.count == 4 && shape[2] * shape[3] > 0 else {
        throw ShapeError("globalAvgPool2D: input must be [N, C, H, W] with H, W > 0, got shape \(shape)")
    }
    return [shape[0], shape[1], 1, 1]
}
