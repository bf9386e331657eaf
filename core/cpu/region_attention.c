// CPU routed region attention (see seer_region_attention in core/ops.h): one task per (batch,
// head, region). The routed regions' keys and values (rows of D contiguous values, placed as
// core/region_layout.h says: regions or map form) are copied into a per-thread scratch, then
// the region's P queries go through two small GEMMs and a softmax between them, as one block
// of dense attention: nothing of the size of all the gathered K/V or of all the scores is
// made. The GEMMs read the queries and write the output in place when the region's P pixels
// (the GEMMs' rows) are evenly strided (the regions form; a map whose regions span its width),
// else through the scratch (a region of a map: h runs of w pixels).
#include <math.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"
#include "core/region_layout.h"

static inline int64_t region_at(const seer_tensor *idx, int64_t i) {
    return idx->dtype == SEER_I64 ? ((const int64_t *)idx->data)[i]
                                  : (int64_t)((const int32_t *)idx->data)[i];
}

// What every task reads, for seer_cpu_parallel_tasks. lq, lo: the row stride of a region's
// queries and outputs when their P rows are evenly strided, else 0 (through the scratch).
typedef struct region_job {
    const seer_tensor *idx;
    const float *q, *k, *v;
    float *o, scale;
    int64_t m, R, P, D, Dv, topk, lq, lo;
    seer_region_layout q_at, k_at, v_at, o_at;
} region_job;

// The stride between consecutive rows of a region when every region's P rows of `cols` values
// are evenly strided (and do not overlap, as a GEMM's leading dimension needs), else 0.
static int64_t even_rows(const seer_region_layout *l, int64_t P, int64_t cols) {
    if (P <= 1) return cols;
    int64_t ld = 0;
    if (l->pw == 1) // a column of pixels (the regions form)
        ld = l->s[4];
    else if (P == l->pw || l->s[4] == l->pw * l->s[5]) // one row of pixels, or rows that adjoin
        ld = l->s[5];
    return ld >= cols ? ld : 0;
}

// Task t = (b * m + n) * R + r: region r's P queries of head n, image b.
static void region_run(int64_t t, float *scratch, void *user) {
    const region_job *j = user;
    const int64_t R = j->R, P = j->P, D = j->D, Dv = j->Dv, topk = j->topk, L = topk * P;
    const int64_t r = t % R, bn = t / R, b = bn / j->m, n = bn % j->m;
    float *kw = scratch, *vw = kw + L * D, *s = vw + L * Dv; // [L, D], [L, Dv], [P, L]
    float *qw = s + P * L, *ow = qw + P * D;                 // [P, D], [P, Dv]: uneven rows
    for (int64_t i = 0; i < topk; i++) {
        const int64_t reg = region_at(j->idx, (b * R + r) * topk + i);
        for (int64_t p = 0; p < P; p++) {
            memcpy(kw + (i * P + p) * D, j->k + seer_region_offset(&j->k_at, b, n, reg, p),
                   (size_t)D * sizeof *kw);
            memcpy(vw + (i * P + p) * Dv, j->v + seer_region_offset(&j->v_at, b, n, reg, p),
                   (size_t)Dv * sizeof *vw);
        }
    }
    const float *q = j->q + seer_region_offset(&j->q_at, b, n, r, 0);
    int64_t lq = j->lq;
    if (!lq) {
        for (int64_t p = 0; p < P; p++)
            memcpy(qw + p * D, j->q + seer_region_offset(&j->q_at, b, n, r, p),
                   (size_t)D * sizeof *qw);
        q = qw, lq = D;
    }
    seer_cpu_sgemm(false, true, P, L, D, j->scale, q, lq, kw, D, 0.0f, s, L);
    for (int64_t i = 0; i < P; i++) {
        float *row = s + i * L, mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < L; c++) mx = row[c] > mx ? row[c] : mx;
        for (int64_t c = 0; c < L; c++) sum += row[c] = expf(row[c] - mx);
        const float inv = 1.0f / sum;
        for (int64_t c = 0; c < L; c++) row[c] *= inv;
    }
    if (j->lo) {
        float *o = j->o + seer_region_offset(&j->o_at, b, n, r, 0);
        seer_cpu_sgemm(false, false, P, Dv, L, 1.0f, s, L, vw, Dv, 0.0f, o, j->lo);
        return;
    }
    seer_cpu_sgemm(false, false, P, Dv, L, 1.0f, s, L, vw, Dv, 0.0f, ow, Dv);
    for (int64_t p = 0; p < P; p++)
        memcpy(j->o + seer_region_offset(&j->o_at, b, n, r, p), ow + p * Dv,
               (size_t)Dv * sizeof *ow);
}

seer_status seer_cpu_region_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                      const seer_tensor *v, const seer_tensor *idx, float scale) {
    if (q->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu region_attention computes in f32 only");
    const int last = q->ndim - 1;
    const int64_t B = q->shape[0], m = q->shape[1], R = seer_region_count(q);
    const int64_t P = seer_region_pixels(q), D = q->shape[last], Dv = v->shape[last];
    const int64_t topk = idx->shape[2], L = topk * P;
    if (R > INT32_MAX || P > INT32_MAX)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "cpu region_attention: %lld regions of %lld pixels (each below 2^31)",
                         (long long)R, (long long)P);
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
                    .scale = scale, .m = m, .R = R, .P = P, .D = D, .Dv = Dv, .topk = topk,
                    .q_at = seer_region_layout_of(q), .k_at = seer_region_layout_of(k),
                    .v_at = seer_region_layout_of(v), .o_at = seer_region_layout_of(o)};
    j.lq = even_rows(&j.q_at, P, D);
    j.lo = even_rows(&j.o_at, P, Dv);
    // Tasks are small (a region's products): OpenMP over them, BLAS single-threaded inside.
    const size_t floats = (size_t)(L * D + L * Dv + P * L + P * D + P * Dv);
    return seer_cpu_parallel_tasks("region_attention", tasks, floats * sizeof(float), region_run,
                                   &j);
}
