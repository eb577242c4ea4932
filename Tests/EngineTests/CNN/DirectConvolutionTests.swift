import Foundation
import TestSupport
import Testing

@testable import Engine

/// The direct stride-1 kernels (`DirectConvolutionKernels.swift`) against the im2col + GEMM path
/// on the same data: outputs, weight and bias gradients.
@Suite("Direct convolution kernels")
struct DirectConvolutionTests {
    /// `[N, C, H, W, O, kh, kw, ph, pw]`: LeNet's first layer at a small batch, widths that leave
    /// a partial segment of 4, more than one group of 6 output channels, channels 2–4, non-square
    /// kernels, padding wider than the kernel allows at the border, 1-wide outputs.
    static let shapes: [[Int]] = [
        [3, 1, 28, 28, 6, 5, 5, 2, 2],
        [2, 1, 9, 7, 13, 3, 3, 1, 1],
        [2, 3, 6, 10, 5, 3, 2, 0, 1],
        [1, 4, 5, 5, 7, 5, 5, 0, 0],
        [2, 2, 4, 3, 1, 1, 3, 2, 0],
        [3, 1, 7, 6, 2, 2, 4, 1, 2],
    ]

    /// The geometry of a row of `shapes` and random x `[N, C, H, W]`, w `[O, K]`, b `[O]` and dy
    /// `[N, O, OH, OW]` drawn from `seed`.
    static func problem(
        _ s: [Int], seed: UInt64
    ) -> (g: Convolution2DGeometry, x: Tensor, w: Tensor, b: Tensor, dy: Tensor) {
        var generator = RandomGenerator(seed: seed)
        let g = Convolution2DGeometry(
            batch: s[0], inputChannels: s[1], inputHeight: s[2], inputWidth: s[3],
            outputChannels: s[4], kernelHeight: s[5], kernelWidth: s[6], strideHeight: 1,
            strideWidth: 1, paddingHeight: s[7], paddingWidth: s[8])
        let x = Tensor.randomNormal([g.batch, g.inputChannels, g.inputHeight, g.inputWidth], using: &generator)
        let w = Tensor.randomNormal([g.outputChannels, g.patchSize], using: &generator)
        let b = Tensor.randomNormal([g.outputChannels], using: &generator)
        let dy = Tensor.randomNormal([g.batch, g.outputChannels, g.outputHeight, g.outputWidth], using: &generator)
        return (g, x, w, b, dy)
    }

    @Test("direct kernels equal im2col + GEMM, forward, dW and db", arguments: shapes)
    func matchesIm2col(_ s: [Int]) {
        let (g, x, w, b, dy) = Self.problem(s, seed: UInt64(s.reduce(0, +)))
        #expect(g.usesDirectKernels)
        let outputShape = dy.shape
        var results: [[Tensor]] = []
        for direct in [true, false] {
            let y = Tensor(shape: outputShape, repeating: .nan)
            convolution2DForward(y.pointer, x.pointer, w.pointer, b.pointer, g, directKernels: direct)
            let dx = Tensor(shape: x.shape, repeating: .nan)
            let dw = Tensor(shape: w.shape, repeating: 0.5), db = Tensor(shape: b.shape, repeating: -0.25)
            convolution2DBackward(
                inputGradient: dx.pointer, weightGradient: dw.pointer, biasGradient: db.pointer,
                outputGradient: dy.pointer, input: x.pointer, weight: w.pointer, g,
                directKernels: direct)
            results.append([y, dw, db, dx])
        }
        for (index, name) in ["output", "weight gradient", "bias gradient", "input gradient"].enumerated() {
            expectClose(
                results[0][index], results[1][index], relativeTolerance: 1e-5, absoluteTolerance: 1e-4,
                "\(s): \(name)")
        }
    }

    /// The AVX2 + FMA kernels of `CKernels` against the portable SIMD4 kernels on the same data.
    /// Not bitwise: FMA rounds once where the portable loop rounds the product and the sum, and
    /// the dW sums keep 8 lanes instead of 4; values are sums of at most a few hundred products of
    /// N(0, 1) numbers (forward) or N·P of them (dW, db), so 1e-5 relative plus 1e-4 absolute
    /// (forward) and 1e-5·√(N·P) (dW, db), as elsewhere for a changed summation order.
    @Test(
        "AVX2 kernels equal the portable direct kernels, forward, dW and db",
        .enabled(if: cpuHasAVX2FMA, "this CPU has no AVX2 and FMA"), arguments: shapes)
    func avx2MatchesPortable(_ s: [Int]) {
        let (g, x, w, b, dy) = Self.problem(s, seed: UInt64(s.reduce(0, +)) + 100)
        let outputShape = dy.shape
        var results: [[Tensor]] = []
        for avx2 in [true, false] {
            let y = Tensor(shape: outputShape, repeating: .nan)
            directConvolution2DForward(y.pointer, x.pointer, w.pointer, b.pointer, g, avx2: avx2)
            let dw = Tensor(shape: w.shape, repeating: 0.5), db = Tensor(shape: b.shape, repeating: -0.25)
            directConvolution2DWeightGradient(
                weightGradient: dw.pointer, biasGradient: db.pointer, outputGradient: dy.pointer,
                input: x.pointer, g, avx2: avx2)
            results.append([y, dw, db])
        }
        let reduction = Float(g.batch * g.outputPlane).squareRoot()
        expectClose(results[0][0], results[1][0], relativeTolerance: 1e-5, absoluteTolerance: 1e-4, "\(s): output")
        expectClose(
            results[0][1], results[1][1], relativeTolerance: 1e-5, absoluteTolerance: 1e-5 * reduction,
            "\(s): weight gradient")
        expectClose(
            results[0][2], results[1][2], relativeTolerance: 1e-5, absoluteTolerance: 1e-5 * reduction,
            "\(s): bias gradient")
    }

    /// In a child process (the variable is read once per process): with `D2L_CONV_ALGORITHM=im2col`
    /// a layer the direct kernels would take gives exactly the im2col path's output.
    @Test("D2L_CONV_ALGORITHM=im2col forces the reference path")
    func forcedReferencePath() async {
        await #expect(processExitsWith: .success) {
            setenv(ConvolutionAlgorithm.environmentVariable, "im2col", 1)
            guard ConvolutionAlgorithm.current == .im2col else { exit(1) }
            let (g, x, w, b, _) = DirectConvolutionTests.problem(DirectConvolutionTests.shapes[0], seed: 7)
            guard g.usesDirectKernels else { exit(2) }
            let outputShape = [g.batch, g.outputChannels, g.outputHeight, g.outputWidth]
            let automatic = Tensor(shape: outputShape, repeating: .nan),
                reference = Tensor(shape: outputShape, repeating: .nan)
            convolution2DForward(automatic.pointer, x.pointer, w.pointer, b.pointer, g)
            convolution2DForward(reference.pointer, x.pointer, w.pointer, b.pointer, g, directKernels: false)
            exit(automatic.scalars == reference.scalars ? 0 : 3)
        }
    }

    @Test("the direct kernels are chosen only for stride 1 and at most 4 input channels")
    func selection() {
        func geometry(channels: Int, stride: Int, kernel: Int) -> Convolution2DGeometry {
            .init(
                batch: 1, inputChannels: channels, inputHeight: 8, inputWidth: 8, outputChannels: 3,
                kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: 1,
                paddingHeight: 0, paddingWidth: 0)
        }
        #expect(geometry(channels: 1, stride: 1, kernel: 5).usesDirectKernels)
        #expect(geometry(channels: 4, stride: 1, kernel: 3).usesDirectKernels)
        #expect(!geometry(channels: 5, stride: 1, kernel: 3).usesDirectKernels)
        #expect(!geometry(channels: 1, stride: 2, kernel: 3).usesDirectKernels)
        #expect(!geometry(channels: 2, stride: 1, kernel: 1).usesDirectKernels)
    }
}
