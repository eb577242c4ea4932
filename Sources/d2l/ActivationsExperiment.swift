import ArgumentParser
import Engine
import Foundation
import Training

/// §4.1, activation functions: ReLU, sigmoid and tanh and their derivatives, the derivatives
/// computed by the engine's autodiff exactly as the book does (`y.backward(ones_like(x))`, here
/// `y.sum().backward()`, then `x.grad`) over `x = arange(−8, 8, 0.1)`.
///
/// Writes one SVG per function, `activation-<name>.svg` with the function and its gradient, into
/// the directory given by `--plot DIR` (created if needed) or the current directory, and prints
/// the values at a few points.
struct ActivationsExperiment: Experiment {
    static let section = "4.1"
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "ReLU, sigmoid and tanh and their autodiff gradients, plotted over [-8, 8].",
        discussion:
            "Writes activation-relu.svg, activation-sigmoid.svg and activation-tanh.svg into the directory given by --plot DIR (created if needed), or into the current directory."
    )

    @OptionGroup var options: ExperimentOptions

    /// One activation function.
    struct Activation: Sendable {
        let name: String
        let apply: @Sendable (Tensor) -> Tensor
    }

    static let activations = [
        Activation(name: "relu") { $0.relu() },
        Activation(name: "sigmoid") { $0.sigmoid() },
        Activation(name: "tanh") { $0.tanh() },
    ]

    /// The points of the printed table.
    static let tablePoints: [Float] = [-8, -2, -1, -0.5, 0, 0.5, 1, 2, 8]

    /// `f(x)` and `f′(x)` by autodiff for every element of `x`.
    static func valuesAndGradients(
        _ activation: Activation, at points: [Float]
    ) -> (values: [Float], gradients: [Float]) {
        let x = Tensor(points)
        x.requiresGrad = true
        let y = activation.apply(x)
        y.sum().backward()
        return (y.scalars, x.grad!.scalars)
    }

    /// What `--json` writes: the table.
    struct Results: Codable {
        var experiment = "activations"
        var section = ActivationsExperiment.section
        var x: [Float]
        /// name → values, and name + "_grad" → derivatives at `x`.
        var values: [String: [Float]]
        var files: [String]
    }

    func run() throws {
        let directory = options.plot ?? FileManager.default.currentDirectoryPath
        print(
            "d2l §4.1 activation functions: relu, sigmoid, tanh over arange(-8, 8, 0.1), gradients by autodiff, SVGs into \(directory) (\(BLAS.summary))"
        )
        let grid = Tensor.arange(-8, 8, step: 0.1).scalars
        var files: [String] = []
        for activation in Self.activations {
            let (values, gradients) = Self.valuesAndGradients(activation, at: grid)
            var plot = CurvePlot(
                series: [
                    .init(
                        label: "\(activation.name)(x)", color: "#1f77b4",
                        points: zip(grid, values).map { (Double($0), Double($1)) }),
                    .init(
                        label: "grad of \(activation.name)", color: "#bf00bf", dash: "6,4",
                        points: zip(grid, gradients).map { (Double($0), Double($1)) }),
                ], xRange: -8...8)
            plot.xLabel = "x"
            let path = URL(fileURLWithPath: directory, isDirectory: true).appendingPathComponent(
                "activation-\(activation.name).svg"
            ).path
            try ExperimentOutput.writeSVG(plot, yLabel: "\(activation.name)(x), grad", to: path)
            files.append(path)
        }
        print("plots: " + files.joined(separator: ", "))

        var table: [String: [Float]] = [:]
        var header = "x".padding(toLength: 7, withPad: " ", startingAt: 0)
        for activation in Self.activations {
            let (values, gradients) = Self.valuesAndGradients(activation, at: Self.tablePoints)
            table[activation.name] = values
            table[activation.name + "_grad"] = gradients
            header +=
                " " + activation.name.padding(toLength: 10, withPad: " ", startingAt: 0) + " "
                + "d\(activation.name)".padding(toLength: 10, withPad: " ", startingAt: 0)
        }
        print(header)
        for (row, x) in Self.tablePoints.enumerated() {
            var line = String(format: "%-7g", x)
            for activation in Self.activations {
                line += String(
                    format: " %-10.6f %-10.6f", table[activation.name]![row], table[activation.name + "_grad"]![row])
            }
            print(line)
        }
        if let json = options.json {
            try ExperimentOutput.writeJSON(Results(x: Self.tablePoints, values: table, files: files), to: json)
        }
    }
}
