import ArgumentParser
import Datasets
import Engine
import Foundation
import Training

/// §4.5, weight decay, from scratch and concise, on the book's high-dimensional linear data
/// (20 training and 100 test examples, 200 inputs, `y = 0.01·Σx + 0.05 + ε`).
///
/// - From scratch: `w ~ N(0, 1)` `[200, 1]`, `b = 0`; loss `½(ŷ − y)² + λ‖w‖²/2` per example,
///   summed, then `param −= lr · grad / batch_size`; λ = 0 and λ = 3.
/// - Concise: `Linear(200, 1)` with weight and bias ~ N(0, 1); MSE without ½ (mean); SGD with two
///   parameter groups, weight decay `wd` on the weight only; wd = 0 and 3.
///
/// 100 epochs, lr 0.003, batch 5. Prints ‖w‖₂ (the book's `torch.norm(w)`) and, as a reference,
/// the norm of the exact minimiser of the same full-batch objective (ridge regression with an
/// unpenalised bias, by `LeastSquares.solveRidge` on centred data): SGD after 100 epochs has not
/// reached it, because the part of `w` outside the span of the 20 examples only shrinks by
/// `(1 − lr·λ)` per step. `--plot FILE` writes the train (solid) and test (dashed) losses, every
/// 5 epochs, on a log₁₀ axis: the from-scratch runs to FILE and the concise runs to
/// `<FILE without extension>-concise.svg`.
struct WeightDecayExperiment: Experiment {
    static let section = "4.5"
    static let configuration = CommandConfiguration(
        commandName: "weight-decay",
        abstract: "Weight decay (L2 penalty) from scratch and through SGD parameter groups, beside ridge regression.",
        discussion:
            "--plot FILE writes the from-scratch curves to FILE and the concise ones to FILE-without-extension + -concise.svg (train and test loss every 5 epochs, log10 axis)."
    )

    @OptionGroup var options: ExperimentOptions
    @Option(parsing: .upToNextOption, help: "The penalties λ (and weight decays) to run.") var lambdas: [Float] = [
        0, 3,
    ]

    func validate() throws {
        guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw ValidationError("--lambdas must be numbers >= 0, got \(lambdas)")
        }
    }

    /// What `--json` writes for one run.
    struct RunResult: Codable {
        /// `scratch` or `concise`.
        var implementation: String
        var lambda: Float
        /// ‖w‖₂ after training.
        var weightNorm: Float
        /// ‖w‖₂ of the exact minimiser of the same objective (ridge, bias not penalised); `nil`
        /// when it has no unique solution.
        var ridgeWeightNorm: Float?
        /// The loss the book plots: ½-squared for scratch, MSE for concise, without the penalty.
        var trainLoss: Float
        var testLoss: Float
        /// `[epoch, train loss, test loss]` every 5 epochs.
        var curve: [[Float]]
    }

    /// What `--json` writes.
    struct Results: Codable {
        var experiment = "weight-decay"
        var section = WeightDecayExperiment.section
        var trainCount = 20, testCount = 100, inputCount = 200
        var epochs: Int
        var batchSize: Int
        var learningRate: Float
        var seed: UInt64
        var blas: String
        var runs: [RunResult]
    }

    func run() throws {
        options.configureThreads()
        let epochs = options.epochs ?? 100, batchSize = options.batchSize ?? 5, lr = options.lr ?? 0.003
        print(
            "d2l §4.5 weight decay: 20 train / 100 test, 200 inputs, batch \(batchSize), lr \(lr), \(epochs) epochs, λ ∈ \(ExperimentOutput.list(lambdas)), seed \(options.seed) (\(BLAS.summary))"
        )
        var generator = RandomGenerator(seed: options.seed)
        let (train, test) = SyntheticData.highDimensionalLinear(using: &generator)
        let loader = TensorDataLoader(
            features: train.features, targets: train.labels, batchSize: batchSize, shuffle: true, using: &generator)
        let n = Float(train.features.shape[0])
        var runs: [RunResult] = []

        print("from scratch (loss ½(ŷ − y)² + λ‖w‖²/2, w ~ N(0, 1), b = 0):")
        for lambda in lambdas {
            let w = Tensor.randomNormal([200, 1], using: &generator), b = Tensor.zeros([1])
            w.requiresGrad = true
            b.requiresGrad = true
            func net(_ x: Tensor) -> Tensor { matmul(x, w) + b }
            func losses() -> (train: Float, test: Float) {
                withNoGrad {
                    (
                        squaredLoss(net(train.features), train.labels).mean().item,
                        squaredLoss(net(test.features), test.labels).mean().item
                    )
                }
            }
            var curve: [[Float]] = []
            for epoch in 0..<epochs {
                for (x, y) in loader.batches(epoch: epoch) {
                    (squaredLoss(net(x), y) + (w.squared().sum() / 2) * lambda).sum().backward()
                    withNoGrad {
                        for parameter in [w, b] {
                            parameter.addInPlace(parameter.grad!, scaledBy: -lr / Float(x.shape[0]))
                            parameter.zeroGrad()
                        }
                    }
                }
                if (epoch + 1) % 5 == 0 {
                    let l = losses()
                    curve.append([Float(epoch + 1), l.train, l.test])
                }
            }
            // Full-batch objective (1/n) Σ ½ r² + λ/2 ‖w‖²  ⇔  ‖r‖² + nλ ‖w‖².
            let result = try finish(
                "scratch", lambda: lambda, weight: w, ridgeLambda: n * lambda, curve: curve,
                losses: losses(), train: train)
            runs.append(result)
        }

        print("concise (Linear(200, 1), weight and bias ~ N(0, 1); MSE; SGD weight decay on the weight only):")
        for lambda in lambdas {
            let linear = Linear(inputFeatures: 200, outputFeatures: 1, using: &generator)
            let net = Sequential(linear)
            net.initializeWeights(
                .normal(mean: 0, standardDeviation: 1), bias: .normal(mean: 0, standardDeviation: 1), using: &generator)
            let optimizer = SGD([
                ParameterGroup(net, where: { $0.hasSuffix("weight") }, learningRate: lr, weightDecay: lambda),
                ParameterGroup(net, where: { !$0.hasSuffix("weight") }, learningRate: lr),
            ])
            func losses() -> (train: Float, test: Float) {
                withNoGrad {
                    (mseLoss(net(train.features), train.labels).item, mseLoss(net(test.features), test.labels).item)
                }
            }
            var curve: [[Float]] = []
            for epoch in 0..<epochs {
                for (x, y) in loader.batches(epoch: epoch) {
                    optimizer.zeroGrad()
                    mseLoss(net(x), y).backward()
                    optimizer.step()
                }
                if (epoch + 1) % 5 == 0 {
                    let l = losses()
                    curve.append([Float(epoch + 1), l.train, l.test])
                }
            }
            // Full-batch objective (1/n) Σ r² + wd/2 ‖w‖²  ⇔  ‖r‖² + (n·wd/2) ‖w‖².
            let result = try finish(
                "concise", lambda: lambda, weight: linear.weight, ridgeLambda: n * lambda / 2, curve: curve,
                losses: losses(), train: train)
            runs.append(result)
        }

        if let plot = options.plot {
            let concisePlot = Self.concisePlotPath(plot)
            try ExperimentOutput.writeSVG(
                Self.plot(runs.filter { $0.implementation == "scratch" }, epochs: epochs),
                yLabel: "log10 ½-squared loss (from scratch)", to: plot)
            try ExperimentOutput.writeSVG(
                Self.plot(runs.filter { $0.implementation == "concise" }, epochs: epochs),
                yLabel: "log10 MSE (concise)", to: concisePlot)
            print("plots: \(plot) (from scratch), \(concisePlot) (concise)")
        }
        if let json = options.json {
            try ExperimentOutput.writeJSON(
                Results(
                    epochs: epochs, batchSize: batchSize, learningRate: lr, seed: options.seed,
                    blas: BLAS.summary, runs: runs), to: json)
        }
    }

    /// Prints one run's norms and losses and returns its result.
    private func finish(
        _ implementation: String, lambda: Float, weight: Tensor, ridgeLambda: Float, curve: [[Float]],
        losses: (train: Float, test: Float), train: RegressionData
    ) throws -> RunResult {
        let norm = withNoGrad { weight.squared().sum().sqrt().item }
        guard norm.isFinite else {
            throw ExperimentFailure(
                "weight decay \(implementation) λ = \(lambda): training diverged; try a smaller --lr")
        }
        let ridge = Self.ridgeWeightNorm(train, lambda: ridgeLambda)
        let ridgeText: String
        if let ridge, ridgeLambda > 0 {
            ridgeText =
                String(format: "%.6g", ridge)
                + " (exact minimiser, LAPACK ridge with nλ = \(ridgeLambda), bias unpenalised)"
        } else if let ridge {
            ridgeText =
                String(format: "%.6g", ridge) + " (no unique minimiser: the minimum-norm one, LAPACK ridge with λ → 0)"
        } else {
            ridgeText = "n/a (LAPACK could not solve it)"
        }
        print("  λ = \(String(format: "%g", lambda)): L2 norm of w: \(norm)")
        print("         reference, closed-form ‖w‖₂: \(ridgeText)")
        print(
            "         train loss \(String(format: "%.4g", losses.train)), test loss \(String(format: "%.4g", losses.test))"
                + (implementation == "scratch" ? " (½-squared loss, no penalty)" : " (MSE, no penalty)"))
        return RunResult(
            implementation: implementation, lambda: lambda, weightNorm: norm, ridgeWeightNorm: ridge,
            trainLoss: losses.train, testLoss: losses.test, curve: curve)
    }

    /// ‖w‖₂ of the minimiser of `‖X w + b − y‖² + λ‖w‖²` (b free): ridge regression on the
    /// column-centred `X` and centred `y`. λ = 0 (20 equations, 200 unknowns) has no unique
    /// answer; then the minimum-norm one is approximated with a tiny λ. `nil` if LAPACK fails.
    static func ridgeWeightNorm(_ data: RegressionData, lambda: Float) -> Float? {
        let (x, y) = data
        let (centredX, centredY) = withNoGrad {
            (x - x.mean(axis: 0, keepDims: true), (y - y.mean()).reshaped([x.shape[0], 1]))
        }
        guard let solution = try? LeastSquares.solveRidge(centredX, centredY, lambda: lambda > 0 ? lambda : 1e-5) else {
            return nil
        }
        return Float(solution.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
    }

    /// Where `--plot FILE` puts the concise runs: `FILE` without its extension, then `-concise.svg`.
    static func concisePlotPath(_ path: String) -> String {
        (path as NSString).deletingPathExtension + "-concise.svg"
    }

    /// Train (solid) and test (dashed) loss of every run in `runs`, log₁₀ scale.
    static func plot(_ runs: [RunResult], epochs: Int) -> CurvePlot {
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]
        var series: [CurvePlot.Series] = []
        for (index, run) in runs.enumerated() {
            let color = colors[index % colors.count], name = "λ=\(String(format: "%g", run.lambda))"
            series.append(
                .init(
                    label: "\(name) train", color: color,
                    points: run.curve.map { (Double($0[0]), ExperimentOutput.log10($0[1])) }))
            series.append(
                .init(
                    label: "\(name) test", color: color, dash: "6,4",
                    points: run.curve.map { (Double($0[0]), ExperimentOutput.log10($0[2])) }))
        }
        let values = series.flatMap(\.points).map(\.y).filter(\.isFinite)
        var plot = CurvePlot(
            series: series, xRange: 5...Double(Swift.max(epochs, 10)),
            yRange: (values.min() ?? -3).rounded(.down)...Swift.max((values.max() ?? 2).rounded(.up), 1))
        plot.width = 520
        plot.height = 340
        return plot
    }
}
