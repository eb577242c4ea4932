import Engine
import Testing

/// Programming errors in the CNN ops stop the process (`precondition`), with a message naming
/// the op and the shapes. Each exit test runs its body in a child process.
@Suite("CNN preconditions")
struct CNNPreconditionTests {
    @Test("conv2D: kernel larger than the padded input")
    func convolutionKernelTooLarge() async {
        await #expect(processExitsWith: .failure) {
            _ = conv2D(Tensor.zeros([1, 1, 4, 4]), weight: Tensor.zeros([1, 1, 7, 7]), padding: (1, 1))
        }
    }

    @Test("conv2D: zero stride")
    func convolutionZeroStride() async {
        await #expect(processExitsWith: .failure) {
            _ = conv2D(Tensor.zeros([1, 1, 4, 4]), weight: Tensor.zeros([1, 1, 3, 3]), stride: (0, 1))
        }
    }

    @Test("conv2D: negative stride")
    func convolutionNegativeStride() async {
        await #expect(processExitsWith: .failure) {
            _ = conv2D(Tensor.zeros([1, 1, 4, 4]), weight: Tensor.zeros([1, 1, 3, 3]), stride: (1, -2))
        }
    }

    @Test("conv2D: channel mismatch between input and weight")
    func convolutionChannelMismatch() async {
        await #expect(processExitsWith: .failure) {
            _ = conv2D(Tensor.zeros([1, 3, 4, 4]), weight: Tensor.zeros([2, 1, 3, 3]))
        }
    }

    @Test("maxPool2D: kernel larger than the padded input")
    func poolingKernelTooLarge() async {
        await #expect(processExitsWith: .failure) {
            _ = maxPool2D(Tensor.zeros([1, 1, 2, 2]), kernelSize: (3, 3), stride: (1, 1))
        }
    }

    @Test("avgPool2D: zero stride")
    func poolingZeroStride() async {
        await #expect(processExitsWith: .failure) {
            _ = avgPool2D(Tensor.zeros([1, 1, 4, 4]), kernelSize: (2, 2), stride: (0, 0))
        }
    }

    @Test("batchNorm: scale of the wrong length")
    func batchNormShapes() async {
        await #expect(processExitsWith: .failure) {
            _ = batchNorm(
                Tensor.zeros([4, 3]), scale: Tensor.ones([2]), shift: Tensor.zeros([3]),
                runningMean: Tensor.zeros([3]), runningVariance: Tensor.ones([3]), training: true)
        }
    }

    @Test("concatenate: shapes differ off the axis")
    func concatenationShapes() async {
        await #expect(processExitsWith: .failure) {
            _ = concatenate([Tensor.zeros([2, 3]), Tensor.zeros([3, 3])], axis: 1)
        }
    }

    @Test("samePadding: even kernel")
    func samePaddingEven() async {
        await #expect(processExitsWith: .failure) { _ = samePadding(kernelSize: (2, 3)) }
    }
}
