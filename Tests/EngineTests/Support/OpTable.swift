import Engine
import Testing

/// One case of `Fixtures/ops.json` (written by `Tools/Reference/generate_op_fixtures.py`,
/// torch 2.15.0): inputs, the op and its parameters, a random upstream gradient, and PyTorch's
/// output and input gradients of `L = Σ output ⊙ upstream`.
struct OpCase: Codable, Sendable, CustomTestStringConvertible {
    struct Parameters: Codable, Sendable {
        var axis: Int?
        var keepDims: Bool?
        var exponent: Float?
        var transposeA: Bool?
        var transposeB: Bool?
        var shape: [Int]?
        var start: Int?
        var end: Int?
        var indices: [Int]?
        var labels: [Int]?
        var reduction: String?
    }

    var name: String
    var op: String
    var params: Parameters
    var inputs: [TensorFixture]
    var upstream: TensorFixture
    var output: TensorFixture
    var gradients: [TensorFixture]

    var testDescription: String { name }

    /// Runs this case's op on `inputs` through Engine.
    func apply(_ inputs: [Tensor]) -> Tensor {
        guard let function = opTable[op] else { fatalError("no entry for op '\(op)' in the test's op table") }
        return function(inputs, params)
    }
}

struct OpFixtureFile: Codable, Sendable {
    var generator: String
    var torch: String
    var cases: [OpCase]
}

/// The reference cases, loaded once.
let opCases: [OpCase] = (try? loadFixture(OpFixtureFile.self, "ops.json").cases) ?? []

/// How each op name of the fixture file maps onto Engine's API: adding an op means one line here
/// and one `case(...)` in the generator.
let opTable: [String: @Sendable ([Tensor], OpCase.Parameters) -> Tensor] = [
    "add": { x, _ in x[0] + x[1] },
    "sub": { x, _ in x[0] - x[1] },
    "mul": { x, _ in x[0] * x[1] },
    "div": { x, _ in x[0] / x[1] },
    "neg": { x, _ in -x[0] },
    "exp": { x, _ in x[0].exp() },
    "log": { x, _ in x[0].log() },
    "sqrt": { x, _ in x[0].sqrt() },
    "pow": { x, p in x[0].pow(p.exponent!) },
    "square": { x, _ in x[0].squared() },
    "relu": { x, _ in x[0].relu() },
    "sigmoid": { x, _ in x[0].sigmoid() },
    "tanh": { x, _ in x[0].tanh() },
    "sum": { x, p in p.axis.map { x[0].sum(axis: $0, keepDims: p.keepDims ?? false) } ?? x[0].sum() },
    "mean": { x, p in p.axis.map { x[0].mean(axis: $0, keepDims: p.keepDims ?? false) } ?? x[0].mean() },
    "max": { x, p in p.axis.map { x[0].max(axis: $0, keepDims: p.keepDims ?? false) } ?? x[0].max() },
    "matmul": { x, p in matmul(x[0], x[1], transposeA: p.transposeA ?? false, transposeB: p.transposeB ?? false) },
    "reshape": { x, p in x[0].reshaped(p.shape!) },
    "transpose": { x, _ in x[0].transposed() },
    "rows": { x, p in x[0].rows(p.start!..<p.end!) },
    "gatheringRows": { x, p in x[0].gatheringRows(p.indices!) },
    "softmax": { x, p in x[0].softmax(axis: p.axis ?? -1) },
    "logSoftmax": { x, p in x[0].logSoftmax(axis: p.axis ?? -1) },
    "crossEntropy": { x, p in
        crossEntropy(logits: x[0], labels: p.labels!, reduction: Reduction(rawValue: p.reduction!)!)
    },
    "squaredLoss": { x, _ in squaredLoss(x[0], x[1]) },
    "mseLoss": { x, p in mseLoss(x[0], x[1], reduction: Reduction(rawValue: p.reduction!)!) },
]
