// Models: the registry of architectures (named as their references name them), loading a
// weights file into a model on a device, and the forward pass.
#ifndef SEER_MODEL_H
#define SEER_MODEL_H

#include "core/ops.h"
#include "core/safetensors.h"
#include "core/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_model seer_model;
typedef struct seer_loader seer_loader;

// What a model's attention view shows (backbones/attention.c).
typedef struct seer_attention_info {
    const char *method; // "attention rollout", "sparse connectivity, last block", ...
    bool uses_query;    // the map depends on a picked query patch (qx, qy >= 0)
} seer_attention_info;

typedef struct seer_arch {
    const char *name;        // registry name: "resnet56", "volo_d1_224", ...
    const char *family;      // "resnet_cifar", "volo", ...
    int num_classes;
    int img_size;            // square input side the preset evaluates at
    const char *preprocess;  // preset string (vision/preprocess.h) used unless overridden
    const char *labels;      // label set: "cifar10", "imagenet"
    const void *config;      // family-specific preset
    // Reads the weights through the loader and builds m->impl.
    seer_status (*load)(seer_model *m, seer_loader *l);
    // x: [B, H, W, 3] in the model's dtype on its device -> logits [B, num_classes].
    seer_tensor *(*forward)(seer_model *m, seer_ctx *c, const seer_tensor *x);
    // Optional: pooled penultimate features [B, F] (FID feature extractors use them).
    seer_tensor *(*features)(seer_model *m, seer_ctx *c, const seer_tensor *x);
    // Optional: the attention view (see seer_model_attention). info may be called on any
    // loaded model of the family and says false when this one has none (a VOLO without
    // class attention).
    bool (*attention_info)(const seer_model *m, seer_attention_info *out);
    seer_tensor *(*attention)(seer_model *m, seer_ctx *c, const seer_tensor *x, float qx, float qy);
    void (*free_impl)(void *impl);
} seer_arch;

struct seer_model {
    const seer_arch *arch;
    seer_device device;
    seer_dtype dtype;       // compute dtype of activations and matrix weights
    seer_weights *weights;  // device tensors; 1-D parameters stay F32
    void *impl;             // the family's own structure (layers, shapes)
    char preprocess[256];   // preset string: metadata seer.preprocess or the arch's
    char path[512];
    // Classes of this file's head: metadata seer.num_classes, else the arch's. Label set
    // (assets/labels/<set>.txt or built in): metadata seer.labels, else the arch's when the
    // class count is the arch's, "cifar10" for 10 classes, else "" (classes by number).
    int num_classes;
    char labels[32];
};

const seer_arch *seer_arch_find(const char *name);
int seer_arch_count(void);
const seer_arch *seer_arch_at(int i);

// Load a weights file. arch_name (may be NULL) overrides the file's seer.arch metadata; a
// plain timm/official file without metadata needs it. dtype: F32, or F16/BF16 on CUDA.
seer_status seer_model_load(const char *path, const char *arch_name, seer_device dev,
                            seer_dtype dtype, seer_model **out);
void seer_model_free(seer_model *m);
seer_tensor *seer_model_forward(seer_model *m, seer_ctx *c, const seer_tensor *x);
seer_tensor *seer_model_features(seer_model *m, seer_ctx *c, const seer_tensor *x);

// The attention view: where the model looks for x [B, H, W, 3]. Returns F32 [B, h, w] on the
// context's device, >= 0, in the model's own units (rollout weights, fraction of kept keys,
// mean |LKA|, ...; vision/attention.h normalises it for display) on the model's token grid.
// qx, qy in [0, 1): a query point as fractions of the input's width and height, for the models
// whose map depends on a query (info.uses_query); negative: none (the class token's view, or
// the map over all queries). NULL with the context's error UNSUPPORTED for models without one.
bool seer_model_attention_info(const seer_model *m, seer_attention_info *out);
seer_tensor *seer_model_attention(seer_model *m, seer_ctx *c, const seer_tensor *x, float qx,
                                  float qy);

// ---- for model families: reading weights -----------------------------------------------------
// A family whose config text names the head's class count (seer.config num_classes, as older
// files and the golden fixtures do) reconciles it with m->num_classes: metadata
// seer.num_classes, when present, must agree; otherwise the config's count is taken (and the
// label set chosen for it). n <= 0: the config does not name it (nothing changes).
seer_status seer_model_config_classes(seer_model *m, seer_loader *l, int n);
// A loader tracks which tensors of the file the model used, so that a file of another
// architecture is refused with the first tensor that does not fit, by name.
const seer_st_file *seer_loader_file(seer_loader *l);
// A tensor of exactly `shape`, uploaded as the model's dtype (1-D: F32). NULL + message.
seer_tensor *seer_load_tensor(seer_loader *l, seer_model *m, const char *name, int ndim,
                              const int64_t *shape);
// Same, read as F32 into host memory the caller frees (for load-time transforms).
float *seer_load_host(seer_loader *l, const char *name, int ndim, const int64_t *shape);
// A conv weight [c_out, c_in/groups, k, k] (PyTorch OIHW) uploaded as OHWI.
seer_tensor *seer_load_conv(seer_loader *l, seer_model *m, const char *name, int64_t c_out,
                            int64_t c_in_per_group, int64_t kh, int64_t kw);
// A conv followed by BatchNorm2d `bn` (weight, bias, running_mean, running_var): the BN is
// folded into the conv at load time, and so is the conv's own bias when the file has one
// (`conv` ends in ".weight" and "<prefix>.bias" exists). Outputs the OHWI weight and F32 bias.
seer_status seer_load_conv_bn(seer_loader *l, seer_model *m, const char *conv, const char *bn,
                              int64_t c_out, int64_t c_in_per_group, int64_t kh, int64_t kw,
                              float eps, seer_tensor **w, seer_tensor **b);
// The attention view's query point (fractions of the input, see seer_model_attention) as a cell
// of a gh x gw token grid, row-major; -1 when there is none (qx or qy negative).
int seer_attention_query_cell(float qx, float qy, int gh, int gw);
// A "%s.%s"-style name in a buffer owned by the loader (valid until the load ends).
const char *seer_loader_name(seer_loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
