// Measured arithmetic ceiling of this CPU: independent fused multiply-adds on 8-wide float
// vectors (GCC vector extensions, compiled for the host's widest FMA unit), one stream per
// OpenMP thread. What a perfect SGEMM could reach; the benchmarks report % of it.
#include <omp.h>
#include <stdio.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// 16 independent accumulators hide the FMA latency (4 cycles x 2 units x 2 ports).
__attribute__((target("avx2,fma"))) static float fma_stream(long iters, float seed) {
    v8 acc[16], m = {seed, seed, seed, seed, seed, seed, seed, seed}, a = m * 0.5f;
    for (int i = 0; i < 16; i++) acc[i] = m + (float)i;
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) acc[i] = acc[i] * m + a;
    v8 s = acc[0];
    for (int i = 1; i < 16; i++) s += acc[i];
    return s[0] + s[7];
}

double seer_bench_cpu_peak_gflops(int threads) {
    const long iters = 20 * 1000 * 1000;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += fma_stream(iters, 0.999999f + 1e-9f * (float)omp_get_thread_num());
        double t = now() - t0;
        double gflops = 2.0 * 8 * 16 * (double)iters * threads / t / 1e9;
        if (gflops > best) best = gflops;
        if (sink == 12345.0f) printf(" ");  // keep the work alive
    }
    return best;
}
