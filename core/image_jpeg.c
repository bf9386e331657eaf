// JPEG decoding through libjpeg-turbo, set up exactly as PIL (Pillow 9.4, same system library)
// decodes for Image.open(p).convert('RGB'), so that model inputs are bit-identical:
//   - mode from the SOF component count: 1 -> "L", 3 -> "RGB", 4 -> "CMYK"; others refused;
//   - out_color_space GRAYSCALE / RGB / CMYK, JDCT_ISLOW, fancy upsampling on (libjpeg defaults,
//     which PIL leaves alone unless draft() is called; we set them explicitly);
//   - "L" -> RGB replicates the gray value;
//   - 4 components: PIL always reads them as "CMYK;I" (Adobe-inverted, marker or not) and its
//     cmyk2rgb computes R = nk - nk*C/255 with nk = 255 - K (rounded as MULDIV255), i.e. on the
//     raw libjpeg samples c', k' (= 255 - C, 255 - K): R = k' - muldiv255(255 - c', k').
//     YCCK files arrive here already turned into CMYK by libjpeg, as they do in PIL.
//   - libjpeg warnings (corrupt-data notices) are ignored, as PIL ignores them; running out of
//     data (JWRN_JPEG_EOF) is an error, as PIL raises "image file is truncated" - even when only
//     the final EOI marker is missing, which jpeg_finish_decompress checks here.
#include <setjmp.h>
#include <stdio.h>  // jpeglib.h needs FILE
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "core/image_internal.h"

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    bool truncated;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

// libjpeg's default error_exit calls exit(); jump back to the decoder instead.
static void on_error_exit(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        e->truncated = true;
        cinfo->err->format_message(cinfo, e->msg);
        longjmp(e->jump, 1);
    }
    // Other warnings and trace messages: ignored (PIL's output_message does nothing).
}

// Pillow's MULDIV255: a * b / 255, rounded, in integers.
static inline int muldiv255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

static void cmyk_row_to_rgb(uint8_t *rgb, const uint8_t *cmyk, int w) {
    for (int x = 0; x < w; x++) {
        int nk = cmyk[4 * x + 3];  // 255 - K with K as PIL sees it after the Adobe inversion
        for (int ch = 0; ch < 3; ch++) {
            int v = nk - muldiv255(255 - cmyk[4 * x + ch], nk);
            rgb[3 * x + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

seer_status seer_image_decode_jpeg_(const uint8_t *b, size_t n, const char *label,
                                    int64_t max_pixels, seer_image *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.emit_message = on_emit_message;
    // Written after setjmp and needed after a longjmp, hence volatile.
    uint8_t *volatile px = NULL;
    uint8_t *volatile row_buf = NULL;
    JSAMPROW *volatile rows = NULL;
    volatile seer_status st = SEER_STATUS_OK;

    if (setjmp(err.jump)) {
        if (st == SEER_STATUS_OK) {
            st = SEER_STATUS_FORMAT;
            if (err.truncated)
                seer_fail(st, "%s: JPEG file is truncated (libjpeg: %s; %zu bytes)", label,
                          err.msg, n);
            else
                seer_fail(st, "%s: JPEG decode failed: %s", label, err.msg);
        }
        jpeg_destroy_decompress(&cinfo);
        free(px);
        free(row_buf);
        free(rows);
        return st;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, b, (unsigned long)n);
    if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
        st = seer_fail(SEER_STATUS_FORMAT, "%s: JPEG holds only tables, no image", label);
        longjmp(err.jump, 1);
    }
    int comps = cinfo.num_components;
    if (comps != 1 && comps != 3 && comps != 4) {
        st = seer_fail(SEER_STATUS_UNSUPPORTED, "%s: cannot handle a %d-component JPEG", label,
                       comps);
        longjmp(err.jump, 1);
    }
    int w = (int)cinfo.image_width, h = (int)cinfo.image_height;
    if ((int64_t)w * h > max_pixels) {
        st = seer_image_too_large_(label, w, h, max_pixels);
        longjmp(err.jump, 1);
    }
    cinfo.out_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    if ((int)cinfo.output_width != w || (int)cinfo.output_height != h ||
        cinfo.output_components != comps) {  // cannot happen without scaling; guards the buffers
        st = seer_fail(SEER_STATUS_FORMAT, "%s: unexpected JPEG output geometry", label);
        longjmp(err.jump, 1);
    }
    size_t stride = (size_t)w * 3;
    px = malloc(stride * (size_t)h);
    if (comps == 4) row_buf = malloc((size_t)w * 4);
    else rows = malloc(sizeof(JSAMPROW) * (size_t)h);
    if (!px || (comps == 4 ? !row_buf : !rows)) {
        st = seer_fail(SEER_STATUS_OOM, "%s: out of memory for a %dx%d JPEG", label, w, h);
        longjmp(err.jump, 1);
    }
    if (comps == 4) {
        JSAMPROW r = row_buf;
        while (cinfo.output_scanline < cinfo.output_height) {
            uint8_t *dst = px + stride * cinfo.output_scanline;
            jpeg_read_scanlines(&cinfo, &r, 1);
            cmyk_row_to_rgb(dst, row_buf, w);
        }
    } else {
        // Gray rows land at the start of their RGB row and are widened in place afterwards.
        for (int y = 0; y < h; y++) rows[y] = px + stride * y;
        while (cinfo.output_scanline < cinfo.output_height)
            jpeg_read_scanlines(&cinfo, rows + cinfo.output_scanline,
                                cinfo.output_height - cinfo.output_scanline);
        if (comps == 1) {
            for (int y = 0; y < h; y++) {
                uint8_t *r = px + stride * y;
                for (int x = w - 1; x >= 0; x--) r[3 * x] = r[3 * x + 1] = r[3 * x + 2] = r[x];
            }
        }
    }
    jpeg_finish_decompress(&cinfo);  // reads up to EOI: a missing EOI is "truncated", as in PIL
    jpeg_destroy_decompress(&cinfo);
    free(rows);
    free(row_buf);
    out->w = w;
    out->h = h;
    out->c = 3;
    out->px = px;
    return SEER_STATUS_OK;
}
