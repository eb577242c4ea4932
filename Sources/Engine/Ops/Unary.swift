import Foundation

/// Elementwise functions and activations, each with its derivative beside it.
///
/// Forward and backward loops go through `map` / `zipMap`, which take non-escaping closures and
/// are inlined, so each op compiles to its own tight loop (no call per element).

extension Tensor {
    /// `op(a[i], b[i])` for tensors of one shape; not recorded.
    @inline(__always)
    static func zipMap(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        let result = Tensor(uninitializedShape: a.shape)
        let x = a.pointer, y = b.pointer, z = result.pointer
        for i in 0..<a.count { z[i] = op(x[i], y[i]) }
        return result
    }

    /// `eˣ` elementwise. ∂/∂x = g · eˣ.
    public func exp() -> Tensor {
        let result = map { Foundation.exp($0) }
        let y = result.detached()
        return Tensor.record(result, operation: "exp", inputs: [self]) { g in [Tensor.zipMap(g, y, *)] }
    }

    /// Natural logarithm elementwise. ∂/∂x = g / x.
    public func log() -> Tensor {
        let x = detached()
        return Tensor.record(map { Foundation.log($0) }, operation: "log", inputs: [self]) { g in
            [Tensor.zipMap(g, x, /)]
        }
    }

    /// `√x` elementwise. ∂/∂x = g / (2√x).
    public func sqrt() -> Tensor {
        let result = map { $0.squareRoot() }
        let y = result.detached()
        return Tensor.record(result, operation: "sqrt", inputs: [self]) { g in [Tensor.zipMap(g, y) { 0.5 * $0 / $1 }] }
    }

    /// `xᵖ` elementwise for a constant exponent. ∂/∂x = g · p·xᵖ⁻¹.
    public func pow(_ exponent: Float) -> Tensor {
        if exponent == 2 { return squared() }
        let x = detached()
        return Tensor.record(map { Foundation.pow($0, exponent) }, operation: "pow", inputs: [self]) { g in
            [Tensor.zipMap(g, x) { $0 * exponent * Foundation.pow($1, exponent - 1) }]
        }
    }

    /// `x²` elementwise. ∂/∂x = g · 2x.
    public func squared() -> Tensor {
        let x = detached()
        return Tensor.record(map { $0 * $0 }, operation: "square", inputs: [self]) { g in
            [Tensor.zipMap(g, x) { 2 * $0 * $1 }]
        }
    }

    /// `max(x, 0)` elementwise. ∂/∂x = g where `x > 0`, else 0 (0 at the kink, as in PyTorch).
    /// The backward reads one bit per element saved by the forward (1/32 of the output), not the
    /// output, so the output is freed when the next op does not save it (a max pooling does not).
    public func relu() -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let signs = SavedBuffer<UInt8>(count: (count + 7) / 8)
        reluKernel(result.pointer, signs: signs.base, pointer, count: count)
        let count = self.count
        return Tensor.record(result, operation: "relu", inputs: [self]) { g in
            let dx = Tensor(uninitializedShape: g.shape)
            reluBackwardKernel(dx.pointer, g.pointer, signs: signs.base, count: count)
            return [dx]
        }
    }

    /// `σ(x) = 1/(1 + e⁻ˣ)` elementwise, without overflow for large `|x|`. ∂/∂x = g · σ(1 − σ).
    /// Computed 8 lanes at a time with `vectorExp` (within 2 ulp of `exp`).
    public func sigmoid() -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        sigmoidKernel(result.pointer, pointer, count: count)
        let y = result.detached()
        return Tensor.record(result, operation: "sigmoid", inputs: [self]) { g in
            let dx = Tensor(uninitializedShape: y.shape)
            sigmoidBackwardKernel(dx.pointer, g.pointer, y.pointer, count: y.count)
            return [dx]
        }
    }

    /// `tanh(x)` elementwise. ∂/∂x = g · (1 − tanh²(x)).
    public func tanh() -> Tensor {
        let result = map { Foundation.tanh($0) }
        let y = result.detached()
        return Tensor.record(result, operation: "tanh", inputs: [self]) { g in
            [Tensor.zipMap(g, y) { $0 * (1 - $1 * $1) }]
        }
    }
}
