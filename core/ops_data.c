// Op fronts for data movement: new tensors, device transfer, dtype conversion and views.
#include <stdlib.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"
#include "core/ops_common.h"

seer_tensor *seer_new(seer_ctx *c, seer_dtype dt, int ndim, const int64_t *shape) {
    return seer_ctx_tensor(c, dt, ndim, shape);
}

seer_tensor *seer_fill(seer_ctx *c, seer_tensor *x, double value) {
    SEER_OP_BEGIN(c, "fill", x);
    if (!seer_tensor_is_contiguous(x)) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "fill: tensor is not contiguous");
        return NULL;
    }
    return seer_op_finish(c, "fill", seer_op_backend(c)->fill(x, value), x);
}

// Host-side conversion of any tensor on the CPU into a new malloc'ed contiguous buffer.
static void *host_convert(const seer_tensor *x, seer_dtype dt) {
    seer_tensor tmp = seer_tensor_wrap(NULL, dt, SEER_DEVICE_CPU, x->ndim, x->shape);
    tmp.data = malloc(seer_tensor_nbytes(&tmp) + 1);
    if (!tmp.data) {
        seer_fail(SEER_STATUS_OOM, "out of host memory converting a tensor");
        return NULL;
    }
    if (seer_cpu_copy(&tmp, x) != SEER_STATUS_OK) {
        free(tmp.data);
        return NULL;
    }
    return tmp.data;
}

seer_tensor *seer_to(seer_ctx *c, const seer_tensor *x, seer_dtype dt) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    if (!x) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "to: input is NULL");
        return NULL;
    }
    seer_device dev = seer_ctx_device(c);
    seer_tensor *out = seer_ctx_tensor(c, dt, x->ndim, x->shape);
    if (!out) return NULL;
    if (x->device == dev) return seer_op_finish(c, "to", seer_op_backend(c)->copy(out, x), out);

    size_t bytes = seer_tensor_nbytes(out);
    seer_status st;
    if (x->device == SEER_DEVICE_CPU) {
        // Upload: convert on the host first if needed, then one transfer.
        if (x->dtype == dt && seer_tensor_is_contiguous(x))
            return seer_op_finish(c, "to", seer_memcpy(dev, out->data, SEER_DEVICE_CPU, x->data, bytes), out);
        void *host = host_convert(x, dt);
        if (!host) return seer_op_finish(c, "to", SEER_STATUS_OOM, NULL);
        st = seer_memcpy(dev, out->data, SEER_DEVICE_CPU, host, bytes);
        free(host);
        return seer_op_finish(c, "to", st, out);
    }
    // Download into a CPU context: raw bytes, then convert on the host.
    if (!seer_tensor_is_contiguous(x)) {
        seer_ctx_fail(c, SEER_STATUS_UNSUPPORTED,
                      "to: download of a non-contiguous %s tensor; make it contiguous there first",
                      seer_device_name(x->device));
        return NULL;
    }
    seer_tensor raw = seer_tensor_wrap(malloc(seer_tensor_nbytes(x) + 1), x->dtype,
                                       SEER_DEVICE_CPU, x->ndim, x->shape);
    if (!raw.data) return seer_op_finish(c, "to", seer_fail(SEER_STATUS_OOM, "out of host memory"), NULL);
    st = seer_memcpy(SEER_DEVICE_CPU, raw.data, x->device, x->data, seer_tensor_nbytes(x));
    if (st == SEER_STATUS_OK) st = seer_cpu_copy(out, &raw);
    free(raw.data);
    return seer_op_finish(c, "to", st, out);
}

seer_tensor *seer_contiguous(seer_ctx *c, const seer_tensor *x) {
    SEER_OP_BEGIN(c, "contiguous", x);
    return (seer_tensor *)seer_op_contig(c, x);
}

seer_tensor *seer_from_host(seer_ctx *c, const float *src, seer_dtype dt, int ndim,
                            const int64_t *shape) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    seer_tensor host = seer_tensor_wrap((void *)src, SEER_F32, SEER_DEVICE_CPU, ndim, shape);
    return seer_to(c, &host, dt);
}

seer_status seer_to_host(seer_ctx *c, const seer_tensor *x, float *dst) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return seer_ctx_status(c);
    if (!x) return seer_ctx_fail(c, SEER_STATUS_ARG, "to_host: input is NULL");
    seer_tensor out = seer_tensor_wrap(dst, SEER_F32, SEER_DEVICE_CPU, x->ndim, x->shape);
    seer_status st;
    if (x->device == SEER_DEVICE_CPU) {
        st = seer_cpu_copy(&out, x);
    } else {
        const seer_tensor *src = x;
        if (x->dtype != SEER_F32 || !seer_tensor_is_contiguous(x)) {
            if (x->device != seer_ctx_device(c))
                return seer_ctx_fail(c, SEER_STATUS_DEVICE, "to_host: tensor on %s, context on %s",
                                     seer_device_name(x->device), seer_device_name(seer_ctx_device(c)));
            src = seer_to(c, x, SEER_F32);
            if (!src) return seer_ctx_status(c);
        }
        st = seer_memcpy(SEER_DEVICE_CPU, dst, src->device, src->data, seer_tensor_nbytes(src));
    }
    if (st != SEER_STATUS_OK) seer_ctx_fail(c, st, "to_host: %s", seer_last_error());
    return st;
}

// ---- views ---------------------------------------------------------------------------------

static seer_tensor *view_result(seer_ctx *c, const char *op, seer_status st, const seer_tensor *v) {
    if (st != SEER_STATUS_OK) {
        seer_ctx_fail(c, st, "%s: %s", op, seer_last_error());
        return NULL;
    }
    return seer_ctx_view(c, v);
}

seer_tensor *seer_reshape(seer_ctx *c, const seer_tensor *x, int ndim, const int64_t *shape) {
    SEER_OP_BEGIN(c, "reshape", x);
    seer_tensor v;
    return view_result(c, "reshape", seer_view_reshape(x, ndim, shape, &v), &v);
}

seer_tensor *seer_narrow(seer_ctx *c, const seer_tensor *x, int dim, int64_t start, int64_t len) {
    SEER_OP_BEGIN(c, "narrow", x);
    seer_tensor v;
    return view_result(c, "narrow", seer_view_narrow(x, dim, start, len, &v), &v);
}

seer_tensor *seer_permute(seer_ctx *c, const seer_tensor *x, const int *perm) {
    SEER_OP_BEGIN(c, "permute", x);
    seer_tensor v;
    return view_result(c, "permute", seer_view_permute(x, perm, &v), &v);
}

seer_tensor *seer_permute_copy(seer_ctx *c, const seer_tensor *x, const int *perm) {
    const seer_tensor *v = seer_permute(c, x, perm);
    if (!v) return NULL;
    seer_tensor *out = seer_ctx_tensor(c, v->dtype, v->ndim, v->shape);
    if (!out) return NULL;
    return seer_op_finish(c, "permute_copy", seer_op_backend(c)->copy(out, v), out);
}
