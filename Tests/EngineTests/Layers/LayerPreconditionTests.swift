import Engine
import Testing

/// Programming errors stop with a precondition (checked in a child process).
@Suite("Layer and optimizer preconditions")
struct LayerPreconditionTests {
    @Test("Linear stops on an input of the wrong width")
    func linearInputWidth() async {
        await #expect(processExitsWith: .failure) {
            var generator = RandomGenerator(seed: 1)
            _ = Linear(inputFeatures: 3, outputFeatures: 2, using: &generator)(Tensor.zeros([5, 4]))
        }
    }

    @Test("two children under one name stop the traversal")
    func duplicateKeys() async {
        await #expect(processExitsWith: .failure) {
            final class Twins: ModuleContainer {
                var isTraining = true
                var generator = RandomGenerator(seed: 2)
                lazy var a = Linear(inputFeatures: 1, outputFeatures: 1, using: &generator)
                lazy var b = Linear(inputFeatures: 1, outputFeatures: 1, using: &generator)
                var children: [(name: String, module: any Module)] { [("x", a), ("x", b)] }
                func callAsFunction(_ input: Tensor) -> Tensor { b(a(input)) }
                func outputShape(for inputShape: [Int]) throws -> [Int] {
                    try b.outputShape(for: a.outputShape(for: inputShape))
                }
            }
            _ = Twins().namedParameters()
        }
    }

    @Test("a parameter in two groups stops the optimizer")
    func parameterInTwoGroups() async {
        await #expect(processExitsWith: .failure) {
            var generator = RandomGenerator(seed: 3)
            let net = Linear(inputFeatures: 2, outputFeatures: 2, using: &generator)
            _ = SGD([ParameterGroup(net, learningRate: 0.1), ParameterGroup(net, learningRate: 0.1)])
        }
    }
}
