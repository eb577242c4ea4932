#include "d2l_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/// The 8 elements `row[0], row[2], …, row[14]`: two loads and a shuffle.
__attribute__((target("avx2,fma")))
static inline __m256 load_every_other(const float *row) {
    const __m256 low = _mm256_loadu_ps(row), high = _mm256_loadu_ps(row + 8);
    // [l0 l2 h0 h2 | l4 l6 h4 h6] → [l0 l2 l4 l6 h0 h2 h4 h6]
    const __m256 mixed = _mm256_shuffle_ps(low, high, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), _MM_SHUFFLE(3, 1, 2, 0)));
}

__attribute__((target("avx2,fma")))
void d2l_max_pool_plane_avx2(float *y, int *argmax, const float *padded, int paddedWidth, int inputWidth, int outputHeight, int outputWidth,
                             int kernelHeight, int kernelWidth, int strideHeight, int strideWidth,
                             int paddingHeight, int paddingWidth) {
    const int segments = (outputWidth + 7) / 8;
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i none = _mm256_set1_epi32(-1);
    for (int i = 0; i < outputHeight; i++) {
        const float *top = padded + (long)i * strideHeight * paddedWidth;
        // Index in the input plane of window element (0, 0) of output (i, j): rowBase + strideWidth·j.
        const int rowBase = (i * strideHeight - paddingHeight) * inputWidth - paddingWidth;
        for (int segment = 0; segment < segments; segment++) {
            const int j0 = segment * 8;
            __m256 best = _mm256_set1_ps(-__builtin_inff());
            __m256i chosen = none;   // dr·W + dc of the chosen element; −1 while none is chosen
            for (int dr = 0; dr < kernelHeight; dr++) {
                const float *row = top + (long)dr * paddedWidth + (long)j0 * strideWidth;
                for (int dc = 0; dc < kernelWidth; dc++) {
                    const __m256 v = strideWidth == 1 ? _mm256_loadu_ps(row + dc) : load_every_other(row + dc);
                    // PyTorch's rule, lane by lane in the scan order: v > best || isnan(v).
                    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                                     _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    best = _mm256_blendv_ps(best, v, take);
                    chosen = _mm256_castps_si256(_mm256_blendv_ps(
                        _mm256_castsi256_ps(chosen), _mm256_castsi256_ps(_mm256_set1_epi32(dr * inputWidth + dc)), take));
                }
            }
            const __m256i columns = _mm256_add_epi32(_mm256_set1_epi32(j0), lanes);
            __m256i index = _mm256_add_epi32(
                chosen, _mm256_add_epi32(_mm256_set1_epi32(rowBase), _mm256_mullo_epi32(columns, _mm256_set1_epi32(strideWidth))));
            const int count = outputWidth - j0 < 8 ? outputWidth - j0 : 8;
            float *out = y + (long)i * outputWidth + j0;
            int *outIndex = argmax + (long)i * outputWidth + j0;
            const int unchosen = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(chosen, none)));
            if (count == 8) {
                _mm256_storeu_ps(out, best);
                _mm256_storeu_si256((__m256i *)outIndex, index);
            } else {
                const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lanes);
                _mm256_maskstore_ps(out, mask, best);
                _mm256_maskstore_epi32(outIndex, mask, index);
            }
            if (unchosen & ((1 << count) - 1)) {
                // Every element of the window was −∞: the first element inside the input, as the
                // scalar loop's starting index.
                for (int lane = 0; lane < count; lane++) {
                    if (!((unchosen >> lane) & 1)) continue;
                    const int r = i * strideHeight - paddingHeight, c = (j0 + lane) * strideWidth - paddingWidth;
                    outIndex[lane] = (r > 0 ? r : 0) * inputWidth + (c > 0 ? c : 0);
                }
            }
        }
    }
}

#else

void d2l_max_pool_plane_avx2(float *y, int *argmax, const float *padded, int paddedWidth, int inputWidth, int outputHeight, int outputWidth,
                             int kernelHeight, int kernelWidth, int strideHeight, int strideWidth,
                             int paddingHeight, int paddingWidth) {
    __builtin_trap();
}

#endif
