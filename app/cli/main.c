// The `seer` command: classify, evaluate, generate, tokenize, list models.
#include <stdio.h>
#include <string.h>

#include "app/cli/cli.h"
#include "core/threads.h"

static const char *usage =
    "seer: attention vision models on CPU and CUDA\n"
    "\n"
    "usage: seer <command> [options]\n"
    "  classify PATH...      classify images and folders (seer classify --help)\n"
    "  eval top1 --data DIR  top-1/top-5 accuracy on a labelled folder\n"
    "  eval fid --real A --fake B   Frechet distance between two image sets\n"
    "  generate --class C    images from a class prompt with ENAT (seer generate --help)\n"
    "  tokenize              VQ tokenizer: encode, decode, reconstruction PSNR\n"
    "  models                list the architectures and where their weights are\n";

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
    fprintf(stderr, "seer: unknown command '%s'\n\n%s", cmd, usage);
    return EXIT_USAGE;
}
