// seer_region_route (BiFormer's region-level routing) against a plain loop: region means of q
// and k, scaled affinities, each region's topk best regions descending with ties to the lower
// index. CPU exactly; CUDA up to near ties (F32 and BF16 maps; the routing kernels with
// SEER_NEW_ROUTE=1, the composed ops otherwise). Also the errors.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

typedef struct route_case {
    int64_t B, S, h, w, qk, topk;
} route_case;

static const route_case cases[] = {
    {2, 3, 4, 4, 8, 4},   // 3x3 regions of 4x4 pixels
    {1, 2, 3, 5, 6, 4},   // every region routed, h != w
    {2, 7, 2, 2, 32, 16}, // biformer_tiny stage 3 at 224
    {1, 7, 8, 8, 64, 1},  // stage 1
    {2, 7, 4, 4, 32, 4},  // stage 2 (qk 64 there; 32 here keeps the loop quick)
};

// want[b, r, t]: the reference routing of map x [B, S h, S w, 2 qk]; affs (may be NULL):
// [B, R, R], the scaled affinities.
static void naive_route(const float *x, const route_case *k, float scale, int64_t *want,
                        float *affs) {
    const int64_t S = k->S, R = S * S, H = S * k->h, W = S * k->w, C2 = 2 * k->qk;
    float *mean = calloc((size_t)(R * C2), sizeof *mean), *aff = malloc((size_t)R * sizeof *aff);
    cr_assert(mean && aff);
    for (int64_t b = 0; b < k->B; b++) {
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C2; c++) {
                float rows = 0;
                for (int64_t y = 0; y < k->h; y++) {
                    float row = 0;
                    for (int64_t xx = 0; xx < k->w; xx++)
                        row +=
                            x[(((b * H) + (r / S) * k->h + y) * W + (r % S) * k->w + xx) * C2 + c];
                    rows += row / (float)k->w;
                }
                mean[r * C2 + c] = rows / (float)k->h;
            }
        for (int64_t r = 0; r < R; r++) {
            for (int64_t j = 0; j < R; j++) {
                float dot = 0;
                for (int64_t c = 0; c < k->qk; c++)
                    dot += mean[r * C2 + c] * mean[j * C2 + k->qk + c];
                aff[j] = scale * dot;
            }
            if (affs) memcpy(affs + (b * R + r) * R, aff, (size_t)R * sizeof *aff);
            for (int64_t t = 0; t < k->topk; t++) { // the best left, ties to the lower index
                int64_t at = -1;
                for (int64_t j = 0; j < R; j++)
                    if (aff[j] != -INFINITY && (at < 0 || aff[j] > aff[at])) at = j;
                want[(b * R + r) * k->topk + t] = at;
                aff[at] = -INFINITY;
            }
        }
    }
    free(mean);
    free(aff);
}

static float *route_map(const route_case *k, seer_dtype dt, uint64_t seed, int64_t shape[4]) {
    shape[0] = k->B, shape[1] = k->S * k->h, shape[2] = k->S * k->w, shape[3] = 2 * k->qk;
    const int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    float *x = malloc((size_t)n * sizeof *x);
    cr_assert(x);
    seer_rng r = seer_rng_new(seed);
    seer_rng_fill(&r, x, (size_t)n);
    for (int64_t i = 0; dt == SEER_BF16 && i < n; i++)
        x[i] = seer_bf16_to_f32(seer_f32_to_bf16(x[i]));
    return x;
}

// seer_region_route on c (the map uploaded as dt) -> indices as int64.
static int64_t *route_on(seer_ctx *c, const float *x, const int64_t shape[4], seer_dtype dt,
                         const route_case *k, float scale) {
    seer_tensor *idx =
        seer_region_route(c, seer_from_host(c, x, dt, 4, shape), k->S, k->topk, scale);
    cr_assert_not_null(idx, "%s", seer_ctx_error(c));
    const int64_t n = k->B * k->S * k->S * k->topk;
    cr_assert(idx->dtype == SEER_I64 && idx->ndim == 3 && idx->shape[2] == k->topk);
    float *f = malloc((size_t)n * sizeof *f);
    int64_t *out = malloc((size_t)n * sizeof *out);
    cr_assert(f && out);
    cr_assert_eq(seer_to_host(c, idx, f), SEER_STATUS_OK);
    for (int64_t i = 0; i < n; i++)
        out[i] = (int64_t)f[i];
    free(f);
    return out;
}

// All affinities equal (a map of zeros): every region routes to regions 0, 1, 2, ... in order.
static void expect_tie_order(seer_ctx *c, seer_dtype dt) {
    const route_case tie = {1, 3, 2, 2, 4, 5};
    int64_t shape[4] = {1, 6, 6, 8};
    float *zeros = calloc(288, sizeof *zeros);
    int64_t *got = route_on(c, zeros, shape, dt, &tie, 1.0f);
    for (int64_t j = 0; j < 9 * 5; j++)
        cr_assert_eq(got[j], j % 5, "tie, %s: index %lld", seer_dtype_name(dt), (long long)j);
    free(zeros), free(got);
}

Test(region_route, matches_plain_loop) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const route_case *k = &cases[i];
        int64_t shape[4];
        float *x = route_map(k, SEER_F32, 40 + i, shape);
        const int64_t n = k->B * k->S * k->S * k->topk;
        int64_t *want = malloc((size_t)n * sizeof *want),
                *got = route_on(c, x, shape, SEER_F32, k, 0.3f);
        naive_route(x, k, 0.3f, want, NULL);
        for (int64_t j = 0; j < n; j++)
            cr_assert_eq(got[j], want[j], "case %zu: index %lld: %lld, want %lld", i, (long long)j,
                         (long long)got[j], (long long)want[j]);
        free(x), free(want), free(got);
    }
    expect_tie_order(c, SEER_F32);
    seer_ctx_free(c);
}

Test(region_route, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float x[2 * 6 * 6 * 8] = {0};
    seer_tensor *t = seer_from_host(c, x, SEER_F32, 4, (int64_t[]){2, 6, 6, 8});
    cr_assert_null(seer_region_route(c, t, 4, 1, 1.0f)); // 6 is not a multiple of 4
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(c), "region_route"));
    seer_ctx_reset(c);
    t = seer_from_host(c, x, SEER_F32, 4, (int64_t[]){2, 6, 6, 8});
    cr_assert_null(seer_region_route(c, t, 3, 10, 1.0f)); // 10 of 9 regions
    seer_ctx_reset(c);
    t = seer_from_host(c, x, SEER_F32, 4, (int64_t[]){2, 6, 8, 6});
    cr_assert_null(seer_region_route(c, seer_narrow(c, t, 3, 0, 5), 2, 1, 1.0f)); // odd channels
    seer_ctx_free(c);
}

// got routes as want does up to near ties: per (image, region) distinct indices whose
// affinities (affs [B, R, R], the plain loop's) equal the wanted ones place by place within
// 1e-5 of the row's largest |affinity|. The GPU sums the dot products in another order than the
// CPU, so regions whose affinities differ in the last bits may swap places.
static void expect_same_routing(const int64_t *got, const int64_t *want, const float *affs,
                                const route_case *k, const char *what) {
    const int64_t R = k->S * k->S;
    for (int64_t row = 0; row < k->B * R; row++) {
        const float *aff = affs + row * R;
        float big = 0;
        for (int64_t j = 0; j < R; j++)
            big = fmaxf(big, fabsf(aff[j]));
        for (int64_t t = 0; t < k->topk; t++) {
            const int64_t g = got[row * k->topk + t], w = want[row * k->topk + t];
            cr_assert(g >= 0 && g < R, "%s: row %lld place %lld: index %lld", what, (long long)row,
                      (long long)t, (long long)g);
            for (int64_t u = 0; u < t; u++)
                cr_assert_neq(got[row * k->topk + u], g, "%s: row %lld: %lld twice", what,
                              (long long)row, (long long)g);
            cr_assert_leq(fabsf(aff[g] - aff[w]), 1e-5f * big,
                          "%s: row %lld place %lld: region %lld (affinity %.9g), want %lld (%.9g)",
                          what, (long long)row, (long long)t, (long long)g, aff[g], (long long)w,
                          aff[w]);
        }
    }
}

Test(cuda_region_route, matches_cpu) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_ctx *gpu = seer_ctx_new(SEER_DEVICE_CUDA);
    const seer_dtype dts[2] = {SEER_F32, SEER_BF16};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        for (int d = 0; d < 2; d++) {
            const route_case *k = &cases[i];
            const int64_t R = k->S * k->S;
            int64_t shape[4];
            float *x = route_map(k, dts[d], 60 + i, shape); // BF16 values: the same map on both
            float *affs = malloc((size_t)(k->B * R * R) * sizeof *affs);
            int64_t *want = malloc((size_t)(k->B * R * k->topk) * sizeof *want);
            cr_assert(affs && want);
            naive_route(x, k, 0.125f, want, affs);
            int64_t *got = route_on(gpu, x, shape, dts[d], k, 0.125f);
            char what[64];
            snprintf(what, sizeof what, "case %zu %s", i, seer_dtype_name(dts[d]));
            expect_same_routing(got, want, affs, k, what);
            free(x), free(affs), free(want), free(got);
            seer_ctx_reset(gpu);
        }
    }
    expect_tie_order(gpu, SEER_BF16);
    seer_ctx_free(gpu);
}
