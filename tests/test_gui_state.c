// The desktop app's state machine (app/gui/state.c), driven without a window: keys, text
// fields, file stepping, model choice, the job queue, results and the class picker.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/gui/state.h"
#include "core/status.h"

static gui_state s;

static void setup(void) { gui_state_init(&s, false); }
static void teardown(void) { gui_state_free(&s); }

TestSuite(gui_state, .init = setup, .fini = teardown);

static seer_image tiny_image(uint8_t v) {
    seer_image img = {.w = 2, .h = 2, .c = 3, .px = malloc(12)};
    memset(img.px, v, 12);
    return img;
}

static void set_files(int n) {
    char buf[16][32];
    const char *paths[16];
    for (int i = 0; i < n; i++) {
        snprintf(buf[i], sizeof buf[i], "/data/img%02d.jpg", i);
        paths[i] = buf[i];
    }
    cr_assert(gui_state_set_files(&s, paths, n, 0, "/data"));
}

static void add_model(const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/models/%s.safetensors", name);
    cr_assert_geq(gui_model_list_add(&s.classifiers, name, path, "test"), 0);
}

// Finish the running job with an OK result of its kind.
static void finish_ok(void) {
    gui_job_result r = {.kind = s.running.kind, .id = s.running.id, .status = SEER_STATUS_OK};
    snprintf(r.name, sizeof r.name, "resnet8");
    gui_state_job_done(&s, &r);
}

Test(gui_state, starts_in_classify_with_nothing_loaded) {
    cr_assert_eq(s.mode, GUI_MODE_CLASSIFY);
    cr_assert_eq(s.focus, GUI_FIELD_NONE);
    cr_assert_eq(s.device, SEER_DEVICE_CPU);
    cr_assert_eq(s.dtype, SEER_F32);
    cr_assert(!s.busy && gui_state_idle(&s));
    cr_assert_null(gui_state_current_file(&s));
    gui_job j;
    cr_assert(!gui_state_take_job(&s, &j));
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_NONE);
}

Test(gui_state, text_fields_edit_whole_utf8_characters) {
    gui_edit t = {0};
    gui_edit_set(&t, "caf");
    cr_assert(gui_edit_insert(&t, "é!"));
    cr_assert_str_eq(t.buf, "café!");
    gui_edit_backspace(&t);
    gui_edit_backspace(&t);  // removes both bytes of é
    cr_assert_str_eq(t.buf, "caf");
    gui_edit_move(&t, -1);
    gui_edit_move(&t, -1);
    cr_assert(gui_edit_insert(&t, "→"));
    cr_assert_str_eq(t.buf, "c→af");
    gui_edit_move(&t, -1);
    gui_edit_delete(&t);
    cr_assert_str_eq(t.buf, "caf");
    cr_assert_eq(t.cursor, 1);
    cr_assert(!gui_edit_insert(&t, "a\nb"), "control characters stay out of a field");
    char big[GUI_TEXT_MAX + 8];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert(!gui_edit_insert(&t, big));
    cr_assert_str_eq(t.buf, "caf");
    // a value cut to fit keeps whole characters
    char dst[4];
    gui_copy(dst, sizeof dst, "aéé");
    cr_assert_str_eq(dst, "aé");
}

Test(gui_state, arrows_step_through_files_and_wrap) {
    set_files(3);
    cr_assert(s.want_classify);
    cr_assert_str_eq(gui_state_current_file(&s), "/data/img00.jpg");
    cr_assert(gui_state_key(&s, GUI_KEY_RIGHT, 0));
    cr_assert_eq(s.file_index, 1);
    cr_assert(gui_state_key(&s, GUI_KEY_DOWN, 0));
    cr_assert_eq(s.file_index, 2);
    gui_state_key(&s, GUI_KEY_RIGHT, 0);
    cr_assert_eq(s.file_index, 0, "stepping past the last file wraps to the first");
    gui_state_key(&s, GUI_KEY_LEFT, 0);
    cr_assert_eq(s.file_index, 2);
    gui_state_key(&s, GUI_KEY_HOME, 0);
    cr_assert_eq(s.file_index, 0);
    gui_state_key(&s, GUI_KEY_END, 0);
    cr_assert_eq(s.file_index, 2);
}

Test(gui_state, open_image_opens_at_that_file) {
    const char *paths[] = {"/d/a.png", "/d/b.png", "/d/c.png"};
    cr_assert(gui_state_set_files(&s, paths, 3, 1, "/d"));
    cr_assert_str_eq(gui_state_current_file(&s), "/d/b.png");
    cr_assert_str_eq(s.folder, "/d");
}

Test(gui_state, ctrl_o_focuses_the_path_and_enter_opens_it) {
    cr_assert(gui_state_key(&s, GUI_KEY_O, GUI_MOD_CTRL));
    cr_assert_eq(s.focus, GUI_FIELD_PATH);
    cr_assert(gui_state_text_input(&s, "/tmp/cat.png"));
    cr_assert_str_eq(s.field[GUI_FIELD_PATH].buf, "/tmp/cat.png");
    // arrows edit the field instead of stepping files
    gui_state_key(&s, GUI_KEY_LEFT, 0);
    cr_assert_eq(s.field[GUI_FIELD_PATH].cursor, s.field[GUI_FIELD_PATH].len - 1);
    cr_assert(gui_state_key(&s, GUI_KEY_ENTER, 0));
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_OPEN_PATH);
    cr_assert_eq(s.focus, GUI_FIELD_NONE);
    // Ctrl+O again selects the path: typing replaces it, a cursor key keeps it
    gui_state_key(&s, GUI_KEY_O, GUI_MOD_CTRL);
    cr_assert(s.field[GUI_FIELD_PATH].all);
    gui_state_text_input(&s, "/tmp/dog.png");
    cr_assert_str_eq(s.field[GUI_FIELD_PATH].buf, "/tmp/dog.png");
    gui_state_key(&s, GUI_KEY_A, GUI_MOD_CTRL);
    gui_state_key(&s, GUI_KEY_END, 0);
    gui_state_text_input(&s, "x");
    cr_assert_str_eq(s.field[GUI_FIELD_PATH].buf, "/tmp/dog.pngx");
    gui_state_key(&s, GUI_KEY_A, GUI_MOD_CTRL);
    gui_state_key(&s, GUI_KEY_BACKSPACE, 0);
    cr_assert_str_eq(s.field[GUI_FIELD_PATH].buf, "");
    gui_state_focus(&s, GUI_FIELD_NONE);
    // in Generate, Ctrl+O opens the weights dialog
    gui_state_set_mode(&s, GUI_MODE_GENERATE);
    gui_state_key(&s, GUI_KEY_O, GUI_MOD_CTRL);
    cr_assert(s.dialog_open);
    cr_assert_eq(s.focus, GUI_FIELD_WEIGHTS);
    gui_state_text_input(&s, "/m/enat.safetensors");
    gui_state_key(&s, GUI_KEY_TAB, 0);
    cr_assert_eq(s.focus, GUI_FIELD_TOKENIZER);
    gui_state_key(&s, GUI_KEY_ENTER, 0);
    cr_assert(!s.dialog_open);
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_LOAD_WEIGHTS);
}

Test(gui_state, text_goes_nowhere_without_focus) {
    cr_assert(!gui_state_text_input(&s, "x"));
    cr_assert_eq(s.field[GUI_FIELD_PATH].len, 0);
}

Test(gui_state, ctrl_keys_switch_modes_and_save) {
    gui_state_key(&s, GUI_KEY_3, GUI_MOD_CTRL);
    cr_assert_eq(s.mode, GUI_MODE_GENERATE);
    gui_state_key(&s, GUI_KEY_2, GUI_MOD_CTRL);
    cr_assert_eq(s.mode, GUI_MODE_SEGMENT);
    gui_state_key(&s, GUI_KEY_1, GUI_MOD_CTRL);
    cr_assert_eq(s.mode, GUI_MODE_CLASSIFY);
    // Ctrl+S: a screenshot in Classify, the images in Generate once there are some
    gui_state_key(&s, GUI_KEY_S, GUI_MOD_CTRL);
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_SCREENSHOT);
    cr_assert_str_eq(gui_mode_name(GUI_MODE_SEGMENT), "Segment");
}

Test(gui_state, escape_closes_the_top_thing_first) {
    add_model("resnet8");
    set_files(2);
    gui_state_select_model(&s, 0);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    gui_state_focus(&s, GUI_FIELD_PATH);
    s.popup = GUI_POPUP_DEVICE;
    gui_state_key(&s, GUI_KEY_ESCAPE, 0);
    cr_assert_eq(s.popup, GUI_POPUP_NONE);
    cr_assert(s.busy && !s.cancel_requested);
    gui_state_key(&s, GUI_KEY_ESCAPE, 0);
    cr_assert(s.cancel_requested, "a running job is cancelled next");
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_CANCEL);
    cr_assert(!s.want_classify, "waiting work is dropped with it");
    finish_ok();
    gui_state_key(&s, GUI_KEY_ESCAPE, 0);
    cr_assert_eq(s.focus, GUI_FIELD_NONE);
    gui_state_error(&s, "bad %s", "thing");
    gui_state_key(&s, GUI_KEY_ESCAPE, 0);
    cr_assert_str_eq(s.error, "");
    cr_assert(!gui_state_key(&s, GUI_KEY_ESCAPE, 0));
}

Test(gui_state, model_loads_before_the_image_is_classified) {
    add_model("resnet8");
    set_files(4);
    gui_state_select_model(&s, 0);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.kind, GUI_JOB_LOAD_MODEL);
    cr_assert_str_eq(j.path, "/models/resnet8.safetensors");
    cr_assert_eq(j.device, SEER_DEVICE_CPU);
    gui_job k;
    cr_assert(!gui_state_take_job(&s, &k), "one job at a time");
    // the user steps while the model loads: only the last file is classified
    gui_state_key(&s, GUI_KEY_RIGHT, 0);
    gui_state_key(&s, GUI_KEY_RIGHT, 0);
    gui_state_key(&s, GUI_KEY_RIGHT, 0);
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_NONE, "a model load is not cancelled by stepping");
    finish_ok();
    cr_assert(s.model_loaded);
    cr_assert_str_eq(s.model_name, "resnet8");
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.kind, GUI_JOB_CLASSIFY);
    cr_assert_eq(j.file_index, 3);
    cr_assert_str_eq(j.path, "/data/img03.jpg");
    cr_assert(!gui_state_take_job(&s, &k));
}

Test(gui_state, stepping_past_a_running_classify_cancels_it_and_drops_its_result) {
    set_files(3);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.kind, GUI_JOB_CLASSIFY);
    gui_state_key(&s, GUI_KEY_RIGHT, 0);
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_CANCEL);
    gui_job_result r = {.kind = GUI_JOB_CLASSIFY, .id = j.id, .status = SEER_STATUS_OK, .image = tiny_image(1)};
    gui_state_job_done(&s, &r);
    cr_assert_null(s.shown.px, "the stale image is not shown");
    cr_assert_null(r.image.px, "the state took (and freed) the image");
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.file_index, 1);
}

Test(gui_state, classify_results_and_errors_show) {
    set_files(2);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    gui_job_result r = {.kind = GUI_JOB_CLASSIFY, .id = j.id, .status = SEER_STATUS_OK, .image = tiny_image(9),
                        .classified = true, .k = 2, .class_id = {3, 5}, .prob = {0.75f, 0.25f}, .ms = 2.5};
    snprintf(r.label[0], sizeof r.label[0], "cat");
    snprintf(r.label[1], sizeof r.label[1], "dog");
    int v = s.shown_version;
    gui_state_job_done(&s, &r);
    cr_assert(s.classified);
    cr_assert_eq(s.k, 2);
    cr_assert_str_eq(s.top_label[0], "cat");
    cr_assert_float_eq(s.top_prob[1], 0.25f, 1e-6);
    cr_assert_eq(s.shown.px[0], 9);
    cr_assert_gt(s.shown_version, v);
    cr_assert_float_eq(s.last_ms, 2.5, 1e-9);
    cr_assert(gui_state_idle(&s));

    // a file that is not an image: the error shows in place of the picture, nothing crashes
    gui_state_key(&s, GUI_KEY_RIGHT, 0);
    cr_assert(gui_state_take_job(&s, &j));
    gui_job_result e = {.kind = GUI_JOB_CLASSIFY, .id = j.id, .status = SEER_STATUS_FORMAT};
    snprintf(e.error, sizeof e.error, "/data/img01.jpg: not an image (HTML)");
    gui_state_job_done(&s, &e);
    cr_assert(!s.classified);
    cr_assert_null(s.shown.px);
    cr_assert(strstr(s.shown_error, "not an image"));
}

Test(gui_state, a_model_that_fails_to_load_says_why) {
    add_model("broken");
    gui_state_select_model(&s, 0);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    gui_job_result r = {.kind = GUI_JOB_LOAD_MODEL, .id = j.id, .status = SEER_STATUS_SHAPE};
    snprintf(r.error, sizeof r.error, "layer1.0.conv1.weight: expected [16, 16, 3, 3]");
    gui_state_job_done(&s, &r);
    cr_assert(!s.model_loaded);
    cr_assert(strstr(s.error, "could not load the classifier"));
    cr_assert(strstr(s.error, "layer1.0.conv1.weight"));
    cr_assert(strstr(gui_state_log_line(&s, 0), "layer1.0.conv1.weight"), "errors are logged too");
}

Test(gui_state, device_and_precision_are_checked) {
    add_model("resnet8");
    gui_state_select_model(&s, 0);
    gui_job j;
    gui_state_take_job(&s, &j);
    finish_ok();
    gui_state_set_device(&s, SEER_DEVICE_CUDA);
    cr_assert_eq(s.device, SEER_DEVICE_CPU, "no CUDA here");
    cr_assert(strstr(s.error, "CUDA is not available"));
    cr_assert(!gui_state_set_dtype(&s, SEER_BF16));
    cr_assert_eq(s.dtype, SEER_F32);

    gui_state_free(&s);
    gui_state_init(&s, true);
    cr_assert_eq(s.device, SEER_DEVICE_CUDA, "CUDA is the default where there is one");
    add_model("resnet8");
    gui_state_select_model(&s, 0);
    gui_state_take_job(&s, &j);
    finish_ok();
    cr_assert(gui_state_set_dtype(&s, SEER_BF16));
    cr_assert(s.want_load_model, "a new precision reloads the model");
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.dtype, SEER_BF16);
    finish_ok();
    gui_state_set_device(&s, SEER_DEVICE_CPU);
    cr_assert_eq(s.dtype, SEER_F32, "the CPU computes in f32");
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.device, SEER_DEVICE_CPU);
}

static char **names(int n, const char *const *src) {
    char **out = calloc((size_t)n, sizeof *out);
    for (int i = 0; i < n; i++) out[i] = strdup(src[i]);
    return out;
}

static const char *const imagenet5[] = {"tench, Tinca tinca", "goldfish, Carassius auratus",
                                        "great white shark, white shark", "tiger shark, Galeocerdo cuvieri",
                                        "hammerhead, hammerhead shark"};

Test(gui_state, class_search_matches_names_and_numbers) {
    gui_state_set_classes(&s, names(5, imagenet5), 5);
    cr_assert_eq(s.n_matches, 5);
    gui_state_set_mode(&s, GUI_MODE_GENERATE);
    gui_state_focus(&s, GUI_FIELD_SEARCH);
    gui_state_text_input(&s, "SHARK");
    cr_assert_eq(s.n_matches, 3);
    cr_assert_eq(s.matches[0], 2);
    gui_state_key(&s, GUI_KEY_DOWN, 0);
    cr_assert_eq(s.class_sel, 2);
    gui_state_key(&s, GUI_KEY_DOWN, 0);
    gui_state_key(&s, GUI_KEY_DOWN, 0);
    gui_state_key(&s, GUI_KEY_DOWN, 0);
    cr_assert_eq(s.class_sel, 4, "the selection stops at the last match");
    gui_state_key(&s, GUI_KEY_UP, 0);
    cr_assert_eq(s.class_sel, 3);
    // a number finds that class id
    gui_edit_set(&s.field[GUI_FIELD_SEARCH], " 1 ");
    gui_state_filter_classes(&s);
    cr_assert_eq(s.n_matches, 1);
    cr_assert_eq(s.matches[0], 1);
    // Enter picks the first match when the chosen class is not among them
    gui_state_key(&s, GUI_KEY_ENTER, 0);
    cr_assert_eq(s.class_sel, 1);
    cr_assert_eq(s.focus, GUI_FIELD_NONE);
    gui_edit_set(&s.field[GUI_FIELD_SEARCH], "zebra");
    gui_state_filter_classes(&s);
    cr_assert_eq(s.n_matches, 0);
}

// A loaded generator with its defaults, as the worker reports it.
static void load_generator(void) {
    cr_assert_geq(gui_model_list_add(&s.generators, "enat_tiny", "/m/enat_tiny.safetensors", "test"), 0);
    gui_state_select_generator(&s, 0);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.kind, GUI_JOB_LOAD_GEN);
    gui_job_result r = {.kind = GUI_JOB_LOAD_GEN, .id = j.id, .status = SEER_STATUS_OK, .num_classes = 5,
                        .class_names = names(5, imagenet5), .gen_steps = 8, .gen_cfg = 2.5f, .gen_temp = 6,
                        .gen_mask_temp = 1.5f};
    snprintf(r.name, sizeof r.name, "enat_tiny");
    gui_state_job_done(&s, &r);
    cr_assert(s.gen_loaded);
    cr_assert_null(r.class_names, "the state took the names");
}

Test(gui_state, generate_needs_a_generator_a_class_and_valid_settings) {
    gui_state_set_mode(&s, GUI_MODE_GENERATE);
    cr_assert(gui_state_key(&s, GUI_KEY_SPACE, 0));
    cr_assert(!s.want_generate);
    cr_assert(strstr(s.error, "no generator weights loaded"));
    load_generator();
    cr_assert_str_eq(s.field[GUI_FIELD_STEPS].buf, "8", "the model's defaults fill the fields");
    cr_assert_str_eq(s.field[GUI_FIELD_CFG].buf, "2.5");
    cr_assert(!gui_state_request_generate(&s));
    cr_assert(strstr(s.error, "pick a class"));
    gui_state_pick_class(&s, 1);
    gui_edit_set(&s.field[GUI_FIELD_STEPS], "eight");
    cr_assert(!gui_state_request_generate(&s));
    cr_assert(strstr(s.error, "steps must be a whole number"));
    gui_edit_set(&s.field[GUI_FIELD_STEPS], "12");
    gui_edit_set(&s.field[GUI_FIELD_COUNT], "65");
    cr_assert(!gui_state_request_generate(&s));
    gui_edit_set(&s.field[GUI_FIELD_COUNT], "3");
    gui_edit_set(&s.field[GUI_FIELD_CFG], "-1");
    cr_assert(!gui_state_request_generate(&s));
    gui_edit_set(&s.field[GUI_FIELD_CFG], "4");
    // typing a seed turns "random" off
    gui_state_focus(&s, GUI_FIELD_SEED);
    gui_edit_set(&s.field[GUI_FIELD_SEED], "");
    gui_state_text_input(&s, "42");
    cr_assert(!s.seed_random);
    gui_state_focus(&s, GUI_FIELD_NONE);
    cr_assert(gui_state_key(&s, GUI_KEY_SPACE, 0));
    cr_assert_str_eq(s.error, "");
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.kind, GUI_JOB_GENERATE);
    cr_assert_eq(j.class_id, 1);
    cr_assert_eq(j.steps, 12);
    cr_assert_eq(j.count, 3);
    cr_assert_float_eq(j.cfg, 4.0f, 0);
    cr_assert_float_eq(j.temp, 6.0f, 0);
    cr_assert_eq(j.seed, 42u);
}

Test(gui_state, random_seeds_are_drawn_and_shown) {
    load_generator();
    gui_state_pick_class(&s, 0);
    cr_assert(s.seed_random);
    s.rng = 1;
    cr_assert(gui_state_request_generate(&s));
    uint64_t first = s.gen_request.seed;
    char shown[32];
    snprintf(shown, sizeof shown, "%llu", (unsigned long long)first);
    cr_assert_str_eq(s.field[GUI_FIELD_SEED].buf, shown, "the seed used is written back, to reproduce it");
    cr_assert_lt(first, 1000000000u);
    cr_assert(gui_state_request_generate(&s));
    cr_assert_neq(s.gen_request.seed, first);
}

Test(gui_state, generation_shows_steps_then_results_to_select_and_save) {
    load_generator();
    gui_state_pick_class(&s, 1);
    gui_edit_set(&s.field[GUI_FIELD_SEED], "100");
    s.seed_random = false;
    gui_edit_set(&s.field[GUI_FIELD_COUNT], "3");
    gui_state_set_mode(&s, GUI_MODE_GENERATE);
    gui_state_key(&s, GUI_KEY_SPACE, 0);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    // a partial grid per step; the state owns them
    for (int step = 1; step <= 2; step++) {
        seer_image *p = calloc(3, sizeof *p);
        for (int i = 0; i < 3; i++) p[i] = tiny_image((uint8_t)step);
        gui_state_gen_preview(&s, step, 8, p, 3);
    }
    cr_assert_eq(s.n_preview, 3);
    cr_assert_eq(s.preview_step, 2);
    cr_assert_eq(s.progress_done, 2);
    gui_job_result r = {.kind = GUI_JOB_GENERATE, .id = j.id, .status = SEER_STATUS_OK, .n_images = 3};
    r.images = calloc(3, sizeof *r.images);
    for (int i = 0; i < 3; i++) r.images[i] = tiny_image((uint8_t)(10 + i));
    gui_state_job_done(&s, &r);
    cr_assert_eq(s.n_preview, 0);
    cr_assert_eq(s.n_results, 3);
    cr_assert_eq(s.results[2].seed, 102u, "image i has seed + i");
    cr_assert_eq(s.results[2].img.px[0], 12);
    cr_assert_eq(s.results[0].class_id, 1);

    int idx[8];
    cr_assert_eq(gui_state_results_to_save(&s, idx, 8), 3, "nothing selected: all are saved");
    gui_state_toggle_result(&s, 2);
    gui_state_key(&s, GUI_KEY_LEFT, 0);
    gui_state_key(&s, GUI_KEY_LEFT, 0);
    gui_state_key(&s, GUI_KEY_ENTER, 0);  // toggles the result under the cursor (0)
    cr_assert_eq(gui_state_results_to_save(&s, idx, 8), 2);
    cr_assert_eq(idx[0], 0);
    cr_assert_eq(idx[1], 2);
    gui_state_key(&s, GUI_KEY_A, GUI_MOD_CTRL);
    cr_assert(s.results[1].selected, "Ctrl+A selects all");
    gui_state_key(&s, GUI_KEY_A, GUI_MOD_CTRL);
    cr_assert(!s.results[0].selected, "and again selects none");
    gui_state_key(&s, GUI_KEY_S, GUI_MOD_CTRL);
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_SAVE);
}

Test(gui_state, a_cancelled_generation_keeps_the_old_results) {
    load_generator();
    gui_state_pick_class(&s, 0);
    cr_assert(gui_state_request_generate(&s));
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    gui_state_cancel(&s);
    cr_assert_eq(gui_state_pop_action(&s), GUI_ACT_CANCEL);
    gui_job_result r = {.kind = GUI_JOB_GENERATE, .id = j.id, .status = SEER_STATUS_CANCELLED};
    gui_state_job_done(&s, &r);
    cr_assert(!s.busy);
    cr_assert_str_eq(s.error, "", "cancelling is not an error");
    cr_assert(strstr(s.notice, "cancelled"));
}

Test(gui_state, tab_walks_the_fields_of_the_mode) {
    gui_state_set_mode(&s, GUI_MODE_GENERATE);
    gui_state_key(&s, GUI_KEY_TAB, 0);
    cr_assert_eq(s.focus, GUI_FIELD_SEARCH);
    gui_state_key(&s, GUI_KEY_TAB, 0);
    cr_assert_eq(s.focus, GUI_FIELD_STEPS);
    gui_state_key(&s, GUI_KEY_TAB, GUI_MOD_SHIFT);
    gui_state_key(&s, GUI_KEY_TAB, GUI_MOD_SHIFT);
    cr_assert_eq(s.focus, GUI_FIELD_SAVE_DIR, "Shift+Tab wraps backwards");
    // Space types into a focused field rather than starting a run
    cr_assert(!gui_state_key(&s, GUI_KEY_SPACE, 0));
    cr_assert(!s.want_generate);
}

Test(gui_state, the_log_keeps_the_newest_lines) {
    char line[32];
    for (int i = 0; i < GUI_LOG_LINES + 5; i++) {
        snprintf(line, sizeof line, "line %d", i);
        gui_state_log(&s, line);
    }
    snprintf(line, sizeof line, "line %d", GUI_LOG_LINES + 4);
    cr_assert_str_eq(gui_state_log_line(&s, 0), line);
    cr_assert_not_null(gui_state_log_line(&s, GUI_LOG_LINES - 1));
    cr_assert_null(gui_state_log_line(&s, GUI_LOG_LINES));
}

Test(gui_state, model_lists_do_not_repeat_a_file) {
    cr_assert_eq(gui_model_list_add(&s.classifiers, "a", "/m/a.safetensors", NULL), 0);
    cr_assert_eq(gui_model_list_add(&s.classifiers, "b", "/m/b.safetensors", NULL), 1);
    cr_assert_eq(gui_model_list_add(&s.classifiers, "a again", "/m/a.safetensors", NULL), 0);
    cr_assert_eq(s.classifiers.count, 2);
}

// The attention view: turning it on after a classification asks for the map; the map moves
// into the state; a picked query asks again, with the query; models without a view ask for
// nothing.
Test(gui_state, attention_view_asks_for_the_map_and_its_query) {
    add_model("agent");
    set_files(1);
    gui_state_select_model(&s, 0);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    gui_job_result l = {.kind = GUI_JOB_LOAD_MODEL, .id = j.id, .status = SEER_STATUS_OK, .has_attention = true};
    gui_state_job_done(&s, &l);
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert_eq(j.kind, GUI_JOB_CLASSIFY);
    cr_assert(!j.attention, "the view is off");
    gui_job_result r = {.kind = GUI_JOB_CLASSIFY, .id = j.id, .status = SEER_STATUS_OK, .classified = true, .k = 1};
    gui_state_job_done(&s, &r);
    cr_assert(gui_state_idle(&s));

    gui_state_attention_query(&s, 0.5f, 0.5f);
    cr_assert(gui_state_idle(&s), "no query while the view is off");
    gui_state_set_attention(&s, true);
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert(j.attention);
    cr_assert_lt(j.attn_qx, 0, "no query picked yet");
    float *map = malloc(4 * sizeof *map);
    for (int i = 0; i < 4; i++) map[i] = (float)i / 3;
    gui_job_result m = {.kind = GUI_JOB_CLASSIFY, .id = j.id, .status = SEER_STATUS_OK, .classified = true, .k = 1,
                        .attn = map, .attn_h = 2, .attn_w = 2, .attn_uses_query = true};
    snprintf(m.attn_method, sizeof m.attn_method, "attention rollout");
    int v = s.attn_version;
    gui_state_job_done(&s, &m);
    cr_assert_eq(s.attn, map, "the state took the map");
    cr_assert_null(m.attn);
    cr_assert_gt(s.attn_version, v);
    cr_assert_str_eq(s.attn_method, "attention rollout");
    cr_assert(gui_state_idle(&s), "a map is there: nothing more to do");

    gui_state_attention_query(&s, 0.25f, 0.75f);
    cr_assert(gui_state_take_job(&s, &j));
    cr_assert(j.attention);
    cr_assert_float_eq(j.attn_qx, 0.25f, 1e-7);
    cr_assert_float_eq(j.attn_qy, 0.75f, 1e-7);
    gui_job_result n = {.kind = GUI_JOB_CLASSIFY, .id = j.id, .status = SEER_STATUS_OK, .classified = true};
    gui_state_job_done(&s, &n);
    cr_assert_null(s.attn, "a result without a map clears the old one");
}

Test(gui_state, attention_view_of_a_model_without_one_asks_nothing) {
    add_model("resnet8");
    set_files(1);
    gui_state_select_model(&s, 0);
    gui_job j;
    cr_assert(gui_state_take_job(&s, &j));
    finish_ok();  // has_attention false
    cr_assert(gui_state_take_job(&s, &j));
    gui_job_result r = {.kind = GUI_JOB_CLASSIFY, .id = j.id, .status = SEER_STATUS_OK, .classified = true};
    gui_state_job_done(&s, &r);
    gui_state_set_attention(&s, true);
    cr_assert(s.attention_on);
    cr_assert(gui_state_idle(&s));
    gui_state_attention_query(&s, 0.5f, 0.5f);
    cr_assert(gui_state_idle(&s));
}
