// Reading golden fixtures (tests/golden/*.safetensors made by tools/golden/) in tests.
#ifndef SEER_GOLDEN_UTIL_H
#define SEER_GOLDEN_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
