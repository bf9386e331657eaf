// CUDA backend: a Linear's GEMM with its bias (and a residual) added in cuBLASLt's epilogue.
//
// The plain path (matmul.cu) runs the GEMM and then a separate kernel that reads and writes the
// whole output again to add the bias: for a transformer block that is a fifth of the bytes it
// moves. Here the bias is added as the GEMM writes its tile (CUBLASLT_EPILOGUE_BIAS), as
// PyTorch's addmm does, for F32. cuBLASLt takes a bias of the output's type only: for BF16/F16
// the bias would be rounded first, which costs accuracy where the bias outweighs the product
// (folded batch norms: the VAN fixture's BF16 error went from 1.0e-2 to 1.95e-2 on the H200),
// so there a Linear without a residual takes the plain path, and with one the F32 bias is
// added by the bias kernel after the GEMM. seer_linear_add's residual r comes in as cuBLASLt's
// C with beta = 1 (D = alpha A B + C + bias): the block's residual sum without a pass of its
// own. Any shape or alignment that cuBLASLt turns down falls back to the plain path.
// Only with SEER_CUDA_FUSED=1 (seer_cu_fused_on); scripts/gpu-switches.sh times the two.
//
// Row-major out[rows, n] = alpha * a[rows, k] op(b) + r + bias is, column-major, the matrix
// D[n, rows] = alpha * op(b)^T a^T + C + bias, with the bias along D's rows: cuBLASLt's
// convention.
#include "core/cuda/cuda_common.cuh"

#define LT_PLANS 128
#define LT_WS_BYTES ((size_t)32 << 20)
// Outputs below this many elements take the plain path: there the separate passes cost little
// and the plan lookup would be most of the saving (batch-1 latency).
#define LT_MIN_OUTPUTS ((int64_t)1 << 20)

struct lt_key {
    seer_dtype dt;
    bool trans_b, tf32, has_bias, has_res;
    int64_t rows, n, k;
    int align_a, align_b, align_c, align_d, align_bias;
};

struct lt_plan {
    lt_key key;
    bool usable; // false: cuBLASLt found no algorithm for it (the plain path runs)
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t ad, bd, dd; // C has D's layout
    cublasLtMatmulAlgo_t algo;
    size_t ws_bytes;
};

static seer_cu_plan_cache<lt_plan, LT_PLANS> lt_plans;

static bool same_key(const lt_key &x, const lt_key &y) {
    return x.dt == y.dt && x.trans_b == y.trans_b && x.tf32 == y.tf32 &&
           x.has_bias == y.has_bias && x.has_res == y.has_res && x.rows == y.rows && x.n == y.n &&
           x.k == y.k && x.align_a == y.align_a && x.align_b == y.align_b &&
           x.align_c == y.align_c && x.align_d == y.align_d && x.align_bias == y.align_bias;
}

// The largest power of two up to 256 that divides the address.
static int alignment(const void *p) {
    uintptr_t a = (uintptr_t)p;
    int al = 1;
    while (al < 256 && !(a & (uintptr_t)al))
        al <<= 1;
    return al;
}

static void lt_release(lt_plan *p) {
    if (p->op) cublasLtMatmulDescDestroy(p->op);
    if (p->ad) cublasLtMatrixLayoutDestroy(p->ad);
    if (p->bd) cublasLtMatrixLayoutDestroy(p->bd);
    if (p->dd) cublasLtMatrixLayoutDestroy(p->dd);
    memset(p, 0, sizeof *p);
}

static seer_status lt_handle(cublasLtHandle_t *out) {
    static std::mutex mu;
    static cublasLtHandle_t h = nullptr;
    std::lock_guard<std::mutex> lock(mu);
    if (!h) SEER_TRY(SEER_CU(cublasLtCreate(&h)));
    *out = h;
    return SEER_STATUS_OK;
}

static cudaDataType_t lt_type(seer_dtype dt) {
    return dt == SEER_F16 ? CUDA_R_16F : dt == SEER_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

// Descriptors and the heuristics' first algorithm for the key; `bias` is the pointer the
// heuristics see (they read its alignment only).
static seer_status lt_build(cublasLtHandle_t h, lt_plan *p, const void *bias) {
    const lt_key &s = p->key;
    cudaDataType_t ty = lt_type(s.dt);
    cublasComputeType_t compute = s.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    SEER_TRY(SEER_CU(cublasLtMatmulDescCreate(&p->op, compute, CUDA_R_32F)));
    cublasOperation_t ta = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = s.has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    SEER_TRY(SEER_CU(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta)));
    SEER_TRY(SEER_CU(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb)));
    SEER_TRY(SEER_CU(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi)));
    if (s.has_bias)
        SEER_TRY(SEER_CU(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                        &bias, sizeof bias)));
    // A = b: [n, k] row-major (trans_b) is column-major [k, n]; [k, n] row-major is [n, k].
    if (s.trans_b)
        SEER_TRY(SEER_CU(cublasLtMatrixLayoutCreate(&p->ad, ty, s.k, s.n, s.k)));
    else
        SEER_TRY(SEER_CU(cublasLtMatrixLayoutCreate(&p->ad, ty, s.n, s.k, s.n)));
    SEER_TRY(SEER_CU(cublasLtMatrixLayoutCreate(&p->bd, ty, s.k, s.rows, s.k))); // B = a
    SEER_TRY(SEER_CU(cublasLtMatrixLayoutCreate(&p->dd, ty, s.n, s.rows, s.n))); // C = D = out

    cublasLtMatmulPreference_t pref = nullptr;
    SEER_TRY(SEER_CU(cublasLtMatmulPreferenceCreate(&pref)));
    size_t ws = LT_WS_BYTES;
    seer_status st = SEER_CU(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    // The operands' alignments (cuBLASLt's A is our b, its B our a).
    const cublasLtMatmulPreferenceAttributes_t which[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    const uint32_t al[4] = {(uint32_t)s.align_b, (uint32_t)s.align_a, (uint32_t)s.align_c,
                            (uint32_t)s.align_d};
    for (int i = 0; i < 4 && st == SEER_STATUS_OK; i++)
        st = SEER_CU(cublasLtMatmulPreferenceSetAttribute(pref, which[i], &al[i], sizeof al[i]));
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    if (st == SEER_STATUS_OK) {
        cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(h, p->op, p->ad, p->bd, p->dd, p->dd,
                                                           pref, 1, &res, &found);
        if (hs != CUBLAS_STATUS_SUCCESS) found = 0; // e.g. NOT_SUPPORTED: the plain path
    }
    cublasLtMatmulPreferenceDestroy(pref);
    SEER_TRY(st);
    p->usable = found > 0;
    if (p->usable) {
        p->algo = res.algo;
        p->ws_bytes = res.workspaceSize;
    } else {
        seer_log(SEER_LOG_DEBUG, "linear: no cuBLASLt epilogue for [%lld x %lld] x %lld %s",
                 (long long)s.rows, (long long)s.k, (long long)s.n, seer_dtype_name(s.dt));
    }
    return SEER_STATUS_OK;
}

// The cached plan for the key (built on first use). Caller holds the scratch mutex.
static seer_status lt_plan_get(cublasLtHandle_t h, const lt_key &key, const void *bias,
                               lt_plan **out) {
    *out = lt_plans.find([&](const lt_plan &p) { return same_key(p.key, key); });
    if (*out) return SEER_STATUS_OK;
    lt_plan *p = lt_plans.take(lt_release);
    p->key = key;
    seer_status st = lt_build(h, p, bias);
    if (st != SEER_STATUS_OK) {
        lt_release(p); // not cached: a hard failure is reported again next time
        p->key.dt = SEER_DTYPE_COUNT;
        return st;
    }
    *out = p;
    return SEER_STATUS_OK;
}

seer_status seer_cu_linear_lt(seer_dtype dt, bool trans_b, int64_t rows, int64_t n, int64_t k,
                              float alpha, const void *a, const void *b, void *out,
                              const float *bias, const void *res, bool *done) {
    *done = false;
    // BF16/F16: the bias is left to the bias kernel (F32 bias, see the top of the file).
    const float *lt_bias = dt == SEER_F32 ? bias : nullptr;
    if (!seer_cu_fused_on() || (!lt_bias && !res) || !seer_dtype_is_float(dt) || rows <= 0 ||
        n <= 0 || k <= 0 || rows * n < LT_MIN_OUTPUTS || !seer_cu_fits_int(rows) ||
        !seer_cu_fits_int(n) || !seer_cu_fits_int(k))
        return SEER_STATUS_OK;
    cublasLtHandle_t h;
    SEER_TRY(lt_handle(&h));
    std::lock_guard<std::mutex> lock(seer_cu_scratch_mutex());
    void *scratch = nullptr; // the workspace
    SEER_TRY(seer_cu_scratch(LT_WS_BYTES, &scratch));
    lt_key key;
    memset(&key, 0, sizeof key);
    const void *c = res ? res : out;
    key.dt = dt, key.trans_b = trans_b, key.tf32 = dt == SEER_F32 && seer_cu_tf32();
    key.has_bias = lt_bias != nullptr, key.has_res = res != nullptr;
    key.rows = rows, key.n = n, key.k = k;
    key.align_a = alignment(a), key.align_b = alignment(b), key.align_c = alignment(c);
    key.align_d = alignment(out), key.align_bias = lt_bias ? alignment(lt_bias) : 0;
    lt_plan *p;
    SEER_TRY(lt_plan_get(h, key, lt_bias, &p));
    if (!p->usable) return SEER_STATUS_OK;
    if (lt_bias)
        SEER_TRY(SEER_CU(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                        &lt_bias, sizeof lt_bias)));
    const float beta = res ? 1.0f : 0.0f;
    cublasStatus_t s = cublasLtMatmul(h, p->op, &alpha, b, p->ad, a, p->bd, &beta, c, p->dd, out,
                                      p->dd, &p->algo, scratch, p->ws_bytes, seer_cu_stream());
    if (s == CUBLAS_STATUS_NOT_SUPPORTED) { // the plain path will run
        p->usable = false;
        return SEER_STATUS_OK;
    }
    SEER_TRY(SEER_CU(s));
    if (bias && !lt_bias) SEER_TRY(seer_cu_add_bias(out, dt, rows, n, bias));
    *done = true;
    return SEER_STATUS_OK;
}
