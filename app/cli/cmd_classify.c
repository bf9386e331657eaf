// `seer classify`: classify files and folders, streaming one row per file.
#include <stdlib.h>
#include <string.h>

#include "app/cli/cli.h"
#include "core/safetensors.h"

static const char *usage =
    "usage: seer classify [--model NAME | --weights FILE] [--topk K] [--batch N]\n"
    "                     [--device cpu|cuda] [--precision f32|bf16|f16] [--preprocess STR]\n"
    "                     [--format table|csv|jsonl] [--output FILE] [--resume]\n"
    "                     [--labels FILE] [--logits FILE] [--threads N] PATH...\n";

typedef struct run_state {
    cli_writer w;
    int ok, failed;
    // --logits: every good image's logits, in order
    float *logits;
    char **files;
    int n_logits, cap_logits, num_classes;
} run_state;

static int on_result(const seer_classify_result *r, void *user) {
    run_state *s = user;
    cli_writer_row(&s->w, r);
    if (r->status != SEER_STATUS_OK) {
        s->failed++;
        return 0;
    }
    s->ok++;
    if (s->cap_logits >= 0 && r->logits) {
        if (s->n_logits == s->cap_logits) {
            int cap = s->cap_logits ? s->cap_logits * 2 : 256;
            float *l = realloc(s->logits, sizeof(float) * (size_t)cap * (size_t)r->num_classes);
            if (l) s->logits = l;
            char **f = realloc(s->files, sizeof(char *) * (size_t)cap);
            if (f) s->files = f;
            if (!l || !f) return 1;
            s->cap_logits = cap;
        }
        memcpy(s->logits + (size_t)s->n_logits * (size_t)r->num_classes, r->logits,
               sizeof(float) * (size_t)r->num_classes);
        s->files[s->n_logits++] = strdup(r->path);
        s->num_classes = r->num_classes;
    }
    return 0;
}

// Logits of every classified image with the file list (JSON array) in the metadata.
static bool write_logits(const char *path, const run_state *s, const seer_model *m) {
    seer_st_writer *w = seer_st_writer_new();
    size_t len = 2;
    for (int i = 0; i < s->n_logits; i++) len += strlen(s->files[i]) * 2 + 4;
    char *list = malloc(len), *p = list;
    bool ok = w && list;
    if (ok) {
        *p++ = '[';
        for (int i = 0; i < s->n_logits; i++) {
            if (i) *p++ = ',';
            *p++ = '"';
            for (const char *q = s->files[i]; *q; q++) {
                if (*q == '"' || *q == '\\') *p++ = '\\';
                *p++ = *q;
            }
            *p++ = '"';
        }
        *p++ = ']';
        *p = '\0';
        ok = seer_st_writer_add(w, "logits", SEER_F32, 2, (int64_t[]){s->n_logits, s->num_classes},
                                s->logits) == SEER_STATUS_OK &&
             seer_st_writer_set_metadata(w, "files", list) == SEER_STATUS_OK &&
             seer_st_writer_set_metadata(w, "seer.arch", m->arch->name) == SEER_STATUS_OK &&
             seer_st_writer_save(w, path) == SEER_STATUS_OK;
    }
    if (!ok) fprintf(stderr, "seer: writing %s: %s\n", path, seer_last_error());
    free(list);
    seer_st_writer_free(w);
    return ok;
}

int cmd_classify(int argc, char **argv) {
    cli_model_opts mo = {.batch = 32};
    int topk = 5;
    cli_format fmt = FORMAT_TABLE;
    const char *output = NULL, *labels_path = NULL, *logits_path = NULL;
    bool resume = false, bad = false;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    int n_paths = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (cli_take_model_opt(&mo, argc, argv, &i, &bad)) continue;
        if (strcmp(argv[i], "--topk") == 0) {
            bad = !(v = cli_value(argc, argv, &i)) || !cli_parse_int("--topk", v, 1, SEER_CLASSIFY_MAX_TOPK, &topk);
        } else if (strcmp(argv[i], "--format") == 0) {
            bad = !(v = cli_value(argc, argv, &i)) || !cli_parse_format(v, &fmt);
        } else if (strcmp(argv[i], "--output") == 0 || strcmp(argv[i], "-o") == 0) {
            bad = !(output = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--labels") == 0) {
            bad = !(labels_path = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--logits") == 0) {
            bad = !(logits_path = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--resume") == 0) {
            resume = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            free(paths);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "seer classify: unknown option %s\n%s", argv[i], usage);
            bad = true;
        } else {
            paths[n_paths++] = argv[i];
        }
    }
    if (!bad && n_paths == 0) {
        fprintf(stderr, "seer classify: no images or folders given\n%s", usage);
        bad = true;
    }
    if (bad) {
        free(paths);
        return EXIT_USAGE;
    }

    seer_ctx *ctx = NULL;
    seer_model *m = cli_load_model(&mo, &ctx);
    seer_labels labels = {0};
    seer_dataset ds = {0};
    seer_preprocess pre;
    run_state s = {.cap_logits = logits_path ? 0 : -1};
    char **done = NULL;
    int n_done = 0, rc = EXIT_USAGE;
    if (!m) goto out;
    if (cli_labels_for(m, labels_path, &labels) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: labels: %s (class ids only)\n", seer_last_error());
    }
    if (topk > m->num_classes) {
        fprintf(stderr, "seer: --topk %d is more than the %d classes of %s\n", topk,
                m->num_classes, m->arch->name);
        goto out;
    }
    if (cli_preprocess(&mo, m, &pre) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: --preprocess: %s\n", seer_last_error());
        goto out;
    }
    if (seer_dataset_collect(paths, n_paths, NULL, &ds) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        goto out;
    }
    s.w.labels = labels.count ? &labels : NULL;
    s.w.topk = topk;
    if (!cli_writer_open(&s.w, output, fmt, resume, &done, &n_done)) goto out;
    // --resume: keep only what the earlier run did not finish.
    int n = 0;
    for (int i = 0; i < ds.count; i++) {
        if (cli_done_contains(done, n_done, ds.items[i].path)) {
            free(ds.items[i].path);
            continue;
        }
        ds.items[n++] = ds.items[i];
    }
    if (resume) fprintf(stderr, "seer: resuming: %d of %d files already done\n", ds.count - n, ds.count);
    ds.count = n;

    cli_progress prog;
    cli_progress_init(&prog);
    seer_classify_opts co = {.batch = mo.batch, .topk = topk, .pre = &pre,
                             .progress = cli_progress_update, .progress_user = &prog};
    seer_status st = seer_classify_run(m, ctx, ds.items, ds.count, &co, on_result, &s);
    cli_progress_done(&prog, ds.count);
    cli_writer_close(&s.w);
    if (st != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        goto out;
    }
    if (logits_path && !write_logits(logits_path, &s, m)) goto out;
    if (s.failed) fprintf(stderr, "seer: %d of %d files could not be classified (see the output)\n",
                          s.failed, s.ok + s.failed);
    rc = s.failed ? EXIT_SOME_FAILED : 0;
out:
    for (int i = 0; i < s.n_logits; i++) free(s.files[i]);
    free(s.files);
    free(s.logits);
    cli_done_free(done, n_done);
    seer_dataset_free(&ds);
    seer_labels_free(&labels);
    seer_model_free(m);
    seer_ctx_free(ctx);
    free(paths);
    return rc;
}
