// Model options, model resolution, label sets and the progress bar of the `seer` command.
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/cli/cli.h"

const char *cli_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "seer: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

bool cli_parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "seer: %s must be a whole number from %d to %d (got '%s')\n", opt, lo, hi, s);
        return false;
    }
    *out = (int)v;
    return true;
}

bool cli_take_model_opt(cli_model_opts *o, int argc, char **argv, int *i, bool *bad) {
    static const char *names[] = {"--model", "--weights", "--device", "--precision",
                                  "--preprocess", "--batch", "--threads"};
    int which = -1;
    for (int k = 0; k < 7; k++)
        if (strcmp(argv[*i], names[k]) == 0) which = k;
    if (which < 0) return false;
    const char *v = cli_value(argc, argv, i);
    if (!v) {
        *bad = true;
        return true;
    }
    switch (which) {
    case 0: o->model = v; break;
    case 1: o->weights = v; break;
    case 2: o->device = v; break;
    case 3: o->precision = v; break;
    case 4: o->preprocess = v; break;
    case 5: *bad |= !cli_parse_int("--batch", v, 1, 65536, &o->batch); break;
    case 6: *bad |= !cli_parse_int("--threads", v, 1, 1024, &o->threads); break;
    }
    return true;
}

static bool is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static const char *find_asset(const char *rel, char *buf, size_t n, bool (*ok)(const char *)) {
    const char *env = getenv("SEER_ASSETS");
    if (env) {
        snprintf(buf, n, "%s/%s", env, rel);
        if (ok(buf)) return buf;
    }
    // Next to the executable's source tree (build/seer -> ../assets), an installed share
    // folder, then the current folder.
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        const char *dirs[] = {"../assets", "../../assets", "../share/seer"};
        for (int k = 0; k < 3; k++) {
            snprintf(buf, n, "%s/%s/%s", exe, dirs[k], rel);
            if (ok(buf)) return buf;
        }
    }
    snprintf(buf, n, "assets/%s", rel);
    return ok(buf) ? buf : NULL;
}

const char *cli_find_asset(const char *rel, char *buf, size_t n) {
    return find_asset(rel, buf, n, is_file);
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_find_asset_dir(const char *rel, char *buf, size_t n) {
    return find_asset(rel, buf, n, is_dir);
}

const char *cli_find_weights(const char *name, char *buf, size_t n) {
    const char *env = getenv("SEER_MODELS");  // colon-separated folders, searched first
    if (env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            snprintf(buf, n, "%s/%s.safetensors", d, name);
            if (is_file(buf)) {
                free(copy);
                return buf;
            }
        }
        free(copy);
    }
    char rel[512];
    snprintf(rel, sizeof rel, "models/%s.safetensors", name);
    return cli_find_asset(rel, buf, n);
}

seer_model *cli_load_model(const cli_model_opts *o, seer_ctx **ctx) {
    if (o->threads > 0) omp_set_num_threads(o->threads);
    seer_device dev = SEER_DEVICE_CPU;
    if (o->device == NULL) {
        dev = seer_device_available(SEER_DEVICE_CUDA) ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU;
    } else if (strcmp(o->device, "cuda") == 0) {
        dev = SEER_DEVICE_CUDA;
    } else if (strcmp(o->device, "cpu") != 0) {
        fprintf(stderr, "seer: --device must be cpu or cuda (got '%s')\n", o->device);
        return NULL;
    }
    seer_dtype dt = SEER_F32;
    if (o->precision) {
        if (strcmp(o->precision, "bf16") == 0) dt = SEER_BF16;
        else if (strcmp(o->precision, "f16") == 0) dt = SEER_F16;
        else if (strcmp(o->precision, "f32") != 0) {
            fprintf(stderr, "seer: --precision must be f32, bf16 or f16 (got '%s')\n", o->precision);
            return NULL;
        }
    }
    char buf[4096];
    const char *arch = o->model;  // NULL: the file's seer.arch
    const char *path = o->weights;
    if (!path) {
        if (!o->model) {
            fprintf(stderr, "seer: give --model NAME or --weights FILE (list: seer models)\n");
            return NULL;
        }
        path = cli_find_weights(o->model, buf, sizeof buf);
        // A shipped model (assets/models/van_cifar.safetensors) is named by its file; its
        // seer.arch metadata says the architecture.
        if (path && !seer_arch_find(o->model)) arch = NULL;
        if (!path && !seer_arch_find(o->model)) {
            fprintf(stderr, "seer: unknown model '%s' (list: seer models)\n", o->model);
            return NULL;
        }
        if (!path) {
            fprintf(stderr,
                    "seer: no weights for %s: looked for %s.safetensors in $SEER_MODELS and "
                    "assets/models. Convert a checkpoint with tools/convert.py and pass --weights FILE.\n",
                    o->model, o->model);
            return NULL;
        }
    }
    *ctx = seer_ctx_new(dev);
    if (!*ctx) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        return NULL;
    }
    seer_model *m = NULL;
    if (seer_model_load(path, arch, dev, dt, &m) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        seer_ctx_free(*ctx);
        *ctx = NULL;
        return NULL;
    }
    return m;
}

seer_status cli_preprocess(const cli_model_opts *o, const seer_model *m, seer_preprocess *out) {
    if (!o->preprocess) return seer_model_preprocess(m, out);
    seer_status st = seer_preprocess_parse(o->preprocess, out);
    return st == SEER_STATUS_OK ? seer_preprocess_check(out) : st;
}

seer_status cli_labels_for(const seer_model *m, const char *labels_path, seer_labels *out) {
    // Label sets ship as assets/labels/<set>.txt; cifar10 is also built in.
    char buf[4096], rel[256];
    // A head without a label set (a fine-tune with its own class count) is classes by number.
    if (!labels_path && !m->labels[0]) return seer_labels_numbered(m->num_classes, out);
    snprintf(rel, sizeof rel, "labels/%s.txt", m->labels);
    const char *asset = labels_path ? NULL : cli_find_asset(rel, buf, sizeof buf);
    seer_status st = labels_path ? seer_labels_load(labels_path, out)
                     : asset     ? seer_labels_load(asset, out)
                                 : seer_labels_builtin(m->labels, out);
    if (st != SEER_STATUS_OK) return st;
    if (out->count != m->num_classes) {
        seer_fail(SEER_STATUS_SHAPE, "%s has %d classes, %s has %d",
                  labels_path ? labels_path : m->labels, out->count, m->path, m->num_classes);
        seer_labels_free(out);
        return SEER_STATUS_SHAPE;
    }
    return SEER_STATUS_OK;
}

// ---- progress ------------------------------------------------------------------------------

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p) {
    p->start = p->last = cli_now();
    p->enabled = isatty(STDERR_FILENO) || getenv("SEER_PROGRESS");
}

void cli_progress_update(int done, int total, void *user) {
    cli_progress *p = user;
    double t = cli_now();
    if (!p->enabled || (t - p->last < 0.1 && done < total)) return;
    p->last = t;
    double rate = done / (t - p->start + 1e-9);
    double eta = rate > 0 ? (total - done) / rate : 0;
    int width = 30, fill = total ? (int)((long long)width * done / total) : width;
    fprintf(stderr, "\r[%.*s%*s] %d/%d  %.1f img/s  ETA %02d:%02d ", fill,
            "##############################", width - fill, "", done, total, rate,
            (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

void cli_progress_done(cli_progress *p, int total) {
    if (!p->enabled) return;
    double t = cli_now() - p->start;
    fprintf(stderr, "\r%d images in %.1f s (%.1f img/s)%30s\n", total, t, total / (t + 1e-9), "");
}
