import Foundation

/// Elementwise functions and activations, each with its derivative beside it.

extension Tensor {
    /// Records an elementwise function: `y = f(x)`, `∂/∂x = g · f′`, where `derivative(x, y)`
    /// gives `f′` from the input and output values.
    @inline(__always)
    private func elementwise(_ operation: String, _ f: (Float) -> Float,
                             derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
        let result = map(f)
        let savedX = detached(), savedY = result.detached()
        return Tensor.record(result, operation: operation, inputs: [self]) { g in
            let dx = Tensor(uninitializedShape: g.shape)
            let x = savedX.pointer, y = savedY.pointer, gp = g.pointer, d = dx.pointer
            for i in 0..<g.count { d[i] = gp[i] * derivative(x[i], y[i]) }
            return [dx]
        }
    }

    /// `eˣ` elementwise. Derivative `eˣ`.
    public func exp() -> Tensor { elementwise("exp", { Foundation.exp($0) }, derivative: { _, y in y }) }

    /// Natural logarithm elementwise. Derivative `1/x`.
    public func log() -> Tensor { elementwise("log", { Foundation.log($0) }, derivative: { x, _ in 1 / x }) }

    /// `√x` elementwise. Derivative `1/(2√x)`.
    public func sqrt() -> Tensor { elementwise("sqrt", { $0.squareRoot() }, derivative: { _, y in 0.5 / y }) }

    /// `xᵖ` elementwise for a constant exponent. Derivative `p·xᵖ⁻¹`.
    public func pow(_ exponent: Float) -> Tensor {
        if exponent == 2 { return squared() }
        return elementwise("pow", { Foundation.pow($0, exponent) },
                           derivative: { x, _ in exponent * Foundation.pow(x, exponent - 1) })
    }

    /// `x²` elementwise. Derivative `2x`.
    public func squared() -> Tensor { elementwise("square", { $0 * $0 }, derivative: { x, _ in 2 * x }) }

    /// `max(x, 0)` elementwise. Derivative 1 where `x > 0`, else 0 (0 at the kink, as in PyTorch).
    public func relu() -> Tensor { elementwise("relu", { Swift.max($0, 0) }, derivative: { x, _ in x > 0 ? 1 : 0 }) }

    /// `σ(x) = 1/(1 + e⁻ˣ)` elementwise, computed without overflow for large `|x|`.
    /// Derivative `σ(x)(1 − σ(x))`.
    public func sigmoid() -> Tensor {
        elementwise("sigmoid", { x in
            if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
            let e = Foundation.exp(x)
            return e / (1 + e)
        }, derivative: { _, y in y * (1 - y) })
    }

    /// `tanh(x)` elementwise. Derivative `1 − tanh²(x)`.
    public func tanh() -> Tensor { elementwise("tanh", { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y }) }
}
