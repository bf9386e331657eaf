// Two scratch contexts a chain of stages alternates between (see core/stages.h).
#include "core/stages.h"

#include "core/ops.h"

seer_status seer_stages_init(seer_stages *s, seer_device dev) {
    s->ctx[0] = seer_ctx_new(dev);
    s->ctx[1] = s->ctx[0] ? seer_ctx_new(dev) : NULL;
    s->cur = 1;
    return s->ctx[1] ? SEER_STATUS_OK : SEER_STATUS_OOM;
}

void seer_stages_free(seer_stages *s) {
    seer_ctx_free(s->ctx[0]);
    seer_ctx_free(s->ctx[1]);
    s->ctx[0] = s->ctx[1] = NULL;
}

void seer_stages_begin(seer_stages *s) {
    seer_ctx_reset(s->ctx[0]);
    seer_ctx_reset(s->ctx[1]);
    s->cur = 1;
}

// A failure recorded in scratch context from, copied into c (which keeps its first).
static void note_failure(seer_ctx *c, seer_ctx *from) {
    if (seer_ctx_status(from) != SEER_STATUS_OK && seer_ctx_status(c) == SEER_STATUS_OK)
        seer_ctx_fail(c, seer_ctx_status(from), "%s", seer_ctx_error(from));
}

seer_ctx *seer_stages_next(seer_stages *s, seer_ctx *c) {
    note_failure(c, s->ctx[s->cur]);
    s->cur ^= 1;
    seer_ctx *next = s->ctx[s->cur];
    note_failure(c, next);
    seer_ctx_reset(next);
    return next;
}

seer_tensor *seer_stages_end(seer_stages *s, seer_ctx *c, const seer_tensor *x) {
    note_failure(c, s->ctx[s->cur]);
    if (!x && seer_ctx_status(c) == SEER_STATUS_OK)
        seer_ctx_fail(c, SEER_STATUS_ARG, "stages: a stage gave no output");
    seer_tensor *out = x && seer_ctx_status(c) == SEER_STATUS_OK ? seer_to(c, x, x->dtype) : NULL;
    seer_stages_begin(s);
    return out;
}
