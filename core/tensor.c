// Tensor descriptors: dtypes, shapes, views, half-precision conversion.
#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

size_t seer_dtype_size(seer_dtype dt) {
    static const size_t sizes[SEER_DTYPE_COUNT] = {4, 2, 2, 4, 8, 1, 1};
    return (unsigned)dt < SEER_DTYPE_COUNT ? sizes[dt] : 0;
}

const char *seer_dtype_name(seer_dtype dt) {
    static const char *names[SEER_DTYPE_COUNT] = {"f32", "f16", "bf16", "i32", "i64", "u8", "i8"};
    return (unsigned)dt < SEER_DTYPE_COUNT ? names[dt] : "?";
}

bool seer_dtype_is_float(seer_dtype dt) {
    return dt == SEER_F32 || dt == SEER_F16 || dt == SEER_BF16;
}

bool seer_dtype_is_tensor(seer_dtype dt) {
    return (unsigned)dt < SEER_DTYPE_COUNT && dt != SEER_I8;
}

const char *seer_device_name(seer_device dev) {
    return dev == SEER_DEVICE_CPU ? "cpu" : dev == SEER_DEVICE_CUDA ? "cuda" : "?";
}

int64_t seer_tensor_numel(const seer_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t seer_tensor_nbytes(const seer_tensor *t) {
    return (size_t)seer_tensor_numel(t) * seer_dtype_size(t->dtype);
}

bool seer_tensor_is_contiguous(const seer_tensor *t) {
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) return false;
        expect *= t->shape[i];
    }
    return true;
}

bool seer_tensor_same_shape(const seer_tensor *a, const seer_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *seer_tensor_shape_str(const seer_tensor *t, char *buf, size_t n) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "[");
    for (int i = 0; i < t->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (off < n) snprintf(buf + off, n - off, "] %s", seer_dtype_name(t->dtype));
    return buf;
}

static void set_contiguous_strides(seer_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

seer_tensor seer_tensor_wrap(void *data, seer_dtype dt, seer_device dev, int ndim,
                             const int64_t *shape) {
    seer_tensor t = {.dtype = dt, .device = dev, .ndim = ndim, .data = data};
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    set_contiguous_strides(&t);
    return t;
}

seer_status seer_view_reshape(const seer_tensor *x, int ndim, const int64_t *shape,
                              seer_tensor *out) {
    char buf[128];
    if (ndim < 0 || ndim > SEER_MAX_DIMS)
        return seer_fail(SEER_STATUS_SHAPE, "reshape: %d dims (at most %d)", ndim, SEER_MAX_DIMS);
    if (!seer_tensor_is_contiguous(x))
        return seer_fail(SEER_STATUS_SHAPE, "reshape: tensor %s is not contiguous",
                         seer_tensor_shape_str(x, buf, sizeof buf));
    int64_t known = 1, n = seer_tensor_numel(x);
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0) return seer_fail(SEER_STATUS_SHAPE, "reshape: more than one -1");
            infer = i;
        } else if (shape[i] < 0) {
            return seer_fail(SEER_STATUS_SHAPE, "reshape: negative size %lld", (long long)shape[i]);
        } else {
            known *= shape[i];
        }
    }
    seer_tensor t = *x;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    if (infer >= 0) {
        if (known == 0 || n % known)
            return seer_fail(SEER_STATUS_SHAPE, "reshape: %lld elements of %s do not fit",
                             (long long)n, seer_tensor_shape_str(x, buf, sizeof buf));
        t.shape[infer] = n / known;
        known = n;
    }
    if (known != n)
        return seer_fail(SEER_STATUS_SHAPE, "reshape: %s has %lld elements, new shape %lld",
                         seer_tensor_shape_str(x, buf, sizeof buf), (long long)n, (long long)known);
    set_contiguous_strides(&t);
    *out = t;
    return SEER_STATUS_OK;
}

seer_status seer_view_narrow(const seer_tensor *x, int dim, int64_t start, int64_t len,
                             seer_tensor *out) {
    if (dim < 0) dim += x->ndim;
    if (dim < 0 || dim >= x->ndim)
        return seer_fail(SEER_STATUS_SHAPE, "narrow: dim %d of a %d-d tensor", dim, x->ndim);
    if (start < 0 || len < 0 || start + len > x->shape[dim])
        return seer_fail(SEER_STATUS_SHAPE, "narrow: [%lld, %lld) outside dim %d of size %lld",
                         (long long)start, (long long)(start + len), dim,
                         (long long)x->shape[dim]);
    seer_tensor t = *x;
    t.shape[dim] = len;
    t.data = (char *)x->data + start * x->stride[dim] * (int64_t)seer_dtype_size(x->dtype);
    *out = t;
    return SEER_STATUS_OK;
}

seer_status seer_view_permute(const seer_tensor *x, const int *perm, seer_tensor *out) {
    int seen[SEER_MAX_DIMS] = {0};
    seer_tensor t = *x;
    for (int i = 0; i < x->ndim; i++) {
        int p = perm[i];
        if (p < 0 || p >= x->ndim || seen[p])
            return seer_fail(SEER_STATUS_SHAPE, "permute: bad permutation for %d dims", x->ndim);
        seen[p] = 1;
        t.shape[i] = x->shape[p];
        t.stride[i] = x->stride[p];
    }
    *out = t;
    return SEER_STATUS_OK;
}

// ---- half precision ------------------------------------------------------------------------

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float seer_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t seer_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float seer_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);
        // subnormal: value = mant * 2^-24
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t seer_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);      // NaN
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);     // overflow -> inf
    if (a < 0x38800000u) {                                        // subnormal or zero
        // round(value * 2^24) with ties to even, via float arithmetic on the magnitude
        float v = bits_f32(a) * 16777216.0f;
        uint32_t m = (uint32_t)v;
        float frac = v - (float)m;
        if (frac > 0.5f || (frac == 0.5f && (m & 1u))) m++;
        return (uint16_t)(sign | m);
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);  // round to nearest even at bit 13
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}
