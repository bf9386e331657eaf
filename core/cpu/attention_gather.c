// CPU sparse attention over gathered keys (see seer_attention_gather in core/ops.h): one task
// per (batch, head, query row); the n scores live on the stack in chunks, so no buffer grows
// with the sequence.
#include <math.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

static inline int64_t index_at(const seer_tensor *idx, int64_t i) {
    return idx->dtype == SEER_I64 ? ((const int64_t *)idx->data)[i]
                                  : (int64_t)((const int32_t *)idx->data)[i];
}

seer_status seer_cpu_attention_gather(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                      const seer_tensor *v, const seer_tensor *idx, float scale) {
    if (q->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu attention_gather computes in f32 only");
    const int64_t B = q->shape[0], H = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    const int64_t Lk = k->shape[2], Dv = v->shape[3], n = idx->shape[3];
    const int64_t rows = B * H * Lq;
    // Out-of-range indices are an error, found before any work.
    for (int64_t i = 0, total = rows * n; i < total; i++) {
        int64_t j = index_at(idx, i);
        if (j >= Lk)
            return seer_fail(SEER_STATUS_SHAPE,
                             "attention_gather: index %lld (element %lld of idx) is out of range "
                             "for %lld keys", (long long)j, (long long)i, (long long)Lk);
    }
    const float *qp = q->data, *kp = k->data, *vp = v->data;
    float *op = o->data;
    bool oom = false;
#pragma omp parallel
    {
        float *s = seer_cpu_scratch((size_t)(n > 0 ? n : 1) * sizeof *s);
        if (!s) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (!s) continue;
            const int64_t bh = r / Lq;
            const float *qr = qp + r * D, *kb = kp + bh * Lk * D, *vb = vp + bh * Lk * Dv;
            float *orow = op + r * Dv;
            float mx = -INFINITY;
            for (int64_t j = 0; j < n; j++) {
                int64_t key = index_at(idx, r * n + j);
                if (key < 0) {
                    s[j] = -INFINITY;
                    continue;
                }
                const float *kr = kb + key * D;
                float dot = 0;
                for (int64_t e = 0; e < D; e++) dot += qr[e] * kr[e];
                s[j] = scale * dot;
                if (s[j] > mx) mx = s[j];
            }
            memset(orow, 0, (size_t)Dv * sizeof *orow);
            if (mx == -INFINITY) continue;  // only empty slots: zeros
            float sum = 0;
            for (int64_t j = 0; j < n; j++) {
                s[j] = s[j] == -INFINITY ? 0.0f : expf(s[j] - mx);
                sum += s[j];
            }
            for (int64_t j = 0; j < n; j++) {
                if (s[j] == 0.0f) continue;
                const float p = s[j] / sum, *vr = vb + index_at(idx, r * n + j) * Dv;
                for (int64_t e = 0; e < Dv; e++) orow[e] += p * vr[e];
            }
        }
    }
    if (oom) return seer_fail(SEER_STATUS_OOM, "cpu attention_gather: out of host memory");
    return SEER_STATUS_OK;
}
