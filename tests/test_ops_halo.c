// seer_halo_attention (HaloNet's blocked attention over haloed windows in one op) against the
// composition halo_forward ran before it: queries cut into blocks, the padded key/value map
// unfolded into windows, timm's relative position logits, dense attention, the blocks put
// back. On the CPU in F32, and on CUDA against the CPU (F32, BF16, F16; skipped without a
// GPU), including windows too large to stage in shared memory. Also the errors.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/halonet.h"
#include "tests/op_test_util.h"

typedef struct halo_case {
    int64_t B, H, W; // kv's map; q's map is (H, W) / block_size * bq
    int bq;          // query block edge (block_size, or less for strided queries)
    seer_halo_params p;
    int dv;
} halo_case;

static const halo_case cases[] = {
    {2, 8, 8, 4, {4, 1, 2, 4, 0.5f}, 6},         // shipped halonet_cifar's first stage, smaller
    {1, 8, 8, 2, {4, 2, 1, 8, 0.35f}, 8},        // strided queries (2x2 blocks over 4x4 key blocks)
    {1, 8, 12, 4, {4, 1, 3, 5, 0.45f}, 3},       // non-square map, odd head size
    {2, 4, 6, 2, {2, 0, 2, 4, 0.5f}, 4},         // no halo
    {1, 4, 4, 2, {2, 3, 1, 3, 0.6f}, 2},         // halo wider than the map: mostly padding
    {1, 16, 16, 8, {8, 3, 2, 64, 0.125f}, 64},   // halonet50ts's last halo stage: > 48 KiB staged
    {1, 16, 8, 8, {8, 3, 1, 256, 0.0625f}, 256}, // a window too large for shared memory (CUDA)
};

// The composition backbones/halonet_attn.c ran before the fused op.
static seer_tensor *composed(seer_ctx *c, const seer_tensor *q, const seer_tensor *kv,
                             const seer_tensor *hrel, const seer_tensor *wrel,
                             const seer_halo_params *p) {
    const int64_t B = q->shape[0], Hq = q->shape[1], Wq = q->shape[2];
    const int bs = p->block_size, win = bs + 2 * p->halo_size, nh = p->heads, dqk = p->dim_qk;
    const int64_t nhb = kv->shape[1] / bs, nwb = kv->shape[2] / bs, nb = B * nhb * nwb;
    const int bq = (int)(Hq / nhb), dv = (int)(kv->shape[3] / nh) - dqk;
    // q: [B, Hq, Wq, nh * dqk] -> blocks [nb, nh, bq * bq, dqk]
    seer_tensor *qb = seer_reshape(c, q, 6, (int64_t[]){B * nhb, bq, nwb, bq, nh, dqk});
    qb = seer_permute_copy(c, qb, (int[]){0, 2, 4, 1, 3, 5});
    qb = seer_reshape(c, qb, 4, (int64_t[]){nb, nh, bq * bq, dqk});
    // kv windows: [nb, win * win, nh, dqk + dv]
    seer_unfold_params pu = {.kernel_h = win,
                             .kernel_w = win,
                             .stride_h = bs,
                             .stride_w = bs,
                             .pad_h = p->halo_size,
                             .pad_w = p->halo_size};
    seer_tensor *w = seer_unfold(c, kv, &pu);
    w = seer_reshape(c, w, 4, (int64_t[]){nb, win * win, nh, dqk + dv});
    const int to_heads[4] = {0, 2, 1, 3};
    seer_tensor *k = seer_permute(c, seer_narrow(c, w, 3, 0, dqk), to_heads);
    seer_tensor *v = seer_permute(c, seer_narrow(c, w, 3, dqk, dv), to_heads);
    seer_tensor *bias = seer_halonet_rel_pos_logits(c, qb, nb * nh, bq, bq, win, win, hrel, wrel);
    bias = seer_reshape(c, bias, 4, (int64_t[]){nb, nh, bq * bq, win * win});
    seer_tensor *o = seer_attention(c, qb, k, v, bias, p->scale); // [nb, nh, bq * bq, dv]
    o = seer_reshape(c, o, 6, (int64_t[]){B * nhb, nwb, nh, bq, bq, dv});
    o = seer_permute_copy(c, o, (int[]){0, 3, 1, 4, 2, 5});
    return seer_reshape(c, o, 4, (int64_t[]){B, Hq, Wq, nh * dv});
}

// Random inputs of case k rounded to dt (both backends see the same numbers): q, kv and the
// two tables, the tables at timm's init scale (dim_qk^-0.5).
typedef struct halo_inputs {
    float *x[4];
    int64_t shape[4][4];
    int ndim[4];
} halo_inputs;

static halo_inputs make_inputs(seer_rng *r, const halo_case *k, seer_dtype dt) {
    const seer_halo_params *p = &k->p;
    const int64_t nhb = k->H / p->block_size, nwb = k->W / p->block_size;
    const int64_t win = p->block_size + 2 * p->halo_size;
    halo_inputs in = {.shape = {{k->B, nhb * k->bq, nwb * k->bq, (int64_t)p->heads * p->dim_qk},
                                {k->B, k->H, k->W, (int64_t)p->heads * (p->dim_qk + k->dv)},
                                {2 * win - 1, p->dim_qk},
                                {2 * win - 1, p->dim_qk}},
                      .ndim = {4, 4, 2, 2}};
    for (int t = 0; t < 4; t++) {
        size_t n = 1;
        for (int d = 0; d < in.ndim[t]; d++)
            n *= (size_t)in.shape[t][d];
        in.x[t] = malloc(n * sizeof(float));
        cr_assert(in.x[t]);
        seer_rng_fill(r, in.x[t], n);
        for (size_t i = 0; i < n; i++) {
            float v = in.x[t][i] * (t >= 2 ? 1.0f / sqrtf((float)p->dim_qk) : 1.0f);
            if (dt == SEER_BF16) v = seer_bf16_to_f32(seer_f32_to_bf16(v));
            if (dt == SEER_F16) v = seer_f16_to_f32(seer_f32_to_f16(v));
            in.x[t][i] = v;
        }
    }
    return in;
}

static void free_inputs(halo_inputs *in) {
    for (int t = 0; t < 4; t++)
        free(in->x[t]);
}

static seer_tensor *run(seer_ctx *c, const halo_inputs *in, seer_dtype dt, const halo_case *k,
                        bool fused) {
    seer_tensor *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = upload_as(c, in->x[i], dt, in->ndim[i], in->shape[i]);
    return fused ? seer_halo_attention(c, t[0], t[1], t[2], t[3], &k->p)
                 : composed(c, t[0], t[1], t[2], t[3], &k->p);
}

Test(halo, fused_equals_blocked_unfold_attention) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_rng rng = seer_rng_new(11);
    for (size_t n = 0; n < sizeof cases / sizeof *cases; n++) {
        halo_inputs in = make_inputs(&rng, &cases[n], SEER_F32);
        seer_tensor *got = run(c, &in, SEER_F32, &cases[n], true);
        seer_tensor *want = run(c, &in, SEER_F32, &cases[n], false);
        cr_assert(got && want, "case %zu: %s", n, seer_ctx_error(c));
        cr_assert_eq(got->ndim, 4);
        const int64_t shape[4] = {in.shape[0][0], in.shape[0][1], in.shape[0][2],
                                  (int64_t)cases[n].p.heads * cases[n].dv};
        for (int d = 0; d < 4; d++)
            cr_assert_eq(got->shape[d], shape[d], "case %zu dim %d", n, d);
        double err = seer_rel_l2(got->data, want->data, (size_t)seer_tensor_numel(got));
        cr_assert_leq(err, 1e-6, "case %zu: rel-L2 %g", n, err);
        cr_log_info("halo_attention cpu case %zu: rel-L2 %.2e against the composition", n, err);
        free_inputs(&in);
        seer_ctx_reset(c);
    }
    seer_ctx_free(c);
}

// Runs the op on F32 tensors of the given shapes (tables [rows, 4]) with 4x4 blocks, halo 1
// (6x6 windows: tables [11, 4]), 2 heads of 4 q/k channels; returns its output.
static seer_tensor *halo_on(seer_ctx *c, const int64_t qs[4], const int64_t ks[4], int64_t rows_h,
                            int64_t rows_w) {
    const seer_halo_params p = {4, 1, 2, 4, 0.5f};
    seer_tensor *q = seer_fill(c, seer_new(c, SEER_F32, 4, qs), 1.0);
    seer_tensor *kv = seer_fill(c, seer_new(c, SEER_F32, 4, ks), 1.0);
    seer_tensor *h = seer_fill(c, seer_new(c, SEER_F32, 2, (int64_t[]){rows_h, 4}), 0.0);
    seer_tensor *w = seer_fill(c, seer_new(c, SEER_F32, 2, (int64_t[]){rows_w, 4}), 0.0);
    return seer_halo_attention(c, q, kv, h, w, &p);
}

Test(halo, errors_name_the_expected_shape) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    const int64_t q8[4] = {1, 8, 8, 8}, kv8[4] = {1, 8, 8, 12};
    cr_assert(halo_on(c, q8, kv8, 11, 11), "%s", seer_ctx_error(c));
    cr_assert_null(halo_on(c, q8, kv8, 11, 9));
    expect_fail(c, SEER_STATUS_SHAPE, "expected width_rel [11, 4]");
    // a 10x10 map does not split into 4x4 blocks
    cr_assert_null(halo_on(c, (int64_t[]){1, 10, 10, 8}, (int64_t[]){1, 10, 10, 12}, 11, 11));
    expect_fail(c, SEER_STATUS_SHAPE, "grid of 4x4 blocks");
    // q's channels are not heads * dim_qk
    cr_assert_null(halo_on(c, (int64_t[]){1, 8, 8, 6}, kv8, 11, 11));
    expect_fail(c, SEER_STATUS_SHAPE, "expected q [B, Hq, Wq, 8]");
    // query blocks larger than the key blocks (the position tables would not reach)
    cr_assert_null(halo_on(c, (int64_t[]){1, 16, 16, 8}, kv8, 11, 11));
    expect_fail(c, SEER_STATUS_SHAPE, "at most that size");
    seer_ctx_free(c);
}

Test(cuda_halo, matches_cpu_f32_bf16_f16) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip("no CUDA device");
    seer_ctx *cpu = seer_ctx_new(SEER_DEVICE_CPU), *gpu = seer_ctx_new(SEER_DEVICE_CUDA);
    cr_assert(cpu && gpu, "%s", seer_last_error());
    seer_rng rng = seer_rng_new(12);
    const seer_dtype dts[3] = {SEER_F32, SEER_BF16, SEER_F16};
    for (size_t n = 0; n < sizeof cases / sizeof *cases; n++) {
        for (int t = 0; t < 3; t++) {
            halo_inputs in = make_inputs(&rng, &cases[n], dts[t]);
            seer_tensor *want = run(cpu, &in, SEER_F32, &cases[n], true);
            float *g = download_f32(gpu, run(gpu, &in, dts[t], &cases[n], true));
            cr_assert(want, "%s", seer_ctx_error(cpu));
            double err = seer_rel_l2(g, want->data, (size_t)seer_tensor_numel(want));
            cr_assert_leq(err, dts[t] == SEER_F32 ? 1e-5 : 2e-2, "case %zu %s: rel-L2 %g", n,
                          seer_dtype_name(dts[t]), err);
            cr_log_info("halo_attention cuda case %zu %s: rel-L2 %.2e", n, seer_dtype_name(dts[t]),
                        err);
            free(g);
            free_inputs(&in);
            seer_ctx_reset(cpu);
            seer_ctx_reset(gpu);
        }
    }
    seer_ctx_free(cpu);
    seer_ctx_free(gpu);
}
