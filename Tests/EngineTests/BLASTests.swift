import Engine
import Foundation
import Testing

@Suite("BLAS", .serialized)
struct BLASTests {
    @Test("the active kernel, threads and configuration are visible")
    func visible() {
        #expect(!BLAS.coreName.isEmpty)
        #expect(BLAS.configuration.contains("OpenBLAS"))
        #expect(BLAS.threadCount >= 1)
        #expect(BLAS.summary.contains(BLAS.coreName))
    }

    /// In a child process (exit test): the thread count is global to the process, and changing it
    /// while other suites run their GEMMs would change how OpenBLAS splits their products, hence
    /// their summation order, and break the tests that are bit-exact within one process.
    @Test("the thread count can be set")
    func threads() async {
        await #expect(processExitsWith: .success) {
            let original = BLAS.threadCount
            BLAS.setThreadCount(1)
            guard BLAS.threadCount == 1 else { exit(1) }
            BLAS.setThreadCount(original)
            guard BLAS.threadCount == original else { exit(2) }
        }
    }

    @Test("generic kernels are recognised on capable CPUs only")
    func genericDetection() {
        let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]
        let avx2: Set<String> = ["avx2", "fma", "sse3"]
        let old: Set<String> = ["sse3", "ssse3"]
        #expect(BLAS.recommendedCoreType(cpuFlags: avx512) == "SkylakeX")
        #expect(BLAS.recommendedCoreType(cpuFlags: avx2) == "Haswell")
        #expect(BLAS.recommendedCoreType(cpuFlags: old) == nil)
        #expect(BLAS.isGenericKernel("Prescott", cpuFlags: avx512))
        #expect(BLAS.isGenericKernel("Nehalem", cpuFlags: avx2))
        #expect(!BLAS.isGenericKernel("SkylakeX", cpuFlags: avx512))
        #expect(!BLAS.isGenericKernel("Cooperlake", cpuFlags: avx512))
        #expect(!BLAS.isGenericKernel("Haswell", cpuFlags: avx2))
        #expect(!BLAS.isGenericKernel("Prescott", cpuFlags: old))
        // This process: the warning exists exactly when the active kernel is generic.
        #expect((BLAS.genericKernelWarning != nil) == BLAS.isGenericKernelOnCapableCPU)
    }

    @Test("sgemm with every transpose flag matches a naive product")
    func sgemmAgainstNaive() {
        var generator = RandomGenerator(seed: 2)
        let (m, n, k) = (37, 29, 53)
        let a = Tensor.randomNormal([m, k], using: &generator), b = Tensor.randomNormal([k, n], using: &generator)
        var expected = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k { sum += Double(a[i, p]) * Double(b[p, j]) }
                expected[i * n + j] = Float(sum)
            }
        }
        let reference = Tensor(expected, shape: [m, n])
        let at = a.transposed(), bt = b.transposed()
        for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
            let product = matmul(
                transposeA ? at : a, transposeB ? bt : b, transposeA: transposeA, transposeB: transposeB)
            #expect(
                product.isClose(to: reference, relativeTolerance: 1e-4, absoluteTolerance: 1e-4),
                "transposeA \(transposeA), transposeB \(transposeB)")
        }
    }
}
