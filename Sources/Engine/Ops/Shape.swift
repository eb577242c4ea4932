/// Shape changes and row selection: reshape, flatten, transpose, row slices, row gathering.

extension Tensor {
    /// The same values with another shape (`torch.reshape`); one extent may be −1 and is then
    /// inferred. Shares memory (tensors are contiguous). ∂/∂x = g reshaped back.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) into \(newShape)")
            target[inferred] = count / known
        }
        precondition(
            newShape.filter({ $0 == -1 }).count <= 1 && target.allSatisfy({ $0 >= 0 })
                && target.reduce(1, *) == count,
            "reshape: cannot reshape \(shape) (\(count) elements) into \(newShape)")
        let result = Tensor(shape: target, storage: storage)
        let shape = self.shape
        return Tensor.record(result, operation: "reshape", inputs: [self]) { g in [g.reshaped(shape)] }
    }

    /// All elements as a vector `[count]`.
    public func flattened() -> Tensor { reshaped([count]) }

    /// Keeps the dimensions before `startAxis` and merges the rest: `[N, C, H, W]` → `[N, C·H·W]`
    /// for `startAxis: 1` (PyTorch's `flatten(start_dim)`).
    public func flattened(startAxis: Int) -> Tensor {
        precondition(
            startAxis >= 0 && startAxis <= rank, "flatten: start axis \(startAxis) out of range for shape \(shape)")
        return reshaped(Array(shape[..<startAxis]) + [shape[startAxis...].reduce(1, *)])
    }

    /// The transpose of a matrix: `[m, n]` → `[n, m]`, `out[j, i] = x[i, j]` (a copy; matmul takes
    /// transposes as flags instead). ∂/∂x = gᵀ.
    public func transposed() -> Tensor {
        precondition(rank == 2, "transpose: needs a matrix, got shape \(shape)")
        let rows = shape[0], columns = shape[1]
        let result = Tensor(uninitializedShape: [columns, rows])
        transposeKernel(result.pointer, pointer, rows: rows, columns: columns)
        return Tensor.record(result, operation: "transpose", inputs: [self]) { g in [g.transposed()] }
    }

    /// Rows `range` of the first dimension: `x[range]` (a copy). ∂/∂x puts g into those rows.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(
            rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
            "rows: range \(range) out of bounds for shape \(shape)")
        let rowSize = shape.dropFirst().reduce(1, *)
        var resultShape = shape
        resultShape[0] = range.count
        let result = Tensor(uninitializedShape: resultShape)
        result.pointer.update(from: pointer + range.lowerBound * rowSize, count: range.count * rowSize)
        let shape = self.shape
        return Tensor.record(result, operation: "rows", inputs: [self]) { g in
            let dx = Tensor(shape: shape, repeating: 0)
            (dx.pointer + range.lowerBound * rowSize).update(from: g.pointer, count: g.count)
            return [dx]
        }
    }

    /// The rows at `indices` of the first dimension, in that order (`x[indices]`, a copy; an index
    /// may repeat). ∂/∂x adds each row of g into the row it came from.
    public func gatheringRows(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "gatheringRows: needs at least one dimension, got shape \(shape)")
        let rowSize = shape.dropFirst().reduce(1, *)
        var resultShape = shape
        resultShape[0] = indices.count
        let result = Tensor(uninitializedShape: resultShape)
        for (row, index) in indices.enumerated() {
            precondition(
                index >= 0 && index < shape[0], "gatheringRows: index \(index) out of range for shape \(shape)")
            (result.pointer + row * rowSize).update(from: pointer + index * rowSize, count: rowSize)
        }
        let shape = self.shape
        return Tensor.record(result, operation: "gatheringRows", inputs: [self]) { g in
            let dx = Tensor(shape: shape, repeating: 0)
            for (row, index) in indices.enumerated() {
                let source = g.pointer + row * rowSize, target = dx.pointer + index * rowSize
                for j in 0..<rowSize { target[j] += source[j] }
            }
            return [dx]
        }
    }
}

/// `output[j, i] = input[i, j]` for `input` of shape `[rows, columns]`, in cache-sized tiles.
func transposeKernel(_ output: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, rows: Int, columns: Int) {
    let tile = 32
    for i0 in stride(from: 0, to: rows, by: tile) {
        for j0 in stride(from: 0, to: columns, by: tile) {
            for i in i0..<min(i0 + tile, rows) {
                for j in j0..<min(j0 + tile, columns) { output[j * rows + i] = input[i * columns + j] }
            }
        }
    }
}
