import Testing

@testable import Engine

/// Finite-difference gradient checks for the CNN ops, independent of PyTorch (the check and its
/// tolerance: `GradientCheck`). To stay fast in debug builds each input is probed at up to 64
/// evenly spread elements.
@Suite("CNN finite-difference gradient checks")
struct CNNGradientCheckTests {
    static func check(
        _ name: String, _ inputs: [Tensor], sourceLocation: SourceLocation = #_sourceLocation,
        _ op: ([Tensor]) -> Tensor
    ) {
        let problems = GradientCheck.mismatches(name, inputs: inputs, probes: 64, op)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
    }

    static func normal(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = RandomGenerator(seed: seed)
        return Tensor.randomNormal(shape, using: &generator)
    }

    /// Distinct values at least 0.05 apart (> 2h), so no finite-difference step changes which
    /// element a max-pooling window picks.
    static func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = RandomGenerator(seed: seed)
        let count = shape.reduce(1, *)
        return Tensor(generator.permutation(count).map { Float($0) * 0.05 - Float(count) * 0.025 }, shape: shape)
    }

    @Test(
        "conv2D",
        arguments: [
            // (N, C, H, W, O, kh, kw, sh, sw, ph, pw, bias)
            [2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1],
            [2, 2, 7, 7, 3, 3, 5, 2, 1, 1, 2, 1],
            [1, 2, 9, 9, 2, 5, 5, 2, 2, 2, 2, 0],
            [3, 4, 3, 4, 2, 1, 1, 1, 1, 0, 0, 1],
            [1, 2, 10, 10, 2, 3, 3, 4, 4, 3, 3, 1],
            [1, 1, 12, 12, 2, 11, 11, 4, 4, 2, 2, 1],
        ])
    func convolution(_ c: [Int]) {
        let x = Self.normal([c[0], c[1], c[2], c[3]], seed: 1)
        let w = Self.normal([c[4], c[1], c[5], c[6]], seed: 2)
        let inputs = c[11] == 1 ? [x, w, Self.normal([c[4]], seed: 3)] : [x, w]
        Self.check("conv2D \(c)", inputs) { t in
            conv2D(
                t[0], weight: t[1], bias: t.count > 2 ? t[2] : nil, stride: (c[7], c[8]), padding: (c[9], c[10]),
                workspaceBudgetBytes: 256) // several chunks
        }
    }

    @Test("maxPool2D", arguments: [[2, 2, 1, 1, 0, 0], [3, 3, 2, 2, 1, 1], [2, 3, 2, 1, 1, 1], [3, 3, 1, 1, 1, 1]])
    func maxPooling(_ p: [Int]) {
        Self.check("maxPool2D \(p)", [Self.distinct([2, 2, 5, 6], seed: 4)]) { t in
            maxPool2D(t[0], kernelSize: (p[0], p[1]), stride: (p[2], p[3]), padding: (p[4], p[5]))
        }
    }

    @Test("avgPool2D", arguments: [[2, 2, 1, 1, 0, 0], [3, 3, 2, 2, 1, 1], [2, 3, 2, 1, 1, 1]])
    func averagePooling(_ p: [Int]) {
        Self.check("avgPool2D \(p)", [Self.normal([2, 2, 5, 6], seed: 5)]) { t in
            avgPool2D(t[0], kernelSize: (p[0], p[1]), stride: (p[2], p[3]), padding: (p[4], p[5]))
        }
    }

    @Test("globalAvgPool2D")
    func globalPooling() {
        Self.check("globalAvgPool2D", [Self.normal([2, 3, 4, 5], seed: 6)]) { t in globalAvgPool2D(t[0]) }
    }

    @Test("batchNorm", arguments: [[4, 3], [3, 2, 3, 4]], [true, false])
    func batchNormalization(_ shape: [Int], training: Bool) {
        let channels = shape[1]
        let x = Self.normal(shape, seed: 7) * 2 + 1
        let scale = Self.normal([channels], seed: 8) * 0.5 + 1
        let shift = Self.normal([channels], seed: 9)
        Self.check("batchNorm \(shape) training \(training)", [x, scale, shift]) { t in
            // Fresh running statistics on every call, so the probes all see the same ones.
            batchNorm(
                t[0], scale: t[1], shift: t[2], runningMean: Tensor(shape: [channels], repeating: 0.3),
                runningVariance: Tensor(shape: [channels], repeating: 1.7), training: training)
        }
    }

    @Test("concatenate")
    func concatenation() {
        let inputs = [
            Self.normal([2, 1, 3, 2], seed: 10), Self.normal([2, 3, 3, 2], seed: 11),
            Self.normal([2, 2, 3, 2], seed: 12),
        ]
        Self.check("concatenate axis 1", inputs) { t in concatenate(t, axis: 1) }
        Self.check("concatenate axis -1", Array(inputs[1...1]) + [Self.normal([2, 3, 3, 5], seed: 13)]) { t in
            concatenate(t, axis: -1)
        }
    }

    @Test("dropout with a fixed mask")
    func dropoutMask() {
        Self.check("dropout p = 0.3", [Self.normal([4, 6], seed: 14)]) { t in
            var generator = RandomGenerator(seed: 42) // the same mask on every call
            return dropout(t[0], probability: 0.3, training: true, using: &generator)
        }
    }
}
