// Image decode/encode: pixels identical to PIL's Image.open(p).convert('RGB') on real photos
// and on one tiny file per format variant (checksums from tools/golden/make_image_fixtures.py),
// clean errors for everything that is not a readable image, and the PNG writer.
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/image.h"
#include "tests/test_util.h"

// ---- helpers -------------------------------------------------------------------------------

// zlib's CRC-32 and Adler-32 (what the fixture script records), written out to avoid -lz.
static uint32_t crc32_of(const uint8_t *p, size_t n) {
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t adler32_of(const uint8_t *p, size_t n) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

static const char *golden_image_dir(void) { return SEER_SOURCE_DIR "/tests/golden/image"; }

static const char *data_dir(void) {
    const char *d = getenv("SEER_DATA");
    return d && *d ? d : SEER_SOURCE_DIR "/../shared/data";
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    cr_assert(fread(b, 1, (size_t)len, f) == (size_t)len, "short read of %s", path);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void write_file(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot create %s", path);
    cr_assert(fwrite(b, 1, n, f) == n);
    fclose(f);
}

static char tmp_root[256];

static void make_tmp(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/seer_test_image.XXXXXX");
    cr_assert(mkdtemp(tmp_root), "mkdtemp failed");
}

static void rm_tmp(void) {
    DIR *d = opendir(tmp_root);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", tmp_root, e->d_name);
        chmod(p, 0700);
        if (rmdir(p) != 0) unlink(p);
    }
    closedir(d);
    rmdir(tmp_root);
}

static const char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmp_root, name);
    return buf;
}

// Decodes each listed file and compares with the recorded checksum. Lines:
//   data_checksums.txt: <rel> <w> <h> <crc> <adler> | <rel> error
//   fixtures.txt:       <rel> <exif> <w> <h> <crc> <adler> <ref>
// Only lines whose path starts with `prefix`. Returns how many files were checked.
static int check_list(const char *list, const char *base, const char *prefix, bool fixture_format) {
    char list_path[1024];
    snprintf(list_path, sizeof list_path, "%s/%s", golden_image_dir(), list);
    FILE *f = fopen(list_path, "r");
    cr_assert(f, "missing %s: run tools/golden/make_image_fixtures.py", list_path);
    char line[1024];
    int checked = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char rel[512], ref[32] = "";
        int exif = 0, w = 0, h = 0, nf;
        unsigned crc = 0, adl = 0;
        if (fixture_format)
            nf = sscanf(line, "%511s %d %d %d %x %x %31s", rel, &exif, &w, &h, &crc, &adl, ref);
        else
            nf = sscanf(line, "%511s %d %d %x %x", rel, &w, &h, &crc, &adl);
        if (strncmp(rel, prefix, strlen(prefix)) != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", base, rel);
        seer_image_opts opts = {.apply_exif_orientation = exif != 0};
        seer_image img;
        seer_status st = seer_image_load(path, &opts, &img);
        checked++;
        if (!fixture_format && nf == 1 && strstr(line, " error")) {  // PIL cannot read it either
            if (st == SEER_STATUS_OK || !strstr(seer_last_error(), rel)) {
                cr_log_error("%s: expected a clean error, got %s: '%s'", rel,
                             seer_status_name(st), seer_last_error());
                bad++;
            }
            seer_image_free(&img);
            continue;
        }
        cr_assert(nf >= 5, "bad line in %s: %s", list, line);
        if (st != SEER_STATUS_OK) {
            cr_log_error("%s: %s", rel, seer_last_error());
            bad++;
            continue;
        }
        size_t n = (size_t)img.w * img.h * img.c;
        uint32_t got_crc = crc32_of(img.px, n), got_adl = adler32_of(img.px, n);
        if (img.w != w || img.h != h || img.c != 3 || got_crc != crc || got_adl != adl) {
            cr_log_error("%s (exif %d, ref %s): got %dx%dx%d %08x %08x, want %dx%dx3 %08x %08x",
                         rel, exif, ref[0] ? ref : "pil", img.w, img.h, img.c, got_crc, got_adl,
                         w, h, crc, adl);
            bad++;
        }
        seer_image_free(&img);
    }
    fclose(f);
    cr_assert_eq(bad, 0, "%d of %d files differ from PIL (see the log above)", bad, checked);
    return checked;
}

static void need_data(const char *sub) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", data_dir(), sub);
    if (!is_dir(p))
        cr_skip_test("shared data folder %s not found (set SEER_DATA to the shared data dir)", p);
}

static void check_data(const char *prefix, int min_files) {
    need_data(prefix);
    int n = check_list("data_checksums.txt", data_dir(), prefix, false);
    cr_assert_geq(n, min_files, "only %d files under %s checked", n, prefix);
}

static void check_fixtures(const char *prefix, int min_files) {
    int n = check_list("fixtures.txt", golden_image_dir(), prefix, true);
    cr_assert_geq(n, min_files, "only %d fixtures named %s* checked", n, prefix);
}

// Expects `st` to be a failure whose message contains every given fragment.
static void expect_error(seer_status st, seer_status want, const char *a, const char *b) {
    cr_assert_neq(st, SEER_STATUS_OK, "expected an error mentioning '%s'", b ? b : a);
    cr_assert_eq(st, want, "status %s, want %s: %s", seer_status_name(st), seer_status_name(want),
                 seer_last_error());
    cr_assert(strstr(seer_last_error(), a), "message '%s' lacks '%s'", seer_last_error(), a);
    if (b) cr_assert(strstr(seer_last_error(), b), "message '%s' lacks '%s'", seer_last_error(), b);
}

// ---- parity with PIL on real images ----------------------------------------------------------

Test(image, imagenet_samples_match_pil) { check_data("imagenet-samples/", 16); }
Test(image, photos_match_pil) { check_data("photos/", 11); }
// 600 pet photos incl. progressive JPEGs, a GIF and an RGBA PNG named .jpg, and .mat files.
Test(image, pets_seg_match_pil) { check_data("pets-seg/images/", 600); }
Test(image, imagenet_val_match_pil) { check_data("imagenet-val-1300/", 20); }
Test(image, cifar10_match_pil) { check_data("cifar10/", 30); }

// ---- parity on generated variants --------------------------------------------------------------

Test(image, jpeg_variants_match_pil) { check_fixtures("jpeg_", 7); }  // 4:2:0/4:2:2/4:4:4, ...
Test(image, exif_orientation_matches_pil) { check_fixtures("exif_", 17); }
Test(image, png_variants_match_pil) { check_fixtures("png_", 13); }
Test(image, gif_matches_pil) { check_fixtures("gif_", 5); }
Test(image, bmp_tga_pnm_match_pil) {
    check_fixtures("bmp_", 3);
    check_fixtures("tga_", 5);
    check_fixtures("pnm_", 2);
}

Test(image, format_detected_from_bytes_not_name) {
    static const struct { const char *file; seer_image_format f; } cases[] = {
        {"jpeg_420.jpg", SEER_IMAGE_JPEG}, {"png_rgb.png", SEER_IMAGE_PNG},
        {"gif_plain.gif", SEER_IMAGE_GIF}, {"bmp_p8.bmp", SEER_IMAGE_BMP},
        {"tga_rgb.tga", SEER_IMAGE_TGA},   {"tga_rgb_rle.tga", SEER_IMAGE_TGA},
        {"pnm_p6.ppm", SEER_IMAGE_PNM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", golden_image_dir(), cases[i].file);
        size_t n;
        uint8_t *b = read_file(p, &n);
        seer_image_info info;
        cr_assert_eq(seer_image_probe(b, n, "x.jpg", &info), SEER_STATUS_OK, "%s",
                     seer_last_error());
        cr_assert_eq(info.format, cases[i].f, "%s detected as %s", cases[i].file,
                     seer_image_format_name(info.format));
        cr_assert(info.w == 61 || info.w == 66, "%s: w = %d", cases[i].file, info.w);
        free(b);
    }
    // EXIF orientation is reported by probe without being applied by default.
    char p[1024];
    snprintf(p, sizeof p, "%s/exif_o6.jpg", golden_image_dir());
    size_t n;
    uint8_t *b = read_file(p, &n);
    seer_image_info info;
    cr_assert_eq(seer_image_probe(b, n, p, &info), SEER_STATUS_OK);
    cr_assert_eq(info.orientation, 6);
    seer_image img;
    cr_assert_eq(seer_image_decode(b, n, p, NULL, &img), SEER_STATUS_OK);
    cr_assert(img.w == 13 && img.h == 7, "default decode must not rotate (%dx%d)", img.w, img.h);
    seer_image_free(&img);
    seer_image_opts o = {.apply_exif_orientation = true};
    cr_assert_eq(seer_image_decode(b, n, p, &o, &img), SEER_STATUS_OK);
    cr_assert(img.w == 7 && img.h == 13, "orientation 6 gives %dx%d", img.w, img.h);
    seer_image_free(&img);
    seer_image_free(&img);  // double free is a no-op
    seer_image_free(NULL);
    free(b);
}

// ---- errors ------------------------------------------------------------------------------------

Test(image, missing_file_and_directory, .init = make_tmp, .fini = rm_tmp) {
    seer_image img;
    const char *missing = tmp_path("no_such_image.jpg");
    expect_error(seer_image_load(missing, NULL, &img), SEER_STATUS_IO, missing, "no such file");
    cr_assert_null(img.px);
    expect_error(seer_image_load(tmp_root, NULL, &img), SEER_STATUS_IO, tmp_root, "directory");
    const char *empty = tmp_path("empty.jpg");
    write_file(empty, "", 0);
    expect_error(seer_image_load(empty, NULL, &img), SEER_STATUS_FORMAT, empty, "0 bytes");
    expect_error(seer_image_decode("", 0, "mem.png", NULL, &img), SEER_STATUS_FORMAT, "mem.png",
                 "0 bytes");
    expect_error(seer_image_load(NULL, NULL, &img), SEER_STATUS_ARG, "path", NULL);
}

// chmod 000 stops nobody when the tests run as root; an unreadable directory component
// (EACCES on open) is then not testable either, so the case is skipped there.
Test(image, unreadable_file, .fini = rm_tmp) {
    if (geteuid() == 0) cr_skip_test("running as root: permissions do not stop reads");
    make_tmp();
    const char *p = tmp_path("locked.png");
    write_file(p, "\x89PNG\r\n\x1a\n", 8);
    chmod(p, 0);
    seer_image img;
    expect_error(seer_image_load(p, NULL, &img), SEER_STATUS_IO, p, "ermission denied");
}

Test(image, not_images) {
    seer_image img;
    seer_rng r = seer_rng_new(7);
    uint8_t rnd[4096];
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)seer_rng_u64(&r);
    expect_error(seer_image_decode(rnd, sizeof rnd, "noise.jpg", NULL, &img), SEER_STATUS_FORMAT,
                 "noise.jpg", "not an image");
    const char mat[] = "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Wed Apr 20 2011";
    expect_error(seer_image_decode(mat, sizeof mat, "a.jpg", NULL, &img), SEER_STATUS_FORMAT,
                 "a.jpg", "MATLAB");
    const char html[] = "\n<!DOCTYPE html><html><body>404 Not Found</body></html>";
    expect_error(seer_image_decode(html, sizeof html, "b.jpg", NULL, &img), SEER_STATUS_FORMAT,
                 "b.jpg", "HTML");
    const uint8_t tiff[16] = {'I', 'I', '*', 0, 8, 0, 0, 0};
    expect_error(seer_image_decode(tiff, sizeof tiff, "c.tif", NULL, &img),
                 SEER_STATUS_UNSUPPORTED, "c.tif", "TIFF");
    const uint8_t webp[16] = {'R', 'I', 'F', 'F', 8, 0, 0, 0, 'W', 'E', 'B', 'P'};
    expect_error(seer_image_decode(webp, sizeof webp, "d.jpg", NULL, &img),
                 SEER_STATUS_UNSUPPORTED, "d.jpg", "WebP");
    // Only a magic number, nothing else.
    expect_error(seer_image_decode("\xFF\xD8\xFF", 3, "e.jpg", NULL, &img), SEER_STATUS_FORMAT,
                 "e.jpg", "JPEG");
    expect_error(seer_image_decode("\x89PNG\r\n\x1a\n", 8, "f.png", NULL, &img),
                 SEER_STATUS_FORMAT, "f.png", "PNG");
    expect_error(seer_image_decode("GIF89a", 6, "g.gif", NULL, &img), SEER_STATUS_FORMAT,
                 "g.gif", "GIF");
    expect_error(seer_image_decode(NULL, 10, "h", NULL, &img), SEER_STATUS_ARG, "h", NULL);
}

Test(image, mat_files_in_pets_seg) {
    need_data("pets-seg/images");
    char p[1024];
    snprintf(p, sizeof p, "%s/pets-seg/images/Abyssinian_100.mat", data_dir());
    seer_image img;
    expect_error(seer_image_load(p, NULL, &img), SEER_STATUS_FORMAT, p, "MATLAB");
}

static uint8_t *fixture(const char *name, size_t *n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", golden_image_dir(), name);
    return read_file(p, n);
}

Test(image, truncated_jpeg_is_an_error_like_pil) {
    const char *names[] = {"jpeg_420.jpg", "jpeg_progressive.jpg", "jpeg_cmyk.jpg",
                           "jpeg_gray.jpg"};
    for (size_t i = 0; i < 4; i++) {
        size_t n;
        uint8_t *b = fixture(names[i], &n);
        seer_image img;
        // Cut in the middle of the scan, and cut off only the EOI marker: PIL raises
        // "image file is truncated" for both.
        size_t cuts[] = {n / 2, n - 1, n - 2};
        for (size_t k = 0; k < 3; k++)
            expect_error(seer_image_decode(b, cuts[k], names[i], NULL, &img), SEER_STATUS_FORMAT,
                         names[i], "truncated");
        // Trailing bytes after EOI are fine (PIL ignores them too).
        uint8_t *more = malloc(n + 100);
        memcpy(more, b, n);
        memset(more + n, 0x55, 100);
        cr_assert_eq(seer_image_decode(more, n + 100, names[i], NULL, &img), SEER_STATUS_OK, "%s",
                     seer_last_error());
        seer_image_free(&img);
        free(more);
        free(b);
    }
}

Test(image, truncated_png_and_gif) {
    size_t n;
    uint8_t *b = fixture("png_rgb.png", &n);
    seer_image img;
    expect_error(seer_image_decode(b, n / 2, "half.png", NULL, &img), SEER_STATUS_FORMAT,
                 "half.png", "truncated or corrupt");
    // Missing only IEND: PIL decodes it, so do we.
    cr_assert_eq(seer_image_decode(b, n - 12, "noiend.png", NULL, &img), SEER_STATUS_OK, "%s",
                 seer_last_error());
    seer_image ref;
    cr_assert_eq(seer_image_decode(b, n, "full.png", NULL, &ref), SEER_STATUS_OK);
    cr_assert_arr_eq(img.px, ref.px, (size_t)ref.w * ref.h * 3);
    seer_image_free(&img);
    seer_image_free(&ref);
    free(b);
    b = fixture("gif_plain.gif", &n);
    expect_error(seer_image_decode(b, n / 2, "half.gif", NULL, &img), SEER_STATUS_FORMAT,
                 "half.gif", "GIF");
    free(b);
}

Test(image, size_limit_checked_before_decoding) {
    size_t n;
    uint8_t *b = fixture("jpeg_420.jpg", &n);
    seer_image img;
    seer_image_opts small = {.max_pixels = 1000};
    expect_error(seer_image_decode(b, n, "big.jpg", &small, &img), SEER_STATUS_ARG, "61x43",
                 "limit");
    // A header that claims 65000x65000: refused from the header, not "truncated" after trying.
    for (size_t p = 2; p + 9 < n; p++) {
        if (b[p] == 0xFF && b[p + 1] == 0xC0) {
            b[p + 5] = b[p + 7] = 0xFD;
            b[p + 6] = b[p + 8] = 0xE8;
            break;
        }
    }
    expect_error(seer_image_decode(b, n, "huge.jpg", NULL, &img), SEER_STATUS_ARG, "65000x65000",
                 "64.0 megapixels");
    free(b);
    b = fixture("png_rgb.png", &n);
    b[16] = b[20] = 0;
    b[17] = b[21] = 0x01;  // IHDR 65536+ x 65536+ (stb does not check CRCs)
    expect_error(seer_image_decode(b, n, "huge.png", NULL, &img), SEER_STATUS_ARG, "huge.png",
                 "limit");
    free(b);
    b = fixture("gif_plain.gif", &n);
    b[6] = b[8] = 0xFF;
    b[7] = b[9] = 0xFF;  // logical screen 65535 x 65535
    expect_error(seer_image_decode(b, n, "huge.gif", NULL, &img), SEER_STATUS_ARG, "huge.gif",
                 "limit");
    free(b);
}

// Every prefix and many single-byte corruptions of every fixture: an image or a clean error,
// never a crash (run under SEER_SANITIZE=ON to also catch bad reads).
Test(image, corrupt_inputs_never_crash) {
    const char *names[] = {"jpeg_420.jpg", "jpeg_progressive.jpg", "jpeg_cmyk.jpg",
                           "png_p_trns.png", "png_interlaced.png", "gif_trns.gif",
                           "gif_subrect.gif", "bmp_p8.bmp", "tga_rgb_rle.tga", "pnm_p6.ppm",
                           "exif_o6.jpg"};
    seer_rng r = seer_rng_new(11);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n;
        uint8_t *b = fixture(names[i], &n);
        uint8_t *c = malloc(n);
        size_t step = n / 97 + 1;
        for (size_t cut = 0; cut < n; cut += step) {
            seer_image img;
            seer_status st = seer_image_decode(b, cut, names[i], NULL, &img);
            if (st != SEER_STATUS_OK)
                cr_assert(strstr(seer_last_error(), names[i]), "%s", seer_last_error());
            seer_image_free(&img);
        }
        for (int k = 0; k < 200; k++) {
            memcpy(c, b, n);
            for (int j = 0; j < 1 + k % 3; j++) c[seer_rng_u64(&r) % n] = (uint8_t)seer_rng_u64(&r);
            seer_image img;
            seer_image_opts o = {.apply_exif_orientation = true};
            seer_status st = seer_image_decode(c, n, names[i], &o, &img);
            if (st == SEER_STATUS_OK) cr_assert(img.px && img.w > 0 && img.h > 0 && img.c == 3);
            else cr_assert(seer_last_error()[0] != '\0');
            seer_image_free(&img);
        }
        free(c);
        free(b);
    }
}

// ---- PNG writing -------------------------------------------------------------------------------

// Parses a PNG's chunks (checking every CRC) and returns the text of `key` from tEXt or iTXt.
static char *png_text_of(const uint8_t *b, size_t n, const char *key, char *chunk_type) {
    cr_assert(n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0);
    size_t p = 8;
    while (p + 12 <= n) {
        uint32_t len = (uint32_t)b[p] << 24 | b[p + 1] << 16 | b[p + 2] << 8 | b[p + 3];
        cr_assert(p + 12 + len <= n);
        const uint8_t *t = b + p + 4, *d = b + p + 8;
        uint32_t crc = (uint32_t)d[len] << 24 | d[len + 1] << 16 | d[len + 2] << 8 | d[len + 3];
        cr_assert_eq(crc32_of(t, len + 4), crc, "bad CRC in %.4s chunk", (const char *)t);
        size_t klen = strnlen((const char *)d, len);
        bool text = memcmp(t, "tEXt", 4) == 0, itxt = memcmp(t, "iTXt", 4) == 0;
        if ((text || itxt) && klen == strlen(key) && memcmp(d, key, klen) == 0) {
            const uint8_t *v = d + klen + 1, *end = d + len;
            if (itxt) {
                cr_assert_eq(v[0], 0, "iTXt must be uncompressed");
                v += 2;                              // compression flag and method
                v += strnlen((const char *)v, end - v) + 1;  // language tag
                v += strnlen((const char *)v, end - v) + 1;  // translated keyword
            }
            memcpy(chunk_type, t, 4);
            chunk_type[4] = '\0';
            char *s = malloc(end - v + 1);
            memcpy(s, v, end - v);
            s[end - v] = '\0';
            return s;
        }
        p += 12 + len;
    }
    return NULL;
}

Test(image, png_write_roundtrip_and_text, .init = make_tmp, .fini = rm_tmp) {
    size_t n;
    uint8_t *b = fixture("png_rgba.png", &n);
    seer_image src;
    cr_assert_eq(seer_image_decode(b, n, "png_rgba.png", NULL, &src), SEER_STATUS_OK);
    free(b);
    const char *keys[] = {"model", "class", "seed", "steps", "prompt"};
    const char *vals[] = {"enat_l", "207 golden retriever", "42", "8", "caf\xC3\xA9 \xE2\x98\x95"};
    const char *out = tmp_path("gen.png");
    cr_assert_eq(seer_image_write_png(out, &src, keys, vals, 5), SEER_STATUS_OK, "%s",
                 seer_last_error());
    // Atomic write: the temporary file is gone, the result decodes to the same pixels.
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    cr_assert_neq(access(tmp, F_OK), 0, "temporary file %s left behind", tmp);
    seer_image back;
    cr_assert_eq(seer_image_load(out, NULL, &back), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert(back.w == src.w && back.h == src.h && back.c == 3);
    cr_assert_arr_eq(back.px, src.px, (size_t)src.w * src.h * 3);
    seer_image_free(&back);
    b = read_file(out, &n);
    for (int i = 0; i < 5; i++) {
        char type[5];
        char *v = png_text_of(b, n, keys[i], type);
        cr_assert(v, "key %s not found", keys[i]);
        cr_assert_str_eq(v, vals[i]);
        cr_assert_str_eq(type, i == 4 ? "iTXt" : "tEXt", "key %s in %s", keys[i], type);
        free(v);
    }
    free(b);

    // Gray and RGBA images; overwriting an existing file.
    seer_image g = {.w = 5, .h = 3, .c = 1, .px = (uint8_t[15]){0, 10, 20, 30, 40, 50, 60, 70,
                                                                 80, 90, 100, 110, 120, 130, 255}};
    cr_assert_eq(seer_image_write_png(out, &g, NULL, NULL, 0), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_eq(seer_image_load(out, NULL, &back), SEER_STATUS_OK);
    cr_assert(back.w == 5 && back.h == 3);
    for (int i = 0; i < 15; i++)
        cr_assert(back.px[3 * i] == g.px[i] && back.px[3 * i + 1] == g.px[i] &&
                  back.px[3 * i + 2] == g.px[i]);
    seer_image_free(&back);
    uint8_t rgba[2 * 2 * 4] = {1, 2, 3, 0, 4, 5, 6, 128, 7, 8, 9, 255, 10, 11, 12, 1};
    seer_image a = {.w = 2, .h = 2, .c = 4, .px = rgba};
    cr_assert_eq(seer_image_write_png(out, &a, NULL, NULL, 0), SEER_STATUS_OK);
    cr_assert_eq(seer_image_load(out, NULL, &back), SEER_STATUS_OK);
    for (int i = 0; i < 4; i++) cr_assert_arr_eq(back.px + 3 * i, rgba + 4 * i, 3);
    seer_image_free(&back);
    seer_image_free(&src);
}

Test(image, png_write_errors, .init = make_tmp, .fini = rm_tmp) {
    uint8_t px[12] = {0};
    seer_image img = {.w = 2, .h = 2, .c = 3, .px = px};
    char p[600];
    snprintf(p, sizeof p, "%s/no_such_dir/out.png", tmp_root);
    expect_error(seer_image_write_png(p, &img, NULL, NULL, 0), SEER_STATUS_IO, p,
                 "No such file");
    const char *bad_keys[] = {" lead", ""};
    const char *vals[] = {"v", "v"};
    for (int i = 0; i < 2; i++)
        expect_error(seer_image_write_png(tmp_path("k.png"), &img, bad_keys + i, vals, 1),
                     SEER_STATUS_ARG, "k.png", "keyword");
    const char *k[] = {"ok"}, *latin1[] = {"caf\xE9"};
    expect_error(seer_image_write_png(tmp_path("k.png"), &img, k, latin1, 1), SEER_STATUS_ARG,
                 "k.png", "UTF-8");
    seer_image bad = {.w = 2, .h = 2, .c = 2, .px = px};
    expect_error(seer_image_write_png(tmp_path("k.png"), &bad, NULL, NULL, 0), SEER_STATUS_ARG,
                 "k.png", "c = 1, 3 or 4");
    cr_assert_neq(access(tmp_path("k.png"), F_OK), 0, "nothing may be written on error");
}

Test(image, make_dirs_creates_parents_and_reports_what_failed) {
    char base[] = "/tmp/seer_mkdirs_XXXXXX", path[256], file[256];
    cr_assert_not_null(mkdtemp(base));
    snprintf(path, sizeof path, "%s/a/b/c/", base);
    cr_assert_eq(seer_make_dirs(path), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_make_dirs(path), SEER_STATUS_OK);  // existing is fine
    struct stat st;
    snprintf(path, sizeof path, "%s/a/b/c", base);
    cr_assert(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(file, sizeof file, "%s/f", base);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/f/g", base);  // a file in the way
    cr_assert_eq(seer_make_dirs(path), SEER_STATUS_IO);
    cr_assert(strstr(seer_last_error(), "/f/g"), "%s", seer_last_error());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    cr_assert_eq(system(cmd), 0);
}
