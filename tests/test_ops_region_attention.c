// seer_region_attention (BiFormer's token-level routed attention, keys read in place) against
// the composition it replaces: gather each region's routed regions' keys and values
// (index_select per image), then dense attention over them. CPU in F32; CUDA against the CPU
// (F32 and BF16, I32 and I64 indices; skipped without a GPU). The map form (q, k, v views of
// one [B, H, W, C] map) against the regions form on region copies, and CUDA's against the CPU's
// (F32, BF16, F16). Also the errors.
#include <criterion/criterion.h>
#include <math.h>
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

// ---- the map form: q, k, v [B, m, Sj, Si, h, w, D] read from one [B, H, W, C] map ----------

typedef struct map_case {
    int64_t B, m, Sj, Si, h, w, D, Dv, topk, pad; // pad: extra channels after v in the map
} map_case;

static const map_case map_cases[] = {
    {2, 2, 3, 3, 2, 2, 8, 8, 4, 0},    // P = 4 (BiFormer's last routed stage: 2x2 pixels)
    {1, 3, 2, 3, 4, 4, 5, 7, 2, 0},    // P = 16, D != Dv, Sj != Si
    {1, 2, 2, 2, 8, 8, 32, 32, 1, 0},  // P = 64, a single routed region
    {2, 1, 3, 2, 2, 4, 6, 4, 3, 1},    // h != w
    {1, 2, 1, 4, 1, 3, 4, 4, 2, 0},    // h = 1: a region's pixels are evenly strided
    {1, 2, 3, 1, 2, 2, 4, 4, 2, 0},    // Si = 1: a region's rows adjoin (evenly strided)
    {1, 1, 2, 2, 3, 1, 4, 4, 4, 0},    // w = 1
    {1, 2, 2, 2, 4, 4, 32, 32, 3, 0},  // CUDA tensor cores, head dim 32
    {2, 2, 2, 3, 2, 2, 64, 64, 4, 0},  // CUDA tensor cores, head dim 64, rows of 4 keys
    {1, 2, 2, 2, 8, 8, 64, 64, 2, 0},  // CUDA tensor cores, 64 pixels a region
    {1, 2, 2, 2, 4, 4, 32, 32, 2, 4},  // CUDA: rows not in 16-byte words (the FMA kernels)
    {1, 2, 2, 2, 3, 3, 96, 80, 2, 0},  // CUDA: head dims over 64, the one-warp-per-query kernel
};

// Channels of the map: m heads of q (D), k (D), v (Dv), then pad.
static int64_t map_channels(const map_case *k) { return k->m * (2 * k->D + k->Dv) + k->pad; }

// The map form [B, m, Sj, Si, h, w, d] of channels [off, off + m d) of the map t [B, H, W, C]:
// regions of h x w pixels, heads head-major in the channels (BiFormer's q, k, v). No copy.
static seer_tensor *map_view(seer_ctx *c, const seer_tensor *t, int64_t off, const map_case *k,
                             int64_t d) {
    const int64_t *s = t->stride;
    seer_tensor v = *t;
    v.data = (char *)t->data + off * (int64_t)seer_dtype_size(t->dtype);
    v.ndim = 7;
    int64_t shape[7] = {k->B, k->m, k->Sj, k->Si, k->h, k->w, d};
    int64_t stride[7] = {s[0], d * s[3], k->h * s[1], k->w * s[2], s[1], s[2], s[3]};
    memcpy(v.shape, shape, sizeof shape);
    memcpy(v.stride, stride, sizeof stride);
    v.name = NULL;
    return seer_ctx_view(c, &v);
}

// A map-form view copied into the regions form [B, m, R, P, d] (contiguous, the map form's
// contiguous copy is that in memory: r = j Si + i, p = y w + x).
static seer_tensor *region_copy(seer_ctx *c, const seer_tensor *v7) {
    const int64_t *s = v7->shape;
    return seer_reshape(c, seer_contiguous(c, v7), 5,
                        (int64_t[]){s[0], s[1], s[2] * s[3], s[4] * s[5], s[6]});
}

// The map-form output's storage as the map [B, H, W, m Dv] it is meant to be (a reshape,
// which fails unless it is contiguous in that order).
static seer_tensor *output_map(seer_ctx *c, const seer_tensor *o7) {
    const int64_t *s = o7->shape;
    return seer_reshape(c, seer_permute(c, o7, (int[]){0, 2, 4, 3, 5, 1, 6}), 4,
                        (int64_t[]){s[0], s[2] * s[4], s[3] * s[5], s[1] * s[6]});
}

// On the CPU, q, k, v as map-form views of one map give what the regions form gives on region
// copies of them, and the output's storage is the [B, H, W, m Dv] map of it.
Test(region_attention, map_form_equals_regions_form) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(23);
    for (size_t n = 0; n < sizeof map_cases / sizeof *map_cases; n++) {
        const map_case *k = &map_cases[n];
        const int64_t H = k->Sj * k->h, W = k->Si * k->w, C = map_channels(k);
        const int64_t R = k->Sj * k->Si, P = k->h * k->w, Dv = k->Dv;
        const region_case rc = {k->B, k->m, R, P, k->D, Dv, k->topk};
        int64_t ts[4] = {k->B, H, W, C}, is[3] = {k->B, R, k->topk};
        float *x = randoms(&rng, k->B * H * W * C, SEER_F32), *idx = routes(&rng, &rc);
        seer_tensor *t = up(c, x, SEER_F32, 4, ts), *ti = up(c, idx, SEER_I64, 3, is);
        seer_tensor *q = map_view(c, t, 0, k, k->D), *kk = map_view(c, t, k->m * k->D, k, k->D);
        seer_tensor *v = map_view(c, t, 2 * k->m * k->D, k, Dv);
        seer_tensor *got = seer_region_attention(c, q, kk, v, ti, 0.35f);
        seer_tensor *want = seer_region_attention(c, region_copy(c, q), region_copy(c, kk),
                                                  region_copy(c, v), ti, 0.35f);
        cr_assert(got && want, "case %zu: %s", n, seer_ctx_error(c));
        const int64_t gs[7] = {k->B, k->m, k->Sj, k->Si, k->h, k->w, Dv};
        cr_assert_eq(got->ndim, 7, "case %zu", n);
        for (int d = 0; d < 7; d++) cr_assert_eq(got->shape[d], gs[d], "case %zu dim %d", n, d);
        seer_tensor *gc = seer_contiguous(c, got), *wc = seer_contiguous(c, want);
        seer_tensor *map = output_map(c, got);
        cr_assert(gc && wc && map, "case %zu: %s", n, seer_ctx_error(c));
        const size_t count = (size_t)seer_tensor_numel(wc);
        double err = seer_rel_l2(gc->data, wc->data, count);
        cr_assert_leq(err, 1e-6, "case %zu: rel-L2 %g", n, err);
        // map[b, y, x, head * Dv + e] = want[b, head, region (y/h, x/w), pixel (y%h, x%w), e]
        const float *mp = map->data, *wp = wc->data;
        double num = 0, den = 0;
        for (int64_t b = 0; b < k->B; b++)
            for (int64_t y = 0; y < H; y++)
                for (int64_t xx = 0; xx < W; xx++)
                    for (int64_t hd = 0; hd < k->m; hd++)
                        for (int64_t e = 0; e < Dv; e++) {
                            const int64_t r = (y / k->h) * k->Si + xx / k->w;
                            const int64_t p = (y % k->h) * k->w + xx % k->w;
                            const double a = mp[((b * H + y) * W + xx) * k->m * Dv + hd * Dv + e];
                            const double ref = wp[(((b * k->m + hd) * R + r) * P + p) * Dv + e];
                            num += (a - ref) * (a - ref), den += ref * ref;
                        }
        cr_assert_leq(sqrt(num / den), 1e-6, "case %zu: the map, rel-L2 %g", n, sqrt(num / den));
        free(x), free(idx);
        seer_ctx_reset(c);
    }
    seer_ctx_free(c);
}

Test(region_attention, map_form_errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    const map_case k = {1, 2, 2, 3, 2, 2, 4, 4, 2, 0};
    const int64_t ts[4] = {1, 4, 6, map_channels(&k)};
    seer_tensor *t = seer_fill(c, seer_new(c, SEER_F32, 4, ts), 0.5);
    seer_tensor *q = map_view(c, t, 0, &k, 4), *kk = map_view(c, t, 8, &k, 4);
    seer_tensor *v = map_view(c, t, 16, &k, 4);
    seer_tensor *bad = seer_fill(c, seer_new(c, SEER_I64, 3, (int64_t[]){1, 2, 2}), 0); // R = 6
    cr_assert_null(seer_region_attention(c, q, kk, v, bad, 1.0f));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(c), "idx [B, Sj Si, topk >= 1]"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    t = seer_fill(c, seer_new(c, SEER_F32, 4, ts), 0.5);
    seer_tensor *idx = seer_fill(c, seer_new(c, SEER_I64, 3, (int64_t[]){1, 6, 2}), 0);
    seer_tensor *q5 = region_copy(c, map_view(c, t, 0, &k, 4));
    cr_assert_null(seer_region_attention(c, q5, map_view(c, t, 8, &k, 4),
                                         map_view(c, t, 16, &k, 4), idx, 1.0f)); // mixed forms
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    seer_ctx_free(c);
}

// CUDA against the CPU in the map form, q, k, v strided views of one map on both: F32 (the
// tiled and the one-warp kernels), BF16 and F16 (tensor cores for head dims 32 and 64 when the
// rows are in 16-byte words, else the FMA kernels).
Test(cuda_region_attention, map_form_matches_cpu) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_ctx *cpu = seer_ctx_new(SEER_DEVICE_CPU), *gpu = seer_ctx_new(SEER_DEVICE_CUDA);
    cr_assert(cpu && gpu, "%s", seer_last_error());
    seer_rng rng = seer_rng_new(29);
    const seer_dtype dts[3] = {SEER_F32, SEER_BF16, SEER_F16};
    for (size_t n = 0; n < sizeof map_cases / sizeof *map_cases; n++) {
        const map_case *k = &map_cases[n];
        const int64_t H = k->Sj * k->h, W = k->Si * k->w, C = map_channels(k);
        const int64_t R = k->Sj * k->Si, P = k->h * k->w;
        const region_case rc = {k->B, k->m, R, P, k->D, k->Dv, k->topk};
        int64_t ts[4] = {k->B, H, W, C}, is[3] = {k->B, R, k->topk};
        // Values rounded to BF16: every dtype sees (about) the inputs the CPU does.
        float *x = randoms(&rng, k->B * H * W * C, SEER_BF16), *idx = routes(&rng, &rc);
        seer_tensor *t = up(cpu, x, SEER_F32, 4, ts), *ti = up(cpu, idx, SEER_I64, 3, is);
        seer_tensor *want = seer_region_attention(cpu, map_view(cpu, t, 0, k, k->D),
                                                  map_view(cpu, t, k->m * k->D, k, k->D),
                                                  map_view(cpu, t, 2 * k->m * k->D, k, k->Dv),
                                                  ti, 0.3f);
        want = want ? seer_contiguous(cpu, want) : NULL; // [B, m, Sj, Si, h, w, Dv]
        cr_assert(want, "case %zu: %s", n, seer_ctx_error(cpu));
        for (int g = 0; g < 3; g++) {
            const seer_dtype dt = dts[g], it = g == 1 ? SEER_I32 : SEER_I64;
            seer_tensor *tg = up(gpu, x, dt, 4, ts), *ig = up(gpu, idx, it, 3, is);
            seer_tensor *o = seer_region_attention(gpu, map_view(gpu, tg, 0, k, k->D),
                                                   map_view(gpu, tg, k->m * k->D, k, k->D),
                                                   map_view(gpu, tg, 2 * k->m * k->D, k, k->Dv),
                                                   ig, 0.3f);
            cr_assert(o && o->ndim == 7, "case %zu %s: %s", n, seer_dtype_name(dt),
                      seer_ctx_error(gpu));
            cr_assert(output_map(gpu, o), "case %zu %s: the output is not stored as a map: %s",
                      n, seer_dtype_name(dt), seer_ctx_error(gpu));
            double e = gpu_vs_cpu(gpu, o, want);
            cr_assert_leq(e, dt == SEER_F32 ? 1e-5 : 2e-2, "case %zu %s: rel-L2 %g", n,
                          seer_dtype_name(dt), e);
            seer_ctx_reset(gpu);
        }
        free(x), free(idx);
        seer_ctx_reset(cpu);
    }
    seer_ctx_free(cpu);
    seer_ctx_free(gpu);
}
