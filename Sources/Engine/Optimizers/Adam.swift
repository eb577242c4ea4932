import Foundation

/// Adam (Kingma and Ba, 2015) with PyTorch's `torch.optim.Adam` semantics (L2 weight decay added
/// to the gradient, bias correction, ε outside the square root, no AMSGrad). For each parameter
/// `p` with gradient `g`, learning rate `η`, weight decay `λ` (per group), `β₁`, `β₂`, `ε`:
///
///     t ← t + 1                                    (`step`)
///     g ← g + λ·p                                  (if λ ≠ 0)
///     m ← β₁·m + (1 − β₁)·g                        (`exp_avg`, starts at 0)
///     v ← β₂·v + (1 − β₂)·g²                       (`exp_avg_sq`, starts at 0)
///     p ← p − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
public final class Adam: Optimizer {
    /// See `Optimizer.parameterGroups`.
    public var parameterGroups: [ParameterGroup]
    /// See `Optimizer.state`.
    public var state: [String: [String: Tensor]] = [:]
    /// Decay rate `β₁` of the first-moment average.
    public var beta1: Float
    /// Decay rate `β₂` of the second-moment average.
    public var beta2: Float
    /// `ε`, added to the bias-corrected root of the second moment.
    public var epsilon: Float

    /// An optimizer over `groups` (PyTorch's defaults: `β = (0.9, 0.999)`, `ε = 1e-8`).
    public init(_ groups: [ParameterGroup], beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        precondition(
            (0..<1).contains(beta1) && (0..<1).contains(beta2),
            "Adam: betas must be in [0, 1), got (\(beta1), \(beta2))")
        checkParameterGroups(groups, optimizer: "Adam")
        parameterGroups = groups
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// An optimizer over all parameters of `module` (`torch.optim.Adam(net.parameters(), lr=…)`).
    public convenience init(
        _ module: any Module, learningRate: Float = 1e-3, beta1: Float = 0.9,
        beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0
    ) {
        self.init(
            [ParameterGroup(module, learningRate: learningRate, weightDecay: weightDecay)],
            beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    /// See `Optimizer.stateShapes(forParameterShape:)`.
    public func stateShapes(forParameterShape shape: [Int]) -> [String: [Int]] {
        ["step": [], "exp_avg": shape, "exp_avg_sq": shape]
    }

    /// The update rule of the type's documentation, for one parameter.
    public func update(_ parameter: Tensor, gradient: Tensor, state: inout [String: Tensor], group: ParameterGroup) {
        let stepTensor = state["step"] ?? Tensor(scalar: 0)
        let firstMoment = state["exp_avg"] ?? Tensor.zeros(parameter.shape)
        let secondMoment = state["exp_avg_sq"] ?? Tensor.zeros(parameter.shape)
        state["step"] = stepTensor
        state["exp_avg"] = firstMoment
        state["exp_avg_sq"] = secondMoment
        stepTensor.pointer[0] += 1
        let step = Double(stepTensor.pointer[0])

        // Like PyTorch, the bias corrections are computed in double precision.
        let stepSize = Float(Double(group.learningRate) / (1 - Foundation.pow(Double(beta1), step)))
        let correction2Root = Float((1 - Foundation.pow(Double(beta2), step)).squareRoot())
        let p = parameter.pointer, g = gradient.pointer, m = firstMoment.pointer, v = secondMoment.pointer
        let decay = group.weightDecay, beta1 = self.beta1, beta2 = self.beta2, epsilon = self.epsilon
        for i in 0..<parameter.count {
            let gi = g[i] + decay * p[i]
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
            p[i] -= stepSize * m[i] / (v[i].squareRoot() / correction2Root + epsilon)
        }
    }
}
