// CUDA backend: (log-)softmax over the last dim with an optional strided bias, and
// sum/mean/max reduction over one dim.
#include "core/cuda/cuda_common.cuh"

// Rows of at most this many elements get one warp each; longer rows one block each.
#define SOFTMAX_WARP_MAX 1024
#define SOFTMAX_WARPS_PER_BLOCK 4
#define SOFTMAX_BLOCK 256

// x, y: [rows, n] contiguous. v = scale * x + bias; bias (any float dtype) is addressed
// through bd: x's shape with the bias's strides (0 on broadcast dims).
// softmax: exp(v - max) / sum; log: v - max - log(sum). Entries at -inf give 0 (softmax);
// a row whose every v is -inf gives zeros (PyTorch would give NaN), and -inf under log, as
// the CPU backend.
template <typename T, bool WARP>
__global__ void softmax_kernel(T *y, const T *x, const void *bias, seer_dtype bdt, seer_cu_dims bd,
                               int64_t rows, int64_t n, float scale, bool log) {
    __shared__ float scratch[32];
    int64_t row;
    int tid, nt;
    if constexpr (WARP) {
        row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
        tid = threadIdx.x & 31;
        nt = 32;
        if (row >= rows) return; // the whole warp
    } else {
        row = blockIdx.x;
        tid = threadIdx.x;
        nt = blockDim.x;
    }
    const T *xr = x + row * n;
    T *yr = y + row * n;
    int64_t boff = 0, bstep = 0;
    if (bias) {
        int64_t r = row;
        for (int k = bd.ndim - 2; k >= 0; k--) {
            boff += (r % bd.shape[k]) * bd.stride[k];
            r /= bd.shape[k];
        }
        bstep = bd.stride[bd.ndim - 1];
    }
    auto value = [&](int64_t j) {
        float v = scale * seer_cu_f(xr[j]);
        if (bias) v += seer_cu_load_any(bias, bdt, boff + j * bstep);
        return v;
    };
    float m = -INFINITY;
    for (int64_t j = tid; j < n; j += nt)
        m = fmaxf(m, value(j));
    if constexpr (WARP)
        m = seer_cu_warp_max(m);
    else
        m = seer_cu_block_max(m, scratch);
    if (m == -INFINITY) { // fully masked row (uniform across the warp/block)
        float fill = log ? -INFINITY : 0.0f;
        for (int64_t j = tid; j < n; j += nt)
            yr[j] = seer_cu_store<T>(fill);
        return;
    }
    float s = 0.0f;
    for (int64_t j = tid; j < n; j += nt)
        s += expf(value(j) - m);
    if constexpr (WARP)
        s = seer_cu_warp_sum(s);
    else
        s = seer_cu_block_sum(s, scratch);
    if (log) {
        float ls = logf(s);
        for (int64_t j = tid; j < n; j += nt)
            yr[j] = seer_cu_store<T>(value(j) - m - ls);
    } else {
        float inv = 1.0f / s;
        for (int64_t j = tid; j < n; j += nt)
            yr[j] = seer_cu_store<T>(expf(value(j) - m) * inv);
    }
}

seer_status seer_cuda_softmax(seer_tensor *y, const seer_tensor *x, float scale,
                              const seer_tensor *bias, bool log) {
    char bx[128], bb[128];
    if (!seer_tensor_same_shape(x, y) || x->ndim < 1)
        return seer_fail(SEER_STATUS_SHAPE, "softmax (cuda): x %s and y %s differ",
                         seer_tensor_shape_str(x, bx, sizeof bx),
                         seer_tensor_shape_str(y, bb, sizeof bb));
    if (bias && (!seer_tensor_same_shape(bias, x) || !seer_dtype_is_float(bias->dtype)))
        return seer_fail(SEER_STATUS_SHAPE,
                         "softmax (cuda): bias %s must be a float tensor with x's shape %s "
                         "(stride 0 on broadcast dims)",
                         seer_tensor_shape_str(bias, bb, sizeof bb),
                         seer_tensor_shape_str(x, bx, sizeof bx));
    SEER_TRY(seer_cu_need_dtype("softmax", "y", y, x->dtype));
    SEER_TRY(seer_cu_need_contig("softmax", "x", x));
    SEER_TRY(seer_cu_need_contig("softmax", "y", y));
    int64_t numel = seer_tensor_numel(x), n = x->shape[x->ndim - 1];
    if (numel == 0) return SEER_STATUS_OK;
    int64_t rows = numel / n;
    seer_cu_dims bd;
    memset(&bd, 0, sizeof bd);
    if (bias) bd = seer_cu_make_dims(x->ndim, x->shape, bias->stride);
    const void *bp = bias ? bias->data : nullptr;
    seer_dtype bdt = bias ? bias->dtype : SEER_F32;
    bool warp = n <= SOFTMAX_WARP_MAX;
    int64_t blocks = warp ? (rows + SOFTMAX_WARPS_PER_BLOCK - 1) / SOFTMAX_WARPS_PER_BLOCK : rows;
    if (blocks > 0x7fffffff)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "softmax (cuda): %lld rows", (long long)rows);
    return seer_cu_dispatch_float(x->dtype, "softmax", [&](auto tag) {
        using T = typename decltype(tag)::type;
        if (warp)
            softmax_kernel<T, true>
                <<<(unsigned)blocks, 32 * SOFTMAX_WARPS_PER_BLOCK, 0, seer_cu_stream()>>>(
                    (T *)y->data, (const T *)x->data, bp, bdt, bd, rows, n, scale, log);
        else
            softmax_kernel<T, false><<<(unsigned)blocks, SOFTMAX_BLOCK, 0, seer_cu_stream()>>>(
                (T *)y->data, (const T *)x->data, bp, bdt, bd, rows, n, scale, log);
        return SEER_CU(seer_cu_launched());
    });
}

// ---- reduce --------------------------------------------------------------------------------

// x: [outer, n, inner] -> y: [outer, inner]. Sums in double, so the result does not depend
// on the order of the terms at float precision; max lets NaN win, as torch.max and the CPU.
__device__ __forceinline__ double reduce_combine(double acc, double v, bool is_max) {
    if (!is_max) return acc + v;
    return v > acc || v != v ? v : acc;
}

__device__ __forceinline__ double reduce_warp(double v, bool is_max) {
    for (int o = 16; o > 0; o >>= 1)
        v = reduce_combine(v, __shfl_xor_sync(0xffffffffu, v, o), is_max);
    return v;
}

// inner == 1: one warp per contiguous row of n. Y: T, or float (seer_reduce_f32).
template <typename T, typename Y>
__global__ void reduce_rows_kernel(Y *y, const T *x, int64_t rows, int64_t n, seer_reduce_op op) {
    int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    bool is_max = op == SEER_REDUCE_MAX;
    const T *xr = x + row * n;
    double acc = is_max ? -INFINITY : 0.0;
    for (int64_t j = lane; j < n; j += 32)
        acc = reduce_combine(acc, seer_cu_f(xr[j]), is_max);
    acc = reduce_warp(acc, is_max);
    if (lane == 0) {
        if (op == SEER_REDUCE_MEAN) acc /= (double)n;
        y[row] = seer_cu_store<Y>((float)acc);
    }
}

// inner > 1: one thread per output; neighbouring threads read neighbouring inner elements.
template <typename T, typename Y>
__global__ void reduce_strided_kernel(Y *y, const T *x, int64_t outer, int64_t n, int64_t inner,
                                      seer_reduce_op op) {
    bool is_max = op == SEER_REDUCE_MAX;
    SEER_CU_FOR(i, outer * inner) {
        int64_t o = i / inner, in = i % inner;
        const T *xp = x + o * n * inner + in;
        double acc = is_max ? -INFINITY : 0.0;
        for (int64_t k = 0; k < n; k++)
            acc = reduce_combine(acc, seer_cu_f(xp[k * inner]), is_max);
        if (op == SEER_REDUCE_MEAN) acc /= (double)n;
        y[i] = seer_cu_store<Y>((float)acc);
    }
}

seer_status seer_cuda_reduce(seer_tensor *y, const seer_tensor *x, int dim, seer_reduce_op op) {
    char bx[128], by[128];
    bool fits = dim >= 0 && dim < x->ndim && y->ndim == x->ndim - 1;
    for (int d = 0, o = 0; fits && d < x->ndim; d++)
        if (d != dim) fits = y->shape[o++] == x->shape[d];
    if (!fits)
        return seer_fail(SEER_STATUS_SHAPE, "reduce (cuda): x %s over dim %d does not give y %s",
                         seer_tensor_shape_str(x, bx, sizeof bx), dim,
                         seer_tensor_shape_str(y, by, sizeof by));
    if (op != SEER_REDUCE_SUM && op != SEER_REDUCE_MEAN && op != SEER_REDUCE_MAX)
        return seer_fail(SEER_STATUS_ARG, "reduce (cuda): unknown op %d", (int)op);
    if (y->dtype != SEER_F32) SEER_TRY(seer_cu_need_dtype("reduce", "y", y, x->dtype));
    SEER_TRY(seer_cu_need_contig("reduce", "x", x));
    SEER_TRY(seer_cu_need_contig("reduce", "y", y));
    int64_t outer = 1, inner = 1, n = x->shape[dim];
    for (int d = 0; d < dim; d++)
        outer *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++)
        inner *= x->shape[d];
    if (outer * inner == 0) return SEER_STATUS_OK;
    // An empty dim sums to 0 and averages to 0/0 = NaN (PyTorch); it has no maximum.
    if (n == 0 && op == SEER_REDUCE_MAX)
        return seer_fail(SEER_STATUS_SHAPE, "reduce (cuda): max over empty dim %d of x %s", dim,
                         seer_tensor_shape_str(x, bx, sizeof bx));
    // y in x's dtype, or F32 (seer_reduce_f32)
    auto launch = [&](auto ttag, auto ytag) -> seer_status {
        using T = decltype(ttag);
        using Y = decltype(ytag);
        if (inner == 1) {
            int64_t blocks = (outer + 7) / 8;
            if (blocks > 0x7fffffff)
                return seer_fail(SEER_STATUS_UNSUPPORTED, "reduce (cuda): %lld rows",
                                 (long long)outer);
            reduce_rows_kernel<T, Y><<<(unsigned)blocks, 256, 0, seer_cu_stream()>>>(
                (Y *)y->data, (const T *)x->data, outer, n, op);
        } else {
            reduce_strided_kernel<T, Y>
                <<<seer_cu_blocks(outer * inner), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                    (Y *)y->data, (const T *)x->data, outer, n, inner, op);
        }
        return SEER_CU(seer_cu_launched());
    };
    return seer_cu_dispatch_float(x->dtype, "reduce", [&](auto tag) {
        using T = typename decltype(tag)::type;
        return y->dtype == x->dtype ? launch(T{}, T{}) : launch(T{}, 0.0f);
    });
}
