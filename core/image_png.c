// PNG writing through libpng: 8-bit gray/RGB/RGBA, text metadata, atomic replace.
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/image.h"

typedef struct png_err {
    char msg[256];
} png_err;

// libpng's default error handler prints and longjmps; keep the message for seer_fail instead.
static void on_png_error(png_structp png, png_const_charp msg) {
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    seer_log(SEER_LOG_DEBUG, "libpng: %s", msg);
}

// PNG keywords: 1..79 Latin-1 printable characters, no leading, trailing or double spaces.
// libpng would only warn and drop the chunk; the caller should hear about it.
static bool png_key_ok(const char *k) {
    size_t n = strlen(k);
    if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ') return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k[i];
        if (!((ch >= 32 && ch <= 126) || ch >= 161)) return false;
        if (ch == ' ' && k[i + 1] == ' ') return false;
    }
    return true;
}

static bool is_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return false;
    return true;
}

// iTXt requires UTF-8; refuse bytes that are not, rather than write an invalid file.
static bool is_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
                  : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (extra < 0 || (extra == 1 && *p < 0xC2)) return false;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xC0) != 0x80) return false;
    }
    return true;
}

seer_status seer_image_write_png(const char *path, const seer_image *img,
                                 const char *const *text_keys, const char *const *text_values,
                                 int n_text) {
    if (!path) return seer_fail(SEER_STATUS_ARG, "seer_image_write_png: path is NULL");
    if (!img || !img->px || img->w <= 0 || img->h <= 0 ||
        (img->c != 1 && img->c != 3 && img->c != 4))
        return seer_fail(SEER_STATUS_ARG,
                         "%s: cannot write PNG: image must have pixels, w, h > 0 and c = 1, 3 "
                         "or 4 (got %dx%dx%d)",
                         path, img ? img->w : 0, img ? img->h : 0, img ? img->c : 0);
    if (n_text < 0 || (n_text > 0 && (!text_keys || !text_values)))
        return seer_fail(SEER_STATUS_ARG, "%s: bad PNG text arguments (n_text = %d)", path, n_text);
    for (int i = 0; i < n_text; i++) {
        if (!text_keys[i] || !png_key_ok(text_keys[i]))
            return seer_fail(SEER_STATUS_ARG,
                             "%s: PNG text key %d (\"%s\") is not a valid PNG keyword (1-79 "
                             "printable Latin-1 characters, no leading/trailing/double spaces)",
                             path, i, text_keys[i] ? text_keys[i] : "(null)");
        if (!text_values[i] || !is_utf8(text_values[i]))
            return seer_fail(SEER_STATUS_ARG, "%s: PNG text value for \"%s\" is %s", path,
                             text_keys[i], text_values[i] ? "not valid UTF-8" : "NULL");
    }

    size_t tmp_n = strlen(path) + 32;
    char *tmp = malloc(tmp_n);
    png_text *texts = n_text > 0 ? calloc((size_t)n_text, sizeof *texts) : NULL;
    if (!tmp || (n_text > 0 && !texts)) {
        free(tmp);
        free(texts);
        return seer_fail(SEER_STATUS_OOM, "%s: out of memory writing PNG", path);
    }
    snprintf(tmp, tmp_n, "%s.tmp.%ld", path, (long)getpid());
    for (int i = 0; i < n_text; i++) {
        // Plain ASCII goes in tEXt (readable by everything); anything else in uncompressed
        // iTXt, since tEXt is Latin-1 and would garble UTF-8.
        bool ascii = is_ascii(text_values[i]);
        texts[i].compression = ascii ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
        texts[i].key = (png_charp)text_keys[i];  // libpng copies; never writes through these
        texts[i].text = (png_charp)text_values[i];
        texts[i].text_length = strlen(text_values[i]);
        texts[i].lang = NULL;
        texts[i].lang_key = NULL;
    }

    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        seer_status st = seer_fail(SEER_STATUS_IO, "%s: cannot create temporary file %s: %s",
                                   path, tmp, strerror(e));
        free(tmp);
        free(texts);
        return st;
    }
    png_err err = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error,
                                              on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    seer_status st = SEER_STATUS_OK;
    if (!png || !info) {
        st = seer_fail(SEER_STATUS_OOM, "%s: cannot create libpng writer", path);
    } else if (setjmp(png_jmpbuf(png))) {
        st = seer_fail(SEER_STATUS_IO, "%s: writing PNG failed: %s", path, err.msg);
    } else {
        int color = img->c == 1 ? PNG_COLOR_TYPE_GRAY
                  : img->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, color,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        if (n_text > 0) png_set_text(png, info, texts, n_text);
        png_write_info(png, info);
        size_t stride = (size_t)img->w * img->c;
        for (int y = 0; y < img->h; y++) png_write_row(png, img->px + stride * y);
        png_write_end(png, info);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(texts);

    // Flush to disk before the rename, so a crash leaves the old file or the whole new one.
    if (st == SEER_STATUS_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0)) {
        int e = errno;
        st = seer_fail(SEER_STATUS_IO, "%s: writing %s failed: %s", path, tmp, strerror(e));
    }
    if (fclose(f) != 0 && st == SEER_STATUS_OK) {
        int e = errno;
        st = seer_fail(SEER_STATUS_IO, "%s: closing %s failed: %s", path, tmp, strerror(e));
    }
    if (st == SEER_STATUS_OK && rename(tmp, path) != 0) {
        int e = errno;
        st = seer_fail(SEER_STATUS_IO, "%s: cannot rename %s into place: %s", path, tmp,
                       strerror(e));
    }
    if (st != SEER_STATUS_OK) unlink(tmp);
    free(tmp);
    return st;
}
