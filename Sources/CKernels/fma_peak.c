// The machine's FMA peak, measured by a loop that does nothing but independent FMAs on the
// widest vectors the CPU has: no memory traffic, no dependence between accumulators, so it runs
// at the core's FMA throughput (what the hardware can do, not what a GEMM reaches).
#include "d2l_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

static int detect_avx512f(void) {
    if (!d2l_cpu_has_avx2_fma()) return 0;
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    if (!((ebx >> 16) & 1)) return 0;        // AVX512F
    unsigned int xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    return (xcr0_low & 0xE6) == 0xE6;        // the OS saves XMM, YMM, opmask and ZMM state
}

int d2l_cpu_has_avx512f(void) {
    static int cached = -1;
    if (cached < 0) cached = detect_avx512f();
    return cached;
}

// 12 accumulators: more than latency × throughput (4 × 2) of every FMA unit seen on x86-64, so
// the loop is bound by throughput alone. The multiplier and addend keep the values finite.
#define ACCUMULATORS 12

#define FMA_LOOP(vector, set1, fmadd, add)                                                        \
    vector a[ACCUMULATORS];                                                                      \
    for (int i = 0; i < ACCUMULATORS; i++) a[i] = set1(seed + (float)i);                         \
    const vector m = set1(0.999999f), c = set1(1e-7f);                                           \
    for (long n = 0; n < iterations; n++) {                                                      \
        for (int i = 0; i < ACCUMULATORS; i++) a[i] = fmadd(a[i], m, c);                         \
    }                                                                                            \
    vector sum = a[0];                                                                           \
    for (int i = 1; i < ACCUMULATORS; i++) sum = add(sum, a[i]);

__attribute__((target("avx2,fma")))
static float fma_loop_avx2(long iterations, float seed) {
    FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps)
    return _mm256_cvtss_f32(sum);
}

__attribute__((target("avx512f")))
static float fma_loop_avx512(long iterations, float seed) {
    FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
    return _mm512_reduce_add_ps(sum);
}

long d2l_fma_loop(long iterations, float *sink) {
    if (d2l_cpu_has_avx512f()) {
        *sink = fma_loop_avx512(iterations, *sink);
        return iterations * ACCUMULATORS * 16 * 2;
    }
    if (d2l_cpu_has_avx2_fma()) {
        *sink = fma_loop_avx2(iterations, *sink);
        return iterations * ACCUMULATORS * 8 * 2;
    }
    return 0;
}

int d2l_fma_lanes(void) { return d2l_cpu_has_avx512f() ? 16 : d2l_cpu_has_avx2_fma() ? 8 : 0; }
#else
int d2l_cpu_has_avx512f(void) { return 0; }
long d2l_fma_loop(long iterations, float *sink) { (void)iterations; (void)sink; return 0; }
int d2l_fma_lanes(void) { return 0; }
#endif
