// CPU normalization kernels: layer, RMS, group (channels-last) and inference batch norm (F32).
// Statistics accumulate in double and the variance takes a second pass over the centred
// values, so inputs with a large mean do not lose the variance to cancellation.
#include <math.h>
#include <stdlib.h>

#include "core/cpu/cpu_kernels.h"

#define SEER_CPU_NORM_PARALLEL 32768

static seer_status refuse_dtype(const char *op, seer_dtype dt) {
    return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu %s: dtype %s is not supported (f32 only)", op,
                     seer_dtype_name(dt));
}

static inline const float *param(const seer_tensor *t) {
    return t ? (const float *)t->data : NULL;
}

// x, y: contiguous [rows, C]; w, b: [C] or NULL. Biased variance, eps inside the sqrt.
seer_status seer_cpu_layer_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                const seer_tensor *b, float eps) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32) return refuse_dtype("layer_norm", x->dtype);
    int64_t numel = seer_tensor_numel(x);
    int64_t C = x->shape[x->ndim - 1];
    if (numel == 0 || C == 0) return SEER_STATUS_OK;
    int64_t rows = numel / C;
    const float *xp = x->data, *wp = param(w), *bp = param(b);
    float *yp = y->data;
#pragma omp parallel for if (numel > SEER_CPU_NORM_PARALLEL)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xp + r * C;
        float *yr = yp + r * C;
        double sum = 0;
        for (int64_t j = 0; j < C; j++)
            sum += xr[j];
        double mean = sum / (double)C, sq = 0;
        for (int64_t j = 0; j < C; j++) {
            double d = xr[j] - mean;
            sq += d * d;
        }
        float rstd = (float)(1.0 / sqrt(sq / (double)C + eps));
        float mf = (float)mean;
        for (int64_t j = 0; j < C; j++) {
            float v = (xr[j] - mf) * rstd;
            if (wp) v *= wp[j];
            if (bp) v += bp[j];
            yr[j] = v;
        }
    }
    return SEER_STATUS_OK;
}

// y = x / sqrt(mean(x^2) + eps) * w over the last dim.
seer_status seer_cpu_rms_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                              float eps) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32) return refuse_dtype("rms_norm", x->dtype);
    int64_t numel = seer_tensor_numel(x);
    int64_t C = x->shape[x->ndim - 1];
    if (numel == 0 || C == 0) return SEER_STATUS_OK;
    int64_t rows = numel / C;
    const float *xp = x->data, *wp = param(w);
    float *yp = y->data;
#pragma omp parallel for if (numel > SEER_CPU_NORM_PARALLEL)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xp + r * C;
        float *yr = yp + r * C;
        double sq = 0;
        for (int64_t j = 0; j < C; j++)
            sq += (double)xr[j] * xr[j];
        float rinv = (float)(1.0 / sqrt(sq / (double)C + eps));
        for (int64_t j = 0; j < C; j++)
            yr[j] = wp ? xr[j] * rinv * wp[j] : xr[j] * rinv;
    }
    return SEER_STATUS_OK;
}

// x, y: contiguous [B, P, C] (P = product of the spatial dims), C = groups * cg. Each
// (batch, group) pair normalizes its P x cg block; pairs are independent, one per iteration.
seer_status seer_cpu_group_norm(seer_tensor *y, const seer_tensor *x, int groups,
                                const seer_tensor *w, const seer_tensor *b, float eps) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32) return refuse_dtype("group_norm", x->dtype);
    if (x->ndim < 2 || groups < 1 || x->shape[x->ndim - 1] % groups != 0)
        return seer_fail(SEER_STATUS_SHAPE, "cpu group_norm: %d groups do not fit the input",
                         groups);
    int64_t numel = seer_tensor_numel(x);
    int64_t B = x->shape[0], C = x->shape[x->ndim - 1];
    if (numel == 0) return SEER_STATUS_OK;
    int64_t P = numel / (B * C), cg = C / groups;
    const float *xp = x->data, *wp = param(w), *bp = param(b);
    float *yp = y->data;
#pragma omp parallel for if (numel > SEER_CPU_NORM_PARALLEL)
    for (int64_t u = 0; u < B * groups; u++) {
        int64_t bi = u / groups, c0 = (u % groups) * cg;
        const float *xb = xp + bi * P * C + c0;
        float *yb = yp + bi * P * C + c0;
        double sum = 0;
        for (int64_t p = 0; p < P; p++)
            for (int64_t j = 0; j < cg; j++)
                sum += xb[p * C + j];
        double cnt = (double)(P * cg), mean = sum / cnt, sq = 0;
        for (int64_t p = 0; p < P; p++)
            for (int64_t j = 0; j < cg; j++) {
                double d = xb[p * C + j] - mean;
                sq += d * d;
            }
        float rstd = (float)(1.0 / sqrt(sq / cnt + eps));
        float mf = (float)mean;
        for (int64_t p = 0; p < P; p++)
            for (int64_t j = 0; j < cg; j++) {
                float v = (xb[p * C + j] - mf) * rstd;
                if (wp) v *= wp[c0 + j];
                if (bp) v += bp[c0 + j];
                yb[p * C + j] = v;
            }
    }
    return SEER_STATUS_OK;
}

// y = (x - mean) * (w / sqrt(var + eps)) + b over the last dim; mean, var: [C]; w, b: [C]
// or NULL. The per-channel factor is computed once per call.
seer_status seer_cpu_batch_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *mean,
                                const seer_tensor *var, const seer_tensor *w, const seer_tensor *b,
                                float eps) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32) return refuse_dtype("batch_norm", x->dtype);
    int64_t numel = seer_tensor_numel(x);
    int64_t C = x->shape[x->ndim - 1];
    if (numel == 0 || C == 0) return SEER_STATUS_OK;
    float *factor = malloc((size_t)C * sizeof *factor);
    if (!factor) return seer_fail(SEER_STATUS_OOM, "cpu batch_norm: out of host memory");
    const float *mp = mean->data, *vp = var->data, *wp = param(w), *bp = param(b);
    for (int64_t j = 0; j < C; j++)
        factor[j] = (float)((wp ? wp[j] : 1.0) / sqrt((double)vp[j] + eps));
    int64_t rows = numel / C;
    const float *xp = x->data;
    float *yp = y->data;
#pragma omp parallel for if (numel > SEER_CPU_NORM_PARALLEL)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xp + r * C;
        float *yr = yp + r * C;
        if (bp)
            for (int64_t j = 0; j < C; j++)
                yr[j] = (xr[j] - mp[j]) * factor[j] + bp[j];
        else
            for (int64_t j = 0; j < C; j++)
                yr[j] = (xr[j] - mp[j]) * factor[j];
    }
    free(factor);
    return SEER_STATUS_OK;
}
