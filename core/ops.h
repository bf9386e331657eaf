// Every op a model may call. Backend-neutral: each op validates its inputs, allocates its
// output in the context's arena, and runs on the device of the context (all inputs must be
// on that device). On any failure the op records a message in the context (sticky) and
// returns NULL; an op given a NULL input returns NULL.
//
// Conventions
// - Image tensors are channels-last: [B, H, W, C]. Token tensors are [B, L, C].
// - Float tensors of one op share one dtype (F32 on CPU; F32, F16 or BF16 on CUDA, with F32
//   accumulation), except 1-D parameters (bias, norm weight/bias, BN statistics), which are
//   always F32.
// - Index tensors are I32 or I64. Ops that return indices return I64.
// - Conv weights are OHWI: [C_out, kh, kw, C_in / groups] (PyTorch's OIHW is transposed once
//   at load time: seer_conv_weight_from_oihw).
// - Inputs may be non-contiguous views unless an op says otherwise; outputs are contiguous.
#ifndef SEER_OPS_H
#define SEER_OPS_H

#include "core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif


// ---- data movement -------------------------------------------------------------------------
seer_tensor *seer_new(seer_ctx *c, seer_dtype dt, int ndim, const int64_t *shape);
seer_tensor *seer_fill(seer_ctx *c, seer_tensor *x, double value);  // in place; returns x
// Copy of x in the context's device memory, contiguous, converted to dtype `dt`.
// x may live on any device (host<->device upload/download happens here).
seer_tensor *seer_to(seer_ctx *c, const seer_tensor *x, seer_dtype dt);
seer_tensor *seer_contiguous(seer_ctx *c, const seer_tensor *x);  // copy only if needed
// Upload host floats (contiguous, F32) into a new tensor of dtype dt.
seer_tensor *seer_from_host(seer_ctx *c, const float *src, seer_dtype dt, int ndim,
                            const int64_t *shape);
// Download x (any dtype convertible to float) into host floats, numel(x) of them.
seer_status seer_to_host(seer_ctx *c, const seer_tensor *x, float *dst);

// Views (no copy; the returned descriptor lives in the arena).
seer_tensor *seer_reshape(seer_ctx *c, const seer_tensor *x, int ndim, const int64_t *shape);
seer_tensor *seer_narrow(seer_ctx *c, const seer_tensor *x, int dim, int64_t start, int64_t len);
seer_tensor *seer_permute(seer_ctx *c, const seer_tensor *x, const int *perm);  // view
// Permute and copy into a contiguous tensor (the "transpose" op).
seer_tensor *seer_permute_copy(seer_ctx *c, const seer_tensor *x, const int *perm);

// ---- matrix products -----------------------------------------------------------------------
// out[..., M, N] = alpha * op(a) @ op(b) + bias, op = transpose of the last two dims when
// trans_* is set. a: [..., M, K] (trans_a: [..., K, M]); b: [..., K, N] (trans_b: [..., N, K]).
// Leading (batch) dims broadcast; b may be 2-D for a shared weight. bias: [N] or NULL.
seer_tensor *seer_matmul(seer_ctx *c, const seer_tensor *a, const seer_tensor *b, bool trans_a,
                         bool trans_b, float alpha, const seer_tensor *bias);
// PyTorch nn.Linear: x [..., in], w [out, in], b [out] or NULL -> [..., out].
seer_tensor *seer_linear(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                         const seer_tensor *b);
// residual + seer_linear(x, w, b) (residual: the Linear's output shape and dtype), as a residual
// block ends: on CUDA one GEMM with both sums in its epilogue; elsewhere linear, then add.
seer_tensor *seer_linear_add(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                             const seer_tensor *b, const seer_tensor *residual);
// seer_gelu(seer_linear(x, w, b)), a transformer MLP's first half: on CUDA the bias and the GELU
// in one pass over the GEMM's output (SEER_CUDA_NEW=0: the two kernels); elsewhere the two ops.
seer_tensor *seer_linear_gelu(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                              const seer_tensor *b);

// ---- convolution and pooling (NHWC) --------------------------------------------------------
typedef struct seer_conv2d_params {
    int stride_h, stride_w;
    int pad_h, pad_w;  // symmetric zero padding
    int dil_h, dil_w;
    int groups;
} seer_conv2d_params;
// Zero-initialized fields mean stride 1, pad 0, dilation 1, groups 1.
// x: [B, H, W, C_in]; w: [C_out, kh, kw, C_in / groups]; b: [C_out] or NULL.
seer_tensor *seer_conv2d(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                         const seer_tensor *b, const seer_conv2d_params *p);
// conv2d with its epilogue fused, as a residual block ends: y = conv2d(x, w, b), then
// y += residual if residual is not NULL (y's shape and dtype), then y = max(y, 0) if relu.
// One pass over y on the CPU; a composition of conv2d, add and relu where a backend has no
// fused kernel.
seer_tensor *seer_conv2d_fused(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                               const seer_tensor *b, const seer_conv2d_params *p,
                               const seer_tensor *residual, bool relu);
// Host-side: OIHW (PyTorch) F32 weights -> OHWI, into dst (same number of floats).
void seer_conv_weight_from_oihw(float *dst, const float *src, int64_t o, int64_t i, int64_t kh,
                                int64_t kw);

typedef enum seer_pool_mode { SEER_POOL_AVG = 0, SEER_POOL_MAX } seer_pool_mode;
typedef struct seer_pool2d_params {
    seer_pool_mode mode;
    int kernel_h, kernel_w;
    int stride_h, stride_w;  // 0 = kernel size (PyTorch default)
    int pad_h, pad_w;
    bool ceil_mode;
    bool count_include_pad;  // avg only; PyTorch's default is true
} seer_pool2d_params;
// Output size as PyTorch: floor or ceil of (H + 2p - k) / s + 1; with ceil_mode, a window
// that would start in the right padding is dropped. Windows that run past the padded input
// average over their valid part (and over padding if count_include_pad).
seer_tensor *seer_pool2d(seer_ctx *c, const seer_tensor *x, const seer_pool2d_params *p);
// PyTorch adaptive_avg_pool2d: window i spans [floor(i*H/oh), ceil((i+1)*H/oh)).
seer_tensor *seer_adaptive_avg_pool2d(seer_ctx *c, const seer_tensor *x, int out_h, int out_w);

// ---- normalization -------------------------------------------------------------------------
// Over the last dim. w, b: [C] or NULL.
seer_tensor *seer_layer_norm(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                             const seer_tensor *b, float eps);
seer_tensor *seer_rms_norm(seer_ctx *c, const seer_tensor *x, const seer_tensor *w, float eps);
// x: [B, ..., C] channels-last; statistics per (batch, group) over every other dim and the
// C / groups channels of the group. w, b: [C] or NULL.
seer_tensor *seer_group_norm(seer_ctx *c, const seer_tensor *x, int groups,
                             const seer_tensor *w, const seer_tensor *b, float eps);
// Inference batch norm over the last dim: (x - mean) / sqrt(var + eps) * w + b.
seer_tensor *seer_batch_norm(seer_ctx *c, const seer_tensor *x, const seer_tensor *mean,
                             const seer_tensor *var, const seer_tensor *w,
                             const seer_tensor *b, float eps);
// Host-side: fold inference BN (over C_out) into a conv's OHWI weight and bias (bias may be
// NULL on input, then bias_out gets the folded bias; bias_out has C_out floats).
void seer_bn_fold(float *w_ohwi, int64_t c_out, int64_t per_out, const float *bias,
                  const float *mean, const float *var, const float *gamma, const float *beta,
                  float eps, float *bias_out);

// ---- elementwise ---------------------------------------------------------------------------
typedef enum seer_unary_op {
    SEER_UNARY_RELU = 0,
    SEER_UNARY_GELU,       // erf form (PyTorch default)
    SEER_UNARY_GELU_TANH,  // tanh approximation
    SEER_UNARY_SILU,
    SEER_UNARY_SIGMOID,
    SEER_UNARY_TANH,
    SEER_UNARY_EXP,
    SEER_UNARY_SQRT,
    SEER_UNARY_ABS,
    SEER_UNARY_AFFINE,     // alpha * x + beta
    SEER_UNARY_COUNT
} seer_unary_op;
seer_tensor *seer_unary(seer_ctx *c, const seer_tensor *x, seer_unary_op op, float alpha,
                        float beta);
seer_tensor *seer_relu(seer_ctx *c, const seer_tensor *x);
seer_tensor *seer_gelu(seer_ctx *c, const seer_tensor *x);
seer_tensor *seer_gelu_tanh(seer_ctx *c, const seer_tensor *x);
seer_tensor *seer_silu(seer_ctx *c, const seer_tensor *x);
seer_tensor *seer_sigmoid(seer_ctx *c, const seer_tensor *x);
seer_tensor *seer_scale(seer_ctx *c, const seer_tensor *x, float alpha, float beta);

typedef enum seer_binary_op {
    SEER_BINARY_ADD = 0,
    SEER_BINARY_SUB,
    SEER_BINARY_MUL,
    SEER_BINARY_DIV,
    SEER_BINARY_MAX,
    SEER_BINARY_MIN,
    SEER_BINARY_COUNT
} seer_binary_op;
// NumPy broadcasting (shapes aligned at the right; size-1 dims stretch).
seer_tensor *seer_binary(seer_ctx *c, const seer_tensor *a, const seer_tensor *b,
                         seer_binary_op op);
seer_tensor *seer_add(seer_ctx *c, const seer_tensor *a, const seer_tensor *b);
seer_tensor *seer_sub(seer_ctx *c, const seer_tensor *a, const seer_tensor *b);
seer_tensor *seer_mul(seer_ctx *c, const seer_tensor *a, const seer_tensor *b);

// softmax(scale * x + bias) over the last dim; bias (may be NULL) broadcasts to x and may
// hold -inf. Entries at -inf get probability 0; a row with every entry -inf gives all zeros
// (PyTorch gives NaN there).
seer_tensor *seer_softmax(seer_ctx *c, const seer_tensor *x, float scale, const seer_tensor *bias);
seer_tensor *seer_log_softmax(seer_ctx *c, const seer_tensor *x, float scale);

// ---- reductions and selection --------------------------------------------------------------
typedef enum seer_reduce_op { SEER_REDUCE_SUM = 0, SEER_REDUCE_MEAN, SEER_REDUCE_MAX } seer_reduce_op;
// Reduce one dim (removed from the output shape).
seer_tensor *seer_reduce(seer_ctx *c, const seer_tensor *x, int dim, seer_reduce_op op);
// The same with an F32 result whatever x's float dtype: the reduction of x's values as they
// are, never rounded to x's dtype (for BF16/F16 x, without an F32 copy of x first).
seer_tensor *seer_reduce_f32(seer_ctx *c, const seer_tensor *x, int dim, seer_reduce_op op);
// Top k over the last dim, descending; ties keep the lower index first. values: x's dtype,
// indices: I64; both [..., k]. Either output pointer may be NULL.
seer_status seer_topk(seer_ctx *c, const seer_tensor *x, int64_t k, seer_tensor **values,
                      seer_tensor **indices);
seer_tensor *seer_argmax(seer_ctx *c, const seer_tensor *x);  // last dim, first max; I64 [...]
// One inverse-CDF draw per row of probs [..., V] (F32, non-negative, need not sum to 1): the
// first index whose running sum divided by the row's sum is >= the row's u (u: [...] F32),
// V - 1 at most. The running sums are taken in index order in F32 on every backend, so a draw
// is the same on the CPU and on CUDA. Rows with u < 0 are not drawn (index -1). I64 [...].
seer_tensor *seer_sample_inverse_cdf(seer_ctx *c, const seer_tensor *probs, const seer_tensor *u);

// ---- shape and indexing --------------------------------------------------------------------
seer_tensor *seer_concat(seer_ctx *c, const seer_tensor *const *xs, int n, int dim);
// Split along dim into n contiguous copies of the given sizes (sum = x.shape[dim]).
seer_status seer_split(seer_ctx *c, const seer_tensor *x, int dim, const int64_t *sizes, int n,
                       seer_tensor **outs);
// out = x.index_select(dim, idx); idx: 1-D.
seer_tensor *seer_index_select(seer_ctx *c, const seer_tensor *x, int dim, const seer_tensor *idx);
// torch.gather: out[i][j][k] = x[i][idx[i][j][k]][k] (dim = 1); out has idx's shape.
seer_tensor *seer_gather(seer_ctx *c, const seer_tensor *x, int dim, const seer_tensor *idx);
// torch.scatter (out of place): out = copy of x; out[i][idx[i][j][k]][k] = src[i][j][k].
// Duplicate indices: the last write in row-major order wins (CPU); undefined across CUDA
// threads, as in PyTorch.
seer_tensor *seer_scatter(seer_ctx *c, const seer_tensor *x, int dim, const seer_tensor *idx,
                          const seer_tensor *src);
// Zero (or value) padding of an NHWC tensor's H and W.
seer_tensor *seer_pad2d(seer_ctx *c, const seer_tensor *x, int top, int bottom, int left,
                        int right, float value);

// ---- spatial -------------------------------------------------------------------------------
typedef enum seer_resize_mode {
    SEER_RESIZE_NEAREST = 0,  // PyTorch 'nearest': src = floor(dst * in / out)
    SEER_RESIZE_BILINEAR,
    SEER_RESIZE_BICUBIC,      // a = -0.75, borders clamped, as torch.nn.functional.interpolate
} seer_resize_mode;
// NHWC resize without antialiasing (PyTorch tensor semantics). align_corners as PyTorch
// (ignored for nearest).
seer_tensor *seer_resize(seer_ctx *c, const seer_tensor *x, int out_h, int out_w,
                         seer_resize_mode mode, bool align_corners);

typedef struct seer_unfold_params {
    int kernel_h, kernel_w;
    int stride_h, stride_w;  // 0 = 1
    int pad_h, pad_w;
    int dil_h, dil_w;        // 0 = 1
} seer_unfold_params;
// x: [B, H, W, C] -> [B, Ho, Wo, kh * kw, C]: window (i, j) at output (y, x) reads input
// (y*s - p + i*d, x*s - p + j*d), zero outside. Ho, Wo as for a convolution.
seer_tensor *seer_unfold(seer_ctx *c, const seer_tensor *x, const seer_unfold_params *p);
// Adjoint of unfold: x: [B, Ho, Wo, kh * kw, C] -> [B, H, W, C], overlapping windows summed,
// padded positions dropped.
seer_tensor *seer_fold(seer_ctx *c, const seer_tensor *x, int out_h, int out_w,
                       const seer_unfold_params *p);
// VOLO's outlook attention after its softmax, in one pass: fold(attn @ unfold(v)) without the
// [B, Ho, Wo, kk, C] windows in between. v: [B, H, W, C]; attn: [B, Ho, Wo, heads, kk, kk]
// (kk = kh * kw; Ho x Wo the windows of p on H x W; row a weighs the window's kk value slots
// for its output slot a); C a multiple of heads, d = C / heads. Out [B, H, W, C]:
//   y[b, Y, X, n*d + e] = sum over windows w and slots a that land on (Y, X) of
//                         sum_t attn[b, w, n, a, t] * v[b, pixel of slot t of w, n*d + e]
// with zero values for slots outside the map.
seer_tensor *seer_outlook_fold(seer_ctx *c, const seer_tensor *v, const seer_tensor *attn,
                               int heads, const seer_unfold_params *p);

// ---- attention -----------------------------------------------------------------------------
// Scaled dot-product attention: softmax(scale * q k^T + bias) v.
// q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv]; bias: NULL or [Bb, Hb, Lq, Lk] with
// Bb in {1, B} and Hb in {1, H}, may hold -inf (masked). Out: [B, H, Lq, Dv].
seer_tensor *seer_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                            const seer_tensor *v, const seer_tensor *bias, float scale);
// Sparse attention over gathered keys: each query attends to its own n keys only.
// out[b,h,i] = sum_j softmax_j(scale * q[b,h,i] . k[b,h,idx_j]) v[b,h,idx_j], idx_j =
// idx[b,h,i,j]. q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv], idx: I32/I64
// [B, H, Lq, n]. A negative index is an empty slot (masked); a row of only empty slots gives
// zeros. An index >= Lk is an error on the CPU and an empty slot on CUDA (no read-back there).
// Cost is Lq * n * (D + Dv) per head: what a sparse attention pattern (Sparsifiner) saves.
seer_tensor *seer_attention_gather(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                   const seer_tensor *v, const seer_tensor *idx, float scale);
// BiFormer's bi-level routing attention at token level: the P pixels of region r attend to the
// pixels of its routed regions idx[b, r, 0..topk-1], read in place (no gathered copies).
// Regions form: q, k [B, m, R, P, D], v [B, m, R, P, Dv] (m heads, R regions of P pixels).
// Map form: q, k [B, m, Sj, Si, h, w, D], v [B, m, Sj, Si, h, w, Dv]: an Sj x Si grid of regions
// (region r = j * Si + i, R = Sj Si) of h x w pixels (pixel p = y * w + x, P = h w), e.g. views
// of one [B, H, W, C] qkv projection map (H = Sj h, W = Si w: pixel (y, x) of region (j, i) is
// the map's row j h + y, column i w + x). idx: I32/I64 [B, R, topk] (every head of an image
// routes alike). Over regions r and pixels p of either form:
//   out[b,n,r,p] = sum over t, s of softmax(scale * q[b,n,r,p] . k[b,n,idx[b,r,t],s]) *
//                  v[b,n,idx[b,r,t],s], the softmax over all topk * P keys.
// A region index outside [0, R) is an error on the CPU and skipped on CUDA. q, k and v may be
// views with any strides but a contiguous last dim (e.g. of one qkv projection): read in place.
// The output is a view in q's form, heads next to each other in memory: regions form stored
// [B, R, P, m, Dv] and viewed [B, m, R, P, Dv]; map form stored [B, Sj, h, Si, w, m, Dv] (a
// contiguous [B, H, W, m Dv] map) and viewed [B, m, Sj, Si, h, w, Dv]. Permuted back to its
// storage order ({0, 2, 3, 1, 4}; map form {0, 2, 4, 3, 5, 1, 6}) it is contiguous and reshapes
// to [B, R, P, m Dv] or [B, H, W, m Dv] without a copy.
// BiFormer's region-level routing on a [B, H, W, 2 qk] map of q then k channels (H, W
// multiples of S; any float dtype, last dim contiguous): the map cut into S x S regions of
// (H / S) x (W / S) pixels, region r = j * S + i; q_r, k_r = the regions' channel means (F32,
// as a mean over rows of means over each row's pixels), affinity = scale * q_r k_r^T [B, R, R];
// the indices I64 [B, R, topk] of each region's topk largest affinities, descending, ties to
// the lower index (as seer_topk). On CUDA one kernel for the means and one for affinity and
// top-k (opt-in, SEER_NEW_ROUTE=1); elsewhere seer_reduce_f32, seer_matmul and seer_topk.
seer_tensor *seer_region_route(seer_ctx *c, const seer_tensor *qk_map, int64_t S, int64_t topk,
                               float scale);
seer_tensor *seer_region_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *k,
                                   const seer_tensor *v, const seer_tensor *idx, float scale);
// HaloNet's halo attention (timm HaloAttn after its q and kv projections), in one pass: no
// unfolded key/value windows and no [.., bq^2, win^2] logits in memory.
typedef struct seer_halo_params {
    int block_size; // edge of the key blocks on kv's map (H, W multiples of it)
    int halo_size;  // keys reach this far around a block; outside the map they are zeros
    int heads;
    int dim_qk;     // per-head channels of q and k (v has kv's channels / heads - dim_qk)
    float scale;    // on q . k only (the position logits are not scaled)
} seer_halo_params;
// q: [B, Hq, Wq, heads * dim_qk], queries in bq x bq blocks with bq = Hq / (H / block_size)
// (bq < block_size when the queries were strided); kv: [B, H, W, heads * (dim_qk + dv)], each
// head's channels [k | v]; height_rel, width_rel: [2 win - 1, dim_qk], win = block_size + 2
// halo_size (timm's PosEmbedRel). Query (y, x) of block (by, bx), head n, attends to the win x
// win keys at (by * block_size - halo_size + i, bx * block_size - halo_size + j):
//   logit[i, j] = scale * q . k[i, j] + q . height_rel[win - 1 + i - y]
//                                     + q . width_rel[win - 1 + j - x]
// softmax over the window (zero keys included, as timm pads after the projection), then the
// weighted sum of v. Out: [B, Hq, Wq, heads * dv], the queries' layout.
seer_tensor *seer_halo_attention(seer_ctx *c, const seer_tensor *q, const seer_tensor *kv,
                                 const seer_tensor *height_rel, const seer_tensor *width_rel,
                                 const seer_halo_params *p);

#ifdef __cplusplus
}
#endif

#endif
