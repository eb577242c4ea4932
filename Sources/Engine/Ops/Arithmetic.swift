/// Elementwise arithmetic with NumPy broadcasting: `+`, `−`, `×`, `÷`, negation.
///
/// Forward: `out = a ∘ b` over `broadcastShape(a.shape, b.shape)`. Backward: the gradient of each
/// operand is summed over the dimensions it was broadcast along (`sumToShape`), so it has the
/// operand's own shape.

extension Tensor {
    /// Applies `op` elementwise to `a` and `b` broadcast together; not recorded.
    @inline(__always)
    static func broadcastMap<Operation: BinaryFloatOperation>(
        _ a: Tensor, _ b: Tensor, operation: String,
        _ op: Operation
    ) -> Tensor {
        let result = Tensor(uninitializedShape: broadcastShape(a.shape, b.shape, operation: operation))
        broadcastBinaryKernel(
            result.pointer, outputShape: result.shape, a.pointer, aShape: a.shape,
            b.pointer, bShape: b.shape, op)
        return result
    }

    /// Applies `op` to every element; not recorded.
    @inline(__always)
    func map(_ op: (Float) -> Float) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let x = pointer, y = result.pointer
        for i in 0..<count { y[i] = op(x[i]) }
        return result
    }

    /// `a + b` for tensors of equal shape, not recorded (used to combine gradients).
    static func elementwiseSum(_ a: Tensor, _ b: Tensor) -> Tensor {
        broadcastMap(a, b, operation: "add", AddOperation())
    }

    /// The sum of `self` over the dimensions along which `shape` was broadcast to `self.shape`:
    /// the result has `shape`. Not recorded; the adjoint of broadcasting.
    func summed(toShape shape: [Int]) -> Tensor {
        if shape == self.shape { return self }
        let result = Tensor(uninitializedShape: shape)
        sumToShapeKernel(result.pointer, outputShape: shape, pointer, inputShape: self.shape)
        return result
    }

    /// `self` broadcast to `shape` (each value repeated along the dimensions where `self` has
    /// extent 1 or lacks one): the adjoint of `summed(toShape:)`. Not recorded. Stops with a
    /// message naming both shapes when `self.shape` does not broadcast to `shape`.
    func broadcasted(toShape shape: [Int]) -> Tensor {
        precondition(
            broadcastShape(self.shape, shape, operation: "broadcast") == shape,
            "broadcast: shape \(self.shape) does not broadcast to \(shape)")
        if shape == self.shape { return self }
        let result = Tensor(uninitializedShape: shape)
        broadcastBinaryKernel(
            result.pointer, outputShape: shape, pointer, aShape: self.shape,
            pointer, bShape: self.shape, FirstOperandOperation())
        return result
    }

    /// `a + b`, broadcasting. ∂/∂a = g, ∂/∂b = g (each summed to its operand's shape).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let result = broadcastMap(a, b, operation: "add", AddOperation())
        let (aShape, bShape, aNeedsGrad, bNeedsGrad) = (a.shape, b.shape, a.requiresGrad, b.requiresGrad)
        return record(result, operation: "add", inputs: [a, b]) { g in
            [
                aNeedsGrad ? g.summed(toShape: aShape) : nil,
                bNeedsGrad ? g.summed(toShape: bShape) : nil,
            ]
        }
    }

    /// `a − b`, broadcasting. ∂/∂a = g, ∂/∂b = −g.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let result = broadcastMap(a, b, operation: "sub", SubtractOperation())
        let (aShape, bShape, aNeedsGrad, bNeedsGrad) = (a.shape, b.shape, a.requiresGrad, b.requiresGrad)
        return record(result, operation: "sub", inputs: [a, b]) { g in
            [
                aNeedsGrad ? g.summed(toShape: aShape) : nil,
                bNeedsGrad ? g.map { -$0 }.summed(toShape: bShape) : nil,
            ]
        }
    }

    /// `a · b` elementwise (Hadamard), broadcasting. ∂/∂a = g·b, ∂/∂b = g·a.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let result = broadcastMap(a, b, operation: "mul", MultiplyOperation())
        // Each operand's gradient reads the other operand: save only what a needed gradient reads.
        let savedA = b.requiresGrad ? a.detached() : nil, savedB = a.requiresGrad ? b.detached() : nil
        let (aShape, bShape) = (a.shape, b.shape)
        return record(result, operation: "mul", inputs: [a, b]) { g in
            [
                savedB.map {
                    broadcastMap(g, $0, operation: "mul backward", MultiplyOperation()).summed(toShape: aShape)
                },
                savedA.map {
                    broadcastMap(g, $0, operation: "mul backward", MultiplyOperation()).summed(toShape: bShape)
                },
            ]
        }
    }

    /// `a / b` elementwise, broadcasting. ∂/∂a = g / b, ∂/∂b = −g·a / b².
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let result = broadcastMap(a, b, operation: "div", DivideOperation())
        let savedB = b.detached(), savedResult = b.requiresGrad ? result.detached() : nil
        let (aShape, bShape, aNeedsGrad) = (a.shape, b.shape, a.requiresGrad)
        return record(result, operation: "div", inputs: [a, b]) { g in
            let gOverB = broadcastMap(g, savedB, operation: "div backward", DivideOperation())
            return [
                aNeedsGrad ? gOverB.summed(toShape: aShape) : nil,
                // −g·a/b² = −(g/b)·(a/b) = −(g/b)·result
                savedResult.map {
                    broadcastMap(gOverB, $0, operation: "div backward", NegatedProductOperation())
                        .summed(toShape: bShape)
                },
            ]
        }
    }

    /// `−x`. ∂/∂x = −g.
    public static prefix func - (x: Tensor) -> Tensor {
        let result = x.map { -$0 }
        return record(result, operation: "neg", inputs: [x]) { g in [g.map { -$0 }] }
    }

    /// `a + s` for every element.
    public static func + (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: s) }
    /// `s + b` for every element.
    public static func + (s: Float, b: Tensor) -> Tensor { Tensor(scalar: s) + b }
    /// `a − s` for every element.
    public static func - (a: Tensor, s: Float) -> Tensor { a - Tensor(scalar: s) }
    /// `s − b` for every element.
    public static func - (s: Float, b: Tensor) -> Tensor { Tensor(scalar: s) - b }
    /// `a · s` for every element.
    public static func * (a: Tensor, s: Float) -> Tensor { a * Tensor(scalar: s) }
    /// `s · b` for every element.
    public static func * (s: Float, b: Tensor) -> Tensor { Tensor(scalar: s) * b }
    /// `a / s` for every element.
    public static func / (a: Tensor, s: Float) -> Tensor { a / Tensor(scalar: s) }
    /// `s / b` for every element.
    public static func / (s: Float, b: Tensor) -> Tensor { Tensor(scalar: s) / b }
}
