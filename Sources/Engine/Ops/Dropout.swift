/// Inverted dropout (Srivastava et al., 2014), as PyTorch's `F.dropout`.

/// In training, zeroes each element with probability `p = probability` and scales the others by
/// `1/(1 − p)`, so the expectation is unchanged: `y = m ⊙ x / (1 − p)`, `m ~ Bernoulli(1 − p)`.
/// The mask comes from `generator` only (one `nextFloat()` per element, kept where `u ≥ p`): the
/// same seed gives the same mask. `p = 0` returns `input` itself and `p = 1` gives zeros, neither
/// drawing from the generator; when `training` is false it returns `input` unchanged.
/// Backward: `dx = m ⊙ g / (1 − p)` (0 for `p = 1`).
///
/// - Precondition: `0 ≤ probability ≤ 1`.
public func dropout(
    _ input: Tensor, probability: Float, training: Bool,
    using generator: inout RandomGenerator
) -> Tensor {
    precondition(
        probability >= 0 && probability <= 1,
        "dropout: probability must be in [0, 1], got \(probability) (input \(input.shape))")
    if !training || probability == 0 { return input }
    let shape = input.shape
    if probability == 1 {
        return Tensor.record(Tensor.zeros(shape), operation: "dropout", inputs: [input]) { _ in [Tensor.zeros(shape)] }
    }
    let keepScale = 1 / (1 - probability)
    let mask = Tensor(uninitializedShape: shape)
    for i in 0..<mask.count { mask.pointer[i] = generator.nextFloat() >= probability ? keepScale : 0 }
    let result = Tensor(uninitializedShape: shape)
    for i in 0..<result.count { result.pointer[i] = input.pointer[i] * mask.pointer[i] }
    return Tensor.record(result, operation: "dropout", inputs: [input]) { gradient in
        let dx = Tensor(uninitializedShape: shape)
        for i in 0..<dx.count { dx.pointer[i] = gradient.pointer[i] * mask.pointer[i] }
        return [dx]
    }
}
