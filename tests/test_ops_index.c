// Selection and indexing ops on the CPU against naive loops: topk, argmax (suite topk) and
// concat, split, index_select, gather, scatter (suite index).
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "tests/op_test_util.h"

static float *download(seer_ctx *c, const seer_tensor *t) {
    cr_assert_not_null(t, "%s", seer_ctx_error(c));
    float *p = malloc((size_t)seer_tensor_numel(t) * sizeof *p + 1);
    cr_assert_eq(seer_to_host(c, t, p), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    return p;
}

// ---- topk / argmax -------------------------------------------------------------------------

// Naive order of topk: a before b (NaN largest, ties by lower index).
static int naive_before(float a, int64_t ia, float b, int64_t ib) {
    if (isnan(a) != isnan(b)) return isnan(a);
    if (!isnan(a) && a != b) return a > b;
    return ia < ib;
}

// k picks by repeated scan over the elements not taken yet.
static void naive_topk(const float *row, int64_t n, int64_t k, float *vals, int64_t *idx) {
    char *taken = calloc((size_t)n, 1);
    for (int64_t j = 0; j < k; j++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++)
            if (!taken[i] && (best < 0 || naive_before(row[i], i, row[best], best))) best = i;
        taken[best] = 1;
        vals[j] = row[best];
        idx[j] = best;
    }
    free(taken);
}

static void check_topk(seer_ctx *c, const float *x, int ndim, const int64_t *shape, int64_t k) {
    int64_t n = shape[ndim - 1], numel = 1;
    for (int d = 0; d < ndim; d++) numel *= shape[d];
    int64_t rows = numel / n;
    seer_tensor *t = upload(c, x, ndim, shape);
    seer_tensor *vals = NULL, *inds = NULL;
    cr_assert_eq(seer_topk(c, t, k, &vals, &inds), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    cr_assert_eq(vals->ndim, ndim);
    cr_assert_eq(vals->shape[ndim - 1], k);
    cr_assert_eq(inds->dtype, SEER_I64);
    float *v = download(c, vals);
    const int64_t *ix = inds->data;
    float *rv = malloc((size_t)k * sizeof *rv);
    int64_t *ri = malloc((size_t)k * sizeof *ri);
    for (int64_t r = 0; r < rows; r++) {
        naive_topk(x + r * n, n, k, rv, ri);
        for (int64_t j = 0; j < k; j++) {
            cr_assert_eq(ix[r * k + j], ri[j], "row %lld pos %lld: index %lld, expected %lld",
                         (long long)r, (long long)j, (long long)ix[r * k + j], (long long)ri[j]);
            float a = v[r * k + j];
            cr_assert(a == rv[j] || (isnan(a) && isnan(rv[j])), "row %lld pos %lld", (long long)r,
                      (long long)j);
        }
    }
    free(rv);
    free(ri);
    free(v);
}

Test(topk, random_shapes_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(11);
    struct { int ndim; int64_t shape[3]; int64_t k; } cases[] = {
        {3, {2, 3, 17}, 5}, {1, {7}, 7}, {2, {4, 1}, 1}, {2, {3, 100}, 10},
        {3, {2, 5, 33}, 33}, {2, {65, 257}, 3}, {2, {9, 1000}, 999},
        {2, {12, 577}, 145}, {2, {3, 1025}, 257}, {2, {2, 64}, 33}, // select-then-sort (k > 32)
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t n = 1;
        for (int d = 0; d < cases[i].ndim; d++) n *= cases[i].shape[d];
        float *x = random_floats(&rng, n);
        check_topk(c, x, cases[i].ndim, cases[i].shape, cases[i].k);
        free(x);
        seer_ctx_reset(c);
    }
    seer_ctx_free(c);
}

Test(topk, ties_keep_lower_index_and_k_equals_n) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float row[] = {3, 1, 3, 2, 3, 1};
    seer_tensor *t = upload(c, row, 1, (int64_t[]){6});
    seer_tensor *vals, *inds;
    cr_assert_eq(seer_topk(c, t, 6, &vals, &inds), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    const int64_t expect_i[] = {0, 2, 4, 3, 1, 5};
    const float expect_v[] = {3, 3, 3, 2, 1, 1};
    for (int j = 0; j < 6; j++) {
        cr_assert_eq(((int64_t *)inds->data)[j], expect_i[j], "pos %d", j);
        cr_assert_eq(((float *)vals->data)[j], expect_v[j], "pos %d", j);
    }
    // Many ties: values on a coarse grid, every k.
    seer_rng rng = seer_rng_new(5);
    float *x = random_floats(&rng, 4 * 40);
    for (int i = 0; i < 160; i++) x[i] = roundf(x[i] * 2.0f);
    for (int64_t k = 1; k <= 40; k += 3) check_topk(c, x, 2, (int64_t[]){4, 40}, k);
    free(x);
    // The same past the heap's range (quickselect): ties and NaNs among 600 values.
    x = random_floats(&rng, 3 * 600);
    for (int i = 0; i < 1800; i++) x[i] = i % 97 == 0 ? NAN : roundf(x[i] * 2.0f);
    for (int64_t k = 33; k <= 600; k += 141) check_topk(c, x, 2, (int64_t[]){3, 600}, k);
    free(x);
    seer_ctx_free(c);
}

Test(topk, nan_is_largest_and_indices_only) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float row[] = {1, NAN, 5, NAN, 2, -INFINITY, INFINITY};
    seer_tensor *t = upload(c, row, 1, (int64_t[]){7});
    seer_tensor *inds;
    cr_assert_eq(seer_topk(c, t, 4, NULL, &inds), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    const int64_t expect[] = {1, 3, 6, 2};
    for (int j = 0; j < 4; j++) cr_assert_eq(((int64_t *)inds->data)[j], expect[j], "pos %d", j);
    check_topk(c, row, 1, (int64_t[]){7}, 7);
    seer_ctx_free(c);
}

Test(topk, non_contiguous_input) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(8);
    float *x = random_floats(&rng, 6 * 11);
    seer_tensor *t = upload(c, x, 2, (int64_t[]){6, 11});
    seer_tensor *p = seer_permute(c, t, (int[]){1, 0});  // [11, 6] view
    seer_tensor *inds;
    cr_assert_eq(seer_topk(c, p, 3, NULL, &inds), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    float col[6], rv[3];
    int64_t ri[3];
    for (int r = 0; r < 11; r++) {
        for (int i = 0; i < 6; i++) col[i] = x[i * 11 + r];
        naive_topk(col, 6, 3, rv, ri);
        for (int j = 0; j < 3; j++) cr_assert_eq(((int64_t *)inds->data)[r * 3 + j], ri[j]);
    }
    free(x);
    seer_ctx_free(c);
}

Test(topk, errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    // Inputs over host memory (not the arena), so they outlive the resets of expect_fail.
    float x[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    seer_tensor host = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 2, (int64_t[]){2, 5});
    seer_tensor *t = &host;
    seer_tensor *vals = (seer_tensor *)1, *inds = (seer_tensor *)1;
    cr_assert_eq(seer_topk(c, t, 0, &vals, &inds), SEER_STATUS_ARG);
    cr_assert_null(vals);
    cr_assert_null(inds);
    expect_fail(c, SEER_STATUS_ARG, "k = 0");
    cr_assert_eq(seer_topk(c, t, 6, &vals, &inds), SEER_STATUS_ARG);
    expect_fail(c, SEER_STATUS_ARG, "[2, 5] f32");
    cr_assert_eq(seer_topk(c, NULL, 1, &vals, &inds), SEER_STATUS_ARG);
    expect_fail(c, SEER_STATUS_ARG, "topk: input is NULL");
    seer_tensor gpu = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CUDA, 2, (int64_t[]){2, 5});
    cr_assert_eq(seer_topk(c, &gpu, 1, &vals, &inds), SEER_STATUS_DEVICE);
    expect_fail(c, SEER_STATUS_DEVICE, "topk");
    cr_assert_null(seer_argmax(c, &gpu));
    expect_fail(c, SEER_STATUS_DEVICE, "argmax");
    cr_assert_null(seer_argmax(c, NULL));
    expect_fail(c, SEER_STATUS_ARG, "argmax: input 0 is NULL");
    seer_ctx_free(c);
}

// Normalized cumulative sums as torch 1.13's CPU multinomial makes them (float running sums
// divided by the total, the last one forced to 1) into cum [V].
static void multinomial_cum(const float *p, int64_t V, float *cum) {
    float sum = 0.0f;
    for (int64_t v = 0; v < V; v++) cum[v] = sum += p[v];
    if (sum > 0.0f)
        for (int64_t v = 0; v < V; v++) cum[v] /= sum;
    cum[V - 1] = 1.0f;
}

// Its draw: the first index whose cumulative value is >= u, by binary search with a double u
// (what the ENAT sampler did on the host before seer_sample_inverse_cdf).
static int64_t multinomial_draw(const float *cum, int64_t V, double u) {
    int64_t lo = 0, hi = V;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if ((double)cum[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

Test(topk, sample_inverse_cdf_is_the_multinomial_draw) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(21);
    const int64_t rows = 800, V = 37;
    float *p = malloc((size_t)(rows * V) * sizeof *p), *u = malloc((size_t)rows * sizeof *u);
    float *cum = malloc((size_t)(rows * V) * sizeof *cum);
    double *ud = malloc((size_t)rows * sizeof *ud);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t v = 0; v < V; v++) { // peaked, flat, sparse, or (row 7) all zero
            float x = fabsf(seer_rng_normal(&rng));
            p[r * V + v] = r % 4 == 0 ? x * x * x * x : r % 4 == 1 ? 1.0f : (r % 4 == 2 && v % 3) ? 0.0f : x;
            if (r == 7) p[r * V + v] = 0.0f;
        }
        multinomial_cum(p + r * V, V, cum + r * V);
        // u a double between floats; every other row just above or below a cumulative value,
        // where rounding the threshold to F32 decides the draw
        double e = 1e-12 * (r % 3 ? 1 : -1);
        ud[r] = r % 2 ? seer_rng_uniform(&rng) + 1e-9 * seer_rng_uniform(&rng)
                      : cum[r * V + (int64_t)(seer_rng_uniform(&rng) * (V - 1))] + e;
        if (!(ud[r] > 0.0 && ud[r] < 1.0)) ud[r] = 0.5;
        float f = (float)ud[r];
        u[r] = (double)f < ud[r] ? nextafterf(f, INFINITY) : f; // as the sampler passes it
    }
    u[5] = -1.0f; // not drawn
    seer_tensor *tp = seer_from_host(c, p, SEER_F32, 2, (int64_t[]){rows, V});
    seer_tensor *tu = seer_from_host(c, u, SEER_F32, 1, (int64_t[]){rows});
    seer_tensor *idx = seer_sample_inverse_cdf(c, tp, tu);
    cr_assert_not_null(idx, "%s", seer_ctx_error(c));
    cr_assert_eq(idx->dtype, SEER_I64);
    const int64_t *got = idx->data;
    for (int64_t r = 0; r < rows; r++) {
        int64_t want = r == 5 ? -1 : multinomial_draw(cum + r * V, V, ud[r]);
        cr_assert_eq(got[r], want, "row %lld: %lld, want %lld", (long long)r, (long long)got[r],
                     (long long)want);
    }
    // u of another shape
    cr_assert_null(seer_sample_inverse_cdf(c, tp, seer_from_host(c, u, SEER_F32, 1, (int64_t[]){rows - 1})));
    expect_fail(c, SEER_STATUS_SHAPE, "same leading dims");
    free(p), free(u), free(cum), free(ud);
    seer_ctx_free(c);
}

Test(topk, argmax_first_max_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(12);
    const int64_t shapes[][3] = {{2, 3, 17}, {1, 1, 1}, {5, 7, 300}};
    for (int s = 0; s < 3; s++) {
        int64_t rows = shapes[s][0] * shapes[s][1], n = shapes[s][2];
        float *x = random_floats(&rng, rows * n);
        for (int64_t i = 0; i < rows * n; i++) x[i] = roundf(x[i] * 3.0f);  // ties
        seer_tensor *a = seer_argmax(c, upload(c, x, 3, shapes[s]));
        cr_assert_not_null(a, "%s", seer_ctx_error(c));
        cr_assert_eq(a->dtype, SEER_I64);
        cr_assert_eq(a->ndim, 2);
        cr_assert_eq(a->shape[1], shapes[s][1]);
        for (int64_t r = 0; r < rows; r++) {
            int64_t best = 0;
            for (int64_t i = 1; i < n; i++)
                if (x[r * n + i] > x[r * n + best]) best = i;
            cr_assert_eq(((int64_t *)a->data)[r], best, "row %lld", (long long)r);
        }
        free(x);
    }
    float nan_row[] = {1, 9, NAN, 9, NAN};
    seer_tensor *a = seer_argmax(c, upload(c, nan_row, 1, (int64_t[]){5}));
    cr_assert_not_null(a);
    cr_assert_eq(a->ndim, 0);
    cr_assert_eq(((int64_t *)a->data)[0], 2);
    seer_ctx_free(c);
}

// ---- concat / split ------------------------------------------------------------------------

Test(index, concat_any_dim_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(21);
    const int64_t base[3] = {3, 4, 5};
    const int64_t along[3] = {2, 1, 6};  // sizes of the three inputs along the concat dim
    for (int dim = 0; dim < 3; dim++) {
        seer_tensor *ts[3];
        float *xs[3];
        int64_t shapes[3][3];
        for (int i = 0; i < 3; i++) {
            memcpy(shapes[i], base, sizeof base);
            shapes[i][dim] = along[i];
            xs[i] = random_floats(&rng, shapes[i][0] * shapes[i][1] * shapes[i][2]);
            ts[i] = upload(c, xs[i], 3, shapes[i]);
        }
        // dim given as negative once, to check normalization
        seer_tensor *y = seer_concat(c, (const seer_tensor *const *)ts, 3, dim == 2 ? -1 : dim);
        float *out = download(c, y);
        int64_t ys[3] = {base[0], base[1], base[2]};
        ys[dim] = along[0] + along[1] + along[2];
        for (int i = 0; i < 3; i++) cr_assert_eq(y->shape[i], ys[i]);
        for (int64_t a = 0; a < ys[0]; a++)
            for (int64_t b = 0; b < ys[1]; b++)
                for (int64_t e = 0; e < ys[2]; e++) {
                    int64_t co[3] = {a, b, e}, which = 0;
                    while (co[dim] >= shapes[which][dim]) co[dim] -= shapes[which++][dim];
                    const int64_t *s = shapes[which];
                    float expect = xs[which][(co[0] * s[1] + co[1]) * s[2] + co[2]];
                    cr_assert_eq(out[(a * ys[1] + b) * ys[2] + e], expect);
                }
        for (int i = 0; i < 3; i++) free(xs[i]);
        free(out);
    }
    seer_ctx_free(c);
}

Test(index, concat_and_split_errors) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    float x[24];
    seer_rng rng = seer_rng_new(3);
    seer_rng_fill(&rng, x, 24);
    // Inputs over host memory (not the arena), so they outlive the resets of expect_fail.
    seer_tensor ha = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 3, (int64_t[]){2, 3, 4});
    seer_tensor hb = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 3, (int64_t[]){2, 4, 3});
    const seer_tensor *a = &ha, *b = &hb;
    const seer_tensor *ab[] = {a, b};
    cr_assert_null(seer_concat(c, ab, 2, 1));
    expect_fail(c, SEER_STATUS_SHAPE,
                "input 1 is [2, 4, 3] f32, expected input 0's shape [2, 3, 4]");
    const seer_tensor *an[] = {a, NULL};
    cr_assert_null(seer_concat(c, an, 2, 0));
    expect_fail(c, SEER_STATUS_ARG, "concat: input 1 is NULL");
    cr_assert_null(seer_concat(c, ab, 2, 3));
    expect_fail(c, SEER_STATUS_SHAPE, "dim 3 out of range");

    seer_tensor *outs[2];
    cr_assert_eq(seer_split(c, a, 2, (int64_t[]){1, 2}, 2, outs), SEER_STATUS_SHAPE);
    cr_assert_null(outs[0]);
    expect_fail(c, SEER_STATUS_SHAPE, "sizes sum to 3, dim 2 of [2, 3, 4] f32 has 4");
    cr_assert_eq(seer_split(c, NULL, 0, (int64_t[]){1}, 1, outs), SEER_STATUS_ARG);
    expect_fail(c, SEER_STATUS_ARG, "split: input is NULL");
    seer_tensor gpu = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CUDA, 1, (int64_t[]){24});
    const seer_tensor *ag[] = {a, &gpu};
    cr_assert_null(seer_concat(c, ag, 2, 0));
    expect_fail(c, SEER_STATUS_DEVICE, "concat");
    seer_ctx_free(c);
}

Test(index, split_any_dim_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(22);
    const int64_t shape[3] = {3, 7, 5};
    float *x = random_floats(&rng, 105);
    seer_tensor *t = upload(c, x, 3, shape);
    for (int dim = 0; dim < 3; dim++) {
        int64_t sizes[3] = {1, 0, shape[dim] - 1};
        seer_tensor *outs[3];
        cr_assert_eq(seer_split(c, t, dim, sizes, 3, outs), SEER_STATUS_OK, "%s",
                     seer_ctx_error(c));
        int64_t start = 0;
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(outs[i]->shape[dim], sizes[i]);
            cr_assert(seer_tensor_is_contiguous(outs[i]));
            const float *o = outs[i]->data;
            const int64_t *s = outs[i]->shape;
            for (int64_t a = 0; a < s[0]; a++)
                for (int64_t b = 0; b < s[1]; b++)
                    for (int64_t e = 0; e < s[2]; e++) {
                        int64_t co[3] = {a, b, e};
                        co[dim] += start;
                        cr_assert_eq(o[(a * s[1] + b) * s[2] + e],
                                     x[(co[0] * 7 + co[1]) * 5 + co[2]]);
                    }
            start += sizes[i];
        }
    }
    free(x);
    seer_ctx_free(c);
}

// ---- index_select / gather / scatter -------------------------------------------------------

// An index tensor of dtype dt over host memory `mem` (room for n int64) holding vals.
static seer_tensor make_index(void *mem, seer_dtype dt, const int64_t *vals, int ndim,
                              const int64_t *shape) {
    seer_tensor t = seer_tensor_wrap(mem, dt, SEER_DEVICE_CPU, ndim, shape);
    for (int64_t i = 0; i < seer_tensor_numel(&t); i++) {
        if (dt == SEER_I64)
            ((int64_t *)mem)[i] = vals[i];
        else
            ((int32_t *)mem)[i] = (int32_t)vals[i];
    }
    return t;
}

Test(index, index_select_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(31);
    const int64_t shape[3] = {4, 5, 6};
    float *x = random_floats(&rng, 120);
    seer_tensor *t = upload(c, x, 3, shape);
    int64_t vals[7], mem[7];
    for (int dim = 0; dim < 3; dim++)
        for (int dt = 0; dt < 2; dt++) {
            for (int i = 0; i < 7; i++)
                vals[i] = (int64_t)(seer_rng_u64(&rng) % (uint64_t)shape[dim]);
            seer_tensor idx = make_index(mem, dt ? SEER_I64 : SEER_I32, vals, 1, (int64_t[]){7});
            seer_tensor *y = seer_index_select(c, t, dim, &idx);
            cr_assert_not_null(y, "%s", seer_ctx_error(c));
            int64_t ys[3] = {4, 5, 6};
            ys[dim] = 7;
            for (int d = 0; d < 3; d++) cr_assert_eq(y->shape[d], ys[d]);
            const float *o = y->data;
            for (int64_t a = 0; a < ys[0]; a++)
                for (int64_t b = 0; b < ys[1]; b++)
                    for (int64_t e = 0; e < ys[2]; e++) {
                        int64_t co[3] = {a, b, e};
                        co[dim] = vals[co[dim]];
                        cr_assert_eq(o[(a * ys[1] + b) * ys[2] + e],
                                     x[(co[0] * 5 + co[1]) * 6 + co[2]]);
                    }
        }
    // Errors, on an input over host memory (not the arena) that outlives expect_fail's reset.
    seer_tensor hx = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 3, shape);
    t = &hx;
    // out of range and negative indices: a SHAPE error naming the index
    int64_t bad[3] = {0, 5, 1};
    seer_tensor idx = make_index(mem, SEER_I64, bad, 1, (int64_t[]){3});
    cr_assert_null(seer_index_select(c, t, 1, &idx));
    expect_fail(c, SEER_STATUS_SHAPE,
                "index 5 (element 1 of the index tensor) is out of range for dim 1 of size 5");
    int64_t neg[2] = {-1, 0};
    idx = make_index(mem, SEER_I32, neg, 1, (int64_t[]){2});
    cr_assert_null(seer_index_select(c, t, 0, &idx));
    expect_fail(c, SEER_STATUS_SHAPE, "index -1");
    // 2-d idx, float idx, NULL
    idx = make_index(mem, SEER_I64, vals, 2, (int64_t[]){2, 3});
    cr_assert_null(seer_index_select(c, t, 0, &idx));
    expect_fail(c, SEER_STATUS_SHAPE, "idx must be 1-d, got [2, 3] i64");
    cr_assert_null(seer_index_select(c, t, 0, t));
    expect_fail(c, SEER_STATUS_SHAPE, "index tensor must be i32 or i64");
    cr_assert_null(seer_index_select(c, t, 0, NULL));
    expect_fail(c, SEER_STATUS_ARG, "input 1 is NULL");
    free(x);
    seer_ctx_free(c);
}

// out[a][b][e] = x[.. idx[a][b][e] at dim ..] on 3-d tensors.
Test(index, gather_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(41);
    const int64_t xs[3] = {3, 6, 5};
    float *x = random_floats(&rng, 90);
    seer_tensor *t = upload(c, x, 3, xs);
    int64_t vals[200], mem[200];
    for (int dim = 0; dim < 3; dim++)
        for (int dt = 0; dt < 2; dt++) {
            // idx smaller than x outside dim (2, 4, 3), larger along dim (7)
            int64_t is[3] = {2, 4, 3};
            is[dim] = 7;
            int64_t n = is[0] * is[1] * is[2];
            for (int64_t i = 0; i < n; i++)
                vals[i] = (int64_t)(seer_rng_u64(&rng) % (uint64_t)xs[dim]);
            seer_tensor idx = make_index(mem, dt ? SEER_I64 : SEER_I32, vals, 3, is);
            seer_tensor *y = seer_gather(c, t, dim - (dt ? 3 : 0), &idx);
            cr_assert_not_null(y, "%s", seer_ctx_error(c));
            cr_assert(seer_tensor_same_shape(y, &idx));
            const float *o = y->data;
            for (int64_t a = 0; a < is[0]; a++)
                for (int64_t b = 0; b < is[1]; b++)
                    for (int64_t e = 0; e < is[2]; e++) {
                        int64_t lin = (a * is[1] + b) * is[2] + e, co[3] = {a, b, e};
                        co[dim] = vals[lin];
                        cr_assert_eq(o[lin], x[(co[0] * xs[1] + co[1]) * xs[2] + co[2]],
                                     "dim %d at (%lld, %lld, %lld)", dim, (long long)a,
                                     (long long)b, (long long)e);
                    }
        }
    // Errors, on an input over host memory (not the arena) that outlives expect_fail's reset.
    seer_tensor hx = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 3, xs);
    t = &hx;
    // idx wider than x outside dim; out of range; wrong ndim
    int64_t z[64] = {0};
    seer_tensor idx = make_index(mem, SEER_I64, z, 3, (int64_t[]){3, 2, 6});
    cr_assert_null(seer_gather(c, t, 1, &idx));
    expect_fail(c, SEER_STATUS_SHAPE,
                "idx [3, 2, 6] i64 must have the ndim of x [3, 6, 5] f32 and no larger size "
                "outside dim 1");
    z[5] = 6;
    idx = make_index(mem, SEER_I64, z, 3, (int64_t[]){1, 2, 3});
    cr_assert_null(seer_gather(c, t, 1, &idx));
    expect_fail(c, SEER_STATUS_SHAPE,
                "index 6 (element 5 of the index tensor) is out of range for dim 1 of size 6");
    idx = make_index(mem, SEER_I64, z, 2, (int64_t[]){1, 2});
    cr_assert_null(seer_gather(c, t, 1, &idx));
    expect_fail(c, SEER_STATUS_SHAPE, "must have the ndim of x");
    seer_tensor gpu = seer_tensor_wrap(mem, SEER_I64, SEER_DEVICE_CUDA, 1, (int64_t[]){2});
    cr_assert_null(seer_gather(c, t, 0, &gpu));
    expect_fail(c, SEER_STATUS_DEVICE, "gather");
    free(x);
    seer_ctx_free(c);
}

// y = x; y[.. idx at dim ..] = src in row-major order of idx (duplicates: last wins).
Test(index, scatter_vs_naive) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(51);
    const int64_t xs[3] = {4, 5, 6};
    const int64_t ss[3] = {4, 7, 6};  // src: at least idx's size in every dim
    float *x = random_floats(&rng, 120), *src = random_floats(&rng, 168);
    seer_tensor *tx = upload(c, x, 3, xs), *ts = upload(c, src, 3, ss);
    float *ref = malloc(120 * sizeof *ref);
    int64_t vals[200], mem[200];
    for (int dim = 0; dim < 3; dim++)
        for (int dt = 0; dt < 2; dt++) {
            int64_t is[3] = {3, 4, 5};
            is[dim] = dim == 1 ? 7 : 4;  // more entries than x's size: duplicates guaranteed
            int64_t n = is[0] * is[1] * is[2];
            for (int64_t i = 0; i < n; i++)
                vals[i] = (int64_t)(seer_rng_u64(&rng) % (uint64_t)xs[dim]);
            seer_tensor idx = make_index(mem, dt ? SEER_I64 : SEER_I32, vals, 3, is);
            seer_tensor *y = seer_scatter(c, tx, dim, &idx, ts);
            cr_assert_not_null(y, "%s", seer_ctx_error(c));
            cr_assert(seer_tensor_same_shape(y, tx));
            memcpy(ref, x, 120 * sizeof *ref);
            for (int64_t a = 0; a < is[0]; a++)
                for (int64_t b = 0; b < is[1]; b++)
                    for (int64_t e = 0; e < is[2]; e++) {
                        int64_t co[3] = {a, b, e};
                        co[dim] = vals[(a * is[1] + b) * is[2] + e];
                        ref[(co[0] * xs[1] + co[1]) * xs[2] + co[2]] =
                            src[(a * ss[1] + b) * ss[2] + e];
                    }
            const float *o = y->data;
            for (int i = 0; i < 120; i++) cr_assert_eq(o[i], ref[i], "dim %d elem %d", dim, i);
        }
    // Errors, on inputs over host memory (not the arena) that outlive expect_fail's reset.
    seer_tensor hx = seer_tensor_wrap(x, SEER_F32, SEER_DEVICE_CPU, 3, xs);
    seer_tensor hs = seer_tensor_wrap(src, SEER_F32, SEER_DEVICE_CPU, 3, ss);
    tx = &hx;
    ts = &hs;
    // src smaller than idx; out of range; src dtype
    int64_t z[200] = {0};
    seer_tensor idx = make_index(mem, SEER_I64, z, 3, (int64_t[]){4, 8, 6});
    cr_assert_null(seer_scatter(c, tx, 1, &idx, ts));
    expect_fail(c, SEER_STATUS_SHAPE, "idx [4, 8, 6] i64 must have the ndim of src [4, 7, 6] f32");
    z[3] = -2;
    idx = make_index(mem, SEER_I32, z, 3, (int64_t[]){1, 2, 3});
    cr_assert_null(seer_scatter(c, tx, 2, &idx, ts));
    expect_fail(c, SEER_STATUS_SHAPE,
                "index -2 (element 3 of the index tensor) is out of range for dim 2 of size 6");
    seer_tensor *ti = seer_to(c, ts, SEER_I32);
    cr_assert_null(seer_scatter(c, tx, 2, &idx, ti));
    expect_fail(c, SEER_STATUS_SHAPE, "src is i32, x is f32");
    cr_assert_null(seer_scatter(c, tx, 2, &idx, NULL));
    expect_fail(c, SEER_STATUS_ARG, "input 2 is NULL");
    free(x);
    free(src);
    free(ref);
    seer_ctx_free(c);
}

Test(index, non_contiguous_inputs) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(61);
    float *x = random_floats(&rng, 4 * 9);
    seer_tensor *t = upload(c, x, 2, (int64_t[]){4, 9});
    seer_tensor *p = seer_permute(c, t, (int[]){1, 0});  // [9, 4] view: p[i][j] = x[j][i]
    int64_t vals[3] = {3, 0, 3}, mem[3];
    seer_tensor idx = make_index(mem, SEER_I64, vals, 1, (int64_t[]){3});
    seer_tensor *y = seer_index_select(c, p, 1, &idx);  // [9, 3]
    cr_assert_not_null(y, "%s", seer_ctx_error(c));
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(((float *)y->data)[i * 3 + j], x[vals[j] * 9 + i]);
    const seer_tensor *two[] = {p, y};
    seer_tensor *cat = seer_concat(c, two, 2, 1);  // [9, 7]
    cr_assert_not_null(cat, "%s", seer_ctx_error(c));
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 4; j++) cr_assert_eq(((float *)cat->data)[i * 7 + j], x[j * 9 + i]);
    free(x);
    seer_ctx_free(c);
}
