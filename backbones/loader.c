// Loading a weights file into a model: architecture lookup, tensor reads with shape checks,
// load-time transforms (OIHW -> OHWI, BatchNorm folding) and the unexpected-tensor check.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/model.h"

struct seer_loader {
    seer_st_reader reader;
    char names[16][256];
    int next_name;
    seer_status status;  // of the last failed read
};

const seer_st_file *seer_loader_file(seer_loader *l) { return l->reader.file; }

const char *seer_loader_name(seer_loader *l, const char *fmt, ...) {
    char *buf = l->names[l->next_name++ % 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof l->names[0], fmt, ap);
    va_end(ap);
    return buf;
}

float *seer_load_host(seer_loader *l, const char *name, int ndim, const int64_t *shape) {
    float *host = NULL;
    seer_status st = seer_st_reader_read_f32(&l->reader, name, ndim, shape, &host);
    if (st != SEER_STATUS_OK) l->status = st;
    return host;
}

static seer_tensor *upload(seer_model *m, const char *name, int ndim, const int64_t *shape,
                           const float *host) {
    seer_dtype dt = ndim == 1 ? SEER_F32 : m->dtype;
    return seer_weights_add(m->weights, name, dt, ndim, shape, host);
}

seer_tensor *seer_load_tensor(seer_loader *l, seer_model *m, const char *name, int ndim,
                              const int64_t *shape) {
    float *host = seer_load_host(l, name, ndim, shape);
    if (!host) return NULL;
    seer_tensor *t = upload(m, name, ndim, shape, host);
    free(host);
    return t;
}

seer_tensor *seer_load_conv(seer_loader *l, seer_model *m, const char *name, int64_t c_out,
                            int64_t c_in_per_group, int64_t kh, int64_t kw) {
    int64_t shape[4] = {c_out, c_in_per_group, kh, kw};
    float *oihw = seer_load_host(l, name, 4, shape);
    if (!oihw) return NULL;
    float *ohwi = malloc(sizeof(float) * (size_t)(c_out * c_in_per_group * kh * kw));
    seer_tensor *t = NULL;
    if (ohwi) {
        seer_conv_weight_from_oihw(ohwi, oihw, c_out, c_in_per_group, kh, kw);
        t = upload(m, name, 4, (int64_t[]){c_out, kh, kw, c_in_per_group}, ohwi);
    } else {
        seer_fail(SEER_STATUS_OOM, "out of host memory loading %s", name);
    }
    free(oihw);
    free(ohwi);
    return t;
}

seer_status seer_load_conv_bn(seer_loader *l, seer_model *m, const char *conv, const char *bn,
                              int64_t c_out, int64_t c_in_per_group, int64_t kh, int64_t kw,
                              float eps, seer_tensor **w, seer_tensor **b) {
    int64_t wshape[4] = {c_out, c_in_per_group, kh, kw}, vshape[1] = {c_out};
    int64_t per_out = c_in_per_group * kh * kw;
    static const char *bn_parts[4] = {"weight", "bias", "running_mean", "running_var"};
    float *oihw = seer_load_host(l, conv, 4, wshape), *bnp[4] = {0};
    for (int i = 0; i < 4 && oihw && (i == 0 || bnp[i - 1]); i++)
        bnp[i] = seer_load_host(l, seer_loader_name(l, "%s.%s", bn, bn_parts[i]), 1, vshape);
    // A conv with its own bias ("<name>.bias" next to "<name>.weight") folds it in too.
    float *conv_bias = NULL;
    size_t len = strlen(conv);
    if (bnp[3] && len > 7 && strcmp(conv + len - 7, ".weight") == 0) {
        const char *bname = seer_loader_name(l, "%.*s.bias", (int)(len - 7), conv);
        if (seer_st_find(l->reader.file, bname) >= 0) {
            conv_bias = seer_load_host(l, bname, 1, vshape);
            if (!conv_bias) {  // shape error reported: skip the fold, clean up below
                free(bnp[3]);
                bnp[3] = NULL;
            }
        }
    }
    seer_status st = l->status;
    if (bnp[3]) {
        float *ohwi = malloc(sizeof(float) * (size_t)(c_out * per_out));
        float *bias = malloc(sizeof(float) * (size_t)c_out);
        if (ohwi && bias) {
            seer_conv_weight_from_oihw(ohwi, oihw, c_out, c_in_per_group, kh, kw);
            seer_bn_fold(ohwi, c_out, per_out, conv_bias, bnp[2], bnp[3], bnp[0], bnp[1], eps, bias);
            *w = upload(m, conv, 4, (int64_t[]){c_out, kh, kw, c_in_per_group}, ohwi);
            *b = *w ? seer_weights_add(m->weights, seer_loader_name(l, "%s.folded_bias", bn),
                                       SEER_F32, 1, vshape, bias)
                    : NULL;
            st = *w && *b ? SEER_STATUS_OK : SEER_STATUS_OOM;
        } else {
            st = seer_fail(SEER_STATUS_OOM, "out of host memory loading %s", conv);
        }
        free(ohwi);
        free(bias);
    }
    free(oihw);
    free(conv_bias);
    for (int i = 0; i < 4; i++) free(bnp[i]);
    return st;
}

// ---- models --------------------------------------------------------------------------------

void seer_model_free(seer_model *m) {
    if (!m) return;
    if (m->impl && m->arch && m->arch->free_impl) m->arch->free_impl(m->impl);
    seer_weights_free(m->weights);
    free(m);
}

static seer_status load_with(seer_model *m, seer_st_file *f) {
    seer_loader l = {.reader = {.file = f}};
    return seer_st_reader_finish(&l.reader, m->arch->load(m, &l), NULL);
}

// metadata seer.labels, else the arch's for the arch's class count, "cifar10" for 10 classes,
// else none (classes by number).
static void choose_labels(seer_model *m, const seer_st_file *f) {
    const char *labels = seer_st_metadata(f, "seer.labels");
    if (!labels)
        labels = m->num_classes == m->arch->num_classes ? m->arch->labels
                 : m->num_classes == 10                 ? "cifar10"
                                                        : "";
    snprintf(m->labels, sizeof m->labels, "%s", labels);
}

seer_status seer_model_config_classes(seer_model *m, seer_loader *l, int n) {
    if (n <= 0 || n == m->num_classes) return SEER_STATUS_OK;
    const seer_st_file *f = seer_loader_file(l);
    if (seer_st_metadata(f, "seer.num_classes"))
        return seer_fail(SEER_STATUS_FORMAT,
                         "seer.config names %d classes but metadata seer.num_classes is %d", n,
                         m->num_classes);
    m->num_classes = n;
    choose_labels(m, f);
    return SEER_STATUS_OK;
}

seer_status seer_model_load(const char *path, const char *arch_name, seer_device dev,
                            seer_dtype dtype, seer_model **out) {
    *out = NULL;
    SEER_TRY(seer_check_compute_dtype(dev, dtype, "model"));
    seer_st_file *f = NULL;
    SEER_TRY(seer_st_open(path, &f));
    const char *name = arch_name ? arch_name : seer_st_metadata(f, "seer.arch");
    if (!name) {
        seer_st_close(f);
        return seer_fail(SEER_STATUS_ARG,
                         "%s has no seer.arch metadata: name the architecture (--model NAME)", path);
    }
    const seer_arch *arch = seer_arch_find(name);
    if (!arch) {
        seer_st_close(f);
        return seer_fail(SEER_STATUS_NOT_FOUND, "unknown architecture '%s' (see `seer models`)", name);
    }
    seer_model *m = calloc(1, sizeof *m);
    if (!m) {
        seer_st_close(f);
        return seer_fail(SEER_STATUS_OOM, "out of host memory");
    }
    m->arch = arch;
    m->device = dev;
    m->dtype = dtype;
    snprintf(m->path, sizeof m->path, "%s", path);
    const char *pre = seer_st_metadata(f, "seer.preprocess");
    snprintf(m->preprocess, sizeof m->preprocess, "%s", pre ? pre : arch->preprocess);
    m->num_classes = arch->num_classes;
    seer_status st = seer_st_metadata_int(f, "seer.num_classes", 1, 1 << 20, &m->num_classes);
    choose_labels(m, f);
    m->weights = seer_weights_new(dev);
    if (st == SEER_STATUS_OK) st = m->weights ? load_with(m, f) : SEER_STATUS_OOM;
    seer_st_close(f);
    if (st != SEER_STATUS_OK) {
        seer_model_free(m);
        return seer_fail_context(st, "loading %s as %s", path, arch->name);
    }
    *out = m;
    return SEER_STATUS_OK;
}

seer_tensor *seer_model_forward(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    return m->arch->forward(m, c, x);
}

seer_tensor *seer_model_features(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    if (!m->arch->features) {
        seer_ctx_fail(c, SEER_STATUS_UNSUPPORTED, "%s has no feature output", m->arch->name);
        return NULL;
    }
    return m->arch->features(m, c, x);
}
