// Op fronts for elementwise ops, softmax and reductions: validate, broadcast, allocate the
// output and call the context's kernel.
#include "core/ops_common.h"

// ---- unary ---------------------------------------------------------------------------------

static const char *unary_name(seer_unary_op op) {
    static const char *names[SEER_UNARY_COUNT] = {
        "relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "exp", "sqrt", "abs", "affine",
    };
    return (int)op >= 0 && op < SEER_UNARY_COUNT ? names[op] : "unary";
}

seer_tensor *seer_unary(seer_ctx *c, const seer_tensor *x, seer_unary_op op, float alpha,
                        float beta) {
    SEER_OP_BEGIN(c, "unary", x);
    if ((int)op < 0 || op >= SEER_UNARY_COUNT) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "unary: unknown op %d (expected 0..%d)", (int)op,
                      SEER_UNARY_COUNT - 1);
        return NULL;
    }
    const char *name = unary_name(op);
    if (!seer_op_check_float(c, name, x)) return NULL;
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    seer_tensor *y = seer_ctx_tensor(c, x->dtype, x->ndim, x->shape);
    if (!y) return NULL;
    return seer_op_finish(c, name, seer_op_backend(c)->unary(y, xc, op, alpha, beta), y);
}

seer_tensor *seer_relu(seer_ctx *c, const seer_tensor *x) {
    return seer_unary(c, x, SEER_UNARY_RELU, 1.0f, 0.0f);
}
seer_tensor *seer_gelu(seer_ctx *c, const seer_tensor *x) {
    return seer_unary(c, x, SEER_UNARY_GELU, 1.0f, 0.0f);
}
seer_tensor *seer_gelu_tanh(seer_ctx *c, const seer_tensor *x) {
    return seer_unary(c, x, SEER_UNARY_GELU_TANH, 1.0f, 0.0f);
}
seer_tensor *seer_silu(seer_ctx *c, const seer_tensor *x) {
    return seer_unary(c, x, SEER_UNARY_SILU, 1.0f, 0.0f);
}
seer_tensor *seer_sigmoid(seer_ctx *c, const seer_tensor *x) {
    return seer_unary(c, x, SEER_UNARY_SIGMOID, 1.0f, 0.0f);
}
seer_tensor *seer_scale(seer_ctx *c, const seer_tensor *x, float alpha, float beta) {
    return seer_unary(c, x, SEER_UNARY_AFFINE, alpha, beta);
}

// ---- broadcasting --------------------------------------------------------------------------

// View of t with ndim dims and the given shape: dims aligned at the right, missing leading
// dims and stretched size-1 dims get stride 0. The caller checked that t broadcasts.
static seer_tensor broadcast_view(const seer_tensor *t, int ndim, const int64_t *shape) {
    seer_tensor v = *t;
    v.ndim = ndim;
    int lead = ndim - t->ndim;
    for (int d = 0; d < ndim; d++) {
        int src = d - lead;
        v.shape[d] = shape[d];
        v.stride[d] = (src < 0 || (t->shape[src] == 1 && shape[d] != 1)) ? 0 : t->stride[src];
    }
    return v;
}

// ---- binary --------------------------------------------------------------------------------

static const char *binary_name(seer_binary_op op) {
    static const char *names[SEER_BINARY_COUNT] = {"add", "sub", "mul", "div", "max", "min"};
    return (int)op >= 0 && op < SEER_BINARY_COUNT ? names[op] : "binary";
}

seer_tensor *seer_binary(seer_ctx *c, const seer_tensor *a, const seer_tensor *b,
                         seer_binary_op op) {
    SEER_OP_BEGIN(c, "binary", a, b);
    if ((int)op < 0 || op >= SEER_BINARY_COUNT) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "binary: unknown op %d (expected 0..%d)", (int)op,
                      SEER_BINARY_COUNT - 1);
        return NULL;
    }
    const char *name = binary_name(op);
    if (!seer_op_check_float(c, name, a) || !seer_op_check_float(c, name, b)) return NULL;
    char sa[128], sb[128];
    // 1-D parameters stay F32 when a model computes in F16/BF16 (core/ops.h): bring such an
    // operand to the activation's dtype (a small copy) rather than refuse.
    if (a->dtype != b->dtype && b->dtype == SEER_F32 && b->ndim <= 1)
        b = seer_to(c, b, a->dtype);
    else if (a->dtype != b->dtype && a->dtype == SEER_F32 && a->ndim <= 1)
        a = seer_to(c, a, b->dtype);
    if (!a || !b) return NULL;
    if (a->dtype != b->dtype) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: operands differ in dtype: %s and %s", name,
                      seer_tensor_shape_str(a, sa, sizeof sa),
                      seer_tensor_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    // NumPy rule: align at the right; each pair of sizes is equal or contains a 1.
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[SEER_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t na = da >= 0 ? a->shape[da] : 1, nb = db >= 0 ? b->shape[db] : 1;
        if (na != nb && na != 1 && nb != 1) {
            seer_ctx_fail(c, SEER_STATUS_SHAPE,
                          "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", name,
                          seer_tensor_shape_str(a, sa, sizeof sa),
                          seer_tensor_shape_str(b, sb, sizeof sb), d, (long long)na, (long long)nb);
            return NULL;
        }
        shape[d] = na == 1 ? nb : na;
    }
    seer_tensor av = broadcast_view(a, nd, shape), bv = broadcast_view(b, nd, shape);
    seer_tensor *y = seer_ctx_tensor(c, a->dtype, nd, shape);
    if (!y) return NULL;
    return seer_op_finish(c, name, seer_op_backend(c)->binary(y, &av, &bv, op), y);
}

seer_tensor *seer_add(seer_ctx *c, const seer_tensor *a, const seer_tensor *b) {
    return seer_binary(c, a, b, SEER_BINARY_ADD);
}
seer_tensor *seer_sub(seer_ctx *c, const seer_tensor *a, const seer_tensor *b) {
    return seer_binary(c, a, b, SEER_BINARY_SUB);
}
seer_tensor *seer_mul(seer_ctx *c, const seer_tensor *a, const seer_tensor *b) {
    return seer_binary(c, a, b, SEER_BINARY_MUL);
}

// ---- softmax -------------------------------------------------------------------------------

static seer_tensor *softmax_front(seer_ctx *c, const char *name, const seer_tensor *x, float scale,
                                  const seer_tensor *bias, bool log_out) {
    char sx[128], sbias[128];
    if (!seer_op_check_float(c, name, x)) return NULL;
    if (x->ndim < 1) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: x must have at least 1 dim, got %s", name,
                      seer_tensor_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    seer_tensor bv = {0};
    if (bias) {
        if (!seer_op_check_device(c, name, bias)) return NULL;
        bool fits = bias->dtype == x->dtype && bias->ndim <= x->ndim;
        for (int d = 0; fits && d < bias->ndim; d++) {
            int64_t nb = bias->shape[d], nx = x->shape[d + x->ndim - bias->ndim];
            fits = nb == nx || nb == 1;
        }
        if (!fits) {
            seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: bias %s does not broadcast to x %s", name,
                          seer_tensor_shape_str(bias, sbias, sizeof sbias),
                          seer_tensor_shape_str(x, sx, sizeof sx));
            return NULL;
        }
        bv = broadcast_view(bias, x->ndim, x->shape);
    }
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    seer_tensor *y = seer_ctx_tensor(c, x->dtype, x->ndim, x->shape);
    if (!y) return NULL;
    seer_status st = seer_op_backend(c)->softmax(y, xc, scale, bias ? &bv : NULL, log_out);
    return seer_op_finish(c, name, st, y);
}

seer_tensor *seer_softmax(seer_ctx *c, const seer_tensor *x, float scale, const seer_tensor *bias) {
    SEER_OP_BEGIN(c, "softmax", x);
    return softmax_front(c, "softmax", x, scale, bias, false);
}

seer_tensor *seer_log_softmax(seer_ctx *c, const seer_tensor *x, float scale) {
    SEER_OP_BEGIN(c, "log_softmax", x);
    return softmax_front(c, "log_softmax", x, scale, NULL, true);
}

// ---- reduce --------------------------------------------------------------------------------

// seer_reduce with the result in `out` (x's dtype, or F32).
static seer_tensor *reduce_impl(seer_ctx *c, const seer_tensor *x, int dim, seer_reduce_op op,
                                seer_dtype out) {
    if ((int)op < 0 || op > SEER_REDUCE_MAX) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "reduce: unknown op %d (expected 0..%d)", (int)op,
                      (int)SEER_REDUCE_MAX);
        return NULL;
    }
    if (!seer_op_check_float(c, "reduce", x) || !seer_op_dim(c, "reduce", x, &dim)) return NULL;
    int64_t shape[SEER_MAX_DIMS];
    for (int d = 0, o = 0; d < x->ndim; d++)
        if (d != dim) shape[o++] = x->shape[d];
    if (op == SEER_REDUCE_MAX && x->shape[dim] == 0) {
        // numel(y) > 0 while dim is empty: there is no maximum (PyTorch raises too).
        int64_t rest = 1;
        for (int d = 0; d < x->ndim - 1; d++)
            rest *= shape[d];
        if (rest > 0) {
            char sx[128];
            seer_ctx_fail(c, SEER_STATUS_SHAPE, "reduce: max over empty dim %d of %s", dim,
                          seer_tensor_shape_str(x, sx, sizeof sx));
            return NULL;
        }
    }
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    seer_tensor *y = seer_ctx_tensor(c, out, x->ndim - 1, shape);
    if (!y) return NULL;
    return seer_op_finish(c, "reduce", seer_op_backend(c)->reduce(y, xc, dim, op), y);
}

seer_tensor *seer_reduce(seer_ctx *c, const seer_tensor *x, int dim, seer_reduce_op op) {
    SEER_OP_BEGIN(c, "reduce", x);
    return reduce_impl(c, x, dim, op, x->dtype);
}

seer_tensor *seer_reduce_f32(seer_ctx *c, const seer_tensor *x, int dim, seer_reduce_op op) {
    SEER_OP_BEGIN(c, "reduce", x);
    return reduce_impl(c, x, dim, op, SEER_F32);
}
