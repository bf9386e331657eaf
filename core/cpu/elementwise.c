// CPU elementwise kernels: unary activations and broadcasting binary ops (F32).
#include <math.h>

#include "core/cpu/cpu_kernels.h"

// Work is split into blocks this long so OpenMP threads get whole cache lines and tiny
// tensors stay on one thread.
#define SEER_CPU_EW_BLOCK 16384

static seer_status refuse_dtype(const char *op, seer_dtype dt) {
    return seer_fail(SEER_STATUS_UNSUPPORTED, "cpu %s: dtype %s is not supported (f32 only)", op,
                     seer_dtype_name(dt));
}

// ---- unary ---------------------------------------------------------------------------------

// Stable for large |x|: exp is only taken of a non-positive number, so it never overflows.
static inline float sigmoid_f(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

// erf without a library call, so GELU's loop vectorizes (glibc's erff was 33% of VAN's CPU
// time): x P(x^2) / Q(x^2) on [-4, 4] (erf is +-1 in F32 beyond), a rational least-squares fit
// of our own (tools/fit_erf.py); max abs error 3.6e-7 evaluated in F32 against erf in double.
static inline float erf_f(float x0) {
    const float x = fminf(fmaxf(x0, -4.0f), 4.0f);
    const float t = x * x;
    const float p = 1.1283788681030273f +
                    t * (0.20611362159252167f +
                         t * (0.05138600617647171f +
                              t * (0.003965618088841438f +
                                   t * (0.00014822458615526557f +
                                        t * (-1.9775156943069305e-06f +
                                             t * 1.9667931283606777e-08f)))));
    const float q = 1.0f + t * (0.5159925818443298f +
                                t * (0.11755333840847015f +
                                     t * (0.014880657196044922f + t * 0.0010204738937318325f)));
    // erf(3.9) = 1 - 3.5e-8 rounds to 1 in F32: exactly +-1 from there (GELU(x) = x for large x)
    return fabsf(x0) >= 3.9f ? copysignf(1.0f, x0) : x * p / q;
}

// One block of n contiguous elements. The switch sits outside the loops so each loop
// is a plain vectorizable body.
static void unary_block(seer_unary_op op, int64_t n, float *y, const float *x, float alpha,
                        float beta) {
    const float inv_sqrt2 = 0.70710678118654752f;
    const float sqrt_2_over_pi = 0.79788456080286536f;
    switch (op) {
    case SEER_UNARY_RELU:
        // x < 0 ? 0 : x keeps NaN as NaN (PyTorch does too).
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] < 0.0f ? 0.0f : x[i];
        break;
    case SEER_UNARY_GELU:
        for (int64_t i = 0; i < n; i++)
            y[i] = 0.5f * x[i] * (1.0f + erf_f(x[i] * inv_sqrt2));
        break;
    case SEER_UNARY_GELU_TANH:
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            float inner = sqrt_2_over_pi * (v + 0.044715f * v * v * v);
            y[i] = 0.5f * v * (1.0f + tanhf(inner));
        }
        break;
    case SEER_UNARY_SILU:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * sigmoid_f(x[i]);
        break;
    case SEER_UNARY_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            y[i] = sigmoid_f(x[i]);
        break;
    case SEER_UNARY_TANH:
        for (int64_t i = 0; i < n; i++)
            y[i] = tanhf(x[i]);
        break;
    case SEER_UNARY_EXP:
        for (int64_t i = 0; i < n; i++)
            y[i] = expf(x[i]);
        break;
    case SEER_UNARY_SQRT:
        for (int64_t i = 0; i < n; i++)
            y[i] = sqrtf(x[i]);
        break;
    case SEER_UNARY_ABS:
        for (int64_t i = 0; i < n; i++)
            y[i] = fabsf(x[i]);
        break;
    case SEER_UNARY_AFFINE:
        for (int64_t i = 0; i < n; i++)
            y[i] = alpha * x[i] + beta;
        break;
    default: break;
    }
}

// x: contiguous, y's shape (the front made it so).
seer_status seer_cpu_unary(seer_tensor *y, const seer_tensor *x, seer_unary_op op, float alpha,
                           float beta) {
    if (x->dtype != SEER_F32 || y->dtype != SEER_F32) return refuse_dtype("unary", x->dtype);
    if ((int)op < 0 || op >= SEER_UNARY_COUNT)
        return seer_fail(SEER_STATUS_ARG, "cpu unary: unknown op %d", (int)op);
    int64_t n = seer_tensor_numel(y);
    int64_t blocks = (n + SEER_CPU_EW_BLOCK - 1) / SEER_CPU_EW_BLOCK;
    float *yp = y->data;
    const float *xp = x->data;
#pragma omp parallel for if (blocks > 1)
    for (int64_t blk = 0; blk < blocks; blk++) {
        int64_t start = blk * SEER_CPU_EW_BLOCK;
        int64_t len = n - start < SEER_CPU_EW_BLOCK ? n - start : SEER_CPU_EW_BLOCK;
        unary_block(op, len, yp + start, xp + start, alpha, beta);
    }
    return SEER_STATUS_OK;
}

// ---- binary --------------------------------------------------------------------------------

// One run of n outputs; a and b advance by sa, sb (each 0 or more). The stride patterns of
// the common cases get their own loops so the compiler vectorizes them.
#define SEER_BINARY_LOOPS(EXPR)                                                                    \
    do {                                                                                           \
        if (sa == 1 && sb == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float u = a[i], v = b[i];                                                          \
                y[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sa == 1 && sb == 0) {                                                           \
            float v = b[0];                                                                        \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float u = a[i];                                                                    \
                y[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sa == 0 && sb == 1) {                                                           \
            float u = a[0];                                                                        \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float v = b[i];                                                                    \
                y[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float u = a[i * sa], v = b[i * sb];                                                \
                y[i] = (EXPR);                                                                     \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void binary_run(seer_binary_op op, int64_t n, float *y, const float *a, int64_t sa,
                       const float *b, int64_t sb) {
    switch (op) {
    case SEER_BINARY_ADD: SEER_BINARY_LOOPS(u + v); break;
    case SEER_BINARY_SUB: SEER_BINARY_LOOPS(u - v); break;
    case SEER_BINARY_MUL: SEER_BINARY_LOOPS(u * v); break;
    case SEER_BINARY_DIV: SEER_BINARY_LOOPS(u / v); break;
    // NaN in either input gives NaN, as torch.maximum / torch.minimum.
    case SEER_BINARY_MAX: SEER_BINARY_LOOPS((u != u || u > v) ? u : v); break;
    case SEER_BINARY_MIN: SEER_BINARY_LOOPS((u != u || u < v) ? u : v); break;
    default: break;
    }
}

#undef SEER_BINARY_LOOPS

// a and b carry y's shape with stride 0 on broadcast dims. Size-1 dims are dropped and
// neighbouring dims that are laid out back to back in y, a and b alike are merged, so
// [2, 3, 4] + [4] becomes rows [6, 4] with b strides [0, 1], and same-shape contiguous
// inputs become one flat run.
seer_status seer_cpu_binary(seer_tensor *y, const seer_tensor *a, const seer_tensor *b,
                            seer_binary_op op) {
    if (a->dtype != SEER_F32 || b->dtype != SEER_F32 || y->dtype != SEER_F32)
        return refuse_dtype("binary", a->dtype != SEER_F32 ? a->dtype : b->dtype);
    if ((int)op < 0 || op >= SEER_BINARY_COUNT)
        return seer_fail(SEER_STATUS_ARG, "cpu binary: unknown op %d", (int)op);
    int64_t numel = seer_tensor_numel(y);
    if (numel == 0) return SEER_STATUS_OK;

    int64_t shp[SEER_MAX_DIMS], sa[SEER_MAX_DIMS], sb[SEER_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < y->ndim; d++) {
        int64_t s = y->shape[d];
        if (s == 1) continue;
        if (nd > 0 && sa[nd - 1] == a->stride[d] * s && sb[nd - 1] == b->stride[d] * s) {
            shp[nd - 1] *= s;
            sa[nd - 1] = a->stride[d];
            sb[nd - 1] = b->stride[d];
        } else {
            shp[nd] = s;
            sa[nd] = a->stride[d];
            sb[nd] = b->stride[d];
            nd++;
        }
    }
    float *yp = y->data;
    const float *ap = a->data, *bp = b->data;

    if (nd <= 1) {
        // One run: same-shape contiguous, or one side a scalar.
        int64_t s_a = nd ? sa[0] : 0, s_b = nd ? sb[0] : 0;
        int64_t blocks = (numel + SEER_CPU_EW_BLOCK - 1) / SEER_CPU_EW_BLOCK;
#pragma omp parallel for if (blocks > 1)
        for (int64_t blk = 0; blk < blocks; blk++) {
            int64_t start = blk * SEER_CPU_EW_BLOCK;
            int64_t len = numel - start < SEER_CPU_EW_BLOCK ? numel - start : SEER_CPU_EW_BLOCK;
            binary_run(op, len, yp + start, ap + start * s_a, s_a, bp + start * s_b, s_b);
        }
        return SEER_STATUS_OK;
    }

    int64_t len = shp[nd - 1];
    int64_t rows = numel / len;
    if (nd == 2 && sb[0] == 0) {
        // b broadcasts over the leading dims (row-vector bias, per-channel scale): every
        // row of a meets the same run of b.
#pragma omp parallel for if (numel > SEER_CPU_EW_BLOCK)
        for (int64_t r = 0; r < rows; r++)
            binary_run(op, len, yp + r * len, ap + r * sa[0], sa[1], bp, sb[1]);
        return SEER_STATUS_OK;
    }
    // General strided: decompose each row index into the outer dims.
#pragma omp parallel for if (numel > SEER_CPU_EW_BLOCK)
    for (int64_t r = 0; r < rows; r++) {
        int64_t rem = r, oa = 0, ob = 0;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = rem % shp[d];
            rem /= shp[d];
            oa += i * sa[d];
            ob += i * sb[d];
        }
        binary_run(op, len, yp + r * len, ap + oa, sa[nd - 1], bp + ob, sb[nd - 1]);
    }
    return SEER_STATUS_OK;
}
