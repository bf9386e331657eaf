// VAN (Visual Attention Network, Guo et al. 2022): the four stage feature maps, for dense
// heads (Semantic FPN) built over the backbone.
#ifndef SEER_VAN_H
#define SEER_VAN_H

#include "backbones/model.h"

#ifdef __cplusplus
extern "C" {
#endif

// x: [B, H, W, 3] -> out[i]: [B, H_i, W_i, C_i], the output of stage i + 1 after its
// LayerNorm (strides 4, 8, 16, 32 in the presets; 2, 4, 8, 16 with seer.stem_stride = 2;
// H_1 = ceil(H / stem stride) then H_i = ceil(H_{i-1} / 2), as the overlapping patch
// embeddings pad; an even seer.stem_kernel gives H_1 = floor(H / stem stride) + 1). Returns out[3],
// or NULL (with the context's error) if m is not a VAN model or an op failed; out[] entries are
// then NULL from the failure on.
seer_tensor *seer_van_stages(seer_model *m, seer_ctx *c, const seer_tensor *x, seer_tensor *out[4]);

#ifdef __cplusplus
}
#endif

#endif
