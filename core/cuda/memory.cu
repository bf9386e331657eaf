// CUDA backend: device discovery, memory and transfers (all on the default stream).
#include "core/cuda/cuda_common.cuh"

bool seer_cuda_available(void) {
    // Asked once: without a driver cudaGetDeviceCount fails cleanly (no device, insufficient
    // driver), and that answer does not change while the process runs.
    static const bool ok = [] {
        int n = 0;
        cudaError_t e = cudaGetDeviceCount(&n);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            seer_log(SEER_LOG_DEBUG, "cuda: no usable device (%s: %s)", cudaGetErrorName(e),
                     cudaGetErrorString(e));
            return false;
        }
        return n > 0;
    }();
    return ok;
}

void *seer_cuda_malloc(size_t bytes) {
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaSuccess) return p;
    (void)cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    (void)cudaGetLastError();
    seer_fail(seer_cu_kind(e), "cudaMalloc(%zu bytes) failed: %s (%s); %zu of %zu bytes free",
              bytes, cudaGetErrorName(e), cudaGetErrorString(e), free_b, total_b);
    return nullptr;
}

void seer_cuda_free(void *p) {
    if (!p) return;
    // Nothing to return to the caller; a failure here means an earlier fault, which the next
    // checked call reports.
    if (SEER_CU(cudaFree(p)) != SEER_STATUS_OK) seer_log(SEER_LOG_WARN, "%s", seer_last_error());
}

seer_status seer_cuda_upload(void *dst, const void *src_host, size_t bytes) {
    return SEER_CU(cudaMemcpy(dst, src_host, bytes, cudaMemcpyHostToDevice));
}

seer_status seer_cuda_download(void *dst_host, const void *src, size_t bytes) {
    return SEER_CU(cudaMemcpy(dst_host, src, bytes, cudaMemcpyDeviceToHost));
}

seer_status seer_cuda_copy_d2d(void *dst, const void *src, size_t bytes) {
    if (bytes == 0 || dst == src) return SEER_STATUS_OK;
    const char *d = (const char *)dst, *s = (const char *)src;
    bool overlap = d < s + bytes && s < d + bytes;
    if (!overlap) return SEER_CU(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
    // cudaMemcpy does not promise memmove semantics; bounce through scratch memory.
    std::lock_guard<std::mutex> lock(seer_cu_scratch_mutex());
    void *tmp = nullptr;
    SEER_TRY(seer_cu_scratch(bytes, &tmp));
    SEER_TRY(SEER_CU(cudaMemcpy(tmp, src, bytes, cudaMemcpyDeviceToDevice)));
    return SEER_CU(cudaMemcpy(dst, tmp, bytes, cudaMemcpyDeviceToDevice));
}

seer_status seer_cuda_sync(void) {
    return SEER_CU(cudaDeviceSynchronize());
}
