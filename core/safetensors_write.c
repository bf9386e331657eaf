// Atomic .safetensors writer. See safetensors.h; the reader is in safetensors.c.
#include "core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static seer_status oom(const char *label) {
    return seer_fail(SEER_STATUS_OOM, "%s: out of host memory", label);
}

typedef struct st_wentry {
    char *name;
    seer_dtype dt;
    int ndim;
    int64_t shape[SEER_MAX_DIMS];
    void *data;
    size_t bytes;
    size_t begin; // data offset, assigned by build_header
} st_wentry;

struct seer_st_writer {
    st_wentry *ent;
    int n, cap;
    char **meta_key, **meta_val;
    int n_meta, cap_meta;
};

seer_st_writer *seer_st_writer_new(void) {
    seer_st_writer *w = calloc(1, sizeof *w);
    if (!w) oom("safetensors writer");
    return w;
}

void seer_st_writer_free(seer_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->ent[i].name);
        free(w->ent[i].data);
    }
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta_key[i]);
        free(w->meta_val[i]);
    }
    free(w->ent);
    free(w->meta_key);
    free(w->meta_val);
    free(w);
}

static bool valid_utf8(const char *s) { // jansson refuses to emit anything else
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

seer_status seer_st_writer_add(seer_st_writer *w, const char *name, seer_dtype dt, int ndim,
                               const int64_t *shape, const void *data) {
    if (!name || !*name || strcmp(name, "__metadata__") == 0 || !valid_utf8(name))
        return seer_fail(SEER_STATUS_ARG,
                         "safetensors writer: bad tensor name '%s' (must be "
                         "non-empty UTF-8 and not __metadata__)",
                         name ? name : "(null)");
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->ent[i].name, name) == 0)
            return seer_fail(SEER_STATUS_ARG, "safetensors writer: tensor '%s' added twice", name);
    if (!strcmp(seer_st_dtype_name(dt), "?") || ndim < 0 || ndim > SEER_MAX_DIMS)
        return seer_fail(SEER_STATUS_ARG,
                         "safetensors writer: tensor '%s': bad dtype %d or ndim %d", name, (int)dt,
                         ndim);
    uint64_t bytes = seer_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(bytes, (uint64_t)shape[i], &bytes))
            return seer_fail(SEER_STATUS_ARG,
                             "safetensors writer: tensor '%s': bad shape[%d] = %lld", name, i,
                             (long long)shape[i]);
    }
    if (bytes && !data)
        return seer_fail(SEER_STATUS_ARG, "safetensors writer: tensor '%s': NULL data", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        st_wentry *p = realloc(w->ent, (size_t)cap * sizeof *p);
        if (!p) return oom("safetensors writer");
        w->ent = p;
        w->cap = cap;
    }
    st_wentry *e = &w->ent[w->n];
    *e = (st_wentry){.dt = dt, .ndim = ndim, .bytes = (size_t)bytes};
    for (int i = 0; i < ndim; i++)
        e->shape[i] = shape[i];
    e->name = strdup(name);
    e->data = malloc(bytes ? bytes : 1);
    if (!e->name || !e->data) {
        free(e->name);
        free(e->data);
        return oom("safetensors writer");
    }
    if (bytes) memcpy(e->data, data, bytes);
    w->n++;
    return SEER_STATUS_OK;
}

seer_status seer_st_writer_set_metadata(seer_st_writer *w, const char *key, const char *value) {
    if (!key || !value || !valid_utf8(key) || !valid_utf8(value))
        return seer_fail(SEER_STATUS_ARG,
                         "safetensors writer: metadata key and value must be "
                         "UTF-8 strings (key '%s')",
                         key ? key : "(null)");
    char *v = strdup(value);
    if (!v) return oom("safetensors writer");
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta_key[i], key) == 0) {
            free(w->meta_val[i]);
            w->meta_val[i] = v;
            return SEER_STATUS_OK;
        }
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? 2 * w->cap_meta : 8;
        char **k = realloc(w->meta_key, (size_t)cap * sizeof *k);
        if (k) w->meta_key = k;
        char **vv = k ? realloc(w->meta_val, (size_t)cap * sizeof *vv) : NULL;
        if (vv) w->meta_val = vv;
        if (!k || !vv) {
            free(v);
            return oom("safetensors writer");
        }
        w->cap_meta = cap;
    }
    if (!(w->meta_key[w->n_meta] = strdup(key))) {
        free(v);
        return oom("safetensors writer");
    }
    w->meta_val[w->n_meta++] = v;
    return SEER_STATUS_OK;
}

// Data order: element size descending, then insertion order (keeps every tensor aligned).
static int cmp_layout(const void *pa, const void *pb) {
    const st_wentry *a = *(st_wentry *const *)pa, *b = *(st_wentry *const *)pb;
    size_t sa = seer_dtype_size(a->dt), sb = seer_dtype_size(b->dt);
    if (sa != sb) return sa > sb ? -1 : 1;
    return a < b ? -1 : a > b;
}

// Assigns data offsets and returns the 8-byte length prefix + padded JSON in one malloc'ed
// buffer (*hlen bytes), plus the entries in data order (*order, malloc'ed).
static seer_status build_header(const seer_st_writer *w, char **out, size_t *hlen,
                                st_wentry ***order) {
    *out = NULL;
    st_wentry **ord = malloc(((size_t)w->n + 1) * sizeof *ord);
    json_t *root = json_object(), *meta = w->n_meta ? json_object() : NULL;
    bool ok = ord && root && (meta || !w->n_meta);
    for (int i = 0; ok && i < w->n; i++)
        ord[i] = &w->ent[i];
    if (ok) qsort(ord, (size_t)w->n, sizeof *ord, cmp_layout);
    size_t off = 0;
    for (int i = 0; ok && i < w->n; i++) {
        ord[i]->begin = off;
        off += ord[i]->bytes;
    }
    for (int i = 0; ok && i < w->n_meta; i++)
        ok = json_object_set_new(meta, w->meta_key[i], json_string(w->meta_val[i])) == 0;
    if (ok && meta) ok = json_object_set(root, "__metadata__", meta) == 0;
    for (int i = 0; ok && i < w->n; i++) {
        const st_wentry *e = &w->ent[i];
        json_t *shape = json_array();
        for (int d = 0; shape && d < e->ndim; d++)
            json_array_append_new(shape, json_integer(e->shape[d]));
        json_t *t =
            json_pack("{s:s, s:o, s:[I, I]}", "dtype", seer_st_dtype_name(e->dt), "shape", shape,
                      "data_offsets", (json_int_t)e->begin, (json_int_t)(e->begin + e->bytes));
        ok = t && json_object_set_new(root, e->name, t) == 0;
    }
    char *js = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(meta);
    json_decref(root);
    size_t jl = js ? strlen(js) : 0, padded = (jl + 7) / 8 * 8;
    char *buf = js ? malloc(8 + padded) : NULL;
    if (!buf) {
        free(js);
        free(ord);
        return oom("safetensors writer");
    }
    uint64_t n64 = padded;
    memcpy(buf, &n64, 8);
    memcpy(buf + 8, js, jl);
    memset(buf + 8 + jl, ' ', padded - jl); // the official writer pads with spaces
    free(js);
    *out = buf;
    *hlen = 8 + padded;
    *order = ord;
    return SEER_STATUS_OK;
}

seer_status seer_st_writer_to_memory(const seer_st_writer *w, void **out, size_t *n) {
    char *hdr;
    size_t hl, total;
    st_wentry **ord;
    SEER_TRY(build_header(w, &hdr, &hl, &ord));
    total = hl;
    for (int i = 0; i < w->n; i++)
        total += w->ent[i].bytes;
    char *buf = realloc(hdr, total);
    if (!buf) {
        free(hdr);
        free(ord);
        return oom("safetensors writer");
    }
    for (int i = 0; i < w->n; i++)
        if (ord[i]->bytes) memcpy(buf + hl + ord[i]->begin, ord[i]->data, ord[i]->bytes);
    free(ord);
    *out = buf;
    *n = total;
    return SEER_STATUS_OK;
}

static bool write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

seer_status seer_st_writer_save(const seer_st_writer *w, const char *path) {
    char *hdr;
    size_t hl;
    st_wentry **ord;
    SEER_TRY(build_header(w, &hdr, &hl, &ord));
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        free(hdr);
        free(ord);
        return oom(path);
    }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    seer_status st = SEER_STATUS_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = seer_fail(SEER_STATUS_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    bool ok = write_all(fd, hdr, hl);
    for (int i = 0; ok && i < w->n; i++)
        ok = write_all(fd, ord[i]->data, ord[i]->bytes);
    ok = ok && fsync(fd) == 0;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        st = seer_fail(SEER_STATUS_IO, "%s: writing failed: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    // Make the rename itself durable; failure here leaves a complete file, so it is ignored.
    char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
out:
    free(tmp);
    free(hdr);
    free(ord);
    return st;
}
