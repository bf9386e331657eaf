// ENAT's sampler (NATSchedule.generate in the reference's libs/nat_misc.py); see enat.h.
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "generate/enat.h"

// splitmix64: one independent stream per image
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in (0, 1), never 0 or 1.
static double uniform_open(uint64_t *s) {
    return ((double)(splitmix64(s) >> 11) + 0.5) * 0x1p-53;
}

// One step's draws of one image: L token uniforms, then L Gumbels.
static void draw_noise(uint64_t *state, double *u, float *gumbel, int64_t L) {
    for (int64_t i = 0; i < L; i++)
        u[i] = uniform_open(state);
    for (int64_t i = 0; i < L; i++)
        gumbel[i] = (float)-log(-log(uniform_open(state)));
}

// The smallest float >= u. For every float c, `(double)c < u` and `c < float_at_or_above(u)`
// agree, so the draws can take F32 thresholds on the device and still make the double compare
// of torch's multinomial kernel (see sample_tokens).
static float float_at_or_above(double u) {
    float f = (float)u;
    return (double)f < u ? nextafterf(f, INFINITY) : f;
}

typedef struct scored {
    float conf;
    int32_t pos;
} scored;

// Ascending confidence; equal values keep position order.
static int by_confidence(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->conf < y->conf) return -1;
    if (x->conf > y->conf) return 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

typedef struct sampler {
    int64_t B, L, V, D;
    int64_t *ids2;        // [2B * L] ids of the cond and uncond halves
    int32_t *labels2;     // [2B]
    uint8_t *prev_masked; // [2B * L]
    float *thresh;        // [B * L] the token uniforms as F32 thresholds; -1: not drawn
    int64_t *sampled;     // [B * L] the drawn token (masked positions) or the kept one
    float *picked;        // [B * L] log-probability of the sampled token
    double *u;            // one step's noise: [B * L] token uniforms
    float *gumbel;        // [B * L]
    uint64_t *rng;        // [B]
    scored *order;        // [L]
    void *feat_mem;       // the previous step's features [2B, L, D] on the device
    void *guide_mem;      // the guide's previous features [B, L, D'] on the device
} sampler;

static void sampler_free(sampler *s, seer_device dev, bool own_noise) {
    free(s->ids2);
    free(s->labels2);
    free(s->prev_masked);
    free(s->thresh);
    free(s->sampled);
    free(s->picked);
    if (own_noise) {
        free(s->u);
        free(s->gumbel);
    }
    free(s->rng);
    free(s->order);
    if (s->feat_mem) seer_device_free(dev, s->feat_mem);
    if (s->guide_mem) seer_device_free(dev, s->guide_mem);
}

// Scalar tensor (broadcasts) of dtype dt.
static seer_tensor *scalar(seer_ctx *c, seer_dtype dt, double v) {
    return seer_fill(c, seer_new(c, dt, 1, (int64_t[]){1}), v);
}

// Draw the masked positions' tokens from softmax(logp / temp) and read back the
// log-probability of every position's token. ids: this step's input [B * L];
// logp: [B, L, V] F32. Outputs to s->sampled, s->picked.
// A draw is torch 1.13's CPU multinomial (one sample, with replacement): float running sum
// divided by the total, the last entry forced to 1, the first index whose cumulative value is
// >= u; seer_sample_inverse_cdf does it where the distributions are (only the indices travel).
static seer_status sample_tokens(seer_ctx *c, sampler *s, const int64_t *ids,
                                 const seer_tensor *logp, float temp) {
    int64_t B = s->B, L = s->L, V = s->V;
    const seer_device dev = seer_ctx_device(c);
    seer_tensor *probs = seer_softmax(
        c, seer_binary(c, logp, scalar(c, SEER_F32, temp), SEER_BINARY_DIV), 1.0f, NULL);
    for (int64_t i = 0; i < B * L; i++)
        s->thresh[i] = ids[i] == V ? float_at_or_above(s->u[i]) : -1.0f;
    seer_tensor *u = seer_from_host(c, s->thresh, SEER_F32, 2, (int64_t[]){B, L});
    seer_tensor *drawn = seer_sample_inverse_cdf(c, probs, u); // [B, L]; -1 where not masked
    if (!drawn) return seer_ctx_status(c);
    seer_status st = seer_memcpy(SEER_DEVICE_CPU, s->sampled, dev, drawn->data,
                                 sizeof(int64_t) * (size_t)(B * L));
    if (st != SEER_STATUS_OK) return seer_ctx_fail(c, st, "ENAT sampler: %s", seer_last_error());
    for (int64_t i = 0; i < B * L; i++)
        if (ids[i] != V) s->sampled[i] = ids[i];
    seer_tensor *idx = seer_new(c, SEER_I64, 3, (int64_t[]){B, L, 1});
    if (!idx) return seer_ctx_status(c);
    st = seer_memcpy(dev, idx->data, SEER_DEVICE_CPU, s->sampled, sizeof(int64_t) * (size_t)(B * L));
    if (st != SEER_STATUS_OK) return seer_ctx_fail(c, st, "ENAT sampler: %s", seer_last_error());
    return seer_to_host(c, seer_gather(c, logp, 2, idx), s->picked); // [B, L, 1]
}

// Keep the sampled tokens except the n_mask least confident of each row, which go back to
// [MASK]. ids: [B * L] (in: this step's input, out: the next step's).
static void remask(sampler *s, int64_t *ids, double mask_noise_temp, int64_t n_mask) {
    int64_t L = s->L, V = s->V;
    for (int64_t b = 0; b < s->B; b++) {
        int64_t *row = ids + b * L;
        for (int64_t i = 0; i < L; i++) {
            scored *o = &s->order[i];
            o->pos = (int32_t)i;
            if (row[i] == V) {
                // confidence = log p(sampled) + temp * Gumbel, the noise rounded to float
                // as torch.Tensor(temperature * np.random.gumbel(...)) does
                float noise = (float)(mask_noise_temp * (double)s->gumbel[b * L + i]);
                o->conf = s->picked[b * L + i] + noise;
            } else {
                o->conf = INFINITY;
            }
            row[i] = s->sampled[b * L + i];
        }
        qsort(s->order, (size_t)L, sizeof *s->order, by_confidence);
        for (int64_t k = 0; k < n_mask && k < L; k++)
            row[s->order[k].pos] = V;
    }
}

// Copy this step's features out of the step's context into *mem (allocated the first time), for
// the next step's reuse.
static seer_status keep_features(seer_ctx *c, const seer_tensor *feat, void **mem,
                                 seer_tensor *prev_feat) {
    seer_device dev = seer_ctx_device(c);
    seer_tensor *fc = seer_contiguous(c, feat);
    if (!fc) return seer_ctx_status(c);
    size_t bytes = seer_tensor_nbytes(fc);
    if (!*mem && !(*mem = seer_device_malloc(dev, bytes))) return SEER_STATUS_OOM;
    SEER_TRY(seer_memcpy(dev, *mem, dev, fc->data, bytes));
    *prev_feat = seer_tensor_wrap(*mem, fc->dtype, dev, 3, fc->shape);
    return SEER_STATUS_OK;
}

// Keep this step's features [2B, L, D] (and the guide's [B, L, D']) and masking for the next
// step's reuse.
static seer_status keep_state(seer_ctx *c, sampler *s, const seer_tensor *feat,
                              seer_tensor *prev_feat, const seer_tensor *guide_feat,
                              seer_tensor *guide_prev) {
    SEER_TRY(keep_features(c, feat, &s->feat_mem, prev_feat));
    if (guide_feat) SEER_TRY(keep_features(c, guide_feat, &s->guide_mem, guide_prev));
    for (int64_t i = 0; i < 2 * s->B * s->L; i++)
        s->prev_masked[i] = s->ids2[i] == s->V;
    return SEER_STATUS_OK;
}

// A guide must predict the same tokens for the same classes, on the same device.
static seer_status check_guide(const seer_enat *m, const seer_enat *guide) {
    const seer_enat_config *g = seer_enat_get_config(m), *h = seer_enat_get_config(guide);
    if (h->codebook_size != g->codebook_size || h->grid != g->grid ||
        h->num_classes != g->num_classes)
        return seer_fail(SEER_STATUS_SHAPE,
                         "ENAT generate: the guide %s (%d codes, %d x %d tokens, %d classes) does "
                         "not match the generator %s (%d codes, %d x %d tokens, %d classes)",
                         seer_enat_name(guide), h->codebook_size, h->grid, h->grid,
                         h->num_classes, seer_enat_name(m), g->codebook_size, g->grid, g->grid,
                         g->num_classes);
    if (seer_enat_device(guide) != seer_enat_device(m))
        return seer_fail(SEER_STATUS_ARG, "ENAT generate: the guide is on another device");
    return SEER_STATUS_OK;
}

seer_status seer_enat_generate(seer_enat *m, seer_ctx *c, const int32_t *labels, int batch,
                               const seer_enat_sample_opts *o, int64_t *ids_out) {
    const seer_enat_config *g = seer_enat_get_config(m);
    if (batch < 1 || !labels || !o || o->steps < 1 || !ids_out || (!o->seeds && !o->token_noise) ||
        (!o->token_noise) != (!o->gumbel_noise))
        return seer_fail(SEER_STATUS_ARG,
                         "ENAT generate: give batch >= 1, labels, steps >= 1, an output "
                         "buffer, and seeds or both injected noise arrays");
    for (int b = 0; b < batch; b++)
        if (labels[b] < 0 || labels[b] > g->num_classes)
            return seer_fail(SEER_STATUS_ARG, "ENAT generate: class %d is outside [0, %d]",
                             labels[b], g->num_classes);
    seer_enat *guide = o->guide && o->guide_w != 0.0f ? o->guide : NULL;
    if (guide) SEER_TRY(check_guide(m, guide));
    seer_device dev = seer_ctx_device(c);
    sampler s = {
        .B = batch, .L = (int64_t)g->grid * g->grid, .V = g->codebook_size, .D = g->hidden};
    int64_t B = s.B, L = s.L, V = s.V;
    bool own_noise = !o->token_noise;
    s.ids2 = malloc(sizeof(int64_t) * (size_t)(2 * B * L));
    s.labels2 = malloc(sizeof(int32_t) * (size_t)(2 * B));
    s.prev_masked = malloc((size_t)(2 * B * L));
    s.thresh = malloc(sizeof(float) * (size_t)(B * L));
    s.sampled = malloc(sizeof(int64_t) * (size_t)(B * L));
    s.picked = malloc(sizeof(float) * (size_t)(B * L));
    if (own_noise) {
        s.u = malloc(sizeof(double) * (size_t)(B * L));
        s.gumbel = malloc(sizeof(float) * (size_t)(B * L));
    }
    s.rng = malloc(sizeof(uint64_t) * (size_t)B);
    s.order = malloc(sizeof(scored) * (size_t)L);
    if (!s.ids2 || !s.labels2 || !s.prev_masked || !s.thresh || !s.sampled || !s.picked ||
        (own_noise && (!s.u || !s.gumbel)) || !s.rng || !s.order) {
        sampler_free(&s, dev, own_noise);
        return seer_fail(SEER_STATUS_OOM, "ENAT generate: out of host memory");
    }
    for (int64_t b = 0; b < B; b++) {
        s.labels2[b] = labels[b];
        s.labels2[B + b] = g->num_classes; // the unconditional half
        if (o->seeds) s.rng[b] = o->seeds[b];
    }
    for (int64_t i = 0; i < B * L; i++)
        ids_out[i] = V; // all [MASK]

    seer_status st = SEER_STATUS_OK;
    double w = 0.0, wg = 0.0; // guidance of this step: cfg (guide_w) * step / steps
    seer_tensor prev_feat, guide_prev;
    for (int step = 0; step < o->steps && st == SEER_STATUS_OK; step++) {
        double ratio = (double)(step + 1) / o->steps;
        double mask_ratio = cos(ratio * M_PI * 0.5);
        double mask_noise_temp = (double)o->mask_temp * (1.0 - ratio);
        double samp_temp = fmax((double)o->samp_temp * (1.0 - ratio), 1e-3);
        seer_ctx_reset(c);

        // conditional and unconditional passes as one batch, each half with its own cache
        memcpy(s.ids2, ids_out, sizeof(int64_t) * (size_t)(B * L));
        memcpy(s.ids2 + B * L, ids_out, sizeof(int64_t) * (size_t)(B * L));
        seer_enat_input in = {.batch = (int)(2 * B),
                              .ids = s.ids2,
                              .labels = s.labels2,
                              .prev_feat = step ? &prev_feat : NULL,
                              .prev_masked = step ? s.prev_masked : NULL};
        seer_tensor *feat = NULL;
        seer_tensor *logits = seer_enat_forward(m, c, &in, &feat); // [2B, L, V]
        if (logits && logits->dtype != SEER_F32) logits = seer_to(c, logits, SEER_F32);
        seer_tensor *cond = seer_narrow(c, logits, 0, 0, B),
                    *uncond = seer_narrow(c, logits, 0, B, B);
        seer_tensor *guided =
            seer_add(c, cond, seer_scale(c, seer_sub(c, cond, uncond), (float)w, 0.0f));
        seer_tensor *guide_feat = NULL;
        if (guide) { // its own pass over the conditional half, with its own cache
            seer_enat_input gin = {.batch = (int)B,
                                   .ids = s.ids2,
                                   .labels = s.labels2,
                                   .prev_feat = step ? &guide_prev : NULL,
                                   .prev_masked = step ? s.prev_masked : NULL};
            seer_tensor *gl = seer_enat_forward(guide, c, &gin, &guide_feat); // [B, L, V]
            if (gl && gl->dtype != SEER_F32) gl = seer_to(c, gl, SEER_F32);
            guided = seer_add(c, guided, seer_scale(c, seer_sub(c, cond, gl), (float)wg, 0.0f));
        }
        seer_tensor *logp = seer_log_softmax(c, guided, 1.0f); // [B, L, V]

        // this step's noise
        if (own_noise) {
#pragma omp parallel for schedule(static)
            for (int64_t b = 0; b < B; b++)
                draw_noise(&s.rng[b], s.u + b * L, s.gumbel + b * L, L);
        } else {
            s.u = (double *)(o->token_noise + (size_t)step * (size_t)(B * L));
            s.gumbel = (float *)(o->gumbel_noise + (size_t)step * (size_t)(B * L));
        }
        st = seer_ctx_status(c) != SEER_STATUS_OK
                 ? seer_ctx_status(c)
                 : sample_tokens(c, &s, ids_out, logp, (float)samp_temp);
        if (st == SEER_STATUS_OK && step + 1 < o->steps)
            st = keep_state(c, &s, feat, &prev_feat, guide_feat, &guide_prev);
        if (st != SEER_STATUS_OK) break;
        remask(&s, ids_out, mask_noise_temp, (int64_t)floor((double)L * mask_ratio));
        w = ratio * (double)o->cfg;
        wg = ratio * (double)o->guide_w;
        if (o->on_step && o->on_step(step, o->steps, ids_out, batch, o->user))
            st = SEER_STATUS_CANCELLED;
    }
    if (st == SEER_STATUS_CANCELLED)
        seer_fail(st, "ENAT generate: cancelled");
    else if (st != SEER_STATUS_OK && seer_ctx_status(c) != SEER_STATUS_OK)
        seer_fail(st, "%s", seer_ctx_error(c));
    sampler_free(&s, dev, own_noise);
    return st;
}
