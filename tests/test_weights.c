// Weight store on the CPU and the loader helpers (expected shapes, unexpected tensors).
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/weights.h"
#include "tests/test_util.h"

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/seer_weights_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    char p[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
}

TestSuite(weights, .init = make_tmpdir, .fini = remove_tmpdir);

static float *random_floats(size_t n, uint64_t seed) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    seer_rng r = seer_rng_new(seed);
    seer_rng_fill(&r, x, n);
    return x;
}

Test(weights, add_get_and_convert_on_cpu) {
    seer_weights *w = seer_weights_new(SEER_DEVICE_CPU);
    cr_assert_not_null(w);
    cr_assert_eq(seer_weights_device(w), SEER_DEVICE_CPU);
    float *a = random_floats(12, 1), *b = random_floats(35, 2), *c = random_floats(6, 3);

    seer_tensor *ta = seer_weights_add(w, "head.weight", SEER_F32, 2, (int64_t[]){3, 4}, a);
    cr_assert_not_null(ta, "%s", seer_last_error());
    cr_assert_eq(ta->dtype, SEER_F32);
    cr_assert_eq(ta->device, SEER_DEVICE_CPU);
    cr_assert(ta->ndim == 2 && ta->shape[0] == 3 && ta->shape[1] == 4);
    cr_assert(seer_tensor_is_contiguous(ta));
    cr_assert_str_eq(ta->name, "head.weight");
    cr_assert_neq((void *)ta->data, (void *)a, "the store must own a copy");
    cr_assert_eq(memcmp(ta->data, a, 12 * sizeof(float)), 0);

    seer_tensor *tb =
        seer_weights_add(w, "blocks.0.mlp.fc1.weight", SEER_BF16, 2, (int64_t[]){5, 7}, b);
    cr_assert_not_null(tb, "%s", seer_last_error());
    cr_assert_eq(tb->dtype, SEER_BF16);
    float back[35];
    for (int i = 0; i < 35; i++) {
        back[i] = seer_bf16_to_f32(((const uint16_t *)tb->data)[i]);
        cr_assert_leq(fabsf(back[i] - b[i]), fabsf(b[i]) * (1.0f / 256) + 1e-30f, "bf16 %d", i);
    }
    cr_assert_lt(seer_rel_l2(back, b, 35), 4e-3);

    seer_tensor *tc = seer_weights_add(w, "norm.weight", SEER_F16, 1, (int64_t[]){6}, c);
    cr_assert_not_null(tc);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(((const uint16_t *)tc->data)[i], seer_f32_to_f16(c[i]));

    int64_t idx[4] = {3, -1, 1ll << 40, 0};
    seer_tensor *ti = seer_weights_add_raw(w, "rel_pos_index", SEER_I64, 1, (int64_t[]){4}, idx);
    cr_assert_not_null(ti);
    cr_assert_eq(memcmp(ti->data, idx, sizeof idx), 0);
    seer_tensor *tz = seer_weights_add(w, "empty", SEER_F32, 2, (int64_t[]){0, 3}, NULL);
    cr_assert_not_null(tz, "%s", seer_last_error());
    seer_tensor *ts = seer_weights_add(w, "scale", SEER_F32, 0, NULL, a);
    cr_assert_not_null(ts);
    cr_assert_eq(seer_tensor_numel(ts), 1);

    cr_assert_eq(seer_weights_get(w, "head.weight"), ta);
    cr_assert_eq(seer_weights_get(w, "blocks.0.mlp.fc1.weight"), tb);
    cr_assert_eq(seer_weights_get(w, "rel_pos_index"), ti);
    cr_assert_eq(seer_weights_count(w), 6);
    cr_assert_eq(seer_weights_at(w, 2), tc);
    cr_assert_null(seer_weights_at(w, 6));
    cr_assert_eq(seer_weights_bytes(w), 12 * 4 + 35 * 2 + 6 * 2 + 4 * 8 + 0 + 4);

    cr_assert_null(seer_weights_get(w, "head.bias"));
    cr_assert(strstr(seer_last_error(), "no weight 'head.bias'"));
    cr_assert_null(seer_weights_add(w, "head.weight", SEER_F32, 1, (int64_t[]){1}, a));
    cr_assert(strstr(seer_last_error(), "'head.weight' added twice"));
    cr_assert_null(seer_weights_add(w, "ints", SEER_I32, 1, (int64_t[]){1}, a));
    cr_assert(strstr(seer_last_error(), "cannot store float data as i32"));
    cr_assert_null(seer_weights_add(w, "neg", SEER_F32, 1, (int64_t[]){-1}, a));
    cr_assert_null(seer_weights_add(w, "nodata", SEER_BF16, 1, (int64_t[]){2}, NULL));
    cr_assert_eq(seer_weights_count(w), 6, "failed adds must leave the store as it was");
    seer_weights_free(w);
    free(a);
    free(b);
    free(c);
}

Test(weights, many_names_stay_findable) {
    // Enough weights to grow the name table several times.
    seer_weights *w = seer_weights_new(SEER_DEVICE_CPU);
    char name[64];
    float v[2];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "blocks.%d.attn.proj.weight", i);
        v[0] = (float)i;
        v[1] = -(float)i;
        cr_assert_not_null(seer_weights_add(w, name, SEER_F32, 1, (int64_t[]){2}, v));
    }
    for (int i = 2999; i >= 0; i--) {
        snprintf(name, sizeof name, "blocks.%d.attn.proj.weight", i);
        seer_tensor *t = seer_weights_get(w, name);
        cr_assert_not_null(t, "%s", name);
        cr_assert_str_eq(t->name, name);
        cr_assert_eq(((float *)t->data)[0], (float)i);
    }
    cr_assert_null(seer_weights_get(w, "blocks.3000.attn.proj.weight"));
    cr_assert_eq(seer_weights_bytes(w), 3000 * 8);
    seer_weights_free(w);
    seer_weights_free(NULL);
}

// A checkpoint as a converter would write it, opened from a real file.
static seer_st_file *open_checkpoint(const float *qkv, const float *proj) {
    seer_st_writer *wr = seer_st_writer_new();
    uint16_t bf[64];
    for (int i = 0; i < 64; i++)
        bf[i] = seer_f32_to_bf16(proj[i]);
    int64_t steps = 1000;
    cr_assert_eq(seer_st_writer_add(wr, "blocks.0.attn.qkv.weight", SEER_F32, 2,
                                    (int64_t[]){1152, 192}, qkv),
                 SEER_STATUS_OK);
    cr_assert_eq(
        seer_st_writer_add(wr, "blocks.0.attn.proj.weight", SEER_BF16, 2, (int64_t[]){8, 8}, bf),
        SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_add(wr, "num_steps", SEER_I64, 0, NULL, &steps), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_add(wr, "aux_head.weight", SEER_F32, 1, (int64_t[]){4}, qkv),
                 SEER_STATUS_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    cr_assert_eq(seer_st_writer_save(wr, path), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(wr);
    seer_st_file *f;
    cr_assert_eq(seer_st_open(path, &f), SEER_STATUS_OK, "%s", seer_last_error());
    return f;
}

Test(weights, read_f32_expect_messages) {
    float *qkv = random_floats(1152 * 192, 4), *proj = random_floats(64, 5);
    seer_st_file *f = open_checkpoint(qkv, proj);
    const char *path = seer_st_path(f);
    char want[1024];
    float *out = (float *)1;

    cr_assert_eq(
        seer_st_read_f32_expect(f, "blocks.0.attn.qkv.weight", 2, (int64_t[]){1152, 384}, &out),
        SEER_STATUS_SHAPE);
    cr_assert_null(out);
    snprintf(want, sizeof want,
             "tensor 'blocks.0.attn.qkv.weight': expected [1152, 384], found [1152, 192] in %s",
             path);
    cr_assert_str_eq(seer_last_error(), want);

    cr_assert_eq(
        seer_st_read_f32_expect(f, "blocks.0.attn.qkv.weight", 3, (int64_t[]){1152, 192, 1}, &out),
        SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "expected [1152, 192, 1], found [1152, 192]"));

    cr_assert_eq(seer_st_read_f32_expect(f, "x", 1, (int64_t[]){1}, &out), SEER_STATUS_NOT_FOUND);
    snprintf(want, sizeof want, "missing tensor 'x' in %s", path);
    cr_assert_str_eq(seer_last_error(), want);

    cr_assert_eq(seer_st_read_f32_expect(f, "num_steps", 0, NULL, &out), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "tensor 'num_steps': expected a float tensor, found I64"));

    cr_assert_eq(
        seer_st_read_f32_expect(f, "blocks.0.attn.qkv.weight", 2, (int64_t[]){1152, 192}, &out),
        SEER_STATUS_OK);
    cr_assert_eq(memcmp(out, qkv, 1152 * 192 * sizeof(float)), 0);
    free(out);
    cr_assert_eq(
        seer_st_read_f32_expect(f, "blocks.0.attn.proj.weight", 2, (int64_t[]){8, 8}, &out),
        SEER_STATUS_OK);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(out[i], seer_bf16_to_f32(seer_f32_to_bf16(proj[i])));
    cr_assert_lt(seer_rel_l2(out, proj, 64), 1e-2);
    free(out);
    seer_st_close(f);
    free(qkv);
    free(proj);
}

Test(weights, check_unexpected_names_the_tensor) {
    float *qkv = random_floats(1152 * 192, 6), *proj = random_floats(64, 7);
    seer_st_file *f = open_checkpoint(qkv, proj);
    const char *known[] = {"blocks.0.attn.proj.weight", "num_steps", "blocks.0.attn.qkv.weight",
                           "not.in.file"};
    cr_assert_eq(seer_st_check_unexpected(f, known, 3, NULL), SEER_STATUS_FORMAT);
    cr_assert(strstr(seer_last_error(), "unexpected tensor 'aux_head.weight' in "), "%s",
              seer_last_error());
    cr_assert(strstr(seer_last_error(), seer_st_path(f)));
    cr_assert(strstr(seer_last_error(), "1 unexpected in all"));
    cr_assert_eq(seer_st_check_unexpected(f, known, 3, "aux_"), SEER_STATUS_OK);
    cr_assert_eq(seer_st_check_unexpected(f, known, 4, "aux_head."), SEER_STATUS_OK);
    cr_assert_eq(seer_st_check_unexpected(f, known, 0, NULL), SEER_STATUS_FORMAT);
    cr_assert(strstr(seer_last_error(), "4 unexpected in all"));
    seer_st_close(f);
    free(qkv);
    free(proj);
}

Test(weights, load_checkpoint_into_store) {
    // The path a model loader takes: expect, convert, upload; then nothing unexpected left.
    float *qkv = random_floats(1152 * 192, 8), *proj = random_floats(64, 9);
    seer_st_file *f = open_checkpoint(qkv, proj);
    seer_weights *w = seer_weights_new(SEER_DEVICE_CPU);
    float *host;
    cr_assert_eq(
        seer_st_read_f32_expect(f, "blocks.0.attn.proj.weight", 2, (int64_t[]){8, 8}, &host),
        SEER_STATUS_OK);
    seer_tensor *t =
        seer_weights_add(w, "blocks.0.attn.proj.weight", SEER_BF16, 2, (int64_t[]){8, 8}, host);
    free(host);
    cr_assert_not_null(t);
    // Stored bytes equal the file's BF16 bytes: F32 <-> BF16 round trips exactly.
    size_t n;
    const void *raw = seer_st_raw(f, "blocks.0.attn.proj.weight", &n);
    cr_assert_eq(n, 128);
    cr_assert_eq(memcmp(raw, t->data, 128), 0);
    seer_weights_free(w);
    seer_st_close(f);
    free(qkv);
    free(proj);
}

Test(weights, metadata_numbers) {
    seer_st_writer *w = seer_st_writer_new();
    seer_st_writer_set_metadata(w, "n", "12");
    seer_st_writer_set_metadata(w, "bad", "12x");
    seer_st_writer_set_metadata(w, "x", "0.25");
    void *buf;
    size_t n;
    cr_assert_eq(seer_st_writer_to_memory(w, &buf, &n), SEER_STATUS_OK);
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open_memory(buf, n, "meta.safetensors", &f), SEER_STATUS_OK);
    int v = 7;
    float x = 1.0f;
    cr_assert_eq(seer_st_metadata_int(f, "absent", 0, 100, &v), SEER_STATUS_OK);
    cr_assert_eq(v, 7, "an absent key keeps the preset's value");
    cr_assert_eq(seer_st_metadata_int(f, "n", 0, 100, &v), SEER_STATUS_OK);
    cr_assert_eq(v, 12);
    cr_assert_eq(seer_st_metadata_int(f, "n", 0, 10, &v), SEER_STATUS_FORMAT);
    cr_assert_eq(seer_st_metadata_int(f, "bad", 0, 100, &v), SEER_STATUS_FORMAT);
    cr_assert(strstr(seer_last_error(), "'12x'"), "%s", seer_last_error());
    cr_assert_eq(seer_st_metadata_float(f, "x", 0, 1, &x), SEER_STATUS_OK);
    cr_assert_float_eq(x, 0.25f, 1e-7f);
    cr_assert_eq(seer_st_metadata_float(f, "n", 0, 1, &x), SEER_STATUS_FORMAT);
    seer_st_close(f);
    free(buf);
    seer_st_writer_free(w);
}
