// BiFormer (Zhu et al., CVPR 2023, "BiFormer: Vision Transformer with Bi-Level Routing
// Attention"), as the official rayleizhu/BiFormer code builds it (models/biformer.py with the
// attention of ops/bra_legacy.py, which the released checkpoints use).
#ifndef SEER_BIFORMER_H
#define SEER_BIFORMER_H

#include "backbones/model.h"

#ifdef __cplusplus
extern "C" {
#endif

// The four stage outputs of a BiFormer model (m->arch->family == "biformer") for dense
// prediction: out[i] is [B, H_i, W_i, C_i] (strides 4, 8, 16, 32; 2, 4, 8, 16 with
// seer.stem_strides = 1,2), taken after the blocks of stage i and before the
// classifier's final BatchNorm. The tensors live in c's arena.
// Without auto_pad (the classification presets), every routed stage's map must be divisible
// by n_win per side (224 -> 56, 28, 14); a file with metadata seer.auto_pad = 1 pads instead,
// as the official segmentation backbones do.
seer_status seer_biformer_stages(seer_model *m, seer_ctx *c, const seer_tensor *x,
                                 seer_tensor *out[4]);

// ---- shared by biformer.c and biformer_bra.c -----------------------------------------------

// Bi-level routing attention (ops/bra_legacy.py BiLevelRoutingAttention), keys attn.*:
// qkv.qkv (Linear dim -> 2 qk_dim + dim, with bias), wo (Linear), lepe (depthwise conv over V).
typedef struct biformer_bra {
    int dim, qk_dim, heads, n_win, topk, side_dwconv;
    bool auto_pad;
    float scale; // qk_dim^-0.5: the full qk width, not the head width (as the checkpoints)
    seer_tensor *qkv_w, *qkv_b, *wo_w, *wo_b, *lepe_w, *lepe_b;
} biformer_bra;

// Plain multi-head attention with LePE on its input (models/_common.py AttentionLePE, used
// where topk = -2): qkv (Linear dim -> 3 dim, no bias), proj, lepe.
typedef struct biformer_mhsa {
    int dim, heads, side_dwconv;
    float scale; // (dim / heads)^-0.5
    seer_tensor *qkv_w, *proj_w, *proj_b, *lepe_w, *lepe_b;
} biformer_mhsa;

// prefix: the attention module's name ("stages.0.1.attn").
seer_status biformer_bra_load(seer_loader *l, seer_model *m, biformer_bra *a, const char *prefix);
seer_status biformer_mhsa_load(seer_loader *l, seer_model *m, biformer_mhsa *a, const char *prefix);
// The attention view of one routed block (biformer_view.c): given the query point (fractions
// of the map, negative: none), biformer_bra_forward leaves in `map` an F32 [B, H, W] map of the
// block's token-level attention: of the query pixel over the pixels of its routed regions (zero
// elsewhere), or with no query the mean over every query pixel (each map sums to 1). Head mean.
typedef struct biformer_view {
    float qx, qy;
    seer_tensor *map;
} biformer_view;

// residual + attention(x): x, residual [B, H, W, C] -> [B, H, W, C] (the block's residual sum
// rides in the output Linear, seer_linear_add); view may be NULL (the plain forward pass).
seer_tensor *biformer_bra_forward(seer_ctx *c, const biformer_bra *a, const seer_tensor *x,
                                  const seer_tensor *residual, biformer_view *view);
// The view's map from the block's q, k [B, m, S, S, h, w, dq] (seer_region_attention's map
// form: S x S regions of h x w pixels, any strides) and routing idx [B, S S, topk]: computed on
// the host, uploaded as F32 [B, S h, S w].
seer_tensor *biformer_view_map(seer_ctx *c, const biformer_bra *a, const seer_tensor *q,
                               const seer_tensor *k, const seer_tensor *idx, float qx, float qy);
// residual + full attention with LePE (the last stage), as biformer_bra_forward.
seer_tensor *biformer_mhsa_forward(seer_ctx *c, const biformer_mhsa *a, const seer_tensor *x,
                                   const seer_tensor *residual);

#ifdef __cplusplus
}
#endif

#endif
