import Engine
import Foundation
import Models

// The `train` group: one full training step (zero-grad, forward, cross-entropy, backward, SGD
// update) of every zoo network, each in a fresh child process (`benchmarks --train-child NAME`)
// so that the child's resident-set high-water mark (`VmHWM` of `/proc/self/status`) is that
// network's peak memory. Not `ru_maxrss`: Linux carries the parent's high-water mark into a
// forked-and-exec'd child's `ru_maxrss`, so a child started late would report the parent's peak.
// The Python side does the same with its own child processes.

/// The batch, input side and (warm-up, repetitions) of one zoo network's step. Full runs use the
/// book's batch and input size; networks at 96×96 or more take seconds per step and run warm-up
/// 1, 3 repetitions. `quick` uses batch 16 (2 for the big networks) and warm-up 0, 1 repetition.
func trainSettings(
    _ model: ZooModel, quick: Bool, warmup: Int, repetitions: Int
)
    -> (batch: Int, side: Int, warmup: Int, repetitions: Int)
{
    let side = model.hyperparameters.resize ?? 28
    let big = side >= 96
    if quick { return (big ? 2 : 16, side, 0, 1) }
    return (model.hyperparameters.batchSize, side, big ? 1 : warmup, big ? 3 : repetitions)
}

/// The networks whose step also runs data-parallel (`DataParallel`, one shard per core) as
/// `"train <model> data-parallel"`: those without dropout or from-scratch batch norm, where a
/// data-parallel step equals the serial one.
let dataParallelTrainNetworks: Set<String> = [
    "softmax-regression", "mlp", "lenet", "batch-norm-lenet", "googlenet", "resnet", "densenet",
]

/// The suffix of a data-parallel `train` row and child name.
let dataParallelSuffix = " data-parallel"

/// `"train <model>"` for every network of `ModelZoo.all`, each run in a child process, and
/// `"train <model> data-parallel"` for `dataParallelTrainNetworks`.
func trainBenchmarks(quick: Bool) -> [Benchmark] {
    ModelZoo.all.flatMap { model in
        let names =
            [model.name] + (dataParallelTrainNetworks.contains(model.name) ? [model.name + dataParallelSuffix] : [])
        return names.map { name in
            Benchmark(name: "train \(name)") { warmup, repetitions in
                runTrainChild(name, quick: quick, warmup: warmup, repetitions: repetitions)
            }
        }
    }
}

/// Runs `benchmarks --train-child NAME WARMUP REPETITIONS [--quick]` (this executable) and
/// decodes the one JSON result it prints as its last line.
func runTrainChild(_ name: String, quick: Bool, warmup: Int, repetitions: Int) -> BenchmarkResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    process.arguments = ["--train-child", name, "\(warmup)", "\(repetitions)"] + (quick ? ["--quick"] : [])
    let output = Pipe()
    process.standardOutput = output
    do { try process.run() } catch { fatalError("benchmark train \(name): cannot start the child process: \(error)") }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
        let result = try? JSONDecoder().decode(BenchmarkResult.self, from: Data(line.utf8))
    else { fatalError("benchmark train \(name): the child process failed (status \(process.terminationStatus))") }
    return result
}

/// The child's side: builds `name` from the zoo (PyTorch default initialization, seed 3), runs
/// the steps on random data, prints the result as one JSON line. `base_mb` is the resident set
/// before building the network (`VmRSS`), `peak_mb` the process's high-water mark (`VmHWM`) at
/// the end: network, data, activations, gradients and the allocator's retained heap.
func trainChildMain(name: String, warmup: Int, repetitions: Int, quick: Bool) {
    let baseMegabytes = procStatusMegabytes("VmRSS:")
    let dataParallel = name.hasSuffix(dataParallelSuffix)
    let modelName = dataParallel ? String(name.dropLast(dataParallelSuffix.count)) : name
    guard let model = try? ModelZoo.model(named: modelName) else { fatalError("train child: unknown model \(name)") }
    let settings = trainSettings(model, quick: quick, warmup: warmup, repetitions: repetitions)
    var generator = RandomGenerator(seed: 3)
    let network = model.make(using: &generator)
    let inputShape = [settings.batch, 1, settings.side, settings.side]
    let images = Tensor.randomUniform(inputShape, using: &generator)
    let labels = (0..<settings.batch).map { _ in generator.nextInt(below: 10) }
    let optimizer = SGD(network, learningRate: model.hyperparameters.learningRate)
    network.train()
    var lastLoss = Tensor(scalar: 0)
    // One replica per further core; the step then runs `DataParallel.forwardBackward`.
    let parallel =
        dataParallel
        ? DataParallel(
            model: network,
            replicas: (1..<max(2, ProcessInfo.processInfo.activeProcessorCount)).map { _ in
                model.make(using: &generator)
            })
        : nil
    let times = measure(warmup: settings.warmup, repetitions: settings.repetitions) {
        optimizer.zeroGrad()
        if let parallel {
            let (loss, _) = parallel.forwardBackward(images, labels: labels) { crossEntropy(logits: $0, labels: $1) }
            optimizer.step()
            parallel.synchronizeReplicas()
            lastLoss = Tensor(scalar: loss)
        } else {
            let loss = crossEntropy(logits: network(images), labels: labels)
            loss.backward()
            optimizer.step()
            lastLoss = loss
        }
    }
    checkResult(lastLoss, shape: [], "train \(name)")
    var result = BenchmarkResult(
        name: "train \(name)", group: "train", params: network.parameterCount, flops: 0, times: times,
        notes: (dataParallel ? "\(parallel!.shardCount) shards, " : "")
            + "batch \(settings.batch), input 1×\(settings.side)×\(settings.side), SGD lr \(model.hyperparameters.learningRate)"
    )
    result.examplesPerSecond = Double(settings.batch) / (result.medianMilliseconds / 1e3)
    result.peakMegabytes = procStatusMegabytes("VmHWM:")
    result.baseMegabytes = baseMegabytes
    result.tensorPeakMegabytes = Double(TensorStorage.peakLiveBytes) / 1_048_576
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    print(String(decoding: try! encoder.encode(result), as: UTF8.self))
}

/// A memory line of `/proc/self/status` in MiB (`"VmRSS:"`: the current resident set;
/// `"VmHWM:"`: its high-water mark since this process's `exec`), or 0 where unavailable.
func procStatusMegabytes(_ key: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kilobytes / 1024
}
