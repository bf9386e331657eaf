// File walking, label files and ground truth for batch jobs.
#include "vision/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// ---- labels --------------------------------------------------------------------------------

void seer_labels_free(seer_labels *l) {
    if (!l) return;
    for (int i = 0; i < l->count; i++) {
        free(l->id[i]);
        free(l->name[i]);
    }
    free(l->id);
    free(l->name);
    memset(l, 0, sizeof *l);
}

static seer_status labels_add(seer_labels *l, const char *id, const char *name, int *cap) {
    if (l->count == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        char **a = realloc(l->id, (size_t)*cap * sizeof *a);
        if (a) l->id = a;
        char **b = realloc(l->name, (size_t)*cap * sizeof *b);
        if (b) l->name = b;
        if (!a || !b) return seer_fail(SEER_STATUS_OOM, "out of memory reading labels");
    }
    l->id[l->count] = strdup(id);
    l->name[l->count] = strdup(name && *name ? name : id);
    if (!l->id[l->count] || !l->name[l->count]) return seer_fail(SEER_STATUS_OOM, "out of memory");
    l->count++;
    return SEER_STATUS_OK;
}

seer_status seer_labels_load(const char *path, seer_labels *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return seer_fail(SEER_STATUS_IO, "label file %s: %s", path, strerror(errno));
    char line[4096];
    int cap = 0, lineno = 0;
    seer_status st = SEER_STATUS_OK;
    while (st == SEER_STATUS_OK && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *id = line + strspn(line, " \t");
        if (*id == '\0') {
            st = seer_fail(SEER_STATUS_FORMAT, "label file %s: line %d is empty", path, lineno);
            break;
        }
        char *rest = id + strcspn(id, " \t");
        if (*rest) *rest++ = '\0';
        rest += strspn(rest, " \t");
        st = labels_add(out, id, rest, &cap);
    }
    fclose(f);
    if (st == SEER_STATUS_OK && out->count == 0)
        st = seer_fail(SEER_STATUS_FORMAT, "label file %s has no classes", path);
    if (st != SEER_STATUS_OK) seer_labels_free(out);
    return st;
}

seer_status seer_labels_builtin(const char *set, seer_labels *out) {
    static const char *cifar10[] = {"airplane", "automobile", "bird", "cat", "deer",
                                    "dog", "frog", "horse", "ship", "truck"};
    memset(out, 0, sizeof *out);
    if (strcmp(set, "cifar10") != 0)
        return seer_fail(SEER_STATUS_NOT_FOUND, "no built-in label set '%s' (have: cifar10)", set);
    int cap = 0;
    for (int i = 0; i < 10; i++) SEER_TRY(labels_add(out, cifar10[i], cifar10[i], &cap));
    return SEER_STATUS_OK;
}

seer_status seer_labels_numbered(int count, seer_labels *out) {
    memset(out, 0, sizeof *out);
    int cap = 0;
    for (int i = 0; i < count; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        seer_status st = labels_add(out, num, num, &cap);
        if (st != SEER_STATUS_OK) {
            seer_labels_free(out);
            return st;
        }
    }
    return SEER_STATUS_OK;
}

int seer_labels_find(const seer_labels *l, const char *s) {
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->id[i], s) == 0) return i;
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->name[i], s) == 0) return i;
    return -1;
}

// ---- walking -------------------------------------------------------------------------------

typedef struct list {
    seer_dataset_item *items;
    int count, cap;
} list;

static seer_status list_add(list *l, const char *path) {
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        seer_dataset_item *p = realloc(l->items, (size_t)l->cap * sizeof *p);
        if (!p) return seer_fail(SEER_STATUS_OOM, "out of memory listing files");
        l->items = p;
    }
    l->items[l->count].path = strdup(path);
    l->items[l->count].label = -1;
    if (!l->items[l->count].path) return seer_fail(SEER_STATUS_OOM, "out of memory");
    l->count++;
    return SEER_STATUS_OK;
}

static seer_status walk(const char *dir, list *l, int depth) {
    if (depth > 64) return seer_fail(SEER_STATUS_ARG, "%s: folders nested too deep (a link loop?)", dir);
    DIR *d = opendir(dir);
    if (!d) return seer_fail(SEER_STATUS_IO, "cannot read folder %s: %s", dir, strerror(errno));
    seer_status st = SEER_STATUS_OK;
    struct dirent *e;
    char path[4096];
    while (st == SEER_STATUS_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;  // ., .. and hidden files
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            st = list_add(l, path);  // a dangling link: reported when it fails to open
            continue;
        }
        if (S_ISDIR(sb.st_mode)) st = walk(path, l, depth + 1);
        else if (S_ISREG(sb.st_mode)) st = list_add(l, path);
    }
    closedir(d);
    return st;
}

static int by_path(const void *a, const void *b) {
    return strcmp(((const seer_dataset_item *)a)->path, ((const seer_dataset_item *)b)->path);
}

void seer_dataset_free(seer_dataset *d) {
    if (!d) return;
    for (int i = 0; i < d->count; i++) free(d->items[i].path);
    free(d->items);
    memset(d, 0, sizeof *d);
}

// The class folder of `path` under `root`: the first component below it.
static seer_status folder_label(const char *root, const char *path, const seer_labels *labels,
                                int *label) {
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') n--;
    const char *rel = path + n + (path[n] == '/');
    const char *slash = strchr(rel, '/');
    if (!slash)
        return seer_fail(SEER_STATUS_FORMAT,
                         "%s is not inside a class folder (ImageFolder layout: %s/<class>/<file>)",
                         path, root);
    char cls[512];
    snprintf(cls, sizeof cls, "%.*s", (int)(slash - rel), rel);
    *label = seer_labels_find(labels, cls);
    if (*label < 0)
        return seer_fail(SEER_STATUS_NOT_FOUND,
                         "class folder '%s' (of %s) is not in the label file", cls, path);
    return SEER_STATUS_OK;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

struct list_entry {
    char *name;
    int label;
};

static int by_name(const void *a, const void *b) {
    return strcmp(((const struct list_entry *)a)->name, ((const struct list_entry *)b)->name);
}

// `FILE LABEL` lines: FILE matched by base name.
static seer_status list_labels(const char *list_path, seer_dataset *d) {
    FILE *f = fopen(list_path, "r");
    if (!f) return seer_fail(SEER_STATUS_IO, "label list %s: %s", list_path, strerror(errno));
    int n = 0, cap = 0, lineno = 0;
    struct list_entry *e = NULL;
    char line[4096];
    seer_status st = SEER_STATUS_OK;
    while (st == SEER_STATUS_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char name[4096];
        int label;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        if (sscanf(line, "%4095s %d", name, &label) != 2 || label < 0) {
            st = seer_fail(SEER_STATUS_FORMAT, "label list %s, line %d: expected 'FILE LABEL'",
                           list_path, lineno);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            struct list_entry *p = realloc(e, (size_t)cap * sizeof *p);
            if (!p) {
                st = seer_fail(SEER_STATUS_OOM, "out of memory");
                break;
            }
            e = p;
        }
        e[n].name = strdup(base_name(name));
        e[n++].label = label;
    }
    fclose(f);
    if (st == SEER_STATUS_OK) {
        qsort(e, (size_t)n, sizeof *e, by_name);
        for (int i = 0; i < d->count && st == SEER_STATUS_OK; i++) {
            struct list_entry key = {.name = (char *)base_name(d->items[i].path)};
            struct list_entry *hit = bsearch(&key, e, (size_t)n, sizeof *e, by_name);
            if (!hit)
                st = seer_fail(SEER_STATUS_NOT_FOUND, "%s is not in the label list %s",
                               d->items[i].path, list_path);
            else
                d->items[i].label = hit->label;
        }
    }
    for (int i = 0; i < n; i++) free(e[i].name);
    free(e);
    return st;
}

seer_status seer_dataset_collect(const char *const *paths, int n_paths,
                                 const seer_dataset_opts *opts, seer_dataset *out) {
    memset(out, 0, sizeof *out);
    seer_dataset_opts none = {0};
    if (!opts) opts = &none;
    if (n_paths <= 0) return seer_fail(SEER_STATUS_ARG, "no input paths given");
    if (opts->source == SEER_LABELS_FOLDERS && !opts->labels)
        return seer_fail(SEER_STATUS_ARG, "ImageFolder labels need a label file");
    list l = {0};
    seer_status st = SEER_STATUS_OK;
    for (int p = 0; p < n_paths && st == SEER_STATUS_OK; p++) {
        struct stat sb;
        if (stat(paths[p], &sb) != 0) {
            st = seer_fail(SEER_STATUS_IO, "%s: %s", paths[p], strerror(errno));
            break;
        }
        int before = l.count;
        if (S_ISDIR(sb.st_mode)) {
            st = walk(paths[p], &l, 0);
            if (st == SEER_STATUS_OK && l.count == before)
                st = seer_fail(SEER_STATUS_ARG, "folder %s holds no files", paths[p]);
            if (st == SEER_STATUS_OK) {
                qsort(l.items + before, (size_t)(l.count - before), sizeof *l.items, by_path);
                for (int i = before; i < l.count && st == SEER_STATUS_OK &&
                                     opts->source == SEER_LABELS_FOLDERS; i++)
                    st = folder_label(paths[p], l.items[i].path, opts->labels, &l.items[i].label);
            }
        } else {
            st = list_add(&l, paths[p]);
            if (st == SEER_STATUS_OK && opts->source == SEER_LABELS_FOLDERS)
                st = seer_fail(SEER_STATUS_ARG, "%s: ImageFolder labels need a folder, not a file",
                               paths[p]);
        }
    }
    out->items = l.items;
    out->count = l.count;
    if (st == SEER_STATUS_OK && opts->source == SEER_LABELS_LIST)
        st = list_labels(opts->list_path, out);
    if (st != SEER_STATUS_OK) seer_dataset_free(out);
    return st;
}
