// ENAT generation speed: seer_enat_generate for a batch of one class (per-image seeds, the
// weights' sampler defaults unless given), then the VQGAN decode of its tokens, each timed on
// its own after one warm-up batch (arena growth, cuBLAS/cuDNN plans). bench/enat_timing.py
// times the official code the same way (scripts/gpu-enat-bench.sh runs both).
//   seer_bench enat --weights FILE --tokenizer FILE [--device cpu|cuda]
//                   [--precision f32|bf16|f16] [--batch N] [--steps T] [--cfg W] [--class C]
//                   [--iters K] [--guide FILE [--guide-w W]]
// --guide: the sampler's guide model (autoguidance; weight: --guide-w, else the generator's
// enat.guide_w); without it the generator runs unguided, whatever its metadata names.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate/enat.h"
#include "tokenizer/vqgan.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

// One batch: tokens (host ids), then their decoded images; the seconds of each.
static seer_status run_batch(seer_enat *m, seer_vqgan *v, seer_ctx *c, const int32_t *labels,
                             int batch, const seer_enat_sample_opts *so, int64_t *ids,
                             double *t_gen, double *t_dec) {
    seer_device dev = seer_ctx_device(c);
    const seer_enat_config *g = seer_enat_get_config(m);
    double t0 = now();
    seer_status st = seer_enat_generate(m, c, labels, batch, so, ids); // ids come back to host
    *t_gen = now() - t0;
    if (st != SEER_STATUS_OK) return st;
    seer_ctx_reset(c);
    size_t bytes = sizeof *ids * (size_t)batch * (size_t)(g->grid * g->grid);
    seer_tensor *t = seer_new(c, SEER_I64, 3, (int64_t[]){batch, g->grid, g->grid});
    if (t && seer_memcpy(dev, t->data, SEER_DEVICE_CPU, ids, bytes) != SEER_STATUS_OK)
        seer_ctx_fail(c, SEER_STATUS_DEVICE, "uploading tokens: %s", seer_last_error());
    seer_device_sync(dev);
    t0 = now();
    seer_vqgan_decode(v, c, t); // [B, H, W, 3] clamped to [0, 1], left on the device
    seer_device_sync(dev);
    *t_dec = now() - t0;
    return seer_ctx_status(c);
}

int seer_bench_enat(int argc, char **argv) {
    const char *weights = NULL, *tokenizer = NULL;
    seer_device dev = SEER_DEVICE_CPU;
    seer_dtype dt = SEER_F32;
    int batch = 64, steps = 0, cls = 207, iters = 3;
    double cfg = -1, guide_w = -1;
    const char *guide_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) break;
        if (strcmp(a, "--weights") == 0)
            weights = v;
        else if (strcmp(a, "--tokenizer") == 0)
            tokenizer = v;
        else if (strcmp(a, "--device") == 0)
            dev = strcmp(v, "cuda") == 0 ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU;
        else if (strcmp(a, "--precision") == 0)
            dt = strcmp(v, "bf16") == 0 ? SEER_BF16 : strcmp(v, "f16") == 0 ? SEER_F16 : SEER_F32;
        else if (strcmp(a, "--batch") == 0)
            batch = atoi(v);
        else if (strcmp(a, "--steps") == 0)
            steps = atoi(v);
        else if (strcmp(a, "--cfg") == 0)
            cfg = atof(v);
        else if (strcmp(a, "--guide") == 0)
            guide_path = v;
        else if (strcmp(a, "--guide-w") == 0)
            guide_w = atof(v);
        else if (strcmp(a, "--class") == 0)
            cls = atoi(v);
        else if (strcmp(a, "--iters") == 0)
            iters = atoi(v);
        else {
            fprintf(stderr, "seer_bench enat: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (!weights || !tokenizer || batch < 1 || iters < 1 || steps < 0) {
        fprintf(stderr,
                "usage: seer_bench enat --weights FILE --tokenizer FILE [--device cpu|cuda] "
                "[--precision f32|bf16|f16] [--batch N] [--steps T] [--cfg W] [--class C] "
                "[--iters K] [--guide FILE [--guide-w W]]\n");
        return 2;
    }
    seer_enat *m = NULL, *guide = NULL;
    seer_vqgan *v = NULL;
    if (seer_enat_load(weights, dev, dt, &m) != SEER_STATUS_OK ||
        seer_vqgan_load(tokenizer, dev, dt, &v) != SEER_STATUS_OK ||
        (guide_path && seer_enat_load(guide_path, dev, dt, &guide) != SEER_STATUS_OK)) {
        fprintf(stderr, "seer_bench: %s\n", seer_last_error());
        seer_enat_free(m);
        seer_vqgan_free(v);
        return 1;
    }
    const seer_enat_config *g = seer_enat_get_config(m);
    seer_enat_sample_opts so = {.steps = steps ? steps : g->steps,
                                .cfg = cfg >= 0 ? (float)cfg : g->cfg,
                                .mask_temp = g->mask_temp,
                                .samp_temp = g->samp_temp,
                                .guide = guide,
                                .guide_w = guide_w >= 0 ? (float)guide_w : g->guide_w};
    int32_t *labels = malloc(sizeof *labels * (size_t)batch);
    uint64_t *seeds = malloc(sizeof *seeds * (size_t)batch);
    int64_t *ids = malloc(sizeof *ids * (size_t)batch * (size_t)(g->grid * g->grid));
    double *t_gen = malloc(sizeof(double) * (size_t)iters),
           *t_dec = malloc(sizeof(double) * (size_t)iters),
           *t_all = malloc(sizeof(double) * (size_t)iters);
    seer_ctx *c = seer_ctx_new(dev);
    int rc = 1;
    if (!labels || !seeds || !ids || !t_gen || !t_dec || !t_all || !c) {
        fprintf(stderr, "seer_bench: out of memory or no %s device\n", seer_device_name(dev));
        goto out;
    }
    for (int b = 0; b < batch; b++) {
        labels[b] = cls;
        seeds[b] = (uint64_t)b;
    }
    so.seeds = seeds;
    for (int it = -1; it < iters; it++) { // one warm-up batch
        double tg, td;
        if (run_batch(m, v, c, labels, batch, &so, ids, &tg, &td) != SEER_STATUS_OK) {
            fprintf(stderr, "seer_bench: %s\n",
                    seer_ctx_status(c) != SEER_STATUS_OK ? seer_ctx_error(c) : seer_last_error());
            goto out;
        }
        if (it >= 0) {
            t_gen[it] = tg;
            t_dec[it] = td;
            t_all[it] = tg + td;
        }
    }
    double gen = median(t_gen, iters), dec = median(t_dec, iters), all = median(t_all, iters);
    char guided[96] = "";
    if (guide && so.guide_w != 0.0f)
        snprintf(guided, sizeof guided, " guide %s w %g", seer_enat_name(guide), so.guide_w);
    printf("seer enat %s %s %s batch %d steps %d cfg %g%s: generate %.2f ms/batch, decode %.2f "
           "ms/batch, total %.2f ms/batch (medians of %d), %.3f ms/image, %.2f img/s\n",
           seer_enat_name(m), seer_device_name(dev), seer_dtype_name(dt), batch, so.steps, so.cfg,
           guided, 1e3 * gen, 1e3 * dec, 1e3 * all, iters, 1e3 * all / batch, batch / all);
    rc = 0;
out:
    free(labels);
    free(seeds);
    free(ids);
    free(t_gen);
    free(t_dec);
    free(t_all);
    seer_ctx_free(c);
    seer_vqgan_free(v);
    seer_enat_free(m);
    seer_enat_free(guide);
    return rc;
}
