// FID Inception-v3 against the PyTorch reference (tools/golden/make_inception_fid.py): width
// divided by 16, random weights and BN statistics, real photos at 75x75 and 96x128 that the
// model resizes to 299 itself.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backbones/model.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

static seer_model *load_w16(seer_device dev) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("inception_fid_w16.weights.safetensors"), NULL, dev, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_str_eq(m->arch->name, "inception_v3_fid");
    return m;
}

// Features and logits of fixture input `which` ("a" or "b") on ctx c, into host buffers.
static void run(seer_model *m, seer_ctx *c, const seer_st_file *io, const char *which, float **feats,
                float **logits, int64_t *n_f, int64_t *n_l) {
    char name[32];
    int nd;
    int64_t sx[6];
    snprintf(name, sizeof name, "input_%s", which);
    float *x = golden_read(io, name, &nd, sx);
    seer_tensor *in = seer_from_host(c, x, SEER_F32, nd, sx);
    seer_tensor *f = seer_model_features(m, c, in);
    seer_tensor *l = seer_model_forward(m, c, in);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    *n_f = seer_tensor_numel(f);
    *n_l = seer_tensor_numel(l);
    *feats = malloc(sizeof(float) * (size_t)*n_f);
    *logits = malloc(sizeof(float) * (size_t)*n_l);
    cr_assert_eq(seer_to_host(c, f, *feats), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, l, *logits), SEER_STATUS_OK);
    free(x);
}

Test(inception_fid, golden_features_and_logits_cpu, .timeout = 120) {
    seer_model *m = load_w16(SEER_DEVICE_CPU);
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("inception_fid_w16.io.safetensors"), &io), SEER_STATUS_OK);
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    const char *inputs[2] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        float *f, *l;
        int64_t nf, nl, sf[6], sl[6];
        int nd;
        run(m, c, io, inputs[i], &f, &l, &nf, &nl);
        char name[32];
        snprintf(name, sizeof name, "features_%s", inputs[i]);
        float *want_f = golden_read(io, name, &nd, sf);
        snprintf(name, sizeof name, "logits_%s", inputs[i]);
        float *want_l = golden_read(io, name, &nd, sl);
        cr_assert_eq(nf, sf[0] * sf[1]);
        cr_assert_eq(sf[1], 128);  // 2048 / 16
        cr_assert_eq(nl, sl[0] * sl[1]);
        double e_f = seer_rel_l2(f, want_f, (size_t)nf), e_l = seer_rel_l2(l, want_l, (size_t)nl);
        cr_log_info("inception_fid golden %s: features rel-L2 %.2e, logits rel-L2 %.2e", inputs[i], e_f, e_l);
        cr_assert_leq(e_f, 1e-5, "features rel-L2 %g", e_f);
        cr_assert_leq(e_l, 1e-5, "logits rel-L2 %g", e_l);
        if (sf[0] == 2) {
            // The image-dependent part: features minus their batch mean.
            int d = (int)sf[1];
            for (int j = 0; j < d; j++) {
                float mg = (f[j] + f[d + j]) / 2, mw = (want_f[j] + want_f[d + j]) / 2;
                f[j] -= mg, f[d + j] -= mg, want_f[j] -= mw, want_f[d + j] -= mw;
            }
            double e = seer_rel_l2(f, want_f, (size_t)nf);
            cr_log_info("inception_fid golden a: image-dependent features rel-L2 %.2e", e);
            cr_assert_leq(e, 2e-5, "image-dependent part rel-L2 %g", e);
        }
        free(f);
        free(l);
        free(want_f);
        free(want_l);
        seer_ctx_reset(c);
    }
    seer_st_close(io);
    seer_ctx_free(c);
    seer_model_free(m);
}

// An input already at 299x299 skips the resize: features of resize(x) computed outside the
// model equal the features of x resized inside it.
Test(inception_fid, input_at_299_is_not_resized_again, .timeout = 120) {
    seer_model *m = load_w16(SEER_DEVICE_CPU);
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("inception_fid_w16.io.safetensors"), &io), SEER_STATUS_OK);
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    int nd;
    int64_t sx[6];
    float *x = golden_read(io, "input_a", &nd, sx);
    seer_tensor *in = seer_from_host(c, x, SEER_F32, nd, sx);
    seer_tensor *in299 = seer_resize(c, in, 299, 299, SEER_RESIZE_BILINEAR, false);
    seer_tensor *f1 = seer_model_features(m, c, in), *f2 = seer_model_features(m, c, in299);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    float a[256], b[256];
    cr_assert_eq(seer_to_host(c, f1, a), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, f2, b), SEER_STATUS_OK);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    free(x);
    seer_st_close(io);
    seer_ctx_free(c);
    seer_model_free(m);
}

// The fixture's tensors with other metadata, written to dir/name.
static void rewrite(const char *dst, const char *width_div) {
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("inception_fid_w16.weights.safetensors"), &f), SEER_STATUS_OK);
    seer_st_writer *w = seer_st_writer_new();
    for (int i = 0; i < seer_st_count(f); i++) {
        const char *name = seer_st_name(f, i);
        seer_dtype dt;
        int nd;
        int64_t sh[6];
        size_t nb;
        cr_assert_eq(seer_st_info(f, name, &dt, &nd, sh), SEER_STATUS_OK);
        cr_assert_eq(seer_st_writer_add(w, name, dt, nd, sh, seer_st_raw(f, name, &nb)), SEER_STATUS_OK);
    }
    cr_assert_eq(seer_st_writer_set_metadata(w, "seer.arch", "inception_v3_fid"), SEER_STATUS_OK);
    if (width_div) cr_assert_eq(seer_st_writer_set_metadata(w, "seer.width_div", width_div), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_save(w, dst), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_close(f);
}

Test(inception_fid, width_mismatch_is_refused_by_name) {
    char dir[] = "/tmp/seer_incep_XXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    seer_model *m = NULL;
    // The full-width model (no seer.width_div) does not fit width-16 weights.
    rewrite(path, NULL);
    cr_assert_neq(seer_model_load(path, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_assert_null(m);
    cr_assert(strstr(seer_last_error(), "Conv2d_1a_3x3.conv.weight") && strstr(seer_last_error(), "[32, 3, 3, 3]"),
              "%s", seer_last_error());
    rewrite(path, "3");
    cr_assert_eq(seer_model_load(path, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_FORMAT);
    cr_assert(strstr(seer_last_error(), "seer.width_div"), "%s", seer_last_error());
    unlink(path);
    rmdir(dir);
    // Another family's weights name the first tensor that is missing.
    cr_assert_neq(seer_model_load(golden_path("resnet8_cifar.weights.safetensors"), "inception_v3_fid",
                                  SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "Conv2d_1a_3x3"), "%s", seer_last_error());
}

Test(inception_fid, cuda_matches_cpu, .timeout = 120) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_model *mc = load_w16(SEER_DEVICE_CPU), *mg = load_w16(SEER_DEVICE_CUDA);
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("inception_fid_w16.io.safetensors"), &io), SEER_STATUS_OK);
    seer_ctx *cc = seer_ctx_new(SEER_DEVICE_CPU), *cg = seer_ctx_new(SEER_DEVICE_CUDA);
    cr_assert_not_null(cg, "%s", seer_last_error());
    float *fc, *lc, *fg, *lg;
    int64_t nf, nl;
    run(mc, cc, io, "b", &fc, &lc, &nf, &nl);
    run(mg, cg, io, "b", &fg, &lg, &nf, &nl);
    double e = seer_rel_l2(fg, fc, (size_t)nf);
    cr_log_info("inception_fid CUDA vs CPU: features rel-L2 %.2e", e);
    cr_assert_leq(e, 1e-5, "features rel-L2 %g", e);
    free(fc), free(lc), free(fg), free(lg);
    seer_st_close(io);
    seer_ctx_free(cc), seer_ctx_free(cg);
    seer_model_free(mc), seer_model_free(mg);
}
