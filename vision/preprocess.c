// Evaluation transforms: presets, their one-line descriptions, and running one on an image.
// The geometry follows torchvision (Resize on PIL images, CenterCrop with zero padding) and
// guided-diffusion's center_crop_arr, including their Python rounding rules, so the crop
// window lands on the same pixels as in the reference evaluations.
#include "vision/preprocess.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 16384 // output side and resize target limit (far above any model's input)

// clang-format off
#define IMAGENET_MEAN {0.485, 0.456, 0.406}
#define IMAGENET_STD {0.229, 0.224, 0.225}
// clang-format on

typedef struct preset_entry {
    const char *name;
    seer_preprocess p;
} preset_entry;

// Sources: REFERENCES.md "Evaluation preprocessing, exactly".
static const preset_entry presets[] = {
    // timm eval transform; models override crop_pct (and size) from their pretrained cfg.
    {"imagenet_timm",
     {SEER_RESIZE_CROP_PCT, SEER_RESAMPLE_BICUBIC, 224, 0.875, 0, IMAGENET_MEAN, IMAGENET_STD}},
    // VAN's models use timm's vision_transformer _cfg: crop 0.9, Inception mean/std (0.5).
    {"van",
     {SEER_RESIZE_CROP_PCT, SEER_RESAMPLE_BICUBIC, 224, 0.9, 0, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}}},
    // BiFormer (DeiT-style build_transform): short side 256, crop 224; bicubic is DeiT's
    // interpolation=3, assumed here.
    {"biformer",
     {SEER_RESIZE_SHORT, SEER_RESAMPLE_BICUBIC, 224, 0.0, 256, IMAGENET_MEAN, IMAGENET_STD}},
    // Agent-Attention data/build.py: Resize((256, 256)) squashes, then crop 224.
    {"agent",
     {SEER_RESIZE_SQUASH, SEER_RESAMPLE_BICUBIC, 224, 0.0, 256, IMAGENET_MEAN, IMAGENET_STD}},
    // DeiT / Sparsifiner: Resize(int(224 / 0.875)) = 256; equals floor(size / 0.875).
    {"deit",
     {SEER_RESIZE_CROP_PCT, SEER_RESAMPLE_BICUBIC, 224, 0.875, 0, IMAGENET_MEAN, IMAGENET_STD}},
    // Pretrained CIFAR ResNets: 32x32 as is, ImageNet mean/std.
    {"cifar", {SEER_RESIZE_NONE, SEER_RESAMPLE_BICUBIC, 32, 0.0, 0, IMAGENET_MEAN, IMAGENET_STD}},
    // ADM / ENAT: center_crop_arr, pixels in [0, 1].
    {"adm", {SEER_RESIZE_ADM, SEER_RESAMPLE_BICUBIC, 256, 0.0, 0, {0, 0, 0}, {1, 1, 1}}},
};
#define N_PRESETS ((int)(sizeof presets / sizeof presets[0]))

static const char *const mode_names[SEER_RESIZE_MODE_COUNT] = {
    "crop_pct", "short", "squash", "none", "adm",
};

seer_status seer_preprocess_preset(const char *name, seer_preprocess *out) {
    for (int i = 0; i < N_PRESETS; i++) {
        if (name && strcmp(name, presets[i].name) == 0) {
            *out = presets[i].p;
            return SEER_STATUS_OK;
        }
    }
    return seer_fail(SEER_STATUS_NOT_FOUND,
                     "unknown preprocess preset '%s' (expected imagenet_timm, van, biformer, "
                     "agent, deit, cifar or adm)",
                     name ? name : "(null)");
}

const char *seer_preprocess_preset_name(int i) {
    return i >= 0 && i < N_PRESETS ? presets[i].name : NULL;
}

seer_status seer_preprocess_check(const seer_preprocess *p) {
    if (!p) return seer_fail(SEER_STATUS_ARG, "preprocess: NULL preset");
    if ((unsigned)p->mode >= SEER_RESIZE_MODE_COUNT)
        return seer_fail(SEER_STATUS_ARG, "preprocess: unknown resize mode %d", (int)p->mode);
    if ((unsigned)p->filter >= SEER_RESAMPLE_COUNT)
        return seer_fail(SEER_STATUS_ARG, "preprocess: unknown filter %d", (int)p->filter);
    if (p->size < 1 || p->size > MAX_SIDE)
        return seer_fail(SEER_STATUS_ARG, "preprocess: size %d outside [1, %d]", p->size, MAX_SIDE);
    if (p->mode == SEER_RESIZE_CROP_PCT) {
        if (!(p->crop_pct > 0.0 && p->crop_pct <= 16.0))
            return seer_fail(SEER_STATUS_ARG, "preprocess: crop_pct %g outside (0, 16]",
                             p->crop_pct);
        double scale = floor(p->size / p->crop_pct);
        if (scale < 1.0 || scale > MAX_SIDE)
            return seer_fail(SEER_STATUS_ARG,
                             "preprocess: size %d / crop_pct %g gives resize target %.0f, "
                             "outside [1, %d]",
                             p->size, p->crop_pct, scale, MAX_SIDE);
    }
    if ((p->mode == SEER_RESIZE_SHORT || p->mode == SEER_RESIZE_SQUASH) &&
        (p->resize_size < 1 || p->resize_size > MAX_SIDE))
        return seer_fail(SEER_STATUS_ARG, "preprocess: %s resize size %d outside [1, %d]",
                         mode_names[p->mode], p->resize_size, MAX_SIDE);
    for (int c = 0; c < 3; c++) {
        float m = (float)p->mean[c], s = (float)p->std[c];
        if (!isfinite(m) || !isfinite(s) || s == 0.0f)
            return seer_fail(SEER_STATUS_ARG,
                             "preprocess: channel %d mean %g std %g (need finite, std != 0)", c,
                             p->mean[c], p->std[c]);
    }
    return SEER_STATUS_OK;
}

int seer_preprocess_out_size(const seer_preprocess *p) {
    return p->size;
}

size_t seer_preprocess_out_numel(const seer_preprocess *p) {
    return (size_t)p->size * (size_t)p->size * 3;
}

// ---- geometry ------------------------------------------------------------------------------

// torchvision Resize(n) on a PIL image: short side n, long side int(n * long / short), where
// the product is an exact integer and the division a correctly rounded double.
static seer_status short_side(int w, int h, int n, int *rw, int *rh) {
    int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    double l = (double)((int64_t)n * longer) / (double)shorter;
    if (l >= (double)INT_MAX)
        return seer_fail(SEER_STATUS_ARG, "preprocess: resizing %dx%d to short side %d is too big",
                         w, h, n);
    int nl = (int)l;
    *rw = w <= h ? n : nl;
    *rh = w <= h ? nl : n;
    return SEER_STATUS_OK;
}

// center_crop_arr's halvings: while the short side is >= 2 * size, PIL BOX to (w // 2, h // 2).
static int adm_halvings(int w, int h, int size) {
    int n = 0;
    while ((w < h ? w : h) >= 2 * size) {
        w /= 2;
        h /= 2;
        n++;
    }
    return n;
}

// center_crop_arr's final resize: scale = size / short, each side round(side * scale) with
// Python's round (half to even; nearbyint in the default rounding mode does the same).
static void adm_final_size(int w, int h, int size, int *rw, int *rh) {
    double scale = (double)size / (double)(w < h ? w : h);
    *rw = (int)nearbyint((double)w * scale);
    *rh = (int)nearbyint((double)h * scale);
}

seer_status seer_preprocess_resized_size(const seer_preprocess *p, int w, int h, int *rw, int *rh) {
    SEER_TRY(seer_preprocess_check(p));
    if (w < 1 || h < 1) return seer_fail(SEER_STATUS_ARG, "preprocess: bad image size %dx%d", w, h);
    switch (p->mode) {
    case SEER_RESIZE_CROP_PCT:
        // timm: scale_size = math.floor(img_size / crop_pct), both in double.
        return short_side(w, h, (int)floor(p->size / p->crop_pct), rw, rh);
    case SEER_RESIZE_SHORT: return short_side(w, h, p->resize_size, rw, rh);
    case SEER_RESIZE_SQUASH: *rw = *rh = p->resize_size; return SEER_STATUS_OK;
    case SEER_RESIZE_NONE:
        *rw = w;
        *rh = h;
        return SEER_STATUS_OK;
    case SEER_RESIZE_ADM: {
        int k = adm_halvings(w, h, p->size);
        adm_final_size(w >> k, h >> k, p->size, rw, rh);
        return SEER_STATUS_OK;
    }
    default: return seer_fail(SEER_STATUS_ARG, "preprocess: bad mode");
    }
}

// Python's round(d / 2) for an integer d (half to even), as in torchvision's crop offsets.
static int half_round_even(int d) {
    int q = d >= 0 ? d / 2 : -((-d + 1) / 2); // floor(d / 2)
    if (d % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1; // d / 2 = q + 0.5: pick the even neighbour
}

// Python's d // 2 (floor).
static int floor_half(int d) {
    return d >= 0 ? d / 2 : -((-d + 1) / 2);
}

// Offset of the crop window in the image along one axis (negative = zero padding first).
// torchvision pads (crop - n) // 2 before and the rest after, so the window starts there.
static int center_offset(int n, int crop) {
    if (crop > n) return -((crop - n) / 2);
    return half_round_even(n - crop);
}

// ---- running -------------------------------------------------------------------------------

// Resize step into a new buffer (*out, caller frees) of rw x rh.
static seer_status resize_step(const seer_preprocess *p, const uint8_t *rgb, int w, int h,
                               uint8_t **out, int *rw, int *rh) {
    *out = NULL;
    SEER_TRY(seer_preprocess_resized_size(p, w, h, rw, rh));
    if (p->mode == SEER_RESIZE_NONE) return SEER_STATUS_OK;
    const uint8_t *cur = rgb;
    uint8_t *owned = NULL;
    if (p->mode == SEER_RESIZE_ADM) {
        // Box-halve while the image is at least twice the target (guided-diffusion does this
        // by hand for quality on old PIL versions; it changes the pixels, so we must too).
        int k = adm_halvings(w, h, p->size);
        for (int i = 0; i < k; i++) {
            int nw = w / 2, nh = h / 2;
            uint8_t *next = malloc((size_t)nw * nh * 3);
            if (!next) {
                free(owned);
                return seer_fail(SEER_STATUS_OOM, "preprocess: out of memory (%dx%d)", nw, nh);
            }
            seer_status st = seer_resample_u8(cur, w, h, 3, next, nw, nh, SEER_RESAMPLE_BOX);
            free(owned);
            if (st != SEER_STATUS_OK) {
                free(next);
                return st;
            }
            cur = owned = next;
            w = nw;
            h = nh;
        }
    }
    uint8_t *dst = malloc((size_t)*rw * (size_t)*rh * 3);
    if (!dst) {
        free(owned);
        return seer_fail(SEER_STATUS_OOM, "preprocess: out of memory (%dx%d)", *rw, *rh);
    }
    seer_status st = seer_resample_u8(cur, w, h, 3, dst, *rw, *rh, p->filter);
    free(owned);
    if (st != SEER_STATUS_OK) {
        free(dst);
        return st;
    }
    *out = dst;
    return SEER_STATUS_OK;
}

seer_status seer_preprocess_run(const seer_preprocess *p, const uint8_t *rgb, int w, int h,
                                float *out_hwc) {
    SEER_TRY(seer_preprocess_check(p));
    if (!rgb || !out_hwc) return seer_fail(SEER_STATUS_ARG, "preprocess: NULL buffer");
    if (w < 1 || h < 1) return seer_fail(SEER_STATUS_ARG, "preprocess: bad image size %dx%d", w, h);

    uint8_t *resized = NULL;
    int rw, rh;
    SEER_TRY(resize_step(p, rgb, w, h, &resized, &rw, &rh));
    const uint8_t *img = resized ? resized : rgb;

    int s = p->size, top, left;
    if (p->mode == SEER_RESIZE_ADM) {
        // center_crop_arr slices arr[(h - s) // 2 :, (w - s) // 2 :].
        top = floor_half(rh - s);
        left = floor_half(rw - s);
    } else {
        top = center_offset(rh, s);
        left = center_offset(rw, s);
    }

    // ToTensor then Normalize, in float32 as torch does: x / 255, then (x - mean) / std.
    float mean[3], std[3];
    for (int c = 0; c < 3; c++) {
        mean[c] = (float)p->mean[c];
        std[c] = (float)p->std[c];
    }
    for (int y = 0; y < s; y++) {
        int sy = top + y;
        for (int x = 0; x < s; x++) {
            int sx = left + x;
            float *o = out_hwc + ((size_t)y * s + x) * 3;
            const uint8_t *px = NULL;
            if (sy >= 0 && sy < rh && sx >= 0 && sx < rw) px = img + ((size_t)sy * rw + sx) * 3;
            for (int c = 0; c < 3; c++) {
                float v = px ? (float)px[c] / 255.0f : 0.0f; // padding is pixel value 0
                o[c] = (v - mean[c]) / std[c];
            }
        }
    }
    free(resized);
    return SEER_STATUS_OK;
}

// ---- descriptions --------------------------------------------------------------------------

// Shortest decimal that reads back as exactly v (like Python's repr), so "0.96" stays "0.96".
static void format_double(char *buf, size_t n, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

seer_status seer_preprocess_format(const seer_preprocess *p, char *buf, size_t n) {
    SEER_TRY(seer_preprocess_check(p));
    char geom[48], num[6][32];
    switch (p->mode) {
    case SEER_RESIZE_CROP_PCT:
        format_double(num[0], sizeof num[0], p->crop_pct);
        snprintf(geom, sizeof geom, "crop_pct=%s", num[0]);
        break;
    case SEER_RESIZE_SHORT: snprintf(geom, sizeof geom, "short=%d", p->resize_size); break;
    case SEER_RESIZE_SQUASH: snprintf(geom, sizeof geom, "squash=%d", p->resize_size); break;
    default: snprintf(geom, sizeof geom, "mode=%s", mode_names[p->mode]); break;
    }
    for (int c = 0; c < 3; c++) {
        format_double(num[c], sizeof num[c], p->mean[c]);
        format_double(num[3 + c], sizeof num[3 + c], p->std[c]);
    }
    int len = snprintf(buf, n, "resize=%s,%s,size=%d,mean=%s/%s/%s,std=%s/%s/%s",
                       seer_resample_name(p->filter), geom, p->size, num[0], num[1], num[2], num[3],
                       num[4], num[5]);
    if (len < 0 || (size_t)len >= n)
        return seer_fail(SEER_STATUS_ARG, "preprocess: format buffer of %zu bytes too small", n);
    return SEER_STATUS_OK;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool parse_int(const char *v, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno || x < INT_MIN || x > INT_MAX) return false;
    *out = (int)x;
    return true;
}

static bool parse_double(const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || errno || !isfinite(x)) return false;
    *out = x;
    return true;
}

// "a/b/c" or "a" (all three channels).
static bool parse_triple(char *v, double out[3]) {
    double x[3];
    int n = 0;
    for (char *tok = v, *next; tok; tok = next) {
        next = strchr(tok, '/');
        if (next) *next++ = '\0';
        if (n == 3 || !parse_double(trim(tok), &x[n])) return false;
        n++;
    }
    if (n == 1)
        x[1] = x[2] = x[0];
    else if (n != 3)
        return false;
    memcpy(out, x, sizeof x);
    return true;
}

enum {
    KEY_RESIZE,
    KEY_SIZE,
    KEY_CROP_PCT,
    KEY_SHORT,
    KEY_SQUASH,
    KEY_MODE,
    KEY_MEAN,
    KEY_STD,
    KEY_COUNT
};
static const char *const key_names[KEY_COUNT] = {
    "resize", "size", "crop_pct", "short", "squash", "mode", "mean", "std",
};

seer_status seer_preprocess_parse(const char *s, seer_preprocess *out) {
    if (!s || !out) return seer_fail(SEER_STATUS_ARG, "preprocess: NULL description");
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    if (!copy) return seer_fail(SEER_STATUS_OOM, "preprocess: out of memory");
    memcpy(copy, s, len + 1);

    seer_preprocess p = presets[0].p; // imagenet_timm unless a preset name comes first
    bool seen[KEY_COUNT] = {false};
    const char *mode_key = NULL; // key that chose the resize mode (to report conflicts)
    seer_status st = SEER_STATUS_OK;
    int index = 0;
    for (char *tok = copy, *next; tok; tok = next, index++) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        char *t = trim(tok);
        if (!*t) continue; // empty string or stray comma
        char *eq = strchr(t, '=');
        if (!eq) {
            if (index == 0 && *t) {
                if (seer_preprocess_preset(t, &p) != SEER_STATUS_OK) {
                    st = seer_fail(SEER_STATUS_ARG,
                                   "preprocess '%.200s': unknown preset '%s' (expected "
                                   "imagenet_timm, van, biformer, agent, deit, cifar or adm)",
                                   s, t);
                    goto done;
                }
                continue;
            }
            st = seer_fail(SEER_STATUS_ARG,
                           "preprocess '%.200s': '%s' is not key=value (a preset name may "
                           "only come first)",
                           s, t);
            goto done;
        }
        *eq = '\0';
        char *key = trim(t), *val = trim(eq + 1);
        int k = 0;
        while (k < KEY_COUNT && strcmp(key, key_names[k]) != 0)
            k++;
        if (k == KEY_COUNT) {
            st = seer_fail(SEER_STATUS_ARG,
                           "preprocess '%.200s': unknown key '%s' (expected resize, size, "
                           "crop_pct, short, squash, mode, mean or std)",
                           s, key);
            goto done;
        }
        if (seen[k]) {
            st = seer_fail(SEER_STATUS_ARG, "preprocess '%.200s': key '%s' given twice", s, key);
            goto done;
        }
        seen[k] = true;

        seer_pre_mode mode = p.mode;
        bool sets_mode = false, ok = true;
        const char *expect = "";
        switch (k) {
        case KEY_RESIZE:
            if (seer_resample_from_name(val, &p.filter) != SEER_STATUS_OK) {
                ok = false;
                expect = "nearest, box, bilinear, hamming, bicubic or lanczos";
            }
            break;
        case KEY_SIZE:
            ok = parse_int(val, &p.size) && p.size >= 1 && p.size <= MAX_SIDE;
            expect = "an integer in [1, 16384]";
            break;
        case KEY_CROP_PCT:
            ok = parse_double(val, &p.crop_pct) && p.crop_pct > 0.0 && p.crop_pct <= 16.0;
            expect = "a number in (0, 16]";
            mode = SEER_RESIZE_CROP_PCT;
            sets_mode = true;
            break;
        case KEY_SHORT:
        case KEY_SQUASH:
            ok = parse_int(val, &p.resize_size) && p.resize_size >= 1 && p.resize_size <= MAX_SIDE;
            expect = "an integer in [1, 16384]";
            mode = k == KEY_SHORT ? SEER_RESIZE_SHORT : SEER_RESIZE_SQUASH;
            sets_mode = true;
            break;
        case KEY_MODE: {
            int m = 0;
            while (m < SEER_RESIZE_MODE_COUNT && strcmp(val, mode_names[m]) != 0)
                m++;
            ok = m < SEER_RESIZE_MODE_COUNT;
            expect = "crop_pct, short, squash, none or adm";
            mode = (seer_pre_mode)(ok ? m : 0);
            sets_mode = ok;
            break;
        }
        case KEY_MEAN:
        case KEY_STD:
            ok = parse_triple(val, k == KEY_MEAN ? p.mean : p.std);
            expect = "one number or three separated by '/'";
            break;
        }
        if (!ok) {
            st = seer_fail(SEER_STATUS_ARG, "preprocess '%.200s': bad %s '%s' (expected %s)", s,
                           key, val, expect);
            goto done;
        }
        if (sets_mode) {
            if (mode_key && mode != p.mode) {
                st = seer_fail(SEER_STATUS_ARG,
                               "preprocess '%.200s': '%s' and '%s' ask for different resize "
                               "modes",
                               s, mode_key, key);
                goto done;
            }
            p.mode = mode;
            mode_key = key_names[k];
        }
    }
    // Keep only the fields the mode uses, so that equal transforms compare equal.
    if (p.mode != SEER_RESIZE_CROP_PCT) p.crop_pct = 0.0;
    if (p.mode != SEER_RESIZE_SHORT && p.mode != SEER_RESIZE_SQUASH) p.resize_size = 0;
    if ((st = seer_preprocess_check(&p)) != SEER_STATUS_OK) {
        seer_fail_context(st, "preprocess '%.200s'", s);
        goto done;
    }
    *out = p;
done:
    free(copy);
    return st;
}
