// Op fronts for NHWC spatial ops: pad2d, resize, unfold, fold, outlook_fold (VOLO's windowed
// attention, an unfold-attend-fold). They check the 4-D (5-D for fold's input) layout, compute
// output sizes and normalize parameters for the kernels.
#include "core/ops_common.h"

// Fails unless x is a 4-D float tensor [B, H, W, C].
static bool check_nhwc(seer_ctx *c, const char *op, const seer_tensor *x) {
    if (!seer_op_check_float(c, op, x)) return false;
    if (x->ndim == 4) return true;
    char buf[128];
    seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: expected x [B, H, W, C], got %s", op,
                  seer_tensor_shape_str(x, buf, sizeof buf));
    return false;
}

seer_tensor *seer_pad2d(seer_ctx *c, const seer_tensor *x, int top, int bottom, int left,
                        int right, float value) {
    SEER_OP_BEGIN(c, "pad2d", x);
    if (!check_nhwc(c, "pad2d", x)) return NULL;
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
        seer_ctx_fail(c, SEER_STATUS_ARG,
                      "pad2d: padding must be >= 0, got top %d bottom %d left %d right %d", top,
                      bottom, left, right);
        return NULL;
    }
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    // out: [B, H + top + bottom, W + left + right, C]
    int64_t shape[4] = {x->shape[0], x->shape[1] + top + bottom, x->shape[2] + left + right,
                        x->shape[3]};
    seer_tensor *out = seer_ctx_tensor(c, x->dtype, 4, shape);
    if (!out) return NULL;
    return seer_op_finish(c, "pad2d", seer_op_backend(c)->pad2d(out, xc, top, left, value), out);
}

seer_tensor *seer_resize(seer_ctx *c, const seer_tensor *x, int out_h, int out_w,
                         seer_resize_mode mode, bool align_corners) {
    SEER_OP_BEGIN(c, "resize", x);
    if (!check_nhwc(c, "resize", x)) return NULL;
    char buf[128];
    if (out_h < 1 || out_w < 1) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "resize: output size %dx%d must be at least 1x1",
                      out_h, out_w);
        return NULL;
    }
    if (mode != SEER_RESIZE_NEAREST && mode != SEER_RESIZE_BILINEAR &&
        mode != SEER_RESIZE_BICUBIC) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "resize: unknown mode %d", (int)mode);
        return NULL;
    }
    if (x->shape[1] < 1 || x->shape[2] < 1) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "resize: input %s has no pixels",
                      seer_tensor_shape_str(x, buf, sizeof buf));
        return NULL;
    }
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    int64_t shape[4] = {x->shape[0], out_h, out_w, x->shape[3]};
    seer_tensor *out = seer_ctx_tensor(c, x->dtype, 4, shape);
    if (!out) return NULL;
    if (mode == SEER_RESIZE_NEAREST) align_corners = false;  // meaningless there
    return seer_op_finish(c, "resize", seer_op_backend(c)->resize(out, xc, mode, align_corners),
                          out);
}

// Normalized copy of p (stride, dilation 0 -> 1); false (context failed) on bad values.
static bool unfold_params(seer_ctx *c, const char *op, const seer_unfold_params *p,
                          seer_unfold_params *q) {
    if (!p) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "%s: params are NULL", op);
        return false;
    }
    *q = *p;
    if (q->stride_h == 0) q->stride_h = 1;
    if (q->stride_w == 0) q->stride_w = 1;
    if (q->dil_h == 0) q->dil_h = 1;
    if (q->dil_w == 0) q->dil_w = 1;
    if (q->kernel_h < 1 || q->kernel_w < 1 || q->stride_h < 1 || q->stride_w < 1 ||
        q->dil_h < 1 || q->dil_w < 1 || q->pad_h < 0 || q->pad_w < 0) {
        seer_ctx_fail(c, SEER_STATUS_ARG,
                      "%s: bad params kernel %dx%d stride %dx%d pad %dx%d dilation %dx%d", op,
                      p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h, p->pad_w,
                      p->dil_h, p->dil_w);
        return false;
    }
    return true;
}

// Number of windows along one axis, as for a convolution (< 1 when the window does not fit).
static int64_t windows(int64_t in, int k, int s, int pad, int d) {
    int64_t span = (int64_t)d * (k - 1) + 1;
    int64_t room = in + 2 * (int64_t)pad - span;
    return room < 0 ? 0 : room / s + 1;
}

seer_tensor *seer_unfold(seer_ctx *c, const seer_tensor *x, const seer_unfold_params *p) {
    SEER_OP_BEGIN(c, "unfold", x);
    seer_unfold_params q;
    if (!check_nhwc(c, "unfold", x) || !unfold_params(c, "unfold", p, &q)) return NULL;
    char buf[128];
    int64_t ho = windows(x->shape[1], q.kernel_h, q.stride_h, q.pad_h, q.dil_h);
    int64_t wo = windows(x->shape[2], q.kernel_w, q.stride_w, q.pad_w, q.dil_w);
    if (ho < 1 || wo < 1) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "unfold: a %dx%d window (dilation %dx%d, pad %dx%d) does not fit x %s",
                      q.kernel_h, q.kernel_w, q.dil_h, q.dil_w, q.pad_h, q.pad_w,
                      seer_tensor_shape_str(x, buf, sizeof buf));
        return NULL;
    }
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    // out: [B, Ho, Wo, kh * kw, C]
    int64_t shape[5] = {x->shape[0], ho, wo, (int64_t)q.kernel_h * q.kernel_w, x->shape[3]};
    seer_tensor *out = seer_ctx_tensor(c, x->dtype, 5, shape);
    if (!out) return NULL;
    return seer_op_finish(c, "unfold", seer_op_backend(c)->unfold(out, xc, &q), out);
}

seer_tensor *seer_fold(seer_ctx *c, const seer_tensor *x, int out_h, int out_w,
                       const seer_unfold_params *p) {
    SEER_OP_BEGIN(c, "fold", x);
    seer_unfold_params q;
    if (!seer_op_check_float(c, "fold", x) || !unfold_params(c, "fold", p, &q)) return NULL;
    char buf[128];
    if (out_h < 1 || out_w < 1) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "fold: output size %dx%d must be at least 1x1", out_h,
                      out_w);
        return NULL;
    }
    // x must be [B, Ho, Wo, kh * kw, C] with Ho, Wo the window counts of an out_h x out_w input.
    int64_t ho = windows(out_h, q.kernel_h, q.stride_h, q.pad_h, q.dil_h);
    int64_t wo = windows(out_w, q.kernel_w, q.stride_w, q.pad_w, q.dil_w);
    int64_t kk = (int64_t)q.kernel_h * q.kernel_w;
    if (x->ndim != 5 || x->shape[1] != ho || x->shape[2] != wo || x->shape[3] != kk ||
        ho < 1 || wo < 1) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "fold: expected x [B, %lld, %lld, %lld, C] for a %dx%d output with a %dx%d "
                      "window (stride %dx%d, pad %dx%d, dilation %dx%d), got %s",
                      (long long)ho, (long long)wo, (long long)kk, out_h, out_w, q.kernel_h,
                      q.kernel_w, q.stride_h, q.stride_w, q.pad_h, q.pad_w, q.dil_h, q.dil_w,
                      seer_tensor_shape_str(x, buf, sizeof buf));
        return NULL;
    }
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    // out: [B, out_h, out_w, C]
    int64_t shape[4] = {x->shape[0], out_h, out_w, x->shape[4]};
    seer_tensor *out = seer_ctx_tensor(c, x->dtype, 4, shape);
    if (!out) return NULL;
    return seer_op_finish(c, "fold", seer_op_backend(c)->fold(out, xc, &q), out);
}

seer_tensor *seer_outlook_fold(seer_ctx *c, const seer_tensor *v, const seer_tensor *attn,
                               int heads, const seer_unfold_params *p) {
    SEER_OP_BEGIN(c, "outlook_fold", v, attn);
    seer_unfold_params q;
    if (!check_nhwc(c, "outlook_fold", v) || !unfold_params(c, "outlook_fold", p, &q))
        return NULL;
    char bv[128], ba[128];
    seer_tensor_shape_str(v, bv, sizeof bv);
    seer_tensor_shape_str(attn, ba, sizeof ba);
    const int64_t C = v->shape[3], kk = (int64_t)q.kernel_h * q.kernel_w;
    if (heads < 1 || C % heads) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "outlook_fold: %lld channels of v %s do not split into "
                      "%d heads", (long long)C, bv, heads);
        return NULL;
    }
    // attn: [B, Ho, Wo, heads, kk, kk] with Ho, Wo the windows of the unfold params on H x W.
    int64_t ho = windows(v->shape[1], q.kernel_h, q.stride_h, q.pad_h, q.dil_h);
    int64_t wo = windows(v->shape[2], q.kernel_w, q.stride_w, q.pad_w, q.dil_w);
    if (attn->dtype != v->dtype || attn->ndim != 6 || attn->shape[0] != v->shape[0] ||
        attn->shape[1] != ho || attn->shape[2] != wo || attn->shape[3] != heads ||
        attn->shape[4] != kk || attn->shape[5] != kk || ho < 1 || wo < 1) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "outlook_fold: expected attn [%lld, %lld, %lld, %d, %lld, %lld] of v's dtype "
                      "for v %s and a %dx%d window (stride %dx%d, pad %dx%d), got %s",
                      (long long)v->shape[0], (long long)ho, (long long)wo, heads, (long long)kk,
                      (long long)kk, bv, q.kernel_h, q.kernel_w, q.stride_h, q.stride_w, q.pad_h,
                      q.pad_w, ba);
        return NULL;
    }
    const seer_tensor *vc = seer_op_contig(c, v);
    const seer_tensor *ac = vc ? seer_op_contig(c, attn) : NULL;
    if (!ac) return NULL;
    seer_tensor *out = seer_ctx_tensor(c, v->dtype, 4, v->shape);
    if (!out) return NULL;
    return seer_op_finish(c, "outlook_fold",
                          seer_op_backend(c)->outlook_fold(out, vc, ac, heads, &q), out);
}
