// CPU kernels for NHWC spatial ops: pad2d, resize (nearest/bilinear/bicubic, PyTorch
// semantics), unfold and its adjoint fold, and outlook_fold (attend over unfolded windows and
// fold back in one pass). Inputs are contiguous F32.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

static seer_status need_f32(const char *op, const seer_tensor *x) {
    if (x->dtype == SEER_F32) return SEER_STATUS_OK;
    return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu %s: %s input (f32 only)", op,
                     seer_dtype_name(x->dtype));
}

// ---- pad2d ---------------------------------------------------------------------------------

// x: [B, H, W, C] -> y: [B, Ho, Wo, C]; y[b, i, j] = x[b, i - top, j - left] inside, else value.
seer_status seer_cpu_pad2d(seer_tensor *y, const seer_tensor *x, int top, int left, float value) {
    SEER_TRY(need_f32("pad2d", x));
    int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    int64_t Ho = y->shape[1], Wo = y->shape[2];
    const float *xp = x->data;
    float *yp = y->data;
#pragma omp parallel for if (B * Ho * Wo * C > 65536)
    for (int64_t r = 0; r < B * Ho; r++) {
        int64_t b = r / Ho, i = r % Ho - top;
        float *row = yp + r * Wo * C;
        if (i < 0 || i >= H) {
            for (int64_t e = 0; e < Wo * C; e++) row[e] = value;
            continue;
        }
        int64_t lc = (int64_t)left * C, mid = W * C;
        for (int64_t e = 0; e < lc; e++) row[e] = value;
        memcpy(row + lc, xp + (b * H + i) * W * C, (size_t)mid * sizeof *row);
        for (int64_t e = lc + mid; e < Wo * C; e++) row[e] = value;
    }
    return SEER_STATUS_OK;
}

// ---- resize --------------------------------------------------------------------------------

// Taps of one output coordinate along one axis: input positions and their weights.
#define RESIZE_MAX_TAPS 4
typedef struct resize_taps {
    int64_t at[RESIZE_MAX_TAPS];
    float w[RESIZE_MAX_TAPS];
} resize_taps;

// Keys cubic kernel with a = -0.75 (PyTorch's choice): |t| <= 1 and 1 < |t| < 2 pieces.
static float cubic_near(float t, float a) { return ((a + 2) * t - (a + 3)) * t * t + 1; }
static float cubic_far(float t, float a) { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a; }

static int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

// PyTorch's mapping of output coordinate `o` to input space, in float as PyTorch computes
// it for float tensors: align_corners maps the corner pixel centers onto each other; else the
// pixel areas line up (half-pixel offset), and only linear modes clamp a negative source to 0.
static void resize_axis(resize_taps *taps, int64_t in, int64_t out, seer_resize_mode mode,
                        bool align_corners) {
    float scale;
    if (mode == SEER_RESIZE_NEAREST || !align_corners)
        scale = (float)in / (float)out;
    else
        scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    for (int64_t o = 0; o < out; o++) {
        resize_taps *t = &taps[o];
        if (mode == SEER_RESIZE_NEAREST) {
            // Legacy 'nearest': floor(o * scale), never past the last pixel.
            t->at[0] = in == out ? o : clamp_i64((int64_t)floorf((float)o * scale), 0, in - 1);
            t->w[0] = 1.0f;
            continue;
        }
        float src = align_corners ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
        if (mode == SEER_RESIZE_BILINEAR) {
            if (src < 0) src = 0;
            int64_t i0 = (int64_t)src;  // src >= 0: truncation is floor
            float l1 = src - (float)i0;
            t->at[0] = i0;
            t->at[1] = i0 < in - 1 ? i0 + 1 : i0;
            t->w[0] = 1.0f - l1;
            t->w[1] = l1;
        } else {
            // Bicubic: four taps around floor(src), each clamped to the border.
            float f = floorf(src), d = src - f;
            const float a = -0.75f;
            t->w[0] = cubic_far(d + 1.0f, a);
            t->w[1] = cubic_near(d, a);
            t->w[2] = cubic_near(1.0f - d, a);
            t->w[3] = cubic_far(2.0f - d, a);
            for (int k = 0; k < 4; k++) t->at[k] = clamp_i64((int64_t)f - 1 + k, 0, in - 1);
        }
    }
}

// x: [B, H, W, C] -> y: [B, Ho, Wo, C]; y = sum_i wy[i] * (sum_j wx[j] * x[iy[i], ix[j]]),
// the inner sum along W first as PyTorch does.
seer_status seer_cpu_resize(seer_tensor *y, const seer_tensor *x, seer_resize_mode mode,
                            bool align_corners) {
    SEER_TRY(need_f32("resize", x));
    int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    int64_t Ho = y->shape[1], Wo = y->shape[2];
    int ntaps = mode == SEER_RESIZE_NEAREST ? 1 : mode == SEER_RESIZE_BILINEAR ? 2 : 4;
    resize_taps *ty = malloc((size_t)(Ho + Wo) * sizeof *ty);
    if (!ty) return seer_fail(SEER_STATUS_OOM, "cpu resize: out of host memory");
    resize_taps *tx = ty + Ho;
    resize_axis(ty, H, Ho, mode, align_corners);
    resize_axis(tx, W, Wo, mode, align_corners);
    const float *xp = x->data;
    float *yp = y->data;
    bool oom = false;
#pragma omp parallel if (B * Ho * Wo * C > 16384)
    {
        float *rowacc = malloc((size_t)C * sizeof *rowacc);
        if (!rowacc) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for
        for (int64_t r = 0; r < B * Ho; r++) {
            if (!rowacc) continue;
            int64_t b = r / Ho;
            const resize_taps *vy = &ty[r % Ho];
            for (int64_t ox = 0; ox < Wo; ox++) {
                const resize_taps *vx = &tx[ox];
                float *out = yp + (r * Wo + ox) * C;
                if (ntaps == 1) {
                    memcpy(out, xp + ((b * H + vy->at[0]) * W + vx->at[0]) * C,
                           (size_t)C * sizeof *out);
                    continue;
                }
                for (int64_t ch = 0; ch < C; ch++) out[ch] = 0;
                for (int i = 0; i < ntaps; i++) {
                    const float *src = xp + (b * H + vy->at[i]) * W * C;
                    for (int64_t ch = 0; ch < C; ch++) rowacc[ch] = 0;
                    for (int j = 0; j < ntaps; j++) {
                        const float *px = src + vx->at[j] * C;
                        float wj = vx->w[j];
                        for (int64_t ch = 0; ch < C; ch++) rowacc[ch] += wj * px[ch];
                    }
                    float wi = vy->w[i];
                    for (int64_t ch = 0; ch < C; ch++) out[ch] += wi * rowacc[ch];
                }
            }
        }
        free(rowacc);
    }
    free(ty);
    if (oom) return seer_fail(SEER_STATUS_OOM, "cpu resize: out of host memory");
    return SEER_STATUS_OK;
}

// ---- unfold / fold -------------------------------------------------------------------------

// x: [B, H, W, C] -> y: [B, Ho, Wo, kh * kw, C]; window tap (i, j) of output (oy, ox) reads
// input (oy * sh - ph + i * dh, ox * sw - pw + j * dw), zero outside.
seer_status seer_cpu_unfold(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p) {
    SEER_TRY(need_f32("unfold", x));
    int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    int64_t Ho = y->shape[1], Wo = y->shape[2];
    int kh = p->kernel_h, kw = p->kernel_w;
    const float *xp = x->data;
    float *yp = y->data;
    size_t cbytes = (size_t)C * sizeof *yp;
#pragma omp parallel for if (B * Ho * Wo * kh * kw * C > 65536)
    for (int64_t r = 0; r < B * Ho; r++) {
        int64_t b = r / Ho, oy = r % Ho;
        float *dst = yp + r * Wo * kh * kw * C;
        for (int64_t ox = 0; ox < Wo; ox++) {
            for (int i = 0; i < kh; i++) {
                int64_t iy = oy * p->stride_h - p->pad_h + (int64_t)i * p->dil_h;
                for (int j = 0; j < kw; j++, dst += C) {
                    int64_t ix = ox * p->stride_w - p->pad_w + (int64_t)j * p->dil_w;
                    if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                        memset(dst, 0, cbytes);
                    else
                        memcpy(dst, xp + ((b * H + iy) * W + ix) * C, cbytes);
                }
            }
        }
    }
    return SEER_STATUS_OK;
}

// x: [B, Ho, Wo, kh * kw, C] -> y: [B, H, W, C]. Written as a gather (each output pixel sums
// the window taps that read it) so threads never write the same element.
seer_status seer_cpu_fold(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p) {
    SEER_TRY(need_f32("fold", x));
    int64_t B = y->shape[0], H = y->shape[1], W = y->shape[2], C = y->shape[3];
    int64_t Ho = x->shape[1], Wo = x->shape[2];
    int kh = p->kernel_h, kw = p->kernel_w, kk = kh * kw;
    const float *xp = x->data;
    float *yp = y->data;
#pragma omp parallel for if (B * H * W * kk * C > 65536)
    for (int64_t r = 0; r < B * H; r++) {
        int64_t b = r / H, iy = r % H;
        for (int64_t ix = 0; ix < W; ix++) {
            float *out = yp + (r * W + ix) * C;
            for (int64_t ch = 0; ch < C; ch++) out[ch] = 0;
            for (int i = 0; i < kh; i++) {
                // iy = oy * sh - ph + i * dh  =>  oy = (iy + ph - i * dh) / sh, if exact
                int64_t ny = iy + p->pad_h - (int64_t)i * p->dil_h;
                if (ny < 0 || ny % p->stride_h) continue;
                int64_t oy = ny / p->stride_h;
                if (oy >= Ho) continue;
                for (int j = 0; j < kw; j++) {
                    int64_t nx = ix + p->pad_w - (int64_t)j * p->dil_w;
                    if (nx < 0 || nx % p->stride_w) continue;
                    int64_t ox = nx / p->stride_w;
                    if (ox >= Wo) continue;
                    const float *src = xp + (((b * Ho + oy) * Wo + ox) * kk + i * kw + j) * C;
                    for (int64_t ch = 0; ch < C; ch++) out[ch] += src[ch];
                }
            }
        }
    }
    return SEER_STATUS_OK;
}

// A gather over output pixels, as fold: each pixel sums, in window-slot order, the outputs of
// the windows whose slot lands on it, each computed there from the window's value slots. Rows
// of output pixels are independent (no races), and nothing of size [B, Ho, Wo, kk, C] is made.
seer_status seer_cpu_outlook_fold(seer_tensor *y, const seer_tensor *v, const seer_tensor *attn,
                                  int heads, const seer_unfold_params *p) {
    SEER_TRY(need_f32("outlook_fold", v));
    SEER_TRY(need_f32("outlook_fold", attn));
    const int64_t B = v->shape[0], H = v->shape[1], W = v->shape[2], C = v->shape[3];
    const int64_t Ho = attn->shape[1], Wo = attn->shape[2], d = C / heads;
    const int kh = p->kernel_h, kw = p->kernel_w, kk = kh * kw;
    const float *vp = v->data, *ap = attn->data;
    float *yp = y->data;
#pragma omp parallel for if (B * H * W * kk * kk * C > 65536)
    for (int64_t r = 0; r < B * H; r++) {
        const int64_t b = r / H, iy = r % H;
        for (int64_t ix = 0; ix < W; ix++) {
            float *out = yp + (r * W + ix) * C;
            for (int64_t ch = 0; ch < C; ch++) out[ch] = 0;
            for (int i = 0; i < kh; i++) {
                // iy = oy * sh - ph + i * dh  =>  oy = (iy + ph - i * dh) / sh, if exact
                int64_t ny = iy + p->pad_h - (int64_t)i * p->dil_h;
                if (ny < 0 || ny % p->stride_h || ny / p->stride_h >= Ho) continue;
                const int64_t oy = ny / p->stride_h;
                for (int j = 0; j < kw; j++) {
                    int64_t nx = ix + p->pad_w - (int64_t)j * p->dil_w;
                    if (nx < 0 || nx % p->stride_w || nx / p->stride_w >= Wo) continue;
                    const int64_t ox = nx / p->stride_w;
                    // this pixel is output slot a of window (oy, ox)
                    const int a = i * kw + j;
                    const float *w = ap + ((b * Ho + oy) * Wo + ox) * heads * kk * kk + a * kk;
                    for (int t = 0; t < kk; t++) {
                        const int ti = t / kw, tj = t % kw;
                        int64_t sy = oy * p->stride_h - p->pad_h + (int64_t)ti * p->dil_h;
                        int64_t sx = ox * p->stride_w - p->pad_w + (int64_t)tj * p->dil_w;
                        if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue; // a zero value
                        const float *src = vp + ((b * H + sy) * W + sx) * C;
                        for (int n = 0; n < heads; n++) {
                            const float wt = w[(int64_t)n * kk * kk + t];
                            const float *s = src + n * d;
                            float *o = out + n * d;
                            for (int64_t e = 0; e < d; e++) o[e] += wt * s[e];
                        }
                    }
                }
            }
        }
    }
    return SEER_STATUS_OK;
}
