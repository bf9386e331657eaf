// Per-op wall-time profile (see profile.h).
#include "core/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ops_common.h"

enum { MAX_ROWS = 1024, KEY_LEN = 96 };

typedef struct {
    char key[KEY_LEN];  // "op [shape]"
    size_t op_len;      // length of the op name at the start of key
    double seconds;
    long calls;
} profile_row;

static profile_row rows[MAX_ROWS];
static int n_rows;
static double last_mark;
static int enabled = -1;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_seconds(const void *a, const void *b) {
    double d = ((const profile_row *)b)->seconds - ((const profile_row *)a)->seconds;
    return (d > 0) - (d < 0);
}

static void report(void) {
    double total = 0;
    for (int i = 0; i < n_rows; i++) total += rows[i].seconds;
    if (total <= 0) return;
    // By op name: merge the rows of one op into a scratch table.
    static profile_row ops[MAX_ROWS];
    int n_ops = 0;
    for (int i = 0; i < n_rows; i++) {
        int j = 0;
        while (j < n_ops && !(ops[j].op_len == rows[i].op_len &&
                              memcmp(ops[j].key, rows[i].key, rows[i].op_len) == 0))
            j++;
        if (j == n_ops) {
            ops[n_ops] = rows[i];
            ops[n_ops].key[rows[i].op_len] = '\0';
            ops[n_ops].seconds = 0;
            ops[n_ops++].calls = 0;
        }
        ops[j].seconds += rows[i].seconds;
        ops[j].calls += rows[i].calls;
    }
    qsort(ops, (size_t)n_ops, sizeof ops[0], by_seconds);
    qsort(rows, (size_t)n_rows, sizeof rows[0], by_seconds);
    fprintf(stderr, "seer profile: %.3f s in ops\n%-24s %10s %8s %6s\n", total, "op", "ms", "calls",
            "share");
    for (int i = 0; i < n_ops; i++)
        fprintf(stderr, "%-24s %10.1f %8ld %5.1f%%\n", ops[i].key, 1e3 * ops[i].seconds,
                ops[i].calls, 100 * ops[i].seconds / total);
    fprintf(stderr, "%-56s %10s %8s %6s\n", "op [output shape]", "ms", "calls", "share");
    for (int i = 0; i < n_rows && i < 40; i++)
        fprintf(stderr, "%-56s %10.1f %8ld %5.1f%%\n", rows[i].key, 1e3 * rows[i].seconds,
                rows[i].calls, 100 * rows[i].seconds / total);
}

bool seer_profile_enabled(void) {
    if (enabled < 0) {
        const char *v = getenv("SEER_PROFILE");
        enabled = v && *v && strcmp(v, "0") != 0;
        if (enabled) atexit(report);
    }
    return enabled;
}

void seer_profile_mark(void) { last_mark = now_s(); }

void seer_profile_clear(void) { n_rows = 0; }

void seer_profile_op(seer_ctx *c, const char *op, const seer_tensor *out) {
    seer_op_backend(c)->sync();
    double t = now_s();
    if (last_mark > 0) {
        char key[KEY_LEN], shape[64];
        snprintf(key, sizeof key, "%s %s", op, out ? seer_tensor_shape_str(out, shape, sizeof shape) : "");
        int i = 0;
        while (i < n_rows && strcmp(rows[i].key, key) != 0) i++;
        if (i == n_rows && n_rows < MAX_ROWS) {
            rows[i].seconds = 0;  // a row reused after seer_profile_clear starts from nothing
            rows[i].calls = 0;
            snprintf(rows[i].key, KEY_LEN, "%s", key);
            rows[i].op_len = strlen(op) < KEY_LEN ? strlen(op) : KEY_LEN - 1;
            n_rows++;
        }
        if (i < n_rows) {
            rows[i].seconds += t - last_mark;
            rows[i].calls++;
        }
    }
    last_mark = t;
}
