// Sparse attention over gathered keys on CUDA against the CPU backend (F32, BF16, I32/I64).
#include <criterion/criterion.h>

#include "tests/op_test_util.h"

static void run_case(seer_dtype dt, seer_dtype it, int64_t Lq, int64_t Lk, int64_t D, int64_t n,
                     double tol) {
    seer_ctx *cpu = seer_ctx_new(SEER_DEVICE_CPU), *gpu = seer_ctx_new(SEER_DEVICE_CUDA);
    seer_rng rng = seer_rng_new((uint64_t)(Lq * 31 + n));
    const int64_t B = 2, H = 3, rows = B * H * Lq, Dv = D;
    float *q = random_floats(&rng, rows * D), *k = random_floats(&rng, B * H * Lk * D);
    float *v = random_floats(&rng, B * H * Lk * Dv), *idxf = malloc(sizeof(float) * (size_t)(rows * n));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++) idxf[r * n + j] = (float)((r * 13 + j * 5) % Lk);
    idxf[n] = -1;  // an empty slot
    int64_t qs[4] = {B, H, Lq, D}, ks[4] = {B, H, Lk, D}, is[4] = {B, H, Lq, n};
    float *want = malloc(sizeof(float) * (size_t)(rows * Dv)), *got = malloc(sizeof(float) * (size_t)(rows * Dv));
    seer_tensor *o1 = seer_attention_gather(cpu, upload(cpu, q, 4, qs), upload(cpu, k, 4, ks),
                                            upload(cpu, v, 4, ks), seer_from_host(cpu, idxf, it, 4, is), 0.125f);
    cr_assert_not_null(o1, "%s", seer_ctx_error(cpu));
    seer_to_host(cpu, o1, want);
    seer_tensor *o2 = seer_attention_gather(gpu, seer_from_host(gpu, q, dt, 4, qs), seer_from_host(gpu, k, dt, 4, ks),
                                            seer_from_host(gpu, v, dt, 4, ks), seer_from_host(gpu, idxf, it, 4, is), 0.125f);
    cr_assert_not_null(o2, "%s", seer_ctx_error(gpu));
    seer_to_host(gpu, o2, got);
    double rel = seer_rel_l2(got, want, (size_t)(rows * Dv));
    cr_assert_leq(rel, tol, "%s Lq %lld n %lld: rel-L2 %g", seer_dtype_name(dt), (long long)Lq, (long long)n, rel);
    free(q), free(k), free(v), free(idxf), free(want), free(got);
    seer_ctx_free(cpu);
    seer_ctx_free(gpu);
}

Test(cuda_attention_gather, matches_cpu) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    run_case(SEER_F32, SEER_I64, 197, 197, 64, 50, 1e-5);   // Sparsifiner on DeiT-S
    run_case(SEER_F32, SEER_I32, 37, 90, 160, 7, 1e-5);     // odd sizes, wide head
    run_case(SEER_BF16, SEER_I64, 197, 197, 64, 50, 2e-2);
    run_case(SEER_F16, SEER_I32, 65, 65, 32, 16, 2e-2);
}
