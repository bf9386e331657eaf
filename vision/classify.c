// Batch classification (see classify.h).
#include "vision/classify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/image.h"

seer_status seer_model_preprocess(const seer_model *m, seer_preprocess *out) {
    seer_status st = seer_preprocess_parse(m->preprocess, out);
    if (st != SEER_STATUS_OK) return seer_fail_context(st, "preprocess of %s", m->arch->name);
    return SEER_STATUS_OK;
}

typedef struct slot {
    seer_status status;
    char error[512];
} slot;

// Decode and preprocess one file into dst (size * size * 3 floats).
static void prepare(const char *path, const seer_preprocess *pre, float *dst, slot *s) {
    seer_image img = {0};
    s->status = seer_image_load(path, NULL, &img);
    if (s->status == SEER_STATUS_OK) {
        s->status = seer_preprocess_run(pre, img.px, img.w, img.h, dst);
        seer_image_free(&img);
    }
    if (s->status != SEER_STATUS_OK) snprintf(s->error, sizeof s->error, "%s", seer_last_error());
}

static seer_status check_opts(const seer_model *m, const seer_classify_opts *o) {
    int max_k = m->num_classes < SEER_CLASSIFY_MAX_TOPK ? m->num_classes
                                                              : SEER_CLASSIFY_MAX_TOPK;
    if (o->batch < 1) return seer_fail(SEER_STATUS_ARG, "batch size must be at least 1 (got %d)", o->batch);
    if (o->topk < 1 || o->topk > max_k)
        return seer_fail(SEER_STATUS_ARG, "top-k must be between 1 and %d for %s (got %d)", max_k,
                         m->arch->name, o->topk);
    return SEER_STATUS_OK;
}

seer_status seer_classify_run(seer_model *m, seer_ctx *c, const seer_dataset_item *items, int n,
                              const seer_classify_opts *o, seer_classify_fn fn, void *user) {
    SEER_TRY(check_opts(m, o));
    seer_preprocess pre;
    if (o->pre) pre = *o->pre;
    else SEER_TRY(seer_model_preprocess(m, &pre));
    SEER_TRY(seer_preprocess_check(&pre));
    const int size = seer_preprocess_out_size(&pre), nc = m->num_classes, k = o->topk;
    const size_t per = seer_preprocess_out_numel(&pre);

    float *batch = malloc(per * (size_t)o->batch * sizeof(float));
    slot *slots = calloc((size_t)o->batch, sizeof *slots);
    float *logits = malloc(sizeof(float) * (size_t)o->batch * (size_t)nc);
    float *probs = malloc(sizeof(float) * (size_t)o->batch * (size_t)nc);
    float *feats = NULL;
    int nf = 0;
    seer_status st = SEER_STATUS_OK;
    if (!batch || !slots || !logits || !probs) st = seer_fail(SEER_STATUS_OOM, "out of host memory for a batch of %d", o->batch);

    for (int start = 0; start < n && st == SEER_STATUS_OK; start += o->batch) {
        if (o->cancel && *o->cancel) {
            st = seer_fail(SEER_STATUS_CANCELLED, "cancelled after %d of %d images", start, n);
            break;
        }
        int nb = n - start < o->batch ? n - start : o->batch;
        // Decode in parallel; good images are packed to the front of `batch` afterwards.
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < nb; i++) prepare(items[start + i].path, &pre, batch + per * (size_t)i, &slots[i]);
        int nv = 0;
        for (int i = 0; i < nb; i++) {
            if (slots[i].status != SEER_STATUS_OK) continue;
            if (nv != i) memcpy(batch + per * (size_t)nv, batch + per * (size_t)i, per * sizeof(float));
            nv++;
        }
        if (nv > 0) {
            seer_ctx_reset(c);
            seer_tensor *x = seer_from_host(c, batch, m->dtype, 4, (int64_t[]){nv, size, size, 3});
            seer_tensor *y = seer_model_forward(m, c, x);
            seer_tensor *p = seer_softmax(c, y, 1.0f, NULL);
            seer_tensor *f = o->want_features ? seer_model_features(m, c, x) : NULL;
            if (p) seer_to_host(c, y, logits);
            if (p) seer_to_host(c, p, probs);
            if (f && !feats) {
                nf = (int)f->shape[1];
                feats = malloc(sizeof(float) * (size_t)o->batch * (size_t)nf);
                if (!feats) st = seer_fail(SEER_STATUS_OOM, "out of host memory for features");
            }
            if (f && feats) seer_to_host(c, f, feats);
            if (seer_ctx_status(c) != SEER_STATUS_OK) {
                st = seer_fail(seer_ctx_status(c), "%s forward pass: %s", m->arch->name, seer_ctx_error(c));
                break;
            }
        }
        // Results in input order. Top-k on the host, ranked by logits (probabilities of
        // far-apart logits underflow to equal zeros); ties keep the lower class id.
        for (int i = 0, v = 0; i < nb && st == SEER_STATUS_OK; i++) {
            seer_classify_result r = {.path = items[start + i].path, .label = items[start + i].label,
                                      .status = slots[i].status, .num_classes = nc};
            if (r.status != SEER_STATUS_OK) {
                r.error = slots[i].error;
            } else {
                const float *pr = probs + (size_t)v * nc, *lg = logits + (size_t)v * nc;
                r.k = k;
                for (int j = 0; j < k; j++) {
                    int best = -1;
                    for (int cls = 0; cls < nc; cls++) {
                        bool taken = false;
                        for (int q = 0; q < j; q++) taken |= r.class_id[q] == cls;
                        if (!taken && (best < 0 || lg[cls] > lg[best])) best = cls;
                    }
                    r.class_id[j] = best;
                    r.prob[j] = pr[best];
                }
                r.logits = logits + (size_t)v * nc;
                r.features = feats ? feats + (size_t)v * nf : NULL;
                r.num_features = nf;
                v++;
            }
            if (fn && fn(&r, user)) st = seer_fail(SEER_STATUS_CANCELLED, "stopped by the caller");
        }
        if (o->progress) o->progress(start + nb, n, o->progress_user);
    }
    free(batch);
    free(slots);
    free(logits);
    free(probs);
    free(feats);
    return st;
}
