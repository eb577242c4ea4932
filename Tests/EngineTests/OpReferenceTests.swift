import Engine
import TestSupport
import Testing

/// Every differentiable op against PyTorch (fixtures from `Tools/Reference/generate_op_fixtures.py`,
/// torch 2.15.0): forward values and the gradient of every input.
///
/// Tolerance: `|ours − torch| ≤ 1e-5 + 1e-4·|torch|`. Both compute in float32; they may differ by
/// a few ulps where libm's `exp`/`log` differ from PyTorch's vectorised ones and where BLAS sums
/// in another order, which stays far below 1e-4 relative on these small inputs.
@Suite("Ops against PyTorch")
struct OpReferenceTests {
    @Test("the fixture file is present and covers every op of the table")
    func fixtureCoversTable() throws {
        let file = try loadFixture(OpFixtureFile.self, "ops.json")
        #expect(file.torch.hasPrefix("2.15.0"))
        #expect(Set(file.cases.map(\.op)) == Set(opTable.keys))
    }

    @Test("forward and gradients match PyTorch", arguments: opCases)
    func matchesPyTorch(_ testCase: OpCase) {
        let inputs = testCase.inputs.map { fixture -> Tensor in
            let tensor = fixture.tensor
            tensor.requiresGrad = true
            return tensor
        }
        let output = testCase.apply(inputs)
        expectClose(output, testCase.output.tensor, "\(testCase.name): output")
        output.backward(seed: testCase.upstream.tensor)
        for (index, (input, expected)) in zip(inputs, testCase.gradients).enumerated() {
            guard let gradient = input.grad else {
                Issue.record("\(testCase.name): input \(index) got no gradient")
                continue
            }
            expectClose(gradient, expected.tensor, "\(testCase.name): gradient of input \(index)")
        }
    }
}
