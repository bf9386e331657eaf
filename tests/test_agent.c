// Agent attention: the op against a naive loop, and Agent-DeiT against the official code
// (tools/golden/make_vit.py) at two resolutions: 4x4 patches with 4 agents (bias 7x7 -> 4x4),
// and 6x6 patches with 16, 16 and 9 agents (uneven pooling) and a dense last block.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "backbones/vit.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

// tests/test_vit.c
void vit_golden_check(const char *name, const char *weights, seer_device dev, seer_dtype dt,
                      int n_masks);

Test(agent, golden_agent_deit_32_cpu) {
    vit_golden_check("vit_agent32", NULL, SEER_DEVICE_CPU, SEER_F32, 0);
}

Test(agent, golden_agent_deit_48_cpu) {
    vit_golden_check("vit_agent48", NULL, SEER_DEVICE_CPU, SEER_F32, 0);
}

Test(agent, golden_cuda_f32_bf16_f16, .timeout = 300) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    static const seer_dtype dts[] = {SEER_F32, SEER_BF16, SEER_F16};
    for (int j = 0; j < 3; j++) {
        vit_golden_check("vit_agent32", NULL, SEER_DEVICE_CUDA, dts[j], 0);
        vit_golden_check("vit_agent48", NULL, SEER_DEVICE_CUDA, dts[j], 0);
    }
}

// softmax(s * a b^T + bias) c for one (batch, head) slice, in double.
static void naive_attn(const float *a, const float *b, const float *cv, const float *bias, int m,
                       int n, int d, float s, double *out) {
    for (int i = 0; i < m; i++) {
        double w[64], mx = -INFINITY, sum = 0;
        for (int j = 0; j < n; j++) {
            double t = 0;
            for (int e = 0; e < d; e++)
                t += (double)a[i * d + e] * b[j * d + e];
            w[j] = s * t + (bias ? bias[i * n + j] : 0);
            mx = fmax(mx, w[j]);
        }
        for (int j = 0; j < n; j++)
            sum += (w[j] = exp(w[j] - mx));
        for (int e = 0; e < d; e++) {
            double t = 0;
            for (int j = 0; j < n; j++)
                t += w[j] / sum * cv[j * d + e];
            out[i * d + e] = t;
        }
    }
}

Test(agent, op_matches_naive_two_softmaxes) {
    enum { B = 2, H = 3, L = 11, A = 4, D = 8 };
    seer_rng r = seer_rng_new(7);
    static float q[B * H * L * D], k[B * H * L * D], v[B * H * L * D], ag[B * H * A * D];
    static float b1[H * A * L], b2[H * L * A];
    seer_rng_fill(&r, q, sizeof q / 4);
    seer_rng_fill(&r, k, sizeof k / 4);
    seer_rng_fill(&r, v, sizeof v / 4);
    seer_rng_fill(&r, ag, sizeof ag / 4);
    seer_rng_fill(&r, b1, sizeof b1 / 4);
    seer_rng_fill(&r, b2, sizeof b2 / 4);
    const float s = 0.3f;
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *tq = seer_from_host(c, q, SEER_F32, 4, (int64_t[]){B, H, L, D});
    seer_tensor *tk = seer_from_host(c, k, SEER_F32, 4, (int64_t[]){B, H, L, D});
    seer_tensor *tv = seer_from_host(c, v, SEER_F32, 4, (int64_t[]){B, H, L, D});
    seer_tensor *ta = seer_from_host(c, ag, SEER_F32, 4, (int64_t[]){B, H, A, D});
    seer_tensor *tb1 = seer_from_host(c, b1, SEER_F32, 4, (int64_t[]){1, H, A, L});
    seer_tensor *tb2 = seer_from_host(c, b2, SEER_F32, 4, (int64_t[]){1, H, L, A});
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        seer_tensor *o = seer_agent_attention(c, tq, tk, tv, ta, with_bias ? tb1 : NULL,
                                              with_bias ? tb2 : NULL, s);
        cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));
        static float got[B * H * L * D], want[B * H * L * D];
        cr_assert_eq(seer_to_host(c, o, got), SEER_STATUS_OK);
        for (int bh = 0; bh < B * H; bh++) {
            int h = bh % H;
            double av[A * D], out[L * D];
            naive_attn(ag + bh * A * D, k + bh * L * D, v + bh * L * D,
                       with_bias ? b1 + h * A * L : NULL, A, L, D, s, av);
            float avf[A * D];
            for (int i = 0; i < A * D; i++)
                avf[i] = (float)av[i];
            naive_attn(q + bh * L * D, ag + bh * A * D, avf, with_bias ? b2 + h * L * A : NULL, L,
                       A, D, s, out);
            for (int i = 0; i < L * D; i++)
                want[bh * L * D + i] = (float)out[i];
        }
        double e = seer_rel_l2(got, want, B * H * L * D);
        cr_log_info("agent attention op (bias %d): rel-L2 %.2e", with_bias, e);
        cr_assert_leq(e, 1e-5);
    }
    seer_ctx_free(c);
}

Test(agent, presets) {
    const vit_config *t = seer_arch_find("agent_deit_tiny")->config;
    cr_assert_eq(t->agent_num[0], 49);
    cr_assert_eq(t->agent_layer, 12);
    const vit_config *b = seer_arch_find("agent_deit_base")->config;
    cr_assert_eq(b->agent_num[0], 81);
    cr_assert_eq(b->agent_layer, 4);
    const seer_arch *s448 = seer_arch_find("agent_deit_small_448");
    cr_assert_not_null(s448);
    cr_assert_eq(s448->img_size, 448);
    cr_assert_str_eq(s448->preprocess, "agent,squash=512,size=448");
}
