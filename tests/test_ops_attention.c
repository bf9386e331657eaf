// Scaled dot-product attention on the CPU against a naive loop in double: with and without
// a broadcast bias, -inf masks (including fully masked rows), Lq != Lk, D != Dv.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/op_test_util.h"

typedef struct attn_case {
    int64_t B, H, Lq, Lk, D, Dv;
    int64_t Bb, Hb;  // bias dims; 0 = no bias
    int mask;        // 1: random -inf entries and one fully masked row
} attn_case;

// o[b, h, i] = sum_j p_j v[b, h, j], p = softmax_j(scale * q.k_j + bias); all -inf -> zeros.
static void naive_attention(float *o, const float *q, const float *k, const float *v,
                            const float *bias, const attn_case *t, float scale) {
    double *s = malloc((size_t)t->Lk * sizeof *s);
    for (int64_t b = 0; b < t->B; b++)
        for (int64_t h = 0; h < t->H; h++)
            for (int64_t i = 0; i < t->Lq; i++) {
                const float *qi = q + ((b * t->H + h) * t->Lq + i) * t->D;
                double mx = -INFINITY;
                for (int64_t j = 0; j < t->Lk; j++) {
                    const float *kj = k + ((b * t->H + h) * t->Lk + j) * t->D;
                    double dot = 0;
                    for (int64_t e = 0; e < t->D; e++) dot += (double)qi[e] * kj[e];
                    s[j] = scale * dot;
                    if (bias) {
                        int64_t bb = t->Bb == 1 ? 0 : b, hb = t->Hb == 1 ? 0 : h;
                        s[j] += bias[((bb * t->Hb + hb) * t->Lq + i) * t->Lk + j];
                    }
                    if (s[j] > mx) mx = s[j];
                }
                double sum = 0;
                for (int64_t j = 0; j < t->Lk; j++) {
                    s[j] = mx == -INFINITY ? 0 : exp(s[j] - mx);
                    sum += s[j];
                }
                float *oi = o + ((b * t->H + h) * t->Lq + i) * t->Dv;
                for (int64_t e = 0; e < t->Dv; e++) {
                    double acc = 0;
                    for (int64_t j = 0; j < t->Lk; j++)
                        acc += s[j] * v[((b * t->H + h) * t->Lk + j) * t->Dv + e];
                    oi[e] = sum > 0 ? (float)(acc / sum) : 0.0f;
                }
            }
    free(s);
}

static void run_case(seer_ctx *c, seer_rng *rng, const attn_case *t) {
    int64_t nq = t->B * t->H * t->Lq * t->D, nk = t->B * t->H * t->Lk * t->D;
    int64_t nv = t->B * t->H * t->Lk * t->Dv, no = t->B * t->H * t->Lq * t->Dv;
    int64_t nb = t->Bb * t->Hb * t->Lq * t->Lk;
    float *q = random_floats(rng, nq), *k = random_floats(rng, nk), *v = random_floats(rng, nv);
    float *bias = nb ? random_floats(rng, nb) : NULL;
    if (bias && t->mask) {
        for (int64_t i = 0; i < nb; i++)
            if (seer_rng_uniform(rng) < 0.3f) bias[i] = -INFINITY;
        for (int64_t j = 0; j < t->Lk; j++) bias[(t->Lq / 2) * t->Lk + j] = -INFINITY;
    }
    float scale = 1.0f / sqrtf((float)t->D);
    seer_tensor *tq = upload(c, q, 4, (int64_t[]){t->B, t->H, t->Lq, t->D});
    seer_tensor *tk = upload(c, k, 4, (int64_t[]){t->B, t->H, t->Lk, t->D});
    seer_tensor *tv = upload(c, v, 4, (int64_t[]){t->B, t->H, t->Lk, t->Dv});
    seer_tensor *tb = bias ? upload(c, bias, 4, (int64_t[]){t->Bb, t->Hb, t->Lq, t->Lk}) : NULL;
    seer_tensor *o = seer_attention(c, tq, tk, tv, tb, scale);
    cr_assert_not_null(o, "%s", seer_ctx_error(c));
    const int64_t expect_shape[4] = {t->B, t->H, t->Lq, t->Dv};
    for (int d = 0; d < 4; d++) cr_assert_eq(o->shape[d], expect_shape[d]);
    float *ref = malloc((size_t)no * sizeof *ref);
    naive_attention(ref, q, k, v, bias, t, scale);
    const float *out = o->data;
    for (int64_t i = 0; i < no; i++)
        cr_assert(isfinite(out[i]), "non-finite output at %lld", (long long)i);
    double err = seer_rel_l2(out, ref, (size_t)no);
    cr_assert_leq(err, 1e-5,
                  "B%lld H%lld Lq%lld Lk%lld D%lld Dv%lld bias %lldx%lld mask %d: rel-L2 %g",
                  (long long)t->B, (long long)t->H, (long long)t->Lq, (long long)t->Lk,
                  (long long)t->D, (long long)t->Dv, (long long)t->Bb, (long long)t->Hb, t->mask,
                  err);
    if (bias && t->mask) {
        // The fully masked row (batch 0, head 0 when the bias is shared, else its own) is zeros.
        const float *row = out + (t->Lq / 2) * t->Dv;
        for (int64_t e = 0; e < t->Dv; e++) cr_assert_eq(row[e], 0.0f);
    }
    free(q);
    free(k);
    free(v);
    free(bias);
    free(ref);
    seer_ctx_reset(c);
}

Test(attention, no_bias_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(101);
    const attn_case cases[] = {
        {2, 3, 7, 11, 8, 5, 0, 0, 0},
        {1, 1, 1, 1, 4, 4, 0, 0, 0},
        {2, 3, 13, 13, 16, 16, 0, 0, 0},
        {1, 2, 300, 37, 24, 9, 0, 0, 0},  // more rows than one 256-row block
        {3, 1, 5, 600, 7, 3, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(c, &rng, &cases[i]);
    seer_ctx_free(c);
}

Test(attention, bias_broadcast_and_masks_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(102);
    const attn_case cases[] = {
        {2, 3, 7, 11, 8, 5, 2, 3, 0},   // full bias
        {2, 3, 7, 11, 8, 5, 1, 3, 1},   // shared over batch, masked
        {2, 3, 9, 6, 4, 10, 2, 1, 1},   // shared over heads, masked
        {2, 3, 5, 5, 6, 6, 1, 1, 1},    // one bias for all, masked
        {1, 2, 513, 40, 8, 12, 1, 2, 1},  // three row blocks, masked
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(c, &rng, &cases[i]);
    seer_ctx_free(c);
}

Test(attention, non_contiguous_inputs) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(103);
    // q, k, v as [B, L, H, D] tensors permuted to [B, H, L, D] views (the usual layout).
    const int64_t B = 2, H = 3, L = 6, D = 4;
    float *q = random_floats(&rng, B * L * H * D), *k = random_floats(&rng, B * L * H * D);
    float *v = random_floats(&rng, B * L * H * D);
    const int64_t blhd[4] = {B, L, H, D};
    const int perm[4] = {0, 2, 1, 3};
    seer_tensor *tq = seer_permute(c, upload(c, q, 4, blhd), perm);
    seer_tensor *tk = seer_permute(c, upload(c, k, 4, blhd), perm);
    seer_tensor *tv = seer_permute(c, upload(c, v, 4, blhd), perm);
    seer_tensor *o = seer_attention(c, tq, tk, tv, NULL, 0.5f);
    seer_tensor *o2 = seer_attention(c, seer_contiguous(c, tq), seer_contiguous(c, tk),
                                     seer_contiguous(c, tv), NULL, 0.5f);
    cr_assert(o && o2, "%s", seer_ctx_error(c));
    cr_assert_eq(memcmp(o->data, o2->data, seer_tensor_nbytes(o)), 0);
    free(q);
    free(k);
    free(v);
    seer_ctx_free(c);
}

Test(attention, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    static float buf[4096];
    seer_rng rng = seer_rng_new(104);
    seer_rng_fill(&rng, buf, 4096);
    // Inputs over host memory (not the arena), so they outlive the resets of expect_fail.
#define WRAP(...) seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 4, (int64_t[]){__VA_ARGS__})
    seer_tensor q = WRAP(2, 3, 5, 8), k = WRAP(2, 3, 7, 8), v = WRAP(2, 3, 7, 4);
    seer_tensor kbad = WRAP(2, 3, 7, 6), vbad = WRAP(2, 3, 6, 4);
    seer_tensor bias_bad = WRAP(2, 2, 5, 7), bias_lq = WRAP(1, 1, 7, 5);
    cr_assert_null(seer_attention(c, &q, &kbad, &v, NULL, 1));
    expect_fail(c, SEER_STATUS_SHAPE,
                "got q [2, 3, 5, 8] f32, k [2, 3, 7, 6] f32, v [2, 3, 7, 4] f32");
    cr_assert_null(seer_attention(c, &q, &k, &vbad, NULL, 1));
    expect_fail(c, SEER_STATUS_SHAPE,
                "expected q [B, H, Lq, D], k [B, H, Lk, D], v [B, H, Lk, Dv]");
    cr_assert_null(seer_attention(c, &q, &k, &v, &bias_bad, 1));
    expect_fail(c, SEER_STATUS_SHAPE,
                "bias must be [1 or 2, 1 or 3, 5, 7] for q [2, 3, 5, 8] f32 and "
                "k [2, 3, 7, 8] f32, got [2, 2, 5, 7] f32");
    cr_assert_null(seer_attention(c, &q, &k, &v, &bias_lq, 1));
    expect_fail(c, SEER_STATUS_SHAPE, "got [1, 1, 7, 5] f32");
    cr_assert_null(seer_attention(c, &q, NULL, &v, NULL, 1));
    expect_fail(c, SEER_STATUS_ARG, "attention: input 1 is NULL");
    seer_tensor gpu = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CUDA, 4, (int64_t[]){2, 3, 7, 4});
    cr_assert_null(seer_attention(c, &q, &k, &gpu, NULL, 1));
    expect_fail(c, SEER_STATUS_DEVICE, "attention");
    cr_assert_null(seer_attention(c, &q, &k, &v, &gpu, 1));
    expect_fail(c, SEER_STATUS_DEVICE, "attention");
    seer_tensor vi = seer_tensor_wrap(buf, SEER_I32, SEER_DEVICE_CPU, 4, (int64_t[]){2, 3, 7, 4});
    cr_assert_null(seer_attention(c, &q, &k, &vi, NULL, 1));
    expect_fail(c, SEER_STATUS_SHAPE, "must share one dtype");
#undef WRAP
    seer_ctx_free(c);
}

// ---- sparse attention over gathered keys -----------------------------------------------------

// Naive: scores of the selected keys, softmax over them, weighted sum; negative = empty slot.
static void naive_gather(float *o, const float *q, const float *k, const float *v,
                         const int64_t *idx, int64_t rows, int64_t lq, int64_t lk, int64_t d,
                         int64_t dv, int64_t n, float scale) {
    for (int64_t r = 0; r < rows; r++) {
        const int64_t bh = r / lq;
        double s[64], mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; j++) {
            int64_t key = idx[r * n + j];
            s[j] = -INFINITY;
            if (key < 0) continue;
            double dot = 0;
            for (int64_t e = 0; e < d; e++) dot += (double)q[r * d + e] * k[(bh * lk + key) * d + e];
            s[j] = scale * dot;
            if (s[j] > mx) mx = s[j];
        }
        for (int64_t e = 0; e < dv; e++) o[r * dv + e] = 0;
        if (mx == -INFINITY) continue;
        for (int64_t j = 0; j < n; j++) sum += s[j] == -INFINITY ? 0 : exp(s[j] - mx);
        for (int64_t j = 0; j < n; j++) {
            if (s[j] == -INFINITY) continue;
            double p = exp(s[j] - mx) / sum;
            for (int64_t e = 0; e < dv; e++) o[r * dv + e] += (float)(p * v[(bh * lk + idx[r * n + j]) * dv + e]);
        }
    }
}

Test(attention, gather_matches_naive_and_dense_with_mask) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(41);
    const int64_t B = 2, H = 3, Lq = 9, Lk = 13, D = 8, Dv = 5, n = 4, rows = B * H * Lq;
    float *q = random_floats(&rng, rows * D), *k = random_floats(&rng, B * H * Lk * D);
    float *v = random_floats(&rng, B * H * Lk * Dv);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(rows * n));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++)  // distinct keys per row; one row fully empty
            idx[r * n + j] = r == 5 ? -1 : (r * 7 + j * 3) % Lk;
    idx[3 * n + 1] = -1;  // an empty slot in a row that has keys
    float *want = malloc(sizeof(float) * (size_t)(rows * Dv)), *got = malloc(sizeof(float) * (size_t)(rows * Dv));
    naive_gather(want, q, k, v, idx, rows, Lq, Lk, D, Dv, n, 0.35f);
    seer_tensor it = seer_tensor_wrap(idx, SEER_I64, SEER_DEVICE_CPU, 4, (int64_t[]){B, H, Lq, n});
    seer_tensor *o = seer_attention_gather(c, upload(c, q, 4, (int64_t[]){B, H, Lq, D}),
                                           upload(c, k, 4, (int64_t[]){B, H, Lk, D}),
                                           upload(c, v, 4, (int64_t[]){B, H, Lk, Dv}), &it, 0.35f);
    cr_assert_not_null(o, "%s", seer_ctx_error(c));
    cr_assert_eq(seer_to_host(c, o, got), SEER_STATUS_OK);
    cr_assert_leq(seer_rel_l2(got, want, (size_t)(rows * Dv)), 1e-6);
    for (int64_t e = 0; e < Dv; e++) cr_assert_eq(got[5 * Dv + e], 0.0f, "empty row gives zeros");

    // The same as dense attention with -inf outside the selected keys.
    float *bias = malloc(sizeof(float) * (size_t)(rows * Lk)), *dense = malloc(sizeof(float) * (size_t)(rows * Dv));
    for (int64_t i = 0; i < rows * Lk; i++) bias[i] = -INFINITY;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++)
            if (idx[r * n + j] >= 0) bias[r * Lk + idx[r * n + j]] = 0;
    seer_tensor *od = seer_attention(c, upload(c, q, 4, (int64_t[]){B, H, Lq, D}),
                                     upload(c, k, 4, (int64_t[]){B, H, Lk, D}),
                                     upload(c, v, 4, (int64_t[]){B, H, Lk, Dv}),
                                     upload(c, bias, 4, (int64_t[]){B, H, Lq, Lk}), 0.35f);
    cr_assert_eq(seer_to_host(c, od, dense), SEER_STATUS_OK);
    cr_assert_leq(seer_rel_l2(got, dense, (size_t)(rows * Dv)), 1e-6);

    // An index past the keys is an error naming it.
    idx[7] = Lk;
    cr_assert_null(seer_attention_gather(c, upload(c, q, 4, (int64_t[]){B, H, Lq, D}),
                                         upload(c, k, 4, (int64_t[]){B, H, Lk, D}),
                                         upload(c, v, 4, (int64_t[]){B, H, Lk, Dv}), &it, 1.0f));
    expect_fail(c, SEER_STATUS_SHAPE, "out of range");
    free(q), free(k), free(v), free(idx), free(want), free(got), free(bias), free(dense);
    seer_ctx_free(c);
}
