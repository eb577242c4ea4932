import Engine
import Foundation

// The executables' OpenBLAS policy: restart the process once so that OpenBLAS loads with a
// vectorised kernel and short-lived worker spinning. Moved out of Engine (BLAS.swift): the core
// library only reports the kernel and warns; re-executing the process is a decision for a
// program, not for a library it links.

extension BLAS {
    /// The `OPENBLAS_THREAD_TIMEOUT` the project's executables run with: OpenBLAS worker threads
    /// sleep after 2⁴ idle cycles instead of the default 2²⁸ (~0.1 s) of `sched_yield` spinning.
    /// Training steps call many small GEMMs between other parallel kernels; on a 2-core machine the
    /// spinning workers took the cores from those kernels (LeNet step ~21 → ~16 ms measured).
    static let threadTimeout = "4"

    /// For the project's executables: when `D2L_KEEP_BLAS_CORE` is not set and either
    /// `OPENBLAS_THREAD_TIMEOUT` is not set, or `OPENBLAS_CORETYPE` is not set and OpenBLAS chose
    /// a generic kernel on an AVX2/AVX-512 CPU, replaces the process with itself (`execv` of
    /// `/proc/self/exe`, same arguments) with `OPENBLAS_THREAD_TIMEOUT` set to `threadTimeout`
    /// and, for a generic kernel, `OPENBLAS_CORETYPE` set to `recommendedCoreType` (printing one
    /// line to stderr about that). OpenBLAS reads both when the library loads, so a restart is
    /// the only way to change them. Returns normally (after the one-time warning, which
    /// `D2L_KEEP_BLAS_CORE` silences) when nothing needs doing or the restart fails.
    public static func selectFastKernelOrRestart(programName: String) {
        let environment = ProcessInfo.processInfo.environment
        guard environment[keepCoreVariable] == nil else {
            warnIfGenericKernel()
            return
        }
        let switchCore =
            environment["OPENBLAS_CORETYPE"] == nil && isGenericKernelOnCapableCPU
            && recommendedCoreType != nil
        let setTimeout = environment["OPENBLAS_THREAD_TIMEOUT"] == nil
        guard switchCore || setTimeout else {
            warnIfGenericKernel()
            return
        }
        if switchCore, let remedy = recommendedCoreType {
            FileHandle.standardError.write(
                Data(
                    ("\(programName): OpenBLAS chose its generic '\(coreName)' kernel on this "
                        + "CPU; restarting with OPENBLAS_CORETYPE=\(remedy) (2.5-5x faster matrix products). "
                        + "Set \(keepCoreVariable)=1 to keep the default.\n").utf8))
            setenv("OPENBLAS_CORETYPE", remedy, 1)
        }
        setenv("OPENBLAS_THREAD_TIMEOUT", environment["OPENBLAS_THREAD_TIMEOUT"] ?? threadTimeout, 1)
        let arguments = CommandLine.arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cArguments.append(nil)
        execv("/proc/self/exe", cArguments)
        // Only reached if execv failed: carry on with the slow kernel, say so.
        if switchCore { unsetenv("OPENBLAS_CORETYPE") }
        if setTimeout { unsetenv("OPENBLAS_THREAD_TIMEOUT") }
        warnIfGenericKernel()
    }
}
