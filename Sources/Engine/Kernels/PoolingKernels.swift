import CKernels

/// Max and average pooling over planes, forward and backward (no autodiff here; see
/// `Ops/Pooling.swift`). An input `[N, C, H, W]` is `N·C` independent planes `[H, W]`; the output
/// plane is `OH × OW` with `OH = ⌊(H + 2ph − kh)/sh⌋ + 1`, `OW = ⌊(W + 2pw − kw)/sw⌋ + 1`, and the
/// window of output `(i, j)` covers rows `i·sh − ph ..< i·sh − ph + kh` and the matching columns.

/// The sizes of one pooling.
struct Pooling2DGeometry: Sendable {
    var planes: Int
    var inputHeight: Int
    var inputWidth: Int
    var kernelHeight: Int
    var kernelWidth: Int
    var strideHeight: Int
    var strideWidth: Int
    var paddingHeight: Int
    var paddingWidth: Int

    var outputHeight: Int { (inputHeight + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
    var outputWidth: Int { (inputWidth + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }
    var inputPlane: Int { inputHeight * inputWidth }
    var outputPlane: Int { outputHeight * outputWidth }

    /// 2×2 windows at stride 2 without padding (LeNet's pooling): the windows tile the input, so
    /// the average-pooling kernels take a loop without window bounds.
    var isTwoByTwoTiling: Bool {
        kernelHeight == 2 && kernelWidth == 2 && strideHeight == 2 && strideWidth == 2
            && paddingHeight == 0 && paddingWidth == 0
    }

    /// The window's rows (or columns) that lie inside the input, for output row `i` (column `j`).
    @inline(__always)
    func rows(_ i: Int) -> Range<Int> {
        let start = i * strideHeight - paddingHeight
        return Swift.max(start, 0)..<Swift.min(start + kernelHeight, inputHeight)
    }

    @inline(__always)
    func columns(_ j: Int) -> Range<Int> {
        let start = j * strideWidth - paddingWidth
        return Swift.max(start, 0)..<Swift.min(start + kernelWidth, inputWidth)
    }
}

/// Max pooling: `y = max` over the window's elements inside the input (padding never wins, as if
/// it were −∞). Records in `argmax` the index within its input plane of the element chosen: the
/// first maximum in row-major scan order (PyTorch's rule `v > best || isnan(v)`, so a NaN wins).
///
/// With `avx2` (default: when the CPU has AVX2 and FMA and the column stride is 1 or 2), each
/// plane is copied into a plane of −∞ with the padding (and room for whole 8-wide loads) around
/// it, and `d2l_max_pool_plane_avx2` takes 8 outputs of a row at a time, branch-free, with the
/// same scan order and rule: the same values and indices, bit for bit, as the scalar loop below,
/// which stays the portable path. The scalar loop's data-dependent branches were 16 % of a
/// GoogLeNet training step.
func maxPool2DForward(
    _ output: UnsafeMutablePointer<Float>, // [planes, OH, OW]
    argmax: UnsafeMutablePointer<Int32>, // [planes, OH, OW]
    _ input: UnsafePointer<Float>, // [planes, H, W]
    _ g: Pooling2DGeometry,
    avx2: Bool = cpuHasAVX2FMA
) {
    let outputHeight = g.outputHeight, outputWidth = g.outputWidth
    if avx2 && (g.strideWidth == 1 || g.strideWidth == 2) {
        maxPool2DForwardAVX2(output, argmax: argmax, input, g)
        return
    }
    parallelFor(g.planes, work: g.planes * g.outputPlane * g.kernelHeight * g.kernelWidth) { plane in
        let x = input + plane * g.inputPlane
        let y = output + plane * g.outputPlane, indices = argmax + plane * g.outputPlane
        for i in 0..<outputHeight {
            let rows = g.rows(i)
            for j in 0..<outputWidth {
                let columns = g.columns(j)
                var bestIndex = rows.lowerBound * g.inputWidth + columns.lowerBound
                var best = -Float.infinity
                for r in rows {
                    for c in columns {
                        let index = r * g.inputWidth + c
                        let value = x[index]
                        if value > best || value.isNaN {
                            best = value
                            bestIndex = index
                        }
                    }
                }
                y[i * outputWidth + j] = best
                indices[i * outputWidth + j] = Int32(bestIndex)
            }
        }
    }
}

/// The AVX2 path of `maxPool2DForward`: planes in blocks over the cores, each block with one
/// padded scratch plane.
private func maxPool2DForwardAVX2(
    _ output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
    _ input: UnsafePointer<Float>, _ g: Pooling2DGeometry
) {
    precondition(cpuHasAVX2FMA, "maxPool2DForward: this CPU has no AVX2 and FMA")
    let outputWidth = g.outputWidth, segments = (outputWidth + 7) / 8
    let paddedHeight = g.inputHeight + 2 * g.paddingHeight
    let paddedWidth = Swift.max(g.inputWidth + 2 * g.paddingWidth, g.strideWidth * 8 * segments + g.kernelWidth - 1)
    let blocks = Swift.min(g.planes, parallelBlockCount)
    parallelFor(blocks, work: g.planes * g.outputPlane * g.kernelHeight * g.kernelWidth) { block in
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedHeight * paddedWidth)
        defer { padded.deallocate() }
        padded.initialize(repeating: -.infinity, count: paddedHeight * paddedWidth)
        for plane in (block * g.planes / blocks)..<((block + 1) * g.planes / blocks) {
            // Only the input's rectangle changes from plane to plane; the −∞ around it stays.
            let x = input + plane * g.inputPlane
            for r in 0..<g.inputHeight {
                (padded + (r + g.paddingHeight) * paddedWidth + g.paddingWidth)
                    .update(from: x + r * g.inputWidth, count: g.inputWidth)
            }
            d2l_max_pool_plane_avx2(
                output + plane * g.outputPlane, argmax + plane * g.outputPlane, padded, Int32(paddedWidth),
                Int32(g.inputWidth), Int32(g.outputHeight), Int32(outputWidth), Int32(g.kernelHeight),
                Int32(g.kernelWidth), Int32(g.strideHeight), Int32(g.strideWidth),
                Int32(g.paddingHeight), Int32(g.paddingWidth))
        }
    }
}

/// Max pooling backward: `dx[argmax] += dy` (each output's gradient goes to the chosen element).
func maxPool2DBackward(
    _ inputGradient: UnsafeMutablePointer<Float>, // [planes, H, W], accumulated
    _ outputGradient: UnsafePointer<Float>, // [planes, OH, OW]
    argmax: UnsafePointer<Int32>, // [planes, OH, OW]
    _ g: Pooling2DGeometry
) {
    parallelFor(g.planes, work: g.planes * g.outputPlane * 4) { plane in
        let dx = inputGradient + plane * g.inputPlane
        let dy = outputGradient + plane * g.outputPlane, indices = argmax + plane * g.outputPlane
        for k in 0..<g.outputPlane { dx[Int(indices[k])] += dy[k] }
    }
}

/// Average pooling counting the padding as zeros: `y = (Σ window elements inside the input) /
/// (kh·kw)` (PyTorch's `count_include_pad=True`; with floor-mode output sizes no window reaches
/// past the padded input, so the divisor is always kh·kw). 2×2 windows at stride 2 without
/// padding take a loop without window bounds (`isTwoByTwoTiling`), with the same sums.
func averagePool2DForward(
    _ output: UnsafeMutablePointer<Float>, // [planes, OH, OW]
    _ input: UnsafePointer<Float>, // [planes, H, W]
    _ g: Pooling2DGeometry
) {
    let outputHeight = g.outputHeight, outputWidth = g.outputWidth
    let divisor = Float(g.kernelHeight * g.kernelWidth)
    if g.isTwoByTwoTiling {
        // The general loop's sum order, and × 0.25 is exactly ÷ 4: the same values.
        let width = g.inputWidth
        parallelFor(g.planes, work: g.planes * g.outputPlane * 4) { plane in
            let x = input + plane * g.inputPlane, y = output + plane * g.outputPlane
            for i in 0..<outputHeight {
                let top = x + 2 * i * width, bottom = top + width, row = y + i * outputWidth
                for j in 0..<outputWidth {
                    row[j] = (((top[2 * j] + top[2 * j + 1]) + bottom[2 * j]) + bottom[2 * j + 1]) * 0.25
                }
            }
        }
        return
    }
    parallelFor(g.planes, work: g.planes * g.outputPlane * g.kernelHeight * g.kernelWidth) { plane in
        let x = input + plane * g.inputPlane, y = output + plane * g.outputPlane
        for i in 0..<outputHeight {
            let rows = g.rows(i)
            for j in 0..<outputWidth {
                let columns = g.columns(j)
                var sum: Float = 0
                for r in rows {
                    for c in columns { sum += x[r * g.inputWidth + c] }
                }
                y[i * outputWidth + j] = sum / divisor
            }
        }
    }
}

/// Average pooling backward: every element of a window inside the input gets `dy / (kh·kw)`.
func averagePool2DBackward(
    _ inputGradient: UnsafeMutablePointer<Float>, // [planes, H, W], accumulated
    _ outputGradient: UnsafePointer<Float>, // [planes, OH, OW]
    _ g: Pooling2DGeometry
) {
    let outputHeight = g.outputHeight, outputWidth = g.outputWidth
    let divisor = Float(g.kernelHeight * g.kernelWidth)
    if g.isTwoByTwoTiling {
        let width = g.inputWidth
        parallelFor(g.planes, work: g.planes * g.outputPlane * 4) { plane in
            let dx = inputGradient + plane * g.inputPlane, dy = outputGradient + plane * g.outputPlane
            for i in 0..<outputHeight {
                let top = dx + 2 * i * width, bottom = top + width, row = dy + i * outputWidth
                for j in 0..<outputWidth {
                    let share = row[j] * 0.25
                    top[2 * j] += share
                    top[2 * j + 1] += share
                    bottom[2 * j] += share
                    bottom[2 * j + 1] += share
                }
            }
        }
        return
    }
    parallelFor(g.planes, work: g.planes * g.outputPlane * g.kernelHeight * g.kernelWidth) { plane in
        let dx = inputGradient + plane * g.inputPlane, dy = outputGradient + plane * g.outputPlane
        for i in 0..<outputHeight {
            let rows = g.rows(i)
            for j in 0..<outputWidth {
                let columns = g.columns(j)
                let share = dy[i * outputWidth + j] / divisor
                for r in rows {
                    for c in columns { dx[r * g.inputWidth + c] += share }
                }
            }
        }
    }
}
