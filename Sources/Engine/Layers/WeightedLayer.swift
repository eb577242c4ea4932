/// A layer with a weight and an optional bias that initializers target (`Linear`, `Conv2D`).
public protocol WeightedLayer: Module {
    /// The weight, `[out, in]` or `[out, in, kh, kw]`.
    var weight: Tensor { get }
    /// The bias `[out]`, if the layer has one.
    var bias: Tensor? { get }
}

extension WeightedLayer {
    /// `weight`, then `bias` if the layer has one: PyTorch's order and local names, so the keys
    /// are `weight` and `bias` under the layer's path.
    public var directParameters: [(name: String, tensor: Tensor)] {
        if let bias { return [("weight", weight), ("bias", bias)] }
        return [("weight", weight)]
    }
}
