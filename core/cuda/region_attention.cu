// CUDA routed region attention (see seer_region_attention in core/ops.h): one warp per query
// pixel, as attention_gather.cu: each lane holds a slice of the query, the warp forms each
// key's dot product with a shuffle reduction and the softmax online (running maximum and
// sum), and each lane accumulates its slice of the output. The keys are the pixels of the
// query region's routed regions, read where they are: no gathered copies of K and V.
#include "core/cuda/cuda_common.cuh"

namespace {

constexpr int kWarps = 4;    // query pixels per block
constexpr int kMaxSlice = 8; // D and Dv up to 32 * 8 = 256

template <typename T, typename I>
__global__ void region_attention_kernel(T *o, const T *q, const T *k, const T *v, const I *idx,
                                        int64_t rows, int m, int R, int P, int d, int dv,
                                        int topk, float scale) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * kWarps + (threadIdx.x >> 5);
    if (row >= rows) return;
    const int64_t r = (row / P) % R, bn = row / ((int64_t)P * R), b = bn / m;
    const T *qr = q + row * d;
    const I *ir = idx + (b * R + r) * topk;
    float qs[kMaxSlice], acc[kMaxSlice];
#pragma unroll
    for (int s = 0; s < kMaxSlice; s++) {
        int e = lane + 32 * s;
        qs[s] = e < d ? seer_cu_f(qr[e]) : 0.0f;
        acc[s] = 0.0f;
    }
    float mx = -INFINITY, sum = 0.0f;
    for (int t = 0; t < topk; t++) {
        const int64_t reg = (int64_t)ir[t];
        if (reg < 0 || reg >= R) continue; // checked by the CPU backend; skipped here
        const T *kb = k + (bn * R + reg) * P * d, *vb = v + (bn * R + reg) * P * dv;
        for (int p = 0; p < P; p++) {
            const T *kr = kb + (int64_t)p * d;
            float dot = 0.0f;
#pragma unroll
            for (int s = 0; s < kMaxSlice; s++) {
                int e = lane + 32 * s;
                if (e < d) dot += qs[s] * seer_cu_f(kr[e]);
            }
            dot = scale * seer_cu_warp_sum(dot);
            const float m2 = fmaxf(mx, dot), old = __expf(mx - m2), w = __expf(dot - m2);
            sum = sum * old + w;
            const T *vr = vb + (int64_t)p * dv;
#pragma unroll
            for (int s = 0; s < kMaxSlice; s++) {
                int e = lane + 32 * s;
                acc[s] = acc[s] * old + (e < dv ? w * seer_cu_f(vr[e]) : 0.0f);
            }
            mx = m2;
        }
    }
    T *orow = o + row * dv;
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
#pragma unroll
    for (int s = 0; s < kMaxSlice; s++) {
        int e = lane + 32 * s;
        if (e < dv) orow[e] = seer_cu_store<T>(acc[s] * inv);
    }
}

} // namespace

seer_status seer_cuda_region_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                       const seer_tensor *v, const seer_tensor *idx, float scale) {
    const int64_t B = q->shape[0], m = q->shape[1], R = q->shape[2], P = q->shape[3];
    const int64_t D = q->shape[4], Dv = v->shape[4], topk = idx->shape[2];
    if (D > 32 * kMaxSlice || Dv > 32 * kMaxSlice)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "region_attention (cuda): head dims D = %lld, Dv = %lld (at most %d)",
                         (long long)D, (long long)Dv, 32 * kMaxSlice);
    const int64_t rows = B * m * R * P;
    if (rows == 0 || Dv == 0) return SEER_STATUS_OK;
    if (!seer_cu_fits_int(m) || !seer_cu_fits_int(R) || !seer_cu_fits_int(P) ||
        !seer_cu_fits_int(topk) || (rows + kWarps - 1) / kWarps > 0x7fffffffLL)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "region_attention (cuda): sizes exceed the grid");
    const unsigned blocks = (unsigned)((rows + kWarps - 1) / kWarps);
    return seer_cu_dispatch_float(q->dtype, "region_attention", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        if (idx->dtype == SEER_I64)
            region_attention_kernel<T, int64_t><<<blocks, 32 * kWarps, 0, seer_cu_stream()>>>(
                (T *)o->data, (const T *)q->data, (const T *)k->data, (const T *)v->data,
                (const int64_t *)idx->data, rows, (int)m, (int)R, (int)P, (int)D, (int)Dv,
                (int)topk, scale);
        else
            region_attention_kernel<T, int32_t><<<blocks, 32 * kWarps, 0, seer_cu_stream()>>>(
                (T *)o->data, (const T *)q->data, (const T *)k->data, (const T *)v->data,
                (const int32_t *)idx->data, rows, (int)m, (int)R, (int)P, (int)D, (int)Dv,
                (int)topk, scale);
        return SEER_CU(seer_cu_launched());
    });
}
