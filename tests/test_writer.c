/* test_writer.c - tl_scan_writer and tl_volume_writer: layouts and attributes as
 * read back with the HDF5 API, the PATH.partial protocol (partial while writing,
 * renamed on commit, removed on abort, existing files kept), float16 storage,
 * provenance, and tl_volume_read. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdf5_util.h"
#include "scan_write.h"
#include "support.h"
#include "volume.h"

/* ---- helpers ------------------------------------------------------------- */

static char tmpdir[4096];

static void make_tmp(void)
{
    const char *d = tl_test_tmpdir();
    cr_assert(d != NULL, "cannot make a temporary directory");
    snprintf(tmpdir, sizeof tmpdir, "%s", d);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void remove_tmp(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(writer, .init = make_tmp, .fini = remove_tmp);

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void partial_of(char *buf, size_t size, const char *path)
{
    snprintf(buf, size, "%s.partial", path);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void expect_attr(hid_t file, const char *obj_path, const char *name, const char *want)
{
    hid_t o = H5Oopen(file, obj_path, H5P_DEFAULT);
    cr_assert(o >= 0, "cannot open %s", obj_path);
    char buf[256];
    cr_assert_eq(tl_h5_read_string_attr(o, name, buf, sizeof buf), 0, "%s has no string attribute %s", obj_path,
                 name);
    cr_assert_str_eq(buf, want, "%s@%s", obj_path, name);
    /* One string type everywhere: variable-length UTF-8. */
    hid_t a = H5Aopen(o, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    cr_assert_gt(H5Tis_variable_str(t), 0, "%s@%s is not variable-length", obj_path, name);
    cr_assert_eq(H5Tget_cset(t), H5T_CSET_UTF8, "%s@%s is not UTF-8", obj_path, name);
    H5Tclose(t);
    H5Aclose(a);
    H5Oclose(o);
}

static void expect_string(hid_t file, const char *path, const char *want)
{
    char buf[1024];
    cr_assert_eq(tl_h5_read_string_dataset(file, path, buf, sizeof buf), 0, "no string dataset %s", path);
    cr_assert_str_eq(buf, want, "%s", path);
}

static void read_doubles(hid_t file, const char *path, double *out, size_t n)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    cr_assert(d >= 0, "no dataset %s", path);
    hid_t s = H5Dget_space(d);
    cr_assert_eq((size_t)H5Sget_simple_extent_npoints(s), n, "%s size", path);
    cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Sclose(s);
    H5Dclose(d);
}

static void expect_dims_chunk(hid_t file, const char *path, const hsize_t dims[3], const hsize_t chunk[3])
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    cr_assert(d >= 0, "no dataset %s", path);
    hid_t s = H5Dget_space(d);
    hsize_t got[3];
    cr_assert_eq(H5Sget_simple_extent_ndims(s), 3);
    H5Sget_simple_extent_dims(s, got, NULL);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(got[i], dims[i], "%s dim %d", path, i);
    if (chunk) {
        hid_t p = H5Dget_create_plist(d);
        hsize_t c[3];
        cr_assert_eq(H5Pget_layout(p), H5D_CHUNKED, "%s is not chunked", path);
        cr_assert_eq(H5Pget_chunk(p, 3, c), 3);
        for (int i = 0; i < 3; i++)
            cr_assert_eq(c[i], chunk[i], "%s chunk dim %d", path, i);
        H5Pclose(p);
    }
    H5Sclose(s);
    H5Dclose(d);
}

static haddr_t object_address(hid_t file, const char *path)
{
    H5O_info_t info;
    cr_assert(H5Oget_info_by_name(file, path, &info, H5P_DEFAULT) >= 0, "no object %s", path);
    return info.addr;
}

/* ---- scan writer --------------------------------------------------------- */

static const double angles3[3] = {0.0, 60.5, 121.0};

static tl_scan_writer *create_scan(const char *path, tl_layout layout, tl_pixel_type pixel, size_t rows,
                                   size_t cols, int overwrite, tl_status want, tl_error *err)
{
    tl_scan_desc desc = {.layout = layout, .pixel_type = pixel, .n_rows = rows, .n_cols = cols, .n_proj = 3,
                         .n_flat = 2, .n_dark = 2, .angles_deg = angles3, .sample_name = "rock"};
    tl_scan_writer *w = NULL;
    tl_status st = tl_scan_writer_create(path, &desc, overwrite, &w, err);
    cr_assert_eq(st, want, "expected %s, got %s: %s", tl_status_name(want), tl_status_name(st), err->message);
    return w;
}

Test(writer, nxtomo_layout)
{
    char path[4200];
    tmp_path(path, sizeof path, "layout.nxs");
    tl_error err = {0};
    tl_scan_writer *w = create_scan(path, TL_LAYOUT_NXTOMO, TL_PIXEL_UINT16, 20, 7, 0, TL_OK, &err);
    float frame[20 * 7];
    for (int i = 0; i < 20 * 7; i++)
        frame[i] = (float)i;
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_FLAT, 1, 1, 0, 20, frame, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    expect_attr(f, "/entry", "NX_class", "NXentry");
    expect_attr(f, "/entry", "default", "data");
    expect_string(f, "/entry/definition", "NXtomo");
    expect_attr(f, "/entry/instrument", "NX_class", "NXinstrument");
    expect_attr(f, "/entry/instrument/detector", "NX_class", "NXdetector");
    expect_attr(f, "/entry/sample", "NX_class", "NXsample");
    expect_string(f, "/entry/sample/name", "rock");
    expect_attr(f, "/entry/data", "NX_class", "NXdata");
    expect_attr(f, "/entry/data", "signal", "data");
    expect_attr(f, "/entry/sample/rotation_angle", "units", "degrees");

    const hsize_t dims[3] = {7, 20, 7}, chunk[3] = {1, 16, 7};
    expect_dims_chunk(f, "/entry/instrument/detector/data", dims, chunk);
    hid_t d = H5Dopen2(f, "/entry/instrument/detector/data", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    cr_assert_gt(H5Tequal(t, H5T_STD_U16LE), 0, "pixels are not uint16");
    H5Tclose(t);
    /* Frame order is darks, flats, projections: flat 1 is frame 3. */
    uint16_t back[20 * 7];
    hsize_t start[3] = {3, 0, 0}, count[3] = {1, 20, 7};
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(3, count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    cr_assert(H5Dread(d, H5T_NATIVE_UINT16, ms, fs, H5P_DEFAULT, back) >= 0);
    for (int i = 0; i < 20 * 7; i++)
        cr_assert_eq(back[i], (uint16_t)i);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);

    hid_t k = H5Dopen2(f, "/entry/instrument/detector/image_key", H5P_DEFAULT);
    t = H5Dget_type(k);
    cr_assert_eq(H5Tget_class(t), H5T_INTEGER);
    H5Tclose(t);
    int keys[7];
    cr_assert(H5Dread(k, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, keys) >= 0);
    H5Dclose(k);
    const int want_keys[7] = {2, 2, 1, 1, 0, 0, 0};
    for (int i = 0; i < 7; i++)
        cr_assert_eq(keys[i], want_keys[i], "image_key[%d]", i);

    double ang[7];
    read_doubles(f, "/entry/sample/rotation_angle", ang, 7);
    const double want_ang[7] = {0, 0, 0, 0, 0, 60.5, 121.0};
    for (int i = 0; i < 7; i++)
        cr_assert_eq(ang[i], want_ang[i], "rotation_angle[%d]", i);

    /* /entry/data holds hard links to the very same objects. */
    const char *pairs[3][2] = {{"/entry/data/data", "/entry/instrument/detector/data"},
                               {"/entry/data/image_key", "/entry/instrument/detector/image_key"},
                               {"/entry/data/rotation_angle", "/entry/sample/rotation_angle"}};
    for (int i = 0; i < 3; i++) {
        H5L_info_t li;
        cr_assert(H5Lget_info(f, pairs[i][0], &li, H5P_DEFAULT) >= 0, "no link %s", pairs[i][0]);
        cr_assert_eq(li.type, H5L_TYPE_HARD, "%s is not a hard link", pairs[i][0]);
        cr_assert_eq(object_address(f, pairs[i][0]), object_address(f, pairs[i][1]));
    }
    H5Fclose(f);
}

Test(writer, dxchange_layout)
{
    char path[4200];
    tmp_path(path, sizeof path, "layout.h5");
    tl_error err = {0};
    tl_scan_writer *w = create_scan(path, TL_LAYOUT_DXCHANGE, TL_PIXEL_FLOAT32, 5, 9, 0, TL_OK, &err);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    const hsize_t dp[3] = {3, 5, 9}, dw[3] = {2, 5, 9}, chunk[3] = {1, 5, 9};
    expect_dims_chunk(f, "/exchange/data", dp, chunk);
    expect_dims_chunk(f, "/exchange/data_white", dw, chunk);
    expect_dims_chunk(f, "/exchange/data_dark", dw, chunk);
    hid_t d = H5Dopen2(f, "/exchange/data", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    cr_assert_gt(H5Tequal(t, H5T_IEEE_F32LE), 0, "pixels are not float32");
    H5Tclose(t);
    H5Dclose(d);
    double theta[3];
    read_doubles(f, "/exchange/theta", theta, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(theta[i], angles3[i]);
    expect_attr(f, "/exchange/theta", "units", "degrees");
    H5Fclose(f);
}

Test(writer, scan_partial_then_commit)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "p.nxs");
    partial_of(partial, sizeof partial, path);
    tl_error err = {0};
    tl_scan_writer *w = create_scan(path, TL_LAYOUT_NXTOMO, TL_PIXEL_FLOAT32, 4, 4, 0, TL_OK, &err);
    cr_assert(tl_test_file_exists(partial), "no %s while writing", partial);
    cr_assert_not(tl_test_file_exists(path), "%s exists before commit", path);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    cr_assert_null(w);
    cr_assert(tl_test_file_exists(path));
    cr_assert_not(tl_test_file_exists(partial));
}

Test(writer, scan_abort_leaves_nothing)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "a.nxs");
    partial_of(partial, sizeof partial, path);
    tl_error err = {0};
    tl_scan_writer *w = create_scan(path, TL_LAYOUT_DXCHANGE, TL_PIXEL_UINT16, 4, 4, 0, TL_OK, &err);
    tl_scan_writer_abort(&w);
    cr_assert_null(w);
    tl_scan_writer_abort(&w);
    tl_scan_writer_abort(NULL);
    cr_assert_not(tl_test_file_exists(path));
    cr_assert_not(tl_test_file_exists(partial));
}

Test(writer, scan_existing_file_kept)
{
    char path[4200], partial[4300], msg[4400], back[64];
    tmp_path(path, sizeof path, "exists.nxs");
    partial_of(partial, sizeof partial, path);
    write_text(path, "precious");
    tl_error err = {0};
    tl_scan_writer *w = create_scan(path, TL_LAYOUT_NXTOMO, TL_PIXEL_UINT16, 4, 4, 0, TL_ERR_EXISTS, &err);
    cr_assert_null(w);
    snprintf(msg, sizeof msg, "'%s' already exists (use --overwrite to replace it)", path);
    cr_assert_str_eq(err.message, msg);
    read_text(path, back, sizeof back);
    cr_assert_str_eq(back, "precious");
    cr_assert_not(tl_test_file_exists(partial));
    /* With overwrite the old file stays until commit replaces it. */
    w = create_scan(path, TL_LAYOUT_NXTOMO, TL_PIXEL_UINT16, 4, 4, 1, TL_OK, &err);
    read_text(path, back, sizeof back);
    cr_assert_str_eq(back, "precious");
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    cr_assert_gt(H5Fis_hdf5(path), 0);
}

Test(writer, scan_argument_errors)
{
    char path[4200];
    tmp_path(path, sizeof path, "args.nxs");
    tl_error err = {0};
    tl_scan_writer *w = create_scan(path, TL_LAYOUT_NXTOMO, TL_PIXEL_FLOAT32, 4, 3, 0, TL_OK, &err);
    float buf[3 * 4 * 3] = {0};
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_INVALID, 0, 1, 0, 4, buf, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "image key 3"), "%s", err.message);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_FLAT, 1, 2, 0, 4, buf, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "flat-field frames 1 to 2 requested, the scan has 2"), "%s", err.message);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, 1, 2, 5, buf, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, 1, 2, 2, buf, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, 3, 0, 4, buf, &err), TL_OK, "%s", err.message);
    tl_scan_writer_abort(&w);

    tl_scan_desc bad = {.layout = TL_LAYOUT_NXTOMO, .n_rows = 0, .n_cols = 3, .n_proj = 1,
                        .angles_deg = angles3};
    cr_assert_eq(tl_scan_writer_create(path, &bad, 0, &w, &err), TL_ERR_INVALID);
    bad.n_rows = 2;
    bad.angles_deg = NULL;
    cr_assert_eq(tl_scan_writer_create(path, &bad, 0, &w, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "no angles"), "%s", err.message);
    cr_assert_not(tl_test_file_exists(path));

    char nodir[4300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.nxs", tmpdir);
    w = create_scan(nodir, TL_LAYOUT_NXTOMO, TL_PIXEL_FLOAT32, 4, 3, 0, TL_ERR_IO, &err);
    cr_assert(strstr(err.message, "x.nxs.partial") && strstr(err.message, "No such file or directory"), "%s",
              err.message);
}

Test(writer, scan_commit_reports_rename_failure)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "becomes-a-dir.nxs");
    partial_of(partial, sizeof partial, path);
    tl_error err = {0};
    tl_scan_writer *w = create_scan(path, TL_LAYOUT_NXTOMO, TL_PIXEL_FLOAT32, 4, 3, 0, TL_OK, &err);
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_ERR_IO);
    cr_assert_null(w);
    cr_assert(strstr(err.message, "cannot rename") && strstr(err.message, "Is a directory"), "%s", err.message);
    cr_assert_not(tl_test_file_exists(partial));
}

/* ---- volume writer ------------------------------------------------------- */

static float voxel(size_t z, size_t y, size_t x)
{
    return 0.125f * (float)(z * 100 + y * 10 + x) - 3.0f;
}

/* Write nz slices of voxel() in two calls. */
static tl_volume_writer *create_volume(const char *path, const tl_volume_desc *desc, int overwrite,
                                       tl_status want, tl_error *err)
{
    tl_volume_writer *w = NULL;
    tl_status st = tl_volume_writer_create(path, desc, overwrite, &w, err);
    cr_assert_eq(st, want, "expected %s, got %s: %s", tl_status_name(want), tl_status_name(st), err->message);
    return w;
}

static void fill_volume(tl_volume_writer *w, const tl_volume_desc *d)
{
    tl_error err = {0};
    size_t plane = d->ny * d->nx;
    float *buf = malloc(d->nz * plane * sizeof *buf);
    for (size_t z = 0; z < d->nz; z++)
        for (size_t y = 0; y < d->ny; y++)
            for (size_t x = 0; x < d->nx; x++)
                buf[z * plane + y * d->nx + x] = voxel(z, y, x);
    size_t half = d->nz / 2;
    /* Second half first: slabs may arrive in any order. */
    cr_assert_eq(tl_volume_writer_write(w, half, d->nz - half, buf + half * plane, &err), TL_OK, "%s",
                 err.message);
    cr_assert_eq(tl_volume_writer_write(w, 0, half, buf, &err), TL_OK, "%s", err.message);
    free(buf);
}

static void check_volume_values(const char *path, const tl_volume_desc *d)
{
    tl_error err = {0};
    float *v = NULL;
    size_t nz, ny, nx;
    cr_assert_eq(tl_volume_read(path, &v, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert_eq(nz, d->nz);
    cr_assert_eq(ny, d->ny);
    cr_assert_eq(nx, d->nx);
    for (size_t z = 0; z < nz; z++)
        for (size_t y = 0; y < ny; y++)
            for (size_t x = 0; x < nx; x++)
                cr_assert_eq(v[(z * ny + y) * nx + x], voxel(z, y, x), "voxel %zu %zu %zu", z, y, x);
    free(v);
}

Test(writer, volume_layout_and_attributes)
{
    char path[4200];
    tmp_path(path, sizeof path, "vol.nxs");
    tl_volume_desc desc = {.nz = 3, .ny = 4, .nx = 5, .z_first = 7};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    cr_assert_null(w);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    expect_attr(f, "/entry", "NX_class", "NXentry");
    expect_attr(f, "/entry", "default", "data");
    expect_attr(f, "/entry/data", "NX_class", "NXdata");
    expect_attr(f, "/entry/data", "signal", "data");
    const hsize_t dims[3] = {3, 4, 5}, chunk[3] = {1, 4, 5};
    expect_dims_chunk(f, "/entry/data/data", dims, chunk);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    cr_assert_gt(H5Tequal(t, H5T_IEEE_F32LE), 0, "voxels are not float32");
    H5Tclose(t);
    H5Dclose(d);

    /* @axes: an array of three strings. */
    hid_t g = H5Gopen2(f, "/entry/data", H5P_DEFAULT);
    hid_t a = H5Aopen(g, "axes", H5P_DEFAULT);
    cr_assert(a >= 0, "no @axes");
    hid_t as = H5Aget_space(a);
    cr_assert_eq(H5Sget_simple_extent_npoints(as), 3);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    char *axes[3] = {NULL, NULL, NULL};
    cr_assert(H5Aread(a, mt, axes) >= 0);
    cr_assert_str_eq(axes[0], "z");
    cr_assert_str_eq(axes[1], "y");
    cr_assert_str_eq(axes[2], "x");
    H5Dvlen_reclaim(mt, as, H5P_DEFAULT, axes);
    H5Tclose(mt);
    H5Sclose(as);
    H5Aclose(a);
    H5Gclose(g);

    double x[5], y[4], z[3];
    read_doubles(f, "/entry/data/x", x, 5);
    read_doubles(f, "/entry/data/y", y, 4);
    read_doubles(f, "/entry/data/z", z, 3);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(x[i], i - 2.0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(y[i], i - 1.5);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(z[i], 7.0 + i);
    expect_attr(f, "/entry/data/x", "units", "pixel");
    expect_attr(f, "/entry/data/y", "units", "pixel");
    expect_attr(f, "/entry/data/z", "units", "pixel");
    H5Fclose(f);
    check_volume_values(path, &desc);
}

Test(writer, volume_partial_then_commit)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "v.nxs");
    partial_of(partial, sizeof partial, path);
    tl_volume_desc desc = {.nz = 2, .ny = 3, .nx = 3};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    cr_assert(tl_test_file_exists(partial), "no %s while writing", partial);
    cr_assert_not(tl_test_file_exists(path));
    fill_volume(w, &desc);
    cr_assert(tl_test_file_exists(partial));
    cr_assert_not(tl_test_file_exists(path));
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    cr_assert(tl_test_file_exists(path));
    cr_assert_not(tl_test_file_exists(partial));
}

Test(writer, volume_abort_leaves_nothing)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "v.nxs");
    partial_of(partial, sizeof partial, path);
    tl_volume_desc desc = {.nz = 2, .ny = 3, .nx = 3};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    tl_volume_writer_abort(&w);
    cr_assert_null(w);
    tl_volume_writer_abort(&w);
    tl_volume_writer_abort(NULL);
    cr_assert_not(tl_test_file_exists(path));
    cr_assert_not(tl_test_file_exists(partial));
}

Test(writer, volume_existing_file_kept)
{
    char path[4200], partial[4300], msg[4400], back[64];
    tmp_path(path, sizeof path, "old.nxs");
    partial_of(partial, sizeof partial, path);
    write_text(path, "yesterday's volume");
    tl_volume_desc desc = {.nz = 2, .ny = 3, .nx = 3};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_ERR_EXISTS, &err);
    cr_assert_null(w);
    snprintf(msg, sizeof msg, "'%s' already exists (use --overwrite to replace it)", path);
    cr_assert_str_eq(err.message, msg);
    read_text(path, back, sizeof back);
    cr_assert_str_eq(back, "yesterday's volume");
    cr_assert_not(tl_test_file_exists(partial));

    w = create_volume(path, &desc, 1, TL_OK, &err);
    fill_volume(w, &desc);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    check_volume_values(path, &desc);
}

Test(writer, volume_replaces_leftover_partial)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "crashed.nxs");
    partial_of(partial, sizeof partial, path);
    write_text(partial, "half a file from a crash");
    tl_volume_desc desc = {.nz = 4, .ny = 2, .nx = 3};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    cr_assert_not(tl_test_file_exists(partial));
    check_volume_values(path, &desc);
}

Test(writer, volume_missing_slices_not_committed)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "holes.nxs");
    partial_of(partial, sizeof partial, path);
    tl_volume_desc desc = {.nz = 5, .ny = 2, .nx = 2};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    float buf[2 * 2 * 2] = {0};
    cr_assert_eq(tl_volume_writer_write(w, 0, 2, buf, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_write(w, 4, 1, buf, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_write(w, 4, 2, buf, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "slices 4 to 5 requested, the volume has 5"), "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "2 of 5 slices were never written (the first is slice 2)"), "%s", err.message);
    cr_assert_not(tl_test_file_exists(path));
    cr_assert_not(tl_test_file_exists(partial));
}

Test(writer, volume_argument_errors)
{
    char path[4200];
    tmp_path(path, sizeof path, "bad.nxs");
    tl_volume_desc desc = {.nz = 0, .ny = 2, .nx = 2};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_ERR_INVALID, &err);
    cr_assert_null(w);
    cr_assert_not(tl_test_file_exists(path));
    cr_assert_eq(tl_volume_writer_create(path, NULL, 0, &w, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_volume_writer_write(NULL, 0, 1, NULL, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_volume_writer_commit(NULL, &err), TL_ERR_INVALID);
}

Test(writer, volume_commit_reports_rename_failure)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "dir.nxs");
    partial_of(partial, sizeof partial, path);
    tl_volume_desc desc = {.nz = 1, .ny = 2, .nx = 2};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_ERR_IO);
    cr_assert(strstr(err.message, "cannot rename") && strstr(err.message, partial) &&
                  strstr(err.message, "Is a directory"),
              "%s", err.message);
    cr_assert_not(tl_test_file_exists(partial));
}

/* Round to binary16 in double arithmetic, for normal halves (|v| in
 * [2^-14, 65504]): the independent reference for the writer's rounding. */
static float reference_half(float v)
{
    double a = fabs((double)v);
    int e;
    frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    double ulp = ldexp(1.0, e - 11);
    double q = a / ulp, fl = floor(q), r;
    if (q - fl > 0.5 || (q - fl == 0.5 && fmod(fl, 2.0) != 0.0))
        r = (fl + 1) * ulp;
    else
        r = fl * ulp;
    return (float)(v < 0 ? -r : r);
}

Test(writer, volume_float16_round_trip)
{
    char path[4200];
    tmp_path(path, sizeof path, "half.nxs");
    enum { NX = 16, NY = 2, NZ = 33 };
    tl_volume_desc desc = {.nz = NZ, .ny = NY, .nx = NX, .float16 = 1};
    /* Exact halves, ties (to even), overflow, subnormals, underflow, specials. */
    const float special[NX] = {1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.9604644775390625e-08f,
                               1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 70000.0f, -65520.0f, 1e-8f,
                               3e-8f, -0.0f, INFINITY, NAN, 1234.567f, 3.14159f};
    const float want[NX] = {1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.9604644775390625e-08f,
                            1.0f, 1.0f + 1.0f / 512, INFINITY, -INFINITY, 0.0f,
                            5.9604644775390625e-08f, -0.0f, INFINITY, NAN, 1235.0f, 3.140625f};
    float *buf = malloc(NZ * NY * NX * sizeof *buf);
    memcpy(buf, special, sizeof special);
    memcpy(buf + NX, special, sizeof special);
    srand(12345);
    for (size_t i = NY * NX; i < NZ * NY * NX; i++) {
        double m = (double)rand() / RAND_MAX * 2 - 1;
        buf[i] = (float)(m * ldexp(1.0, rand() % 28 - 13)); /* 2^-13 .. 2^14 */
        if (fabsf(buf[i]) < 6.103515625e-05f)
            buf[i] = 0.5f;
    }
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    cr_assert_eq(tl_volume_writer_write(w, 0, NZ, buf, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    cr_assert_eq(H5Tget_class(t), H5T_FLOAT);
    cr_assert_eq(H5Tget_size(t), 2);
    cr_assert_eq(H5Tget_precision(t), 16);
    cr_assert_eq(H5Tget_ebias(t), 15);
    size_t spos, epos, esize, mpos, msize;
    H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize);
    cr_assert(spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);

    float *v = NULL;
    size_t nz, ny, nx;
    cr_assert_eq(tl_volume_read(path, &v, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert(nz == NZ && ny == NY && nx == NX);
    for (int i = 0; i < NX; i++) {
        for (int row = 0; row < 2; row++) {
            float got = v[row * NX + i];
            if (isnan(want[i]))
                cr_assert(isnan(got), "value %d: %g, want nan", i, got);
            else
                cr_assert(got == want[i] && signbit(got) == signbit(want[i]), "value %d (%.9g): %.9g, want %.9g",
                          i, special[i], got, want[i]);
        }
    }
    for (size_t i = NY * NX; i < NZ * NY * NX; i++)
        cr_assert_eq(v[i], reference_half(buf[i]), "voxel %zu (%.9g): %.9g, want %.9g", i, buf[i], v[i],
                     reference_half(buf[i]));
    free(v);
    free(buf);
}

Test(writer, volume_provenance)
{
    char path[4200];
    tmp_path(path, sizeof path, "prov.nxs");
    tl_volume_desc desc = {.nz = 1, .ny = 2, .nx = 2};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    const char *names[3] = {"--rotation-axis", "filter", "config"};
    const char *sections[3] = {"cor", "recon", "general"};
    const char *values[3] = {"auto", "shepp", "/etc/tomoline.conf"};
    const char *stages[2] = {"normalize", "fbp"};
    const double seconds[2] = {0.25, 1.5};
    const char *ini = "[recon]\nfilter = shepp\n\n[cor]\nrotation-axis = auto\n";
    tl_provenance prov = {.program = "tomoline", .version = "0.1.0", .git_revision = "0123abcd",
                          .date = "2024-05-01T12:30:00Z", .host = "beamline-ws1", .backend = "cpu",
                          .input_file = "/data/scan.nxs", .rotation_axis = 255.25,
                          .rotation_axis_method = "vo", .n_params = 3, .param_names = names,
                          .param_sections = sections, .param_values = values, .config_ini = ini,
                          .n_stages = 2, .stage_names = stages, .stage_seconds = seconds};
    cr_assert_eq(tl_volume_writer_set_provenance(w, &prov, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_set_provenance(w, &prov, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "already written"), "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    expect_attr(f, "/entry/process", "NX_class", "NXprocess");
    expect_string(f, "/entry/process/program", "tomoline");
    expect_string(f, "/entry/process/version", "0.1.0");
    expect_string(f, "/entry/process/git_revision", "0123abcd");
    expect_string(f, "/entry/process/date", "2024-05-01T12:30:00Z");
    expect_string(f, "/entry/process/host", "beamline-ws1");
    expect_string(f, "/entry/process/backend", "cpu");
    expect_string(f, "/entry/process/input_file", "/data/scan.nxs");
    double axis;
    read_doubles(f, "/entry/process/rotation_axis", &axis, 1);
    cr_assert_eq(axis, 255.25);
    expect_attr(f, "/entry/process/rotation_axis", "method", "vo");
    expect_attr(f, "/entry/process/parameters", "NX_class", "NXcollection");
    expect_string(f, "/entry/process/parameters/rotation-axis", "auto");
    expect_attr(f, "/entry/process/parameters/rotation-axis", "section", "cor");
    expect_string(f, "/entry/process/parameters/filter", "shepp");
    expect_attr(f, "/entry/process/parameters/filter", "section", "recon");
    expect_string(f, "/entry/process/parameters/config", "/etc/tomoline.conf");
    expect_attr(f, "/entry/process/parameters/config", "section", "general");
    /* The INI text keeps its newlines (the reader trims only the last). */
    char text[512];
    cr_assert_eq(tl_h5_read_string_dataset(f, "/entry/process/config", text, sizeof text), 0);
    cr_assert_str_eq(text, "[recon]\nfilter = shepp\n\n[cor]\nrotation-axis = auto");
    double t;
    read_doubles(f, "/entry/process/stage_times/fbp", &t, 1);
    cr_assert_eq(t, 1.5);
    read_doubles(f, "/entry/process/stage_times/normalize", &t, 1);
    cr_assert_eq(t, 0.25);
    expect_attr(f, "/entry/process/stage_times/fbp", "units", "s");
    H5Fclose(f);
}

Test(writer, volume_provenance_defaults_and_errors)
{
    char path[4200];
    tmp_path(path, sizeof path, "prov2.nxs");
    tl_volume_desc desc = {.nz = 1, .ny = 2, .nx = 2};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    /* No date: the time of writing; no rotation axis: no dataset. */
    tl_provenance prov = {.program = "tomoline", .rotation_axis = NAN};
    cr_assert_eq(tl_volume_writer_set_provenance(w, &prov, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char date[64];
    cr_assert_eq(tl_h5_read_string_dataset(f, "/entry/process/date", date, sizeof date), 0);
    int yy, mo, dd, hh, mi, ss;
    cr_assert_eq(sscanf(date, "%4d-%2d-%2dT%2d:%2d:%2dZ", &yy, &mo, &dd, &hh, &mi, &ss), 6, "date '%s'", date);
    cr_assert_eq(H5Lexists(f, "/entry/process/rotation_axis", H5P_DEFAULT), 0);
    cr_assert_eq(H5Lexists(f, "/entry/process/input_file", H5P_DEFAULT), 0);
    H5Fclose(f);

    tmp_path(path, sizeof path, "prov3.nxs");
    w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    const char *names[2] = {"filter", "a/b"}, *vals[2] = {"x", "y"};
    tl_provenance bad = {.rotation_axis = NAN, .n_params = 2, .param_names = names, .param_values = vals};
    cr_assert_eq(tl_volume_writer_set_provenance(w, &bad, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "'a/b'"), "%s", err.message);
    tl_volume_writer_abort(&w);
    cr_assert_not(tl_test_file_exists(path));
}

Test(writer, volume_read_errors)
{
    char path[4200];
    tl_error err = {0};
    float *v = (float *)&err;
    size_t nz = 9, ny = 9, nx = 9;

    tmp_path(path, sizeof path, "missing.nxs");
    cr_assert_eq(tl_volume_read(path, &v, &nz, &ny, &nx, &err), TL_ERR_IO);
    cr_assert(strstr(err.message, path) && strstr(err.message, "No such file"), "%s", err.message);
    cr_assert_null(v);

    tmp_path(path, sizeof path, "text.nxs");
    write_text(path, "not a volume");
    cr_assert_eq(tl_volume_read(path, &v, &nz, &ny, &nx, &err), TL_ERR_FORMAT);
    cr_assert(strstr(err.message, "is not an HDF5 file"), "%s", err.message);

    /* A Data Exchange scan has no /entry/data/data. */
    tmp_path(path, sizeof path, "scan.h5");
    tl_scan_writer *sw = create_scan(path, TL_LAYOUT_DXCHANGE, TL_PIXEL_FLOAT32, 2, 2, 0, TL_OK, &err);
    cr_assert_eq(tl_scan_writer_commit(&sw, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_read(path, &v, &nz, &ny, &nx, &err), TL_ERR_FORMAT);
    cr_assert(strstr(err.message, "dataset /entry/data/data missing"), "%s", err.message);

    /* An NXtomo uint16 scan has /entry/data/data, but not of floats. */
    tmp_path(path, sizeof path, "scan.nxs");
    sw = create_scan(path, TL_LAYOUT_NXTOMO, TL_PIXEL_UINT16, 2, 2, 0, TL_OK, &err);
    cr_assert_eq(tl_scan_writer_commit(&sw, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_read(path, &v, &nz, &ny, &nx, &err), TL_ERR_FORMAT);
    cr_assert(strstr(err.message, "holds uint16, expected floating-point voxels"), "%s", err.message);
    cr_assert_null(v);
    cr_assert(nz == 0 && ny == 0 && nx == 0);
}
