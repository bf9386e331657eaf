// .npz reading and writing against files numpy wrote (tools/golden/make_fid_fixture.py):
// np.savez, np.savez_compressed, a hand-made ZIP64 archive, plus round trips and damaged files.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/golden_util.h"
#include "vision/npz.h"

// The fixture's closed-form arrays: mu[i] = i / 4 - 1, sigma[i, j] = 1 / (1 + i + j).
static void check_mu_sigma(seer_npz *z) {
    int nd;
    int64_t sh[SEER_MAX_DIMS];
    double *v = NULL;
    cr_assert_eq(seer_npz_read_f64(z, "mu", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(nd, 1);
    cr_assert_eq(sh[0], 16);
    for (int i = 0; i < 16; i++) cr_assert_eq(v[i], i / 4.0 - 1);
    free(v);
    cr_assert_eq(seer_npz_read_f64(z, "sigma", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(nd, 2);
    cr_assert(sh[0] == 16 && sh[1] == 16);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) cr_assert_eq(v[i * 16 + j], 1.0 / (1 + i + j));
    free(v);
}

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void write_file(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

// Open and read mu and sigma; the first failure's status (OK if all worked).
static seer_status try_read(const char *path) {
    seer_npz *z = NULL;
    seer_status st = seer_npz_open(path, &z);
    int nd;
    int64_t sh[SEER_MAX_DIMS];
    double *v = NULL;
    if (st == SEER_STATUS_OK) st = seer_npz_read_f64(z, "mu", &nd, sh, &v);
    free(v);
    v = NULL;
    if (st == SEER_STATUS_OK) st = seer_npz_read_f64(z, "sigma", &nd, sh, &v);
    free(v);
    seer_npz_close(z);
    return st;
}

Test(npz, reads_np_savez_and_skips_images) {
    seer_npz *z = NULL;
    cr_assert_eq(seer_npz_open(golden_path("fid/savez.npz"), &z), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_npz_count(z), 3);
    cr_assert_str_eq(seer_npz_name(z, 0), "arr_0");
    cr_assert_eq(seer_npz_find(z, "sigma"), 2);
    cr_assert_eq(seer_npz_find(z, "nope"), -1);
    check_mu_sigma(z);
    int nd;
    int64_t sh[SEER_MAX_DIMS];
    double *v = NULL;
    cr_assert_eq(seer_npz_read_f64(z, "arr_0", &nd, sh, &v), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "'|u1'"), "%s", seer_last_error());
    cr_assert_eq(seer_npz_read_f64(z, "nope", &nd, sh, &v), SEER_STATUS_NOT_FOUND);
    cr_assert(strstr(seer_last_error(), "'nope'"), "%s", seer_last_error());
    seer_npz_close(z);
}

Test(npz, reads_np_savez_compressed_dtypes_and_orders) {
    seer_npz *z = NULL;
    cr_assert_eq(seer_npz_open(golden_path("fid/savez_compressed.npz"), &z), SEER_STATUS_OK, "%s",
                 seer_last_error());
    check_mu_sigma(z);
    int nd;
    int64_t sh[SEER_MAX_DIMS];
    double *v = NULL;
    cr_assert_eq(seer_npz_read_f64(z, "f32", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
    for (int i = 0; i < 8; i++) cr_assert_eq(v[i], (double)(float)(1.0 / (1 + i)));
    free(v);
    cr_assert_eq(seer_npz_read_f64(z, "f16", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
    for (int i = 0; i < 8; i++) cr_assert_eq(v[i], i / 4.0);
    free(v);
    cr_assert_eq(seer_npz_read_f64(z, "big_endian", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
    for (int i = 0; i < 8; i++) cr_assert_eq(v[i], i / 2.0);
    free(v);
    // np.asfortranarray(arange(6).reshape(2, 3)) comes back in C order.
    cr_assert_eq(seer_npz_read_f64(z, "fortran", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert(nd == 2 && sh[0] == 2 && sh[1] == 3);
    for (int i = 0; i < 6; i++) cr_assert_eq(v[i], (double)i, "fortran[%d] = %g", i, v[i]);
    free(v);
    cr_assert_eq(seer_npz_read_f64(z, "ints", &nd, sh, &v), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "<i8"), "%s", seer_last_error());
    seer_npz_close(z);
}

Test(npz, reads_zip64_records) {
    seer_npz *z = NULL;
    cr_assert_eq(seer_npz_open(golden_path("fid/zip64.npz"), &z), SEER_STATUS_OK, "%s", seer_last_error());
    cr_assert_eq(seer_npz_count(z), 2);
    check_mu_sigma(z);
    seer_npz_close(z);
}

Test(npz, round_trip_stored_and_compressed) {
    char dir[] = "/tmp/seer_npz_XXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    double a[12];
    float b[5];
    double scalar = -2.5;
    for (int i = 0; i < 12; i++) a[i] = i * 0.1 - 0.3;
    for (int i = 0; i < 5; i++) b[i] = 1.0f / (float)(i + 3);
    seer_npz_entry e[4] = {
        {.name = "a", .type = SEER_NPY_F64, .ndim = 3, .shape = (int64_t[]){2, 3, 2}, .data = a},
        {.name = "b", .type = SEER_NPY_F32, .ndim = 1, .shape = (int64_t[]){5}, .data = b},
        {.name = "scalar", .type = SEER_NPY_F64, .ndim = 0, .shape = NULL, .data = &scalar},
        {.name = "empty", .type = SEER_NPY_F32, .ndim = 2, .shape = (int64_t[]){0, 4}, .data = NULL},
    };
    for (int compress = 0; compress < 2; compress++) {
        snprintf(path, sizeof path, "%s/rt%d.npz", dir, compress);
        cr_assert_eq(seer_npz_save(path, e, 4, compress), SEER_STATUS_OK, "%s", seer_last_error());
        seer_npz *z = NULL;
        cr_assert_eq(seer_npz_open(path, &z), SEER_STATUS_OK, "%s", seer_last_error());
        cr_assert_eq(seer_npz_count(z), 4);
        int nd;
        int64_t sh[SEER_MAX_DIMS];
        double *v = NULL;
        cr_assert_eq(seer_npz_read_f64(z, "a", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
        cr_assert(nd == 3 && sh[0] == 2 && sh[1] == 3 && sh[2] == 2);
        cr_assert_eq(memcmp(v, a, sizeof a), 0);
        free(v);
        cr_assert_eq(seer_npz_read_f64(z, "b", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
        for (int i = 0; i < 5; i++) cr_assert_eq(v[i], (double)b[i]);
        free(v);
        cr_assert_eq(seer_npz_read_f64(z, "scalar", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
        cr_assert(nd == 0 && v[0] == scalar);
        free(v);
        cr_assert_eq(seer_npz_read_f64(z, "empty", &nd, sh, &v), SEER_STATUS_OK, "%s", seer_last_error());
        cr_assert(nd == 2 && sh[0] == 0 && sh[1] == 4);
        free(v);
        seer_npz_close(z);
        unlink(path);
    }
    // Duplicate names are refused before anything is written.
    seer_npz_entry dup[2] = {e[1], e[1]};
    snprintf(path, sizeof path, "%s/dup.npz", dir);
    cr_assert_eq(seer_npz_save(path, dup, 2, false), SEER_STATUS_ARG);
    cr_assert_neq(access(path, F_OK), 0);
    cr_assert_eq(rmdir(dir), 0, "temporary files left in %s", dir);
}

Test(npz, truncated_files_give_a_clear_error) {
    char dir[] = "/tmp/seer_npz_XXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    const char *files[2] = {"fid/savez.npz", "fid/savez_compressed.npz"};
    for (int f = 0; f < 2; f++) {
        size_t n;
        char *b = read_file(golden_path(files[f]), &n);
        size_t cuts[] = {n - 1, n - 22, n - 200, n / 2, 300, 21, 4, 0};
        for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
            snprintf(path, sizeof path, "%s/cut.npz", dir);
            write_file(path, b, cuts[k]);
            seer_status st = try_read(path);
            cr_assert_eq(st, SEER_STATUS_FORMAT, "%s cut at %zu: %s (%s)", files[f], cuts[k],
                         seer_status_name(st), seer_last_error());
            cr_assert(strstr(seer_last_error(), path), "message names the file: %s", seer_last_error());
            cr_assert(strstr(seer_last_error(), "truncated") || strstr(seer_last_error(), "not an .npz") ||
                      strstr(seer_last_error(), "damaged"), "%s", seer_last_error());
            unlink(path);
        }
        free(b);
    }
    rmdir(dir);
}

Test(npz, damaged_data_fails_its_check) {
    char dir[] = "/tmp/seer_npz_XXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/bad.npz", dir);
    const char *files[2] = {"fid/savez.npz", "fid/savez_compressed.npz"};
    for (int f = 0; f < 2; f++) {
        size_t n;
        char *b = read_file(golden_path(files[f]), &n);
        // The sigma entry's data lies before the central directory; flip a byte inside it.
        char *s = memmem(b, n, "sigma.npy", 9);
        cr_assert_not_null(s);
        size_t at = (size_t)(s - b) + 9 + 20 + 120;  // past the name, its ZIP64 extra and some data
        b[at] ^= 0x5a;
        write_file(path, b, n);
        seer_status st = try_read(path);
        cr_assert_eq(st, SEER_STATUS_FORMAT, "%s: %s", files[f], seer_last_error());
        cr_assert(strstr(seer_last_error(), "sigma"), "%s", seer_last_error());
        cr_assert(strstr(seer_last_error(), "CRC") || strstr(seer_last_error(), "corrupt"), "%s",
                  seer_last_error());
        free(b);
    }
    // Not a zip at all: a .npy file, and text.
    write_file(path, "\x93NUMPY\x01\x00v\x00{'descr': '<f8'}", 26);
    cr_assert_eq(try_read(path), SEER_STATUS_FORMAT);
    cr_assert(strstr(seer_last_error(), ".npy array, not an .npz"), "%s", seer_last_error());
    write_file(path, "mu = [1, 2, 3]\nsigma = ...................\n", 42);
    cr_assert_eq(try_read(path), SEER_STATUS_FORMAT);
    cr_assert(strstr(seer_last_error(), "not an .npz"), "%s", seer_last_error());
    unlink(path);
    rmdir(dir);
    cr_assert_eq(try_read("/nonexistent/stats.npz"), SEER_STATUS_IO);
    cr_assert(strstr(seer_last_error(), "/nonexistent/stats.npz"), "%s", seer_last_error());
}
