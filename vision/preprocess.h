// Evaluation preprocessing: PIL-exact resampling and the resize/crop/normalize presets each
// model was evaluated with (see REFERENCES.md, "Evaluation preprocessing, exactly").
//
// Images are 8-bit, interleaved HWC (RGB for the presets). Outputs are float32 HWC
// (channels-last), the layout the models take.
#ifndef SEER_PREPROCESS_H
#define SEER_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

// ---- resampling ----------------------------------------------------------------------------

// PIL's resampling filters (Image.Resampling), by the names torchvision and timm use.
typedef enum seer_resample {
    SEER_RESAMPLE_NEAREST = 0,
    SEER_RESAMPLE_BOX,
    SEER_RESAMPLE_BILINEAR,
    SEER_RESAMPLE_HAMMING,
    SEER_RESAMPLE_BICUBIC,
    SEER_RESAMPLE_LANCZOS,
    SEER_RESAMPLE_COUNT
} seer_resample;

const char *seer_resample_name(seer_resample f); // "nearest", "box", "bilinear", ...
// Name -> filter; SEER_STATUS_ARG (message lists the names) if unknown.
seer_status seer_resample_from_name(const char *name, seer_resample *out);

// `PIL.Image.resize((out_w, out_h), filter)` of a w x h image with c interleaved 8-bit
// channels (c = 1..4, channels independent), bit-identical to Pillow: two separable passes
// (horizontal, then vertical), antialiased when shrinking, 22-bit fixed-point weights, each
// pass rounded and clipped to 8 bits. NEAREST is PIL's affine nearest-neighbour path.
// dst holds out_w * out_h * c bytes and must not overlap src.
seer_status seer_resample_u8(const uint8_t *src, int w, int h, int c, uint8_t *dst, int out_w,
                             int out_h, seer_resample filter);

// ---- presets -------------------------------------------------------------------------------

// How the image is brought near the model's input size before the center crop.
typedef enum seer_pre_mode {
    SEER_RESIZE_CROP_PCT = 0, // timm: short side to floor(size / crop_pct), keep aspect
    SEER_RESIZE_SHORT,        // short side to resize_size, keep aspect (BiFormer: 256)
    SEER_RESIZE_SQUASH,       // to resize_size x resize_size, aspect not kept (Agent: 256)
    SEER_RESIZE_NONE,         // no resize, center crop/pad only (CIFAR 32x32)
    SEER_RESIZE_ADM,          // guided-diffusion center_crop_arr (ADM, ENAT)
    SEER_RESIZE_MODE_COUNT
} seer_pre_mode;

// One evaluation transform: resize, center crop to size x size, x / 255, (x - mean) / std.
// The crop follows torchvision's CenterCrop (zero padding when the crop is larger than the
// image); ADM crops at ((h - size) // 2, (w - size) // 2) as center_crop_arr does.
typedef struct seer_preprocess {
    seer_pre_mode mode;
    seer_resample filter; // resize filter (ADM: the final resize after the BOX halvings)
    int size;             // output is size x size x 3
    double crop_pct;      // SEER_RESIZE_CROP_PCT only
    int resize_size;      // SEER_RESIZE_SHORT and SEER_RESIZE_SQUASH only
    double mean[3];       // as written in Python; used as float32, as torchvision does
    double std[3];
} seer_preprocess;

// Named presets: "imagenet_timm" (bicubic, crop_pct 0.875, 224, ImageNet mean/std; set
// crop_pct/size from the model), "van", "biformer", "agent", "deit", "cifar", "adm".
// SEER_STATUS_NOT_FOUND if unknown.
seer_status seer_preprocess_preset(const char *name, seer_preprocess *out);
const char *seer_preprocess_preset_name(int i); // i-th preset name, NULL past the end

// Parse a description: an optional preset name first, then comma-separated key=value
// overrides (without a preset name, "imagenet_timm" is the base):
//   resize=<filter>          nearest|box|bilinear|hamming|bicubic|lanczos
//   size=<int>               output side
//   crop_pct=<float>         mode crop_pct     short=<int>   mode short
//   squash=<int>             mode squash       mode=none|adm (or crop_pct|short|squash)
//   mean=<a>/<b>/<c>         or one value for all channels; std likewise
// e.g. "resize=bicubic,crop_pct=0.96,size=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"
// or "imagenet_timm,crop_pct=0.96". Unknown keys or bad values: SEER_STATUS_ARG.
seer_status seer_preprocess_parse(const char *s, seer_preprocess *out);
// The canonical description of p (parses back to the same struct). Returns SEER_STATUS_ARG
// if buf is too small (n >= 256 always suffices).
seer_status seer_preprocess_format(const seer_preprocess *p, char *buf, size_t n);
// SEER_STATUS_ARG with a message if p is inconsistent (size < 1, std = 0, ...).
seer_status seer_preprocess_check(const seer_preprocess *p);

// Output side (p->size) and float count (size * size * 3).
int seer_preprocess_out_size(const seer_preprocess *p);
size_t seer_preprocess_out_numel(const seer_preprocess *p);
// Size of the image after the resize step (before the crop) for a w x h input.
seer_status seer_preprocess_resized_size(const seer_preprocess *p, int w, int h, int *rw, int *rh);

// Apply p to a w x h RGB HWC image; out_hwc holds size * size * 3 floats.
seer_status seer_preprocess_run(const seer_preprocess *p, const uint8_t *rgb, int w, int h,
                                float *out_hwc);

#endif
