/// Batch normalization kernels (no autodiff here; see `Ops/Normalization.swift`).
///
/// The input is viewed as `[N, C, S]`: S = H·W for images `[N, C, H, W]`, S = 1 for `[N, C]`.
/// Per channel c the statistics run over the M = N·S values `x[·, c, ·]`. Sums are accumulated
/// in `Double`, eight lanes at a time (`SIMD8<Double>`, two AVX registers): a scalar `Double`
/// accumulator is one dependent add per element, four cycles each, which made batch norm about a
/// sixth of BN-LeNet's training step.

/// Loads `x[i ..< i+8]` widened to `Double`.
@inline(__always)
private func loadWide(_ x: UnsafePointer<Float>, _ i: Int) -> SIMD8<Double> {
    SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
}

/// `Σ x[j]` over one row of `count` values, in `Double`.
@inline(__always)
private func rowSum(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var lanes = SIMD8<Double>()
    var j = 0
    while j + 8 <= count {
        lanes += loadWide(x, j)
        j += 8
    }
    var total = lanes.sum()
    while j < count {
        total += Double(x[j])
        j += 1
    }
    return total
}

/// `Σ (x[j] − μ)²` over one row of `count` values, in `Double`.
@inline(__always)
private func rowSquaredDeviations(_ x: UnsafePointer<Float>, count: Int, mean mu: Double) -> Double {
    var lanes = SIMD8<Double>()
    let muLanes = SIMD8<Double>(repeating: mu)
    var j = 0
    while j + 8 <= count {
        let d = loadWide(x, j) - muLanes
        lanes += d * d
        j += 8
    }
    var total = lanes.sum()
    while j < count {
        let d = Double(x[j]) - mu
        total += d * d
        j += 1
    }
    return total
}

/// The per-channel mean and biased variance `(1/M) Σ (x − μ)²` (two passes), and M. Inside a
/// data-parallel step (`shards`: the calling thread's `ShardGroup` and shard), the sums and M
/// are all-reduced over the shards between the passes, so every shard gets the statistics of the
/// whole batch (PyTorch's `SyncBatchNorm`); alone, the sums are the same as before the split.
@discardableResult
func batchNormStatistics(
    mean: UnsafeMutablePointer<Float>, // [C]
    variance: UnsafeMutablePointer<Float>, // [C]
    _ input: UnsafePointer<Float>, // [N, C, S]
    batch n: Int, channels: Int, spatial s: Int,
    shards: (group: ShardGroup, shard: Int)? = nil
) -> Int {
    // sums[c] = Σ x (then Σ (x − μ)²) over the channel; sums[C] = M.
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: channels + 1)
    defer { sums.deallocate() }
    parallelFor(channels, work: n * channels * s) { c in
        var sum = 0.0
        for i in 0..<n { sum += rowSum(input + (i * channels + c) * s, count: s) }
        sums[c] = sum
    }
    sums[channels] = Double(n * s)
    shards?.group.allReduceSum(sums, count: channels + 1, shard: shards!.shard)
    let m = sums[channels]
    let means = UnsafeMutablePointer<Double>.allocate(capacity: channels)
    defer { means.deallocate() }
    for c in 0..<channels { means[c] = sums[c] / m }
    parallelFor(channels, work: n * channels * s) { c in
        let mu = means[c]
        var squares = 0.0
        for i in 0..<n { squares += rowSquaredDeviations(input + (i * channels + c) * s, count: s, mean: mu) }
        sums[c] = squares
    }
    shards?.group.allReduceSum(sums, count: channels, shard: shards!.shard)
    for c in 0..<channels {
        mean[c] = Float(means[c])
        variance[c] = Float(sums[c] / m)
    }
    return Int(m)
}

/// `y = γ · (x − μ) · r + β` per channel, with `r = 1/√(σ² + ε)` given as `inverseStandardDeviation`.
func batchNormForward(
    _ output: UnsafeMutablePointer<Float>, // [N, C, S]
    _ input: UnsafePointer<Float>, // [N, C, S]
    mean: UnsafePointer<Float>, // [C]
    inverseStandardDeviation: UnsafePointer<Float>, // [C]
    scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, // [C], [C]
    batch n: Int, channels: Int, spatial s: Int
) {
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
/// The sums are taken in `Double`; `dx` is computed in `Float` from `Double` coefficients,
/// `dx = p·g + q·(x − μ) + t` with `p = γr`, `q = −γr²·Σ(g·x̂)/M`, `t = −γr·Σg/M` (`x − μ` is
/// rounded once: μ is the `Float` mean the forward pass used).
///
/// Inside a data-parallel step (`shards`, with `m` the whole batch's M), `dβ` and `dγ` get this
/// shard's sums (`DataParallel` adds the replicas' gradients), and `dx` the sums all-reduced over
/// the shards: the gradient through the whole batch's statistics.
func batchNormBackward(
    inputGradient: UnsafeMutablePointer<Float>?, // [N, C, S]
    scaleGradient: UnsafeMutablePointer<Float>?, // [C]
    shiftGradient: UnsafeMutablePointer<Float>?, // [C]
    outputGradient g: UnsafePointer<Float>, // [N, C, S]
    input: UnsafePointer<Float>, // [N, C, S]
    mean: UnsafePointer<Float>, // [C]
    inverseStandardDeviation: UnsafePointer<Float>, // [C]
    scale: UnsafePointer<Float>, // [C]
    batchStatistics: Bool, batch n: Int, channels: Int, spatial s: Int,
    count m: Int? = nil, shards: (group: ShardGroup, shard: Int)? = nil
) {
    // sums[2c] = Σ g, sums[2c + 1] = Σ g·(x − μ)
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2 * channels)
    defer { sums.deallocate() }
    parallelFor(channels, work: n * channels * s) { c in
        let mu = Double(mean[c])
        let muLanes = SIMD8<Double>(repeating: mu)
        var sumG = 0.0, sumGDeviation = 0.0
        for i in 0..<n {
            let offset = (i * channels + c) * s
            let gRow = g + offset, xRow = input + offset
            var gLanes = SIMD8<Double>(), gdLanes = SIMD8<Double>()
            var j = 0
            while j + 8 <= s {
                let gradient = loadWide(gRow, j)
                gLanes += gradient
                gdLanes += gradient * (loadWide(xRow, j) - muLanes)
                j += 8
            }
            sumG += gLanes.sum()
            sumGDeviation += gdLanes.sum()
            while j < s {
                let gradient = Double(gRow[j])
                sumG += gradient
                sumGDeviation += gradient * (Double(xRow[j]) - mu)
                j += 1
            }
        }
        sums[2 * c] = sumG
        sums[2 * c + 1] = sumGDeviation
        shiftGradient?[c] += Float(sumG)
        scaleGradient?[c] += Float(sumGDeviation * Double(inverseStandardDeviation[c]))
    }
    guard let inputGradient else { return }
    if batchStatistics, let shards { shards.group.allReduceSum(sums, count: 2 * channels, shard: shards.shard) }
    let total = Double(m ?? n * s)
    parallelFor(channels, work: n * channels * s) { c in
        let r = Double(inverseStandardDeviation[c])
        let sumG = sums[2 * c], sumGXHat = sums[2 * c + 1] * r
        let a = Double(scale[c]) * r
        let meanG = batchStatistics ? sumG / total : 0, meanGXHat = batchStatistics ? sumGXHat / total : 0
        // a·(g − meanG − (x − μ)·r·meanGXHat) = p·g + q·(x − μ) + t
        let p = Float(a), q = Float(-a * r * meanGXHat), t = Float(-a * meanG), muFloat = mean[c]
        for i in 0..<n {
            let offset = (i * channels + c) * s
            for j in 0..<s {
                inputGradient[offset + j] = p * g[offset + j] + q * (input[offset + j] - muFloat) + t
            }
        }
    }
}
