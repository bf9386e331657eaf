// Image lists for batch jobs: files and folders walked recursively, with ground-truth labels
// from an ImageFolder layout (class = first folder below the root, its index taken from a
// label file, never from the folders present) or a flat layout plus a `FILE LABEL` list.
#ifndef SEER_DATASET_H
#define SEER_DATASET_H

#include <stdint.h>

#include "core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

// Class names of a label set: one class per line; a line's first token is its id (an ImageNet
// synset such as n01440764, or a plain name) and the rest, if any, its readable name.
typedef struct seer_labels {
    int count;
    char **id;    // "n01440764" / "airplane"
    char **name;  // "tench, Tinca tinca" / "airplane"
} seer_labels;

seer_status seer_labels_load(const char *path, seer_labels *out);
// Built-in label sets: "cifar10".
seer_status seer_labels_builtin(const char *set, seer_labels *out);
// Classes named by their index ("0", "1", ...): for a head without a label set.
seer_status seer_labels_numbered(int count, seer_labels *out);
void seer_labels_free(seer_labels *l);
int seer_labels_find(const seer_labels *l, const char *id_or_name);  // index or -1

typedef struct seer_dataset_item {
    char *path;
    int label;  // ground truth class index, or -1 when unknown
} seer_dataset_item;

typedef struct seer_dataset {
    seer_dataset_item *items;
    int count;
} seer_dataset;

typedef enum seer_label_source {
    SEER_LABELS_NONE = 0,     // no ground truth (classify)
    SEER_LABELS_FOLDERS,      // ImageFolder: <root>/<class id>/<file>, index from `labels`
    SEER_LABELS_LIST,         // flat: a `FILE LABEL` list file, FILE matched by base name
} seer_label_source;

typedef struct seer_dataset_opts {
    seer_label_source source;
    const seer_labels *labels;  // for SEER_LABELS_FOLDERS
    const char *list_path;      // for SEER_LABELS_LIST
} seer_dataset_opts;

// Collect every regular file under the given paths (files are taken as they are, folders
// recursively, hidden entries skipped), sorted by path. Non-image files are kept: decoding
// reports them one by one. Errors: a path that does not exist, a folder with no files, a class
// folder the label file does not name, a file missing from the label list.
seer_status seer_dataset_collect(const char *const *paths, int n_paths,
                                 const seer_dataset_opts *opts, seer_dataset *out);
void seer_dataset_free(seer_dataset *d);

#ifdef __cplusplus
}
#endif

#endif
