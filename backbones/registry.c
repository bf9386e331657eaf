// The registry: every architecture seer knows, by the name its reference uses.
#include <string.h>

#include "backbones/model.h"

extern const seer_arch seer_resnet_cifar_archs[];
extern const int seer_resnet_cifar_arch_count;
extern const seer_arch seer_inception_fid_archs[]; extern const int seer_inception_fid_arch_count;
extern const seer_arch seer_volo_archs[]; extern const int seer_volo_arch_count;
extern const seer_arch seer_biformer_archs[]; extern const int seer_biformer_arch_count;
extern const seer_arch seer_van_archs[]; extern const int seer_van_arch_count;
extern const seer_arch seer_vit_archs[]; extern const int seer_vit_arch_count;
extern const seer_arch seer_halonet_archs[]; extern const int seer_halonet_arch_count;

typedef struct family {
    const seer_arch *archs;
    const int *count;
} family;

static const family families[] = {
    {seer_resnet_cifar_archs, &seer_resnet_cifar_arch_count},
    {seer_inception_fid_archs, &seer_inception_fid_arch_count},
    {seer_volo_archs, &seer_volo_arch_count},
    {seer_biformer_archs, &seer_biformer_arch_count},
    {seer_van_archs, &seer_van_arch_count},
    {seer_vit_archs, &seer_vit_arch_count},
    {seer_halonet_archs, &seer_halonet_arch_count},
};

int seer_arch_count(void) {
    int n = 0;
    for (size_t f = 0; f < sizeof families / sizeof *families; f++) n += *families[f].count;
    return n;
}

const seer_arch *seer_arch_at(int i) {
    for (size_t f = 0; f < sizeof families / sizeof *families; f++) {
        if (i < *families[f].count) return &families[f].archs[i];
        i -= *families[f].count;
    }
    return NULL;
}

const seer_arch *seer_arch_find(const char *name) {
    for (int i = 0, n = seer_arch_count(); i < n; i++)
        if (strcmp(seer_arch_at(i)->name, name) == 0) return seer_arch_at(i);
    return NULL;
}
