// Op fronts for attention: scaled dot-product (dense, over gathered keys, over BiFormer's
// routed regions) and HaloNet's halo attention (blocked queries over haloed key windows,
// relative position logits).
#include "core/ops_common.h"

seer_tensor *seer_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                            const seer_tensor *v, const seer_tensor *bias, float scale) {
    SEER_OP_BEGIN(c, "attention", q, k, v);
    if (bias && !seer_op_check_device(c, "attention", bias)) return NULL;
    if (!seer_op_check_float(c, "attention", q)) return NULL;
    char bq[128], bk[128], bv[128], bb[128];
    seer_tensor_shape_str(q, bq, sizeof bq);
    seer_tensor_shape_str(k, bk, sizeof bk);
    seer_tensor_shape_str(v, bv, sizeof bv);
    if (k->dtype != q->dtype || v->dtype != q->dtype || (bias && bias->dtype != q->dtype)) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "attention: q, k, v%s must share one dtype, got q %s, k %s, v %s%s%s",
                      bias ? " and bias" : "", bq, bk, bv, bias ? ", bias " : "",
                      bias ? seer_tensor_shape_str(bias, bb, sizeof bb) : "");
        return NULL;
    }
    // q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv]
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || k->shape[0] != q->shape[0] ||
        k->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] ||
        v->shape[0] != q->shape[0] || v->shape[1] != q->shape[1] || v->shape[2] != k->shape[2]) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "attention: expected q [B, H, Lq, D], k [B, H, Lk, D], v [B, H, Lk, Dv]; "
                      "got q %s, k %s, v %s",
                      bq, bk, bv);
        return NULL;
    }
    int64_t B = q->shape[0], H = q->shape[1], Lq = q->shape[2], Lk = k->shape[2];
    // bias: [Bb, Hb, Lq, Lk] with Bb in {1, B}, Hb in {1, H}
    if (bias && (bias->ndim != 4 || (bias->shape[0] != 1 && bias->shape[0] != B) ||
                 (bias->shape[1] != 1 && bias->shape[1] != H) || bias->shape[2] != Lq ||
                 bias->shape[3] != Lk)) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "attention: bias must be [1 or %lld, 1 or %lld, %lld, %lld] for q %s and "
                      "k %s, got %s",
                      (long long)B, (long long)H, (long long)Lq, (long long)Lk, bq, bk,
                      seer_tensor_shape_str(bias, bb, sizeof bb));
        return NULL;
    }
    const seer_tensor *qc = seer_op_contig(c, q);
    const seer_tensor *kc = qc ? seer_op_contig(c, k) : NULL;
    const seer_tensor *vc = kc ? seer_op_contig(c, v) : NULL;
    const seer_tensor *bc = vc && bias ? seer_op_contig(c, bias) : NULL;
    if (!vc || (bias && !bc)) return NULL;
    // out: [B, H, Lq, Dv]
    int64_t shape[4] = {B, H, Lq, v->shape[3]};
    seer_tensor *out = seer_ctx_tensor(c, q->dtype, 4, shape);
    if (!out) return NULL;
    return seer_op_finish(c, "attention",
                          seer_op_backend(c)->attention(out, qc, kc, vc, bc, scale), out);
}

// The shapes of q, k, v and idx as text, for the messages of the keyed attention fronts.
typedef struct keyed_shapes {
    char q[128], k[128], v[128], idx[128];
} keyed_shapes;

// What attention over listed keys (gather, region) checks first: a float q, an index idx, one
// dtype for q, k and v. False with the context failed.
static bool keyed_inputs(seer_ctx *c, const char *op, const seer_tensor *q, const seer_tensor *k,
                         const seer_tensor *v, const seer_tensor *idx, keyed_shapes *s) {
    if (!seer_op_check_float(c, op, q) || !seer_op_check_index(c, op, idx)) return false;
    seer_tensor_shape_str(q, s->q, sizeof s->q);
    seer_tensor_shape_str(k, s->k, sizeof s->k);
    seer_tensor_shape_str(v, s->v, sizeof s->v);
    seer_tensor_shape_str(idx, s->idx, sizeof s->idx);
    if (k->dtype == q->dtype && v->dtype == q->dtype) return true;
    seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: q, k, v must share one dtype, got q %s, k %s, v %s",
                  op, s->q, s->k, s->v);
    return false;
}

seer_tensor *seer_attention_gather(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                   const seer_tensor *v, const seer_tensor *idx, float scale) {
    SEER_OP_BEGIN(c, "attention_gather", q, k, v, idx);
    keyed_shapes sh;
    if (!keyed_inputs(c, "attention_gather", q, k, v, idx, &sh)) return NULL;
    // q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv], idx: [B, H, Lq, n]
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || idx->ndim != 4 ||
        k->shape[0] != q->shape[0] || k->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] ||
        v->shape[0] != q->shape[0] || v->shape[1] != q->shape[1] || v->shape[2] != k->shape[2] ||
        idx->shape[0] != q->shape[0] || idx->shape[1] != q->shape[1] ||
        idx->shape[2] != q->shape[2]) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "attention_gather: expected q [B, H, Lq, D], k [B, H, Lk, D], "
                      "v [B, H, Lk, Dv], idx [B, H, Lq, n]; got q %s, k %s, v %s, idx %s",
                      sh.q, sh.k, sh.v, sh.idx);
        return NULL;
    }
    const seer_tensor *qc = seer_op_contig(c, q), *kc = seer_op_contig(c, k);
    const seer_tensor *vc = seer_op_contig(c, v), *ic = seer_op_contig(c, idx);
    if (!qc || !kc || !vc || !ic) return NULL;
    seer_tensor *o = seer_ctx_tensor(c, q->dtype, 4,
                                     (int64_t[]){q->shape[0], q->shape[1], q->shape[2], v->shape[3]});
    if (!o) return NULL;
    return seer_op_finish(c, "attention_gather",
                          seer_op_backend(c)->attention_gather(o, qc, kc, vc, ic, scale), o);
}

// t as it is when its last dim is contiguous (any other strides), else a contiguous copy.
static const seer_tensor *rows_in_place(seer_ctx *c, const seer_tensor *t) {
    return t->ndim > 0 && (t->stride[t->ndim - 1] == 1 || t->shape[t->ndim - 1] <= 1)
               ? t
               : seer_op_contig(c, t);
}

// The shape checks of seer_region_attention: q, k [B, m, R, P, D], v [B, m, R, P, Dv] (regions
// form) or q, k [B, m, Sj, Si, h, w, D], v [B, m, Sj, Si, h, w, Dv] (map form); idx [B, R, topk]
// with R = Sj Si in the map form.
static bool region_shapes_ok(const seer_tensor *q, const seer_tensor *k, const seer_tensor *v,
                             const seer_tensor *idx) {
    const int nd = q->ndim, last = nd - 1;
    bool ok = (nd == 5 || nd == 7) && k->ndim == nd && v->ndim == nd && idx->ndim == 3;
    for (int d = 0; ok && d < nd; d++)
        ok = k->shape[d] == q->shape[d] && (d == last || v->shape[d] == q->shape[d]);
    if (!ok) return false;
    const int64_t R = nd == 7 ? q->shape[2] * q->shape[3] : q->shape[2];
    return idx->shape[0] == q->shape[0] && idx->shape[1] == R && idx->shape[2] >= 1;
}

seer_tensor *seer_region_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                   const seer_tensor *v, const seer_tensor *idx, float scale) {
    SEER_OP_BEGIN(c, "region_attention", q, k, v, idx);
    keyed_shapes sh;
    if (!keyed_inputs(c, "region_attention", q, k, v, idx, &sh)) return NULL;
    if (!region_shapes_ok(q, k, v, idx)) {
        if (q->ndim == 7)
            seer_ctx_fail(c, SEER_STATUS_SHAPE,
                          "region_attention: expected q [B, m, Sj, Si, h, w, D], k [B, m, Sj, Si, "
                          "h, w, D], v [B, m, Sj, Si, h, w, Dv], idx [B, Sj Si, topk >= 1]; got "
                          "q %s, k %s, v %s, idx %s",
                          sh.q, sh.k, sh.v, sh.idx);
        else
            seer_ctx_fail(c, SEER_STATUS_SHAPE,
                          "region_attention: expected q [B, m, R, P, D], k [B, m, R, P, D], "
                          "v [B, m, R, P, Dv], idx [B, R, topk >= 1] (or the map form, 7 dims); "
                          "got q %s, k %s, v %s, idx %s",
                          sh.q, sh.k, sh.v, sh.idx);
        return NULL;
    }
    // q, k, v are read where they are when their last dim is contiguous (views of one qkv
    // projection); the backends take their strides.
    const seer_tensor *qc = rows_in_place(c, q), *kc = rows_in_place(c, k);
    const seer_tensor *vc = rows_in_place(c, v), *ic = seer_op_contig(c, idx);
    if (!qc || !kc || !vc || !ic) return NULL;
    // The output is stored heads next to each other as the projection that follows reads them
    // and returned as a view in q's form: regions form stored [B, R, P, m, Dv], viewed
    // [B, m, R, P, Dv]; map form stored [B, Sj, h, Si, w, m, Dv] (a contiguous [B, H, W, m Dv]
    // map), viewed [B, m, Sj, Si, h, w, Dv].
    const int64_t *qs = q->shape;
    seer_tensor *ob, *o;
    if (q->ndim == 7) {
        const int64_t shape[7] = {qs[0], qs[2], qs[4], qs[3], qs[5], qs[1], v->shape[6]};
        ob = seer_ctx_tensor(c, q->dtype, 7, shape);
        o = ob ? seer_permute(c, ob, (int[]){0, 5, 1, 3, 2, 4, 6}) : NULL;
    } else {
        const int64_t shape[5] = {qs[0], qs[2], qs[3], qs[1], v->shape[4]};
        ob = seer_ctx_tensor(c, q->dtype, 5, shape);
        o = ob ? seer_permute(c, ob, (int[]){0, 3, 1, 2, 4}) : NULL;
    }
    if (!o) return NULL;
    return seer_op_finish(c, "region_attention",
                          seer_op_backend(c)->region_attention(o, qc, kc, vc, ic, scale), o);
}

// Fails unless rel is [2 win - 1, dqk] of q's dtype (timm's PosEmbedRel for a win x win window).
static bool check_rel(seer_ctx *c, const char *what, const seer_tensor *rel, const seer_tensor *q,
                      int64_t win, int dqk) {
    if (rel->dtype == q->dtype && rel->ndim == 2 && rel->shape[0] == 2 * win - 1 &&
        rel->shape[1] == dqk)
        return true;
    char br[128];
    seer_ctx_fail(c, SEER_STATUS_SHAPE,
                  "halo_attention: expected %s [%lld, %d] %s (a %lld x %lld window), got %s %s",
                  what, (long long)(2 * win - 1), dqk, seer_dtype_name(q->dtype), (long long)win,
                  (long long)win, seer_tensor_shape_str(rel, br, sizeof br),
                  seer_dtype_name(rel->dtype));
    return false;
}

seer_tensor *seer_halo_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *kv,
                                 const seer_tensor *height_rel, const seer_tensor *width_rel,
                                 const seer_halo_params *p) {
    SEER_OP_BEGIN(c, "halo_attention", q, kv, height_rel, width_rel);
    if (!p) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "halo_attention: params are NULL");
        return NULL;
    }
    if (!seer_op_check_float(c, "halo_attention", q)) return NULL;
    const int bs = p->block_size, halo = p->halo_size, nh = p->heads, dqk = p->dim_qk;
    if (bs < 1 || halo < 0 || nh < 1 || dqk < 1) {
        seer_ctx_fail(c, SEER_STATUS_ARG,
                      "halo_attention: block_size %d, heads %d and dim_qk %d must be >= 1 and "
                      "halo_size %d >= 0",
                      bs, nh, dqk, halo);
        return NULL;
    }
    char bq[128], bk[128];
    seer_tensor_shape_str(q, bq, sizeof bq);
    seer_tensor_shape_str(kv, bk, sizeof bk);
    if (q->ndim != 4 || kv->ndim != 4 || kv->dtype != q->dtype || kv->shape[0] != q->shape[0] ||
        q->shape[3] != (int64_t)nh * dqk || kv->shape[3] % nh || kv->shape[3] / nh <= dqk) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "halo_attention: expected q [B, Hq, Wq, %d] and kv [B, H, W, %d * (%d + dv)] "
                      "of one dtype (%d heads of %d q/k channels), got q %s %s, kv %s %s",
                      nh * dqk, nh, dqk, nh, dqk, bq, seer_dtype_name(q->dtype), bk,
                      seer_dtype_name(kv->dtype));
        return NULL;
    }
    // key blocks tile kv's map; query blocks (bq x bq) tile q's map in the same grid
    const int64_t H = kv->shape[1], W = kv->shape[2], nhb = H / bs, nwb = W / bs;
    const int64_t bqs = nhb > 0 ? q->shape[1] / nhb : 0;
    if (H % bs || W % bs || nhb < 1 || nwb < 1 || bqs < 1 || bqs > bs ||
        q->shape[1] != nhb * bqs || q->shape[2] != nwb * bqs) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "halo_attention: kv's map must be a grid of %dx%d blocks and q's the same "
                      "grid of square blocks at most that size, got q %s for kv %s",
                      bs, bs, bq, bk);
        return NULL;
    }
    const int64_t win = (int64_t)bs + 2 * (int64_t)halo;
    if (!check_rel(c, "height_rel", height_rel, q, win, dqk) ||
        !check_rel(c, "width_rel", width_rel, q, win, dqk))
        return NULL;
    const seer_tensor *qc = seer_op_contig(c, q);
    const seer_tensor *kc = qc ? seer_op_contig(c, kv) : NULL;
    const seer_tensor *hc = kc ? seer_op_contig(c, height_rel) : NULL;
    const seer_tensor *wc = hc ? seer_op_contig(c, width_rel) : NULL;
    if (!wc) return NULL;
    // out: [B, Hq, Wq, heads * dv]
    const int64_t shape[4] = {q->shape[0], q->shape[1], q->shape[2],
                              kv->shape[3] - (int64_t)nh * dqk};
    seer_tensor *out = seer_ctx_tensor(c, q->dtype, 4, shape);
    if (!out) return NULL;
    return seer_op_finish(c, "halo_attention",
                          seer_op_backend(c)->halo_attention(out, qc, kc, hc, wc, p), out);
}

// The composed routing (seer_region_route): reduce, matmul, topk.
static seer_tensor *region_route_ops(seer_ctx *c, const seer_tensor *qk_map, int64_t S,
                                     int64_t topk, float scale) {
    const int64_t B = qk_map->shape[0], h = qk_map->shape[1] / S, w = qk_map->shape[2] / S;
    const int64_t C2 = qk_map->shape[3], qk = C2 / 2;
    seer_tensor *mean = seer_reshape(c, qk_map, 6, (int64_t[]){B, S, h, S, w, C2});
    mean = seer_reduce_f32(c, mean, 4, SEER_REDUCE_MEAN);      // [B, S, h, S, 2 qk]
    mean = seer_reduce(c, mean, 2, SEER_REDUCE_MEAN);          // [B, S, S, 2 qk], F32
    mean = seer_reshape(c, mean, 3, (int64_t[]){B, S * S, C2}); // [B, R, 2 qk]
    seer_tensor *affinity = seer_matmul(c, seer_narrow(c, mean, 2, 0, qk),
                                        seer_narrow(c, mean, 2, qk, qk), false, true, scale,
                                        NULL); // [B, R, R]
    seer_tensor *idx = NULL;
    seer_topk(c, affinity, topk, NULL, &idx); // NULL on failure (context failed)
    return idx;
}

seer_tensor *seer_region_route(seer_ctx *c, const seer_tensor *qk_map, int64_t S, int64_t topk,
                               float scale) {
    SEER_OP_BEGIN(c, "region_route", qk_map);
    char sx[128];
    if (!seer_op_check_float(c, "region_route", qk_map)) return NULL;
    if (qk_map->ndim != 4 || S < 1 || qk_map->shape[1] % S || qk_map->shape[2] % S ||
        qk_map->shape[3] % 2 || topk < 1 || topk > S * S) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "region_route: expected a [B, H, W, 2 qk] map with H and W multiples of "
                      "S = %lld and 1 <= topk = %lld <= S^2; got %s",
                      (long long)S, (long long)topk,
                      seer_tensor_shape_str(qk_map, sx, sizeof sx));
        return NULL;
    }
    const seer_backend *be = seer_op_backend(c);
    if (!be->region_route) return region_route_ops(c, qk_map, S, topk, scale);
    const int64_t B = qk_map->shape[0], R = S * S;
    const seer_tensor *x = seer_op_contig(c, qk_map);
    seer_tensor *means = seer_ctx_tensor(c, SEER_F32, 3, (int64_t[]){B, R, qk_map->shape[3]});
    seer_tensor *idx = seer_ctx_tensor(c, SEER_I64, 3, (int64_t[]){B, R, topk});
    if (!x || !means || !idx) return NULL;
    seer_status st = be->region_route(idx, means, x, S, scale);
    if (st == SEER_STATUS_UNSUPPORTED) return region_route_ops(c, qk_map, S, topk, scale);
    return seer_op_finish(c, "region_route", st, idx);
}
