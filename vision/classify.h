// Batch classification: decode, preprocess, forward, softmax, top-k, in batches, reporting one
// result per input file in input order. A file that cannot be decoded gets a result with its
// error; the run goes on.
#ifndef SEER_CLASSIFY_H
#define SEER_CLASSIFY_H

#include "backbones/model.h"
#include "vision/dataset.h"
#include "vision/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEER_CLASSIFY_MAX_TOPK 100

typedef struct seer_classify_result {
    const char *path;
    int label;                 // ground truth, or -1
    seer_status status;        // OK, or why the file was skipped
    const char *error;         // message when status != OK
    int k;                     // top-k entries below
    int class_id[SEER_CLASSIFY_MAX_TOPK];
    float prob[SEER_CLASSIFY_MAX_TOPK];
    const float *logits;       // num_classes logits (valid during the callback only)
    const float *features;     // feature vector when requested (valid during the callback)
    int num_classes, num_features;
} seer_classify_result;

// Return non-zero to stop the run (status CANCELLED).
typedef int (*seer_classify_fn)(const seer_classify_result *r, void *user);
typedef void (*seer_progress_fn)(int done, int total, void *user);

typedef struct seer_classify_opts {
    int batch;                     // images per forward pass (>= 1)
    int topk;                      // 1..min(num_classes, SEER_CLASSIFY_MAX_TOPK)
    const seer_preprocess *pre;    // NULL: the model's preset
    bool want_features;            // also run seer_model_features
    seer_progress_fn progress;     // may be NULL
    void *progress_user;
    volatile int *cancel;          // may be NULL; set non-zero to stop after the current batch
} seer_classify_opts;

// Classify items[0..n) with m on a context of m's device. Errors of single files go to their
// results; the returned status is for the run (bad options, device failure, cancel).
seer_status seer_classify_run(seer_model *m, seer_ctx *c, const seer_dataset_item *items, int n,
                              const seer_classify_opts *o, seer_classify_fn fn, void *user);

// The model's preprocess preset (metadata or arch default), parsed.
seer_status seer_model_preprocess(const seer_model *m, seer_preprocess *out);

#ifdef __cplusplus
}
#endif

#endif
