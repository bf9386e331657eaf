// CPU routed region attention (see seer_region_attention in core/ops.h): one task per (batch,
// head, region). The routed regions' keys and values (rows of D contiguous values, other strides
// as q, k, v come) are copied into a per-thread scratch, then the region's P queries go through two small GEMMs
// and a softmax between them, as one block of dense attention: nothing of the size of all the
// gathered K/V or of all the scores is made.
#include <math.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

static inline int64_t region_at(const seer_tensor *idx, int64_t i) {
    return idx->dtype == SEER_I64 ? ((const int64_t *)idx->data)[i]
                                  : (int64_t)((const int32_t *)idx->data)[i];
}

// What every task reads, for seer_cpu_parallel_tasks. sq, sk, sv, so: the strides of q, k, v
// and o over (B, m, R, P) in elements (their last dims are contiguous).
typedef struct region_job {
    const seer_tensor *idx;
    const float *q, *k, *v;
    float *o, scale;
    int64_t m, R, P, D, Dv, topk;
    int64_t sq[4], sk[4], sv[4], so[4];
} region_job;

// Row p of region `reg` of head n of image b in a tensor of strides s.
static inline const float *region_row(const float *t, const int64_t *s, int64_t b, int64_t n,
                                      int64_t reg, int64_t p) {
    return t + b * s[0] + n * s[1] + reg * s[2] + p * s[3];
}

// Task t = (b * m + n) * R + r: region r's P queries of head n, image b.
static void region_run(int64_t t, float *scratch, void *user) {
    const region_job *j = user;
    const int64_t R = j->R, P = j->P, D = j->D, Dv = j->Dv, topk = j->topk, L = topk * P;
    const int64_t r = t % R, bn = t / R, b = bn / j->m, n = bn % j->m;
    float *kw = scratch, *vw = kw + L * D, *s = vw + L * Dv; // [L, D], [L, Dv], [P, L]
    for (int64_t i = 0; i < topk; i++) {
        const int64_t reg = region_at(j->idx, (b * R + r) * topk + i);
        for (int64_t p = 0; p < P; p++) {
            memcpy(kw + (i * P + p) * D, region_row(j->k, j->sk, b, n, reg, p),
                   (size_t)D * sizeof *kw);
            memcpy(vw + (i * P + p) * Dv, region_row(j->v, j->sv, b, n, reg, p),
                   (size_t)Dv * sizeof *vw);
        }
    }
    seer_cpu_sgemm(false, true, P, L, D, j->scale, region_row(j->q, j->sq, b, n, r, 0),
                   P > 1 ? j->sq[3] : D, kw, D, 0.0f, s, L);
    for (int64_t i = 0; i < P; i++) {
        float *row = s + i * L, mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < L; c++) mx = row[c] > mx ? row[c] : mx;
        for (int64_t c = 0; c < L; c++) sum += row[c] = expf(row[c] - mx);
        const float inv = 1.0f / sum;
        for (int64_t c = 0; c < L; c++) row[c] *= inv;
    }
    float *o = j->o + b * j->so[0] + n * j->so[1] + r * j->so[2];
    seer_cpu_sgemm(false, false, P, Dv, L, 1.0f, s, L, vw, Dv, 0.0f, o, P > 1 ? j->so[3] : Dv);
}

seer_status seer_cpu_region_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                      const seer_tensor *v, const seer_tensor *idx, float scale) {
    if (q->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu region_attention computes in f32 only");
    const int64_t B = q->shape[0], m = q->shape[1], R = q->shape[2], P = q->shape[3];
    const int64_t D = q->shape[4], Dv = v->shape[4], topk = idx->shape[2], L = topk * P;
    for (int64_t i = 0, total = B * R * topk; i < total; i++) { // before any work
        int64_t reg = region_at(idx, i);
        if (reg < 0 || reg >= R)
            return seer_fail(SEER_STATUS_SHAPE,
                             "region_attention: region %lld (element %lld of idx) is out of "
                             "range for %lld regions", (long long)reg, (long long)i, (long long)R);
    }
    const int64_t tasks = B * m * R;
    if (tasks == 0 || P == 0 || Dv == 0) return SEER_STATUS_OK;
    region_job j = {.idx = idx, .q = q->data, .k = k->data, .v = v->data, .o = o->data,
                    .scale = scale, .m = m, .R = R, .P = P, .D = D, .Dv = Dv, .topk = topk};
    memcpy(j.sq, q->stride, sizeof j.sq);
    memcpy(j.sk, k->stride, sizeof j.sk);
    memcpy(j.sv, v->stride, sizeof j.sv);
    memcpy(j.so, o->stride, sizeof j.so);
    // Tasks are small (a region's products): OpenMP over them, BLAS single-threaded inside.
    return seer_cpu_parallel_tasks("region_attention", tasks,
                                   (size_t)(L * D + L * Dv + P * L) * sizeof(float), region_run, &j);
}
