import Engine
import Foundation

/// `swift run -c release benchmarks [--quick] [--filter TEXT] [--json FILE]`
///
/// Prints a header (CPU, cores, BLAS kernel and threads, build), then one line per benchmark:
/// median and spread of the timed repetitions after warm-up, and GFLOP/s.
@main
enum Benchmarks {
    static func main() {
        BLAS.selectFastKernelOrRestart(programName: "benchmarks")
        var quick = false, filter: String?, jsonPath: String?, comparePath: String?
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            switch argument {
            case "--quick": quick = true
            case "--filter": filter = arguments.popFirst()
            case "--json": jsonPath = arguments.popFirst()
            case "--compare": comparePath = arguments.popFirst()
            case "--help", "-h":
                print("usage: benchmarks [--quick] [--filter TEXT] [--json FILE] [--compare REFERENCE.json]")
                return
            default:
                FileHandle.standardError.write(Data("benchmarks: unknown argument '\(argument)' (try --help)\n".utf8))
                exit(2)
            }
            if (argument == "--filter" && filter == nil) || (argument == "--json" && jsonPath == nil)
                || (argument == "--compare" && comparePath == nil) {
                FileHandle.standardError.write(Data("benchmarks: \(argument) needs a value\n".utf8))
                exit(2)
            }
        }

        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("CPU: \(BLAS.cpuModelName), \(cores) cores | BLAS: \(BLAS.summary) | build: \(build)\(quick ? " | quick" : "")")
        if build == "debug" { print("warning: debug build; numbers are meaningless. Use swift run -c release benchmarks") }

        var reference: [String: BenchmarkResult] = [:]
        if let comparePath {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: comparePath))
                let report = try JSONDecoder().decode(BenchmarkReport.self, from: data)
                reference = Dictionary(report.results.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                print("reference: \(comparePath) (\(report.blas.core), \(report.blas.threads) threads, \(report.date))")
            } catch {
                FileHandle.standardError.write(Data("benchmarks: cannot read reference \(comparePath): \(error)\n".utf8))
                exit(1)
            }
        }

        let (warmup, repetitions) = quick ? (0, 1) : (2, 7)
        var results: [BenchmarkResult] = []
        var generator = RandomGenerator(seed: 0)
        let lenet = Sequential(
            Conv2D(inputChannels: 1, outputChannels: 6, kernelSize: 5, padding: 2, using: &generator), Sigmoid(),
            AvgPool2D(kernelSize: 2, stride: 2),
            Conv2D(inputChannels: 6, outputChannels: 16, kernelSize: 5, using: &generator), Sigmoid(),
            AvgPool2D(kernelSize: 2, stride: 2), Flatten(),
            Linear(inputFeatures: 400, outputFeatures: 120, using: &generator), Sigmoid(),
            Linear(inputFeatures: 120, outputFeatures: 84, using: &generator), Sigmoid(),
            Linear(inputFeatures: 84, outputFeatures: 10, using: &generator))
        let all = gemmBenchmarks(quick: quick)
            + [("train lenet", trainStepBenchmark(name: "train lenet", model: lenet, inputShape: [quick ? 32 : 256, 1, 28, 28]))]
        let selected = all.filter { filter == nil || $0.name.contains(filter!) }
        print("name".padding(toLength: 28, withPad: " ", startingAt: 0) + "    median ms   min..max ms      GFLOP/s"
              + (reference.isEmpty ? "" : "   reference ms   speed-up (reference ms / ours)"))
        for benchmark in selected {
            let result = benchmark.run(warmup, repetitions)
            results.append(result)
            print(result.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + String(format: " %12.3f  %7.3f..%-7.3f %9.1f", result.medianMilliseconds,
                           result.minimumMilliseconds, result.maximumMilliseconds, result.gflops)
                  + comparison(result, reference[result.name]))
        }

        if !reference.isEmpty {
            print("speed-up > 1: this engine is faster; the reference ran in its own process, ideally just before or after this run.")
        }

        if let jsonPath {
            let report = BenchmarkReport(
                blas: .init(core: BLAS.coreName, threads: BLAS.threadCount, config: BLAS.configuration),
                cpu: BLAS.cpuModelName, cores: cores, build: build,
                date: ISO8601DateFormatter().string(from: Date()), results: results)
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(report).write(to: URL(fileURLWithPath: jsonPath), options: .atomic)
            } catch {
                FileHandle.standardError.write(Data("benchmarks: cannot write \(jsonPath): \(error.localizedDescription)\n".utf8))
                exit(1)
            }
        }
    }
}

/// The reference columns of a result line: the reference's median and the ratio reference/ours.
func comparison(_ result: BenchmarkResult, _ reference: BenchmarkResult?) -> String {
    guard let reference else { return "" }
    return String(format: "   %12.3f   %6.2fx", reference.medianMilliseconds,
                  reference.medianMilliseconds / result.medianMilliseconds)
}
