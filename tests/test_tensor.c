// Tensors, views, half-precision conversion, arenas, contexts and the data-movement ops.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

Test(tensor, contiguity_and_views) {
    float buf[24];
    for (int i = 0; i < 24; i++) buf[i] = (float)i;
    seer_tensor t = seer_tensor_wrap(buf, SEER_F32, SEER_DEVICE_CPU, 3, (int64_t[]){2, 3, 4});
    cr_assert(seer_tensor_is_contiguous(&t));
    cr_assert_eq(seer_tensor_numel(&t), 24);

    seer_tensor p;
    cr_assert_eq(seer_view_permute(&t, (int[]){2, 0, 1}, &p), SEER_STATUS_OK);
    cr_assert(!seer_tensor_is_contiguous(&p));
    cr_assert_eq(p.shape[0], 4);
    cr_assert_eq(p.stride[0], 1);

    seer_tensor n;
    cr_assert_eq(seer_view_narrow(&t, 1, 1, 2, &n), SEER_STATUS_OK);
    cr_assert_eq(((float *)n.data)[0], 4.0f);
    cr_assert_eq(seer_view_narrow(&t, 1, 2, 2, &n), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "outside dim 1"));

    seer_tensor r;
    cr_assert_eq(seer_view_reshape(&t, 2, (int64_t[]){-1, 6}, &r), SEER_STATUS_OK);
    cr_assert_eq(r.shape[0], 4);
    cr_assert_eq(seer_view_reshape(&t, 2, (int64_t[]){5, -1}, &r), SEER_STATUS_SHAPE);
    cr_assert_eq(seer_view_reshape(&p, 1, (int64_t[]){24}, &r), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "not contiguous"));
}

Test(tensor, half_precision_round_trip) {
    // Values exactly representable round trip; others land within half an ulp.
    const float exact[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.9604645e-08f};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        cr_assert_eq(seer_f16_to_f32(seer_f32_to_f16(exact[i])), exact[i], "f16 %g", exact[i]);
    cr_assert(isinf(seer_f16_to_f32(seer_f32_to_f16(70000.0f))));
    cr_assert(isnan(seer_f16_to_f32(seer_f32_to_f16(NAN))));
    cr_assert(isnan(seer_bf16_to_f32(seer_f32_to_bf16(NAN))));
    // Ties go to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 in f16.
    cr_assert_eq(seer_f16_to_f32(seer_f32_to_f16(1.0f + 0x1p-11f)), 1.0f);
    cr_assert_eq(seer_f16_to_f32(seer_f32_to_f16(1.0f + 3 * 0x1p-11f)), 1.0f + 0x1p-9f);
    cr_assert_eq(seer_bf16_to_f32(seer_f32_to_bf16(1.0f + 0x1p-8f)), 1.0f);
    seer_rng rng = seer_rng_new(7);
    for (int i = 0; i < 10000; i++) {
        float v = seer_rng_normal(&rng) * 100.0f;
        float h = seer_f16_to_f32(seer_f32_to_f16(v)), b = seer_bf16_to_f32(seer_f32_to_bf16(v));
        cr_assert_leq(fabsf(h - v), fabsf(v) * 0x1p-11f + 0x1p-25f, "f16 of %g gave %g", v, h);
        cr_assert_leq(fabsf(b - v), fabsf(v) * 0x1p-8f, "bf16 of %g gave %g", v, b);
    }
}

Test(arena, grows_then_coalesces) {
    seer_arena *a = seer_arena_new(SEER_DEVICE_CPU, 4096);
    cr_assert_not_null(a);
    void *p1 = seer_arena_alloc(a, 1000);
    void *p2 = seer_arena_alloc(a, 3 << 20);  // past the reserve: a second chunk
    cr_assert(p1 && p2);
    cr_assert_eq((uintptr_t)p1 % 256, 0);
    memset(p2, 1, 3 << 20);
    size_t hw = seer_arena_high_water(a);
    cr_assert_geq(hw, (size_t)(3 << 20) + 1000);
    seer_arena_reset(a);
    cr_assert_eq(seer_arena_used(a), 0);
    cr_assert_eq(seer_arena_capacity(a), hw);  // one chunk of the high-water size
    // The same run now fits without growing.
    seer_arena_alloc(a, 1000);
    seer_arena_alloc(a, 3 << 20);
    cr_assert_eq(seer_arena_capacity(a), hw);
    seer_arena_free(a);
}

Test(ctx, sticky_error_and_reset) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    cr_assert_not_null(c);
    seer_tensor *t = seer_new(c, SEER_F32, 2, (int64_t[]){3, 4});
    cr_assert_not_null(t);
    cr_assert_null(seer_reshape(c, t, 2, (int64_t[]){5, 5}));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_ctx_error(c), "reshape"), "%s", seer_ctx_error(c));
    // Later ops return NULL without touching the first message.
    cr_assert_null(seer_new(c, SEER_F32, 1, (int64_t[]){2}));
    cr_assert_null(seer_contiguous(c, NULL));
    cr_assert(strstr(seer_ctx_error(c), "reshape"));
    seer_ctx_reset(c);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK);
    cr_assert_not_null(seer_new(c, SEER_F32, 1, (int64_t[]){2}));
    seer_ctx_free(c);
}

// values 0..n-1 in a new [n] F32 tensor
static seer_tensor *iota(seer_ctx *c, int64_t n) {
    float *h = malloc((size_t)n * sizeof *h);
    for (int64_t i = 0; i < n; i++) h[i] = (float)i;
    seer_tensor *t = seer_from_host(c, h, SEER_F32, 1, (int64_t[]){n});
    free(h);
    cr_assert_not_null(t, "%s", seer_ctx_error(c));
    return t;
}

Test(ctx, keep_frees_the_intermediates_and_keeps_one) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_arena *a = seer_ctx_arena(c);
    seer_tensor *before = iota(c, 100);
    const size_t used0 = seer_arena_used(a);
    // many intermediates after the mark, one of them kept (a strided view: kept contiguous)
    seer_arena_mark m = seer_ctx_mark(c);
    for (int i = 0; i < 20; i++) iota(c, 10000);
    seer_tensor *x = seer_reshape(c, iota(c, 6), 2, (int64_t[]){2, 3});
    seer_tensor *xt = seer_permute(c, x, (const int[]){1, 0}); // [3, 2] view
    seer_tensor *k = seer_ctx_keep(c, m, xt);
    cr_assert_not_null(k, "%s", seer_ctx_error(c));
    cr_assert(k->shape[0] == 3 && k->shape[1] == 2 && seer_tensor_is_contiguous(k));
    const float want[6] = {0, 3, 1, 4, 2, 5};
    cr_assert_eq(memcmp(k->data, want, sizeof want), 0, "kept values");
    cr_assert_eq(seer_arena_used(a), used0 + 256, "only the kept tensor stays: %zu vs %zu",
                 seer_arena_used(a), used0);
    for (int i = 0; i < 100; i++) cr_assert_eq(((float *)before->data)[i], (float)i);
    // the next allocation reuses the freed memory, right after the kept tensor
    seer_tensor *next = iota(c, 10);
    cr_assert_eq((char *)next->data, (char *)k->data + 256);
    // nothing allocated after the mark but the kept tensor's copy: kept where it is
    m = seer_ctx_mark(c);
    seer_tensor *k2 = seer_ctx_keep(c, m, before);
    cr_assert_not_null(k2);
    for (int i = 0; i < 100; i++) cr_assert_eq(((float *)k2->data)[i], (float)i);
    // past a chunk: the intermediates spill into new chunks, the kept one comes back
    m = seer_ctx_mark(c);
    for (int i = 0; i < 4; i++) iota(c, 1 << 20);
    seer_tensor *k3 = seer_ctx_keep(c, m, iota(c, 1000));
    cr_assert_not_null(k3);
    for (int i = 0; i < 1000; i++) cr_assert_eq(((float *)k3->data)[i], (float)i);
    cr_assert_lt(seer_arena_used(a), (size_t)(1 << 20), "%zu", seer_arena_used(a));
    cr_assert_null(seer_ctx_keep(c, m, NULL));
    seer_ctx_free(c);
}

Test(ctx, cuda_unavailable_is_a_clear_error) {
    if (seer_device_available(SEER_DEVICE_CUDA)) cr_skip("a CUDA device is present");
    cr_assert_null(seer_ctx_new(SEER_DEVICE_CUDA));
    cr_assert(strstr(seer_last_error(), "cuda"), "%s", seer_last_error());
}

Test(ops_data, to_from_host_permute_copy_and_dtypes) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(1);
    float src[2 * 3 * 5];
    seer_rng_fill(&rng, src, 30);
    seer_tensor *x = seer_from_host(c, src, SEER_F32, 3, (int64_t[]){2, 3, 5});
    seer_tensor *y = seer_permute_copy(c, x, (int[]){2, 0, 1});  // [5, 2, 3]
    cr_assert_not_null(y);
    cr_assert(seer_tensor_is_contiguous(y));
    float out[30];
    cr_assert_eq(seer_to_host(c, y, out), SEER_STATUS_OK);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int k = 0; k < 5; k++)
                cr_assert_eq(out[(k * 2 + a) * 3 + b], src[(a * 3 + b) * 5 + k]);

    // f32 -> bf16 -> f32 through ops, and a narrow view made contiguous.
    seer_tensor *h = seer_to(c, x, SEER_BF16);
    cr_assert_eq(seer_to_host(c, h, out), SEER_STATUS_OK);
    for (int i = 0; i < 30; i++) cr_assert_leq(fabsf(out[i] - src[i]), fabsf(src[i]) / 128);
    seer_tensor *nv = seer_narrow(c, x, 2, 1, 3);
    seer_tensor *nc = seer_contiguous(c, nv);
    cr_assert_eq(seer_to_host(c, nc, out), SEER_STATUS_OK);
    for (int r = 0; r < 6; r++)
        for (int k = 0; k < 3; k++) cr_assert_eq(out[r * 3 + k], src[r * 5 + k + 1]);

    // i64 -> i32 refuses values that do not fit.
    int64_t big[2] = {1, (int64_t)1 << 40};
    seer_tensor bt = seer_tensor_wrap(big, SEER_I64, SEER_DEVICE_CPU, 1, (int64_t[]){2});
    cr_assert_null(seer_to(c, &bt, SEER_I32));
    cr_assert(strstr(seer_ctx_error(c), "does not fit"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
}
