import Foundation
import Testing

/// Random combinations of the common options, for every experiment `d2l list` shows: whatever
/// the values, `d2l` must exit cleanly — 0, or non-zero with exactly one line on stderr — and
/// never die of a signal (a trap in an op, a failed conversion).
///
/// The draws are seeded: `D2L_OPTION_SEED` replays a seed, and every run prints its exit status
/// and exact command with the seed. A third of the runs has one invalid value (zero, negative, not
/// a number, too large); the data stays tiny (`--train-limit`/`--test-limit` of a few examples, 1–2 epochs) and
/// the sizes small, so AlexNet and VGG (which take only 193…224 and 224…255) are refused and the
/// whole test runs in seconds.
@Suite(.enabled(if: d2lBinary != nil, "the d2l executable is not built (run `swift build` first)"))
struct RandomOptionTests {
    /// The seed of the draws: `D2L_OPTION_SEED` or a fixed default.
    static let seed: UInt64 = ProcessInfo.processInfo.environment["D2L_OPTION_SEED"].flatMap(UInt64.init) ?? 20_261_130

    /// Every experiment `d2l list` shows (plus the book's from-scratch batch norm), or none when
    /// the binary is missing.
    static func experiments() -> [[String]] {
        guard d2lBinary != nil, let list = try? d2l(["list"]) else { return [] }
        return list.lines.compactMap { $0.split(separator: " ").first.map { [String($0)] } } + [
            ["batch-norm", "--scratch"]
        ]
    }

    /// Draws per experiment.
    static let drawsPerExperiment = 3

    /// SplitMix64: a tiny seeded generator, so a failure can be replayed from the printed seed.
    struct Draw {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func pick(_ values: [String]) -> String { values[Int(next() % UInt64(values.count))] }
        mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }
    }

    /// An option, the values drawn for it (valid for the parser and the option checks; the
    /// network or the data may still refuse them), values that must be refused, and how often
    /// (in percent) a run passes it.
    typealias Choice = (name: String, valid: [String], invalid: [String], percent: UInt64)

    /// The common options. Epochs and limits are always passed, so no run trains on the full set.
    static let choices: [Choice] = [
        ("--epochs", ["1", "1", "2"], ["0", "-1", "x"], 100),
        ("--train-limit", ["1", "2", "3", "4", "5", "9"], ["0", "-2"], 100),
        ("--test-limit", ["1", "2", "5"], ["0"], 100),
        ("--batch-size", ["1", "2", "3", "4", "7", "64"], ["0", "-5"], 70),
        ("--lr", ["0.01", "0.1", "0.9", "5", "100", "1e-30"], ["0", "-1", "nan", "inf", "abc"], 50),
        ("--resize", ["1", "2", "3", "5", "8", "16", "20", "28", "29", "33", "48", "67"], ["0", "-4", "513"], 50),
        ("--seed", ["0", "1", "7", "18446744073709551615"], ["-1"], 30),
        ("--threads", ["1", "2"], ["0"], 20),
    ]

    /// One random set of options, with output files under `directory`: a third of the runs has
    /// one invalid value, the others only valid ones.
    static func options(_ draw: inout Draw, directory: URL) -> [String] {
        let included = choices.filter { draw.chance($0.percent) }
        let invalid = draw.chance(33) ? Int(draw.next() % UInt64(included.count)) : nil
        var arguments: [String] = []
        for (index, choice) in included.enumerated() {
            arguments += [choice.name, draw.pick(index == invalid ? choice.invalid : choice.valid)]
        }
        if draw.chance(20) {
            arguments += ["--resume", directory.appendingPathComponent("run/checkpoint.safetensors").path]
        }
        if draw.chance(20) { arguments += ["--json", directory.appendingPathComponent("out/log.json").path] }
        if draw.chance(20) { arguments += ["--plot", directory.appendingPathComponent("out/curves.svg").path] }
        if draw.chance(10) { arguments += ["--save", directory.appendingPathComponent("weights.safetensors").path] }
        return arguments
    }

    @Test("random common options exit cleanly", arguments: experiments())
    func randomOptions(experiment: [String]) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Each experiment draws from its own stream, so a replay needs only the seed and the name.
        var draw = Draw(
            state: Self.seed
                ^ UInt64(
                    truncatingIfNeeded: experiment.joined(separator: " ").utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
        for _ in 0..<Self.drawsPerExperiment {
            let arguments = experiment + Self.options(&draw, directory: directory)
            let run = try d2l(arguments, in: directory)
            let command = "d2l " + arguments.joined(separator: " ") + "   (D2L_OPTION_SEED=\(Self.seed))"
            print("exit \(run.status)\(run.signaled ? " (signal)" : ""): \(command)")
            #expect(
                !run.signaled, "killed by signal \(run.status): \(command)\nstderr: \(run.errorOutput.prefix(2000))")
            if !run.signaled && run.status != 0 {
                #expect(
                    run.errorLines.count == 1 && run.errorLines.first?.hasPrefix("d2l: ") == true,
                    "exit \(run.status) without exactly one d2l: line on stderr: \(command)\nstderr: \(run.errorOutput.prefix(2000))"
                )
            }
        }
    }
}
