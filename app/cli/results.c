// Result rows of `seer classify` / `seer eval top1`: table, CSV or JSON lines, streamed one row
// at a time (each row one write + flush, so a killed run keeps every finished row), and the
// --resume reader that finds the files an earlier run already finished.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/cli/cli.h"

bool cli_parse_format(const char *s, cli_format *out) {
    if (strcmp(s, "table") == 0) *out = FORMAT_TABLE;
    else if (strcmp(s, "csv") == 0) *out = FORMAT_CSV;
    else if (strcmp(s, "jsonl") == 0) *out = FORMAT_JSONL;
    else {
        fprintf(stderr, "seer: --format must be table, csv or jsonl (got '%s')\n", s);
        return false;
    }
    return true;
}

// A growing string for one row.
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap + (size_t)k + 256) * 2;
        char *p = realloc(b->s, cap);
        if (!p) return;
        b->s = p;
        b->cap = cap;
    }
}

static void sb_csv(sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        sb_add(b, "%s", s);
        return;
    }
    sb_add(b, "\"");
    for (const char *p = s; *p; p++) sb_add(b, *p == '"' ? "\"\"" : "%c", *p);
    sb_add(b, "\"");
}

static const char *label_of(const cli_writer *w, int id) {
    return w->labels && id >= 0 && id < w->labels->count ? w->labels->name[id] : "";
}

void cli_writer_row(cli_writer *w, const seer_classify_result *r) {
    sbuf b = {0};
    if (w->format == FORMAT_CSV) {
        if (!w->header_done) {
            sb_add(&b, "file,status,label");
            for (int j = 1; j <= w->topk; j++) sb_add(&b, ",top%d,top%d_label,top%d_prob", j, j, j);
            sb_add(&b, ",error\n");
            w->header_done = true;
        }
        sb_csv(&b, r->path);
        sb_add(&b, ",%s,", r->status == SEER_STATUS_OK ? "ok" : "error");
        if (r->label >= 0) sb_add(&b, "%d", r->label);
        for (int j = 0; j < w->topk; j++) {
            if (j < r->k) {
                sb_add(&b, ",%d,", r->class_id[j]);
                sb_csv(&b, label_of(w, r->class_id[j]));
                sb_add(&b, ",%.6f", r->prob[j]);
            } else {
                sb_add(&b, ",,,");
            }
        }
        sb_add(&b, ",");
        if (r->error) sb_csv(&b, r->error);
        sb_add(&b, "\n");
    } else if (w->format == FORMAT_JSONL) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(r->path));
        json_object_set_new(o, "ok", json_boolean(r->status == SEER_STATUS_OK));
        if (r->label >= 0) json_object_set_new(o, "label", json_integer(r->label));
        if (r->status == SEER_STATUS_OK) {
            json_t *top = json_array();
            for (int j = 0; j < r->k; j++) {
                json_t *e = json_object();
                json_object_set_new(e, "class", json_integer(r->class_id[j]));
                json_object_set_new(e, "label", json_string(label_of(w, r->class_id[j])));
                json_object_set_new(e, "prob", json_real(r->prob[j]));
                json_array_append_new(top, e);
            }
            json_object_set_new(o, "top", top);
        } else {
            json_object_set_new(o, "error", json_string(r->error ? r->error : ""));
        }
        char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s) sb_add(&b, "%s\n", s);
        free(s);
        json_decref(o);
    } else {
        if (r->status != SEER_STATUS_OK) {
            sb_add(&b, "%s\n    error: %s\n", r->path, r->error ? r->error : "");
        } else {
            sb_add(&b, "%s\n", r->path);
            for (int j = 0; j < r->k; j++)
                sb_add(&b, "    %5.1f%%  %4d  %s\n", 100.0 * r->prob[j], r->class_id[j],
                       label_of(w, r->class_id[j]));
        }
    }
    if (b.s) {
        fwrite(b.s, 1, b.n, w->f);
        fflush(w->f);
    }
    free(b.s);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool cli_done_contains(char **done, int n_done, const char *path) {
    return n_done > 0 && bsearch(&path, done, (size_t)n_done, sizeof *done, cmp_str) != NULL;
}

void cli_done_free(char **done, int n_done) {
    for (int i = 0; i < n_done; i++) free(done[i]);
    free(done);
}

// The file name of a finished row (CSV: first field; JSONL: "file"), or NULL.
static char *row_file(const char *line, cli_format fmt) {
    if (fmt == FORMAT_JSONL) {
        json_t *o = json_loads(line, 0, NULL);
        const char *f = o ? json_string_value(json_object_get(o, "file")) : NULL;
        char *r = f ? strdup(f) : NULL;
        json_decref(o);
        return r;
    }
    sbuf b = {0};
    const char *p = line;
    if (*p == '"') {
        for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
            if (*p == '"') p++;
            sb_add(&b, "%c", *p);
        }
    } else {
        for (; *p && *p != ','; p++) sb_add(&b, "%c", *p);
    }
    return b.s ? b.s : strdup("");
}

// Reads finished rows; drops a partial last line (a run killed mid-write) from the file.
static bool read_done(const char *path, cli_format fmt, char ***done, int *n_done, bool *has_header) {
    FILE *f = fopen(path, "r+");
    if (!f) return true;  // nothing to resume
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long good_end = 0;
    int n = 0, cap_done = 0;
    char **list = NULL;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') break;  // partial row
        good_end = ftell(f);
        line[len - 1] = '\0';
        if (fmt == FORMAT_CSV && strncmp(line, "file,status", 11) == 0) {
            *has_header = true;
            continue;
        }
        char *file = row_file(line, fmt);
        if (!file) continue;
        if (n == cap_done) {
            cap_done = cap_done ? cap_done * 2 : 1024;
            char **p = realloc(list, (size_t)cap_done * sizeof *p);
            if (!p) break;
            list = p;
        }
        list[n++] = file;
    }
    free(line);
    fflush(f);
    if (ftruncate(fileno(f), good_end) != 0) {
        fprintf(stderr, "seer: cannot trim the partial last row of %s\n", path);
        fclose(f);
        cli_done_free(list, n);
        return false;
    }
    fclose(f);
    qsort(list, (size_t)n, sizeof *list, cmp_str);
    *done = list;
    *n_done = n;
    return true;
}

bool cli_writer_open(cli_writer *w, const char *path, cli_format fmt, bool resume, char ***done,
                     int *n_done) {
    w->format = fmt;
    w->header_done = false;
    *done = NULL;
    *n_done = 0;
    if (resume) {
        if (!path || fmt == FORMAT_TABLE) {
            fprintf(stderr, "seer: --resume needs --output FILE with --format csv or jsonl\n");
            return false;
        }
        if (!read_done(path, fmt, done, n_done, &w->header_done)) return false;
    }
    if (!path) {
        w->f = stdout;
        return true;
    }
    w->f = fopen(path, resume ? "a" : "w");
    if (!w->f) {
        perror(path);
        cli_done_free(*done, *n_done);
        return false;
    }
    return true;
}

void cli_writer_close(cli_writer *w) {
    if (w->f && w->f != stdout) fclose(w->f);
    w->f = NULL;
}
