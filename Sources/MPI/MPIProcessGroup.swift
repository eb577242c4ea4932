import CMPI
import Engine
import Foundation
import Training

/// The processes of an `mpirun` job as an Engine `ProcessGroup` (MPI_COMM_WORLD over Open MPI).
///
/// MPI is initialised only when this process was started by Open MPI's `mpirun` (which sets
/// `OMPI_COMM_WORLD_SIZE`), so a program that links this module and runs without `mpirun` never
/// touches MPI. Errors inside MPI calls stop the whole job (MPI's default `MPI_ERRORS_ARE_FATAL`);
/// a process that dies makes `mpirun` stop the others and name it.
///
///     if let group = try MPIProcessGroup.launched(), group.size > 1 { trainer.processGroup = group }
///     …
///     MPIProcessGroup.finalize()
public final class MPIProcessGroup: ProcessGroup {
    /// This process's rank in MPI_COMM_WORLD.
    public let rank: Int
    /// The number of processes in MPI_COMM_WORLD.
    public let size: Int

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// The environment variable Open MPI's launcher sets to the number of processes.
    public static let launcherVariable = "OMPI_COMM_WORLD_SIZE"

    /// The rank `mpirun` gave this process (from `OMPI_COMM_WORLD_RANK`) before MPI is
    /// initialised, or `nil` when it was not started by `mpirun`.
    public static var launchedRank: Int? {
        let environment = ProcessInfo.processInfo.environment
        guard environment[launcherVariable] != nil else { return nil }
        return environment["OMPI_COMM_WORLD_RANK"].flatMap(Int.init)
    }

    /// Initialises MPI and returns the job's processes when this process was started by `mpirun`,
    /// else `nil` without touching MPI. Call once, from the main thread.
    /// - Throws: `MPIError.initialization` when MPI cannot be initialised.
    public static func launched() throws -> MPIProcessGroup? {
        guard ProcessInfo.processInfo.environment[launcherVariable] != nil else { return nil }
        var provided: Int32 = 0
        let code = d2l_mpi_init(&provided)
        guard code == 0 else { throw MPIError.initialization(code: Int(code)) }
        return MPIProcessGroup(rank: Int(d2l_mpi_rank()), size: Int(d2l_mpi_size()))
    }

    /// Ends MPI in this process (`MPI_Finalize`), if it was initialised and not yet finalized;
    /// every rank must call it before a normal exit.
    public static func finalize() {
        if d2l_mpi_initialized() != 0 && d2l_mpi_finalized() == 0 { _ = d2l_mpi_finalize() }
    }

    /// Stops every process of the job with exit status `code` (`MPI_Abort`), for an error that
    /// only this rank met while the others may be waiting for it in a collective operation.
    public func abort(code: Int32) -> Never {
        _ = d2l_mpi_abort(code)
        exit(code)
    }

    /// Waits until every rank has reached this point (`MPI_Barrier`).
    public func barrier() { _ = d2l_mpi_barrier() }

    /// `MPI_Bcast` of `buffer` from `root` over MPI_COMM_WORLD.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int) {
        forEachChunk(of: buffer) { start, count in _ = d2l_mpi_broadcast_float(start, count, Int32(root)) }
    }

    /// In-place `MPI_Allreduce` with `MPI_SUM` of floats over MPI_COMM_WORLD.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        forEachChunk(of: buffer) { start, count in _ = d2l_mpi_allreduce_sum_float(start, count) }
    }

    /// In-place `MPI_Allreduce` with `MPI_SUM` of doubles over MPI_COMM_WORLD.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        forEachChunk(of: buffer) { start, count in _ = d2l_mpi_allreduce_sum_double(start, count) }
    }

    /// In-place `MPI_Allreduce` with `MPI_MIN` or `MPI_MAX` of 64-bit unsigned integers.
    public func allReduceExtreme(_ buffer: UnsafeMutableBufferPointer<UInt64>, maximum: Bool) {
        forEachChunk(of: buffer) { start, count in _ = d2l_mpi_allreduce_extreme_uint64(start, count, maximum ? 1 : 0) }
    }

    /// MPI counts are `Int32`: a buffer is passed in chunks of at most 2³⁰ elements.
    private func forEachChunk<Element>(
        of buffer: UnsafeMutableBufferPointer<Element>,
        _ body: (UnsafeMutablePointer<Element>, Int32) -> Void
    ) {
        guard let base = buffer.baseAddress else { return }
        var start = 0
        while start < buffer.count {
            let count = min(buffer.count - start, 1 << 30)
            body(base + start, Int32(count))
            start += count
        }
    }
}

/// What goes wrong in the MPI layer before any collective operation runs.
public enum MPIError: Error, CustomStringConvertible {
    /// `MPI_Init_thread` returned an error code.
    case initialization(code: Int)

    /// One line saying what failed.
    public var description: String {
        switch self {
        case .initialization(let code): return "MPI could not be initialised (MPI_Init_thread returned \(code))"
        }
    }
}
