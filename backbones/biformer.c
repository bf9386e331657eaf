// BiFormer (Zhu et al., CVPR 2023) as the official rayleizhu/BiFormer models/biformer.py builds
// it: a conv stem (two 3x3 stride-2 convs with BatchNorm, GELU between) and three 3x3 stride-2
// downsampling convs with BatchNorm (folded at load), four stages of blocks, a final
// BatchNorm2d, global average pool and a linear head. A block:
//     x = x + pos_embed(x)          depthwise 3x3 conv
//     x = x + attn(norm1(x))        bi-level routing attention (biformer_bra.c), or plain
//                                   attention with LePE where topk = -2 (the last stage)
//     x = x + mlp(norm2(x))         Linear, GELU, Linear (hidden = mlp_ratio * dim)
// with LayerNorm eps 1e-6. Weight names are the official state_dict keys (downsample_layers.*,
// stages.{i}.{j}.{pos_embed,norm1,attn,norm2,mlp}.*, norm.*, head.*).
//
// Presets as models/biformer.py registers them. A file's metadata may change the config (the
// golden fixtures use small ones): seer.depths, seer.embed_dims, seer.qk_dims (4 integers each),
// seer.topks (4 integers: k > 0 routes to k regions, -2 = full attention with LePE),
// seer.mlp_ratios (4 numbers), seer.head_dim, seer.n_win, seer.auto_pad (0 or 1), and
// seer.stem_strides (2 integers: the strides of the stem's two convs, 2,2 in every official
// preset; the CIFAR-10 model of tools/torch_ref/biformer.py uses 1,2: a 16x16 first stage on
// 32x32 images).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/biformer.h"

#define BN_EPS 1e-5f
#define LN_EPS 1e-6f
#define POS_KERNEL 3  // before_attn_dwconv
#define SIDE_DWCONV 5 // LePE kernel
#define MHSA_HEADS 8  // AttentionLePE is built with its default num_heads in every preset

typedef struct biformer_config {
    int depths[4], dims[4], qk_dims[4], topks[4];
    double mlp_ratios[4];
    int head_dim, n_win;
    bool auto_pad;
    int stem_strides[2];
} biformer_config;

typedef struct conv_bn {
    seer_tensor *w, *b; // BN folded into the conv: OHWI weight, F32 bias
} conv_bn;

typedef struct block {
    seer_tensor *pos_w, *pos_b, *norm1_w, *norm1_b, *norm2_w, *norm2_b;
    seer_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b; // mlp.0, mlp.3
    bool routed;
    biformer_bra bra;
    biformer_mhsa mhsa;
} block;

typedef struct biformer {
    biformer_config cfg;
    conv_bn stem[2], down[3];
    block *blocks[4];
    seer_tensor *norm_w, *norm_b, *norm_mean, *norm_var; // final BatchNorm2d
    seer_tensor *head_w, *head_b;
} biformer;

// ---- config --------------------------------------------------------------------------------

// "a,b,..." -> n numbers.
static seer_status parse_list(const char *key, const char *s, double *out, int n) {
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        out[i] = strtod(p, &end);
        if (end == p || errno || (i < n - 1 && *end != ',') || (i == n - 1 && *end != '\0'))
            return seer_fail(SEER_STATUS_FORMAT,
                             "metadata %s = '%s': expected %d comma-separated numbers", key, s, n);
        p = end + 1;
    }
    return SEER_STATUS_OK;
}

static seer_status meta_ints(const seer_st_file *f, const char *key, int *out, int n) {
    const char *s = seer_st_metadata(f, key);
    if (!s) return SEER_STATUS_OK;
    double v[4] = {0};
    SEER_TRY(parse_list(key, s, v, n));
    for (int i = 0; i < n; i++) {
        if (v[i] != (int)v[i])
            return seer_fail(SEER_STATUS_FORMAT, "metadata %s = '%s': expected integers", key, s);
        out[i] = (int)v[i];
    }
    return SEER_STATUS_OK;
}

static seer_status read_config(const seer_st_file *f, const char *arch, biformer_config *cfg) {
    int auto_pad = cfg->auto_pad;
    SEER_TRY(meta_ints(f, "seer.depths", cfg->depths, 4));
    SEER_TRY(meta_ints(f, "seer.embed_dims", cfg->dims, 4));
    SEER_TRY(meta_ints(f, "seer.qk_dims", cfg->qk_dims, 4));
    SEER_TRY(meta_ints(f, "seer.topks", cfg->topks, 4));
    SEER_TRY(meta_ints(f, "seer.stem_strides", cfg->stem_strides, 2));
    SEER_TRY(seer_st_metadata_int(f, "seer.head_dim", 0, 1 << 20, &cfg->head_dim));
    SEER_TRY(seer_st_metadata_int(f, "seer.n_win", 0, 1 << 20, &cfg->n_win));
    SEER_TRY(seer_st_metadata_int(f, "seer.auto_pad", 0, 1 << 20, &auto_pad));
    const char *s = seer_st_metadata(f, "seer.mlp_ratios");
    if (s) SEER_TRY(parse_list("seer.mlp_ratios", s, cfg->mlp_ratios, 4));
    cfg->auto_pad = auto_pad != 0;
    if (cfg->n_win < 1 || cfg->head_dim < 1 || auto_pad > 1)
        return seer_fail(SEER_STATUS_FORMAT, "%s: n_win %d, head_dim %d, auto_pad %d out of range",
                         arch, cfg->n_win, cfg->head_dim, auto_pad);
    for (int i = 0; i < 2; i++)
        if (cfg->stem_strides[i] < 1 || cfg->stem_strides[i] > 16)
            return seer_fail(SEER_STATUS_FORMAT,
                             "%s: metadata seer.stem_strides: stride %d out of range [1, 16]", arch,
                             cfg->stem_strides[i]);
    for (int i = 0; i < 4; i++) {
        int d = cfg->dims[i], qk = cfg->qk_dims[i], k = cfg->topks[i];
        int heads = k > 0 ? qk / cfg->head_dim : MHSA_HEADS;
        bool ok = cfg->depths[i] >= 1 && d >= 1 && qk >= 1 && cfg->mlp_ratios[i] > 0 &&
                  (k == -2 || (k >= 1 && k <= cfg->n_win * cfg->n_win)) && heads >= 1 &&
                  d % heads == 0 && (k == -2 || qk % cfg->head_dim == 0);
        if (!ok)
            return seer_fail(
                SEER_STATUS_FORMAT,
                "%s: stage %d config (depth %d, dim %d, qk_dim %d, topk %d, head_dim "
                "%d, n_win %d) is not one BiFormer builds (topk in [1, n_win^2] or -2; "
                "dims divisible by the heads)",
                arch, i + 1, cfg->depths[i], d, qk, k, cfg->head_dim, cfg->n_win);
    }
    return SEER_STATUS_OK;
}

// ---- loading -------------------------------------------------------------------------------

// Conv2d with bias followed by BatchNorm2d: folded into one conv.
static seer_status load_conv_bn(seer_loader *l, seer_model *m, conv_bn *cb, const char *conv,
                                const char *bn, int64_t c_out, int64_t c_in) {
    int64_t per_out = c_in * 9, vshape[1] = {c_out};
    float *w = NULL, *p[5] = {0};
    static const char *parts[5] = {"bias", "weight", "bias", "running_mean", "running_var"};
    seer_status st = SEER_STATUS_FORMAT;
    if (!(w = seer_load_host(l, seer_loader_name(l, "%s.weight", conv), 4,
                             (int64_t[]){c_out, c_in, 3, 3})))
        goto done;
    for (int i = 0; i < 5; i++)
        if (!(p[i] = seer_load_host(l, seer_loader_name(l, "%s.%s", i ? bn : conv, parts[i]), 1,
                                    vshape)))
            goto done;
    float *ohwi = malloc(sizeof(float) * (size_t)(c_out * per_out)),
          *bias = malloc(sizeof(float) * (size_t)c_out);
    if (ohwi && bias) {
        seer_conv_weight_from_oihw(ohwi, w, c_out, c_in, 3, 3);
        seer_bn_fold(ohwi, c_out, per_out, p[0], p[3], p[4], p[1], p[2], BN_EPS, bias);
        cb->w = seer_weights_add(m->weights, seer_loader_name(l, "%s.weight", conv), m->dtype, 4,
                                 (int64_t[]){c_out, 3, 3, c_in}, ohwi);
        cb->b = cb->w ? seer_weights_add(m->weights, seer_loader_name(l, "%s.folded_bias", bn),
                                         SEER_F32, 1, vshape, bias)
                      : NULL;
        st = cb->b ? SEER_STATUS_OK : SEER_STATUS_OOM;
    } else {
        st = seer_fail(SEER_STATUS_OOM, "out of host memory loading %s", conv);
    }
    free(ohwi);
    free(bias);
done:
    free(w);
    for (int i = 0; i < 5; i++)
        free(p[i]);
    return st;
}

static seer_tensor *load1(seer_loader *l, seer_model *m, const char *p, const char *part,
                          int64_t n) {
    return seer_load_tensor(l, m, seer_loader_name(l, "%s.%s", p, part), 1, (int64_t[]){n});
}

static seer_tensor *load2(seer_loader *l, seer_model *m, const char *p, const char *part,
                          int64_t rows, int64_t cols) {
    return seer_load_tensor(l, m, seer_loader_name(l, "%s.%s", p, part), 2,
                            (int64_t[]){rows, cols});
}

static seer_status load_block(seer_loader *l, seer_model *m, const biformer_config *cfg, int s,
                              block *b, const char *p) {
    int64_t d = cfg->dims[s], hidden = (int64_t)(cfg->mlp_ratios[s] * d);
    if (!(b->pos_w = seer_load_conv(l, m, seer_loader_name(l, "%s.pos_embed.weight", p), d, 1,
                                    POS_KERNEL, POS_KERNEL)) ||
        !(b->pos_b = load1(l, m, p, "pos_embed.bias", d)) ||
        !(b->norm1_w = load1(l, m, p, "norm1.weight", d)) ||
        !(b->norm1_b = load1(l, m, p, "norm1.bias", d)))
        return SEER_STATUS_FORMAT;
    const char *attn = seer_loader_name(l, "%s.attn", p);
    b->routed = cfg->topks[s] > 0;
    if (b->routed) {
        b->bra = (biformer_bra){.dim = (int)d,
                                .qk_dim = cfg->qk_dims[s],
                                .heads = cfg->qk_dims[s] / cfg->head_dim,
                                .n_win = cfg->n_win,
                                .topk = cfg->topks[s],
                                .side_dwconv = SIDE_DWCONV,
                                .auto_pad = cfg->auto_pad};
        SEER_TRY(biformer_bra_load(l, m, &b->bra, attn));
    } else {
        b->mhsa = (biformer_mhsa){.dim = (int)d, .heads = MHSA_HEADS, .side_dwconv = SIDE_DWCONV};
        SEER_TRY(biformer_mhsa_load(l, m, &b->mhsa, attn));
    }
    if (!(b->norm2_w = load1(l, m, p, "norm2.weight", d)) ||
        !(b->norm2_b = load1(l, m, p, "norm2.bias", d)) ||
        !(b->fc1_w = load2(l, m, p, "mlp.0.weight", hidden, d)) ||
        !(b->fc1_b = load1(l, m, p, "mlp.0.bias", hidden)) ||
        !(b->fc2_w = load2(l, m, p, "mlp.3.weight", d, hidden)) ||
        !(b->fc2_b = load1(l, m, p, "mlp.3.bias", d)))
        return SEER_STATUS_FORMAT;
    return SEER_STATUS_OK;
}

static void biformer_free(void *impl) {
    biformer *r = impl;
    if (!r) return;
    for (int s = 0; s < 4; s++)
        free(r->blocks[s]);
    free(r);
}

static seer_status biformer_load(seer_model *m, seer_loader *l) {
    biformer *r = calloc(1, sizeof *r);
    if (!r) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    m->impl = r;
    r->cfg = *(const biformer_config *)m->arch->config;
    biformer_config *cfg = &r->cfg;
    SEER_TRY(read_config(seer_loader_file(l), m->arch->name, cfg));
    const int *d = cfg->dims;

    SEER_TRY(load_conv_bn(l, m, &r->stem[0], "downsample_layers.0.0", "downsample_layers.0.1",
                          d[0] / 2, 3));
    SEER_TRY(load_conv_bn(l, m, &r->stem[1], "downsample_layers.0.3", "downsample_layers.0.4", d[0],
                          d[0] / 2));
    for (int i = 0; i < 3; i++) {
        char conv[64], bn[64];
        snprintf(conv, sizeof conv, "downsample_layers.%d.0", i + 1);
        snprintf(bn, sizeof bn, "downsample_layers.%d.1", i + 1);
        SEER_TRY(load_conv_bn(l, m, &r->down[i], conv, bn, d[i + 1], d[i]));
    }
    for (int s = 0; s < 4; s++) {
        if (!(r->blocks[s] = calloc((size_t)cfg->depths[s], sizeof *r->blocks[s])))
            return seer_fail(SEER_STATUS_OOM, "out of host memory");
        for (int j = 0; j < cfg->depths[s]; j++) {
            char p[64];
            snprintf(p, sizeof p, "stages.%d.%d", s, j);
            SEER_TRY(load_block(l, m, cfg, s, &r->blocks[s][j], p));
        }
    }
    int64_t c = d[3], n = m->num_classes;
    if (!(r->norm_w = load1(l, m, "norm", "weight", c)) ||
        !(r->norm_b = load1(l, m, "norm", "bias", c)) ||
        !(r->norm_mean = load1(l, m, "norm", "running_mean", c)) ||
        !(r->norm_var = load1(l, m, "norm", "running_var", c)) ||
        !(r->head_w = load2(l, m, "head", "weight", n, c)) ||
        !(r->head_b = load1(l, m, "head", "bias", n)))
        return SEER_STATUS_FORMAT;
    return SEER_STATUS_OK;
}

// ---- forward -------------------------------------------------------------------------------

// 3x3 conv (padding 1) with its BatchNorm folded in.
static seer_tensor *conv3x3(seer_ctx *c, const seer_tensor *x, const conv_bn *cb, int stride) {
    seer_conv2d_params p = {.stride_h = stride, .stride_w = stride, .pad_h = 1, .pad_w = 1};
    return seer_conv2d(c, x, cb->w, cb->b, &p);
}

static seer_tensor *block_forward(seer_ctx *c, const block *b, seer_tensor *x,
                                  biformer_view *view) {
    // x: [B, H, W, C]
    seer_conv2d_params dw = {
        .pad_h = POS_KERNEL / 2, .pad_w = POS_KERNEL / 2, .groups = (int)b->pos_w->shape[0]};
    x = seer_conv2d_fused(c, x, b->pos_w, b->pos_b, &dw, x, false); // + conv position embedding
    seer_tensor *y = seer_layer_norm(c, x, b->norm1_w, b->norm1_b, LN_EPS);
    x = b->routed ? biformer_bra_forward(c, &b->bra, y, x, view)
                  : biformer_mhsa_forward(c, &b->mhsa, y, x); // x + attn(norm1(x))
    y = seer_layer_norm(c, x, b->norm2_w, b->norm2_b, LN_EPS);
    y = seer_linear_gelu(c, y, b->fc1_w, b->fc1_b);
    return seer_linear_add(c, y, b->fc2_w, b->fc2_b, x); // x + mlp(norm2(x)): [B, H, W, C]
}

// A routed stage without auto_pad needs its map divisible by n_win: say so with the input size.
static bool check_grid(seer_model *m, seer_ctx *c, const seer_tensor *in, const seer_tensor *x,
                       int s) {
    const biformer *r = m->impl;
    int64_t S = r->cfg.n_win, h = x->shape[1], w = x->shape[2];
    if (r->cfg.topks[s] < 1 || r->cfg.auto_pad || (h % S == 0 && w % S == 0)) return true;
    // Input sides that work: multiples of n_win times the stride of stage 3 (the last routed
    // stage in every preset); the example is the one nearest the preset's size.
    int64_t mult = 4LL * r->cfg.stem_strides[0] * r->cfg.stem_strides[1] * S;
    int64_t times = (m->arch->img_size + mult / 2) / mult;
    int64_t example = mult * (times > 1 ? times : 1);
    seer_ctx_fail(c, SEER_STATUS_SHAPE,
                  "%s: a %lldx%lld input gives a %lldx%lld map in stage %d, not divisible by "
                  "n_win = %lld: bi-level routing needs every routed stage divisible (input sides "
                  "a multiple of %lld, e.g. %lld)",
                  m->arch->name, (long long)in->shape[1], (long long)in->shape[2], (long long)h,
                  (long long)w, s + 1, (long long)S, (long long)mult, (long long)example);
    return false;
}

// The stages; view (may be NULL) is handed to the last block of stage view_stage.
static seer_status run_stages(seer_model *m, seer_ctx *c, const seer_tensor *x, seer_tensor *out[4],
                              int view_stage, biformer_view *view) {
    for (int s = 0; s < 4; s++)
        out[s] = NULL;
    if (!m || strcmp(m->arch->family, "biformer") != 0)
        return seer_ctx_fail(c, SEER_STATUS_ARG, "seer_biformer_stages: %s is not a BiFormer",
                             m ? m->arch->name : "(null)");
    if (!x)
        return seer_ctx_status(c) != SEER_STATUS_OK
                   ? seer_ctx_status(c)
                   : seer_ctx_fail(c, SEER_STATUS_ARG, "seer_biformer_stages: input is NULL");
    if (x->ndim != 4 || x->shape[3] != 3) {
        char buf[128];
        return seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s: input must be [B, H, W, 3], got %s",
                             m->arch->name, seer_tensor_shape_str(x, buf, sizeof buf));
    }
    const biformer *r = m->impl;
    // Stem: [B, H, W, 3] -> [B, H/2, W/2, C0/2] -> [B, H/4, W/4, C0] (strides 2, 2; the
    // stem's strides s0, s1 in general, H/(s0 s1) in the end).
    const int *ss = r->cfg.stem_strides;
    seer_tensor *h =
        conv3x3(c, seer_gelu(c, conv3x3(c, x, &r->stem[0], ss[0])), &r->stem[1], ss[1]);
    for (int s = 0; s < 4; s++) {
        if (s > 0) h = conv3x3(c, h, &r->down[s - 1], 2); // [B, H/2^(s+2), W/2^(s+2), C_s]
        if (!h || !check_grid(m, c, x, h, s)) return seer_ctx_status(c);
        for (int j = 0; j < r->cfg.depths[s]; j++) {
            const seer_arena_mark mark = seer_ctx_mark(c);
            biformer_view *v = s == view_stage && j == r->cfg.depths[s] - 1 ? view : NULL;
            h = block_forward(c, &r->blocks[s][j], h, v);
            if (!v) h = seer_ctx_keep(c, mark, h); // the block's intermediates freed
        }
        out[s] = h;
    }
    seer_status st = seer_ctx_status(c);
    if (st != SEER_STATUS_OK)
        for (int s = 0; s < 4; s++)
            out[s] = NULL;
    return st;
}

seer_status seer_biformer_stages(seer_model *m, seer_ctx *c, const seer_tensor *x,
                                 seer_tensor *out[4]) {
    return run_stages(m, c, x, out, -1, NULL);
}

// The attention view's stage: routing must pick a strict subset of the regions; of those
// stages, the deepest whose map (for an input of side `side`; 0: any) is at least 7 pixels a
// side, else the shallowest (biformer_tiny at 224: stage 3, 14x14; the CIFAR model: stage 2,
// 8x8). -1: none.
static int view_stage(const biformer *r, int64_t side) {
    int found = -1;
    int64_t map = side / ((int64_t)r->cfg.stem_strides[0] * r->cfg.stem_strides[1]);
    for (int s = 0; s < 4; s++, map /= 2) {
        bool routed = r->cfg.depths[s] > 0 && r->cfg.topks[s] > 0 &&
                      r->cfg.topks[s] < r->cfg.n_win * r->cfg.n_win;
        if (routed && (found < 0 || side == 0 || map >= 7)) found = s;
    }
    return found;
}

static bool biformer_attention_info(const seer_model *m, seer_attention_info *out) {
    *out = (seer_attention_info){.method = "bi-level routing attention",
                                 .uses_query = true};
    return view_stage(m->impl, 0) >= 0;
}

static seer_tensor *biformer_attention(seer_model *m, seer_ctx *c, const seer_tensor *x,
                                       float qx, float qy) {
    seer_tensor *out[4];
    biformer_view view = {.qx = qx, .qy = qy};
    const int64_t side = x ? (x->shape[1] < x->shape[2] ? x->shape[1] : x->shape[2]) : 0;
    const int stage = x ? view_stage(m->impl, side) : -1;
    if (run_stages(m, c, x, out, stage, &view) != SEER_STATUS_OK) return NULL;
    return view.map;
}

// Pooled features [B, C3]: final BatchNorm, mean over positions.
static seer_tensor *biformer_features(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const biformer *r = m->impl;
    seer_tensor *st[4];
    if (seer_biformer_stages(m, c, x, st) != SEER_STATUS_OK) return NULL;
    seer_tensor *h = seer_batch_norm(c, st[3], r->norm_mean, r->norm_var, r->norm_w, r->norm_b,
                                     BN_EPS); // [B, h, w, C]
    if (!h) return NULL;
    h = seer_reshape(c, h, 3, (int64_t[]){h->shape[0], h->shape[1] * h->shape[2], h->shape[3]});
    return seer_reduce(c, h, 1, SEER_REDUCE_MEAN); // [B, C]
}

static seer_tensor *biformer_forward(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const biformer *r = m->impl;
    return seer_linear(c, biformer_features(m, c, x), r->head_w, r->head_b); // [B, classes]
}

// ---- presets -------------------------------------------------------------------------------

#define BIFORMER_CONFIG(d0, d1, d2, d3, c0, c1, c2, c3)                                            \
    (&(const biformer_config){.depths = {d0, d1, d2, d3},                                          \
                              .dims = {c0, c1, c2, c3},                                            \
                              .qk_dims = {c0, c1, c2, c3},                                         \
                              .topks = {1, 4, 16, -2},                                             \
                              .mlp_ratios = {3, 3, 3, 3},                                          \
                              .head_dim = 32,                                                      \
                              .n_win = 7,                                                          \
                              .auto_pad = false,                                                   \
                              .stem_strides = {2, 2}})

#define BIFORMER_ARCH(n, cfg)                                                                      \
    {                                                                                              \
        .name = n, .family = "biformer", .num_classes = 1000, .img_size = 224,                     \
        .preprocess = "biformer", .labels = "imagenet", .config = cfg, .load = biformer_load,      \
        .forward = biformer_forward, .features = biformer_features,                                \
        .attention_info = biformer_attention_info, .attention = biformer_attention,                \
        .free_impl = biformer_free                                                                 \
    }

const seer_arch seer_biformer_archs[] = {
    BIFORMER_ARCH("biformer_tiny", BIFORMER_CONFIG(2, 2, 8, 2, 64, 128, 256, 512)),
    BIFORMER_ARCH("biformer_small", BIFORMER_CONFIG(4, 4, 18, 4, 64, 128, 256, 512)),
    BIFORMER_ARCH("biformer_base", BIFORMER_CONFIG(4, 4, 18, 4, 96, 192, 384, 768)),
};
const int seer_biformer_arch_count = sizeof seer_biformer_archs / sizeof *seer_biformer_archs;
