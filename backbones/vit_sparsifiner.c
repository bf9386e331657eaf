// Sparsifiner (Wei et al. 2023): each block predicts, per image and head, which keys every
// query attends to, from a cheap low-rank attention (src/models/sparsifiner.py, MaskPredictor):
//   q_c = proj_c_q(q), k_c = proj_c_k(k)          [B, H, L, c]  (Linear shared by the heads)
//   k_low = k_c^T proj_n                            [B, H, c, K]  (K = L // reduce_n_factor)
//   coef = softmax(num_heads^-0.5 q_c k_low)        [B, H, L-1, K] (class-token row dropped)
//   coef = its top-8 per row, the rest 0
//   approx = coef basis, basis = threshold(|proj_back_n^T|, 0.02)    [B, H, L-1, L]
//   mask = top-ceil(keep_rate * L) keys of each approx row; the class token attends to all.
// Attention is then softmax over the kept keys only.
//
// Two forms of the sparse attention, same numbers (up to summation order):
// - default (seer.config sparse_gather=1): each patch query attends over its kept keys only
//   (seer_attention_gather): Lq * n * (D + Dv) work per head instead of Lq * Lk * (D + Dv).
// - sparse_gather=0: the mask enters a dense attention as a 0/-inf bias (every query still
//   computes all L scores); kept for comparison and for the mask visualisation.
//
// Top-k ties: seer_topk keeps the lower index; PyTorch's topk (sorted=False, nth_element on
// CPU) breaks exact ties in an implementation-defined order. Exact ties between the kept and
// dropped keys only occur when a row has fewer nonzero approx scores than the budget.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backbones/vit.h"

// The connectivity predictor computes in F32 whatever the model's dtype: its output is a
// discrete top-k choice, which BF16/F16 rounding (and the ties it creates) would change.
static seer_tensor *load_f32(seer_loader *l, seer_model *m, const char *name, int ndim,
                             const int64_t *shape) {
    float *host = seer_load_host(l, name, ndim, shape);
    seer_tensor *t = host ? seer_weights_add(m->weights, name, SEER_F32, ndim, shape, host) : NULL;
    free(host);
    return t;
}

seer_status vit_sparsifiner_load(seer_loader *l, seer_model *m, const vit *net, vit_block *b,
                                 const char *prefix) {
    const vit_config *g = &net->cfg;
    const int64_t L = net->n_tokens, D = g->embed_dim / g->num_heads;
    if (g->reduce_n_factor < 1 || g->reduce_c_factor < 1 || g->attn_keep_rate <= 0 ||
        g->attn_keep_rate > 1 || g->coef_topk < 1)
        return seer_fail(SEER_STATUS_FORMAT, "sparsifiner config: reduce factors and coef_topk "
                                             "must be >= 1 and 0 < attn_keep_rate <= 1");
    const int64_t c = D / g->reduce_c_factor, K = L / g->reduce_n_factor;
    if (c < 1 || K < g->coef_topk)
        return seer_fail(SEER_STATUS_FORMAT,
                         "sparsifiner config: %lld reduced tokens for top-%d "
                         "coefficients, %lld reduced channels",
                         (long long)K, g->coef_topk, (long long)c);
    b->attn_budget = (int)ceil(g->attn_keep_rate * (double)L); // math.ceil(rate * num_tokens)
    char p[96];
    snprintf(p, sizeof p, "%s.attn.mask_predictor", prefix);
    b->pc_q_w = load_f32(l, m, seer_loader_name(l, "%s.proj_c_q.weight", p), 2, (int64_t[]){c, D});
    b->pc_q_b = b->pc_q_w
                    ? load_f32(l, m, seer_loader_name(l, "%s.proj_c_q.bias", p), 1, (int64_t[]){c})
                    : NULL;
    b->pc_k_w = b->pc_q_b ? load_f32(l, m, seer_loader_name(l, "%s.proj_c_k.weight", p), 2,
                                     (int64_t[]){c, D})
                          : NULL;
    b->pc_k_b = b->pc_k_w
                    ? load_f32(l, m, seer_loader_name(l, "%s.proj_c_k.bias", p), 1, (int64_t[]){c})
                    : NULL;
    b->proj_n = b->pc_k_b
                    ? load_f32(l, m, seer_loader_name(l, "%s.proj_n", p), 2, (int64_t[]){L, K})
                    : NULL;
    if (!b->proj_n) return SEER_STATUS_FORMAT;

    // basis [K, L] = nn.Threshold(t, 0)(|proj_back_n^T|): kept where strictly above t (as F32)
    float *back = seer_load_host(l, seer_loader_name(l, "%s.proj_back_n", p), 2, (int64_t[]){L, K});
    float *basis = back ? malloc(sizeof(float) * (size_t)(K * L)) : NULL;
    if (!basis) {
        free(back);
        return back ? seer_fail(SEER_STATUS_OOM, "out of host memory") : SEER_STATUS_FORMAT;
    }
    const float t = (float)g->basis_threshold;
    for (int64_t n = 0; n < L; n++)
        for (int64_t k = 0; k < K; k++) {
            float a = fabsf(back[n * K + k]);
            basis[k * L + n] = a > t ? a : 0.0f;
        }
    b->basis = seer_weights_add(m->weights, seer_loader_name(l, "%s.basis", p), SEER_F32, 2,
                                (int64_t[]){K, L}, basis);
    free(back);
    free(basis);
    return b->basis ? SEER_STATUS_OK : SEER_STATUS_OOM;
}

// Kept keys of each patch query: I64 [B, H, L-1, attn_budget] (the class query keeps all).
static seer_tensor *connectivity(seer_ctx *c, const vit *net, const vit_block *b,
                                 const seer_tensor *q, const seer_tensor *k) {
    if (!q || !k) return NULL;
    if (q->dtype != SEER_F32) {
        q = seer_to(c, q, SEER_F32);
        k = seer_to(c, k, SEER_F32);
        if (!q || !k) return NULL;
    }
    const int64_t B = q->shape[0], H = q->shape[1], L = q->shape[2];
    const int64_t K = b->basis->shape[0];
    const float scale = (float)pow(net->cfg.num_heads, -0.5);  // num_heads ** -0.5
    seer_tensor *qc = seer_linear(c, q, b->pc_q_w, b->pc_q_b); // [B, H, L, c]
    seer_tensor *kc = seer_linear(c, k, b->pc_k_w, b->pc_k_b); // [B, H, L, c]
    seer_tensor *k_low = seer_matmul(c, kc, b->proj_n, true, false, 1.0f, NULL); // [B, H, c, K]
    seer_tensor *cheap = seer_matmul(c, qc, k_low, false, false, 1.0f, NULL);    // [B, H, L, K]
    cheap = seer_scale(c, cheap, scale, 0.0f);
    cheap = seer_narrow(c, cheap, 2, 1, L - 1); // [B, H, L-1, K]: class row dropped
    seer_tensor *coef = seer_softmax(c, cheap, 1.0f, NULL);

    // keep the top coef_topk coefficients of each row
    seer_tensor *top_v = NULL, *top_i = NULL;
    if (seer_topk(c, coef, net->cfg.coef_topk, &top_v, &top_i) != SEER_STATUS_OK) return NULL;
    seer_tensor *zeros = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){B, H, L - 1, K}), 0.0);
    coef = seer_scatter(c, zeros, 3, top_i, top_v);
    seer_tensor *approx =
        seer_matmul(c, coef, b->basis, false, false, 1.0f, NULL); // [B, H, L-1, L]

    // kept keys: the attn_budget largest approx scores of each query row
    seer_tensor *keep = NULL;
    return seer_topk(c, approx, b->attn_budget, NULL, &keep) == SEER_STATUS_OK ? keep : NULL;
}

// The connectivity as an attention bias [B, H, L, L] of x's dtype: 0 where kept, else -inf.
static seer_tensor *connectivity_bias(seer_ctx *c, const seer_tensor *keep, seer_dtype dt) {
    if (!keep) return NULL;
    const int64_t B = keep->shape[0], H = keep->shape[1], L = keep->shape[2] + 1,
                  n = keep->shape[3];
    seer_tensor *bias = seer_fill(c, seer_new(c, dt, 4, (int64_t[]){B, H, L - 1, L}), -INFINITY);
    seer_tensor *kept = seer_fill(c, seer_new(c, dt, 4, (int64_t[]){B, H, L - 1, n}), 0.0);
    bias = seer_scatter(c, bias, 3, keep, kept);
    seer_tensor *cls_row = seer_fill(c, seer_new(c, dt, 4, (int64_t[]){B, H, 1, L}), 0.0);
    const seer_tensor *rows[2] = {cls_row, bias};
    return seer_concat(c, rows, 2, 2); // [B, H, L, L]
}

// Sparse form: each patch query attends over its kept keys only (seer_attention_gather reads
// just those rows of K and V); the class query attends densely. Same numbers as the masked
// form up to summation order.
static seer_tensor *gathered_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                       const seer_tensor *v, const seer_tensor *keep, float scale) {
    if (!q || !keep) return NULL;
    const int64_t L = q->shape[2];
    seer_tensor *o_p = seer_attention_gather(c, seer_narrow(c, q, 2, 1, L - 1), k, v, keep,
                                             scale); // [B, H, L-1, D]
    seer_tensor *o_cls =
        seer_attention(c, seer_narrow(c, q, 2, 0, 1), k, v, NULL, scale); // [B, H, 1, D]
    const seer_tensor *rows[2] = {o_cls, o_p};
    return seer_concat(c, rows, 2, 2); // [B, H, L, D]
}

seer_tensor *vit_sparsifiner_attention(seer_ctx *c, const vit *net, const vit_block *b,
                                       const seer_tensor *x, seer_tensor **mask_out,
                                       seer_tensor **probs_out) {
    const float scale = (float)pow(net->cfg.embed_dim / net->cfg.num_heads, -0.5);
    seer_tensor *q, *k, *v, *o;
    seer_tensor *qkv = seer_linear(c, x, b->qkv_w, b->qkv_b); // [B, L, 3C]
    if (vit_qkv_heads(c, net, qkv, &q, &k, &v) != SEER_STATUS_OK) return NULL;
    seer_tensor *keep = connectivity(c, net, b, q, k); // [B, H, L-1, budget]
    seer_tensor *bias = NULL;
    if (!net->cfg.sparse_gather || mask_out || probs_out)
        bias = connectivity_bias(c, keep, q->dtype); // [B, H, L, L]
    if (mask_out) *mask_out = seer_to(c, seer_unary(c, bias, SEER_UNARY_EXP, 0, 0), SEER_F32);
    if (probs_out) *probs_out = vit_head_mean_probs(c, q, k, bias, scale);
    if (net->cfg.sparse_gather)
        o = gathered_attention(c, q, k, v, keep, scale);
    else
        o = seer_attention(c, q, k, v, bias, scale); // [B, H, L, D]
    return seer_linear(c, vit_merge_heads(c, o), b->proj_w, b->proj_b);
}
