import CBLAS

/// What can go wrong solving a linear least-squares problem.
public enum LinearAlgebraError: Error, CustomStringConvertible, Equatable {
    /// `A` does not have full column rank (LAPACK reported a zero diagonal element of `R`).
    case rankDeficient(shape: [Int])
    /// LAPACK rejected an argument (its `info` < 0).
    case invalidArgument(routine: String, info: Int)

    public var description: String {
        switch self {
        case .rankDeficient(let shape):
            return "least squares: the matrix of shape \(shape) does not have full column rank"
        case .invalidArgument(let routine, let info):
            return "\(routine): argument \(-info) was invalid"
        }
    }
}

/// Closed-form linear regression through LAPACK.
public enum LeastSquares {
    /// The `x` minimising `‖A x − b‖₂` for `a` `[m, n]` with `m ≥ n` and full column rank, and `b`
    /// `[m]` or `[m, k]` (k right-hand sides); returns `[n]` or `[n, k]`. Solved by QR
    /// factorisation (`LAPACKE_sgels`), not by forming `AᵀA`. Throws `rankDeficient` when the
    /// triangular factor `R` is singular to working precision (its reciprocal condition number,
    /// from `LAPACKE_strcon`, is below `n · ε`).
    public static func solve(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        precondition(a.rank == 2, "LeastSquares.solve: A must be a matrix, got shape \(a.shape)")
        precondition(
            (b.rank == 1 || b.rank == 2) && b.shape[0] == a.shape[0],
            "LeastSquares.solve: A \(a.shape) and b \(b.shape) have different numbers of rows")
        let m = a.shape[0], n = a.shape[1], k = b.rank == 2 ? b.shape[1] : 1
        precondition(m >= n, "LeastSquares.solve: A \(a.shape) has fewer rows than columns")
        let workA = a.copy(), workB = b.copy() // sgels overwrites both
        let info = LAPACKE_sgels(
            LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "N")), Int32(m), Int32(n), Int32(k),
            workA.pointer, Int32(n), workB.pointer, Int32(k))
        if info > 0 { throw LinearAlgebraError.rankDeficient(shape: a.shape) }
        if info < 0 { throw LinearAlgebraError.invalidArgument(routine: "LAPACKE_sgels", info: Int(info)) }
        // sgels only stops on an exactly zero pivot; a nearly singular R gives garbage, so check it.
        var reciprocalCondition: Float = 0
        let conditionInfo = LAPACKE_strcon(
            LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "1")), Int8(UInt8(ascii: "U")),
            Int8(UInt8(ascii: "N")), Int32(n), workA.pointer, Int32(n), &reciprocalCondition)
        if conditionInfo < 0 {
            throw LinearAlgebraError.invalidArgument(routine: "LAPACKE_strcon", info: Int(conditionInfo))
        }
        if n > 0 && !(reciprocalCondition >= Float(n) * Float.ulpOfOne) {
            throw LinearAlgebraError.rankDeficient(shape: a.shape)
        }
        // The first n rows of B now hold the solution.
        return Tensor(Array(workB.buffer.prefix(n * k)), shape: b.rank == 2 ? [n, k] : [n])
    }

    /// Ridge regression: the `x` minimising `‖A x − b‖₂² + λ‖x‖₂²` (λ ≥ 0), solved as the ordinary
    /// least-squares problem on the augmented system `[A; √λ I] x ≈ [b; 0]`.
    public static func solveRidge(_ a: Tensor, _ b: Tensor, lambda: Float) throws -> Tensor {
        precondition(lambda >= 0, "LeastSquares.solveRidge: lambda must be >= 0, got \(lambda)")
        precondition(
            a.rank == 2 && (b.rank == 1 || b.rank == 2) && b.shape[0] == a.shape[0],
            "LeastSquares.solveRidge: A \(a.shape) and b \(b.shape) do not match")
        let m = a.shape[0], n = a.shape[1], k = b.rank == 2 ? b.shape[1] : 1
        let augmentedA = Tensor(shape: [m + n, n], repeating: 0)
        augmentedA.pointer.update(from: a.pointer, count: m * n)
        let root = lambda.squareRoot()
        for i in 0..<n { augmentedA.pointer[(m + i) * n + i] = root }
        let augmentedB = Tensor(shape: b.rank == 2 ? [m + n, k] : [m + n], repeating: 0)
        augmentedB.pointer.update(from: b.pointer, count: m * k)
        return try solve(augmentedA, augmentedB)
    }
}
