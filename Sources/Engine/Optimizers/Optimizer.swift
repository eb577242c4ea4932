/// The optimizer protocol: parameter groups, the step loop, and optimizer state as named tensors.
///
/// An optimizer implements only its per-parameter rule (`update`); the loop over groups and
/// parameters, skipping parameters without a gradient, zero-grad, learning-rate changes and the
/// export of its state are written once, here.

/// Parameters that share hyperparameters (PyTorch's `param_groups` entries), e.g. the weights
/// with weight decay and the biases without.
public struct ParameterGroup {
    /// The parameters with their keys from the module traversal (the keys name optimizer state).
    public var parameters: [(key: String, tensor: Tensor)]
    /// The step size `η` of this group.
    public var learningRate: Float
    /// The L2 penalty coefficient `λ` added to the gradient (`g += λ·p`) for this group.
    public var weightDecay: Float

    /// A group of named parameters (keys must be unique across an optimizer's groups).
    public init(_ parameters: [(key: String, tensor: Tensor)], learningRate: Float, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }

    /// The parameters of `module` whose key satisfies `isIncluded`, e.g. only weights:
    ///
    ///     let groups = [
    ///         ParameterGroup(net, where: { $0.hasSuffix("weight") }, learningRate: 0.1, weightDecay: 1e-3),
    ///         ParameterGroup(net, where: { !$0.hasSuffix("weight") }, learningRate: 0.1),
    ///     ]
    public init(
        _ module: any Module, where isIncluded: (String) -> Bool = { _ in true },
        learningRate: Float, weightDecay: Float = 0
    ) {
        self.init(
            module.namedParameters().filter { isIncluded($0.key) }, learningRate: learningRate, weightDecay: weightDecay
        )
    }
}

/// Stops unless every parameter appears in one group only, under one key (PyTorch refuses the
/// same, since its update would run twice per step).
func checkParameterGroups(_ groups: [ParameterGroup], optimizer: String) {
    var keys: Set<String> = [], tensors: Set<ObjectIdentifier> = []
    for group in groups {
        for (key, tensor) in group.parameters {
            precondition(
                keys.insert(key).inserted && tensors.insert(ObjectIdentifier(tensor)).inserted,
                "\(optimizer): parameter '\(key)' appears more than once in the parameter groups")
        }
    }
}

/// An error restoring optimizer state from named tensors.
public enum OptimizerStateError: Error, CustomStringConvertible, Equatable {
    /// A state key does not belong to any parameter of the optimizer, or names unknown state.
    case unexpectedKey(String)
    /// A state tensor's shape differs from the shape the optimizer keeps for it.
    case shapeMismatch(key: String, expected: [Int], found: [Int])

    /// A message naming the key.
    public var description: String {
        switch self {
        case .unexpectedKey(let key):
            return "optimizer state: unexpected key '\(key)' (no such parameter, or not state of this optimizer)"
        case .shapeMismatch(let key, let expected, let found):
            return "optimizer state: '\(key)' has shape \(found), expected \(expected)"
        }
    }
}

/// A gradient-based optimizer: a per-parameter update rule over parameter groups.
public protocol Optimizer: AnyObject {
    /// The groups of parameters it updates, each with its own learning rate and weight decay.
    var parameterGroups: [ParameterGroup] { get set }

    /// Per-parameter state, keyed by parameter key, then by state name (`momentum_buffer`,
    /// `exp_avg`, `exp_avg_sq`, `step`), exactly PyTorch's per-parameter `state` entries.
    var state: [String: [String: Tensor]] { get set }

    /// The names of the per-parameter state tensors and their shapes for a parameter of `shape`,
    /// used to validate restored state.
    func stateShapes(forParameterShape shape: [Int]) -> [String: [Int]]

    /// The rule: updates `parameter` in place from its `gradient` (same shape), its `state`
    /// (empty before the first step) and its group's hyperparameters. Called outside recording.
    func update(_ parameter: Tensor, gradient: Tensor, state: inout [String: Tensor], group: ParameterGroup)
}

extension Optimizer {
    /// One step: applies `update` to every parameter that has a gradient, group by group
    /// (PyTorch's `optimizer.step()`; parameters whose `grad` is `nil` are skipped, as there).
    public func step() {
        withNoGrad {
            for group in parameterGroups {
                for (key, parameter) in group.parameters {
                    guard let gradient = parameter.grad else { continue }
                    var parameterState = state[key] ?? [:]
                    update(parameter, gradient: gradient, state: &parameterState, group: group)
                    state[key] = parameterState
                }
            }
        }
    }

    /// Forgets the gradients of all parameters of all groups (`optimizer.zero_grad()`).
    public func zeroGrad() {
        for group in parameterGroups {
            for (_, parameter) in group.parameters { parameter.zeroGrad() }
        }
    }

    /// The learning rate of the first group; setting it sets every group's (between epochs, for
    /// a schedule).
    public var learningRate: Float {
        get { parameterGroups.first?.learningRate ?? 0 }
        set { for index in parameterGroups.indices { parameterGroups[index].learningRate = newValue } }
    }

    /// The optimizer state as flat named tensors `"<parameter key>.<state name>"`, e.g.
    /// `0.weight.momentum_buffer`, `2.bias.exp_avg_sq` (copies), for a checkpoint.
    public func stateDict() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (key, entries) in state {
            for (name, tensor) in entries { result[key + "." + name] = tensor.copy() }
        }
        return result
    }

    /// Restores state written by `stateDict()`: every key must be `"<parameter key>.<state name>"`
    /// for a parameter of this optimizer and a state name of its rule, with the right shape.
    /// Nothing changes when it throws. Parameters absent from `dictionary` start fresh.
    public func loadStateDict(_ dictionary: [String: Tensor]) throws {
        var shapes: [String: [Int]] = [:]
        for group in parameterGroups {
            for (key, parameter) in group.parameters {
                for (name, shape) in stateShapes(forParameterShape: parameter.shape) {
                    shapes[key + "." + name] = shape
                }
            }
        }
        var restored: [String: [String: Tensor]] = [:]
        for (flatKey, tensor) in dictionary.sorted(by: { $0.key < $1.key }) {
            guard let expected = shapes[flatKey], let dot = flatKey.lastIndex(of: ".") else {
                throw OptimizerStateError.unexpectedKey(flatKey)
            }
            guard tensor.shape == expected else {
                throw OptimizerStateError.shapeMismatch(key: flatKey, expected: expected, found: tensor.shape)
            }
            restored[String(flatKey[..<dot]), default: [:]][String(flatKey[flatKey.index(after: dot)...])] =
                tensor.copy()
        }
        state = restored
    }
}
