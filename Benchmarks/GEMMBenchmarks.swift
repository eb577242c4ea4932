import Engine

/// sgemm through Engine (`matmul`, which calls `cblas_sgemm`) on square matrices.
func gemmBenchmarks(quick: Bool) -> [(name: String, run: (Int, Int) -> BenchmarkResult)] {
    let sizes = quick ? [128, 256] : [256, 512, 1024, 2048]
    return sizes.map { size in
        ("gemm \(size)x\(size)x\(size)", { warmup, repetitions in
            var generator = RandomGenerator(seed: 1)
            let a = Tensor.randomNormal([size, size], using: &generator)
            let b = Tensor.randomNormal([size, size], using: &generator)
            var product = Tensor.zeros([0])
            let times = measure(warmup: warmup, repetitions: repetitions) { product = matmul(a, b) }
            checkResult(product, shape: [size, size], "gemm \(size)")
            blackHole(product)
            let flops = 2 * Double(size) * Double(size) * Double(size)
            return BenchmarkResult(
                name: "gemm \(size)x\(size)x\(size)", group: "gemm", params: 0, flops: flops,
                medianMilliseconds: median(times), minimumMilliseconds: times.first!, maximumMilliseconds: times.last!,
                repetitions: repetitions, gflops: flops / median(times) / 1e6, notes: "C = A·B, row-major, Float32")
        })
    }
}
