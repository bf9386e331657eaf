// CUDA sparse attention over gathered keys (see seer_attention_gather in core/ops.h): one warp
// per query row. Each lane keeps a slice of the query; for every selected key the warp forms
// the dot product with a shuffle reduction, the running maximum and sum give the softmax in
// one pass (online), and each lane accumulates its slice of the output. Reads only the n
// selected key and value rows: the cost is what the sparse pattern leaves.
#include "core/cuda/cuda_common.cuh"

namespace {

constexpr int kWarps = 4;     // rows per block
constexpr int kMaxSlice = 8;  // D and Dv up to 32 * 8 = 256

template <typename T, typename I>
__global__ void attention_gather_kernel(T *o, const T *q, const T *k, const T *v, const I *idx,
                                        int64_t rows, int lq, int lk, int d, int dv, int n,
                                        float scale) {
    const int lane = threadIdx.x & 31;
    const int64_t r = (int64_t)blockIdx.x * kWarps + (threadIdx.x >> 5);
    if (r >= rows) return;
    const int64_t bh = r / lq;
    const T *qr = q + r * d, *kb = k + bh * (int64_t)lk * d, *vb = v + bh * (int64_t)lk * dv;
    const I *ir = idx + r * n;
    float qs[kMaxSlice], acc[kMaxSlice];
#pragma unroll
    for (int s = 0; s < kMaxSlice; s++) {
        int e = lane + 32 * s;
        qs[s] = e < d ? seer_cu_f(qr[e]) : 0.0f;
        acc[s] = 0.0f;
    }
    float mx = -INFINITY, sum = 0.0f;
    for (int j = 0; j < n; j++) {
        const int64_t key = (int64_t)ir[j];
        if (key < 0 || key >= lk) continue;  // empty slot (out of range masks on CUDA)
        const T *kr = kb + key * d;
        float dot = 0.0f;
#pragma unroll
        for (int s = 0; s < kMaxSlice; s++) {
            int e = lane + 32 * s;
            if (e < d) dot += qs[s] * seer_cu_f(kr[e]);
        }
        dot = scale * seer_cu_warp_sum(dot);
        // online softmax: rescale what was accumulated when the maximum grows
        const float m2 = fmaxf(mx, dot), old = __expf(mx - m2), p = __expf(dot - m2);
        sum = sum * old + p;
        const T *vr = vb + key * dv;
#pragma unroll
        for (int s = 0; s < kMaxSlice; s++) {
            int e = lane + 32 * s;
            acc[s] = acc[s] * old + (e < dv ? p * seer_cu_f(vr[e]) : 0.0f);
        }
        mx = m2;
    }
    T *orow = o + r * dv;
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;  // no valid key: zeros
#pragma unroll
    for (int s = 0; s < kMaxSlice; s++) {
        int e = lane + 32 * s;
        if (e < dv) orow[e] = seer_cu_store<T>(acc[s] * inv);
    }
}

}  // namespace

seer_status seer_cuda_attention_gather(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                       const seer_tensor *v, const seer_tensor *idx, float scale) {
    const int64_t B = q->shape[0], H = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    const int64_t Lk = k->shape[2], Dv = v->shape[3], n = idx->shape[3];
    if (D > 32 * kMaxSlice || Dv > 32 * kMaxSlice)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "attention_gather (cuda): head dims D = %lld, Dv = %lld (at most %d)",
                         (long long)D, (long long)Dv, 32 * kMaxSlice);
    const int64_t rows = B * H * Lq;
    if (rows == 0 || Dv == 0) return SEER_STATUS_OK;
    if (!seer_cu_fits_int(Lq) || !seer_cu_fits_int(Lk) || !seer_cu_fits_int(n) ||
        (rows + kWarps - 1) / kWarps > 0x7fffffffLL)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "attention_gather (cuda): sizes exceed the grid");
    const unsigned blocks = (unsigned)((rows + kWarps - 1) / kWarps);
    return seer_cu_dispatch_float(q->dtype, "attention_gather", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        if (idx->dtype == SEER_I64)
            attention_gather_kernel<T, int64_t><<<blocks, 32 * kWarps, 0, seer_cu_stream()>>>(
                (T *)o->data, (const T *)q->data, (const T *)k->data, (const T *)v->data,
                (const int64_t *)idx->data, rows, (int)Lq, (int)Lk, (int)D, (int)Dv, (int)n, scale);
        else
            attention_gather_kernel<T, int32_t><<<blocks, 32 * kWarps, 0, seer_cu_stream()>>>(
                (T *)o->data, (const T *)q->data, (const T *)k->data, (const T *)v->data,
                (const int32_t *)idx->data, rows, (int)Lq, (int)Lk, (int)D, (int)Dv, (int)n, scale);
        return SEER_CU(seer_cu_launched());
    });
}
