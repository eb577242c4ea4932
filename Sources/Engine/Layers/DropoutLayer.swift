/// The dropout layer and its random generator.

/// Inverted dropout (PyTorch's `nn.Dropout`): in training, each element is zeroed with
/// probability `p` and the others are scaled by `1/(1 − p)`; in evaluation the identity.
///
/// Each layer owns its generator, so no global random state is involved and a network's masks
/// are a function of the seeds. Build it from the network's generator
/// (`Dropout(probability: 0.5, using: &generator)` draws the layer's seed from it, so one seed
/// fixes every mask of the network), or from an explicit `seed`. For an exact resume, save
/// `generator.stateWords` with a checkpoint and restore them with
/// `generator = RandomGenerator(stateWords:)`; `reseed(_:)` restarts the mask sequence.
public final class Dropout: ModuleBase, ParameterlessLayer {
    /// The drop probability `p`, in `[0, 1]`.
    public let probability: Float
    /// The generator the masks are drawn from (one `nextFloat()` per element per training call).
    public var generator: RandomGenerator

    /// Dropout with probability `probability` whose generator is seeded with `seed`.
    public init(probability: Float, seed: UInt64) {
        precondition(probability >= 0 && probability <= 1, "Dropout: probability must be in [0, 1], got \(probability)")
        self.probability = probability
        generator = RandomGenerator(seed: seed)
    }

    /// Dropout whose seed is the next 64 bits of `generator` (the network's generator).
    public convenience init(probability: Float, using generator: inout RandomGenerator) {
        self.init(probability: probability, seed: generator.next())
    }

    /// Restarts the generator from `seed`.
    public func reseed(_ seed: UInt64) { generator = RandomGenerator(seed: seed) }

    /// `m ⊙ x / (1 − p)` in training (fresh mask `m` each call), `x` in evaluation.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        dropout(input, probability: probability, training: isTraining, using: &generator)
    }

    /// Any shape, unchanged.
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
}
