// CUDA routed region attention (see seer_region_attention in core/ops.h). The keys are the
// pixels of the query region's routed regions, read where they are: no gathered copies of K
// and V, and q, k, v may be strided views (of one qkv projection, in the regions or the map
// form: core/region_layout.h; the output is written in the same form). F16/BF16 with head
// dims 32 or 64 go to the tensor-core kernel (region_attention_mma.cu; SEER_REGION_MMA=0 in
// the environment keeps them here, to time one against the other). Here, two kernels:
//  - tiled (head dims up to 64, shared memory within 48 KiB): one block of 128 threads per
//    (image, head, region, chunk of up to 64 query pixels). Query tile, 64-key tiles of K and V
//    (their rows' offsets found once per tile) and the tile's probabilities in shared memory
//    (F32); each thread owns RT query rows x 4 keys of the scores and RT rows x DVT output
//    columns; online softmax across key tiles, row reductions over the 16 lanes that share
//    the rows.
//  - one warp per query pixel (warp_attention.cuh), for the rest (and for all shapes with
//    SEER_REGION_TILE=0 in the environment, to time one against the other).
#include "core/cuda/warp_attention.cuh"
#include "core/region_layout.h"

namespace {

// Where the rows of q, k, v and o lie, regions or map form (core/region_layout.h); their last
// dims are contiguous (views of one qkv projection are read in place; o is stored heads-last).
struct rlayouts {
    seer_region_layout q, k, v, o;
};

// Row p of region `reg` of head n of image b.
template <typename T>
__device__ __forceinline__ T *rrow(T *t, const seer_region_layout &l, int64_t b, int64_t n,
                                   int64_t reg, int64_t p) {
    return t + seer_region_offset(&l, b, n, reg, p);
}

constexpr int kTileThreads = 128; // 8 row groups x 16 column groups
constexpr int kKeyTile = 64;
constexpr size_t kTileSmemMax = 48 * 1024;
constexpr int64_t kNoRow = INT64_MIN; // a key past the end or of an out-of-range region

// Floats of shared memory of the tiled kernel for d, RT, DVT.
inline size_t tile_smem_floats(int d, int rt, int dvt) {
    const size_t qs = 8 * rt + 4, ks = kKeyTile + 4;
    return (size_t)d * qs + (size_t)d * ks + (size_t)kKeyTile * 16 * dvt + (size_t)kKeyTile * qs;
}

// Half-warp (16 lanes) reductions: lanes 0-15 and 16-31 reduce separately.
__device__ __forceinline__ float half_warp_max(float v) {
    for (int o = 8; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float half_warp_sum(float v) {
    for (int o = 8; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename T, typename I, int RT, int DVT>
__global__ void __launch_bounds__(kTileThreads)
region_tile_kernel(T *o, const T *q, const T *k, const T *v, const I *idx, int m, int R, int P,
                   int d, int dv, int topk, int q_chunks, float scale, rlayouts st) {
    constexpr int QT = 8 * RT, QS = QT + 4, KT = kKeyTile, KS = KT + 4, DV = 16 * DVT;
    extern __shared__ float4 smem4[];
    float *Qs = (float *)smem4; // [d][QS], pre-scaled
    float *Ks = Qs + d * QS;    // [d][KS]
    float *Vs = Ks + d * KS;    // [KT][DV], zero past dv
    float *Ps = Vs + KT * DV;   // [KT][QS]
    // Where the key tile's K and V rows start (kNoRow: a masked key), each row's region and
    // pixel worked out once, not per element; before the first tile Ko holds Q's rows. In Ps's
    // room (at an even float, KT * QS >= 4 KT floats): Ps is not in use while a tile loads.
    int64_t *Ko = (int64_t *)Ps, *Vo = Ko + KT; // [KT], [KT]
    const int tid = threadIdx.x, rg = tid / 16, cg = tid % 16;
    const int64_t blk = blockIdx.x, chunk = blk % q_chunks, region = blk / q_chunks;
    const int64_t r = region % R, bn = region / R, b = bn / m, n = bn % m;
    const int p0 = (int)chunk * QT, nk = topk * P;
    const I *ir = idx + (b * R + r) * topk;

    if (tid < QT) Ko[tid] = p0 + tid < P ? seer_region_offset(&st.q, b, n, r, p0 + tid) : kNoRow;
    __syncthreads();
    for (int x = tid; x < QT * d; x += kTileThreads) {
        const int i = x / d, e = x - i * d;
        const int64_t at = Ko[i];
        Qs[e * QS + i] = at != kNoRow ? scale * seer_cu_f(q[at + e]) : 0.0f;
    }
    float mx[RT], sum[RT], acc[RT][DVT];
#pragma unroll
    for (int i = 0; i < RT; i++) {
        mx[i] = -INFINITY, sum[i] = 0.0f;
#pragma unroll
        for (int u = 0; u < DVT; u++)
            acc[i][u] = 0.0f;
    }
    for (int k0 = 0; k0 < nk; k0 += KT) {
        __syncthreads(); // the previous tile's K, V and P (or Q's row offsets) have been read
        if (tid < KT) {
            const int key = k0 + tid;
            const int64_t reg = key < nk ? (int64_t)ir[key / P] : -1;
            const bool ok = reg >= 0 && reg < R;
            Ko[tid] = ok ? seer_region_offset(&st.k, b, n, reg, key % P) : kNoRow;
            Vo[tid] = ok ? seer_region_offset(&st.v, b, n, reg, key % P) : kNoRow;
        }
        __syncthreads();
        for (int x = tid; x < KT * d; x += kTileThreads) {
            const int j = x / d, e = x - j * d;
            const int64_t at = Ko[j];
            Ks[e * KS + j] = at != kNoRow ? seer_cu_f(k[at + e]) : 0.0f;
        }
        for (int x = tid; x < KT * DV; x += kTileThreads) {
            const int j = x / DV, c = x - j * DV;
            const int64_t at = Vo[j];
            Vs[j * DV + c] = at != kNoRow && c < dv ? seer_cu_f(v[at + c]) : 0.0f;
        }
        __syncthreads();
        // Keys past the end or in an out-of-range region take no part (bit jj of live: key
        // cg*4 + jj; from idx, as Ko's room is Ps's).
        unsigned live = 0;
#pragma unroll
        for (int jj = 0; jj < 4; jj++) {
            const int key = k0 + cg * 4 + jj;
            const int64_t reg = key < nk ? (int64_t)ir[key / P] : -1;
            live |= (unsigned)(reg >= 0 && reg < R) << jj;
        }
        // Scores of rows rg*RT + i against keys cg*4 + jj.
        float s[RT][4];
#pragma unroll
        for (int i = 0; i < RT; i++)
#pragma unroll
            for (int jj = 0; jj < 4; jj++)
                s[i][jj] = 0.0f;
        for (int e = 0; e < d; e++) {
            const float4 kk = *(const float4 *)&Ks[e * KS + cg * 4];
#pragma unroll
            for (int i = 0; i < RT; i++) {
                const float qv = Qs[e * QS + rg * RT + i];
                s[i][0] += qv * kk.x, s[i][1] += qv * kk.y, s[i][2] += qv * kk.z, s[i][3] += qv * kk.w;
            }
        }
#pragma unroll
        for (int i = 0; i < RT; i++) {
            float tmax = -INFINITY;
#pragma unroll
            for (int jj = 0; jj < 4; jj++)
                if (live >> jj & 1u) tmax = fmaxf(tmax, s[i][jj]);
            const float m2 = fmaxf(mx[i], half_warp_max(tmax));
            float psum = 0.0f;
#pragma unroll
            for (int jj = 0; jj < 4; jj++) {
                const float p = live >> jj & 1u ? __expf(s[i][jj] - m2) : 0.0f;
                psum += p;
                Ps[(cg * 4 + jj) * QS + rg * RT + i] = p;
            }
            psum = half_warp_sum(psum);
            const float old = m2 == -INFINITY ? 1.0f : __expf(mx[i] - m2);
            sum[i] = sum[i] * old + psum;
#pragma unroll
            for (int u = 0; u < DVT; u++)
                acc[i][u] *= old;
            mx[i] = m2;
        }
        __syncthreads();
        const int kend = nk - k0 < KT ? nk - k0 : KT;
        for (int j = 0; j < kend; j++) {
#pragma unroll
            for (int i = 0; i < RT; i++) {
                const float p = Ps[j * QS + rg * RT + i];
#pragma unroll
                for (int u = 0; u < DVT; u++)
                    acc[i][u] += p * Vs[j * DV + cg + 16 * u];
            }
        }
    }
#pragma unroll
    for (int i = 0; i < RT; i++) {
        const int p = p0 + rg * RT + i;
        if (p >= P) continue;
        const float inv = sum[i] > 0.0f ? 1.0f / sum[i] : 0.0f;
        T *orow = rrow(o, st.o, b, n, r, p);
#pragma unroll
        for (int u = 0; u < DVT; u++) {
            const int c = cg + 16 * u;
            if (c < dv) orow[c] = seer_cu_store<T>(acc[i][u] * inv);
        }
    }
}

template <typename T, typename I, int RT, int DVT>
seer_status launch_tile(T *o, const T *q, const T *k, const T *v, const I *idx, int64_t regions,
                        int m, int R, int P, int d, int dv, int topk, float scale,
                        const rlayouts &st) {
    const int q_chunks = (P + 8 * RT - 1) / (8 * RT);
    const size_t smem = tile_smem_floats(d, RT, DVT) * sizeof(float);
    region_tile_kernel<T, I, RT, DVT><<<(unsigned)(regions * q_chunks), kTileThreads, smem,
                                        seer_cu_stream()>>>(o, q, k, v, idx, m, R, P, d, dv, topk,
                                                            q_chunks, scale, st);
    return SEER_CU(seer_cu_launched());
}

// The tiled kernel for this shape, picking RT (query rows per thread) from P and DVT (output
// columns per thread) from dv; UNSUPPORTED when it does not apply (the caller falls back).
template <typename T, typename I>
seer_status region_tile(T *o, const T *q, const T *k, const T *v, const I *idx, int64_t regions,
                        int m, int R, int P, int d, int dv, int topk, float scale,
                        const rlayouts &st) {
    const int rt = P <= 8 ? 1 : P <= 16 ? 2 : 8, dvt = dv <= 32 ? 2 : 4;
    if (d > 64 || dv > 64 || tile_smem_floats(d, rt, dvt) * sizeof(float) > kTileSmemMax ||
        regions * ((P + 8 * rt - 1) / (8 * rt)) > 0x7fffffffLL)
        return SEER_STATUS_UNSUPPORTED;
    if (rt == 1)
        return dvt == 2 ? launch_tile<T, I, 1, 2>(o, q, k, v, idx, regions, m, R, P, d, dv, topk, scale, st)
                        : launch_tile<T, I, 1, 4>(o, q, k, v, idx, regions, m, R, P, d, dv, topk, scale, st);
    if (rt == 2)
        return dvt == 2 ? launch_tile<T, I, 2, 2>(o, q, k, v, idx, regions, m, R, P, d, dv, topk, scale, st)
                        : launch_tile<T, I, 2, 4>(o, q, k, v, idx, regions, m, R, P, d, dv, topk, scale, st);
    return dvt == 2 ? launch_tile<T, I, 8, 2>(o, q, k, v, idx, regions, m, R, P, d, dv, topk, scale, st)
                    : launch_tile<T, I, 8, 4>(o, q, k, v, idx, regions, m, R, P, d, dv, topk, scale, st);
}

constexpr int kWarps = 4;    // query pixels per block
constexpr int kMaxSlice = 8; // D and Dv up to 32 * 8 = 256

template <typename T, typename I>
__global__ void region_attention_kernel(T *o, const T *q, const T *k, const T *v, const I *idx,
                                        int64_t rows, int m, int R, int P, int d, int dv,
                                        int topk, float scale, rlayouts st) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * kWarps + (threadIdx.x >> 5);
    if (row >= rows) return;
    const int64_t r = (row / P) % R, bn = row / ((int64_t)P * R), b = bn / m, n = bn % m;
    const I *ir = idx + (b * R + r) * topk;
    warp_attention_row<kMaxSlice> acc;
    acc.begin(rrow(q, st.q, b, n, r, row % P), d, lane);
    for (int t = 0; t < topk; t++) {
        const int64_t reg = (int64_t)ir[t];
        if (reg < 0 || reg >= R) continue; // checked by the CPU backend; skipped here
        for (int p = 0; p < P; p++)
            acc.add(rrow(k, st.k, b, n, reg, p), rrow(v, st.v, b, n, reg, p), d, dv, scale, lane);
    }
    acc.finish(rrow(o, st.o, b, n, r, row % P), dv, lane);
}

} // namespace

seer_status seer_cuda_region_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                       const seer_tensor *v, const seer_tensor *idx, float scale) {
    const int last = q->ndim - 1; // regions form (5 dims) or map form (7)
    const int64_t B = q->shape[0], m = q->shape[1], R = seer_region_count(q);
    const int64_t P = seer_region_pixels(q), D = q->shape[last], Dv = v->shape[last];
    const int64_t topk = idx->shape[2];
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
    static const bool tiled = seer_cu_switch_on("SEER_REGION_TILE");
    static const bool mma = seer_cu_switch_on("SEER_REGION_MMA");
    if (mma) { // tensor cores for F16/BF16 with head dims 32 or 64 (region_attention_mma.cu)
        const seer_status st = seer_cuda_region_attention_mma(o, q, k, v, idx, scale);
        if (st != SEER_STATUS_UNSUPPORTED) return st;
    }
    const rlayouts rs = {seer_region_layout_of(q), seer_region_layout_of(k),
                         seer_region_layout_of(v), seer_region_layout_of(o)};
    return seer_cu_dispatch_float(q->dtype, "region_attention", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        if (tiled) {
            const seer_status st =
                idx->dtype == SEER_I64
                    ? region_tile<T, int64_t>((T *)o->data, (const T *)q->data, (const T *)k->data,
                                              (const T *)v->data, (const int64_t *)idx->data,
                                              B * m * R, (int)m, (int)R, (int)P, (int)D, (int)Dv,
                                              (int)topk, scale, rs)
                    : region_tile<T, int32_t>((T *)o->data, (const T *)q->data, (const T *)k->data,
                                              (const T *)v->data, (const int32_t *)idx->data,
                                              B * m * R, (int)m, (int)R, (int)P, (int)D, (int)Dv,
                                              (int)topk, scale, rs);
            if (st != SEER_STATUS_UNSUPPORTED) return st;
        }
        if (idx->dtype == SEER_I64)
            region_attention_kernel<T, int64_t><<<blocks, 32 * kWarps, 0, seer_cu_stream()>>>(
                (T *)o->data, (const T *)q->data, (const T *)k->data, (const T *)v->data,
                (const int64_t *)idx->data, rows, (int)m, (int)R, (int)P, (int)D, (int)Dv,
                (int)topk, scale, rs);
        else
            region_attention_kernel<T, int32_t><<<blocks, 32 * kWarps, 0, seer_cu_stream()>>>(
                (T *)o->data, (const T *)q->data, (const T *)k->data, (const T *)v->data,
                (const int32_t *)idx->data, rows, (int)m, (int)R, (int)P, (int)D, (int)Dv,
                (int)topk, scale, rs);
        return SEER_CU(seer_cu_launched());
    });
}
