import CKernels
import Dispatch
import Synchronization

/// Wide-row direct convolution for stride-1 layers of 5 or more input channels and up to 1600
/// (2400) taps (AVX2 + FMA only; letters as in `ConvolutionKernels.swift`).
///
/// An image zero-padded to `[C, Hp, Wp]` (`Hp = H + 2ph`, `Wp = W + 2pw`) and read as one long row
/// makes every tap `(c, ki, kj)` of a stride-1 convolution a fixed shift of that row:
///
///     y[o, q] = b[o] + Σ_{c, ki, kj} w[o, c, ki, kj] · xpad[q + (c·Hp + ki)·Wp + kj],   q = oy·Wp + ox
///
/// so the output, computed at every column of the padded width (the `Wp − OW` columns past `OW`
/// are junk and dropped), is a sum of `K = C·kh·kw` shifted rows: no column matrix, and every load
/// is a contiguous 8-float vector. `d2l_wide_convolution_forward_avx2` keeps a tile of 6 output
/// channels (2 or 4 for the last ones) × 16 positions in the 12 accumulators of its registers.
/// When the output channels are a multiple of 8, `d2l_channel_convolution_forward_avx2` runs
/// instead: 6 output positions × 16 channels, the channels in the vector lanes and each
/// position's input a broadcast scalar, so it computes no junk columns at all and writes
/// `[O, OH, OW]` directly (`WideConvolutionPlan` chooses).
///
/// - Backward-data by duality: `dx` is the stride-1 convolution of `dy` zero-padded by
///   `(kh − 1 − ph, kw − 1 − pw)` with the weights transposed (`O ↔ C`) and rotated by 180°,
///   `w'[c, o, a, b] = w[o, c, kh − 1 − a, kw − 1 − b]`: the same kernel, no col2im.
/// - Backward-weights: with output channels in multiples of 8,
///   `dW[o, t] = Σ_{oy, ox} dy[o, oy, ox] · xpad[oy·Wp + ox + offset(t)]` with a tile of 6 taps ×
///   16 channels in registers, `dy` read through a 16-channel tile transposed to position-major
///   (`d2l_channel_convolution_weight_gradient_avx2`, no junk columns); otherwise
///   `dW[o, t] = Σ_q dy_wide[o, q] · xpad[q + offset(t)]` with `dy` laid out wide (zeros at the
///   junk columns), a tile of 4 output channels × 3 taps (`d2l_wide_convolution_weight_gradient_avx2`).
///
/// The forward and dx hand whole images to the cores one at a time (`WideConvolutionPlan.run`);
/// dW goes in per-core parts (`forEachImagePartWithWeightGradient`), each with its own partial,
/// added in part order. The wide-row forward's junk columns cost `(Wp − OW)/Wp` of the arithmetic
/// (7 % at 28×28 with 3×3, 29 % at LeNet's 14 → 10). `convolution2DForward` and
/// `convolution2DBackward` choose these kernels by `Convolution2DGeometry.prefersWideDirect`;
/// tests compare them with the im2col path.

/// The most taps `K = C·kh·kw` for which the automatic choice takes the wide-row kernels on any
/// output plane.
let wideDirectPatchLimit = 1600

/// The most taps for which it takes them on output planes of at least 400 positions.
let wideDirectLargePatchLimit = 2400

/// The buffers and shifts of one wide convolution of `channels` planes `height × width`, padded by
/// `(padTop, padLeft)` on every side, with a `kernelHeight × kernelWidth` kernel and
/// `outputChannels` outputs.
struct WideConvolutionLayout {
    let channels: Int
    let height: Int
    let width: Int
    let padTop: Int
    let padLeft: Int
    let kernelHeight: Int
    let kernelWidth: Int
    let outputChannels: Int

    /// `Hp = height + 2·padTop`.
    var paddedHeight: Int { height + 2 * padTop }
    /// `Wp = width + 2·padLeft`, the row length of input and output.
    var paddedWidth: Int { width + 2 * padLeft }
    /// `OH = Hp − kh + 1`.
    var outputHeight: Int { paddedHeight - kernelHeight + 1 }
    /// `OW = Wp − kw + 1`.
    var outputWidth: Int { paddedWidth - kernelWidth + 1 }
    /// Wide output positions `OH·Wp`.
    var count: Int { outputHeight * paddedWidth }
    /// Row length of the wide output (and of the wide dy): `count` rounded up to the 16-wide tile.
    var rowLength: Int { (count + 15) / 16 * 16 }
    /// The rows of the forward's packed weights and wide output: O rounded up to its last tile
    /// of 2, 4 or 6 channels.
    var tileRows: Int { Int(d2l_wide_convolution_tile_rows(Int32(outputChannels))) }
    /// The weight-gradient kernel's groups of 4 output channels, `⌈O/4⌉`.
    var gradientGroups: Int { (outputChannels + 3) / 4 }
    /// `K = C·kh·kw`.
    var taps: Int { channels * kernelHeight * kernelWidth }
    /// Elements of the padded-input buffer: `C·Hp·Wp` plus the slack the last tile's loads reach.
    var inputCount: Int { channels * paddedHeight * paddedWidth + (rowLength - count) + kernelWidth }

    /// `offsets[t] = (c·Hp + ki)·Wp + kj` for `t = (c·kh + ki)·kw + kj`.
    func offsets() -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(taps)
        for c in 0..<channels {
            for ki in 0..<kernelHeight {
                for kj in 0..<kernelWidth { result.append((c * paddedHeight + ki) * paddedWidth + kj) }
            }
        }
        return result
    }

    /// Copies `planes` `[C, height, width]` into the interior of `padded` `[C, Hp, Wp]`, whose
    /// border and slack the caller has zeroed once (they are never written).
    @inline(__always)
    func pad(_ padded: UnsafeMutablePointer<Float>, _ planes: UnsafePointer<Float>) {
        for c in 0..<channels {
            for row in 0..<height {
                (padded + (c * paddedHeight + row + padTop) * paddedWidth + padLeft)
                    .update(from: planes + (c * height + row) * width, count: width)
            }
        }
    }

    /// Copies the valid columns of the wide output `[tileRows, rowLength]` into `output`
    /// `[O, OH, OW]`.
    @inline(__always)
    func unwiden(_ output: UnsafeMutablePointer<Float>, _ wide: UnsafePointer<Float>) {
        let oh = outputHeight, ow = outputWidth, wp = paddedWidth, length = rowLength
        for o in 0..<outputChannels {
            for row in 0..<oh {
                (output + (o * oh + row) * ow).update(from: wide + o * length + row * wp, count: ow)
            }
        }
    }
}

extension Convolution2DGeometry {
    /// The layout of the forward convolution (and of the weight gradient).
    var wideForwardLayout: WideConvolutionLayout {
        WideConvolutionLayout(
            channels: inputChannels, height: inputHeight, width: inputWidth, padTop: paddingHeight,
            padLeft: paddingWidth, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
            outputChannels: outputChannels)
    }

    /// The layout of the dual convolution giving dx: `dy` `[O, OH, OW]` padded by
    /// `(kh − 1 − ph, kw − 1 − pw)`, `C` outputs of `H × W`.
    var wideInputGradientLayout: WideConvolutionLayout {
        WideConvolutionLayout(
            channels: outputChannels, height: outputHeight, width: outputWidth,
            padTop: kernelHeight - 1 - paddingHeight, padLeft: kernelWidth - 1 - paddingWidth,
            kernelHeight: kernelHeight, kernelWidth: kernelWidth, outputChannels: inputChannels)
    }

    /// Whether the wide-row kernels can run this convolution: AVX2 + FMA, stride 1, padding
    /// below the kernel size (so the dual padding is not negative), not pointwise.
    var allowsWideDirect: Bool {
        cpuHasAVX2FMA && strideHeight == 1 && strideWidth == 1 && !isPointwise
            && paddingHeight < kernelHeight && paddingWidth < kernelWidth
    }

    /// Whether the automatic choice takes the wide-row kernels: more input channels than the
    /// small direct kernels take (`directKernelChannelLimit`) and patches of at most
    /// `wideDirectPatchLimit` taps, or of at most `wideDirectLargePatchLimit` on output planes of
    /// at least 20×20. Measured on Zen 3, forward + backward: from LeNet's conv2 (150 taps) to the
    /// 5×5 block on 64 channels (1600 taps) the wide-row kernels ran 1.2–2.2× im2col + GEMM (2
    /// cores); AlexNet's conv2 (2400 taps, 26×26) 1.04–1.52× in three interleaved pairs, before
    /// the channel-vector kernel's tap blocking made it faster still; AlexNet's conv3 (2304 taps
    /// on a 12×12 plane) slower than im2col (BENCHMARKS.md).
    var prefersWideDirect: Bool {
        allowsWideDirect && inputChannels > directKernelChannelLimit
            && (patchSize <= wideDirectPatchLimit
                || (patchSize <= wideDirectLargePatchLimit && outputPlane >= 400))
    }

    /// Whether `algorithm` runs this convolution on the wide-row kernels: `.direct` wherever they
    /// can, `.automatic` (and `.winograd`, for layers Winograd does not take) where
    /// `prefersWideDirect`, `.im2col` never.
    func usesWideDirect(_ algorithm: ConvolutionAlgorithm) -> Bool {
        switch algorithm {
        case .direct: allowsWideDirect
        case .automatic, .winograd: prefersWideDirect
        case .im2col: false
        }
    }
}

/// One convolution in the wide layout, ready to run image by image: its tap offsets, weights
/// packed for the kernel that runs it and bias. Output channels in multiples of 8 take the
/// channel-vector kernel (`d2l_channel_convolution_forward_avx2`: no junk columns, results
/// written straight into `[O, OH, OW]`); others the wide-row kernel through a wide scratch.
struct WideConvolutionPlan {
    let layout: WideConvolutionLayout
    let offsets: [Int]
    let packed: [Float]
    let bias: [Float]
    /// Whether the channel-vector kernel runs (`O` a multiple of 8).
    let channelVectors: Bool

    /// Packs `weight(o, t)` (`o < O`, `t < K`) and `bias` (`nil`: zeros) for `layout`.
    init(_ layout: WideConvolutionLayout, weight: (Int, Int) -> Float, bias: UnsafePointer<Float>?) {
        self.layout = layout
        offsets = layout.offsets()
        channelVectors = layout.outputChannels % 8 == 0
        let k = layout.taps, o = layout.outputChannels
        let rows = channelVectors ? o : layout.tileRows
        var packed = [Float](repeating: 0, count: rows * k)
        for channel in 0..<o {
            // Tiles of 16 channels (8 for a last odd one), or of 6 (2 or 4 for the last ones).
            let tile = channelVectors ? 16 : 6
            let first = channel / tile * tile, width = Swift.min(tile, rows - first), r = channel - first
            for t in 0..<k { packed[first * k + t * width + r] = weight(channel, t) }
        }
        self.packed = packed
        var biasValues = [Float](repeating: 0, count: rows)
        if let bias { for channel in 0..<o { biasValues[channel] = bias[channel] } }
        self.bias = biasValues
    }

    /// Elements of the scratch `run` needs: the wide output, or none.
    var scratchCount: Int { channelVectors ? 0 : layout.tileRows * layout.rowLength }

    /// Convolves one padded image (`layout.pad`) into `output` `[O, OH, OW]`.
    func run(_ output: UnsafeMutablePointer<Float>, padded: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>)
    {
        if channelVectors {
            d2l_channel_convolution_forward_avx2(
                output, padded, offsets, Int32(layout.taps), packed, bias, Int32(layout.outputChannels),
                Int32(layout.outputHeight), Int32(layout.outputWidth), Int32(layout.paddedWidth))
        } else {
            d2l_wide_convolution_forward_avx2(
                scratch, layout.rowLength, padded, offsets, Int32(layout.taps), packed, bias,
                Int32(layout.outputChannels), Int32(layout.count))
            layout.unwiden(output, scratch)
        }
    }

    /// Runs the convolution on `batch` images `[C, H, W]` at `input` (`inputStride` apart) into
    /// `output` (`outputStride` apart), spread over the cores like `forEachImagePart`, but with the
    /// images handed out one at a time from a shared counter, so that a core slowed by something
    /// else takes fewer (on this VM one core once ran the FMA loop 14 % slower than the other). Each
    /// image's result is computed whole by one core, so which core takes it changes no value.
    func run(
        batch: Int, _ input: UnsafePointer<Float>, inputStride: Int, _ output: UnsafeMutablePointer<Float>,
        outputStride: Int
    ) {
        let next = ImageCounter()
        let work = { () in
            let padded = WorkspacePool.shared.take(count: layout.inputCount)
            let scratch = WorkspacePool.shared.take(count: Swift.max(1, scratchCount))
            defer {
                WorkspacePool.shared.give(padded)
                WorkspacePool.shared.give(scratch)
            }
            padded.base.update(repeating: 0, count: layout.inputCount)
            while case let n = next.take(), n < batch {
                layout.pad(padded.base, input + n * inputStride)
                run(output + n * outputStride, padded: padded.base, scratch: scratch.base)
            }
        }
        let parts = imageParts(batch: batch, chunk: 1)
        if parts == 1 {
            work()
            return
        }
        withoutActuallyEscaping(work) { work in
            let run = unsafeBitCast(work, to: (@Sendable () -> Void).self)
            DispatchQueue.concurrentPerform(iterations: parts) { _ in PartThread.run { run() } }
        }
    }
}

/// A shared counter handing out image indices 0, 1, 2, … to the cores.
private final class ImageCounter: Sendable {
    private let value = Atomic<Int>(0)

    /// The next index (each index once).
    func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

/// Forward convolution through the wide-layout kernels (same contract as `convolution2DForward`).
func wideConvolution2DForward(
    _ output: UnsafeMutablePointer<Float>, // [N, O, OH, OW]
    _ input: UnsafePointer<Float>, // [N, C, H, W]
    _ weight: UnsafePointer<Float>, // [O, K]
    _ bias: UnsafePointer<Float>?, // [O]
    _ g: Convolution2DGeometry
) {
    let k = g.patchSize
    let plan = WideConvolutionPlan(g.wideForwardLayout, weight: { weight[$0 * k + $1] }, bias: bias)
    let imageSize = g.inputChannels * g.inputPlane, outputSize = g.outputChannels * g.outputPlane
    plan.run(batch: g.batch, input, inputStride: imageSize, output, outputStride: outputSize)
}

/// Backward convolution through the wide-row kernels (same contract as `convolution2DBackward`):
/// `dx` by duality (overwritten), `dW` and `db` accumulated; `nil` for what is not needed.
func wideConvolution2DBackward(
    inputGradient: UnsafeMutablePointer<Float>?, // [N, C, H, W], overwritten
    weightGradient: UnsafeMutablePointer<Float>?, // [O, K], accumulated
    biasGradient: UnsafeMutablePointer<Float>?, // [O], accumulated
    outputGradient: UnsafePointer<Float>, // [N, O, OH, OW]
    input: UnsafePointer<Float>, // [N, C, H, W]
    weight: UnsafePointer<Float>, // [O, K]
    _ g: Convolution2DGeometry
) {
    let p = g.outputPlane, o = g.outputChannels, k = g.patchSize
    let imageSize = g.inputChannels * g.inputPlane, outputSize = o * p
    if let biasGradient { accumulateBiasGradient(biasGradient, outputGradient, g) }
    if weightGradient == nil && inputGradient == nil { return }
    let forward = g.wideForwardLayout, dual = g.wideInputGradientLayout
    let forwardOffsets = forward.offsets()
    let kh = g.kernelHeight, kw = g.kernelWidth
    // w'[c, (o·kh + a)·kw + b] = w[o, (c·kh + kh − 1 − a)·kw + kw − 1 − b]
    let dualPlan = inputGradient.map { _ in
        WideConvolutionPlan(
            dual,
            weight: { channel, t in
                let b = t % kw, a = (t / kw) % kh, outputChannel = t / (kw * kh)
                return weight[outputChannel * k + (channel * kh + kh - 1 - a) * kw + kw - 1 - b]
            }, bias: nil)
    }
    // dW: per-core parts with their own partials, added in part order (deterministic sums).
    // Output channels in multiples of 8 take the channel-vector kernel (no junk columns, dy read
    // in place); the others the wide-row kernel over dy copied into the wide layout.
    let channelVectors = o % 8 == 0
    if weightGradient != nil {
        forEachImagePartWithWeightGradient(weightGradient, count: o * k, batch: g.batch, chunk: 1) {
            partWeightGradient, images in
            if let partWeightGradient {
                let padded = WorkspacePool.shared.take(count: forward.inputCount)
                let rows = forward.gradientGroups * 4
                let scratchCount = channelVectors ? p * 16 : rows * forward.rowLength
                let scratch = WorkspacePool.shared.take(count: scratchCount)
                let sums = WorkspacePool.shared.take(count: rows * k)
                defer {
                    WorkspacePool.shared.give(padded)
                    WorkspacePool.shared.give(scratch)
                    WorkspacePool.shared.give(sums)
                }
                padded.base.update(repeating: 0, count: forward.inputCount)
                // The wide layout's junk columns and rows past the last channel stay zero.
                if !channelVectors { scratch.base.update(repeating: 0, count: scratchCount) }
                sums.base.update(repeating: 0, count: rows * k)
                let length = forward.rowLength, wp = forward.paddedWidth, ow = g.outputWidth
                let count = (forward.count + 7) / 8 * 8
                for n in images {
                    forward.pad(padded.base, input + n * imageSize)
                    let dy = outputGradient + n * outputSize
                    if channelVectors {
                        d2l_channel_convolution_weight_gradient_avx2(
                            sums.base, dy, scratch.base, padded.base, forwardOffsets, Int32(k), Int32(o),
                            Int32(g.outputHeight), Int32(ow), Int32(wp))
                        continue
                    }
                    for channel in 0..<o {
                        for row in 0..<g.outputHeight {
                            (scratch.base + channel * length + row * wp)
                                .update(from: dy + channel * p + row * ow, count: ow)
                        }
                    }
                    d2l_wide_convolution_weight_gradient_avx2(
                        sums.base, scratch.base, length, padded.base, forwardOffsets, Int32(k),
                        Int32(forward.gradientGroups), Int32(count))
                }
                for index in 0..<(o * k) { partWeightGradient[index] += sums.base[index] }
            }
        }
    }
    // dx by duality: whole images per core, handed out one at a time.
    if let inputGradient, let dualPlan {
        dualPlan.run(batch: g.batch, outputGradient, inputStride: outputSize, inputGradient, outputStride: imageSize)
    }
}
