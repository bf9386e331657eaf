// The app's state machine (see state.h): fields, keys, files, models, the class picker.
// Pure: no SDL, no files, no threads. Generation requests and jobs are in state_jobs.c.
#include "app/gui/state.h"
#include "app/gui/state_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

const char *gui_mode_name(gui_mode m) {
    static const char *names[] = {"Classify", "Segment", "Generate"};
    return m >= 0 && m < GUI_MODE_COUNT ? names[m] : "?";
}

// ---- text fields --------------------------------------------------------------------------

static bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

void gui_copy(char *dst, size_t n, const char *src) {
    if (n == 0) return;
    size_t len = strlen(src);
    if (len > n - 1) {
        len = n - 1;
        while (len > 0 && is_continuation((unsigned char)src[len])) len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void gui_edit_set(gui_edit *t, const char *s) {
    size_t n = strlen(s);
    if (n > GUI_TEXT_MAX - 1) {
        n = GUI_TEXT_MAX - 1;
        while (n > 0 && is_continuation((unsigned char)s[n])) n--;  // keep whole characters
    }
    memcpy(t->buf, s, n);
    t->buf[n] = '\0';
    t->len = t->cursor = (int)n;
    t->all = false;
}

static void drop_selection(gui_edit *t) {
    if (!t->all) return;
    t->all = false;
    t->buf[0] = '\0';
    t->len = t->cursor = 0;
}

bool gui_edit_insert(gui_edit *t, const char *utf8) {
    size_t n = strlen(utf8);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)utf8[i] < 0x20) return false;  // no control characters in a field
    if ((size_t)(t->all ? 0 : t->len) + n > GUI_TEXT_MAX - 1) return false;
    drop_selection(t);
    memmove(t->buf + t->cursor + n, t->buf + t->cursor, (size_t)(t->len - t->cursor) + 1);
    memcpy(t->buf + t->cursor, utf8, n);
    t->len += (int)n;
    t->cursor += (int)n;
    return true;
}

static int prev_boundary(const gui_edit *t, int i) {
    if (i <= 0) return 0;
    i--;
    while (i > 0 && is_continuation((unsigned char)t->buf[i])) i--;
    return i;
}

static int next_boundary(const gui_edit *t, int i) {
    if (i >= t->len) return t->len;
    i++;
    while (i < t->len && is_continuation((unsigned char)t->buf[i])) i++;
    return i;
}

static void text_cut(gui_edit *t, int from, int to) {
    if (to <= from) return;
    memmove(t->buf + from, t->buf + to, (size_t)(t->len - to) + 1);
    t->len -= to - from;
    t->cursor = from;
}

void gui_edit_backspace(gui_edit *t) {
    if (t->all) return drop_selection(t);
    text_cut(t, prev_boundary(t, t->cursor), t->cursor);
}

void gui_edit_delete(gui_edit *t) {
    if (t->all) return drop_selection(t);
    int c = t->cursor;
    text_cut(t, c, next_boundary(t, c));
    t->cursor = c;
}

void gui_edit_move(gui_edit *t, int dir) {
    t->all = false;
    t->cursor = dir < 0 ? prev_boundary(t, t->cursor) : next_boundary(t, t->cursor);
}

// ---- model lists --------------------------------------------------------------------------

int gui_model_list_add(gui_model_list *l, const char *label, const char *path, const char *detail) {
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->items[i].path, path) == 0) return i;
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        gui_model_entry *p = realloc(l->items, sizeof *p * (size_t)cap);
        if (!p) return -1;
        l->items = p;
        l->cap = cap;
    }
    gui_model_entry *e = &l->items[l->count];
    gui_copy(e->label, sizeof e->label, label);
    gui_copy(e->path, sizeof e->path, path);
    gui_copy(e->detail, sizeof e->detail, detail ? detail : "");
    return l->count++;
}

void gui_model_list_free(gui_model_list *l) {
    free(l->items);
    memset(l, 0, sizeof *l);
}

// ---- results ------------------------------------------------------------------------------

void gui_free_names(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

void gui_job_result_free(gui_job_result *r) {
    seer_image_free(&r->image);
    for (int i = 0; i < r->n_images; i++) seer_image_free(&r->images[i]);
    free(r->images);
    gui_free_names(r->class_names, r->num_classes);
    r->images = NULL;
    r->n_images = 0;
    r->class_names = NULL;
    free(r->attn);
    r->attn = NULL;
}

void gui_clear_results(gui_state *s) {
    for (int i = 0; i < s->n_results; i++) seer_image_free(&s->results[i].img);
    s->n_results = 0;
    s->result_cursor = 0;
    s->results_version++;
}

void gui_clear_preview(gui_state *s) {
    for (int i = 0; i < s->n_preview; i++) seer_image_free(&s->preview[i]);
    free(s->preview);
    s->preview = NULL;
    s->n_preview = s->preview_step = s->preview_steps = 0;
    s->preview_version++;
}

// ---- init ---------------------------------------------------------------------------------

void gui_state_init(gui_state *s, bool cuda_available) {
    memset(s, 0, sizeof *s);
    s->mode = GUI_MODE_CLASSIFY;
    s->focus = GUI_FIELD_NONE;
    s->model_sel = s->gen_sel = -1;
    s->class_sel = -1;
    s->cuda_available = cuda_available;
    s->device = cuda_available ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU;
    s->dtype = SEER_F32;
    s->seed_random = true;
    s->rng = 0x5EEDF00Dull;
    s->next_job_id = 1;
    s->attn_qx = s->attn_qy = -1;
    gui_edit_set(&s->field[GUI_FIELD_COUNT], "4");
    gui_edit_set(&s->field[GUI_FIELD_SEED], "0");
    gui_edit_set(&s->field[GUI_FIELD_SAVE_DIR], "seer-out");
}

void gui_state_free(gui_state *s) {
    for (int i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    gui_model_list_free(&s->classifiers);
    gui_model_list_free(&s->generators);
    gui_free_names(s->class_names, s->n_classes);
    free(s->matches);
    seer_image_free(&s->shown);
    free(s->attn);
    gui_clear_results(s);
    free(s->results);
    gui_clear_preview(s);
    memset(s, 0, sizeof *s);
}

// ---- actions and messages -----------------------------------------------------------------

void gui_state_push_action(gui_state *s, gui_action a) {
    int cap = (int)(sizeof s->actions / sizeof *s->actions);
    if (s->n_actions < cap) s->actions[s->n_actions++] = a;
}

gui_action gui_state_pop_action(gui_state *s) {
    if (s->n_actions == 0) return GUI_ACT_NONE;
    gui_action a = s->actions[0];
    memmove(s->actions, s->actions + 1, sizeof *s->actions * (size_t)--s->n_actions);
    return a;
}

void gui_state_log(gui_state *s, const char *line) {
    gui_copy(s->log[s->n_log % GUI_LOG_LINES], sizeof s->log[0], line);
    s->n_log++;
}

const char *gui_state_log_line(const gui_state *s, int back) {
    if (back < 0 || back >= s->n_log || back >= GUI_LOG_LINES) return NULL;
    return s->log[(s->n_log - 1 - back) % GUI_LOG_LINES];
}

void gui_state_error(gui_state *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
    char line[sizeof s->error + 8];
    snprintf(line, sizeof line, "error: %s", s->error);
    gui_state_log(s, line);
}

void gui_state_notice(gui_state *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->notice, sizeof s->notice, fmt, ap);
    va_end(ap);
    gui_state_log(s, s->notice);
}

// ---- modes, focus, keys -------------------------------------------------------------------

void gui_state_set_mode(gui_state *s, gui_mode m) {
    if (m < 0 || m >= GUI_MODE_COUNT) return;
    s->mode = m;
    s->focus = GUI_FIELD_NONE;
    s->popup = GUI_POPUP_NONE;
    s->dialog_open = false;
}

void gui_state_focus(gui_state *s, gui_field f) {
    if (s->focus != GUI_FIELD_NONE) s->field[s->focus].all = false;
    s->focus = f;
    if (f != GUI_FIELD_NONE) s->field[f].cursor = s->field[f].len;
}

// Focus from the keyboard (Ctrl+O, Tab) selects the text, so typing replaces it.
static void focus_select(gui_state *s, gui_field f) {
    gui_state_focus(s, f);
    if (f != GUI_FIELD_NONE) s->field[f].all = s->field[f].len > 0;
}

void gui_state_open_dialog(gui_state *s) {
    s->dialog_open = true;
    s->popup = GUI_POPUP_NONE;
    if (s->field[GUI_FIELD_TOKENIZER].len == 0) gui_edit_set(&s->field[GUI_FIELD_TOKENIZER], s->tokenizer_path);
    focus_select(s, GUI_FIELD_WEIGHTS);
}

// Fields Tab walks through, per mode (the dialog has its own).
static int tab_order(const gui_state *s, gui_field *out) {
    if (s->dialog_open) {
        out[0] = GUI_FIELD_WEIGHTS;
        out[1] = GUI_FIELD_TOKENIZER;
        return s->mode == GUI_MODE_GENERATE ? 2 : 1;
    }
    if (s->mode == GUI_MODE_CLASSIFY) {
        out[0] = GUI_FIELD_PATH;
        return 1;
    }
    if (s->mode != GUI_MODE_GENERATE) return 0;
    static const gui_field gen[] = {GUI_FIELD_SEARCH, GUI_FIELD_STEPS, GUI_FIELD_CFG,
                                    GUI_FIELD_TEMP,   GUI_FIELD_MASK_TEMP, GUI_FIELD_SEED,
                                    GUI_FIELD_COUNT,  GUI_FIELD_SAVE_DIR};
    memcpy(out, gen, sizeof gen);
    return (int)(sizeof gen / sizeof *gen);
}

static void tab(gui_state *s, int dir) {
    gui_field order[GUI_FIELD_N];
    int n = tab_order(s, order), at = -1;
    if (n == 0) return;
    for (int i = 0; i < n; i++)
        if (order[i] == s->focus) at = i;
    at = at < 0 ? (dir > 0 ? 0 : n - 1) : (at + dir + n) % n;
    focus_select(s, order[at]);
}

static void field_enter(gui_state *s) {
    gui_field f = s->focus;
    switch (f) {
    case GUI_FIELD_PATH:
        gui_state_focus(s, GUI_FIELD_NONE);
        gui_state_push_action(s, GUI_ACT_OPEN_PATH);
        break;
    case GUI_FIELD_SEARCH:
        if (s->n_matches > 0) {
            bool shown = false;
            for (int i = 0; i < s->n_matches; i++) shown |= s->matches[i] == s->class_sel;
            if (!shown) gui_state_pick_class(s, s->matches[0]);
        }
        gui_state_focus(s, GUI_FIELD_NONE);
        break;
    case GUI_FIELD_SAVE_DIR:
        gui_state_focus(s, GUI_FIELD_NONE);
        gui_state_push_action(s, GUI_ACT_SAVE);
        break;
    case GUI_FIELD_WEIGHTS:
    case GUI_FIELD_TOKENIZER:
        gui_state_focus(s, GUI_FIELD_NONE);
        s->dialog_open = false;
        gui_state_push_action(s, GUI_ACT_LOAD_WEIGHTS);
        break;
    default:  // the generation parameters
        gui_state_focus(s, GUI_FIELD_NONE);
        gui_state_request_generate(s);
        break;
    }
}

static bool field_key(gui_state *s, gui_key key, int mods) {
    gui_edit *t = &s->field[s->focus];
    switch (key) {
    case GUI_KEY_LEFT: gui_edit_move(t, -1); return true;
    case GUI_KEY_RIGHT: gui_edit_move(t, +1); return true;
    case GUI_KEY_HOME: t->cursor = 0, t->all = false; return true;
    case GUI_KEY_END: t->cursor = t->len, t->all = false; return true;
    case GUI_KEY_BACKSPACE:
        gui_edit_backspace(t);
        break;
    case GUI_KEY_DELETE:
        gui_edit_delete(t);
        break;
    case GUI_KEY_ENTER: field_enter(s); return true;
    case GUI_KEY_TAB: tab(s, mods & GUI_MOD_SHIFT ? -1 : 1); return true;
    case GUI_KEY_UP:
    case GUI_KEY_DOWN:
    case GUI_KEY_PAGEUP:
    case GUI_KEY_PAGEDOWN:
        if (s->focus != GUI_FIELD_SEARCH) return false;
        gui_state_move_class(s, key == GUI_KEY_UP ? -1 : key == GUI_KEY_DOWN ? 1 : key == GUI_KEY_PAGEUP ? -8 : 8);
        return true;
    default: return false;  // printable keys arrive as text input
    }
    // the text changed
    if (s->focus == GUI_FIELD_SEARCH) gui_state_filter_classes(s);
    if (s->focus == GUI_FIELD_SEED) s->seed_random = false;
    return true;
}

bool gui_state_key(gui_state *s, gui_key key, int mods) {
    bool ctrl = mods & GUI_MOD_CTRL;
    if (ctrl) {
        switch (key) {
        case GUI_KEY_O:
            if (s->mode == GUI_MODE_GENERATE) gui_state_open_dialog(s);
            else if (s->mode == GUI_MODE_CLASSIFY) focus_select(s, GUI_FIELD_PATH);
            return true;
        case GUI_KEY_S:
            gui_state_push_action(s, s->mode == GUI_MODE_GENERATE && s->n_results > 0 ? GUI_ACT_SAVE
                                                                                       : GUI_ACT_SCREENSHOT);
            return true;
        case GUI_KEY_V:
            if (s->focus == GUI_FIELD_NONE) return false;
            gui_state_push_action(s, GUI_ACT_PASTE);
            return true;
        case GUI_KEY_A:
            if (s->focus != GUI_FIELD_NONE) {
                s->field[s->focus].all = s->field[s->focus].len > 0;
                return true;
            }
            if (s->mode != GUI_MODE_GENERATE) return false;
            bool all = true;
            for (int i = 0; i < s->n_results; i++) all &= s->results[i].selected;
            gui_state_select_all_results(s, !all);
            return true;
        case GUI_KEY_1: gui_state_set_mode(s, GUI_MODE_CLASSIFY); return true;
        case GUI_KEY_2: gui_state_set_mode(s, GUI_MODE_SEGMENT); return true;
        case GUI_KEY_3: gui_state_set_mode(s, GUI_MODE_GENERATE); return true;
        default: return false;
        }
    }
    if (key == GUI_KEY_ESCAPE) {
        // Close what is on top first; a running job is cancelled only when nothing covers it.
        if (s->popup != GUI_POPUP_NONE) s->popup = GUI_POPUP_NONE;
        else if (s->dialog_open) {
            s->dialog_open = false;
            gui_state_focus(s, GUI_FIELD_NONE);
        } else if (s->busy || !gui_state_idle(s)) gui_state_cancel(s);
        else if (s->focus != GUI_FIELD_NONE) gui_state_focus(s, GUI_FIELD_NONE);
        else if (s->error[0]) s->error[0] = '\0';
        else return false;
        return true;
    }
    if (s->focus != GUI_FIELD_NONE) return field_key(s, key, mods);
    if (key == GUI_KEY_TAB) {
        tab(s, mods & GUI_MOD_SHIFT ? -1 : 1);
        return true;
    }
    if (s->mode == GUI_MODE_CLASSIFY) {
        switch (key) {
        case GUI_KEY_LEFT:
        case GUI_KEY_UP: gui_state_step_file(s, -1); return true;
        case GUI_KEY_RIGHT:
        case GUI_KEY_DOWN: gui_state_step_file(s, +1); return true;
        case GUI_KEY_PAGEUP: gui_state_step_file(s, -10); return true;
        case GUI_KEY_PAGEDOWN: gui_state_step_file(s, +10); return true;
        case GUI_KEY_HOME: gui_state_show_file(s, 0); return true;
        case GUI_KEY_END: gui_state_show_file(s, s->n_files - 1); return true;
        case GUI_KEY_ENTER:
        case GUI_KEY_SPACE:
            if (s->n_files == 0) return false;
            s->want_classify = true;
            return true;
        default: return false;
        }
    }
    if (s->mode == GUI_MODE_GENERATE) {
        switch (key) {
        case GUI_KEY_SPACE: gui_state_request_generate(s); return true;
        case GUI_KEY_LEFT:
        case GUI_KEY_UP:
            if (s->result_cursor > 0) s->result_cursor--;
            return true;
        case GUI_KEY_RIGHT:
        case GUI_KEY_DOWN:
            if (s->result_cursor + 1 < s->n_results) s->result_cursor++;
            return true;
        case GUI_KEY_ENTER: gui_state_toggle_result(s, s->result_cursor); return true;
        default: return false;
        }
    }
    return false;
}

bool gui_state_text_input(gui_state *s, const char *utf8) {
    if (s->focus == GUI_FIELD_NONE) return false;
    if (!gui_edit_insert(&s->field[s->focus], utf8)) return false;
    if (s->focus == GUI_FIELD_SEARCH) gui_state_filter_classes(s);
    if (s->focus == GUI_FIELD_SEED) s->seed_random = false;
    return true;
}

// ---- files --------------------------------------------------------------------------------

bool gui_state_set_files(gui_state *s, const char *const *paths, int n, int index, const char *folder) {
    char **files = n > 0 ? calloc((size_t)n, sizeof *files) : NULL;
    if (n > 0 && !files) return false;
    for (int i = 0; i < n; i++) {
        if (!(files[i] = strdup(paths[i]))) {
            for (int k = 0; k < i; k++) free(files[k]);
            free(files);
            return false;
        }
    }
    for (int i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    s->files = files;
    s->n_files = n;
    gui_copy(s->folder, sizeof s->folder, folder ? folder : "");
    s->file_index = 0;
    gui_state_show_file(s, index);
    return true;
}

void gui_state_show_file(gui_state *s, int index) {
    if (s->n_files == 0) return;
    if (index < 0) index = 0;
    if (index >= s->n_files) index = s->n_files - 1;
    s->file_index = index;
    s->want_classify = true;
    // A classify still running is for another file now: stop it early.
    if (s->busy && s->running.kind == GUI_JOB_CLASSIFY && s->running.file_index != index)
        gui_state_push_action(s, GUI_ACT_CANCEL);
}

void gui_state_step_file(gui_state *s, int delta) {
    if (s->n_files == 0) return;
    int n = s->n_files, i = ((s->file_index + delta) % n + n) % n;
    gui_state_show_file(s, i);
}

const char *gui_state_current_file(const gui_state *s) {
    return s->n_files > 0 ? s->files[s->file_index] : NULL;
}

// ---- models -------------------------------------------------------------------------------

void gui_state_select_model(gui_state *s, int index) {
    s->popup = GUI_POPUP_NONE;
    if (index < 0 || index >= s->classifiers.count) return;
    s->model_sel = index;
    s->want_load_model = true;
    if (s->n_files > 0) s->want_classify = true;
}

void gui_state_select_generator(gui_state *s, int index) {
    s->popup = GUI_POPUP_NONE;
    if (index < 0 || index >= s->generators.count) return;
    s->gen_sel = index;
    s->want_load_gen = true;
}

static void reload_loaded(gui_state *s) {
    if (s->model_sel >= 0) {
        s->want_load_model = true;
        if (s->n_files > 0) s->want_classify = true;
    }
    if (s->gen_sel >= 0) s->want_load_gen = true;
}

void gui_state_set_device(gui_state *s, seer_device d) {
    s->popup = GUI_POPUP_NONE;
    if (d == SEER_DEVICE_CUDA && !s->cuda_available) {
        gui_state_error(s, "CUDA is not available (no GPU, or this build has no CUDA backend)");
        return;
    }
    if (d == s->device) return;
    s->device = d;
    if (d == SEER_DEVICE_CPU && s->dtype != SEER_F32) {
        s->dtype = SEER_F32;
        gui_state_notice(s, "precision set to f32: the CPU backend computes in f32");
    }
    reload_loaded(s);
}

bool gui_state_set_dtype(gui_state *s, seer_dtype dt) {
    s->popup = GUI_POPUP_NONE;
    if (dt != SEER_F32 && s->device != SEER_DEVICE_CUDA) {
        gui_state_error(s, "%s needs CUDA: the CPU backend computes in f32", seer_dtype_name(dt));
        return false;
    }
    if (dt == s->dtype) return true;
    s->dtype = dt;
    reload_loaded(s);
    return true;
}

// ---- class picker -------------------------------------------------------------------------

static bool contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0) return true;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return true;
    }
    return false;
}

void gui_state_set_classes(gui_state *s, char **names, int n) {
    gui_free_names(s->class_names, s->n_classes);
    s->class_names = names;
    s->n_classes = n;
    if (s->class_sel >= n) s->class_sel = -1;
    s->class_scroll = 0;
    gui_state_filter_classes(s);
}

void gui_state_filter_classes(gui_state *s) {
    free(s->matches);
    s->matches = s->n_classes > 0 ? malloc(sizeof *s->matches * (size_t)s->n_classes) : NULL;
    s->n_matches = 0;
    if (!s->matches) return;
    // Trim the query: "  golden " finds "golden retriever".
    char q[GUI_TEXT_MAX];
    const char *b = s->field[GUI_FIELD_SEARCH].buf;
    while (*b == ' ') b++;
    gui_copy(q, sizeof q, b);
    for (size_t n = strlen(q); n > 0 && q[n - 1] == ' '; n--) q[n - 1] = '\0';
    char *end;
    long num = strtol(q, &end, 10);
    bool numeric = q[0] && *end == '\0';
    for (int i = 0; i < s->n_classes; i++) {
        const char *name = s->class_names ? s->class_names[i] : "";
        if ((numeric && num == i) || contains_ci(name, q)) s->matches[s->n_matches++] = i;
    }
    s->class_scroll = 0;
}

void gui_state_pick_class(gui_state *s, int class_id) {
    if (class_id >= 0 && class_id < s->n_classes) s->class_sel = class_id;
}

void gui_state_move_class(gui_state *s, int delta) {
    if (s->n_matches == 0) return;
    int at = -1;
    for (int i = 0; i < s->n_matches; i++)
        if (s->matches[i] == s->class_sel) at = i;
    at = at < 0 ? (delta > 0 ? 0 : s->n_matches - 1) : at + delta;
    if (at < 0) at = 0;
    if (at >= s->n_matches) at = s->n_matches - 1;
    s->class_sel = s->matches[at];
    if (at < s->class_scroll) s->class_scroll = at;
    // the UI clamps the bottom edge (it knows how many rows fit)
}
