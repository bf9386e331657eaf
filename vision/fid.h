// Frechet distance between feature distributions (FID, Heusel et al. 2017): feature statistics
// accumulated batch by batch, the distance itself, statistics files compatible with
// pytorch-fid (.npz with `mu` and `sigma`), and feature extraction over image files.
//
// Statistics are float64, as numpy computes them: mu = mean of the features, sigma = their
// unbiased covariance (numpy.cov(x, rowvar=False), divisor n - 1).
#ifndef SEER_FID_H
#define SEER_FID_H

#include <stdint.h>

#include "backbones/model.h"
#include "vision/classify.h"
#include "vision/dataset.h"
#include "vision/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_fid_stats {
    int dim;
    int64_t count;  // feature vectors behind the statistics; -1 when read from a file
    double *mu;     // [dim]
    double *sigma;  // [dim, dim], row-major, symmetric
} seer_fid_stats;

void seer_fid_stats_free(seer_fid_stats *s);  // frees mu, sigma; the struct may be reused

// ---- streaming statistics ------------------------------------------------------------------
// Batches are merged with Chan et al.'s pairwise update (batch mean and centred scatter, then
// a rank-1 correction), which stays accurate when the mean is large against the spread.
typedef struct seer_fid_accum seer_fid_accum;

seer_status seer_fid_accum_new(int dim, seer_fid_accum **out);
void seer_fid_accum_free(seer_fid_accum *a);  // NULL is fine
// Add n feature vectors x: [n, dim] (row-major). Non-finite values are refused (ARG).
seer_status seer_fid_accum_add(seer_fid_accum *a, const float *x, int64_t n);
int64_t seer_fid_accum_count(const seer_fid_accum *a);
int seer_fid_accum_dim(const seer_fid_accum *a);
// The statistics so far (new buffers in *out). Needs at least 2 vectors (ARG otherwise).
seer_status seer_fid_accum_stats(const seer_fid_accum *a, seer_fid_stats *out);

// ---- the distance --------------------------------------------------------------------------
// d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2)), where tr(sqrtm(S1 S2)) is the
// sum of sqrt(max(lambda, 0)) over the eigenvalues of the symmetric PSD A = sqrt(S1) S2
// sqrt(S1) (similar to S1 S2), sqrt(S1) from a symmetric eigendecomposition. Unlike a general
// matrix square root this has no complex round-off and handles singular covariances (fewer
// samples than dims). SHAPE if the dims differ; ARG on non-finite input.
seer_status seer_fid_distance(const seer_fid_stats *a, const seer_fid_stats *b, double *out);

// ---- statistics files ----------------------------------------------------------------------
// Read `mu` and `sigma` (float64/32/16) from an .npz (pytorch-fid stats, ADM reference
// batches: other arrays are not loaded). FORMAT/NOT_FOUND with a clear message if absent or
// inconsistent.
seer_status seer_fid_stats_load(const char *path, seer_fid_stats *out);
// Write mu and sigma as float64 with np.savez's layout (pytorch-fid reads it). Atomic.
seer_status seer_fid_stats_save(const char *path, const seer_fid_stats *s);

// ---- features of image files ---------------------------------------------------------------
// Called for each file that cannot be decoded; the run goes on without it.
typedef void (*seer_fid_bad_file_fn)(const char *path, const char *error, void *user);

typedef struct seer_fid_extract_opts {
    int batch;                  // images per forward pass (>= 1)
    // Preprocessing of each image. NULL: the raw pixels / 255 at the image's own size (a
    // batch holds runs of equal-sized images), for models that resize inside their forward
    // pass as pytorch-fid's Inception does.
    const seer_preprocess *pre;
    seer_fid_bad_file_fn bad_file;  // may be NULL
    void *bad_file_user;
    seer_progress_fn progress;      // may be NULL
    void *progress_user;
    volatile int *cancel;           // may be NULL
} seer_fid_extract_opts;

// Run seer_model_features over items[0..n) and add every good image's features to `acc`
// (created here, sized by the model's feature dim, when *acc is NULL). Single bad files go
// to o->bad_file; the returned status is for the run (device failure, options, cancel).
seer_status seer_fid_extract(seer_model *m, seer_ctx *c, const seer_dataset_item *items, int n,
                             const seer_fid_extract_opts *o, seer_fid_accum **acc);

#ifdef __cplusplus
}
#endif

#endif
