/// Reductions: sum, mean, max over all elements or along one axis, and argmax.
///
/// Along an axis a tensor is viewed as `[outer, n, inner]`, where `n` is the axis's extent,
/// `outer` the product of the extents before it and `inner` of those after it.

/// `(outer, n, inner)` for reducing `shape` along `axis` (negative axes count from the end).
func reductionGeometry(_ shape: [Int], axis: Int, operation: String) -> (axis: Int, outer: Int, n: Int, inner: Int) {
    let resolved = axis < 0 ? axis + shape.count : axis
    precondition(resolved >= 0 && resolved < shape.count, "\(operation): axis \(axis) out of range for shape \(shape)")
    let outer = shape[..<resolved].reduce(1, *)
    let inner = shape[(resolved + 1)...].reduce(1, *)
    return (resolved, outer, shape[resolved], inner)
}

/// The shape after reducing `axis`: the axis is kept with extent 1, or removed.
func reducedShape(_ shape: [Int], axis: Int, keepDims: Bool) -> [Int] {
    var result = shape
    if keepDims { result[axis] = 1 } else { result.remove(at: axis) }
    return result
}

/// `Σᵢ xᵢ` over `count` values at `x`, accumulated in `Double`: the result is within
/// `count · 2⁻⁵³ · Σ|xᵢ|` of the exact sum. Where the terms do not cancel (losses, squared
/// errors) that is far below float32's half-ulp of the sum for any count below 2²⁹, so the sum
/// rounded once to `Float` is within about half an ulp. A float32 running sum errs by up to
/// `count · 2⁻²⁴ · Σ|xᵢ|` instead (measured 1e-6 relative on a batch of 256 losses). Used by the
/// whole-tensor `sum()` and `mean()` and by the losses' reductions.
func accurateSum(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0
    for i in 0..<count { total += Double(x[i]) }
    return total
}

/// `accurateSum` over an array.
func accurateSum(_ values: [Float]) -> Double {
    values.withUnsafeBufferPointer { buffer in
        buffer.baseAddress.map { accurateSum($0, count: buffer.count) } ?? 0
    }
}

extension Tensor {
    /// `Σᵢ xᵢ` over all elements, as a scalar (shape `[]`), accumulated in `Double`
    /// (`accurateSum`) and rounded once. ∂/∂x = g everywhere.
    public func sum() -> Tensor {
        let total = Float(accurateSum(pointer, count: count))
        let shape = self.shape
        return Tensor.record(Tensor(scalar: total), operation: "sum", inputs: [self]) { g in
            [Tensor(shape: shape, repeating: g.item)]
        }
    }

    /// The sum along `axis`: `out[o, i] = Σₖ x[o, k, i]`; the axis is removed, or kept with
    /// extent 1 when `keepDims`. ∂/∂x broadcasts g back along the axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let (axis, outer, n, inner) = reductionGeometry(shape, axis: axis, operation: "sum")
        let result = Tensor(shape: reducedShape(shape, axis: axis, keepDims: keepDims), repeating: 0)
        let x = pointer, y = result.pointer
        // Tasks of (outer index, block of up to 1024 columns), over the cores when large; every
        // output element adds its n terms in order k = 0, 1, …, whichever core runs it.
        let block = Swift.min(inner, 1024), blocks = inner == 0 ? 0 : (inner + block - 1) / block
        parallelFor(outer * blocks, work: count) { task in
            let (o, b) = task.quotientAndRemainder(dividingBy: blocks)
            let columns = (b * block)..<Swift.min((b + 1) * block, inner)
            let out = y + o * inner
            for k in 0..<n {
                let row = x + (o * n + k) * inner
                for i in columns { out[i] += row[i] }
            }
        }
        let shape = self.shape
        return Tensor.record(result, operation: "sum", inputs: [self]) { g in
            [g.reshaped(reducedShape(shape, axis: axis, keepDims: true)).broadcasted(toShape: shape)]
        }
    }

    /// The mean of all elements, as a scalar: the `Double` sum of `sum()` divided by the count,
    /// rounded once. ∂/∂x = g / count.
    public func mean() -> Tensor {
        let n = Swift.max(count, 1)
        let shape = self.shape
        let result = Tensor(scalar: Float(accurateSum(pointer, count: count) / Double(n)))
        return Tensor.record(result, operation: "mean", inputs: [self]) { g in
            [Tensor(shape: shape, repeating: g.item / Float(n))]
        }
    }

    /// The mean along `axis` (see `sum(axis:keepDims:)`). ∂/∂x = g / n broadcast along the axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let (_, _, n, _) = reductionGeometry(shape, axis: axis, operation: "mean")
        return sum(axis: axis, keepDims: keepDims) / Float(n)
    }

    /// The largest element, as a scalar. The gradient flows to the first largest element
    /// (not split among ties). Stops on an empty tensor.
    public func max() -> Tensor {
        precondition(count > 0, "max: empty tensor of shape \(shape)")
        let index = argmax()
        let shape = self.shape, count = self.count
        return Tensor.record(Tensor(scalar: pointer[index]), operation: "max", inputs: [self]) { g in
            let dx = Tensor(shape: shape, repeating: 0)
            if count > 0 { dx.pointer[index] = g.item }
            return [dx]
        }
    }

    /// The largest value along `axis` (PyTorch's `max(dim).values`); the gradient flows to the
    /// first position holding it in each slice.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let (axis, outer, n, inner) = reductionGeometry(shape, axis: axis, operation: "max")
        precondition(n > 0, "max: axis \(axis) of shape \(shape) is empty")
        let indices = argmaxIndices(outer: outer, n: n, inner: inner)
        let result = Tensor(uninitializedShape: reducedShape(shape, axis: axis, keepDims: keepDims))
        let x = pointer, y = result.pointer
        for o in 0..<outer {
            for i in 0..<inner { y[o * inner + i] = x[(o * n + indices[o * inner + i]) * inner + i] }
        }
        let shape = self.shape
        return Tensor.record(result, operation: "max", inputs: [self]) { g in
            let dx = Tensor(shape: shape, repeating: 0)
            for o in 0..<outer {
                for i in 0..<inner {
                    dx.pointer[(o * n + indices[o * inner + i]) * inner + i] = g.pointer[o * inner + i]
                }
            }
            return [dx]
        }
    }

    /// The flat index of the first largest element (NaN compares as smaller than everything).
    public func argmax() -> Int {
        precondition(count > 0, "argmax: empty tensor of shape \(shape)")
        return argmaxIndices(outer: 1, n: count, inner: 1)[0]
    }

    /// For each slice along `axis`, the index of its first largest element; shape as `shape`
    /// without the axis. Like `torch.argmax(x, dim)`.
    public func argmax(axis: Int) -> [Int] {
        let (_, outer, n, inner) = reductionGeometry(shape, axis: axis, operation: "argmax")
        precondition(n > 0, "argmax: axis \(axis) of shape \(shape) is empty")
        return argmaxIndices(outer: outer, n: n, inner: inner)
    }

    private func argmaxIndices(outer: Int, n: Int, inner: Int) -> [Int] {
        var result = [Int](repeating: 0, count: outer * inner)
        let x = pointer
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                var bestValue = x[o * n * inner + i]
                for k in 1..<Swift.max(n, 1) {
                    let value = x[(o * n + k) * inner + i]
                    if value > bestValue || (bestValue.isNaN && !value.isNaN) {
                        best = k
                        bestValue = value
                    }
                }
                result[o * inner + i] = best
            }
        }
        return result
    }
}
