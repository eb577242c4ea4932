// GoogLeNet (Inception v1): Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke and
// Rabinovich, "Going Deeper with Convolutions", CVPR 2015 (https://arxiv.org/abs/1409.4842).
// Textbook: "Dive into Deep Learning", section 7.4
// (https://d2l.ai/chapter_convolutional-modern/googlenet.html; d2l-zh 2.0.0 §7.4).
// The Inception widths are the paper's Table 1 (3a … 5b). Deviations, all the book's: one input
// channel (Fashion-MNIST resized to 96×96) and 10 classes; no local response normalization, no
// auxiliary classifiers, no dropout before the classifier; the stem is conv 7×7/2 → max 3/2 →
// conv 1×1 → conv 3×3 → max 3/2 without LRN.
// The book trains it with Xavier-uniform weights (`ModelZoo`'s `weightInitializer`).
import Engine

/// The Inception block: four parallel paths over the same input, each ending in ReLU, concatenated
/// along channels (`[N, C, H, W]` → `[N, c1 + c2.1 + c3.1 + c4, H, W]`):
///
///     p1: conv 1×1 → c1
///     p2: conv 1×1 → c2.0 → ReLU → conv 3×3 pad 1 → c2.1
///     p3: conv 1×1 → c3.0 → ReLU → conv 5×5 pad 2 → c3.1
///     p4: max 3×3 stride 1 pad 1 → conv 1×1 → c4
///
/// Children and keys as the book's `Inception` module: `p1_1`, `p2_1`, `p2_2`, `p3_1`, `p3_2`,
/// `p4_1` (the pooling) and `p4_2`.
public final class Inception: ModuleBase, ModuleContainer {
    /// Path 1, the 1×1 convolution (`p1_1`).
    public let path1: Conv2D
    /// Path 2's 1×1 reduction (`p2_1`) and 3×3 convolution (`p2_2`).
    public let path2Reduction: Conv2D, path2: Conv2D
    /// Path 3's 1×1 reduction (`p3_1`) and 5×5 convolution (`p3_2`).
    public let path3Reduction: Conv2D, path3: Conv2D
    /// Path 4's 3×3 max pooling (`p4_1`) and 1×1 projection (`p4_2`).
    public let path4Pool: MaxPool2D, path4: Conv2D

    /// The book's `Inception(in_channels, c1, c2, c3, c4)` with PyTorch's default initialization
    /// drawn from `generator`.
    public init(
        inputChannels: Int, c1: Int, c2: (Int, Int), c3: (Int, Int), c4: Int,
        using generator: inout RandomGenerator
    ) {
        path1 = Conv2D(inputChannels: inputChannels, outputChannels: c1, kernelSize: 1, using: &generator)
        path2Reduction = Conv2D(inputChannels: inputChannels, outputChannels: c2.0, kernelSize: 1, using: &generator)
        path2 = Conv2D(inputChannels: c2.0, outputChannels: c2.1, kernelSize: 3, padding: 1, using: &generator)
        path3Reduction = Conv2D(inputChannels: inputChannels, outputChannels: c3.0, kernelSize: 1, using: &generator)
        path3 = Conv2D(inputChannels: c3.0, outputChannels: c3.1, kernelSize: 5, padding: 2, using: &generator)
        path4Pool = MaxPool2D(kernelSize: 3, stride: 1, padding: 1)
        path4 = Conv2D(inputChannels: inputChannels, outputChannels: c4, kernelSize: 1, using: &generator)
    }

    /// The output channels, `c1 + c2.1 + c3.1 + c4`.
    public var outputChannels: Int {
        path1.outputChannels + path2.outputChannels + path3.outputChannels + path4.outputChannels
    }

    public var children: [(name: String, module: any Module)] {
        [
            ("p1_1", path1), ("p2_1", path2Reduction), ("p2_2", path2), ("p3_1", path3Reduction), ("p3_2", path3),
            ("p4_1", path4Pool), ("p4_2", path4),
        ]
    }

    /// The four paths' shapes joined along channels.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let p1 = try outputShape(of: path1, named: "p1_1", for: inputShape)
        let p2 = try outputShape(
            of: path2, named: "p2_2", for: outputShape(of: path2Reduction, named: "p2_1", for: inputShape))
        let p3 = try outputShape(
            of: path3, named: "p3_2", for: outputShape(of: path3Reduction, named: "p3_1", for: inputShape))
        let p4 = try outputShape(
            of: path4, named: "p4_2", for: outputShape(of: path4Pool, named: "p4_1", for: inputShape))
        return try concatenatedShape([p1, p2, p3, p4], axis: 1)
    }

    /// `concat(relu(p1(x)), relu(p2(x)), relu(p3(x)), relu(p4(x)))` along channels.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let p1 = path1(input).relu()
        let p2 = path2(path2Reduction(input).relu()).relu()
        let p3 = path3(path3Reduction(input).relu()).relu()
        let p4 = path4(path4Pool(input)).relu()
        return concatenate([p1, p2, p3, p4], axis: 1)
    }
}

/// The book's GoogLeNet: five stages and a linear classifier, `[N, 1, 96, 96]` → `[N, 10]`,
/// stage outputs 64×24×24, 192×12×12, 480×6×6, 832×3×3, 1024 (after global average pooling).
/// Keys `0.0.*` (the 7×7 stem), `1.0.*`, `1.2.*`, `2.0.p1_1.*`, …, `5.*`; 5 977 530 parameters.
public enum GoogLeNet {
    /// The widths of one Inception block: `c1`, `(c2 reduction, c2)`, `(c3 reduction, c3)`, `c4`.
    public struct InceptionWidths: Sendable, Equatable {
        /// Path 1's channels.
        public var c1: Int
        /// Path 2's reduction and 3×3 channels.
        public var c2: (Int, Int)
        /// Path 3's reduction and 5×5 channels.
        public var c3: (Int, Int)
        /// Path 4's channels.
        public var c4: Int

        /// The widths `(c1, c2, c3, c4)` of the paper's Table 1 row.
        public init(_ c1: Int, _ c2: (Int, Int), _ c3: (Int, Int), _ c4: Int) {
            (self.c1, self.c2, self.c3, self.c4) = (c1, c2, c3, c4)
        }

        /// The block's output channels, `c1 + c2.1 + c3.1 + c4`.
        public var outputChannels: Int { c1 + c2.1 + c3.1 + c4 }

        public static func == (a: InceptionWidths, b: InceptionWidths) -> Bool {
            a.c1 == b.c1 && a.c2 == b.c2 && a.c3 == b.c3 && a.c4 == b.c4
        }
    }

    /// Inception 3a, 3b (stage b3).
    public static let stage3: [InceptionWidths] = [
        InceptionWidths(64, (96, 128), (16, 32), 32),
        InceptionWidths(128, (128, 192), (32, 96), 64),
    ]
    /// Inception 4a … 4e (stage b4).
    public static let stage4: [InceptionWidths] = [
        InceptionWidths(192, (96, 208), (16, 48), 64),
        InceptionWidths(160, (112, 224), (24, 64), 64),
        InceptionWidths(128, (128, 256), (24, 64), 64),
        InceptionWidths(112, (144, 288), (32, 64), 64),
        InceptionWidths(256, (160, 320), (32, 128), 128),
    ]
    /// Inception 5a, 5b (stage b5).
    public static let stage5: [InceptionWidths] = [
        InceptionWidths(256, (160, 320), (32, 128), 128),
        InceptionWidths(384, (192, 384), (48, 128), 128),
    ]

    /// Inception blocks of `widths` in sequence from `inputChannels`, appended to `layers`;
    /// returns the channels after the last.
    private static func appendInceptions(
        _ widths: [InceptionWidths], inputChannels: Int, to layers: inout [any Module],
        using generator: inout RandomGenerator
    ) -> Int {
        var channels = inputChannels
        for w in widths {
            layers.append(Inception(inputChannels: channels, c1: w.c1, c2: w.c2, c3: w.c3, c4: w.c4, using: &generator))
            channels = w.outputChannels
        }
        return channels
    }

    /// The network with PyTorch's default initialization drawn from `generator`.
    public static func make(
        inputChannels: Int = 1, classCount: Int = 10, using generator: inout RandomGenerator
    ) -> Sequential {
        let b1 = Sequential {
            Conv2D(
                inputChannels: inputChannels, outputChannels: 64, kernelSize: 7, stride: 2, padding: 3,
                using: &generator)
            ReLU()
            MaxPool2D(kernelSize: 3, stride: 2, padding: 1)
        }
        let b2 = Sequential {
            Conv2D(inputChannels: 64, outputChannels: 64, kernelSize: 1, using: &generator)
            ReLU()
            Conv2D(inputChannels: 64, outputChannels: 192, kernelSize: 3, padding: 1, using: &generator)
            ReLU()
            MaxPool2D(kernelSize: 3, stride: 2, padding: 1)
        }
        var b3Layers: [any Module] = [], b4Layers: [any Module] = [], b5Layers: [any Module] = []
        var channels = appendInceptions(stage3, inputChannels: 192, to: &b3Layers, using: &generator)
        b3Layers.append(MaxPool2D(kernelSize: 3, stride: 2, padding: 1))
        channels = appendInceptions(stage4, inputChannels: channels, to: &b4Layers, using: &generator)
        b4Layers.append(MaxPool2D(kernelSize: 3, stride: 2, padding: 1))
        channels = appendInceptions(stage5, inputChannels: channels, to: &b5Layers, using: &generator)
        b5Layers += [AdaptiveAvgPool2D(), Flatten()]
        return Sequential {
            b1
            b2
            Sequential(b3Layers)
            Sequential(b4Layers)
            Sequential(b5Layers)
            Linear(inputFeatures: channels, outputFeatures: classCount, using: &generator)
        }
    }
}
