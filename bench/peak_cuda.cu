// Measured FP32 and BF16-tensor ceilings of the GPU: an FFMA stream kernel (every thread 8
// independent accumulators) and a large cuBLAS BF16 GEMM. The op benchmarks report % of these.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>

__global__ void ffma_stream(float *out, int iters, float m) {
    float acc[8];
#pragma unroll
    for (int i = 0; i < 8; i++) acc[i] = threadIdx.x * 1e-3f + i;
    for (int it = 0; it < iters; it++) {
#pragma unroll
        for (int i = 0; i < 8; i++) acc[i] = fmaf(acc[i], m, 0.5f);
    }
    float s = 0;
#pragma unroll
    for (int i = 0; i < 8; i++) s += acc[i];
    if (s == 12345.0f) out[threadIdx.x] = s;  // keeps the work alive, never true
}

extern "C" double seer_bench_cuda_fp32_peak_tflops(void) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return 0;
    float *out;
    cudaMalloc(&out, 1024 * sizeof(float));
    int blocks = prop.multiProcessorCount * 8, threads = 256, iters = 1 << 16;
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    ffma_stream<<<blocks, threads>>>(out, 1024, 0.9999f);  // warm-up
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        cudaEventRecord(a);
        ffma_stream<<<blocks, threads>>>(out, iters, 0.9999f);
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms;
        cudaEventElapsedTime(&ms, a, b);
        double tflops = 2.0 * 8 * (double)iters * blocks * threads / (ms * 1e-3) / 1e12;
        if (tflops > best) best = tflops;
    }
    cudaFree(out);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return best;
}

// cuBLAS BF16 GEMM n x n x n with F32 accumulation on random data: the matrix-unit ceiling.
extern "C" double seer_bench_cuda_bf16_gemm_tflops(int n) {
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return 0;
    size_t count = (size_t)n * n;
    __nv_bfloat16 *x, *y;
    float *z;
    cudaMalloc(&x, count * 2);
    cudaMalloc(&y, count * 2);
    cudaMalloc(&z, count * 4);
    __nv_bfloat16 *host = (__nv_bfloat16 *)malloc(count * 2);
    unsigned s = 1;
    for (size_t i = 0; i < count; i++) {
        s = s * 1664525u + 1013904223u;
        host[i] = __float2bfloat16((float)(s >> 8) / 16777216.0f - 0.5f);
    }
    cudaMemcpy(x, host, count * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(y, host, count * 2, cudaMemcpyHostToDevice);
    free(host);
    float alpha = 1, beta = 0;
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    double best = 0;
    for (int rep = 0; rep < 8; rep++) {
        cudaEventRecord(a);
        cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, x, CUDA_R_16BF, n, y,
                     CUDA_R_16BF, n, &beta, z, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT);
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms;
        cudaEventElapsedTime(&ms, a, b);
        double tflops = 2.0 * n * (double)n * n / (ms * 1e-3) / 1e12;
        if (rep >= 2 && tflops > best) best = tflops;
    }
    cudaFree(x);
    cudaFree(y);
    cudaFree(z);
    cublasDestroy(h);
    return best;
}
