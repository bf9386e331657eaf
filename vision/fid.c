// FID statistics, the Frechet distance, stats files and feature extraction (see fid.h).
#include "vision/fid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"
#include "vision/npz.h"

#ifdef SEER_BLAS
#include <cblas.h>
#include <lapacke.h>
#endif

void seer_fid_stats_free(seer_fid_stats *s) {
    if (!s) return;
    free(s->mu);
    free(s->sigma);
    s->mu = s->sigma = NULL;
    s->dim = 0;
}

static seer_status stats_alloc(int dim, seer_fid_stats *s) {
    s->dim = dim;
    s->count = -1;
    s->mu = calloc((size_t)dim, sizeof(double));
    s->sigma = calloc((size_t)dim * (size_t)dim, sizeof(double));
    if (s->mu && s->sigma) return SEER_STATUS_OK;
    seer_fid_stats_free(s);
    return seer_fail(SEER_STATUS_OOM, "out of host memory for %d-d feature statistics", dim);
}

// ---- streaming statistics ------------------------------------------------------------------

#define ACCUM_CHUNK 1024  // rows centred at a time: bounds the scratch to 1024 x dim doubles

struct seer_fid_accum {
    int dim;
    int64_t n;
    double *mean;  // [dim]
    double *m2;    // [dim, dim]: sum of centred outer products; upper triangle kept
    double *bmean, *delta;  // [dim] scratch
    double *y;     // [ACCUM_CHUNK, dim] scratch: one chunk centred on its own mean
};

seer_status seer_fid_accum_new(int dim, seer_fid_accum **out) {
    *out = NULL;
    if (dim < 1 || dim > 65536) return seer_fail(SEER_STATUS_ARG, "feature dim must be 1..65536 (got %d)", dim);
    seer_fid_accum *a = calloc(1, sizeof *a);
    size_t d = (size_t)dim;
    if (a) {
        a->dim = dim;
        a->mean = calloc(d, sizeof(double));
        a->m2 = calloc(d * d, sizeof(double));
        a->bmean = calloc(d, sizeof(double));
        a->delta = calloc(d, sizeof(double));
        a->y = malloc(ACCUM_CHUNK * d * sizeof(double));
    }
    if (!a || !a->mean || !a->m2 || !a->bmean || !a->delta || !a->y) {
        seer_fid_accum_free(a);
        return seer_fail(SEER_STATUS_OOM, "out of host memory for %d-d feature statistics", dim);
    }
    *out = a;
    return SEER_STATUS_OK;
}

void seer_fid_accum_free(seer_fid_accum *a) {
    if (!a) return;
    free(a->mean);
    free(a->m2);
    free(a->bmean);
    free(a->delta);
    free(a->y);
    free(a);
}

int64_t seer_fid_accum_count(const seer_fid_accum *a) { return a->n; }
int seer_fid_accum_dim(const seer_fid_accum *a) { return a->dim; }

// Merge nb rows x: [nb, dim] (Chan, Golub & LeVeque): with the chunk's mean m_b and centred
// scatter M_b, M += M_b + delta delta^T * n_a n_b / (n_a + n_b), delta = m_b - mean.
static void accum_chunk(seer_fid_accum *a, const float *x, int64_t nb) {
    const int d = a->dim;
    for (int j = 0; j < d; j++) a->bmean[j] = 0;
    for (int64_t i = 0; i < nb; i++)
        for (int j = 0; j < d; j++) a->bmean[j] += x[i * d + j];
    for (int j = 0; j < d; j++) a->bmean[j] /= (double)nb;
    for (int64_t i = 0; i < nb; i++)
        for (int j = 0; j < d; j++) a->y[i * d + j] = (double)x[i * d + j] - a->bmean[j];
    double n_a = (double)a->n, n_b = (double)nb, w = n_a * n_b / (n_a + n_b);
    for (int j = 0; j < d; j++) a->delta[j] = a->bmean[j] - a->mean[j];
#ifdef SEER_BLAS
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)nb, 1.0, a->y, d, 1.0, a->m2, d);
    if (a->n > 0) cblas_dsyr(CblasRowMajor, CblasUpper, d, w, a->delta, 1, a->m2, d);
#else
#pragma omp parallel for schedule(dynamic, 16)
    for (int r = 0; r < d; r++) {
        for (int64_t i = 0; i < nb; i++) {
            double yr = a->y[i * d + r];
            for (int col = r; col < d; col++) a->m2[(size_t)r * d + col] += yr * a->y[i * d + col];
        }
        for (int col = r; col < d && a->n > 0; col++) a->m2[(size_t)r * d + col] += w * a->delta[r] * a->delta[col];
    }
#endif
    for (int j = 0; j < d; j++) a->mean[j] += a->delta[j] * (n_b / (n_a + n_b));
    a->n += nb;
}

seer_status seer_fid_accum_add(seer_fid_accum *a, const float *x, int64_t n) {
    if (n < 0 || (n > 0 && !x)) return seer_fail(SEER_STATUS_ARG, "bad feature batch (n = %lld)", (long long)n);
    for (int64_t i = 0; i < n * a->dim; i++)
        if (!isfinite(x[i]))
            return seer_fail(SEER_STATUS_ARG, "feature vector %lld holds a non-finite value (%g)",
                             (long long)(i / a->dim), (double)x[i]);
    for (int64_t s = 0; s < n; s += ACCUM_CHUNK)
        accum_chunk(a, x + s * a->dim, n - s < ACCUM_CHUNK ? n - s : ACCUM_CHUNK);
    return SEER_STATUS_OK;
}

seer_status seer_fid_accum_stats(const seer_fid_accum *a, seer_fid_stats *out) {
    memset(out, 0, sizeof *out);
    if (a->n < 2)
        return seer_fail(SEER_STATUS_ARG, "feature statistics need at least 2 images (have %lld)", (long long)a->n);
    SEER_TRY(stats_alloc(a->dim, out));
    const int d = a->dim;
    out->count = a->n;
    memcpy(out->mu, a->mean, sizeof(double) * (size_t)d);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++)
            out->sigma[(size_t)i * d + j] = out->sigma[(size_t)j * d + i] = a->m2[(size_t)i * d + j] / (double)(a->n - 1);
    return SEER_STATUS_OK;
}

// ---- the distance --------------------------------------------------------------------------

static seer_status check_stats(const seer_fid_stats *s, const char *which) {
    if (!s->mu || !s->sigma || s->dim < 1) return seer_fail(SEER_STATUS_ARG, "%s statistics are empty", which);
    size_t d = (size_t)s->dim;
    for (size_t i = 0; i < d; i++)
        if (!isfinite(s->mu[i])) return seer_fail(SEER_STATUS_ARG, "%s statistics: mu[%zu] is not finite", which, i);
    for (size_t i = 0; i < d * d; i++)
        if (!isfinite(s->sigma[i]))
            return seer_fail(SEER_STATUS_ARG, "%s statistics: sigma[%zu, %zu] is not finite", which, i / d, i % d);
    return SEER_STATUS_OK;
}

seer_status seer_fid_distance(const seer_fid_stats *a, const seer_fid_stats *b, double *out) {
    SEER_TRY(check_stats(a, "first"));
    SEER_TRY(check_stats(b, "second"));
    if (a->dim != b->dim)
        return seer_fail(SEER_STATUS_SHAPE, "feature statistics of different dims: %d and %d (made with "
                         "different feature extractors?)", a->dim, b->dim);
#ifndef SEER_BLAS
    (void)out;
    return seer_fail(SEER_STATUS_UNSUPPORTED, "the Frechet distance needs LAPACK: build with SEER_BLAS=ON");
#else
    const int d = a->dim;
    const size_t dd = (size_t)d * (size_t)d;
    double diff = 0, tr_a = 0, tr_b = 0;
    for (int i = 0; i < d; i++) {
        diff += (a->mu[i] - b->mu[i]) * (a->mu[i] - b->mu[i]);
        tr_a += a->sigma[(size_t)i * d + i];
        tr_b += b->sigma[(size_t)i * d + i];
    }
    double *e = malloc(dd * sizeof(double)), *t = malloc(dd * sizeof(double));
    double *m = malloc(dd * sizeof(double)), *lam = malloc((size_t)d * sizeof(double));
    seer_status st = SEER_STATUS_OK;
    if (!e || !t || !m || !lam) st = seer_fail(SEER_STATUS_OOM, "out of host memory for a %d-d Frechet distance", d);
    // S1 = E^T L E with E's rows the eigenvectors. Column-major dsyevd on the symmetric S1
    // leaves eigenvector k in memory row k, i.e. E in row-major terms.
    if (st == SEER_STATUS_OK) {
        memcpy(e, a->sigma, dd * sizeof(double));
        lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', d, e, d, lam);
        if (info != 0) st = seer_fail(SEER_STATUS_FORMAT, "eigendecomposition of sigma failed (LAPACK info %d)", (int)info);
    }
    // sqrt(S1) S2 sqrt(S1) = E^T (D E S2 E^T D) E with D = sqrt(max(L, 0)): the same
    // eigenvalues as M = D (E S2 E^T) D, which is symmetric by construction.
    if (st == SEER_STATUS_OK) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, e, d, b->sigma, d, 0.0, t, d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, t, d, e, d, 0.0, m, d);
        for (int i = 0; i < d; i++) lam[i] = sqrt(lam[i] > 0 ? lam[i] : 0);
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) {
                double v = 0.5 * (m[(size_t)i * d + j] + m[(size_t)j * d + i]) * lam[i] * lam[j];
                m[(size_t)i * d + j] = m[(size_t)j * d + i] = v;
            }
        lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', d, m, d, lam);
        if (info != 0) st = seer_fail(SEER_STATUS_FORMAT, "eigenvalues of sqrt(S1) S2 sqrt(S1) failed (LAPACK info %d)", (int)info);
    }
    if (st == SEER_STATUS_OK) {
        double tr_sqrt = 0;
        for (int i = 0; i < d; i++) tr_sqrt += sqrt(lam[i] > 0 ? lam[i] : 0);
        *out = diff + tr_a + tr_b - 2.0 * tr_sqrt;
    }
    free(e);
    free(t);
    free(m);
    free(lam);
    return st;
#endif
}

// ---- statistics files ----------------------------------------------------------------------

static seer_status missing_array(seer_npz *z, const char *name) {
    char have[512] = "";
    size_t len = 0;
    for (int i = 0; i < seer_npz_count(z) && len + 2 < sizeof have; i++)
        len += (size_t)snprintf(have + len, sizeof have - len, "%s%s", i ? ", " : "", seer_npz_name(z, i));
    return seer_fail(SEER_STATUS_FORMAT,
                     "%s has no '%s' array (it holds: %s); FID statistics files hold 'mu' and 'sigma' "
                     "as pytorch-fid --save-stats writes them",
                     seer_npz_path(z), name, seer_npz_count(z) ? have : "nothing");
}

seer_status seer_fid_stats_load(const char *path, seer_fid_stats *out) {
    memset(out, 0, sizeof *out);
    seer_npz *z = NULL;
    SEER_TRY(seer_npz_open(path, &z));
    int nd_mu = 0, nd_s = 0;
    int64_t sh_mu[SEER_MAX_DIMS] = {0}, sh_s[SEER_MAX_DIMS] = {0};
    double *mu = NULL, *sigma = NULL;
    seer_status st = SEER_STATUS_OK;
    if (seer_npz_find(z, "mu") < 0) st = missing_array(z, "mu");
    else if (seer_npz_find(z, "sigma") < 0) st = missing_array(z, "sigma");
    if (st == SEER_STATUS_OK) st = seer_npz_read_f64(z, "mu", &nd_mu, sh_mu, &mu);
    if (st == SEER_STATUS_OK) st = seer_npz_read_f64(z, "sigma", &nd_s, sh_s, &sigma);
    if (st == SEER_STATUS_OK &&
        (nd_mu != 1 || nd_s != 2 || sh_s[0] != sh_mu[0] || sh_s[1] != sh_mu[0] || sh_mu[0] < 1 || sh_mu[0] > 65536))
        st = seer_fail(SEER_STATUS_FORMAT, "%s: mu must be [d] and sigma [d, d]; found mu with %d dims (%lld) "
                       "and sigma with %d dims (%lld x %lld)", path, nd_mu, (long long)sh_mu[0], nd_s,
                       (long long)sh_s[0], (long long)sh_s[1]);
    seer_npz_close(z);
    if (st != SEER_STATUS_OK) {
        free(mu);
        free(sigma);
        return st;
    }
    *out = (seer_fid_stats){.dim = (int)sh_mu[0], .count = -1, .mu = mu, .sigma = sigma};
    st = check_stats(out, path);
    if (st != SEER_STATUS_OK) seer_fid_stats_free(out);
    return st;
}

seer_status seer_fid_stats_save(const char *path, const seer_fid_stats *s) {
    SEER_TRY(check_stats(s, "saved"));
    int64_t d = s->dim;
    seer_npz_entry e[2] = {
        {.name = "mu", .type = SEER_NPY_F64, .ndim = 1, .shape = (int64_t[]){d}, .data = s->mu},
        {.name = "sigma", .type = SEER_NPY_F64, .ndim = 2, .shape = (int64_t[]){d, d}, .data = s->sigma},
    };
    return seer_npz_save(path, e, 2, false);
}

// ---- features of image files ---------------------------------------------------------------

typedef struct slot {
    float *px;  // [h, w, 3]
    int w, h;
    seer_status status;
    char error[512];
} slot;

static void prepare(const char *path, const seer_preprocess *pre, slot *s) {
    seer_image img = {0};
    s->status = seer_image_load(path, NULL, &img);
    if (s->status == SEER_STATUS_OK) {
        s->w = pre ? pre->size : img.w;
        s->h = pre ? pre->size : img.h;
        s->px = malloc(sizeof(float) * 3 * (size_t)s->w * (size_t)s->h);
        if (!s->px) {
            s->status = seer_fail(SEER_STATUS_OOM, "out of host memory for %s", path);
        } else if (pre) {
            s->status = seer_preprocess_run(pre, img.px, img.w, img.h, s->px);
        } else {
            // As torchvision's ToTensor: u8 / 255 in float32.
            for (size_t i = 0; i < 3 * (size_t)img.w * (size_t)img.h; i++) s->px[i] = (float)img.px[i] / 255.0f;
        }
        seer_image_free(&img);
    }
    if (s->status != SEER_STATUS_OK) snprintf(s->error, sizeof s->error, "%s", seer_last_error());
}

// Features of k images of one size packed in x: [k, h, w, 3], added to *acc.
static seer_status run_group(seer_model *m, seer_ctx *c, const float *x, int k, int h, int w,
                             float **feats, int *cap, seer_fid_accum **acc) {
    seer_ctx_reset(c);
    seer_tensor *in = seer_from_host(c, x, m->dtype, 4, (int64_t[]){k, h, w, 3});
    seer_tensor *f = seer_model_features(m, c, in);
    if (seer_ctx_status(c) != SEER_STATUS_OK)
        return seer_fail(seer_ctx_status(c), "%s features: %s", m->arch->name, seer_ctx_error(c));
    if (f->ndim != 2 || f->shape[0] != k)
        return seer_fail(SEER_STATUS_SHAPE, "%s features are not [batch, dim]", m->arch->name);
    int dim = (int)f->shape[1];
    if (!*acc) SEER_TRY(seer_fid_accum_new(dim, acc));
    if (seer_fid_accum_dim(*acc) != dim)
        return seer_fail(SEER_STATUS_SHAPE, "%s gives %d-d features; the statistics so far are %d-d",
                         m->arch->name, dim, seer_fid_accum_dim(*acc));
    if (*cap < k * dim) {
        float *p = realloc(*feats, sizeof(float) * (size_t)k * (size_t)dim);
        if (!p) return seer_fail(SEER_STATUS_OOM, "out of host memory for features");
        *feats = p;
        *cap = k * dim;
    }
    SEER_TRY(seer_to_host(c, f, *feats));
    return seer_fid_accum_add(*acc, *feats, k);
}

seer_status seer_fid_extract(seer_model *m, seer_ctx *c, const seer_dataset_item *items, int n,
                             const seer_fid_extract_opts *o, seer_fid_accum **acc) {
    if (o->batch < 1) return seer_fail(SEER_STATUS_ARG, "batch size must be at least 1 (got %d)", o->batch);
    if (o->pre) SEER_TRY(seer_preprocess_check(o->pre));
    slot *slots = calloc((size_t)o->batch, sizeof *slots);
    float *x = NULL, *feats = NULL;
    size_t x_cap = 0;
    int f_cap = 0;
    seer_status st = slots ? SEER_STATUS_OK : seer_fail(SEER_STATUS_OOM, "out of host memory for a batch of %d", o->batch);
    for (int start = 0; start < n && st == SEER_STATUS_OK; start += o->batch) {
        if (o->cancel && *o->cancel) {
            st = seer_fail(SEER_STATUS_CANCELLED, "cancelled after %d of %d images", start, n);
            break;
        }
        int nb = n - start < o->batch ? n - start : o->batch;
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < nb; i++) prepare(items[start + i].path, o->pre, &slots[i]);
        for (int i = 0; i < nb; i++)
            if (slots[i].status != SEER_STATUS_OK && o->bad_file)
                o->bad_file(items[start + i].path, slots[i].error, o->bad_file_user);
        // Runs of consecutive good images of one size make one forward pass each.
        for (int i = 0; i < nb && st == SEER_STATUS_OK;) {
            if (slots[i].status != SEER_STATUS_OK) {
                i++;
                continue;
            }
            int w = slots[i].w, h = slots[i].h, k = 0;
            size_t per = 3 * (size_t)w * (size_t)h;
            int j = i;
            for (; j < nb && (slots[j].status != SEER_STATUS_OK || (slots[j].w == w && slots[j].h == h)); j++) {
                if (slots[j].status != SEER_STATUS_OK) continue;
                if (x_cap < per * (size_t)(k + 1)) {
                    size_t cap = per * (size_t)nb;
                    float *p = realloc(x, sizeof(float) * cap);
                    if (!p) {
                        st = seer_fail(SEER_STATUS_OOM, "out of host memory for a batch of %d", nb);
                        break;
                    }
                    x = p;
                    x_cap = cap;
                }
                memcpy(x + per * (size_t)k++, slots[j].px, sizeof(float) * per);
            }
            if (st == SEER_STATUS_OK) st = run_group(m, c, x, k, h, w, &feats, &f_cap, acc);
            i = j;
        }
        for (int i = 0; i < nb; i++) {
            free(slots[i].px);
            slots[i] = (slot){0};
        }
        if (o->progress) o->progress(start + nb, n, o->progress_user);
    }
    free(slots);
    free(x);
    free(feats);
    return st;
}
