// seer tensors, devices, arenas and the execution context.
//
// A seer_tensor is a small descriptor (dtype, device, shape, strides, data pointer). It never
// owns its memory: data lives in an arena (activations, reset per run) or in a weight buffer
// (uploaded once at load). Descriptors made by ops live in the context's host arena, so a
// reset frees everything a forward pass made.
#ifndef SEER_TENSOR_H
#define SEER_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

// 7: seer_region_attention's map form [B, heads, region rows, region columns, pixel rows,
// pixel columns, channels] (views of one [B, H, W, C] projection).
#define SEER_MAX_DIMS 7

typedef enum seer_dtype {
    SEER_F32 = 0,
    SEER_F16,
    SEER_BF16,
    SEER_I32,
    SEER_I64,
    SEER_U8,
    SEER_I8, // in weight files only (quantized, see core/weights.h): no tensor has it
    SEER_DTYPE_COUNT
} seer_dtype;

typedef enum seer_device {
    SEER_DEVICE_CPU = 0,
    SEER_DEVICE_CUDA,
    SEER_DEVICE_COUNT
} seer_device;

typedef struct seer_tensor {
    seer_dtype dtype;
    seer_device device;
    int ndim;
    int64_t shape[SEER_MAX_DIMS];
    int64_t stride[SEER_MAX_DIMS];  // in elements; contiguous = row-major
    void *data;                     // address of element [0, ..., 0]
    const char *name;               // weight name, or NULL
} seer_tensor;

size_t seer_dtype_size(seer_dtype dt);
const char *seer_dtype_name(seer_dtype dt);
bool seer_dtype_is_float(seer_dtype dt);
// A dtype a tensor (context or weight store) may have: any but SEER_I8, which only files hold.
bool seer_dtype_is_tensor(seer_dtype dt);
const char *seer_device_name(seer_device dev);

int64_t seer_tensor_numel(const seer_tensor *t);
size_t seer_tensor_nbytes(const seer_tensor *t);  // numel * dtype size
bool seer_tensor_is_contiguous(const seer_tensor *t);
bool seer_tensor_same_shape(const seer_tensor *a, const seer_tensor *b);
// "[2, 3, 224, 224] f32" into buf; returns buf.
const char *seer_tensor_shape_str(const seer_tensor *t, char *buf, size_t n);

// A contiguous descriptor over existing memory (no allocation).
seer_tensor seer_tensor_wrap(void *data, seer_dtype dt, seer_device dev, int ndim,
                             const int64_t *shape);

// Views: new descriptors over the same memory.
// reshape needs a contiguous tensor; one dim may be -1.
seer_status seer_view_reshape(const seer_tensor *x, int ndim, const int64_t *shape,
                              seer_tensor *out);
seer_status seer_view_narrow(const seer_tensor *x, int dim, int64_t start, int64_t len,
                             seer_tensor *out);
seer_status seer_view_permute(const seer_tensor *x, const int *perm, seer_tensor *out);

// F16/BF16 <-> F32 on the host (round to nearest even).
float seer_f16_to_f32(uint16_t h);
uint16_t seer_f32_to_f16(float f);
float seer_bf16_to_f32(uint16_t h);
uint16_t seer_f32_to_bf16(float f);

// ---- device memory -------------------------------------------------------------------------
bool seer_device_available(seer_device dev);  // CUDA: built with it and a GPU is present
void *seer_device_malloc(seer_device dev, size_t bytes);  // NULL + message on failure
void seer_device_free(seer_device dev, void *p);
// Copy bytes between any two devices (host memory is SEER_DEVICE_CPU).
seer_status seer_memcpy(seer_device dst_dev, void *dst, seer_device src_dev, const void *src,
                        size_t bytes);
seer_status seer_device_sync(seer_device dev);
// How CUDA picks each convolution shape's cuDNN algorithm. Timed (the default; off with
// SEER_CUDNN_FIND=0 in the environment): large convolutions run every candidate once on first
// use and keep the fastest, which another process may time differently and so differ in the
// last bits. Not timed: cuDNN's heuristics, the same choice on every run. Generation turns
// timing off so that a seed gives the same pixels every run; the environment variable, when
// set, wins over this call. Call before the first convolution.
void seer_set_timed_conv_algorithms(bool on);
bool seer_timed_conv_algorithms(void);

// ---- arena ---------------------------------------------------------------------------------
// Bump allocator on one device. Reserve once; allocation past the reserve adds a chunk; reset
// frees everything and, if more than one chunk was needed, replaces them with one chunk of
// the high-water size, so a fixed-shape run allocates nothing after the first.
typedef struct seer_arena seer_arena;
seer_arena *seer_arena_new(seer_device dev, size_t reserve_bytes);
void seer_arena_free(seer_arena *a);
void *seer_arena_alloc(seer_arena *a, size_t bytes);  // 256-byte aligned; NULL on OOM
void seer_arena_reset(seer_arena *a);
size_t seer_arena_used(const seer_arena *a);
size_t seer_arena_high_water(const seer_arena *a);
size_t seer_arena_capacity(const seer_arena *a);
seer_device seer_arena_device(const seer_arena *a);
// A point in the arena's allocations; release frees everything allocated after it (the memory
// is reused by later allocations; pointers into it become invalid).
typedef struct seer_arena_mark {
    int chunk;
    size_t chunk_used, used;
} seer_arena_mark;
seer_arena_mark seer_arena_get_mark(const seer_arena *a);
void seer_arena_release(seer_arena *a, seer_arena_mark m);

// ---- execution context ---------------------------------------------------------------------
// One per device and thread of work. Holds the activation arena and a sticky status: the
// first op that fails records its message and returns NULL; every later op given a NULL
// input (or called after the failure) returns NULL at once. Check seer_ctx_status() once at
// the end of a forward pass.
typedef struct seer_ctx seer_ctx;
seer_ctx *seer_ctx_new(seer_device dev);  // NULL (with message) if the device is unavailable
void seer_ctx_free(seer_ctx *c);
seer_device seer_ctx_device(const seer_ctx *c);
seer_status seer_ctx_status(const seer_ctx *c);
const char *seer_ctx_error(const seer_ctx *c);  // message of the sticky failure
// Record a failure (keeps the first one). Returns st.
seer_status seer_ctx_fail(seer_ctx *c, seer_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Free all activations made since the last reset and clear the sticky status.
void seer_ctx_reset(seer_ctx *c);
seer_arena *seer_ctx_arena(seer_ctx *c);
// New uninitialized contiguous tensor in the context's arena (NULL + sticky error on OOM).
seer_tensor *seer_ctx_tensor(seer_ctx *c, seer_dtype dt, int ndim, const int64_t *shape);
// A descriptor copy in the context's host arena (for returning views from ops).
seer_tensor *seer_ctx_view(seer_ctx *c, const seer_tensor *view);
// Releasing a forward pass's intermediates as it goes (a block at a time), so the activation
// memory is that of one block, not of the whole network:
//   seer_arena_mark m = seer_ctx_mark(c);
//   x = block(c, x);            // everything it allocates lands after the mark
//   x = seer_ctx_keep(c, m, x); // x alone survives, moved down to the mark
// Tensors allocated after the mark other than the kept one must not be used afterwards (their
// memory is reused); tensors from before the mark are untouched. NULL in, NULL out.
seer_arena_mark seer_ctx_mark(seer_ctx *c);
seer_tensor *seer_ctx_keep(seer_ctx *c, seer_arena_mark m, const seer_tensor *t);

#ifdef __cplusplus
}
#endif

#endif
