import Foundation

/// Reverse-mode automatic differentiation: the tape and `backward()`.
///
/// While recording is on (`GradMode.isEnabled`, the default) every op whose inputs require grad
/// attaches a `GradientNode` to its result: the op's name, its inputs, and the backward rule the
/// op defined beside its forward computation. The nodes form a graph from the loss back to the
/// leaves. `backward()` walks it in reverse topological order, calls each rule once with the
/// gradient of its output, and *adds* the results into the leaves' `grad` (so gradients
/// accumulate across uses and across calls until `zeroGrad()`, as in PyTorch). Afterwards the
/// graph is released unless `retainGraph` is set.

/// One recorded op: the edge from a result back to the inputs it was computed from.
final class GradientNode {
    /// The op's name, for messages (`"matmul"`, `"add"`, …).
    let operation: String
    /// The op's inputs, in the order the rule returns their gradients.
    private(set) var inputs: [Tensor]
    /// Given `∂L/∂output` (the output's shape), returns `∂L/∂input` for each input (each of
    /// that input's shape), or `nil` for an input that does not require grad.
    private(set) var rule: ((Tensor) -> [Tensor?])?

    init(operation: String, inputs: [Tensor], rule: @escaping (Tensor) -> [Tensor?]) {
        self.operation = operation
        self.inputs = inputs
        self.rule = rule
    }

    /// Drops the rule and the inputs, freeing the values the rule saved.
    func release() {
        rule = nil
        inputs = []
    }
}

/// Whether ops are recorded for differentiation. Off inside `withNoGrad { … }`.
///
/// The switch is per thread (like PyTorch's grad mode), so evaluation on one thread does not stop
/// recording on another.
public enum GradMode {
    /// A thread-local counter of nested `withNoGrad` scopes, stored in the pointer value itself.
    private static let depthKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "GradMode: pthread_key_create failed (\(status))")
        return key
    }()

    private static var disabledDepth: Int {
        get { Int(bitPattern: pthread_getspecific(depthKey)) }
        set { pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: newValue)) }
    }

    /// `true` unless the current thread is inside `withNoGrad`.
    public static var isEnabled: Bool { disabledDepth == 0 }

    static func enterNoGrad() { disabledDepth += 1 }
    static func exitNoGrad() { disabledDepth -= 1 }
}

/// Runs `body` without recording ops (PyTorch's `torch.no_grad()`): results do not require grad
/// and keep no graph. Use it for evaluation and for parameter updates.
public func withNoGrad<Result>(_ body: () throws -> Result) rethrows -> Result {
    GradMode.enterNoGrad()
    defer { GradMode.exitNoGrad() }
    return try body()
}

extension Tensor {
    /// Records `result` as the output of `operation` on `inputs`, with `rule` as its backward,
    /// when recording is on and some input requires grad; returns `result` either way.
    ///
    /// Every differentiable op ends with this call, so an op cannot be recorded without its rule.
    /// The rule must not capture `result` itself (that would be a reference cycle): capture
    /// `result.detached()` where it needs the output's values.
    static func record(_ result: Tensor, operation: String, inputs: [Tensor],
                       rule: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return result }
        result.requiresGrad = true
        result.gradientNode = GradientNode(operation: operation, inputs: inputs, rule: rule)
        return result
    }

    /// Computes the gradient of this scalar with respect to every leaf that requires grad and
    /// adds it into their `grad` (∂self/∂leaf). `self` must have one element.
    public func backward(retainGraph: Bool = false) {
        precondition(count == 1, "backward(): needs a scalar, got shape \(shape); use backward(seed:) for a non-scalar")
        backward(seed: Tensor(shape: shape, repeating: 1), retainGraph: retainGraph)
    }

    /// Vector–Jacobian product: adds `∂⟨seed, self⟩/∂leaf` into the `grad` of every leaf that
    /// requires grad. `seed` has this tensor's shape (PyTorch's `backward(gradient=)`).
    public func backward(seed: Tensor, retainGraph: Bool = false) {
        precondition(requiresGrad, "backward(): this tensor does not require grad (no input of its computation had requiresGrad = true, or it was computed under withNoGrad)")
        precondition(seed.shape == shape, "backward(seed:): seed shape \(seed.shape) differs from tensor shape \(shape)")
        guard gradientNode != nil else { accumulateGrad(seed); return }
        // Rules compute with ordinary ops; nothing they do is recorded (no higher-order graph).
        GradMode.enterNoGrad()
        defer { GradMode.exitNoGrad() }

        // Pending gradients of non-leaf tensors, keyed by identity; leaves accumulate directly.
        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        for tensor in topologicallySortedGraph() {
            guard let node = tensor.gradientNode,
                  let outputGradient = pending.removeValue(forKey: ObjectIdentifier(tensor)) else { continue }
            guard let rule = node.rule else {
                preconditionFailure("backward(): the graph through '\(node.operation)' was already released by an earlier backward(); pass retainGraph: true to the first call")
            }
            let inputGradients = rule(outputGradient)
            precondition(inputGradients.count == node.inputs.count,
                         "backward(): '\(node.operation)' returned \(inputGradients.count) gradients for \(node.inputs.count) inputs")
            for (input, gradient) in zip(node.inputs, inputGradients) where input.requiresGrad {
                guard let gradient else {
                    preconditionFailure("backward(): '\(node.operation)' has no gradient rule for an input that requires grad")
                }
                precondition(gradient.shape == input.shape,
                             "backward(): '\(node.operation)' gave a gradient of shape \(gradient.shape) for an input of shape \(input.shape)")
                if input.gradientNode == nil {
                    input.accumulateGrad(gradient)
                } else if let earlier = pending[ObjectIdentifier(input)] {
                    pending[ObjectIdentifier(input)] = Tensor.elementwiseSum(earlier, gradient)
                } else {
                    pending[ObjectIdentifier(input)] = gradient
                }
            }
            if !retainGraph { node.release() }
        }
    }

    /// Adds `gradient` into `grad` (allocating it the first time).
    private func accumulateGrad(_ gradient: Tensor) {
        if let grad {
            grad.addInPlace(gradient)
        } else {
            grad = gradient.copy()
        }
    }

    /// The recorded tensors this one depends on (itself included), each after all tensors that
    /// depend on it: the order in which backward visits them. Iterative, so deep graphs are fine.
    private func topologicallySortedGraph() -> [Tensor] {
        var postOrder: [Tensor] = []
        var visited: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        var stack: [(tensor: Tensor, nextInput: Int)] = [(self, 0)]
        while let (tensor, nextInput) = stack.popLast() {
            let inputs = tensor.gradientNode?.inputs ?? []
            if nextInput < inputs.count {
                stack.append((tensor, nextInput + 1))
                let input = inputs[nextInput]
                if input.requiresGrad, input.gradientNode != nil, visited.insert(ObjectIdentifier(input)).inserted {
                    stack.append((input, 0))
                }
            } else {
                postOrder.append(tensor)
            }
        }
        return postOrder.reversed()
    }
}
