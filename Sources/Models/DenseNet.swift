// DenseNet: Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional Networks",
// CVPR 2017 (https://arxiv.org/abs/1608.06993).
// Textbook: "Dive into Deep Learning", section 7.7
// (https://d2l.ai/chapter_convolutional-modern/densenet.html; d2l-zh 2.0.0 §7.7).
// Deviations, all the book's: one input channel (Fashion-MNIST resized to 96×96) and 10 classes;
// four dense blocks of four BN-ReLU-conv 3×3 layers (no 1×1 bottlenecks, i.e. not DenseNet-B),
// growth rate 32, transitions halving the channels (compression 0.5, as DenseNet-C); the
// ResNet-style stem (conv 7×7/2, BN, ReLU, max 3/2); convolutions with biases.
// The book trains it with Xavier-uniform weights (`ModelZoo`'s `weightInitializer`).
import Engine

/// The book's dense block: `convolutionCount` layers `BN → ReLU → conv 3×3 pad 1` with
/// `growthRate` output channels each, every layer's output concatenated to its input along
/// channels: `[N, C, H, W]` → `[N, C + convolutionCount · growthRate, H, W]`.
///
/// Keys as the book's `DenseBlock`: its layers live in a child `net` (`net.0.0.weight` is the
/// first layer's batch-norm weight, `net.0.2.weight` its convolution).
public final class DenseBlock: ModuleBase, ModuleContainer {
    /// The layers, each a `Sequential` of `BatchNorm2D`, `ReLU`, `Conv2D` (the book's `conv_block`).
    public let net: Sequential

    /// The book's `DenseBlock(num_convs, input_channels, num_channels)` with PyTorch's default
    /// initialization drawn from `generator`.
    public init(convolutionCount: Int, inputChannels: Int, growthRate: Int, using generator: inout RandomGenerator) {
        var layers: [any Module] = []
        for index in 0..<convolutionCount {
            layers.append(
                DenseNet.convolutionBlock(
                    inputChannels: inputChannels + index * growthRate,
                    outputChannels: growthRate, using: &generator))
        }
        net = Sequential(layers)
    }

    public var children: [(name: String, module: any Module)] { [("net", net)] }

    /// The channels grow by each layer's output channels; height and width stay.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        var shape = inputShape
        for (index, layer) in net.layers.enumerated() {
            shape = try concatenatedShape([shape, outputShape(of: layer, named: "net.\(index)", for: shape)], axis: 1)
        }
        return shape
    }

    /// `x ← concat(x, layer(x))` for each layer in turn.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        net.layers.reduce(input) { x, layer in concatenate([x, layer(x)], axis: 1) }
    }
}

/// The book's DenseNet: stem, four dense blocks with transitions between them, then
/// `BN → ReLU → global average pooling → flatten → linear`. Channels 64 → 192 → 96 → 224 → 112 →
/// 240 → 120 → 248; for `[N, 1, 96, 96]` the planes go 24, 24, 12, 12, 6, 6, 3, 3.
public enum DenseNet {
    /// The book's `conv_block`: `BN → ReLU → conv 3×3 pad 1` (keys `0.*` BN, `2.*` conv).
    public static func convolutionBlock(
        inputChannels: Int, outputChannels: Int,
        using generator: inout RandomGenerator
    ) -> Sequential {
        Sequential {
            BatchNorm2D(featureCount: inputChannels)
            ReLU()
            Conv2D(
                inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 3, padding: 1,
                using: &generator)
        }
    }

    /// The book's `transition_block`: `BN → ReLU → conv 1×1 → avg 2/2` (halves height and width).
    public static func transitionBlock(
        inputChannels: Int, outputChannels: Int,
        using generator: inout RandomGenerator
    ) -> Sequential {
        Sequential {
            BatchNorm2D(featureCount: inputChannels)
            ReLU()
            Conv2D(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 1, using: &generator)
            AvgPool2D(kernelSize: 2, stride: 2)
        }
    }

    /// The network with `convolutionCounts` layers per dense block (the book's `[4, 4, 4, 4]`) and
    /// `growthRate` (32), with PyTorch's default initialization drawn from `generator`.
    public static func make(
        convolutionCounts: [Int] = [4, 4, 4, 4], growthRate: Int = 32, inputChannels: Int = 1,
        classCount: Int = 10, using generator: inout RandomGenerator
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
        for (index, count) in convolutionCounts.enumerated() {
            layers.append(
                DenseBlock(convolutionCount: count, inputChannels: channels, growthRate: growthRate, using: &generator))
            channels += count * growthRate
            if index != convolutionCounts.count - 1 {
                layers.append(transitionBlock(inputChannels: channels, outputChannels: channels / 2, using: &generator))
                channels /= 2
            }
        }
        layers += [
            BatchNorm2D(featureCount: channels), ReLU(), AdaptiveAvgPool2D(), Flatten(),
            Linear(inputFeatures: channels, outputFeatures: classCount, using: &generator),
        ]
        return Sequential(layers)
    }
}
