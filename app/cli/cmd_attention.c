// `seer attention`: where a classifier looks, as a PNG of each image with the model's
// attention view (vision/attention.h) drawn over the part of the image the model sees.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cli/cli.h"
#include "core/image.h"
#include "vision/attention.h"

static const char *usage =
    "usage: seer attention [--model NAME | --weights FILE] --out DIR [--query X,Y]\n"
    "                      [--device cpu|cuda] [--precision f32|bf16|f16] [--threads N] PATH...\n"
    "  Writes DIR/<image name>.attention.png: the image with the model's attention view over\n"
    "  the region the model sees (DeiT/Agent-DeiT rollout, Sparsifiner connectivity, VAN's LKA\n"
    "  response, VOLO's class attention, BiFormer's routed attention; models without one are\n"
    "  refused). --query X,Y: the view from the patch at fractions X, Y of the model's input\n"
    "  (0..1, left to right and top to bottom), for the models whose view depends on one.\n";

typedef struct attn_opts {
    cli_model_opts mo;
    const char *out, *query;
    const char **paths;
    int n_paths;
    float qx, qy;
} attn_opts;

static bool parse(attn_opts *o, int argc, char **argv) {
    bool bad = false;
    o->qx = o->qy = -1;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_take_model_opt(&o->mo, argc, argv, &i, &bad)) continue;
        if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "-o") == 0) {
            bad = !(o->out = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--query") == 0) {
            bad = !(o->query = cli_value(argc, argv, &i));
            char *end = NULL;
            if (!bad) {
                o->qx = strtof(o->query, &end);
                bad = *end != ',' || !(o->qx >= 0 && o->qx <= 1);
                if (!bad) o->qy = strtof(end + 1, &end);
                bad = bad || *end || !(o->qy >= 0 && o->qy <= 1);
                if (bad)
                    fprintf(stderr, "seer: --query takes X,Y as fractions in [0, 1] (got '%s')\n",
                            o->query);
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "seer attention: unknown option %s\n%s", argv[i], usage);
            bad = true;
        } else {
            o->paths[o->n_paths++] = argv[i];
        }
    }
    if (!bad && (!o->out || !o->n_paths)) {
        fprintf(stderr, "seer attention: %s\n%s", !o->out ? "--out DIR is needed" : "no images",
                usage);
        bad = true;
    }
    return !bad;
}

// DIR/<base name without extension>.attention.png
static void out_path(const char *dir, const char *image, char *buf, size_t n) {
    const char *base = strrchr(image, '/');
    base = base ? base + 1 : image;
    const char *dot = strrchr(base, '.');
    int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(buf, n, "%s/%.*s.attention.png", dir, len, base);
}

// One image: its map, the overlay, the PNG. Prints the reason and returns false on failure.
static bool one(seer_model *m, seer_ctx *c, const attn_opts *o, const char *path) {
    seer_attention_map a;
    seer_image img = {0}, over = {0};
    char dst[4096];
    out_path(o->out, path, dst, sizeof dst);
    seer_status st = seer_attention_map_file(m, c, path, o->qx, o->qy, &a);
    if (st == SEER_STATUS_OK) st = seer_image_load(path, NULL, &img);
    float crop[4] = {0, 0, 0, 0};
    if (st == SEER_STATUS_OK) {
        seer_attention_input_region(m, img.w, img.h, crop);
        st = seer_attention_overlay(&img, &a, crop, &over);
    }
    if (st == SEER_STATUS_OK) {
        char grid[32], query[64], region[96];
        if (crop[2] > 0) // the model's input as pixels of the image (a CIFAR model: its centre 32x32)
            snprintf(region, sizeof region, "model input %.0fx%.0f at %.0f,%.0f of %dx%d",
                     crop[2] * img.w, crop[3] * img.h, crop[0] * img.w, crop[1] * img.h, img.w,
                     img.h);
        else
            snprintf(region, sizeof region, "model input: the whole %dx%d image", img.w, img.h);
        snprintf(grid, sizeof grid, "%dx%d", a.h, a.w);
        if (o->qx >= 0) snprintf(query, sizeof query, "%g,%g", o->qx, o->qy);
        else snprintf(query, sizeof query, "none");
        const char *keys[] = {"model", "view", "grid", "query", "image", "Software"};
        const char *vals[] = {m->arch->name, a.method, grid, query, path, "seer"};
        st = seer_image_write_png(dst, &over, keys, vals, 6);
        if (st == SEER_STATUS_OK)
            printf("%s -> %s (%s, %s tokens, %s)\n", path, dst, a.method, grid, region);
    }
    if (st != SEER_STATUS_OK) fprintf(stderr, "seer: %s: %s\n", path, seer_last_error());
    seer_attention_map_free(&a);
    seer_image_free(&img);
    seer_image_free(&over);
    seer_ctx_reset(c);
    return st == SEER_STATUS_OK;
}

int cmd_attention(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    attn_opts o = {.paths = calloc((size_t)argc + 1, sizeof(char *))};
    if (!o.paths || !parse(&o, argc, argv)) {
        free(o.paths);
        return EXIT_USAGE;
    }
    int rc = EXIT_USAGE;
    seer_ctx *c = NULL;
    seer_model *m = NULL;
    seer_dataset ds = {0};
    seer_attention_info info;
    if (!(m = cli_load_model(&o.mo, &c))) goto out;
    if (!seer_model_attention_info(m, &info)) {
        fprintf(stderr, "seer: %s has no attention view (the attention families have one: "
                        "DeiT, Agent-DeiT, Sparsifiner, VAN, VOLO, BiFormer)\n", m->arch->name);
        goto out;
    }
    if (o.qx >= 0 && !info.uses_query)
        fprintf(stderr, "seer: note: %s's view (%s) does not depend on --query\n", m->arch->name,
                info.method);
    if (seer_make_dirs(o.out) != SEER_STATUS_OK ||
        seer_dataset_collect(o.paths, o.n_paths, NULL, &ds) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        goto out;
    }
    int failed = 0;
    for (int i = 0; i < ds.count; i++) failed += !one(m, c, &o, ds.items[i].path);
    rc = failed ? EXIT_SOME_FAILED : 0;
    if (failed) fprintf(stderr, "seer: %d of %d images failed\n", failed, ds.count);
out:
    seer_dataset_free(&ds);
    seer_model_free(m);
    seer_ctx_free(c);
    free(o.paths);
    return rc;
}
