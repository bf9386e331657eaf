// The `seer` command: classify, evaluate, generate, tokenize, list models.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cli/cli.h"
#include "core/safetensors.h"
#include "core/threads.h"

static const char *usage =
    "seer: attention vision models on CPU and CUDA\n"
    "\n"
    "usage: seer <command> [options]\n"
    "  classify PATH...      classify images and folders (seer classify --help)\n"
    "  attention PATH...     where a classifier looks: the image with its attention view\n"
    "  eval top1 --data DIR  top-1/top-5 accuracy on a labelled folder\n"
    "  eval fid --real A --fake B   Frechet distance between two image sets\n"
    "  generate --class C    images from a class prompt with ENAT (seer generate --help)\n"
    "  tokenize              VQ tokenizer: encode, decode, reconstruction PSNR\n"
    "  models                list the architectures and where their weights are\n";

// The .safetensors files of one folder that `--model NAME` finds by file name but that are not
// architecture names (the shipped assets/models/van_cifar is a van_b0 with its own config).
static void list_folder(const char *dir, int *shown) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 12 || strcmp(e->d_name + n - 12, ".safetensors") != 0) continue;
        char name[256], path[4096];
        snprintf(name, sizeof name, "%.*s", (int)(n - 12), e->d_name);
        if (seer_arch_find(name)) continue;  // listed above with its architecture
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        seer_st_file *f = NULL;
        if (seer_st_open(path, &f) != SEER_STATUS_OK) continue;
        const char *arch = seer_st_metadata(f, "seer.arch");
        if (!(*shown)++) printf("\n%-24s %-24s %s\n", "file (--model NAME)", "loads as", "weights");
        printf("%-24s %-24s %s\n", name, arch ? arch : "-", path);
        seer_st_close(f);
    }
    closedir(d);
}

static void list_weight_files(void) {
    int shown = 0;
    const char *env = getenv("SEER_MODELS");
    if (env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
            list_folder(d, &shown);
        free(copy);
    }
    char buf[4096];
    const char *assets = cli_find_asset_dir("models", buf, sizeof buf);
    if (assets) list_folder(assets, &shown);
}

int cmd_models(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("%-24s %-14s %8s %6s  %s\n", "name", "family", "classes", "input", "weights");
    for (int i = 0; i < seer_arch_count(); i++) {
        const seer_arch *a = seer_arch_at(i);
        char buf[4096];
        const char *w = cli_find_weights(a->name, buf, sizeof buf);
        printf("%-24s %-14s %8d %6d  %s\n", a->name, a->family, a->num_classes, a->img_size,
               w ? w : "-");
    }
    list_weight_files();
    return 0;
}

int main(int argc, char **argv) {
    seer_threads_init(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "classify") == 0) return cmd_classify(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "models") == 0) return cmd_models(argc - 1, argv + 1);
    if (strcmp(cmd, "generate") == 0) return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "attention") == 0) return cmd_attention(argc - 1, argv + 1);
    fprintf(stderr, "seer: unknown command '%s'\n\n%s", cmd, usage);
    return EXIT_USAGE;
}
