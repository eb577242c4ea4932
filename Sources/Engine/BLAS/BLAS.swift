import CBLAS
import Foundation

/// The BLAS library this process runs on (OpenBLAS), and the only door from Engine to it.
///
/// OpenBLAS picks its compute kernel ("core") once, when the library is loaded, from the CPU it
/// detects or from the `OPENBLAS_CORETYPE` environment variable. Debian's OpenBLAS 0.3.21 does not
/// recognise some newer CPUs and falls back to a generic SSE3 kernel ("Prescott"): on the
/// project's machines sgemm 2048² with 2 threads then ran at ~60 GFLOP/s instead of ~290 with
/// `OPENBLAS_CORETYPE=SkylakeX` (see `ARCHITECTURE.md`). `BLAS` makes the active kernel visible,
/// warns once when it is a generic one on an AVX2/AVX-512 CPU; the Training module's
/// `BLAS.selectFastKernelOrRestart(programName:)` lets executables restart themselves with the
/// right kernel (a process-wide policy a library has no business applying by itself).
public enum BLAS {
    /// The name of the kernel OpenBLAS is running, for example `"SkylakeX"`, `"Haswell"`, `"Prescott"`.
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's build configuration string, for example
    /// `"OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64"`.
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// The number of threads OpenBLAS uses for one call (by default the number of cores).
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Sets the number of threads OpenBLAS uses for each call; `count` must be at least 1.
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "BLAS.setThreadCount: thread count must be >= 1, got \(count)")
        openblas_set_num_threads(Int32(count))
    }

    /// One line naming the kernel and threads, printed beside every figure: `"OpenBLAS SkylakeX, 2 threads"`.
    public static var summary: String { "OpenBLAS \(coreName), \(threadCount) thread\(threadCount == 1 ? "" : "s")" }

    // MARK: Kernel selection

    /// OpenBLAS kernels that use AVX2 (or AVX-512) FMA instructions. Any other kernel on a CPU that
    /// has AVX2 is a fallback that leaves most of the machine unused.
    static let vectorizedCores: Set<String> = [
        "haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator",
    ]

    /// Whether the active kernel is a generic fallback although the CPU could run a vectorised one.
    public static var isGenericKernelOnCapableCPU: Bool {
        isGenericKernel(coreName, cpuFlags: CPUInfo.flags)
    }

    /// Whether kernel `core` leaves a CPU with `cpuFlags` (as in `/proc/cpuinfo`) mostly unused:
    /// the CPU has AVX2 and FMA but `core` is not one of `vectorizedCores`.
    public static func isGenericKernel(_ core: String, cpuFlags: Set<String>) -> Bool {
        recommendedCoreType(cpuFlags: cpuFlags) != nil && !vectorizedCores.contains(core.lowercased())
    }

    /// The `OPENBLAS_CORETYPE` value that suits this CPU: `"SkylakeX"` with AVX-512 (F, BW, DQ, VL),
    /// `"Haswell"` with AVX2 and FMA, `nil` otherwise (or when the CPU flags cannot be read).
    public static var recommendedCoreType: String? { recommendedCoreType(cpuFlags: CPUInfo.flags) }

    /// The `OPENBLAS_CORETYPE` value for a CPU with these feature flags (see `recommendedCoreType`).
    public static func recommendedCoreType(cpuFlags flags: Set<String>) -> String? {
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// The warning printed (once per process, on stderr) when the generic kernel is active on a
    /// capable CPU; `nil` when the kernel is fine.
    public static var genericKernelWarning: String? {
        guard isGenericKernelOnCapableCPU, let remedy = recommendedCoreType else { return nil }
        return "warning: OpenBLAS is running its generic '\(coreName)' kernel on a CPU with "
            + "\(remedy == "SkylakeX" ? "AVX-512" : "AVX2"): matrix products run 2.5-5x slower "
            + "(sgemm 2048x2048, 2 threads: ~60 instead of ~290 GFLOP/s measured). "
            + "Remedy: run with OPENBLAS_CORETYPE=\(remedy) in the environment."
    }

    private static let warnOnce: Void = {
        // A user who set D2L_KEEP_BLAS_CORE asked for the kernel OpenBLAS runs (CI forces a second
        // kernel this way to test on it) and has been told enough: stderr stays theirs.
        guard ProcessInfo.processInfo.environment[keepCoreVariable] == nil else { return }
        if let warning = genericKernelWarning {
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
    }()

    /// Prints `genericKernelWarning` to stderr the first time it is called in a process, unless
    /// `D2L_KEEP_BLAS_CORE` is set (the user chose the kernel); later calls do nothing. Engine
    /// calls it before its first matrix product.
    public static func warnIfGenericKernel() { _ = warnOnce }

    /// The environment variable that keeps the project's executables from switching the kernel
    /// and silences `genericKernelWarning`: set (to any value), the kernel OpenBLAS runs is the
    /// user's choice, for example a second kernel forced with `OPENBLAS_CORETYPE` to test on it.
    public static let keepCoreVariable = "D2L_KEEP_BLAS_CORE"

    // MARK: GEMM

    /// Single-precision matrix product on row-major storage, through `cblas_sgemm`:
    /// `C[m, n] = alpha · op(A) · op(B) + beta · C`, where `op(A)` is `[m, k]` (`A` is stored
    /// `[k, m]` when `transposeA`) and `op(B)` is `[k, n]` (stored `[n, k]` when `transposeB`).
    /// `lda`, `ldb`, `ldc` are the row strides of the stored matrices. Transposes are passed to
    /// BLAS as flags; nothing is copied.
    @inline(__always)
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        warnIfGenericKernel()
        if m == 0 || n == 0 { return }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// CPU feature flags read from `/proc/cpuinfo` (Linux); empty where that file does not exist.
enum CPUInfo {
    static let flags: Set<String> = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }()

    /// The CPU's model name, e.g. `"AMD EPYC 9R14 96-Core Processor"`, or `"unknown CPU"`.
    static let modelName: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown CPU"
    }()
}

extension BLAS {
    /// The CPU's model name as `/proc/cpuinfo` gives it, for benchmark headers.
    public static var cpuModelName: String { CPUInfo.modelName }
}
