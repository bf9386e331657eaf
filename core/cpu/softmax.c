// CPU softmax / log-softmax over the last dim and reductions over one dim (F32).
#include <math.h>
#include <stdlib.h>

#include "core/cpu/cpu_kernels.h"

// Rows at least this many elements in total before OpenMP splits the work.
#define SEER_CPU_SM_PARALLEL 32768

// One row of L values: v = scale * x + bias, then softmax (or log-softmax) into y.
// bias is read with stride bs (0 when it broadcasts along the row); NULL means none.
static void softmax_row(float *y, const float *x, const float *bias, int64_t bs, int64_t L,
                        float scale, bool log_out) {
    float m = -INFINITY;
    for (int64_t j = 0; j < L; j++) {
        float v = scale * x[j] + (bias ? bias[j * bs] : 0.0f);
        y[j] = v;
        m = v > m ? v : m;
    }
    if (m == -INFINITY) {
        // Every entry masked: softmax gives zeros (not 0/0 = NaN); log-softmax log(0).
        float fill = log_out ? -INFINITY : 0.0f;
        for (int64_t j = 0; j < L; j++)
            y[j] = fill;
        return;
    }
    // Subtracting the row max keeps exp() <= 1; -inf entries become exp(-inf) = 0.
    float sum = 0.0f;
    if (log_out) {
        for (int64_t j = 0; j < L; j++)
            sum += expf(y[j] - m);
        float shift = m + logf(sum);
        for (int64_t j = 0; j < L; j++)
            y[j] -= shift;
    } else {
        for (int64_t j = 0; j < L; j++) {
            float e = expf(y[j] - m);
            y[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < L; j++)
            y[j] *= inv;
    }
}

// x: contiguous [..., L]; bias: NULL or x's shape with stride 0 on broadcast dims.
seer_status seer_cpu_softmax(seer_tensor *y, const seer_tensor *x, float scale,
                             const seer_tensor *bias, bool log_out) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32 || (bias && bias->dtype != SEER_F32))
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "cpu softmax: dtype %s is not supported (f32 only)",
                         seer_dtype_name(x->dtype != SEER_F32 || !bias ? x->dtype : bias->dtype));
    int nd = x->ndim;
    int64_t L = nd ? x->shape[nd - 1] : 1;
    int64_t numel = seer_tensor_numel(x);
    if (numel == 0) return SEER_STATUS_OK;
    int64_t rows = numel / L;
    float *yp = y->data;
    const float *xp = x->data, *bp = bias ? bias->data : NULL;
    int64_t bs = bias && nd ? bias->stride[nd - 1] : 0;
#pragma omp parallel for if (numel > SEER_CPU_SM_PARALLEL)
    for (int64_t r = 0; r < rows; r++) {
        const float *brow = NULL;
        if (bp) {
            // Offset of this row in the (possibly broadcast) bias.
            int64_t rem = r, off = 0;
            for (int d = nd - 2; d >= 0; d--) {
                off += (rem % x->shape[d]) * bias->stride[d];
                rem /= x->shape[d];
            }
            brow = bp + off;
        }
        softmax_row(yp + r * L, xp + r * L, brow, bs, L, scale, log_out);
    }
    return SEER_STATUS_OK;
}

// ---- reduce --------------------------------------------------------------------------------

// Columns reduced together when inner > 1: a block of accumulators walks down the n rows,
// so every load is contiguous.
#define SEER_CPU_REDUCE_COLS 64

// x: contiguous, viewed as [outer, n, inner]; y: [outer, inner]. Sums accumulate in double
// so long reductions stay within F32 rounding of the exact result.
seer_status seer_cpu_reduce(seer_tensor *y, const seer_tensor *x, int dim, seer_reduce_op op) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "cpu reduce: dtype %s is not supported (f32 only)",
                         seer_dtype_name(x->dtype));
    if ((int)op < 0 || op > SEER_REDUCE_MAX)
        return seer_fail(SEER_STATUS_ARG, "cpu reduce: unknown op %d", (int)op);
    if (dim < 0 || dim >= x->ndim)
        return seer_fail(SEER_STATUS_SHAPE, "cpu reduce: dim %d out of range for a %d-d tensor",
                         dim, x->ndim);
    int64_t outer = 1, inner = 1, n = x->shape[dim];
    for (int d = 0; d < dim; d++)
        outer *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++)
        inner *= x->shape[d];
    if (op == SEER_REDUCE_MAX && n == 0 && outer * inner > 0)
        return seer_fail(SEER_STATUS_SHAPE, "cpu reduce: max over an empty dim %d", dim);
    float *yp = y->data;
    const float *xp = x->data;
    int64_t col_blocks = (inner + SEER_CPU_REDUCE_COLS - 1) / SEER_CPU_REDUCE_COLS;
    int64_t units = outer * col_blocks;

#pragma omp parallel for if (outer * n * inner > SEER_CPU_SM_PARALLEL)
    for (int64_t u = 0; u < units; u++) {
        int64_t o = u / col_blocks;
        int64_t c0 = (u % col_blocks) * SEER_CPU_REDUCE_COLS;
        int64_t nc = inner - c0 < SEER_CPU_REDUCE_COLS ? inner - c0 : SEER_CPU_REDUCE_COLS;
        const float *base = xp + o * n * inner + c0;
        float *out = yp + o * inner + c0;
        if (op == SEER_REDUCE_MAX) {
            float m[SEER_CPU_REDUCE_COLS];
            for (int64_t c = 0; c < nc; c++)
                m[c] = base[c];
            for (int64_t i = 1; i < n; i++) {
                const float *row = base + i * inner;
                // NaN wins and stays, as torch.max.
                for (int64_t c = 0; c < nc; c++)
                    if (row[c] > m[c] || row[c] != row[c]) m[c] = row[c];
            }
            for (int64_t c = 0; c < nc; c++)
                out[c] = m[c];
        } else {
            double acc[SEER_CPU_REDUCE_COLS] = {0};
            for (int64_t i = 0; i < n; i++) {
                const float *row = base + i * inner;
                for (int64_t c = 0; c < nc; c++)
                    acc[c] += row[c];
            }
            // Mean over an empty dim is 0/0 = NaN, as PyTorch.
            double div = op == SEER_REDUCE_MEAN ? (double)n : 1.0;
            for (int64_t c = 0; c < nc; c++)
                out[c] = (float)(acc[c] / div);
        }
    }
    return SEER_STATUS_OK;
}
