import ArgumentParser
import Datasets
import Engine
import Foundation
import Training

/// §4.4, model selection, underfitting and overfitting: polynomial regression on the features
/// `xⁱ / i!` with 4 (the true cubic), 2 (a line: underfitting) and 20 (overfitting) features.
///
/// As the book: 100 training and 100 test examples, labels `5 + 1.2x − 3.4x²/2! + 5.6x³/3! + ε`
/// with ε ~ N(0, 0.1²); `Linear(d, 1)` without bias and PyTorch's default init; MSE without ½
/// (mean over the batch); SGD lr 0.01, batch 10; 400 epochs (1500 for 20 features). `--epochs`
/// sets every case's epochs. Train and test MSE are recorded at epoch 1 and every 20 epochs (the
/// book's plot) and at the last epoch. `--plot FILE` writes one SVG with the six curves (train
/// solid, test dashed) on a log₁₀ axis.
struct PolynomialExperiment: Experiment {
    static let section = "4.4"
    static let configuration = CommandConfiguration(
        commandName: "polynomial",
        abstract: "Polynomial regression with 4, 2 and 20 features: fitting, underfitting, overfitting.",
        discussion:
            "--epochs sets all three cases (default 400, 1500 for 20 features). --plot FILE writes one SVG with the six train/test MSE curves on a log10 axis."
    )

    @OptionGroup var options: ExperimentOptions

    /// One of the three fits.
    struct Case {
        let name: String
        let features: Int
        let bookEpochs: Int
        let color: String
    }

    /// The book's three cases, in its order.
    static let cases = [
        Case(name: "cubic (4 features, normal fit)", features: 4, bookEpochs: 400, color: "#1f77b4"),
        Case(name: "linear (2 features, underfitting)", features: 2, bookEpochs: 400, color: "#d62728"),
        Case(name: "20 features (overfitting)", features: 20, bookEpochs: 1500, color: "#2ca02c"),
    ]

    /// What `--json` writes for one case.
    struct CaseResult: Codable {
        var name: String
        var features: Int
        var epochs: Int
        var weights: [Float]
        var trueWeights: [Float]
        var trainMSE: Float
        var testMSE: Float
        /// `[epoch, train MSE, test MSE]` at epoch 1, every 20 epochs and the last.
        var curve: [[Float]]
        var seconds: Double
    }

    /// What `--json` writes.
    struct Results: Codable {
        var experiment = "polynomial"
        var section = PolynomialExperiment.section
        var batchSize: Int
        var learningRate: Float
        var seed: UInt64
        var blas: String
        var cases: [CaseResult]
    }

    func run() throws {
        options.configureThreads()
        let batchSize = options.batchSize ?? 10, lr = options.lr ?? 0.01
        let epochText = options.epochs.map { "\($0) epochs" } ?? "400 epochs (1500 for 20 features)"
        print(
            "d2l §4.4 polynomial regression: 100 train / 100 test, batch \(batchSize), lr \(lr), \(epochText), seed \(options.seed) (\(BLAS.summary))"
        )
        var generator = RandomGenerator(seed: options.seed)
        let data = SyntheticData.polynomial(using: &generator)

        var results: [CaseResult] = []
        for item in Self.cases {
            let epochs = options.epochs ?? item.bookEpochs
            let start = Date()
            let (train, test) = (data.train(degree: item.features), data.test(degree: item.features))
            let net = Sequential(
                Linear(inputFeatures: item.features, outputFeatures: 1, bias: false, using: &generator))
            let optimizer = SGD(net, learningRate: lr)
            let loader = TensorDataLoader(
                features: train.features, targets: train.labels, batchSize: Swift.min(batchSize, data.trainCount),
                shuffle: true, using: &generator)
            func evaluate() -> (train: Float, test: Float) {
                withNoGrad {
                    (mseLoss(net(train.features), train.labels).item, mseLoss(net(test.features), test.labels).item)
                }
            }
            var curve: [[Float]] = []
            let initial = evaluate()
            if epochs == 0 { curve.append([0, initial.train, initial.test]) }
            for epoch in 0..<epochs {
                for (x, y) in loader.batches(epoch: epoch) {
                    optimizer.zeroGrad()
                    mseLoss(net(x), y).backward()
                    optimizer.step()
                }
                if epoch == 0 || (epoch + 1) % 20 == 0 || epoch == epochs - 1 {
                    let losses = evaluate()
                    curve.append([Float(epoch + 1), losses.train, losses.test])
                }
            }
            let final = evaluate()
            let weights = (net.layers[0] as! Linear).weight.scalars
            let seconds = Date().timeIntervalSince(start)
            print("\(item.name), \(epochs) epochs:")
            print("  weight: \(ExperimentOutput.list(weights))")
            print("  true:   \(ExperimentOutput.list(Array(data.trueWeights.prefix(item.features))))")
            print(
                "  train MSE \(String(format: "%.6g", final.train)), test MSE \(String(format: "%.6g", final.test)) (\(String(format: "%.3f", seconds)) s)"
            )
            guard final.train.isFinite else {
                throw ExperimentFailure(
                    "\(item.name): training diverged (train MSE \(final.train)); try a smaller --lr")
            }
            results.append(
                CaseResult(
                    name: item.name, features: item.features, epochs: epochs, weights: weights,
                    trueWeights: Array(data.trueWeights.prefix(item.features)), trainMSE: final.train,
                    testMSE: final.test, curve: curve, seconds: seconds))
        }

        if let plot = options.plot {
            try ExperimentOutput.writeSVG(Self.plot(results), yLabel: "log10 MSE", to: plot)
            print("plot: \(plot)")
        }
        if let json = options.json {
            try ExperimentOutput.writeJSON(
                Results(
                    batchSize: batchSize, learningRate: lr, seed: options.seed,
                    blas: BLAS.summary, cases: results), to: json)
        }
    }

    /// The book's figure, all three cases in one chart: log₁₀ of train (solid) and test (dashed) MSE
    /// against epochs, y range at least the book's [10⁻³, 10²].
    static func plot(_ results: [CaseResult]) -> CurvePlot {
        var series: [CurvePlot.Series] = []
        for (item, result) in zip(cases, results) {
            let label = "\(item.features) feat."
            series.append(
                .init(
                    label: "\(label) train", color: item.color,
                    points: result.curve.map { (Double($0[0]), ExperimentOutput.log10($0[1])) }))
            series.append(
                .init(
                    label: "\(label) test", color: item.color, dash: "6,4",
                    points: result.curve.map { (Double($0[0]), ExperimentOutput.log10($0[2])) }))
        }
        let values = series.flatMap(\.points).map(\.y).filter(\.isFinite)
        let low = Swift.min(-3, (values.min() ?? -3).rounded(.down)),
            high = Swift.max(2, (values.max() ?? 2).rounded(.up))
        let lastEpoch = results.map(\.epochs).max() ?? 1
        var plot = CurvePlot(series: series, xRange: 1...Double(Swift.max(lastEpoch, 2)), yRange: low...high)
        plot.width = 560
        plot.height = 360
        return plot
    }
}
