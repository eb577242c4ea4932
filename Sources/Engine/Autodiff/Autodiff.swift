import Foundation

/// Reverse-mode automatic differentiation: the tape and `backward()`.
///
/// While recording is on (`GradMode.isEnabled`, the default) every op whose inputs require grad
/// attaches a `GradientNode` to its result: the op's name, an edge per input (to the node that
/// made it, or to a leaf), and the backward rule the op defined beside its forward computation.
/// The nodes form a graph from the loss back to the leaves. `backward()` walks it in reverse
/// topological order, calls each rule once with the gradient of its output, and *adds* the
/// results into the leaves' `grad` (so gradients accumulate across uses and across calls until
/// `zeroGrad()`, as in PyTorch).
///
/// Memory: the graph holds nodes, not results. A result's values stay alive only while the user
/// or a rule that saved them holds them (each rule saves exactly what its backward reads), and
/// without `retainGraph` each node drops its rule, and so its saved values, as soon as the rule
/// has run; the gradient of an intermediate result is dropped once its rule has consumed it.

/// Where the gradient of one input of a recorded op goes.
///
/// An edge points at the *node* that produced a recorded input, not at the input tensor, so the
/// graph never keeps an intermediate result's values alive: a result's memory is freed as soon
/// as neither the user nor a backward rule (which saves exactly the values it needs) holds it,
/// as in PyTorch's autograd.
enum GradientEdge {
    /// A recorded result that requires grad: its gradient is passed on to the op that made it.
    case node(GradientNode, shape: [Int])
    /// A leaf that requires grad (a parameter, an input being differentiated): its gradient is
    /// added into the leaf's `grad`.
    case leaf(Tensor)
    /// An input that needs no gradient; only its shape is kept, for messages.
    case none(shape: [Int])

    init(_ input: Tensor) {
        if !input.requiresGrad {
            self = .none(shape: input.shape)
        } else if let node = input.gradientNode {
            self = .node(node, shape: input.shape)
        } else {
            self = .leaf(input)
        }
    }
}

/// One recorded op: the edges from a result back to the inputs it was computed from.
final class GradientNode {
    /// The op's name, for messages (`"matmul"`, `"add"`, …).
    let operation: String
    /// One edge per input of the op, in the order the rule returns their gradients.
    private(set) var edges: [GradientEdge]
    /// Given `∂L/∂output` (the output's shape), returns `∂L/∂input` for each input (each of
    /// that input's shape), or `nil` for an input that does not require grad.
    private(set) var rule: ((Tensor) -> [Tensor?])?

    init(operation: String, inputs: [Tensor], rule: @escaping (Tensor) -> [Tensor?]) {
        self.operation = operation
        self.edges = inputs.map(GradientEdge.init)
        self.rule = rule
    }

    /// Drops the rule and the edges, freeing the values the rule saved.
    func release() {
        rule = nil
        edges = []
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
    static func record(
        _ result: Tensor, operation: String, inputs: [Tensor],
        rule: @escaping (Tensor) -> [Tensor?]
    ) -> Tensor {
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
        precondition(
            requiresGrad,
            "backward(): this tensor does not require grad (no input of its computation had requiresGrad = true, or it was computed under withNoGrad)"
        )
        precondition(
            seed.shape == shape, "backward(seed:): seed shape \(seed.shape) differs from tensor shape \(shape)")
        guard let root = gradientNode else {
            accumulateGrad(seed)
            return
        }
        // Rules compute with ordinary ops; nothing they do is recorded (no higher-order graph).
        GradMode.enterNoGrad()
        defer { GradMode.exitNoGrad() }

        // Pending gradients of recorded results, keyed by the node that made them; a gradient is
        // dropped as soon as its node's rule has consumed it, and (without `retainGraph`) the
        // rule with the values it saved right after, so memory falls as backward proceeds.
        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        for node in GradientNode.topologicallySorted(from: root) {
            guard let outputGradient = pending.removeValue(forKey: ObjectIdentifier(node)) else { continue }
            guard let rule = node.rule else {
                preconditionFailure(
                    "backward(): the graph through '\(node.operation)' was already released by an earlier backward(); pass retainGraph: true to the first call"
                )
            }
            let inputGradients = rule(outputGradient)
            precondition(
                inputGradients.count == node.edges.count,
                "backward(): '\(node.operation)' returned \(inputGradients.count) gradients for \(node.edges.count) inputs"
            )
            for (edge, gradient) in zip(node.edges, inputGradients) {
                let inputShape: [Int]
                switch edge {
                case .none: continue
                case .leaf(let leaf): inputShape = leaf.shape
                case .node(_, let shape): inputShape = shape
                }
                guard let gradient else {
                    preconditionFailure(
                        "backward(): '\(node.operation)' has no gradient rule for an input that requires grad")
                }
                precondition(
                    gradient.shape == inputShape,
                    "backward(): '\(node.operation)' gave a gradient of shape \(gradient.shape) for an input of shape \(inputShape)"
                )
                switch edge {
                case .none: break
                case .leaf(let leaf): leaf.accumulateGrad(gradient)
                case .node(let input, _):
                    let key = ObjectIdentifier(input)
                    if let earlier = pending[key] {
                        pending[key] = Tensor.elementwiseSum(earlier, gradient)
                    } else {
                        pending[key] = gradient
                    }
                }
            }
            if !retainGraph { node.release() }
        }
    }

    /// Adds `gradient` into `grad` (allocating it the first time).
    fileprivate func accumulateGrad(_ gradient: Tensor) {
        if let grad {
            grad.addInPlace(gradient)
        } else {
            grad = gradient.copy()
        }
    }
}

extension GradientNode {
    /// The nodes `root` depends on (itself included), each after all nodes that depend on it:
    /// the order in which backward visits them. Iterative, so deep graphs are fine.
    static func topologicallySorted(from root: GradientNode) -> [GradientNode] {
        var postOrder: [GradientNode] = []
        var visited: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        var stack: [(node: GradientNode, nextEdge: Int)] = [(root, 0)]
        while let (node, nextEdge) = stack.popLast() {
            if nextEdge < node.edges.count {
                stack.append((node, nextEdge + 1))
                if case .node(let input, _) = node.edges[nextEdge], visited.insert(ObjectIdentifier(input)).inserted {
                    stack.append((input, 0))
                }
            } else {
                postOrder.append(node)
            }
        }
        return postOrder.reversed()
    }
}
