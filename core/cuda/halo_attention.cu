// CUDA halo attention (see seer_halo_attention in core/ops.h): one thread block per (batch,
// block, head). The block stages its win x win key/value window in shared memory as F32
// (zeros outside the map: timm's padding), then each warp takes one query at a time: the
// lanes form the window's height and width position logits, one key's logit each (the dot
// with the staged key), the softmax in F32 with warp reductions, and the output channels as
// the probability-weighted sum of the staged values. Neither the unfolded windows nor the
// [.., bq^2, win^2] logits exist in global memory; the output is stored in the tensor dtype.
// A window too large for shared memory is read from global memory instead (same arithmetic).
#include "core/cuda/cuda_common.cuh"

namespace {

constexpr int kWarps = 8; // most queries in flight per thread block (each warp one at a time)

struct halo_dims {
    int H, W, Hq, Wq, nhb, nwb;
    int bs, bq, halo, win, nh, dqk, dv;
    int warps; // per thread block: kWarps, or fewer for blocks of fewer queries
    int kst;   // row stride of the staged keys: dqk made odd, so lanes reading key rows at
               // once hit distinct banks
    float scale;
};

// Shared-memory floats: the staged window (if staged), and per warp the query, its win^2
// logits and its 2 win position logits.
inline int64_t smem_floats(const halo_dims &d, bool staged) {
    const int64_t lk = (int64_t)d.win * d.win;
    return (staged ? lk * (d.kst + d.dv) : 0) + (int64_t)d.warps * (d.dqk + lk + 2 * d.win);
}

template <typename T, bool kStaged>
__global__ void __launch_bounds__(32 * kWarps)
    halo_attention_kernel(T *y, const T *q, const T *kv, const T *hrel, const T *wrel,
                          halo_dims d) {
    extern __shared__ float sm[];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int lk = d.win * d.win, ckv = d.nh * (d.dqk + d.dv);
    int64_t t = blockIdx.x;
    const int n = (int)(t % d.nh);
    t /= d.nh;
    const int bx = (int)(t % d.nwb);
    t /= d.nwb;
    const int by = (int)(t % d.nhb);
    const int64_t b = t / d.nhb;
    const int y0 = by * d.bs - d.halo, x0 = bx * d.bs - d.halo; // the window's top-left pixel
    // key slot s of the window: its kv row for head n, or NULL in the zero padding
    auto kv_row = [&](int s) -> const T * {
        const int sy = y0 + s / d.win, sx = x0 + s % d.win;
        if (sy < 0 || sy >= d.H || sx < 0 || sx >= d.W) return nullptr;
        return kv + ((b * d.H + sy) * d.W + sx) * ckv + (int64_t)n * (d.dqk + d.dv);
    };
    float *ks = sm, *vs = ks + (kStaged ? (int64_t)lk * d.kst : 0);
    float *wbuf =
        vs + (kStaged ? (int64_t)lk * d.dv : 0) + (int64_t)warp * (d.dqk + lk + 2 * d.win);
    float *qv = wbuf, *pr = qv + d.dqk, *rh = pr + lk, *rw = rh + d.win;
    if (kStaged) {
        // consecutive threads read consecutive channels of one key row (coalesced)
        const int row = d.dqk + d.dv;
        for (int i = threadIdx.x; i < lk * row; i += blockDim.x) {
            const int s = i / row, ch = i - s * row;
            const T *src = kv_row(s);
            const float val = src ? seer_cu_f(src[ch]) : 0.0f;
            if (ch < d.dqk)
                ks[s * d.kst + ch] = val;
            else
                vs[s * d.dv + ch - d.dqk] = val;
        }
        __syncthreads();
    }
    const int lq = d.bq * d.bq;
    for (int r = warp; r < lq; r += d.warps) {
        const int qy = r / d.bq, qx = r - qy * d.bq;
        const int64_t pix = (b * d.Hq + (int64_t)by * d.bq + qy) * d.Wq + (int64_t)bx * d.bq + qx;
        const T *qr = q + pix * d.nh * d.dqk + (int64_t)n * d.dqk;
        for (int e = lane; e < d.dqk; e += 32)
            qv[e] = seer_cu_f(qr[e]);
        __syncwarp();
        // timm's rel_logits_1d: key row i reads height_rel[win - 1 + i - qy], key column j
        // width_rel[win - 1 + j - qx]
        for (int i = lane; i < 2 * d.win; i += 32) {
            const bool h = i < d.win;
            const int o = h ? i : i - d.win;
            const T *tr = (h ? hrel : wrel) + (int64_t)(d.win - 1 + o - (h ? qy : qx)) * d.dqk;
            float dot = 0.0f;
            for (int e = 0; e < d.dqk; e++)
                dot += qv[e] * seer_cu_f(tr[e]);
            (h ? rh : rw)[o] = dot;
        }
        __syncwarp();
        float mx = -INFINITY;
        for (int s = lane; s < lk; s += 32) {
            float dot = 0.0f;
            if (kStaged) {
                const float *kr = ks + s * d.kst;
                for (int e = 0; e < d.dqk; e++)
                    dot += qv[e] * kr[e];
            } else if (const T *kr = kv_row(s)) {
                for (int e = 0; e < d.dqk; e++)
                    dot += qv[e] * seer_cu_f(kr[e]);
            }
            const int i = s / d.win;
            const float logit = d.scale * dot + (rh[i] + rw[s - i * d.win]);
            pr[s] = logit;
            mx = fmaxf(mx, logit);
        }
        mx = seer_cu_warp_max(mx);
        float sum = 0.0f;
        for (int s = lane; s < lk; s += 32) {
            const float p = expf(pr[s] - mx);
            pr[s] = p;
            sum += p;
        }
        const float inv = 1.0f / seer_cu_warp_sum(sum); // >= 1 term of exp(0): never zero
        __syncwarp();
        T *orow = y + pix * d.nh * d.dv + (int64_t)n * d.dv;
        for (int e = lane; e < d.dv; e += 32) {
            float acc = 0.0f;
            if (kStaged) {
                for (int s = 0; s < lk; s++)
                    acc += pr[s] * vs[s * d.dv + e];
            } else {
                for (int s = 0; s < lk; s++)
                    if (const T *vr = kv_row(s)) acc += pr[s] * seer_cu_f(vr[d.dqk + e]);
            }
            orow[e] = seer_cu_store<T>(acc * inv);
        }
        __syncwarp(); // qv and pr are rewritten by the next query
    }
}

// The most dynamic shared memory a block may opt in to on the current device.
int smem_optin_bytes(void) {
    static const int bytes = [] {
        int dev = 0, v = 48 * 1024;
        if (cudaGetDevice(&dev) != cudaSuccess ||
            cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
            v = 48 * 1024;
        return v;
    }();
    return bytes;
}

template <typename T, bool kStaged>
seer_status launch(T *y, const T *q, const T *kv, const T *hrel, const T *wrel, const halo_dims &d,
                   int64_t blocks, size_t smem) {
    // Above 48 KiB of dynamic shared memory needs an opt-in, once per instantiation.
    static const cudaError_t attr =
        cudaFuncSetAttribute(halo_attention_kernel<T, kStaged>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, smem_optin_bytes());
    SEER_TRY(SEER_CU(attr));
    halo_attention_kernel<T, kStaged>
        <<<(unsigned)blocks, 32 * d.warps, smem, seer_cu_stream()>>>(y, q, kv, hrel, wrel, d);
    return SEER_CU(seer_cu_launched());
}

} // namespace

seer_status seer_cuda_halo_attention(seer_tensor *y, const seer_tensor *q, const seer_tensor *kv,
                                     const seer_tensor *height_rel, const seer_tensor *width_rel,
                                     const seer_halo_params *p) {
    const seer_tensor *ts[] = {y, q, kv, height_rel, width_rel};
    const char *names[] = {"y", "q", "kv", "height_rel", "width_rel"};
    for (int i = 0; i < 5; i++) {
        SEER_TRY(seer_cu_need_contig("halo_attention", names[i], ts[i]));
        SEER_TRY(seer_cu_need_dtype("halo_attention", names[i], ts[i], q->dtype));
    }
    const int64_t B = q->shape[0], H = kv->shape[1], W = kv->shape[2];
    const int64_t nhb = H / p->block_size, nwb = W / p->block_size;
    const int64_t dv = kv->shape[3] / p->heads - p->dim_qk;
    const int64_t blocks = B * nhb * nwb * p->heads;
    if (blocks == 0 || dv == 0) return SEER_STATUS_OK;
    if (!seer_cu_fits_int(B * H * W) || !seer_cu_fits_int(kv->shape[3]) ||
        !seer_cu_fits_int(blocks) || !seer_cu_fits_int(y->shape[3]) ||
        (int64_t)p->block_size + 2 * (int64_t)p->halo_size > 1024)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "halo_attention (cuda): sizes exceed the grid (or a window over 1024)");
    halo_dims d;
    d.H = (int)H;
    d.W = (int)W;
    d.Hq = (int)q->shape[1];
    d.Wq = (int)q->shape[2];
    d.nhb = (int)nhb;
    d.nwb = (int)nwb;
    d.bs = p->block_size;
    d.bq = (int)(q->shape[1] / nhb);
    d.halo = p->halo_size;
    d.win = p->block_size + 2 * p->halo_size;
    d.nh = p->heads;
    d.dqk = p->dim_qk;
    d.dv = (int)dv;
    d.warps = d.bq * d.bq < kWarps ? d.bq * d.bq : kWarps;
    d.kst = d.dqk | 1;
    d.scale = p->scale;
    const int64_t optin = smem_optin_bytes();
    const int64_t staged = smem_floats(d, true) * (int64_t)sizeof(float);
    const int64_t direct = smem_floats(d, false) * (int64_t)sizeof(float);
    if (direct > optin)
        return seer_fail(SEER_STATUS_UNSUPPORTED,
                         "halo_attention (cuda): a %dx%d window with %d q/k channels needs %lld "
                         "bytes of shared memory per block, the device has %lld",
                         d.win, d.win, d.dqk, (long long)direct, (long long)optin);
    return seer_cu_dispatch_float(q->dtype, "halo_attention", [&](auto tag) -> seer_status {
        using T = typename decltype(tag)::type;
        T *yp = (T *)y->data;
        const T *qp = (const T *)q->data, *kp = (const T *)kv->data;
        const T *hp = (const T *)height_rel->data, *wp = (const T *)width_rel->data;
        if (staged <= optin) return launch<T, true>(yp, qp, kp, hp, wp, d, blocks, (size_t)staged);
        return launch<T, false>(yp, qp, kp, hp, wp, d, blocks, (size_t)direct);
    });
}
