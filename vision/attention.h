// The attention view for people: where a classifier looks in an image, as a map in [0, 1] on the
// model's token grid, next to classification (classify.h). The per-family maps are
// seer_model_attention's (backbones/model.h): attention rollout for DeiT and Agent-DeiT,
// Sparsifiner's sparse connectivity, VAN's LKA response, VOLO's class attention.
#ifndef SEER_ATTENTION_H
#define SEER_ATTENTION_H

#include "backbones/model.h"
#include "vision/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_attention_map {
    float *map;         // h * w, row-major, min-max normalised to [0, 1] (malloc'ed)
    int h, w;           // the model's token grid over its input (the preprocessed crop)
    char method[64];    // seer_attention_info.method
    bool uses_query;    // the map depends on the query point
} seer_attention_map;

// Normalise a raw map in place to [0, 1]: (v - min) / (max - min); a constant map becomes all 0
// (nothing stands out).
void seer_attention_normalize(float *map, size_t n);

// One image's map: decode `path`, preprocess it with the model's preset, run the forward pass
// that records the attention, normalise. qx, qy: query point as fractions of the model input
// (the preprocessed crop), negative for none (see seer_model_attention). UNSUPPORTED for
// models without an attention view.
seer_status seer_attention_map_file(seer_model *m, seer_ctx *c, const char *path, float qx,
                                    float qy, seer_attention_map *out);
void seer_attention_map_free(seer_attention_map *a);

#ifdef __cplusplus
}
#endif

#endif
