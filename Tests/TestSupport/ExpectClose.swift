import Engine
import Testing

// Helpers shared by the test targets (EngineTests, ModelsTests). Not part of the package's products.

/// Expects `actual` to match `expected` in shape and in every element within
/// `|actual − expected| ≤ absoluteTolerance + relativeTolerance · |expected|`; on failure reports
/// the largest violation, its flat index and both values.
public func expectClose(
    _ actual: Tensor, _ expected: Tensor, relativeTolerance: Float = 1e-4,
    absoluteTolerance: Float = 1e-5, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.shape == expected.shape else {
        Issue.record("\(context): shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    var worst: (index: Int, excess: Float)?
    for i in 0..<actual.count {
        let a = actual.pointer[i], e = expected.pointer[i]
        if a == e { continue }
        let excess = abs(a - e) - (absoluteTolerance + relativeTolerance * abs(e))
        if !(excess <= 0), worst == nil || !(excess <= worst!.excess) { worst = (i, excess.isNaN ? .infinity : excess) }
    }
    if let worst {
        let a = actual.pointer[worst.index], e = expected.pointer[worst.index]
        Issue.record(
            "\(context): largest difference at flat index \(worst.index): \(a) vs expected \(e) (|diff| = \(abs(a - e)), allowed \(absoluteTolerance + relativeTolerance * abs(e)))",
            sourceLocation: sourceLocation)
    }
}
