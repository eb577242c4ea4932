// AlexNet: Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep Convolutional
// Neural Networks", NeurIPS 2012
// (https://papers.nips.cc/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html).
// Textbook: "Dive into Deep Learning", section 7.1
// (https://d2l.ai/chapter_convolutional-modern/alexnet.html; d2l-zh 2.0.0 §7.1).
// Deviations, all the book's: one input channel (Fashion-MNIST resized to 224×224) and 10 classes;
// the first convolution pads by 1 so 224 works (the paper's 227); no local response normalization;
// one tower instead of the paper's two-GPU split. As in the paper: overlapping max pooling 3/2,
// ReLU everywhere, dropout 0.5 after each of the two hidden dense layers. The book trains it with Xavier-uniform weights (`ModelZoo`'s `weightInitializer`).
import Engine

/// The book's AlexNet: `[N, 1, 224, 224]` → `[N, 10]`:
///
///     conv 1→96 11×11/4 pad 1 → ReLU → max 3/2          96×54×54 → 96×26×26
///     conv 96→256 5×5 pad 2 → ReLU → max 3/2            256×26×26 → 256×12×12
///     conv 256→384, 384→384, 384→256, 3×3 pad 1, each ReLU → max 3/2   → 256×5×5
///     flatten 6400 → linear 4096 → ReLU → dropout 0.5 → linear 4096 → ReLU → dropout 0.5 → linear 10
///
/// Keys as in PyTorch: `0.*`, `3.*`, `6.*`, `8.*`, `10.*` (convolutions), `14.*`, `17.*`, `20.*`
/// (linear layers); 46 764 746 parameters.
public enum AlexNet {
    /// The network with PyTorch's default initialization drawn from `generator` (the dropout layers
    /// take their seeds from it too).
    public static func make(
        inputChannels: Int = 1, classCount: Int = 10, dropout: Float = 0.5,
        using generator: inout RandomGenerator
    ) -> Sequential {
        Sequential {
            Conv2D(
                inputChannels: inputChannels, outputChannels: 96, kernelSize: 11, stride: 4, padding: 1,
                using: &generator)
            ReLU()
            MaxPool2D(kernelSize: 3, stride: 2)
            Conv2D(inputChannels: 96, outputChannels: 256, kernelSize: 5, padding: 2, using: &generator)
            ReLU()
            MaxPool2D(kernelSize: 3, stride: 2)
            Conv2D(inputChannels: 256, outputChannels: 384, kernelSize: 3, padding: 1, using: &generator)
            ReLU()
            Conv2D(inputChannels: 384, outputChannels: 384, kernelSize: 3, padding: 1, using: &generator)
            ReLU()
            Conv2D(inputChannels: 384, outputChannels: 256, kernelSize: 3, padding: 1, using: &generator)
            ReLU()
            MaxPool2D(kernelSize: 3, stride: 2)
            Flatten()
            Linear(inputFeatures: 256 * 5 * 5, outputFeatures: 4096, using: &generator)
            ReLU()
            Dropout(probability: dropout, using: &generator)
            Linear(inputFeatures: 4096, outputFeatures: 4096, using: &generator)
            ReLU()
            Dropout(probability: dropout, using: &generator)
            Linear(inputFeatures: 4096, outputFeatures: classCount, using: &generator)
        }
    }
}
