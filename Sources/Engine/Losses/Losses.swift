import Foundation

/// How a loss turns per-example values into its result.
public enum Reduction: String, Sendable {
    /// One value per example.
    case none
    /// The sum over examples.
    case sum
    /// The mean over examples (PyTorch's default).
    case mean
}

/// Cross-entropy of `logits` `[N, C]` against integer class `labels` (N values in `0..<C`),
/// fused with log-softmax through LogSumExp (PyTorch's `nn.CrossEntropyLoss`):
///
///     ℓᵢ = log Σₖ exp(xᵢₖ − m) − (xᵢ,yᵢ − m),   m = maxₖ xᵢₖ
///
/// (that is `logsumexp(xᵢ) − xᵢ,yᵢ`, in the order that rounds at the size of ℓ, not of the
/// logits; see `logSoftmaxKernel`). Finite for any finite logits (e.g. `[1000, 0, −1000]`).
/// Returns `[N]` for `.none`, else a scalar: the sum over the batch, or the mean, accumulated in
/// `Double` and rounded once (`accurateSum`). Backward, fused:
/// `∂ℓᵢ/∂xᵢ = softmax(xᵢ) − onehot(yᵢ)`, times the upstream gradient (divided by N for `.mean`).
public func crossEntropy(logits: Tensor, labels: [Int], reduction: Reduction = .mean) -> Tensor {
    precondition(logits.rank == 2, "crossEntropy: logits must be [N, C], got shape \(logits.shape)")
    let n = logits.shape[0], classes = logits.shape[1]
    precondition(labels.count == n, "crossEntropy: \(labels.count) labels for logits of shape \(logits.shape)")
    let logProbabilities = Tensor(uninitializedShape: logits.shape)
    logSoftmaxKernel(logProbabilities.pointer, logits.pointer, outer: n, n: classes, inner: 1)
    var losses = [Float](repeating: 0, count: n)
    for (i, label) in labels.enumerated() {
        precondition(
            label >= 0 && label < classes,
            "crossEntropy: label \(label) out of range 0..<\(classes) for logits of shape \(logits.shape)")
        losses[i] = -logProbabilities.pointer[i * classes + label]
    }
    let result: Tensor
    switch reduction {
    case .none: result = Tensor(losses)
    case .sum: result = Tensor(scalar: Float(accurateSum(losses)))
    case .mean: result = Tensor(scalar: Float(accurateSum(losses) / Double(Swift.max(n, 1))))
    }
    return Tensor.record(result, operation: "crossEntropy", inputs: [logits]) { g in
        let dx = Tensor(uninitializedShape: [n, classes])
        let p = logProbabilities.pointer, d = dx.pointer
        for i in 0..<n {
            let upstream: Float
            switch reduction {
            case .none: upstream = g.pointer[i]
            case .sum: upstream = g.item
            case .mean: upstream = g.item / Float(n)
            }
            for k in 0..<classes { d[i * classes + k] = upstream * Foundation.exp(p[i * classes + k]) }
            d[i * classes + labels[i]] -= upstream
        }
        return [dx]
    }
}

/// The textbook's `squared_loss`: `(ŷ − y)² / 2` elementwise, with `target` reshaped to the
/// prediction's shape (same number of elements), and no reduction.
public func squaredLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    precondition(
        prediction.count == target.count,
        "squaredLoss: prediction \(prediction.shape) and target \(target.shape) have different sizes")
    return (prediction - target.reshaped(prediction.shape)).squared() / 2
}

/// Mean squared error `Σ (ŷ − y)² / n` (PyTorch's `nn.MSELoss`, no ½); shapes broadcast as in
/// PyTorch, so pass matching shapes (`[N, 1]` with `[N, 1]`).
public func mseLoss(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    let squaredError = (prediction - target).squared()
    switch reduction {
    case .none: return squaredError
    case .sum: return squaredError.sum()
    case .mean: return squaredError.mean()
    }
}
