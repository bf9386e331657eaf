// HaloNet family (private): timm's ByobNet as byoanet.py configures it for HaloNet, BoTNet
// blocks and their mixes. Shared by backbones/halonet.c (network), halonet_cfg.c (config
// strings) and halonet_attn.c (halo and bottleneck self-attention).
#ifndef SEER_HALONET_H
#define SEER_HALONET_H

#include "backbones/model.h"

#define HALONET_MAX_STAGES 6
#define HALONET_MAX_DEPTH 32
#define HALONET_BN_EPS 1e-5f

// ---- configuration (timm ByoModelCfg / ByoBlockCfg) -------------------------------------------

typedef enum { HALONET_STEM_TIERED = 0, HALONET_STEM_3X3, HALONET_STEM_7X7 } halonet_stem_type;
typedef enum { HALONET_ATTN_NONE = 0, HALONET_ATTN_SE, HALONET_ATTN_ECA } halonet_chan_attn;
typedef enum { HALONET_SA_NONE = 0, HALONET_SA_HALO, HALONET_SA_BOT } halonet_sa_type;

// self_attn_layer + self_attn_kwargs: HaloAttn(block_size, halo_size, num_heads, dim_head,
// qk_ratio) or BottleneckAttn(num_heads, dim_head, qk_ratio). dim_head 0 = from qk_ratio.
typedef struct halonet_sa_cfg {
    halonet_sa_type type;
    int block_size, halo_size, num_heads, dim_head;
    double qk_ratio;
} halonet_sa_cfg;

typedef struct halonet_stage_cfg {
    char types[HALONET_MAX_DEPTH + 1]; // one letter per block: B bottleneck, S self-attention
    int channels, stride, group_size;  // group_size 0 = dense conv
    double bottle_ratio;
    bool own_sa; // sa below replaces the model's (timm: never merged)
    halonet_sa_cfg sa;
} halonet_stage_cfg;

typedef struct halonet_cfg {
    halonet_stem_type stem_type;
    int stem_chs;
    bool stem_pool;         // stem_pool='maxpool'
    bool silu;              // act_layer: silu, else relu
    halonet_chan_attn attn; // attn_layer of the bottleneck blocks
    double se_rd_ratio;
    bool downsample;  // downsample='conv1x1'; '' leaves blocks that change shape without shortcut
    int num_features; // final 1x1 conv channels, 0 = none
    bool bottle_in, linear_out;
    int img_size;      // input side the bottleneck attention's position table is built for
    halonet_sa_cfg sa; // self_attn_layer of the model
    int n_stages;
    halonet_stage_cfg stages[HALONET_MAX_STAGES];
} halonet_cfg;

// Parse a config string (grammar in halonet_cfg.c) on top of *cfg (keys given replace those
// fields; `stages=` replaces every stage). SEER_STATUS_FORMAT with a message on bad input.
seer_status seer_halonet_cfg_parse(const char *s, halonet_cfg *cfg);

// The self-attention of a stage: its own, else the model's.
const halonet_sa_cfg *seer_halonet_stage_sa(const halonet_cfg *cfg, int stage);

// timm's make_divisible(v, divisor, round_limit).
int seer_halonet_make_divisible(double v, int divisor, double round_limit);

// ---- layers --------------------------------------------------------------------------------

// A conv with its BatchNorm folded in (ConvNormAct / conv + bn), optionally followed by the
// model's activation.
typedef struct halonet_conv {
    seer_tensor *w, *b;
    int k, stride, groups;
    bool act;
} halonet_conv;

// Self-attention of a SelfAttnBlock (HaloAttn or BottleneckAttn), NHWC in and out.
typedef struct halonet_sa {
    halonet_sa_type type;
    char name[48]; // "stages.3.0.self_attn", for error messages
    int num_heads, dim_head_qk, dim_head_v;
    float scale;
    // halo
    int block_size, halo_size, win_size, block_stride, block_size_ds;
    seer_tensor *q_w, *kv_w;
    // bottleneck
    int feat_h, feat_w;
    seer_tensor *qkv_w;
    bool avg_pool; // 2x2 average pool of the output (stride 2 without strided queries)
    seer_tensor *height_rel, *width_rel; // [2 * win - 1, dim_head_qk]
} halonet_sa;

// Reads `<prefix>.q/kv/qkv.weight` and `<prefix>.pos_embed.{height,width}_rel` for a layer of
// `dim` channels in and out. feat_h/feat_w: the input size the bottleneck attention is built for.
seer_status seer_halonet_sa_load(seer_loader *l, seer_model *m, halonet_sa *sa,
                                 const halonet_sa_cfg *cfg, const char *prefix, int dim, int stride,
                                 int feat_h, int feat_w);
// x: [B, H, W, dim] -> [B, H / stride, W / stride, dim]
seer_tensor *seer_halonet_sa_forward(seer_ctx *c, const halonet_sa *sa, const seer_tensor *x);
// timm's rel_logits_1d on both axes, composed of matmuls and a strided view (halonet_attn.c):
// q [..., qh * qw, d] with n rows of queries -> [n, qh, qw, kh, kw]. Bottleneck attention's
// position bias; tests/test_ops_halo.c builds halo attention's reference from it.
seer_tensor *seer_halonet_rel_pos_logits(seer_ctx *c, const seer_tensor *q, int64_t n, int qh,
                                         int qw, int kh, int kw, const seer_tensor *height_rel,
                                         const seer_tensor *width_rel);

#endif
