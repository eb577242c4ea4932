import TestSupport
import Testing

@testable import Engine

/// The 2×2 stride-2 average pooling fast path (`Pooling2DGeometry.isTwoByTwoTiling`) against the
/// definition, on planes with an odd row and column left over and on a batch large enough to
/// run in parallel. Exact by construction: the fast path adds the four inputs in the order the
/// definition below does, and no BLAS or cross-thread sum is involved.
@Suite("Average pooling 2×2 fast path")
struct PoolingFastPathTests {
    @Test(
        "2×2 stride-2 average pooling equals the definition, forward and backward",
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
        for n in 0..<shape[0] {
            for c in 0..<shape[1] {
                for i in 0..<oh {
                    for j in 0..<ow {
                        expected[n, c, i, j] =
                            (x[n, c, 2 * i, 2 * j] + x[n, c, 2 * i, 2 * j + 1]
                                + x[n, c, 2 * i + 1, 2 * j] + x[n, c, 2 * i + 1, 2 * j + 1]) / 4
                        for (r, s) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            expectedGradient[n, c, 2 * i + r, 2 * j + s] = upstream[n, c, i, j] / 4
                        }
                    }
                }
            }
        }
        expectClose(y.detached(), expected, relativeTolerance: 0, absoluteTolerance: 0, "\(shape) output")
        expectClose(x.grad!, expectedGradient, relativeTolerance: 0, absoluteTolerance: 0, "\(shape) gradient")
        #expect(
            !poolingGeometry(shape, kernelSize: (2, 2), stride: (2, 2), padding: (1, 1), operation: "test")
                .isTwoByTwoTiling)
        #expect(
            !poolingGeometry(shape, kernelSize: (2, 2), stride: (1, 1), padding: (0, 0), operation: "test")
                .isTwoByTwoTiling)
    }
}

/// The AVX2 max-pooling kernel against the portable scalar loop, value and index bit for bit: both
/// scan each window in row-major order with the rule `v > best || isnan(v)`, and a maximum is
/// exact, so nothing may differ. The inputs have ties (values rounded to a few levels), NaNs,
/// −∞ and whole windows of −∞, on planes narrower than one 8-wide segment, with a partial last
/// segment, and wide enough for several.
@Suite("Max pooling AVX2 kernel")
struct MaxPoolingKernelTests {
    /// (N·C planes, H, W, kh, kw, sh, sw, ph, pw): GoogLeNet's 3×3 s1 p1 and 3×3 s2 p1, AlexNet's
    /// 3×3 s2, VGG's 2×2 s2, a row stride of 3, and odd sizes.
    static let geometries: [[Int]] = [
        [5, 6, 6, 3, 3, 1, 1, 1, 1], [3, 12, 12, 3, 3, 1, 1, 1, 1], [2, 3, 3, 3, 3, 1, 1, 1, 1],
        [4, 48, 48, 3, 3, 2, 2, 1, 1], [3, 13, 11, 3, 3, 2, 2, 1, 1], [2, 27, 27, 3, 3, 2, 2, 0, 0],
        [3, 28, 28, 2, 2, 2, 2, 0, 0], [2, 17, 23, 2, 3, 3, 1, 1, 1], [2, 9, 40, 5, 4, 1, 2, 2, 2],
        [600, 6, 6, 3, 3, 1, 1, 1, 1],
    ]

    @Test(
        "the AVX2 kernel equals the scalar loop, values and indices",
        .enabled(if: cpuHasAVX2FMA, "this CPU has no AVX2 and FMA"), arguments: geometries)
    func avx2EqualsScalar(_ s: [Int]) {
        let g = Pooling2DGeometry(
            planes: s[0], inputHeight: s[1], inputWidth: s[2], kernelHeight: s[3],
            kernelWidth: s[4], strideHeight: s[5], strideWidth: s[6],
            paddingHeight: s[7], paddingWidth: s[8])
        var generator = RandomGenerator(seed: 47)
        let x = Tensor.randomNormal([g.planes * g.inputPlane], using: &generator)
        for index in 0..<x.count {
            // Four levels, so that most windows hold ties; a few NaNs and −∞, and one plane of −∞.
            let u = Float.random(in: 0..<1, using: &generator)
            x[index] = u < 0.02 ? .nan : u < 0.06 ? -.infinity : (x[index] * 2).rounded() / 2
        }
        for index in 0..<g.inputPlane { x[index] = -.infinity }
        let count = g.planes * g.outputPlane
        let y0 = Tensor.zeros([count]), y1 = Tensor.zeros([count])
        var i0 = [Int32](repeating: -7, count: count), i1 = [Int32](repeating: -9, count: count)
        i0.withUnsafeMutableBufferPointer {
            maxPool2DForward(y0.pointer, argmax: $0.baseAddress!, x.pointer, g, avx2: false)
        }
        i1.withUnsafeMutableBufferPointer {
            maxPool2DForward(y1.pointer, argmax: $0.baseAddress!, x.pointer, g, avx2: true)
        }
        #expect(i0 == i1, "\(s): indices differ")
        var valueMismatches = 0, nanOutputs = 0
        for k in 0..<count {
            if y0[k].bitPattern != y1[k].bitPattern { valueMismatches += 1 }
            if y0[k].isNaN { nanOutputs += 1 }
        }
        #expect(valueMismatches == 0, "\(s): \(valueMismatches) values differ")
        // The data reach every rule: NaN outputs, −∞ outputs from the −∞ plane, and indices in range.
        #expect(nanOutputs > 0 || count < 50, "\(s): no NaN reached an output")
        #expect(y0[0] == -.infinity)
        #expect(i0.allSatisfy { $0 >= 0 && Int($0) < g.inputPlane })
    }
}
