// Shim for the CMPI system-library target: Open MPI's C interface (mpi.h) and static inline
// wrappers for what Swift cannot import from it. Open MPI's predefined handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, ...) are macros that take the address of a global object, which the Swift
// importer drops; each wrapper here returns one of them, or passes it to the call it belongs to.
// This target has no API of its own; only the MPI target (Sources/MPI) imports it.
#ifndef D2L_CMPI_SHIM_H
#define D2L_CMPI_SHIM_H
#include <mpi.h>
#include <stdint.h>

/// MPI_Init_thread asking for MPI_THREAD_FUNNELED (only the main thread calls MPI; OpenBLAS's and
/// the engine's worker threads never do). Returns the MPI error code; *provided is the level given.
static inline int d2l_mpi_init(int *provided) {
    return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
}

/// Whether MPI_Init has been called (1) or not (0).
static inline int d2l_mpi_initialized(void) {
    int flag = 0;
    MPI_Initialized(&flag);
    return flag;
}

/// Whether MPI_Finalize has been called (1) or not (0).
static inline int d2l_mpi_finalized(void) {
    int flag = 0;
    MPI_Finalized(&flag);
    return flag;
}

/// The rank of this process in MPI_COMM_WORLD.
static inline int d2l_mpi_rank(void) {
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

/// The number of processes in MPI_COMM_WORLD.
static inline int d2l_mpi_size(void) {
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

/// MPI_Bcast of `count` floats from `root` over MPI_COMM_WORLD.
static inline int d2l_mpi_broadcast_float(float *buffer, int count, int root) {
    return MPI_Bcast(buffer, count, MPI_FLOAT, root, MPI_COMM_WORLD);
}

/// In-place MPI_Allreduce (MPI_SUM) of `count` floats over MPI_COMM_WORLD.
static inline int d2l_mpi_allreduce_sum_float(float *buffer, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

/// In-place MPI_Allreduce (MPI_SUM) of `count` doubles over MPI_COMM_WORLD.
static inline int d2l_mpi_allreduce_sum_double(double *buffer, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

/// In-place MPI_Allreduce of `count` unsigned 64-bit integers with MPI_MIN (`maximum` = 0) or
/// MPI_MAX (`maximum` = 1) over MPI_COMM_WORLD.
static inline int d2l_mpi_allreduce_extreme_uint64(uint64_t *buffer, int count, int maximum) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_UINT64_T, maximum ? MPI_MAX : MPI_MIN, MPI_COMM_WORLD);
}

/// MPI_Barrier over MPI_COMM_WORLD.
static inline int d2l_mpi_barrier(void) {
    return MPI_Barrier(MPI_COMM_WORLD);
}

/// MPI_Abort of every process of MPI_COMM_WORLD with `code`.
static inline int d2l_mpi_abort(int code) {
    return MPI_Abort(MPI_COMM_WORLD, code);
}

/// MPI_Finalize.
static inline int d2l_mpi_finalize(void) {
    return MPI_Finalize();
}

#endif
