// CUDA backend: batched matrix products through cuBLAS, bias epilogue.
//
// cuBLAS is column-major. A row-major [r, c] matrix with row stride ld is, to cuBLAS, the
// column-major [c, r] matrix with the same ld, i.e. its transpose. So the row-major
// C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T: swap the operands,
// keep each one's transpose flag and leading dimension.
#include "core/cuda/index32.cuh"

static cudaDataType_t cublas_type(seer_dtype dt) {
    return dt == SEER_F16 ? CUDA_R_16F : dt == SEER_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

seer_status seer_cu_gemm(seer_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                         float alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                         int64_t ldb, int64_t stride_b, float beta, void *c, int64_t ldc,
                         int64_t stride_c, int64_t batch) {
    if (!seer_dtype_is_float(dt))
        return seer_fail(SEER_STATUS_UNSUPPORTED, "gemm (cuda): dtype %s", seer_dtype_name(dt));
    if (!seer_cu_fits_int(m) || !seer_cu_fits_int(n) || !seer_cu_fits_int(k) ||
        !seer_cu_fits_int(lda) || !seer_cu_fits_int(ldb) || !seer_cu_fits_int(ldc))
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "gemm (cuda): sizes m=%lld n=%lld k=%lld exceed 32-bit cuBLAS limits",
                         (long long)m, (long long)n, (long long)k);
    if (m == 0 || n == 0 || batch == 0) return SEER_STATUS_OK;
    cublasHandle_t h;
    SEER_TRY(seer_cu_cublas(&h));
    cudaDataType_t ty = cublas_type(dt);
    cublasComputeType_t compute =
        dt == SEER_F32 && seer_cu_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    size_t es = seer_dtype_size(dt);
    // Batches in chunks that fit cuBLAS's int count (and older grid-size limits).
    const int64_t chunk = 65535;
    for (int64_t b0 = 0; b0 < batch; b0 += chunk) {
        int64_t nb = batch - b0 < chunk ? batch - b0 : chunk;
        const char *pa = (const char *)a + (size_t)(b0 * stride_a) * es;
        const char *pb = (const char *)b + (size_t)(b0 * stride_b) * es;
        char *pc = (char *)c + (size_t)(b0 * stride_c) * es;
        SEER_TRY(SEER_CU(cublasGemmStridedBatchedEx(
            h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, (int)n,
            (int)m, (int)k, &alpha, pb, ty, (int)ldb, (long long)stride_b, pa, ty, (int)lda,
            (long long)stride_a, &beta, pc, ty, (int)ldc, (long long)stride_c, (int)nb, compute,
            CUBLAS_GEMM_DEFAULT)));
    }
    return SEER_STATUS_OK;
}

// y += bias (per column) + r (y's layout, or NULL), then GELU when GELU: in F32, rounded once.
template <typename T, bool GELU>
__device__ __forceinline__ T bias_out(T y, float bias, const T *r) {
    float v = seer_cu_f(y) + bias;
    if (r) v += seer_cu_f(*r);
    return seer_cu_store<T>(GELU ? seer_cu_gelu(v) : v);
}

template <typename T, bool GELU>
__global__ void add_bias_kernel(T *y, const float *bias, const T *r, int64_t rows, int64_t n) {
    SEER_CU_FOR(i, rows * n)
        y[i] = bias_out<T, GELU>(y[i], bias ? bias[i % n] : 0.0f, r ? r + i : nullptr);
}

// The same, SEER_CU_VEC elements per thread in one load and store, 32-bit index math (the
// column by a multiply-high): n a multiple of SEER_CU_VEC, y aligned to a pack, fewer than 2^31
// packs. cols: a divider by n / SEER_CU_VEC.
template <typename T, bool GELU>
__global__ void add_bias_vec_kernel(T *y, const float *bias, const T *r, uint32_t packs,
                                    seer_cu_divider cols) {
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < packs; i += blockDim.x * gridDim.x) {
        const uint32_t c = (i - cols.div(i) * cols.d) * SEER_CU_VEC;
        seer_cu_vec<T> p = ((seer_cu_vec<T> *)y)[i], q;
        if (r) q = ((const seer_cu_vec<T> *)r)[i];
#pragma unroll
        for (int j = 0; j < SEER_CU_VEC; j++)
            p.v[j] = bias_out<T, GELU>(p.v[j], bias ? bias[c + j] : 0.0f, r ? &q.v[j] : nullptr);
        ((seer_cu_vec<T> *)y)[i] = p;
    }
}

// y[rows, n] += bias + r (r: y's layout, or NULL), then GELU: the vector kernel where it applies
// (SEER_BIAS_VEC=0 keeps the scalar one, to time them).
template <typename T, bool GELU>
static seer_status launch_bias(T *y, const float *bias, const T *r, int64_t rows, int64_t n) {
    const int64_t packs = rows * n / SEER_CU_VEC;
    static const bool vec = seer_cu_switch_on("SEER_BIAS_VEC");
    if (vec && n % SEER_CU_VEC == 0 && packs < ((int64_t)1 << 31) &&
        seer_cu_vec_elems<T>(rows * n, {y, r}) == rows * n)
        add_bias_vec_kernel<T, GELU><<<seer_cu_blocks(packs), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            y, bias, r, (uint32_t)packs, seer_cu_make_divider((uint32_t)(n / SEER_CU_VEC)));
    else
        add_bias_kernel<T, GELU><<<seer_cu_blocks(rows * n), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            y, bias, r, rows, n);
    return SEER_CU(seer_cu_launched());
}

// y[rows, n] += bias + r (r: y's layout, or NULL), then GELU when gelu.
static seer_status bias_act(void *y, seer_dtype dt, int64_t rows, int64_t n, const float *bias,
                            bool gelu, const void *r = nullptr) {
    if ((!bias && !gelu && !r) || rows * n == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(dt, "bias", [&](auto tag) {
        using T = typename decltype(tag)::type;
        return gelu ? launch_bias<T, true>((T *)y, bias, (const T *)r, rows, n)
                    : launch_bias<T, false>((T *)y, bias, (const T *)r, rows, n);
    });
}

seer_status seer_cu_add_bias(void *y, seer_dtype dt, int64_t rows, int64_t n, const float *bias) {
    return bias_act(y, dt, rows, n, bias, false);
}

// A 2-D or 3-D operand as (batch, rows, cols).
static bool as_batched(const seer_tensor *t, int64_t *batch, int64_t *r, int64_t *c) {
    if (t->ndim == 3) {
        *batch = t->shape[0];
        *r = t->shape[1];
        *c = t->shape[2];
        return true;
    }
    if (t->ndim == 2) {
        *batch = 1;
        *r = t->shape[0];
        *c = t->shape[1];
        return true;
    }
    return false;
}

seer_status seer_cuda_matmul(seer_tensor *out, const seer_tensor *a, const seer_tensor *b,
                             bool trans_a, bool trans_b, float alpha, const seer_tensor *bias) {
    char ba[128], bb[128], bo[128];
    int64_t B, M, N, Ba, ar, ac, Bb, br, bc;
    if (!as_batched(out, &B, &M, &N) || !as_batched(a, &Ba, &ar, &ac) ||
        !as_batched(b, &Bb, &br, &bc))
        return seer_fail(SEER_STATUS_SHAPE, "matmul (cuda): expected 3-d a, b, out; got %s, %s, %s",
                         seer_tensor_shape_str(a, ba, sizeof ba),
                         seer_tensor_shape_str(b, bb, sizeof bb),
                         seer_tensor_shape_str(out, bo, sizeof bo));
    int64_t am = trans_a ? ac : ar, K = trans_a ? ar : ac;
    int64_t bk = trans_b ? bc : br, bn = trans_b ? br : bc;
    if (am != M || bk != K || bn != N || (Ba != 1 && Ba != B) || (Bb != 1 && Bb != B))
        return seer_fail(SEER_STATUS_SHAPE, "matmul (cuda): a %s%s, b %s%s do not give out %s",
                         seer_tensor_shape_str(a, ba, sizeof ba), trans_a ? " (transposed)" : "",
                         seer_tensor_shape_str(b, bb, sizeof bb), trans_b ? " (transposed)" : "",
                         seer_tensor_shape_str(out, bo, sizeof bo));
    SEER_TRY(seer_cu_need_dtype("matmul", "a", a, out->dtype));
    SEER_TRY(seer_cu_need_dtype("matmul", "b", b, out->dtype));
    SEER_TRY(seer_cu_need_contig("matmul", "a", a));
    SEER_TRY(seer_cu_need_contig("matmul", "b", b));
    SEER_TRY(seer_cu_need_contig("matmul", "out", out));
    SEER_TRY(seer_cu_need_param("matmul", "bias", bias, N));
    if (B == 0 || M == 0 || N == 0) return SEER_STATUS_OK;

    if (K == 0) {
        // Empty sum: alpha * 0 + bias.
        SEER_TRY(SEER_CU(cudaMemset(out->data, 0, seer_tensor_nbytes(out))));
    } else if (Bb == 1 && Ba == B && !trans_a) {
        // Shared weight: the batch folds into the rows, one large GEMM [B*M, K] x [K, N]; with a
        // bias (a Linear), cuBLASLt adds it in the GEMM's epilogue where it can (linear_lt.cu).
        bool done = false;
        if (bias)
            SEER_TRY(seer_cu_linear_lt(out->dtype, trans_b, B * M, N, K, alpha, a->data, b->data,
                                       out->data, (const float *)bias->data, nullptr, &done));
        if (done) return SEER_STATUS_OK;
        SEER_TRY(seer_cu_gemm(out->dtype, false, trans_b, B * M, N, K, alpha, a->data, K, 0,
                              b->data, trans_b ? K : N, 0, 0.0f, out->data, N, 0, 1));
    } else {
        SEER_TRY(seer_cu_gemm(out->dtype, trans_a, trans_b, M, N, K, alpha, a->data,
                              trans_a ? M : K, Ba == 1 ? 0 : M * K, b->data, trans_b ? K : N,
                              Bb == 1 ? 0 : K * N, 0.0f, out->data, N, M * N, B));
    }
    return seer_cu_add_bias(out->data, out->dtype, B * M, N,
                            bias ? (const float *)bias->data : NULL);
}

// y[rows, N] = x[rows, K] w^T + b + r (seer_linear_add). With SEER_CUDA_FUSED=1: one GEMM with
// both sums in its epilogue where cuBLASLt takes it, else r copied into y, a GEMM accumulating
// onto it (beta = 1), then the bias kernel. Otherwise the GEMM, then one pass adding the bias and
// r in F32 (unless SEER_CUDA_NEW=0 or SEER_NEW_LINEAR_ADD=0: linear's kernels, then add's).
seer_status seer_cuda_linear_add(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                 const seer_tensor *b, const seer_tensor *r) {
    char bx[128], bw[128], by[128];
    if (x->ndim != 2 || w->ndim != 2 || y->ndim != 2 || !seer_tensor_same_shape(r, y) ||
        w->shape[1] != x->shape[1] || y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0])
        return seer_fail(SEER_STATUS_SHAPE, "linear_add (cuda): x %s, w %s, y %s do not fit",
                         seer_tensor_shape_str(x, bx, sizeof bx),
                         seer_tensor_shape_str(w, bw, sizeof bw),
                         seer_tensor_shape_str(y, by, sizeof by));
    SEER_TRY(seer_cu_need_dtype("linear_add", "w", w, x->dtype));
    SEER_TRY(seer_cu_need_dtype("linear_add", "y", y, x->dtype));
    SEER_TRY(seer_cu_need_dtype("linear_add", "residual", r, x->dtype));
    SEER_TRY(seer_cu_need_contig("linear_add", "x", x));
    SEER_TRY(seer_cu_need_contig("linear_add", "w", w));
    SEER_TRY(seer_cu_need_contig("linear_add", "y", y));
    SEER_TRY(seer_cu_need_contig("linear_add", "residual", r));
    const int64_t rows = x->shape[0], K = x->shape[1], N = w->shape[0];
    SEER_TRY(seer_cu_need_param("linear_add", "bias", b, N));
    if (rows == 0 || N == 0) return SEER_STATUS_OK;
    const float *bias = b ? (const float *)b->data : nullptr;
    bool done = false;
    if (K > 0)
        SEER_TRY(seer_cu_linear_lt(x->dtype, true, rows, N, K, 1.0f, x->data, w->data, y->data,
                                   bias, r->data, &done));
    if (done) return SEER_STATUS_OK;
    if (!seer_cu_fused_on()) { // the GEMM, then bias and residual in one pass (or linear's
        if (K > 0)          // kernels, then add's, with SEER_CUDA_NEW=0)
            SEER_TRY(seer_cu_gemm(x->dtype, false, true, rows, N, K, 1.0f, x->data, K, 0, w->data,
                                  K, 0, 0.0f, y->data, N, 0, 1));
        else
            SEER_TRY(SEER_CU(cudaMemset(y->data, 0, seer_tensor_nbytes(y))));
        static const bool one_pass = seer_cu_new_part("SEER_NEW_LINEAR_ADD");
        if (one_pass && y->data != r->data)
            return bias_act(y->data, y->dtype, rows, N, bias, false, r->data);
        SEER_TRY(seer_cu_add_bias(y->data, y->dtype, rows, N, bias));
        return seer_cuda_binary(y, r, y, SEER_BINARY_ADD);
    }
    if (y->data != r->data)
        SEER_TRY(SEER_CU(cudaMemcpyAsync(y->data, r->data, seer_tensor_nbytes(y),
                                         cudaMemcpyDeviceToDevice, seer_cu_stream())));
    if (K > 0)
        SEER_TRY(seer_cu_gemm(x->dtype, false, true, rows, N, K, 1.0f, x->data, K, 0, w->data, K,
                              0, 1.0f, y->data, N, 0, 1));
    return seer_cu_add_bias(y->data, y->dtype, rows, N, bias);
}

// y[rows, N] = GELU(x[rows, K] w^T + b) (seer_linear_gelu): the GEMM, then the bias and the GELU
// in one pass (with SEER_CUDA_NEW=0 or SEER_NEW_LINEAR_GELU=0: linear's kernels, then the GELU
// kernel).
seer_status seer_cuda_linear_gelu(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                  const seer_tensor *b) {
    static const bool one_pass = seer_cu_new_part("SEER_NEW_LINEAR_GELU");
    if (!one_pass) {
        SEER_TRY(seer_cuda_matmul(y, x, w, false, true, 1.0f, b));
        return seer_cuda_unary(y, y, SEER_UNARY_GELU, 0.0f, 0.0f);
    }
    const int64_t rows = y->shape[0], N = y->shape[1];
    SEER_TRY(seer_cu_need_param("linear_gelu", "bias", b, N));
    SEER_TRY(seer_cuda_matmul(y, x, w, false, true, 1.0f, nullptr));
    return bias_act(y->data, y->dtype, rows, N, b ? (const float *)b->data : nullptr, true);
}
