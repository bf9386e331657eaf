// The attention view (see attention.h).
#include "vision/attention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"
#include "vision/classify.h"

void seer_attention_normalize(float *map, size_t n) {
    if (!n) return;
    float lo = map[0], hi = map[0];
    for (size_t i = 1; i < n; i++) {
        lo = map[i] < lo ? map[i] : lo;
        hi = map[i] > hi ? map[i] : hi;
    }
    const float range = hi - lo;
    for (size_t i = 0; i < n; i++)
        map[i] = range > 0 ? (map[i] - lo) / range : 0.0f;
}

void seer_attention_map_free(seer_attention_map *a) {
    free(a->map);
    memset(a, 0, sizeof *a);
}

seer_status seer_attention_map_file(seer_model *m, seer_ctx *c, const char *path, float qx,
                                    float qy, seer_attention_map *out) {
    memset(out, 0, sizeof *out);
    seer_attention_info info;
    if (!seer_model_attention_info(m, &info))
        return seer_fail(SEER_STATUS_UNSUPPORTED, "%s has no attention view", m->arch->name);
    seer_preprocess pre;
    SEER_TRY(seer_model_preprocess(m, &pre));
    SEER_TRY(seer_preprocess_check(&pre));
    const int size = seer_preprocess_out_size(&pre);
    seer_image img = {0};
    SEER_TRY(seer_image_load(path, NULL, &img));
    float *x = malloc(seer_preprocess_out_numel(&pre) * sizeof(float));
    seer_status st = x ? seer_preprocess_run(&pre, img.px, img.w, img.h, x)
                       : seer_fail(SEER_STATUS_OOM, "out of host memory");
    seer_image_free(&img);
    if (st != SEER_STATUS_OK) {
        free(x);
        return st;
    }
    seer_ctx_reset(c);
    seer_tensor *in = seer_from_host(c, x, m->dtype, 4, (int64_t[]){1, size, size, 3});
    free(x);
    seer_tensor *a = seer_model_attention(m, c, in, qx, qy); // [1, h, w]
    if (a) {
        out->h = (int)a->shape[1];
        out->w = (int)a->shape[2];
        out->map = malloc(sizeof(float) * (size_t)out->h * (size_t)out->w);
        if (!out->map) return seer_fail(SEER_STATUS_OOM, "out of host memory");
        seer_to_host(c, a, out->map);
    }
    if (seer_ctx_status(c) != SEER_STATUS_OK) {
        st = seer_fail(seer_ctx_status(c), "%s attention view: %s", m->arch->name,
                       seer_ctx_error(c));
        seer_attention_map_free(out);
        return st;
    }
    seer_attention_normalize(out->map, (size_t)out->h * (size_t)out->w);
    snprintf(out->method, sizeof out->method, "%s", info.method);
    out->uses_query = info.uses_query;
    return SEER_STATUS_OK;
}
