// Depthwise stride-1 convolution on 16-byte channel vectors (off with SEER_CUDA_NEW=0 or
// SEER_NEW_DW=0: see cuda_common.cuh; conv.cu tries it before its strip and pair kernels): one
// thread per V = 16 / sizeof(T) neighbouring channels (8 in BF16/F16, 4 in F32) and a strip of
// TX outputs of one row.
// - Every input of a kernel row's strip, TX + (KW - 1) * DIL pixels, is one 16-byte load, kept
//   packed in registers and used KW times (the strip kernel makes one 2-byte load per channel
//   and pixel, so its loads, not its multiply-adds, set its pace).
// - The block's channels' weights sit in shared memory as floats, tap-major, so a thread reads
//   its V weights of a tap as whole vectors; bias, residual and ReLU in the epilogue, in F32,
//   rounded once (the separate add kernel rounds the convolution's output first).
// - A block is 256 threads: nvb channel vectors x 256 / nvb strips; blockIdx.y picks the channel
//   group. Index math in 32 bits with multiply-high dividers.
#include "core/cuda/index32.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kMaxGroup = 128; // channels per block: the weights' shared memory

struct dwv_shape {
    uint32_t strips_total; // B * Ho * strips
    int H, W, C, Wo, ph, pw, nvb;
    seer_cu_divider strips, rows; // by strips per row, by Ho
};

template <typename T, int KH, int KW, int DIL, int TX>
__global__ void __launch_bounds__(kThreads)
    depthwise_vec_kernel(T *y, const T *x, const T *w, const float *bias, dwv_shape s,
                         const T *res, bool relu) {
    constexpr int V = 16 / sizeof(T), K = KH * KW, XS = TX + (KW - 1) * DIL;
    __shared__ __align__(16) float ws[K * kMaxGroup];
    const int group = s.nvb * V, cg0 = blockIdx.y * group;
    for (int i = threadIdx.x; i < K * group; i += kThreads) { // [K][group]
        const int k = i / group, cc = i - k * group;
        ws[i] = seer_cu_f(w[(cg0 + cc) * K + k]);
    }
    __syncthreads();
    const int cv = threadIdx.x % s.nvb;
    const uint32_t strip = blockIdx.x * (kThreads / s.nvb) + threadIdx.x / s.nvb;
    if (strip >= s.strips_total) return;
    const uint32_t r = s.strips.div(strip), b = s.rows.div(r); // r = b * Ho + oy
    const int ox0 = (int)(strip - r * s.strips.d) * TX, oy = (int)(r - b * s.rows.d);
    const int c0 = cg0 + cv * V;

    float acc[TX][V];
#pragma unroll
    for (int u = 0; u < TX; u++)
#pragma unroll
        for (int i = 0; i < V; i++) acc[u][i] = 0.0f;
#pragma unroll
    for (int ki = 0; ki < KH; ki++) {
        const int iy = oy - s.ph + ki * DIL;
        if (iy < 0 || iy >= s.H) continue;
        const T *row = x + ((b * (uint32_t)s.H + (uint32_t)iy) * (uint32_t)s.W) * (uint32_t)s.C + c0;
        uint4 xs[XS];
#pragma unroll
        for (int p = 0; p < XS; p++) {
            const int ix = ox0 - s.pw + p;
            xs[p] = ix >= 0 && ix < s.W ? *(const uint4 *)(row + (uint32_t)ix * (uint32_t)s.C)
                                        : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int kj = 0; kj < KW; kj++) {
            float wv[V];
            const float4 *wp = (const float4 *)&ws[(ki * KW + kj) * group + cv * V];
#pragma unroll
            for (int i = 0; i < V / 4; i++) {
                const float4 f = wp[i];
                wv[4 * i] = f.x, wv[4 * i + 1] = f.y, wv[4 * i + 2] = f.z, wv[4 * i + 3] = f.w;
            }
#pragma unroll
            for (int u = 0; u < TX; u++) {
                const T *e = (const T *)&xs[u + kj * DIL];
#pragma unroll
                for (int i = 0; i < V; i++) acc[u][i] += seer_cu_f(e[i]) * wv[i];
            }
        }
    }
    float bv[V];
#pragma unroll
    for (int i = 0; i < V; i++) bv[i] = bias ? bias[c0 + i] : 0.0f;
    const uint32_t y0 = (r * (uint32_t)s.Wo + (uint32_t)ox0) * (uint32_t)s.C + c0;
#pragma unroll
    for (int u = 0; u < TX; u++) {
        if (ox0 + u >= s.Wo) break;
        const uint32_t at = y0 + (uint32_t)u * (uint32_t)s.C;
        uint4 rv = res ? *(const uint4 *)(res + at) : make_uint4(0, 0, 0, 0);
        const T *re = (const T *)&rv;
        uint4 out;
        T *oe = (T *)&out;
#pragma unroll
        for (int i = 0; i < V; i++) {
            float v = acc[u][i] + bv[i];
            if (res) v += seer_cu_f(re[i]);
            if (relu) v = v < 0.0f ? 0.0f : v; // NaN stays NaN
            oe[i] = seer_cu_store<T>(v);
        }
        *(uint4 *)(y + at) = out;
    }
}

template <typename T, int KH, int KW, int DIL, int TX>
seer_status launch(T *y, const T *x, const T *w, const float *bias, const seer_cu_dw_args &a,
                   const T *res) {
    constexpr int V = 16 / sizeof(T);
    const int64_t vecs = a.C / V;
    int nvb = 16;
    while (nvb > 1 && (vecs % nvb || nvb * V > kMaxGroup)) nvb >>= 1;
    const int64_t strips = (a.Wo + TX - 1) / TX, total = a.B * a.Ho * strips;
    const int64_t per_block = kThreads / nvb, blocks = (total + per_block - 1) / per_block;
    if (blocks > 0x7fffffffLL || vecs / nvb > 65535) return SEER_STATUS_UNSUPPORTED;
    dwv_shape s;
    s.strips_total = (uint32_t)total;
    s.H = (int)a.H, s.W = (int)a.W, s.C = (int)a.C, s.Wo = (int)a.Wo, s.ph = a.ph, s.pw = a.pw;
    s.nvb = nvb;
    s.strips = seer_cu_make_divider((uint32_t)strips);
    s.rows = seer_cu_make_divider((uint32_t)a.Ho);
    const dim3 grid((unsigned)blocks, (unsigned)(vecs / nvb));
    depthwise_vec_kernel<T, KH, KW, DIL, TX>
        <<<grid, kThreads, 0, seer_cu_stream()>>>(y, x, w, bias, s, res, a.relu);
    return SEER_CU(seer_cu_launched());
}

// Strips of 4, or of 8 on wide F32 maps with 3x3 and 5x5 kernels: 8 outputs of 8 BF16
// channels take 150-190 registers (sm_90), one block per SM; 4 take 60-95.
template <typename T, int KH, int KW, int DIL>
seer_status launch_strips(T *y, const T *x, const T *w, const float *bias,
                          const seer_cu_dw_args &a, const T *res) {
    if (sizeof(T) == 4 && a.Wo >= 16 && KW * DIL <= 5)
        return launch<T, KH, KW, DIL, 8>(y, x, w, bias, a, res);
    return launch<T, KH, KW, DIL, 4>(y, x, w, bias, a, res);
}

} // namespace

seer_status seer_cu_depthwise_vec(seer_dtype dt, void *y, const void *x, const void *w,
                                  const float *bias, const void *res, const seer_cu_dw_args &a) {
    const int V = 16 / (int)seer_dtype_size(dt);
    const int64_t lim = (int64_t)1 << 31;
    const bool k3 = a.kh == 3 && a.kw == 3 && a.dil == 1, k5 = a.kh == 5 && a.kw == 5 && a.dil == 1;
    const bool k7 = a.kh == 7 && a.kw == 7 && a.dil == 3;
    static const bool on = seer_cu_new_part("SEER_NEW_DW");
    if (!on || !(k3 || k5 || k7) || a.C % V || (uintptr_t)x % 16 ||
        (uintptr_t)y % 16 || (res && (uintptr_t)res % 16) || a.B * a.H * a.W * a.C >= lim ||
        a.B * a.Ho * a.Wo * a.C >= lim || a.Ho < 1 || a.Wo < 1)
        return SEER_STATUS_UNSUPPORTED;
    return seer_cu_dispatch_float(dt, "conv2d", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        T *yp = (T *)y;
        const T *xp = (const T *)x, *wp = (const T *)w, *rp = (const T *)res;
        if (k3) return launch_strips<T, 3, 3, 1>(yp, xp, wp, bias, a, rp);
        if (k5) return launch_strips<T, 5, 5, 1>(yp, xp, wp, bias, a, rp);
        return launch_strips<T, 7, 7, 3>(yp, xp, wp, bias, a, rp);
    });
}
