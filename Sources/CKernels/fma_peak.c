// The machine's FMA peak, measured by a loop that does nothing but independent FMAs on the
// widest vectors the CPU has: no memory traffic, no dependence between accumulators, so it runs
// at the core's FMA throughput (what the hardware can do, not what a GEMM reaches).
#include "d2l_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

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

/// `iterations` rounds of the loop on the widest vectors the CPU has; returns the operations done
/// (0 without FMA). `*sink` seeds the accumulators and receives their sum.
static long fma_loop(long iterations, float *sink) {
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
static long fma_loop(long iterations, float *sink) { (void)iterations; (void)sink; return 0; }
int d2l_fma_lanes(void) { return 0; }
#endif

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// One thread of a sample: all threads spin until the start flag is raised, then run the loop;
// each records when it finished.
typedef struct {
    atomic_int *go;
    long iterations;
    long flops;
    double end;
    float sink;
} FMAThread;

static void *fma_thread(void *argument) {
    FMAThread *thread = argument;
    while (!atomic_load_explicit(thread->go, memory_order_acquire)) {
    }
    thread->flops = fma_loop(thread->iterations, &thread->sink);
    thread->end = seconds_now();
    return NULL;
}

double d2l_fma_peak_gflops(int threads, long iterations, int samples) {
    if (threads < 1 || threads > 256 || d2l_fma_lanes() == 0) return 0;
    pthread_t handles[256];
    FMAThread work[256];
    double best = 0;
    for (int sample = 0; sample <= samples; sample++) {
        atomic_int go = 0;
        int started = 0;
        for (; started < threads; started++) {
            work[started] = (FMAThread){&go, iterations, 0, 0, (float)started};
            if (pthread_create(&handles[started], NULL, fma_thread, &work[started]) != 0) break;
        }
        const double start = seconds_now();
        atomic_store_explicit(&go, 1, memory_order_release);
        double end = start, flops = 0;
        for (int t = 0; t < started; t++) {
            pthread_join(handles[t], NULL);
            if (work[t].end > end) end = work[t].end;
            flops += (double)work[t].flops;
        }
        if (started < threads) return 0;
        // Sample 0 is untimed (it wakes the cores from their idle states).
        if (sample > 0 && end > start && flops / (end - start) / 1e9 > best) best = flops / (end - start) / 1e9;
    }
    return best;
}
