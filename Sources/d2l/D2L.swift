import ArgumentParser
import Engine
import Foundation
import MPI
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

    /// The processes of the `mpirun` job this process belongs to, when it was started by
    /// `mpirun` with more than one process (set once by `main` before the command runs).
    nonisolated(unsafe) static var processes: MPIProcessGroup?

    /// Restarts with the fast OpenBLAS kernel when needed, joins the `mpirun` job if there is one,
    /// then runs the command. Any error (a bad option, an unreadable file, a diverged run) is one
    /// line on stderr and a non-zero exit.
    ///
    /// Under `mpirun`, only rank 0 writes to standard output. An error every rank meets at the
    /// same point (a bad option, ranks started differently, a rank that diverged) is printed by
    /// rank 0 alone; any other error is printed as `d2l: rank R: …` by the rank that met it, which
    /// then stops the whole job (`MPI_Abort`), since the others may be waiting for it.
    static func main() {
        if let rank = MPIProcessGroup.launchedRank, rank != 0 {
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 {
                dup2(null, STDOUT_FILENO)
                close(null)
            }
        }
        BLAS.selectFastKernelOrRestart(programName: "d2l")
        var parsed = false
        do {
            if let group = try MPIProcessGroup.launched(), group.size > 1 { processes = group }
            var command = try parseAsRoot()
            parsed = true
            if let processes, command is any Experiment, !(command is any ClassificationExperiment) {
                throw ValidationError(
                    "under mpirun only the classification experiments train (data-parallel on \(processes.size) "
                        + "processes); run this command without mpirun")
            }
            try command.run()
            MPIProcessGroup.finalize()
        } catch {
            let code = exitCode(for: error)
            if code == .success { // --help, --version
                print(fullMessage(for: error))
                MPIProcessGroup.finalize()
                Foundation.exit(0)
            }
            let message = D2L.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let status = code.rawValue == 0 ? 1 : code.rawValue
            if let processes {
                if !parsed || error is ValidationError || error is DataParallelError {
                    if processes.rank == 0 { FileHandle.standardError.write(Data("d2l: \(message)\n".utf8)) }
                    MPIProcessGroup.finalize()
                    Foundation.exit(status)
                }
                FileHandle.standardError.write(Data("d2l: rank \(processes.rank): \(message)\n".utf8))
                processes.abort(code: status)
            }
            FileHandle.standardError.write(Data("d2l: \(message)\n".utf8))
            MPIProcessGroup.finalize()
            Foundation.exit(status)
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
            print(
                (configuration.commandName ?? "").padding(toLength: 20, withPad: " ", startingAt: 0)
                    + "§" + experiment.section.padding(toLength: 9, withPad: " ", startingAt: 0)
                    + configuration.abstract)
        }
    }
}

/// What BLAS this process runs on.
struct BLASInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas", abstract: "Show the OpenBLAS kernel, threads and configuration.")

    func run() {
        print("core:          \(BLAS.coreName)")
        print("threads:       \(BLAS.threadCount)")
        print("configuration: \(BLAS.configuration)")
        print("cpu:           \(BLAS.cpuModelName)")
    }
}
