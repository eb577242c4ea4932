import Engine
import Models
import Testing

/// Wrongly shaped inputs and impossible configurations stop with a precondition.
@Suite("Model preconditions")
struct ModelPreconditionTests {
    @Test("scratch BatchNorm: a fully connected input to a convolutional layer")
    func scratchBatchNormRank() async {
        await #expect(processExitsWith: .failure) {
            _ = BatchNorm(featureCount: 3, dimensionCount: 4)(Tensor.zeros([2, 3]))
        }
    }

    @Test("Residual: an identity shortcut cannot change the channels")
    func residualIdentityShortcut() async {
        await #expect(processExitsWith: .failure) {
            var generator = RandomGenerator(seed: 0)
            _ = Residual(inputChannels: 64, channels: 128, using: &generator)
        }
    }

    @Test("LeNet: a 32×32 image does not fit the first linear layer")
    func leNetWrongImageSize() async {
        await #expect(processExitsWith: .failure) {
            var generator = RandomGenerator(seed: 0)
            _ = LeNet.make(using: &generator)(Tensor.zeros([1, 1, 32, 32]))
        }
    }
}
