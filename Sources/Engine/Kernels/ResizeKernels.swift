/// Bilinear resizing of image planes (no autodiff), the arithmetic of PyTorch's CPU
/// `upsample_bilinear2d` with `align_corners=False` and no antialiasing.

/// For each output coordinate along one axis: the two source indices and their weights.
///
/// `scale = inputSize/outputSize`, `src = max(scale·(dst + ½) − ½, 0)`, `i₀ = min(⌊src⌋, in − 1)`,
/// `i₁ = min(i₀ + 1, in − 1)`, `λ₁ = clamp(src − i₀, 0, 1)`, `λ₀ = 1 − λ₁`.
func bilinearTaps(inputSize: Int, outputSize: Int) -> [(i0: Int, i1: Int, lambda0: Float, lambda1: Float)] {
    let scale = Float(inputSize) / Float(outputSize)
    return (0..<outputSize).map { dst in
        let source = Swift.max(scale * (Float(dst) + 0.5) - 0.5, 0)
        let i0 = Swift.min(Int(source.rounded(.down)), inputSize - 1)
        let lambda1 = Swift.min(Swift.max(source - Float(i0), 0), 1)
        return (i0, Swift.min(i0 + 1, inputSize - 1), 1 - lambda1, lambda1)
    }
}

/// `y[i, j] = λ₀ʰ·(λ₀ʷ·x[h₀, w₀] + λ₁ʷ·x[h₀, w₁]) + λ₁ʰ·(λ₀ʷ·x[h₁, w₀] + λ₁ʷ·x[h₁, w₁])` for every plane.
func resizeBilinearKernel(
    _ output: UnsafeMutablePointer<Float>, // [planes, outputHeight, outputWidth]
    _ input: UnsafePointer<Float>, // [planes, inputHeight, inputWidth]
    planes: Int, inputHeight: Int, inputWidth: Int, outputHeight: Int, outputWidth: Int
) {
    let rows = bilinearTaps(inputSize: inputHeight, outputSize: outputHeight)
    let columns = bilinearTaps(inputSize: inputWidth, outputSize: outputWidth)
    let inputPlane = inputHeight * inputWidth, outputPlane = outputHeight * outputWidth
    parallelFor(planes, work: planes * outputPlane * 4) { plane in
        let x = input + plane * inputPlane, y = output + plane * outputPlane
        for (i, row) in rows.enumerated() {
            let top = x + row.i0 * inputWidth, bottom = x + row.i1 * inputWidth
            for (j, column) in columns.enumerated() {
                let upper = top[column.i0] * column.lambda0 + top[column.i1] * column.lambda1
                let lower = bottom[column.i0] * column.lambda0 + bottom[column.i1] * column.lambda1
                y[i * outputWidth + j] = upper * row.lambda0 + lower * row.lambda1
            }
        }
    }
}
