// Finding assets, weights, fonts, labels and images (see assets.h).
#include "app/gui/assets.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backbones/model.h"
#include "core/safetensors.h"

static bool is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

// The folder of the running executable ("" when unknown).
static const char *exe_dir(char *buf, size_t n) {
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    buf[len > 0 ? len : 0] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash) *slash = '\0';
    return buf;
}

const char *gui_find_asset(const char *rel, char *buf, size_t n) {
    const char *env = getenv("SEER_ASSETS");
    if (env) {
        snprintf(buf, n, "%s/%s", env, rel);
        if (is_file(buf)) return buf;
    }
    char exe[PATH_MAX];
    if (*exe_dir(exe, sizeof exe)) {
        const char *dirs[] = {"../assets", "../../assets", "../share/seer"};
        for (int k = 0; k < 3; k++) {
            snprintf(buf, n, "%s/%s/%s", exe, dirs[k], rel);
            if (is_file(buf)) return buf;
        }
    }
    snprintf(buf, n, "assets/%s", rel);
    return is_file(buf) ? buf : NULL;
}

const char *gui_find_weights(const char *name, char *buf, size_t n) {
    const char *env = getenv("SEER_MODELS");
    if (env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
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
    return gui_find_asset(rel, buf, n);
}

const char *gui_find_font(bool bold, char *buf, size_t n) {
    const char *env = getenv(bold ? "SEER_GUI_FONT_BOLD" : "SEER_GUI_FONT");
    if (env && is_file(env)) return snprintf(buf, n, "%s", env), buf;
    const char *file = bold ? "DejaVuSans-Bold.ttf" : "DejaVuSans.ttf";
    const char *dirs[] = {"/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu",
                          "/usr/share/fonts/TTF", "/usr/local/share/fonts"};
    for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) {
        snprintf(buf, n, "%s/%s", dirs[k], file);
        if (is_file(buf)) return buf;
    }
    char rel[64];
    snprintf(rel, sizeof rel, "fonts/%s", file);
    return gui_find_asset(rel, buf, n);
}

// ---- weights files ------------------------------------------------------------------------

// KIND_GUIDE: an ENAT that guides another one's sampler (metadata enat.guide_of); it is loaded
// with that generator, not listed on its own.
typedef enum kind { KIND_UNKNOWN, KIND_CLASSIFIER, KIND_GENERATOR, KIND_TOKENIZER, KIND_GUIDE } kind;

// What a weights file is, from its seer.arch metadata (cheap: the header is all that is read).
static kind weights_kind(const char *path, char *arch, size_t n) {
    seer_st_file *f = NULL;
    arch[0] = '\0';
    if (seer_st_open(path, &f) != SEER_STATUS_OK) return KIND_UNKNOWN;
    const char *a = seer_st_metadata(f, "seer.arch");
    snprintf(arch, n, "%s", a ? a : "");
    kind k = KIND_UNKNOWN;
    if (a && strncmp(a, "enat", 4) == 0) k = KIND_GENERATOR;
    else if (a && (strncmp(a, "vq", 2) == 0)) k = KIND_TOKENIZER;
    else if (a && seer_arch_find(a)) k = KIND_CLASSIFIER;
    else if (seer_st_find(f, "quantize.embedding.weight") >= 0) k = KIND_TOKENIZER;
    else if (seer_st_find(f, "y_embedder.embedding_table.weight") >= 0) k = KIND_GENERATOR;
    if (k == KIND_GENERATOR && seer_st_metadata(f, "enat.guide_of")) k = KIND_GUIDE;
    seer_st_close(f);
    return k;
}

static void scan_folder(gui_state *s, const char *dir, const char *detail) {
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 12 || strcmp(e->d_name + len - 12, ".safetensors") != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, sizeof *p * (size_t)cap);
            if (!p) break;
            names = p;
        }
        if ((names[n] = strdup(e->d_name))) n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char path[2048], arch[96];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        kind k = weights_kind(path, arch, sizeof arch);
        char label[96];
        snprintf(label, sizeof label, "%.*s", (int)(strlen(names[i]) - 12), names[i]);
        if (k == KIND_CLASSIFIER) gui_model_list_add(&s->classifiers, label, path, detail);
        else if (k == KIND_GENERATOR) gui_model_list_add(&s->generators, label, path, detail);
        else if (k == KIND_TOKENIZER && !s->tokenizer_path[0])
            gui_copy(s->tokenizer_path, sizeof s->tokenizer_path, path);
        free(names[i]);
    }
    free(names);
}

void gui_scan_models(gui_state *s) {
    char buf[PATH_MAX + 64];
    for (int i = 0; i < seer_arch_count(); i++) {
        const seer_arch *a = seer_arch_at(i);
        if (!a->labels) continue;  // feature extractors (FID) classify nothing
        if (gui_find_weights(a->name, buf, sizeof buf))
            gui_model_list_add(&s->classifiers, a->name, buf, "registry preset");
    }
    const char *gens[] = {"enat_l", "enat_l_512"};
    for (int i = 0; i < 2; i++)
        if (gui_find_weights(gens[i], buf, sizeof buf)) gui_model_list_add(&s->generators, gens[i], buf, "preset");
    if (gui_find_weights("vq-f16-jax", buf, sizeof buf))
        gui_copy(s->tokenizer_path, sizeof s->tokenizer_path, buf);
    const char *env = getenv("SEER_MODELS");
    if (env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
            scan_folder(s, d, "SEER_MODELS");
        free(copy);
    }
    char exe[PATH_MAX];
    if (*exe_dir(exe, sizeof exe)) {
        snprintf(buf, sizeof buf, "%s/../assets/models", exe);
        if (is_dir(buf)) scan_folder(s, buf, "assets/models");
    }
    if (is_dir("assets/models")) scan_folder(s, "assets/models", "assets/models");
}

int gui_add_weights_file(gui_state *s, const char *path, bool *is_generator, char *err, size_t n) {
    *is_generator = false;
    if (!is_file(path)) {
        snprintf(err, n, "%s: no such file", path);
        return -1;
    }
    char arch[96];
    kind k = weights_kind(path, arch, sizeof arch);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char label[96];
    size_t len = strlen(base);
    bool st = len > 12 && strcmp(base + len - 12, ".safetensors") == 0;
    snprintf(label, sizeof label, "%.*s", (int)(st ? len - 12 : len), base);
    if (k == KIND_CLASSIFIER) return gui_model_list_add(&s->classifiers, label, path, "opened");
    if (k == KIND_GENERATOR || k == KIND_GUIDE) { // opened on purpose, a guide is a generator too
        *is_generator = true;
        return gui_model_list_add(&s->generators, label, path, "opened");
    }
    if (k == KIND_TOKENIZER)
        snprintf(err, n, "%s is a tokenizer: open it in the Tokenizer field, with its generator", base);
    else if (arch[0])
        snprintf(err, n, "%s: unknown architecture '%s' (seer.arch)", base, arch);
    else
        snprintf(err, n, "%s is not a seer weights file (no seer.arch metadata); convert it with "
                 "tools/convert.py --arch NAME", base);
    return -1;
}

seer_status gui_load_labels(const char *set, int num_classes, seer_labels *out) {
    char buf[4096], rel[256];
    memset(out, 0, sizeof *out);
    if (!set) return seer_fail(SEER_STATUS_NOT_FOUND, "the model names no label set");
    snprintf(rel, sizeof rel, "labels/%s.txt", set);
    const char *path = gui_find_asset(rel, buf, sizeof buf);
    SEER_TRY(path ? seer_labels_load(path, out) : seer_labels_builtin(set, out));
    if (out->count != num_classes) {
        int have = out->count;
        seer_labels_free(out);
        return seer_fail(SEER_STATUS_SHAPE, "label set %s has %d classes, the model %d", set, have, num_classes);
    }
    return SEER_STATUS_OK;
}

// ---- images -------------------------------------------------------------------------------

static bool has_image_ext(const char *p) {
    static const char *ext[] = {"jpg", "jpeg", "png", "gif", "bmp", "tga", "ppm", "pgm", "pnm", "psd", "jpe"};
    const char *dot = strrchr(p, '.'), *slash = strrchr(p, '/');
    if (!dot || (slash && dot < slash)) return false;
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0) return true;
    return false;
}

size_t gui_rss_bytes(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

void gui_free_paths(char **paths, int n) {
    for (int i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}

seer_status gui_collect_images(const char *path, char ***paths, int *n, int *index, char *folder, size_t folder_n) {
    *paths = NULL;
    *n = *index = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) return seer_fail(SEER_STATUS_IO, "%s: no such file or folder", path);
    char dir[PATH_MAX];
    bool single = !S_ISDIR(sb.st_mode);
    if (single) {
        // An image opened on its own brings its neighbours along, as image viewers do.
        gui_copy(dir, sizeof dir, path);
        char *slash = strrchr(dir, '/');
        if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
        else snprintf(dir, sizeof dir, ".");
    } else {
        gui_copy(dir, sizeof dir, path);
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/') dir[--len] = '\0';
    }
    snprintf(folder, folder_n, "%s", dir);
    seer_dataset ds = {0};
    char **out = NULL;
    int count = 0;
    if (single) {
        // Only the files directly next to it: a photo in $HOME must not walk all of $HOME.
        DIR *d = opendir(dir);
        int cap = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
            char p[PATH_MAX + 256];
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s%s%s", strcmp(dir, "/") == 0 ? "" : dir, "/", e->d_name);
            if (!has_image_ext(p) || !is_file(p)) continue;
            if (count == cap) {
                cap = cap ? cap * 2 : 64;
                char **q = realloc(out, sizeof *q * (size_t)cap);
                if (!q) break;
                out = q;
            }
            if ((out[count] = strdup(p))) count++;
        }
        if (d) closedir(d);
        qsort(out, (size_t)count, sizeof *out, cmp_str);
    } else {
        const char *one[] = {dir};
        SEER_TRY(seer_dataset_collect(one, 1, NULL, &ds));
        out = calloc((size_t)ds.count + 1, sizeof *out);
        for (int i = 0; out && i < ds.count; i++)
            if (has_image_ext(ds.items[i].path) && (out[count] = strdup(ds.items[i].path))) count++;
        seer_dataset_free(&ds);
        if (count == 0) {
            gui_free_paths(out, count);
            return seer_fail(SEER_STATUS_NOT_FOUND, "%s holds no image files", dir);
        }
    }
    if (single) {
        // The file itself may have another extension, or a path spelled differently ("./x").
        int at = -1;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        for (int i = 0; i < count && at < 0; i++) {
            const char *b = strrchr(out[i], '/');
            if (strcmp(b ? b + 1 : out[i], base) == 0) at = i;
        }
        if (at < 0) {
            char **q = realloc(out, sizeof *q * (size_t)(count + 1));
            if (!q || !(q[count] = strdup(path))) {
                gui_free_paths(q ? q : out, count);
                return seer_fail(SEER_STATUS_OOM, "out of memory");
            }
            out = q;
            at = count++;
        }
        *index = at;
    }
    *paths = out;
    *n = count;
    return SEER_STATUS_OK;
}
