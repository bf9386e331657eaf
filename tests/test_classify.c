// Batch classification ranks by logits: with far-apart logits the probabilities of all but
// the top class underflow to zero, and ranking by them would report arbitrary classes.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/image.h"
#include "vision/classify.h"

static seer_tensor *fixed_logits(seer_model *m, seer_ctx *c, const seer_tensor *x) {
    (void)m;
    int64_t b = x->shape[0];
    float *h = malloc(sizeof(float) * (size_t)(b * 4));
    for (int64_t i = 0; i < b; i++) {
        h[i * 4 + 0] = -300.0f;
        h[i * 4 + 1] = 0.0f;
        h[i * 4 + 2] = -200.0f;
        h[i * 4 + 3] = -100.0f;
    }
    seer_tensor *y = seer_from_host(c, h, SEER_F32, 2, (int64_t[]){b, 4});
    free(h);
    return y;
}

static int keep(const seer_classify_result *r, void *user) {
    *(seer_classify_result *)user = *r;
    return 0;
}

Test(classify, ranks_by_logits_when_probabilities_underflow) {
    const seer_arch arch = {.name = "fixed", .num_classes = 4, .img_size = 32,
                            .preprocess = "cifar", .forward = fixed_logits};
    seer_model m = {.arch = &arch, .device = SEER_DEVICE_CPU, .dtype = SEER_F32, .num_classes = 4};
    snprintf(m.preprocess, sizeof m.preprocess, "cifar");
    char path[] = "/tmp/seer_classify_XXXXXX.png";
    int fd = mkstemps(path, 4);
    cr_assert_geq(fd, 0);
    close(fd);
    uint8_t px[32 * 32 * 3];
    for (int i = 0; i < 32 * 32 * 3; i++) px[i] = (uint8_t)(i * 7);
    seer_image img = {.w = 32, .h = 32, .c = 3, .px = px};
    cr_assert_eq(seer_image_write_png(path, &img, NULL, NULL, 0), SEER_STATUS_OK);
    seer_dataset_item item = {.path = path, .label = -1};
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    seer_classify_opts o = {.batch = 1, .topk = 4};
    seer_classify_result r = {0};
    cr_assert_eq(seer_classify_run(&m, c, &item, 1, &o, keep, &r), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_eq(r.status, SEER_STATUS_OK);
    int want[4] = {1, 3, 2, 0};
    for (int j = 0; j < 4; j++) cr_assert_eq(r.class_id[j], want[j], "rank %d: class %d", j, r.class_id[j]);
    cr_assert_float_eq(r.prob[0], 1.0f, 1e-6f);
    seer_ctx_free(c);
    unlink(path);
}

Test(classify, numbered_labels_for_a_head_without_a_label_set) {
    seer_labels l;
    cr_assert_eq(seer_labels_numbered(3, &l), SEER_STATUS_OK);
    cr_assert_eq(l.count, 3);
    cr_assert_str_eq(l.id[0], "0");
    cr_assert_str_eq(l.name[2], "2");
    cr_assert_eq(seer_labels_find(&l, "1"), 1);
    seer_labels_free(&l);
}
