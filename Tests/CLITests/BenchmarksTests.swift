import Foundation
import Models
import Testing

/// Runs the built `benchmarks` executable once in `--quick` mode and checks its JSON report: the
/// documented fields of every result, one result per group, and the exact parameter and FLOP
/// counts of the 3×3-stack / 5×5 pair. No timing is asserted (the machine is shared).

/// The `benchmarks` executable next to the test bundle, or in `.build/debug` / `.build/release`
/// of this package; `nil` when none is built.
let benchmarksBinary: URL? = {
    var candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("benchmarks"),
        Bundle.main.bundleURL.appendingPathComponent("benchmarks"),
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("benchmarks"),
    ]
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates += ["debug", "release"].map { root.appendingPathComponent(".build/\($0)/benchmarks") }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

@Suite(.enabled(if: benchmarksBinary != nil, "the benchmarks executable is not built (run `swift build` first)"))
struct BenchmarksTests {
    @Test func quickRunWritesTheDocumentedJSONWithExactConvBlockCounts() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("bench.json")
        guard let binary = benchmarksBinary else { return } // the suite is disabled then
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--quick", "--json", json.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "output:\n\(printed)")
        #expect(printed.contains("FMA peak "))

        let report = try readJSON(json)
        for key in [
            "blas", "cpu", "cores", "build", "date", "peak_gflops", "peak_one_core_gflops", "peak_method", "results",
        ] {
            #expect(report[key] != nil, "report has no \(key)")
        }
        let results = try #require(report["results"] as? [[String: Any]])
        let documented = [
            "name", "group", "params", "flops", "median_ms", "min_ms", "max_ms", "repetitions", "gflops", "notes",
        ]
        for result in results {
            for key in documented { #expect(result[key] != nil, "\(result["name"] ?? "?") has no \(key)") }
        }
        let groups = Set(results.compactMap { $0["group"] as? String })
        #expect(groups == ["conv-block", "train-effect", "gemm", "conv", "train"])
        // Convolution rows say how close to the measured FMA peak they run.
        for result in results where ["conv", "conv-block", "gemm"].contains(result["group"] as? String ?? "") {
            #expect((result["percent_of_peak"] as? Double ?? 0) > 0, "\(result["name"] ?? "?") has no percent_of_peak")
        }
        for result in results where result["group"] as? String == "train" {
            #expect((result["peak_mb"] as? Double ?? 0) > 0, "\(result["name"] ?? "?") has no peak_mb")
            #expect(
                (result["examples_per_sec"] as? Double ?? 0) > 0, "\(result["name"] ?? "?") has no examples_per_sec")
        }
        // Every zoo network once, and those without dropout or from-scratch batch norm once more,
        // data-parallel (`dataParallelTrainNetworks` in Benchmarks/TrainBenchmarks.swift).
        let dataParallel = [
            "softmax-regression", "mlp", "lenet", "batch-norm-lenet", "googlenet", "resnet", "densenet",
        ]
        #expect(
            Set(results.filter { $0["group"] as? String == "train" }.compactMap { $0["name"] as? String })
                == Set(ModelZoo.names.map { "train \($0)" } + dataParallel.map { "train \($0) data-parallel" }))

        // The pair, counted independently: conv weights O·C·k·k plus O biases, forward FLOPs
        // 2·(multiply-adds) = 2·N·H·W·O·C·k·k per convolution, forward+backward 3× forward.
        var pairs = 0
        for result in results where result["group"] as? String == "conv-block" {
            let name = try #require(result["name"] as? String)
            let words = name.split(separator: " ")
            let shape = words[1].split(separator: "x").compactMap { Int($0) }
            try #require(shape.count == 3, "cannot read N×C×H from \(name)")
            let (n, c, h) = (shape[0], shape[1], shape[2])
            func conv(_ k: Int) -> (params: Int, flops: Int) { (c * c * k * k + c, 2 * n * h * h * c * c * k * k) }
            let expected =
                words[0] == "conv-3x3-stack"
                ? (params: 2 * conv(3).params, flops: 2 * conv(3).flops) : conv(5)
            let multiplier = words[2] == "fwd+bwd" ? 3 : 1
            #expect(result["params"] as? Int == expected.params, "\(name): params \(result["params"] ?? "nil")")
            #expect(
                result["flops"] as? Double == Double(multiplier * expected.flops),
                "\(name): flops \(result["flops"] ?? "nil")")
            pairs += 1
        }
        #expect(pairs == 12)
    }
}
