// CUDA backend: unary activations and broadcasting binary ops, computed in float.
#include "core/cuda/index32.cuh"

__device__ __forceinline__ float unary_apply(seer_unary_op op, float v, float alpha, float beta) {
    switch (op) {
    case SEER_UNARY_RELU: return v > 0.0f ? v : 0.0f;
    case SEER_UNARY_GELU: return seer_cu_gelu(v);
    case SEER_UNARY_GELU_TANH: {
        const float k = 0.79788456080286536f; // sqrt(2 / pi)
        return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
    case SEER_UNARY_SILU: return v / (1.0f + expf(-v));
    case SEER_UNARY_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case SEER_UNARY_TANH: return tanhf(v);
    case SEER_UNARY_EXP: return expf(v);
    case SEER_UNARY_SQRT: return sqrtf(v);
    case SEER_UNARY_ABS: return fabsf(v);
    case SEER_UNARY_AFFINE: return alpha * v + beta;
    default: return v;
    }
}

template <typename T>
__global__ void unary_kernel(T *y, const T *x, int64_t n, seer_unary_op op, float alpha,
                             float beta) {
    SEER_CU_FOR(i, n) y[i] = seer_cu_store<T>(unary_apply(op, seer_cu_f(x[i]), alpha, beta));
}

template <typename T>
__global__ void unary_vec_kernel(T *y, const T *x, int64_t nvec, seer_unary_op op, float alpha,
                                 float beta) {
    SEER_CU_FOR(i, nvec) {
        const seer_cu_vec<T> p = ((const seer_cu_vec<T> *)x)[i];
        seer_cu_vec<T> r;
#pragma unroll
        for (int j = 0; j < SEER_CU_VEC; j++)
            r.v[j] = seer_cu_store<T>(unary_apply(op, seer_cu_f(p.v[j]), alpha, beta));
        ((seer_cu_vec<T> *)y)[i] = r;
    }
}

seer_status seer_cuda_unary(seer_tensor *y, const seer_tensor *x, seer_unary_op op, float alpha,
                            float beta) {
    char bx[128], by[128];
    if (!seer_tensor_same_shape(x, y))
        return seer_fail(SEER_STATUS_SHAPE, "unary (cuda): x %s and y %s differ",
                         seer_tensor_shape_str(x, bx, sizeof bx),
                         seer_tensor_shape_str(y, by, sizeof by));
    if ((unsigned)op >= SEER_UNARY_COUNT)
        return seer_fail(SEER_STATUS_ARG, "unary (cuda): unknown op %d", (int)op);
    SEER_TRY(seer_cu_need_dtype("unary", "y", y, x->dtype));
    SEER_TRY(seer_cu_need_contig("unary", "x", x));
    SEER_TRY(seer_cu_need_contig("unary", "y", y));
    int64_t n = seer_tensor_numel(x);
    if (n == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(x->dtype, "unary", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const int64_t nv = seer_cu_vec_elems<T>(n, {x->data, y->data});
        if (nv)
            unary_vec_kernel<T><<<seer_cu_blocks(nv / SEER_CU_VEC), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (T *)y->data, (const T *)x->data, nv / SEER_CU_VEC, op, alpha, beta);
        if (n > nv)
            unary_kernel<T><<<seer_cu_blocks(n - nv), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (T *)y->data + nv, (const T *)x->data + nv, n - nv, op, alpha, beta);
        return SEER_CU(seer_cu_launched());
    });
}

// ---- binary --------------------------------------------------------------------------------

__device__ __forceinline__ float binary_apply(seer_binary_op op, float a, float b) {
    switch (op) {
    case SEER_BINARY_ADD: return a + b;
    case SEER_BINARY_SUB: return a - b;
    case SEER_BINARY_MUL: return a * b;
    case SEER_BINARY_DIV: return a / b;
    // NaN in either operand wins, as torch.maximum / minimum and the CPU backend.
    case SEER_BINARY_MAX: return a != a || a > b ? a : b;
    case SEER_BINARY_MIN: return a != a || a < b ? a : b;
    default: return 0.0f;
    }
}

// y's shape with a's and b's strides (0 on broadcast dims); y is contiguous.
struct binary_dims {
    int ndim;
    int64_t shape[SEER_MAX_DIMS];
    int64_t sa[SEER_MAX_DIMS], sb[SEER_MAX_DIMS];
};

template <typename T>
__global__ void binary_strided_kernel(T *y, const T *a, const T *b, binary_dims d, int64_t n,
                                      seer_binary_op op) {
    SEER_CU_FOR(i, n) {
        int64_t oa = 0, ob = 0, r = i;
        for (int k = d.ndim - 1; k >= 0; k--) {
            int64_t c = r % d.shape[k];
            r /= d.shape[k];
            oa += c * d.sa[k];
            ob += c * d.sb[k];
        }
        y[i] = seer_cu_store<T>(binary_apply(op, seer_cu_f(a[oa]), seer_cu_f(b[ob])));
    }
}

// The same with 32-bit index math (count and offsets below 2^31).
template <typename T>
__global__ void binary_strided_kernel32(T *y, const T *a, const T *b, seer_cu_index32<2> ix,
                                        uint32_t n, seer_binary_op op) {
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        uint32_t off[2];
        ix.offsets(i, off);
        y[i] = seer_cu_store<T>(binary_apply(op, seer_cu_f(a[off[0]]), seer_cu_f(b[off[1]])));
    }
}

template <typename T>
__global__ void binary_contig_kernel(T *y, const T *a, const T *b, int64_t n, seer_binary_op op) {
    SEER_CU_FOR(i, n) y[i] = seer_cu_store<T>(binary_apply(op, seer_cu_f(a[i]), seer_cu_f(b[i])));
}

template <typename T>
__global__ void binary_vec_kernel(T *y, const T *a, const T *b, int64_t nvec, seer_binary_op op) {
    SEER_CU_FOR(i, nvec) {
        const seer_cu_vec<T> pa = ((const seer_cu_vec<T> *)a)[i], pb = ((const seer_cu_vec<T> *)b)[i];
        seer_cu_vec<T> r;
#pragma unroll
        for (int j = 0; j < SEER_CU_VEC; j++)
            r.v[j] = seer_cu_store<T>(binary_apply(op, seer_cu_f(pa.v[j]), seer_cu_f(pb.v[j])));
        ((seer_cu_vec<T> *)y)[i] = r;
    }
}

seer_status seer_cuda_binary(seer_tensor *y, const seer_tensor *a, const seer_tensor *b,
                             seer_binary_op op) {
    char ba[128], bb[128], by[128];
    if (!seer_tensor_same_shape(a, y) || !seer_tensor_same_shape(b, y))
        return seer_fail(SEER_STATUS_SHAPE,
                         "binary (cuda): a %s and b %s must come with y's shape %s (stride 0 on "
                         "broadcast dims)",
                         seer_tensor_shape_str(a, ba, sizeof ba),
                         seer_tensor_shape_str(b, bb, sizeof bb),
                         seer_tensor_shape_str(y, by, sizeof by));
    if ((unsigned)op >= SEER_BINARY_COUNT)
        return seer_fail(SEER_STATUS_ARG, "binary (cuda): unknown op %d", (int)op);
    SEER_TRY(seer_cu_need_dtype("binary", "a", a, y->dtype));
    SEER_TRY(seer_cu_need_dtype("binary", "b", b, y->dtype));
    SEER_TRY(seer_cu_need_contig("binary", "y", y));
    int64_t n = seer_tensor_numel(y);
    if (n == 0) return SEER_STATUS_OK;

    binary_dims d;
    memset(&d, 0, sizeof d);
    int64_t strides[2][SEER_MAX_DIMS];
    for (int k = 0; k < y->ndim; k++) {
        d.shape[k] = y->shape[k];
        strides[0][k] = a->stride[k];
        strides[1][k] = b->stride[k];
    }
    d.ndim = seer_cu_coalesce(y->ndim, d.shape, 2, strides);
    for (int k = 0; k < d.ndim; k++) {
        d.sa[k] = strides[0][k];
        d.sb[k] = strides[1][k];
    }
    bool contig =
        d.ndim == 1 && (d.sa[0] == 1 || d.shape[0] == 1) && (d.sb[0] == 1 || d.shape[0] == 1);
    seer_cu_index32<2> ix;
    bool small = !contig && seer_cu_index32_make<2>(&ix, d.ndim, d.shape, strides);
    return seer_cu_dispatch_float(y->dtype, "binary", [&](auto tag) {
        using T = typename decltype(tag)::type;
        if (small)
            binary_strided_kernel32<T><<<seer_cu_blocks(n), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (T *)y->data, (const T *)a->data, (const T *)b->data, ix, (uint32_t)n, op);
        else if (contig) {
            const int64_t nv = seer_cu_vec_elems<T>(n, {y->data, a->data, b->data});
            if (nv)
                binary_vec_kernel<T><<<seer_cu_blocks(nv / SEER_CU_VEC), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                    (T *)y->data, (const T *)a->data, (const T *)b->data, nv / SEER_CU_VEC, op);
            if (n > nv)
                binary_contig_kernel<T><<<seer_cu_blocks(n - nv), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                    (T *)y->data + nv, (const T *)a->data + nv, (const T *)b->data + nv, n - nv, op);
        } else
            binary_strided_kernel<T><<<seer_cu_blocks(n), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (T *)y->data, (const T *)a->data, (const T *)b->data, d, n, op);
        return SEER_CU(seer_cu_launched());
    });
}
