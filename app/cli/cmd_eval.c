// `seer eval top1`: accuracy of a classifier on a labelled folder (ImageFolder with a label
// file, or flat with a `FILE LABEL` list). `seer eval fid` is in cmd_fid.c.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "app/cli/cli.h"

static const char *usage =
    "usage: seer eval top1 --data DIR [--labels FILE | --list FILE] [--model NAME | --weights FILE]\n"
    "                      [--batch N] [--device cpu|cuda] [--precision f32|bf16|f16]\n"
    "                      [--preprocess STR] [--output FILE [--format csv|jsonl] [--resume]]\n"
    "                      [--confusion FILE] [--per-class FILE] [--threads N]\n"
    "  --labels FILE  class list, one per line (synset_words.txt): line number = class index;\n"
    "                 DIR/<class>/<file> is looked up there by its folder name.\n"
    "                 Default: the model's own label set (cifar10 for the CIFAR models).\n"
    "  --list FILE    flat layout: `FILE LABEL` lines (ILSVRC2012_val_ground_truth.txt)\n"
    "       seer eval fid --help\n";

typedef struct tally {
    cli_writer w;
    int classes, total, top1, top5, failed;
    int *per_n, *per_ok;
    long long *confusion;  // [truth][predicted]
} tally;

static void count(tally *t, int label, const int *top, int k) {
    if (label < 0 || label >= t->classes) return;
    t->total++;
    t->per_n[label]++;
    if (k > 0 && top[0] == label) {
        t->top1++;
        t->per_ok[label]++;
    }
    for (int j = 0; j < k && j < 5; j++)
        if (top[j] == label) t->top5++;
    if (k > 0 && top[0] >= 0 && top[0] < t->classes) t->confusion[(size_t)label * t->classes + top[0]]++;
}

static int on_result(const seer_classify_result *r, void *user) {
    tally *t = user;
    if (t->w.f) cli_writer_row(&t->w, r);
    if (r->status != SEER_STATUS_OK) {
        t->failed++;
        return 0;
    }
    count(t, r->label, r->class_id, r->k);
    return 0;
}

// --resume: count the rows of the earlier run (JSON lines) again.
static void recount_jsonl(tally *t, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o) continue;
        if (!json_is_true(json_object_get(o, "ok"))) {
            t->failed++;
        } else {
            int top[5] = {-1, -1, -1, -1, -1}, k = 0;
            json_t *arr = json_object_get(o, "top"), *e;
            size_t i;
            json_array_foreach(arr, i, e) if (k < 5) top[k++] = (int)json_integer_value(json_object_get(e, "class"));
            json_t *lab = json_object_get(o, "label");
            count(t, lab ? (int)json_integer_value(lab) : -1, top, k);
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
}

static bool write_reports(const tally *t, const seer_labels *labels, const char *confusion,
                          const char *per_class) {
    if (confusion) {
        FILE *f = fopen(confusion, "w");
        if (!f) return perror(confusion), false;
        fprintf(f, "truth\\predicted");
        for (int j = 0; j < t->classes; j++) fprintf(f, ",%d", j);
        fprintf(f, "\n");
        for (int i = 0; i < t->classes; i++) {
            fprintf(f, "%d", i);
            for (int j = 0; j < t->classes; j++) fprintf(f, ",%lld", t->confusion[(size_t)i * t->classes + j]);
            fprintf(f, "\n");
        }
        fclose(f);
    }
    FILE *f = per_class ? fopen(per_class, "w") : NULL;
    if (per_class && !f) return perror(per_class), false;
    if (f) fprintf(f, "class,id,name,images,correct,accuracy\n");
    bool print = t->classes <= 20;
    if (print) printf("per class:\n");
    for (int i = 0; i < t->classes; i++) {
        if (!t->per_n[i]) continue;
        double acc = 100.0 * t->per_ok[i] / t->per_n[i];
        const char *id = labels->count > i ? labels->id[i] : "", *name = labels->count > i ? labels->name[i] : "";
        if (f) fprintf(f, "%d,%s,\"%s\",%d,%d,%.4f\n", i, id, name, t->per_n[i], t->per_ok[i], acc);
        if (print) printf("  %4d %-20.20s %6.2f%%  (%d/%d)\n", i, name, acc, t->per_ok[i], t->per_n[i]);
    }
    if (f) fclose(f);
    return true;
}

static int eval_top1(int argc, char **argv) {
    cli_model_opts mo = {.batch = 32};
    cli_format fmt = FORMAT_JSONL;
    const char *data = NULL, *labels_path = NULL, *list_path = NULL, *output = NULL,
               *confusion = NULL, *per_class = NULL, *v;
    bool resume = false, bad = false, fmt_set = false;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_take_model_opt(&mo, argc, argv, &i, &bad)) continue;
        if (strcmp(argv[i], "--data") == 0) bad = !(data = cli_value(argc, argv, &i));
        else if (strcmp(argv[i], "--labels") == 0) bad = !(labels_path = cli_value(argc, argv, &i));
        else if (strcmp(argv[i], "--list") == 0) bad = !(list_path = cli_value(argc, argv, &i));
        else if (strcmp(argv[i], "--output") == 0) bad = !(output = cli_value(argc, argv, &i));
        else if (strcmp(argv[i], "--confusion") == 0) bad = !(confusion = cli_value(argc, argv, &i));
        else if (strcmp(argv[i], "--per-class") == 0) bad = !(per_class = cli_value(argc, argv, &i));
        else if (strcmp(argv[i], "--format") == 0) bad = !(v = cli_value(argc, argv, &i)) || !cli_parse_format(v, &fmt), fmt_set = true;
        else if (strcmp(argv[i], "--resume") == 0) resume = true;
        else if (strcmp(argv[i], "--help") == 0) return fputs(usage, stdout), 0;
        else {
            fprintf(stderr, "seer eval top1: unexpected argument %s\n%s", argv[i], usage);
            bad = true;
        }
    }
    if (!bad && !data) {
        fprintf(stderr, "seer eval top1: --data DIR is required\n%s", usage);
        bad = true;
    }
    if (!bad && resume && (!output || fmt != FORMAT_JSONL)) {
        fprintf(stderr, "seer eval top1: --resume needs --output FILE in jsonl format\n");
        bad = true;
    }
    if (bad) return EXIT_USAGE;
    (void)fmt_set;

    seer_ctx *ctx = NULL;
    seer_model *m = cli_load_model(&mo, &ctx);
    seer_labels labels = {0};
    seer_dataset ds = {0};
    seer_preprocess pre;
    tally t = {0};
    char **done = NULL;
    int n_done = 0, rc = EXIT_USAGE;
    if (!m) goto out;
    if (cli_labels_for(m, labels_path, &labels) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        goto out;
    }
    if (cli_preprocess(&mo, m, &pre) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: --preprocess: %s\n", seer_last_error());
        goto out;
    }
    seer_dataset_opts dopt = {.source = list_path ? SEER_LABELS_LIST : SEER_LABELS_FOLDERS,
                              .labels = &labels, .list_path = list_path};
    if (seer_dataset_collect(&data, 1, &dopt, &ds) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        goto out;
    }
    t.classes = m->num_classes;
    t.per_n = calloc((size_t)t.classes, sizeof *t.per_n);
    t.per_ok = calloc((size_t)t.classes, sizeof *t.per_ok);
    t.confusion = calloc((size_t)t.classes * (size_t)t.classes, sizeof *t.confusion);
    t.w.labels = &labels;
    t.w.topk = t.classes < 5 ? t.classes : 5;
    if (!t.per_n || !t.per_ok || !t.confusion) {
        fprintf(stderr, "seer: out of memory\n");
        goto out;
    }
    if (output && !cli_writer_open(&t.w, output, fmt, resume, &done, &n_done)) goto out;
    if (resume) recount_jsonl(&t, output);
    int n = 0;
    for (int i = 0; i < ds.count; i++) {
        if (cli_done_contains(done, n_done, ds.items[i].path)) free(ds.items[i].path);
        else ds.items[n++] = ds.items[i];
    }
    ds.count = n;

    cli_progress prog;
    cli_progress_init(&prog);
    seer_classify_opts co = {.batch = mo.batch, .topk = t.w.topk, .pre = &pre,
                             .progress = cli_progress_update, .progress_user = &prog};
    double t0 = cli_now();
    seer_status st = seer_classify_run(m, ctx, ds.items, ds.count, &co, on_result, &t);
    double secs = cli_now() - t0;
    cli_progress_done(&prog, ds.count);
    cli_writer_close(&t.w);
    if (st != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        goto out;
    }
    printf("model      %s (%s, %s)\n", m->arch->name, seer_device_name(m->device), seer_dtype_name(m->dtype));
    printf("images     %d evaluated, %d failed to decode\n", t.total, t.failed);
    if (t.total) {
        printf("top-1      %.2f%% (%d/%d)\n", 100.0 * t.top1 / t.total, t.top1, t.total);
        if (t.classes >= 5) printf("top-5      %.2f%% (%d/%d)\n", 100.0 * t.top5 / t.total, t.top5, t.total);
    }
    printf("speed      %.1f images/s (%d images in %.1f s, batch %d)\n", ds.count / (secs + 1e-9), ds.count, secs, mo.batch);
    if (!write_reports(&t, &labels, confusion, per_class)) goto out;
    rc = t.failed ? EXIT_SOME_FAILED : 0;
out:
    free(t.per_n);
    free(t.per_ok);
    free(t.confusion);
    cli_done_free(done, n_done);
    seer_dataset_free(&ds);
    seer_labels_free(&labels);
    seer_model_free(m);
    seer_ctx_free(ctx);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "top1") == 0) return eval_top1(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "fid") == 0) return cmd_fid(argc - 1, argv + 1);
    fputs(usage, stderr);
    return EXIT_USAGE;
}
