// CUDA backend: NHWC pooling (avg/max with PyTorch's ceil_mode and count_include_pad rules,
// adaptive average). One thread per output element, channel fastest, so a warp reads 32
// neighbouring channels of one pixel.
#include "core/cuda/cuda_common.cuh"

struct pool_shape {
    int64_t B, H, W, C, Ho, Wo;
    int kh, kw, sh, sw, ph, pw;
    bool max, include_pad;
};

// Window of output (oy, ox): rows [oy*sh - ph, +kh) cut at H + ph (a window may run past the
// padded input only in ceil mode), then at the input. Average divides by the window size
// before the cut at the input if count_include_pad, else by the number of valid inputs.
// Max propagates NaN like PyTorch.
template <typename T> __global__ void pool2d_kernel(T *y, const T *x, pool_shape s) {
    int64_t total = s.B * s.Ho * s.Wo * s.C;
    SEER_CU_FOR(i, total) {
        int64_t c = i % s.C, t = i / s.C;
        int64_t ox = t % s.Wo;
        t /= s.Wo;
        int64_t oy = t % s.Ho, b = t / s.Ho;
        int64_t y0 = oy * s.sh - s.ph, x0 = ox * s.sw - s.pw;
        int64_t y1 = min(y0 + s.kh, s.H + s.ph), x1 = min(x0 + s.kw, s.W + s.pw);
        int64_t padded = (y1 - y0) * (x1 - x0);
        y0 = max(y0, (int64_t)0);
        x0 = max(x0, (int64_t)0);
        y1 = min(y1, s.H);
        x1 = min(x1, s.W);
        const T *xb = x + b * s.H * s.W * s.C + c;
        float acc = s.max ? -INFINITY : 0.0f;
        for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) {
                float v = seer_cu_f(xb[(iy * s.W + ix) * s.C]);
                if (s.max) {
                    if (v > acc || isnan(v)) acc = v;
                } else {
                    acc += v;
                }
            }
        if (!s.max) {
            int64_t count =
                s.include_pad ? padded : max(y1 - y0, (int64_t)0) * max(x1 - x0, (int64_t)0);
            acc = count > 0 ? acc / (float)count : 0.0f;
        }
        y[i] = seer_cu_store<T>(acc);
    }
}

static seer_status check_nhwc(const char *op, const seer_tensor *y, const seer_tensor *x) {
    char bx[128], by[128];
    if (x->ndim != 4 || y->ndim != 4 || y->shape[0] != x->shape[0] || y->shape[3] != x->shape[3])
        return seer_fail(SEER_STATUS_SHAPE,
                         "%s (cuda): x %s and y %s must be [B, H, W, C] with the "
                         "same B and C",
                         op, seer_tensor_shape_str(x, bx, sizeof bx),
                         seer_tensor_shape_str(y, by, sizeof by));
    SEER_TRY(seer_cu_need_dtype(op, "y", y, x->dtype));
    SEER_TRY(seer_cu_need_contig(op, "x", x));
    return seer_cu_need_contig(op, "y", y);
}

seer_status seer_cuda_pool2d(seer_tensor *y, const seer_tensor *x, const seer_pool2d_params *p) {
    SEER_TRY(check_nhwc("pool2d", y, x));
    if (p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1 || p->pad_h < 0 ||
        p->pad_w < 0)
        return seer_fail(SEER_STATUS_ARG, "pool2d (cuda): kernel %dx%d stride %dx%d pad %dx%d",
                         p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h, p->pad_w);
    pool_shape s;
    memset(&s, 0, sizeof s);
    s.B = x->shape[0], s.H = x->shape[1], s.W = x->shape[2], s.C = x->shape[3];
    s.Ho = y->shape[1], s.Wo = y->shape[2];
    s.kh = p->kernel_h, s.kw = p->kernel_w, s.sh = p->stride_h, s.sw = p->stride_w;
    s.ph = p->pad_h, s.pw = p->pad_w;
    s.max = p->mode == SEER_POOL_MAX;
    s.include_pad = p->count_include_pad;
    int64_t total = seer_tensor_numel(y);
    if (total == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(x->dtype, "pool2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        pool2d_kernel<T><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)y->data, (const T *)x->data, s);
        return SEER_CU(seer_cu_launched());
    });
}

// Output (oy, ox) averages rows [floor(oy*H/Ho), ceil((oy+1)*H/Ho)) and likewise columns.
template <typename T> __global__ void adaptive_avg_kernel(T *y, const T *x, pool_shape s) {
    int64_t total = s.B * s.Ho * s.Wo * s.C;
    SEER_CU_FOR(i, total) {
        int64_t c = i % s.C, t = i / s.C;
        int64_t ox = t % s.Wo;
        t /= s.Wo;
        int64_t oy = t % s.Ho, b = t / s.Ho;
        int64_t y0 = oy * s.H / s.Ho, y1 = ((oy + 1) * s.H + s.Ho - 1) / s.Ho;
        int64_t x0 = ox * s.W / s.Wo, x1 = ((ox + 1) * s.W + s.Wo - 1) / s.Wo;
        const T *xb = x + b * s.H * s.W * s.C + c;
        float acc = 0.0f;
        for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++)
                acc += seer_cu_f(xb[(iy * s.W + ix) * s.C]);
        int64_t count = (y1 - y0) * (x1 - x0);
        y[i] = seer_cu_store<T>(count > 0 ? acc / (float)count : 0.0f);
    }
}

seer_status seer_cuda_adaptive_avg_pool2d(seer_tensor *y, const seer_tensor *x) {
    SEER_TRY(check_nhwc("adaptive_avg_pool2d", y, x));
    pool_shape s;
    memset(&s, 0, sizeof s);
    s.B = x->shape[0], s.H = x->shape[1], s.W = x->shape[2], s.C = x->shape[3];
    s.Ho = y->shape[1], s.Wo = y->shape[2];
    int64_t total = seer_tensor_numel(y);
    if (total == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(x->dtype, "adaptive_avg_pool2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        adaptive_avg_kernel<T><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)y->data, (const T *)x->data, s);
        return SEER_CU(seer_cu_launched());
    });
}
