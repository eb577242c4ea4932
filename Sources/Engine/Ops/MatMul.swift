/// Matrix products through `cblas_sgemm`, 2-D and batched, with transposes passed as flags.

/// `C[b] = op(A[b]) · op(B[b]) (+ beta · C[b])` for `b` in `0..<batch`; a stride of 0 reuses the
/// same matrix for every `b`. `op(A)` is `[m, k]`, `op(B)` is `[k, n]`, `C` is `[m, n]`.
func batchedGEMM(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, strideA: Int, b: UnsafePointer<Float>, strideB: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, strideC: Int, batch: Int
) {
    for index in 0..<batch {
        BLAS.sgemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
            a: a + index * strideA, lda: transposeA ? m : k,
            b: b + index * strideB, ldb: transposeB ? k : n,
            beta: beta, c: c + index * strideC, ldc: n)
    }
}

/// The matrix product `op(a) · op(b)`, where `op` transposes the last two dimensions when its
/// flag is set (the transpose is passed to BLAS, nothing is copied).
///
/// - `a` `[m, k]` (or `[k, m]` with `transposeA`), `b` `[k, n]` (or `[n, k]`) → `[m, n]`;
/// - batched: `a` `[B, m, k]`, `b` `[B, k, n]` → `[B, m, n]`, one product per batch entry;
/// - `a` `[B, m, k]` with a matrix `b` `[k, n]` → `[B, m, n]` (the same `b` for every entry).
///
/// Backward: `∂/∂op(a) = g · op(b)ᵀ`, `∂/∂op(b) = op(a)ᵀ · g` (summed over the batch for a
/// shared `b`), each again as one GEMM with flags.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(
        (a.rank == 2 && b.rank == 2) || (a.rank == 3 && (b.rank == 3 || b.rank == 2)),
        "matmul: unsupported ranks, shapes \(a.shape) and \(b.shape) (need [m,k]·[k,n], [B,m,k]·[B,k,n] or [B,m,k]·[k,n])"
    )
    let batch = a.rank == 3 ? a.shape[0] : 1
    let aRows = a.shape[a.rank - 2], aColumns = a.shape[a.rank - 1]
    let bRows = b.shape[b.rank - 2], bColumns = b.shape[b.rank - 1]
    let (m, k) = transposeA ? (aColumns, aRows) : (aRows, aColumns)
    let (kB, n) = transposeB ? (bColumns, bRows) : (bRows, bColumns)
    precondition(
        k == kB,
        "matmul: inner dimensions differ, shapes \(a.shape)\(transposeA ? "ᵀ" : "") and \(b.shape)\(transposeB ? "ᵀ" : "") (\(k) vs \(kB))"
    )
    precondition(b.rank == 2 || b.shape[0] == batch, "matmul: batch sizes differ, shapes \(a.shape) and \(b.shape)")
    let sharedB = b.rank == 2 && a.rank == 3
    let strideB = sharedB ? 0 : k * n

    let result = Tensor(uninitializedShape: a.rank == 3 ? [batch, m, n] : [m, n])
    batchedGEMM(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
        a: a.pointer, strideA: m * k, b: b.pointer, strideB: strideB,
        c: result.pointer, strideC: m * n, batch: batch)

    // ∂/∂a reads b and ∂/∂b reads a: save only what a needed gradient reads.
    let savedA = b.requiresGrad ? a.detached() : nil, savedB = a.requiresGrad ? b.detached() : nil
    let aShape = a.shape, bShape = b.shape
    return Tensor.record(result, operation: "matmul", inputs: [a, b]) { g in
        var gradA: Tensor?, gradB: Tensor?
        if let savedB {
            let da = Tensor(uninitializedShape: aShape)
            if !transposeA { // dA[m,k] = g[m,n] · op(B)ᵀ
                batchedGEMM(
                    transposeA: false, transposeB: !transposeB, m: m, n: k, k: n,
                    a: g.pointer, strideA: m * n, b: savedB.pointer, strideB: strideB,
                    c: da.pointer, strideC: m * k, batch: batch)
            } else { // stored A is [k,m]: dAₛ = op(B) · gᵀ
                batchedGEMM(
                    transposeA: transposeB, transposeB: true, m: k, n: m, k: n,
                    a: savedB.pointer, strideA: strideB, b: g.pointer, strideB: m * n,
                    c: da.pointer, strideC: m * k, batch: batch)
            }
            gradA = da
        }
        if let savedA {
            let db = Tensor(shape: bShape, repeating: 0)
            // A shared B sums its gradient over the batch: accumulate with beta = 1.
            let beta: Float = sharedB ? 1 : 0
            if !transposeB { // dB[k,n] = op(A)ᵀ · g
                batchedGEMM(
                    transposeA: !transposeA, transposeB: false, m: k, n: n, k: m,
                    a: savedA.pointer, strideA: m * k, b: g.pointer, strideB: m * n,
                    beta: beta, c: db.pointer, strideC: strideB, batch: batch)
            } else { // stored B is [n,k]: dBₛ = gᵀ · op(A)
                batchedGEMM(
                    transposeA: true, transposeB: transposeA, m: n, n: k, k: m,
                    a: g.pointer, strideA: m * n, b: savedA.pointer, strideB: m * k,
                    beta: beta, c: db.pointer, strideC: strideB, batch: batch)
            }
            gradB = db
        }
        return [gradA, gradB]
    }
}

extension Tensor {
    /// `matmul(self, other)`: the matrix product (see `matmul(_:_:transposeA:transposeB:)`).
    public func matmul(_ other: Tensor) -> Tensor { Engine.matmul(self, other) }
}
