// Model throughput: forward passes of a loaded model on random input, no decoding.
//   seer_bench model --weights FILE [--model NAME] [--device cpu|cuda] [--precision f32|bf16|f16]
//                    [--batch N] [--size S] [--iters K]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backbones/model.h"
#include "core/profile.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int seer_bench_model(int argc, char **argv) {
    const char *weights = NULL, *arch = NULL;
    seer_device dev = SEER_DEVICE_CPU;
    seer_dtype dt = SEER_F32;
    int batch = 32, size = 0, iters = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) break;
        if (strcmp(a, "--weights") == 0) weights = v;
        else if (strcmp(a, "--model") == 0) arch = v;
        else if (strcmp(a, "--device") == 0) dev = strcmp(v, "cuda") == 0 ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU;
        else if (strcmp(a, "--precision") == 0) dt = strcmp(v, "bf16") == 0 ? SEER_BF16 : strcmp(v, "f16") == 0 ? SEER_F16 : SEER_F32;
        else if (strcmp(a, "--batch") == 0) batch = atoi(v);
        else if (strcmp(a, "--size") == 0) size = atoi(v);
        else if (strcmp(a, "--iters") == 0) iters = atoi(v);
        else {
            fprintf(stderr, "seer_bench model: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (!weights || batch < 1 || iters < 1) {
        fprintf(stderr, "usage: seer_bench model --weights FILE [--model NAME] [--device cpu|cuda] "
                        "[--precision f32|bf16|f16] [--batch N] [--size S] [--iters K]\n");
        return 2;
    }
    seer_model *m = NULL;
    if (seer_model_load(weights, arch, dev, dt, &m) != SEER_STATUS_OK) {
        fprintf(stderr, "seer_bench: %s\n", seer_last_error());
        return 1;
    }
    if (!size) size = m->arch->img_size;
    size_t n = (size_t)batch * size * size * 3;
    float *x = malloc(n * sizeof *x);
    unsigned s = 7;
    for (size_t i = 0; x && i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    seer_ctx *c = seer_ctx_new(dev);
    double best = 1e30, total = 0, *times = malloc((size_t)iters * sizeof *times);
    if (!x || !times || !c) {
        fprintf(stderr, "seer_bench: out of memory or no %s device\n", seer_device_name(dev));
        return 1;
    }
    for (int it = -2; it < iters; it++) {  // two warm-up passes (arena growth, cuDNN plans)
        seer_ctx_reset(c);
        seer_tensor *in = seer_from_host(c, x, dt, 4, (int64_t[]){batch, size, size, 3});
        seer_device_sync(dev);
        if (it == 0 && seer_profile_enabled()) seer_profile_clear();  // warm-up passes not counted
        seer_profile_mark();
        double t0 = now();
        seer_tensor *y = seer_model_forward(m, c, in);
        seer_device_sync(dev);
        double t = now() - t0;
        if (!y || seer_ctx_status(c) != SEER_STATUS_OK) {
            fprintf(stderr, "seer_bench: %s\n", seer_ctx_error(c));
            return 1;
        }
        if (it >= 0) {
            times[it] = t;
            total += t;
            if (t < best) best = t;
        }
    }
    qsort(times, (size_t)iters, sizeof *times, cmp_double);
    double median = iters % 2 ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
    printf("seer %-24s %-4s %-4s batch %4d  %8.2f ms/batch (best %8.2f, median %8.2f)  %9.1f img/s  "
           "arena %.0f MiB\n",
           m->arch->name, seer_device_name(dev), seer_dtype_name(dt), batch, 1e3 * total / iters,
           1e3 * best, 1e3 * median, batch * iters / total,
           seer_arena_high_water(seer_ctx_arena(c)) / 1048576.0);
    free(times);
    free(x);
    seer_ctx_free(c);
    seer_model_free(m);
    return 0;
}
