// Softmax regression, concise: "Dive into Deep Learning", section 3.7
// (https://d2l.ai/chapter_linear-networks/softmax-regression-concise.html; d2l-zh 2.0.0 §3.7).
// The model is multinomial logistic regression, a single affine layer whose logits go to
// `crossEntropy` (softmax through LogSumExp), as the book's concise version does.
// Deviation: none. The book re-initializes the weight with N(0, 0.01²) and keeps PyTorch's default
// bias; `ModelZoo` records that as the model's `weightInitializer`.
import Engine

/// Softmax regression on flattened images: `logits = flatten(x) Wᵀ + b`, `[N, 1, 28, 28]` (or
/// `[N, 784]`) → `[N, 10]`, the book's `nn.Sequential(nn.Flatten(), nn.Linear(784, 10))`.
///
/// Keys as in PyTorch: `1.weight` `[10, 784]`, `1.bias` `[10]` (7 850 parameters).
public enum SoftmaxRegression {
    /// The network `Flatten → Linear(inputs, outputs)` with PyTorch's default initialization
    /// drawn from `generator`.
    public static func make(inputs: Int = 784, outputs: Int = 10, using generator: inout RandomGenerator) -> Sequential
    {
        Sequential {
            Flatten()
            Linear(inputFeatures: inputs, outputFeatures: outputs, using: &generator)
        }
    }
}
