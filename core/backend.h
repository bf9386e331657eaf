// The table every backend fills. Internal to core/: models never see it.
//
// ops_*.c validate shapes and dtypes, allocate the contiguous output and make the inputs
// contiguous (except where a kernel's comment says it takes strides), then call the kernel of
// the context's device. A kernel may still refuse a dtype with SEER_STATUS_UNSUPPORTED.
// Kernels report failures with seer_fail() and return the status.
#ifndef SEER_BACKEND_H
#define SEER_BACKEND_H

#include "core/ops.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef struct seer_backend {
    const char *name;

    // memory
    bool (*available)(void);
    void *(*malloc)(size_t bytes);
    void (*free)(void *p);
    seer_status (*upload)(void *dst, const void *src_host, size_t bytes);
    seer_status (*download)(void *dst_host, const void *src, size_t bytes);
    seer_status (*copy_d2d)(void *dst, const void *src, size_t bytes);
    seer_status (*sync)(void);

    // out = x with any strides (stride 0 allowed), converted to out's dtype; same shape.
    seer_status (*copy)(seer_tensor *out, const seer_tensor *x);
    seer_status (*fill)(seer_tensor *out, double value);

    // a: [Ba, M, K] (trans_a: [Ba, K, M]); b: [Bb, K, N] (trans_b: [Bb, N, K]); Ba, Bb in
    // {1, B}; out: [B, M, N]; bias: [N] F32 or NULL.
    seer_status (*matmul)(seer_tensor *out, const seer_tensor *a, const seer_tensor *b,
                          bool trans_a, bool trans_b, float alpha, const seer_tensor *bias);
    // fields of p are normalized (stride >= 1, dil >= 1, groups >= 1).
    seer_status (*conv2d)(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                          const seer_tensor *b, const seer_conv2d_params *p);
    // stride normalized; y already has the output size.
    seer_status (*pool2d)(seer_tensor *y, const seer_tensor *x, const seer_pool2d_params *p);
    seer_status (*adaptive_avg_pool2d)(seer_tensor *y, const seer_tensor *x);

    seer_status (*layer_norm)(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                              const seer_tensor *b, float eps);
    seer_status (*rms_norm)(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                            float eps);
    seer_status (*group_norm)(seer_tensor *y, const seer_tensor *x, int groups,
                              const seer_tensor *w, const seer_tensor *b, float eps);
    seer_status (*batch_norm)(seer_tensor *y, const seer_tensor *x, const seer_tensor *mean,
                              const seer_tensor *var, const seer_tensor *w,
                              const seer_tensor *b, float eps);

    seer_status (*unary)(seer_tensor *y, const seer_tensor *x, seer_unary_op op, float alpha,
                         float beta);
    // a and b have y's ndim and shape, with stride 0 on broadcast dims (strided inputs).
    seer_status (*binary)(seer_tensor *y, const seer_tensor *a, const seer_tensor *b,
                          seer_binary_op op);
    // bias: NULL, or x's ndim/shape with stride 0 on broadcast dims (strided input).
    seer_status (*softmax)(seer_tensor *y, const seer_tensor *x, float scale,
                           const seer_tensor *bias, bool log);

    // x viewed as [outer, n, inner] with n = x.shape[dim].
    seer_status (*reduce)(seer_tensor *y, const seer_tensor *x, int dim, seer_reduce_op op);
    seer_status (*topk)(seer_tensor *values, seer_tensor *indices, const seer_tensor *x,
                        int64_t k);  // values may be NULL
    seer_status (*argmax)(seer_tensor *indices, const seer_tensor *x);

    seer_status (*concat)(seer_tensor *y, const seer_tensor *const *xs, int n, int dim);
    seer_status (*index_select)(seer_tensor *y, const seer_tensor *x, int dim,
                                const seer_tensor *idx);
    seer_status (*gather)(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx);
    seer_status (*scatter)(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx,
                           const seer_tensor *src);
    seer_status (*pad2d)(seer_tensor *y, const seer_tensor *x, int top, int left, float value);

    seer_status (*resize)(seer_tensor *y, const seer_tensor *x, seer_resize_mode mode,
                          bool align_corners);
    // fields of p normalized (stride >= 1, dil >= 1).
    seer_status (*unfold)(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p);
    seer_status (*fold)(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p);

    // bias: NULL or [Bb, Hb, Lq, Lk] contiguous with Bb in {1, B}, Hb in {1, H}.
    seer_status (*attention)(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                             const seer_tensor *v, const seer_tensor *bias, float scale);
    // idx: [B, H, Lq, n] I32/I64 contiguous; see seer_attention_gather.
    seer_status (*attention_gather)(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                    const seer_tensor *v, const seer_tensor *idx, float scale);

    // Optional (NULL: the front composes conv2d, binary add and unary relu): conv2d with its
    // epilogue, y = conv2d(x, w, b); y += residual (y's shape, contiguous) if not NULL;
    // y = max(y, 0) if relu. p as for conv2d.
    seer_status (*conv2d_fused)(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                const seer_tensor *b, const seer_conv2d_params *p,
                                const seer_tensor *residual, bool relu);
    // v: [B, H, W, C], attn: [B, Ho, Wo, heads, kk, kk], y: [B, H, W, C], all contiguous and of
    // one dtype; p normalized. See seer_outlook_fold.
    seer_status (*outlook_fold)(seer_tensor *y, const seer_tensor *v, const seer_tensor *attn,
                                int heads, const seer_unfold_params *p);
    // q: [B, Hq, Wq, heads * dqk], kv: [B, H, W, heads * (dqk + dv)], rel: [2 win - 1, dqk],
    // y: [B, Hq, Wq, heads * dv]; contiguous, one dtype, shapes checked. See seer_halo_attention.
    seer_status (*halo_attention)(seer_tensor *y, const seer_tensor *q, const seer_tensor *kv,
                                  const seer_tensor *height_rel, const seer_tensor *width_rel,
                                  const seer_halo_params *p);
    // q, k: [B, m, R, P, D], v and o: [B, m, R, P, Dv], or all in the map form [B, m, Sj, Si,
    // h, w, D or Dv] (core/region_layout.h); contiguous last dims (other strides as they come);
    // idx: [B, R, topk] I32/I64, contiguous. See seer_region_attention.
    seer_status (*region_attention)(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                    const seer_tensor *v, const seer_tensor *idx, float scale);
    // probs: [rows, V] F32, u: [rows] F32, idx: [rows] I64, contiguous. See
    // seer_sample_inverse_cdf.
    seer_status (*sample_inverse_cdf)(seer_tensor *idx, const seer_tensor *probs,
                                      const seer_tensor *u);
    // y = x w^T + b + r: x [rows, K], w [N, K], b F32 [N] or NULL, r and y [rows, N]; one float
    // dtype, contiguous. NULL: seer_linear_add composes linear and add. See seer_linear_add.
    seer_status (*linear_add)(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                              const seer_tensor *b, const seer_tensor *r);
    // y = GELU(x w^T + b) (erf form): x [rows, K], w [N, K], b F32 [N] or NULL, y [rows, N];
    // one float dtype, contiguous. NULL: seer_linear_gelu composes linear and gelu.
    seer_status (*linear_gelu)(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                               const seer_tensor *b);
    // idx I64 [B, S*S, topk] of seer_region_route; means: F32 [B, S*S, 2 qk] scratch (the
    // region means, left there); qk_map [B, H, W, 2 qk] contiguous, H and W multiples of S.
    // UNSUPPORTED: the front composes reduce, matmul and topk. NULL: the same.
    seer_status (*region_route)(seer_tensor *idx, seer_tensor *means, const seer_tensor *qk_map,
                                int64_t S, float scale);
} seer_backend;

// The table for a device, or NULL when this build has no such backend.
const seer_backend *seer_backend_get(seer_device dev);

extern const seer_backend seer_cpu_backend;
#ifdef SEER_CUDA
extern const seer_backend seer_cuda_backend;
#endif

#ifdef __cplusplus
}
#endif

#endif
