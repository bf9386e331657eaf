// Sparsifiner against the official code (tools/golden/make_vit.py): a tiny model (6x6 patches,
// 37 tokens, 12 reduced tokens, top-8 coefficients, 10 kept keys per query) with random
// weights on 3 real photos. Logits, and the per-block connectivity masks exactly. The same on
// LV-ViT (sparsifiner_lvvit.py: conv stem with BatchNorm, skip_lam, token-labeling head).
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

// Fixture `name`'s weights with seer.config + extra (",key=value..."), in a temp file.
static const char *config_weights(const char *name, const char *extra) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/seer_test_sparsifiner_cfg_%d.safetensors", (int)getpid());
    seer_st_file *f = NULL;
    char file[128];
    snprintf(file, sizeof file, "%s.weights.safetensors", name);
    cr_assert_eq(seer_st_open(golden_path(file), &f), SEER_STATUS_OK);
    seer_st_writer *w = seer_st_writer_new();
    golden_copy_tensors(f, w);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s%s", seer_st_metadata(f, "seer.config"), extra);
    seer_st_writer_set_metadata(w, "seer.arch", seer_st_metadata(f, "seer.arch"));
    seer_st_writer_set_metadata(w, "seer.config", cfg);
    cr_assert_eq(seer_st_writer_save(w, path), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_close(f);
    return path;
}

static const char *gather_weights(void) {
    return config_weights("vit_sparsifiner", ",sparse_gather=1");
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

Test(sparsifiner, lvvit_golden_logits_and_masks_cpu) {
    vit_golden_check("vit_sparsifiner_lvvit", NULL, SEER_DEVICE_CPU, SEER_F32, 2);
}

Test(sparsifiner, lvvit_golden_cuda_f32_bf16, .timeout = 300) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    vit_golden_check("vit_sparsifiner_lvvit", NULL, SEER_DEVICE_CUDA, SEER_F32, 2);
    vit_golden_check("vit_sparsifiner_lvvit", NULL, SEER_DEVICE_CUDA, SEER_BF16, 2);
}

// LV-ViT configs that do not fit the file or each other are refused, naming what is wrong.
Test(sparsifiner, lvvit_bad_configs_are_refused) {
    static const char *const cases[][2] = {
        {",distilled=1", "token-labeling head"},      // aux_head takes one class token
        {",qkv_bias=1", "blocks.0.attn.qkv.bias"},    // the file has no qkv bias
        {",stem_dim=32", "patch_embed.conv1.weight"}, // the stem is 64 wide in the file
        {",skip_lam=-1", "skip_lam"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = config_weights("vit_sparsifiner_lvvit", cases[i][0]);
        seer_model *m = NULL;
        seer_status st = seer_model_load(path, NULL, SEER_DEVICE_CPU, SEER_F32, &m);
        unlink(path);
        cr_expect_neq(st, SEER_STATUS_OK, "%s loaded", cases[i][0]);
        cr_expect(strstr(seer_last_error(), cases[i][1]), "%s: %s", cases[i][0], seer_last_error());
        seer_model_free(m);
    }
}

// The attention view of LV-ViT (vit_attention.c) against the official last-block mask: the
// fraction of (head, patch query) pairs keeping each key, and of heads for one query patch.
Test(sparsifiner, lvvit_attention_view_from_the_official_mask) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("vit_sparsifiner_lvvit.weights.safetensors"), NULL,
                                 SEER_DEVICE_CPU, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("vit_sparsifiner_lvvit.io.safetensors"), &io),
                 SEER_STATUS_OK);
    int nd, nm;
    int64_t sx[6], sm[6];
    float *x = golden_read(io, "input", &nd, sx), *mask = golden_read(io, "mask1", &nm, sm);
    const int64_t B = sm[0], H = sm[1], L = sm[2], N = L - 1, g = 6;
    cr_assert_eq(N, g * g);
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *in = seer_from_host(c, x, SEER_F32, nd, sx);
    const float qx = 0.6f, qy = 0.3f; // a query patch: column 3, row 1
    const int64_t tok = 1 + seer_attention_query_cell(qx, qy, g, g);
    for (int q = 0; q < 2; q++) {
        seer_tensor *a =
            q ? seer_model_attention(m, c, in, qx, qy) : seer_model_attention(m, c, in, -1, -1);
        cr_assert_not_null(a, "%s", seer_ctx_error(c));
        cr_assert(a->ndim == 3 && a->shape[0] == B && a->shape[1] == g && a->shape[2] == g);
        float got[3 * 36], want[3 * 36];
        cr_assert(B <= 3);
        cr_assert_eq(seer_to_host(c, a, got), SEER_STATUS_OK);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < N; j++) {
                double kept = 0;
                for (int64_t h = 0; h < H; h++)
                    for (int64_t i = q ? tok : 1; i < (q ? tok + 1 : L); i++)
                        kept += mask[((b * H + h) * L + i) * L + 1 + j];
                want[b * N + j] = (float)(kept / (double)(H * (q ? 1 : N)));
            }
        double rel = seer_rel_l2(got, want, (size_t)(B * N));
        cr_expect_leq(rel, 1e-6, "attention view %s: rel-L2 %g", q ? "query" : "all", rel);
    }
    free(x), free(mask);
    seer_ctx_free(c);
    seer_st_close(io);
    seer_model_free(m);
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

// LV-ViT-S as src/main.py builds `sparsifiner_lvvit`, evaluated by the same transform.
Test(sparsifiner, lvvit_preset_config) {
    const seer_arch *a = seer_arch_find("sparsifiner_lvvit");
    cr_assert_not_null(a);
    const vit_config *g = a->config;
    cr_assert_eq(g->attn, VIT_ATTN_SPARSIFINER);
    cr_assert(g->embed_dim == 384 && g->depth == 16 && g->num_heads == 6 && g->mlp_ratio == 3.0);
    cr_assert(g->stem_dim == 64 && g->skip_lam == 2.0 && g->ln_eps == 1e-5);
    cr_assert(!g->qkv_bias && g->aux_head && !g->distilled);
    cr_assert_eq(g->reduce_n_factor, 6);
    cr_assert_eq((int)ceil(g->attn_keep_rate * 197), 50);
    cr_assert_str_eq(a->preprocess, "deit");
}
