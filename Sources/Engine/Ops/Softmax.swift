import Foundation

/// Softmax and log-softmax along an axis, computed through LogSumExp so that no `exp` overflows:
/// with `m = maxₖ xₖ`, `logsumexp(x) = m + log Σₖ exp(xₖ − m)`,
/// `log_softmax(x) = (x − m) − log Σₖ exp(xₖ − m)` and `softmax(x) = exp(log_softmax(x))`.

/// For each slice along the axis of a `[outer, n, inner]` view:
/// `output = (x − m) − log Σₖ exp(xₖ − m)`, `m = maxₖ xₖ`.
///
/// The order of the operations is the precision: `x − (m + log Σ …)` would round `m + log Σ …` at
/// the size of the logits (float32's spacing is 2.4e-4 at 3000, so an error of up to 1.2e-4 on
/// `[3000, 2999, 2995]`); `x − m` is exact when x and m are within a factor 2 of each other
/// (Sterbenz), and otherwise rounded at its own size, so the result rounds at its own size, as
/// PyTorch's does.
func logSoftmaxKernel(
    _ output: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
    outer: Int, n: Int, inner: Int
) {
    for o in 0..<outer {
        for i in 0..<inner {
            let base = o * n * inner + i
            var m = -Float.infinity
            for k in 0..<n { m = Swift.max(m, input[base + k * inner]) }
            if m == -Float.infinity { m = 0 } // all −∞: no −∞ − (−∞) in the shifts (the result is NaN, as PyTorch's)
            var sum: Float = 0
            for k in 0..<n { sum += Foundation.exp(input[base + k * inner] - m) }
            let logSum = Foundation.log(sum)
            for k in 0..<n { output[base + k * inner] = (input[base + k * inner] - m) - logSum }
        }
    }
}

extension Tensor {
    /// `softmax(x)ₖ = exp(xₖ − logsumexp(x))` along `axis` (default: the last).
    /// Backward: `∂/∂x = y ⊙ (g − Σₖ gₖ yₖ)`, with `y` the softmax.
    public func softmax(axis: Int = -1) -> Tensor {
        let (_, outer, n, inner) = reductionGeometry(shape, axis: axis, operation: "softmax")
        let result = Tensor(uninitializedShape: shape)
        logSoftmaxKernel(result.pointer, pointer, outer: outer, n: n, inner: inner)
        for i in 0..<count { result.pointer[i] = Foundation.exp(result.pointer[i]) }
        let savedY = result.detached()
        return Tensor.record(result, operation: "softmax", inputs: [self]) { g in
            let dx = Tensor(uninitializedShape: g.shape)
            let y = savedY.pointer, gp = g.pointer, d = dx.pointer
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var dot: Float = 0
                    for k in 0..<n { dot += gp[base + k * inner] * y[base + k * inner] }
                    for k in 0..<n { d[base + k * inner] = y[base + k * inner] * (gp[base + k * inner] - dot) }
                }
            }
            return [dx]
        }
    }

    /// `log_softmax(x)ₖ = xₖ − logsumexp(x)` along `axis` (default: the last); finite for any
    /// finite input. Backward: `∂/∂x = g − softmax(x) · Σₖ gₖ`.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let (_, outer, n, inner) = reductionGeometry(shape, axis: axis, operation: "logSoftmax")
        let result = Tensor(uninitializedShape: shape)
        logSoftmaxKernel(result.pointer, pointer, outer: outer, n: n, inner: inner)
        let savedY = result.detached()
        return Tensor.record(result, operation: "logSoftmax", inputs: [self]) { g in
            let dx = Tensor(uninitializedShape: g.shape)
            let y = savedY.pointer, gp = g.pointer, d = dx.pointer
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var sum: Float = 0
                    for k in 0..<n { sum += gp[base + k * inner] }
                    for k in 0..<n {
                        d[base + k * inner] = gp[base + k * inner] - Foundation.exp(y[base + k * inner]) * sum
                    }
                }
            }
            return [dx]
        }
    }
}
