import Engine
import Foundation

/// Features and targets of a regression data set: `features` `[N, d]`, `labels` `[N, 1]`.
public typealias RegressionData = (features: Tensor, labels: Tensor)

/// Generators of the book's synthetic regression data sets (§3.2, §4.4, §4.5), each drawing
/// from an explicit `RandomGenerator` so that the same seed gives the same data.
public enum SyntheticData {
    /// The book's `synthetic_data(w, b, n)` (§3.1–3.3): `X ~ N(0, 1)` of shape `[count, w.count]`
    /// and `y = X w + b + ε`, `ε ~ N(0, noise²)`, shape `[count, 1]`.
    ///
    /// Drawn from `generator` in this order: X row-major, then ε. The book's values are
    /// `w = [2, −3.4]`, `b = 4.2`, `noise = 0.01`.
    public static func linear(
        weights: [Float], bias: Float, count: Int, noise: Float = 0.01,
        using generator: inout RandomGenerator
    ) -> RegressionData {
        precondition(
            count >= 0 && !weights.isEmpty,
            "SyntheticData.linear: need count >= 0 and at least one weight, got \(count), \(weights.count)")
        let features = Tensor.randomNormal([count, weights.count], using: &generator)
        let labels = Tensor(shape: [count, 1], repeating: 0)
        for i in 0..<count {
            var sum = Double(bias)
            for j in 0..<weights.count { sum += Double(features.pointer[i * weights.count + j]) * Double(weights[j]) }
            labels.pointer[i] = Float(sum)
        }
        for i in 0..<count { labels.pointer[i] += noise * Float(generator.nextNormal()) }
        return (features, labels)
    }

    /// The polynomial data of §4.4 (under- and overfitting), split into training and test sets.
    public struct Polynomial {
        /// The scalar inputs `x ~ N(0, 1)`: `[trainCount + testCount, 1]`, training rows first.
        public let inputs: Tensor
        /// The features `x^i / i!` for `i = 0..<maximumDegree`: `[trainCount + testCount, maximumDegree]`.
        public let features: Tensor
        /// `features · trueWeights + ε`, `ε ~ N(0, noise²)`: `[trainCount + testCount, 1]`.
        public let labels: Tensor
        /// The weights the labels were made with (`[5, 1.2, −3.4, 5.6]` then zeros), `maximumDegree` of them.
        public let trueWeights: [Float]
        /// The number of training rows (the first ones).
        public let trainCount: Int

        /// The training rows, keeping only the first `degree` features (4: cubic, 2: linear, 20: all).
        public func train(degree: Int) -> RegressionData { slice(0..<trainCount, degree: degree) }
        /// The test rows, keeping only the first `degree` features.
        public func test(degree: Int) -> RegressionData { slice(trainCount..<features.shape[0], degree: degree) }

        private func slice(_ rows: Range<Int>, degree: Int) -> RegressionData {
            let width = features.shape[1]
            precondition(
                degree >= 1 && degree <= width, "SyntheticData.Polynomial: degree \(degree) is not in 1...\(width)")
            let result = Tensor(shape: [rows.count, degree], repeating: 0)
            for (row, i) in rows.enumerated() {
                (result.pointer + row * degree).update(from: features.pointer + i * width, count: degree)
            }
            return (result, labels.rows(rows))
        }
    }

    /// The data of §4.4: `x ~ N(0, 1)` (`trainCount + testCount` of them), features
    /// `x^i / i!` (i = 0..<maximumDegree, i.e. `x^i / Γ(i + 1)` as the book computes it) and
    /// labels `Σᵢ wᵢ xⁱ / i! + ε` with `w = [5, 1.2, −3.4, 5.6, 0, …]`, `ε ~ N(0, noise²)`.
    /// The book's values are the defaults. Drawn from `generator`: x, then ε. (The book also
    /// shuffles x; i.i.d. draws need no shuffle.) Features and labels are computed in `Double`.
    public static func polynomial(
        maximumDegree: Int = 20, trainCount: Int = 100, testCount: Int = 100,
        trueWeights leading: [Float] = [5, 1.2, -3.4, 5.6], noise: Float = 0.1,
        using generator: inout RandomGenerator
    ) -> Polynomial {
        precondition(
            maximumDegree >= leading.count && trainCount >= 0 && testCount >= 0,
            "SyntheticData.polynomial: maximum degree \(maximumDegree) < \(leading.count) weights, or a negative count")
        let count = trainCount + testCount
        let inputs = Tensor.randomNormal([count, 1], using: &generator)
        let weights = leading + [Float](repeating: 0, count: maximumDegree - leading.count)
        let features = Tensor(shape: [count, maximumDegree], repeating: 0)
        let labels = Tensor(shape: [count, 1], repeating: 0)
        for n in 0..<count {
            let x = Double(inputs.pointer[n])
            var term = 1.0, sum = 0.0 // term = x^i / i!
            for i in 0..<maximumDegree {
                if i > 0 { term *= x / Double(i) }
                features.pointer[n * maximumDegree + i] = Float(term)
                sum += term * Double(weights[i])
            }
            labels.pointer[n] = Float(sum)
        }
        for n in 0..<count { labels.pointer[n] += noise * Float(generator.nextNormal()) }
        return Polynomial(
            inputs: inputs, features: features, labels: labels, trueWeights: weights, trainCount: trainCount)
    }

    /// The high-dimensional linear data of §4.5 (weight decay): `linear` with `w = 0.01 · 1`
    /// (`inputCount` of them), `b = 0.05`, noise 0.01; a training set of `trainCount` rows, then
    /// an independent test set of `testCount` rows (in that order from `generator`, as the book's
    /// two `synthetic_data` calls). Defaults are the book's: 20, 100, 200.
    public static func highDimensionalLinear(
        trainCount: Int = 20, testCount: Int = 100, inputCount: Int = 200,
        using generator: inout RandomGenerator
    ) -> (train: RegressionData, test: RegressionData) {
        let weights = [Float](repeating: 0.01, count: inputCount)
        let train = linear(weights: weights, bias: 0.05, count: trainCount, noise: 0.01, using: &generator)
        let test = linear(weights: weights, bias: 0.05, count: testCount, noise: 0.01, using: &generator)
        return (train, test)
    }
}
