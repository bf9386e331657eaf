// CUDA backend, part B: topk/argmax, indexing (concat, index_select, gather, scatter, pad2d),
// resize, unfold/fold and fused attention, each run through a CPU and a CUDA context on the
// same random data and compared (F32 rel-L2 <= 1e-5; exact for selection and indexing;
// F16/BF16 inputs rounded on the host first, then rel-L2 <= 2e-2 against the CPU on the
// rounded values). Every test skips where no GPU is present.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/test_util.h"

// ---- helpers -------------------------------------------------------------------------------

typedef struct ctx_pair {
    seer_ctx *cpu, *gpu;
} ctx_pair;

static ctx_pair pair_new(void) {
    ctx_pair p = {seer_ctx_new(SEER_DEVICE_CPU), seer_ctx_new(SEER_DEVICE_CUDA)};
    cr_assert(p.cpu && p.gpu, "context: %s", seer_last_error());
    return p;
}

static void pair_reset(ctx_pair *p) {
    seer_ctx_reset(p->cpu);
    seer_ctx_reset(p->gpu);
}

static void pair_free(ctx_pair *p) {
    seer_ctx_free(p->cpu);
    seer_ctx_free(p->gpu);
}

static int64_t numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

// n standard normals, rounded to dt's precision (so both backends see the same values).
static float *rand_data(seer_rng *r, int64_t n, seer_dtype dt) {
    float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    cr_assert(x);
    seer_rng_fill(r, x, (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if (dt == SEER_BF16) x[i] = seer_bf16_to_f32(seer_f32_to_bf16(x[i]));
        if (dt == SEER_F16) x[i] = seer_f16_to_f32(seer_f32_to_f16(x[i]));
    }
    return x;
}

// Normals on a grid of 1/4 (many exact ties, -0 and +0 among them).
static float *tie_data(seer_rng *r, int64_t n) {
    float *x = rand_data(r, n, SEER_F32);
    for (int64_t i = 0; i < n; i++)
        x[i] = roundf(x[i] * 4.0f) / 4.0f;
    return x;
}

// The same host floats as an F32 tensor on the CPU and a `dt` tensor on the GPU.
static void upload(ctx_pair *p, const float *x, seer_dtype dt, int ndim, const int64_t *shape,
                   seer_tensor **c, seer_tensor **g) {
    *c = seer_from_host(p->cpu, x, dt == SEER_I32 || dt == SEER_I64 ? dt : SEER_F32, ndim, shape);
    *g = seer_from_host(p->gpu, x, dt, ndim, shape);
    cr_assert(*c && *g, "upload: %s | %s", seer_ctx_error(p->cpu), seer_ctx_error(p->gpu));
}

static float *download(seer_ctx *c, const seer_tensor *t) {
    cr_assert_not_null(t, "op failed: %s", seer_ctx_error(c));
    int64_t n = seer_tensor_numel(t);
    float *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    cr_assert(out);
    cr_assert_eq(seer_to_host(c, t, out), SEER_STATUS_OK, "download: %s", seer_ctx_error(c));
    return out;
}

// Downloads both results and compares: tol < 0 means bit-exact (NaN matching NaN).
static void compare(ctx_pair *p, const seer_tensor *cpu, const seer_tensor *gpu, double tol,
                    const char *what) {
    cr_assert_not_null(cpu, "%s (cpu): %s", what, seer_ctx_error(p->cpu));
    cr_assert_not_null(gpu, "%s (cuda): %s", what, seer_ctx_error(p->gpu));
    cr_assert(seer_tensor_same_shape(cpu, gpu), "%s: shapes differ", what);
    int64_t n = seer_tensor_numel(cpu);
    float *a = download(p->cpu, cpu), *b = download(p->gpu, gpu);
    if (tol < 0) {
        for (int64_t i = 0; i < n; i++)
            cr_assert(memcmp(&a[i], &b[i], sizeof *a) == 0 || (isnan(a[i]) && isnan(b[i])),
                      "%s: element %lld: cpu %g, cuda %g", what, (long long)i, a[i], b[i]);
    } else {
        double e = seer_rel_l2(b, a, (size_t)n);
        cr_assert_leq(e, tol, "%s: rel-L2 %g > %g", what, e, tol);
    }
    free(a);
    free(b);
}

// Expects the GPU context to have failed with `st` and a message containing `needle`; resets.
static void expect_fail(ctx_pair *p, seer_status st, const char *needle, const char *what) {
    cr_assert_eq(seer_ctx_status(p->gpu), st, "%s: status %s (%s)", what,
                 seer_status_name(seer_ctx_status(p->gpu)), seer_ctx_error(p->gpu));
    cr_assert(strstr(seer_ctx_error(p->gpu), needle), "%s: message '%s' lacks '%s'", what,
              seer_ctx_error(p->gpu), needle);
    pair_reset(p);
}

// ---- topk / argmax -------------------------------------------------------------------------

static void topk_case(ctx_pair *p, float *x, seer_dtype dt, int ndim, const int64_t *shape,
                      int64_t k, const char *what) {
    seer_tensor *xc, *xg, *vc, *ic, *vg, *ig;
    upload(p, x, dt, ndim, shape, &xc, &xg);
    cr_assert_eq(seer_topk(p->cpu, xc, k, &vc, &ic), SEER_STATUS_OK, "%s", seer_ctx_error(p->cpu));
    cr_assert_eq(seer_topk(p->gpu, xg, k, &vg, &ig), SEER_STATUS_OK, "%s", seer_ctx_error(p->gpu));
    compare(p, ic, ig, -1, what);
    compare(p, vc, vg, -1, what); // values of a low-precision input convert exactly
    // Indices alone (values not asked for).
    seer_tensor *only;
    cr_assert_eq(seer_topk(p->gpu, xg, k, NULL, &only), SEER_STATUS_OK);
    compare(p, ic, only, -1, what);
    pair_reset(p);
}

Test(cuda_topk, matches_cpu_with_ties_on_every_path) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(11);
    // {rows..., n, k}: radix selection then a sort of the k (1024 < n <= 8192), shared-memory
    // sort (n <= 16384), k passes (k <= 64), rank counting.
    const struct {
        int ndim;
        int64_t shape[3], k;
    } cases[] = {
        {2, {3, 7}, 3},      {3, {2, 5, 33}, 33},  {2, {4, 1000}, 5},
        {2, {1, 1}, 1},      {2, {2, 16384}, 300}, {2, {3, 20000}, 10},
        {2, {2, 20001}, 64}, {2, {2, 17000}, 100}, {1, {4099}, 4099},
        {2, {5, 1025}, 257}, {2, {3, 4099}, 1},   {2, {2, 8192}, 3000},
        {2, {4, 1500}, 700}, {2, {2, 2000}, 2000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t n = numel(cases[i].ndim, cases[i].shape);
        float *x = tie_data(&rng, n);
        topk_case(&p, x, SEER_F32, cases[i].ndim, cases[i].shape, cases[i].k, "topk ties");
        free(x);
        x = rand_data(&rng, n, SEER_F32);
        topk_case(&p, x, SEER_F32, cases[i].ndim, cases[i].shape, cases[i].k, "topk");
        free(x);
    }
    pair_free(&p);
}

Test(cuda_topk, nan_half_precision_and_errors) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(12);
    // NaN ranks above +inf; NaNs among themselves by index.
    int64_t shape[2] = {3, 40};
    float *x = tie_data(&rng, 120);
    x[5] = NAN, x[17] = INFINITY, x[30] = NAN, x[41] = -INFINITY, x[90] = NAN;
    topk_case(&p, x, SEER_F32, 2, shape, 6, "topk nan");
    topk_case(&p, x, SEER_F32, 2, shape, 40, "topk nan k = n");
    free(x);
    // The same through radix selection (rows of more than 1024).
    int64_t long_shape[2] = {2, 1100};
    x = tie_data(&rng, 2200);
    x[3] = NAN, x[700] = NAN, x[1200] = INFINITY, x[1500] = NAN, x[2100] = -INFINITY;
    topk_case(&p, x, SEER_F32, 2, long_shape, 300, "topk nan radix");
    topk_case(&p, x, SEER_F32, 2, long_shape, 1100, "topk nan radix k = n");
    free(x);
    for (int t = 0; t < 2; t++) {
        seer_dtype dt = t ? SEER_F16 : SEER_BF16;
        int64_t s2[2] = {5, 301};
        x = rand_data(&rng, 5 * 301, dt);
        topk_case(&p, x, dt, 2, s2, 7, "topk half");
        free(x);
    }
    // Errors: k out of range, a CPU tensor in the CUDA context, NULL.
    x = rand_data(&rng, 120, SEER_F32);
    seer_tensor *xc, *xg, *v, *i;
    upload(&p, x, SEER_F32, 2, shape, &xc, &xg);
    cr_assert_eq(seer_topk(p.gpu, xg, 41, &v, &i), SEER_STATUS_ARG);
    expect_fail(&p, SEER_STATUS_ARG, "topk", "k > n");
    upload(&p, x, SEER_F32, 2, shape, &xc, &xg);
    cr_assert_neq(seer_topk(p.gpu, xc, 3, &v, &i), SEER_STATUS_OK);
    expect_fail(&p, SEER_STATUS_DEVICE, "topk", "wrong device");
    cr_assert_eq(seer_topk(p.gpu, NULL, 3, &v, &i), SEER_STATUS_ARG);
    cr_assert_null(i);
    expect_fail(&p, SEER_STATUS_ARG, "topk", "NULL input");
    free(x);
    pair_free(&p);
}

Test(cuda_topk, sample_inverse_cdf_draws_what_the_cpu_draws) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(14);
    const int64_t rows = 3000, V = 1024; // ENAT's codebook
    float *probs = malloc((size_t)(rows * V) * sizeof *probs), *u = malloc((size_t)rows * sizeof *u);
    cr_assert(probs && u);
    for (int64_t i = 0; i < rows * V; i++) {
        float x = seer_rng_normal(&rng);
        probs[i] = expf(4.0f * x); // peaked rows, as softmax at a low temperature gives
    }
    for (int64_t r = 0; r < rows; r++) u[r] = r % 10 == 3 ? -1.0f : seer_rng_uniform(&rng);
    seer_tensor *pc, *pg, *uc, *ug;
    upload(&p, probs, SEER_F32, 2, (int64_t[]){rows, V}, &pc, &pg);
    upload(&p, u, SEER_F32, 1, (int64_t[]){rows}, &uc, &ug);
    compare(&p, seer_sample_inverse_cdf(p.cpu, pc, uc), seer_sample_inverse_cdf(p.gpu, pg, ug), -1,
            "sample_inverse_cdf");
    free(probs), free(u);
    pair_free(&p);
}

Test(cuda_topk, argmax) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(13);
    const int64_t shapes[][3] = {{5, 17, 0}, {3, 4, 1000}, {1, 70001, 0}, {7, 1, 0}};
    const int ndims[] = {2, 3, 2, 2};
    for (int s = 0; s < 4; s++) {
        int64_t n = numel(ndims[s], shapes[s]);
        for (int t = 0; t < 3; t++) {
            float *x = t == 0 ? rand_data(&rng, n, SEER_F32) : tie_data(&rng, n);
            if (t == 2) x[n / 2] = NAN; // the first NaN wins
            seer_tensor *xc, *xg;
            upload(&p, x, SEER_F32, ndims[s], shapes[s], &xc, &xg);
            compare(&p, seer_argmax(p.cpu, xc), seer_argmax(p.gpu, xg), -1, "argmax");
            xg = seer_from_host(p.gpu, x, SEER_BF16, ndims[s], shapes[s]);
            for (int64_t i = 0; i < n; i++)
                x[i] = seer_bf16_to_f32(seer_f32_to_bf16(x[i]));
            xc = seer_from_host(p.cpu, x, SEER_F32, ndims[s], shapes[s]);
            compare(&p, seer_argmax(p.cpu, xc), seer_argmax(p.gpu, xg), -1, "argmax bf16");
            pair_reset(&p);
            free(x);
        }
    }
    pair_free(&p);
}

// ---- indexing ------------------------------------------------------------------------------

Test(cuda_index, concat_any_dim_and_dtype) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(21);
    const seer_dtype dts[] = {SEER_F32, SEER_BF16, SEER_I64};
    for (int t = 0; t < 3; t++) {
        for (int dim = 0; dim < 3; dim++) {
            const int64_t sizes[3] = {3, 1, 4};
            seer_tensor *cs[3], *gs[3];
            float *bufs[3];
            for (int i = 0; i < 3; i++) {
                int64_t shape[3] = {2, 5, 3};
                shape[dim] = sizes[i];
                int64_t n = numel(3, shape);
                bufs[i] = rand_data(&rng, n, dts[t]);
                if (dts[t] == SEER_I64)
                    for (int64_t e = 0; e < n; e++)
                        bufs[i][e] = roundf(bufs[i][e] * 1000.0f);
                upload(&p, bufs[i], dts[t], 3, shape, &cs[i], &gs[i]);
            }
            compare(&p, seer_concat(p.cpu, (const seer_tensor *const *)cs, 3, dim),
                    seer_concat(p.gpu, (const seer_tensor *const *)gs, 3, dim), -1, "concat");
            // Negative dim and a single input.
            compare(&p, seer_concat(p.cpu, (const seer_tensor *const *)cs, 1, dim - 3),
                    seer_concat(p.gpu, (const seer_tensor *const *)gs, 1, dim - 3), -1,
                    "concat one");
            for (int i = 0; i < 3; i++)
                free(bufs[i]);
            pair_reset(&p);
        }
    }
    // Mismatched shapes: a clear message naming both.
    seer_tensor *a = seer_new(p.gpu, SEER_F32, 2, (int64_t[]){2, 3});
    seer_tensor *b = seer_new(p.gpu, SEER_F32, 2, (int64_t[]){3, 3});
    cr_assert_null(seer_concat(p.gpu, (const seer_tensor *[]){a, b}, 2, 1));
    expect_fail(&p, SEER_STATUS_SHAPE, "[3, 3]", "concat shapes");
    pair_free(&p);
}

// Random index values in [0, n) as floats (for upload as I32 or I64).
static float *rand_indices(seer_rng *r, int64_t count, int64_t n) {
    float *v = malloc((size_t)(count ? count : 1) * sizeof *v);
    cr_assert(v);
    for (int64_t i = 0; i < count; i++)
        v[i] = (float)(seer_rng_u64(r) % (uint64_t)n);
    return v;
}

Test(cuda_index, index_select_gather) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(22);
    const int64_t xshape[3] = {3, 7, 5};
    float *x = rand_data(&rng, 105, SEER_F32);
    for (int t = 0; t < 2; t++) {
        seer_dtype it = t ? SEER_I64 : SEER_I32;
        for (int dim = 0; dim < 3; dim++) {
            seer_tensor *xc, *xg, *ic, *ig;
            upload(&p, x, SEER_F32, 3, xshape, &xc, &xg);
            // index_select with 9 indices (repeats included).
            float *iv = rand_indices(&rng, 9, xshape[dim]);
            upload(&p, iv, it, 1, (int64_t[]){9}, &ic, &ig);
            compare(&p, seer_index_select(p.cpu, xc, dim, ic),
                    seer_index_select(p.gpu, xg, dim, ig), -1, "index_select");
            free(iv);
            // gather: idx [2, 4, 3] fits x outside dim and may be larger along it.
            int64_t gshape[3] = {2, 4, 3};
            gshape[dim] = 9;
            iv = rand_indices(&rng, numel(3, gshape), xshape[dim]);
            upload(&p, iv, it, 3, gshape, &ic, &ig);
            compare(&p, seer_gather(p.cpu, xc, dim, ic), seer_gather(p.gpu, xg, dim, ig), -1,
                    "gather");
            free(iv);
            pair_reset(&p);
        }
    }
    // Out-of-range and negative indices: SHAPE, naming the index.
    seer_tensor *xc, *xg, *ic, *ig;
    upload(&p, x, SEER_F32, 3, xshape, &xc, &xg);
    upload(&p, (float[]){1, 7, 2}, SEER_I64, 1, (int64_t[]){3}, &ic, &ig);
    cr_assert_null(seer_index_select(p.gpu, xg, 1, ig));
    expect_fail(&p, SEER_STATUS_SHAPE, "index 7", "index_select range");
    upload(&p, x, SEER_F32, 3, xshape, &xc, &xg);
    float neg[6] = {0, 1, -1, 2, 0, 1};
    upload(&p, neg, SEER_I32, 3, (int64_t[]){1, 2, 3}, &ic, &ig);
    cr_assert_null(seer_gather(p.gpu, xg, 2, ig));
    expect_fail(&p, SEER_STATUS_SHAPE, "out of range", "gather range");
    // Wrong device, NULL, wrong index dtype.
    upload(&p, x, SEER_F32, 3, xshape, &xc, &xg);
    upload(&p, (float[]){1, 2}, SEER_I64, 1, (int64_t[]){2}, &ic, &ig);
    cr_assert_null(seer_index_select(p.gpu, xg, 0, ic));
    expect_fail(&p, SEER_STATUS_DEVICE, "index_select", "wrong device");
    cr_assert_null(seer_gather(p.gpu, NULL, 0, NULL));
    expect_fail(&p, SEER_STATUS_ARG, "gather", "NULL");
    upload(&p, x, SEER_F32, 3, xshape, &xc, &xg);
    cr_assert_null(seer_index_select(p.gpu, xg, 0, xg));
    expect_fail(&p, SEER_STATUS_SHAPE, "i32 or i64", "float index");
    free(x);
    pair_free(&p);
}

Test(cuda_index, scatter_without_duplicates) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(23);
    const int64_t xshape[3] = {3, 11, 5};
    for (int dim = 0; dim < 3; dim++) {
        // idx [2, 4, 3] (dim: up to its size in x), src one larger in every dim; along dim,
        // each line of idx takes distinct targets (a shuffled prefix), so the result is unique.
        int64_t ishape[3] = {2, 4, 3}, sshape[3];
        ishape[dim] = xshape[dim] < 6 ? xshape[dim] : 6;
        for (int d = 0; d < 3; d++)
            sshape[d] = ishape[d] + 1;
        int64_t istride[3] = {ishape[1] * ishape[2], ishape[2], 1};
        float *iv = malloc((size_t)numel(3, ishape) * sizeof *iv);
        int perm[16];
        for (int64_t line = 0; line < numel(3, ishape) / ishape[dim]; line++) {
            int64_t base = 0, rem = line;
            for (int d = 2; d >= 0; d--) {
                if (d == dim) continue;
                base += (rem % ishape[d]) * istride[d];
                rem /= ishape[d];
            }
            for (int i = 0; i < xshape[dim]; i++)
                perm[i] = i;
            for (int i = (int)xshape[dim] - 1; i > 0; i--) {
                int j = (int)(seer_rng_u64(&rng) % (uint64_t)(i + 1)), tmp = perm[i];
                perm[i] = perm[j], perm[j] = tmp;
            }
            for (int64_t i = 0; i < ishape[dim]; i++)
                iv[base + i * istride[dim]] = (float)perm[i];
        }
        float *x = rand_data(&rng, numel(3, xshape), SEER_F32);
        float *s = rand_data(&rng, numel(3, sshape), SEER_F32);
        seer_tensor *xc, *xg, *ic, *ig, *sc, *sg;
        upload(&p, x, SEER_F32, 3, xshape, &xc, &xg);
        upload(&p, iv, dim == 1 ? SEER_I64 : SEER_I32, 3, ishape, &ic, &ig);
        upload(&p, s, SEER_F32, 3, sshape, &sc, &sg);
        compare(&p, seer_scatter(p.cpu, xc, dim, ic, sc), seer_scatter(p.gpu, xg, dim, ig, sg), -1,
                "scatter");
        // One target out of range.
        iv[0] = (float)xshape[dim];
        upload(&p, iv, SEER_I64, 3, ishape, &ic, &ig);
        cr_assert_null(seer_scatter(p.gpu, xg, dim, ig, sg));
        expect_fail(&p, SEER_STATUS_SHAPE, "out of range", "scatter range");
        free(iv);
        free(x);
        free(s);
    }
    pair_free(&p);
}

Test(cuda_index, pad2d) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(24);
    const int64_t shape[4] = {2, 5, 7, 3};
    const int pads[][4] = {{1, 2, 3, 0}, {0, 0, 0, 0}, {4, 1, 0, 5}};
    for (int t = 0; t < 2; t++) {
        seer_dtype dt = t ? SEER_BF16 : SEER_F32;
        float *x = rand_data(&rng, numel(4, shape), dt);
        for (int i = 0; i < 3; i++) {
            seer_tensor *xc, *xg;
            upload(&p, x, dt, 4, shape, &xc, &xg);
            const int *q = pads[i];
            compare(&p, seer_pad2d(p.cpu, xc, q[0], q[1], q[2], q[3], -1.5f),
                    seer_pad2d(p.gpu, xg, q[0], q[1], q[2], q[3], -1.5f), -1, "pad2d");
            pair_reset(&p);
        }
        free(x);
    }
    seer_tensor *bad = seer_new(p.gpu, SEER_F32, 3, (int64_t[]){2, 5, 7});
    cr_assert_null(seer_pad2d(p.gpu, bad, 1, 1, 1, 1, 0));
    expect_fail(&p, SEER_STATUS_SHAPE, "[2, 5, 7]", "pad2d 3-d");
    pair_free(&p);
}

// ---- resize --------------------------------------------------------------------------------

Test(cuda_resize, modes_align_corners_and_sizes) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(31);
    // {B, H, W, C, Ho, Wo}: up, down, odd ratios, 1x1 in and out, same size, 2x.
    const int64_t cases[][6] = {
        {2, 7, 5, 3, 13, 11}, {1, 224, 224, 3, 97, 113}, {3, 1, 1, 4, 3, 5},    {2, 9, 6, 5, 1, 1},
        {1, 8, 8, 16, 8, 8},  {2, 14, 14, 7, 28, 28},    {1, 33, 17, 2, 10, 50}};
    const seer_dtype dts[] = {SEER_F32, SEER_BF16, SEER_F16};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int64_t *cs = cases[i];
        for (int t = 0; t < 3; t++) {
            float *x = rand_data(&rng, numel(4, cs), dts[t]);
            for (int mode = 0; mode < 3; mode++) {
                for (int ac = 0; ac < 2; ac++) {
                    seer_tensor *xc, *xg;
                    upload(&p, x, dts[t], 4, cs, &xc, &xg);
                    // Nearest only copies: exact in every dtype; F32 interpolation to 1e-5.
                    double tol = mode == SEER_RESIZE_NEAREST ? -1
                                 : dts[t] == SEER_F32        ? 1e-5
                                                             : 2e-2;
                    compare(&p, seer_resize(p.cpu, xc, (int)cs[4], (int)cs[5], mode, ac),
                            seer_resize(p.gpu, xg, (int)cs[4], (int)cs[5], mode, ac), tol,
                            "resize");
                    pair_reset(&p);
                }
            }
            free(x);
        }
    }
    seer_tensor *x = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 4, 4, 1});
    cr_assert_null(seer_resize(p.gpu, x, 0, 3, SEER_RESIZE_BILINEAR, false));
    expect_fail(&p, SEER_STATUS_ARG, "resize", "zero size");
    cr_assert_null(seer_resize(p.gpu, NULL, 3, 3, SEER_RESIZE_BILINEAR, false));
    expect_fail(&p, SEER_STATUS_ARG, "resize", "NULL");
    pair_free(&p);
}

// ---- unfold / fold -------------------------------------------------------------------------

Test(cuda_unfold, unfold_and_fold) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(41);
    const int64_t shapes[][4] = {{2, 9, 11, 3}, {1, 14, 14, 8}, {3, 5, 4, 1}};
    const seer_unfold_params params[] = {
        {3, 3, 2, 2, 1, 1, 1, 1}, // VOLO outlooker
        {3, 3, 1, 1, 2, 2, 2, 2}, // dilated
        {2, 2, 2, 2, 0, 0, 1, 1}, // non-overlapping
        {5, 3, 1, 2, 2, 0, 1, 1}, // odd window and strides
        {1, 1, 0, 0, 0, 0, 0, 0}, // zero fields mean 1
    };
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
            for (int t = 0; t < 2; t++) {
                seer_dtype dt = t ? SEER_BF16 : SEER_F32;
                float *x = rand_data(&rng, numel(4, shapes[s]), dt);
                seer_tensor *xc, *xg;
                upload(&p, x, dt, 4, shapes[s], &xc, &xg);
                seer_tensor *uc = seer_unfold(p.cpu, xc, &params[i]);
                seer_tensor *ug = seer_unfold(p.gpu, xg, &params[i]);
                if (!uc) { // the window does not fit this input: both must refuse
                    cr_assert_null(ug);
                    pair_reset(&p);
                    free(x);
                    continue;
                }
                compare(&p, uc, ug, -1, "unfold");
                // fold of fresh random columns (not the unfolded input, so every tap differs).
                float *cols = rand_data(&rng, seer_tensor_numel(uc), dt);
                seer_tensor *cc, *cg;
                upload(&p, cols, dt, uc->ndim, uc->shape, &cc, &cg);
                int oh = (int)shapes[s][1], ow = (int)shapes[s][2];
                compare(&p, seer_fold(p.cpu, cc, oh, ow, &params[i]),
                        seer_fold(p.gpu, cg, oh, ow, &params[i]), dt == SEER_F32 ? 1e-5 : 2e-2,
                        "fold");
                free(cols);
                free(x);
                pair_reset(&p);
            }
        }
    }
    // fold of columns that do not match the window: a message with the expected shape.
    seer_tensor *bad = seer_new(p.gpu, SEER_F32, 5, (int64_t[]){1, 4, 4, 9, 2});
    cr_assert_null(seer_fold(p.gpu, bad, 9, 9, &params[0]));
    expect_fail(&p, SEER_STATUS_SHAPE, "fold", "fold shape");
    pair_free(&p);
}

// ---- attention -----------------------------------------------------------------------------

typedef struct attn_case {
    int64_t B, H, Lq, Lk, D, Dv;
    int bias;         // 0: none, 1: [1, H, ...], 2: [B, 1, ...], 3: [B, H, ...]
    bool masked_rows; // some rows fully -inf
} attn_case;

static void attention_case(ctx_pair *p, seer_rng *rng, const attn_case *a, seer_dtype dt) {
    int64_t qs[4] = {a->B, a->H, a->Lq, a->D}, ks[4] = {a->B, a->H, a->Lk, a->D};
    int64_t vs[4] = {a->B, a->H, a->Lk, a->Dv};
    int64_t bs[4] = {a->bias & 2 ? a->B : 1, a->bias & 1 ? a->H : 1, a->Lq, a->Lk};
    float *q = rand_data(rng, numel(4, qs), dt), *k = rand_data(rng, numel(4, ks), dt);
    float *v = rand_data(rng, numel(4, vs), dt), *b = NULL;
    seer_tensor *qc, *qg, *kc, *kg, *vc, *vg, *bc = NULL, *bg = NULL;
    upload(p, q, dt, 4, qs, &qc, &qg);
    upload(p, k, dt, 4, ks, &kc, &kg);
    upload(p, v, dt, 4, vs, &vc, &vg);
    if (a->bias) {
        int64_t n = numel(4, bs);
        b = rand_data(rng, n, dt);
        // About one entry in five masked; with masked_rows, every 7th query row entirely.
        for (int64_t i = 0; i < n; i++) {
            int64_t row = (i / a->Lk) % a->Lq;
            if (seer_rng_uniform(rng) < 0.2f || (a->masked_rows && row % 7 == 3)) b[i] = -INFINITY;
        }
        upload(p, b, dt, 4, bs, &bc, &bg);
    }
    float scale = 1.0f / sqrtf((float)a->D);
    seer_tensor *oc = seer_attention(p->cpu, qc, kc, vc, bc, scale);
    seer_tensor *og = seer_attention(p->gpu, qg, kg, vg, bg, scale);
    compare(p, oc, og, dt == SEER_F32 ? 1e-5 : 2e-2, "attention");
    if (a->masked_rows) { // fully masked rows are exact zeros
        float *o = download(p->gpu, og);
        for (int64_t bh = 0; bh < a->B * a->H; bh++)
            for (int64_t r = 3; r < a->Lq; r += 7)
                for (int64_t e = 0; e < a->Dv; e++)
                    cr_assert_eq(o[(bh * a->Lq + r) * a->Dv + e], 0.0f, "masked row %lld",
                                 (long long)r);
        free(o);
    }
    free(q), free(k), free(v), free(b);
    pair_reset(p);
}

Test(cuda_attention, shapes_bias_and_masks) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(51);
    const attn_case cases[] = {
        {2, 3, 197, 197, 64, 64, 0, false}, // DeiT
        {2, 3, 197, 197, 64, 64, 3, true},
        {2, 3, 50, 200, 64, 64, 1, false},
        {2, 3, 50, 200, 64, 64, 2, true},
        {1, 2, 33, 65, 32, 32, 3, false},   // one tile past a multiple
        {2, 1, 17, 9, 16, 48, 0, false},    // Dv > D
        {1, 2, 40, 70, 100, 128, 1, true},  // the 128 kernel, D not a multiple of 16
        {1, 1, 31, 130, 160, 96, 0, false}, // D > 128: summed in chunks
        {1, 2, 20, 33, 64, 200, 3, false},  // Dv > 128: more column blocks
        {3, 2, 1, 1, 8, 8, 0, false},       // single query and key
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        attention_case(&p, &rng, &cases[i], SEER_F32);
        attention_case(&p, &rng, &cases[i], i % 2 ? SEER_F16 : SEER_BF16);
    }
    pair_free(&p);
}

// The tensor-core kernel (F16/BF16, D == Dv in {32, 64, 128}): DeiT's 197 tokens, lengths of
// 1, 17 and 65 around its 16-row and 64-key tiles, Lq != Lk, broadcast bias, masked rows.
Test(cuda_attention, tensor_core_path) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_rng rng = seer_rng_new(52);
    const attn_case cases[] = {
        {2, 6, 197, 197, 64, 64, 0, false},   // DeiT-S
        {2, 3, 197, 197, 64, 64, 3, true},    // full bias, masked rows
        {2, 2, 65, 65, 64, 64, 2, false},     // one row and key past a tile, bias [B, 1]
        {2, 2, 1, 197, 64, 64, 1, false},     // one query, bias [1, H]
        {1, 2, 1, 1, 32, 32, 0, false},       // one query, one key
        {2, 2, 17, 65, 32, 32, 1, true},      // Lq < Lk
        {1, 4, 17, 17, 32, 32, 3, true},      // a second warp with one row
        {1, 3, 65, 17, 128, 128, 2, true},    // Lq > Lk
        {1, 2, 197, 1, 128, 128, 0, false},   // one key
        {1, 1, 130, 200, 128, 128, 3, false}, // several blocks and key tiles
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        attention_case(&p, &rng, &cases[i], SEER_BF16);
        attention_case(&p, &rng, &cases[i], SEER_F16);
    }
    pair_free(&p);
}

Test(cuda_attention, errors) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    ctx_pair p = pair_new();
    seer_tensor *q = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 5, 8});
    seer_tensor *k = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 6, 8});
    seer_tensor *kbad = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 6, 4});
    seer_tensor *v = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 6, 3});
    seer_tensor *bias = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 5, 5});
    cr_assert_null(seer_attention(p.gpu, q, kbad, v, NULL, 1.0f));
    expect_fail(&p, SEER_STATUS_SHAPE, "[1, 2, 6, 4]", "k shape");
    q = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 5, 8});
    k = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 6, 8});
    v = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 6, 3});
    bias = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 5, 5});
    cr_assert_null(seer_attention(p.gpu, q, k, v, bias, 1.0f));
    expect_fail(&p, SEER_STATUS_SHAPE, "bias", "bias shape");
    seer_tensor *qcpu = seer_new(p.cpu, SEER_F32, 4, (int64_t[]){1, 2, 5, 8});
    k = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 6, 8});
    v = seer_new(p.gpu, SEER_F32, 4, (int64_t[]){1, 2, 6, 3});
    cr_assert_null(seer_attention(p.gpu, qcpu, k, v, NULL, 1.0f));
    expect_fail(&p, SEER_STATUS_DEVICE, "attention", "wrong device");
    cr_assert_null(seer_attention(p.gpu, NULL, NULL, NULL, NULL, 1.0f));
    expect_fail(&p, SEER_STATUS_ARG, "attention", "NULL");
    pair_free(&p);
}
