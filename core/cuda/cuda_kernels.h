// Kernels of the CUDA backend: one function per field of seer_backend, same
// signature, named seer_cuda_<field>. The table is filled in backend.cu.
#ifndef SEER_CUDA_KERNELS_H
#define SEER_CUDA_KERNELS_H

#include "core/backend.h"

bool seer_cuda_available(void);
void *seer_cuda_malloc(size_t bytes);
void seer_cuda_free(void *p);
seer_status seer_cuda_upload(void *dst, const void *src_host, size_t bytes);
seer_status seer_cuda_download(void *dst_host, const void *src, size_t bytes);
seer_status seer_cuda_copy_d2d(void *dst, const void *src, size_t bytes);
seer_status seer_cuda_sync(void);
seer_status seer_cuda_copy(seer_tensor *out, const seer_tensor *x);
seer_status seer_cuda_fill(seer_tensor *out, double value);
seer_status seer_cuda_matmul(seer_tensor *out, const seer_tensor *a, const seer_tensor *b, bool trans_a, bool trans_b, float alpha, const seer_tensor *bias);
seer_status seer_cuda_region_route(seer_tensor *idx, seer_tensor *means, const seer_tensor *qk_map,
                                   int64_t S, float scale);
seer_status seer_cuda_linear_gelu(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                  const seer_tensor *b);
seer_status seer_cuda_linear_add(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                 const seer_tensor *b, const seer_tensor *r);
seer_status seer_cuda_conv2d(seer_tensor *y, const seer_tensor *x, const seer_tensor *w, const seer_tensor *b, const seer_conv2d_params *p);
seer_status seer_cuda_conv2d_fused(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                   const seer_tensor *b, const seer_conv2d_params *p,
                                   const seer_tensor *residual, bool relu);
seer_status seer_cuda_pool2d(seer_tensor *y, const seer_tensor *x, const seer_pool2d_params *p);
seer_status seer_cuda_adaptive_avg_pool2d(seer_tensor *y, const seer_tensor *x);
seer_status seer_cuda_layer_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w, const seer_tensor *b, float eps);
seer_status seer_cuda_rms_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w, float eps);
seer_status seer_cuda_group_norm(seer_tensor *y, const seer_tensor *x, int groups, const seer_tensor *w, const seer_tensor *b, float eps);
seer_status seer_cuda_batch_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *mean, const seer_tensor *var, const seer_tensor *w, const seer_tensor *b, float eps);
seer_status seer_cuda_unary(seer_tensor *y, const seer_tensor *x, seer_unary_op op, float alpha, float beta);
seer_status seer_cuda_binary(seer_tensor *y, const seer_tensor *a, const seer_tensor *b, seer_binary_op op);
seer_status seer_cuda_softmax(seer_tensor *y, const seer_tensor *x, float scale, const seer_tensor *bias, bool log);
seer_status seer_cuda_reduce(seer_tensor *y, const seer_tensor *x, int dim, seer_reduce_op op);
seer_status seer_cuda_topk(seer_tensor *values, seer_tensor *indices, const seer_tensor *x, int64_t k);
seer_status seer_cuda_argmax(seer_tensor *indices, const seer_tensor *x);
seer_status seer_cuda_sample_inverse_cdf(seer_tensor *idx, const seer_tensor *probs, const seer_tensor *u);
seer_status seer_cuda_concat(seer_tensor *y, const seer_tensor *const *xs, int n, int dim);
seer_status seer_cuda_index_select(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx);
seer_status seer_cuda_gather(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx);
seer_status seer_cuda_scatter(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx, const seer_tensor *src);
seer_status seer_cuda_pad2d(seer_tensor *y, const seer_tensor *x, int top, int left, float value);
seer_status seer_cuda_resize(seer_tensor *y, const seer_tensor *x, seer_resize_mode mode, bool align_corners);
seer_status seer_cuda_unfold(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p);
seer_status seer_cuda_fold(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p);
seer_status seer_cuda_outlook_fold(seer_tensor *y, const seer_tensor *v, const seer_tensor *attn,
                                   int heads, const seer_unfold_params *p);
seer_status seer_cuda_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k, const seer_tensor *v, const seer_tensor *bias, float scale);
// The tensor-core path of seer_cuda_attention (attention_mma.cu): F16/BF16, D == Dv in
// {32, 64, 128}, 16-byte aligned data. _fits says whether a validated case is one of these.
bool seer_cuda_attention_mma_fits(const seer_tensor *o, const seer_tensor *q, const seer_tensor *k, const seer_tensor *v);
seer_status seer_cuda_attention_mma(seer_tensor *o, const seer_tensor *q, const seer_tensor *k, const seer_tensor *v, const seer_tensor *bias, float scale);
seer_status seer_cuda_attention_gather(seer_tensor *o, const seer_tensor *q, const seer_tensor *k, const seer_tensor *v, const seer_tensor *idx, float scale);
seer_status seer_cuda_halo_attention(seer_tensor *y, const seer_tensor *q, const seer_tensor *kv,
                                     const seer_tensor *height_rel, const seer_tensor *width_rel,
                                     const seer_halo_params *p);
seer_status seer_cuda_region_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                       const seer_tensor *v, const seer_tensor *idx, float scale);
// Its tensor-core path (region_attention_mma.cu): F16/BF16, D == Dv in {32, 64}, rows on
// 16-byte boundaries; SEER_STATUS_UNSUPPORTED (nothing recorded) for any other case.
seer_status seer_cuda_region_attention_mma(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                           const seer_tensor *v, const seer_tensor *idx, float scale);

#endif
