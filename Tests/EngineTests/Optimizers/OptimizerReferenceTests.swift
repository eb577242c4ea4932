import Engine
import Foundation
import TestSupport
import Testing

/// SGD (momentum, Nesterov, weight decay on weights only) and Adam against PyTorch: the
/// two-layer network of `Tools/Reference/generate_layer_fixtures.py` (torch 2.15.0) starts from
/// the same weights (read from `mlp_initial.safetensors`, written by PyTorch), takes the same
/// steps on the same batch (including a learning-rate change between steps), and must end with
/// the same losses, weights and optimizer state.
///
/// Tolerance `1e-6 + 1e-4·|torch|`: both sides compute in float32 with the same formulas; the
/// differences are a few ulps of summation order in the GEMMs, compounded over ≤ 5 steps.
@Suite("Optimizers against PyTorch")
struct OptimizerReferenceTests {
    static func twoLayerNetwork() throws -> Sequential {
        var generator = RandomGenerator(seed: 0)
        let net = Sequential {
            Linear(inputFeatures: 4, outputFeatures: 8, using: &generator)
            ReLU()
            Linear(inputFeatures: 8, outputFeatures: 3, using: &generator)
        }
        try net.loadStateDict(from: safetensorsFixture("mlp_initial.safetensors"))
        return net
    }

    /// Weight decay on the weights only, as in d2l's concise weight decay.
    static func weightsAndBiases(_ net: Sequential, learningRate: Float, weightDecay: Float) -> [ParameterGroup] {
        [
            ParameterGroup(
                net, where: { $0.hasSuffix("weight") }, learningRate: learningRate, weightDecay: weightDecay),
            ParameterGroup(net, where: { !$0.hasSuffix("weight") }, learningRate: learningRate),
        ]
    }

    static func optimizer(_ name: String, for net: Sequential) -> any Optimizer {
        switch name {
        case "sgd": return SGD(net, learningRate: 0.5)
        case "sgd_momentum_weight_decay_groups":
            return SGD(weightsAndBiases(net, learningRate: 0.1, weightDecay: 0.01), momentum: 0.9)
        case "sgd_nesterov_weight_decay_groups":
            return SGD(weightsAndBiases(net, learningRate: 0.1, weightDecay: 0.01), momentum: 0.9, nesterov: true)
        case "adam": return Adam(net, learningRate: 0.01)
        case "adam_weight_decay_groups": return Adam(weightsAndBiases(net, learningRate: 0.02, weightDecay: 0.1))
        default: fatalError("no optimizer for trajectory '\(name)'")
        }
    }

    /// Runs `steps` steps from `start`, returning the losses.
    static func train(
        _ net: Sequential, _ optimizer: any Optimizer, steps: Range<Int>,
        changes: [String: Float], fixtures: LayerFixtureFile
    ) -> [Float] {
        let x = fixtures.trajectoryInputs.tensor
        var losses: [Float] = []
        for step in steps {
            if let rate = changes[String(step)] { optimizer.learningRate = rate }
            optimizer.zeroGrad()
            let loss = crossEntropy(logits: net(x), labels: fixtures.trajectoryLabels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item)
        }
        return losses
    }

    @Test("losses, final weights and optimizer state match PyTorch", arguments: layerFixtures?.trajectories ?? [])
    func trajectory(_ reference: LayerFixtureFile.Trajectory) throws {
        let fixtures = try #require(layerFixtures)
        let net = try Self.twoLayerNetwork()
        let optimizer = Self.optimizer(reference.name, for: net)
        let losses = Self.train(
            net, optimizer, steps: 0..<reference.steps, changes: reference.learningRateChanges, fixtures: fixtures)
        expectClose(Tensor(losses), Tensor(reference.losses), absoluteTolerance: 1e-6, "\(reference.name): losses")
        let parameters = net.stateDict()
        #expect(Set(parameters.keys) == Set(reference.finalParameters.keys))
        for (key, expected) in reference.finalParameters {
            expectClose(
                try #require(parameters[key]), expected.tensor, absoluteTolerance: 1e-6, "\(reference.name): \(key)")
        }
        let state = optimizer.stateDict()
        #expect(Set(state.keys) == Set(reference.finalOptimizerState.keys))
        for (key, expected) in reference.finalOptimizerState {
            expectClose(
                try #require(state[key]), expected.tensor, absoluteTolerance: 1e-6, "\(reference.name): state \(key)")
        }
    }

    @Test(
        "saving optimizer state mid-run and restoring it into a new optimizer resumes exactly",
        arguments: ["sgd_nesterov_weight_decay_groups", "adam_weight_decay_groups"])
    func resume(_ name: String) throws {
        let fixtures = try #require(layerFixtures)
        let reference = try #require(fixtures.trajectories.first { $0.name == name })
        let net = try Self.twoLayerNetwork()
        let first = Self.optimizer(name, for: net)
        _ = Self.train(net, first, steps: 0..<2, changes: reference.learningRateChanges, fixtures: fixtures)

        // Round trip through a safetensors file, as a checkpoint would.
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try SafeTensors.save(first.stateDict(), to: directory.appendingPathComponent("optimizer.safetensors"))
        try net.saveStateDict(to: directory.appendingPathComponent("model.safetensors"))
        let restoredNet = try Self.twoLayerNetwork()
        try restoredNet.loadStateDict(from: directory.appendingPathComponent("model.safetensors"))
        let second = Self.optimizer(name, for: restoredNet)
        second.learningRate = first.learningRate
        try second.loadStateDict(
            SafeTensors.loadDictionary(from: directory.appendingPathComponent("optimizer.safetensors")))

        let losses = Self.train(
            restoredNet, second, steps: 2..<reference.steps, changes: reference.learningRateChanges, fixtures: fixtures)
        expectClose(
            Tensor(losses), Tensor(Array(reference.losses[2...])), absoluteTolerance: 1e-6, "\(name): resumed losses")
        for (key, expected) in reference.finalParameters {
            expectClose(
                try #require(restoredNet.stateDict()[key]), expected.tensor, absoluteTolerance: 1e-6,
                "\(name): resumed \(key)")
        }
    }

    @Test("restoring optimizer state rejects unknown keys and wrong shapes, changing nothing")
    func stateErrors() throws {
        let net = try Self.twoLayerNetwork()
        let optimizer = SGD(net, learningRate: 0.1, momentum: 0.9)
        #expect(throws: OptimizerStateError.unexpectedKey("5.weight.momentum_buffer")) {
            try optimizer.loadStateDict(["5.weight.momentum_buffer": Tensor.zeros([8, 4])])
        }
        #expect(throws: OptimizerStateError.unexpectedKey("0.weight.exp_avg")) {
            try optimizer.loadStateDict(["0.weight.exp_avg": Tensor.zeros([8, 4])])
        }
        #expect(throws: OptimizerStateError.shapeMismatch(key: "0.bias.momentum_buffer", expected: [8], found: [4])) {
            try optimizer.loadStateDict(["0.bias.momentum_buffer": Tensor.zeros([4])])
        }
        #expect(optimizer.state.isEmpty)
    }

    @Test("a parameter without a gradient is skipped, as in PyTorch")
    func skipsMissingGradients() throws {
        let net = try Self.twoLayerNetwork()
        let before = net.stateDict().mapValues { $0.copy() }
        let optimizer = Adam(net, learningRate: 0.1)
        optimizer.step()
        for (key, tensor) in net.stateDict() { #expect(tensor.scalars == before[key]!.scalars, "\(key)") }
        #expect(optimizer.state.isEmpty)
    }
}
