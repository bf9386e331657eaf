// CIFAR ResNet (He et al. 2016, sec. 4.2): 3x3 stem, three stages of basic blocks (16, 32, 64
// channels), option-A shortcuts (every other pixel, zero channels added on both sides), global
// average pool, linear head. depth = 6n + 2. Weight names as the pretrained checkpoints:
// conv1, bn1, layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2}, linear. BatchNorm is folded into the
// convolutions at load time.
#include <stdio.h>
#include <stdlib.h>

#include "backbones/model.h"

#define BN_EPS 1e-5f

typedef struct conv_bn {
    seer_tensor *w, *b;
    int stride;
} conv_bn;

typedef struct block {
    conv_bn c1, c2;
    int pad_channels;  // option-A shortcut: zero channels added on each side; 0 = identity
} block;

typedef struct resnet {
    conv_bn stem;
    block *blocks;
    int n_blocks;
    seer_tensor *fc_w, *fc_b;
} resnet;

typedef struct resnet_config {
    int depth;
} resnet_config;

static seer_status load_conv_bn(seer_loader *l, seer_model *m, conv_bn *cb, const char *conv,
                                const char *bn, int c_out, int c_in, int stride) {
    cb->stride = stride;
    return seer_load_conv_bn(l, m, conv, bn, c_out, c_in, 3, 3, BN_EPS, &cb->w, &cb->b);
}

static void resnet_free(void *impl) {
    resnet *r = impl;
    if (r) free(r->blocks);
    free(r);
}

static seer_status resnet_load(seer_model *m, seer_loader *l) {
    const resnet_config *cfg = m->arch->config;
    int n = (cfg->depth - 2) / 6;
    resnet *r = calloc(1, sizeof *r);
    if (!r) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    m->impl = r;
    r->n_blocks = 3 * n;
    r->blocks = calloc((size_t)r->n_blocks, sizeof *r->blocks);
    if (!r->blocks) return seer_fail(SEER_STATUS_OOM, "out of host memory");

    SEER_TRY(load_conv_bn(l, m, &r->stem, "conv1.weight", "bn1", 16, 3, 1));
    int c_in = 16;
    for (int s = 0; s < 3; s++) {
        int c_out = 16 << s;
        for (int i = 0; i < n; i++) {
            block *b = &r->blocks[s * n + i];
            int stride = (s > 0 && i == 0) ? 2 : 1;
            const char *p = seer_loader_name(l, "layer%d.%d", s + 1, i);
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s", p);
            SEER_TRY(load_conv_bn(l, m, &b->c1, seer_loader_name(l, "%s.conv1.weight", prefix),
                                  seer_loader_name(l, "%s.bn1", prefix), c_out, c_in, stride));
            SEER_TRY(load_conv_bn(l, m, &b->c2, seer_loader_name(l, "%s.conv2.weight", prefix),
                                  seer_loader_name(l, "%s.bn2", prefix), c_out, c_out, 1));
            b->pad_channels = (stride != 1 || c_in != c_out) ? (c_out - c_in) / 2 : 0;
            c_in = c_out;
        }
    }
    r->fc_w = seer_load_tensor(l, m, "linear.weight", 2, (int64_t[]){m->num_classes, 64});
    r->fc_b = r->fc_w ? seer_load_tensor(l, m, "linear.bias", 1, (int64_t[]){m->num_classes}) : NULL;
    return r->fc_b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}

// relu(conv(x) + bn [+ residual]), the epilogue fused into the convolution.
static seer_tensor *conv_bn_fwd(seer_ctx *c, const seer_tensor *x, const conv_bn *cb,
                                const seer_tensor *residual) {
    seer_conv2d_params p = {.stride_h = cb->stride, .stride_w = cb->stride, .pad_h = 1, .pad_w = 1};
    return seer_conv2d_fused(c, x, cb->w, cb->b, &p, residual, true);
}

// Option A: x[:, ::2, ::2, :] with pad zero channels on each side.
static seer_tensor *shortcut_a(seer_ctx *c, const seer_tensor *x, int pad) {
    if (!x) return NULL;
    seer_tensor sub = *x;  // strided view: every other row and column
    sub.shape[1] = (x->shape[1] + 1) / 2;
    sub.shape[2] = (x->shape[2] + 1) / 2;
    sub.stride[1] *= 2;
    sub.stride[2] *= 2;
    seer_tensor *zeros = seer_new(c, x->dtype, 4, (int64_t[]){sub.shape[0], sub.shape[1], sub.shape[2], pad});
    seer_fill(c, zeros, 0.0);
    const seer_tensor *parts[3] = {zeros, seer_ctx_view(c, &sub), zeros};
    return seer_concat(c, parts, 3, 3);
}

static seer_tensor *resnet_features(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const resnet *r = m->impl;
    seer_tensor *h = conv_bn_fwd(c, x, &r->stem, NULL);  // [B, 32, 32, 16]
    for (int i = 0; i < r->n_blocks; i++) {
        const block *b = &r->blocks[i];
        seer_tensor *sc = b->pad_channels ? shortcut_a(c, h, b->pad_channels) : h;
        seer_tensor *y = conv_bn_fwd(c, h, &b->c1, NULL);
        h = conv_bn_fwd(c, y, &b->c2, sc);  // relu(bn2(conv2(y)) + shortcut)
    }
    // h: [B, 8, 8, 64] -> mean over positions -> [B, 64]
    if (!h) return NULL;
    seer_tensor *flat = seer_reshape(c, h, 3, (int64_t[]){h->shape[0], h->shape[1] * h->shape[2], h->shape[3]});
    return seer_reduce(c, flat, 1, SEER_REDUCE_MEAN);
}

static seer_tensor *resnet_forward(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const resnet *r = m->impl;
    return seer_linear(c, resnet_features(m, c, x), r->fc_w, r->fc_b);  // [B, classes]
}

#define RESNET_ARCH(d)                                                                  \
    {.name = "resnet" #d, .family = "resnet_cifar", .num_classes = 10, .img_size = 32,  \
     .preprocess = "cifar", .labels = "cifar10", .config = &(const resnet_config){d},   \
     .load = resnet_load, .forward = resnet_forward, .features = resnet_features,       \
     .free_impl = resnet_free}

// resnet8 is not a published model; it is the smallest member, used by the golden fixture.
const seer_arch seer_resnet_cifar_archs[] = {
    RESNET_ARCH(20), RESNET_ARCH(32), RESNET_ARCH(44), RESNET_ARCH(56), RESNET_ARCH(110),
    RESNET_ARCH(8),
};
const int seer_resnet_cifar_arch_count = sizeof seer_resnet_cifar_archs / sizeof *seer_resnet_cifar_archs;
