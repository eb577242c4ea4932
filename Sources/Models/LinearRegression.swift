// Linear regression, from scratch: "Dive into Deep Learning", section 3.2
// (https://d2l.ai/chapter_linear-regression/linear-regression-scratch.html).
// Deviation: none. The book's parameters are w ~ N(0, 0.01²) and b = 0.
import Engine

/// The linear model `ŷ = X w + b` with its two parameters exposed, as the book writes it.
public final class LinearRegression {
    /// Weights `w`, shape `[inputs, 1]`.
    public let weight: Tensor
    /// Bias `b`, shape `[1]`.
    public let bias: Tensor

    /// A model for `inputs` features with `w ~ N(0, standardDeviation²)` drawn from `generator` and `b = 0`.
    public init(inputs: Int, standardDeviation: Float = 0.01, using generator: inout RandomGenerator) {
        weight = Tensor.randomNormal([inputs, 1], standardDeviation: standardDeviation, using: &generator)
        bias = Tensor.zeros([1])
        weight.requiresGrad = true
        bias.requiresGrad = true
    }

    /// The parameters, in the order `[weight, bias]`.
    public var parameters: [Tensor] { [weight, bias] }

    /// `X w + b` for `x` `[N, inputs]`; returns `[N, 1]`.
    public func callAsFunction(_ x: Tensor) -> Tensor { matmul(x, weight) + bias }
}
