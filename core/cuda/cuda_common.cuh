// Shared pieces of the CUDA backend: the one error-check macro, dtype dispatch with float
// accumulation, launch helpers, strided indexing, lazily created cuBLAS/cuDNN handles and a
// cached scratch buffer. Internal to core/cuda/.
//
// Every CUDA, cuBLAS and cuDNN call goes through SEER_CU(call): it evaluates to a
// seer_status and, on failure, leaves a message with the call text, the library's error
// name, file and line. After each kernel launch: SEER_CU(seer_cu_launched()).
// With SEER_CUDA_SYNC=1 in the environment every launch is followed by a device sync, so an
// asynchronous fault (illegal address, ...) is reported at the kernel that caused it.
//
// All work goes to the legacy default stream (seer_cu_stream()), so kernels, cuBLAS, cuDNN
// and cudaMemcpy are ordered with each other and scratch memory can be reused between calls.
#ifndef SEER_CUDA_COMMON_CUH
#define SEER_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <initializer_list>
#ifdef SEER_CUDNN
#include <cudnn.h>
#endif

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>
#include <type_traits>

#include "core/cuda/cuda_kernels.h"

// ---- error checking ------------------------------------------------------------------------

inline bool seer_cu_ok(cudaError_t e) {
    return e == cudaSuccess;
}
inline bool seer_cu_ok(cublasStatus_t e) {
    return e == CUBLAS_STATUS_SUCCESS;
}
inline const char *seer_cu_name(cudaError_t e) {
    return cudaGetErrorName(e);
}
inline const char *seer_cu_name(cublasStatus_t e) {
    return cublasGetStatusName(e);
}
inline const char *seer_cu_text(cudaError_t e) {
    return cudaGetErrorString(e);
}
inline const char *seer_cu_text(cublasStatus_t e) {
    return cublasGetStatusString(e);
}
inline seer_status seer_cu_kind(cudaError_t e) {
    return e == cudaErrorMemoryAllocation ? SEER_STATUS_OOM : SEER_STATUS_DEVICE;
}
inline seer_status seer_cu_kind(cublasStatus_t e) {
    return e == CUBLAS_STATUS_ALLOC_FAILED ? SEER_STATUS_OOM : SEER_STATUS_DEVICE;
}
#ifdef SEER_CUDNN
inline bool seer_cu_ok(cudnnStatus_t e) {
    return e == CUDNN_STATUS_SUCCESS;
}
inline const char *seer_cu_name(cudnnStatus_t e) {
    return cudnnGetErrorString(e);
}
// cuDNN 9 keeps a detailed message of the last failure on this thread.
inline const char *seer_cu_text(cudnnStatus_t) {
    static thread_local char msg[256];
    msg[0] = '\0';
    cudnnGetLastErrorString(msg, sizeof msg);
    return msg[0] ? msg : "no detail";
}
inline seer_status seer_cu_kind(cudnnStatus_t e) {
    return e == CUDNN_STATUS_ALLOC_FAILED ? SEER_STATUS_OOM : SEER_STATUS_DEVICE;
}
#endif

template <typename E>
inline seer_status seer_cu_check(E e, const char *call, const char *file, int line) {
    if (seer_cu_ok(e)) return SEER_STATUS_OK;
    // A failed runtime call is also recorded as the "last error"; clear it so the next
    // launch check does not blame an innocent kernel (sticky errors come back anyway).
    if constexpr (std::is_same_v<E, cudaError_t>) (void)cudaGetLastError();
    return seer_fail(seer_cu_kind(e), "%s failed: %s (%s) at %s:%d", call, seer_cu_name(e),
                     seer_cu_text(e), file, line);
}

// The one check: evaluates to SEER_STATUS_OK or a failure with call text, file and line.
#define SEER_CU(call) seer_cu_check((call), #call, __FILE__, __LINE__)

// SEER_CUDA_SYNC=1: synchronize after every launch (debugging asynchronous faults).
inline bool seer_cu_debug_sync(void) {
    static const bool on = [] {
        const char *e = getenv("SEER_CUDA_SYNC");
        return e && e[0] == '1';
    }();
    return on;
}

// Launch errors (bad configuration) and, under SEER_CUDA_SYNC=1, execution errors of the
// kernel just launched. Use as SEER_CU(seer_cu_launched()) right after <<<...>>>.
inline cudaError_t seer_cu_launched(void) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && seer_cu_debug_sync()) e = cudaDeviceSynchronize();
    return e;
}

// SEER_TF32=1: allow TF32 tensor cores for F32 matmul/conv (faster, ~1e-3 relative error).
// Off by default so F32 results stay within 1e-5 of the CPU backend.
inline bool seer_cu_tf32(void) {
    static const bool on = [] {
        const char *e = getenv("SEER_TF32");
        return e && e[0] == '1';
    }();
    return on;
}

// True only when the environment sets `name` to "1": the opt-in kernels. Callers keep the
// answer in a static.
inline bool seer_cu_opt_in(const char *name) {
    const char *e = getenv(name);
    return e && strcmp(e, "1") == 0;
}

// False when the environment sets `name` to "0": the switches that bring an older kernel back
// so that a newer one can be timed against it (scripts/gpu-switches.sh). Callers keep the
// answer in a static.
inline bool seer_cu_switch_on(const char *name) {
    const char *e = getenv(name);
    return !e || strcmp(e, "0") != 0;
}

// The fused epilogues (a Linear's residual, and for F32 its bias, in cuBLASLt's epilogue; the
// residual and ReLU in the depthwise kernels): off unless SEER_CUDA_FUSED=1. On the H200
// (2026-12-03) they passed the CUDA op tests but took BiFormer's one-image BF16 fixture to
// rel-L2 2.002e-2, over the 2e-2 bound, for 1.6% of BiFormer's and 1% of VAN-B2's throughput.
// Off, the same ops run as the separate kernels. Read once.
inline bool seer_cu_fused_on(void) {
    static const bool on = seer_cu_opt_in("SEER_CUDA_FUSED");
    return on;
}

// The kernels added on 2026-12-03 (the depthwise kernel on channel vectors, the Linear + GELU
// and Linear + residual passes, the LayerNorm in registers): on unless SEER_CUDA_NEW=0, which
// brings back the kernels they replace (for comparison: scripts/gpu-switches.sh,
// scripts/gpu-quick.sh). They pass the CUDA op tests and the model fixtures on the H200, and
// with them seer's BF16 agrees with the F32 reference on ImageNet images as often as PyTorch's
// own BF16 autocast does (README, "BF16"). BiFormer's routing kernels are opt-in on top
// (SEER_NEW_ROUTE=1, region_route.cu says why). Read once.
inline bool seer_cu_new_on(void) {
    static const bool on = [] {
        const char *e = getenv("SEER_CUDA_NEW");
        return !(e && strcmp(e, "0") == 0);
    }();
    return on;
}

// One of those kernels: on unless SEER_CUDA_NEW=0 or its own variable (SEER_NEW_DW,
// SEER_NEW_LINEAR_ADD, SEER_NEW_LINEAR_GELU, SEER_NEW_LN) is "0", to tell which one moves a
// result. Callers keep the answer in a static.
inline bool seer_cu_new_part(const char *name) {
    return seer_cu_new_on() && seer_cu_switch_on(name);
}

inline cudaStream_t seer_cu_stream(void) {
    return 0;
}

// ---- shape checks used by kernels (the fronts validate; these catch front bugs) ------------

inline seer_status seer_cu_need_contig(const char *op, const char *what, const seer_tensor *t) {
    if (!t || seer_tensor_is_contiguous(t)) return SEER_STATUS_OK;
    char buf[128];
    return seer_fail(SEER_STATUS_SHAPE, "%s (cuda): %s %s must be contiguous", op, what,
                     seer_tensor_shape_str(t, buf, sizeof buf));
}

inline seer_status seer_cu_need_dtype(const char *op, const char *what, const seer_tensor *t,
                                      seer_dtype dt) {
    if (!t || t->dtype == dt) return SEER_STATUS_OK;
    return seer_fail(SEER_STATUS_SHAPE, "%s (cuda): %s is %s, expected %s", op, what,
                     seer_dtype_name(t->dtype), seer_dtype_name(dt));
}

// A parameter vector (bias, norm weight, statistics): NULL, or a contiguous F32 [n].
inline seer_status seer_cu_need_param(const char *op, const char *what, const seer_tensor *p,
                                      int64_t n) {
    if (!p) return SEER_STATUS_OK;
    char bp[128];
    if (p->ndim != 1 || p->shape[0] != n || p->dtype != SEER_F32 || !seer_tensor_is_contiguous(p))
        return seer_fail(SEER_STATUS_SHAPE, "%s (cuda): %s is %s, expected [%lld] f32", op, what,
                         seer_tensor_shape_str(p, bp, sizeof bp), (long long)n);
    return SEER_STATUS_OK;
}

inline bool seer_cu_fits_int(int64_t v) {
    return v >= 0 && v <= 0x7fffffff;
}

// ---- dtype dispatch ------------------------------------------------------------------------

template <typename T> struct seer_cu_tag { using type = T; };

// Calls f(seer_cu_tag<T>{}) with T = float, __half or __nv_bfloat16 for dt; f returns a
// seer_status. Other dtypes fail with UNSUPPORTED naming the op.
template <typename F>
inline seer_status seer_cu_dispatch_float(seer_dtype dt, const char *op, F &&f) {
    switch (dt) {
    case SEER_F32: return f(seer_cu_tag<float>{});
    case SEER_F16: return f(seer_cu_tag<__half>{});
    case SEER_BF16: return f(seer_cu_tag<__nv_bfloat16>{});
    default:
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "%s (cuda): dtype %s is not supported (f32, f16, bf16)", op,
                         seer_dtype_name(dt));
    }
}

// Storage type <-> float. Arithmetic is always done in float.
__device__ __forceinline__ float seer_cu_f(float v) {
    return v;
}
__device__ __forceinline__ float seer_cu_f(__half v) {
    return __half2float(v);
}
__device__ __forceinline__ float seer_cu_f(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

template <typename T> __device__ __forceinline__ T seer_cu_store(float v);
template <> __device__ __forceinline__ float seer_cu_store<float>(float v) {
    return v;
}
template <> __device__ __forceinline__ __half seer_cu_store<__half>(float v) {
    return __float2half_rn(v);
}
template <> __device__ __forceinline__ __nv_bfloat16 seer_cu_store<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

// Element i of a float tensor whose dtype is known only at run time (bias of softmax).
__device__ __forceinline__ float seer_cu_load_any(const void *p, seer_dtype dt, int64_t i) {
    if (dt == SEER_F16) return __half2float(((const __half *)p)[i]);
    if (dt == SEER_BF16) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    return ((const float *)p)[i];
}

// ---- launch helpers ------------------------------------------------------------------------

#define SEER_CU_THREADS 256

// Blocks for a grid-stride loop over n items; capped (the loop covers the rest).
inline unsigned seer_cu_blocks(int64_t n, int threads = SEER_CU_THREADS) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 65536) b = 65536;
    return (unsigned)b;
}

#define SEER_CU_FOR(i, n)                                                                          \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)blockDim.x * gridDim.x)

// Contiguous elementwise kernels move SEER_CU_VEC elements per thread in one load (8 or 16
// bytes) when every pointer is aligned to that; the last n % SEER_CU_VEC elements go through a
// scalar kernel.
#define SEER_CU_VEC 4
template <typename T> struct alignas(sizeof(T) * SEER_CU_VEC) seer_cu_vec {
    T v[SEER_CU_VEC];
};

// Elements that the vector kernels can take from pointers ps (all of T): a multiple of
// SEER_CU_VEC, or 0 when a pointer is not aligned to a whole pack.
template <typename T>
inline int64_t seer_cu_vec_elems(int64_t n, std::initializer_list<const void *> ps) {
    for (const void *p : ps)
        if ((uintptr_t)p % sizeof(seer_cu_vec<T>)) return 0;
    return n - n % SEER_CU_VEC;
}

// GELU, erf form (PyTorch's default): the unary op and the Linear + GELU epilogue share it.
__device__ __forceinline__ float seer_cu_gelu(float v) {
    return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
}

// Float sum over a warp (all 32 lanes must call).
__device__ __forceinline__ float seer_cu_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float seer_cu_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. `scratch` holds 32 floats of shared memory; reusable after the call returns.
__device__ __forceinline__ float seer_cu_block_sum(float v, float *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = seer_cu_warp_sum(v);
    __syncthreads(); // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : 0.0f;
    return seer_cu_warp_sum(v);
}
__device__ __forceinline__ float seer_cu_block_max(float v, float *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = seer_cu_warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : -INFINITY;
    return seer_cu_warp_max(v);
}

// ---- strided indexing ----------------------------------------------------------------------

// Shape and strides (elements) of up to SEER_MAX_DIMS dims, passed to kernels by value.
struct seer_cu_dims {
    int ndim;
    int64_t shape[SEER_MAX_DIMS];
    int64_t stride[SEER_MAX_DIMS];
};

// Offset of the i-th element (row-major order over shape).
__device__ __forceinline__ int64_t seer_cu_offset(const seer_cu_dims &d, int64_t i) {
    int64_t off = 0;
    for (int k = d.ndim - 1; k >= 0; k--) {
        int64_t n = d.shape[k];
        off += (i % n) * d.stride[k];
        i /= n;
    }
    return off;
}

// Shrinks ndim for tensors of one shape: drops size-1 dims and merges neighbours that are
// adjacent in memory in every tensor, so index math runs over as few dims as possible.
// shape: [ndim]; strides[t]: [ndim] for each of the nt tensors. Returns the new ndim (>= 1).
inline int seer_cu_coalesce(int ndim, int64_t *shape, int nt, int64_t (*strides)[SEER_MAX_DIMS]) {
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        bool merge = n > 0;
        for (int t = 0; t < nt && merge; t++)
            merge = strides[t][n - 1] == strides[t][d] * shape[d];
        if (merge) {
            shape[n - 1] *= shape[d];
            for (int t = 0; t < nt; t++)
                strides[t][n - 1] = strides[t][d];
        } else {
            shape[n] = shape[d];
            for (int t = 0; t < nt; t++)
                strides[t][n] = strides[t][d];
            n++;
        }
    }
    if (n == 0) {
        shape[0] = 1;
        for (int t = 0; t < nt; t++)
            strides[t][0] = 0;
        n = 1;
    }
    return n;
}

inline seer_cu_dims seer_cu_make_dims(int ndim, const int64_t *shape, const int64_t *stride) {
    seer_cu_dims d;
    memset(&d, 0, sizeof d);
    d.ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        d.shape[i] = shape[i];
        d.stride[i] = stride[i];
    }
    return d;
}

// ---- shared library handles and scratch memory (one GPU: the current device) ---------------

inline seer_status seer_cu_cublas(cublasHandle_t *out) {
    static std::mutex mu;
    static cublasHandle_t h = nullptr;
    std::lock_guard<std::mutex> lock(mu);
    if (!h) {
        cublasHandle_t nh = nullptr;
        SEER_TRY(SEER_CU(cublasCreate(&nh)));
        // Default math: F16/BF16 use tensor cores with F32 accumulation; F32 stays IEEE
        // unless the compute type asks for TF32 (SEER_TF32=1).
        seer_status st = SEER_CU(cublasSetMathMode(nh, CUBLAS_DEFAULT_MATH));
        if (st == SEER_STATUS_OK) st = SEER_CU(cublasSetStream(nh, seer_cu_stream()));
        if (st != SEER_STATUS_OK) {
            cublasDestroy(nh);
            return st;
        }
        h = nh;
    }
    *out = h;
    return SEER_STATUS_OK;
}

#ifdef SEER_CUDNN
inline seer_status seer_cu_cudnn(cudnnHandle_t *out) {
    static std::mutex mu;
    static cudnnHandle_t h = nullptr;
    std::lock_guard<std::mutex> lock(mu);
    if (!h) {
        cudnnHandle_t nh = nullptr;
        SEER_TRY(SEER_CU(cudnnCreate(&nh)));
        seer_status st = SEER_CU(cudnnSetStream(nh, seer_cu_stream()));
        if (st != SEER_STATUS_OK) {
            cudnnDestroy(nh);
            return st;
        }
        h = nh;
    }
    *out = h;
    return SEER_STATUS_OK;
}
#endif

// A device buffer of at least `bytes`, kept between calls and grown on demand. Its users
// run on the one stream, so a later user cannot overwrite it while an earlier kernel reads
// it; growing it frees the old buffer with cudaFree, which waits for the device. Hold
// seer_cu_scratch_mutex() while choosing and launching work that uses it.
inline std::mutex &seer_cu_scratch_mutex(void) {
    static std::mutex mu;
    return mu;
}

inline seer_status seer_cu_scratch(size_t bytes, void **out) {
    static void *buf = nullptr;
    static size_t cap = 0;
    if (bytes > cap) {
        if (buf) (void)SEER_CU(cudaFree(buf));
        buf = nullptr;
        cap = 0;
        size_t want = bytes < ((size_t)1 << 20) ? ((size_t)1 << 20) : bytes;
        SEER_TRY(SEER_CU(cudaMalloc(&buf, want)));
        cap = want;
    }
    *out = buf;
    return SEER_STATUS_OK;
}

// A fixed table of N cached plans (cuDNN convolutions, cuBLASLt matmuls), built on first use
// and evicted round-robin when full. Callers hold the scratch mutex.
template <typename Plan, int N> struct seer_cu_plan_cache {
    Plan plans[N];
    int n = 0, next_evict = 0;
    // The first cached plan for which same(plan) holds, or NULL.
    template <typename Same> Plan *find(Same same) {
        for (int i = 0; i < n; i++)
            if (same(plans[i])) return &plans[i];
        return nullptr;
    }
    // A zeroed slot for a new plan; a full table releases (release(plan)) its oldest first.
    template <typename Release> Plan *take(Release release) {
        Plan *p;
        if (n < N) {
            p = &plans[n++];
        } else {
            p = &plans[next_evict];
            next_evict = (next_evict + 1) % N;
            release(p);
        }
        memset((void *)p, 0, sizeof *p);
        return p;
    }
};

// ---- helpers shared between families (defined in matmul.cu) --------------------------------

// out[rows, n] = alpha * a[rows, k] op(b) + res + bias (b: [n, k] if trans_b, else [k, n]; bias:
// F32 [n] or NULL; res: [rows, n] of dt, or NULL; not both NULL) with the sums in cuBLASLt's GEMM
// epilogue (defined in linear_lt.cu). *done is false when this path does not take the call
// (switched off, refused shape or alignment): run the plain one.
seer_status seer_cu_linear_lt(seer_dtype dt, bool trans_b, int64_t rows, int64_t n, int64_t k,
                              float alpha, const void *a, const void *b, void *out,
                              const float *bias, const void *res, bool *done);

// Row-major batched GEMM on the stream: for each batch i,
//   C_i[M, N] = alpha * op(A_i) @ op(B_i) + beta * C_i
// with op(A) = A ([M, K], row stride lda) or A^T (A stored [K, M], row stride lda); same for
// B ([K, N] or [N, K]). Batch strides in elements (0 = shared). dt: F32/F16/BF16 for A, B
// and C; F32 compute (TF32 only under SEER_TF32=1).
seer_status seer_cu_gemm(seer_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                         float alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                         int64_t ldb, int64_t stride_b, float beta, void *c, int64_t ldc,
                         int64_t stride_c, int64_t batch);

// y[r, j] += bias[j] for a contiguous [rows, n] tensor of dtype dt (F32 bias).
seer_status seer_cu_add_bias(void *y, seer_dtype dt, int64_t rows, int64_t n, const float *bias);

// A stride-1 depthwise convolution (NHWC x [B, H, W, C], weight [C, kh, kw, 1], y [B, Ho, Wo,
// C], padding ph, pw, dilation dil on both axes), then + res (y's layout, or NULL) and ReLU.
struct seer_cu_dw_args {
    int64_t B, H, W, C, Ho, Wo;
    int kh, kw, dil, ph, pw;
    bool relu;
};
// The 16-byte channel-vector kernel (depthwise_vec.cu) for 3x3, 5x5 and 7x7 dilation 3 when
// on (SEER_CUDA_NEW, SEER_NEW_DW), C is a whole number of vectors and the pointers are 16-byte
// aligned; UNSUPPORTED otherwise (the caller runs its other kernels).
seer_status seer_cu_depthwise_vec(seer_dtype dt, void *y, const void *x, const void *w,
                                  const float *bias, const void *res, const seer_cu_dw_args &a);

#endif
