import Datasets
import Engine
import Foundation
import Testing

/// `Fixtures/models.json`, written by `Tools/Reference/generate_model_fixtures.py` (torch 2.15.0)
/// from the textbook's own PyTorch definitions.
struct ModelFixtureFile: Decodable, Sendable {
    /// A named tensor's key and shape (and, in a state dict, its PyTorch dtype).
    struct KeyShape: Decodable, Sendable, Equatable {
        var key: String
        var shape: [Int]
        var dtype: String?
    }

    /// A row of the book's shape walk: `layer.__class__.__name__` and the output shape.
    struct WalkRow: Decodable, Sendable {
        var layer: String
        var shape: [Int]
    }

    /// One network: `named_parameters()`, `state_dict()`, the parameter count and the shape walk
    /// for `inputShape`.
    struct Model: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var parameterCount: Int
        var inputShape: [Int]
        var parameters: [KeyShape]
        var stateDict: [KeyShape]
        var shapeWalk: [WalkRow]

        var testDescription: String { name }
    }

    /// Base64 little-endian float32 data with a shape.
    struct EncodedTensor: Decodable, Sendable {
        var shape: [Int]
        var data: String

        var tensor: Tensor {
            let bytes = Data(base64Encoded: data)!
            let values = bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / 4)).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            }
            return Tensor(values, shape: shape)
        }
    }

    /// PyTorch's evaluation of the trained LeNet in `weights` on the first `count` test images.
    struct LeNetEvaluation: Decodable, Sendable {
        var weights: String
        var count: Int
        var labels: [Int]
        var predictions: [Int]
        var correct: Int
        var smallestMargin: Float
        var logits: EncodedTensor
    }

    var generator: String
    var torch: String
    var models: [Model]
    var scratchBatchNorm: [ScratchBatchNormCase]
    var leNetEvaluation: LeNetEvaluation
}

/// The directory of the committed fixture files (found from this source file, so tests run from
/// any working directory and never need Python).
let modelFixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The decoded `models.json`, loaded once (a missing or malformed file fails every test that uses it).
let modelFixtures: ModelFixtureFile? = try? JSONDecoder().decode(
    ModelFixtureFile.self, from: Data(contentsOf: modelFixturesDirectory.appendingPathComponent("models.json")))

extension ModelFixtureFile {
    /// One case of the book's scratch `BatchNorm` module: its state before, one training step
    /// (output and the gradients of `L = Σ output ⊙ upstream`), the moving statistics after, and
    /// the no-grad prediction with them.
    struct ScratchBatchNormCase: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var featureCount: Int
        var dimensionCount: Int
        var gamma, beta, movingMean, movingVariance: EncodedTensor
        var input, upstream, output: EncodedTensor
        var inputGradient, gammaGradient, betaGradient: EncodedTensor
        var movingMeanAfter, movingVarianceAfter, prediction: EncodedTensor

        var testDescription: String { name }
    }
}

/// Whether Debian's `dataset-fashion-mnist` is installed where `FashionMNIST` looks by default.
let fashionMNISTInstalled = FileManager.default.fileExists(
    atPath: FashionMNIST.defaultDirectory + "/" + FashionMNIST.Split.test.imagesFileName)
