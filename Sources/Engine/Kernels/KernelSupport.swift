import CKernels
import Dispatch
import Foundation

// Helpers that several kernel families share: the core count, `parallelFor` (and the
// process-wide section that keeps it serial while per-core convolution parts run), the
// workspace pool and `vectorSum`. Moved unchanged from ConvolutionKernels.swift.

/// The number of cores this process may use: those of its CPU affinity mask where Linux tells
/// (`mpirun` binds each process to its own cores, `taskset` too; Foundation's
/// `activeProcessorCount` counts every online core regardless), else the active processors.
let coreCount: Int = {
    let affinity = Int(d2l_affinity_cpu_count())
    return affinity > 0 ? affinity : ProcessInfo.processInfo.activeProcessorCount
}()

/// The number of blocks `parallelFor` splits its range into: a few per core, so uneven blocks
/// even out without paying a dispatch per tiny iteration.
let parallelBlockCount = 4 * coreCount

/// Runs `body(index)` for `index` in `0..<count`, in contiguous blocks spread over the cores when
/// the total `work` (in elements touched) is large enough to pay for it, and serially on a thread
/// that runs one part of work already spread over every core (`PartThread.isActive`: a per-core
/// image part, a `DataParallel` shard). Never call it around a BLAS call (OpenBLAS already uses
/// every core).
///
/// The iterations must write disjoint memory (the kernels here split by image, channel, plane or
/// row of a column matrix). That is what makes handing the raw pointers they capture to other
/// threads safe, which the compiler cannot see: hence the `@Sendable` cast.
@inline(__always)
func parallelFor(_ count: Int, work: Int, _ body: (Int) -> Void) {
    // Inside per-core image parts every core already runs a part: split no further.
    if count > 1 && work >= 1 << 16 && !PartThread.isActive {
        let blocks = Swift.min(count, parallelBlockCount)
        withoutActuallyEscaping(body) { body in
            let run = unsafeBitCast(body, to: (@Sendable (Int) -> Void).self)
            DispatchQueue.concurrentPerform(iterations: blocks) { block in
                for index in (block * count / blocks)..<((block + 1) * count / blocks) { run(index) }
            }
        }
    } else {
        for index in 0..<count { body(index) }
    }
}

/// Marks the calling thread as running one part of work that is already spread over every core
/// (a per-core image part of a convolution, a `DataParallel` shard), so that the engine's loops
/// on it (`parallelFor`, `imageParts`) split no further. Per thread, not per process: a thread
/// that runs no part (another computation, another test) keeps its own choices, and with them its
/// own summation order.
enum PartThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "PartThread: pthread_key_create failed (\(status))")
        return key
    }()

    /// Whether the calling thread runs a part.
    static var isActive: Bool { pthread_getspecific(key) != nil }

    /// Runs `body` with the calling thread marked as running a part, then restores the mark it had.
    @inline(__always)
    static func run<Result>(_ body: () throws -> Result) rethrows -> Result {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, previous) }
        return try body()
    }
}

/// Holds OpenBLAS at one thread while any `forEachImagePart` runs, process-wide. The thread count
/// is global to the process: two convolutions on two threads that each saved the count, set 1 and
/// restored what they saved could leave it at 1 for good (the second saves the first's 1). Here
/// the first section to enter saves the count and the last to leave restores it.
final class SingleThreadedBLASSections: @unchecked Sendable {
    static let shared = SingleThreadedBLASSections()

    private let lock = NSLock()
    private var active = 0
    private var savedThreadCount = 1

    /// Starts a section: the first one saves OpenBLAS's thread count and sets it to 1.
    func enter() {
        lock.lock()
        defer { lock.unlock() }
        if active == 0 {
            savedThreadCount = BLAS.threadCount
            BLAS.setThreadCount(1)
        }
        active += 1
    }

    /// Ends a section: the last one restores the thread count saved by the first.
    func leave() {
        lock.lock()
        defer { lock.unlock() }
        active -= 1
        if active == 0 { BLAS.setThreadCount(savedThreadCount) }
    }
}

/// A 64-byte-aligned scratch buffer of `Float`s, taken from and returned to `WorkspacePool.shared`
/// (large ones through `LargeBufferCache`, like tensor values).
final class Workspace: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let capacity: Int
    private var byteCount: Int { capacity * MemoryLayout<Float>.stride }
    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 1)
        let byteCount = self.capacity * MemoryLayout<Float>.stride
        base = allocateBuffer(byteCount: byteCount).bindMemory(to: Float.self, capacity: self.capacity)
    }
    deinit {
        deallocateBuffer(UnsafeMutableRawPointer(base), byteCount: byteCount)
    }
}

/// Keeps the convolution workspaces between calls, so a training step does not map, fault in and
/// unmap tens of megabytes per layer and direction. Holds at most `maximumKept` free buffers;
/// each is at most the largest workspace a convolution asked for (bounded by the budget or one
/// image, see `Convolution2DGeometry.imagesPerChunk` and `outputRowsPerBlock`). Thread-safe: concurrent convolutions get
/// different buffers.
final class WorkspacePool: @unchecked Sendable {
    static let shared = WorkspacePool()
    static let maximumKept = 4

    private let lock = NSLock()
    private var free: [Workspace] = []

    /// A buffer of at least `count` elements (the smallest free one that fits, else a new one).
    func take(count: Int) -> Workspace {
        lock.lock()
        defer { lock.unlock() }
        if let index = free.indices.filter({ free[$0].capacity >= count }).min(by: {
            free[$0].capacity < free[$1].capacity
        }) {
            return free.remove(at: index)
        }
        return Workspace(capacity: count)
    }

    /// Returns a buffer for later calls; drops the smallest when more than `maximumKept` are free.
    func give(_ workspace: Workspace) {
        lock.lock()
        defer { lock.unlock() }
        free.append(workspace)
        if free.count > WorkspacePool.maximumKept {
            free.remove(at: free.indices.min(by: { free[$0].capacity < free[$1].capacity })!)
        }
    }
}

/// `Σ x[i]` over `count` elements with 32 partial sums in SIMD registers: a plain `+=` loop is
/// not vectorised (float addition is not reassociated) and runs at one add per 4 cycles.
@inline(__always)
func vectorSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var a = SIMD16<Float>(), b = SIMD16<Float>()
    var i = 0
    let raw = UnsafeRawPointer(x)
    while i + 32 <= count {
        a += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        b += raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
        i += 32
    }
    var total = (a + b).sum()
    while i < count {
        total += x[i]
        i += 1
    }
    return total
}
