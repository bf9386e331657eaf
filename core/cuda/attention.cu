// CUDA scaled dot-product attention, fused flash-attention style:
//   o = softmax(scale * q k^T + bias) v
// q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv], bias: NULL or [Bb, Hb, Lq, Lk]
// (Bb in {1, B}, Hb in {1, H}; may hold -inf), o: [B, H, Lq, Dv]; all contiguous, one float
// dtype (F32, F16 or BF16 storage; products, softmax and sums in float).
//
// One block owns kBQ query rows of one (batch, head) and kDM output columns. It walks the
// keys in tiles of kBK: scores S = Q K^T for the tile (D in chunks of kDM through shared
// memory), scale, bias, masks; an online softmax keeps each row's running max m and sum l
// and rescales the output accumulator by exp(m_old - m_new); then O += P V. Scores never go
// to global memory, so memory stays O(tile) for any Lk. A row whose every score is -inf
// keeps l = 0 and is written as zeros (the CPU backend's rule; PyTorch gives NaN).
//
// Any head size runs here: D beyond kDM is summed chunk by chunk, Dv beyond kDM takes more
// blocks (grid.z), each recomputing the scores for its columns, so no two-GEMM fallback is
// needed; kDM = 32, 64 or 128 is picked to fit max(D, Dv). F16/BF16 with D == Dv in
// {32, 64, 128} go to the tensor-core kernel of attention_mma.cu instead (unless
// SEER_ATTN_MMA=0).
#include "core/cuda/cuda_common.cuh"

namespace {

constexpr int kBQ = 32;       // query rows per block
constexpr int kBK = 64;       // keys per tile
constexpr int kThreads = 128; // 4 warps; thread (ty, tx) = (tid / 16, tid % 16)

struct attn_params {
    int lq, lk, d, dv;
    int64_t heads;
    float scale;
    const void *bias; // NULL or [Bb, Hb, Lq, Lk]
    seer_dtype bias_dt;
    int64_t bias_sb, bias_sh; // batch and head strides of bias in elements (0: broadcast)
};

// Floats of dynamic shared memory for a kDM instantiation.
constexpr int smem_floats(int dm) {
    return kBQ * (dm + 1) + kBK * (dm + 1) + kBQ * (kBK + 1) + 3 * kBQ;
}

// dst[r][c] (row stride dm + 1, rows x dm) = src[r0 + r][c0 + c] of a [len, cols] matrix,
// zero outside it (zeros keep masked keys from turning 0 * garbage into NaN).
template <typename T, int DM>
__device__ __forceinline__ void load_tile(float *dst, const T *src, int rows, int r0, int len,
                                          int c0, int cols) {
    for (int e = threadIdx.x; e < rows * DM; e += kThreads) {
        int r = e / DM, c = e % DM;
        int gr = r0 + r, gc = c0 + c;
        dst[r * (DM + 1) + c] =
            gr < len && gc < cols ? seer_cu_f(src[(int64_t)gr * cols + gc]) : 0.0f;
    }
}

template <typename T, int DM>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(T *o, const T *q, const T *k, const T *v, attn_params p) {
    constexpr int LD = DM + 1; // padded row stride: conflict-free column walks
    constexpr int LS = kBK + 1;
    constexpr int NJ = DM / 16; // output columns per thread
    extern __shared__ float sm[];
    float *qs = sm;               // [kBQ][LD]: query rows, current D chunk
    float *kv = qs + kBQ * LD;    // [kBK][LD]: key chunk, then value columns
    float *ss = kv + kBK * LD;    // [kBQ][LS]: scores, then probabilities
    float *row_m = ss + kBQ * LS; // running max per row
    float *row_l = row_m + kBQ;   // running sum per row
    float *row_a = row_l + kBQ;   // this tile's rescale factor per row

    const int tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;
    const int warp = tid >> 5, lane = tid & 31;
    const int64_t bh = blockIdx.x;
    const int q0 = blockIdx.y * kBQ, dv0 = blockIdx.z * DM;
    const int lq = p.lq, lk = p.lk, d = p.d, dv = p.dv;
    const T *qb = q + bh * lq * d;
    const T *kb = k + bh * lk * d;
    const T *vb = v + bh * lk * dv;
    const int64_t boff = p.bias ? (bh / p.heads) * p.bias_sb + (bh % p.heads) * p.bias_sh : 0;

    float acc[4][NJ] = {};
    if (tid < kBQ) {
        row_m[tid] = -INFINITY;
        row_l[tid] = 0.0f;
    }
    // With one D chunk the query rows stay in shared memory for every key tile.
    const bool q_resident = d <= DM;
    if (q_resident) load_tile<T, DM>(qs, qb, kBQ, q0, lq, 0, d);

    for (int k0 = 0; k0 < lk; k0 += kBK) {
        // S[4 rows][4 keys] of this thread: rows ty * 4 + i, keys tx + 16 * j.
        float s[4][4] = {};
        for (int d0 = 0; d0 < d; d0 += DM) {
            __syncthreads(); // the previous tile's readers of qs / kv are done
            if (!q_resident) load_tile<T, DM>(qs, qb, kBQ, q0, lq, d0, d);
            load_tile<T, DM>(kv, kb, kBK, k0, lk, d0, d);
            __syncthreads();
            const int dn = min(DM, d - d0);
            for (int e = 0; e < dn; e++) {
                float a[4], b[4];
                for (int i = 0; i < 4; i++)
                    a[i] = qs[(ty * 4 + i) * LD + e];
                for (int j = 0; j < 4; j++)
                    b[j] = kv[(tx + 16 * j) * LD + e];
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                        s[i][j] = fmaf(a[i], b[j], s[i][j]);
            }
        }
        __syncthreads(); // kv (keys) and ss (last tile's probabilities) are free again

// Scaled, biased scores; -inf for keys past Lk and rows past Lq.
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int r = ty * 4 + i, gi = q0 + r;
            for (int j = 0; j < 4; j++) {
                int c = tx + 16 * j, gj = k0 + c;
                float val = -INFINITY;
                if (gi < lq && gj < lk) {
                    val = s[i][j] * p.scale;
                    if (p.bias)
                        val += seer_cu_load_any(p.bias, p.bias_dt, boff + (int64_t)gi * lk + gj);
                }
                ss[r * LS + c] = val;
            }
        }
        load_tile<T, DM>(kv, vb, kBK, k0, lk, dv0, dv);
        __syncthreads();

        // Online softmax: warp w owns rows 8w .. 8w + 7, each lane two keys of a row.
        for (int rr = 0; rr < kBQ / 4; rr++) {
            int r = warp * (kBQ / 4) + rr;
            float *srow = ss + r * LS;
            float x0 = srow[lane], x1 = srow[lane + 32];
            float m_old = row_m[r];
            float m_new = fmaxf(m_old, seer_cu_warp_max(fmaxf(x0, x1)));
            float p0 = 0.0f, p1 = 0.0f, alpha = 1.0f;
            if (m_new != -INFINITY) { // else: nothing seen yet, acc and l stay 0
                p0 = expf(x0 - m_new);
                p1 = expf(x1 - m_new);
                alpha = expf(m_old - m_new); // 0 when m_old is -inf
            }
            float sum = seer_cu_warp_sum(p0 + p1);
            srow[lane] = p0;
            srow[lane + 32] = p1;
            if (lane == 0) {
                row_m[r] = m_new;
                row_l[r] = row_l[r] * alpha + sum;
                row_a[r] = alpha;
            }
        }
        __syncthreads();

// O = O * alpha + P V over this tile's keys; columns tx + 16 * j of the chunk.
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float al = row_a[ty * 4 + i];
            for (int j = 0; j < NJ; j++)
                acc[i][j] *= al;
        }
        for (int c = 0; c < kBK; c++) {
            float pr[4], vv[NJ];
            for (int i = 0; i < 4; i++)
                pr[i] = ss[(ty * 4 + i) * LS + c];
            for (int j = 0; j < NJ; j++)
                vv[j] = kv[c * LD + tx + 16 * j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < NJ; j++)
                    acc[i][j] = fmaf(pr[i], vv[j], acc[i][j]);
        }
    }
    __syncthreads(); // row_l of every row is final (and set, when Lk == 0)

#pragma unroll
    for (int i = 0; i < 4; i++) {
        int r = ty * 4 + i, gi = q0 + r;
        if (gi >= lq) continue;
        float l = row_l[r];
        float inv = l > 0.0f ? 1.0f / l : 0.0f; // fully masked row: zeros
        T *orow = o + (bh * lq + gi) * dv;
        for (int j = 0; j < NJ; j++) {
            int col = dv0 + tx + 16 * j;
            if (col < dv) orow[col] = seer_cu_store<T>(acc[i][j] * inv);
        }
    }
}

template <typename T, int DM>
seer_status launch(T *o, const T *q, const T *k, const T *v, const attn_params &p, int64_t bh) {
    const size_t smem = (size_t)smem_floats(DM) * sizeof(float);
    // Above 48 KiB of dynamic shared memory needs an opt-in, once per instantiation.
    static const cudaError_t attr = cudaFuncSetAttribute(
        attention_kernel<T, DM>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    SEER_TRY(SEER_CU(attr));
    dim3 grid((unsigned)bh, (unsigned)((p.lq + kBQ - 1) / kBQ), (unsigned)((p.dv + DM - 1) / DM));
    attention_kernel<T, DM><<<grid, kThreads, smem, seer_cu_stream()>>>(o, q, k, v, p);
    return SEER_CU(seer_cu_launched());
}

} // namespace

seer_status seer_cuda_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                const seer_tensor *v, const seer_tensor *bias, float scale) {
    const seer_tensor *ts[] = {o, q, k, v, bias};
    const char *names[] = {"o", "q", "k", "v", "bias"};
    for (int i = 0; i < 5; i++) {
        SEER_TRY(seer_cu_need_contig("attention", names[i], ts[i]));
        if (ts[i] && ts[i]->ndim != 4)
            return seer_fail(SEER_STATUS_SHAPE, "attention (cuda): %s must be 4-d", names[i]);
    }
    for (int i = 0; i < 4; i++)
        SEER_TRY(seer_cu_need_dtype("attention", names[i], ts[i], q->dtype));
    if (bias && !seer_dtype_is_float(bias->dtype))
        return seer_fail(SEER_STATUS_SHAPE, "attention (cuda): bias is %s, expected a float dtype",
                         seer_dtype_name(bias->dtype));
    int64_t B = q->shape[0], H = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    int64_t Lk = k->shape[2], Dv = v->shape[3];
    bool ok = k->shape[0] == B && k->shape[1] == H && k->shape[3] == D && v->shape[0] == B &&
              v->shape[1] == H && v->shape[2] == Lk && o->shape[0] == B && o->shape[1] == H &&
              o->shape[2] == Lq && o->shape[3] == Dv;
    if (bias)
        ok = ok && (bias->shape[0] == 1 || bias->shape[0] == B) &&
             (bias->shape[1] == 1 || bias->shape[1] == H) && bias->shape[2] == Lq &&
             bias->shape[3] == Lk;
    if (!ok)
        return seer_fail(SEER_STATUS_SHAPE,
                         "attention (cuda): shapes of o, q, k, v, bias disagree");
    if (seer_tensor_numel(o) == 0) return SEER_STATUS_OK;
    if (!seer_cu_fits_int(B * H) || !seer_cu_fits_int(Lk) || !seer_cu_fits_int(D) ||
        (Lq + kBQ - 1) / kBQ > 65535 || (Dv + 31) / 32 > 65535)
        return seer_fail(
            SEER_STATUS_UNSUPPORTED,
            "attention (cuda): B * H = %lld, Lq = %lld, Lk = %lld, D = %lld, Dv = %lld "
            "exceed the kernel's grid",
            (long long)(B * H), (long long)Lq, (long long)Lk, (long long)D, (long long)Dv);
    // SEER_ATTN_MMA=0 keeps F16/BF16 on this kernel too (to time one against the other).
    static const bool mma = seer_cu_switch_on("SEER_ATTN_MMA");
    if (mma && seer_cuda_attention_mma_fits(o, q, k, v))
        return seer_cuda_attention_mma(o, q, k, v, bias, scale);
    attn_params p;
    p.lq = (int)Lq;
    p.lk = (int)Lk;
    p.d = (int)D;
    p.dv = (int)Dv;
    p.heads = H;
    p.scale = scale;
    p.bias = bias ? bias->data : nullptr;
    p.bias_dt = bias ? bias->dtype : SEER_F32;
    // bias [Bb, Hb, Lq, Lk] contiguous; a size-1 batch or head dim broadcasts (stride 0).
    p.bias_sb = bias && bias->shape[0] != 1 ? bias->shape[1] * Lq * Lk : 0;
    p.bias_sh = bias && bias->shape[1] != 1 ? Lq * Lk : 0;
    int64_t dmax = D > Dv ? D : Dv;
    return seer_cu_dispatch_float(q->dtype, "attention", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        T *op = (T *)o->data;
        const T *qp = (const T *)q->data, *kp = (const T *)k->data, *vp = (const T *)v->data;
        if (dmax <= 32) return launch<T, 32>(op, qp, kp, vp, p, B * H);
        if (dmax <= 64) return launch<T, 64>(op, qp, kp, vp, p, B * H);
        return launch<T, 128>(op, qp, kp, vp, p, B * H);
    });
}
