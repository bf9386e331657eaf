// Normalization ops on the CPU against naive loops written here, and bn_fold against its
// formula and against BN applied after a one-patch convolution.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

#define TOL 1e-5

static int64_t numel_of(int nd, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= shape[d];
    return n;
}

// Normal values times scale plus offset (an offset tests the variance for cancellation).
static float *randn(seer_rng *rng, int64_t n, float scale, float offset) {
    float *p = malloc((size_t)n * sizeof *p);
    seer_rng_fill(rng, p, (size_t)n);
    for (int64_t i = 0; i < n; i++)
        p[i] = p[i] * scale + offset;
    return p;
}

static seer_tensor *vec(seer_ctx *c, const float *p, int64_t n) {
    return p ? seer_from_host(c, p, SEER_F32, 1, (int64_t[]){n}) : NULL;
}

static void check_rel(const float *got, const double *want, int64_t n, const char *what) {
    float *w = malloc((size_t)n * sizeof *w);
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)want[i];
    double rel = seer_rel_l2(got, w, (size_t)n);
    cr_assert_leq(rel, TOL, "%s: rel-L2 %g", what, rel);
    free(w);
}

// ---- layer norm and RMS norm ---------------------------------------------------------------

Test(norm, layer_norm_matches_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(51);
    const int64_t shapes[][3] = {{1, 1, 1},   {2, 3, 1},    {2, 5, 3},
                                 {2, 4, 197}, {1, 3, 1000}, {4, 50, 384}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        for (int affine = 0; affine < 3; affine++) { // none, weight only, weight and bias
            int64_t n = numel_of(3, shapes[s]), C = shapes[s][2], rows = n / C;
            float eps = s % 2 ? 1e-6f : 1e-5f;
            float *x = randn(&rng, n, 2.0f, 3.0f), *got = malloc((size_t)n * sizeof *got);
            float *w = affine ? randn(&rng, C, 1.0f, 1.0f) : NULL;
            float *b = affine == 2 ? randn(&rng, C, 1.0f, 0.0f) : NULL;
            double *want = malloc((size_t)n * sizeof *want);
            seer_tensor *y = seer_layer_norm(c, seer_from_host(c, x, SEER_F32, 3, shapes[s]),
                                             vec(c, w, C), vec(c, b, C), eps);
            cr_assert_not_null(y, "%s", seer_ctx_error(c));
            cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
            for (int64_t r = 0; r < rows; r++) {
                const float *xr = x + r * C;
                double mean = 0, var = 0;
                for (int64_t j = 0; j < C; j++)
                    mean += xr[j];
                mean /= C;
                for (int64_t j = 0; j < C; j++)
                    var += (xr[j] - mean) * (xr[j] - mean);
                var /= C;
                for (int64_t j = 0; j < C; j++)
                    want[r * C + j] =
                        (xr[j] - mean) / sqrt(var + eps) * (w ? w[j] : 1) + (b ? b[j] : 0);
            }
            if (C == 1 && !b) {
                // Zero variance: the output is exactly (x - mean) * ... = 0.
                for (int64_t i = 0; i < n; i++)
                    cr_assert_eq(got[i], 0.0f);
            } else {
                check_rel(got, want, n, "layer_norm");
            }
            free(x), free(got), free(w), free(b), free(want);
            seer_ctx_reset(c);
        }
    }
    seer_ctx_free(c);
}

Test(norm, rms_norm_matches_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(52);
    const int64_t shapes[][3] = {{1, 1, 1}, {2, 3, 1}, {2, 5, 3}, {2, 4, 197}, {1, 3, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        for (int affine = 0; affine < 2; affine++) {
            int64_t n = numel_of(3, shapes[s]), C = shapes[s][2], rows = n / C;
            float eps = 1e-6f;
            float *x = randn(&rng, n, 1.5f, 0.5f), *got = malloc((size_t)n * sizeof *got);
            float *w = affine ? randn(&rng, C, 1.0f, 1.0f) : NULL;
            double *want = malloc((size_t)n * sizeof *want);
            seer_tensor *y =
                seer_rms_norm(c, seer_from_host(c, x, SEER_F32, 3, shapes[s]), vec(c, w, C), eps);
            cr_assert_not_null(y, "%s", seer_ctx_error(c));
            cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
            for (int64_t r = 0; r < rows; r++) {
                double ms = 0;
                for (int64_t j = 0; j < C; j++)
                    ms += (double)x[r * C + j] * x[r * C + j];
                ms /= C;
                for (int64_t j = 0; j < C; j++)
                    want[r * C + j] = x[r * C + j] / sqrt(ms + eps) * (w ? w[j] : 1);
            }
            check_rel(got, want, n, "rms_norm");
            free(x), free(got), free(w), free(want);
            seer_ctx_reset(c);
        }
    }
    seer_ctx_free(c);
}

Test(norm, layer_norm_of_strided_input) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(53);
    float *x = randn(&rng, 5 * 8, 1.0f, 0.0f), got[40];
    // [5, 8] viewed as [8, 5]: normalize over the 5 entries of each column.
    seer_tensor *t =
        seer_permute(c, seer_from_host(c, x, SEER_F32, 2, (int64_t[]){5, 8}), (int[]){1, 0});
    cr_assert_eq(seer_to_host(c, seer_layer_norm(c, t, NULL, NULL, 1e-5f), got), SEER_STATUS_OK);
    double want[40];
    for (int r = 0; r < 8; r++) {
        double mean = 0, var = 0;
        for (int j = 0; j < 5; j++)
            mean += x[j * 8 + r];
        mean /= 5;
        for (int j = 0; j < 5; j++)
            var += (x[j * 8 + r] - mean) * (x[j * 8 + r] - mean);
        var /= 5;
        for (int j = 0; j < 5; j++)
            want[r * 5 + j] = (x[j * 8 + r] - mean) / sqrt(var + 1e-5);
    }
    check_rel(got, want, 40, "strided layer_norm");
    free(x);
    seer_ctx_free(c);
}

// ---- group norm ----------------------------------------------------------------------------

static void check_group_norm(seer_ctx *c, seer_rng *rng, int nd, const int64_t *shape, int groups,
                             bool affine) {
    int64_t n = numel_of(nd, shape), B = shape[0], C = shape[nd - 1], P = n / (B * C);
    int64_t cg = C / groups;
    float eps = 1e-5f;
    float *x = randn(rng, n, 2.0f, 1.0f), *got = malloc((size_t)n * sizeof *got);
    float *w = affine ? randn(rng, C, 1.0f, 1.0f) : NULL;
    float *b = affine ? randn(rng, C, 1.0f, 0.0f) : NULL;
    double *want = malloc((size_t)n * sizeof *want);
    seer_tensor *y = seer_group_norm(c, seer_from_host(c, x, SEER_F32, nd, shape), groups,
                                     vec(c, w, C), vec(c, b, C), eps);
    cr_assert_not_null(y, "%s", seer_ctx_error(c));
    cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
    for (int64_t bi = 0; bi < B; bi++)
        for (int g = 0; g < groups; g++) {
            double mean = 0, var = 0;
            for (int64_t p = 0; p < P; p++)
                for (int64_t j = g * cg; j < (g + 1) * cg; j++)
                    mean += x[(bi * P + p) * C + j];
            mean /= (double)(P * cg);
            for (int64_t p = 0; p < P; p++)
                for (int64_t j = g * cg; j < (g + 1) * cg; j++) {
                    double d = x[(bi * P + p) * C + j] - mean;
                    var += d * d;
                }
            var /= (double)(P * cg);
            for (int64_t p = 0; p < P; p++)
                for (int64_t j = g * cg; j < (g + 1) * cg; j++) {
                    int64_t i = (bi * P + p) * C + j;
                    want[i] = (x[i] - mean) / sqrt(var + eps) * (w ? w[j] : 1) + (b ? b[j] : 0);
                }
        }
    check_rel(got, want, n, "group_norm");
    free(x), free(got), free(w), free(b), free(want);
    seer_ctx_reset(c);
}

Test(norm, group_norm_matches_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(54);
    const int64_t img[4] = {2, 5, 7, 64};
    for (int affine = 0; affine < 2; affine++) {
        check_group_norm(c, &rng, 4, img, 32, affine);
        check_group_norm(c, &rng, 4, img, 64, affine); // groups = C (instance norm)
        check_group_norm(c, &rng, 4, img, 1, affine);  // groups = 1 (layer norm over H, W, C)
    }
    check_group_norm(c, &rng, 3, (int64_t[]){3, 11, 6}, 3, true); // tokens [B, L, C]
    check_group_norm(c, &rng, 2, (int64_t[]){2, 9}, 3, true);     // no spatial dims
    check_group_norm(c, &rng, 4, (int64_t[]){1, 16, 16, 128}, 32, true);
    seer_ctx_free(c);
}

// ---- batch norm and folding ----------------------------------------------------------------

Test(norm, batch_norm_matches_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(55);
    const int64_t shapes[][4] = {{2, 3, 5, 7}, {1, 1, 4, 197}, {3, 2, 2, 1}, {2, 1, 1, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        for (int affine = 0; affine < 2; affine++) {
            int64_t n = numel_of(4, shapes[s]), C = shapes[s][3];
            float eps = 1e-3f;
            float *x = randn(&rng, n, 2.0f, 0.5f), *got = malloc((size_t)n * sizeof *got);
            float *mean = randn(&rng, C, 1.0f, 0.0f), *var = randn(&rng, C, 1.0f, 0.0f);
            for (int64_t j = 0; j < C; j++)
                var[j] = var[j] * var[j] + 0.1f;
            float *w = affine ? randn(&rng, C, 1.0f, 1.0f) : NULL;
            float *b = affine ? randn(&rng, C, 1.0f, 0.0f) : NULL;
            double *want = malloc((size_t)n * sizeof *want);
            seer_tensor *y =
                seer_batch_norm(c, seer_from_host(c, x, SEER_F32, 4, shapes[s]), vec(c, mean, C),
                                vec(c, var, C), vec(c, w, C), vec(c, b, C), eps);
            cr_assert_not_null(y, "%s", seer_ctx_error(c));
            cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
            for (int64_t i = 0; i < n; i++) {
                int64_t j = i % C;
                want[i] =
                    (x[i] - mean[j]) / sqrt((double)var[j] + eps) * (w ? w[j] : 1) + (b ? b[j] : 0);
            }
            check_rel(got, want, n, "batch_norm");
            free(x), free(got), free(mean), free(var), free(w), free(b), free(want);
            seer_ctx_reset(c);
        }
    }
    seer_ctx_free(c);
}

Test(norm, bn_fold_matches_formula_and_conv_then_bn) {
    seer_rng rng = seer_rng_new(56);
    const int64_t c_out = 5, per_out = 3 * 3 * 4; // OHWI [5, 3, 3, 4]
    const float eps = 1e-5f;
    float *w = randn(&rng, c_out * per_out, 0.5f, 0.0f), *bias = randn(&rng, c_out, 1.0f, 0.0f);
    float *mean = randn(&rng, c_out, 1.0f, 0.0f), *var = randn(&rng, c_out, 1.0f, 0.0f);
    float *gamma = randn(&rng, c_out, 1.0f, 1.0f), *beta = randn(&rng, c_out, 1.0f, 0.0f);
    float *patch = randn(&rng, per_out, 1.0f, 0.0f);
    for (int64_t o = 0; o < c_out; o++)
        var[o] = var[o] * var[o] + 0.05f;

    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *b_in = with_bias ? bias : NULL;
        float *wf = malloc((size_t)(c_out * per_out) * sizeof *wf), bf[5];
        memcpy(wf, w, (size_t)(c_out * per_out) * sizeof *wf);
        seer_bn_fold(wf, c_out, per_out, b_in, mean, var, gamma, beta, eps, bf);
        for (int64_t o = 0; o < c_out; o++) {
            double s = gamma[o] / sqrt((double)var[o] + eps);
            for (int64_t i = 0; i < per_out; i++) {
                double want = w[o * per_out + i] * s;
                cr_assert_leq(fabs(wf[o * per_out + i] - want), 1e-6 * (fabs(want) + 1e-3));
            }
            double want_b = ((b_in ? b_in[o] : 0) - mean[o]) * s + beta[o];
            cr_assert_leq(fabs(bf[o] - want_b), 1e-6 * (fabs(want_b) + 1e-3));
            // One output pixel of the convolution: folded conv == BN(conv).
            double conv = b_in ? b_in[o] : 0, folded = bf[o];
            for (int64_t i = 0; i < per_out; i++) {
                conv += (double)w[o * per_out + i] * patch[i];
                folded += (double)wf[o * per_out + i] * patch[i];
            }
            double bn = (conv - mean[o]) * s + beta[o];
            cr_assert_leq(fabs(folded - bn), 1e-5 * (fabs(bn) + 1), "o %lld: %g vs %g",
                          (long long)o, folded, bn);
        }
        free(wf);
    }
    // bias_out may be the bias array itself.
    float b2[5];
    memcpy(b2, bias, sizeof b2);
    seer_bn_fold(NULL, c_out, per_out, b2, mean, var, gamma, beta, eps, b2);
    for (int64_t o = 0; o < c_out; o++) {
        double want = (bias[o] - mean[o]) * gamma[o] / sqrt((double)var[o] + eps) + beta[o];
        cr_assert_leq(fabs(b2[o] - want), 1e-6 * (fabs(want) + 1e-3));
    }
    free(w), free(bias), free(mean), free(var), free(gamma), free(beta), free(patch);
}

// ---- errors --------------------------------------------------------------------------------

Test(norm, errors_are_clear) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float buf[64];
    for (int i = 0; i < 64; i++)
        buf[i] = (float)i * 0.25f - 3.0f;
    seer_tensor x = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 3, (int64_t[]){2, 4, 6});
    seer_tensor w5 = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 1, (int64_t[]){5});
    seer_tensor w6 = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 1, (int64_t[]){6});

    cr_assert_null(seer_layer_norm(c, &x, &w5, NULL, 1e-5f));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(c), "layer_norm: weight must be [6] f32, got [5] f32"), "%s",
              seer_ctx_error(c));
    seer_ctx_reset(c);
    cr_assert_null(seer_rms_norm(c, &x, &w5, 1e-5f));
    cr_assert(strstr(seer_ctx_error(c), "rms_norm: weight must be [6] f32"), "%s",
              seer_ctx_error(c));
    seer_ctx_reset(c);

    cr_assert_null(seer_group_norm(c, &x, 4, &w6, &w6, 1e-5f));
    cr_assert(strstr(seer_ctx_error(c), "group_norm: groups = 4 must be >= 1 and divide C = 6 "
                                        "(x [2, 4, 6] f32)"),
              "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    cr_assert_null(seer_group_norm(c, &x, 0, NULL, NULL, 1e-5f));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    seer_ctx_reset(c);
    seer_tensor x1 = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 1, (int64_t[]){6});
    cr_assert_null(seer_group_norm(c, &x1, 3, NULL, NULL, 1e-5f));
    cr_assert(strstr(seer_ctx_error(c), "group_norm: x must have at least 2 dims, got [6] f32"),
              "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    cr_assert_null(seer_batch_norm(c, &x, NULL, &w6, NULL, NULL, 1e-5f));
    cr_assert(strstr(seer_ctx_error(c), "batch_norm: input 1 is NULL"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    cr_assert_null(seer_batch_norm(c, &x, &w6, &w5, NULL, NULL, 1e-5f));
    cr_assert(strstr(seer_ctx_error(c), "batch_norm: running_var must be [6] f32, got [5] f32"),
              "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    cr_assert_null(seer_layer_norm(c, NULL, NULL, NULL, 1e-5f));
    cr_assert(strstr(seer_ctx_error(c), "layer_norm: input 0 is NULL"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    seer_tensor d = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CUDA, 3, (int64_t[]){2, 4, 6});
    cr_assert_null(seer_group_norm(c, &d, 2, NULL, NULL, 1e-5f));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_DEVICE);
    cr_assert(strstr(seer_ctx_error(c), "is on cuda"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    seer_tensor wd = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CUDA, 1, (int64_t[]){6});
    cr_assert_null(seer_layer_norm(c, &x, NULL, &wd, 1e-5f));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_DEVICE);
    seer_ctx_reset(c);

    int32_t ibuf[12] = {0};
    seer_tensor xi = seer_tensor_wrap(ibuf, SEER_I32, SEER_DEVICE_CPU, 2, (int64_t[]){2, 6});
    cr_assert_null(seer_rms_norm(c, &xi, NULL, 1e-5f));
    cr_assert(strstr(seer_ctx_error(c), "expected a float tensor, got i32"), "%s",
              seer_ctx_error(c));
    seer_ctx_reset(c);
    cr_assert_null(seer_layer_norm(c, &x, NULL, NULL, -1.0f));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_ARG);
    cr_assert(strstr(seer_ctx_error(c), "eps"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
}
