// Where the rows of seer_region_attention's q, k, v and output lie (core/ops.h), for its
// backends (core/cpu/region_attention.c, core/cuda/region_attention*.cu): one definition of
// the indexing. A tensor comes in one of two forms, its last dim (D channels) contiguous:
//  - regions [B, m, R, P, D]: region r, pixel p at r * s[2] + p * s[4];
//  - map     [B, m, Sj, Si, h, w, D]: an Sj x Si grid of regions (r = j * Si + i) of h x w
//    pixels (p = y * w + x), at j * s[2] + i * s[3] + y * s[4] + x * s[5] (views of one
//    [B, H, W, C] projection map, or the output stored as a [B, H, W, m Dv] map).
// The regions form is the map form with Si = w = 1 (s[3], s[5] unused).
#ifndef SEER_REGION_LAYOUT_H
#define SEER_REGION_LAYOUT_H

#include <stdint.h>

#include "core/tensor.h"

#ifdef __CUDACC__
#define SEER_REGION_HD static __host__ __device__ __forceinline__
#else
#define SEER_REGION_HD static inline
#endif

typedef struct seer_region_layout {
    // Element strides over (image, head, region row, region column, pixel row, pixel column).
    int64_t s[6];
    int32_t si; // regions per row (Si; 1 in the regions form)
    int32_t pw; // pixels per row of a region (w; 1 in the regions form)
} seer_region_layout;

// Element offset of the first channel of pixel p of region r of head n of image b
// (0 <= r < R, 0 <= p < P, both below 2^31: the backends check).
SEER_REGION_HD int64_t seer_region_offset(const seer_region_layout *l, int64_t b, int64_t n,
                                          int64_t r, int64_t p) {
    const uint32_t rj = (uint32_t)r / (uint32_t)l->si, py = (uint32_t)p / (uint32_t)l->pw;
    const uint32_t ri = (uint32_t)r - rj * (uint32_t)l->si, px = (uint32_t)p - py * (uint32_t)l->pw;
    return b * l->s[0] + n * l->s[1] + (int64_t)rj * l->s[2] + (int64_t)ri * l->s[3] +
           (int64_t)py * l->s[4] + (int64_t)px * l->s[5];
}

// Regions R and pixels per region P of a tensor in either form.
static inline int64_t seer_region_count(const seer_tensor *t) {
    return t->ndim == 7 ? t->shape[2] * t->shape[3] : t->shape[2];
}
static inline int64_t seer_region_pixels(const seer_tensor *t) {
    return t->ndim == 7 ? t->shape[4] * t->shape[5] : t->shape[3];
}

// The layout of a tensor in either form (5 or 7 dims); si and pw are 1 for an empty grid.
static inline seer_region_layout seer_region_layout_of(const seer_tensor *t) {
    const int64_t *st = t->stride;
    seer_region_layout l;
    if (t->ndim == 7) {
        for (int i = 0; i < 6; i++)
            l.s[i] = st[i];
        l.si = t->shape[3] > 0 ? (int32_t)t->shape[3] : 1;
        l.pw = t->shape[5] > 0 ? (int32_t)t->shape[5] : 1;
    } else {
        const int64_t s[6] = {st[0], st[1], st[2], 0, st[3], 0};
        for (int i = 0; i < 6; i++)
            l.s[i] = s[i];
        l.si = l.pw = 1;
    }
    return l;
}

#endif
