// Scaled dot-product attention on tensor cores, for F16/BF16 storage and one head size
// D == Dv in {32, 64, 128}; attention.cu sends those cases here (same semantics):
//   o = softmax(scale * q k^T + bias) v
// q: [B, H, Lq, D], k, v: [B, H, Lk, D], bias: NULL or [Bb, Hb, Lq, Lk] of any float dtype
// (Bb in {1, B}, Hb in {1, H}; may hold -inf), o: [B, H, Lq, D]; q, k, v, o contiguous.
//
// Flash-attention-2 layout: a block of 4 warps owns 64 query rows of one (batch, head), each
// warp 16 of them. The keys go by in tiles of 64; cp.async copies the K and V tiles to shared
// memory two stages deep, so the next tile loads while this one is used. Per tile each warp
//   S = Q K^T        [16, 64]  mma.sync m16n8k16, Q's fragments held in registers throughout;
//   online softmax on S in registers: running max m and sum l per row, in base 2;
//   O = O alpha + P V [16, D]  P rounded to the storage type and used in place as operand A.
// At the end O / l; a row whose every score is -inf keeps l = 0 and is written as zeros.
// (The per-warp part, flash_rows, and the fragment layouts: core/cuda/mma.cuh.)
#include "core/cuda/mma.cuh"

namespace {

using namespace seer_mma;

constexpr int kBQ = 64;       // query rows per block, 16 per warp
constexpr int kBK = kKeyTile; // keys per tile
constexpr int kThreads = 128; // 4 warps

struct mma_params {
    int lq, lk;
    int64_t heads;
    float scale;
    const void *bias; // NULL or [Bb, Hb, Lq, Lk]
    seer_dtype bias_dt;
    int64_t bias_sb, bias_sh; // batch and head strides of bias in elements (0: broadcast)
};

// Shared memory of a D instantiation: K and V tiles [2 stages][kBK][D + kPad].
constexpr size_t smem_bytes(int d) {
    return (size_t)2 * 2 * kBK * (d + kPad) * 2;
}

// dst [kBK][D + kPad] = rows r0 .. r0 + kBK - 1 of src [len, D], started asynchronously;
// rows past len are zeros (a masked key's probability is 0, and 0 * garbage could be NaN).
template <typename T, int D>
__device__ __forceinline__ void load_tile_async(T *dst, const T *src, int r0, int len) {
    constexpr int kChunks = D / 8; // 16-byte pieces per row
    static_assert(kBK * kChunks % kThreads == 0, "whole rounds of copies");
#pragma unroll
    for (int i = 0; i < kBK * kChunks / kThreads; i++) {
        const int e = i * kThreads + threadIdx.x, r = e / kChunks, c = e % kChunks * 8;
        T *d = dst + r * (D + kPad) + c;
        if (r0 + r < len)
            cp_async16(d, src + (int64_t)(r0 + r) * D + c);
        else
            *(uint4 *)d = make_uint4(0, 0, 0, 0);
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads)
    attention_mma_kernel(T *o, const T *q, const T *k, const T *v, mma_params p) {
    using rows = flash_rows<T, D>;
    constexpr int LD = rows::LD;
    extern __shared__ __align__(16) unsigned char smem[];
    T *ks = (T *)smem;         // [2][kBK][LD]
    T *vs = ks + 2 * kBK * LD; // [2][kBK][LD]

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int64_t bh = blockIdx.x;
    const int lq = p.lq, lk = p.lk;
    const int row_lo = blockIdx.y * kBQ + warp * 16 + g, row_hi = row_lo + 8; // this lane's rows
    const T *qb = q + bh * lq * D, *kb = k + bh * lk * D, *vb = v + bh * lk * D;
    // Offsets of this lane's bias rows; -1: no bias, or a row past Lq (never written).
    const int64_t boff = (bh / p.heads) * p.bias_sb + (bh % p.heads) * p.bias_sh;
    const int64_t bias_lo = p.bias && row_lo < lq ? boff + (int64_t)row_lo * lk : -1;
    const int64_t bias_hi = p.bias && row_hi < lq ? boff + (int64_t)row_hi * lk : -1;
    const int ntiles = (lk + kBK - 1) / kBK;
    const bool warp_live = blockIdx.y * kBQ + warp * 16 < lq;

    if (ntiles > 0) {
        load_tile_async<T, D>(ks, kb, 0, lk);
        load_tile_async<T, D>(vs, vb, 0, lk);
        cp_async_commit();
    }

    // Q as A fragments over the whole head (rows past Lq are zeros, never written).
    uint32_t qf[rows::KD][4];
    rows::load_q(qf, row_lo < lq ? qb + (int64_t)row_lo * D : nullptr,
                 row_hi < lq ? qb + (int64_t)row_hi * D : nullptr, t);
    rows acc;
    const float scale2 = p.scale * kLog2e;

    for (int it = 0; it < ntiles; it++) {
        const int k0 = it * kBK;
        const T *kt = ks + (it & 1) * kBK * LD, *vt = vs + (it & 1) * kBK * LD;
        if (it + 1 < ntiles) { // the other stage was freed by the barrier ending the last tile
            load_tile_async<T, D>(ks + ((it + 1) & 1) * kBK * LD, kb, k0 + kBK, lk);
            load_tile_async<T, D>(vs + ((it + 1) & 1) * kBK * LD, vb, k0 + kBK, lk);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads(); // this tile's copies, from every thread, are in shared memory

        if (warp_live) // a warp whose rows all lie past Lq only helps with the copies
            acc.template tile<false>(kt, vt, qf, scale2, [&](int key, bool hi, float x) {
                key += k0;
                const int64_t brow = hi ? bias_hi : bias_lo;
                if (key >= lk) return -INFINITY;
                return brow >= 0 ? x + kLog2e * seer_cu_load_any(p.bias, p.bias_dt, brow + key) : x;
            });
        __syncthreads(); // every warp is done with this stage before it is refilled
    }
    T *ob = o + bh * lq * D;
    acc.store(row_lo < lq ? ob + (int64_t)row_lo * D : nullptr,
              row_hi < lq ? ob + (int64_t)row_hi * D : nullptr);
}

template <typename T, int D>
seer_status launch(T *o, const T *q, const T *k, const T *v, const mma_params &p, int64_t bh) {
    constexpr size_t smem = smem_bytes(D);
    // Above 48 KiB of dynamic shared memory needs an opt-in, once per instantiation.
    static const cudaError_t attr = cudaFuncSetAttribute(
        attention_mma_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    SEER_TRY(SEER_CU(attr));
    dim3 grid((unsigned)bh, (unsigned)((p.lq + kBQ - 1) / kBQ));
    attention_mma_kernel<T, D><<<grid, kThreads, smem, seer_cu_stream()>>>(o, q, k, v, p);
    return SEER_CU(seer_cu_launched());
}

bool aligned16(const seer_tensor *t) {
    return (uintptr_t)t->data % 16 == 0;
}

} // namespace

bool seer_cuda_attention_mma_fits(const seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                  const seer_tensor *v) {
    const int64_t d = q->shape[3];
    return (q->dtype == SEER_F16 || q->dtype == SEER_BF16) && v->shape[3] == d &&
           (d == 32 || d == 64 || d == 128) && aligned16(o) && aligned16(q) && aligned16(k) &&
           aligned16(v) && (q->shape[2] + kBQ - 1) / kBQ <= 65535;
}

seer_status seer_cuda_attention_mma(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                    const seer_tensor *v, const seer_tensor *bias, float scale) {
    const int64_t B = q->shape[0], H = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    const int64_t Lk = k->shape[2];
    mma_params p;
    p.lq = (int)Lq;
    p.lk = (int)Lk;
    p.heads = H;
    p.scale = scale;
    p.bias = bias ? bias->data : nullptr;
    p.bias_dt = bias ? bias->dtype : SEER_F32;
    // bias [Bb, Hb, Lq, Lk] contiguous; a size-1 batch or head dim broadcasts (stride 0).
    p.bias_sb = bias && bias->shape[0] != 1 ? bias->shape[1] * Lq * Lk : 0;
    p.bias_sh = bias && bias->shape[1] != 1 ? Lq * Lk : 0;
    auto run = [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        T *op = (T *)o->data;
        const T *qp = (const T *)q->data, *kp = (const T *)k->data, *vp = (const T *)v->data;
        if (D == 32) return launch<T, 32>(op, qp, kp, vp, p, B * H);
        if (D == 64) return launch<T, 64>(op, qp, kp, vp, p, B * H);
        return launch<T, 128>(op, qp, kp, vp, p, B * H);
    };
    if (q->dtype == SEER_F16) return run(seer_cu_tag<__half>{});
    return run(seer_cu_tag<__nv_bfloat16>{});
}
