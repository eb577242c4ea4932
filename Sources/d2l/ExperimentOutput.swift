import Engine
import Foundation
import Training

/// Small output helpers shared by the regression-style experiments (polynomial, weight decay,
/// k-fold, initialization, activations): JSON results, SVG charts with a labelled y axis, and
/// number formatting.
enum ExperimentOutput {
    /// Writes `value` as pretty-printed JSON with sorted keys to `path` (atomically), creating
    /// the parent directory when needed.
    static func writeJSON<Value: Encodable>(_ value: Value, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try write(encoder.encode(value), to: path)
    }

    /// Writes the SVG of `plot` to `path`, adding the rotated y-axis label `yLabel` (CurvePlot
    /// only labels the x axis).
    static func writeSVG(_ plot: CurvePlot, yLabel: String, to path: String) throws {
        let label =
            "<text x=\"14\" y=\"\(String(format: "%.2f", (15 + plot.height - 40) / 2))\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 14 \(String(format: "%.2f", (15 + plot.height - 40) / 2)))\">\(escape(yLabel))</text>\n"
        let svg = plot.svg().replacingOccurrences(of: "</svg>\n", with: label + "</svg>\n")
        try write(Data(svg.utf8), to: path)
    }

    /// `data` to `path`, atomically, creating the parent directory.
    static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }

    /// `log10(value)` for plotting on a logarithmic axis; non-positive values become `-inf`
    /// (dropped by `CurvePlot`).
    static func log10(_ value: Float) -> Double { value > 0 ? Foundation.log10(Double(value)) : -.infinity }

    /// `[a, b, c]`, each number in its shortest exact form (`5.010476`, `-3.4`), close to PyTorch's print of
    /// a float32 tensor).
    static func list(_ values: [Float]) -> String {
        "[" + values.map { "\($0)" }.joined(separator: ", ") + "]"
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// An experiment that cannot produce its result (e.g. training diverged): one line on stderr and
/// exit status 1.
struct ExperimentFailure: Error, CustomStringConvertible {
    /// What went wrong, one line.
    let description: String

    init(_ description: String) { self.description = description }
}
