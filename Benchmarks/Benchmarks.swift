import Engine
import Foundation
import Training

/// `swift run -c release benchmarks [--quick] [--filter TEXT] [--json FILE] [--compare REFERENCE.json]
/// [--conv-algorithm automatic|im2col|direct|winograd]`
///
/// Prints a header (CPU, cores, BLAS kernel and threads, build, measured FMA peak: `FMAPeak`), then one line
/// per benchmark: median and spread of the timed repetitions after warm-up, GFLOP/s, and the
/// reference's median and ratio when comparing. Groups, in order:
///
/// - `conv-block`: two 3×3 convolutions against one 5×5 (`ConvBlockBenchmarks.swift`);
/// - `train-effect`: the same comparison as Fashion-MNIST accuracy and training time;
/// - `gemm`: square sgemms and the zoo's conv-layer GEMM shapes, with percentage of peak;
/// - `conv`: forward+backward of the zoo's conv layers next to a plain sgemm of the same size;
/// - `train`: one training step of every zoo network, examples/s and peak memory.
///
/// `--train-child NAME WARMUP REPETITIONS [--quick]` is internal: one `train` workload in a
/// child process (so its peak memory is its own).
@main
enum Benchmarks {
    static func main() {
        BLAS.selectFastKernelOrRestart(programName: "benchmarks")
        var quick = false, filter: String?, jsonPath: String?, comparePath: String?
        var arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--train-child" {
            let values = Array(arguments.dropFirst())
            guard values.count >= 3, let warmup = Int(values[1]), let repetitions = Int(values[2]) else {
                FileHandle.standardError.write(
                    Data("benchmarks: --train-child NAME WARMUP REPETITIONS [--quick]\n".utf8))
                exit(2)
            }
            trainChildMain(name: values[0], warmup: warmup, repetitions: repetitions, quick: values.contains("--quick"))
            return
        }
        while let argument = arguments.popFirst() {
            switch argument {
            case "--quick": quick = true
            case "--filter": filter = arguments.popFirst()
            case "--json": jsonPath = arguments.popFirst()
            case "--compare": comparePath = arguments.popFirst()
            case "--conv-algorithm":
                // Set before the first convolution reads it; `train` children inherit it.
                guard let value = arguments.popFirst(), ConvolutionAlgorithm(rawValue: value) != nil else {
                    FileHandle.standardError.write(
                        Data("benchmarks: --conv-algorithm needs one of \(convolutionAlgorithmNames)\n".utf8))
                    exit(2)
                }
                setenv(ConvolutionAlgorithm.environmentVariable, value, 1)
            case "--help", "-h":
                print(
                    "usage: benchmarks [--quick] [--filter TEXT] [--json FILE] [--compare REFERENCE.json] [--conv-algorithm \(convolutionAlgorithmNames)]"
                )
                print("groups: conv-block, train-effect, gemm, conv, train (--filter matches a substring of the name)")
                print(
                    "--conv-algorithm im2col: every convolution through im2col + GEMM, the reference path (D2L_CONV_ALGORITHM)"
                )
                return
            default:
                FileHandle.standardError.write(Data("benchmarks: unknown argument '\(argument)' (try --help)\n".utf8))
                exit(2)
            }
            if (argument == "--filter" && filter == nil) || (argument == "--json" && jsonPath == nil)
                || (argument == "--compare" && comparePath == nil)
            {
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
        let fmaPeak = measuredFMAPeak(cores: cores, quick: quick)
        let peak = fmaPeak.allCores
        print(
            "CPU: \(BLAS.cpuModelName), \(cores) cores | BLAS: \(BLAS.summary) | build: \(build)\(quick ? " | quick" : "")"
        )
        print(String(format: "FMA peak %.1f GFLOP/s (", peak) + fmaPeak.method + ")")
        if ConvolutionAlgorithm.current == .im2col {
            print("convolution: im2col + GEMM forced (D2L_CONV_ALGORITHM=im2col)")
        }
        if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            print("load average: \(load.split(separator: " ").prefix(3).joined(separator: " "))")
        }
        if build == "debug" {
            print("warning: debug build; numbers are meaningless. Use swift run -c release benchmarks")
        }

        var reference: [String: BenchmarkResult] = [:]
        if let comparePath {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: comparePath))
                let report = try JSONDecoder().decode(BenchmarkReport.self, from: data)
                reference = Dictionary(report.results.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                print("reference: \(comparePath) (\(report.blas.core), \(report.blas.threads) threads, \(report.date))")
            } catch {
                FileHandle.standardError.write(
                    Data("benchmarks: cannot read reference \(comparePath): \(error)\n".utf8))
                exit(1)
            }
        }

        let (warmup, repetitions) = quick ? (0, 1) : (2, 7)
        var results: [BenchmarkResult] = []
        let all =
            convolutionBlockBenchmarks(quick: quick) + convolutionBlockTrainingBenchmarks(quick: quick)
            + gemmBenchmarks(quick: quick, peak: peak) + convolutionLayerBenchmarks(quick: quick)
            + trainBenchmarks(quick: quick)
        let selected = all.filter { filter == nil || $0.name.contains(filter!) }
        print(
            "name".padding(toLength: 44, withPad: " ", startingAt: 0)
                + "    median ms   min..max ms      GFLOP/s  extra"
                + (reference.isEmpty ? "" : "                     reference ms   speed-up (reference ms / ours)"))
        for benchmark in selected {
            let stolenBefore = hypervisorStolenMilliseconds()
            var result = benchmark.run(warmup, repetitions)
            if let before = stolenBefore, let after = hypervisorStolenMilliseconds() {
                result.stolenMilliseconds = after - before
            }
            // Convolutions: how close to the machine's limit each layer runs.
            if result.group == "conv" || result.group == "conv-block", result.percentOfPeak == nil, result.gflops > 0 {
                result.percentOfPeak = 100 * result.gflops / peak
            }
            results.append(result)
            print(
                result.name.padding(toLength: 44, withPad: " ", startingAt: 0)
                    + String(
                        format: " %12.3f  %7.3f..%-7.3f %9.1f  ", result.medianMilliseconds,
                        result.minimumMilliseconds, result.maximumMilliseconds, result.gflops)
                    + extraColumn(result).padding(toLength: 26, withPad: " ", startingAt: 0)
                    + comparison(result, reference[result.name])
                    + ((result.stolenMilliseconds ?? 0) > 0
                        ? String(format: "  [hypervisor stole %.0f ms]", result.stolenMilliseconds!) : ""))
        }

        if !reference.isEmpty {
            print(
                "speed-up > 1: this engine is faster; the reference ran in its own process, ideally just before or after this run."
            )
            let missing = results.filter { reference[$0.name] == nil }.map(\.name)
            if !missing.isEmpty { print("not in the reference: \(missing.joined(separator: ", "))") }
        }
        for line in convolutionBlockReport(results) { print(line) }
        if !reference.isEmpty {
            let referenceBlock = convolutionBlockReport(results.compactMap { reference[$0.name] })
            if !referenceBlock.isEmpty { print("reference:") }
            for line in referenceBlock { print(line) }
        }

        if let jsonPath {
            let report = BenchmarkReport(
                blas: .init(core: BLAS.coreName, threads: BLAS.threadCount, config: BLAS.configuration),
                cpu: BLAS.cpuModelName, cores: cores, build: build,
                date: ISO8601DateFormatter().string(from: Date()), peakGflops: peak,
                peakOneCoreGflops: fmaPeak.oneCore, peakMethod: fmaPeak.method, results: results)
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(report).write(to: URL(fileURLWithPath: jsonPath), options: .atomic)
            } catch {
                FileHandle.standardError.write(
                    Data("benchmarks: cannot write \(jsonPath): \(error.localizedDescription)\n".utf8))
                exit(1)
            }
        }
    }
}

/// The group-specific column: % of peak (gemm, conv-block), plain-sgemm GFLOP/s and % of peak
/// (conv), examples/s and peak MiB (train), test accuracy (train-effect).
func extraColumn(_ result: BenchmarkResult) -> String {
    if let sgemm = result.sgemmGflops {
        return String(format: "sgemm %.1f GF/s", sgemm)
            + (result.percentOfPeak.map { String(format: ", %.0f%% pk", $0) } ?? "")
    }
    if let percent = result.percentOfPeak { return String(format: "%.0f%% of peak", percent) }
    if let perSecond = result.examplesPerSecond, let peak = result.peakMegabytes {
        return String(format: "%.0f ex/s %.0f MiB", perSecond, peak)
    }
    if let accuracy = result.testAccuracy { return String(format: "test acc %.4f", accuracy) }
    return ""
}

/// The reference columns of a result line: the reference's median and the ratio reference/ours,
/// and for `train` the reference's peak memory.
func comparison(_ result: BenchmarkResult, _ reference: BenchmarkResult?) -> String {
    guard let reference else { return "" }
    var text = String(
        format: "   %12.3f   %6.2fx", reference.medianMilliseconds,
        reference.medianMilliseconds / result.medianMilliseconds)
    if let peak = reference.peakMegabytes { text += String(format: "  (ref %.0f MiB)", peak) }
    if let accuracy = reference.testAccuracy { text += String(format: "  (ref acc %.4f)", accuracy) }
    return text
}

/// `automatic|im2col|direct|…`, the values of `--conv-algorithm`.
let convolutionAlgorithmNames = ConvolutionAlgorithm.allCases.map(\.rawValue).joined(separator: "|")
