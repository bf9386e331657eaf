// Agent attention (Han et al. 2024) in Agent-DeiT (agent_transformer/models/agent_deit.py,
// AgentAttention). A agents are the patch-token queries average-pooled to a sqrt(A) x sqrt(A)
// grid (the class token is not pooled). Agents first gather from all keys (agent bias), then
// every query, the class token included, reads from the agents (query bias):
//   agent_v = softmax(scale agents k^T + bias1) v
//   x       = softmax(scale q agents^T + bias2) agent_v + [0; dwc(v_patches)]
//   out     = proj(x)
// bias1 [H, A, 1 + W*W]: column 0 (the class key) is ac_bias; the W x W patch keys get
// bilinear(an_bias 7x7 -> W x W) + (ah_bias + aw_bias). bias2 mirrors it with na/ha/wa/ca.
// W = img_size / patch_size. The biases depend only on the resolution: composed at load time.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/vit.h"

#define BIAS_GRID 7 // an_bias / na_bias are [H, A, 7, 7]

seer_tensor *seer_agent_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                  const seer_tensor *v, const seer_tensor *agents,
                                  const seer_tensor *bias1, const seer_tensor *bias2, float scale) {
    seer_tensor *agent_v = seer_attention(c, agents, k, v, bias1, scale); // [B, H, A, Dv]
    return seer_attention(c, q, agents, agent_v, bias2, scale);           // [B, H, Lq, Dv]
}

// F.interpolate(src [n, 7, 7], size=(W, W), mode='bilinear', align_corners=False) on the host.
static void bilinear_7(const float *src, int n, int w_out, float *dst) {
    const double s = (double)BIAS_GRID / w_out;
    for (int i = 0; i < n; i++)
        for (int y = 0; y < w_out; y++) {
            double fy = fmax((y + 0.5) * s - 0.5, 0.0);
            int y0 = (int)fy, y1 = y0 + 1 < BIAS_GRID ? y0 + 1 : BIAS_GRID - 1;
            double ly = fy - y0;
            for (int x = 0; x < w_out; x++) {
                double fx = fmax((x + 0.5) * s - 0.5, 0.0);
                int x0 = (int)fx, x1 = x0 + 1 < BIAS_GRID ? x0 + 1 : BIAS_GRID - 1;
                double lx = fx - x0;
                const float *p = src + (size_t)i * BIAS_GRID * BIAS_GRID;
                double top = (1 - lx) * p[y0 * BIAS_GRID + x0] + lx * p[y0 * BIAS_GRID + x1];
                double bot = (1 - lx) * p[y1 * BIAS_GRID + x0] + lx * p[y1 * BIAS_GRID + x1];
                dst[((size_t)i * w_out + y) * w_out + x] = (float)((1 - ly) * top + ly * bot);
            }
        }
}

seer_status vit_agent_load(seer_loader *l, seer_model *m, const vit *net, vit_block *b,
                           const char *prefix, int agent_num) {
    const int64_t H = net->cfg.num_heads, C = net->cfg.embed_dim, A = agent_num, W = net->grid;
    const int64_t N = W * W, L = net->n_tokens;
    const int pool = (int)lround(sqrt((double)A));
    if (A < 1 || (int64_t)pool * pool != A)
        return seer_fail(SEER_STATUS_FORMAT, "agent attention: agent_num %d is not a square",
                         agent_num);
    b->agent_pool = pool;
    char p[64];
    snprintf(p, sizeof p, "%s.attn", prefix);
    b->dwc_w = seer_load_conv(l, m, seer_loader_name(l, "%s.dwc.weight", p), C, 1, 3, 3);
    b->dwc_b =
        b->dwc_w ? seer_load_tensor(l, m, seer_loader_name(l, "%s.dwc.bias", p), 1, (int64_t[]){C})
                 : NULL;
    if (!b->dwc_b) return SEER_STATUS_FORMAT;

    static const char *names[8] = {"an_bias", "na_bias", "ah_bias", "aw_bias",
                                   "ha_bias", "wa_bias", "ac_bias", "ca_bias"};
    const int64_t shapes[8][5] = {{H, A, BIAS_GRID, BIAS_GRID},
                                  {H, A, BIAS_GRID, BIAS_GRID},
                                  {1, H, A, W, 1},
                                  {1, H, A, 1, W},
                                  {1, H, W, 1, A},
                                  {1, H, 1, W, A},
                                  {1, H, A, 1},
                                  {1, H, 1, A}};
    const int ndims[8] = {4, 4, 5, 5, 5, 5, 4, 4};
    float *t[8] = {0};
    float *an = malloc(sizeof(float) * (size_t)(H * A * N));
    float *na = malloc(sizeof(float) * (size_t)(H * A * N));
    float *b1 = malloc(sizeof(float) * (size_t)(H * A * L));
    float *b2 = malloc(sizeof(float) * (size_t)(H * L * A));
    seer_status st =
        an && na && b1 && b2 ? SEER_STATUS_OK : seer_fail(SEER_STATUS_OOM, "out of host memory");
    for (int i = 0; i < 8 && st == SEER_STATUS_OK; i++) {
        t[i] = seer_load_host(l, seer_loader_name(l, "%s.%s", p, names[i]), ndims[i], shapes[i]);
        if (!t[i]) st = SEER_STATUS_FORMAT;
    }
    if (st == SEER_STATUS_OK) {
        const float *ah = t[2], *aw = t[3], *ha = t[4], *wa = t[5], *ac = t[6], *ca = t[7];
        bilinear_7(t[0], (int)(H * A), (int)W, an); // [H, A, W, W]
        bilinear_7(t[1], (int)(H * A), (int)W, na);
        for (int64_t h = 0; h < H; h++)
            for (int64_t a = 0; a < A; a++) {
                // bias1[h, a, :] = [ac | an + (ah + aw)], bias2[h, :, a] = [ca | na + (ha + wa)]
                b1[(h * A + a) * L] = ac[h * A + a];
                b2[(h * L) * A + a] = ca[h * A + a];
                for (int64_t y = 0; y < W; y++)
                    for (int64_t x = 0; x < W; x++) {
                        int64_t n = y * W + x;
                        float pos1 = ah[(h * A + a) * W + y] + aw[(h * A + a) * W + x];
                        float pos2 = ha[(h * W + y) * A + a] + wa[(h * W + x) * A + a];
                        b1[(h * A + a) * L + n + 1] = an[(h * A + a) * N + n] + pos1;
                        b2[(h * L + n + 1) * A + a] = na[(h * A + a) * N + n] + pos2;
                    }
            }
        b->agent_bias1 = seer_weights_add(m->weights, seer_loader_name(l, "%s.agent_bias1", p),
                                          m->dtype, 4, (int64_t[]){1, H, A, L}, b1);
        b->agent_bias2 =
            b->agent_bias1 ? seer_weights_add(m->weights, seer_loader_name(l, "%s.agent_bias2", p),
                                              m->dtype, 4, (int64_t[]){1, H, L, A}, b2)
                           : NULL;
        if (!b->agent_bias2) st = SEER_STATUS_OOM;
    }
    for (int i = 0; i < 8; i++)
        free(t[i]);
    free(an);
    free(na);
    free(b1);
    free(b2);
    return st;
}

// Channels [off, off + C) of the patch tokens of qkv [B, L, 3C] as an image [B, W, W, C].
static seer_tensor *patch_grid(seer_ctx *c, const vit *net, const seer_tensor *qkv, int64_t off) {
    const int64_t B = qkv->shape[0], C = net->cfg.embed_dim, W = net->grid;
    seer_tensor *t = seer_narrow(c, seer_narrow(c, qkv, 2, off, C), 1, 1, W * W); // [B, N, C]
    return seer_reshape(c, seer_contiguous(c, t), 4, (int64_t[]){B, W, W, C});
}

// The attention the block applies to v, queries -> agents -> keys, for the attention view:
// softmax(scale q agents^T + bias2) softmax(scale agents k^T + bias1), per head, then the mean
// of the heads: F32 [B, L, L]. Rows sum to 1. The depthwise-conv term on v is left out: it
// mixes values of neighbouring patches, with weights no softmax normalises.
static seer_tensor *effective_probs(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                    const seer_tensor *agents, const vit_block *b, float scale) {
    seer_tensor *to_agents = seer_softmax(
        c, seer_matmul(c, q, agents, false, true, scale, NULL), 1.0f, b->agent_bias2); // [B,H,L,A]
    seer_tensor *to_keys = seer_softmax(
        c, seer_matmul(c, agents, k, false, true, scale, NULL), 1.0f, b->agent_bias1); // [B,H,A,L]
    seer_tensor *p = seer_matmul(c, to_agents, to_keys, false, false, 1.0f, NULL);    // [B,H,L,L]
    return seer_reduce_f32(c, p, 1, SEER_REDUCE_MEAN);
}

seer_tensor *vit_agent_block_attention(seer_ctx *c, const vit *net, const vit_block *b,
                                       const seer_tensor *x, seer_tensor **probs_out) {
    const int64_t C = net->cfg.embed_dim, H = net->cfg.num_heads, D = C / H;
    const int64_t A = (int64_t)b->agent_pool * b->agent_pool;
    const float scale = (float)pow((double)D, -0.5);
    seer_tensor *q, *k, *v;
    seer_tensor *qkv = seer_linear(c, x, b->qkv_w, b->qkv_b); // [B, L, 3C]
    if (vit_qkv_heads(c, net, qkv, &q, &k, &v) != SEER_STATUS_OK) return NULL;
    const int64_t B = qkv->shape[0], L = qkv->shape[1];

    // agents: patch queries pooled to [B, p, p, C] -> [B, H, A, D]
    seer_tensor *agents =
        seer_adaptive_avg_pool2d(c, patch_grid(c, net, qkv, 0), b->agent_pool, b->agent_pool);
    agents = seer_reshape(c, agents, 4, (int64_t[]){B, A, H, D});
    agents = seer_permute_copy(c, agents, (int[]){0, 2, 1, 3});

    if (probs_out) *probs_out = effective_probs(c, q, k, agents, b, scale);
    seer_tensor *o =
        seer_agent_attention(c, q, k, v, agents, b->agent_bias1, b->agent_bias2, scale);
    o = vit_merge_heads(c, o); // [B, L, C]

    // depthwise 3x3 conv on the patch values, added to the patch tokens
    seer_conv2d_params dw = {.pad_h = 1, .pad_w = 1, .groups = (int)C};
    seer_tensor *d = seer_conv2d(c, patch_grid(c, net, qkv, 2 * C), b->dwc_w, b->dwc_b, &dw);
    d = seer_reshape(c, d, 3, (int64_t[]){B, L - 1, C});
    seer_tensor *zero = seer_fill(c, seer_new(c, qkv->dtype, 3, (int64_t[]){B, 1, C}), 0.0);
    const seer_tensor *parts[2] = {zero, d};
    o = seer_add(c, o, seer_concat(c, parts, 2, 1));
    return seer_linear(c, o, b->proj_w, b->proj_b);
}
