// Op fronts for normalization (layer, RMS, group, inference batch norm) and the host-side
// batch-norm folding into convolution weights.
#include <math.h>

#include "core/ops_common.h"

// Shared checks: x is a float tensor with at least min_dims dims and eps is usable.
static bool check_norm_input(seer_ctx *c, const char *op, const seer_tensor *x, int min_dims,
                             float eps) {
    if (!seer_op_check_float(c, op, x)) return false;
    if (x->ndim < min_dims) {
        char sx[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: x must have at least %d dim%s, got %s", op,
                      min_dims, min_dims > 1 ? "s" : "", seer_tensor_shape_str(x, sx, sizeof sx));
        return false;
    }
    if (!(eps >= 0.0f) || isinf(eps)) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "%s: eps must be finite and >= 0, got %g", op,
                      (double)eps);
        return false;
    }
    return true;
}

// x: [..., C]; w, b: [C] or NULL.
seer_tensor *seer_layer_norm(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                             const seer_tensor *b, float eps) {
    SEER_OP_BEGIN(c, "layer_norm", x);
    if (!check_norm_input(c, "layer_norm", x, 1, eps)) return NULL;
    int64_t C = x->shape[x->ndim - 1];
    if (!seer_op_check_param(c, "layer_norm", "weight", w, C) ||
        !seer_op_check_param(c, "layer_norm", "bias", b, C))
        return NULL;
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    seer_tensor *y = seer_ctx_tensor(c, x->dtype, x->ndim, x->shape);
    if (!y) return NULL;
    return seer_op_finish(c, "layer_norm", seer_op_backend(c)->layer_norm(y, xc, w, b, eps), y);
}

// x: [..., C]; w: [C] or NULL.
seer_tensor *seer_rms_norm(seer_ctx *c, const seer_tensor *x, const seer_tensor *w, float eps) {
    SEER_OP_BEGIN(c, "rms_norm", x);
    if (!check_norm_input(c, "rms_norm", x, 1, eps)) return NULL;
    if (!seer_op_check_param(c, "rms_norm", "weight", w, x->shape[x->ndim - 1])) return NULL;
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    seer_tensor *y = seer_ctx_tensor(c, x->dtype, x->ndim, x->shape);
    if (!y) return NULL;
    return seer_op_finish(c, "rms_norm", seer_op_backend(c)->rms_norm(y, xc, w, eps), y);
}

// x: [B, ..., C] channels-last; groups divides C; w, b: [C] or NULL.
seer_tensor *seer_group_norm(seer_ctx *c, const seer_tensor *x, int groups, const seer_tensor *w,
                             const seer_tensor *b, float eps) {
    SEER_OP_BEGIN(c, "group_norm", x);
    if (!check_norm_input(c, "group_norm", x, 2, eps)) return NULL;
    int64_t C = x->shape[x->ndim - 1];
    if (groups < 1 || C % groups != 0) {
        char sx[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "group_norm: groups = %d must be >= 1 and divide C = %lld (x %s)", groups,
                      (long long)C, seer_tensor_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    if (!seer_op_check_param(c, "group_norm", "weight", w, C) ||
        !seer_op_check_param(c, "group_norm", "bias", b, C))
        return NULL;
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    seer_tensor *y = seer_ctx_tensor(c, x->dtype, x->ndim, x->shape);
    if (!y) return NULL;
    return seer_op_finish(c, "group_norm", seer_op_backend(c)->group_norm(y, xc, groups, w, b, eps),
                          y);
}

// x: [..., C]; mean, var: [C] (required); w, b: [C] or NULL (1 and 0).
seer_tensor *seer_batch_norm(seer_ctx *c, const seer_tensor *x, const seer_tensor *mean,
                             const seer_tensor *var, const seer_tensor *w, const seer_tensor *b,
                             float eps) {
    SEER_OP_BEGIN(c, "batch_norm", x, mean, var);
    if (!check_norm_input(c, "batch_norm", x, 1, eps)) return NULL;
    int64_t C = x->shape[x->ndim - 1];
    if (!seer_op_check_param(c, "batch_norm", "running_mean", mean, C) ||
        !seer_op_check_param(c, "batch_norm", "running_var", var, C) ||
        !seer_op_check_param(c, "batch_norm", "weight", w, C) ||
        !seer_op_check_param(c, "batch_norm", "bias", b, C))
        return NULL;
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    seer_tensor *y = seer_ctx_tensor(c, x->dtype, x->ndim, x->shape);
    if (!y) return NULL;
    return seer_op_finish(c, "batch_norm",
                          seer_op_backend(c)->batch_norm(y, xc, mean, var, w, b, eps), y);
}

// conv(x) = w . x + bias followed by BN equals (s * w) . x + (bias - mean) * s + beta with
// s = gamma / sqrt(var + eps), one s per output channel. w_ohwi: [c_out, per_out], scaled in
// place (may be NULL to fold only the bias); bias, gamma, beta may be NULL (0, 1, 0).
// bias_out may alias bias. Computed in double, rounded once.
void seer_bn_fold(float *w_ohwi, int64_t c_out, int64_t per_out, const float *bias,
                  const float *mean, const float *var, const float *gamma, const float *beta,
                  float eps, float *bias_out) {
    for (int64_t o = 0; o < c_out; o++) {
        double s = (gamma ? (double)gamma[o] : 1.0) / sqrt((double)var[o] + (double)eps);
        if (w_ohwi)
            for (int64_t i = 0; i < per_out; i++)
                w_ohwi[o * per_out + i] = (float)(w_ohwi[o * per_out + i] * s);
        double b0 = bias ? (double)bias[o] : 0.0;
        if (bias_out) bias_out[o] = (float)((b0 - mean[o]) * s + (beta ? (double)beta[o] : 0.0));
    }
}
