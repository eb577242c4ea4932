import Engine
import Foundation
import Testing

/// The cases of `Fixtures/cnn.json`, written by `Tools/Reference/generate_cnn_fixtures.py`
/// (torch 2.15.0). Tensors are stored as shape plus base64 of little-endian float32 values, which
/// keeps the file a few hundred KB; gradients are those of `L = Σ output ⊙ upstream`.

/// A tensor stored as shape and base64-encoded little-endian float32 data.
struct CompactTensorFixture: Decodable, Sendable {
    var shape: [Int]
    var data: String

    /// The decoded tensor (a fresh object on every access, so tests may mark it requiresGrad).
    var tensor: Tensor {
        guard let bytes = Data(base64Encoded: data), bytes.count == 4 * shape.reduce(1, *) else {
            fatalError("cnn.json: tensor of shape \(shape) has malformed data")
        }
        let values = bytes.withUnsafeBytes { raw in
            (0..<shape.reduce(1, *)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
            }
        }
        return Tensor(values, shape: shape)
    }
}

struct ConvolutionCase: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var stride: [Int]
    var padding: [Int]
    var input: CompactTensorFixture
    var weight: CompactTensorFixture
    var bias: CompactTensorFixture?
    var upstream: CompactTensorFixture
    var output: CompactTensorFixture
    var inputGradient: CompactTensorFixture
    var weightGradient: CompactTensorFixture
    var biasGradient: CompactTensorFixture?
    var testDescription: String { name }
}

struct PoolingCase: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    /// "max", "avg" or "global".
    var kind: String
    var kernel: [Int]?
    var stride: [Int]?
    var padding: [Int]?
    var input: CompactTensorFixture
    var upstream: CompactTensorFixture
    var output: CompactTensorFixture
    var inputGradient: CompactTensorFixture
    var testDescription: String { name }

    /// Runs this case's pooling through Engine.
    func apply(_ x: Tensor) -> Tensor {
        switch kind {
        case "max":
            return maxPool2D(
                x, kernelSize: (kernel![0], kernel![1]), stride: (stride![0], stride![1]),
                padding: (padding![0], padding![1]))
        case "avg":
            return avgPool2D(
                x, kernelSize: (kernel![0], kernel![1]), stride: (stride![0], stride![1]),
                padding: (padding![0], padding![1]))
        default: return globalAvgPool2D(x)
        }
    }
}

struct BatchNormCase: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var training: Bool
    var momentum: Float
    var epsilon: Float
    /// One batch per step; the gradients are those of the last step.
    var inputs: [CompactTensorFixture]
    var scale: CompactTensorFixture
    var shift: CompactTensorFixture
    var initialRunningMean: CompactTensorFixture
    var initialRunningVariance: CompactTensorFixture
    /// The running statistics after all steps.
    var runningMean: CompactTensorFixture
    var runningVariance: CompactTensorFixture
    var upstream: CompactTensorFixture
    var output: CompactTensorFixture
    var inputGradient: CompactTensorFixture
    var scaleGradient: CompactTensorFixture
    var shiftGradient: CompactTensorFixture
    var testDescription: String { name }
}

struct ConcatenationCase: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var axis: Int
    var inputs: [CompactTensorFixture]
    var upstream: CompactTensorFixture
    var output: CompactTensorFixture
    var inputGradients: [CompactTensorFixture]
    var testDescription: String { name }
}

struct ResizeCase: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var height: Int
    var width: Int
    var input: CompactTensorFixture
    var output: CompactTensorFixture
    var testDescription: String { name }
}

struct CNNFixtureFile: Decodable, Sendable {
    var generator: String
    var torch: String
    var convolution: [ConvolutionCase]
    var pooling: [PoolingCase]
    var batchNorm: [BatchNormCase]
    var concatenation: [ConcatenationCase]
    var resize: [ResizeCase]
}

/// The reference cases, loaded once (empty if the file is missing; `CNNReferenceTests` then fails).
let cnnFixtures: CNNFixtureFile? = try? loadFixture(CNNFixtureFile.self, "cnn.json")

extension ConvolutionCase {
    /// Runs this case's convolution through Engine (public entry point, default workspace).
    func apply(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        conv2D(x, weight: w, bias: b, stride: (stride[0], stride[1]), padding: (padding[0], padding[1]))
    }
}
