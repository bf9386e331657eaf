// `seer eval fid`: Frechet distance between two image sets (folders, or saved statistics).
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "app/cli/cli.h"
#include "vision/fid.h"

static const char *usage =
    "usage: seer eval fid --real DIR|STATS.npz --fake DIR|STATS.npz\n"
    "                     [--features inception|resnet56-cifar] [--weights FILE]\n"
    "                     [--save-stats FILE] [--batch N] [--device cpu|cuda]\n"
    "                     [--precision f32|bf16|f16] [--threads N]\n"
    "\n"
    "  --real, --fake    a folder of images (searched recursively; files that do not decode are\n"
    "                    reported and skipped) or statistics saved earlier (.npz with mu and\n"
    "                    sigma: pytorch-fid's --save-stats files and ADM reference batches work)\n"
    "  --features        inception (default): pool3 of pytorch-fid's Inception-v3 (2048-d);\n"
    "                    resnet56-cifar: penultimate features (64-d) of the CIFAR-10 ResNet-56\n"
    "  --weights FILE    weights of the feature network (default: found by its registry name,\n"
    "                    inception_v3_fid or resnet56, in $SEER_MODELS and assets/models)\n"
    "  --save-stats FILE write the statistics of --real (pytorch-fid layout); --fake may then be\n"
    "                    left out\n";

typedef struct feature_kind {
    const char *name;   // --features value
    const char *arch;   // registry name
    const char *how_to; // how to get the weights
} feature_kind;

static const feature_kind kinds[] = {
    {"inception", "inception_v3_fid",
     "The Inception-v3 FID weights are not shipped with seer. Download pytorch-fid's\n"
     "  https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth\n"
     "convert them with\n"
     "  tools/convert.py pt_inception-2015-12-05-6726825d.pth inception_v3_fid.safetensors --arch inception_v3_fid\n"
     "and pass --weights inception_v3_fid.safetensors (or put the file in $SEER_MODELS)."},
    {"resnet56-cifar", "resnet56",
     "Convert the pretrained CIFAR-10 ResNet-56 with\n"
     "  tools/convert.py ../shared/data/weights/resnet-cifar10/resnet56-4bfd9763.th resnet56.safetensors --arch resnet56\n"
     "and pass --weights resnet56.safetensors (or put the file in $SEER_MODELS)."},
};

// One side of the comparison: statistics from a file or from images.
typedef struct side {
    const char *label;  // "real" / "fake"
    const char *path;
    bool is_stats;
    seer_fid_stats stats;
    int64_t images;     // images used (-1: statistics file)
    int bad;            // files skipped
} side;

static bool is_stats_path(const char *p) {
    size_t n = strlen(p);
    struct stat sb;
    return n > 4 && strcasecmp(p + n - 4, ".npz") == 0 && !(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode));
}

static void on_bad_file(const char *path, const char *error, void *user) {
    side *s = user;
    s->bad++;
    if (strstr(error, path)) fprintf(stderr, "seer: skipped: %s\n", error);
    else fprintf(stderr, "seer: skipped %s: %s\n", path, error);
}

// Statistics of the images under s->path. Prints its own errors; false if none usable.
static bool images_stats(side *s, seer_model *m, seer_ctx *ctx, int batch, const seer_preprocess *pre) {
    seer_dataset ds = {0};
    if (seer_dataset_collect(&s->path, 1, NULL, &ds) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: --%s: %s\n", s->label, seer_last_error());
        return false;
    }
    fprintf(stderr, "seer: %s: %d files in %s\n", s->label, ds.count, s->path);
    cli_progress prog;
    cli_progress_init(&prog);
    seer_fid_extract_opts o = {.batch = batch, .pre = pre, .bad_file = on_bad_file, .bad_file_user = s,
                               .progress = cli_progress_update, .progress_user = &prog};
    seer_fid_accum *acc = NULL;
    seer_status st = seer_fid_extract(m, ctx, ds.items, ds.count, &o, &acc);
    cli_progress_done(&prog, ds.count);
    bool ok = false;
    if (st != SEER_STATUS_OK) {
        fprintf(stderr, "seer: --%s: %s\n", s->label, seer_last_error());
    } else if (!acc || seer_fid_accum_count(acc) < 2) {
        fprintf(stderr, "seer: --%s: %lld of %d files could be read from %s; statistics need at least 2 images\n",
                s->label, acc ? (long long)seer_fid_accum_count(acc) : 0LL, ds.count, s->path);
    } else if (seer_fid_accum_stats(acc, &s->stats) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: --%s: %s\n", s->label, seer_last_error());
    } else {
        s->images = s->stats.count;
        ok = true;
    }
    seer_fid_accum_free(acc);
    seer_dataset_free(&ds);
    return ok;
}

static void describe(const side *s, char *buf, size_t n) {
    if (s->images < 0) snprintf(buf, n, "%s: statistics %s", s->label, s->path);
    else if (s->bad) snprintf(buf, n, "%s: %lld images, %d files skipped", s->label, (long long)s->images, s->bad);
    else snprintf(buf, n, "%s: %lld images", s->label, (long long)s->images);
}

int cmd_fid(int argc, char **argv) {
    cli_model_opts mo = {.batch = 32};
    const char *features = "inception", *save_stats = NULL;
    side sides[2] = {{.label = "real", .images = -1}, {.label = "fake", .images = -1}};
    bool bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        if (cli_take_model_opt(&mo, argc, argv, &i, &bad)) continue;
        if (strcmp(argv[i], "--real") == 0) {
            bad = !(sides[0].path = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--fake") == 0) {
            bad = !(sides[1].path = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--features") == 0) {
            bad = !(features = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--save-stats") == 0) {
            bad = !(save_stats = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "seer eval fid: unknown %s %s\n%s", argv[i][0] == '-' ? "option" : "argument",
                    argv[i], usage);
            bad = true;
        }
    }
    const feature_kind *kind = NULL;
    for (size_t k = 0; !bad && k < sizeof kinds / sizeof *kinds; k++)
        if (strcmp(features, kinds[k].name) == 0) kind = &kinds[k];
    if (!bad && !kind) {
        fprintf(stderr, "seer eval fid: --features must be inception or resnet56-cifar (got '%s')\n", features);
        bad = true;
    }
    if (!bad && (mo.model || mo.preprocess)) {
        fprintf(stderr, "seer eval fid: %s is not an option here; the feature network is chosen with --features\n",
                mo.model ? "--model" : "--preprocess");
        bad = true;
    }
    if (!bad && (!sides[0].path || (!sides[1].path && !save_stats))) {
        fprintf(stderr, "seer eval fid: give --real and --fake (or --real and --save-stats)\n%s", usage);
        bad = true;
    }
    if (bad) return EXIT_USAGE;

    int rc = EXIT_USAGE;
    bool need_model = false;
    for (int k = 0; k < 2; k++) {
        sides[k].is_stats = sides[k].path && is_stats_path(sides[k].path);
        need_model |= sides[k].path && !sides[k].is_stats;
    }
    seer_model *m = NULL;
    seer_ctx *ctx = NULL;
    seer_preprocess pre;
    const seer_preprocess *pre_p = NULL;
    char found[4096];
    if (need_model) {
        if (!mo.weights && !(mo.weights = cli_find_weights(kind->arch, found, sizeof found))) {
            fprintf(stderr, "seer: no weights for --features %s (looked for %s.safetensors in $SEER_MODELS and "
                    "assets/models).\n%s\n", kind->name, kind->arch, kind->how_to);
            return EXIT_USAGE;
        }
        mo.model = kind->arch;
        if (!(m = cli_load_model(&mo, &ctx))) return EXIT_USAGE;
        // pytorch-fid's Inception takes each image's own pixels in [0, 1] and resizes inside
        // the model (pre = NULL); the CIFAR ResNet takes its evaluation preset.
        if (m->arch->features == NULL) {
            fprintf(stderr, "seer: %s has no feature output\n", m->arch->name);
            goto out;
        }
        if (strcmp(kind->name, "inception") != 0) {
            if (seer_model_preprocess(m, &pre) != SEER_STATUS_OK) {
                fprintf(stderr, "seer: %s\n", seer_last_error());
                goto out;
            }
            pre_p = &pre;
        }
    }
    for (int k = 0; k < 2; k++) {
        side *s = &sides[k];
        if (!s->path) continue;
        if (s->is_stats) {
            if (seer_fid_stats_load(s->path, &s->stats) != SEER_STATUS_OK) {
                fprintf(stderr, "seer: --%s: %s\n", s->label, seer_last_error());
                goto out;
            }
        } else if (!images_stats(s, m, ctx, mo.batch, pre_p)) {
            goto out;
        }
    }
    if (save_stats) {
        if (seer_fid_stats_save(save_stats, &sides[0].stats) != SEER_STATUS_OK) {
            fprintf(stderr, "seer: --save-stats: %s\n", seer_last_error());
            goto out;
        }
        fprintf(stderr, "seer: wrote the %d-d statistics of --real (%s) to %s\n", sides[0].stats.dim,
                kind->name, save_stats);
    }
    if (sides[1].path) {
        double d = 0;
        if (seer_fid_distance(&sides[0].stats, &sides[1].stats, &d) != SEER_STATUS_OK) {
            fprintf(stderr, "seer: --real vs --fake: %s\n", seer_last_error());
            goto out;
        }
        char r[600], f[600];
        describe(&sides[0], r, sizeof r);
        describe(&sides[1], f, sizeof f);
        printf("FID (%s): %.6g  [%s; %s]\n", kind->name, d, r, f);
        if (strcmp(kind->name, "inception") != 0)
            printf("note: this is a CIFAR-10 ResNet-56 feature FID (64-d penultimate features), not "
                   "comparable to Inception FID values\n");
    }
    rc = sides[0].bad || sides[1].bad ? EXIT_SOME_FAILED : 0;
out:
    for (int k = 0; k < 2; k++) seer_fid_stats_free(&sides[k].stats);
    seer_model_free(m);
    seer_ctx_free(ctx);
    return rc;
}
