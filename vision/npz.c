// NumPy .npz reading and writing (see npz.h). Zip structures per PKWARE's APPNOTE: the
// end-of-central-directory record (EOCD) at the end of the file points at the central
// directory; ZIP64 replaces saturated 16/32-bit fields by 64-bit ones in an "extra" field of
// each directory entry and in a ZIP64 EOCD found through a locator just before the EOCD.
#include "vision/npz.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { SIG_LOCAL = 0x04034b50, SIG_CENTRAL = 0x02014b50, SIG_EOCD = 0x06054b50, SIG_EOCD64 = 0x06064b50,
       SIG_LOCATOR64 = 0x07064b50 };
enum { EOCD_LEN = 22, CENTRAL_LEN = 46, LOCAL_LEN = 30, MAX_COMMENT = 65535 };  // fixed record sizes

typedef struct npz_entry {
    char *name;       // array name: the entry name without ".npy"
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, offset;  // compressed and data size; offset of the local header
} npz_entry;

struct seer_npz {
    int fd, n;  // n entries in e
    uint64_t size;
    char *path;
    npz_entry *e;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

// Read n bytes at off; a range past the end of the file means the archive was cut short.
static seer_status read_at(const seer_npz *z, uint64_t off, void *dst, size_t n, const char *what) {
    if (off > z->size || n > z->size - off)
        return seer_fail(SEER_STATUS_FORMAT, "%s: %s (bytes %llu..%llu) lies past the end of the file (%llu "
                         "bytes): the archive is truncated or damaged", z->path, what, (unsigned long long)off,
                         (unsigned long long)(off + n), (unsigned long long)z->size);
    for (size_t done = 0; done < n;) {
        ssize_t r = pread(z->fd, (uint8_t *)dst + done, n - done, (off_t)(off + done));
        if (r <= 0) return seer_fail(SEER_STATUS_IO, "%s: read error in %s", z->path, what);
        done += (size_t)r;
    }
    return SEER_STATUS_OK;
}

void seer_npz_close(seer_npz *z) {
    if (!z) return;
    if (z->fd >= 0) close(z->fd);
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e), free(z->path), free(z);
}

const char *seer_npz_path(const seer_npz *z) { return z->path; }
int seer_npz_count(const seer_npz *z) { return z->n; }
const char *seer_npz_name(const seer_npz *z, int i) { return i >= 0 && i < z->n ? z->e[i].name : NULL; }

int seer_npz_find(const seer_npz *z, const char *name) {
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->e[i].name, name) == 0) return i;
    return -1;
}

// The first bytes say what a file that is not a zip archive is instead.
static seer_status not_a_zip(seer_npz *z) {
    uint8_t head[8] = {0};
    size_t n = z->size < 8 ? (size_t)z->size : 8;
    if (n) read_at(z, 0, head, n, "header");
    if (n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0)
        return seer_fail(SEER_STATUS_FORMAT, "%s is a single .npy array, not an .npz archive", z->path);
    if (n >= 4 && rd32(head) == SIG_LOCAL)
        return seer_fail(SEER_STATUS_FORMAT, "%s: zip archive without its end-of-central-directory "
                         "record: the file is truncated or damaged", z->path);
    return seer_fail(SEER_STATUS_FORMAT, "%s is not an .npz file (not a zip archive)", z->path);
}

// Fill the ZIP64 values of a directory entry whose 32-bit fields are saturated (0xffffffff):
// they follow in the 0x0001 extra field, in the order usize, csize, offset.
static seer_status entry_zip64(seer_npz *z, npz_entry *e, const uint8_t *extra, size_t len) {
    bool need_u = e->usize == 0xffffffffu, need_c = e->csize == 0xffffffffu, need_o = e->offset == 0xffffffffu;
    if (!need_u && !need_c && !need_o) return SEER_STATUS_OK;
    for (size_t p = 0; p + 4 <= len;) {
        uint16_t id = rd16(extra + p), n = rd16(extra + p + 2);
        if (p + 4 + n > len) break;
        if (id == 1) {
            const uint8_t *f = extra + p + 4;
            if (n < 8u * (need_u + need_c + need_o)) break;
            if (need_u) e->usize = rd64(f), f += 8;
            if (need_c) e->csize = rd64(f), f += 8;
            if (need_o) e->offset = rd64(f);
            return SEER_STATUS_OK;
        }
        p += 4 + (size_t)n;
    }
    return seer_fail(SEER_STATUS_FORMAT, "%s: entry '%s' has saturated sizes but no valid ZIP64 field",
                     z->path, e->name);
}

static seer_status parse_directory(seer_npz *z, const uint8_t *cd, uint64_t cd_size, uint64_t count) {
    z->e = calloc(count ? (size_t)count : 1, sizeof *z->e);
    if (!z->e) return seer_fail(SEER_STATUS_OOM, "out of host memory reading %s", z->path);
    uint64_t p = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (p + CENTRAL_LEN > cd_size || rd32(cd + p) != SIG_CENTRAL)
            return seer_fail(SEER_STATUS_FORMAT, "%s: central directory entry %llu is damaged",
                             z->path, (unsigned long long)i);
        const uint8_t *h = cd + p;
        size_t nl = rd16(h + 28), el = rd16(h + 30), cl = rd16(h + 32);
        if (p + CENTRAL_LEN + nl + el + cl > cd_size)
            return seer_fail(SEER_STATUS_FORMAT, "%s: central directory entry %llu runs past the directory",
                             z->path, (unsigned long long)i);
        npz_entry *e = &z->e[z->n];
        e->name = malloc(nl + 1);
        if (!e->name) return seer_fail(SEER_STATUS_OOM, "out of host memory reading %s", z->path);
        memcpy(e->name, h + CENTRAL_LEN, nl);
        e->name[nl] = '\0';
        z->n++;
        if (nl > 4 && strcmp(e->name + nl - 4, ".npy") == 0) e->name[nl - 4] = '\0';
        e->flags = rd16(h + 8);
        e->method = rd16(h + 10);
        e->crc = rd32(h + 16);
        e->csize = rd32(h + 20);
        e->usize = rd32(h + 24);
        e->offset = rd32(h + 42);
        SEER_TRY(entry_zip64(z, e, h + CENTRAL_LEN + nl, el));
        p += CENTRAL_LEN + nl + el + cl;
    }
    return SEER_STATUS_OK;
}

static seer_status open_directory(seer_npz *z) {
    if (z->size < EOCD_LEN) return not_a_zip(z);
    // The EOCD is the last 22 bytes plus a comment of up to 64 KiB: search the tail backwards,
    // accepting a signature only where the comment length fits the file's end exactly.
    size_t tail = z->size < EOCD_LEN + MAX_COMMENT ? (size_t)z->size : EOCD_LEN + MAX_COMMENT;
    uint8_t *buf = malloc(tail);
    if (!buf) return seer_fail(SEER_STATUS_OOM, "out of host memory reading %s", z->path);
    seer_status st = read_at(z, z->size - tail, buf, tail, "end of archive");
    ptrdiff_t at = -1;
    for (ptrdiff_t p = (ptrdiff_t)(tail - EOCD_LEN); st == SEER_STATUS_OK && p >= 0 && at < 0; p--)
        if (rd32(buf + p) == SIG_EOCD && (size_t)p + EOCD_LEN + rd16(buf + p + 20) == tail) at = p;
    if (st != SEER_STATUS_OK || at < 0) {
        free(buf);
        return st != SEER_STATUS_OK ? st : not_a_zip(z);
    }
    const uint8_t *eocd = buf + at;
    uint64_t eocd_off = z->size - tail + (uint64_t)at, limit = eocd_off;
    uint64_t count = rd16(eocd + 10), cd_size = rd32(eocd + 12), cd_off = rd32(eocd + 16);
    bool multi_disk = rd16(eocd + 4) != 0 || rd16(eocd + 6) != 0;
    free(buf);
    if (multi_disk) return seer_fail(SEER_STATUS_UNSUPPORTED, "%s: multi-part zip archives are not supported", z->path);

    uint8_t loc[20], e64[56];
    if (eocd_off >= 20 && read_at(z, eocd_off - 20, loc, 20, "ZIP64 locator") == SEER_STATUS_OK &&
        rd32(loc) == SIG_LOCATOR64) {
        uint64_t off64 = rd64(loc + 8);
        SEER_TRY(read_at(z, off64, e64, sizeof e64, "ZIP64 end-of-directory record"));
        if (rd32(e64) != SIG_EOCD64)
            return seer_fail(SEER_STATUS_FORMAT, "%s: the ZIP64 end-of-directory record is damaged", z->path);
        count = rd64(e64 + 32);
        cd_size = rd64(e64 + 40);
        cd_off = rd64(e64 + 48);
        limit = off64;
    } else if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        return seer_fail(SEER_STATUS_FORMAT, "%s: saturated directory fields but no ZIP64 record", z->path);
    }
    if (cd_off > limit || cd_size > limit - cd_off)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: the central directory (offset %llu, %llu bytes) does not fit before its "
                         "end record: the archive is truncated or damaged",
                         z->path, (unsigned long long)cd_off, (unsigned long long)cd_size);
    if (count > cd_size / CENTRAL_LEN)
        return seer_fail(SEER_STATUS_FORMAT, "%s: %llu entries cannot fit a %llu-byte directory",
                         z->path, (unsigned long long)count, (unsigned long long)cd_size);
    uint8_t *cd = malloc(cd_size ? (size_t)cd_size : 1);
    if (!cd) return seer_fail(SEER_STATUS_OOM, "out of host memory reading %s", z->path);
    st = read_at(z, cd_off, cd, (size_t)cd_size, "central directory");
    if (st == SEER_STATUS_OK) st = parse_directory(z, cd, cd_size, count);
    free(cd);
    return st;
}

seer_status seer_npz_open(const char *path, seer_npz **out) {
    *out = NULL;
    seer_npz *z = calloc(1, sizeof *z);
    if (!z || !(z->path = strdup(path))) {
        free(z);
        return seer_fail(SEER_STATUS_OOM, "out of host memory opening %s", path);
    }
    struct stat sb;
    z->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (z->fd < 0 || fstat(z->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        seer_status st = seer_fail(SEER_STATUS_IO, "cannot open %s: %s", path,
                                   z->fd < 0 ? "no such file or no permission" : "not a regular file");
        seer_npz_close(z);
        return st;
    }
    z->size = (uint64_t)sb.st_size;
    seer_status st = open_directory(z);
    if (st != SEER_STATUS_OK) {
        seer_npz_close(z);
        return st;
    }
    *out = z;
    return SEER_STATUS_OK;
}

// ---- reading one array -----------------------------------------------------------------------

static uint32_t crc_of(const uint8_t *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < n;) {
        uInt chunk = n - done > (1u << 30) ? (1u << 30) : (uInt)(n - done);
        c = crc32(c, p + done, chunk);
        done += chunk;
    }
    return (uint32_t)c;
}

static seer_status inflate_entry(seer_npz *z, const npz_entry *e, uint64_t data_off, uint8_t *dst) {
    z_stream s = {0};
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return seer_fail(SEER_STATUS_OOM, "zlib: out of memory");
    size_t chunk_cap = 1u << 20;
    uint8_t *chunk = malloc(chunk_cap);
    uint64_t in_done = 0, out_done = 0;
    seer_status st = chunk ? SEER_STATUS_OK : seer_fail(SEER_STATUS_OOM, "out of host memory");
    int zr = Z_OK;
    while (st == SEER_STATUS_OK && zr != Z_STREAM_END) {
        if (s.avail_in == 0) {
            if (in_done == e->csize) {
                st = seer_fail(SEER_STATUS_FORMAT, "%s: array '%s': compressed data ends early: the "
                               "archive is truncated or damaged", z->path, e->name);
                break;
            }
            size_t n = e->csize - in_done < chunk_cap ? (size_t)(e->csize - in_done) : chunk_cap;
            if ((st = read_at(z, data_off + in_done, chunk, n, e->name)) != SEER_STATUS_OK) break;
            in_done += n;
            s.next_in = chunk, s.avail_in = (uInt)n;
        }
        uint64_t room = e->usize - out_done;
        s.next_out = dst + out_done, s.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
        uInt before = s.avail_out;
        zr = inflate(&s, Z_NO_FLUSH);
        out_done += before - s.avail_out;
        if (zr == Z_BUF_ERROR && s.avail_out == 0 && out_done == e->usize) zr = Z_DATA_ERROR;
        if (zr != Z_OK && zr != Z_STREAM_END)
            st = seer_fail(SEER_STATUS_FORMAT, "%s: array '%s': deflate data is corrupt (%s)", z->path,
                           e->name, s.msg ? s.msg : "inflated size larger than recorded");
    }
    if (st == SEER_STATUS_OK && out_done != e->usize)
        st = seer_fail(SEER_STATUS_FORMAT, "%s: array '%s' inflates to %llu bytes, the directory says %llu",
                       z->path, e->name, (unsigned long long)out_done, (unsigned long long)e->usize);
    inflateEnd(&s);
    free(chunk);
    return st;
}

// The uncompressed bytes of an entry (the whole .npy file), CRC-checked; *out is malloc'ed.
static seer_status read_entry(seer_npz *z, const npz_entry *e, uint8_t **out) {
    *out = NULL;
    if (e->flags & 1) return seer_fail(SEER_STATUS_UNSUPPORTED, "%s: array '%s' is encrypted", z->path, e->name);
    if (e->method != 0 && e->method != 8)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "%s: array '%s' uses zip compression method %u (numpy writes stored or deflate)",
                         z->path, e->name, e->method);
    uint8_t h[LOCAL_LEN];
    SEER_TRY(read_at(z, e->offset, h, sizeof h, "local file header"));
    if (rd32(h) != SIG_LOCAL)
        return seer_fail(SEER_STATUS_FORMAT, "%s: array '%s': no local header at offset %llu (damaged archive)",
                         z->path, e->name, (unsigned long long)e->offset);
    uint64_t data_off = e->offset + LOCAL_LEN + rd16(h + 26) + rd16(h + 28);
    if (data_off > z->size || e->csize > z->size - data_off)
        return seer_fail(SEER_STATUS_FORMAT, "%s: array '%s' (%llu bytes at offset %llu) runs past the end "
                         "of the file (%llu bytes): the archive is truncated",
                         z->path, e->name, (unsigned long long)e->csize, (unsigned long long)data_off,
                         (unsigned long long)z->size);
    // Deflate expands at most ~1032:1; a larger recorded size is damage, not data to allocate.
    if ((e->method == 0 && e->usize != e->csize) ||
        (e->method == 8 && e->usize / 1032 > e->csize + 1) || e->usize >= (uint64_t)SIZE_MAX / 2)
        return seer_fail(SEER_STATUS_FORMAT, "%s: array '%s': sizes %llu (stored) and %llu (data) do not fit",
                         z->path, e->name, (unsigned long long)e->csize, (unsigned long long)e->usize);
    uint8_t *buf = malloc(e->usize ? (size_t)e->usize : 1);
    if (!buf)
        return seer_fail(SEER_STATUS_OOM, "out of host memory for array '%s' (%llu bytes) of %s", e->name,
                         (unsigned long long)e->usize, z->path);
    seer_status st = e->method == 0 ? read_at(z, data_off, buf, (size_t)e->usize, e->name)
                                    : inflate_entry(z, e, data_off, buf);
    if (st == SEER_STATUS_OK && crc_of(buf, (size_t)e->usize) != e->crc)
        st = seer_fail(SEER_STATUS_FORMAT, "%s: array '%s' fails its CRC check (damaged data)", z->path, e->name);
    if (st != SEER_STATUS_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return SEER_STATUS_OK;
}

// ---- .npy header ---------------------------------------------------------------------------

typedef struct npy_header {
    char descr[16];
    bool fortran;
    int ndim;
    int64_t shape[32];  // numpy allows 32 dims; the caller checks its own limit
    size_t data_off;
} npy_header;

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

// A Python string literal in ' or " quotes into dst (n bytes); NULL if malformed.
static const char *parse_str(const char *p, const char *end, char *dst, size_t n) {
    if (p >= end || (*p != '\'' && *p != '"')) return NULL;
    char q = *p++;
    size_t k = 0;
    while (p < end && *p != q) {
        if (k + 1 >= n) return NULL;
        dst[k++] = *p++;
    }
    dst[k] = '\0';
    return p < end ? p + 1 : NULL;
}

static const char *parse_shape(const char *p, const char *end, npy_header *h) {
    if (p >= end || *p != '(') return NULL;
    p = skip_ws(p + 1, end);
    h->ndim = 0;
    while (p < end && *p != ')') {
        if (h->ndim == 32 || *p < '0' || *p > '9') return NULL;
        int64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return NULL;
            v = v * 10 + (*p++ - '0');
        }
        if (p < end && *p == 'L') p++;  // Python 2 longs in old files
        h->shape[h->ndim++] = v;
        p = skip_ws(p, end);
        if (p < end && *p == ',') p = skip_ws(p + 1, end);
    }
    return p < end ? p + 1 : NULL;
}

// npy format: "\x93NUMPY", major, minor, header length (u16 in 1.0, u32 in 2.0/3.0), then a
// Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (64, 64), }.
static seer_status parse_npy(const seer_npz *z, const char *name, const uint8_t *b, size_t n,
                             npy_header *h) {
    memset(h, 0, sizeof *h);
    if (n < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return seer_fail(SEER_STATUS_FORMAT, "%s: array '%s' is not a .npy array (bad magic)", z->path, name);
    size_t hl, start;
    if (b[6] == 1) hl = rd16(b + 8), start = 10;
    else if ((b[6] == 2 || b[6] == 3) && n >= 12) hl = rd32(b + 8), start = 12;
    else return seer_fail(SEER_STATUS_FORMAT, "%s: array '%s': unsupported .npy version %u", z->path, name, b[6]);
    if (hl > n - start)
        return seer_fail(SEER_STATUS_FORMAT, "%s: array '%s': .npy header longer than the entry", z->path, name);
    const char *p = (const char *)b + start, *end = p + hl;
    bool got[3] = {false, false, false};
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{') p = NULL;
    while (p && (p = skip_ws(p, end)) < end && *p != '}') {
        char key[32];
        if (!(p = parse_str(p, end, key, sizeof key))) break;
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':') {
            p = NULL;
            break;
        }
        p = skip_ws(p, end);
        if (strcmp(key, "descr") == 0) {
            if (p < end && *p == '[')
                return seer_fail(SEER_STATUS_SHAPE, "%s: array '%s' has a structured dtype; expected a "
                                 "float array", z->path, name);
            p = parse_str(p, end, h->descr, sizeof h->descr);
            got[0] = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            h->fortran = end - p >= 4 && memcmp(p, "True", 4) == 0;
            p = h->fortran ? p + 4 : (end - p >= 5 && memcmp(p, "False", 5) == 0) ? p + 5 : NULL;
            got[1] = true;
        } else if (strcmp(key, "shape") == 0) {
            p = parse_shape(p, end, h);
            got[2] = true;
        } else {
            p = NULL;
        }
        if (p && (p = skip_ws(p, end)) < end && *p == ',') p++;
    }
    if (!p || p >= end || !got[0] || !got[1] || !got[2])
        return seer_fail(SEER_STATUS_FORMAT, "%s: array '%s': malformed .npy header", z->path, name);
    h->data_off = start + hl;
    return SEER_STATUS_OK;
}

static double load_value(const uint8_t *p, int size, bool swap) {
    union { uint8_t b[8]; double d; float f; uint16_t h; } v;
    for (int i = 0; i < size; i++) v.b[i] = swap ? p[size - 1 - i] : p[i];
    return size == 8 ? v.d : size == 4 ? (double)v.f : (double)seer_f16_to_f32(v.h);
}

seer_status seer_npz_read_f64(seer_npz *z, const char *name, int *ndim, int64_t *shape, double **out) {
    *out = NULL;
    int i = seer_npz_find(z, name);
    if (i < 0) return seer_fail(SEER_STATUS_NOT_FOUND, "%s has no array '%s'", z->path, name);
    uint8_t *b = NULL;
    SEER_TRY(read_entry(z, &z->e[i], &b));
    npy_header h;
    seer_status st = parse_npy(z, name, b, (size_t)z->e[i].usize, &h);
    const char *d = h.descr;
    int size = 0;
    if (st == SEER_STATUS_OK) {
        if (strchr("<>|=", d[0]) && d[1] == 'f' && d[2] && !d[3]) size = d[2] - '0';
        if (size != 2 && size != 4 && size != 8)
            st = seer_fail(SEER_STATUS_SHAPE, "%s: array '%s' has dtype '%s'; expected float64, float32 "
                           "or float16", z->path, name, d);
        else if (h.ndim > SEER_MAX_DIMS)
            st = seer_fail(SEER_STATUS_SHAPE, "%s: array '%s' has %d dims (at most %d)", z->path, name,
                           h.ndim, SEER_MAX_DIMS);
    }
    uint64_t numel = 1;
    for (int k = 0; st == SEER_STATUS_OK && k < h.ndim; k++) {
        if (h.shape[k] && numel > UINT64_MAX / 8 / (uint64_t)h.shape[k]) numel = UINT64_MAX / 8;
        else numel *= (uint64_t)h.shape[k];
    }
    if (st == SEER_STATUS_OK && numel * (uint64_t)size != z->e[i].usize - h.data_off)
        st = seer_fail(SEER_STATUS_FORMAT, "%s: array '%s': %llu bytes of data for %llu values of %d bytes",
                       z->path, name, (unsigned long long)(z->e[i].usize - h.data_off),
                       (unsigned long long)numel, size);
    double *v = NULL;
    if (st == SEER_STATUS_OK && !(v = malloc(numel ? (size_t)numel * sizeof(double) : 1)))
        st = seer_fail(SEER_STATUS_OOM, "out of host memory for array '%s' of %s", name, z->path);
    if (st == SEER_STATUS_OK) {
        const uint16_t one = 1;
        bool host_le = *(const uint8_t *)&one == 1, swap = (d[0] == '>' && host_le) || (d[0] == '<' && !host_le);
        const uint8_t *src = b + h.data_off;
        for (uint64_t j = 0; j < numel; j++) {
            // Fortran order: the file's j-th value has its first index varying fastest.
            uint64_t dst = h.fortran ? 0 : j, rest = j, stride = numel;
            for (int k = 0; h.fortran && k < h.ndim; k++) {
                stride /= (uint64_t)h.shape[k];
                dst += (rest % (uint64_t)h.shape[k]) * stride;
                rest /= (uint64_t)h.shape[k];
            }
            v[dst] = load_value(src + j * (uint64_t)size, size, swap);
        }
        *ndim = h.ndim;
        for (int k = 0; k < h.ndim; k++) shape[k] = h.shape[k];
        *out = v;
    }
    free(b);
    return st;
}

// ---- writing -------------------------------------------------------------------------------

static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v & 0xffff), wr16(p + 2, v >> 16); }

// One .npy file (version 1.0 header padded so the data starts at a multiple of 64, as numpy
// does) in a malloc'ed buffer.
static seer_status make_npy(const seer_npz_entry *e, uint8_t **out, size_t *n) {
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       e->type == SEER_NPY_F64 ? "<f8" : "<f4");
    uint64_t numel = 1;
    for (int k = 0; k < e->ndim; k++) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, k ? ", %lld" : "%lld", (long long)e->shape[k]);
        numel *= (uint64_t)e->shape[k];
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }", e->ndim == 1 ? "," : "");
    size_t hl = (size_t)len + 1;  // + '\n'
    hl += (64 - (10 + hl) % 64) % 64;
    size_t item = e->type == SEER_NPY_F64 ? 8 : 4, bytes = (size_t)numel * item;
    uint8_t *b = malloc(10 + hl + bytes);
    if (!b) return seer_fail(SEER_STATUS_OOM, "out of host memory writing array '%s'", e->name);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    wr16(b + 8, (uint32_t)hl);
    memset(b + 10, ' ', hl);
    memcpy(b + 10, dict, (size_t)len);
    b[10 + hl - 1] = '\n';
    if (bytes) memcpy(b + 10 + hl, e->data, bytes);
    *out = b;
    *n = 10 + hl + bytes;
    return SEER_STATUS_OK;
}

static seer_status deflate_buf(const uint8_t *src, size_t n, uint8_t **out, size_t *on) {
    z_stream s = {0};
    if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return seer_fail(SEER_STATUS_OOM, "zlib: out of memory");
    uLong cap = deflateBound(&s, (uLong)n);
    uint8_t *dst = malloc(cap);
    s.next_in = (Bytef *)src, s.avail_in = (uInt)n, s.next_out = dst, s.avail_out = (uInt)cap;
    int r = dst ? deflate(&s, Z_FINISH) : Z_MEM_ERROR;
    *on = s.total_out;
    deflateEnd(&s);
    *out = dst;
    if (r == Z_STREAM_END) return SEER_STATUS_OK;
    free(dst);
    *out = NULL;
    return seer_fail(SEER_STATUS_OOM, "zlib: compressing failed (%d)", r);
}

static seer_status check_entries(const seer_npz_entry *e, int n) {
    if (n < 0 || n > 65535) return seer_fail(SEER_STATUS_ARG, "an .npz holds 0 to 65535 arrays (got %d)", n);
    for (int i = 0; i < n; i++) {
        const char *name = e[i].name;
        if (!name || !name[0] || strlen(name) > 1000 || (e[i].type != SEER_NPY_F64 && e[i].type != SEER_NPY_F32) ||
            e[i].ndim < 0 || e[i].ndim > SEER_MAX_DIMS)
            return seer_fail(SEER_STATUS_ARG, "npz array %d: bad name, type or dims", i);
        uint64_t numel = 1;
        for (int k = 0; k < e[i].ndim && numel <= (1ull << 32); k++) {
            if (e[i].shape[k] < 0) return seer_fail(SEER_STATUS_ARG, "npz array '%s': negative dim", name);
            numel *= (uint64_t)e[i].shape[k];
        }
        if (numel > (1ull << 32))
            return seer_fail(SEER_STATUS_UNSUPPORTED, "npz array '%s' is above 4 GiB (ZIP64 is not written)", name);
        if (numel && !e[i].data) return seer_fail(SEER_STATUS_ARG, "npz array '%s' has no data", name);
        for (int j = 0; j < i; j++)
            if (strcmp(name, e[j].name) == 0) return seer_fail(SEER_STATUS_ARG, "npz array name '%s' given twice", name);
    }
    return SEER_STATUS_OK;
}

// Local header (into h, 30 bytes) or central entry (46 bytes) of one stored array.
static void zip_header(uint8_t *h, bool central, uint16_t method, uint32_t crc, size_t csize,
                       size_t usize, size_t name_len, uint64_t offset) {
    uint8_t *p = h;
    wr32(p, central ? SIG_CENTRAL : SIG_LOCAL), p += 4;
    if (central) wr16(p, 20), p += 2;  // version made by
    wr16(p, 20), p += 2;               // version needed: 2.0 (deflate)
    wr16(p, 0), wr16(p + 2, method), p += 4;
    wr16(p, 0), wr16(p + 2, (0 << 9) | (1 << 5) | 1), p += 4;  // 1980-01-01 00:00
    wr32(p, crc), wr32(p + 4, (uint32_t)csize), wr32(p + 8, (uint32_t)usize), p += 12;
    wr16(p, (uint32_t)name_len), wr16(p + 2, 0), p += 4;
    if (central) {
        memset(p, 0, 10);  // comment length, disk, internal and external attributes
        wr32(p + 10, (uint32_t)offset);
    }
}

seer_status seer_npz_save(const char *path, const seer_npz_entry *entries, int n, bool compress) {
    SEER_TRY(check_entries(entries, n));
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return seer_fail(SEER_STATUS_IO, "cannot create %s", tmp);
    uint8_t *cd = malloc((size_t)n * (CENTRAL_LEN + 1005) + 1);
    size_t cd_len = 0;
    uint64_t off = 0;
    seer_status st = cd ? SEER_STATUS_OK : seer_fail(SEER_STATUS_OOM, "out of host memory");
    for (int i = 0; i < n && st == SEER_STATUS_OK; i++) {
        uint8_t *npy = NULL, *packed = NULL;
        size_t usize = 0, csize = 0;
        char name[1008];
        size_t nl = (size_t)snprintf(name, sizeof name, "%s.npy", entries[i].name);
        st = make_npy(&entries[i], &npy, &usize);
        if (st == SEER_STATUS_OK && compress) st = deflate_buf(npy, usize, &packed, &csize);
        const uint8_t *data = compress ? packed : npy;
        if (!compress) csize = usize;
        if (st == SEER_STATUS_OK && (usize >= 0xffffffffu || csize >= 0xffffffffu ||
                                     off + LOCAL_LEN + nl + csize >= 0xffffffffu))
            st = seer_fail(SEER_STATUS_UNSUPPORTED, "%s would pass 4 GiB (ZIP64 is not written)", path);
        if (st == SEER_STATUS_OK) {
            uint32_t crc = crc_of(npy, usize);
            uint8_t h[LOCAL_LEN];
            zip_header(h, false, compress ? 8 : 0, crc, csize, usize, nl, 0);
            zip_header(cd + cd_len, true, compress ? 8 : 0, crc, csize, usize, nl, off);
            memcpy(cd + cd_len + CENTRAL_LEN, name, nl);
            cd_len += CENTRAL_LEN + nl;
            if (fwrite(h, 1, sizeof h, f) != sizeof h || fwrite(name, 1, nl, f) != nl ||
                fwrite(data, 1, csize, f) != csize)
                st = seer_fail(SEER_STATUS_IO, "write error on %s (disk full?)", tmp);
            off += LOCAL_LEN + nl + csize;
        }
        free(npy);
        free(packed);
    }
    if (st == SEER_STATUS_OK) {
        uint8_t e[EOCD_LEN] = {0};
        wr32(e, SIG_EOCD);
        wr16(e + 8, (uint32_t)n), wr16(e + 10, (uint32_t)n);
        wr32(e + 12, (uint32_t)cd_len), wr32(e + 16, (uint32_t)off);
        if (fwrite(cd, 1, cd_len, f) != cd_len || fwrite(e, 1, sizeof e, f) != sizeof e ||
            fflush(f) != 0 || fsync(fileno(f)) != 0)
            st = seer_fail(SEER_STATUS_IO, "write error on %s (disk full?)", tmp);
    }
    free(cd);
    if (fclose(f) != 0 && st == SEER_STATUS_OK) st = seer_fail(SEER_STATUS_IO, "write error on %s", tmp);
    if (st == SEER_STATUS_OK && rename(tmp, path) != 0)
        st = seer_fail(SEER_STATUS_IO, "cannot rename %s to %s", tmp, path);
    if (st != SEER_STATUS_OK) unlink(tmp);
    return st;
}
