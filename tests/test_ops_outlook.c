// seer_outlook_fold (VOLO's unfold-attend-fold in one op) against the composition it replaces:
// unfold the values, multiply each window by its attention, fold the windows back. On the CPU
// in F32, and on CUDA against the CPU (F32 and BF16; skipped without a GPU). Also the errors.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

typedef struct outlook_case {
    int64_t B, H, W, C;
    int heads;
    seer_unfold_params p;
} outlook_case;

static const outlook_case cases[] = {
    {2, 14, 14, 8, 2, {3, 3, 2, 2, 1, 1, 1, 1}}, // VOLO: 3x3 windows around 2x2 cells
    {1, 7, 9, 6, 3, {3, 3, 2, 2, 1, 1, 1, 1}},   // odd sizes: the last cell overhangs
    {2, 9, 9, 12, 4, {3, 3, 1, 1, 1, 1, 1, 1}},  // stride 1 (official VOLO's out_stride=1)
    {1, 10, 10, 4, 1, {5, 5, 2, 2, 2, 2, 1, 1}}, // 5x5 windows, one head
    {1, 8, 11, 6, 2, {3, 2, 1, 2, 2, 0, 2, 1}},  // uneven window, stride, pad and dilation
};

static seer_tensor *upload(seer_ctx *c, const float *x, seer_dtype dt, int ndim,
                           const int64_t *shape) {
    seer_tensor *t = seer_from_host(c, x, dt, ndim, shape);
    cr_assert(t, "upload: %s", seer_ctx_error(c));
    return t;
}

static float *download(seer_ctx *c, const seer_tensor *t) {
    cr_assert(t, "%s", seer_ctx_error(c));
    seer_tensor *f = seer_contiguous(c, seer_to(c, t, SEER_F32));
    cr_assert(f, "%s", seer_ctx_error(c));
    size_t n = (size_t)seer_tensor_numel(f);
    float *h = malloc(n * sizeof *h);
    cr_assert(h);
    cr_assert_eq(seer_memcpy(SEER_DEVICE_CPU, h, seer_ctx_device(c), f->data, n * sizeof *h),
                 SEER_STATUS_OK);
    return h;
}

static int64_t windows(int64_t in, int k, int s, int pad, int d) {
    return (in + 2 * pad - d * (k - 1) - 1) / s + 1;
}

// The composition volo.c ran before the fused op: [B, h, w, kk, C] windows in memory.
static seer_tensor *composed(seer_ctx *c, const seer_tensor *v, const seer_tensor *attn,
                             int heads, const seer_unfold_params *p) {
    const int64_t B = v->shape[0], C = v->shape[3], h = attn->shape[1], w = attn->shape[2];
    const int64_t kk = attn->shape[4];
    seer_tensor *val = seer_unfold(c, v, p);
    val = seer_reshape(c, val, 5, (int64_t[]){B, h * w, kk, heads, C / heads});
    val = seer_permute(c, val, (const int[]){0, 1, 3, 2, 4});
    seer_tensor *a = seer_reshape(c, attn, 5, (int64_t[]){B, h * w, heads, kk, kk});
    seer_tensor *out = seer_matmul(c, a, val, false, false, 1.0f, NULL);
    out = seer_permute_copy(c, out, (const int[]){0, 1, 3, 2, 4});
    out = seer_reshape(c, out, 5, (int64_t[]){B, h, w, kk, C});
    return seer_fold(c, out, (int)v->shape[1], (int)v->shape[2], p);
}

// Random values and weights of case k, rounded to dt (so both backends see the same numbers).
static void make_inputs(seer_rng *r, const outlook_case *k, seer_dtype dt, float **v, float **a,
                        int64_t vs[4], int64_t as[6]) {
    const seer_unfold_params *p = &k->p;
    int64_t kk = (int64_t)p->kernel_h * p->kernel_w;
    int64_t vshape[4] = {k->B, k->H, k->W, k->C};
    int64_t ashape[6] = {k->B, windows(k->H, p->kernel_h, p->stride_h, p->pad_h, p->dil_h),
                         windows(k->W, p->kernel_w, p->stride_w, p->pad_w, p->dil_w),
                         k->heads, kk, kk};
    memcpy(vs, vshape, sizeof vshape);
    memcpy(as, ashape, sizeof ashape);
    size_t nv = (size_t)(vs[0] * vs[1] * vs[2] * vs[3]);
    size_t na = (size_t)(as[0] * as[1] * as[2] * as[3] * as[4] * as[5]);
    *v = malloc(nv * sizeof(float));
    *a = malloc(na * sizeof(float));
    cr_assert(*v && *a);
    seer_rng_fill(r, *v, nv);
    seer_rng_fill(r, *a, na);
    for (size_t i = 0; dt == SEER_BF16 && i < nv; i++) (*v)[i] = seer_bf16_to_f32(seer_f32_to_bf16((*v)[i]));
    for (size_t i = 0; dt == SEER_BF16 && i < na; i++) (*a)[i] = seer_bf16_to_f32(seer_f32_to_bf16((*a)[i]));
}

Test(outlook, fused_equals_unfold_matmul_fold) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(7);
    for (size_t n = 0; n < sizeof cases / sizeof *cases; n++) {
        float *v, *a;
        int64_t vs[4], as[6];
        make_inputs(&rng, &cases[n], SEER_F32, &v, &a, vs, as);
        seer_tensor *tv = upload(c, v, SEER_F32, 4, vs), *ta = upload(c, a, SEER_F32, 6, as);
        seer_tensor *got = seer_outlook_fold(c, tv, ta, cases[n].heads, &cases[n].p);
        seer_tensor *want = composed(c, tv, ta, cases[n].heads, &cases[n].p);
        cr_assert(got && want, "case %zu: %s", n, seer_ctx_error(c));
        cr_assert_eq(got->ndim, 4);
        for (int d = 0; d < 4; d++) cr_assert_eq(got->shape[d], vs[d], "case %zu dim %d", n, d);
        size_t count = (size_t)seer_tensor_numel(got);
        double err = seer_rel_l2(got->data, want->data, count);
        cr_assert_leq(err, 1e-6, "case %zu: rel-L2 %g", n, err);
        free(v);
        free(a);
        seer_ctx_reset(c);
    }
    seer_ctx_free(c);
}

Test(outlook, errors_name_the_expected_shape) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    const seer_unfold_params p = {3, 3, 2, 2, 1, 1, 1, 1};
    seer_tensor *v = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 8, 8, 6}), 1.0);
    // 8x8 with 3x3 windows at stride 2, pad 1: 4x4 windows; attn made for 3x3 windows
    seer_tensor *bad = seer_fill(c, seer_new(c, SEER_F32, 6, (int64_t[]){1, 3, 3, 2, 9, 9}), 0.0);
    cr_assert_null(seer_outlook_fold(c, v, bad, 2, &p));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(c), "expected attn [1, 4, 4, 2, 9, 9]"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    v = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 8, 8, 6}), 1.0);
    seer_tensor *a = seer_fill(c, seer_new(c, SEER_F32, 6, (int64_t[]){1, 4, 4, 4, 9, 9}), 0.0);
    cr_assert_null(seer_outlook_fold(c, v, a, 4, &p)); // 6 channels, 4 heads
    cr_assert(strstr(seer_ctx_error(c), "do not split into 4 heads"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
}

Test(cuda_outlook, matches_cpu_f32_and_bf16) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_ctx *cpu = seer_ctx_new(SEER_DEVICE_CPU), *gpu = seer_ctx_new(SEER_DEVICE_CUDA);
    cr_assert(cpu && gpu, "%s", seer_last_error());
    seer_rng rng = seer_rng_new(8);
    for (size_t n = 0; n < sizeof cases / sizeof *cases; n++) {
        for (int t = 0; t < 2; t++) {
            seer_dtype dt = t ? SEER_BF16 : SEER_F32;
            float *v, *a;
            int64_t vs[4], as[6];
            make_inputs(&rng, &cases[n], dt, &v, &a, vs, as);
            seer_tensor *want = seer_outlook_fold(cpu, upload(cpu, v, SEER_F32, 4, vs),
                                                  upload(cpu, a, SEER_F32, 6, as), cases[n].heads,
                                                  &cases[n].p);
            seer_tensor *got = seer_outlook_fold(gpu, upload(gpu, v, dt, 4, vs),
                                                 upload(gpu, a, dt, 6, as), cases[n].heads,
                                                 &cases[n].p);
            float *g = download(gpu, got);
            cr_assert(want, "%s", seer_ctx_error(cpu));
            double err = seer_rel_l2(g, want->data, (size_t)seer_tensor_numel(want));
            cr_assert_leq(err, dt == SEER_F32 ? 1e-5 : 2e-2, "case %zu %s: rel-L2 %g", n,
                          seer_dtype_name(dt), err);
            free(g);
            free(v);
            free(a);
            seer_ctx_reset(cpu);
            seer_ctx_reset(gpu);
        }
    }
    seer_ctx_free(cpu);
    seer_ctx_free(gpu);
}
