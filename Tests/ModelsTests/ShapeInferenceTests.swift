import Engine
import Models
import Testing

/// `Module.outputShape(for:)` on every network of the zoo: it agrees with the real forward pass,
/// refuses what the forward pass would stop on (naming the layer), and the sizes it accepts run.
/// And the book comparison `d2l` prints: verdicts at the book's settings only.
@Suite("Shape inference and the book comparison")
struct ShapeInferenceTests {
    /// Each zoo network walked at its summary input and at its training size: the inferred shape
    /// after every top-level layer equals the shape the real forward pass gives.
    @Test("inferred shapes equal the real shape walk", arguments: ModelZoo.names)
    func inferenceMatchesTheShapeWalk(name: String) throws {
        let model = try ModelZoo.model(named: name)
        let side = model.hyperparameters.resize ?? 28
        for input in Set([model.summaryInputShape, [2, 1, side, side]]) {
            let summary = try ModelZoo.summary(of: name, inputShape: input)
            var shape = input
            for (layer, row) in zip(summary.network.layers, summary.rows) {
                shape = try layer.outputShape(for: shape)
                #expect(shape == row.outputShape, "\(name) at \(input): \(row.layer)")
            }
            #expect(try summary.network.outputShape(for: input) == [input[0], 10], "\(name) at \(input)")
        }
    }

    /// The sizes the issue reported crashing, and the windows of the networks whose classifier
    /// has a fixed width (AlexNet: 193…224 all give 5×5 before `Linear(6400)`; VGG 224…255 give
    /// 7×7; LeNet's padded first convolution 28…31 give 5×5 before `Linear(400)`).
    @Test("too-small inputs throw, naming the layer; the accepted sizes")
    func refusals() throws {
        var generator = RandomGenerator(seed: 0)
        let alexNet = try ModelZoo.model(named: "alexnet").make(using: &generator)
        #expect(throws: ShapeError.self) { try alexNet.outputShape(for: [2, 1, 10, 10]) }
        do {
            _ = try alexNet.outputShape(for: [2, 1, 10, 10])
        } catch let error as ShapeError {
            #expect(error.path == "2" && error.layer == "MaxPool2D", "\(error)")
            #expect(
                error.description.hasPrefix(
                    "layer 2 (MaxPool2D): maxPool2D: kernel 3×3 is larger than the padded input 1×1"),
                "\(error)")
        }
        #expect(alexNet.acceptedSquareSides(in: 1...512) == [193...224])
        let expected: [String: [ClosedRange<Int>]] = [
            "vgg": [224...255], "lenet": [28...31], "mlp": [28...28], "softmax-regression": [28...28],
            "batch-norm-lenet": [28...31],
        ]
        for (name, sides) in expected {
            let network = try ModelZoo.model(named: name).make(using: &generator)
            #expect(network.acceptedSquareSides(in: 1...512) == sides, "\(name)")
        }
        // Networks ending in global pooling take every size from their first refusal up; GoogLeNet
        // and ResNet pad every window, so even 1×1 passes; DenseNet's unpadded 2×2 average pools
        // and NiN's unpadded 11×11 stem do not. A refusal deep inside a block names the whole path.
        for (name, sides) in [
            ("googlenet", [1...512]), ("resnet", [1...512]), ("densenet", [29...512]), ("nin", [67...512]),
        ] {
            let network = try ModelZoo.model(named: name).make(using: &generator)
            #expect(network.acceptedSquareSides(in: 1...512) == sides, "\(name)")
        }
        let denseNet = try ModelZoo.model(named: "densenet").make(using: &generator)
        do {
            _ = try denseNet.outputShape(for: [2, 1, 28, 28])
            Issue.record("DenseNet took 28×28")
        } catch let error as ShapeError {
            #expect(error.path == "6.3" && error.layer == "AvgPool2D", "\(error)")
        }
    }

    /// The smallest size each network accepts really runs, forward and backward in training mode
    /// with a batch of 2, and gives the inferred shape: inference is not more permissive than the ops.
    @Test("the smallest accepted size trains", arguments: ModelZoo.names)
    func smallestAcceptedSizeRuns(name: String) throws {
        var generator = RandomGenerator(seed: 1)
        let network = try ModelZoo.model(named: name).make(using: &generator)
        let side = try #require(
            network.acceptedSquareSides(in: 1...512, batch: 2).first?.lowerBound, "\(name) takes no size")
        let input = Tensor.randomUniform([2, 1, side, side], using: &generator)
        let output = network(input)
        #expect(output.shape == (try network.outputShape(for: input.shape)), "\(name) at \(side)")
        crossEntropy(logits: output, labels: [0, 1]).backward()
        #expect(network.parameters().allSatisfy { $0.grad != nil }, "\(name) at \(side)")
    }

    @Test("the book comparison: verdicts at the book's settings, the spread alone otherwise")
    func comparisonLines() throws {
        let book = try ModelZoo.model(named: "lenet").bookResult // loss 0.468 [0.451, 0.497]
        let full = book.comparisonLines(loss: 0.4704, trainAccuracy: 0.70, testAccuracy: 0.8, atBookSettings: true)
        #expect(
            full == [
                "compared with the book (same settings):",
                "  loss 0.470 (the book's runs: 0.468 [0.451, 0.497]: inside)",
                "  train acc 0.700 (the book's runs: 0.824 [0.811, 0.834]: OUTSIDE)",
                "  test acc 0.800 (the book's runs: 0.808 [0.779, 0.824]: inside)",
            ])
        let shortened = book.comparisonLines(
            loss: 0.4704, trainAccuracy: 0.70, testAccuracy: 0.8, atBookSettings: false)
        #expect(
            shortened == [
                "compared with the book (NOT the book's settings; for orientation only):",
                "  loss 0.470 (the book's runs: 0.468 [0.451, 0.497])",
                "  train acc 0.700 (the book's runs: 0.824 [0.811, 0.834])",
                "  test acc 0.800 (the book's runs: 0.808 [0.779, 0.824])",
            ])
        // The value is rounded to the book's decimals before the verdict: 0.4974 is 0.497, inside.
        #expect(
            book.comparisonLines(loss: 0.4974, trainAccuracy: 0.82, testAccuracy: 0.8, atBookSettings: true)[1]
                .hasSuffix(": inside)"))
        #expect(
            book.comparisonLines(loss: 0.4976, trainAccuracy: 0.82, testAccuracy: 0.8, atBookSettings: true)[1]
                .hasSuffix(": OUTSIDE)"))
        let noted = try ModelZoo.model(named: "nin").bookResult.comparisonLines(
            loss: 1, trainAccuracy: 0.5, testAccuracy: 0.5,
            atBookSettings: false)
        #expect(noted.last?.hasPrefix("  note: 18 converged runs of 21") == true)
    }
}
