/* test_readers.c - tl_scan: layout detection, round trips through tl_scan_writer,
 * interleaved NXtomo frames, every open/read error, and the real facility files
 * in ../shared/data. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"
#include "scan_write.h"
#include "support.h"

/* ---- helpers ------------------------------------------------------------- */

static char tmpdir[4096];

static void make_tmp(void)
{
    const char *d = tl_test_tmpdir();
    cr_assert(d != NULL, "cannot make a temporary directory");
    snprintf(tmpdir, sizeof tmpdir, "%s", d);
}

static void remove_tmp(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(readers, .init = make_tmp, .fini = remove_tmp);

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* Pixel values per kind; float32 round trips are exact, so fractions are kept. */
static float pix(int kind, size_t f, size_t r, size_t c)
{
    switch (kind) {
    case TL_KEY_PROJECTION:
        return 100.25f + (float)(f * 7 + r * 3 + c);
    case TL_KEY_FLAT:
        return 1000.5f + (float)(f * 2 + r + c * 5);
    default:
        return 10.75f + (float)(f * 3 + (r % 3) + c);
    }
}

static float pix_u16(int kind, size_t f, size_t r, size_t c)
{
    float v = pix(kind, f, r, c);
    return (float)lrintf(v);
}

static double angle_of(size_t i, size_t n)
{
    return -90.0 + 180.0 * (double)i / (double)n + 0.123;
}

typedef struct scan_spec {
    tl_layout layout;
    tl_pixel_type pixel;
    size_t rows, cols, n_proj, n_flat, n_dark;
} scan_spec;

/* Write a scan through tl_scan_writer, frames in two row pieces and in a few
 * frame groups, so put() is exercised with offsets. */
static void write_scan(const char *path, const scan_spec *sp)
{
    double *angles = malloc((sp->n_proj ? sp->n_proj : 1) * sizeof *angles);
    for (size_t i = 0; i < sp->n_proj; i++)
        angles[i] = angle_of(i, sp->n_proj);
    tl_scan_desc desc = {
        .layout = sp->layout,
        .pixel_type = sp->pixel,
        .n_rows = sp->rows,
        .n_cols = sp->cols,
        .n_proj = sp->n_proj,
        .n_flat = sp->n_flat,
        .n_dark = sp->n_dark,
        .angles_deg = angles,
        .sample_name = "phantom",
    };
    tl_error err = {0};
    tl_scan_writer *w = NULL;
    cr_assert_eq(tl_scan_writer_create(path, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    const size_t counts[3] = {sp->n_proj, sp->n_flat, sp->n_dark};
    size_t split = sp->rows / 3 + 1;
    for (int k = 0; k < 3; k++) {
        for (size_t f = 0; f < counts[k];) {
            size_t count = counts[k] - f < 2 ? counts[k] - f : 2;
            size_t pieces[2][2] = {{0, split}, {split, sp->rows}};
            for (int p = 0; p < 2; p++) {
                size_t rb = pieces[p][0], re = pieces[p][1];
                if (rb >= re)
                    continue;
                float *buf = malloc(count * (re - rb) * sp->cols * sizeof *buf);
                for (size_t i = 0; i < count; i++)
                    for (size_t r = rb; r < re; r++)
                        for (size_t c = 0; c < sp->cols; c++)
                            buf[(i * (re - rb) + (r - rb)) * sp->cols + c] = pix(k, f + i, r, c);
                cr_assert_eq(tl_scan_writer_put(w, (tl_image_key)k, f, count, rb, re, buf, &err), TL_OK,
                             "%s", err.message);
                free(buf);
            }
            f += count;
        }
    }
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    cr_assert_null(w);
    free(angles);
}

/* Expect open to fail with `status` and a message containing each of the
 * NULL-terminated substrings. */
static void expect_open_error(const char *path, tl_status status, ...)
{
    tl_error err = {0};
    tl_scan *s = NULL;
    tl_status st = tl_scan_open(path, &s, &err);
    cr_assert_eq(st, status, "expected %s, got %s: %s", tl_status_name(status), tl_status_name(st),
                 err.message);
    cr_assert_null(s);
    va_list ap;
    va_start(ap, status);
    for (const char *sub = va_arg(ap, const char *); sub; sub = va_arg(ap, const char *))
        cr_assert(strstr(err.message, sub) != NULL, "message \"%s\" lacks \"%s\"", err.message, sub);
    va_end(ap);
}

/* Check every value the reader returns against pix(). */
static void check_scan(const char *path, const scan_spec *sp)
{
    tl_error err = {0};
    tl_scan *s = NULL;
    cr_assert_eq(tl_scan_open(path, &s, &err), TL_OK, "%s", err.message);
    const tl_scan_info *info = tl_scan_get_info(s);
    cr_assert_eq(info->layout, sp->layout);
    cr_assert_str_eq(info->layout_name, sp->layout == TL_LAYOUT_NXTOMO ? "NXtomo" : "Data Exchange");
    cr_assert_str_eq(info->data_path, sp->layout == TL_LAYOUT_NXTOMO ? "/entry/instrument/detector/data"
                                                                      : "/exchange/data");
    cr_assert_str_eq(info->path, path);
    cr_assert_eq(info->n_proj, sp->n_proj);
    cr_assert_eq(info->n_flat, sp->n_flat);
    cr_assert_eq(info->n_dark, sp->n_dark);
    cr_assert_eq(info->n_rows, sp->rows);
    cr_assert_eq(info->n_cols, sp->cols);
    cr_assert_str_eq(info->pixel_type, sp->pixel == TL_PIXEL_UINT16 ? "uint16" : "float32");
    for (size_t i = 0; i < sp->n_proj; i++)
        cr_assert_eq(info->angles_deg[i], angle_of(i, sp->n_proj), "angle %zu", i);

    float (*expect)(int, size_t, size_t, size_t) = sp->pixel == TL_PIXEL_UINT16 ? pix_u16 : pix;
    /* The whole detector, then a sub-range of rows that crosses a chunk edge. */
    const size_t ranges[3][2] = {{0, sp->rows}, {sp->rows / 4, sp->rows - 1}, {sp->rows - 1, sp->rows}};
    for (int ri = 0; ri < 3; ri++) {
        size_t rb = ranges[ri][0], re = ranges[ri][1], nr = re - rb;
        float *proj = malloc(sp->n_proj * nr * sp->cols * sizeof *proj);
        cr_assert_eq(tl_scan_read_projections(s, rb, re, proj, &err), TL_OK, "%s", err.message);
        for (size_t p = 0; p < sp->n_proj; p++)
            for (size_t r = 0; r < nr; r++)
                for (size_t c = 0; c < sp->cols; c++)
                    cr_assert_eq(proj[(p * nr + r) * sp->cols + c], expect(TL_KEY_PROJECTION, p, rb + r, c),
                                 "projection %zu row %zu col %zu", p, rb + r, c);
        free(proj);
        float *mean = malloc(nr * sp->cols * sizeof *mean);
        const int kinds[2] = {TL_KEY_FLAT, TL_KEY_DARK};
        for (int ki = 0; ki < 2; ki++) {
            int k = kinds[ki];
            size_t n = k == TL_KEY_FLAT ? sp->n_flat : sp->n_dark;
            tl_status st = k == TL_KEY_FLAT ? tl_scan_read_flat_mean(s, rb, re, mean, &err)
                                            : tl_scan_read_dark_mean(s, rb, re, mean, &err);
            cr_assert_eq(st, TL_OK, "%s", err.message);
            for (size_t r = 0; r < nr; r++)
                for (size_t c = 0; c < sp->cols; c++) {
                    double sum = 0;
                    for (size_t f = 0; f < n; f++)
                        sum += expect(k, f, rb + r, c);
                    cr_assert_eq(mean[r * sp->cols + c], (float)(sum / (double)n), "kind %d row %zu col %zu", k,
                                 rb + r, c);
                }
        }
        free(mean);
    }
    tl_scan_close(&s);
    cr_assert_null(s);
    tl_scan_close(&s); /* NULL is fine */
    tl_scan_close(NULL);
}

/* ---- round trips --------------------------------------------------------- */

Test(readers, nxtomo_float32_round_trip)
{
    char path[4200];
    tmp_path(path, sizeof path, "scan.nxs");
    scan_spec sp = {TL_LAYOUT_NXTOMO, TL_PIXEL_FLOAT32, 21, 9, 7, 3, 2};
    write_scan(path, &sp);
    check_scan(path, &sp);
}

Test(readers, nxtomo_uint16_round_trip)
{
    char path[4200];
    tmp_path(path, sizeof path, "scan16.nxs");
    scan_spec sp = {TL_LAYOUT_NXTOMO, TL_PIXEL_UINT16, 18, 11, 5, 2, 3};
    write_scan(path, &sp);
    check_scan(path, &sp);
}

Test(readers, dxchange_float32_round_trip)
{
    char path[4200];
    tmp_path(path, sizeof path, "scan.h5");
    scan_spec sp = {TL_LAYOUT_DXCHANGE, TL_PIXEL_FLOAT32, 17, 8, 6, 4, 2};
    write_scan(path, &sp);
    check_scan(path, &sp);
}

Test(readers, dxchange_uint16_round_trip)
{
    char path[4200];
    tmp_path(path, sizeof path, "scan16.h5");
    scan_spec sp = {TL_LAYOUT_DXCHANGE, TL_PIXEL_UINT16, 5, 13, 3, 1, 1};
    write_scan(path, &sp);
    check_scan(path, &sp);
}

Test(readers, uint16_rounds_and_clips)
{
    char path[4200];
    tmp_path(path, sizeof path, "clip.nxs");
    const double angles[1] = {0};
    tl_scan_desc desc = {.layout = TL_LAYOUT_NXTOMO, .pixel_type = TL_PIXEL_UINT16, .n_rows = 1, .n_cols = 8,
                         .n_proj = 1, .n_flat = 1, .n_dark = 1, .angles_deg = angles};
    tl_error err = {0};
    tl_scan_writer *w = NULL;
    cr_assert_eq(tl_scan_writer_create(path, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    const float in[8] = {-5.0f, 0.4f, 0.5f, 1.5f, 2.5f, 65534.6f, 70000.0f, NAN};
    const float want[8] = {0, 0, 0, 2, 2, 65535, 65535, 0}; /* lrintf: ties to even */
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, 1, 0, 1, in, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_FLAT, 0, 1, 0, 1, in, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_DARK, 0, 1, 0, 1, in, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    tl_scan *s = NULL;
    cr_assert_eq(tl_scan_open(path, &s, &err), TL_OK, "%s", err.message);
    float out[8];
    cr_assert_eq(tl_scan_read_projections(s, 0, 1, out, &err), TL_OK, "%s", err.message);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(out[i], want[i], "pixel %d: %g, want %g", i, out[i], want[i]);
    tl_scan_close(&s);
}

/* ---- hand-written NXtomo files (interleaving, other types, broken files) -- */

typedef struct nx_spec {
    const char *entry;      /* "/entry" */
    const char *nx_class;   /* NX_class of the entry, NULL for none */
    int fixed_strings;      /* attributes as fixed-length rather than variable-length strings */
    const char *definition; /* NULL: no definition dataset */
    int rank;               /* of the data: 3, or 2 for the error case */
    size_t n_frames, rows, cols;
    hid_t file_type;        /* pixel type in the file */
    const double *keys;     /* NULL: no image_key */
    size_t n_keys;
    const double *angles;   /* NULL: no rotation_angle */
    size_t n_angles;
    const char *external;   /* data is an external link into this file */
} nx_spec;

static float hand_pix(size_t f, size_t r, size_t c)
{
    return (float)((f * 17 + r * 5 + c) % 200);
}

static void write_string_attr(hid_t obj, const char *name, const char *value, int fixed)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    cr_assert(t >= 0);
    if (fixed)
        H5Tset_size(t, strlen(value) + 1);
    else
        H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0);
    if (fixed)
        cr_assert(H5Awrite(a, t, value) >= 0);
    else
        cr_assert(H5Awrite(a, t, &value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void write_doubles(hid_t loc, const char *name, const double *v, size_t n)
{
    hsize_t dims[1] = {n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0, "cannot create %s", name);
    if (n)
        cr_assert(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
}

static void write_nx(const char *path, const nx_spec *sp)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t entry = H5Gcreate2(f, sp->entry, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(entry >= 0);
    if (sp->nx_class)
        write_string_attr(entry, "NX_class", sp->nx_class, sp->fixed_strings);
    if (sp->definition) {
        /* As Diamond writes it: a one-element array of a fixed-length string. */
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(sp->definition));
        hsize_t one = 1;
        hid_t s1 = H5Screate_simple(1, &one, NULL);
        hid_t d = H5Dcreate2(entry, "definition", t, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        cr_assert(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, sp->definition) >= 0);
        H5Dclose(d);
        H5Sclose(s1);
        H5Tclose(t);
    }
    hid_t det = H5Gcreate2(entry, "instrument/detector", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(det >= 0);
    if (sp->external) {
        cr_assert(H5Lcreate_external(sp->external, "/entry/data", det, "data", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    } else {
        hsize_t dims[3] = {sp->n_frames, sp->rows, sp->cols};
        if (sp->rank == 2)
            dims[1] = sp->rows * sp->cols;
        size_t n = sp->n_frames * sp->rows * sp->cols;
        float *buf = malloc((n ? n : 1) * sizeof *buf);
        for (size_t fr = 0; fr < sp->n_frames; fr++)
            for (size_t r = 0; r < sp->rows; r++)
                for (size_t c = 0; c < sp->cols; c++)
                    buf[(fr * sp->rows + r) * sp->cols + c] = hand_pix(fr, r, c);
        hid_t s3 = H5Screate_simple(sp->rank, dims, NULL);
        hid_t d = H5Dcreate2(det, "data", sp->file_type, s3, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        cr_assert(d >= 0);
        cr_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        H5Dclose(d);
        H5Sclose(s3);
        free(buf);
    }
    if (sp->keys)
        write_doubles(det, "image_key", sp->keys, sp->n_keys);
    if (sp->angles) {
        hid_t sample = H5Gcreate2(entry, "sample", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        write_doubles(sample, "rotation_angle", sp->angles, sp->n_angles);
        H5Gclose(sample);
    }
    H5Gclose(det);
    H5Gclose(entry);
    H5Pclose(lcpl);
    cr_assert(H5Fclose(f) >= 0);
}

/* darks, flats, projections, an invalid frame, flats again, darks again. */
static const double inter_keys[12] = {2, 1, 0, 0, 3, 0, 1, 0, 0, 2, 0, 1};
static const double inter_angles[12] = {99, 98, 0.5, 10.5, 777, 20.5, 97, 30.5, 40.5, 96, 50.5, 95};

static void check_interleaved(const char *path, const char *entry_data_path, const char *pixel_type)
{
    tl_error err = {0};
    tl_scan *s = NULL;
    cr_assert_eq(tl_scan_open(path, &s, &err), TL_OK, "%s", err.message);
    const tl_scan_info *info = tl_scan_get_info(s);
    cr_assert_eq(info->layout, TL_LAYOUT_NXTOMO);
    cr_assert_str_eq(info->data_path, entry_data_path);
    cr_assert_str_eq(info->pixel_type, pixel_type);
    cr_assert_eq(info->n_proj, 6);
    cr_assert_eq(info->n_flat, 3);
    cr_assert_eq(info->n_dark, 2);
    const size_t proj_frames[6] = {2, 3, 5, 7, 8, 10};
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(info->angles_deg[i], inter_angles[proj_frames[i]], "angle %zu", i);
    const size_t rows = 5, cols = 4, rb = 1, re = 4, nr = re - rb;
    float proj[6 * 3 * 4];
    cr_assert_eq(tl_scan_read_projections(s, rb, re, proj, &err), TL_OK, "%s", err.message);
    for (size_t p = 0; p < 6; p++)
        for (size_t r = 0; r < nr; r++)
            for (size_t c = 0; c < cols; c++)
                cr_assert_eq(proj[(p * nr + r) * cols + c], hand_pix(proj_frames[p], rb + r, c),
                             "projection %zu row %zu col %zu", p, rb + r, c);
    float mean[5 * 4];
    cr_assert_eq(tl_scan_read_flat_mean(s, 0, rows, mean, &err), TL_OK, "%s", err.message);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            double sum = (double)hand_pix(1, r, c) + hand_pix(6, r, c) + hand_pix(11, r, c);
            cr_assert_eq(mean[r * cols + c], (float)(sum / 3.0));
        }
    cr_assert_eq(tl_scan_read_dark_mean(s, 0, rows, mean, &err), TL_OK, "%s", err.message);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            double sum = (double)hand_pix(0, r, c) + hand_pix(9, r, c);
            cr_assert_eq(mean[r * cols + c], (float)(sum / 2.0));
        }
    tl_scan_close(&s);
}

Test(readers, interleaved_keys_with_invalid_frame)
{
    char path[4200];
    tmp_path(path, sizeof path, "inter.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 12, 5, 4, H5T_STD_U8LE, inter_keys, 12,
                  inter_angles, 12, NULL};
    write_nx(path, &sp);
    check_interleaved(path, "/entry/instrument/detector/data", "uint8");
}

Test(readers, entry_found_by_definition_under_any_name)
{
    char path[4200];
    tmp_path(path, sizeof path, "scan7.nxs");
    /* Fixed-length NX_class, int16 pixels, entry not called "entry". */
    nx_spec sp = {"/scan7", "NXentry", 1, "NXtomo", 3, 12, 5, 4, H5T_STD_I16BE, inter_keys, 12,
                  inter_angles, 12, NULL};
    write_nx(path, &sp);
    check_interleaved(path, "/scan7/instrument/detector/data", "int16");
}

Test(readers, entry_found_one_level_down)
{
    char path[4200];
    tmp_path(path, sizeof path, "sub.nxs");
    nx_spec sp = {"/entry1/tomo_entry", "NXsubentry", 1, "NXtomo", 3, 12, 5, 4, H5T_IEEE_F64LE, inter_keys,
                  12, inter_angles, 12, NULL};
    write_nx(path, &sp);
    /* The parent must be an NXentry for the search to look inside it. */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "/entry1", H5P_DEFAULT);
    write_string_attr(g, "NX_class", "NXentry", 0);
    H5Gclose(g);
    H5Fclose(f);
    check_interleaved(path, "/entry1/tomo_entry/instrument/detector/data", "float64");
}

Test(readers, plain_entry_without_definition)
{
    char path[4200];
    tmp_path(path, sizeof path, "plain.nxs");
    nx_spec sp = {"/entry", NULL, 0, NULL, 3, 12, 5, 4, H5T_STD_U32LE, inter_keys, 12, inter_angles, 12, NULL};
    write_nx(path, &sp);
    check_interleaved(path, "/entry/instrument/detector/data", "uint32");
}

Test(readers, row_range_errors)
{
    char path[4200];
    tmp_path(path, sizeof path, "rows.nxs");
    scan_spec sp = {TL_LAYOUT_NXTOMO, TL_PIXEL_FLOAT32, 6, 3, 2, 1, 1};
    write_scan(path, &sp);
    tl_error err = {0};
    tl_scan *s = NULL;
    cr_assert_eq(tl_scan_open(path, &s, &err), TL_OK, "%s", err.message);
    float buf[2 * 7 * 3];
    cr_assert_eq(tl_scan_read_projections(s, 0, 7, buf, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, path) && strstr(err.message, "rows 0 to 7"), "%s", err.message);
    cr_assert_eq(tl_scan_read_projections(s, 3, 3, buf, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_scan_read_flat_mean(s, 4, 2, buf, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_scan_read_dark_mean(s, 0, 9, buf, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_scan_read_projections(s, 5, 6, buf, &err), TL_OK, "%s", err.message);
    tl_scan_close(&s);
}

/* ---- errors -------------------------------------------------------------- */

Test(readers, missing_file)
{
    char path[4200];
    tmp_path(path, sizeof path, "nothing-here.nxs");
    expect_open_error(path, TL_ERR_IO, path, "No such file or directory", NULL);
}

Test(readers, directory_is_not_a_scan)
{
    expect_open_error(tmpdir, TL_ERR_FORMAT, tmpdir, "is a directory", NULL);
}

Test(readers, text_file_is_not_hdf5)
{
    char path[4200], msg[4400];
    tmp_path(path, sizeof path, "notes.nxs");
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("this is not HDF5\n", f);
    fclose(f);
    snprintf(msg, sizeof msg, "'%s' is not an HDF5 file", path);
    expect_open_error(path, TL_ERR_FORMAT, msg, NULL);
}

Test(readers, truncated_file)
{
    const tl_layout layouts[2] = {TL_LAYOUT_NXTOMO, TL_LAYOUT_DXCHANGE};
    for (int li = 0; li < 2; li++) {
        char path[4200];
        tmp_path(path, sizeof path, li ? "trunc.h5" : "trunc.nxs");
        scan_spec sp = {layouts[li], TL_PIXEL_UINT16, 32, 32, 20, 4, 4};
        write_scan(path, &sp);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(truncate(path, st.st_size / 2), 0);
        tl_error err = {0};
        tl_scan *s = NULL;
        tl_status status = tl_scan_open(path, &s, &err);
        if (status == TL_OK) {
            float *buf = malloc(20 * 32 * 32 * sizeof *buf);
            status = tl_scan_read_projections(s, 0, 32, buf, &err);
            if (status == TL_OK)
                status = tl_scan_read_flat_mean(s, 0, 32, buf, &err);
            free(buf);
            tl_scan_close(&s);
        }
        cr_assert(status == TL_ERR_IO || status == TL_ERR_FORMAT, "got %s: %s", tl_status_name(status),
                  err.message);
        cr_assert(strstr(err.message, path) != NULL, "message \"%s\" does not name the file", err.message);
    }
}

/* Overwrite the signature of every v1 B-tree node of the given type (0 group,
 * 1 chunk index) so HDF5 finds the file damaged at that point. */
static int damage_btrees(const char *path, unsigned char node_type)
{
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    unsigned char *b = malloc((size_t)size);
    fseek(f, 0, SEEK_SET);
    cr_assert_eq(fread(b, 1, (size_t)size, f), (size_t)size);
    int n = 0;
    for (long i = 0; i + 5 <= size; i++)
        if (memcmp(b + i, "TREE", 4) == 0 && b[i + 4] == node_type) {
            memcpy(b + i, "XXXX", 4);
            n++;
        }
    fseek(f, 0, SEEK_SET);
    cr_assert_eq(fwrite(b, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    free(b);
    return n;
}

Test(readers, damaged_chunk_index_fails_at_read)
{
    char path[4200];
    tmp_path(path, sizeof path, "damaged.nxs");
    scan_spec sp = {TL_LAYOUT_NXTOMO, TL_PIXEL_UINT16, 20, 6, 5, 3, 2};
    write_scan(path, &sp);
    cr_assert_gt(damage_btrees(path, 1), 0);
    tl_error err = {0};
    tl_scan *s = NULL;
    cr_assert_eq(tl_scan_open(path, &s, &err), TL_OK, "%s", err.message);
    float buf[5 * 20 * 6];
    cr_assert_eq(tl_scan_read_projections(s, 2, 19, buf, &err), TL_ERR_IO);
    cr_assert(strstr(err.message, path) && strstr(err.message, "cannot read projections (frames 5-9, rows 2-18) "
                                                               "of dataset /entry/instrument/detector/data"),
              "%s", err.message);
    cr_assert_eq(tl_scan_read_flat_mean(s, 0, 20, buf, &err), TL_ERR_IO);
    cr_assert(strstr(err.message, "flat-field frames (frames 2-4, rows 0-19)"), "%s", err.message);
    tl_scan_close(&s);
}

Test(readers, damaged_groups_fail_at_open)
{
    char path[4200];
    tmp_path(path, sizeof path, "damaged-groups.h5");
    scan_spec sp = {TL_LAYOUT_DXCHANGE, TL_PIXEL_FLOAT32, 4, 6, 5, 3, 2};
    write_scan(path, &sp);
    cr_assert_gt(damage_btrees(path, 0), 0);
    expect_open_error(path, TL_ERR_IO, path, "it may be truncated or damaged", NULL);
}

Test(readers, hdf5_without_tomography)
{
    char path[4200], msg[4600];
    tmp_path(path, sizeof path, "other.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "/entry", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    write_string_attr(g, "NX_class", "NXentry", 0);
    write_doubles(g, "counts", inter_angles, 3);
    H5Gclose(g);
    H5Fclose(f);
    snprintf(msg, sizeof msg,
             "'%s': no tomography data found (looked for NXtomo (definition = NXtomo, or "
             "/entry/instrument/detector/data) and Data Exchange (/exchange/data))",
             path);
    expect_open_error(path, TL_ERR_FORMAT, msg, NULL);
}

Test(readers, nxtomo_definition_without_data)
{
    char path[4200];
    tmp_path(path, sizeof path, "nodata.nxs");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "/scan", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    write_string_attr(g, "NX_class", "NXentry", 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(g, "definition", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *def = "NXtomo";
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &def);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    H5Gclose(g);
    H5Fclose(f);
    expect_open_error(path, TL_ERR_FORMAT, path, "dataset /scan/instrument/detector/data missing", NULL);
}

static const double keys10[10] = {2, 1, 0, 0, 0, 0, 0, 0, 0, 1};
static const double angles10[10] = {0, 0, 0, 20, 40, 60, 80, 100, 120, 0};

Test(readers, no_image_key)
{
    char path[4200];
    tmp_path(path, sizeof path, "nokey.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, NULL, 0, angles10, 10, NULL};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_FORMAT, path, "dataset /entry/instrument/detector/image_key missing", NULL);
}

Test(readers, image_key_count_mismatch)
{
    char path[4200];
    tmp_path(path, sizeof path, "keycount.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 9, angles10, 10, NULL};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_FORMAT, path,
                      "dataset /entry/instrument/detector/image_key has 9 values but the data has 10 frames",
                      NULL);
}

Test(readers, image_key_out_of_range)
{
    char path[4200];
    tmp_path(path, sizeof path, "badkey.nxs");
    double keys[10];
    memcpy(keys, keys10, sizeof keys);
    keys[3] = 5;
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys, 10, angles10, 10, NULL};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_DATA, path, "image_key has value 5 at frame 3", NULL);
}

Test(readers, no_angles)
{
    char path[4200];
    tmp_path(path, sizeof path, "noangle.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, NULL, 0, NULL};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_FORMAT, path, "dataset /entry/sample/rotation_angle missing", NULL);
}

Test(readers, angle_count_mismatch)
{
    char path[4200];
    tmp_path(path, sizeof path, "anglecount.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, angles10, 8, NULL};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_FORMAT, path,
                      "dataset /entry/sample/rotation_angle has 8 values but the data has 10 frames", NULL);
}

Test(readers, non_finite_angle)
{
    char path[4200];
    tmp_path(path, sizeof path, "nan.nxs");
    double angles[10];
    memcpy(angles, angles10, sizeof angles);
    angles[6] = NAN;
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, angles, 10, NULL};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_DATA, path, "rotation_angle has a non-finite angle (nan) at frame 6", NULL);
}

Test(readers, nxtomo_no_flats_no_darks_no_projections)
{
    char path[4200];
    tmp_path(path, sizeof path, "noflat.nxs");
    scan_spec sp = {TL_LAYOUT_NXTOMO, TL_PIXEL_FLOAT32, 4, 3, 3, 0, 2};
    write_scan(path, &sp);
    expect_open_error(path, TL_ERR_FORMAT, path, "has no flat-field frames (image_key 1)", NULL);
    tmp_path(path, sizeof path, "nodark.nxs");
    scan_spec sp2 = {TL_LAYOUT_NXTOMO, TL_PIXEL_UINT16, 4, 3, 3, 2, 0};
    write_scan(path, &sp2);
    expect_open_error(path, TL_ERR_FORMAT, path, "has no dark-field frames (image_key 2)", NULL);
    tmp_path(path, sizeof path, "noproj.nxs");
    scan_spec sp3 = {TL_LAYOUT_NXTOMO, TL_PIXEL_UINT16, 4, 3, 0, 2, 2};
    write_scan(path, &sp3);
    expect_open_error(path, TL_ERR_FORMAT, path, "has no projections (image_key 0)", NULL);
}

Test(readers, rank_2_data)
{
    char path[4200];
    tmp_path(path, sizeof path, "rank2.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 2, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, angles10, 10, NULL};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_FORMAT, path,
                      "dataset /entry/instrument/detector/data has rank 2 (10 x 6), expected rank 3", NULL);
}

Test(readers, unsupported_pixel_type)
{
    char path[4200];
    tmp_path(path, sizeof path, "int64.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_STD_I64LE, keys10, 10, angles10, 10, NULL};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_FORMAT, path, "pixels of type int64 (supported: uint8", NULL);
}

Test(readers, external_link_to_missing_file)
{
    char path[4200];
    tmp_path(path, sizeof path, "ext.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, angles10, 10,
                  "/no/such/beamline/raw-4711.h5"};
    write_nx(path, &sp);
    expect_open_error(path, TL_ERR_IO, path, "cannot open dataset /entry/instrument/detector/data",
                      "external link to /entry/data in '/no/such/beamline/raw-4711.h5'",
                      "NXtomo entry /entry (image_key: 7 projections, 2 flats, 1 darks)", NULL);
}

/* Data Exchange damage: written with the writer, then edited with HDF5. */
static void dx_edit(const char *path, const char *unlink_name, const char *create_name, hsize_t n,
                    hsize_t rows, hsize_t cols)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    if (unlink_name)
        cr_assert(H5Ldelete(f, unlink_name, H5P_DEFAULT) >= 0);
    if (create_name) {
        hsize_t dims[3] = {n, rows, cols};
        hid_t sp = H5Screate_simple(cols ? 3 : 1, dims, NULL);
        hid_t d = H5Dcreate2(f, create_name, cols ? H5T_STD_U16LE : H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT);
        cr_assert(d >= 0);
        H5Dclose(d);
        H5Sclose(sp);
    }
    H5Fclose(f);
}

Test(readers, dxchange_errors)
{
    char path[4200];
    scan_spec sp = {TL_LAYOUT_DXCHANGE, TL_PIXEL_FLOAT32, 6, 5, 4, 2, 2};

    tmp_path(path, sizeof path, "nowhite.h5");
    write_scan(path, &sp);
    dx_edit(path, "/exchange/data_white", NULL, 0, 0, 0);
    expect_open_error(path, TL_ERR_FORMAT, path, "/exchange/data_white missing", NULL);

    tmp_path(path, sizeof path, "nodark.h5");
    write_scan(path, &sp);
    dx_edit(path, "/exchange/data_dark", NULL, 0, 0, 0);
    expect_open_error(path, TL_ERR_FORMAT, path, "/exchange/data_dark missing", NULL);

    tmp_path(path, sizeof path, "notheta.h5");
    write_scan(path, &sp);
    dx_edit(path, "/exchange/theta", NULL, 0, 0, 0);
    expect_open_error(path, TL_ERR_FORMAT, path, "/exchange/theta missing", NULL);

    tmp_path(path, sizeof path, "theta3.h5");
    write_scan(path, &sp);
    dx_edit(path, "/exchange/theta", "/exchange/theta", 3, 0, 0);
    expect_open_error(path, TL_ERR_FORMAT, path, "dataset /exchange/theta has 3 values but /exchange/data has 4 projections",
                      NULL);

    tmp_path(path, sizeof path, "whiteshape.h5");
    write_scan(path, &sp);
    dx_edit(path, "/exchange/data_white", "/exchange/data_white", 2, 6, 4);
    expect_open_error(path, TL_ERR_FORMAT, path,
                      "dataset /exchange/data_white has frames of 6 x 4 pixels but /exchange/data has 6 x 5",
                      NULL);

    tmp_path(path, sizeof path, "darkshape.h5");
    write_scan(path, &sp);
    dx_edit(path, "/exchange/data_dark", "/exchange/data_dark", 2, 7, 5);
    expect_open_error(path, TL_ERR_FORMAT, path, "dataset /exchange/data_dark has frames of 7 x 5 pixels", NULL);

    tmp_path(path, sizeof path, "emptywhite.h5");
    scan_spec sp0 = sp;
    sp0.n_flat = 0;
    write_scan(path, &sp0);
    expect_open_error(path, TL_ERR_FORMAT, path, "dataset /exchange/data_white has no flat-field frames", NULL);

    tmp_path(path, sizeof path, "nantheta.h5");
    write_scan(path, &sp);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/exchange/theta", H5P_DEFAULT);
    double theta[4] = {0, 1, INFINITY, 3};
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, theta);
    H5Dclose(d);
    H5Fclose(f);
    expect_open_error(path, TL_ERR_DATA, path, "/exchange/theta has a non-finite angle (inf) at projection 2",
                      NULL);
}

Test(readers, dxchange_rank_2)
{
    char path[4200];
    tmp_path(path, sizeof path, "dxrank2.h5");
    scan_spec sp = {TL_LAYOUT_DXCHANGE, TL_PIXEL_FLOAT32, 6, 5, 4, 2, 2};
    write_scan(path, &sp);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(H5Ldelete(f, "/exchange/data", H5P_DEFAULT) >= 0);
    hsize_t dims[2] = {4, 30};
    hid_t s2 = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "/exchange/data", H5T_IEEE_F32LE, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(s2);
    H5Fclose(f);
    expect_open_error(path, TL_ERR_FORMAT, path, "dataset /exchange/data has rank 2 (4 x 30), expected rank 3",
                      NULL);
}

/* ---- nothing on stderr, from any thread ------------------------------------ */

static void *open_broken(void *arg)
{
    const char *path = arg;
    tl_error err = {0};
    tl_scan *s = NULL;
    tl_status st = tl_scan_open(path, &s, &err);
    return (void *)(size_t)st;
}

Test(readers, errors_print_nothing)
{
    char ext[4200], log[4200];
    tmp_path(ext, sizeof ext, "ext.nxs");
    tmp_path(log, sizeof log, "stderr.txt");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, angles10, 10,
                  "/no/such/file.h5"};
    write_nx(ext, &sp);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    /* A fresh thread: thread-safe HDF5 keeps error settings per thread. */
    pthread_t t;
    void *ret = NULL;
    pthread_create(&t, NULL, open_broken, ext);
    pthread_join(t, &ret);
    tl_status in_main = (tl_status)(size_t)open_broken(ext);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_assert_eq((tl_status)(size_t)ret, TL_ERR_IO);
    cr_assert_eq(in_main, TL_ERR_IO);
    struct stat st;
    cr_assert_eq(stat(log, &st), 0);
    cr_assert_eq(st.st_size, 0, "HDF5 printed %lld bytes to stderr", (long long)st.st_size);
}

/* ---- real facility files ------------------------------------------------- */

static void shared_file(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", TL_TEST_SHARED_DATA, rel);
    cr_assert(tl_test_file_exists(buf), "shared test file %s is missing", buf);
}

Test(readers, diamond_i13_24888_nxtomo_subentry_with_missing_link)
{
    char path[4200];
    shared_file(path, sizeof path, "diamond-i12/24888.nxs");
    expect_open_error(path, TL_ERR_IO, path, "NXtomo entry /entry1/tomo_entry",
                      "cannot open dataset /entry1/tomo_entry/instrument/detector/data",
                      "external link to /entry/instrument/detector/data in "
                      "'/dls/i13/data/2014/mt9396-1/raw/pco1-24888.hdf'",
                      "(image_key: 91 projections, 10 flats, 10 darks)", NULL);
}

Test(readers, diamond_k11_not_nxtomo_yet)
{
    char path[4200];
    shared_file(path, sizeof path, "diamond-k11/k11-18014.nxs");
    expect_open_error(path, TL_ERR_FORMAT, path, "no tomography data found", NULL);
}

Test(readers, diamond_i12_projections_only)
{
    char path[4200];
    shared_file(path, sizeof path, "diamond-i12/pc2_projections.hdf");
    expect_open_error(path, TL_ERR_FORMAT, path, "no tomography data found", NULL);
}
