// Inception-v3 as FID measures with it (pytorch-fid's port of TensorFlow's 2015-12-05 graph,
// checkpoint pt_inception-2015-12-05-6726825d.pth; reference definition in
// tools/torch_ref/inception_fid.py). Weight names are the checkpoint's (torchvision's
// Inception3 layout without AuxLogits): Conv2d_1a_3x3.conv.weight, Conv2d_1a_3x3.bn.*,
// Mixed_5b.branch1x1.conv.weight, ..., fc.weight [1008, 2048].
//
// Input: [B, H, W, 3] pixels in [0, 1] at any size, as pytorch-fid feeds them; the model
// resizes to 299x299 itself (bilinear, align_corners=False, no antialiasing) and maps to
// [-1, 1]. features() gives the 2048-d pool3 vector FID uses; forward() adds the 1008-way fc.
// Every BasicConv2d is conv (no bias) + BatchNorm (eps 1e-3, folded at load) + ReLU.
//
// Metadata seer.width_div (1, 2, 4, 8, 16) divides every channel count: the golden fixture
// uses 16 to keep every block type in a file of under 1 MB.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/model.h"

#define BN_EPS 1e-3f
#define INPUT_SIZE 299

typedef struct conv {
    seer_tensor *w, *b;  // BN folded: OHWI weight, F32 bias
    seer_conv2d_params p;
} conv;

typedef enum block_kind {
    BLOCK_A,      // Mixed_5b/c/d, 35x35
    BLOCK_B,      // Mixed_6a, 35 -> 17
    BLOCK_C,      // Mixed_6b..e, 17x17, factorized 7x7
    BLOCK_D,      // Mixed_7a, 17 -> 8
    BLOCK_E_AVG,  // Mixed_7b, 8x8, average-pool branch
    BLOCK_E_MAX,  // Mixed_7c, 8x8, max-pool branch (pytorch-fid's FIDInceptionE_2)
} block_kind;

typedef struct block {
    block_kind kind;
    conv c[10];  // in the order of the kind's spec table below
} block;

typedef struct inception {
    conv stem[5];
    block mixed[11];
    seer_tensor *fc_w, *fc_b;
} inception;

// One BasicConv2d of a block: its name, where its input comes from (-1: the block input, else
// the index of an earlier conv), its output channels at full width (VAR: the block's
// pool_features or channels_7x7), kernel, stride and padding.
#define VAR (-1)
typedef struct conv_spec {
    const char *name;
    int from, c_out, kh, kw, stride, ph, pw;
} conv_spec;

static const conv_spec spec_a[] = {
    {"branch1x1", -1, 64, 1, 1, 1, 0, 0},       {"branch5x5_1", -1, 48, 1, 1, 1, 0, 0},
    {"branch5x5_2", 1, 64, 5, 5, 1, 2, 2},      {"branch3x3dbl_1", -1, 64, 1, 1, 1, 0, 0},
    {"branch3x3dbl_2", 3, 96, 3, 3, 1, 1, 1},   {"branch3x3dbl_3", 4, 96, 3, 3, 1, 1, 1},
    {"branch_pool", -1, VAR, 1, 1, 1, 0, 0},    {NULL, 0, 0, 0, 0, 0, 0, 0},
};
static const conv_spec spec_b[] = {
    {"branch3x3", -1, 384, 3, 3, 2, 0, 0},      {"branch3x3dbl_1", -1, 64, 1, 1, 1, 0, 0},
    {"branch3x3dbl_2", 1, 96, 3, 3, 1, 1, 1},   {"branch3x3dbl_3", 2, 96, 3, 3, 2, 0, 0},
    {NULL, 0, 0, 0, 0, 0, 0, 0},
};
static const conv_spec spec_c[] = {
    {"branch1x1", -1, 192, 1, 1, 1, 0, 0},      {"branch7x7_1", -1, VAR, 1, 1, 1, 0, 0},
    {"branch7x7_2", 1, VAR, 1, 7, 1, 0, 3},     {"branch7x7_3", 2, 192, 7, 1, 1, 3, 0},
    {"branch7x7dbl_1", -1, VAR, 1, 1, 1, 0, 0}, {"branch7x7dbl_2", 4, VAR, 7, 1, 1, 3, 0},
    {"branch7x7dbl_3", 5, VAR, 1, 7, 1, 0, 3},  {"branch7x7dbl_4", 6, VAR, 7, 1, 1, 3, 0},
    {"branch7x7dbl_5", 7, 192, 1, 7, 1, 0, 3},  {"branch_pool", -1, 192, 1, 1, 1, 0, 0},
    {NULL, 0, 0, 0, 0, 0, 0, 0},
};
static const conv_spec spec_d[] = {
    {"branch3x3_1", -1, 192, 1, 1, 1, 0, 0},    {"branch3x3_2", 0, 320, 3, 3, 2, 0, 0},
    {"branch7x7x3_1", -1, 192, 1, 1, 1, 0, 0},  {"branch7x7x3_2", 2, 192, 1, 7, 1, 0, 3},
    {"branch7x7x3_3", 3, 192, 7, 1, 1, 3, 0},   {"branch7x7x3_4", 4, 192, 3, 3, 2, 0, 0},
    {NULL, 0, 0, 0, 0, 0, 0, 0},
};
static const conv_spec spec_e[] = {
    {"branch1x1", -1, 320, 1, 1, 1, 0, 0},      {"branch3x3_1", -1, 384, 1, 1, 1, 0, 0},
    {"branch3x3_2a", 1, 384, 1, 3, 1, 0, 1},    {"branch3x3_2b", 1, 384, 3, 1, 1, 1, 0},
    {"branch3x3dbl_1", -1, 448, 1, 1, 1, 0, 0}, {"branch3x3dbl_2", 4, 384, 3, 3, 1, 1, 1},
    {"branch3x3dbl_3a", 5, 384, 1, 3, 1, 0, 1}, {"branch3x3dbl_3b", 5, 384, 3, 1, 1, 1, 0},
    {"branch_pool", -1, 192, 1, 1, 1, 0, 0},    {NULL, 0, 0, 0, 0, 0, 0, 0},
};

// The eleven mixed blocks: name, kind, input channels and VAR width at full size.
static const struct {
    const char *name;
    block_kind kind;
    int c_in, var;
} mixed_specs[11] = {
    {"Mixed_5b", BLOCK_A, 192, 32},  {"Mixed_5c", BLOCK_A, 256, 64},  {"Mixed_5d", BLOCK_A, 288, 64},
    {"Mixed_6a", BLOCK_B, 288, 0},   {"Mixed_6b", BLOCK_C, 768, 128}, {"Mixed_6c", BLOCK_C, 768, 160},
    {"Mixed_6d", BLOCK_C, 768, 160}, {"Mixed_6e", BLOCK_C, 768, 192}, {"Mixed_7a", BLOCK_D, 768, 0},
    {"Mixed_7b", BLOCK_E_AVG, 1280, 0}, {"Mixed_7c", BLOCK_E_MAX, 2048, 0},
};

static const conv_spec *spec_of(block_kind k) {
    switch (k) {
    case BLOCK_A: return spec_a;
    case BLOCK_B: return spec_b;
    case BLOCK_C: return spec_c;
    case BLOCK_D: return spec_d;
    default: return spec_e;
    }
}

static seer_status load_conv(seer_loader *l, seer_model *m, conv *cv, const char *base, int c_in,
                             int c_out, int kh, int kw, int stride, int ph, int pw) {
    char name[128];
    snprintf(name, sizeof name, "%s", base);
    cv->p = (seer_conv2d_params){.stride_h = stride, .stride_w = stride, .pad_h = ph, .pad_w = pw};
    return seer_load_conv_bn(l, m, seer_loader_name(l, "%s.conv.weight", name),
                             seer_loader_name(l, "%s.bn", name), c_out, c_in, kh, kw, BN_EPS, &cv->w, &cv->b);
}

static seer_status load_block(seer_loader *l, seer_model *m, block *b, int i, int wd) {
    b->kind = mixed_specs[i].kind;
    const conv_spec *s = spec_of(b->kind);
    int outs[10];
    for (int k = 0; s[k].name; k++) {
        int c_in = s[k].from < 0 ? mixed_specs[i].c_in / wd : outs[s[k].from];
        outs[k] = (s[k].c_out == VAR ? mixed_specs[i].var : s[k].c_out) / wd;
        char base[96];
        snprintf(base, sizeof base, "%s.%s", mixed_specs[i].name, s[k].name);
        SEER_TRY(load_conv(l, m, &b->c[k], base, c_in, outs[k], s[k].kh, s[k].kw, s[k].stride, s[k].ph, s[k].pw));
    }
    return SEER_STATUS_OK;
}

static seer_status width_div_of(seer_loader *l, int *wd) {
    const char *v = seer_st_metadata(seer_loader_file(l), "seer.width_div");
    *wd = 1;
    if (!v) return SEER_STATUS_OK;
    char *end;
    long d = strtol(v, &end, 10);
    if (*end || (d != 1 && d != 2 && d != 4 && d != 8 && d != 16))
        return seer_fail(SEER_STATUS_FORMAT, "seer.width_div must be 1, 2, 4, 8 or 16 (found '%s')", v);
    *wd = (int)d;
    return SEER_STATUS_OK;
}

static seer_status inception_load(seer_model *m, seer_loader *l) {
    int wd;
    SEER_TRY(width_div_of(l, &wd));
    inception *net = calloc(1, sizeof *net);
    if (!net) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    m->impl = net;
    SEER_TRY(load_conv(l, m, &net->stem[0], "Conv2d_1a_3x3", 3, 32 / wd, 3, 3, 2, 0, 0));
    SEER_TRY(load_conv(l, m, &net->stem[1], "Conv2d_2a_3x3", 32 / wd, 32 / wd, 3, 3, 1, 0, 0));
    SEER_TRY(load_conv(l, m, &net->stem[2], "Conv2d_2b_3x3", 32 / wd, 64 / wd, 3, 3, 1, 1, 1));
    SEER_TRY(load_conv(l, m, &net->stem[3], "Conv2d_3b_1x1", 64 / wd, 80 / wd, 1, 1, 1, 0, 0));
    SEER_TRY(load_conv(l, m, &net->stem[4], "Conv2d_4a_3x3", 80 / wd, 192 / wd, 3, 3, 1, 0, 0));
    for (int i = 0; i < 11; i++) SEER_TRY(load_block(l, m, &net->mixed[i], i, wd));
    // The fc of the 1008 TensorFlow classes: not used by FID, loaded so that forward() gives
    // the checkpoint's logits and every tensor of the file is accounted for.
    net->fc_w = seer_load_tensor(l, m, "fc.weight", 2, (int64_t[]){m->num_classes, 2048 / wd});
    net->fc_b = net->fc_w ? seer_load_tensor(l, m, "fc.bias", 1, (int64_t[]){m->num_classes}) : NULL;
    return net->fc_b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}

// ---- forward -------------------------------------------------------------------------------

static seer_tensor *cbr(seer_ctx *c, const seer_tensor *x, const conv *cv) {
    return seer_relu(c, seer_conv2d(c, x, cv->w, cv->b, &cv->p));
}

static seer_tensor *pool3(seer_ctx *c, const seer_tensor *x, seer_pool_mode mode, int stride, int pad) {
    // count_include_pad=False: TensorFlow's average pool ignores the zero padding.
    seer_pool2d_params p = {.mode = mode, .kernel_h = 3, .kernel_w = 3, .stride_h = stride,
                            .stride_w = stride, .pad_h = pad, .pad_w = pad, .count_include_pad = false};
    return seer_pool2d(c, x, &p);
}

// Concatenate NHWC branches along channels.
static seer_tensor *cat(seer_ctx *c, seer_tensor *const *parts, int n) {
    for (int i = 0; i < n; i++)
        if (!parts[i]) return NULL;
    return seer_concat(c, (const seer_tensor *const *)parts, n, 3);
}

static seer_tensor *block_fwd(seer_ctx *c, const seer_tensor *x, const block *b) {
    const conv *k = b->c;
    switch (b->kind) {
    case BLOCK_A: {  // [B, 35, 35, C] -> 64 + 64 + 96 + pool_features channels
        seer_tensor *y[4] = {cbr(c, x, &k[0]), cbr(c, cbr(c, x, &k[1]), &k[2]),
                             cbr(c, cbr(c, cbr(c, x, &k[3]), &k[4]), &k[5]),
                             cbr(c, pool3(c, x, SEER_POOL_AVG, 1, 1), &k[6])};
        return cat(c, y, 4);
    }
    case BLOCK_B: {  // [B, 35, 35, 288] -> [B, 17, 17, 384 + 96 + 288]
        seer_tensor *y[3] = {cbr(c, x, &k[0]), cbr(c, cbr(c, cbr(c, x, &k[1]), &k[2]), &k[3]),
                             pool3(c, x, SEER_POOL_MAX, 2, 0)};
        return cat(c, y, 3);
    }
    case BLOCK_C: {  // [B, 17, 17, 768] -> 4 x 192 channels
        seer_tensor *t = cbr(c, x, &k[4]);
        for (int i = 5; i <= 8; i++) t = cbr(c, t, &k[i]);
        seer_tensor *y[4] = {cbr(c, x, &k[0]), cbr(c, cbr(c, cbr(c, x, &k[1]), &k[2]), &k[3]), t,
                             cbr(c, pool3(c, x, SEER_POOL_AVG, 1, 1), &k[9])};
        return cat(c, y, 4);
    }
    case BLOCK_D: {  // [B, 17, 17, 768] -> [B, 8, 8, 320 + 192 + 768]
        seer_tensor *t = cbr(c, x, &k[2]);
        for (int i = 3; i <= 5; i++) t = cbr(c, t, &k[i]);
        seer_tensor *y[3] = {cbr(c, cbr(c, x, &k[0]), &k[1]), t, pool3(c, x, SEER_POOL_MAX, 2, 0)};
        return cat(c, y, 3);
    }
    default: {  // E: [B, 8, 8, C] -> 320 + (384 + 384) + (384 + 384) + 192 = 2048 channels
        seer_tensor *t = cbr(c, x, &k[1]), *u = cbr(c, cbr(c, x, &k[4]), &k[5]);
        seer_tensor *p = b->kind == BLOCK_E_MAX ? pool3(c, x, SEER_POOL_MAX, 1, 1)
                                                : pool3(c, x, SEER_POOL_AVG, 1, 1);
        seer_tensor *y[6] = {cbr(c, x, &k[0]), cbr(c, t, &k[2]), cbr(c, t, &k[3]),
                             cbr(c, u, &k[6]), cbr(c, u, &k[7]), cbr(c, p, &k[8])};
        return cat(c, y, 6);
    }
    }
}

static seer_tensor *inception_features(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const inception *net = m->impl;
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[3] != 3) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s takes [B, H, W, 3] images in [0, 1]", m->arch->name);
        return NULL;
    }
    seer_tensor *h = (seer_tensor *)x;
    if (x->shape[1] != INPUT_SIZE || x->shape[2] != INPUT_SIZE)
        h = seer_resize(c, x, INPUT_SIZE, INPUT_SIZE, SEER_RESIZE_BILINEAR, false);
    h = seer_scale(c, h, 2.0f, -1.0f);                     // [B, 299, 299, 3] in [-1, 1]
    h = cbr(c, h, &net->stem[0]);                          // [B, 149, 149, 32]
    h = cbr(c, cbr(c, h, &net->stem[1]), &net->stem[2]);   // [B, 147, 147, 64]
    h = pool3(c, h, SEER_POOL_MAX, 2, 0);                  // [B, 73, 73, 64]
    h = cbr(c, cbr(c, h, &net->stem[3]), &net->stem[4]);   // [B, 71, 71, 192]
    h = pool3(c, h, SEER_POOL_MAX, 2, 0);                  // [B, 35, 35, 192]
    for (int i = 0; i < 11; i++) h = block_fwd(c, h, &net->mixed[i]);  // ... [B, 8, 8, 2048]
    h = seer_adaptive_avg_pool2d(c, h, 1, 1);              // [B, 1, 1, 2048]
    if (!h) return NULL;
    return seer_reshape(c, h, 2, (int64_t[]){h->shape[0], h->shape[3]});
}

static seer_tensor *inception_forward(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const inception *net = m->impl;
    return seer_linear(c, inception_features(m, c, x), net->fc_w, net->fc_b);  // [B, 1008]
}

// Preset for `seer classify`-style use: PIL bilinear squash to 299 and x / 255 (mean 0, std
// 1). FID extraction does not use it: it feeds each image's own pixels / 255 at its own size
// and lets the forward pass resize, exactly as pytorch-fid does (vision/fid.h).
const seer_arch seer_inception_fid_archs[] = {
    {.name = "inception_v3_fid", .family = "inception_fid", .num_classes = 1008,
     .img_size = INPUT_SIZE, .preprocess = "resize=bilinear,squash=299,size=299,mean=0,std=1",
     .labels = "inception_2015_12_05", .config = NULL, .load = inception_load, .forward = inception_forward,
     .features = inception_features, .free_impl = free},
};
const int seer_inception_fid_arch_count = sizeof seer_inception_fid_archs / sizeof *seer_inception_fid_archs;
