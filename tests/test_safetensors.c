// safetensors reader and writer: round trips of every dtype, conversions, and a corpus of
// broken files (made here at test time) that must each fail with FORMAT and a message naming
// the file and the problem.
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "tests/test_util.h"

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/seer_st_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static int count_files(const char *substr) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.' && strstr(e->d_name, substr)) n++;
    if (d) closedir(d);
    return n;
}

static void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    char p[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."))) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
}

TestSuite(safetensors, .init = make_tmpdir, .fini = remove_tmpdir);

static const char *tmp_path(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(p, 1, n, fp), n);
    fclose(fp);
}

// ---- the broken-file corpus ----------------------------------------------------------------

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

// u64 header length `hlen` + the JSON text + data_len random non-zero bytes.
static blob make_blob_len(uint64_t hlen, const char *json, size_t data_len) {
    size_t jl = strlen(json);
    blob b = {malloc(8 + jl + data_len + 1), 8 + jl + data_len};
    memcpy(b.p, &hlen, 8);
    memcpy(b.p + 8, json, jl);
    seer_rng r = seer_rng_new(data_len + jl);
    for (size_t i = 0; i < data_len; i++)
        b.p[8 + jl + i] = (uint8_t)(seer_rng_u64(&r) | 1);
    return b;
}

static blob make_blob(const char *json, size_t data_len) {
    return make_blob_len(strlen(json), json, data_len);
}

// A valid two-tensor file: a F32 [2, 2] at [0, 16), b F16 [4] at [16, 24).
#define GOOD_JSON                                                                                  \
    "{\"__metadata__\":{\"seer.arch\":\"vit\"},"                                                   \
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"                           \
    "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[16,24]}}"

// Both the file and the in-memory open must fail with FORMAT and name the file and `want`
// (and `want2` if given).
static void expect_broken(const char *tag, blob b, const char *want, const char *want2) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", tmpdir, tag);
    write_bytes(path, b.p, b.n);
    seer_st_file *f = (seer_st_file *)1;
    cr_assert_eq(seer_st_open(path, &f), SEER_STATUS_FORMAT, "%s: %s", tag, seer_last_error());
    cr_assert_null(f);
    const char *msg = seer_last_error();
    cr_assert(strstr(msg, path), "%s: message does not name the file: %s", tag, msg);
    cr_assert(strstr(msg, want), "%s: expected '%s' in: %s", tag, want, msg);
    if (want2) cr_assert(strstr(msg, want2), "%s: expected '%s' in: %s", tag, want2, msg);

    cr_assert_eq(seer_st_open_memory(b.p, b.n, tag, &f), SEER_STATUS_FORMAT, "%s", tag);
    cr_assert_null(f);
    cr_assert(strstr(seer_last_error(), want), "%s (memory): %s", tag, seer_last_error());
    free(b.p);
}

Test(safetensors, good_template_opens) {
    blob b = make_blob(GOOD_JSON, 24);
    seer_st_file *f;
    cr_assert_eq(seer_st_open_memory(b.p, b.n, "good", &f), SEER_STATUS_OK, "%s",
                 seer_last_error());
    cr_assert_eq(seer_st_count(f), 2);
    cr_assert_str_eq(seer_st_metadata(f, "seer.arch"), "vit");
    seer_st_close(f);
    free(b.p);
}

Test(safetensors, broken_truncated) {
    expect_broken("tiny", (blob){(uint8_t *)strdup("abcde"), 5}, "5 bytes", "at least 8");
    expect_broken("empty", (blob){malloc(1), 0}, "0 bytes", NULL);
    blob cut = make_blob(GOOD_JSON, 24);
    cut.n = 8 + 40; // header cut
    expect_broken("header_cut", cut, "header length", "larger than");
    cut = make_blob(GOOD_JSON, 24);
    cut.n -= 4; // last tensor's data cut
    expect_broken("data_cut", cut, "tensor 'b'", "past the end");

    // Every strict prefix of a good file is refused, never read past its end.
    blob good = make_blob(GOOD_JSON, 24);
    for (size_t n = 0; n < good.n; n++) {
        seer_st_file *f;
        cr_assert_eq(seer_st_open_memory(good.p, n, "prefix", &f), SEER_STATUS_FORMAT,
                     "prefix of %zu bytes", n);
    }
    free(good.p);
}

Test(safetensors, broken_header_length) {
    expect_broken("huge", make_blob_len(UINT64_MAX, GOOD_JSON, 24), "header length",
                  "exceeds the limit");
    expect_broken("over_100mb", make_blob_len(100000001ull, GOOD_JSON, 24), "exceeds", NULL);
    expect_broken("longer_than_file", make_blob_len(1000, GOOD_JSON, 24), "header length 1000",
                  "larger than");
    // A short length cuts the JSON: that is bad JSON, not an out-of-bounds read.
    expect_broken("short_len", make_blob_len(20, GOOD_JSON, 24), "not valid JSON", NULL);
}

Test(safetensors, broken_json) {
    expect_broken("bad_json", make_blob("{\"a\": {\"dtype\": \"F32\",", 0), "not valid JSON", NULL);
    expect_broken("dup_keys",
                  make_blob("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                            8),
                  "not valid JSON", "duplicate");
    expect_broken("array_root", make_blob("[1, 2]", 0), "expected a JSON object", "found an array");
    expect_broken("entry_not_object", make_blob("{\"w\": 3}", 0), "tensor 'w'", "found an integer");
}

Test(safetensors, broken_layout) {
    expect_broken("overlap",
                  make_blob("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                            24),
                  "'a' [0, 16) and 'b' [8, 24)", "overlap");
    expect_broken("hole",
                  make_blob("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
                            24),
                  "hole", "[8, 16) between tensors 'a' and 'b'");
    expect_broken(
        "hole_at_start",
        make_blob("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16), "hole",
        "first tensor 'a' starts at 8");
    expect_broken("trailing",
                  make_blob("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12),
                  "4 trailing bytes", "after tensor 'a'");
    expect_broken(
        "past_end",
        make_blob("{\"a\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", 16),
        "tensor 'a'", "past the end of the data region (16 bytes");
    expect_broken("reversed",
                  make_blob("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8),
                  "tensor 'a'", "begin <= end");
}

Test(safetensors, broken_entries) {
    expect_broken(
        "bytes_mismatch",
        make_blob("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20),
        "tensor 'w'", "[2, 3] F32 needs 24 bytes, found data_offsets [0, 20]");
    expect_broken("unknown_dtype",
                  make_blob("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8),
                  "tensor 'w'", "dtype 'F64' is not supported");
    expect_broken(
        "negative_shape",
        make_blob("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,2],\"data_offsets\":[0,8]}}", 8),
        "tensor 'w': shape[0]", "found -1");
    expect_broken("too_many_dims",
                  make_blob("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1],"
                            "\"data_offsets\":[0,1]}}",
                            1),
                  "tensor 'w'", "8 dims, expected at most 7");
    expect_broken("real_dim",
                  make_blob("{\"w\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1),
                  "shape[0]", "found a real number");
    expect_broken("missing_dtype", make_blob("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                  "tensor 'w'", "\"dtype\" as a string, found nothing");
    expect_broken("offsets_one_int",
                  make_blob("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]}}", 1),
                  "tensor 'w'", "[begin, end]");
    expect_broken("overflowing_shape",
                  make_blob("{\"w\":{\"dtype\":\"I64\",\"shape\":[4294967296,4294967296],"
                            "\"data_offsets\":[0,8]}}",
                            8),
                  "tensor 'w'", "too large");
}

Test(safetensors, broken_metadata) {
    expect_broken("meta_non_string",
                  make_blob("{\"__metadata__\":{\"ok\":\"x\",\"k\":1},"
                            "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
                            1),
                  "__metadata__ key 'k'", "expected a string value, found an integer");
    expect_broken("meta_not_object", make_blob("{\"__metadata__\":[\"a\"]}", 0), "__metadata__",
                  "found an array");
}

// Random single-byte corruptions of a good file: each open either succeeds or fails with
// FORMAT; none may crash or read out of bounds (run under SEER_SANITIZE to check the latter).
Test(safetensors, corrupted_bytes_never_crash) {
    blob good = make_blob(GOOD_JSON, 24);
    seer_rng r = seer_rng_new(7);
    for (int it = 0; it < 2000; it++) {
        uint8_t *p = malloc(good.n);
        memcpy(p, good.p, good.n);
        size_t at = seer_rng_u64(&r) % (good.n - 24); // the prefix and the header
        p[at] = (uint8_t)seer_rng_u64(&r);
        seer_st_file *f;
        seer_status st = seer_st_open_memory(p, good.n, "fuzz", &f);
        cr_assert(st == SEER_STATUS_OK || st == SEER_STATUS_FORMAT, "byte %zu: %s", at,
                  seer_status_name(st));
        seer_st_close(f);
        free(p);
    }
    free(good.p);
}

// ---- round trips ---------------------------------------------------------------------------

typedef struct case_t {
    const char *name;
    seer_dtype dt;
    int ndim;
    int64_t shape[SEER_MAX_DIMS];
} case_t;

static const case_t cases[] = {
    {"f32.matrix", SEER_F32, 2, {3, 5}},
    {"f16.vector", SEER_F16, 1, {7}},
    {"bf16.cube", SEER_BF16, 3, {2, 3, 4}},
    {"i32.col", SEER_I32, 2, {4, 1}},
    {"i64.idx", SEER_I64, 1, {3}},
    {"u8.bytes", SEER_U8, 1, {17}},
    {"scalar", SEER_F32, 0, {0}},
    {"empty", SEER_F32, 2, {0, 4}},
    {"six.dims", SEER_I32, 6, {1, 2, 1, 3, 1, 2}},
    {"blocks.0.attn.qkv.weight", SEER_BF16, 2, {6, 2}},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static size_t case_bytes(const case_t *c) {
    size_t n = seer_dtype_size(c->dt);
    for (int i = 0; i < c->ndim; i++)
        n *= (size_t)c->shape[i];
    return n;
}

static uint8_t *case_data(int k) {
    size_t n = case_bytes(&cases[k]);
    uint8_t *p = malloc(n + 1);
    seer_rng r = seer_rng_new(100 + (uint64_t)k);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seer_rng_u64(&r) | 1);
    return p;
}

static seer_st_writer *case_writer(void) {
    seer_st_writer *w = seer_st_writer_new();
    cr_assert_not_null(w);
    for (int k = 0; k < NCASES; k++) {
        uint8_t *d = case_data(k);
        cr_assert_eq(
            seer_st_writer_add(w, cases[k].name, cases[k].dt, cases[k].ndim, cases[k].shape, d),
            SEER_STATUS_OK, "%s", seer_last_error());
        free(d);
    }
    cr_assert_eq(seer_st_writer_set_metadata(w, "seer.arch", "old"), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_set_metadata(w, "format", "pt"), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_set_metadata(w, "seer.arch", "deit_small_patch16_224"),
                 SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_set_metadata(w, "note", "caf\xc3\xa9 \"quoted\""), SEER_STATUS_OK);
    return w;
}

static void check_cases(const seer_st_file *f) {
    cr_assert_eq(seer_st_count(f), NCASES);
    for (int k = 0; k < NCASES; k++) {
        const case_t *c = &cases[k];
        int idx = seer_st_find(f, c->name);
        cr_assert_geq(idx, 0, "%s", c->name);
        cr_assert_str_eq(seer_st_name(f, idx), c->name);
        seer_dtype dt;
        int nd;
        int64_t shape[SEER_MAX_DIMS];
        cr_assert_eq(seer_st_info(f, c->name, &dt, &nd, shape), SEER_STATUS_OK);
        cr_assert_eq(dt, c->dt, "%s", c->name);
        cr_assert_eq(nd, c->ndim, "%s", c->name);
        for (int i = 0; i < nd; i++)
            cr_assert_eq(shape[i], c->shape[i]);
        size_t n = case_bytes(c);
        uint8_t *want = case_data(k), *got = malloc(n + 1);
        cr_assert_eq(seer_st_read(f, c->name, c->dt, got, n), SEER_STATUS_OK, "%s",
                     seer_last_error());
        cr_assert_eq(memcmp(got, want, n), 0, "%s", c->name);
        size_t rn;
        const void *raw = seer_st_raw(f, c->name, &rn);
        cr_assert_eq(rn, n);
        cr_assert(n == 0 || memcmp(raw, want, n) == 0);
        free(want);
        free(got);
    }
    cr_assert_eq(seer_st_metadata_count(f), 3);
    cr_assert_str_eq(seer_st_metadata_key(f, 0), "seer.arch");
    cr_assert_str_eq(seer_st_metadata_value(f, 0), "deit_small_patch16_224");
    cr_assert_str_eq(seer_st_metadata(f, "format"), "pt");
    cr_assert_str_eq(seer_st_metadata(f, "note"), "caf\xc3\xa9 \"quoted\"");
    cr_assert_null(seer_st_metadata(f, "absent"));
    cr_assert_null(seer_st_metadata_key(f, 3));
    cr_assert_eq(seer_st_find(f, "absent"), -1);
    cr_assert_null(seer_st_name(f, NCASES));
}

Test(safetensors, round_trip_every_dtype) {
    seer_st_writer *w = case_writer();
    const char *path = tmp_path("all.safetensors");
    cr_assert_eq(seer_st_writer_save(w, path), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(count_files(".tmp."), 0, "temporary file left behind");

    seer_st_file *f;
    cr_assert_eq(seer_st_open(path, &f), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_str_eq(seer_st_path(f), path);
    check_cases(f);
    // Layout: header padded to 8, tensors in file order tile the data, each aligned.
    size_t pos = 0;
    for (int i = 0; i < seer_st_count(f); i++) {
        seer_dtype dt;
        cr_assert_eq(seer_st_info(f, seer_st_name(f, i), &dt, NULL, NULL), SEER_STATUS_OK);
        size_t n;
        const uint8_t *raw = seer_st_raw(f, seer_st_name(f, i), &n);
        if (i == 0) pos = (size_t)(uintptr_t)raw;
        cr_assert_eq((size_t)(uintptr_t)raw, pos, "tensor %d not contiguous", i);
        cr_assert_eq(((uintptr_t)raw) % seer_dtype_size(dt), 0, "tensor %d misaligned", i);
        pos += n;
    }
    seer_st_close(f);

    // The in-memory serialization is byte-identical to the file.
    void *mem;
    size_t mn;
    cr_assert_eq(seer_st_writer_to_memory(w, &mem, &mn), SEER_STATUS_OK);
    FILE *fp = fopen(path, "rb");
    uint8_t *disk = malloc(mn + 1);
    cr_assert_eq(fread(disk, 1, mn + 1, fp), mn);
    fclose(fp);
    cr_assert_eq(memcmp(disk, mem, mn), 0);
    uint64_t hl;
    memcpy(&hl, mem, 8);
    cr_assert_eq(hl % 8, 0);
    cr_assert_eq(((char *)mem)[8], '{');
    cr_assert_eq(seer_st_open_memory(mem, mn, NULL, &f), SEER_STATUS_OK);
    free(mem); // the reader keeps its own copy
    free(disk);
    check_cases(f);
    cr_assert_str_eq(seer_st_path(f), "<memory>");
    seer_st_close(f);
    seer_st_writer_free(w);
}

Test(safetensors, empty_file_and_overwrite) {
    const char *path = tmp_path("empty.safetensors");
    seer_st_writer *w = seer_st_writer_new();
    cr_assert_eq(seer_st_writer_save(w, path), SEER_STATUS_OK);
    seer_st_file *f;
    cr_assert_eq(seer_st_open(path, &f), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_st_count(f), 0);
    cr_assert_eq(seer_st_metadata_count(f), 0);
    seer_st_close(f);
    // Saving over an existing file replaces it whole.
    float v = 3.5f;
    cr_assert_eq(seer_st_writer_add(w, "v", SEER_F32, 0, NULL, &v), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_save(w, path), SEER_STATUS_OK);
    cr_assert_eq(seer_st_open(path, &f), SEER_STATUS_OK);
    float got = 0;
    cr_assert_eq(seer_st_read(f, "v", SEER_F32, &got, 4), SEER_STATUS_OK);
    cr_assert_eq(got, 3.5f);
    seer_st_close(f);
    seer_st_writer_free(w);
}

Test(safetensors, half_precision_read_as_f32) {
    enum { N = 257 };
    float src[N];
    uint16_t h16[N], b16[N];
    seer_rng r = seer_rng_new(3);
    seer_rng_fill(&r, src, N);
    for (int i = 0; i < N; i++) {
        h16[i] = seer_f32_to_f16(src[i]);
        b16[i] = seer_f32_to_bf16(src[i]);
    }
    seer_st_writer *w = seer_st_writer_new();
    cr_assert_eq(seer_st_writer_add(w, "h", SEER_F16, 1, (int64_t[]){N}, h16), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_add(w, "b", SEER_BF16, 1, (int64_t[]){N}, b16), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_add(w, "f", SEER_F32, 1, (int64_t[]){N}, src), SEER_STATUS_OK);
    void *mem;
    size_t mn;
    cr_assert_eq(seer_st_writer_to_memory(w, &mem, &mn), SEER_STATUS_OK);
    seer_st_file *f;
    cr_assert_eq(seer_st_open_memory(mem, mn, "half", &f), SEER_STATUS_OK);
    float got[N];
    uint16_t g16[N];
    cr_assert_eq(seer_st_read(f, "h", SEER_F32, got, sizeof got), SEER_STATUS_OK);
    for (int i = 0; i < N; i++)
        cr_assert_eq(got[i], seer_f16_to_f32(h16[i]));
    cr_assert_lt(seer_rel_l2(got, src, N), 1e-3);
    cr_assert_eq(seer_st_read(f, "b", SEER_F32, got, sizeof got), SEER_STATUS_OK);
    for (int i = 0; i < N; i++)
        cr_assert_eq(got[i], seer_bf16_to_f32(b16[i]));
    cr_assert_lt(seer_rel_l2(got, src, N), 1e-2);
    cr_assert_eq(seer_st_read(f, "f", SEER_BF16, g16, sizeof g16), SEER_STATUS_OK);
    cr_assert_eq(memcmp(g16, b16, sizeof g16), 0);
    cr_assert_eq(seer_st_read(f, "b", SEER_F16, g16, sizeof g16), SEER_STATUS_OK);
    for (int i = 0; i < N; i++)
        cr_assert_eq(g16[i], seer_f32_to_f16(seer_bf16_to_f32(b16[i])));
    seer_st_close(f);
    seer_st_writer_free(w);
    free(mem);
}

Test(safetensors, integer_conversion_and_read_errors) {
    int64_t small[3] = {-5, 7, 2147483647}, big[2] = {1, 1ll << 40};
    uint8_t u[2] = {200, 3};
    float x[2] = {1.5f, -2.0f};
    seer_st_writer *w = seer_st_writer_new();
    cr_assert_eq(seer_st_writer_add(w, "small", SEER_I64, 1, (int64_t[]){3}, small), 0);
    cr_assert_eq(seer_st_writer_add(w, "big", SEER_I64, 1, (int64_t[]){2}, big), 0);
    cr_assert_eq(seer_st_writer_add(w, "u", SEER_U8, 1, (int64_t[]){2}, u), 0);
    cr_assert_eq(seer_st_writer_add(w, "x", SEER_F32, 1, (int64_t[]){2}, x), 0);
    void *mem;
    size_t mn;
    cr_assert_eq(seer_st_writer_to_memory(w, &mem, &mn), SEER_STATUS_OK);
    seer_st_file *f;
    cr_assert_eq(seer_st_open_memory(mem, mn, "ints", &f), SEER_STATUS_OK);
    int32_t i32[3];
    int64_t i64[2];
    cr_assert_eq(seer_st_read(f, "small", SEER_I32, i32, sizeof i32), SEER_STATUS_OK);
    cr_assert(i32[0] == -5 && i32[1] == 7 && i32[2] == 2147483647);
    cr_assert_eq(seer_st_read(f, "u", SEER_I64, i64, sizeof i64), SEER_STATUS_OK);
    cr_assert(i64[0] == 200 && i64[1] == 3);
    cr_assert_eq(seer_st_read(f, "big", SEER_I32, i32, 8), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "element 1 = 1099511627776 does not fit in I32"), "%s",
              seer_last_error());
    cr_assert_eq(seer_st_read(f, "small", SEER_U8, u, 3), SEER_STATUS_SHAPE);
    cr_assert_eq(seer_st_read(f, "x", SEER_I32, i32, 8), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "tensor 'x' is F32; reading it as I32 is refused"));
    cr_assert_eq(seer_st_read(f, "u", SEER_F32, x, 8), SEER_STATUS_SHAPE);
    cr_assert_eq(seer_st_read(f, "x", SEER_F32, x, 12), SEER_STATUS_ARG);
    cr_assert(strstr(seer_last_error(), "needs a 8-byte buffer, got 12"), "%s", seer_last_error());
    cr_assert_eq(seer_st_read(f, "nope", SEER_F32, x, 8), SEER_STATUS_NOT_FOUND);
    cr_assert(strstr(seer_last_error(), "ints: no tensor 'nope'"));
    cr_assert_null(seer_st_raw(f, "nope", NULL));
    cr_assert_eq(seer_st_info(f, "nope", NULL, NULL, NULL), SEER_STATUS_NOT_FOUND);
    seer_st_close(f);
    seer_st_writer_free(w);
    free(mem);
}

Test(safetensors, misaligned_offsets_read) {
    // An odd header length puts the data region at an odd offset: every tensor is misaligned
    // (the reader's copy of the buffer is malloc-aligned, so this holds in memory too).
    const char *json = "{\"__metadata__\":{},\"a\":{\"dtype\":\"F32\",\"shape\":[3],"
                       "\"data_offsets\":[0,12]},\"b\":{\"dtype\":\"I64\",\"shape\":[1],"
                       "\"data_offsets\":[12,20]}}";
    char padded[256];
    snprintf(padded, sizeof padded, "%s", json);
    if (strlen(padded) % 2 == 0) strcat(padded, " ");
    blob b = make_blob(padded, 20);
    float fa[3] = {1.25f, -3.0f, 1e-3f};
    int64_t ib = -123456789012345ll;
    uint8_t *data = b.p + 8 + strlen(padded);
    memcpy(data, fa, 12);
    memcpy(data + 12, &ib, 8);
    seer_st_file *f;
    cr_assert_eq(seer_st_open_memory(b.p, b.n, "odd", &f), SEER_STATUS_OK, "%s", seer_last_error());
    float ga[3];
    int64_t gb;
    cr_assert_eq(seer_st_read(f, "a", SEER_F32, ga, sizeof ga), SEER_STATUS_OK);
    cr_assert_eq(memcmp(ga, fa, 12), 0);
    cr_assert_eq(seer_st_read(f, "b", SEER_I64, &gb, 8), SEER_STATUS_OK);
    cr_assert_eq(gb, ib);
    cr_assert_eq(seer_st_metadata_count(f), 0);
    seer_st_close(f);
    free(b.p);
}

Test(safetensors, open_errors_are_io) {
    seer_st_file *f;
    const char *missing = tmp_path("missing.safetensors");
    cr_assert_eq(seer_st_open(missing, &f), SEER_STATUS_IO);
    cr_assert_null(f);
    cr_assert(strstr(seer_last_error(), missing) && strstr(seer_last_error(), "cannot open"));
    cr_assert_eq(seer_st_open(tmpdir, &f), SEER_STATUS_IO);
    cr_assert(strstr(seer_last_error(), "not a regular file"));
    seer_st_writer *w = seer_st_writer_new();
    cr_assert_eq(seer_st_writer_save(w, tmp_path("no/such/dir.safetensors")), SEER_STATUS_IO);
    cr_assert(strstr(seer_last_error(), "cannot create"));
    seer_st_writer_free(w);
}

Test(safetensors, writer_refuses_bad_input) {
    seer_st_writer *w = seer_st_writer_new();
    float v[2] = {1, 2};
    cr_assert_eq(seer_st_writer_add(w, "a", SEER_F32, 1, (int64_t[]){2}, v), SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_add(w, "a", SEER_F32, 1, (int64_t[]){2}, v), SEER_STATUS_ARG);
    cr_assert(strstr(seer_last_error(), "'a' added twice"));
    cr_assert_eq(seer_st_writer_add(w, "__metadata__", SEER_F32, 1, (int64_t[]){2}, v),
                 SEER_STATUS_ARG);
    cr_assert_eq(seer_st_writer_add(w, "", SEER_F32, 1, (int64_t[]){2}, v), SEER_STATUS_ARG);
    cr_assert_eq(seer_st_writer_add(w, "bad\xff", SEER_F32, 1, (int64_t[]){2}, v), SEER_STATUS_ARG);
    cr_assert_eq(seer_st_writer_add(w, "neg", SEER_F32, 1, (int64_t[]){-2}, v), SEER_STATUS_ARG);
    cr_assert_eq(seer_st_writer_add(w, "deep", SEER_F32, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}, v),
                 SEER_STATUS_ARG);
    cr_assert_eq(seer_st_writer_add(w, "null", SEER_F32, 1, (int64_t[]){2}, NULL), SEER_STATUS_ARG);
    cr_assert_eq(seer_st_writer_add(w, "dt", SEER_DTYPE_COUNT, 1, (int64_t[]){2}, v),
                 SEER_STATUS_ARG);
    cr_assert_eq(seer_st_writer_set_metadata(w, "k", NULL), SEER_STATUS_ARG);
    seer_st_writer_free(w);
}
