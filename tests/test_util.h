// Shared helpers of the tests: a seeded RNG, random fills and error measures.
#ifndef SEER_TEST_UTIL_H
#define SEER_TEST_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

typedef struct seer_rng {
    uint64_t s;
} seer_rng;

static inline seer_rng seer_rng_new(uint64_t seed) {
    seer_rng r = {seed * 0x9E3779B97F4A7C15ull + 1};
    return r;
}

// splitmix64
static inline uint64_t seer_rng_u64(seer_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in [0, 1).
static inline float seer_rng_uniform(seer_rng *r) {
    return (float)(seer_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

static inline float seer_rng_normal(seer_rng *r) {
    float u1 = seer_rng_uniform(r) + 1e-7f, u2 = seer_rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

// Standard normal values (never all zeros).
static inline void seer_rng_fill(seer_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = seer_rng_normal(r);
}

// ||a - b|| / ||b|| in double.
static inline double seer_rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static inline double seer_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

#endif
