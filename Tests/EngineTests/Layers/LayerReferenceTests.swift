import Engine
import TestSupport
import Testing

/// Layers end to end against PyTorch (`Tools/Reference/generate_layer_fixtures.py`, torch 2.15.0):
/// `Conv2d → BatchNorm2d → Sigmoid → MaxPool2d → Flatten → Linear → BatchNorm1d` with PyTorch's
/// weights and running statistics (read from `batchnorm_convnet.safetensors`, written by
/// PyTorch), run in evaluation mode, then in training mode with a cross-entropy backward pass.
///
/// Tolerance `1e-5 + 1e-4·|torch|` (float32 on both sides; summation order differs in the GEMMs).
@Suite("Layers against PyTorch")
struct LayerReferenceTests {
    @Test("eval output, train output, every gradient and the updated running statistics match PyTorch")
    func convolutionalBatchNormNetwork() throws {
        let reference = try #require(layerFixtures).convNet
        var generator = RandomGenerator(seed: 51)
        let net = Sequential {
            Conv2D(inputChannels: 1, outputChannels: 6, kernelSize: 5, using: &generator)
            BatchNorm2D(featureCount: 6)
            Sigmoid()
            MaxPool2D(kernelSize: 2, stride: 2)
            Flatten()
            Linear(inputFeatures: 6 * 4 * 4, outputFeatures: 10, using: &generator)
            BatchNorm1D(featureCount: 10)
        }
        try net.loadStateDict(from: safetensorsFixture("batchnorm_convnet.safetensors"))
        let x = reference.input.tensor

        net.eval()
        expectClose(withNoGrad { net(x) }, reference.evalOutput.tensor, "eval output")

        net.train()
        let output = net(x)
        expectClose(output, reference.trainOutput.tensor, "train output")
        crossEntropy(logits: output, labels: reference.labels).backward()
        let parameters = Dictionary(uniqueKeysWithValues: net.namedParameters())
        #expect(Set(parameters.keys) == Set(reference.gradients.keys))
        for (key, expected) in reference.gradients {
            let gradient = try #require(parameters[key]?.grad, "no gradient for \(key)")
            expectClose(gradient, expected.tensor, "gradient of \(key)")
        }
        let buffers = Dictionary(uniqueKeysWithValues: net.namedBuffers())
        #expect(Set(buffers.keys) == Set(reference.buffersAfterTraining.keys))
        for (key, expected) in reference.buffersAfterTraining {
            expectClose(try #require(buffers[key]), expected.tensor, "\(key) after one training batch")
        }
    }
}
