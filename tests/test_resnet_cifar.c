// CIFAR ResNet against the PyTorch reference (tools/golden/make_resnet_cifar.py): a ResNet-8
// with random weights and BN statistics on 4 real CIFAR-10 test images.
#include <criterion/criterion.h>
#include <string.h>

#include "backbones/model.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

Test(resnet_cifar, golden_logits_and_features_cpu) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("resnet8_cifar.weights.safetensors"), NULL,
                                 SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_str_eq(m->arch->name, "resnet8");
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("resnet8_cifar.io.safetensors"), &io), SEER_STATUS_OK);
    int nd, nl, nf;
    int64_t sx[6], sl[6], sf[6];
    float *x = golden_read(io, "input", &nd, sx);
    float *want_logits = golden_read(io, "logits", &nl, sl);
    float *want_feats = golden_read(io, "features", &nf, sf);

    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *in = seer_from_host(c, x, SEER_F32, nd, sx);
    seer_tensor *logits = seer_model_forward(m, c, in);
    seer_tensor *feats = seer_model_features(m, c, in);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    cr_assert_eq(logits->shape[0], sl[0]);
    cr_assert_eq(logits->shape[1], sl[1]);
    size_t n_l = (size_t)(sl[0] * sl[1]), n_f = (size_t)(sf[0] * sf[1]);
    float *got = malloc(sizeof(float) * (n_l + n_f));
    cr_assert_eq(seer_to_host(c, logits, got), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, feats, got + n_l), SEER_STATUS_OK);
    double e_l = seer_rel_l2(got, want_logits, n_l), e_f = seer_rel_l2(got + n_l, want_feats, n_f);
    cr_log_info("resnet8 golden: logits rel-L2 %.2e, features rel-L2 %.2e", e_l, e_f);
    cr_assert_leq(e_l, 1e-5, "logits rel-L2 %g", e_l);
    cr_assert_leq(e_f, 1e-5, "features rel-L2 %g", e_f);
    free(got);
    free(x);
    free(want_logits);
    free(want_feats);
    seer_st_close(io);
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(resnet_cifar, weights_of_another_depth_are_refused_by_name) {
    seer_model *m = NULL;
    seer_status st = seer_model_load(golden_path("resnet8_cifar.weights.safetensors"), "resnet20",
                                     SEER_DEVICE_CPU, SEER_F32, &m);
    cr_assert_neq(st, SEER_STATUS_OK);
    cr_assert_null(m);
    cr_assert(strstr(seer_last_error(), "layer1.1.conv1.weight"), "%s", seer_last_error());
}

Test(resnet_cifar, unknown_arch_and_missing_file) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("resnet8_cifar.weights.safetensors"), "resnet7",
                                 SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_NOT_FOUND);
    cr_assert(strstr(seer_last_error(), "resnet7"));
    cr_assert_neq(seer_model_load("/nonexistent/w.safetensors", NULL, SEER_DEVICE_CPU, SEER_F32, &m),
                  SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "/nonexistent/w.safetensors"), "%s", seer_last_error());
}
