import Engine

/// The finite-difference gradient check every op is held to, independent of PyTorch.
///
/// For `L(x) = Σ op(x) ⊙ u` (u: an upstream gradient), each probed input element's derivative is
/// estimated by central differences `(L(x + h) − L(x − h)) / 2h` with `h = 1e-2`, `L` accumulated
/// in Double from the Float32 outputs, and compared with the gradient `backward(seed: u)` leaves.
/// Error budget: truncation `h²/6 · |L‴|` (≈ 2e-5·|L‴|, under 1e-3 for the tests' inputs) plus the
/// rounding of the Float32 outputs, at most `ε · Σ|outᵢ uᵢ| / h` (ε = 2⁻²³). Hence the tolerance
/// `|fd − analytic| ≤ 1e-3 + 3e-3·|analytic| + 4ε·Σ|outᵢ uᵢ|/h`.
enum GradientCheck {
    static let step: Float = 1e-2

    /// Where the gradients of `op` at `inputs` (copied, then made to require grad) disagree with
    /// central differences, probing up to `probes` evenly spread elements per input (all of them
    /// by default): one line per input without a gradient or with an element outside the
    /// tolerance (the worst one), empty when all agree. `upstream` defaults to a seeded standard
    /// normal of the output's shape.
    static func mismatches(
        _ name: String, inputs: [Tensor], upstream: Tensor? = nil, probes: Int = .max,
        _ op: ([Tensor]) -> Tensor
    ) -> [String] {
        let leaves = inputs.map { $0.copy() }
        for leaf in leaves { leaf.requiresGrad = true }
        let output = op(leaves)
        let seed: Tensor
        if let upstream {
            seed = upstream
        } else {
            var generator = RandomGenerator(seed: 3)
            seed = Tensor.randomNormal(output.shape, using: &generator)
        }
        output.backward(seed: seed)

        func objective(_ values: [Tensor]) -> (value: Double, magnitude: Double) {
            let y = withNoGrad { op(values) }
            var value = 0.0, magnitude = 0.0
            for i in 0..<y.count {
                let term = Double(y.pointer[i]) * Double(seed.pointer[i])
                value += term
                magnitude += abs(term)
            }
            return (value, magnitude)
        }

        var problems: [String] = []
        for (index, leaf) in leaves.enumerated() {
            guard let analytic = leaf.grad else {
                problems.append("\(name): input \(index) got no gradient")
                continue
            }
            let values = inputs.map { $0.copy() }
            var worst: (element: Int, fd: Double, analytic: Double)?
            for element in stride(from: 0, to: leaf.count, by: max(1, leaf.count / probes)) {
                let original = values[index].pointer[element]
                values[index].pointer[element] = original + step
                let plus = objective(values)
                values[index].pointer[element] = original - step
                let minus = objective(values)
                values[index].pointer[element] = original
                let fd = (plus.value - minus.value) / Double(2 * step)
                let exact = Double(analytic.pointer[element])
                let roundoff = 4 * Double(Float.ulpOfOne) * max(plus.magnitude, minus.magnitude) / Double(step)
                if abs(fd - exact) > 1e-3 + 3e-3 * abs(exact) + roundoff { worst = (element, fd, exact) }
            }
            if let worst {
                problems.append(
                    "\(name): input \(index), element \(worst.element): finite difference \(worst.fd), analytic \(worst.analytic)"
                )
            }
        }
        return problems
    }
}
