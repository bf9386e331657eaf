// The attention view of the ViT family (seer_model_attention):
// - DeiT and Agent-DeiT: attention rollout (Abnar & Zuidema 2020). Per block, the attention
//   probabilities averaged over the heads, plus the identity for the residual path, rows
//   renormalised: A_i = rownorm(mean_h P_i + I); rollout R = A_depth ... A_1. The map is the
//   query token's row of R over the patch tokens: the class token's by default, a picked
//   patch's when a query is given. Agent blocks contribute their effective attention
//   softmax(q agents^T) softmax(agents k^T) (vit_agent.c: the depthwise-conv term is left out).
// - Sparsifiner: its predicted connectivity in the last block, the paper's visualisation.
//   With a query patch: the fraction of heads whose mask keeps each key for that query.
//   Without: the fraction of (head, patch query) pairs that keep each key.
// The rollout is one row times depth L x L matrices per image; it runs on the host.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/vit.h"

seer_tensor *vit_head_mean_probs(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                 const seer_tensor *bias, float scale) {
    seer_tensor *s = seer_matmul(c, q, k, false, true, scale, NULL); // [B, H, L, L]
    seer_tensor *p = seer_softmax(c, s, 1.0f, bias);
    return seer_reduce_f32(c, p, 1, SEER_REDUCE_MEAN); // [B, L, L]
}

bool vit_attention_info(const seer_model *m, seer_attention_info *out) {
    const vit *net = m->impl;
    out->uses_query = true;
    out->method = net->cfg.attn == VIT_ATTN_SPARSIFINER ? "sparse connectivity, last block"
                  : net->cfg.attn == VIT_ATTN_AGENT     ? "attention rollout (agent attention)"
                                                        : "attention rollout";
    return true;
}

// The token whose view is shown: the class token, or the patch under (qx, qy).
static int64_t query_token(const vit *net, float qx, float qy) {
    int cell = seer_attention_query_cell(qx, qy, net->grid, net->grid);
    return cell < 0 ? 0 : net->n_prefix + cell;
}

// probs[i]: host [B, L, L] of block i. map: [B, N], row `tok` of the rollout over the patches:
// e_tok^T A_depth ... A_1, a vector times matrices from the last block down (no L x L product).
static seer_status rollout(const vit *net, float *const *probs, int64_t B, int64_t tok,
                           float *map) {
    const int64_t L = net->n_tokens, N = L - net->n_prefix;
    double *row = malloc(sizeof(double) * (size_t)L), *next = malloc(sizeof(double) * (size_t)L);
    if (!row || !next) {
        free(row), free(next);
        return seer_fail(SEER_STATUS_OOM, "out of host memory for the attention rollout");
    }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < L; i++)
            row[i] = i == tok;
        for (int blk = net->cfg.depth - 1; blk >= 0; blk--) {
            const float *p = probs[blk] + b * L * L;
            memset(next, 0, sizeof(double) * (size_t)L);
            for (int64_t i = 0; i < L; i++) {
                if (row[i] == 0) continue;
                double sum = 1; // the identity's share of row i of A
                for (int64_t j = 0; j < L; j++)
                    sum += p[i * L + j];
                const double w = row[i] / sum;
                for (int64_t j = 0; j < L; j++)
                    next[j] += w * (p[i * L + j] + (i == j));
            }
            memcpy(row, next, sizeof(double) * (size_t)L);
        }
        for (int64_t j = 0; j < N; j++)
            map[b * N + j] = (float)row[net->n_prefix + j];
    }
    free(row), free(next);
    return SEER_STATUS_OK;
}

// mask: host [B, H, L, L] 0/1. map: [B, N] (see the file comment).
static void kept_fraction(const vit *net, const float *mask, int64_t B, int64_t tok, float *map) {
    const int64_t L = net->n_tokens, P = net->n_prefix, N = L - P, H = net->cfg.num_heads;
    const int64_t q0 = tok ? tok : P, q1 = tok ? tok + 1 : L; // the query rows counted
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < N; j++) {
            double kept = 0;
            for (int64_t h = 0; h < H; h++)
                for (int64_t i = q0; i < q1; i++)
                    kept += mask[((b * H + h) * L + i) * L + P + j];
            map[b * N + j] = (float)(kept / (double)(H * (q1 - q0)));
        }
}

seer_tensor *vit_attention(seer_model *m, seer_ctx *c, const seer_tensor *x, float qx, float qy) {
    const vit *net = m->impl;
    const int depth = net->cfg.depth;
    const int64_t L = net->n_tokens, N = (int64_t)net->grid * net->grid;
    seer_tensor **rec_t = calloc((size_t)depth, sizeof *rec_t);
    if (!rec_t) {
        seer_ctx_fail(c, SEER_STATUS_OOM, "out of host memory");
        return NULL;
    }
    const bool sparse = net->cfg.attn == VIT_ATTN_SPARSIFINER;
    vit_record rec = sparse ? (vit_record){.masks = rec_t, .n_masks = depth}
                            : (vit_record){.probs = rec_t};
    seer_tensor *out = NULL;
    float *host = NULL, *map = NULL, **probs = NULL;
    if (!vit_trunk(m, c, x, &rec)) goto done;
    const int64_t B = x->shape[0], tok = query_token(net, qx, qy);
    const int n_host = sparse ? 1 : depth;
    const int64_t per = sparse ? B * net->cfg.num_heads * L * L : B * L * L;
    host = malloc(sizeof(float) * (size_t)(per * n_host));
    probs = calloc((size_t)n_host, sizeof *probs);
    map = malloc(sizeof(float) * (size_t)(B * N));
    if (!host || !probs || !map) {
        seer_ctx_fail(c, SEER_STATUS_OOM, "out of host memory for the attention view");
        goto done;
    }
    for (int i = 0; i < n_host; i++) {
        probs[i] = host + per * i;
        if (seer_to_host(c, rec_t[sparse ? depth - 1 : i], probs[i]) != SEER_STATUS_OK) goto done;
    }
    if (sparse) {
        kept_fraction(net, probs[0], B, tok, map);
    } else if (rollout(net, probs, B, tok, map) != SEER_STATUS_OK) {
        seer_ctx_fail(c, SEER_STATUS_OOM, "%s", seer_last_error());
        goto done;
    }
    out = seer_from_host(c, map, SEER_F32, 3, (int64_t[]){B, net->grid, net->grid});
done:
    free(rec_t), free(host), free(probs), free(map);
    return out;
}
