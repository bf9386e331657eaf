// Validated .safetensors reader (mmap) and atomic writer. See safetensors.h for the rules.
#include "core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little endian and is read with memcpy; add byte swaps for this host"
#endif

typedef unsigned long long ull; // for printf of u64 without PRIu64 noise

typedef struct st_entry {
    char *name;
    seer_dtype dt;
    int ndim;
    int64_t shape[SEER_MAX_DIMS];
    uint64_t begin, end; // relative to the data region
} st_entry;

struct seer_st_file {
    char *label;
    void *map; // mmap'ed file (seer_st_open) ...
    size_t map_len;
    void *copy;          // ... or malloc'ed copy (seer_st_open_memory)
    const uint8_t *data; // start of the data region
    uint64_t data_size;
    st_entry *ent; // sorted by data offset
    int n;
    st_entry **by_name; // sorted by name, for bsearch
    char **meta_key, **meta_val;
    int n_meta;
};

static const struct {
    const char *name;
    seer_dtype dt;
} st_dtypes[] = {{"F32", SEER_F32}, {"F16", SEER_F16}, {"BF16", SEER_BF16},
                 {"I32", SEER_I32}, {"I64", SEER_I64}, {"U8", SEER_U8},
                 {"I8", SEER_I8}};
#define ST_NDTYPES (int)(sizeof st_dtypes / sizeof st_dtypes[0])

const char *seer_st_dtype_name(seer_dtype dt) {
    for (int i = 0; i < ST_NDTYPES; i++)
        if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
    return "?";
}

static const char *json_kind(const json_t *v) {
    if (!v) return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static const char *shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t off = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
    return buf;
}

static seer_status oom(const char *label) {
    return seer_fail(SEER_STATUS_OOM, "%s: out of host memory", label);
}

// ---- parsing -------------------------------------------------------------------------------

static seer_status parse_entry(seer_st_file *f, st_entry *e, const char *name, json_t *v) {
    const char *L = f->label;
    char sb[160];
    if (!json_is_object(v))
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': expected an object with dtype, shape and "
                         "data_offsets, found %s",
                         L, name, json_kind(v));
    if (!(e->name = strdup(name))) return oom(L);

    json_t *jd = json_object_get(v, "dtype");
    if (!json_is_string(jd))
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': expected \"dtype\" as a string, found %s", L, name,
                         json_kind(jd));
    const char *ds = json_string_value(jd);
    int k = 0;
    while (k < ST_NDTYPES && strcmp(st_dtypes[k].name, ds) != 0)
        k++;
    if (k == ST_NDTYPES)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': dtype '%s' is not supported "
                         "(expected F32, F16, BF16, I32, I64, U8 or I8)",
                         L, name, ds);
    e->dt = st_dtypes[k].dt;

    json_t *js = json_object_get(v, "shape");
    if (!json_is_array(js))
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': expected \"shape\" as an array, found %s", L, name,
                         json_kind(js));
    size_t nd = json_array_size(js);
    if (nd > SEER_MAX_DIMS)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': shape has %zu dims, expected at most %d", L, name, nd,
                         SEER_MAX_DIMS);
    e->ndim = (int)nd;
    bool has_zero = false;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d))
            return seer_fail(SEER_STATUS_FORMAT,
                             "%s: tensor '%s': shape[%zu]: expected a "
                             "non-negative integer, found %s",
                             L, name, i, json_kind(d));
        json_int_t x = json_integer_value(d);
        if (x < 0)
            return seer_fail(SEER_STATUS_FORMAT,
                             "%s: tensor '%s': shape[%zu]: expected a "
                             "non-negative integer, found %lld",
                             L, name, i, (long long)x);
        e->shape[i] = x;
        has_zero |= x == 0;
    }
    // bytes = numel * dtype size, refusing shapes whose product overflows (unless a dim is 0)
    uint64_t bytes = 0;
    if (!has_zero) {
        bytes = seer_dtype_size(e->dt);
        for (int i = 0; i < e->ndim; i++)
            if (__builtin_mul_overflow(bytes, (uint64_t)e->shape[i], &bytes))
                return seer_fail(SEER_STATUS_FORMAT, "%s: tensor '%s': shape %s is too large", L,
                                 name, shape_str(sb, sizeof sb, e->ndim, e->shape));
    }

    json_t *jo = json_object_get(v, "data_offsets");
    json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(jb) ||
        !json_is_integer(je))
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': expected \"data_offsets\" as "
                         "[begin, end] integers, found %s",
                         L, name, json_kind(jo));
    json_int_t b = json_integer_value(jb), en = json_integer_value(je);
    if (b < 0 || en < 0 || b > en)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': data_offsets [%lld, %lld]: expected 0 <= begin <= end",
                         L, name, (long long)b, (long long)en);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    if (e->end > f->data_size)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] end "
                         "past the end of the data region (%llu bytes; file truncated?)",
                         L, name, (ull)e->begin, (ull)e->end, (ull)f->data_size);
    if (e->end - e->begin != bytes)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: tensor '%s': shape %s %s needs %llu bytes, "
                         "found data_offsets [%llu, %llu] spanning %llu bytes",
                         L, name, shape_str(sb, sizeof sb, e->ndim, e->shape), st_dtypes[k].name,
                         (ull)bytes, (ull)e->begin, (ull)e->end, (ull)(e->end - e->begin));
    return SEER_STATUS_OK;
}

static seer_status parse_metadata(seer_st_file *f, json_t *m) {
    if (!json_is_object(m))
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: __metadata__: expected an object of string -> string, found %s",
                         f->label, json_kind(m));
    size_t n = json_object_size(m);
    f->meta_key = calloc(n + 1, sizeof(char *));
    f->meta_val = calloc(n + 1, sizeof(char *));
    if (!f->meta_key || !f->meta_val) return oom(f->label);
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v) {
        if (!json_is_string(v))
            return seer_fail(SEER_STATUS_FORMAT,
                             "%s: __metadata__ key '%s': expected a string value, found %s",
                             f->label, key, json_kind(v));
        f->meta_key[f->n_meta] = strdup(key);
        f->meta_val[f->n_meta] = strdup(json_string_value(v));
        f->n_meta++;
        if (!f->meta_key[f->n_meta - 1] || !f->meta_val[f->n_meta - 1]) return oom(f->label);
    }
    return SEER_STATUS_OK;
}

static int cmp_offset(const void *pa, const void *pb) {
    const st_entry *a = pa, *b = pb;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return strcmp(a->name, b->name); // zero-size tensors may share an offset
}

static int cmp_name(const void *pa, const void *pb) {
    return strcmp((*(st_entry *const *)pa)->name, (*(st_entry *const *)pb)->name);
}

// Sorted by offset, the tensors must tile [0, data_size) exactly.
static seer_status check_tiling(const seer_st_file *f) {
    const char *L = f->label;
    uint64_t pos = 0;
    for (int i = 0; i < f->n; i++) {
        const st_entry *e = &f->ent[i], *p = i ? &f->ent[i - 1] : NULL;
        if (e->begin < pos)
            return seer_fail(
                SEER_STATUS_FORMAT, "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap",
                L, p->name, (ull)p->begin, (ull)p->end, e->name, (ull)e->begin, (ull)e->end);
        if (e->begin > pos) {
            if (!p)
                return seer_fail(SEER_STATUS_FORMAT,
                                 "%s: hole in the data region: bytes [0, "
                                 "%llu) belong to no tensor (first tensor '%s' starts at %llu)",
                                 L, (ull)e->begin, e->name, (ull)e->begin);
            return seer_fail(SEER_STATUS_FORMAT,
                             "%s: hole in the data region: bytes [%llu, "
                             "%llu) between tensors '%s' and '%s' belong to no tensor",
                             L, (ull)pos, (ull)e->begin, p->name, e->name);
        }
        pos = e->end;
    }
    if (pos != f->data_size)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: data region is %llu bytes but the tensors "
                         "cover %llu: %llu trailing bytes%s%s%s",
                         L, (ull)f->data_size, (ull)pos, (ull)(f->data_size - pos),
                         f->n ? " after tensor '" : "", f->n ? f->ent[f->n - 1].name : "",
                         f->n ? "'" : "");
    return SEER_STATUS_OK;
}

// Validates `size` bytes at `base` (base is not read unless size >= 8) and fills f.
static seer_status st_parse(seer_st_file *f, const uint8_t *base, size_t size) {
    const char *L = f->label;
    if (size < 8)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: file is %zu bytes, expected at least 8 (the header length)", L, size);
    uint64_t hl;
    memcpy(&hl, base, 8);
    if (hl > SEER_ST_MAX_HEADER)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: header length %llu exceeds the limit of %llu "
                         "bytes (not a safetensors file?)",
                         L, (ull)hl, SEER_ST_MAX_HEADER);
    if (hl > size - 8)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: header length %llu is larger than the %llu "
                         "bytes after the length prefix (file truncated?)",
                         L, (ull)hl, (ull)(size - 8));
    f->data = base + 8 + hl;
    f->data_size = size - 8 - hl;

    json_error_t je;
    json_t *root = json_loadb((const char *)base + 8, hl, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: header is not valid JSON (at byte %d of the header: %s)", L,
                         je.position, je.text);
    seer_status st = SEER_STATUS_OK;
    if (!json_is_object(root)) {
        st = seer_fail(SEER_STATUS_FORMAT, "%s: header: expected a JSON object, found %s", L,
                       json_kind(root));
        goto done;
    }
    size_t n = json_object_size(root);
    f->ent = calloc(n + 1, sizeof *f->ent);
    f->by_name = calloc(n + 1, sizeof *f->by_name);
    if (!f->ent || !f->by_name) {
        st = oom(L);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            st = parse_metadata(f, v);
        } else {
            st = parse_entry(f, &f->ent[f->n], key, v);
            f->n++; // counted even on failure so close frees its name
        }
        if (st != SEER_STATUS_OK) goto done;
    }
    qsort(f->ent, (size_t)f->n, sizeof *f->ent, cmp_offset);
    if ((st = check_tiling(f)) != SEER_STATUS_OK) goto done;
    for (int i = 0; i < f->n; i++)
        f->by_name[i] = &f->ent[i];
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_name);
    // JSON keys are unique, but a key with an escaped NUL would be cut short by strdup
    for (int i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            st = seer_fail(SEER_STATUS_FORMAT, "%s: duplicate tensor name '%s'", L,
                           f->by_name[i]->name);
            goto done;
        }
done:
    json_decref(root);
    return st;
}

static seer_st_file *st_new(const char *label) {
    seer_st_file *f = calloc(1, sizeof *f);
    if (f && !(f->label = strdup(label))) {
        free(f);
        f = NULL;
    }
    if (!f) oom(label);
    return f;
}

void seer_st_close(seer_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++)
        free(f->ent[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_key[i]);
        free(f->meta_val[i]);
    }
    free(f->ent);
    free(f->by_name);
    free(f->meta_key);
    free(f->meta_val);
    if (f->map) munmap(f->map, f->map_len);
    free(f->copy);
    free(f->label);
    free(f);
}

seer_status seer_st_open_memory(const void *buf, size_t n, const char *label, seer_st_file **out) {
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && n) return seer_fail(SEER_STATUS_ARG, "%s: NULL buffer of %zu bytes", label, n);
    seer_st_file *f = st_new(label);
    if (!f) return SEER_STATUS_OOM;
    if (n && !(f->copy = malloc(n))) {
        seer_st_close(f);
        return oom(label);
    }
    if (n) memcpy(f->copy, buf, n);
    seer_status st = st_parse(f, f->copy, n);
    if (st != SEER_STATUS_OK) {
        seer_st_close(f);
        return st;
    }
    *out = f;
    return SEER_STATUS_OK;
}

seer_status seer_st_open(const char *path, seer_st_file **out) {
    *out = NULL;
    if (!path) return seer_fail(SEER_STATUS_ARG, "seer_st_open: NULL path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return seer_fail(SEER_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        seer_status st = seer_fail(SEER_STATUS_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return seer_fail(SEER_STATUS_IO, "%s: not a regular file", path);
    }
    seer_st_file *f = st_new(path);
    if (!f) {
        close(fd);
        return SEER_STATUS_OOM;
    }
    size_t size = (size_t)sb.st_size;
    if (size >= 8) { // mmap refuses length 0; shorter files fail in st_parse without reading
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            seer_status st = seer_fail(SEER_STATUS_IO, "%s: mmap of %zu bytes failed: %s", path,
                                       size, strerror(errno));
            close(fd);
            seer_st_close(f);
            return st;
        }
        f->map = m;
        f->map_len = size;
    }
    close(fd); // the mapping stays valid
    seer_status st = st_parse(f, f->map, size);
    if (st != SEER_STATUS_OK) {
        seer_st_close(f);
        return st;
    }
    *out = f;
    return SEER_STATUS_OK;
}

// ---- queries -------------------------------------------------------------------------------

const char *seer_st_path(const seer_st_file *f) {
    return f->label;
}
int seer_st_count(const seer_st_file *f) {
    return f->n;
}

const char *seer_st_name(const seer_st_file *f, int i) {
    return i >= 0 && i < f->n ? f->ent[i].name : NULL;
}

static int cmp_key_name(const void *key, const void *elem) {
    return strcmp((const char *)key, (*(st_entry *const *)elem)->name);
}

int seer_st_find(const seer_st_file *f, const char *name) {
    if (!name || f->n == 0) return -1;
    st_entry **hit = bsearch(name, f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_key_name);
    return hit ? (int)(*hit - f->ent) : -1;
}

static const st_entry *find_or_fail(const seer_st_file *f, const char *name) {
    int i = seer_st_find(f, name);
    if (i < 0) {
        seer_fail(SEER_STATUS_NOT_FOUND, "%s: no tensor '%s'", f->label, name ? name : "(null)");
        return NULL;
    }
    return &f->ent[i];
}

seer_status seer_st_info(const seer_st_file *f, const char *name, seer_dtype *dt, int *ndim,
                         int64_t *shape) {
    const st_entry *e = find_or_fail(f, name);
    if (!e) return SEER_STATUS_NOT_FOUND;
    if (dt) *dt = e->dt;
    if (ndim) *ndim = e->ndim;
    if (shape) memcpy(shape, e->shape, (size_t)e->ndim * sizeof *shape);
    return SEER_STATUS_OK;
}

const void *seer_st_raw(const seer_st_file *f, const char *name, size_t *nbytes) {
    const st_entry *e = find_or_fail(f, name);
    if (nbytes) *nbytes = e ? (size_t)(e->end - e->begin) : 0;
    return e ? f->data + e->begin : NULL;
}

static float load_float(const uint8_t *p, seer_dtype dt) {
    if (dt == SEER_F32) {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, p, 2);
    return dt == SEER_F16 ? seer_f16_to_f32(h) : seer_bf16_to_f32(h);
}

static void store_float(uint8_t *p, seer_dtype dt, float v) {
    if (dt == SEER_F32) {
        memcpy(p, &v, 4);
        return;
    }
    uint16_t h = dt == SEER_F16 ? seer_f32_to_f16(v) : seer_f32_to_bf16(v);
    memcpy(p, &h, 2);
}

static int64_t load_int(const uint8_t *p, seer_dtype dt) {
    if (dt == SEER_U8) return *p;
    if (dt == SEER_I8) return (int8_t)*p;
    if (dt == SEER_I32) {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

// Stores v as dt; false if it does not fit.
static bool store_int(uint8_t *p, seer_dtype dt, int64_t v) {
    if (dt == SEER_U8) {
        if (v < 0 || v > 255) return false;
        *p = (uint8_t)v;
    } else if (dt == SEER_I8) {
        if (v < INT8_MIN || v > INT8_MAX) return false;
        *p = (uint8_t)(int8_t)v;
    } else if (dt == SEER_I32) {
        if (v < INT32_MIN || v > INT32_MAX) return false;
        int32_t x = (int32_t)v;
        memcpy(p, &x, 4);
    } else {
        memcpy(p, &v, 8);
    }
    return true;
}

seer_status seer_st_read(const seer_st_file *f, const char *name, seer_dtype want, void *dst,
                         size_t dst_bytes) {
    const st_entry *e = find_or_fail(f, name);
    if (!e) return SEER_STATUS_NOT_FOUND;
    if ((unsigned)want >= SEER_DTYPE_COUNT)
        return seer_fail(SEER_STATUS_ARG, "%s: tensor '%s': bad dtype %d requested", f->label, name,
                         (int)want);
    size_t ss = seer_dtype_size(e->dt), ws = seer_dtype_size(want);
    size_t numel = (size_t)(e->end - e->begin) / ss;
    if (e->begin == e->end) numel = 0;
    if (dst_bytes != numel * ws || (!dst && dst_bytes)) {
        char sb[160];
        return seer_fail(
            SEER_STATUS_ARG, "%s: tensor '%s' %s %s read as %s needs a %zu-byte buffer, got %zu",
            f->label, name, shape_str(sb, sizeof sb, e->ndim, e->shape), seer_st_dtype_name(e->dt),
            seer_st_dtype_name(want), numel * ws, dst_bytes);
    }
    const uint8_t *src = f->data + e->begin;
    uint8_t *out = dst;
    if (want == e->dt) {
        if (numel) memcpy(out, src, numel * ws);
        return SEER_STATUS_OK;
    }
    if (seer_dtype_is_float(e->dt) != seer_dtype_is_float(want))
        return seer_fail(SEER_STATUS_SHAPE,
                         "%s: tensor '%s' is %s; reading it as %s is refused "
                         "(no float <-> integer conversion)",
                         f->label, name, seer_st_dtype_name(e->dt), seer_st_dtype_name(want));
    if (seer_dtype_is_float(want)) {
        for (size_t i = 0; i < numel; i++)
            store_float(out + i * ws, want, load_float(src + i * ss, e->dt));
        return SEER_STATUS_OK;
    }
    for (size_t i = 0; i < numel; i++) {
        int64_t v = load_int(src + i * ss, e->dt);
        if (!store_int(out + i * ws, want, v))
            return seer_fail(SEER_STATUS_SHAPE,
                             "%s: tensor '%s': element %zu = %lld does not fit in %s", f->label,
                             name, i, (long long)v, seer_st_dtype_name(want));
    }
    return SEER_STATUS_OK;
}

const char *seer_st_metadata(const seer_st_file *f, const char *key) {
    for (int i = 0; key && i < f->n_meta; i++)
        if (strcmp(f->meta_key[i], key) == 0) return f->meta_val[i];
    return NULL;
}

int seer_st_metadata_count(const seer_st_file *f) {
    return f->n_meta;
}

const char *seer_st_metadata_key(const seer_st_file *f, int i) {
    return i >= 0 && i < f->n_meta ? f->meta_key[i] : NULL;
}

const char *seer_st_metadata_value(const seer_st_file *f, int i) {
    return i >= 0 && i < f->n_meta ? f->meta_val[i] : NULL;
}
