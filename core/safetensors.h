// .safetensors reading and writing.
//
// Format: u64 little-endian header length N, N bytes of JSON, then the data region. The JSON
// object maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data region) plus an optional "__metadata__" object of string -> string.
//
// Reading validates the whole file at open, before any tensor can be asked for: header length
// bounded (<= 100 MB and within the file), strict JSON (duplicate keys are an error), a
// supported dtype (F32, F16, BF16, I32, I64, U8, I8), <= 6 non-negative dims, bytes == numel *
// dtype size, and tensors that tile the data region exactly (sorted by offset: no overlap, no
// hole, nothing after the last one), as the official format requires. Any violation is
// SEER_STATUS_FORMAT with a message naming the file, the tensor and what was expected vs found;
// open/read failures are SEER_STATUS_IO. Offsets need not be aligned: reads copy bytes.
//
// An open file is immutable, so any number of threads may read from it at once.
#ifndef SEER_SAFETENSORS_H
#define SEER_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

#define SEER_ST_MAX_HEADER 100000000ull // same bound as the official reader

// ---- reading -------------------------------------------------------------------------------
typedef struct seer_st_file seer_st_file;

// Map `path` read-only and validate it. On failure *out is NULL.
// The file must not be truncated by someone else while it is open (mmap would fault).
seer_status seer_st_open(const char *path, seer_st_file **out);
// Validate bytes already in memory. `buf` is copied, so the caller may free it at once.
// `label` names the buffer in messages (and is what seer_st_path returns); NULL = "<memory>".
seer_status seer_st_open_memory(const void *buf, size_t n, const char *label, seer_st_file **out);
void seer_st_close(seer_st_file *f); // NULL is fine

const char *seer_st_path(const seer_st_file *f);
int seer_st_count(const seer_st_file *f);
// Tensor names in file order (ascending data offset); NULL if i is out of range.
const char *seer_st_name(const seer_st_file *f, int i);
int seer_st_find(const seer_st_file *f, const char *name); // index as for seer_st_name, or -1

// Dtype and shape of a tensor; any output may be NULL; shape needs SEER_MAX_DIMS slots.
// SEER_STATUS_NOT_FOUND (with message) if the file has no such tensor.
seer_status seer_st_info(const seer_st_file *f, const char *name, seer_dtype *dt, int *ndim,
                         int64_t *shape);

// Copy a tensor into dst, converted to `want`. F32/F16/BF16 convert among themselves; U8, I8,
// I32 and I64 among themselves (a value that does not fit is SEER_STATUS_SHAPE); float <->
// integer is refused (SEER_STATUS_SHAPE). dst_bytes must equal numel * size of `want`
// (SEER_STATUS_ARG otherwise), which catches a caller's buffer of the wrong shape.
seer_status seer_st_read(const seer_st_file *f, const char *name, seer_dtype want, void *dst,
                         size_t dst_bytes);

// The stored bytes of a tensor, without conversion (little endian, possibly unaligned: copy,
// never cast). Valid until seer_st_close. NULL + NOT_FOUND message if absent.
const void *seer_st_raw(const seer_st_file *f, const char *name, size_t *nbytes);

// __metadata__ in file order. seer_st_metadata returns NULL if the key is absent.
const char *seer_st_metadata(const seer_st_file *f, const char *key);
int seer_st_metadata_count(const seer_st_file *f);
const char *seer_st_metadata_key(const seer_st_file *f, int i);   // NULL if out of range
const char *seer_st_metadata_value(const seer_st_file *f, int i); // NULL if out of range

// "F32", "BF16", ... as spelled in safetensors headers.
const char *seer_st_dtype_name(seer_dtype dt);

// ---- writing -------------------------------------------------------------------------------
// Collects tensors (data copied in) and metadata, then writes a file any safetensors reader
// (Python safetensors, torch) accepts. Data is laid out by element size, largest first (as the
// official writer does) so every tensor is aligned to its element size; the header keeps
// insertion order with __metadata__ first and is padded with spaces to a multiple of 8 bytes.
typedef struct seer_st_writer seer_st_writer;

seer_st_writer *seer_st_writer_new(void);    // NULL (with message) on OOM
void seer_st_writer_free(seer_st_writer *w); // NULL is fine
// `data` holds numel * dtype size bytes (row-major, little endian); NULL only if numel is 0.
// Names must be unique, non-empty, valid UTF-8 and not "__metadata__" (SEER_STATUS_ARG).
seer_status seer_st_writer_add(seer_st_writer *w, const char *name, seer_dtype dt, int ndim,
                               const int64_t *shape, const void *data);
// Set a metadata entry (a second call with the same key replaces the value).
seer_status seer_st_writer_set_metadata(seer_st_writer *w, const char *key, const char *value);
// Write atomically: to "<path>.tmp.<pid>", fsync, rename over path, so a crash leaves either
// the old file or the complete new one. One writer per path at a time within a process.
seer_status seer_st_writer_save(const seer_st_writer *w, const char *path);
// The same bytes in one malloc'ed buffer (free with free()).
seer_status seer_st_writer_to_memory(const seer_st_writer *w, void **out, size_t *n);

#endif
