// seer-gui: the desktop app. Window and event loop, the actions the state asks for (opening,
// saving, screenshots), and the glue between the state and the inference thread.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/gui/app.h"
#include "app/gui/assets.h"
#include "app/gui/gen_adapter.h"
#include "backbones/model.h"
#include "core/threads.h"

static const char *usage =
    "usage: seer-gui [IMAGE|FOLDER] [--weights FILE | --model NAME] [--generator FILE [--tokenizer FILE]]\n"
    "                [--device cpu|cuda] [--precision f32|bf16|f16] [--size WxH] [--scale X]\n"
    "                [--threads N] [--software] [--script FILE]\n"
    "  IMAGE|FOLDER   opened in Classify mode (arrow keys step through the folder)\n"
    "  --script FILE  run commands from FILE (see app/gui/script.c) and exit; with no display,\n"
    "                 SDL's offscreen driver is used (or set SDL_VIDEODRIVER=offscreen|dummy)\n"
    "  --scale X      interface scale (default: from the display; SEER_GUI_SCALE also sets it)\n"
    "  --threads N    CPU threads for inference (default: 1 for CIFAR-sized models, else all cores)\n"
    "Keys: Ctrl+O open, Ctrl+S save, arrows next/previous, Space generate, Esc cancel,\n"
    "      Ctrl+1/2/3 Classify/Segment/Generate, Tab next field.\n";

// ---- logs from the library (any thread) -----------------------------------------------------

static void on_log(seer_log_level level, const char *msg, void *user) {
    gui_app *a = user;
    if (level >= SEER_LOG_WARN) fprintf(stderr, "seer: %s\n", msg);
    SDL_LockMutex(a->log_mu);
    int cap = (int)(sizeof a->pending_log / sizeof *a->pending_log);
    if (a->n_pending_log < cap) gui_copy(a->pending_log[a->n_pending_log++], sizeof a->pending_log[0], msg);
    SDL_UnlockMutex(a->log_mu);
}

static void wake(void *user) {
    gui_app *a = user;
    SDL_Event e = {.type = a->wake_event};
    SDL_PushEvent(&e);
}

// ---- actions ------------------------------------------------------------------------------

static void trim_path(const char *in, char *out, size_t n) {
    while (*in == ' ' || *in == '\t') in++;
    // paths pasted from a file manager may come as file:// URIs or quoted
    if (strncmp(in, "file://", 7) == 0) in += 7;
    if (*in == '"' || *in == '\'') in++;
    if (in[0] == '~' && (in[1] == '/' || !in[1]) && getenv("HOME")) snprintf(out, n, "%s%s", getenv("HOME"), in + 1);
    else snprintf(out, n, "%s", in);
    size_t len = strlen(out);
    while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '"' || out[len - 1] == '\'' || out[len - 1] == '\n'))
        out[--len] = '\0';
}

void gui_app_open_path(gui_app *a, const char *path) {
    char p[4096], folder[1024];
    trim_path(path, p, sizeof p);
    gui_edit_set(&a->s.field[GUI_FIELD_PATH], p);
    char **paths = NULL;
    int n = 0, index = 0;
    if (gui_collect_images(p, &paths, &n, &index, folder, sizeof folder) != SEER_STATUS_OK) {
        gui_state_error(&a->s, "%s", seer_last_error());
        return;
    }
    if (!gui_state_set_files(&a->s, (const char *const *)paths, n, index, folder))
        gui_state_error(&a->s, "out of memory opening %s", p);
    else
        a->s.error[0] = '\0';
    gui_free_paths(paths, n);
}

bool gui_app_load_weights(gui_app *a, const char *name_or_path, const char *tokenizer) {
    gui_state *s = &a->s;
    char p[4096], buf[4096], err[1024];
    trim_path(name_or_path, p, sizeof p);
    struct stat sb;
    if (stat(p, &sb) != 0 && seer_arch_find(p)) {
        if (!gui_find_weights(p, buf, sizeof buf)) {
            gui_state_error(s, "no weights for %s: looked for %s.safetensors in $SEER_MODELS and assets/models", p, p);
            return false;
        }
        gui_copy(p, sizeof p, buf);
    }
    bool is_gen = false;
    int i = gui_add_weights_file(s, p, &is_gen, err, sizeof err);
    if (i < 0) {
        gui_state_error(s, "%s", err);
        return false;
    }
    if (is_gen) {
        char t[4096];
        if (tokenizer && *tokenizer) {
            trim_path(tokenizer, t, sizeof t);
            gui_copy(s->tokenizer_path, sizeof s->tokenizer_path, t);
        }
        gui_edit_set(&s->field[GUI_FIELD_TOKENIZER], s->tokenizer_path);
        if (s->mode != GUI_MODE_GENERATE) gui_state_set_mode(s, GUI_MODE_GENERATE);
        gui_state_select_generator(s, i);
    } else {
        if (s->mode != GUI_MODE_CLASSIFY) gui_state_set_mode(s, GUI_MODE_CLASSIFY);
        gui_state_select_model(s, i);
    }
    s->error[0] = '\0';
    return true;
}

static bool make_dirs(const char *dir) { return seer_make_dirs(dir) == SEER_STATUS_OK; }

bool gui_app_save(gui_app *a, const char *dir_in) {
    gui_state *s = &a->s;
    char dir[4096];
    trim_path(dir_in, dir, sizeof dir);
    int idx[64], n = gui_state_results_to_save(s, idx, 64);
    if (n == 0) {
        gui_state_error(s, "nothing to save yet: generate some images first");
        return false;
    }
    if (!*dir || !make_dirs(dir)) {
        gui_state_error(s, "cannot create the folder '%s': %s", dir, strerror(errno));
        return false;
    }
    int saved = 0;
    for (int k = 0; k < n; k++) {
        const gui_gen_item *it = &s->results[idx[k]];
        char path[4600], cls[16], seed[32], steps[16], cfg[32], mt[32], st[32], gw[32], name[256] = "";
        snprintf(path, sizeof path, "%s/%s_c%d_s%llu.png", dir, s->gen_name, it->class_id, (unsigned long long)it->seed);
        snprintf(cls, sizeof cls, "%d", it->class_id);
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)it->seed);
        snprintf(steps, sizeof steps, "%d", it->steps);
        snprintf(cfg, sizeof cfg, "%g", it->cfg);
        snprintf(mt, sizeof mt, "%g", it->mask_temp);
        snprintf(st, sizeof st, "%g", it->temp);
        snprintf(gw, sizeof gw, "%g", s->gen_guide[0] ? s->gen_guide_w : 0.0f);
        if (s->class_names && it->class_id < s->n_classes) gui_copy(name, sizeof name, s->class_names[it->class_id]);
        // the same keys as `seer generate`, so files from either say the same things
        const char *keys[] = {"model", "class",     "seed",     "steps",    "cfg",       "mask_temp",
                              "samp_temp", "guide", "guide_w", "tokenizer", "Software", "class_name"};
        const char *vals[] = {s->gen_name, cls, seed, steps, cfg, mt, st, s->gen_guide[0] ? s->gen_guide : "none",
                              gw, s->tokenizer_path, "seer-gui", name};
        if (seer_image_write_png(path, &it->img, keys, vals, name[0] ? 12 : 11) != SEER_STATUS_OK) {
            gui_state_error(s, "%s", seer_last_error());
            return false;
        }
        saved++;
    }
    gui_state_notice(s, "saved %d image%s to %s", saved, saved == 1 ? "" : "s", dir);
    return true;
}

bool gui_app_screenshot(gui_app *a, const char *path) {
    gui_draw_frame(a);
    seer_image img = {.w = a->w, .h = a->h, .c = 3};
    uint32_t *argb = malloc(sizeof *argb * (size_t)a->w * (size_t)a->h);
    img.px = malloc((size_t)a->w * (size_t)a->h * 3);
    bool ok = argb && img.px && SDL_RenderReadPixels(a->ren, NULL, SDL_PIXELFORMAT_ARGB8888, argb, a->w * 4) == 0;
    if (!ok) gui_state_error(&a->s, "screenshot: %s", argb && img.px ? SDL_GetError() : "out of memory");
    for (size_t i = 0; ok && i < (size_t)a->w * (size_t)a->h; i++) {
        img.px[3 * i] = (uint8_t)(argb[i] >> 16);
        img.px[3 * i + 1] = (uint8_t)(argb[i] >> 8);
        img.px[3 * i + 2] = (uint8_t)argb[i];
    }
    free(argb);
    const char *keys[] = {"Software"}, *vals[] = {"seer-gui"};
    if (ok && seer_image_write_png(path, &img, keys, vals, 1) != SEER_STATUS_OK) {
        gui_state_error(&a->s, "%s", seer_last_error());
        ok = false;
    }
    seer_image_free(&img);
    if (ok) gui_state_notice(&a->s, "screenshot saved to %s", path);
    return ok;
}

static void paste(gui_app *a) {
    char *t = SDL_GetClipboardText();
    if (!t) return;
    for (char *c = t; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
    gui_state_text_input(&a->s, t);
    SDL_free(t);
}

static void do_action(gui_app *a, gui_action act) {
    gui_state *s = &a->s;
    switch (act) {
    case GUI_ACT_OPEN_PATH:
        if (s->field[GUI_FIELD_PATH].len) gui_app_open_path(a, s->field[GUI_FIELD_PATH].buf);
        break;
    case GUI_ACT_LOAD_WEIGHTS:
        gui_app_load_weights(a, s->field[GUI_FIELD_WEIGHTS].buf, s->field[GUI_FIELD_TOKENIZER].buf);
        break;
    case GUI_ACT_SAVE: gui_app_save(a, s->field[GUI_FIELD_SAVE_DIR].buf); break;
    case GUI_ACT_SCREENSHOT: {
        char path[4600], dir[4096];
        trim_path(s->field[GUI_FIELD_SAVE_DIR].buf, dir, sizeof dir);
        if (!make_dirs(dir)) {
            gui_state_error(s, "cannot create the folder '%s': %s", dir, strerror(errno));
            break;
        }
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        snprintf(path, sizeof path, "%s/seer-%04d%02d%02d-%02d%02d%02d.png", dir, tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        gui_app_screenshot(a, path);
        break;
    }
    case GUI_ACT_CANCEL: gui_worker_cancel(a->worker); break;
    case GUI_ACT_PASTE: paste(a); break;
    case GUI_ACT_QUIT: s->quit = true; break;
    default: break;
    }
}

bool gui_app_pump(gui_app *a) {
    gui_state *s = &a->s;
    bool changed = false;
    SDL_LockMutex(a->log_mu);
    for (int i = 0; i < a->n_pending_log; i++) gui_state_log(s, a->pending_log[i]);
    changed |= a->n_pending_log > 0;
    a->n_pending_log = 0;
    SDL_UnlockMutex(a->log_mu);

    gui_progress p;
    if (gui_worker_progress(a->worker, &p)) {
        changed = true;
        if (p.job_id == s->running.id) {
            if (p.preview) gui_state_gen_preview(s, p.step, p.steps, p.preview, p.n_preview);
            else gui_state_job_progress(s, p.done, p.total, p.text);
            if (p.preview && p.text[0]) gui_copy(s->progress_text, sizeof s->progress_text, p.text);
        } else {
            for (int i = 0; i < p.n_preview; i++) seer_image_free(&p.preview[i]);
            free(p.preview);
        }
    }
    gui_job_result r;
    if (gui_worker_result(a->worker, &r)) {
        gui_state_job_done(s, &r);
        changed = true;
    }
    for (gui_action act; (act = gui_state_pop_action(s)) != GUI_ACT_NONE;) {
        do_action(a, act);
        changed = true;
    }
    gui_job j;
    if (!s->busy && !gui_worker_busy(a->worker) && gui_state_take_job(s, &j)) {
        if (!gui_worker_submit(a->worker, &j)) s->busy = false;  // cannot happen: it was idle
        changed = true;
    }
    return changed;
}

bool gui_app_idle(gui_app *a) {
    return gui_state_idle(&a->s) && !gui_worker_busy(a->worker) && a->s.n_actions == 0;
}

// ---- window -------------------------------------------------------------------------------

static void update_metrics(gui_app *a) {
    int ww, wh;
    SDL_GetWindowSize(a->win, &ww, &wh);
    SDL_GetRendererOutputSize(a->ren, &a->w, &a->h);
    a->pixel_ratio = ww > 0 ? (float)a->w / (float)ww : 1.0f;
    float scale = a->user_scale;
    if (scale <= 0) {
        // macOS/Wayland report HiDPI as a bigger drawable; X11 reports it as DPI
        scale = a->pixel_ratio;
        float ddpi = 0;
        int disp = SDL_GetWindowDisplayIndex(a->win);
        if (scale < 1.5f && disp >= 0 && SDL_GetDisplayDPI(disp, &ddpi, NULL, NULL) == 0 && ddpi > 120)
            scale = (float)((int)(ddpi / 96.0f * 4 + 0.5f)) / 4;
        if (scale < 1) scale = 1;
        if (scale > 4) scale = 4;
    }
    if (!gui_draw_set_scale(&a->d, scale)) gui_state_error(&a->s, "cannot reopen the font at scale %.2f", scale);
}

bool gui_app_resize(gui_app *a, int w, int h) {
    if (w < 320 || h < 240 || w > 8192 || h > 8192) return false;
    SDL_SetWindowSize(a->win, w, h);
    update_metrics(a);
    return true;
}

static gui_key map_key(SDL_Keycode k) {
    switch (k) {
    case SDLK_LEFT: return GUI_KEY_LEFT;
    case SDLK_RIGHT: return GUI_KEY_RIGHT;
    case SDLK_UP: return GUI_KEY_UP;
    case SDLK_DOWN: return GUI_KEY_DOWN;
    case SDLK_HOME: return GUI_KEY_HOME;
    case SDLK_END: return GUI_KEY_END;
    case SDLK_PAGEUP: return GUI_KEY_PAGEUP;
    case SDLK_PAGEDOWN: return GUI_KEY_PAGEDOWN;
    case SDLK_RETURN:
    case SDLK_KP_ENTER: return GUI_KEY_ENTER;
    case SDLK_ESCAPE: return GUI_KEY_ESCAPE;
    case SDLK_SPACE: return GUI_KEY_SPACE;
    case SDLK_TAB: return GUI_KEY_TAB;
    case SDLK_BACKSPACE: return GUI_KEY_BACKSPACE;
    case SDLK_DELETE: return GUI_KEY_DELETE;
    case SDLK_a: return GUI_KEY_A;
    case SDLK_o: return GUI_KEY_O;
    case SDLK_s: return GUI_KEY_S;
    case SDLK_v: return GUI_KEY_V;
    case SDLK_1: return GUI_KEY_1;
    case SDLK_2: return GUI_KEY_2;
    case SDLK_3: return GUI_KEY_3;
    default: return GUI_KEY_NONE;
    }
}

static void on_drop(gui_app *a, const char *file) {
    size_t n = strlen(file);
    if (n > 12 && strcmp(file + n - 12, ".safetensors") == 0) {
        gui_app_load_weights(a, file, NULL);
        return;
    }
    gui_state_set_mode(&a->s, GUI_MODE_CLASSIFY);
    gui_app_open_path(a, file);
}

void gui_app_hover(gui_app *a, int x, int y, int wheel) {
    a->ui.mx = (int)(x * a->pixel_ratio);
    a->ui.my = (int)(y * a->pixel_ratio);
    a->ui.wheel = wheel;
    gui_draw_frame(a);
    a->ui.wheel = 0;
}

void gui_app_click(gui_app *a, int x, int y) {
    // two frames, as the events would come: the press (which closes popups), then the release
    a->ui.mx = a->ui.press_x = (int)(x * a->pixel_ratio);
    a->ui.my = a->ui.press_y = (int)(y * a->pixel_ratio);
    a->ui.down = a->ui.pressed = true;
    gui_draw_frame(a);
    a->ui.pressed = a->ui.down = false;
    a->ui.released = true;
    gui_draw_frame(a);
    a->ui.released = false;
}

void gui_app_drop(gui_app *a, const char *path) { on_drop(a, path); }

static void handle_event(gui_app *a, const SDL_Event *e) {
    gui_ui *u = &a->ui;
    switch (e->type) {
    case SDL_QUIT: a->s.quit = true; break;
    case SDL_WINDOWEVENT:
        if (e->window.event == SDL_WINDOWEVENT_SIZE_CHANGED || e->window.event == SDL_WINDOWEVENT_DISPLAY_CHANGED)
            update_metrics(a);
        if (e->window.event == SDL_WINDOWEVENT_LEAVE) u->mx = u->my = -1;
        break;
    case SDL_KEYDOWN: {
        SDL_Keymod m = SDL_GetModState();
        int mods = (m & KMOD_CTRL ? GUI_MOD_CTRL : 0) | (m & KMOD_SHIFT ? GUI_MOD_SHIFT : 0) | (m & KMOD_ALT ? GUI_MOD_ALT : 0);
        if ((mods & GUI_MOD_CTRL) && e->key.keysym.sym == SDLK_q) a->s.quit = true;
        else gui_state_key(&a->s, map_key(e->key.keysym.sym), mods);
        break;
    }
    case SDL_TEXTINPUT:
        if (!(SDL_GetModState() & KMOD_CTRL)) gui_state_text_input(&a->s, e->text.text);
        break;
    case SDL_MOUSEMOTION:
        u->mx = (int)(e->motion.x * a->pixel_ratio);
        u->my = (int)(e->motion.y * a->pixel_ratio);
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
        if (e->button.button != SDL_BUTTON_LEFT) break;
        u->mx = (int)(e->button.x * a->pixel_ratio);
        u->my = (int)(e->button.y * a->pixel_ratio);
        if (e->type == SDL_MOUSEBUTTONDOWN) {
            u->down = u->pressed = true;
            u->press_x = u->mx;
            u->press_y = u->my;
        } else {
            u->down = false;
            u->released = true;
        }
        break;
    case SDL_MOUSEWHEEL: u->wheel += e->wheel.y; break;
    case SDL_DROPFILE:
        on_drop(a, e->drop.file);
        SDL_free(e->drop.file);
        break;
    default: break;
    }
}

static void set_title(gui_app *a) {
    char t[1200];
    const char *f = a->s.mode == GUI_MODE_CLASSIFY ? gui_state_current_file(&a->s) : NULL;
    const char *b = f ? strrchr(f, '/') : NULL;
    snprintf(t, sizeof t, "seer — %s%s%s", gui_mode_name(a->s.mode), f ? " — " : "", f ? (b ? b + 1 : f) : "");
    if (strcmp(SDL_GetWindowTitle(a->win), t) != 0) SDL_SetWindowTitle(a->win, t);
}

// ---- start --------------------------------------------------------------------------------

typedef struct args {
    const char *path, *weights, *model, *generator, *tokenizer, *device, *precision, *script;
    int w, h, threads;
    float scale;
    bool software;
} args;

static int parse_args(int argc, char **argv, args *o) {
    static const char *valued[] = {"--weights", "--model", "--generator", "--tokenizer", "--device",
                                   "--precision", "--script", "--scale", "--threads", "--size"};
    for (int i = 1; i < argc; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) known |= strcmp(argv[i], valued[k]) == 0;
        if (argv[i][0] == '-' && !known && strcmp(argv[i], "--software") && strcmp(argv[i], "--help") &&
            strcmp(argv[i], "-h"))
            return fprintf(stderr, "seer-gui: unknown option %s\n%s", argv[i], usage), 2;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *a = argv[i];
        bool takes = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return fputs(usage, stdout), 0;
        else if (strcmp(a, "--software") == 0) o->software = true, takes = false;
        else if (a[0] != '-') o->path = a, takes = false;
        else if (!v) return fprintf(stderr, "seer-gui: %s needs a value\n%s", a, usage), 2;
        else if (strcmp(a, "--weights") == 0) o->weights = v;
        else if (strcmp(a, "--model") == 0) o->model = v;
        else if (strcmp(a, "--generator") == 0) o->generator = v;
        else if (strcmp(a, "--tokenizer") == 0) o->tokenizer = v;
        else if (strcmp(a, "--device") == 0) o->device = v;
        else if (strcmp(a, "--precision") == 0) o->precision = v;
        else if (strcmp(a, "--script") == 0) o->script = v;
        else if (strcmp(a, "--scale") == 0) o->scale = (float)atof(v);
        else if (strcmp(a, "--threads") == 0) {
            if ((o->threads = atoi(v)) < 1 || o->threads > 1024)
                return fprintf(stderr, "seer-gui: --threads takes a number from 1 to 1024 (got '%s')\n", v), 2;
        }
        else if (strcmp(a, "--size") == 0) {
            if (sscanf(v, "%dx%d", &o->w, &o->h) != 2 || o->w < 320 || o->h < 240)
                return fprintf(stderr, "seer-gui: --size takes WxH, at least 320x240 (got '%s')\n", v), 2;
        } else return fprintf(stderr, "seer-gui: unknown option %s\n%s", a, usage), 2;
        if (takes) i++;
    }
    if (o->device && strcmp(o->device, "cpu") != 0 && strcmp(o->device, "cuda") != 0)
        return fprintf(stderr, "seer-gui: --device must be cpu or cuda\n"), 2;
    if (o->precision && strcmp(o->precision, "f32") && strcmp(o->precision, "bf16") && strcmp(o->precision, "f16"))
        return fprintf(stderr, "seer-gui: --precision must be f32, bf16 or f16\n"), 2;
    return -1;
}

static bool init_video(bool headless_ok) {
    if (SDL_Init(SDL_INIT_VIDEO) == 0) {
        // SDL falls back to drawing nowhere when there is no display: fine for a script, a
        // window nobody can see otherwise (unless SDL_VIDEODRIVER asked for it).
        const char *drv = SDL_GetCurrentVideoDriver();
        bool invisible = drv && (strcmp(drv, "offscreen") == 0 || strcmp(drv, "dummy") == 0);
        if (!invisible || headless_ok || getenv("SDL_VIDEODRIVER")) return true;
        SDL_Quit();
        fprintf(stderr, "seer-gui: no display found (DISPLAY / WAYLAND_DISPLAY unset); "
                        "run with --script FILE to draw offscreen\n");
        return false;
    }
    // no display: scripted runs fall back to drawing offscreen
    if (!headless_ok) {
        fprintf(stderr, "seer-gui: cannot start SDL: %s\n", SDL_GetError());
        return false;
    }
    fprintf(stderr, "seer-gui: no display (%s); drawing offscreen\n", SDL_GetError());
    SDL_SetHint(SDL_HINT_VIDEODRIVER, "offscreen");
    if (SDL_Init(SDL_INIT_VIDEO) == 0) return true;
    fprintf(stderr, "seer-gui: cannot start SDL: %s\n", SDL_GetError());
    return false;
}

static void start_models(gui_app *a, const args *o) {
    gui_state *s = &a->s;
    s->threads = o->threads;
    if (o->device) gui_state_set_device(s, strcmp(o->device, "cuda") == 0 ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU);
    if (o->precision)
        gui_state_set_dtype(s, strcmp(o->precision, "bf16") == 0 ? SEER_BF16 : strcmp(o->precision, "f16") == 0 ? SEER_F16 : SEER_F32);
    if (o->tokenizer) gui_copy(s->tokenizer_path, sizeof s->tokenizer_path, o->tokenizer);
    if (o->generator) gui_app_load_weights(a, o->generator, o->tokenizer);
    else if (s->generators.count) gui_state_select_generator(s, 0);
    if (o->weights || o->model) gui_app_load_weights(a, o->weights ? o->weights : o->model, NULL);
    else if (s->classifiers.count) gui_state_select_model(s, 0);
    gui_state_set_mode(s, GUI_MODE_CLASSIFY);  // what the app opens in, whatever loaded
}

int main(int argc, char **argv) {
    seer_threads_init(argv);
    seer_set_timed_conv_algorithms(false); // a seed gives the same picture as `seer generate`
    args o = {.w = 1280, .h = 800};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    char font[1024], bold[1024];
    if (!gui_find_font(false, font, sizeof font)) {
        fprintf(stderr, "seer-gui: no font found: install fonts-dejavu-core "
                        "(/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf) or set SEER_GUI_FONT to a .ttf file\n");
        return 2;
    }
    if (!gui_find_font(true, bold, sizeof bold)) bold[0] = '\0';
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    if (!init_video(o.script != NULL)) return 2;
    if (TTF_Init() != 0) {
        fprintf(stderr, "seer-gui: cannot start SDL_ttf: %s\n", TTF_GetError());
        return 2;
    }
    static gui_app app;  // big (text fields, caches): not on the stack
    gui_app *a = &app;
    a->headless = o.script != NULL;
    a->user_scale = o.scale > 0 ? o.scale : getenv("SEER_GUI_SCALE") ? (float)atof(getenv("SEER_GUI_SCALE")) : 0;
    a->ui.mx = a->ui.my = a->ui.press_x = a->ui.press_y = -1;
    a->win = SDL_CreateWindow("seer", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, o.w, o.h,
                              SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    // Scripts draw with the software renderer so screenshots are the same on every machine.
    if (a->win && !o.software && !o.script)
        a->ren = SDL_CreateRenderer(a->win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
    if (a->win && !a->ren) a->ren = SDL_CreateRenderer(a->win, -1, SDL_RENDERER_SOFTWARE);
    char err[1200];
    if (!a->win || !a->ren) {
        fprintf(stderr, "seer-gui: cannot open a window: %s\n", SDL_GetError());
        return 2;
    }
    SDL_SetWindowMinimumSize(a->win, 900, 600);
    if (!gui_draw_init(&a->d, a->ren, 1.0f, font, bold[0] ? bold : NULL, err, sizeof err)) {
        fprintf(stderr, "seer-gui: %s\n", err);
        return 2;
    }
    update_metrics(a);
    a->log_mu = SDL_CreateMutex();
    a->wake_event = SDL_RegisterEvents(1);
    gui_state_init(&a->s, seer_device_available(SEER_DEVICE_CUDA));
    // random seeds differ from run to run, except in scripts (their runs repeat exactly)
    if (!o.script) a->s.rng ^= (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    const char *home = getenv("HOME");
    char pics[1200];
    snprintf(pics, sizeof pics, "%s/Pictures", home ? home : ".");
    struct stat sb;
    if (!o.script && home && stat(pics, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        strncat(pics, "/seer", sizeof pics - strlen(pics) - 1);
        gui_edit_set(&a->s.field[GUI_FIELD_SAVE_DIR], pics);
    }
    seer_log_set(on_log, a);
    seer_log_set_level(SEER_LOG_INFO);
    a->worker = gui_worker_new(wake, a);
    if (!a->worker) {
        fprintf(stderr, "seer-gui: cannot start the inference thread\n");
        return 2;
    }
    gui_scan_models(&a->s);
    a->s.rss_bytes = gui_rss_bytes();
    start_models(a, &o);
    if (o.path) gui_app_open_path(a, o.path);
    gui_script *sc = NULL;
    if (o.script && !(sc = gui_script_load(o.script, err, sizeof err))) {
        fprintf(stderr, "seer-gui: %s\n", err);
        rc = 2;
        a->s.quit = true;
    }
    SDL_StartTextInput();
    SDL_Cursor *arrow = SDL_CreateSystemCursor(SDL_SYSTEM_CURSOR_ARROW), *hand = SDL_CreateSystemCursor(SDL_SYSTEM_CURSOR_HAND),
               *ibeam = SDL_CreateSystemCursor(SDL_SYSTEM_CURSOR_IBEAM);
    bool dirty = true;
    rc = rc < 0 ? 0 : rc;
    while (!a->s.quit) {
        // sleep until something happens; animate while a job runs
        int timeout = sc ? 5 : dirty ? 0 : a->s.busy ? 50 : 1000;
        SDL_Event e;
        if (SDL_WaitEventTimeout(&e, timeout)) {
            handle_event(a, &e);
            while (SDL_PollEvent(&e)) handle_event(a, &e);
            dirty = true;
        }
        dirty |= gui_app_pump(a);
        if (sc) {
            gui_script_status st = gui_script_step(sc, a);
            if (st == GUI_SCRIPT_FAILED) rc = 1;
            if (st == GUI_SCRIPT_FAILED || st == GUI_SCRIPT_DONE) a->s.quit = true;
            dirty |= gui_app_pump(a);
        }
        if (dirty || a->s.busy) {
            gui_draw_frame(a);
            SDL_RenderPresent(a->ren);
            SDL_SetCursor(a->ui.want_hand ? hand : a->ui.want_ibeam ? ibeam : arrow);
            set_title(a);
            a->ui.pressed = a->ui.released = false;
            a->ui.wheel = 0;
            // what the frame's widgets asked for is handled before sleeping
            dirty = gui_app_pump(a);
        }
    }
    seer_log_set(NULL, NULL);
    gui_worker_free(a->worker);
    gui_script_free(sc);
    gui_free_textures(a);
    gui_state_free(&a->s);
    gui_draw_free(&a->d);
    SDL_FreeCursor(arrow);
    SDL_FreeCursor(hand);
    SDL_FreeCursor(ibeam);
    SDL_DestroyMutex(a->log_mu);
    SDL_DestroyRenderer(a->ren);
    SDL_DestroyWindow(a->win);
    TTF_Quit();
    SDL_Quit();
    return rc;
}
