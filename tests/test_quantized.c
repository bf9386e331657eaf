// Quantized weight storage (core/weights.h): an I8 tensor with per-row "<name>.qscale" reads
// as q * scale in F32 through the loader helpers; a missing or misshapen scale is refused; I8
// exists in files only, never as a tensor.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/safetensors.h"
#include "core/weights.h"

// rows x cols I8 values (row r, col c) = (r * 37 + c * 11) % 255 - 127, scales 0.5 + r / 8.
static void fill(int8_t *q, float *scale, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        scale[r] = 0.5f + (float)r / 8;
        for (int c = 0; c < cols; c++)
            q[r * cols + c] = (int8_t)((r * 37 + c * 11) % 255 - 127);
    }
}

// A file (in memory) with "w" as I8 [3, 5] and, unless scale_len is 0, "w.qscale" of
// scale_len values in scale_dt (F32 or F16); plus an unrelated F32 "b".
static seer_st_file *open_quantized(int scale_len, seer_dtype scale_dt) {
    int8_t q[15];
    float scale[8] = {0}, b[2] = {1, 2};
    fill(q, scale, 3, 5);
    uint16_t h[8];
    for (int i = 0; i < 8; i++)
        h[i] = seer_f32_to_f16(scale[i]);
    seer_st_writer *w = seer_st_writer_new();
    cr_assert_eq(seer_st_writer_add(w, "w", SEER_I8, 2, (int64_t[]){3, 5}, q), SEER_STATUS_OK);
    if (scale_len)
        cr_assert_eq(seer_st_writer_add(w, "w.qscale", scale_dt, 1, (int64_t[]){scale_len},
                                        scale_dt == SEER_F16 ? (void *)h : (void *)scale),
                     SEER_STATUS_OK);
    cr_assert_eq(seer_st_writer_add(w, "b", SEER_F32, 1, (int64_t[]){2}, b), SEER_STATUS_OK);
    void *buf;
    size_t n;
    cr_assert_eq(seer_st_writer_to_memory(w, &buf, &n), SEER_STATUS_OK, "%s", seer_last_error());
    seer_st_writer_free(w);
    seer_st_file *f;
    cr_assert_eq(seer_st_open_memory(buf, n, "q.safetensors", &f), SEER_STATUS_OK, "%s",
                 seer_last_error());
    free(buf);
    return f;
}

Test(quantized, i8_rows_times_their_scale) {
    for (int k = 0; k < 2; k++) {
        seer_dtype sdt = k ? SEER_F16 : SEER_F32;
        seer_st_file *f = open_quantized(3, sdt);
        seer_dtype dt;
        cr_assert_eq(seer_st_info(f, "w", &dt, NULL, NULL), SEER_STATUS_OK);
        cr_assert_eq(dt, SEER_I8);
        int8_t q[15];
        float scale[3], *out = NULL;
        fill(q, scale, 3, 5);
        cr_assert_eq(seer_st_read_f32_expect(f, "w", 2, (int64_t[]){3, 5}, &out), SEER_STATUS_OK,
                     "%s", seer_last_error());
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 5; c++) // the scales are exact in F16 too
                cr_assert_eq(out[r * 5 + c], (float)q[r * 5 + c] * scale[r], "[%d, %d]", r, c);
        free(out);
        // integer reads of the stored values themselves
        int64_t as_i64[15];
        cr_assert_eq(seer_st_read(f, "w", SEER_I64, as_i64, sizeof as_i64), SEER_STATUS_OK);
        for (int i = 0; i < 15; i++)
            cr_assert_eq(as_i64[i], q[i]);
        seer_st_close(f);
    }
}

Test(quantized, reader_counts_the_scale_as_used) {
    seer_st_file *f = open_quantized(3, SEER_F32);
    seer_st_reader r = {.file = f};
    float *w = NULL, *b = NULL;
    cr_assert_eq(seer_st_reader_read_f32(&r, "w", 2, (int64_t[]){3, 5}, &w), SEER_STATUS_OK);
    cr_assert_eq(seer_st_reader_read_f32(&r, "b", 1, (int64_t[]){2}, &b), SEER_STATUS_OK);
    cr_assert_eq(seer_st_reader_finish(&r, SEER_STATUS_OK, NULL), SEER_STATUS_OK, "%s",
                 seer_last_error());
    free(w);
    free(b);
    // a model that never reads "w" leaves both it and its scale unexpected
    r = (seer_st_reader){.file = f};
    cr_assert_eq(seer_st_reader_read_f32(&r, "b", 1, (int64_t[]){2}, &b), SEER_STATUS_OK);
    cr_assert_eq(seer_st_reader_finish(&r, SEER_STATUS_OK, NULL), SEER_STATUS_FORMAT);
    cr_assert(strstr(seer_last_error(), "2 unexpected in all"), "%s", seer_last_error());
    free(b);
    seer_st_close(f);
}

Test(quantized, missing_or_misshapen_scale_is_refused) {
    float *out = (float *)1;
    seer_st_file *f = open_quantized(0, SEER_F32);
    cr_assert_eq(seer_st_read_f32_expect(f, "w", 2, (int64_t[]){3, 5}, &out), SEER_STATUS_FORMAT);
    cr_assert_null(out);
    cr_assert_str_eq(seer_last_error(), "tensor 'w' is I8 but q.safetensors has no 'w.qscale' "
                                        "(quantized weights need their scales)");
    seer_st_close(f);

    f = open_quantized(5, SEER_F32);
    cr_assert_eq(seer_st_read_f32_expect(f, "w", 2, (int64_t[]){3, 5}, &out), SEER_STATUS_SHAPE);
    cr_assert_str_eq(seer_last_error(),
                     "tensor 'w.qscale': expected [3], found [5] in q.safetensors");
    // the shape the model expects is checked before the scales
    cr_assert_eq(seer_st_read_f32_expect(f, "w", 2, (int64_t[]){5, 3}, &out), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "tensor 'w': expected [5, 3], found [3, 5]"));
    seer_st_close(f);

    // I8 with no rows to scale (a scalar) is not a quantized weight
    seer_st_writer *w = seer_st_writer_new();
    int8_t one = 3;
    cr_assert_eq(seer_st_writer_add(w, "s", SEER_I8, 0, NULL, &one), SEER_STATUS_OK);
    void *buf;
    size_t n;
    cr_assert_eq(seer_st_writer_to_memory(w, &buf, &n), SEER_STATUS_OK);
    seer_st_writer_free(w);
    cr_assert_eq(seer_st_open_memory(buf, n, "s.safetensors", &f), SEER_STATUS_OK);
    free(buf);
    cr_assert_eq(seer_st_read_f32_expect(f, "s", 0, NULL, &out), SEER_STATUS_SHAPE);
    cr_assert(strstr(seer_last_error(), "expected a float tensor, found I8"));
    seer_st_close(f);
}

Test(quantized, no_tensor_is_i8) {
    seer_ctx *c = seer_ctx_new(SEER_DEVICE_CPU);
    cr_assert_null(seer_new(c, SEER_I8, 1, (int64_t[]){4}));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_ARG);
    cr_assert(strstr(seer_ctx_error(c), "i8 is a weight-file storage dtype only"), "%s",
              seer_ctx_error(c));
    seer_ctx_free(c);
    c = seer_ctx_new(SEER_DEVICE_CPU);
    float x[4] = {1, 2, 3, 4};
    cr_assert_null(seer_to(c, seer_from_host(c, x, SEER_F32, 1, (int64_t[]){4}), SEER_I8));
    cr_assert_eq(seer_ctx_status(c), SEER_STATUS_ARG);
    seer_ctx_free(c);
    seer_weights *w = seer_weights_new(SEER_DEVICE_CPU);
    cr_assert_null(seer_weights_add(w, "q", SEER_I8, 1, (int64_t[]){4}, x));
    seer_weights_free(w);
}
