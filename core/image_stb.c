// PNG, GIF, BMP, TGA, PNM and PSD through stb_image, converted the way PIL's convert('RGB')
// does: alpha dropped, palettes and gray expanded, 16-bit samples reduced to their high byte.
//
// stb_image is compiled here, static (STB_IMAGE_STATIC), because the build does not link
// Debian's libstb; static keeps it from clashing with any other copy in the program. Its JPEG
// decoder is left out: JPEG goes through libjpeg-turbo (image_jpeg.c) to match PIL bit for bit.
//
// Known differences from PIL 9.4, all on unusual files: a GIF whose first frame reaches past the
// logical screen (PIL grows the canvas, stb refuses), a GIF without any colour table (refused),
// a GIF missing only its final block terminator (truncated here, accepted by PIL), a PNG cut
// inside its last IDAT checksum (PIL may accept it), RLE-compressed BMP (stb cannot read it).
#include <stdlib.h>
#include <string.h>

#include "core/image_internal.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#define STBI_ONLY_PNG
#define STBI_ONLY_GIF
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_PNM
#define STBI_ONLY_PSD
// stb declares functions we never call; the "unused" warning fires at the end of the file, so
// it stays off for the whole file. The rest is confined to stb's own code.
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <stb_image.h>
#pragma GCC diagnostic pop

// stb reports terse reasons ("outofdata", "bad zlib header"); say what they mean for a user.
static seer_status fail_stb(const char *label, seer_image_format f, const char *what) {
    const char *why = stbi_failure_reason();
    if (!why) why = "unknown error";
    bool short_data = strstr(why, "outofdata") || strstr(why, "unexpected end") ||
                      strstr(why, "Corrupt PNG") || strstr(why, "bad zlib") ||
                      strstr(why, "bad huffman") || strstr(why, "Corrupt");
    return seer_fail(SEER_STATUS_FORMAT, "%s: %s %s failed: %s%s", label,
                     seer_image_format_name(f), what, why,
                     short_data ? " (file truncated or corrupt)" : "");
}

seer_status seer_image_info_stb_(const uint8_t *b, size_t n, const char *label,
                                 seer_image_format format, int *w, int *h) {
    int comp = 0;
    if (n > (size_t)0x7fffffff)  // stb takes an int length
        return seer_fail(SEER_STATUS_UNSUPPORTED, "%s: %s file over 2 GB", label,
                         seer_image_format_name(format));
    if (!stbi_info_from_memory(b, (int)n, w, h, &comp))
        return fail_stb(label, format, "header");
    if (*w <= 0 || *h <= 0)
        return seer_fail(SEER_STATUS_FORMAT, "%s: %s header gives an empty %dx%d image", label,
                         seer_image_format_name(format), *w, *h);
    return SEER_STATUS_OK;
}

// ---- GIF: compose the first frame as PIL does ---------------------------------------------
//
// PIL (9.4) loads frame 0 in "P" mode: pixels inside the frame keep their palette index, even
// the transparent one, and the canvas outside the frame is filled with the transparency index
// if the frame has one, else index 0. convert('RGB') then looks every index up in the frame's
// palette (local, else global). stb instead leaves transparent pixels as (0,0,0,0) and fills
// the outside with the background colour (only when its index is > 0). We take stb's pixels
// and redo those two cases from the header.

typedef struct gif_frame0 {
    int x, y, w, h;           // frame rectangle on the logical screen
    int transparency;         // index, or -1
    const uint8_t *palette;   // RGB triples of the palette in force, or NULL
    int palette_n;            // entries
} gif_frame0;

static bool gif_parse_frame0(const uint8_t *b, size_t n, gif_frame0 *g) {
    memset(g, 0, sizeof *g);
    g->transparency = -1;
    if (n < 13) return false;
    size_t p = 13;
    if (b[10] & 0x80) {
        g->palette_n = 1 << ((b[10] & 7) + 1);
        g->palette = b + p;
        p += 3 * (size_t)g->palette_n;
    }
    while (p < n) {
        uint8_t tag = b[p++];
        if (tag == 0x21) {  // extension: label, then sub-blocks
            if (p >= n) return false;
            uint8_t ext = b[p++];
            bool first = true;
            while (p < n && b[p] != 0) {
                size_t len = b[p];
                if (p + 1 + len > n) return false;
                // Graphic control extension: flags bit 0 = transparency, index in byte 3.
                // PIL keeps an earlier index when a later GCE has no transparency.
                if (ext == 0xF9 && first && len >= 4 && (b[p + 1] & 1)) g->transparency = b[p + 4];
                first = false;
                p += 1 + len;
            }
            p++;  // block terminator
        } else if (tag == 0x2C) {  // image descriptor
            if (n - p < 9) return false;
            g->x = (int)(b[p] | b[p + 1] << 8);
            g->y = (int)(b[p + 2] | b[p + 3] << 8);
            g->w = (int)(b[p + 4] | b[p + 5] << 8);
            g->h = (int)(b[p + 6] | b[p + 7] << 8);
            uint8_t flags = b[p + 8];
            p += 9;
            if (flags & 0x80) {
                g->palette_n = 1 << ((flags & 7) + 1);
                g->palette = b + p;
                if (3 * (size_t)g->palette_n > n - p) return false;
            }
            return true;
        } else {  // trailer or junk before any image
            return false;
        }
    }
    return false;
}

static void gif_color(const gif_frame0 *g, int index, uint8_t *rgb) {
    if (index >= 0 && index < g->palette_n) memcpy(rgb, g->palette + 3 * index, 3);
    else rgb[0] = rgb[1] = rgb[2] = 0;  // index outside the palette: black
}

// rgba: stb's 4-channel first frame, screen-sized. Writes RGB into dst.
static seer_status gif_compose(const uint8_t *b, size_t n, const char *label, const uint8_t *rgba,
                               int w, int h, uint8_t *dst) {
    gif_frame0 g;
    if (!gif_parse_frame0(b, n, &g))
        return seer_fail(SEER_STATUS_FORMAT, "%s: GIF without a readable first frame", label);
    if (!g.palette)  // PIL would show raw indices as gray; stb cannot give us the indices
        return seer_fail(SEER_STATUS_UNSUPPORTED, "%s: GIF without any colour table", label);
    uint8_t outside[3], transparent[3];
    gif_color(&g, g.transparency >= 0 ? g.transparency : 0, outside);
    gif_color(&g, g.transparency, transparent);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            bool inside = x >= g.x && x < g.x + g.w && y >= g.y && y < g.y + g.h;
            const uint8_t *src = rgba + 4 * i;
            if (!inside) src = outside;
            else if (rgba[4 * i + 3] == 0) src = transparent;
            memcpy(dst + 3 * i, src, 3);
        }
    }
    return SEER_STATUS_OK;
}

// True when the PNG's chunks are all whole but the file stops before IEND. PIL decodes such
// files (it stops reading after the image data); stb rejects them, so we append the IEND.
static bool png_lacks_iend(const uint8_t *b, size_t n) {
    size_t p = 8;
    while (n - p >= 12) {
        size_t len = (size_t)b[p] << 24 | (size_t)b[p + 1] << 16 | (size_t)b[p + 2] << 8 | b[p + 3];
        if (memcmp(b + p + 4, "IEND", 4) == 0 || len > n - p - 12) return false;
        p += 12 + len;
    }
    return p == n;
}

// stb reads past the end of a memory buffer as zeros and happily returns a half-black image
// for a truncated BMP/GIF/TGA/PNM. PIL raises "image file is truncated" instead, so we feed stb
// through callbacks and notice when it asks for bytes the file does not have.
typedef struct stb_src {
    const uint8_t *b;
    size_t n, pos;
    bool ran_out;
} stb_src;

static int src_read(void *user, char *data, int size) {
    stb_src *s = user;
    size_t left = s->n - s->pos, k = size < 0 ? 0 : (size_t)size;
    if (k > left) k = left;
    if (k == 0 && size > 0) s->ran_out = true;
    memcpy(data, s->b + s->pos, k);
    s->pos += k;
    return (int)k;
}

static void src_skip(void *user, int n) {
    stb_src *s = user;
    if (n < 0) {
        s->pos = (size_t)-n > s->pos ? 0 : s->pos - (size_t)-n;
    } else if ((size_t)n > s->n - s->pos) {
        s->ran_out = true;
        s->pos = s->n;
    } else {
        s->pos += (size_t)n;
    }
}

static int src_eof(void *user) {
    stb_src *s = user;
    return s->pos >= s->n;
}

seer_status seer_image_decode_stb_(const uint8_t *b, size_t n, const char *label,
                                   seer_image_format format, seer_image *out) {
    int w = 0, h = 0, comp = 0;
    SEER_TRY(seer_image_info_stb_(b, n, label, format, &w, &h));
    bool gif = format == SEER_IMAGE_GIF;
    uint8_t *fixed = NULL;
    if (format == SEER_IMAGE_PNG && png_lacks_iend(b, n)) {
        static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
        fixed = malloc(n + sizeof iend);
        if (!fixed) return seer_fail(SEER_STATUS_OOM, "%s: out of memory", label);
        memcpy(fixed, b, n);
        memcpy(fixed + n, iend, sizeof iend);
    }
    stb_src src = {.b = fixed ? fixed : b, .n = fixed ? n + 12 : n};
    static const stbi_io_callbacks io = {src_read, src_skip, src_eof};
    uint8_t *px = stbi_load_from_callbacks(&io, &src, &w, &h, &comp, gif ? 4 : 3);
    free(fixed);
    if (!px) return fail_stb(label, format, "decode");
    if (src.ran_out) {
        stbi_image_free(px);
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: %s file is truncated (the image data needs more than its %zu "
                         "bytes)",
                         label, seer_image_format_name(format), n);
    }
    if (gif) {
        uint8_t *rgb = malloc((size_t)w * h * 3);
        if (!rgb) {
            stbi_image_free(px);
            return seer_fail(SEER_STATUS_OOM, "%s: out of memory for a %dx%d GIF", label, w, h);
        }
        seer_status st = gif_compose(b, n, label, px, w, h, rgb);
        stbi_image_free(px);
        if (st != SEER_STATUS_OK) {
            free(rgb);
            return st;
        }
        px = rgb;
    }
    // stb allocates with malloc (STBI_MALLOC default), so seer_image_free's free() matches.
    out->w = w;
    out->h = h;
    out->c = 3;
    out->px = px;
    return SEER_STATUS_OK;
}
