import TestSupport
import Testing

@testable import Engine

/// The im2col/col2im pair and the chunked workspace of the convolution kernels.
@Suite("Convolution kernels")
struct ConvolutionKernelTests {
    /// Geometries with padding wider than the kernel, stride larger than the kernel, non-square
    /// everything and a pointwise kernel.
    static let geometries: [Convolution2DGeometry] = [
        .init(
            batch: 2, inputChannels: 3, inputHeight: 7, inputWidth: 6, outputChannels: 1, kernelHeight: 3,
            kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1),
        .init(
            batch: 3, inputChannels: 2, inputHeight: 9, inputWidth: 8, outputChannels: 1, kernelHeight: 3,
            kernelWidth: 5, strideHeight: 2, strideWidth: 3, paddingHeight: 1, paddingWidth: 2),
        .init(
            batch: 1, inputChannels: 2, inputHeight: 10, inputWidth: 10, outputChannels: 1, kernelHeight: 3,
            kernelWidth: 3, strideHeight: 4, strideWidth: 4, paddingHeight: 3, paddingWidth: 3),
        .init(
            batch: 2, inputChannels: 1, inputHeight: 8, inputWidth: 5, outputChannels: 1, kernelHeight: 2,
            kernelWidth: 2, strideHeight: 3, strideWidth: 3, paddingHeight: 0, paddingWidth: 0),
        .init(
            batch: 2, inputChannels: 4, inputHeight: 3, inputWidth: 4, outputChannels: 1, kernelHeight: 1,
            kernelWidth: 1, strideHeight: 1, strideWidth: 1, paddingHeight: 0, paddingWidth: 0),
    ]

    @Test("col2im is the adjoint of im2col: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩", arguments: geometries)
    func adjoint(_ g: Convolution2DGeometry) {
        var generator = RandomGenerator(seed: 7)
        let x = Tensor.randomNormal([g.batch, g.inputChannels, g.inputHeight, g.inputWidth], using: &generator)
        let y = Tensor.randomNormal([g.patchSize, g.batch * g.outputPlane], using: &generator)
        let columns = Tensor(shape: [g.patchSize, g.batch * g.outputPlane], repeating: .nan)
        im2col(columns.pointer, x.pointer, imageCount: g.batch, g)
        let back = Tensor.zeros(x.shape)
        col2im(back.pointer, y.pointer, imageCount: g.batch, g)
        var left = 0.0, right = 0.0, magnitude = 0.0
        for i in 0..<columns.count {
            left += Double(columns.pointer[i]) * Double(y.pointer[i])
            magnitude += abs(Double(columns.pointer[i]) * Double(y.pointer[i]))
        }
        for i in 0..<x.count { right += Double(x.pointer[i]) * Double(back.pointer[i]) }
        #expect(!left.isNaN, "im2col left entries unwritten")
        #expect(abs(left - right) <= 1e-6 * max(magnitude, 1), "⟨im2col(x), y⟩ = \(left), ⟨x, col2im(y)⟩ = \(right)")
    }

    @Test("col2im is the adjoint of im2col on a block of output rows", arguments: geometries)
    func adjointOnRowBlock(_ g: Convolution2DGeometry) {
        let rows = (g.outputHeight / 3)..<Swift.max(g.outputHeight / 3 + 1, 2 * g.outputHeight / 3)
        var generator = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([g.batch, g.inputChannels, g.inputHeight, g.inputWidth], using: &generator)
        let width = g.batch * rows.count * g.outputWidth
        let y = Tensor.randomNormal([g.patchSize, width], using: &generator)
        let columns = Tensor(shape: [g.patchSize, width], repeating: .nan)
        im2col(columns.pointer, x.pointer, imageCount: g.batch, outputRows: rows, g)
        let back = Tensor.zeros(x.shape)
        col2im(back.pointer, y.pointer, imageCount: g.batch, outputRows: rows, g)
        var left = 0.0, right = 0.0, magnitude = 0.0
        for i in 0..<columns.count {
            left += Double(columns.pointer[i]) * Double(y.pointer[i])
            magnitude += abs(Double(columns.pointer[i]) * Double(y.pointer[i]))
        }
        for i in 0..<x.count { right += Double(x.pointer[i]) * Double(back.pointer[i]) }
        #expect(!left.isNaN, "im2col left entries unwritten")
        #expect(
            abs(left - right) <= 1e-6 * max(magnitude, 1),
            "rows \(rows): ⟨im2col(x), y⟩ = \(left), ⟨x, col2im(y)⟩ = \(right)")
    }

    @Test("im2col places input values and padding zeros where the formula says")
    func im2colEntries() {
        let g = Self.geometries[1]
        let x = Tensor(
            (0..<(g.batch * g.inputChannels * g.inputPlane)).map { Float($0 + 1) },
            shape: [g.batch, g.inputChannels, g.inputHeight, g.inputWidth])
        let columns = Tensor.zeros([g.patchSize, g.batch * g.outputPlane])
        im2col(columns.pointer, x.pointer, imageCount: g.batch, g)
        var mismatches = 0
        for b in 0..<g.batch {
            for c in 0..<g.inputChannels {
                for ki in 0..<g.kernelHeight {
                    for kj in 0..<g.kernelWidth {
                        for oy in 0..<g.outputHeight {
                            for ox in 0..<g.outputWidth {
                                let iy = oy * g.strideHeight - g.paddingHeight + ki
                                let ix = ox * g.strideWidth - g.paddingWidth + kj
                                let inside = iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth
                                let expected: Float = inside ? x[b, c, iy, ix] : 0
                                let row = (c * g.kernelHeight + ki) * g.kernelWidth + kj
                                if columns[row, b * g.outputPlane + oy * g.outputWidth + ox] != expected {
                                    mismatches += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test("the chunk size follows the byte budget and stays within 1...N")
    func chunkSize() {
        let g = Convolution2DGeometry(
            batch: 128, inputChannels: 3, inputHeight: 224, inputWidth: 224,
            outputChannels: 64, kernelHeight: 3, kernelWidth: 3, strideHeight: 1,
            strideWidth: 1, paddingHeight: 1, paddingWidth: 1)
        let perImage = (g.patchSize + g.outputChannels) * g.outputPlane * 4
        #expect(g.imagesPerChunk(budgetBytes: 1) == 1)
        #expect(g.imagesPerChunk(budgetBytes: 3 * perImage, targetColumns: .max / 2) == 3)
        #expect(
            g.imagesPerChunk(budgetBytes: convolutionWorkspaceBudgetBytes) * perImage
                <= max(convolutionWorkspaceBudgetBytes, perImage))
        var small = g
        small.batch = 5
        small.inputHeight = 6
        small.inputWidth = 6
        #expect(small.imagesPerChunk(budgetBytes: .max / 2) == 5)
    }

    /// Small planes (P = 24) take the staged path with one GEMM per chunk; large planes
    /// (P = 2304 ≥ `convolutionStagingThreshold`) one GEMM per image out of the chunk's columns.
    @Test(
        "chunked convolution equals unchunked, forward and backward",
        arguments: [
            ([5, 3, 7, 6], 1), ([5, 3, 7, 6], 2), ([5, 3, 7, 6], 3), ([3, 2, 48, 96], 1), ([3, 2, 48, 96], 2),
        ])
    func chunkedEqualsUnchunked(inputShape: [Int], imagesPerChunk: Int) {
        var generator = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal(inputShape, using: &generator)
        let w = Tensor.randomNormal([4, inputShape[1], 3, 3], using: &generator)
        let b = Tensor.randomNormal([4], using: &generator)
        let g = convolutionGeometry(input: x.shape, weight: w.shape, bias: b.shape, stride: (2, 1), padding: (1, 1))
        let budget = imagesPerChunk * (g.patchSize + g.outputChannels) * g.outputPlane * 4
        #expect(g.imagesPerChunk(budgetBytes: budget) == imagesPerChunk)
        #expect(g.imagesPerChunk(budgetBytes: .max / 2) == inputShape[0])
        let upstream = Tensor.randomNormal([inputShape[0], 4, g.outputHeight, g.outputWidth], using: &generator)
        var results: [[Tensor]] = []
        for budget in [budget, Int.max / 2] {
            let (xs, ws, bs) = (x.copy(), w.copy(), b.copy())
            for t in [xs, ws, bs] { t.requiresGrad = true }
            let y = conv2D(xs, weight: ws, bias: bs, stride: (2, 1), padding: (1, 1), workspaceBudgetBytes: budget)
            y.backward(seed: upstream)
            results.append([y.detached(), xs.grad!, ws.grad!, bs.grad!])
        }
        // Chunks change the GEMM shapes, hence the kernel's summation order (see the row blocks
        // below for the size of that rounding).
        for (index, name) in ["output", "input gradient", "weight gradient", "bias gradient"].enumerated() {
            expectClose(
                results[0][index], results[1][index], relativeTolerance: 1e-5, absoluteTolerance: 1e-4,
                "\(inputShape) in chunks of \(imagesPerChunk): \(name)")
        }
        // And against a direct evaluation of the definition for the output.
        var worst: Float = 0
        for n in 0..<inputShape[0] {
            for o in 0..<4 {
                for i in 0..<g.outputHeight {
                    for j in 0..<g.outputWidth {
                        var sum = b[o]
                        for c in 0..<inputShape[1] {
                            for ki in 0..<3 {
                                for kj in 0..<3 {
                                    let iy = i * 2 - 1 + ki, ix = j - 1 + kj
                                    if iy >= 0 && iy < inputShape[2] && ix >= 0 && ix < inputShape[3] {
                                        sum += w[o, c, ki, kj] * x[n, c, iy, ix]
                                    }
                                }
                            }
                        }
                        worst = max(worst, abs(sum - results[0][0][n, o, i, j]))
                    }
                }
            }
        }
        #expect(worst <= 1e-4, "largest difference from the direct sum: \(worst)")
    }

    /// A budget below one image's column matrix sends even small planes image by image through
    /// blocks of output rows; the block height follows the budget.
    @Test(
        "blocks of output rows equal whole planes, forward and backward",
        arguments: [([2, 3, 7, 6], 1), ([2, 3, 7, 6], 3), ([2, 2, 48, 96], 1), ([2, 2, 48, 96], 5)])
    func rowBlocksEqualWholePlanes(inputShape: [Int], rowsPerBlock: Int) {
        var generator = RandomGenerator(seed: 12)
        let x = Tensor.randomNormal(inputShape, using: &generator)
        let w = Tensor.randomNormal([3, inputShape[1], 3, 3], using: &generator)
        let g = convolutionGeometry(input: x.shape, weight: w.shape, bias: nil, stride: (2, 1), padding: (1, 1))
        let budget = rowsPerBlock * g.patchSize * g.outputWidth * 4
        #expect(g.imagesPerChunk(budgetBytes: budget) == 1)
        #expect(g.outputRowsPerBlock(budgetBytes: budget) == rowsPerBlock)
        let upstream = Tensor.randomNormal([inputShape[0], 3, g.outputHeight, g.outputWidth], using: &generator)
        var results: [[Tensor]] = []
        for budget in [budget, Int.max / 2] {
            let (xs, ws) = (x.copy(), w.copy())
            for t in [xs, ws] { t.requiresGrad = true }
            let y = conv2D(xs, weight: ws, bias: nil, stride: (2, 1), padding: (1, 1), workspaceBudgetBytes: budget)
            y.backward(seed: upstream)
            results.append([y.detached(), xs.grad!, ws.grad!])
        }
        // Blocks change the GEMM shapes, hence the kernel's summation order: the values are sums of
        // up to a few hundred N(0, 1) products, whose float32 rounding stays near 1e-5.
        for (index, name) in ["output", "input gradient", "weight gradient"].enumerated() {
            expectClose(
                results[0][index], results[1][index], relativeTolerance: 1e-5, absoluteTolerance: 1e-4,
                "\(inputShape) in blocks of \(rowsPerBlock) rows: \(name)")
        }
    }

    @Test("pointwise fast path equals the im2col path")
    func pointwiseMatchesGeneral() {
        var generator = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([3, 4, 5, 6], using: &generator)
        let w = Tensor.randomNormal([2, 4, 1, 1], using: &generator)
        let upstream = Tensor.randomNormal([3, 2, 5, 6], using: &generator)
        let pointwise = convolutionGeometry(input: x.shape, weight: w.shape, bias: nil, stride: (1, 1), padding: (0, 0))
        #expect(pointwise.isPointwise)
        // The same convolution through im2col: pad by one, then crop the border of the result.
        let padded = Tensor.zeros([3, 4, 7, 8])
        for n in 0..<3 {
            for c in 0..<4 { for i in 0..<5 { for j in 0..<6 { padded[n, c, i + 1, j + 1] = x[n, c, i, j] } } }
        }
        let fast = conv2D(x, weight: w)
        let general = conv2D(padded, weight: w)
        for n in 0..<3 {
            for o in 0..<2 {
                for i in 0..<5 {
                    for j in 0..<6 {
                        #expect(abs(fast[n, o, i, j] - general[n, o, i + 1, j + 1]) <= 1e-5)
                    }
                }
            }
        }
        // Gradients through both kernels' backward directly.
        let dxFast = Tensor.zeros(x.shape), dwFast = Tensor.zeros([2, 4])
        convolution2DBackward(
            inputGradient: dxFast.pointer, weightGradient: dwFast.pointer, biasGradient: nil,
            outputGradient: upstream.pointer, input: x.pointer, weight: w.pointer, pointwise)
        let viaColumns = pointwise
        let dxGeneral = Tensor.zeros(x.shape), dwGeneral = Tensor.zeros([2, 4])
        // The same 1×1 convolution by hand through im2col, one GEMM per direction and col2im.
        let p = viaColumns.outputPlane, k = viaColumns.patchSize
        let columns = Tensor.zeros([k, 3 * p]), dy = Tensor.zeros([2, 3 * p])
        im2col(columns.pointer, x.pointer, imageCount: 3, viaColumns)
        for n in 0..<3 {
            for o in 0..<2 { for i in 0..<p { dy[o, n * p + i] = upstream.pointer[(n * 2 + o) * p + i] } }
        }
        BLAS.sgemm(
            transposeB: true, m: 2, n: k, k: 3 * p, a: dy.pointer, lda: 3 * p, b: columns.pointer, ldb: 3 * p,
            c: dwGeneral.pointer, ldc: k)
        BLAS.sgemm(
            transposeA: true, m: k, n: 3 * p, k: 2, a: w.pointer, lda: k, b: dy.pointer, ldb: 3 * p,
            c: columns.pointer, ldc: 3 * p)
        col2im(dxGeneral.pointer, columns.pointer, imageCount: 3, viaColumns)
        expectClose(dxFast, dxGeneral, "pointwise input gradient")
        expectClose(dwFast, dwGeneral, "pointwise weight gradient")
    }

    /// With at least 2 images per core, the pointwise path and the large-plane path (P ≥
    /// `convolutionStagingThreshold`) split the batch into one part per core, each with its own
    /// single-threaded GEMMs and dW partial; a batch of one image runs as one part. Equal up to the
    /// order of the sums (dW and db over images, and the GEMMs' thread split): y and dx are sums of
    /// at most a few hundred products of N(0, 1) numbers, whose float32 rounding stays near 1e-5.
    @Test(
        "per-core parts equal image-by-image convolution, forward and backward",
        arguments: [([6, 5, 48, 48], 3, 1), ([5, 8, 4, 5], 1, 0), ([4, 6, 50, 46], 5, 2)])
    func partsEqualSingleImages(inputShape: [Int], kernel: Int, padding: Int) {
        var generator = RandomGenerator(seed: 13)
        let x = Tensor.randomNormal(inputShape, using: &generator)
        let w = Tensor.randomNormal([5, inputShape[1], kernel, kernel], using: &generator)
        let b = Tensor.randomNormal([5], using: &generator)
        let g = convolutionGeometry(
            input: x.shape, weight: w.shape, bias: b.shape, stride: (1, 1), padding: (padding, padding))
        #expect(g.isPointwise || g.outputPlane >= convolutionStagingThreshold)
        #expect(!g.usesDirectKernels)
        if coreCount > 1 { #expect(imageParts(batch: g.batch, chunk: 1) == coreCount) }
        let upstream = Tensor.randomNormal([inputShape[0], 5, g.outputHeight, g.outputWidth], using: &generator)

        let (whole, wholeWeight, wholeBias) = (x.copy(), w.copy(), b.copy())
        for t in [whole, wholeWeight, wholeBias] { t.requiresGrad = true }
        let y = conv2D(whole, weight: wholeWeight, bias: wholeBias, padding: (padding, padding))
        y.backward(seed: upstream)

        var outputs: [Tensor] = [], inputGradients: [Tensor] = []
        let (singleWeight, singleBias) = (w.copy(), b.copy())
        for t in [singleWeight, singleBias] { t.requiresGrad = true }
        for n in 0..<inputShape[0] {
            let image = x.rows(n..<n + 1).detached()
            image.requiresGrad = true
            let out = conv2D(image, weight: singleWeight, bias: singleBias, padding: (padding, padding))
            out.backward(seed: upstream.rows(n..<n + 1).detached())
            outputs.append(out.detached())
            inputGradients.append(image.grad!)
        }
        expectClose(
            y.detached(), concatenate(outputs, axis: 0), relativeTolerance: 1e-5, absoluteTolerance: 1e-4,
            "\(inputShape): output")
        expectClose(
            whole.grad!, concatenate(inputGradients, axis: 0), relativeTolerance: 1e-5, absoluteTolerance: 1e-4,
            "\(inputShape): input gradient")
        // dW and db sum N·P products: as in CNNReferenceTests, 1e-5·√(N·P) absolute.
        let reduction = Float(inputShape[0] * g.outputPlane).squareRoot()
        expectClose(
            wholeWeight.grad!, singleWeight.grad!, relativeTolerance: 1e-5, absoluteTolerance: 1e-5 * reduction,
            "\(inputShape): weight gradient")
        expectClose(
            wholeBias.grad!, singleBias.grad!, relativeTolerance: 1e-5, absoluteTolerance: 1e-5 * reduction,
            "\(inputShape): bias gradient")
    }

    @Test("samePadding keeps the size at stride 1")
    func samePaddingKeepsSize() {
        #expect(samePadding(kernelSize: (1, 1)) == (0, 0))
        #expect(samePadding(kernelSize: (3, 5)) == (1, 2))
        #expect(samePadding(kernelSize: (11, 7)) == (5, 3))
        let x = Tensor.zeros([1, 1, 9, 8])
        let y = conv2D(x, weight: Tensor.zeros([2, 1, 5, 3]), padding: samePadding(kernelSize: (5, 3)))
        #expect(y.shape == [1, 2, 9, 8])
    }
}

extension Convolution2DGeometry: CustomTestStringConvertible {
    public var testDescription: String {
        "\(batch)×\(inputChannels)×\(inputHeight)×\(inputWidth) k\(kernelHeight)×\(kernelWidth) s\(strideHeight)×\(strideWidth) p\(paddingHeight)×\(paddingWidth)"
    }
}
