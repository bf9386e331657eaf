// CUDA routed region attention (see seer_region_attention in core/ops.h): one warp per query
// pixel (warp_attention.cuh: online softmax over the keys). The keys are the pixels of the
// query region's routed regions, read where they are: no gathered copies of K and V.
#include "core/cuda/warp_attention.cuh"

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
    const I *ir = idx + (b * R + r) * topk;
    warp_attention_row<kMaxSlice> acc;
    acc.begin(q + row * d, d, lane);
    for (int t = 0; t < topk; t++) {
        const int64_t reg = (int64_t)ir[t];
        if (reg < 0 || reg >= R) continue; // checked by the CPU backend; skipped here
        const T *kb = k + (bn * R + reg) * P * d, *vb = v + (bn * R + reg) * P * dv;
        for (int p = 0; p < P; p++)
            acc.add(kb + (int64_t)p * d, vb + (int64_t)p * dv, d, dv, scale, lane);
    }
    acc.finish(o + row * dv, dv, lane);
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
