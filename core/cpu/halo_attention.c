// CPU halo attention (see seer_halo_attention in core/ops.h): one task per (batch, block,
// head). A task gathers its bq^2 queries and its win^2 keys and values (zeros outside the
// map) into a per-thread scratch, so nothing of the size of the unfolded windows or of all
// the logits exists at once; the two products go through BLAS as in cpu attention.
#include <math.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

// The window's geometry and the tensors' row sizes, shared by every task.
typedef struct halo_geom {
    int64_t H, W, Hq, Wq, nhb, nwb;
    int bs, bq, halo, win, nh, dqk, dv;
} halo_geom;

// One (batch b, block (by, bx), head n): out rows of the bq x bq queries.
static void halo_task(const halo_geom *g, int64_t b, int64_t by, int64_t bx, int n, const float *q,
                      const float *kv, const float *hrel, const float *wrel, float *y, float scale,
                      float *scratch) {
    const int bq = g->bq, win = g->win, dqk = g->dqk, dv = g->dv;
    const int64_t lq = (int64_t)bq * bq, lk = (int64_t)win * win;
    const int64_t cq = (int64_t)g->nh * dqk, ckv = (int64_t)g->nh * (dqk + dv),
                  cy = (int64_t)g->nh * dv;
    float *qb = scratch;       // [lq, dqk]
    float *kw = qb + lq * dqk; // [lk, dqk]
    float *vw = kw + lk * dqk; // [lk, dv]
    float *s = vw + lk * dv;   // [lq, lk]
    float *ob = s + lq * lk;   // [lq, dv]
    float *rh = ob + lq * dv;  // [lq, win]: a query's height logits per key row
    float *rw = rh + lq * win; // [lq, win]: its width logits per key column
    for (int64_t r = 0; r < lq; r++) {
        const int64_t Y = by * bq + r / bq, X = bx * bq + r % bq;
        memcpy(qb + r * dqk, q + ((b * g->Hq + Y) * g->Wq + X) * cq + (int64_t)n * dqk,
               (size_t)dqk * sizeof *qb);
    }
    for (int64_t t = 0; t < lk; t++) {
        const int64_t sy = by * g->bs - g->halo + t / win, sx = bx * g->bs - g->halo + t % win;
        if (sy < 0 || sy >= g->H || sx < 0 || sx >= g->W) { // the zero padding
            memset(kw + t * dqk, 0, (size_t)dqk * sizeof *kw);
            memset(vw + t * dv, 0, (size_t)dv * sizeof *vw);
            continue;
        }
        const float *src = kv + ((b * g->H + sy) * g->W + sx) * ckv + (int64_t)n * (dqk + dv);
        memcpy(kw + t * dqk, src, (size_t)dqk * sizeof *kw);
        memcpy(vw + t * dv, src + dqk, (size_t)dv * sizeof *vw);
    }
    // timm's rel_logits_1d: query (y, x) against key row i reads height_rel[win - 1 + i - y],
    // against key column j width_rel[win - 1 + j - x]; one [win] row of each per query.
    for (int64_t r = 0; r < lq; r++) {
        const int yy = (int)(r / bq), xx = (int)(r % bq);
        const float *qr = qb + r * dqk;
        for (int i = 0; i < win; i++) {
            const float *th = hrel + (int64_t)(win - 1 + i - yy) * dqk;
            const float *tw = wrel + (int64_t)(win - 1 + i - xx) * dqk;
            float dh = 0, dw = 0;
            for (int e = 0; e < dqk; e++) {
                dh += qr[e] * th[e];
                dw += qr[e] * tw[e];
            }
            rh[r * win + i] = dh;
            rw[r * win + i] = dw;
        }
    }
    seer_cpu_sgemm(false, true, lq, lk, dqk, scale, qb, dqk, kw, dqk, 0.0f, s, lk);
    for (int64_t r = 0; r < lq; r++) {
        float *row = s + r * lk, mx = -INFINITY;
        const float *hr = rh + r * win, *wr = rw + r * win;
        for (int64_t t = 0; t < lk; t++) {
            row[t] += hr[t / win] + wr[t % win]; // the composition's bias, added as one value
            if (row[t] > mx) mx = row[t];
        }
        float sum = 0;
        for (int64_t t = 0; t < lk; t++) {
            row[t] = expf(row[t] - mx);
            sum += row[t];
        }
        const float inv = 1.0f / sum;
        for (int64_t t = 0; t < lk; t++)
            row[t] *= inv;
    }
    seer_cpu_sgemm(false, false, lq, dv, lk, 1.0f, s, lk, vw, dv, 0.0f, ob, dv);
    for (int64_t r = 0; r < lq; r++) {
        const int64_t Y = by * bq + r / bq, X = bx * bq + r % bq;
        memcpy(y + ((b * g->Hq + Y) * g->Wq + X) * cy + (int64_t)n * dv, ob + r * dv,
               (size_t)dv * sizeof *ob);
    }
}

// What every task reads, for seer_cpu_parallel_tasks.
typedef struct halo_job {
    halo_geom g;
    const float *q, *kv, *hrel, *wrel;
    float *y, scale;
} halo_job;

// Task t = ((b * nhb + by) * nwb + bx) * nh + n.
static void halo_run(int64_t t, float *scratch, void *user) {
    const halo_job *j = user;
    const halo_geom *g = &j->g;
    const int n = (int)(t % g->nh);
    int64_t r = t / g->nh;
    const int64_t bx = r % g->nwb;
    r /= g->nwb;
    halo_task(g, r / g->nhb, r % g->nhb, bx, n, j->q, j->kv, j->hrel, j->wrel, j->y, j->scale,
              scratch);
}

seer_status seer_cpu_halo_attention(seer_tensor *y, const seer_tensor *q, const seer_tensor *kv,
                                    const seer_tensor *height_rel, const seer_tensor *width_rel,
                                    const seer_halo_params *p) {
    if (q->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu halo_attention: %s inputs (f32 only)",
                         seer_dtype_name(q->dtype));
    halo_geom g = {.H = kv->shape[1],
                   .W = kv->shape[2],
                   .Hq = q->shape[1],
                   .Wq = q->shape[2],
                   .bs = p->block_size,
                   .halo = p->halo_size,
                   .nh = p->heads,
                   .dqk = p->dim_qk};
    g.nhb = g.H / g.bs;
    g.nwb = g.W / g.bs;
    g.bq = (int)(g.Hq / g.nhb);
    g.win = g.bs + 2 * g.halo;
    g.dv = (int)(kv->shape[3] / g.nh) - g.dqk;
    const int64_t lq = (int64_t)g.bq * g.bq, lk = (int64_t)g.win * g.win;
    const size_t floats =
        (size_t)(lq * g.dqk + lk * (g.dqk + g.dv) + lq * lk + lq * g.dv + 2 * lq * g.win);
    const int64_t tasks = q->shape[0] * g.nhb * g.nwb * g.nh;
    if (tasks == 0 || g.dv == 0) return SEER_STATUS_OK;
    halo_job j = {.g = g, .q = q->data, .kv = kv->data, .hrel = height_rel->data,
                  .wrel = width_rel->data, .y = y->data, .scale = p->scale};
    // Tasks are small (a block's products): OpenMP over them, BLAS single-threaded inside.
    return seer_cpu_parallel_tasks("halo_attention", tasks, floats * sizeof(float), halo_run, &j);
}
