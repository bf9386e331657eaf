// Criterion helpers shared by the op tests: uploads, random inputs, expected failures.
#ifndef SEER_OP_TEST_UTIL_H
#define SEER_OP_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

static inline seer_tensor *upload(seer_ctx *c, const float *src, int ndim, const int64_t *shape) {
    seer_tensor *t = seer_from_host(c, src, SEER_F32, ndim, shape);
    cr_assert_not_null(t, "%s", seer_ctx_error(c));
    return t;
}

// src uploaded as dtype dt (rounded to it).
static inline seer_tensor *upload_as(seer_ctx *c, const float *src, seer_dtype dt, int ndim,
                                     const int64_t *shape) {
    seer_tensor *t = seer_from_host(c, src, dt, ndim, shape);
    cr_assert_not_null(t, "upload: %s", seer_ctx_error(c));
    return t;
}

// t (any device, any float dtype) as host F32 (malloc'ed; free it).
static inline float *download_f32(seer_ctx *c, const seer_tensor *t) {
    cr_assert_not_null(t, "%s", seer_ctx_error(c));
    seer_tensor *f = seer_contiguous(c, seer_to(c, t, SEER_F32));
    cr_assert_not_null(f, "%s", seer_ctx_error(c));
    size_t n = (size_t)seer_tensor_numel(f);
    float *h = malloc(n * sizeof *h + 1);
    cr_assert_not_null(h);
    cr_assert_eq(seer_memcpy(SEER_DEVICE_CPU, h, seer_ctx_device(c), f->data, n * sizeof *h),
                 SEER_STATUS_OK);
    return h;
}

// n standard-normal floats (malloc'ed; free them).
static inline float *random_floats(seer_rng *rng, int64_t n) {
    float *p = malloc((size_t)n * sizeof *p + 1);
    seer_rng_fill(rng, p, (size_t)n);
    return p;
}

// The context failed with status st and a message containing needle; reset it.
static inline void expect_fail(seer_ctx *c, seer_status st, const char *needle) {
    cr_assert_eq(seer_ctx_status(c), st, "status %s, message: %s",
                 seer_status_name(seer_ctx_status(c)), seer_ctx_error(c));
    cr_assert(strstr(seer_ctx_error(c), needle), "message \"%s\" lacks \"%s\"", seer_ctx_error(c),
              needle);
    seer_ctx_reset(c);
}

#endif
