// BiFormer's attention layers: bi-level routing attention (ops/bra_legacy.py) and the plain
// attention with LePE of the last stage (models/_common.py AttentionLePE).
//
// Bi-level routing attention on a [B, H, W, C] map cut into S x S regions (S = n_win):
//   1. q, k, v = Linear(x), per pixel; regions of (H/S) x (W/S) pixels.
//   2. Region-level routing: q_r, k_r = means of q, k over each region; affinity q_r k_r^T
//      [B, S^2, S^2]; each region keeps the indices of its top-k regions.
//   3. Token-level attention: every query pixel of a region attends to all pixels of its k
//      routed regions (seer_region_attention reads them in place on the projection's map and
//      writes its output as a map; the reference cuts the map into region copies and gathers
//      copies of the routed ones), with scale qk_dim^-0.5, heads split in the channels.
//   4. Plus LePE, a depthwise conv over V as a full map; then the output Linear wo.
// The routing weights are not applied to V (kv_gather 'none': param/diff/soft routing off).
// Routing ties: seer_topk keeps the lower region index first; torch.topk on CPU may order exact
// ties otherwise (with real-valued data exact ties do not occur).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/biformer.h"

// ---- loading -------------------------------------------------------------------------------

static seer_tensor *load(seer_loader *l, seer_model *m, const char *prefix, const char *part,
                         int ndim, int64_t d0, int64_t d1) {
    const char *name = seer_loader_name(l, "%s.%s", prefix, part);
    return seer_load_tensor(l, m, name, ndim, (int64_t[]){d0, d1});
}

seer_status biformer_bra_load(seer_loader *l, seer_model *m, biformer_bra *a, const char *prefix) {
    char p[128];
    snprintf(p, sizeof p, "%s", prefix);
    int64_t c = a->dim, qkv_out = 2 * (int64_t)a->qk_dim + c, k = a->side_dwconv;
    a->scale = 1.0f / sqrtf((float)a->qk_dim);
    if (!(a->qkv_w = load(l, m, p, "qkv.qkv.weight", 2, qkv_out, c)) ||
        !(a->qkv_b = load(l, m, p, "qkv.qkv.bias", 1, qkv_out, 0)) ||
        !(a->wo_w = load(l, m, p, "wo.weight", 2, c, c)) ||
        !(a->wo_b = load(l, m, p, "wo.bias", 1, c, 0)) ||
        !(a->lepe_w = seer_load_conv(l, m, seer_loader_name(l, "%s.lepe.weight", p), c, 1, k, k)) ||
        !(a->lepe_b = load(l, m, p, "lepe.bias", 1, c, 0)))
        return SEER_STATUS_FORMAT;
    return SEER_STATUS_OK;
}

seer_status biformer_mhsa_load(seer_loader *l, seer_model *m, biformer_mhsa *a,
                               const char *prefix) {
    char p[128];
    snprintf(p, sizeof p, "%s", prefix);
    int64_t c = a->dim, k = a->side_dwconv;
    a->scale = 1.0f / sqrtf((float)(a->dim / a->heads));
    if (!(a->qkv_w = load(l, m, p, "qkv.weight", 2, 3 * c, c)) ||
        !(a->proj_w = load(l, m, p, "proj.weight", 2, c, c)) ||
        !(a->proj_b = load(l, m, p, "proj.bias", 1, c, 0)) ||
        !(a->lepe_w = seer_load_conv(l, m, seer_loader_name(l, "%s.lepe.weight", p), c, 1, k, k)) ||
        !(a->lepe_b = load(l, m, p, "lepe.bias", 1, c, 0)))
        return SEER_STATUS_FORMAT;
    return SEER_STATUS_OK;
}

// ---- layout helpers ------------------------------------------------------------------------

// residual + depthwise_conv(x) (k x k, same size), the sum in the convolution's epilogue.
static seer_tensor *add_depthwise(seer_ctx *c, const seer_tensor *residual, const seer_tensor *x,
                                  const seer_tensor *w, const seer_tensor *b, int k) {
    seer_conv2d_params p = {.pad_h = k / 2, .pad_w = k / 2, .groups = (int)w->shape[0]};
    return seer_conv2d_fused(c, x, w, b, &p, residual, false);
}

// [B, H, W, m * d] (a view; channels at unit stride) -> the view [B, m, Sj, Si, h, w, d]: the
// map cut into Sj x Si regions of h x w pixels (region j * Si + i holds rows j*h .. j*h + h - 1
// and columns i*w .. i*w + w - 1, einops 'n (j h) (i w) c -> n (j i) (h w) c') and heads split
// from the channels, head-major as PyTorch's '(m c)'. No copy: seer_region_attention reads
// this map form of q, k, v in place.
static seer_tensor *heads_view(seer_ctx *c, const seer_tensor *x, int64_t m, int64_t h,
                               int64_t w) {
    if (!x) return NULL;
    const int64_t *s = x->stride;
    const int64_t d = x->shape[3] / m;
    seer_tensor v = *x;
    v.ndim = 7;
    const int64_t shape[7] = {x->shape[0], m, x->shape[1] / h, x->shape[2] / w, h, w, d};
    const int64_t stride[7] = {s[0], d * s[3], h * s[1], w * s[2], s[1], s[2], s[3]};
    memcpy(v.shape, shape, sizeof shape);
    memcpy(v.stride, stride, sizeof stride);
    v.name = NULL;
    return seer_ctx_view(c, &v);
}

// ---- bi-level routing attention ------------------------------------------------------------

seer_tensor *biformer_bra_forward(seer_ctx *c, const biformer_bra *a, const seer_tensor *x,
                                  const seer_tensor *residual, biformer_view *view) {
    if (!x) return NULL;
    const int64_t S = a->n_win, qk = a->qk_dim, C = a->dim, m = a->heads;
    const int64_t B = x->shape[0], H_in = x->shape[1], W_in = x->shape[2];
    const int64_t pad_b = (S - H_in % S) % S, pad_r = (S - W_in % S) % S;
    if ((pad_b || pad_r) && !a->auto_pad) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "biformer: bi-level routing attention needs a feature map divisible by "
                      "n_win = %lld per side, got %lldx%lld",
                      (long long)S, (long long)H_in, (long long)W_in);
        return NULL;
    }
    // auto_pad (dense prediction): zeros at the bottom and right, cropped off at the end.
    if (pad_b || pad_r) x = seer_pad2d(c, x, 0, (int)pad_b, 0, (int)pad_r, 0.0f);
    const int64_t H = H_in + pad_b, W = W_in + pad_r, h = H / S, w = W / S;

    // q, k, v per pixel on the map, then views of it: S x S regions of h x w pixels, heads split
    // (q, k: [B, m, S, S, h, w, qk/m], v: [B, m, S, S, h, w, C/m]).
    // The projection as two GEMMs over the rows of its weight, q and k in one map, v in its own:
    // LePE's convolution then reads v as it is (one map with all three made it copy v's channels).
    seer_tensor *qk_map = seer_linear(c, x, seer_narrow(c, a->qkv_w, 0, 0, 2 * qk),
                                      seer_narrow(c, a->qkv_b, 0, 0, 2 * qk)); // [B, H, W, 2qk]
    seer_tensor *v_map = seer_linear(c, x, seer_narrow(c, a->qkv_w, 0, 2 * qk, C),
                                     seer_narrow(c, a->qkv_b, 0, 2 * qk, C)); // [B, H, W, C]
    seer_tensor *q = heads_view(c, seer_narrow(c, qk_map, 3, 0, qk), m, h, w);
    seer_tensor *k = heads_view(c, seer_narrow(c, qk_map, 3, qk, qk), m, h, w);
    seer_tensor *v = heads_view(c, v_map, m, h, w);

    // Region-level routing (each region's topk regions by region-mean q . k, in F32 whatever
    // the compute dtype: a near tie decides which regions a query sees), then token-level
    // attention of each region's pixels to the pixels of its topk routed regions (read in place).
    seer_tensor *r_idx = seer_region_route(c, qk_map, S, a->topk, a->scale); // [B, R, topk]
    if (view) {
        view->map = biformer_view_map(c, a, q, k, r_idx, view->qx, view->qy);
        if (view->map && (pad_b || pad_r)) // the map without the padding's rows and columns
            view->map = seer_narrow(c, seer_narrow(c, view->map, 1, 0, H_in), 2, 0, W_in);
    }
    seer_tensor *o = seer_region_attention(c, q, k, v, r_idx, a->scale); // [B, m, S, S, h, w, d]

    // The op stores its output as the map [B, S, h, S, w, m, C/m] = [B, H, W, C], channels
    // (m, C/m) as PyTorch's '(m c)': its view permuted back to that order, reshaped (no copy).
    o = seer_reshape(c, seer_permute(c, o, (int[]){0, 2, 4, 3, 5, 1, 6}), 4,
                     (int64_t[]){B, H, W, C}); // [B, H, W, C]

    // LePE: depthwise conv over V as a full map.
    o = add_depthwise(c, o, v_map, a->lepe_w, a->lepe_b, a->side_dwconv);
    if (!(pad_b || pad_r)) return seer_linear_add(c, o, a->wo_w, a->wo_b, residual);
    o = seer_linear(c, o, a->wo_w, a->wo_b); // [B, H, W, C], cropped to the input
    return seer_add(c, residual, seer_narrow(c, seer_narrow(c, o, 1, 0, H_in), 2, 0, W_in));
}

// ---- full attention with LePE (last stage) -------------------------------------------------

seer_tensor *biformer_mhsa_forward(seer_ctx *c, const biformer_mhsa *a, const seer_tensor *x,
                                   const seer_tensor *residual) {
    if (!x) return NULL;
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = a->dim, m = a->heads;
    const int64_t L = H * W, d = C / m;
    seer_tensor *qkv = seer_linear(c, x, a->qkv_w, NULL);       // [B, H, W, 3C]
    qkv = seer_reshape(c, qkv, 4, (int64_t[]){B, L, 3 * m, d}); // q, k, v heads
    const int perm[4] = {0, 2, 1, 3};
    seer_tensor *q = seer_permute(c, seer_narrow(c, qkv, 2, 0, m), perm);     // [B, m, L, d]
    seer_tensor *k = seer_permute(c, seer_narrow(c, qkv, 2, m, m), perm);     // [B, m, L, d]
    seer_tensor *v = seer_permute(c, seer_narrow(c, qkv, 2, 2 * m, m), perm); // [B, m, L, d]
    seer_tensor *o = seer_attention(c, q, k, v, NULL, a->scale);              // [B, m, L, d]
    o = seer_reshape(c, seer_permute_copy(c, o, perm), 4, (int64_t[]){B, H, W, C});
    // LePE here is over the attention's input x, not over V.
    o = add_depthwise(c, o, x, a->lepe_w, a->lepe_b, a->side_dwconv);
    return seer_linear_add(c, o, a->proj_w, a->proj_b, residual); // [B, H, W, C]
}
