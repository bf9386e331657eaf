// CUDA backend, part A: every kernel run through a CPU and a CUDA context on the same random
// inputs and compared (F32: rel-L2 <= 1e-5; F16/BF16 storage: <= 2e-2, inputs rounded to
// that dtype on the host first so both sides see the same values). Without a GPU every
// test skips.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

// ---- harness -------------------------------------------------------------------------------

typedef struct in_spec {
    int ndim;  // 0: absent, the op gets NULL
    int64_t shape[SEER_MAX_DIMS];
    bool param;         // 1-D parameter: F32 on both devices
    bool positive;      // |v| + 0.5 (variances, divisors, sqrt)
    const float *data;  // fixed values instead of random ones
} in_spec;

#define NARG_(a1, a2, a3, a4, a5, a6, n, ...) n
#define NARG(...) NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define IN(...) {.ndim = NARG(__VA_ARGS__), .shape = {__VA_ARGS__}}
#define POS(...) {.ndim = NARG(__VA_ARGS__), .shape = {__VA_ARGS__}, .positive = true}
#define PARAM(n) {.ndim = 1, .shape = {n}, .param = true}
#define PARAM_POS(n) {.ndim = 1, .shape = {n}, .param = true, .positive = true}
#define ABSENT {.ndim = 0}
#define NIN(specs) ((int)(sizeof(specs) / sizeof *(specs)))

typedef seer_tensor *(*op_fn)(seer_ctx *c, seer_tensor **in, const void *arg);

static const seer_dtype dtypes[3] = {SEER_F32, SEER_F16, SEER_BF16};
static const double tols[3] = {1e-5, 2e-2, 2e-2};

static float round_to(seer_dtype dt, float v) {
    if (dt == SEER_F16) return seer_f16_to_f32(seer_f32_to_f16(v));
    if (dt == SEER_BF16) return seer_bf16_to_f32(seer_f32_to_bf16(v));
    return v;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

// rel-L2 of got against ref over the finite entries of ref; an infinite or NaN ref entry
// must be matched exactly, and got may hold no other non-finite value (returns INFINITY,
// *bad = index).
static double compare(const float *got, const float *ref, int64_t n, int64_t *bad) {
    double num = 0, den = 0;
    *bad = -1;
    for (int64_t i = 0; i < n; i++) {
        float g = got[i], r = ref[i];
        if (!isfinite(r)) {
            if (!(g == r || (isnan(r) && isnan(g)))) return *bad = i, INFINITY;
            continue;
        }
        if (!isfinite(g)) return *bad = i, INFINITY;
        double d = (double)g - r;
        num += d * d;
        den += (double)r * r;
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void expect_match(const char *what, seer_dtype dt, double tol, seer_ctx *cc,
                         seer_tensor *yc, seer_ctx *gc, seer_tensor *yg) {
    char sc[128], sg[128];
    cr_assert_not_null(yc, "%s: cpu failed: %s", what, seer_ctx_error(cc));
    cr_assert_not_null(yg, "%s (%s): cuda failed: %s", what, seer_dtype_name(dt),
                       seer_ctx_error(gc));
    cr_assert(seer_tensor_same_shape(yc, yg), "%s: cpu gives %s, cuda %s", what,
              seer_tensor_shape_str(yc, sc, sizeof sc), seer_tensor_shape_str(yg, sg, sizeof sg));
    int64_t n = seer_tensor_numel(yc);
    float *hc = malloc((size_t)n * sizeof *hc + 4), *hg = malloc((size_t)n * sizeof *hg + 4);
    cr_assert(hc && hg);
    cr_assert_eq(seer_to_host(cc, yc, hc), SEER_STATUS_OK, "%s: %s", what, seer_ctx_error(cc));
    cr_assert_eq(seer_to_host(gc, yg, hg), SEER_STATUS_OK, "%s: %s", what, seer_ctx_error(gc));
    int64_t bad;
    double rel = compare(hg, hc, n, &bad);
    cr_expect(rel <= tol, "%s (%s) %s: rel-L2 %.3g > %.0e (entry %lld: cuda %g, cpu %g)", what,
              seer_dtype_name(dt), sc, rel, tol, (long long)(bad >= 0 ? bad : 0),
              (double)hg[bad >= 0 ? bad : 0], (double)hc[bad >= 0 ? bad : 0]);
    free(hc);
    free(hg);
}

// Runs fn on random inputs (ins) through both backends, in each of F32, F16 and BF16.
static void run_case(const char *what, op_fn fn, const void *arg, const in_spec *ins, int nin) {
    for (int di = 0; di < 3; di++) {
        seer_dtype dt = dtypes[di];
        seer_ctx *cc = seer_ctx_new(SEER_DEVICE_CPU), *gc = seer_ctx_new(SEER_DEVICE_CUDA);
        cr_assert(cc && gc, "%s: contexts: %s", what, seer_last_error());
        seer_tensor *tc[8] = {0}, *tg[8] = {0};
        seer_rng rng = seer_rng_new(hash_str(what));
        for (int i = 0; i < nin && i < 8; i++) {
            const in_spec *s = &ins[i];
            if (s->ndim == 0) continue;
            int64_t n = 1;
            for (int d = 0; d < s->ndim; d++) n *= s->shape[d];
            float *h = malloc((size_t)n * sizeof *h + 4);
            cr_assert_not_null(h);
            for (int64_t j = 0; j < n; j++) {
                float v = s->data ? s->data[j] : seer_rng_normal(&rng);
                if (s->positive) v = fabsf(v) + 0.5f;
                h[j] = s->param ? v : round_to(dt, v);
            }
            tc[i] = seer_from_host(cc, h, SEER_F32, s->ndim, s->shape);
            tg[i] = seer_from_host(gc, h, s->param ? SEER_F32 : dt, s->ndim, s->shape);
            free(h);
            cr_assert(tc[i] && tg[i], "%s: upload of input %d: %s %s", what, i, seer_ctx_error(cc),
                      seer_ctx_error(gc));
        }
        seer_tensor *yc = fn(cc, tc, arg), *yg = fn(gc, tg, arg);
        expect_match(what, dt, tols[di], cc, yc, gc, yg);
        seer_ctx_free(cc);
        seer_ctx_free(gc);
    }
}

// ---- memory and copies ---------------------------------------------------------------------

Test(cuda_memory, transfers_and_oom) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    enum { N = 4096 };
    static uint8_t src[N], back[N], expect[N];
    for (int i = 0; i < N; i++) src[i] = (uint8_t)(i * 37 + 11);
    uint8_t *d = seer_device_malloc(SEER_DEVICE_CUDA, N);
    cr_assert_not_null(d, "%s", seer_last_error());
    cr_assert_eq(seer_memcpy(SEER_DEVICE_CUDA, d, SEER_DEVICE_CPU, src, N), SEER_STATUS_OK);
    // Overlapping device-to-device copy has memmove semantics.
    cr_assert_eq(seer_memcpy(SEER_DEVICE_CUDA, d + 100, SEER_DEVICE_CUDA, d, 3000), SEER_STATUS_OK,
                 "%s", seer_last_error());
    cr_assert_eq(seer_memcpy(SEER_DEVICE_CPU, back, SEER_DEVICE_CUDA, d, N), SEER_STATUS_OK);
    cr_assert_eq(seer_device_sync(SEER_DEVICE_CUDA), SEER_STATUS_OK);
    memcpy(expect, src, N);
    memmove(expect + 100, expect, 3000);
    cr_assert_arr_eq(back, expect, N);
    seer_device_free(SEER_DEVICE_CUDA, d);

    // An impossible allocation fails with a message and leaves the device usable.
    seer_clear_error();
    void *huge = seer_device_malloc(SEER_DEVICE_CUDA, (size_t)1 << 52);
    cr_assert_null(huge);
    cr_assert(strstr(seer_last_error(), "cudaMalloc"), "message: %s", seer_last_error());
    seer_ctx *gc = seer_ctx_new(SEER_DEVICE_CUDA);
    cr_assert_not_null(gc);
    float ones[5] = {1, 2, 3, 4, 5}, out[5];
    seer_tensor *t = seer_from_host(gc, ones, SEER_F32, 1, (int64_t[]){5});
    seer_tensor *r = seer_relu(gc, t);
    cr_assert_not_null(r, "%s", seer_ctx_error(gc));
    cr_assert_eq(seer_to_host(gc, r, out), SEER_STATUS_OK);
    cr_assert_arr_eq(out, ones, sizeof ones);
    seer_ctx_free(gc);
}

// Every dtype to every dtype on the device gives exactly the CPU's values.
Test(cuda_copy, dtype_conversions_exact) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    enum { N = 999 };
    float h[N];
    seer_rng rng = seer_rng_new(3);
    for (int i = 0; i < N; i++) h[i] = seer_rng_normal(&rng) * 90.0f;  // beyond u8 both ways
    const seer_dtype all[] = {SEER_F32, SEER_F16, SEER_BF16, SEER_I32, SEER_I64, SEER_U8};
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
            seer_ctx *cc = seer_ctx_new(SEER_DEVICE_CPU), *gc = seer_ctx_new(SEER_DEVICE_CUDA);
            seer_tensor *xc = seer_from_host(cc, h, SEER_F32, 2, (int64_t[]){27, 37});
            seer_tensor *xg = seer_from_host(gc, h, SEER_F32, 2, (int64_t[]){27, 37});
            seer_tensor *yc = seer_to(cc, seer_to(cc, xc, all[a]), all[b]);
            seer_tensor *yg = seer_to(gc, seer_to(gc, xg, all[a]), all[b]);
            char what[64];
            snprintf(what, sizeof what, "f32 -> %s -> %s", seer_dtype_name(all[a]),
                     seer_dtype_name(all[b]));
            expect_match(what, all[b], 0.0, cc, yc, gc, yg);
            seer_ctx_free(cc);
            seer_ctx_free(gc);
        }
}

static seer_tensor *op_permute_copy(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_permute_copy(c, in[0], (int[]){3, 1, 0, 2});
}

static seer_tensor *op_narrow_to_f32(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    seer_tensor *v = seer_narrow(c, seer_narrow(c, in[0], 2, 1, 3), 0, 1, 2);
    return seer_to(c, v, SEER_F32);  // strided source and a dtype change in one kernel
}

// x: [3, 1, 5] seen as [3, 4, 5] through a stride-0 dim, made contiguous.
static seer_tensor *op_broadcast_copy(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    seer_tensor v = *in[0];
    v.shape[1] = 4;
    v.stride[1] = 0;
    return seer_contiguous(c, &v);
}

Test(cuda_copy, strided) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    in_spec a[] = {IN(2, 3, 4, 5)}, b[] = {IN(3, 4, 7, 2)}, c[] = {IN(3, 1, 5)};
    run_case("permute_copy", op_permute_copy, NULL, a, NIN(a));
    run_case("narrow + to f32", op_narrow_to_f32, NULL, b, NIN(b));
    run_case("stride-0 copy", op_broadcast_copy, NULL, c, NIN(c));
}

Test(cuda_copy, fill_and_index_overflow) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    const seer_dtype all[] = {SEER_F32, SEER_F16, SEER_BF16, SEER_I32, SEER_I64, SEER_U8};
    const double values[] = {2.7, -3.5, 300.25};
    for (int a = 0; a < 6; a++)
        for (int v = 0; v < 3; v++) {
            seer_ctx *cc = seer_ctx_new(SEER_DEVICE_CPU), *gc = seer_ctx_new(SEER_DEVICE_CUDA);
            seer_tensor *yc = seer_fill(cc, seer_new(cc, all[a], 2, (int64_t[]){7, 13}), values[v]);
            seer_tensor *yg = seer_fill(gc, seer_new(gc, all[a], 2, (int64_t[]){7, 13}), values[v]);
            expect_match("fill", all[a], 0.0, cc, yc, gc, yg);
            seer_ctx_free(cc);
            seer_ctx_free(gc);
        }
    // i64 -> i32 must not wrap silently.
    seer_ctx *gc = seer_ctx_new(SEER_DEVICE_CUDA);
    float big[3] = {1.0f, 1099511627776.0f, -2.0f};  // 2^40
    seer_tensor *t = seer_from_host(gc, big, SEER_I64, 1, (int64_t[]){3});
    cr_assert_not_null(t, "%s", seer_ctx_error(gc));
    cr_assert_null(seer_to(gc, t, SEER_I32));
    cr_assert_eq(seer_ctx_status(gc), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(gc), "does not fit i32"), "%s", seer_ctx_error(gc));
    seer_ctx_free(gc);
}

// ---- matrix products -----------------------------------------------------------------------

typedef struct mm_arg {
    bool ta, tb;
    float alpha;
} mm_arg;

static seer_tensor *op_matmul(seer_ctx *c, seer_tensor **in, const void *arg) {
    const mm_arg *m = arg;
    return seer_matmul(c, in[0], in[1], m->ta, m->tb, m->alpha, in[2]);
}

static seer_tensor *op_linear(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_linear(c, in[0], in[1], in[2]);
}

// b: [B, N, K] passed as its transposed view [B, K, N] (not contiguous).
static seer_tensor *op_matmul_tview(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    seer_tensor *bt = seer_permute(c, in[1], (int[]){0, 2, 1});
    return seer_matmul(c, in[0], bt, false, false, 1.0f, NULL);
}

Test(cuda_matmul, shapes_transposes_broadcast) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    mm_arg plain = {false, false, 1.0f}, tt = {true, true, 0.5f}, ta = {true, false, -1.25f},
           tb = {false, true, 2.0f};
    in_spec c1[] = {IN(3, 17, 33), IN(3, 33, 9), ABSENT};
    in_spec c2[] = {IN(2, 33, 17), IN(2, 9, 33), PARAM(9)};
    in_spec c3[] = {IN(2, 3, 17, 33), IN(33, 9), PARAM(9)};  // shared 2-D weight
    in_spec c4[] = {IN(1, 17, 33), IN(4, 33, 9), ABSENT};     // Ba = 1
    in_spec c5[] = {IN(4, 1, 19), IN(4, 1, 7), PARAM(7)};     // K = 1 (trans_a)
    in_spec c6[] = {IN(4, 128, 256), IN(96, 256), PARAM(96)}; // tensor-core sizes
    in_spec c7[] = {IN(5, 1, 64), IN(64, 1), ABSENT};         // N = 1
    run_case("matmul plain", op_matmul, &plain, c1, NIN(c1));
    run_case("matmul trans_a trans_b bias", op_matmul, &tt, c2, NIN(c2));
    run_case("matmul 2-d weight", op_matmul, &plain, c3, NIN(c3));
    run_case("matmul Ba = 1", op_matmul, &plain, c4, NIN(c4));
    run_case("matmul K = 1", op_matmul, &ta, c5, NIN(c5));
    run_case("matmul large trans_b", op_matmul, &tb, c6, NIN(c6));
    run_case("matmul N = 1", op_matmul, &plain, c7, NIN(c7));
}

static seer_tensor *op_linear_add(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_linear_add(c, in[0], in[1], in[2], in[3]);
}

static seer_tensor *op_linear_gelu(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_linear_gelu(c, in[0], in[1], in[2]);
}

// seer_linear_gelu on CUDA (the GEMM, then bias and GELU in one pass unless SEER_CUDA_NEW=0)
// against the CPU's linear, then gelu: vector and scalar widths, with and without a bias.
Test(cuda_matmul, linear_gelu) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    in_spec a[] = {IN(2, 5, 31), IN(13, 31), PARAM(13)};          // 13 columns: scalar kernel
    in_spec b[] = {IN(4, 49, 64), IN(192, 64), ABSENT};           // no bias
    in_spec d[] = {IN(2, 56, 56, 64), IN(192, 64), PARAM(192)};   // BiFormer's stage-1 fc1
    in_spec e[] = {IN(3, 7, 7, 512), IN(1536, 512), PARAM(1536)}; // stage 4
    run_case("linear_gelu", op_linear_gelu, NULL, a, NIN(a));
    run_case("linear_gelu no bias", op_linear_gelu, NULL, b, NIN(b));
    run_case("linear_gelu biformer stage 1", op_linear_gelu, NULL, d, NIN(d));
    run_case("linear_gelu biformer stage 4", op_linear_gelu, NULL, e, NIN(e));
}

// seer_linear_add on CUDA (cuBLASLt's epilogue with C = residual, or the copy + beta = 1
// fallback) against the CPU's linear + add.
Test(cuda_matmul, linear_add) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    in_spec a[] = {IN(2, 5, 31), IN(13, 31), PARAM(13), IN(2, 5, 13)};
    in_spec b[] = {IN(4, 49, 64), IN(192, 64), ABSENT, IN(4, 49, 192)};     // no bias
    in_spec d[] = {IN(2, 197, 384), IN(384, 384), PARAM(384), IN(2, 197, 384)}; // DeiT-S proj
    // at least 2^20 outputs: cuBLASLt's epilogue (smaller ones take the plain path)
    in_spec e[] = {IN(8, 400, 64), IN(384, 64), PARAM(384), IN(8, 400, 384)};
    in_spec f[] = {IN(3, 1000, 40), IN(360, 40), ABSENT, IN(3, 1000, 360)};
    run_case("linear_add", op_linear_add, NULL, a, NIN(a));
    run_case("linear_add no bias", op_linear_add, NULL, b, NIN(b));
    run_case("linear_add tensor-core sizes", op_linear_add, NULL, d, NIN(d));
    run_case("linear_add cuBLASLt", op_linear_add, NULL, e, NIN(e));
    run_case("linear_add cuBLASLt no bias", op_linear_add, NULL, f, NIN(f));
}

Test(cuda_matmul, linear_and_views) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    in_spec l1[] = {IN(2, 5, 31), IN(13, 31), PARAM(13)};
    in_spec l2[] = {IN(31), IN(13, 31), ABSENT};
    in_spec v1[] = {IN(3, 6, 10), IN(3, 11, 10)};
    in_spec l3[] = {IN(4, 1024, 64), IN(256, 64), PARAM(256)}; // 2^20 outputs: cuBLASLt's bias
    in_spec l4[] = {IN(2, 2049, 72), IN(264, 72), PARAM(264)};  // odd rows
    run_case("linear", op_linear, NULL, l1, NIN(l1));
    run_case("linear, bias in cuBLASLt's epilogue", op_linear, NULL, l3, NIN(l3));
    run_case("linear, bias in cuBLASLt's epilogue, odd rows", op_linear, NULL, l4, NIN(l4));
    run_case("linear 1-d", op_linear, NULL, l2, NIN(l2));
    run_case("matmul transposed view", op_matmul_tview, NULL, v1, NIN(v1));
}

// ---- convolution ---------------------------------------------------------------------------

static seer_tensor *op_conv(seer_ctx *c, seer_tensor **in, const void *arg) {
    return seer_conv2d(c, in[0], in[1], in[2], arg);
}

Test(cuda_conv2d, general) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_conv2d_params p3 = {.pad_h = 1, .pad_w = 1};
    seer_conv2d_params s2 = {.stride_h = 2, .stride_w = 2};
    seer_conv2d_params g2 = {.pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2, .groups = 2};
    seer_conv2d_params stem = {.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3};
    seer_conv2d_params one = {0}, one_g = {.groups = 4};
    in_spec c1[] = {IN(2, 9, 9, 5), IN(7, 3, 3, 5), PARAM(7)};
    in_spec c2[] = {IN(1, 11, 13, 6), IN(10, 4, 3, 6), ABSENT};
    in_spec c3[] = {IN(2, 10, 9, 8), IN(6, 3, 3, 4), PARAM(6)};
    in_spec c4[] = {IN(2, 32, 30, 3), IN(16, 7, 7, 3), PARAM(16)};
    in_spec c5[] = {IN(2, 7, 5, 32), IN(24, 1, 1, 32), PARAM(24)};
    in_spec c6[] = {IN(3, 5, 6, 16), IN(12, 1, 1, 4), ABSENT};
    in_spec c7[] = {IN(2, 16, 16, 32), IN(64, 3, 3, 32), PARAM(64)};
    run_case("conv 3x3 pad 1", op_conv, &p3, c1, NIN(c1));
    run_case("conv 4x3 stride 2 odd", op_conv, &s2, c2, NIN(c2));
    run_case("conv groups 2 dilation 2", op_conv, &g2, c3, NIN(c3));
    run_case("conv 7x7 stem", op_conv, &stem, c4, NIN(c4));
    run_case("conv 1x1", op_conv, &one, c5, NIN(c5));
    run_case("conv 1x1 groups 4", op_conv, &one_g, c6, NIN(c6));
    run_case("conv 3x3 32 -> 64", op_conv, &p3, c7, NIN(c7));
}

typedef struct fused_arg {
    seer_conv2d_params p;
    bool relu;
} fused_arg;

// in: x, w, bias (or absent), residual (or absent)
static seer_tensor *op_conv_fused(seer_ctx *c, seer_tensor **in, const void *arg) {
    const fused_arg *f = arg;
    return seer_conv2d_fused(c, in[0], in[1], in[2], &f->p, in[3], f->relu);
}

// seer_conv2d_fused on CUDA: the depthwise kernels' epilogue (residual, ReLU) and the other
// paths' add and ReLU after the convolution, against the CPU.
Test(cuda_conv2d, fused_residual_relu) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    fused_arg lepe = {{.pad_h = 2, .pad_w = 2, .groups = 12}, false};   // BiFormer's LePE
    fused_arg pos = {{.pad_h = 1, .pad_w = 1, .groups = 40}, true};     // strip kernel, ReLU
    fused_arg dil = {{.pad_h = 9, .pad_w = 9, .dil_h = 3, .dil_w = 3, .groups = 5}, true};
    fused_arg gen = {{.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 3}, true};
    fused_arg full = {{.pad_h = 1, .pad_w = 1}, true};                  // cuDNN / im2col path
    in_spec a[] = {IN(2, 21, 19, 12), IN(12, 5, 5, 1), PARAM(12), IN(2, 21, 19, 12)};
    in_spec b[] = {IN(2, 7, 9, 40), IN(40, 3, 3, 1), ABSENT, IN(2, 7, 9, 40)};
    in_spec d[] = {IN(1, 20, 17, 5), IN(5, 7, 7, 1), PARAM(5), ABSENT};
    in_spec e[] = {IN(2, 9, 8, 3), IN(3, 3, 3, 1), PARAM(3), IN(2, 5, 4, 3)}; // generic kernel
    in_spec f[] = {IN(2, 6, 7, 16), IN(24, 3, 3, 16), PARAM(24), IN(2, 6, 7, 24)};
    run_case("fused depthwise 5x5 + residual", op_conv_fused, &lepe, a, NIN(a));
    run_case("fused depthwise 3x3 + residual, relu", op_conv_fused, &pos, b, NIN(b));
    run_case("fused depthwise 7x7 dilation 3, relu", op_conv_fused, &dil, d, NIN(d));
    run_case("fused depthwise 3x3 stride 2 + residual, relu", op_conv_fused, &gen, e, NIN(e));
    run_case("fused dense 3x3 + residual, relu", op_conv_fused, &full, f, NIN(f));
    // Even channel counts (the channel-pair kernel unless SEER_DW_PAIR=0).
    fused_arg lepe_e = {{.pad_h = 2, .pad_w = 2, .groups = 32}, false};
    fused_arg pos_e = {{.pad_h = 1, .pad_w = 1, .groups = 64}, true};
    in_spec g[] = {IN(2, 16, 18, 32), IN(32, 5, 5, 1), PARAM(32), IN(2, 16, 18, 32)};
    in_spec h[] = {IN(2, 7, 7, 64), IN(64, 3, 3, 1), ABSENT, IN(2, 7, 7, 64)};
    run_case("fused depthwise 5x5 + residual, 32 channels", op_conv_fused, &lepe_e, g, NIN(g));
    run_case("fused depthwise 3x3 + residual, relu, 64 channels", op_conv_fused, &pos_e, h, NIN(h));
    // Whole 16-byte channel vectors: the vector kernel unless SEER_CUDA_NEW=0 (depthwise_vec.cu),
    // one and several channel groups per block (24 -> 3 vectors of BF16, 320 -> 40 in groups of
    // 8, 512 -> 64 in groups of 16), strips with tails, wide F32 maps taking strips of 8.
    fused_arg v7 = {{.pad_h = 9, .pad_w = 9, .dil_h = 3, .dil_w = 3, .groups = 24}, true};
    fused_arg v3 = {{.pad_h = 1, .pad_w = 1, .groups = 320}, false};
    fused_arg v5 = {{.pad_h = 2, .pad_w = 2, .groups = 512}, false};
    fused_arg v3w = {{.pad_h = 1, .pad_w = 1, .groups = 16}, true};
    in_spec i7[] = {IN(2, 18, 20, 24), IN(24, 7, 7, 1), PARAM(24), IN(2, 18, 20, 24)};
    in_spec i3[] = {IN(1, 7, 7, 320), IN(320, 3, 3, 1), PARAM(320), IN(1, 7, 7, 320)};
    in_spec i5[] = {IN(2, 9, 17, 512), IN(512, 5, 5, 1), PARAM(512), IN(2, 9, 17, 512)};
    in_spec i3w[] = {IN(2, 20, 19, 16), IN(16, 3, 3, 1), ABSENT, ABSENT};
    run_case("fused depthwise 7x7 dilation 3 + residual, relu, 24 channels", op_conv_fused, &v7, i7, NIN(i7));
    run_case("fused depthwise 3x3 + residual, 320 channels", op_conv_fused, &v3, i3, NIN(i3));
    run_case("fused depthwise 5x5 + residual, 512 channels", op_conv_fused, &v5, i5, NIN(i5));
    run_case("fused depthwise 3x3, relu, 16 channels, wide", op_conv_fused, &v3w, i3w, NIN(i3w));
}

Test(cuda_conv2d, depthwise) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    // VAN's large-kernel attention: 5x5 pad 2, then 7x7 dilation 3 pad 9.
    seer_conv2d_params d5 = {.pad_h = 2, .pad_w = 2, .groups = 12};
    seer_conv2d_params d7 = {.pad_h = 9, .pad_w = 9, .dil_h = 3, .dil_w = 3, .groups = 12};
    seer_conv2d_params s2 = {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 7};
    in_spec a[] = {IN(2, 21, 19, 12), IN(12, 5, 5, 1), PARAM(12)};
    in_spec b[] = {IN(2, 21, 19, 12), IN(12, 7, 7, 1), PARAM(12)};
    in_spec c[] = {IN(3, 9, 8, 7), IN(7, 3, 3, 1), ABSENT};
    run_case("depthwise 5x5", op_conv, &d5, a, NIN(a));
    run_case("depthwise 7x7 dilation 3", op_conv, &d7, b, NIN(b));
    run_case("depthwise 3x3 stride 2", op_conv, &s2, c, NIN(c));
    // The register-blocked stride-1 kernel: strips of 8 (width >= 16) with a tail, strips of 4
    // on narrow maps, no padding, channel counts off the warp size.
    seer_conv2d_params p1 = {.pad_h = 1, .pad_w = 1, .groups = 40};
    seer_conv2d_params v3 = {.groups = 5};
    seer_conv2d_params d7n = {.pad_h = 9, .pad_w = 9, .dil_h = 3, .dil_w = 3, .groups = 33};
    seer_conv2d_params d5n = {.pad_h = 2, .pad_w = 2, .groups = 33};
    in_spec d[] = {IN(2, 7, 7, 40), IN(40, 3, 3, 1), PARAM(40)};
    in_spec e[] = {IN(2, 9, 20, 5), IN(5, 3, 3, 1), ABSENT};
    in_spec f[] = {IN(1, 7, 7, 33), IN(33, 7, 7, 1), PARAM(33)};
    in_spec g[] = {IN(1, 6, 5, 33), IN(33, 5, 5, 1), ABSENT};
    run_case("depthwise 3x3 narrow", op_conv, &p1, d, NIN(d));
    run_case("depthwise 3x3 no padding", op_conv, &v3, e, NIN(e));
    run_case("depthwise 7x7 dilation 3 narrow", op_conv, &d7n, f, NIN(f));
    run_case("depthwise 5x5 narrow", op_conv, &d5n, g, NIN(g));
    // Even channel counts: the channel-pair kernel (the strip kernel with SEER_DW_PAIR=0),
    // wide and narrow maps, each kernel size.
    seer_conv2d_params p3e = {.pad_h = 1, .pad_w = 1, .groups = 64};
    seer_conv2d_params d5e = {.pad_h = 2, .pad_w = 2, .groups = 34};
    seer_conv2d_params d7e = {.pad_h = 9, .pad_w = 9, .dil_h = 3, .dil_w = 3, .groups = 18};
    in_spec h[] = {IN(2, 18, 20, 64), IN(64, 3, 3, 1), PARAM(64)};
    in_spec i[] = {IN(1, 7, 7, 34), IN(34, 5, 5, 1), ABSENT};
    in_spec j[] = {IN(2, 17, 23, 18), IN(18, 7, 7, 1), PARAM(18)};
    in_spec k[] = {IN(1, 7, 7, 18), IN(18, 7, 7, 1), ABSENT};
    run_case("depthwise 3x3, 64 channels", op_conv, &p3e, h, NIN(h));
    run_case("depthwise 5x5 narrow, 34 channels", op_conv, &d5e, i, NIN(i));
    run_case("depthwise 7x7 dilation 3, 18 channels", op_conv, &d7e, j, NIN(j));
    run_case("depthwise 7x7 dilation 3 narrow, 18 channels", op_conv, &d7e, k, NIN(k));
}

// ---- pooling -------------------------------------------------------------------------------

static seer_tensor *op_pool(seer_ctx *c, seer_tensor **in, const void *arg) {
    return seer_pool2d(c, in[0], arg);
}

static seer_tensor *op_adaptive(seer_ctx *c, seer_tensor **in, const void *arg) {
    const int *hw = arg;
    return seer_adaptive_avg_pool2d(c, in[0], hw[0], hw[1]);
}

Test(cuda_pool2d, windows_and_ceil_mode) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_pool2d_params mx = {SEER_POOL_MAX, 3, 3, 2, 2, 1, 1, false, true};
    seer_pool2d_params mx_ceil = {SEER_POOL_MAX, 3, 3, 2, 2, 0, 0, true, true};
    seer_pool2d_params avg_ceil = {SEER_POOL_AVG, 3, 3, 2, 2, 1, 1, true, true};
    seer_pool2d_params avg_excl = {SEER_POOL_AVG, 2, 2, 2, 2, 1, 1, true, false};
    seer_pool2d_params avg_rect = {SEER_POOL_AVG, 3, 2, 1, 2, 1, 1, false, false};
    in_spec a[] = {IN(2, 11, 11, 5)}, b[] = {IN(2, 10, 10, 3)}, c[] = {IN(3, 9, 12, 4)},
            d[] = {IN(1, 7, 6, 9)};
    run_case("max 3x3 s2 p1", op_pool, &mx, a, NIN(a));
    run_case("max 3x3 s2 ceil", op_pool, &mx_ceil, b, NIN(b));
    run_case("avg 3x3 s2 p1 ceil", op_pool, &avg_ceil, c, NIN(c));
    run_case("avg 2x2 p1 ceil exclude pad", op_pool, &avg_excl, c, NIN(c));
    run_case("avg 3x2 stride 1x2 exclude pad", op_pool, &avg_rect, d, NIN(d));
}

Test(cuda_pool2d, adaptive_avg) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    int s75[2] = {7, 5}, s11[2] = {1, 1}, s77[2] = {7, 7};
    in_spec a[] = {IN(2, 13, 11, 6)}, b[] = {IN(3, 7, 7, 10)}, c[] = {IN(1, 5, 5, 3)};
    run_case("adaptive 13x11 -> 7x5", op_adaptive, s75, a, NIN(a));
    run_case("adaptive global", op_adaptive, s11, b, NIN(b));
    run_case("adaptive 5x5 -> 7x7", op_adaptive, s77, c, NIN(c));
}

// ---- normalization -------------------------------------------------------------------------

static seer_tensor *op_layer_norm(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_layer_norm(c, in[0], in[1], in[2], 1e-5f);
}
static seer_tensor *op_rms_norm(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_rms_norm(c, in[0], in[1], 1e-6f);
}
static seer_tensor *op_group_norm(seer_ctx *c, seer_tensor **in, const void *arg) {
    return seer_group_norm(c, in[0], *(const int *)arg, in[1], in[2], 1e-5f);
}
static seer_tensor *op_batch_norm(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_batch_norm(c, in[0], in[1], in[2], in[3], in[4], 1e-5f);
}

Test(cuda_norm, layer_and_rms) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    in_spec a[] = {IN(3, 7, 37), PARAM(37), PARAM(37)}, b[] = {IN(5, 64), ABSENT, ABSENT};
    in_spec c[] = {IN(2, 3, 1500), PARAM(1500), PARAM(1500)}, d[] = {IN(1, 3)};
    in_spec r1[] = {IN(5, 65), PARAM(65)}, r2[] = {IN(2, 3, 4, 2000), ABSENT};
    run_case("layer_norm", op_layer_norm, NULL, a, NIN(a));
    run_case("layer_norm no affine", op_layer_norm, NULL, b, NIN(b));
    run_case("layer_norm wide rows", op_layer_norm, NULL, c, NIN(c));
    run_case("layer_norm C = 3", op_layer_norm, NULL, d, NIN(d));
    run_case("rms_norm", op_rms_norm, NULL, r1, NIN(r1));
    run_case("rms_norm wide rows", op_rms_norm, NULL, r2, NIN(r2));
    // Rows of whole 16-byte vectors: the vector kernel unless SEER_CUDA_NEW=0 (lanes per row and
    // vectors per lane: 64 -> 8 x 1 in BF16, 16 x 1 in F32; 320 -> 8 x 5, 16 x 5; 768 -> 32 x 3,
    // 32 x 6), rows not filling the last block.
    in_spec v1[] = {IN(3, 37, 64), PARAM(64), PARAM(64)}, v2[] = {IN(2, 7, 7, 320), PARAM(320), PARAM(320)};
    in_spec v3[] = {IN(11, 768), PARAM(768), ABSENT}, v4[] = {IN(9, 128), PARAM(128)};
    run_case("layer_norm 64 channels", op_layer_norm, NULL, v1, NIN(v1));
    run_case("layer_norm 320 channels", op_layer_norm, NULL, v2, NIN(v2));
    run_case("layer_norm 768 channels, no bias", op_layer_norm, NULL, v3, NIN(v3));
    run_case("rms_norm 128 channels", op_rms_norm, NULL, v4, NIN(v4));
}

Test(cuda_norm, group_and_batch) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    int g3 = 3, g32 = 32, g1 = 1;
    in_spec a[] = {IN(2, 5, 7, 12), PARAM(12), PARAM(12)}, b[] = {IN(1, 9, 32), ABSENT, ABSENT};
    in_spec c[] = {IN(3, 33, 35, 8), PARAM(8), ABSENT};
    in_spec bn[] = {IN(2, 5, 5, 19), PARAM(19), PARAM_POS(19), PARAM(19), PARAM(19)};
    in_spec bn0[] = {IN(7, 19), PARAM(19), PARAM_POS(19), ABSENT, ABSENT};
    run_case("group_norm 3 groups", op_group_norm, &g3, a, NIN(a));
    run_case("group_norm one channel per group", op_group_norm, &g32, b, NIN(b));
    run_case("group_norm 1 group large", op_group_norm, &g1, c, NIN(c));
    run_case("batch_norm", op_batch_norm, NULL, bn, NIN(bn));
    run_case("batch_norm no affine", op_batch_norm, NULL, bn0, NIN(bn0));
}

// ---- elementwise ---------------------------------------------------------------------------

static seer_tensor *op_unary(seer_ctx *c, seer_tensor **in, const void *arg) {
    return seer_unary(c, in[0], *(const seer_unary_op *)arg, 1.5f, -0.25f);
}
static seer_tensor *op_unary_view(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_gelu(c, seer_permute(c, in[0], (int[]){2, 0, 1}));
}
static seer_tensor *op_binary(seer_ctx *c, seer_tensor **in, const void *arg) {
    return seer_binary(c, in[0], in[1], *(const seer_binary_op *)arg);
}
static seer_tensor *op_binary_view(seer_ctx *c, seer_tensor **in, const void *arg) {
    (void)arg;
    return seer_mul(c, seer_permute(c, in[0], (int[]){1, 0, 2}), in[1]);
}

Test(cuda_unary, every_op) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    static const char *names[SEER_UNARY_COUNT] = {"relu", "gelu", "gelu_tanh", "silu", "sigmoid",
                                                  "tanh", "exp", "sqrt", "abs", "affine"};
    in_spec any[] = {IN(3, 5, 77)}, pos[] = {POS(3, 5, 77)}, odd[] = {IN(1001)};
    for (int op = 0; op < SEER_UNARY_COUNT; op++) {
        seer_unary_op u = (seer_unary_op)op;
        run_case(names[op], op_unary, &u, op == SEER_UNARY_SQRT ? pos : any, 1);
    }
    seer_unary_op gelu = SEER_UNARY_GELU;
    run_case("gelu odd length", op_unary, &gelu, odd, NIN(odd));
    run_case("gelu of a permuted view", op_unary_view, NULL, any, NIN(any));
}

Test(cuda_binary, broadcast_every_op) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    static const char *names[SEER_BINARY_COUNT] = {"add", "sub", "mul", "div", "max", "min"};
    in_spec same[] = {IN(4, 33), POS(4, 33)}, row[] = {IN(2, 1, 5, 7), POS(3, 1, 7)};
    for (int op = 0; op < SEER_BINARY_COUNT; op++) {
        seer_binary_op b = (seer_binary_op)op;
        char what[64];
        snprintf(what, sizeof what, "%s same shape", names[op]);
        run_case(what, op_binary, &b, same, NIN(same));
        snprintf(what, sizeof what, "%s [2,1,5,7] x [3,1,7]", names[op]);
        run_case(what, op_binary, &b, row, NIN(row));
    }
    seer_binary_op add = SEER_BINARY_ADD, mul = SEER_BINARY_MUL;
    in_spec colrow[] = {IN(5, 1), IN(1, 4)}, vec[] = {IN(4, 6), IN(6)};
    in_spec scalar[] = {IN(3, 7), IN(1)};
    in_spec six[] = {IN(2, 1, 3, 1, 2, 5), IN(1, 4, 1, 3, 1, 5)};
    in_spec view[] = {IN(6, 4, 5), IN(4, 6, 5)};
    run_case("add [5,1] x [1,4]", op_binary, &add, colrow, NIN(colrow));
    run_case("mul [4,6] x [6]", op_binary, &mul, vec, NIN(vec));
    run_case("add [3,7] x [1]", op_binary, &add, scalar, NIN(scalar));
    run_case("mul 6-d broadcast", op_binary, &mul, six, NIN(six));
    run_case("mul permuted view", op_binary_view, NULL, view, NIN(view));
}

// ---- softmax and reductions ----------------------------------------------------------------

static seer_tensor *op_softmax(seer_ctx *c, seer_tensor **in, const void *arg) {
    return seer_softmax(c, in[0], *(const float *)arg, in[1]);
}
static seer_tensor *op_log_softmax(seer_ctx *c, seer_tensor **in, const void *arg) {
    return seer_log_softmax(c, in[0], *(const float *)arg);
}

typedef struct reduce_arg {
    int dim;
    seer_reduce_op op;
} reduce_arg;

static seer_tensor *op_reduce(seer_ctx *c, seer_tensor **in, const void *arg) {
    const reduce_arg *r = arg;
    return seer_reduce(c, in[0], r->dim, r->op);
}

// [H, Lq, Lk] bias: random, with some -inf entries and row (h = 1, q = 2) fully masked.
static float *masked_bias(int64_t h, int64_t lq, int64_t lk, uint64_t seed) {
    float *m = malloc((size_t)(h * lq * lk) * sizeof *m);
    seer_rng rng = seer_rng_new(seed);
    for (int64_t i = 0; i < h * lq * lk; i++)
        m[i] = seer_rng_uniform(&rng) < 0.3f ? -INFINITY : seer_rng_normal(&rng);
    for (int64_t j = 0; j < lk; j++) m[(1 * lq + 2) * lk + j] = -INFINITY;
    return m;
}

Test(cuda_softmax, bias_and_masks) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    float scale = 0.125f, one = 1.0f;
    float *m1 = masked_bias(3, 5, 17, 1), *m2 = masked_bias(2, 3, 1500, 2);
    in_spec plain[] = {IN(2, 3, 5, 17), ABSENT};
    in_spec masked[] = {IN(2, 3, 5, 17), {.ndim = 3, .shape = {3, 5, 17}, .data = m1}};
    in_spec col[] = {IN(2, 3, 5, 17), IN(3, 1, 17)};
    in_spec wide[] = {IN(2, 2, 3, 1500), {.ndim = 3, .shape = {2, 3, 1500}, .data = m2}};
    in_spec odd[] = {IN(7, 1), ABSENT};
    run_case("softmax", op_softmax, &scale, plain, NIN(plain));
    run_case("softmax masked bias", op_softmax, &scale, masked, NIN(masked));
    run_case("softmax bias [3,1,17]", op_softmax, &one, col, NIN(col));
    run_case("softmax wide masked rows", op_softmax, &scale, wide, NIN(wide));
    run_case("softmax length 1", op_softmax, &one, odd, NIN(odd));
    free(m1);
    free(m2);
}

Test(cuda_softmax, log_softmax) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    float scale = 0.7f;
    float masked[3 * 9];
    seer_rng rng = seer_rng_new(5);
    for (int i = 0; i < 27; i++) masked[i] = i / 9 == 1 ? -INFINITY : seer_rng_normal(&rng);
    in_spec a[] = {IN(4, 33)}, b[] = {IN(3, 2000)};
    in_spec c[] = {{.ndim = 2, .shape = {3, 9}, .data = masked}};
    run_case("log_softmax", op_log_softmax, &scale, a, NIN(a));
    run_case("log_softmax wide", op_log_softmax, &scale, b, NIN(b));
    run_case("log_softmax masked row", op_log_softmax, &scale, c, NIN(c));
}

// seer_reduce_f32 of BF16/F16 x: F32 results equal to seer_reduce of x converted to F32 (both
// sum the same values in double), over a middle dim (BiFormer's region means) and the last.
Test(cuda_reduce, f32_result_of_half_inputs) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_ctx *g = seer_ctx_new(SEER_DEVICE_CUDA);
    seer_rng rng = seer_rng_new(44);
    const int64_t shape[5] = {2, 3, 49, 64, 32}, n = 2 * 3 * 49 * 64 * 32;
    float *h = malloc(sizeof(float) * (size_t)n), *a = malloc(sizeof(float) * (size_t)n),
          *b = malloc(sizeof(float) * (size_t)n);
    cr_assert(h && a && b);
    for (int64_t i = 0; i < n; i++) h[i] = seer_rng_normal(&rng);
    const seer_dtype dts[2] = {SEER_BF16, SEER_F16};
    for (int di = 0; di < 2; di++)
        for (int dim = 3; dim <= 4; dim++)
            for (int op = 0; op <= SEER_REDUCE_MAX; op++) {
                seer_tensor *x = seer_from_host(g, h, dts[di], 5, shape);
                seer_tensor *y = seer_reduce_f32(g, x, dim, (seer_reduce_op)op);
                seer_tensor *z = seer_reduce(g, seer_to(g, x, SEER_F32), dim, (seer_reduce_op)op);
                cr_assert(y && z, "%s", seer_ctx_error(g));
                cr_assert_eq(y->dtype, SEER_F32);
                int64_t m = seer_tensor_numel(y);
                cr_assert_eq(seer_to_host(g, y, a), SEER_STATUS_OK);
                cr_assert_eq(seer_to_host(g, z, b), SEER_STATUS_OK);
                cr_assert_eq(memcmp(a, b, sizeof(float) * (size_t)m), 0, "%s dim %d op %d",
                             seer_dtype_name(dts[di]), dim, op);
                seer_ctx_reset(g);
            }
    free(h), free(a), free(b);
    seer_ctx_free(g);
}

Test(cuda_reduce, every_dim_and_op) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    static const char *names[] = {"sum", "mean", "max"};
    in_spec x[] = {IN(3, 4, 5, 6)}, rows[] = {IN(7, 3000)}, cols[] = {IN(3000, 7)};
    for (int op = 0; op <= SEER_REDUCE_MAX; op++) {
        for (int dim = -1; dim < 4; dim++) {
            reduce_arg r = {dim, (seer_reduce_op)op};
            char what[64];
            snprintf(what, sizeof what, "%s over dim %d", names[op], dim);
            run_case(what, op_reduce, &r, x, NIN(x));
        }
        reduce_arg last = {1, (seer_reduce_op)op}, first = {0, (seer_reduce_op)op};
        run_case(names[op], op_reduce, &last, rows, NIN(rows));
        run_case(names[op], op_reduce, &first, cols, NIN(cols));
    }
}

// ---- error paths on a CUDA context ---------------------------------------------------------

Test(cuda_errors, device_null_shape) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_ctx *cc = seer_ctx_new(SEER_DEVICE_CPU), *gc = seer_ctx_new(SEER_DEVICE_CUDA);
    float h[30] = {1, 2, 3};
    seer_tensor *ac = seer_from_host(cc, h, SEER_F32, 2, (int64_t[]){3, 4});
    seer_tensor *ag = seer_from_host(gc, h, SEER_F32, 2, (int64_t[]){3, 4});
    seer_tensor *bg = seer_from_host(gc, h, SEER_F32, 2, (int64_t[]){5, 6});
    cr_assert(ac && ag && bg);

    // A CPU tensor given to a CUDA context.
    cr_assert_null(seer_matmul(gc, ac, ag, false, true, 1.0f, NULL));
    cr_assert_eq(seer_ctx_status(gc), SEER_STATUS_DEVICE);
    cr_assert(strstr(seer_ctx_error(gc), "cpu") && strstr(seer_ctx_error(gc), "cuda"), "%s",
              seer_ctx_error(gc));
    seer_ctx_reset(gc);
    ag = seer_from_host(gc, h, SEER_F32, 2, (int64_t[]){3, 4});
    bg = seer_from_host(gc, h, SEER_F32, 2, (int64_t[]){5, 6});

    // NULL input.
    cr_assert_null(seer_layer_norm(gc, NULL, NULL, NULL, 1e-5f));
    cr_assert_eq(seer_ctx_status(gc), SEER_STATUS_ARG);
    cr_assert(strstr(seer_ctx_error(gc), "layer_norm") && strstr(seer_ctx_error(gc), "NULL"), "%s",
              seer_ctx_error(gc));
    seer_ctx_reset(gc);
    ag = seer_from_host(gc, h, SEER_F32, 2, (int64_t[]){3, 4});
    bg = seer_from_host(gc, h, SEER_F32, 2, (int64_t[]){5, 6});

    // Inner dims that differ: the message names both shapes.
    cr_assert_null(seer_matmul(gc, ag, bg, false, false, 1.0f, NULL));
    cr_assert_eq(seer_ctx_status(gc), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(gc), "[3, 4]") && strstr(seer_ctx_error(gc), "[5, 6]"), "%s",
              seer_ctx_error(gc));
    // Sticky: later ops return NULL until reset.
    cr_assert_null(seer_relu(gc, ag));
    seer_ctx_reset(gc);

    // Conv weight that does not fit the input channels.
    seer_tensor *x = seer_from_host(gc, h, SEER_F32, 4, (int64_t[]){1, 2, 3, 4});
    seer_tensor *w = seer_from_host(gc, h, SEER_F32, 4, (int64_t[]){2, 1, 1, 3});
    cr_assert_null(seer_conv2d(gc, x, w, NULL, NULL));
    cr_assert_eq(seer_ctx_status(gc), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(gc), "conv2d") && strstr(seer_ctx_error(gc), "[2, 1, 1, 3]"),
              "%s", seer_ctx_error(gc));
    seer_ctx_reset(gc);

    // After a reset the context works again.
    ag = seer_from_host(gc, h, SEER_F32, 2, (int64_t[]){3, 4});
    cr_assert_not_null(seer_relu(gc, ag), "%s", seer_ctx_error(gc));
    seer_ctx_free(cc);
    seer_ctx_free(gc);
}
