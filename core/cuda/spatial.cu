// CUDA kernels for NHWC spatial ops: resize (nearest / bilinear / bicubic with PyTorch's
// coordinate rules), unfold and its adjoint fold. Inputs are contiguous (the fronts in
// core/ops_spatial.c make them so); F32, F16 and BF16 storage, float arithmetic.
#include "core/cuda/cuda_common.cuh"

namespace {

// ---- resize --------------------------------------------------------------------------------

// Keys cubic kernel, a = -0.75 (PyTorch's): the |t| <= 1 and 1 < |t| < 2 pieces.
__device__ __forceinline__ float cubic_near(float t, float a) {
    return ((a + 2) * t - (a + 3)) * t * t + 1;
}
__device__ __forceinline__ float cubic_far(float t, float a) {
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
}

// Source coordinate of output index o, as PyTorch computes it in float. The explicit
// round-to-nearest intrinsics keep nvcc from fusing into an FMA, so the coordinate (and so
// floor(), which picks the taps) is bit-identical to the CPU backend's.
__device__ __forceinline__ float source_coord(float scale, int o, bool align_corners) {
    if (align_corners) return __fmul_rn(scale, (float)o);
    return __fsub_rn(__fmul_rn(scale, __fadd_rn((float)o, 0.5f)), 0.5f);
}

enum {
    kNearest = SEER_RESIZE_NEAREST,
    kBilinear = SEER_RESIZE_BILINEAR,
    kBicubic = SEER_RESIZE_BICUBIC
};

// x: [B, H, W, C] -> y: [B, Ho, Wo, C], one thread per output element (consecutive threads
// take consecutive channels, so reads and writes coalesce). scale_h/w: PyTorch's
// area_pixel_compute_scale, computed on the host.
template <typename T, int MODE>
__global__ void resize_kernel(T *y, const T *x, int H, int W, int64_t C, int Ho, int Wo,
                              int64_t total, float scale_h, float scale_w, bool align_corners) {
    SEER_CU_FOR(e, total) {
        int64_t r = e / C, c = e - r * C;
        int ox = (int)(r % Wo);
        r /= Wo;
        int oy = (int)(r % Ho);
        int64_t b = r / Ho;
        const T *xb = x + b * H * W * C + c;
        if (MODE == kNearest) {
            // Legacy 'nearest': floor(o * in / out) in float, never past the last pixel.
            int iy = Ho == H ? oy : min((int)floorf(__fmul_rn((float)oy, scale_h)), H - 1);
            int ix = Wo == W ? ox : min((int)floorf(__fmul_rn((float)ox, scale_w)), W - 1);
            y[e] = xb[((int64_t)iy * W + ix) * C];
        } else if (MODE == kBilinear) {
            float sy = fmaxf(source_coord(scale_h, oy, align_corners), 0.0f);
            float sx = fmaxf(source_coord(scale_w, ox, align_corners), 0.0f);
            int y0 = (int)sy, x0 = (int)sx; // non-negative: truncation is floor
            int y1 = y0 + (y0 < H - 1), x1 = x0 + (x0 < W - 1);
            float ly = sy - (float)y0, lx = sx - (float)x0;
            const T *r0 = xb + (int64_t)y0 * W * C, *r1 = xb + (int64_t)y1 * W * C;
            float top = (1.0f - lx) * seer_cu_f(r0[x0 * C]) + lx * seer_cu_f(r0[x1 * C]);
            float bot = (1.0f - lx) * seer_cu_f(r1[x0 * C]) + lx * seer_cu_f(r1[x1 * C]);
            y[e] = seer_cu_store<T>((1.0f - ly) * top + ly * bot);
        } else {
            // Four taps around floor(src) on each axis, clamped to the border; rows first.
            const float a = -0.75f;
            float sy = source_coord(scale_h, oy, align_corners);
            float sx = source_coord(scale_w, ox, align_corners);
            float fy = floorf(sy), fx = floorf(sx);
            float dy = sy - fy, dx = sx - fx;
            float wy[4] = {cubic_far(dy + 1.0f, a), cubic_near(dy, a), cubic_near(1.0f - dy, a),
                           cubic_far(2.0f - dy, a)};
            float wx[4] = {cubic_far(dx + 1.0f, a), cubic_near(dx, a), cubic_near(1.0f - dx, a),
                           cubic_far(2.0f - dx, a)};
            int64_t cx[4];
            for (int j = 0; j < 4; j++)
                cx[j] = min(max((int)fx - 1 + j, 0), W - 1) * C;
            float acc = 0.0f;
            for (int i = 0; i < 4; i++) {
                const T *row = xb + (int64_t)min(max((int)fy - 1 + i, 0), H - 1) * W * C;
                float v = 0.0f;
                for (int j = 0; j < 4; j++)
                    v += wx[j] * seer_cu_f(row[cx[j]]);
                acc += wy[i] * v;
            }
            y[e] = seer_cu_store<T>(acc);
        }
    }
}

// PyTorch's area_pixel_compute_scale for a given size (no scale factor): in float.
float resize_scale(int64_t in, int64_t out, bool align_corners) {
    if (!align_corners) return (float)in / (float)out;
    return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
}

// ---- unfold / fold -------------------------------------------------------------------------

// Window geometry, normalized by the front (stride, dilation >= 1).
struct window {
    int kh, kw, sh, sw, ph, pw, dh, dw;
};

inline window make_window(const seer_unfold_params *p) {
    return window{p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
                  p->pad_h,    p->pad_w,    p->dil_h,    p->dil_w};
}

// x: [B, H, W, C] -> y: [B, Ho, Wo, kh * kw, C]; tap (i, j) of output (oy, ox) reads input
// (oy * sh - ph + i * dh, ox * sw - pw + j * dw), zero outside.
template <typename T>
__global__ void unfold_kernel(T *y, const T *x, int64_t H, int64_t W, int64_t C, int64_t Ho,
                              int64_t Wo, int64_t total, window k) {
    const int64_t kk = (int64_t)k.kh * k.kw;
    SEER_CU_FOR(e, total) {
        int64_t r = e / C, c = e - r * C;
        int t = (int)(r % kk);
        r /= kk;
        int64_t ox = r % Wo;
        r /= Wo;
        int64_t oy = r % Ho, b = r / Ho;
        int i = t / k.kw, j = t - i * k.kw;
        int64_t iy = oy * k.sh - k.ph + (int64_t)i * k.dh;
        int64_t ix = ox * k.sw - k.pw + (int64_t)j * k.dw;
        bool inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
        y[e] = inside ? x[((b * H + iy) * W + ix) * C + c] : seer_cu_store<T>(0.0f);
    }
}

// x: [B, Ho, Wo, kh * kw, C] -> y: [B, H, W, C]. A gather: each output element sums, in tap
// order, the window taps that read its pixel, so no two threads write one element (no
// atomics, deterministic, and the CPU backend's summation order).
template <typename T>
__global__ void fold_kernel(T *y, const T *x, int64_t H, int64_t W, int64_t C, int64_t Ho,
                            int64_t Wo, int64_t total, window k) {
    const int64_t kk = (int64_t)k.kh * k.kw;
    SEER_CU_FOR(e, total) {
        int64_t r = e / C, c = e - r * C;
        int64_t ix = r % W;
        r /= W;
        int64_t iy = r % H, b = r / H;
        float acc = 0.0f;
        for (int i = 0; i < k.kh; i++) {
            // iy = oy * sh - ph + i * dh  =>  oy = (iy + ph - i * dh) / sh when exact
            int64_t ny = iy + k.ph - (int64_t)i * k.dh;
            if (ny < 0 || ny % k.sh) continue;
            int64_t oy = ny / k.sh;
            if (oy >= Ho) continue;
            for (int j = 0; j < k.kw; j++) {
                int64_t nx = ix + k.pw - (int64_t)j * k.dw;
                if (nx < 0 || nx % k.sw) continue;
                int64_t ox = nx / k.sw;
                if (ox >= Wo) continue;
                acc += seer_cu_f(x[(((b * Ho + oy) * Wo + ox) * kk + i * k.kw + j) * C + c]);
            }
        }
        y[e] = seer_cu_store<T>(acc);
    }
}

// outlook_fold: v [B, H, W, C], attn [B, Ho, Wo, heads, kk, kk] -> y [B, H, W, C]. One thread
// per output element, a gather like fold_kernel: for each window slot a landing on its pixel,
// the window's output at slot a, sum_t attn[a, t] * v[slot t], for its channel, accumulated in
// F32 in the CPU kernel's order. Neighbouring threads are neighbouring channels (coalesced v;
// a head's attention weights are the same address across its channels).
template <typename T>
__global__ void outlook_fold_kernel(T *y, const T *v, const T *attn, int64_t H, int64_t W,
                                    int64_t C, int64_t Ho, int64_t Wo, int heads, int64_t total,
                                    window k) {
    const int kk = k.kh * k.kw;
    const int64_t d = C / heads;
    SEER_CU_FOR(e, total) {
        int64_t r = e / C, c = e - r * C;
        int64_t ix = r % W;
        r /= W;
        int64_t iy = r % H, b = r / H;
        const int64_t n = c / d;
        float acc = 0.0f;
        for (int i = 0; i < k.kh; i++) {
            int64_t ny = iy + k.ph - (int64_t)i * k.dh;
            if (ny < 0 || ny % k.sh || ny / k.sh >= Ho) continue;
            const int64_t oy = ny / k.sh;
            for (int j = 0; j < k.kw; j++) {
                int64_t nx = ix + k.pw - (int64_t)j * k.dw;
                if (nx < 0 || nx % k.sw || nx / k.sw >= Wo) continue;
                const int64_t ox = nx / k.sw;
                const T *w = attn + (((b * Ho + oy) * Wo + ox) * heads + n) * kk * kk +
                             (int64_t)(i * k.kw + j) * kk;
                for (int t = 0; t < kk; t++) {
                    const int ti = t / k.kw, tj = t - ti * k.kw;
                    int64_t sy = oy * k.sh - k.ph + (int64_t)ti * k.dh;
                    int64_t sx = ox * k.sw - k.pw + (int64_t)tj * k.dw;
                    if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                    acc += seer_cu_f(w[t]) * seer_cu_f(v[((b * H + sy) * W + sx) * C + c]);
                }
            }
        }
        y[e] = seer_cu_store<T>(acc);
    }
}

// Fails unless t is [B, H, W, C] with every size in int range (the kernels index rows as int).
seer_status check_nhwc(const char *op, const char *what, const seer_tensor *t) {
    bool ok = t->ndim == 4;
    for (int d = 0; ok && d < 4; d++)
        ok = seer_cu_fits_int(t->shape[d]);
    if (ok) return seer_cu_need_contig(op, what, t);
    char buf[128];
    return seer_fail(SEER_STATUS_SHAPE,
                     "%s (cuda): %s must be [B, H, W, C] (sizes below 2^31), got %s", op, what,
                     seer_tensor_shape_str(t, buf, sizeof buf));
}

} // namespace

seer_status seer_cuda_resize(seer_tensor *y, const seer_tensor *x, seer_resize_mode mode,
                             bool align_corners) {
    SEER_TRY(check_nhwc("resize", "x", x));
    SEER_TRY(check_nhwc("resize", "y", y));
    SEER_TRY(seer_cu_need_dtype("resize", "y", y, x->dtype));
    int64_t total = seer_tensor_numel(y);
    if (total == 0) return SEER_STATUS_OK;
    int H = (int)x->shape[1], W = (int)x->shape[2], Ho = (int)y->shape[1], Wo = (int)y->shape[2];
    if (H < 1 || W < 1) return seer_fail(SEER_STATUS_SHAPE, "resize (cuda): input has no pixels");
    if (mode == SEER_RESIZE_NEAREST) align_corners = false; // PyTorch ignores it there
    float scale_h = resize_scale(H, Ho, align_corners),
          scale_w = resize_scale(W, Wo, align_corners);
    return seer_cu_dispatch_float(x->dtype, "resize", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        unsigned blocks = seer_cu_blocks(total);
        T *yp = (T *)y->data;
        const T *xp = (const T *)x->data;
        int64_t C = x->shape[3];
        switch (mode) {
        case SEER_RESIZE_NEAREST:
            resize_kernel<T, kNearest><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                yp, xp, H, W, C, Ho, Wo, total, scale_h, scale_w, align_corners);
            break;
        case SEER_RESIZE_BILINEAR:
            resize_kernel<T, kBilinear><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                yp, xp, H, W, C, Ho, Wo, total, scale_h, scale_w, align_corners);
            break;
        case SEER_RESIZE_BICUBIC:
            resize_kernel<T, kBicubic><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                yp, xp, H, W, C, Ho, Wo, total, scale_h, scale_w, align_corners);
            break;
        default: return seer_fail(SEER_STATUS_ARG, "resize (cuda): unknown mode %d", (int)mode);
        }
        return SEER_CU(seer_cu_launched());
    });
}

// x: [B, H, W, C] -> y: [B, Ho, Wo, kh * kw, C].
seer_status seer_cuda_unfold(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p) {
    SEER_TRY(check_nhwc("unfold", "x", x));
    SEER_TRY(seer_cu_need_contig("unfold", "y", y));
    SEER_TRY(seer_cu_need_dtype("unfold", "y", y, x->dtype));
    window k = make_window(p);
    if (y->ndim != 5 || y->shape[3] != (int64_t)k.kh * k.kw || y->shape[4] != x->shape[3] ||
        k.sh < 1 || k.sw < 1 || k.dh < 1 || k.dw < 1)
        return seer_fail(SEER_STATUS_SHAPE, "unfold (cuda): y is not [B, Ho, Wo, kh * kw, C] "
                                            "for the window, or the window is not normalized");
    int64_t total = seer_tensor_numel(y);
    if (total == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(x->dtype, "unfold", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        unfold_kernel<T><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)y->data, (const T *)x->data, x->shape[1], x->shape[2], x->shape[3], y->shape[1],
            y->shape[2], total, k);
        return SEER_CU(seer_cu_launched());
    });
}

// x: [B, Ho, Wo, kh * kw, C] -> y: [B, H, W, C], overlapping taps summed.
seer_status seer_cuda_fold(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p) {
    SEER_TRY(check_nhwc("fold", "y", y));
    SEER_TRY(seer_cu_need_contig("fold", "x", x));
    SEER_TRY(seer_cu_need_dtype("fold", "y", y, x->dtype));
    window k = make_window(p);
    if (x->ndim != 5 || x->shape[3] != (int64_t)k.kh * k.kw || x->shape[4] != y->shape[3] ||
        k.sh < 1 || k.sw < 1 || k.dh < 1 || k.dw < 1)
        return seer_fail(SEER_STATUS_SHAPE, "fold (cuda): x is not [B, Ho, Wo, kh * kw, C] "
                                            "for the window, or the window is not normalized");
    int64_t total = seer_tensor_numel(y);
    if (total == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(x->dtype, "fold", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        fold_kernel<T><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)y->data, (const T *)x->data, y->shape[1], y->shape[2], y->shape[3], x->shape[1],
            x->shape[2], total, k);
        return SEER_CU(seer_cu_launched());
    });
}

// v: [B, H, W, C], attn: [B, Ho, Wo, heads, kk, kk] -> y: [B, H, W, C].
seer_status seer_cuda_outlook_fold(seer_tensor *y, const seer_tensor *v, const seer_tensor *attn,
                                   int heads, const seer_unfold_params *p) {
    SEER_TRY(check_nhwc("outlook_fold", "v", v));
    SEER_TRY(check_nhwc("outlook_fold", "y", y));
    SEER_TRY(seer_cu_need_contig("outlook_fold", "attn", attn));
    SEER_TRY(seer_cu_need_dtype("outlook_fold", "y", y, v->dtype));
    SEER_TRY(seer_cu_need_dtype("outlook_fold", "attn", attn, v->dtype));
    window k = make_window(p);
    const int64_t kk = (int64_t)k.kh * k.kw;
    if (attn->ndim != 6 || attn->shape[3] != heads || attn->shape[4] != kk ||
        attn->shape[5] != kk || heads < 1 || v->shape[3] % heads || k.sh < 1 || k.sw < 1 ||
        k.dh < 1 || k.dw < 1)
        return seer_fail(SEER_STATUS_SHAPE, "outlook_fold (cuda): attn is not [B, Ho, Wo, heads, "
                                            "kk, kk] for the window, or the window is not "
                                            "normalized");
    int64_t total = seer_tensor_numel(y);
    if (total == 0) return SEER_STATUS_OK;
    return seer_cu_dispatch_float(v->dtype, "outlook_fold", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        outlook_fold_kernel<T><<<seer_cu_blocks(total), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (T *)y->data, (const T *)v->data, (const T *)attn->data, v->shape[1], v->shape[2],
            v->shape[3], attn->shape[1], attn->shape[2], heads, total, k);
        return SEER_CU(seer_cu_launched());
    });
}
