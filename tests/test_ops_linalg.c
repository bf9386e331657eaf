// Matrix products, convolution and pooling on the CPU against naive loops written here.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

#define F32_TOL 1e-5

static float *rand_floats(seer_rng *r, int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    cr_assert_not_null(p);
    seer_rng_fill(r, p, (size_t)n);
    return p;
}

static seer_tensor *upload(seer_ctx *c, const float *h, int ndim, const int64_t *shape) {
    seer_tensor *t = seer_from_host(c, h, SEER_F32, ndim, shape);
    cr_assert_not_null(t, "upload: %s", seer_ctx_error(c));
    return t;
}

// y must be OK with the expected shape and match ref within the F32 tolerance.
static void expect_close(seer_ctx *c, const seer_tensor *y, const float *ref, int ndim,
                         const int64_t *shape, const char *what) {
    cr_assert_not_null(y, "%s: %s", what, seer_ctx_error(c));
    cr_assert_eq(y->ndim, ndim, "%s: ndim %d, expected %d", what, y->ndim, ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        cr_assert_eq(y->shape[i], shape[i], "%s: dim %d is %lld, expected %lld", what, i,
                     (long long)y->shape[i], (long long)shape[i]);
        n *= shape[i];
    }
    float *got = malloc((size_t)(n > 0 ? n : 1) * sizeof *got);
    cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    double err = seer_rel_l2(got, ref, (size_t)n);
    cr_assert_leq(err, F32_TOL, "%s: rel L2 %g", what, err);
    free(got);
}

// A descriptor on the CUDA device that is never dereferenced (the op must refuse it first).
static seer_tensor fake_cuda(float *host, int ndim, const int64_t *shape) {
    return seer_tensor_wrap(host, SEER_F32, SEER_DEVICE_CUDA, ndim, shape);
}

static void expect_fail(seer_ctx *c, const seer_tensor *y, seer_status st, const char *needle1,
                        const char *needle2) {
    cr_assert_null(y);
    cr_assert_eq(seer_ctx_status(c), st, "status %s, expected %s: %s",
                 seer_status_name(seer_ctx_status(c)), seer_status_name(st), seer_ctx_error(c));
    cr_assert(strstr(seer_ctx_error(c), needle1), "message lacks '%s': %s", needle1,
              seer_ctx_error(c));
    if (needle2)
        cr_assert(strstr(seer_ctx_error(c), needle2), "message lacks '%s': %s", needle2,
                  seer_ctx_error(c));
    seer_ctx_reset(c);
}

// ---- matmul --------------------------------------------------------------------------------

// ref[i, m, n] = alpha * sum_k op(A_i)[m, k] op(B_i)[k, n] + bias[n], in double. A_i is batch
// i of a (or batch 0 when a has one batch), stored [M, K] or, transposed, [K, M].
static void naive_matmul(float *ref, const float *a, const float *b, int64_t nb, int64_t ba,
                         int64_t bb, int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha,
                         const float *bias) {
    for (int64_t i = 0; i < nb; i++) {
        const float *ai = a + (ba == 1 ? 0 : i) * m * k, *bi = b + (bb == 1 ? 0 : i) * k * n;
        for (int64_t r = 0; r < m; r++)
            for (int64_t q = 0; q < n; q++) {
                double s = 0;
                for (int64_t l = 0; l < k; l++) {
                    double x = ta ? ai[l * m + r] : ai[r * k + l];
                    double y = tb ? bi[q * k + l] : bi[l * n + q];
                    s += x * y;
                }
                ref[(i * m + r) * n + q] = (float)(alpha * s + (bias ? bias[q] : 0.0));
            }
    }
}

// One product with explicit batch shapes for a and b (leading dims only).
static void check_matmul(seer_ctx *c, seer_rng *rng, int nda, const int64_t *bda, int ndb,
                         const int64_t *bdb, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                         float alpha, bool with_bias) {
    int64_t sa[SEER_MAX_DIMS], sb[SEER_MAX_DIMS], so[SEER_MAX_DIMS];
    int64_t ba = 1, bb = 1, nb = 1;
    int ndo = nda > ndb ? nda : ndb;
    for (int i = 0; i < nda; i++)
        sa[i] = bda[i], ba *= bda[i];
    for (int i = 0; i < ndb; i++)
        sb[i] = bdb[i], bb *= bdb[i];
    for (int i = 0; i < ndo; i++) {
        int64_t da = i - (ndo - nda) >= 0 ? bda[i - (ndo - nda)] : 1;
        int64_t db = i - (ndo - ndb) >= 0 ? bdb[i - (ndo - ndb)] : 1;
        so[i] = da > db ? da : db;
        nb *= so[i];
    }
    sa[nda] = ta ? k : m, sa[nda + 1] = ta ? m : k;
    sb[ndb] = tb ? n : k, sb[ndb + 1] = tb ? k : n;
    so[ndo] = m, so[ndo + 1] = n;

    float *ha = rand_floats(rng, ba * m * k), *hb = rand_floats(rng, bb * k * n);
    float *hbias = with_bias ? rand_floats(rng, n) : NULL;
    float *ref = malloc((size_t)(nb * m * n + 1) * sizeof *ref);
    naive_matmul(ref, ha, hb, nb, ba, bb, m, n, k, ta, tb, alpha, hbias);

    seer_tensor *a = upload(c, ha, nda + 2, sa), *b = upload(c, hb, ndb + 2, sb);
    seer_tensor *bias = with_bias ? upload(c, hbias, 1, &n) : NULL;
    seer_tensor *y = seer_matmul(c, a, b, ta, tb, alpha, bias);
    char what[160];
    snprintf(what, sizeof what, "matmul ba=%lld bb=%lld M=%lld N=%lld K=%lld ta=%d tb=%d",
             (long long)ba, (long long)bb, (long long)m, (long long)n, (long long)k, ta, tb);
    expect_close(c, y, ref, ndo + 2, so, what);
    free(ha), free(hb), free(hbias), free(ref);
    seer_ctx_reset(c);
}

Test(matmul, transposes_and_odd_sizes) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(11);
    const int64_t sizes[] = {1, 7, 33, 129};
    for (int t = 0; t < 4; t++)
        for (int im = 0; im < 4; im++)
            for (int in = 0; in < 4; in++)
                for (int ik = 0; ik < 4; ik++)
                    check_matmul(c, &rng, 0, NULL, 0, NULL, sizes[im], sizes[in], sizes[ik], t & 1,
                                 t & 2, 1.0f, false);
    seer_ctx_free(c);
}

Test(matmul, alpha_and_bias) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(12);
    for (int t = 0; t < 4; t++) {
        check_matmul(c, &rng, 0, NULL, 0, NULL, 33, 7, 129, t & 1, t & 2, 0.125f, true);
        check_matmul(c, &rng, 0, NULL, 0, NULL, 1, 129, 33, t & 1, t & 2, -1.5f, true);
    }
    seer_ctx_free(c);
}

Test(matmul, batched_equal_batch_dims) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(13);
    const int64_t bd[] = {2, 3};
    for (int t = 0; t < 4; t++) {
        // Small products (one per thread) and large ones (one SGEMM each).
        check_matmul(c, &rng, 2, bd, 2, bd, 7, 33, 5, t & 1, t & 2, 0.5f, true);
        check_matmul(c, &rng, 2, bd, 2, bd, 129, 33, 129, t & 1, t & 2, 1.0f, false);
        check_matmul(c, &rng, 1, bd + 1, 1, bd + 1, 1, 1, 1, t & 1, t & 2, 2.0f, true);
    }
    // a [1, 3, ...] with b [3, ...]: equal after broadcasting the leading 1.
    const int64_t one3[] = {1, 3};
    check_matmul(c, &rng, 2, one3, 1, bd + 1, 7, 5, 9, false, true, 1.0f, false);
    seer_ctx_free(c);
}

Test(matmul, broadcast_shared_side) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(14);
    const int64_t b3[] = {3}, b24[] = {2, 4}, b11[] = {1, 1};
    for (int t = 0; t < 4; t++) {
        // 2-D shared b (the tall single-SGEMM path when a is not transposed).
        check_matmul(c, &rng, 1, b3, 0, NULL, 33, 7, 129, t & 1, t & 2, 1.0f, true);
        check_matmul(c, &rng, 2, b24, 0, NULL, 7, 33, 7, t & 1, t & 2, 0.25f, true);
        check_matmul(c, &rng, 1, b3, 0, NULL, 129, 129, 33, t & 1, t & 2, 1.0f, false);
        // 2-D shared a, batched b.
        check_matmul(c, &rng, 0, NULL, 2, b24, 7, 33, 5, t & 1, t & 2, 1.0f, true);
        check_matmul(c, &rng, 0, NULL, 1, b3, 129, 65, 33, t & 1, t & 2, 1.0f, false);
        // One side's batch dims all 1.
        check_matmul(c, &rng, 2, b24, 2, b11, 7, 5, 33, t & 1, t & 2, 1.0f, false);
        check_matmul(c, &rng, 2, b11, 1, b3, 7, 5, 33, t & 1, t & 2, 1.0f, true);
    }
    seer_ctx_free(c);
}

Test(matmul, strided_views) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(15);
    const int64_t B = 2, M = 7, K = 33, N = 9;
    float *ha = rand_floats(&rng, B * M * K), *hb = rand_floats(&rng, B * N * (K + 4));
    // b stored [B, N, K + 4]; the op gets b[..., :K] permuted to [B, K, N] (needs a copy),
    // and the contiguous [B, N, K] permuted to [B, K, N] (passed as a transpose, no copy).
    seer_tensor *a = upload(c, ha, 3, (int64_t[]){B, M, K});
    seer_tensor *bw = upload(c, hb, 3, (int64_t[]){B, N, K + 4});
    seer_tensor *bn = seer_narrow(c, bw, 2, 0, K);
    seer_tensor *bp = seer_permute(c, bn, (int[]){0, 2, 1});
    cr_assert_not_null(bp);
    float *hbt = malloc((size_t)(B * N * K) * sizeof *hbt), *ref = malloc((size_t)(B * M * N) * 4);
    for (int64_t i = 0; i < B * N; i++)
        memcpy(hbt + i * K, hb + i * (K + 4), (size_t)K * 4);
    naive_matmul(ref, ha, hbt, B, B, B, M, N, K, false, true, 1.0f, NULL);
    expect_close(c, seer_matmul(c, a, bp, false, false, 1.0f, NULL), ref, 3, (int64_t[]){B, M, N},
                 "narrowed + permuted b");

    seer_tensor *bc = upload(c, hbt, 3, (int64_t[]){B, N, K});
    seer_tensor *bt = seer_permute(c, bc, (int[]){0, 2, 1});
    expect_close(c, seer_matmul(c, a, bt, false, false, 1.0f, NULL), ref, 3, (int64_t[]){B, M, N},
                 "permuted b");
    // Transposed view with trans_b set: op(b) is b's storage untransposed.
    naive_matmul(ref, ha, hbt, B, B, B, M, N, K, false, true, 1.0f, NULL);
    seer_tensor *at = seer_permute(c, upload(c, ha, 3, (int64_t[]){B, M, K}), (int[]){0, 2, 1});
    expect_close(c, seer_matmul(c, at, bc, true, true, 1.0f, NULL), ref, 3, (int64_t[]){B, M, N},
                 "permuted a with trans_a");
    free(ha), free(hb), free(hbt), free(ref);
    seer_ctx_free(c);
}

Test(matmul, linear) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(16);
    const int64_t in = 33, out = 17;
    float *hx = rand_floats(&rng, 2 * 5 * in), *hw = rand_floats(&rng, out * in);
    float *hb = rand_floats(&rng, out), *ref = malloc(2 * 5 * out * sizeof *ref);
    seer_tensor *w = upload(c, hw, 2, (int64_t[]){out, in}), *b = upload(c, hb, 1, &out);
    naive_matmul(ref, hx, hw, 1, 1, 1, 10, out, in, false, true, 1.0f, hb);
    expect_close(c, seer_linear(c, upload(c, hx, 3, (int64_t[]){2, 5, in}), w, b), ref, 3,
                 (int64_t[]){2, 5, out}, "linear 3-D");
    expect_close(c, seer_linear(c, upload(c, hx, 1, &in), w, b), ref, 1, &out, "linear 1-D");
    naive_matmul(ref, hx, hw, 1, 1, 1, 10, out, in, false, true, 1.0f, NULL);
    expect_close(c, seer_linear(c, upload(c, hx, 2, (int64_t[]){10, in}), w, NULL), ref, 2,
                 (int64_t[]){10, out}, "linear no bias");

    seer_tensor *wbad = upload(c, hw, 2, (int64_t[]){in, out});
    expect_fail(c, seer_linear(c, upload(c, hx, 2, (int64_t[]){10, in}), wbad, NULL),
                SEER_STATUS_SHAPE, "linear", "[33, 17]");
    free(hx), free(hw), free(hb), free(ref);
    seer_ctx_free(c);
}

// seer_linear_add is residual + linear (the CPU composes the two ops: the same bits).
Test(matmul, linear_add) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(18);
    const int64_t in = 33, out = 17;
    float *hx = rand_floats(&rng, 10 * in), *hw = rand_floats(&rng, out * in);
    float *hb = rand_floats(&rng, out), *hr = rand_floats(&rng, 10 * out);
    float *ref = malloc(10 * out * sizeof *ref);
    seer_tensor *x = upload(c, hx, 3, (int64_t[]){2, 5, in}), *w = upload(c, hw, 2, (int64_t[]){out, in});
    seer_tensor *b = upload(c, hb, 1, &out), *r = upload(c, hr, 3, (int64_t[]){2, 5, out});
    naive_matmul(ref, hx, hw, 1, 1, 1, 10, out, in, false, true, 1.0f, hb);
    for (int64_t i = 0; i < 10 * out; i++) ref[i] += hr[i];
    expect_close(c, seer_linear_add(c, x, w, b, r), ref, 3, (int64_t[]){2, 5, out}, "linear_add");
    float *got = malloc(10 * out * sizeof *got), *want = malloc(10 * out * sizeof *want);
    cr_assert_eq(seer_to_host(c, seer_linear_add(c, x, w, NULL, r), got), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, seer_add(c, r, seer_linear(c, x, w, NULL)), want), SEER_STATUS_OK);
    cr_assert_eq(memcmp(got, want, 10 * out * sizeof *got), 0, "linear_add != add(r, linear)");
    expect_fail(c, seer_linear_add(c, x, w, b, NULL), SEER_STATUS_ARG, "linear_add", "NULL");
    x = upload(c, hx, 3, (int64_t[]){2, 5, in}), w = upload(c, hw, 2, (int64_t[]){out, in});
    expect_fail(c, seer_linear_add(c, x, w, NULL, x), SEER_STATUS_SHAPE, "add", NULL);
    free(hx), free(hw), free(hb), free(hr), free(ref), free(got), free(want);
    seer_ctx_free(c);
}

// seer_linear_gelu is gelu(linear) (the CPU composes the two ops: the same bits).
Test(matmul, linear_gelu) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(19);
    const int64_t in = 20, out = 12;
    float *hx = rand_floats(&rng, 6 * in), *hw = rand_floats(&rng, out * in);
    float *hb = rand_floats(&rng, out);
    seer_tensor *x = upload(c, hx, 3, (int64_t[]){2, 3, in}), *w = upload(c, hw, 2, (int64_t[]){out, in});
    seer_tensor *b = upload(c, hb, 1, &out);
    float got[6 * 12], want[6 * 12];
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const seer_tensor *bb = with_bias ? b : NULL;
        seer_tensor *y = seer_linear_gelu(c, x, w, bb);
        cr_assert_not_null(y, "%s", seer_ctx_error(c));
        cr_assert(y->ndim == 3 && y->shape[2] == out);
        cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
        cr_assert_eq(seer_to_host(c, seer_gelu(c, seer_linear(c, x, w, bb)), want), SEER_STATUS_OK);
        cr_assert_eq(memcmp(got, want, sizeof got), 0, "linear_gelu != gelu(linear)");
    }
    expect_fail(c, seer_linear_gelu(c, x, x, NULL), SEER_STATUS_SHAPE, "linear", NULL);
    free(hx), free(hw), free(hb);
    seer_ctx_free(c);
}

Test(matmul, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(17);
    float *h = rand_floats(&rng, 1024);
    seer_tensor *a = upload(c, h, 2, (int64_t[]){4, 5}), *b = upload(c, h, 2, (int64_t[]){6, 3});
    expect_fail(c, seer_matmul(c, a, b, false, false, 1.0f, NULL), SEER_STATUS_SHAPE,
                "matmul: inner dims", "[6, 3]");
    a = upload(c, h, 2, (int64_t[]){4, 5});
    expect_fail(c, seer_matmul(c, a, NULL, false, false, 1.0f, NULL), SEER_STATUS_ARG, "matmul",
                "NULL");
    seer_tensor cu = fake_cuda(h, 2, (int64_t[]){5, 3});
    a = upload(c, h, 2, (int64_t[]){4, 5});
    expect_fail(c, seer_matmul(c, a, &cu, false, false, 1.0f, NULL), SEER_STATUS_DEVICE, "matmul",
                "cuda");
    a = upload(c, h, 4, (int64_t[]){2, 1, 4, 5});
    b = upload(c, h, 4, (int64_t[]){1, 3, 5, 2});
    expect_fail(c, seer_matmul(c, a, b, false, false, 1.0f, NULL), SEER_STATUS_SHAPE,
                "do not broadcast", "[2, 1, 4, 5]");
    a = upload(c, h, 3, (int64_t[]){2, 4, 5});
    b = upload(c, h, 3, (int64_t[]){3, 5, 2});
    expect_fail(c, seer_matmul(c, a, b, false, false, 1.0f, NULL), SEER_STATUS_SHAPE,
                "do not broadcast", NULL);
    a = upload(c, h, 1, (int64_t[]){5});
    b = upload(c, h, 2, (int64_t[]){5, 2});
    expect_fail(c, seer_matmul(c, a, b, false, false, 1.0f, NULL), SEER_STATUS_SHAPE,
                "at least 2 dims", NULL);
    a = upload(c, h, 2, (int64_t[]){4, 5});
    b = upload(c, h, 2, (int64_t[]){5, 2});
    seer_tensor *bias = upload(c, h, 1, (int64_t[]){3});
    expect_fail(c, seer_matmul(c, a, b, false, false, 1.0f, bias), SEER_STATUS_SHAPE, "bias",
                "[2] f32");
    // Sticky: after a failure every op returns NULL until reset.
    a = upload(c, h, 2, (int64_t[]){4, 5});
    cr_assert_null(seer_matmul(c, a, a, false, false, 1.0f, NULL));
    cr_assert_null(seer_matmul(c, a, a, false, true, 1.0f, NULL));
    cr_assert(strstr(seer_ctx_error(c), "inner dims"), "%s", seer_ctx_error(c));
    free(h);
    seer_ctx_free(c);
}

// ---- conv2d --------------------------------------------------------------------------------

typedef struct conv_case {
    int64_t b, h, w, cin, cout, kh, kw;
    seer_conv2d_params p;
    bool bias;
} conv_case;

// Direct definition with PyTorch's OIHW weight: y[b, oy, ox, o] = bias[o] + sum over the
// group's input channels ci and taps (i, j) of x[b, oy*s - p + i*d, ox*s - p + j*d, g*Cg + ci]
// * w[o, ci, i, j].
static void naive_conv(float *y, const float *x, const float *w_oihw, const float *bias,
                       const conv_case *t, int64_t ho, int64_t wo) {
    int s_h = t->p.stride_h ? t->p.stride_h : 1, s_w = t->p.stride_w ? t->p.stride_w : 1;
    int d_h = t->p.dil_h ? t->p.dil_h : 1, d_w = t->p.dil_w ? t->p.dil_w : 1;
    int64_t g_n = t->p.groups ? t->p.groups : 1, cg = t->cin / g_n, og = t->cout / g_n;
    for (int64_t bi = 0; bi < t->b; bi++)
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++)
                for (int64_t o = 0; o < t->cout; o++) {
                    int64_t g = o / og;
                    double s = bias ? bias[o] : 0.0;
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t i = 0; i < t->kh; i++)
                            for (int64_t j = 0; j < t->kw; j++) {
                                int64_t iy = oy * s_h - t->p.pad_h + i * d_h;
                                int64_t ix = ox * s_w - t->p.pad_w + j * d_w;
                                if (iy < 0 || iy >= t->h || ix < 0 || ix >= t->w) continue;
                                s += (double)
                                         x[((bi * t->h + iy) * t->w + ix) * t->cin + g * cg + ci] *
                                     w_oihw[((o * cg + ci) * t->kh + i) * t->kw + j];
                            }
                    y[((bi * ho + oy) * wo + ox) * t->cout + o] = (float)s;
                }
}

static void check_conv(seer_ctx *c, seer_rng *rng, const conv_case *t, const char *name) {
    int s_h = t->p.stride_h ? t->p.stride_h : 1, s_w = t->p.stride_w ? t->p.stride_w : 1;
    int d_h = t->p.dil_h ? t->p.dil_h : 1, d_w = t->p.dil_w ? t->p.dil_w : 1;
    int64_t g_n = t->p.groups ? t->p.groups : 1, cg = t->cin / g_n;
    int64_t ho = (t->h + 2 * t->p.pad_h - d_h * (t->kh - 1) - 1) / s_h + 1;
    int64_t wo = (t->w + 2 * t->p.pad_w - d_w * (t->kw - 1) - 1) / s_w + 1;
    int64_t nx = t->b * t->h * t->w * t->cin, nw = t->cout * cg * t->kh * t->kw;
    int64_t ny = t->b * ho * wo * t->cout;
    float *hx = rand_floats(rng, nx), *hw = rand_floats(rng, nw);
    float *hb = t->bias ? rand_floats(rng, t->cout) : NULL;
    float *w_ohwi = malloc((size_t)nw * sizeof *w_ohwi), *ref = malloc((size_t)ny * 4);
    seer_conv_weight_from_oihw(w_ohwi, hw, t->cout, cg, t->kh, t->kw);
    naive_conv(ref, hx, hw, hb, t, ho, wo);

    seer_tensor *x = upload(c, hx, 4, (int64_t[]){t->b, t->h, t->w, t->cin});
    seer_tensor *w = upload(c, w_ohwi, 4, (int64_t[]){t->cout, t->kh, t->kw, cg});
    seer_tensor *b = t->bias ? upload(c, hb, 1, &t->cout) : NULL;
    expect_close(c, seer_conv2d(c, x, w, b, &t->p), ref, 4, (int64_t[]){t->b, ho, wo, t->cout},
                 name);
    free(hx), free(hw), free(hb), free(w_ohwi), free(ref);
    seer_ctx_reset(c);
}

#define P(sh, sw, ph, pw, dh, dw, g)                                                               \
    { (sh), (sw), (ph), (pw), (dh), (dw), (g) }

Test(conv2d, dense) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(21);
    const struct {
        conv_case t;
        const char *name;
    } cases[] = {
        {{2, 13, 7, 5, 8, 3, 3, P(1, 1, 1, 1, 1, 1, 1), true}, "3x3 s1 p1"},
        {{3, 13, 7, 3, 6, 7, 7, P(2, 2, 3, 3, 1, 1, 1), true}, "7x7 s2 p3"},
        {{3, 13, 7, 16, 9, 1, 1, P(0, 0, 0, 0, 0, 0, 0), true}, "1x1 (default params)"},
        {{2, 13, 7, 6, 5, 1, 1, P(2, 2, 0, 0, 1, 1, 1), false}, "1x1 stride 2"},
        {{2, 13, 7, 4, 6, 3, 3, P(1, 1, 2, 2, 2, 2, 1), true}, "3x3 dilation 2"},
        {{1, 13, 7, 4, 6, 3, 3, P(1, 1, 3, 3, 3, 3, 1), false}, "3x3 dilation 3"},
        {{2, 13, 7, 3, 4, 3, 3, P(2, 2, 0, 0, 1, 1, 1), true}, "3x3 s2 no padding"},
        {{3, 13, 7, 5, 7, 3, 1, P(2, 1, 1, 0, 1, 1, 1), true}, "3x1 stride (2, 1)"},
        {{2, 12, 12, 3, 8, 4, 4, P(4, 4, 0, 0, 1, 1, 1), true}, "4x4 s4 patch embed"},
        {{2, 1, 1, 5, 3, 1, 1, P(1, 1, 0, 0, 1, 1, 1), true}, "1x1 on a 1x1 image"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_conv(c, &rng, &cases[i].t, cases[i].name);
    seer_ctx_free(c);
}

Test(conv2d, grouped_and_depthwise) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(22);
    const struct {
        conv_case t;
        const char *name;
    } cases[] = {
        {{2, 9, 11, 6, 8, 3, 3, P(1, 1, 1, 1, 1, 1, 2), true}, "groups 2"},
        {{3, 13, 7, 8, 12, 3, 3, P(2, 2, 1, 1, 1, 1, 4), false}, "groups 4 stride 2"},
        {{3, 13, 7, 8, 6, 1, 1, P(1, 1, 0, 0, 1, 1, 2), true}, "1x1 groups 2"},
        {{3, 13, 7, 8, 8, 3, 3, P(1, 1, 1, 1, 1, 1, 8), true}, "depthwise 3x3"},
        {{2, 13, 7, 6, 6, 5, 5, P(1, 1, 2, 2, 1, 1, 6), true}, "depthwise 5x5"},
        {{2, 13, 7, 6, 6, 7, 7, P(1, 1, 9, 9, 3, 3, 6), true}, "depthwise 7x7 dilation 3"},
        {{3, 13, 7, 5, 5, 3, 3, P(2, 2, 1, 1, 1, 1, 5), false}, "depthwise 3x3 stride 2"},
        {{2, 13, 7, 4, 8, 3, 3, P(1, 1, 1, 1, 1, 1, 4), true}, "depthwise multiplier 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_conv(c, &rng, &cases[i].t, cases[i].name);
    seer_ctx_free(c);
}

Test(conv2d, tiled_im2col) {
    // 2 * 64 * 64 positions of a 3x3x256 window: more than one im2col tile.
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(23);
    conv_case t = {2, 64, 64, 256, 3, 3, 3, P(1, 1, 1, 1, 1, 1, 1), true};
    check_conv(c, &rng, &t, "tiled 3x3");
    seer_ctx_free(c);
}

Test(conv2d, strided_input) {
    // x given as a permuted view of an NCHW buffer.
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(24);
    const int64_t B = 2, C = 3, H = 7, W = 5, O = 4;
    float *hx = rand_floats(&rng, B * C * H * W), *hw = rand_floats(&rng, O * C * 9);
    float *nhwc = malloc(B * C * H * W * 4), *w_ohwi = malloc(O * C * 9 * 4);
    float *ref = malloc(B * H * W * O * 4);
    for (int64_t b = 0; b < B; b++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t i = 0; i < H * W; i++)
                nhwc[(b * H * W + i) * C + ch] = hx[(b * C + ch) * H * W + i];
    conv_case t = {B, H, W, C, O, 3, 3, P(1, 1, 1, 1, 1, 1, 1), false};
    naive_conv(ref, nhwc, hw, NULL, &t, H, W);
    seer_conv_weight_from_oihw(w_ohwi, hw, O, C, 3, 3);
    seer_tensor *x =
        seer_permute(c, upload(c, hx, 4, (int64_t[]){B, C, H, W}), (int[]){0, 2, 3, 1});
    seer_tensor *w = upload(c, w_ohwi, 4, (int64_t[]){O, 3, 3, C});
    expect_close(c, seer_conv2d(c, x, w, NULL, &t.p), ref, 4, (int64_t[]){B, H, W, O},
                 "permuted x");
    free(hx), free(hw), free(nhwc), free(w_ohwi), free(ref);
    seer_ctx_free(c);
}

Test(conv2d, weight_from_oihw) {
    const int64_t o = 3, i = 4, kh = 2, kw = 5;
    float src[3 * 4 * 2 * 5], dst[3 * 4 * 2 * 5];
    for (int n = 0; n < 120; n++)
        src[n] = (float)n;
    seer_conv_weight_from_oihw(dst, src, o, i, kh, kw);
    for (int64_t a = 0; a < o; a++)
        for (int64_t b = 0; b < i; b++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t x = 0; x < kw; x++)
                    cr_assert_eq(dst[((a * kh + y) * kw + x) * i + b],
                                 src[((a * i + b) * kh + y) * kw + x]);
}

Test(conv2d, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(25);
    float *h = rand_floats(&rng, 4096);
    seer_conv2d_params p = {.pad_h = 1, .pad_w = 1};
    seer_tensor *x = upload(c, h, 4, (int64_t[]){2, 5, 5, 4});
    seer_tensor *w = upload(c, h, 4, (int64_t[]){8, 3, 3, 3});
    expect_fail(c, seer_conv2d(c, x, w, NULL, &p), SEER_STATUS_SHAPE, "conv2d", "[8, 3, 3, 3]");
    x = upload(c, h, 4, (int64_t[]){2, 5, 5, 6});
    w = upload(c, h, 4, (int64_t[]){8, 3, 3, 2});
    seer_conv2d_params pg = {.groups = 4};
    expect_fail(c, seer_conv2d(c, x, w, NULL, &pg), SEER_STATUS_SHAPE, "groups 4", NULL);
    x = upload(c, h, 4, (int64_t[]){1, 2, 2, 3});
    w = upload(c, h, 4, (int64_t[]){4, 3, 3, 3});
    expect_fail(c, seer_conv2d(c, x, w, NULL, NULL), SEER_STATUS_SHAPE, "larger than the padded",
                "[1, 2, 2, 3]");
    x = upload(c, h, 3, (int64_t[]){5, 5, 3});
    w = upload(c, h, 4, (int64_t[]){4, 3, 3, 3});
    expect_fail(c, seer_conv2d(c, x, w, NULL, &p), SEER_STATUS_SHAPE, "[B, H, W, C_in]",
                "[5, 5, 3]");
    x = upload(c, h, 4, (int64_t[]){1, 5, 5, 3});
    w = upload(c, h, 4, (int64_t[]){4, 3, 3, 3});
    seer_tensor *b = upload(c, h, 1, (int64_t[]){5});
    expect_fail(c, seer_conv2d(c, x, w, b, &p), SEER_STATUS_SHAPE, "bias", "[4] f32");
    x = upload(c, h, 4, (int64_t[]){1, 5, 5, 3});
    w = upload(c, h, 4, (int64_t[]){4, 3, 3, 3});
    seer_conv2d_params neg = {.stride_h = -1};
    expect_fail(c, seer_conv2d(c, x, w, NULL, &neg), SEER_STATUS_ARG, "conv2d: negative", NULL);
    expect_fail(c, seer_conv2d(c, NULL, w, NULL, &p), SEER_STATUS_ARG, "conv2d", "NULL");
    w = upload(c, h, 4, (int64_t[]){4, 3, 3, 3});
    seer_tensor cu = fake_cuda(h, 4, (int64_t[]){1, 5, 5, 3});
    expect_fail(c, seer_conv2d(c, &cu, w, NULL, &p), SEER_STATUS_DEVICE, "conv2d", "cuda");
    free(h);
    seer_ctx_free(c);
}

// ---- pool ----------------------------------------------------------------------------------

// PyTorch's output size, written from its documented formula.
static int64_t naive_pool_size(int64_t in, int k, int s, int p, bool ceil_mode) {
    double v = (double)(in + 2 * p - k) / s;
    int64_t out = (int64_t)(ceil_mode ? ceil(v) : floor(v)) + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--;
    return out;
}

// Every kernel tap (i, j) of every window: taps inside the input are summed (or maxed);
// taps inside the padded extent [-p, in + p) count for count_include_pad.
static void naive_pool(float *y, const float *x, int64_t nb, int64_t h, int64_t w, int64_t ch,
                       const seer_pool2d_params *p, int64_t ho, int64_t wo) {
    int sh = p->stride_h ? p->stride_h : p->kernel_h, sw = p->stride_w ? p->stride_w : p->kernel_w;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++)
                for (int64_t c = 0; c < ch; c++) {
                    double sum = 0, mx = -INFINITY;
                    int64_t valid = 0, padded = 0;
                    for (int i = 0; i < p->kernel_h; i++)
                        for (int j = 0; j < p->kernel_w; j++) {
                            int64_t iy = oy * sh - p->pad_h + i, ix = ox * sw - p->pad_w + j;
                            if (iy < h + p->pad_h && ix < w + p->pad_w) padded++;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            double v = x[((b * h + iy) * w + ix) * ch + c];
                            sum += v;
                            if (v > mx) mx = v;
                            valid++;
                        }
                    double r = p->mode == SEER_POOL_MAX ? mx
                               : p->count_include_pad   ? sum / (double)padded
                                                        : sum / (double)valid;
                    y[((b * ho + oy) * wo + ox) * ch + c] = (float)r;
                }
}

static void check_pool(seer_ctx *c, seer_rng *rng, int64_t nb, int64_t h, int64_t w, int64_t ch,
                       seer_pool2d_params p, int64_t expect_ho, int64_t expect_wo,
                       const char *name) {
    int sh = p.stride_h ? p.stride_h : p.kernel_h, sw = p.stride_w ? p.stride_w : p.kernel_w;
    int64_t ho = naive_pool_size(h, p.kernel_h, sh, p.pad_h, p.ceil_mode);
    int64_t wo = naive_pool_size(w, p.kernel_w, sw, p.pad_w, p.ceil_mode);
    if (expect_ho) cr_assert_eq(ho, expect_ho, "%s: test's own size %lld", name, (long long)ho);
    if (expect_wo) cr_assert_eq(wo, expect_wo, "%s: test's own size %lld", name, (long long)wo);
    float *hx = rand_floats(rng, nb * h * w * ch), *ref = malloc((size_t)(nb * ho * wo * ch) * 4);
    naive_pool(ref, hx, nb, h, w, ch, &p, ho, wo);
    seer_tensor *x = upload(c, hx, 4, (int64_t[]){nb, h, w, ch});
    expect_close(c, seer_pool2d(c, x, &p), ref, 4, (int64_t[]){nb, ho, wo, ch}, name);
    free(hx), free(ref);
    seer_ctx_reset(c);
}

Test(pool, avg_and_max) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(31);
    const seer_pool_mode avg = SEER_POOL_AVG, max = SEER_POOL_MAX;
    // VOLO's AvgPool2d(2, 2, ceil_mode=True): the last row/column window holds one pixel.
    check_pool(c, &rng, 2, 7, 7, 5, (seer_pool2d_params){avg, 2, 2, 2, 2, 0, 0, true, true}, 4, 4,
               "volo avg 2x2 ceil 7x7");
    check_pool(c, &rng, 3, 7, 7, 5, (seer_pool2d_params){avg, 2, 2, 0, 0, 0, 0, true, false}, 4, 4,
               "volo avg 2x2 ceil, exclude pad");
    check_pool(c, &rng, 2, 7, 7, 5, (seer_pool2d_params){avg, 2, 2, 0, 0, 0, 0, false, true}, 3, 3,
               "avg 2x2 floor 7x7");
    // ResNet-style max pool 3x3 s2 p1.
    check_pool(c, &rng, 3, 13, 7, 6, (seer_pool2d_params){max, 3, 3, 2, 2, 1, 1, false, true}, 7, 4,
               "max 3x3 s2 p1");
    check_pool(c, &rng, 2, 13, 7, 6, (seer_pool2d_params){max, 3, 3, 2, 2, 1, 1, true, true}, 7, 4,
               "max 3x3 s2 p1 ceil");
    check_pool(c, &rng, 2, 13, 7, 6, (seer_pool2d_params){avg, 3, 3, 2, 2, 1, 1, false, true}, 7, 4,
               "avg 3x3 s2 p1 include pad");
    check_pool(c, &rng, 2, 13, 7, 6, (seer_pool2d_params){avg, 3, 3, 2, 2, 1, 1, false, false}, 7,
               4, "avg 3x3 s2 p1 exclude pad");
    check_pool(c, &rng, 2, 13, 7, 6, (seer_pool2d_params){avg, 3, 3, 1, 1, 1, 1, false, false}, 13,
               7, "avg 3x3 s1 p1 (PoolFormer) exclude pad");
    check_pool(c, &rng, 2, 9, 6, 3, (seer_pool2d_params){avg, 3, 2, 2, 1, 1, 0, false, true}, 5, 5,
               "avg 3x2 stride (2, 1) pad (1, 0)");
    seer_ctx_free(c);
}

Test(pool, ceil_mode_edges) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(32);
    const seer_pool_mode avg = SEER_POOL_AVG, max = SEER_POOL_MAX;
    for (int inc = 0; inc < 2; inc++) {
        // H = 5, k 2, s 2, p 1: ceil would give 4, but window 3 would start in the right
        // padding (3 * 2 - 1 = 5 >= H) and is dropped -> 3.
        check_pool(c, &rng, 2, 5, 5, 3, (seer_pool2d_params){avg, 2, 2, 2, 2, 1, 1, true, inc}, 3,
                   3, "avg ceil drop");
        check_pool(c, &rng, 2, 5, 5, 3, (seer_pool2d_params){max, 2, 2, 2, 2, 1, 1, true, inc}, 3,
                   3, "max ceil drop");
        // H = 8, k 3, s 2, p 1, ceil: 5 windows; the last starts at 7 and runs past the padded
        // extent [-1, 9): its include-pad divisor is 2 x 2, not 3 x 3.
        check_pool(c, &rng, 3, 8, 8, 4, (seer_pool2d_params){avg, 3, 3, 2, 2, 1, 1, true, inc}, 5,
                   5, "avg ceil past padded extent");
        check_pool(c, &rng, 1, 8, 6, 4, (seer_pool2d_params){max, 3, 3, 2, 2, 1, 1, true, inc}, 5,
                   4, "max ceil past padded extent");
        // H = 6, k 3, s 2, p 1, ceil: the extra window starts at 5 (inside) and is kept.
        check_pool(c, &rng, 2, 6, 6, 2, (seer_pool2d_params){avg, 3, 3, 2, 2, 1, 1, true, inc}, 4,
                   4, "avg ceil keep");
    }
    seer_ctx_free(c);
}

Test(pool, max_propagates_nan) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float hx[16];
    for (int i = 0; i < 16; i++)
        hx[i] = (float)i;
    hx[5] = NAN; // (y 1, x 1)
    seer_tensor *x = upload(c, hx, 4, (int64_t[]){1, 4, 4, 1});
    seer_tensor *y = seer_pool2d(
        c, x, &(seer_pool2d_params){.mode = SEER_POOL_MAX, .kernel_h = 2, .kernel_w = 2});
    cr_assert_not_null(y, "%s", seer_ctx_error(c));
    float out[4];
    cr_assert_eq(seer_to_host(c, y, out), SEER_STATUS_OK);
    cr_assert(isnan(out[0]));
    cr_assert_eq(out[1], 7.0f);
    cr_assert_eq(out[2], 13.0f);
    cr_assert_eq(out[3], 15.0f);
    seer_ctx_free(c);
}

// Window i spans [floor(i*H/oh), ceil((i+1)*H/oh)), computed with floating point here.
static void naive_adaptive(float *y, const float *x, int64_t nb, int64_t h, int64_t w, int64_t ch,
                           int64_t oh, int64_t ow) {
    for (int64_t b = 0; b < nb; b++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t y0 = (int64_t)floor((double)oy * h / oh);
                int64_t y1 = (int64_t)ceil((double)(oy + 1) * h / oh);
                int64_t x0 = (int64_t)floor((double)ox * w / ow);
                int64_t x1 = (int64_t)ceil((double)(ox + 1) * w / ow);
                for (int64_t c = 0; c < ch; c++) {
                    double s = 0;
                    for (int64_t iy = y0; iy < y1; iy++)
                        for (int64_t ix = x0; ix < x1; ix++)
                            s += x[((b * h + iy) * w + ix) * ch + c];
                    y[((b * oh + oy) * ow + ox) * ch + c] = (float)(s / ((y1 - y0) * (x1 - x0)));
                }
            }
}

Test(pool, adaptive_avg) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(33);
    const int64_t cases[][6] = {
        {2, 13, 7, 5, 3, 2}, {3, 7, 7, 4, 7, 7},   {2, 5, 9, 6, 1, 1},
        {2, 3, 4, 3, 5, 7},  {1, 14, 14, 8, 6, 4}, {3, 1, 1, 2, 2, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int64_t *t = cases[i];
        float *hx = rand_floats(&rng, t[0] * t[1] * t[2] * t[3]);
        float *ref = malloc((size_t)(t[0] * t[4] * t[5] * t[3]) * 4);
        naive_adaptive(ref, hx, t[0], t[1], t[2], t[3], t[4], t[5]);
        seer_tensor *x = upload(c, hx, 4, (int64_t[]){t[0], t[1], t[2], t[3]});
        char name[64];
        snprintf(name, sizeof name, "adaptive %lldx%lld -> %lldx%lld", (long long)t[1],
                 (long long)t[2], (long long)t[4], (long long)t[5]);
        expect_close(c, seer_adaptive_avg_pool2d(c, x, (int)t[4], (int)t[5]), ref, 4,
                     (int64_t[]){t[0], t[4], t[5], t[3]}, name);
        free(hx), free(ref);
        seer_ctx_reset(c);
    }
    seer_ctx_free(c);
}

Test(pool, strided_input) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(34);
    // x: NCHW buffer [2, 3, 7, 5] viewed as NHWC.
    float *hx = rand_floats(&rng, 2 * 3 * 7 * 5), *nhwc = malloc(2 * 3 * 7 * 5 * 4);
    for (int b = 0; b < 2; b++)
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 35; i++)
                nhwc[(b * 35 + i) * 3 + ch] = hx[(b * 3 + ch) * 35 + i];
    seer_pool2d_params p = {SEER_POOL_AVG, 3, 3, 2, 2, 1, 1, true, false};
    int64_t ho = naive_pool_size(7, 3, 2, 1, true), wo = naive_pool_size(5, 3, 2, 1, true);
    float *ref = malloc((size_t)(2 * ho * wo * 3) * 4);
    naive_pool(ref, nhwc, 2, 7, 5, 3, &p, ho, wo);
    seer_tensor *x =
        seer_permute(c, upload(c, hx, 4, (int64_t[]){2, 3, 7, 5}), (int[]){0, 2, 3, 1});
    expect_close(c, seer_pool2d(c, x, &p), ref, 4, (int64_t[]){2, ho, wo, 3}, "permuted x");
    float *aref = malloc(2 * 2 * 2 * 3 * 4);
    naive_adaptive(aref, nhwc, 2, 7, 5, 3, 2, 2);
    expect_close(c, seer_adaptive_avg_pool2d(c, x, 2, 2), aref, 4, (int64_t[]){2, 2, 2, 3},
                 "adaptive permuted x");
    free(hx), free(nhwc), free(ref), free(aref);
    seer_ctx_free(c);
}

Test(pool, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(35);
    float *h = rand_floats(&rng, 1024);
    seer_pool2d_params p = {SEER_POOL_MAX, 3, 3, 2, 2, 1, 1, false, true};
    seer_tensor *x = upload(c, h, 3, (int64_t[]){5, 5, 3});
    expect_fail(c, seer_pool2d(c, x, &p), SEER_STATUS_SHAPE, "pool2d", "[5, 5, 3]");
    x = upload(c, h, 4, (int64_t[]){1, 5, 5, 3});
    expect_fail(c, seer_pool2d(c, x, NULL), SEER_STATUS_ARG, "pool2d", "NULL");
    x = upload(c, h, 4, (int64_t[]){1, 5, 5, 3});
    seer_pool2d_params big_pad = {SEER_POOL_AVG, 3, 3, 1, 1, 2, 2, false, true};
    expect_fail(c, seer_pool2d(c, x, &big_pad), SEER_STATUS_ARG, "pool2d", "pad 2x2");
    x = upload(c, h, 4, (int64_t[]){1, 2, 5, 3});
    seer_pool2d_params big_k = {SEER_POOL_AVG, 5, 5, 1, 1, 1, 1, false, true};
    expect_fail(c, seer_pool2d(c, x, &big_k), SEER_STATUS_SHAPE, "larger than the padded",
                "[1, 2, 5, 3]");
    expect_fail(c, seer_pool2d(c, NULL, &p), SEER_STATUS_ARG, "pool2d", "NULL");
    seer_tensor cu = fake_cuda(h, 4, (int64_t[]){1, 5, 5, 3});
    expect_fail(c, seer_pool2d(c, &cu, &p), SEER_STATUS_DEVICE, "pool2d", "cuda");
    expect_fail(c, seer_adaptive_avg_pool2d(c, &cu, 1, 1), SEER_STATUS_DEVICE,
                "adaptive_avg_pool2d", "cuda");
    x = upload(c, h, 4, (int64_t[]){1, 5, 5, 3});
    expect_fail(c, seer_adaptive_avg_pool2d(c, x, 0, 2), SEER_STATUS_ARG, "adaptive_avg_pool2d",
                "0x2");
    x = upload(c, h, 2, (int64_t[]){5, 3});
    expect_fail(c, seer_adaptive_avg_pool2d(c, x, 1, 1), SEER_STATUS_SHAPE, "adaptive_avg_pool2d",
                "[5, 3]");
    free(h);
    seer_ctx_free(c);
}
