// Routed region attention (seer_region_attention) on tensor cores, for F16/BF16 and one head
// size D == Dv in {32, 64}; region_attention.cu sends those cases here when q, k, v and o are
// 16-byte aligned with row strides in whole 16-byte words, and falls back otherwise. q, k, v
// and o come in the regions or the map form (core/region_layout.h).
//
// One warp per unit of work = 16 query pixels of one (image, head, region): BiFormer's
// regions hold 64, 16 or 4 pixels, so a warp's rows are one chunk of a region (rows past the
// region's P are zeros, never written). The keys are the pixels of the unit's routed regions,
// key j = pixel j % P of region idx[j / P], copied tile by tile (64 keys) with cp.async from
// where they lie (strided views of one qkv projection) into the warp's own shared K and V
// tiles; a key of an out-of-range region is masked. Per tile, flash_rows (mma.cuh): S = Q K^T
// and O += P V by mma.sync, online softmax in registers, P split in two halves of the storage
// type so that P V keeps about 16 bits of P (with P rounded to BF16 the BiFormer fixture's
// one-image BF16 logits were at rel-L2 2.0e-2 on the H200, against 1.0e-2 before).
#include "core/cuda/mma.cuh"
#include "core/region_layout.h"

namespace {

using namespace seer_mma;

constexpr int kWarps = 4; // units per block
constexpr int64_t kNoRow = INT64_MIN; // a key past the end or of an out-of-range region

struct region_params {
    int64_t units;
    int m, R, P, topk, chunks; // chunks: 16-row units per region
    float scale2;              // scale log2(e)
    seer_region_layout q, k, v, o;
};

// Row p of region r of head n of image b.
template <typename T>
__device__ __forceinline__ T *at(T *base, const seer_region_layout &l, int64_t b, int64_t n,
                                 int64_t r, int64_t p) {
    return base + seer_region_offset(&l, b, n, r, p);
}

template <typename T, typename I, int D>
__global__ void __launch_bounds__(32 * kWarps)
    region_mma_kernel(T *o, const T *q, const T *k, const T *v, const I *idx, region_params p) {
    using rows = flash_rows<T, D>;
    constexpr int LD = rows::LD, kChunks = D / 8; // 16-byte pieces per key row
    constexpr int kPieces = kKeyTile * kChunks / 32; // pieces per lane and tile
    static_assert(kKeyTile == 64 && 32 % kChunks == 0, "two keys a lane, a pass's keys in one half");
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ bool live_s[kWarps][kKeyTile];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    T *kt = (T *)smem + warp * 2 * kKeyTile * LD, *vt = kt + kKeyTile * LD;
    bool *live = live_s[warp];

    const int64_t unit = (int64_t)blockIdx.x * kWarps + warp;
    if (unit >= p.units) return; // the warps share no barrier
    const int chunk = (int)(unit % p.chunks);
    const int64_t bnr = unit / p.chunks, r = bnr % p.R, bn = bnr / p.R, b = bn / p.m, n = bn % p.m;
    const I *ir = idx + (b * p.R + r) * p.topk;
    const int P = p.P, nk = p.topk * P, p_lo = chunk * 16 + g, p_hi = p_lo + 8;

    uint32_t qf[rows::KD][4];
    rows::load_q(qf, p_lo < P ? at(q, p.q, b, n, r, p_lo) : nullptr,
                 p_hi < P ? at(q, p.q, b, n, r, p_hi) : nullptr, t);
    rows acc;
    for (int k0 = 0; k0 < nk; k0 += kKeyTile) {
        // Lane l finds where keys l and l + 32 of the tile lie (region and pixel worked out
        // once per key, not per 16-byte piece); the copies take them from it by shuffle.
        int64_t ko[2], vo[2];
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int key = k0 + lane + 32 * h;
            const int64_t reg = key < nk ? (int64_t)ir[key / P] : -1;
            const bool ok = reg >= 0 && reg < p.R;
            ko[h] = ok ? seer_region_offset(&p.k, b, n, reg, key % P) : kNoRow;
            vo[h] = ok ? seer_region_offset(&p.v, b, n, reg, key % P) : kNoRow;
            live[lane + 32 * h] = ok;
        }
#pragma unroll 4 // (fully unrolled, D = 32 took 127 registers, not 97)
        for (int i = 0; i < kPieces; i++) {
            // Piece e: columns c.. c + 7 of key j; the iteration's keys lie in one half of
            // the tile (h), so every lane sends the offsets of the half its reader wants.
            const int e = lane + 32 * i, j = e / kChunks, c = e % kChunks * 8;
            const int h = 32 * i / kChunks / 32;
            const int64_t ka = __shfl_sync(0xffffffffu, h ? ko[1] : ko[0], j % 32);
            const int64_t va = __shfl_sync(0xffffffffu, h ? vo[1] : vo[0], j % 32);
            if (ka != kNoRow) {
                cp_async16(kt + j * LD + c, k + ka + c);
                cp_async16(vt + j * LD + c, v + va + c);
            } else { // zeros: a masked key's probability is 0, and 0 * garbage could be NaN
                *(uint4 *)(kt + j * LD + c) = make_uint4(0, 0, 0, 0);
                *(uint4 *)(vt + j * LD + c) = make_uint4(0, 0, 0, 0);
            }
        }
        cp_async_commit();
        cp_async_wait<0>();
        __syncwarp(); // every lane's copies are in shared memory
        acc.template tile<true>(kt, vt, qf, p.scale2,
                 [&](int key, bool, float x) { return live[key] ? x : -INFINITY; });
        __syncwarp(); // the tile is read before the next one overwrites it
    }
    acc.store(p_lo < P ? at(o, p.o, b, n, r, p_lo) : nullptr,
              p_hi < P ? at(o, p.o, b, n, r, p_hi) : nullptr);
}

template <typename T, typename I, int D>
seer_status launch(T *o, const T *q, const T *k, const T *v, const I *idx, const region_params &p) {
    constexpr size_t smem = (size_t)kWarps * 2 * kKeyTile * (D + kPad) * sizeof(T);
    static const cudaError_t attr = cudaFuncSetAttribute(
        region_mma_kernel<T, I, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    SEER_TRY(SEER_CU(attr));
    const unsigned blocks = (unsigned)((p.units + kWarps - 1) / kWarps);
    region_mma_kernel<T, I, D><<<blocks, 32 * kWarps, smem, seer_cu_stream()>>>(o, q, k, v, idx, p);
    return SEER_CU(seer_cu_launched());
}

// Rows start on 16-byte boundaries: aligned data, every stride of the layout (image, head,
// region row and column, pixel row and column) in whole words of 8 elements.
bool rows_aligned(const seer_tensor *t) {
    if ((uintptr_t)t->data % 16 != 0) return false;
    const seer_region_layout l = seer_region_layout_of(t);
    for (int i = 0; i < 6; i++)
        if (l.s[i] % 8 != 0) return false;
    return true;
}

template <typename T, typename I>
seer_status run(seer_tensor *o, const seer_tensor *q, const seer_tensor *k, const seer_tensor *v,
                const seer_tensor *idx, const region_params &p, int64_t d) {
    T *op = (T *)o->data;
    const T *qp = (const T *)q->data, *kp = (const T *)k->data, *vp = (const T *)v->data;
    const I *ip = (const I *)idx->data;
    return d == 32 ? launch<T, I, 32>(op, qp, kp, vp, ip, p) : launch<T, I, 64>(op, qp, kp, vp, ip, p);
}

template <typename T>
seer_status run_index(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                      const seer_tensor *v, const seer_tensor *idx, const region_params &p,
                      int64_t d) {
    return idx->dtype == SEER_I64 ? run<T, int64_t>(o, q, k, v, idx, p, d)
                                  : run<T, int32_t>(o, q, k, v, idx, p, d);
}

} // namespace

seer_status seer_cuda_region_attention_mma(seer_tensor *o, const seer_tensor *q,
                                           const seer_tensor *k, const seer_tensor *v,
                                           const seer_tensor *idx, float scale) {
    const int last = q->ndim - 1; // regions form (5 dims) or map form (7)
    const int64_t B = q->shape[0], m = q->shape[1], R = seer_region_count(q);
    const int64_t P = seer_region_pixels(q), d = q->shape[last], topk = idx->shape[2];
    if ((q->dtype != SEER_F16 && q->dtype != SEER_BF16) || v->shape[last] != d ||
        (d != 32 && d != 64) || !rows_aligned(o) || !rows_aligned(q) || !rows_aligned(k) ||
        !rows_aligned(v) || (idx->dtype != SEER_I64 && idx->dtype != SEER_I32))
        return SEER_STATUS_UNSUPPORTED;
    region_params p;
    p.chunks = (int)((P + 15) / 16);
    p.units = B * m * R * p.chunks;
    if (!seer_cu_fits_int(m) || !seer_cu_fits_int(R) || !seer_cu_fits_int(P * topk) ||
        (p.units + kWarps - 1) / kWarps > 0x7fffffffLL)
        return SEER_STATUS_UNSUPPORTED;
    p.m = (int)m, p.R = (int)R, p.P = (int)P, p.topk = (int)topk;
    p.scale2 = scale * kLog2e;
    p.q = seer_region_layout_of(q), p.k = seer_region_layout_of(k);
    p.v = seer_region_layout_of(v), p.o = seer_region_layout_of(o);
    if (p.units == 0) return SEER_STATUS_OK;
    if (q->dtype == SEER_F16) return run_index<__half>(o, q, k, v, idx, p, d);
    return run_index<__nv_bfloat16>(o, q, k, v, idx, p, d);
}
