import Engine

/// k-fold cross-validation over contiguous folds, as the book's `get_k_fold_data` (§4.10).
///
/// With `foldSize = ⌊count / k⌋`, fold `i` is rows `i·foldSize ..< (i + 1)·foldSize`; it is the
/// validation set and the other k − 1 folds, in order, are the training set. Like the book, the
/// last `count mod k` rows are in no fold unless `remainderInLastFold` is set, which adds them to
/// the last fold (so every row is validated exactly once). No shuffling.
public struct KFold: Sendable, Equatable {
    /// The number of folds k (≥ 2).
    public let k: Int
    /// The number of rows.
    public let count: Int
    /// Whether the `count mod k` leftover rows join the last fold (the book drops them).
    public let remainderInLastFold: Bool

    /// Folds over `count` rows; requires `2 ≤ k ≤ count`.
    public init(k: Int, count: Int, remainderInLastFold: Bool = false) {
        precondition(k >= 2 && k <= count, "KFold: need 2 <= k <= count, got k = \(k), count = \(count)")
        self.k = k
        self.count = count
        self.remainderInLastFold = remainderInLastFold
    }

    /// `⌊count / k⌋`.
    public var foldSize: Int { count / k }

    /// The rows of fold `fold` (0-based).
    public func rows(ofFold fold: Int) -> Range<Int> {
        precondition(fold >= 0 && fold < k, "KFold: fold \(fold) is not in 0..<\(k)")
        let end = fold == k - 1 && remainderInLastFold ? count : (fold + 1) * foldSize
        return (fold * foldSize)..<end
    }

    /// The row indices of the training set (the other folds, in order) and the validation set
    /// (fold `fold`).
    public func split(fold: Int) -> (train: [Int], validation: [Int]) {
        let validation = rows(ofFold: fold)
        let train = (0..<k).filter { $0 != fold }.flatMap { Array(rows(ofFold: $0)) }
        return (train, Array(validation))
    }

    /// The book's `get_k_fold_data(k, i, X, y)`: `features` `[count, …]` and `labels` `[count, …]`
    /// cut into the training rows and the validation rows of fold `fold`.
    public func data(fold: Int, features: Tensor, labels: Tensor) -> (train: RegressionData, validation: RegressionData)
    {
        precondition(
            features.rank >= 1 && labels.rank >= 1 && features.shape[0] == count && labels.shape[0] == count,
            "KFold.data: features \(features.shape) and labels \(labels.shape) need \(count) rows")
        let (train, validation) = split(fold: fold)
        return withNoGrad {
            (
                train: (features: features.gatheringRows(train), labels: labels.gatheringRows(train)),
                validation: (features: features.gatheringRows(validation), labels: labels.gatheringRows(validation))
            )
        }
    }

    /// The mean of per-fold metrics (the book's `train_l_sum / k`); `values` must not be empty.
    public static func average(_ values: [Float]) -> Float {
        precondition(!values.isEmpty, "KFold.average: no values")
        return Float(values.reduce(0.0) { $0 + Double($1) } / Double(values.count))
    }
}
