// seer_region_attention (BiFormer's token-level routed attention, keys read in place) against
// the composition it replaces: gather each region's routed regions' keys and values
// (index_select per image), then dense attention over them. CPU in F32; CUDA against the CPU
// (F32 and BF16, I32 and I64 indices; skipped without a GPU). Also the errors.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

typedef struct region_case {
    int64_t B, m, R, P, D, Dv, topk;
} region_case;

static const region_case cases[] = {
    {2, 2, 16, 4, 8, 8, 4},  // BiFormer-like: 4x4 regions of 2x2 pixels, 4 routed
    {1, 3, 9, 1, 5, 7, 9},   // one pixel per region, every region routed, D != Dv
    {2, 1, 4, 6, 3, 4, 1},   // a single routed region
    {1, 2, 49, 16, 32, 32, 4}, // biformer_tiny stage 2 at 224 (7x7 regions of 4x4)
    {1, 2, 49, 64, 32, 32, 1}, // stage 1 (8x8 pixels per region, one routed)
    {2, 8, 49, 4, 32, 32, 16}, // stage 3 (2x2 pixels, 16 routed)
    {1, 1, 4, 100, 32, 32, 2}, // CUDA: two query tiles, the last key tile partial
    {2, 2, 9, 16, 40, 48, 3},  // CUDA: D and Dv not multiples of the tile's 16 columns
    {1, 2, 4, 9, 96, 80, 2},   // CUDA: head dims over 64, the one-warp-per-query kernel
    {2, 2, 9, 20, 64, 64, 5},  // CUDA tensor cores: head dim 64, 2 query chunks, 2 key tiles
};

static float *randoms(seer_rng *r, int64_t n, seer_dtype dt) {
    float *x = malloc((size_t)n * sizeof *x);
    cr_assert(x);
    seer_rng_fill(r, x, (size_t)n);
    for (int64_t i = 0; dt == SEER_BF16 && i < n; i++) x[i] = seer_bf16_to_f32(seer_f32_to_bf16(x[i]));
    return x;
}

// idx [B, R, topk]: distinct regions per row, from a seeded shuffle.
static float *routes(seer_rng *r, const region_case *k) {
    float *idx = malloc((size_t)(k->B * k->R * k->topk) * sizeof *idx);
    int64_t *perm = malloc((size_t)k->R * sizeof *perm);
    cr_assert(idx && perm);
    for (int64_t row = 0; row < k->B * k->R; row++) {
        for (int64_t i = 0; i < k->R; i++) perm[i] = i;
        for (int64_t i = k->R - 1; i > 0; i--) {
            int64_t j = (int64_t)(seer_rng_u64(r) % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        for (int64_t t = 0; t < k->topk; t++) idx[row * k->topk + t] = (float)perm[t];
    }
    free(perm);
    return idx;
}

static seer_tensor *up(seer_ctx *c, const float *x, seer_dtype dt, int ndim, const int64_t *shape) {
    seer_tensor *t = seer_from_host(c, x, dt, ndim, shape);
    cr_assert(t, "upload: %s", seer_ctx_error(c));
    return t;
}

// rel-L2 of a CUDA result (any dtype and layout) against a contiguous F32 CPU tensor.
static double gpu_vs_cpu(seer_ctx *gpu, const seer_tensor *got, const seer_tensor *want) {
    seer_tensor *g = got ? seer_contiguous(gpu, seer_to(gpu, got, SEER_F32)) : NULL;
    cr_assert(g, "%s", seer_ctx_error(gpu));
    size_t count = (size_t)seer_tensor_numel(want);
    float *host = malloc(count * sizeof *host);
    cr_assert(host);
    cr_assert_eq(seer_memcpy(SEER_DEVICE_CPU, host, SEER_DEVICE_CUDA, g->data,
                             count * sizeof *host), SEER_STATUS_OK);
    double err = seer_rel_l2(host, want->data, count);
    free(host);
    return err;
}

// The composition: per image, k and v of the routed regions gathered, then seer_attention.
static seer_tensor *composed(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                             const seer_tensor *v, const seer_tensor *idx, float scale) {
    const int64_t B = q->shape[0], m = q->shape[1], R = q->shape[2], P = q->shape[3];
    const int64_t D = q->shape[4], Dv = v->shape[4], topk = idx->shape[2];
    seer_tensor *ks[8], *vs[8];
    cr_assert(B <= 8);
    for (int64_t b = 0; b < B; b++) {
        seer_tensor *i_b = seer_reshape(c, seer_narrow(c, idx, 0, b, 1), 1, (int64_t[]){R * topk});
        seer_tensor *k_b = seer_reshape(c, seer_narrow(c, k, 0, b, 1), 3, (int64_t[]){m, R, P * D});
        seer_tensor *v_b = seer_reshape(c, seer_narrow(c, v, 0, b, 1), 3, (int64_t[]){m, R, P * Dv});
        ks[b] = seer_index_select(c, k_b, 1, i_b); // [m, R * topk, P * D]
        vs[b] = seer_index_select(c, v_b, 1, i_b);
    }
    seer_tensor *kg = B > 1 ? seer_concat(c, (const seer_tensor *const *)ks, (int)B, 0) : ks[0];
    seer_tensor *vg = B > 1 ? seer_concat(c, (const seer_tensor *const *)vs, (int)B, 0) : vs[0];
    const int64_t N = B * m * R;
    return seer_attention(c, seer_reshape(c, q, 4, (int64_t[]){N, 1, P, D}),
                          seer_reshape(c, kg, 4, (int64_t[]){N, 1, topk * P, D}),
                          seer_reshape(c, vg, 4, (int64_t[]){N, 1, topk * P, Dv}), NULL, scale);
}

Test(region_attention, equals_gather_then_attention) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(17);
    for (size_t n = 0; n < sizeof cases / sizeof *cases; n++) {
        const region_case *k = &cases[n];
        int64_t qs[5] = {k->B, k->m, k->R, k->P, k->D}, vs[5] = {k->B, k->m, k->R, k->P, k->Dv};
        int64_t is[3] = {k->B, k->R, k->topk};
        float *q = randoms(&rng, k->B * k->m * k->R * k->P * k->D, SEER_F32);
        float *kk = randoms(&rng, k->B * k->m * k->R * k->P * k->D, SEER_F32);
        float *v = randoms(&rng, k->B * k->m * k->R * k->P * k->Dv, SEER_F32);
        float *idx = routes(&rng, k);
        seer_tensor *tq = up(c, q, SEER_F32, 5, qs), *tk = up(c, kk, SEER_F32, 5, qs);
        seer_tensor *tv = up(c, v, SEER_F32, 5, vs), *ti = up(c, idx, SEER_I64, 3, is);
        seer_tensor *got = seer_region_attention(c, tq, tk, tv, ti, 0.4f);
        seer_tensor *want = composed(c, tq, tk, tv, ti, 0.4f);
        cr_assert(got && want, "case %zu: %s", n, seer_ctx_error(c));
        for (int d = 0; d < 5; d++) cr_assert_eq(got->shape[d], vs[d], "case %zu dim %d", n, d);
        got = seer_contiguous(c, got); // stored [B, R, P, m, Dv]
        cr_assert(got, "%s", seer_ctx_error(c));
        double err = seer_rel_l2(got->data, want->data, (size_t)seer_tensor_numel(got));
        cr_assert_leq(err, 1e-6, "case %zu: rel-L2 %g", n, err);
        free(q), free(kk), free(v), free(idx);
        seer_ctx_reset(c);
    }
    seer_ctx_free(c);
}

// A head-first view [B, m, R, P, d] of channels [off, off + m d) of t [B, R, P, C] (BiFormer's
// q, k, v inside one qkv projection): no copy.
static seer_tensor *heads_view(seer_ctx *c, const seer_tensor *t, int64_t off, int64_t m,
                               int64_t d) {
    seer_tensor v = *t;
    v.data = (char *)t->data + off * (int64_t)seer_dtype_size(t->dtype);
    v.ndim = 5;
    const int64_t C = t->shape[3], P = t->shape[2], R = t->shape[1];
    int64_t shape[5] = {t->shape[0], m, R, P, d}, stride[5] = {R * P * C, d, P * C, C, 1};
    memcpy(v.shape, shape, sizeof shape);
    memcpy(v.stride, stride, sizeof stride);
    v.name = NULL;
    return seer_ctx_view(c, &v);
}

// q, k, v as strided views of one [B, R, P, m (2 D + Dv)] tensor: the same result as from
// contiguous copies (CPU), and CUDA's against the CPU's (F32 and BF16).
Test(region_attention, strided_views_of_one_projection) {
    const region_case views[] = {{2, 2, 16, 4, 8, 8, 4},   {1, 2, 49, 64, 32, 32, 1},
                                 {2, 8, 49, 4, 32, 32, 16}, {1, 2, 4, 9, 96, 80, 2},
                                 {1, 2, 9, 20, 64, 64, 5}};
    const bool gpu_too = seer_device_available(SEER_DEVICE_CUDA);
    seer_ctx *cpu = seer_ctx_new(SEER_DEVICE_CPU), *gpu = gpu_too ? seer_ctx_new(SEER_DEVICE_CUDA) : NULL;
    seer_rng rng = seer_rng_new(19);
    for (size_t n = 0; n < sizeof views / sizeof *views; n++) {
        const region_case *k = &views[n];
        const int64_t C = k->m * (2 * k->D + k->Dv);
        int64_t ts[4] = {k->B, k->R, k->P, C}, is[3] = {k->B, k->R, k->topk};
        float *x = randoms(&rng, k->B * k->R * k->P * C, SEER_BF16), *idx = routes(&rng, k);
        seer_tensor *t = up(cpu, x, SEER_F32, 4, ts), *ti = up(cpu, idx, SEER_I64, 3, is);
        seer_tensor *q = heads_view(cpu, t, 0, k->m, k->D), *kk = heads_view(cpu, t, k->m * k->D, k->m, k->D);
        seer_tensor *v = heads_view(cpu, t, 2 * k->m * k->D, k->m, k->Dv);
        seer_tensor *got = seer_region_attention(cpu, q, kk, v, ti, 0.3f);
        seer_tensor *want = seer_region_attention(cpu, seer_contiguous(cpu, q), seer_contiguous(cpu, kk),
                                                  seer_contiguous(cpu, v), ti, 0.3f);
        cr_assert(got && want, "case %zu: %s", n, seer_ctx_error(cpu));
        got = seer_contiguous(cpu, got), want = seer_contiguous(cpu, want);
        cr_assert(got && want, "case %zu: %s", n, seer_ctx_error(cpu));
        size_t count = (size_t)seer_tensor_numel(want);
        double err = seer_rel_l2(got->data, want->data, count);
        cr_assert_leq(err, 1e-6, "case %zu: rel-L2 %g", n, err);
        for (int g = 0; gpu && g < 2; g++) {
            seer_dtype dt = g ? SEER_BF16 : SEER_F32;
            seer_tensor *tg = up(gpu, x, dt, 4, ts), *ig = up(gpu, idx, SEER_I32, 3, is);
            seer_tensor *o = seer_region_attention(gpu, heads_view(gpu, tg, 0, k->m, k->D),
                                                   heads_view(gpu, tg, k->m * k->D, k->m, k->D),
                                                   heads_view(gpu, tg, 2 * k->m * k->D, k->m, k->Dv),
                                                   ig, 0.3f);
            double e = gpu_vs_cpu(gpu, o, want);
            cr_assert_leq(e, g ? 2e-2 : 1e-5, "case %zu %s: rel-L2 %g", n, seer_dtype_name(dt), e);
            seer_ctx_reset(gpu);
        }
        free(x), free(idx);
        seer_ctx_reset(cpu);
    }
    seer_ctx_free(cpu);
    if (gpu) seer_ctx_free(gpu);
}

Test(region_attention, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    int64_t qs[5] = {1, 2, 4, 3, 8};
    seer_tensor *q = seer_fill(c, seer_new(c, SEER_F32, 5, qs), 0.5);
    seer_tensor *bad_idx = seer_fill(c, seer_new(c, SEER_I64, 3, (int64_t[]){1, 3, 2}), 0);
    cr_assert_null(seer_region_attention(c, q, q, q, bad_idx, 1.0f)); // 3 rows for 4 regions
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(c), "idx [B, R, topk >= 1]"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    q = seer_fill(c, seer_new(c, SEER_F32, 5, qs), 0.5);
    seer_tensor *far = seer_fill(c, seer_new(c, SEER_I64, 3, (int64_t[]){1, 4, 2}), 4.0);
    cr_assert_null(seer_region_attention(c, q, q, q, far, 1.0f)); // region 4 of 4
    cr_assert(strstr(seer_ctx_error(c), "out of range for 4 regions"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
}

Test(cuda_region_attention, matches_cpu) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_ctx *cpu = seer_ctx_new(SEER_DEVICE_CPU), *gpu = seer_ctx_new(SEER_DEVICE_CUDA);
    cr_assert(cpu && gpu, "%s", seer_last_error());
    seer_rng rng = seer_rng_new(18);
    for (size_t n = 0; n < sizeof cases / sizeof *cases; n++) {
        for (int t = 0; t < 2; t++) {
            const region_case *k = &cases[n];
            seer_dtype dt = t ? SEER_BF16 : SEER_F32, it = t ? SEER_I32 : SEER_I64;
            int64_t qs[5] = {k->B, k->m, k->R, k->P, k->D}, vs[5] = {k->B, k->m, k->R, k->P, k->Dv};
            int64_t is[3] = {k->B, k->R, k->topk};
            float *q = randoms(&rng, k->B * k->m * k->R * k->P * k->D, dt);
            float *kk = randoms(&rng, k->B * k->m * k->R * k->P * k->D, dt);
            float *v = randoms(&rng, k->B * k->m * k->R * k->P * k->Dv, dt);
            float *idx = routes(&rng, k);
            seer_tensor *want = seer_region_attention(cpu, up(cpu, q, SEER_F32, 5, qs),
                                                      up(cpu, kk, SEER_F32, 5, qs),
                                                      up(cpu, v, SEER_F32, 5, vs),
                                                      up(cpu, idx, SEER_I64, 3, is), 0.4f);
            seer_tensor *got = seer_region_attention(gpu, up(gpu, q, dt, 5, qs), up(gpu, kk, dt, 5, qs),
                                                     up(gpu, v, dt, 5, vs), up(gpu, idx, it, 3, is), 0.4f);
            cr_assert(want && got, "case %zu: %s / %s", n, seer_ctx_error(cpu), seer_ctx_error(gpu));
            want = seer_contiguous(cpu, want);
            cr_assert(want, "%s", seer_ctx_error(cpu));
            double err = gpu_vs_cpu(gpu, got, want);
            cr_assert_leq(err, dt == SEER_F32 ? 1e-5 : 2e-2, "case %zu %s: rel-L2 %g", n,
                          seer_dtype_name(dt), err);
            free(q), free(kk), free(v), free(idx);
            seer_ctx_reset(cpu);
            seer_ctx_reset(gpu);
        }
    }
    seer_ctx_free(cpu);
    seer_ctx_free(gpu);
}
