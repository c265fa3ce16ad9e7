/* test_cli.c - the real `tomoline` executable end to end: help, version, sim ->
 * recon -> file, and every error case of issue 2 (message on stderr starting
 * with "tomoline: error:", non-zero exit, no crash, no output file left). */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan_write.h"
#include "support.h"
#include "volume.h"

static char dir[4096];

static void make_dir(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }

TestSuite(cli, .init = make_dir);

static void assert_failed_cleanly(const tl_test_run_result *r, const char *expect, const char *output)
{
    cr_assert_eq(r->signaled, 0, "the command crashed (exit %d): %s", r->exit_code, r->err);
    cr_assert_neq(r->exit_code, 0, "the command succeeded but should have failed");
    /* progress lines may precede it; the error is a line of its own */
    cr_assert(strncmp(r->err, "tomoline: error: ", 17) == 0 || strstr(r->err, "\ntomoline: error: "),
              "stderr has no line starting with 'tomoline: error: ': %s", r->err);
    cr_assert(strstr(r->err, expect), "stderr lacks '%s': %s", expect, r->err);
    cr_assert(!strstr(r->err, "HDF5-DIAG"), "HDF5 diagnostics leaked to stderr: %s", r->err);
    if (output) {
        char partial[4300];
        snprintf(partial, sizeof partial, "%s.partial", output);
        cr_assert(!tl_test_file_exists(output), "%s exists after a failure", output);
        cr_assert(!tl_test_file_exists(partial), "%s exists after a failure", partial);
    }
}

/* A small valid scan: 32 columns, 4 rows, 40 angles. */
static void make_scan(const char *path, const char *extra)
{
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 32 --angles 40 --slices 4 --quiet %s", path, extra ? extra : "");
    cr_assert_eq(r.exit_code, 0, "sim failed: %s", r.err);
}

Test(cli, version_and_help)
{
    tl_test_run_result r;
    tl_test_run(&r, "--version");
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "tomoline 0.1.0 (git "), "%s", r.out);
    cr_assert(strstr(r.out, "backends: cpu"), "%s", r.out);
    tl_test_run(&r, "--help");
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "recon") && strstr(r.out, "sim") && strstr(r.out, "demo"));
    const char *commands[] = {"recon", "sim", "demo"};
    for (int i = 0; i < 3; i++) {
        tl_test_run(&r, "%s --help", commands[i]);
        cr_assert_eq(r.exit_code, 0, "%s --help: %s", commands[i], r.err);
        cr_assert(strstr(r.out, "usage: tomoline "), "%s", r.out);
        cr_assert(strstr(r.out, "--threads"), "%s --help lacks --threads", commands[i]);
    }
    tl_test_run(&r, "recon --help");
    cr_assert(strstr(r.out, "--rotation-axis") && strstr(r.out, "--fbp-filter") && strstr(r.out, "--start-row") &&
              strstr(r.out, "--end-row") && strstr(r.out, "--dtype") && strstr(r.out, "--reconstruction-algorithm") &&
              strstr(r.out, "--remove-stripe-method") && strstr(r.out, "--out-path-name") &&
              strstr(r.out, "--backend") && strstr(r.out, "--config") && strstr(r.out, "Memory"));
    tl_test_run(&r, "frobnicate");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "tomoline: error: unknown command 'frobnicate'"));
}

Test(cli, sim_recon_end_to_end_writes_the_nexus_layout)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    make_scan(scan, "--axis-offset 2.5");
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --rotation-axis 18 --start-row 1 --end-row 3 --fbp-filter hann", scan, out);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "wrote"), "%s", r.out);
    cr_assert(tl_test_file_exists(out));

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    cr_assert_geq(d, 0);
    hid_t s = H5Dget_space(d);
    hsize_t dims[3];
    cr_assert_eq(H5Sget_simple_extent_ndims(s), 3);
    H5Sget_simple_extent_dims(s, dims, NULL);
    cr_assert(dims[0] == 2 && dims[1] == 32 && dims[2] == 32, "dims %llu %llu %llu", (unsigned long long)dims[0],
              (unsigned long long)dims[1], (unsigned long long)dims[2]);
    hid_t t = H5Dget_type(d);
    cr_assert_eq(H5Tget_class(t), H5T_FLOAT);
    cr_assert_eq(H5Tget_size(t), 4);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    const char *required[] = {"/entry/data/x", "/entry/data/y", "/entry/data/z", "/entry/process",
                              "/entry/process/parameters", "/entry/process/rotation_axis"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        cr_assert_gt(H5Lexists(f, required[i], H5P_DEFAULT), 0, "%s missing", required[i]);
    /* the effective parameters, defaults included, and the axis actually used */
    cr_assert_gt(H5Lexists(f, "/entry/process/parameters/fbp-filter", H5P_DEFAULT), 0);
    cr_assert_gt(H5Lexists(f, "/entry/process/parameters/nsino-per-chunk", H5P_DEFAULT), 0);
    double axis = 0;
    hid_t a = H5Dopen2(f, "/entry/process/rotation_axis", H5P_DEFAULT);
    H5Dread(a, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &axis);
    H5Dclose(a);
    cr_assert_float_eq(axis, 18.0, 1e-12);
    H5Fclose(f);

    /* an existing output is kept unless --overwrite */
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    cr_assert_neq(r.exit_code, 0);
    cr_assert(strstr(r.err, "already exists (use --overwrite to replace it)"), "%s", r.err);
    cr_assert(tl_test_file_exists(out));
    tl_test_run(&r, "recon '%s' -o '%s' --overwrite --dtype float16 --quiet", scan, out);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
}

Test(cli, config_file_sets_parameters_and_flags_override_it)
{
    char scan[4200], out[4200], conf[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    snprintf(conf, sizeof conf, "%s/run.conf", dir);
    make_scan(scan, "--layout dxchange");
    FILE *f = fopen(conf, "w");
    fprintf(f, "# test\n[recon]\nfbp-filter = parzen\nend-row = 2\n[output]\ndtype = float16\n");
    fclose(f);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --config '%s' --end-row 3", scan, out, conf);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "3 slices") && strstr(r.out, "float16") && strstr(r.out, "parzen"), "%s", r.out);
    snprintf(conf, sizeof conf, "%s/bad.conf", dir);
    f = fopen(conf, "w");
    fprintf(f, "[recon]\n\nfbp-filter = gauss\n");
    fclose(f);
    tl_test_run(&r, "recon '%s' -o '%s.2' --config '%s'", scan, out, conf);
    assert_failed_cleanly(&r, "bad.conf:3", NULL);
    cr_assert(strstr(r.err, "'gauss' is not one of ramp, shepp, cosine, hamming, hann, parzen"), "%s", r.err);
}

/* ---- error cases: the input ---------------------------------------------------------------- */

Test(cli, missing_file)
{
    char out[4200];
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s/nope.nxs' -o '%s'", dir, out);
    assert_failed_cleanly(&r, "nope.nxs", out);
}

Test(cli, not_hdf5)
{
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/notes.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    FILE *f = fopen(in, "w");
    fprintf(f, "this is not an HDF5 file\n");
    fclose(f);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s'", in, out);
    assert_failed_cleanly(&r, "is not an HDF5 file", out);
}

Test(cli, truncated_file)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    make_scan(scan, NULL);
    FILE *f = fopen(scan, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(scan, size / 2), 0);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "scan.nxs", out);
}

/* Open a valid NXtomo scan and change it with the HDF5 API. */
static hid_t open_rw(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    return f;
}

Test(cli, missing_data_and_missing_image_key)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    make_scan(scan, NULL);
    hid_t f = open_rw(scan);
    cr_assert_geq(H5Ldelete(f, "/entry/instrument/detector/image_key", H5P_DEFAULT), 0);
    H5Ldelete(f, "/entry/data/image_key", H5P_DEFAULT);
    H5Fclose(f);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "image_key", out);

    make_scan(scan, "--overwrite");
    f = open_rw(scan);
    cr_assert_geq(H5Ldelete(f, "/entry/instrument/detector/data", H5P_DEFAULT), 0);
    H5Ldelete(f, "/entry/data/data", H5P_DEFAULT);
    H5Fclose(f);
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "scan.nxs", out);
}

Test(cli, angle_count_that_does_not_match)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    make_scan(scan, "--layout dxchange");
    hid_t f = open_rw(scan);
    cr_assert_geq(H5Ldelete(f, "/exchange/theta", H5P_DEFAULT), 0);
    hsize_t n = 39;
    double theta[39] = {0};
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "/exchange/theta", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, theta);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "theta", out);
    cr_assert(strstr(r.err, "39") && strstr(r.err, "40"), "the message gives both counts: %s", r.err);
}

Test(cli, no_flats_and_no_darks)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    make_scan(scan, "--flats 0");
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "flat", out);
    make_scan(scan, "--darks 0 --overwrite");
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "dark", out);
}

/* A scan written through the library, with chosen flats, darks and pixels. */
static void write_custom_scan(const char *path, float flat_value, float dark_value, int nan_projection)
{
    enum { W = 16, R = 2, A = 8 };
    double angles[A];
    for (int i = 0; i < A; i++)
        angles[i] = 180.0 * i / A;
    tl_scan_desc d = {.layout = TL_LAYOUT_NXTOMO, .pixel_type = TL_PIXEL_FLOAT32, .n_rows = R, .n_cols = W,
                      .n_proj = A, .n_flat = 2, .n_dark = 2, .angles_deg = angles};
    tl_scan_writer *w = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_scan_writer_create(path, &d, 1, &w, &err), TL_OK, "%s", err.message);
    float frames[A * R * W];
    for (int i = 0; i < A * R * W; i++)
        frames[i] = flat_value;
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_FLAT, 0, 2, 0, R, frames, &err), TL_OK);
    for (int i = 0; i < A * R * W; i++)
        frames[i] = dark_value;
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_DARK, 0, 2, 0, R, frames, &err), TL_OK);
    for (int i = 0; i < A * R * W; i++)
        frames[i] = 0.5f * (flat_value + dark_value);
    if (nan_projection >= 0)
        frames[nan_projection * R * W + W + 3] = NAN;
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, A, 0, R, frames, &err), TL_OK);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
}

Test(cli, flats_not_brighter_than_darks)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    write_custom_scan(scan, 100.0f, 1000.0f, -1);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "flats are not brighter than darks", out);
}

Test(cli, nan_pixels)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    write_custom_scan(scan, 1000.0f, 100.0f, 5);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "projection 5 has a pixel that is not a finite number", out);
    cr_assert(strstr(r.err, "detector row 1, column 3"), "%s", r.err);
}

Test(cli, wrong_dimensions)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/flat.h5", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    hid_t f = H5Fcreate(scan, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(f, "/exchange", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hsize_t dims[2] = {10, 16};
    float data[160] = {0};
    hid_t s = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "/exchange/data", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s'", scan, out);
    assert_failed_cleanly(&r, "/exchange/data", out);
    cr_assert(strstr(r.err, "3"), "the message says what rank is expected: %s", r.err);
}

/* ---- error cases: the options -------------------------------------------------------------- */

Test(cli, bad_option_values)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    make_scan(scan, NULL);
    struct {
        const char *flags, *expect;
    } cases[] = {
        {"--rotation-axis abc", "--rotation-axis: 'abc' is not a number"},
        {"--rotation-axis 40", "--rotation-axis 40 is outside the detector (allowed: 0 to 31"},
        {"--rotation-axis -1", "--rotation-axis -1 is outside the detector"},
        {"--fbp-filter gauss", "--fbp-filter: 'gauss' is not one of ramp, shepp, cosine, hamming, hann, parzen"},
        {"--start-row 3 --end-row 2", "--end-row 2 is not after --start-row 3"},
        {"--start-row 9", "--start-row 9 is outside the detector (rows 0 to 3"},
        {"--end-row 7", "--end-row 7 is past the last detector row"},
        {"--threads -2", "--threads: '-2' is below the minimum 0"},
        {"--threads two", "--threads: 'two' is not an integer"},
        {"--dtype float64", "--dtype: 'float64' is not one of float32, float16"},
        {"--backend opencl", "--backend: 'opencl' is not one of auto, cpu, cuda"},
        {"--size 64", "--size is not an option of 'tomoline recon'"},
        {"--fbp-filtr ramp", "unknown option '--fbp-filtr'"},
        {"--nsino-per-chunk 0", "--nsino-per-chunk: '0' is below the minimum 1"},
        {"--fbp-filter", "--fbp-filter needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tl_test_run_result r;
        tl_test_run(&r, "recon '%s' -o '%s' %s", scan, out, cases[i].flags);
        assert_failed_cleanly(&r, cases[i].expect, out);
    }
#ifndef TOMOLINE_HAVE_CUDA
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --backend cuda", scan, out);
    assert_failed_cleanly(&r, "--backend cuda: this build has no CUDA backend", out);
#endif
}

Test(cli, demo_writes_recon_and_reports_accuracy, .timeout = 300)
{
    tl_test_run_result r;
    tl_test_run(&r, "demo -o '%s/demo' --size 64 --angles 90 --slices 2", dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char path[4300];
    snprintf(path, sizeof path, "%s/demo/recon.nxs", dir);
    cr_assert(tl_test_file_exists(path));
    cr_assert(strstr(r.out, "relative L2 error"), "%s", r.out);
    cr_assert(strstr(r.out, "recon.nxs"), "%s", r.out);
}
