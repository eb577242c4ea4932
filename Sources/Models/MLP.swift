// Multilayer perceptron, concise: "Dive into Deep Learning", section 4.3
// (https://d2l.ai/chapter_multilayer-perceptrons/mlp-concise.html), and its dropout variant,
// section 4.6 (https://d2l.ai/chapter_multilayer-perceptrons/dropout.html; d2l-zh 2.0.0 §4.3, §4.6).
// Dropout: Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov, "Dropout: A Simple Way to
// Prevent Neural Networks from Overfitting", JMLR 2014 (https://jmlr.org/papers/v15/srivastava14a.html).
// Deviation: none. The book's concise versions re-initialize weights with N(0, 0.01²)
// (`ModelZoo`'s `weightInitializer`); the dropout section's scratch `Net` (lin1, lin2, lin3) is the
// same network under other keys and is not reproduced.
import Engine

/// Fully connected ReLU networks on flattened images, built from a configuration: one
/// `Linear → ReLU [→ Dropout]` per hidden layer, then a `Linear` to the classes.
///
/// `MLP.make(.book)` is §4.3's `Flatten, Linear(784,256), ReLU, Linear(256,10)` (keys `1.*`, `3.*`);
/// `MLP.make(.dropout)` is §4.6's `Flatten, Linear(784,256), ReLU, Dropout(0.2), Linear(256,256),
/// ReLU, Dropout(0.5), Linear(256,10)` (keys `1.*`, `4.*`, `7.*`).
public enum MLP {
    /// One hidden layer: its width and the dropout probability after its ReLU (`nil`: no dropout layer).
    public struct HiddenLayer: Sendable, Equatable {
        /// Output features of the hidden `Linear`.
        public var width: Int
        /// Drop probability of the `Dropout` after the ReLU, or `nil` for none.
        public var dropout: Float?

        /// A hidden layer of `width` units, followed by dropout `dropout` when given.
        public init(width: Int, dropout: Float? = nil) {
            self.width = width
            self.dropout = dropout
        }
    }

    /// The sizes of a network: inputs, hidden layers in order, outputs.
    public struct Configuration: Sendable, Equatable {
        /// Input features (784 for flattened 28×28 images).
        public var inputs: Int
        /// The hidden layers, first to last.
        public var hidden: [HiddenLayer]
        /// Output classes.
        public var outputs: Int

        /// A configuration `inputs → hidden… → outputs`.
        public init(inputs: Int = 784, hidden: [HiddenLayer], outputs: Int = 10) {
            self.inputs = inputs
            self.hidden = hidden
            self.outputs = outputs
        }

        /// §4.3: 784-256-10.
        public static let book = Configuration(hidden: [HiddenLayer(width: 256)])
        /// §4.6: 784-256-256-10 with dropout 0.2 after the first hidden layer and 0.5 after the second.
        public static let dropout = Configuration(hidden: [
            HiddenLayer(width: 256, dropout: 0.2),
            HiddenLayer(width: 256, dropout: 0.5),
        ])
    }

    /// The network of `configuration`, with PyTorch's default initialization drawn from
    /// `generator` (each `Dropout` takes its seed from it too). `[N, 1, 28, 28]` or `[N, 784]` → `[N, outputs]`.
    public static func make(
        _ configuration: Configuration = .book, using generator: inout RandomGenerator
    ) -> Sequential {
        var layers: [any Module] = [Flatten()]
        var inputs = configuration.inputs
        for layer in configuration.hidden {
            layers.append(Linear(inputFeatures: inputs, outputFeatures: layer.width, using: &generator))
            layers.append(ReLU())
            if let probability = layer.dropout { layers.append(Dropout(probability: probability, using: &generator)) }
            inputs = layer.width
        }
        layers.append(Linear(inputFeatures: inputs, outputFeatures: configuration.outputs, using: &generator))
        return Sequential(layers)
    }
}
