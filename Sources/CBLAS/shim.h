// Shim for the CBLAS system-library target: OpenBLAS's CBLAS interface (including the
// openblas_* extensions: openblas_get_corename, openblas_set_num_threads, ...) and LAPACKE.
// This target has no API of its own; Engine wraps what it uses in Sources/Engine/BLAS.
#ifndef D2L_CBLAS_SHIM_H
#define D2L_CBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
