import CKernels
import Engine
import Foundation

/// One convolution layer of a zoo network at a benchmark batch size, and the GEMM its forward
/// pass lowers to: `Y[O, B·H′·W′] = W[O, C·kh·kw] · col[C·kh·kw, B·H′·W′]` (the whole batch as one
/// product; the engine cuts N into chunks of images, see `Sources/Engine/Ops/Convolution.swift`).
struct ConvolutionLayerShape {
    /// `"<model> <layer>"`, e.g. `"alexnet conv2"`.
    var name: String
    var batch: Int
    var inputChannels: Int
    var outputChannels: Int
    var kernel: Int
    var stride: Int = 1
    var padding: Int = 0
    /// Input height = width.
    var size: Int

    /// Output height = width: `⌊(size + 2·padding − kernel) / stride⌋ + 1`.
    var outputSize: Int { (size + 2 * padding - kernel) / stride + 1 }
    /// The forward GEMM's `M = O`, `N = B·H′·W′`, `K = C·kh·kw`.
    var gemm: (m: Int, n: Int, k: Int) {
        (outputChannels, batch * outputSize * outputSize, inputChannels * kernel * kernel)
    }
    /// Forward FLOPs, `2·M·N·K` (bias ignored).
    var forwardFlops: Double { 2 * Double(gemm.m) * Double(gemm.n) * Double(gemm.k) }
    /// `[B, C, H, W]`.
    var inputShape: [Int] { [batch, inputChannels, size, size] }
}

/// Representative conv layers of LeNet, AlexNet, VGG-11/4 and GoogLeNet at the book's input sizes
/// (batch 256 for LeNet, 16 for 224×224, 32 for GoogLeNet's 96×96; `quick`: 16, 2 and 4).
/// `Benchmarks/Reference/pytorch_bench.py` has the same table (`CONV_LAYERS`).
func zooConvolutionLayers(quick: Bool) -> [ConvolutionLayerShape] {
    let lenet = quick ? 16 : 256, big = quick ? 2 : 16, google = quick ? 4 : 32
    return [
        ConvolutionLayerShape(
            name: "lenet conv1", batch: lenet, inputChannels: 1, outputChannels: 6, kernel: 5, padding: 2, size: 28),
        ConvolutionLayerShape(
            name: "lenet conv2", batch: lenet, inputChannels: 6, outputChannels: 16, kernel: 5, size: 14),
        ConvolutionLayerShape(
            name: "alexnet conv1", batch: big, inputChannels: 1, outputChannels: 96, kernel: 11, stride: 4, padding: 1,
            size: 224),
        ConvolutionLayerShape(
            name: "alexnet conv2", batch: big, inputChannels: 96, outputChannels: 256, kernel: 5, padding: 2, size: 26),
        ConvolutionLayerShape(
            name: "alexnet conv3", batch: big, inputChannels: 256, outputChannels: 384, kernel: 3, padding: 1, size: 12),
        ConvolutionLayerShape(
            name: "vgg conv1", batch: big, inputChannels: 1, outputChannels: 16, kernel: 3, padding: 1, size: 224),
        ConvolutionLayerShape(
            name: "vgg conv3", batch: big, inputChannels: 32, outputChannels: 64, kernel: 3, padding: 1, size: 56),
        ConvolutionLayerShape(
            name: "vgg conv5", batch: big, inputChannels: 64, outputChannels: 128, kernel: 3, padding: 1, size: 28),
        ConvolutionLayerShape(
            name: "googlenet b1", batch: google, inputChannels: 1, outputChannels: 64, kernel: 7, stride: 2, padding: 3,
            size: 96),
        ConvolutionLayerShape(
            name: "googlenet b2 3x3", batch: google, inputChannels: 64, outputChannels: 192, kernel: 3, padding: 1,
            size: 24),
        ConvolutionLayerShape(
            name: "googlenet 3a 1x1", batch: google, inputChannels: 192, outputChannels: 64, kernel: 1, size: 12),
        ConvolutionLayerShape(
            name: "googlenet 3a 5x5", batch: google, inputChannels: 16, outputChannels: 32, kernel: 5, padding: 2,
            size: 12),
    ]
}

/// Median time (ms) of `C = A·B` with `A [m, k]`, `B [k, n]` through `matmul` (`cblas_sgemm`).
func timeSgemm(m: Int, n: Int, k: Int, warmup: Int, repetitions: Int) -> [Double] {
    var generator = RandomGenerator(seed: 1)
    let a = Tensor.randomNormal([m, k], using: &generator)
    let b = Tensor.randomNormal([k, n], using: &generator)
    var product = Tensor.zeros([0])
    let times = measure(warmup: warmup, repetitions: repetitions) { product = matmul(a, b) }
    checkResult(product, shape: [m, n], "sgemm \(m)x\(n)x\(k)")
    blackHole(product)
    return times
}

/// The machine's single-precision FMA peak, GFLOP/s, measured rather than computed from a
/// clock we cannot read on a VM: `d2l_fma_peak_gflops` (12 independent vector FMAs per round on
/// the widest vectors the CPU has, no memory traffic) on `cores` POSIX threads released together
/// from a start flag, then on one core alone; the best of 20 samples of each (~20 ms apiece, after
/// one untimed), so a descheduled sample does not lower it. (Timed through a dispatch pool's
/// `concurrentPerform` instead, one run in three reported one core's figure for two, 102 against
/// 198–200 GFLOP/s; pool workers that start late could not be told apart from the VM.) Without
/// FMA (`lanes == 0`), or when its threads cannot be started, it falls back to the best of ten
/// square sgemms (2048³, 1024³ when `quick`), a lower bound.
struct FMAPeak {
    /// GFLOP/s of one core running the loop alone.
    var oneCore: Double
    /// GFLOP/s of `cores` threads running it at once: the denominator of every `% of peak`.
    var allCores: Double
    var cores: Int
    /// Vector lanes of the loop (16 with AVX-512F, 8 with AVX2 + FMA; 0: the sgemm fallback).
    var lanes: Int

    /// How the figure was obtained, for the header and the JSON report.
    var method: String {
        lanes == 0
            ? "best of 10 sgemms, a lower bound (no FMA)"
            : "FMA loop, \(lanes) lanes, best of 20 on \(cores) threads; one core alone \(String(format: "%.1f", oneCore))"
    }
}

/// Measures `FMAPeak` (see there) on `cores` threads.
func measuredFMAPeak(cores: Int, quick: Bool) -> FMAPeak {
    let lanes = Int(d2l_fma_lanes())
    // ~20 ms per sample at 90 GFLOP/s per core for 8 lanes (the 16-lane loop does twice the work).
    let iterations = 10_000_000
    let allCores = lanes > 0 ? d2l_fma_peak_gflops(Int32(cores), iterations, 20) : 0
    guard allCores > 0 else {
        let size = quick ? 1024 : 2048
        let times = timeSgemm(m: size, n: size, k: size, warmup: 2, repetitions: 10)
        let gflops = 2 * pow(Double(size), 3) / times.first! / 1e6
        return FMAPeak(oneCore: gflops / Double(cores), allCores: gflops, cores: cores, lanes: 0)
    }
    let oneCore = d2l_fma_peak_gflops(1, iterations, 20)
    return FMAPeak(oneCore: oneCore, allCores: allCores, cores: cores, lanes: lanes)
}

/// sgemm through Engine (`matmul`, which calls `cblas_sgemm`): square matrices, then the forward
/// GEMMs of the zoo's conv layers (`zooConvolutionLayers`), with GFLOP/s as a percentage of `peak`.
func gemmBenchmarks(quick: Bool, peak: Double) -> [Benchmark] {
    let sizes = quick ? [128, 256] : [256, 512, 1024, 2048]
    var shapes = sizes.map {
        (name: "gemm \($0)x\($0)x\($0)", m: $0, n: $0, k: $0, notes: "C = A·B, row-major, Float32")
    }
    for layer in zooConvolutionLayers(quick: quick) {
        let (m, n, k) = layer.gemm
        shapes.append(
            (
                name: "gemm \(layer.name) \(m)x\(n)x\(k)", m: m, n: n, k: k,
                notes: "forward GEMM of \(layer.name), batch \(layer.batch): M=O, N=B·H'·W', K=C·kh·kw"
            ))
    }
    return shapes.map { shape in
        Benchmark(name: shape.name) { warmup, repetitions in
            let times = timeSgemm(m: shape.m, n: shape.n, k: shape.k, warmup: warmup, repetitions: repetitions)
            var result = BenchmarkResult(
                name: shape.name, group: "gemm",
                flops: 2 * Double(shape.m) * Double(shape.n) * Double(shape.k),
                times: times, notes: shape.notes)
            result.percentOfPeak = 100 * result.gflops / peak
            return result
        }
    }
}
