// seer_conv2d_fused (conv + bias [+ residual] [+ ReLU]) and the CPU's direct convolution
// (core/cpu/conv_direct.c) against a naive loop: shapes that take the AVX-512 tiles
// (C_out a multiple of 16), the AVX2 tiles (multiples of 8 only), and the general path
// (other C_out, groups, dilation), with odd sizes so that every tile width and tail runs.
#include <math.h>
#include <stdio.h>

#include "tests/op_test_util.h"

#define F32_TOL 1e-5

typedef struct fused_case {
    int64_t b, h, w, cin, cout, k;
    int stride, pad, dil, groups;
    bool bias, residual, relu;
    const char *name;
} fused_case;

// y[b, oy, ox, o] = relu?(bias[o] + sum_{ci, i, j} x[b, oy*s - p + i*d, ox*s - p + j*d, g*Cg + ci]
// * w[o, i, j, ci] + res[b, oy, ox, o]), in double; w is OHWI.
static void naive(float *y, const float *x, const float *w, const float *bias, const float *res,
                  const fused_case *t, int64_t ho, int64_t wo) {
    const int64_t cg = t->cin / t->groups, og = t->cout / t->groups;
    for (int64_t bi = 0; bi < t->b; bi++)
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++)
                for (int64_t o = 0; o < t->cout; o++) {
                    const int64_t g = o / og, yi = ((bi * ho + oy) * wo + ox) * t->cout + o;
                    double s = bias ? bias[o] : 0.0;
                    for (int64_t i = 0; i < t->k; i++)
                        for (int64_t j = 0; j < t->k; j++) {
                            int64_t iy = oy * t->stride - t->pad + i * t->dil;
                            int64_t ix = ox * t->stride - t->pad + j * t->dil;
                            if (iy < 0 || iy >= t->h || ix < 0 || ix >= t->w) continue;
                            for (int64_t ci = 0; ci < cg; ci++)
                                s += (double)x[((bi * t->h + iy) * t->w + ix) * t->cin + g * cg +
                                               ci] *
                                     w[((o * t->k + i) * t->k + j) * cg + ci];
                        }
                    if (res) s += res[yi];
                    y[yi] = (float)(t->relu && s < 0 ? 0 : s);
                }
}

static void expect_close(seer_ctx *c, const seer_tensor *y, const float *ref, const int64_t *shape,
                         const char *what) {
    cr_assert_not_null(y, "%s: %s", what, seer_ctx_error(c));
    int64_t n = 1;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(y->shape[i], shape[i], "%s: dim %d is %lld, expected %lld", what, i,
                     (long long)y->shape[i], (long long)shape[i]);
        n *= shape[i];
    }
    float *got = malloc((size_t)n * sizeof *got + 1);
    cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    double err = seer_rel_l2(got, ref, (size_t)n);
    cr_assert_leq(err, F32_TOL, "%s: rel L2 %g", what, err);
    free(got);
}

// Runs t through seer_conv2d_fused and, when it has no epilogue, seer_conv2d too.
static void check(seer_ctx *c, seer_rng *rng, const fused_case *t) {
    const int64_t ekh = (int64_t)t->dil * (t->k - 1) + 1;
    const int64_t ho = (t->h + 2 * t->pad - ekh) / t->stride + 1;
    const int64_t wo = (t->w + 2 * t->pad - ekh) / t->stride + 1;
    const int64_t cg = t->cin / t->groups, ny = t->b * ho * wo * t->cout;
    const int64_t yshape[4] = {t->b, ho, wo, t->cout};
    float *hx = random_floats(rng, t->b * t->h * t->w * t->cin);
    float *hw = random_floats(rng, t->cout * t->k * t->k * cg);
    float *hb = random_floats(rng, t->cout), *hr = random_floats(rng, ny);
    float *ref = malloc((size_t)ny * sizeof *ref + 1);
    naive(ref, hx, hw, t->bias ? hb : NULL, t->residual ? hr : NULL, t, ho, wo);

    seer_tensor *x = upload(c, hx, 4, (int64_t[]){t->b, t->h, t->w, t->cin});
    seer_tensor *w = upload(c, hw, 4, (int64_t[]){t->cout, t->k, t->k, cg});
    seer_tensor *b = t->bias ? upload(c, hb, 1, &t->cout) : NULL;
    seer_tensor *r = t->residual ? upload(c, hr, 4, yshape) : NULL;
    seer_conv2d_params p = {.stride_h = t->stride, .stride_w = t->stride, .pad_h = t->pad,
                            .pad_w = t->pad, .dil_h = t->dil, .dil_w = t->dil,
                            .groups = t->groups};
    expect_close(c, seer_conv2d_fused(c, x, w, b, &p, r, t->relu), ref, yshape, t->name);
    if (!t->residual && !t->relu) expect_close(c, seer_conv2d(c, x, w, b, &p), ref, yshape, t->name);
    free(hx), free(hw), free(hb), free(hr), free(ref);
    seer_ctx_reset(c);
}

//            b   h   w cin cout k  s  p  d  g  bias   res    relu
#define CASE(b, h, w, ci, co, k, s, p, d, g, bias, res, relu, name) \
    {b, h, w, ci, co, k, s, p, d, g, bias, res, relu, name}

static const fused_case cases[] = {
    // The CIFAR ResNet shapes (AVX-512 full tiles with constant pixel strides 16, 32, 64).
    CASE(2, 32, 32, 16, 16, 3, 1, 1, 1, 1, true, true, true, "resnet stage 1 block"),
    CASE(2, 32, 32, 16, 32, 3, 2, 1, 1, 1, true, false, true, "resnet 16 -> 32 stride 2"),
    CASE(2, 16, 16, 32, 32, 3, 1, 1, 1, 1, true, true, true, "resnet stage 2 block"),
    CASE(2, 8, 8, 64, 64, 3, 1, 1, 1, 1, true, true, true, "resnet stage 3 block"),
    CASE(3, 32, 32, 3, 16, 3, 1, 1, 1, 1, true, false, true, "resnet stem (C_in 3)"),
    // Odd sizes: tails of 8, 4, 2 and 1 pixels, generic strides.
    CASE(2, 13, 29, 5, 16, 3, 1, 1, 1, 1, true, true, false, "13x29 C_in 5, residual only"),
    CASE(3, 17, 11, 16, 32, 3, 2, 1, 1, 1, false, true, true, "stride 2 odd, no bias"),
    CASE(2, 9, 7, 24, 64, 3, 2, 1, 1, 1, true, false, false, "stride 2 to 64 channels"),
    CASE(1, 7, 15, 7, 112, 3, 1, 1, 1, 1, true, true, true, "112 = 64 + 32 + 16 channels"),
    CASE(2, 11, 9, 6, 48, 5, 2, 2, 1, 1, true, true, true, "5x5 stride 2 pad 2"),
    CASE(2, 6, 5, 8, 16, 3, 1, 0, 1, 1, true, false, true, "3x3 no padding (no copy)"),
    CASE(2, 9, 13, 32, 48, 1, 1, 0, 1, 1, true, true, true, "1x1"),
    CASE(2, 9, 13, 16, 32, 1, 2, 0, 1, 1, true, false, false, "1x1 stride 2"),
    CASE(1, 1, 1, 4, 16, 3, 1, 1, 1, 1, true, true, true, "1x1 image, 3x3 kernel"),
    // C_out a multiple of 8 but not 16: the AVX2 tiles (1, 2 and 4 vectors).
    CASE(2, 13, 7, 5, 8, 3, 1, 1, 1, 1, true, true, true, "AVX2 8 channels"),
    CASE(2, 10, 19, 9, 24, 3, 1, 1, 1, 1, true, true, false, "AVX2 24 = 16 + 8"),
    CASE(3, 7, 6, 12, 40, 3, 2, 1, 1, 1, false, false, true, "AVX2 40 = 32 + 8"),
    // One image split into bands of rows; a wide row whose strip holds one band row.
    CASE(1, 37, 21, 16, 16, 3, 1, 1, 1, 1, true, true, true, "batch 1 in bands"),
    CASE(1, 5, 300, 64, 16, 3, 1, 1, 1, 1, true, true, true, "wide rows, bands of 1"),
    // The general path, with the epilogue as a pass over y.
    CASE(2, 9, 11, 6, 12, 3, 1, 1, 1, 1, true, true, true, "12 channels (general path)"),
    CASE(2, 9, 11, 6, 16, 3, 1, 1, 1, 2, true, true, true, "groups 2 (general path)"),
    CASE(2, 9, 11, 6, 16, 3, 1, 2, 2, 1, true, false, true, "dilation 2 (general path)"),
    CASE(2, 9, 11, 6, 7, 1, 1, 0, 1, 1, false, true, false, "1x1 7 channels (general path)"),
};

Test(conv2d_fused, against_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(41);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check(c, &rng, &cases[i]);
    seer_ctx_free(c);
}

Test(conv2d_fused, epilogue_flags) {
    // Every combination of bias, residual and ReLU on a direct and a general shape.
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(42);
    for (int general = 0; general < 2; general++)
        for (int f = 0; f < 8; f++) {
            char name[64];
            snprintf(name, sizeof name, "%s bias %d residual %d relu %d",
                     general ? "general" : "direct", f & 1, f >> 1 & 1, f >> 2 & 1);
            fused_case t = CASE(2, 6, 9, 7, general ? 20 : 32, 3, 1, 1, 1, 1, f & 1, f >> 1 & 1,
                                f >> 2 & 1, name);
            check(c, &rng, &t);
        }
    seer_ctx_free(c);
}

Test(conv2d_fused, strided_residual) {
    // The residual as a view (every other pixel of a larger map) is made contiguous first.
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(43);
    const int64_t B = 2, H = 6, W = 5, C = 16;
    float *hx = random_floats(&rng, B * H * W * C), *hw = random_floats(&rng, C * 9 * C);
    float *big = random_floats(&rng, B * 2 * H * 2 * W * C), *res = malloc(B * H * W * C * 4);
    float *ref = malloc(B * H * W * C * 4);
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                memcpy(res + ((b * H + y) * W + x) * C,
                       big + ((b * 2 * H + 2 * y) * 2 * W + 2 * x) * C, C * sizeof *res);
    fused_case t = CASE(B, H, W, C, C, 3, 1, 1, 1, 1, false, true, true, "strided residual");
    naive(ref, hx, hw, NULL, res, &t, H, W);
    seer_tensor *x = upload(c, hx, 4, (int64_t[]){B, H, W, C});
    seer_tensor *w = upload(c, hw, 4, (int64_t[]){C, 3, 3, C});
    seer_tensor view = *upload(c, big, 4, (int64_t[]){B, 2 * H, 2 * W, C});
    view.shape[1] = H, view.shape[2] = W;
    view.stride[1] *= 2, view.stride[2] *= 2;
    seer_conv2d_params p = {.pad_h = 1, .pad_w = 1};
    expect_close(c, seer_conv2d_fused(c, x, w, NULL, &p, &view, true), ref,
                 (int64_t[]){B, H, W, C}, t.name);
    free(hx), free(hw), free(big), free(res), free(ref);
    seer_ctx_free(c);
}

Test(conv2d_fused, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(44);
    float *h = random_floats(&rng, 4096);
    seer_conv2d_params p = {.pad_h = 1, .pad_w = 1};
    seer_tensor *x = upload(c, h, 4, (int64_t[]){2, 5, 5, 4});
    seer_tensor *w = upload(c, h, 4, (int64_t[]){16, 3, 3, 4});
    seer_tensor *r = upload(c, h, 4, (int64_t[]){2, 5, 4, 16});
    cr_assert_null(seer_conv2d_fused(c, x, w, NULL, &p, r, true));
    expect_fail(c, SEER_STATUS_SHAPE, "residual");
    x = upload(c, h, 4, (int64_t[]){2, 5, 5, 4});  // the reset emptied the arena
    w = upload(c, h, 4, (int64_t[]){16, 3, 3, 3});
    cr_assert_null(seer_conv2d_fused(c, x, w, NULL, &p, NULL, true));
    expect_fail(c, SEER_STATUS_SHAPE, "conv2d");
    free(h);
    seer_ctx_free(c);
}

Test(conv2d_fused, cuda_matches_cpu) {
    // The CUDA backend has no fused kernel: the front's composition must give the CPU result.
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_ctx *cc = seer_ctx_new(SEER_DEVICE_CPU), *gc = seer_ctx_new(SEER_DEVICE_CUDA);
    seer_rng rng = seer_rng_new(45);
    const int64_t B = 2, H = 9, W = 7, C = 32;
    float *hx = random_floats(&rng, B * H * W * C), *hw = random_floats(&rng, C * 9 * C);
    float *hb = random_floats(&rng, C), *hr = random_floats(&rng, B * H * W * C);
    float *yc = malloc(B * H * W * C * 4), *yg = malloc(B * H * W * C * 4);
    const int64_t xs[4] = {B, H, W, C}, ws[4] = {C, 3, 3, C};
    seer_conv2d_params p = {.pad_h = 1, .pad_w = 1};
    seer_ctx *ctx[2] = {cc, gc};
    float *out[2] = {yc, yg};
    for (int i = 0; i < 2; i++) {
        seer_tensor *y = seer_conv2d_fused(ctx[i], upload(ctx[i], hx, 4, xs),
                                           upload(ctx[i], hw, 4, ws), upload(ctx[i], hb, 1, &C),
                                           &p, upload(ctx[i], hr, 4, xs), true);
        cr_assert_not_null(y, "%s", seer_ctx_error(ctx[i]));
        cr_assert_eq(seer_to_host(ctx[i], y, out[i]), SEER_STATUS_OK);
    }
    double err = seer_rel_l2(yg, yc, (size_t)(B * H * W * C));
    cr_assert_leq(err, F32_TOL, "cuda vs cpu: rel L2 %g", err);
    free(hx), free(hw), free(hb), free(hr), free(yc), free(yg);
    seer_ctx_free(cc);
    seer_ctx_free(gc);
}
