// ENAT network (see enat.h): loading and the forward pass with computation reuse.
#include "generate/enat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "core/stages.h"
#include "core/weights.h"

#define LN_EPS_BLOCK 1e-6f // BERT embeddings, block norms, prev_proj
#define LN_EPS_HEAD 1e-5f  // final norm and mlm_layer.ln (nn.LayerNorm defaults)

typedef struct linear {
    seer_tensor *w, *b;
} linear;

// Views of a fused projection's rows (the kv projections: k = rows [0, D), v = rows [D, 2D)).
typedef struct linear_view {
    seer_tensor w, b;
} linear_view;

typedef struct block {
    linear q, proj, fc1, fc2, ada; // ada: adaLN_modulation.1, D -> 8 D
    linear_view k_a, v_a;          // attn.kv.A: context tokens
    linear_view k_b, v_b;          // attn.kv.B: the block's own tokens
} block;

struct seer_enat {
    seer_enat_config cfg;
    char name[64]; // seer.arch
    seer_device dev;
    seer_dtype dt;
    seer_weights *w;
    seer_tensor *word_emb, *pos_emb, *emb_ln_w, *emb_ln_b; // x_embedder
    seer_tensor *class_emb;                                // y_embedder.embedding_table
    seer_tensor *pp_norm_w, *pp_norm_b;                    // prev_proj
    linear pp_fc1, pp_fc2;
    block *blocks;
    seer_tensor *norm_w, *norm_b;
    linear mlm_fc;
    seer_tensor *mlm_ln_w, *mlm_ln_b;
    linear_view head; // word embeddings and mlm_layer.bias, first V rows
    seer_stages stages; // the blocks run in its two scratch contexts (run_blocks)
};

// ---- config --------------------------------------------------------------------------------

static const struct {
    const char *name;
    seer_enat_config cfg;
} presets[] = {
    // README / train.py evaluation settings: --enc_dec 22 2 --embed_dim 1024 --num_heads 16
    // (ImageNet 256 and 512; no guide)
    {"enat_l", {1024, 16, 22, 2, 1024, 1000, 16, 8, 2.5f, 1.5f, 6.0f, "", 0.0f}},
    {"enat_l_512", {1024, 16, 22, 2, 1024, 1000, 32, 8, 3.5f, 1.5f, 4.0f, "", 0.0f}},
};

seer_status seer_enat_preset(const char *name, seer_enat_config *out) {
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (strcmp(presets[i].name, name) == 0) {
            *out = presets[i].cfg;
            return SEER_STATUS_OK;
        }
    return seer_fail(SEER_STATUS_NOT_FOUND, "unknown ENAT preset '%s' (have: enat_l, enat_l_512)",
                     name);
}

static seer_status config_from_file(const seer_st_file *f, seer_enat_config *g, char *name) {
    // seer.arch: a preset, or another "enat..." name (our own models) over enat_l's values
    const char *arch = seer_st_metadata(f, "seer.arch");
    if (arch && strncmp(arch, "enat", 4) != 0)
        return seer_fail(SEER_STATUS_FORMAT, "%s is a '%s' file, not ENAT", seer_st_path(f), arch);
    if (seer_enat_preset(arch ? arch : "enat_l", g) != SEER_STATUS_OK) {
        SEER_TRY(seer_enat_preset("enat_l", g));
        seer_clear_error();
    }
    snprintf(name, 64, "%s", arch ? arch : "enat_l");
    SEER_TRY(seer_st_metadata_int(f, "enat.hidden_size", 1, 1 << 20, &g->hidden));
    SEER_TRY(seer_st_metadata_int(f, "enat.num_heads", 1, 1 << 20, &g->heads));
    SEER_TRY(seer_st_metadata_int(f, "enat.depth_enc", 0, 1 << 20, &g->depth_enc));
    SEER_TRY(seer_st_metadata_int(f, "enat.depth_dec", 0, 1 << 20, &g->depth_dec));
    SEER_TRY(seer_st_metadata_int(f, "enat.codebook_size", 1, 1 << 20, &g->codebook_size));
    SEER_TRY(seer_st_metadata_int(f, "enat.num_classes", 1, 1 << 20, &g->num_classes));
    SEER_TRY(seer_st_metadata_int(f, "enat.grid", 1, 1 << 20, &g->grid));
    SEER_TRY(seer_st_metadata_int(f, "enat.steps", 1, 1 << 20, &g->steps));
    SEER_TRY(seer_st_metadata_float(f, "enat.cfg", 0.0, 1e6, &g->cfg));
    SEER_TRY(seer_st_metadata_float(f, "enat.mask_temp", 0.0, 1e6, &g->mask_temp));
    SEER_TRY(seer_st_metadata_float(f, "enat.samp_temp", 0.0, 1e6, &g->samp_temp));
    SEER_TRY(seer_st_metadata_float(f, "enat.guide_w", 0.0, 1e6, &g->guide_w));
    const char *guide = seer_st_metadata(f, "enat.guide");
    if (guide && (strlen(guide) >= sizeof g->guide || strchr(guide, '/')))
        return seer_fail(SEER_STATUS_FORMAT, "%s: enat.guide must be a weights name (no '/', "
                         "under %d characters)", seer_st_path(f), (int)sizeof g->guide);
    snprintf(g->guide, sizeof g->guide, "%s", guide ? guide : "");
    if (g->hidden % g->heads)
        return seer_fail(SEER_STATUS_FORMAT, "%s: hidden size %d is not a multiple of %d heads",
                         seer_st_path(f), g->hidden, g->heads);
    if (g->depth_enc + g->depth_dec < 1)
        return seer_fail(SEER_STATUS_FORMAT, "%s: ENAT needs at least one block", seer_st_path(f));
    return SEER_STATUS_OK;
}

// ---- loading -------------------------------------------------------------------------------

typedef struct loader {
    seer_st_reader *r;
    seer_enat *m;
    seer_status st; // first failure
} loader;

// After the first failure nothing more is read, so its message is the one reported.
static float *read_host(loader *l, const char *name, int ndim, const int64_t *shape) {
    if (l->st != SEER_STATUS_OK) return NULL;
    float *host = NULL;
    l->st = seer_st_reader_read_f32(l->r, name, ndim, shape, &host);
    return host;
}

// 1-D parameters are F32, the rest the model's dtype.
static seer_tensor *load(loader *l, const char *name, int ndim, const int64_t *shape) {
    float *h = read_host(l, name, ndim, shape);
    seer_tensor *t =
        h ? seer_weights_add(l->m->w, name, ndim == 1 ? SEER_F32 : l->m->dt, ndim, shape, h) : NULL;
    if (h && !t) l->st = SEER_STATUS_OOM;
    free(h);
    return t;
}

static seer_tensor *load_vec(loader *l, const char *name, int64_t n) {
    return load(l, name, 1, &n);
}

static void load_linear(loader *l, linear *lin, const char *prefix, int64_t out, int64_t in) {
    char name[320];
    snprintf(name, sizeof name, "%s.weight", prefix);
    lin->w = load(l, name, 2, (int64_t[]){out, in});
    snprintf(name, sizeof name, "%s.bias", prefix);
    lin->b = load_vec(l, name, out);
}

// Rows [start, start + n) of a loaded linear layer, as views.
static void row_view(loader *l, const linear *lin, int64_t start, int64_t n, linear_view *out) {
    if (l->st != SEER_STATUS_OK) return;
    if (seer_view_narrow(lin->w, 0, start, n, &out->w) != SEER_STATUS_OK ||
        seer_view_narrow(lin->b, 0, start, n, &out->b) != SEER_STATUS_OK)
        l->st = SEER_STATUS_SHAPE;
}

static void load_all(loader *l) {
    seer_enat *m = l->m;
    const seer_enat_config *g = &m->cfg;
    int64_t D = g->hidden, V = g->codebook_size, L = (int64_t)g->grid * g->grid;
    int depth = g->depth_enc + g->depth_dec;
    char name[256];
    m->word_emb = load(l, "x_embedder.word_embeddings.weight", 2, (int64_t[]){V + 1, D});
    m->pos_emb = load(l, "x_embedder.position_embeddings.weight", 2, (int64_t[]){L, D});
    m->emb_ln_w = load_vec(l, "x_embedder.LayerNorm.weight", D);
    m->emb_ln_b = load_vec(l, "x_embedder.LayerNorm.bias", D);
    m->class_emb =
        load(l, "y_embedder.embedding_table.weight", 2, (int64_t[]){g->num_classes + 1, D});
    m->pp_norm_w = load_vec(l, "prev_proj.norm.weight", D);
    m->pp_norm_b = load_vec(l, "prev_proj.norm.bias", D);
    load_linear(l, &m->pp_fc1, "prev_proj.mlp.fc1", 4 * D, D);
    load_linear(l, &m->pp_fc2, "prev_proj.mlp.fc2", D, 4 * D);
    m->blocks = calloc((size_t)depth, sizeof *m->blocks);
    if (!m->blocks) {
        l->st = seer_fail(SEER_STATUS_OOM, "out of host memory");
        return;
    }
    for (int i = 0; i < depth; i++) {
        block *b = &m->blocks[i];
        linear kv_a, kv_b;
        snprintf(name, sizeof name, "blocks.%d.attn.q", i);
        load_linear(l, &b->q, name, D, D);
        snprintf(name, sizeof name, "blocks.%d.attn.kv.A", i);
        load_linear(l, &kv_a, name, 2 * D, D);
        snprintf(name, sizeof name, "blocks.%d.attn.kv.B", i);
        load_linear(l, &kv_b, name, 2 * D, D);
        snprintf(name, sizeof name, "blocks.%d.attn.proj", i);
        load_linear(l, &b->proj, name, D, D);
        snprintf(name, sizeof name, "blocks.%d.mlp.fc1", i);
        load_linear(l, &b->fc1, name, 4 * D, D);
        snprintf(name, sizeof name, "blocks.%d.mlp.fc2", i);
        load_linear(l, &b->fc2, name, D, 4 * D);
        snprintf(name, sizeof name, "blocks.%d.adaLN_modulation.1", i);
        load_linear(l, &b->ada, name, 8 * D, D);
        // kv(y).reshape(B, N, 2, H, D / H): the first D outputs are the keys, the rest values
        row_view(l, &kv_a, 0, D, &b->k_a);
        row_view(l, &kv_a, D, D, &b->v_a);
        row_view(l, &kv_b, 0, D, &b->k_b);
        row_view(l, &kv_b, D, D, &b->v_b);
    }
    m->norm_w = load_vec(l, "norm.weight", D);
    m->norm_b = load_vec(l, "norm.bias", D);
    load_linear(l, &m->mlm_fc, "mlm_layer.fc", D, D);
    m->mlm_ln_w = load_vec(l, "mlm_layer.ln.weight", D);
    m->mlm_ln_b = load_vec(l, "mlm_layer.ln.bias", D);
    // mlm_layer.bias is [1, 1, V + 1] in the checkpoint; kept as a 1-D F32 parameter
    float *bias = read_host(l, "mlm_layer.bias", 3, (int64_t[]){1, 1, V + 1});
    linear tied = {m->word_emb, NULL};
    if (bias) {
        tied.b = seer_weights_add(m->w, "mlm_layer.bias", SEER_F32, 1, (int64_t[]){V + 1}, bias);
        if (!tied.b) l->st = SEER_STATUS_OOM;
    }
    free(bias);
    if (tied.w && tied.b) row_view(l, &tied, 0, V, &m->head); // logits[..., :V]
}

void seer_enat_free(seer_enat *m) {
    if (!m) return;
    free(m->blocks);
    seer_weights_free(m->w);
    seer_stages_free(&m->stages);
    free(m);
}

// The config (metadata), the weight store and scratch contexts, then the tensors.
static seer_status read_file(seer_st_reader *r, void *model) {
    seer_enat *m = model;
    SEER_TRY(config_from_file(r->file, &m->cfg, m->name));
    m->w = seer_weights_new(m->dev);
    if (!m->w) return SEER_STATUS_OOM;
    SEER_TRY(seer_stages_init(&m->stages, m->dev));
    loader l = {.r = r, .m = m};
    load_all(&l);
    return l.st;
}

seer_status seer_enat_load(const char *path, seer_device dev, seer_dtype dt, seer_enat **out) {
    *out = NULL;
    SEER_TRY(seer_check_compute_dtype(dev, dt, "ENAT"));
    seer_enat *m = calloc(1, sizeof *m);
    if (!m) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    m->dev = dev;
    m->dt = dt;
    // prev_embedder is trained but never used by the forward pass
    seer_status st = seer_st_load_file(path, "ENAT", "prev_embedder.", read_file, m);
    if (st != SEER_STATUS_OK) {
        seer_enat_free(m);
        return st;
    }
    *out = m;
    return SEER_STATUS_OK;
}

const seer_enat_config *seer_enat_get_config(const seer_enat *m) {
    return &m->cfg;
}

const char *seer_enat_name(const seer_enat *m) {
    return m->name;
}

seer_device seer_enat_device(const seer_enat *m) {
    return m->dev;
}

const char *seer_enat_guide_path(const char *gen_path, const char *name, char *buf, size_t n) {
    const char *slash = strrchr(gen_path, '/');
    int dir = slash ? (int)(slash - gen_path) + 1 : 0;
    int len = snprintf(buf, n, "%.*s%s.safetensors", dir, gen_path, name);
    if (len < 0 || (size_t)len >= n) return NULL;
    FILE *f = fopen(buf, "rb");
    if (!f) return NULL;
    fclose(f);
    return buf;
}

// ---- blocks --------------------------------------------------------------------------------

static seer_tensor *lin(seer_ctx *c, const seer_tensor *x, const linear *l) {
    return seer_linear(c, x, l->w, l->b);
}

static seer_tensor *lin_view(seer_ctx *c, const seer_tensor *x, const linear_view *l) {
    return seer_linear(c, x, &l->w, &l->b);
}

// x * (1 + scale) + shift; shift, scale: [B, 1, D]
static seer_tensor *modulate(seer_ctx *c, const seer_tensor *x, const seer_tensor *shift,
                             const seer_tensor *scale) {
    return seer_add(c, seer_mul(c, x, seer_scale(c, scale, 1.0f, 1.0f)), shift);
}

// [B, N, D] -> [B, H, N, D / H] (view)
static seer_tensor *split_heads(seer_ctx *c, const seer_tensor *x, int heads) {
    if (!x) return NULL;
    int64_t B = x->shape[0], N = x->shape[1], D = x->shape[2];
    seer_tensor *h = seer_reshape(c, x, 4, (int64_t[]){B, N, heads, D / heads});
    return seer_permute(c, h, (const int[]){0, 2, 1, 3});
}

// Attention of the queries xm [B, N, D] over [ym (context, kv.A); xm (own, kv.B)].
static seer_tensor *two_way_attention(seer_ctx *c, const block *b, const seer_tensor *xm,
                                      const seer_tensor *ym, int heads) {
    if (!xm) return NULL;
    int64_t B = xm->shape[0], N = xm->shape[1], D = xm->shape[2];
    seer_tensor *q = lin(c, xm, &b->q);        // [B, N, D]
    seer_tensor *k = lin_view(c, xm, &b->k_b); // [B, N, D]
    seer_tensor *v = lin_view(c, xm, &b->v_b);
    if (ym) {
        const seer_tensor *ks[2] = {lin_view(c, ym, &b->k_a), k}; // [B, M + N, D]
        const seer_tensor *vs[2] = {lin_view(c, ym, &b->v_a), v};
        k = seer_concat(c, ks, 2, 1);
        v = seer_concat(c, vs, 2, 1);
    }
    float scale = (float)(1.0 / sqrt((double)(D / heads)));
    seer_tensor *o = seer_attention(c, split_heads(c, q, heads), split_heads(c, k, heads),
                                    split_heads(c, v, heads), NULL, scale); // [B, H, N, D / H]
    o = seer_permute_copy(c, o, (const int[]){0, 2, 1, 3});                 // [B, N, H, D / H]
    return lin(c, seer_reshape(c, o, 3, (int64_t[]){B, N, D}), &b->proj);
}

// One DiTBlock: x [B, N, D] attends to [context; x]; context [B, M, D] or NULL; cond = SiLU of
// the class embedding [B, D].
static seer_tensor *dit_block(seer_ctx *c, const block *b, const seer_tensor *x,
                              const seer_tensor *context, const seer_tensor *cond, int heads) {
    if (!x || !cond) return NULL;
    int64_t B = x->shape[0], D = x->shape[2];
    seer_tensor *mod = seer_reshape(c, lin(c, cond, &b->ada), 3, (int64_t[]){B, 8, D}); // [B, 8, D]
    seer_tensor *chunk[8]; // shift_msa, scale_msa, shift_msa_, scale_msa_, gate_msa, shift_mlp,
                           // scale_mlp, gate_mlp
    for (int k = 0; k < 8; k++)
        chunk[k] = seer_narrow(c, mod, 1, k, 1); // [B, 1, D]

    seer_tensor *xm =
        modulate(c, seer_layer_norm(c, x, NULL, NULL, LN_EPS_BLOCK), chunk[0], chunk[1]);
    seer_tensor *ym = context ? modulate(c, seer_layer_norm(c, context, NULL, NULL, LN_EPS_BLOCK),
                                         chunk[2], chunk[3])
                              : NULL;
    seer_tensor *a = two_way_attention(c, b, xm, ym, heads); // [B, N, D]
    seer_tensor *h = seer_add(c, x, seer_mul(c, chunk[4], a));

    seer_tensor *y =
        modulate(c, seer_layer_norm(c, h, NULL, NULL, LN_EPS_BLOCK), chunk[5], chunk[6]);
    y = lin(c, seer_gelu_tanh(c, lin(c, y, &b->fc1)), &b->fc2); // [B, N, D]
    return seer_add(c, h, seer_mul(c, chunk[7], y));
}

// Blocks [first, first + n) over x, each in a scratch context; the output is copied into c.
static seer_tensor *run_blocks(seer_enat *m, seer_ctx *c, int first, int n, const seer_tensor *x,
                               const seer_tensor *context, const seer_tensor *cond) {
    seer_stages_begin(&m->stages);
    const seer_tensor *h = x;
    for (int i = first; i < first + n; i++)
        h = dit_block(seer_stages_next(&m->stages, c), &m->blocks[i], h, context, cond, m->cfg.heads);
    return seer_stages_end(&m->stages, c, h);
}

// PrevProj: x + mlp(LayerNorm(x)); x [B, N, D]
static seer_tensor *prev_proj(seer_enat *m, seer_ctx *c, const seer_tensor *x) {
    seer_tensor *h = seer_layer_norm(c, x, m->pp_norm_w, m->pp_norm_b, LN_EPS_BLOCK);
    h = lin(c, seer_gelu_tanh(c, lin(c, h, &m->pp_fc1)), &m->pp_fc2);
    return seer_add(c, h, x);
}

// ---- the forward pass ----------------------------------------------------------------------

// Host index lists of one forward pass, flattened over the batch (row b, position p -> b L + p).
typedef struct plan {
    int64_t B, L, Lv, Lm, Lo, Ln; // visible, masked, old visible (reused), newly visible
    int64_t *vis, *msk, *old, *new_, *merge, *restore;
} plan;

static void plan_free(plan *p) {
    free(p->vis);
    free(p->msk);
    free(p->old);
    free(p->new_);
    free(p->merge);
    free(p->restore);
}

static seer_status plan_make(const seer_enat_config *g, const seer_enat_input *in, plan *p) {
    int64_t B = in->batch, L = (int64_t)g->grid * g->grid, V = g->codebook_size;
    memset(p, 0, sizeof *p);
    p->B = B;
    p->L = L;
    for (int64_t b = 0; b < B; b++) {
        int64_t lm = 0, lo = 0;
        for (int64_t i = 0; i < L; i++) {
            int64_t id = in->ids[b * L + i];
            if (id < 0 || id > V)
                return seer_fail(SEER_STATUS_ARG,
                                 "ENAT: token id %lld at row %lld is outside [0, %lld]",
                                 (long long)id, (long long)b, (long long)V);
            bool masked = id == V;
            lm += masked;
            if (in->prev_masked) {
                if (masked && !in->prev_masked[b * L + i])
                    return seer_fail(
                        SEER_STATUS_ARG,
                        "ENAT: position %lld of row %lld is masked but was visible in the "
                        "previous step",
                        (long long)i, (long long)b);
                lo += !in->prev_masked[b * L + i];
            }
        }
        if (b == 0) {
            p->Lm = lm;
            p->Lo = lo;
        } else if (lm != p->Lm || lo != p->Lo) {
            return seer_fail(
                SEER_STATUS_ARG,
                "ENAT: every row needs the same number of masked (and "
                "previously visible) tokens: row 0 has %lld (%lld), row %lld has %lld (%lld)",
                (long long)p->Lm, (long long)p->Lo, (long long)b, (long long)lm, (long long)lo);
        }
    }
    p->Lv = L - p->Lm;
    p->Ln = p->Lv - p->Lo;
    p->vis = malloc(sizeof(int64_t) * (size_t)(B * L + 1));
    p->msk = malloc(sizeof(int64_t) * (size_t)(B * L + 1));
    p->old = malloc(sizeof(int64_t) * (size_t)(B * L + 1));
    p->new_ = malloc(sizeof(int64_t) * (size_t)(B * L + 1));
    p->merge = malloc(sizeof(int64_t) * (size_t)(B * L + 1));
    p->restore = malloc(sizeof(int64_t) * (size_t)(B * L + 1));
    if (!p->vis || !p->msk || !p->old || !p->new_ || !p->merge || !p->restore) {
        plan_free(p);
        return seer_fail(SEER_STATUS_OOM, "out of host memory");
    }
    int64_t nv = 0, nm = 0, no = 0, nn = 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t rv = 0, rm = 0, ro = 0, rn = 0;
        for (int64_t i = 0; i < L; i++) {
            int64_t at = b * L + i;
            if (in->ids[at] == V) {
                p->msk[nm++] = at;
                p->restore[at] = b * L + p->Lv + rm++; // from [visible; masked] of row b
                continue;
            }
            p->vis[nv++] = at;
            p->restore[at] = b * L + rv++;
            if (in->prev_masked && !in->prev_masked[at]) {
                p->old[no++] = at;
                p->merge[nv - 1] = B * p->Ln + b * p->Lo + ro++; // from [new (all rows); old]
            } else {
                p->new_[nn++] = at;
                p->merge[nv - 1] = b * p->Ln + rn++;
            }
        }
    }
    return SEER_STATUS_OK;
}

static seer_tensor *upload_i64(seer_ctx *c, const int64_t *host, int64_t n) {
    seer_tensor *t = seer_new(c, SEER_I64, 1, &n);
    if (!t) return NULL;
    seer_status st = seer_memcpy(seer_ctx_device(c), t->data, SEER_DEVICE_CPU, host,
                                 sizeof(int64_t) * (size_t)n);
    if (st != SEER_STATUS_OK) {
        seer_ctx_fail(c, st, "ENAT: uploading indices: %s", seer_last_error());
        return NULL;
    }
    return t;
}

// Rows idx (1-D, n of them) of x viewed as [B * L, D], as [B, n / B, D].
static seer_tensor *take(seer_ctx *c, const seer_tensor *x_flat, const int64_t *idx, int64_t n,
                         int64_t B) {
    if (!x_flat) return NULL;
    seer_tensor *t = seer_index_select(c, x_flat, 0, upload_i64(c, idx, n));
    return seer_reshape(c, t, 3, (int64_t[]){B, n / B, x_flat->shape[1]});
}

static seer_tensor *flat(seer_ctx *c, const seer_tensor *x) {
    if (!x) return NULL;
    return seer_reshape(c, seer_contiguous(c, x), 2,
                        (int64_t[]){x->shape[0] * x->shape[1], x->shape[2]});
}

seer_tensor *seer_enat_forward(seer_enat *m, seer_ctx *c, const seer_enat_input *in,
                               seer_tensor **feat_out) {
    if (feat_out) *feat_out = NULL;
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    const seer_enat_config *g = &m->cfg;
    int64_t B = in->batch, L = (int64_t)g->grid * g->grid, D = g->hidden;
    if (B < 1 || !in->ids || !in->labels || (!in->prev_feat) != (!in->prev_masked)) {
        seer_ctx_fail(c, SEER_STATUS_ARG,
                      "ENAT forward: give batch >= 1, ids, labels, and prev_feat "
                      "together with prev_masked");
        return NULL;
    }
    for (int64_t b = 0; b < B; b++)
        if (in->labels[b] < 0 || in->labels[b] > g->num_classes) {
            seer_ctx_fail(c, SEER_STATUS_ARG,
                          "ENAT: class %d is outside [0, %d] (%d = unconditional)", in->labels[b],
                          g->num_classes, g->num_classes);
            return NULL;
        }
    const seer_tensor *pf = in->prev_feat;
    if (pf && (pf->ndim != 3 || pf->shape[0] != B || pf->shape[1] != L || pf->shape[2] != D)) {
        char buf[128];
        seer_ctx_fail(c, SEER_STATUS_SHAPE, "ENAT: prev_feat must be [%lld, %lld, %lld], got %s",
                      (long long)B, (long long)L, (long long)D,
                      seer_tensor_shape_str(pf, buf, sizeof buf));
        return NULL;
    }
    plan p;
    seer_status st = plan_make(g, in, &p);
    if (st != SEER_STATUS_OK) {
        seer_ctx_fail(c, st, "%s", seer_last_error());
        return NULL;
    }
    int64_t *labels = malloc(sizeof(int64_t) * (size_t)B);
    if (!labels) {
        plan_free(&p);
        seer_ctx_fail(c, SEER_STATUS_OOM, "out of host memory");
        return NULL;
    }
    for (int64_t b = 0; b < B; b++)
        labels[b] = in->labels[b];

    // embeddings
    seer_tensor *x =
        seer_index_select(c, m->word_emb, 0, upload_i64(c, in->ids, B * L)); // [B L, D]
    x = seer_add(c, seer_reshape(c, x, 3, (int64_t[]){B, L, D}), m->pos_emb);
    x = seer_layer_norm(c, x, m->emb_ln_w, m->emb_ln_b, LN_EPS_BLOCK); // [B, L, D]
    seer_tensor *cond = seer_index_select(c, m->class_emb, 0, upload_i64(c, labels, B)); // [B, D]
    cond = seer_silu(c, cond); // adaLN_modulation starts with SiLU
    seer_tensor *x_flat = flat(c, x);
    seer_tensor *masked = p.Lm ? take(c, x_flat, p.msk, B * p.Lm, B) : NULL; // [B, Lm, D]

    // encoder: the visible tokens, or with a previous step only the newly visible ones, with
    // the projected previous features of the old visible tokens as context
    seer_tensor *prev = NULL, *enc_in;
    if (pf) {
        prev =
            p.Lo ? prev_proj(m, c, take(c, flat(c, pf), p.old, B * p.Lo, B)) : NULL; // [B, Lo, D]
        enc_in = p.Ln ? take(c, x_flat, p.new_, B * p.Ln, B) : NULL;                 // [B, Ln, D]
    } else {
        enc_in = p.Lv ? take(c, x_flat, p.vis, B * p.Lv, B) : NULL; // [B, Lv, D]
    }
    seer_tensor *enc = enc_in ? run_blocks(m, c, 0, g->depth_enc, enc_in, prev, cond) : NULL;
    seer_tensor *visible = enc; // [B, Lv, D] in position order
    if (prev && enc) {
        const seer_tensor *parts[2] = {flat(c, enc), flat(c, prev)};
        visible = take(c, seer_concat(c, parts, 2, 0), p.merge, B * p.Lv, B);
    } else if (prev) {
        visible = prev;
    }

    // decoder: the [MASK] tokens query [visible; masked]
    if (masked) masked = run_blocks(m, c, g->depth_enc, g->depth_dec, masked, visible, cond);

    // restore the positions: feat [B, L, D]
    seer_tensor *feat;
    if (visible && masked) {
        const seer_tensor *parts[2] = {visible, masked};
        feat = take(c, flat(c, seer_concat(c, parts, 2, 1)), p.restore, B * L, B);
    } else {
        feat = visible ? visible : masked;
    }

    // head: logits against the (tied) word embeddings
    seer_tensor *h = seer_layer_norm(c, feat, m->norm_w, m->norm_b, LN_EPS_HEAD);
    h = seer_gelu(c, lin(c, h, &m->mlm_fc));
    h = seer_layer_norm(c, h, m->mlm_ln_w, m->mlm_ln_b, LN_EPS_HEAD);
    seer_tensor *logits = lin_view(c, h, &m->head); // [B, L, V]

    free(labels);
    plan_free(&p);
    if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;
    if (feat_out) *feat_out = feat;
    return logits;
}
