// CPU routed region attention (see seer_region_attention in core/ops.h): one task per (batch,
// head, query pixel); the scores of its topk * P keys in a per-thread scratch buffer. Reads
// the routed regions' keys and values in place: nothing is gathered.
#include <math.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

static inline int64_t region_at(const seer_tensor *idx, int64_t i) {
    return idx->dtype == SEER_I64 ? ((const int64_t *)idx->data)[i]
                                  : (int64_t)((const int32_t *)idx->data)[i];
}

seer_status seer_cpu_region_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                      const seer_tensor *v, const seer_tensor *idx, float scale) {
    if (q->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu region_attention computes in f32 only");
    const int64_t B = q->shape[0], m = q->shape[1], R = q->shape[2], P = q->shape[3];
    const int64_t D = q->shape[4], Dv = v->shape[4], topk = idx->shape[2], n = topk * P;
    for (int64_t i = 0, total = B * R * topk; i < total; i++) { // before any work
        int64_t reg = region_at(idx, i);
        if (reg < 0 || reg >= R)
            return seer_fail(SEER_STATUS_SHAPE,
                             "region_attention: region %lld (element %lld of idx) is out of "
                             "range for %lld regions", (long long)reg, (long long)i, (long long)R);
    }
    const float *qp = q->data, *kp = k->data, *vp = v->data;
    float *op = o->data;
    const int64_t rows = B * m * R * P;
    bool oom = false;
#pragma omp parallel
    {
        float *s = seer_cpu_scratch((size_t)(n > 0 ? n : 1) * sizeof *s);
        if (!s) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(static)
        for (int64_t row = 0; row < rows; row++) {
            if (!s) continue;
            const int64_t r = (row / P) % R, bn = row / (P * R), b = bn / m;
            const float *qr = qp + row * D;
            float *orow = op + row * Dv;
            float mx = -INFINITY;
            for (int64_t t = 0; t < topk; t++) {
                const int64_t reg = region_at(idx, (b * R + r) * topk + t);
                const float *kr = kp + (bn * R + reg) * P * D;
                for (int64_t p = 0; p < P; p++, kr += D) {
                    float dot = 0;
                    for (int64_t e = 0; e < D; e++) dot += qr[e] * kr[e];
                    s[t * P + p] = scale * dot;
                    if (s[t * P + p] > mx) mx = s[t * P + p];
                }
            }
            float sum = 0;
            for (int64_t j = 0; j < n; j++) sum += s[j] = expf(s[j] - mx);
            memset(orow, 0, (size_t)Dv * sizeof *orow);
            for (int64_t t = 0; t < topk; t++) {
                const int64_t reg = region_at(idx, (b * R + r) * topk + t);
                const float *vr = vp + (bn * R + reg) * P * Dv;
                for (int64_t p = 0; p < P; p++, vr += Dv) {
                    const float w = s[t * P + p] / sum;
                    for (int64_t e = 0; e < Dv; e++) orow[e] += w * vr[e];
                }
            }
        }
    }
    if (oom) return seer_fail(SEER_STATUS_OOM, "cpu region_attention: out of host memory");
    return SEER_STATUS_OK;
}
