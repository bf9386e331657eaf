// Shared pieces of the `seer` command: option parsing helpers, model resolution, progress bar,
// result writers. Exit codes: 0 everything worked, 1 some inputs failed (reported per file),
// 2 the run could not be done (usage, weights, device).
#ifndef SEER_CLI_H
#define SEER_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "backbones/model.h"
#include "vision/classify.h"

enum { EXIT_SOME_FAILED = 1, EXIT_USAGE = 2 };

// Options every model-running command takes.
typedef struct cli_model_opts {
    const char *model;      // --model NAME
    const char *weights;    // --weights FILE
    const char *device;     // --device cpu|cuda (default: cuda when available)
    const char *precision;  // --precision f32|bf16|f16
    const char *preprocess; // --preprocess STR (overrides the weights' preset)
    int batch;              // --batch N
    int threads;            // --threads N (CPU)
} cli_model_opts;

// If argv[*i] is one of the model options, consume it (and its value) and return true.
// On a missing value, prints an error and sets *bad.
bool cli_take_model_opt(cli_model_opts *o, int argc, char **argv, int *i, bool *bad);
// Parse a whole number option value in [lo, hi]; prints an error and returns false if not.
bool cli_parse_int(const char *opt, const char *s, int lo, int hi, int *out);
const char *cli_value(int argc, char **argv, int *i);  // value after argv[*i], or NULL

// Resolve --model/--weights into a loaded model on the chosen device; prints errors.
seer_model *cli_load_model(const cli_model_opts *o, seer_ctx **ctx);
// A shipped file (assets/<rel>): $SEER_ASSETS, then assets/ next to the executable's tree.
const char *cli_find_asset(const char *rel, char *buf, size_t n);
const char *cli_find_asset_dir(const char *rel, char *buf, size_t n);  // the same, for a folder
// Where `--model NAME` looks for NAME.safetensors (SEER_MODELS, then assets/models).
const char *cli_find_weights(const char *name, char *buf, size_t n);
seer_status cli_preprocess(const cli_model_opts *o, const seer_model *m, seer_preprocess *out);
// Class names for a model's label set (built-in, or --labels FILE).
seer_status cli_labels_for(const seer_model *m, const char *labels_path, seer_labels *out);

// Progress bar on stderr: count, images/s, ETA. Redraws at most 10 times a second; silent
// when stderr is not a terminal unless forced.
typedef struct cli_progress {
    double start, last;
    bool enabled;
} cli_progress;
void cli_progress_init(cli_progress *p);
void cli_progress_update(int done, int total, void *user);  // seer_progress_fn
void cli_progress_done(cli_progress *p, int total);
double cli_now(void);

// ---- result rows -------------------------------------------------------------------------
typedef enum cli_format { FORMAT_TABLE = 0, FORMAT_CSV, FORMAT_JSONL } cli_format;
bool cli_parse_format(const char *s, cli_format *out);

typedef struct cli_writer {
    FILE *f;
    cli_format format;
    const seer_labels *labels;
    int topk;
    bool header_done;
} cli_writer;

// Open the output (NULL path: stdout). With resume, appends to an existing file after dropping
// a partial last line, and returns the paths already done (sorted, for cli_done_contains).
bool cli_writer_open(cli_writer *w, const char *path, cli_format fmt, bool resume,
                     char ***done, int *n_done);
void cli_writer_row(cli_writer *w, const seer_classify_result *r);
void cli_writer_close(cli_writer *w);
bool cli_done_contains(char **done, int n_done, const char *path);
void cli_done_free(char **done, int n_done);

int cmd_classify(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_fid(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_attention(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);

#endif
