// The desktop app's state and actions, without a window: mode, file list, model choice, text
// fields, results, jobs, and what a key press does. The SDL side (main.c, ui*.c) draws this
// state and feeds it events; the worker (worker.c) runs the jobs it hands out. Tests drive it
// directly (tests/test_gui_state.c), so nothing here touches SDL, files or threads.
#ifndef GUI_STATE_H
#define GUI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/image.h"
#include "core/tensor.h"

typedef enum gui_mode { GUI_MODE_CLASSIFY = 0, GUI_MODE_SEGMENT, GUI_MODE_GENERATE, GUI_MODE_COUNT } gui_mode;
const char *gui_mode_name(gui_mode m);  // "Classify", "Segment", "Generate"

// Keys the app reacts to, independent of SDL's key codes (main.c maps them).
typedef enum gui_key {
    GUI_KEY_NONE = 0,
    GUI_KEY_LEFT, GUI_KEY_RIGHT, GUI_KEY_UP, GUI_KEY_DOWN, GUI_KEY_HOME, GUI_KEY_END,
    GUI_KEY_PAGEUP, GUI_KEY_PAGEDOWN,
    GUI_KEY_ENTER, GUI_KEY_ESCAPE, GUI_KEY_SPACE, GUI_KEY_TAB, GUI_KEY_BACKSPACE, GUI_KEY_DELETE,
    GUI_KEY_A, GUI_KEY_O, GUI_KEY_S, GUI_KEY_V, GUI_KEY_1, GUI_KEY_2, GUI_KEY_3,
} gui_key;
enum { GUI_MOD_CTRL = 1, GUI_MOD_SHIFT = 2, GUI_MOD_ALT = 4 };

// What the state cannot do itself (file system, clipboard, window): main.c does these.
typedef enum gui_action {
    GUI_ACT_NONE = 0,
    GUI_ACT_OPEN_PATH,    // open the path in GUI_FIELD_PATH (file or folder)
    GUI_ACT_LOAD_WEIGHTS, // the open-weights dialog was confirmed (fields WEIGHTS, TOKENIZER)
    GUI_ACT_SAVE,         // save generated images (selected, or all) into GUI_FIELD_SAVE_DIR
    GUI_ACT_SCREENSHOT,   // save the window as PNG into GUI_FIELD_SAVE_DIR
    GUI_ACT_CANCEL,       // set the worker's cancel flag
    GUI_ACT_PASTE,        // insert the clipboard into the focused field
    GUI_ACT_QUIT,
} gui_action;

typedef enum gui_field {
    GUI_FIELD_NONE = -1,
    GUI_FIELD_PATH = 0,    // Classify: image or folder to open
    GUI_FIELD_SEARCH,      // Generate: class search
    GUI_FIELD_STEPS, GUI_FIELD_CFG, GUI_FIELD_TEMP, GUI_FIELD_MASK_TEMP, GUI_FIELD_SEED,
    GUI_FIELD_COUNT,
    GUI_FIELD_SAVE_DIR,
    GUI_FIELD_WEIGHTS,     // open-weights dialog: classifier or generator file
    GUI_FIELD_TOKENIZER,   // open-weights dialog (Generate): tokenizer file
    GUI_FIELD_N
} gui_field;

#define GUI_TEXT_MAX 1024
typedef struct gui_edit {
    char buf[GUI_TEXT_MAX];
    int len, cursor;  // bytes; the cursor sits on a UTF-8 character boundary
    bool all;         // the whole text is selected: typing replaces it, a cursor move keeps it
} gui_edit;

// Copies src into dst[n], cut on a UTF-8 character boundary when it does not fit.
void gui_copy(char *dst, size_t n, const char *src);

void gui_edit_set(gui_edit *t, const char *s);  // cursor at the end; truncated on a char boundary
bool gui_edit_insert(gui_edit *t, const char *utf8);  // false when it does not fit
void gui_edit_backspace(gui_edit *t);
void gui_edit_delete(gui_edit *t);
void gui_edit_move(gui_edit *t, int dir);  // one character left (-1) or right (+1)

// A weights file the pickers offer. Classifiers and generators live in separate lists.
typedef struct gui_model_entry {
    char label[96];    // what the picker shows: "resnet56", "my_model.safetensors"
    char path[1024];
    char detail[128];  // "registry preset", "assets/models", "opened"
} gui_model_entry;

typedef struct gui_model_list {
    gui_model_entry *items;
    int count, cap;
} gui_model_list;
// Adds (or finds) the entry for path; returns its index, -1 when out of memory.
int gui_model_list_add(gui_model_list *l, const char *label, const char *path, const char *detail);
void gui_model_list_free(gui_model_list *l);

// ---- jobs ---------------------------------------------------------------------------------
typedef enum gui_job_kind {
    GUI_JOB_NONE = 0,
    GUI_JOB_LOAD_MODEL,  // path, device, dtype
    GUI_JOB_CLASSIFY,    // path (decode for display; classify when a model is loaded)
    GUI_JOB_LOAD_GEN,    // path (generator), path2 (tokenizer), device, dtype
    GUI_JOB_GENERATE,    // the gen_* fields
} gui_job_kind;

typedef struct gui_job {
    gui_job_kind kind;
    int id;
    char path[1024], path2[1024];
    seer_device device;
    seer_dtype dtype;
    int threads;     // CPU threads; 0: chosen by the worker from the model's size
    int file_index;  // CLASSIFY: index into the file list it was asked for
    int class_id, steps, count;
    float cfg, temp, mask_temp;
    uint64_t seed;  // image i gets seed + i
    bool attention;          // CLASSIFY: also the model's attention map
    float attn_qx, attn_qy;  // its query point, fractions of the model input; < 0: none
} gui_job;

#define GUI_TOPK 5
// What a job gives back (worker.c fills it; ownership of images and names moves to the state).
typedef struct gui_job_result {
    gui_job_kind kind;
    int id;
    int status;        // seer_status
    char error[1024];  // when status != OK
    double ms;         // wall time of the work itself (forward pass for CLASSIFY)
    // LOAD_MODEL / LOAD_GEN
    char name[96];     // model name ("resnet8", "enat_tiny")
    char info[256];    // "10 classes · 32×32 · cifar"
    char **class_names;  // LOAD_GEN: num_classes names (owned; may be NULL)
    int num_classes;
    int gen_steps;     // LOAD_GEN: the model's sampler defaults
    float gen_cfg, gen_temp, gen_mask_temp;
    char gen_guide[64];  // LOAD_GEN: the guide model loaded with it ("" = none) and its weight
    float gen_guide_w;
    bool has_attention;
    // CLASSIFY
    seer_image image;  // for display
    char image_info[128];
    float crop[4];     // the part of the image the model sees: x, y, w, h as fractions (w = 0: unknown)
    bool classified;   // false: shown only (no model loaded)
    int k, class_id[GUI_TOPK];
    float prob[GUI_TOPK];
    char label[GUI_TOPK][96];
    float *attn;       // attention map attn_h x attn_w in [0, 1] over the crop (owned), or NULL
    int attn_h, attn_w;
    char attn_method[64], attn_error[256];  // what the map shows; why there is none
    bool attn_uses_query;
    // GENERATE
    seer_image *images;
    int n_images;
    // memory after the job
    size_t weights_bytes, arena_bytes, rss_bytes;
} gui_job_result;

void gui_job_result_free(gui_job_result *r);  // frees images and names still owned

// ---- the state ----------------------------------------------------------------------------
typedef struct gui_gen_item {
    seer_image img;
    int class_id;
    uint64_t seed;
    int steps;
    float cfg, temp, mask_temp;
    bool selected;
} gui_gen_item;

typedef enum gui_popup { GUI_POPUP_NONE = 0, GUI_POPUP_MODEL, GUI_POPUP_DEVICE, GUI_POPUP_PRECISION } gui_popup;

#define GUI_LOG_LINES 64

typedef struct gui_state {
    gui_mode mode;
    gui_edit field[GUI_FIELD_N];
    gui_field focus;
    gui_popup popup;
    bool dialog_open;  // the open-weights dialog
    bool quit;

    // Classify: files to step through
    char **files;
    int n_files, file_index;
    char folder[1024];  // the folder they came from, or ""

    // models and devices
    gui_model_list classifiers, generators;
    int model_sel, gen_sel;           // index in the lists, -1: none
    char tokenizer_path[1024];        // paired with generators (found or typed)
    bool cuda_available;
    seer_device device;
    seer_dtype dtype;
    int threads;  // --threads; 0: automatic

    // loaded models (as the worker reported)
    bool model_loaded, gen_loaded;
    char model_name[96], model_info[256], gen_name[96], gen_info[256];
    char gen_guide[64];  // the generator's guide ("" = none) and weight, for saved PNGs
    float gen_guide_w;
    bool has_attention, attention_on;
    char **class_names;  // the generator's classes
    int n_classes;

    // classify view
    seer_image shown;
    int shown_version;   // bumped whenever `shown` changes (the UI re-uploads its texture)
    char shown_path[1024], shown_info[128], shown_error[1024];
    float shown_crop[4];  // x, y, w, h of the model's input region, as fractions of the image
    bool classified;
    int k, top_id[GUI_TOPK];
    float top_prob[GUI_TOPK];
    char top_label[GUI_TOPK][96];
    // the attention view of the shown image: map over the model's input region (shown_crop)
    float *attn;  // attn_h x attn_w in [0, 1], or NULL
    int attn_h, attn_w, attn_version;
    char attn_method[64], attn_error[256];
    bool attn_uses_query;
    float attn_qx, attn_qy;  // the picked query point (fractions of the model input); < 0: none

    // generate: class picker, results, live preview
    int *matches, n_matches;  // class ids matching the search, in id order
    int class_sel;            // chosen class id, -1: none
    int class_scroll;         // first visible row of the match list
    bool seed_random;
    uint64_t rng;             // for random seeds (main seeds it from the clock; tests fix it)
    gui_gen_item *results;
    int n_results, results_cap, result_cursor, results_version;
    seer_image *preview;      // the partial grids during a run
    int n_preview, preview_step, preview_steps, preview_version;

    // jobs
    bool busy, cancel_requested;
    gui_job running;
    bool want_load_model, want_classify, want_load_gen, want_generate;
    gui_job gen_request;
    int next_job_id;
    int progress_done, progress_total;  // of the running job
    char progress_text[128];

    // status line and messages
    double last_ms;
    size_t weights_bytes, arena_bytes, rss_bytes;
    char error[1024];     // shown in the window until dismissed or replaced
    char notice[256];     // last info ("saved 4 images to ...")
    char log[GUI_LOG_LINES][256];
    int n_log;            // lines ever added (ring of GUI_LOG_LINES)

    // actions for main.c, in order
    gui_action actions[16];
    int n_actions;
} gui_state;

void gui_state_init(gui_state *s, bool cuda_available);
void gui_state_free(gui_state *s);

gui_action gui_state_pop_action(gui_state *s);  // GUI_ACT_NONE when none left
void gui_state_push_action(gui_state *s, gui_action a);

// Input. Both return true when the state used the event.
bool gui_state_key(gui_state *s, gui_key key, int mods);
bool gui_state_text_input(gui_state *s, const char *utf8);  // into the focused field
void gui_state_focus(gui_state *s, gui_field f);            // GUI_FIELD_NONE: no focus
void gui_state_open_dialog(gui_state *s);                   // the open-weights dialog
void gui_state_set_mode(gui_state *s, gui_mode m);
void gui_state_error(gui_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gui_state_notice(gui_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gui_state_log(gui_state *s, const char *line);
const char *gui_state_log_line(const gui_state *s, int back);  // 0 = newest; NULL past the end

// Classify: the files to step through (copied; sorted by the caller) and the one to show.
// Asks for a classify job of that file.
bool gui_state_set_files(gui_state *s, const char *const *paths, int n, int index, const char *folder);
void gui_state_step_file(gui_state *s, int delta);  // wraps around
void gui_state_show_file(gui_state *s, int index);
const char *gui_state_current_file(const gui_state *s);  // NULL when none

// Models: choosing one asks for a load job (and a new classify of the current file).
void gui_state_select_model(gui_state *s, int index);
void gui_state_select_generator(gui_state *s, int index);
void gui_state_set_device(gui_state *s, seer_device d);  // reloads what is loaded
// false (and an error) when the device cannot run that precision
bool gui_state_set_dtype(gui_state *s, seer_dtype dt);

// The attention view: on/off (on asks for a map of the shown image when it has none), and the
// query point a click picked, as fractions of the model's input (< 0: none; only for models
// whose map depends on one). Both ask for a classify job that brings the map.
void gui_state_set_attention(gui_state *s, bool on);
void gui_state_attention_query(gui_state *s, float qx, float qy);

// Generate: the class picker.
void gui_state_set_classes(gui_state *s, char **names, int n);  // takes ownership
void gui_state_filter_classes(gui_state *s);  // from GUI_FIELD_SEARCH
void gui_state_pick_class(gui_state *s, int class_id);
void gui_state_move_class(gui_state *s, int delta);  // within the matches
// Reads the parameter fields into a GENERATE request; false and an error message when a
// field is not valid or nothing can be generated yet.
bool gui_state_request_generate(gui_state *s);
void gui_state_toggle_result(gui_state *s, int index);
void gui_state_select_all_results(gui_state *s, bool on);
int gui_state_results_to_save(const gui_state *s, int *idx, int cap);  // selected, or all

// Jobs: the next job to run when none is running (priority: load model, classify, load
// generator, generate); marks it running.
bool gui_state_take_job(gui_state *s, gui_job *out);
// A job finished: results move into the state (r's images and names are taken).
void gui_state_job_done(gui_state *s, gui_job_result *r);
void gui_state_job_progress(gui_state *s, int done, int total, const char *text);
// A partial grid of a GENERATE run (takes ownership of the n images).
void gui_state_gen_preview(gui_state *s, int step, int steps, seer_image *images, int n);
void gui_state_cancel(gui_state *s);  // cancel the running job and drop waiting ones
bool gui_state_idle(const gui_state *s);  // nothing running or waiting

#endif
