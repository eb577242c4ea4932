import Engine
import Foundation
import TestSupport
import Testing

/// `Fixtures/layers.json`, written by `Tools/Reference/generate_layer_fixtures.py` (torch 2.15.0,
/// safetensors 0.8.0), with the safetensors files beside it in `Fixtures/safetensors/`.
struct LayerFixtureFile: Codable, Sendable {
    struct Trajectory: Codable, Sendable, CustomTestStringConvertible {
        var name: String
        var steps: Int
        var learningRateChanges: [String: Float]
        var losses: [Float]
        var finalParameters: [String: TensorFixture]
        var finalOptimizerState: [String: TensorFixture]
        var testDescription: String { name }
    }

    struct Network: Codable, Sendable, CustomTestStringConvertible {
        struct Entry: Codable, Sendable {
            var key: String
            var shape: [Int]
            var dtype: String?
        }
        var name: String
        var parameters: [Entry]
        var buffers: [Entry]
        var parameterCount: Int
        var testDescription: String { name }
    }

    /// A convolutional batch-norm network after two training batches, run on one more batch.
    struct ConvNetCase: Codable, Sendable {
        var input: TensorFixture
        var labels: [Int]
        var evalOutput: TensorFixture
        var trainOutput: TensorFixture
        var gradients: [String: TensorFixture]
        var buffersAfterTraining: [String: TensorFixture]
    }

    var generator: String
    var torch: String
    var safetensors: String
    var torchTensors: [String: TensorFixture]
    var trajectoryInputs: TensorFixture
    var trajectoryLabels: [Int]
    var trajectories: [Trajectory]
    var batchNormInput: TensorFixture
    var batchNormEvalOutput: TensorFixture
    var networks: [Network]
    var convNet: ConvNetCase
}

/// The layer fixtures, loaded once (empty lists if the file is missing; a dedicated test fails then).
let layerFixtures: LayerFixtureFile? = try? loadFixture(LayerFixtureFile.self, "layers.json")

/// The URL of a committed safetensors fixture.
func safetensorsFixture(_ name: String) -> URL {
    fixturesDirectory.appendingPathComponent("safetensors").appendingPathComponent(name)
}

/// A fresh, empty temporary directory for one test.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("d2l-layers-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
