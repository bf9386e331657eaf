// One query row of attention computed by one warp, for the kernels whose keys are a list
// (attention_gather.cu: gathered indices; region_attention.cu: routed regions). Each lane holds
// a slice of the query and of the output (lane + 32 s, s < kMaxSlice); keys are added one at a
// time: the warp forms the dot product with a shuffle reduction and keeps the softmax online
// (running maximum and sum, the accumulated output rescaled when the maximum grows). F32
// throughout, whatever T.
#ifndef SEER_CUDA_WARP_ATTENTION_CUH
#define SEER_CUDA_WARP_ATTENTION_CUH

#include "core/cuda/cuda_common.cuh"

template <int kMaxSlice>
struct warp_attention_row {
    float qs[kMaxSlice], acc[kMaxSlice];
    float mx = -INFINITY, sum = 0.0f;

    template <typename T>
    __device__ __forceinline__ void begin(const T *qr, int d, int lane) {
#pragma unroll
        for (int s = 0; s < kMaxSlice; s++) {
            const int e = lane + 32 * s;
            qs[s] = e < d ? seer_cu_f(qr[e]) : 0.0f;
            acc[s] = 0.0f;
        }
    }

    // key row kr [d], value row vr [dv]
    template <typename T>
    __device__ __forceinline__ void add(const T *kr, const T *vr, int d, int dv, float scale,
                                        int lane) {
        float dot = 0.0f;
#pragma unroll
        for (int s = 0; s < kMaxSlice; s++) {
            const int e = lane + 32 * s;
            if (e < d) dot += qs[s] * seer_cu_f(kr[e]);
        }
        dot = scale * seer_cu_warp_sum(dot);
        const float m2 = fmaxf(mx, dot), old = __expf(mx - m2), p = __expf(dot - m2);
        sum = sum * old + p;
#pragma unroll
        for (int s = 0; s < kMaxSlice; s++) {
            const int e = lane + 32 * s;
            acc[s] = acc[s] * old + (e < dv ? p * seer_cu_f(vr[e]) : 0.0f);
        }
        mx = m2;
    }

    // The softmax-weighted sum into orow [dv]; zeros when no key was added.
    template <typename T>
    __device__ __forceinline__ void finish(T *orow, int dv, int lane) const {
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
#pragma unroll
        for (int s = 0; s < kMaxSlice; s++) {
            const int e = lane + 32 * s;
            if (e < dv) orow[e] = seer_cu_store<T>(acc[s] * inv);
        }
    }
};

#endif
