/// Batch normalization (Ioffe and Szegedy, 2015), PyTorch's `F.batch_norm` convention, over the
/// kernels of `Kernels/NormalizationKernels.swift`.

/// Batch normalization of `input` `[N, C]` or `[N, C, H, W]` per channel c:
///
///     y = γ[c] · (x − μ[c]) / √(σ²[c] + ε) + β[c]
///
/// with `γ = scale` and `β = shift` (`[C]`, learnable). In training (`training: true`) μ and σ²
/// are the batch mean and *biased* variance over the N·H·W values of the channel, and the running
/// statistics (`[C]`, buffers) are updated in place:
/// `runningMean ← (1 − momentum)·runningMean + momentum·μ`,
/// `runningVariance ← (1 − momentum)·runningVariance + momentum·σ²·M/(M − 1)` (unbiased, M = N·H·W),
/// exactly as PyTorch does. In evaluation μ and σ² are the running statistics, which stay unchanged.
///
/// Backward (gradients for input, scale and shift), with `x̂ = (x − μ)/√(σ² + ε)`:
/// `dβ = Σ g`, `dγ = Σ g·x̂`; in training `dx = γ/√(σ² + ε) · (g − mean(g) − x̂·mean(g·x̂))`,
/// the exact gradient through the batch statistics; in evaluation `dx = γ/√(σ² + ε) · g`.
///
/// Inside a `DataParallel` step the batch is the whole batch over all shards: μ, σ², M and the
/// sums of the input gradient are all-reduced over the shards (PyTorch's `SyncBatchNorm`).
///
/// - Precondition: `input` is rank 2 or 4; `scale`, `shift`, `runningMean`, `runningVariance`
///   are `[C]`; in training M = N·H·W > 1 (the unbiased variance needs two values); the running
///   statistics are not recorded results.
public func batchNorm(
    _ input: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor,
    training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5
) -> Tensor {
    let shape = input.shape
    precondition(
        shape.count == 2 || shape.count == 4,
        "batchNorm: input must be [N, C] or [N, C, H, W], got \(shape)")
    let n = shape[0], channels = shape[1], spatial = shape.count == 4 ? shape[2] * shape[3] : 1
    for (name, tensor) in [
        ("scale", scale), ("shift", shift), ("runningMean", runningMean),
        ("runningVariance", runningVariance),
    ] {
        precondition(
            tensor.shape == [channels],
            "batchNorm: \(name) must be [\(channels)] for input \(shape), got \(tensor.shape)")
    }
    precondition(
        runningMean.isLeaf && runningVariance.isLeaf,
        "batchNorm: the running statistics must not be recorded results (input \(shape))")
    var m = n * spatial
    let mean = Tensor(uninitializedShape: [channels])
    let inverseStandardDeviation = Tensor(uninitializedShape: [channels])
    // Inside a data-parallel step, the statistics and gradient sums of the whole batch.
    let shards = training ? ShardGroup.current : nil
    if training {
        let variance = Tensor(uninitializedShape: [channels])
        m = batchNormStatistics(
            mean: mean.pointer, variance: variance.pointer, input.pointer,
            batch: n, channels: channels, spatial: spatial, shards: shards)
        precondition(m > 1, "batchNorm: training needs more than one value per channel, got input \(shape)")
        let correction = Float(m) / Float(m - 1)
        for c in 0..<channels {
            inverseStandardDeviation.pointer[c] = 1 / (variance.pointer[c] + epsilon).squareRoot()
            runningMean.pointer[c] = (1 - momentum) * runningMean.pointer[c] + momentum * mean.pointer[c]
            runningVariance.pointer[c] =
                (1 - momentum) * runningVariance.pointer[c]
                + momentum * variance.pointer[c] * correction
        }
    } else {
        mean.pointer.update(from: runningMean.pointer, count: channels)
        for c in 0..<channels {
            inverseStandardDeviation.pointer[c] = 1 / (runningVariance.pointer[c] + epsilon).squareRoot()
        }
    }
    let result = Tensor(uninitializedShape: shape)
    batchNormForward(
        result.pointer, input.pointer, mean: mean.pointer,
        inverseStandardDeviation: inverseStandardDeviation.pointer,
        scale: scale.pointer, shift: shift.pointer, batch: n, channels: channels, spatial: spatial)
    let savedInput = input.detached(), savedScale = scale.detached()
    let inputNeedsGrad = input.requiresGrad, scaleNeedsGrad = scale.requiresGrad, shiftNeedsGrad = shift.requiresGrad
    return Tensor.record(result, operation: "batchNorm", inputs: [input, scale, shift]) { gradient in
        let dx = inputNeedsGrad ? Tensor(uninitializedShape: shape) : nil
        let dScale = scaleNeedsGrad ? Tensor.zeros([channels]) : nil
        let dShift = shiftNeedsGrad ? Tensor.zeros([channels]) : nil
        batchNormBackward(
            inputGradient: dx?.pointer, scaleGradient: dScale?.pointer, shiftGradient: dShift?.pointer,
            outputGradient: gradient.pointer, input: savedInput.pointer, mean: mean.pointer,
            inverseStandardDeviation: inverseStandardDeviation.pointer, scale: savedScale.pointer,
            batchStatistics: training, batch: n, channels: channels, spatial: spatial,
            count: m, shards: shards)
        return [dx, dScale, dShift]
    }
}
