/// Batch normalization layers over `batchNorm` (Ioffe and Szegedy, 2015).
///
/// Per channel `c`: `y = γ[c]·(x − μ[c])/√(σ²[c] + ε) + β[c]`. In training μ, σ² are the batch
/// statistics and the running averages are updated (`r ← (1 − momentum)·r + momentum·stat`, the
/// variance unbiased); in evaluation the running averages are used. Parameters `weight` (γ, ones)
/// and `bias` (β, zeros); buffers `running_mean` (zeros), `running_var` (ones) and
/// `num_batches_tracked` (a scalar counting training batches, `int64` in PyTorch and in files).

/// The parameters, buffers and forward pass shared by `BatchNorm1D` and `BatchNorm2D`.
public protocol BatchNormLayer: Module {
    /// γ, `[C]`.
    var weight: Tensor { get }
    /// β, `[C]`.
    var bias: Tensor { get }
    /// The running mean, `[C]`.
    var runningMean: Tensor { get }
    /// The running (unbiased) variance, `[C]`.
    var runningVariance: Tensor { get }
    /// The number of training batches seen, a scalar `[]` holding an integer.
    var batchesTracked: Tensor { get }
    /// The weight of the newest batch in the running averages (PyTorch's default 0.1).
    var momentum: Float { get }
    /// `ε`, added to the variance.
    var epsilon: Float { get }
}

extension BatchNormLayer {
    /// `weight` (γ) and `bias` (β).
    public var directParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }

    /// `running_mean`, `running_var` and `num_batches_tracked` (`int64`), as in PyTorch.
    public var directBuffers: [(name: String, tensor: Tensor, elementType: ElementType)] {
        [
            ("running_mean", runningMean, .float32), ("running_var", runningVariance, .float32),
            ("num_batches_tracked", batchesTracked, .int64),
        ]
    }

    /// `batchNorm` of `input` `[N, C]` or `[N, C, H, W]`, counting the batch when training.
    func normalize(_ input: Tensor) -> Tensor {
        if isTraining { batchesTracked.pointer[0] += 1 }
        return batchNorm(
            input, scale: weight, shift: bias, runningMean: runningMean, runningVariance: runningVariance,
            training: isTraining, momentum: momentum, epsilon: epsilon)
    }
}

/// `(weight, bias, runningMean, runningVariance, batchesTracked)` for `featureCount` channels.
private func batchNormTensors(_ featureCount: Int, _ layer: String) -> (Tensor, Tensor, Tensor, Tensor, Tensor) {
    precondition(featureCount > 0, "\(layer): feature count must be positive, got \(featureCount)")
    let weight = Tensor.ones([featureCount]), bias = Tensor.zeros([featureCount])
    weight.requiresGrad = true
    bias.requiresGrad = true
    return (weight, bias, Tensor.zeros([featureCount]), Tensor.ones([featureCount]), Tensor(scalar: 0))
}

/// Batch normalization over `[N, C]` (fully connected layers) or `[N, C, L]` (PyTorch's
/// `nn.BatchNorm1d`); statistics per feature `C` over `N` (and `L`).
public final class BatchNorm1D: ModuleBase, BatchNormLayer {
    /// γ, β, the running mean and variance, and the batch counter (see `BatchNormLayer`).
    public let weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor, batchesTracked: Tensor
    /// The running averages' momentum and the variance's `ε` (see `BatchNormLayer`).
    public let momentum: Float, epsilon: Float

    /// Batch normalization of `featureCount` features (`nn.BatchNorm1d(num_features)`).
    public init(featureCount: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        (weight, bias, runningMean, runningVariance, batchesTracked) = batchNormTensors(featureCount, "BatchNorm1D")
        self.momentum = momentum
        self.epsilon = epsilon
    }

    /// `[N, C]` or `[N, C, L]`, unchanged.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard (inputShape.count == 2 || inputShape.count == 3) && inputShape[1] == weight.count else {
            throw ShapeError(
                "BatchNorm1D: input must be [N, \(weight.count)] or [N, \(weight.count), L], got shape \(inputShape)")
        }
        return inputShape
    }

    /// Normalizes `[N, C]` or `[N, C, L]`; same shape out.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(
            input.rank == 2 || input.rank == 3,
            "BatchNorm1D: input must be [N, C] or [N, C, L], got shape \(input.shape)")
        if input.rank == 2 { return normalize(input) }
        let shape = input.shape
        return normalize(input.reshaped(shape + [1])).reshaped(shape)
    }
}

/// Batch normalization over `[N, C, H, W]` (PyTorch's `nn.BatchNorm2d`); statistics per channel
/// over `N·H·W` values.
public final class BatchNorm2D: ModuleBase, BatchNormLayer {
    /// γ, β, the running mean and variance, and the batch counter (see `BatchNormLayer`).
    public let weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor, batchesTracked: Tensor
    /// The running averages' momentum and the variance's `ε` (see `BatchNormLayer`).
    public let momentum: Float, epsilon: Float

    /// Batch normalization of `featureCount` channels (`nn.BatchNorm2d(num_features)`).
    public init(featureCount: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        (weight, bias, runningMean, runningVariance, batchesTracked) = batchNormTensors(featureCount, "BatchNorm2D")
        self.momentum = momentum
        self.epsilon = epsilon
    }

    /// `[N, C, H, W]`, unchanged.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 4 && inputShape[1] == weight.count else {
            throw ShapeError("BatchNorm2D: input must be [N, \(weight.count), H, W], got shape \(inputShape)")
        }
        return inputShape
    }

    /// Normalizes `[N, C, H, W]`; same shape out.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank == 4, "BatchNorm2D: input must be [N, C, H, W], got shape \(input.shape)")
        return normalize(input)
    }
}
