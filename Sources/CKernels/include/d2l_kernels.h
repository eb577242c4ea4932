// Hot loops of the engine compiled for AVX2 + FMA: Swift compiles Engine for baseline x86-64
// (SSE2, no FMA), and `unsafeFlags` would make the package unusable as a dependency, so these
// functions carry per-function `target` attributes and are chosen at run time from cpuid. Each
// has a portable twin in Swift (`Sources/Engine/Kernels/`), which stays the fallback and the
// reference in tests.
#ifndef D2L_KERNELS_H
#define D2L_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU and the operating system support AVX2 and FMA (cpuid leaf 7 and 1, XCR0 saves
/// the YMM state), else 0. Computed once.
int d2l_cpu_has_avx2_fma(void);

/// The number of CPUs in this process's affinity mask (`sched_getaffinity`, which `mpirun` and
/// `taskset` set), or 0 where it cannot be read (then the caller counts the online cores).
int d2l_affinity_cpu_count(void);

/// Direct stride-1 convolution of one zero-padded image, AVX2 + FMA (call only when
/// `d2l_cpu_has_avx2_fma()`):
///
///     y[o, oy, ox] = bias[o] + Σ_{c, ki, kj} weight[o, (c·kh + ki)·kw + kj] · padded[c, oy + ki, ox + kj]
///
/// `padded` is `[C, paddedHeight, paddedWidth]` with `paddedWidth ≥ 8·⌈OW/8⌉ + kw − 1` (every
/// 8-wide load stays inside its row), `y` is `[O, OH, OW]`, `weight` `[O, C·kh·kw]`, `bias` `[O]`
/// or NULL. Output channels go in groups of 6 (6 accumulators of 8 columns in registers); the
/// last segment of a row is stored masked.
void d2l_direct_convolution_forward_avx2(float *y, const float *padded, const float *weight, const float *bias,
                                         int channels, int paddedHeight, int paddedWidth, int outputChannels,
                                         int outputHeight, int outputWidth, int kernelHeight, int kernelWidth);

/// Weight and bias gradients of the same convolution for one image, AVX2 + FMA, accumulated:
///
///     sums[(o·K + t)·8 + lane] += Σ over rows and 8-column segments of dy[o, oy, ox] · padded[c, oy + ki, ox + kj]
///     biasSums[o·8 + lane]     += Σ dy[o, oy, ox]
///
/// (t = (c·kh + ki)·kw + kj, K = C·kh·kw; lane = ox mod 8 within its segment, dy read as 0 past
/// OW). The caller adds the 8 lanes of each entry at the end, so the sums keep 8 partial sums per
/// weight. `dy` is `[O, OH, OW]`; the other sizes as for the forward.
void d2l_direct_convolution_weight_gradient_avx2(float *sums, float *biasSums, const float *dy, const float *padded,
                                                 int channels, int paddedHeight, int paddedWidth, int outputChannels,
                                                 int outputHeight, int outputWidth, int kernelHeight, int kernelWidth);

/// Wide-row direct convolution, AVX2 + FMA (call only when `d2l_cpu_has_avx2_fma()`): for a
/// stride-1 convolution of a zero-padded image `x` `[C, Hp, Wp]` read as one long row, output
/// position `q = oy·Wp + ox` of the padded width is a sum of shifted copies of that row:
///
///     y[o, q] = bias[o] + Σ_{t < taps} w[o, t] · x[q + offsets[t]]     (q < roundUp(count, 16))
///
/// with `offsets[t] = (c·Hp + ki)·Wp + kj` for tap `t = (c·kh + ki)·kw + kj`; the columns
/// `ox ≥ OW` are junk the caller drops. Output channels go in tiles of 6, the last `O mod 6` in
/// one tile of 2, 4 or 6: `packedWeights` holds each tile's `[taps, R]` block in turn (tile at
/// first channel `f` with `R` rows: `w[f + r, t]` at `f·taps + t·R + r`, zero past the last
/// channel), `packedBias` and `y` have `d2l_wide_convolution_tile_rows(O)` rows (`y`'s of length
/// `ldy ≥ roundUp(count, 16)`). `x` must be readable at `roundUp(count, 16) − 1 + max(offsets)`.
void d2l_wide_convolution_forward_avx2(float *y, long ldy, const float *x, const long *offsets, int taps,
                                       const float *packedWeights, const float *packedBias, int outputChannels,
                                       int count);

/// The rows of the forward's packed weights, bias and output for `outputChannels` channels: O
/// rounded up to the last tile (6·⌊O/6⌋ plus 2, 4 or 6).
int d2l_wide_convolution_tile_rows(int outputChannels);

/// The same stride-1 convolution with the output channels in the vector lanes, AVX2 + FMA, for
/// `O` a multiple of 8: no junk columns, since each output position's input is a broadcast
/// scalar. For output position `p = oy·OW + ox` (compact, `p < OH·OW`):
///
///     y[o·OH·OW + p] = bias[o] + Σ_{t < taps} w[o, t] · x[oy·Wp + ox + offsets[t]]
///
/// `packedWeights` holds tiles of 16 channels (8 for a last odd one), each `[taps, 16]` (`[taps, 8]`):
/// `w[f + c, t]` at `f·taps + t·width + c` for the tile at first channel `f`. `bias` is `[O]`
/// (zeros for none), `y` one image's `[O, OH, OW]`, `x` the padded image as for
/// `d2l_wide_convolution_forward_avx2`. Register tile: 6 positions × 16 channels. The taps run in
/// even blocks of at most 256 (a 16-channel tile's block of weights, 16 KB, stays in L1) over
/// chunks of 192 positions, whose partial sums wait in a position-major scratch on the stack
/// and go to `y` through a transposition once all taps are in. Each result is the bias plus the
/// taps in order, whatever the blocking.
void d2l_channel_convolution_forward_avx2(float *y, const float *x, const long *offsets, int taps,
                                          const float *packedWeights, const float *bias, int outputChannels,
                                          int outputHeight, int outputWidth, int paddedWidth);

/// The weight gradient of the same convolution for one image, AVX2 + FMA, accumulated:
///
///     sums[o, t] += Σ_{q < count} dy[o, q] · x[q + offsets[t]]
///
/// `dy` is `[groups·4, ldy]` in the wide layout (zeros at the junk columns `ox ≥ OW`, in rows past
/// the last channel, and from `count` on), `count` a multiple of 8, `sums` `[groups·4, taps]`.
/// Register tile: 4 channels × 3 taps, 8 partial sums each, added up at the end of the row.
void d2l_wide_convolution_weight_gradient_avx2(float *sums, const float *dy, long ldy, const float *x,
                                               const long *offsets, int taps, int groups, int count);

/// The weight gradient with the output channels in the vector lanes, AVX2 + FMA, for `O` a
/// multiple of 8 (the twin of `d2l_channel_convolution_forward_avx2`: no junk columns), for one
/// image, accumulated:
///
///     sums[o·taps + t] += Σ_{oy < OH, ox < OW} dy[o·OH·OW + oy·OW + ox] · x[oy·Wp + ox + offsets[t]]
///
/// `dy` is one image's `[O, OH, OW]`, `x` the padded image as for the forward, `scratch` room for
/// `OH·OW·16` floats (a 16-channel tile of dy, transposed to position-major). Register tile: 6
/// taps × 16 channels, summed over the whole plane in order, then added to `sums`.
void d2l_channel_convolution_weight_gradient_avx2(float *sums, const float *dy, float *scratch, const float *x,
                                                  const long *offsets, int taps, int outputChannels,
                                                  int outputHeight, int outputWidth, int paddedWidth);

/// 1 when the CPU and the operating system support AVX-512F (cpuid leaf 7, XCR0 saves the
/// opmask and ZMM state) as well as AVX2 + FMA, else 0. Computed once.
int d2l_cpu_has_avx512f(void);

/// The vector lanes of the FMA-peak loop (`d2l_fma_peak_gflops`): 16 with AVX-512F, 8 with AVX2
/// + FMA, 0 without FMA.
int d2l_fma_lanes(void);

/// The FMA peak of `threads` cores, GFLOP/s. Each of `threads` POSIX threads (not a pool's
/// workers, which may not all start at once) waits at a start flag, then runs `iterations` rounds
/// of 12 independent vector FMAs `a = a·m + c` on the widest vectors the CPU has, with no memory
/// traffic: a loop bound by the FMA units' throughput alone (`iterations · 12 · lanes · 2`
/// operations per thread). A sample's rate is all threads' operations over the time from the
/// flag to the last one's end; the result is the best of `samples` samples after one untimed.
/// 0 without FMA or when a thread cannot be started.
double d2l_fma_peak_gflops(int threads, long iterations, int samples);

/// Max pooling of one plane, AVX2 (call only when `d2l_cpu_has_avx2_fma()`), 8 outputs of a row
/// at a time, for column strides 1 and 2:
///
///     y[i, j] = max over dr < kh, dc < kw of padded[i·sh + dr, j·sw + dc]
///     argmax[i, j] = (i·sh − ph + dr)·W + (j·sw − pw + dc) of the element chosen
///
/// scanning the window in row-major order and taking an element when `v > best || isnan(v)`
/// (PyTorch's rule: the first maximum, or the last NaN); a window of −∞ only gives −∞ and the
/// first element inside the input. `padded` is the input plane `[H, W]` placed at `(ph, pw)` in
/// a plane of −∞ of `H + 2ph` rows and `paddedWidth ≥ max(W + 2pw, sw·8·⌈OW/8⌉ + kw − 1)`
/// columns (every load stays inside). `y` and `argmax` are `[OH, OW]`.
void d2l_max_pool_plane_avx2(float *y, int *argmax, const float *padded, int paddedWidth, int inputWidth,
                             int outputHeight, int outputWidth, int kernelHeight, int kernelWidth,
                             int strideHeight, int strideWidth, int paddingHeight, int paddingWidth);

#ifdef __cplusplus
}
#endif

#endif
