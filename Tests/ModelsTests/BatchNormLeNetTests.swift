import Engine
import Models
import TestSupport
import Testing

/// The book's from-scratch batch normalization (§7.5) against the book's own PyTorch code
/// (`Fixtures/models.json`, `scratchBatchNorm`, from `Tools/Reference/generate_model_fixtures.py`,
/// torch 2.15.0), and against the library's `BatchNorm2D`.
@Suite("Scratch batch normalization")
struct ScratchBatchNormTests {
    @Test(
        "a training step and the prediction after it equal PyTorch's", arguments: modelFixtures?.scratchBatchNorm ?? [])
    func matchesPyTorch(_ reference: ModelFixtureFile.ScratchBatchNormCase) throws {
        let layer = BatchNorm(featureCount: reference.featureCount, dimensionCount: reference.dimensionCount)
        layer.gamma.assign(reference.gamma.tensor)
        layer.beta.assign(reference.beta.tensor)
        layer.movingMean.assign(reference.movingMean.tensor)
        layer.movingVariance.assign(reference.movingVariance.tensor)
        let input = reference.input.tensor
        input.requiresGrad = true

        let output = layer(input)
        (output * reference.upstream.tensor).sum().backward()
        // Gradients are sums over the batch and the plane of products of order-1 values, taken in
        // another order than PyTorch's: absolute 1e-4 is ~100× the float32 rounding of such sums.
        expectClose(output, reference.output.tensor, "output")
        expectClose(try #require(input.grad), reference.inputGradient.tensor, absoluteTolerance: 1e-4, "∂L/∂x")
        expectClose(try #require(layer.gamma.grad), reference.gammaGradient.tensor, absoluteTolerance: 1e-4, "∂L/∂γ")
        expectClose(try #require(layer.beta.grad), reference.betaGradient.tensor, absoluteTolerance: 1e-4, "∂L/∂β")
        expectClose(layer.movingMean, reference.movingMeanAfter.tensor, "moving_mean after the step")
        expectClose(layer.movingVariance, reference.movingVarianceAfter.tensor, "moving_var after the step (biased)")

        layer.eval()
        let prediction = withNoGrad { layer(input.detached()) }
        expectClose(prediction, reference.prediction.tensor, "prediction with the moving statistics")
        #expect(
            layer.movingMean.isClose(
                to: reference.movingMeanAfter.tensor, relativeTolerance: 1e-4, absoluteTolerance: 1e-5),
            "prediction must not move the statistics")
    }

    @Test("normalizes like the library layer; its moving variance is the biased one")
    func agreesWithLibraryLayer() {
        var generator = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([4, 3, 2, 2], mean: 2, standardDeviation: 3, using: &generator)
        let scratch = BatchNorm(featureCount: 3, dimensionCount: 4)
        let library = BatchNorm2D(featureCount: 3)
        expectClose(scratch(x), library(x), absoluteTolerance: 1e-4, "training output")
        // Both start from mean 0 and variance 1 and keep 0.9 of the old value (PyTorch's momentum 0.1);
        // PyTorch's running variance is unbiased, n/(n−1) times the book's, n = 4·2·2 = 16.
        expectClose(scratch.movingMean.reshaped([3]), library.runningMean, "moving mean")
        let n: Float = 16
        let libraryBatchVariance = (library.runningVariance - 0.9) / 0.1
        let scratchBatchVariance = (scratch.movingVariance.reshaped([3]) - 0.9) / 0.1
        expectClose(
            scratchBatchVariance * (n / (n - 1)), libraryBatchVariance, relativeTolerance: 1e-3,
            "variance: biased vs unbiased")
    }

    @Test(
        "both flavours of BatchNorm-LeNet train and evaluate on a batch",
        arguments: BatchNormLeNet.Normalization.allCases)
    func bothFlavoursRun(_ normalization: BatchNormLeNet.Normalization) throws {
        var generator = RandomGenerator(seed: 9)
        let network = BatchNormLeNet.make(normalization, using: &generator)
        let x = Tensor.randomUniform([8, 1, 28, 28], using: &generator)
        let loss = crossEntropy(logits: network(x), labels: Array(0..<8))
        loss.backward()
        for (key, parameter) in network.namedParameters() {
            let gradient = try #require(parameter.grad, "\(key) has no gradient")
            let finite = gradient.scalars.allSatisfy { $0.isFinite }
            #expect(finite, "\(key) has a non-finite gradient")
        }
        // The first normalization saw one batch: its moving mean left zero.
        let firstNormalization = try #require(network.namedBuffers().first)
        #expect(firstNormalization.key == (normalization == .library ? "1.running_mean" : "1.moving_mean"))
        #expect(firstNormalization.tensor.scalars.contains { $0 != 0 })
        network.eval()
        #expect(withNoGrad { network(x) }.shape == [8, 10])
    }
}
