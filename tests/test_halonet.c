// HaloNet family against timm (tools/golden/make_halonet.py): three tiny ByobNet configs with
// random weights on real photos, described to seer by the fixture's seer.halonet_cfg
// metadata. a: tiered stem, SE, halo attention with strided queries, non-square input; b: ECA,
// grouped convs, no-shortcut blocks, odd block size with the average-pool downsample; c: 7x7
// stem, per-stage overrides, BoTNet bottleneck attention at a fixed size.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backbones/model.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

static double l2(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s);
}

// Runs fixture `name` on its input `sfx` ("" or "_1") on dev in dtype dt and checks logits
// and features: F32 to the reference's tolerance, F16/BF16 to 2e-2 with the same top-1.
static void check_golden(const char *name, const char *sfx, seer_device dev, seer_dtype dt) {
    char path[256], key[64];
    snprintf(path, sizeof path, "halonet_%s.weights.safetensors", name);
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path(path), NULL, dev, dt, &m), SEER_STATUS_OK, "%s",
                 seer_last_error());
    snprintf(path, sizeof path, "halonet_%s.io.safetensors", name);
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path(path), &io), SEER_STATUS_OK);
    int nd, nl, nf;
    int64_t sx[6], sl[6], sf[6];
    snprintf(key, sizeof key, "input%s", sfx);
    float *x = golden_read(io, key, &nd, sx);
    snprintf(key, sizeof key, "logits%s", sfx);
    float *want_l = golden_read(io, key, &nl, sl);
    snprintf(key, sizeof key, "features%s", sfx);
    float *want_f = golden_read(io, key, &nf, sf);

    seer_ctx *c = seer_ctx_new(dev);
    cr_assert_not_null(c, "%s", seer_last_error());
    seer_tensor *in = seer_from_host(c, x, dt, nd, sx);
    seer_tensor *logits = seer_model_forward(m, c, in);
    seer_tensor *feats = seer_model_features(m, c, in);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    cr_assert_eq(logits->shape[0], sl[0]);
    cr_assert_eq(logits->shape[1], sl[1]);
    cr_assert_eq(feats->shape[1], sf[1]);
    size_t n_l = (size_t)(sl[0] * sl[1]), n_f = (size_t)(sf[0] * sf[1]);
    float *got = malloc(sizeof(float) * (2 * n_l + n_f)), *cw = malloc(sizeof(float) * n_l);
    cr_assert_eq(seer_to_host(c, logits, got), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, feats, got + n_l), SEER_STATUS_OK);
    double e_l = seer_rel_l2(got, want_l, n_l), e_f = seer_rel_l2(got + n_l, want_f, n_f);
    double max_l = seer_max_abs_diff(got, want_l, n_l), norm_l = l2(want_l, n_l);
    memcpy(got + n_l + n_f, got, sizeof(float) * n_l);
    memcpy(cw, want_l, sizeof(float) * n_l);
    golden_center_rows(got + n_l + n_f, sl[0], sl[1]);
    golden_center_rows(cw, sl[0], sl[1]);
    double e_c = seer_rel_l2(got + n_l + n_f, cw, n_l);
    cr_log_info("halonet_%s %lldx%lld %s %s: logits rel-L2 %.2e, max-abs %.2e (%.2e of the "
                "norm), image-dependent part rel-L2 %.2e; features rel-L2 %.2e",
                name, (long long)sx[1], (long long)sx[2], seer_device_name(dev),
                seer_dtype_name(dt), e_l, max_l, max_l / norm_l, e_c, e_f);
    if (dt == SEER_F32) {
        cr_expect_leq(e_l, 1e-5, "logits rel-L2 %g", e_l);
        cr_expect_leq(max_l, 1e-4 * norm_l, "logits max-abs %g (norm %g)", max_l, norm_l);
        cr_expect_leq(e_c, 1e-5, "image-dependent logits rel-L2 %g", e_c);
        cr_expect_leq(e_f, 1e-5, "features rel-L2 %g", e_f);
    } else {
        cr_expect_leq(e_l, 2e-2, "%s logits rel-L2 %g", seer_dtype_name(dt), e_l);
        cr_expect_leq(e_f, 2e-2, "%s features rel-L2 %g", seer_dtype_name(dt), e_f);
    }
    for (int64_t i = 0; i < sl[0]; i++)
        cr_expect_eq(golden_argmax(got + i * sl[1], sl[1]), golden_argmax(want_l + i * sl[1], sl[1]),
                     "halonet_%s %s: top-1 of image %lld differs", name, seer_dtype_name(dt),
                     (long long)i);
    free(got);
    free(cw);
    free(x);
    free(want_l);
    free(want_f);
    seer_st_close(io);
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(halonet, golden_a_tiered_se_strided_halo_cpu) {
    check_golden("a", "", SEER_DEVICE_CPU, SEER_F32);
}
Test(halonet, golden_a_non_square_input_cpu) {
    check_golden("a", "_1", SEER_DEVICE_CPU, SEER_F32);
}
Test(halonet, golden_b_eca_grouped_avgpool_halo_cpu) {
    check_golden("b", "", SEER_DEVICE_CPU, SEER_F32);
}
Test(halonet, golden_b_non_square_input_cpu) {
    check_golden("b", "_1", SEER_DEVICE_CPU, SEER_F32);
}
Test(halonet, golden_c_7x7_halo_bottleneck_attn_cpu) {
    check_golden("c", "", SEER_DEVICE_CPU, SEER_F32);
}

// The same fixtures on the GPU (skipped without one): F32, BF16 and F16 compute.
Test(halonet, golden_cuda_f32_bf16_f16, .timeout = 300) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    static const char *const runs[][2] = {
        {"a", ""}, {"a", "_1"}, {"b", ""}, {"b", "_1"}, {"c", ""}};
    static const seer_dtype dts[] = {SEER_F32, SEER_BF16, SEER_F16};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++)
        for (int j = 0; j < 3; j++)
            check_golden(runs[i][0], runs[i][1], SEER_DEVICE_CUDA, dts[j]);
}

// The forward error for an input of h x w.
static const char *forward_error(const char *fixture, int h, int w) {
    static char msg[512];
    char path[256];
    snprintf(path, sizeof path, "halonet_%s.weights.safetensors", fixture);
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path(path), NULL, SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, h, w, 3}), 0.5);
    cr_assert_null(seer_model_forward(m, c, x));
    snprintf(msg, sizeof msg, "%s", seer_ctx_error(c));
    seer_ctx_free(c);
    seer_model_free(m);
    return msg;
}

Test(halonet, input_size_rules_are_named) {
    // a: 96 / 16 = 6 is not a multiple of the block size 4 in the last stage
    const char *e = forward_error("a", 96, 96);
    cr_assert(strstr(e, "stages.2.1.self_attn") && strstr(e, "6x6") && strstr(e, "block size 4"),
              "%s", e);
    // b: 72 / 8 = 9 is, 72 / 16 = 4 (after the 2x2 pool) is not a multiple of 3
    e = forward_error("b", 72, 72);
    cr_assert(strstr(e, "stages.2.1.self_attn") && strstr(e, "4x4") && strstr(e, "block size 3"),
              "%s", e);
    // c: the bottleneck attention's position table is for 64x64 inputs (8x8 at stage 3)
    e = forward_error("c", 128, 128);
    cr_assert(strstr(e, "stages.2.0.self_attn") && strstr(e, "8x8") && strstr(e, "16x16"), "%s", e);
}

// Fixture a's tensors in a temporary file with the given halonet config (NULL: none).
static const char *write_variant(const char *cfg) {
    static char out[256];
    snprintf(out, sizeof out, "/tmp/seer_test_halonet_%d.safetensors", (int)getpid());
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("halonet_a.weights.safetensors"), &f), SEER_STATUS_OK);
    seer_st_writer *w = seer_st_writer_new();
    for (int i = 0; i < seer_st_count(f); i++) {
        const char *name = seer_st_name(f, i);
        seer_dtype dt;
        int nd;
        int64_t shape[6];
        size_t n;
        cr_assert_eq(seer_st_info(f, name, &dt, &nd, shape), SEER_STATUS_OK);
        const void *raw = seer_st_raw(f, name, &n);
        cr_assert_eq(seer_st_writer_add(w, name, dt, nd, shape, raw), SEER_STATUS_OK);
    }
    seer_st_writer_set_metadata(w, "seer.arch", "halonet26t");
    if (cfg) seer_st_writer_set_metadata(w, "seer.halonet_cfg", cfg);
    cr_assert_eq(seer_st_writer_save(w, out), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_close(f);
    return out;
}

static const char *load_error(const char *cfg) {
    const char *path = write_variant(cfg);
    seer_model *m = NULL;
    seer_status st = seer_model_load(path, NULL, SEER_DEVICE_CPU, SEER_F32, &m);
    unlink(path);
    cr_assert_neq(st, SEER_STATUS_OK);
    cr_assert_null(m);
    return seer_last_error();
}

Test(halonet, weights_of_another_config_are_refused_by_name) {
    // without its config the tiny network is read as the halonet26t preset: 24 stem channels
    const char *e = load_error(NULL);
    cr_assert(strstr(e, "stem.conv1.conv.weight") && strstr(e, "[24, 3, 3, 3]"), "%s", e);
    // one self-attention block too many in stage 1
    e = load_error("stem=tiered:16:max act=relu attn=se:0.25 sa=halo:4:1:2:0:1 "
                   "stages=B/32/1/0/0.25,SS/48/2/0/0.5,SS/64/2/0/0.5");
    cr_assert(strstr(e, "stages.1.0.self_attn"), "%s", e);
}

Test(halonet, bad_configs_are_explained) {
    const char *e = load_error("stages=BX/32/1/0/1");
    cr_assert(strstr(e, "halonet config") && strstr(e, "BX"), "%s", e);
    e = load_error("stages=SB/32/1/0/1 sa=none");
    cr_assert(strstr(e, "stage 0") && strstr(e, "sa="), "%s", e);
    e = load_error("sa=halo:4:1:0:0:1");
    cr_assert(strstr(e, "halo:4:1:0:0:1"), "%s", e);
    e = load_error("stem=tiered:16:avg");
    cr_assert(strstr(e, "tiered:16:avg"), "%s", e);
    e = load_error("blocks=3");
    cr_assert(strstr(e, "unknown key 'blocks'"), "%s", e);
    // 5 heads do not divide the 24 channels of stage 1's attention
    e = load_error("stem=tiered:16:max act=relu attn=se:0.25 sa=halo:4:1:5:0:1 "
                   "stages=B/32/1/0/0.25,BS/48/2/0/0.5,SS/64/2/0/0.5");
    cr_assert(strstr(e, "stages.1.1.self_attn") && strstr(e, "5 heads"), "%s", e);
}

Test(halonet, presets_are_registered_with_their_preprocessing) {
    static const char *names[] = {"halonet26t",       "sehalonet33ts",       "halonet50ts",
                                  "eca_halonext26ts", "halo2botnet50ts_256", "haloregnetz_b",
                                  "halonet_h1"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const seer_arch *a = seer_arch_find(names[i]);
        cr_assert_not_null(a, "%s", names[i]);
        cr_assert_str_eq(a->family, "halonet");
        cr_assert_str_eq(a->labels, "imagenet");
        cr_assert_eq(a->num_classes, 1000);
    }
    cr_assert_eq(seer_arch_find("haloregnetz_b")->img_size, 224);
    cr_assert(strstr(seer_arch_find("haloregnetz_b")->preprocess, "mean=0.5"));
    cr_assert(strstr(seer_arch_find("halonet26t")->preprocess, "crop_pct=0.95,size=256"));
    cr_assert(strstr(seer_arch_find("sehalonet33ts")->preprocess, "crop_pct=0.94,size=256"));
}

// Our CIFAR-10 model (tools/torch_ref/halonet.py's CIFAR config): 32x32, "cifar" preprocessing.
Test(halonet, cifar_preset_registered) {
    const seer_arch *a = seer_arch_find("halonet_cifar");
    cr_assert_not_null(a);
    cr_expect_str_eq(a->family, "halonet");
    cr_expect_eq(a->img_size, 32);
    cr_expect_eq(a->num_classes, 10);
    cr_expect_str_eq(a->preprocess, "cifar");
    cr_expect_str_eq(a->labels, "cifar10");
}
