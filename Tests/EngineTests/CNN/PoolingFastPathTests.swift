@testable import Engine
import TestSupport
import Testing

/// The 2×2 stride-2 average pooling fast path (`Pooling2DGeometry.isTwoByTwoTiling`) against the
/// definition, on planes with an odd row and column left over and on a batch large enough to
/// run in parallel. Exact by construction: the fast path adds the four inputs in the order the
/// definition below does, and no BLAS or cross-thread sum is involved.
@Suite("Average pooling 2×2 fast path")
struct PoolingFastPathTests {
    @Test("2×2 stride-2 average pooling equals the definition, forward and backward",
          arguments: [[2, 3, 7, 6], [3, 2, 4, 9], [64, 6, 28, 28]])
    func twoByTwo(_ shape: [Int]) {
        var generator = RandomGenerator(seed: 31)
        let x = Tensor.randomNormal(shape, using: &generator)
        x.requiresGrad = true
        let g = poolingGeometry(shape, kernelSize: (2, 2), stride: (2, 2), padding: (0, 0), operation: "test")
        #expect(g.isTwoByTwoTiling)
        let y = avgPool2D(x, kernelSize: (2, 2), stride: (2, 2))
        let upstream = Tensor.randomNormal(y.shape, using: &generator)
        y.backward(seed: upstream)
        let (oh, ow) = (shape[2] / 2, shape[3] / 2)
        let expected = Tensor.zeros(y.shape), expectedGradient = Tensor.zeros(shape)
        for n in 0..<shape[0] { for c in 0..<shape[1] { for i in 0..<oh { for j in 0..<ow {
            expected[n, c, i, j] = (x[n, c, 2 * i, 2 * j] + x[n, c, 2 * i, 2 * j + 1]
                                    + x[n, c, 2 * i + 1, 2 * j] + x[n, c, 2 * i + 1, 2 * j + 1]) / 4
            for (r, s) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                expectedGradient[n, c, 2 * i + r, 2 * j + s] = upstream[n, c, i, j] / 4
            }
        } } } }
        expectClose(y.detached(), expected, relativeTolerance: 0, absoluteTolerance: 0, "\(shape) output")
        expectClose(x.grad!, expectedGradient, relativeTolerance: 0, absoluteTolerance: 0, "\(shape) gradient")
        #expect(!poolingGeometry(shape, kernelSize: (2, 2), stride: (2, 2), padding: (1, 1), operation: "test").isTwoByTwoTiling)
        #expect(!poolingGeometry(shape, kernelSize: (2, 2), stride: (1, 1), padding: (0, 0), operation: "test").isTwoByTwoTiling)
    }
}
