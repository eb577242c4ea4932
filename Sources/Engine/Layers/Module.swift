/// Modules: the layer protocol, the training flag, and the one traversal of named parameters and
/// buffers that zero-grad, optimizers, parameter counts and save/load all use.
///
/// A module is a class (like `torch.nn.Module`): the same instance used at two places of a
/// network is one layer with one set of parameters, whose gradient is the sum over both uses.
/// A module lists its own parameters, its own buffers and its named children; everything else
/// (dotted keys, recursion, deduplication) is derived here, once.

/// The element type a tensor has in PyTorch and in a saved file. Engine tensors are always
/// `Float32`; a buffer that PyTorch keeps as `int64` (BatchNorm's `num_batches_tracked`) is held
/// as a `Float` tensor of integer values (exact up to 2²⁴) and written to files as `I64`.
public enum ElementType: String, Sendable, CaseIterable {
    /// 32-bit IEEE float (safetensors `F32`, `torch.float32`).
    case float32 = "F32"
    /// 64-bit signed integer (safetensors `I64`, `torch.int64`).
    case int64 = "I64"

    /// Bytes per element.
    public var byteCount: Int { self == .float32 ? 4 : 8 }
}

/// A network or a piece of one: a function of one tensor with named parameters, buffers and
/// children (PyTorch's `nn.Module`).
///
/// Conforming types list what they own; the traversal gives PyTorch's dotted keys:
///
///     final class TwoLayers: ModuleBase, ModuleContainer {
///         let hidden: Linear, output: Linear
///         init(using generator: inout RandomGenerator) {
///             hidden = Linear(inputFeatures: 20, outputFeatures: 256, using: &generator)
///             output = Linear(inputFeatures: 256, outputFeatures: 10, using: &generator)
///         }
///         var children: [(name: String, module: any Module)] { [("hidden", hidden), ("output", output)] }
///         func callAsFunction(_ x: Tensor) -> Tensor { output(hidden(x).relu()) }
///     }
///     // namedParameters(): hidden.weight, hidden.bias, output.weight, output.bias
///
/// `directParameters` has no default, so a layer cannot forget its parameters silently; layers
/// without any say so by conforming to `ParameterlessLayer`, containers to `ModuleContainer`.
/// The training flag is stored once, in `ModuleBase`, which every module of this package
/// subclasses (a module of your own may subclass it too, or declare `var isTraining = true`).
public protocol Module: AnyObject {
    /// Whether the module is in training mode (dropout drops, batch norm uses batch statistics
    /// and updates its running averages). Set for a whole network with `train()` / `eval()`.
    var isTraining: Bool { get set }

    /// The module's own trainable tensors (not its children's), in order, with their local names
    /// (`weight`, `bias`). Each has `requiresGrad = true`.
    var directParameters: [(name: String, tensor: Tensor)] { get }

    /// The module's own non-trainable state that is saved with it (`running_mean`, …), in order,
    /// with the element type it has in PyTorch. Default: none.
    var directBuffers: [(name: String, tensor: Tensor, elementType: ElementType)] { get }

    /// The direct submodules, in order, with their local names (`"0"`, `"features"`). Default: none.
    var children: [(name: String, module: any Module)] { get }

    /// The forward computation.
    func callAsFunction(_ input: Tensor) -> Tensor

    /// The shape `callAsFunction` gives for an input of shape `inputShape`, computed from the
    /// shapes alone (nothing runs, nothing is allocated), so a size can be checked before
    /// training. Batch normalization's need for more than one value per channel in training is
    /// not checked: it depends on the batch, not the layer. No default: a module that cannot say
    /// would make every network holding it uncheckable.
    /// - Throws: `ShapeError` when `callAsFunction` would stop on such an input, with the message
    ///   it would stop with; containers name the refusing layer (`outputShape(of:named:for:)`).
    func outputShape(for inputShape: [Int]) throws -> [Int]
}

/// The state every module shares, stored once: the training flag (mlx-swift's `Module.training`).
/// Layers and containers inherit it (`final class Linear: ModuleBase, WeightedLayer`), so the
/// flag that `Module.train()` and `Module.eval()` set is one stored property, not one per type.
open class ModuleBase {
    /// Whether the module is in training mode (see `Module.isTraining`); `true` when created, as
    /// in PyTorch. Only modules whose forward pass depends on it (dropout, batch normalization)
    /// read it; for the others it only records the mode the network was put in.
    public var isTraining = true

    /// A module in training mode.
    public init() {}
}

extension Module {
    /// No buffers.
    public var directBuffers: [(name: String, tensor: Tensor, elementType: ElementType)] { [] }
    /// No children.
    public var children: [(name: String, module: any Module)] { [] }
}

/// A layer with no parameters, buffers or children (activations, pooling, flattening, dropout):
/// the conformance says so, and provides the empty lists.
public protocol ParameterlessLayer: Module {}

extension ParameterlessLayer {
    /// No parameters.
    public var directParameters: [(name: String, tensor: Tensor)] { [] }
}

/// A module whose parameters all live in its children (`Sequential`, multi-branch blocks such as
/// GoogLeNet's Inception, residual blocks): it lists `children` and has no parameters of its own.
public protocol ModuleContainer: Module {}

extension ModuleContainer {
    /// No parameters of its own.
    public var directParameters: [(name: String, tensor: Tensor)] { [] }
}

/// A parameter or buffer of a module, under its full dotted key.
public struct NamedTensor {
    /// Whether a tensor is trained (a parameter) or only saved (a buffer).
    public enum Kind: Sendable { case parameter, buffer }

    /// The dotted key from the root module, e.g. `features.3.bias` or `1.running_mean`.
    public var key: String
    /// The tensor itself (shared with the module, not a copy).
    public var tensor: Tensor
    /// Parameter or buffer.
    public var kind: Kind
    /// The element type in PyTorch and in saved files.
    public var elementType: ElementType
}

extension Module {
    /// The one traversal: every parameter and buffer under its dotted key, in PyTorch's
    /// `state_dict` order — a module's own parameters, then its own buffers, then each child's,
    /// depth first in the order of `children`.
    ///
    /// A tensor reached twice (a layer used at two places) is listed once, under the first key,
    /// like PyTorch's `named_parameters()` (which deduplicates by identity).
    public func namedTensors() -> [NamedTensor] {
        var result: [NamedTensor] = []
        var seen: Set<ObjectIdentifier> = []
        func visit(_ module: any Module, prefix: String) {
            for (name, tensor) in module.directParameters where seen.insert(ObjectIdentifier(tensor)).inserted {
                result.append(NamedTensor(key: prefix + name, tensor: tensor, kind: .parameter, elementType: .float32))
            }
            for (name, tensor, type) in module.directBuffers where seen.insert(ObjectIdentifier(tensor)).inserted {
                result.append(NamedTensor(key: prefix + name, tensor: tensor, kind: .buffer, elementType: type))
            }
            for (name, child) in module.children { visit(child, prefix: prefix + name + ".") }
        }
        visit(self, prefix: "")
        var keys: Set<String> = []
        for named in result {
            precondition(
                keys.insert(named.key).inserted,
                "Module.namedTensors(): the key '\(named.key)' names two different tensors; give children and parameters unique names"
            )
        }
        return result
    }

    /// The trainable tensors with their dotted keys (PyTorch's `named_parameters()`), each once.
    public func namedParameters() -> [(key: String, tensor: Tensor)] {
        namedTensors().filter { $0.kind == .parameter }.map { ($0.key, $0.tensor) }
    }

    /// The trainable tensors (PyTorch's `parameters()`), each once, in traversal order.
    public func parameters() -> [Tensor] { namedParameters().map(\.tensor) }

    /// The buffers with their dotted keys (PyTorch's `named_buffers()`).
    public func namedBuffers() -> [(key: String, tensor: Tensor)] {
        namedTensors().filter { $0.kind == .buffer }.map { ($0.key, $0.tensor) }
    }

    /// The number of trainable scalars, `Σ` over parameters of their element counts (each shared
    /// parameter once): `sum(p.numel() for p in net.parameters())`.
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.tensor.count } }

    /// Forgets the gradient of every parameter (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for (_, tensor) in namedParameters() { tensor.zeroGrad() }
    }

    /// This module and all its descendants with their dotted paths (`""` for this one), depth
    /// first, each instance once (PyTorch's `named_modules()`).
    public func namedModules() -> [(key: String, module: any Module)] {
        var result: [(key: String, module: any Module)] = []
        var seen: Set<ObjectIdentifier> = []
        func visit(_ module: any Module, path: String) {
            guard seen.insert(ObjectIdentifier(module)).inserted else { return }
            result.append((path, module))
            for (name, child) in module.children { visit(child, path: path.isEmpty ? name : path + "." + name) }
        }
        visit(self, path: "")
        return result
    }

    /// Calls `body` on every module of the tree, each instance once, children before their parent
    /// (PyTorch's `net.apply(fn)`). See `initializeWeights(_:bias:using:)` for the textbook's use.
    public func apply(_ body: (any Module) throws -> Void) rethrows {
        var seen: Set<ObjectIdentifier> = []
        func visit(_ module: any Module) throws {
            guard seen.insert(ObjectIdentifier(module)).inserted else { return }
            for (_, child) in module.children { try visit(child) }
            try body(module)
        }
        try visit(self)
    }

    /// Sets the training flag of this module and every descendant (PyTorch's `train(mode)`).
    public func train(_ mode: Bool = true) {
        for (_, module) in namedModules() { module.isTraining = mode }
    }

    /// Puts this module and every descendant into evaluation mode (`train(false)`).
    public func eval() { train(false) }
}
