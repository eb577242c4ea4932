/// A layer with a weight and an optional bias that initializers target (`Linear`, `Conv2D`).
public protocol WeightedLayer: Module {
    /// The weight, `[out, in]` or `[out, in, kh, kw]`.
    var weight: Tensor { get }
    /// The bias `[out]`, if the layer has one.
    var bias: Tensor? { get }
}
