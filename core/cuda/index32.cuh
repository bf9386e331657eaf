// 32-bit strided indexing for elementwise kernels: element i of a row-major shape -> the
// offsets of up to NT tensors with their own strides. The per-dim division by the shape uses a
// multiply-high by a magic number chosen at launch (Granlund & Montgomery; PyTorch's IntDivider
// does the same), instead of 64-bit division and modulo, which cost dozens of instructions
// each. Valid when the element count and every offset are below 2^31: seer_cu_index32_make
// says whether they are; otherwise kernels take the 64-bit path (seer_cu_dims).
#ifndef SEER_CUDA_INDEX32_CUH
#define SEER_CUDA_INDEX32_CUH

#include "core/cuda/cuda_common.cuh"

// n / d for n, d < 2^31: q = (umulhi(n, m) + n) >> s.
struct seer_cu_divider {
    uint32_t d, m, s;
    __device__ __forceinline__ uint32_t div(uint32_t n) const {
        return (__umulhi(n, m) + n) >> s;
    }
};

inline seer_cu_divider seer_cu_make_divider(uint32_t d) {
    seer_cu_divider v;
    v.d = d;
    v.s = 0;
    while (v.s < 31 && (1u << v.s) < d)
        v.s++;
    v.m = (uint32_t)(((1ull << 32) * ((1ull << v.s) - d)) / d + 1);
    return v;
}

template <int NT> struct seer_cu_index32 {
    int ndim;
    seer_cu_divider div[SEER_MAX_DIMS];
    uint32_t stride[NT][SEER_MAX_DIMS];

    // off[t] = offset of element i in tensor t.
    __device__ __forceinline__ void offsets(uint32_t i, uint32_t off[NT]) const {
#pragma unroll
        for (int t = 0; t < NT; t++)
            off[t] = 0;
        for (int k = ndim - 1; k >= 0; k--) {
            const uint32_t q = div[k].div(i), c = i - q * div[k].d;
#pragma unroll
            for (int t = 0; t < NT; t++)
                off[t] += c * stride[t][k];
            i = q;
        }
    }
};

// Fills ix from a coalesced shape and NT stride lists; false when n or an offset reaches 2^31
// or a stride is negative (then use the 64-bit path).
template <int NT>
inline bool seer_cu_index32_make(seer_cu_index32<NT> *ix, int ndim, const int64_t *shape,
                                 const int64_t (*strides)[SEER_MAX_DIMS]) {
    const int64_t lim = (int64_t)1 << 31;
    int64_t n = 1;
    for (int k = 0; k < ndim; k++)
        n *= shape[k];
    if (n >= lim) return false;
    memset(ix, 0, sizeof *ix);
    ix->ndim = ndim;
    for (int t = 0; t < NT; t++) {
        int64_t last = 0;
        for (int k = 0; k < ndim; k++) {
            if (strides[t][k] < 0) return false;
            last += (shape[k] - 1) * strides[t][k];
            ix->stride[t][k] = (uint32_t)strides[t][k];
        }
        if (last >= lim) return false;
    }
    for (int k = 0; k < ndim; k++)
        ix->div[k] = seer_cu_make_divider((uint32_t)shape[k]);
    return true;
}

#endif
