// FID statistics and the Frechet distance against numpy/scipy (tools/golden/make_fid_fixture.py:
// pytorch-fid's sqrtm formula), stats files, and feature extraction over image files.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/golden_util.h"
#include "tests/test_util.h"
#include "vision/fid.h"

// sigma = a a^T / r for a: [d, r] (upper triangle computed, mirrored).
static void sigma_from_factor(const double *a, int d, int r, double *sigma) {
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double s = 0;
            for (int k = 0; k < r; k++) s += a[(size_t)i * r + k] * a[(size_t)j * r + k];
            sigma[(size_t)i * d + j] = sigma[(size_t)j * d + i] = s / r;
        }
}

static double *read_f64(const seer_st_file *f, const char *name, int *ndim, int64_t *shape) {
    float *x = golden_read(f, name, ndim, shape);
    size_t n = 1;
    for (int i = 0; i < *ndim; i++) n *= (size_t)shape[i];
    double *d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    free(x);
    return d;
}

// Side k (1 or 2) of a fixture case: mu and either sigma or a low-rank factor.
static void load_side(const seer_st_file *f, const char *cs, int k, seer_fid_stats *s) {
    char name[64];
    int nd;
    int64_t sh[6];
    snprintf(name, sizeof name, "%s.mu%d", cs, k);
    s->mu = read_f64(f, name, &nd, sh);
    s->dim = (int)sh[0];
    s->count = -1;
    snprintf(name, sizeof name, "%s.a%d", cs, k);
    if (seer_st_find(f, name) >= 0) {
        double *a = read_f64(f, name, &nd, sh);
        s->sigma = malloc(sizeof(double) * (size_t)s->dim * (size_t)s->dim);
        sigma_from_factor(a, s->dim, (int)sh[1], s->sigma);
        free(a);
    } else {
        snprintf(name, sizeof name, "%s.sigma%d", cs, k);
        s->sigma = read_f64(f, name, &nd, sh);
    }
}

static double meta_double(const seer_st_file *f, const char *key) {
    const char *v = seer_st_metadata(f, key);
    cr_assert_not_null(v, "fixture lacks %s", key);
    return strtod(v, NULL);
}

Test(fid, distance_matches_scipy_sqrtm_d16_d64) {
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("fid/stats.safetensors"), &f), SEER_STATUS_OK, "%s", seer_last_error());
    const char *cases[] = {"d16_full", "d16_lowrank", "d64_full", "d64_lowrank", "d64_mixed"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        seer_fid_stats a = {0}, b = {0};
        load_side(f, cases[i], 1, &a);
        load_side(f, cases[i], 2, &b);
        char key[64];
        snprintf(key, sizeof key, "fid.%s", cases[i]);
        double want = meta_double(f, key), got = NAN;
        cr_assert_eq(seer_fid_distance(&a, &b, &got), SEER_STATUS_OK, "%s", seer_last_error());
        double rel = fabs(got - want) / fabs(want);
        cr_log_info("fid %s: %.12g vs scipy %.12g (rel %.1e)", cases[i], got, want, rel);
        cr_assert_leq(rel, 1e-6, "%s: %.12g vs scipy %.12g", cases[i], got, want);
        // Distance to itself: zero up to round-off of the traces.
        cr_assert_eq(seer_fid_distance(&a, &a, &got), SEER_STATUS_OK);
        cr_assert_leq(fabs(got), 1e-9 * want, "%s: d(a, a) = %g", cases[i], got);
        seer_fid_stats_free(&a);
        seer_fid_stats_free(&b);
    }
    seer_st_close(f);
}

// 2048-d statistics regenerated from the fixture's seeds (same splitmix64 stream as numpy's
// side): mu = u - 0.5, A: [2048, r] of u - 0.5, sigma = A A^T / r + diag I.
static void gen_side(seer_rng *rng, int d, int r, double diag, seer_fid_stats *s) {
    double *a = malloc(sizeof(double) * (size_t)d * (size_t)r);
    s->dim = d;
    s->count = -1;
    s->mu = malloc(sizeof(double) * (size_t)d);
    s->sigma = malloc(sizeof(double) * (size_t)d * (size_t)d);
    for (int i = 0; i < d; i++) s->mu[i] = (double)seer_rng_uniform(rng) - 0.5;
    for (size_t i = 0; i < (size_t)d * (size_t)r; i++) a[i] = (double)seer_rng_uniform(rng) - 0.5;
    sigma_from_factor(a, d, r, s->sigma);
    for (int i = 0; i < d; i++) s->sigma[(size_t)i * d + i] += diag;
    free(a);
}

Test(fid, distance_matches_scipy_sqrtm_d2048, .timeout = 300) {
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("fid/stats.safetensors"), &f), SEER_STATUS_OK, "%s", seer_last_error());
    const char *cases[] = {"d2048_lowrank", "d2048_full"};
    for (int i = 0; i < 2; i++) {
        char key[64];
        snprintf(key, sizeof key, "gen.%s", cases[i]);
        const char *g = seer_st_metadata(f, key);
        cr_assert_not_null(g);
        unsigned long long seed;
        int r1, r2;
        double diag;
        cr_assert_eq(sscanf(g, "%llu,%d,%d,%lf", &seed, &r1, &r2, &diag), 4, "%s", g);
        seer_rng rng = seer_rng_new(seed);
        seer_fid_stats a = {0}, b = {0};
        gen_side(&rng, 2048, r1, diag, &a);
        gen_side(&rng, 2048, r2, diag, &b);
        snprintf(key, sizeof key, "fid.%s", cases[i]);
        double want = meta_double(f, key), got = NAN;
        cr_assert_eq(seer_fid_distance(&a, &b, &got), SEER_STATUS_OK, "%s", seer_last_error());
        double rel = fabs(got - want) / fabs(want);
        cr_log_info("fid %s: %.12g vs scipy %.12g (rel %.1e)", cases[i], got, want, rel);
        cr_assert_leq(rel, 1e-6, "%s: %.12g vs scipy %.12g", cases[i], got, want);
        seer_fid_stats_free(&a);
        seer_fid_stats_free(&b);
    }
    seer_st_close(f);
}

Test(fid, streaming_stats_match_numpy_cov) {
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("fid/stats.safetensors"), &f), SEER_STATUS_OK, "%s", seer_last_error());
    int nd;
    int64_t sx[6], sm[6], ss[6];
    float *x = golden_read(f, "features", &nd, sx);
    float *mu = golden_read(f, "features.mu", &nd, sm);
    float *sigma = golden_read(f, "features.sigma", &nd, ss);
    const int n = (int)sx[0], d = (int)sx[1];
    // Uneven batches, one of a single vector, must give numpy's statistics of the whole set.
    const int batches[] = {1, 7, 100, 192};
    seer_fid_accum *acc = NULL;
    cr_assert_eq(seer_fid_accum_new(d, &acc), SEER_STATUS_OK);
    for (int b = 0, at = 0; b < 4; at += batches[b++])
        cr_assert_eq(seer_fid_accum_add(acc, x + (size_t)at * d, batches[b]), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_fid_accum_count(acc), n);
    seer_fid_stats s = {0};
    cr_assert_eq(seer_fid_accum_stats(acc, &s), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(s.dim, d);
    cr_assert_eq(s.count, n);
    float *got = malloc(sizeof(float) * (size_t)(d + d * d));
    for (int i = 0; i < d; i++) got[i] = (float)s.mu[i];
    for (int i = 0; i < d * d; i++) got[d + i] = (float)s.sigma[i];
    double e_mu = seer_rel_l2(got, mu, (size_t)d), e_s = seer_rel_l2(got + d, sigma, (size_t)(d * d));
    cr_log_info("streaming stats vs numpy.cov: mu rel-L2 %.1e, sigma rel-L2 %.1e", e_mu, e_s);
    cr_assert_leq(e_mu, 1e-6);
    cr_assert_leq(e_s, 1e-6);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) cr_assert_eq(s.sigma[i * d + j], s.sigma[j * d + i]);
    // Non-finite features are refused and leave the statistics as they were.
    float bad[16] = {0};
    bad[3] = NAN;
    cr_assert_eq(seer_fid_accum_add(acc, bad, 1), SEER_STATUS_ARG);
    cr_assert_eq(seer_fid_accum_count(acc), n);
    seer_fid_stats_free(&s);
    seer_fid_accum_free(acc);
    // One vector is not enough for a covariance.
    cr_assert_eq(seer_fid_accum_new(d, &acc), SEER_STATUS_OK);
    cr_assert_eq(seer_fid_accum_add(acc, x, 1), SEER_STATUS_OK);
    cr_assert_eq(seer_fid_accum_stats(acc, &s), SEER_STATUS_ARG);
    cr_assert(strstr(seer_last_error(), "at least 2"), "%s", seer_last_error());
    seer_fid_accum_free(acc);
    free(got);
    free(x);
    free(mu);
    free(sigma);
    seer_st_close(f);
}

Test(fid, stats_files_round_trip_and_bad_files) {
    char dir[] = "/tmp/seer_fid_XXXXXX", p16[256], p64[256];
    cr_assert_not_null(mkdtemp(dir));
    seer_fid_stats a = {0}, b = {0}, la = {0}, lb = {0};
    seer_rng rng = seer_rng_new(3);
    gen_side(&rng, 16, 4, 0.0, &a);
    gen_side(&rng, 64, 70, 0.1, &b);
    snprintf(p16, sizeof p16, "%s/s16.npz", dir);
    snprintf(p64, sizeof p64, "%s/s64.npz", dir);
    cr_assert_eq(seer_fid_stats_save(p16, &a), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_fid_stats_save(p64, &b), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_fid_stats_load(p16, &la), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_fid_stats_load(p64, &lb), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(la.dim, 16);
    cr_assert_eq(la.count, -1);
    cr_assert_eq(memcmp(la.mu, a.mu, 16 * sizeof(double)), 0);
    cr_assert_eq(memcmp(la.sigma, a.sigma, 256 * sizeof(double)), 0);
    // Statistics of different feature extractors do not mix.
    double d = 0;
    cr_assert_eq(seer_fid_distance(&la, &lb, &d), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "16") && strstr(seer_last_error(), "64"), "%s", seer_last_error());
    // A file without mu (an ADM batch of images only, say) says what it holds instead.
    seer_fid_stats_free(&la);
    cr_assert_eq(seer_fid_stats_load(golden_path("fid/no_mu.npz"), &la), SEER_STATUS_FORMAT);
    cr_assert(strstr(seer_last_error(), "no 'mu' array") && strstr(seer_last_error(), "arr_0, sigma"), "%s",
              seer_last_error());
    cr_assert_null(la.mu);
    // ADM-style reference batch: images are skipped, mu and sigma read.
    cr_assert_eq(seer_fid_stats_load(golden_path("fid/savez.npz"), &la), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(la.dim, 16);
    cr_assert_eq(la.sigma[17], 1.0 / 3);
    seer_fid_stats_free(&la);
    seer_fid_stats_free(&lb);
    seer_fid_stats_free(&a);
    seer_fid_stats_free(&b);
    unlink(p16);
    unlink(p64);
    cr_assert_eq(rmdir(dir), 0);
}

// ---- features over image files (needs the shared data and the resnet8 golden model) ---------

static void data_dir(char *buf, size_t n) {
    const char *env = getenv("SEER_DATA");
    snprintf(buf, n, "%s", env ? env : SEER_SOURCE_DIR "/../shared/data");
}

typedef struct bad_log {
    int n;
    char last[512];
} bad_log;

static void on_bad(const char *path, const char *error, void *user) {
    bad_log *b = user;
    b->n++;
    snprintf(b->last, sizeof b->last, "%s: %s", path, error);
}

Test(fid, extract_features_skips_bad_files) {
    char data[512], img[4][1024], dir[] = "/tmp/seer_fid_XXXXXX", bad_path[256];
    data_dir(data, sizeof data);
    const char *files[4] = {"airplane/0001.jpg", "cat/0002.jpg", "ship/0003.jpg", "truck/0004.jpg"};
    for (int i = 0; i < 4; i++) {
        snprintf(img[i], sizeof img[i], "%s/cifar10/test/%s", data, files[i]);
        if (access(img[i], R_OK) != 0) cr_skip("shared data not found (%s); set SEER_DATA", img[i]);
    }
    cr_assert_not_null(mkdtemp(dir));
    snprintf(bad_path, sizeof bad_path, "%s/notes.jpg", dir);
    FILE *bf = fopen(bad_path, "w");
    fputs("not an image", bf);
    fclose(bf);
    seer_dataset_item items[5] = {{img[0], -1}, {bad_path, -1}, {img[1], -1}, {img[2], -1}, {img[3], -1}};

    seer_model *m = NULL;
    cr_assert_eq(seer_model_load(golden_path("resnet8_cifar.weights.safetensors"), NULL, SEER_DEVICE_CPU,
                                 SEER_F32, &m), SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_preprocess pre;
    cr_assert_eq(seer_model_preprocess(m, &pre), SEER_STATUS_OK);
    bad_log bad = {0};
    seer_fid_extract_opts o = {.batch = 3, .pre = &pre, .bad_file = on_bad, .bad_file_user = &bad};
    seer_fid_accum *acc = NULL;
    cr_assert_eq(seer_fid_extract(m, c, items, 5, &o, &acc), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(bad.n, 1);
    cr_assert(strstr(bad.last, "notes.jpg"), "%s", bad.last);
    cr_assert_eq(seer_fid_accum_count(acc), 4);
    // The mean feature equals the mean of the golden features of the same 4 images.
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(golden_path("resnet8_cifar.io.safetensors"), &io), SEER_STATUS_OK);
    int nd;
    int64_t sf[6];
    float *want = golden_read(io, "features", &nd, sf);
    int d = (int)sf[1];
    cr_assert_eq(seer_fid_accum_dim(acc), d);
    float mean_want[64] = {0}, mean_got[64];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < d; j++) mean_want[j] += want[i * d + j] / 4;
    seer_fid_stats s = {0};
    cr_assert_eq(seer_fid_accum_stats(acc, &s), SEER_STATUS_OK);
    for (int j = 0; j < d; j++) mean_got[j] = (float)s.mu[j];
    double e = seer_rel_l2(mean_got, mean_want, (size_t)d);
    cr_log_info("extracted mean features vs golden: rel-L2 %.1e", e);
    cr_assert_leq(e, 1e-5);
    // An empty list adds nothing and creates no statistics.
    seer_fid_accum *none = NULL;
    cr_assert_eq(seer_fid_extract(m, c, items, 0, &o, &none), SEER_STATUS_OK);
    cr_assert_null(none);
    // An empty folder is refused when collecting files.
    seer_dataset ds = {0};
    char sub[300];
    snprintf(sub, sizeof sub, "%s/empty", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    const char *paths[1] = {sub};
    cr_assert_neq(seer_dataset_collect(paths, 1, NULL, &ds), SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "empty"), "%s", seer_last_error());
    rmdir(sub);
    seer_fid_stats_free(&s);
    free(want);
    seer_st_close(io);
    seer_fid_accum_free(acc);
    seer_ctx_free(c);
    seer_model_free(m);
    unlink(bad_path);
    rmdir(dir);
}
