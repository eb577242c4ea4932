#include "d2l_kernels.h"

// The wide-row direct convolution (see d2l_kernels.h and
// Sources/Engine/Kernels/WideDirectConvolution.swift): every tap of a stride-1 convolution is
// the padded image read at a fixed offset, so one output row of the padded width is a sum of
// shifted rows. Register tiles: 6 output channels × 16 positions for the forward, 4 output
// channels × 3 taps for the weight gradient.

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/// One output channel's row of the register tile: its weight broadcast, times both input vectors.
#define FORWARD_ROW(r)                                     \
    {                                                      \
        const __m256 v = _mm256_broadcast_ss(w + r);       \
        a##r##0 = _mm256_fmadd_ps(v, x0, a##r##0);         \
        a##r##1 = _mm256_fmadd_ps(v, x1, a##r##1);         \
    }
/// Stores row `r` of the tile plus its bias at `out + r·ldy`.
#define FORWARD_STORE(r)                                                   \
    {                                                                      \
        const __m256 bias = _mm256_broadcast_ss(b + r);                    \
        _mm256_storeu_ps(out + r * ldy, _mm256_add_ps(a##r##0, bias));     \
        _mm256_storeu_ps(out + r * ldy + 8, _mm256_add_ps(a##r##1, bias)); \
    }

__attribute__((target("avx2,fma")))
void d2l_wide_convolution_forward_avx2(float *y, long ldy, const float *x, const long *offsets, int taps,
                                       const float *packedWeights, const float *packedBias, int groups,
                                       int count) {
    const long *end = offsets + taps;
    for (int q = 0; q < count; q += 16) {
        const float *xq = x + q;
        for (int g = 0; g < groups; g++) {
            // 6 channels × 16 positions: 12 accumulators, 2 input vectors and 1 broadcast weight
            // (15 registers; a 4 × 24 tile needs all 16, and clang then spills an accumulator).
            // They start at 0 and the bias is added at the store (starting at the bias made clang
            // copy registers inside the loop).
            __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps();
            __m256 a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps();
            __m256 a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
            __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
            __m256 a40 = _mm256_setzero_ps(), a41 = _mm256_setzero_ps();
            __m256 a50 = _mm256_setzero_ps(), a51 = _mm256_setzero_ps();
            const float *w = packedWeights + (long)g * taps * 6;
            for (const long *o = offsets; o < end; o++, w += 6) {
                const float *p = xq + *o;
                const __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + 8);
                FORWARD_ROW(0) FORWARD_ROW(1) FORWARD_ROW(2) FORWARD_ROW(3) FORWARD_ROW(4) FORWARD_ROW(5)
            }
            float *out = y + (long)6 * g * ldy + q;
            const float *b = packedBias + 6 * g;
            FORWARD_STORE(0) FORWARD_STORE(1) FORWARD_STORE(2) FORWARD_STORE(3) FORWARD_STORE(4) FORWARD_STORE(5)
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
                __m256 v = _mm256_loadu_ps(d0 + q);
                a00 = _mm256_fmadd_ps(v, x0, a00);
                a01 = _mm256_fmadd_ps(v, x1, a01);
                a02 = _mm256_fmadd_ps(v, x2, a02);
                v = _mm256_loadu_ps(d1 + q);
                a10 = _mm256_fmadd_ps(v, x0, a10);
                a11 = _mm256_fmadd_ps(v, x1, a11);
                a12 = _mm256_fmadd_ps(v, x2, a12);
                v = _mm256_loadu_ps(d2 + q);
                a20 = _mm256_fmadd_ps(v, x0, a20);
                a21 = _mm256_fmadd_ps(v, x1, a21);
                a22 = _mm256_fmadd_ps(v, x2, a22);
                v = _mm256_loadu_ps(d3 + q);
                a30 = _mm256_fmadd_ps(v, x0, a30);
                a31 = _mm256_fmadd_ps(v, x1, a31);
                a32 = _mm256_fmadd_ps(v, x2, a32);
            }
            const __m256 a[4][3] = {{a00, a01, a02}, {a10, a11, a12}, {a20, a21, a22}, {a30, a31, a32}};
            for (int r = 0; r < 4; r++) {
                float *row = sums + (long)(4 * g + r) * taps + t;
                for (int j = 0; j < width; j++) row[j] += lane_sum(a[r][j]);
            }
        }
    }
}

#else
void d2l_wide_convolution_forward_avx2(float *y, long ldy, const float *x, const long *offsets, int taps,
                                       const float *packedWeights, const float *packedBias, int groups,
                                       int count) {}
void d2l_wide_convolution_weight_gradient_avx2(float *sums, const float *dy, long ldy, const float *x,
                                               const long *offsets, int taps, int groups, int count) {}
#endif
