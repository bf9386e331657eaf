// Device memory, arenas and the execution context.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"

const seer_backend *seer_backend_get(seer_device dev) {
    if (dev == SEER_DEVICE_CPU) return &seer_cpu_backend;
#ifdef SEER_CUDA
    if (dev == SEER_DEVICE_CUDA) return &seer_cuda_backend;
#endif
    return NULL;
}

bool seer_device_available(seer_device dev) {
    const seer_backend *be = seer_backend_get(dev);
    return be && be->available();
}

static const seer_backend *backend_or_fail(seer_device dev) {
    const seer_backend *be = seer_backend_get(dev);
    if (!be) {
        seer_fail(SEER_STATUS_UNSUPPORTED, "device %s: this build of seer has no such backend",
                  seer_device_name(dev));
        return NULL;
    }
    if (!be->available()) {
        seer_fail(SEER_STATUS_DEVICE, "device %s: no usable device found", seer_device_name(dev));
        return NULL;
    }
    return be;
}

void *seer_device_malloc(seer_device dev, size_t bytes) {
    const seer_backend *be = backend_or_fail(dev);
    if (!be) return NULL;
    void *p = be->malloc(bytes ? bytes : 1);
    if (!p && seer_last_error()[0] == '\0')
        seer_fail(SEER_STATUS_OOM, "out of %s memory allocating %zu bytes", seer_device_name(dev),
                  bytes);
    return p;
}

void seer_device_free(seer_device dev, void *p) {
    const seer_backend *be = seer_backend_get(dev);
    if (be && p) be->free(p);
}

seer_status seer_memcpy(seer_device dst_dev, void *dst, seer_device src_dev, const void *src,
                        size_t bytes) {
    if (bytes == 0) return SEER_STATUS_OK;
    if (dst_dev == SEER_DEVICE_CPU && src_dev == SEER_DEVICE_CPU) {
        memmove(dst, src, bytes);
        return SEER_STATUS_OK;
    }
    if (dst_dev == src_dev) {
        const seer_backend *be = backend_or_fail(dst_dev);
        return be ? be->copy_d2d(dst, src, bytes) : SEER_STATUS_DEVICE;
    }
    if (src_dev == SEER_DEVICE_CPU) {
        const seer_backend *be = backend_or_fail(dst_dev);
        return be ? be->upload(dst, src, bytes) : SEER_STATUS_DEVICE;
    }
    if (dst_dev == SEER_DEVICE_CPU) {
        const seer_backend *be = backend_or_fail(src_dev);
        return be ? be->download(dst, src, bytes) : SEER_STATUS_DEVICE;
    }
    return seer_fail(SEER_STATUS_UNSUPPORTED, "copy between two accelerators");
}

static int timed_convs = -1; // -1: not decided yet

void seer_set_timed_conv_algorithms(bool on) {
    const char *e = getenv("SEER_CUDNN_FIND");
    if (!e || !*e) timed_convs = on;
}

bool seer_timed_conv_algorithms(void) {
    if (timed_convs < 0) {
        const char *e = getenv("SEER_CUDNN_FIND");
        timed_convs = !e || !*e || strcmp(e, "0") != 0;
    }
    return timed_convs;
}

seer_status seer_device_sync(seer_device dev) {
    const seer_backend *be = backend_or_fail(dev);
    return be ? be->sync() : SEER_STATUS_DEVICE;
}

// ---- arena ---------------------------------------------------------------------------------

#define ARENA_ALIGN 256
#define ARENA_MAX_CHUNKS 64

struct seer_arena {
    seer_device dev;
    struct {
        char *base;
        size_t size, used;
    } chunk[ARENA_MAX_CHUNKS];
    int nchunks;
    int cur;  // the chunk allocations go to; the chunks after it are empty
    size_t used, high_water;
};

static bool arena_add_chunk(seer_arena *a, size_t size) {
    if (a->nchunks == ARENA_MAX_CHUNKS) {
        seer_fail(SEER_STATUS_OOM, "arena: more than %d chunks", ARENA_MAX_CHUNKS);
        return false;
    }
    char *p = seer_device_malloc(a->dev, size);
    if (!p) return false;
    a->chunk[a->nchunks].base = p;
    a->chunk[a->nchunks].size = size;
    a->chunk[a->nchunks].used = 0;
    a->nchunks++;
    return true;
}

seer_arena *seer_arena_new(seer_device dev, size_t reserve_bytes) {
    seer_arena *a = calloc(1, sizeof *a);
    if (!a) {
        seer_fail(SEER_STATUS_OOM, "arena: out of host memory");
        return NULL;
    }
    a->dev = dev;
    if (reserve_bytes && !arena_add_chunk(a, reserve_bytes)) {
        free(a);
        return NULL;
    }
    return a;
}

void seer_arena_free(seer_arena *a) {
    if (!a) return;
    for (int i = 0; i < a->nchunks; i++) seer_device_free(a->dev, a->chunk[i].base);
    free(a);
}

void *seer_arena_alloc(seer_arena *a, size_t bytes) {
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (need == 0) need = ARENA_ALIGN;
    // Chunk `cur` is open for allocation; earlier ones count as full, later ones are empty
    // (left by seer_arena_release) and are taken in turn before a new chunk is added.
    while (a->cur < a->nchunks && a->chunk[a->cur].size - a->chunk[a->cur].used < need)
        a->cur++;
    if (a->cur == a->nchunks) {
        size_t last = a->nchunks ? a->chunk[a->nchunks - 1].size : 0;
        size_t size = last * 2 > need ? last * 2 : need;
        if (size < ((size_t)1 << 20)) size = (size_t)1 << 20;
        if (!arena_add_chunk(a, size)) {
            a->cur = a->nchunks ? a->nchunks - 1 : 0;
            return NULL;
        }
    }
    void *p = a->chunk[a->cur].base + a->chunk[a->cur].used;
    a->chunk[a->cur].used += need;
    a->used += need;
    if (a->used > a->high_water) a->high_water = a->used;
    return p;
}

void seer_arena_reset(seer_arena *a) {
    if (a->nchunks > 1) {
        // Replace the chunks by one that holds everything the busiest run needed.
        for (int i = 0; i < a->nchunks; i++) seer_device_free(a->dev, a->chunk[i].base);
        a->nchunks = 0;
        arena_add_chunk(a, a->high_water);  // on failure the next alloc tries again
    }
    for (int i = 0; i < a->nchunks; i++) a->chunk[i].used = 0;
    a->used = 0;
    a->cur = 0;
}

seer_arena_mark seer_arena_get_mark(const seer_arena *a) {
    const int k = a->cur < a->nchunks ? a->cur : a->nchunks;
    return (seer_arena_mark){.chunk = k, .chunk_used = k < a->nchunks ? a->chunk[k].used : 0,
                             .used = a->used};
}

void seer_arena_release(seer_arena *a, seer_arena_mark m) {
    for (int i = m.chunk + 1; i < a->nchunks; i++) a->chunk[i].used = 0;
    if (m.chunk < a->nchunks) a->chunk[m.chunk].used = m.chunk_used;
    a->cur = m.chunk < a->nchunks ? m.chunk : (a->nchunks ? a->nchunks - 1 : 0);
    a->used = m.used;
}

size_t seer_arena_used(const seer_arena *a) { return a->used; }
size_t seer_arena_high_water(const seer_arena *a) { return a->high_water; }
seer_device seer_arena_device(const seer_arena *a) { return a->dev; }

size_t seer_arena_capacity(const seer_arena *a) {
    size_t cap = 0;
    for (int i = 0; i < a->nchunks; i++) cap += a->chunk[i].size;
    return cap;
}

// ---- context -------------------------------------------------------------------------------

struct seer_ctx {
    seer_device dev;
    seer_arena *data;  // tensor data on the device
    seer_arena *desc;  // descriptors, on the host
    seer_status status;
    char error[1024];
};

seer_ctx *seer_ctx_new(seer_device dev) {
    if (!backend_or_fail(dev)) return NULL;
    seer_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        seer_fail(SEER_STATUS_OOM, "context: out of host memory");
        return NULL;
    }
    c->dev = dev;
    c->data = seer_arena_new(dev, 0);
    c->desc = seer_arena_new(SEER_DEVICE_CPU, (size_t)1 << 20);
    if (!c->data || !c->desc) {
        seer_ctx_free(c);
        return NULL;
    }
    return c;
}

void seer_ctx_free(seer_ctx *c) {
    if (!c) return;
    seer_arena_free(c->data);
    seer_arena_free(c->desc);
    free(c);
}

seer_device seer_ctx_device(const seer_ctx *c) { return c->dev; }
seer_status seer_ctx_status(const seer_ctx *c) { return c->status; }
const char *seer_ctx_error(const seer_ctx *c) { return c->error; }
seer_arena *seer_ctx_arena(seer_ctx *c) { return c->data; }

seer_status seer_ctx_fail(seer_ctx *c, seer_status st, const char *fmt, ...) {
    if (c->status != SEER_STATUS_OK) return st;  // keep the first failure
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    c->status = st;
    seer_fail(st, "%s", c->error);
    return st;
}

void seer_ctx_reset(seer_ctx *c) {
    seer_arena_reset(c->data);
    seer_arena_reset(c->desc);
    c->status = SEER_STATUS_OK;
    c->error[0] = '\0';
}

seer_tensor *seer_ctx_view(seer_ctx *c, const seer_tensor *view) {
    seer_tensor *t = seer_arena_alloc(c->desc, sizeof *t);
    if (!t) {
        seer_ctx_fail(c, SEER_STATUS_OOM, "out of host memory for a tensor descriptor");
        return NULL;
    }
    *t = *view;
    return t;
}

seer_tensor *seer_ctx_tensor(seer_ctx *c, seer_dtype dt, int ndim, const int64_t *shape) {
    if (c->status != SEER_STATUS_OK) return NULL;
    if (ndim < 0 || ndim > SEER_MAX_DIMS) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "tensor with %d dims (at most %d)", ndim,
                      SEER_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            seer_ctx_fail(c, SEER_STATUS_SHAPE, "tensor with negative size %lld in dim %d",
                          (long long)shape[i], i);
            return NULL;
        }
    }
    if (!seer_dtype_is_tensor(dt)) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "tensor of dtype %s: %s", seer_dtype_name(dt),
                      dt == SEER_I8 ? "i8 is a weight-file storage dtype only (loaders dequantize it)"
                                    : "not a dtype");
        return NULL;
    }
    seer_tensor t = seer_tensor_wrap(NULL, dt, c->dev, ndim, shape);
    size_t bytes = seer_tensor_nbytes(&t);
    t.data = seer_arena_alloc(c->data, bytes);
    if (!t.data) {
        seer_ctx_fail(c, SEER_STATUS_OOM, "out of %s memory for a tensor of %zu bytes (%s)",
                      seer_device_name(c->dev), bytes, seer_last_error());
        return NULL;
    }
    return seer_ctx_view(c, &t);
}

// ---- releasing intermediates ---------------------------------------------------------------

seer_arena_mark seer_ctx_mark(seer_ctx *c) { return seer_arena_get_mark(c->data); }

// t is first copied to a fresh tensor on top of everything (so its source may be anything: a
// view, a tensor from before the mark); then the arena goes back to the mark and the copy moves
// down to it, or, where the two would overlap (little was allocated since the mark), stays
// where it is with what lies below it.
seer_tensor *seer_ctx_keep(seer_ctx *c, seer_arena_mark m, const seer_tensor *t) {
    if (!t || c->status != SEER_STATUS_OK) return NULL;
    const seer_backend *be = backend_or_fail(c->dev);
    seer_tensor *fresh = be ? seer_ctx_tensor(c, t->dtype, t->ndim, t->shape) : NULL;
    if (!fresh) return NULL;
    seer_status st = be->copy(fresh, t);
    if (st != SEER_STATUS_OK) {
        seer_ctx_fail(c, st, "keeping a tensor: %s", seer_last_error());
        return NULL;
    }
    seer_arena *a = c->data;
    const size_t bytes = seer_tensor_nbytes(fresh);
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (need == 0) need = ARENA_ALIGN;
    const int fc = a->cur; // fresh was the last allocation: it sits in the open chunk
    const size_t foff = (size_t)((char *)fresh->data - a->chunk[fc].base);
    seer_arena_release(a, m);
    if (m.chunk < a->nchunks && a->chunk[m.chunk].size - m.chunk_used >= need &&
        !(fc == m.chunk && foff < m.chunk_used + need)) {
        char *dst = a->chunk[m.chunk].base + m.chunk_used;
        st = seer_memcpy(c->dev, dst, c->dev, fresh->data, bytes);
        if (st != SEER_STATUS_OK) {
            seer_ctx_fail(c, st, "keeping a tensor: %s", seer_last_error());
            return NULL;
        }
        a->chunk[m.chunk].used += need;
        a->used += need;
        fresh->data = dst;
        return fresh;
    }
    // in place: fresh and what lies below it in its chunk stay allocated
    a->cur = fc;
    a->chunk[fc].used = foff + need;
    a->used += fc == m.chunk ? foff + need - m.chunk_used : foff + need;
    return fresh;
}
