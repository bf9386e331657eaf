// Op benchmarks: SGEMM 4096^3 and a 3x3 convolution, CPU and (when present) CUDA, each as a
// share of the machine's measured ceiling (bench/peak.c, bench/peak_cuda.cu).
//
//   build/seer_bench ops [--cpu-only] [--threads N]
//   build/seer_bench model --weights FILE ...   (bench/bench_model.c)
//   build/seer_bench attn --size S ...           (bench/bench_vit_attn.c)
//   build/seer_bench enat --weights FILE ...     (bench/bench_enat.c)
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ops.h"
#include "core/threads.h"

double seer_bench_cpu_peak_gflops(int threads);
#ifdef SEER_CUDA
double seer_bench_cuda_fp32_peak_tflops(void);
double seer_bench_cuda_bf16_gemm_tflops(int n);
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *random_floats(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

// Median seconds of `reps` runs of op on fixed inputs (one warm-up run first).
typedef seer_tensor *(*op_fn)(seer_ctx *c, seer_tensor **in);

static double time_op(seer_ctx *c, op_fn fn, seer_tensor **in, int reps) {
    double t[64];
    if (reps > 64) reps = 64;
    for (int r = -1; r < reps; r++) {
        seer_device_sync(seer_ctx_device(c));
        double t0 = now();
        seer_tensor *y = fn(c, in);
        seer_device_sync(seer_ctx_device(c));
        if (!y) {
            fprintf(stderr, "bench: %s\n", seer_ctx_error(c));
            exit(1);
        }
        if (r >= 0) t[r] = now() - t0;
    }
    for (int i = 0; i < reps; i++)
        for (int j = i + 1; j < reps; j++)
            if (t[j] < t[i]) {
                double s = t[i];
                t[i] = t[j];
                t[j] = s;
            }
    return t[reps / 2];
}

static seer_tensor *op_gemm(seer_ctx *c, seer_tensor **in) {
    return seer_matmul(c, in[0], in[1], false, false, 1.0f, NULL);
}

static seer_conv2d_params conv_p = {.pad_h = 1, .pad_w = 1};
static seer_tensor *op_conv(seer_ctx *c, seer_tensor **in) {
    return seer_conv2d(c, in[0], in[1], NULL, &conv_p);
}

typedef struct shape4 {
    int64_t d[4];
} shape4;

static void bench_device(seer_device dev, seer_dtype dt, double peak_gflops, const char *peak_name) {
    seer_ctx *c = seer_ctx_new(dev);
    if (!c) {
        printf("%s: %s\n", seer_device_name(dev), seer_last_error());
        return;
    }
    const int64_t n = 4096;
    float *a = random_floats((size_t)(n * n), 1), *b = random_floats((size_t)(n * n), 2);
    seer_tensor *in[2] = {seer_from_host(c, a, dt, 2, (int64_t[]){n, n}),
                          seer_from_host(c, b, dt, 2, (int64_t[]){n, n})};
    int reps = dev == SEER_DEVICE_CPU ? 3 : 20;
    double t = time_op(c, op_gemm, in, reps);
    double gflops = 2.0 * n * n * n / t / 1e9;
    printf("%-5s %-4s matmul 4096^3          %9.3f ms  %9.1f GFLOP/s  %5.1f%% of %s\n",
           seer_device_name(dev), seer_dtype_name(dt), t * 1e3, gflops, 100 * gflops / peak_gflops, peak_name);
    free(a);
    free(b);

    // 3x3 conv, 256 -> 256 channels, 56x56 (a ResNet-50 stage-1 shape), batch 8 CPU / 64 GPU.
    int64_t bsz = dev == SEER_DEVICE_CPU ? 8 : 64, hw = 56, ch = 256;
    float *x = random_floats((size_t)(bsz * hw * hw * ch), 3), *w = random_floats((size_t)(ch * 9 * ch), 4);
    seer_tensor *cin[2] = {seer_from_host(c, x, dt, 4, (int64_t[]){bsz, hw, hw, ch}),
                           seer_from_host(c, w, dt, 4, (int64_t[]){ch, 3, 3, ch})};
    t = time_op(c, op_conv, cin, reps);
    gflops = 2.0 * bsz * hw * hw * ch * ch * 9 / t / 1e9;
    printf("%-5s %-4s conv3x3 %lldx56x56x256->256 %7.3f ms  %9.1f GFLOP/s  %5.1f%% of %s\n",
           seer_device_name(dev), seer_dtype_name(dt), (long long)bsz, t * 1e3, gflops,
           100 * gflops / peak_gflops, peak_name);
    free(x);
    free(w);
    seer_ctx_free(c);
}

int seer_bench_model(int argc, char **argv);
int seer_bench_attn(int argc, char **argv);
int seer_bench_enat(int argc, char **argv);

int main(int argc, char **argv) {
    seer_threads_init(argv);
    if (argc > 1 && strcmp(argv[1], "model") == 0) return seer_bench_model(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "attn") == 0) return seer_bench_attn(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "enat") == 0) return seer_bench_enat(argc - 1, argv + 1);
    bool cpu_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cpu-only") == 0) cpu_only = true;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) omp_set_num_threads(atoi(argv[++i]));
        else if (strcmp(argv[i], "ops") != 0) {
            fprintf(stderr, "usage: seer_bench [ops] [--cpu-only] [--threads N]\n");
            return 2;
        }
    }
    int threads = omp_get_max_threads();
    double cpu_peak = seer_bench_cpu_peak_gflops(threads);
    printf("cpu: %d threads, measured FMA peak %.1f GFLOP/s\n", threads, cpu_peak);
    bench_device(SEER_DEVICE_CPU, SEER_F32, cpu_peak, "CPU FMA peak");
#ifdef SEER_CUDA
    if (!cpu_only && seer_device_available(SEER_DEVICE_CUDA)) {
        double fp32 = seer_bench_cuda_fp32_peak_tflops() * 1e3;
        double bf16 = seer_bench_cuda_bf16_gemm_tflops(8192) * 1e3;
        printf("cuda: measured FFMA peak %.1f TFLOP/s, cuBLAS bf16 8192^3 %.1f TFLOP/s\n", fp32 / 1e3, bf16 / 1e3);
        bench_device(SEER_DEVICE_CUDA, SEER_F32, fp32, "FFMA peak");
        bench_device(SEER_DEVICE_CUDA, SEER_BF16, bf16, "cuBLAS bf16 peak");
    }
#endif
    (void)cpu_only;
    return 0;
}
