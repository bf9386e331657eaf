// CUDA backend: strided copy with dtype conversion, and fill.
// Conversions follow the CPU backend exactly (core/cpu/memory.c): through float between
// float dtypes, otherwise through double; float -> int truncates, -> u8 clamps to [0, 255]
// and rounds half up; i64 -> i32 fails if a value does not fit.
#include "core/cuda/cuda_common.cuh"

// Set by the i64 -> i32 conversion when a value is out of range.
__device__ int seer_cu_copy_overflow;

// out (contiguous) = x (strided), same dtype: elements moved as raw words of U's size.
template <typename U>
__global__ void copy_same_kernel(U *out, const U *x, seer_cu_dims xd, int64_t n) {
    SEER_CU_FOR(i, n) out[i] = x[seer_cu_offset(xd, i)];
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
__global__ void copy_float_kernel(void *out, seer_dtype odt, const void *x, seer_dtype xdt,
                                  seer_cu_dims xd, int64_t n) {
    SEER_CU_FOR(i, n) {
        float v = seer_cu_load_any(x, xdt, seer_cu_offset(xd, i));
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
        switch (es) {
        case 1:
            copy_same_kernel<uint8_t><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (uint8_t *)out->data, (const uint8_t *)x->data, xd, n);
            break;
        case 2:
            copy_same_kernel<uint16_t><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (uint16_t *)out->data, (const uint16_t *)x->data, xd, n);
            break;
        case 4:
            copy_same_kernel<uint32_t><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (uint32_t *)out->data, (const uint32_t *)x->data, xd, n);
            break;
        case 8:
            copy_same_kernel<uint64_t><<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
                (uint64_t *)out->data, (const uint64_t *)x->data, xd, n);
            break;
        default:
            return seer_fail(SEER_STATUS_UNSUPPORTED, "copy (cuda): dtype %s",
                             seer_dtype_name(x->dtype));
        }
        return SEER_CU(seer_cu_launched());
    }
    if ((unsigned)x->dtype >= SEER_DTYPE_COUNT || (unsigned)out->dtype >= SEER_DTYPE_COUNT)
        return seer_fail(SEER_STATUS_UNSUPPORTED, "copy (cuda): unknown dtype");
    if (seer_dtype_is_float(x->dtype) && seer_dtype_is_float(out->dtype)) {
        copy_float_kernel<<<blocks, SEER_CU_THREADS, 0, seer_cu_stream()>>>(
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
