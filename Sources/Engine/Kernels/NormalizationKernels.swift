/// Batch normalization kernels (no autodiff here; see `Ops/Normalization.swift`).
///
/// The input is viewed as `[N, C, S]`: S = H·W for images `[N, C, H, W]`, S = 1 for `[N, C]`.
/// Per channel c the statistics run over the M = N·S values `x[·, c, ·]`. Sums are accumulated
/// in `Double`.

/// The per-channel mean and biased variance `(1/M) Σ (x − μ)²` (two passes).
func batchNormStatistics(mean: UnsafeMutablePointer<Float>,       // [C]
                         variance: UnsafeMutablePointer<Float>,   // [C]
                         _ input: UnsafePointer<Float>,            // [N, C, S]
                         batch n: Int, channels: Int, spatial s: Int) {
    let m = Double(n * s)
    parallelFor(channels, work: n * channels * s) { c in
        var sum = 0.0
        for i in 0..<n {
            let row = input + (i * channels + c) * s
            for j in 0..<s { sum += Double(row[j]) }
        }
        let mu = sum / m
        var squares = 0.0
        for i in 0..<n {
            let row = input + (i * channels + c) * s
            for j in 0..<s { let d = Double(row[j]) - mu; squares += d * d }
        }
        mean[c] = Float(mu)
        variance[c] = Float(squares / m)
    }
}

/// `y = γ · (x − μ) · r + β` per channel, with `r = 1/√(σ² + ε)` given as `inverseStandardDeviation`.
func batchNormForward(_ output: UnsafeMutablePointer<Float>,                   // [N, C, S]
                      _ input: UnsafePointer<Float>,                           // [N, C, S]
                      mean: UnsafePointer<Float>,                              // [C]
                      inverseStandardDeviation: UnsafePointer<Float>,          // [C]
                      scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, // [C], [C]
                      batch n: Int, channels: Int, spatial s: Int) {
    parallelFor(channels, work: n * channels * s) { c in
        let a = scale[c] * inverseStandardDeviation[c], mu = mean[c], b = shift[c]
        for i in 0..<n {
            let offset = (i * channels + c) * s
            for j in 0..<s { output[offset + j] = (input[offset + j] - mu) * a + b }
        }
    }
}

/// Batch norm backward with `x̂ = (x − μ)·r`:
/// `dβ += Σ g`, `dγ += Σ g·x̂`, and
/// - with batch statistics (`batchStatistics`): `dx = γ·r·(g − Σg/M − x̂·Σ(g·x̂)/M)` (the exact
///   gradient through μ and σ²);
/// - with fixed (running) statistics: `dx = γ·r·g`.
/// `inputGradient` is overwritten; `scaleGradient`, `shiftGradient` are accumulated into.
func batchNormBackward(inputGradient: UnsafeMutablePointer<Float>?,     // [N, C, S]
                       scaleGradient: UnsafeMutablePointer<Float>?,     // [C]
                       shiftGradient: UnsafeMutablePointer<Float>?,     // [C]
                       outputGradient g: UnsafePointer<Float>,          // [N, C, S]
                       input: UnsafePointer<Float>,                     // [N, C, S]
                       mean: UnsafePointer<Float>,                      // [C]
                       inverseStandardDeviation: UnsafePointer<Float>,  // [C]
                       scale: UnsafePointer<Float>,                     // [C]
                       batchStatistics: Bool, batch n: Int, channels: Int, spatial s: Int) {
    let m = Double(n * s)
    parallelFor(channels, work: n * channels * s) { c in
        let mu = Double(mean[c]), r = Double(inverseStandardDeviation[c])
        var sumG = 0.0, sumGXHat = 0.0
        for i in 0..<n {
            let offset = (i * channels + c) * s
            for j in 0..<s {
                let gradient = Double(g[offset + j])
                sumG += gradient
                sumGXHat += gradient * (Double(input[offset + j]) - mu) * r
            }
        }
        shiftGradient?[c] += Float(sumG)
        scaleGradient?[c] += Float(sumGXHat)
        guard let inputGradient else { return }
        let a = Double(scale[c]) * r
        let meanG = batchStatistics ? sumG / m : 0, meanGXHat = batchStatistics ? sumGXHat / m : 0
        for i in 0..<n {
            let offset = (i * channels + c) * s
            for j in 0..<s {
                let xHat = (Double(input[offset + j]) - mu) * r
                inputGradient[offset + j] = Float(a * (Double(g[offset + j]) - meanG - xHat * meanGXHat))
            }
        }
    }
}
