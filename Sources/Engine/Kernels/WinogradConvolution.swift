import Foundation

/// Winograd F(2×2, 3×3) convolution (Lavin & Gray 2016) for stride-1 3×3 layers: forward,
/// backward-data and backward-weights, with the semantics of `convolution2DForward` and
/// `convolution2DBackward` (letters as in `ConvolutionKernels.swift`).
///
/// The output plane is cut into 2×2 tiles, `TH = ⌈OH/2⌉` rows by `TW = ⌈OW/2⌉` columns of them
/// (the last row or column of tiles is partial when OH or OW is odd: its missing outputs are
/// computed and dropped). Output tile `(ty, tx)` of image n reads the 4×4 input window `d` at rows
/// `2ty − ph …+3`, columns `2tx − pw …+3` (zero in the padding), and for one (o, c) pair
///
///     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,       summed over c before the product with Aᵀ … A,
///
/// with g the 3×3 kernel `w[o, c]` and
///
///     Bᵀ = ⎡1  0 −1  0⎤    G = ⎡ 1    0    0 ⎤    Aᵀ = ⎡1 1  1  0⎤
///          ⎢0  1  1  0⎥        ⎢1/2  1/2  1/2⎥         ⎣0 1 −1 −1⎦
///          ⎢0 −1  1  0⎥        ⎢1/2 −1/2  1/2⎥
///          ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦
///
/// The 16 entries ξ of the 4×4 transformed domain are independent, so with the weights
/// transformed once, `U[ξ, o, c] = (G w[o, c] Gᵀ)[ξ]`, and a chunk's tiles transformed into
/// `V[ξ, c, t] = (Bᵀ d_{c,t} B)[ξ]`, the sums over c are 16 GEMMs `M[ξ] = U[ξ] · V[ξ]`
/// (`[O, C] · [C, tiles]`), and each output tile is `Aᵀ M[·, o, t] A` (+ bias). That is 16·O·C
/// multiplies per tile of 4 outputs against 36·O·C for im2col + GEMM: 2.25× fewer.
///
/// Backward-data is a stride-1 3×3 convolution too: `dX = conv(dY, W′)` with padding `2 − p` and
/// `W′[c, o, ki, kj] = W[o, c, 2 − ki, 2 − kj]` (rotated by 180°, input and output channels
/// swapped), so it runs the forward machinery on dY (hence `padding ≤ 2`). Backward-weights:
/// with `dM[ξ, o, t] = (A dY_{o,t} Aᵀ)[ξ]` (the adjoint of the output transform), `dU[ξ] =
/// Σ_chunks dM[ξ] · V[ξ]ᵀ` (16 GEMMs `[O, tiles] · [tiles, C]`) and `dW[o, c] = Gᵀ dU[·, o, c] G`
/// (the adjoint of the weight transform).
///
/// Chunks: a *unit* is one row of tiles of one image, `(n, ty)`, TW tiles; units are taken in
/// order `n·TH + ty`, and a chunk is a run of consecutive units whose `V` `[16, C, cols]` and `M`
/// `[16, O, cols]` (cols = units·TW) fit the workspace budget, so large planes are cut within an
/// image and small ones gather several images. Batches are split into one part per core
/// (`forEachImagePart`, single-threaded GEMMs) as on the im2col path; each part has its own
/// workspaces, and in backward its own `dU` whose transform is added into that part's dW partial.

/// The 16 entries of a 4×4 transformed tile, row-major `ξ = 4·i + j`.
let winogradTileEntries = 16

extension Convolution2DGeometry {
    /// Whether the Winograd F(2×2, 3×3) kernels handle this convolution: a 3×3 kernel at stride 1
    /// with padding at most 2 in each direction (backward-data runs a convolution with padding
    /// `2 − p`). The geometry has no dilation, so there is none to check.
    var allowsWinograd: Bool {
        kernelHeight == 3 && kernelWidth == 3 && strideHeight == 1 && strideWidth == 1
            && (0...2).contains(paddingHeight) && (0...2).contains(paddingWidth)
    }

    /// Whether the automatic choice takes Winograd: 3×3 stride-1 layers the wide-row kernels leave
    /// to im2col + GEMM (`prefersWideDirect` false: K = 9C > 1600, or no AVX2), with at least 64
    /// input channels and an output plane of at least 8×8. Measured on Zen 3, 2 cores, forward +
    /// backward: AlexNet conv3 (256 → 384, 12×12) 1.10–1.39× im2col + GEMM in three interleaved
    /// pairs, and 1.2–1.6× on the 64–192-channel layers (VGG conv5, GoogLeNet b2) where the wide-row
    /// kernels tie with it; it lost to im2col on 32-channel 32×32 planes and to the direct kernels
    /// on every layer of at most 32 channels. Smaller planes (ResNet's 3×3 and 6×6) were not
    /// measured, so they keep im2col + GEMM.
    var prefersWinograd: Bool {
        allowsWinograd && !prefersWideDirect && inputChannels >= 64 && outputHeight >= 8 && outputWidth >= 8
    }

    /// Whether `algorithm` runs this convolution through Winograd: `.winograd` wherever it can,
    /// `.automatic` where `prefersWinograd`, the others never.
    func usesWinograd(_ algorithm: ConvolutionAlgorithm) -> Bool {
        switch algorithm {
        case .winograd: allowsWinograd
        case .automatic: prefersWinograd
        case .im2col, .direct: false
        }
    }

    /// `TH = ⌈OH/2⌉`, the rows of 2×2 output tiles.
    var winogradTileRows: Int { (outputHeight + 1) / 2 }
    /// `TW = ⌈OW/2⌉`, the columns of 2×2 output tiles (the tiles of one unit).
    var winogradTileColumns: Int { (outputWidth + 1) / 2 }

    /// The units (rows of tiles, `TW` tiles each) of one chunk: as many as keep the chunk's
    /// transformed input `[16, C, cols]` and transformed output `[16, O, cols]` within
    /// `budgetBytes` and its columns `cols = units·TW` near `targetColumns` (wider GEMMs gain
    /// little, and the buffers then stay closer to the caches); at least 1, at most `N·TH`.
    func winogradUnitsPerChunk(budgetBytes: Int, targetColumns: Int = 2048) -> Int {
        let tiles = winogradTileColumns
        let bytesPerUnit = Swift.max(
            1, winogradTileEntries * (inputChannels + outputChannels) * tiles * MemoryLayout<Float>.stride)
        let byBudget = budgetBytes / bytesPerUnit
        let byColumns = (targetColumns + tiles - 1) / Swift.max(tiles, 1)
        return Swift.max(1, Swift.min(batch * winogradTileRows, byBudget, byColumns))
    }

    /// The geometry of backward-data as a convolution: dY `[N, O, OH, OW]` convolved with the
    /// rotated, transposed weights `[C, O, 3, 3]` at padding `2 − p`, giving `[N, C, H, W]`.
    var winogradInputGradientGeometry: Convolution2DGeometry {
        Convolution2DGeometry(
            batch: batch, inputChannels: outputChannels, inputHeight: outputHeight, inputWidth: outputWidth,
            outputChannels: inputChannels, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
            paddingHeight: 2 - paddingHeight, paddingWidth: 2 - paddingWidth)
    }
}

/// `U[ξ, o, c] = (G w[o, c] Gᵀ)[ξ]` for all `o < O`, `c < C`; `weight` is `[O, C, 3, 3]`, or, when
/// `rotatedTranspose`, the forward weight `[C, O, 3, 3]` read as `w[o, c, ki, kj] =
/// weight[c, o, 2 − ki, 2 − kj]` (backward-data's `W′`). With `t = G g` (4×3): `t₀ = g₀`,
/// `t₁ = (g₀ + g₁ + g₂)/2`, `t₂ = (g₀ − g₁ + g₂)/2`, `t₃ = g₂` (rows), then the same on the
/// columns of t.
func winogradWeightTransform(
    _ transformed: UnsafeMutablePointer<Float>, // [16, O, C]
    _ weight: UnsafePointer<Float>, outputChannels o: Int, inputChannels c: Int, rotatedTranspose: Bool
) {
    let plane = o * c
    for oc in 0..<plane {
        let (oi, ci) = oc.quotientAndRemainder(dividingBy: c)
        @inline(__always) func tap(_ k: Int) -> Float {
            rotatedTranspose ? weight[(ci * o + oi) * 9 + 8 - k] : weight[oc * 9 + k]
        }
        // t = G g: 4 rows of 3 (a fourth lane unused).
        let g0 = SIMD4(tap(0), tap(1), tap(2), 0), g1 = SIMD4(tap(3), tap(4), tap(5), 0)
        let g2 = SIMD4(tap(6), tap(7), tap(8), 0)
        let half: Float = 0.5
        // U = t Gᵀ: each row (a, b, c) of t → (a, (a + b + c)/2, (a − b + c)/2, c).
        @inline(__always) func store(_ t: SIMD4<Float>, _ i: Int) {
            transformed[(4 * i) * plane + oc] = t[0]
            transformed[(4 * i + 1) * plane + oc] = half * (t[0] + t[1] + t[2])
            transformed[(4 * i + 2) * plane + oc] = half * (t[0] - t[1] + t[2])
            transformed[(4 * i + 3) * plane + oc] = t[2]
        }
        store(g0, 0)
        store(half * (g0 + g1 + g2), 1)
        store(half * (g0 - g1 + g2), 2)
        store(g2, 3)
    }
}

/// The input transform of the units `units` (`n·TH + ty`) of every channel:
/// `V[ξ, c, (u − u₀)·TW + tx] = (Bᵀ d B)[ξ]`, d the 4×4 window of `input[n, c]` at rows
/// `2ty − ph …`, columns `2tx − pw …` (zero outside the plane). `Bᵀ d`: rows `d₀ − d₂`,
/// `d₁ + d₂`, `d₂ − d₁`, `d₁ − d₃`; then the same on the columns. Each (channel, unit) is a
/// `parallelFor` task that first copies its 4 input rows, zero-padded, into a local buffer.
func winogradInputTransform(
    _ transformed: UnsafeMutablePointer<Float>, // [16, C, cols]
    _ input: UnsafePointer<Float>, // [N, C, H, W]
    units: Range<Int>, _ g: Convolution2DGeometry
) {
    let tileRows = g.winogradTileRows, tileColumns = g.winogradTileColumns
    let channels = g.inputChannels, height = g.inputHeight, width = g.inputWidth
    let columns = units.count * tileColumns
    let entryStride = channels * columns
    let bufferWidth = 2 * tileColumns + 2
    parallelFor(channels * units.count, work: winogradTileEntries * entryStride) { index in
        let (c, unitOffset) = index.quotientAndRemainder(dividingBy: units.count)
        let (n, ty) = (units.lowerBound + unitOffset).quotientAndRemainder(dividingBy: tileRows)
        let plane = input + (n * channels + c) * height * width
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * bufferWidth) { buffer in
            let rows = buffer.baseAddress!
            rows.update(repeating: 0, count: 4 * bufferWidth)
            // rows[r, j] = input[2ty − ph + r, j − pw]
            let firstColumn = Swift.max(0, g.paddingWidth), lastColumn = Swift.min(bufferWidth, width + g.paddingWidth)
            for r in 0..<4 {
                let iy = 2 * ty - g.paddingHeight + r
                if iy < 0 || iy >= height || firstColumn >= lastColumn { continue }
                (rows + r * bufferWidth + firstColumn).update(
                    from: plane + iy * width + firstColumn - g.paddingWidth, count: lastColumn - firstColumn)
            }
            let out = transformed + c * columns + unitOffset * tileColumns
            let r0 = rows, r1 = rows + bufferWidth, r2 = rows + 2 * bufferWidth, r3 = rows + 3 * bufferWidth
            for tx in 0..<tileColumns {
                let j = 2 * tx
                // s = Bᵀ d, row by row (4 columns each).
                let d0 = SIMD4(r0[j], r0[j + 1], r0[j + 2], r0[j + 3])
                let d1 = SIMD4(r1[j], r1[j + 1], r1[j + 2], r1[j + 3])
                let d2 = SIMD4(r2[j], r2[j + 1], r2[j + 2], r2[j + 3])
                let d3 = SIMD4(r3[j], r3[j + 1], r3[j + 2], r3[j + 3])
                // V = s B: on each row (a, b, c, d) → (a − c, b + c, c − b, b − d).
                @inline(__always) func store(_ row: SIMD4<Float>, _ i: Int) {
                    let base = out + 4 * i * entryStride + tx
                    base[0] = row[0] - row[2]
                    base[entryStride] = row[1] + row[2]
                    base[2 * entryStride] = row[2] - row[1]
                    base[3 * entryStride] = row[1] - row[3]
                }
                store(d0 - d2, 0)
                store(d1 + d2, 1)
                store(d2 - d1, 2)
                store(d1 - d3, 3)
            }
        }
    }
}

/// The output transform of the units `units` of every output channel, overwriting:
/// `output[n, o, 2ty + i, 2tx + j] = bias[o] + (Aᵀ m A)[i, j]` with `m[ξ] = M[ξ, o, (u − u₀)·TW + tx]`,
/// for the `(i, j)` inside the plane (partial tiles drop the rest). `Aᵀ m`: rows `m₀ + m₁ + m₂`,
/// `m₁ − m₂ − m₃`; then the same on the columns.
func winogradOutputTransform(
    _ output: UnsafeMutablePointer<Float>, // [N, O, OH, OW]
    _ transformed: UnsafePointer<Float>, // [16, O, cols]
    _ bias: UnsafePointer<Float>?, units: Range<Int>, _ g: Convolution2DGeometry
) {
    let tileRows = g.winogradTileRows, tileColumns = g.winogradTileColumns
    let channels = g.outputChannels, height = g.outputHeight, width = g.outputWidth
    let columns = units.count * tileColumns
    let entryStride = channels * columns
    parallelFor(channels * units.count, work: winogradTileEntries * entryStride) { index in
        let (o, unitOffset) = index.quotientAndRemainder(dividingBy: units.count)
        let (n, ty) = (units.lowerBound + unitOffset).quotientAndRemainder(dividingBy: tileRows)
        let b = bias?[o] ?? 0
        let row0 = output + ((n * channels + o) * height + 2 * ty) * width
        let hasSecondRow = 2 * ty + 1 < height
        let source = transformed + o * columns + unitOffset * tileColumns
        for tx in 0..<tileColumns {
            let m = source + tx
            @inline(__always) func entryRow(_ i: Int) -> SIMD4<Float> {
                SIMD4(
                    m[(4 * i) * entryStride], m[(4 * i + 1) * entryStride], m[(4 * i + 2) * entryStride],
                    m[(4 * i + 3) * entryStride])
            }
            let m0 = entryRow(0), m1 = entryRow(1), m2 = entryRow(2), m3 = entryRow(3)
            let t0 = m0 + m1 + m2, t1 = m1 - m2 - m3
            let x = 2 * tx
            row0[x] = b + (t0[0] + t0[1] + t0[2])
            if x + 1 < width { row0[x + 1] = b + (t0[1] - t0[2] - t0[3]) }
            if hasSecondRow {
                let row1 = row0 + width
                row1[x] = b + (t1[0] + t1[1] + t1[2])
                if x + 1 < width { row1[x + 1] = b + (t1[1] - t1[2] - t1[3]) }
            }
        }
    }
}

/// The adjoint of the output transform for the units `units`: `dM[ξ, o, (u − u₀)·TW + tx] =
/// (A e Aᵀ)[ξ]`, e the 2×2 tile of `outputGradient[n, o]` at `(2ty, 2tx)` (zero past the plane's
/// edge). `A e`: rows `e₀`, `e₀ + e₁`, `e₀ − e₁`, `−e₁`; then the same on the columns.
func winogradOutputGradientTransform(
    _ transformed: UnsafeMutablePointer<Float>, // [16, O, cols]
    _ outputGradient: UnsafePointer<Float>, // [N, O, OH, OW]
    units: Range<Int>, _ g: Convolution2DGeometry
) {
    let tileRows = g.winogradTileRows, tileColumns = g.winogradTileColumns
    let channels = g.outputChannels, height = g.outputHeight, width = g.outputWidth
    let columns = units.count * tileColumns
    let entryStride = channels * columns
    parallelFor(channels * units.count, work: winogradTileEntries * entryStride) { index in
        let (o, unitOffset) = index.quotientAndRemainder(dividingBy: units.count)
        let (n, ty) = (units.lowerBound + unitOffset).quotientAndRemainder(dividingBy: tileRows)
        let row0 = outputGradient + ((n * channels + o) * height + 2 * ty) * width
        let hasSecondRow = 2 * ty + 1 < height
        let target = transformed + o * columns + unitOffset * tileColumns
        for tx in 0..<tileColumns {
            let x = 2 * tx, hasSecondColumn = x + 1 < width
            let e00 = row0[x], e01: Float = hasSecondColumn ? row0[x + 1] : 0
            let e10: Float = hasSecondRow ? row0[width + x] : 0
            let e11: Float = hasSecondRow && hasSecondColumn ? row0[width + x + 1] : 0
            // Rows of A e (2 columns each), then each row (a, b) → (a, a + b, a − b, −b).
            @inline(__always) func store(_ a: Float, _ b: Float, _ i: Int) {
                let base = target + 4 * i * entryStride + tx
                base[0] = a
                base[entryStride] = a + b
                base[2 * entryStride] = a - b
                base[3 * entryStride] = -b
            }
            store(e00, e01, 0)
            store(e00 + e10, e01 + e11, 1)
            store(e00 - e10, e01 - e11, 2)
            store(-e10, -e11, 3)
        }
    }
}

/// Adds the adjoint of the weight transform into `weightGradient` `[O, C, 3, 3]`:
/// `dW[o, c] += Gᵀ dU[·, o, c] G`. `Gᵀ q` on the rows q₀…q₃ of the 4×4 `dU[·, o, c]`:
/// `q₀ + (q₁ + q₂)/2`, `(q₁ − q₂)/2`, `(q₁ + q₂)/2 + q₃`; then the same on the columns.
func winogradAddWeightGradient(
    _ weightGradient: UnsafeMutablePointer<Float>, // [O, C, 3, 3], accumulated
    _ transformedGradient: UnsafePointer<Float>, // [16, O, C]
    outputChannels o: Int, inputChannels c: Int
) {
    let plane = o * c
    for oc in 0..<plane {
        @inline(__always) func row(_ i: Int) -> SIMD4<Float> {
            SIMD4(
                transformedGradient[(4 * i) * plane + oc], transformedGradient[(4 * i + 1) * plane + oc],
                transformedGradient[(4 * i + 2) * plane + oc], transformedGradient[(4 * i + 3) * plane + oc])
        }
        let q0 = row(0), q1 = row(1), q2 = row(2), q3 = row(3)
        let half: Float = 0.5
        // h = Gᵀ dU: 3 rows of 4; then each row (a, b, c, d) → (a + (b + c)/2, (b − c)/2, (b + c)/2 + d).
        let target = weightGradient + oc * 9
        @inline(__always) func add(_ h: SIMD4<Float>, _ i: Int) {
            target[3 * i] += h[0] + half * (h[1] + h[2])
            target[3 * i + 1] += half * (h[1] - h[2])
            target[3 * i + 2] += half * (h[1] + h[2]) + h[3]
        }
        add(q0 + half * (q1 + q2), 0)
        add(half * (q1 - q2), 1)
        add(half * (q1 + q2) + q3, 2)
    }
}

/// The units of images `images`: `n·TH + ty` for n in `images`, `ty < TH`.
@inline(__always)
private func winogradUnits(of images: Range<Int>, _ g: Convolution2DGeometry) -> Range<Int> {
    (images.lowerBound * g.winogradTileRows)..<(images.upperBound * g.winogradTileRows)
}

/// The images per chunk to pass to `forEachImagePart` for chunks of `units` units (at least 1).
@inline(__always)
private func winogradImagesPerChunk(units: Int, _ g: Convolution2DGeometry) -> Int {
    Swift.max(1, units / Swift.max(1, g.winogradTileRows))
}

/// The forward pass on already transformed weights `U` `[16, O, C]`: for each chunk of units,
/// input transform into `V` `[16, C, cols]`, the 16 GEMMs `M[ξ] = U[ξ] · V[ξ]` into `[16, O, cols]`,
/// output transform into `output` (overwritten, plus `bias`).
private func winogradForward(
    _ output: UnsafeMutablePointer<Float>, // [N, O, OH, OW]
    _ input: UnsafePointer<Float>, // [N, C, H, W]
    transformedWeight: UnsafePointer<Float>, // [16, O, C]
    _ bias: UnsafePointer<Float>?, _ g: Convolution2DGeometry, workspaceBudgetBytes: Int
) {
    let o = g.outputChannels, c = g.inputChannels
    let unitsPerChunk = g.winogradUnitsPerChunk(budgetBytes: workspaceBudgetBytes)
    let maximumColumns = unitsPerChunk * g.winogradTileColumns
    forEachImagePart(batch: g.batch, chunk: winogradImagesPerChunk(units: unitsPerChunk, g)) { _, images in
        let transformedInput = WorkspacePool.shared.take(count: winogradTileEntries * c * maximumColumns)
        let transformedOutput = WorkspacePool.shared.take(count: winogradTileEntries * o * maximumColumns)
        defer {
            WorkspacePool.shared.give(transformedInput)
            WorkspacePool.shared.give(transformedOutput)
        }
        let partUnits = winogradUnits(of: images, g)
        for first in stride(from: partUnits.lowerBound, to: partUnits.upperBound, by: unitsPerChunk) {
            let units = first..<Swift.min(first + unitsPerChunk, partUnits.upperBound)
            let columns = units.count * g.winogradTileColumns
            winogradInputTransform(transformedInput.base, input, units: units, g)
            for entry in 0..<winogradTileEntries {
                BLAS.sgemm(
                    m: o, n: columns, k: c, a: transformedWeight + entry * o * c, lda: c,
                    b: transformedInput.base + entry * c * columns, ldb: columns,
                    c: transformedOutput.base + entry * o * columns, ldc: columns)
            }
            winogradOutputTransform(output, transformedOutput.base, bias, units: units, g)
        }
    }
}

/// Forward convolution through Winograd F(2×2, 3×3), same semantics as `convolution2DForward`:
/// `y[n, o] = Σ_{c,ki,kj} w[o, c, ki, kj] · x[n, c, ·+ki, ·+kj] + b[o]`, `output` overwritten.
/// Transforms the weights once (`[16, O, C]`), then runs chunks of output-tile rows as described
/// at the top of this file. Workspace: `16·(C + O)·cols` floats per part, within
/// `workspaceBudgetBytes` unless one row of tiles needs more, plus `16·O·C` for U.
///
/// - Precondition: `g.allowsWinograd`.
func winogradConvolution2DForward(
    _ output: UnsafeMutablePointer<Float>, // [N, O, OH, OW]
    _ input: UnsafePointer<Float>, // [N, C, H, W]
    _ weight: UnsafePointer<Float>, // [O, C, 3, 3]
    _ bias: UnsafePointer<Float>?, // [O]
    _ g: Convolution2DGeometry, workspaceBudgetBytes: Int = convolutionWorkspaceBudgetBytes
) {
    precondition(g.allowsWinograd, "winogradConvolution2DForward: unsupported geometry \(g)")
    let o = g.outputChannels, c = g.inputChannels
    let transformedWeight = WorkspacePool.shared.take(count: winogradTileEntries * o * c)
    defer { WorkspacePool.shared.give(transformedWeight) }
    winogradWeightTransform(
        transformedWeight.base, weight, outputChannels: o, inputChannels: c, rotatedTranspose: false)
    winogradForward(
        output, input, transformedWeight: transformedWeight.base, bias, g, workspaceBudgetBytes: workspaceBudgetBytes)
}

/// Backward convolution through Winograd F(2×2, 3×3), same semantics as `convolution2DBackward`
/// (`inputGradient` overwritten, `weightGradient` and `biasGradient` accumulated into, `nil` for
/// what is not needed):
/// - `db += Σ_{n, positions} dy[n, o]` (the same sums as the im2col path);
/// - dW: per chunk, `dM = A dY Aᵀ` tile by tile into `[16, O, cols]`, the input transform `V`
///   into `[16, C, cols]`, and `dU[ξ] += dM[ξ] · V[ξ]ᵀ` (16 GEMMs, beta = 1) into the part's
///   `[16, O, C]`; at the end of each part `dW_part[o, c] += Gᵀ dU[·, o, c] G`, parts added in
///   order by `forEachImagePartWithWeightGradient`;
/// - `dx = conv(dy, W′)`, `W′[c, o] = rot180(W[o, c])`, padding `2 − p`
///   (`winogradInputGradientGeometry`), through the forward machinery.
///
/// - Precondition: `g.allowsWinograd`.
func winogradConvolution2DBackward(
    inputGradient: UnsafeMutablePointer<Float>?, // [N, C, H, W], overwritten
    weightGradient: UnsafeMutablePointer<Float>?, // [O, C, 3, 3], accumulated
    biasGradient: UnsafeMutablePointer<Float>?, // [O], accumulated
    outputGradient: UnsafePointer<Float>, // [N, O, OH, OW]
    input: UnsafePointer<Float>, // [N, C, H, W]
    weight: UnsafePointer<Float>, // [O, C, 3, 3]
    _ g: Convolution2DGeometry, workspaceBudgetBytes: Int = convolutionWorkspaceBudgetBytes
) {
    precondition(g.allowsWinograd, "winogradConvolution2DBackward: unsupported geometry \(g)")
    let o = g.outputChannels, c = g.inputChannels
    if let biasGradient { accumulateBiasGradient(biasGradient, outputGradient, g) }
    if let weightGradient {
        let unitsPerChunk = g.winogradUnitsPerChunk(budgetBytes: workspaceBudgetBytes)
        let maximumColumns = unitsPerChunk * g.winogradTileColumns
        forEachImagePartWithWeightGradient(
            weightGradient, count: o * c * 9, batch: g.batch, chunk: winogradImagesPerChunk(units: unitsPerChunk, g)
        ) { partWeightGradient, images in
            guard let partWeightGradient else { return }
            let transformedInput = WorkspacePool.shared.take(count: winogradTileEntries * c * maximumColumns)
            let transformedGradient = WorkspacePool.shared.take(count: winogradTileEntries * o * maximumColumns)
            let weightTransformGradient = WorkspacePool.shared.take(count: winogradTileEntries * o * c)
            defer {
                WorkspacePool.shared.give(transformedInput)
                WorkspacePool.shared.give(transformedGradient)
                WorkspacePool.shared.give(weightTransformGradient)
            }
            weightTransformGradient.base.update(repeating: 0, count: winogradTileEntries * o * c)
            let partUnits = winogradUnits(of: images, g)
            for first in stride(from: partUnits.lowerBound, to: partUnits.upperBound, by: unitsPerChunk) {
                let units = first..<Swift.min(first + unitsPerChunk, partUnits.upperBound)
                let columns = units.count * g.winogradTileColumns
                winogradInputTransform(transformedInput.base, input, units: units, g)
                winogradOutputGradientTransform(transformedGradient.base, outputGradient, units: units, g)
                for entry in 0..<winogradTileEntries {
                    BLAS.sgemm(
                        transposeB: true, m: o, n: c, k: columns, a: transformedGradient.base + entry * o * columns,
                        lda: columns, b: transformedInput.base + entry * c * columns, ldb: columns, beta: 1,
                        c: weightTransformGradient.base + entry * o * c, ldc: c)
                }
            }
            winogradAddWeightGradient(
                partWeightGradient, weightTransformGradient.base, outputChannels: o, inputChannels: c)
        }
    }
    if let inputGradient {
        let dataGeometry = g.winogradInputGradientGeometry
        let transformedWeight = WorkspacePool.shared.take(count: winogradTileEntries * o * c)
        defer { WorkspacePool.shared.give(transformedWeight) }
        // W′ is [C, O, 3, 3]: C plays the output channels, O the input channels.
        winogradWeightTransform(
            transformedWeight.base, weight, outputChannels: c, inputChannels: o, rotatedTranspose: true)
        winogradForward(
            inputGradient, outputGradient, transformedWeight: transformedWeight.base, nil, dataGeometry,
            workspaceBudgetBytes: workspaceBudgetBytes)
    }
}
