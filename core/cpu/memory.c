// CPU backend: host memory, strided copy with dtype conversion, fill.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu/cpu_kernels.h"

bool seer_cpu_available(void) { return true; }

void *seer_cpu_malloc(size_t bytes) {
    // 256-byte alignment, as cudaMalloc gives, so arena offsets align the same on both
    // backends; aligned_alloc wants a multiple of the alignment.
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!p) seer_fail(SEER_STATUS_OOM, "out of host memory allocating %zu bytes", bytes);
    return p;
}

void seer_cpu_free(void *p) { free(p); }

seer_status seer_cpu_upload(void *dst, const void *src_host, size_t bytes) {
    memcpy(dst, src_host, bytes);
    return SEER_STATUS_OK;
}

seer_status seer_cpu_download(void *dst_host, const void *src, size_t bytes) {
    memcpy(dst_host, src, bytes);
    return SEER_STATUS_OK;
}

seer_status seer_cpu_copy_d2d(void *dst, const void *src, size_t bytes) {
    memmove(dst, src, bytes);
    return SEER_STATUS_OK;
}

seer_status seer_cpu_sync(void) { return SEER_STATUS_OK; }

// Element i of a tensor of any dtype as a double (exact for every dtype but I64 > 2^53).
static double load_as_double(const void *base, seer_dtype dt, int64_t i) {
    switch (dt) {
    case SEER_F32: return ((const float *)base)[i];
    case SEER_F16: return seer_f16_to_f32(((const uint16_t *)base)[i]);
    case SEER_BF16: return seer_bf16_to_f32(((const uint16_t *)base)[i]);
    case SEER_I32: return ((const int32_t *)base)[i];
    case SEER_I64: return (double)((const int64_t *)base)[i];
    case SEER_U8: return ((const uint8_t *)base)[i];
    default: return 0;
    }
}

static void store_from_double(void *base, seer_dtype dt, int64_t i, double v) {
    switch (dt) {
    case SEER_F32: ((float *)base)[i] = (float)v; break;
    case SEER_F16: ((uint16_t *)base)[i] = seer_f32_to_f16((float)v); break;
    case SEER_BF16: ((uint16_t *)base)[i] = seer_f32_to_bf16((float)v); break;
    case SEER_I32: ((int32_t *)base)[i] = (int32_t)v; break;
    case SEER_I64: ((int64_t *)base)[i] = (int64_t)v; break;
    case SEER_U8: ((uint8_t *)base)[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5); break;
    default: break;
    }
}

// Offset (in elements) of the first element of row r of x, a row being the last dim.
static int64_t row_offset(const seer_tensor *x, int64_t r) {
    int64_t off = 0;
    for (int d = x->ndim - 2; d >= 0; d--) {
        int64_t n = x->shape[d];
        off += (r % n) * x->stride[d];
        r /= n;
    }
    return off;
}

// Same-dtype strided copy of one row of n elements (src step `step` elements).
static void copy_row(char *dst, const char *src, int64_t n, int64_t step, size_t es) {
    if (step == 1) {
        memcpy(dst, src, (size_t)n * es);
        return;
    }
    switch (es) {
    case 4:
        for (int64_t j = 0; j < n; j++) ((uint32_t *)dst)[j] = *(const uint32_t *)(src + j * step * 4);
        break;
    case 2:
        for (int64_t j = 0; j < n; j++) ((uint16_t *)dst)[j] = *(const uint16_t *)(src + j * step * 2);
        break;
    case 8:
        for (int64_t j = 0; j < n; j++) ((uint64_t *)dst)[j] = *(const uint64_t *)(src + j * step * 8);
        break;
    default:
        for (int64_t j = 0; j < n; j++) memcpy(dst + j * (int64_t)es, src + j * step * (int64_t)es, es);
    }
}

seer_status seer_cpu_copy(seer_tensor *out, const seer_tensor *x) {
    int64_t n = seer_tensor_numel(out);
    size_t es = seer_dtype_size(x->dtype);
    bool contig = seer_tensor_is_contiguous(x);
    if (n == 0) return SEER_STATUS_OK;
    if (contig && x->dtype == out->dtype) {
        memcpy(out->data, x->data, (size_t)n * es);
        return SEER_STATUS_OK;
    }
    // Row by row over the last dim: the div/mod walk happens once per row, not per element.
    const int64_t cols = x->ndim ? x->shape[x->ndim - 1] : 1, rows = n / cols;
    const int64_t step = x->ndim ? x->stride[x->ndim - 1] : 1;
    if (x->dtype == out->dtype) {
        const char *src = x->data;
        char *dst = out->data;
#pragma omp parallel for if (n > 65536)
        for (int64_t r = 0; r < rows; r++)
            copy_row(dst + r * cols * (int64_t)es, src + row_offset(x, r) * (int64_t)es, cols, step, es);
        return SEER_STATUS_OK;
    }
    if (x->dtype == SEER_I64 && out->dtype == SEER_I32) {
        // Range check so a bad index tensor does not silently wrap.
        for (int64_t r = 0; r < rows; r++) {
            const int64_t *row = (const int64_t *)x->data + row_offset(x, r);
            for (int64_t j = 0; j < cols; j++)
                if (row[j * step] < INT32_MIN || row[j * step] > INT32_MAX)
                    return seer_fail(SEER_STATUS_SHAPE, "copy: i64 value %lld does not fit i32",
                                     (long long)row[j * step]);
        }
    }
#pragma omp parallel for if (n > 65536)
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = row_offset(x, r);
        for (int64_t j = 0; j < cols; j++)
            store_from_double(out->data, out->dtype, r * cols + j,
                              load_as_double(x->data, x->dtype, base + j * step));
    }
    return SEER_STATUS_OK;
}

seer_status seer_cpu_fill(seer_tensor *out, double value) {
    int64_t n = seer_tensor_numel(out);
    if (out->dtype == SEER_F32) {
        float v = (float)value, *p = out->data;
        for (int64_t i = 0; i < n; i++) p[i] = v;
        return SEER_STATUS_OK;
    }
    for (int64_t i = 0; i < n; i++) store_from_double(out->data, out->dtype, i, value);
    return SEER_STATUS_OK;
}

// One buffer per thread, grown on demand and kept: kernels call this on every forward pass.
// A thread-specific key frees it when its thread ends (GUI workers come and go).
static _Thread_local void *scratch;
static _Thread_local size_t scratch_size;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_key_init(void) { pthread_key_create(&scratch_key, free); }

void *seer_cpu_scratch(size_t bytes) {
    if (bytes <= scratch_size) return scratch;
    pthread_once(&scratch_once, scratch_key_init);
    free(scratch);
    scratch_size = 0;
    scratch = seer_cpu_malloc(bytes);
    if (scratch) scratch_size = (bytes + 255) / 256 * 256;
    pthread_setspecific(scratch_key, scratch);
    return scratch;
}

seer_status seer_cpu_parallel_tasks(const char *op, int64_t tasks, size_t bytes,
                                    void (*task)(int64_t t, float *scratch, void *user),
                                    void *user) {
    bool oom = false;
#pragma omp parallel if (tasks > 1)
    {
        float *scratch = seer_cpu_scratch(bytes);
        if (!scratch) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tasks; t++)
            if (scratch) task(t, scratch, user);
    }
    if (oom) return seer_fail(SEER_STATUS_OOM, "cpu %s: out of host memory", op);
    return SEER_STATUS_OK;
}
