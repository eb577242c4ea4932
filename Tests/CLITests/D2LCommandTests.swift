import Datasets
import Foundation
import Testing

/// End-to-end tests of the `d2l` executable: they run the built binary (which `swift test` builds
/// into the same directory as the test bundle) with small settings and check its exit status,
/// its printed lines and the files it writes. Skipped, with a message, when the binary is absent.

/// The `d2l` executable next to the test bundle, or in `.build/debug` / `.build/release` of this
/// package; `nil` when none is built.
let d2lBinary: URL? = {
    var candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("d2l"),
        Bundle.main.bundleURL.appendingPathComponent("d2l"),
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("d2l"),
    ]
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates += ["debug", "release"].map { root.appendingPathComponent(".build/\($0)/d2l") }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

/// Whether Fashion-MNIST is installed where `d2l` looks by default.
let fashionMNISTInstalled = FileManager.default.fileExists(
    atPath: FashionMNIST.resolveDirectory(nil, environment: ProcessInfo.processInfo.environment))

/// What one run of `d2l` did.
struct Run {
    var status: Int32
    /// Whether a signal ended the process (a trap, a crash) rather than `exit`.
    var signaled = false
    var output: String
    var errorOutput: String
    var lines: [String] { output.split(separator: "\n").map(String.init) }
    var errorLines: [String] { errorOutput.split(separator: "\n").map(String.init) }
}

/// Runs `d2l arguments…` in `directory` and waits for it. The child inherits this process's
/// environment with `environment`'s entries set, or removed where their value is `nil`.
func d2l(_ arguments: [String], in directory: URL? = nil, environment: [String: String?] = [:]) throws -> Run {
    try run(try #require(d2lBinary, "d2l is not built"), arguments, in: directory, environment: environment)
}

/// Runs `executable arguments…` in `directory` and waits for it, with this process's environment
/// changed by `environment` as `d2l(_:in:environment:)` does.
func run(
    _ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String?] = [:]
) throws -> Run {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    if !environment.isEmpty {
        var childEnvironment = ProcessInfo.processInfo.environment
        for (name, value) in environment { childEnvironment[name] = value }
        process.environment = childEnvironment
    }
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // The experiments print little on stderr (one line at most), so reading stdout to its end
    // first cannot deadlock.
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(
        status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
        output: String(decoding: outputData, as: UTF8.self), errorOutput: String(decoding: errorData, as: UTF8.self))
}

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("d2l-cli-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A JSON file as a dictionary.
func readJSON(_ url: URL) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
}

@Suite(.enabled(if: d2lBinary != nil, "the d2l executable is not built (run `swift build` first)"))
struct D2LCommandTests {
    @Test func listShowsEveryExperimentWithItsSection() throws {
        let run = try d2l(["list"])
        #expect(run.status == 0)
        for (name, section) in [
            ("polynomial", "§4.4"), ("weight-decay", "§4.5"), ("kfold", "§4.10"),
            ("initialization", "§4.8"), ("activations", "§4.1"),
        ] {
            #expect(
                run.lines.contains { $0.hasPrefix(name + " ") && $0.contains(section) },
                "no line for \(name) \(section) in:\n\(run.output)")
        }
    }

    @Test func weightDecayShrinksTheNormAndWritesJSON() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("wd.json")
        let run = try d2l(["weight-decay", "--epochs", "5", "--json", json.path, "--plot", "wd.svg"], in: directory)
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        #expect(run.lines.first?.hasPrefix("d2l §4.5 weight decay:") == true)
        #expect(run.lines.first?.contains("OpenBLAS") == true)
        #expect(run.lines.filter { $0.contains("L2 norm of w:") }.count == 4)
        #expect(run.lines.filter { $0.contains("reference, closed-form ‖w‖₂:") }.count == 4)

        let results = try readJSON(json)
        #expect(results["epochs"] as? Int == 5)
        let runs = try #require(results["runs"] as? [[String: Any]])
        #expect(runs.count == 4)
        let norms = runs.compactMap { $0["weightNorm"] as? Double }
        #expect(norms.count == 4)
        // The penalty must shrink w: λ = 3 ends smaller than λ = 0, from scratch and concise.
        #expect(norms[1] < norms[0] && norms[3] < norms[2], "norms \(norms)")
        #expect(runs.map { $0["implementation"] as? String } == ["scratch", "scratch", "concise", "concise"])
        // Two figures (relative to the working directory), each λ = 0 and 3, train and test.
        for name in ["wd.svg", "wd-concise.svg"] {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            #expect(text.components(separatedBy: "<path ").count - 1 == 4, "\(name)")
        }
    }

    @Test func polynomialRecoversTheCubicAndPlotsSixCurves() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let svg = directory.appendingPathComponent("poly.svg"), json = directory.appendingPathComponent("poly.json")
        let run = try d2l(["polynomial", "--epochs", "400", "--plot", svg.path, "--json", json.path])
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        #expect(run.lines.first?.hasPrefix("d2l §4.4 polynomial regression:") == true)
        #expect(run.lines.filter { $0.hasPrefix("  weight: [") }.count == 3)

        let cases = try #require(try readJSON(json)["cases"] as? [[String: Any]])
        #expect(cases.count == 3)
        let cubic = try #require(cases.first)
        let weights = try #require(cubic["weights"] as? [Double])
        #expect(weights.count == 4)
        for (learned, truth) in zip(weights, [5, 1.2, -3.4, 5.6]) {
            #expect(abs(learned - truth) < 0.3, "cubic weights \(weights)")
        }
        // The noise variance is 0.01: the cubic reaches it, the line cannot.
        #expect(try #require(cubic["trainMSE"] as? Double) < 0.05)
        #expect(try #require(cases[1]["trainMSE"] as? Double) > 1)
        let text = try String(contentsOf: svg, encoding: .utf8)
        #expect(text.components(separatedBy: "<path ").count - 1 == 6)
        #expect(text.contains("log10 MSE"))
    }

    @Test func activationsWriteThreeFiguresAndTheTable() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try d2l(["activations", "--plot", directory.path])
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        for name in ["relu", "sigmoid", "tanh"] {
            let text = try String(
                contentsOf: directory.appendingPathComponent("activation-\(name).svg"), encoding: .utf8)
            #expect(text.components(separatedBy: "<path ").count - 1 == 2, "\(name): function and gradient")
        }
        // At x = 0: relu 0 (gradient 0, as PyTorch), sigmoid 0.5 and 0.25, tanh 0 and 1.
        let zero = try #require(run.lines.first { $0.hasPrefix("0 ") })
        #expect(
            zero.split(separator: " ").map(String.init) == [
                "0", "0.000000", "0.000000", "0.500000", "0.250000", "0.000000", "1.000000",
            ])
    }

    /// Two SGD steps from a constant start leave the 256 hidden units equal up to float32
    /// rounding. Not bitwise: OpenBLAS may sum the units of its edge tile in another order than
    /// those of a full tile (1 ulp apart on `Zen`, 0 on `Cooperlake` and `Prescott`), so the
    /// expectation is the experiment's own tolerance count, and a spread at rounding level: at most
    /// 1e-6 of the largest weight, ~17 ulps, where 1 ulp (6e-8 to 1.2e-7 of it) was measured.
    @Test(.enabled(if: fashionMNISTInstalled, "Fashion-MNIST is not installed"))
    func constantInitializationKeepsHiddenUnitsIdentical() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("initialization.json")
        let run = try d2l(["initialization", "--train-limit", "512", "--test-limit", "256", "--json", json.path])
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        let constant = try #require(run.lines.first { $0.hasPrefix("constant ") })
        #expect(constant.contains("distinct hidden units 1 of 256"), "\(constant)")
        let xavier = try #require(run.lines.first { $0.hasPrefix("xavier uniform") })
        #expect(xavier.contains("distinct hidden units 256 of 256"), "\(xavier)")
        #expect(
            run.lines.last?.hasPrefix(
                "Units count as distinct when they differ by more than 1e-05 of the largest weight.") == true,
            "closing line: \(run.lines.last ?? "")")

        let runs = try #require(readJSON(json)["runs"] as? [[String: Any]])
        #expect(runs.count == 2)
        let symmetric = try #require(runs.first), random = try #require(runs.last)
        #expect(symmetric["initialHiddenSpread"] as? Double == 0)
        let relativeSpread = try #require(symmetric["finalRelativeHiddenSpread"] as? Double)
        #expect(
            relativeSpread <= 1e-6,
            "the units of the constant start came apart by more than rounding: \(relativeSpread)")
        let largest = try #require(symmetric["finalLargestHiddenWeight"] as? Double)
        #expect(abs(largest - 0.001) > 1e-5, "the weights did not move from their constant 0.001: \(largest)")
        #expect(symmetric["distinctHiddenUnits"] as? Int == 1)
        #expect(random["distinctHiddenUnits"] as? Int == 256)
        #expect(random["bitwiseDistinctHiddenUnits"] as? Int == 256)
        let randomSpread = try #require(random["finalRelativeHiddenSpread"] as? Double)
        #expect(
            randomSpread > 0.1,
            "Xavier's units should differ by a sizeable fraction of the largest weight: \(randomSpread)")
    }

    /// CI runs the suite a second time on a kernel it forces; `D2L_KEEP_BLAS_CORE` keeps that
    /// kernel and leaves stderr to the experiment (no generic-kernel warning, no restart notice).
    @Test func aKeptKernelIsUsedWithoutAWarning() throws {
        let run = try d2l(
            ["linear-regression"], environment: ["OPENBLAS_CORETYPE": "Prescott", "D2L_KEEP_BLAS_CORE": "1"])
        #expect(run.status == 0, "stderr: \(run.errorOutput)")
        #expect(run.errorOutput.isEmpty, "stderr: \(run.errorOutput)")
        let blas = try d2l(["blas"], environment: ["OPENBLAS_CORETYPE": "Prescott", "D2L_KEEP_BLAS_CORE": "1"])
        #expect(blas.lines.first?.hasSuffix("Prescott") == true, "d2l blas: \(blas.output)")
        // Without D2L_KEEP_BLAS_CORE, a generic kernel the user forced on an AVX2 CPU is kept
        // (they set OPENBLAS_CORETYPE) but still named on stderr.
        let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = Set(
            cpuInfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? []
        )
        if flags.contains("avx2") && flags.contains("fma") {
            let warned = try d2l(
                ["linear-regression"], environment: ["OPENBLAS_CORETYPE": "Prescott", "D2L_KEEP_BLAS_CORE": nil])
            #expect(warned.status == 0)
            #expect(warned.errorOutput.contains("generic 'Prescott' kernel"), "stderr: \(warned.errorOutput)")
        }
    }

    @Test(arguments: [
        ["polynomial", "--epochs=-1"], ["nosuch"], ["weight-decay", "--lambdas", "-1"],
        ["kfold", "--epochs", "1", "--data", "/nonexistent/kaggle"],
    ])
    func errorsAreOneLineOnStandardError(arguments: [String]) throws {
        let run = try d2l(arguments)
        #expect(run.status != 0)
        #expect(run.errorLines.count == 1, "stderr: \(run.errorOutput)")
        #expect(run.errorLines.first?.hasPrefix("d2l: ") == true)
    }
}
