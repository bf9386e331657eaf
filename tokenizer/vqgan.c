// VQGAN tokenizer (see vqgan.h): loading, encoder, quantizer, decoder.
#include "tokenizer/vqgan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "core/stages.h"
#include "core/weights.h"

#define GN_GROUPS 32
#define GN_EPS 1e-6f

typedef struct res_block {
    seer_tensor *norm1_w, *norm1_b, *conv1, *norm2_w, *norm2_b, *conv2;
    seer_tensor *nin; // 1x1 shortcut (out -> out) when the channel count changes, else NULL
} res_block;

typedef struct level {
    res_block *blocks;                  // num_res_blocks
    seer_tensor *up_conv_w, *up_conv_b; // decoder levels > 0: conv after nearest-2x
} level;

struct seer_vqgan {
    seer_vqgan_config cfg;
    seer_device dev;
    seer_dtype dt;
    seer_weights *w;
    // encoder
    seer_tensor *enc_conv_in;
    level enc[SEER_VQGAN_MAX_LEVELS];
    res_block enc_mid[2];
    seer_tensor *enc_norm_w, *enc_norm_b, *enc_conv_out_w, *enc_conv_out_b;
    // quantizer
    seer_tensor *codebook;    // [n_embed, embed_dim], F32 in every compute dtype
    seer_tensor *codebook_sq; // [n_embed] F32: |e|^2
    // decoder
    seer_tensor *dec_conv_in_w, *dec_conv_in_b;
    res_block dec_mid[2];
    level dec[SEER_VQGAN_MAX_LEVELS];
    seer_tensor *dec_norm_w, *dec_norm_b, *dec_conv_out_w, *dec_conv_out_b;
    seer_stages stages; // the blocks run in its two scratch contexts
};

// ---- config --------------------------------------------------------------------------------

static const struct {
    const char *name;
    seer_vqgan_config cfg;
} presets[] = {
    {"vq-f16-jax", {3, 3, 128, 5, {1, 1, 2, 2, 4}, 2, 256, 1024, 256, 256}},
};

seer_status seer_vqgan_preset(const char *name, seer_vqgan_config *out) {
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (strcmp(presets[i].name, name) == 0) {
            *out = presets[i].cfg;
            return SEER_STATUS_OK;
        }
    return seer_fail(SEER_STATUS_NOT_FOUND, "unknown tokenizer preset '%s' (have: vq-f16-jax)",
                     name);
}

static seer_status config_from_file(const seer_st_file *f, seer_vqgan_config *cfg) {
    // seer.arch: a preset, or another "vq..." name (our own tokenizers) over vq-f16-jax's values
    const char *arch = seer_st_metadata(f, "seer.arch");
    if (arch && strncmp(arch, "vq", 2) != 0)
        return seer_fail(SEER_STATUS_FORMAT, "%s is a '%s' file, not a VQ tokenizer",
                         seer_st_path(f), arch);
    if (seer_vqgan_preset(arch ? arch : "vq-f16-jax", cfg) != SEER_STATUS_OK) {
        SEER_TRY(seer_vqgan_preset("vq-f16-jax", cfg));
        seer_clear_error();
    }
    SEER_TRY(seer_st_metadata_int(f, "vqgan.in_channels", 1, 1 << 20, &cfg->in_channels));
    SEER_TRY(seer_st_metadata_int(f, "vqgan.out_ch", 1, 1 << 20, &cfg->out_ch));
    SEER_TRY(seer_st_metadata_int(f, "vqgan.ch", 1, 1 << 20, &cfg->ch));
    SEER_TRY(seer_st_metadata_int(f, "vqgan.num_res_blocks", 1, 1 << 20, &cfg->num_res_blocks));
    SEER_TRY(seer_st_metadata_int(f, "vqgan.z_channels", 1, 1 << 20, &cfg->z_channels));
    SEER_TRY(seer_st_metadata_int(f, "vqgan.n_embed", 1, 1 << 20, &cfg->n_embed));
    SEER_TRY(seer_st_metadata_int(f, "vqgan.embed_dim", 1, 1 << 20, &cfg->embed_dim));
    SEER_TRY(seer_st_metadata_int(f, "vqgan.resolution", 1, 16384, &cfg->resolution));
    const char *mult = seer_st_metadata(f, "vqgan.ch_mult");
    if (mult) {
        int n = 0;
        const char *p = mult;
        while (*p) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > 64 || n == SEER_VQGAN_MAX_LEVELS)
                return seer_fail(
                    SEER_STATUS_FORMAT,
                    "%s: metadata vqgan.ch_mult = '%s': expected 1 to %d comma-separated "
                    "multipliers",
                    seer_st_path(f), mult, SEER_VQGAN_MAX_LEVELS);
            cfg->ch_mult[n++] = (int)v;
            p = *end == ',' ? end + 1 : end;
            if (*end != ',' && *end != '\0')
                return seer_fail(SEER_STATUS_FORMAT,
                                 "%s: metadata vqgan.ch_mult = '%s' is not a list", seer_st_path(f),
                                 mult);
        }
        if (n == 0)
            return seer_fail(SEER_STATUS_FORMAT, "%s: metadata vqgan.ch_mult is empty",
                             seer_st_path(f));
        cfg->n_levels = n;
    }
    // The reference has no quant_conv: the codebook lives in the encoder's output space.
    if (cfg->embed_dim != cfg->z_channels)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: embed_dim %d must equal z_channels %d (no quant_conv)",
                         seer_st_path(f), cfg->embed_dim, cfg->z_channels);
    if (cfg->resolution % (1 << (cfg->n_levels - 1)))
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s: resolution %d is not a multiple of the %d pixels per token",
                         seer_st_path(f), cfg->resolution, 1 << (cfg->n_levels - 1));
    for (int i = 0; i < cfg->n_levels; i++)
        if ((cfg->ch * cfg->ch_mult[i]) % GN_GROUPS)
            return seer_fail(SEER_STATUS_FORMAT,
                             "%s: level %d has %d channels, not a multiple of the "
                             "%d GroupNorm groups",
                             seer_st_path(f), i, cfg->ch * cfg->ch_mult[i], GN_GROUPS);
    return SEER_STATUS_OK;
}

// ---- loading -------------------------------------------------------------------------------

typedef struct loader {
    seer_st_reader *r;
    seer_vqgan *v;
    bool failed;
    seer_status st; // of the first failure
} loader;

static void fail(loader *l, seer_status st) {
    if (!l->failed) l->st = st;
    l->failed = true;
}

// After the first failure nothing more is read, so its message is the one reported.
static float *read_host(loader *l, const char *name, int ndim, const int64_t *shape) {
    if (l->failed) return NULL;
    float *host = NULL;
    seer_status st = seer_st_reader_read_f32(l->r, name, ndim, shape, &host);
    if (st != SEER_STATUS_OK) fail(l, st);
    return host;
}

static seer_tensor *upload(loader *l, const char *name, seer_dtype dt, int ndim,
                           const int64_t *shape, const float *host) {
    seer_tensor *t = host ? seer_weights_add(l->v->w, name, dt, ndim, shape, host) : NULL;
    if (host && !t) fail(l, SEER_STATUS_OOM);
    return t;
}

// A 1-D parameter (F32).
static seer_tensor *load_vec(loader *l, const char *name, int64_t n) {
    float *h = read_host(l, name, 1, &n);
    seer_tensor *t = upload(l, name, SEER_F32, 1, &n, h);
    free(h);
    return t;
}

// A conv weight, OIHW in the file, OHWI on the device.
static seer_tensor *load_conv(loader *l, const char *name, int64_t o, int64_t i, int64_t k) {
    float *oihw = read_host(l, name, 4, (int64_t[]){o, i, k, k});
    float *ohwi = oihw ? malloc(sizeof(float) * (size_t)(o * i * k * k)) : NULL;
    seer_tensor *t = NULL;
    if (ohwi) {
        seer_conv_weight_from_oihw(ohwi, oihw, o, i, k, k);
        t = upload(l, name, l->v->dt, 4, (int64_t[]){o, k, k, i}, ohwi);
    } else if (oihw) {
        fail(l, seer_fail(SEER_STATUS_OOM, "out of host memory loading %s", name));
    }
    free(oihw);
    free(ohwi);
    return t;
}

static void load_norm(loader *l, const char *prefix, int64_t c, seer_tensor **w, seer_tensor **b) {
    char name[320];
    snprintf(name, sizeof name, "%s.weight", prefix);
    *w = load_vec(l, name, c);
    snprintf(name, sizeof name, "%s.bias", prefix);
    *b = load_vec(l, name, c);
}

static void load_block(loader *l, res_block *b, const char *prefix, int cin, int cout) {
    char name[288];
    snprintf(name, sizeof name, "%s.norm1", prefix);
    load_norm(l, name, cin, &b->norm1_w, &b->norm1_b);
    snprintf(name, sizeof name, "%s.conv1.weight", prefix);
    b->conv1 = load_conv(l, name, cout, cin, 3);
    snprintf(name, sizeof name, "%s.norm2", prefix);
    load_norm(l, name, cout, &b->norm2_w, &b->norm2_b);
    snprintf(name, sizeof name, "%s.conv2.weight", prefix);
    b->conv2 = load_conv(l, name, cout, cout, 3);
    b->nin = NULL;
    if (cin != cout) {
        snprintf(name, sizeof name, "%s.nin_shortcut.weight", prefix);
        b->nin = load_conv(l, name, cout, cout, 1);
    }
}

static void load_all(loader *l) {
    seer_vqgan *v = l->v;
    const seer_vqgan_config *g = &v->cfg;
    int nl = g->n_levels, nb = g->num_res_blocks;
    char name[256];
    for (int i = 0; i < nl; i++) {
        v->enc[i].blocks = calloc((size_t)nb, sizeof(res_block));
        v->dec[i].blocks = calloc((size_t)nb, sizeof(res_block));
        if (!v->enc[i].blocks || !v->dec[i].blocks) {
            fail(l, seer_fail(SEER_STATUS_OOM, "out of host memory"));
            return;
        }
    }
    // encoder
    v->enc_conv_in = load_conv(l, "encoder.conv_in.weight", g->ch, g->in_channels, 3);
    int cin = g->ch;
    for (int i = 0; i < nl; i++) {
        int cout = g->ch * g->ch_mult[i];
        for (int j = 0; j < nb; j++) {
            snprintf(name, sizeof name, "encoder.down.%d.block.%d", i, j);
            load_block(l, &v->enc[i].blocks[j], name, cin, cout);
            cin = cout;
        }
    }
    load_block(l, &v->enc_mid[0], "encoder.mid.block_1", cin, cin);
    load_block(l, &v->enc_mid[1], "encoder.mid.block_2", cin, cin);
    load_norm(l, "encoder.norm_out", cin, &v->enc_norm_w, &v->enc_norm_b);
    v->enc_conv_out_w = load_conv(l, "encoder.conv_out.weight", g->z_channels, cin, 1);
    v->enc_conv_out_b = load_vec(l, "encoder.conv_out.bias", g->z_channels);

    // quantizer: the codebook and its squared norms
    int64_t cb_shape[2] = {g->n_embed, g->embed_dim};
    float *cb = read_host(l, "quantize.embedding.weight", 2, cb_shape);
    if (cb) {
        v->codebook = upload(l, "quantize.embedding.weight", SEER_F32, 2, cb_shape, cb);
        float *sq = malloc(sizeof(float) * (size_t)g->n_embed);
        if (sq) {
            for (int k = 0; k < g->n_embed; k++) {
                float s = 0;
                for (int d = 0; d < g->embed_dim; d++)
                    s += cb[k * g->embed_dim + d] * cb[k * g->embed_dim + d];
                sq[k] = s;
            }
            v->codebook_sq = seer_weights_add(v->w, "quantize.embedding.sq_norm", SEER_F32, 1,
                                              (int64_t[]){g->n_embed}, sq);
        }
        if (!sq || !v->codebook_sq) fail(l, SEER_STATUS_OOM);
        free(sq);
    }
    free(cb);

    // decoder
    cin = g->ch * g->ch_mult[nl - 1];
    v->dec_conv_in_w = load_conv(l, "decoder.conv_in.weight", cin, g->z_channels, 3);
    v->dec_conv_in_b = load_vec(l, "decoder.conv_in.bias", cin);
    load_block(l, &v->dec_mid[0], "decoder.mid.block_1", cin, cin);
    load_block(l, &v->dec_mid[1], "decoder.mid.block_2", cin, cin);
    for (int i = nl - 1; i >= 0; i--) {
        int cout = g->ch * g->ch_mult[i];
        for (int j = 0; j < nb; j++) {
            snprintf(name, sizeof name, "decoder.up.%d.block.%d", i, j);
            load_block(l, &v->dec[i].blocks[j], name, cin, cout);
            cin = cout;
        }
        if (i != 0) {
            snprintf(name, sizeof name, "decoder.up.%d.upsample.conv.weight", i);
            v->dec[i].up_conv_w = load_conv(l, name, cin, cin, 3);
            snprintf(name, sizeof name, "decoder.up.%d.upsample.conv.bias", i);
            v->dec[i].up_conv_b = load_vec(l, name, cin);
        }
    }
    load_norm(l, "decoder.norm_out", cin, &v->dec_norm_w, &v->dec_norm_b);
    v->dec_conv_out_w = load_conv(l, "decoder.conv_out.weight", g->out_ch, cin, 3);
    v->dec_conv_out_b = load_vec(l, "decoder.conv_out.bias", g->out_ch);
}

void seer_vqgan_free(seer_vqgan *v) {
    if (!v) return;
    for (int i = 0; i < SEER_VQGAN_MAX_LEVELS; i++) {
        free(v->enc[i].blocks);
        free(v->dec[i].blocks);
    }
    seer_weights_free(v->w);
    seer_stages_free(&v->stages);
    free(v);
}

// The config (metadata), the weight store and scratch contexts, then the tensors.
static seer_status read_file(seer_st_reader *r, void *model) {
    seer_vqgan *v = model;
    SEER_TRY(config_from_file(r->file, &v->cfg));
    v->w = seer_weights_new(v->dev);
    if (!v->w) return SEER_STATUS_OOM;
    SEER_TRY(seer_stages_init(&v->stages, v->dev));
    loader l = {.r = r, .v = v};
    load_all(&l);
    return l.failed ? l.st : SEER_STATUS_OK;
}

seer_status seer_vqgan_load(const char *path, seer_device dev, seer_dtype dt, seer_vqgan **out) {
    *out = NULL;
    SEER_TRY(seer_check_compute_dtype(dev, dt, "tokenizer"));
    seer_vqgan *v = calloc(1, sizeof *v);
    if (!v) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    v->dev = dev;
    v->dt = dt;
    seer_status st = seer_st_load_file(path, "tokenizer", NULL, read_file, v);
    if (st != SEER_STATUS_OK) {
        seer_vqgan_free(v);
        return st;
    }
    *out = v;
    return SEER_STATUS_OK;
}

const seer_vqgan_config *seer_vqgan_get_config(const seer_vqgan *v) {
    return &v->cfg;
}

int seer_vqgan_factor(const seer_vqgan *v) {
    return 1 << (v->cfg.n_levels - 1);
}

// ---- blocks --------------------------------------------------------------------------------

static seer_tensor *conv(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                         const seer_tensor *b) {
    int pad = w ? (int)(w->shape[1] / 2) : 0;
    seer_conv2d_params p = {.pad_h = pad, .pad_w = pad};
    return seer_conv2d(c, x, w, b, &p);
}

static seer_tensor *norm_swish(seer_ctx *c, const seer_tensor *x, const seer_tensor *w,
                               const seer_tensor *b) {
    return seer_silu(c, seer_group_norm(c, x, GN_GROUPS, w, b, GN_EPS));
}

// x: [B, H, W, C_in] -> [B, H, W, C_out]
static seer_tensor *res_block_fwd(seer_ctx *c, const res_block *rb, const seer_tensor *x) {
    seer_tensor *h = conv(c, norm_swish(c, x, rb->norm1_w, rb->norm1_b), rb->conv1, NULL);
    h = conv(c, norm_swish(c, h, rb->norm2_w, rb->norm2_b), rb->conv2, NULL);
    // The reference's shortcut when channels change: nin_shortcut(h) + h (input dropped).
    if (rb->nin) return seer_add(c, conv(c, h, rb->nin, NULL), h);
    return seer_add(c, x, h);
}

static seer_tensor *avg_pool2(seer_ctx *c, const seer_tensor *x) {
    seer_pool2d_params p = {.mode = SEER_POOL_AVG, .kernel_h = 2, .kernel_w = 2};
    return seer_pool2d(c, x, &p);
}

// ---- encoder and quantizer -----------------------------------------------------------------

static seer_tensor *encoder(seer_vqgan *v, seer_ctx *c, const seer_tensor *x) {
    const seer_vqgan_config *g = &v->cfg;
    seer_stages_begin(&v->stages);
    seer_ctx *s = seer_stages_next(&v->stages, c);
    seer_tensor *h = conv(s, x, v->enc_conv_in, NULL); // [B, H, W, ch]
    for (int i = 0; i < g->n_levels; i++) {
        for (int j = 0; j < g->num_res_blocks; j++) {
            s = seer_stages_next(&v->stages, c);
            h = res_block_fwd(s, &v->enc[i].blocks[j], h);
        }
        if (i != g->n_levels - 1) h = avg_pool2(s, h); // [B, H / 2, W / 2, C]
    }
    s = seer_stages_next(&v->stages, c);
    h = res_block_fwd(s, &v->enc_mid[0], h);
    s = seer_stages_next(&v->stages, c);
    h = res_block_fwd(s, &v->enc_mid[1], h);
    s = seer_stages_next(&v->stages, c);
    h = norm_swish(s, h, v->enc_norm_w, v->enc_norm_b);
    h = conv(s, h, v->enc_conv_out_w, v->enc_conv_out_b); // [B, h, w, z_channels]
    return seer_stages_end(&v->stages, c, h);
}

seer_tensor *seer_vqgan_quantize(seer_vqgan *v, seer_ctx *c, const seer_tensor *z) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    const seer_vqgan_config *g = &v->cfg;
    if (!z || z->ndim != 4 || z->shape[3] != g->embed_dim) {
        char buf[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE,
                      "vqgan quantize: expected latents [B, h, w, %d], got %s", g->embed_dim,
                      z ? seer_tensor_shape_str(z, buf, sizeof buf) : "NULL");
        return NULL;
    }
    int64_t n = z->shape[0] * z->shape[1] * z->shape[2];
    // distances in F32 whatever the compute dtype: nearest codes are often close
    if (z->dtype != SEER_F32) z = seer_to(c, z, SEER_F32);
    seer_tensor *zf =
        seer_reshape(c, seer_contiguous(c, z), 2, (int64_t[]){n, g->embed_dim}); // [N, e]
    // d = (|z|^2 + |e|^2) - 2 z.e, as the reference computes it; argmin d = argmax -d.
    seer_tensor *z_sq = seer_reduce(c, seer_mul(c, zf, zf), 1, SEER_REDUCE_SUM); // [N]
    z_sq = seer_reshape(c, z_sq, 2, (int64_t[]){n, 1});
    seer_tensor *sq = seer_add(c, z_sq, v->codebook_sq);                         // [N, n_embed]
    seer_tensor *ze2 = seer_matmul(c, zf, v->codebook, false, true, 2.0f, NULL); // [N, n_embed]
    seer_tensor *neg_d = seer_sub(c, ze2, sq);
    seer_tensor *ids = seer_argmax(c, neg_d); // [N] I64
    return seer_reshape(c, ids, 3, (int64_t[]){z->shape[0], z->shape[1], z->shape[2]});
}

seer_tensor *seer_vqgan_encode(seer_vqgan *v, seer_ctx *c, const seer_tensor *x,
                               seer_tensor **latents) {
    if (latents) *latents = NULL;
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    int f = seer_vqgan_factor(v);
    if (!x || x->ndim != 4 || x->shape[3] != v->cfg.in_channels || x->shape[1] % f ||
        x->shape[2] % f || x->shape[1] == 0 || x->shape[2] == 0) {
        char buf[128];
        seer_ctx_fail(
            c, SEER_STATUS_SHAPE,
            "vqgan encode: expected images [B, H, W, %d] with H and W multiples of %d, got %s",
            v->cfg.in_channels, f, x ? seer_tensor_shape_str(x, buf, sizeof buf) : "NULL");
        return NULL;
    }
    if (x->dtype != v->dt) x = seer_to(c, x, v->dt);
    seer_tensor *z = encoder(v, c, x); // [B, h, w, z_channels]
    if (latents) *latents = z;
    return seer_vqgan_quantize(v, c, z);
}

// ---- decoder -------------------------------------------------------------------------------

seer_tensor *seer_vqgan_embed(seer_vqgan *v, seer_ctx *c, const seer_tensor *ids) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    if (!ids || ids->ndim != 3 || (ids->dtype != SEER_I64 && ids->dtype != SEER_I32)) {
        char buf[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "vqgan: expected token ids [B, h, w] (i32/i64), got %s",
                      ids ? seer_tensor_shape_str(ids, buf, sizeof buf) : "NULL");
        return NULL;
    }
    int64_t n = ids->shape[0] * ids->shape[1] * ids->shape[2];
    seer_tensor *flat = seer_reshape(c, seer_contiguous(c, ids), 1, &n);
    seer_tensor *e = seer_index_select(c, v->codebook, 0, flat); // [N, embed_dim] F32
    if (e && v->dt != SEER_F32) e = seer_to(c, e, v->dt);
    return seer_reshape(c, e, 4,
                        (int64_t[]){ids->shape[0], ids->shape[1], ids->shape[2], v->cfg.embed_dim});
}

seer_tensor *seer_vqgan_decode_latents(seer_vqgan *v, seer_ctx *c, const seer_tensor *zq) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    const seer_vqgan_config *g = &v->cfg;
    if (!zq || zq->ndim != 4 || zq->shape[3] != g->z_channels) {
        char buf[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "vqgan decode: expected latents [B, h, w, %d], got %s",
                      g->z_channels, zq ? seer_tensor_shape_str(zq, buf, sizeof buf) : "NULL");
        return NULL;
    }
    if (zq->dtype != v->dt) zq = seer_to(c, zq, v->dt);
    seer_stages_begin(&v->stages);
    seer_ctx *s = seer_stages_next(&v->stages, c);
    seer_tensor *h = conv(s, zq, v->dec_conv_in_w, v->dec_conv_in_b); // [B, h, w, C]
    s = seer_stages_next(&v->stages, c);
    h = res_block_fwd(s, &v->dec_mid[0], h);
    s = seer_stages_next(&v->stages, c);
    h = res_block_fwd(s, &v->dec_mid[1], h);
    for (int i = g->n_levels - 1; i >= 0; i--) {
        for (int j = 0; j < g->num_res_blocks; j++) {
            s = seer_stages_next(&v->stages, c);
            h = res_block_fwd(s, &v->dec[i].blocks[j], h);
        }
        if (i != 0 && h) {
            s = seer_stages_next(&v->stages, c);
            h = seer_resize(s, h, (int)h->shape[1] * 2, (int)h->shape[2] * 2, SEER_RESIZE_NEAREST,
                            false);
            h = conv(s, h, v->dec[i].up_conv_w, v->dec[i].up_conv_b); // [B, 2h, 2w, C]
        }
    }
    s = seer_stages_next(&v->stages, c);
    h = norm_swish(s, h, v->dec_norm_w, v->dec_norm_b);
    h = conv(s, h, v->dec_conv_out_w, v->dec_conv_out_b); // [B, H, W, out_ch]
    return seer_stages_end(&v->stages, c, h);
}

// Elementwise clamp to [lo, hi] with broadcast scalars.
static seer_tensor *clamp(seer_ctx *c, const seer_tensor *x, float lo, float hi) {
    if (!x) return NULL;
    seer_tensor *l = seer_fill(c, seer_new(c, x->dtype, 1, (int64_t[]){1}), lo);
    seer_tensor *h = seer_fill(c, seer_new(c, x->dtype, 1, (int64_t[]){1}), hi);
    return seer_binary(c, seer_binary(c, x, l, SEER_BINARY_MAX), h, SEER_BINARY_MIN);
}

seer_tensor *seer_vqgan_decode(seer_vqgan *v, seer_ctx *c, const seer_tensor *ids) {
    seer_tensor *img = seer_vqgan_decode_latents(v, c, seer_vqgan_embed(v, c, ids));
    return clamp(c, img, 0.0f, 1.0f); // [B, H, W, out_ch] in [0, 1]
}

seer_status seer_vqgan_to_images(seer_ctx *c, const seer_tensor *x, seer_image *out) {
    if (seer_ctx_status(c) != SEER_STATUS_OK) return seer_ctx_status(c);
    if (!x || x->ndim != 4 || x->shape[3] != 3)
        return seer_ctx_fail(c, SEER_STATUS_SHAPE, "vqgan: images to write must be [B, H, W, 3]");
    int64_t b = x->shape[0], per = x->shape[1] * x->shape[2] * 3;
    float *host = malloc(sizeof(float) * (size_t)(b * per));
    if (!host)
        return seer_ctx_fail(c, SEER_STATUS_OOM, "out of host memory for %lld images",
                             (long long)b);
    seer_status st = seer_to_host(c, x, host);
    for (int64_t i = 0; i < b && st == SEER_STATUS_OK; i++) {
        out[i] = (seer_image){
            .w = (int)x->shape[2], .h = (int)x->shape[1], .c = 3, .px = malloc((size_t)per)};
        if (!out[i].px) {
            for (int64_t k = 0; k < i; k++)
                seer_image_free(&out[k]);
            st = seer_ctx_fail(c, SEER_STATUS_OOM, "out of host memory for images");
            break;
        }
        // torchvision save_image: (x * 255 + 0.5) clamped to [0, 255], truncated.
        for (int64_t k = 0; k < per; k++) {
            float y = host[i * per + k] * 255.0f + 0.5f;
            out[i].px[k] = (uint8_t)(y >= 0.0f ? (y <= 255.0f ? y : 255.0f) : 0.0f); // NaN -> 0
        }
    }
    free(host);
    return st;
}
