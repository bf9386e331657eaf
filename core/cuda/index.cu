// CUDA kernels for selection and indexing: topk, argmax, concat, index_select, gather,
// scatter, pad2d. The fronts (core/ops_index.c, core/ops_spatial.c) hand over contiguous
// inputs. Index values are checked on the device: a kernel that meets an index outside
// [0, n) records it in a device flag, and the host reads the flag back after the launch
// and fails with SEER_STATUS_SHAPE (the output is then left unspecified).
#include <initializer_list>

#include "core/cuda/cuda_common.cuh"

namespace {

// ---- ordering keys (topk, argmax) ----------------------------------------------------------

// A 64-bit key per element whose unsigned order is topk's order: a larger key ranks first.
// High half: the value mapped monotonically to uint32 (NaN above +inf, -0 equal to +0);
// low half: 0x7fffffff - index, so equal values rank the lower index first. Rows are
// limited to 2^31 - 1 elements, so every key is unique and above 0 (the padding key).
__device__ __forceinline__ uint64_t rank_key(float v, int64_t i) {
    uint32_t u;
    if (v != v) {
        u = 0xffffffffu;
    } else {
        u = __float_as_uint(v == 0.0f ? 0.0f : v);
        u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    }
    return ((uint64_t)u << 32) | (uint32_t)(0x7fffffff - (int32_t)i);
}

__device__ __forceinline__ int64_t key_index(uint64_t key) {
    return 0x7fffffff - (int64_t)(uint32_t)key;
}

__device__ __forceinline__ uint64_t warp_max_u64(uint64_t v) {
    for (int o = 16; o > 0; o >>= 1) {
        uint64_t w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

// Max over the block (blockDim.x a multiple of 32); every thread gets it. scratch: 32 words.
__device__ __forceinline__ uint64_t block_max_u64(uint64_t v, uint64_t *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_max_u64(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_max_u64(lane < nwarps ? scratch[lane] : 0);
}

// Rows of up to this many elements are sorted whole in shared memory (8 bytes a key).
constexpr int kSortMax = 16384;
// Beyond kSortMax, k up to this is found by k passes of a block-wide max.
constexpr int kSelectMax = 64;
constexpr int kRankThreads = 256;

// Bitonic sort, descending, of keys[0..q) (q a power of two) by the whole block.
__device__ __forceinline__ void block_sort_desc(uint64_t *keys, int q) {
    for (int size = 2; size <= q; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int t = threadIdx.x; t < q / 2; t += blockDim.x) {
                // Pair (a, a + stride); blocks of `size` alternate direction, the final
                // merge (size == q) runs descending.
                int a = 2 * t - (t & (stride - 1)), b = a + stride;
                uint64_t ka = keys[a], kb = keys[b];
                bool descending = (a & size) == 0;
                if ((ka < kb) == descending) {
                    keys[a] = kb;
                    keys[b] = ka;
                }
            }
            __syncthreads();
        }
    }
}

// One block per row: bitonic sort of the row's keys (padded to p, a power of two, with the
// smallest key 0), then the first k written out. x: [rows, n]; values, indices: [rows, k].
template <typename T>
__global__ void topk_sort_kernel(const T *x, T *values, int64_t *indices, int n, int p, int k) {
    extern __shared__ uint64_t keys[]; // [p]
    int64_t row = blockIdx.x;
    const T *xr = x + row * n;
    for (int i = threadIdx.x; i < p; i += blockDim.x)
        keys[i] = i < n ? rank_key(seer_cu_f(xr[i]), i) : 0;
    __syncthreads();
    block_sort_desc(keys, p);
    for (int r = threadIdx.x; r < k; r += blockDim.x) {
        int64_t i = key_index(keys[r]);
        if (values) values[row * k + r] = xr[i];
        if (indices) indices[row * k + r] = i;
    }
}

// One block per row, k passes: pass r takes the largest key below the previous pass's.
template <typename T>
__global__ void topk_select_kernel(const T *x, T *values, int64_t *indices, int n, int k) {
    __shared__ uint64_t scratch[32];
    int64_t row = blockIdx.x;
    const T *xr = x + row * n;
    uint64_t prev = ~0ull; // above every key
    for (int r = 0; r < k; r++) {
        uint64_t best = 0;
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            uint64_t key = rank_key(seer_cu_f(xr[i]), i);
            if (key < prev && key > best) best = key;
        }
        best = block_max_u64(best, scratch);
        if (threadIdx.x == 0) {
            int64_t i = key_index(best);
            if (values) values[row * k + r] = xr[i];
            if (indices) indices[row * k + r] = i;
        }
        prev = best;
    }
}

// Any k on long rows: each element counts the keys above its own (its rank, unique since
// keys are) and writes itself to that position when the rank is below k. O(n^2) per row,
// but bounded memory and no scratch. Grid: (n / 256 blocks, rows).
template <typename T>
__global__ void __launch_bounds__(kRankThreads)
    topk_rank_kernel(const T *x, T *values, int64_t *indices, int n, int k, int64_t rows) {
    __shared__ uint64_t tile[kRankThreads];
    for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
        const T *xr = x + row * n;
        int i = blockIdx.x * kRankThreads + threadIdx.x;
        uint64_t mine = i < n ? rank_key(seer_cu_f(xr[i]), i) : ~0ull;
        int above = 0;
        for (int j0 = 0; j0 < n; j0 += kRankThreads) {
            int j = j0 + threadIdx.x;
            tile[threadIdx.x] = j < n ? rank_key(seer_cu_f(xr[j]), j) : 0;
            __syncthreads();
            int m = min(kRankThreads, n - j0);
            for (int t = 0; t < m; t++)
                above += tile[t] > mine;
            __syncthreads();
        }
        if (i < n && above < k) {
            if (values) values[row * k + above] = xr[i];
            if (indices) indices[row * k + above] = i;
        }
    }
}

// First maximum of each row (NaN counts as the maximum). One block per row.
template <typename T> __global__ void argmax_kernel(const T *x, int64_t *out, int n) {
    __shared__ uint64_t scratch[32];
    int64_t row = blockIdx.x;
    const T *xr = x + row * n;
    uint64_t best = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        uint64_t key = rank_key(seer_cu_f(xr[i]), i);
        best = key > best ? key : best;
    }
    best = block_max_u64(best, scratch);
    if (threadIdx.x == 0) out[row] = key_index(best);
}

// Threads for one block per row of n elements: a multiple of 32, at most `cap`.
inline int row_threads(int64_t n, int cap) {
    int64_t t = (n + 31) / 32 * 32;
    return (int)(t < 32 ? 32 : t > cap ? cap : t);
}

// ---- raw element copies --------------------------------------------------------------------

// Calls f(U{}) with U a plain word of es bytes (1, 2, 4, 8 or 16), so the data-movement
// kernels serve every dtype.
template <typename F> inline seer_status with_word(size_t es, const char *op, F &&f) {
    switch (es) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    case 16: return f(uint4{});
    default: return seer_fail(SEER_STATUS_UNSUPPORTED, "%s (cuda): element size %zu", op, es);
    }
}

// y[o, off + j] = x[o, j] for x: [outer, inner_x], y: [outer, inner_y] (in words of U).
template <typename U>
__global__ void concat_kernel(U *y, const U *x, int64_t outer, int64_t inner_x, int64_t inner_y,
                              int64_t off) {
    SEER_CU_FOR(e, outer * inner_x) {
        int64_t o = e / inner_x, j = e - o * inner_x;
        y[o * inner_y + off + j] = x[e];
    }
}

// Widest word (up to 16 bytes) that divides every byte count and address given, so a copy
// of `bytes`-wide rows can move whole words.
inline size_t widest_word(size_t es, std::initializer_list<uint64_t> sizes) {
    for (size_t w = 16; w > es; w >>= 1) {
        bool ok = true;
        for (uint64_t s : sizes)
            ok = ok && s % w == 0;
        if (ok) return w;
    }
    return es;
}

// ---- bounds-checked indices ----------------------------------------------------------------

// The first out-of-range index a kernel met: its value and its element in the index tensor.
struct bad_index {
    unsigned int hit;
    long long value;
    long long element;
};
__device__ bad_index seer_cu_bad_index;

__device__ __forceinline__ void report_bad_index(int64_t value, int64_t element) {
    if (atomicCAS(&seer_cu_bad_index.hit, 0u, 1u) == 0u) {
        seer_cu_bad_index.value = value;
        seer_cu_bad_index.element = element;
    }
}

// The flag is one per process: hold this lock from clearing it until it is read back.
std::mutex &bad_index_mutex() {
    static std::mutex mu;
    return mu;
}

seer_status bad_index_clear() {
    bad_index zero = {0, 0, 0};
    return SEER_CU(cudaMemcpyToSymbolAsync(seer_cu_bad_index, &zero, sizeof zero, 0,
                                           cudaMemcpyHostToDevice, seer_cu_stream()));
}

// After the kernel: a SHAPE failure (worded as the CPU backend's) if it met a bad index.
seer_status bad_index_check(const char *op, int dim, int64_t n) {
    bad_index got;
    SEER_TRY(SEER_CU(cudaMemcpyFromSymbol(&got, seer_cu_bad_index, sizeof got)));
    if (!got.hit) return SEER_STATUS_OK;
    return seer_fail(SEER_STATUS_SHAPE,
                     "%s (cuda): index %lld (element %lld of the index tensor) is out of range "
                     "for dim %d of size %lld",
                     op, got.value, got.element, dim, (long long)n);
}

// Calls f(I{}) with I the index tensor's element type.
template <typename F> inline seer_status with_index(const seer_tensor *idx, const char *op, F &&f) {
    if (idx->dtype == SEER_I32) return f(int32_t{});
    if (idx->dtype == SEER_I64) return f(int64_t{});
    return seer_fail(SEER_STATUS_SHAPE, "%s (cuda): index tensor must be i32 or i64, got %s", op,
                     seer_dtype_name(idx->dtype));
}

// x: [outer, n, inner] -> y: [outer, m, inner], y[o, i, j] = x[o, idx[i], j].
template <typename U, typename I>
__global__ void index_select_kernel(U *y, const U *x, const I *idx, int64_t outer, int64_t n,
                                    int64_t m, int64_t inner) {
    SEER_CU_FOR(e, outer * m * inner) {
        int64_t r = e / inner, j = e - r * inner;
        int64_t o = r / m, i = r - o * m;
        int64_t v = (int64_t)idx[i];
        if (v < 0 || v >= n) {
            report_bad_index(v, i);
            continue;
        }
        y[e] = x[(o * n + v) * inner + j];
    }
}

// Shapes for gather/scatter: coordinates run over idx's shape; `a` strides locate x (gather)
// or y (scatter) with dim `dim` replaced by the index; `b` strides locate src (scatter).
struct gs_dims {
    int ndim, dim;
    int64_t n; // size of dim in x / y: the index range
    int64_t shape[SEER_MAX_DIMS];
    int64_t a[SEER_MAX_DIMS];
    int64_t b[SEER_MAX_DIMS];
};

// y (idx's shape, contiguous)[p] = x[p with p[dim] = idx[p]].
template <typename U, typename I>
__global__ void gather_kernel(U *y, const U *x, const I *idx, gs_dims g, int64_t total) {
    SEER_CU_FOR(e, total) {
        int64_t v = (int64_t)idx[e];
        if (v < 0 || v >= g.n) {
            report_bad_index(v, e);
            continue;
        }
        int64_t rem = e, off = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            int64_t c = rem % g.shape[d];
            rem /= g.shape[d];
            off += (d == g.dim ? v : c) * g.a[d];
        }
        y[e] = x[off];
    }
}

// y[p with p[dim] = idx[p]] = src[p] for every position p of idx (y already holds x).
template <typename U, typename I>
__global__ void scatter_kernel(U *y, const U *src, const I *idx, gs_dims g, int64_t total) {
    SEER_CU_FOR(e, total) {
        int64_t v = (int64_t)idx[e];
        if (v < 0 || v >= g.n) {
            report_bad_index(v, e);
            continue;
        }
        int64_t rem = e, off_y = 0, off_s = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            int64_t c = rem % g.shape[d];
            rem /= g.shape[d];
            off_y += (d == g.dim ? v : c) * g.a[d];
            off_s += c * g.b[d];
        }
        y[off_y] = src[off_s];
    }
}

// Row-major strides of a contiguous tensor of t's shape.
inline void contiguous_strides(const seer_tensor *t, int64_t *stride) {
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= t->shape[d];
    }
}

// ---- pad2d ---------------------------------------------------------------------------------

// x: [B, H, W, C] -> y: [B, Ho, Wo, C]; y[b, i, j] = x[b, i - top, j - left] inside, else value.
template <typename T>
__global__ void pad2d_kernel(T *y, const T *x, int64_t H, int64_t W, int64_t C, int64_t Ho,
                             int64_t Wo, int64_t total, int top, int left, float value) {
    const T fill = seer_cu_store<T>(value);
    SEER_CU_FOR(e, total) {
        int64_t r = e / C, c = e - r * C;
        int64_t ox = r % Wo;
        r /= Wo;
        int64_t oy = r % Ho, b = r / Ho;
        int64_t iy = oy - top, ix = ox - left;
        bool inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
        y[e] = inside ? x[((b * H + iy) * W + ix) * C + c] : fill;
    }
}

} // namespace

// Rows of more than kRadixMin and at most kRadixMax elements: select, then sort only the k.
constexpr int kRadixMin = 1024;
constexpr int kRadixMax = 8192;
constexpr int kRadixThreads = 256;

// One block per row: the k-th largest key by radix selection over the 64-bit keys (8 bits a
// pass, from the top; a pass ends the search as soon as the chosen bucket holds exactly the
// keys still wanted), the k keys at or above it gathered, then a bitonic sort of those k only
// (padded to q, a power of two, with key 0). Shared memory: keys [n] + sel [q].
template <typename T>
__global__ void __launch_bounds__(kRadixThreads)
    topk_radix_kernel(const T *x, T *values, int64_t *indices, int n, int k, int q) {
    extern __shared__ uint64_t smem[];
    uint64_t *keys = smem, *sel = smem + n;
    __shared__ int bins[256];
    __shared__ uint64_t prefix_s;
    __shared__ int rank_s, done_s, count_s;
    const int64_t row = blockIdx.x;
    const T *xr = x + row * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        keys[i] = rank_key(seer_cu_f(xr[i]), i);
    uint64_t prefix = 0, mask = 0;
    int rank = k; // the k-th largest is the rank-th largest of the keys matching prefix
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x)
            bins[b] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < n; i += blockDim.x)
            if ((keys[i] & mask) == prefix) atomicAdd(&bins[(keys[i] >> shift) & 255], 1);
        __syncthreads();
        if (threadIdx.x < 32) { // warp 0: lane l owns buckets 255 - 8l down to 248 - 8l
            const int lane = threadIdx.x;
            int mine = 0;
            for (int j = 0; j < 8; j++)
                mine += bins[255 - 8 * lane - j];
            int above = mine; // inclusive sum over lanes 0..lane (the buckets from the top)
            for (int o = 1; o < 32; o <<= 1) {
                int v = __shfl_up_sync(0xffffffffu, above, o);
                if (lane >= o) above += v;
            }
            above -= mine; // keys in the buckets above this lane's
            if (above < rank && above + mine >= rank) { // the k-th key is in this lane's buckets
                int d = 255 - 8 * lane;
                while (above + bins[d] < rank) above += bins[d--];
                rank_s = rank - above;
                done_s = bins[d] == rank - above;
                prefix_s = prefix | ((uint64_t)d << shift);
            }
        }
        __syncthreads();
        prefix = prefix_s;
        rank = rank_s;
        mask |= (uint64_t)255 << shift;
        const bool done = done_s; // every key of the chosen bucket is wanted: prefix's low bits
        __syncthreads();          // are 0, so `key >= prefix` selects exactly the k
        if (done) break;
    }
    if (threadIdx.x == 0) count_s = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        if (keys[i] >= prefix) sel[atomicAdd(&count_s, 1)] = keys[i];
    for (int i = k + threadIdx.x; i < q; i += blockDim.x)
        sel[i] = 0;
    __syncthreads();
    block_sort_desc(sel, q);
    for (int r = threadIdx.x; r < k; r += blockDim.x) {
        int64_t i = key_index(sel[r]);
        if (values) values[row * k + r] = xr[i];
        if (indices) indices[row * k + r] = i;
    }
}

// ---- topk / argmax -------------------------------------------------------------------------

// x: [rows, n] -> values (or NULL), indices: [rows, k]; descending, ties by lower index,
// NaN above every number (the CPU backend's order, as torch.topk).
seer_status seer_cuda_topk(seer_tensor *values, seer_tensor *indices, const seer_tensor *x,
                           int64_t k) {
    SEER_TRY(seer_cu_need_contig("topk", "x", x));
    SEER_TRY(seer_cu_need_dtype("topk", "indices", indices, SEER_I64));
    SEER_TRY(seer_cu_need_dtype("topk", "values", values, x->dtype));
    int64_t n = x->ndim ? x->shape[x->ndim - 1] : 1;
    int64_t rows = n ? seer_tensor_numel(x) / n : 0;
    if (k < 1 || k > n)
        return seer_fail(SEER_STATUS_ARG, "topk (cuda): k = %lld outside [1, %lld]", (long long)k,
                         (long long)n);
    if (rows == 0) return SEER_STATUS_OK;
    if (!seer_cu_fits_int(n) || !seer_cu_fits_int(rows))
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "topk (cuda): %lld rows of %lld (at most 2^31 - 1 of each)",
                         (long long)rows, (long long)n);
    int64_t *ip = indices ? (int64_t *)indices->data : nullptr;
    return seer_cu_dispatch_float(x->dtype, "topk", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        const T *xp = (const T *)x->data;
        T *vp = values ? (T *)values->data : nullptr;
        // Radix selection unless SEER_TOPK_RADIX=0 (then the whole-row sort, to time them).
        static const bool radix = seer_cu_switch_on("SEER_TOPK_RADIX");
        if (n > kRadixMin && n <= kRadixMax && radix) {
            int q = 1;
            while (q < k)
                q <<= 1;
            size_t smem = (size_t)(n + q) * sizeof(uint64_t);
            static const cudaError_t attr = cudaFuncSetAttribute(
                topk_radix_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                (int)(2 * kRadixMax * sizeof(uint64_t)));
            SEER_TRY(SEER_CU(attr));
            topk_radix_kernel<T><<<(unsigned)rows, kRadixThreads, smem, seer_cu_stream()>>>(
                xp, vp, ip, (int)n, (int)k, q);
        } else if (n <= kSortMax) {
            int p = 1;
            while (p < n)
                p <<= 1;
            size_t smem = (size_t)p * sizeof(uint64_t);
            // Above 48 KiB of dynamic shared memory needs an opt-in, once per kernel.
            static const cudaError_t attr = cudaFuncSetAttribute(
                topk_sort_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                (int)(kSortMax * sizeof(uint64_t)));
            SEER_TRY(SEER_CU(attr));
            topk_sort_kernel<T>
                <<<(unsigned)rows, row_threads(p / 2, 1024), smem, seer_cu_stream()>>>(
                    xp, vp, ip, (int)n, p, (int)k);
        } else if (k <= kSelectMax) {
            topk_select_kernel<T>
                <<<(unsigned)rows, 1024, 0, seer_cu_stream()>>>(xp, vp, ip, (int)n, (int)k);
        } else {
            dim3 grid((unsigned)((n + kRankThreads - 1) / kRankThreads),
                      (unsigned)(rows < 65535 ? rows : 65535));
            topk_rank_kernel<T>
                <<<grid, kRankThreads, 0, seer_cu_stream()>>>(xp, vp, ip, (int)n, (int)k, rows);
        }
        return SEER_CU(seer_cu_launched());
    });
}

// ---- inverse-CDF sampling ------------------------------------------------------------------

// One thread per row, the CPU backend's loop exactly (core/cpu/index.c inverse_cdf_row): the
// same F32 sums in the same order, so CUDA draws what the CPU draws.
__global__ void sample_inverse_cdf_kernel(int64_t *idx, const float *probs, const float *u,
                                          int64_t V, int64_t rows) {
    SEER_CU_FOR(r, rows) {
        const float *p = probs + r * V, ur = u[r];
        int64_t pick = -1;
        if (ur >= 0.0f) {
            float total = 0.0f;
            for (int64_t v = 0; v < V; v++) total = __fadd_rn(total, p[v]);
            float run = 0.0f;
            pick = V - 1;
            for (int64_t v = 0; v < V - 1; v++) {
                run = __fadd_rn(run, p[v]);
                if (!((total > 0.0f ? __fdiv_rn(run, total) : run) < ur)) {
                    pick = v;
                    break;
                }
            }
        }
        idx[r] = pick;
    }
}

seer_status seer_cuda_sample_inverse_cdf(seer_tensor *idx, const seer_tensor *probs,
                                         const seer_tensor *u) {
    SEER_TRY(seer_cu_need_contig("sample_inverse_cdf", "probs", probs));
    SEER_TRY(seer_cu_need_contig("sample_inverse_cdf", "u", u));
    const int64_t V = probs->shape[probs->ndim - 1], rows = seer_tensor_numel(u);
    if (rows == 0) return SEER_STATUS_OK;
    sample_inverse_cdf_kernel<<<seer_cu_blocks(rows, 128), 128, 0, seer_cu_stream()>>>(
        (int64_t *)idx->data, (const float *)probs->data, (const float *)u->data, V, rows);
    return SEER_CU(seer_cu_launched());
}

// x: [rows, n] -> indices: [rows] (I64), the first maximum; NaN counts as the maximum.
seer_status seer_cuda_argmax(seer_tensor *indices, const seer_tensor *x) {
    SEER_TRY(seer_cu_need_contig("argmax", "x", x));
    SEER_TRY(seer_cu_need_dtype("argmax", "indices", indices, SEER_I64));
    int64_t n = x->ndim ? x->shape[x->ndim - 1] : 1;
    int64_t rows = seer_tensor_numel(indices);
    if (rows == 0) return SEER_STATUS_OK;
    if (n < 1) return seer_fail(SEER_STATUS_SHAPE, "argmax (cuda): empty last dim");
    if (!seer_cu_fits_int(n) || !seer_cu_fits_int(rows))
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "argmax (cuda): %lld rows of %lld (at most 2^31 - 1 of each)",
                         (long long)rows, (long long)n);
    return seer_cu_dispatch_float(x->dtype, "argmax", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        argmax_kernel<T><<<(unsigned)rows, row_threads(n, 256), 0, seer_cu_stream()>>>(
            (const T *)x->data, (int64_t *)indices->data, (int)n);
        return SEER_CU(seer_cu_launched());
    });
}

// ---- concat --------------------------------------------------------------------------------

// Each input viewed as [outer, n_i * inner]; its rows go side by side into y's rows.
seer_status seer_cuda_concat(seer_tensor *y, const seer_tensor *const *xs, int n, int dim) {
    SEER_TRY(seer_cu_need_contig("concat", "y", y));
    size_t es = seer_dtype_size(y->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < dim; d++)
        outer *= y->shape[d];
    for (int d = dim + 1; d < y->ndim; d++)
        inner *= y->shape[d];
    uint64_t yrow = (uint64_t)y->shape[dim] * inner * es; // bytes
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const seer_tensor *x = xs[i];
        SEER_TRY(seer_cu_need_contig("concat", "input", x));
        SEER_TRY(seer_cu_need_dtype("concat", "input", x, y->dtype));
        uint64_t xrow = (uint64_t)x->shape[dim] * inner * es;
        if (xrow && outer) {
            size_t w = widest_word(
                es, {xrow, yrow, off, (uint64_t)(uintptr_t)x->data, (uint64_t)(uintptr_t)y->data});
            SEER_TRY(with_word(w, "concat", [&](auto word) -> seer_status {
                using U = decltype(word);
                int64_t wx = (int64_t)(xrow / w), wy = (int64_t)(yrow / w);
                concat_kernel<U>
                    <<<seer_cu_blocks(outer * wx), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                        (U *)y->data, (const U *)x->data, outer, wx, wy, (int64_t)(off / w));
                return SEER_CU(seer_cu_launched());
            }));
        }
        off += xrow;
    }
    if (off != yrow)
        return seer_fail(SEER_STATUS_SHAPE, "concat (cuda): inputs fill %llu of %llu bytes a row",
                         (unsigned long long)off, (unsigned long long)yrow);
    return SEER_STATUS_OK;
}

// ---- index_select / gather / scatter -------------------------------------------------------

// Runs one indexed kernel with the bad-index flag cleared before and checked after (an index
// outside [0, n) of `dim` fails the op): launch(word, index) for x's element word and idx's type.
template <typename Launch>
static seer_status run_indexed(const char *op, const seer_tensor *x, const seer_tensor *idx,
                               int dim, int64_t n, Launch launch) {
    std::lock_guard<std::mutex> lock(bad_index_mutex());
    SEER_TRY(bad_index_clear());
    SEER_TRY(with_word(seer_dtype_size(x->dtype), op, [&](auto word) {
        return with_index(idx, op, [&](auto ityp) -> seer_status {
            launch(word, ityp);
            return SEER_CU(seer_cu_launched());
        });
    }));
    return bad_index_check(op, dim, n);
}

// x: [outer, n, inner] -> y: [outer, m, inner] with y[o, i] = x[o, idx[i]].
seer_status seer_cuda_index_select(seer_tensor *y, const seer_tensor *x, int dim,
                                   const seer_tensor *idx) {
    SEER_TRY(seer_cu_need_contig("index_select", "x", x));
    SEER_TRY(seer_cu_need_contig("index_select", "idx", idx));
    SEER_TRY(seer_cu_need_contig("index_select", "y", y));
    int64_t outer = 1, inner = 1, n = x->shape[dim], m = idx->ndim ? idx->shape[0] : 1;
    for (int d = 0; d < dim; d++)
        outer *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++)
        inner *= x->shape[d];
    if (outer * m * inner == 0) return SEER_STATUS_OK;
    return run_indexed("index_select", x, idx, dim, n, [&](auto word, auto ityp) {
        using U = decltype(word);
        using I = decltype(ityp);
        index_select_kernel<U, I>
            <<<seer_cu_blocks(outer * m * inner), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (U *)y->data, (const U *)x->data, (const I *)idx->data, outer, n, m, inner);
    });
}

// Shared checks of gather and scatter: idx has `lim`'s ndim and sizes no larger outside dim.
static seer_status check_gs(const char *op, const seer_tensor *idx, const seer_tensor *lim, int dim,
                            bool dim_too) {
    bool ok = idx->ndim == lim->ndim && dim >= 0 && dim < idx->ndim;
    for (int d = 0; ok && d < idx->ndim; d++)
        if ((dim_too || d != dim) && idx->shape[d] > lim->shape[d]) ok = false;
    if (ok) return SEER_STATUS_OK;
    char bi[128], bl[128];
    return seer_fail(SEER_STATUS_SHAPE, "%s (cuda): idx %s does not fit %s (dim %d)", op,
                     seer_tensor_shape_str(idx, bi, sizeof bi),
                     seer_tensor_shape_str(lim, bl, sizeof bl), dim);
}

// y[p] = x[p with p[dim] = idx[p]] for every position p of idx (y has idx's shape).
seer_status seer_cuda_gather(seer_tensor *y, const seer_tensor *x, int dim,
                             const seer_tensor *idx) {
    SEER_TRY(seer_cu_need_contig("gather", "idx", idx));
    SEER_TRY(seer_cu_need_contig("gather", "y", y));
    SEER_TRY(check_gs("gather", idx, x, dim, false));
    int64_t total = seer_tensor_numel(idx);
    if (total == 0) return SEER_STATUS_OK;
    gs_dims g;
    memset(&g, 0, sizeof g);
    g.ndim = idx->ndim;
    g.dim = dim;
    g.n = x->shape[dim];
    for (int d = 0; d < idx->ndim; d++) {
        g.shape[d] = idx->shape[d];
        g.a[d] = x->stride[d]; // x may be strided
    }
    return run_indexed("gather", x, idx, dim, g.n, [&](auto word, auto ityp) {
        using U = decltype(word);
        using I = decltype(ityp);
        gather_kernel<U, I><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (U *)y->data, (const U *)x->data, (const I *)idx->data, g, total);
    });
}

// y = x; then y[p with p[dim] = idx[p]] = src[p] for every position p of idx. Duplicate
// targets: one of the writes wins, which one is not specified (threads run unordered).
seer_status seer_cuda_scatter(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx,
                              const seer_tensor *src) {
    SEER_TRY(seer_cu_need_contig("scatter", "x", x));
    SEER_TRY(seer_cu_need_contig("scatter", "idx", idx));
    SEER_TRY(seer_cu_need_contig("scatter", "y", y));
    SEER_TRY(seer_cu_need_dtype("scatter", "src", src, x->dtype));
    SEER_TRY(check_gs("scatter", idx, x, dim, false));
    SEER_TRY(check_gs("scatter", idx, src, dim, true));
    if (!seer_tensor_same_shape(y, x))
        return seer_fail(SEER_STATUS_SHAPE, "scatter (cuda): y and x differ in shape");
    if (y->data != x->data)
        SEER_TRY(SEER_CU(cudaMemcpyAsync(y->data, x->data, seer_tensor_nbytes(x),
                                         cudaMemcpyDeviceToDevice, seer_cu_stream())));
    int64_t total = seer_tensor_numel(idx);
    if (total == 0) return SEER_STATUS_OK;
    gs_dims g;
    memset(&g, 0, sizeof g);
    g.ndim = idx->ndim;
    g.dim = dim;
    g.n = y->shape[dim];
    contiguous_strides(y, g.a);
    for (int d = 0; d < idx->ndim; d++) {
        g.shape[d] = idx->shape[d];
        g.b[d] = src->stride[d]; // src may be strided
    }
    return run_indexed("scatter", x, idx, dim, g.n, [&](auto word, auto ityp) {
        using U = decltype(word);
        using I = decltype(ityp);
        scatter_kernel<U, I><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (U *)y->data, (const U *)src->data, (const I *)idx->data, g, total);
    });
}

// ---- pad2d ---------------------------------------------------------------------------------

seer_status seer_cuda_pad2d(seer_tensor *y, const seer_tensor *x, int top, int left, float value) {
    SEER_TRY(seer_cu_need_contig("pad2d", "x", x));
    SEER_TRY(seer_cu_need_dtype("pad2d", "y", y, x->dtype));
    if (x->ndim != 4 || y->ndim != 4)
        return seer_fail(SEER_STATUS_SHAPE, "pad2d (cuda): x and y must be [B, H, W, C]");
    int64_t total = seer_tensor_numel(y);
    if (total == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(x->dtype, "pad2d", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        pad2d_kernel<T><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)y->data, (const T *)x->data, x->shape[1], x->shape[2], x->shape[3], y->shape[1],
            y->shape[2], total, top, left, value);
        return SEER_CU(seer_cu_launched());
    });
}
