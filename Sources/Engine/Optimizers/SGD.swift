/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay, with
/// PyTorch's `torch.optim.SGD` semantics (dampening 0). For each parameter `p` with gradient `g`,
/// learning rate `η`, weight decay `λ` (per group) and momentum `μ`:
///
///     g ← g + λ·p                                  (if λ ≠ 0)
///     b ← g  on the first step,  b ← μ·b + g  later  (if μ ≠ 0; b is `momentum_buffer`)
///     g ← g + μ·b  if Nesterov,  else  g ← b         (if μ ≠ 0)
///     p ← p − η·g
///
/// Plain minibatch SGD (the textbook's `sgd`) is `μ = 0, λ = 0`: `p ← p − η·g`, where `g` is the
/// gradient of the *mean* loss over the batch.
public final class SGD: Optimizer {
    /// See `Optimizer.parameterGroups`.
    public var parameterGroups: [ParameterGroup]
    /// See `Optimizer.state`.
    public var state: [String: [String: Tensor]] = [:]
    /// The momentum coefficient `μ` (0: none).
    public var momentum: Float
    /// Whether the update uses Nesterov momentum (`g + μ·b` instead of `b`).
    public var nesterov: Bool

    /// An optimizer over `groups`, each with its own learning rate and weight decay.
    public init(_ groups: [ParameterGroup], momentum: Float = 0, nesterov: Bool = false) {
        precondition(momentum >= 0, "SGD: momentum must be ≥ 0, got \(momentum)")
        precondition(!nesterov || momentum > 0, "SGD: Nesterov momentum needs momentum > 0")
        checkParameterGroups(groups, optimizer: "SGD")
        parameterGroups = groups
        self.momentum = momentum
        self.nesterov = nesterov
    }

    /// An optimizer over all parameters of `module` with one learning rate and weight decay
    /// (`torch.optim.SGD(net.parameters(), lr=…, momentum=…, weight_decay=…)`).
    public convenience init(
        _ module: any Module, learningRate: Float, momentum: Float = 0,
        weightDecay: Float = 0, nesterov: Bool = false
    ) {
        self.init(
            [ParameterGroup(module, learningRate: learningRate, weightDecay: weightDecay)],
            momentum: momentum, nesterov: nesterov)
    }

    /// See `Optimizer.stateShapes(forParameterShape:)`.
    public func stateShapes(forParameterShape shape: [Int]) -> [String: [Int]] {
        momentum == 0 ? [:] : ["momentum_buffer": shape]
    }

    /// The update rule of the type's documentation, for one parameter.
    public func update(_ parameter: Tensor, gradient: Tensor, state: inout [String: Tensor], group: ParameterGroup) {
        // One fused pass over the parameter (the equations above, element by element).
        let count = parameter.count
        let p = parameter.pointer, g = gradient.pointer
        let rate = group.learningRate, decay = group.weightDecay, momentum = self.momentum
        if momentum == 0 {
            for i in 0..<count { p[i] -= rate * (g[i] + decay * p[i]) }
            return
        }
        let isFirstStep = state["momentum_buffer"] == nil
        let buffer = state["momentum_buffer"] ?? Tensor(uninitializedShape: parameter.shape)
        state["momentum_buffer"] = buffer
        let b = buffer.pointer
        if isFirstStep { for i in 0..<count { b[i] = 0 } } // then b = μ·0 + g = g, PyTorch's first step
        if nesterov {
            for i in 0..<count {
                let direction = g[i] + decay * p[i]
                b[i] = momentum * b[i] + direction
                p[i] -= rate * (direction + momentum * b[i])
            }
        } else {
            for i in 0..<count {
                b[i] = momentum * b[i] + (g[i] + decay * p[i])
                p[i] -= rate * b[i]
            }
        }
    }
}
