// ResNet: He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
// (https://arxiv.org/abs/1512.03385).
// Textbook: "Dive into Deep Learning", section 7.6
// (https://d2l.ai/chapter_convolutional-modern/resnet.html; d2l-zh 2.0.0 §7.6).
// Stages come from the paper's Table 1 (basic two-layer blocks: ResNet-18 `[2, 2, 2, 2]`,
// ResNet-34 `[3, 4, 6, 3]`). Deviations, all the book's: one input channel (Fashion-MNIST resized
// to 96×96) and 10 classes; every convolution has a bias (the paper's are bias-free before batch
// norm); a downsampling block's shortcut is a 1×1 convolution with stride 2 *without* batch norm
// (option B of the paper, minus its BN).
// The book trains it with Xavier-uniform weights (`ModelZoo`'s `weightInitializer`).
import Engine

/// The book's residual block: `y = ReLU(BN(conv3×3(ReLU(BN(conv3×3/s(x))))) + shortcut(x))`, where
/// the shortcut is `x` itself or, with `useProjection`, a 1×1 convolution with the same stride (for
/// a change of channels or size). `[N, C, H, W]` → `[N, channels, H/s, W/s]`.
///
/// Children and keys as the book's `Residual`: `conv1`, `conv2`, `conv3` (only with the
/// projection), `bn1`, `bn2`.
public final class Residual: ModuleBase, ModuleContainer {
    /// The first 3×3 convolution (carries the stride).
    public let conv1: Conv2D
    /// The second 3×3 convolution.
    public let conv2: Conv2D
    /// The 1×1 projection of the shortcut, or `nil` for the identity.
    public let conv3: Conv2D?
    /// Batch norm after `conv1` and after `conv2`.
    public let bn1: BatchNorm2D, bn2: BatchNorm2D

    /// The book's `Residual(input_channels, num_channels, use_1x1conv, strides)` with PyTorch's
    /// default initialization drawn from `generator`.
    public init(
        inputChannels: Int, channels: Int, useProjection: Bool = false, stride: Int = 1,
        using generator: inout RandomGenerator
    ) {
        precondition(
            useProjection || (inputChannels == channels && stride == 1),
            "Residual: an identity shortcut needs inputChannels == channels and stride 1, got \(inputChannels) → \(channels), stride \(stride)"
        )
        conv1 = Conv2D(
            inputChannels: inputChannels, outputChannels: channels, kernelSize: 3, stride: stride, padding: 1,
            using: &generator)
        conv2 = Conv2D(inputChannels: channels, outputChannels: channels, kernelSize: 3, padding: 1, using: &generator)
        conv3 =
            useProjection
            ? Conv2D(
                inputChannels: inputChannels, outputChannels: channels, kernelSize: 1, stride: stride, using: &generator
            )
            : nil
        bn1 = BatchNorm2D(featureCount: channels)
        bn2 = BatchNorm2D(featureCount: channels)
    }

    public var children: [(name: String, module: any Module)] {
        var result: [(name: String, module: any Module)] = [("conv1", conv1), ("conv2", conv2)]
        if let conv3 { result.append(("conv3", conv3)) }
        return result + [("bn1", bn1), ("bn2", bn2)]
    }

    /// The main path's shape, which the shortcut's must equal (the sum does not broadcast here).
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        var main = try outputShape(of: conv1, named: "conv1", for: inputShape)
        main = try outputShape(of: bn1, named: "bn1", for: main)
        main = try outputShape(of: conv2, named: "conv2", for: main)
        main = try outputShape(of: bn2, named: "bn2", for: main)
        let shortcut = try conv3.map { try outputShape(of: $0, named: "conv3", for: inputShape) } ?? inputShape
        guard shortcut == main else {
            throw ShapeError(
                "Residual: the main path gives \(main) but the shortcut \(shortcut) for input \(inputShape)")
        }
        return main
    }

    /// `ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x))`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let y = bn2(conv2(bn1(conv1(input)).relu()))
        let shortcut = conv3.map { $0(input) } ?? input
        return (y + shortcut).relu()
    }
}

/// The book's ResNet: a 7×7 stem, four stages of residual blocks, global average pooling and a
/// linear classifier. For `[N, 1, 224, 224]` the stages give 64×56×56, 64×56×56, 128×28×28,
/// 256×14×14, 512×7×7 (at the book's training size 96: 24, 24, 12, 6, 3). ResNet-18: keys `0.0.*`,
/// `0.1.*` (stem conv and BN), `1.0.conv1.*`, …, `4.1.bn2.*`, `7.*`; 11 178 378 parameters.
public enum ResNet {
    /// Residual blocks per stage (the paper's Table 1, basic blocks).
    public enum Depth: Int, Sendable, CaseIterable {
        /// `[2, 2, 2, 2]`, the book's network.
        case resNet18 = 18
        /// `[3, 4, 6, 3]`.
        case resNet34 = 34

        /// Blocks in each of the four stages.
        public var blockCounts: [Int] {
            switch self {
            case .resNet18: return [2, 2, 2, 2]
            case .resNet34: return [3, 4, 6, 3]
            }
        }
    }

    /// Output channels of the four stages.
    public static let stageChannels = [64, 128, 256, 512]

    /// One stage, the book's `resnet_block`: `blockCount` residual blocks; unless it is the first
    /// stage, the first block halves the size and projects the shortcut.
    public static func stage(
        inputChannels: Int, channels: Int, blockCount: Int, isFirst: Bool,
        using generator: inout RandomGenerator
    ) -> Sequential {
        var blocks: [any Module] = []
        for index in 0..<blockCount {
            if index == 0 && !isFirst {
                blocks.append(
                    Residual(
                        inputChannels: inputChannels, channels: channels, useProjection: true, stride: 2,
                        using: &generator))
            } else {
                blocks.append(Residual(inputChannels: channels, channels: channels, using: &generator))
            }
        }
        return Sequential(blocks)
    }

    /// The network of `depth` (default the book's ResNet-18) with PyTorch's default initialization
    /// drawn from `generator`.
    public static func make(
        _ depth: Depth = .resNet18, inputChannels: Int = 1, classCount: Int = 10,
        using generator: inout RandomGenerator
    ) -> Sequential {
        var layers: [any Module] = [
            Sequential {
                Conv2D(
                    inputChannels: inputChannels, outputChannels: 64, kernelSize: 7, stride: 2, padding: 3,
                    using: &generator)
                BatchNorm2D(featureCount: 64)
                ReLU()
                MaxPool2D(kernelSize: 3, stride: 2, padding: 1)
            }
        ]
        var channels = 64
        for (index, (stageChannels, blockCount)) in zip(stageChannels, depth.blockCounts).enumerated() {
            layers.append(
                stage(
                    inputChannels: channels, channels: stageChannels, blockCount: blockCount, isFirst: index == 0,
                    using: &generator))
            channels = stageChannels
        }
        layers += [
            AdaptiveAvgPool2D(), Flatten(),
            Linear(inputFeatures: channels, outputFeatures: classCount, using: &generator),
        ]
        return Sequential(layers)
    }
}
