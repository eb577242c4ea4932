/// NumPy broadcasting: shapes, strides, and the strided walk every broadcasting kernel uses.
///
/// Two shapes broadcast when, aligned at their last dimension, each pair of extents is equal or
/// one of them is 1 (a missing leading dimension counts as 1). The result takes the larger extent.

/// The broadcast result of `a` and `b`; stops with a message naming `operation` and both shapes
/// when they do not broadcast.
func broadcastShape(_ a: [Int], _ b: [Int], operation: String) -> [Int] {
    if a == b { return a }
    let rank = max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        precondition(x == y || x == 1 || y == 1,
                     "\(operation): shapes \(a) and \(b) cannot be broadcast together (axis \(i): \(x) vs \(y))")
        result[i] = x == 1 ? y : x
    }
    return result
}

/// Row-major strides of `shape` seen through the broadcast to `target` (same or higher rank):
/// 0 along dimensions that `shape` lacks or has as 1, so those values repeat.
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let offset = target.count - shape.count
    var strides = [Int](repeating: 0, count: target.count)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i + offset] = shape[i] == 1 && target[i + offset] != 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// Walks a tensor of shape `shape` row by row (the last dimension is a row) and calls
/// `body(outputOffset, aOffset, bOffset, rowLength, aStep, bStep)` for each row, where the
/// offsets are those of the row's first element in the output (contiguous) and in the two
/// operands (through `aStrides`, `bStrides`), and the steps are the operands' strides along the row.
@inline(__always)
func forEachBroadcastRow(
    shape: [Int], aStrides: [Int], bStrides: [Int],
    _ body: (_ outputOffset: Int, _ aOffset: Int, _ bOffset: Int, _ length: Int, _ aStep: Int, _ bStep: Int) -> Void
) {
    let rank = shape.count
    if rank == 0 { body(0, 0, 0, 1, 0, 0); return }
    let length = shape[rank - 1]
    let rows = shape.dropLast().reduce(1, *)
    if length == 0 || rows == 0 { return }
    var index = [Int](repeating: 0, count: rank)
    var aOffset = 0, bOffset = 0
    for row in 0..<rows {
        body(row * length, aOffset, bOffset, length, aStrides[rank - 1], bStrides[rank - 1])
        // Advance the multi-index over the leading dimensions, odometer style.
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            aOffset += aStrides[axis]
            bOffset += bStrides[axis]
            if index[axis] < shape[axis] { break }
            aOffset -= aStrides[axis] * shape[axis]
            bOffset -= bStrides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

/// `output[i] = op(a[i], b[i])` with `a` of `aShape` and `b` of `bShape` broadcast to `outputShape`.
@inline(__always)
func broadcastBinaryKernel(
    _ output: UnsafeMutablePointer<Float>, outputShape: [Int],
    _ a: UnsafePointer<Float>, aShape: [Int],
    _ b: UnsafePointer<Float>, bShape: [Int],
    _ op: (Float, Float) -> Float
) {
    let count = outputShape.reduce(1, *)
    if aShape == bShape {
        for i in 0..<count { output[i] = op(a[i], b[i]) }
    } else if bShape.reduce(1, *) == 1 {
        let y = b[0]
        for i in 0..<count { output[i] = op(a[i], y) }
    } else if aShape.reduce(1, *) == 1 {
        let x = a[0]
        for i in 0..<count { output[i] = op(x, b[i]) }
    } else {
        forEachBroadcastRow(shape: outputShape,
                            aStrides: broadcastStrides(aShape, to: outputShape),
                            bStrides: broadcastStrides(bShape, to: outputShape)) { o, ia, ib, length, sa, sb in
            if sa == 1 && sb == 1 {
                for j in 0..<length { output[o + j] = op(a[ia + j], b[ib + j]) }
            } else if sa == 1 && sb == 0 {
                let y = b[ib]
                for j in 0..<length { output[o + j] = op(a[ia + j], y) }
            } else if sa == 0 && sb == 1 {
                let x = a[ia]
                for j in 0..<length { output[o + j] = op(x, b[ib + j]) }
            } else {
                for j in 0..<length { output[o + j] = op(a[ia + j * sa], b[ib + j * sb]) }
            }
        }
    }
}

/// `output = Σ over broadcast dimensions of input`: the adjoint of broadcasting `outputShape` to
/// `inputShape` (sums the gradient of a broadcast operand back to the operand's shape).
func sumToShapeKernel(_ output: UnsafeMutablePointer<Float>, outputShape: [Int],
                      _ input: UnsafePointer<Float>, inputShape: [Int]) {
    let outputCount = outputShape.reduce(1, *)
    output.update(repeating: 0, count: outputCount)
    forEachBroadcastRow(shape: inputShape,
                        aStrides: broadcastStrides(outputShape, to: inputShape),
                        bStrides: [Int](repeating: 0, count: inputShape.count)) { i, io, _, length, so, _ in
        if so == 1 {
            for j in 0..<length { output[io + j] += input[i + j] }
        } else {
            var sum: Float = 0
            for j in 0..<length { sum += input[i + j] }
            output[io] += sum
        }
    }
}
