// NHWC spatial ops on the CPU: resize against a naive formula and against PyTorch outputs
// (tests/golden/resize.bin, made by tools/golden/make_resize_fixture.py), unfold/fold against
// naive loops and each other, pad2d.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/op_test_util.h"

// ---- resize --------------------------------------------------------------------------------

// Source coordinate of output index o, in float as PyTorch computes it for float tensors.
static float ref_source(int64_t o, int64_t in, int64_t out, int mode, bool ac) {
    if (mode == SEER_RESIZE_NEAREST) return (float)o * ((float)in / (float)out);
    if (ac) return out > 1 ? (float)o * ((float)(in - 1) / (float)(out - 1)) : 0.0f;
    float s = ((float)o + 0.5f) * ((float)in / (float)out) - 0.5f;
    return (mode == SEER_RESIZE_BILINEAR && s < 0) ? 0.0f : s;
}

// Keys' cubic convolution weight at distance d, a = -0.75.
static double ref_cubic(double d) {
    const double a = -0.75;
    d = fabs(d);
    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2) return a * d * d * d - 5 * a * d * d + 8 * a * d - 4 * a;
    return 0;
}

static int64_t ref_clamp(int64_t v, int64_t n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

// y[b, oy, ox, ch] straight from the definition of each mode.
static void ref_resize(float *y, const float *x, int64_t B, int64_t H, int64_t W, int64_t C,
                       int64_t oh, int64_t ow, int mode, bool ac) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++)
                for (int64_t ch = 0; ch < C; ch++) {
                    float sy = ref_source(oy, H, oh, mode, ac);
                    float sx = ref_source(ox, W, ow, mode, ac);
#define X(i, j) (double)x[((b * H + (i)) * W + (j)) * C + ch]
                    double v = 0;
                    if (mode == SEER_RESIZE_NEAREST) {
                        int64_t iy = (int64_t)floorf(sy), ix = (int64_t)floorf(sx);
                        v = X(iy < H ? iy : H - 1, ix < W ? ix : W - 1);
                    } else if (mode == SEER_RESIZE_BILINEAR) {
                        int64_t y0 = (int64_t)floorf(sy), x0 = (int64_t)floorf(sx);
                        double ly = sy - y0, lx = sx - x0;
                        int64_t y1 = ref_clamp(y0 + 1, H), x1 = ref_clamp(x0 + 1, W);
                        v = (1 - ly) * ((1 - lx) * X(y0, x0) + lx * X(y0, x1)) +
                            ly * ((1 - lx) * X(y1, x0) + lx * X(y1, x1));
                    } else {
                        double fy = floor(sy), fx = floor(sx);
                        for (int m = -1; m <= 2; m++)
                            for (int n = -1; n <= 2; n++)
                                v += ref_cubic(sy - (fy + m)) * ref_cubic(sx - (fx + n)) *
                                     X(ref_clamp((int64_t)fy + m, H),
                                       ref_clamp((int64_t)fx + n, W));
                    }
#undef X
                    y[((b * oh + oy) * ow + ox) * C + ch] = (float)v;
                }
}

static const char *mode_name(int mode) {
    return mode == 0 ? "nearest" : mode == 1 ? "bilinear" : "bicubic";
}

Test(resize, all_modes_vs_naive_formula) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(71);
    const int64_t sizes[][4] = {  // H, W -> oh, ow
        {5, 7, 11, 13}, {8, 6, 3, 4}, {1, 1, 4, 5}, {6, 9, 6, 9},
        {4, 4, 1, 1},   {3, 5, 7, 2}, {10, 3, 21, 3}, {7, 20, 20, 7},
    };
    const int64_t B = 2, C = 3;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t H = sizes[s][0], W = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3];
        float *x = random_floats(&rng, B * H * W * C);
        float *ref = malloc((size_t)(B * oh * ow * C) * sizeof *ref);
        seer_tensor *t = upload(c, x, 4, (int64_t[]){B, H, W, C});
        for (int mode = 0; mode < 3; mode++)
            for (int ac = 0; ac < 2; ac++) {
                seer_tensor *y = seer_resize(c, t, (int)oh, (int)ow, mode, ac);
                cr_assert_not_null(y, "%s", seer_ctx_error(c));
                cr_assert_eq(y->shape[1], oh);
                cr_assert_eq(y->shape[2], ow);
                ref_resize(ref, x, B, H, W, C, oh, ow, mode, ac && mode != 0);
                size_t n = (size_t)(B * oh * ow * C);
                double err = seer_rel_l2(y->data, ref, n);
                if (mode == SEER_RESIZE_NEAREST)
                    cr_assert_eq(memcmp(y->data, ref, n * sizeof *ref), 0,
                                 "nearest %lldx%lld -> %lldx%lld", (long long)H, (long long)W,
                                 (long long)oh, (long long)ow);
                cr_assert_leq(err, 1e-5, "%s ac=%d %lldx%lld -> %lldx%lld: rel-L2 %g",
                              mode_name(mode), ac, (long long)H, (long long)W, (long long)oh,
                              (long long)ow, err);
            }
        free(x);
        free(ref);
        seer_ctx_reset(c);
    }
    seer_ctx_free(c);
}

Test(resize, matches_torch_fixture) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/resize.bin", SEER_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "missing %s (run tools/golden/make_resize_fixture.py)", path);
    char magic[8];
    uint32_t count;
    cr_assert_eq(fread(magic, 1, 8, f), 8);
    cr_assert_eq(memcmp(magic, "SEERRSZ1", 8), 0, "bad magic in %s", path);
    cr_assert_eq(fread(&count, 4, 1, f), 1);
    cr_assert_geq(count, 1);
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    int modes_seen[3] = {0};
    for (uint32_t i = 0; i < count; i++) {
        int32_t h[8];  // mode, align_corners, B, H, W, C, out_h, out_w
        cr_assert_eq(fread(h, 4, 8, f), 8, "case %u header", i);
        size_t nin = (size_t)h[2] * h[3] * h[4] * h[5], nout = (size_t)h[2] * h[6] * h[7] * h[5];
        float *x = malloc(nin * sizeof *x), *ref = malloc(nout * sizeof *ref);
        cr_assert_eq(fread(x, 4, nin, f), nin, "case %u input", i);
        cr_assert_eq(fread(ref, 4, nout, f), nout, "case %u output", i);
        seer_tensor *t = upload(c, x, 4, (int64_t[]){h[2], h[3], h[4], h[5]});
        seer_tensor *y = seer_resize(c, t, h[6], h[7], (seer_resize_mode)h[0], h[1] != 0);
        cr_assert_not_null(y, "%s", seer_ctx_error(c));
        double err = seer_rel_l2(y->data, ref, nout);
        cr_assert_leq(err, h[0] == SEER_RESIZE_NEAREST ? 0.0 : 1e-5,
                      "case %u: %s align_corners=%d %dx%d -> %dx%d: rel-L2 %g vs torch", i,
                      mode_name(h[0]), h[1], h[3], h[4], h[6], h[7], err);
        modes_seen[h[0]]++;
        free(x);
        free(ref);
        seer_ctx_reset(c);
    }
    cr_assert(modes_seen[0] && modes_seen[1] && modes_seen[2]);
    fclose(f);
    seer_ctx_free(c);
}

Test(resize, errors_and_strided_input) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(72);
    float *x = random_floats(&rng, 2 * 4 * 6 * 3);
    // Inputs over host memory (not the arena), so they outlive the resets of expect_fail.
    seer_tensor host = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 4, (int64_t[]){2, 4, 6, 3});
    seer_tensor flat = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 3, (int64_t[]){2, 24, 3});
    seer_tensor *t = &host;
    cr_assert_null(seer_resize(c, t, 0, 3, SEER_RESIZE_BILINEAR, false));
    expect_fail(c, SEER_STATUS_ARG, "resize: output size 0x3");
    cr_assert_null(seer_resize(c, t, 3, 3, (seer_resize_mode)7, false));
    expect_fail(c, SEER_STATUS_ARG, "unknown mode 7");
    cr_assert_null(seer_resize(c, &flat, 3, 3, SEER_RESIZE_NEAREST, false));
    expect_fail(c, SEER_STATUS_SHAPE, "expected x [B, H, W, C], got [2, 24, 3] f32");
    cr_assert_null(seer_resize(c, NULL, 3, 3, SEER_RESIZE_NEAREST, false));
    expect_fail(c, SEER_STATUS_ARG, "resize: input 0 is NULL");
    seer_tensor gpu = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CUDA, 4, (int64_t[]){2, 4, 6, 3});
    cr_assert_null(seer_resize(c, &gpu, 3, 3, SEER_RESIZE_NEAREST, false));
    expect_fail(c, SEER_STATUS_DEVICE, "resize");
    // A W<->H transposed view resizes like its contiguous copy.
    seer_tensor *v = seer_permute(c, t, (int[]){0, 2, 1, 3});  // [2, 6, 4, 3]
    seer_tensor *vc = seer_contiguous(c, v);
    seer_tensor *a = seer_resize(c, v, 5, 9, SEER_RESIZE_BICUBIC, false);
    seer_tensor *b = seer_resize(c, vc, 5, 9, SEER_RESIZE_BICUBIC, false);
    cr_assert(a && b, "%s", seer_ctx_error(c));
    cr_assert_eq(memcmp(a->data, b->data, seer_tensor_nbytes(a)), 0);
    free(x);
    seer_ctx_free(c);
}

// ---- pad2d ---------------------------------------------------------------------------------

Test(pad, values_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(81);
    const int pads[][4] = {{1, 2, 3, 0}, {0, 0, 0, 0}, {0, 3, 1, 1}, {4, 4, 4, 4}};
    const int64_t B = 2, H = 5, W = 7, C = 3;
    float *x = random_floats(&rng, B * H * W * C);
    seer_tensor *t = upload(c, x, 4, (int64_t[]){B, H, W, C});
    for (int p = 0; p < 4; p++) {
        int top = pads[p][0], bottom = pads[p][1], left = pads[p][2], right = pads[p][3];
        float value = p == 3 ? -INFINITY : 0.25f * (float)p;
        seer_tensor *y = seer_pad2d(c, t, top, bottom, left, right, value);
        cr_assert_not_null(y, "%s", seer_ctx_error(c));
        int64_t Ho = H + top + bottom, Wo = W + left + right;
        cr_assert_eq(y->shape[1], Ho);
        cr_assert_eq(y->shape[2], Wo);
        const float *o = y->data;
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < Ho; i++)
                for (int64_t j = 0; j < Wo; j++)
                    for (int64_t ch = 0; ch < C; ch++) {
                        int64_t si = i - top, sj = j - left;
                        float expect = (si >= 0 && si < H && sj >= 0 && sj < W)
                                           ? x[((b * H + si) * W + sj) * C + ch]
                                           : value;
                        cr_assert_eq(o[((b * Ho + i) * Wo + j) * C + ch], expect);
                    }
    }
    // Errors, on inputs over host memory (not the arena) that outlive expect_fail's reset.
    seer_tensor host = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 4, (int64_t[]){B, H, W, C});
    seer_tensor flat = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 2, (int64_t[]){B * H, W * C});
    cr_assert_null(seer_pad2d(c, &host, 1, -1, 0, 0, 0));
    expect_fail(c, SEER_STATUS_ARG, "pad2d: padding must be >= 0");
    cr_assert_null(seer_pad2d(c, &flat, 1, 1, 1, 1, 0));
    expect_fail(c, SEER_STATUS_SHAPE, "pad2d: expected x [B, H, W, C], got [10, 21] f32");
    cr_assert_null(seer_pad2d(c, NULL, 1, 1, 1, 1, 0));
    expect_fail(c, SEER_STATUS_ARG, "pad2d: input 0 is NULL");
    seer_tensor gpu = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CUDA, 4, (int64_t[]){B, H, W, C});
    cr_assert_null(seer_pad2d(c, &gpu, 1, 1, 1, 1, 0));
    expect_fail(c, SEER_STATUS_DEVICE, "pad2d");
    free(x);
    seer_ctx_free(c);
}

// ---- unfold / fold -------------------------------------------------------------------------

typedef struct geom {
    int64_t B, H, W, C;
    seer_unfold_params p;  // normalized (no zeros) for the naive loops
} geom;

static int64_t out_size(int64_t in, int k, int s, int pad, int d) {
    return (in + 2 * pad - d * (k - 1) - 1) / s + 1;
}

Test(unfold, unfold_and_fold_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(91);
    const geom cases[] = {
        {2, 7, 7, 5, {3, 3, 1, 1, 1, 1, 1, 1}},   // VOLO outlooker, stride 1
        {2, 14, 14, 6, {3, 3, 2, 2, 1, 1, 1, 1}}, // VOLO outlooker, stride 2
        {1, 9, 11, 3, {2, 3, 2, 1, 0, 1, 1, 2}},  // uneven kernel, stride, pad and dilation
        {3, 5, 6, 1, {5, 6, 1, 1, 0, 0, 1, 1}},   // one window
        {1, 8, 5, 4, {1, 1, 3, 2, 0, 0, 1, 1}},   // 1x1 with stride: subsampling
    };
    for (size_t n = 0; n < sizeof cases / sizeof *cases; n++) {
        geom g = cases[n];
        const seer_unfold_params *p = &g.p;
        int64_t Ho = out_size(g.H, p->kernel_h, p->stride_h, p->pad_h, p->dil_h);
        int64_t Wo = out_size(g.W, p->kernel_w, p->stride_w, p->pad_w, p->dil_w);
        int64_t kk = (int64_t)p->kernel_h * p->kernel_w, C = g.C;
        int64_t nx = g.B * g.H * g.W * C, nu = g.B * Ho * Wo * kk * C;
        float *x = random_floats(&rng, nx), *u = random_floats(&rng, nu);
        float *ref_u = malloc((size_t)nu * sizeof(float));
        float *ref_f = calloc((size_t)nx, sizeof(float));
        seer_tensor *tx = upload(c, x, 4, (int64_t[]){g.B, g.H, g.W, C});
        seer_tensor *tu = upload(c, u, 5, (int64_t[]){g.B, Ho, Wo, kk, C});
        seer_tensor *yu = seer_unfold(c, tx, p);
        seer_tensor *yf = seer_fold(c, tu, (int)g.H, (int)g.W, p);
        cr_assert(yu && yf, "case %zu: %s", n, seer_ctx_error(c));
        cr_assert_eq(yu->shape[1], Ho);
        cr_assert_eq(yu->shape[2], Wo);
        cr_assert_eq(yu->shape[3], kk);
        for (int64_t b = 0; b < g.B; b++)
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++)
                    for (int i = 0; i < p->kernel_h; i++)
                        for (int j = 0; j < p->kernel_w; j++)
                            for (int64_t ch = 0; ch < C; ch++) {
                                int64_t iy = oy * p->stride_h - p->pad_h + i * p->dil_h;
                                int64_t ix = ox * p->stride_w - p->pad_w + j * p->dil_w;
                                int64_t ui =
                                    (((b * Ho + oy) * Wo + ox) * kk + i * p->kernel_w + j) * C + ch;
                                bool in = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
                                int64_t xi = ((b * g.H + iy) * g.W + ix) * C + ch;
                                ref_u[ui] = in ? x[xi] : 0.0f;
                                if (in) ref_f[xi] += u[ui];
                            }
        cr_assert_eq(memcmp(yu->data, ref_u, (size_t)nu * sizeof(float)), 0, "unfold case %zu", n);
        double err = seer_rel_l2(yf->data, ref_f, (size_t)nx);
        cr_assert_leq(err, 1e-6, "fold case %zu: rel-L2 %g", n, err);
        free(x);
        free(u);
        free(ref_u);
        free(ref_f);
        seer_ctx_reset(c);
    }
    seer_ctx_free(c);
}

// fold(unfold(x)) = x * (number of windows covering each pixel).
Test(unfold, fold_of_unfold_is_window_count) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(92);
    for (int stride = 1; stride <= 2; stride++) {
        const int64_t B = 2, H = 9, W = 8, C = 7;
        seer_unfold_params p = {.kernel_h = 3, .kernel_w = 3, .stride_h = stride,
                                .stride_w = stride, .pad_h = 1, .pad_w = 1};  // dil 0 -> 1
        float *x = random_floats(&rng, B * H * W * C);
        seer_tensor *t = upload(c, x, 4, (int64_t[]){B, H, W, C});
        seer_tensor *y = seer_fold(c, seer_unfold(c, t, &p), (int)H, (int)W, &p);
        cr_assert_not_null(y, "%s", seer_ctx_error(c));
        int64_t Ho = out_size(H, 3, stride, 1, 1), Wo = out_size(W, 3, stride, 1, 1);
        float *ref = malloc((size_t)(B * H * W * C) * sizeof *ref);
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                int count = 0;
                for (int64_t oy = 0; oy < Ho; oy++)
                    for (int64_t ox = 0; ox < Wo; ox++) {
                        int64_t dy = h - (oy * stride - 1), dx = w - (ox * stride - 1);
                        count += dy >= 0 && dy < 3 && dx >= 0 && dx < 3;
                    }
                for (int64_t b = 0; b < B; b++)
                    for (int64_t ch = 0; ch < C; ch++) {
                        int64_t i = ((b * H + h) * W + w) * C + ch;
                        ref[i] = x[i] * (float)count;
                    }
            }
        double err = seer_rel_l2(y->data, ref, (size_t)(B * H * W * C));
        cr_assert_leq(err, 1e-6, "stride %d: rel-L2 %g", stride, err);
        free(x);
        free(ref);
    }
    seer_ctx_free(c);
}

Test(unfold, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float x[2 * 4 * 4 * 3];
    seer_rng rng = seer_rng_new(93);
    seer_rng_fill(&rng, x, sizeof x / sizeof *x);
    // Inputs over host memory (not the arena), so they outlive the resets of expect_fail.
    seer_tensor host = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 4, (int64_t[]){2, 4, 4, 3});
    seer_tensor *t = &host;
    float ubuf[2 * 4 * 4 * 9 * 3];
    seer_tensor hu =
        seer_tensor_wrap(ubuf, SEER_F32, SEER_DEVICE_CPU, 5, (int64_t[]){2, 4, 4, 9, 3});
    seer_unfold_params big = {.kernel_h = 5, .kernel_w = 5};
    cr_assert_null(seer_unfold(c, t, &big));
    expect_fail(c, SEER_STATUS_SHAPE,
                "unfold: a 5x5 window (dilation 1x1, pad 0x0) does not fit x [2, 4, 4, 3] f32");
    seer_unfold_params zero = {0};
    cr_assert_null(seer_unfold(c, t, &zero));
    expect_fail(c, SEER_STATUS_ARG, "unfold: bad params kernel 0x0");
    cr_assert_null(seer_unfold(c, t, NULL));
    expect_fail(c, SEER_STATUS_ARG, "unfold: params are NULL");
    seer_unfold_params k3 = {.kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1};
    cr_assert_null(seer_fold(c, &hu, 5, 4, &k3));  // hu: [2, 4, 4, 9, 3] fits 4x4, not 5x4
    expect_fail(c, SEER_STATUS_SHAPE, "fold: expected x [B, 5, 4, 9, C] for a 5x4 output");
    cr_assert_null(seer_fold(c, t, 4, 4, &k3));
    expect_fail(c, SEER_STATUS_SHAPE, "got [2, 4, 4, 3] f32");
    cr_assert_null(seer_fold(c, NULL, 4, 4, &k3));
    expect_fail(c, SEER_STATUS_ARG, "fold: input 0 is NULL");
    seer_tensor gpu = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CUDA, 4, (int64_t[]){2, 4, 4, 3});
    cr_assert_null(seer_unfold(c, &gpu, &k3));
    expect_fail(c, SEER_STATUS_DEVICE, "unfold");
    seer_ctx_free(c);
}
