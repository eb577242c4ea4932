/// `Sequential` and the result builder that lets networks be written as lists of layers,
/// including loops over configuration tables (VGG's blocks) and conditionals.

/// Builds `[any Module]` from a list of layer expressions, `for` loops and `if`s.
@resultBuilder
public enum ModuleBuilder {
    /// One layer.
    public static func buildExpression(_ module: any Module) -> [any Module] { [module] }
    /// Several layers (e.g. a helper returning a block's layers), spliced in.
    public static func buildExpression(_ modules: [any Module]) -> [any Module] { modules }
    /// The layers of consecutive statements, in order.
    public static func buildBlock(_ parts: [any Module]...) -> [any Module] { parts.flatMap { $0 } }
    /// The layers of every iteration of a `for` loop, in order.
    public static func buildArray(_ parts: [[any Module]]) -> [any Module] { parts.flatMap { $0 } }
    /// The layers of an `if` without `else` (none when false).
    public static func buildOptional(_ part: [any Module]?) -> [any Module] { part ?? [] }
    /// The layers of the first branch of an `if`/`else`.
    public static func buildEither(first part: [any Module]) -> [any Module] { part }
    /// The layers of the second branch of an `if`/`else`.
    public static func buildEither(second part: [any Module]) -> [any Module] { part }
}

/// Layers applied one after the other, `y = fₙ(…f₂(f₁(x)))` (PyTorch's `nn.Sequential`).
/// Children are named `"0"`, `"1"`, … so keys read `0.weight`, `3.bias`, as in PyTorch.
///
///     let net = Sequential {
///         Flatten()
///         Linear(inputFeatures: 784, outputFeatures: 256, using: &generator)
///         ReLU()
///         Linear(inputFeatures: 256, outputFeatures: 10, using: &generator)
///     }
public final class Sequential: ModuleBase, ModuleContainer {
    /// The layers, in application order.
    public private(set) var layers: [any Module]

    /// A network applying `layers` in order.
    public init(_ layers: [any Module]) { self.layers = layers }

    /// A network applying `layers` in order.
    public convenience init(_ layers: any Module...) { self.init(layers) }

    /// A network of the layers listed in `content`.
    public convenience init(@ModuleBuilder _ content: () -> [any Module]) { self.init(content()) }

    /// Adds `layer` at the end (named by its position).
    public func append(_ layer: any Module) { layers.append(layer) }

    /// The layer at `index` (PyTorch's `net[i]`).
    public subscript(index: Int) -> any Module { layers[index] }

    /// The number of layers.
    public var count: Int { layers.count }

    /// The layers, named `"0"`, `"1"`, … by position.
    public var children: [(name: String, module: any Module)] {
        layers.enumerated().map { (String($0.offset), $0.element) }
    }

    /// The shape after every layer in turn; a refusal names the layer by its index.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        var shape = inputShape
        for (index, layer) in layers.enumerated() {
            shape = try outputShape(of: layer, named: String(index), for: shape)
        }
        return shape
    }

    /// Applies the layers in order.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        layers.reduce(input) { x, layer in layer(x) }
    }
}
