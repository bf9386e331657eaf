// CPU kernels for selection and indexing: topk, argmax, concat, index_select, gather, scatter.
// The fronts (core/ops_index.c) hand over contiguous tensors; index tensors are I32 or I64 and
// are bounds-checked here, before anything is written, so a bad index is an error, not a crash.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

// Element i of a contiguous I32/I64 index tensor.
static inline int64_t index_at(const seer_tensor *idx, int64_t i) {
    return idx->dtype == SEER_I64 ? ((const int64_t *)idx->data)[i]
                                  : (int64_t)((const int32_t *)idx->data)[i];
}

// One element of es bytes; fixed sizes let the compiler inline the copy.
static inline void copy_elem(char *dst, const char *src, size_t es) {
    switch (es) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
    }
}

// Every index in [0, n), else a SHAPE error naming the first bad one and where it sits.
static seer_status check_indices(const seer_tensor *idx, int64_t n, int dim) {
    int64_t count = seer_tensor_numel(idx);
    for (int64_t i = 0; i < count; i++) {
        int64_t v = index_at(idx, i);
        if (v < 0 || v >= n)
            return seer_fail(SEER_STATUS_SHAPE,
                             "index %lld (element %lld of the index tensor) is out of range "
                             "for dim %d of size %lld",
                             (long long)v, (long long)i, dim, (long long)n);
    }
    return SEER_STATUS_OK;
}

// ---- topk / argmax -------------------------------------------------------------------------

typedef struct topk_item {
    float v;
    int64_t i;
} topk_item;

// Order of the result: larger first; NaN above every number (as torch.topk); equal values
// (and NaNs among themselves) by lower index. A strict total order since indices differ.
static inline bool ranks_before(topk_item a, topk_item b) {
    bool an = isnan(a.v), bn = isnan(b.v);
    if (an != bn) return an;
    if (!an && a.v != b.v) return a.v > b.v;
    return a.i < b.i;
}

// Heap of the k best seen so far with the worst at the root, so a newcomer is compared
// against one element: O(n log k) per row.
static void heap_sift_down(topk_item *h, int64_t n, int64_t pos) {
    for (;;) {
        int64_t l = 2 * pos + 1, r = l + 1, worst = pos;
        if (l < n && ranks_before(h[worst], h[l])) worst = l;
        if (r < n && ranks_before(h[worst], h[r])) worst = r;
        if (worst == pos) return;
        topk_item t = h[pos];
        h[pos] = h[worst];
        h[worst] = t;
        pos = worst;
    }
}

// The k best of row[0..n), best first, into h[0..k).
static void topk_row(const float *row, int64_t n, int64_t k, topk_item *h) {
    for (int64_t i = 0; i < k; i++) h[i] = (topk_item){row[i], i};
    for (int64_t i = k / 2 - 1; i >= 0; i--) heap_sift_down(h, k, i);
    for (int64_t i = k; i < n; i++) {
        topk_item it = {row[i], i};
        if (ranks_before(it, h[0])) {
            h[0] = it;
            heap_sift_down(h, k, 0);
        }
    }
    // Heap sort: repeatedly move the worst to the end, leaving h best-first.
    for (int64_t end = k - 1; end > 0; end--) {
        topk_item t = h[0];
        h[0] = h[end];
        h[end] = t;
        heap_sift_down(h, end, 0);
    }
}

// Above this k, select then sort (O(n + k log k)) instead of the heap (O(n log k) with a
// branchy sift per newcomer): Sparsifiner keeps a quarter of hundreds of keys per row.
#define TOPK_SELECT_MIN_K 32

static inline void swap_items(topk_item *a, int64_t i, int64_t j) {
    topk_item t = a[i];
    a[i] = a[j];
    a[j] = t;
}

// Rearranges a[0..n) so that a[0..k) are its k best (in no order): quickselect with a
// median-of-three pivot. ranks_before is a strict total order, so ties cannot stall it.
static void select_best(topk_item *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (ranks_before(a[mid], a[lo])) swap_items(a, lo, mid);
        if (ranks_before(a[hi], a[lo])) swap_items(a, lo, hi);
        if (ranks_before(a[hi], a[mid])) swap_items(a, mid, hi);
        swap_items(a, mid, hi); // the median as the pivot, at hi
        const topk_item pivot = a[hi];
        int64_t store = lo;
        for (int64_t i = lo; i < hi; i++)
            if (ranks_before(a[i], pivot)) swap_items(a, i, store++);
        swap_items(a, store, hi); // a[lo..store) better than the pivot, a(store..hi] worse
        if (store == k - 1 || store == k) return;
        if (store > k) hi = store - 1;
        else lo = store + 1;
    }
}

static int compare_items(const void *pa, const void *pb) {
    return ranks_before(*(const topk_item *)pa, *(const topk_item *)pb) ? -1 : 1;
}

// The k best of row[0..n), best first, into h[0..k); h holds n items.
static void topk_row_select(const float *row, int64_t n, int64_t k, topk_item *h) {
    for (int64_t i = 0; i < n; i++) h[i] = (topk_item){row[i], i};
    if (k < n) select_best(h, n, k);
    qsort(h, (size_t)k, sizeof *h, compare_items);
}

// x: [rows, n] -> values (or NULL), indices: [rows, k].
seer_status seer_cpu_topk(seer_tensor *values, seer_tensor *indices, const seer_tensor *x,
                          int64_t k) {
    if (x->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu topk: %s input (f32 only)",
                         seer_dtype_name(x->dtype));
    int64_t n = x->shape[x->ndim - 1];
    int64_t rows = n ? seer_tensor_numel(x) / n : 0;
    const float *xp = x->data;
    float *vp = values ? values->data : NULL;
    int64_t *ip = indices->data;
    bool oom = false;
#pragma omp parallel if (rows > 1 && rows * n > 16384)
    {
        const bool select = k > TOPK_SELECT_MIN_K;
        topk_item *h = malloc((size_t)(select ? n : k) * sizeof *h);
        if (!h) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for
        for (int64_t r = 0; r < rows; r++) {
            if (!h) continue;
            if (select) topk_row_select(xp + r * n, n, k, h);
            else topk_row(xp + r * n, n, k, h);
            for (int64_t j = 0; j < k; j++) {
                ip[r * k + j] = h[j].i;
                if (vp) vp[r * k + j] = h[j].v;
            }
        }
        free(h);
    }
    if (oom) return seer_fail(SEER_STATUS_OOM, "cpu topk: out of host memory for k = %lld",
                              (long long)k);
    return SEER_STATUS_OK;
}

// x: [rows, n] -> indices: [rows]; the first maximum, a NaN counting as the maximum (as
// torch.argmax).
seer_status seer_cpu_argmax(seer_tensor *indices, const seer_tensor *x) {
    if (x->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu argmax: %s input (f32 only)",
                         seer_dtype_name(x->dtype));
    int64_t n = x->shape[x->ndim - 1];
    int64_t rows = seer_tensor_numel(indices);
    const float *xp = x->data;
    int64_t *ip = indices->data;
#pragma omp parallel for if (rows > 1 && rows * n > 16384)
    for (int64_t r = 0; r < rows; r++) {
        const float *row = xp + r * n;
        int64_t best = 0;
        for (int64_t i = 1; i < n && !isnan(row[best]); i++)
            if (row[i] > row[best] || isnan(row[i])) best = i;
        ip[r] = best;
    }
    return SEER_STATUS_OK;
}

// One row of seer_sample_inverse_cdf, in the order every backend uses: the row's sum, then the
// running sum until it reaches u of it (a linear scan finds what a binary search over the
// normalized cumulative sums would: they never decrease).
static int64_t inverse_cdf_row(const float *p, int64_t V, float u) {
    if (u < 0.0f) return -1;
    float total = 0.0f;
    for (int64_t v = 0; v < V; v++) total += p[v];
    float run = 0.0f;
    for (int64_t v = 0; v < V - 1; v++) {
        run += p[v];
        if (!((total > 0.0f ? run / total : run) < u)) return v;
    }
    return V - 1;
}

seer_status seer_cpu_sample_inverse_cdf(seer_tensor *idx, const seer_tensor *probs,
                                        const seer_tensor *u) {
    const int64_t V = probs->shape[probs->ndim - 1], rows = seer_tensor_numel(u);
    const float *pp = probs->data, *up = u->data;
    int64_t *ip = idx->data;
#pragma omp parallel for if (rows * V > 65536)
    for (int64_t r = 0; r < rows; r++) ip[r] = inverse_cdf_row(pp + r * V, V, up[r]);
    return SEER_STATUS_OK;
}

// ---- concat / index_select -----------------------------------------------------------------

// Product of shape[from..to).
static int64_t span(const seer_tensor *t, int from, int to) {
    int64_t n = 1;
    for (int d = from; d < to; d++) n *= t->shape[d];
    return n;
}

// Each input viewed as [outer, n_i * inner] bytes; y row o is the inputs' rows o side by side.
seer_status seer_cpu_concat(seer_tensor *y, const seer_tensor *const *xs, int n, int dim) {
    size_t es = seer_dtype_size(y->dtype);
    int64_t outer = span(y, 0, dim);
    size_t inner = (size_t)span(y, dim + 1, y->ndim) * es;
    size_t yrow = (size_t)y->shape[dim] * inner;
    char *yp = y->data;
#pragma omp parallel for if (outer > 1 && (size_t)outer * yrow > (1u << 20))
    for (int64_t o = 0; o < outer; o++) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            size_t bytes = (size_t)xs[i]->shape[dim] * inner;
            const char *xp = (const char *)xs[i]->data + (size_t)o * bytes;
            if (bytes) memcpy(yp + (size_t)o * yrow + off, xp, bytes);
            off += bytes;
        }
    }
    return SEER_STATUS_OK;
}

// x: [outer, n, inner] -> y: [outer, m, inner] with y[o, j] = x[o, idx[j]].
seer_status seer_cpu_index_select(seer_tensor *y, const seer_tensor *x, int dim,
                                  const seer_tensor *idx) {
    SEER_TRY(check_indices(idx, x->shape[dim], dim));
    size_t es = seer_dtype_size(x->dtype);
    int64_t outer = span(x, 0, dim), n = x->shape[dim], m = idx->shape[0];
    size_t inner = (size_t)span(x, dim + 1, x->ndim) * es;
    const char *xp = x->data;
    char *yp = y->data;
    int64_t rows = outer * m;
#pragma omp parallel for if (rows > 1 && (size_t)rows * inner > (1u << 20))
    for (int64_t r = 0; r < rows; r++) {
        int64_t o = r / m, j = r % m;
        if (inner)
            memcpy(yp + (size_t)r * inner, xp + (size_t)(o * n + index_at(idx, j)) * inner,
                   inner);
    }
    return SEER_STATUS_OK;
}

// ---- gather / scatter ----------------------------------------------------------------------

// Offset in tensor `t` (its strides) of the coordinates, over dims [from, to), of element
// `lin` of the sub-block of `shape` spanning those dims; dim `skip` contributes nothing.
// The fronts guarantee the coordinates fit t.
static int64_t offset_of(const seer_tensor *t, const int64_t *shape, int from, int to, int skip,
                         int64_t lin) {
    int64_t off = 0;
    for (int d = to - 1; d >= from; d--) {
        int64_t c = lin % shape[d];
        lin /= shape[d];
        if (d != skip) off += c * t->stride[d];
    }
    return off;
}

// y[p] = x[p with p[dim] = idx[p]] for every position p of idx (y has idx's shape).
seer_status seer_cpu_gather(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx) {
    SEER_TRY(check_indices(idx, x->shape[dim], dim));
    size_t es = seer_dtype_size(x->dtype);
    int nd = idx->ndim;
    int64_t last = idx->shape[nd - 1];
    int64_t rows = last ? seer_tensor_numel(idx) / last : 0;
    int64_t dstride = x->stride[dim];
    const char *xp = x->data;
    char *yp = y->data;
    // One row of idx's last dim at a time: the offset of the other coordinates once per row.
#pragma omp parallel for if (rows > 1 && rows * last > 65536)
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = offset_of(x, idx->shape, 0, nd - 1, dim, r);
        for (int64_t j = 0; j < last; j++) {
            int64_t i = r * last + j;
            int64_t off = base + index_at(idx, i) * dstride + (dim == nd - 1 ? 0 : j);
            copy_elem(yp + (size_t)i * es, xp + (size_t)off * es, es);
        }
    }
    return SEER_STATUS_OK;
}

// y = x; then y[p with p[dim] = idx[p]] = src[p] for every position p of idx, in row-major
// order so the last duplicate wins. Positions that differ in a coordinate before `dim` never
// write the same element, so the prefix is the parallel loop and the rest stays in order.
seer_status seer_cpu_scatter(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx,
                             const seer_tensor *src) {
    SEER_TRY(check_indices(idx, x->shape[dim], dim));
    size_t es = seer_dtype_size(x->dtype);
    memcpy(y->data, x->data, seer_tensor_nbytes(x));
    int nd = idx->ndim;
    int64_t prefix = span(idx, 0, dim), rest = span(idx, dim, nd);
    int64_t dstride = y->stride[dim];
    const char *sp = src->data;
    char *yp = y->data;
#pragma omp parallel for if (prefix > 1 && prefix * rest > 65536)
    for (int64_t p = 0; p < prefix; p++) {
        int64_t ybase = offset_of(y, idx->shape, 0, dim, -1, p);
        int64_t sbase = offset_of(src, idx->shape, 0, dim, -1, p);
        for (int64_t q = 0; q < rest; q++) {
            int64_t yoff = ybase + offset_of(y, idx->shape, dim, nd, dim, q) +
                           index_at(idx, p * rest + q) * dstride;
            int64_t soff = sbase + offset_of(src, idx->shape, dim, nd, -1, q);
            copy_elem(yp + (size_t)yoff * es, sp + (size_t)soff * es, es);
        }
    }
    return SEER_STATUS_OK;
}
