// Per-op wall-time profile, for finding where a forward pass spends its time on a device.
//
// SEER_PROFILE=1 in the environment turns it on: every op front then synchronizes the device
// when its kernel returns and charges the time since the previous op's return to "op output-
// shape" (so host work between two ops counts toward the second). At exit the totals go to
// stderr: by op, then the 40 largest op+shape rows. Synchronizing costs some microseconds per
// op, so profiled runs are slower; use it to rank ops, not to time a model.
#ifndef SEER_PROFILE_H
#define SEER_PROFILE_H

#include "core/ops.h"

// True when SEER_PROFILE is set to something other than "0" (read once).
bool seer_profile_enabled(void);
// Starts the clock without charging anything (call before a forward pass, so that work before
// it, such as uploading the input, is not charged to the first op).
void seer_profile_mark(void);
// Forgets the totals so far (call after warm-up passes).
void seer_profile_clear(void);
// Charges the time since the previous call to (op, out's shape); syncs c's device first.
void seer_profile_op(seer_ctx *c, const char *op, const seer_tensor *out);

#endif
