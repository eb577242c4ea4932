// LeNet with batch normalization: Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network
// Training by Reducing Internal Covariate Shift", ICML 2015 (https://arxiv.org/abs/1502.03167),
// applied to LeNet (LeCun et al., 1998; see LeNet.swift).
// Textbook: "Dive into Deep Learning", section 7.5
// (https://d2l.ai/chapter_convolutional-modern/batch-norm.html; d2l-zh 2.0.0 §7.5), in both of the
// book's versions: with the library's layers (`BatchNorm2D`/`BatchNorm1D`, the concise version) and
// with the book's from-scratch `batch_norm` function and `BatchNorm` module, written below from
// Engine's differentiable ops.
// Deviations: the book's network has no padding on the first convolution (so the flattened size is
// 16·4·4 = 256), unlike §6.6's LeNet; that is kept. The scratch `BatchNorm` chooses batch or moving
// statistics by the module's training flag, where the book tests `torch.is_grad_enabled()` (the
// book's `train_ch6` evaluates in eval mode under `no_grad`, so both agree there), and it saves
// `moving_mean` / `moving_var` as buffers, where the book keeps them as plain attributes outside
// `state_dict()` (parameter keys are the book's; loading our file into the book's module needs
// `strict=False`, and a reloaded scratch network keeps its moving statistics).
// The book trains both with Xavier-uniform weights (`ModelZoo`'s `weightInitializer`).
import Engine

/// The book's from-scratch batch normalization (§7.5 `batch_norm`), `x` `[N, C]` or `[N, C, H, W]`
/// and parameters and moving statistics `[1, C]` or `[1, C, 1, 1]`:
///
/// * predicting (`training == false`): `x̂ = (x − moving_mean) / √(moving_var + ε)`;
/// * training: `μ`, `σ²` are the mean and the *biased* variance (mean of `(x − μ)²`) over the
///   batch (and the spatial positions), `x̂ = (x − μ) / √(σ² + ε)`, and the moving statistics
///   become `momentum · moving + (1 − momentum) · batch statistic`;
///
/// then `y = γ ⊙ x̂ + β`. Built from Engine ops, so its gradient is the tape's.
///
/// - Returns: `y` (same shape as `x`) and the new moving mean and variance (detached; unchanged
///   when predicting).
public func batchNormFromScratch(
    _ x: Tensor, gamma: Tensor, beta: Tensor, movingMean: Tensor, movingVariance: Tensor,
    epsilon: Float = 1e-5, momentum: Float = 0.9, training: Bool
)
    -> (output: Tensor, movingMean: Tensor, movingVariance: Tensor)
{
    precondition(
        x.rank == 2 || x.rank == 4, "batchNormFromScratch: input must be [N, C] or [N, C, H, W], got shape \(x.shape)")
    guard training else {
        let normalized = (x - movingMean) / (movingVariance + epsilon).sqrt()
        return (gamma * normalized + beta, movingMean, movingVariance)
    }
    // The book's axes: 0 for a fully connected input, (0, 2, 3) with keepdim for a convolutional one.
    let axes = x.rank == 2 ? [0] : [0, 2, 3]
    func meanOverAxes(_ t: Tensor) -> Tensor { axes.reduce(t) { $0.mean(axis: $1, keepDims: true) } }
    let mean = meanOverAxes(x)
    let variance = meanOverAxes((x - mean).squared())
    let normalized = (x - mean) / (variance + epsilon).sqrt()
    let (newMean, newVariance) = withNoGrad {
        (
            momentum * movingMean + (1 - momentum) * mean.detached(),
            momentum * movingVariance + (1 - momentum) * variance.detached()
        )
    }
    return (gamma * normalized + beta, newMean, newVariance)
}

/// The book's from-scratch `BatchNorm(num_features, num_dims)` module (§7.5): parameters `gamma`
/// (ones) and `beta` (zeros) and moving statistics `moving_mean` (zeros) and `moving_var` (ones),
/// all of shape `[1, C]` (`dimensionCount` 2, after a linear layer) or `[1, C, 1, 1]`
/// (`dimensionCount` 4, after a convolution); ε = 1e-5, momentum 0.9 (the weight of the old
/// moving value). See `batchNormFromScratch`. In training mode (`isTraining`, from `ModuleBase`)
/// it normalizes with the batch's statistics and updates the moving ones; otherwise it normalizes
/// with the moving statistics.
public final class BatchNorm: ModuleBase, Module {
    /// γ, the scale, `[1, C]` or `[1, C, 1, 1]`.
    public let gamma: Tensor
    /// β, the shift, same shape as `gamma`.
    public let beta: Tensor
    /// The moving mean, same shape as `gamma` (updated in place in training).
    public let movingMean: Tensor
    /// The moving (biased) variance, same shape as `gamma` (updated in place in training).
    public let movingVariance: Tensor
    /// The weight of the old value in the moving averages (0.9 in the book).
    public let momentum: Float
    /// ε, added to the variance (1e-5 in the book).
    public let epsilon: Float

    /// Batch normalization of `featureCount` channels for inputs of rank `dimensionCount` (2 or 4).
    public init(featureCount: Int, dimensionCount: Int, momentum: Float = 0.9, epsilon: Float = 1e-5) {
        precondition(featureCount > 0, "BatchNorm: feature count must be positive, got \(featureCount)")
        precondition(
            dimensionCount == 2 || dimensionCount == 4,
            "BatchNorm: dimensionCount must be 2 or 4, got \(dimensionCount)")
        let shape = dimensionCount == 2 ? [1, featureCount] : [1, featureCount, 1, 1]
        gamma = Tensor.ones(shape)
        beta = Tensor.zeros(shape)
        gamma.requiresGrad = true
        beta.requiresGrad = true
        movingMean = Tensor.zeros(shape)
        movingVariance = Tensor.ones(shape)
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public var directParameters: [(name: String, tensor: Tensor)] { [("gamma", gamma), ("beta", beta)] }

    public var directBuffers: [(name: String, tensor: Tensor, elementType: ElementType)] {
        [("moving_mean", movingMean, .float32), ("moving_var", movingVariance, .float32)]
    }

    /// `[N, C]` or `[N, C, H, W]` (matching `dimensionCount`), unchanged.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == gamma.rank && inputShape[1] == gamma.shape[1] else {
            throw ShapeError(
                "BatchNorm: input must be [N, \(gamma.shape[1])\(gamma.rank == 4 ? ", H, W" : "")], got shape \(inputShape)"
            )
        }
        return inputShape
    }

    /// Normalizes `[N, C]` or `[N, C, H, W]` (matching `dimensionCount`); same shape out.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        do { _ = try outputShape(for: input.shape) } catch { preconditionFailure("\(error)") }
        let (output, mean, variance) = batchNormFromScratch(
            input, gamma: gamma, beta: beta, movingMean: movingMean,
            movingVariance: movingVariance, epsilon: epsilon,
            momentum: momentum, training: isTraining)
        if isTraining {
            movingMean.assign(mean)
            movingVariance.assign(variance)
        }
        return output
    }
}

/// LeNet with batch normalization after every convolution and hidden linear layer, before the
/// sigmoid: `[N, 1, 28, 28]` → `[N, 10]`,
///
///     conv 1→6 5×5 → BN → σ → avg 2 → conv 6→16 5×5 → BN → σ → avg 2 → flatten 256
///     → linear 256→120 → BN → σ → linear 120→84 → BN → σ → linear 84→10
///
/// Keys as in PyTorch: `0.*`, `4.*`, `8.*`, `11.*`, `14.*` for the convolutions and linear layers,
/// `1.*`, `5.*`, `9.*`, `12.*` for the normalizations; 44 878 parameters either way.
public enum BatchNormLeNet {
    /// Which batch normalization the network uses.
    public enum Normalization: String, Sendable, CaseIterable {
        /// The library's `BatchNorm2D` / `BatchNorm1D` (`nn.BatchNorm2d` / `nn.BatchNorm1d`;
        /// running variance unbiased, momentum 0.1 in PyTorch's convention).
        case library
        /// The book's from-scratch `BatchNorm` (moving variance biased, momentum 0.9 in the book's).
        case scratch
    }

    /// The network with `normalization`, with PyTorch's default initialization drawn from `generator`.
    public static func make(
        _ normalization: Normalization = .library, using generator: inout RandomGenerator
    ) -> Sequential {
        func norm(_ features: Int, dimensionCount: Int) -> any Module {
            switch normalization {
            case .library:
                return dimensionCount == 4 ? BatchNorm2D(featureCount: features) : BatchNorm1D(featureCount: features)
            case .scratch:
                return BatchNorm(featureCount: features, dimensionCount: dimensionCount)
            }
        }
        return Sequential {
            Conv2D(inputChannels: 1, outputChannels: 6, kernelSize: 5, using: &generator)
            norm(6, dimensionCount: 4)
            Sigmoid()
            AvgPool2D(kernelSize: 2, stride: 2)
            Conv2D(inputChannels: 6, outputChannels: 16, kernelSize: 5, using: &generator)
            norm(16, dimensionCount: 4)
            Sigmoid()
            AvgPool2D(kernelSize: 2, stride: 2)
            Flatten()
            Linear(inputFeatures: 16 * 4 * 4, outputFeatures: 120, using: &generator)
            norm(120, dimensionCount: 2)
            Sigmoid()
            Linear(inputFeatures: 120, outputFeatures: 84, using: &generator)
            norm(84, dimensionCount: 2)
            Sigmoid()
            Linear(inputFeatures: 84, outputFeatures: 10, using: &generator)
        }
    }
}
