// The ViT family with pluggable attention: one DeiT trunk (patch embedding, class and
// distillation tokens, pre-norm blocks, final norm, heads) whose blocks attend densely (DeiT,
// timm's VisionTransformer), with Sparsifiner's instance-dependent sparse connectivity, or
// with Agent Attention (Agent-DeiT). The trunk is also LV-ViT (token labeling), as Sparsifiner's
// sparsifiner_lvvit.py runs it: a conv stem, scaled residuals and the token-labeling head.
//
// backbones/vit.c            trunk, presets, config, dense attention
// backbones/vit_sparsifiner.c  Sparsifiner's connectivity predictor and masked attention
// backbones/vit_agent.c      agent attention (the op and the block), load-time biases
//
// Weight names are the official state_dict keys: timm's for DeiT, the official repositories'
// for Sparsifiner (blocks.{i}.attn.mask_predictor.*; on LV-ViT also patch_embed.{conv,bn}{1,2,3}
// and aux_head) and Agent-DeiT (blocks.{i}.attn.dwc, *_bias). Metadata seer.config (comma-separated
// key=value, see vit_config_parse in vit.c) overrides the preset's configuration: the golden
// fixtures use it for tiny models.
#ifndef SEER_VIT_H
#define SEER_VIT_H

#include "backbones/model.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- public ----------------------------------------------------------------------------------

// Agent attention (Han et al. 2024, eq. 3), the two softmaxes:
//   agent_v = softmax(scale * agents k^T + bias1) v      agents: [B, H, A, D]
//   out     = softmax(scale * q agents^T + bias2) agent_v
// q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv]; bias1: NULL or [1|B, 1|H, A, Lk];
// bias2: NULL or [1|B, 1|H, Lq, A]. Out: [B, H, Lq, Dv]. The depthwise-conv term on v and the
// output projection belong to the caller's block.
seer_tensor *seer_agent_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                  const seer_tensor *v, const seer_tensor *agents,
                                  const seer_tensor *bias1, const seer_tensor *bias2, float scale);

// Sparsifiner connectivity for visualisation: runs the forward pass of a Sparsifiner model and
// returns its logits; masks[i] (i < n_masks, up to depth) receives block i's connectivity as an
// F32 [B, H, L, L] tensor of 0/1 in the context's arena (row 0, the class token, attends to
// every key). NULL (context error) if m is not a Sparsifiner.
seer_tensor *seer_sparsifiner_forward_masks(seer_model *m, seer_ctx *c, const seer_tensor *x,
                                            seer_tensor **masks, int n_masks);

// ---- family internals (vit.c, vit_sparsifiner.c, vit_agent.c) --------------------------------

typedef enum vit_attn_kind {
    VIT_ATTN_DENSE = 0,
    VIT_ATTN_SPARSIFINER,
    VIT_ATTN_AGENT
} vit_attn_kind;

typedef struct vit_config {
    vit_attn_kind attn;
    int img_size, patch_size, embed_dim, depth, num_heads, num_classes;
    double mlp_ratio;
    bool distilled; // DeiT distillation token + head_dist (eval: mean of both heads)
    // Sparsifiner (sparsifiner_default_config.yaml)
    double attn_keep_rate;  // kept keys per query row: ceil(rate * L)
    int reduce_n_factor;    // reduced tokens: L // factor
    int reduce_c_factor;    // reduced channels: head_dim // factor
    double basis_threshold; // basis = |proj_back_n^T| where above, else 0
    int coef_topk;          // basis coefficients kept per row
    bool sparse_gather;     // attend over gathered kept keys (else: dense with a -inf mask)
    // Agent-DeiT
    int agent_num[4]; // per stage; block i uses agent_num[{0,1,2,2,2,3}[i / 2]]
    int agent_layer;  // blocks [0, agent_layer) use agent attention, the rest dense
    // LV-ViT (src/models/sparsifiner_lvvit.py). Zero means DeiT's value where DeiT has one.
    int stem_dim;    // > 0: conv 7x7/2 + two conv 3x3 (BatchNorm, ReLU), this wide, before a
                     // (p/2) x (p/2) patch conv; 0: the p x p patch conv
    double skip_lam; // both residual branches divided by it (0: 1)
    double ln_eps;   // LayerNorm eps (0: timm's 1e-6; LV-ViT's nn.LayerNorm: 1e-5)
    bool qkv_bias;   // DeiT: true; LV-ViT: false
    bool aux_head;   // token labeling: logits = head(cls) + 0.5 * max over patches of aux_head
} vit_config;

typedef struct vit_block {
    seer_tensor *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    seer_tensor *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    vit_attn_kind attn;
    // Sparsifiner: low-rank q/k projections shared by the heads, proj_n [L, K], the thresholded
    // basis [K, L] (made at load time), and the number of keys kept per query.
    seer_tensor *pc_q_w, *pc_q_b, *pc_k_w, *pc_k_b, *proj_n, *basis;
    int attn_budget;
    // Agent: depthwise 3x3 conv on v (OHWI [C, 3, 3, 1]), pooled agent grid side, and the
    // position biases composed at load time: bias1 [1, H, A, L], bias2 [1, H, L, A].
    seer_tensor *dwc_w, *dwc_b, *agent_bias1, *agent_bias2;
    int agent_pool;
} vit_block;

typedef struct vit {
    vit_config cfg;
    int grid;     // patches per side
    int n_prefix; // class (+ distillation) tokens
    int n_tokens; // L = n_prefix + grid^2
    seer_tensor *patch_w, *patch_b, *cls_token, *dist_token, *pos_embed;
    seer_tensor *stem_w[3], *stem_b[3]; // LV-ViT's stem convs, BatchNorm folded in (OHWI, F32)
    vit_block *blocks;
    seer_tensor *norm_w, *norm_b, *head_w, *head_b, *head_dist_w, *head_dist_b;
    seer_tensor *aux_head_w, *aux_head_b;
    float ln_eps, skip_scale; // cfg's with the zeros resolved; skip_scale = 1 / skip_lam
} vit;

// What a forward pass records for the attention view (vit_attention.c); NULL arrays are not
// recorded, so the plain forward pass computes nothing extra.
typedef struct vit_record {
    seer_tensor **masks; // [n_masks]: Sparsifiner block i's 0/1 connectivity [B, H, L, L], F32
    int n_masks;
    seer_tensor **probs; // [depth]: block i's attention probabilities, mean of the heads,
                         // F32 [B, L, L] (agent blocks: the effective queries->agents->keys)
} vit_record;

// Normalized tokens [B, L, C] after the last block, recording what rec asks for (may be NULL).
seer_tensor *vit_trunk(seer_model *m, seer_ctx *c, const seer_tensor *x, const vit_record *rec);
// softmax(scale * q k^T + bias) averaged over the heads: q, k [B, H, L, D] -> F32 [B, L, L].
seer_tensor *vit_head_mean_probs(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                 const seer_tensor *bias, float scale);
bool vit_attention_info(const seer_model *m, seer_attention_info *out);
seer_tensor *vit_attention(seer_model *m, seer_ctx *c, const seer_tensor *x, float qx, float qy);

// Block attention variants. x: [B, L, C] (after norm1) -> [B, L, C] (after proj).
// mask_out (may be NULL) receives the Sparsifiner block's 0/1 connectivity [B, H, L, L];
// probs_out (may be NULL) the block's head-mean attention probabilities (vit_record).
seer_status vit_sparsifiner_load(seer_loader *l, seer_model *m, const vit *net, vit_block *b,
                                 const char *prefix);
seer_tensor *vit_sparsifiner_attention(seer_ctx *c, const vit *net, const vit_block *b,
                                       const seer_tensor *x, seer_tensor **mask_out,
                                       seer_tensor **probs_out);
seer_status vit_agent_load(seer_loader *l, seer_model *m, const vit *net, vit_block *b,
                           const char *prefix, int agent_num);
seer_tensor *vit_agent_block_attention(seer_ctx *c, const vit *net, const vit_block *b,
                                       const seer_tensor *x, seer_tensor **probs_out);
// qkv: [B, L, 3C] (the qkv Linear's output) -> q, k, v: [B, H, L, D] each, contiguous.
seer_status vit_qkv_heads(seer_ctx *c, const vit *net, const seer_tensor *qkv, seer_tensor **q,
                          seer_tensor **k, seer_tensor **v);
// [B, H, L, D] -> [B, L, H * D]
seer_tensor *vit_merge_heads(seer_ctx *c, const seer_tensor *x);

#ifdef __cplusplus
}
#endif

#endif
