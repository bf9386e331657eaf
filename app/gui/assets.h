// Finding things on disk for the app: shipped assets, weights files, the font, label sets,
// and the images of a file or folder. (The CLI has the same lookup rules in app/cli/common.c;
// the app keeps its own few lines so that it does not link the CLI.)
#ifndef GUI_ASSETS_H
#define GUI_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

#include "app/gui/state.h"
#include "vision/dataset.h"

// assets/<rel>: $SEER_ASSETS, then assets/ next to the executable's tree, then ./assets.
const char *gui_find_asset(const char *rel, char *buf, size_t n);
// NAME.safetensors in $SEER_MODELS (colon-separated folders), then assets/models.
const char *gui_find_weights(const char *name, char *buf, size_t n);
// DejaVu Sans (fonts-dejavu-core), or $SEER_GUI_FONT. NULL when none is installed.
const char *gui_find_font(bool bold, char *buf, size_t n);

// Fill the pickers: registry presets whose weights are found, then every .safetensors in the
// model folders, sorted by what their seer.arch metadata says (classifier, generator,
// tokenizer). The first tokenizer found becomes s->tokenizer_path.
void gui_scan_models(gui_state *s);
// Add a weights file the user named; returns its index in s->classifiers or s->generators
// (by its metadata), or -1 with a message in err.
int gui_add_weights_file(gui_state *s, const char *path, bool *is_generator, char *err, size_t n);

// Class names of a label set ("cifar10", "imagenet"), checked against num_classes.
seer_status gui_load_labels(const char *set, int num_classes, seer_labels *out);

// What opening `path` shows: a folder -> its images (recursively, sorted), index 0; a file ->
// the images next to it, index at that file. *folder gets the folder. Caller frees with
// gui_free_paths.
seer_status gui_collect_images(const char *path, char ***paths, int *n, int *index, char *folder, size_t folder_n);
void gui_free_paths(char **paths, int n);

size_t gui_rss_bytes(void);  // resident memory of the process (0 when unknown)

#endif
