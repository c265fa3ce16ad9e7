/* test_readers.c - tl_scan: layout detection, round trips through tl_scan_writer,
 * interleaved NXtomo frames, every open/read error, and the real facility files
 * in ../shared/data. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <tiffio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"
#include "scan_write.h"
#include "support.h"
#include "tiff_read.h"

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

Test(readers, diamond_k11_without_options_is_no_known_layout)
{
    char path[4200];
    shared_file(path, sizeof path, "diamond-k11/k11-18014.nxs");
    expect_open_error(path, TL_ERR_FORMAT, path, "no tomography data found", "name the datasets with --data-path",
                      NULL);
}

Test(readers, diamond_i12_projections_only)
{
    char path[4200];
    shared_file(path, sizeof path, "diamond-i12/pc2_projections.hdf");
    expect_open_error(path, TL_ERR_FORMAT, path, "no tomography data found", NULL);
}

/* ==== issue 3: every input layout ========================================== */

static void expect_error_with(const char *path, const tl_scan_options *opt, tl_status status, ...)
{
    tl_error err = {0};
    tl_scan *s = NULL;
    tl_status st = tl_scan_open_with(path, opt, &s, &err);
    cr_assert_eq(st, status, "expected %s, got %s: %s", tl_status_name(status), tl_status_name(st), err.message);
    cr_assert_null(s);
    va_list ap;
    va_start(ap, status);
    for (const char *sub = va_arg(ap, const char *); sub; sub = va_arg(ap, const char *))
        cr_assert(strstr(err.message, sub) != NULL, "message \"%s\" lacks \"%s\"", err.message, sub);
    va_end(ap);
}

static tl_scan *open_ok(const char *path, const tl_scan_options *opt)
{
    tl_error err = {0};
    tl_scan *s = NULL;
    cr_assert_eq(tl_scan_open_with(path, opt, &s, &err), TL_OK, "%s", err.message);
    return s;
}

/* ---- Diamond K11: named datasets through external links ---------------- */

static const tl_scan_options k11_options = {
    .data_path = "/entry/imaging/data",
    .image_key_path = "/entry/instrument/imaging/image_key",
    .angles_path = "k11-18014/k11-18014-pcompPanda.h5:/entry/gts_theta.value/gts_theta.value",
};

Test(readers, diamond_k11_named_datasets)
{
    char path[4200];
    shared_file(path, sizeof path, "diamond-k11/k11-18014.nxs");
    /* The test runs in the build directory: the relative external link and the
     * relative FILE of --angles-path must resolve against the .nxs directory. */
    tl_scan *s = open_ok(path, &k11_options);
    const tl_scan_info *in = tl_scan_get_info(s);
    cr_assert_eq(in->layout, TL_LAYOUT_NAMED);
    cr_assert_str_eq(in->layout_name, "named datasets");
    cr_assert_str_eq(in->data_path, "/entry/imaging/data");
    cr_assert_str_eq(in->image_key_path, "/entry/instrument/imaging/image_key");
    cr_assert_null(in->entry_path);
    /* README: 3201 frames, FLAT, DARK, NORMAL, FLAT, DARK (50 each around 3001 projections) */
    cr_assert_eq(in->n_proj, 3001);
    cr_assert_eq(in->n_flat, 100);
    cr_assert_eq(in->n_dark, 100);
    cr_assert_eq(in->n_invalid, 0);
    cr_assert_eq(in->n_flat_before, 50);
    cr_assert_eq(in->n_flat_after, 50);
    cr_assert_str_eq(in->flat_position, "before and after");
    cr_assert_not_null(in->flat_after_weight);
    cr_assert_eq(in->n_rows, 22);
    cr_assert_eq(in->n_cols, 26);
    cr_assert_str_eq(in->pixel_type, "uint16");
    /* flats at frames 0-49 and 3101-3150, projections 100-3100 */
    cr_assert_float_eq(in->flat_after_weight[0], (100.0 - 24.5) / (3125.5 - 24.5), 1e-12);
    cr_assert_float_eq(in->flat_after_weight[3000], (3100.0 - 24.5) / (3125.5 - 24.5), 1e-12);
    /* angles about 90..270 degrees, increasing */
    cr_assert(fabs(in->angles_deg[0] - 90.0) < 0.1, "first angle %g", in->angles_deg[0]);
    cr_assert(fabs(in->angles_deg[3000] - 270.0) < 0.1, "last angle %g", in->angles_deg[3000]);
    for (size_t i = 1; i < in->n_proj; i++)
        cr_assert(in->angles_deg[i] > in->angles_deg[i - 1], "angle %zu", i);

    /* a slab of rows reads, with detector values */
    size_t rb = 8, re = 12, nr = re - rb, plane = nr * 26;
    float *proj = malloc(in->n_proj * plane * sizeof *proj);
    float before[4 * 26], after[4 * 26], dark[4 * 26];
    tl_error err = {0};
    cr_assert_eq(tl_scan_read_projections(s, rb, re, proj, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_read_flat_pair(s, rb, re, before, after, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_read_dark_mean(s, rb, re, dark, &err), TL_OK, "%s", err.message);
    double mp = 0, mb = 0, ma = 0, md = 0;
    for (size_t i = 0; i < in->n_proj * plane; i++) {
        cr_assert(proj[i] >= 0 && proj[i] <= 65535);
        mp += proj[i];
    }
    for (size_t i = 0; i < plane; i++) {
        mb += before[i];
        ma += after[i];
        md += dark[i];
    }
    mp /= (double)(in->n_proj * plane);
    mb /= (double)plane;
    ma /= (double)plane;
    md /= (double)plane;
    cr_assert(mb > md && ma > md && mp > md, "flat %g/%g, dark %g, projection %g", mb, ma, md, mp);
    free(proj);

    /* The same frames through the external link's own path: identical values. */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/instrument/imaging/data", H5P_DEFAULT);
    cr_assert(d >= 0);
    hsize_t start[3] = {100, rb, 0}, count[3] = {1, nr, 26};
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(3, count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    float direct[4 * 26], first[4 * 26];
    cr_assert(H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, direct) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
    float *all = malloc(in->n_proj * plane * sizeof *all);
    cr_assert_eq(tl_scan_read_projections(s, rb, re, all, &err), TL_OK, "%s", err.message);
    memcpy(first, all, sizeof first);
    free(all);
    cr_assert_arr_eq(first, direct, sizeof first);
    tl_scan_close(&s);

    /* Angles through the in-file external link instead: the same values. */
    tl_scan_options o2 = k11_options;
    o2.angles_path = "/entry/imaging/gts_theta_value";
    tl_scan *s2 = open_ok(path, &o2);
    s = open_ok(path, &k11_options);
    for (size_t i = 0; i < 3001; i++)
        cr_assert_eq(tl_scan_get_info(s2)->angles_deg[i], tl_scan_get_info(s)->angles_deg[i]);
    tl_scan_close(&s2);
    tl_scan_close(&s);
}

Test(readers, diamond_k11_missing_linked_files)
{
    char path[4200];
    shared_file(path, sizeof path, "diamond-k11/k11-18014.nxs");
    tl_scan_options o = k11_options;
    o.data_path = "/entry/instrument/EtherCAT/data";
    o.image_key_path = "/entry/instrument/EtherCAT/image_key";
    expect_error_with(path, &o, TL_ERR_IO, path, "cannot open dataset /entry/instrument/EtherCAT/data",
                      "external link to /entry/detector/detector in 'k11-18014/k11-18014-EtherCAT.h5'",
                      "k11-18014/k11-18014-EtherCAT.h5' does not exist", NULL);
    o = k11_options;
    o.angles_path = "/entry/LinkamTemp/data";
    expect_error_with(path, &o, TL_ERR_IO, "cannot open dataset /entry/LinkamTemp/data",
                      "'k11-18014/k11-18014-detectorPanda.h5'", "does not exist", NULL);
    /* a FILE:/path whose FILE is missing */
    o = k11_options;
    o.angles_path = "k11-18014/k11-18014-EtherCAT.h5:/entry/theta";
    expect_error_with(path, &o, TL_ERR_IO, "--angles-path 'k11-18014/k11-18014-EtherCAT.h5:/entry/theta'",
                      "no such file", "diamond-k11/k11-18014/k11-18014-EtherCAT.h5", NULL);
    /* a FILE:/path into an existing file without that dataset */
    o.angles_path = "k11-18014/k11-18014-pcompPanda.h5:/entry/theta";
    expect_error_with(path, &o, TL_ERR_FORMAT, "has no dataset /entry/theta", NULL);
    /* angles of the wrong count */
    o.angles_path = "/entry/instrument/imaging/count_time";
    expect_error_with(path, &o, TL_ERR_FORMAT,
                      "--angles-path /entry/instrument/imaging/count_time has 1 values, expected 3201 (one per "
                      "frame) or 3001 (one per projection)",
                      NULL);
    /* frames without keys: flats must come from a file */
    o = k11_options;
    o.image_key_path = NULL;
    expect_error_with(path, &o, TL_ERR_FORMAT, "no flat-field frames", "--flat-file-name", NULL);
}

/* ---- Diamond I12: three files ------------------------------------------- */

static void read_all_floats(const char *path, const char *dset, float *out)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    cr_assert(d >= 0);
    cr_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Dclose(d);
    H5Fclose(f);
}

Test(readers, diamond_i12_projections_flats_darks_in_three_files)
{
    char path[4200], flats[4200], darks[4200];
    shared_file(path, sizeof path, "diamond-i12/pc2_projections.hdf");
    shared_file(flats, sizeof flats, "diamond-i12/pco2_flats_00000.hdf");
    shared_file(darks, sizeof darks, "diamond-i12/pco2_darks_00000.hdf");
    /* the dark file by its name relative to the input's directory */
    tl_scan_options o = {.flat_file = flats, .dark_file = "pco2_darks_00000.hdf"};
    tl_scan *s = open_ok(path, &o);
    const tl_scan_info *in = tl_scan_get_info(s);
    cr_assert_eq(in->layout, TL_LAYOUT_FRAMES);
    cr_assert_str_eq(in->data_path, "/entry/data/data");
    cr_assert_eq(in->n_proj, 19);
    cr_assert_eq(in->n_flat, 5);
    cr_assert_eq(in->n_dark, 5);
    cr_assert_eq(in->n_rows, 32);
    cr_assert_eq(in->n_cols, 64);
    cr_assert_str_eq(in->pixel_type, "float32");
    cr_assert_str_eq(in->flat_position, "unknown");
    cr_assert_null(in->flat_after_weight);
    for (size_t i = 0; i < 19; i++)
        cr_assert_float_eq(in->angles_deg[i], 180.0 * (double)i / 19.0, 1e-12);
    cr_assert(strstr(in->flat_source, "pco2_flats_00000.hdf:/entry/data/data (5 frames)") != NULL, "%s",
              in->flat_source);

    static float proj[19 * 32 * 64], direct[19 * 32 * 64], flat_all[5 * 32 * 64], mean[32 * 64];
    tl_error err = {0};
    cr_assert_eq(tl_scan_read_projections(s, 0, 32, proj, &err), TL_OK, "%s", err.message);
    read_all_floats(path, "/entry/data/data", direct);
    cr_assert_arr_eq(proj, direct, sizeof proj);
    cr_assert_eq(tl_scan_read_flat_mean(s, 0, 32, mean, &err), TL_OK, "%s", err.message);
    read_all_floats(flats, "/entry/data/data", flat_all);
    for (size_t i = 0; i < 32 * 64; i++) {
        double sum = 0;
        for (size_t f = 0; f < 5; f++)
            sum += flat_all[f * 32 * 64 + i];
        cr_assert_eq(mean[i], (float)(sum / 5.0), "pixel %zu", i);
    }
    tl_scan_close(&s);

    /* angles from --start-angle / --angle-step */
    o.start_angle = -10;
    o.angle_step = 0.5;
    s = open_ok(path, &o);
    for (size_t i = 0; i < 19; i++)
        cr_assert_float_eq(tl_scan_get_info(s)->angles_deg[i], -10 + 0.5 * (double)i, 1e-12);
    tl_scan_close(&s);

    /* darks missing */
    tl_scan_options only_flats = {.flat_file = flats};
    expect_error_with(path, &only_flats, TL_ERR_FORMAT, path, "no dark-field frames", "--dark-file-name", NULL);
    /* a flat file that is not there, and one of the wrong size */
    tl_scan_options missing = {.flat_file = "no-such-flats.hdf", .dark_file = darks};
    expect_error_with(path, &missing, TL_ERR_IO, "--flat-file-name 'no-such-flats.hdf': no such file", NULL);
    char k11[4200];
    shared_file(k11, sizeof k11, "diamond-k11/k11-18014/k11-18014-imaging.h5");
    tl_scan_options wrong = {.flat_file = k11, .dark_file = darks};
    expect_error_with(path, &wrong, TL_ERR_FORMAT, "dataset /entry/detector/detector of '", "has frames of 22 x 26 pixels",
                      "but dataset /entry/data/data has 32 x 64 (rows x columns)", NULL);
}

/* ---- NXtransformations -------------------------------------------------- */

/* An NXtomo whose angles are only in sample/transformations. */
static void write_nx_transform(const char *path, const double *vector, const char *units, int chain,
                               int translation_only)
{
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, NULL, 0, NULL};
    write_nx(path, &sp);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(f, "/entry/sample/transformations", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(g >= 0);
    double v[10];
    for (int i = 0; i < 10; i++)
        v[i] = strcmp(units, "rad") == 0 ? angles10[i] * M_PI / 180 : angles10[i];
    /* "a_offset" sorts first: the scan of the group must skip it */
    write_doubles(g, "a_offset", v, 1);
    hid_t d = H5Dopen2(g, "a_offset", H5P_DEFAULT);
    write_string_attr(d, "transformation_type", "translation", 0);
    H5Dclose(d);
    if (!translation_only) {
        write_doubles(g, "omega", v, 10);
        d = H5Dopen2(g, "omega", H5P_DEFAULT);
        write_string_attr(d, "transformation_type", "rotation", 0);
        write_string_attr(d, "units", units, 1);
        hsize_t three = 3;
        hid_t as = H5Screate_simple(1, &three, NULL);
        hid_t a = H5Acreate2(d, "vector", H5T_IEEE_F64LE, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_DOUBLE, vector);
        H5Aclose(a);
        H5Sclose(as);
        H5Dclose(d);
    }
    if (chain) {
        /* depends_on at the sample names the rotation by an absolute path */
        hid_t sample = H5Gopen2(f, "/entry/sample", H5P_DEFAULT);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        hid_t sc = H5Screate(H5S_SCALAR);
        hid_t dd = H5Dcreate2(sample, "depends_on", t, sc, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const char *target = "/entry/sample/transformations/omega";
        H5Dwrite(dd, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &target);
        H5Dclose(dd);
        H5Sclose(sc);
        H5Tclose(t);
        H5Gclose(sample);
    }
    H5Gclose(g);
    H5Pclose(lcpl);
    H5Fclose(f);
}

Test(readers, nxtransformations_angles)
{
    char path[4200];
    static const size_t proj_frames[7] = {2, 3, 4, 5, 6, 7, 8};
    const double y[3] = {0, 1, 0}, minus_y[3] = {0, -1, 0}, z[3] = {0, 0, 1}, x[3] = {1, 0, 0};
    struct {
        const double *vector;
        const char *units;
        int chain;
        double sign;
    } cases[] = {{y, "deg", 0, 1}, {z, "rad", 1, 1}, {minus_y, "degrees", 1, -1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tmp_path(path, sizeof path, "transform.nxs");
        unlink(path);
        write_nx_transform(path, cases[c].vector, cases[c].units, cases[c].chain, 0);
        tl_scan *s = open_ok(path, NULL);
        const tl_scan_info *in = tl_scan_get_info(s);
        for (size_t i = 0; i < 7; i++)
            cr_assert_float_eq(in->angles_deg[i], cases[c].sign * angles10[proj_frames[i]], 1e-9, "case %zu angle %zu",
                               c, i);
        cr_assert(strstr(in->angles_source, "/entry/sample/transformations/omega") != NULL, "%s", in->angles_source);
        tl_scan_close(&s);
    }
    /* a rotation about x is not the tomography axis; a translation is no angle */
    tmp_path(path, sizeof path, "transform-x.nxs");
    write_nx_transform(path, x, "deg", 0, 0);
    expect_open_error(path, TL_ERR_FORMAT, "dataset /entry/sample/rotation_angle missing",
                      "rotation about y or z in /entry/sample/transformations", NULL);
    tmp_path(path, sizeof path, "transform-t.nxs");
    write_nx_transform(path, y, "deg", 0, 1);
    expect_open_error(path, TL_ERR_FORMAT, "dataset /entry/sample/rotation_angle missing", NULL);
}

/* ---- Data Exchange name variants ---------------------------------------- */

/* A Data Exchange file with the given flat and dark datasets (name, frames, value). */
typedef struct dx_set {
    const char *name;
    size_t n;
    float value;
} dx_set;

static void write_dx_sets(const char *path, const dx_set *sets, size_t n_sets)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (size_t i = 0; i < n_sets; i++) {
        hsize_t dims[3] = {sets[i].n, 2, 3};
        hid_t sp = H5Screate_simple(3, dims, NULL);
        hid_t d = H5Dcreate2(f, sets[i].name, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        float *v = malloc((sets[i].n * 6 + 1) * sizeof *v);
        for (size_t k = 0; k < sets[i].n * 6; k++)
            v[k] = sets[i].value + (float)(k / 6);
        if (sets[i].n)
            H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
        H5Dclose(d);
        H5Sclose(sp);
    }
    hsize_t n = 4;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "/exchange/theta", H5T_IEEE_F64LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    const double th[4] = {0, 45, 90, 135};
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, th);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
    H5Fclose(f);
}

Test(readers, dxchange_white_names)
{
    char path[4200];
    tmp_path(path, sizeof path, "dxnames.h5");
    tl_error err = {0};
    float before[6], after[6];

    /* data_white_start / data_white_end (ESRF converters): interpolated */
    const dx_set a[] = {{"/exchange/data", 4, 500}, {"/exchange/data_white_start", 2, 1000},
                        {"/exchange/data_white_end", 3, 2000}, {"/exchange/data_dark", 2, 10}};
    write_dx_sets(path, a, 4);
    tl_scan *s = open_ok(path, NULL);
    const tl_scan_info *in = tl_scan_get_info(s);
    cr_assert_str_eq(in->flat_position, "before and after");
    cr_assert_eq(in->n_flat_before, 2);
    cr_assert_eq(in->n_flat_after, 3);
    /* order: 2 pre flats (centre 0.5), projections at 2..5, 3 post flats (centre 7) */
    for (size_t i = 0; i < 4; i++)
        cr_assert_float_eq(in->flat_after_weight[i], (2.0 + (double)i - 0.5) / 6.5, 1e-12);
    cr_assert_eq(tl_scan_read_flat_pair(s, 0, 2, before, after, &err), TL_OK, "%s", err.message);
    cr_assert_eq(before[0], 1000.5f);
    cr_assert_eq(after[5], 2001.0f);
    cr_assert_eq(tl_scan_read_flat_mean(s, 0, 2, before, &err), TL_OK, "%s", err.message);
    cr_assert_float_eq(before[0], (1000 + 1001 + 2000 + 2001 + 2002) / 5.0, 1e-3);
    tl_scan_close(&s);

    /* data_white and data_white_post (APS): data_white is before */
    unlink(path);
    const dx_set b[] = {{"/exchange/data", 4, 500}, {"/exchange/data_white", 2, 1000},
                        {"/exchange/data_white_post", 2, 3000}, {"/exchange/data_dark", 1, 10}};
    write_dx_sets(path, b, 4);
    s = open_ok(path, NULL);
    cr_assert_str_eq(tl_scan_get_info(s)->flat_position, "before and after");
    cr_assert_str_eq(tl_scan_get_info(s)->flat_source, "/exchange/data_white (2) and /exchange/data_white_post (2)");
    tl_scan_close(&s);

    /* a lone data_white: position not recorded */
    unlink(path);
    const dx_set c[] = {{"/exchange/data", 4, 500}, {"/exchange/data_white", 2, 1000}, {"/exchange/data_dark", 1, 10}};
    write_dx_sets(path, c, 3);
    s = open_ok(path, NULL);
    cr_assert_str_eq(tl_scan_get_info(s)->flat_position, "unknown");
    cr_assert_null(tl_scan_get_info(s)->flat_after_weight);
    tl_scan_close(&s);

    /* an all-zero data_white_post is a placeholder: ignored */
    unlink(path);
    const dx_set d[] = {{"/exchange/data", 4, 500}, {"/exchange/data_white_pre", 2, 1000},
                        {"/exchange/data_white_post", 2, 0}, {"/exchange/data_dark", 1, 10}};
    write_dx_sets(path, d, 4);
    /* make the post whites exactly zero (write_dx_sets adds the frame index) */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "/exchange/data_white_post", H5P_DEFAULT);
    float zeros[12] = {0};
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros);
    H5Dclose(ds);
    H5Fclose(f);
    s = open_ok(path, NULL);
    cr_assert_str_eq(tl_scan_get_info(s)->flat_position, "before");
    cr_assert_eq(tl_scan_get_info(s)->n_flat, 2);
    tl_scan_close(&s);
}

/* ---- pixel types and normalized files ----------------------------------- */

Test(readers, uint8_and_uint32_pixels)
{
    char path[4200];
    const double a[2] = {0, 90};
    const tl_pixel_type types[2] = {TL_PIXEL_UINT8, TL_PIXEL_UINT32};
    const char *names[2] = {"uint8", "uint32"};
    const float in[6] = {-1.0f, 12.4f, 254.6f, 300.0f, 70000.4f, 5e9f};
    const float want[2][6] = {{0, 12, 255, 255, 255, 255}, {0, 12, 255, 300, 70000, 4294967295.0f}};
    for (int t = 0; t < 2; t++) {
        tmp_path(path, sizeof path, t ? "u32.h5" : "u8.nxs");
        tl_scan_desc desc = {.layout = t ? TL_LAYOUT_DXCHANGE : TL_LAYOUT_NXTOMO, .pixel_type = types[t],
                             .n_rows = 2, .n_cols = 3, .n_proj = 2, .n_flat = 1, .n_dark = 1, .angles_deg = a};
        tl_error err = {0};
        tl_scan_writer *w = NULL;
        cr_assert_eq(tl_scan_writer_create(path, &desc, 0, &w, &err), TL_OK, "%s", err.message);
        float two[12];
        memcpy(two, in, sizeof in);
        memcpy(two + 6, in, sizeof in);
        cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, 2, 0, 2, two, &err), TL_OK, "%s", err.message);
        cr_assert_eq(tl_scan_writer_put(w, TL_KEY_FLAT, 0, 1, 0, 2, in, &err), TL_OK, "%s", err.message);
        cr_assert_eq(tl_scan_writer_put(w, TL_KEY_DARK, 0, 1, 0, 2, in, &err), TL_OK, "%s", err.message);
        cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
        tl_scan *s = open_ok(path, NULL);
        cr_assert_str_eq(tl_scan_get_info(s)->pixel_type, names[t]);
        float out[12];
        cr_assert_eq(tl_scan_read_projections(s, 0, 2, out, &err), TL_OK, "%s", err.message);
        for (int i = 0; i < 12; i++)
            cr_assert_eq(out[i], want[t][i % 6], "%s pixel %d: %g", names[t], i, out[i]);
        tl_scan_close(&s);
    }
}

Test(readers, normalized_projections)
{
    char path[4200];
    const double a[3] = {0, 60, 120};
    const float v[3 * 2 * 2] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 1.1f, 1.2f};
    const char *contents[2] = {"line_integrals", "transmission"};
    for (int c = 0; c < 2; c++) {
        tmp_path(path, sizeof path, c ? "norm.h5" : "norm.nxs");
        tl_scan_desc desc = {.layout = c ? TL_LAYOUT_DXCHANGE : TL_LAYOUT_NXTOMO, .pixel_type = TL_PIXEL_FLOAT32,
                             .n_rows = 2, .n_cols = 2, .n_proj = 3, .angles_deg = a, .content = contents[c]};
        tl_error err = {0};
        tl_scan_writer *w = NULL;
        cr_assert_eq(tl_scan_writer_create(path, &desc, 0, &w, &err), TL_OK, "%s", err.message);
        cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, 3, 0, 2, v, &err), TL_OK, "%s", err.message);
        cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
        tl_scan *s = open_ok(path, NULL);
        const tl_scan_info *in = tl_scan_get_info(s);
        cr_assert_eq(in->normalized, c + 1);
        cr_assert_eq(in->n_flat, 0);
        cr_assert_eq(in->n_dark, 0);
        cr_assert_str_eq(in->flat_position, "none");
        float out[12], mean[4];
        cr_assert_eq(tl_scan_read_projections(s, 0, 2, out, &err), TL_OK, "%s", err.message);
        cr_assert_arr_eq(out, v, sizeof v);
        cr_assert_eq(tl_scan_read_flat_mean(s, 0, 2, mean, &err), TL_ERR_FORMAT);
        cr_assert(strstr(err.message, "has no flat-field frames"), "%s", err.message);
        tl_scan_close(&s);
    }
    /* the writer refuses unknown contents; the reader refuses unknown attributes */
    tmp_path(path, sizeof path, "bad-content.nxs");
    tl_scan_desc bad = {.layout = TL_LAYOUT_NXTOMO, .pixel_type = TL_PIXEL_FLOAT32, .n_rows = 2, .n_cols = 2,
                        .n_proj = 3, .angles_deg = a, .content = "absorbance"};
    tl_error err = {0};
    tl_scan_writer *w = NULL;
    cr_assert_eq(tl_scan_writer_create(path, &bad, 0, &w, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "unknown content 'absorbance'"), "%s", err.message);
    tmp_path(path, sizeof path, "norm.nxs");
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/instrument/detector/data", H5P_DEFAULT);
    H5Adelete(d, "tomoline_content");
    write_string_attr(d, "tomoline_content", "absorbance", 0);
    H5Dclose(d);
    H5Fclose(f);
    expect_open_error(path, TL_ERR_FORMAT, "attribute tomoline_content of dataset /entry/instrument/detector/data is "
                                           "'absorbance' (allowed: line_integrals, transmission, raw)",
                      NULL);
}

/* ---- named datasets: errors --------------------------------------------- */

Test(readers, named_dataset_errors)
{
    char path[4200], other[4200];
    tmp_path(path, sizeof path, "named.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, angles10, 10, NULL};
    write_nx(path, &sp);
    /* keys from another file, angles one per projection */
    tmp_path(other, sizeof other, "meta.h5");
    hid_t f = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    write_doubles(f, "keys", keys10, 10);
    const double per_proj[7] = {1, 2, 3, 4, 5, 6, 7};
    write_doubles(f, "angles", per_proj, 7);
    write_doubles(f, "short", per_proj, 5);
    H5Fclose(f);
    tl_scan_options o = {.data_path = "/entry/instrument/detector/data", .image_key_path = "meta.h5:/keys",
                         .angles_path = "meta.h5:/angles"};
    tl_scan *s = open_ok(path, &o);
    cr_assert_eq(tl_scan_get_info(s)->layout, TL_LAYOUT_NAMED);
    cr_assert_eq(tl_scan_get_info(s)->n_proj, 7);
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(tl_scan_get_info(s)->angles_deg[i], per_proj[i]);
    tl_scan_close(&s);
    /* absolute FILE */
    char abs_spec[4400];
    snprintf(abs_spec, sizeof abs_spec, "%s:/angles", other);
    o.angles_path = abs_spec;
    s = open_ok(path, &o);
    tl_scan_close(&s);

    o.angles_path = "meta.h5:/short";
    expect_error_with(path, &o, TL_ERR_FORMAT, "--angles-path meta.h5:/short has 5 values, expected 10 (one per frame) "
                                               "or 7 (one per projection)",
                      NULL);
    o.angles_path = "missing.h5:/angles";
    expect_error_with(path, &o, TL_ERR_IO, "--angles-path 'missing.h5:/angles': no such file", "missing.h5",
                      "relative to the input's directory", NULL);
    o.angles_path = "meta.h5:/angles";
    o.image_key_path = "meta.h5:/short";
    expect_error_with(path, &o, TL_ERR_FORMAT, "--image-key-path meta.h5:/short has 5 values but --data-path "
                                               "/entry/instrument/detector/data has 10 frames",
                      NULL);
    o.image_key_path = "/entry/instrument/detector/image_key";
    o.data_path = "/entry/instrument/detector/nothing";
    expect_error_with(path, &o, TL_ERR_FORMAT, "--data-path '/entry/instrument/detector/nothing'",
                      "has no dataset /entry/instrument/detector/nothing", NULL);
    o.data_path = "/entry/sample/rotation_angle";
    expect_error_with(path, &o, TL_ERR_FORMAT, "dataset /entry/sample/rotation_angle has rank 1", NULL);
    /* an NXtomo file with its keys replaced through --image-key-path */
    tl_scan_options keys_only = {.image_key_path = "meta.h5:/keys"};
    s = open_ok(path, &keys_only);
    cr_assert_eq(tl_scan_get_info(s)->layout, TL_LAYOUT_NXTOMO);
    cr_assert_str_eq(tl_scan_get_info(s)->image_key_path, "meta.h5:/keys");
    tl_scan_close(&s);
}

/* ---- TIFF directories ---------------------------------------------------- */

/* A TIFF of rows x cols pixels, value(r, c) = base + r * cols + c; bits/format
 * select the pixel type; spp > 1 makes a colour image; tiled 16 x 16 tiles. */
static void tiff_file(const char *path, size_t rows, size_t cols, int bits, int format, int spp, int tiled,
                      double base)
{
    TIFF *t = TIFFOpen(path, "w");
    cr_assert(t != NULL, "cannot write %s", path);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)cols);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)rows);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, format);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
    size_t bytes = (size_t)bits / 8, line = cols * bytes * (size_t)spp;
    unsigned char *buf = calloc(rows * line + 1, 1);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols * (size_t)spp; c++) {
            double v = base + (double)(r * cols + c);
            unsigned char *p = buf + r * line + c * bytes;
            if (format == SAMPLEFORMAT_IEEEFP) {
                float fv = (float)v;
                memcpy(p, &fv, 4);
            } else if (bits == 8) {
                *p = (unsigned char)v;
            } else if (bits == 16) {
                uint16_t u = (uint16_t)v;
                memcpy(p, &u, 2);
            } else {
                uint32_t u = (uint32_t)v;
                memcpy(p, &u, 4);
            }
        }
    if (tiled) {
        TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
        TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
        size_t tb = 16 * 16 * bytes * (size_t)spp;
        unsigned char *tile = malloc(tb);
        for (size_t ty = 0; ty < rows; ty += 16)
            for (size_t tx = 0; tx < cols; tx += 16) {
                memset(tile, 0, tb);
                for (size_t r = 0; r < 16 && ty + r < rows; r++)
                    for (size_t c = 0; c < 16 && tx + c < cols; c++)
                        memcpy(tile + (r * 16 + c) * bytes, buf + (ty + r) * line + (tx + c) * bytes, bytes);
                cr_assert(TIFFWriteTile(t, tile, (uint32_t)tx, (uint32_t)ty, 0, 0) >= 0);
            }
        free(tile);
    } else {
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 3);
        for (size_t r = 0; r < rows; r++)
            cr_assert(TIFFWriteScanline(t, buf + r * line, (uint32_t)r, 0) >= 0);
    }
    free(buf);
    TIFFClose(t);
}

static void tiff_dir(char *dir, size_t size, const char *name, size_t n_proj, size_t skip, size_t rows, size_t cols)
{
    tmp_path(dir, size, name);
    mkdir(dir, 0755);
    char p[4400];
    for (size_t i = 0; i < n_proj + (skip < n_proj ? 1 : 0); i++) {
        if (i == skip)
            continue;
        snprintf(p, sizeof p, "%s/proj_%04zu.tif", dir, i);
        tiff_file(p, rows, cols, 16, SAMPLEFORMAT_UINT, 1, 0, 100.0 * (double)i);
    }
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/flat_%zu.tif", dir, i);
        tiff_file(p, rows, cols, 16, SAMPLEFORMAT_UINT, 1, 0, 5000.0 + (double)i);
        snprintf(p, sizeof p, "%s/dark_%02zu.TIFF", dir, i);
        tiff_file(p, rows, cols, 16, SAMPLEFORMAT_UINT, 1, 0, 10.0);
    }
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    FILE *f = fopen(p, "w");
    fputs("not a frame\n", f);
    fclose(f);
}

Test(readers, tiff_directory)
{
    char dir[4200], p[4400];
    tiff_dir(dir, sizeof dir, "tiffs", 12, 99, 20, 18);
    tl_scan *s = open_ok(dir, NULL);
    const tl_scan_info *in = tl_scan_get_info(s);
    cr_assert_eq(in->layout, TL_LAYOUT_TIFF);
    cr_assert_str_eq(in->layout_name, "TIFF directory");
    cr_assert_eq(in->n_proj, 12);
    cr_assert_eq(in->n_flat, 2);
    cr_assert_eq(in->n_dark, 2);
    cr_assert_eq(in->n_rows, 20);
    cr_assert_eq(in->n_cols, 18);
    cr_assert_str_eq(in->pixel_type, "uint16");
    cr_assert_float_eq(in->angles_deg[11], 11 * 15.0, 1e-12); /* 180 / 12 */
    static float proj[12 * 7 * 18];
    float mean[7 * 18];
    tl_error err = {0};
    /* rows 5..11 cross a strip boundary (strips of 3 rows) */
    cr_assert_eq(tl_scan_read_projections(s, 5, 12, proj, &err), TL_OK, "%s", err.message);
    for (size_t f = 0; f < 12; f++)
        for (size_t r = 0; r < 7; r++)
            for (size_t c = 0; c < 18; c++)
                cr_assert_eq(proj[(f * 7 + r) * 18 + c], (float)(100 * f + (5 + r) * 18 + c));
    cr_assert_eq(tl_scan_read_flat_mean(s, 5, 12, mean, &err), TL_OK, "%s", err.message);
    cr_assert_eq(mean[0], 5000.5f + 5 * 18);
    /* read a slab before an earlier one: strips are re-decoded */
    cr_assert_eq(tl_scan_read_projections(s, 0, 2, proj, &err), TL_OK, "%s", err.message);
    cr_assert_eq(proj[18 + 3], 18 + 3);
    tl_scan_close(&s);

    /* angles.txt */
    snprintf(p, sizeof p, "%s/angles.txt", dir);
    FILE *f = fopen(p, "w");
    fputs("# theta\n", f);
    for (int i = 0; i < 12; i++)
        fprintf(f, "%g  # frame %d\n\n", 0.5 + 30 * i, i);
    fclose(f);
    s = open_ok(dir, NULL);
    cr_assert_eq(tl_scan_get_info(s)->angles_deg[11], 330.5);
    cr_assert_str_eq(tl_scan_get_info(s)->angles_source, p);
    tl_scan_close(&s);
    f = fopen(p, "a");
    fputs("12.5\n", f);
    fclose(f);
    expect_open_error(dir, TL_ERR_FORMAT, "angles.txt' has 13 angles but the directory has 12 projection frames", NULL);
    f = fopen(p, "a");
    fputs("twelve\n", f);
    fclose(f);
    expect_open_error(dir, TL_ERR_FORMAT, "angles.txt' line 27: 'twelve' is not an angle in degrees", NULL);
    unlink(p);

    /* the input given as one of the TIFF files */
    snprintf(p, sizeof p, "%s/proj_0000.tif", dir);
    expect_open_error(p, TL_ERR_FORMAT, "is a TIFF file, not an HDF5 file; give the directory", NULL);
    /* options that need HDF5 */
    tl_scan_options o = {.angles_path = "/theta"};
    expect_error_with(dir, &o, TL_ERR_INVALID, "--angles-path '/theta': the input", "is not an HDF5 file", NULL);
    tl_scan_options named = {.data_path = "/entry/data"};
    expect_error_with(dir, &named, TL_ERR_INVALID, "is a directory of TIFF frames: --data-path and --image-key-path",
                      NULL);
}

Test(readers, tiff_directory_errors)
{
    char dir[4200], p[4400], msg[4600];
    /* a missing projection */
    tiff_dir(dir, sizeof dir, "gap", 20, 12, 4, 5);
    snprintf(msg, sizeof msg, "TIFF directory '%s': projection frame 12 is missing (found 0..11 and 13..20)", dir);
    expect_open_error(dir, TL_ERR_FORMAT, msg, NULL);
    /* a frame numbered twice */
    tiff_dir(dir, sizeof dir, "dup", 4, 99, 4, 5);
    snprintf(p, sizeof p, "%s/proj_3.tif", dir);
    tiff_file(p, 4, 5, 16, SAMPLEFORMAT_UINT, 1, 0, 0);
    expect_open_error(dir, TL_ERR_FORMAT, "projection frame 3 appears twice (proj_0003.tif and proj_3.tif)", NULL);
    /* a projection of the wrong size */
    tiff_dir(dir, sizeof dir, "size", 4, 99, 4, 5);
    snprintf(p, sizeof p, "%s/proj_0002.tif", dir);
    tiff_file(p, 4, 6, 16, SAMPLEFORMAT_UINT, 1, 0, 0);
    expect_open_error(dir, TL_ERR_FORMAT, "proj_0002.tif': projection frame of 4 x 6 pixels, but '", "has 4 x 5",
                      NULL);
    /* a flat of the wrong size */
    tiff_dir(dir, sizeof dir, "flatsize", 4, 99, 4, 5);
    snprintf(p, sizeof p, "%s/flat_0.tif", dir);
    tiff_file(p, 3, 5, 16, SAMPLEFORMAT_UINT, 1, 0, 0);
    snprintf(p, sizeof p, "%s/flat_1.tif", dir);
    tiff_file(p, 3, 5, 16, SAMPLEFORMAT_UINT, 1, 0, 0);
    expect_open_error(dir, TL_ERR_FORMAT, "flat_0.tif' has frames of 3 x 5 pixels but", "has 4 x 5 (rows x columns)",
                      NULL);
    /* colour and a pixel type of another kind */
    tiff_dir(dir, sizeof dir, "rgb", 4, 99, 4, 5);
    snprintf(p, sizeof p, "%s/proj_0001.tif", dir);
    tiff_file(p, 4, 5, 8, SAMPLEFORMAT_UINT, 3, 0, 0);
    expect_open_error(dir, TL_ERR_FORMAT, "proj_0001.tif': 3 samples per pixel (colour?), expected one channel", NULL);
    tiff_dir(dir, sizeof dir, "type", 4, 99, 4, 5);
    snprintf(p, sizeof p, "%s/proj_0001.tif", dir);
    tiff_file(p, 4, 5, 32, SAMPLEFORMAT_IEEEFP, 1, 0, 0);
    expect_open_error(dir, TL_ERR_FORMAT, "proj_0001.tif': float32 pixels, but '", "has uint16 pixels", NULL);
    /* a file that only looks like a TIFF */
    tiff_dir(dir, sizeof dir, "fake", 4, 99, 4, 5);
    snprintf(p, sizeof p, "%s/proj_0003.tif", dir);
    FILE *f = fopen(p, "w");
    fwrite("II*\0garbage-garbage", 1, 19, f);
    fclose(f);
    expect_open_error(dir, TL_ERR_FORMAT, "proj_0003.tif': cannot read the TIFF file (libtiff:", NULL);
    /* no darks, no projections */
    tiff_dir(dir, sizeof dir, "nodark", 4, 99, 4, 5);
    snprintf(p, sizeof p, "rm '%s'/dark_*", dir);
    cr_assert_eq(system(p), 0);
    expect_open_error(dir, TL_ERR_FORMAT, "no dark-field frames (the directory has no dark_NNNN.tif files; give "
                                          "--dark-file-name)",
                      NULL);
    tmp_path(dir, sizeof dir, "empty");
    mkdir(dir, 0755);
    expect_open_error(dir, TL_ERR_FORMAT, "is a directory but holds no projection frames", NULL);
}

Test(readers, tiff_pixel_types_tiles_and_pages)
{
    char p[4200];
    struct {
        int bits, format, tiled;
        const char *name;
    } types[] = {{8, SAMPLEFORMAT_UINT, 0, "uint8"},     {16, SAMPLEFORMAT_UINT, 1, "uint16"},
                 {32, SAMPLEFORMAT_UINT, 0, "uint32"},   {32, SAMPLEFORMAT_IEEEFP, 1, "float32"},
                 {16, SAMPLEFORMAT_INT, 0, "int16"}};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        tmp_path(p, sizeof p, "frame.tif");
        /* 37 x 21: tiles of 16 do not divide it */
        tiff_file(p, 37, 21, types[t].bits, types[t].format, 1, types[t].tiled, types[t].bits == 8 ? 0 : 1000);
        const char *files[1] = {p};
        tl_tiff_stack *st = NULL;
        tl_error err = {0};
        cr_assert_eq(tl_tiff_stack_open_files(files, 1, "projection", &st, &err), TL_OK, "%s", err.message);
        cr_assert_str_eq(tl_tiff_stack_pixel_type(st), types[t].name);
        static float out[37 * 21];
        cr_assert_eq(tl_tiff_stack_read(st, 0, 9, 37, out, &err), TL_OK, "%s", err.message);
        for (size_t r = 9; r < 37; r++)
            for (size_t c = 0; c < 21; c++) {
                double v = (types[t].bits == 8 ? 0 : 1000) + (double)(r * 21 + c);
                if (types[t].bits == 8)
                    v = (double)(unsigned char)v;
                cr_assert_eq(out[(r - 9) * 21 + c], (float)v, "%s row %zu col %zu", types[t].name, r, c);
            }
        cr_assert_eq(tl_tiff_stack_read(st, 0, 5, 40, out, &err), TL_ERR_INVALID);
        tl_tiff_stack_close(&st);
        cr_assert_null(st);
        tl_tiff_stack_close(&st);
    }
    /* a multi-page TIFF as the flat file of a scan */
    char scan[4200];
    tmp_path(scan, sizeof scan, "pages.nxs");
    nx_spec sp = {"/entry", "NXentry", 0, "NXtomo", 3, 10, 3, 2, H5T_IEEE_F32LE, keys10, 10, angles10, 10, NULL};
    write_nx(scan, &sp);
    tmp_path(p, sizeof p, "flats.tif");
    TIFF *t = TIFFOpen(p, "w");
    for (int page = 0; page < 3; page++) {
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 2);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, 3);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        for (uint32_t r = 0; r < 3; r++) {
            uint16_t line[2] = {(uint16_t)(1000 * (page + 1)), (uint16_t)(1000 * (page + 1) + r)};
            TIFFWriteScanline(t, line, r, 0);
        }
        TIFFWriteDirectory(t);
    }
    TIFFClose(t);
    tl_scan_options o = {.flat_file = p};
    tl_scan *s = open_ok(scan, &o);
    cr_assert_eq(tl_scan_get_info(s)->n_flat, 3);
    cr_assert_eq(tl_scan_get_info(s)->n_dark, 1);
    float mean[6];
    tl_error err = {0};
    cr_assert_eq(tl_scan_read_flat_mean(s, 0, 3, mean, &err), TL_OK, "%s", err.message);
    cr_assert_eq(mean[0], 2000.0f);
    cr_assert_eq(mean[5], 2002.0f);
    tl_scan_close(&s);
    /* a flat file that is neither HDF5 nor TIFF */
    char txt[4200];
    tmp_path(txt, sizeof txt, "flats.txt");
    FILE *f = fopen(txt, "w");
    fputs("flat\n", f);
    fclose(f);
    o.flat_file = txt;
    expect_error_with(scan, &o, TL_ERR_FORMAT, "--flat-file-name", "is not an HDF5 file", NULL);
}

Test(readers, projections_file_with_several_3d_datasets)
{
    char path[4200], flat[4200];
    tmp_path(path, sizeof path, "two.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {2, 3, 4};
    hid_t sp = H5Screate_simple(3, dims, NULL);
    H5Dclose(H5Dcreate2(f, "a", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Dclose(H5Dcreate2(f, "b", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(sp);
    H5Fclose(f);
    tmp_path(flat, sizeof flat, "flat.h5");
    f = H5Fcreate(flat, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    sp = H5Screate_simple(3, dims, NULL);
    H5Dclose(H5Dcreate2(f, "only", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(sp);
    H5Fclose(f);
    tl_scan_options o = {.flat_file = flat, .dark_file = flat};
    expect_error_with(path, &o, TL_ERR_FORMAT, "cannot tell which dataset holds the projections (3-D datasets: /a, /b)",
                      "--data-path", NULL);
    o.data_path = "/b";
    tl_scan *s = open_ok(path, &o);
    cr_assert(strstr(tl_scan_get_info(s)->flat_source, "flat.h5:/only (2 frames)") != NULL, "%s",
              tl_scan_get_info(s)->flat_source);
    tl_scan_close(&s);
}

/* libtiff's own messages never reach stderr: they become tl_error messages. */
Test(readers, tiff_errors_print_nothing)
{
    char dir[4200], p[4400], log[4200];
    tiff_dir(dir, sizeof dir, "quiet", 4, 99, 8, 8);
    /* a frame cut short, and one with an unknown tag's worth of junk at the end */
    snprintf(p, sizeof p, "%s/proj_0002.tif", dir);
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(truncate(p, sb.st_size / 2), 0);
    tmp_path(log, sizeof log, "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    tl_error err = {0};
    tl_scan *s = NULL;
    tl_status st = tl_scan_open(dir, &s, &err);
    float buf[4 * 8 * 8];
    tl_status st2 = TL_OK;
    if (st == TL_OK) /* the header survived: the pixels cannot be read */
        st2 = tl_scan_read_projections(s, 0, 8, buf, &err);
    tl_scan_close(&s);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_assert(st != TL_OK || st2 != TL_OK, "a truncated TIFF read without error");
    cr_assert(strstr(err.message, "proj_0002.tif") != NULL, "%s", err.message);
    cr_assert_eq(stat(log, &sb), 0);
    cr_assert_eq(sb.st_size, 0, "libtiff printed %lld bytes to stderr", (long long)sb.st_size);
}
