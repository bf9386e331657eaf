// ViT / DeiT trunk (Dosovitskiy et al. 2021; Touvron et al. 2021) as timm's
// VisionTransformer(Distilled) evaluates it: 16x16 patch embedding, [cls, (dist,) patches] +
// learned position embedding, pre-norm blocks (LayerNorm eps 1e-6, qkv with bias, softmax
// attention, proj, MLP with erf GELU), final norm, and the class head on the class token
// (distilled: the mean of head(cls) and head_dist(dist)). The block's attention is dense,
// Sparsifiner's (vit_sparsifiner.c) or agent attention (vit_agent.c).
// LV-ViT (Jiang et al. 2021) as Sparsifiner's sparsifiner_lvvit.py evaluates it differs in
// config only (vit.h): a conv stem (BatchNorm folded at load time) before a (p/2) x (p/2) patch
// conv, residual branches divided by skip_lam, no qkv bias, LayerNorm eps 1e-5, and the
// token-labeling head added to the class head: head(cls) + 0.5 * max_tokens aux_head(token).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/vit.h"

#define LN_EPS 1e-6f      // timm's
#define STEM_BN_EPS 1e-5f // nn.BatchNorm2d's

// ---- configuration ---------------------------------------------------------------------------

// Metadata seer.config: comma-separated key=value pairs over the preset, e.g.
// "attn=agent,img_size=32,patch_size=8,embed_dim=32,depth=2,num_heads=2,num_classes=10,
//  agent_num=4-4-4-4,agent_layer=2". Keys are the vit_config fields (attn: dense,
// sparsifiner or agent; distilled, sparse_gather, qkv_bias, aux_head: 0 or 1; agent_num: one
// value or four joined by '-').
static seer_status vit_config_parse(const char *s, vit_config *cfg) {
    char buf[512];
    if (strlen(s) >= sizeof buf) return seer_fail(SEER_STATUS_FORMAT, "seer.config is too long");
    strcpy(buf, s);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) return seer_fail(SEER_STATUS_FORMAT, "seer.config: '%s' is not key=value", kv);
        *eq = '\0';
        const char *k = kv, *v = eq + 1;
        char *end = NULL;
        double d = strtod(v, &end);
        bool num = end != v && *end == '\0';
        int *ip = !strcmp(k, "img_size")          ? &cfg->img_size
                  : !strcmp(k, "patch_size")      ? &cfg->patch_size
                  : !strcmp(k, "embed_dim")       ? &cfg->embed_dim
                  : !strcmp(k, "depth")           ? &cfg->depth
                  : !strcmp(k, "num_heads")       ? &cfg->num_heads
                  : !strcmp(k, "num_classes")     ? &cfg->num_classes
                  : !strcmp(k, "reduce_n_factor") ? &cfg->reduce_n_factor
                  : !strcmp(k, "reduce_c_factor") ? &cfg->reduce_c_factor
                  : !strcmp(k, "coef_topk")       ? &cfg->coef_topk
                  : !strcmp(k, "agent_layer")     ? &cfg->agent_layer
                  : !strcmp(k, "stem_dim")        ? &cfg->stem_dim
                                                  : NULL;
        double *dp = !strcmp(k, "mlp_ratio")         ? &cfg->mlp_ratio
                     : !strcmp(k, "attn_keep_rate")  ? &cfg->attn_keep_rate
                     : !strcmp(k, "basis_threshold") ? &cfg->basis_threshold
                     : !strcmp(k, "skip_lam")        ? &cfg->skip_lam
                     : !strcmp(k, "ln_eps")          ? &cfg->ln_eps
                                                     : NULL;
        if (ip && num && d >= 0 && d <= 1 << 20 && d == (int)d) {
            *ip = (int)d;
        } else if (dp && num) {
            *dp = d;
        } else if (!strcmp(k, "distilled") && num && (d == 0 || d == 1)) {
            cfg->distilled = d == 1;
        } else if (!strcmp(k, "sparse_gather") && num && (d == 0 || d == 1)) {
            cfg->sparse_gather = d == 1;
        } else if (!strcmp(k, "qkv_bias") && num && (d == 0 || d == 1)) {
            cfg->qkv_bias = d == 1;
        } else if (!strcmp(k, "aux_head") && num && (d == 0 || d == 1)) {
            cfg->aux_head = d == 1;
        } else if (!strcmp(k, "attn") &&
                   (!strcmp(v, "dense") || !strcmp(v, "sparsifiner") || !strcmp(v, "agent"))) {
            cfg->attn = !strcmp(v, "dense")         ? VIT_ATTN_DENSE
                        : !strcmp(v, "sparsifiner") ? VIT_ATTN_SPARSIFINER
                                                    : VIT_ATTN_AGENT;
        } else if (!strcmp(k, "agent_num")) {
            int a[4], n = sscanf(v, "%d-%d-%d-%d", &a[0], &a[1], &a[2], &a[3]);
            if (n != 1 && n != 4)
                return seer_fail(SEER_STATUS_FORMAT, "seer.config: agent_num=%s", v);
            for (int i = 0; i < 4; i++)
                cfg->agent_num[i] = a[n == 1 ? 0 : i];
        } else {
            return seer_fail(SEER_STATUS_FORMAT, "seer.config: bad or unknown entry %s=%s", k, v);
        }
    }
    return SEER_STATUS_OK;
}

static seer_status vit_config_check(const vit_config *g) {
    if (g->patch_size < 1 || g->img_size < g->patch_size || g->img_size % g->patch_size ||
        g->embed_dim < 1 || g->depth < 1 || g->num_heads < 1 || g->embed_dim % g->num_heads ||
        g->num_classes < 1 || g->mlp_ratio <= 0)
        return seer_fail(
            SEER_STATUS_FORMAT,
            "vit config: img_size %d must be a multiple of patch_size %d, embed_dim %d "
            "of num_heads %d (depth %d, classes %d)",
            g->img_size, g->patch_size, g->embed_dim, g->num_heads, g->depth, g->num_classes);
    if (g->stem_dim < 0 || (g->stem_dim && g->patch_size % 2) || g->skip_lam < 0 || g->ln_eps < 0)
        return seer_fail(SEER_STATUS_FORMAT,
                         "vit config: the conv stem (stem_dim %d) takes an even patch_size (%d); "
                         "skip_lam %g and ln_eps %g must be >= 0",
                         g->stem_dim, g->patch_size, g->skip_lam, g->ln_eps);
    if (g->aux_head && g->distilled)
        return seer_fail(
            SEER_STATUS_FORMAT,
            "the token-labeling head (aux_head) takes one class token (no distillation "
            "token)");
    if (g->attn == VIT_ATTN_AGENT && g->distilled)
        return seer_fail(SEER_STATUS_FORMAT,
                         "agent attention takes one class token (no distillation token)");
    if (g->attn == VIT_ATTN_AGENT && g->agent_layer > 12 && g->depth > 12)
        return seer_fail(SEER_STATUS_FORMAT, "agent attention: the stage table covers 12 blocks");
    return SEER_STATUS_OK;
}

// ---- loading ---------------------------------------------------------------------------------

static void vit_free(void *impl) {
    vit *net = impl;
    if (net) free(net->blocks);
    free(net);
}

static seer_tensor *load_vec(seer_loader *l, seer_model *m, const char *name, int64_t n) {
    return seer_load_tensor(l, m, name, 1, (int64_t[]){n});
}

static seer_tensor *load_mat(seer_loader *l, seer_model *m, const char *name, int64_t r,
                             int64_t c) {
    return seer_load_tensor(l, m, name, 2, (int64_t[]){r, c});
}

#define TRY_LOAD(dst, expr)                                                                        \
    do {                                                                                           \
        if (!((dst) = (expr))) return SEER_STATUS_FORMAT;                                          \
    } while (0)

static seer_status load_block(seer_loader *l, seer_model *m, vit *net, int i) {
    const vit_config *g = &net->cfg;
    vit_block *b = &net->blocks[i];
    const int64_t C = g->embed_dim, hidden = (int64_t)(g->embed_dim * g->mlp_ratio);
    char p[64];
    snprintf(p, sizeof p, "blocks.%d", i);
    TRY_LOAD(b->norm1_w, load_vec(l, m, seer_loader_name(l, "%s.norm1.weight", p), C));
    TRY_LOAD(b->norm1_b, load_vec(l, m, seer_loader_name(l, "%s.norm1.bias", p), C));
    TRY_LOAD(b->qkv_w, load_mat(l, m, seer_loader_name(l, "%s.attn.qkv.weight", p), 3 * C, C));
    if (g->qkv_bias)
        TRY_LOAD(b->qkv_b, load_vec(l, m, seer_loader_name(l, "%s.attn.qkv.bias", p), 3 * C));
    TRY_LOAD(b->proj_w, load_mat(l, m, seer_loader_name(l, "%s.attn.proj.weight", p), C, C));
    TRY_LOAD(b->proj_b, load_vec(l, m, seer_loader_name(l, "%s.attn.proj.bias", p), C));
    TRY_LOAD(b->norm2_w, load_vec(l, m, seer_loader_name(l, "%s.norm2.weight", p), C));
    TRY_LOAD(b->norm2_b, load_vec(l, m, seer_loader_name(l, "%s.norm2.bias", p), C));
    TRY_LOAD(b->fc1_w, load_mat(l, m, seer_loader_name(l, "%s.mlp.fc1.weight", p), hidden, C));
    TRY_LOAD(b->fc1_b, load_vec(l, m, seer_loader_name(l, "%s.mlp.fc1.bias", p), hidden));
    TRY_LOAD(b->fc2_w, load_mat(l, m, seer_loader_name(l, "%s.mlp.fc2.weight", p), C, hidden));
    TRY_LOAD(b->fc2_b, load_vec(l, m, seer_loader_name(l, "%s.mlp.fc2.bias", p), C));
    b->attn = g->attn;
    if (g->attn == VIT_ATTN_SPARSIFINER) return vit_sparsifiner_load(l, m, net, b, p);
    if (g->attn == VIT_ATTN_AGENT) {
        static const int stage_of[6] = {0, 1, 2, 2, 2, 3}; // agent_deit.py's stage_num
        if (i >= g->agent_layer) {
            b->attn = VIT_ATTN_DENSE;
            return SEER_STATUS_OK;
        }
        return vit_agent_load(l, m, net, b, p, g->agent_num[stage_of[i / 2]]);
    }
    return SEER_STATUS_OK;
}

static seer_status vit_load(seer_model *m, seer_loader *l) {
    vit *net = calloc(1, sizeof *net);
    if (!net) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    m->impl = net;
    net->cfg = *(const vit_config *)m->arch->config;
    net->cfg.num_classes = 0; // 0: seer.config does not name it
    const char *over = seer_st_metadata(seer_loader_file(l), "seer.config");
    if (over) SEER_TRY(vit_config_parse(over, &net->cfg));
    // The head's size: metadata seer.num_classes, or seer.config's num_classes (older files,
    // the golden fixtures); callers size logits by m->num_classes.
    SEER_TRY(seer_model_config_classes(m, l, net->cfg.num_classes));
    net->cfg.num_classes = m->num_classes;
    const vit_config *g = &net->cfg;
    SEER_TRY(vit_config_check(g));
    net->ln_eps = g->ln_eps > 0 ? (float)g->ln_eps : LN_EPS;
    net->skip_scale = g->skip_lam > 0 ? (float)(1.0 / g->skip_lam) : 1.0f;
    const int64_t C = g->embed_dim, P = g->patch_size, K = g->num_classes;
    net->grid = g->img_size / g->patch_size;
    net->n_prefix = g->distilled ? 2 : 1;
    net->n_tokens = net->n_prefix + net->grid * net->grid;
    net->blocks = calloc((size_t)g->depth, sizeof *net->blocks);
    if (!net->blocks) return seer_fail(SEER_STATUS_OOM, "out of host memory");

    if (g->stem_dim) {
        // patch_embed.conv{1,2,3} + bn{1,2,3}: 7x7 / 2 from RGB, then 3x3, stem_dim wide
        const int64_t S = g->stem_dim;
        for (int i = 0; i < 3; i++)
            SEER_TRY(seer_load_conv_bn(
                l, m, seer_loader_name(l, "patch_embed.conv%d.weight", i + 1),
                seer_loader_name(l, "patch_embed.bn%d", i + 1), S, i ? S : 3, i ? 3 : 7, i ? 3 : 7,
                STEM_BN_EPS, &net->stem_w[i], &net->stem_b[i]));
        TRY_LOAD(net->patch_w, seer_load_conv(l, m, "patch_embed.proj.weight", C, S, P / 2, P / 2));
    } else {
        TRY_LOAD(net->patch_w, seer_load_conv(l, m, "patch_embed.proj.weight", C, 3, P, P));
    }
    TRY_LOAD(net->patch_b, load_vec(l, m, "patch_embed.proj.bias", C));
    TRY_LOAD(net->cls_token, seer_load_tensor(l, m, "cls_token", 3, (int64_t[]){1, 1, C}));
    if (g->distilled)
        TRY_LOAD(net->dist_token, seer_load_tensor(l, m, "dist_token", 3, (int64_t[]){1, 1, C}));
    TRY_LOAD(net->pos_embed,
             seer_load_tensor(l, m, "pos_embed", 3, (int64_t[]){1, net->n_tokens, C}));
    for (int i = 0; i < g->depth; i++)
        SEER_TRY(load_block(l, m, net, i));
    TRY_LOAD(net->norm_w, load_vec(l, m, "norm.weight", C));
    TRY_LOAD(net->norm_b, load_vec(l, m, "norm.bias", C));
    TRY_LOAD(net->head_w, load_mat(l, m, "head.weight", K, C));
    TRY_LOAD(net->head_b, load_vec(l, m, "head.bias", K));
    if (g->distilled) {
        TRY_LOAD(net->head_dist_w, load_mat(l, m, "head_dist.weight", K, C));
        TRY_LOAD(net->head_dist_b, load_vec(l, m, "head_dist.bias", K));
    }
    if (g->aux_head) {
        TRY_LOAD(net->aux_head_w, load_mat(l, m, "aux_head.weight", K, C));
        TRY_LOAD(net->aux_head_b, load_vec(l, m, "aux_head.bias", K));
    }
    return SEER_STATUS_OK;
}

// ---- forward ---------------------------------------------------------------------------------

seer_status vit_qkv_heads(seer_ctx *c, const vit *net, const seer_tensor *qkv, seer_tensor **q,
                          seer_tensor **k, seer_tensor **v) {
    *q = *k = *v = NULL;
    if (!qkv) return seer_ctx_status(c);
    const int64_t B = qkv->shape[0], L = qkv->shape[1], H = net->cfg.num_heads;
    const int64_t D = net->cfg.embed_dim / H;
    // [B, L, 3, H, D] -> [3, B, H, L, D]
    seer_tensor *t = seer_reshape(c, qkv, 5, (int64_t[]){B, L, 3, H, D});
    t = seer_permute_copy(c, t, (int[]){2, 0, 3, 1, 4});
    seer_tensor **out[3] = {q, k, v};
    for (int i = 0; i < 3; i++)
        *out[i] = seer_reshape(c, seer_narrow(c, t, 0, i, 1), 4, (int64_t[]){B, H, L, D});
    return seer_ctx_status(c);
}

seer_tensor *vit_merge_heads(seer_ctx *c, const seer_tensor *x) {
    if (!x) return NULL;
    const int64_t B = x->shape[0], H = x->shape[1], L = x->shape[2], D = x->shape[3];
    seer_tensor *t = seer_permute_copy(c, x, (int[]){0, 2, 1, 3}); // [B, L, H, D]
    return seer_reshape(c, t, 3, (int64_t[]){B, L, H * D});
}

// Multi-head softmax attention (timm Attention): x [B, L, C] -> [B, L, C], plus residual when
// not NULL (in the output Linear: seer_linear_add).
static seer_tensor *dense_attention(seer_ctx *c, const vit *net, const vit_block *b,
                                    const seer_tensor *x, const seer_tensor *residual,
                                    seer_tensor **probs_out) {
    const float scale = (float)pow(net->cfg.embed_dim / net->cfg.num_heads, -0.5);
    seer_tensor *q, *k, *v;
    seer_tensor *qkv = seer_linear(c, x, b->qkv_w, b->qkv_b); // [B, L, 3C]
    if (vit_qkv_heads(c, net, qkv, &q, &k, &v) != SEER_STATUS_OK) return NULL;
    if (probs_out) *probs_out = vit_head_mean_probs(c, q, k, NULL, scale);
    seer_tensor *o = vit_merge_heads(c, seer_attention(c, q, k, v, NULL, scale)); // [B, L, C]
    return residual ? seer_linear_add(c, o, b->proj_w, b->proj_b, residual)
                    : seer_linear(c, o, b->proj_w, b->proj_b);
}

// A residual branch's output divided by skip_lam (LV-ViT); as is when skip_lam is 1.
static seer_tensor *residual_branch(seer_ctx *c, const vit *net, seer_tensor *y) {
    return net->skip_scale == 1.0f ? y : seer_scale(c, y, net->skip_scale, 0.0f);
}

static seer_tensor *block_forward(seer_ctx *c, const vit *net, const vit_block *b, seer_tensor *x,
                                  seer_tensor **mask_out, seer_tensor **probs_out) {
    // x: [B, L, C]
    const float eps = net->ln_eps;
    seer_tensor *h = seer_layer_norm(c, x, b->norm1_w, b->norm1_b, eps);
    if (b->attn == VIT_ATTN_DENSE && net->skip_scale == 1.0f) {
        x = dense_attention(c, net, b, h, x, probs_out); // x + attn(norm1(x))
    } else {
        seer_tensor *a = b->attn == VIT_ATTN_SPARSIFINER
                             ? vit_sparsifiner_attention(c, net, b, h, mask_out, probs_out)
                         : b->attn == VIT_ATTN_AGENT
                             ? vit_agent_block_attention(c, net, b, h, probs_out)
                             : dense_attention(c, net, b, h, NULL, probs_out);
        x = seer_add(c, x, residual_branch(c, net, a));
    }
    h = seer_layer_norm(c, x, b->norm2_w, b->norm2_b, eps);
    h = seer_gelu(c, seer_linear(c, h, b->fc1_w, b->fc1_b)); // [B, L, hidden]
    if (net->skip_scale == 1.0f) return seer_linear_add(c, h, b->fc2_w, b->fc2_b, x);
    return seer_add(c, x, residual_branch(c, net, seer_linear(c, h, b->fc2_w, b->fc2_b)));
}

// A [1, 1, C] token seen as [B, 1, C] (stride 0 over the batch).
static seer_tensor *expand_token(seer_ctx *c, const seer_tensor *tok, int64_t B) {
    seer_tensor t = *tok;
    t.shape[0] = B;
    t.stride[0] = 0;
    return seer_ctx_view(c, &t);
}

// Token at position i of x [B, L, C] through a Linear: [B, K].
static seer_tensor *token_linear(seer_ctx *c, const seer_tensor *x, int i, const seer_tensor *w,
                                 const seer_tensor *bias) {
    seer_tensor *y = seer_linear(c, seer_narrow(c, x, 1, i, 1), w, bias); // [B, 1, K]
    return y ? seer_reshape(c, y, 2, (int64_t[]){y->shape[0], y->shape[2]}) : NULL;
}

// x [B, S, S, 3] -> [B, S/p, S/p, C]: the p x p patch conv, or LV-ViT's stem then (p/2)-patches.
static seer_tensor *patch_embed(seer_ctx *c, const vit *net, const seer_tensor *x) {
    int p = net->cfg.patch_size;
    if (net->cfg.stem_dim) {
        const seer_conv2d_params c7 = {.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3},
                                 c3 = {.pad_h = 1, .pad_w = 1};
        x = seer_conv2d_fused(c, x, net->stem_w[0], net->stem_b[0], &c7, NULL,
                              true); // [B, S/2, S/2, w]
        x = seer_conv2d_fused(c, x, net->stem_w[1], net->stem_b[1], &c3, NULL, true);
        x = seer_conv2d_fused(c, x, net->stem_w[2], net->stem_b[2], &c3, NULL, true);
        p /= 2;
    }
    const seer_conv2d_params pe = {.stride_h = p, .stride_w = p};
    return seer_conv2d(c, x, net->patch_w, net->patch_b, &pe);
}

seer_tensor *vit_trunk(seer_model *m, seer_ctx *c, const seer_tensor *x, const vit_record *rec) {
    const vit *net = m->impl;
    const vit_config *g = &net->cfg;
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[1] != g->img_size || x->shape[2] != g->img_size ||
        x->shape[3] != 3) {
        char buf[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "%s takes [B, %d, %d, 3] images (its position "
                      "embedding is fixed), got %s",
                      m->arch->name, g->img_size, g->img_size,
                      seer_tensor_shape_str(x, buf, sizeof buf));
        return NULL;
    }
    const int64_t B = x->shape[0], C = g->embed_dim, N = (int64_t)net->grid * net->grid;
    seer_tensor *t = patch_embed(c, net, x);         // [B, g, g, C]
    t = seer_reshape(c, t, 3, (int64_t[]){B, N, C}); // [B, N, C]
    const seer_tensor *parts[3] = {expand_token(c, net->cls_token, B), NULL, NULL};
    int np = 1;
    if (g->distilled) parts[np++] = expand_token(c, net->dist_token, B);
    parts[np++] = t;
    t = seer_add(c, seer_concat(c, parts, np, 1), net->pos_embed); // [B, L, C]
    for (int i = 0; i < g->depth; i++) {
        const seer_arena_mark mark = seer_ctx_mark(c);
        t = block_forward(c, net, &net->blocks[i], t,
                          rec && rec->masks && i < rec->n_masks ? &rec->masks[i] : NULL,
                          rec && rec->probs ? &rec->probs[i] : NULL);
        if (!rec) t = seer_ctx_keep(c, mark, t); // intermediates freed (kept when recording)
    }
    return seer_layer_norm(c, t, net->norm_w, net->norm_b, net->ln_eps);
}

static seer_tensor *vit_head(seer_ctx *c, const vit *net, const seer_tensor *t) {
    seer_tensor *y = token_linear(c, t, 0, net->head_w, net->head_b); // [B, K]
    if (net->cfg.aux_head && t) {
        // token labeling, as evaluated: + 0.5 * the max over the patch tokens of aux_head
        const int64_t L = t->shape[1];
        seer_tensor *aux = seer_linear(c, seer_narrow(c, t, 1, 1, L - 1), net->aux_head_w,
                                       net->aux_head_b); // [B, N, K]
        return seer_add(c, y, seer_scale(c, seer_reduce(c, aux, 1, SEER_REDUCE_MAX), 0.5f, 0.0f));
    }
    if (!net->cfg.distilled) return y;
    // eval: mean of the class and distillation heads
    seer_tensor *yd = token_linear(c, t, 1, net->head_dist_w, net->head_dist_b);
    return seer_scale(c, seer_add(c, y, yd), 0.5f, 0.0f);
}

static seer_tensor *vit_forward(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    return vit_head(c, m->impl, vit_trunk(m, c, x, NULL));
}

// Pre-logits: the class token (distilled: mean of class and distillation tokens). [B, C]
static seer_tensor *vit_features(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const vit *net = m->impl;
    seer_tensor *t = vit_trunk(m, c, x, NULL);
    if (!t) return NULL;
    const int64_t B = t->shape[0], C = t->shape[2];
    seer_tensor *f = seer_contiguous(c, seer_narrow(c, t, 1, 0, 1));
    if (net->cfg.distilled)
        f = seer_scale(c, seer_add(c, f, seer_narrow(c, t, 1, 1, 1)), 0.5f, 0.0f);
    return seer_reshape(c, f, 2, (int64_t[]){B, C});
}

seer_tensor *seer_sparsifiner_forward_masks(seer_model *m, seer_ctx *c, const seer_tensor *x,
                                            seer_tensor **masks, int n_masks) {
    if (strcmp(m->arch->family, "vit") != 0 ||
        ((const vit *)m->impl)->cfg.attn != VIT_ATTN_SPARSIFINER) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "%s is not a Sparsifiner model", m->arch->name);
        return NULL;
    }
    for (int i = 0; i < n_masks; i++)
        masks[i] = NULL;
    const vit_record rec = {.masks = masks, .n_masks = n_masks};
    return vit_head(c, m->impl, vit_trunk(m, c, x, &rec));
}

// ---- presets ---------------------------------------------------------------------------------

#define DEIT(e, d, h, dist)                                                                        \
    {                                                                                              \
        .attn = VIT_ATTN_DENSE, .img_size = 224, .patch_size = 16, .embed_dim = e, .depth = d,     \
        .num_heads = h, .num_classes = 1000, .mlp_ratio = 4.0, .distilled = dist, .qkv_bias = true \
    }
#define AGENT(img, e, h, a, layers)                                                                \
    {                                                                                              \
        .attn = VIT_ATTN_AGENT, .img_size = img, .patch_size = 16, .embed_dim = e, .depth = 12,    \
        .num_heads = h, .num_classes = 1000, .mlp_ratio = 4.0, .agent_num = {a, a, a, a},          \
        .agent_layer = layers, .qkv_bias = true                                                    \
    }

static const vit_config deit_tiny = DEIT(192, 12, 3, false), deit_small = DEIT(384, 12, 6, false),
                        deit_base = DEIT(768, 12, 12, false), deit_tiny_d = DEIT(192, 12, 3, true),
                        deit_small_d = DEIT(384, 12, 6, true),
                        deit_base_d = DEIT(768, 12, 12, true);
// src/main.py builds both Sparsifiner models with sparsifiner_default_config.yaml's predictor:
// keep rate 0.25 in every block (50 of 197 keys), REDUCE_N_FACTOR 6 (197 // 6 = 32 reduced
// tokens), REDUCE_C_FACTOR 2, BASIS_THRESHOLD 2e-2, top-8 basis coefficients, top-k
// connectivity, no token pruning.
#define SPARSIFINER_DEFAULT                                                                        \
    .attn = VIT_ATTN_SPARSIFINER, .sparse_gather = true, .img_size = 224, .patch_size = 16,        \
    .num_classes = 1000, .attn_keep_rate = 0.25, .reduce_n_factor = 6, .reduce_c_factor = 2,       \
    .basis_threshold = 2e-2, .coef_topk = 8
// `sparsifiner`: on DeiT-S.
static const vit_config sparsifiner_cfg = {SPARSIFINER_DEFAULT, .embed_dim = 384, .depth = 12,
                                           .num_heads = 6,      .mlp_ratio = 4.0, .qkv_bias = true};
// `sparsifiner_lvvit`: on LV-ViT-S (TokenLabeling's lvvit_s: embed 384, 16 blocks of 6 heads, MLP
// ratio 3, p_emb '4_2' = a 64-wide stem, skip_lam 2, qkv_bias False, return_dense = the aux
// head; nn.LayerNorm's eps 1e-5).
static const vit_config sparsifiner_lvvit_cfg = {
    SPARSIFINER_DEFAULT, .embed_dim = 384, .depth = 16,    .num_heads = 6,    .mlp_ratio = 3.0,
    .stem_dim = 64,      .skip_lam = 2.0,  .ln_eps = 1e-5, .qkv_bias = false, .aux_head = true};
// cfgs/agent_deit_{t,s,b}.yaml and agent_deit_s_448.yaml through models/build.py.
static const vit_config agent_tiny = AGENT(224, 192, 3, 49, 12),
                        agent_small = AGENT(224, 384, 6, 49, 12),
                        agent_base = AGENT(224, 768, 12, 81, 4),
                        agent_small_448 = AGENT(448, 384, 6, 49, 12);

#define VIT_ARCH(n, cfg, size, pre)                                                                \
    {                                                                                              \
        .name = n, .family = "vit", .num_classes = 1000, .img_size = size, .preprocess = pre,      \
        .labels = "imagenet", .config = &cfg, .load = vit_load, .forward = vit_forward,            \
        .features = vit_features, .attention_info = vit_attention_info,                            \
        .attention = vit_attention, .free_impl = vit_free                                          \
    }

// DeiT is evaluated as the official DeiT repository does (Resize(int(224 / 0.875)) + crop 224);
// timm's pretrained cfg says crop_pct 0.9 (override with --preprocess "deit,crop_pct=0.9").
const seer_arch seer_vit_archs[] = {
    VIT_ARCH("deit_tiny_patch16_224", deit_tiny, 224, "deit"),
    VIT_ARCH("deit_small_patch16_224", deit_small, 224, "deit"),
    VIT_ARCH("deit_base_patch16_224", deit_base, 224, "deit"),
    VIT_ARCH("deit_tiny_distilled_patch16_224", deit_tiny_d, 224, "deit"),
    VIT_ARCH("deit_small_distilled_patch16_224", deit_small_d, 224, "deit"),
    VIT_ARCH("deit_base_distilled_patch16_224", deit_base_d, 224, "deit"),
    VIT_ARCH("sparsifiner", sparsifiner_cfg, 224, "deit"),
    // evaluated by the same src/main.py transform (not LV-ViT's own crop_pct 0.9)
    VIT_ARCH("sparsifiner_lvvit", sparsifiner_lvvit_cfg, 224, "deit"),
    VIT_ARCH("agent_deit_tiny", agent_tiny, 224, "agent"),
    VIT_ARCH("agent_deit_small", agent_small, 224, "agent"),
    VIT_ARCH("agent_deit_base", agent_base, 224, "agent"),
    // data/build.py at 448: Resize((int(256 / 224 * 448),) * 2) = 512 squashed, crop 448.
    VIT_ARCH("agent_deit_small_448", agent_small_448, 448, "agent,squash=512,size=448"),
};
const int seer_vit_arch_count = sizeof seer_vit_archs / sizeof *seer_vit_archs;
