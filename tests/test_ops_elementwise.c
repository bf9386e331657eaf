// Elementwise ops, softmax and reductions on the CPU against naive loops written here.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
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

static float *randn(seer_rng *rng, int64_t n, float scale) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    seer_rng_fill(rng, p, (size_t)n);
    for (int64_t i = 0; i < n; i++)
        p[i] *= scale;
    return p;
}

// Offset in a contiguous tensor of shape `in` (ndim `ni`, right-aligned to the output) of the
// element that broadcasts to output index `oi` (ndim `no`).
static int64_t bcast_offset(int ni, const int64_t *in, int no, const int64_t *oi) {
    int64_t off = 0;
    for (int d = 0; d < ni; d++) {
        int64_t i = in[d] == 1 ? 0 : oi[d + no - ni];
        off = off * in[d] + i;
    }
    return off;
}

// Row-major multi-index of flat position f.
static void unravel(int nd, const int64_t *shape, int64_t f, int64_t *idx) {
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = f % shape[d];
        f /= shape[d];
    }
}

// Infinities must match exactly; the finite entries within rel-L2 tol.
static void check_close(const float *got, const double *want, int64_t n, double tol,
                        const char *what) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isinf(want[i])) {
            cr_assert_eq(got[i], (float)want[i], "%s: [%lld] = %g, want %g", what, (long long)i,
                         got[i], want[i]);
            continue;
        }
        cr_assert(!isnan(got[i]), "%s: [%lld] is NaN", what, (long long)i);
        double d = got[i] - want[i];
        num += d * d;
        den += want[i] * want[i];
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    cr_assert_leq(rel, tol, "%s: rel-L2 %g", what, rel);
}

// ---- unary ---------------------------------------------------------------------------------

static double unary_ref(seer_unary_op op, double x, double alpha, double beta) {
    switch (op) {
    case SEER_UNARY_RELU: return x < 0 ? 0 : x;
    case SEER_UNARY_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case SEER_UNARY_GELU_TANH:
        return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case SEER_UNARY_SILU: return x / (1 + exp(-x));
    case SEER_UNARY_SIGMOID: return 1 / (1 + exp(-x));
    case SEER_UNARY_TANH: return tanh(x);
    case SEER_UNARY_EXP: return exp(x);
    case SEER_UNARY_SQRT: return sqrt(x);
    case SEER_UNARY_ABS: return fabs(x);
    case SEER_UNARY_AFFINE: return alpha * x + beta;
    default: return NAN;
    }
}

Test(unary, every_op_matches_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(11);
    const int64_t shapes[][3] = {{1, 1, 1}, {1, 1, 3}, {1, 2, 197}, {3, 5, 1000}, {2, 7, 9}};
    for (int op = 0; op < SEER_UNARY_COUNT; op++) {
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int64_t n = numel_of(3, shapes[s]);
            float *x = randn(&rng, n, 2.5f);
            if (op == SEER_UNARY_SQRT)
                for (int64_t i = 0; i < n; i++)
                    x[i] = fabsf(x[i]);
            float alpha = 0.75f, beta = -1.25f;
            seer_tensor *xt = seer_from_host(c, x, SEER_F32, 3, shapes[s]);
            seer_tensor *y = seer_unary(c, xt, (seer_unary_op)op, alpha, beta);
            cr_assert_not_null(y, "op %d: %s", op, seer_ctx_error(c));
            cr_assert(seer_tensor_same_shape(y, xt));
            float *got = malloc((size_t)n * sizeof *got);
            double *want = malloc((size_t)n * sizeof *want);
            cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
            for (int64_t i = 0; i < n; i++)
                want[i] = unary_ref(op, x[i], alpha, beta);
            char what[64];
            snprintf(what, sizeof what, "unary op %d shape %zu", op, s);
            check_close(got, want, n, TOL, what);
            free(x), free(got), free(want);
            seer_ctx_reset(c);
        }
    }
    seer_ctx_free(c);
}

Test(unary, wrappers_and_strided_input) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(12);
    int64_t shape[3] = {2, 3, 5}, n = 30;
    float *x = randn(&rng, n, 2.0f);
    seer_tensor *xt = seer_from_host(c, x, SEER_F32, 3, shape);
    struct {
        seer_tensor *(*fn)(seer_ctx *, const seer_tensor *);
        seer_unary_op op;
    } w[] = {{seer_relu, SEER_UNARY_RELU},
             {seer_gelu, SEER_UNARY_GELU},
             {seer_gelu_tanh, SEER_UNARY_GELU_TANH},
             {seer_silu, SEER_UNARY_SILU},
             {seer_sigmoid, SEER_UNARY_SIGMOID}};
    float a[30], b[30];
    for (size_t k = 0; k < sizeof w / sizeof *w; k++) {
        cr_assert_eq(seer_to_host(c, w[k].fn(c, xt), a), SEER_STATUS_OK);
        cr_assert_eq(seer_to_host(c, seer_unary(c, xt, w[k].op, 1, 0), b), SEER_STATUS_OK);
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "wrapper %zu", k);
    }
    cr_assert_eq(seer_to_host(c, seer_scale(c, xt, -2.0f, 0.5f), a), SEER_STATUS_OK);
    for (int i = 0; i < 30; i++)
        cr_assert_float_eq(a[i], -2.0f * x[i] + 0.5f, 1e-6);

    // A permuted view [5, 2, 3]: the output follows the view's element order.
    seer_tensor *p = seer_permute(c, xt, (int[]){2, 0, 1});
    cr_assert_eq(seer_to_host(c, seer_relu(c, p), a), SEER_STATUS_OK);
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < 6; i++) {
            float v = x[i * 5 + k];
            cr_assert_eq(a[k * 6 + i], v < 0 ? 0.0f : v);
        }
    free(x);
    seer_ctx_free(c);
}

Test(unary, stable_for_large_inputs) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    const float x[6] = {-1000.0f, -100.0f, -30.0f, 30.0f, 100.0f, 1000.0f};
    seer_tensor *xt = seer_from_host(c, x, SEER_F32, 1, (int64_t[]){6});
    float s[6], si[6], g[6], gt[6];
    cr_assert_eq(seer_to_host(c, seer_sigmoid(c, xt), s), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, seer_silu(c, xt), si), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, seer_gelu(c, xt), g), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, seer_gelu_tanh(c, xt), gt), SEER_STATUS_OK);
    for (int i = 0; i < 6; i++) {
        cr_assert(isfinite(s[i]) && isfinite(si[i]) && isfinite(g[i]) && isfinite(gt[i]),
                  "x = %g: %g %g %g %g", x[i], s[i], si[i], g[i], gt[i]);
        double want = 1 / (1 + exp(-(double)x[i]));
        cr_assert_leq(fabs(s[i] - want), 1e-7 + 1e-6 * want, "sigmoid(%g) = %g", x[i], s[i]);
        cr_assert_leq(fabs(si[i] - x[i] * want), 1e-6 * (1 + fabs(x[i] * want)));
    }
    cr_assert_eq(s[0], 0.0f);
    cr_assert_eq(s[5], 1.0f);
    cr_assert_eq(g[5], 1000.0f);
    cr_assert_eq(gt[5], 1000.0f);
    seer_ctx_free(c);
}

Test(unary, errors_are_clear) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    cr_assert_null(seer_gelu(c, NULL));
    cr_assert(strstr(seer_ctx_error(c), "unary: input 0 is NULL"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    float buf[4] = {1, 2, 3, 4};
    seer_tensor dev = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CUDA, 1, (int64_t[]){4});
    cr_assert_null(seer_relu(c, &dev));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_DEVICE);
    cr_assert(strstr(seer_ctx_error(c), "is on cuda"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    seer_tensor host = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 1, (int64_t[]){4});
    cr_assert_null(seer_unary(c, &host, SEER_UNARY_COUNT, 1, 0));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_ARG);
    cr_assert(strstr(seer_ctx_error(c), "unknown op"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    int32_t ibuf[4] = {1, 2, 3, 4};
    seer_tensor it = seer_tensor_wrap(ibuf, SEER_I32, SEER_DEVICE_CPU, 1, (int64_t[]){4});
    cr_assert_null(seer_silu(c, &it));
    cr_assert(strstr(seer_ctx_error(c), "silu: expected a float tensor, got i32"), "%s",
              seer_ctx_error(c));
    seer_ctx_free(c);
}

// ---- binary --------------------------------------------------------------------------------

static float binary_ref(seer_binary_op op, float u, float v) {
    switch (op) {
    case SEER_BINARY_ADD: return u + v;
    case SEER_BINARY_SUB: return u - v;
    case SEER_BINARY_MUL: return u * v;
    case SEER_BINARY_DIV: return u / v;
    case SEER_BINARY_MAX: return u > v ? u : v;
    case SEER_BINARY_MIN: return u < v ? u : v;
    default: return NAN;
    }
}

// a (na dims) op b (nb dims) against the naive broadcast loop; want: the result shape.
static void check_binary(seer_ctx *c, seer_rng *rng, int na, const int64_t *sa, int nb,
                         const int64_t *sb, int ny, const int64_t *sy) {
    int64_t n_a = numel_of(na, sa), n_b = numel_of(nb, sb), n_y = numel_of(ny, sy);
    float *a = randn(rng, n_a, 1.0f), *b = randn(rng, n_b, 1.0f);
    float *got = malloc((size_t)n_y * sizeof *got);
    for (int op = 0; op < SEER_BINARY_COUNT; op++) {
        seer_tensor *at = seer_from_host(c, a, SEER_F32, na, sa);
        seer_tensor *bt = seer_from_host(c, b, SEER_F32, nb, sb);
        seer_tensor *y = seer_binary(c, at, bt, (seer_binary_op)op);
        cr_assert_not_null(y, "op %d: %s", op, seer_ctx_error(c));
        cr_assert_eq(y->ndim, ny);
        for (int d = 0; d < ny; d++)
            cr_assert_eq(y->shape[d], sy[d], "op %d dim %d", op, d);
        cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
        int64_t idx[SEER_MAX_DIMS];
        for (int64_t f = 0; f < n_y; f++) {
            unravel(ny, sy, f, idx);
            float want =
                binary_ref(op, a[bcast_offset(na, sa, ny, idx)], b[bcast_offset(nb, sb, ny, idx)]);
            // One IEEE operation per element: results are exact.
            cr_assert_eq(got[f], want, "op %d at %lld: %g vs %g", op, (long long)f, got[f], want);
        }
        seer_ctx_reset(c);
    }
    free(a), free(b), free(got);
}

Test(binary, broadcast_patterns_match_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(21);
    // same shape, odd sizes
    check_binary(c, &rng, 3, (int64_t[]){2, 3, 4}, 3, (int64_t[]){2, 3, 4}, 3,
                 (int64_t[]){2, 3, 4});
    check_binary(c, &rng, 1, (int64_t[]){1000}, 1, (int64_t[]){1000}, 1, (int64_t[]){1000});
    // row-vector bias over leading dims, and the mirrored order
    check_binary(c, &rng, 3, (int64_t[]){2, 3, 4}, 1, (int64_t[]){4}, 3, (int64_t[]){2, 3, 4});
    check_binary(c, &rng, 1, (int64_t[]){4}, 3, (int64_t[]){2, 3, 4}, 3, (int64_t[]){2, 3, 4});
    check_binary(c, &rng, 2, (int64_t[]){3, 197}, 1, (int64_t[]){197}, 2, (int64_t[]){3, 197});
    // both sides stretch
    check_binary(c, &rng, 3, (int64_t[]){2, 1, 4}, 2, (int64_t[]){3, 1}, 3, (int64_t[]){2, 3, 4});
    // scalar on either side
    check_binary(c, &rng, 2, (int64_t[]){5, 7}, 1, (int64_t[]){1}, 2, (int64_t[]){5, 7});
    check_binary(c, &rng, 1, (int64_t[]){1}, 2, (int64_t[]){5, 7}, 2, (int64_t[]){5, 7});
    // 4-d with a 3-d operand that stretches in two places
    check_binary(c, &rng, 4, (int64_t[]){2, 3, 1, 5}, 3, (int64_t[]){3, 4, 1}, 4,
                 (int64_t[]){2, 3, 4, 5});
    // per-channel scale in the NCHW manner, and one in NHWC
    check_binary(c, &rng, 4, (int64_t[]){2, 3, 5, 5}, 3, (int64_t[]){3, 1, 1}, 4,
                 (int64_t[]){2, 3, 5, 5});
    check_binary(c, &rng, 4, (int64_t[]){2, 5, 5, 3}, 1, (int64_t[]){3}, 4,
                 (int64_t[]){2, 5, 5, 3});
    // big enough to run in parallel
    check_binary(c, &rng, 3, (int64_t[]){4, 97, 256}, 2, (int64_t[]){97, 1}, 3,
                 (int64_t[]){4, 97, 256});
    seer_ctx_free(c);
}

Test(binary, strided_inputs_and_wrappers) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(22);
    float *a = randn(&rng, 24, 1.0f), *b = randn(&rng, 6, 1.0f);
    seer_tensor *at = seer_from_host(c, a, SEER_F32, 3, (int64_t[]){2, 3, 4});
    seer_tensor *bt = seer_from_host(c, b, SEER_F32, 2, (int64_t[]){2, 3});
    // a viewed as [4, 2, 3] (permuted), b [2, 3] broadcast over the leading dim.
    seer_tensor *ap = seer_permute(c, at, (int[]){2, 0, 1});
    float got[24];
    seer_tensor *(*fns[])(seer_ctx *, const seer_tensor *,
                          const seer_tensor *) = {seer_add, seer_sub, seer_mul};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(seer_to_host(c, fns[k](c, ap, bt), got), SEER_STATUS_OK, "%s",
                     seer_ctx_error(c));
        for (int l = 0; l < 4; l++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++) {
                    float u = a[(i * 3 + j) * 4 + l], v = b[i * 3 + j];
                    cr_assert_eq(got[(l * 2 + i) * 3 + j], binary_ref(k, u, v));
                }
    }
    // b stored [3, 2]; its column 1 is a narrowed view [3, 1] with stride 2 on both dims,
    // broadcast against [2, 3, 4] as the left operand (order matters for sub).
    bt = seer_from_host(c, b, SEER_F32, 2, (int64_t[]){3, 2});
    seer_tensor *bn = seer_narrow(c, bt, 1, 1, 1);
    cr_assert(!seer_tensor_is_contiguous(bn));
    cr_assert_eq(seer_to_host(c, seer_sub(c, bn, at), got), SEER_STATUS_OK, "%s",
                 seer_ctx_error(c));
    for (int i = 0; i < 24; i++)
        cr_assert_eq(got[i], b[((i / 4) % 3) * 2 + 1] - a[i]);
    free(a), free(b);
    seer_ctx_free(c);
}

Test(binary, errors_are_clear) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float buf[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    seer_tensor a = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 2, (int64_t[]){2, 3});
    seer_tensor b = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 1, (int64_t[]){4});
    cr_assert_null(seer_add(c, &a, &b));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(c), "add: shapes [2, 3] f32 and [4] f32 do not broadcast"),
              "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    cr_assert_null(seer_mul(c, &a, NULL));
    cr_assert(strstr(seer_ctx_error(c), "input 1 is NULL"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    seer_tensor d = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CUDA, 2, (int64_t[]){2, 3});
    cr_assert_null(seer_sub(c, &a, &d));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_DEVICE);
    cr_assert(strstr(seer_ctx_error(c), "is on cuda"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    seer_tensor h = seer_tensor_wrap(buf, SEER_BF16, SEER_DEVICE_CPU, 2, (int64_t[]){2, 3});
    cr_assert_null(seer_add(c, &a, &h));
    cr_assert(strstr(seer_ctx_error(c), "differ in dtype"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    cr_assert_null(seer_binary(c, &a, &a, (seer_binary_op)-1));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_ARG);
    seer_ctx_free(c);
}

// ---- softmax -------------------------------------------------------------------------------

// softmax(scale * x + bias) or log-softmax over rows of L, in double. bias: full, or NULL.
static void softmax_ref(double *want, const float *x, const double *bias, int64_t rows, int64_t L,
                        double scale, bool log_out) {
    for (int64_t r = 0; r < rows; r++) {
        double m = -INFINITY, *w = want + r * L;
        for (int64_t j = 0; j < L; j++) {
            w[j] = scale * x[r * L + j] + (bias ? bias[r * L + j] : 0);
            if (w[j] > m) m = w[j];
        }
        if (m == -INFINITY) {
            for (int64_t j = 0; j < L; j++)
                w[j] = log_out ? -INFINITY : 0;
            continue;
        }
        double s = 0;
        for (int64_t j = 0; j < L; j++)
            s += exp(w[j] - m);
        for (int64_t j = 0; j < L; j++)
            w[j] = log_out ? w[j] - m - log(s) : exp(w[j] - m) / s;
    }
}

Test(softmax, rows_match_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(31);
    const int64_t shapes[][3] = {{1, 1, 1}, {1, 3, 197}, {2, 4, 1000}, {2, 5, 3}, {4, 64, 300}};
    const float scales[] = {1.0f, 0.125f, 3.0f};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        for (int lg = 0; lg < 2; lg++) {
            float scale = scales[(s + lg) % 3];
            int64_t n = numel_of(3, shapes[s]), L = shapes[s][2];
            float *x = randn(&rng, n, 3.0f), *got = malloc((size_t)n * sizeof *got);
            double *want = malloc((size_t)n * sizeof *want);
            seer_tensor *xt = seer_from_host(c, x, SEER_F32, 3, shapes[s]);
            seer_tensor *y = lg ? seer_log_softmax(c, xt, scale) : seer_softmax(c, xt, scale, NULL);
            cr_assert_not_null(y, "%s", seer_ctx_error(c));
            cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
            softmax_ref(want, x, NULL, n / L, L, scale, lg);
            check_close(got, want, n, TOL, lg ? "log_softmax" : "softmax");
            free(x), free(got), free(want);
            seer_ctx_reset(c);
        }
    }
    seer_ctx_free(c);
}

Test(softmax, broadcast_bias_with_masks) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(32);
    const int64_t xs[4] = {2, 3, 5, 7};
    const int64_t n = 2 * 3 * 5 * 7;
    struct {
        int nd;
        int64_t shape[4];
    } biases[] = {{3, {3, 5, 7}}, {4, {1, 1, 5, 7}}, {1, {7}}, {4, {2, 1, 1, 7}}, {2, {5, 1}}};
    float *x = randn(&rng, n, 2.0f), got[2 * 3 * 5 * 7];
    double want[2 * 3 * 5 * 7], full[2 * 3 * 5 * 7];
    for (size_t k = 0; k < sizeof biases / sizeof *biases; k++) {
        int nb = biases[k].nd;
        const int64_t *bs = biases[k].shape;
        int64_t bn = numel_of(nb, bs), L = bs[nb - 1];
        float *bias = randn(&rng, bn, 1.0f);
        // About a fifth masked, plus one whole row of the bias (when its rows have L = 7).
        for (int64_t i = 0; i < bn; i++)
            if (seer_rng_uniform(&rng) < 0.2f) bias[i] = -INFINITY;
        if (L == 7)
            for (int64_t j = 0; j < 7; j++)
                bias[bn - 7 + j] = -INFINITY;
        int64_t idx[4];
        for (int64_t f = 0; f < n; f++) {
            unravel(4, xs, f, idx);
            full[f] = bias[bcast_offset(nb, bs, 4, idx)];
        }
        seer_tensor *xt = seer_from_host(c, x, SEER_F32, 4, xs);
        seer_tensor *bt = seer_from_host(c, bias, SEER_F32, nb, bs);
        seer_tensor *y = seer_softmax(c, xt, 0.5f, bt);
        cr_assert_not_null(y, "bias %zu: %s", k, seer_ctx_error(c));
        cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
        softmax_ref(want, x, full, n / 7, 7, 0.5, false);
        check_close(got, want, n, TOL, "softmax with bias");
        for (int64_t r = 0; r < n / 7; r++) {
            double sum = 0;
            bool masked = true;
            for (int j = 0; j < 7; j++) {
                float p = got[r * 7 + j];
                cr_assert(!isnan(p));
                if (full[r * 7 + j] == -INFINITY)
                    cr_assert_eq(p, 0.0f);
                else
                    masked = false;
                sum += p;
            }
            cr_assert_float_eq(sum, masked ? 0.0 : 1.0, 1e-5, "row %lld", (long long)r);
        }
        free(bias);
        seer_ctx_reset(c);
    }
    free(x);
    seer_ctx_free(c);
}

Test(softmax, strided_operands_and_masked_log_softmax) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(33);
    // x stored [7, 6] and viewed as [6, 7]; bias stored [7, 6] viewed as [6, 7] (stride 6
    // along the softmax dim).
    float *x = randn(&rng, 42, 1.5f), *bias = randn(&rng, 42, 1.0f), got[42];
    bias[3] = -INFINITY;
    double want[42], bias_t[42];
    float xt_f[42];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 7; j++) {
            xt_f[i * 7 + j] = x[j * 6 + i];
            bias_t[i * 7 + j] = bias[j * 6 + i];
        }
    seer_tensor *xs = seer_from_host(c, x, SEER_F32, 2, (int64_t[]){7, 6});
    seer_tensor *bs = seer_from_host(c, bias, SEER_F32, 2, (int64_t[]){7, 6});
    seer_tensor *xt = seer_permute(c, xs, (int[]){1, 0});
    seer_tensor *bt = seer_permute(c, bs, (int[]){1, 0});
    cr_assert_eq(seer_to_host(c, seer_softmax(c, xt, 1.0f, bt), got), SEER_STATUS_OK, "%s",
                 seer_ctx_error(c));
    softmax_ref(want, xt_f, bias_t, 6, 7, 1.0, false);
    check_close(got, want, 42, TOL, "strided softmax");

    // log-softmax: -inf inputs give -inf; a fully -inf row gives all -inf, not NaN.
    float m[3 * 4] = {0.5f,      -INFINITY, 2.0f, -1.0f, -INFINITY, -INFINITY,
                      -INFINITY, -INFINITY, 3.0f, 1.0f,  -INFINITY, 0.25f};
    seer_tensor *mt = seer_from_host(c, m, SEER_F32, 2, (int64_t[]){3, 4});
    cr_assert_eq(seer_to_host(c, seer_log_softmax(c, mt, 1.0f), got), SEER_STATUS_OK);
    softmax_ref(want, m, NULL, 3, 4, 1.0, true);
    check_close(got, want, 12, TOL, "masked log_softmax");
    for (int j = 0; j < 4; j++)
        cr_assert_eq(got[4 + j], -INFINITY);
    // softmax of the same rows: -inf -> 0, the fully masked row -> zeros.
    cr_assert_eq(seer_to_host(c, seer_softmax(c, mt, 1.0f, NULL), got), SEER_STATUS_OK);
    softmax_ref(want, m, NULL, 3, 4, 1.0, false);
    check_close(got, want, 12, TOL, "masked softmax");
    for (int j = 0; j < 4; j++)
        cr_assert_eq(got[4 + j], 0.0f);
    free(x), free(bias);
    seer_ctx_free(c);
}

Test(softmax, errors_are_clear) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float buf[24] = {0};
    for (int i = 0; i < 24; i++)
        buf[i] = (float)i * 0.1f;
    seer_tensor x = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 3, (int64_t[]){2, 3, 4});
    seer_tensor bad = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 2, (int64_t[]){2, 4});
    cr_assert_null(seer_softmax(c, &x, 1.0f, &bad));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(
        strstr(seer_ctx_error(c), "softmax: bias [2, 4] f32 does not broadcast to x [2, 3, 4] f32"),
        "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    seer_tensor big = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 4, (int64_t[]){1, 2, 3, 4});
    cr_assert_null(seer_softmax(c, &x, 1.0f, &big)); // the bias may not add dims
    cr_assert(strstr(seer_ctx_error(c), "does not broadcast"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    cr_assert_null(seer_softmax(c, NULL, 1.0f, NULL));
    cr_assert(strstr(seer_ctx_error(c), "softmax: input 0 is NULL"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    seer_tensor d = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CUDA, 2, (int64_t[]){3, 4});
    cr_assert_null(seer_log_softmax(c, &d, 1.0f));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_DEVICE);
    seer_ctx_reset(c);
    cr_assert_null(seer_softmax(c, &x, 1.0f, &d));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_DEVICE);
    seer_ctx_reset(c);

    seer_tensor s = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 0, NULL);
    cr_assert_null(seer_softmax(c, &s, 1.0f, NULL));
    cr_assert(strstr(seer_ctx_error(c), "at least 1 dim"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
}

// ---- reduce --------------------------------------------------------------------------------

static void check_reduce(seer_ctx *c, seer_rng *rng, int nd, const int64_t *shape, int dim) {
    int64_t n = numel_of(nd, shape);
    int d = dim < 0 ? dim + nd : dim;
    int64_t outer = 1, len = shape[d], inner = 1;
    for (int k = 0; k < d; k++)
        outer *= shape[k];
    for (int k = d + 1; k < nd; k++)
        inner *= shape[k];
    float *x = randn(rng, n, 1.0f);
    seer_tensor *xt = seer_from_host(c, x, SEER_F32, nd, shape);
    float *got = malloc((size_t)(outer * inner) * sizeof *got);
    double *want = malloc((size_t)(outer * inner) * sizeof *want);
    for (int op = 0; op <= SEER_REDUCE_MAX; op++) {
        seer_tensor *y = seer_reduce(c, xt, dim, (seer_reduce_op)op);
        cr_assert_not_null(y, "%s", seer_ctx_error(c));
        cr_assert_eq(y->ndim, nd - 1);
        for (int k = 0, o = 0; k < nd; k++)
            if (k != d) cr_assert_eq(y->shape[o++], shape[k]);
        cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                double s = 0, m = -INFINITY;
                for (int64_t k = 0; k < len; k++) {
                    double v = x[(o * len + k) * inner + i];
                    s += v;
                    if (v > m) m = v;
                }
                want[o * inner + i] = op == SEER_REDUCE_SUM    ? s
                                      : op == SEER_REDUCE_MEAN ? s / len
                                                               : m;
            }
        if (op == SEER_REDUCE_MAX)
            for (int64_t i = 0; i < outer * inner; i++)
                cr_assert_eq(got[i], (float)want[i]);
        else
            check_close(got, want, outer * inner, TOL, op ? "mean" : "sum");
    }
    free(x), free(got), free(want);
    seer_ctx_reset(c);
}

Test(reduce, first_middle_last_dims) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(41);
    for (int dim = -1; dim < 3; dim++)
        check_reduce(c, &rng, 3, (int64_t[]){4, 5, 6}, dim);
    check_reduce(c, &rng, 3, (int64_t[]){3, 197, 1}, 1);
    check_reduce(c, &rng, 1, (int64_t[]){1000}, 0); // to a 0-d tensor
    check_reduce(c, &rng, 3, (int64_t[]){2, 1000, 3}, 1);
    check_reduce(c, &rng, 3, (int64_t[]){2, 3, 130}, 1); // inner past one column block
    check_reduce(c, &rng, 4, (int64_t[]){2, 7, 9, 1}, 0);
    check_reduce(c, &rng, 2, (int64_t[]){64, 2048}, 1); // big enough to run in parallel
    check_reduce(c, &rng, 2, (int64_t[]){1, 1}, 0);
    seer_ctx_free(c);
}

Test(reduce, strided_input_and_errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(42);
    float *x = randn(&rng, 12, 1.0f), got[4];
    seer_tensor *xt = seer_from_host(c, x, SEER_F32, 2, (int64_t[]){3, 4});
    seer_tensor *t = seer_permute(c, xt, (int[]){1, 0}); // [4, 3]
    cr_assert_eq(seer_to_host(c, seer_reduce(c, t, 1, SEER_REDUCE_MAX), got), SEER_STATUS_OK);
    for (int j = 0; j < 4; j++)
        cr_assert_eq(got[j], fmaxf(x[j], fmaxf(x[4 + j], x[8 + j])));

    cr_assert_null(seer_reduce(c, xt, 2, SEER_REDUCE_SUM));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(c), "reduce: dim 2 out of range for a 2-d tensor"), "%s",
              seer_ctx_error(c));
    seer_ctx_reset(c);
    cr_assert_null(seer_reduce(c, NULL, 0, SEER_REDUCE_SUM));
    cr_assert(strstr(seer_ctx_error(c), "input 0 is NULL"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    seer_tensor d = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CUDA, 1, (int64_t[]){12});
    cr_assert_null(seer_reduce(c, &d, 0, SEER_REDUCE_MEAN));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_DEVICE);
    seer_ctx_reset(c);
    seer_tensor e = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 2, (int64_t[]){3, 0});
    cr_assert_null(seer_reduce(c, &e, 1, SEER_REDUCE_MAX));
    cr_assert(strstr(seer_ctx_error(c), "max over empty dim 1"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    cr_assert_null(seer_reduce(c, xt, 0, (seer_reduce_op)7));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_ARG);
    free(x);
    seer_ctx_free(c);
}

// seer_reduce_f32 on the CPU (F32 only there) is seer_reduce: the same values, bit for bit.
Test(reduce, f32_result_equals_reduce_on_f32) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(43);
    float *x = randn(&rng, 2 * 49 * 64 * 3, 1.0f), a[2 * 49 * 3], b[2 * 49 * 3];
    seer_tensor *xt = seer_from_host(c, x, SEER_F32, 4, (int64_t[]){2, 49, 64, 3});
    for (int op = 0; op <= SEER_REDUCE_MAX; op++) {
        seer_tensor *y = seer_reduce_f32(c, xt, 2, (seer_reduce_op)op);
        cr_assert_not_null(y, "%s", seer_ctx_error(c));
        cr_assert_eq(y->dtype, SEER_F32);
        cr_assert_eq(seer_to_host(c, y, a), SEER_STATUS_OK);
        cr_assert_eq(seer_to_host(c, seer_reduce(c, xt, 2, (seer_reduce_op)op), b), SEER_STATUS_OK);
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "op %d", op);
    }
    free(x);
    seer_ctx_free(c);
}
