// VAN, the Visual Attention Network (Guo et al., "Visual Attention Network", 2022), as the
// official VAN-Classification models/van.py defines it. Four stages; each starts with an
// overlapping patch embedding (conv 7x7 stride 4, then 3x3 stride 2, + BatchNorm) and stacks
//   x = x + ls1 * Attn(BN1(x)),  Attn(n) = proj_2(LKA(GELU(proj_1(n)))) + n
//   LKA(u) = u * conv1(conv_spatial(conv0(u)))   (depthwise 5x5, depthwise 7x7 dilation 3, 1x1)
//   x = x + ls2 * fc2(GELU(dwconv3x3(fc1(BN2(x)))))
// then a LayerNorm (eps 1e-6) over channels; the head is a linear layer on the mean token.
//
// Weight names are the official state_dict keys (patch_embed1.proj, block1.0.attn.proj_1,
// block1.0.attn.spatial_gating_unit.conv0, block1.0.mlp.dwconv.dwconv, norm1, head, ...).
// Load-time folding, exact in real arithmetic (computed in double, rounded once):
// - patch_embed BN into its conv (the conv has a bias);
// - norm1 into proj_1 and norm2 into fc1 (BN is a per-channel affine s * x + t, and both are
//   1x1 convs: W' = W diag(s), b' = b + W t);
// - ls1 into proj_2 and ls2 into fc2 (their output rows and biases scaled);
// - the inner shortcut: x + ls1 * BN1(x) = x * (1 + ls1 s) + ls1 t is one per-channel affine.
//   It runs as an inference batch_norm with mean 0 and var 1 (eps 0) so that the scale stays
//   F32 in BF16/F16 mode (1 + ls1 s rounded to BF16 would lose the ls1 s part).
//
// The config (dims, depths, MLP ratios) is the preset's; a file's metadata seer.embed_dims,
// seer.depths, seer.mlp_ratios ("a,b,c,d") override it (the golden fixtures use tiny ones), and
// seer.stem_kernel / seer.stem_stride change the first patch embedding (7x7 stride 4 in every
// official preset; the CIFAR-10 model of tools/torch_ref/van.py uses 7x7 stride 2: a 16x16
// first stage on 32x32 images).
#include "backbones/van.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_STAGES 4
#define BN_EPS 1e-5f // nn.BatchNorm2d default
#define LN_EPS 1e-6f // norm_layer=partial(nn.LayerNorm, eps=1e-6) in every official preset

typedef struct van_config {
    int dims[N_STAGES];
    int depths[N_STAGES];
    double mlp_ratios[N_STAGES];
    int stem_kernel, stem_stride; // first patch embedding; padding stem_kernel / 2
} van_config;

typedef struct van_block {
    seer_tensor *proj_1_w, *proj_1_b;   // [C, C], norm1 folded in
    seer_tensor *conv0_w, *conv0_b;     // depthwise [C, 5, 5, 1]
    seer_tensor *spatial_w, *spatial_b; // depthwise [C, 7, 7, 1], dilation 3
    seer_tensor *conv1_w, *conv1_b;     // [C, C]
    seer_tensor *proj_2_w, *proj_2_b;   // [C, C], scaled by ls1
    seer_tensor *res_scale, *res_bias;  // [C]: x + ls1 * norm1(x) = x * res_scale + res_bias
    seer_tensor *fc1_w, *fc1_b;         // [hidden, C], norm2 folded in
    seer_tensor *dw_w, *dw_b;           // depthwise [hidden, 3, 3, 1]
    seer_tensor *fc2_w, *fc2_b;         // [C, hidden], scaled by ls2
} van_block;

typedef struct van_stage {
    int dim, hidden, depth, kernel, stride;
    seer_tensor *embed_w, *embed_b; // OHWI, BN folded in
    van_block *blocks;
    seer_tensor *norm_w, *norm_b; // LayerNorm
    seer_tensor *zeros, *ones;    // [C]: mean and var of the residual affine
} van_stage;

typedef struct van {
    van_config cfg;
    van_stage stages[N_STAGES];
    seer_tensor *head_w, *head_b;
} van;

// ---- loading -------------------------------------------------------------------------------

static seer_status oom(void) {
    return seer_fail(SEER_STATUS_OOM, "out of host memory");
}

// A read that failed already left its message (missing or mis-shaped tensor, by name).
#define LOAD_OR_FAIL(ptr)                                                                          \
    do {                                                                                           \
        if (!(ptr)) {                                                                              \
            st = SEER_STATUS_FORMAT;                                                               \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

// Metadata "a,b,c,d" -> 4 positive numbers; absent: leave the preset's.
static seer_status parse_list(seer_loader *l, const char *key, double out[N_STAGES]) {
    const char *v = seer_st_metadata(seer_loader_file(l), key);
    if (!v) return SEER_STATUS_OK;
    const char *p = v;
    for (int i = 0; i < N_STAGES; i++) {
        char *end;
        double d = strtod(p, &end);
        if (end == p || !(d > 0 && d <= 65536) || (i < N_STAGES - 1 ? *end != ',' : *end != 0))
            return seer_fail(SEER_STATUS_FORMAT,
                             "metadata %s must be %d positive numbers 'a,b,c,d' (found '%s')", key,
                             N_STAGES, v);
        out[i] = d;
        p = end + 1;
    }
    return SEER_STATUS_OK;
}

static seer_status config_of(seer_loader *l, const van_config *preset, van_config *cfg) {
    *cfg = *preset;
    double dims[N_STAGES], depths[N_STAGES];
    for (int i = 0; i < N_STAGES; i++)
        dims[i] = cfg->dims[i], depths[i] = cfg->depths[i];
    SEER_TRY(parse_list(l, "seer.embed_dims", dims));
    SEER_TRY(parse_list(l, "seer.depths", depths));
    SEER_TRY(parse_list(l, "seer.mlp_ratios", cfg->mlp_ratios));
    const seer_st_file *f = seer_loader_file(l);
    SEER_TRY(seer_st_metadata_int(f, "seer.stem_kernel", 1, 31, &cfg->stem_kernel));
    SEER_TRY(seer_st_metadata_int(f, "seer.stem_stride", 1, 31, &cfg->stem_stride));
    for (int i = 0; i < N_STAGES; i++) {
        if (dims[i] != floor(dims[i]) || depths[i] != floor(depths[i]))
            return seer_fail(SEER_STATUS_FORMAT, "metadata seer.embed_dims and seer.depths "
                                                 "must be integers");
        cfg->dims[i] = (int)dims[i];
        cfg->depths[i] = (int)depths[i];
    }
    return SEER_STATUS_OK;
}

// BatchNorm2d `bn` as the per-channel affine s * x + t (double, c entries each).
static seer_status load_bn_affine(seer_loader *l, const char *bn, int64_t c, double *s, double *t) {
    static const char *parts[4] = {"weight", "bias", "running_mean", "running_var"};
    float *p[4] = {0};
    seer_status st = SEER_STATUS_OK;
    for (int i = 0; i < 4; i++)
        LOAD_OR_FAIL(p[i] = seer_load_host(l, seer_loader_name(l, "%s.%s", bn, parts[i]), 1,
                                           (int64_t[]){c}));
    for (int64_t j = 0; j < c; j++) {
        s[j] = (double)p[0][j] / sqrt((double)p[3][j] + (double)BN_EPS);
        t[j] = (double)p[1][j] - (double)p[2][j] * s[j];
    }
done:
    for (int i = 0; i < 4; i++)
        free(p[i]);
    return st;
}

// 1x1 conv `name` (weight [c_out, c_in, 1, 1], bias [c_out]) as a linear layer [c_out, c_in],
// with an input affine (in_s * x + in_t) folded in and the output scaled by out_s (each may
// be NULL): W' = out_s W diag(in_s), b' = out_s (b + W in_t).
static seer_status load_pointwise(seer_loader *l, seer_model *m, const char *name, int64_t c_out,
                                  int64_t c_in, const double *in_s, const double *in_t,
                                  const float *out_s, seer_tensor **w, seer_tensor **b) {
    char wname[128], bname[128];
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    seer_status st = SEER_STATUS_OK;
    float *wh = NULL, *bh = NULL;
    LOAD_OR_FAIL(wh = seer_load_host(l, wname, 4, (int64_t[]){c_out, c_in, 1, 1}));
    LOAD_OR_FAIL(bh = seer_load_host(l, bname, 1, (int64_t[]){c_out}));
    for (int64_t o = 0; o < c_out; o++) {
        float *row = wh + o * c_in;
        double acc = bh[o], os = out_s ? out_s[o] : 1.0;
        for (int64_t i = 0; i < c_in; i++) {
            if (in_t) acc += (double)row[i] * in_t[i];
            row[i] = (float)(os * row[i] * (in_s ? in_s[i] : 1.0));
        }
        bh[o] = (float)(os * acc);
    }
    *w = seer_weights_add(m->weights, wname, m->dtype, 2, (int64_t[]){c_out, c_in}, wh);
    *b = *w ? seer_weights_add(m->weights, bname, SEER_F32, 1, (int64_t[]){c_out}, bh) : NULL;
    if (!*b) st = SEER_STATUS_OOM;
done:
    free(wh);
    free(bh);
    return st;
}

// Depthwise conv `name` (weight [c, 1, k, k], bias [c]).
static seer_status load_depthwise(seer_loader *l, seer_model *m, const char *name, int64_t c, int k,
                                  seer_tensor **w, seer_tensor **b) {
    char wname[128], bname[128];
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    *w = seer_load_conv(l, m, wname, c, 1, k, k);
    *b = *w ? seer_load_tensor(l, m, bname, 1, (int64_t[]){c}) : NULL;
    return *b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}

// patch_embed{i}: conv (with bias) + BatchNorm2d, folded into one conv.
static seer_status load_patch_embed(seer_loader *l, seer_model *m, int i, van_stage *s,
                                    int64_t c_in) {
    static const char *parts[4] = {"weight", "bias", "running_mean", "running_var"};
    int64_t c = s->dim, k = s->kernel, per_out = k * k * c_in;
    char wname[64], bname[64];
    snprintf(wname, sizeof wname, "patch_embed%d.proj.weight", i + 1);
    snprintf(bname, sizeof bname, "patch_embed%d.proj.bias", i + 1);
    seer_status st = SEER_STATUS_OK;
    float *oihw = NULL, *ohwi = NULL, *bias = NULL, *bn[4] = {0};
    LOAD_OR_FAIL(oihw = seer_load_host(l, wname, 4, (int64_t[]){c, c_in, k, k}));
    LOAD_OR_FAIL(bias = seer_load_host(l, bname, 1, (int64_t[]){c}));
    for (int j = 0; j < 4; j++)
        LOAD_OR_FAIL(
            bn[j] = seer_load_host(l, seer_loader_name(l, "patch_embed%d.norm.%s", i + 1, parts[j]),
                                   1, (int64_t[]){c}));
    if (!(ohwi = malloc(sizeof(float) * (size_t)(c * per_out)))) {
        st = oom();
        goto done;
    }
    seer_conv_weight_from_oihw(ohwi, oihw, c, c_in, k, k);
    seer_bn_fold(ohwi, c, per_out, bias, bn[2], bn[3], bn[0], bn[1], BN_EPS, bias);
    s->embed_w = seer_weights_add(m->weights, wname, m->dtype, 4, (int64_t[]){c, k, k, c_in}, ohwi);
    s->embed_b =
        s->embed_w ? seer_weights_add(m->weights, bname, SEER_F32, 1, (int64_t[]){c}, bias) : NULL;
    if (!s->embed_b) st = SEER_STATUS_OOM;
done:
    free(oihw);
    free(ohwi);
    free(bias);
    for (int j = 0; j < 4; j++)
        free(bn[j]);
    return st;
}

static seer_tensor *upload_vec(seer_model *m, const char *name, int64_t c, const float *v) {
    return seer_weights_add(m->weights, name, SEER_F32, 1, (int64_t[]){c}, v);
}

static seer_status load_block(seer_loader *l, seer_model *m, const van_stage *s, const char *p,
                              van_block *b) {
    int64_t c = s->dim, h = s->hidden;
    char n[96];
    seer_status st = SEER_STATUS_OK;
    double *s1 = malloc(sizeof(double) * (size_t)c * 4), *t1 = s1 + c, *s2 = t1 + c, *t2 = s2 + c;
    float *ls1 = NULL, *ls2 = NULL, *res = malloc(sizeof(float) * (size_t)c * 2);
    if (!s1 || !res) {
        st = oom();
        goto done;
    }
    snprintf(n, sizeof n, "%s.layer_scale_1", p);
    LOAD_OR_FAIL(ls1 = seer_load_host(l, n, 1, (int64_t[]){c}));
    snprintf(n, sizeof n, "%s.layer_scale_2", p);
    LOAD_OR_FAIL(ls2 = seer_load_host(l, n, 1, (int64_t[]){c}));

    // attention branch
    snprintf(n, sizeof n, "%s.norm1", p);
    if ((st = load_bn_affine(l, n, c, s1, t1))) goto done;
    snprintf(n, sizeof n, "%s.attn.proj_1", p);
    if ((st = load_pointwise(l, m, n, c, c, s1, t1, NULL, &b->proj_1_w, &b->proj_1_b))) goto done;
    snprintf(n, sizeof n, "%s.attn.spatial_gating_unit.conv0", p);
    if ((st = load_depthwise(l, m, n, c, 5, &b->conv0_w, &b->conv0_b))) goto done;
    snprintf(n, sizeof n, "%s.attn.spatial_gating_unit.conv_spatial", p);
    if ((st = load_depthwise(l, m, n, c, 7, &b->spatial_w, &b->spatial_b))) goto done;
    snprintf(n, sizeof n, "%s.attn.spatial_gating_unit.conv1", p);
    if ((st = load_pointwise(l, m, n, c, c, NULL, NULL, NULL, &b->conv1_w, &b->conv1_b))) goto done;
    snprintf(n, sizeof n, "%s.attn.proj_2", p);
    if ((st = load_pointwise(l, m, n, c, c, NULL, NULL, ls1, &b->proj_2_w, &b->proj_2_b)))
        goto done;
    for (int64_t j = 0; j < c; j++) {
        res[j] = (float)(1.0 + (double)ls1[j] * s1[j]);
        res[c + j] = (float)((double)ls1[j] * t1[j]);
    }
    snprintf(n, sizeof n, "%s.residual_scale", p);
    LOAD_OR_FAIL(b->res_scale = upload_vec(m, n, c, res));
    snprintf(n, sizeof n, "%s.residual_bias", p);
    LOAD_OR_FAIL(b->res_bias = upload_vec(m, n, c, res + c));

    // MLP branch
    snprintf(n, sizeof n, "%s.norm2", p);
    if ((st = load_bn_affine(l, n, c, s2, t2))) goto done;
    snprintf(n, sizeof n, "%s.mlp.fc1", p);
    if ((st = load_pointwise(l, m, n, h, c, s2, t2, NULL, &b->fc1_w, &b->fc1_b))) goto done;
    snprintf(n, sizeof n, "%s.mlp.dwconv.dwconv", p);
    if ((st = load_depthwise(l, m, n, h, 3, &b->dw_w, &b->dw_b))) goto done;
    snprintf(n, sizeof n, "%s.mlp.fc2", p);
    if ((st = load_pointwise(l, m, n, c, h, NULL, NULL, ls2, &b->fc2_w, &b->fc2_b))) goto done;
done:
    free(s1);
    free(res);
    free(ls1);
    free(ls2);
    return st;
}

static void van_free(void *impl) {
    van *v = impl;
    if (v)
        for (int i = 0; i < N_STAGES; i++)
            free(v->stages[i].blocks);
    free(v);
}

static seer_status van_load(seer_model *m, seer_loader *l) {
    van *v = calloc(1, sizeof *v);
    if (!v) return oom();
    m->impl = v;
    SEER_TRY(config_of(l, m->arch->config, &v->cfg));
    int64_t c_in = 3;
    float *ones = NULL, *zeros = NULL;
    for (int i = 0; i < N_STAGES; i++) {
        van_stage *s = &v->stages[i];
        s->dim = v->cfg.dims[i];
        s->hidden = (int)(s->dim * v->cfg.mlp_ratios[i]); // int(dim * mlp_ratio), as Block does
        s->depth = v->cfg.depths[i];
        s->kernel = i == 0 ? v->cfg.stem_kernel : 3;
        s->stride = i == 0 ? v->cfg.stem_stride : 2;
        if (s->hidden < 1) return seer_fail(SEER_STATUS_FORMAT, "VAN stage %d: MLP width 0", i + 1);
        SEER_TRY(load_patch_embed(l, m, i, s, c_in));
        if (!(s->blocks = calloc((size_t)s->depth, sizeof *s->blocks))) return oom();
        for (int j = 0; j < s->depth; j++) {
            char p[32];
            snprintf(p, sizeof p, "block%d.%d", i + 1, j);
            SEER_TRY(load_block(l, m, s, p, &s->blocks[j]));
        }
        s->norm_w = seer_load_tensor(l, m, seer_loader_name(l, "norm%d.weight", i + 1), 1,
                                     (int64_t[]){s->dim});
        s->norm_b = s->norm_w ? seer_load_tensor(l, m, seer_loader_name(l, "norm%d.bias", i + 1), 1,
                                                 (int64_t[]){s->dim})
                              : NULL;
        if (!s->norm_b) return SEER_STATUS_FORMAT;
        ones = calloc((size_t)s->dim, sizeof *ones);
        zeros = calloc((size_t)s->dim, sizeof *zeros);
        if (ones && zeros) {
            for (int j = 0; j < s->dim; j++)
                ones[j] = 1.0f;
            s->zeros = upload_vec(m, seer_loader_name(l, "stage%d.zeros", i + 1), s->dim, zeros);
            s->ones = s->zeros
                          ? upload_vec(m, seer_loader_name(l, "stage%d.ones", i + 1), s->dim, ones)
                          : NULL;
        }
        free(ones);
        free(zeros);
        if (!s->ones) return SEER_STATUS_OOM;
        c_in = s->dim;
    }
    int64_t nc = m->num_classes;
    v->head_w = seer_load_tensor(l, m, "head.weight", 2, (int64_t[]){nc, c_in});
    v->head_b = v->head_w ? seer_load_tensor(l, m, "head.bias", 1, (int64_t[]){nc}) : NULL;
    return v->head_b ? SEER_STATUS_OK : SEER_STATUS_FORMAT;
}

// ---- forward -------------------------------------------------------------------------------

// Depthwise kernels keep the size ("same" padding); groups is set from the input.
static const seer_conv2d_params dw5 = {.pad_h = 2, .pad_w = 2};
static const seer_conv2d_params dw7_dil3 = {.pad_h = 9, .pad_w = 9, .dil_h = 3, .dil_w = 3};
static const seer_conv2d_params dw3 = {.pad_h = 1, .pad_w = 1};

// Depthwise conv: groups = channels.
static seer_tensor *depthwise(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                              const seer_tensor *b, seer_conv2d_params p) {
    if (!x) return NULL;
    p.groups = (int)x->shape[3];
    return seer_conv2d(c, x, w, b, &p);
}

// x: [B, H, W, C] -> [B, H, W, C]. lka_out (may be NULL): the LKA attention map [B, H, W, C].
static seer_tensor *block_fwd(seer_ctx *c, seer_tensor *x, const van_block *b, const van_stage *s,
                              seer_tensor **lka_out) {
    // attention: x + ls1 * (proj_2(LKA(GELU(proj_1(norm1(x))))) + norm1(x))
    seer_tensor *u = seer_gelu(c, seer_linear(c, x, b->proj_1_w, b->proj_1_b)); // norm1 folded
    seer_tensor *attn = depthwise(c, u, b->conv0_w, b->conv0_b, dw5);           // 5x5
    attn = depthwise(c, attn, b->spatial_w, b->spatial_b, dw7_dil3);            // 7x7, dilation 3
    attn = seer_linear(c, attn, b->conv1_w, b->conv1_b);                        // 1x1
    if (lka_out) *lka_out = attn;
    seer_tensor *r = seer_batch_norm(c, x, s->zeros, s->ones, b->res_scale, b->res_bias, 0.0f);
    x = seer_linear_add(c, seer_mul(c, u, attn), b->proj_2_w, b->proj_2_b, r); // + ls1 * proj_2

    // MLP: x + ls2 * fc2(GELU(dwconv(fc1(norm2(x)))))
    seer_tensor *h = seer_linear(c, x, b->fc1_w, b->fc1_b); // [B, H, W, hidden], norm2 folded
    h = seer_gelu(c, depthwise(c, h, b->dw_w, b->dw_b, dw3));
    return seer_linear_add(c, h, b->fc2_w, b->fc2_b, x); // x + ls2 * fc2
}

// x: [B, H, W, C_in] -> [B, ceil(H / stride), ceil(W / stride), C]; lka_out (may be NULL): the
// last block's LKA attention map.
static seer_tensor *stage_fwd(seer_ctx *c, const seer_tensor *in, const van_stage *s,
                              seer_tensor **lka_out) {
    int pad = s->kernel / 2;
    seer_conv2d_params p = {
        .stride_h = s->stride, .stride_w = s->stride, .pad_h = pad, .pad_w = pad};
    seer_tensor *x = seer_conv2d(c, in, s->embed_w, s->embed_b, &p); // patch embedding, BN folded
    for (int j = 0; j < s->depth; j++) {
        const seer_arena_mark mark = seer_ctx_mark(c);
        seer_tensor **rec = j == s->depth - 1 ? lka_out : NULL;
        x = block_fwd(c, x, &s->blocks[j], s, rec);
        if (!rec) x = seer_ctx_keep(c, mark, x); // the block's intermediates freed
    }
    return seer_layer_norm(c, x, s->norm_w, s->norm_b, LN_EPS); // over channels, per token
}

static bool is_van(const seer_model *m) {
    return m && m->arch && strcmp(m->arch->family, "van") == 0;
}

// The stages, recording each stage's last LKA map into lka[] when it is not NULL.
static seer_tensor *run_stages(seer_model *m, seer_ctx *c, const seer_tensor *x,
                               seer_tensor *out[4], seer_tensor *lka[4]) {
    for (int i = 0; i < N_STAGES; i++)
        out[i] = NULL;
    if (!is_van(m)) {
        seer_ctx_fail(c, SEER_STATUS_ARG, "seer_van_stages: %s is not a VAN model",
                      m && m->arch ? m->arch->name : "(null)");
        return NULL;
    }
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[3] != 3) {
        char sx[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "%s takes [B, H, W, 3] images; got %s", m->arch->name,
                      seer_tensor_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    const van *v = m->impl;
    for (int i = 0; i < N_STAGES; i++)
        out[i] = stage_fwd(c, i ? out[i - 1] : x, &v->stages[i], lka ? &lka[i] : NULL);
    return out[3]; // [B, H / 32, W / 32, C_4]
}

seer_tensor *seer_van_stages(seer_model *m, seer_ctx *c, const seer_tensor *x,
                             seer_tensor *out[4]) {
    return run_stages(m, c, x, out, NULL);
}

// The attention view: LKA's attention map attn = conv1(conv_spatial(conv0(u))), the weights that
// multiply u, as the channel mean of |attn| in the last block of the deepest stage whose map is
// at least MIN_VIEW_SIDE tokens on its shorter side (the first stage when none is): stage 4 of a
// 224 preset (7x7), stage 2 of the 32x32 CIFAR model (8x8; its stage 4 is 2x2). F32 [B, h, w].
#define MIN_VIEW_SIDE 7
static seer_tensor *van_attention(seer_model *m, seer_ctx *c, const seer_tensor *x, float qx,
                                  float qy) {
    (void)qx, (void)qy;
    seer_tensor *out[N_STAGES], *lka[N_STAGES] = {0};
    if (!run_stages(m, c, x, out, lka)) return NULL;
    int s = N_STAGES - 1;
    while (s > 0 && (lka[s]->shape[1] < MIN_VIEW_SIDE || lka[s]->shape[2] < MIN_VIEW_SIDE))
        s--;
    seer_tensor *a = seer_unary(c, lka[s], SEER_UNARY_ABS, 0.0f, 0.0f);
    return seer_reduce_f32(c, a, 3, SEER_REDUCE_MEAN); // [B, h, w]
}

static bool van_attention_info(const seer_model *m, seer_attention_info *out) {
    (void)m;
    *out = (seer_attention_info){.method = "LKA response (mean |attention| over channels)"};
    return true;
}

// Mean of the last stage's tokens: [B, C_4].
static seer_tensor *van_features(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    seer_tensor *st[4];
    seer_tensor *h = seer_van_stages(m, c, x, st);
    if (!h) return NULL;
    seer_tensor *tokens =
        seer_reshape(c, h, 3, (int64_t[]){h->shape[0], h->shape[1] * h->shape[2], h->shape[3]});
    return seer_reduce(c, tokens, 1, SEER_REDUCE_MEAN);
}

static seer_tensor *van_forward(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    const van *v = m->impl;
    return seer_linear(c, van_features(m, c, x), v->head_w, v->head_b); // [B, classes]
}

// Presets as models/van.py registers them (van_b0..van_b6; b4..b6 have no released weights
// there). MLP ratios 8, 8, 4, 4 everywhere.
#define VAN_ARCH(n, d0, d1, d2, d3, n0, n1, n2, n3)                                                \
    {                                                                                              \
        .name = "van_" #n, .family = "van", .num_classes = 1000, .img_size = 224,                  \
        .preprocess = "van", .labels = "imagenet",                                                 \
        .config = &(const van_config){{d0, d1, d2, d3}, {n0, n1, n2, n3}, {8, 8, 4, 4}, 7, 4},     \
        .load = van_load, .forward = van_forward, .features = van_features,                        \
        .attention_info = van_attention_info, .attention = van_attention, .free_impl = van_free    \
    }

const seer_arch seer_van_archs[] = {
    VAN_ARCH(b0, 32, 64, 160, 256, 3, 3, 5, 2),   VAN_ARCH(b1, 64, 128, 320, 512, 2, 2, 4, 2),
    VAN_ARCH(b2, 64, 128, 320, 512, 3, 3, 12, 3), VAN_ARCH(b3, 64, 128, 320, 512, 3, 5, 27, 3),
    VAN_ARCH(b4, 64, 128, 320, 512, 3, 6, 40, 3), VAN_ARCH(b5, 96, 192, 480, 768, 3, 3, 24, 3),
    VAN_ARCH(b6, 96, 192, 384, 768, 6, 6, 90, 6),
};
const int seer_van_arch_count = sizeof seer_van_archs / sizeof *seer_van_archs;
