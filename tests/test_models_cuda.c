// Every classifier's golden fixture on the CUDA backend: F32 within DESIGN.md's tolerance of
// the reference logits, and BF16 (F32 accumulation) within 2e-2 with the same top-1. The CPU
// runs of the same fixtures are in each family's own test file. Skips without a GPU.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backbones/model.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

typedef struct fixture {
    char weights[64], io[64], input[16], logits[16];
} fixture;

static const fixture fixtures[] = {
    {"resnet8_cifar.weights.safetensors", "resnet8_cifar.io.safetensors", "input", "logits"},
    {"inception_fid_w16.weights.safetensors", "inception_fid_w16.io.safetensors", "input_a", "logits_a"},
    {"van_tiny.weights.safetensors", "van_tiny.io.safetensors", "input_a", "logits_a"},
    {"van_tiny.weights.safetensors", "van_tiny.io.safetensors", "input_b", "logits_b"},
    {"volo_a.weights.safetensors", "volo_a.io.safetensors", "input", "logits"},
    {"volo_b.weights.safetensors", "volo_b.io.safetensors", "input", "logits"},
    {"volo_c.weights.safetensors", "volo_c.io.safetensors", "input", "logits"},
    {"halonet_a.weights.safetensors", "halonet_a.io.safetensors", "input", "logits"},
    {"halonet_b.weights.safetensors", "halonet_b.io.safetensors", "input", "logits"},
    {"halonet_c.weights.safetensors", "halonet_c.io.safetensors", "input", "logits"},
    {"biformer_a.weights.safetensors", "biformer_a.io.safetensors", "input", "logits"},
    {"biformer_b.weights.safetensors", "biformer_b.io.safetensors", "input", "logits"},
    {"vit_deit.weights.safetensors", "vit_deit.io.safetensors", "input", "logits"},
    {"vit_deit_dist.weights.safetensors", "vit_deit_dist.io.safetensors", "input", "logits"},
    {"vit_sparsifiner.weights.safetensors", "vit_sparsifiner.io.safetensors", "input", "logits"},
    {"vit_sparsifiner_lvvit.weights.safetensors", "vit_sparsifiner_lvvit.io.safetensors", "input", "logits"},
    {"vit_agent32.weights.safetensors", "vit_agent32.io.safetensors", "input", "logits"},
    {"vit_agent48.weights.safetensors", "vit_agent48.io.safetensors", "input", "logits"},
};

ParameterizedTestParameters(models_cuda, golden) {
    return cr_make_param_array(fixture, fixtures, sizeof fixtures / sizeof *fixtures);
}

static int argmax_row(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

ParameterizedTest(const fixture *f, models_cuda, golden) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_st_file *io = NULL;
    if (seer_st_open(golden_path(f->io), &io) != SEER_STATUS_OK)
        cr_skip("fixture %s not in this tree", f->io);
    int nd, nl;
    int64_t sx[6], sl[6];
    float *x = golden_read(io, f->input, &nd, sx);
    float *want = golden_read(io, f->logits, &nl, sl);
    const int rows = (int)sl[0], cols = (int)sl[1];
    const size_t n = (size_t)rows * (size_t)cols;
    float *got = malloc(n * sizeof *got);
    const seer_dtype dts[2] = {SEER_F32, SEER_BF16};
    for (int d = 0; d < 2; d++) {
        seer_model *m = NULL;
        cr_assert_eq(seer_model_load(golden_path(f->weights), NULL, SEER_DEVICE_CUDA, dts[d], &m),
                     SEER_STATUS_OK, "%s: %s", f->weights, seer_last_error());
        seer_ctx *c = seer_ctx_new(SEER_DEVICE_CUDA);
        seer_tensor *in = seer_from_host(c, x, dts[d], nd, sx);
        seer_tensor *y = seer_model_forward(m, c, in);
        cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s %s: %s", f->weights,
                     seer_dtype_name(dts[d]), seer_ctx_error(c));
        cr_assert_eq(seer_to_host(c, y, got), SEER_STATUS_OK);
        double rel = seer_rel_l2(got, want, n), mx = seer_max_abs_diff(got, want, n);
        int top1_same = 0;
        for (int r = 0; r < rows; r++)
            top1_same += argmax_row(got + (size_t)r * cols, cols) == argmax_row(want + (size_t)r * cols, cols);
        // printed for the GPU check's log (the closing note quotes these)
        printf("models_cuda %-40s %-8s %-4s rel-L2 %.2e  max-abs %.2e  top-1 %d/%d\n", f->weights,
               f->input, seer_dtype_name(dts[d]), rel, mx, top1_same, rows);
        fflush(stdout);
        if (dts[d] == SEER_F32) {
            cr_expect_leq(rel, 1e-5, "%s f32 rel-L2 %g", f->weights, rel);
        } else {
            cr_expect_leq(rel, 2e-2, "%s bf16 rel-L2 %g", f->weights, rel);
            cr_expect_eq(top1_same, rows, "%s bf16 top-1 %d/%d", f->weights, top1_same, rows);
        }
        seer_ctx_free(c);
        seer_model_free(m);
    }
    free(got);
    free(x);
    free(want);
    seer_st_close(io);
}
