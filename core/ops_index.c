// Op fronts for selection and indexing: topk, argmax, concat, split, index_select, gather,
// scatter. They check shapes and dtypes, make inputs contiguous and allocate the outputs; the
// kernels bounds-check the index values (only they read index memory, which may be on a GPU).
#include <stdio.h>
#include <stdlib.h>

#include "core/ops_common.h"

// Start of an op that returns a status instead of a tensor (topk, split).
static seer_status status_begin(seer_ctx *c, const char *op, const seer_tensor *x) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return seer_ctx_status(c);
    if (!x) return seer_ctx_fail(c, SEER_STATUS_ARG, "%s: input is NULL", op);
    if (!seer_op_check_device(c, op, x)) return seer_ctx_status(c);
    return SEER_STATUS_OK;
}

// ---- topk / argmax -------------------------------------------------------------------------

seer_status seer_topk(seer_ctx *c, const seer_tensor *x, int64_t k, seer_tensor **values,
                      seer_tensor **indices) {
    if (values) *values = NULL;
    if (indices) *indices = NULL;
    SEER_TRY(status_begin(c, "topk", x));
    if (!seer_op_check_float(c, "topk", x)) return seer_ctx_status(c);
    char buf[128];
    if (x->ndim < 1) return seer_ctx_fail(c, SEER_STATUS_SHAPE, "topk: input is 0-d");
    int64_t n = x->shape[x->ndim - 1];
    if (k < 1 || k > n)
        return seer_ctx_fail(c, SEER_STATUS_ARG,
                             "topk: k = %lld outside [1, %lld] (last dim of %s)", (long long)k,
                             (long long)n, seer_tensor_shape_str(x, buf, sizeof buf));
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return seer_ctx_status(c);
    // values/indices: [..., k]
    int64_t shape[SEER_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = k;
    seer_tensor *ind = seer_ctx_tensor(c, SEER_I64, x->ndim, shape);
    seer_tensor *val = values ? seer_ctx_tensor(c, x->dtype, x->ndim, shape) : NULL;
    if (!ind || (values && !val)) return seer_ctx_status(c);
    if (!seer_op_finish(c, "topk", seer_op_backend(c)->topk(val, ind, xc, k), ind))
        return seer_ctx_status(c);
    if (values) *values = val;
    if (indices) *indices = ind;
    return SEER_STATUS_OK;
}

seer_tensor *seer_argmax(seer_ctx *c, const seer_tensor *x) {
    SEER_OP_BEGIN(c, "argmax", x);
    if (!seer_op_check_float(c, "argmax", x)) return NULL;
    char buf[128];
    if (x->ndim < 1 || x->shape[x->ndim - 1] < 1) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "argmax: needs a non-empty last dim, got %s",
                      seer_tensor_shape_str(x, buf, sizeof buf));
        return NULL;
    }
    const seer_tensor *xc = seer_op_contig(c, x);
    if (!xc) return NULL;
    // indices: x's shape without the last dim (0-d for a 1-d input)
    seer_tensor *out = seer_ctx_tensor(c, SEER_I64, x->ndim - 1, x->shape);
    if (!out) return NULL;
    return seer_op_finish(c, "argmax", seer_op_backend(c)->argmax(out, xc), out);
}

seer_tensor *seer_sample_inverse_cdf(seer_ctx *c, const seer_tensor *probs, const seer_tensor *u) {
    SEER_OP_BEGIN(c, "sample_inverse_cdf", probs, u);
    char bp[128], bu[128];
    bool ok = probs->dtype == SEER_F32 && u->dtype == SEER_F32 && probs->ndim >= 1 &&
              probs->shape[probs->ndim - 1] >= 1 && u->ndim == probs->ndim - 1;
    for (int d = 0; ok && d < u->ndim; d++) ok = u->shape[d] == probs->shape[d];
    if (!ok) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "sample_inverse_cdf: probs [..., V] and u [...] must be f32 with the same "
                      "leading dims, got probs %s %s, u %s %s",
                      seer_tensor_shape_str(probs, bp, sizeof bp), seer_dtype_name(probs->dtype),
                      seer_tensor_shape_str(u, bu, sizeof bu), seer_dtype_name(u->dtype));
        return NULL;
    }
    const seer_tensor *pc = seer_op_contig(c, probs), *uc = seer_op_contig(c, u);
    if (!pc || !uc) return NULL;
    seer_tensor *out = seer_ctx_tensor(c, SEER_I64, u->ndim, u->shape);
    if (!out) return NULL;
    return seer_op_finish(c, "sample_inverse_cdf",
                          seer_op_backend(c)->sample_inverse_cdf(out, pc, uc), out);
}

// ---- concat / split ------------------------------------------------------------------------

seer_tensor *seer_concat(seer_ctx *c, const seer_tensor *const *xs, int n, int dim) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    if (!xs || n < 1) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "concat: needs at least one input, got %d", xs ? n : 0);
        return NULL;
    }
    char b0[128], b1[128];
    for (int i = 0; i < n; i++) {
        if (!xs[i]) {
            seer_ctx_fail(c, SEER_STATUS_ARG, "concat: input %d is NULL", i);
            return NULL;
        }
        if (!seer_op_check_device(c, "concat", xs[i])) return NULL;
    }
    if (!seer_op_dim(c, "concat", xs[0], &dim)) return NULL;
    // out: xs[0]'s shape with the dim sizes summed; every other dim must agree.
    int64_t shape[SEER_MAX_DIMS];
    for (int d = 0; d < xs[0]->ndim; d++) shape[d] = xs[0]->shape[d];
    shape[dim] = 0;
    for (int i = 0; i < n; i++) {
        const seer_tensor *t = xs[i];
        bool ok = t->ndim == xs[0]->ndim && t->dtype == xs[0]->dtype;
        for (int d = 0; ok && d < t->ndim; d++)
            if (d != dim && t->shape[d] != xs[0]->shape[d]) ok = false;
        if (!ok) {
            seer_ctx_fail(c, SEER_STATUS_SHAPE,
                          "concat: input %d is %s, expected input 0's shape %s except in dim %d",
                          i, seer_tensor_shape_str(t, b1, sizeof b1),
                          seer_tensor_shape_str(xs[0], b0, sizeof b0), dim);
            return NULL;
        }
        shape[dim] += t->shape[dim];
    }
    const seer_tensor **cs = malloc((size_t)n * sizeof *cs);
    if (!cs) {
        seer_ctx_fail(c, SEER_STATUS_OOM, "concat: out of host memory for %d inputs", n);
        return NULL;
    }
    seer_tensor *out = NULL;
    int i = 0;
    for (; i < n; i++)
        if (!(cs[i] = seer_op_contig(c, xs[i]))) break;
    if (i == n) out = seer_ctx_tensor(c, xs[0]->dtype, xs[0]->ndim, shape);
    if (out) out = seer_op_finish(c, "concat", seer_op_backend(c)->concat(out, cs, n, dim), out);
    free(cs);
    return out;
}

seer_status seer_split(seer_ctx *c, const seer_tensor *x, int dim, const int64_t *sizes, int n,
                       seer_tensor **outs) {
    if (outs)
        for (int i = 0; i < n; i++) outs[i] = NULL;
    SEER_TRY(status_begin(c, "split", x));
    char buf[128];
    if (!sizes || !outs || n < 1)
        return seer_ctx_fail(c, SEER_STATUS_ARG,
                             "split: needs n >= 1 sizes and outputs, got n = %d", n);
    if (!seer_op_dim(c, "split", x, &dim)) return seer_ctx_status(c);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0)
            return seer_ctx_fail(c, SEER_STATUS_ARG, "split: size %d is negative (%lld)", i,
                                 (long long)sizes[i]);
        total += sizes[i];
    }
    if (total != x->shape[dim])
        return seer_ctx_fail(c, SEER_STATUS_SHAPE,
                             "split: sizes sum to %lld, dim %d of %s has %lld", (long long)total,
                             dim, seer_tensor_shape_str(x, buf, sizeof buf),
                             (long long)x->shape[dim]);
    // Each piece: a narrow view copied into a contiguous tensor by the backend's copy.
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        seer_tensor v;
        seer_status st = seer_view_narrow(x, dim, start, sizes[i], &v);
        if (st != SEER_STATUS_OK) return seer_ctx_fail(c, st, "split: %s", seer_last_error());
        seer_tensor *o = seer_ctx_tensor(c, x->dtype, x->ndim, v.shape);
        if (!o || !seer_op_finish(c, "split", seer_op_backend(c)->copy(o, &v), o)) {
            for (int j = 0; j < i; j++) outs[j] = NULL;
            return seer_ctx_status(c);
        }
        outs[i] = o;
        start += sizes[i];
    }
    return SEER_STATUS_OK;
}

// ---- index_select / gather / scatter -------------------------------------------------------

seer_tensor *seer_index_select(seer_ctx *c, const seer_tensor *x, int dim, const seer_tensor *idx) {
    SEER_OP_BEGIN(c, "index_select", x, idx);
    if (!seer_op_check_index(c, "index_select", idx) || !seer_op_dim(c, "index_select", x, &dim))
        return NULL;
    char buf[128];
    if (idx->ndim != 1) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "index_select: idx must be 1-d, got %s",
                      seer_tensor_shape_str(idx, buf, sizeof buf));
        return NULL;
    }
    const seer_tensor *xc = seer_op_contig(c, x), *ic = xc ? seer_op_contig(c, idx) : NULL;
    if (!ic) return NULL;
    // out: x's shape with dim resized to len(idx)
    int64_t shape[SEER_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[dim] = idx->shape[0];
    seer_tensor *out = seer_ctx_tensor(c, x->dtype, x->ndim, shape);
    if (!out) return NULL;
    return seer_op_finish(c, "index_select",
                          seer_op_backend(c)->index_select(out, xc, dim, ic), out);
}

// idx (and src for scatter) must have x's ndim; their sizes are bounded as torch does.
// `limit` is the tensor idx may not exceed, `skip_dim` the dim where it may (-1: none).
static bool check_within(seer_ctx *c, const char *op, const char *what, const seer_tensor *idx,
                         const seer_tensor *limit, const char *limit_name, int skip_dim) {
    char b0[128], b1[128];
    bool ok = idx->ndim == limit->ndim;
    for (int d = 0; ok && d < idx->ndim; d++)
        if (d != skip_dim && idx->shape[d] > limit->shape[d]) ok = false;
    if (ok) return true;
    char except[32] = "";
    if (skip_dim >= 0) snprintf(except, sizeof except, " outside dim %d", skip_dim);
    seer_ctx_fail(c, SEER_STATUS_SHAPE,
                  "%s: %s %s must have the ndim of %s %s and no larger size%s", op, what,
                  seer_tensor_shape_str(idx, b0, sizeof b0), limit_name,
                  seer_tensor_shape_str(limit, b1, sizeof b1), except);
    return false;
}

seer_tensor *seer_gather(seer_ctx *c, const seer_tensor *x, int dim, const seer_tensor *idx) {
    SEER_OP_BEGIN(c, "gather", x, idx);
    if (!seer_op_check_index(c, "gather", idx) || !seer_op_dim(c, "gather", x, &dim)) return NULL;
    if (!check_within(c, "gather", "idx", idx, x, "x", dim)) return NULL;
    const seer_tensor *xc = seer_op_contig(c, x), *ic = xc ? seer_op_contig(c, idx) : NULL;
    if (!ic) return NULL;
    seer_tensor *out = seer_ctx_tensor(c, x->dtype, idx->ndim, idx->shape);
    if (!out) return NULL;
    return seer_op_finish(c, "gather", seer_op_backend(c)->gather(out, xc, dim, ic), out);
}

seer_tensor *seer_scatter(seer_ctx *c, const seer_tensor *x, int dim, const seer_tensor *idx,
                          const seer_tensor *src) {
    SEER_OP_BEGIN(c, "scatter", x, idx, src);
    if (!seer_op_check_index(c, "scatter", idx) || !seer_op_dim(c, "scatter", x, &dim))
        return NULL;
    if (src->dtype != x->dtype) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "scatter: src is %s, x is %s",
                      seer_dtype_name(src->dtype), seer_dtype_name(x->dtype));
        return NULL;
    }
    if (!check_within(c, "scatter", "idx", idx, x, "x", dim) ||
        !check_within(c, "scatter", "idx", idx, src, "src", -1))
        return NULL;
    const seer_tensor *xc = seer_op_contig(c, x), *ic = xc ? seer_op_contig(c, idx) : NULL;
    const seer_tensor *sc = ic ? seer_op_contig(c, src) : NULL;
    if (!sc) return NULL;
    seer_tensor *out = seer_ctx_tensor(c, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    return seer_op_finish(c, "scatter", seer_op_backend(c)->scatter(out, xc, dim, ic, sc), out);
}
