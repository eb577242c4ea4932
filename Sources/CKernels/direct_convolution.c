#include "d2l_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

static int detect_avx2_fma(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    unsigned int xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0x6) != 0x6) return 0;   // the OS saves XMM and YMM state
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx >> 5) & 1;                   // AVX2
}

int d2l_cpu_has_avx2_fma(void) {
    static int cached = -1;
    if (cached < 0) cached = detect_avx2_fma();
    return cached;
}

/// Lanes 0..<count set (all bits), the others clear: the mask of a row's last segment.
__attribute__((target("avx2,fma")))
static inline __m256i lane_mask(int count) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lanes);
}

#define GROUP 6

__attribute__((target("avx2,fma")))
void d2l_direct_convolution_forward_avx2(float *y, const float *padded, const float *weight, const float *bias,
                                         int channels, int paddedHeight, int paddedWidth, int outputChannels,
                                         int outputHeight, int outputWidth, int kernelHeight, int kernelWidth) {
    const int k = channels * kernelHeight * kernelWidth, plane = outputHeight * outputWidth;
    const int segments = (outputWidth + 7) / 8;
    for (int first = 0; first < outputChannels; first += GROUP) {
        const int count = outputChannels - first < GROUP ? outputChannels - first : GROUP;
        // Rows of the group's weights; channels past the last repeat it (their results are dropped).
        const float *w[GROUP];
        __m256 b[GROUP];
        for (int j = 0; j < GROUP; j++) {
            int channel = first + (j < count ? j : count - 1);
            w[j] = weight + (long)channel * k;
            b[j] = _mm256_set1_ps(bias ? bias[channel] : 0.0f);
        }
        for (int oy = 0; oy < outputHeight; oy++) {
            for (int segment = 0; segment < segments; segment++) {
                __m256 a0 = b[0], a1 = b[1], a2 = b[2], a3 = b[3], a4 = b[4], a5 = b[5];
                int t = 0;
                for (int c = 0; c < channels; c++) {
                    for (int ki = 0; ki < kernelHeight; ki++) {
                        const float *row = padded + ((long)c * paddedHeight + oy + ki) * paddedWidth + segment * 8;
                        for (int kj = 0; kj < kernelWidth; kj++, t++) {
                            const __m256 x = _mm256_loadu_ps(row + kj);
                            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[0] + t), x, a0);
                            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[1] + t), x, a1);
                            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[2] + t), x, a2);
                            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[3] + t), x, a3);
                            a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[4] + t), x, a4);
                            a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[5] + t), x, a5);
                        }
                    }
                }
                const __m256 results[GROUP] = {a0, a1, a2, a3, a4, a5};
                const int lanes = outputWidth - segment * 8;
                float *out = y + (long)first * plane + oy * outputWidth + segment * 8;
                if (lanes >= 8) {
                    for (int j = 0; j < count; j++) _mm256_storeu_ps(out + (long)j * plane, results[j]);
                } else {
                    const __m256i mask = lane_mask(lanes);
                    for (int j = 0; j < count; j++) _mm256_maskstore_ps(out + (long)j * plane, mask, results[j]);
                }
            }
        }
    }
}

__attribute__((target("avx2,fma")))
void d2l_direct_convolution_weight_gradient_avx2(float *sums, float *biasSums, const float *dy, const float *padded,
                                                 int channels, int paddedHeight, int paddedWidth, int outputChannels,
                                                 int outputHeight, int outputWidth, int kernelHeight, int kernelWidth) {
    const int k = channels * kernelHeight * kernelWidth, plane = outputHeight * outputWidth;
    const int segments = (outputWidth + 7) / 8;
    for (int first = 0; first < outputChannels; first += GROUP) {
        const int count = outputChannels - first < GROUP ? outputChannels - first : GROUP;
        __m256 s[GROUP];
        for (int j = 0; j < GROUP; j++) s[j] = _mm256_setzero_ps();
        for (int oy = 0; oy < outputHeight; oy++) {
            for (int segment = 0; segment < segments; segment++) {
                const int lanes = outputWidth - segment * 8;
                const __m256i mask = lane_mask(lanes >= 8 ? 8 : lanes);
                __m256 d[GROUP];
                for (int j = 0; j < GROUP; j++) {
                    d[j] = j < count ? _mm256_maskload_ps(dy + (long)(first + j) * plane + oy * outputWidth + segment * 8, mask)
                                     : _mm256_setzero_ps();
                    s[j] = _mm256_add_ps(s[j], d[j]);
                }
                float *entry = sums + (long)first * k * 8;
                for (int c = 0; c < channels; c++) {
                    for (int ki = 0; ki < kernelHeight; ki++) {
                        const float *row = padded + ((long)c * paddedHeight + oy + ki) * paddedWidth + segment * 8;
                        for (int kj = 0; kj < kernelWidth; kj++, entry += 8) {
                            const __m256 x = _mm256_loadu_ps(row + kj);
                            for (int j = 0; j < count; j++) {
                                float *target = entry + (long)j * k * 8;
                                _mm256_storeu_ps(target, _mm256_fmadd_ps(d[j], x, _mm256_loadu_ps(target)));
                            }
                        }
                    }
                }
            }
        }
        for (int j = 0; j < count; j++) {
            float *target = biasSums + (long)(first + j) * 8;
            _mm256_storeu_ps(target, _mm256_add_ps(_mm256_loadu_ps(target), s[j]));
        }
    }
}

#else
int d2l_cpu_has_avx2_fma(void) { return 0; }
void d2l_direct_convolution_forward_avx2(float *y, const float *padded, const float *weight, const float *bias,
                                         int channels, int paddedHeight, int paddedWidth, int outputChannels,
                                         int outputHeight, int outputWidth, int kernelHeight, int kernelWidth) {}
void d2l_direct_convolution_weight_gradient_avx2(float *sums, float *biasSums, const float *dy, const float *padded,
                                                 int channels, int paddedHeight, int paddedWidth, int outputChannels,
                                                 int outputHeight, int outputWidth, int kernelHeight, int kernelWidth) {}
#endif
