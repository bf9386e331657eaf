// CUDA backend: layer, RMS, group (channels-last) and inference batch normalization.
// Statistics in float, two passes (mean, then the mean of squared deviations), which keeps
// the variance accurate when the mean is large. Parameter vectors are F32.
#include "core/cuda/cuda_common.cuh"

#define NORM_ROWS_PER_BLOCK 8 // one warp per row

// x, y: [rows, C]. One warp per row; the row is read three times (mostly from cache).
// rms: y = x / sqrt(mean(x^2) + eps) * w; else y = (x - mean) / sqrt(var + eps) * w + b.
template <typename T, bool RMS>
__global__ void row_norm_kernel(T *y, const T *x, const float *w, const float *b, int64_t rows,
                                int64_t C, float eps) {
    int lane = threadIdx.x & 31;
    int64_t row = (int64_t)blockIdx.x * NORM_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (row >= rows) return; // whole warp leaves together
    const T *xr = x + row * C;
    T *yr = y + row * C;
    float mean = 0.0f;
    if (!RMS) {
        float s = 0.0f;
        for (int64_t j = lane; j < C; j += 32)
            s += seer_cu_f(xr[j]);
        mean = seer_cu_warp_sum(s) / (float)C;
    }
    float q = 0.0f;
    for (int64_t j = lane; j < C; j += 32) {
        float d = seer_cu_f(xr[j]) - mean;
        q += d * d;
    }
    float rstd = 1.0f / sqrtf(seer_cu_warp_sum(q) / (float)C + eps);
    for (int64_t j = lane; j < C; j += 32) {
        float v = (seer_cu_f(xr[j]) - mean) * rstd;
        if (w) v *= w[j];
        if (b) v += b[j];
        yr[j] = seer_cu_store<T>(v);
    }
}

// The same for rows of C = G * NV 16-byte vectors (off with SEER_CUDA_NEW=0 or SEER_NEW_LN=0):
// G lanes per row (a power of two up to 32, so a row's lanes sit in one warp), each holding NV
// vectors of the row in registers, vector j of lane l being the row's vector j * G + l (a warp's
// loads are contiguous). The row is read once; the sums go over the G lanes by shuffles. One
// warp per row (the kernel above) leaves most lanes idle on BiFormer's and VAN's 64-channel rows.
template <typename T, bool RMS, int NV>
__global__ void row_norm_vec_kernel(T *y, const T *x, const float *w, const float *b,
                                    uint32_t rows, int g_log2, float eps) {
    constexpr int V = 16 / sizeof(T);
    const int G = 1 << g_log2, C = G * NV * V;
    const uint32_t t = blockIdx.x * blockDim.x + threadIdx.x, row = t >> g_log2;
    const int lane = (int)(t & (uint32_t)(G - 1));
    const bool live = row < rows; // dead lanes still take part in the shuffles
    const uint4 *xr = (const uint4 *)(x + (size_t)row * C);
    float v[NV][V];
#pragma unroll
    for (int j = 0; j < NV; j++) {
        const uint4 raw = live ? xr[j * G + lane] : make_uint4(0, 0, 0, 0);
        const T *e = (const T *)&raw;
#pragma unroll
        for (int i = 0; i < V; i++) v[j][i] = seer_cu_f(e[i]);
    }
    float mean = 0.0f;
    if (!RMS) {
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < NV; j++)
#pragma unroll
            for (int i = 0; i < V; i++) s += v[j][i];
        for (int o = G >> 1; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        mean = s / (float)C;
    }
    float q = 0.0f;
#pragma unroll
    for (int j = 0; j < NV; j++)
#pragma unroll
        for (int i = 0; i < V; i++) {
            const float d = v[j][i] - mean;
            q += d * d;
        }
    for (int o = G >> 1; o > 0; o >>= 1) q += __shfl_xor_sync(0xffffffffu, q, o);
    const float rstd = 1.0f / sqrtf(q / (float)C + eps);
    if (!live) return;
    uint4 *yr = (uint4 *)(y + (size_t)row * C);
#pragma unroll
    for (int j = 0; j < NV; j++) {
        const int c0 = (j * G + lane) * V;
        uint4 raw;
        T *e = (T *)&raw;
#pragma unroll
        for (int i = 0; i < V; i++) {
            float r = (v[j][i] - mean) * rstd;
            if (w) r *= w[c0 + i];
            if (b) r += b[c0 + i];
            e[i] = seer_cu_store<T>(r);
        }
        yr[j * G + lane] = raw;
    }
}

// The vector kernel's launch for NV (1..8) vectors per lane.
template <typename T, bool RMS, int NV>
static seer_status launch_row_norm_vec(T *y, const T *x, const float *w, const float *b,
                                       uint32_t rows, int g_log2, float eps) {
    const uint64_t threads = (uint64_t)rows << g_log2;
    const unsigned block = 256, blocks = (unsigned)((threads + block - 1) / block);
    row_norm_vec_kernel<T, RMS, NV><<<blocks, block, 0, seer_cu_stream()>>>(y, x, w, b, rows,
                                                                            g_log2, eps);
    return SEER_CU(seer_cu_launched());
}

// The vector kernel when it applies (switched on, C a whole number of 16-byte vectors, at
// most 8 per lane at 32 lanes, aligned rows, 32-bit sizes); false: use the warp-per-row kernel.
template <typename T, bool RMS>
static bool row_norm_vec(seer_status *st, T *y, const T *x, const float *w, const float *b,
                         int64_t rows, int64_t C, float eps) {
    constexpr int V = 16 / sizeof(T);
    static const bool on = seer_cu_new_part("SEER_NEW_LN");
    if (!on || C % V || (uintptr_t)x % 16 || (uintptr_t)y % 16 ||
        rows >= ((int64_t)1 << 26))
        return false;
    const int64_t vecs = C / V;
    int g_log2 = 5; // as many lanes as divide the row's vectors, at most 32
    while (g_log2 > 0 && vecs % (1 << g_log2)) g_log2--;
    const int64_t nv = vecs >> g_log2;
    if (nv < 1 || nv > 8) return false;
    const uint32_t r = (uint32_t)rows;
    switch (nv) {
    case 1: *st = launch_row_norm_vec<T, RMS, 1>(y, x, w, b, r, g_log2, eps); break;
    case 2: *st = launch_row_norm_vec<T, RMS, 2>(y, x, w, b, r, g_log2, eps); break;
    case 3: *st = launch_row_norm_vec<T, RMS, 3>(y, x, w, b, r, g_log2, eps); break;
    case 4: *st = launch_row_norm_vec<T, RMS, 4>(y, x, w, b, r, g_log2, eps); break;
    case 5: *st = launch_row_norm_vec<T, RMS, 5>(y, x, w, b, r, g_log2, eps); break;
    case 6: *st = launch_row_norm_vec<T, RMS, 6>(y, x, w, b, r, g_log2, eps); break;
    case 7: *st = launch_row_norm_vec<T, RMS, 7>(y, x, w, b, r, g_log2, eps); break;
    default: *st = launch_row_norm_vec<T, RMS, 8>(y, x, w, b, r, g_log2, eps); break;
    }
    return true;
}

static seer_status check_same(const char *op, const seer_tensor *y, const seer_tensor *x) {
    char bx[128], by[128];
    if (!seer_tensor_same_shape(x, y) || x->ndim < 1)
        return seer_fail(SEER_STATUS_SHAPE, "%s (cuda): x %s and y %s differ", op,
                         seer_tensor_shape_str(x, bx, sizeof bx),
                         seer_tensor_shape_str(y, by, sizeof by));
    SEER_TRY(seer_cu_need_dtype(op, "y", y, x->dtype));
    SEER_TRY(seer_cu_need_contig(op, "x", x));
    return seer_cu_need_contig(op, "y", y);
}

static const float *fptr(const seer_tensor *t) {
    return t ? (const float *)t->data : nullptr;
}

template <bool RMS>
static seer_status row_norm(const char *op, seer_tensor *y, const seer_tensor *x,
                            const seer_tensor *w, const seer_tensor *b, float eps) {
    SEER_TRY(check_same(op, y, x));
    int64_t C = x->shape[x->ndim - 1];
    SEER_TRY(seer_cu_need_param(op, "weight", w, C));
    SEER_TRY(seer_cu_need_param(op, "bias", b, C));
    int64_t n = seer_tensor_numel(x);
    if (n == 0) return SEER_STATUS_OK;
    int64_t rows = n / C;
    int64_t blocks = (rows + NORM_ROWS_PER_BLOCK - 1) / NORM_ROWS_PER_BLOCK;
    if (blocks > 0x7fffffff)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "%s (cuda): %lld rows", op, (long long)rows);
    return seer_cu_dispatch_float(x->dtype, op, [&](auto tag) {
        using T = typename decltype(tag)::type;
        seer_status st;
        if (row_norm_vec<T, RMS>(&st, (T *)y->data, (const T *)x->data, fptr(w), fptr(b), rows, C,
                                 eps))
            return st;
        row_norm_kernel<T, RMS>
            <<<(unsigned)blocks, 32 * NORM_ROWS_PER_BLOCK, 0, seer_cu_stream()>>>(
                (T *)y->data, (const T *)x->data, fptr(w), fptr(b), rows, C, eps);
        return SEER_CU(seer_cu_launched());
    });
}

seer_status seer_cuda_layer_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                 const seer_tensor *b, float eps) {
    return row_norm<false>("layer_norm", y, x, w, b, eps);
}

seer_status seer_cuda_rms_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                               float eps) {
    return row_norm<true>("rms_norm", y, x, w, nullptr, eps);
}

// ---- group norm ----------------------------------------------------------------------------

// x, y: [B, S, C] (S = every dim between batch and channels), G groups of Cg = C / G
// channels. One block per (b, g) reduces the S * Cg values of the group.
template <typename T>
__global__ void group_norm_kernel(T *y, const T *x, const float *w, const float *b, int64_t S,
                                  int64_t C, int G, float eps) {
    __shared__ float scratch[32];
    int64_t bi = blockIdx.x / G, g = blockIdx.x % G, cg = C / G, n = S * cg;
    const T *xb = x + bi * S * C + g * cg;
    T *yb = y + bi * S * C + g * cg;
    float s = 0.0f;
    for (int64_t e = threadIdx.x; e < n; e += blockDim.x)
        s += seer_cu_f(xb[(e / cg) * C + e % cg]);
    float mean = seer_cu_block_sum(s, scratch) / (float)n;
    float q = 0.0f;
    for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
        float d = seer_cu_f(xb[(e / cg) * C + e % cg]) - mean;
        q += d * d;
    }
    float rstd = 1.0f / sqrtf(seer_cu_block_sum(q, scratch) / (float)n + eps);
    for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
        int64_t off = (e / cg) * C + e % cg, c = g * cg + e % cg;
        float v = (seer_cu_f(xb[off]) - mean) * rstd;
        if (w) v *= w[c];
        if (b) v += b[c];
        yb[off] = seer_cu_store<T>(v);
    }
}

seer_status seer_cuda_group_norm(seer_tensor *y, const seer_tensor *x, int groups,
                                 const seer_tensor *w, const seer_tensor *b, float eps) {
    SEER_TRY(check_same("group_norm", y, x));
    char bx[128];
    int64_t C = x->shape[x->ndim - 1];
    if (x->ndim < 2 || groups < 1 || C % groups)
        return seer_fail(SEER_STATUS_SHAPE, "group_norm (cuda): x %s with %d groups",
                         seer_tensor_shape_str(x, bx, sizeof bx), groups);
    SEER_TRY(seer_cu_need_param("group_norm", "weight", w, C));
    SEER_TRY(seer_cu_need_param("group_norm", "bias", b, C));
    int64_t n = seer_tensor_numel(x);
    if (n == 0) return SEER_STATUS_OK;
    int64_t B = x->shape[0], S = n / (B * C);
    if (B * groups > 0x7fffffff)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "group_norm (cuda): %lld groups in all",
                         (long long)(B * groups));
    return seer_cu_dispatch_float(x->dtype, "group_norm", [&](auto tag) {
        using T = typename decltype(tag)::type;
        group_norm_kernel<T><<<(unsigned)(B * groups), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)y->data, (const T *)x->data, fptr(w), fptr(b), S, C, groups, eps);
        return SEER_CU(seer_cu_launched());
    });
}

// ---- batch norm (inference) ----------------------------------------------------------------

template <typename T>
__global__ void batch_norm_kernel(T *y, const T *x, const float *mean, const float *var,
                                  const float *w, const float *b, int64_t n, int64_t C, float eps) {
    SEER_CU_FOR(i, n) {
        int64_t c = i % C;
        float v = (seer_cu_f(x[i]) - mean[c]) * ((w ? w[c] : 1.0f) / sqrtf(var[c] + eps));
        if (b) v += b[c];
        y[i] = seer_cu_store<T>(v);
    }
}

seer_status seer_cuda_batch_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *mean,
                                 const seer_tensor *var, const seer_tensor *w, const seer_tensor *b,
                                 float eps) {
    SEER_TRY(check_same("batch_norm", y, x));
    int64_t C = x->shape[x->ndim - 1];
    if (!mean || !var)
        return seer_fail(SEER_STATUS_ARG, "batch_norm (cuda): running mean and var are required");
    SEER_TRY(seer_cu_need_param("batch_norm", "mean", mean, C));
    SEER_TRY(seer_cu_need_param("batch_norm", "var", var, C));
    SEER_TRY(seer_cu_need_param("batch_norm", "weight", w, C));
    SEER_TRY(seer_cu_need_param("batch_norm", "bias", b, C));
    int64_t n = seer_tensor_numel(x);
    if (n == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(x->dtype, "batch_norm", [&](auto tag) {
        using T = typename decltype(tag)::type;
        batch_norm_kernel<T><<<seer_cu_blocks(n), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)y->data, (const T *)x->data, fptr(mean), fptr(var), fptr(w), fptr(b), n, C, eps);
        return SEER_CU(seer_cu_launched());
    });
}
