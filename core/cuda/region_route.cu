// BiFormer's region-level routing (seer_region_route) in two kernels, in place of two
// reductions, two copies, a batched GEMM and a top-k (five small launches per block). Opt-in:
// SEER_NEW_ROUTE=1 (unless SEER_CUDA_NEW=0). On the H200 (2026-12-03 20:17) this version made
// biformer_tiny BF16 1% faster than the composed ops (15,173 against 15,040 images/s) and gave
// BiFormer's fixtures the same results, but failed its op test, which then wanted the CPU's
// exact indices on random maps. A CPU emulation of this kernel's sums finds the one difference:
// two keys whose affinities differ by 0.17 ulp (test case 2, BF16 map) swap places. The test
// now accepts near ties; it has not run on a GPU since, hence opt-in.
//  - means: one block per (image, region), threads over the 2 qk channels, each summing its
//    channel over the region's rows of pixels (row means, then their mean, as the composed ops);
//  - affinity and top-k: one warp per (image, query region); for each key the lanes split the
//    qk channels and sum by shuffles, the scores scale * q_r . k_j go to shared memory, then
//    topk rounds of a warp argmax (ties to the lower index, as seer_topk) with the chosen key
//    masked. (The first version gave each lane whole keys: its uncoalesced key reads made the
//    routing 13% of BiFormer's BF16 forward pass on the H200.)
#include "core/cuda/cuda_common.cuh"

namespace {

constexpr int kMeanThreads = 128;
constexpr int kWarps = 4; // query regions per block of the second kernel
constexpr int kMaxRegions = 1024;
constexpr int kMaxLaneChannels = 16; // qk channels per lane: qk <= 512

template <typename T>
__global__ void region_means_kernel(float *means, const T *x, int S, int h, int w, int W, int C2) {
    const int64_t br = blockIdx.x;
    const int R = S * S, r = (int)(br % R), b = (int)(br / R), j = r / S, i = r % S;
    const T *base = x + (((int64_t)b * S * h + (int64_t)j * h) * W + (int64_t)i * w) * C2;
    for (int c = threadIdx.x; c < C2; c += kMeanThreads) {
        float rows = 0.0f;
        for (int y = 0; y < h; y++) {
            float row = 0.0f;
            for (int xx = 0; xx < w; xx++)
                row += seer_cu_f(base[((int64_t)y * W + xx) * C2 + c]);
            rows += row / (float)w;
        }
        means[br * C2 + c] = rows / (float)h;
    }
}

__global__ void route_topk_kernel(int64_t *idx, const float *means, int64_t queries, int R, int qk,
                                  int topk, float scale) {
    __shared__ float score_s[kWarps][kMaxRegions];
    __shared__ bool taken_s[kWarps][kMaxRegions];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t query = (int64_t)blockIdx.x * kWarps + warp;
    if (query >= queries) return; // the warps share no barrier
    const int64_t b = query / R;
    const float *q = means + query * 2 * qk, *kb = means + b * R * 2 * qk + qk;
    float *score = score_s[warp];
    bool *taken = taken_s[warp];
    // The lanes split the channels (c = lane + 32 t), so each key row is read coalesced; the
    // query's channels stay in registers. Every key's dot product sums in the same order, so
    // equal keys give equal scores (ties stay ties).
    float qv[kMaxLaneChannels];
#pragma unroll
    for (int t = 0; t < kMaxLaneChannels; t++) {
        const int c = lane + 32 * t;
        qv[t] = c < qk ? q[c] : 0.0f;
    }
    for (int j = 0; j < R; j++) {
        const float *k = kb + (int64_t)j * 2 * qk;
        float dot = 0.0f;
#pragma unroll
        for (int t = 0; t < kMaxLaneChannels; t++) {
            const int c = lane + 32 * t;
            if (c < qk) dot += qv[t] * k[c];
        }
        dot = seer_cu_warp_sum(dot);
        if (lane == (j & 31)) {
            score[j] = scale * dot;
            taken[j] = false;
        }
    }
    __syncwarp();
    for (int t = 0; t < topk; t++) {
        float best = -INFINITY;
        int at = R; // past every key: loses every tie
        for (int j = lane; j < R; j += 32)
            if (!taken[j] && (score[j] > best || (score[j] == best && j < at) || at == R))
                best = score[j], at = j;
        for (int o = 16; o > 0; o >>= 1) {
            const float ob = __shfl_xor_sync(0xffffffffu, best, o);
            const int oa = __shfl_xor_sync(0xffffffffu, at, o);
            if (oa < R && (at == R || ob > best || (ob == best && oa < at))) best = ob, at = oa;
        }
        if (lane == 0) {
            idx[query * topk + t] = at;
            taken[at] = true;
        }
        __syncwarp();
    }
}

} // namespace

seer_status seer_cuda_region_route(seer_tensor *idx, seer_tensor *means, const seer_tensor *qk_map,
                                   int64_t S, float scale) {
    static const bool on = seer_cu_new_on() && seer_cu_opt_in("SEER_NEW_ROUTE");
    const int64_t B = qk_map->shape[0], H = qk_map->shape[1], W = qk_map->shape[2];
    const int64_t C2 = qk_map->shape[3], R = S * S, topk = idx->shape[2];
    if (!on || R > kMaxRegions || C2 / 2 > 32 * kMaxLaneChannels || !seer_cu_fits_int(H * W * C2) ||
        !seer_cu_fits_int(C2) || B * R > 0x7fffffffLL || topk > R)
        return SEER_STATUS_UNSUPPORTED;
    SEER_TRY(seer_cu_need_contig("region_route", "qk_map", qk_map));
    if (B == 0) return SEER_STATUS_OK;
    const int h = (int)(H / S), w = (int)(W / S);
    SEER_TRY(seer_cu_dispatch_float(qk_map->dtype, "region_route", [&](auto tag) {
        using T = typename decltype(tag)::type;
        region_means_kernel<T><<<(unsigned)(B * R), kMeanThreads, 0, seer_cu_stream()>>>(
            (float *)means->data, (const T *)qk_map->data, (int)S, h, w, (int)W, (int)C2);
        return SEER_CU(seer_cu_launched());
    }));
    const int64_t queries = B * R;
    route_topk_kernel<<<(unsigned)((queries + kWarps - 1) / kWarps), 32 * kWarps, 0,
                        seer_cu_stream()>>>((int64_t *)idx->data, (const float *)means->data,
                                            queries, (int)R, (int)(C2 / 2), (int)topk, scale);
    return SEER_CU(seer_cu_launched());
}
