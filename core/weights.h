// The weight store a model loader fills: named tensors uploaded once to one device, plus the
// safetensors helpers loaders use to check a checkpoint against what the model expects.
//
// Memory: each weight is one device allocation for now (simple, and a failed add leaves the
// store as it was). Tensor pointers stay valid until seer_weights_free. Lookup by name is a
// hash, so models may look weights up by name during a forward pass.
#ifndef SEER_WEIGHTS_H
#define SEER_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/safetensors.h"
#include "core/tensor.h"

typedef struct seer_weights seer_weights;

// NULL (with message) on OOM. The device is not touched until the first add.
seer_weights *seer_weights_new(seer_device dev);
void seer_weights_free(seer_weights *w); // frees every tensor; NULL is fine

// Convert contiguous host F32 data (numel(shape) floats) to dt (F32, F16 or BF16) and upload
// it as weight `name` (copied). Returns the stored tensor (its ->name is the stored copy), or
// NULL with a message: a duplicate name or bad dtype/shape (ARG), or an allocation/copy
// failure (OOM, DEVICE). host_f32 may be NULL only if the shape has zero elements.
seer_tensor *seer_weights_add(seer_weights *w, const char *name, seer_dtype dt, int ndim,
                              const int64_t *shape, const float *host_f32);
// Same, for data already in dtype dt (any dtype, e.g. I64 index tables): bytes are copied.
seer_tensor *seer_weights_add_raw(seer_weights *w, const char *name, seer_dtype dt, int ndim,
                                  const int64_t *shape, const void *host_data);

// NULL if absent (and a NOT_FOUND message naming the weight).
seer_tensor *seer_weights_get(const seer_weights *w, const char *name);
int seer_weights_count(const seer_weights *w);
seer_tensor *seer_weights_at(const seer_weights *w, int i); // insertion order; NULL if out
size_t seer_weights_bytes(const seer_weights *w);           // sum of tensor bytes on the device
seer_device seer_weights_device(const seer_weights *w);

// ---- loader helpers over a safetensors file ------------------------------------------------

// Read float tensor `name` (F32, F16 or BF16 in the file) as F32 into a new malloc'ed buffer
// (*out_malloced; free() it), after checking it exists and has exactly `shape`.
// Quantized storage (tools/quantize.py): `name` may instead be I8 with a float tensor
// "<name>.qscale" of shape [shape[0]] (ndim >= 1); the value of element [r, ...] is
// q * qscale[r] (symmetric, one scale per row of the first dim), computed in F32.
// Errors name the tensor and file:
//   NOT_FOUND "missing tensor 'x' in FILE"
//   SHAPE     "tensor 'x': expected [1152, 384], found [1152, 192] in FILE"
//   SHAPE     "tensor 'x': expected a float tensor, found I64 in FILE"
//   FORMAT    "tensor 'x' is I8 but FILE has no 'x.qscale' (quantized weights need their scales)"
//   SHAPE     "tensor 'x.qscale': expected [1152], found [384] in FILE"
seer_status seer_st_read_f32_expect(const seer_st_file *f, const char *name, int ndim,
                                    const int64_t *shape, float **out_malloced);

// The compute dtypes a model may load with: F32 anywhere, F16/BF16 on CUDA only. `what`
// names the model in the message ("model", "ENAT", "tokenizer").
seer_status seer_check_compute_dtype(seer_device dev, seer_dtype dt, const char *what);

// Optional numeric metadata: absent leaves *v as it is (the preset's value); present must be a
// whole number in [lo, hi] (or a number in [lo, hi]), else FORMAT naming the file, key and text.
seer_status seer_st_metadata_int(const seer_st_file *f, const char *key, int lo, int hi, int *v);
seer_status seer_st_metadata_float(const seer_st_file *f, const char *key, double lo, double hi,
                                   float *v);

// Report the first tensor (in file order) that is not in known[0..n_known) and does not start
// with ignore_prefix (NULL = ignore nothing): FORMAT "unexpected tensor 'x' in FILE (...)".
// OK if every tensor in the file is known or ignored.
seer_status seer_st_check_unexpected(const seer_st_file *f, const char *const *known, int n_known,
                                     const char *ignore_prefix);

// ---- reading a weights file into a model ---------------------------------------------------

// A model loader reads its tensors through a reader, which notes the names it used, so that a
// file holding tensors the model does not use (another architecture's, a mismatched
// checkpoint) is refused with the first of them by name instead of loading half-used.
typedef struct seer_st_reader {
    const seer_st_file *file;
    char **used; // names read so far (owned)
    int n_used, cap_used;
} seer_st_reader;

// seer_st_read_f32_expect, with `name` (and "<name>.qscale" when it is I8) noted as used (OOM
// if noting it fails).
seer_status seer_st_reader_read_f32(seer_st_reader *r, const char *name, int ndim,
                                    const int64_t *shape, float **out_malloced);
// End a load whose reads ended with `st`: when OK, refuse the tensors it did not use (see
// seer_st_check_unexpected for ignore_prefix). Frees the noted names either way.
seer_status seer_st_reader_finish(seer_st_reader *r, seer_status st, const char *ignore_prefix);

// The steps around a model's own reading: open `path`, run `read` on it (config from the
// metadata, then the tensors), refuse tensors it did not use, close. A failure after the open
// is put in context as "loading <what> <path>: ..."; a failed open is reported as it is.
seer_status seer_st_load_file(const char *path, const char *what, const char *ignore_prefix,
                              seer_status (*read)(seer_st_reader *r, void *model), void *model);

#endif
