// Private glue between the image decoders (image.c dispatches; image_jpeg.c, image_stb.c decode).
// Not part of the public API.
#ifndef SEER_IMAGE_INTERNAL_H
#define SEER_IMAGE_INTERNAL_H

#include "core/image.h"

// Each decoder gets bytes already identified by seer_image_probe, fills *out with c = 3 pixels
// (out->px from malloc) or fails with a message that starts with `label`.
seer_status seer_image_decode_jpeg_(const uint8_t *b, size_t n, const char *label,
                                    int64_t max_pixels, seer_image *out);
seer_status seer_image_decode_stb_(const uint8_t *b, size_t n, const char *label,
                                   seer_image_format format, seer_image *out);
// Header-only size through stb_image (non-JPEG formats). FORMAT error on a bad header.
seer_status seer_image_info_stb_(const uint8_t *b, size_t n, const char *label,
                                 seer_image_format format, int *w, int *h);

// Message for a too-large image; shared so every decoder words it the same way.
seer_status seer_image_too_large_(const char *label, int64_t w, int64_t h, int64_t max_pixels);

#endif
