// DeiT (timm VisionTransformer / VisionTransformerDistilled) against the reference
// (tools/golden/make_vit.py): tiny random-weight models on 3 real photos. vit_golden_check is
// shared with tests/test_sparsifiner.c and tests/test_agent.c (the ViT family's fixtures).
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "backbones/vit.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

static int argmax_row(const float *x, int64_t n) {
    int best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = (int)i;
    return best;
}

// Fixture `name` on (dev, dt): logits to rel-L2 1e-5 and max-abs 1e-4 * norm in F32, to rel-L2
// 2e-2 with the same top-1 in BF16/F16. n_masks > 0 (Sparsifiner): also masks mask0.. exactly in
// F32 (counted and logged in BF16/F16, where q and k themselves are rounded). weights: another
// weights file for the fixture's inputs and outputs, or NULL.
void vit_golden_check(const char *name, const char *weights, seer_device dev, seer_dtype dt,
                      int n_masks) {
    char wpath[1100], iopath[1100];
    snprintf(wpath, sizeof wpath, "%s.weights.safetensors", golden_path(name));
    if (weights) snprintf(wpath, sizeof wpath, "%s", weights);
    snprintf(iopath, sizeof iopath, "%s.io.safetensors", golden_path(name));
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(wpath, NULL, dev, dt, &m), SEER_STATUS_OK, "%s",
                 seer_last_error());
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(iopath, &io), SEER_STATUS_OK);
    int nd, nl;
    int64_t sx[6], sl[6];
    float *x = golden_read(io, "input", &nd, sx);
    float *want = golden_read(io, "logits", &nl, sl);
    seer_ctx *c = seer_ctx_new(dev);
    seer_tensor *masks[16] = {0};
    seer_tensor *in = seer_from_host(c, x, dt, nd, sx);
    seer_tensor *logits = n_masks ? seer_sparsifiner_forward_masks(m, c, in, masks, n_masks)
                                  : seer_model_forward(m, c, in);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    cr_assert(logits->shape[0] == sl[0] && logits->shape[1] == sl[1]);
    size_t n = (size_t)(sl[0] * sl[1]);
    float *got = malloc(sizeof(float) * n);
    cr_assert_eq(seer_to_host(c, logits, got), SEER_STATUS_OK);
    double rel = seer_rel_l2(got, want, n), mx = seer_max_abs_diff(got, want, n), norm = 0;
    for (size_t i = 0; i < n; i++)
        norm += (double)want[i] * want[i];
    norm = sqrt(norm);
    const char *where = dev == SEER_DEVICE_CPU ? "cpu" : "cuda";
    cr_log_info("%s golden (%s %s): logits rel-L2 %.2e, max-abs %.2e (norm %.1f)", name, where,
                seer_dtype_name(dt), rel, mx, norm);
    if (dt == SEER_F32) {
        cr_expect_leq(rel, 1e-5, "%s logits rel-L2 %g", name, rel);
        cr_expect_leq(mx, 1e-4 * norm, "%s logits max-abs %g", name, mx);
    } else {
        cr_expect_leq(rel, 2e-2, "%s %s logits rel-L2 %g", name, seer_dtype_name(dt), rel);
        for (int64_t i = 0; i < sl[0]; i++)
            cr_expect_eq(argmax_row(got + i * sl[1], sl[1]), argmax_row(want + i * sl[1], sl[1]),
                         "%s %s: top-1 of image %lld differs", name, seer_dtype_name(dt),
                         (long long)i);
    }
    for (int i = 0; i < n_masks; i++) {
        char mname[16];
        snprintf(mname, sizeof mname, "mask%d", i);
        int nm;
        int64_t sm[6];
        float *wm = golden_read(io, mname, &nm, sm);
        cr_assert(nm == 4 && masks[i] && masks[i]->ndim == 4);
        for (int d = 0; d < 4; d++)
            cr_assert_eq(masks[i]->shape[d], sm[d]);
        size_t nn = (size_t)(sm[0] * sm[1] * sm[2] * sm[3]), diff = 0, kept = 0, want_kept = 0;
        float *gm = malloc(sizeof(float) * nn);
        cr_assert_eq(seer_to_host(c, masks[i], gm), SEER_STATUS_OK);
        for (size_t j = 0; j < nn; j++) {
            diff += gm[j] != wm[j];
            kept += gm[j] == 1.0f;
            want_kept += wm[j] == 1.0f;
        }
        cr_log_info("%s block %d (%s %s): %zu of %zu mask entries differ, %zu kept", name, i, where,
                    seer_dtype_name(dt), diff, nn, kept);
        cr_expect_eq(kept, want_kept, "block %d keeps %zu entries, the reference %zu", i, kept,
                     want_kept);
        if (dt == SEER_F32) cr_expect_eq(diff, 0, "block %d: %zu mask entries differ", i, diff);
        free(gm);
        free(wm);
    }
    free(got);
    free(x);
    free(want);
    seer_st_close(io);
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(vit, golden_deit_distilled_cpu) {
    vit_golden_check("vit_deit_dist", NULL, SEER_DEVICE_CPU, SEER_F32, 0);
}

Test(vit, golden_deit_cpu) {
    vit_golden_check("vit_deit", NULL, SEER_DEVICE_CPU, SEER_F32, 0);
}

// The same fixtures on the GPU (skipped without one): F32, BF16 and F16 compute.
Test(vit, golden_cuda_f32_bf16_f16, .timeout = 300) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    static const seer_dtype dts[] = {SEER_F32, SEER_BF16, SEER_F16};
    for (int j = 0; j < 3; j++) {
        vit_golden_check("vit_deit_dist", NULL, SEER_DEVICE_CUDA, dts[j], 0);
        vit_golden_check("vit_deit", NULL, SEER_DEVICE_CUDA, dts[j], 0);
    }
}

Test(vit, presets_are_registered) {
    static const struct {
        const char *name, *pre;
        int size;
    } want[] = {
        {"deit_tiny_patch16_224", "deit", 224},
        {"deit_small_patch16_224", "deit", 224},
        {"deit_base_patch16_224", "deit", 224},
        {"deit_tiny_distilled_patch16_224", "deit", 224},
        {"deit_small_distilled_patch16_224", "deit", 224},
        {"deit_base_distilled_patch16_224", "deit", 224},
        {"sparsifiner", "deit", 224},
        {"agent_deit_tiny", "agent", 224},
        {"agent_deit_small", "agent", 224},
        {"agent_deit_base", "agent", 224},
        {"agent_deit_small_448", "agent,squash=512,size=448", 448},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const seer_arch *a = seer_arch_find(want[i].name);
        cr_assert_not_null(a, "%s", want[i].name);
        cr_expect_str_eq(a->family, "vit");
        cr_expect_eq(a->num_classes, 1000);
        cr_expect_eq(a->img_size, want[i].size);
        cr_expect_str_eq(a->preprocess, want[i].pre);
        cr_expect_str_eq(a->labels, "imagenet");
    }
}

Test(vit, wrong_input_size_is_refused) {
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("vit_deit.weights.safetensors"), NULL, SEER_DEVICE_CPU,
                                 SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 40, 40, 3}), 0.5);
    cr_assert_null(seer_model_forward(m, c, x));
    cr_assert(strstr(seer_ctx_error(c), "[B, 32, 32, 3]"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
    seer_model_free(m);
}

Test(vit, weights_of_another_variant_are_refused_by_name) {
    // the distilled fixture read as a plain DeiT: its position embedding has one token more
    seer_model *m = NULL;
    cr_assert_neq(seer_model_load(golden_path("vit_deit_dist.weights.safetensors"),
                                  "deit_tiny_patch16_224", SEER_DEVICE_CPU, SEER_F32, &m),
                  SEER_STATUS_OK);
    cr_assert_null(m);
    cr_assert(strstr(seer_last_error(), "pos_embed"), "%s", seer_last_error());
}

// The vit_deit fixture's tensors and metadata in a temporary file, with metadata
// seer.num_classes set to `num_classes` (NULL: left out) and seer.config `cfg` (NULL: the
// fixture's own). Returns the path.
static const char *write_num_classes_variant(const char *num_classes, const char *cfg) {
    static char out[256];
    snprintf(out, sizeof out, "/tmp/seer_test_vit_%d.safetensors", (int)getpid());
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("vit_deit.weights.safetensors"), &f), SEER_STATUS_OK);
    seer_st_writer *w = seer_st_writer_new();
    golden_copy_tensors(f, w);
    for (int i = 0; i < seer_st_metadata_count(f); i++)
        seer_st_writer_set_metadata(w, seer_st_metadata_key(f, i), seer_st_metadata_value(f, i));
    if (num_classes) seer_st_writer_set_metadata(w, "seer.num_classes", num_classes);
    if (cfg) seer_st_writer_set_metadata(w, "seer.config", cfg);
    cr_assert_eq(seer_st_writer_save(w, out), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_close(f);
    return out;
}

Test(vit, head_size_from_num_classes_metadata_or_config) {
    // the fixture: seer.config num_classes=10, no seer.num_classes -> 10 classes
    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("vit_deit.weights.safetensors"), NULL, SEER_DEVICE_CPU,
                                 SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    cr_expect_eq(m->num_classes, 10);
    seer_model_free(m);
    // both given and equal (what tools/torch_ref/vit.py exports)
    const char *path = write_num_classes_variant("10", NULL);
    cr_assert_eq(seer_model_load(path, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_expect_eq(m->num_classes, 10);
    seer_model_free(m);
    // only seer.num_classes: the head's size comes from it
    path = write_num_classes_variant(
        "10", "img_size=32,patch_size=8,embed_dim=32,depth=1,num_heads=2");
    cr_assert_eq(seer_model_load(path, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_expect_eq(m->num_classes, 10);
    seer_model_free(m);
    // disagreeing: refused with both numbers
    m = NULL;
    path = write_num_classes_variant("7", NULL);
    cr_assert_neq(seer_model_load(path, NULL, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK);
    unlink(path);
    cr_assert_null(m);
    cr_assert(strstr(seer_last_error(), "names 10 classes") && strstr(seer_last_error(), "is 7"), "%s",
              seer_last_error());
}
