// Image files in and out: decode JPEG/PNG/GIF/BMP/TGA/PNM/PSD bytes to 8-bit RGB (HWC), write PNG.
//
// Decoding aims at the pixels PIL gives for `Image.open(p).convert('RGB')`, because that is what
// timm/torchvision evaluation feeds the models:
//   - JPEG goes through libjpeg-turbo with PIL's settings (ISLOW DCT, fancy upsampling, RGB out);
//     grayscale is replicated to RGB; 4-component (CMYK/YCCK) JPEGs are read as Adobe-inverted
//     CMYK and converted with PIL's cmyk2rgb (see image_jpeg.c). Truncated JPEGs are an error,
//     as in PIL (which raises "image file is truncated").
//   - PNG/GIF/BMP/TGA/PNM/PSD go through stb_image; alpha is dropped (PIL's RGBA->RGB drops it),
//     palettes are expanded; the first GIF frame is composed like PIL does (transparent pixels
//     and the area outside the first frame take their palette colour, not black).
//   - EXIF orientation is NOT applied by default: PIL's Image.open does not apply it and neither
//     do timm/torchvision eval transforms, so applying it would change model inputs. The GUI can
//     ask for it (apply_exif_orientation), which then matches PIL's ImageOps.exif_transpose.
// Known, deliberate difference: 16-bit grayscale PNG. PIL 9.4 opens it as mode "I" and
// convert('RGB') clips every value above 255 to 255 (a nearly white image); we keep the high
// byte, as PIL itself does for 16-bit RGB/RGBA/LA PNGs.
//
// The format is found from the bytes (magic numbers), never from the file name: a ".jpg" that
// is really a PNG or GIF decodes as what it is. TGA has no magic number, so it is tried last,
// and only when its 18-byte header passes strict checks (see seer_image_probe).
#ifndef SEER_IMAGE_H
#define SEER_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

// 8-bit image, rows top to bottom, pixels interleaved (HWC). Decoded images always have c = 3.
typedef struct seer_image {
    int w, h, c;
    uint8_t *px;  // w * h * c bytes, owned; release with seer_image_free
} seer_image;

// 64 megapixels: far above any model input, below sizes that would exhaust memory by accident
// (a 64 Mpx RGB image is 192 MB). Checked from the header, before any pixel is decoded.
#define SEER_IMAGE_DEFAULT_MAX_PIXELS (64ll * 1000 * 1000)

// Zero-initialised opts (or NULL) mean the defaults.
typedef struct seer_image_opts {
    int64_t max_pixels;           // <= 0: SEER_IMAGE_DEFAULT_MAX_PIXELS
    bool apply_exif_orientation;  // JPEG (APP1) and PNG (eXIf); default false, see above
} seer_image_opts;

typedef enum seer_image_format {
    SEER_IMAGE_UNKNOWN = 0,
    SEER_IMAGE_JPEG,
    SEER_IMAGE_PNG,
    SEER_IMAGE_GIF,
    SEER_IMAGE_BMP,
    SEER_IMAGE_TGA,
    SEER_IMAGE_PNM,  // binary P5 (gray) / P6 (RGB) only
    SEER_IMAGE_PSD,
} seer_image_format;

typedef struct seer_image_info {
    seer_image_format format;
    int w, h;         // as stored (before any EXIF rotation)
    int orientation;  // EXIF orientation 1..8 (1 when absent or not JPEG/PNG)
} seer_image_info;

const char *seer_image_format_name(seer_image_format f);  // "JPEG", "PNG", ..., "unknown"

// Format from the first bytes only (no TGA guess); SEER_IMAGE_UNKNOWN when not recognised.
seer_image_format seer_image_detect(const void *bytes, size_t n);

// Format and size from the header, without decoding pixels. FORMAT error (naming `label` and,
// where recognisable, what the bytes are instead: TIFF, WebP, HTML, MATLAB, ...) when the bytes
// are not a supported image.
seer_status seer_image_probe(const void *bytes, size_t n, const char *label, seer_image_info *out);

// Decode `n` bytes to RGB. `label` names the source in messages (a path; NULL: "<memory>").
// On failure *out is zeroed and the message says what and why; nothing is left to free.
seer_status seer_image_decode(const void *bytes, size_t n, const char *label,
                              const seer_image_opts *opts, seer_image *out);

// Read the file at `path` and decode it. IO error for missing/unreadable files and directories.
seer_status seer_image_load(const char *path, const seer_image_opts *opts, seer_image *out);

// Frees the pixels and zeroes the struct; safe on a zeroed or already freed image, and on NULL.
void seer_image_free(seer_image *img);

// Write `img` (c = 1 gray, 3 RGB or 4 RGBA) as an 8-bit PNG. The file appears atomically: it is
// written to "<path>.tmp.<pid>" and renamed over `path`, so a reader never sees half a file.
// Metadata (model, class, seed, steps, ...) goes into tEXt chunks (iTXt when a value is not
// plain ASCII, so UTF-8 survives); keys are 1..79 printable Latin-1 characters, as PNG requires.
seer_status seer_image_write_png(const char *path, const seer_image *img,
                                 const char *const *text_keys, const char *const *text_values,
                                 int n_text);

// Create folder `dir` and any missing parents (mkdir -p), for the folders images are saved
// into. SEER_STATUS_IO naming the part that could not be made.
seer_status seer_make_dirs(const char *dir);

#endif
