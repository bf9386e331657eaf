// Tensor-core building blocks shared by the attention kernels (attention_mma.cu,
// region_attention_mma.cu): mma.sync m16n8k16 with F32 accumulation, ldmatrix, cp.async.
//
// Fragments of mma.m16n8k16 (PTX ISA), lane = 4 g + t: A (16 x 16, row-major) holds rows g
// (regs 0, 2) and g + 8 (regs 1, 3), columns 2t, 2t + 1 (regs 0, 1) and 2t + 8, 2t + 9
// (regs 2, 3), two 16-bit values per register, the lower column in the low half; B (16 x 8)
// holds column g, rows 2t, 2t + 1 (reg 0) and 2t + 8, 2t + 9 (reg 1); the F32 accumulator
// (16 x 8) holds rows g (c0, c1) and g + 8 (c2, c3), columns 2t, 2t + 1.
#ifndef SEER_CUDA_MMA_CUH
#define SEER_CUDA_MMA_CUH

#include "core/cuda/cuda_common.cuh"

namespace seer_mma {

constexpr float kLog2e = 1.4426950408889634f;

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

// x rounded to T and back.
template <typename T> __device__ __forceinline__ float round_to(float x) {
    if constexpr (std::is_same_v<T, __half>)
        return __half2float(__float2half_rn(x));
    else
        return __bfloat162float(__float2bfloat16_rn(x));
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


constexpr int kKeyTile = 64; // keys per shared-memory tile of the attention kernels
constexpr int kPad = 8;      // elements of padding per shared row: conflict-free ldmatrix

// One warp's 16 query rows of flash attention (rows g and g + 8 of this lane): the running
// max m and sum l per row (base 2) and the output accumulator O [16, D], fed one tile of
// kKeyTile keys at a time from shared memory (K and V tiles [kKeyTile][D + kPad]).
template <typename T, int D> struct flash_rows {
    static constexpr int LD = D + kPad, KD = D / 16, NS = kKeyTile / 8, NO = D / 8;
    float o[NO][4] = {};
    float m_lo = -INFINITY, m_hi = -INFINITY; // running max (base 2) of rows g, g + 8
    float l_lo = 0.0f, l_hi = 0.0f;           // this lane's share of the running sums

    // Q's A fragments over the whole head from rows lo, hi (nullptr: a row past the end, zeros).
    __device__ static void load_q(uint32_t (&qf)[KD][4], const T *lo, const T *hi, int t) {
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
            const int c = kk * 16 + 2 * t;
            qf[kk][0] = lo ? *(const uint32_t *)(lo + c) : 0u;
            qf[kk][1] = hi ? *(const uint32_t *)(hi + c) : 0u;
            qf[kk][2] = lo ? *(const uint32_t *)(lo + c + 8) : 0u;
            qf[kk][3] = hi ? *(const uint32_t *)(hi + c + 8) : 0u;
        }
    }

    // S = Q K^T, x = adjust(key, hi, s scale2) (scale2 = scale log2 e; adjust adds a bias or
    // returns -inf for a masked key; key = 0 .. kKeyTile - 1 within the tile, hi: row g + 8),
    // online softmax, O = O alpha + P V with P rounded to T; with kSplitP, P = P_hi + P_lo, both
    // of type T, and O += P_hi V + P_lo V: P to about 16 bits instead of 8 (BF16), for one more
    // MMA per step (the tensor cores are far from busy here).
    template <bool kSplitP, typename Adjust>
    __device__ void tile(const T *kt, const T *vt, const uint32_t (&qf)[KD][4], float scale2,
                         Adjust adjust) {
        const int lane = threadIdx.x & 31, t = lane & 3, lm = lane >> 3, lr = lane & 7;
        // K is stored [key][d], i.e. B = K^T column-major: matrices (keys 8j, d 16kk), (8j,
        // 16kk + 8), (8j + 8, 16kk), (8j + 8, 16kk + 8) are B regs 0, 1 of column tiles j, j + 1.
        float s[NS][4] = {};
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
#pragma unroll
            for (int j = 0; j < NS; j += 2) {
                uint32_t b[4];
                ldmatrix_x4<false>(b, kt + (8 * j + (lm >> 1) * 8 + lr) * LD + 16 * kk + (lm & 1) * 8);
                mma_16816<T>(s[j], qf[kk], b[0], b[1]);
                mma_16816<T>(s[j + 1], qf[kk], b[2], b[3]);
            }
        }
        // Element e of tile j: row e < 2 ? g : g + 8, key 8j + 2t + (e & 1).
        float mx_lo = m_lo, mx_hi = m_hi;
#pragma unroll
        for (int j = 0; j < NS; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++)
                s[j][e] = adjust(8 * j + 2 * t + (e & 1), e >= 2, s[j][e] * scale2);
            mx_lo = fmaxf(mx_lo, fmaxf(s[j][0], s[j][1]));
            mx_hi = fmaxf(mx_hi, fmaxf(s[j][2], s[j][3]));
        }
        // A row's scores are spread over the 4 lanes of a quad.
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
            o[n][0] *= alpha_lo;
            o[n][1] *= alpha_lo;
            o[n][2] *= alpha_hi;
            o[n][3] *= alpha_hi;
        }
        // P in the A layout: k-step c (keys 16c .. 16c + 15) is S tiles 2c (regs 0, 1) and
        // 2c + 1 (regs 2, 3), rows g (regs 0, 2) and g + 8 (regs 1, 3).
        uint32_t pf[kKeyTile / 16][4], pl[kSplitP ? kKeyTile / 16 : 1][4];
#pragma unroll
        for (int j = 0; j < NS; j++) {
            const float p0 = exp2f(s[j][0] - base_lo), p1 = exp2f(s[j][1] - base_lo);
            const float p2 = exp2f(s[j][2] - base_hi), p3 = exp2f(s[j][3] - base_hi);
            l_lo += p0 + p1;
            l_hi += p2 + p3;
            pf[j / 2][(j & 1) * 2] = pack2<T>(p0, p1);
            pf[j / 2][(j & 1) * 2 + 1] = pack2<T>(p2, p3);
            if constexpr (kSplitP) {
                pl[j / 2][(j & 1) * 2] = pack2<T>(p0 - round_to<T>(p0), p1 - round_to<T>(p1));
                pl[j / 2][(j & 1) * 2 + 1] = pack2<T>(p2 - round_to<T>(p2), p3 - round_to<T>(p3));
            }
        }
        // V is stored [key][col], i.e. B row-major; transposed matrices (keys 16c, cols 8n),
        // (16c + 8, 8n), (16c, 8n + 8), (16c + 8, 8n + 8) are B regs 0, 1 of column tiles n, n + 1.
#pragma unroll
        for (int c = 0; c < kKeyTile / 16; c++) {
#pragma unroll
            for (int n = 0; n < NO; n += 2) {
                uint32_t b[4];
                ldmatrix_x4<true>(b, vt + (16 * c + (lm & 1) * 8 + lr) * LD + 8 * n + (lm >> 1) * 8);
                mma_16816<T>(o[n], pf[c], b[0], b[1]);
                mma_16816<T>(o[n + 1], pf[c], b[2], b[3]);
                if constexpr (kSplitP) {
                    mma_16816<T>(o[n], pl[kSplitP ? c : 0], b[0], b[1]);
                    mma_16816<T>(o[n + 1], pl[kSplitP ? c : 0], b[2], b[3]);
                }
            }
        }
    }

    // O / l into rows lo and hi (nullptr: not written); a row with l = 0 (every key masked) is
    // written as zeros.
    __device__ void store(T *lo, T *hi) {
        const int t = threadIdx.x & 3;
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            l_lo += __shfl_xor_sync(0xffffffffu, l_lo, off);
            l_hi += __shfl_xor_sync(0xffffffffu, l_hi, off);
        }
        const float inv_lo = l_lo > 0.0f ? 1.0f / l_lo : 0.0f;
        const float inv_hi = l_hi > 0.0f ? 1.0f / l_hi : 0.0f;
#pragma unroll
        for (int n = 0; n < NO; n++) {
            const int c = 8 * n + 2 * t;
            if (lo) *(uint32_t *)(lo + c) = pack2<T>(o[n][0] * inv_lo, o[n][1] * inv_lo);
            if (hi) *(uint32_t *)(hi + c) = pack2<T>(o[n][2] * inv_hi, o[n][3] * inv_hi);
        }
    }
};

} // namespace seer_mma

#endif
