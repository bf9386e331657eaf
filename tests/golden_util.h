// Reading golden fixtures (tests/golden/*.safetensors made by tools/golden/) in tests.
#ifndef SEER_GOLDEN_UTIL_H
#define SEER_GOLDEN_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "backbones/model.h"
#include "core/safetensors.h"

static inline const char *golden_path(const char *name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/tests/golden/%s", SEER_SOURCE_DIR, name);
    return buf;
}

// Tensor `name` of an open fixture as F32 (malloc'ed); its shape into shape/ndim.
static inline float *golden_read(const seer_st_file *f, const char *name, int *ndim,
                                 int64_t *shape) {
    seer_dtype dt;
    cr_assert_eq(seer_st_info(f, name, &dt, ndim, shape), SEER_STATUS_OK, "%s",
                 seer_last_error());
    size_t n = 1;
    for (int i = 0; i < *ndim; i++) n *= (size_t)shape[i];
    float *buf = malloc(n * sizeof(float) + 1);
    cr_assert_eq(seer_st_read(f, name, SEER_F32, buf, n * sizeof(float)), SEER_STATUS_OK, "%s",
                 seer_last_error());
    return buf;
}

static inline size_t golden_numel(int nd, const int64_t *shape) {
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    return n;
}

// The top-1 class of a logits row of n.
static inline int golden_argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int)best;
}

// Rows minus their mean over the batch: what depends on the image. Compared on its own, since
// a logit offset shared by every image can hide an error in the image-dependent part.
static inline void golden_center_rows(float *x, int64_t rows, int64_t cols) {
    for (int64_t j = 0; j < cols; j++) {
        double m = 0;
        for (int64_t i = 0; i < rows; i++)
            m += x[i * cols + j];
        m /= (double)rows;
        for (int64_t i = 0; i < rows; i++)
            x[i * cols + j] -= (float)m;
    }
}

// A model fixture: <name>.weights.safetensors loaded as a model of `family`, and the inputs
// and outputs of <name>.io.safetensors with its "input" read, ready to run in c.
typedef struct golden_fixture {
    seer_model *m;
    seer_st_file *io;
    seer_ctx *c;
    float *x;
    int nx;
    int64_t sx[SEER_MAX_DIMS];
} golden_fixture;

static inline golden_fixture golden_fixture_open(const char *name, const char *family,
                                                 seer_device dev, seer_dtype dt) {
    golden_fixture g = {0};
    char file[256];
    snprintf(file, sizeof file, "%s.weights.safetensors", name);
    cr_assert_eq(seer_model_load(golden_path(file), NULL, dev, dt, &g.m), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_str_eq(g.m->arch->family, family);
    snprintf(file, sizeof file, "%s.io.safetensors", name);
    cr_assert_eq(seer_st_open(golden_path(file), &g.io), SEER_STATUS_OK, "%s", seer_last_error());
    g.x = golden_read(g.io, "input", &g.nx, g.sx);
    g.c = seer_ctx_new(dev);
    cr_assert_not_null(g.c, "%s", seer_last_error());
    return g;
}

static inline void golden_fixture_close(golden_fixture *g) {
    free(g->x);
    seer_st_close(g->io);
    seer_ctx_free(g->c);
    seer_model_free(g->m);
}

// Every tensor of f, as stored, into w: the start of a fixture rewritten with other metadata.
static inline void golden_copy_tensors(const seer_st_file *f, seer_st_writer *w) {
    for (int i = 0; i < seer_st_count(f); i++) {
        const char *name = seer_st_name(f, i);
        seer_dtype dt;
        int nd;
        int64_t shape[SEER_MAX_DIMS];
        size_t nb;
        cr_assert_eq(seer_st_info(f, name, &dt, &nd, shape), SEER_STATUS_OK);
        cr_assert_eq(seer_st_writer_add(w, name, dt, nd, shape, seer_st_raw(f, name, &nb)),
                     SEER_STATUS_OK);
    }
}

#endif
