// CPU scaled dot-product attention: o = softmax(scale * q k^T + bias) v, one (batch, head,
// block of query rows) per task. The score block is at most ATTN_ROWS x Lk floats, so memory
// stays bounded for long sequences; the two products go through BLAS when built with it.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

#define ATTN_ROWS 256  // query rows per task

// s: [m, lk] = scale * q [m, d] @ k[lk, d]^T
static void scores(float *s, const float *q, const float *k, int64_t m, int64_t lk, int64_t d,
                   float scale) {
    seer_cpu_sgemm(false, true, m, lk, d, scale, q, d, k, d, 0.0f, s, lk);
}

// o: [m, dv] = p [m, lk] @ v [lk, dv]
static void weighted_sum(float *o, const float *p, const float *v, int64_t m, int64_t lk,
                         int64_t dv) {
    seer_cpu_sgemm(false, false, m, dv, lk, 1.0f, p, lk, v, dv, 0.0f, o, dv);
}

// In place over one row of n scores: add the bias row (may be NULL or hold -inf), then
// softmax. A row with every entry at -inf becomes zeros (so its output is zeros).
static void softmax_row(float *s, const float *bias, int64_t n) {
    if (bias)
        for (int64_t j = 0; j < n; j++) s[j] += bias[j];
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        if (s[j] > mx) mx = s[j];
    if (mx == -INFINITY) {
        memset(s, 0, (size_t)n * sizeof *s);
        return;
    }
    float sum = 0;
    for (int64_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; j++) s[j] *= inv;
}

// q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv], bias: NULL or [Bb, Hb, Lq, Lk],
// o: [B, H, Lq, Dv]; all contiguous F32.
seer_status seer_cpu_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                               const seer_tensor *v, const seer_tensor *bias, float scale) {
    const seer_tensor *ts[] = {q, k, v, bias};
    for (int i = 0; i < 4; i++)
        if (ts[i] && ts[i]->dtype != SEER_F32)
            return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu attention: %s inputs (f32 only)",
                             seer_dtype_name(ts[i]->dtype));
    int64_t B = q->shape[0], H = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    int64_t Lk = k->shape[2], Dv = v->shape[3];
    if (seer_tensor_numel(o) == 0) return SEER_STATUS_OK;
    if (Lk == 0) {  // nothing to attend to: every row is "fully masked"
        memset(o->data, 0, seer_tensor_nbytes(o));
        return SEER_STATUS_OK;
    }
    int64_t bb = bias ? bias->shape[0] : 0, hb = bias ? bias->shape[1] : 0;
    int64_t blocks = (Lq + ATTN_ROWS - 1) / ATTN_ROWS, tasks = B * H * blocks;
    int64_t rows = Lq < ATTN_ROWS ? Lq : ATTN_ROWS;
    const float *qp = q->data, *kp = k->data, *vp = v->data, *bp = bias ? bias->data : NULL;
    float *op = o->data;
    // Enough tasks for every thread: OpenMP over tasks, each BLAS call single-threaded (the
    // OpenMP build of OpenBLAS that CMake links runs serially inside a parallel region).
    // Otherwise one task at a time with BLAS's own threads.
    bool outer = tasks > 1 && tasks >= omp_get_max_threads();
    bool oom = false;
#pragma omp parallel if (outer)
    {
        float *s = seer_cpu_scratch((size_t)(rows * Lk) * sizeof *s);
        if (!s) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(dynamic)
        for (int64_t t = 0; t < tasks; t++) {
            if (!s) continue;
            int64_t bh = t / blocks, r0 = (t % blocks) * ATTN_ROWS;
            int64_t b = bh / H, h = bh % H;
            int64_t m = Lq - r0 < ATTN_ROWS ? Lq - r0 : ATTN_ROWS;
            const float *qt = qp + (bh * Lq + r0) * D;
            if (D)
                scores(s, qt, kp + bh * Lk * D, m, Lk, D, scale);
            else  // empty dot products (BLAS would refuse a leading dimension of 0)
                memset(s, 0, (size_t)(m * Lk) * sizeof *s);
            // bias row r of this block, broadcast over batch and head where its size is 1
            const float *brow = NULL;
            if (bp) brow = bp + (((bb == 1 ? 0 : b) * hb + (hb == 1 ? 0 : h)) * Lq + r0) * Lk;
            for (int64_t i = 0; i < m; i++)
                softmax_row(s + i * Lk, brow ? brow + i * Lk : NULL, Lk);
            weighted_sum(op + (bh * Lq + r0) * Dv, s, vp + bh * Lk * Dv, m, Lk, Dv);
        }
    }
    if (oom) return seer_fail(SEER_STATUS_OOM, "cpu attention: out of host memory for scores");
    return SEER_STATUS_OK;
}
