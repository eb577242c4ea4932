import Engine
import TestSupport
import Testing

/// The CNN ops against PyTorch (fixtures from `Tools/Reference/generate_cnn_fixtures.py`,
/// torch 2.15.0): forward values and the gradient of every differentiable input.
///
/// Tolerance: `|ours − torch| ≤ 1e-5 + 1e-4·|torch|` as for the core ops, except convolution
/// outputs and gradients, which are sums of up to a few hundred products (K = C·kh·kw, or
/// N·H′·W′ for dW) that BLAS and PyTorch add in different orders: there the absolute part is
/// `1e-5·√terms`, the typical size of float32 rounding in such sums of unit-scale values.
@Suite("CNN ops against PyTorch")
struct CNNReferenceTests {
    @Test("the fixture file is present, pinned, and has every family")
    func fixtureFile() throws {
        let file = try #require(cnnFixtures)
        #expect(file.torch.hasPrefix("2.15.0"))
        #expect(file.convolution.count >= 15 && file.pooling.count >= 16 && file.batchNorm.count >= 4)
        #expect(!file.concatenation.isEmpty && !file.resize.isEmpty)
    }

    @Test("conv2D forward and gradients", arguments: cnnFixtures?.convolution ?? [])
    func convolution(_ testCase: ConvolutionCase) {
        let x = testCase.input.tensor, w = testCase.weight.tensor, b = testCase.bias?.tensor
        for t in [x, w] + (b.map { [$0] } ?? []) { t.requiresGrad = true }
        let y = testCase.apply(x, w, b)
        let patch = Float(w.shape[1] * w.shape[2] * w.shape[3])
        let reductionLength = Float(y.shape[0] * y.shape[2] * y.shape[3])
        expectClose(y, testCase.output.tensor, absoluteTolerance: 1e-5 * patch.squareRoot(), "\(testCase.name): output")
        y.backward(seed: testCase.upstream.tensor)
        expectClose(
            x.grad ?? Tensor.zeros([0]), testCase.inputGradient.tensor,
            absoluteTolerance: 1e-5 * Float(w.shape[0] * w.shape[2] * w.shape[3]).squareRoot(),
            "\(testCase.name): input gradient")
        expectClose(
            w.grad ?? Tensor.zeros([0]), testCase.weightGradient.tensor,
            absoluteTolerance: 1e-5 * reductionLength.squareRoot(), "\(testCase.name): weight gradient")
        if let b, let expected = testCase.biasGradient {
            expectClose(
                b.grad ?? Tensor.zeros([0]), expected.tensor,
                absoluteTolerance: 1e-5 * reductionLength.squareRoot(), "\(testCase.name): bias gradient")
        }
    }

    @Test("pooling forward and gradients", arguments: cnnFixtures?.pooling ?? [])
    func pooling(_ testCase: PoolingCase) {
        let x = testCase.input.tensor
        x.requiresGrad = true
        let y = testCase.apply(x)
        expectClose(y, testCase.output.tensor, "\(testCase.name): output")
        y.backward(seed: testCase.upstream.tensor)
        expectClose(x.grad ?? Tensor.zeros([0]), testCase.inputGradient.tensor, "\(testCase.name): input gradient")
    }

    @Test("batch norm forward, gradients and running statistics", arguments: cnnFixtures?.batchNorm ?? [])
    func batchNormalization(_ testCase: BatchNormCase) {
        let scale = testCase.scale.tensor, shift = testCase.shift.tensor
        let runningMean = testCase.initialRunningMean.tensor, runningVariance = testCase.initialRunningVariance.tensor
        for input in testCase.inputs.dropLast() {
            _ = batchNorm(
                input.tensor, scale: scale, shift: shift, runningMean: runningMean,
                runningVariance: runningVariance, training: testCase.training,
                momentum: testCase.momentum, epsilon: testCase.epsilon)
        }
        let x = testCase.inputs.last!.tensor
        for t in [x, scale, shift] { t.requiresGrad = true }
        let y = batchNorm(
            x, scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance,
            training: testCase.training, momentum: testCase.momentum, epsilon: testCase.epsilon)
        expectClose(y, testCase.output.tensor, "\(testCase.name): output")
        expectClose(runningMean, testCase.runningMean.tensor, "\(testCase.name): running mean")
        expectClose(runningVariance, testCase.runningVariance.tensor, "\(testCase.name): running variance")
        y.backward(seed: testCase.upstream.tensor)
        expectClose(x.grad ?? Tensor.zeros([0]), testCase.inputGradient.tensor, "\(testCase.name): input gradient")
        expectClose(scale.grad ?? Tensor.zeros([0]), testCase.scaleGradient.tensor, "\(testCase.name): scale gradient")
        expectClose(shift.grad ?? Tensor.zeros([0]), testCase.shiftGradient.tensor, "\(testCase.name): shift gradient")
    }

    @Test("concatenation forward and gradients", arguments: cnnFixtures?.concatenation ?? [])
    func concatenation(_ testCase: ConcatenationCase) {
        let inputs = testCase.inputs.map(\.tensor)
        for t in inputs { t.requiresGrad = true }
        let y = concatenate(inputs, axis: testCase.axis)
        // Exact: concatenation and its gradient only copy values, on every CPU.
        expectClose(y, testCase.output.tensor, relativeTolerance: 0, absoluteTolerance: 0, "\(testCase.name): output")
        y.backward(seed: testCase.upstream.tensor)
        for (index, (input, expected)) in zip(inputs, testCase.inputGradients).enumerated() {
            expectClose(
                input.grad ?? Tensor.zeros([0]), expected.tensor, relativeTolerance: 0, absoluteTolerance: 0,
                "\(testCase.name): gradient of input \(index)")
        }
    }

    @Test("bilinear resize matches interpolate(align_corners=False)", arguments: cnnFixtures?.resize ?? [])
    func resize(_ testCase: ResizeCase) {
        let y = resizeBilinear(testCase.input.tensor, height: testCase.height, width: testCase.width)
        expectClose(y, testCase.output.tensor, "\(testCase.name): output")
    }
}
