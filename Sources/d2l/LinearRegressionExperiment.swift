import ArgumentParser
import Engine
import Foundation
import Models

/// Section 3.2, linear regression from scratch: minibatch SGD on the squared loss, with the
/// closed-form least-squares answer (LAPACKE_sgels) printed beside it.
struct LinearRegressionExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear-regression",
        abstract: "Linear regression from scratch (d2l §3.2) beside LAPACK's least-squares solution.")

    @Option(help: "Number of passes over the data.") var epochs = 3
    @Option(help: "Minibatch size.") var batchSize = 10
    @Option(help: "Learning rate.") var lr: Float = 0.03
    @Option(help: "Number of synthetic examples.") var examples = 1000
    @Option(help: "Seed of the random generator (data, initialization, shuffling).") var seed: UInt64 = 0

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be >= 0, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be >= 1, got \(batchSize)") }
        guard examples >= 2 else { throw ValidationError("--examples must be >= 2, got \(examples)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
    }

    func run() throws {
        print("d2l §3.2 linear regression from scratch (\(BLAS.summary))")
        var generator = RandomGenerator(seed: seed)
        let trueWeight = Tensor([2, -3.4], shape: [2, 1]), trueBias: Float = 4.2
        // y = X w + b + ε, X ~ N(0, 1), ε ~ N(0, 0.01²)
        let features = Tensor.randomNormal([examples, 2], using: &generator)
        let noise = Tensor.randomNormal([examples, 1], standardDeviation: 0.01, using: &generator)
        let labels = matmul(features, trueWeight) + trueBias + noise

        let model = LinearRegression(inputs: 2, using: &generator)
        let start = Date()
        for epoch in 1...max(epochs, 1) where epochs > 0 {
            for batch in generator.permutation(examples).chunked(into: batchSize) {
                let loss = squaredLoss(model(features.gatheringRows(batch)), labels.gatheringRows(batch))
                loss.sum().backward()
                withNoGrad {  // the book's sgd: param -= lr * grad / batch_size
                    for parameter in model.parameters {
                        parameter.addInPlace(parameter.grad!, scaledBy: -lr / Float(batch.count))
                        parameter.zeroGrad()
                    }
                }
            }
            let trainLoss = withNoGrad { squaredLoss(model(features), labels).mean().item }
            print("epoch \(epoch), loss \(String(format: "%f", trainLoss))")
        }
        let seconds = Date().timeIntervalSince(start)

        // Closed form: append a column of ones for the bias and solve min ‖[X 1] θ − y‖.
        let design = Tensor.zeros([examples, 3])
        for i in 0..<examples {
            design[i, 0] = features[i, 0]
            design[i, 1] = features[i, 1]
            design[i, 2] = 1
        }
        let solution = try LeastSquares.solve(design, labels)

        let w = model.weight.scalars, b = model.bias.item
        print("error in estimating w: [\(format(2 - w[0])), \(format(-3.4 - w[1]))]")
        print("error in estimating b: \(format(trueBias - b))")
        print("SGD:           w = [\(format(w[0])), \(format(w[1]))], b = \(format(b))  (\(String(format: "%.3f", seconds)) s)")
        print("least squares: w = [\(format(solution[0, 0])), \(format(solution[1, 0]))], b = \(format(solution[2, 0]))  (LAPACKE_sgels)")
    }

    private func format(_ value: Float) -> String { String(format: "%.6f", value) }
}

extension Array {
    /// Consecutive slices of at most `size` elements (the last one may be shorter).
    func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
