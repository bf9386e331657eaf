// Scripted runs: one command per line, for tests and screenshots without a person at the
// window. Commands (# starts a comment):
//   open PATH                 open an image or folder (Classify)
//   model NAME|PATH           load a classifier (registry name whose weights are found, or a file)
//   generator PATH [TOKENIZER]
//   device cpu|cuda           precision f32|bf16|f16
//   mode classify|segment|generate
//   classify | next | prev    (re)classify the current file / step through the folder
//   generate [class=N|NAME] [seed=S|random] [steps=T] [count=C] [cfg=X] [temp=X] [mask_temp=X]
//   select all|none|I         toggle result I (0-based) or set all
//   save DIR                  screenshot PATH         size W H (window coordinates)
//   key KEY                   e.g. key right, key ctrl+s, key space, key escape
//   click X Y | hover X Y [WHEEL] | drop PATH   the mouse and drag-and-drop (window coordinates)
//   type TEXT                 into the focused field
//   attention on|off | attention at FX FY   the attention view; its query point (fractions)
//   wait [SECONDS]            until nothing runs or waits (default limit 300 s)
//   wait step N [SECONDS]     until a generation has shown step N
//   expect classified|error|no-error|attention|results N|mode NAME
//   stats                     one line on stdout: mode, file, top-1, latency, results, error
//   echo TEXT                 quit
// A failing command stops the script with a message naming the line; the exit code is 1.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/gui/app.h"

struct gui_script {
    char **lines;
    int n, at;
    Uint32 wait_start;
    bool waiting;
};

gui_script *gui_script_load(const char *path, char *err, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "cannot open the script %s", path);
        return NULL;
    }
    gui_script *sc = calloc(1, sizeof *sc);
    char line[4096];
    int cap = 0;
    while (sc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (sc->n == cap) {
            cap = cap ? cap * 2 : 32;
            char **p = realloc(sc->lines, sizeof *p * (size_t)cap);
            if (!p) break;
            sc->lines = p;
        }
        sc->lines[sc->n++] = strdup(line);
    }
    fclose(f);
    if (!sc) snprintf(err, n, "out of memory");
    return sc;
}

void gui_script_free(gui_script *sc) {
    if (!sc) return;
    for (int i = 0; i < sc->n; i++) free(sc->lines[i]);
    free(sc->lines);
    free(sc);
}

static gui_script_status failed(gui_script *sc, const char *fmt, const char *arg) {
    fprintf(stderr, "seer-gui: script line %d (%s): ", sc->at + 1, sc->lines[sc->at]);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return GUI_SCRIPT_FAILED;
}

static bool parse_key(const char *spec, gui_key *key, int *mods) {
    static const struct {
        const char *name;
        gui_key key;
    } keys[] = {{"left", GUI_KEY_LEFT},       {"right", GUI_KEY_RIGHT}, {"up", GUI_KEY_UP},
                {"down", GUI_KEY_DOWN},       {"home", GUI_KEY_HOME},   {"end", GUI_KEY_END},
                {"pageup", GUI_KEY_PAGEUP},   {"pagedown", GUI_KEY_PAGEDOWN}, {"enter", GUI_KEY_ENTER},
                {"escape", GUI_KEY_ESCAPE},   {"esc", GUI_KEY_ESCAPE},  {"space", GUI_KEY_SPACE},
                {"tab", GUI_KEY_TAB},         {"backspace", GUI_KEY_BACKSPACE}, {"delete", GUI_KEY_DELETE},
                {"a", GUI_KEY_A},             {"o", GUI_KEY_O},         {"s", GUI_KEY_S},
                {"v", GUI_KEY_V},             {"1", GUI_KEY_1},         {"2", GUI_KEY_2},
                {"3", GUI_KEY_3}};
    *mods = 0;
    for (;;) {
        if (strncasecmp(spec, "ctrl+", 5) == 0) *mods |= GUI_MOD_CTRL, spec += 5;
        else if (strncasecmp(spec, "shift+", 6) == 0) *mods |= GUI_MOD_SHIFT, spec += 6;
        else break;
    }
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strcasecmp(spec, keys[i].name) == 0) return *key = keys[i].key, true;
    return false;
}

static bool set_field_number(gui_state *s, gui_field f, const char *v) {
    gui_edit_set(&s->field[f], v);
    return true;
}

// generate key=value...: fills the fields the way a person would, then asks for the run.
static gui_script_status cmd_generate(gui_script *sc, gui_app *a, char *args) {
    gui_state *s = &a->s;
    gui_state_set_mode(s, GUI_MODE_GENERATE);
    for (char *save = NULL, *kv = strtok_r(args, " \t", &save); kv; kv = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) return failed(sc, "expected key=value, got '%s'", kv);
        *eq = '\0';
        const char *k = kv, *v = eq + 1;
        if (strcmp(k, "class") == 0) {
            char *end;
            long id = strtol(v, &end, 10);
            if (*v && !*end) {
                if (id < 0 || id >= s->n_classes) return failed(sc, "class %s is out of range", v);
                gui_state_pick_class(s, (int)id);
            } else {
                gui_edit_set(&s->field[GUI_FIELD_SEARCH], v);
                gui_state_filter_classes(s);
                if (s->n_matches == 0) return failed(sc, "no class matches '%s'", v);
                gui_state_pick_class(s, s->matches[0]);
            }
        } else if (strcmp(k, "seed") == 0) {
            s->seed_random = strcmp(v, "random") == 0;
            if (!s->seed_random) set_field_number(s, GUI_FIELD_SEED, v);
        } else if (strcmp(k, "steps") == 0) set_field_number(s, GUI_FIELD_STEPS, v);
        else if (strcmp(k, "count") == 0) set_field_number(s, GUI_FIELD_COUNT, v);
        else if (strcmp(k, "cfg") == 0) set_field_number(s, GUI_FIELD_CFG, v);
        else if (strcmp(k, "temp") == 0) set_field_number(s, GUI_FIELD_TEMP, v);
        else if (strcmp(k, "mask_temp") == 0) set_field_number(s, GUI_FIELD_MASK_TEMP, v);
        else return failed(sc, "unknown generate setting '%s'", k);
    }
    if (!gui_state_request_generate(s)) return failed(sc, "%s", s->error);
    return GUI_SCRIPT_RUNNING;
}

static gui_script_status cmd_expect(gui_script *sc, gui_app *a, const char *what, const char *arg) {
    gui_state *s = &a->s;
    bool err = s->error[0] || s->shown_error[0];
    if (strcmp(what, "classified") == 0) {
        if (!s->classified) return failed(sc, "expected a classification (%s)", s->error[0] ? s->error : s->shown_error);
    } else if (strcmp(what, "error") == 0) {
        if (!err) return failed(sc, "expected an error in the window%s", "");
    } else if (strcmp(what, "no-error") == 0) {
        if (err) return failed(sc, "unexpected error: %s", s->error[0] ? s->error : s->shown_error);
    } else if (strcmp(what, "attention") == 0) {
        if (!s->attn) return failed(sc, "expected an attention map (%s)", s->attn_error[0] ? s->attn_error : "none");
    } else if (strcmp(what, "results") == 0) {
        if (!arg || atoi(arg) != s->n_results) return failed(sc, "expected %s results", arg ? arg : "?");
    } else if (strcmp(what, "mode") == 0) {
        if (!arg || strcasecmp(arg, gui_mode_name(s->mode)) != 0) return failed(sc, "expected mode %s", arg ? arg : "?");
    } else {
        return failed(sc, "unknown expectation '%s'", what);
    }
    return GUI_SCRIPT_RUNNING;
}

// One command; RUNNING means "go on with the next line".
static gui_script_status run_line(gui_script *sc, gui_app *a, char *line) {
    gui_state *s = &a->s;
    while (*line == ' ' || *line == '\t') line++;
    if (!*line || *line == '#') return GUI_SCRIPT_RUNNING;
    char *rest = line + strcspn(line, " \t");
    if (*rest) *rest++ = '\0';
    while (*rest == ' ' || *rest == '\t') rest++;
    char *arg1 = NULL, *arg2 = NULL, copy[4096];
    gui_copy(copy, sizeof copy, rest);
    char *save = NULL;
    arg1 = strtok_r(copy, " \t", &save);
    arg2 = arg1 ? strtok_r(NULL, " \t", &save) : NULL;
    const char *cmd = line;

    if (strcmp(cmd, "open") == 0) {
        if (!*rest) return failed(sc, "open needs a path%s", "");
        gui_state_set_mode(s, GUI_MODE_CLASSIFY);
        gui_app_open_path(a, rest);
    } else if (strcmp(cmd, "model") == 0) {
        if (!arg1) return failed(sc, "model needs a name or file%s", "");
        if (!gui_app_load_weights(a, arg1, NULL)) return failed(sc, "%s", s->error);
    } else if (strcmp(cmd, "generator") == 0) {
        if (!arg1) return failed(sc, "generator needs a file%s", "");
        if (!gui_app_load_weights(a, arg1, arg2)) return failed(sc, "%s", s->error);
    } else if (strcmp(cmd, "device") == 0) {
        gui_state_set_device(s, arg1 && strcmp(arg1, "cuda") == 0 ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU);
    } else if (strcmp(cmd, "precision") == 0) {
        seer_dtype dt = arg1 && strcmp(arg1, "bf16") == 0 ? SEER_BF16 : arg1 && strcmp(arg1, "f16") == 0 ? SEER_F16 : SEER_F32;
        if (!gui_state_set_dtype(s, dt)) return failed(sc, "%s", s->error);
    } else if (strcmp(cmd, "mode") == 0) {
        int m = -1;
        for (int i = 0; i < GUI_MODE_COUNT; i++)
            if (arg1 && strcasecmp(arg1, gui_mode_name(i)) == 0) m = i;
        if (m < 0) return failed(sc, "unknown mode '%s'", arg1 ? arg1 : "");
        gui_state_set_mode(s, m);
    } else if (strcmp(cmd, "classify") == 0) {
        if (!gui_state_current_file(s)) return failed(sc, "classify: no image open%s", "");
        s->want_classify = true;
    } else if (strcmp(cmd, "next") == 0 || strcmp(cmd, "prev") == 0) {
        gui_state_step_file(s, cmd[0] == 'n' ? 1 : -1);
    } else if (strcmp(cmd, "generate") == 0) {
        return cmd_generate(sc, a, rest);
    } else if (strcmp(cmd, "select") == 0) {
        if (arg1 && (strcmp(arg1, "all") == 0 || strcmp(arg1, "none") == 0)) gui_state_select_all_results(s, arg1[0] == 'a');
        else if (arg1) gui_state_toggle_result(s, atoi(arg1));
    } else if (strcmp(cmd, "save") == 0) {
        if (!arg1) return failed(sc, "save needs a folder%s", "");
        gui_edit_set(&s->field[GUI_FIELD_SAVE_DIR], arg1);
        if (!gui_app_save(a, arg1)) return failed(sc, "%s", s->error);
    } else if (strcmp(cmd, "screenshot") == 0) {
        if (!arg1) return failed(sc, "screenshot needs a file%s", "");
        if (!gui_app_screenshot(a, arg1)) return failed(sc, "%s", s->error);
    } else if (strcmp(cmd, "size") == 0) {
        if (!arg1 || !arg2 || !gui_app_resize(a, atoi(arg1), atoi(arg2))) return failed(sc, "size W H%s", "");
    } else if (strcmp(cmd, "key") == 0) {
        gui_key k;
        int mods;
        if (!arg1 || !parse_key(arg1, &k, &mods)) return failed(sc, "unknown key '%s'", arg1 ? arg1 : "");
        gui_state_key(s, k, mods);
    } else if (strcmp(cmd, "type") == 0) {
        gui_state_text_input(s, rest);
    } else if (strcmp(cmd, "attention") == 0) {
        // attention on|off | attention at FX FY (query point, fractions of the model input)
        if (arg1 && strcmp(arg1, "at") == 0) {
            char *fy = strtok_r(NULL, " \t", &save);
            if (!arg2 || !fy) return failed(sc, "attention at FX FY (fractions of the model input)%s", "");
            gui_state_attention_query(s, (float)atof(arg2), (float)atof(fy));
        } else {
            gui_state_set_attention(s, arg1 && strcmp(arg1, "on") == 0);
        }
    } else if (strcmp(cmd, "wait") == 0) {
        // wait [SECONDS] | wait step N [SECONDS]
        bool step = arg1 && strcmp(arg1, "step") == 0;
        const char *lim = step ? (arg2 ? strtok_r(NULL, " \t", &save) : NULL) : arg1;
        double limit = lim && atof(lim) > 0 ? atof(lim) : 300;
        if (!sc->waiting) sc->wait_start = SDL_GetTicks();
        bool done = step ? s->preview_step >= (arg2 ? atoi(arg2) : 1) || (gui_app_idle(a) && !s->busy)
                         : gui_app_idle(a);
        if (done) {
            sc->waiting = false;
            return GUI_SCRIPT_RUNNING;
        }
        if (SDL_GetTicks() - sc->wait_start > (Uint32)(limit * 1000)) return failed(sc, "still busy after the time limit%s", "");
        sc->waiting = true;
        return GUI_SCRIPT_WAITING;
    } else if (strcmp(cmd, "expect") == 0) {
        if (!arg1) return failed(sc, "expect what?%s", "");
        return cmd_expect(sc, a, arg1, arg2);
    } else if (strcmp(cmd, "click") == 0 || strcmp(cmd, "hover") == 0) {
        if (!arg1 || !arg2) return failed(sc, "%s X Y (window coordinates)", cmd);
        char *w = cmd[0] == 'h' ? strtok_r(NULL, " \t", &save) : NULL;
        if (cmd[0] == 'c') gui_app_click(a, atoi(arg1), atoi(arg2));
        else gui_app_hover(a, atoi(arg1), atoi(arg2), w ? atoi(w) : 0);
    } else if (strcmp(cmd, "drop") == 0) {
        if (!*rest) return failed(sc, "drop needs a path%s", "");
        gui_app_drop(a, rest);
    } else if (strcmp(cmd, "stats") == 0) {
        printf("stats: mode=%s file=%s classified=%d top1=%s p=%.4f latency_ms=%.3f results=%d attention=%dx%d "
               "error=%s\n",
               gui_mode_name(s->mode), gui_state_current_file(s) ? gui_state_current_file(s) : "-", s->classified,
               s->classified && s->k ? s->top_label[0] : "-", s->classified && s->k ? s->top_prob[0] : 0.0,
               s->last_ms, s->n_results, s->attn ? s->attn_h : 0, s->attn ? s->attn_w : 0,
               s->error[0] ? s->error : s->shown_error[0] ? s->shown_error : "-");
        fflush(stdout);
    } else if (strcmp(cmd, "echo") == 0) {
        printf("%s\n", rest);
        fflush(stdout);
    } else if (strcmp(cmd, "quit") == 0) {
        s->quit = true;
        return GUI_SCRIPT_DONE;
    } else {
        return failed(sc, "unknown command '%s'", cmd);
    }
    return GUI_SCRIPT_RUNNING;
}

gui_script_status gui_script_step(gui_script *sc, gui_app *a) {
    while (sc->at < sc->n) {
        char line[4096];
        gui_copy(line, sizeof line, sc->lines[sc->at]);
        gui_script_status st = run_line(sc, a, line);
        if (st == GUI_SCRIPT_WAITING) return st;
        if (st != GUI_SCRIPT_RUNNING) return st;
        sc->at++;
        // let the app take up what the command started before the next one looks at it
        if (!gui_app_idle(a)) return GUI_SCRIPT_RUNNING;
    }
    return GUI_SCRIPT_DONE;
}
