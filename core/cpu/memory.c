// CPU backend: host memory, strided copy with dtype conversion, fill.
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

// Offset (in elements) of the i-th element of x in row-major order.
static int64_t strided_offset(const seer_tensor *x, int64_t i) {
    int64_t off = 0;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int64_t n = x->shape[d];
        off += (i % n) * x->stride[d];
        i /= n;
    }
    return off;
}

seer_status seer_cpu_copy(seer_tensor *out, const seer_tensor *x) {
    int64_t n = seer_tensor_numel(out);
    size_t es = seer_dtype_size(x->dtype);
    bool contig = seer_tensor_is_contiguous(x);
    if (contig && x->dtype == out->dtype) {
        memcpy(out->data, x->data, (size_t)n * es);
        return SEER_STATUS_OK;
    }
    if (x->dtype == out->dtype) {
        // Same dtype, strided: copy element bytes.
        const char *src = x->data;
        char *dst = out->data;
#pragma omp parallel for if (n > 65536)
        for (int64_t i = 0; i < n; i++) memcpy(dst + i * es, src + strided_offset(x, i) * es, es);
        return SEER_STATUS_OK;
    }
    if (x->dtype == SEER_I64 && out->dtype == SEER_I32) {
        // Range check so a bad index tensor does not silently wrap.
        for (int64_t i = 0; i < n; i++) {
            int64_t v = ((const int64_t *)x->data)[strided_offset(x, i)];
            if (v < INT32_MIN || v > INT32_MAX)
                return seer_fail(SEER_STATUS_SHAPE, "copy: i64 value %lld does not fit i32",
                                 (long long)v);
        }
    }
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++)
        store_from_double(out->data, out->dtype, i,
                          load_as_double(x->data, x->dtype, contig ? i : strided_offset(x, i)));
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
static _Thread_local void *scratch;
static _Thread_local size_t scratch_size;

void *seer_cpu_scratch(size_t bytes) {
    if (bytes <= scratch_size) return scratch;
    free(scratch);
    scratch_size = 0;
    scratch = seer_cpu_malloc(bytes);
    if (scratch) scratch_size = (bytes + 255) / 256 * 256;
    return scratch;
}
