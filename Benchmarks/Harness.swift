import Engine
import Foundation

/// One measured benchmark, as printed in the table and written to `--json`.
///
/// The first ten fields are always present (the documented JSON shape); the optional ones are
/// written only by the groups that measure them.
struct BenchmarkResult: Codable {
    var name: String
    var group: String
    /// Trainable scalars of the workload (0 where none).
    var params: Int
    /// Floating-point operations of one timed repetition (a multiply-add counts 2; 0 if not counted).
    var flops: Double
    var medianMilliseconds: Double
    var minimumMilliseconds: Double
    var maximumMilliseconds: Double
    var repetitions: Int
    /// `flops / median` in 10⁹ per second (0 when `flops` is 0).
    var gflops: Double
    var notes: String
    /// `train` group: examples per second of the median step (batch / median time).
    var examplesPerSecond: Double? = nil
    /// `train` group: peak resident memory (`VmHWM`) of the child process that ran it, MiB.
    var peakMegabytes: Double? = nil
    /// `train` group: resident memory of that child before building the model, MiB.
    var baseMegabytes: Double? = nil
    /// `train` group (ours only): the most memory the values of live tensors held at once
    /// (`TensorStorage.peakLiveBytes`), MiB; the rest of `peak_mb − base_mb` is code, workspaces
    /// and the allocator's retained heap.
    var tensorPeakMegabytes: Double? = nil
    /// `gemm`, `conv` and `conv-block` groups: `gflops` as a percentage of the measured FMA peak
    /// in the header.
    var percentOfPeak: Double? = nil
    /// `conv` group: GFLOP/s of one plain sgemm of the forward GEMM's M×N×K.
    var sgemmGflops: Double? = nil
    /// `conv-block` training runs: final test accuracy in [0, 1].
    var testAccuracy: Double? = nil
    /// CPU time the hypervisor took from this machine's cores while the workload ran (warm-up and
    /// timed repetitions; the `steal` column of `/proc/stat`, all cores), ms; absent where it
    /// cannot be read. Nonzero means the VM's host ran something else on our cores meanwhile.
    var stolenMilliseconds: Double? = nil

    enum CodingKeys: String, CodingKey {
        case name, group, params, flops, gflops, notes, repetitions
        case medianMilliseconds = "median_ms"
        case minimumMilliseconds = "min_ms"
        case maximumMilliseconds = "max_ms"
        case examplesPerSecond = "examples_per_sec"
        case peakMegabytes = "peak_mb"
        case baseMegabytes = "base_mb"
        case tensorPeakMegabytes = "tensor_peak_mb"
        case percentOfPeak = "percent_of_peak"
        case sgemmGflops = "sgemm_gflops"
        case testAccuracy = "test_accuracy"
        case stolenMilliseconds = "stolen_ms"
    }

    /// A result from sorted `times` (ms) of a workload of `flops` floating-point operations.
    init(name: String, group: String, params: Int = 0, flops: Double, times: [Double], notes: String) {
        self.name = name
        self.group = group
        self.params = params
        self.flops = flops
        medianMilliseconds = median(times)
        minimumMilliseconds = times.first!
        maximumMilliseconds = times.last!
        repetitions = times.count
        gflops = flops > 0 ? flops / median(times) / 1e6 : 0
        self.notes = notes
    }
}

/// One benchmark: its name (what `--filter` and `--compare` match) and how to run it with
/// `(warmup, repetitions)`. Groups whose workloads take seconds ignore the counts they are given
/// and use fewer.
struct Benchmark {
    var name: String
    var run: (_ warmup: Int, _ repetitions: Int) -> BenchmarkResult
}

/// The `--json` file: the machine, the BLAS kernel, and the results.
struct BenchmarkReport: Codable {
    struct BLASInfo: Codable {
        var core: String
        var threads: Int
        var config: String
    }
    var blas: BLASInfo
    var cpu: String
    var cores: Int
    var build: String
    var date: String
    /// Single-precision FMA peak of the machine measured at start-up on every core, GFLOP/s (`FMAPeak`;
    /// absent in old files, and an sgemm lower bound in files before the FMA loop).
    var peakGflops: Double? = nil
    /// The same peak on one core alone, GFLOP/s (absent in older files).
    var peakOneCoreGflops: Double? = nil
    /// How `peakGflops` was measured (`FMAPeak.method`; absent in older files).
    var peakMethod: String? = nil
    var results: [BenchmarkResult]

    enum CodingKeys: String, CodingKey {
        case blas, cpu, cores, build, date, results
        case peakGflops = "peak_gflops"
        case peakOneCoreGflops = "peak_one_core_gflops"
        case peakMethod = "peak_method"
    }
}

/// CPU time stolen by the hypervisor from all cores since boot, ms: the `steal` field of the
/// `cpu` line of `/proc/stat` (in clock ticks of `sysconf(_SC_CLK_TCK)`); nil where there is no
/// such file (not Linux) or it cannot be parsed.
func hypervisorStolenMilliseconds() -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
    else { return nil }
    // cpu user nice system idle iowait irq softirq steal …
    let fields = line.split(separator: " ")
    guard fields.count > 8, let ticks = Double(fields[8]) else { return nil }
    return ticks * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Keeps the optimizer from discarding a computed value.
@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

/// Runs `body` `warmup` times untimed, then `repetitions` times timed; returns the sorted times in ms.
func measure(warmup: Int, repetitions: Int, _ body: () -> Void) -> [Double] {
    for _ in 0..<warmup { body() }
    var times: [Double] = []
    for _ in 0..<repetitions {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    return times.sorted()
}

/// The median of sorted values.
func median(_ sorted: [Double]) -> Double {
    sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Stops the benchmark run when a result is not what it should be (wrong shape or not finite):
/// a fast wrong answer is not a benchmark.
func checkResult(_ tensor: Tensor, shape: [Int], _ name: String) {
    guard tensor.shape == shape else {
        fatalError("benchmark \(name): result shape \(tensor.shape), expected \(shape)")
    }
    var checksum: Double = 0
    for value in tensor.buffer { checksum += Double(value) }
    guard checksum.isFinite else { fatalError("benchmark \(name): checksum is not finite") }
}
