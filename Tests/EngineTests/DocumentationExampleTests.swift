import Engine
import Testing

/// The code of the DocC articles (`Sources/Engine/Documentation.docc`), run as written, so the
/// documentation cannot drift from the API. Values checked here are exact only where no GEMM is
/// involved (small integers in any summation order); the training loop is checked by its loss.
@Suite("Documentation examples")
struct DocumentationExampleTests {
    @Test("GettingStarted: a tensor and a gradient")
    func tensorAndGradient() {
        let x = Tensor([[1, 2, 3], [4, 5, 6]])
        let y = (x * 2 + 1).sum(axis: 1)
        #expect(y.shape == [2])
        #expect(y.scalars == [15, 33]) // sums of small odd integers: exact in any order
        var generator = RandomGenerator(seed: 0)
        #expect(Tensor.randomNormal([2, 3], standardDeviation: 0.1, using: &generator).shape == [2, 3])

        let w = Tensor([1, -2, 3])
        w.requiresGrad = true
        let loss = (w * w).sum()
        loss.backward()
        #expect(w.grad?.scalars == [2, -4, 6])
        w.zeroGrad()
        #expect(w.grad == nil)
    }

    @Test("GettingStarted: the training loop fits y = Xw + b")
    func trainingLoop() {
        var generator = RandomGenerator(seed: 42)
        let features = Tensor.randomNormal([256, 2], using: &generator)
        let targets = features.matmul(Tensor([[2], [-3.4]])) + 4.2

        let net = Sequential { Linear(inputFeatures: 2, outputFeatures: 1, using: &generator) }
        let optimizer = SGD(net, learningRate: 0.03)
        var losses: [Float] = []
        for _ in 1...3 {
            for start in stride(from: 0, to: 256, by: 10) {
                let rows = start..<min(start + 10, 256)
                let loss = mseLoss(net(features.rows(rows)), targets.rows(rows))
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
            }
            losses.append(withNoGrad { mseLoss(net(features), targets).item })
        }
        // Noise-free data: 78 SGD steps take the mean squared error from ~30 to far below 0.01.
        #expect(losses[2] < 0.01, "losses \(losses)")
        #expect(losses[2] <= losses[0])
    }

    @Test("Engine landing page: a network's loss gives every parameter a gradient")
    func landingPage() {
        var generator = RandomGenerator(seed: 0)
        let net = Sequential {
            Linear(inputFeatures: 4, outputFeatures: 8, using: &generator)
            ReLU()
            Linear(inputFeatures: 8, outputFeatures: 1, using: &generator)
        }
        let loss = mseLoss(net(Tensor.randomNormal([16, 4], using: &generator)), Tensor.zeros([16, 1]))
        loss.backward()
        let parameters = net.namedParameters()
        #expect(parameters.map(\.key) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        for parameter in parameters {
            #expect(parameter.tensor.grad?.shape == parameter.tensor.shape, "\(parameter.key)")
        }
    }
}
