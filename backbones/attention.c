// The attention view's entry points (model.h): dispatch to the family's hooks.
#include "backbones/model.h"

int seer_attention_query_cell(float qx, float qy, int gh, int gw) {
    if (!(qx >= 0) || !(qy >= 0)) return -1;
    int x = (int)(qx * (float)gw), y = (int)(qy * (float)gh);
    x = x < gw ? x : gw - 1; // qx = 1 (the right edge) still picks the last column
    y = y < gh ? y : gh - 1;
    return y * gw + x;
}

bool seer_model_attention_info(const seer_model *m, seer_attention_info *out) {
    *out = (seer_attention_info){0};
    return m->arch->attention_info && m->arch->attention_info(m, out);
}

seer_tensor *seer_model_attention(seer_model *m, seer_ctx *c, const seer_tensor *x, float qx,
                                  float qy) {
    seer_attention_info info;
    if (!seer_model_attention_info(m, &info)) {
        seer_ctx_fail(c, SEER_STATUS_UNSUPPORTED, "%s has no attention view", m->arch->name);
        return NULL;
    }
    if (qx > 1 || qy > 1) {
        seer_ctx_fail(c, SEER_STATUS_ARG,
                      "attention query (%g, %g): fractions of the input are at most 1", qx, qy);
        return NULL;
    }
    if (!x || seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    return m->arch->attention(m, c, x, qx, qy);
}
