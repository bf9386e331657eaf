// CUDA backend: NHWC 2-D convolution.
//
// Three paths, tried in order:
// - depthwise (groups == C_in == C_out): our direct kernels (a register-blocked one for the
//   stride-1 3x3, 5x5 and dilated 7x7 the models use); cuDNN is slow on the large dilated
//   depthwise kernels (VAN: 5x5, and 7x7 with dilation 3). SEER_DW_KERNEL=0 sends them to
//   cuDNN instead, for scripts/gpu-switches.sh to time the two.
// - cuDNN (when built with it): NHWC tensors, OHWI filter (cuDNN's NHWC filter layout), the
//   algorithm picked once per shape and cached. Convolutions of at least 2^28 multiply-adds
//   (batch work) time the candidates on their first call (cudnnFindConvolutionForwardAlgorithmEx,
//   as PyTorch's cudnn.benchmark), which pays back its cost within a few batches; smaller ones,
//   and all when seer_timed_conv_algorithms() is off (core/tensor.h), take the first choice of
//   cudnnGetConvolutionForwardAlgorithm_v7's heuristics (instant, and independent of timing
//   noise). Workspace from the shared scratch buffer. F32 is held to FMA math (no TF32) and to the
//   exact algorithms, so results stay within 1e-5 of the CPU unless SEER_TF32=1.
// - otherwise, or when cuDNN refuses the shape: im2col into scratch, then one GEMM per group
//   and row chunk (a 1x1 stride-1 convolution is a GEMM on x itself).
// Bias is added by a small epilogue kernel.
#include "core/cuda/index32.cuh"

// Scratch budget of one im2col chunk, and the most workspace a cuDNN algorithm may take.
#define CONV_COL_BYTES ((size_t)256 << 20)
#define CONV_WS_BYTES ((size_t)1 << 30)
// Workspace offered to the algorithms while cudnnFind times them.
#define CONV_FIND_WS_BYTES ((size_t)256 << 20)
#define CONV_FIND_MIN_MACS ((int64_t)1 << 28)

struct conv_shape {
    int64_t B, H, W, C, O, kh, kw, Ho, Wo;
    int sh, sw, ph, pw, dh, dw, groups;
};

// ---- depthwise -----------------------------------------------------------------------------

// Epilogue of the depthwise kernels (seer_conv2d_fused): + residual (y's layout, or NULL), then
// ReLU if relu; in F32 before the one rounding to T.
template <typename T>
__device__ __forceinline__ T dw_epilogue(float acc, const T *res, int64_t i, bool relu) {
    if (res) acc += seer_cu_f(res[i]);
    if (relu) acc = acc < 0.0f ? 0.0f : acc; // NaN stays NaN, as the CPU's
    return seer_cu_store<T>(acc);
}

// y[b, oy, ox, c] = sum_{i, j} x[b, oy*sh - ph + i*dh, ox*sw - pw + j*dw, c] * w[c, i, j]
// x: [B, H, W, C], w: [C, kh, kw, 1], y: [B, Ho, Wo, C]; one thread per output, c fastest so
// neighbouring threads read neighbouring channels.
template <typename T>
__global__ void depthwise_kernel(T *y, const T *x, const T *w, const float *bias, conv_shape s,
                                 const T *res, bool relu) {
    int64_t total = s.B * s.Ho * s.Wo * s.C;
    SEER_CU_FOR(i, total) {
        int64_t c = i % s.C, t = i / s.C;
        int64_t ox = t % s.Wo;
        t /= s.Wo;
        int64_t oy = t % s.Ho, b = t / s.Ho;
        const T *xb = x + b * s.H * s.W * s.C + c;
        const T *wc = w + c * s.kh * s.kw;
        float acc = 0.0f;
        for (int64_t ki = 0; ki < s.kh; ki++) {
            int64_t iy = oy * s.sh - s.ph + ki * s.dh;
            if (iy < 0 || iy >= s.H) continue;
            for (int64_t kj = 0; kj < s.kw; kj++) {
                int64_t ix = ox * s.sw - s.pw + kj * s.dw;
                if (ix < 0 || ix >= s.W) continue;
                acc += seer_cu_f(xb[(iy * s.W + ix) * s.C]) * seer_cu_f(wc[ki * s.kw + kj]);
            }
        }
        if (bias) acc += bias[c];
        y[i] = dw_epilogue(acc, res, i, relu);
    }
}

// The stride-1 shapes the models use (3x3; VAN's 5x5 and 7x7 with dilation 3; BiFormer's
// 5x5 LePE), one thread per channel and strip of TX outputs of one row: the KH*KW weights stay
// in registers, and each kernel row's inputs for the whole strip, TX + (KW - 1) * DIL values,
// are read once and used KW times (the generic kernel above reads once per multiply-add).
template <typename T, int KH, int KW, int DIL, int TX>
__global__ void depthwise_strip_kernel(T *y, const T *x, const T *w, const float *bias,
                                       conv_shape s, const T *res, bool relu) {
    constexpr int XS = TX + (KW - 1) * DIL;
    const int64_t strips = (s.Wo + TX - 1) / TX;
    const int64_t total = s.B * s.Ho * strips * s.C;
    SEER_CU_FOR(i, total) {
        int64_t c = i % s.C, t = i / s.C;
        const int64_t ox0 = (t % strips) * TX;
        t /= strips;
        const int64_t oy = t % s.Ho, b = t / s.Ho;
        float wr[KH * KW];
#pragma unroll
        for (int k = 0; k < KH * KW; k++) wr[k] = seer_cu_f(w[c * KH * KW + k]);
        float acc[TX];
#pragma unroll
        for (int u = 0; u < TX; u++) acc[u] = 0.0f;
#pragma unroll
        for (int ki = 0; ki < KH; ki++) {
            const int64_t iy = oy - s.ph + ki * DIL;
            if (iy < 0 || iy >= s.H) continue;
            const T *row = x + ((b * s.H + iy) * s.W) * s.C + c;
            float xs[XS];
#pragma unroll
            for (int p = 0; p < XS; p++) {
                const int64_t ix = ox0 - s.pw + p;
                xs[p] = ix >= 0 && ix < s.W ? seer_cu_f(row[ix * s.C]) : 0.0f;
            }
#pragma unroll
            for (int kj = 0; kj < KW; kj++)
#pragma unroll
                for (int u = 0; u < TX; u++) acc[u] += xs[u + kj * DIL] * wr[ki * KW + kj];
        }
        const float bc = bias ? bias[c] : 0.0f;
        const int64_t y0 = ((b * s.Ho + oy) * s.Wo + ox0) * s.C + c;
#pragma unroll
        for (int u = 0; u < TX; u++)
            if (ox0 + u < s.Wo) y[y0 + u * s.C] = dw_epilogue(acc[u] + bc, res, y0 + u * s.C, relu);
    }
}

template <typename T, int KH, int KW, int DIL>
static seer_status launch_depthwise_strip(T *y, const T *x, const T *w, const float *bias,
                                          const conv_shape &s, const T *res, bool relu) {
    // Narrow maps (VAN's and BiFormer's last stages are 7 wide) take shorter strips.
    const bool wide = s.Wo >= 16;
    const int tx = wide ? 8 : 4;
    const int64_t total = s.B * s.Ho * ((s.Wo + tx - 1) / tx) * s.C;
    if (wide)
        depthwise_strip_kernel<T, KH, KW, DIL, 8>
            <<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(y, x, w, bias, s,
                                                                             res, relu);
    else
        depthwise_strip_kernel<T, KH, KW, DIL, 4>
            <<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(y, x, w, bias, s,
                                                                             res, relu);
    return SEER_CU(seer_cu_launched());
}

// Two neighbouring channels as floats, and back (c even, pointers aligned to the pair).
__device__ __forceinline__ float2 dw_load2(const float *p) {
    return *(const float2 *)p;
}
__device__ __forceinline__ float2 dw_load2(const __half *p) {
    return __half22float2(*(const __half2 *)p);
}
__device__ __forceinline__ float2 dw_load2(const __nv_bfloat16 *p) {
    return __bfloat1622float2(*(const __nv_bfloat162 *)p);
}
__device__ __forceinline__ void dw_store2(float *p, float a, float b) {
    *(float2 *)p = make_float2(a, b);
}
__device__ __forceinline__ void dw_store2(__half *p, float a, float b) {
    *(__half2 *)p = __floats2half2_rn(a, b);
}
__device__ __forceinline__ void dw_store2(__nv_bfloat16 *p, float a, float b) {
    *(__nv_bfloat162 *)p = __floats2bfloat162_rn(a, b);
}

// Sizes of the pair kernel in 32-bit: every element index of x, y and res below 2^31.
struct dw32_shape {
    uint32_t total; // B * Ho * strips * C / 2 threads' worth of work
    int H, W, C, Wo, ph, pw;
    seer_cu_divider pairs, strips, rows; // by C / 2, strips per row, Ho
};

// The strip kernel above on two neighbouring channels per thread: one 4- or 8-byte load per
// input pair instead of two 2- or 4-byte ones, and the thread's output coordinates from
// multiply-high divisions in 32 bits instead of six 64-bit divisions (those dominated the
// per-thread work of the small 3x3 and 5x5 convolutions).
template <typename T, int KH, int KW, int DIL, int TX>
__global__ void depthwise_pair_kernel(T *y, const T *x, const T *w, const float *bias,
                                      dw32_shape s, const T *res, bool relu) {
    constexpr int XS = TX + (KW - 1) * DIL, K = KH * KW;
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < s.total;
         i += blockDim.x * gridDim.x) {
        const uint32_t q = s.pairs.div(i), c = 2 * (i - q * s.pairs.d);
        const uint32_t r = s.strips.div(q), b = s.rows.div(r);
        const int ox0 = (int)(q - r * s.strips.d) * TX, oy = (int)(r - b * s.rows.d);
        float w0[K], w1[K];
#pragma unroll
        for (int k = 0; k < K; k++)
            w0[k] = seer_cu_f(w[c * K + k]), w1[k] = seer_cu_f(w[(c + 1) * K + k]);
        float a0[TX], a1[TX];
#pragma unroll
        for (int u = 0; u < TX; u++)
            a0[u] = 0.0f, a1[u] = 0.0f;
#pragma unroll
        for (int ki = 0; ki < KH; ki++) {
            const int iy = oy - s.ph + ki * DIL;
            if (iy < 0 || iy >= s.H) continue;
            const T *row = x + ((uint32_t)(b * s.H + iy) * (uint32_t)s.W) * s.C + c;
            float2 xs[XS];
#pragma unroll
            for (int p = 0; p < XS; p++) {
                const int ix = ox0 - s.pw + p;
                xs[p] = ix >= 0 && ix < s.W ? dw_load2(row + (uint32_t)ix * s.C) : make_float2(0.0f, 0.0f);
            }
#pragma unroll
            for (int kj = 0; kj < KW; kj++)
#pragma unroll
                for (int u = 0; u < TX; u++) {
                    a0[u] += xs[u + kj * DIL].x * w0[ki * KW + kj];
                    a1[u] += xs[u + kj * DIL].y * w1[ki * KW + kj];
                }
        }
        const float b0 = bias ? bias[c] : 0.0f, b1 = bias ? bias[c + 1] : 0.0f;
        const uint32_t y0 = ((r * (uint32_t)s.Wo) + ox0) * s.C + c; // r = b * Ho + oy
#pragma unroll
        for (int u = 0; u < TX; u++) {
            if (ox0 + u >= s.Wo) break;
            float v0 = a0[u] + b0, v1 = a1[u] + b1;
            if (res) {
                const float2 rv = dw_load2(res + y0 + u * s.C);
                v0 += rv.x, v1 += rv.y;
            }
            if (relu) v0 = v0 < 0.0f ? 0.0f : v0, v1 = v1 < 0.0f ? 0.0f : v1; // NaN stays NaN
            dw_store2(y + y0 + u * s.C, v0, v1);
        }
    }
}

// The pair kernel for a stride-1 KH x KW (dilation DIL) case when it applies (C even, pointers
// aligned to a pair, 32-bit sizes; SEER_DW_PAIR=0 turns it off); false: use the strip kernel.
template <typename T, int KH, int KW, int DIL>
static bool launch_depthwise_pair(seer_status *st, T *y, const T *x, const T *w,
                                  const float *bias, const conv_shape &s, const T *res, bool relu) {
    const uintptr_t al = 2 * sizeof(T);
    const int64_t lim = (int64_t)1 << 31;
    static const bool on = seer_cu_switch_on("SEER_DW_PAIR");
    if (!on || s.C % 2 || (uintptr_t)x % al || (uintptr_t)y % al ||
        (res && (uintptr_t)res % al) || s.B * s.H * s.W * s.C >= lim ||
        s.B * s.Ho * s.Wo * s.C >= lim)
        return false;
    const bool wide = s.Wo >= 16; // narrow maps (7 wide) take shorter strips
    const int tx = wide ? 8 : 4;
    const int64_t strips = (s.Wo + tx - 1) / tx, total = s.B * s.Ho * strips * (s.C / 2);
    dw32_shape d;
    d.total = (uint32_t)total;
    d.H = (int)s.H, d.W = (int)s.W, d.C = (int)s.C, d.Wo = (int)s.Wo, d.ph = s.ph, d.pw = s.pw;
    d.pairs = seer_cu_make_divider((uint32_t)(s.C / 2));
    d.strips = seer_cu_make_divider((uint32_t)strips);
    d.rows = seer_cu_make_divider((uint32_t)s.Ho);
    if (wide)
        depthwise_pair_kernel<T, KH, KW, DIL, 8>
            <<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(y, x, w, bias, d, res, relu);
    else
        depthwise_pair_kernel<T, KH, KW, DIL, 4>
            <<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(y, x, w, bias, d, res, relu);
    *st = SEER_CU(seer_cu_launched());
    return true;
}

template <typename T, int KH, int KW, int DIL>
static seer_status launch_depthwise_unit(T *y, const T *x, const T *w, const float *bias,
                                         const conv_shape &s, const T *res, bool relu) {
    seer_status st;
    if (launch_depthwise_pair<T, KH, KW, DIL>(&st, y, x, w, bias, s, res, relu)) return st;
    return launch_depthwise_strip<T, KH, KW, DIL>(y, x, w, bias, s, res, relu);
}

// res: y's shape and dtype, contiguous, or NULL.
static seer_status conv_depthwise(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                  const float *bias, const conv_shape &s,
                                  const seer_tensor *res = nullptr, bool relu = false) {
    int64_t total = s.B * s.Ho * s.Wo * s.C;
    const bool unit = s.sh == 1 && s.sw == 1 && s.dh == s.dw;
    return seer_cu_dispatch_float(x->dtype, "conv2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        T *yp = (T *)y->data;
        const T *xp = (const T *)x->data, *wp = (const T *)w->data;
        const T *rp = res ? (const T *)res->data : nullptr;
        if (unit && s.kh == 3 && s.kw == 3 && s.dh == 1)
            return launch_depthwise_unit<T, 3, 3, 1>(yp, xp, wp, bias, s, rp, relu);
        if (unit && s.kh == 5 && s.kw == 5 && s.dh == 1)
            return launch_depthwise_unit<T, 5, 5, 1>(yp, xp, wp, bias, s, rp, relu);
        if (unit && s.kh == 7 && s.kw == 7 && s.dh == 3)
            return launch_depthwise_unit<T, 7, 7, 3>(yp, xp, wp, bias, s, rp, relu);
        depthwise_kernel<T><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            yp, xp, wp, bias, s, rp, relu);
        return SEER_CU(seer_cu_launched());
    });
}

// ---- im2col + GEMM -------------------------------------------------------------------------

// col[r, (i*kw + j)*Cg + c] = x[b, oy*sh - ph + i*dh, ox*sw - pw + j*dw, g*Cg + c] (0 outside)
// for output rows r0 <= r < r0 + rows, r = (b*Ho + oy)*Wo + ox. col: [rows, kh*kw*Cg].
template <typename T>
__global__ void im2col_kernel(T *col, const T *x, conv_shape s, int64_t g, int64_t r0,
                              int64_t rows) {
    int64_t cg = s.C / s.groups, kc = s.kh * s.kw * cg;
    SEER_CU_FOR(i, rows * kc) {
        int64_t q = i % kc, r = r0 + i / kc;
        int64_t c = q % cg, kk = q / cg;
        int64_t kj = kk % s.kw, ki = kk / s.kw;
        int64_t ox = r % s.Wo, t = r / s.Wo;
        int64_t oy = t % s.Ho, b = t / s.Ho;
        int64_t iy = oy * s.sh - s.ph + ki * s.dh, ix = ox * s.sw - s.pw + kj * s.dw;
        float v = 0.0f;
        if (iy >= 0 && iy < s.H && ix >= 0 && ix < s.W)
            v = seer_cu_f(x[((b * s.H + iy) * s.W + ix) * s.C + g * cg + c]);
        col[i] = seer_cu_store<T>(v);
    }
}

static seer_status launch_im2col(void *col, const seer_tensor *x, const conv_shape &s, int64_t g,
                                 int64_t r0, int64_t rows) {
    int64_t n = rows * s.kh * s.kw * (s.C / s.groups);
    return seer_cu_dispatch_float(x->dtype, "conv2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        im2col_kernel<T><<<seer_cu_blocks(n), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)col, (const T *)x->data, s, g, r0, rows);
        return SEER_CU(seer_cu_launched());
    });
}

// y[rows, O] (group g: columns g*Og..) = col[rows, Kc] @ w_g^T, w_g: [Og, Kc] rows of w.
static seer_status conv_gemm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                             const conv_shape &s) {
    int64_t rows = s.B * s.Ho * s.Wo, cg = s.C / s.groups, og = s.O / s.groups;
    int64_t kc = s.kh * s.kw * cg;
    size_t es = seer_dtype_size(x->dtype);
    const char *wp = (const char *)w->data;
    char *yp = (char *)y->data;
    bool pointwise = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
    if (pointwise) {
        // x is already the column matrix: [B*H*W, C], group g at column offset g*Cg.
        for (int64_t g = 0; g < s.groups; g++)
            SEER_TRY(seer_cu_gemm(x->dtype, false, true, rows, og, kc, 1.0f,
                                  (const char *)x->data + (size_t)(g * cg) * es, s.C, 0,
                                  wp + (size_t)(g * og * kc) * es, kc, 0, 0.0f,
                                  yp + (size_t)(g * og) * es, s.O, 0, 1));
        return SEER_STATUS_OK;
    }
    int64_t chunk = (int64_t)(CONV_COL_BYTES / ((size_t)kc * es));
    if (chunk < 1) chunk = 1;
    if (chunk > rows) chunk = rows;
    std::lock_guard<std::mutex> lock(seer_cu_scratch_mutex());
    void *col = nullptr;
    SEER_TRY(seer_cu_scratch((size_t)(chunk * kc) * es, &col));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        int64_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        for (int64_t g = 0; g < s.groups; g++) {
            SEER_TRY(launch_im2col(col, x, s, g, r0, nr));
            SEER_TRY(seer_cu_gemm(x->dtype, false, true, nr, og, kc, 1.0f, col, kc, 0,
                                  wp + (size_t)(g * og * kc) * es, kc, 0, 0.0f,
                                  yp + (size_t)(r0 * s.O + g * og) * es, s.O, 0, 1));
        }
    }
    return SEER_STATUS_OK;
}

// ---- cuDNN ---------------------------------------------------------------------------------
#ifdef SEER_CUDNN

struct conv_plan {
    conv_shape shape;
    seer_dtype dtype;
    bool tf32;
    bool usable; // false: cuDNN refused this shape; use im2col
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws_bytes;
};

#define CONV_PLANS 128
static seer_cu_plan_cache<conv_plan, CONV_PLANS> conv_plans;

static void plan_release(conv_plan *p) {
    if (p->xd) cudnnDestroyTensorDescriptor(p->xd);
    if (p->yd) cudnnDestroyTensorDescriptor(p->yd);
    if (p->wd) cudnnDestroyFilterDescriptor(p->wd);
    if (p->cd) cudnnDestroyConvolutionDescriptor(p->cd);
    memset(p, 0, sizeof *p);
}

static cudnnDataType_t cudnn_type(seer_dtype dt) {
    return dt == SEER_F16    ? CUDNN_DATA_HALF
           : dt == SEER_BF16 ? CUDNN_DATA_BFLOAT16
                             : CUDNN_DATA_FLOAT;
}

// Algorithms whose F32 error stays at FMA level (FFT and non-fused Winograd transform the
// data and lose a few bits).
static bool exact_algo(cudnnConvolutionFwdAlgo_t a) {
    return a != CUDNN_CONVOLUTION_FWD_ALGO_FFT && a != CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING &&
           a != CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}

// Fills p's descriptors and picks the algorithm. A failing cuDNN call that is a refusal
// (not supported, bad parameters) leaves p->usable false with a debug log; OK is returned
// in both cases. Other failures are errors.
// The candidate algorithms, best first: timed on x, w, y (y is overwritten) for large
// convolutions when seer_timed_conv_algorithms(), else from the heuristics. Caller holds the scratch mutex (the
// timing uses the scratch).
static seer_status rank_algos(cudnnHandle_t h, conv_plan *p, const void *x, const void *w,
                              void *y, cudnnConvolutionFwdAlgoPerf_t *perf, int *found) {
    const conv_shape &s = p->shape;
    const int64_t macs = s.B * s.Ho * s.Wo * s.O * (s.C / s.groups) * s.kh * s.kw;
    if (seer_timed_conv_algorithms() && macs >= CONV_FIND_MIN_MACS) {
        void *ws = nullptr;
        if (seer_cu_scratch(CONV_FIND_WS_BYTES, &ws) == SEER_STATUS_OK)
            return SEER_CU(cudnnFindConvolutionForwardAlgorithmEx(
                h, p->xd, x, p->wd, w, p->cd, p->yd, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, found,
                perf, ws, CONV_FIND_WS_BYTES));
        seer_clear_error(); // no room to time them: the heuristics
    }
    return SEER_CU(cudnnGetConvolutionForwardAlgorithm_v7(
        h, p->xd, p->wd, p->cd, p->yd, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, found, perf));
}

static seer_status plan_build(cudnnHandle_t h, conv_plan *p, const void *x, const void *w,
                              void *y) {
    const conv_shape &s = p->shape;
    cudnnDataType_t ty = cudnn_type(p->dtype);
    bool strict = p->dtype == SEER_F32 && !p->tf32;
    cudnnMathType_t math = strict                 ? CUDNN_FMA_MATH
                           : p->dtype == SEER_F32 ? CUDNN_DEFAULT_MATH
                                                  : CUDNN_TENSOR_OP_MATH;
    SEER_TRY(SEER_CU(cudnnCreateTensorDescriptor(&p->xd)));
    SEER_TRY(SEER_CU(cudnnCreateTensorDescriptor(&p->yd)));
    SEER_TRY(SEER_CU(cudnnCreateFilterDescriptor(&p->wd)));
    SEER_TRY(SEER_CU(cudnnCreateConvolutionDescriptor(&p->cd)));
    seer_status st = SEER_CU(cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NHWC, ty, (int)s.B,
                                                        (int)s.C, (int)s.H, (int)s.W));
    if (st == SEER_STATUS_OK)
        st = SEER_CU(cudnnSetTensor4dDescriptor(p->yd, CUDNN_TENSOR_NHWC, ty, (int)s.B, (int)s.O,
                                                (int)s.Ho, (int)s.Wo));
    if (st == SEER_STATUS_OK)
        st = SEER_CU(cudnnSetFilter4dDescriptor(p->wd, ty, CUDNN_TENSOR_NHWC, (int)s.O,
                                                (int)(s.C / s.groups), (int)s.kh, (int)s.kw));
    if (st == SEER_STATUS_OK)
        st = SEER_CU(cudnnSetConvolution2dDescriptor(p->cd, s.ph, s.pw, s.sh, s.sw, s.dh, s.dw,
                                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    if (st == SEER_STATUS_OK) st = SEER_CU(cudnnSetConvolutionGroupCount(p->cd, s.groups));
    if (st == SEER_STATUS_OK) st = SEER_CU(cudnnSetConvolutionMathType(p->cd, math));
    int n = 0, c = 0, hh = 0, ww = 0;
    if (st == SEER_STATUS_OK)
        st = SEER_CU(cudnnGetConvolution2dForwardOutputDim(p->cd, p->xd, p->wd, &n, &c, &hh, &ww));
    if (st == SEER_STATUS_OK && (n != s.B || c != s.O || hh != s.Ho || ww != s.Wo))
        st = seer_fail(SEER_STATUS_SHAPE,
                       "cuDNN output [%d, %d, %d, %d] (NCHW order) differs from "
                       "[%lld, %lld, %lld, %lld]",
                       n, c, hh, ww, (long long)s.B, (long long)s.O, (long long)s.Ho,
                       (long long)s.Wo);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    if (st == SEER_STATUS_OK) st = rank_algos(h, p, x, w, y, perf, &found);
    if (st != SEER_STATUS_OK) {
        seer_log(SEER_LOG_DEBUG, "conv2d: cuDNN refused, using im2col: %s", seer_last_error());
        seer_clear_error();
        return SEER_STATUS_OK;
    }
    // Best first; take the first that works within our rules.
    for (int i = 0; i < found; i++) {
        const cudnnConvolutionFwdAlgoPerf_t &r = perf[i];
        if (r.status != CUDNN_STATUS_SUCCESS || r.memory > CONV_WS_BYTES) continue;
        if (strict && (!exact_algo(r.algo) || r.mathType == CUDNN_TENSOR_OP_MATH ||
                       r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
            continue;
        // The heuristic may have planned with another math type: it must be set to run.
        cudnnMathType_t m = strict ? CUDNN_FMA_MATH : r.mathType;
        if (SEER_CU(cudnnSetConvolutionMathType(p->cd, m)) != SEER_STATUS_OK) break;
        size_t ws = 0;
        if (SEER_CU(cudnnGetConvolutionForwardWorkspaceSize(h, p->xd, p->wd, p->cd, p->yd, r.algo,
                                                            &ws)) != SEER_STATUS_OK) {
            seer_clear_error();
            continue;
        }
        p->algo = r.algo;
        p->ws_bytes = ws;
        p->usable = true;
        seer_log(SEER_LOG_DEBUG,
                 "conv2d: cuDNN algo %d (math %d, workspace %zu bytes) for x [%lld, %lld, %lld, "
                 "%lld] %s, w %lldx%lld -> %lld, groups %d",
                 (int)r.algo, (int)m, ws, (long long)s.B, (long long)s.H, (long long)s.W,
                 (long long)s.C, seer_dtype_name(p->dtype), (long long)s.kh, (long long)s.kw,
                 (long long)s.O, s.groups);
        return SEER_STATUS_OK;
    }
    seer_log(SEER_LOG_DEBUG, "conv2d: no suitable cuDNN algorithm of %d, using im2col", found);
    seer_clear_error();
    return SEER_STATUS_OK;
}

static bool same_shape(const conv_shape &a, const conv_shape &b) {
    return a.B == b.B && a.H == b.H && a.W == b.W && a.C == b.C && a.O == b.O && a.kh == b.kh &&
           a.kw == b.kw && a.Ho == b.Ho && a.Wo == b.Wo && a.sh == b.sh && a.sw == b.sw &&
           a.ph == b.ph && a.pw == b.pw && a.dh == b.dh && a.dw == b.dw && a.groups == b.groups;
}

// The cached plan for this shape (built on first use). Caller holds the scratch mutex.
static seer_status plan_get(cudnnHandle_t h, const conv_shape &s, seer_dtype dt, const void *x,
                            const void *w, void *y, conv_plan **out) {
    bool tf32 = seer_cu_tf32();
    *out = conv_plans.find([&](const conv_plan &p) {
        return p.dtype == dt && p.tf32 == tf32 && same_shape(p.shape, s);
    });
    if (*out) return SEER_STATUS_OK;
    conv_plan *p = conv_plans.take(plan_release);
    p->shape = s;
    p->dtype = dt;
    p->tf32 = tf32;
    seer_status st = plan_build(h, p, x, w, y);
    if (st != SEER_STATUS_OK) {
        // Not cached: a hard failure should be reported again next time, not hidden.
        plan_release(p);
        p->dtype = SEER_DTYPE_COUNT;
        return st;
    }
    *out = p;
    return SEER_STATUS_OK;
}

// Runs the convolution through cuDNN if it takes this shape; *done says whether it did.
static seer_status conv_cudnn(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                              const conv_shape &s, bool *done) {
    *done = false;
    if (!seer_cu_fits_int(s.B) || !seer_cu_fits_int(s.H * s.W * s.C) ||
        !seer_cu_fits_int(s.Ho * s.Wo * s.O))
        return SEER_STATUS_OK;
    cudnnHandle_t h;
    SEER_TRY(seer_cu_cudnn(&h));
    std::lock_guard<std::mutex> lock(seer_cu_scratch_mutex());
    conv_plan *p;
    SEER_TRY(plan_get(h, s, x->dtype, x->data, w->data, y->data, &p));
    if (!p->usable) return SEER_STATUS_OK;
    void *ws = nullptr;
    if (p->ws_bytes) SEER_TRY(seer_cu_scratch(p->ws_bytes, &ws));
    float one = 1.0f, zero = 0.0f;
    SEER_TRY(SEER_CU(cudnnConvolutionForward(h, &one, p->xd, x->data, p->wd, w->data, p->cd,
                                             p->algo, ws, p->ws_bytes, &zero, p->yd, y->data)));
    *done = true;
    return SEER_STATUS_OK;
}
#endif

// ---- entry ---------------------------------------------------------------------------------

// conv2d, and with res (y's shape and dtype, contiguous; or NULL) and relu the fused form:
// the depthwise kernels add and clamp in their epilogue (with SEER_CUDA_FUSED=1), other paths
// run the add and ReLU kernels after the convolution.
static seer_status conv_run(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                            const seer_tensor *b, const seer_conv2d_params *p,
                            const seer_tensor *res, bool relu) {
    char bx[128], bw[128], by[128];
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
        return seer_fail(SEER_STATUS_SHAPE, "conv2d (cuda): expected 4-d x, w, y; got %s, %s, %s",
                         seer_tensor_shape_str(x, bx, sizeof bx),
                         seer_tensor_shape_str(w, bw, sizeof bw),
                         seer_tensor_shape_str(y, by, sizeof by));
    conv_shape s;
    memset(&s, 0, sizeof s);
    s.B = x->shape[0], s.H = x->shape[1], s.W = x->shape[2], s.C = x->shape[3];
    s.O = w->shape[0], s.kh = w->shape[1], s.kw = w->shape[2];
    s.Ho = y->shape[1], s.Wo = y->shape[2];
    s.sh = p->stride_h, s.sw = p->stride_w, s.ph = p->pad_h, s.pw = p->pad_w;
    s.dh = p->dil_h, s.dw = p->dil_w, s.groups = p->groups;
    if (s.groups < 1 || s.sh < 1 || s.sw < 1 || s.dh < 1 || s.dw < 1 || s.C % s.groups ||
        s.O % s.groups || w->shape[3] != s.C / s.groups || y->shape[0] != s.B ||
        y->shape[3] != s.O || s.Ho != (s.H + 2 * s.ph - s.dh * (s.kh - 1) - 1) / s.sh + 1 ||
        s.Wo != (s.W + 2 * s.pw - s.dw * (s.kw - 1) - 1) / s.sw + 1)
        return seer_fail(
            SEER_STATUS_SHAPE,
            "conv2d (cuda): x %s, w %s, y %s do not fit stride %dx%d pad %dx%d "
            "dilation %dx%d groups %d",
            seer_tensor_shape_str(x, bx, sizeof bx), seer_tensor_shape_str(w, bw, sizeof bw),
            seer_tensor_shape_str(y, by, sizeof by), s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, s.groups);
    SEER_TRY(seer_cu_need_dtype("conv2d", "w", w, x->dtype));
    SEER_TRY(seer_cu_need_dtype("conv2d", "y", y, x->dtype));
    SEER_TRY(seer_cu_need_contig("conv2d", "x", x));
    SEER_TRY(seer_cu_need_contig("conv2d", "w", w));
    SEER_TRY(seer_cu_need_contig("conv2d", "y", y));
    SEER_TRY(seer_cu_need_param("conv2d", "bias", b, s.O));
    if (!seer_dtype_is_float(x->dtype))
        return seer_fail(SEER_STATUS_UNSUPPORTED, "conv2d (cuda): dtype %s",
                         seer_dtype_name(x->dtype));
    int64_t rows = s.B * s.Ho * s.Wo;
    if (rows == 0 || s.O == 0) return SEER_STATUS_OK;
    const float *bias = b ? (const float *)b->data : NULL;

    if (res) {
        SEER_TRY(seer_cu_need_dtype("conv2d", "residual", res, x->dtype));
        SEER_TRY(seer_cu_need_contig("conv2d", "residual", res));
        if (!seer_tensor_same_shape(res, y))
            return seer_fail(SEER_STATUS_SHAPE, "conv2d (cuda): residual %s, output %s",
                             seer_tensor_shape_str(res, bx, sizeof bx),
                             seer_tensor_shape_str(y, by, sizeof by));
    }
    static const bool dw_kernel = seer_cu_switch_on("SEER_DW_KERNEL");
    if (s.groups == s.C && s.C == s.O && dw_kernel && s.sh == 1 && s.sw == 1 && s.dh == s.dw) {
        const seer_cu_dw_args a = {s.B, s.H, s.W, s.C, s.Ho, s.Wo, (int)s.kh, (int)s.kw, s.dh,
                                   s.ph, s.pw, relu};
        const seer_status st = seer_cu_depthwise_vec(x->dtype, y->data, x->data, w->data, bias,
                                                     res ? res->data : nullptr, a);
        if (st != SEER_STATUS_UNSUPPORTED) return st; // bias, residual and ReLU included
    }
    if (s.groups == s.C && s.C == s.O && dw_kernel) {
        if (seer_cu_fused_on()) return conv_depthwise(y, x, w, bias, s, res, relu);
        SEER_TRY(conv_depthwise(y, x, w, bias, s));
    } else if (s.C == 0 || s.kh == 0 || s.kw == 0) {
        // Empty sum over the window: only the bias.
        SEER_TRY(SEER_CU(cudaMemset(y->data, 0, seer_tensor_nbytes(y))));
        SEER_TRY(seer_cu_add_bias(y->data, y->dtype, rows, s.O, bias));
    } else {
        bool done = false;
#ifdef SEER_CUDNN
        SEER_TRY(conv_cudnn(y, x, w, s, &done));
#endif
        if (!done) SEER_TRY(conv_gemm(y, x, w, s));
        SEER_TRY(seer_cu_add_bias(y->data, y->dtype, rows, s.O, bias));
    }
    if (res) SEER_TRY(seer_cuda_binary(y, y, res, SEER_BINARY_ADD));
    if (relu) SEER_TRY(seer_cuda_unary(y, y, SEER_UNARY_RELU, 0.0f, 0.0f));
    return SEER_STATUS_OK;
}

seer_status seer_cuda_conv2d(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                             const seer_tensor *b, const seer_conv2d_params *p) {
    return conv_run(y, x, w, b, p, nullptr, false);
}

seer_status seer_cuda_conv2d_fused(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                   const seer_tensor *b, const seer_conv2d_params *p,
                                   const seer_tensor *residual, bool relu) {
    return conv_run(y, x, w, b, p, residual, relu);
}
