// HaloNet (Vaswani et al. 2021) and the other halo / bottleneck-attention nets of timm's
// byoanet.py, built as timm's ByobNet builds them: a stem (tiered 3x3 stack, single 3x3 or
// 7x7, optional max pool), stages of ResNet bottleneck blocks (1x1 - kxk (grouped) - SE/ECA -
// 1x1) and self-attention blocks (1x1 - HaloAttn or BottleneckAttn - BN+act - 1x1), an
// optional final 1x1 conv, global average pool and a linear head. Weight names are timm's
// (stem.conv1.conv.weight, stages.3.0.self_attn.kv.weight, head.fc.weight, ...); every
// conv + BatchNorm pair is folded at load time.
//
// Presets (timm names): halonet26t, sehalonet33ts, halonet50ts, eca_halonext26ts,
// halo2botnet50ts_256, haloregnetz_b, halonet_h1, each a config string (grammar in
// halonet_cfg.c); a weights file may carry its own in metadata seer.halonet_cfg. halonet_cifar
// is ours: 10 classes at 32x32 (tools/torch_ref/halonet.py).
// Input sizes: every halo layer needs its input map divisible by its block size, so inputs
// are multiples of 256 (block 8 at stride 32), of 224 for haloregnetz_b (block 7);
// halo2botnet50ts_256's bottleneck attention takes exactly 256x256. Other sizes fail with the
// layer's name and the size it got.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/halonet.h"

typedef enum { SHORTCUT_NONE = 0, SHORTCUT_IDENTITY, SHORTCUT_CONV } shortcut_kind;

typedef struct chan_attn {
    halonet_chan_attn type;
    seer_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b; // SE: 1x1 convs with bias
    seer_tensor *conv_w;                        // ECA: [1, 1, k, 1] conv over channels
    int k;
} chan_attn;

typedef struct block {
    bool self_attn; // SelfAttnBlock, else BottleneckBlock
    shortcut_kind shortcut;
    halonet_conv shortcut_conv, conv1, conv2, conv3;
    chan_attn attn;                                      // bottleneck blocks
    halonet_sa sa;                                       // self-attention blocks
    seer_tensor *post_w, *post_b, *post_mean, *post_var; // post_attn BatchNormAct
    bool act; // activation after the residual sum (not with linear_out)
} block;

typedef struct halonet {
    halonet_cfg cfg;
    halonet_conv stem[3];
    int n_stem;
    block *blocks;
    int n_blocks;
    halonet_conv final_conv;
    bool has_final_conv;
    seer_tensor *fc_w, *fc_b;
} halonet;

// ---- loading -------------------------------------------------------------------------------

// ConvNormAct `prefix` (prefix.conv.weight + prefix.bn.*), BN folded.
static seer_status load_conv(seer_loader *l, seer_model *m, halonet_conv *cv, const char *prefix,
                             int c_in, int c_out, int k, int stride, int groups, bool act) {
    *cv = (halonet_conv){.k = k, .stride = stride, .groups = groups, .act = act};
    if (groups < 1 || c_in % groups || c_out % groups)
        return seer_fail(SEER_STATUS_FORMAT, "%s: %d -> %d channels do not split into %d groups",
                         prefix, c_in, c_out, groups);
    return seer_load_conv_bn(l, m, seer_loader_name(l, "%s.conv.weight", prefix),
                             seer_loader_name(l, "%s.bn", prefix), c_out, c_in / groups, k, k,
                             HALONET_BN_EPS, &cv->w, &cv->b);
}

static seer_status load_chan_attn(seer_loader *l, seer_model *m, chan_attn *a,
                                  const halonet_cfg *cfg, const char *prefix, int ch) {
    a->type = cfg->attn;
    if (cfg->attn == HALONET_ATTN_SE) {
        int rd = seer_halonet_make_divisible(ch * cfg->se_rd_ratio, 8, 0.0);
        a->fc1_w = seer_load_conv(l, m, seer_loader_name(l, "%s.fc1.weight", prefix), rd, ch, 1, 1);
        a->fc1_b = a->fc1_w ? seer_load_tensor(l, m, seer_loader_name(l, "%s.fc1.bias", prefix), 1,
                                               (int64_t[]){rd})
                            : NULL;
        a->fc2_w = a->fc1_b ? seer_load_conv(l, m, seer_loader_name(l, "%s.fc2.weight", prefix), ch,
                                             rd, 1, 1)
                            : NULL;
        a->fc2_b = a->fc2_w ? seer_load_tensor(l, m, seer_loader_name(l, "%s.fc2.bias", prefix), 1,
                                               (int64_t[]){ch})
                            : NULL;
        return a->fc2_b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
    }
    if (cfg->attn == HALONET_ATTN_ECA) {
        // EcaModule's kernel size from the channel count (gamma 2, beta 1), odd, >= 3.
        int t = (int)(fabs(log((double)ch) / log(2.0) + 1.0) / 2.0);
        a->k = t % 2 ? t : t + 1;
        if (a->k < 3) a->k = 3;
        const char *name = seer_loader_name(l, "%s.conv.weight", prefix);
        float *w = seer_load_host(l, name, 3, (int64_t[]){1, 1, a->k}); // Conv1d [1, 1, k]
        if (!w) return SEER_STATUS_FORMAT;
        a->conv_w = seer_weights_add(m->weights, name, m->dtype, 4, (int64_t[]){1, 1, a->k, 1}, w);
        free(w);
        return a->conv_w ? SEER_STATUS_OK : SEER_STATUS_OOM;
    }
    return SEER_STATUS_OK;
}

static seer_status load_block(seer_loader *l, seer_model *m, const halonet_cfg *cfg, block *b,
                              int stage, int idx, int in, int feat_h, int feat_w) {
    const halonet_stage_cfg *st = &cfg->stages[stage];
    char p[48], q[64];
    snprintf(p, sizeof p, "stages.%d.%d", stage, idx);
    const int out = seer_halonet_make_divisible(st->channels, 8, 0.9);
    const int stride = idx == 0 ? st->stride : 1;
    const int mid =
        seer_halonet_make_divisible((cfg->bottle_in ? in : out) * st->bottle_ratio, 8, 0.9);
    if (st->group_size && mid % st->group_size)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: %d channels are not a multiple of the group size %d", p, mid,
                         st->group_size);
    const int groups = st->group_size ? mid / st->group_size : 1;
    b->self_attn = st->types[idx] == 'S';
    b->act = !cfg->linear_out;

    b->shortcut = SHORTCUT_IDENTITY;
    if (in != out || stride != 1) b->shortcut = cfg->downsample ? SHORTCUT_CONV : SHORTCUT_NONE;
    if (b->shortcut == SHORTCUT_CONV) {
        snprintf(q, sizeof q, "%s.shortcut", p);
        SEER_TRY(load_conv(l, m, &b->shortcut_conv, q, in, out, 1, stride, 1, false));
    }
    snprintf(q, sizeof q, "%s.conv1_1x1", p);
    SEER_TRY(load_conv(l, m, &b->conv1, q, in, mid, 1, 1, 1, true));
    if (b->self_attn) {
        snprintf(q, sizeof q, "%s.self_attn", p);
        SEER_TRY(seer_halonet_sa_load(l, m, &b->sa, seer_halonet_stage_sa(cfg, stage), q, mid,
                                      stride, feat_h, feat_w));
        seer_tensor **bn[4] = {&b->post_w, &b->post_b, &b->post_mean, &b->post_var};
        static const char *parts[4] = {"weight", "bias", "running_mean", "running_var"};
        for (int i = 0; i < 4; i++) {
            *bn[i] = seer_load_tensor(l, m, seer_loader_name(l, "%s.post_attn.%s", p, parts[i]), 1,
                                      (int64_t[]){mid});
            if (!*bn[i]) return SEER_STATUS_FORMAT;
        }
    } else {
        snprintf(q, sizeof q, "%s.conv2_kxk", p);
        SEER_TRY(load_conv(l, m, &b->conv2, q, mid, mid, 3, stride, groups, true));
        snprintf(q, sizeof q, "%s.attn", p);
        SEER_TRY(load_chan_attn(l, m, &b->attn, cfg, q, mid));
    }
    snprintf(q, sizeof q, "%s.conv3_1x1", p);
    return load_conv(l, m, &b->conv3, q, mid, out, 1, 1, 1, false);
}

static void halonet_free(void *impl) {
    halonet *net = impl;
    if (net) free(net->blocks);
    free(net);
}

static seer_status halonet_load(seer_model *m, seer_loader *l) {
    halonet *net = calloc(1, sizeof *net);
    if (!net) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    m->impl = net;
    halonet_cfg *cfg = &net->cfg;
    cfg->downsample = true; // timm's default downsample='conv1x1'
    cfg->img_size = m->arch->img_size;
    SEER_TRY(seer_halonet_cfg_parse(m->arch->config, cfg));
    const char *custom = seer_st_metadata(seer_loader_file(l), "seer.halonet_cfg");
    if (custom) SEER_TRY(seer_halonet_cfg_parse(custom, cfg));

    // stem: tiered = 3x3 convs of 3c/8, c/2, c channels (stride 2, 1, and 2 without a pool)
    const int sc = cfg->stem_chs;
    int reduction = 2;
    if (cfg->stem_type == HALONET_STEM_TIERED) {
        const int chs[3] = {3 * sc / 8, sc / 2, sc}, strides[3] = {2, 1, cfg->stem_pool ? 1 : 2};
        for (int i = 0, c_in = 3; i < 3; c_in = chs[i++]) {
            char p[32];
            snprintf(p, sizeof p, "stem.conv%d", i + 1);
            SEER_TRY(load_conv(l, m, &net->stem[i], p, c_in, chs[i], 3, strides[i], 1, true));
        }
        net->n_stem = 3;
        reduction = 4;
    } else {
        // one 3x3 or 7x7 conv: named stem.conv1 inside a Stem with a pool, else stem itself
        const int k = cfg->stem_type == HALONET_STEM_7X7 ? 7 : 3;
        SEER_TRY(load_conv(l, m, &net->stem[0], cfg->stem_pool ? "stem.conv1" : "stem", 3, sc, k, 2,
                           1, true));
        net->n_stem = 1;
    }
    if (cfg->stem_pool) reduction *= 2;

    for (int s = 0; s < cfg->n_stages; s++)
        net->n_blocks += (int)strlen(cfg->stages[s].types);
    net->blocks = calloc((size_t)net->n_blocks, sizeof *net->blocks);
    if (!net->blocks) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    int chs = sc, feat = cfg->img_size / reduction, i = 0;
    for (int s = 0; s < cfg->n_stages; s++) {
        for (int j = 0; cfg->stages[s].types[j]; j++) {
            SEER_TRY(load_block(l, m, cfg, &net->blocks[i++], s, j, chs, feat, feat));
            chs = seer_halonet_make_divisible(cfg->stages[s].channels, 8, 0.9);
            if (j == 0) feat /= cfg->stages[s].stride;
        }
    }
    if (cfg->num_features) {
        net->has_final_conv = true;
        SEER_TRY(
            load_conv(l, m, &net->final_conv, "final_conv", chs, cfg->num_features, 1, 1, 1, true));
        chs = cfg->num_features;
    }
    net->fc_w = seer_load_tensor(l, m, "head.fc.weight", 2, (int64_t[]){m->num_classes, chs});
    net->fc_b = net->fc_w
                    ? seer_load_tensor(l, m, "head.fc.bias", 1, (int64_t[]){m->num_classes})
                    : NULL;
    return net->fc_b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}

// ---- forward -------------------------------------------------------------------------------

static seer_tensor *act(seer_ctx *c, const halonet *net, const seer_tensor *x) {
    return net->cfg.silu ? seer_silu(c, x) : seer_relu(c, x);
}

// conv (BN folded) + act; timm's symmetric padding ((s - 1) + (k - 1)) / 2
static seer_tensor *conv_fwd(seer_ctx *c, const halonet *net, const halonet_conv *cv,
                             const seer_tensor *x) {
    const int pad = (cv->stride - 1 + cv->k - 1) / 2;
    seer_conv2d_params p = {.stride_h = cv->stride,
                            .stride_w = cv->stride,
                            .pad_h = pad,
                            .pad_w = pad,
                            .groups = cv->groups};
    seer_tensor *y = seer_conv2d(c, x, cv->w, cv->b, &p);
    return cv->act ? act(c, net, y) : y;
}

// SE: x * sigmoid(fc2(relu(fc1(mean(x))))); ECA: x * sigmoid(conv1d_over_channels(mean(x)))
static seer_tensor *chan_attn_fwd(seer_ctx *c, const chan_attn *a, const seer_tensor *x) {
    if (a->type == HALONET_ATTN_NONE || !x) return (seer_tensor *)x;
    seer_tensor *s = seer_adaptive_avg_pool2d(c, x, 1, 1); // [B, 1, 1, C]
    seer_conv2d_params p = {0};
    if (a->type == HALONET_ATTN_SE) {
        s = seer_relu(c, seer_conv2d(c, s, a->fc1_w, a->fc1_b, &p)); // [B, 1, 1, rd]
        s = seer_conv2d(c, s, a->fc2_w, a->fc2_b, &p);               // [B, 1, 1, C]
    } else {
        const int64_t B = x->shape[0], C = x->shape[3];
        p.pad_w = (a->k - 1) / 2;
        s = seer_reshape(c, s, 4, (int64_t[]){B, 1, C, 1}); // channels as a 1-D signal
        s = seer_conv2d(c, s, a->conv_w, NULL, &p);
        s = seer_reshape(c, s, 4, (int64_t[]){B, 1, 1, C});
    }
    return seer_mul(c, x, seer_sigmoid(c, s));
}

static seer_tensor *block_fwd(seer_ctx *c, const halonet *net, const block *b, seer_tensor *x) {
    seer_tensor *y = conv_fwd(c, net, &b->conv1, x); // [B, H, W, mid]
    if (b->self_attn) {
        y = seer_halonet_sa_forward(c, &b->sa, y); // [B, H / s, W / s, mid]
        y = act(
            c, net,
            seer_batch_norm(c, y, b->post_mean, b->post_var, b->post_w, b->post_b, HALONET_BN_EPS));
    } else {
        y = conv_fwd(c, net, &b->conv2, y); // [B, H / s, W / s, mid]
        y = chan_attn_fwd(c, &b->attn, y);
    }
    y = conv_fwd(c, net, &b->conv3, y); // [B, H / s, W / s, out]
    if (b->shortcut == SHORTCUT_IDENTITY) y = seer_add(c, y, x);
    if (b->shortcut == SHORTCUT_CONV) y = seer_add(c, y, conv_fwd(c, net, &b->shortcut_conv, x));
    return b->act ? act(c, net, y) : y;
}

// Pooled features before the classifier: [B, num_features].
static seer_tensor *halonet_features(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const halonet *net = m->impl;
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[3] != 3) {
        char sx[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s takes [B, H, W, 3] images; got %s", m->arch->name,
                      seer_tensor_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    seer_tensor *h = (seer_tensor *)x;
    for (int i = 0; i < net->n_stem; i++)
        h = conv_fwd(c, net, &net->stem[i], h);
    if (net->cfg.stem_pool) {
        seer_pool2d_params p = {.mode = SEER_POOL_MAX,
                                .kernel_h = 3,
                                .kernel_w = 3,
                                .stride_h = 2,
                                .stride_w = 2,
                                .pad_h = 1,
                                .pad_w = 1};
        h = seer_pool2d(c, h, &p); // [B, H / 4, W / 4, stem_chs]
    }
    for (int i = 0; i < net->n_blocks; i++) {
        const seer_arena_mark mark = seer_ctx_mark(c);
        h = seer_ctx_keep(c, mark, block_fwd(c, net, &net->blocks[i], h)); // intermediates freed
    }
    if (net->has_final_conv) h = conv_fwd(c, net, &net->final_conv, h); // [B, H / 32, W / 32, F]
    h = seer_adaptive_avg_pool2d(c, h, 1, 1);
    if (!h) return NULL;
    return seer_reshape(c, h, 2, (int64_t[]){h->shape[0], h->shape[3]});
}

static seer_tensor *halonet_forward(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const halonet *net = m->impl;
    return seer_linear(c, halonet_features(m, c, x), net->fc_w, net->fc_b); // [B, classes]
}

// ---- presets: timm's byoanet.py model_cfgs, preprocessing from their pretrained cfgs --------

#define HALONET_ARCH(nm, size, pre, cfg_str)                                                       \
    {                                                                                              \
        .name = nm, .family = "halonet", .num_classes = 1000, .img_size = size, .preprocess = pre, \
        .labels = "imagenet", .config = cfg_str, .load = halonet_load, .forward = halonet_forward, \
        .features = halonet_features, .free_impl = halonet_free                                    \
    }

const seer_arch seer_halonet_archs[] = {
    HALONET_ARCH("halonet26t", 256, "imagenet_timm,crop_pct=0.95,size=256",
                 "stem=tiered:64:max act=relu sa=halo:8:2:8:0:1 "
                 "stages=BB/256/1/0/0.25,BB/512/2/0/0.25,BS/1024/2/0/0.25,SS/2048/2/0/0.25"),
    HALONET_ARCH("sehalonet33ts", 256, "imagenet_timm,crop_pct=0.94,size=256",
                 "stem=tiered:64 act=silu attn=se features=1280 sa=halo:8:3:8:0:1 "
                 "stages=BB/256/1/0/0.25,BBS/512/2/0/0.25,BBS/1024/2/0/0.25,SS/1536/2/0/0.333"),
    HALONET_ARCH("halonet50ts", 256, "imagenet_timm,crop_pct=0.94,size=256",
                 "stem=tiered:64:max act=silu sa=halo:8:3:8:0:1 "
                 "stages=BBB/256/1/0/0.25,BBBS/512/2/0/0.25/halo:8:3:4:0:1,"
                 "BSBSBS/1024/2/0/0.25,BSB/2048/2/0/0.25"),
    HALONET_ARCH("eca_halonext26ts", 256, "imagenet_timm,crop_pct=0.94,size=256",
                 "stem=tiered:64:max act=silu attn=eca sa=halo:8:2:8:16:1 "
                 "stages=BB/256/1/16/0.25,BB/512/2/16/0.25,BS/1024/2/16/0.25,SS/2048/2/16/0.25"),
    HALONET_ARCH("halo2botnet50ts_256", 256, "imagenet_timm,crop_pct=0.95,size=256",
                 "stem=tiered:64 act=silu img=256 "
                 "stages=BBB/256/1/0/0.25,BSBS/512/2/0/0.25/halo:8:3:8:0:1,"
                 "BSBSBS/1024/2/0/0.25/halo:8:3:8:0:1,BSB/2048/2/0/0.25/bot:4:0:1"),
    HALONET_ARCH("haloregnetz_b", 224, "imagenet_timm,crop_pct=0.94,size=224,mean=0.5,std=0.5",
                 "stem=3x3:32 act=silu attn=se:0.25 down=none features=1536 bottle_in=1 "
                 "linear_out=1 sa=halo:7:2:8:0:0.33 "
                 "stages=BB/48/2/16/3,BBBBBB/96/2/16/3,BBBSBBBSBBBS/192/2/16/3,SS/288/2/16/3"),
    HALONET_ARCH("halonet_h1", 256, "imagenet_timm,crop_pct=0.95,size=256",
                 "stem=7x7:64:max act=relu sa=halo:8:3:8:0:1 "
                 "stages=SSS/64/1/0/1,SSS/128/2/0/1,SSSSSSSSSS/256/2/0/1,SSS/512/2/0/1"),
    // CIFAR-10, trained by us (tools/torch_ref/halonet.py's CIFAR config): 32x32, 3x3/2 stem,
    // halo blocks on 16x16 (block 4: 16 blocks), 8x8 (4 blocks) and 4x4 (block 2: 4 blocks).
    {.name = "halonet_cifar",
     .family = "halonet",
     .num_classes = 10,
     .img_size = 32,
     .preprocess = "cifar",
     .labels = "cifar10",
     .config = "stem=3x3:48 act=silu sa=halo:4:1:4:0:1 "
               "stages=BBS/128/1/0/0.5,BBS/256/2/0/0.5,BS/512/2/0/0.5/halo:2:1:8:0:1",
     .load = halonet_load,
     .forward = halonet_forward,
     .features = halonet_features,
     .free_impl = halonet_free},
};
const int seer_halonet_arch_count = sizeof seer_halonet_archs / sizeof *seer_halonet_archs;
