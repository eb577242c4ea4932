import Datasets
import Engine
import Foundation
import TestSupport
import Testing

@Suite("Synthetic data sets and k-fold")
struct SyntheticDataTests {
    /// `[X 1]`: the design matrix of an affine least-squares fit.
    static func withOnesColumn(_ x: Tensor) -> Tensor {
        let n = x.shape[0], d = x.shape[1]
        let result = Tensor(shape: [n, d + 1], repeating: 1)
        for i in 0..<n { for j in 0..<d { result[i, j] = x[i, j] } }
        return result
    }

    @Test("linear set: shapes, reproducible, least squares recovers w and b")
    func linear() throws {
        var generator = RandomGenerator(seed: 7)
        let (x, y) = SyntheticData.linear(weights: [2, -3.4], bias: 4.2, count: 1000, using: &generator)
        #expect(x.shape == [1000, 2] && y.shape == [1000, 1])
        let solution = try LeastSquares.solve(Self.withOnesColumn(x), y)
        // With σ = 0.01 and 1000 rows the estimation error is about 0.01 / √1000 ≈ 3e-4.
        expectClose(
            solution, Tensor([2, -3.4, 4.2], shape: [3, 1]), relativeTolerance: 0, absoluteTolerance: 2e-3,
            "least squares")
        let meanX = x.scalars.reduce(0, +) / 2000, meanSquare = x.scalars.map { $0 * $0 }.reduce(0, +) / 2000
        #expect(abs(meanX) < 0.1 && abs(meanSquare - 1) < 0.1)
        var again = RandomGenerator(seed: 7)
        #expect(
            SyntheticData.linear(weights: [2, -3.4], bias: 4.2, count: 1000, using: &again).labels.scalars == y.scalars)
    }

    @Test("polynomial set: x^i / i! features, splits by degree, cubic weights recoverable")
    func polynomial() throws {
        var generator = RandomGenerator(seed: 1)
        let data = SyntheticData.polynomial(using: &generator)
        #expect(data.features.shape == [200, 20] && data.labels.shape == [200, 1] && data.inputs.shape == [200, 1])
        #expect(data.trueWeights.count == 20 && Array(data.trueWeights.prefix(4)) == [5, 1.2, -3.4, 5.6])
        let x = Double(data.inputs[3, 0])
        for i in [0, 1, 2, 5, 19] {
            let expected = pow(x, Double(i)) / tgamma(Double(i + 1))
            #expect(abs(Double(data.features[3, i]) - expected) <= 1e-6 * max(1, abs(expected)), "feature \(i)")
        }
        let (trainX, trainY) = data.train(degree: 4), (testX, testY) = data.test(degree: 2)
        #expect(
            trainX.shape == [100, 4] && trainY.shape == [100, 1] && testX.shape == [100, 2] && testY.shape == [100, 1])
        #expect(testX[0, 1] == data.features[100, 1] && testY[0, 0] == data.labels[100, 0])
        #expect(data.train(degree: 20).features.shape == [100, 20])
        let weights = try LeastSquares.solve(trainX, trainY)
        expectClose(
            weights, Tensor([5, 1.2, -3.4, 5.6], shape: [4, 1]), relativeTolerance: 0, absoluteTolerance: 0.15,
            "cubic fit")
    }

    @Test("weight-decay set: 20 × 200 training and 100 × 200 test rows of y = 0.01·Σx + 0.05 + ε")
    func highDimensional() {
        var generator = RandomGenerator(seed: 2)
        let (train, test) = SyntheticData.highDimensionalLinear(using: &generator)
        #expect(train.features.shape == [20, 200] && train.labels.shape == [20, 1])
        #expect(test.features.shape == [100, 200] && test.labels.shape == [100, 1])
        for (x, y) in [train, test] {
            for i in 0..<x.shape[0] {
                let clean = (0..<200).reduce(Float(0.05)) { $0 + 0.01 * x[i, $1] }
                #expect(abs(y[i, 0] - clean) < 0.06) // 6σ of the noise
            }
        }
        #expect(train.features.scalars != Array(test.features.scalars.prefix(4000)))
    }

    @Test("k-fold: contiguous folds, every row validated exactly once, book's remainder rule")
    func kFold() {
        let folds = KFold(k: 5, count: 20)
        var validated: [Int] = []
        for fold in 0..<5 {
            let (train, validation) = folds.split(fold: fold)
            #expect(validation == Array((fold * 4)..<(fold * 4 + 4)))
            #expect(train.count == 16 && Set(train).isDisjoint(with: validation) && train == train.sorted())
            validated += validation
        }
        #expect(validated == Array(0..<20))

        let book = KFold(k: 3, count: 11) // fold size 3, rows 9 and 10 in no fold
        #expect(book.split(fold: 2) == (train: [0, 1, 2, 3, 4, 5], validation: [6, 7, 8]))
        let kept = KFold(k: 3, count: 11, remainderInLastFold: true)
        #expect((0..<3).flatMap { kept.split(fold: $0).validation } == Array(0..<11))
        #expect(kept.split(fold: 0).train == Array(3..<11))

        let features = Tensor((0..<20).map(Float.init), shape: [10, 2])
        let labels = Tensor((0..<10).map { Float($0) }, shape: [10, 1])
        let (train, validation) = KFold(k: 5, count: 10).data(fold: 1, features: features, labels: labels)
        #expect(validation.features.scalars == [4, 5, 6, 7] && validation.labels.scalars == [2, 3])
        #expect(train.features.shape == [8, 2] && train.labels.scalars == [0, 1, 4, 5, 6, 7, 8, 9])
        #expect(KFold.average([0.1, 0.2, 0.3, 0.4]) == 0.25)
    }
}
