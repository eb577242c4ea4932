import Engine
import Testing

@Suite("Dropout")
struct DropoutTests {
    static func input() -> Tensor {
        var generator = RandomGenerator(seed: 1)
        return Tensor.randomUniform([50, 40], low: 0.5, high: 1.5, using: &generator)
    }

    @Test("p = 0 is the identity and draws nothing")
    func probabilityZero() {
        let x = Self.input()
        var generator = RandomGenerator(seed: 2)
        let y = dropout(x, probability: 0, training: true, using: &generator)
        #expect(y.scalars == x.scalars)
        #expect(generator.stateWords == RandomGenerator(seed: 2).stateWords)
    }

    @Test("p = 1 gives zeros, and zero gradients")
    func probabilityOne() {
        let x = Self.input()
        x.requiresGrad = true
        var generator = RandomGenerator(seed: 2)
        let y = dropout(x, probability: 1, training: true, using: &generator)
        #expect(y.scalars.allSatisfy { $0 == 0 })
        y.sum().backward()
        #expect(x.grad?.scalars.allSatisfy { $0 == 0 } == true)
    }

    @Test("evaluation mode is the identity")
    func evaluation() {
        let x = Self.input()
        var generator = RandomGenerator(seed: 2)
        #expect(dropout(x, probability: 0.5, training: false, using: &generator).scalars == x.scalars)
    }

    @Test("kept elements are scaled by 1/(1 − p), the mean is preserved, about p are dropped")
    func meanPreserved() {
        let x = Tensor.ones([200, 100])
        var generator = RandomGenerator(seed: 3)
        let p: Float = 0.3
        let y = dropout(x, probability: p, training: true, using: &generator)
        let values = y.scalars
        #expect(values.allSatisfy { $0 == 0 || abs($0 - 1 / (1 - p)) < 1e-6 })
        let dropped = Float(values.filter { $0 == 0 }.count) / Float(values.count)
        // 20 000 Bernoulli(0.3) draws: standard deviation of the fraction ≈ 0.0032.
        #expect(abs(dropped - p) < 0.02)
        #expect(abs(values.reduce(0, +) / Float(values.count) - 1) < 0.03)
    }

    @Test("the same seed gives the same mask; another seed another one")
    func sameSeedSameMask() {
        let x = Self.input()
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9), c = RandomGenerator(seed: 10)
        let ya = dropout(x, probability: 0.5, training: true, using: &a)
        let yb = dropout(x, probability: 0.5, training: true, using: &b)
        let yc = dropout(x, probability: 0.5, training: true, using: &c)
        #expect(ya.scalars == yb.scalars)
        #expect(ya.scalars != yc.scalars)
    }

    @Test("backward passes the gradient through the kept elements only")
    func backwardUsesMask() {
        let x = Self.input()
        x.requiresGrad = true
        var generator = RandomGenerator(seed: 4)
        let y = dropout(x, probability: 0.4, training: true, using: &generator)
        y.sum().backward()
        let grad = try! #require(x.grad)
        for i in 0..<x.count {
            #expect(grad.pointer[i] == (y.pointer[i] == 0 ? 0 : 1 / (1 - Float(0.4))))
        }
    }
}
