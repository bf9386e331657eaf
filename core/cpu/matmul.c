// CPU matrix products: one row-major SGEMM entry point (OpenBLAS, or a plain blocked loop when
// the build has no BLAS) and the batched matmul kernel on top of it.
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

#ifdef SEER_BLAS
#include <cblas.h>
#endif

// Blocking of the plain GEMM: a packed [GEMM_KB, GEMM_NB] panel of op(B) (64 KiB) stays in
// L2 while every row of C streams over it.
#define GEMM_KB 64
#define GEMM_NB 256

// Below this many multiply-adds per product, a batch of products runs one product per
// thread with the plain GEMM: OpenBLAS would run each one single-threaded anyway, one after
// the other, and (pthread build) must not be called from inside an OpenMP region.
#define SMALL_PRODUCT_MACS (64 * 64 * 64)

static inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

// C = beta * C, with beta == 0 overwriting (so garbage or NaN in C never leaks through).
static void scale_rows(float *c, int64_t m, int64_t n, int64_t ldc, float beta) {
    if (beta == 1.0f) return;
#pragma omp parallel for if (m * n > 65536)
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0.0f)
            memset(row, 0, (size_t)n * sizeof *row);
        else
            for (int64_t j = 0; j < n; j++)
                row[j] *= beta;
    }
}

// C[m, n] += alpha * op(A) @ op(B): pack a panel of op(B) so the inner loop runs over
// contiguous columns whatever the transposes, then one row of C per iteration. When called
// inside a parallel region (batched small products) the inner pragma runs on one thread.
static void gemm_plain(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                       int64_t ldc) {
    float panel[GEMM_KB * GEMM_NB];
    for (int64_t j0 = 0; j0 < n; j0 += GEMM_NB) {
        int64_t nb = min64(GEMM_NB, n - j0);
        for (int64_t k0 = 0; k0 < k; k0 += GEMM_KB) {
            int64_t kb = min64(GEMM_KB, k - k0);
            // panel[kk, jj] = op(B)[k0 + kk, j0 + jj]
            if (tb) {
                for (int64_t jj = 0; jj < nb; jj++)
                    for (int64_t kk = 0; kk < kb; kk++)
                        panel[kk * nb + jj] = b[(j0 + jj) * ldb + k0 + kk];
            } else {
                for (int64_t kk = 0; kk < kb; kk++)
                    memcpy(panel + kk * nb, b + (k0 + kk) * ldb + j0, (size_t)nb * sizeof(float));
            }
#pragma omp parallel for if (m * nb * kb > 65536)
            for (int64_t i = 0; i < m; i++) {
                float *crow = c + i * ldc + j0;
                for (int64_t kk = 0; kk < kb; kk++) {
                    float aik = alpha * (ta ? a[(k0 + kk) * lda + i] : a[i * lda + k0 + kk]);
                    const float *bk = panel + kk * nb;
                    for (int64_t jj = 0; jj < nb; jj++)
                        crow[jj] += aik * bk[jj];
                }
            }
        }
    }
}

// Row-major C[m, n] = alpha * op(A) @ op(B) + beta * C; op(A) is [m, k], op(B) is [k, n];
// leading dims in elements. Shared with the convolution kernels (core/cpu/conv.c).
// Inside an OpenMP parallel region it runs serially (CMake links the OpenMP build of
// OpenBLAS, which does not nest; the pthread build would oversubscribe the cores).
void seer_cpu_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                    int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_rows(c, m, n, ldc, beta);
        return;
    }
#ifdef SEER_BLAS
    // cblas takes int sizes: split very tall products by rows (n, k and the leading dims of
    // real models are far below INT_MAX).
    const int64_t chunk = INT_MAX / 2;
    for (int64_t i0 = 0; i0 < m; i0 += chunk) {
        int64_t mb = min64(chunk, m - i0);
        const float *ai = ta ? a + i0 : a + i0 * lda;
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (int)mb, (int)n, (int)k, alpha, ai, (int)lda, b, (int)ldb, beta, c + i0 * ldc,
                    (int)ldc);
    }
#else
    scale_rows(c, m, n, ldc, beta);
    gemm_plain(ta, tb, m, n, k, alpha, a, lda, b, ldb, c, ldc);
#endif
}

// out: [B, M, N]; a: [Ba, M, K] (ta: [Ba, K, M]); b: [Bb, K, N] (tb: [Bb, N, K]);
// Ba, Bb in {1, B}; all contiguous. bias: [N] F32 or NULL, added after alpha.
seer_status seer_cpu_matmul(seer_tensor *out, const seer_tensor *a, const seer_tensor *b,
                            bool trans_a, bool trans_b, float alpha, const seer_tensor *bias) {
    if (out->dtype != SEER_F32 || a->dtype != SEER_F32 || b->dtype != SEER_F32)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu matmul computes in f32 only, got %s",
                         seer_dtype_name(a->dtype));
    const int64_t nb = out->shape[0], m = out->shape[1], n = out->shape[2];
    const int64_t k = trans_a ? a->shape[1] : a->shape[2];
    const int64_t ba = a->shape[0], bb = b->shape[0];
    const int64_t lda = a->shape[2], ldb = b->shape[2];
    // Per-batch element steps; 0 for a side shared by every product.
    const int64_t sa = ba == 1 ? 0 : m * k, sb = bb == 1 ? 0 : k * n;
    const float *ap = a->data, *bp = b->data;
    float *cp = out->data;
    if (nb == 0 || m == 0 || n == 0) return SEER_STATUS_OK;

    if (bb == 1 && !trans_a) {
        // Shared weight: the batch of rows of a is one tall [B*M, K] matrix, one product.
        seer_cpu_sgemm(false, trans_b, ba * m, n, k, alpha, ap, lda, bp, ldb, 0.0f, cp, n);
    } else if (nb > 1 && m * n * k <= SMALL_PRODUCT_MACS) {
#pragma omp parallel for
        for (int64_t i = 0; i < nb; i++) {
            float *ci = cp + i * m * n;
            memset(ci, 0, (size_t)(m * n) * sizeof *ci);
            gemm_plain(trans_a, trans_b, m, n, k, alpha, ap + i * sa, lda, bp + i * sb, ldb, ci, n);
        }
    } else {
        for (int64_t i = 0; i < nb; i++)
            seer_cpu_sgemm(trans_a, trans_b, m, n, k, alpha, ap + i * sa, lda, bp + i * sb, ldb,
                           0.0f, cp + i * m * n, n);
    }

    if (bias) {
        const float *bv = bias->data;
        const int64_t rows = nb * m;
#pragma omp parallel for if (rows * n > 65536)
        for (int64_t r = 0; r < rows; r++) {
            float *row = cp + r * n;
            for (int64_t j = 0; j < n; j++)
                row[j] += bv[j];
        }
    }
    return SEER_STATUS_OK;
}
