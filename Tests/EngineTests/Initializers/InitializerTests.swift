import Engine
import Foundation
import Testing

/// Sample mean and standard deviation of a tensor's values (in Double).
func moments(_ tensor: Tensor) -> (mean: Double, standardDeviation: Double) {
    let values = tensor.scalars.map(Double.init)
    let mean = values.reduce(0, +) / Double(values.count)
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
    return (mean, variance.squareRoot())
}

/// Statistical checks use 10⁴–4·10⁴ draws: the sample standard deviation then lies within ~3 %
/// of σ (its relative standard error is about 1/√(2n) < 0.71 %, so 3 % is over 4 standard errors).
@Suite("Initializers")
struct InitializerTests {
    @Test("fans of linear and convolution weights include the kernel area")
    func fanComputation() {
        #expect(fans(of: [10, 784]) == (784, 10))
        #expect(fans(of: [16, 6, 5, 5]) == (150, 400))
    }

    @Test("Xavier uniform and normal have σ = √(2/(fan_in + fan_out))")
    func xavier() {
        var generator = RandomGenerator(seed: 21)
        let weight = Tensor.zeros([100, 20, 3, 3]) // fan_in 180, fan_out 900
        let sigma = (2.0 / (180.0 + 900.0)).squareRoot()
        Initializer.xavierUniform().initialize(weight, using: &generator)
        let bound = Float((6.0 / 1080.0).squareRoot())
        #expect(weight.scalars.allSatisfy { abs($0) <= bound })
        #expect(abs(moments(weight).standardDeviation / sigma - 1) < 0.03)
        Initializer.xavierNormal().initialize(weight, using: &generator)
        let (mean, standardDeviation) = moments(weight)
        #expect(abs(standardDeviation / sigma - 1) < 0.03)
        #expect(abs(mean) < 4 * sigma / (18000.0).squareRoot())
    }

    @Test("Kaiming normal has σ = gain/√fan, uniform the bound gain·√(3/fan)")
    func kaiming() {
        var generator = RandomGenerator(seed: 22)
        let weight = Tensor.zeros([200, 100])
        Initializer.kaimingNormal().initialize(weight, using: &generator)
        #expect(abs(moments(weight).standardDeviation / (2.0 / 100).squareRoot() - 1) < 0.03)
        Initializer.kaimingUniform(mode: .fanOut, nonlinearity: .tanh).initialize(weight, using: &generator)
        let bound = Float(5.0 / 3.0 * (3.0 / 200).squareRoot())
        #expect(weight.scalars.allSatisfy { abs($0) <= bound })
        #expect(weight.scalars.contains { abs($0) > 0.95 * bound })
    }

    @Test("normal, zeros and constant")
    func simpleRules() {
        var generator = RandomGenerator(seed: 23)
        let weight = Tensor.zeros([100, 100])
        Initializer.normal(mean: 1, standardDeviation: 0.01).initialize(weight, using: &generator)
        let (mean, standardDeviation) = moments(weight)
        #expect(abs(mean - 1) < 1e-3 && abs(standardDeviation / 0.01 - 1) < 0.03)
        Initializer.constant(0.25).initialize(weight, using: &generator)
        #expect(weight.scalars.allSatisfy { $0 == 0.25 })
        Initializer.zeros.initialize(weight, using: &generator)
        #expect(weight.scalars.allSatisfy { $0 == 0 })
    }

    @Test("untouched Linear and Conv2D layers follow PyTorch's default U(−1/√fan_in, 1/√fan_in)")
    func pytorchDefault() throws {
        var generator = RandomGenerator(seed: 24)
        let linear = Linear(inputFeatures: 64, outputFeatures: 256, using: &generator)
        let bound: Float = 1 / 8
        #expect(linear.weight.scalars.allSatisfy { abs($0) <= bound })
        #expect(abs(moments(linear.weight).standardDeviation / (Double(bound) / 3.0.squareRoot()) - 1) < 0.03)
        #expect(try #require(linear.bias).scalars.allSatisfy { abs($0) <= bound })
        let conv = Conv2D(inputChannels: 4, outputChannels: 300, kernelSize: 3, using: &generator) // fan_in 36
        #expect(conv.weight.scalars.allSatisfy { abs($0) <= 1 / 6 })
        #expect(abs(moments(conv.weight).standardDeviation / (1.0 / 6 / 3.0.squareRoot()) - 1) < 0.03)
        // Same seed, same layer.
        var first = RandomGenerator(seed: 99), second = RandomGenerator(seed: 99)
        #expect(
            Linear(inputFeatures: 3, outputFeatures: 2, using: &first).weight.scalars
                == Linear(inputFeatures: 3, outputFeatures: 2, using: &second).weight.scalars)
    }

    @Test("initializeWeights re-initializes every Linear and Conv2D, and nothing else")
    func applyToNetwork() {
        var generator = RandomGenerator(seed: 25)
        let norm = BatchNorm1D(featureCount: 3)
        let net = Sequential {
            Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, using: &generator)
            Flatten()
            Sequential { Linear(inputFeatures: 8, outputFeatures: 3, using: &generator) }
            norm
        }
        net.initializeWeights(.constant(0.5), bias: .zeros, using: &generator)
        for (key, tensor) in net.namedParameters() where key != "3.weight" && key != "3.bias" {
            #expect(tensor.scalars.allSatisfy { $0 == (key.hasSuffix("weight") ? 0.5 : 0) }, "\(key)")
        }
        #expect(norm.weight.scalars == [1, 1, 1])
    }
}
