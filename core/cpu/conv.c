// CPU 2-D convolution, NHWC activations and OHWI weights.
// Four paths: the direct kernel of conv_direct.c (small channel counts, AVX2/AVX-512),
// depthwise (direct loop: large dilated depthwise kernels, as in VAN, would make
// im2col buffers kh*kw times the input for little arithmetic), 1x1 stride 1 (the input already
// is the [B*H*W, C_in] matrix) and the general im2col + SGEMM.
#include <stdlib.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

// Upper bound of one im2col tile, in floats (32 MiB): big enough for long SGEMMs, small
// enough that a high-resolution input does not need a buffer kh*kw times its size.
#define IM2COL_TILE_FLOATS ((int64_t)8 << 20)

typedef struct conv_dims {
    int64_t b, h, w, cin; // x: [B, H, W, C_in]
    int64_t ho, wo, cout; // y: [B, Ho, Wo, C_out]
    int64_t kh, kw;       // w: [C_out, kh, kw, C_in / groups]
    int64_t sh, sw, ph, pw, dh, dw, groups;
} conv_dims;

// y rows [0, rows) = bias, or 0 (SGEMM then accumulates with beta = 1).
static void init_rows(float *y, int64_t rows, int64_t cout, const seer_tensor *b) {
    const float *bv = b ? b->data : NULL;
#pragma omp parallel for if (rows * cout > 65536)
    for (int64_t r = 0; r < rows; r++) {
        float *row = y + r * cout;
        if (bv)
            memcpy(row, bv, (size_t)cout * sizeof *row);
        else
            memset(row, 0, (size_t)cout * sizeof *row);
    }
}

// groups == C_in == C_out: y[b, oy, ox, c] = sum_{i,j} x[b, oy*s - p + i*d, ox*s - p + j*d, c]
// * w[c, i, j, 0]. The weight is first transposed to [kh*kw, C] so the innermost loop runs
// over contiguous channels of both x and the weight.
static seer_status conv_depthwise(float *y, const float *x, const float *w, const float *bias,
                                  const conv_dims *d) {
    const int64_t c = d->cin, taps = d->kh * d->kw;
    float *wt = malloc((size_t)(taps * c) * sizeof *wt);
    if (!wt) return seer_fail(SEER_STATUS_OOM, "out of host memory for a depthwise weight");
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t t = 0; t < taps; t++)
            wt[t * c + ch] = w[ch * taps + t];

#pragma omp parallel for collapse(2)
    for (int64_t bi = 0; bi < d->b; bi++) {
        for (int64_t oy = 0; oy < d->ho; oy++) {
            for (int64_t ox = 0; ox < d->wo; ox++) {
                float *yp = y + ((bi * d->ho + oy) * d->wo + ox) * c;
                if (bias)
                    memcpy(yp, bias, (size_t)c * sizeof *yp);
                else
                    memset(yp, 0, (size_t)c * sizeof *yp);
                for (int64_t i = 0; i < d->kh; i++) {
                    int64_t iy = oy * d->sh - d->ph + i * d->dh;
                    if (iy < 0 || iy >= d->h) continue;
                    for (int64_t j = 0; j < d->kw; j++) {
                        int64_t ix = ox * d->sw - d->pw + j * d->dw;
                        if (ix < 0 || ix >= d->w) continue;
                        const float *xp = x + ((bi * d->h + iy) * d->w + ix) * c;
                        const float *wp = wt + (i * d->kw + j) * c;
                        for (int64_t ch = 0; ch < c; ch++)
                            yp[ch] += xp[ch] * wp[ch];
                    }
                }
            }
        }
    }
    free(wt);
    return SEER_STATUS_OK;
}

// col[p - p0, g, i, j, :] = x[b, oy*s - p + i*d, ox*s - p + j*d, g*Cg : (g+1)*Cg] (0 outside)
// for global output positions p in [p0, p0 + np), p = (b*Ho + oy)*Wo + ox. Grouping the
// columns by group makes each group's block a [np, kh*kw*Cg] matrix with leading dim
// kh*kw*C_in, so one SGEMM per group reads it in place.
static void im2col(float *col, const float *x, const conv_dims *d, int64_t p0, int64_t np) {
    const int64_t cg = d->cin / d->groups, taps = d->kh * d->kw;
    const int64_t row = taps * d->cin, kg = taps * cg;
#pragma omp parallel for if (np * row > 32768)
    for (int64_t q = 0; q < np; q++) {
        int64_t p = p0 + q;
        int64_t ox = p % d->wo, oy = (p / d->wo) % d->ho, bi = p / (d->wo * d->ho);
        float *cr = col + q * row;
        for (int64_t i = 0; i < d->kh; i++) {
            int64_t iy = oy * d->sh - d->ph + i * d->dh;
            for (int64_t j = 0; j < d->kw; j++) {
                int64_t ix = ox * d->sw - d->pw + j * d->dw;
                int64_t t = i * d->kw + j;
                bool inside = iy >= 0 && iy < d->h && ix >= 0 && ix < d->w;
                const float *xp = inside ? x + ((bi * d->h + iy) * d->w + ix) * d->cin : NULL;
                if (d->groups == 1) {
                    if (inside)
                        memcpy(cr + t * cg, xp, (size_t)cg * sizeof *cr);
                    else
                        memset(cr + t * cg, 0, (size_t)cg * sizeof *cr);
                    continue;
                }
                for (int64_t g = 0; g < d->groups; g++) {
                    float *dst = cr + g * kg + t * cg;
                    if (inside)
                        memcpy(dst, xp + g * cg, (size_t)cg * sizeof *dst);
                    else
                        memset(dst, 0, (size_t)cg * sizeof *dst);
                }
            }
        }
    }
}

// y[p, g*Cog : (g+1)*Cog] += A_g[p, :] @ W_g^T for every group, where A_g is the [np, K]
// block at a + g*K with leading dim lda, W_g = w[g*Cog : (g+1)*Cog] is [Cog, K].
static void gemm_groups(float *y, const float *a, int64_t lda, const float *w, int64_t np,
                        int64_t k, const conv_dims *d) {
    const int64_t cog = d->cout / d->groups;
    for (int64_t g = 0; g < d->groups; g++)
        seer_cpu_sgemm(false, true, np, cog, k, 1.0f, a + g * k, lda, w + g * cog * k, k, 1.0f,
                       y + g * cog, d->cout);
}

// x: [B, H, W, C_in]; w: [C_out, kh, kw, C_in/groups]; b: [C_out] or NULL; y: [B, Ho, Wo,
// C_out]; all contiguous; p normalized by the front.
seer_status seer_cpu_conv2d(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                            const seer_tensor *b, const seer_conv2d_params *p) {
    if (x->dtype != SEER_F32 || w->dtype != SEER_F32 || y->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu conv2d computes in f32 only, got %s",
                         seer_dtype_name(x->dtype));
    conv_dims d = {
        .b = x->shape[0],
        .h = x->shape[1],
        .w = x->shape[2],
        .cin = x->shape[3],
        .ho = y->shape[1],
        .wo = y->shape[2],
        .cout = y->shape[3],
        .kh = w->shape[1],
        .kw = w->shape[2],
        .sh = p->stride_h,
        .sw = p->stride_w,
        .ph = p->pad_h,
        .pw = p->pad_w,
        .dh = p->dil_h,
        .dw = p->dil_w,
        .groups = p->groups,
    };
    const float *xp = x->data, *wp = w->data;
    float *yp = y->data;
    const int64_t positions = d.b * d.ho * d.wo;
    if (positions == 0 || d.cout == 0) return SEER_STATUS_OK;

    if (seer_cpu_conv2d_direct_fits(y, x, w, p))
        return seer_cpu_conv2d_direct(y, x, w, b, p, NULL, false);
    if (d.groups > 1 && d.groups == d.cin && d.groups == d.cout)
        return conv_depthwise(yp, xp, wp, b ? b->data : NULL, &d);

    init_rows(yp, positions, d.cout, b);
    const int64_t cg = d.cin / d.groups, kg = d.kh * d.kw * cg, row = d.kh * d.kw * d.cin;
    if (d.kh == 1 && d.kw == 1 && d.sh == 1 && d.sw == 1 && d.ph == 0 && d.pw == 0) {
        // Output pixel p reads input pixel p: x is already the [B*H*W, C_in] column matrix.
        gemm_groups(yp, xp, d.cin, wp, positions, kg, &d);
        return SEER_STATUS_OK;
    }

    int64_t tile = IM2COL_TILE_FLOATS / (row > 0 ? row : 1);
    if (tile < 1) tile = 1;
    if (tile > positions) tile = positions;
    float *col = seer_cpu_scratch((size_t)(tile * row) * sizeof *col + 1);
    if (!col)
        return seer_fail(SEER_STATUS_OOM, "out of host memory for a %lld x %lld im2col buffer",
                         (long long)tile, (long long)row);
    for (int64_t p0 = 0; p0 < positions; p0 += tile) {
        int64_t np = positions - p0 < tile ? positions - p0 : tile;
        im2col(col, xp, &d, p0, np);
        gemm_groups(yp + p0 * d.cout, col, row, wp, np, kg, &d);
    }
    return SEER_STATUS_OK;
}

// conv2d, then y += residual, then ReLU: in the direct kernel's epilogue when it applies,
// else as one pass over y after the general paths.
seer_status seer_cpu_conv2d_fused(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                  const seer_tensor *b, const seer_conv2d_params *p,
                                  const seer_tensor *residual, bool relu) {
    if (seer_cpu_conv2d_direct_fits(y, x, w, p))
        return seer_cpu_conv2d_direct(y, x, w, b, p, residual, relu);
    SEER_TRY(seer_cpu_conv2d(y, x, w, b, p));
    if (!residual && !relu) return SEER_STATUS_OK;
    float *yp = y->data;
    const float *rp = residual ? residual->data : NULL;
    const int64_t n = seer_tensor_numel(y);
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float v = yp[i] + (rp ? rp[i] : 0.0f);
        yp[i] = relu && v < 0.0f ? 0.0f : v;
    }
    return SEER_STATUS_OK;
}
