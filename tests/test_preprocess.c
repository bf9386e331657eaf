// PIL-exact resampling and the evaluation transforms, against fixtures made with PIL and
// torchvision by tools/golden/make_preprocess_fixtures.py (tests/golden/preprocess/).
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_util.h"
#include "vision/preprocess.h"

#define FIXTURE_DIR SEER_SOURCE_DIR "/tests/golden/preprocess/"

// A fixture file: header line "<dtype> <w> <h> <c>\n", then the raw data.
typedef struct raw_file {
    char dtype[8];
    int w, h, c;
    void *data;
} raw_file;

static raw_file load_raw(const char *name) {
    char path[512];
    snprintf(path, sizeof path, FIXTURE_DIR "%s", name);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s (run tools/golden/make_preprocess_fixtures.py)", path);
    raw_file r = {0};
    cr_assert_eq(fscanf(f, "%7s %d %d %d", r.dtype, &r.w, &r.h, &r.c), 4, "%s: bad header", path);
    cr_assert_eq(fgetc(f), '\n');
    size_t elem = strcmp(r.dtype, "f32") == 0 ? 4 : 1;
    size_t n = (size_t)r.w * r.h * r.c * elem;
    r.data = malloc(n);
    cr_assert(r.data);
    cr_assert_eq(fread(r.data, 1, n, f), n, "%s: short file", path);
    fclose(f);
    return r;
}

static raw_file load_input(const char *name) {
    char file[128];
    snprintf(file, sizeof file, "%s.raw", name);
    raw_file r = load_raw(file);
    cr_assert_str_eq(r.dtype, "u8");
    return r;
}

static FILE *open_manifest(void) {
    FILE *f = fopen(FIXTURE_DIR "manifest.txt", "r");
    cr_assert(f, "cannot open manifest (run tools/golden/make_preprocess_fixtures.py)");
    return f;
}

Test(preprocess, resample_matches_pil) {
    raw_file expected = load_raw("resample.bin");
    FILE *m = open_manifest();
    char line[512], kind[32], input[64], filter_name[32];
    int cases = 0, mismatched = 0, max_diff = 0;
    int per_filter[SEER_RESAMPLE_COUNT] = {0};
    while (fgets(line, sizeof line, m)) {
        int ow, oh;
        long offset;
        if (sscanf(line, "%31s", kind) != 1 || strcmp(kind, "resample") != 0) continue;
        cr_assert_eq(sscanf(line, "%*s %63s %31s %d %d %ld", input, filter_name, &ow, &oh, &offset),
                     5, "bad line: %s", line);
        seer_resample f;
        cr_assert_eq(seer_resample_from_name(filter_name, &f), SEER_STATUS_OK);
        raw_file in = load_input(input);
        uint8_t *out = malloc((size_t)ow * oh * 3);
        cr_assert_eq(seer_resample_u8(in.data, in.w, in.h, in.c, out, ow, oh, f), SEER_STATUS_OK,
                     "%s", seer_last_error());
        const uint8_t *want = (const uint8_t *)expected.data + offset;
        int diff = 0, first_bad = -1;
        for (int i = 0; i < ow * oh * 3; i++) {
            int d = abs((int)out[i] - (int)want[i]);
            if (d > diff) diff = d;
            if (d && first_bad < 0) first_bad = i;
        }
        if (diff) {
            mismatched++;
            cr_log_error("%s %dx%d -> %dx%d %s: max diff %d at byte %d", input, in.w, in.h, ow, oh,
                         filter_name, diff, first_bad);
        }
        if (diff > max_diff) max_diff = diff;
        per_filter[f]++;
        cases++;
        free(out);
        free(in.data);
    }
    fclose(m);
    free(expected.data);
    cr_log_info("resample: %d cases vs PIL, %d differ, max |diff| = %d", cases, mismatched,
                max_diff);
    cr_assert_gt(cases, 200);
    for (int f = 0; f < SEER_RESAMPLE_COUNT; f++)
        cr_assert_gt(per_filter[f], 20, "too few %s cases", seer_resample_name(f));
    cr_assert_eq(max_diff, 0, "%d of %d resample cases differ from PIL (max %d)", mismatched, cases,
                 max_diff);
}

Test(preprocess, pipeline_matches_torchvision) {
    raw_file expected = load_raw("pipeline.bin");
    cr_assert_str_eq(expected.dtype, "f32");
    FILE *m = open_manifest();
    char line[512], kind[32], input[64], desc[256];
    int cases = 0;
    int seen_mode[SEER_RESIZE_MODE_COUNT] = {0};
    double worst = 0;
    while (fgets(line, sizeof line, m)) {
        int rw, rh;
        long offset;
        if (sscanf(line, "%31s", kind) != 1 || strcmp(kind, "pipeline") != 0) continue;
        cr_assert_eq(sscanf(line, "%*s %63s %255s %d %d %ld", input, desc, &rw, &rh, &offset), 5,
                     "bad line: %s", line);
        seer_preprocess p;
        cr_assert_eq(seer_preprocess_parse(desc, &p), SEER_STATUS_OK, "%s: %s", desc,
                     seer_last_error());
        seen_mode[p.mode]++;
        raw_file in = load_input(input);

        int got_w, got_h;
        cr_assert_eq(seer_preprocess_resized_size(&p, in.w, in.h, &got_w, &got_h), SEER_STATUS_OK);
        cr_assert(got_w == rw && got_h == rh, "%s on %s: resized to %dx%d, expected %dx%d", desc,
                  input, got_w, got_h, rw, rh);

        size_t n = seer_preprocess_out_numel(&p);
        cr_assert_eq(n, (size_t)p.size * p.size * 3);
        float *out = malloc(n * sizeof *out);
        cr_assert_eq(seer_preprocess_run(&p, in.data, in.w, in.h, out), SEER_STATUS_OK, "%s: %s",
                     desc, seer_last_error());
        const float *want = (const float *)expected.data + offset;
        double d = seer_max_abs_diff(out, want, n);
        if (d > worst) worst = d;
        cr_expect_leq(d, 1e-6, "%s on %s: max |diff| %g", desc, input, d);
        free(out);
        free(in.data);
        cases++;
    }
    fclose(m);
    free(expected.data);
    cr_log_info("pipelines: %d cases, max |diff| = %g", cases, worst);
    cr_assert_geq(cases, 15);
    for (int i = 0; i < SEER_RESIZE_MODE_COUNT; i++)
        cr_assert_gt(seen_mode[i], 0, "no pipeline case for mode %d", i);
}

// Hand-checkable crop geometry: torchvision's round-half-even offsets and the padding split.
Test(preprocess, crop_offsets_and_padding) {
    // 5x1 image with values 10..50 in red; NONE mode, so only the center crop acts.
    uint8_t img[5 * 3];
    for (int i = 0; i < 15; i++)
        img[i] = (uint8_t)(10 * (i / 3 + 1));
    seer_preprocess p;
    cr_assert_eq(seer_preprocess_parse("mode=none,size=2,mean=0,std=1", &p), SEER_STATUS_OK);
    // Width: (5 - 2) / 2 = 1.5 rounds to 2 (half to even). Height: pad 1 -> 0 above, 1 below.
    float out[2 * 2 * 3];
    cr_assert_eq(seer_preprocess_run(&p, img, 5, 1, out), SEER_STATUS_OK);
    cr_assert_float_eq(out[0], 30.0f / 255.0f, 1e-7);
    cr_assert_float_eq(out[3], 40.0f / 255.0f, 1e-7);
    cr_assert_float_eq(out[6], 0.0f, 0);
    cr_assert_float_eq(out[9], 0.0f, 0);

    // Width 4 -> crop 3: (4 - 3) / 2 = 0.5 rounds to 0.
    cr_assert_eq(seer_preprocess_parse("mode=none,size=3,mean=0,std=1", &p), SEER_STATUS_OK);
    float out3[3 * 3 * 3];
    cr_assert_eq(seer_preprocess_run(&p, img, 4, 1, out3), SEER_STATUS_OK);
    // Height pad 2 -> 1 above, 1 below: the image row is the middle one.
    cr_assert_float_eq(out3[(1 * 3 + 0) * 3], 10.0f / 255.0f, 1e-7);
    cr_assert_float_eq(out3[(0 * 3 + 0) * 3], 0.0f, 0);

    // Padding normalizes like a zero pixel: (0 - mean) / std.
    cr_assert_eq(seer_preprocess_parse("imagenet_timm,mode=none,size=3", &p), SEER_STATUS_OK);
    cr_assert_eq(seer_preprocess_run(&p, img, 4, 1, out3), SEER_STATUS_OK);
    cr_assert_float_eq(out3[0], (0.0f - 0.485f) / 0.229f, 1e-6);
}

Test(preprocess, presets) {
    seer_preprocess p;
    int n = 0;
    for (const char *name; (name = seer_preprocess_preset_name(n)); n++) {
        cr_assert_eq(seer_preprocess_preset(name, &p), SEER_STATUS_OK, "%s", name);
        cr_assert_eq(seer_preprocess_check(&p), SEER_STATUS_OK, "%s: %s", name, seer_last_error());
        // The name alone parses to the preset.
        seer_preprocess q;
        cr_assert_eq(seer_preprocess_parse(name, &q), SEER_STATUS_OK);
        cr_assert(memcmp(&p, &q, sizeof p) == 0, "%s", name);
    }
    cr_assert_eq(n, 7);

    int rw, rh;
    cr_assert_eq(seer_preprocess_preset("imagenet_timm", &p), SEER_STATUS_OK);
    cr_assert_eq(seer_preprocess_resized_size(&p, 500, 375, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 341 && rh == 256, "%dx%d", rw, rh); // int(256 * 500 / 375) = 341
    cr_assert_eq(seer_preprocess_out_size(&p), 224);
    cr_assert_eq(seer_preprocess_parse("imagenet_timm,crop_pct=0.96", &p), SEER_STATUS_OK);
    cr_assert_eq(seer_preprocess_resized_size(&p, 375, 500, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 233 && rh == 310, "%dx%d", rw, rh); // floor(224 / 0.96) = 233
    cr_assert_eq(seer_preprocess_parse("size=448,crop_pct=1.15", &p), SEER_STATUS_OK);
    cr_assert_eq(seer_preprocess_resized_size(&p, 500, 500, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 389 && rh == 389, "%dx%d", rw, rh); // crop 448 > 389: padded

    cr_assert_eq(seer_preprocess_preset("van", &p), SEER_STATUS_OK);
    cr_assert(p.crop_pct == 0.9 && p.mean[0] == 0.5 && p.std[2] == 0.5);
    cr_assert_eq(seer_preprocess_resized_size(&p, 500, 375, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rh == 248, "%d", rh); // floor(224 / 0.9)

    cr_assert_eq(seer_preprocess_preset("biformer", &p), SEER_STATUS_OK);
    cr_assert_eq(seer_preprocess_resized_size(&p, 500, 375, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 341 && rh == 256 && p.size == 224);
    cr_assert_eq(seer_preprocess_preset("agent", &p), SEER_STATUS_OK);
    cr_assert_eq(seer_preprocess_resized_size(&p, 500, 375, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 256 && rh == 256 && p.size == 224);
    cr_assert_eq(seer_preprocess_preset("deit", &p), SEER_STATUS_OK);
    cr_assert_eq(seer_preprocess_resized_size(&p, 375, 500, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 256 && rh == 341);
    cr_assert_eq(seer_preprocess_preset("cifar", &p), SEER_STATUS_OK);
    cr_assert(p.mode == SEER_RESIZE_NONE && p.size == 32);
    cr_assert_eq(seer_preprocess_preset("adm", &p), SEER_STATUS_OK);
    // 500x375: no halving (375 < 512), round(500 * 256 / 375) = 341.
    cr_assert_eq(seer_preprocess_resized_size(&p, 500, 375, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 341 && rh == 256, "%dx%d", rw, rh);
    // 1030x1024 -> 515x512 -> 257x256: two halvings (1024 and 512 are both >= 2 * 256).
    cr_assert_eq(seer_preprocess_resized_size(&p, 1030, 1024, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 257 && rh == 256, "%dx%d", rw, rh);
    // 1201x901 -> 600x450 (450 < 512) -> round(600 * 256 / 450) = round(341.33) = 341.
    cr_assert_eq(seer_preprocess_resized_size(&p, 1201, 901, &rw, &rh), SEER_STATUS_OK);
    cr_assert(rw == 341 && rh == 256, "%dx%d", rw, rh);

    cr_assert_eq(seer_preprocess_preset("resnet", &p), SEER_STATUS_NOT_FOUND);
    cr_assert(strstr(seer_last_error(), "resnet"));
}

Test(preprocess, parse_format_round_trip) {
    const char *cases[][2] = {
        {"resize=bicubic,crop_pct=0.96,size=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225",
         "resize=bicubic,crop_pct=0.96,size=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"},
        {"imagenet_timm",
         "resize=bicubic,crop_pct=0.875,size=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"},
        {"van", "resize=bicubic,crop_pct=0.9,size=224,mean=0.5/0.5/0.5,std=0.5/0.5/0.5"},
        {"biformer",
         "resize=bicubic,short=256,size=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"},
        {"agent",
         "resize=bicubic,squash=256,size=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"},
        {"cifar", "resize=bicubic,mode=none,size=32,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"},
        {"adm", "resize=bicubic,mode=adm,size=256,mean=0/0/0,std=1/1/1"},
        {" imagenet_timm , crop_pct = 1.15 , size=448 ",
         "resize=bicubic,crop_pct=1.15,size=448,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"},
        {"biformer,crop_pct=0.9,resize=bilinear,mean=0.5",
         "resize=bilinear,crop_pct=0.9,size=224,mean=0.5/0.5/0.5,std=0.229/0.224/0.225"},
        {"van,mode=short,short=300,size=288",
         "resize=bicubic,short=300,size=288,mean=0.5/0.5/0.5,std=0.5/0.5/0.5"},
        {"resize=nearest,mode=none,size=7,mean=0.1/0.2/0.3,std=3",
         "resize=nearest,mode=none,size=7,mean=0.1/0.2/0.3,std=3/3/3"},
        {"", "resize=bicubic,crop_pct=0.875,size=224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seer_preprocess p, q;
        char buf[256], buf2[256];
        cr_assert_eq(seer_preprocess_parse(cases[i][0], &p), SEER_STATUS_OK, "'%s': %s",
                     cases[i][0], seer_last_error());
        cr_assert_eq(seer_preprocess_format(&p, buf, sizeof buf), SEER_STATUS_OK);
        cr_assert_str_eq(buf, cases[i][1], "'%s'", cases[i][0]);
        cr_assert_eq(seer_preprocess_parse(buf, &q), SEER_STATUS_OK);
        cr_assert(memcmp(&p, &q, sizeof p) == 0, "'%s' does not round trip", buf);
        cr_assert_eq(seer_preprocess_format(&q, buf2, sizeof buf2), SEER_STATUS_OK);
        cr_assert_str_eq(buf, buf2);
    }
    // Values that need all 17 digits still round trip exactly.
    seer_preprocess p, q;
    cr_assert_eq(seer_preprocess_preset("imagenet_timm", &p), SEER_STATUS_OK);
    p.crop_pct = 1.0 / 3.0 + 0.5;
    p.mean[1] = 0.1 + 0.2;
    char buf[256];
    cr_assert_eq(seer_preprocess_format(&p, buf, sizeof buf), SEER_STATUS_OK);
    cr_assert_eq(seer_preprocess_parse(buf, &q), SEER_STATUS_OK);
    cr_assert(q.crop_pct == p.crop_pct && q.mean[1] == p.mean[1], "%s", buf);
    char small[16];
    cr_assert_eq(seer_preprocess_format(&p, small, sizeof small), SEER_STATUS_ARG);
}

Test(preprocess, bad_descriptions) {
    const char *bad[][2] = {
        {"resize=bicubc", "resize"},
        {"foo=1", "unknown key 'foo'"},
        {"size=0", "size"},
        {"size=22x", "size"},
        {"size=99999", "size"},
        {"crop_pct=0", "crop_pct"},
        {"crop_pct=abc", "crop_pct"},
        {"crop_pct=nan", "crop_pct"},
        {"short=-3", "short"},
        {"mode=diagonal", "mode"},
        {"mean=0.1/0.2", "mean"},
        {"mean=0.1/0.2/0.3/0.4", "mean"},
        {"std=0", "std"},
        {"std=0/1/1", "std"},
        {"size=224,size=256", "twice"},
        {"crop_pct=0.9,short=256", "different resize modes"},
        {"short=256,squash=256", "different resize modes"},
        {"mode=short", "resize size 0"},
        {"imagenet", "unknown preset 'imagenet'"},
        {"size=224,van", "not key=value"},
        {"crop_pct=0.01,size=224", "resize target"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        seer_preprocess p;
        seer_clear_error();
        cr_assert_eq(seer_preprocess_parse(bad[i][0], &p), SEER_STATUS_ARG, "'%s' accepted",
                     bad[i][0]);
        cr_assert(strstr(seer_last_error(), bad[i][1]), "'%s': message '%s' lacks '%s'", bad[i][0],
                  seer_last_error(), bad[i][1]);
    }
    seer_preprocess p;
    cr_assert_eq(seer_preprocess_parse(NULL, &p), SEER_STATUS_ARG);
}

Test(preprocess, bad_arguments) {
    uint8_t px[12] = {0}, out[12];
    cr_assert_eq(seer_resample_u8(px, 0, 2, 3, out, 2, 2, SEER_RESAMPLE_BICUBIC), SEER_STATUS_ARG);
    cr_assert_eq(seer_resample_u8(px, 2, 2, 3, out, 2, 0, SEER_RESAMPLE_BICUBIC), SEER_STATUS_ARG);
    cr_assert_eq(seer_resample_u8(px, 2, 2, 5, out, 1, 1, SEER_RESAMPLE_BICUBIC), SEER_STATUS_ARG);
    cr_assert_eq(seer_resample_u8(NULL, 2, 2, 3, out, 1, 1, SEER_RESAMPLE_BICUBIC),
                 SEER_STATUS_ARG);
    cr_assert_eq(seer_resample_u8(px, 2, 2, 3, out, 1, 1, SEER_RESAMPLE_COUNT), SEER_STATUS_ARG);
    seer_resample f;
    cr_assert_eq(seer_resample_from_name("cubic", &f), SEER_STATUS_ARG);
    cr_assert(strstr(seer_last_error(), "bicubic"));

    seer_preprocess p;
    cr_assert_eq(seer_preprocess_preset("imagenet_timm", &p), SEER_STATUS_OK);
    float *fo = malloc(seer_preprocess_out_numel(&p) * sizeof *fo);
    cr_assert_eq(seer_preprocess_run(&p, px, 0, 2, fo), SEER_STATUS_ARG);
    cr_assert_eq(seer_preprocess_run(&p, NULL, 2, 2, fo), SEER_STATUS_ARG);
    p.std[1] = 0.0;
    cr_assert_eq(seer_preprocess_run(&p, px, 2, 2, fo), SEER_STATUS_ARG);
    cr_assert(strstr(seer_last_error(), "std"));
    free(fo);
}

// Single-channel and 4-channel images resample each channel like the RGB path does.
Test(preprocess, resample_channels_independent) {
    seer_rng r = seer_rng_new(3);
    enum { W = 19, H = 11, OW = 7, OH = 23 };
    uint8_t rgba[W * H * 4], gray[W * H], out4[OW * OH * 4], out1[OW * OH];
    for (int i = 0; i < W * H * 4; i++)
        rgba[i] = (uint8_t)(seer_rng_u64(&r) & 255);
    for (int ch = 0; ch < 4; ch++) {
        for (int i = 0; i < W * H; i++)
            gray[i] = rgba[i * 4 + ch];
        cr_assert_eq(seer_resample_u8(rgba, W, H, 4, out4, OW, OH, SEER_RESAMPLE_LANCZOS),
                     SEER_STATUS_OK);
        cr_assert_eq(seer_resample_u8(gray, W, H, 1, out1, OW, OH, SEER_RESAMPLE_LANCZOS),
                     SEER_STATUS_OK);
        for (int i = 0; i < OW * OH; i++)
            cr_assert_eq(out1[i], out4[i * 4 + ch]);
    }
}
