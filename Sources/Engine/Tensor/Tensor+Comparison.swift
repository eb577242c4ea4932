/// Elementwise comparisons (results are 0 or 1, not differentiable), closeness tests and the
/// classification-accuracy helpers of the textbook.

infix operator .== : ComparisonPrecedence
infix operator .< : ComparisonPrecedence
infix operator .> : ComparisonPrecedence

extension Tensor {
    /// `1` where `a == b`, else `0`, broadcasting. Not recorded.
    public static func .== (a: Tensor, b: Tensor) -> Tensor {
        broadcastMap(a, b, operation: ".==", ComparisonOperation(compare: ==))
    }
    /// `1` where `a < b`, else `0`, broadcasting. Not recorded.
    public static func .< (a: Tensor, b: Tensor) -> Tensor {
        broadcastMap(a, b, operation: ".<", ComparisonOperation(compare: <))
    }
    /// `1` where `a > b`, else `0`, broadcasting. Not recorded.
    public static func .> (a: Tensor, b: Tensor) -> Tensor {
        broadcastMap(a, b, operation: ".>", ComparisonOperation(compare: >))
    }

    /// Whether the shapes are equal and `|self − other| ≤ absoluteTolerance + relativeTolerance · |other|`
    /// holds for every element (`torch.allclose`, with `other` as the reference). NaNs are never close.
    public func isClose(to other: Tensor, relativeTolerance: Float = 1e-5, absoluteTolerance: Float = 1e-8) -> Bool {
        guard shape == other.shape else { return false }
        for i in 0..<count {
            let a = pointer[i], b = other.pointer[i]
            if a == b { continue } // equal infinities
            if !(Swift.abs(a - b) <= absoluteTolerance + relativeTolerance * Swift.abs(b)) { return false }
        }
        return true
    }
}

/// The number of rows of `logits` `[N, C]` whose largest entry is at the label's index (the
/// textbook's `accuracy`, which returns a count).
public func correctPredictionCount(logits: Tensor, labels: [Int]) -> Int {
    precondition(
        logits.rank == 2 && logits.shape[0] == labels.count,
        "correctPredictionCount: logits \(logits.shape) and \(labels.count) labels do not match")
    return zip(logits.argmax(axis: 1), labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
}

/// The fraction of rows of `logits` `[N, C]` predicted correctly, in `[0, 1]` (0 for N = 0).
public func accuracy(logits: Tensor, labels: [Int]) -> Float {
    labels.isEmpty ? 0 : Float(correctPredictionCount(logits: logits, labels: labels)) / Float(labels.count)
}
