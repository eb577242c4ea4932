import Engine
import Models
import Testing

/// The registry (names, the book's hyperparameters, initialization) and every network in training
/// mode at its training resolution.
@Suite("Model zoo")
struct ModelZooTests {
    /// The book's settings, copied from ../shared/D2L_REFERENCE.md §1 (d2l-zh 2.0.0): name,
    /// batch size, learning rate, epochs, resize.
    static let bookSettings: [(String, Int, Float, Int, Int?)] = [
        ("softmax-regression", 256, 0.1, 10, nil), ("mlp", 256, 0.1, 10, nil), ("mlp-dropout", 256, 0.5, 10, nil),
        ("lenet", 256, 0.9, 10, nil), ("batch-norm-lenet", 256, 1.0, 10, nil),
        ("batch-norm-lenet-scratch", 256, 1.0, 10, nil),
        ("alexnet", 128, 0.01, 10, 224), ("vgg", 128, 0.05, 10, 224), ("nin", 128, 0.1, 10, 224),
        ("googlenet", 128, 0.1, 10, 96), ("resnet", 256, 0.05, 10, 96), ("densenet", 256, 0.1, 10, 96),
    ]

    @Test("the registry holds the book's networks with the book's hyperparameters")
    func registryMatchesBook() throws {
        #expect(ModelZoo.names == Self.bookSettings.map(\.0))
        for (name, batchSize, learningRate, epochs, resize) in Self.bookSettings {
            let model = try ModelZoo.model(named: name)
            #expect(
                model.hyperparameters
                    == TrainingHyperparameters(
                        batchSize: batchSize, learningRate: learningRate,
                        epochs: epochs, resize: resize), "\(name)")
            #expect(model.hyperparameters.exampleShape == [1, resize ?? 28, resize ?? 28], "\(name)")
            for spread in [model.bookResult.trainAccuracy, model.bookResult.testAccuracy] {
                #expect(spread.range.lowerBound > 0.09 && spread.range.upperBound < 1, "\(name): accuracy \(spread)")
            }
        }
        // Two rows of D2L_REFERENCE.md §1 spelled out: LeNet 0.468 [0.451, 0.497]; 0.824 [0.811, 0.834];
        // 0.808 [0.779, 0.824], and AlexNet's test accuracy 0.879 [0.866, 0.885].
        let leNet = try ModelZoo.model(named: "lenet").bookResult
        #expect(leNet.loss == BookSpread(0.468, 0.451, 0.497))
        #expect(leNet.trainAccuracy == BookSpread(0.824, 0.811, 0.834))
        #expect(leNet.testAccuracy == BookSpread(0.808, 0.779, 0.824))
        #expect(try ModelZoo.model(named: "alexnet").bookResult.testAccuracy == BookSpread(0.879, 0.866, 0.885))
    }

    @Test("an unknown name throws, listing the known ones")
    func unknownName() {
        #expect(throws: ModelZooError.unknownModel(name: "lenet5", known: ModelZoo.names)) {
            try ModelZoo.model(named: "lenet5")
        }
        #expect(
            ModelZooError.unknownModel(name: "x", known: ["a", "b"]).description
                == "unknown model 'x'; known models: a, b")
    }

    @Test("the shape walk prints the book's lines and leaves the network in training mode")
    func shapeWalkRows() throws {
        let summary = try ModelZoo.summary(of: "lenet")
        #expect(summary.rows.first?.description == "Conv2D output shape:\t[1, 6, 28, 28]")
        #expect(
            summary.rows.map(\.layer) == [
                "Conv2D", "Sigmoid", "AvgPool2D", "Conv2D", "Sigmoid", "AvgPool2D", "Flatten",
                "Linear", "Sigmoid", "Linear", "Sigmoid", "Linear",
            ])
        #expect(summary.parameterCount == 61_706)
        let lines = summary.description.split(separator: "\n")
        #expect(lines.first == "lenet: LeNet (sigmoid, average pooling), d2l §6.6, input [1, 1, 28, 28]")
        #expect(lines.count == 14 && lines.last == "61706 parameters")
        #expect(summary.network.namedModules().allSatisfy { $0.module.isTraining })
        // The same seed gives the same network.
        let again = try ModelZoo.summary(of: "lenet")
        #expect(
            summary.network.parameters()[0].isClose(
                to: again.network.parameters()[0], relativeTolerance: 0, absoluteTolerance: 0))
    }

    @Test("ResNet walked at its training size, 96×96 (D2L_REFERENCE.md §14a: 24, 24, 12, 6, 3)")
    func resNetAtTrainingSize() throws {
        let summary = try ModelZoo.summary(of: "resnet", inputShape: [1, 1, 96, 96])
        #expect(summary.inputShape == [1, 1, 96, 96])
        #expect(
            summary.rows.map(\.outputShape) == [
                [1, 64, 24, 24], [1, 64, 24, 24], [1, 128, 12, 12], [1, 256, 6, 6],
                [1, 512, 3, 3], [1, 512, 1, 1], [1, 512], [1, 10],
            ])
    }

    @Test("the book's initialization: Xavier-uniform for CNNs, N(0, 0.01²) for linear models; biases keep the default")
    func bookInitialization() throws {
        for name in ["lenet", "mlp"] {
            let model = try ModelZoo.model(named: name)
            var first = RandomGenerator(seed: 21), second = RandomGenerator(seed: 21)
            let plain = model.make(using: &first)
            let initialized = model.makeInitialized(using: &second)
            for (layer, plainLayer) in zip(initialized.layers, plain.layers) {
                guard let layer = layer as? any WeightedLayer, let plainLayer = plainLayer as? any WeightedLayer else {
                    continue
                }
                // Same draw of the network, so the biases (not re-initialized) agree exactly.
                #expect(layer.bias!.isClose(to: plainLayer.bias!, relativeTolerance: 0, absoluteTolerance: 0))
                #expect(!layer.weight.isClose(to: plainLayer.weight))
                let values = layer.weight.scalars
                let (fanIn, fanOut) = fans(of: layer.weight.shape)
                if name == "lenet" {
                    let bound = (6 / Float(fanIn + fanOut)).squareRoot()
                    let largest = values.map(abs).max()!
                    #expect(
                        largest <= bound && largest > 0.9 * bound,
                        "\(name): Xavier bound \(bound), largest |w| \(largest)")
                } else if values.count > 10_000 {
                    let mean = values.reduce(0, +) / Float(values.count)
                    let deviation = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count))
                        .squareRoot()
                    #expect(abs(deviation - 0.01) < 0.0005, "\(name): standard deviation \(deviation), expected 0.01")
                }
            }
        }
    }
}
