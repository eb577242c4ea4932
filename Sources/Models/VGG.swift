// VGG: Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
// Recognition", ICLR 2015 (https://arxiv.org/abs/1409.1556).
// Textbook: "Dive into Deep Learning", section 7.2
// (https://d2l.ai/chapter_convolutional-modern/vgg.html; d2l-zh 2.0.0 §7.2).
// Variants come from the paper's Table 1 (configurations A, B, D, E: VGG-11, -13, -16, -19),
// as convolution counts per block. Deviations, all the book's: one input channel (Fashion-MNIST
// resized to 224×224) and 10 classes; the convolution widths are divided by `ratio` (the book
// trains VGG-11 with ratio 4: 16, 32, 64, 128, 128 channels) while the dense layers keep 4096
// units; no local response normalization (configuration A-LRN) and no 1×1 layers (configuration C).
// The book trains it with Xavier-uniform weights (`ModelZoo`'s `weightInitializer`).
import Engine

/// VGG networks from a table of blocks: each block is `n × (conv 3×3 pad 1 → ReLU)` then
/// `max 2/2`, followed by `flatten → linear 4096 → ReLU → dropout 0.5 → linear 4096 → ReLU →
/// dropout 0.5 → linear classes`. For a 224×224 input the five blocks leave 7×7 planes.
///
/// `VGG.make(.vgg11, ratio: 4)` is the book's network (keys `0.0.*`, `1.0.*`, `2.0.*`, `2.2.*`, …,
/// `6.*`, `9.*`, `12.*`; 43 093 322 parameters); shapes 16×112×112, 32×56×56, 64×28×28,
/// 128×14×14, 128×7×7, 6272, 4096, …, 10.
public enum VGG {
    /// One block of the table: how many 3×3 convolutions and their output channels.
    public struct Block: Sendable, Equatable {
        /// The number of `conv 3×3 → ReLU` pairs before the pooling.
        public var convolutionCount: Int
        /// The channels of every convolution of the block.
        public var outputChannels: Int

        /// A block of `convolutionCount` convolutions with `outputChannels` channels.
        public init(_ convolutionCount: Int, _ outputChannels: Int) {
            self.convolutionCount = convolutionCount
            self.outputChannels = outputChannels
        }
    }

    /// The depths of the paper's Table 1 (weight layers, counting the three dense ones).
    public enum Depth: Int, Sendable, CaseIterable {
        /// Configuration A, the book's `conv_arch = ((1,64),(1,128),(2,256),(2,512),(2,512))`.
        case vgg11 = 11
        /// Configuration B.
        case vgg13 = 13
        /// Configuration D.
        case vgg16 = 16
        /// Configuration E.
        case vgg19 = 19

        /// Convolutions per block: A `[1,1,2,2,2]`, B `[2,2,2,2,2]`, D `[2,2,3,3,3]`, E `[2,2,4,4,4]`.
        public var convolutionCounts: [Int] {
            switch self {
            case .vgg11: return [1, 1, 2, 2, 2]
            case .vgg13: return [2, 2, 2, 2, 2]
            case .vgg16: return [2, 2, 3, 3, 3]
            case .vgg19: return [2, 2, 4, 4, 4]
            }
        }

        /// The blocks at full width (64, 128, 256, 512, 512 channels).
        public var blocks: [Block] {
            zip(convolutionCounts, [64, 128, 256, 512, 512]).map { Block($0, $1) }
        }
    }

    /// One VGG block, the book's `vgg_block`: `convolutionCount × (conv 3×3 pad 1 → ReLU)`, then
    /// `max 2/2`; halves the height and width.
    public static func block(
        convolutionCount: Int, inputChannels: Int, outputChannels: Int,
        using generator: inout RandomGenerator
    ) -> Sequential {
        var layers: [any Module] = []
        var channels = inputChannels
        for _ in 0..<convolutionCount {
            layers.append(
                Conv2D(
                    inputChannels: channels, outputChannels: outputChannels, kernelSize: 3, padding: 1,
                    using: &generator))
            layers.append(ReLU())
            channels = outputChannels
        }
        layers.append(MaxPool2D(kernelSize: 2, stride: 2))
        return Sequential(layers)
    }

    /// The network of `blocks` (the book's `vgg(conv_arch)`) for `[N, inputChannels, 224, 224]`,
    /// with PyTorch's default initialization drawn from `generator`.
    public static func make(
        blocks: [Block], inputChannels: Int = 1, classCount: Int = 10, hiddenWidth: Int = 4096,
        dropout: Float = 0.5, using generator: inout RandomGenerator
    ) -> Sequential {
        precondition(!blocks.isEmpty, "VGG.make: needs at least one block")
        var layers: [any Module] = []
        var channels = inputChannels
        for blockConfiguration in blocks {
            layers.append(
                block(
                    convolutionCount: blockConfiguration.convolutionCount, inputChannels: channels,
                    outputChannels: blockConfiguration.outputChannels, using: &generator))
            channels = blockConfiguration.outputChannels
        }
        let side = 224 >> blocks.count
        layers += [
            Flatten(),
            Linear(inputFeatures: channels * side * side, outputFeatures: hiddenWidth, using: &generator),
            ReLU(),
            Dropout(probability: dropout, using: &generator),
            Linear(inputFeatures: hiddenWidth, outputFeatures: hiddenWidth, using: &generator),
            ReLU(),
            Dropout(probability: dropout, using: &generator),
            Linear(inputFeatures: hiddenWidth, outputFeatures: classCount, using: &generator),
        ]
        return Sequential(layers)
    }

    /// The network of the paper's `depth` with every convolution width divided by `ratio` (the
    /// book's `small_conv_arch = [(n, c // ratio) for (n, c) in conv_arch]`, ratio 4).
    public static func make(
        _ depth: Depth = .vgg11, ratio: Int = 4, inputChannels: Int = 1, classCount: Int = 10,
        using generator: inout RandomGenerator
    ) -> Sequential {
        precondition(ratio >= 1, "VGG.make: ratio must be ≥ 1, got \(ratio)")
        let blocks = depth.blocks.map { Block($0.convolutionCount, $0.outputChannels / ratio) }
        return make(blocks: blocks, inputChannels: inputChannels, classCount: classCount, using: &generator)
    }
}
