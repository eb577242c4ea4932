// LeNet-5: LeCun, Bottou, Bengio and Haffner, "Gradient-Based Learning Applied to Document
// Recognition", Proceedings of the IEEE 86(11), 1998 (http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf).
// Textbook: "Dive into Deep Learning", section 6.6
// (https://d2l.ai/chapter_convolutional-neural-networks/lenet.html; d2l-zh 2.0.0 §6.6).
// Deviations from the paper, all the book's: the first convolution pads by 2 so 28×28 Fashion-MNIST
// images play the paper's 32×32 inputs; C3 connects every input channel (the paper's sparse
// connection table is dropped); S2/S4 are plain average pooling without trainable coefficients;
// the output is a 10-way linear layer trained with softmax cross-entropy (not Gaussian RBF units).
// The book trains it with Xavier-uniform weights (`ModelZoo`'s `weightInitializer`).
import Engine

/// The book's LeNet: `[N, 1, 28, 28]` → `[N, 10]`, sigmoid activations and average pooling:
///
///     conv 1→6 5×5 pad 2 → σ → avg 2  → conv 6→16 5×5 → σ → avg 2 → flatten 400
///     → linear 400→120 → σ → linear 120→84 → σ → linear 84→10
///
/// Shapes per layer: 6×28×28, 6×14×14, 16×10×10, 16×5×5, 400, 120, 84, 10. Keys as in PyTorch:
/// `0.*` (conv1), `3.*` (conv2), `7.*`, `9.*`, `11.*` (the linear layers); 61 706 parameters.
public enum LeNet {
    /// The network with PyTorch's default initialization drawn from `generator`.
    public static func make(using generator: inout RandomGenerator) -> Sequential {
        Sequential {
            Conv2D(inputChannels: 1, outputChannels: 6, kernelSize: 5, padding: 2, using: &generator)
            Sigmoid()
            AvgPool2D(kernelSize: 2, stride: 2)
            Conv2D(inputChannels: 6, outputChannels: 16, kernelSize: 5, using: &generator)
            Sigmoid()
            AvgPool2D(kernelSize: 2, stride: 2)
            Flatten()
            Linear(inputFeatures: 16 * 5 * 5, outputFeatures: 120, using: &generator)
            Sigmoid()
            Linear(inputFeatures: 120, outputFeatures: 84, using: &generator)
            Sigmoid()
            Linear(inputFeatures: 84, outputFeatures: 10, using: &generator)
        }
    }
}
