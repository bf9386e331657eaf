// Attention alone, stage by stage: DeiT-S's dense attention, Sparsifiner's (default config:
// keep rate 0.25, reduce_n 6, reduce_c 2, top-8 basis coefficients) and Agent-DeiT-S's (49
// agents), at one input size, on random tensors. The stages are the op sequence of
// backbones/vit.c, vit_sparsifiner.c and vit_agent.c (one block; the qkv and output Linears,
// the same in all three, are timed once as their own row), so the table says where
// Sparsifiner's and Agent's time goes as the token count grows.
//
//   seer_bench attn [--size 224] [--batch 1] [--iters 10] [--device cpu|cuda]
//                   [--precision f32|bf16|f16]
//
// Each row: median over --iters (after one warm-up) of one block's stage, times the 12 blocks;
// multiply-adds counted from the shapes (top-k, softmax and copies count none).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backbones/vit.h" // seer_agent_attention
#include "core/ops.h"

#define DEPTH 12
#define MAX_STAGES 16
#define MAX_ITERS 200

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static unsigned rng = 12345;

// Uniform in [-a, a) (|.| when positive_only), uploaded as dtype dt.
static seer_tensor *rand_tensor(seer_ctx *c, seer_dtype dt, int ndim, const int64_t *shape, float a,
                                bool positive_only) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *h = malloc((size_t)n * sizeof *h);
    if (!h) return NULL;
    for (int64_t i = 0; i < n; i++) {
        rng = rng * 1664525u + 1013904223u;
        float u = ((float)(rng >> 8) / 16777216.0f * 2.0f - 1.0f) * a;
        h[i] = positive_only ? fabsf(u) : u;
    }
    seer_tensor *t = seer_from_host(c, h, dt, ndim, shape);
    free(h);
    return t;
}

typedef struct stage {
    const char *kind, *name;
    double macs; // per block
    double t[MAX_ITERS];
} stage;

typedef struct timer {
    seer_device dev;
    stage *st;
    int n, it;
    double t0;
} timer;

static void mark_start(timer *tm) {
    seer_device_sync(tm->dev);
    tm->t0 = now();
}

// Ends the running stage (kind, name, multiply-adds per block) and starts the next.
static void mark(timer *tm, const char *kind, const char *name, double macs) {
    seer_device_sync(tm->dev);
    double t = now();
    int i = 0;
    while (i < tm->n && (strcmp(tm->st[i].kind, kind) || strcmp(tm->st[i].name, name)))
        i++;
    if (i == tm->n && tm->n < MAX_STAGES) tm->st[tm->n++] = (stage){.kind = kind, .name = name};
    if (i < MAX_STAGES && tm->it >= 0) {
        tm->st[i].macs = macs;
        tm->st[i].t[tm->it] = t - tm->t0;
    }
    tm->t0 = now();
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int seer_bench_attn(int argc, char **argv) {
    seer_device dev = SEER_DEVICE_CPU;
    seer_dtype dt = SEER_F32;
    int size = 224, batch = 1, iters = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "seer_bench attn: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--size") == 0)
            size = atoi(v);
        else if (strcmp(a, "--batch") == 0)
            batch = atoi(v);
        else if (strcmp(a, "--iters") == 0)
            iters = atoi(v);
        else if (strcmp(a, "--device") == 0)
            dev = strcmp(v, "cuda") == 0 ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU;
        else if (strcmp(a, "--precision") == 0)
            dt = strcmp(v, "bf16") == 0 ? SEER_BF16 : strcmp(v, "f16") == 0 ? SEER_F16 : SEER_F32;
        else {
            fprintf(stderr, "seer_bench attn: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (size < 16 || size % 16 || batch < 1 || iters < 1 || iters > MAX_ITERS) {
        fprintf(stderr,
                "usage: seer_bench attn [--size S (multiple of 16)] [--batch N] "
                "[--iters 1..%d] [--device cpu|cuda] [--precision f32|bf16|f16]\n",
                MAX_ITERS);
        return 2;
    }
    // DeiT-S; Sparsifiner's default config; Agent-DeiT-S (vit.c presets)
    const int64_t B = batch, C = 384, H = 6, D = C / H, W = size / 16, N = W * W, L = N + 1;
    const int64_t c_red = D / 2, K = L / 6, topc = 8, keep = (int64_t)ceil(0.25 * (double)L);
    const int64_t A = 49, pool = 7;
    const float scale = 1.0f / sqrtf((float)D), pred_scale = 1.0f / sqrtf((float)H);
    seer_ctx *wc = seer_ctx_new(dev), *c = seer_ctx_new(dev);
    if (!wc || !c) {
        fprintf(stderr, "seer_bench attn: %s\n", seer_last_error());
        return 1;
    }
    // weights (their values do not change the work; the basis is |.| as after the threshold)
    seer_tensor *qkv_w = rand_tensor(wc, dt, 2, (int64_t[]){3 * C, C}, 0.05f, false);
    seer_tensor *qkv_b = rand_tensor(wc, SEER_F32, 1, (int64_t[]){3 * C}, 0.05f, false); // biases: F32
    seer_tensor *proj_w = rand_tensor(wc, dt, 2, (int64_t[]){C, C}, 0.05f, false);
    seer_tensor *proj_b = rand_tensor(wc, SEER_F32, 1, (int64_t[]){C}, 0.05f, false);
    // the connectivity predictor runs in F32 whatever the model's dtype (vit_sparsifiner.c)
    seer_tensor *pcq_w = rand_tensor(wc, SEER_F32, 2, (int64_t[]){c_red, D}, 0.1f, false);
    seer_tensor *pcq_b = rand_tensor(wc, SEER_F32, 1, (int64_t[]){c_red}, 0.1f, false);
    seer_tensor *pck_w = rand_tensor(wc, SEER_F32, 2, (int64_t[]){c_red, D}, 0.1f, false);
    seer_tensor *pck_b = rand_tensor(wc, SEER_F32, 1, (int64_t[]){c_red}, 0.1f, false);
    seer_tensor *proj_n = rand_tensor(wc, SEER_F32, 2, (int64_t[]){L, K}, 1.0f, false);
    seer_tensor *basis = rand_tensor(wc, SEER_F32, 2, (int64_t[]){K, L}, 0.04f, true);
    seer_tensor *bias1 = rand_tensor(wc, dt, 4, (int64_t[]){1, H, A, L}, 0.5f, false);
    seer_tensor *bias2 = rand_tensor(wc, dt, 4, (int64_t[]){1, H, L, A}, 0.5f, false);
    seer_tensor *dwc_w = rand_tensor(wc, dt, 4, (int64_t[]){C, 3, 3, 1}, 0.3f, false);
    seer_tensor *dwc_b = rand_tensor(wc, SEER_F32, 1, (int64_t[]){C}, 0.1f, false);
    // one block's input (after norm1) and its q, k, v
    seer_tensor *x = rand_tensor(wc, dt, 3, (int64_t[]){B, L, C}, 1.7f, false);
    seer_tensor *qkv = rand_tensor(wc, dt, 5, (int64_t[]){3, B, H, L, D}, 1.7f, false);
    seer_tensor *grid_q = rand_tensor(wc, dt, 4, (int64_t[]){B, W, W, C}, 1.7f, false);
    if (seer_ctx_status(wc) != SEER_STATUS_OK) {
        fprintf(stderr, "seer_bench attn: %s\n", seer_ctx_error(wc));
        return 1;
    }
    seer_tensor *q = seer_reshape(wc, seer_narrow(wc, qkv, 0, 0, 1), 4, (int64_t[]){B, H, L, D});
    seer_tensor *k = seer_reshape(wc, seer_narrow(wc, qkv, 0, 1, 1), 4, (int64_t[]){B, H, L, D});
    seer_tensor *v = seer_reshape(wc, seer_narrow(wc, qkv, 0, 2, 1), 4, (int64_t[]){B, H, L, D});
    const double BH = (double)(B * H);

    stage st[MAX_STAGES];
    timer tm = {.dev = dev, .st = st};
    for (tm.it = -1; tm.it < iters; tm.it++) { // one warm-up pass
        seer_ctx_reset(c);
        mark_start(&tm);
        // common to all three: qkv Linear, (attention), output Linear
        seer_linear(c, x, qkv_w, qkv_b);
        seer_linear(c, x, proj_w, proj_b);
        mark(&tm, "all three", "qkv + proj Linears", (double)B * L * 4 * C * C);

        seer_attention(c, q, k, v, NULL, scale);
        mark(&tm, "dense", "softmax(q k^T) v", BH * L * L * 2 * D);

        // Sparsifiner: connectivity predictor, then attention over the kept keys
        const seer_tensor *q32 = dt == SEER_F32 ? q : seer_to(c, q, SEER_F32);
        const seer_tensor *k32 = dt == SEER_F32 ? k : seer_to(c, k, SEER_F32);
        seer_tensor *qc = seer_linear(c, q32, pcq_w, pcq_b); // [B, H, L, c]
        seer_tensor *kc = seer_linear(c, k32, pck_w, pck_b);
        seer_tensor *k_low = seer_matmul(c, kc, proj_n, true, false, 1.0f, NULL); // [B, H, c, K]
        seer_tensor *cheap = seer_matmul(c, qc, k_low, false, false, 1.0f, NULL); // [B, H, L, K]
        cheap = seer_narrow(c, seer_scale(c, cheap, pred_scale, 0.0f), 2, 1, L - 1);
        seer_tensor *coef = seer_softmax(c, cheap, 1.0f, NULL);
        mark(&tm, "sparsifiner", "predictor: low-rank scores + softmax",
             BH * (2.0 * L * D * c_red + (double)c_red * L * K + (double)L * c_red * K));
        seer_tensor *top_v = NULL, *top_i = NULL, *keep_i = NULL;
        seer_topk(c, coef, topc, &top_v, &top_i);
        seer_tensor *zeros =
            seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){B, H, L - 1, K}), 0.0);
        coef = seer_scatter(c, zeros, 3, top_i, top_v);
        mark(&tm, "sparsifiner", "predictor: top-8 coefficients", 0);
        seer_tensor *approx = seer_matmul(c, coef, basis, false, false, 1.0f, NULL); // [B,H,L-1,L]
        mark(&tm, "sparsifiner", "predictor: approx = coef basis", BH * (L - 1) * K * L);
        seer_topk(c, approx, keep, NULL, &keep_i);
        mark(&tm, "sparsifiner", "predictor: top-n keys per query", 0);
        seer_tensor *o_p =
            seer_attention_gather(c, seer_narrow(c, q, 2, 1, L - 1), k, v, keep_i, scale);
        seer_tensor *o_cls = seer_attention(c, seer_narrow(c, q, 2, 0, 1), k, v, NULL, scale);
        const seer_tensor *rows[2] = {o_cls, o_p};
        seer_concat(c, rows, 2, 2);
        mark(&tm, "sparsifiner", "attention over the kept keys", BH * ((L - 1) * keep + L) * 2 * D);

        // Agent: pooled agents, the two small attentions, the depthwise conv on v
        seer_tensor *ag = seer_adaptive_avg_pool2d(c, grid_q, pool, pool); // [B, 7, 7, C]
        ag = seer_permute_copy(c, seer_reshape(c, ag, 4, (int64_t[]){B, A, H, D}),
                               (int[]){0, 2, 1, 3});
        mark(&tm, "agent", "agents: pool the queries", 0);
        seer_agent_attention(c, q, k, v, ag, bias1, bias2, scale);
        mark(&tm, "agent", "two attentions via 49 agents", BH * (A * L + L * A) * 2 * D);
        seer_conv2d_params dw = {.pad_h = 1, .pad_w = 1, .groups = (int)C};
        seer_conv2d(c, grid_q, dwc_w, dwc_b, &dw);
        mark(&tm, "agent", "depthwise 3x3 on v", (double)B * N * C * 9);
        if (seer_ctx_status(c) != SEER_STATUS_OK) {
            fprintf(stderr, "seer_bench attn: %s\n", seer_ctx_error(c));
            return 1;
        }
    }
    printf("seer attn %s %s size %d (L = %lld tokens) batch %d, %d blocks; median of %d; "
           "Sparsifiner keeps %lld keys, %lld reduced tokens\n",
           seer_device_name(dev), seer_dtype_name(dt), size, (long long)L, batch, DEPTH, iters,
           (long long)keep, (long long)K);
    const char *kinds[4] = {"all three", "dense", "sparsifiner", "agent"};
    for (int kk = 0; kk < 4; kk++) {
        double sum_t = 0, sum_m = 0;
        for (int i = 0; i < tm.n; i++) {
            if (strcmp(st[i].kind, kinds[kk])) continue;
            qsort(st[i].t, (size_t)iters, sizeof(double), cmp_double);
            double t = DEPTH * st[i].t[iters / 2], m = DEPTH * st[i].macs;
            sum_t += t;
            sum_m += m;
            printf("  %-12s %-38s %9.2f ms  %8.3f GFLOP  %7.1f GFLOP/s\n", kinds[kk], st[i].name,
                   1e3 * t, 2e-9 * m, t > 0 ? 2e-9 * m / t : 0.0);
        }
        if (kk >= 2)
            printf("  %-12s %-38s %9.2f ms  %8.3f GFLOP\n", kinds[kk],
                   "= attention (without Linears)", 1e3 * sum_t, 2e-9 * sum_m);
    }
    seer_ctx_free(c);
    seer_ctx_free(wc);
    return 0;
}
