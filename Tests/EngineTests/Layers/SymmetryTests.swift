import Engine
import Testing

/// The symmetry problem of d2l §5.4: hidden units that start equal receive equal gradients and
/// stay equal under gradient descent; random (Xavier) initialization or dropout breaks the tie.
@Suite("Symmetry of hidden units")
struct SymmetryTests {
    /// Trains `net` (whose layer 0 is the hidden `Linear`) for a few SGD steps on fixed data and
    /// returns the largest distance between two rows of the hidden weight (one row per unit).
    func largestHiddenUnitDifference(_ net: Sequential, generator: inout RandomGenerator) -> Float {
        let x = Tensor.randomNormal([8, 4], using: &generator)
        let labels = (0..<8).map { $0 % 3 }
        let optimizer = SGD(net, learningRate: 0.5)
        for _ in 0..<5 {
            optimizer.zeroGrad()
            crossEntropy(logits: net(x), labels: labels).backward()
            optimizer.step()
        }
        let weight = (net[0] as! Linear).weight
        var largest: Float = 0
        for i in 0..<weight.shape[0] {
            for j in 0..<weight.shape[0] {
                for k in 0..<weight.shape[1] { largest = max(largest, abs(weight[i, k] - weight[j, k])) }
            }
        }
        return largest
    }

    func mlp(dropout: Bool, using generator: inout RandomGenerator) -> Sequential {
        Sequential {
            Linear(inputFeatures: 4, outputFeatures: 6, using: &generator)
            Sigmoid()
            if dropout { Dropout(probability: 0.5, using: &generator) }
            Linear(inputFeatures: 6, outputFeatures: 3, using: &generator)
        }
    }

    @Test("with a constant initialization every hidden unit stays identical")
    func constantStaysSymmetric() {
        var generator = RandomGenerator(seed: 11)
        let net = mlp(dropout: false, using: &generator)
        net.initializeWeights(.constant(0.3), bias: .constant(0.1), using: &generator)
        let initialWeight = (net[0] as! Linear).weight.copy()
        // Equal in exact arithmetic; through a GEMM the units may differ by rounding, a few ulps of
        // weights near 0.3 (1 ulp = 3e-8). 1e-6 allows ~30 ulps; the tests below see 1e-3 and more.
        #expect(largestHiddenUnitDifference(net, generator: &generator) <= 1e-6)
        // …although the weights did change.
        #expect(!(net[0] as! Linear).weight.isClose(to: initialWeight, absoluteTolerance: 1e-4))
    }

    @Test("with Xavier initialization the hidden units differ")
    func xavierBreaksSymmetry() {
        var generator = RandomGenerator(seed: 12)
        let net = mlp(dropout: false, using: &generator)
        net.initializeWeights(.xavierUniform(), bias: .zeros, using: &generator)
        #expect(largestHiddenUnitDifference(net, generator: &generator) > 0.05)
    }

    @Test("dropout breaks the symmetry of a constant initialization")
    func dropoutBreaksSymmetry() {
        var generator = RandomGenerator(seed: 13)
        let net = mlp(dropout: true, using: &generator)
        net.initializeWeights(.constant(0.3), bias: .constant(0.1), using: &generator)
        #expect(largestHiddenUnitDifference(net, generator: &generator) > 1e-3)
    }
}
