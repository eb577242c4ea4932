// Shim for the CZlib system-library target: zlib's inflate API, used to read the gzip-compressed
// IDX files of Fashion-MNIST. This target has no API of its own; Engine wraps what it uses in
// Sources/Engine/Data/Gzip.swift.
#ifndef D2L_CZLIB_SHIM_H
#define D2L_CZLIB_SHIM_H
#include <zlib.h>
#endif
