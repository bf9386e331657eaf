// Sparsifiner against the official code (tools/golden/make_vit.py): a tiny model (6x6 patches,
// 37 tokens, 12 reduced tokens, top-8 coefficients, 10 kept keys per query) with random
// weights on 3 real photos. Logits, and the per-block connectivity masks exactly.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "backbones/vit.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

// tests/test_vit.c
void vit_golden_check(const char *name, const char *weights, seer_device dev, seer_dtype dt,
                      int n_masks);

// The fixture's weights with seer.config + ",sparse_gather=1", in a temp file.
static const char *gather_weights(void) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/seer_test_sparsifiner_gather_%d.safetensors", (int)getpid());
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("vit_sparsifiner.weights.safetensors"), &f),
                 SEER_STATUS_OK);
    seer_st_writer *w = seer_st_writer_new();
    for (int i = 0; i < seer_st_count(f); i++) {
        const char *name = seer_st_name(f, i);
        seer_dtype dt;
        int nd;
        int64_t shape[SEER_MAX_DIMS];
        size_t nb;
        cr_assert_eq(seer_st_info(f, name, &dt, &nd, shape), SEER_STATUS_OK);
        cr_assert_eq(seer_st_writer_add(w, name, dt, nd, shape, seer_st_raw(f, name, &nb)),
                     SEER_STATUS_OK);
    }
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s,sparse_gather=1", seer_st_metadata(f, "seer.config"));
    seer_st_writer_set_metadata(w, "seer.arch", seer_st_metadata(f, "seer.arch"));
    seer_st_writer_set_metadata(w, "seer.config", cfg);
    cr_assert_eq(seer_st_writer_save(w, path), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_close(f);
    return path;
}

Test(sparsifiner, golden_logits_and_masks_cpu) {
    vit_golden_check("vit_sparsifiner", NULL, SEER_DEVICE_CPU, SEER_F32, 2);
}

// F32 masks must match exactly on the GPU too (the predictor runs in F32 in every mode).
Test(sparsifiner, golden_cuda_f32_bf16_f16, .timeout = 300) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    vit_golden_check("vit_sparsifiner", NULL, SEER_DEVICE_CUDA, SEER_F32, 2);
    const char *path = gather_weights();
    vit_golden_check("vit_sparsifiner", path, SEER_DEVICE_CUDA, SEER_F32, 2);
    vit_golden_check("vit_sparsifiner", path, SEER_DEVICE_CUDA, SEER_BF16, 2);
    unlink(path);
    vit_golden_check("vit_sparsifiner", NULL, SEER_DEVICE_CUDA, SEER_BF16, 2);
    vit_golden_check("vit_sparsifiner", NULL, SEER_DEVICE_CUDA, SEER_F16, 2);
}

// The sparse form (gathered keys) against the same reference logits and masks.
Test(sparsifiner, golden_gathered_keys_cpu) {
    const char *path = gather_weights();
    vit_golden_check("vit_sparsifiner", path, SEER_DEVICE_CPU, SEER_F32, 2);
    unlink(path);
}

Test(sparsifiner, plain_forward_equals_masked_forward) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("vit_sparsifiner.weights.safetensors"), NULL,
                                 SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng r = seer_rng_new(3);
    float x[2 * 48 * 48 * 3], a[20], b[20];
    seer_rng_fill(&r, x, sizeof x / sizeof *x);
    seer_tensor *in = seer_from_host(c, x, SEER_F32, 4, (int64_t[]){2, 48, 48, 3});
    seer_tensor *masks[1];
    cr_assert_eq(seer_to_host(c, seer_model_forward(m, c, in), a), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, seer_sparsifiner_forward_masks(m, c, in, masks, 1), b),
                 SEER_STATUS_OK);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(sparsifiner, masks_of_a_dense_model_are_refused) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("vit_deit.weights.safetensors"), NULL, SEER_DEVICE_CPU,
                                 SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *masks[1];
    seer_tensor *x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 32, 32, 3}), 0.5);
    cr_assert_null(seer_sparsifiner_forward_masks(m, c, x, masks, 1));
    cr_assert(strstr(seer_ctx_error(c), "not a Sparsifiner"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(sparsifiner, preset_config) {
    const seer_arch *a = seer_arch_find("sparsifiner");
    cr_assert_not_null(a);
    const vit_config *g = a->config;
    cr_assert_eq(g->attn, VIT_ATTN_SPARSIFINER);
    cr_assert_eq(g->embed_dim, 384);
    cr_assert_eq(g->num_heads, 6);
    cr_assert_eq(g->reduce_n_factor, 6); // 197 // 6 = 32 reduced tokens
    cr_assert_eq((int)ceil(g->attn_keep_rate * 197), 50);
    cr_assert_str_eq(a->preprocess, "deit");
}
