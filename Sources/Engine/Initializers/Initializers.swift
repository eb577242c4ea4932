import Foundation

/// Parameter initialization (PyTorch's `torch.nn.init`), each drawing from an explicit generator.
///
/// Fans follow PyTorch: for a weight of shape `[out, in, k₁, …]` the receptive field is
/// `k₁·k₂·…` (1 for a matrix), `fan_in = in · receptive` and `fan_out = out · receptive`.

/// `(fanIn, fanOut)` of a weight of `shape` (rank ≥ 2): `[out, in]` gives `(in, out)`,
/// `[out, in, kh, kw]` gives `(in·kh·kw, out·kh·kw)` (PyTorch's `_calculate_fan_in_and_fan_out`).
public func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
    precondition(shape.count >= 2, "fans(of:): needs a weight of rank ≥ 2, got shape \(shape)")
    let receptive = shape.dropFirst(2).reduce(1, *)
    return (shape[1] * receptive, shape[0] * receptive)
}

/// A rule that fills a parameter with initial values.
public enum Initializer: Sendable {
    /// Which fan Kaiming initialization preserves the variance of.
    public enum FanMode: Sendable {
        /// Forward activations (`fan_in`, PyTorch's default).
        case fanIn
        /// Backward gradients (`fan_out`).
        case fanOut
    }

    /// The nonlinearity after the layer, which sets Kaiming's gain (PyTorch's `calculate_gain`).
    public enum Nonlinearity: Sendable {
        /// Gain 1 (also right for sigmoid and for no activation).
        case linear
        /// Gain √2.
        case relu
        /// Gain √(2 / (1 + slope²)).
        case leakyReLU(negativeSlope: Float)
        /// Gain 5/3.
        case tanh

        /// The gain `g` with `Var(w) = g² / fan`.
        public var gain: Float {
            switch self {
            case .linear: return 1
            case .relu: return Float(2).squareRoot()
            case .leakyReLU(let slope): return (2 / (1 + slope * slope)).squareRoot()
            case .tanh: return 5.0 / 3.0
            }
        }
    }

    /// Every element `0` (`nn.init.zeros_`).
    case zeros
    /// Every element `value` (`nn.init.constant_`).
    case constant(Float)
    /// `U(low, high)` (`nn.init.uniform_`).
    case uniform(low: Float, high: Float)
    /// `N(mean, standardDeviation²)` (`nn.init.normal_`); the textbook's `N(0, 0.01²)` is
    /// `.normal(mean: 0, standardDeviation: 0.01)`.
    case normal(mean: Float, standardDeviation: Float)
    /// Xavier/Glorot uniform: `U(−a, a)`, `a = gain · √(6 / (fan_in + fan_out))`
    /// (`nn.init.xavier_uniform_`), so `Var(w) = gain² · 2 / (fan_in + fan_out)`.
    case xavierUniform(gain: Float = 1)
    /// Xavier/Glorot normal: `N(0, σ²)`, `σ = gain · √(2 / (fan_in + fan_out))` (`nn.init.xavier_normal_`).
    case xavierNormal(gain: Float = 1)
    /// Kaiming/He uniform: `U(−b, b)`, `b = gain · √(3 / fan)` (`nn.init.kaiming_uniform_`).
    /// PyTorch's default for `Linear` and `Conv2d` weights is `.leakyReLU(negativeSlope: √5)`,
    /// which makes `b = 1/√fan_in`.
    case kaimingUniform(mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .relu)
    /// Kaiming/He normal: `N(0, σ²)`, `σ = gain / √fan` (`nn.init.kaiming_normal_`).
    case kaimingNormal(mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .relu)

    /// Overwrites the values of `tensor` in place with draws from `generator` (fans from the
    /// tensor's own shape; the Xavier and Kaiming rules need rank ≥ 2). Not recorded.
    public func initialize(_ tensor: Tensor, using generator: inout RandomGenerator) {
        func fan(_ mode: FanMode) -> Float {
            let (fanIn, fanOut) = fans(of: tensor.shape)
            return Float(mode == .fanIn ? fanIn : fanOut)
        }
        switch self {
        case .zeros:
            tensor.fill(0)
        case .constant(let value):
            tensor.fill(value)
        case .uniform(let low, let high):
            fillUniform(tensor, low: low, high: high, using: &generator)
        case .normal(let mean, let standardDeviation):
            fillNormal(tensor, mean: mean, standardDeviation: standardDeviation, using: &generator)
        case .xavierUniform(let gain):
            let (fanIn, fanOut) = fans(of: tensor.shape)
            let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
            fillUniform(tensor, low: -bound, high: bound, using: &generator)
        case .xavierNormal(let gain):
            let (fanIn, fanOut) = fans(of: tensor.shape)
            fillNormal(
                tensor, mean: 0, standardDeviation: gain * (2 / Float(fanIn + fanOut)).squareRoot(), using: &generator)
        case .kaimingUniform(let mode, let nonlinearity):
            let bound = nonlinearity.gain * (3 / fan(mode)).squareRoot()
            fillUniform(tensor, low: -bound, high: bound, using: &generator)
        case .kaimingNormal(let mode, let nonlinearity):
            fillNormal(
                tensor, mean: 0, standardDeviation: nonlinearity.gain / fan(mode).squareRoot(), using: &generator)
        }
    }

    /// PyTorch's default initialization of a `Linear` or `Conv2d` layer: the weight (shape
    /// `[out, in, …]`) from `kaiming_uniform_(a = √5)` and the bias from the same bound, both
    /// `U(−1/√fan_in, 1/√fan_in)`.
    public static func pytorchDefault(weight: Tensor, bias: Tensor?, using generator: inout RandomGenerator) {
        let bound = 1 / Float(fans(of: weight.shape).fanIn).squareRoot()
        fillUniform(weight, low: -bound, high: bound, using: &generator)
        if let bias { fillUniform(bias, low: -bound, high: bound, using: &generator) }
    }
}

private func fillUniform(_ tensor: Tensor, low: Float, high: Float, using generator: inout RandomGenerator) {
    tensor.assign(Tensor.randomUniform(tensor.shape, low: low, high: high, using: &generator))
}

private func fillNormal(_ tensor: Tensor, mean: Float, standardDeviation: Float, using generator: inout RandomGenerator)
{
    tensor.assign(
        Tensor.randomNormal(tensor.shape, mean: mean, standardDeviation: standardDeviation, using: &generator))
}

extension Module {
    /// Re-initializes the weight of every `Linear` and `Conv2D` (every `WeightedLayer`) in the
    /// tree with `initializer`, and their biases with `bias` when given — the textbook's
    /// `net.apply(init_weights)` in one line:
    ///
    ///     net.initializeWeights(.xavierUniform(), using: &generator)
    ///     net.initializeWeights(.normal(mean: 0, standardDeviation: 0.01), bias: .zeros, using: &generator)
    ///
    /// Layers are visited in `apply` order (children before parents, in order), so the same
    /// seed gives the same weights.
    public func initializeWeights(
        _ initializer: Initializer, bias: Initializer? = nil,
        using generator: inout RandomGenerator
    ) {
        apply { module in
            guard let layer = module as? any WeightedLayer else { return }
            initializer.initialize(layer.weight, using: &generator)
            if let bias, let tensor = layer.bias { bias.initialize(tensor, using: &generator) }
        }
    }
}
