// Direct NHWC convolution for small channel counts (CIFAR ResNets: 16-64 channels on
// B*32*32 positions). im2col + SGEMM spends as long packing the im2col matrix as multiplying
// it there (bench/RESULTS.md). Here a work item (an image, or a band of its rows) copies its
// input rows once into a zero-padded strip, and each output row accumulates tiles of output
// pixels x output channels in vector registers: channels are the vector lanes, each input
// value is broadcast once per tile and multiplied with C_out/VL weight vectors (1x16 pixels
// x 16 channels, 8 x 32 or 4 x 64 with AVX-512: 16 accumulators). Bias, a residual and ReLU
// are applied before the one store. AVX-512 or AVX2+FMA, picked at run time; conv.c keeps
// the general paths for everything else.
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

// Largest weight (kh*kw*C_in*C_out floats) taken here: the packed weight is re-read from cache
// for every tile, so it should stay in L2; larger convolutions are SGEMM-shaped anyway.
#define DIRECT_MAX_WEIGHT_FLOATS ((int64_t)1 << 17)
#define DIRECT_MAX_COUT 256
// Largest padded input strip of one work item, in floats (256 KiB).
#define DIRECT_STRIP_FLOATS ((int64_t)1 << 16)

typedef struct direct_args {
    const float *x, *wt, *bias, *res;  // x: [B, H, W, C_in]; wt: [kh, kw, C_in, C_out]
    float *y;                          // y, res: [B, Ho, Wo, C_out]
    int64_t h, w, cin, ho, wo, cout, kh, kw, sh, sw, ph, pw;
    int64_t wp;  // padded row width, in pixels
    bool relu;
} direct_args;

// Output rows [oy0, oy1) of image bi read input rows from iy0 = oy0*sh - ph on, (oy1 - oy0 - 1)
// * sh + kh of them. With no padding they are x's own rows; otherwise they are copied into
// pad ([rows, wp, C_in]) with zero columns on both sides and zero rows outside the image.
// Returns the strip's first row; *row_stride is the distance between rows, in floats.
static const float *direct_input_rows(const direct_args *a, float *pad, int64_t bi, int64_t oy0,
                                      int64_t oy1, int64_t *row_stride) {
    const int64_t cin = a->cin, iy0 = oy0 * a->sh - a->ph;
    if (a->ph == 0 && a->pw == 0) {
        *row_stride = a->w * cin;
        return a->x + (bi * a->h + iy0) * a->w * cin;
    }
    const int64_t rs = a->wp * cin, right = a->wp - a->pw - a->w;
    const int64_t rows = (oy1 - oy0 - 1) * a->sh + a->kh;
    for (int64_t i = 0; i < rows; i++) {
        float *dst = pad + i * rs;
        int64_t iy = iy0 + i;
        if (iy < 0 || iy >= a->h) {
            memset(dst, 0, (size_t)rs * sizeof *dst);
            continue;
        }
        memset(dst, 0, (size_t)(a->pw * cin) * sizeof *dst);
        memcpy(dst + a->pw * cin, a->x + (bi * a->h + iy) * a->w * cin,
               (size_t)(a->w * cin) * sizeof *dst);
        if (right > 0) memset(dst + (a->pw + a->w) * cin, 0, (size_t)(right * cin) * sizeof *dst);
    }
    *row_stride = rs;
    return pad;
}

// ---- AVX-512: 32 zmm registers, 16 lanes ---------------------------------------------------
#define ISA(name) name##_avx512
#define TARGET __attribute__((target("avx512f")))
#define vec __m512
#define VL 16
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_BCAST(p) _mm512_set1_ps(*(p))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_MAX(a, b) _mm512_max_ps((a), (b))
#define V_ZERO() _mm512_setzero_ps()
#define RB1 16
#define RB2 8
#define RB4 4
#include "core/cpu/conv_direct_isa.h" // undefines the parameters above

// ---- AVX2 + FMA: 16 ymm registers, 8 lanes -------------------------------------------------
#define ISA(name) name##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define vec __m256
#define VL 8
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_BCAST(p) _mm256_broadcast_ss(p)
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_MAX(a, b) _mm256_max_ps((a), (b))
#define V_ZERO() _mm256_setzero_ps()
#define RB1 8
#define RB2 4
#define RB4 2
#include "core/cpu/conv_direct_isa.h" // undefines the parameters above

// Prefetch [p, p + bytes) into L2, for reading or (write) for writing.
static void direct_prefetch(const void *p, int64_t bytes, int write) {
    const char *c = p;
    for (int64_t i = 0; i < bytes; i += 64) {
        if (write)
            __builtin_prefetch(c + i, 1, 2);
        else
            __builtin_prefetch(c + i, 0, 2);
    }
}

typedef void (*direct_row_fn)(const direct_args *a, const float *xrow, int64_t xrs, int64_t bi,
                              int64_t oy);

// The row function for C_out on this CPU, or NULL.
static direct_row_fn direct_row_for(int64_t cout) {
    if (cout % 16 == 0 && __builtin_cpu_supports("avx512f")) return row_avx512;
    if (cout % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return row_avx2;
    return NULL;
}

bool seer_cpu_conv2d_direct_fits(const seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                 const seer_conv2d_params *p) {
    if (x->dtype != SEER_F32 || w->dtype != SEER_F32 || y->dtype != SEER_F32) return false;
    if (p->groups != 1 || p->dil_h != 1 || p->dil_w != 1) return false;
    const int64_t cout = w->shape[0];
    if (cout > DIRECT_MAX_COUT || w->shape[1] * w->shape[2] * w->shape[3] * cout >
                                      DIRECT_MAX_WEIGHT_FLOATS)
        return false;
    return direct_row_for(cout) != NULL;
}

// x: [B, H, W, C_in]; w: [C_out, kh, kw, C_in]; b: [C_out] or NULL; residual: y's shape or
// NULL; y: [B, Ho, Wo, C_out]; all contiguous; seer_cpu_conv2d_direct_fits(y, x, w, p).
seer_status seer_cpu_conv2d_direct(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                   const seer_tensor *b, const seer_conv2d_params *p,
                                   const seer_tensor *residual, bool relu) {
    direct_args a = {
        .x = x->data,
        .bias = b ? b->data : NULL,
        .res = residual ? residual->data : NULL,
        .y = y->data,
        .h = x->shape[1],
        .w = x->shape[2],
        .cin = x->shape[3],
        .ho = y->shape[1],
        .wo = y->shape[2],
        .cout = y->shape[3],
        .kh = w->shape[1],
        .kw = w->shape[2],
        .sh = p->stride_h,
        .sw = p->stride_w,
        .ph = p->pad_h,
        .pw = p->pad_w,
        .relu = relu,
    };
    const int64_t rows = x->shape[0] * a.ho;
    if (rows == 0 || a.wo == 0) return SEER_STATUS_OK;
    a.wp = (a.wo - 1) * a.sw + a.kw;
    if (a.wp < a.pw + a.w) a.wp = a.pw + a.w;
    direct_row_fn row = direct_row_for(a.cout);

    // Work items are bands of output rows of one image: whole images when the batch has
    // enough of them for every thread, shorter bands otherwise, and no band whose padded
    // input strip outgrows L2.
    const int threads = omp_get_max_threads();
    const int64_t bsz = x->shape[0], rs = a.wp * a.cin;
    int64_t bands = (2 * threads + bsz - 1) / bsz;
    int64_t band = (a.ho + bands - 1) / bands;
    int64_t band_cap = ((DIRECT_STRIP_FLOATS / (rs > 0 ? rs : 1)) - a.kh) / a.sh + 1;
    if (band > band_cap) band = band_cap;
    if (band < 1) band = 1;
    bands = (a.ho + band - 1) / band;
    const int64_t items = bsz * bands;

    // One scratch block: the packed weight, then one padded strip per thread, 64-byte aligned.
    const int64_t taps = a.kh * a.kw, nw = taps * a.cin * a.cout;
    const int64_t nw_al = (nw + 15) / 16 * 16, strip = ((band - 1) * a.sh + a.kh) * rs;
    const int64_t strip_al = (strip + 15) / 16 * 16;
    float *buf = seer_cpu_scratch((size_t)(nw_al + threads * strip_al) * sizeof *buf);
    if (!buf) return SEER_STATUS_OOM;
    // wt[t, ci, co] = w[co, t, ci]
    const float *wsrc = w->data;
    for (int64_t co = 0; co < a.cout; co++)
        for (int64_t k = 0; k < taps * a.cin; k++)
            buf[k * a.cout + co] = wsrc[co * taps * a.cin + k];
    a.wt = buf;

#pragma omp parallel num_threads(threads) if (items > 1 && rows * a.wo * nw > (1 << 18))
    {
        float *pad = buf + nw_al + omp_get_thread_num() * strip_al;
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {
            const int64_t bi = it / bands, oy0 = it % bands * band;
            const int64_t oy1 = oy0 + band < a.ho ? oy0 + band : a.ho;
            int64_t xrs;
            const float *xrow = direct_input_rows(&a, pad, bi, oy0, oy1, &xrs);
            // While a row computes, prefetch into L2 what comes next from memory: the
            // residual and output rows of the next row and a share of the next item's input
            // (the activations of a batch outgrow L2; the hardware prefetcher alone leaves
            // the copy and the epilogue waiting on L3/DRAM).
            const char *nx = NULL;
            int64_t nx_share = 0;
            if (it + 1 < items) {
                const int64_t nb = (it + 1) / bands, ny0 = (it + 1) % bands * band;
                int64_t iy0 = ny0 * a.sh - a.ph, iy1 = iy0 + (band - 1) * a.sh + a.kh;
                if (iy0 < 0) iy0 = 0;
                if (iy1 > a.h) iy1 = a.h;
                nx = (const char *)(a.x + (nb * a.h + iy0) * a.w * a.cin);
                nx_share = ((iy1 - iy0) * a.w * a.cin * (int64_t)sizeof(float) + oy1 - oy0 - 1) /
                           (oy1 - oy0);
            }
            const int64_t yrow_bytes = a.wo * a.cout * (int64_t)sizeof(float);
            for (int64_t oy = oy0; oy < oy1; oy++) {
                if (oy + 1 < oy1) {
                    const int64_t off = ((bi * a.ho + oy + 1) * a.wo) * a.cout;
                    direct_prefetch(a.y + off, yrow_bytes, 1);
                    if (a.res) direct_prefetch(a.res + off, yrow_bytes, 0);
                }
                if (nx) direct_prefetch(nx + (oy - oy0) * nx_share, nx_share, 0);
                row(&a, xrow + (oy - oy0) * a.sh * xrs, xrs, bi, oy);
            }
        }
    }
    return SEER_STATUS_OK;
}
