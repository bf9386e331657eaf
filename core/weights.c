// Weight store (one device allocation per weight, looked up by a name hash) and the
// safetensors loader checks models share.
#include "core/weights.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct weight {
    seer_tensor t;
    char *name;
} weight;

struct seer_weights {
    seer_device dev;
    weight **items; // insertion order; pointers so tensors never move
    int n, cap;
    int *slot; // open-addressing table of item index + 1 (0 = empty), nslot a power of 2
    int nslot;
    size_t bytes;
};

static uint32_t name_hash(const char *s) { // FNV-1a
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int find_index(const seer_weights *w, const char *name) {
    if (!w->nslot || !name) return -1;
    for (uint32_t h = name_hash(name);; h++) {
        int s = w->slot[h & (uint32_t)(w->nslot - 1)];
        if (s == 0) return -1;
        if (strcmp(w->items[s - 1]->name, name) == 0) return s - 1;
    }
}

// Keep the table at most half full so probes stay short and always find an empty slot.
static bool grow_table(seer_weights *w) {
    if (2 * (w->n + 1) <= w->nslot) return true;
    int nslot = w->nslot ? 2 * w->nslot : 64;
    int *slot = calloc((size_t)nslot, sizeof *slot);
    if (!slot) return false;
    for (int i = 0; i < w->n; i++) {
        uint32_t h = name_hash(w->items[i]->name);
        while (slot[h & (uint32_t)(nslot - 1)])
            h++;
        slot[h & (uint32_t)(nslot - 1)] = i + 1;
    }
    free(w->slot);
    w->slot = slot;
    w->nslot = nslot;
    return true;
}

seer_weights *seer_weights_new(seer_device dev) {
    seer_weights *w = calloc(1, sizeof *w);
    if (!w) {
        seer_fail(SEER_STATUS_OOM, "weights: out of host memory");
        return NULL;
    }
    w->dev = dev;
    return w;
}

void seer_weights_free(seer_weights *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        seer_device_free(w->dev, w->items[i]->t.data);
        free(w->items[i]->name);
        free(w->items[i]);
    }
    free(w->items);
    free(w->slot);
    free(w);
}

// arr (capacity *cap, n used) with room for one more element of `elem` bytes: the capacity
// doubles (64 first) when full. NULL when that fails; arr is then left as it was.
static void *grow_array(void *arr, int *cap, int n, size_t elem) {
    if (n < *cap) return arr;
    int c = *cap ? 2 * *cap : 64;
    void *p = realloc(arr, (size_t)c * elem);
    if (p) *cap = c;
    return p;
}

// Uploads `bytes` of host data (already in dt) as a new weight.
static seer_tensor *add_bytes(seer_weights *w, const char *name, seer_dtype dt, int ndim,
                              const int64_t *shape, const void *host, size_t bytes) {
    weight **items = grow_table(w) ? grow_array(w->items, &w->cap, w->n, sizeof *items) : NULL;
    if (!items) goto oom;
    w->items = items;
    weight *it = calloc(1, sizeof *it);
    char *nm = strdup(name);
    if (!it || !nm) {
        free(it);
        free(nm);
        goto oom;
    }
    void *dev_mem = seer_device_malloc(w->dev, bytes);
    if (!dev_mem || seer_memcpy(w->dev, dev_mem, SEER_DEVICE_CPU, host, bytes) != SEER_STATUS_OK) {
        seer_device_free(w->dev, dev_mem);
        free(it);
        free(nm);
        seer_fail_context(SEER_STATUS_DEVICE, "weights: uploading '%s'", name);
        return NULL;
    }
    it->name = nm;
    it->t = seer_tensor_wrap(dev_mem, dt, w->dev, ndim, shape);
    it->t.name = nm;
    w->items[w->n] = it;
    uint32_t h = name_hash(nm);
    while (w->slot[h & (uint32_t)(w->nslot - 1)])
        h++;
    w->slot[h & (uint32_t)(w->nslot - 1)] = ++w->n;
    w->bytes += bytes;
    return &it->t;
oom:
    seer_fail(SEER_STATUS_OOM, "weights: out of host memory adding '%s'", name);
    return NULL;
}

// Checks name, dtype and shape; returns numel or -1 (with message).
static int64_t check_new(const seer_weights *w, const char *name, seer_dtype dt, int ndim,
                         const int64_t *shape) {
    if (!name || !*name) {
        seer_fail(SEER_STATUS_ARG, "weights: empty weight name");
        return -1;
    }
    if (find_index(w, name) >= 0) {
        seer_fail(SEER_STATUS_ARG, "weights: '%s' added twice", name);
        return -1;
    }
    if (!seer_dtype_is_tensor(dt) || ndim < 0 || ndim > SEER_MAX_DIMS) {
        seer_fail(SEER_STATUS_ARG, "weights: '%s': bad dtype %d or ndim %d", name, (int)dt, ndim);
        return -1;
    }
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(numel, shape[i], &numel) ||
            numel > (int64_t)(SIZE_MAX / 8)) {
            seer_fail(SEER_STATUS_ARG, "weights: '%s': bad shape[%d] = %lld", name, i,
                      (long long)shape[i]);
            return -1;
        }
    return numel;
}

seer_tensor *seer_weights_add_raw(seer_weights *w, const char *name, seer_dtype dt, int ndim,
                                  const int64_t *shape, const void *host_data) {
    int64_t numel = check_new(w, name, dt, ndim, shape);
    if (numel < 0) return NULL;
    if (numel && !host_data) {
        seer_fail(SEER_STATUS_ARG, "weights: '%s': NULL data", name);
        return NULL;
    }
    return add_bytes(w, name, dt, ndim, shape, host_data, (size_t)numel * seer_dtype_size(dt));
}

seer_tensor *seer_weights_add(seer_weights *w, const char *name, seer_dtype dt, int ndim,
                              const int64_t *shape, const float *host_f32) {
    if (!seer_dtype_is_float(dt)) {
        seer_fail(SEER_STATUS_ARG, "weights: '%s': cannot store float data as %s", name,
                  seer_dtype_name(dt));
        return NULL;
    }
    if (dt == SEER_F32) return seer_weights_add_raw(w, name, dt, ndim, shape, host_f32);
    int64_t numel = check_new(w, name, dt, ndim, shape);
    if (numel < 0) return NULL;
    if (numel && !host_f32) {
        seer_fail(SEER_STATUS_ARG, "weights: '%s': NULL data", name);
        return NULL;
    }
    // Convert on the host so the device sees the final bytes in one copy.
    uint16_t *half = malloc((size_t)(numel ? numel : 1) * sizeof *half);
    if (!half) {
        seer_fail(SEER_STATUS_OOM, "weights: out of host memory converting '%s'", name);
        return NULL;
    }
    for (int64_t i = 0; i < numel; i++)
        half[i] = dt == SEER_F16 ? seer_f32_to_f16(host_f32[i]) : seer_f32_to_bf16(host_f32[i]);
    seer_tensor *t = add_bytes(w, name, dt, ndim, shape, half, (size_t)numel * 2);
    free(half);
    return t;
}

seer_tensor *seer_weights_get(const seer_weights *w, const char *name) {
    int i = find_index(w, name);
    if (i < 0) {
        seer_fail(SEER_STATUS_NOT_FOUND, "weights: no weight '%s'", name ? name : "(null)");
        return NULL;
    }
    return &w->items[i]->t;
}

int seer_weights_count(const seer_weights *w) {
    return w->n;
}
seer_tensor *seer_weights_at(const seer_weights *w, int i) {
    return i >= 0 && i < w->n ? &w->items[i]->t : NULL;
}
size_t seer_weights_bytes(const seer_weights *w) {
    return w->bytes;
}
seer_device seer_weights_device(const seer_weights *w) {
    return w->dev;
}

// ---- loader helpers ------------------------------------------------------------------------

static const char *dims_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t off = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
    return buf;
}

// "<name>.qscale" into buf (false if it does not fit).
static bool qscale_name(char *buf, size_t n, const char *name) {
    return (size_t)snprintf(buf, n, "%s.qscale", name) < n;
}

// An I8 tensor of `shape` (checked by the caller) times its per-row scales, into out[numel].
static seer_status read_dequantized(const seer_st_file *f, const char *name, const int64_t *shape,
                                    size_t numel, float *out) {
    char sname[512];
    if (!qscale_name(sname, sizeof sname, name) || seer_st_find(f, sname) < 0)
        return seer_fail(SEER_STATUS_FORMAT,
                         "tensor '%s' is I8 but %s has no '%s.qscale' (quantized weights need "
                         "their scales)",
                         name, seer_st_path(f), name);
    float *scale = NULL;
    SEER_TRY(seer_st_read_f32_expect(f, sname, 1, shape, &scale));
    size_t rows = (size_t)shape[0], per_row = rows ? numel / rows : 0;
    const int8_t *q = seer_st_raw(f, name, NULL);
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < per_row; i++)
            out[r * per_row + i] = (float)q[r * per_row + i] * scale[r];
    free(scale);
    return SEER_STATUS_OK;
}

seer_status seer_st_read_f32_expect(const seer_st_file *f, const char *name, int ndim,
                                    const int64_t *shape, float **out_malloced) {
    *out_malloced = NULL;
    const char *path = seer_st_path(f);
    if (seer_st_find(f, name) < 0)
        return seer_fail(SEER_STATUS_NOT_FOUND, "missing tensor '%s' in %s", name, path);
    seer_dtype dt;
    int fnd;
    int64_t fshape[SEER_MAX_DIMS];
    SEER_TRY(seer_st_info(f, name, &dt, &fnd, fshape));
    bool same = fnd == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = fshape[i] == shape[i];
    if (!same) {
        char a[160], b[160];
        return seer_fail(SEER_STATUS_SHAPE, "tensor '%s': expected %s, found %s in %s", name,
                         dims_str(a, sizeof a, ndim, shape), dims_str(b, sizeof b, fnd, fshape),
                         path);
    }
    bool quantized = dt == SEER_I8 && ndim >= 1;
    if (!seer_dtype_is_float(dt) && !quantized)
        return seer_fail(SEER_STATUS_SHAPE, "tensor '%s': expected a float tensor, found %s in %s",
                         name, seer_st_dtype_name(dt), path);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= (size_t)shape[i];
    float *buf = malloc((numel ? numel : 1) * sizeof *buf);
    if (!buf)
        return seer_fail(SEER_STATUS_OOM, "tensor '%s': out of host memory for %zu floats (%s)",
                         name, numel, path);
    seer_status st = quantized ? read_dequantized(f, name, shape, numel, buf)
                               : seer_st_read(f, name, SEER_F32, buf, numel * sizeof *buf);
    if (st != SEER_STATUS_OK) {
        free(buf);
        return st;
    }
    *out_malloced = buf;
    return SEER_STATUS_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

seer_status seer_st_check_unexpected(const seer_st_file *f, const char *const *known, int n_known,
                                     const char *ignore_prefix) {
    // Sorted copy of the known names: O((n + m) log m) even for large models.
    const char **sorted = malloc((size_t)(n_known > 0 ? n_known : 1) * sizeof *sorted);
    if (!sorted) return seer_fail(SEER_STATUS_OOM, "%s: out of host memory", seer_st_path(f));
    int m = 0;
    for (int i = 0; i < n_known; i++)
        if (known[i]) sorted[m++] = known[i];
    qsort(sorted, (size_t)m, sizeof *sorted, cmp_str);
    size_t plen = ignore_prefix ? strlen(ignore_prefix) : 0;
    int n_bad = 0;
    const char *first = NULL;
    for (int i = 0; i < seer_st_count(f); i++) {
        const char *name = seer_st_name(f, i);
        if (plen && strncmp(name, ignore_prefix, plen) == 0) continue;
        if (m && bsearch(&name, sorted, (size_t)m, sizeof *sorted, cmp_str)) continue;
        if (!first) first = name;
        n_bad++;
    }
    free(sorted);
    if (!first) return SEER_STATUS_OK;
    return seer_fail(SEER_STATUS_FORMAT,
                     "unexpected tensor '%s' in %s (the model does not use "
                     "it; %d unexpected in all)",
                     first, seer_st_path(f), n_bad);
}

static bool note_used(seer_st_reader *r, const char *name) {
    char **used = grow_array(r->used, &r->cap_used, r->n_used, sizeof *used);
    if (!used) return false;
    r->used = used;
    if (!(r->used[r->n_used] = strdup(name))) return false;
    r->n_used++;
    return true;
}

seer_status seer_st_reader_read_f32(seer_st_reader *r, const char *name, int ndim,
                                    const int64_t *shape, float **out_malloced) {
    SEER_TRY(seer_st_read_f32_expect(r->file, name, ndim, shape, out_malloced));
    seer_dtype dt = SEER_F32;
    seer_st_info(r->file, name, &dt, NULL, NULL);
    char sname[512];
    bool ok = note_used(r, name) &&
              (dt != SEER_I8 || (qscale_name(sname, sizeof sname, name) && note_used(r, sname)));
    if (ok) return SEER_STATUS_OK;
    free(*out_malloced);
    *out_malloced = NULL;
    return seer_fail(SEER_STATUS_OOM, "out of host memory loading %s", name);
}

seer_status seer_st_reader_finish(seer_st_reader *r, seer_status st, const char *ignore_prefix) {
    if (st == SEER_STATUS_OK)
        st = seer_st_check_unexpected(r->file, (const char *const *)r->used, r->n_used,
                                      ignore_prefix);
    for (int i = 0; i < r->n_used; i++)
        free(r->used[i]);
    free(r->used);
    *r = (seer_st_reader){.file = r->file};
    return st;
}

seer_status seer_st_load_file(const char *path, const char *what, const char *ignore_prefix,
                              seer_status (*read)(seer_st_reader *r, void *model), void *model) {
    seer_st_file *f = NULL;
    SEER_TRY(seer_st_open(path, &f));
    seer_st_reader r = {.file = f};
    seer_status st = seer_st_reader_finish(&r, read(&r, model), ignore_prefix);
    seer_st_close(f);
    return st == SEER_STATUS_OK ? st : seer_fail_context(st, "loading %s %s", what, path);
}

seer_status seer_st_metadata_int(const seer_st_file *f, const char *key, int lo, int hi, int *v) {
    const char *s = seer_st_metadata(f, key);
    if (!s) return SEER_STATUS_OK;
    char *end;
    long x = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || x < lo || x > hi)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: metadata %s = '%s' is not a whole number from %d to %d",
                         seer_st_path(f), key, s, lo, hi);
    *v = (int)x;
    return SEER_STATUS_OK;
}

seer_status seer_st_metadata_float(const seer_st_file *f, const char *key, double lo, double hi,
                                   float *v) {
    const char *s = seer_st_metadata(f, key);
    if (!s) return SEER_STATUS_OK;
    char *end;
    double x = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(x >= lo && x <= hi))
        return seer_fail(SEER_STATUS_FORMAT, "%s: metadata %s = '%s' is not a number from %g to %g",
                         seer_st_path(f), key, s, lo, hi);
    *v = (float)x;
    return SEER_STATUS_OK;
}

seer_status seer_check_compute_dtype(seer_device dev, seer_dtype dt, const char *what) {
    if (dt != SEER_F32 && dt != SEER_F16 && dt != SEER_BF16)
        return seer_fail(SEER_STATUS_ARG, "%s compute dtype must be f32, f16 or bf16", what);
    if (dt != SEER_F32 && dev == SEER_DEVICE_CPU)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "%s precision runs on CUDA only; the CPU computes in f32",
                         seer_dtype_name(dt));
    return SEER_STATUS_OK;
}
