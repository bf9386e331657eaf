// seer status codes, error messages and logging.
// Library functions return seer_status and leave a message (thread-local) that names the
// file, tensor or op and what was expected. Nothing here exits or aborts.
#ifndef SEER_STATUS_H
#define SEER_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum seer_status {
    SEER_STATUS_OK = 0,
    SEER_STATUS_IO,          // file missing, unreadable, short read/write
    SEER_STATUS_FORMAT,      // bytes are not what the format says (corrupt, truncated, bad JSON)
    SEER_STATUS_SHAPE,       // tensor shapes/dtypes do not fit the op or the model
    SEER_STATUS_OOM,         // host or device allocation failed
    SEER_STATUS_DEVICE,      // CUDA/cuBLAS/cuDNN error, or device not available
    SEER_STATUS_UNSUPPORTED, // valid request this build/backend cannot do
    SEER_STATUS_ARG,         // bad argument from the caller (k = 0, batch = 0, ...)
    SEER_STATUS_NOT_FOUND,   // named thing (tensor, model, class) does not exist
    SEER_STATUS_CANCELLED,   // stopped by the caller's cancel flag
} seer_status;

// Record `st` with a printf-style message and return `st` (so: `return seer_fail(...)`).
seer_status seer_fail(seer_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Prefix the current message with more context ("loading foo.safetensors: <old message>").
seer_status seer_fail_context(seer_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *seer_last_error(void);     // message of the last failure on this thread ("" if none)
void seer_clear_error(void);
const char *seer_status_name(seer_status st);  // "OK", "IO", "FORMAT", ...

typedef enum seer_log_level {
    SEER_LOG_DEBUG = 0,
    SEER_LOG_INFO,
    SEER_LOG_WARN,
    SEER_LOG_ERROR,
} seer_log_level;

typedef void (*seer_log_fn)(seer_log_level level, const char *msg, void *user);
// Route all library logging to `fn` (NULL restores the default: WARN and above to stderr).
void seer_log_set(seer_log_fn fn, void *user);
void seer_log_set_level(seer_log_level min_level);
void seer_log(seer_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SEER_TRY(expr)                                  \
    do {                                                \
        seer_status seer_try_st_ = (expr);              \
        if (seer_try_st_ != SEER_STATUS_OK) return seer_try_st_; \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
