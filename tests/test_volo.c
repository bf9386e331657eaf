// VOLO against its references (tools/golden/make_volo.py): three tiny random-weight models on
// 3 real photos. volo_a: timm, outlook stride 2 on an odd 7x7 grid (ceil-mode pooling);
// volo_b: official code, outlook stride 1, qkv bias, patch 4, one class block; volo_c:
// official code, 5x5 outlook window, patch 16, no class token, mean pooling, no aux head.
// volo_d (tools/torch_ref/check_volo.py --fixture, 3 CIFAR images): patch_size 2, seer's
// extension for 32x32 inputs (a 1x1 patch projection: a 16x16 outlooker grid), made by
// tools/torch_ref/volo.py, which that script checks against timm with the projection swapped.
// Each compares the logits, their image-dependent part (minus the batch mean), the outlooker
// stage output and the pre-logits features.
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "backbones/model.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

// backbones/volo.c: the output of the outlooker stage, [B, H/p, W/p, C0].
seer_tensor *seer_volo_outlooker_output(seer_model *m, seer_ctx *c, const seer_tensor *x);

static double norm_l2(const float *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * a[i];
    return sqrt(s);
}

// got vs want (both n floats). F32: rel-L2 <= 1e-5 and max-abs <= 1e-4 * ||want||; BF16/F16:
// rel-L2 <= 2e-2 (DESIGN.md).
static void expect_close(const char *fixture, seer_dtype dt, const char *what, const float *got,
                         const float *want, size_t n) {
    double rel = seer_rel_l2(got, want, n), mx = seer_max_abs_diff(got, want, n),
           nrm = norm_l2(want, n);
    cr_log_info("%s %s %s: rel-L2 %.2e, max-abs %.2e (norm %.3g)", fixture, seer_dtype_name(dt),
                what, rel, mx, nrm);
    if (dt != SEER_F32) {
        cr_expect_leq(rel, 2e-2, "%s %s: rel-L2 %g", fixture, what, rel);
        return;
    }
    cr_expect_leq(rel, 1e-5, "%s %s: rel-L2 %g", fixture, what, rel);
    cr_expect_leq(mx, 1e-4 * nrm, "%s %s: max-abs %g vs norm %g", fixture, what, mx, nrm);
}

static float *download(seer_ctx *c, const seer_tensor *t, int nd, const int64_t *want_shape) {
    cr_assert_not_null(t, "%s", seer_ctx_error(c));
    cr_assert_eq(t->ndim, nd);
    for (int i = 0; i < nd; i++)
        cr_assert_eq(t->shape[i], want_shape[i], "dim %d: %lld vs %lld", i, (long long)t->shape[i],
                     (long long)want_shape[i]);
    float *h = malloc(sizeof(float) * golden_numel(nd, want_shape));
    cr_assert_eq(seer_to_host(c, t, h), SEER_STATUS_OK);
    return h;
}

static void check_fixture(const char *name, seer_device dev, seer_dtype dt) {
    golden_fixture g = golden_fixture_open(name, "volo", dev, dt);
    seer_ctx *c = g.c;
    int nl, ns, nf;
    int64_t sl[6], ss[6], sf[6];
    float *want_l = golden_read(g.io, "logits", &nl, sl);
    float *want_s = golden_read(g.io, "stage0", &ns, ss);
    float *want_f = golden_read(g.io, "features", &nf, sf);

    seer_tensor *in = seer_from_host(c, g.x, dt, g.nx, g.sx);
    float *got_l = download(c, seer_model_forward(g.m, c, in), nl, sl);
    float *got_s = download(c, seer_volo_outlooker_output(g.m, c, in), ns, ss);
    float *got_f = download(c, seer_model_features(g.m, c, in), nf, sf);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));

    expect_close(name, dt, "logits", got_l, want_l, golden_numel(nl, sl));
    expect_close(name, dt, "outlooker stage", got_s, want_s, golden_numel(ns, ss));
    expect_close(name, dt, "features", got_f, want_f, golden_numel(nf, sf));
    for (int64_t i = 0; i < sl[0]; i++)
        cr_expect_eq(golden_argmax(got_l + i * sl[1], sl[1]),
                     golden_argmax(want_l + i * sl[1], sl[1]), "%s %s: top-1 of image %lld differs",
                     name, seer_dtype_name(dt), (long long)i);
    golden_center_rows(got_l, sl[0], sl[1]);
    golden_center_rows(want_l, sl[0], sl[1]);
    expect_close(name, dt, "logits - batch mean", got_l, want_l, golden_numel(nl, sl));

    free(got_l);
    free(got_s);
    free(got_f);
    free(want_l);
    free(want_s);
    free(want_f);
    golden_fixture_close(&g);
}

Test(volo, golden_timm_stride2_odd_grid_cpu) {
    check_fixture("volo_a", SEER_DEVICE_CPU, SEER_F32);
}
Test(volo, golden_official_stride1_qkv_bias_cpu) {
    check_fixture("volo_b", SEER_DEVICE_CPU, SEER_F32);
}
Test(volo, golden_official_kernel5_mean_pool_cpu) {
    check_fixture("volo_c", SEER_DEVICE_CPU, SEER_F32);
}
Test(volo, golden_patch2_cifar_grid_cpu) {
    check_fixture("volo_d", SEER_DEVICE_CPU, SEER_F32);
}

// The same fixtures on the GPU (skipped without one): F32 to the reference's tolerance, and
// BF16 / F16 compute to 2e-2 with the same top-1.
Test(volo, golden_cuda_f32_bf16_f16, .timeout = 300) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    static const char *const names[] = {"volo_a", "volo_b", "volo_c", "volo_d"};
    static const seer_dtype dts[] = {SEER_F32, SEER_BF16, SEER_F16};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            check_fixture(names[i], SEER_DEVICE_CUDA, dts[j]);
}

Test(volo, presets_registered_with_timm_preprocessing) {
    static const struct {
        const char *name;
        int size;
        const char *pre;
    } want[] = {
        {"volo_d1_224", 224, "imagenet_timm,crop_pct=0.96,size=224"},
        {"volo_d1_384", 384, "imagenet_timm,crop_pct=1.0,size=384"},
        {"volo_d2_224", 224, "imagenet_timm,crop_pct=0.96,size=224"},
        {"volo_d2_384", 384, "imagenet_timm,crop_pct=1.0,size=384"},
        {"volo_d3_224", 224, "imagenet_timm,crop_pct=0.96,size=224"},
        {"volo_d3_448", 448, "imagenet_timm,crop_pct=1.0,size=448"},
        {"volo_d4_224", 224, "imagenet_timm,crop_pct=0.96,size=224"},
        {"volo_d4_448", 448, "imagenet_timm,crop_pct=1.15,size=448"},
        {"volo_d5_224", 224, "imagenet_timm,crop_pct=0.96,size=224"},
        {"volo_d5_448", 448, "imagenet_timm,crop_pct=1.15,size=448"},
        {"volo_d5_512", 512, "imagenet_timm,crop_pct=1.15,size=512"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const seer_arch *a = seer_arch_find(want[i].name);
        cr_assert_not_null(a, "%s not registered", want[i].name);
        cr_expect_str_eq(a->family, "volo");
        cr_expect_eq(a->img_size, want[i].size);
        cr_expect_eq(a->num_classes, 1000);
        cr_expect_str_eq(a->preprocess, want[i].pre);
        cr_expect_str_eq(a->labels, "imagenet");
    }
}

// Our CIFAR-10 model (tools/torch_ref/volo.py's CIFAR config): 32x32, "cifar" preprocessing.
Test(volo, cifar_preset_registered) {
    const seer_arch *a = seer_arch_find("volo_cifar");
    cr_assert_not_null(a);
    cr_expect_str_eq(a->family, "volo");
    cr_expect_eq(a->img_size, 32);
    cr_expect_eq(a->num_classes, 10);
    cr_expect_str_eq(a->preprocess, "cifar");
    cr_expect_str_eq(a->labels, "cifar10");
}

// The volo_a fixture's tensors with metadata seer.config = config (NULL: none), in a temp file.
static const char *rewrite_fixture(const char *config, const char *tag) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/seer_test_volo_%s_%d.safetensors", tag, (int)getpid());
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("volo_a.weights.safetensors"), &f), SEER_STATUS_OK);
    seer_st_writer *w = seer_st_writer_new();
    golden_copy_tensors(f, w);
    seer_st_writer_set_metadata(w, "seer.arch", "volo_d1_224");
    if (config) seer_st_writer_set_metadata(w, "seer.config", config);
    cr_assert_eq(seer_st_writer_save(w, path), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_close(f);
    return path;
}

static void expect_refused(const char *config, const char *tag, const char *needle) {
    const char *path = rewrite_fixture(config, tag);
    seer_model *m = NULL;
    cr_expect_neq(seer_model_load(path, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_expect_null(m);
    cr_log_info("refused (%s): %s", tag, seer_last_error());
    cr_expect(strstr(seer_last_error(), needle), "expected '%s' in: %s", needle, seer_last_error());
    remove(path);
}

Test(volo, weights_of_another_config_are_refused_by_name) {
    // No seer.config: the file is read as volo_d1_224, whose first stem conv is 64 wide.
    expect_refused(NULL, "d1", "patch_embed.conv.0.weight");
    // One outlooker block more than the file has.
    expect_refused(
        "{\"layers\": [3, 1, 1], \"embed_dims\": [16, 32, 32], \"num_heads\": [2, 4, 4], "
        "\"img_size\": 56, \"stem_hidden_dim\": 8}",
        "layers", "network.0.2.norm1.weight");
    // The fixture's config but a 448 input: the position embedding is 28x28, not 3x3.
    expect_refused(
        "{\"layers\": [2, 1, 1], \"embed_dims\": [16, 32, 32], \"num_heads\": [2, 4, 4], "
        "\"img_size\": 448, \"stem_hidden_dim\": 8}",
        "size", "pos_embed");
    expect_refused("{\"layers\": [2, 1, 1], \"depth\": 3}", "unknown", "depth");
    expect_refused("{\"downsamples\": [true, true, false, false]}", "layout", "downsamples");
    expect_refused("{\"num_classes\": 0}", "classes", "num_classes");
    expect_refused("{\"patch_size\": 6}", "patch", "patch_size must be 2, 4, 8 or 16");
    expect_refused("not json", "json", "seer.config");
}

Test(volo, wrong_input_size_is_a_clear_error) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("volo_a.weights.safetensors"), NULL, SEER_DEVICE_CPU,
                                 SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 72, 72, 3}), 0.5);
    cr_assert_null(seer_model_forward(m, c, x));
    cr_assert(strstr(seer_ctx_error(c), "56x56"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
    seer_model_free(m);
}
