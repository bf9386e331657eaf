// Drawing the attention view (attention.h): the model's input region in the image, the colour
// ramp, and the map blended over an image.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/attention.h"
#include "vision/classify.h"

void seer_attention_input_region(const seer_model *m, int w, int h, float crop[4]) {
    seer_preprocess pre;
    int rw, rh;
    crop[0] = crop[1] = crop[2] = crop[3] = 0;
    if (seer_model_preprocess(m, &pre) != SEER_STATUS_OK ||
        seer_preprocess_resized_size(&pre, w, h, &rw, &rh) != SEER_STATUS_OK || rw <= 0 || rh <= 0)
        return;
    // the centre crop's offset, rounded as the preprocessing rounds it
    double x0 = (int)((rw - pre.size) / 2.0 + 0.5), y0 = (int)((rh - pre.size) / 2.0 + 0.5);
    crop[0] = (float)(x0 / rw);
    crop[1] = (float)(y0 / rh);
    crop[2] = (float)((double)pre.size / rw);
    crop[3] = (float)((double)pre.size / rh);
}

void seer_attention_colour(float v, uint8_t rgba[4]) {
    static const float stops[5][3] = {
        {20, 30, 140}, {0, 170, 255}, {70, 230, 110}, {255, 225, 0}, {255, 40, 0}};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    const float t = v * 4;
    const int i = t >= 4 ? 3 : (int)t;
    const float f = t - (float)i;
    for (int k = 0; k < 3; k++)
        rgba[k] = (uint8_t)(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]) + 0.5f);
    rgba[3] = (uint8_t)(20 + 150 * v);
}

// The map at (u, v) in token units (token centres at i + 0.5), bilinear, clamped at the edges.
static float sample(const seer_attention_map *a, float u, float v) {
    u -= 0.5f, v -= 0.5f;
    u = u < 0 ? 0 : u > (float)(a->w - 1) ? (float)(a->w - 1) : u;
    v = v < 0 ? 0 : v > (float)(a->h - 1) ? (float)(a->h - 1) : v;
    const int x0 = (int)u, y0 = (int)v;
    const int x1 = x0 + 1 < a->w ? x0 + 1 : x0, y1 = y0 + 1 < a->h ? y0 + 1 : y0;
    const float fx = u - (float)x0, fy = v - (float)y0;
    const float *m = a->map;
    const float top = m[y0 * a->w + x0] * (1 - fx) + m[y0 * a->w + x1] * fx;
    const float bot = m[y1 * a->w + x0] * (1 - fx) + m[y1 * a->w + x1] * fx;
    return top * (1 - fy) + bot * fy;
}

seer_status seer_attention_overlay(const seer_image *img, const seer_attention_map *a,
                                   const float crop[4], seer_image *out) {
    memset(out, 0, sizeof *out);
    if (!img || !img->px || img->w < 1 || img->h < 1 || (img->c != 1 && img->c != 3) || !a ||
        !a->map || a->w < 1 || a->h < 1)
        return seer_fail(SEER_STATUS_ARG, "attention overlay: needs an RGB or grey image and a "
                                          "map of at least 1x1");
    out->px = malloc((size_t)img->w * (size_t)img->h * 3);
    if (!out->px) return seer_fail(SEER_STATUS_OOM, "attention overlay: out of memory");
    out->w = img->w, out->h = img->h, out->c = 3;
    const bool whole = !crop || crop[2] <= 0 || crop[3] <= 0;
    const float cx = whole ? 0 : crop[0], cy = whole ? 0 : crop[1];
    const float cw = whole ? 1 : crop[2], ch = whole ? 1 : crop[3];
    for (int y = 0; y < img->h; y++) {
        for (int x = 0; x < img->w; x++) {
            const uint8_t *src = img->px + ((size_t)y * img->w + x) * img->c;
            uint8_t *dst = out->px + ((size_t)y * img->w + x) * 3;
            for (int k = 0; k < 3; k++) dst[k] = src[img->c == 3 ? k : 0];
            // the pixel centre in the model's input, as fractions, then in tokens
            const float fx = ((x + 0.5f) / img->w - cx) / cw, fy = ((y + 0.5f) / img->h - cy) / ch;
            if (fx < 0 || fx >= 1 || fy < 0 || fy >= 1) continue; // outside what the model sees
            uint8_t rgba[4];
            seer_attention_colour(sample(a, fx * a->w, fy * a->h), rgba);
            const float alpha = rgba[3] / 255.0f;
            for (int k = 0; k < 3; k++)
                dst[k] = (uint8_t)(dst[k] * (1 - alpha) + rgba[k] * alpha + 0.5f);
        }
    }
    return SEER_STATUS_OK;
}
