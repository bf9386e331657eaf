// The inference thread and the jobs it runs (see worker.h).
#include "app/gui/worker.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/gui/assets.h"
#include "app/gui/gen_adapter.h"
#include "backbones/model.h"
#include "vision/attention.h"
#include "vision/classify.h"
#include "vision/preprocess.h"

// Display copies of big photos are shrunk: textures have size limits, and nobody sees more.
#define DISPLAY_MAX_SIDE 2048

struct gui_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, has_job, busy, has_result, has_progress;
    gui_job job;
    gui_job_result result;
    gui_progress progress;
    volatile int cancel;
    gui_wake_fn wake;
    void *wake_user;

    // owned by the worker thread
    seer_model *model;
    seer_ctx *ctx;
    seer_labels labels;
    gui_gen *gen;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static void fail(gui_job_result *r, seer_status st, const char *msg) {
    r->status = st;
    gui_copy(r->error, sizeof r->error, msg && *msg ? msg : seer_status_name(st));
}

// ---- progress from inside a job -------------------------------------------------------------

static void post_progress(gui_worker *w, int done, int total, const char *text, seer_image *preview, int n,
                          int step, int steps) {
    pthread_mutex_lock(&w->mu);
    gui_progress *p = &w->progress;
    for (int i = 0; i < p->n_preview; i++) seer_image_free(&p->preview[i]);
    free(p->preview);
    *p = (gui_progress){.job_id = w->job.id, .done = done, .total = total, .preview = preview,
                        .n_preview = n, .step = step, .steps = steps};
    gui_copy(p->text, sizeof p->text, text ? text : "");
    w->has_progress = true;
    pthread_mutex_unlock(&w->mu);
    if (w->wake) w->wake(w->wake_user);
}

// ---- the jobs -----------------------------------------------------------------------------

static void unload_model(gui_worker *w) {
    seer_model_free(w->model);
    seer_labels_free(&w->labels);
    w->model = NULL;
}

static void job_load_model(gui_worker *w, const gui_job *j, gui_job_result *r) {
    unload_model(w);
    post_progress(w, 0, 0, "Loading classifier", NULL, 0, 0, 0);
    if (w->ctx && seer_ctx_device(w->ctx) != j->device) {
        seer_ctx_free(w->ctx);
        w->ctx = NULL;
    }
    if (!w->ctx && !(w->ctx = seer_ctx_new(j->device))) return fail(r, SEER_STATUS_DEVICE, seer_last_error());
    double t0 = now_ms();
    seer_status st = seer_model_load(j->path, NULL, j->device, j->dtype, &w->model);
    r->ms = now_ms() - t0;
    if (st != SEER_STATUS_OK) return fail(r, st, seer_last_error());
    const seer_arch *a = w->model->arch;
    char labels_note[96] = "";
    const int nc = w->model->num_classes;
    if (gui_load_labels(w->model->labels, nc, &w->labels) != SEER_STATUS_OK) {
        // Classes still work by number; say why the names are missing.
        snprintf(labels_note, sizeof labels_note, " · no names (%s)", w->model->labels[0] ? w->model->labels : "no label set");
        memset(&w->labels, 0, sizeof w->labels);
    }
    // Named by its file (assets/models/van_cifar.safetensors is "van_cifar"; the architecture
    // it loads as, van_b0 with its own config, goes to the info line), sized by its preprocessing.
    const char *base = strrchr(w->model->path, '/');
    gui_copy(r->name, sizeof r->name, base ? base + 1 : w->model->path);
    char *ext = strstr(r->name, ".safetensors");
    if (ext && ext != r->name) *ext = '\0';
    seer_preprocess pre;
    const int side = seer_model_preprocess(w->model, &pre) == SEER_STATUS_OK ? pre.size : a->img_size;
    snprintf(r->info, sizeof r->info, "%s · %s · %d classes · %d×%d · %s%s", a->name, a->family, nc, side,
             side, seer_dtype_name(w->model->dtype), labels_note);
    r->num_classes = nc;
    seer_attention_info info;
    r->has_attention = seer_model_attention_info(w->model, &info);
    seer_clear_error();
}

// The readable part of a label: "tench, Tinca tinca" -> "tench".
static void short_label(const seer_labels *l, int id, char *out, size_t n) {
    if (!l->count || id < 0 || id >= l->count) {
        snprintf(out, n, "class %d", id);
        return;
    }
    const char *name = l->name[id] && l->name[id][0] ? l->name[id] : l->id[id];
    snprintf(out, n, "%.*s", (int)strcspn(name, ","), name);
}

typedef struct classify_ctx {
    gui_worker *w;
    gui_job_result *r;
} classify_ctx;

static int on_result(const seer_classify_result *res, void *user) {
    classify_ctx *c = user;
    gui_job_result *r = c->r;
    if (res->status != SEER_STATUS_OK) {
        fail(r, res->status, res->error);
        return 0;
    }
    r->classified = true;
    r->k = res->k < GUI_TOPK ? res->k : GUI_TOPK;
    for (int i = 0; i < r->k; i++) {
        r->class_id[i] = res->class_id[i];
        r->prob[i] = res->prob[i];
        short_label(&c->w->labels, res->class_id[i], r->label[i], sizeof r->label[i]);
    }
    return 0;
}

static void shrink_for_display(seer_image *img) {
    int side = img->w > img->h ? img->w : img->h;
    if (side <= DISPLAY_MAX_SIDE) return;
    int w = (int)((long long)img->w * DISPLAY_MAX_SIDE / side), h = (int)((long long)img->h * DISPLAY_MAX_SIDE / side);
    seer_image small = {.w = w > 0 ? w : 1, .h = h > 0 ? h : 1, .c = img->c};
    small.px = malloc((size_t)small.w * (size_t)small.h * (size_t)small.c);
    if (!small.px) return;
    if (seer_resample_u8(img->px, img->w, img->h, img->c, small.px, small.w, small.h, SEER_RESAMPLE_BILINEAR) !=
        SEER_STATUS_OK) {
        free(small.px);
        return;
    }
    seer_image_free(img);
    *img = small;
}

// The model's input region in a w x h image, as fractions: its preset resizes, then takes a
// centre crop (torchvision's CenterCrop rounding).
// The attention view of the image, after its classification (a second forward pass that
// records the attention; not counted in the latency shown). Its failure is shown beside the
// image, the classification stands.
static void attention_map(gui_worker *w, const gui_job *j, gui_job_result *r) {
    post_progress(w, 0, 1, "Attention map", NULL, 0, 0, 0);
    seer_attention_map m;
    seer_status st = seer_attention_map_file(w->model, w->ctx, j->path, j->attn_qx, j->attn_qy, &m);
    if (st != SEER_STATUS_OK) {
        gui_copy(r->attn_error, sizeof r->attn_error, seer_last_error());
        seer_clear_error();
        return;
    }
    r->attn = m.map;
    r->attn_h = m.h;
    r->attn_w = m.w;
    r->attn_uses_query = m.uses_query;
    gui_copy(r->attn_method, sizeof r->attn_method, m.method);
}

static void job_classify(gui_worker *w, const gui_job *j, gui_job_result *r) {
    post_progress(w, 0, 1, w->model ? "Classifying" : "Opening", NULL, 0, 0, 0);
    // Shown as the model sees it: pixels as stored, no EXIF rotation (models are evaluated
    // without it), so the input region drawn on top is where the model looks.
    seer_status st = seer_image_load(j->path, NULL, &r->image);
    if (st != SEER_STATUS_OK) return fail(r, st, seer_last_error());
    FILE *f = fopen(j->path, "rb");
    long bytes = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) bytes = ftell(f);
    if (f) fclose(f);
    snprintf(r->image_info, sizeof r->image_info, "%d×%d · %.1f KB", r->image.w, r->image.h, bytes / 1024.0);
    if (w->model) seer_attention_input_region(w->model, r->image.w, r->image.h, r->crop);
    shrink_for_display(&r->image);
    if (!w->model) return;  // shown only
    seer_dataset_item item = {.path = (char *)j->path, .label = -1};
    int k = w->model->num_classes < GUI_TOPK ? w->model->num_classes : GUI_TOPK;
    seer_classify_opts o = {.batch = 1, .topk = k, .cancel = &w->cancel};
    classify_ctx cc = {.w = w, .r = r};
    double t0 = now_ms();
    st = seer_classify_run(w->model, w->ctx, &item, 1, &o, on_result, &cc);
    r->ms = now_ms() - t0;
    if (st != SEER_STATUS_OK) return fail(r, st, seer_last_error());
    if (j->attention && r->classified) attention_map(w, j, r);
}

static void job_load_gen(gui_worker *w, const gui_job *j, gui_job_result *r) {
    gui_gen_free(w->gen);
    w->gen = NULL;
    if (!gui_gen_built()) return fail(r, SEER_STATUS_UNSUPPORTED, "generator not available in this build");
    post_progress(w, 0, 0, "Loading generator", NULL, 0, 0, 0);
    double t0 = now_ms();
    seer_status st = gui_gen_load(j->path, j->path2, j->device, j->dtype, &w->gen);
    r->ms = now_ms() - t0;
    if (st != SEER_STATUS_OK) return fail(r, st, seer_last_error());
    gui_gen_info gi;
    gui_gen_get_info(w->gen, &gi);
    gui_copy(r->name, sizeof r->name, gi.name);
    snprintf(r->info, sizeof r->info, "%d classes · %d×%d tokens · %d×%d px", gi.num_classes, gi.grid, gi.grid,
             gi.side, gi.side);
    r->num_classes = gi.num_classes;
    r->gen_steps = gi.steps;
    r->gen_cfg = gi.cfg;
    r->gen_temp = gi.temp;
    r->gen_mask_temp = gi.mask_temp;
    gui_copy(r->gen_guide, sizeof r->gen_guide, gi.guide);
    r->gen_guide_w = gi.guide_w;
    // Class names: ImageNet's or CIFAR-10's when the class count says so; else numbers.
    seer_labels l;
    const char *set = gi.num_classes == 1000 ? "imagenet" : gi.num_classes == 10 ? "cifar10" : NULL;
    if (set && gui_load_labels(set, gi.num_classes, &l) == SEER_STATUS_OK) {
        r->class_names = calloc((size_t)l.count, sizeof *r->class_names);
        for (int i = 0; r->class_names && i < l.count; i++)
            r->class_names[i] = strdup(l.name[i] && l.name[i][0] ? l.name[i] : l.id[i]);
        seer_labels_free(&l);
    }
    if (!r->class_names) {
        r->class_names = calloc((size_t)gi.num_classes, sizeof *r->class_names);
        for (int i = 0; r->class_names && i < gi.num_classes; i++) {
            char b[32];
            snprintf(b, sizeof b, "class %d", i);
            r->class_names[i] = strdup(b);
        }
    }
    if (!r->class_names) r->num_classes = 0;
    seer_clear_error();
}

static int on_gen_step(int step, int steps, seer_image *partial, int n, void *user) {
    gui_worker *w = user;
    char text[64];
    snprintf(text, sizeof text, "Step %d of %d", step + 1, steps);
    post_progress(w, step + 1, steps, text, partial, n, step + 1, steps);
    return w->cancel;
}

static void job_generate(gui_worker *w, const gui_job *j, gui_job_result *r) {
    if (!w->gen) return fail(r, SEER_STATUS_NOT_FOUND, "no generator weights loaded");
    r->images = calloc((size_t)j->count, sizeof *r->images);
    if (!r->images) return fail(r, SEER_STATUS_OOM, "out of host memory");
    gui_gen_params p = {.class_id = j->class_id, .count = j->count, .steps = j->steps, .cfg = j->cfg,
                        .temp = j->temp, .mask_temp = j->mask_temp, .seed = j->seed};
    post_progress(w, 0, j->steps, "Starting", NULL, 0, 0, j->steps);
    double t0 = now_ms();
    seer_status st = gui_gen_run(w->gen, &p, on_gen_step, w, &w->cancel, r->images);
    r->ms = now_ms() - t0;
    if (st != SEER_STATUS_OK) {
        free(r->images);
        r->images = NULL;
        return fail(r, st, seer_last_error());
    }
    r->n_images = j->count;
}

// CPU threads for a job. A CIFAR-sized model does microseconds of work per op: sharing it
// costs more than it saves (and on a busy machine a team of threads waiting at every op's
// barrier made ResNet-8 take hundreds of ms instead of half of one), so small inputs run on
// one thread; bigger models use every core.
static void set_threads(const gui_worker *w, const gui_job *j) {
    int n = j->threads;
    if (n <= 0) n = w->model && w->model->arch->img_size <= 64 && j->kind == GUI_JOB_CLASSIFY ? 1 : omp_get_num_procs();
    omp_set_num_threads(n);
}

static void run_job(gui_worker *w, const gui_job *j, gui_job_result *r) {
    set_threads(w, j);
    memset(r, 0, sizeof *r);
    r->kind = j->kind;
    r->id = j->id;
    seer_clear_error();
    switch (j->kind) {
    case GUI_JOB_LOAD_MODEL: job_load_model(w, j, r); break;
    case GUI_JOB_CLASSIFY: job_classify(w, j, r); break;
    case GUI_JOB_LOAD_GEN: job_load_gen(w, j, r); break;
    case GUI_JOB_GENERATE: job_generate(w, j, r); break;
    default: fail(r, SEER_STATUS_ARG, "unknown job"); break;
    }
    if (w->model) r->weights_bytes = seer_weights_bytes(w->model->weights);
    if (w->ctx) r->arena_bytes = seer_arena_high_water(seer_ctx_arena(w->ctx));
    if (w->gen) {
        r->arena_bytes += gui_gen_arena_bytes(w->gen);
        r->weights_bytes += gui_gen_weights_bytes(w->gen);
    }
    r->rss_bytes = gui_rss_bytes();
}

// ---- the thread ---------------------------------------------------------------------------

static void *worker_main(void *arg) {
    gui_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !w->has_job) pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) break;
        gui_job j = w->job;
        w->has_job = false;
        pthread_mutex_unlock(&w->mu);

        gui_job_result r;
        run_job(w, &j, &r);

        pthread_mutex_lock(&w->mu);
        gui_job_result_free(&w->result);  // an unread older result (cannot happen: one at a time)
        w->result = r;
        w->has_result = true;
        w->busy = false;
        pthread_mutex_unlock(&w->mu);
        if (w->wake) w->wake(w->wake_user);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

gui_worker *gui_worker_new(gui_wake_fn wake, void *user) {
    gui_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->wake = wake;
    w->wake_user = user;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void gui_worker_free(gui_worker *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    w->cancel = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    gui_job_result_free(&w->result);
    for (int i = 0; i < w->progress.n_preview; i++) seer_image_free(&w->progress.preview[i]);
    free(w->progress.preview);
    unload_model(w);
    gui_gen_free(w->gen);
    seer_ctx_free(w->ctx);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

bool gui_worker_submit(gui_worker *w, const gui_job *j) {
    pthread_mutex_lock(&w->mu);
    bool ok = !w->busy && !w->has_job;
    if (ok) {
        w->job = *j;
        w->has_job = w->busy = true;
        w->cancel = 0;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return ok;
}

void gui_worker_cancel(gui_worker *w) { w->cancel = 1; }

bool gui_worker_busy(gui_worker *w) {
    pthread_mutex_lock(&w->mu);
    bool b = w->busy || w->has_result;
    pthread_mutex_unlock(&w->mu);
    return b;
}

bool gui_worker_result(gui_worker *w, gui_job_result *out) {
    pthread_mutex_lock(&w->mu);
    bool has = w->has_result;
    if (has) {
        *out = w->result;
        memset(&w->result, 0, sizeof w->result);
        w->has_result = false;
        // progress of a finished job is stale
        for (int i = 0; i < w->progress.n_preview; i++) seer_image_free(&w->progress.preview[i]);
        free(w->progress.preview);
        memset(&w->progress, 0, sizeof w->progress);
        w->has_progress = false;
    }
    pthread_mutex_unlock(&w->mu);
    return has;
}

bool gui_worker_progress(gui_worker *w, gui_progress *out) {
    pthread_mutex_lock(&w->mu);
    bool has = w->has_progress;
    if (has) {
        *out = w->progress;
        memset(&w->progress, 0, sizeof w->progress);
        w->has_progress = false;
    }
    pthread_mutex_unlock(&w->mu);
    return has;
}
