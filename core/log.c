// Thread-local error messages and the logging callback.
#include "core/status.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];

static seer_log_fn log_fn;
static void *log_user;
static seer_log_level log_min = SEER_LOG_WARN;

seer_status seer_fail(seer_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    return st;
}

seer_status seer_fail_context(seer_status st, const char *fmt, ...) {
    char old[sizeof err_msg];
    memcpy(old, err_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err_msg - 2) {
        size_t len = (size_t)n;
        err_msg[len++] = ':';
        err_msg[len++] = ' ';
        size_t room = sizeof err_msg - len - 1, old_len = strlen(old);
        memcpy(err_msg + len, old, old_len < room ? old_len : room);
        err_msg[len + (old_len < room ? old_len : room)] = '\0';
    }
    return st;
}

const char *seer_last_error(void) { return err_msg; }
void seer_clear_error(void) { err_msg[0] = '\0'; }

const char *seer_status_name(seer_status st) {
    switch (st) {
    case SEER_STATUS_OK: return "OK";
    case SEER_STATUS_IO: return "IO";
    case SEER_STATUS_FORMAT: return "FORMAT";
    case SEER_STATUS_SHAPE: return "SHAPE";
    case SEER_STATUS_OOM: return "OOM";
    case SEER_STATUS_DEVICE: return "DEVICE";
    case SEER_STATUS_UNSUPPORTED: return "UNSUPPORTED";
    case SEER_STATUS_ARG: return "ARG";
    case SEER_STATUS_NOT_FOUND: return "NOT_FOUND";
    case SEER_STATUS_CANCELLED: return "CANCELLED";
    }
    return "UNKNOWN";
}

void seer_log_set(seer_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void seer_log_set_level(seer_log_level min_level) { log_min = min_level; }

void seer_log(seer_log_level level, const char *fmt, ...) {
    if (level < log_min) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_fn) {
        log_fn(level, msg, log_user);
        return;
    }
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "seer %s: %s\n", names[level], msg);
}
