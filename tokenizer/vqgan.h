// VQ tokenizer: the VQGAN of MaskGIT / MAGE / ENAT (taming's Encoder, VectorQuantizer2 and
// Decoder with the JAX-port settings of vq-f16-jax.yaml): images in [0, 1] <-> a grid of
// codebook ids, one id per f x f patch (f = 2^(levels - 1), 16 for the released tokenizer).
//
// Architecture (from the reference code, taming/modules/diffusionmodules/model.py):
// - ResnetBlock: GroupNorm(32, eps 1e-6) -> swish -> conv3x3 (no bias) -> GroupNorm -> swish
//   -> conv3x3 (no bias); when the channel count changes, the block returns
//   h + nin_shortcut(h): the 1x1 shortcut (out -> out channels) is applied to the residual
//   branch h, and the block input is dropped (as the reference code does).
// - Encoder: conv_in (no bias), per level num_res_blocks blocks then a parameter-free 2x2 average
//   pool (all levels but the last), two middle blocks, GroupNorm, swish, 1x1 conv_out to
//   z_channels. No attention blocks (attn_resolutions is ignored by this code).
// - Quantizer: no quant_conv; argmin over the codebook of |z|^2 + |e|^2 - 2 z.e (ties: lowest id).
// - Decoder: conv_in 3x3, two middle blocks, per level (coarsest first) num_res_blocks blocks and
//   nearest-2x upsampling followed by a 3x3 conv (all levels but the finest), GroupNorm, swish,
//   conv_out 3x3. The decoded image is clamped to [0, 1] (ENAT's sampler clamps it).
//
// Weights: the official state_dict keys (encoder.*, decoder.*, quantize.embedding.weight).
// Config: the preset named by the file's seer.arch metadata ("vq-f16-jax" when absent; another
// name starting with "vq", e.g. "vqgan", starts from vq-f16-jax's values), overridden by the keys
// vqgan.ch, vqgan.ch_mult ("1,1,2,2,4"), vqgan.num_res_blocks, vqgan.z_channels, vqgan.n_embed,
// vqgan.embed_dim, vqgan.in_channels, vqgan.out_ch, vqgan.resolution (the image side the
// tokenizer was trained at: what `seer tokenize` feeds it unless told otherwise).
//
// Memory: encode/decode run block by block in two scratch contexts owned by the tokenizer (each
// block's temporaries are freed two blocks later), so a 256 x 256 image needs a few hundred MB
// instead of the whole graph's activations. A seer_vqgan is used by one thread at a time.
#ifndef SEER_VQGAN_H
#define SEER_VQGAN_H

#include "core/image.h"
#include "core/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEER_VQGAN_MAX_LEVELS 8

typedef struct seer_vqgan_config {
    int in_channels, out_ch;
    int ch;       // base width
    int n_levels; // len(ch_mult)
    int ch_mult[SEER_VQGAN_MAX_LEVELS];
    int num_res_blocks;
    int z_channels;
    int n_embed, embed_dim; // codebook: n_embed x embed_dim (= z_channels)
    int resolution;         // training image side (a multiple of the factor): the CLI's default
} seer_vqgan_config;

// Named presets: "vq-f16-jax" (ch 128, ch_mult 1,1,2,2,4, 2 blocks, z 256, codebook 1024 x 256,
// 256 x 256 images).
seer_status seer_vqgan_preset(const char *name, seer_vqgan_config *out);

typedef struct seer_vqgan seer_vqgan;

// Load a tokenizer file on `dev` computing in `dt` (F32; F16/BF16 on CUDA).
seer_status seer_vqgan_load(const char *path, seer_device dev, seer_dtype dt, seer_vqgan **out);
void seer_vqgan_free(seer_vqgan *v); // NULL is fine
const seer_vqgan_config *seer_vqgan_get_config(const seer_vqgan *v);
int seer_vqgan_factor(const seer_vqgan *v); // pixels per token side: 2^(n_levels - 1)

// x: [B, H, W, in_channels] in [0, 1] (H, W multiples of the factor) -> token ids [B, h, w]
// I64 in c. latents (may be NULL) receives the encoder output before quantization
// [B, h, w, z_channels] (in c).
seer_tensor *seer_vqgan_encode(seer_vqgan *v, seer_ctx *c, const seer_tensor *x,
                               seer_tensor **latents);
// Nearest codebook entry of each latent vector: z [B, h, w, embed_dim] -> ids [B, h, w] I64.
seer_tensor *seer_vqgan_quantize(seer_vqgan *v, seer_ctx *c, const seer_tensor *z);
// Codebook lookup: ids [B, h, w] (I32/I64) -> [B, h, w, embed_dim].
seer_tensor *seer_vqgan_embed(seer_vqgan *v, seer_ctx *c, const seer_tensor *ids);
// Decoder output without clamping: zq [B, h, w, embed_dim] -> [B, H, W, out_ch].
seer_tensor *seer_vqgan_decode_latents(seer_vqgan *v, seer_ctx *c, const seer_tensor *zq);
// ids [B, h, w] -> images [B, H, W, out_ch] clamped to [0, 1].
seer_tensor *seer_vqgan_decode(seer_vqgan *v, seer_ctx *c, const seer_tensor *ids);

// Decoded images [B, H, W, 3] (any float dtype, any device) -> B 8-bit RGB images
// (round(255 x), as torchvision's save_image). out[0..B) are filled; free each with
// seer_image_free. On failure nothing is left allocated.
seer_status seer_vqgan_to_images(seer_ctx *c, const seer_tensor *x, seer_image *out);

#ifdef __cplusplus
}
#endif

#endif
