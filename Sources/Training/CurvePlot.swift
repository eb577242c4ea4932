import Engine
import Foundation

/// An SVG line chart of training curves, like the textbook's animated matplotlib figure
/// (`d2l.Animator`): train loss, train acc and test acc against epochs, with axes, ticks, grid
/// and a legend. Plain SVG 1.1, readable in any browser; one `<path>` per curve.
public struct CurvePlot {
    /// One curve: a legend label, a stroke colour, a dash pattern (`nil` for solid), the points.
    public struct Series {
        public var label: String
        public var color: String
        public var dash: String?
        public var points: [(x: Double, y: Double)]

        public init(label: String, color: String, dash: String? = nil, points: [(x: Double, y: Double)]) {
            self.label = label
            self.color = color
            self.dash = dash
            self.points = points
        }
    }

    public var series: [Series]
    /// The x range shown; by default `[1, max x]` like the book's `xlim=[1, num_epochs]`.
    public var xRange: ClosedRange<Double>?
    /// The y range shown; by default it covers every point and `[0, 1]`.
    public var yRange: ClosedRange<Double>?
    public var xLabel = "epoch"
    public var width = 480.0
    public var height = 320.0

    public init(series: [Series], xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil) {
        self.series = series
        self.xRange = xRange
        self.yRange = yRange
    }

    /// The book's figure for a training run: train loss and train acc (within-epoch points) and
    /// test acc (per epoch), x from 1 to `epochs`.
    public init(record: TrainingRecord, epochs: Int) {
        let curve = record.curve
        self.init(
            series: [
                Series(label: "train loss", color: "#1f77b4", points: curve.map { ($0.x, $0.loss) }),
                Series(
                    label: "train acc", color: "#bf00bf", dash: "6,4", points: curve.map { ($0.x, $0.trainAccuracy) }),
                Series(
                    label: "test acc", color: "#008000", dash: "2,3",
                    points: record.epochs.map { (Double($0.epoch), $0.testAccuracy) }),
            ], xRange: 1...Double(max(epochs, 2)))
    }

    /// "Nice" tick positions (1, 2 or 5 × 10ᵏ apart) covering `range` with about `count` ticks.
    static func ticks(_ range: ClosedRange<Double>, count: Int = 5) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let rough = span / Double(count)
        let magnitude = Foundation.pow(10, Foundation.floor(Foundation.log10(rough)))
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        var tick = Foundation.ceil(range.lowerBound / step) * step
        var result: [Double] = []
        while tick <= range.upperBound + step * 1e-9 {
            result.append(abs(tick) < step * 1e-9 ? 0 : tick)
            tick += step
        }
        return result
    }

    /// A tick's text: whole numbers as integers (`2`, `10`), others and huge ones (a diverging
    /// loss of 1e23 has no `Int`) by `%g`.
    static func label(_ value: Double) -> String {
        abs(value) < 1e15 && value == value.rounded() ? String(Int(value)) : String(format: "%g", value)
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The SVG document.
    public func svg() -> String {
        let finite = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = xRange ?? (1...max(finite.map(\.x).max() ?? 2, 2))
        let ys = yRange ?? (min(0, finite.map(\.y).min() ?? 0)...max(1, finite.map(\.y).max() ?? 1))
        let (left, right, top, bottom) = (50.0, width - 20, 15.0, height - 40)
        func px(_ x: Double) -> Double { left + (x - xs.lowerBound) / (xs.upperBound - xs.lowerBound) * (right - left) }
        func py(_ y: Double) -> Double {
            bottom - (y - ys.lowerBound) / (ys.upperBound - ys.lowerBound) * (bottom - top)
        }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }

        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="11">
            <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="white"/>
            <defs><clipPath id="plot-area"><rect x="\(f(left))" y="\(f(top))" width="\(f(right - left))" height="\(f(bottom - top))"/></clipPath></defs>

            """
        for tick in Self.ticks(xs) {
            out +=
                "<line x1=\"\(f(px(tick)))\" y1=\"\(f(top))\" x2=\"\(f(px(tick)))\" y2=\"\(f(bottom))\" stroke=\"#e0e0e0\"/>\n"
            out +=
                "<text x=\"\(f(px(tick)))\" y=\"\(f(bottom + 14))\" text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        for tick in Self.ticks(ys) {
            out +=
                "<line x1=\"\(f(left))\" y1=\"\(f(py(tick)))\" x2=\"\(f(right))\" y2=\"\(f(py(tick)))\" stroke=\"#e0e0e0\"/>\n"
            out +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(py(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick))</text>\n"
        }
        out +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" fill=\"none\" stroke=\"black\"/>\n"
        out +=
            "<text x=\"\(f((left + right) / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        for item in series {
            let points = item.points.filter { $0.x.isFinite && $0.y.isFinite }
            let d = points.enumerated().map {
                "\($0.offset == 0 ? "M" : "L")\(f(px($0.element.x))),\(f(py($0.element.y)))"
            }
            .joined(separator: " ")
            out +=
                "<path d=\"\(d)\" clip-path=\"url(#plot-area)\" fill=\"none\" stroke=\"\(item.color)\" stroke-width=\"1.8\""
                + (item.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>\n"
        }
        for (index, item) in series.enumerated() {
            let y = top + 14 + Double(index) * 16
            out +=
                "<line x1=\"\(f(right - 105))\" y1=\"\(f(y - 4))\" x2=\"\(f(right - 80))\" y2=\"\(f(y - 4))\" stroke=\"\(item.color)\" stroke-width=\"1.8\""
                + (item.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>\n"
            out += "<text x=\"\(f(right - 75))\" y=\"\(f(y))\">\(Self.escape(item.label))</text>\n"
        }
        return out + "</svg>\n"
    }
}
