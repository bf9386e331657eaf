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
//
// Fragments of mma.m16n8k16 (PTX ISA), lane = 4 g + t: A (16 x 16, row-major) holds rows g
// (regs 0, 2) and g + 8 (regs 1, 3), columns 2t, 2t + 1 (regs 0, 1) and 2t + 8, 2t + 9
// (regs 2, 3), two 16-bit values per register, the lower column in the low half; B (16 x 8)
// holds column g, rows 2t, 2t + 1 (reg 0) and 2t + 8, 2t + 9 (reg 1); the F32 accumulator
// (16 x 8) holds rows g (c0, c1) and g + 8 (c2, c3), columns 2t, 2t + 1.
#include "core/cuda/cuda_common.cuh"

namespace {

constexpr int kBQ = 64;       // query rows per block, 16 per warp
constexpr int kBK = 64;       // keys per tile
constexpr int kThreads = 128; // 4 warps
constexpr int kPad = 8;       // elements of padding per shared row: conflict-free ldmatrix
constexpr float kLog2e = 1.4426950408889634f;

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

// Two floats rounded to T, packed as one 32-bit operand register (first in the low half).
template <typename T> __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    uint32_t u;
    if constexpr (std::is_same_v<T, __half>) {
        __half2 h = __floats2half2_rn(lo, hi);
        memcpy(&u, &h, sizeof u);
    } else {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        memcpy(&u, &h, sizeof u);
    }
    return u;
}

// c += a b for one 16 x 8 x 16 step, F32 accumulation.
template <typename T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1) {
    if constexpr (std::is_same_v<T, __half>)
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
            "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
            "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four 8 x 8 16-bit matrices from shared memory; lane 8 i + r gives the address of row r of
// matrix i (16 bytes, 16-byte aligned). Lane 4 g + t receives row g, columns 2t, 2t + 1 of
// matrix i in b[i]; transposed (.trans): rows 2t, 2t + 1 of column g.
template <bool kTrans>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&b)[4], const void *p) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    if constexpr (kTrans)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
                     : "r"(a)
                     : "memory");
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
                     : "r"(a)
                     : "memory");
}

__device__ __forceinline__ void cp_async16(void *dst, const void *src) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(a), "l"(src) : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most n of this thread's committed copy groups are still in flight.
template <int n> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(n) : "memory");
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
    constexpr int LD = D + kPad;
    constexpr int KD = D / 16;  // k-steps of Q K^T
    constexpr int NS = kBK / 8; // 8-key column tiles of S
    constexpr int NO = D / 8;   // 8-column tiles of O
    extern __shared__ __align__(16) unsigned char smem[];
    T *ks = (T *)smem;         // [2][kBK][LD]
    T *vs = ks + 2 * kBK * LD; // [2][kBK][LD]

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    // ldmatrix: this lane addresses row lr of matrix lm.
    const int lm = lane >> 3, lr = lane & 7;
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
    uint32_t qf[KD][4];
#pragma unroll
    for (int kk = 0; kk < KD; kk++) {
        const int c = kk * 16 + 2 * t;
        const T *lo = qb + (int64_t)row_lo * D + c, *hi = qb + (int64_t)row_hi * D + c;
        qf[kk][0] = row_lo < lq ? *(const uint32_t *)lo : 0u;
        qf[kk][1] = row_hi < lq ? *(const uint32_t *)hi : 0u;
        qf[kk][2] = row_lo < lq ? *(const uint32_t *)(lo + 8) : 0u;
        qf[kk][3] = row_hi < lq ? *(const uint32_t *)(hi + 8) : 0u;
    }

    float oacc[NO][4] = {};
    float m_lo = -INFINITY, m_hi = -INFINITY; // running max (base 2) of rows g, g + 8
    float l_lo = 0.0f, l_hi = 0.0f;           // this lane's share of the running sums
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

        if (warp_live) { // a warp whose rows all lie past Lq only helps with the copies
            // S = Q K^T. K is stored [key][d], i.e. B = K^T column-major: matrices (keys 8j, d
            // 16kk), (8j, 16kk + 8), (8j + 8, 16kk), (8j + 8, 16kk + 8) are B regs 0, 1 of
            // column tiles j and j + 1.
            float s[NS][4] = {};
#pragma unroll
            for (int kk = 0; kk < KD; kk++) {
#pragma unroll
                for (int j = 0; j < NS; j += 2) {
                    uint32_t b[4];
                    ldmatrix_x4<false>(b, kt + (8 * j + (lm >> 1) * 8 + lr) * LD + 16 * kk +
                                              (lm & 1) * 8);
                    mma_16816<T>(s[j], qf[kk], b[0], b[1]);
                    mma_16816<T>(s[j + 1], qf[kk], b[2], b[3]);
                }
            }

            // x = (scale s + bias) log2(e); -inf past Lk. Element e of tile j: row e < 2 ? g :
            // g + 8, key k0 + 8j + 2t + (e & 1).
            float mx_lo = m_lo, mx_hi = m_hi;
#pragma unroll
            for (int j = 0; j < NS; j++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int key = k0 + 8 * j + 2 * t + (e & 1);
                    const int64_t brow = e < 2 ? bias_lo : bias_hi;
                    float x = s[j][e] * scale2;
                    if (key >= lk)
                        x = -INFINITY;
                    else if (brow >= 0)
                        x += kLog2e * seer_cu_load_any(p.bias, p.bias_dt, brow + key);
                    s[j][e] = x;
                }
                mx_lo = fmaxf(mx_lo, fmaxf(s[j][0], s[j][1]));
                mx_hi = fmaxf(mx_hi, fmaxf(s[j][2], s[j][3]));
            }
            // A row's 64 scores are spread over the 4 lanes of a quad.
#pragma unroll
            for (int off = 1; off < 4; off <<= 1) {
                mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, off));
                mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, off));
            }
            // A row with no finite score yet subtracts 0 rather than -inf (no -inf - -inf = NaN);
            // its p and alpha are 0, and its O and l were 0.
            const float base_lo = mx_lo == -INFINITY ? 0.0f : mx_lo;
            const float base_hi = mx_hi == -INFINITY ? 0.0f : mx_hi;
            const float alpha_lo = exp2f(m_lo - base_lo), alpha_hi = exp2f(m_hi - base_hi);
            m_lo = mx_lo;
            m_hi = mx_hi;
            l_lo *= alpha_lo;
            l_hi *= alpha_hi;
#pragma unroll
            for (int n = 0; n < NO; n++) {
                oacc[n][0] *= alpha_lo;
                oacc[n][1] *= alpha_lo;
                oacc[n][2] *= alpha_hi;
                oacc[n][3] *= alpha_hi;
            }

            // P in the A layout: k-step c (keys 16c .. 16c + 15) is S tiles 2c (regs 0, 1) and
            // 2c + 1 (regs 2, 3), rows g (regs 0, 2) and g + 8 (regs 1, 3).
            uint32_t pf[kBK / 16][4];
#pragma unroll
            for (int j = 0; j < NS; j++) {
                const float p0 = exp2f(s[j][0] - base_lo), p1 = exp2f(s[j][1] - base_lo);
                const float p2 = exp2f(s[j][2] - base_hi), p3 = exp2f(s[j][3] - base_hi);
                l_lo += p0 + p1;
                l_hi += p2 + p3;
                pf[j / 2][(j & 1) * 2] = pack2<T>(p0, p1);
                pf[j / 2][(j & 1) * 2 + 1] = pack2<T>(p2, p3);
            }

            // O += P V. V is stored [key][col], i.e. B row-major; transposed matrices (keys 16c,
            // cols 8n), (16c + 8, 8n), (16c, 8n + 8), (16c + 8, 8n + 8) are B regs 0, 1 of column
            // tiles n and n + 1.
#pragma unroll
            for (int c = 0; c < kBK / 16; c++) {
#pragma unroll
                for (int n = 0; n < NO; n += 2) {
                    uint32_t b[4];
                    ldmatrix_x4<true>(b, vt + (16 * c + (lm & 1) * 8 + lr) * LD + 8 * n +
                                             (lm >> 1) * 8);
                    mma_16816<T>(oacc[n], pf[c], b[0], b[1]);
                    mma_16816<T>(oacc[n + 1], pf[c], b[2], b[3]);
                }
            }
        }
        __syncthreads(); // every warp is done with this stage before it is refilled
    }

#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        l_lo += __shfl_xor_sync(0xffffffffu, l_lo, off);
        l_hi += __shfl_xor_sync(0xffffffffu, l_hi, off);
    }
    const float inv_lo = l_lo > 0.0f ? 1.0f / l_lo : 0.0f; // fully masked row: zeros
    const float inv_hi = l_hi > 0.0f ? 1.0f / l_hi : 0.0f;
    T *ob = o + bh * lq * D;
#pragma unroll
    for (int n = 0; n < NO; n++) {
        const int c = 8 * n + 2 * t;
        if (row_lo < lq)
            *(uint32_t *)(ob + (int64_t)row_lo * D + c) =
                pack2<T>(oacc[n][0] * inv_lo, oacc[n][1] * inv_lo);
        if (row_hi < lq)
            *(uint32_t *)(ob + (int64_t)row_hi * D + c) =
                pack2<T>(oacc[n][2] * inv_hi, oacc[n][3] * inv_hi);
    }
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
