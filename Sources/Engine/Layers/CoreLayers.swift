/// The dense layer, activations, flattening and softmax: layers over the core ops.

/// A fully connected layer (PyTorch's `nn.Linear`): `y = x Wᵀ + b` for `x` `[N, in]` (or
/// `[B, N, in]`), giving `[N, out]`; `weight` is `[out, in]`, `bias` `[out]`.
public final class Linear: ModuleBase, WeightedLayer {
    /// `W`, shape `[outputFeatures, inputFeatures]` (PyTorch's layout).
    public let weight: Tensor
    /// `b`, shape `[outputFeatures]`, or `nil` for a layer without bias.
    public let bias: Tensor?

    /// A layer with the given parameters (`weight` `[out, in]`, `bias` `[out]`), which it owns
    /// from now on (their `requiresGrad` is set).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear: weight must be [out, in], got shape \(weight.shape)")
        precondition(
            bias == nil || bias!.shape == [weight.shape[0]],
            "Linear: bias must be [\(weight.shape[0])], got shape \(bias!.shape)")
        self.weight = weight
        self.bias = bias
        weight.requiresGrad = true
        bias?.requiresGrad = true
    }

    /// A layer `inputFeatures → outputFeatures` with PyTorch's default initialization drawn from
    /// `generator`: weight and bias `U(−1/√in, 1/√in)` (`kaiming_uniform_(a = √5)`).
    public convenience init(
        inputFeatures: Int, outputFeatures: Int, bias: Bool = true,
        using generator: inout RandomGenerator
    ) {
        precondition(
            inputFeatures > 0 && outputFeatures > 0,
            "Linear: feature counts must be positive, got \(inputFeatures) → \(outputFeatures)")
        let weight = Tensor.zeros([outputFeatures, inputFeatures])
        let biasTensor = bias ? Tensor.zeros([outputFeatures]) : nil
        Initializer.pytorchDefault(weight: weight, bias: biasTensor, using: &generator)
        self.init(weight: weight, bias: biasTensor)
    }

    /// `in`, the size of the last input dimension.
    public var inputFeatures: Int { weight.shape[1] }
    /// `out`, the size of the last output dimension.
    public var outputFeatures: Int { weight.shape[0] }

    /// `[N, in]` → `[N, out]`, `[B, N, in]` → `[B, N, out]`.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard (inputShape.count == 2 || inputShape.count == 3) && inputShape.last == inputFeatures else {
            throw ShapeError(
                "Linear: input must be [N, \(inputFeatures)] or [B, N, \(inputFeatures)], got shape \(inputShape)")
        }
        return inputShape.dropLast() + [outputFeatures]
    }

    /// `x Wᵀ + b`: `[N, in]` → `[N, out]` (or `[B, N, in]` → `[B, N, out]`).
    public func callAsFunction(_ input: Tensor) -> Tensor {
        do { _ = try outputShape(for: input.shape) } catch { preconditionFailure("\(error)") }
        let product = matmul(input, weight, transposeB: true)
        guard let bias else { return product }
        return product + bias
    }
}

/// `max(x, 0)` elementwise (PyTorch's `nn.ReLU`); any shape.
public final class ReLU: ModuleBase, ParameterlessLayer {
    /// A ReLU layer.
    override public init() {}
    /// `max(x, 0)`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.relu() }
    /// Any shape, unchanged.
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
}

/// `1 / (1 + e⁻ˣ)` elementwise (PyTorch's `nn.Sigmoid`); any shape.
public final class Sigmoid: ModuleBase, ParameterlessLayer {
    /// A sigmoid layer.
    override public init() {}
    /// `σ(x)`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.sigmoid() }
    /// Any shape, unchanged.
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
}

/// `tanh(x)` elementwise (PyTorch's `nn.Tanh`); any shape.
public final class Tanh: ModuleBase, ParameterlessLayer {
    /// A tanh layer.
    override public init() {}
    /// `tanh(x)`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.tanh() }
    /// Any shape, unchanged.
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
}

/// `softmax(x)ₖ = exp(xₖ) / Σⱼ exp(xⱼ)` along `axis` (PyTorch's `nn.Softmax(dim)`), computed
/// through LogSumExp. For training, feed logits to `crossEntropy` instead.
public final class Softmax: ModuleBase, ParameterlessLayer {
    /// The axis normalised over (negative counts from the end).
    public let axis: Int
    /// A softmax over `axis` (default: the last).
    public init(axis: Int = -1) { self.axis = axis }
    /// `softmax(x)` along `axis`; same shape as `x`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.softmax(axis: axis) }
    /// The same shape, when `axis` is one of its axes.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard axis >= -inputShape.count && axis < inputShape.count else {
            throw ShapeError("softmax: axis \(axis) out of range for shape \(inputShape)")
        }
        return inputShape
    }
}

/// Merges all dimensions from `startAxis` on (PyTorch's `nn.Flatten()`, `start_dim = 1`):
/// `[N, C, H, W]` → `[N, C·H·W]`.
public final class Flatten: ModuleBase, ParameterlessLayer {
    /// The first merged axis (1 keeps the batch dimension).
    public let startAxis: Int
    /// A flattening layer keeping the dimensions before `startAxis`.
    public init(startAxis: Int = 1) { self.startAxis = startAxis }
    /// `x` reshaped to `shape[..<startAxis] + [Π shape[startAxis...]]`.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.flattened(startAxis: startAxis) }
    /// `shape[..<startAxis] + [Π shape[startAxis...]]`.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard startAxis >= 0 && startAxis <= inputShape.count else {
            throw ShapeError("flatten: start axis \(startAxis) out of range for shape \(inputShape)")
        }
        return Array(inputShape[..<startAxis]) + [inputShape[startAxis...].reduce(1, *)]
    }
}
