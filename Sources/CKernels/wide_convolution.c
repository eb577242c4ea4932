#include "d2l_kernels.h"

// The wide-row direct convolution (see d2l_kernels.h and
// Sources/Engine/Kernels/WideDirectConvolution.swift): every tap of a stride-1 convolution is
// the padded image read at a fixed offset, so one output row of the padded width is a sum of
// shifted rows. Register tiles: 6 output channels × 16 positions for the forward (4 or 2 for
// the last channels), 4 output channels × 3 taps for the weight gradient.

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/// One register tile of the forward, `R` output channels (6, 4 or 2) × 16 positions: 2·R
/// accumulators, 2 input vectors and 1 broadcast weight (15 registers for R = 6; a 4 × 24 tile
/// needs all 16, and clang then spills an accumulator inside the tap loop). The accumulators
/// start at 0 and the bias is added at the store (starting them at the bias made clang copy
/// registers inside the loop). `w` is the tile's weights `[taps, R]`.
#define DEFINE_FORWARD_TILE(R)                                                                        \
    __attribute__((target("avx2,fma"), always_inline)) static inline void forward_tile_##R(           \
        float *out, long ldy, const float *xq, const long *offsets, const long *end, const float *w,  \
        const float *b) {                                                                              \
        __m256 a[R][2];                                                                                \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) a[r][0] = a[r][1] =            \
            _mm256_setzero_ps();                                                                       \
        for (const long *o = offsets; o < end; o++, w += R) {                                          \
            const float *p = xq + *o;                                                                  \
            const __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + 8);                         \
            _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {                           \
                const __m256 v = _mm256_broadcast_ss(w + r);                                           \
                a[r][0] = _mm256_fmadd_ps(v, x0, a[r][0]);                                             \
                a[r][1] = _mm256_fmadd_ps(v, x1, a[r][1]);                                             \
            }                                                                                          \
        }                                                                                              \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {                               \
            const __m256 bias = _mm256_broadcast_ss(b + r);                                            \
            _mm256_storeu_ps(out + r * ldy, _mm256_add_ps(a[r][0], bias));                             \
            _mm256_storeu_ps(out + r * ldy + 8, _mm256_add_ps(a[r][1], bias));                         \
        }                                                                                              \
    }
DEFINE_FORWARD_TILE(6)
DEFINE_FORWARD_TILE(4)
DEFINE_FORWARD_TILE(2)

int d2l_wide_convolution_tile_rows(int outputChannels) {
    const int rest = outputChannels % 6;
    return outputChannels - rest + (rest > 4 ? 6 : rest > 2 ? 4 : rest > 0 ? 2 : 0);
}

__attribute__((target("avx2,fma")))
void d2l_wide_convolution_forward_avx2(float *y, long ldy, const float *x, const long *offsets, int taps,
                                       const float *packedWeights, const float *packedBias, int outputChannels,
                                       int count) {
    const long *end = offsets + taps;
    const int full = outputChannels / 6, rest = outputChannels % 6;
    const long first = 6L * full;
    for (int q = 0; q < count; q += 16) {
        const float *xq = x + q;
        for (long g = 0; g < full; g++) {
            forward_tile_6(y + 6 * g * ldy + q, ldy, xq, offsets, end, packedWeights + 6 * g * taps,
                           packedBias + 6 * g);
        }
        float *out = y + first * ldy + q;
        const float *w = packedWeights + first * taps, *b = packedBias + first;
        if (rest > 4) forward_tile_6(out, ldy, xq, offsets, end, w, b);
        else if (rest > 2) forward_tile_4(out, ldy, xq, offsets, end, w, b);
        else if (rest > 0) forward_tile_2(out, ldy, xq, offsets, end, w, b);
    }
}

/// One register tile of the channel-vector forward: 6 output positions × `V` vectors of 8
/// output channels (V = 2 or 1): 6·V accumulators, V weight vectors and 1 broadcast input value.
/// The accumulators start from, and return to, `s` (`[6, 8V]`, position-major: the partial sums
/// of the taps before this block); `p[j]` points at position j's window in the padded image; the
/// block's taps are `offsets[o..<end]` with weights `w` (`[taps of the block, 8V]`).
#define DEFINE_CHANNEL_TILE(V)                                                                        \
    __attribute__((target("avx2,fma"), always_inline)) static inline void channel_tile_##V(           \
        float *s, const float *const *p, const long *o, const long *end, const float *w) {             \
        __m256 a[6][V];                                                                                \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < 6; j++) {                              \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) a[j][v] =                  \
                _mm256_loadu_ps(s + 8 * (V * j + v));                                                  \
        }                                                                                              \
        const float *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3], *p4 = p[4], *p5 = p[5];            \
        for (; o < end; o++, w += 8 * V) {                                                             \
            const long offset = *o;                                                                    \
            __m256 wv[V];                                                                              \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) wv[v] = _mm256_loadu_ps(w + 8 * v); \
            const float *const q[6] = {p0 + offset, p1 + offset, p2 + offset, p3 + offset, p4 + offset, p5 + offset}; \
            _Pragma("clang loop unroll(full)") for (int j = 0; j < 6; j++) {                          \
                const __m256 x = _mm256_broadcast_ss(q[j]);                                            \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) a[j][v] =              \
                    _mm256_fmadd_ps(x, wv[v], a[j][v]);                                                \
            }                                                                                          \
        }                                                                                              \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < 6; j++) {                              \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++)                            \
                _mm256_storeu_ps(s + 8 * (V * j + v), a[j][v]);                                        \
        }                                                                                              \
    }
DEFINE_CHANNEL_TILE(2)
DEFINE_CHANNEL_TILE(1)

// The channel-vector forward's blocking. A 16-channel tile's weights are taps × 64 bytes (150 KB
// for AlexNet conv2, 400 KB for its backward-data dual): streamed from L2 or L3 for every 6
// positions they ran at 60–75 % of the FMA peak. So the taps go in even blocks of at most 256
// (16 KB of weights, which stay in L1 while a chunk of 32 groups of 6 positions runs through
// them), the chunk's partial sums wait in a position-major scratch (12 KB), and the taps' blocks
// then run at 84–97 % (measured standalone on one core on the zoo's shapes).
#define CHANNEL_CHUNK_GROUPS 32
#define CHANNEL_TAP_BLOCK 256

__attribute__((target("avx2,fma")))
void d2l_channel_convolution_forward_avx2(float *y, const float *x, const long *offsets, int taps,
                                          const float *packedWeights, const float *bias, int outputChannels,
                                          int outputHeight, int outputWidth, int paddedWidth) {
    const long plane = (long)outputHeight * outputWidth;
    const int blocks = (taps + CHANNEL_TAP_BLOCK - 1) / CHANNEL_TAP_BLOCK;
    const int blockTaps = (taps + blocks - 1) / blocks;
    float scratch[CHANNEL_CHUNK_GROUPS * 6 * 16] __attribute__((aligned(64)));
    const float *p[CHANNEL_CHUNK_GROUPS][6];
    for (long start = 0; start < plane; start += 6 * CHANNEL_CHUNK_GROUPS) {
        const int count = plane - start < 6 * CHANNEL_CHUNK_GROUPS ? (int)(plane - start) : 6 * CHANNEL_CHUNK_GROUPS;
        const int groups = (count + 5) / 6;
        for (int g = 0; g < groups; g++) {
            for (int j = 0; j < 6; j++) {
                // Past the chunk's last position a group repeats it; those sums are not stored.
                const long position = start + (6 * g + j < count ? 6 * g + j : count - 1);
                p[g][j] = x + (position / outputWidth) * paddedWidth + position % outputWidth;
            }
        }
        for (int f = 0; f < outputChannels; f += 16) {
            const int width = outputChannels - f >= 16 ? 16 : 8;
            const __m256 b0 = _mm256_loadu_ps(bias + f), b1 = width == 16 ? _mm256_loadu_ps(bias + f + 8) : b0;
            for (int q = 0; q < 6 * groups; q++) {
                _mm256_storeu_ps(scratch + q * width, b0);
                if (width == 16) _mm256_storeu_ps(scratch + q * width + 8, b1);
            }
            const float *tile = packedWeights + (long)f * taps;
            for (int t = 0; t < taps; t += blockTaps) {
                const long *o = offsets + t, *end = offsets + (taps - t < blockTaps ? taps : t + blockTaps);
                for (int g = 0; g < groups; g++) {
                    if (width == 16) channel_tile_2(scratch + 96 * g, p[g], o, end, tile + 16L * t);
                    else channel_tile_1(scratch + 48 * g, p[g], o, end, tile + 8L * t);
                }
            }
            for (int c = 0; c < width; c++) {
                float *row = y + (f + c) * plane + start;
                for (int q = 0; q < count; q++) row[q] = scratch[q * width + c];
            }
        }
    }
}

/// The sum of the 8 lanes of `v`.
__attribute__((target("avx2,fma")))
static inline float lane_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// One output channel's row of the weight gradient's tile: its dy vector times the three taps' input
/// vectors, into that row's three accumulators.
#define GRADIENT_ROW(r)                                    \
    {                                                      \
        const __m256 v = _mm256_loadu_ps(d##r + q);        \
        a##r##0 = _mm256_fmadd_ps(v, x0, a##r##0);         \
        a##r##1 = _mm256_fmadd_ps(v, x1, a##r##1);         \
        a##r##2 = _mm256_fmadd_ps(v, x2, a##r##2);         \
    }

__attribute__((target("avx2,fma")))
void d2l_wide_convolution_weight_gradient_avx2(float *sums, const float *dy, long ldy, const float *x,
                                               const long *offsets, int taps, int groups, int count) {
    for (int g = 0; g < groups; g++) {
        const float *d0 = dy + (long)4 * g * ldy, *d1 = d0 + ldy, *d2 = d1 + ldy, *d3 = d2 + ldy;
        for (int t = 0; t < taps; t += 3) {
            // A last group of 1 or 2 taps repeats the last tap; the repeats are not stored.
            const int width = taps - t < 3 ? taps - t : 3;
            const float *p0 = x + offsets[t], *p1 = x + offsets[t + (width > 1)], *p2 = x + offsets[t + width - 1];
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
            __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
            for (int q = 0; q < count; q += 8) {
                const __m256 x0 = _mm256_loadu_ps(p0 + q), x1 = _mm256_loadu_ps(p1 + q), x2 = _mm256_loadu_ps(p2 + q);
                GRADIENT_ROW(0) GRADIENT_ROW(1) GRADIENT_ROW(2) GRADIENT_ROW(3)
            }
            const __m256 a[4][3] = {{a00, a01, a02}, {a10, a11, a12}, {a20, a21, a22}, {a30, a31, a32}};
            for (int r = 0; r < 4; r++) {
                float *row = sums + (long)(4 * g + r) * taps + t;
                for (int j = 0; j < width; j++) row[j] += lane_sum(a[r][j]);
            }
        }
    }
}

/// One register tile of the channel-vector weight gradient: 6 taps × `V` vectors of 8 output
/// channels, summed over the output positions of the plane (no junk columns: each position's
/// input is a broadcast scalar), then added to `sums[(f + c)·taps + t]` for the first `width` taps.
#define DEFINE_GRADIENT_TILE(V)                                                                       \
    __attribute__((target("avx2,fma"), always_inline)) static inline void gradient_tile_##V(          \
        float *sums, int taps, const float *transposed, const float *x, const long *tapOffsets,        \
        int width, int outputHeight, int outputWidth, int paddedWidth) {                               \
        __m256 a[6][V];                                                                                \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < 6; j++) {                              \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) a[j][v] = _mm256_setzero_ps(); \
        }                                                                                              \
        const long o0 = tapOffsets[0], o1 = tapOffsets[1], o2 = tapOffsets[2], o3 = tapOffsets[3],    \
                   o4 = tapOffsets[4], o5 = tapOffsets[5];                                             \
        for (int oy = 0; oy < outputHeight; oy++) {                                                    \
            const float *row = x + (long)oy * paddedWidth;                                             \
            const float *d = transposed + (long)oy * outputWidth * 8 * V;                              \
            const float *const q[6] = {row + o0, row + o1, row + o2, row + o3, row + o4, row + o5};    \
            for (int ox = 0; ox < outputWidth; ox++, d += 8 * V) {                                     \
                __m256 dv[V];                                                                          \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) dv[v] = _mm256_loadu_ps(d + 8 * v); \
                _Pragma("clang loop unroll(full)") for (int j = 0; j < 6; j++) {                      \
                    const __m256 b = _mm256_broadcast_ss(q[j] + ox);                                   \
                    _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) a[j][v] =          \
                        _mm256_fmadd_ps(b, dv[v], a[j][v]);                                            \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
        float lanes[6][8 * V] __attribute__((aligned(32)));                                            \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < 6; j++) {                              \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++)                            \
                _mm256_store_ps(lanes[j] + 8 * v, a[j][v]);                                            \
        }                                                                                              \
        for (int c = 0; c < 8 * V; c++) {                                                              \
            for (int j = 0; j < width; j++) sums[(long)c * taps + j] += lanes[j][c];                   \
        }                                                                                              \
    }
DEFINE_GRADIENT_TILE(2)
DEFINE_GRADIENT_TILE(1)

__attribute__((target("avx2,fma")))
void d2l_channel_convolution_weight_gradient_avx2(float *sums, const float *dy, float *scratch, const float *x,
                                                  const long *offsets, int taps, int outputChannels,
                                                  int outputHeight, int outputWidth, int paddedWidth) {
    const long plane = (long)outputHeight * outputWidth;
    for (int f = 0; f < outputChannels; f += 16) {
        const int width = outputChannels - f >= 16 ? 16 : 8;
        // The tile's dy, position-major: scratch[p·width + c] = dy[(f + c)·plane + p].
        for (int c = 0; c < width; c++) {
            const float *source = dy + (long)(f + c) * plane;
            for (long p = 0; p < plane; p++) scratch[p * width + c] = source[p];
        }
        for (int t = 0; t < taps; t += 6) {
            // A last group of fewer than 6 taps repeats its last tap; the repeats are not stored.
            const int count = taps - t < 6 ? taps - t : 6;
            long group[6];
            for (int j = 0; j < 6; j++) group[j] = offsets[t + (j < count ? j : count - 1)];
            float *target = sums + (long)f * taps + t;
            if (width == 16) gradient_tile_2(target, taps, scratch, x, group, count, outputHeight, outputWidth, paddedWidth);
            else gradient_tile_1(target, taps, scratch, x, group, count, outputHeight, outputWidth, paddedWidth);
        }
    }
}

#else
void d2l_wide_convolution_forward_avx2(float *y, long ldy, const float *x, const long *offsets, int taps,
                                       const float *packedWeights, const float *packedBias, int outputChannels,
                                       int count) {}
int d2l_wide_convolution_tile_rows(int outputChannels) { return outputChannels; }
void d2l_channel_convolution_forward_avx2(float *y, const float *x, const long *offsets, int taps,
                                          const float *packedWeights, const float *bias, int outputChannels,
                                          int outputHeight, int outputWidth, int paddedWidth) {}
void d2l_wide_convolution_weight_gradient_avx2(float *sums, const float *dy, long ldy, const float *x,
                                               const long *offsets, int taps, int groups, int count) {}
void d2l_channel_convolution_weight_gradient_avx2(float *sums, const float *dy, float *scratch, const float *x,
                                                  const long *offsets, int taps, int outputChannels,
                                                  int outputHeight, int outputWidth, int paddedWidth) {}
#endif
