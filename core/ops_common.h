// Helpers shared by the op fronts (core/ops_*.c). Internal to core/.
#ifndef SEER_OPS_COMMON_H
#define SEER_OPS_COMMON_H

#include "core/backend.h"

// Start of every op: returns NULL from the op if the context already failed or an input is
// NULL. Use: SEER_OP_BEGIN(c, "layer_norm", x) -- optional tensors are not listed.
#define SEER_OP_BEGIN(c, opname, ...)                                                  \
    do {                                                                               \
        if (seer_ctx_status(c) != SEER_STATUS_OK) return NULL;                         \
        const seer_tensor *seer_in_[] = {__VA_ARGS__};                                 \
        for (size_t seer_i_ = 0; seer_i_ < sizeof seer_in_ / sizeof *seer_in_; seer_i_++) { \
            if (!seer_in_[seer_i_]) {                                                  \
                seer_ctx_fail(c, SEER_STATUS_ARG, "%s: input %zu is NULL", opname, seer_i_); \
                return NULL;                                                           \
            }                                                                          \
            if (!seer_op_check_device(c, opname, seer_in_[seer_i_])) return NULL;      \
        }                                                                              \
    } while (0)

// The context's backend (never NULL: a context exists only for an available backend).
static inline const seer_backend *seer_op_backend(seer_ctx *c) {
    return seer_backend_get(seer_ctx_device(c));
}

// Fails the context and returns false if t is not on the context's device.
bool seer_op_check_device(seer_ctx *c, const char *op, const seer_tensor *t);
// Fails unless t is a float tensor of the context's compute family (F32/F16/BF16).
bool seer_op_check_float(seer_ctx *c, const char *op, const seer_tensor *t);
// Fails unless t is a 1-D F32 tensor of n elements (parameter vectors); NULL passes.
bool seer_op_check_param(seer_ctx *c, const char *op, const char *what, const seer_tensor *t,
                         int64_t n);
// Fails unless t is I32 or I64.
bool seer_op_check_index(seer_ctx *c, const char *op, const seer_tensor *t);
// Normalizes a possibly negative dim; fails if out of range.
bool seer_op_dim(seer_ctx *c, const char *op, const seer_tensor *t, int *dim);
// Returns t or a contiguous copy of it (NULL on failure, context failed).
const seer_tensor *seer_op_contig(seer_ctx *c, const seer_tensor *t);
// Runs a kernel's status into the context: returns out on OK, else NULL (context failed with
// the kernel's message prefixed by the op name).
seer_tensor *seer_op_finish(seer_ctx *c, const char *op, seer_status st, seer_tensor *out);

#endif
