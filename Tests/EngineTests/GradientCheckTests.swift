import Engine
import Testing

/// Finite-difference gradient checks for every op of the reference table, independent of PyTorch
/// (the check and its tolerance: `GradientCheck`), with each case's own upstream gradient and
/// every input element probed.
@Suite("Finite-difference gradient checks")
struct GradientCheckTests {
    @Test("analytic gradients match central differences", arguments: opCases)
    func centralDifferences(_ testCase: OpCase) {
        let problems = GradientCheck.mismatches(
            testCase.name, inputs: testCase.inputs.map(\.tensor),
            upstream: testCase.upstream.tensor, testCase.apply)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }
}
