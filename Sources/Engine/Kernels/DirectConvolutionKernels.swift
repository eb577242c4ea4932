import CKernels

/// Direct (no im2col) convolution kernels for stride-1 convolutions with very few input
/// channels, such as LeNet's first layer (1 → 6 channels, 5×5, padding 2). Their im2col GEMMs are
/// skinny (`K = C·kh·kw` = 25, `O` = 6) and run far below BLAS peak, and the column matrix is 25×
/// the input; here each output row is accumulated in SIMD registers straight from a zero-padded
/// copy of the image. Letters as in `ConvolutionKernels.swift`. No autodiff here.
///
/// Both kernels work on groups of `directGroupSize` output channels (a group's accumulators stay
/// in registers) and on segments of 4 output columns; the image is copied into a padded plane of
/// width `8·⌈OW/8⌉ + kw − 1`, so every SIMD load (4 or 8 wide) is in bounds and the padding reads zeros.
/// `convolution2DForward` and `convolution2DBackward` select them by shape
/// (`Convolution2DGeometry.usesDirectKernels`); tests check them against the im2col path.
///
/// On CPUs with AVX2 and FMA (cpuid, `cpuHasAVX2FMA`) both kernels run their C twins in
/// `Sources/CKernels` (8 columns per vector, fused multiply-adds; compiled with per-function
/// `target("avx2,fma")` attributes, since Engine itself is compiled for baseline x86-64); the
/// SIMD4 Swift loops below stay the portable path and are tested against them.

/// Output channels per register group of the direct kernels.
let directGroupSize = 6

extension Convolution2DGeometry {
    /// Whether the direct kernels handle this convolution: stride 1, at most 4 input channels,
    /// not pointwise (that path has no im2col anyway).
    var usesDirectKernels: Bool {
        strideHeight == 1 && strideWidth == 1 && inputChannels <= directKernelChannelLimit && !isPointwise
    }

    /// Output column segments of 4, `⌈OW/4⌉`.
    fileprivate var segments: Int { (outputWidth + 3) / 4 }
    /// Width of the padded image plane: `8·⌈OW/8⌉ + kw − 1` (≥ `W + 2pw`), so that the 4-wide
    /// loads of the portable kernels and the 8-wide loads of the AVX2 ones stay inside a row.
    fileprivate var paddedWidth: Int { (outputWidth + 7) / 8 * 8 + kernelWidth - 1 }
    /// Height of the padded image plane, `H + 2ph` (= `OH + kh − 1` at stride 1).
    fileprivate var paddedHeight: Int { inputHeight + 2 * paddingHeight }
    /// Register groups of output channels, `⌈O/6⌉`.
    fileprivate var groups: Int { (outputChannels + directGroupSize - 1) / directGroupSize }
}

/// Copies image `[C, H, W]` into `padded` `[C, paddedHeight, paddedWidth]` with zeros around it.
@inline(__always)
private func padImage(_ padded: UnsafeMutablePointer<Float>, _ image: UnsafePointer<Float>, _ g: Convolution2DGeometry)
{
    let width = g.paddedWidth, height = g.paddedHeight
    padded.update(repeating: 0, count: g.inputChannels * height * width)
    for c in 0..<g.inputChannels {
        for iy in 0..<g.inputHeight {
            (padded + (c * height + iy + g.paddingHeight) * width + g.paddingWidth)
                .update(from: image + (c * g.inputHeight + iy) * g.inputWidth, count: g.inputWidth)
        }
    }
}

/// The weights `[O, K]` as one broadcast SIMD4 per (group, tap, channel of the group):
/// `result[(group·K + t)·6 + j] = w[group·6 + j, t]` in all lanes, 0 past the last channel.
private func broadcastWeights(
    _ weight: UnsafePointer<Float>, _ g: Convolution2DGeometry
) -> UnsafeMutablePointer<SIMD4<Float>> {
    let k = g.patchSize, count = g.groups * k * directGroupSize
    let result = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: count)
    for group in 0..<g.groups {
        for t in 0..<k {
            for j in 0..<directGroupSize {
                let o = group * directGroupSize + j
                result[(group * k + t) * directGroupSize + j] = SIMD4(
                    repeating: o < g.outputChannels ? weight[o * k + t] : 0)
            }
        }
    }
    return result
}

@inline(__always)
private func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

/// Stores the first `count` (≤ 4) lanes of `v` at `p`.
@inline(__always)
private func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
    if count >= 4 {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
    } else {
        for lane in 0..<count { p[lane] = v[lane] }
    }
}

/// Splits images `0..<N` into one contiguous range per core and runs `body(part, images)` for
/// each, in parallel when there is enough `work`. Parts write disjoint memory.
@inline(__always)
private func forEachBatchPart(_ g: Convolution2DGeometry, parts: Int, _ body: (Int, Range<Int>) -> Void) {
    parallelFor(parts, work: g.batch * g.outputChannels * g.outputPlane * g.patchSize) { part in
        body(part, (part * g.batch / parts)..<((part + 1) * g.batch / parts))
    }
}

/// The number of batch parts the direct kernels split into: one per core, at most N.
private func directParts(_ g: Convolution2DGeometry) -> Int {
    Swift.max(1, Swift.min(g.batch, coreCount))
}

/// Whether this CPU runs the AVX2 + FMA kernels of `CKernels` (cpuid, read once).
let cpuHasAVX2FMA = d2l_cpu_has_avx2_fma() != 0

/// The most input channels for which the direct kernels run: 4. Beyond it the portable kernels
/// lose to im2col + GEMM (0.67–0.84× at 6–16 channels), and the AVX2 ones won only the forward
/// (1.35–1.57× on the 16-channel 5×5 block) but not forward + backward (0.93–1.1×), measured on
/// Zen 3 (BENCHMARKS.md).
let directKernelChannelLimit = 4

/// Direct forward convolution at stride 1 (see `convolution2DForward` for the formula): for each
/// image, group of 6 output channels, output row and segment of 4 columns, 6 SIMD4 accumulators
/// start at the bias and add `w[o, c, ki, kj] · padded[c, oy + ki, ox + kj ..< ox + kj + 4]` for
/// every tap. With `avx2` (default: when the CPU has AVX2 and FMA) each padded image goes to
/// `d2l_direct_convolution_forward_avx2` instead: the same loop with 8 columns and fused
/// multiply-adds; the SIMD4 loop stays the portable path.
func directConvolution2DForward(
    _ output: UnsafeMutablePointer<Float>, // [N, O, OH, OW]
    _ input: UnsafePointer<Float>, // [N, C, H, W]
    _ weight: UnsafePointer<Float>, // [O, C, kh, kw] = [O, K]
    _ bias: UnsafePointer<Float>?, // [O]
    _ g: Convolution2DGeometry,
    avx2: Bool = cpuHasAVX2FMA
) {
    precondition(g.usesDirectKernels, "directConvolution2DForward: unsupported geometry \(g)")
    precondition(!avx2 || cpuHasAVX2FMA, "directConvolution2DForward: this CPU has no AVX2 and FMA")
    if avx2 {
        let imageSize = g.inputChannels * g.inputPlane, outputSize = g.outputChannels * g.outputPlane
        forEachBatchPart(g, parts: directParts(g)) { _, images in
            let padded = UnsafeMutablePointer<Float>.allocate(
                capacity: g.inputChannels * g.paddedHeight * g.paddedWidth)
            defer { padded.deallocate() }
            for n in images {
                padImage(padded, input + n * imageSize, g)
                d2l_direct_convolution_forward_avx2(
                    output + n * outputSize, padded, weight, bias, Int32(g.inputChannels), Int32(g.paddedHeight),
                    Int32(g.paddedWidth), Int32(g.outputChannels), Int32(g.outputHeight), Int32(g.outputWidth),
                    Int32(g.kernelHeight), Int32(g.kernelWidth))
            }
        }
        return
    }
    let weights = UnsafePointer(broadcastWeights(weight, g))
    defer { UnsafeMutablePointer(mutating: weights).deallocate() }
    let o = g.outputChannels, k = g.patchSize, oh = g.outputHeight, ow = g.outputWidth, p = g.outputPlane
    let width = g.paddedWidth, height = g.paddedHeight, kh = g.kernelHeight, kw = g.kernelWidth
    let imageSize = g.inputChannels * g.inputPlane
    forEachBatchPart(g, parts: directParts(g)) { _, images in
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: g.inputChannels * height * width)
        defer { padded.deallocate() }
        for n in images {
            padImage(padded, input + n * imageSize, g)
            for group in 0..<g.groups {
                let first = group * directGroupSize, count = Swift.min(directGroupSize, o - first)
                func initial(_ j: Int) -> SIMD4<Float> {
                    guard let bias, j < count else { return SIMD4() }
                    return SIMD4(repeating: bias[first + j])
                }
                let (b0, b1, b2, b3, b4, b5) = (initial(0), initial(1), initial(2), initial(3), initial(4), initial(5))
                let groupWeights = weights + group * k * directGroupSize
                let y = output + (n * o + first) * p
                for oy in 0..<oh {
                    for segment in 0..<g.segments {
                        var (a0, a1, a2, a3, a4, a5) = (b0, b1, b2, b3, b4, b5)
                        var w = groupWeights
                        for c in 0..<g.inputChannels {
                            for ki in 0..<kh {
                                let row = UnsafePointer(padded + (c * height + oy + ki) * width + segment * 4)
                                for kj in 0..<kw {
                                    let x = load4(row + kj)
                                    a0 += w[0] * x
                                    a1 += w[1] * x
                                    a2 += w[2] * x
                                    a3 += w[3] * x
                                    a4 += w[4] * x
                                    a5 += w[5] * x
                                    w += directGroupSize
                                }
                            }
                        }
                        let offset = oy * ow + segment * 4, lanes = Swift.min(4, ow - segment * 4)
                        store4(a0, y + offset, count: lanes)
                        if count > 1 { store4(a1, y + p + offset, count: lanes) }
                        if count > 2 { store4(a2, y + 2 * p + offset, count: lanes) }
                        if count > 3 { store4(a3, y + 3 * p + offset, count: lanes) }
                        if count > 4 { store4(a4, y + 4 * p + offset, count: lanes) }
                        if count > 5 { store4(a5, y + 5 * p + offset, count: lanes) }
                    }
                }
            }
        }
    }
}

/// Direct weight and bias gradients at stride 1: `dW[o, t] += Σ_{n, oy, ox} dy[n, o, oy, ox] ·
/// padded[n, c, oy + ki, ox + kj]` and `db[o] += Σ dy[n, o]`. Each batch part accumulates SIMD4
/// partial sums in its own buffer (per group, tap and channel), summed into `dW` at the end. With
/// `avx2` (default: when the CPU has AVX2 and FMA) the parts accumulate 8-lane sums through
/// `d2l_direct_convolution_weight_gradient_avx2` instead, added up the same way.
func directConvolution2DWeightGradient(
    weightGradient: UnsafeMutablePointer<Float>?, // [O, K], accumulated
    biasGradient: UnsafeMutablePointer<Float>?, // [O], accumulated
    outputGradient: UnsafePointer<Float>, // [N, O, OH, OW]
    input: UnsafePointer<Float>, // [N, C, H, W]
    _ g: Convolution2DGeometry,
    avx2: Bool = cpuHasAVX2FMA
) {
    precondition(g.usesDirectKernels, "directConvolution2DWeightGradient: unsupported geometry \(g)")
    precondition(!avx2 || cpuHasAVX2FMA, "directConvolution2DWeightGradient: this CPU has no AVX2 and FMA")
    if weightGradient == nil && biasGradient == nil { return }
    if avx2 {
        let o = g.outputChannels, k = g.patchSize
        let imageSize = g.inputChannels * g.inputPlane, outputSize = o * g.outputPlane
        let parts = directParts(g), partSize = o * (k + 1) * 8
        // Per part: [O, K, 8] weight sums, then [O, 8] bias sums.
        let partials = TensorStorage(count: parts * partSize, repeating: 0)
        forEachBatchPart(g, parts: parts) { part, images in
            let padded = UnsafeMutablePointer<Float>.allocate(
                capacity: g.inputChannels * g.paddedHeight * g.paddedWidth)
            defer { padded.deallocate() }
            let sums = partials.base + part * partSize
            for n in images {
                padImage(padded, input + n * imageSize, g)
                d2l_direct_convolution_weight_gradient_avx2(
                    sums, sums + o * k * 8, outputGradient + n * outputSize, padded, Int32(g.inputChannels),
                    Int32(g.paddedHeight), Int32(g.paddedWidth), Int32(o), Int32(g.outputHeight), Int32(g.outputWidth),
                    Int32(g.kernelHeight), Int32(g.kernelWidth))
            }
        }
        for part in 0..<parts {
            let sums = partials.base + part * partSize
            if let weightGradient {
                for entry in 0..<(o * k) {
                    let lanes = UnsafeRawPointer(sums + entry * 8).loadUnaligned(as: SIMD8<Float>.self)
                    weightGradient[entry] += lanes.sum()
                }
            }
            if let biasGradient {
                for channel in 0..<o {
                    biasGradient[channel] += UnsafeRawPointer(sums + (o * k + channel) * 8).loadUnaligned(
                        as: SIMD8<Float>.self
                    ).sum()
                }
            }
        }
        return
    }
    let o = g.outputChannels, k = g.patchSize, oh = g.outputHeight, ow = g.outputWidth, p = g.outputPlane
    let width = g.paddedWidth, height = g.paddedHeight, kh = g.kernelHeight, kw = g.kernelWidth
    let imageSize = g.inputChannels * g.inputPlane
    let parts = directParts(g)
    // Per part: [groups, K, 6] SIMD4 weight partials, then [groups, 6] SIMD4 bias partials.
    let partSize = g.groups * (k + 1) * directGroupSize
    let partials = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: parts * partSize)
    partials.initialize(repeating: SIMD4(), count: parts * partSize)
    defer { partials.deallocate() }
    forEachBatchPart(g, parts: parts) { part, images in
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: g.inputChannels * height * width)
        defer { padded.deallocate() }
        let weightSums = partials + part * partSize, biasSums = weightSums + g.groups * k * directGroupSize
        for n in images {
            padImage(padded, input + n * imageSize, g)
            for group in 0..<g.groups {
                let first = group * directGroupSize, count = Swift.min(directGroupSize, o - first)
                let dy = outputGradient + (n * o + first) * p
                var (s0, s1, s2, s3, s4, s5) = (
                    SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(),
                    SIMD4<Float>(), SIMD4<Float>()
                )
                for oy in 0..<oh {
                    for segment in 0..<g.segments {
                        let offset = oy * ow + segment * 4, lanes = Swift.min(4, ow - segment * 4)
                        /// dy of channel `j` of the group at this segment, zeros past OW and past O.
                        func gradient(_ j: Int) -> SIMD4<Float> {
                            guard j < count else { return SIMD4() }
                            if lanes == 4 { return load4(dy + j * p + offset) }
                            var v = SIMD4<Float>()
                            for lane in 0..<lanes { v[lane] = dy[j * p + offset + lane] }
                            return v
                        }
                        let (d0, d1, d2, d3, d4, d5) = (
                            gradient(0), gradient(1), gradient(2), gradient(3),
                            gradient(4), gradient(5)
                        )
                        s0 += d0
                        s1 += d1
                        s2 += d2
                        s3 += d3
                        s4 += d4
                        s5 += d5
                        var sums = weightSums + group * k * directGroupSize
                        for c in 0..<g.inputChannels {
                            for ki in 0..<kh {
                                let row = UnsafePointer(padded + (c * height + oy + ki) * width + segment * 4)
                                for kj in 0..<kw {
                                    let x = load4(row + kj)
                                    sums[0] += d0 * x
                                    sums[1] += d1 * x
                                    sums[2] += d2 * x
                                    sums[3] += d3 * x
                                    sums[4] += d4 * x
                                    sums[5] += d5 * x
                                    sums += directGroupSize
                                }
                            }
                        }
                    }
                }
                let bias = biasSums + group * directGroupSize
                bias[0] += s0
                bias[1] += s1
                bias[2] += s2
                bias[3] += s3
                bias[4] += s4
                bias[5] += s5
            }
        }
    }
    for part in 0..<parts {
        let weightSums = partials + part * partSize, biasSums = weightSums + g.groups * k * directGroupSize
        for channel in 0..<o {
            let (group, j) = channel.quotientAndRemainder(dividingBy: directGroupSize)
            if let weightGradient {
                for t in 0..<k {
                    weightGradient[channel * k + t] += weightSums[(group * k + t) * directGroupSize + j].sum()
                }
            }
            if let biasGradient { biasGradient[channel] += biasSums[group * directGroupSize + j].sum() }
        }
    }
}
