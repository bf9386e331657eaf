// ENAT (Ni et al., NeurIPS 2024): a non-autoregressive token generator that encodes the visible
// tokens on their own, decodes the [MASK] tokens against them, and reuses the previous step's
// features; plus its MaskGIT-style sampler (ENAT's libs/nat_misc.py NATSchedule.generate).
//
// The network (ENAT's libs/models.py `DiT`, weight names as its state_dict):
// - x_embedder (BERT embeddings): word_embeddings [V + 1, D] ([MASK] = V = codebook size) +
//   position_embeddings [L, D], then LayerNorm (eps 1e-6).
// - y_embedder.embedding_table [num_classes + 1, D]: class embedding, the last row is the null
//   class used for classifier-free guidance. It conditions every block through adaLN:
//   adaLN_modulation = SiLU -> Linear(D, 8 D), chunked into shift/scale of the queries (msa),
//   shift/scale of the context tokens (msa_), the attention gate, shift/scale/gate of the MLP.
// - Blocks (depth_enc + depth_dec): x += gate * attn(modulate(LN(x)), context); x += gate *
//   mlp(modulate(LN(x))), LayerNorms without affine (eps 1e-6), MLP 4 D with tanh-GELU.
//   Attention: queries from the block's own tokens; keys/values from [context, own tokens],
//   through two projections: attn.kv.A for the context tokens (normalized by norm1_ and
//   modulated by shift/scale_msa_), attn.kv.B for the own tokens.
// - Encoder blocks see the visible tokens only; with a previous step, only the newly revealed
//   tokens run through them, with the previous step's features of the old visible tokens
//   (through prev_proj: LayerNorm + MLP + residual) as context at every encoder block; those
//   projected features also stand in for the old visible tokens afterwards.
// - Decoder blocks: the [MASK] tokens query [visible, masked].
// - Head: LayerNorm (eps 1e-5) -> mlm_layer (Linear, erf-GELU, LayerNorm eps 1e-5) -> logits
//   against the word embeddings (tied) + mlm_layer.bias, keeping the first V.
// - prev_embedder.* is in the checkpoints but unused by the forward pass: accepted, not loaded.
//
// Config: the preset named by seer.arch ("enat_l": ImageNet 256, "enat_l_512"; another name
// starting with "enat" starts from enat_l's values), overridden by metadata enat.hidden_size,
// enat.num_heads, enat.depth_enc, enat.depth_dec, enat.codebook_size, enat.num_classes, enat.grid
// (latent side; L = grid^2), enat.steps, enat.cfg, enat.mask_temp, enat.samp_temp, and the
// sampler's optional guide: enat.guide (the guide's weights name) and enat.guide_w. A file
// without seer.arch is read as enat_l.
//
// Memory: a forward runs block by block in two scratch contexts owned by the model, so the
// caller's context keeps only the embeddings, the context tokens and the outputs. One thread
// at a time per model.
#ifndef SEER_ENAT_H
#define SEER_ENAT_H

#include <stdint.h>

#include "core/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_enat_config {
    int hidden, heads, depth_enc, depth_dec;
    int codebook_size; // V; the [MASK] id is V
    int num_classes;   // the null (unconditional) class id is num_classes
    int grid;          // tokens per side; L = grid^2
    // sampler defaults of the preset (ENAT's evaluation settings)
    int steps;
    float cfg, mask_temp, samp_temp;
    // the file's own guide model (autoguidance, below): weights name ("" = none) and weight
    char guide[64];
    float guide_w;
} seer_enat_config;

seer_status seer_enat_preset(const char *name, seer_enat_config *out);

typedef struct seer_enat seer_enat;

seer_status seer_enat_load(const char *path, seer_device dev, seer_dtype dt, seer_enat **out);
void seer_enat_free(seer_enat *m); // NULL is fine
const seer_enat_config *seer_enat_get_config(const seer_enat *m);
const char *seer_enat_name(const seer_enat *m); // the file's seer.arch, or "enat_l"
seer_device seer_enat_device(const seer_enat *m);
// <the folder of gen_path>/<name>.safetensors in buf if that file exists (a generator's guide
// is looked for next to it first), else NULL.
const char *seer_enat_guide_path(const char *gen_path, const char *name, char *buf, size_t n);

// One forward pass (DiT.forward with return_dict).
typedef struct seer_enat_input {
    int batch;             // B
    const int64_t *ids;    // host [B * L]: token ids, codebook_size = [MASK]
    const int32_t *labels; // host [B]: class ids, num_classes = unconditional
    // The previous step (computation reuse), or NULL / NULL for a plain forward:
    const seer_tensor *prev_feat; // [B, L, D] features of the previous call (feat_out)
    const uint8_t *prev_masked;   // host [B * L]: positions masked in the previous call's ids
} seer_enat_input;

// Returns logits [B, L, V] (in c); *feat_out (may be NULL) gets the features [B, L, D] (in c)
// to pass as prev_feat next time. Every row must have the same number of masked tokens, and
// with a previous step every masked position must have been masked then (as the reference
// asserts); otherwise SEER_STATUS_ARG.
seer_tensor *seer_enat_forward(seer_enat *m, seer_ctx *c, const seer_enat_input *in,
                               seer_tensor **feat_out);

// ---- sampling (generate/enat_sampler.c) ----------------------------------------------------
// NATSchedule.generate: start from all [MASK]; at step s of T (ratio r = (s + 1) / T):
//   logits = cond + w (cond - uncond) + w_g (cond - guide), w = cfg * s / T and
//   w_g = guide_w * s / T (both 0 at the first step), guide = the conditional logits of a
//   weaker model over the same tokens (autoguidance: Karras et al., "Guiding a diffusion model
//   with a bad version of itself", 2024; the term is left out without a guide or at guide_w 0);
//   logp = log_softmax(logits); each masked position draws a token from
//   p = softmax(logp / max(samp_temp (1 - r), 1e-3)) by inverting its cumulative distribution
//   with one uniform u (torch 1.13's CPU multinomial: float running sum, divided by the total,
//   last entry set to 1, first index whose value is >= u); confidence = logp[token] +
//   mask_temp (1 - r) g, g ~ Gumbel(0, 1), +inf for visible tokens; the floor(L cos(pi r / 2))
//   least confident positions go back to [MASK]. The result is the last step's tokens.
// Conditional and unconditional passes run as one batch of 2 B, each half with its own cache;
// the guide runs the conditional batch with its own cache.
//
// Randomness: image i draws from its own splitmix64 stream seeded with seeds[i]: per step, L
// uniforms for the tokens, then L uniforms turned into Gumbels (g = -log(-log(u))), each
// u = (k + 0.5) / 2^53 from the top 53 bits k of one 64-bit output, positions in raster order.
// So an image depends only on its seed, class and settings, not on the batch it ran in (up to
// floating-point differences between batch sizes and backends).

// Called after every step with the token grid (host [B * L], [MASK] where still masked).
// Return non-zero to stop (status CANCELLED).
typedef int (*seer_enat_step_fn)(int step, int steps, const int64_t *ids, int batch, void *user);

typedef struct seer_enat_sample_opts {
    int steps; // T (>= 1)
    float cfg, mask_temp, samp_temp;
    seer_enat *guide;      // NULL: no guide; else the same codebook, grid and classes, same device
    float guide_w;         // its weight (ignored without a guide)
    const uint64_t *seeds; // [B] per-image seeds (ignored with injected noise)
    // Injected noise (tests: the reference's own draws), or NULL to draw from the seeds:
    const double *token_noise; // [T, B, L] uniforms in [0, 1) of the token draws
    const float *gumbel_noise; // [T, B, L] Gumbel(0, 1) draws of the confidence
    seer_enat_step_fn on_step; // may be NULL
    void *user;
} seer_enat_sample_opts;

// Generate token grids for B class labels (host [B], num_classes = unconditional); ids_out:
// host [B * L]. c (on the model's device) is reset at the start of every step: it holds one
// step's activations, and whatever the caller had in it is gone.
seer_status seer_enat_generate(seer_enat *m, seer_ctx *c, const int32_t *labels, int batch,
                               const seer_enat_sample_opts *o, int64_t *ids_out);

#ifdef __cplusplus
}
#endif

#endif
