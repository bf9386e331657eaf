// The state machine's jobs (see state.h): generation requests, handing out jobs in order,
// and taking their results in.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/gui/state.h"
#include "app/gui/state_internal.h"
#include "core/status.h"

// ---- generation ---------------------------------------------------------------------------

static bool field_int(gui_state *s, gui_field f, const char *what, long lo, long hi, long *out) {
    const char *v = s->field[f].buf;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    while (*end == ' ') end++;
    if (!*v || *end || errno || x < lo || x > hi) {
        gui_state_error(s, "%s must be a whole number from %ld to %ld (got '%s')", what, lo, hi, v);
        return false;
    }
    *out = x;
    return true;
}

static bool field_float(gui_state *s, gui_field f, const char *what, double hi, float *out) {
    const char *v = s->field[f].buf;
    char *end;
    double x = strtod(v, &end);
    while (*end == ' ') end++;
    if (!*v || *end || !(x >= 0) || x > hi) {
        gui_state_error(s, "%s must be a number from 0 to %g (got '%s')", what, hi, v);
        return false;
    }
    *out = (float)x;
    return true;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

bool gui_state_request_generate(gui_state *s) {
    if (!s->gen_loaded) {
        gui_state_error(s, "no generator weights loaded: pick a generator in the model menu or "
                           "open a weights file (Ctrl+O)");
        return false;
    }
    if (s->class_sel < 0) {
        gui_state_error(s, "pick a class to generate first (search by name)");
        return false;
    }
    gui_job j = {.kind = GUI_JOB_GENERATE, .class_id = s->class_sel};
    long steps, count;
    if (!field_int(s, GUI_FIELD_STEPS, "steps", 1, 1024, &steps) ||
        !field_float(s, GUI_FIELD_CFG, "CFG", 100, &j.cfg) ||
        !field_float(s, GUI_FIELD_TEMP, "temperature", 1000, &j.temp) ||
        !field_float(s, GUI_FIELD_MASK_TEMP, "mask temperature", 1000, &j.mask_temp) ||
        !field_int(s, GUI_FIELD_COUNT, "count", 1, 64, &count))
        return false;
    if (s->seed_random) {
        // Nine digits: short enough to read back and type, plenty to never repeat by chance.
        j.seed = splitmix64(&s->rng) % 1000000000u;
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)j.seed);
        gui_edit_set(&s->field[GUI_FIELD_SEED], buf);
    } else {
        const char *v = s->field[GUI_FIELD_SEED].buf;
        char *end;
        errno = 0;
        unsigned long long seed = strtoull(v, &end, 10);
        if (!*v || *v == '-' || *end || errno) {
            gui_state_error(s, "seed must be a whole number >= 0, or press 'random' (got '%s')", v);
            return false;
        }
        j.seed = seed;
    }
    j.steps = (int)steps;
    j.count = (int)count;
    s->gen_request = j;
    s->want_generate = true;
    s->error[0] = '\0';
    return true;
}

void gui_state_toggle_result(gui_state *s, int index) {
    if (index < 0 || index >= s->n_results) return;
    s->results[index].selected = !s->results[index].selected;
    s->result_cursor = index;
}

void gui_state_select_all_results(gui_state *s, bool on) {
    for (int i = 0; i < s->n_results; i++) s->results[i].selected = on;
}

int gui_state_results_to_save(const gui_state *s, int *idx, int cap) {
    int n = 0, n_sel = 0;
    for (int i = 0; i < s->n_results; i++) n_sel += s->results[i].selected;
    for (int i = 0; i < s->n_results && n < cap; i++)
        if (n_sel == 0 || s->results[i].selected) idx[n++] = i;
    return n;
}

// ---- jobs ---------------------------------------------------------------------------------

bool gui_state_idle(const gui_state *s) {
    return !s->busy && !s->want_load_model && !(s->want_classify && s->n_files > 0) &&
           !s->want_load_gen && !s->want_generate;
}

bool gui_state_take_job(gui_state *s, gui_job *out) {
    if (s->busy) return false;
    gui_job j = {.device = s->device, .dtype = s->dtype, .threads = s->threads};
    if (s->want_load_model && s->model_sel >= 0) {
        j.kind = GUI_JOB_LOAD_MODEL;
        gui_copy(j.path, sizeof j.path, s->classifiers.items[s->model_sel].path);
        s->want_load_model = false;
        snprintf(s->progress_text, sizeof s->progress_text, "Loading %s",
                 s->classifiers.items[s->model_sel].label);
    } else if (s->want_classify && s->n_files > 0) {
        j.kind = GUI_JOB_CLASSIFY;
        j.file_index = s->file_index;
        j.attention = s->attention_on && s->has_attention;
        j.attn_qx = s->attn_qx;
        j.attn_qy = s->attn_qy;
        gui_copy(j.path, sizeof j.path, s->files[s->file_index]);
        s->want_classify = false;
        gui_copy(s->progress_text, sizeof s->progress_text, s->model_loaded ? "Classifying" : "Opening");
    } else if (s->want_load_gen && s->gen_sel >= 0) {
        j.kind = GUI_JOB_LOAD_GEN;
        gui_copy(j.path, sizeof j.path, s->generators.items[s->gen_sel].path);
        gui_copy(j.path2, sizeof j.path2, s->tokenizer_path);
        s->want_load_gen = false;
        snprintf(s->progress_text, sizeof s->progress_text, "Loading %s", s->generators.items[s->gen_sel].label);
    } else if (s->want_generate && s->gen_loaded) {
        j = s->gen_request;
        j.device = s->device;
        j.dtype = s->dtype;
        j.threads = s->threads;
        s->want_generate = false;
        snprintf(s->progress_text, sizeof s->progress_text, "Generating");
        gui_clear_preview(s);
    } else {
        s->want_load_model = s->want_load_gen = s->want_generate = false;
        return false;
    }
    j.id = s->next_job_id++;
    s->running = j;
    s->busy = true;
    s->cancel_requested = false;
    s->progress_done = 0;
    s->progress_total = 0;
    *out = j;
    return true;
}

void gui_state_set_attention(gui_state *s, bool on) {
    s->attention_on = on;
    if (on && s->has_attention && s->classified && !s->attn && gui_state_current_file(s)) s->want_classify = true;
}

void gui_state_attention_query(gui_state *s, float qx, float qy) {
    if (!s->attention_on || !s->has_attention || !s->attn_uses_query || !gui_state_current_file(s)) return;
    s->attn_qx = qx >= 0 && qy >= 0 ? (qx < 1 ? qx : 1) : -1;
    s->attn_qy = qx >= 0 && qy >= 0 ? (qy < 1 ? qy : 1) : -1;
    s->want_classify = true;
}

void gui_state_job_progress(gui_state *s, int done, int total, const char *text) {
    s->progress_done = done;
    s->progress_total = total;
    if (text) gui_copy(s->progress_text, sizeof s->progress_text, text);
}

void gui_state_gen_preview(gui_state *s, int step, int steps, seer_image *images, int n) {
    gui_clear_preview(s);
    s->preview = images;
    s->n_preview = n;
    s->preview_step = step;
    s->preview_steps = steps;
    gui_state_job_progress(s, step, steps, NULL);
}

void gui_state_cancel(gui_state *s) {
    s->want_classify = s->want_generate = false;
    if (s->busy) {
        s->cancel_requested = true;
        snprintf(s->progress_text, sizeof s->progress_text, "Cancelling");
        gui_state_push_action(s, GUI_ACT_CANCEL);
    }
}

static void take_memory(gui_state *s, const gui_job_result *r) {
    if (r->weights_bytes || r->arena_bytes) {
        s->weights_bytes = r->weights_bytes;
        s->arena_bytes = r->arena_bytes;
    }
    if (r->rss_bytes) s->rss_bytes = r->rss_bytes;
}

static void classify_done(gui_state *s, gui_job_result *r) {
    // A newer file was asked for meanwhile: this one is stale, its image would only flash.
    if (s->want_classify && r->id == s->running.id && s->running.file_index != s->file_index) return;
    seer_image_free(&s->shown);
    s->shown = r->image;
    memset(&r->image, 0, sizeof r->image);
    s->shown_version++;
    gui_copy(s->shown_path, sizeof s->shown_path, s->running.path);
    gui_copy(s->shown_info, sizeof s->shown_info, r->image_info);
    memcpy(s->shown_crop, r->crop, sizeof s->shown_crop);
    s->shown_error[0] = '\0';
    s->classified = false;
    s->k = 0;
    free(s->attn);
    s->attn = r->attn;
    r->attn = NULL;
    s->attn_h = r->attn_h;
    s->attn_w = r->attn_w;
    s->attn_version++;
    gui_copy(s->attn_method, sizeof s->attn_method, r->attn_method);
    gui_copy(s->attn_error, sizeof s->attn_error, r->attn_error);
    s->attn_uses_query = r->attn_uses_query;
    if (r->status != SEER_STATUS_OK) {
        gui_copy(s->shown_error, sizeof s->shown_error, r->error);
        return;
    }
    s->classified = r->classified;
    if (!r->classified) return;
    s->k = r->k < GUI_TOPK ? r->k : GUI_TOPK;
    for (int i = 0; i < s->k; i++) {
        s->top_id[i] = r->class_id[i];
        s->top_prob[i] = r->prob[i];
        gui_copy(s->top_label[i], sizeof s->top_label[i], r->label[i]);
    }
    s->last_ms = r->ms;
}

static void generate_done(gui_state *s, gui_job_result *r) {
    if (r->status != SEER_STATUS_OK) {
        gui_clear_preview(s);
        if (r->status == SEER_STATUS_CANCELLED) gui_state_notice(s, "generation cancelled");
        else gui_state_error(s, "generation failed: %s", r->error);
        return;
    }
    gui_clear_results(s);
    if (s->results_cap < r->n_images) {
        gui_gen_item *p = realloc(s->results, sizeof *p * (size_t)r->n_images);
        if (!p) {
            gui_state_error(s, "out of memory keeping %d images", r->n_images);
            return;
        }
        s->results = p;
        s->results_cap = r->n_images;
    }
    const gui_job *j = &s->running;
    for (int i = 0; i < r->n_images; i++) {
        s->results[i] = (gui_gen_item){.img = r->images[i], .class_id = j->class_id,
                                       .seed = j->seed + (uint64_t)i, .steps = j->steps,
                                       .cfg = j->cfg, .temp = j->temp, .mask_temp = j->mask_temp};
        memset(&r->images[i], 0, sizeof r->images[i]);
    }
    s->n_results = r->n_images;
    s->results_version++;
    s->last_ms = r->ms;
    gui_clear_preview(s);
    gui_state_notice(s, "%d image%s in %.1f s", r->n_images, r->n_images == 1 ? "" : "s", r->ms / 1000);
}

void gui_state_job_done(gui_state *s, gui_job_result *r) {
    bool cancelled = s->cancel_requested;
    s->busy = false;
    s->cancel_requested = false;
    s->progress_text[0] = '\0';
    take_memory(s, r);
    switch (r->kind) {
    case GUI_JOB_LOAD_MODEL:
        s->model_loaded = r->status == SEER_STATUS_OK;
        if (!s->model_loaded) {
            s->model_name[0] = s->model_info[0] = '\0';
            gui_state_error(s, "could not load the classifier: %s", r->error);
            break;
        }
        gui_copy(s->model_name, sizeof s->model_name, r->name);
        gui_copy(s->model_info, sizeof s->model_info, r->info);
        s->has_attention = r->has_attention;
        s->attn_qx = s->attn_qy = -1;  // a point of another model's token grid
        s->last_ms = 0;
        gui_state_notice(s, "loaded %s in %.0f ms", r->name, r->ms);
        break;
    case GUI_JOB_CLASSIFY:
        if (cancelled && r->status == SEER_STATUS_CANCELLED) break;
        classify_done(s, r);
        break;
    case GUI_JOB_LOAD_GEN:
        s->gen_loaded = r->status == SEER_STATUS_OK;
        if (!s->gen_loaded) {
            s->gen_name[0] = s->gen_info[0] = s->gen_guide[0] = '\0';
            gui_state_set_classes(s, NULL, 0);
            gui_state_error(s, "could not load the generator: %s", r->error);
            break;
        }
        gui_copy(s->gen_name, sizeof s->gen_name, r->name);
        gui_copy(s->gen_info, sizeof s->gen_info, r->info);
        gui_copy(s->gen_guide, sizeof s->gen_guide, r->gen_guide);
        s->gen_guide_w = r->gen_guide_w;
        gui_state_set_classes(s, r->class_names, r->num_classes);
        r->class_names = NULL;
        char buf[32];
        snprintf(buf, sizeof buf, "%d", r->gen_steps);
        gui_edit_set(&s->field[GUI_FIELD_STEPS], buf);
        snprintf(buf, sizeof buf, "%g", r->gen_cfg);
        gui_edit_set(&s->field[GUI_FIELD_CFG], buf);
        snprintf(buf, sizeof buf, "%g", r->gen_temp);
        gui_edit_set(&s->field[GUI_FIELD_TEMP], buf);
        snprintf(buf, sizeof buf, "%g", r->gen_mask_temp);
        gui_edit_set(&s->field[GUI_FIELD_MASK_TEMP], buf);
        gui_state_notice(s, "loaded %s in %.0f ms", r->name, r->ms);
        break;
    case GUI_JOB_GENERATE: generate_done(s, r); break;
    default: break;
    }
    gui_job_result_free(r);
}
