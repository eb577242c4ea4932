import ArgumentParser
import Engine
import Foundation

/// `d2l`: the experiments of "Dive into Deep Learning" on this engine.
@main
struct D2L: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "d2l",
        abstract: "Reproduce the experiments of Dive into Deep Learning (d2l.ai) on the CPU.",
        subcommands: [List.self, LinearRegressionExperiment.self, BLASInfo.self],
        defaultSubcommand: List.self
    )

    /// Restarts with the fast OpenBLAS kernel when needed, then parses and runs as usual.
    static func main() {
        BLAS.selectFastKernelOrRestart(programName: "d2l")
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// The experiments available, one line each, with the book's section.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the experiments.")

    static let experiments: [(name: String, section: String, summary: String)] = [
        ("linear-regression", "3.2", "linear regression from scratch on y = Xw + b + noise, beside LAPACK's least squares"),
    ]

    func run() {
        for experiment in Self.experiments {
            print("\(experiment.name.padding(toLength: 20, withPad: " ", startingAt: 0)) §\(experiment.section)  \(experiment.summary)")
        }
    }
}

/// What BLAS this process runs on.
struct BLASInfo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "blas", abstract: "Show the OpenBLAS kernel, threads and configuration.")

    func run() {
        print("core:          \(BLAS.coreName)")
        print("threads:       \(BLAS.threadCount)")
        print("configuration: \(BLAS.configuration)")
        print("cpu:           \(BLAS.cpuModelName)")
    }
}
