import Datasets
import Engine
import Foundation
import Models
import TestSupport
import Testing

/// LeNet end to end: PyTorch's weights give PyTorch's predictions, state dicts round-trip, and a
/// short training run on real Fashion-MNIST lowers the loss.
@Suite("LeNet")
struct LeNetTests {
    @Test(
        "PyTorch's trained weights give PyTorch's predictions on the first 500 test images",
        .enabled(
            if: fashionMNISTInstalled, "dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    )
    func pyTorchWeightsGivePyTorchPredictions() throws {
        // lenet.safetensors and the expected logits and labels come from
        // Tools/Reference/generate_model_fixtures.py (torch 2.15.0, 3 seeded epochs of Adam).
        let reference = try #require(modelFixtures?.leNetEvaluation, "Fixtures/models.json is missing or malformed")
        var generator = RandomGenerator(seed: 0)
        let network = LeNet.make(using: &generator)
        try network.loadStateDict(from: modelFixturesDirectory.appendingPathComponent(reference.weights))
        network.eval()

        let test = try FashionMNIST.load(.test, directory: FashionMNIST.defaultDirectory).prefix(reference.count)
        #expect(test.labels == reference.labels)
        let logits = withNoGrad { network(test.images(at: Array(0..<reference.count))) }
        // Both sides compute in float32 through differently ordered sums (OpenBLAS's kernel and
        // threads here, PyTorch's own kernels there): they agree to rounding.
        expectClose(logits, reference.logits.tensor, relativeTolerance: 1e-4, absoluteTolerance: 1e-4, "logits")
        // Predictions are compared exactly, which is sound only while no logit moved by half of
        // the smallest top-2 margin of PyTorch's logits (5.9e-4): then no argmax can flip. That
        // condition is checked here, on whatever kernel runs, rather than assumed.
        let expected = reference.logits.tensor
        var largestDifference: Float = 0
        for i in 0..<logits.count {
            largestDifference = max(largestDifference, abs(logits.pointer[i] - expected.pointer[i]))
        }
        print("LeNet on PyTorch's weights (OpenBLAS \(BLAS.coreName)): largest logit difference \(largestDifference)")
        #expect(
            largestDifference < reference.smallestMargin / 2,
            "logits moved by \(largestDifference), half the smallest margin is \(reference.smallestMargin / 2): an argmax may flip"
        )
        #expect(logits.argmax(axis: 1) == reference.predictions)
        #expect(correctPredictionCount(logits: logits, labels: test.labels) == reference.correct)
        #expect(reference.correct > 300, "the fixture's network should be well above chance")
    }

    @Test("a state dict saved here loads into a fresh network and gives the same outputs")
    func stateDictRoundTrip() throws {
        var generator = RandomGenerator(seed: 11)
        let original = LeNet.make(using: &generator)
        let copy = LeNet.make(using: &generator)
        let x = Tensor.randomUniform([3, 1, 28, 28], using: &generator)
        #expect(!original(x).isClose(to: copy(x)), "two draws should differ before loading")

        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "d2l-lenet-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try original.saveStateDict(to: url)
        try copy.loadStateDict(from: url)
        // The same weights, input and shapes run the same kernels, but not always the same sums:
        // OpenBLAS's sgemm rounds differently with 1 and 2 threads (measured on Zen: up to 1e-4 on
        // products of unit normals), and a concurrent test's per-core section or data-parallel step
        // sets its thread count process-wide. So equal within float32 rounding of the logits; a
        // weight that did not load differs by the scale of the weights (checked above).
        #expect(original(x).isClose(to: copy(x), relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
    }

    @Test(
        "a short run of Adam on 256 Fashion-MNIST images lowers the loss",
        .enabled(
            if: fashionMNISTInstalled, "dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    )
    func trainingLowersTheLoss() throws {
        let train = try FashionMNIST.load(.train, directory: FashionMNIST.defaultDirectory).prefix(256)
        let images = train.images(at: Array(0..<train.count))
        var generator = RandomGenerator(seed: 3)
        let network = try ModelZoo.model(named: "lenet").makeInitialized(using: &generator)
        func loss() -> Float { withNoGrad { crossEntropy(logits: network(images), labels: train.labels).item } }

        let before = loss()
        let optimizer = Adam(network, learningRate: 0.01)
        let sampler = BatchSampler(count: train.count, batchSize: 32, shuffle: true, seed: 3)
        for epoch in 0..<6 {
            for indices in sampler.batchIndices(epoch: epoch) {
                optimizer.zeroGrad()
                crossEntropy(logits: network(train.images(at: indices)), labels: indices.map { train.labels[$0] })
                    .backward()
                optimizer.step()
            }
        }
        let after = loss()
        print("LeNet, 48 Adam steps on 256 images: loss \(before) → \(after)")
        #expect(before > 2.0 && before < 3.0, "an untrained 10-class network starts near ln 10 ≈ 2.30, got \(before)")
        #expect(after < before - 0.3, "loss \(before) → \(after)")
    }
}
