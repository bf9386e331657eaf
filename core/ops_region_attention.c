// Op front for BiFormer's routed region attention (seer_region_attention, core/ops.h).
#include "core/ops_common.h"

seer_tensor *seer_region_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                   const seer_tensor *v, const seer_tensor *idx, float scale) {
    SEER_OP_BEGIN(c, "region_attention", q, k, v, idx);
    if (!seer_op_check_float(c, "region_attention", q) ||
        !seer_op_check_index(c, "region_attention", idx))
        return NULL;
    char bq[128], bk[128], bv[128], bi[128];
    seer_tensor_shape_str(q, bq, sizeof bq);
    seer_tensor_shape_str(k, bk, sizeof bk);
    seer_tensor_shape_str(v, bv, sizeof bv);
    seer_tensor_shape_str(idx, bi, sizeof bi);
    if (k->dtype != q->dtype || v->dtype != q->dtype) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "region_attention: q, k, v must share one dtype, got q %s, k %s, v %s", bq,
                      bk, bv);
        return NULL;
    }
    // q, k: [B, m, R, P, D], v: [B, m, R, P, Dv], idx: [B, R, topk]
    bool ok = q->ndim == 5 && k->ndim == 5 && v->ndim == 5 && idx->ndim == 3;
    for (int d = 0; ok && d < 5; d++)
        ok = k->shape[d] == q->shape[d] && (d == 4 || v->shape[d] == q->shape[d]);
    ok = ok && idx->shape[0] == q->shape[0] && idx->shape[1] == q->shape[2] && idx->shape[2] >= 1;
    if (!ok) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "region_attention: expected q [B, m, R, P, D], k [B, m, R, P, D], "
                      "v [B, m, R, P, Dv], idx [B, R, topk >= 1]; got q %s, k %s, v %s, idx %s",
                      bq, bk, bv, bi);
        return NULL;
    }
    const seer_tensor *qc = seer_op_contig(c, q), *kc = seer_op_contig(c, k);
    const seer_tensor *vc = seer_op_contig(c, v), *ic = seer_op_contig(c, idx);
    if (!qc || !kc || !vc || !ic) return NULL;
    int64_t shape[5] = {q->shape[0], q->shape[1], q->shape[2], q->shape[3], v->shape[4]};
    seer_tensor *o = seer_ctx_tensor(c, q->dtype, 5, shape);
    if (!o) return NULL;
    return seer_op_finish(c, "region_attention",
                          seer_op_backend(c)->region_attention(o, qc, kc, vc, ic, scale), o);
}
