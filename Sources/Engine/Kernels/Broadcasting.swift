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
        precondition(
            x == y || x == 1 || y == 1,
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

/// A broadcast walk with as few dimensions as possible: extents of 1 dropped, and neighbouring
/// dimensions merged wherever both operands step through them as through one (for each operand,
/// `stride[i] == stride[i + 1] · shape[i + 1]`, which includes two broadcast dimensions of stride
/// 0). `x[N, C, H, W] − mean[1, C, 1, 1]` walks `[N, C, H·W]` with rows of `H·W` instead of
/// `[N, C, H, W]` with rows of `W`. The walk visits the same elements in the same order.
struct BroadcastWalk {
    var shape: [Int]
    var aStrides: [Int]
    var bStrides: [Int]

    init(shape: [Int], aStrides: [Int], bStrides: [Int]) {
        var merged: [(extent: Int, a: Int, b: Int)] = []
        for axis in shape.indices where shape[axis] != 1 {
            let next = (extent: shape[axis], a: aStrides[axis], b: bStrides[axis])
            if let last = merged.last, last.a == next.a * next.extent, last.b == next.b * next.extent {
                merged[merged.count - 1] = (extent: last.extent * next.extent, a: next.a, b: next.b)
            } else {
                merged.append(next)
            }
        }
        if merged.isEmpty { merged = [(extent: shape.contains(0) ? 0 : 1, a: 0, b: 0)] }
        self.shape = merged.map(\.extent)
        self.aStrides = merged.map(\.a)
        self.bStrides = merged.map(\.b)
    }

    /// The number of rows (the product of every extent but the last) and the row length.
    var rowCount: Int { shape.dropLast().reduce(1, *) }
    var rowLength: Int { shape.last ?? 1 }
}

/// Walks the rows `rows` of `walk` (the last dimension is a row) and calls
/// `body(outputOffset, aOffset, bOffset, rowLength, aStep, bStep)` for each, where the offsets
/// are those of the row's first element in the output (contiguous) and in the two operands
/// (through `aStrides`, `bStrides`), and the steps are the operands' strides along the row.
@inline(__always)
func forEachBroadcastRow(
    _ walk: BroadcastWalk, rows: Range<Int>,
    _ body: (_ outputOffset: Int, _ aOffset: Int, _ bOffset: Int, _ length: Int, _ aStep: Int, _ bStep: Int) -> Void
) {
    let shape = walk.shape, aStrides = walk.aStrides, bStrides = walk.bStrides
    let rank = shape.count, length = walk.rowLength
    if length == 0 || rows.isEmpty { return }
    // The multi-index of the first row, then odometer steps over the leading dimensions.
    var index = [Int](repeating: 0, count: rank)
    var aOffset = 0, bOffset = 0, remaining = rows.lowerBound
    for axis in stride(from: rank - 2, through: 0, by: -1) {
        let (quotient, digit) = remaining.quotientAndRemainder(dividingBy: shape[axis])
        index[axis] = digit
        aOffset += digit * aStrides[axis]
        bOffset += digit * bStrides[axis]
        remaining = quotient
    }
    for row in rows {
        body(row * length, aOffset, bOffset, length, aStrides[rank - 1], bStrides[rank - 1])
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

/// Calls `body(rows)` for consecutive blocks of the rows of `walk`, over the cores when the walk
/// has enough elements (`parallelFor`). Every element belongs to exactly one row.
@inline(__always)
func forEachBroadcastRowBlock(_ walk: BroadcastWalk, _ body: (Range<Int>) -> Void) {
    let rows = walk.rowCount
    let blocks = Swift.max(1, Swift.min(rows, parallelBlockCount))
    parallelFor(blocks, work: rows * walk.rowLength) { block in
        body((block * rows / blocks)..<((block + 1) * rows / blocks))
    }
}

/// An elementwise operation on two floats, as a type: the broadcasting kernel is specialized
/// for each (and its row loops vectorized). A closure argument instead was called once per
/// element through the closures that split the rows over the cores.
protocol BinaryFloatOperation {
    /// The result for the elements `a` and `b`.
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

/// `a + b`.
struct AddOperation: BinaryFloatOperation {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b }
}

/// `a − b`.
struct SubtractOperation: BinaryFloatOperation {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b }
}

/// `a · b`.
struct MultiplyOperation: BinaryFloatOperation {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b }
}

/// `a / b`.
struct DivideOperation: BinaryFloatOperation {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
}

/// `−a · b` (the gradient of a divisor).
struct NegatedProductOperation: BinaryFloatOperation {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { -a * b }
}

/// `a` (a broadcast copy of the first operand).
struct FirstOperandOperation: BinaryFloatOperation {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a }
}

/// `1` where `compare(a, b)`, else `0`.
struct ComparisonOperation: BinaryFloatOperation {
    /// The comparison, as a plain function.
    let compare: (Float, Float) -> Bool
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { compare(a, b) ? 1 : 0 }
}

/// `output[i] = op(a[i], b[i])` with `a` of `aShape` and `b` of `bShape` broadcast to
/// `outputShape`, in row blocks over the cores for large outputs (each output element is
/// computed once, by the same expression, whichever core computes it).
@inline(__always)
func broadcastBinaryKernel<Operation: BinaryFloatOperation>(
    _ output: UnsafeMutablePointer<Float>, outputShape: [Int],
    _ a: UnsafePointer<Float>, aShape: [Int],
    _ b: UnsafePointer<Float>, bShape: [Int],
    _ op: Operation
) {
    let walk = BroadcastWalk(
        shape: outputShape, aStrides: broadcastStrides(aShape, to: outputShape),
        bStrides: broadcastStrides(bShape, to: outputShape))
    forEachBroadcastRowBlock(walk) { rows in
        forEachBroadcastRow(walk, rows: rows) { o, ia, ib, length, sa, sb in
            let out = output + o, x = a + ia, y = b + ib
            if sa == 1 && sb == 1 {
                for j in 0..<length { out[j] = op(x[j], y[j]) }
            } else if sa == 1 && sb == 0 {
                let v = y[0]
                for j in 0..<length { out[j] = op(x[j], v) }
            } else if sa == 0 && sb == 1 {
                let u = x[0]
                for j in 0..<length { out[j] = op(u, y[j]) }
            } else {
                for j in 0..<length { out[j] = op(x[j * sa], y[j * sb]) }
            }
        }
    }
}

/// `output = Σ over broadcast dimensions of input`: the adjoint of broadcasting `outputShape` to
/// `inputShape` (sums the gradient of a broadcast operand back to the operand's shape). Rows
/// that reduce to one element (`x[N, C, H, W]` → `[1, C, 1, 1]`: rows of `H·W`) are summed in
/// SIMD lanes (`vectorSum`). When the output is small next to the input, blocks of rows over the
/// cores sum into their own partial outputs, which are then added in block order.
func sumToShapeKernel(
    _ output: UnsafeMutablePointer<Float>, outputShape: [Int],
    _ input: UnsafePointer<Float>, inputShape: [Int]
) {
    let outputCount = outputShape.reduce(1, *), inputCount = inputShape.reduce(1, *)
    let walk = BroadcastWalk(
        shape: inputShape, aStrides: broadcastStrides(outputShape, to: inputShape),
        bStrides: [Int](repeating: 0, count: inputShape.count))
    func accumulate(_ target: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        forEachBroadcastRow(walk, rows: rows) { i, io, _, length, so, _ in
            let row = input + i
            if so == 1 {
                let out = target + io
                for j in 0..<length { out[j] += row[j] }
            } else {
                target[io] += vectorSum(row, count: length)
            }
        }
    }
    let rows = walk.rowCount
    let blocks = Swift.min(rows, parallelBlockCount)
    // Partial outputs cost blocks × outputCount floats: only when that is small next to the input.
    guard blocks > 1, inputCount >= 1 << 16, outputCount * blocks * 8 <= inputCount else {
        output.update(repeating: 0, count: outputCount)
        accumulate(output, rows: 0..<rows)
        return
    }
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: blocks * outputCount)
    defer { partials.deallocate() }
    partials.initialize(repeating: 0, count: blocks * outputCount)
    parallelFor(blocks, work: inputCount) { block in
        accumulate(partials + block * outputCount, rows: (block * rows / blocks)..<((block + 1) * rows / blocks))
    }
    output.update(from: partials, count: outputCount)
    for block in 1..<blocks {
        let partial = partials + block * outputCount
        for k in 0..<outputCount { output[k] += partial[k] }
    }
}
