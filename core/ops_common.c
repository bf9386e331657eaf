// Shared checks of the op fronts.
#include "core/ops_common.h"

#include "core/profile.h"

bool seer_op_check_device(seer_ctx *c, const char *op, const seer_tensor *t) {
    if (t->device == seer_ctx_device(c)) return true;
    seer_ctx_fail(c, SEER_STATUS_DEVICE, "%s: tensor %s is on %s, the context on %s", op,
                  t->name ? t->name : "", seer_device_name(t->device),
                  seer_device_name(seer_ctx_device(c)));
    return false;
}

bool seer_op_check_float(seer_ctx *c, const char *op, const seer_tensor *t) {
    if (seer_dtype_is_float(t->dtype)) return true;
    seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: expected a float tensor, got %s", op,
                  seer_dtype_name(t->dtype));
    return false;
}

bool seer_op_check_param(seer_ctx *c, const char *op, const char *what, const seer_tensor *t,
                         int64_t n) {
    if (!t) return true;
    if (!seer_op_check_device(c, op, t)) return false;
    if (t->ndim == 1 && t->shape[0] == n && t->dtype == SEER_F32 && seer_tensor_is_contiguous(t))
        return true;
    char buf[128];
    seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: %s%s%s must be [%lld] f32, got %s", op, what,
                  t->name ? " " : "", t->name ? t->name : "", (long long)n,
                  seer_tensor_shape_str(t, buf, sizeof buf));
    return false;
}

bool seer_op_check_index(seer_ctx *c, const char *op, const seer_tensor *t) {
    if (t->dtype == SEER_I32 || t->dtype == SEER_I64) return true;
    seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: index tensor must be i32 or i64, got %s", op,
                  seer_dtype_name(t->dtype));
    return false;
}

bool seer_op_dim(seer_ctx *c, const char *op, const seer_tensor *t, int *dim) {
    int d = *dim < 0 ? *dim + t->ndim : *dim;
    if (d < 0 || d >= t->ndim) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: dim %d out of range for a %d-d tensor", op,
                      *dim, t->ndim);
        return false;
    }
    *dim = d;
    return true;
}

const seer_tensor *seer_op_contig(seer_ctx *c, const seer_tensor *t) {
    if (seer_tensor_is_contiguous(t)) return t;
    seer_tensor *out = seer_ctx_tensor(c, t->dtype, t->ndim, t->shape);
    if (!out) return NULL;
    return seer_op_finish(c, "contiguous", seer_op_backend(c)->copy(out, t), out);
}

seer_tensor *seer_op_finish(seer_ctx *c, const char *op, seer_status st, seer_tensor *out) {
    if (st == SEER_STATUS_OK) {
        if (seer_profile_enabled()) seer_profile_op(c, op, out);
        return out;
    }
    seer_ctx_fail(c, st, "%s: %s", op, seer_last_error());
    return NULL;
}
