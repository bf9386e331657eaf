// `seer tokenize`: images <-> VQ token ids with a VQGAN tokenizer, and reconstruction PSNR.
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/cli/cli.h"
#include "core/image.h"
#include "core/safetensors.h"
#include "tokenizer/vqgan.h"

static const char *usage =
    "usage: seer tokenize encode --weights FILE --out FILE [--latents] [options] IMAGE|DIR...\n"
    "         token ids [N, h, w] (and with --latents the encoder outputs) to a .safetensors\n"
    "         file; the input files are listed in its metadata\n"
    "       seer tokenize decode --weights FILE --ids FILE --out DIR [--images FILE] [options]\n"
    "         one PNG per id grid (--images: also the decoded floats [N, H, W, 3])\n"
    "       seer tokenize --weights FILE [--out DIR] [options] IMAGE|DIR...\n"
    "         encode + decode each image and report the reconstruction PSNR (8-bit)\n"
    "options: --size N (input side, default: the tokenizer's metadata vqgan.resolution, else\n"
    "         256) --preprocess STR (default adm,size=N)\n"
    "         --batch N (default: 8 at 256x256, as many as hold the same pixels at smaller\n"
    "         sides, up to 256) --device cpu|cuda --precision f32|bf16|f16 --threads N\n";

typedef struct tok_opts {
    cli_model_opts mo;
    int size;
    const char *out, *ids, *images;
    bool latents;
    const char **paths;
    int n_paths;
} tok_opts;

static bool parse(tok_opts *o, int argc, char **argv, int first) {
    bool bad = false;
    for (int i = first; i < argc && !bad; i++) {
        const char *v;
        if (cli_take_model_opt(&o->mo, argc, argv, &i, &bad)) continue;
        if (strcmp(argv[i], "--size") == 0) {
            bad =
                !(v = cli_value(argc, argv, &i)) || !cli_parse_int("--size", v, 1, 16384, &o->size);
        } else if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "-o") == 0) {
            bad = !(o->out = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--ids") == 0) {
            bad = !(o->ids = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--images") == 0) {
            bad = !(o->images = cli_value(argc, argv, &i));
        } else if (strcmp(argv[i], "--latents") == 0) {
            o->latents = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "seer tokenize: unknown option %s\n%s", argv[i], usage);
            bad = true;
        } else {
            o->paths[o->n_paths++] = argv[i];
        }
    }
    return !bad;
}

static seer_vqgan *load_tokenizer(const tok_opts *o, seer_ctx **ctx) {
    if (o->mo.threads > 0) omp_set_num_threads(o->mo.threads);
    if (!o->mo.weights) {
        fprintf(stderr, "seer tokenize: give the tokenizer with --weights FILE\n");
        return NULL;
    }
    seer_device dev = seer_device_available(SEER_DEVICE_CUDA) ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU;
    if (o->mo.device && strcmp(o->mo.device, "cuda") == 0)
        dev = SEER_DEVICE_CUDA;
    else if (o->mo.device && strcmp(o->mo.device, "cpu") == 0)
        dev = SEER_DEVICE_CPU;
    else if (o->mo.device) {
        fprintf(stderr, "seer: --device must be cpu or cuda (got '%s')\n", o->mo.device);
        return NULL;
    }
    seer_dtype dt = SEER_F32;
    if (o->mo.precision && strcmp(o->mo.precision, "bf16") == 0)
        dt = SEER_BF16;
    else if (o->mo.precision && strcmp(o->mo.precision, "f16") == 0)
        dt = SEER_F16;
    else if (o->mo.precision && strcmp(o->mo.precision, "f32") != 0) {
        fprintf(stderr, "seer: --precision must be f32, bf16 or f16 (got '%s')\n", o->mo.precision);
        return NULL;
    }
    seer_vqgan *v = NULL;
    if (!(*ctx = seer_ctx_new(dev)) ||
        seer_vqgan_load(o->mo.weights, dev, dt, &v) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        seer_ctx_free(*ctx);
        *ctx = NULL;
        return NULL;
    }
    return v;
}

static bool make_dir(const char *dir) {
    if (seer_make_dirs(dir) == SEER_STATUS_OK) return true;
    fprintf(stderr, "seer: %s\n", seer_last_error());
    return false;
}

// Decode and preprocess items[0..n) into x (n * size * size * 3 floats, packed: failed files
// are left out and reported). Returns how many are in x; their indices go to which[].
static int prepare(const seer_preprocess *pre, const seer_dataset_item *items, int n, float *x,
                   int *which, int *failed) {
    size_t per = seer_preprocess_out_numel(pre);
    int k = 0;
    for (int i = 0; i < n; i++) {
        seer_image img = {0};
        seer_status st = seer_image_load(items[i].path, NULL, &img);
        if (st == SEER_STATUS_OK)
            st = seer_preprocess_run(pre, img.px, img.w, img.h, x + (size_t)k * per);
        seer_image_free(&img);
        if (st != SEER_STATUS_OK) {
            const char *err = seer_last_error(); // names the file already, or not
            fprintf(stderr, "seer: %s%s%s\n", strstr(err, items[i].path) ? "" : items[i].path,
                    strstr(err, items[i].path) ? "" : ": ", err);
            (*failed)++;
            continue;
        }
        which[k++] = i;
    }
    return k;
}

// --batch unset: batches of about 8 images of 256 x 256 (a 32 x 32 tokenizer takes 256 at a
// time; a batch of 8 tiny images leaves the CPU waiting on per-batch overheads).
static void default_batch(tok_opts *o, int64_t side) {
    if (o->mo.batch) return;
    int64_t b = side > 0 ? 8 * 256 * 256 / (side * side) : 8;
    o->mo.batch = (int)(b < 1 ? 1 : b > 256 ? 256 : b);
}

static bool setup_inputs(const tok_opts *o, const seer_vqgan *v, seer_preprocess *pre,
                         seer_dataset *ds) {
    char desc[64];
    // --size, else the side the tokenizer was trained at (metadata vqgan.resolution)
    snprintf(desc, sizeof desc, "adm,size=%d",
             o->size ? o->size : seer_vqgan_get_config(v)->resolution);
    seer_status st = seer_preprocess_parse(o->mo.preprocess ? o->mo.preprocess : desc, pre);
    if (st == SEER_STATUS_OK) st = seer_preprocess_check(pre);
    if (st != SEER_STATUS_OK) {
        fprintf(stderr, "seer: --preprocess: %s\n", seer_last_error());
        return false;
    }
    if (pre->size % seer_vqgan_factor(v)) {
        fprintf(
            stderr,
            "seer: the image side %d is not a multiple of the tokenizer's %d pixels per token\n",
            pre->size, seer_vqgan_factor(v));
        return false;
    }
    if (seer_dataset_collect(o->paths, o->n_paths, NULL, ds) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        return false;
    }
    return true;
}

static int run_encode(tok_opts *o) {
    if (!o->out || o->n_paths == 0) {
        fprintf(stderr, "seer tokenize encode: give --out FILE and images\n%s", usage);
        return EXIT_USAGE;
    }
    seer_ctx *c = NULL;
    seer_vqgan *v = load_tokenizer(o, &c);
    if (!v) return EXIT_USAGE;
    seer_preprocess pre;
    seer_dataset ds = {0};
    int rc = EXIT_USAGE, failed = 0, n_done = 0;
    int64_t *ids = NULL;
    float *lat = NULL, *x = NULL;
    int *which = NULL;
    json_t *files = json_array();
    seer_st_writer *w = NULL;
    if (!setup_inputs(o, v, &pre, &ds)) goto out;
    default_batch(o, pre.size);
    int f = seer_vqgan_factor(v), h = pre.size / f, zc = seer_vqgan_get_config(v)->z_channels;
    size_t per = seer_preprocess_out_numel(&pre), grid = (size_t)h * (size_t)h;
    ids = malloc(sizeof(int64_t) * grid * (size_t)ds.count);
    lat = o->latents ? malloc(sizeof(float) * grid * (size_t)zc * (size_t)ds.count) : NULL;
    x = malloc(sizeof(float) * per * (size_t)o->mo.batch);
    which = malloc(sizeof(int) * (size_t)o->mo.batch);
    if (!ids || (o->latents && !lat) || !x || !which || !files) {
        fprintf(stderr, "seer: out of memory for %d images\n", ds.count);
        goto out;
    }
    cli_progress prog;
    cli_progress_init(&prog);
    for (int i0 = 0; i0 < ds.count; i0 += o->mo.batch) {
        int n = ds.count - i0 < o->mo.batch ? ds.count - i0 : o->mo.batch;
        int k = prepare(&pre, ds.items + i0, n, x, which, &failed);
        if (k > 0) {
            seer_ctx_reset(c);
            seer_tensor *in =
                seer_from_host(c, x, SEER_F32, 4, (int64_t[]){k, pre.size, pre.size, 3});
            seer_tensor *z = NULL;
            seer_tensor *t = seer_vqgan_encode(v, c, in, &z);
            seer_status st = t ? seer_memcpy(SEER_DEVICE_CPU, ids + (size_t)n_done * grid,
                                             t->device, t->data, sizeof(int64_t) * grid * (size_t)k)
                               : seer_ctx_status(c);
            if (st == SEER_STATUS_OK && lat)
                st = seer_to_host(c, z, lat + (size_t)n_done * grid * (size_t)zc);
            if (st != SEER_STATUS_OK) {
                fprintf(stderr, "seer: %s\n",
                        seer_ctx_status(c) ? seer_ctx_error(c) : seer_last_error());
                goto out;
            }
            for (int j = 0; j < k; j++)
                json_array_append_new(files, json_string(ds.items[i0 + which[j]].path));
            n_done += k;
        }
        cli_progress_update(i0 + n, ds.count, &prog);
    }
    cli_progress_done(&prog, ds.count);
    if (n_done == 0) {
        fprintf(stderr, "seer: no image could be read\n");
        goto out;
    }
    char *list = json_dumps(files, JSON_COMPACT), sz[32];
    snprintf(sz, sizeof sz, "%d", pre.size);
    char pdesc[256] = "";
    seer_preprocess_format(&pre, pdesc, sizeof pdesc);
    w = seer_st_writer_new();
    bool ok = w && list &&
              seer_st_writer_add(w, "ids", SEER_I64, 3, (int64_t[]){n_done, h, h}, ids) ==
                  SEER_STATUS_OK &&
              (!lat || seer_st_writer_add(w, "latents", SEER_F32, 4, (int64_t[]){n_done, h, h, zc},
                                          lat) == SEER_STATUS_OK) &&
              seer_st_writer_set_metadata(w, "files", list) == SEER_STATUS_OK &&
              seer_st_writer_set_metadata(w, "seer.tokenizer", o->mo.weights) == SEER_STATUS_OK &&
              seer_st_writer_set_metadata(w, "preprocess", pdesc) == SEER_STATUS_OK &&
              seer_st_writer_set_metadata(w, "size", sz) == SEER_STATUS_OK &&
              seer_st_writer_save(w, o->out) == SEER_STATUS_OK;
    free(list);
    if (!ok) {
        fprintf(stderr, "seer: writing %s: %s\n", o->out, seer_last_error());
        goto out;
    }
    fprintf(stderr, "seer: %d images -> %d x %d tokens each -> %s\n", n_done, h, h, o->out);
    if (failed) fprintf(stderr, "seer: %d of %d files could not be read\n", failed, ds.count);
    rc = failed ? EXIT_SOME_FAILED : 0;
out:
    seer_st_writer_free(w);
    json_decref(files);
    free(ids);
    free(lat);
    free(x);
    free(which);
    seer_dataset_free(&ds);
    seer_vqgan_free(v);
    seer_ctx_free(c);
    return rc;
}

static const char *str_or_empty(const char *s) {
    return s ? s : "";
}

// File name stem of a path ("a/b/cat.jpg" -> "cat").
static void stem(const char *path, char *out, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, n, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

// Where the reconstruction of input `path` goes: OUT/<path below the folder argument it was
// found in>.png, so class folders are kept and files of the same name in different folders
// (cifar10/test/cat/0000.jpg, dog/0000.jpg) do not overwrite each other. A file given directly
// goes to OUT/<stem>.png. The parent folders are created.
static bool recon_path(const tok_opts *o, const char *path, char *out, size_t n) {
    const char *rel = NULL;
    for (int i = 0; i < o->n_paths && !rel; i++) {
        size_t k = strlen(o->paths[i]);
        while (k > 1 && o->paths[i][k - 1] == '/') k--;
        if (strncmp(path, o->paths[i], k) == 0 && path[k] == '/') rel = path + k + 1;
    }
    char name[4096];
    if (rel) {
        snprintf(name, sizeof name, "%s", rel);
        char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
        if (dot && (!slash || dot > slash + 1)) *dot = '\0';
    } else {
        stem(path, name, sizeof name);
    }
    if ((size_t)snprintf(out, n, "%s/%s.png", o->out, name) >= n) return false;
    char *slash = strrchr(out, '/');
    *slash = '\0';
    bool ok = make_dir(out);
    *slash = '/';
    return ok;
}

static int run_decode(tok_opts *o) {
    if (!o->ids || !o->out) {
        fprintf(stderr, "seer tokenize decode: give --ids FILE and --out DIR\n%s", usage);
        return EXIT_USAGE;
    }
    seer_st_file *f = NULL;
    if (seer_st_open(o->ids, &f) != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s\n", seer_last_error());
        return EXIT_USAGE;
    }
    int nd = 0;
    int64_t shape[SEER_MAX_DIMS];
    if (seer_st_info(f, "ids", NULL, &nd, shape) != SEER_STATUS_OK || nd != 3) {
        fprintf(stderr,
                "seer: %s: expected a tensor 'ids' [N, h, w] (seer tokenize encode writes it)\n",
                o->ids);
        seer_st_close(f);
        return EXIT_USAGE;
    }
    int64_t N = shape[0], h = shape[1], wd = shape[2], grid = h * wd;
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)(N * grid) + 1);
    json_t *files = NULL;
    char *list = seer_st_metadata(f, "files") ? strdup(seer_st_metadata(f, "files")) : NULL;
    if (list) files = json_loads(list, 0, NULL);
    seer_status st =
        ids ? seer_st_read(f, "ids", SEER_I64, ids, sizeof(int64_t) * (size_t)(N * grid))
            : SEER_STATUS_OOM;
    seer_st_close(f);
    if (st != SEER_STATUS_OK) {
        fprintf(stderr, "seer: %s: %s\n", o->ids, seer_last_error());
        free(ids);
        free(list);
        json_decref(files);
        return EXIT_USAGE;
    }
    seer_ctx *c = NULL;
    seer_vqgan *v = load_tokenizer(o, &c);
    int rc = EXIT_USAGE, failed = 0;
    float *all = NULL;
    seer_st_writer *w = NULL;
    if (!v || !make_dir(o->out)) goto out;
    int64_t n_embed = seer_vqgan_get_config(v)->n_embed, f_px = seer_vqgan_factor(v);
    for (int64_t i = 0; i < N * grid; i++)
        if (ids[i] < 0 || ids[i] >= n_embed) {
            fprintf(stderr, "seer: %s: token id %lld is outside the codebook [0, %lld)\n", o->ids,
                    (long long)ids[i], (long long)n_embed);
            goto out;
        }
    int64_t H = h * f_px, W = wd * f_px, per = H * W * 3;
    if (o->images && !(all = malloc(sizeof(float) * (size_t)(N * per)))) {
        fprintf(stderr, "seer: out of memory for %lld decoded images\n", (long long)N);
        goto out;
    }
    // names: the source files' stems when they are all different, else numbers
    bool by_stem = json_is_array(files) && (int64_t)json_array_size(files) == N;
    char a[256], b[256];
    for (int64_t i = 0; by_stem && i < N; i++)
        for (int64_t j = 0; by_stem && j < i; j++) {
            stem(str_or_empty(json_string_value(json_array_get(files, (size_t)i))), a, sizeof a);
            stem(str_or_empty(json_string_value(json_array_get(files, (size_t)j))), b, sizeof b);
            by_stem = strcmp(a, b) != 0 && a[0];
        }
    default_batch(o, h * f_px);
    cli_progress prog;
    cli_progress_init(&prog);
    for (int64_t i0 = 0; i0 < N; i0 += o->mo.batch) {
        int64_t n = N - i0 < o->mo.batch ? N - i0 : o->mo.batch;
        seer_ctx_reset(c);
        seer_tensor *t = seer_new(c, SEER_I64, 3, (int64_t[]){n, h, wd});
        if (t && seer_memcpy(seer_ctx_device(c), t->data, SEER_DEVICE_CPU, ids + i0 * grid,
                             sizeof(int64_t) * (size_t)(n * grid)) != SEER_STATUS_OK)
            seer_ctx_fail(c, SEER_STATUS_DEVICE, "uploading ids: %s", seer_last_error());
        seer_tensor *img = seer_vqgan_decode(v, c, t); // [n, H, W, 3]
        seer_image *png = calloc((size_t)n, sizeof *png);
        if (!png || seer_vqgan_to_images(c, img, png) != SEER_STATUS_OK ||
            (all && seer_to_host(c, img, all + i0 * per) != SEER_STATUS_OK)) {
            fprintf(stderr, "seer: %s\n", seer_ctx_status(c) ? seer_ctx_error(c) : "out of memory");
            free(png);
            goto out;
        }
        for (int64_t k = 0; k < n; k++) {
            char path[4096], name[256];
            const char *src = json_is_array(files)
                                  ? json_string_value(json_array_get(files, (size_t)(i0 + k)))
                                  : NULL;
            if (by_stem)
                stem(src, name, sizeof name);
            else
                snprintf(name, sizeof name, "%06lld", (long long)(i0 + k));
            snprintf(path, sizeof path, "%s/%s.png", o->out, name);
            const char *keys[2] = {"tokenizer", "source"},
                       *vals[2] = {o->mo.weights, src ? src : ""};
            if (seer_image_write_png(path, &png[k], keys, vals, src ? 2 : 1) != SEER_STATUS_OK) {
                fprintf(stderr, "seer: %s\n", seer_last_error());
                failed++;
            }
            seer_image_free(&png[k]);
        }
        free(png);
        cli_progress_update((int)(i0 + n), (int)N, &prog);
    }
    cli_progress_done(&prog, (int)N);
    if (all) {
        w = seer_st_writer_new();
        if (!w ||
            seer_st_writer_add(w, "images", SEER_F32, 4, (int64_t[]){N, H, W, 3}, all) !=
                SEER_STATUS_OK ||
            (list && seer_st_writer_set_metadata(w, "files", list) != SEER_STATUS_OK) ||
            seer_st_writer_save(w, o->images) != SEER_STATUS_OK) {
            fprintf(stderr, "seer: writing %s: %s\n", o->images, seer_last_error());
            goto out;
        }
    }
    fprintf(stderr, "seer: %lld images (%lld x %lld) -> %s/\n", (long long)N, (long long)H,
            (long long)W, o->out);
    rc = failed ? EXIT_SOME_FAILED : 0;
out:
    seer_st_writer_free(w);
    free(all);
    free(ids);
    free(list);
    json_decref(files);
    seer_vqgan_free(v);
    seer_ctx_free(c);
    return rc;
}

static int run_psnr(tok_opts *o) {
    if (o->n_paths == 0) {
        fprintf(stderr, "seer tokenize: no images or folders given\n%s", usage);
        return EXIT_USAGE;
    }
    seer_ctx *c = NULL;
    seer_vqgan *v = load_tokenizer(o, &c);
    if (!v) return EXIT_USAGE;
    seer_preprocess pre;
    seer_dataset ds = {0};
    int rc = EXIT_USAGE, failed = 0, n_done = 0;
    double sum_psnr = 0;
    float *x = NULL;
    int *which = NULL;
    seer_image *png = NULL;
    if (!setup_inputs(o, v, &pre, &ds) || (o->out && !make_dir(o->out))) goto out;
    default_batch(o, pre.size);
    size_t per = seer_preprocess_out_numel(&pre);
    x = malloc(sizeof(float) * per * (size_t)o->mo.batch);
    which = malloc(sizeof(int) * (size_t)o->mo.batch);
    png = calloc((size_t)o->mo.batch, sizeof *png);
    if (!x || !which || !png) {
        fprintf(stderr, "seer: out of memory\n");
        goto out;
    }
    printf("%-60s %10s\n", "file", "PSNR (dB)");
    for (int i0 = 0; i0 < ds.count; i0 += o->mo.batch) {
        int n = ds.count - i0 < o->mo.batch ? ds.count - i0 : o->mo.batch;
        int k = prepare(&pre, ds.items + i0, n, x, which, &failed);
        if (k == 0) continue;
        seer_ctx_reset(c);
        seer_tensor *in = seer_from_host(c, x, SEER_F32, 4, (int64_t[]){k, pre.size, pre.size, 3});
        seer_tensor *rec = seer_vqgan_decode(v, c, seer_vqgan_encode(v, c, in, NULL));
        if (seer_vqgan_to_images(c, rec, png) != SEER_STATUS_OK) {
            fprintf(stderr, "seer: %s\n", seer_ctx_error(c));
            goto out;
        }
        for (int j = 0; j < k; j++) {
            // both sides 8-bit: the input is u8 / 255 exactly
            double se = 0;
            for (size_t q = 0; q < per; q++) {
                double d =
                    (double)png[j].px[q] - floor((double)x[(size_t)j * per + q] * 255.0 + 0.5);
                se += d * d;
            }
            double psnr = se > 0 ? 10.0 * log10(255.0 * 255.0 / (se / (double)per)) : INFINITY;
            const char *path = ds.items[i0 + which[j]].path;
            printf("%-60s %10.2f\n", path, psnr);
            sum_psnr += psnr;
            n_done++;
            char out_path[4096];
            if (o->out && recon_path(o, path, out_path, sizeof out_path) &&
                seer_image_write_png(out_path, &png[j], NULL, NULL, 0) != SEER_STATUS_OK)
                fprintf(stderr, "seer: %s\n", seer_last_error());
            seer_image_free(&png[j]);
        }
    }
    if (n_done) printf("%-60s %10.2f\n", "mean", sum_psnr / n_done);
    if (failed) fprintf(stderr, "seer: %d of %d files could not be read\n", failed, ds.count);
    rc = n_done == 0 ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : 0;
out:
    free(x);
    free(which);
    free(png);
    seer_dataset_free(&ds);
    seer_vqgan_free(v);
    seer_ctx_free(c);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    seer_set_timed_conv_algorithms(false); // the same ids and pixels on every run
    int mode = 0, first = 1; // 0 PSNR, 1 encode, 2 decode
    if (argc >= 2 && strcmp(argv[1], "encode") == 0)
        mode = 1, first = 2;
    else if (argc >= 2 && strcmp(argv[1], "decode") == 0)
        mode = 2, first = 2;
    tok_opts o = {.mo = {.batch = 0}, .size = 0, .paths = calloc((size_t)argc + 1, sizeof(char *))};
    if (!o.paths || !parse(&o, argc, argv, first)) {
        free(o.paths);
        return EXIT_USAGE;
    }
    int rc;
    if (mode == 2 && o.n_paths) {
        fprintf(stderr, "seer tokenize decode: takes no image paths (--ids FILE)\n%s", usage);
        rc = EXIT_USAGE;
    } else {
        rc = mode == 1 ? run_encode(&o) : mode == 2 ? run_decode(&o) : run_psnr(&o);
    }
    free(o.paths);
    return rc;
}
