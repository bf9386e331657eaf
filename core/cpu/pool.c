// CPU pooling over NHWC images: windowed avg/max and adaptive average.
#include <math.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

// x: [B, H, W, C] -> y: [B, Ho, Wo, C] (sizes from the front, stride normalized).
// Window o along a dim starts at o*s - pad. Avg: the window is clipped to the padded extent
// [-pad, H + pad) for the count_include_pad divisor, then to [0, H) for the sum (PyTorch).
// Max ignores padding: the window is clipped to the input (the front keeps it non-empty).
seer_status seer_cpu_pool2d(seer_tensor *y, const seer_tensor *x, const seer_pool2d_params *p) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu pool2d computes in f32 only, got %s",
                         seer_dtype_name(x->dtype));
    const int64_t nb = x->shape[0], h = x->shape[1], w = x->shape[2], c = x->shape[3];
    const int64_t ho = y->shape[1], wo = y->shape[2];
    const int64_t kh = p->kernel_h, kw = p->kernel_w, sh = p->stride_h, sw = p->stride_w;
    const int64_t ph = p->pad_h, pw = p->pad_w;
    const bool is_max = p->mode == SEER_POOL_MAX;
    const float *xp = x->data;
    float *yp = y->data;

#pragma omp parallel for collapse(2)
    for (int64_t bi = 0; bi < nb; bi++) {
        for (int64_t oy = 0; oy < ho; oy++) {
            int64_t y0 = oy * sh - ph, y1 = y0 + kh < h + ph ? y0 + kh : h + ph;
            int64_t span_y = y1 - y0;
            if (y0 < 0) y0 = 0;
            if (y1 > h) y1 = h;
            for (int64_t ox = 0; ox < wo; ox++) {
                int64_t x0 = ox * sw - pw, x1 = x0 + kw < w + pw ? x0 + kw : w + pw;
                int64_t span_x = x1 - x0;
                if (x0 < 0) x0 = 0;
                if (x1 > w) x1 = w;
                float *out = yp + ((bi * ho + oy) * wo + ox) * c;
                if (is_max) {
                    for (int64_t ch = 0; ch < c; ch++)
                        out[ch] = -INFINITY;
                    for (int64_t iy = y0; iy < y1; iy++)
                        for (int64_t ix = x0; ix < x1; ix++) {
                            const float *in = xp + ((bi * h + iy) * w + ix) * c;
                            // NaN wins, as in PyTorch.
                            for (int64_t ch = 0; ch < c; ch++)
                                if (in[ch] > out[ch] || isnan(in[ch])) out[ch] = in[ch];
                        }
                    continue;
                }
                memset(out, 0, (size_t)c * sizeof *out);
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        const float *in = xp + ((bi * h + iy) * w + ix) * c;
                        for (int64_t ch = 0; ch < c; ch++)
                            out[ch] += in[ch];
                    }
                int64_t count = p->count_include_pad ? span_y * span_x : (y1 - y0) * (x1 - x0);
                float div = (float)(count > 0 ? count : 1);
                for (int64_t ch = 0; ch < c; ch++)
                    out[ch] /= div;
            }
        }
    }
    return SEER_STATUS_OK;
}

// x: [B, H, W, C] -> y: [B, oh, ow, C]; window i spans [floor(i*H/oh), ceil((i+1)*H/oh)).
seer_status seer_cpu_adaptive_avg_pool2d(seer_tensor *y, const seer_tensor *x) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "cpu adaptive_avg_pool2d computes in f32 only, got %s",
                         seer_dtype_name(x->dtype));
    const int64_t nb = x->shape[0], h = x->shape[1], w = x->shape[2], c = x->shape[3];
    const int64_t oh = y->shape[1], ow = y->shape[2];
    const float *xp = x->data;
    float *yp = y->data;

#pragma omp parallel for collapse(2)
    for (int64_t bi = 0; bi < nb; bi++) {
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t y0 = oy * h / oh, y1 = ((oy + 1) * h + oh - 1) / oh;
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t x0 = ox * w / ow, x1 = ((ox + 1) * w + ow - 1) / ow;
                float *out = yp + ((bi * oh + oy) * ow + ox) * c;
                memset(out, 0, (size_t)c * sizeof *out);
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        const float *in = xp + ((bi * h + iy) * w + ix) * c;
                        for (int64_t ch = 0; ch < c; ch++)
                            out[ch] += in[ch];
                    }
                float div = (float)((y1 - y0) * (x1 - x0));
                for (int64_t ch = 0; ch < c; ch++)
                    out[ch] /= div;
            }
        }
    }
    return SEER_STATUS_OK;
}
