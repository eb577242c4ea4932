import Engine
import Foundation

/// One measured benchmark, as printed in the table and written to `--json`.
struct BenchmarkResult: Codable {
    var name: String
    var group: String
    var params: Int
    var flops: Double
    var medianMilliseconds: Double
    var minimumMilliseconds: Double
    var maximumMilliseconds: Double
    var repetitions: Int
    var gflops: Double
    var notes: String

    enum CodingKeys: String, CodingKey {
        case name, group, params, flops, gflops, notes, repetitions
        case medianMilliseconds = "median_ms"
        case minimumMilliseconds = "min_ms"
        case maximumMilliseconds = "max_ms"
    }
}

/// The `--json` file: the machine, the BLAS kernel, and the results.
struct BenchmarkReport: Codable {
    struct BLASInfo: Codable { var core: String; var threads: Int; var config: String }
    var blas: BLASInfo
    var cpu: String
    var cores: Int
    var build: String
    var date: String
    var results: [BenchmarkResult]
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
    guard tensor.shape == shape else { fatalError("benchmark \(name): result shape \(tensor.shape), expected \(shape)") }
    var checksum: Double = 0
    for value in tensor.buffer { checksum += Double(value) }
    guard checksum.isFinite else { fatalError("benchmark \(name): checksum is not finite") }
}
