/* test_info.c - `tomoline info`: what it prints about good scans (simulated,
 * a TIFF directory, the real Diamond K11 file named through options), what it
 * flags as suspicious, and that unusable inputs exit 1 with recon's error. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>

#include "scan.h"
#include "scan_write.h"
#include "support.h"

static char tmpdir[4096];

static void setup(void)
{
    const char *d = tl_test_tmpdir();
    cr_assert(d != NULL);
    snprintf(tmpdir, sizeof tmpdir, "%s", d);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void teardown(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(info, .init = setup, .fini = teardown, .timeout = 120);

#define has(text, sub) cr_assert(strstr((text), (sub)) != NULL, "output lacks \"%s\":\n%s", (sub), (text))
#define lacks(text, sub) cr_assert(strstr((text), (sub)) == NULL, "output has \"%s\":\n%s", (sub), (text))

Test(info, simulated_scan)
{
    char scan[4200];
    snprintf(scan, sizeof scan, "%s/sim.nxs", tmpdir);
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 32 --angles 40 --slices 4 --quiet", scan);
    cr_assert_eq(r.exit_code, 0, "sim failed: %s", r.err);
    tl_test_run(&r, "info '%s'", scan);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    has(r.out, "file:          ");
    has(r.out, "layout:        NXtomo (entry /entry)\n");
    has(r.out, "projections:   /entry/instrument/detector/data\n");
    has(r.out, "image keys:    /entry/instrument/detector/image_key\n");
    has(r.out, "angles from:   /entry/sample/rotation_angle\n");
    has(r.out, "frame shape:   4 rows x 32 columns\n");
    has(r.out, "frames:        40 projections, ");
    has(r.out, "0 invalid (image_key 3)\n");
    has(r.out, "flats taken:   before the projections\n");
    has(r.out, "angles:        0 to 175.5 degrees (range 175.5), step 4.5 (uniform)\n");
    has(r.out, "normalized:    no (raw counts)\n");
    has(r.out, "checked row:   2 (flat mean ");
    has(r.out, "suspicious:    none\n");
    cr_assert_str_empty(r.err, "%s", r.err);

    tl_test_run(&r, "info --help");
    cr_assert_eq(r.exit_code, 0);
    has(r.out, "usage: tomoline info INPUT");
    has(r.out, "--data-path");
    has(r.out, "--flat-file-name");
    tl_test_run(&r, "info");
    cr_assert_eq(r.exit_code, 2);
    has(r.err, "tomoline: error: info needs one INPUT");
}

/* An NXtomo scan with things wrong that do not stop a reconstruction. */
Test(info, suspicious_scan)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/odd.nxs", tmpdir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    /* frames: dark, flat, 8 projections (one invalid frame among them) */
    const int keys[11] = {2, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0};
    /* projections at 0 10 10 20 15 40 50 60: a repeated angle, a step back, 60 degrees in all */
    const double angles[11] = {0, 0, 0, 10, 10, 99, 20, 15, 40, 50, 60};
    hsize_t dims[3] = {11, 4, 5}, n = 11;
    float pix[11 * 20];
    for (int i = 0; i < 11; i++)
        for (int k = 0; k < 20; k++)
            pix[i * 20 + k] = keys[i] == 2 ? 500.0f : keys[i] == 1 ? 300.0f : 200.0f; /* flats darker than darks */
    hid_t sp = H5Screate_simple(3, dims, NULL);
    hid_t d = H5Dcreate2(f, "/entry/instrument/detector/data", H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, pix);
    H5Dclose(d);
    H5Sclose(sp);
    sp = H5Screate_simple(1, &n, NULL);
    d = H5Dcreate2(f, "/entry/instrument/detector/image_key", H5T_STD_I32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, keys);
    H5Dclose(d);
    d = H5Dcreate2(f, "/entry/sample/rotation_angle", H5T_IEEE_F64LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, angles);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
    H5Fclose(f);

    tl_test_run_result r;
    tl_test_run(&r, "info '%s'", path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    has(r.out, "frames:        8 projections, 1 flats, 1 darks, 1 invalid (image_key 3)\n");
    has(r.out, "(not uniform)");
    has(r.out, "suspicious:\n");
    has(r.out, "  - angle steps are not uniform");
    has(r.out, "  - 1 projection repeats the previous angle (first: projection 2 at 10 degrees)");
    has(r.out, "  - angles are not monotonic: 1 step against the scan direction (first: projection 4, 20 -> 15 "
               "degrees)");
    has(r.out, "  - the angles span 60 degrees, neither about 180 nor about 360");
    has(r.out, "  - 1 frame marked invalid (image_key 3) is skipped");
    has(r.out, "  - only 1 flat-field frame: the flat mean will be noisy");
    has(r.out, "  - flats are not brighter than the darks on average in row 2 (flat 300, dark 500)");
}

static void write_tiff(const char *path, size_t rows, size_t cols, float value)
{
    TIFF *t = TIFFOpen(path, "w");
    cr_assert(t != NULL);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)cols);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)rows);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    uint16_t line[64];
    for (size_t c = 0; c < cols; c++)
        line[c] = (uint16_t)value;
    for (uint32_t r = 0; r < rows; r++)
        cr_assert(TIFFWriteScanline(t, line, r, 0) >= 0);
    TIFFClose(t);
}

Test(info, tiff_directory)
{
    char dir[4200], p[4400];
    snprintf(dir, sizeof dir, "%s/frames", tmpdir);
    mkdir(dir, 0755);
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/proj_%03d.tif", dir, i + 1);
        write_tiff(p, 6, 8, 600);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/flat_%d.tif", dir, i);
        write_tiff(p, 6, 8, 1000);
        snprintf(p, sizeof p, "%s/dark_%d.tif", dir, i);
        write_tiff(p, 6, 8, 100);
    }
    tl_test_run_result r;
    tl_test_run(&r, "info '%s' --start-angle 90 --angle-step 20", dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    has(r.out, "layout:        TIFF directory\n");
    has(r.out, "projections:   proj_001.tif .. proj_006.tif (6 files)\n");
    has(r.out, "flats from:    flat_0.tif .. flat_1.tif (2 files)\n");
    has(r.out, "frames:        6 projections, 2 flats, 2 darks, 0 invalid");
    has(r.out, "pixel type:    uint16\n");
    has(r.out, "angles from:   --start-angle 90 --angle-step 20\n");
    has(r.out, "angles:        90 to 190 degrees (range 100), step 20 (uniform)\n");
    has(r.out, "checked row:   3 (flat mean 1000, dark mean 100, projection mean 600)\n");
    has(r.out, "  - the angles span 100 degrees, neither about 180 nor about 360");

    /* a missing frame makes it unusable */
    snprintf(p, sizeof p, "%s/proj_004.tif", dir);
    cr_assert_eq(remove(p), 0);
    tl_test_run(&r, "info '%s'", dir);
    cr_assert_eq(r.exit_code, 1);
    has(r.err, "tomoline: error: TIFF directory '");
    has(r.err, "': projection frame 4 is missing (found 1..3 and 5..6)");
    cr_assert_str_empty(r.out);
}

static void shared_file(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", TL_TEST_SHARED_DATA, rel);
    cr_assert(tl_test_file_exists(buf), "shared test file %s is missing", buf);
}

Test(info, diamond_k11_with_options)
{
    char path[4200];
    shared_file(path, sizeof path, "diamond-k11/k11-18014.nxs");
    tl_test_run_result r;
    tl_test_run(&r,
                "info '%s' --data-path /entry/imaging/data --image-key-path /entry/instrument/imaging/image_key "
                "--angles-path k11-18014/k11-18014-pcompPanda.h5:/entry/gts_theta.value/gts_theta.value",
                path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    has(r.out, "layout:        named datasets\n");
    has(r.out, "projections:   /entry/imaging/data\n");
    has(r.out, "image keys:    /entry/instrument/imaging/image_key\n");
    has(r.out, "angles from:   k11-18014/k11-18014-pcompPanda.h5:/entry/gts_theta.value/gts_theta.value\n");
    has(r.out, "frame shape:   22 rows x 26 columns\n");
    has(r.out, "pixel type:    uint16\n");
    has(r.out, "frames:        3001 projections, 100 flats, 100 darks, 0 invalid (image_key 3)\n");
    has(r.out, "flats taken:   before and after the projections (50 + 50; interpolated linearly in frame index)\n");
    has(r.out, "(range 180");
    has(r.out, "(uniform)\n");
    has(r.out, "checked row:   11 (flat mean ");
    has(r.out, "suspicious:    none\n");

    /* the same file without options, and with a link to a file that is not there */
    tl_test_run(&r, "info '%s'", path);
    cr_assert_eq(r.exit_code, 1);
    has(r.err, "tomoline: error: '");
    has(r.err, "no tomography data found");
    has(r.err, "--data-path");
    tl_test_run(&r, "info '%s' --data-path /entry/instrument/EtherCAT/data --image-key-path "
                    "/entry/instrument/EtherCAT/image_key",
                path);
    cr_assert_eq(r.exit_code, 1);
    has(r.err, "cannot open dataset /entry/instrument/EtherCAT/data: it is an external link to /entry/detector/detector "
               "in 'k11-18014/k11-18014-EtherCAT.h5'");
    has(r.err, "does not exist");
}

Test(info, broken_files)
{
    char path[4200];
    tl_test_run_result r;
    snprintf(path, sizeof path, "%s/nothing.nxs", tmpdir);
    tl_test_run(&r, "info '%s'", path);
    cr_assert_eq(r.exit_code, 1);
    has(r.err, "tomoline: error: cannot open '");
    has(r.err, "No such file or directory");

    /* a scan without darks */
    snprintf(path, sizeof path, "%s/nodark.nxs", tmpdir);
    const double a[2] = {0, 90};
    tl_scan_desc desc = {.layout = TL_LAYOUT_NXTOMO, .pixel_type = TL_PIXEL_UINT16, .n_rows = 2, .n_cols = 3,
                         .n_proj = 2, .n_flat = 1, .angles_deg = a};
    tl_error err = {0};
    tl_scan_writer *w = NULL;
    cr_assert_eq(tl_scan_writer_create(path, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    tl_test_run(&r, "info '%s'", path);
    cr_assert_eq(r.exit_code, 1);
    has(r.err, "has no dark-field frames (image_key 2)");
    cr_assert_str_empty(r.out);

    /* I13: the data is an external link to a facility path */
    char i13[4200];
    shared_file(i13, sizeof i13, "diamond-i12/24888.nxs");
    tl_test_run(&r, "info '%s'", i13);
    cr_assert_eq(r.exit_code, 1);
    has(r.err, "NXtomo entry /entry1/tomo_entry (image_key: 91 projections, 10 flats, 10 darks)");
    has(r.err, "'/dls/i13/data/2014/mt9396-1/raw/pco1-24888.hdf'");

    /* I12: three files */
    char i12[4200];
    shared_file(i12, sizeof i12, "diamond-i12/pc2_projections.hdf");
    tl_test_run(&r, "info '%s' --flat-file-name pco2_flats_00000.hdf --dark-file-name pco2_darks_00000.hdf", i12);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    has(r.out, "layout:        projections file\n");
    has(r.out, "frames:        19 projections, 5 flats, 5 darks");
    has(r.out, "angles from:   --start-angle 0 --angle-step 9.47368 (180 / projections)\n");
}

Test(info, normalized_projections)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/li.nxs", tmpdir);
    double a[4] = {0, 45, 90, 135};
    tl_scan_desc desc = {.layout = TL_LAYOUT_NXTOMO, .pixel_type = TL_PIXEL_FLOAT32, .n_rows = 2, .n_cols = 3,
                         .n_proj = 4, .angles_deg = a, .content = "line_integrals"};
    tl_error err = {0};
    tl_scan_writer *w = NULL;
    cr_assert_eq(tl_scan_writer_create(path, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = 0.25f;
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, 4, 0, 2, v, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    tl_test_run_result r;
    tl_test_run(&r, "info '%s'", path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    has(r.out, "normalized:    yes: line integrals");
    has(r.out, "frames:        4 projections, 0 flats, 0 darks");
    has(r.out, "flats taken:   none\n");
    has(r.out, "checked row:   1 (projection mean 0.25)\n");
    lacks(r.out, "flat-field frame");
}
