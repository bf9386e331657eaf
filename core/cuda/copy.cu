// CUDA backend: strided copy with dtype conversion, and fill.
// Conversions follow the CPU backend exactly (core/cpu/memory.c): through float between
// float dtypes, otherwise through double; float -> int truncates, -> u8 clamps to [0, 255]
// and rounds half up; i64 -> i32 fails if a value does not fit.
#include "core/cuda/index32.cuh"

// Set by the i64 -> i32 conversion when a value is out of range.
__device__ int seer_cu_copy_overflow;

// out (contiguous) = x (strided), same dtype: elements moved as raw words of U's size.
template <typename U>
__global__ void copy_same_kernel(U *out, const U *x, seer_cu_dims xd, int64_t n) {
    SEER_CU_FOR(i, n) out[i] = x[seer_cu_offset(xd, i)];
}

// The same with 32-bit index math (count and offsets below 2^31).
template <typename U>
__global__ void copy_same_kernel32(U *out, const U *x, seer_cu_index32<1> ix, uint32_t n) {
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        uint32_t off[1];
        ix.offsets(i, off);
        out[i] = x[off[0]];
    }
}

template <typename U>
static void launch_copy_same(void *out, const void *x, int nd, const int64_t *shape,
                             const int64_t (*strides)[SEER_MAX_DIMS], int64_t n) {
    seer_cu_index32<1> ix;
    if (seer_cu_index32_make<1>(&ix, nd, shape, strides)) {
        copy_same_kernel32<U><<<seer_cu_blocks(n), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (U *)out, (const U *)x, ix, (uint32_t)n);
    } else {
        copy_same_kernel<U><<<seer_cu_blocks(n), SEER_CU_THREADS, 0, seer_cu_stream()>>>(
            (U *)out, (const U *)x, seer_cu_make_dims(nd, shape, strides[0]), n);
    }
}

// The widest word (16, 8, 4 or 2 bytes, else es) that a same-dtype copy can move at a time:
// the innermost dim is at unit stride and its bytes, every other stride's bytes and both
// pointers are multiples of it. Rescales shape, strides and n to that word.
static size_t widen_words(int nd, int64_t *shape, int64_t (*strides)[SEER_MAX_DIMS], int64_t *n,
                          size_t es, const void *out, const void *x) {
    if (strides[0][nd - 1] != 1) return es;
    for (size_t w = 16; w > es; w /= 2) {
        bool ok = (uintptr_t)out % w == 0 && (uintptr_t)x % w == 0 &&
                  ((size_t)shape[nd - 1] * es) % w == 0;
        for (int k = 0; k < nd - 1 && ok; k++)
            ok = ((size_t)strides[0][k] * es) % w == 0;
        if (!ok) continue;
        const int64_t f = (int64_t)(w / es);
        shape[nd - 1] /= f;
        for (int k = 0; k < nd - 1; k++)
            strides[0][k] /= f;
        *n /= f;
        return w;
    }
    return es;
}

__device__ __forceinline__ double load_as_double(const void *p, seer_dtype dt, int64_t i) {
    switch (dt) {
    case SEER_F32: return ((const float *)p)[i];
    case SEER_F16: return __half2float(((const __half *)p)[i]);
    case SEER_BF16: return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    case SEER_I32: return ((const int32_t *)p)[i];
    case SEER_I64: return (double)((const int64_t *)p)[i];
    case SEER_U8: return ((const uint8_t *)p)[i];
    default: return 0;
    }
}

__device__ __forceinline__ void store_from_double(void *p, seer_dtype dt, int64_t i, double v) {
    switch (dt) {
    case SEER_F32: ((float *)p)[i] = (float)v; break;
    case SEER_F16: ((__half *)p)[i] = __float2half_rn((float)v); break;
    case SEER_BF16: ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn((float)v); break;
    case SEER_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case SEER_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    case SEER_U8: ((uint8_t *)p)[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5); break;
    default: break;
    }
}

// Float dtype to float dtype: float is exact for every source, so no double round trip.
// kContig: x is contiguous too (a dtype change only), no index math.
template <bool kContig>
__global__ void copy_float_kernel(void *out, seer_dtype odt, const void *x, seer_dtype xdt,
                                  seer_cu_dims xd, int64_t n) {
    SEER_CU_FOR(i, n) {
        float v = seer_cu_load_any(x, xdt, kContig ? i : seer_cu_offset(xd, i));
        if (odt == SEER_F32)
            ((float *)out)[i] = v;
        else if (odt == SEER_F16)
            ((__half *)out)[i] = __float2half_rn(v);
        else
            ((__nv_bfloat16 *)out)[i] = __float2bfloat16_rn(v);
    }
}

__global__ void copy_convert_kernel(void *out, seer_dtype odt, const void *x, seer_dtype xdt,
                                    seer_cu_dims xd, int64_t n) {
    SEER_CU_FOR(i, n) {
        int64_t off = seer_cu_offset(xd, i);
        if (xdt == SEER_I64 && odt == SEER_I32) {
            int64_t v = ((const int64_t *)x)[off];
            if (v < INT32_MIN || v > INT32_MAX) seer_cu_copy_overflow = 1;
            ((int32_t *)out)[i] = (int32_t)v;
            continue;
        }
        store_from_double(out, odt, i, load_as_double(x, xdt, off));
    }
}

seer_status seer_cuda_copy(seer_tensor *out, const seer_tensor *x) {
    char bo[128], bx[128];
    if (!seer_tensor_same_shape(out, x))
        return seer_fail(SEER_STATUS_SHAPE, "copy (cuda): shapes differ: out %s, x %s",
                         seer_tensor_shape_str(out, bo, sizeof bo),
                         seer_tensor_shape_str(x, bx, sizeof bx));
    SEER_TRY(seer_cu_need_contig("copy", "out", out));
    int64_t n = seer_tensor_numel(out);
    if (n == 0) return SEER_STATUS_OK;
    size_t es = seer_dtype_size(x->dtype);
    if (x->dtype == out->dtype && seer_tensor_is_contiguous(x))
        return SEER_CU(cudaMemcpy(out->data, x->data, (size_t)n * es, cudaMemcpyDeviceToDevice));

    // Index math over the fewest dims; out is contiguous, so only x's strides matter.
    int64_t shape[SEER_MAX_DIMS], strides[1][SEER_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = x->shape[d];
        strides[0][d] = x->stride[d];
    }
    int nd = seer_cu_coalesce(x->ndim, shape, 1, strides);
    seer_cu_dims xd = seer_cu_make_dims(nd, shape, strides[0]);
    unsigned blocks = seer_cu_blocks(n);

    if (x->dtype == out->dtype) {
        int64_t words = n;
        switch (widen_words(nd, shape, strides, &words, es, out->data, x->data)) {
        case 1: launch_copy_same<uint8_t>(out->data, x->data, nd, shape, strides, words); break;
        case 2: launch_copy_same<uint16_t>(out->data, x->data, nd, shape, strides, words); break;
        case 4: launch_copy_same<uint32_t>(out->data, x->data, nd, shape, strides, words); break;
        case 8: launch_copy_same<uint2>(out->data, x->data, nd, shape, strides, words); break;
        case 16: launch_copy_same<uint4>(out->data, x->data, nd, shape, strides, words); break;
        default:
            return seer_fail(SEER_STATUS_UNSUPPORTED, "copy (cuda): dtype %s",
                             seer_dtype_name(x->dtype));
        }
        return SEER_CU(seer_cu_launched());
    }
    if ((unsigned)x->dtype >= SEER_DTYPE_COUNT || (unsigned)out->dtype >= SEER_DTYPE_COUNT)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "copy (cuda): unknown dtype");
    if (seer_dtype_is_float(x->dtype) && seer_dtype_is_float(out->dtype)) {
        if (nd == 1 && xd.stride[0] == 1)
            copy_float_kernel<true><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                out->data, out->dtype, x->data, x->dtype, xd, n);
        else
            copy_float_kernel<false><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                out->data, out->dtype, x->data, x->dtype, xd, n);
        return SEER_CU(seer_cu_launched());
    }
    bool narrow_index = x->dtype == SEER_I64 && out->dtype == SEER_I32;
    if (narrow_index) {
        int zero = 0;
        SEER_TRY(SEER_CU(cudaMemcpyToSymbol(seer_cu_copy_overflow, &zero, sizeof zero)));
    }
    copy_convert_kernel<<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(out->data, out->dtype,
                                                                          x->data, x->dtype, xd, n);
    SEER_TRY(SEER_CU(seer_cu_launched()));
    if (narrow_index) {
        int overflow = 0;
        SEER_TRY(SEER_CU(cudaMemcpyFromSymbol(&overflow, seer_cu_copy_overflow, sizeof overflow)));
        if (overflow)
            return seer_fail(SEER_STATUS_SHAPE, "copy (cuda): an i64 value does not fit i32");
    }
    return SEER_STATUS_OK;
}

// ---- fill ----------------------------------------------------------------------------------

template <typename U> __global__ void fill_kernel(U *out, U v, int64_t n) {
    SEER_CU_FOR(i, n) out[i] = v;
}

template <typename U> static seer_status fill_words(void *out, U v, int64_t n) {
    fill_kernel<U><<<seer_cu_blocks(n), SEER_CU_THREADS, 0, seer_cu_stream()>>>((U *)out, v, n);
    return SEER_CU(seer_cu_launched());
}

seer_status seer_cuda_fill(seer_tensor *out, double value) {
    SEER_TRY(seer_cu_need_contig("fill", "out", out));
    int64_t n = seer_tensor_numel(out);
    if (n == 0) return SEER_STATUS_OK;
    // The value's bit pattern is made on the host with the CPU backend's conversions.
    switch (out->dtype) {
    case SEER_F32: {
        float f = (float)value;
        uint32_t u;
        memcpy(&u, &f, 4);
        return fill_words<uint32_t>(out->data, u, n);
    }
    case SEER_F16: return fill_words<uint16_t>(out->data, seer_f32_to_f16((float)value), n);
    case SEER_BF16: return fill_words<uint16_t>(out->data, seer_f32_to_bf16((float)value), n);
    case SEER_I32: return fill_words<uint32_t>(out->data, (uint32_t)(int32_t)value, n);
    case SEER_I64: return fill_words<uint64_t>(out->data, (uint64_t)(int64_t)value, n);
    case SEER_U8: {
        uint8_t u = (uint8_t)(value < 0 ? 0 : value > 255 ? 255 : value + 0.5);
        return SEER_CU(cudaMemset(out->data, u, (size_t)n));
    }
    default:
        return seer_fail(SEER_STATUS_UNSUPPORTED, "fill (cuda): dtype %s",
                         seer_dtype_name(out->dtype));
    }
}
