// Image decoding front door: format detection from magic numbers, header probing (size limit
// checked before any pixel is decoded), file reading, EXIF orientation. The decoders live in
// image_jpeg.c (libjpeg-turbo) and image_stb.c (stb_image); the PNG writer in image_png.c.
#include "core/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/image_internal.h"

static const char *label_or_default(const char *label) { return label ? label : "<memory>"; }

const char *seer_image_format_name(seer_image_format f) {
    switch (f) {
    case SEER_IMAGE_JPEG: return "JPEG";
    case SEER_IMAGE_PNG: return "PNG";
    case SEER_IMAGE_GIF: return "GIF";
    case SEER_IMAGE_BMP: return "BMP";
    case SEER_IMAGE_TGA: return "TGA";
    case SEER_IMAGE_PNM: return "PNM";
    case SEER_IMAGE_PSD: return "PSD";
    case SEER_IMAGE_UNKNOWN: break;
    }
    return "unknown";
}

static bool starts_with(const uint8_t *b, size_t n, const void *magic, size_t m) {
    return n >= m && memcmp(b, magic, m) == 0;
}

static uint32_t rd16be(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t rd32be(const uint8_t *p) { return rd16be(p) << 16 | rd16be(p + 2); }
static uint32_t rd16le(const uint8_t *p) { return (uint32_t)p[1] << 8 | p[0]; }

seer_image_format seer_image_detect(const void *bytes, size_t n) {
    const uint8_t *b = bytes;
    if (!b) return SEER_IMAGE_UNKNOWN;
    if (starts_with(b, n, "\xFF\xD8\xFF", 3)) return SEER_IMAGE_JPEG;
    if (starts_with(b, n, "\x89PNG\r\n\x1A\n", 8)) return SEER_IMAGE_PNG;
    if (starts_with(b, n, "GIF87a", 6) || starts_with(b, n, "GIF89a", 6)) return SEER_IMAGE_GIF;
    // "BM" alone would match text files; the DIB header size must be one of the known ones.
    if (starts_with(b, n, "BM", 2) && n >= 18) {
        uint32_t hs = rd16le(b + 14) | rd16le(b + 16) << 16;
        if (hs == 12 || hs == 40 || hs == 52 || hs == 56 || hs == 64 || hs == 108 || hs == 124)
            return SEER_IMAGE_BMP;
    }
    if (starts_with(b, n, "8BPS\x00\x01", 6)) return SEER_IMAGE_PSD;
    if (n >= 3 && b[0] == 'P' && (b[1] == '5' || b[1] == '6') &&
        (b[2] == ' ' || b[2] == '\t' || b[2] == '\n' || b[2] == '\r' || b[2] == '#'))
        return SEER_IMAGE_PNM;
    return SEER_IMAGE_UNKNOWN;
}

// TGA has no magic number, so random bytes or another format could pass for one. Accept only
// headers that are fully consistent (types, depths, colour map) and whose uncompressed pixel
// data fits in the file; this keeps e.g. a MATLAB file or random bytes from "decoding".
static bool tga_header_ok(const uint8_t *b, size_t n) {
    if (n < 18) return false;
    unsigned id_len = b[0], cmap_type = b[1], type = b[2];
    unsigned cmap_len = rd16le(b + 5), cmap_bits = b[7];
    unsigned w = rd16le(b + 12), h = rd16le(b + 14), bpp = b[16], desc = b[17];
    if (w == 0 || h == 0 || (desc & 0xC0) != 0 || (desc & 0x0F) > 8) return false;
    bool rle = type >= 9;
    unsigned base = rle ? type - 8 : type;
    if (type != 1 && type != 2 && type != 3 && type != 9 && type != 10 && type != 11) return false;
    if (cmap_type > 1) return false;
    bool cmap_bits_ok = cmap_bits == 15 || cmap_bits == 16 || cmap_bits == 24 || cmap_bits == 32;
    if (base == 1) {  // colour-mapped
        if (cmap_type != 1 || cmap_len == 0 || !cmap_bits_ok || (bpp != 8 && bpp != 16))
            return false;
    } else if (base == 2) {  // true colour
        if (bpp != 15 && bpp != 16 && bpp != 24 && bpp != 32) return false;
        if (cmap_type == 1 && !cmap_bits_ok) return false;
    } else {  // gray
        if (bpp != 8 && bpp != 16) return false;
        if (cmap_type == 1 && !cmap_bits_ok) return false;
    }
    size_t need = 18 + id_len + (cmap_type ? (size_t)cmap_len * ((cmap_bits + 7) / 8) : 0);
    // RLE needs at least one packet byte per 128 pixels; raw data needs every pixel.
    size_t px = (size_t)w * h;
    need += rle ? (px + 127) / 128 : px * ((bpp + 7) / 8);
    return n >= need;
}

// ---- what the bytes are when they are not an image we read --------------------------------

// Names the content of `b` for the "not an image" message; NULL when we cannot tell.
static const char *describe_non_image(const uint8_t *b, size_t n, bool *is_image) {
    static const struct {
        const char *magic;
        size_t len, offset;
        bool image;
        const char *what;
    } known[] = {
        {"II*\x00", 4, 0, true, "a TIFF image"},
        {"MM\x00*", 4, 0, true, "a TIFF image"},
        {"WEBP", 4, 8, true, "a WebP image"},
        {"ftypavif", 8, 4, true, "an AVIF image"},
        {"ftypheic", 8, 4, true, "a HEIC image"},
        {"ftypheix", 8, 4, true, "a HEIC image"},
        {"ftypmif1", 8, 4, true, "a HEIF image"},
        {"\x00\x00\x00\x0CjP  ", 8, 0, true, "a JPEG 2000 image"},
        {"\xFF\x4F\xFF\x51", 4, 0, true, "a JPEG 2000 codestream"},
        {"\xFF\x0A", 2, 0, true, "a JPEG XL image"},
        {"\x00\x00\x00\x0CJXL ", 8, 0, true, "a JPEG XL image"},
        {"#?RADIANCE", 10, 0, true, "a Radiance HDR image"},
        {"#?RGBE", 6, 0, true, "a Radiance HDR image"},
        {"\x76\x2F\x31\x01", 4, 0, true, "an OpenEXR image"},
        {"MATLAB 5.0 MAT-file", 19, 0, false, "a MATLAB .mat file"},
        {"\x89HDF\r\n\x1A\n", 8, 0, false, "an HDF5 file (MATLAB v7.3 .mat?)"},
        {"\x93NUMPY", 6, 0, false, "a NumPy .npy file"},
        {"%PDF-", 5, 0, false, "a PDF document"},
        {"PK\x03\x04", 4, 0, false, "a ZIP archive"},
        {"\x1F\x8B", 2, 0, false, "a gzip file"},
        {"\x80\x02", 2, 0, false, "a Python pickle"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (n >= known[i].offset + known[i].len &&
            memcmp(b + known[i].offset, known[i].magic, known[i].len) == 0) {
            *is_image = known[i].image;
            return known[i].what;
        }
    }
    if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' &&
        (b[2] == ' ' || b[2] == '\t' || b[2] == '\n' || b[2] == '\r')) {
        *is_image = true;
        return b[1] == '7' ? "a PAM image (only binary P5/P6 PNM is read)"
                           : "an ASCII or 1-bit PNM image (only binary P5/P6 PNM is read)";
    }
    *is_image = false;
    size_t i = 0;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
    if (i < n && b[i] == '<') {
        if (n - i >= 4 && (memcmp(b + i, "<svg", 4) == 0 || memcmp(b + i, "<?xm", 4) == 0))
            return "XML/SVG text (vector images are not read)";
        return "HTML/XML text (a web page saved under an image name?)";
    }
    size_t printable = 0, look = n < 256 ? n : 256;
    for (size_t k = 0; k < look; k++)
        printable += (b[k] >= 32 && b[k] < 127) || b[k] == '\n' || b[k] == '\r' || b[k] == '\t';
    if (look > 0 && printable == look) return "plain text";
    return NULL;
}

static seer_status fail_not_image(const uint8_t *b, size_t n, const char *label) {
    if (n == 0) return seer_fail(SEER_STATUS_FORMAT, "%s: empty file (0 bytes), not an image", label);
    bool is_image = false;
    const char *what = describe_non_image(b, n, &is_image);
    if (what && is_image)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "%s: %s, which seer does not read (supported: JPEG, PNG, GIF, BMP, TGA, "
                         "PNM, PSD); convert it to PNG or JPEG",
                         label, what);
    if (what) return seer_fail(SEER_STATUS_FORMAT, "%s: not an image: the bytes are %s", label, what);
    char hex[3 * 8 + 1] = "";
    for (size_t i = 0; i < n && i < 8; i++) snprintf(hex + 3 * i, 4, "%02x ", b[i]);
    if (n > 0) hex[3 * (n < 8 ? n : 8) - 1] = '\0';
    return seer_fail(SEER_STATUS_FORMAT,
                     "%s: not an image: unrecognised format (%zu bytes, starting %s; expected "
                     "JPEG, PNG, GIF, BMP, TGA, PNM or PSD)",
                     label, n, hex);
}

// ---- EXIF orientation ---------------------------------------------------------------------

// Orientation (tag 0x0112 in IFD0) from a TIFF-structured EXIF block; 1 when absent or invalid.
static int tiff_orientation(const uint8_t *t, size_t n) {
    if (n < 8) return 1;
    bool le;
    if (t[0] == 'I' && t[1] == 'I') le = true;
    else if (t[0] == 'M' && t[1] == 'M') le = false;
    else return 1;
#define RD16(p) (le ? rd16le(p) : rd16be(p))
#define RD32(p) (le ? (rd16le(p) | rd16le((p) + 2) << 16) : rd32be(p))
    if (RD16(t + 2) != 42) return 1;
    uint32_t off = RD32(t + 4);
    if (off > n || n - off < 2) return 1;
    uint32_t count = RD16(t + off);
    for (uint32_t i = 0; i < count; i++) {
        size_t e = (size_t)off + 2 + (size_t)i * 12;
        if (e + 12 > n) break;
        if (RD16(t + e) != 0x0112) continue;
        uint32_t type = RD16(t + e + 2), v;
        if (type == 3) v = RD16(t + e + 8);       // SHORT, as the spec says
        else if (type == 4) v = RD32(t + e + 8);  // LONG, written by some tools
        else return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
#undef RD16
#undef RD32
    return 1;
}

// Walks JPEG markers up to the first scan: frame size from SOFn, orientation from APP1 Exif.
// libjpeg re-reads the header when decoding; this walk only serves probe and the size limit.
static seer_status probe_jpeg(const uint8_t *b, size_t n, const char *label, seer_image_info *info) {
    size_t p = 2;
    bool have_exif = false;
    while (p < n) {
        if (b[p] != 0xFF) { p++; continue; }  // junk between markers: libjpeg skips it too
        while (p < n && b[p] == 0xFF) p++;     // fill bytes
        if (p >= n) break;
        uint8_t m = b[p++];
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length field
        if (m == 0xD9 || m == 0xDA) break;  // EOI or start of scan: no frame header seen
        if (n - p < 2) break;
        size_t len = rd16be(b + p);
        if (len < 2 || len > n - p) break;
        const uint8_t *seg = b + p + 2;
        size_t seg_n = len - 2;
        bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
            if (seg_n < 6) break;
            info->h = (int)rd16be(seg + 1);
            info->w = (int)rd16be(seg + 3);
            return SEER_STATUS_OK;
        }
        if (m == 0xE1 && !have_exif && seg_n >= 6 && memcmp(seg, "Exif\0\0", 6) == 0) {
            have_exif = true;  // PIL reads the first Exif block
            info->orientation = tiff_orientation(seg + 6, seg_n - 6);
        }
        p += len;
    }
    return seer_fail(SEER_STATUS_FORMAT,
                     "%s: JPEG without a readable frame header (truncated or corrupt, %zu bytes)",
                     label, n);
}

static void probe_png_exif(const uint8_t *b, size_t n, seer_image_info *info) {
    size_t p = 8;
    while (n - p >= 12) {
        size_t len = rd32be(b + p);
        if (len > n - p - 12) return;
        const uint8_t *type = b + p + 4, *data = b + p + 8;
        if (memcmp(type, "eXIf", 4) == 0) {
            // Some writers keep the JPEG-style "Exif\0\0" prefix; PIL accepts both.
            if (len >= 6 && memcmp(data, "Exif\0\0", 6) == 0) data += 6, len -= 6;
            info->orientation = tiff_orientation(data, len);
            return;
        }
        if (memcmp(type, "IEND", 4) == 0) return;
        p += 12 + len;
    }
}

seer_status seer_image_probe(const void *bytes, size_t n, const char *label, seer_image_info *out) {
    label = label_or_default(label);
    if (!out) return seer_fail(SEER_STATUS_ARG, "%s: seer_image_probe: out is NULL", label);
    memset(out, 0, sizeof *out);
    out->orientation = 1;
    if (!bytes && n > 0) return seer_fail(SEER_STATUS_ARG, "%s: bytes is NULL", label);
    const uint8_t *b = bytes;
    seer_image_format f = seer_image_detect(b, n);
    // TGA is the last resort: only when no magic number matched and the header is consistent.
    if (f == SEER_IMAGE_UNKNOWN && tga_header_ok(b, n)) f = SEER_IMAGE_TGA;
    if (f == SEER_IMAGE_UNKNOWN) return fail_not_image(b, n, label);
    out->format = f;
    // Sizes come from our own header reads where that is simple: stb refuses large headers
    // with a vague "too large", and the size limit deserves its own message.
    int64_t w = 0, h = 0;
    bool have = true;
    switch (f) {
    case SEER_IMAGE_JPEG: return probe_jpeg(b, n, label, out);
    case SEER_IMAGE_PNG:
        probe_png_exif(b, n, out);
        have = n >= 24 && memcmp(b + 12, "IHDR", 4) == 0;
        if (have) w = rd32be(b + 16), h = rd32be(b + 20);
        break;
    case SEER_IMAGE_GIF:
        have = n >= 10;
        if (have) w = rd16le(b + 6), h = rd16le(b + 8);
        break;
    case SEER_IMAGE_BMP:  // detect() saw the DIB header size at 14..17
        if (rd16le(b + 14) == 12) {
            have = n >= 22;
            if (have) w = rd16le(b + 18), h = rd16le(b + 20);
        } else {
            have = n >= 26;
            if (have) {
                w = (int32_t)(rd16le(b + 18) | rd16le(b + 20) << 16);
                h = (int32_t)(rd16le(b + 22) | rd16le(b + 24) << 16);
                if (h < 0) h = -h;  // negative height: rows stored top-down
            }
        }
        break;
    case SEER_IMAGE_PSD:
        have = n >= 22;
        if (have) h = rd32be(b + 14), w = rd32be(b + 18);
        break;
    case SEER_IMAGE_TGA: w = rd16le(b + 12), h = rd16le(b + 14); break;
    default: return seer_image_info_stb_(b, n, label, f, &out->w, &out->h);
    }
    if (!have)
        return seer_fail(SEER_STATUS_FORMAT, "%s: %s file too short for its header (%zu bytes)",
                         label, seer_image_format_name(f), n);
    if (w <= 0 || h <= 0 || w > INT32_MAX || h > INT32_MAX)
        return seer_fail(SEER_STATUS_FORMAT, "%s: %s header gives an impossible %lldx%lld size",
                         label, seer_image_format_name(f), (long long)w, (long long)h);
    out->w = (int)w;
    out->h = (int)h;
    return SEER_STATUS_OK;
}

seer_status seer_image_too_large_(const char *label, int64_t w, int64_t h, int64_t max_pixels) {
    return seer_fail(SEER_STATUS_ARG,
                     "%s: image is %lldx%lld = %.1f megapixels, over the limit of %.1f megapixels "
                     "(seer_image_opts.max_pixels = %lld); refusing to decode it",
                     label, (long long)w, (long long)h, (double)(w * h) / 1e6,
                     (double)max_pixels / 1e6, (long long)max_pixels);
}

// Applies EXIF orientation o (2..8) the way PIL's ImageOps.exif_transpose does.
static seer_status apply_orientation(seer_image *img, int o, const char *label) {
    int w = img->w, h = img->h, c = img->c;
    bool swap = o >= 5;
    int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *dst = malloc((size_t)ow * oh * c);
    if (!dst) return seer_fail(SEER_STATUS_OOM, "%s: out of memory rotating %dx%d image", label, w, h);
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            int sx, sy;  // source pixel of output (x, y)
            switch (o) {
            case 2: sx = w - 1 - x, sy = y; break;          // mirror left-right
            case 3: sx = w - 1 - x, sy = h - 1 - y; break;  // rotate 180
            case 4: sx = x, sy = h - 1 - y; break;          // mirror top-bottom
            case 5: sx = y, sy = x; break;                  // transpose
            case 6: sx = y, sy = h - 1 - x; break;          // rotate 90 clockwise
            case 7: sx = w - 1 - y, sy = h - 1 - x; break;  // transverse
            case 8: sx = w - 1 - y, sy = x; break;          // rotate 90 counter-clockwise
            default: sx = x, sy = y; break;
            }
            memcpy(dst + ((size_t)y * ow + x) * c, img->px + ((size_t)sy * w + sx) * c, c);
        }
    }
    free(img->px);
    img->px = dst;
    img->w = ow;
    img->h = oh;
    return SEER_STATUS_OK;
}

seer_status seer_image_decode(const void *bytes, size_t n, const char *label,
                              const seer_image_opts *opts, seer_image *out) {
    label = label_or_default(label);
    if (!out) return seer_fail(SEER_STATUS_ARG, "%s: seer_image_decode: out is NULL", label);
    memset(out, 0, sizeof *out);
    seer_image_opts o = opts ? *opts : (seer_image_opts){0};
    if (o.max_pixels <= 0) o.max_pixels = SEER_IMAGE_DEFAULT_MAX_PIXELS;

    seer_image_info info;
    SEER_TRY(seer_image_probe(bytes, n, label, &info));
    if ((int64_t)info.w * info.h > o.max_pixels)
        return seer_image_too_large_(label, info.w, info.h, o.max_pixels);

    seer_status st = info.format == SEER_IMAGE_JPEG
                         ? seer_image_decode_jpeg_(bytes, n, label, o.max_pixels, out)
                         : seer_image_decode_stb_(bytes, n, label, info.format, out);
    if (st != SEER_STATUS_OK) {
        seer_image_free(out);
        return st;
    }
    if (o.apply_exif_orientation && info.orientation > 1) {
        st = apply_orientation(out, info.orientation, label);
        if (st != SEER_STATUS_OK) seer_image_free(out);
    }
    return st;
}

seer_status seer_image_load(const char *path, const seer_image_opts *opts, seer_image *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!path) return seer_fail(SEER_STATUS_ARG, "seer_image_load: path is NULL");
    if (!out) return seer_fail(SEER_STATUS_ARG, "%s: seer_image_load: out is NULL", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return seer_fail(SEER_STATUS_IO, "%s: cannot open image file: %s", path,
                         e == ENOENT ? "no such file or directory" : strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return seer_fail(SEER_STATUS_IO, "%s: cannot stat image file: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return seer_fail(SEER_STATUS_IO, "%s: is a directory, not an image file", path);
    }
    if (!S_ISREG(st.st_mode)) {  // FIFOs and devices could block or never end
        close(fd);
        return seer_fail(SEER_STATUS_IO, "%s: not a regular file, not an image file", path);
    }
    size_t n = (size_t)st.st_size;
    if (n == 0) {
        close(fd);
        return seer_fail(SEER_STATUS_FORMAT, "%s: empty file (0 bytes), not an image", path);
    }
    uint8_t *buf = malloc(n);
    if (!buf) {
        close(fd);
        return seer_fail(SEER_STATUS_OOM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(buf);
            close(fd);
            return seer_fail(SEER_STATUS_IO, "%s: read failed after %zu of %zu bytes: %s", path,
                             got, n, e ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    seer_status s = seer_image_decode(buf, n, path, opts, out);
    free(buf);
    return s;
}

void seer_image_free(seer_image *img) {
    if (!img) return;
    free(img->px);
    memset(img, 0, sizeof *img);
}

seer_status seer_make_dirs(const char *dir) {
    char p[4096];
    if (!dir || !*dir || strlen(dir) >= sizeof p)
        return seer_fail(SEER_STATUS_ARG, "folder name empty or too long");
    snprintf(p, sizeof p, "%s", dir);
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c) continue;
        const char end = *c;
        *c = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return seer_fail(SEER_STATUS_IO, "cannot create folder %s: %s", p, strerror(errno));
        if (!end) return SEER_STATUS_OK;
        *c = '/';
    }
}
