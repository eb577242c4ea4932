import Engine
import Testing

@Suite("Least squares (LAPACKE)")
struct LeastSquaresTests {
    @Test("an exactly solvable system gives its solution")
    func exactSystem() throws {
        // x = [1, -2], A x = b exactly.
        let a = Tensor([[2, 1], [1, 3], [0, 1]])
        let b = Tensor([0, -5, -2])
        let x = try LeastSquares.solve(a, b)
        #expect(x.shape == [2])
        #expect(x.isClose(to: Tensor([1, -2]), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    }

    @Test("an overdetermined system gives the normal-equations solution")
    func overdetermined() throws {
        // Fit y = c0 + c1 t to (0, 1), (1, 2), (2, 2), (3, 4): normal equations give c = [0.9, 0.9].
        let a = Tensor([[1, 0], [1, 1], [1, 2], [1, 3]])
        let y = Tensor([1, 2, 2, 4], shape: [4, 1])
        let c = try LeastSquares.solve(a, y)
        #expect(c.shape == [2, 1])
        #expect(c.isClose(to: Tensor([0.9, 0.9], shape: [2, 1]), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    }

    @Test("ridge regression solves (AᵀA + λI) x = Aᵀb")
    func ridge() throws {
        // A = I₂ (2×2), b = [2, 4], λ = 1: (I + I) x = b → x = [1, 2].
        let x = try LeastSquares.solveRidge(Tensor([[1, 0], [0, 1]]), Tensor([2, 4]), lambda: 1)
        #expect(x.isClose(to: Tensor([1, 2]), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
        // λ = 0 is ordinary least squares.
        let ols = try LeastSquares.solveRidge(
            Tensor([[1, 0], [1, 1], [1, 2], [1, 3]]), Tensor([1, 2, 2, 4]), lambda: 0)
        #expect(ols.isClose(to: Tensor([0.9, 0.9]), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    }

    @Test("a rank-deficient matrix throws a typed error")
    func rankDeficient() {
        #expect(throws: LinearAlgebraError.rankDeficient(shape: [3, 2])) {
            try LeastSquares.solve(Tensor([[1, 2], [2, 4], [3, 6]]), Tensor([1, 2, 3]))
        }
    }

    @Test("least squares recovers the book's synthetic linear model")
    func syntheticRegression() throws {
        var generator = RandomGenerator(seed: 0)
        let x = Tensor.randomNormal([1000, 2], using: &generator)
        let noise = Tensor.randomNormal([1000, 1], standardDeviation: 0.01, using: &generator)
        let y = matmul(x, Tensor([2, -3.4], shape: [2, 1])) + 4.2 + noise
        let design = Tensor.ones([1000, 3])
        for i in 0..<1000 {
            design[i, 0] = x[i, 0]
            design[i, 1] = x[i, 1]
        }
        let solution = try LeastSquares.solve(design, y)
        // Standard error of each coefficient ≈ 0.01/√1000 ≈ 3e-4.
        #expect(
            solution.isClose(to: Tensor([2, -3.4, 4.2], shape: [3, 1]), relativeTolerance: 0, absoluteTolerance: 2e-3))
    }
}
