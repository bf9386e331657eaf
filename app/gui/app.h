// What main.c does for the rest of the app (the script runner and the UI's actions), and the
// script runner itself (script.c).
#ifndef GUI_APP_H
#define GUI_APP_H

#include <stdbool.h>

#include "app/gui/ui.h"

// Open an image or folder (Classify). Errors go to the window.
void gui_app_open_path(gui_app *a, const char *path);
// Add a weights file to the pickers and load it; tokenizer (may be NULL) pairs a generator.
// name_or_path may also be a registry name whose weights are found. false: error shown.
bool gui_app_load_weights(gui_app *a, const char *name_or_path, const char *tokenizer);
bool gui_app_save(gui_app *a, const char *dir);          // generated images (selected, or all)
bool gui_app_screenshot(gui_app *a, const char *path);   // the window as PNG
// Worker results and progress into the state, the state's actions, the next job out.
// Returns true when something changed (the window needs drawing).
bool gui_app_pump(gui_app *a);
bool gui_app_idle(gui_app *a);  // no job running or waiting, no action pending
bool gui_app_resize(gui_app *a, int w, int h);  // window size in window coordinates
// What a person's hand does, for scripts: a left click (press and release) or a hover at
// (x, y) in window coordinates, a wheel turn, a file dropped on the window.
void gui_app_click(gui_app *a, int x, int y);
void gui_app_hover(gui_app *a, int x, int y, int wheel);
void gui_app_drop(gui_app *a, const char *path);

// ---- scripts (seer-gui --script FILE) -------------------------------------------------------
typedef struct gui_script gui_script;
gui_script *gui_script_load(const char *path, char *err, size_t n);
void gui_script_free(gui_script *sc);
typedef enum gui_script_status { GUI_SCRIPT_RUNNING, GUI_SCRIPT_WAITING, GUI_SCRIPT_DONE, GUI_SCRIPT_FAILED } gui_script_status;
// Runs commands until one has to wait for the app (or the script ends or fails).
gui_script_status gui_script_step(gui_script *sc, gui_app *a);

#endif
