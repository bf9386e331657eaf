// Op fronts for matrix products, convolution and pooling: validate shapes, normalize params,
// flatten batch dims, allocate the output and call the backend's kernel.
#include <string.h>

#include "core/ops_common.h"

// ---- matrix products -----------------------------------------------------------------------

// t as a contiguous tensor for a kernel that takes transposes: a view whose last two dims
// are swapped relative to a contiguous layout (k.transpose(-2, -1), a permuted weight) is
// passed as the contiguous tensor under it with *trans flipped, so no copy is made.
static const seer_tensor *matrix_operand(seer_ctx *c, const seer_tensor *t, bool *trans) {
    if (seer_tensor_is_contiguous(t)) return t;
    seer_tensor v = *t;
    int r = v.ndim - 2, q = v.ndim - 1;
    int64_t s = v.shape[r];
    v.shape[r] = v.shape[q];
    v.shape[q] = s;
    s = v.stride[r];
    v.stride[r] = v.stride[q];
    v.stride[q] = s;
    if (seer_tensor_is_contiguous(&v)) {
        *trans = !*trans;
        return seer_ctx_view(c, &v);
    }
    return seer_op_contig(c, t);
}

static seer_tensor *matmul_impl(seer_ctx *c, const char *op, const seer_tensor *a,
                                const seer_tensor *b, bool ta, bool tb, float alpha,
                                const seer_tensor *bias) {
    char sa[128], sb[128];
    if (!seer_op_check_float(c, op, a)) return NULL;
    if (a->dtype != b->dtype) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: a is %s but b is %s", op,
                      seer_dtype_name(a->dtype), seer_dtype_name(b->dtype));
        return NULL;
    }
    if (a->ndim < 2 || b->ndim < 2) {
        seer_ctx_fail(
            c, SEER_STATUS_SHAPE, "%s: operands must have at least 2 dims, got a %s, b %s", op,
            seer_tensor_shape_str(a, sa, sizeof sa), seer_tensor_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    const int64_t m = a->shape[a->ndim - (ta ? 1 : 2)], k = a->shape[a->ndim - (ta ? 2 : 1)];
    const int64_t kb = b->shape[b->ndim - (tb ? 1 : 2)], n = b->shape[b->ndim - (tb ? 2 : 1)];
    if (k != kb) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "%s: inner dims differ: a %s%s gives K = %lld, b %s%s gives K = %lld", op,
                      seer_tensor_shape_str(a, sa, sizeof sa), ta ? " (transposed)" : "",
                      (long long)k, seer_tensor_shape_str(b, sb, sizeof sb),
                      tb ? " (transposed)" : "", (long long)kb);
        return NULL;
    }
    if (!seer_op_check_param(c, op, "bias", bias, n)) return NULL;

    // Batch dims, aligned at the right (NumPy). The kernel takes Ba, Bb in {1, B}: equal
    // batch shapes, or one side with a single batch (a shared weight).
    const int na = a->ndim - 2, nbd = b->ndim - 2, nout = na > nbd ? na : nbd;
    int64_t out_shape[SEER_MAX_DIMS];
    int64_t batch_a = 1, batch_b = 1, batch = 1;
    bool compatible = true;
    for (int i = 0; i < nout; i++) {
        int64_t da = i - (nout - na) >= 0 ? a->shape[i - (nout - na)] : 1;
        int64_t db = i - (nout - nbd) >= 0 ? b->shape[i - (nout - nbd)] : 1;
        if (da != db && da != 1 && db != 1) compatible = false;
        out_shape[i] = da == 1 ? db : da;
        batch_a *= da;
        batch_b *= db;
        batch *= out_shape[i];
    }
    if (compatible && batch > 0 && batch_a != 1 && batch_b != 1 &&
        (batch_a != batch || batch_b != batch))
        compatible = false;
    if (!compatible) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "%s: batch dims of a %s and b %s do not broadcast (supported: equal "
                      "batch dims, or one side with a single batch)",
                      op, seer_tensor_shape_str(a, sa, sizeof sa),
                      seer_tensor_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    out_shape[nout] = m;
    out_shape[nout + 1] = n;

    seer_tensor *out = seer_ctx_tensor(c, a->dtype, nout + 2, out_shape);
    if (!out) return NULL;
    if (batch == 0 || m == 0 || n == 0) return out;

    a = matrix_operand(c, a, &ta);
    if (!a) return NULL;
    b = matrix_operand(c, b, &tb);
    if (!b) return NULL;
    seer_tensor a3 = seer_tensor_wrap(a->data, a->dtype, a->device, 3,
                                      (int64_t[]){batch_a, a->shape[na], a->shape[na + 1]});
    seer_tensor b3 = seer_tensor_wrap(b->data, b->dtype, b->device, 3,
                                      (int64_t[]){batch_b, b->shape[nbd], b->shape[nbd + 1]});
    seer_tensor o3 =
        seer_tensor_wrap(out->data, out->dtype, out->device, 3, (int64_t[]){batch, m, n});
    return seer_op_finish(c, op, seer_op_backend(c)->matmul(&o3, &a3, &b3, ta, tb, alpha, bias),
                          out);
}

seer_tensor *seer_matmul(seer_ctx *c, const seer_tensor *a, const seer_tensor *b, bool trans_a,
                         bool trans_b, float alpha, const seer_tensor *bias) {
    SEER_OP_BEGIN(c, "matmul", a, b);
    return matmul_impl(c, "matmul", a, b, trans_a, trans_b, alpha, bias);
}

seer_tensor *seer_linear(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                         const seer_tensor *b) {
    SEER_OP_BEGIN(c, "linear", x, w);
    char sx[128], sw[128];
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1]) {
        seer_ctx_fail(
            c, SEER_STATUS_SHAPE,
            "linear: weight must be [out, in] with in = x's last dim; x %s, weight%s%s %s",
            seer_tensor_shape_str(x, sx, sizeof sx), w->name ? " " : "", w->name ? w->name : "",
            seer_tensor_shape_str(w, sw, sizeof sw));
        return NULL;
    }
    if (x->ndim > 1) return matmul_impl(c, "linear", x, w, false, true, 1.0f, b);
    // x: [in] -> [1, in] -> [1, out] -> [out], as nn.Linear on a 1-D input.
    seer_tensor x2 = *x;
    x2.ndim = 2;
    x2.shape[1] = x->shape[0];
    x2.stride[1] = x->stride[0];
    x2.shape[0] = 1;
    x2.stride[0] = x->shape[0] * x->stride[0];
    seer_tensor *y = matmul_impl(c, "linear", &x2, w, false, true, 1.0f, b);
    return y ? seer_reshape(c, y, 1, &w->shape[0]) : NULL;
}

// The checks and the 2-D views of a Linear run as one GEMM over rows (linear_add, linear_gelu):
// x [..., K] and w [N, K] of x's float dtype, b F32 [N] or NULL. Returns y [..., N] allocated
// (NULL after recording a failure), with *x_io and *w_io made contiguous and *x2, *y2 their
// [rows, K] and [rows, N] views; *rows is 0 when there is nothing to compute.
static seer_tensor *linear_rows(seer_ctx *c, const char *op, const seer_tensor **x_io,
                                const seer_tensor **w_io, const seer_tensor *b, seer_tensor *x2,
                                seer_tensor *y2, int64_t *rows) {
    const seer_tensor *x = *x_io, *w = *w_io;
    char sx[128], sw[128];
    const int64_t K = x->shape[x->ndim - 1];
    *rows = 0;
    if (!seer_op_check_float(c, op, x)) return NULL;
    if (w->ndim != 2 || w->shape[1] != K || w->dtype != x->dtype) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "%s: weight must be [out, in] of x's dtype with in = x's last dim; "
                      "x %s %s, weight%s%s %s %s",
                      op, seer_dtype_name(x->dtype), seer_tensor_shape_str(x, sx, sizeof sx),
                      w->name ? " " : "", w->name ? w->name : "", seer_dtype_name(w->dtype),
                      seer_tensor_shape_str(w, sw, sizeof sw));
        return NULL;
    }
    const int64_t N = w->shape[0];
    if (!seer_op_check_param(c, op, "bias", b, N)) return NULL;
    int64_t shape[SEER_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 1] = N;
    seer_tensor *y = seer_ctx_tensor(c, x->dtype, x->ndim, shape);
    if (!y) return NULL;
    const int64_t n = N ? seer_tensor_numel(y) / N : 0;
    if (n == 0 || N == 0) return y;
    if (!(*x_io = x = seer_op_contig(c, x)) || !(*w_io = seer_op_contig(c, w))) return NULL;
    *x2 = seer_tensor_wrap(x->data, x->dtype, x->device, 2, (int64_t[]){n, K});
    *y2 = seer_tensor_wrap(y->data, y->dtype, y->device, 2, (int64_t[]){n, N});
    *rows = n;
    return y;
}

seer_tensor *seer_linear_add(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                             const seer_tensor *b, const seer_tensor *residual) {
    SEER_OP_BEGIN(c, "linear_add", x, w, residual);
    const seer_backend *be = seer_op_backend(c);
    if (!be->linear_add || x->ndim < 2) return seer_add(c, residual, seer_linear(c, x, w, b));
    char sx[128], sr[128];
    seer_tensor x2, y2;
    int64_t rows;
    const seer_tensor *x_in = x;
    seer_tensor *y = linear_rows(c, "linear_add", &x, &w, b, &x2, &y2, &rows);
    if (!y) return NULL;
    if (residual->dtype != y->dtype || !seer_tensor_same_shape(residual, y)) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "linear_add: residual is %s %s, expected the output's %s of x %s",
                      seer_dtype_name(residual->dtype),
                      seer_tensor_shape_str(residual, sr, sizeof sr), seer_dtype_name(x->dtype),
                      seer_tensor_shape_str(x_in, sx, sizeof sx));
        return NULL;
    }
    if (rows == 0) return y;
    if (!(residual = seer_op_contig(c, residual))) return NULL;
    seer_tensor r2 = seer_tensor_wrap(residual->data, residual->dtype, residual->device, 2,
                                      (int64_t[]){rows, w->shape[0]});
    return seer_op_finish(c, "linear_add", be->linear_add(&y2, &x2, w, b, &r2), y);
}

seer_tensor *seer_linear_gelu(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                              const seer_tensor *b) {
    SEER_OP_BEGIN(c, "linear_gelu", x, w);
    const seer_backend *be = seer_op_backend(c);
    if (!be->linear_gelu || x->ndim < 2) return seer_gelu(c, seer_linear(c, x, w, b));
    seer_tensor x2, y2;
    int64_t rows;
    seer_tensor *y = linear_rows(c, "linear_gelu", &x, &w, b, &x2, &y2, &rows);
    if (!y || rows == 0) return y;
    return seer_op_finish(c, "linear_gelu", be->linear_gelu(&y2, &x2, w, b), y);
}

// ---- convolution ---------------------------------------------------------------------------

// Validates x, w, b and p and returns y allocated (uninitialized), with x, w made contiguous
// and p normalized into *qp; NULL after recording a failure.
static seer_tensor *conv2d_prepare(seer_ctx *c, const seer_tensor **x_io, const seer_tensor **w_io,
                                   const seer_tensor *b, const seer_conv2d_params *p,
                                   seer_conv2d_params *qp) {
    const seer_tensor *x = *x_io, *w = *w_io;
    char sx[128], sw[128];
    if (!seer_op_check_float(c, "conv2d", x)) return NULL;
    if (w->dtype != x->dtype) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "conv2d: x is %s but the weight is %s",
                      seer_dtype_name(x->dtype), seer_dtype_name(w->dtype));
        return NULL;
    }
    if (x->ndim != 4 || w->ndim != 4) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "conv2d: expected x [B, H, W, C_in] and weight [C_out, kh, kw, C_in/groups], "
                      "got x %s, weight %s",
                      seer_tensor_shape_str(x, sx, sizeof sx),
                      seer_tensor_shape_str(w, sw, sizeof sw));
        return NULL;
    }
    seer_conv2d_params q = p ? *p : (seer_conv2d_params){0};
    if (q.stride_h < 0 || q.stride_w < 0 || q.pad_h < 0 || q.pad_w < 0 || q.dil_h < 0 ||
        q.dil_w < 0 || q.groups < 0) {
        seer_ctx_fail(c, SEER_STATUS_ARG,
                      "conv2d: negative parameter (stride %dx%d, pad %dx%d, dilation %dx%d, "
                      "groups %d)",
                      q.stride_h, q.stride_w, q.pad_h, q.pad_w, q.dil_h, q.dil_w, q.groups);
        return NULL;
    }
    if (!q.stride_h) q.stride_h = 1;
    if (!q.stride_w) q.stride_w = 1;
    if (!q.dil_h) q.dil_h = 1;
    if (!q.dil_w) q.dil_w = 1;
    if (!q.groups) q.groups = 1;

    const int64_t cin = x->shape[3], cout = w->shape[0], kh = w->shape[1], kw = w->shape[2];
    if (cin < 1 || cout < 1 || kh < 1 || kw < 1 || cin % q.groups || cout % q.groups ||
        w->shape[3] != cin / q.groups) {
        seer_ctx_fail(
            c, SEER_STATUS_SHAPE,
            "conv2d: weight%s%s %s does not fit x %s with groups %d (expected "
            "[C_out, kh, kw, %lld], groups dividing C_in and C_out)",
            w->name ? " " : "", w->name ? w->name : "", seer_tensor_shape_str(w, sw, sizeof sw),
            seer_tensor_shape_str(x, sx, sizeof sx), q.groups, (long long)(cin / q.groups));
        return NULL;
    }
    if (!seer_op_check_param(c, "conv2d", "bias", b, cout)) return NULL;

    const int64_t ekh = (int64_t)q.dil_h * (kh - 1) + 1, ekw = (int64_t)q.dil_w * (kw - 1) + 1;
    const int64_t hp = x->shape[1] + 2 * (int64_t)q.pad_h, wp = x->shape[2] + 2 * (int64_t)q.pad_w;
    if (hp < ekh || wp < ekw) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "conv2d: kernel %lldx%lld (dilated %lldx%lld) is larger than the padded "
                      "input %lldx%lld of x %s",
                      (long long)kh, (long long)kw, (long long)ekh, (long long)ekw, (long long)hp,
                      (long long)wp, seer_tensor_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    const int64_t shape[4] = {x->shape[0], (hp - ekh) / q.stride_h + 1, (wp - ekw) / q.stride_w + 1,
                              cout};
    *x_io = x = seer_op_contig(c, x);
    if (!x) return NULL;
    *w_io = w = seer_op_contig(c, w);
    if (!w) return NULL;
    *qp = q;
    return seer_ctx_tensor(c, x->dtype, 4, shape);
}

seer_tensor *seer_conv2d(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                         const seer_tensor *b, const seer_conv2d_params *p) {
    SEER_OP_BEGIN(c, "conv2d", x, w);
    seer_conv2d_params q;
    seer_tensor *y = conv2d_prepare(c, &x, &w, b, p, &q);
    if (!y) return NULL;
    return seer_op_finish(c, "conv2d", seer_op_backend(c)->conv2d(y, x, w, b, &q), y);
}

seer_tensor *seer_conv2d_fused(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                               const seer_tensor *b, const seer_conv2d_params *p,
                               const seer_tensor *residual, bool relu) {
    SEER_OP_BEGIN(c, "conv2d_fused", x, w);
    if (residual && !seer_op_check_device(c, "conv2d_fused", residual)) return NULL;
    seer_conv2d_params q;
    seer_tensor *y = conv2d_prepare(c, &x, &w, b, p, &q);
    if (!y) return NULL;
    if (residual) {
        char sr[128], sy[128];
        bool same = residual->ndim == 4 && residual->dtype == y->dtype;
        for (int i = 0; same && i < 4; i++)
            same = residual->shape[i] == y->shape[i];
        if (!same) {
            seer_ctx_fail(c, SEER_STATUS_SHAPE,
                          "conv2d_fused: residual is %s %s, expected the output's %s %s",
                          seer_dtype_name(residual->dtype),
                          seer_tensor_shape_str(residual, sr, sizeof sr),
                          seer_dtype_name(y->dtype), seer_tensor_shape_str(y, sy, sizeof sy));
            return NULL;
        }
    }
    const seer_backend *be = seer_op_backend(c);
    if (!be->conv2d_fused) {
        // Composition for backends without a fused kernel.
        y = seer_op_finish(c, "conv2d_fused", be->conv2d(y, x, w, b, &q), y);
        if (residual) y = seer_add(c, y, residual);
        return relu ? seer_relu(c, y) : y;
    }
    if (residual && !(residual = seer_op_contig(c, residual))) return NULL;
    return seer_op_finish(c, "conv2d_fused", be->conv2d_fused(y, x, w, b, &q, residual, relu), y);
}

void seer_conv_weight_from_oihw(float *dst, const float *src, int64_t o, int64_t i, int64_t kh,
                                int64_t kw) {
    // dst[oc, y, x, ic] = src[oc, ic, y, x]
    for (int64_t oc = 0; oc < o; oc++)
        for (int64_t ic = 0; ic < i; ic++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t x = 0; x < kw; x++)
                    dst[((oc * kh + y) * kw + x) * i + ic] = src[((oc * i + ic) * kh + y) * kw + x];
}

// ---- pooling -------------------------------------------------------------------------------

// PyTorch's pooling output size along one dim; 0 when no window fits.
static int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t pad, bool ceil_mode) {
    int64_t span = in + 2 * pad - k;
    if (span < 0) return 0;
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    // ceil_mode may add a window; drop it if it would start in the right padding.
    if (ceil_mode && (out - 1) * s >= in + pad) out--;
    return out;
}

static bool check_image(seer_ctx *c, const char *op, const seer_tensor *x) {
    if (!seer_op_check_float(c, op, x)) return false;
    if (x->ndim == 4 && x->shape[1] > 0 && x->shape[2] > 0) return true;
    char sx[128];
    seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: expected x [B, H, W, C] with H, W >= 1, got %s", op,
                  seer_tensor_shape_str(x, sx, sizeof sx));
    return false;
}

seer_tensor *seer_pool2d(seer_ctx *c, const seer_tensor *x, const seer_pool2d_params *p) {
    SEER_OP_BEGIN(c, "pool2d", x);
    if (!p) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "pool2d: params are NULL");
        return NULL;
    }
    if (!check_image(c, "pool2d", x)) return NULL;
    seer_pool2d_params q = *p;
    if (!q.stride_h) q.stride_h = q.kernel_h;
    if (!q.stride_w) q.stride_w = q.kernel_w;
    // PyTorch's rule: padding at most half the kernel, so every window meets the input.
    if ((q.mode != SEER_POOL_AVG && q.mode != SEER_POOL_MAX) || q.kernel_h < 1 || q.kernel_w < 1 ||
        q.stride_h < 1 || q.stride_w < 1 || q.pad_h < 0 || q.pad_w < 0 ||
        2 * q.pad_h > q.kernel_h || 2 * q.pad_w > q.kernel_w) {
        seer_ctx_fail(c, SEER_STATUS_ARG,
                      "pool2d: bad params (mode %d, kernel %dx%d, stride %dx%d, pad %dx%d; "
                      "kernel >= 1, stride >= 0, 0 <= pad <= kernel / 2)",
                      (int)p->mode, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h,
                      p->pad_w);
        return NULL;
    }
    const int64_t ho = pool_out_size(x->shape[1], q.kernel_h, q.stride_h, q.pad_h, q.ceil_mode);
    const int64_t wo = pool_out_size(x->shape[2], q.kernel_w, q.stride_w, q.pad_w, q.ceil_mode);
    if (ho < 1 || wo < 1) {
        char sx[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "pool2d: kernel %dx%d is larger than the padded input of x %s", q.kernel_h,
                      q.kernel_w, seer_tensor_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    x = seer_op_contig(c, x);
    if (!x) return NULL;
    seer_tensor *y = seer_ctx_tensor(c, x->dtype, 4, (int64_t[]){x->shape[0], ho, wo, x->shape[3]});
    if (!y) return NULL;
    return seer_op_finish(c, "pool2d", seer_op_backend(c)->pool2d(y, x, &q), y);
}

seer_tensor *seer_adaptive_avg_pool2d(seer_ctx *c, const seer_tensor *x, int out_h, int out_w) {
    SEER_OP_BEGIN(c, "adaptive_avg_pool2d", x);
    if (!check_image(c, "adaptive_avg_pool2d", x)) return NULL;
    if (out_h < 1 || out_w < 1) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "adaptive_avg_pool2d: output size %dx%d must be >= 1",
                      out_h, out_w);
        return NULL;
    }
    x = seer_op_contig(c, x);
    if (!x) return NULL;
    seer_tensor *y =
        seer_ctx_tensor(c, x->dtype, 4, (int64_t[]){x->shape[0], out_h, out_w, x->shape[3]});
    if (!y) return NULL;
    return seer_op_finish(c, "adaptive_avg_pool2d", seer_op_backend(c)->adaptive_avg_pool2d(y, x),
                          y);
}
