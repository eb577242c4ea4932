import Engine
import Models
import Testing

/// Every network of the zoo against the book's PyTorch definition (`Fixtures/models.json`, from
/// `Tools/Reference/generate_model_fixtures.py`, torch 2.15.0): parameter keys, shapes and count,
/// state-dict keys and element types, and the shape walk the book prints. The same network then
/// takes a training step at its training size (one construction per network: building AlexNet's
/// 47 M parameters is the slow part of a debug build).
@Suite("Models against PyTorch")
struct ModelReferenceTests {
    @Test("the fixture covers every registered model, in the registry's order")
    func fixtureCoversRegistry() throws {
        let fixtures = try #require(modelFixtures, "Fixtures/models.json is missing or malformed")
        #expect(fixtures.torch.hasPrefix("2.15.0"))
        #expect(fixtures.models.map(\.name) == ModelZoo.names)
    }

    @Test(
        "keys, shapes, parameter count and shape walk equal PyTorch's; a training step on 2 examples gives every parameter a finite gradient",
        arguments: modelFixtures?.models ?? [])
    func matchesPyTorch(_ reference: ModelFixtureFile.Model) throws {
        let summary = try ModelZoo.summary(of: reference.name, seed: 1)
        let network = summary.network

        // Parameters: the same keys, in the same order, with the same shapes.
        let parameters = network.namedParameters().map {
            ModelFixtureFile.KeyShape(key: $0.key, shape: $0.tensor.shape)
        }
        #expect(parameters == reference.parameters.map { ModelFixtureFile.KeyShape(key: $0.key, shape: $0.shape) })
        #expect(network.parameterCount == reference.parameterCount)

        // State dict: PyTorch's keys in order; the book's scratch BatchNorm keeps its moving
        // statistics outside `state_dict()`, ours saves them after `beta` (documented deviation).
        var expectedState: [(key: String, dtype: String)] = []
        for entry in reference.stateDict {
            expectedState.append((entry.key, entry.dtype ?? "float32"))
            if reference.name == "batch-norm-lenet-scratch", entry.key.hasSuffix(".beta") {
                let prefix = String(entry.key.dropLast("beta".count))
                expectedState += [(prefix + "moving_mean", "float32"), (prefix + "moving_var", "float32")]
            }
        }
        let state = network.namedTensors()
        #expect(state.map(\.key) == expectedState.map(\.key))
        #expect(state.map { $0.elementType == .int64 ? "int64" : "float32" } == expectedState.map(\.dtype))
        for entry in reference.stateDict {
            #expect(network.stateDict()[entry.key]?.shape == entry.shape, "state dict shape of \(entry.key)")
        }

        // The shape walk: same input, same layer types (PyTorch spells `Conv2d`, we `Conv2D`), same shapes.
        #expect(summary.inputShape == reference.inputShape)
        #expect(summary.rows.map(\.outputShape) == reference.shapeWalk.map(\.shape))
        #expect(summary.rows.map { $0.layer.lowercased() } == reference.shapeWalk.map { $0.layer.lowercased() })
        #expect(summary.rows.last?.outputShape == [1, 10])

        // A training step at the training size (resize 224 / 96 / none): [2, 10] logits and a
        // finite gradient for every parameter (a NaN or ∞ anywhere makes the sum non-finite).
        #expect(network.namedModules().allSatisfy { $0.module.isTraining }, "the walk must restore training mode")
        var generator = RandomGenerator(seed: 4)
        let x = Tensor.randomUniform([2] + summary.model.hyperparameters.exampleShape, using: &generator)
        let logits = network(x)
        #expect(logits.shape == [2, 10])
        crossEntropy(logits: logits, labels: [3, 7]).backward()
        for (key, parameter) in network.namedParameters() {
            let gradient = try #require(parameter.grad, "\(key) has no gradient")
            #expect(gradient.sum().item.isFinite, "\(key) has a non-finite gradient")
        }
    }
}
