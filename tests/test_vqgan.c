// VQGAN tokenizer against ENAT's reference code (tools/golden/make_vqgan.py): a tiny config
// (ch 32, ch_mult 1,2, one block per level, 64 codes) with random weights on 4 real photos.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/golden_util.h"
#include "tests/test_util.h"
#include "tokenizer/vqgan.h"

typedef struct fixture {
    seer_st_file *io;
    float *input, *latents, *ids, *decoded_raw, *decoded;
    int64_t sx[6], sz[6], si[6], sd[6];
    size_t n_x, n_z, n_i, n_d;
} fixture;

static size_t numel(int nd, const int64_t *s) {
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)s[i];
    return n;
}

// An I64 tensor of the fixture as floats (ids are small).
static float *golden_read_ids(const seer_st_file *io, const char *name, int *nd, int64_t *shape) {
    cr_assert_eq(seer_st_info(io, name, NULL, nd, shape), SEER_STATUS_OK, "%s", seer_last_error());
    size_t n = numel(*nd, shape);
    int64_t *raw = malloc(n * sizeof *raw + 1);
    float *out = malloc(n * sizeof *out + 1);
    cr_assert_eq(seer_st_read(io, name, SEER_I64, raw, n * sizeof *raw), SEER_STATUS_OK, "%s",
                 seer_last_error());
    for (size_t i = 0; i < n; i++)
        out[i] = (float)raw[i];
    free(raw);
    return out;
}

static void fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    cr_assert_eq(seer_st_open(golden_path("vqgan_tiny.io.safetensors"), &f->io), SEER_STATUS_OK,
                 "%s", seer_last_error());
    int nd;
    f->input = golden_read(f->io, "input", &nd, f->sx);
    f->n_x = numel(nd, f->sx);
    f->latents = golden_read(f->io, "latents", &nd, f->sz);
    f->n_z = numel(nd, f->sz);
    f->ids = golden_read_ids(f->io, "ids", &nd, f->si);
    f->n_i = numel(nd, f->si);
    int64_t s2[6];
    f->decoded_raw = golden_read(f->io, "decoded_raw", &nd, f->sd);
    f->n_d = numel(nd, f->sd);
    f->decoded = golden_read(f->io, "decoded", &nd, s2);
}

static void fixture_close(fixture *f) {
    free(f->input);
    free(f->latents);
    free(f->ids);
    free(f->decoded_raw);
    free(f->decoded);
    seer_st_close(f->io);
}

static void check_close(const char *what, const float *got, const float *want, size_t n) {
    double rel = seer_rel_l2(got, want, n), mx = seer_max_abs_diff(got, want, n);
    double norm = 0;
    for (size_t i = 0; i < n; i++)
        norm = fmax(norm, fabs((double)want[i]));
    cr_log_info("vqgan golden %s: rel-L2 %.2e, max-abs %.2e (max |ref| %.2e)", what, rel, mx, norm);
    cr_assert_leq(rel, 1e-5, "%s rel-L2 %g", what, rel);
    cr_assert_leq(mx, 1e-4 * norm, "%s max-abs %g", what, mx);
}

static void run_golden(seer_device dev) {
    seer_vqgan *v = NULL;
    cr_assert_eq(seer_vqgan_load(golden_path("vqgan_tiny.weights.safetensors"), dev, SEER_F32, &v),
                 SEER_STATUS_OK, "%s", seer_last_error());
    const seer_vqgan_config *g = seer_vqgan_get_config(v);
    cr_assert_eq(g->ch, 32);
    cr_assert_eq(g->n_levels, 2);
    cr_assert_eq(g->n_embed, 64);
    cr_assert_eq(seer_vqgan_factor(v), 2);
    fixture f;
    fixture_open(&f);

    seer_ctx *c = seer_ctx_new(dev);
    seer_tensor *x = seer_from_host(c, f.input, SEER_F32, 4, f.sx);
    seer_tensor *lat = NULL;
    seer_tensor *ids = seer_vqgan_encode(v, c, x, &lat);
    // decode the reference's ids, so the decoder is checked on its own
    int64_t *ref_ids = malloc(sizeof(int64_t) * f.n_i);
    for (size_t i = 0; i < f.n_i; i++)
        ref_ids[i] = (int64_t)f.ids[i];
    seer_tensor *ids_in = seer_new(c, SEER_I64, 3, f.si);
    cr_assert_not_null(ids_in, "%s", seer_ctx_error(c));
    cr_assert_eq(seer_memcpy(dev, ids_in->data, SEER_DEVICE_CPU, ref_ids, sizeof(int64_t) * f.n_i),
                 SEER_STATUS_OK);
    seer_tensor *raw = seer_vqgan_decode_latents(v, c, seer_vqgan_embed(v, c, ids_in));
    seer_tensor *dec = seer_vqgan_decode(v, c, ids_in);
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    cr_assert_eq(ids->ndim, 3);
    for (int d = 0; d < 3; d++)
        cr_assert_eq(ids->shape[d], f.si[d]);

    float *got = malloc(sizeof(float) * (f.n_z + f.n_i + 2 * f.n_d));
    float *g_lat = got, *g_ids = got + f.n_z, *g_raw = g_ids + f.n_i, *g_dec = g_raw + f.n_d;
    cr_assert_eq(seer_to_host(c, lat, g_lat), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, ids, g_ids), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, raw, g_raw), SEER_STATUS_OK);
    cr_assert_eq(seer_to_host(c, dec, g_dec), SEER_STATUS_OK);
    check_close("latents", g_lat, f.latents, f.n_z);
    size_t diff = 0;
    for (size_t i = 0; i < f.n_i; i++)
        diff += g_ids[i] != f.ids[i];
    cr_log_info("vqgan golden ids: %zu of %zu differ", diff, f.n_i);
    cr_assert_eq(diff, 0, "%zu token ids differ from the reference", diff);
    check_close("decoded (raw)", g_raw, f.decoded_raw, f.n_d);
    check_close("decoded (clamped)", g_dec, f.decoded, f.n_d);

    // 8-bit images: round(255 x) of the clamped output
    seer_image imgs[4];
    cr_assert_eq(seer_vqgan_to_images(c, dec, imgs), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    int bad = 0;
    for (int b = 0; b < 4; b++) {
        size_t per = (size_t)(imgs[b].w * imgs[b].h * 3);
        for (size_t k = 0; k < per; k++) {
            int want = (int)(f.decoded[b * per + k] * 255.0f + 0.5f);
            bad += abs((int)imgs[b].px[k] - want) > 1;
        }
        seer_image_free(&imgs[b]);
    }
    cr_assert_eq(bad, 0);

    free(got);
    free(ref_ids);
    fixture_close(&f);
    seer_ctx_free(c);
    seer_vqgan_free(v);
}

Test(vqgan, golden_encode_decode_cpu) {
    run_golden(SEER_DEVICE_CPU);
}

Test(vqgan, golden_encode_decode_cuda) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip_test("no CUDA device");
    run_golden(SEER_DEVICE_CUDA);
}

Test(vqgan, bad_input_sizes_are_refused) {
    seer_vqgan *v = NULL;
    cr_assert_eq(seer_vqgan_load(golden_path("vqgan_tiny.weights.safetensors"), SEER_DEVICE_CPU,
                                 SEER_F32, &v),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_tensor *x = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 31, 32, 3}), 0.5);
    cr_assert_null(seer_vqgan_encode(v, c, x, NULL));
    cr_assert(strstr(seer_ctx_error(c), "multiples of 2"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);
    seer_tensor *z = seer_fill(c, seer_new(c, SEER_F32, 4, (int64_t[]){1, 4, 4, 7}), 0.5);
    cr_assert_null(seer_vqgan_decode_latents(v, c, z));
    cr_assert(strstr(seer_ctx_error(c), "[B, h, w, 16]"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
    seer_vqgan_free(v);
}

Test(vqgan, a_classifier_file_is_refused_by_name) {
    seer_vqgan *v = NULL;
    seer_status st = seer_vqgan_load(golden_path("resnet8_cifar.weights.safetensors"),
                                     SEER_DEVICE_CPU, SEER_F32, &v);
    cr_assert_neq(st, SEER_STATUS_OK);
    cr_assert_null(v);
    cr_assert(strstr(seer_last_error(), "a 'resnet8' file, not a VQ tokenizer"), "%s",
              seer_last_error());
}

// The tiny fixture's weights with extra metadata (key = value), written to path.
static void copy_with_metadata(const char *path, const char *key, const char *value) {
    seer_st_file *f = NULL;
    cr_assert_eq(seer_st_open(golden_path("vqgan_tiny.weights.safetensors"), &f), SEER_STATUS_OK);
    seer_st_writer *w = seer_st_writer_new();
    for (int i = 0; i < seer_st_count(f); i++) {
        const char *name = seer_st_name(f, i);
        int nd;
        int64_t shape[8];
        cr_assert_eq(seer_st_info(f, name, NULL, &nd, shape), SEER_STATUS_OK);
        size_t n = numel(nd, shape);
        float *buf = malloc(n * sizeof *buf + 1);
        cr_assert_eq(seer_st_read(f, name, SEER_F32, buf, n * sizeof *buf), SEER_STATUS_OK);
        cr_assert_eq(seer_st_writer_add(w, name, SEER_F32, nd, shape, buf), SEER_STATUS_OK);
        free(buf);
    }
    for (int i = 0; i < seer_st_metadata_count(f); i++)
        seer_st_writer_set_metadata(w, seer_st_metadata_key(f, i), seer_st_metadata_value(f, i));
    cr_assert_eq(seer_st_writer_set_metadata(w, key, value), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_save(w, path), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_close(f);
}

// vqgan.resolution: the training image side (the CLI's default input size); 256 when absent.
Test(vqgan, resolution_metadata) {
    char dir[] = "/tmp/seer_vqgan_res_XXXXXX", path[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
    seer_vqgan *v = NULL;
    cr_assert_eq(seer_vqgan_load(golden_path("vqgan_tiny.weights.safetensors"), SEER_DEVICE_CPU,
                                 SEER_F32, &v),
                 SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_vqgan_get_config(v)->resolution, 256);
    seer_vqgan_free(v);
    copy_with_metadata(path, "vqgan.resolution", "32");
    cr_assert_eq(seer_vqgan_load(path, SEER_DEVICE_CPU, SEER_F32, &v), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_eq(seer_vqgan_get_config(v)->resolution, 32);
    seer_vqgan_free(v);
    copy_with_metadata(path, "vqgan.resolution", "33"); // not a multiple of 2 pixels per token
    cr_assert_neq(seer_vqgan_load(path, SEER_DEVICE_CPU, SEER_F32, &v), SEER_STATUS_OK);
    cr_assert(strstr(seer_last_error(), "resolution 33"), "%s", seer_last_error());
    remove(path);
    rmdir(dir);
}

// ---- `seer tokenize` end to end (skipped until main.c dispatches the command) --------------

#include <sys/wait.h>

static char cli_out[1 << 15];

static int run_seer(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s/seer' %s 2>&1", SEER_BINARY_DIR, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(cli_out, 1, sizeof cli_out - 1, p);
    cli_out[n] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st), "seer crashed: %s\n%s", args, cli_out);
    return WEXITSTATUS(st);
}

// The fixture's 32 x 32 inputs as PNGs -> encode (same ids as the reference) -> decode -> PSNR.
Test(vqgan, cli_tokenize) {
    if (run_seer("tokenize --help") != 0)
        cr_skip_test("seer tokenize is not wired into main.c yet");
    char dir[] = "/tmp/seer_vqgan_XXXXXX", args[4096], path[512], w[1024];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(w, sizeof w, "%s", golden_path("vqgan_tiny.weights.safetensors"));
    fixture f;
    fixture_open(&f);
    for (int b = 0; b < 4; b++) {
        uint8_t px[32 * 32 * 3];
        for (int k = 0; k < 32 * 32 * 3; k++)
            px[k] = (uint8_t)(f.input[b * 32 * 32 * 3 + k] * 255.0f + 0.5f);
        seer_image img = {.w = 32, .h = 32, .c = 3, .px = px};
        snprintf(path, sizeof path, "%s/in/img%d.png", dir, b);
        if (b == 0) {
            char mk[600];
            snprintf(mk, sizeof mk, "mkdir -p '%s/in'", dir);
            cr_assert_eq(system(mk), 0);
        }
        cr_assert_eq(seer_image_write_png(path, &img, NULL, NULL, 0), SEER_STATUS_OK, "%s",
                     seer_last_error());
    }
    snprintf(
        args, sizeof args,
        "tokenize encode --weights '%s' --size 32 --device cpu --out '%s/ids.safetensors' '%s/in'",
        w, dir, dir);
    cr_assert_eq(run_seer(args), 0, "%s", cli_out);
    seer_st_file *t = NULL;
    snprintf(path, sizeof path, "%s/ids.safetensors", dir);
    cr_assert_eq(seer_st_open(path, &t), SEER_STATUS_OK, "%s", seer_last_error());
    int64_t got[4 * 16 * 16];
    cr_assert_eq(seer_st_read(t, "ids", SEER_I64, got, sizeof got), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_not_null(strstr(seer_st_metadata(t, "files"), "img3.png"));
    seer_st_close(t);
    for (size_t i = 0; i < f.n_i; i++)
        cr_assert_eq((float)got[i], f.ids[i], "token %zu", i);

    snprintf(
        args, sizeof args,
        "tokenize decode --weights '%s' --device cpu --ids '%s/ids.safetensors' --out '%s/dec'", w,
        dir, dir);
    cr_assert_eq(run_seer(args), 0, "%s", cli_out);
    seer_image img = {0};
    snprintf(path, sizeof path, "%s/dec/img2.png", dir);
    cr_assert_eq(seer_image_load(path, NULL, &img), SEER_STATUS_OK, "%s", seer_last_error());
    for (int k = 0; k < 32 * 32 * 3; k++)
        cr_assert_leq(abs((int)img.px[k] - (int)(f.decoded[2 * 32 * 32 * 3 + k] * 255.0f + 0.5f)),
                      1);
    seer_image_free(&img);

    snprintf(args, sizeof args, "tokenize --weights '%s' --size 32 --device cpu '%s/in'", w, dir);
    cr_assert_eq(run_seer(args), 0, "%s", cli_out);
    cr_assert(strstr(cli_out, "mean"), "%s", cli_out);
    // no --size: the file's vqgan.resolution
    char w32[600];
    snprintf(w32, sizeof w32, "%s/res32.safetensors", dir);
    copy_with_metadata(w32, "vqgan.resolution", "32");
    snprintf(args, sizeof args,
             "tokenize encode --weights '%s' --device cpu --out '%s/ids32.safetensors' '%s/in'",
             w32, dir, dir);
    cr_assert_eq(run_seer(args), 0, "%s", cli_out);
    snprintf(path, sizeof path, "%s/ids32.safetensors", dir);
    cr_assert_eq(seer_st_open(path, &t), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_st_read(t, "ids", SEER_I64, got, sizeof got), SEER_STATUS_OK, "%s",
                 seer_last_error());
    seer_st_close(t);
    for (size_t i = 0; i < f.n_i; i++)
        cr_assert_eq((float)got[i], f.ids[i], "token %zu", i);
    snprintf(args, sizeof args,
             "tokenize encode --weights '%s' --size 33 --out '%s/x.safetensors' '%s/in'", w, dir,
             dir);
    cr_assert_eq(run_seer(args), 2);
    cr_assert(strstr(cli_out, "not a multiple"), "%s", cli_out);
    // reconstructions keep the folders below the argument: same names in two folders survive
    snprintf(args, sizeof args, "mkdir -p '%s/two/a' '%s/two/b' && cp '%s/in/img0.png' '%s/two/a/x.png' "
             "&& cp '%s/in/img1.png' '%s/two/b/x.png'", dir, dir, dir, dir, dir, dir);
    cr_assert_eq(system(args), 0);
    snprintf(args, sizeof args, "tokenize --weights '%s' --device cpu --out '%s/rec' '%s/two/'", w32,
             dir, dir);
    cr_assert_eq(run_seer(args), 0, "%s", cli_out);
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/rec/%c/x.png", dir, "ab"[k]);
        cr_assert_eq(access(path, F_OK), 0, "%s missing: %s", path, cli_out);
    }
    fixture_close(&f);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    cr_assert_eq(system(args), 0);
}
