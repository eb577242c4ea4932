import Engine
import Foundation
import TestSupport
import Testing

/// d2l's Inception block (§8.4) as an ordinary Swift type: four branches, children named as in
/// the book (`b1_1`, `b2_1`, …), outputs concatenated on channels.
final class Inception: ModuleContainer {
    let b1_1: Conv2D
    let b2_1: Conv2D, b2_2: Conv2D
    let b3_1: Conv2D, b3_2: Conv2D
    let b4_1: MaxPool2D, b4_2: Conv2D
    var isTraining = true

    init(
        inputChannels: Int, _ c1: Int, _ c2: (Int, Int), _ c3: (Int, Int), _ c4: Int,
        using generator: inout RandomGenerator
    ) {
        b1_1 = Conv2D(inputChannels: inputChannels, outputChannels: c1, kernelSize: 1, using: &generator)
        b2_1 = Conv2D(inputChannels: inputChannels, outputChannels: c2.0, kernelSize: 1, using: &generator)
        b2_2 = Conv2D(inputChannels: c2.0, outputChannels: c2.1, kernelSize: 3, padding: 1, using: &generator)
        b3_1 = Conv2D(inputChannels: inputChannels, outputChannels: c3.0, kernelSize: 1, using: &generator)
        b3_2 = Conv2D(inputChannels: c3.0, outputChannels: c3.1, kernelSize: 5, padding: 2, using: &generator)
        b4_1 = MaxPool2D(kernelSize: 3, stride: 1, padding: 1)
        b4_2 = Conv2D(inputChannels: inputChannels, outputChannels: c4, kernelSize: 1, using: &generator)
    }

    var children: [(name: String, module: any Module)] {
        [
            ("b1_1", b1_1), ("b2_1", b2_1), ("b2_2", b2_2), ("b3_1", b3_1), ("b3_2", b3_2), ("b4_1", b4_1),
            ("b4_2", b4_2),
        ]
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let b1 = b1_1(x).relu()
        let b2 = b2_2(b2_1(x).relu()).relu()
        let b3 = b3_2(b3_1(x).relu()).relu()
        let b4 = b4_2(b4_1(x)).relu()
        return concatenate([b1, b2, b3, b4], axis: 1)
    }

    func outputShape(for x: [Int]) throws -> [Int] {
        try concatenatedShape(
            [
                b1_1.outputShape(for: x), b2_2.outputShape(for: b2_1.outputShape(for: x)),
                b3_2.outputShape(for: b3_1.outputShape(for: x)), b4_2.outputShape(for: b4_1.outputShape(for: x)),
            ],
            axis: 1)
    }
}

/// The Swift twins of the networks of `layers.json` (same layer order as the generator's).
func referenceNetwork(_ name: String, using g: inout RandomGenerator) -> Sequential {
    switch name {
    case "mlp":
        return Sequential {
            Flatten()
            Linear(inputFeatures: 784, outputFeatures: 256, using: &g)
            ReLU()
            Linear(inputFeatures: 256, outputFeatures: 10, using: &g)
        }
    case "lenet":
        return Sequential {
            Conv2D(inputChannels: 1, outputChannels: 6, kernelSize: 5, padding: 2, using: &g)
            Sigmoid()
            AvgPool2D(kernelSize: 2, stride: 2)
            Conv2D(inputChannels: 6, outputChannels: 16, kernelSize: 5, using: &g)
            Sigmoid()
            AvgPool2D(kernelSize: 2, stride: 2)
            Flatten()
            Linear(inputFeatures: 400, outputFeatures: 120, using: &g)
            Sigmoid()
            Linear(inputFeatures: 120, outputFeatures: 84, using: &g)
            Sigmoid()
            Linear(inputFeatures: 84, outputFeatures: 10, using: &g)
        }
    case "batchnorm":
        return Sequential {
            Conv2D(inputChannels: 1, outputChannels: 6, kernelSize: 5, using: &g)
            BatchNorm2D(featureCount: 6)
            Sigmoid()
            MaxPool2D(kernelSize: 2, stride: 2)
            Flatten()
            Linear(inputFeatures: 6 * 12 * 12, outputFeatures: 10, using: &g)
            BatchNorm1D(featureCount: 10)
        }
    case "nested":
        return Sequential {
            Sequential {
                Linear(inputFeatures: 4, outputFeatures: 5, using: &g)
                ReLU()
            }
            Dropout(probability: 0.5, using: &g)
            Sequential { Linear(inputFeatures: 5, outputFeatures: 3, using: &g) }
            Linear(inputFeatures: 3, outputFeatures: 2, bias: false, using: &g)
            Tanh()
            Softmax(axis: 1)
        }
    case "shared":
        let shared = Linear(inputFeatures: 4, outputFeatures: 4, using: &g)
        return Sequential(shared, ReLU(), shared, Linear(inputFeatures: 4, outputFeatures: 2, using: &g))
    case "inception":
        return Sequential {
            Inception(inputChannels: 8, 4, (4, 6), (2, 3), 3, using: &g)
            AdaptiveAvgPool2D(outputSize: (1, 1))
            Flatten()
        }
    default:
        fatalError("no Swift twin for network '\(name)'")
    }
}

@Suite("Modules: traversal, training flag, shared weights")
struct ModuleTests {
    @Test(
        "parameter and buffer keys, shapes, dtypes and counts equal PyTorch's",
        arguments: layerFixtures?.networks ?? [])
    func keysMatchPyTorch(_ network: LayerFixtureFile.Network) {
        var generator = RandomGenerator(seed: 1)
        let net = referenceNetwork(network.name, using: &generator)
        let parameters = net.namedParameters()
        #expect(parameters.map(\.key) == network.parameters.map(\.key))
        #expect(parameters.map(\.tensor.shape) == network.parameters.map(\.shape))
        let buffers = net.namedTensors().filter { $0.kind == .buffer }
        #expect(buffers.map(\.key) == network.buffers.map(\.key))
        #expect(buffers.map(\.tensor.shape) == network.buffers.map(\.shape))
        #expect(
            buffers.map { $0.elementType == .int64 ? "int64" : "float32" } == network.buffers.map { $0.dtype ?? "" })
        #expect(net.parameterCount == network.parameterCount)
        #expect(parameters.allSatisfy { $0.tensor.requiresGrad })
    }

    @Test("the fixture file is present and from the pinned versions")
    func fixturePresent() throws {
        let file = try #require(layerFixtures)
        #expect(file.torch.hasPrefix("2.15.0"))
        #expect(file.safetensors == "0.8.0")
        #expect(file.networks.count == 6)
    }

    @Test("a multi-branch block concatenates its branches on channels")
    func inceptionShape() {
        var generator = RandomGenerator(seed: 2)
        let block = Inception(inputChannels: 8, 4, (4, 6), (2, 3), 3, using: &generator)
        let output = block(Tensor.randomNormal([2, 8, 5, 5], using: &generator))
        #expect(output.shape == [2, 4 + 6 + 3 + 3, 5, 5])

        let parallel = Parallel {
            Conv2D(inputChannels: 3, outputChannels: 2, kernelSize: 1, using: &generator)
            Conv2D(inputChannels: 3, outputChannels: 5, kernelSize: 3, padding: 1, using: &generator)
        }
        #expect(parallel(Tensor.zeros([1, 3, 4, 4])).shape == [1, 7, 4, 4])
        #expect(parallel.namedParameters().map(\.key) == ["0.weight", "0.bias", "1.weight", "1.bias"])
    }

    @Test("train() and eval() set the flag of every module, recursively")
    func trainingFlag() {
        var generator = RandomGenerator(seed: 3)
        let net = referenceNetwork("nested", using: &generator)
        #expect(net.namedModules().allSatisfy { $0.module.isTraining })
        net.eval()
        #expect(net.namedModules().allSatisfy { !$0.module.isTraining })
        #expect(net.namedModules().map(\.key) == ["", "0", "0.0", "0.1", "1", "2", "2.0", "3", "4", "5"])
        net.train()
        #expect(net.namedModules().allSatisfy { $0.module.isTraining })
        // Dropout is the identity in evaluation and not in training.
        let dropout = Dropout(probability: 0.5, seed: 9)
        let x = Tensor.ones([4, 8])
        dropout.eval()
        #expect(dropout(x).scalars == x.scalars)
        dropout.train()
        #expect(dropout(x).scalars != x.scalars)
    }

    @Test("a reseeded dropout layer repeats its masks exactly")
    func dropoutReseed() {
        let dropout = Dropout(probability: 0.3, seed: 42)
        let x = Tensor.ones([3, 7])
        let first = dropout(x).scalars
        let saved = dropout.generator.stateWords
        let second = dropout(x).scalars
        #expect(first != second)
        dropout.generator = RandomGenerator(stateWords: saved)
        #expect(dropout(x).scalars == second)
        dropout.reseed(42)
        #expect(dropout(x).scalars == first)
    }

    @Test("batch norm counts training batches and keeps running statistics as buffers")
    func batchNormBuffers() {
        let norm = BatchNorm2D(featureCount: 2)
        var generator = RandomGenerator(seed: 4)
        let x = Tensor.randomNormal([3, 2, 2, 2], mean: 5, using: &generator)
        _ = norm(x)
        _ = norm(x)
        #expect(norm.batchesTracked.item == 2)
        #expect(norm.runningMean.scalars.allSatisfy { $0 > 0.5 }) // moved toward the batch mean 5
        norm.eval()
        _ = norm(x)
        #expect(norm.batchesTracked.item == 2)
        #expect(
            norm.namedTensors().map(\.key) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        // BatchNorm1D accepts [N, C, L] as PyTorch's does.
        #expect(BatchNorm1D(featureCount: 3)(Tensor.randomNormal([4, 3, 5], using: &generator)).shape == [4, 3, 5])
    }

    @Test("a layer used twice shares its weights: listed once, gradient = sum of both uses")
    func sharedWeights() throws {
        var generator = RandomGenerator(seed: 5)
        let shared = Linear(inputFeatures: 3, outputFeatures: 3, using: &generator)
        let net = Sequential(shared, Tanh(), shared)
        #expect(net.namedParameters().map(\.key) == ["0.weight", "0.bias"])
        #expect(net.parameterCount == 12)

        // The same computation with two separate copies of the layer.
        let first = Linear(weight: shared.weight.copy(), bias: shared.bias!.copy())
        let second = Linear(weight: shared.weight.copy(), bias: shared.bias!.copy())
        let unshared = Sequential(first, Tanh(), second)
        #expect(unshared.parameterCount == 24)

        let x = Tensor.randomNormal([4, 3], using: &generator)
        let y = net(x), z = unshared(x)
        expectClose(y, z, "shared vs unshared output")
        y.squared().sum().backward()
        z.squared().sum().backward()
        let expectedWeightGradient = try #require(first.weight.grad) + #require(second.weight.grad)
        let expectedBiasGradient = try #require(first.bias?.grad) + #require(second.bias?.grad)
        expectClose(try #require(shared.weight.grad), expectedWeightGradient, "shared weight gradient")
        expectClose(try #require(shared.bias?.grad), expectedBiasGradient, "shared bias gradient")

        net.zeroGrad()
        #expect(shared.weight.grad == nil && shared.bias?.grad == nil)

        // Save and load keep it shared: one entry in the file, loaded into the one tensor.
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("shared.safetensors")
        try net.saveStateDict(to: url)
        #expect(try SafeTensors.read(from: url).entries.map(\.key) == ["0.weight", "0.bias"])
        let clonedLayer = Linear(inputFeatures: 3, outputFeatures: 3, using: &generator)
        let clone = Sequential(clonedLayer, Tanh(), clonedLayer)
        try clone.loadStateDict(from: url)
        #expect((clone[0] as? Linear) === (clone[2] as? Linear))
        expectClose(clone(x), net(x), "clone output")
    }

    @Test("Sequential's builder takes loops and conditions (VGG-style configuration tables)")
    func sequentialBuilder() {
        var generator = RandomGenerator(seed: 6)
        let widths = [(1, 4), (4, 8)]
        let useDropout = true
        let net = Sequential {
            for (input, output) in widths {
                Conv2D(inputChannels: input, outputChannels: output, kernelSize: 3, padding: 1, using: &generator)
                ReLU()
            }
            MaxPool2D(kernelSize: 2)
            if useDropout { Dropout(probability: 0.5, using: &generator) }
            Flatten()
        }
        #expect(net.count == 7)
        #expect(net.namedParameters().map(\.key) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(net(Tensor.zeros([2, 1, 4, 4])).shape == [2, 8 * 2 * 2])
        #expect(ReLU().directParameters.isEmpty && Flatten().children.isEmpty)
    }
}
