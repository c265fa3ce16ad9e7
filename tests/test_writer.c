/* test_writer.c - tl_scan_writer and tl_volume_writer: layouts and attributes as
 * read back with the HDF5 API, the PATH.partial protocol (partial while writing,
 * renamed on commit, removed on abort, existing files kept), float16 storage
 * (the IEEE half type h5py maps to numpy float16), compression through gzip and
 * the lz4 / blosc-zstd filter plugins, TIFF volume directories read back with
 * libtiff, provenance, and tl_volume_read / tl_volume_read_slice. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <H5PLpublic.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "hdf5_util.h"
#include "scan_write.h"
#include "support.h"
#include "tiff_write.h"
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

/* ---- float16: the type h5py writes and reads as numpy float16 ------------- */

Test(writer, volume_float16_is_the_h5py_half_type)
{
    char path[4200];
    tmp_path(path, sizeof path, "h5py_half.nxs");
    tl_volume_desc desc = {.nz = 2, .ny = 3, .nx = 4, .float16 = 1};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    /* h5py's rule (h5t.pyx, TypeFloatID.py_dtype): a float whose mantissa fits
     * 10 bits and whose exponent range fits numpy float16's becomes '<f2'.
     * Check every field that rule and the byte layout depend on. */
    cr_assert_eq(H5Tget_class(t), H5T_FLOAT);
    cr_assert_eq(H5Tget_size(t), 2);
    cr_assert_eq(H5Tget_order(t), H5T_ORDER_LE);
    cr_assert_eq(H5Tget_precision(t), 16);
    cr_assert_eq(H5Tget_offset(t), 0);
    cr_assert_eq(H5Tget_ebias(t), 15);
    cr_assert_eq(H5Tget_norm(t), H5T_NORM_IMPLIED);
    size_t spos, epos, esize, mpos, msize;
    cr_assert(H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) >= 0);
    cr_assert(spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10);
    cr_assert_eq(H5Tget_inpad(t), H5T_PAD_ZERO);
    H5T_pad_t lsb, msb;
    H5Tget_pad(t, &lsb, &msb);
    cr_assert(lsb == H5T_PAD_ZERO && msb == H5T_PAD_ZERO);
    /* The type h5py itself creates for numpy float16 (IEEE_F16LE in h5t.pyx). */
    hid_t h5py_half = H5Tcopy(H5T_IEEE_F32BE);
    H5Tset_fields(h5py_half, 15, 10, 5, 0, 10);
    H5Tset_size(h5py_half, 2);
    H5Tset_ebias(h5py_half, 15);
    H5Tset_order(h5py_half, H5T_ORDER_LE);
    cr_assert_gt(H5Tequal(t, h5py_half), 0, "the volume's half type differs from h5py's IEEE_F16LE");
    H5Tclose(h5py_half);
    /* Any reader converts it: 2.0 as float16 bits is 0x4000. */
    uint16_t bits[24];
    cr_assert(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits) >= 0);
    float back[24];
    cr_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    for (int i = 0; i < 24; i++)
        cr_assert_eq(back[i], voxel((size_t)i / 12, (size_t)i / 4 % 3, (size_t)i % 4), "voxel %d", i);
    cr_assert_eq(bits[0], 0xc200, "voxel(0,0,0) = -3 is 0xc200 in binary16, got 0x%04x", bits[0]);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
}

/* ---- compression ---------------------------------------------------------- */

/* A smooth volume (compresses well) of nz x 64 x 64. */
static float *smooth_volume(size_t nz)
{
    float *v = malloc(nz * 64 * 64 * sizeof *v);
    for (size_t z = 0; z < nz; z++)
        for (size_t y = 0; y < 64; y++)
            for (size_t x = 0; x < 64; x++)
                v[(z * 64 + y) * 64 + x] = (float)z + 0.25f * (float)((x + y) % 16);
    return v;
}

static void write_compressed(const char *path, int compression, int level, int float16, const float *v, size_t nz)
{
    tl_volume_desc desc = {.nz = nz, .ny = 64, .nx = 64, .compression = compression, .compression_level = level,
                           .float16 = float16};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    cr_assert_eq(tl_volume_writer_write(w, 0, nz, v, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
}

static void expect_exact(const char *path, const float *v, size_t nz)
{
    tl_error err = {0};
    float *back = NULL;
    size_t z, y, x;
    cr_assert_eq(tl_volume_read(path, &back, &z, &y, &x, &err), TL_OK, "%s", err.message);
    cr_assert(z == nz && y == 64 && x == 64);
    cr_assert_eq(memcmp(back, v, nz * 64 * 64 * sizeof *v), 0, "%s: values differ after the round trip", path);
    free(back);
}

/* The filter `id` in the dataset's pipeline: its cd_values into cd (up to 8), the count returned. */
static size_t filter_params(hid_t dcpl, H5Z_filter_t id, unsigned *flags, unsigned cd[8])
{
    size_t n = 8;
    char name[64];
    unsigned config;
    cr_assert(H5Pget_filter_by_id2(dcpl, id, flags, &n, cd, sizeof name, name, &config) >= 0,
              "filter %d missing from the dataset creation property list", (int)id);
    return n;
}

/* The position of filter id in the pipeline, or -1. */
static int filter_index(hid_t dcpl, H5Z_filter_t id)
{
    int n = H5Pget_nfilters(dcpl);
    for (int i = 0; i < n; i++) {
        unsigned flags, cd[8], config;
        size_t nc = 8;
        char name[64];
        if (H5Pget_filter2(dcpl, (unsigned)i, &flags, &nc, cd, sizeof name, name, &config) == id)
            return i;
    }
    return -1;
}

static hsize_t storage_size(hid_t file)
{
    hid_t d = H5Dopen2(file, "/entry/data/data", H5P_DEFAULT);
    hsize_t s = H5Dget_storage_size(d);
    H5Dclose(d);
    return s;
}

Test(writer, volume_gzip_round_trip)
{
    char path[4200];
    tmp_path(path, sizeof path, "gzip.nxs");
    float *v = smooth_volume(4);
    write_compressed(path, TL_COMPRESSION_GZIP, 6, 0, v, 4);
    expect_exact(path, v, 4);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    hid_t p = H5Dget_create_plist(d);
    unsigned flags, cd[8];
    cr_assert_eq(filter_params(p, H5Z_FILTER_DEFLATE, &flags, cd), 1);
    cr_assert_eq(cd[0], 6, "deflate level %u", cd[0]);
    /* Byte shuffle first, then deflate. */
    cr_assert(filter_index(p, H5Z_FILTER_SHUFFLE) == 0 && filter_index(p, H5Z_FILTER_DEFLATE) == 1);
    hsize_t chunk[3];
    cr_assert_eq(H5Pget_chunk(p, 3, chunk), 3);
    cr_assert(chunk[0] == 1 && chunk[1] == 64 && chunk[2] == 64, "one slice per chunk");
    H5Pclose(p);
    H5Dclose(d);
    cr_assert_lt(storage_size(f), 4 * 64 * 64 * 4 / 4, "gzip did not compress a smooth volume 4:1");
    H5Fclose(f);
    free(v);
}

Test(writer, volume_lz4_round_trip)
{
    char path[4200];
    tmp_path(path, sizeof path, "lz4.nxs");
    float *v = smooth_volume(3);
    write_compressed(path, TL_COMPRESSION_LZ4, 0, 0, v, 3);
    expect_exact(path, v, 3);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    hid_t p = H5Dget_create_plist(d);
    unsigned flags, cd[8];
    filter_params(p, TL_H5_FILTER_LZ4, &flags, cd);
    cr_assert_eq(flags & H5Z_FLAG_OPTIONAL, 0, "lz4 should be a mandatory filter");
    cr_assert(filter_index(p, H5Z_FILTER_SHUFFLE) == 0 && filter_index(p, TL_H5_FILTER_LZ4) == 1);
    /* The chunk as stored: the plugin's header starts with the original size
     * (8 bytes, big endian), here one 64 x 64 float slice. */
    hsize_t off[3] = {1, 0, 0}, bytes = 0;
    cr_assert(H5Dget_chunk_storage_size(d, off, &bytes) >= 0);
    cr_assert(bytes > 12 && bytes < 64 * 64 * 4 / 4, "lz4 chunk of %llu bytes", (unsigned long long)bytes);
    unsigned char *raw = malloc(bytes);
    uint32_t mask = 0xffffffffu;
    cr_assert(H5Dread_chunk(d, H5P_DEFAULT, off, &mask, raw) >= 0);
    cr_assert_eq(mask, 0, "a filter was skipped on the chunk");
    uint64_t orig = 0;
    for (int i = 0; i < 8; i++)
        orig = orig << 8 | raw[i];
    cr_assert_eq(orig, 64 * 64 * 4, "lz4 header says %llu bytes", (unsigned long long)orig);
    free(raw);
    H5Pclose(p);
    H5Dclose(d);
    H5Fclose(f);
    free(v);
}

/* The compressor of a blosc chunk: bits 5-7 of its header's flags byte hold the
 * compression library (c-blosc: 0 blosclz, 1 lz4, 2 snappy, 3 zlib, 4 zstd). */
static int blosc_library(hid_t d, hsize_t z)
{
    hsize_t off[3] = {z, 0, 0}, bytes = 0;
    cr_assert(H5Dget_chunk_storage_size(d, off, &bytes) >= 0);
    unsigned char *raw = malloc(bytes);
    uint32_t mask = 0xffffffffu;
    cr_assert(H5Dread_chunk(d, H5P_DEFAULT, off, &mask, raw) >= 0);
    int lib = mask == 0 ? raw[2] >> 5 : -1; /* -1: the optional filter was skipped */
    free(raw);
    return lib;
}

Test(writer, volume_zstd_round_trip)
{
    char path[4200];
    tmp_path(path, sizeof path, "zstd.nxs");
    float *v = smooth_volume(3);
    write_compressed(path, TL_COMPRESSION_ZSTD, 9, 0, v, 3);
    expect_exact(path, v, 3);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    hid_t p = H5Dget_create_plist(d);
    unsigned flags, cd[8];
    size_t n = filter_params(p, TL_H5_FILTER_BLOSC, &flags, cd);
    /* blosc's cd_values: [2] type size, [3] chunk bytes (set by the filter),
     * [4] level (zstd 9 -> blosc 5), [5] byte shuffle, [6] compressor 5 = zstd. */
    cr_assert_eq(n, 7);
    cr_assert_eq(cd[2], 4);
    cr_assert_eq(cd[3], 64 * 64 * 4);
    cr_assert_eq(cd[4], 5);
    cr_assert_eq(cd[5], 1);
    cr_assert_eq(cd[6], 5, "blosc compressor code %u, zstd is 5", cd[6]);
    for (hsize_t z = 0; z < 3; z++)
        cr_assert_eq(blosc_library(d, z), 4, "chunk %llu is not zstd-compressed", (unsigned long long)z);
    H5Pclose(p);
    H5Dclose(d);
    cr_assert_lt(storage_size(f), 3 * 64 * 64 * 4 / 4);
    H5Fclose(f);
    free(v);
}

/* Random bits do not compress: blosc then declines the chunk. With a mandatory
 * filter the write would fail when the chunk is flushed; ours is optional, so
 * the chunk is stored as it is and reads back bit for bit. */
Test(writer, volume_zstd_incompressible_slice_kept)
{
    char path[4200];
    tmp_path(path, sizeof path, "zstd_noise.nxs");
    float *v = smooth_volume(2);
    uint32_t state = 12345;
    for (size_t i = 64 * 64; i < 2 * 64 * 64; i++) {
        uint32_t r = 0;
        for (int b = 0; b < 4; b++) {
            state = state * 1664525u + 1013904223u;
            r = r << 8 | (state >> 24);
        }
        if ((r & 0x7f800000u) == 0x7f800000u)
            r &= 0xbfffffffu; /* keep NaN payloads out: the comparison is bitwise anyway */
        memcpy(&v[i], &r, sizeof r);
    }
    write_compressed(path, TL_COMPRESSION_ZSTD, 0, 0, v, 2);
    expect_exact(path, v, 2);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    cr_assert_eq(blosc_library(d, 0), 4, "the smooth slice is zstd-compressed");
    H5Dclose(d);
    H5Fclose(f);
    free(v);
}

Test(writer, volume_float16_with_zstd)
{
    char path[4200];
    tmp_path(path, sizeof path, "zstd_half.nxs");
    float *v = smooth_volume(2); /* multiples of 0.25 below 20: exact in binary16 */
    write_compressed(path, TL_COMPRESSION_ZSTD, 3, 1, v, 2);
    expect_exact(path, v, 2);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    hid_t p = H5Dget_create_plist(d);
    unsigned flags, cd[8];
    filter_params(p, TL_H5_FILTER_BLOSC, &flags, cd);
    cr_assert_eq(cd[2], 2, "blosc shuffles 2-byte elements");
    cr_assert_eq(cd[4], 2, "zstd 3 -> blosc level 2");
    H5Pclose(p);
    H5Dclose(d);
    H5Fclose(f);
    free(v);
}

/* Plugin loading switched off: the plugins are "not installed" for HDF5. */
Test(writer, volume_missing_plugin_message)
{
    cr_assert(H5PLset_loading_state(0) >= 0);
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "noplugin.nxs");
    partial_of(partial, sizeof partial, path);
    tl_volume_desc desc = {.nz = 2, .ny = 4, .nx = 4, .compression = TL_COMPRESSION_ZSTD};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_ERR_UNSUPPORTED, &err);
    cr_assert_null(w);
    cr_assert_str_eq(err.message, "--compression zstd: the HDF5 filter plugin (blosc, id 32001) is not installed "
                                  "(Debian: hdf5-filter-plugin-blosc-serial)");
    desc.compression = TL_COMPRESSION_LZ4;
    w = create_volume(path, &desc, 0, TL_ERR_UNSUPPORTED, &err);
    cr_assert_str_eq(err.message, "--compression lz4: the HDF5 filter plugin (lz4, id 32004) is not installed "
                                  "(Debian: hdf5-filter-plugin)");
    cr_assert_not(tl_test_file_exists(path));
    cr_assert_not(tl_test_file_exists(partial));
    /* gzip is built into HDF5 and still works. */
    desc.compression = TL_COMPRESSION_GZIP;
    w = create_volume(path, &desc, 0, TL_OK, &err);
    tl_volume_writer_abort(&w);
}

Test(writer, volume_compression_parse_and_levels)
{
    int c = -1;
    tl_error err = {0};
    const char *names[4] = {"none", "gzip", "lz4", "zstd"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(tl_volume_compression_parse(names[i], &c, &err), TL_OK);
        cr_assert_eq(c, i);
        cr_assert_str_eq(tl_volume_compression_name(i), names[i]);
    }
    cr_assert_eq(tl_volume_compression_parse("bzip2", &c, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--compression 'bzip2' is not known (allowed: none, gzip, lz4, zstd)");
    int fmt = -1;
    cr_assert_eq(tl_volume_format_parse("tiff", &fmt, &err), TL_OK);
    cr_assert_eq(fmt, TL_VOLUME_TIFF);
    cr_assert_eq(tl_volume_format_parse("h5", &fmt, &err), TL_OK);
    cr_assert_eq(fmt, TL_VOLUME_NEXUS);
    cr_assert_eq(tl_volume_format_parse("png", &fmt, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--save-format 'png' is not known (allowed: h5, tiff)");

    char path[4200];
    tmp_path(path, sizeof path, "levels.nxs");
    tl_volume_desc desc = {.nz = 1, .ny = 2, .nx = 2, .compression = TL_COMPRESSION_GZIP, .compression_level = 12};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_ERR_INVALID, &err);
    cr_assert_str_eq(err.message, "--compression-level 12 is outside 1 to 9, the levels of gzip");
    desc.compression = TL_COMPRESSION_ZSTD;
    desc.compression_level = 23;
    w = create_volume(path, &desc, 0, TL_ERR_INVALID, &err);
    cr_assert_str_eq(err.message, "--compression-level 23 is outside 1 to 22, the levels of zstd");
    desc.compression = 7;
    w = create_volume(path, &desc, 0, TL_ERR_INVALID, &err);
    cr_assert(strstr(err.message, "compression 7 is not known"), "%s", err.message);
    cr_assert_null(w);
    cr_assert_not(tl_test_file_exists(path));
    /* lz4 has no levels: any level is accepted. */
    desc.compression = TL_COMPRESSION_LZ4;
    desc.compression_level = 22;
    w = create_volume(path, &desc, 0, TL_OK, &err);
    tl_volume_writer_abort(&w);
}

/* ---- TIFF volumes ----------------------------------------------------------- */

/* Read a TIFF written by the volume writer with libtiff alone. */
static void expect_tiff_slice(const char *file, size_t z, const tl_volume_desc *d, const char *desc_has)
{
    TIFF *t = TIFFOpen(file, "r");
    cr_assert(t, "cannot open %s", file);
    uint32_t w = 0, h = 0;
    uint16_t bits = 0, spp = 0, fmt = 0, photo = 0, comp = 0;
    cr_assert(TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w) && TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h));
    cr_assert(w == d->nx && h == d->ny, "%s is %u x %u", file, h, w);
    TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetField(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(t, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    TIFFGetField(t, TIFFTAG_COMPRESSION, &comp);
    cr_assert(bits == 32 && spp == 1 && fmt == SAMPLEFORMAT_IEEEFP && photo == PHOTOMETRIC_MINISBLACK &&
                  comp == COMPRESSION_NONE,
              "%s: bits %u, samples %u, format %u, photometric %u, compression %u", file, bits, spp, fmt, photo,
              comp);
    cr_assert_eq(TIFFIsTiled(t), 0);
    char *text = NULL;
    cr_assert(TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &text), "%s has no ImageDescription", file);
    char want[64];
    snprintf(want, sizeof want, "slice z=%zu of %zu", z, d->nz);
    cr_assert(strstr(text, want) && strstr(text, "tomoline") && (!desc_has || strstr(text, desc_has)),
              "ImageDescription '%s'", text);
    float *row = malloc(d->nx * sizeof *row);
    for (uint32_t r = 0; r < h; r++) {
        cr_assert_eq(TIFFReadScanline(t, row, r, 0), 1);
        for (size_t x = 0; x < d->nx; x++)
            cr_assert_eq(row[x], voxel(z, r, x), "%s row %u col %zu: %g", file, r, x, row[x]);
    }
    free(row);
    cr_assert_eq(TIFFReadDirectory(t), 0, "%s has more than one page", file);
    TIFFClose(t);
}

static size_t count_entries(const char *dir)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    cr_assert_eq(fscanf(p, "%zu", &n), 1);
    pclose(p);
    return n;
}

Test(writer, tiff_volume_layout_values_and_provenance)
{
    char path[4200], partial[4300], file[4400], text[4096];
    tmp_path(path, sizeof path, "vol_tiff");
    partial_of(partial, sizeof partial, path);
    tl_volume_desc desc = {.nz = 3, .ny = 4, .nx = 5, .z_first = 10, .format = TL_VOLUME_TIFF};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    struct stat sb;
    cr_assert(stat(partial, &sb) == 0 && S_ISDIR(sb.st_mode), "no directory %s while writing", partial);
    cr_assert_not(tl_test_file_exists(path));
    fill_volume(w, &desc);
    const char *names[2] = {"--fbp-filter", "rotation-axis"}, *sections[2] = {"recon", "recon"},
               *values[2] = {"shepp", "auto"};
    const char *stages[2] = {"read", "fbp"};
    const double secs[2] = {0.5, 2.25};
    const char *ini = "[recon]\nfbp-filter = shepp\n";
    tl_provenance prov = {.program = "tomoline", .version = "0.1.0", .git_revision = "abc1234",
                          .date = "2024-05-01T12:30:00+02:00", .host = "ws1", .backend = "cpu",
                          .input_file = "/data/scan.nxs",
                          .input_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                          .rotation_axis = 12.5, .rotation_axis_method = "given", .n_params = 2,
                          .param_names = names, .param_sections = sections, .param_values = values,
                          .config_ini = ini, .n_stages = 2, .stage_names = stages, .stage_seconds = secs};
    cr_assert_eq(tl_volume_writer_set_provenance(w, &prov, &err), TL_OK, "%s", err.message);
    /* A TIFF volume has no HDF5 groups to copy into: accepted, nothing done. */
    cr_assert_eq(tl_volume_writer_copy_metadata(w, "/no/such/input.nxs", NULL, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    cr_assert_null(w);
    cr_assert_not(tl_test_file_exists(partial));
    cr_assert(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
    cr_assert_eq(count_entries(path), 5, "3 slices, provenance.txt, config.ini");
    for (size_t z = 0; z < 3; z++) {
        snprintf(file, sizeof file, "%s/slice_%05zu.tif", path, z);
        char row[32];
        snprintf(row, sizeof row, "detector row %zu", 10 + z);
        expect_tiff_slice(file, z, &desc, row);
    }
    snprintf(file, sizeof file, "%s/provenance.txt", path);
    read_text(file, text, sizeof text);
    const char *lines[] = {"[process]\n", "program = tomoline\n", "version = 0.1.0\n", "git_revision = abc1234\n",
                           "date = 2024-05-01T12:30:00+02:00\n", "host = ws1\n", "backend = cpu\n",
                           "input_file = /data/scan.nxs\n",
                           "input_file_sha256 = "
                           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
                           "rotation_axis = 12.5\n", "rotation_axis_method = given\n", "[stage_times]\n",
                           "read = 0.5\n", "fbp = 2.25\n", "[parameters]\n", "fbp-filter = shepp\n",
                           "rotation-axis = auto\n", "nz = 3\n", "z_first = 10\n"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_assert(strstr(text, lines[i]), "provenance.txt lacks '%s':\n%s", lines[i], text);
    snprintf(file, sizeof file, "%s/config.ini", path);
    read_text(file, text, sizeof text);
    cr_assert_str_eq(text, ini);

    /* tl_volume_read and the probe read the directory as a volume. */
    check_volume_values(path, &desc);
    size_t nz, ny, nx;
    cr_assert_eq(tl_volume_probe(path, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert(nz == 3 && ny == 4 && nx == 5);
}

Test(writer, tiff_volume_abort_and_missing_slices_leave_nothing)
{
    char path[4200], partial[4300];
    tmp_path(path, sizeof path, "aborted_tiff");
    partial_of(partial, sizeof partial, path);
    tl_volume_desc desc = {.nz = 4, .ny = 2, .nx = 3, .format = TL_VOLUME_TIFF};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    tl_volume_writer_abort(&w);
    cr_assert_null(w);
    cr_assert_not(tl_test_file_exists(path));
    cr_assert_not(tl_test_file_exists(partial));

    w = create_volume(path, &desc, 0, TL_OK, &err);
    float buf[2 * 3] = {0};
    cr_assert_eq(tl_volume_writer_write(w, 1, 1, buf, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "3 of 4 slices were never written (the first is slice 0)"), "%s", err.message);
    cr_assert_not(tl_test_file_exists(path));
    cr_assert_not(tl_test_file_exists(partial));
}

Test(writer, tiff_volume_existing_output_kept)
{
    char path[4200], msg[4400], file[4400], back[64];
    tmp_path(path, sizeof path, "kept_tiff");
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(file, sizeof file, "%s/slice_00000.tif", path);
    write_text(file, "old slice");
    tl_volume_desc desc = {.nz = 2, .ny = 2, .nx = 2, .format = TL_VOLUME_TIFF};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_ERR_EXISTS, &err);
    snprintf(msg, sizeof msg, "'%s' already exists (use --overwrite to replace it)", path);
    cr_assert_str_eq(err.message, msg);
    read_text(file, back, sizeof back);
    cr_assert_str_eq(back, "old slice");

    /* --overwrite replaces a TIFF volume directory, old slices and all... */
    w = create_volume(path, &desc, 1, TL_OK, &err);
    read_text(file, back, sizeof back);
    cr_assert_str_eq(back, "old slice", "the old volume stays until commit");
    fill_volume(w, &desc);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    check_volume_values(path, &desc);
    cr_assert_eq(count_entries(path), 2);
    char old[4300];
    snprintf(old, sizeof old, "%s.old", path);
    cr_assert_not(tl_test_file_exists(old), "the old volume was not removed");

    /* ...but never a directory holding someone else's files. */
    snprintf(file, sizeof file, "%s/notes.txt", path);
    write_text(file, "my notes");
    w = create_volume(path, &desc, 1, TL_ERR_EXISTS, &err);
    cr_assert(strstr(err.message, "holding files tomoline did not write (e.g. 'notes.txt')"), "%s", err.message);
    read_text(file, back, sizeof back);
    cr_assert_str_eq(back, "my notes");

    /* A plain file in the way is replaced by the directory with --overwrite. */
    tmp_path(path, sizeof path, "was_a_file");
    write_text(path, "old");
    w = create_volume(path, &desc, 0, TL_ERR_EXISTS, &err);
    w = create_volume(path, &desc, 1, TL_OK, &err);
    fill_volume(w, &desc);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    check_volume_values(path, &desc);
}

Test(writer, tiff_volume_float16_written_as_float32)
{
    char path[4200], file[4400];
    tmp_path(path, sizeof path, "half_tiff");
    tl_volume_desc desc = {.nz = 1, .ny = 3, .nx = 3, .format = TL_VOLUME_TIFF, .float16 = 1,
                           .compression = TL_COMPRESSION_GZIP};
    tl_error err = {0};
    tl_volume_writer *w = create_volume(path, &desc, 0, TL_OK, &err);
    fill_volume(w, &desc);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    snprintf(file, sizeof file, "%s/slice_00000.tif", path);
    expect_tiff_slice(file, 0, &desc, NULL);
}

Test(writer, tiff_volume_read_errors)
{
    char path[4200], file[4400], msg[4600];
    tmp_path(path, sizeof path, "holes_tiff");
    cr_assert_eq(mkdir(path, 0755), 0);
    float *v = NULL;
    size_t nz, ny, nx;
    tl_error err = {0};
    cr_assert_eq(tl_volume_read(path, &v, &nz, &ny, &nx, &err), TL_ERR_FORMAT);
    cr_assert(strstr(err.message, "holds no slice_NNNNN.tif files"), "%s", err.message);
    const float img[4] = {1, 2, 3, 4};
    for (int z = 0; z < 4; z++) {
        if (z == 2)
            continue;
        snprintf(file, sizeof file, "%s/slice_%05d.tif", path, z);
        cr_assert_eq(tl_tiff_write_float(file, img, 2, 2, NULL, &err), TL_OK, "%s", err.message);
    }
    cr_assert_eq(tl_volume_read(path, &v, &nz, &ny, &nx, &err), TL_ERR_FORMAT);
    snprintf(msg, sizeof msg, "'%s': slice file slice_00002.tif is missing (3 slice files, numbered up to 3)", path);
    cr_assert_str_eq(err.message, msg);
    cr_assert_null(v);
}
