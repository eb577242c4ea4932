import Foundation
import Testing

@testable import Engine

/// The wide-row direct kernels (`WideDirectConvolution.swift`) against the im2col + GEMM path on
/// the same data: output, input gradient (by duality), weight and bias gradients.
///
/// Tolerance: both paths sum the same n products in different orders (and FMA rounds once), so
/// each result differs from the exact sum by at most γₙ·Σ|terms| ≈ n·ε·Σ|terms| (ε = 2⁻²⁴), and
/// from each other by at most twice that. Σ|terms| is computed by running the reference path on
/// |x|, |w| and |dy|; n is the number of products per result (K + 1 for y, O·kh·kw for dx, N·P for
/// dW and db). The bound is rigorous, yet tight enough to see an error: a missing or misplaced
/// tap changes a result by one term, about Σ|terms|/n, which exceeds 2nε·Σ|terms| whenever
/// n < 1/√(2ε) ≈ 2900 — every shape here (`missingTapFails` checks it).
@Suite("Wide-row direct convolution kernels", .enabled(if: cpuHasAVX2FMA, "this CPU has no AVX2 and FMA"))
struct WideDirectConvolutionTests {
    /// `[N, C, H, W, O, kh, kw, ph, pw]`: LeNet conv2, the 16-channel 3×3 and 5×5 blocks at a
    /// small batch, GoogLeNet 3a 5×5, non-square kernels and padding, output channels that are not
    /// a multiple of 4, 1-wide and 1-high outputs, taps not a multiple of 3, batches of 4 and 5
    /// (split into per-core parts on a multicore machine). Output (and, for dx, input) channels
    /// that are multiples of 8 take the channel-vector kernel, with a last tile of 8 at 8 and 24
    /// channels; the others the wide-row kernel. The last two reach the channel-vector kernel's
    /// blocking: more than 256 taps in uneven blocks (261 = 131 + 130 forward, 360 = 180 + 180 in
    /// dx's dual) and planes of more than one 192-position chunk with a partial last group.
    static let shapes: [[Int]] = [
        [4, 6, 14, 14, 16, 5, 5, 0, 0],
        [2, 16, 28, 28, 16, 3, 3, 1, 1],
        [5, 16, 12, 12, 32, 5, 5, 2, 2],
        [1, 16, 9, 9, 16, 5, 5, 2, 2],
        [3, 5, 7, 10, 7, 3, 2, 1, 0],
        [2, 7, 6, 5, 3, 2, 4, 1, 3],
        [4, 1, 5, 5, 1, 5, 5, 0, 0],
        [2, 9, 3, 8, 6, 3, 3, 0, 2],
        [1, 3, 11, 4, 9, 1, 3, 0, 1],
        [3, 8, 9, 11, 24, 3, 3, 1, 1],
        [2, 24, 6, 6, 8, 5, 3, 2, 1],
        [5, 16, 7, 7, 32, 3, 3, 1, 1],
        [1, 29, 15, 15, 24, 3, 3, 1, 1],
        [2, 24, 15, 13, 40, 3, 3, 1, 1],
    ]

    struct Results {
        var y: Tensor
        var dx: Tensor
        var dw: Tensor
        var db: Tensor
    }

    /// Runs forward and backward on one path: the wide-row kernels, or im2col + GEMM.
    static func run(
        wide: Bool, _ g: Convolution2DGeometry, x: Tensor, w: Tensor, b: Tensor, dy: Tensor
    ) -> Results {
        let y = Tensor(shape: dy.shape, repeating: .nan)
        let dx = Tensor(shape: x.shape, repeating: .nan)
        let dw = Tensor(shape: w.shape, repeating: 0.5), db = Tensor(shape: b.shape, repeating: -0.25)
        if wide {
            wideConvolution2DForward(y.pointer, x.pointer, w.pointer, b.pointer, g)
            wideConvolution2DBackward(
                inputGradient: dx.pointer, weightGradient: dw.pointer, biasGradient: db.pointer,
                outputGradient: dy.pointer, input: x.pointer, weight: w.pointer, g)
        } else {
            convolution2DForward(y.pointer, x.pointer, w.pointer, b.pointer, g, directKernels: false)
            convolution2DBackward(
                inputGradient: dx.pointer, weightGradient: dw.pointer, biasGradient: db.pointer,
                outputGradient: dy.pointer, input: x.pointer, weight: w.pointer, g, directKernels: false)
        }
        return Results(y: y, dx: dx, dw: dw, db: db)
    }

    /// The largest `|actual − expected| / (2·n·ε·magnitude + 1e-30)` over the elements (≤ 1
    /// passes), with its index.
    static func worstRatio(
        _ actual: Tensor, _ expected: Tensor, magnitude: Tensor, terms n: Int
    ) -> (ratio: Float, index: Int) {
        var worst: (Float, Int) = (0, 0)
        for i in 0..<actual.count {
            let allowed = 2 * Float(n) * Float.ulpOfOne / 2 * magnitude.pointer[i] + 1e-30
            let ratio = abs(actual.pointer[i] - expected.pointer[i]) / allowed
            if !(ratio <= worst.0) { worst = (ratio.isNaN ? .infinity : ratio, i) }
        }
        return worst
    }

    /// `|t|` element by element.
    static func absolute(_ t: Tensor) -> Tensor { Tensor(t.scalars.map(abs), shape: t.shape) }

    static func problem(
        _ s: [Int], seed: UInt64
    ) -> (g: Convolution2DGeometry, x: Tensor, w: Tensor, b: Tensor, dy: Tensor) {
        DirectConvolutionTests.problem(s, seed: seed)
    }

    @Test("wide-row kernels equal im2col + GEMM within 2nε·Σ|terms|: y, dx, dW, db", arguments: shapes)
    func matchesIm2col(_ s: [Int]) {
        let (g, x, w, b, dy) = Self.problem(s, seed: UInt64(s.reduce(0, +)) + 31)
        #expect(g.allowsWideDirect)
        let wide = Self.run(wide: true, g, x: x, w: w, b: b, dy: dy)
        let reference = Self.run(wide: false, g, x: x, w: w, b: b, dy: dy)
        // Σ|terms| per result: the reference path on absolute values. The initial values of dW
        // (0.5) and db (−0.25) are terms too: db's magnitude is Σ|dy| + 0.25 = (Σ|dy| − 0.25) + 0.5.
        let magnitudes = Self.run(
            wide: false, g, x: Self.absolute(x), w: Self.absolute(w), b: Self.absolute(b), dy: Self.absolute(dy))
        let checks: [(String, Tensor, Tensor, Tensor, Int)] = [
            ("output", wide.y, reference.y, magnitudes.y, g.patchSize + 1),
            ("input gradient", wide.dx, reference.dx, magnitudes.dx, g.outputChannels * g.kernelHeight * g.kernelWidth),
            ("weight gradient", wide.dw, reference.dw, magnitudes.dw, g.batch * g.outputPlane + 1),
            (
                "bias gradient", wide.db, reference.db, Tensor(magnitudes.db.scalars.map { $0 + 0.5 }, shape: b.shape),
                g.batch * g.outputPlane + 1
            ),
        ]
        for (name, actual, expected, magnitude, n) in checks {
            let (ratio, index) = Self.worstRatio(actual, expected, magnitude: magnitude, terms: n)
            #expect(
                ratio <= 1,
                "\(s) \(name): at \(index) \(actual.pointer[index]) vs \(expected.pointer[index]), \(ratio)× the allowance"
            )
        }
    }

    @Test("the allowance sees a missing tap: dropping one weight fails the output check")
    func missingTapFails() {
        let s = Self.shapes[2]
        let (g, x, w, b, dy) = Self.problem(s, seed: 5)
        let broken = Tensor(w.scalars, shape: w.shape)
        for o in 0..<g.outputChannels { broken.pointer[o * g.patchSize + g.patchSize / 2] = 0 }
        let wide = Self.run(wide: true, g, x: x, w: broken, b: b, dy: dy)
        let reference = Self.run(wide: false, g, x: x, w: w, b: b, dy: dy)
        let magnitudes = Self.run(
            wide: false, g, x: Self.absolute(x), w: Self.absolute(w), b: Self.absolute(b), dy: Self.absolute(dy))
        #expect(Self.worstRatio(wide.y, reference.y, magnitude: magnitudes.y, terms: g.patchSize + 1).ratio > 10)
    }

    @Test(
        "the automatic rule takes the wide-row kernels for stride-1 layers of 5 or more channels and at most 1600 taps")
    func selection() {
        func geometry(channels: Int, outputs: Int, stride: Int, kernel: Int) -> Convolution2DGeometry {
            .init(
                batch: 1, inputChannels: channels, inputHeight: 8, inputWidth: 8, outputChannels: outputs,
                kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                paddingHeight: kernel / 2, paddingWidth: kernel / 2)
        }
        #expect(geometry(channels: 6, outputs: 16, stride: 1, kernel: 5).prefersWideDirect)
        #expect(geometry(channels: 16, outputs: 32, stride: 1, kernel: 5).prefersWideDirect)
        #expect(geometry(channels: 64, outputs: 192, stride: 1, kernel: 3).prefersWideDirect)
        #expect(geometry(channels: 64, outputs: 64, stride: 1, kernel: 5).prefersWideDirect)
        #expect(!geometry(channels: 4, outputs: 16, stride: 1, kernel: 5).prefersWideDirect)
        #expect(!geometry(channels: 16, outputs: 16, stride: 2, kernel: 3).prefersWideDirect)
        #expect(!geometry(channels: 256, outputs: 384, stride: 1, kernel: 3).prefersWideDirect)
        #expect(!geometry(channels: 96, outputs: 256, stride: 1, kernel: 5).prefersWideDirect)
        // AlexNet's conv2 (2400 taps) on its 26×26 plane, not on 8×8.
        let alexNetConv2 = Convolution2DGeometry(
            batch: 1, inputChannels: 96, inputHeight: 26, inputWidth: 26, outputChannels: 256, kernelHeight: 5,
            kernelWidth: 5, strideHeight: 1, strideWidth: 1, paddingHeight: 2, paddingWidth: 2)
        #expect(alexNetConv2.prefersWideDirect)
        #expect(!geometry(channels: 16, outputs: 16, stride: 1, kernel: 1).prefersWideDirect)
    }
}
