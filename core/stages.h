// A chain of stages (blocks) run in two scratch contexts: stage i runs in one context and reads
// stage i-1's output from the other, which is reset before stage i+1. So a long chain keeps
// at most two stages' activations; failures are copied into the caller's context. Used by the
// ENAT generator and the VQGAN tokenizer.
#ifndef SEER_STAGES_H
#define SEER_STAGES_H

#include "core/tensor.h"

typedef struct seer_stages {
    seer_ctx *ctx[2];
    int cur;
} seer_stages;

// Both contexts on dev; OOM when one cannot be made (seer_stages_free in either case).
seer_status seer_stages_init(seer_stages *s, seer_device dev);
void seer_stages_free(seer_stages *s);
// Empties both contexts; the next seer_stages_next gives the first stage's context.
void seer_stages_begin(seer_stages *s);
// The context for the next stage (the previous stage's output stays valid in the other); a
// failure of either is copied into c.
seer_ctx *seer_stages_next(seer_stages *s, seer_ctx *c);
// The last stage's output x copied into c (NULL with c failed if a stage failed or gave none),
// then both contexts emptied.
seer_tensor *seer_stages_end(seer_stages *s, seer_ctx *c, const seer_tensor *x);

#endif
