import Engine
import Testing

/// Finite-difference gradient checks for every op of the reference table, independent of PyTorch.
///
/// For `L(x) = Σ op(x) ⊙ u` (u: the case's random upstream gradient), each input element's
/// derivative is estimated by central differences `(L(x + h) − L(x − h)) / 2h` with `h = 1e-2`,
/// `L` accumulated in Double from the Float32 outputs. Error budget: truncation `h²/6 · |L‴|`
/// (≈ 2e-5·|L‴|, under 1e-3 for these inputs) plus the rounding of the Float32 outputs, at most
/// `ε · Σ|outᵢ uᵢ| / h` (ε = 2⁻²³). Hence the tolerance
/// `|fd − analytic| ≤ 1e-3 + 3e-3·|analytic| + 4ε·Σ|outᵢ uᵢ|/h`.
@Suite("Finite-difference gradient checks")
struct GradientCheckTests {
    static let step: Float = 1e-2

    @Test("analytic gradients match central differences", arguments: opCases)
    func centralDifferences(_ testCase: OpCase) {
        let upstream = testCase.upstream.tensor
        func objective(_ inputs: [Tensor]) -> (value: Double, magnitude: Double) {
            let output = withNoGrad { testCase.apply(inputs) }
            var value = 0.0, magnitude = 0.0
            for i in 0..<output.count {
                let term = Double(output.pointer[i]) * Double(upstream.pointer[i])
                value += term
                magnitude += abs(term)
            }
            return (value, magnitude)
        }

        let inputs = testCase.inputs.map(\.tensor)
        for input in inputs { input.requiresGrad = true }
        testCase.apply(inputs).backward(seed: upstream)

        for (index, input) in inputs.enumerated() {
            #expect(input.grad != nil, "\(testCase.name): input \(index) got no gradient")
            guard let analytic = input.grad else { continue }
            let probes = inputs.map { $0.copy() }
            var worst: (element: Int, fd: Double, analytic: Double)?
            for element in 0..<input.count {
                let original = probes[index].pointer[element]
                probes[index].pointer[element] = original + Self.step
                let plus = objective(probes)
                probes[index].pointer[element] = original - Self.step
                let minus = objective(probes)
                probes[index].pointer[element] = original
                let fd = (plus.value - minus.value) / Double(2 * Self.step)
                let exact = Double(analytic.pointer[element])
                let roundoff = 4 * Double(Float.ulpOfOne) * max(plus.magnitude, minus.magnitude) / Double(Self.step)
                if abs(fd - exact) > 1e-3 + 3e-3 * abs(exact) + roundoff { worst = (element, fd, exact) }
            }
            #expect(worst == nil, "\(testCase.name): input \(index), element \(worst?.element ?? -1): finite difference \(worst?.fd ?? 0), analytic \(worst?.analytic ?? 0)")
        }
    }
}
