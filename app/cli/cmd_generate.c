// `seer generate`: class-conditional images from a token generator (ENAT) and its VQ tokenizer.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/cli/cli.h"
#include "core/image.h"
#include "core/safetensors.h"
#include "generate/enat.h"
#include "tokenizer/vqgan.h"

static const char *usage =
    "usage: seer generate --model enat [--weights FILE] [--tokenizer FILE] --class ID|NAME --out "
    "DIR\n"
    "                     [--n N] [--steps T] [--cfg W] [--mask-temp X] [--samp-temp X]\n"
    "                     [--seed S] [--batch B] [--labels FILE] [--device cpu|cuda]\n"
    "                     [--precision f32|bf16|f16] [--threads N] [--tokens FILE] [--noise FILE]\n"
    "                     [--guide FILE|none] [--guide-w W]\n"
    "  --model enat|enat_l|enat_l_512   the generator (weights found as NAME.safetensors when\n"
    "                     --weights is not given; the tokenizer as the generator's metadata\n"
    "                     enat.tokenizer names it, else vq-f16-jax.safetensors)\n"
    "  --class            class index, or a name from --labels FILE (one class per line, e.g.\n"
    "                     ImageNet's synset_words.txt): the synset id, the full name or any of\n"
    "                     its comma-separated names (case-insensitive)\n"
    "  --n N              images to make (default 1); image i uses seed S + i (default S = 0)\n"
    "  steps, cfg, temperatures: the model's defaults (ENAT-L 256: 8 steps, cfg 2.5, mask 1.5,\n"
    "                     sampling 6)\n"
    "  --guide FILE|none  the weaker model that guides the sampler (autoguidance), or none;\n"
    "                     default: the one the generator's metadata enat.guide names, found next\n"
    "                     to it or as NAME.safetensors like the generator (the shipped enat_cifar\n"
    "                     names enat_cifar_guide); official ENAT files name none\n"
    "  --guide-w W        its weight (default: the generator's enat.guide_w)\n"
    "  --tokens FILE      also write the token ids [N, h, w] (decode: seer tokenize decode)\n"
    "  --noise FILE       take the random draws from FILE instead of the seeds (comparisons with\n"
    "                     the reference): token_uniform_k I64 [T, N, L] (uniform = k / 2^53) and\n"
    "                     gumbel F32 [T, N, L]\n"
    "Writes DIR/<model>_c<class>_s<seed>.png with the settings in PNG text chunks.\n";

typedef struct gen_opts {
    cli_model_opts mo;
    const char *tokenizer, *class_arg, *out, *labels, *tokens, *noise, *guide;
    int n, steps;
    double cfg, mask_temp, samp_temp, guide_w; // < 0: the model's default
    unsigned long long seed;
} gen_opts;

static bool parse_double(const char *opt, const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= 0) || v > 1e6) {
        fprintf(stderr, "seer: %s must be a number >= 0 (got '%s')\n", opt, s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse(gen_opts *o, int argc, char **argv) {
    bool bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (cli_take_model_opt(&o->mo, argc, argv, &i, &bad)) continue;
        if (strcmp(argv[i], "--tokenizer") == 0) {
            bad = !(o->tokenizer = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--class") == 0) {
            bad = !(o->class_arg = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "-o") == 0) {
            bad = !(o->out = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--labels") == 0) {
            bad = !(o->labels = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--tokens") == 0) {
            bad = !(o->tokens = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--noise") == 0) {
            bad = !(o->noise = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--guide") == 0) {
            bad = !(o->guide = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--guide-w") == 0) {
            bad = !(v = cli_value(argc, argv, &i)) || !parse_double("--guide-w", v, &o->guide_w);
        } else if (strcmp(argv[i], "--n") == 0) {
            bad = !(v = cli_value(argc, argv, &i)) || !cli_parse_int("--n", v, 1, 1 << 24, &o->n);
        } else if (strcmp(argv[i], "--steps") == 0) {
            bad = !(v = cli_value(argc, argv, &i)) ||
                  !cli_parse_int("--steps", v, 1, 1024, &o->steps);
        } else if (strcmp(argv[i], "--cfg") == 0) {
            bad = !(v = cli_value(argc, argv, &i)) || !parse_double("--cfg", v, &o->cfg);
        } else if (strcmp(argv[i], "--mask-temp") == 0) {
            bad =
                !(v = cli_value(argc, argv, &i)) || !parse_double("--mask-temp", v, &o->mask_temp);
        } else if (strcmp(argv[i], "--samp-temp") == 0) {
            bad =
                !(v = cli_value(argc, argv, &i)) || !parse_double("--samp-temp", v, &o->samp_temp);
        } else if (strcmp(argv[i], "--seed") == 0) {
            char *end;
            bad = !(v = cli_value(argc, argv, &i));
            if (!bad) {
                errno = 0;
                o->seed = strtoull(v, &end, 10);
                if (*v == '\0' || *v == '-' || *end != '\0' || errno) {
                    fprintf(stderr, "seer: --seed must be a whole number >= 0 (got '%s')\n", v);
                    bad = true;
                }
            }
        } else {
            fprintf(stderr, "seer generate: unknown %s %s\n%s",
                    argv[i][0] == '-' ? "option" : "argument", argv[i], usage);
            bad = true;
        }
    }
    if (!bad && (!o->class_arg || !o->out)) {
        fprintf(stderr, "seer generate: give --class and --out\n%s", usage);
        bad = true;
    }
    if (!bad && o->mo.model && strncmp(o->mo.model, "enat", 4) != 0) {
        fprintf(stderr, "seer generate: unknown generator '%s' (have: enat, enat_l, enat_l_512)\n",
                o->mo.model);
        bad = true;
    }
    return !bad;
}

// Case-insensitive equality of s and the n bytes at w.
static bool word_eq(const char *s, const char *w, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != tolower((unsigned char)w[i])) return false;
    return true;
}

// --class: a number, or a label's id, full name or one of its comma-separated names.
static int resolve_class(const gen_opts *o, int num_classes, char *name, size_t name_n) {
    char *end;
    long v = strtol(o->class_arg, &end, 10);
    name[0] = '\0';
    seer_labels labels = {0};
    bool have = o->labels && seer_labels_load(o->labels, &labels) == SEER_STATUS_OK;
    if (o->labels && !have) {
        fprintf(stderr, "seer: --labels: %s\n", seer_last_error());
        return -1;
    }
    if (!have && num_classes == 1000) {  // ImageNet classes ship as an asset
        char buf[4096];
        const char *asset = cli_find_asset("labels/imagenet.txt", buf, sizeof buf);
        have = asset && seer_labels_load(asset, &labels) == SEER_STATUS_OK;
    }
    if (!have && num_classes == 10)  // our CIFAR-10 generator
        have = seer_labels_builtin("cifar10", &labels) == SEER_STATUS_OK;
    if (have && labels.count != num_classes) {
        fprintf(stderr, "seer: the labels have %d classes, the model %d\n", labels.count,
                num_classes);
        seer_labels_free(&labels);
        return -1;
    }
    int id = -1;
    if (*o->class_arg && *end == '\0') {
        id = v >= 0 && v < num_classes ? (int)v : -2;
    } else if (have) {
        id = seer_labels_find(&labels, o->class_arg);
        for (int i = 0; i < labels.count && id < 0; i++) {
            const char *p = labels.name[i];
            while (*p && id < 0) {
                while (*p == ' ' || *p == ',')
                    p++;
                size_t n = strcspn(p, ",");
                while (n > 0 && p[n - 1] == ' ')
                    n--;
                if (n && word_eq(o->class_arg, p, n)) id = i;
                p += strcspn(p, ",");
            }
        }
    }
    if (id >= 0 && have)
        snprintf(name, name_n, "%s", labels.name[id][0] ? labels.name[id] : labels.id[id]);
    if (id == -2)
        fprintf(stderr, "seer: --class %s is outside [0, %d)\n", o->class_arg, num_classes);
    else if (id < 0 && !have)
        fprintf(stderr,
                "seer: --class %s: class names need --labels FILE (e.g. ImageNet's "
                "synset_words.txt), or give the class index\n",
                o->class_arg);
    else if (id < 0)
        fprintf(stderr, "seer: --class %s: no such class in the labels\n", o->class_arg);
    seer_labels_free(&labels);
    return id;
}

typedef struct progress {
    cli_progress bar;
    int done, total, steps;
} progress;

static int on_step(int step, int steps, const int64_t *ids, int batch, void *user) {
    (void)ids;
    progress *p = user;
    if (!p->bar.enabled) return 0;
    double t = cli_now(), frac = p->done + (double)batch * (step + 1) / steps;
    if (t - p->bar.last < 0.1 && step + 1 < steps) return 0;
    p->bar.last = t;
    double rate = frac / (t - p->bar.start + 1e-9), eta = rate > 0 ? (p->total - frac) / rate : 0;
    int width = 30, fill = (int)(width * frac / p->total);
    fprintf(stderr, "\r[%.*s%*s] %d/%d images  step %d/%d  %.2f img/s  ETA %02d:%02d ", fill,
            "##############################", width - fill, "", p->done, p->total, step + 1, steps,
            rate, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
    return 0;
}

// --noise FILE: [T, N, L] token uniforms (as k / 2^53) and Gumbels.
typedef struct noise {
    double *u;
    float *g;
} noise;

static bool noise_load(const char *path, int steps, int n, int L, noise *out) {
    seer_st_file *f = NULL;
    size_t count = (size_t)steps * (size_t)n * (size_t)L;
    int64_t *k = malloc(sizeof *k * count + 1);
    out->u = malloc(sizeof *out->u * count + 1);
    out->g = malloc(sizeof *out->g * count + 1);
    bool ok =
        k && out->u && out->g && seer_st_open(path, &f) == SEER_STATUS_OK &&
        seer_st_read(f, "token_uniform_k", SEER_I64, k, sizeof *k * count) == SEER_STATUS_OK &&
        seer_st_read(f, "gumbel", SEER_F32, out->g, sizeof *out->g * count) == SEER_STATUS_OK;
    if (!ok)
        fprintf(stderr,
                "seer: --noise %s: %s (want token_uniform_k I64 and gumbel F32, [%d, %d, %d])\n",
                path, seer_last_error(), steps, n, L);
    for (size_t i = 0; ok && i < count; i++)
        out->u[i] = ldexp((double)k[i], -53);
    seer_st_close(f);
    free(k);
    return ok;
}

// Rows [i0, i0 + n) of every step of a [T, N, L] array, packed as [T, n, L].
static void noise_slice(const noise *all, int steps, int N, int L, int i0, int n, noise *out) {
    for (int t = 0; t < steps; t++) {
        size_t src = ((size_t)t * N + (size_t)i0) * (size_t)L, dst = (size_t)t * n * (size_t)L;
        memcpy(out->u + dst, all->u + src, sizeof *out->u * (size_t)n * (size_t)L);
        memcpy(out->g + dst, all->g + src, sizeof *out->g * (size_t)n * (size_t)L);
    }
}

static bool write_tokens(const char *path, const int64_t *ids, int n, int grid, const char *model,
                         int cls, unsigned long long seed) {
    char meta[256];
    snprintf(meta, sizeof meta, "{\"model\":\"%s\",\"class\":%d,\"first_seed\":%llu}", model, cls,
             seed);
    seer_st_writer *w = seer_st_writer_new();
    bool ok = w &&
              seer_st_writer_add(w, "ids", SEER_I64, 3, (int64_t[]){n, grid, grid}, ids) ==
                  SEER_STATUS_OK &&
              seer_st_writer_set_metadata(w, "seer.generate", meta) == SEER_STATUS_OK &&
              seer_st_writer_save(w, path) == SEER_STATUS_OK;
    if (!ok) fprintf(stderr, "seer: writing %s: %s\n", path, seer_last_error());
    seer_st_writer_free(w);
    return ok;
}

// The tokenizer a generator was trained with: its metadata enat.tokenizer names the weights
// (our CIFAR-10 ENAT says "vq_cifar"); official ENAT files have none (MAGE's vq-f16-jax).
static void tokenizer_name_of(const char *enat_path, char *name, size_t n) {
    seer_st_file *f = NULL;
    if (seer_st_open(enat_path, &f) != SEER_STATUS_OK) return;  // the load reports it
    const char *t = seer_st_metadata(f, "enat.tokenizer");
    if (t && *t && strlen(t) < n && !strchr(t, '/')) snprintf(name, n, "%s", t);
    seer_st_close(f);
}

static const char *find_or(const char *given, const char *name, char *buf, size_t n) {
    if (given) return given;
    const char *p = cli_find_weights(name, buf, n);
    if (!p)
        fprintf(stderr,
                "seer: no weights for %s: looked for %s.safetensors in $SEER_MODELS and "
                "assets/models; convert a checkpoint with tools/convert.py and pass the file\n",
                name, name);
    return p;
}

// The guide model of generator m (at wpath): --guide FILE, none, or the one its metadata names,
// looked up next to the generator, then like any weights. Loads it into *out (NULL: no guide)
// and sets *w to its weight. false (reported) if it is named but missing or does not load.
static bool load_guide(const gen_opts *o, const seer_enat *m, const char *wpath, seer_device dev,
                       seer_dtype dt, seer_enat **out, float *w) {
    const seer_enat_config *g = seer_enat_get_config(m);
    *out = NULL;
    *w = (float)(o->guide_w >= 0 ? o->guide_w : g->guide_w);
    if (o->guide && strcmp(o->guide, "none") == 0) return true;
    char buf[4096];
    const char *path = o->guide;
    if (!path && g->guide[0]) {
        path = seer_enat_guide_path(wpath, g->guide, buf, sizeof buf);
        if (!path) path = cli_find_weights(g->guide, buf, sizeof buf);
        if (!path) {
            fprintf(stderr, "seer: %s is guided by %s (metadata enat.guide); pass --guide FILE, or "
                            "--guide none to sample without it\n", wpath, g->guide);
            return false;
        }
    }
    if (!path) {
        if (o->guide_w < 0) return true;
        fprintf(stderr, "seer: --guide-w needs a guide: %s names none, pass --guide FILE\n", wpath);
        return false;
    }
    if (*w == 0.0f && o->guide) {
        fprintf(stderr, "seer: --guide needs --guide-w W > 0 (%s names no guide weight)\n", wpath);
        return false;
    }
    if (seer_enat_load(path, dev, dt, out) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: guide %s: %s\n", path, seer_last_error());
        return false;
    }
    return true;
}

int cmd_generate(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    gen_opts o = {.mo = {.batch = 8},
                  .n = 1,
                  .cfg = -1,
                  .mask_temp = -1,
                  .samp_temp = -1,
                  .guide_w = -1};
    if (!parse(&o, argc, argv)) return EXIT_USAGE;
    seer_set_timed_conv_algorithms(false); // a seed gives the same pixels on every run
    if (o.mo.threads > 0) omp_set_num_threads(o.mo.threads);
    seer_device dev = seer_device_available(SEER_DEVICE_CUDA) ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU;
    if (o.mo.device && strcmp(o.mo.device, "cuda") == 0)
        dev = SEER_DEVICE_CUDA;
    else if (o.mo.device && strcmp(o.mo.device, "cpu") == 0)
        dev = SEER_DEVICE_CPU;
    else if (o.mo.device) {
        fprintf(stderr, "seer: --device must be cpu or cuda (got '%s')\n", o.mo.device);
        return EXIT_USAGE;
    }
    seer_dtype dt = SEER_F32;
    if (o.mo.precision && strcmp(o.mo.precision, "bf16") == 0)
        dt = SEER_BF16;
    else if (o.mo.precision && strcmp(o.mo.precision, "f16") == 0)
        dt = SEER_F16;
    else if (o.mo.precision && strcmp(o.mo.precision, "f32") != 0) {
        fprintf(stderr, "seer: --precision must be f32, bf16 or f16 (got '%s')\n", o.mo.precision);
        return EXIT_USAGE;
    }
    char wbuf[4096], tbuf[4096];
    const char *model = !o.mo.model || strcmp(o.mo.model, "enat") == 0 ? "enat_l" : o.mo.model;
    const char *wpath = find_or(o.mo.weights, model, wbuf, sizeof wbuf);
    char tname[128] = "vq-f16-jax";
    if (wpath && !o.tokenizer) tokenizer_name_of(wpath, tname, sizeof tname);
    const char *tpath = wpath ? find_or(o.tokenizer, tname, tbuf, sizeof tbuf) : NULL;
    if (!tpath) return EXIT_USAGE;

    int rc = EXIT_USAGE, B = 0;
    seer_ctx *c = seer_ctx_new(dev);
    seer_enat *m = NULL, *guide = NULL;
    seer_vqgan *v = NULL;
    int32_t *labels = NULL;
    uint64_t *seeds = NULL;
    int64_t *ids = NULL, *all_ids = NULL;
    seer_image *png = NULL;
    noise nz_all = {0}, nz = {0};
    if (!c || seer_enat_load(wpath, dev, dt, &m) != SEER_STATUS_OK ||
        seer_vqgan_load(tpath, dev, dt, &v) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        goto out;
    }
    const seer_enat_config *g = seer_enat_get_config(m);
    const seer_vqgan_config *tc = seer_vqgan_get_config(v);
    float guide_w = 0.0f;
    if (!load_guide(&o, m, wpath, dev, dt, &guide, &guide_w)) goto out;
    if (g->codebook_size != tc->n_embed) {
        fprintf(
            stderr,
            "seer: the generator predicts %d token ids, the tokenizer has %d codes: not a pair\n",
            g->codebook_size, tc->n_embed);
        goto out;
    }
    char class_name[512];
    int cls = resolve_class(&o, g->num_classes, class_name, sizeof class_name);
    if (cls < 0) goto out;
    if (seer_make_dirs(o.out) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        goto out;
    }
    seer_enat_sample_opts so = {
        .steps = o.steps ? o.steps : g->steps,
        .cfg = (float)(o.cfg >= 0 ? o.cfg : g->cfg),
        .mask_temp = (float)(o.mask_temp >= 0 ? o.mask_temp : g->mask_temp),
        .samp_temp = (float)(o.samp_temp >= 0 ? o.samp_temp : g->samp_temp),
        .guide = guide,
        .guide_w = guide_w,
    };
    B = o.mo.batch < o.n ? o.mo.batch : o.n;
    int grid = g->grid, side = grid * seer_vqgan_factor(v);
    labels = malloc(sizeof *labels * (size_t)B);
    seeds = malloc(sizeof *seeds * (size_t)B);
    ids = malloc(sizeof *ids * (size_t)B * (size_t)(grid * grid));
    all_ids = o.tokens ? malloc(sizeof *ids * (size_t)o.n * (size_t)(grid * grid)) : NULL;
    png = calloc((size_t)B, sizeof *png);
    if (o.noise) {
        if (!noise_load(o.noise, so.steps, o.n, grid * grid, &nz_all)) goto out;
        nz.u = malloc(sizeof *nz.u * (size_t)so.steps * (size_t)B * (size_t)(grid * grid));
        nz.g = malloc(sizeof *nz.g * (size_t)so.steps * (size_t)B * (size_t)(grid * grid));
    }
    if (!labels || !seeds || !ids || !png || (o.tokens && !all_ids) ||
        (o.noise && (!nz.u || !nz.g))) {
        fprintf(stderr, "seer: out of memory\n");
        goto out;
    }
    char guide_s[48] = "", gw_s[32];
    snprintf(guide_s, sizeof guide_s, " (weight %g)", guide_w);
    snprintf(gw_s, sizeof gw_s, "%g", guide ? guide_w : 0.0f);
    fprintf(stderr,
            "seer: %d image%s of class %d%s%s%s (%d x %d), %d steps, cfg %g%s%s%s, seeds "
            "%llu..%llu\n",
            o.n, o.n > 1 ? "s" : "", cls, class_name[0] ? " (" : "", class_name,
            class_name[0] ? ")" : "", side, side, so.steps, so.cfg, guide ? ", guided by " : "",
            guide ? seer_enat_name(guide) : "", guide ? guide_s : "", o.seed,
            o.seed + (unsigned long long)o.n - 1);
    progress prog = {.total = o.n, .steps = so.steps};
    cli_progress_init(&prog.bar);
    so.on_step = on_step;
    so.user = &prog;
    so.seeds = seeds;
    int failed = 0;
    for (int i0 = 0; i0 < o.n; i0 += B) {
        int n = o.n - i0 < B ? o.n - i0 : B;
        for (int k = 0; k < n; k++) {
            labels[k] = cls;
            seeds[k] = (uint64_t)(o.seed + (unsigned long long)(i0 + k));
        }
        if (o.noise) {
            noise_slice(&nz_all, so.steps, o.n, grid * grid, i0, n, &nz);
            so.token_noise = nz.u;
            so.gumbel_noise = nz.g;
        }
        if (seer_enat_generate(m, c, labels, n, &so, ids) != SEER_STATUS_OK) {
            fprintf(stderr, "\nseer: %s\n", seer_last_error());
            goto out;
        }
        if (all_ids)
            memcpy(all_ids + (size_t)i0 * (size_t)(grid * grid), ids,
                   sizeof *ids * (size_t)(n * grid * grid));
        seer_ctx_reset(c);
        seer_tensor *t = seer_new(c, SEER_I64, 3, (int64_t[]){n, grid, grid});
        if (t && seer_memcpy(dev, t->data, SEER_DEVICE_CPU, ids,
                             sizeof *ids * (size_t)(n * grid * grid)) != SEER_STATUS_OK)
            seer_ctx_fail(c, SEER_STATUS_DEVICE, "uploading tokens: %s", seer_last_error());
        if (seer_vqgan_to_images(c, seer_vqgan_decode(v, c, t), png) != SEER_STATUS_OK) {
            fprintf(stderr, "\nseer: %s\n", seer_ctx_error(c));
            goto out;
        }
        for (int k = 0; k < n; k++) {
            char path[4096], cls_s[16], seed_s[32], steps_s[16], cfg_s[32], mt_s[32], st_s[32];
            snprintf(path, sizeof path, "%s/%s_c%d_s%llu.png", o.out, seer_enat_name(m), cls,
                     (unsigned long long)seeds[k]);
            snprintf(cls_s, sizeof cls_s, "%d", cls);
            snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seeds[k]);
            snprintf(steps_s, sizeof steps_s, "%d", so.steps);
            snprintf(cfg_s, sizeof cfg_s, "%g", so.cfg);
            snprintf(mt_s, sizeof mt_s, "%g", so.mask_temp);
            snprintf(st_s, sizeof st_s, "%g", so.samp_temp);
            const char *keys[] = {"model",     "class",     "seed",      "steps",
                                  "cfg",       "mask_temp", "samp_temp", "guide",
                                  "guide_w",   "tokenizer", "Software",  "class_name"};
            const char *vals[] = {seer_enat_name(m),
                                  cls_s,
                                  seed_s,
                                  steps_s,
                                  cfg_s,
                                  mt_s,
                                  st_s,
                                  guide ? seer_enat_name(guide) : "none",
                                  gw_s,
                                  tpath,
                                  "seer",
                                  class_name};
            if (seer_image_write_png(path, &png[k], keys, vals, class_name[0] ? 12 : 11) !=
                SEER_STATUS_OK) {
                fprintf(stderr, "\nseer: %s\n", seer_last_error());
                failed++;
            }
            seer_image_free(&png[k]);
        }
        prog.done = i0 + n;
    }
    cli_progress_done(&prog.bar, o.n);
    if (o.tokens && !write_tokens(o.tokens, all_ids, o.n, grid, seer_enat_name(m), cls, o.seed))
        goto out;
    fprintf(stderr, "seer: %d image%s in %s/\n", o.n - failed, o.n - failed == 1 ? "" : "s", o.out);
    rc = failed ? EXIT_SOME_FAILED : 0;
out:
    if (png)
        for (int k = 0; k < B; k++)
            seer_image_free(&png[k]);
    free(png);
    free(labels);
    free(seeds);
    free(ids);
    free(all_ids);
    free(nz_all.u);
    free(nz_all.g);
    free(nz.u);
    free(nz.g);
    seer_vqgan_free(v);
    seer_enat_free(m);
    seer_enat_free(guide);
    seer_ctx_free(c);
    return rc;
}
