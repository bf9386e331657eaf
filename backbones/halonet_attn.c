// Self-attention layers of the HaloNet family, as timm implements them:
// - HaloAttn (Vaswani et al. 2021, "Scaling Local Self-Attention for Parameter Efficient
//   Visual Backbones"): queries in non-overlapping block_size x block_size blocks (strided by a
//   1x1 conv when the layer downsamples), keys/values in the block plus a halo of halo_size
//   around it, cut from the projected and zero-padded map (padded keys are not masked).
// - BottleneckAttn (Srinivas et al. 2021, BoTNet): global attention over a fixed-size map.
// Both add relative position logits (timm's PosEmbedRel / rel_logits_1d) to scale * q.k.
#include <math.h>
#include <stdio.h>

#include "backbones/halonet.h"

// Relative position logits of timm's rel_logits_1d along both axes, for queries on a qh x qw
// grid and keys on a kh x kw grid:
//   out[n, y, x, i, j] = q[n, y, x] . height_rel[kh - 1 + i - y]
//                      + q[n, y, x] . width_rel[kw - 1 + j - x]
// q: [..., qh * qw, d] contiguous with n rows of qh * qw queries; height_rel: [2 kh - 1, d],
// width_rel: [2 kw - 1, d]. Out: [n, qh, qw, kh, kw].
seer_tensor *seer_halonet_rel_pos_logits(seer_ctx *c, const seer_tensor *q, int64_t n, int qh,
                                         int qw, int kh, int kw, const seer_tensor *height_rel,
                                         const seer_tensor *width_rel) {
    seer_tensor *lh = seer_matmul(c, q, height_rel, false, true, 1.0f, NULL); // [.., qh*qw, 2kh-1]
    seer_tensor *lw = seer_matmul(c, q, width_rel, false, true, 1.0f, NULL);  // [.., qh*qw, 2kw-1]
    if (!lh || !lw) return NULL;
    // The relative -> absolute shift is a strided view: query (y, x) reads its row from column
    // k - 1 - y (height) or k - 1 - x (width) on, so the row stride shrinks by one per step.
    int64_t rh = 2 * kh - 1, rw = 2 * kw - 1;
    size_t es = seer_dtype_size(lh->dtype);
    seer_tensor vh = *lh, vw = *lw;
    vh.ndim = vw.ndim = 5;
    int64_t shape_h[5] = {n, qh, qw, kh, 1}, stride_h[5] = {qh * qw * rh, qw * rh - 1, rh, 1, 1};
    int64_t shape_w[5] = {n, qh, qw, 1, kw}, stride_w[5] = {qh * qw * rw, qw * rw, rw - 1, 1, 1};
    for (int d = 0; d < 5; d++) {
        vh.shape[d] = shape_h[d];
        vh.stride[d] = stride_h[d];
        vw.shape[d] = shape_w[d];
        vw.stride[d] = stride_w[d];
    }
    vh.data = (char *)lh->data + (size_t)(kh - 1) * es;
    vw.data = (char *)lw->data + (size_t)(kw - 1) * es;
    return seer_add(c, seer_ctx_view(c, &vh), seer_ctx_view(c, &vw)); // [n, qh, qw, kh, kw]
}

static seer_tensor *avg_pool_2x2(seer_ctx *c, const seer_tensor *x) {
    seer_pool2d_params p = {
        .mode = SEER_POOL_AVG, .kernel_h = 2, .kernel_w = 2, .count_include_pad = true};
    return seer_pool2d(c, x, &p);
}

static seer_tensor *halo_forward(seer_ctx *c, const halonet_sa *sa, const seer_tensor *x) {
    const int64_t H = x->shape[1], W = x->shape[2];
    const int bs = sa->block_size;
    if (H % bs != 0 || W % bs != 0) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "%s: halo attention needs a feature map divisible by its block size %d, "
                      "got %lldx%lld (choose an input size that keeps every halo stage a "
                      "multiple of %d)",
                      sa->name, bs, (long long)H, (long long)W, bs);
        return NULL;
    }
    // q: [B, H / s, W / s, nh * dqk], in block_size / s blocks; kv: [B, H, W, nh * (dqk + dv)],
    // zero-padded by the halo inside the op (timm pads after the projection)
    seer_conv2d_params pq = {.stride_h = sa->block_stride, .stride_w = sa->block_stride};
    seer_tensor *q = seer_conv2d(c, x, sa->q_w, NULL, &pq);
    seer_conv2d_params pkv = {0};
    seer_tensor *kv = seer_conv2d(c, x, sa->kv_w, NULL, &pkv);
    // softmax(scale * q k^T + rel_pos(q)) v over each block's win x win window, in one op (no
    // unfolded windows or per-block logits in memory): [B, H / s, W / s, nh * dv]
    const seer_halo_params hp = {.block_size = bs,
                                 .halo_size = sa->halo_size,
                                 .heads = sa->num_heads,
                                 .dim_qk = sa->dim_head_qk,
                                 .scale = sa->scale};
    seer_tensor *o = seer_halo_attention(c, q, kv, sa->height_rel, sa->width_rel, &hp);
    return sa->avg_pool ? avg_pool_2x2(c, o) : o;
}

static seer_tensor *bottleneck_forward(seer_ctx *c, const halonet_sa *sa, const seer_tensor *x) {
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], L = H * W;
    const int nh = sa->num_heads, dqk = sa->dim_head_qk, dv = sa->dim_head_v;
    if (H != sa->feat_h || W != sa->feat_w) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "%s: bottleneck attention is built for a %dx%d feature map (the model's "
                      "fixed input size), got %lldx%lld",
                      sa->name, sa->feat_h, sa->feat_w, (long long)H, (long long)W);
        return NULL;
    }
    // qkv: [B, H, W, nh * dqk | nh * dqk | nh * dv], heads major inside each part
    seer_conv2d_params p = {0};
    seer_tensor *qkv = seer_conv2d(c, x, sa->qkv_w, NULL, &p), *parts[3] = {0};
    if (seer_split(c, qkv, 3, (int64_t[]){nh * dqk, nh * dqk, nh * dv}, 3, parts) != SEER_STATUS_OK)
        return NULL;
    const int to_heads[4] = {0, 2, 1, 3};
    seer_tensor *q = seer_reshape(c, parts[0], 4, (int64_t[]){B, L, nh, dqk});
    q = seer_permute_copy(c, q, to_heads); // [B, nh, L, dqk]
    seer_tensor *k =
        seer_permute(c, seer_reshape(c, parts[1], 4, (int64_t[]){B, L, nh, dqk}), to_heads);
    seer_tensor *v =
        seer_permute(c, seer_reshape(c, parts[2], 4, (int64_t[]){B, L, nh, dv}), to_heads);

    // bias: [B * nh, H, W, H, W]
    seer_tensor *bias = seer_halonet_rel_pos_logits(c, q, B * nh, (int)H, (int)W, (int)H, (int)W,
                                                    sa->height_rel, sa->width_rel);
    bias = seer_reshape(c, bias, 4, (int64_t[]){B, nh, L, L});
    seer_tensor *o = seer_attention(c, q, k, v, bias, sa->scale); // [B, nh, L, dv]
    o = seer_permute_copy(c, o, to_heads);                        // [B, L, nh, dv]
    o = seer_reshape(c, o, 4, (int64_t[]){B, H, W, nh * dv});
    return sa->avg_pool ? avg_pool_2x2(c, o) : o;
}

seer_tensor *seer_halonet_sa_forward(seer_ctx *c, const halonet_sa *sa, const seer_tensor *x) {
    if (!x) return NULL;
    return sa->type == HALONET_SA_HALO ? halo_forward(c, sa, x) : bottleneck_forward(c, sa, x);
}

seer_status seer_halonet_sa_load(seer_loader *l, seer_model *m, halonet_sa *sa,
                                 const halonet_sa_cfg *cfg, const char *prefix, int dim, int stride,
                                 int feat_h, int feat_w) {
    snprintf(sa->name, sizeof sa->name, "%s", prefix);
    sa->type = cfg->type;
    const int nh = sa->num_heads = cfg->num_heads;
    if (nh < 1 || dim % nh != 0)
        return seer_fail(SEER_STATUS_FORMAT, "%s: %d channels do not split into %d heads", prefix,
                         dim, nh);
    const int dqk = sa->dim_head_qk =
        cfg->dim_head ? cfg->dim_head
                      : seer_halonet_make_divisible(dim * cfg->qk_ratio, 8, 0.9) / nh;
    const int dv = sa->dim_head_v = dim / nh;
    if (dqk < 1)
        return seer_fail(SEER_STATUS_FORMAT, "%s: query/key head size %d < 1", prefix, dqk);
    sa->scale = (float)pow(dqk, -0.5);
    int rel_h, rel_w;
    if (cfg->type == HALONET_SA_HALO) {
        sa->block_size = cfg->block_size;
        sa->halo_size = cfg->halo_size;
        sa->win_size = cfg->block_size + 2 * cfg->halo_size;
        // A stride the block size does not divide falls back to full-resolution queries and a
        // 2x2 average pool of the output.
        sa->avg_pool = stride > 1 && cfg->block_size % stride != 0;
        sa->block_stride = stride > 1 && !sa->avg_pool ? stride : 1;
        sa->block_size_ds = cfg->block_size / sa->block_stride;
        sa->q_w =
            seer_load_conv(l, m, seer_loader_name(l, "%s.q.weight", prefix), nh * dqk, dim, 1, 1);
        if (!sa->q_w) return SEER_STATUS_FORMAT;
        sa->kv_w = seer_load_conv(l, m, seer_loader_name(l, "%s.kv.weight", prefix),
                                  nh * (dqk + dv), dim, 1, 1);
        if (!sa->kv_w) return SEER_STATUS_FORMAT;
        rel_h = rel_w = 2 * sa->win_size - 1;
    } else {
        if (feat_h < 1 || feat_w < 1)
            return seer_fail(SEER_STATUS_FORMAT,
                             "%s: bottleneck attention needs a fixed input size (img=...)", prefix);
        sa->feat_h = feat_h;
        sa->feat_w = feat_w;
        sa->avg_pool = stride == 2;
        sa->qkv_w = seer_load_conv(l, m, seer_loader_name(l, "%s.qkv.weight", prefix),
                                   nh * (2 * dqk + dv), dim, 1, 1);
        if (!sa->qkv_w) return SEER_STATUS_FORMAT;
        rel_h = 2 * feat_h - 1;
        rel_w = 2 * feat_w - 1;
    }
    sa->height_rel = seer_load_tensor(l, m, seer_loader_name(l, "%s.pos_embed.height_rel", prefix),
                                      2, (int64_t[]){rel_h, dqk});
    if (!sa->height_rel) return SEER_STATUS_FORMAT;
    sa->width_rel = seer_load_tensor(l, m, seer_loader_name(l, "%s.pos_embed.width_rel", prefix), 2,
                                     (int64_t[]){rel_w, dqk});
    return sa->width_rel ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}
