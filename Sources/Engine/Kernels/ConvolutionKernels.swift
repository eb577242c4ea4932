import CKernels
import Dispatch
import Foundation

/// 2-D convolution (cross-correlation, as in PyTorch) lowered to im2col + GEMM, with a bounded
/// workspace. No autodiff here: `Ops/Convolution.swift` records these kernels.
///
/// Letters: N images, C input channels, H×W input plane, O output channels, kh×kw kernel,
/// sh×sw stride, ph×pw zero padding, OH×OW output plane (`OH = ⌊(H + 2ph − kh)/sh⌋ + 1`),
/// P = OH·OW output positions per image, K = C·kh·kw the length of one patch.
///
/// A *column matrix* for a chunk of B images is `[K, B·P]`: row `(c, ki, kj)` holds, for every
/// image b and output position `(oy, ox)` (column `b·P + oy·OW + ox`), the input value
/// `x[b, c, oy·sh − ph + ki, ox·sw − pw + kj]`, or 0 where that falls into the padding.
/// Then `Y = W · col` with the weight viewed as `[O, K]`.

/// The sizes of one convolution.
struct Convolution2DGeometry: Sendable, Equatable {
    var batch: Int
    var inputChannels: Int
    var inputHeight: Int
    var inputWidth: Int
    var outputChannels: Int
    var kernelHeight: Int
    var kernelWidth: Int
    var strideHeight: Int
    var strideWidth: Int
    var paddingHeight: Int
    var paddingWidth: Int

    /// `OH = ⌊(H + 2ph − kh)/sh⌋ + 1`.
    var outputHeight: Int { (inputHeight + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
    /// `OW = ⌊(W + 2pw − kw)/sw⌋ + 1`.
    var outputWidth: Int { (inputWidth + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }
    /// `K = C·kh·kw`, the rows of a column matrix and the columns of the weight matrix.
    var patchSize: Int { inputChannels * kernelHeight * kernelWidth }
    /// `P = OH·OW`, the output positions of one image.
    var outputPlane: Int { outputHeight * outputWidth }
    /// `H·W`.
    var inputPlane: Int { inputHeight * inputWidth }
    /// 1×1 kernel, stride 1, no padding: the column matrix of an image is the image itself.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && paddingHeight == 0 && paddingWidth == 0
    }

    /// The number of images whose column matrix `[K, B·P]` and staging matrix `[O, B·P]` fit
    /// together in `budgetBytes` (at least 1, at most N). Chunks are also capped at about
    /// `targetColumns` columns: beyond that a GEMM gains nothing, and a chunk of one image needs
    /// no staging copy at all.
    func imagesPerChunk(budgetBytes: Int, targetColumns: Int = 16384) -> Int {
        let bytesPerImage = Swift.max(1, (patchSize + outputChannels) * outputPlane * MemoryLayout<Float>.stride)
        let byBudget = budgetBytes / bytesPerImage
        let byColumns = (targetColumns + outputPlane - 1) / Swift.max(outputPlane, 1)
        return Swift.max(1, Swift.min(batch, byBudget, byColumns))
    }
}

extension Convolution2DGeometry {
    /// The columns of a chunk's column matrix `[K, B·P]` that fit in about 1 MiB (a core's L2
    /// cache, so the GEMM reads what im2col just wrote from cache), but at least 1024 and at
    /// most 16384: the `targetColumns` the kernels pass to `imagesPerChunk`.
    var cacheResidentColumns: Int {
        Swift.max(1024, Swift.min(16384, (1 << 20) / Swift.max(1, patchSize * MemoryLayout<Float>.stride)))
    }

    /// For a plane processed image by image: how many output rows one column block covers, so
    /// that the block `[K, R·OW]` stays within `min(budgetBytes, cacheBytes)` (written by im2col,
    /// it is still in cache when the GEMM reads it) but, budget permitting, is at least
    /// `minimumColumns` wide (narrower GEMMs run slowly). Between 1 and OH.
    func outputRowsPerBlock(budgetBytes: Int, cacheBytes: Int = 2 << 20, minimumColumns: Int = 768) -> Int {
        let bytesPerRow = Swift.max(1, patchSize * outputWidth * MemoryLayout<Float>.stride)
        let byCache = Swift.min(budgetBytes, cacheBytes) / bytesPerRow
        let byWidth = Swift.min(
            budgetBytes / bytesPerRow, (minimumColumns + outputWidth - 1) / Swift.max(outputWidth, 1))
        return Swift.max(1, Swift.min(outputHeight, Swift.max(byCache, byWidth)))
    }
}

/// The default byte budget of the convolution workspace (column matrix plus staging matrix of
/// one chunk): 64 MiB, or one image's worth when a single image needs more.
let convolutionWorkspaceBudgetBytes = 64 << 20

/// The output columns `ox` whose input column `ox·sw − pw + kj` lies inside `0..<W`: the
/// others read (im2col) or would write (col2im) padding.
@inline(__always)
private func validOutputColumns(_ g: Convolution2DGeometry, kernelColumn kj: Int) -> Range<Int> {
    let outputWidth = g.outputWidth
    var low = 0
    while low < outputWidth && low * g.strideWidth - g.paddingWidth + kj < 0 { low += 1 }
    var high = outputWidth
    while high > low && (high - 1) * g.strideWidth - g.paddingWidth + kj >= g.inputWidth { high -= 1 }
    return low..<high
}

/// Writes row `(c, ki, kj)` of one image's column matrix, for the output rows `oy` in
/// `outputRows` (all of them, `0..<OH`, except when a large plane is processed in blocks):
/// `columns[(c·kh + ki)·kw + kj, (oy − oy₀)·OW + ox] = image[c, oy·sh − ph + ki, ox·sw − pw + kj]`
/// (0 in the padding), `oy₀ = outputRows.lowerBound`. `columns` points at the image's first
/// column; `rowStride` is the row length of the whole column matrix (B·P for a chunk of B images).
///
/// `col2imRow` has exactly this loop nest, with `+=` in the other direction.
@inline(__always)
func im2colRow(
    _ columns: UnsafeMutablePointer<Float>, rowStride: Int, // [K, rowStride]
    _ image: UnsafePointer<Float>, // [C, H, W]
    channel c: Int, kernelRow ki: Int, kernelColumn kj: Int, outputRows: Range<Int>,
    _ g: Convolution2DGeometry
) {
    let outputWidth = g.outputWidth
    let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowStride
    let valid = validOutputColumns(g, kernelColumn: kj)
    for oy in outputRows {
        let out = row + (oy - outputRows.lowerBound) * outputWidth
        let iy = oy * g.strideHeight - g.paddingHeight + ki
        if iy < 0 || iy >= g.inputHeight {
            out.update(repeating: 0, count: outputWidth)
            continue
        }
        let base = (c * g.inputHeight + iy) * g.inputWidth + kj - g.paddingWidth
        for ox in 0..<valid.lowerBound { out[ox] = 0 }
        if g.strideWidth == 1 {
            copySpan(out, image + base, valid)
        } else {
            for ox in valid { out[ox] = image[base + ox * g.strideWidth] }
        }
        for ox in valid.upperBound..<outputWidth { out[ox] = 0 }
    }
}

/// The adjoint of `im2colRow`: adds each entry of row `(c, ki, kj)` of a column matrix into the
/// input position it was copied from, `image[c, oy·sh − ph + ki, ox·sw − pw + kj] +=
/// columns[(c·kh + ki)·kw + kj, (oy − oy₀)·OW + ox]`, skipping the padding. Same loop nest as im2col.
@inline(__always)
func col2imRow(
    _ image: UnsafeMutablePointer<Float>, // [C, H, W], accumulated
    _ columns: UnsafePointer<Float>, rowStride: Int, // [K, rowStride]
    channel c: Int, kernelRow ki: Int, kernelColumn kj: Int, outputRows: Range<Int>,
    _ g: Convolution2DGeometry
) {
    let outputWidth = g.outputWidth
    let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowStride
    let valid = validOutputColumns(g, kernelColumn: kj)
    for oy in outputRows {
        let out = row + (oy - outputRows.lowerBound) * outputWidth
        let iy = oy * g.strideHeight - g.paddingHeight + ki
        if iy < 0 || iy >= g.inputHeight { continue }
        let base = (c * g.inputHeight + iy) * g.inputWidth + kj - g.paddingWidth
        if g.strideWidth == 1 {
            addSpan(image + base, out, valid)
        } else {
            for ox in valid { image[base + ox * g.strideWidth] += out[ox] }
        }
    }
}

/// `target[i] = source[i]` for `i` in `span`, in SIMD8 vectors: the spans of im2col are one
/// output row (8 to 56 values in the zoo), too short for a `memmove` call to pay off.
@inline(__always)
private func copySpan(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, _ span: Range<Int>) {
    var i = span.lowerBound
    while i + 8 <= span.upperBound {
        UnsafeMutableRawPointer(target + i).storeBytes(
            of: UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<Float>.self),
            as: SIMD8<Float>.self)
        i += 8
    }
    while i < span.upperBound {
        target[i] = source[i]
        i += 1
    }
}

/// `target[i] += source[i]` for `i` in `span`, in SIMD8 vectors (col2im's rows; see `copySpan`).
/// Each element gets one addition, so the result equals the scalar loop's bit for bit.
@inline(__always)
private func addSpan(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, _ span: Range<Int>) {
    var i = span.lowerBound
    while i + 8 <= span.upperBound {
        let sum =
            UnsafeRawPointer(target + i).loadUnaligned(as: SIMD8<Float>.self)
            + UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(target + i).storeBytes(of: sum, as: SIMD8<Float>.self)
        i += 8
    }
    while i < span.upperBound {
        target[i] += source[i]
        i += 1
    }
}

/// im2col of `imageCount` consecutive images into one column matrix `[K, imageCount·R·OW]`,
/// for the `R` output rows `outputRows` of each image (default: all, R·OW = P).
func im2col(
    _ columns: UnsafeMutablePointer<Float>, // [K, B·R·OW]
    _ images: UnsafePointer<Float>, // [B, C, H, W]
    imageCount: Int, outputRows: Range<Int>? = nil, _ g: Convolution2DGeometry
) {
    let rows = outputRows ?? 0..<g.outputHeight
    let imageWidth = rows.count * g.outputWidth, rowStride = imageCount * imageWidth
    let imageSize = g.inputChannels * g.inputPlane
    // Each (image, row of the column matrix) is its own task: no two write the same memory.
    parallelFor(imageCount * g.patchSize, work: g.patchSize * rowStride) { index in
        let (b, row) = index.quotientAndRemainder(dividingBy: g.patchSize)
        let (c, kernelIndex) = row.quotientAndRemainder(dividingBy: g.kernelHeight * g.kernelWidth)
        let (ki, kj) = kernelIndex.quotientAndRemainder(dividingBy: g.kernelWidth)
        im2colRow(
            columns + b * imageWidth, rowStride: rowStride, images + b * imageSize,
            channel: c, kernelRow: ki, kernelColumn: kj, outputRows: rows, g)
    }
}

/// col2im of a column matrix `[K, imageCount·R·OW]` into `imageCount` consecutive images
/// (accumulating: `images += col2im(columns)`). The exact adjoint of `im2col` with the same
/// `outputRows`.
func col2im(
    _ images: UnsafeMutablePointer<Float>, // [B, C, H, W], accumulated
    _ columns: UnsafePointer<Float>, // [K, B·R·OW]
    imageCount: Int, outputRows: Range<Int>? = nil, _ g: Convolution2DGeometry
) {
    let rows = outputRows ?? 0..<g.outputHeight
    let imageWidth = rows.count * g.outputWidth, rowStride = imageCount * imageWidth
    let imageSize = g.inputChannels * g.inputPlane
    // The rows of one channel add into the same plane, so each (image, channel) is one task.
    parallelFor(imageCount * g.inputChannels, work: g.patchSize * rowStride) { index in
        let (b, c) = index.quotientAndRemainder(dividingBy: g.inputChannels)
        for ki in 0..<g.kernelHeight {
            for kj in 0..<g.kernelWidth {
                col2imRow(
                    images + b * imageSize, columns + b * imageWidth, rowStride: rowStride,
                    channel: c, kernelRow: ki, kernelColumn: kj, outputRows: rows, g)
            }
        }
    }
}

/// The number of parts `forEachImagePart` splits a batch of `batch` images in chunks of `chunk`
/// into: one per core when every core gets at least two chunks, else 1 — and 1 on a thread that
/// already runs one part of work spread over the cores (`PartThread`: a `DataParallel` shard).
func imageParts(batch: Int, chunk: Int) -> Int {
    coreCount > 1 && batch >= 2 * chunk * coreCount && !PartThread.isActive ? coreCount : 1
}

/// Runs `body(part, images)` for `imageParts(batch:chunk:)` contiguous ranges of images, in
/// parallel when there is more than one, with OpenBLAS set to one thread meanwhile: each part's
/// GEMMs then run on its own core, and no BLAS worker threads are woken per chunk (on a 2-core
/// machine their spinning between the small GEMMs of a chunked convolution cost more than the
/// GEMMs' second thread gained). Parts must write disjoint memory.
func forEachImagePart(batch: Int, chunk: Int, _ body: (Int, Range<Int>) -> Void) {
    let parts = imageParts(batch: batch, chunk: chunk)
    if parts == 1 {
        body(0, 0..<batch)
        return
    }
    SingleThreadedBLASSections.shared.enter()
    defer { SingleThreadedBLASSections.shared.leave() }
    withoutActuallyEscaping(body) { body in
        let run = unsafeBitCast(body, to: (@Sendable (Int, Range<Int>) -> Void).self)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            PartThread.run { run(part, (part * batch / parts)..<((part + 1) * batch / parts)) }
        }
    }
}

/// `forEachImagePart` for a backward pass that accumulates a weight gradient of `count` elements:
/// `body(partWeightGradient, images)`, where the first part accumulates into `weightGradient`
/// itself and each later part into a zeroed buffer of its own, added into `weightGradient` in part
/// order at the end (so the result depends on the number of parts, never on thread timing).
/// `partWeightGradient` is `nil` when `weightGradient` is.
func forEachImagePartWithWeightGradient(
    _ weightGradient: UnsafeMutablePointer<Float>?, count: Int, batch: Int, chunk: Int,
    _ body: (UnsafeMutablePointer<Float>?, Range<Int>) -> Void
) {
    let parts = imageParts(batch: batch, chunk: chunk)
    let extra = weightGradient == nil || parts == 1 ? nil : TensorStorage(count: (parts - 1) * count, repeating: 0)
    forEachImagePart(batch: batch, chunk: chunk) { part, images in
        body(part == 0 ? weightGradient : extra.map { $0.base + (part - 1) * count }, images)
    }
    if let weightGradient, let extra {
        for part in 1..<parts {
            let partial = extra.base + (part - 1) * count
            for index in 0..<count { weightGradient[index] += partial[index] }
        }
    }
}

/// Output planes at least this large are processed image by image, in blocks of output rows
/// (`outputRowsPerBlock`), each block's GEMM writing straight into the NCHW output; smaller ones
/// are gathered into one wide GEMM per chunk of images through a staging matrix `[O, B·P]`.
let convolutionStagingThreshold = 2048

/// Forward convolution: `y[n, o] = Σ_{c,ki,kj} w[o, c, ki, kj] · x[n, c, ·+ki, ·+kj] + b[o]`.
///
/// Small planes (P < `convolutionStagingThreshold`): for each chunk of B images
/// (`Convolution2DGeometry.imagesPerChunk`), im2col into the column workspace `[K, B·P]`, one
/// GEMM `W[O, K] · col` into a staging matrix `[O, B·P]`, copied out to `[B, O, P]`. Large
/// planes: for each image and block of R output rows, im2col into `[K, R·OW]` and one GEMM into
/// the output rows (`ldc = P`). The bias is written first and the GEMMs add to it (beta = 1).
/// Pointwise convolutions skip im2col (one GEMM per image on the input itself). The workspace
/// holds at most `max(budgetBytes, (K + O)·P·4)` bytes, reused by every chunk and kept between
/// calls (`WorkspacePool`), so it does not grow with N. Unless `directKernels` is false (tests
/// compare the paths), the shape and `ConvolutionAlgorithm.current` may send the convolution to
/// Winograd (`usesWinograd`), the wide-row direct kernels (`usesWideDirect`) or, for stride 1
/// and at most 4 input channels, the small direct kernels (`usesDirectKernels`), in that order.
func convolution2DForward(
    _ output: UnsafeMutablePointer<Float>, // [N, O, OH, OW]
    _ input: UnsafePointer<Float>, // [N, C, H, W]
    _ weight: UnsafePointer<Float>, // [O, C, kh, kw] = [O, K]
    _ bias: UnsafePointer<Float>?, // [O]
    _ g: Convolution2DGeometry, workspaceBudgetBytes: Int = convolutionWorkspaceBudgetBytes,
    directKernels: Bool = ConvolutionAlgorithm.current != .im2col
) {
    if directKernels && g.usesWinograd(ConvolutionAlgorithm.current) {
        winogradConvolution2DForward(output, input, weight, bias, g, workspaceBudgetBytes: workspaceBudgetBytes)
        return
    }
    if directKernels && g.usesWideDirect(ConvolutionAlgorithm.current) {
        wideConvolution2DForward(output, input, weight, bias, g)
        return
    }
    if directKernels && g.usesDirectKernels {
        directConvolution2DForward(output, input, weight, bias, g)
        return
    }
    let p = g.outputPlane, k = g.patchSize, o = g.outputChannels
    let imageSize = g.inputChannels * g.inputPlane, outputSize = o * p
    let beta: Float = bias == nil ? 0 : 1
    /// Fills the `[O, width]` matrix at `target` (row stride `stride`) with the bias.
    func fillBias(_ target: UnsafeMutablePointer<Float>, width: Int, stride: Int) {
        guard let bias else { return }
        for channel in 0..<o { (target + channel * stride).update(repeating: bias[channel], count: width) }
    }
    if g.isPointwise {
        forEachImagePart(batch: g.batch, chunk: 1) { _, images in
            for n in images {
                fillBias(output + n * outputSize, width: p, stride: p)
                BLAS.sgemm(
                    m: o, n: p, k: k, a: weight, lda: k, b: input + n * imageSize, ldb: p,
                    beta: beta, c: output + n * outputSize, ldc: p)
            }
        }
        return
    }
    let chunk = g.imagesPerChunk(budgetBytes: workspaceBudgetBytes, targetColumns: g.cacheResidentColumns)
    if chunk > 1 && p < convolutionStagingThreshold {
        forEachImagePart(batch: g.batch, chunk: chunk) { _, images in
            let columns = WorkspacePool.shared.take(count: k * chunk * p)
            let staging = WorkspacePool.shared.take(count: o * chunk * p)
            defer {
                WorkspacePool.shared.give(columns)
                WorkspacePool.shared.give(staging)
            }
            for first in stride(from: images.lowerBound, to: images.upperBound, by: chunk) {
                let count = Swift.min(chunk, images.upperBound - first), width = count * p
                im2col(columns.base, input + first * imageSize, imageCount: count, g)
                fillBias(staging.base, width: width, stride: width)
                BLAS.sgemm(
                    m: o, n: width, k: k, a: weight, lda: k, b: columns.base, ldb: width,
                    beta: beta, c: staging.base, ldc: width)
                // [O, B·P] → [B, O, P]
                for b in 0..<count {
                    for channel in 0..<o {
                        (output + (first + b) * outputSize + channel * p)
                            .update(from: staging.base + channel * width + b * p, count: p)
                    }
                }
            }
        }
    } else {
        let rowsPerBlock = g.outputRowsPerBlock(budgetBytes: workspaceBudgetBytes)
        forEachImagePart(batch: g.batch, chunk: 1) { _, images in
            let columns = WorkspacePool.shared.take(count: k * rowsPerBlock * g.outputWidth)
            defer { WorkspacePool.shared.give(columns) }
            for n in images {
                for firstRow in stride(from: 0, to: g.outputHeight, by: rowsPerBlock) {
                    let rows = firstRow..<Swift.min(firstRow + rowsPerBlock, g.outputHeight)
                    let width = rows.count * g.outputWidth
                    let y = output + n * outputSize + firstRow * g.outputWidth
                    im2col(columns.base, input + n * imageSize, imageCount: 1, outputRows: rows, g)
                    fillBias(y, width: width, stride: p)
                    BLAS.sgemm(
                        m: o, n: width, k: k, a: weight, lda: k, b: columns.base, ldb: width,
                        beta: beta, c: y, ldc: p)
                }
            }
        }
    }
}

/// `db[o] += Σ_{n, positions} dy[n, o]`, image by image and channel by channel (`vectorSum`),
/// the same order on every convolution path. `dy` is `[N, O, OH, OW]`, `db` `[O]`.
func accumulateBiasGradient(
    _ biasGradient: UnsafeMutablePointer<Float>, _ outputGradient: UnsafePointer<Float>, _ g: Convolution2DGeometry
) {
    let p = g.outputPlane, o = g.outputChannels
    for n in 0..<g.batch {
        for channel in 0..<o {
            biasGradient[channel] += vectorSum(outputGradient + (n * o + channel) * p, count: p)
        }
    }
}

/// Backward convolution, given `dy = ∂L/∂y`:
/// - `dW += dy · colᵀ` (`[O, B·P] · [B·P, K]`, GEMM with beta = 1, accumulated over chunks);
/// - `db += Σ_{n, positions} dy[n, o]`;
/// - `dx = col2im(Wᵀ · dy)` (`[K, O] · [O, B·P]` into the column workspace, then col2im).
///
/// Chunks, staging and row blocks as in `convolution2DForward`. The column matrix is recomputed
/// from `x` chunk by chunk (block by block) rather than saved by the forward pass, so the memory
/// bound is that of the forward pass. `inputGradient` is overwritten; `weightGradient` and
/// `biasGradient` are accumulated into. Pass `nil` for what is not needed. The algorithm is
/// chosen as in `convolution2DForward`; for the small direct kernels dW and db come from
/// `directConvolution2DWeightGradient` and only dx takes the im2col path.
func convolution2DBackward(
    inputGradient: UnsafeMutablePointer<Float>?, // [N, C, H, W], overwritten
    weightGradient: UnsafeMutablePointer<Float>?, // [O, K], accumulated
    biasGradient: UnsafeMutablePointer<Float>?, // [O], accumulated
    outputGradient: UnsafePointer<Float>, // [N, O, OH, OW]
    input: UnsafePointer<Float>, // [N, C, H, W]
    weight: UnsafePointer<Float>, // [O, K]
    _ g: Convolution2DGeometry, workspaceBudgetBytes: Int = convolutionWorkspaceBudgetBytes,
    directKernels: Bool = ConvolutionAlgorithm.current != .im2col
) {
    if directKernels && g.usesWinograd(ConvolutionAlgorithm.current) {
        winogradConvolution2DBackward(
            inputGradient: inputGradient, weightGradient: weightGradient, biasGradient: biasGradient,
            outputGradient: outputGradient, input: input, weight: weight, g, workspaceBudgetBytes: workspaceBudgetBytes)
        return
    }
    if directKernels && g.usesWideDirect(ConvolutionAlgorithm.current) {
        wideConvolution2DBackward(
            inputGradient: inputGradient, weightGradient: weightGradient, biasGradient: biasGradient,
            outputGradient: outputGradient, input: input, weight: weight, g)
        return
    }
    if directKernels && g.usesDirectKernels {
        directConvolution2DWeightGradient(
            weightGradient: weightGradient, biasGradient: biasGradient,
            outputGradient: outputGradient, input: input, g)
        if let inputGradient {
            convolution2DBackward(
                inputGradient: inputGradient, weightGradient: nil, biasGradient: nil,
                outputGradient: outputGradient, input: input, weight: weight, g,
                workspaceBudgetBytes: workspaceBudgetBytes, directKernels: false)
        }
        return
    }
    let p = g.outputPlane, k = g.patchSize, o = g.outputChannels
    let imageSize = g.inputChannels * g.inputPlane, outputSize = o * p
    if let biasGradient { accumulateBiasGradient(biasGradient, outputGradient, g) }
    if g.isPointwise {
        forEachImagePartWithWeightGradient(weightGradient, count: o * k, batch: g.batch, chunk: 1) {
            partWeightGradient, images in
            for n in images {
                let dy = outputGradient + n * outputSize
                if let partWeightGradient {
                    BLAS.sgemm(
                        transposeB: true, m: o, n: k, k: p, a: dy, lda: p, b: input + n * imageSize, ldb: p,
                        beta: 1, c: partWeightGradient, ldc: k)
                }
                if let inputGradient {
                    BLAS.sgemm(
                        transposeA: true, m: k, n: p, k: o, a: weight, lda: k, b: dy, ldb: p,
                        c: inputGradient + n * imageSize, ldc: p)
                }
            }
        }
        return
    }
    if weightGradient == nil && inputGradient == nil { return }
    if let inputGradient { inputGradient.update(repeating: 0, count: g.batch * imageSize) }
    let chunk = g.imagesPerChunk(budgetBytes: workspaceBudgetBytes, targetColumns: g.cacheResidentColumns)
    if chunk > 1 && p < convolutionStagingThreshold {
        forEachImagePartWithWeightGradient(weightGradient, count: o * k, batch: g.batch, chunk: chunk) {
            partWeightGradient, images in
            let columns = WorkspacePool.shared.take(count: k * chunk * p)
            let staging = WorkspacePool.shared.take(count: o * chunk * p)
            defer {
                WorkspacePool.shared.give(columns)
                WorkspacePool.shared.give(staging)
            }
            for first in stride(from: images.lowerBound, to: images.upperBound, by: chunk) {
                let count = Swift.min(chunk, images.upperBound - first), width = count * p
                // dy of the chunk as one [O, B·P] matrix: one GEMM per direction.
                for b in 0..<count {
                    for channel in 0..<o {
                        (staging.base + channel * width + b * p)
                            .update(from: outputGradient + (first + b) * outputSize + channel * p, count: p)
                    }
                }
                if let partWeightGradient {
                    im2col(columns.base, input + first * imageSize, imageCount: count, g)
                    BLAS.sgemm(
                        transposeB: true, m: o, n: k, k: width, a: staging.base, lda: width, b: columns.base,
                        ldb: width, beta: 1, c: partWeightGradient, ldc: k)
                }
                if let inputGradient {
                    BLAS.sgemm(
                        transposeA: true, m: k, n: width, k: o, a: weight, lda: k, b: staging.base, ldb: width,
                        c: columns.base, ldc: width)
                    col2im(inputGradient + first * imageSize, columns.base, imageCount: count, g)
                }
            }
        }
    } else {
        // dy of an image is [O, P] with rows of stride P; a block of output rows is a column block.
        let rowsPerBlock = g.outputRowsPerBlock(budgetBytes: workspaceBudgetBytes)
        forEachImagePartWithWeightGradient(weightGradient, count: o * k, batch: g.batch, chunk: 1) {
            partWeightGradient, images in
            let columns = WorkspacePool.shared.take(count: k * rowsPerBlock * g.outputWidth)
            defer { WorkspacePool.shared.give(columns) }
            for n in images {
                for firstRow in stride(from: 0, to: g.outputHeight, by: rowsPerBlock) {
                    let rows = firstRow..<Swift.min(firstRow + rowsPerBlock, g.outputHeight)
                    let width = rows.count * g.outputWidth
                    let dy = outputGradient + n * outputSize + firstRow * g.outputWidth
                    if let partWeightGradient {
                        im2col(columns.base, input + n * imageSize, imageCount: 1, outputRows: rows, g)
                        BLAS.sgemm(
                            transposeB: true, m: o, n: k, k: width, a: dy, lda: p, b: columns.base, ldb: width,
                            beta: 1, c: partWeightGradient, ldc: k)
                    }
                    if let inputGradient {
                        BLAS.sgemm(
                            transposeA: true, m: k, n: width, k: o, a: weight, lda: k, b: dy, ldb: p,
                            c: columns.base, ldc: width)
                        col2im(inputGradient + n * imageSize, columns.base, imageCount: 1, outputRows: rows, g)
                    }
                }
            }
        }
    }
}

/// Which convolution algorithms run. im2col + GEMM is the reference path and always available;
/// `.automatic` lets each convolution take a faster path its shape allows (stride 1: the small
/// direct kernels up to 4 input channels, the wide-row kernels from 5 channels up to K = 1600 taps
/// (2400 on large planes) on AVX2 + FMA CPUs, Winograd for larger 3×3 layers; ARCHITECTURE.md has
/// the table). For
/// A/B runs and for checking a result against the reference, the environment variable
/// `D2L_CONV_ALGORITHM` (`im2col`, `direct`, `winograd`) forces one (`benchmarks
/// --conv-algorithm …` sets it); it is read once, at the first convolution of the process.
public enum ConvolutionAlgorithm: String, Sendable, CaseIterable {
    /// The fastest path each shape allows.
    case automatic
    /// im2col + GEMM for every convolution.
    case im2col
    /// The wide-row direct kernels (`WideDirectConvolution.swift`) wherever they can run
    /// (`Convolution2DGeometry.allowsWideDirect`: AVX2 + FMA, stride 1), im2col + GEMM elsewhere.
    case direct
    /// Winograd F(2×2, 3×3) (`WinogradConvolution.swift`) for every convolution it handles
    /// (`Convolution2DGeometry.allowsWinograd`: 3×3, stride 1, padding ≤ 2), `.automatic`'s
    /// choices for the others. `.automatic` itself takes it where `prefersWinograd`.
    case winograd

    /// The environment variable read by `current`.
    public static let environmentVariable = "D2L_CONV_ALGORITHM"

    /// The case named by `D2L_CONV_ALGORITHM` (`im2col`, `direct`, `winograd`), else `.automatic`.
    public static let current: ConvolutionAlgorithm =
        ProcessInfo.processInfo.environment[environmentVariable].flatMap(ConvolutionAlgorithm.init(rawValue:))
        ?? .automatic
}
