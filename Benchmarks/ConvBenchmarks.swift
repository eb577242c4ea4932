import Engine
import Foundation

/// Forward + backward (`y = conv2D(x, w, b)`, then `y.backward(seed: ones)` giving dx, dw, db) of
/// one conv layer, timed as a whole. FLOPs = 3 × forward (forward `2·M·N·K`; backward one GEMM for
/// dW and one for dX of the same size). `sgemm_gflops` is a plain sgemm of the forward's M×N×K,
/// timed right after, the ceiling the layer would reach if im2col/col2im were free.
func convolutionLayerBenchmarks(quick: Bool) -> [Benchmark] {
    zooConvolutionLayers(quick: quick).map { layer in
        let name = "conv \(layer.name) fwd+bwd"
        return Benchmark(name: name) { warmup, repetitions in
            var generator = RandomGenerator(seed: 2)
            let x = Tensor.randomNormal(layer.inputShape, using: &generator)
            let conv = Conv2D(
                inputChannels: layer.inputChannels, outputChannels: layer.outputChannels,
                kernelSize: layer.kernel, stride: layer.stride, padding: layer.padding,
                using: &generator)
            x.requiresGrad = true
            let seed = Tensor.ones([layer.batch, layer.outputChannels, layer.outputSize, layer.outputSize])
            var output = Tensor.zeros([0])
            let times = measure(warmup: warmup, repetitions: repetitions) {
                x.zeroGrad()
                conv.zeroGrad()
                output = conv(x)
                output.backward(seed: seed)
            }
            checkResult(output, shape: seed.shape, name)
            guard let dx = x.grad else { fatalError("benchmark \(name): no input gradient") }
            checkResult(dx, shape: layer.inputShape, name + " dx")
            let (m, n, k) = layer.gemm
            let sgemm = timeSgemm(m: m, n: n, k: k, warmup: 1, repetitions: max(repetitions, 3))
            var result = BenchmarkResult(
                name: name, group: "conv", params: conv.parameterCount, flops: 3 * layer.forwardFlops, times: times,
                notes:
                    "input \(layer.inputShape), \(layer.outputChannels)×\(layer.kernel)×\(layer.kernel) s\(layer.stride) p\(layer.padding); GEMM \(m)x\(n)x\(k)"
            )
            result.sgemmGflops = layer.forwardFlops / median(sgemm) / 1e6
            return result
        }
    }
}
