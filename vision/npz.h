// NumPy .npz archives: what np.savez / np.savez_compressed write (a zip of .npy files, stored
// or deflated), as used for FID statistics (pytorch-fid: arrays `mu` and `sigma`) and ADM
// reference batches (`arr_0` images plus `mu`, `sigma`, ...).
//
// Reading opens the zip's central directory only (ZIP64 records included, which numpy writes
// for every entry); an array's bytes are read, inflated and CRC-checked when it is asked for,
// so large entries a caller does not need (ADM's `arr_0`) are never loaded. Array names are
// the entry names without ".npy", as numpy's NpzFile reports them. Truncated or corrupt files
// are SEER_STATUS_FORMAT with a message naming the file, the entry and what was wrong.
//
// Writing produces a standard zip (no ZIP64: entries and the archive must stay below 4 GiB)
// of version-1.0 .npy files, written atomically (temporary file, fsync, rename).
#ifndef SEER_NPZ_H
#define SEER_NPZ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_npz seer_npz;

// Open `path` and read its directory. On failure *out is NULL.
seer_status seer_npz_open(const char *path, seer_npz **out);
void seer_npz_close(seer_npz *z);  // NULL is fine

const char *seer_npz_path(const seer_npz *z);
int seer_npz_count(const seer_npz *z);
const char *seer_npz_name(const seer_npz *z, int i);  // in archive order; NULL if out of range
int seer_npz_find(const seer_npz *z, const char *name);  // index, or -1

// Read array `name` as float64 in C (row-major) order: dtype f8, f4 or f2 of either byte
// order, C or Fortran order. ndim/shape (SEER_MAX_DIMS slots) receive its shape; *out is a
// malloc'ed buffer of numel doubles (free() it; numel may be 0). NOT_FOUND if absent, SHAPE
// if the array is not floating point or has more than SEER_MAX_DIMS dims, FORMAT if corrupt.
seer_status seer_npz_read_f64(seer_npz *z, const char *name, int *ndim, int64_t *shape,
                              double **out);

typedef enum seer_npy_type { SEER_NPY_F64 = 0, SEER_NPY_F32 } seer_npy_type;

typedef struct seer_npz_entry {
    const char *name;      // array name; ".npy" is appended in the archive
    seer_npy_type type;
    int ndim;              // 0..SEER_MAX_DIMS
    const int64_t *shape;
    const void *data;      // numel values of `type`, C order, host byte order (little endian)
} seer_npz_entry;

// Write entries[0..n) to `path` (deflated when `compress`, as np.savez_compressed; stored
// otherwise, as np.savez). Names must be unique and non-empty.
seer_status seer_npz_save(const char *path, const seer_npz_entry *entries, int n, bool compress);

#ifdef __cplusplus
}
#endif

#endif
