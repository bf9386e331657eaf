// Kernels of the CPU backend: one function per field of seer_backend, same
// signature, named seer_cpu_<field>. The table is filled in backend.c.
#ifndef SEER_CPU_KERNELS_H
#define SEER_CPU_KERNELS_H

#include "core/backend.h"

bool seer_cpu_available(void);
void *seer_cpu_malloc(size_t bytes);
void seer_cpu_free(void *p);
seer_status seer_cpu_upload(void *dst, const void *src_host, size_t bytes);
seer_status seer_cpu_download(void *dst_host, const void *src, size_t bytes);
seer_status seer_cpu_copy_d2d(void *dst, const void *src, size_t bytes);
seer_status seer_cpu_sync(void);
seer_status seer_cpu_copy(seer_tensor *out, const seer_tensor *x);
seer_status seer_cpu_fill(seer_tensor *out, double value);
seer_status seer_cpu_matmul(seer_tensor *out, const seer_tensor *a, const seer_tensor *b, bool trans_a, bool trans_b, float alpha, const seer_tensor *bias);
seer_status seer_cpu_conv2d(seer_tensor *y, const seer_tensor *x, const seer_tensor *w, const seer_tensor *b, const seer_conv2d_params *p);
seer_status seer_cpu_conv2d_fused(seer_tensor *y, const seer_tensor *x, const seer_tensor *w, const seer_tensor *b, const seer_conv2d_params *p, const seer_tensor *residual, bool relu);
seer_status seer_cpu_pool2d(seer_tensor *y, const seer_tensor *x, const seer_pool2d_params *p);
seer_status seer_cpu_adaptive_avg_pool2d(seer_tensor *y, const seer_tensor *x);
seer_status seer_cpu_layer_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w, const seer_tensor *b, float eps);
seer_status seer_cpu_rms_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *w, float eps);
seer_status seer_cpu_group_norm(seer_tensor *y, const seer_tensor *x, int groups, const seer_tensor *w, const seer_tensor *b, float eps);
seer_status seer_cpu_batch_norm(seer_tensor *y, const seer_tensor *x, const seer_tensor *mean, const seer_tensor *var, const seer_tensor *w, const seer_tensor *b, float eps);
seer_status seer_cpu_unary(seer_tensor *y, const seer_tensor *x, seer_unary_op op, float alpha, float beta);
seer_status seer_cpu_binary(seer_tensor *y, const seer_tensor *a, const seer_tensor *b, seer_binary_op op);
seer_status seer_cpu_softmax(seer_tensor *y, const seer_tensor *x, float scale, const seer_tensor *bias, bool log);
seer_status seer_cpu_reduce(seer_tensor *y, const seer_tensor *x, int dim, seer_reduce_op op);
seer_status seer_cpu_topk(seer_tensor *values, seer_tensor *indices, const seer_tensor *x, int64_t k);
seer_status seer_cpu_argmax(seer_tensor *indices, const seer_tensor *x);
seer_status seer_cpu_sample_inverse_cdf(seer_tensor *idx, const seer_tensor *probs, const seer_tensor *u);
seer_status seer_cpu_concat(seer_tensor *y, const seer_tensor *const *xs, int n, int dim);
seer_status seer_cpu_index_select(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx);
seer_status seer_cpu_gather(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx);
seer_status seer_cpu_scatter(seer_tensor *y, const seer_tensor *x, int dim, const seer_tensor *idx, const seer_tensor *src);
seer_status seer_cpu_pad2d(seer_tensor *y, const seer_tensor *x, int top, int left, float value);
seer_status seer_cpu_resize(seer_tensor *y, const seer_tensor *x, seer_resize_mode mode, bool align_corners);
seer_status seer_cpu_unfold(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p);
seer_status seer_cpu_fold(seer_tensor *y, const seer_tensor *x, const seer_unfold_params *p);
seer_status seer_cpu_outlook_fold(seer_tensor *y, const seer_tensor *v, const seer_tensor *attn,
                                  int heads, const seer_unfold_params *p);
seer_status seer_cpu_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k, const seer_tensor *v, const seer_tensor *bias, float scale);
seer_status seer_cpu_attention_gather(seer_tensor *o, const seer_tensor *q, const seer_tensor *k, const seer_tensor *v, const seer_tensor *idx, float scale);
seer_status seer_cpu_halo_attention(seer_tensor *y, const seer_tensor *q, const seer_tensor *kv,
                                    const seer_tensor *height_rel, const seer_tensor *width_rel,
                                    const seer_halo_params *p);
seer_status seer_cpu_region_attention(seer_tensor *o, const seer_tensor *q, const seer_tensor *k,
                                      const seer_tensor *v, const seer_tensor *idx, float scale);

// ---- helpers shared by CPU kernels (not in the table) ---------------------------------------
// Row-major C = alpha * op(A) @ op(B) + beta * C through OpenBLAS (or a plain loop without it).
void seer_cpu_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                    int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
// Direct convolution (conv_direct.c): groups 1, dilation 1, F32, a small weight and C_out a
// multiple of 16 (AVX-512) or 8 (AVX2 + FMA) on a CPU that has the ISA. y = conv(x, w) + b,
// then + residual (y's shape, or NULL), then ReLU if relu. Contiguous tensors; call only
// where seer_cpu_conv2d_direct_fits says yes.
bool seer_cpu_conv2d_direct_fits(const seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                 const seer_conv2d_params *p);
seer_status seer_cpu_conv2d_direct(seer_tensor *y, const seer_tensor *x, const seer_tensor *w,
                                   const seer_tensor *b, const seer_conv2d_params *p,
                                   const seer_tensor *residual, bool relu);
// A per-thread scratch buffer of at least `bytes`, reused across calls (large kernels' im2col
// and score buffers would otherwise be mapped and page-faulted on every call). One live use
// per thread: the next call may move it. NULL + message on OOM.
void *seer_cpu_scratch(size_t bytes);
// Runs task(t, scratch, user) for t in [0, tasks) over the OpenMP threads, each thread with its
// own scratch of `bytes` bytes (seer_cpu_scratch): for kernels made of many small independent
// pieces (one attention block or region each, BLAS single-threaded inside).
// SEER_STATUS_OOM naming op when a thread could not get its scratch.
seer_status seer_cpu_parallel_tasks(const char *op, int64_t tasks, size_t bytes,
                                    void (*task)(int64_t t, float *scratch, void *user),
                                    void *user);

#endif
