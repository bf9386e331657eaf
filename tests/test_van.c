// VAN against the official VAN-Classification code (tools/golden/make_van.py): a tiny four-stage
// VAN with random weights, BN statistics and layer scales, on real photos at odd sizes
// (60x76 and 68x68); logits and the four stage feature maps. van_cifar_stem: the same tiny VAN
// with a 5x5 stride-2 first patch embedding (metadata seer.stem_kernel / seer.stem_stride) and
// 10 classes, made by tools/torch_ref/check_van.py --fixture after checking that model against
// the official code, on CIFAR images (32x32 and 29x23).
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backbones/van.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

static size_t numel_of(int nd, const int64_t *s) {
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)s[i];
    return n;
}

// got vs the fixture's `name`: shapes equal, rel-L2 <= 1e-5, max-abs <= 1e-4 * max |want|.
static void expect_close(seer_ctx *c, const seer_tensor *got, const seer_st_file *io,
                         const char *name) {
    int nd;
    int64_t s[SEER_MAX_DIMS];
    float *want = golden_read(io, name, &nd, s);
    cr_assert_not_null(got, "%s: %s", name, seer_ctx_error(c));
    cr_assert_eq(got->ndim, nd, "%s: rank", name);
    for (int i = 0; i < nd; i++)
        cr_assert_eq(got->shape[i], s[i], "%s: dim %d", name, i);
    size_t n = numel_of(nd, s);
    float *g = malloc(n * sizeof *g);
    cr_assert_eq(seer_to_host(c, got, g), SEER_STATUS_OK);
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    double rel = seer_rel_l2(g, want, n), mx = seer_max_abs_diff(g, want, n);
    cr_log_info("van golden %-9s rel-L2 %.2e  max-abs %.2e (max |ref| %.2f)", name, rel, mx, scale);
    cr_expect_leq(rel, 1e-5, "%s rel-L2 %g", name, rel);
    cr_expect_leq(mx, 1e-4 * scale, "%s max-abs %g", name, mx);
    free(g);
    free(want);
}

static void check_input(seer_model *m, const seer_st_file *io, const char *key) {
    char name[32];
    int nd;
    int64_t sx[SEER_MAX_DIMS];
    snprintf(name, sizeof name, "input_%s", key);
    float *x = golden_read(io, name, &nd, sx);
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *in = seer_from_host(c, x, SEER_F32, nd, sx);
    seer_tensor *st[4];
    seer_tensor *last = seer_van_stages(m, c, in, st);
    cr_assert_not_null(last, "%s", seer_ctx_error(c));
    cr_assert_eq(last, st[3]);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "stage%d_%s", i + 1, key);
        expect_close(c, st[i], io, name);
    }
    snprintf(name, sizeof name, "logits_%s", key);
    expect_close(c, seer_model_forward(m, c, in), io, name);
    seer_tensor *f = seer_model_features(m, c, in);
    cr_assert_not_null(f, "%s", seer_ctx_error(c));
    cr_assert_eq(f->ndim, 2);
    cr_assert_eq(f->shape[1], st[3]->shape[3]);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    seer_ctx_free(c);
    free(x);
}

static seer_model *load_fixture(const char *file) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path(file), NULL, SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    return m;
}

static seer_model *load_tiny(void) {
    return load_fixture("van_tiny.weights.safetensors");
}

Test(van, golden_logits_and_stages_cpu) {
    seer_model *m = load_tiny();
    cr_assert_str_eq(m->arch->name, "van_b0");
    cr_assert_str_eq(m->preprocess, "van");
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("van_tiny.io.safetensors"), &io), SEER_STATUS_OK);
    check_input(m, io, "a"); // 2 x 60x76
    check_input(m, io, "b"); // 1 x 68x68
    seer_st_close(io);
    seer_model_free(m);
}

Test(van, golden_stem_knobs_cifar_cpu) {
    seer_model *m = load_fixture("van_cifar_stem.weights.safetensors");
    cr_assert_str_eq(m->arch->family, "van");
    cr_assert_eq(m->num_classes, 10);
    cr_assert_str_eq(m->preprocess, "cifar");
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("van_cifar_stem.io.safetensors"), &io), SEER_STATUS_OK);
    check_input(m, io, "a"); // 2 x 32x32: stages 16, 8, 4, 2
    check_input(m, io, "b"); // 1 x 29x23: stages 15x12, 8x6, 4x3, 2x2
    seer_st_close(io);
    seer_model_free(m);
}

Test(van, presets_are_registered) {
    static const char *names[] = {"van_b0", "van_b1", "van_b2", "van_b3",
                                  "van_b4", "van_b5", "van_b6"};
    for (int i = 0; i < 7; i++) {
        const seer_arch *a = seer_arch_find(names[i]);
        cr_assert_not_null(a, "%s", names[i]);
        cr_assert_str_eq(a->family, "van");
        cr_assert_str_eq(a->preprocess, "van");
        cr_assert_str_eq(a->labels, "imagenet");
        cr_assert_eq(a->num_classes, 1000);
        cr_assert_eq(a->img_size, 224);
    }
}

Test(van, bad_input_and_foreign_model_are_refused) {
    seer_model *m = load_tiny();
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 32, 32, 4}), 0.5);
    cr_assert_null(seer_model_forward(m, c, x));
    cr_assert(strstr(seer_ctx_error(c), "[B, H, W, 3]"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);

    seer_model *r = NULL;
    cr_assert_eq(seer_model_load(golden_path("resnet8_cifar.weights.safetensors"), NULL,
                                 SEER_DEVICE_CPU, SEER_F32, &r),
                 SEER_STATUS_OK, "%s", seer_last_error());
    c = seer_ctx_new(SEER_DEVICE_CPU);
    x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 32, 32, 3}), 0.5);
    seer_tensor *st[4] = {x, x, x, x};
    cr_assert_null(seer_van_stages(r, c, x, st));
    for (int i = 0; i < 4; i++)
        cr_assert_null(st[i]);
    cr_assert(strstr(seer_ctx_error(c), "not a VAN model"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
    seer_model_free(r);
    seer_model_free(m);
}

// The fixture's tensors with other metadata (NULL value: key left out), into a temp file.
static const char *rewrite_fixture(const char *key, const char *value, const char *drop) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/seer_test_van_%d.safetensors", (int)getpid());
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("van_tiny.weights.safetensors"), &f), SEER_STATUS_OK);
    seer_st_writer *w = seer_st_writer_new();
    for (int i = 0; i < seer_st_count(f); i++) {
        const char *n = seer_st_name(f, i);
        if (drop && strcmp(n, drop) == 0) continue;
        seer_dtype dt;
        int nd;
        int64_t s[SEER_MAX_DIMS];
        size_t nb;
        cr_assert_eq(seer_st_info(f, n, &dt, &nd, s), SEER_STATUS_OK);
        cr_assert_eq(seer_st_writer_add(w, n, dt, nd, s, seer_st_raw(f, n, &nb)), SEER_STATUS_OK);
    }
    for (int i = 0; i < seer_st_metadata_count(f); i++) {
        const char *k = seer_st_metadata_key(f, i);
        if (strcmp(k, key) != 0) seer_st_writer_set_metadata(w, k, seer_st_metadata_value(f, i));
    }
    if (value) seer_st_writer_set_metadata(w, key, value);
    cr_assert_eq(seer_st_writer_save(w, path), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_close(f);
    return path;
}

Test(van, config_mismatch_is_refused_by_name) {
    seer_model *m = NULL;
    // One block fewer in stage 2: the file's block2.1.* is unexpected.
    const char *p = rewrite_fixture("seer.depths", "1,1,1,2", NULL);
    cr_assert_neq(seer_model_load(p, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_assert_null(m);
    cr_assert(strstr(seer_last_error(), "block2.1."), "%s", seer_last_error());
    // The preset's config (no metadata) against tiny weights: shapes differ, named.
    p = rewrite_fixture("seer.embed_dims", NULL, NULL);
    cr_assert_neq(seer_model_load(p, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "patch_embed1.proj.weight"), "%s", seer_last_error());
    // A missing tensor.
    p = rewrite_fixture("seer.arch", "van_b0",
                        "block3.0.attn.spatial_gating_unit.conv_spatial.bias");
    cr_assert_neq(seer_model_load(p, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "conv_spatial.bias"), "%s", seer_last_error());
    // Malformed metadata.
    p = rewrite_fixture("seer.mlp_ratios", "8,8,4", NULL);
    cr_assert_neq(seer_model_load(p, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "seer.mlp_ratios"), "%s", seer_last_error());
    p = rewrite_fixture("seer.stem_stride", "0", NULL);
    cr_assert_neq(seer_model_load(p, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "seer.stem_stride"), "%s", seer_last_error());
    // A first patch embedding of another kernel than the weights': named.
    p = rewrite_fixture("seer.stem_kernel", "5", NULL);
    cr_assert_neq(seer_model_load(p, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "patch_embed1.proj.weight"), "%s", seer_last_error());
    unlink(p);
}
