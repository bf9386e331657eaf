// The one place the app meets the image generator (generate/enat.h) and its tokenizer
// (tokenizer/vqgan.h). Those APIs are young; keeping every call to them here means a change
// there is a change in one file. A build without them still compiles: gui_gen_built() is then
// false and every call says "generator not available in this build".
#ifndef GUI_GEN_ADAPTER_H
#define GUI_GEN_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/tensor.h"

typedef struct gui_gen gui_gen;

bool gui_gen_built(void);

typedef struct gui_gen_info {
    char name[64];      // "enat_l", "enat_tiny"
    int num_classes;
    int grid, side;     // tokens per side, pixels per side
    int steps;          // the model's sampler defaults
    float cfg, temp, mask_temp;
    char guide[64];     // the guide model it loaded with it ("" = none) and its weight
    float guide_w;
} gui_gen_info;

// Loads a generator and its tokenizer on dev and checks that they are a pair.
seer_status gui_gen_load(const char *gen_path, const char *tok_path, seer_device dev, seer_dtype dt,
                         gui_gen **out);
void gui_gen_free(gui_gen *g);  // NULL is fine
void gui_gen_get_info(const gui_gen *g, gui_gen_info *out);
size_t gui_gen_arena_bytes(const gui_gen *g);  // activation high-water of its contexts
// Device bytes of its weights, estimated from the files (the generator API has no counter):
// F32 files, matrices converted to the compute dtype.
size_t gui_gen_weights_bytes(const gui_gen *g);

typedef struct gui_gen_params {
    int class_id, count, steps;
    float cfg, temp, mask_temp;
    uint64_t seed;  // image i uses seed + i
} gui_gen_params;

// Called after every sampling step with the partial grids decoded to pixels (tokens still
// masked are drawn as a dark checkerboard). The callee owns the n images. Non-zero: stop.
typedef int (*gui_gen_step_fn)(int step, int steps, seer_image *partial, int n, void *user);

// Generates p->count images of p->class_id into out[0..count) (free each with seer_image_free).
// fn may be NULL (no per-step decoding); *cancel (may be NULL) stops the run after a step.
seer_status gui_gen_run(gui_gen *g, const gui_gen_params *p, gui_gen_step_fn fn, void *user,
                        volatile int *cancel, seer_image *out);

#endif
