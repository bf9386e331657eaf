// VOLO (Yuan et al. 2021, "VOLO: Vision Outlooker for Visual Recognition"), as timm's
// volo.py evaluates it. Weight names are timm's, which are also those of the official
// sail-sg/volo checkpoints (*.pth.tar under 'state_dict'):
//   patch_embed.conv.{0,3,6}.weight + patch_embed.conv.{1,4,7}.* (BN)  7x7/2 + 3x3 + 3x3 stem
//   patch_embed.proj.*                            conv k = s = patch_size / 2
//   network.0.{i}.{norm1,attn.{v,attn,proj},norm2,mlp.{fc1,fc2}}   outlooker blocks
//   network.1.proj.*                              2x2/2 downsample
//   pos_embed [1, g, g, C]                        added after the downsample
//   network.{s+1}.{i}.{norm1,attn.{qkv,proj},norm2,mlp.*}          transformer stages s >= 1
//   cls_token, post_network.{i}.{norm1,attn.{kv,q,proj},norm2,mlp.*}  class attention
//   norm, head, aux_head
// Eval output (token labeling): head(cls) + 0.5 * max over tokens of aux_head(tokens).
//
// Config: the preset's, or metadata `seer.config` holding a JSON object of timm's VOLO
// kwargs (those not given keep the preset's value): layers, embed_dims, num_heads (lists of
// 2..8 stages), mlp_ratio (number or list), img_size, patch_size (4, 8, 16 as timm, or 2: a
// 1x1 projection after the stride-2 stem, for 32x32 CIFAR inputs), stem_hidden_dim,
// qkv_bias, post_layers (null or a list of "ca"), use_aux_head, global_pool ("token" or
// "avg"), num_classes (as metadata seer.num_classes, which must agree), downsamples / outlook_attention (only the one
// layout every VOLO uses: outlooker stage 0, downsample after it), and the official repo's
// out_kernel, out_stride, out_padding (outlook attention window; timm fixes 3, 2, 1).
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/model.h"

#define LN_EPS 1e-5f
#define BN_EPS 1e-5f
#define MAX_STAGES 8
#define POOLING_SCALE 2 // the downsample after the outlooker stage

typedef struct volo_config {
    int n_stages;
    int layers[MAX_STAGES], embed_dims[MAX_STAGES], num_heads[MAX_STAGES];
    double mlp_ratio[MAX_STAGES];
    int img_size; // 0: the arch's
    int patch_size, stem_hidden_dim;
    int out_kernel, out_stride, out_padding;
    int post_layers; // class-attention blocks
    bool qkv_bias, use_aux_head, avg_pool;
    int num_classes; // seer.config's, 0 when not named (metadata seer.num_classes decides)
} volo_config;

typedef struct linear {
    seer_tensor *w, *b;
} linear;

typedef struct norm {
    seer_tensor *w, *b;
} norm;

typedef struct conv {
    seer_tensor *w, *b;
    seer_conv2d_params p;
} conv;

typedef struct outlooker {
    norm norm1, norm2;
    linear v, attn, proj, fc1, fc2;
} outlooker;

typedef struct transformer {
    norm norm1, norm2;
    linear qkv, proj, fc1, fc2;
} transformer;

typedef struct class_block {
    norm norm1, norm2;
    linear kv, q, proj, fc1, fc2;
} class_block;

typedef struct volo {
    volo_config cfg;
    conv stem[3], patch_proj, downsample;
    outlooker *outlookers; // cfg.layers[0]
    transformer *blocks;   // stages 1.. in order
    class_block *post;     // cfg.post_layers
    seer_tensor *pos_embed, *cls_token;
    norm norm;
    linear head, aux_head;
} volo;

// ---- config --------------------------------------------------------------------------------

static int stage_count(json_t *a, const char *key, int *n) {
    if (!json_is_array(a) || json_array_size(a) < 2 || json_array_size(a) > MAX_STAGES)
        return seer_fail(SEER_STATUS_FORMAT, "seer.config: %s must be a list of 2..%d stages", key,
                         MAX_STAGES);
    if (*n && (int)json_array_size(a) != *n)
        return seer_fail(SEER_STATUS_FORMAT, "seer.config: %s has %zu stages, layers has %d", key,
                         json_array_size(a), *n);
    *n = (int)json_array_size(a);
    return SEER_STATUS_OK;
}

static seer_status int_list(json_t *a, const char *key, int *n, int *out) {
    SEER_TRY(stage_count(a, key, n));
    for (int i = 0; i < *n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65536)
            return seer_fail(SEER_STATUS_FORMAT, "seer.config: %s[%d] is not a small integer", key,
                             i);
        out[i] = (int)json_integer_value(v);
    }
    return SEER_STATUS_OK;
}

static seer_status int_value(json_t *v, const char *key, int lo, int hi, int *out) {
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return seer_fail(SEER_STATUS_FORMAT, "seer.config: %s must be an integer in [%d, %d]", key,
                         lo, hi);
    *out = (int)json_integer_value(v);
    return SEER_STATUS_OK;
}

static seer_status bool_value(json_t *v, const char *key, bool *out) {
    if (!json_is_boolean(v))
        return seer_fail(SEER_STATUS_FORMAT, "seer.config: %s must be true or false", key);
    *out = json_is_true(v);
    return SEER_STATUS_OK;
}

// The only stage layout of VOLO: outlook attention and a downsample in stage 0 alone.
static seer_status check_layout_flags(json_t *v, const char *key) {
    bool ok = json_is_array(v) && json_array_size(v) >= 2;
    for (size_t i = 0; ok && i < json_array_size(v); i++)
        ok = json_is_true(json_array_get(v, i)) == (i == 0);
    return ok ? SEER_STATUS_OK
              : seer_fail(SEER_STATUS_UNSUPPORTED, "seer.config: %s must be [true, false, ...]",
                          key);
}

static seer_status apply_key(volo_config *cfg, const char *key, json_t *v, int *n) {
    if (!strcmp(key, "layers")) return int_list(v, key, n, cfg->layers);
    if (!strcmp(key, "embed_dims")) return int_list(v, key, n, cfg->embed_dims);
    if (!strcmp(key, "num_heads")) return int_list(v, key, n, cfg->num_heads);
    if (!strcmp(key, "mlp_ratio") || !strcmp(key, "mlp_ratios")) {
        if (json_is_number(v)) {
            for (int i = 0; i < MAX_STAGES; i++)
                cfg->mlp_ratio[i] = json_number_value(v);
            return SEER_STATUS_OK;
        }
        SEER_TRY(stage_count(v, key, n));
        for (int i = 0; i < *n; i++) {
            if (!json_is_number(json_array_get(v, (size_t)i)))
                return seer_fail(SEER_STATUS_FORMAT, "seer.config: %s[%d] is not a number", key, i);
            cfg->mlp_ratio[i] = json_number_value(json_array_get(v, (size_t)i));
        }
        return SEER_STATUS_OK;
    }
    if (!strcmp(key, "img_size")) return int_value(v, key, 16, 8192, &cfg->img_size);
    if (!strcmp(key, "patch_size")) {
        SEER_TRY(int_value(v, key, 2, 16, &cfg->patch_size));
        int p = cfg->patch_size;
        if (p == 2 || p == 4 || p == 8 || p == 16) return SEER_STATUS_OK;
        return seer_fail(SEER_STATUS_FORMAT, "seer.config: patch_size must be 2, 4, 8 or 16");
    }
    if (!strcmp(key, "stem_hidden_dim")) return int_value(v, key, 1, 65536, &cfg->stem_hidden_dim);
    if (!strcmp(key, "out_kernel")) return int_value(v, key, 1, 15, &cfg->out_kernel);
    if (!strcmp(key, "out_stride")) return int_value(v, key, 1, 16, &cfg->out_stride);
    if (!strcmp(key, "out_padding")) return int_value(v, key, 0, 7, &cfg->out_padding);
    if (!strcmp(key, "qkv_bias")) return bool_value(v, key, &cfg->qkv_bias);
    if (!strcmp(key, "use_aux_head")) return bool_value(v, key, &cfg->use_aux_head);
    if (!strcmp(key, "post_layers")) {
        bool ok = json_is_null(v) || json_is_array(v);
        for (size_t i = 0; ok && json_is_array(v) && i < json_array_size(v); i++)
            ok = json_is_string(json_array_get(v, i)) &&
                 !strcmp(json_string_value(json_array_get(v, i)), "ca");
        if (!ok)
            return seer_fail(SEER_STATUS_UNSUPPORTED,
                             "seer.config: post_layers must be null or a list of \"ca\"");
        cfg->post_layers = json_is_array(v) ? (int)json_array_size(v) : 0;
        return SEER_STATUS_OK;
    }
    if (!strcmp(key, "global_pool")) {
        const char *s = json_string_value(v);
        if (!s || (strcmp(s, "token") && strcmp(s, "avg")))
            return seer_fail(SEER_STATUS_UNSUPPORTED,
                             "seer.config: global_pool must be \"token\" or \"avg\"");
        cfg->avg_pool = !strcmp(s, "avg");
        return SEER_STATUS_OK;
    }
    if (!strcmp(key, "num_classes")) {
        if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 1 << 20) {
            cfg->num_classes = (int)json_integer_value(v);
            return SEER_STATUS_OK;
        }
        return seer_fail(SEER_STATUS_FORMAT, "seer.config: num_classes must be a positive integer");
    }
    if (!strcmp(key, "downsamples") || !strcmp(key, "outlook_attention"))
        return check_layout_flags(v, key);
    return seer_fail(SEER_STATUS_FORMAT, "seer.config: unknown VOLO option '%s'", key);
}

static seer_status check_config(const volo_config *cfg) {
    int n = cfg->n_stages;
    if (2 * cfg->out_padding >= cfg->out_kernel)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "VOLO config: outlook kernel %d with padding %d",
                         cfg->out_kernel, cfg->out_padding);
    for (int i = 0; i < n; i++) {
        if (cfg->embed_dims[i] < 1 || cfg->num_heads[i] < 1 ||
            cfg->embed_dims[i] % cfg->num_heads[i])
            return seer_fail(SEER_STATUS_FORMAT,
                             "VOLO config: stage %d: embed dim %d is not a multiple of %d heads", i,
                             cfg->embed_dims[i], cfg->num_heads[i]);
        if (i > 1 && cfg->embed_dims[i] != cfg->embed_dims[1])
            return seer_fail(SEER_STATUS_FORMAT,
                             "VOLO config: stages after the downsample need one embed dim "
                             "(stage %d has %d, stage 1 %d)",
                             i, cfg->embed_dims[i], cfg->embed_dims[1]);
        if (!(cfg->mlp_ratio[i] > 0 && cfg->mlp_ratio[i] <= 64))
            return seer_fail(SEER_STATUS_FORMAT, "VOLO config: stage %d: mlp ratio %g", i,
                             cfg->mlp_ratio[i]);
    }
    if (cfg->img_size / cfg->patch_size / POOLING_SCALE < 1)
        return seer_fail(SEER_STATUS_FORMAT,
                         "VOLO config: img_size %d is too small for patch size %d", cfg->img_size,
                         cfg->patch_size);
    return SEER_STATUS_OK;
}

// The preset's config, with metadata seer.config applied over it.
static seer_status read_config(const seer_arch *arch, const seer_st_file *f, volo_config *cfg) {
    *cfg = *(const volo_config *)arch->config;
    if (!cfg->img_size) cfg->img_size = arch->img_size;
    const char *text = seer_st_metadata(f, "seer.config");
    if (text) {
        json_error_t err;
        json_t *root = json_loads(text, 0, &err);
        if (!json_is_object(root)) {
            json_decref(root);
            return seer_fail(SEER_STATUS_FORMAT, "seer.config is not a JSON object (%s)", err.text);
        }
        int n = 0; // stage count fixed by the first list seen
        seer_status st = SEER_STATUS_OK;
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            if (st == SEER_STATUS_OK) st = apply_key(cfg, key, v, &n);
        }
        json_decref(root);
        SEER_TRY(st);
        if (n) cfg->n_stages = n;
    }
    return check_config(cfg);
}

// ---- loading -------------------------------------------------------------------------------

static seer_status load_linear(seer_loader *l, seer_model *m, linear *p, const char *prefix,
                               int out, int in, bool bias) {
    p->w =
        seer_load_tensor(l, m, seer_loader_name(l, "%s.weight", prefix), 2, (int64_t[]){out, in});
    if (!p->w) return SEER_STATUS_FORMAT;
    if (!bias) return SEER_STATUS_OK;
    p->b = seer_load_tensor(l, m, seer_loader_name(l, "%s.bias", prefix), 1, (int64_t[]){out});
    return p->b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}

static seer_status load_norm(seer_loader *l, seer_model *m, norm *p, const char *prefix, int dim) {
    p->w = seer_load_tensor(l, m, seer_loader_name(l, "%s.weight", prefix), 1, (int64_t[]){dim});
    p->b = p->w
               ? seer_load_tensor(l, m, seer_loader_name(l, "%s.bias", prefix), 1, (int64_t[]){dim})
               : NULL;
    return p->b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}

static seer_status load_mlp(seer_loader *l, seer_model *m, linear *fc1, linear *fc2,
                            const char *prefix, int dim, double ratio) {
    int hidden = (int)(dim * ratio); // int(dim * mlp_ratio), as timm
    SEER_TRY(load_linear(l, m, fc1, seer_loader_name(l, "%s.mlp.fc1", prefix), hidden, dim, true));
    return load_linear(l, m, fc2, seer_loader_name(l, "%s.mlp.fc2", prefix), dim, hidden, true);
}

static seer_status load_outlooker(seer_loader *l, seer_model *m, const volo_config *cfg,
                                  outlooker *b, int i) {
    int d = cfg->embed_dims[0], kk = cfg->out_kernel * cfg->out_kernel;
    char p[64];
    snprintf(p, sizeof p, "network.0.%d", i);
    SEER_TRY(load_norm(l, m, &b->norm1, seer_loader_name(l, "%s.norm1", p), d));
    SEER_TRY(load_linear(l, m, &b->v, seer_loader_name(l, "%s.attn.v", p), d, d, cfg->qkv_bias));
    SEER_TRY(load_linear(l, m, &b->attn, seer_loader_name(l, "%s.attn.attn", p),
                         kk * kk * cfg->num_heads[0], d, true));
    SEER_TRY(load_linear(l, m, &b->proj, seer_loader_name(l, "%s.attn.proj", p), d, d, true));
    SEER_TRY(load_norm(l, m, &b->norm2, seer_loader_name(l, "%s.norm2", p), d));
    return load_mlp(l, m, &b->fc1, &b->fc2, p, d, cfg->mlp_ratio[0]);
}

static seer_status load_transformer(seer_loader *l, seer_model *m, const volo_config *cfg,
                                    transformer *b, int stage, int i) {
    int d = cfg->embed_dims[stage];
    char p[64];
    snprintf(p, sizeof p, "network.%d.%d", stage + 1, i); // network.1 is the downsample
    SEER_TRY(load_norm(l, m, &b->norm1, seer_loader_name(l, "%s.norm1", p), d));
    SEER_TRY(
        load_linear(l, m, &b->qkv, seer_loader_name(l, "%s.attn.qkv", p), 3 * d, d, cfg->qkv_bias));
    SEER_TRY(load_linear(l, m, &b->proj, seer_loader_name(l, "%s.attn.proj", p), d, d, true));
    SEER_TRY(load_norm(l, m, &b->norm2, seer_loader_name(l, "%s.norm2", p), d));
    return load_mlp(l, m, &b->fc1, &b->fc2, p, d, cfg->mlp_ratio[stage]);
}

static seer_status load_class_block(seer_loader *l, seer_model *m, const volo_config *cfg,
                                    class_block *b, int i) {
    int d = cfg->embed_dims[cfg->n_stages - 1];
    char p[64];
    snprintf(p, sizeof p, "post_network.%d", i);
    SEER_TRY(load_norm(l, m, &b->norm1, seer_loader_name(l, "%s.norm1", p), d));
    SEER_TRY(
        load_linear(l, m, &b->kv, seer_loader_name(l, "%s.attn.kv", p), 2 * d, d, cfg->qkv_bias));
    SEER_TRY(load_linear(l, m, &b->q, seer_loader_name(l, "%s.attn.q", p), d, d, cfg->qkv_bias));
    SEER_TRY(load_linear(l, m, &b->proj, seer_loader_name(l, "%s.attn.proj", p), d, d, true));
    SEER_TRY(load_norm(l, m, &b->norm2, seer_loader_name(l, "%s.norm2", p), d));
    return load_mlp(l, m, &b->fc1, &b->fc2, p, d, cfg->mlp_ratio[cfg->n_stages - 1]);
}

static seer_status load_conv(seer_loader *l, seer_model *m, conv *cv, const char *name, int c_out,
                             int c_in, int k, int stride, int pad) {
    cv->p =
        (seer_conv2d_params){.stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad};
    cv->w = seer_load_conv(l, m, name, c_out, c_in, k, k);
    const char *bias =
        seer_loader_name(l, "%.*s.bias", (int)(strlen(name) - strlen(".weight")), name);
    cv->b = cv->w ? seer_load_tensor(l, m, bias, 1, (int64_t[]){c_out}) : NULL;
    return cv->b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}

static seer_status load_stem(seer_loader *l, seer_model *m, const volo_config *cfg, volo *v) {
    static const int kernel[3] = {7, 3, 3}, stride[3] = {2, 1, 1};
    int hid = cfg->stem_hidden_dim;
    for (int i = 0; i < 3; i++) {
        conv *cv = &v->stem[i];
        cv->p = (seer_conv2d_params){.stride_h = stride[i],
                                     .stride_w = stride[i],
                                     .pad_h = kernel[i] / 2,
                                     .pad_w = kernel[i] / 2};
        SEER_TRY(seer_load_conv_bn(l, m, seer_loader_name(l, "patch_embed.conv.%d.weight", 3 * i),
                                   seer_loader_name(l, "patch_embed.conv.%d", 3 * i + 1), hid,
                                   i ? hid : 3, kernel[i], kernel[i], BN_EPS, &cv->w, &cv->b));
    }
    int k = cfg->patch_size / 2; // patch_size // stem_stride
    return load_conv(l, m, &v->patch_proj, "patch_embed.proj.weight", cfg->embed_dims[0], hid, k, k,
                     0);
}

static void volo_free(void *impl) {
    volo *v = impl;
    if (v) {
        free(v->outlookers);
        free(v->blocks);
        free(v->post);
    }
    free(v);
}

static seer_status volo_load(seer_model *m, seer_loader *l) {
    volo *v = calloc(1, sizeof *v);
    if (!v) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    m->impl = v;
    volo_config *cfg = &v->cfg;
    SEER_TRY(read_config(m->arch, seer_loader_file(l), cfg));
    SEER_TRY(seer_model_config_classes(m, l, cfg->num_classes));
    int n = cfg->n_stages, n_blocks = 0, d = cfg->embed_dims[n - 1], nc = m->num_classes;
    for (int s = 1; s < n; s++)
        n_blocks += cfg->layers[s];
    v->outlookers = calloc((size_t)cfg->layers[0] + 1, sizeof *v->outlookers);
    v->blocks = calloc((size_t)n_blocks + 1, sizeof *v->blocks);
    v->post = calloc((size_t)cfg->post_layers + 1, sizeof *v->post);
    if (!v->outlookers || !v->blocks || !v->post)
        return seer_fail(SEER_STATUS_OOM, "out of host memory");

    SEER_TRY(load_stem(l, m, cfg, v));
    for (int i = 0; i < cfg->layers[0]; i++)
        SEER_TRY(load_outlooker(l, m, cfg, &v->outlookers[i], i));
    SEER_TRY(load_conv(l, m, &v->downsample, "network.1.proj.weight", cfg->embed_dims[1],
                       cfg->embed_dims[0], POOLING_SCALE, POOLING_SCALE, 0));
    int g = cfg->img_size / cfg->patch_size / POOLING_SCALE;
    v->pos_embed = seer_load_tensor(l, m, "pos_embed", 4, (int64_t[]){1, g, g, d});
    if (!v->pos_embed) return SEER_STATUS_FORMAT;
    for (int s = 1, b = 0; s < n; s++)
        for (int i = 0; i < cfg->layers[s]; i++)
            SEER_TRY(load_transformer(l, m, cfg, &v->blocks[b++], s, i));
    if (cfg->post_layers) {
        v->cls_token = seer_load_tensor(l, m, "cls_token", 3, (int64_t[]){1, 1, d});
        if (!v->cls_token) return SEER_STATUS_FORMAT;
    }
    for (int i = 0; i < cfg->post_layers; i++)
        SEER_TRY(load_class_block(l, m, cfg, &v->post[i], i));
    SEER_TRY(load_norm(l, m, &v->norm, "norm", d));
    SEER_TRY(load_linear(l, m, &v->head, "head", nc, d, true));
    if (cfg->use_aux_head) SEER_TRY(load_linear(l, m, &v->aux_head, "aux_head", nc, d, true));
    return SEER_STATUS_OK;
}

// ---- forward -------------------------------------------------------------------------------

static seer_tensor *lin(seer_ctx *c, const seer_tensor *x, const linear *p) {
    return seer_linear(c, x, p->w, p->b);
}

static seer_tensor *ln(seer_ctx *c, const seer_tensor *x, const norm *p) {
    return seer_layer_norm(c, x, p->w, p->b, LN_EPS);
}

// residual + fc2(GELU(fc1(x))), the sum in fc2 (seer_linear_add).
static seer_tensor *add_mlp(seer_ctx *c, const seer_tensor *residual, const seer_tensor *x,
                            const linear *fc1, const linear *fc2) {
    return seer_linear_add(c, seer_gelu(c, lin(c, x, fc1)), fc2->w, fc2->b, residual);
}

static seer_tensor *conv_fwd(seer_ctx *c, const seer_tensor *x, const conv *cv) {
    return seer_conv2d(c, x, cv->w, cv->b, &cv->p);
}

// Part `part` of n_parts of t's last dim (t: [B, N, n_parts * C], as qkv or kv give it) as a
// view [B, heads, N, C / heads]: no copy.
static seer_tensor *head_view(seer_ctx *c, const seer_tensor *t, int part, int n_parts, int heads) {
    if (!t) return NULL;
    int64_t ch = t->shape[2] / n_parts, hd = ch / heads;
    seer_tensor *p = seer_narrow(c, t, 2, part * ch, ch);
    if (!p) return NULL;
    seer_tensor v = *p;
    v.ndim = 4;
    v.shape[0] = t->shape[0], v.shape[1] = heads, v.shape[2] = t->shape[1], v.shape[3] = hd;
    v.stride[0] = p->stride[0], v.stride[1] = hd, v.stride[2] = p->stride[1], v.stride[3] = 1;
    return seer_ctx_view(c, &v);
}

// [B, heads, L, hd] -> [B, L, heads * hd]
static seer_tensor *merge_heads(seer_ctx *c, const seer_tensor *o) {
    if (!o) return NULL;
    seer_tensor *t = seer_permute_copy(c, o, (const int[]){0, 2, 1, 3});
    return seer_reshape(c, t, 3, (int64_t[]){o->shape[0], o->shape[2], o->shape[1] * o->shape[3]});
}

// Outlook attention (paper sec. 2.1): the average of each stride x stride cell predicts, by a
// linear map, a (k*k) x (k*k) attention per head over the k x k window of values around it;
// each window's k*k outputs are folded back onto the positions they came from and summed.
// Window slots outside the image hold zero values yet take part in the softmax, as in timm.
static seer_tensor *outlook_attention(seer_ctx *c, const volo *v, const outlooker *b,
                                      const seer_tensor *x) {
    const volo_config *cfg = &v->cfg;
    if (!x) return NULL;
    const int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    const int heads = cfg->num_heads[0], k = cfg->out_kernel, kk = k * k, s = cfg->out_stride;
    const float scale = 1.0f / sqrtf((float)(C / heads));
    const seer_unfold_params win = {.kernel_h = k,
                                    .kernel_w = k,
                                    .stride_h = s,
                                    .stride_w = s,
                                    .pad_h = cfg->out_padding,
                                    .pad_w = cfg->out_padding};
    const seer_pool2d_params cell = {.mode = SEER_POOL_AVG,
                                     .kernel_h = s,
                                     .kernel_w = s,
                                     .stride_h = s,
                                     .stride_w = s,
                                     .ceil_mode = true,
                                     .count_include_pad = true};

    seer_tensor *val = lin(c, x, &b->v);                                    // [B, H, W, C]
    seer_tensor *avg = s > 1 ? seer_pool2d(c, x, &cell) : (seer_tensor *)x; // [B, h, w, C]
    if (!val || !avg) return NULL;
    // the unfold's window counts (as for a convolution), which the pooled cells must match
    const int64_t h = (H + 2 * cfg->out_padding - k) / s + 1,
                  w = (W + 2 * cfg->out_padding - k) / s + 1;
    if (avg->shape[1] != h || avg->shape[2] != w) {
        seer_ctx_fail(
            c, SEER_STATUS_UNSUPPORTED,
            "VOLO outlook attention: kernel %d, padding %d, stride %d give %lldx%lld windows "
            "on a %lldx%lld map but %lldx%lld pooled cells",
            k, cfg->out_padding, s, (long long)h, (long long)w, (long long)H, (long long)W,
            (long long)avg->shape[1], (long long)avg->shape[2]);
        return NULL;
    }
    seer_tensor *attn = lin(c, avg, &b->attn); // [B, h, w, heads*kk*kk]
    attn = seer_reshape(c, attn, 6, (int64_t[]){B, h, w, heads, kk, kk});
    attn = seer_softmax(c, attn, scale, NULL); // over the kk value slots
    // unfold, attend, fold in one op (no [B, h, w, kk, C] windows in memory)
    return lin(c, seer_outlook_fold(c, val, attn, heads, &win), &b->proj); // [B, H, W, C]
}

// x: [B, N, C] -> [B, N, C]
// probs_out (may be NULL): the attention probabilities, mean of the heads, F32 [B, N, N].
static seer_tensor *self_attention(seer_ctx *c, const transformer *b, const seer_tensor *x,
                                   int heads, seer_tensor **probs_out) {
    seer_tensor *qkv = lin(c, x, &b->qkv); // [B, N, 3C]
    if (!qkv) return NULL;
    float scale = 1.0f / sqrtf((float)(x->shape[2] / heads));
    if (probs_out) {
        seer_tensor *p = seer_matmul(c, head_view(c, qkv, 0, 3, heads),
                                     head_view(c, qkv, 1, 3, heads), false, true, scale,
                                     NULL); // [B, heads, N, N]
        *probs_out = seer_to(c, seer_reduce(c, seer_softmax(c, p, 1.0f, NULL), 1,
                                            SEER_REDUCE_MEAN), SEER_F32);
    }
    seer_tensor *o =
        seer_attention(c, head_view(c, qkv, 0, 3, heads), head_view(c, qkv, 1, 3, heads),
                       head_view(c, qkv, 2, 3, heads), NULL, scale); // [B, heads, N, hd]
    return lin(c, merge_heads(c, o), &b->proj);
}

// Class attention (CaiT): the class token queries all tokens. x: [B, 1 + N, C] -> [B, 1, C].
// probs_out (may be NULL): the class token's attention over the tokens, mean of the heads, F32
// [B, 1 + N].
static seer_tensor *class_attention(seer_ctx *c, const class_block *b, const seer_tensor *x,
                                    int heads, seer_tensor **probs_out) {
    seer_tensor *kv = lin(c, x, &b->kv);                        // [B, 1 + N, 2C]
    seer_tensor *q = lin(c, seer_narrow(c, x, 1, 0, 1), &b->q); // [B, 1, C]
    if (!kv || !q) return NULL;
    float scale = 1.0f / sqrtf((float)(x->shape[2] / heads));
    if (probs_out) {
        seer_tensor *p = seer_matmul(c, head_view(c, q, 0, 1, heads), head_view(c, kv, 0, 2, heads),
                                     false, true, scale, NULL); // [B, heads, 1, 1 + N]
        p = seer_reduce(c, seer_softmax(c, p, 1.0f, NULL), 1, SEER_REDUCE_MEAN);
        *probs_out = seer_to(c, seer_reshape(c, p, 2, (int64_t[]){x->shape[0], x->shape[1]}),
                             SEER_F32);
    }
    seer_tensor *o =
        seer_attention(c, head_view(c, q, 0, 1, heads), head_view(c, kv, 0, 2, heads),
                       head_view(c, kv, 1, 2, heads), NULL, scale); // [B, heads, 1, hd]
    return lin(c, merge_heads(c, o), &b->proj);
}

// Stem, outlooker stage; stop_after_stage0: its output [B, h, w, C0]. Else the tokens after
// the transformer stages [B, N, C]; last_attn (may be NULL): the last transformer block's
// attention, as self_attention's probs_out.
static seer_tensor *forward_tokens(const seer_model *m, seer_ctx *c, const seer_tensor *x,
                                   bool stop_after_stage0, seer_tensor **last_attn) {
    const volo *v = m->impl;
    const volo_config *cfg = &v->cfg;
    if (!x) return NULL;
    seer_tensor *h = (seer_tensor *)x; // [B, H, W, 3]
    for (int i = 0; i < 3; i++)
        h = seer_relu(c, conv_fwd(c, h, &v->stem[i])); // [B, H/2, W/2, hid]
    h = conv_fwd(c, h, &v->patch_proj);                // [B, H/p, W/p, C0]
    for (int i = 0; i < cfg->layers[0]; i++) {
        const outlooker *b = &v->outlookers[i];
        const seer_arena_mark mark = seer_ctx_mark(c);
        h = seer_add(c, h, outlook_attention(c, v, b, ln(c, h, &b->norm1)));
        h = add_mlp(c, h, ln(c, h, &b->norm2), &b->fc1, &b->fc2);
        h = seer_ctx_keep(c, mark, h); // the block's intermediates freed
    }
    if (stop_after_stage0) return h;
    h = conv_fwd(c, h, &v->downsample); // [B, H/2p, W/2p, C]
    if (!h) return NULL;
    if (h->shape[1] != v->pos_embed->shape[1] || h->shape[2] != v->pos_embed->shape[2]) {
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "%s takes %dx%d images (its position embedding is %lldx%lld); got %lldx%lld",
                      m->arch->name, cfg->img_size, cfg->img_size,
                      (long long)v->pos_embed->shape[1], (long long)v->pos_embed->shape[2],
                      (long long)x->shape[1], (long long)x->shape[2]);
        return NULL;
    }
    h = seer_add(c, h, v->pos_embed);
    if (!h) return NULL;
    h = seer_reshape(c, h, 3,
                     (int64_t[]){h->shape[0], h->shape[1] * h->shape[2], h->shape[3]}); // [B, N, C]
    for (int s = 1, i = 0; s < cfg->n_stages; s++) {
        for (int j = 0; j < cfg->layers[s]; j++, i++) {
            const transformer *b = &v->blocks[i];
            const bool last = s == cfg->n_stages - 1 && j == cfg->layers[s] - 1;
            const seer_arena_mark mark = seer_ctx_mark(c);
            seer_tensor **rec = last ? last_attn : NULL;
            h = seer_add(c, h, self_attention(c, b, ln(c, h, &b->norm1), cfg->num_heads[s], rec));
            h = add_mlp(c, h, ln(c, h, &b->norm2), &b->fc1, &b->fc2);
            if (!rec) h = seer_ctx_keep(c, mark, h); // the block's intermediates freed
        }
    }
    return h;
}

// The class-attention post network and the final norm: [B, N, C] -> [B, 1 + N, C] (no class
// token without post layers: [B, N, C]). cls_attn (may be NULL): the last class-attention
// block's attention of the class token, as class_attention's probs_out.
static seer_tensor *forward_cls(const volo *v, seer_ctx *c, seer_tensor *t, seer_tensor **cls_attn) {
    const volo_config *cfg = &v->cfg;
    if (!t) return NULL;
    const int64_t B = t->shape[0], N = t->shape[1], C = t->shape[2];
    const int heads = cfg->num_heads[cfg->n_stages - 1];
    if (cfg->post_layers) {
        seer_tensor *zeros = seer_fill(c, seer_new(c, t->dtype, 3, (int64_t[]){B, 1, C}), 0.0);
        const seer_tensor *parts[2] = {seer_add(c, zeros, v->cls_token), t}; // cls: [B, 1, C]
        if (!parts[0]) return NULL;
        t = seer_concat(c, parts, 2, 1); // [B, 1 + N, C]
        for (int i = 0; i < cfg->post_layers; i++) {
            const class_block *b = &v->post[i];
            seer_tensor *cls = seer_narrow(c, t, 1, 0, 1); // only the class token changes
            seer_tensor **rec = i == cfg->post_layers - 1 ? cls_attn : NULL;
            cls = seer_add(c, cls, class_attention(c, b, ln(c, t, &b->norm1), heads, rec));
            cls = add_mlp(c, cls, ln(c, cls, &b->norm2), &b->fc1, &b->fc2);
            const seer_tensor *next[2] = {cls, seer_narrow(c, t, 1, 1, N)};
            if (!cls || !next[1]) return NULL;
            t = seer_concat(c, next, 2, 1);
        }
    }
    return ln(c, t, &v->norm);
}

// Pre-logits: the class token (global_pool 'token') or the mean of all tokens. [B, C]
static seer_tensor *pool_tokens(const volo *v, seer_ctx *c, const seer_tensor *t) {
    if (!t) return NULL;
    if (v->cfg.avg_pool) return seer_reduce(c, t, 1, SEER_REDUCE_MEAN);
    return seer_reduce(c, seer_narrow(c, t, 1, 0, 1), 1, SEER_REDUCE_SUM); // x[:, 0]
}

static seer_tensor *volo_features(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const volo *v = m->impl;
    return pool_tokens(v, c, forward_cls(v, c, forward_tokens(m, c, x, false, NULL), NULL));
}

static seer_tensor *volo_forward(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const volo *v = m->impl;
    seer_tensor *t = forward_cls(v, c, forward_tokens(m, c, x, false, NULL), NULL); // [B, 1 + N, C]
    seer_tensor *logits = lin(c, pool_tokens(v, c, t), &v->head);       // [B, classes]
    if (!v->cfg.use_aux_head || !t) return logits;
    // Token labeling at eval: the best-scoring token per class adds half its score.
    seer_tensor *aux =
        lin(c, seer_narrow(c, t, 1, 1, t->shape[1] - 1), &v->aux_head); // [B, N, classes]
    return seer_add(c, logits, seer_scale(c, seer_reduce(c, aux, 1, SEER_REDUCE_MAX), 0.5f, 0.0f));
}

// The attention view: the last class-attention block's weights of the class token over the
// patch tokens (mean of the heads), or with a picked patch its row of the last transformer
// block's self-attention; on the token grid, F32 [B, g, g]. Without class attention (global_pool
// "avg", no post layers) only the picked patch's view; without transformer blocks only the
// class token's.
static int transformer_blocks(const volo_config *cfg) {
    int n = 0;
    for (int s = 1; s < cfg->n_stages; s++) n += cfg->layers[s];
    return n;
}

static bool volo_attention_info(const seer_model *m, seer_attention_info *out) {
    const volo *v = m->impl;
    const bool cls = v->cfg.post_layers > 0, patch = transformer_blocks(&v->cfg) > 0;
    *out = (seer_attention_info){
        .method = cls && patch ? "class attention; a picked patch: its self-attention"
                  : cls        ? "class attention, last block"
                               : "self-attention of the picked patch",
        .uses_query = patch};
    return cls || patch;
}

static seer_tensor *volo_attention(seer_model *m, seer_ctx *c, const seer_tensor *x, float qx,
                                   float qy) {
    const volo *v = m->impl;
    const int64_t gh = v->pos_embed->shape[1], gw = v->pos_embed->shape[2];
    const int cell = seer_attention_query_cell(qx, qy, (int)gh, (int)gw);
    if (cell >= 0 && transformer_blocks(&v->cfg) > 0) {
        seer_tensor *p = NULL; // [B, N, N]
        if (!forward_tokens(m, c, x, false, &p) || !p) return NULL;
        p = seer_contiguous(c, seer_narrow(c, p, 1, cell, 1));
        return seer_reshape(c, p, 3, (int64_t[]){p ? p->shape[0] : 0, gh, gw});
    }
    if (v->cfg.post_layers == 0) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "%s: pick a patch (this VOLO has no class attention)",
                      m->arch->name);
        return NULL;
    }
    seer_tensor *p = NULL; // [B, 1 + N]
    if (!forward_cls(v, c, forward_tokens(m, c, x, false, NULL), &p) || !p) return NULL;
    const int64_t B = p->shape[0];
    return seer_reshape(c, seer_contiguous(c, seer_narrow(c, p, 1, 1, gh * gw)), 3,
                        (int64_t[]){B, gh, gw});
}

// For tests and debugging: the output of the outlooker stage (network.0), [B, H/p, W/p, C0].
seer_tensor *seer_volo_outlooker_output(seer_model *m, seer_ctx *c, const seer_tensor *x);
seer_tensor *seer_volo_outlooker_output(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    if (strcmp(m->arch->family, "volo")) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "%s is not a VOLO model", m->arch->name);
        return NULL;
    }
    return forward_tokens(m, c, x, true, NULL);
}

// ---- presets (timm's volo_d1..d5; pretrained_cfg crop_pct, bicubic, ImageNet mean/std) ----

#define VOLO_CFG(l0, l1, l2, l3, d0, d1, h0, h1, mlp, hid)                                         \
    {                                                                                              \
        .n_stages = 4, .layers = {l0, l1, l2, l3}, .embed_dims = {d0, d1, d1, d1},                 \
        .num_heads = {h0, h1, h1, h1}, .mlp_ratio = {mlp, mlp, mlp, mlp}, .patch_size = 8,         \
        .stem_hidden_dim = hid, .out_kernel = 3, .out_stride = 2, .out_padding = 1,                \
        .post_layers = 2, .use_aux_head = true                                                     \
    }

static const volo_config volo_d1 = VOLO_CFG(4, 4, 8, 2, 192, 384, 6, 12, 3, 64);
static const volo_config volo_d2 = VOLO_CFG(6, 4, 10, 4, 256, 512, 8, 16, 3, 64);
static const volo_config volo_d3 = VOLO_CFG(8, 8, 16, 4, 256, 512, 8, 16, 3, 64);
static const volo_config volo_d4 = VOLO_CFG(8, 8, 16, 4, 384, 768, 12, 16, 3, 64);
static const volo_config volo_d5 = VOLO_CFG(12, 12, 20, 4, 384, 768, 12, 16, 4, 128);

// CIFAR-10 (tools/torch_ref/volo.py, trained by us): 32x32 -> stem 16x16, 1x1 patches, 4
// outlookers on the 16x16 grid, 4 transformers on 8x8 tokens, 2 class-attention blocks.
static const volo_config volo_cifar = {.n_stages = 2,
                                       .layers = {4, 4},
                                       .embed_dims = {128, 160},
                                       .num_heads = {4, 5},
                                       .mlp_ratio = {3, 3},
                                       .patch_size = 2,
                                       .stem_hidden_dim = 64,
                                       .out_kernel = 3,
                                       .out_stride = 2,
                                       .out_padding = 1,
                                       .post_layers = 2,
                                       .use_aux_head = true};

#define VOLO_ARCH(nm, cfg, size, crop)                                                             \
    {                                                                                              \
        .name = nm, .family = "volo", .num_classes = 1000, .img_size = size,                       \
        .preprocess = "imagenet_timm,crop_pct=" crop ",size=" #size, .labels = "imagenet",         \
        .config = &cfg, .load = volo_load, .forward = volo_forward, .features = volo_features,     \
        .attention_info = volo_attention_info, .attention = volo_attention, .free_impl = volo_free \
    }

const seer_arch seer_volo_archs[] = {
    VOLO_ARCH("volo_d1_224", volo_d1, 224, "0.96"),
    VOLO_ARCH("volo_d1_384", volo_d1, 384, "1.0"),
    VOLO_ARCH("volo_d2_224", volo_d2, 224, "0.96"),
    VOLO_ARCH("volo_d2_384", volo_d2, 384, "1.0"),
    VOLO_ARCH("volo_d3_224", volo_d3, 224, "0.96"),
    VOLO_ARCH("volo_d3_448", volo_d3, 448, "1.0"),
    VOLO_ARCH("volo_d4_224", volo_d4, 224, "0.96"),
    VOLO_ARCH("volo_d4_448", volo_d4, 448, "1.15"),
    VOLO_ARCH("volo_d5_224", volo_d5, 224, "0.96"),
    VOLO_ARCH("volo_d5_448", volo_d5, 448, "1.15"),
    VOLO_ARCH("volo_d5_512", volo_d5, 512, "1.15"),
    {.name = "volo_cifar",
     .family = "volo",
     .num_classes = 10,
     .img_size = 32,
     .preprocess = "cifar",
     .labels = "cifar10",
     .config = &volo_cifar,
     .load = volo_load,
     .forward = volo_forward,
     .features = volo_features,
     .attention_info = volo_attention_info,
     .attention = volo_attention,
     .free_impl = volo_free},
};
const int seer_volo_arch_count = sizeof seer_volo_archs / sizeof *seer_volo_archs;
