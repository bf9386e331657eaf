// BiFormer's attention view (biformer.h, biformer_view): the token-level attention of one
// routed block, computed on the host from the block's q, k and routing. Not on any inference
// path, so plain loops in double: q, k and the routing come back from the device once.
#include <math.h>
#include <stdlib.h>

#include "backbones/biformer.h"

static float *to_host(seer_ctx *c, const seer_tensor *t) {
    seer_tensor *f = seer_contiguous(c, seer_to(c, t, SEER_F32));
    if (!f) return NULL;
    size_t n = (size_t)seer_tensor_numel(f);
    float *h = malloc(n * sizeof *h + 1);
    if (!h) {
        seer_ctx_fail(c, SEER_STATUS_OOM, "biformer attention view: out of host memory");
        return NULL;
    }
    seer_status st = seer_memcpy(SEER_DEVICE_CPU, h, seer_ctx_device(c), f->data, n * sizeof *h);
    if (st != SEER_STATUS_OK) {
        seer_ctx_fail(c, st, "biformer attention view: %s", seer_last_error());
        free(h);
        return NULL;
    }
    return h;
}

seer_tensor *biformer_view_map(seer_ctx *c, const biformer_bra *a, const seer_tensor *q,
                               const seer_tensor *k, const seer_tensor *idx, float qx, float qy) {
    if (!q || !k || !idx) return NULL;
    // q, k: [B, m, S, S, h, w, dq]; their contiguous host copies are [B, m, R, P, dq] in memory
    // (region r = j S + i, pixel p = y w + x), as the loops below index them.
    const int64_t B = q->shape[0], m = q->shape[1], h = q->shape[4], w = q->shape[5];
    const int64_t dq = q->shape[6], topk = idx->shape[2], S = a->n_win, H = S * h, W = S * w;
    const int64_t R = S * S, P = h * w;
    const int64_t L = topk * P; // keys of each query: the pixels of its routed regions
    const int cell = seer_attention_query_cell(qx, qy, (int)H, (int)W); // -1: every query
    float *qh = to_host(c, q), *kh = to_host(c, k), *ih = to_host(c, idx);
    double *map = calloc((size_t)(B * H * W), sizeof *map), *p = malloc((size_t)L * sizeof *p);
    float *out = malloc((size_t)(B * H * W) * sizeof *out);
    seer_tensor *t = NULL;
    if (!qh || !kh || !ih || !map || !p || !out) {
        if (seer_ctx_status(c) == SEER_STATUS_OK)
            seer_ctx_fail(c, SEER_STATUS_OOM, "biformer attention view: out of host memory");
        goto done;
    }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t y = 0; y < H; y++) {
            for (int64_t x = 0; x < W; x++) {
                if (cell >= 0 && y * W + x != cell) continue;
                const int64_t r = (y / h) * S + x / w, pq = (y % h) * w + x % w;
                for (int64_t n = 0; n < m; n++) {
                    const float *qv = qh + (((b * m + n) * R + r) * P + pq) * dq;
                    double mx = -INFINITY, sum = 0;
                    for (int64_t j = 0; j < L; j++) {
                        const int64_t reg = (int64_t)ih[(b * R + r) * topk + j / P];
                        const float *kv = kh + (((b * m + n) * R + reg) * P + j % P) * dq;
                        double dot = 0;
                        for (int64_t e = 0; e < dq; e++) dot += (double)qv[e] * kv[e];
                        p[j] = dot * a->scale;
                        mx = p[j] > mx ? p[j] : mx;
                    }
                    for (int64_t j = 0; j < L; j++) sum += p[j] = exp(p[j] - mx);
                    for (int64_t j = 0; j < L; j++) { // onto the key's pixel, head mean
                        const int64_t reg = (int64_t)ih[(b * R + r) * topk + j / P];
                        const int64_t ky = (reg / S) * h + (j % P) / w;
                        const int64_t kx = (reg % S) * w + (j % P) % w;
                        map[(b * H + ky) * W + kx] += p[j] / sum / (double)m;
                    }
                }
            }
        }
    }
    const double queries = cell >= 0 ? 1.0 : (double)(H * W);
    for (int64_t i = 0; i < B * H * W; i++) out[i] = (float)(map[i] / queries);
    t = seer_from_host(c, out, SEER_F32, 3, (int64_t[]){B, H, W});
done:
    free(qh);
    free(kh);
    free(ih);
    free(map);
    free(p);
    free(out);
    return t;
}
