// Network in Network: Lin, Chen and Yan, "Network In Network", ICLR 2014
// (https://arxiv.org/abs/1312.4400).
// Textbook: "Dive into Deep Learning", section 7.3
// (https://d2l.ai/chapter_convolutional-modern/nin.html; d2l-zh 2.0.0 §7.3).
// Deviations, all the book's: AlexNet-like first layers (11×11/4, 5×5, 3×3 with 96, 256, 384
// channels) on one-channel 224×224 Fashion-MNIST; 3×3 max pooling with stride 2 between blocks;
// one dropout 0.5 before the last block; the last block has 10 channels, followed by global average
// pooling (with the block's final ReLU before the pool). The book trains it with Xavier-uniform
// weights (`ModelZoo`'s `weightInitializer`).
import Engine

/// The book's NiN: four NiN blocks (a convolution and two 1×1 convolutions, each followed by ReLU)
/// separated by max pooling, ending in global average pooling over 10 channels:
/// `[N, 1, 224, 224]` → `[N, 10]`, shapes 96×54×54, 96×26×26, 256×26×26, 256×12×12, 384×12×12,
/// 384×5×5, 384×5×5, 10×5×5, 10×1×1, 10. Keys `0.0.*`, `0.2.*`, `0.4.*`, `2.*`, `4.*`, `7.*`;
/// 1 992 166 parameters.
public enum NiN {
    /// One NiN block, the book's `nin_block`: `conv k×k/stride pad → ReLU → conv 1×1 → ReLU →
    /// conv 1×1 → ReLU` (a per-pixel MLP after the convolution), keys `0.*`, `2.*`, `4.*`.
    public static func block(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int,
        using generator: inout RandomGenerator
    ) -> Sequential {
        Sequential {
            Conv2D(
                inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
                stride: stride, padding: padding, using: &generator)
            ReLU()
            Conv2D(inputChannels: outputChannels, outputChannels: outputChannels, kernelSize: 1, using: &generator)
            ReLU()
            Conv2D(inputChannels: outputChannels, outputChannels: outputChannels, kernelSize: 1, using: &generator)
            ReLU()
        }
    }

    /// The network with PyTorch's default initialization drawn from `generator`.
    public static func make(
        inputChannels: Int = 1, classCount: Int = 10, dropout: Float = 0.5,
        using generator: inout RandomGenerator
    ) -> Sequential {
        Sequential {
            block(
                inputChannels: inputChannels, outputChannels: 96, kernelSize: 11, stride: 4, padding: 0,
                using: &generator)
            MaxPool2D(kernelSize: 3, stride: 2)
            block(inputChannels: 96, outputChannels: 256, kernelSize: 5, stride: 1, padding: 2, using: &generator)
            MaxPool2D(kernelSize: 3, stride: 2)
            block(inputChannels: 256, outputChannels: 384, kernelSize: 3, stride: 1, padding: 1, using: &generator)
            MaxPool2D(kernelSize: 3, stride: 2)
            Dropout(probability: dropout, using: &generator)
            block(
                inputChannels: 384, outputChannels: classCount, kernelSize: 3, stride: 1, padding: 1, using: &generator)
            AdaptiveAvgPool2D()
            Flatten()
        }
    }
}
