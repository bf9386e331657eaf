// The attention view (seer_model_attention, vision/attention.h) against maps computed in
// PyTorch by tools/torch_ref/check_attention.py: DeiT and Agent-DeiT attention rollout (class
// token and a query patch), Sparsifiner's connectivity, VAN's LKA response, VOLO's class
// attention, BiFormer's routed attention (all queries and a query pixel); small random-weight
// models on two CIFAR-10 test images.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/model.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"
#include "vision/attention.h"

// seer's map of the fixture's input with query (qx, qy) against the fixture's `ref_name`:
// raw values to rel_tol (relative L2), and after min-max normalisation to 1e-3 (max abs), which
// holds the image-dependent part of a map to the same standard as its level.
static void check_map(seer_model *m, const seer_st_file *io, float qx, float qy,
                      const char *ref_name, double rel_tol) {
    int nd, rd;
    int64_t shape[SEER_MAX_DIMS], rshape[SEER_MAX_DIMS];
    float *x = golden_read(io, "input", &nd, shape);
    float *ref = golden_read(io, ref_name, &rd, rshape);
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *in = seer_from_host(c, x, SEER_F32, 4, shape);
    seer_tensor *a = seer_model_attention(m, c, in, qx, qy);
    cr_assert_not_null(a, "%s: %s", m->arch->name, seer_ctx_error(c));
    cr_assert_eq(a->ndim, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(a->shape[i], rshape[i], "%s map dim %d: %lld, reference %lld", m->arch->name, i,
                     (long long)a->shape[i], (long long)rshape[i]);
    const int64_t B = rshape[0], hw = rshape[1] * rshape[2];
    float *got = malloc(sizeof(float) * (size_t)(B * hw));
    cr_assert_eq(seer_to_host(c, a, got), SEER_STATUS_OK);
    double rel = seer_rel_l2(got, ref, (size_t)(B * hw));
    cr_expect_leq(rel, rel_tol, "%s %s: rel-L2 %.3g", m->arch->name, ref_name, rel);
    for (int64_t b = 0; b < B; b++) {
        seer_attention_normalize(got + b * hw, (size_t)hw);
        seer_attention_normalize(ref + b * hw, (size_t)hw);
    }
    double d = seer_max_abs_diff(got, ref, (size_t)(B * hw));
    cr_expect_leq(d, 1e-3, "%s %s normalised: max abs %.3g", m->arch->name, ref_name, d);
    free(got), free(x), free(ref);
    seer_ctx_free(c);
}

static void check_fixture(const char *name, double rel_tol) {
    char path[256];
    snprintf(path, sizeof path, "%s.weights.safetensors", name);
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path(path), NULL, SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_attention_info info;
    cr_assert(seer_model_attention_info(m, &info), "%s has no attention view", name);
    snprintf(path, sizeof path, "%s.io.safetensors", name);
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path(path), &io), SEER_STATUS_OK, "%s", seer_last_error());
    check_map(m, io, -1, -1, "map", rel_tol);
    seer_dtype dt;
    int nd;
    int64_t shape[SEER_MAX_DIMS];
    if (seer_st_info(io, "query", &dt, &nd, shape) == SEER_STATUS_OK) {
        cr_assert(info.uses_query);
        float *q = golden_read(io, "query", &nd, shape);
        check_map(m, io, q[0], q[1], "map_q", rel_tol);
        free(q);
    }
    seer_st_close(io);
    seer_model_free(m);
}

Test(attention, deit_rollout) { check_fixture("attn_deit", 1e-5); }
Test(attention, agent_rollout) { check_fixture("attn_agent", 1e-5); }
// 0/1 masks counted: exact up to the division
Test(attention, sparsifiner_connectivity) { check_fixture("attn_sparsifiner", 1e-6); }
Test(attention, van_lka_response) { check_fixture("attn_van", 1e-5); }
Test(attention, volo_class_attention) { check_fixture("attn_volo", 1e-5); }
Test(attention, biformer_routed_attention) { check_fixture("attn_biformer", 1e-5); }

// A patch query changes a rollout map: the picked patch's row is not the class token's.
Test(attention, query_changes_the_rollout) {
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("attn_deit.io.safetensors"), &io), SEER_STATUS_OK);
    int nd;
    int64_t s1[SEER_MAX_DIMS], s2[SEER_MAX_DIMS];
    float *a = golden_read(io, "map", &nd, s1), *b = golden_read(io, "map_q", &nd, s2);
    cr_expect_gt(seer_rel_l2(a, b, (size_t)(s1[0] * s1[1] * s1[2])), 0.05);
    free(a), free(b);
    seer_st_close(io);
}

Test(attention, models_without_a_view_say_so) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("resnet8_cifar.weights.safetensors"), NULL,
                                 SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_attention_info info;
    cr_expect_not(seer_model_attention_info(m, &info));
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 32, 32, 3}), 0.5);
    cr_expect_null(seer_model_attention(m, c, x, -1, -1));
    cr_expect_eq(seer_ctx_status(c), SEER_STATUS_UNSUPPORTED);
    cr_expect(strstr(seer_ctx_error(c), "no attention view"), "%s", seer_ctx_error(c));
    seer_attention_map map;
    cr_expect_eq(seer_attention_map_file(m, c, golden_path("image/jpeg_444.jpg"), -1, -1, &map),
                 SEER_STATUS_UNSUPPORTED);
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(attention, query_outside_the_input_is_refused) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("attn_deit.weights.safetensors"), NULL,
                                 SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 32, 32, 3}), 0.5);
    cr_expect_null(seer_model_attention(m, c, x, 1.5f, 0.2f));
    cr_expect_eq(seer_ctx_status(c), SEER_STATUS_ARG);
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(attention, normalize) {
    float v[4] = {2, 4, 3, 2}, flat[3] = {5, 5, 5};
    seer_attention_normalize(v, 4);
    cr_expect_float_eq(v[0], 0.0f, 1e-7);
    cr_expect_float_eq(v[1], 1.0f, 1e-7);
    cr_expect_float_eq(v[2], 0.5f, 1e-7);
    seer_attention_normalize(flat, 3);
    cr_expect(flat[0] == 0 && flat[1] == 0 && flat[2] == 0);
}

Test(attention, query_cell) {
    cr_expect_eq(seer_attention_query_cell(-1, 0.5f, 4, 4), -1);
    cr_expect_eq(seer_attention_query_cell(0.0f, 0.0f, 4, 4), 0);
    cr_expect_eq(seer_attention_query_cell(0.6f, 0.3f, 4, 4), 1 * 4 + 2);
    cr_expect_eq(seer_attention_query_cell(1.0f, 1.0f, 4, 4), 15); // the edges stay inside
}

// From a file through the model's preset (VAN's: 224 crop): a 14x14 map (stage 4 of a stride-2
// stem, the deepest stage at least 7 tokens a side), normalised to exactly [0, 1].
Test(attention, map_of_a_file) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("attn_van.weights.safetensors"), NULL,
                                 SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_attention_map a;
    cr_assert_eq(seer_attention_map_file(m, c, golden_path("image/jpeg_444.jpg"), -1, -1, &a),
                 SEER_STATUS_OK, "%s", seer_last_error());
    cr_expect_eq(a.h, 14);
    cr_expect_eq(a.w, 14);
    cr_expect(strstr(a.method, "LKA"));
    float lo = 1, hi = 0;
    for (int i = 0; i < a.h * a.w; i++)
        lo = fminf(lo, a.map[i]), hi = fmaxf(hi, a.map[i]);
    cr_expect(lo == 0.0f && hi == 1.0f, "map from %g to %g", lo, hi);
    seer_attention_map_free(&a);
    cr_expect_neq(seer_attention_map_file(m, c, "/nonexistent.png", -1, -1, &a), SEER_STATUS_OK);
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(attention, overlay_blends_the_colour_over_the_model_input) {
    // a 4x2 grey image, the right half the model's input; a 1x1 map of 1 (the hottest colour)
    uint8_t px[8] = {100, 100, 100, 100, 100, 100, 100, 100};
    seer_image img = {.w = 4, .h = 2, .c = 1, .px = px}, out;
    float one = 1.0f;
    seer_attention_map a = {.map = &one, .h = 1, .w = 1};
    const float crop[4] = {0.5f, 0.0f, 0.5f, 1.0f};
    cr_assert_eq(seer_attention_overlay(&img, &a, crop, &out), SEER_STATUS_OK);
    uint8_t hot[4];
    seer_attention_colour(1.0f, hot);
    cr_assert(hot[0] == 255 && hot[1] == 40 && hot[2] == 0 && hot[3] == 170);
    for (int y = 0; y < 2; y++) {
        for (int x = 0; x < 4; x++) {
            const uint8_t *p = out.px + (y * 4 + x) * 3;
            for (int k = 0; k < 3; k++) {
                const float alpha = 170 / 255.0f;
                int want = x < 2 ? 100 : (int)(100 * (1 - alpha) + hot[k] * alpha + 0.5f);
                cr_expect_eq(p[k], want, "pixel %d,%d channel %d: %d, want %d", x, y, k, p[k],
                             want);
            }
        }
    }
    seer_image_free(&out);
}
