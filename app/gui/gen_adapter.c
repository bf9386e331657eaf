// The generator adapter (see gen_adapter.h): ENAT + VQGAN through their public headers only.
#include "app/gui/gen_adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ops.h"
#include "core/status.h"

#if defined(__has_include)
#if __has_include("generate/enat.h") && __has_include("tokenizer/vqgan.h")
#define GUI_HAVE_GENERATOR 1
#endif
#endif

#ifdef GUI_HAVE_GENERATOR

#include "generate/enat.h"
#include "tokenizer/vqgan.h"

struct gui_gen {
    seer_enat *enat;
    seer_enat *guide;  // the guide its metadata names (NULL: none)
    seer_vqgan *vq;
    seer_ctx *ctx;     // the sampler's context (reset by it every step)
    seer_ctx *dec;     // decoding the partial grids while the sampler runs
    seer_device dev;
    size_t weights_bytes;
    gui_gen_info info;
};

bool gui_gen_built(void) { return true; }

void gui_gen_free(gui_gen *g) {
    if (!g) return;
    seer_enat_free(g->enat);
    seer_enat_free(g->guide);
    seer_vqgan_free(g->vq);
    seer_ctx_free(g->ctx);
    seer_ctx_free(g->dec);
    free(g);
}

seer_status gui_gen_load(const char *gen_path, const char *tok_path, seer_device dev, seer_dtype dt,
                         gui_gen **out) {
    *out = NULL;
    if (!tok_path || !*tok_path)
        return seer_fail(SEER_STATUS_NOT_FOUND, "no tokenizer: the generator needs its VQ tokenizer "
                                                "(vq-f16-jax.safetensors); open it together with the generator");
    gui_gen *g = calloc(1, sizeof *g);
    if (!g) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    g->dev = dev;
    seer_status st = SEER_STATUS_OK;
    if (!(g->ctx = seer_ctx_new(dev)) || !(g->dec = seer_ctx_new(dev))) st = SEER_STATUS_DEVICE;
    if (st == SEER_STATUS_OK) st = seer_enat_load(gen_path, dev, dt, &g->enat);
    if (st == SEER_STATUS_OK) st = seer_vqgan_load(tok_path, dev, dt, &g->vq);
    if (st != SEER_STATUS_OK) {
        gui_gen_free(g);
        return st;
    }
    const seer_enat_config *c = seer_enat_get_config(g->enat);
    const seer_vqgan_config *t = seer_vqgan_get_config(g->vq);
    char guide_path[4096];
    size_t guide_bytes = 0;
    if (c->guide[0]) { // the sampler's guide lives next to the generator
        struct stat gs;
        if (!seer_enat_guide_path(gen_path, c->guide, guide_path, sizeof guide_path)) {
            gui_gen_free(g);
            return seer_fail(SEER_STATUS_NOT_FOUND, "%s is guided by %s.safetensors (metadata enat.guide), "
                             "which is not next to it", gen_path, c->guide);
        }
        if ((st = seer_enat_load(guide_path, dev, dt, &g->guide)) != SEER_STATUS_OK) {
            gui_gen_free(g);
            return st;
        }
        if (stat(guide_path, &gs) == 0) guide_bytes = (size_t)gs.st_size;
    }
    if (c->codebook_size != t->n_embed) {
        gui_gen_free(g);
        return seer_fail(SEER_STATUS_SHAPE, "the generator predicts %d token ids but the tokenizer has %d codes: "
                         "not a pair", c->codebook_size, t->n_embed);
    }
    struct stat a, b;
    if (stat(gen_path, &a) == 0 && stat(tok_path, &b) == 0)
        g->weights_bytes = ((size_t)(a.st_size + b.st_size) + guide_bytes) / 4 * seer_dtype_size(dt);
    gui_gen_info *i = &g->info;
    snprintf(i->name, sizeof i->name, "%s", seer_enat_name(g->enat));
    i->num_classes = c->num_classes;
    i->grid = c->grid;
    i->side = c->grid * seer_vqgan_factor(g->vq);
    i->steps = c->steps;
    i->cfg = c->cfg;
    i->temp = c->samp_temp;
    i->mask_temp = c->mask_temp;
    if (g->guide) {
        snprintf(i->guide, sizeof i->guide, "%s", seer_enat_name(g->guide));
        i->guide_w = c->guide_w;
    }
    *out = g;
    return SEER_STATUS_OK;
}

void gui_gen_get_info(const gui_gen *g, gui_gen_info *out) { *out = g->info; }

size_t gui_gen_arena_bytes(const gui_gen *g) {
    return seer_arena_high_water(seer_ctx_arena(g->ctx)) + seer_arena_high_water(seer_ctx_arena(g->dec));
}

size_t gui_gen_weights_bytes(const gui_gen *g) { return g->weights_bytes; }

// ids [n * L] (any id may be [MASK] = codebook size) -> n images; masked tokens are decoded as
// id 0 and then painted over, so what shows is exactly what the sampler has committed.
static seer_status decode(gui_gen *g, seer_ctx *c, const int64_t *ids, int n, bool show_masks, seer_image *out) {
    int grid = g->info.grid, L = grid * grid, V = seer_enat_get_config(g->enat)->codebook_size;
    size_t count = (size_t)n * (size_t)L;
    int64_t *fixed = malloc(sizeof *fixed * count);
    if (!fixed) return seer_fail(SEER_STATUS_OOM, "out of host memory");
    for (size_t i = 0; i < count; i++) fixed[i] = ids[i] >= V ? 0 : ids[i];
    seer_ctx_reset(c);
    seer_tensor *t = seer_new(c, SEER_I64, 3, (int64_t[]){n, grid, grid});
    if (t && seer_memcpy(g->dev, t->data, SEER_DEVICE_CPU, fixed, sizeof *fixed * count) != SEER_STATUS_OK)
        seer_ctx_fail(c, SEER_STATUS_DEVICE, "uploading tokens: %s", seer_last_error());
    free(fixed);
    seer_tensor *x = seer_vqgan_decode(g->vq, c, t);
    if (!x) return seer_fail(seer_ctx_status(c), "decoding tokens: %s", seer_ctx_error(c));
    SEER_TRY(seer_vqgan_to_images(c, x, out));
    if (!show_masks) return SEER_STATUS_OK;
    int f = seer_vqgan_factor(g->vq);
    for (int b = 0; b < n; b++) {
        for (int p = 0; p < L; p++) {
            if (ids[(size_t)b * L + p] < V) continue;
            int ty = p / grid, tx = p % grid;
            for (int y = ty * f; y < (ty + 1) * f; y++) {
                for (int x0 = tx * f; x0 < (tx + 1) * f; x0++) {
                    // a fine checkerboard reads as "not decided yet" at any zoom
                    uint8_t v = ((x0 / 2 + y / 2) & 1) ? 38 : 30, *px = out[b].px + ((size_t)y * out[b].w + x0) * 3;
                    px[0] = v;
                    px[1] = v;
                    px[2] = (uint8_t)(v + 6);
                }
            }
        }
    }
    return SEER_STATUS_OK;
}

typedef struct step_ctx {
    gui_gen *g;
    gui_gen_step_fn fn;
    void *user;
    volatile int *cancel;
    int n;
} step_ctx;

static int on_step(int step, int steps, const int64_t *ids, int batch, void *user) {
    step_ctx *sc = user;
    if (sc->cancel && *sc->cancel) return 1;
    if (!sc->fn) return 0;
    seer_image *imgs = calloc((size_t)batch, sizeof *imgs);
    // A failed preview is not a failed run: the final decode reports real errors.
    if (imgs && decode(sc->g, sc->g->dec, ids, batch, true, imgs) == SEER_STATUS_OK) {
        if (sc->fn(step, steps, imgs, batch, sc->user)) return 1;
    } else {
        free(imgs);
    }
    return sc->cancel && *sc->cancel;
}

seer_status gui_gen_run(gui_gen *g, const gui_gen_params *p, gui_gen_step_fn fn, void *user,
                        volatile int *cancel, seer_image *out) {
    if (p->count < 1 || p->class_id < 0 || p->class_id >= g->info.num_classes)
        return seer_fail(SEER_STATUS_ARG, "class %d is outside [0, %d)", p->class_id, g->info.num_classes);
    int n = p->count, L = g->info.grid * g->info.grid;
    int32_t *labels = malloc(sizeof *labels * (size_t)n);
    uint64_t *seeds = malloc(sizeof *seeds * (size_t)n);
    int64_t *ids = malloc(sizeof *ids * (size_t)n * (size_t)L);
    seer_status st = labels && seeds && ids ? SEER_STATUS_OK : seer_fail(SEER_STATUS_OOM, "out of host memory");
    for (int i = 0; st == SEER_STATUS_OK && i < n; i++) {
        labels[i] = p->class_id;
        seeds[i] = p->seed + (uint64_t)i;
    }
    step_ctx sc = {.g = g, .fn = fn, .user = user, .cancel = cancel, .n = n};
    seer_enat_sample_opts so = {.steps = p->steps, .cfg = p->cfg, .mask_temp = p->mask_temp,
                                .samp_temp = p->temp, .guide = g->guide,
                                .guide_w = seer_enat_get_config(g->enat)->guide_w, .seeds = seeds,
                                .on_step = on_step, .user = &sc};
    if (st == SEER_STATUS_OK) st = seer_enat_generate(g->enat, g->ctx, labels, n, &so, ids);
    if (st == SEER_STATUS_OK) st = decode(g, g->ctx, ids, n, false, out);
    seer_ctx_reset(g->ctx);
    seer_ctx_reset(g->dec);
    free(labels);
    free(seeds);
    free(ids);
    return st;
}

#else  // no generator API in this tree

struct gui_gen {
    int unused;
};

bool gui_gen_built(void) { return false; }

seer_status gui_gen_load(const char *gen_path, const char *tok_path, seer_device dev, seer_dtype dt,
                         gui_gen **out) {
    (void)gen_path;
    (void)tok_path;
    (void)dev;
    (void)dt;
    *out = NULL;
    return seer_fail(SEER_STATUS_UNSUPPORTED, "generator not available in this build");
}

void gui_gen_free(gui_gen *g) { free(g); }
void gui_gen_get_info(const gui_gen *g, gui_gen_info *out) {
    (void)g;
    memset(out, 0, sizeof *out);
}
size_t gui_gen_arena_bytes(const gui_gen *g) {
    (void)g;
    return 0;
}
size_t gui_gen_weights_bytes(const gui_gen *g) {
    (void)g;
    return 0;
}

seer_status gui_gen_run(gui_gen *g, const gui_gen_params *p, gui_gen_step_fn fn, void *user,
                        volatile int *cancel, seer_image *out) {
    (void)g;
    (void)p;
    (void)fn;
    (void)user;
    (void)cancel;
    (void)out;
    return seer_fail(SEER_STATUS_UNSUPPORTED, "generator not available in this build");
}

#endif
