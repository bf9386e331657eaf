// The attention view for people: where a classifier looks in an image, as a map in [0, 1] on the
// model's token grid, next to classification (classify.h). The per-family maps are
// seer_model_attention's (backbones/model.h): attention rollout for DeiT and Agent-DeiT,
// Sparsifiner's sparse connectivity, VAN's LKA response, VOLO's class attention.
#ifndef SEER_ATTENTION_H
#define SEER_ATTENTION_H

#include "backbones/model.h"
#include "core/image.h"
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

// ---- drawing it (attention_overlay.c; the desktop app and `seer attention`) ----------------
// Where the model's input lies in a w x h image: the model's preprocessing (resize, centre
// crop) as fractions {x0, y0, width, height} of the image; width 0 when that is unknown.
void seer_attention_input_region(const seer_model *m, int w, int h, float crop[4]);
// The colour of a map value v in [0, 1]: deep blue, cyan, green, yellow, red, with an opacity
// that grows with v (so the image stays readable where the model does not look). RGBA.
void seer_attention_colour(float v, uint8_t rgba[4]);
// img (RGB or grey) with the map blended over the region crop (as above; the whole image when
// crop[2] is 0), bilinear between token centres: a new RGB image in out.
seer_status seer_attention_overlay(const seer_image *img, const seer_attention_map *a,
                                   const float crop[4], seer_image *out);

#ifdef __cplusplus
}
#endif

#endif
