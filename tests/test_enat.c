// ENAT against the reference code (tools/golden/make_enat.py): a tiny model (hidden 32, 2 + 1
// blocks, 4 x 4 tokens, 64 codes) with random weights: one forward without and one with the
// previous step's cache, and a whole 8-step generation with the reference's own random draws.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "generate/enat.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

static size_t numel(int nd, const int64_t *s) {
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)s[i];
    return n;
}

static int64_t *read_i64(const seer_st_file *io, const char *name, int64_t *shape, size_t *n) {
    int nd;
    cr_assert_eq(seer_st_info(io, name, NULL, &nd, shape), SEER_STATUS_OK, "%s", seer_last_error());
    *n = numel(nd, shape);
    int64_t *out = malloc(*n * sizeof *out + 1);
    cr_assert_eq(seer_st_read(io, name, SEER_I64, out, *n * sizeof *out), SEER_STATUS_OK, "%s",
                 seer_last_error());
    return out;
}

static seer_enat *load_tiny(seer_device dev) {
    seer_enat *m = NULL;
    cr_assert_eq(seer_enat_load(golden_path("enat_tiny.weights.safetensors"), dev, SEER_F32, &m),
                 SEER_STATUS_OK, "%s", seer_last_error());
    const seer_enat_config *g = seer_enat_get_config(m);
    cr_assert_eq(g->hidden, 32);
    cr_assert_eq(g->depth_enc, 2);
    cr_assert_eq(g->depth_dec, 1);
    cr_assert_eq(g->grid, 4);
    cr_assert_eq(g->codebook_size, 64);
    return m;
}

static void check_close(const char *what, seer_ctx *c, const seer_tensor *got_t, const float *want,
                        size_t n) {
    cr_assert_not_null(got_t, "%s: %s", what, seer_ctx_error(c));
    cr_assert_eq((size_t)seer_tensor_numel(got_t), n, "%s: %lld values, want %zu", what,
                 (long long)seer_tensor_numel(got_t), n);
    float *got = malloc(n * sizeof *got);
    cr_assert_eq(seer_to_host(c, got_t, got), SEER_STATUS_OK, "%s", seer_ctx_error(c));
    double rel = seer_rel_l2(got, want, n), mx = seer_max_abs_diff(got, want, n), norm = 0;
    for (size_t i = 0; i < n; i++)
        norm = fmax(norm, fabs((double)want[i]));
    cr_log_info("enat golden %s: rel-L2 %.2e, max-abs %.2e (max |ref| %.2e)", what, rel, mx, norm);
    cr_assert_leq(rel, 1e-5, "%s rel-L2 %g", what, rel);
    cr_assert_leq(mx, 1e-4 * norm, "%s max-abs %g", what, mx);
    free(got);
}

// A plain forward and one with the cache against a fixture (io: fwd_* and reuse_* as
// tools/golden/make_enat.py writes them; tools/torch_ref/check_enat.py writes the same).
static void run_forward_on(seer_enat *m, seer_device dev, const char *io_path) {
    const seer_enat_config *g = seer_enat_get_config(m);
    seer_st_file *io = NULL;
    cr_assert_eq(seer_st_open(io_path, &io), SEER_STATUS_OK, "%s", seer_last_error());
    int64_t s_ids[6], s_lab[6], s_f[6];
    size_t n_ids, n_lab;
    int nd;
    int64_t *ids_a = read_i64(io, "fwd_ids", s_ids, &n_ids);
    int64_t *ids_b = read_i64(io, "reuse_ids", s_ids, &n_ids);
    int64_t *lab64 = read_i64(io, "fwd_labels", s_lab, &n_lab);
    float *want_la = golden_read(io, "fwd_logits", &nd, s_f);
    size_t n_logits = numel(nd, s_f);
    float *want_fa = golden_read(io, "fwd_feat", &nd, s_f);
    size_t n_feat = numel(nd, s_f);
    float *want_lb = golden_read(io, "reuse_logits", &nd, s_f);
    float *want_fb = golden_read(io, "reuse_feat", &nd, s_f);
    int32_t *labels = malloc(sizeof *labels * n_lab);
    for (size_t i = 0; i < n_lab; i++)
        labels[i] = (int32_t)lab64[i];
    int B = (int)s_ids[0], L = (int)s_ids[1];
    uint8_t *masked_a = malloc(n_ids);
    for (size_t i = 0; i < n_ids; i++)
        masked_a[i] = ids_a[i] == g->codebook_size;

    seer_ctx *c = seer_ctx_new(dev);
    seer_enat_input in = {.batch = B, .ids = ids_a, .labels = labels};
    seer_tensor *feat_a = NULL;
    seer_tensor *logits_a = seer_enat_forward(m, c, &in, &feat_a);
    check_close("forward logits", c, logits_a, want_la, n_logits);
    check_close("forward feat", c, feat_a, want_fa, n_feat);

    // with the cache: seer's own previous features, then the reference's
    seer_enat_input in_b = {
        .batch = B, .ids = ids_b, .labels = labels, .prev_feat = feat_a, .prev_masked = masked_a};
    seer_tensor *feat_b = NULL;
    seer_tensor *logits_b = seer_enat_forward(m, c, &in_b, &feat_b);
    check_close("reuse logits", c, logits_b, want_lb, n_logits);
    check_close("reuse feat", c, feat_b, want_fb, n_feat);
    in_b.prev_feat = seer_from_host(c, want_fa, SEER_F32, 3, (int64_t[]){B, L, g->hidden});
    logits_b = seer_enat_forward(m, c, &in_b, NULL);
    check_close("reuse logits (reference cache)", c, logits_b, want_lb, n_logits);

    free(masked_a);
    free(labels);
    free(ids_a);
    free(ids_b);
    free(lab64);
    free(want_la);
    free(want_fa);
    free(want_lb);
    free(want_fb);
    seer_st_close(io);
    seer_ctx_free(c);
}

static void run_forward(seer_device dev) {
    seer_enat *m = load_tiny(dev);
    run_forward_on(m, dev, golden_path("enat_tiny.io.safetensors"));
    seer_enat_free(m);
}

Test(enat, golden_forward_and_reuse_cpu) {
    run_forward(SEER_DEVICE_CPU);
}

Test(enat, golden_forward_and_reuse_cuda) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip_test("no CUDA device");
    run_forward(SEER_DEVICE_CUDA);
}

// A fixture made outside the test suite: SEER_ENAT_FIXTURE=PREFIX names
// PREFIX.weights.safetensors and PREFIX.io.safetensors (tools/torch_ref/check_enat.py runs this
// with our CIFAR-10 configuration); skipped when unset.
Test(enat, external_fixture_cpu) {
    const char *prefix = getenv("SEER_ENAT_FIXTURE");
    if (!prefix || !*prefix) cr_skip_test("SEER_ENAT_FIXTURE is not set");
    char w[1024], io[1024];
    snprintf(w, sizeof w, "%s.weights.safetensors", prefix);
    snprintf(io, sizeof io, "%s.io.safetensors", prefix);
    seer_enat *m = NULL;
    cr_assert_eq(seer_enat_load(w, SEER_DEVICE_CPU, SEER_F32, &m), SEER_STATUS_OK, "%s",
                 seer_last_error());
    run_forward_on(m, SEER_DEVICE_CPU, io);
    seer_enat_free(m);
}

typedef struct steps_seen {
    int64_t grids[16][2 * 16];
    int n;
} steps_seen;

static int on_step(int step, int steps, const int64_t *ids, int batch, void *user) {
    steps_seen *s = user;
    cr_assert_eq(step, s->n);
    cr_assert_eq(steps, 8);
    memcpy(s->grids[s->n++], ids, sizeof(int64_t) * (size_t)(batch * 16));
    return 0;
}

// The fixture's 8-step generation with its own draws; guided: with the tiny guide model at the
// weight of tools/golden/make_enat_guided.py (enat_tiny_guided.io holds what it must give).
static void run_generate(seer_device dev, bool guided) {
    seer_enat *m = load_tiny(dev), *guide = NULL;
    seer_st_file *io = NULL, *gio = NULL;
    cr_assert_eq(seer_st_open(golden_path("enat_tiny.io.safetensors"), &io), SEER_STATUS_OK);
    float guide_w = 0.0f;
    if (guided) {
        cr_assert_eq(seer_enat_load(golden_path("enat_tiny_guide.weights.safetensors"), dev,
                                    SEER_F32, &guide),
                     SEER_STATUS_OK, "%s", seer_last_error());
        cr_assert_eq(seer_st_open(golden_path("enat_tiny_guided.io.safetensors"), &gio),
                     SEER_STATUS_OK);
        cr_assert_eq(seer_st_metadata_float(gio, "guide_w", 0.0, 100.0, &guide_w), SEER_STATUS_OK,
                     "%s", seer_last_error());
        cr_assert_gt(guide_w, 0.0f);
    }
    int64_t shape[6];
    size_t n_lab, n_k, n_steps, n_ids;
    int nd;
    int64_t *lab64 = read_i64(io, "gen_labels", shape, &n_lab);
    int64_t *k = read_i64(io, "gen_uniform_k", shape, &n_k);
    int64_t *want_steps =
        read_i64(guided ? gio : io, guided ? "guided_steps" : "gen_steps", shape, &n_steps);
    int64_t *want = read_i64(guided ? gio : io, guided ? "guided_ids" : "gen_ids", shape, &n_ids);
    float *gumbel = golden_read(io, "gen_gumbel", &nd, shape);
    double *u = malloc(sizeof(double) * n_k);
    for (size_t i = 0; i < n_k; i++)
        u[i] = ldexp((double)k[i], -53); // exact
    int32_t labels[2] = {(int32_t)lab64[0], (int32_t)lab64[1]};

    seer_ctx *c = seer_ctx_new(dev);
    steps_seen seen = {.n = 0};
    seer_enat_sample_opts o = {.steps = 8,
                               .cfg = 2.5f,
                               .mask_temp = 1.5f,
                               .samp_temp = 6.0f,
                               .guide = guide,
                               .guide_w = guide_w,
                               .token_noise = u,
                               .gumbel_noise = gumbel,
                               .on_step = on_step,
                               .user = &seen};
    int64_t ids[2 * 16];
    cr_assert_eq(seer_enat_generate(m, c, labels, 2, &o, ids), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_eq(seen.n, 8);
    int diff_steps = 0, diff = 0;
    for (int s = 0; s < 8; s++)
        for (int i = 0; i < 32; i++)
            diff_steps += seen.grids[s][i] != want_steps[s * 32 + i];
    for (int i = 0; i < 32; i++)
        diff += ids[i] != want[i];
    cr_log_info("enat golden generation%s: %d of 32 final tokens and %d of 256 step tokens differ",
                guided ? " (guided)" : "", diff, diff_steps);
    cr_assert_eq(diff_steps, 0);
    cr_assert_eq(diff, 0);

    free(u);
    free(k);
    free(lab64);
    free(want_steps);
    free(want);
    free(gumbel);
    seer_st_close(io);
    seer_st_close(gio);
    seer_ctx_free(c);
    seer_enat_free(m);
    seer_enat_free(guide);
}

Test(enat, golden_generation_with_reference_noise_cpu) {
    run_generate(SEER_DEVICE_CPU, false);
}

Test(enat, golden_generation_with_reference_noise_cuda) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip_test("no CUDA device");
    run_generate(SEER_DEVICE_CUDA, false);
}

Test(enat, golden_guided_generation_cpu) {
    run_generate(SEER_DEVICE_CPU, true);
}

Test(enat, golden_guided_generation_cuda) {
    if (!seer_device_available(SEER_DEVICE_CUDA)) cr_skip_test("no CUDA device");
    run_generate(SEER_DEVICE_CUDA, true);
}

// A guide over other tokens (32 codes, not 64) is refused before anything runs.
Test(enat, mismatched_guide_is_refused) {
    seer_enat *m = load_tiny(SEER_DEVICE_CPU), *other = NULL;
    cr_assert_eq(seer_enat_load(golden_path("enat_tiny_guide32.weights.safetensors"),
                                SEER_DEVICE_CPU, SEER_F32, &other),
                 SEER_STATUS_OK, "%s", seer_last_error());
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    uint64_t seeds[1] = {1};
    int32_t labels[1] = {3};
    int64_t ids[16];
    seer_enat_sample_opts o = {.steps = 2,
                               .cfg = 1.0f,
                               .samp_temp = 1.0f,
                               .guide = other,
                               .guide_w = 1.0f,
                               .seeds = seeds};
    cr_assert_eq(seer_enat_generate(m, c, labels, 1, &o, ids), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "does not match"), "%s", seer_last_error());
    o.guide_w = 0.0f; // a guide at weight 0 is not used, so not checked
    cr_assert_eq(seer_enat_generate(m, c, labels, 1, &o, ids), SEER_STATUS_OK, "%s",
                 seer_last_error());
    seer_ctx_free(c);
    seer_enat_free(m);
    seer_enat_free(other);
}

// A seed gives the same image alone or in a batch; other seeds give other images.
Test(enat, seeded_generation_is_per_image) {
    seer_enat *m = load_tiny(SEER_DEVICE_CPU);
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_enat_sample_opts o = {.steps = 8, .cfg = 2.5f, .mask_temp = 1.5f, .samp_temp = 6.0f};
    int32_t labels[3] = {207, 207, 980};
    uint64_t seeds[3] = {11, 12, 13};
    int64_t batch[3 * 16], alone[16], again[16];
    o.seeds = seeds;
    cr_assert_eq(seer_enat_generate(m, c, labels, 3, &o, batch), SEER_STATUS_OK, "%s",
                 seer_last_error());
    o.seeds = &seeds[1];
    cr_assert_eq(seer_enat_generate(m, c, &labels[1], 1, &o, alone), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_eq(seer_enat_generate(m, c, &labels[1], 1, &o, again), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_arr_eq(alone, again, sizeof alone);
    cr_assert_arr_eq(alone, batch + 16, sizeof alone);
    cr_assert(memcmp(batch, batch + 16, sizeof alone) != 0, "seeds 11 and 12 gave the same tokens");
    for (int i = 0; i < 3 * 16; i++)
        cr_assert(batch[i] >= 0 && batch[i] < 64);
    seer_ctx_free(c);
    seer_enat_free(m);
}

Test(enat, inconsistent_masks_are_refused) {
    seer_enat *m = load_tiny(SEER_DEVICE_CPU);
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    int64_t ids[2 * 16];
    for (int i = 0; i < 32; i++)
        ids[i] = i % 3 ? 5 : 64;
    ids[16] = 7; // row 1 has one masked token less
    int32_t labels[2] = {1, 1000};
    seer_enat_input in = {.batch = 2, .ids = ids, .labels = labels};
    cr_assert_null(seer_enat_forward(m, c, &in, NULL));
    cr_assert(strstr(seer_ctx_error(c), "same number of masked"), "%s", seer_ctx_error(c));
    seer_ctx_reset(c);

    ids[16] = 64;
    seer_tensor *feat = NULL;
    cr_assert_not_null(seer_enat_forward(m, c, &in, &feat), "%s", seer_ctx_error(c));
    uint8_t prev_masked[32] = {0}; // nothing was masked before: masked now is refused
    seer_enat_input in2 = {
        .batch = 2, .ids = ids, .labels = labels, .prev_feat = feat, .prev_masked = prev_masked};
    cr_assert_null(seer_enat_forward(m, c, &in2, NULL));
    cr_assert(strstr(seer_ctx_error(c), "was visible in the previous step"), "%s",
              seer_ctx_error(c));
    seer_ctx_reset(c);

    labels[0] = 1001;
    cr_assert_null(seer_enat_forward(m, c, &in, NULL));
    cr_assert(strstr(seer_ctx_error(c), "class 1001"), "%s", seer_ctx_error(c));
    seer_ctx_free(c);
    seer_enat_free(m);
}

// ---- `seer generate` end to end (skipped until main.c dispatches the command) --------------

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/image.h"

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

static bool files_equal(const char *a, const char *b) {
    seer_image x = {0}, y = {0};
    bool same = seer_image_load(a, NULL, &x) == SEER_STATUS_OK &&
                seer_image_load(b, NULL, &y) == SEER_STATUS_OK && x.w == y.w && x.h == y.h &&
                memcmp(x.px, y.px, (size_t)(x.w * x.h * 3)) == 0;
    seer_image_free(&x);
    seer_image_free(&y);
    return same;
}

Test(enat, cli_generate) {
    if (run_seer("generate --help") != 0)
        cr_skip_test("seer generate is not wired into main.c yet");
    char dir[] = "/tmp/seer_enat_XXXXXX", args[4096], a[512], b[512];
    cr_assert_not_null(mkdtemp(dir));
    const char *w = golden_path("enat_tiny.weights.safetensors");
    char wpath[1024], tpath[1024];
    snprintf(wpath, sizeof wpath, "%s", w);
    snprintf(tpath, sizeof tpath, "%s", golden_path("vqgan_tiny.weights.safetensors"));
    snprintf(args, sizeof args,
             "generate --model enat --weights '%s' --tokenizer '%s' --class 207 --n 3 "
             "--batch 2 --seed 5 --device cpu --tokens '%s/t.safetensors' --out '%s/a'",
             wpath, tpath, dir, dir);
    cr_assert_eq(run_seer(args), 0, "%s", cli_out);
    snprintf(args, sizeof args,
             "generate --weights '%s' --tokenizer '%s' --class 207 --seed 6 --device cpu "
             "--out '%s/b'",
             wpath, tpath, dir);
    cr_assert_eq(run_seer(args), 0, "%s", cli_out);
    // seed 6 alone gives the image seed 6 gave in a batch
    snprintf(a, sizeof a, "%s/a/enat_tiny_c207_s6.png", dir);
    snprintf(b, sizeof b, "%s/b/enat_tiny_c207_s6.png", dir);
    cr_assert(files_equal(a, b));
    seer_image img = {0};
    snprintf(a, sizeof a, "%s/a/enat_tiny_c207_s7.png", dir);
    cr_assert_eq(seer_image_load(a, NULL, &img), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(img.w, 8);
    seer_image_free(&img);
    seer_st_file *t = NULL;
    snprintf(a, sizeof a, "%s/t.safetensors", dir);
    cr_assert_eq(seer_st_open(a, &t), SEER_STATUS_OK, "%s", seer_last_error());
    int nd;
    int64_t shape[6];
    cr_assert_eq(seer_st_info(t, "ids", NULL, &nd, shape), SEER_STATUS_OK);
    cr_assert(nd == 3 && shape[0] == 3 && shape[1] == 4 && shape[2] == 4);
    seer_st_close(t);
    // bad input: clear messages, exit code 2
    snprintf(args, sizeof args,
             "generate --weights '%s' --tokenizer '%s' --class 1000 --out '%s/c'", wpath, tpath,
             dir);
    cr_assert_eq(run_seer(args), 2);
    cr_assert(strstr(cli_out, "outside [0, 1000)"), "%s", cli_out);
    snprintf(args, sizeof args, "generate --weights '%s' --tokenizer '%s' --class 1 --out '%s/c'",
             tpath, tpath, dir);
    cr_assert_eq(run_seer(args), 2);
    cr_assert(strstr(cli_out, "not ENAT"), "%s", cli_out);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    cr_assert_eq(system(args), 0);
}

// `seer generate` of the tiny fixture pair with extra arguments; returns its exit code.
static int generate_tiny(const char *extra) {
    char args[8192], wpath[1024];
    snprintf(wpath, sizeof wpath, "%s", golden_path("enat_tiny.weights.safetensors"));
    snprintf(args, sizeof args,
             "generate --weights '%s' --tokenizer '%s' --class 207 --seed 5 "
             "--device cpu %s",
             wpath, golden_path("vqgan_tiny.weights.safetensors"), extra);
    return run_seer(args);
}

// A guide changes the image; a guide without a weight, a weight without a guide, a missing guide
// and a guide over other tokens are refused with a clear message.
Test(enat, cli_generate_guided) {
    if (run_seer("generate --help") != 0)
        cr_skip_test("seer generate is not wired into main.c yet");
    char dir[] = "/tmp/seer_enat_XXXXXX", extra[2048], a[512], b[512], gpath[1024];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(gpath, sizeof gpath, "%s", golden_path("enat_tiny_guide.weights.safetensors"));
    snprintf(extra, sizeof extra, "--out '%s/plain'", dir);
    cr_assert_eq(generate_tiny(extra), 0, "%s", cli_out);
    snprintf(extra, sizeof extra, "--guide '%s' --guide-w 1.5 --out '%s/g'", gpath, dir);
    cr_assert_eq(generate_tiny(extra), 0, "%s", cli_out);
    cr_assert(strstr(cli_out, "guided by enat_tiny_guide (weight 1.5)"), "%s", cli_out);
    snprintf(a, sizeof a, "%s/plain/enat_tiny_c207_s5.png", dir);
    snprintf(b, sizeof b, "%s/g/enat_tiny_c207_s5.png", dir);
    cr_assert(!files_equal(a, b), "the guide changed nothing");
    const struct {
        const char *args, *message;
    } bad[] = {
        {"--guide '%s'", "--guide needs --guide-w"},
        {"--guide-w 2", "--guide-w needs a guide"},
        {"--guide '%s.missing' --guide-w 1", ".missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char opts[1536];
        snprintf(opts, sizeof opts, bad[i].args, gpath);
        snprintf(extra, sizeof extra, "%s --out '%s/c'", opts, dir);
        cr_assert_eq(generate_tiny(extra), 2, "%s: %s", opts, cli_out);
        cr_assert(strstr(cli_out, bad[i].message), "%s: %s", opts, cli_out);
    }
    snprintf(extra, sizeof extra, "--guide '%s' --guide-w 1 --out '%s/c'",
             golden_path("enat_tiny_guide32.weights.safetensors"), dir);
    cr_assert_neq(generate_tiny(extra), 0);
    cr_assert(strstr(cli_out, "does not match"), "%s", cli_out);
    snprintf(extra, sizeof extra, "rm -rf '%s'", dir);
    cr_assert_eq(system(extra), 0);
}
