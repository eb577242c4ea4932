import ArgumentParser
import Datasets
import Engine
import Foundation
import Models

/// §3.2–3.3, linear regression from scratch and concise, with the closed-form least-squares
/// answer (LAPACKE_sgels) printed beside SGD's.
struct LinearRegressionExperiment: Experiment {
    static let section = "3.2-3.3"
    static let configuration = CommandConfiguration(
        commandName: "linear-regression",
        abstract: "Linear regression from scratch and concise, beside LAPACK's least squares.")

    @OptionGroup var options: ExperimentOptions
    @Option(help: "Number of synthetic examples.") var examples = 1000

    func validate() throws {
        guard examples >= 3 else { throw ValidationError("--examples must be >= 3, got \(examples)") }
    }

    func run() throws {
        options.configureThreads()
        let epochs = options.epochs ?? 3, batchSize = options.batchSize ?? 10, lr = options.lr ?? 0.03
        print(
            "d2l §3.2 linear regression: \(examples) examples, batch \(batchSize), lr \(lr), \(epochs) epochs (\(BLAS.summary))"
        )
        var generator = RandomGenerator(seed: options.seed)
        let trueWeights: [Float] = [2, -3.4], trueBias: Float = 4.2
        let (features, labels) = SyntheticData.linear(
            weights: trueWeights, bias: trueBias, count: examples, using: &generator)
        let loader = TensorDataLoader(
            features: features, targets: labels, batchSize: batchSize, shuffle: true, seed: options.seed)

        print("from scratch (squared loss ½(ŷ − y)², sgd: param −= lr · grad / batch_size):")
        let model = LinearRegression(inputs: 2, using: &generator)
        for epoch in 0..<epochs {
            for (x, y) in loader.batches(epoch: epoch) {
                squaredLoss(model(x), y).sum().backward()
                withNoGrad {
                    for parameter in model.parameters {
                        parameter.addInPlace(parameter.grad!, scaledBy: -lr / Float(x.shape[0]))
                        parameter.zeroGrad()
                    }
                }
            }
            let loss = withNoGrad { squaredLoss(model(features), labels).mean().item }
            print("epoch \(epoch + 1), loss \(String(format: "%f", loss))")
        }
        report(weights: model.weight.scalars, bias: model.bias.item, trueWeights: trueWeights, trueBias: trueBias)

        print("concise (nn.Linear(2, 1), weight ~ N(0, 0.01²), bias 0; MSELoss; SGD):")
        let net = Sequential(Linear(inputFeatures: 2, outputFeatures: 1, using: &generator))
        net.initializeWeights(.normal(mean: 0, standardDeviation: 0.01), bias: .zeros, using: &generator)
        let optimizer = SGD(net, learningRate: lr)
        for epoch in 0..<epochs {
            for (x, y) in loader.batches(epoch: epoch) {
                optimizer.zeroGrad()
                mseLoss(net(x), y).backward()
                optimizer.step()
            }
            let loss = withNoGrad { mseLoss(net(features), labels).item }
            print("epoch \(epoch + 1), loss \(String(format: "%f", loss))")
        }
        let linear = net.layers[0] as! Linear
        report(weights: linear.weight.scalars, bias: linear.bias!.item, trueWeights: trueWeights, trueBias: trueBias)

        // Closed form: append a column of ones for the bias and solve min ‖[X 1] θ − y‖₂ by QR.
        let design = Tensor.ones([examples, 3])
        for i in 0..<examples {
            design[i, 0] = features[i, 0]
            design[i, 1] = features[i, 1]
        }
        let solution = try LeastSquares.solve(design, labels)
        print(
            "least squares (LAPACKE_sgels): w = [\(format(solution[0, 0])), \(format(solution[1, 0]))], b = \(format(solution[2, 0]))"
        )
        if let save = options.save { try net.saveStateDict(to: URL(fileURLWithPath: save)) }
    }

    private func report(weights: [Float], bias: Float, trueWeights: [Float], trueBias: Float) {
        print("error in estimating w: [\(format(trueWeights[0] - weights[0])), \(format(trueWeights[1] - weights[1]))]")
        print("error in estimating b: \(format(trueBias - bias))")
        print("learned: w = [\(format(weights[0])), \(format(weights[1]))], b = \(format(bias))")
    }

    private func format(_ value: Float) -> String { String(format: "%.6f", value) }
}
