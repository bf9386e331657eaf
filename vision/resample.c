// PIL-exact resampling of 8-bit images (Pillow's Image.resize without reducing_gap, which is
// what torchvision's Resize calls on PIL images).
//
// The arithmetic mirrors Pillow's documented algorithm step by step because the models were
// evaluated on its output and we want identical bytes, not merely close ones:
// - per axis, output pixel i covers input [i * scale, (i + 1) * scale) with scale = in / out;
//   its filter is centred at (i + 0.5) * scale and, when shrinking, stretched by scale (the
//   antialiasing), over input pixels whose centres fall inside the support;
// - float weights are normalised to sum 1, then turned into signed 22-bit fixed point
//   (32 bits - 8 for the pixel - 2 of headroom for the negative lobes), rounded half away
//   from zero;
// - the horizontal pass runs first and is rounded and clipped to 8 bits, then the vertical
//   pass runs over that result; an axis whose size does not change is skipped.
// Every double expression keeps Pillow's operation order: reordering changes the last bit of
// some weights, and that flips a pixel by one level once in a few thousand.
#include "vision/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIXED_BITS 22

static const char *const filter_names[SEER_RESAMPLE_COUNT] = {
    "nearest", "box", "bilinear", "hamming", "bicubic", "lanczos",
};

const char *seer_resample_name(seer_resample f) {
    return (unsigned)f < SEER_RESAMPLE_COUNT ? filter_names[f] : "?";
}

seer_status seer_resample_from_name(const char *name, seer_resample *out) {
    for (int i = 0; i < SEER_RESAMPLE_COUNT; i++) {
        if (name && strcmp(name, filter_names[i]) == 0) {
            *out = (seer_resample)i;
            return SEER_STATUS_OK;
        }
    }
    return seer_fail(SEER_STATUS_ARG,
                     "unknown resampling filter '%s' (expected nearest, box, bilinear, "
                     "hamming, bicubic or lanczos)",
                     name ? name : "(null)");
}

// ---- filter kernels (x in units of input pixels of the unstretched filter) -----------------

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double kernel(seer_resample f, double x) {
    switch (f) {
    case SEER_RESAMPLE_BOX:
        // Half-open on the left so that a pixel boundary falling exactly on the edge of the
        // box is counted once.
        return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
    case SEER_RESAMPLE_BILINEAR:
        if (x < 0.0) x = -x;
        return x < 1.0 ? 1.0 - x : 0.0;
    case SEER_RESAMPLE_HAMMING:
        if (x < 0.0) x = -x;
        if (x == 0.0) return 1.0;
        if (x >= 1.0) return 0.0;
        x = x * M_PI;
        // Pillow writes the window constants as floats; 0.54f/0.46f are not 0.54/0.46.
        return sin(x) / x * (0.54f + 0.46f * cos(x));
    case SEER_RESAMPLE_BICUBIC:
        // Keys' cubic convolution with a = -0.5 (PIL; PyTorch's tensor bicubic uses -0.75).
        // With a = -0.5 the kernel reproduces quadratics exactly and is the value every PIL
        // evaluation used. Coefficients (a + 2) = 1.5 and (a + 3) = 2.5 are exact.
        if (x < 0.0) x = -x;
        if (x < 1.0) return (1.5 * x - 2.5) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * -0.5;
        return 0.0;
    case SEER_RESAMPLE_LANCZOS:
        if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
        return 0.0;
    default: return 0.0;
    }
}

static double kernel_support(seer_resample f) {
    switch (f) {
    case SEER_RESAMPLE_BOX: return 0.5;
    case SEER_RESAMPLE_BILINEAR:
    case SEER_RESAMPLE_HAMMING: return 1.0;
    case SEER_RESAMPLE_BICUBIC: return 2.0;
    case SEER_RESAMPLE_LANCZOS: return 3.0;
    default: return 0.0;
    }
}

// ---- per-axis weights ----------------------------------------------------------------------

typedef struct axis_weights {
    int taps;      // weights stored per output pixel (the widest window)
    int *first;    // [out] first input index of the window
    int *count;    // [out] window length (<= taps)
    int32_t *coef; // [out * taps] fixed-point weights
} axis_weights;

static void axis_free(axis_weights *a) {
    free(a->first);
    free(a->count);
    free(a->coef);
    memset(a, 0, sizeof *a);
}

static seer_status axis_init(axis_weights *a, int in_size, int out_size, seer_resample f) {
    memset(a, 0, sizeof *a);
    double scale = (double)in_size / out_size;
    double stretch = scale < 1.0 ? 1.0 : scale; // only shrinking widens the filter
    double support = kernel_support(f) * stretch;
    a->taps = (int)ceil(support) * 2 + 1;
    a->first = malloc((size_t)out_size * sizeof *a->first);
    a->count = malloc((size_t)out_size * sizeof *a->count);
    a->coef = malloc((size_t)out_size * (size_t)a->taps * sizeof *a->coef);
    double *w = malloc((size_t)a->taps * sizeof *w);
    if (!a->first || !a->count || !a->coef || !w) {
        free(w);
        axis_free(a);
        return seer_fail(SEER_STATUS_OOM, "resample: out of memory for %d x %d weights", out_size,
                         a->taps);
    }
    double inv_stretch = 1.0 / stretch;
    for (int i = 0; i < out_size; i++) {
        double center = 0.0 + (i + 0.5) * scale;
        // Window: input pixels whose index rounds into [center - support, center + support).
        // The casts truncate toward zero; the clamps make that equal to Pillow's rounding.
        int lo = (int)(center - support + 0.5);
        if (lo < 0) lo = 0;
        int hi = (int)(center + support + 0.5);
        if (hi > in_size) hi = in_size;
        int n = hi - lo;
        double sum = 0.0;
        for (int k = 0; k < n; k++) {
            // Distance from the filter centre to the centre of input pixel lo + k.
            w[k] = kernel(f, ((lo + k) - center + 0.5) * inv_stretch);
            sum += w[k];
        }
        int32_t *c = a->coef + (size_t)i * a->taps;
        for (int k = 0; k < a->taps; k++) {
            double v = 0.0;
            if (k < n) v = sum != 0.0 ? w[k] / sum : w[k];
            // Round half away from zero to 22 fractional bits.
            c[k] = v < 0 ? (int32_t)(-0.5 + v * (1 << FIXED_BITS))
                         : (int32_t)(0.5 + v * (1 << FIXED_BITS));
        }
        a->first[i] = lo;
        a->count[i] = n;
    }
    free(w);
    return SEER_STATUS_OK;
}

// Fixed-point sum -> pixel: drop the fraction (floor) and clip to [0, 255]. The sum starts at
// one half, so this rounds to nearest. The range of a sum is about +-1.3 * 2^30, inside int32.
static inline uint8_t fixed_to_u8(int32_t acc) {
    if (acc < 0) return 0;
    int32_t v = acc >> FIXED_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

// Rows [row0, row0 + rows) of src (w wide) -> dst (out_w wide, rows tall).
static void pass_horizontal(const uint8_t *src, int w, int c, int row0, int rows, uint8_t *dst,
                            int out_w, const axis_weights *a) {
    // Rows are independent, so threads cannot change the result.
#pragma omp parallel for schedule(static) if ((int64_t)rows * out_w * a->taps > (1 << 18))
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(row0 + y) * w * c;
        uint8_t *out = dst + (size_t)y * out_w * c;
        for (int x = 0; x < out_w; x++) {
            const int32_t *k = a->coef + (size_t)x * a->taps;
            const uint8_t *p = in + (size_t)a->first[x] * c;
            for (int ch = 0; ch < c; ch++) {
                int32_t acc = 1 << (FIXED_BITS - 1);
                for (int t = 0; t < a->count[x]; t++)
                    acc += p[t * c + ch] * k[t];
                out[x * c + ch] = fixed_to_u8(acc);
            }
        }
    }
}

// src rows are indexed relative to row0 (the first row any output row reads).
static void pass_vertical(const uint8_t *src, int w, int c, int row0, uint8_t *dst, int out_h,
                          const axis_weights *a) {
    size_t stride = (size_t)w * c;
#pragma omp parallel for schedule(static) if ((int64_t)out_h * w * a->taps > (1 << 18))
    for (int y = 0; y < out_h; y++) {
        const int32_t *k = a->coef + (size_t)y * a->taps;
        const uint8_t *in = src + (size_t)(a->first[y] - row0) * stride;
        uint8_t *out = dst + (size_t)y * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t acc = 1 << (FIXED_BITS - 1);
            for (int t = 0; t < a->count[y]; t++)
                acc += in[t * stride + i] * k[t];
            out[i] = fixed_to_u8(acc);
        }
    }
}

// PIL's NEAREST resize is an affine scale: output pixel i samples input floor(x_i) where
// x_i = scale / 2 + i * scale, accumulated by repeated addition (as Pillow does; the sum, not
// the product, decides the rare ties). Samples outside the image stay zero.
static seer_status resample_nearest(const uint8_t *src, int w, int h, int c, uint8_t *dst,
                                    int out_w, int out_h) {
    int *col = malloc((size_t)out_w * sizeof *col);
    if (!col) return seer_fail(SEER_STATUS_OOM, "resample: out of memory");
    double sx = (double)w / out_w, sy = (double)h / out_h;
    double xo = 0.0 + sx * 0.5;
    for (int x = 0; x < out_w; x++) {
        int xi = xo < 0.0 ? -1 : (int)xo;
        col[x] = xi < w ? xi : -1;
        xo += sx;
    }
    double yo = 0.0 + sy * 0.5;
    for (int y = 0; y < out_h; y++) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        uint8_t *out = dst + (size_t)y * out_w * c;
        if (yi < 0 || yi >= h) {
            memset(out, 0, (size_t)out_w * c);
        } else {
            const uint8_t *in = src + (size_t)yi * w * c;
            for (int x = 0; x < out_w; x++) {
                if (col[x] < 0)
                    memset(out + (size_t)x * c, 0, (size_t)c);
                else
                    memcpy(out + (size_t)x * c, in + (size_t)col[x] * c, (size_t)c);
            }
        }
        yo += sy;
    }
    free(col);
    return SEER_STATUS_OK;
}

seer_status seer_resample_u8(const uint8_t *src, int w, int h, int c, uint8_t *dst, int out_w,
                             int out_h, seer_resample filter) {
    if (!src || !dst) return seer_fail(SEER_STATUS_ARG, "resample: NULL image buffer");
    if (w < 1 || h < 1 || out_w < 1 || out_h < 1)
        return seer_fail(SEER_STATUS_ARG, "resample: bad size %dx%d -> %dx%d", w, h, out_w, out_h);
    if (c < 1 || c > 4)
        return seer_fail(SEER_STATUS_ARG, "resample: %d channels (expected 1 to 4)", c);
    if ((unsigned)filter >= SEER_RESAMPLE_COUNT)
        return seer_fail(SEER_STATUS_ARG, "resample: unknown filter %d", (int)filter);
    if (out_w == w && out_h == h) {
        memcpy(dst, src, (size_t)w * h * c);
        return SEER_STATUS_OK;
    }
    if (filter == SEER_RESAMPLE_NEAREST) return resample_nearest(src, w, h, c, dst, out_w, out_h);

    int need_h = out_w != w, need_v = out_h != h;
    axis_weights ax = {0}, ay = {0};
    uint8_t *tmp = NULL;
    seer_status st = SEER_STATUS_OK;
    if (need_v && (st = axis_init(&ay, h, out_h, filter)) != SEER_STATUS_OK) goto done;
    // Rows of the source the vertical pass reads (all of them if there is no vertical pass).
    int row0 = need_v ? ay.first[0] : 0;
    int row1 = need_v ? ay.first[out_h - 1] + ay.count[out_h - 1] : h;
    if (need_h) {
        if ((st = axis_init(&ax, w, out_w, filter)) != SEER_STATUS_OK) goto done;
        uint8_t *hdst = dst;
        if (need_v) {
            tmp = malloc((size_t)out_w * (row1 - row0) * c);
            if (!tmp) {
                st = seer_fail(SEER_STATUS_OOM, "resample: out of memory for %dx%d", out_w,
                               row1 - row0);
                goto done;
            }
            hdst = tmp;
        }
        pass_horizontal(src, w, c, row0, row1 - row0, hdst, out_w, &ax);
    }
    if (need_v) {
        if (need_h)
            pass_vertical(tmp, out_w, c, row0, dst, out_h, &ay);
        else
            pass_vertical(src, w, c, 0, dst, out_h, &ay);
    }
done:
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return st;
}
