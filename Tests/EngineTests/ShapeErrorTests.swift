import Engine
import Foundation
import Testing

/// Mismatched shapes are programming errors: the process stops with a message that names the op
/// and both shapes. Each case runs in a child process (exit test) and its stderr is checked.
@Suite("Shape errors")
struct ShapeErrorTests {
    private func expectMessage(
        _ result: ExitTest.Result?, contains parts: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        for part in parts {
            #expect(
                stderr.contains(part), "stderr lacks \"\(part)\": \(stderr.prefix(400))", sourceLocation: sourceLocation
            )
        }
    }

    @Test("add of shapes that do not broadcast")
    func add() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([3, 4]) + Tensor.zeros([2, 4])
        }
        expectMessage(result, contains: ["add", "[3, 4]", "[2, 4]"])
    }

    @Test("matmul with different inner dimensions")
    func matmulInner() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))
        }
        expectMessage(result, contains: ["matmul", "[2, 3]", "[4, 5]"])
    }

    @Test("reshape to a different element count")
    func reshape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).reshaped([4, 2])
        }
        expectMessage(result, contains: ["reshape", "[2, 3]", "[4, 2]"])
    }

    @Test("cross-entropy with the wrong number of labels")
    func crossEntropyLabels() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(logits: Tensor.zeros([4, 3]), labels: [0, 1])
        }
        expectMessage(result, contains: ["crossEntropy", "[4, 3]", "2 labels"])
    }

    @Test("backward with a seed of the wrong shape")
    func seedShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor.zeros([2, 2])
            x.requiresGrad = true
            (x * 2).backward(seed: Tensor.zeros([4]))
        }
        expectMessage(result, contains: ["backward", "[4]", "[2, 2]"])
    }
}
