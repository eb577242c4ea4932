import ArgumentParser
import Datasets
import Engine
import Foundation
import Models
import Training

/// `d2l summary <model>`: the book's shape walk and the parameter count.
struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each layer's output shape for one example input, and the parameter count.")

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).") var model: String
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        let summary = try ModelZoo.summary(of: model)
        if json {
            struct Row: Encodable {
                var layer: String
                var output_shape: [Int]
            }
            struct Document: Encodable {
                var model: String
                var input_shape: [Int]
                var layers: [Row]
                var parameters: Int
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let document = Document(
                model: model, input_shape: summary.inputShape,
                layers: summary.rows.map { Row(layer: $0.layer, output_shape: $0.outputShape) },
                parameters: summary.parameterCount)
            print(String(decoding: try encoder.encode(document), as: UTF8.self))
            return
        }
        print("\(summary.model.title) (§\(summary.model.section)), input \(summary.inputShape)")
        for row in summary.rows { print(row) }
        print("parameters: \(summary.parameterCount)")
    }
}

/// `d2l evaluate <model> --weights FILE`: test accuracy of saved weights (ours or PyTorch's).
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test accuracy of a model's saved weights (safetensors state dict, ours or PyTorch's).")

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).") var model: String
    @Option(help: "The weights: a safetensors state dict with the model's PyTorch keys, or a d2l checkpoint.")
    var weights: String
    @Option(help: "Use only the first N test examples.") var testLimit: Int?
    @Option(help: "Batch size for evaluation.") var batchSize = 256
    @Option(help: "Resize images to N×N (default: the book's for the model).") var resize: Int?
    @Option(help: "Fashion-MNIST directory.") var data: String?

    func validate() throws {
        if let testLimit, testLimit < 1 { throw ValidationError("--test-limit must be >= 1, got \(testLimit)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be >= 1, got \(batchSize)") }
        if let resize, !(1...largestResize).contains(resize) {
            throw ValidationError("--resize must be between 1 and \(largestResize), got \(resize)")
        }
    }

    func run() throws {
        let entry = try ModelZoo.model(named: model)
        var generator = RandomGenerator(seed: 0)
        let network = entry.make(using: &generator)
        let side = resize ?? entry.hyperparameters.resize
        try checkSize(of: network, experimentName: model, side: side ?? 28)
        let contents = try SafeTensors.read(from: URL(fileURLWithPath: weights))
        var state = contents.dictionary
        if contents.metadata["format"] == Trainer.checkpointFormat { // a training checkpoint: its model part
            state = Dictionary(
                uniqueKeysWithValues: state.compactMap { key, tensor in
                    key.hasPrefix("model.") ? (String(key.dropFirst(6)), tensor) : nil
                })
        }
        try network.loadStateDict(state)
        let data = try FashionMNIST(directory: data)
        let loader = ImageBatchLoader(
            dataSet: data.test, batchSize: batchSize, shuffle: false, limit: testLimit,
            resize: side.map { ImageSize($0, $0) })
        let accuracy = evaluateAccuracy(network, on: loader)
        print(String(format: "%@: test acc %.4f on %d examples (%@)", model, accuracy, loader.count, BLAS.summary))
    }
}
