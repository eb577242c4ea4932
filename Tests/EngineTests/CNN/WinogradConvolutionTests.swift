import Foundation
import TestSupport
import Testing

@testable import Engine

/// The Winograd F(2×2, 3×3) kernels (`WinogradConvolution.swift`) against the im2col + GEMM path
/// on random shapes: output, input gradient, weight gradient and bias gradient.
///
/// Tolerance: a bound on the rounding error of both paths, not a tuned constant. With unit
/// roundoff u = 2⁻²⁴ and `γₙ = n·u/(1 − n·u)`, a value computed through at most n roundings per
/// term (each term of a sum of products) is within `γₙ · Σ|terms|` of the exact value, where the
/// terms are those of the expanded computation, coefficients in absolute value (Higham, *Accuracy
/// and Stability of Numerical Algorithms*, §3.1–3.5).
///
/// - Winograd forward, for one (o, c) and one tile: the terms of `Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`. In
///   one dimension the absolute expansion of output 0 is `|g₀||d₀| + |g₀||d₂| + (|g₀| + |g₁| +
///   |g₂|)(|d₁| + |d₂|)`, of output 1 `(|g₀| + |g₁| + |g₂|)(|d₁| + |d₂|) + |g₂|(|d₁| + |d₃|)`: every
///   product `|gₖ||dⱼ|` appears at most twice, so they are at most `2‖g‖₁‖d‖₁`; in two dimensions
///   (a tensor product) at most `4‖g‖₁‖d‖₁`, g the 3×3 kernel and d the 4×4 input window. Summed
///   over c this is `4T` with `T[n, o, i, j] = Σ_c ‖w[o, c]‖₁ · ‖x[n, c, window of the tile of
///   (i, j)]‖₁`. Roundings per term: 2 (input transform, two levels of one addition), 4 (weight
///   transform, two levels of two additions; the halvings are exact), 1 (product), C − 1 (the
///   GEMM's sum over c), 4 (output transform), 1 (bias): at most C + 11. Error ≤ `γ_{C+11}(4T + |b|)`.
/// - im2col reference: one GEMM of length 9C plus the bias, error ≤ `γ_{9C+1}(S + |b|)` with
///   `S = Σ|w||x|` ≤ T.
/// - So `|winograd − im2col| ≤ γ_{C+11}(4T + |b|) + γ_{9C+1}(T + |b|)`: c ≈ 4(C + 11) + 9C + 1
///   units of u relative to T. The same argument gives the input gradient (a convolution of dY
///   with the rotated weights, summing over O, no bias; im2col: a GEMM over O then col2im adding
///   at most 9 values) and the weight gradient (adjoint transforms `A e Aᵀ`, `Gᵀ q G` have the same
///   "each product at most twice per dimension" structure: the terms are at most
///   `4 Σ_{n, tiles} ‖dY tile‖₁ ‖x window‖₁`, with the GEMM summing over all tiles of the batch,
///   the accumulation into the initial value and the per-core partials adding a few roundings).
///
/// Is that tight enough? On these N(0, 1) data `‖w[o, c]‖₁ ≈ 9·0.8` and a window's `‖x‖₁ ≈
/// 16·0.8`, so T ≈ 92·C and at C = 16 the forward allowance is about
/// `(4·27 + 145)·6e-8·1470 ≈ 0.02`, while a transform that loses a tap changes every output by a
/// term `w·x` of typical size 0.6: `aWrongTapFails` checks that the check rejects such a result
/// for the output, the input gradient and the weight gradient. (The bound is a worst case: the
/// errors actually seen are far smaller, see the timing suite's `ratios`.)
@Suite("Winograd convolution")
struct WinogradConvolutionTests {
    /// Unit roundoff of Float, 2⁻²⁴.
    static let unitRoundoff = Double(Float.ulpOfOne) / 2

    /// `γₙ = n·u/(1 − n·u)`.
    static func gamma(_ n: Int) -> Double { Double(n) * unitRoundoff / (1 - Double(n) * unitRoundoff) }

    /// A random problem drawn from `seed`: batch 1–4, channels 1–16 in and out, input sizes
    /// 1–13 (at least 3 with the padding), padding 0–2 per direction; x, w, b, dy N(0, 1).
    static func problem(seed: UInt64) -> (g: Convolution2DGeometry, x: Tensor, w: Tensor, b: Tensor, dy: Tensor) {
        var generator = RandomGenerator(seed: 1000 + seed)
        let ph = Int.random(in: 0...2, using: &generator), pw = Int.random(in: 0...2, using: &generator)
        let g = Convolution2DGeometry(
            batch: Int.random(in: 1...4, using: &generator), inputChannels: Int.random(in: 1...16, using: &generator),
            inputHeight: Int.random(in: Swift.max(1, 3 - 2 * ph)...13, using: &generator),
            inputWidth: Int.random(in: Swift.max(1, 3 - 2 * pw)...13, using: &generator),
            outputChannels: Int.random(in: 1...16, using: &generator), kernelHeight: 3, kernelWidth: 3,
            strideHeight: 1, strideWidth: 1, paddingHeight: ph, paddingWidth: pw)
        let x = Tensor.randomNormal([g.batch, g.inputChannels, g.inputHeight, g.inputWidth], using: &generator)
        let w = Tensor.randomNormal([g.outputChannels, g.inputChannels, 3, 3], using: &generator)
        let b = Tensor.randomNormal([g.outputChannels], using: &generator)
        let dy = Tensor.randomNormal([g.batch, g.outputChannels, g.outputHeight, g.outputWidth], using: &generator)
        return (g, x, w, b, dy)
    }

    /// `‖x[n, c, window]‖₁` for every 2×2 output tile `(ty, tx)` of `g`: the 4×4 input window at
    /// rows `2ty − ph …+3`, columns `2tx − pw …+3`, zero outside. `[N, C, TH, TW]`, row-major.
    static func windowNorms(_ x: Tensor, _ g: Convolution2DGeometry) -> [Double] {
        let th = g.winogradTileRows, tw = g.winogradTileColumns
        var norms = [Double](repeating: 0, count: g.batch * g.inputChannels * th * tw)
        for nc in 0..<(g.batch * g.inputChannels) {
            for ty in 0..<th {
                for tx in 0..<tw {
                    var sum = 0.0
                    for r in 0..<4 {
                        for s in 0..<4 {
                            let iy = 2 * ty - g.paddingHeight + r, ix = 2 * tx - g.paddingWidth + s
                            if iy < 0 || iy >= g.inputHeight || ix < 0 || ix >= g.inputWidth { continue }
                            sum += Double(abs(x.pointer[(nc * g.inputHeight + iy) * g.inputWidth + ix]))
                        }
                    }
                    norms[(nc * th + ty) * tw + tx] = sum
                }
            }
        }
        return norms
    }

    /// `T[n, o, i, j] = Σ_c kernelNorms[o·C + c] · ‖x[n, c, window of the tile of (i, j)]‖₁`
    /// (`[N, O, OH, OW]`), the bound on the Winograd expansion divided by 4 (see the suite).
    static func forwardBound(_ x: Tensor, kernelNorms: [Double], _ g: Convolution2DGeometry) -> [Double] {
        let norms = windowNorms(x, g), th = g.winogradTileRows, tw = g.winogradTileColumns
        let c = g.inputChannels, o = g.outputChannels
        var bound = [Double](repeating: 0, count: g.batch * o * g.outputPlane)
        for n in 0..<g.batch {
            for oi in 0..<o {
                for i in 0..<g.outputHeight {
                    for j in 0..<g.outputWidth {
                        var sum = 0.0
                        for ci in 0..<c {
                            sum += kernelNorms[oi * c + ci] * norms[((n * c + ci) * th + i / 2) * tw + j / 2]
                        }
                        bound[((n * o + oi) * g.outputHeight + i) * g.outputWidth + j] = sum
                    }
                }
            }
        }
        return bound
    }

    /// The allowances of the four results (see the suite): output, input gradient, weight
    /// gradient (accumulated into `initialWeightGradient`), bias gradient (into `initialBiasGradient`).
    static func allowances(
        _ g: Convolution2DGeometry, x: Tensor, w: Tensor, b: Tensor?, dy: Tensor,
        initialWeightGradient: Float, initialBiasGradient: Float
    ) -> (output: [Double], inputGradient: [Double], weightGradient: [Double], biasGradient: [Double]) {
        let c = g.inputChannels, o = g.outputChannels
        var kernelNorms = [Double](repeating: 0, count: o * c) // ‖w[o, c]‖₁
        for oc in 0..<(o * c) { kernelNorms[oc] = (0..<9).reduce(0) { $0 + Double(abs(w.pointer[oc * 9 + $1])) } }
        // Output.
        let t = forwardBound(x, kernelNorms: kernelNorms, g)
        let output = t.indices.map { index in
            let bias = b.map { Double(abs($0.pointer[index / g.outputPlane % o])) } ?? 0
            return gamma(c + 11) * (4 * t[index] + bias) + gamma(9 * c + 1) * (t[index] + bias)
        }
        // Input gradient: dY convolved with W′ [C, O] (‖W′[c, o]‖₁ = ‖w[o, c]‖₁), padding 2 − p.
        let dataGeometry = g.winogradInputGradientGeometry
        let transposedNorms = (0..<(c * o)).map { kernelNorms[($0 % o) * c + $0 / o] }
        let tData = forwardBound(dy, kernelNorms: transposedNorms, dataGeometry)
        let inputGradient = tData.map { gamma(o + 10) * 4 * $0 + gamma(o + 9) * $0 }
        // Weight gradient: Σ over the tiles of the batch of ‖dY tile‖₁ ‖x window‖₁, per (o, c).
        let norms = windowNorms(x, g), th = g.winogradTileRows, tw = g.winogradTileColumns
        var tWeight = [Double](repeating: 0, count: o * c)
        for n in 0..<g.batch {
            for oi in 0..<o {
                for ty in 0..<th {
                    for tx in 0..<tw {
                        var tile = 0.0
                        for i in (2 * ty)..<Swift.min(2 * ty + 2, g.outputHeight) {
                            for j in (2 * tx)..<Swift.min(2 * tx + 2, g.outputWidth) {
                                tile += Double(abs(dy.pointer[((n * o + oi) * g.outputHeight + i) * g.outputWidth + j]))
                            }
                        }
                        for ci in 0..<c { tWeight[oi * c + ci] += tile * norms[((n * c + ci) * th + ty) * tw + tx] }
                    }
                }
            }
        }
        let tiles = g.batch * th * tw, positions = g.batch * g.outputPlane
        let initial = Double(abs(initialWeightGradient))
        let weightGradient = (0..<(o * c * 9)).map { index in
            let bound = tWeight[index / 9]
            return gamma(tiles + 12 + coreCount) * (4 * bound + initial)
                + gamma(positions + 2 + coreCount) * (bound + initial)
        }
        // Bias gradient: the same sums on both paths; bounded anyway.
        let biasGradient = (0..<o).map { oi in
            var sum = Double(abs(initialBiasGradient))
            for n in 0..<g.batch {
                for k in 0..<g.outputPlane { sum += Double(abs(dy.pointer[(n * o + oi) * g.outputPlane + k])) }
            }
            return 2 * gamma(positions + 1) * sum
        }
        return (output, inputGradient, weightGradient, biasGradient)
    }

    /// The largest `|actual − expected| / allowance` (NaN counts as infinite).
    static func worstRatio(_ actual: Tensor, _ expected: Tensor, _ allowance: [Double]) -> Double {
        var worst = 0.0
        for index in 0..<actual.count {
            let difference = abs(Double(actual.pointer[index]) - Double(expected.pointer[index]))
            let ratio = difference.isNaN ? .infinity : difference / Swift.max(allowance[index], .leastNonzeroMagnitude)
            worst = Swift.max(worst, ratio)
        }
        return worst
    }

    /// Forward and backward (dx, dw from 0.5, db from −0.25) of one path.
    static func run(
        _ g: Convolution2DGeometry, x: Tensor, w: Tensor, b: Tensor?, dy: Tensor, winograd: Bool,
        workspaceBudgetBytes: Int = convolutionWorkspaceBudgetBytes
    ) -> [Tensor] {
        let y = Tensor(shape: dy.shape, repeating: .nan)
        let dx = Tensor(shape: x.shape, repeating: .nan)
        let dw = Tensor(shape: w.shape, repeating: 0.5), db = Tensor(shape: [g.outputChannels], repeating: -0.25)
        if winograd {
            winogradConvolution2DForward(
                y.pointer, x.pointer, w.pointer, b?.pointer, g, workspaceBudgetBytes: workspaceBudgetBytes)
            winogradConvolution2DBackward(
                inputGradient: dx.pointer, weightGradient: dw.pointer, biasGradient: db.pointer,
                outputGradient: dy.pointer, input: x.pointer, weight: w.pointer, g,
                workspaceBudgetBytes: workspaceBudgetBytes)
        } else {
            convolution2DForward(y.pointer, x.pointer, w.pointer, b?.pointer, g, directKernels: false)
            convolution2DBackward(
                inputGradient: dx.pointer, weightGradient: dw.pointer, biasGradient: db.pointer,
                outputGradient: dy.pointer, input: x.pointer, weight: w.pointer, g, directKernels: false)
        }
        return [y, dx, dw, db]
    }

    @Test("Winograd equals im2col + GEMM within the rounding bound, forward and all gradients", arguments: 0..<32)
    func matchesIm2col(seed: Int) {
        let (g, x, w, b, dy) = Self.problem(seed: UInt64(seed))
        #expect(g.allowsWinograd)
        let bias = seed % 2 == 0 ? b : nil
        let reference = Self.run(g, x: x, w: w, b: bias, dy: dy, winograd: false)
        let allowed = Self.allowances(
            g, x: x, w: w, b: bias, dy: dy, initialWeightGradient: 0.5, initialBiasGradient: -0.25)
        let allowances = [allowed.output, allowed.inputGradient, allowed.weightGradient, allowed.biasGradient]
        // The default budget (whole batch in one chunk) and a budget of one row of tiles per chunk
        // (chunks within an image, and per-core parts when the batch allows).
        for budget in [convolutionWorkspaceBudgetBytes, 1] {
            let results = Self.run(g, x: x, w: w, b: bias, dy: dy, winograd: true, workspaceBudgetBytes: budget)
            for (index, name) in ["output", "input gradient", "weight gradient", "bias gradient"].enumerated() {
                let ratio = Self.worstRatio(results[index], reference[index], allowances[index])
                #expect(
                    ratio <= 1, "\(g), bias \(bias != nil), budget \(budget): \(name) off by \(ratio)× the allowance")
            }
        }
    }

    /// The allowance is tight enough to see a transform that drops one tap of the kernel: the
    /// im2col result with tap (0, 2) of every kernel zeroed (forward, input gradient), or with the
    /// gradient of that tap missing (weight gradient), must fail the check against Winograd.
    @Test("a result missing one kernel tap fails the check", arguments: [3, 8, 21])
    func aWrongTapFails(seed: Int) {
        let (g, x, w, b, dy) = Self.problem(seed: UInt64(seed))
        let results = Self.run(g, x: x, w: w, b: b, dy: dy, winograd: true)
        let allowed = Self.allowances(
            g, x: x, w: w, b: b, dy: dy, initialWeightGradient: 0.5, initialBiasGradient: -0.25)
        let wrongWeight = Tensor(w.scalars, shape: w.shape)
        for oc in 0..<(g.outputChannels * g.inputChannels) { wrongWeight.pointer[oc * 9 + 2] = 0 }
        let wrong = Self.run(g, x: x, w: wrongWeight, b: b, dy: dy, winograd: false)
        let wrongWeightGradient = Self.run(g, x: x, w: w, b: b, dy: dy, winograd: false)[2]
        for oc in 0..<(g.outputChannels * g.inputChannels) { wrongWeightGradient.pointer[oc * 9 + 2] = 0.5 }
        #expect(Self.worstRatio(results[0], wrong[0], allowed.output) > 1, "\(g): output")
        #expect(Self.worstRatio(results[1], wrong[1], allowed.inputGradient) > 1, "\(g): input gradient")
        #expect(Self.worstRatio(results[2], wrongWeightGradient, allowed.weightGradient) > 1, "\(g): weight gradient")
    }

    @Test("nil gradients are skipped and do not change the others")
    func partialGradients() {
        let (g, x, w, _, dy) = Self.problem(seed: 5)
        let full = Self.run(g, x: x, w: w, b: nil, dy: dy, winograd: true)
        let dx = Tensor(shape: x.shape, repeating: .nan)
        winogradConvolution2DBackward(
            inputGradient: dx.pointer, weightGradient: nil, biasGradient: nil, outputGradient: dy.pointer,
            input: x.pointer, weight: w.pointer, g)
        let dw = Tensor(shape: w.shape, repeating: 0.5)
        winogradConvolution2DBackward(
            inputGradient: nil, weightGradient: dw.pointer, biasGradient: nil, outputGradient: dy.pointer,
            input: x.pointer, weight: w.pointer, g)
        // Not bit for bit: each call's 16 GEMMs run with OpenBLAS's thread count of the moment,
        // which concurrent tests change process-wide, and its sgemm rounds differently with 1 and
        // 2 threads. The rounding allowance of the comparison with im2col covers that easily, and
        // a skipped or misplaced gradient misses it by orders of magnitude.
        let allowed = Self.allowances(
            g, x: x, w: w, b: nil, dy: dy, initialWeightGradient: 0.5, initialBiasGradient: -0.25)
        #expect(Self.worstRatio(dx, full[1], allowed.inputGradient) <= 1)
        #expect(Self.worstRatio(dw, full[2], allowed.weightGradient) <= 1)
    }

    @Test("Winograd handles 3×3 stride-1 convolutions with padding at most 2")
    func selection() {
        func geometry(kernel: Int, stride: Int, padding: Int) -> Convolution2DGeometry {
            .init(
                batch: 1, inputChannels: 8, inputHeight: 8, inputWidth: 8, outputChannels: 8, kernelHeight: kernel,
                kernelWidth: kernel, strideHeight: stride, strideWidth: stride, paddingHeight: padding,
                paddingWidth: padding)
        }
        #expect(geometry(kernel: 3, stride: 1, padding: 0).allowsWinograd)
        #expect(geometry(kernel: 3, stride: 1, padding: 1).allowsWinograd)
        #expect(geometry(kernel: 3, stride: 1, padding: 2).allowsWinograd)
        #expect(!geometry(kernel: 3, stride: 1, padding: 3).allowsWinograd)
        #expect(!geometry(kernel: 3, stride: 2, padding: 1).allowsWinograd)
        #expect(!geometry(kernel: 5, stride: 1, padding: 2).allowsWinograd)
    }

    @Test(
        "the automatic rule takes Winograd for 3×3 layers of at least 64 channels that the wide-row kernels leave to im2col"
    )
    func automaticSelection() {
        func geometry(channels: Int, size: Int, kernel: Int = 3) -> Convolution2DGeometry {
            .init(
                batch: 1, inputChannels: channels, inputHeight: size, inputWidth: size, outputChannels: 64,
                kernelHeight: kernel, kernelWidth: kernel, strideHeight: 1, strideWidth: 1, paddingHeight: 1,
                paddingWidth: 1)
        }
        // AlexNet conv3: 256 channels, K = 2304 > 1600, 12×12.
        #expect(geometry(channels: 256, size: 12).prefersWinograd)
        // Small planes (ResNet's 6×6) and 5×5 kernels keep their paths.
        #expect(!geometry(channels: 256, size: 6).prefersWinograd)
        #expect(!geometry(channels: 256, size: 12, kernel: 5).prefersWinograd)
        // Layers of at most 32 channels never; from 64 to 177 channels only without AVX2, where
        // the wide-row kernels cannot run.
        #expect(!geometry(channels: 32, size: 28).prefersWinograd)
        #expect(geometry(channels: 64, size: 28).prefersWinograd == !cpuHasAVX2FMA)
    }

    /// In a child process (the variable is read once per process): `D2L_CONV_ALGORITHM=winograd`
    /// routes a 3×3 stride-1 layer to the Winograd kernels.
    @Test("D2L_CONV_ALGORITHM=winograd routes 3×3 stride-1 layers to Winograd")
    func forcedWinograd() async {
        await #expect(processExitsWith: .success) {
            setenv(ConvolutionAlgorithm.environmentVariable, "winograd", 1)
            guard ConvolutionAlgorithm.current == .winograd else { exit(1) }
            let (g, x, w, b, _) = WinogradConvolutionTests.problem(seed: 2)
            let outputShape = [g.batch, g.outputChannels, g.outputHeight, g.outputWidth]
            let routed = Tensor(shape: outputShape, repeating: .nan),
                direct = Tensor(shape: outputShape, repeating: .nan)
            convolution2DForward(routed.pointer, x.pointer, w.pointer, b.pointer, g)
            winogradConvolution2DForward(direct.pointer, x.pointer, w.pointer, b.pointer, g)
            exit(routed.scalars == direct.scalars ? 0 : 3)
        }
    }
}

/// Diagnostics, only with `D2L_WINOGRAD_TIMING` set: the largest error over the allowance seen in
/// `matchesIm2col`'s problems, and the timing below.
@Suite("Winograd convolution diagnostics")
struct WinogradConvolutionDiagnostics {
    @Test(
        "largest error relative to the allowance (D2L_WINOGRAD_TIMING)",
        .enabled(if: ProcessInfo.processInfo.environment["D2L_WINOGRAD_TIMING"] != nil))
    func ratios() {
        var worst = [Double](repeating: 0, count: 4)
        for seed in 0..<32 {
            let (g, x, w, b, dy) = WinogradConvolutionTests.problem(seed: UInt64(seed))
            let bias = seed % 2 == 0 ? b : nil
            let reference = WinogradConvolutionTests.run(g, x: x, w: w, b: bias, dy: dy, winograd: false)
            let results = WinogradConvolutionTests.run(g, x: x, w: w, b: bias, dy: dy, winograd: true)
            let allowed = WinogradConvolutionTests.allowances(
                g, x: x, w: w, b: bias, dy: dy, initialWeightGradient: 0.5, initialBiasGradient: -0.25)
            let allowances = [allowed.output, allowed.inputGradient, allowed.weightGradient, allowed.biasGradient]
            for index in 0..<4 {
                worst[index] = Swift.max(
                    worst[index],
                    WinogradConvolutionTests.worstRatio(results[index], reference[index], allowances[index]))
            }
        }
        print(
            "RATIOS output \(worst[0]) input gradient \(worst[1]) weight gradient \(worst[2]) bias gradient \(worst[3])"
        )
    }
}

/// Forward, backward-data and backward-weights of the zoo's 3×3 stride-1 layers, the default path
/// against Winograd, interleaved; prints medians. Only with `D2L_WINOGRAD_TIMING` set.
extension WinogradConvolutionDiagnostics {
    @Test(
        "timing (D2L_WINOGRAD_TIMING)",
        .enabled(if: ProcessInfo.processInfo.environment["D2L_WINOGRAD_TIMING"] != nil))
    func timing() {
        // name, N, C, O, H
        let layers: [(String, Int, Int, Int, Int)] = [
            ("vgg conv1 (direct kernels)", 16, 1, 16, 224), ("alexnet conv3", 16, 256, 384, 12),
            ("vgg conv3", 16, 32, 64, 56), ("vgg conv5", 16, 64, 128, 28),
            ("googlenet b2 3x3", 32, 64, 192, 24), ("stack 32x64x56", 32, 64, 64, 56),
            ("stack 128x16x28", 128, 16, 16, 28), ("stack 64x32x32", 64, 32, 32, 32),
        ]
        let repetitions = Int(ProcessInfo.processInfo.environment["D2L_WINOGRAD_TIMING"] ?? "") ?? 5
        for (name, n, c, o, h) in layers {
            var generator = RandomGenerator(seed: 9)
            let g = Convolution2DGeometry(
                batch: n, inputChannels: c, inputHeight: h, inputWidth: h, outputChannels: o, kernelHeight: 3,
                kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1)
            let x = Tensor.randomNormal([n, c, h, h], using: &generator)
            let w = Tensor.randomNormal([o, c, 3, 3], using: &generator)
            let b = Tensor.randomNormal([o], using: &generator)
            let y = Tensor.randomNormal([n, o, h, h], using: &generator)
            let dx = Tensor(shape: x.shape, repeating: 0), dw = Tensor(shape: w.shape, repeating: 0)
            var times = [[Double]](repeating: [], count: 6)
            func time(_ slot: Int, _ body: () -> Void) {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                times[slot].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            for repetition in 0...repetitions {
                time(0) { convolution2DForward(y.pointer, x.pointer, w.pointer, b.pointer, g) }
                time(1) { winogradConvolution2DForward(y.pointer, x.pointer, w.pointer, b.pointer, g) }
                time(2) {
                    convolution2DBackward(
                        inputGradient: dx.pointer, weightGradient: nil, biasGradient: nil, outputGradient: y.pointer,
                        input: x.pointer, weight: w.pointer, g)
                }
                time(3) {
                    winogradConvolution2DBackward(
                        inputGradient: dx.pointer, weightGradient: nil, biasGradient: nil, outputGradient: y.pointer,
                        input: x.pointer, weight: w.pointer, g)
                }
                time(4) {
                    convolution2DBackward(
                        inputGradient: nil, weightGradient: dw.pointer, biasGradient: nil, outputGradient: y.pointer,
                        input: x.pointer, weight: w.pointer, g)
                }
                time(5) {
                    winogradConvolution2DBackward(
                        inputGradient: nil, weightGradient: dw.pointer, biasGradient: nil, outputGradient: y.pointer,
                        input: x.pointer, weight: w.pointer, g)
                }
                if repetition == 0 { times = times.map { _ in [] } } // warm-up
            }
            let medians = times.map { $0.sorted()[$0.count / 2] }
            print(
                String(
                    format:
                        "TIMING %@ | fwd im2col %.2f wino %.2f | bwd-data im2col %.2f wino %.2f | bwd-weights im2col %.2f wino %.2f ms",
                    name, medians[0], medians[1], medians[2], medians[3], medians[4], medians[5]))
        }
    }
}
