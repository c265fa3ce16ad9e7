/* test_preview.c - PNG previews: the percentile contrast (against a sort), the
 * grey mapping, slices along z, y and x of NeXus and TIFF volumes decoded with
 * libpng, the PATH.partial protocol, and the `tomoline preview` command with its
 * error messages. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "png_write.h"
#include "preview.h"
#include "support.h"
#include "volume.h"

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

TestSuite(preview, .init = make_tmp, .fini = remove_tmp);

/* ---- helpers ----------------------------------------------------------------- */

typedef float (*voxel_fn)(size_t z, size_t y, size_t x);

static void write_volume(const char *path, int format, size_t nz, size_t ny, size_t nx, voxel_fn fn)
{
    tl_volume_desc desc = {.nz = nz, .ny = ny, .nx = nx, .format = format};
    tl_error err = {0};
    tl_volume_writer *w = NULL;
    cr_assert_eq(tl_volume_writer_create(path, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    float *v = malloc(nz * ny * nx * sizeof *v);
    for (size_t z = 0; z < nz; z++)
        for (size_t y = 0; y < ny; y++)
            for (size_t x = 0; x < nx; x++)
                v[(z * ny + y) * nx + x] = fn(z, y, x);
    cr_assert_eq(tl_volume_writer_write(w, 0, nz, v, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    free(v);
}

/* Decode an 8-bit grey PNG with libpng; caller frees. */
static unsigned char *read_png(const char *path, size_t *height, size_t *width)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    cr_assert(png_image_begin_read_from_file(&img, path), "%s: %s", path, img.message);
    cr_assert_eq(img.format, PNG_FORMAT_GRAY, "%s is not an 8-bit grey PNG (format %u)", path, img.format);
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(img));
    cr_assert(png_image_finish_read(&img, NULL, buf, 0, NULL), "%s: %s", path, img.message);
    *height = img.height;
    *width = img.width;
    png_image_free(&img);
    return buf;
}

static unsigned char grey_of(double v, double lo, double hi)
{
    double g = (v - lo) * 255.0 / (hi - lo);
    return g <= 0 ? 0 : g >= 255 ? 255 : (unsigned char)(g + 0.5);
}

/* ---- contrast ------------------------------------------------------------------ */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

Test(preview, range_matches_sorted_percentiles)
{
    srand(7);
    const size_t sizes[] = {1, 2, 3, 4, 5, 17, 100, 1000, 4097};
    const double clips[] = {0, 0.5, 1, 5, 25, 49.9};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        float *v = malloc(n * sizeof *v), *sorted = malloc(n * sizeof *sorted);
        for (int trial = 0; trial < 20; trial++) {
            for (size_t i = 0; i < n; i++) /* few distinct values: many ties */
                v[i] = (float)(rand() % (trial % 2 ? 7 : 1000)) - 3.0f;
            memcpy(sorted, v, n * sizeof *v);
            qsort(sorted, n, sizeof *sorted, cmp_float);
            for (size_t ci = 0; ci < sizeof clips / sizeof clips[0]; ci++) {
                double f = clips[ci] / 100.0, lo, hi;
                size_t k_lo = (size_t)floor(f * (double)(n - 1)), k_hi = (size_t)ceil((1 - f) * (double)(n - 1));
                size_t nf;
                tl_error err = {0};
                cr_assert_eq(tl_preview_range(v, n, clips[ci], &lo, &hi, &nf, &err), TL_OK, "%s", err.message);
                cr_assert_eq(nf, n);
                cr_assert_eq(lo, sorted[k_lo], "n %zu clip %g: lo %g, want %g", n, clips[ci], lo, sorted[k_lo]);
                cr_assert_eq(hi, sorted[k_hi], "n %zu clip %g: hi %g, want %g", n, clips[ci], hi, sorted[k_hi]);
            }
        }
        free(v);
        free(sorted);
    }
}

Test(preview, range_ignores_nan_and_infinities)
{
    float v[8] = {NAN, 2, INFINITY, 5, -INFINITY, 1, NAN, 3};
    double lo, hi;
    size_t nf;
    tl_error err = {0};
    cr_assert_eq(tl_preview_range(v, 8, 0, &lo, &hi, &nf, &err), TL_OK);
    cr_assert(nf == 4 && lo == 1 && hi == 5, "nf %zu lo %g hi %g", nf, lo, hi);
    float nan3[3] = {NAN, NAN, INFINITY};
    cr_assert_eq(tl_preview_range(nan3, 3, 1, &lo, &hi, &nf, &err), TL_OK);
    cr_assert(nf == 0 && isnan(lo) && isnan(hi));
    cr_assert_eq(tl_preview_range(v, 8, 50, &lo, &hi, &nf, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--clip-percent 50 is outside 0 to 50 (exclusive)");

    unsigned char g[8];
    tl_preview_to_gray8(v, 8, 1, 5, g);
    const unsigned char want[8] = {0, 64, 255, 255, 0, 0, 0, 128};
    cr_assert_eq(memcmp(g, want, 8), 0, "%u %u %u %u %u %u %u %u", g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
    /* A constant slice is mid grey; values beside it black or white. */
    float c[3] = {2, 1, 3};
    tl_preview_to_gray8(c, 3, 2, 2, g);
    cr_assert(g[0] == 128 && g[1] == 0 && g[2] == 255);
}

Test(preview, default_names)
{
    char buf[256];
    tl_preview_default_path("/data/scan_rec.nxs", 'z', 128, buf, sizeof buf);
    cr_assert_str_eq(buf, "/data/scan_rec_z0128.png");
    tl_preview_default_path("vol_tiff/", 'y', 7, buf, sizeof buf);
    cr_assert_str_eq(buf, "vol_tiff_y0007.png");
    tl_preview_default_path("/a.b/volume", 'x', 12345, buf, sizeof buf);
    cr_assert_str_eq(buf, "/a.b/volume_x12345.png");
    tl_preview_default_path("./.hidden", 'z', 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "./.hidden_z0000.png");
}

/* ---- slices of volumes ----------------------------------------------------------- */

enum { NZ = 6, NY = 20, NX = 30 };

/* Slice z = 2: left half 0, right half 10, with 3 hot pixels, one very cold
 * and one NaN. Other slices: z everywhere. */
static float two_level(size_t z, size_t y, size_t x)
{
    if (z != 2)
        return (float)z;
    if (y == 5 && x < 3)
        return 1e6f;
    if (y == 6 && x == 20)
        return -1e6f;
    if (y == 7 && x == 7)
        return NAN;
    return x < NX / 2 ? 0.0f : 10.0f;
}

Test(preview, z_slice_contrast_and_outliers)
{
    char vol[4200], png[4300];
    snprintf(vol, sizeof vol, "%s/vol.nxs", tmpdir);
    snprintf(png, sizeof png, "%s/z2.png", tmpdir);
    write_volume(vol, TL_VOLUME_NEXUS, NZ, NY, NX, two_level);
    tl_error err = {0};
    tl_preview_result res;
    /* 1% of 599 finite values is 6 at each end: more than the 4 outliers. */
    cr_assert_eq(tl_preview_volume_ex(vol, 'z', 2, 1.0, png, 0, &res, &err), TL_OK, "%s", err.message);
    cr_assert(res.lo == 0 && res.hi == 10 && res.index == 2 && res.n_along == NZ && res.n_finite == NY * NX - 1,
              "lo %g hi %g", res.lo, res.hi);
    cr_assert_str_eq(res.png_path, png);
    char partial[4400];
    snprintf(partial, sizeof partial, "%s.partial", png);
    cr_assert_not(tl_test_file_exists(partial));
    size_t h, w;
    unsigned char *g = read_png(png, &h, &w);
    cr_assert(h == NY && w == NX, "PNG %zu x %zu", h, w);
    for (size_t y = 0; y < NY; y++)
        for (size_t x = 0; x < NX; x++) {
            float v = two_level(2, y, x);
            unsigned char want = isnan(v) ? 0 : v <= 0 ? 0 : 255;
            cr_assert_eq(g[y * NX + x], want, "pixel (%zu, %zu) of value %g: grey %u", y, x, v, g[y * NX + x]);
        }
    free(g);

    /* Without clipping the hot pixels set the scale: the bright half goes dark. */
    snprintf(png, sizeof png, "%s/z2_noclip.png", tmpdir);
    cr_assert_eq(tl_preview_volume_ex(vol, 'z', 2, 0.0, png, 0, &res, &err), TL_OK, "%s", err.message);
    cr_assert(res.lo == -1e6 && res.hi == 1e6);
    g = read_png(png, &h, &w);
    cr_assert_eq(g[0], grey_of(0, -1e6, 1e6));
    cr_assert_eq(g[NX - 1], grey_of(10, -1e6, 1e6));
    cr_assert_eq(g[5 * NX], 255);
    free(g);
}

/* Every voxel tells where it is. */
static float where(size_t z, size_t y, size_t x)
{
    return (float)(z * 10000 + y * 100 + x);
}

static float depth(size_t z, size_t y, size_t x)
{
    (void)y;
    (void)x;
    return (float)z;
}

static void check_axis_slices(const char *vol)
{
    tl_error err = {0};
    /* Exact values through tl_volume_read_slice. */
    float *s = NULL;
    size_t r, c;
    cr_assert_eq(tl_volume_read_slice(vol, 'y', 13, &s, &r, &c, &err), TL_OK, "%s", err.message);
    cr_assert(r == NZ && c == NX, "y slice %zu x %zu", r, c);
    for (size_t z = 0; z < NZ; z++)
        for (size_t x = 0; x < NX; x++)
            cr_assert_eq(s[z * NX + x], where(z, 13, x));
    free(s);
    cr_assert_eq(tl_volume_read_slice(vol, 'x', 29, &s, &r, &c, &err), TL_OK, "%s", err.message);
    cr_assert(r == NZ && c == NY, "x slice %zu x %zu", r, c);
    for (size_t z = 0; z < NZ; z++)
        for (size_t y = 0; y < NY; y++)
            cr_assert_eq(s[z * NY + y], where(z, y, 29));
    free(s);
    cr_assert_eq(tl_volume_read_slice(vol, 'z', 4, &s, &r, &c, &err), TL_OK, "%s", err.message);
    cr_assert(r == NY && c == NX);
    for (size_t i = 0; i < NY * NX; i++)
        cr_assert_eq(s[i], where(4, i / NX, i % NX));
    free(s);
    cr_assert_eq(tl_volume_read_slice(vol, 'x', 30, &s, &r, &c, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "slice 30 along x is outside the volume (0 to 29)"), "%s", err.message);
}

static void check_axis_pngs(const char *vol, const char *tag)
{
    /* z down the rows, x (or y) across: with values = z, row z is grey z * 51. */
    const char axes[2] = {'y', 'x'};
    const size_t cols[2] = {NX, NY};
    for (int a = 0; a < 2; a++) {
        char png[4300];
        snprintf(png, sizeof png, "%s/%s_%c.png", tmpdir, tag, axes[a]);
        tl_error err = {0};
        tl_preview_result res;
        cr_assert_eq(tl_preview_volume_ex(vol, axes[a], -1, 0.0, png, 0, &res, &err), TL_OK, "%s", err.message);
        cr_assert_eq(res.index, (axes[a] == 'y' ? NY : NX) / 2, "central slice");
        size_t h, w;
        unsigned char *g = read_png(png, &h, &w);
        cr_assert(h == NZ && w == cols[a], "%c slice PNG %zu x %zu", axes[a], h, w);
        for (size_t z = 0; z < NZ; z++)
            for (size_t i = 0; i < w; i++)
                cr_assert_eq(g[z * w + i], (unsigned char)(z * 51), "%c slice row %zu: grey %u", axes[a], z,
                             g[z * w + i]);
        free(g);
    }
}

Test(preview, y_and_x_slices_nexus)
{
    char vol[4200], vol2[4200];
    snprintf(vol, sizeof vol, "%s/where.nxs", tmpdir);
    snprintf(vol2, sizeof vol2, "%s/depth.nxs", tmpdir);
    write_volume(vol, TL_VOLUME_NEXUS, NZ, NY, NX, where);
    write_volume(vol2, TL_VOLUME_NEXUS, NZ, NY, NX, depth);
    check_axis_slices(vol);
    check_axis_pngs(vol2, "nexus");
}

Test(preview, tiff_volume_slices_match_nexus)
{
    char vol[4200], vol2[4200], nx_vol[4200];
    snprintf(vol, sizeof vol, "%s/where_tiff", tmpdir);
    snprintf(vol2, sizeof vol2, "%s/depth_tiff", tmpdir);
    snprintf(nx_vol, sizeof nx_vol, "%s/two.nxs", tmpdir);
    write_volume(vol, TL_VOLUME_TIFF, NZ, NY, NX, where);
    write_volume(vol2, TL_VOLUME_TIFF, NZ, NY, NX, depth);
    check_axis_slices(vol);
    check_axis_pngs(vol2, "tiff");

    /* The same volume as NeXus and as TIFF gives the same PNG. */
    char tiff_vol[4200], p1[4300], p2[4300];
    snprintf(tiff_vol, sizeof tiff_vol, "%s/two_tiff", tmpdir);
    write_volume(nx_vol, TL_VOLUME_NEXUS, NZ, NY, NX, two_level);
    write_volume(tiff_vol, TL_VOLUME_TIFF, NZ, NY, NX, two_level);
    tl_error err = {0};
    cr_assert_eq(tl_preview_volume(nx_vol, 'z', 2, 0.5, NULL, 0, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_preview_volume(tiff_vol, 'z', 2, 0.5, NULL, 0, &err), TL_OK, "%s", err.message);
    snprintf(p1, sizeof p1, "%s/two_z0002.png", tmpdir);
    snprintf(p2, sizeof p2, "%s/two_tiff_z0002.png", tmpdir);
    size_t h1, w1, h2, w2;
    unsigned char *g1 = read_png(p1, &h1, &w1), *g2 = read_png(p2, &h2, &w2);
    cr_assert(h1 == h2 && w1 == w2 && memcmp(g1, g2, h1 * w1) == 0);
    free(g1);
    free(g2);
}

Test(preview, errors)
{
    char vol[4200], png[4300], msg[4600];
    snprintf(vol, sizeof vol, "%s/e.nxs", tmpdir);
    snprintf(png, sizeof png, "%s/e.png", tmpdir);
    write_volume(vol, TL_VOLUME_NEXUS, NZ, NY, NX, depth);
    tl_error err = {0};
    cr_assert_eq(tl_preview_volume(vol, 'z', 6, 0.5, png, 0, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--slice 6 is outside the volume (0 to 5 along z)");
    cr_assert_eq(tl_preview_volume(vol, 'x', 500, 0.5, png, 0, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--slice 500 is outside the volume (0 to 29 along x)");
    cr_assert_eq(tl_preview_volume(vol, 'q', 0, 0.5, png, 0, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--axis 'q' is not known (allowed: z, y, x)");
    cr_assert_not(tl_test_file_exists(png));

    FILE *f = fopen(png, "w");
    fputs("keep me", f);
    fclose(f);
    cr_assert_eq(tl_preview_volume(vol, 'z', 0, 0.5, png, 0, &err), TL_ERR_EXISTS);
    snprintf(msg, sizeof msg, "'%s' already exists (use --overwrite to replace it)", png);
    cr_assert_str_eq(err.message, msg);
    cr_assert_eq(tl_preview_volume(vol, 'z', 0, 0.5, png, 1, &err), TL_OK, "%s", err.message);
    size_t h, w;
    free(read_png(png, &h, &w));

    /* A PNG into a directory that does not exist: the partial file names it. */
    snprintf(png, sizeof png, "%s/no/such/dir/e.png", tmpdir);
    cr_assert_eq(tl_preview_volume(vol, 'z', 0, 0.5, png, 0, &err), TL_ERR_IO);
    cr_assert(strstr(err.message, "e.png.partial") && strstr(err.message, "No such file or directory"), "%s",
              err.message);

    unsigned char px[1] = {0};
    cr_assert_eq(tl_png_write_gray8(png, px, 0, 1, NULL, 0, &err), TL_ERR_INVALID);
}

/* ---- the command --------------------------------------------------------------- */

Test(preview, command_line)
{
    char vol[4200], png[4300], def[4300];
    snprintf(vol, sizeof vol, "%s/cli vol.nxs", tmpdir);
    snprintf(png, sizeof png, "%s/slice.png", tmpdir);
    write_volume(vol, TL_VOLUME_NEXUS, NZ, NY, NX, two_level);
    tl_test_run_result r;
    tl_test_run(&r, "preview '%s' -o '%s' --slice 2 --clip-percent 1", vol, png);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    char want[4600];
    snprintf(want, sizeof want,
             "tomoline preview: wrote %s: slice 2 of 6 along z (30 x 20 pixels); grey 0..255 = values 0 .. 10 (1%% "
             "clipped at each end)\n",
             png);
    cr_assert_str_eq(r.out, want);
    size_t h, w;
    unsigned char *g = read_png(png, &h, &w);
    cr_assert(h == NY && w == NX && g[0] == 0 && g[NX - 1] == 255);
    free(g);

    /* Default name and slice: the central one, beside the volume. */
    tl_test_run(&r, "preview '%s' --axis y", vol);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    snprintf(def, sizeof def, "%s/cli vol_y0010.png", tmpdir);
    cr_assert(tl_test_file_exists(def), "no %s; stdout: %s", def, r.out);
    cr_assert(strstr(r.out, "slice 10 of 20 along y (30 x 6 pixels)"), "%s", r.out);

    /* An existing PNG is kept without --overwrite. */
    tl_test_run(&r, "preview '%s' -o '%s' --slice 3", vol, png);
    cr_assert_eq(r.exit_code, 1);
    snprintf(want, sizeof want, "tomoline: error: '%s' already exists (use --overwrite to replace it)\n", png);
    cr_assert_str_eq(r.err, want);
    tl_test_run(&r, "preview '%s' -o '%s' --slice 3 --overwrite", vol, png);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);

    tl_test_run(&r, "preview '%s' -o '%s/x.png' --slice 500", vol, tmpdir);
    cr_assert_eq(r.exit_code, 2);
    cr_assert_str_eq(r.err, "tomoline: error: --slice 500 is outside the volume (0 to 5 along z)\n");

    tl_test_run(&r, "preview '%s/missing.nxs' -o '%s/x.png'", tmpdir, tmpdir);
    cr_assert_eq(r.exit_code, 1);
    snprintf(want, sizeof want, "tomoline: error: cannot open '%s/missing.nxs': No such file or directory\n", tmpdir);
    cr_assert_str_eq(r.err, want);

    tl_test_run(&r, "preview '%s' --axis w", vol);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--axis") && strstr(r.err, "z, y, x"), "%s", r.err);

    tl_test_run(&r, "preview");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "preview needs one VOLUME"), "%s", r.err);
    cr_assert_not(r.signaled);
}
