// The `seer` command end to end on bad input: each case gives a clear message, no crash, and
// finished rows are kept. Uses the golden ResNet-8 weights (tests/golden/), no shared data.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/image.h"
#include "tests/golden_util.h"

static char dir[256];
static char out[1 << 16];  // stdout + stderr of the last run

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/seer_cli_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

// Runs build/seer with the shell words in args; returns its exit code; output in `out`.
static int run(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/seer' %s 2>&1", dir, SEER_BINARY_DIR, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st), "seer did not exit normally (crash?): %s\n%s", args, out);
    return WEXITSTATUS(st);
}

static void write_file(const char *name, const void *bytes, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    if (n) cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

// A small PNG written by seer itself, then copied under other names.
static void write_png(const char *name, int w, int h) {
    uint8_t *px = malloc((size_t)(w * h * 3));
    for (int i = 0; i < w * h * 3; i++) px[i] = (uint8_t)(i * 37 + 11);
    seer_image img = {.w = w, .h = h, .c = 3, .px = px};
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(seer_image_write_png(path, &img, NULL, NULL, 0), SEER_STATUS_OK, "%s", seer_last_error());
    free(px);
}

static const char *weights(void) {
    static char buf[1100];
    snprintf(buf, sizeof buf, "--weights '%s'", golden_path("resnet8_cifar.weights.safetensors"));
    return buf;
}

TestSuite(cli, .init = make_dir, .fini = remove_dir);

Test(cli, bad_files_are_reported_and_the_run_goes_on) {
    mkdir(strcat(strcpy(out, dir), "/imgs"), 0755);
    write_png("imgs/good.png", 32, 32);
    write_png("imgs/png_named.jpg", 40, 30);
    write_file("imgs/empty.jpg", "", 0);
    write_file("imgs/notes.txt", "not an image\n", 13);
    const uint8_t jpeg_head[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0};
    write_file("imgs/truncated.jpg", jpeg_head, sizeof jpeg_head);
    char args[2048];
    snprintf(args, sizeof args, "classify %s --device cpu --format jsonl --output res.jsonl imgs", weights());
    int rc = run(args);
    cr_assert_eq(rc, 1, "exit %d, want 1 (some files failed): %s", rc, out);
    cr_assert(strstr(out, "3 of 5 files could not be classified"), "%s", out);
    FILE *f = fopen(strcat(strcpy(out, dir), "/res.jsonl"), "r");
    cr_assert_not_null(f);
    char line[4096];
    int ok = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "\"ok\": true") || strstr(line, "\"ok\":true")) ok++;
        else bad++;
        if (strstr(line, "empty.jpg")) cr_assert(strstr(line, "error"), "%s", line);
    }
    fclose(f);
    cr_assert_eq(ok, 2, "the PNG and the PNG named .jpg classify");
    cr_assert_eq(bad, 3);
}

Test(cli, resume_skips_finished_rows_and_drops_a_partial_line) {
    mkdir(strcat(strcpy(out, dir), "/imgs"), 0755);
    write_png("imgs/a.png", 32, 32);
    write_png("imgs/b.png", 32, 32);
    write_png("imgs/c.png", 32, 32);
    char args[2048];
    snprintf(args, sizeof args, "classify %s --device cpu --format csv --output res.csv imgs", weights());
    cr_assert_eq(run(args), 0, "%s", out);
    // Simulate a run killed while writing c's row: drop the last row and leave half of it.
    char path[512];
    snprintf(path, sizeof path, "%s/res.csv", dir);
    FILE *f = fopen(path, "r");
    char all[8192];
    size_t n = fread(all, 1, sizeof all - 1, f);
    fclose(f);
    all[n] = '\0';
    char *last = strstr(all, "c.png");
    cr_assert_not_null(last);
    while (last > all && last[-1] != '\n') last--;
    f = fopen(path, "w");
    fwrite(all, 1, (size_t)(last - all) + 7, f);  // partial row, no newline
    fclose(f);
    snprintf(args, sizeof args, "classify %s --device cpu --format csv --output res.csv --resume imgs", weights());
    cr_assert_eq(run(args), 0, "%s", out);
    cr_assert(strstr(out, "2 of 3 files already done"), "%s", out);
    f = fopen(path, "r");
    n = fread(all, 1, sizeof all - 1, f);
    fclose(f);
    all[n] = '\0';
    int rows = 0;
    for (char *p = all; (p = strchr(p, '\n')); p++) rows++;
    cr_assert_eq(rows, 4, "header + 3 rows, got:\n%s", all);
    cr_assert_eq(strstr(strstr(all, "c.png") + 1, "c.png"), NULL, "c.png once:\n%s", all);
}

Test(cli, usage_errors_are_clear) {
    write_png("x.png", 32, 32);
    char args[2048];
    snprintf(args, sizeof args, "classify %s --device cpu --topk 0 x.png", weights());
    cr_assert_eq(run(args), 2);
    cr_assert(strstr(out, "--topk must be"), "%s", out);
    snprintf(args, sizeof args, "classify %s --device cpu --topk 11 x.png", weights());
    cr_assert_eq(run(args), 2);
    cr_assert(strstr(out, "more than the 10 classes"), "%s", out);
    snprintf(args, sizeof args, "classify %s --device cpu --batch 0 x.png", weights());
    cr_assert_eq(run(args), 2);
    cr_assert(strstr(out, "--batch must be"), "%s", out);
    mkdir(strcat(strcpy(out, dir), "/empty"), 0755);
    snprintf(args, sizeof args, "classify %s --device cpu empty", weights());
    cr_assert_eq(run(args), 2);
    cr_assert(strstr(out, "holds no files"), "%s", out);
    snprintf(args, sizeof args, "classify %s --device cpu missing.png", weights());
    cr_assert_eq(run(args), 2);
    cr_assert(strstr(out, "missing.png"), "%s", out);
    cr_assert_eq(run("classify --model resnet20 --weights nothing.safetensors x.png"), 2);
    cr_assert(strstr(out, "nothing.safetensors"), "%s", out);
    cr_assert_eq(run("frobnicate"), 2);
    cr_assert(strstr(out, "unknown command"), "%s", out);
}

Test(cli, weights_of_another_architecture) {
    write_png("x.png", 32, 32);
    char args[2048];
    snprintf(args, sizeof args, "classify %s --model resnet56 --device cpu x.png", weights());
    cr_assert_eq(run(args), 2);
    cr_assert(strstr(out, "layer1.1.conv1.weight"), "names the first tensor that does not fit: %s", out);
}

Test(cli, eval_top1_label_file_and_missing_class) {
    mkdir(strcat(strcpy(out, dir), "/data"), 0755);
    mkdir(strcat(strcpy(out, dir), "/data/cat"), 0755);
    mkdir(strcat(strcpy(out, dir), "/data/ship"), 0755);
    write_png("data/cat/1.png", 32, 32);
    write_png("data/ship/2.png", 32, 32);
    const char *names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    write_file("labels.txt", names, strlen(names));
    char args[2048];
    snprintf(args, sizeof args, "eval top1 %s --device cpu --data data --labels labels.txt", weights());
    cr_assert_eq(run(args), 0, "%s", out);
    cr_assert(strstr(out, "images     2 evaluated"), "%s", out);
    // A class folder that the label file does not name.
    mkdir(strcat(strcpy(out, dir), "/data/zebra"), 0755);
    write_png("data/zebra/3.png", 32, 32);
    cr_assert_eq(run(args), 2);
    cr_assert(strstr(out, "class folder 'zebra'"), "%s", out);
}

Test(cli, a_shipped_model_is_named_by_its_file) {
    // assets/models/van_cifar.safetensors is `--model van_cifar`: a file name, not a registry
    // name; its seer.arch metadata says the architecture.
    write_png("x.png", 32, 32);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/models' && cp '%s' '%s/models/my_net.safetensors'", dir,
             golden_path("resnet8_cifar.weights.safetensors"), dir);
    cr_assert_eq(system(cmd), 0);
    setenv("SEER_MODELS", "models", 1);  // run() works in dir
    int rc = run("classify --model my_net --device cpu x.png");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "x.png"), "%s", out);
    cr_assert_eq(run("models"), 0, "%s", out);  // listed with the architecture it loads as
    cr_assert(strstr(out, "my_net") && strstr(out, "resnet8 "), "%s", out);
    unsetenv("SEER_MODELS");
    cr_assert_eq(run("classify --model no_such_net --device cpu x.png"), 2);
    cr_assert(strstr(out, "unknown model 'no_such_net'"), "%s", out);
}

Test(cli, attention_writes_the_overlay_and_reports_bad_files) {
    write_png("a.png", 32, 32);
    write_file("broken.jpg", "<html>no image</html>", 21);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "attention --weights '%s' --device cpu --query 0.5,0.25 --out o a.png broken.jpg",
             golden_path("attn_van.weights.safetensors"));
    cr_assert_eq(run(cmd), 1, "one of two images fails: exit 1\n%s", out);
    cr_assert(strstr(out, "a.png -> o/a.attention.png"), "%s", out);
    cr_assert(strstr(out, "broken.jpg"), "the bad file is named: %s", out);
    cr_assert(strstr(out, "does not depend on --query"), "VAN's view has no query: %s", out);
    char path[512];
    snprintf(path, sizeof path, "%s/o/a.attention.png", dir);
    seer_image got = {0}, in = {0};
    cr_assert_eq(seer_image_load(path, NULL, &got), SEER_STATUS_OK, "%s", seer_last_error());
    snprintf(path, sizeof path, "%s/a.png", dir);
    cr_assert_eq(seer_image_load(path, NULL, &in), SEER_STATUS_OK);
    cr_assert(got.w == 32 && got.h == 32 && got.c == 3);
    int changed = 0;
    for (int i = 0; i < 32 * 32 * 3; i++) changed += got.px[i] != in.px[i];
    cr_assert_gt(changed, 32 * 32, "the overlay changes the image (%d bytes)", changed);
    seer_image_free(&got);
    seer_image_free(&in);
}

Test(cli, attention_refuses_models_without_a_view_and_bad_queries) {
    write_png("a.png", 32, 32);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "attention %s --device cpu --out o a.png", weights());
    cr_assert_eq(run(cmd), 2, "%s", out);
    cr_assert(strstr(out, "has no attention view"), "%s", out);
    snprintf(cmd, sizeof cmd, "attention --weights '%s' --query 2,0 --out o a.png",
             golden_path("attn_van.weights.safetensors"));
    cr_assert_eq(run(cmd), 2, "%s", out);
    cr_assert(strstr(out, "--query takes X,Y as fractions in [0, 1]"), "%s", out);
    cr_assert_eq(run("attention a.png"), 2, "%s", out);
    cr_assert(strstr(out, "--out DIR is needed"), "%s", out);
}
