import ArgumentParser
import Engine
import Foundation
import Training

/// `d2l`: the experiments of "Dive into Deep Learning" on this engine.
@main
struct D2L: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "d2l",
        abstract: "Reproduce the experiments of Dive into Deep Learning (d2l.ai) on the CPU.",
        discussion: "Run `d2l list` for the experiments. Every figure printed names the OpenBLAS kernel in use.",
        subcommands: [
            List.self, Summary.self, Evaluate.self, BLASInfo.self,
            LinearRegressionExperiment.self,
            SoftmaxRegressionExperiment.self, ActivationsExperiment.self, MLPExperiment.self,
            PolynomialExperiment.self, WeightDecayExperiment.self, DropoutExperiment.self,
            InitializationExperiment.self, KFoldExperiment.self,
            LeNetExperiment.self, AlexNetExperiment.self, VGGExperiment.self, NiNExperiment.self,
            GoogLeNetExperiment.self, BatchNormExperiment.self, ResNetExperiment.self, DenseNetExperiment.self,
        ],
        defaultSubcommand: List.self
    )

    /// Restarts with the fast OpenBLAS kernel when needed, then runs the command. Any error
    /// (a bad option, an unreadable file, a diverged run) is one line on stderr and a non-zero exit.
    static func main() {
        BLAS.selectFastKernelOrRestart(programName: "d2l")
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {  // --help, --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = D2L.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("d2l: \(message)\n".utf8))
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// A command that reproduces one of the book's experiments; `d2l list` shows every one.
protocol Experiment: ParsableCommand {
    /// The book's section(s), e.g. `"6.6"`.
    static var section: String { get }
}

/// The experiments available, one line each, with the book's section.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the experiments, with the book's sections.")

    func run() {
        for case let experiment as any Experiment.Type in D2L.configuration.subcommands {
            let configuration = experiment.configuration
            print((configuration.commandName ?? "").padding(toLength: 20, withPad: " ", startingAt: 0)
                  + "§" + experiment.section.padding(toLength: 9, withPad: " ", startingAt: 0) + configuration.abstract)
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
