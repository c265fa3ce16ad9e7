/* test_try.c - `recon --reconstruction-type try` (cli/recon_try.c) and the
 * labelled montage it writes (io/montage.h): the font draws what it should,
 * tiles share one contrast, and on a simulated scan the trial slices, their
 * axes, the montage and the errors are what a user relies on. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "montage.h"
#include "support.h"
#include "volume.h"

/* ---- the font ------------------------------------------------------------ */

/* "12.5" as it must come out at scale 1: 4 glyphs of 5 x 7, one blank column between. */
static const char *const expect_12_5[7] = {
    "..#....###........#####",
    ".##...#...#.......#....",
    "..#.......#.......####.",
    "..#......#............#",
    "..#.....#.............#",
    "..#....#.....##...#...#",
    ".###..#####..##....###.",
};

Test(font, renders_12_5_pixel_for_pixel)
{
    size_t w = 0, h = 0;
    tl_font_text_size("12.5", 1, &w, &h);
    cr_assert_eq(w, 23, "4 glyphs of 5 columns and 3 blank columns: %zu", w);
    cr_assert_eq(h, 7);
    /* a margin of 1 around the text shows nothing is drawn outside it */
    unsigned char img[9][25];
    memset(img, 7, sizeof img);
    tl_font_draw(&img[0][0], 9, 25, 25, 1, 1, "12.5", 1, 200);
    for (size_t r = 0; r < 9; r++)
        for (size_t c = 0; c < 25; c++) {
            int ink = r >= 1 && r <= 7 && c >= 1 && c <= 23 && expect_12_5[r - 1][c - 1] == '#';
            cr_assert_eq(img[r][c], ink ? 200 : 7, "pixel row %zu column %zu", r, c);
        }
    /* the columns that tell the glyphs apart: '1' has its stem in column 2 on
     * every row, the blank columns between glyphs are empty, '.' is the two
     * bottom rows only */
    for (size_t r = 1; r <= 7; r++) {
        cr_assert_eq(img[r][1 + 2], 200, "stem of '1' at row %zu", r);
        cr_assert_eq(img[r][1 + 5], 7);
        cr_assert_eq(img[r][1 + 11], 7);
        cr_assert_eq(img[r][1 + 17], 7);
        cr_assert_eq(img[r][1 + 13], r >= 6 ? 200 : 7, "'.' at row %zu", r);
    }
}

Test(font, scales_every_pixel_to_a_block_and_clips)
{
    unsigned char one[7][23], three[21][69];
    memset(one, 0, sizeof one);
    memset(three, 0, sizeof three);
    tl_font_draw(&one[0][0], 7, 23, 23, 0, 0, "12.5", 1, 255);
    tl_font_draw(&three[0][0], 21, 69, 69, 0, 0, "12.5", 3, 255);
    size_t w, h;
    tl_font_text_size("12.5", 3, &w, &h);
    cr_assert_eq(w, 69);
    cr_assert_eq(h, 21);
    for (size_t r = 0; r < 21; r++)
        for (size_t c = 0; c < 69; c++)
            cr_assert_eq(three[r][c], one[r / 3][c / 3], "scale 3 pixel %zu,%zu", r, c);
    /* partly outside the image: clipped, the visible part unchanged */
    unsigned char part[7][10];
    memset(part, 0, sizeof part);
    tl_font_draw(&part[0][0], 7, 10, 10, -6, 0, "12.5", 1, 255);
    for (size_t r = 0; r < 7; r++)
        for (size_t c = 0; c < 10; c++)
            cr_assert_eq(part[r][c], one[r][c + 6]);
    tl_font_draw(&part[0][0], 7, 10, 10, -1000, -1000, "12.5", 2, 9); /* nothing visible, no crash */
    /* lower case is drawn as upper case; a character the font lacks is a box */
    unsigned char a1[7][5] = {{0}}, a2[7][5] = {{0}}, q[7][5] = {{0}};
    tl_font_draw(&a1[0][0], 7, 5, 5, 0, 0, "x", 1, 1);
    tl_font_draw(&a2[0][0], 7, 5, 5, 0, 0, "X", 1, 1);
    cr_assert_eq(memcmp(a1, a2, sizeof a1), 0);
    cr_assert(tl_font_has('x') && tl_font_has('.') && tl_font_has('-') && tl_font_has('+'));
    cr_assert(!tl_font_has('@'));
    tl_font_draw(&q[0][0], 7, 5, 5, 0, 0, "@", 1, 1);
    for (size_t r = 0; r < 7; r++)
        for (size_t c = 0; c < 5; c++)
            cr_assert_eq(q[r][c], (r == 0 || r == 6 || c == 0 || c == 4) ? 1 : 0);
}

/* ---- the montage --------------------------------------------------------- */

Test(montage, one_contrast_for_all_tiles_and_labels_in_the_band)
{
    /* 5 constant tiles of values 0..4: each stretched on its own they would all
     * be grey 128; with one range they step from black to white. */
    tl_montage_desc d = {.n_tiles = 5, .rows = 60, .cols = 96, .max_tile = 0, .columns = 3};
    tl_montage *m = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_montage_create(&d, &m, &err), TL_OK, "%s", err.message);
    float *slice = malloc(60 * 96 * sizeof *slice);
    for (int k = 0; k < 5; k++) {
        for (size_t i = 0; i < 60 * 96; i++)
            slice[i] = (float)k;
        char label[8];
        snprintf(label, sizeof label, "%d", k);
        cr_assert_eq(tl_montage_set_tile(m, (size_t)k, slice, label, &err), TL_OK, "%s", err.message);
    }
    free(slice);
    unsigned char *img = NULL;
    size_t h = 0, w = 0, tr, tc;
    double lo, hi;
    cr_assert_eq(tl_montage_render(m, 0.5, &img, &h, &w, &lo, &hi, &err), TL_OK, "%s", err.message);
    tl_montage_tile_size(m, &tr, &tc);
    cr_assert_eq(tr, 60);
    cr_assert_eq(tc, 96);
    cr_assert_float_eq(lo, 0.0, 1e-12);
    cr_assert_float_eq(hi, 4.0, 1e-12);
    /* the layout of montage.c: gaps of 4, a band of 11 x scale (scale 96 / 48 = 2) over each tile */
    const size_t gap = 4, band = 22;
    cr_assert_eq(w, 3 * 96 + 4 * gap);
    cr_assert_eq(h, 2 * (band + 60) + 3 * gap);
    size_t ms_h, ms_w;
    tl_montage_size(m, &ms_h, &ms_w);
    cr_assert_eq(ms_h, h);
    cr_assert_eq(ms_w, w);
    const unsigned char expect_grey[5] = {0, 64, 128, 191, 255}; /* k * 255 / 4, rounded */
    for (size_t k = 0; k < 5; k++) {
        size_t x0 = gap + (k % 3) * (96 + gap), y0 = gap + (k / 3) * (band + 60 + gap);
        for (size_t r = 0; r < 60; r++)
            for (size_t c = 0; c < 96; c++)
                cr_assert_eq(img[(y0 + band + r) * w + x0 + c], expect_grey[k], "tile %zu pixel %zu,%zu", k, r, c);
        /* the band: black, with the label in white at scale 2, centred, 4 pixels down */
        unsigned char expect_band[22 * 96];
        memset(expect_band, 0, sizeof expect_band);
        char label[8];
        snprintf(label, sizeof label, "%zu", k);
        tl_font_draw(expect_band, band, 96, 96, (96 - 10) / 2, 4, label, 2, 255);
        size_t ink = 0;
        for (size_t r = 0; r < band; r++)
            for (size_t c = 0; c < 96; c++) {
                cr_assert_eq(img[(y0 + r) * w + x0 + c], expect_band[r * 96 + c], "band of tile %zu at %zu,%zu", k,
                             r, c);
                ink += expect_band[r * 96 + c] == 255;
            }
        cr_assert_gt(ink, 20, "the label of tile %zu is drawn", k);
    }
    free(img);
    tl_montage_destroy(&m);
    cr_assert_null(m);
    tl_montage_destroy(&m); /* NULL is fine */
}

Test(montage, large_slices_are_box_averaged_and_every_tile_is_needed)
{
    /* 300 x 200 with tiles of at most 128: boxes of 3 -> 100 x 67 (the last column of boxes is partial) */
    tl_montage_desc d = {.n_tiles = 2, .rows = 300, .cols = 200, .max_tile = 128};
    tl_montage *m = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_montage_create(&d, &m, &err), TL_OK, "%s", err.message);
    size_t tr, tc;
    tl_montage_tile_size(m, &tr, &tc);
    cr_assert_eq(tr, 100);
    cr_assert_eq(tc, 67);
    float *slice = calloc(300 * 200, sizeof *slice);
    for (size_t r = 0; r < 3; r++)
        for (size_t c = 0; c < 3; c++)
            slice[r * 200 + c] = 9.0f; /* exactly one box */
    slice[299 * 200 + 199] = 3.0f;     /* the corner box has 3 x 2 pixels: mean 0.5 */
    cr_assert_eq(tl_montage_set_tile(m, 0, slice, "", &err), TL_OK);
    unsigned char *img = NULL;
    size_t h, w;
    double lo, hi;
    cr_assert_neq(tl_montage_render(m, 0.0, &img, &h, &w, &lo, &hi, &err), TL_OK, "tile 1 was never given");
    cr_assert(strstr(err.message, "tile 1"), "%s", err.message);
    memset(slice, 0, 300 * 200 * sizeof *slice);
    cr_assert_eq(tl_montage_set_tile(m, 1, slice, NULL, &err), TL_OK);
    cr_assert_neq(tl_montage_set_tile(m, 2, slice, NULL, &err), TL_OK, "only 2 tiles");
    free(slice);
    cr_assert_eq(tl_montage_render(m, 0.0, &img, &h, &w, &lo, &hi, &err), TL_OK, "%s", err.message);
    cr_assert_float_eq(hi, 9.0, 1e-6);
    /* no labels: no band; columns = ceil(sqrt(2)) = 2 */
    cr_assert_eq(w, 2 * 67 + 3 * 4);
    cr_assert_eq(h, 100 + 2 * 4);
    cr_assert_eq(img[4 * w + 4], 255, "the bright box");
    cr_assert_eq(img[4 * w + 5], 0);
    cr_assert_eq(img[(4 + 99) * w + 4 + 66], 14, "corner box mean 0.5 -> 0.5 * 255 / 9, rounded");
    free(img);
    tl_montage_destroy(&m);
}

/* ---- try mode on a simulated scan ----------------------------------------- */

static char dir[4096], scan[4200], truth[4200];

/* 128 x 128, 180 angles, 4 rows, axis at (127)/2 + 3.5 = 67.0 */
static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(truth, sizeof truth, "%s/scan_truth.nxs", dir);
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 128 --angles 180 --slices 4 --axis-offset 3.5 --quiet", scan);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "rotation axis at column 67.00"), "%s", r.out);
}
TestSuite(try_mode, .init = setup);

/* Width and height from the IHDR chunk, which a PNG must start with. */
static void png_size(const char *path, uint32_t *w, uint32_t *h, int *depth, int *color)
{
    unsigned char b[26];
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fread(b, 1, sizeof b, f), sizeof b);
    fclose(f);
    cr_assert_eq(memcmp(b, "\x89PNG\r\n\x1a\n", 8), 0, "PNG signature");
    cr_assert_eq(memcmp(b + 12, "IHDR", 4), 0);
    *w = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    *h = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    *depth = b[24];
    *color = b[25];
}

static void read_doubles(const char *file, const char *path, double *v, size_t n, char *units, size_t usize)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s missing", path);
    hid_t s = H5Dget_space(d);
    cr_assert_eq(H5Sget_simple_extent_npoints(s), (hssize_t)n);
    H5Sclose(s);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    hid_t a = H5Aopen(d, "units", H5P_DEFAULT);
    cr_assert_geq(a, 0, "%s has no units", path);
    hid_t t = H5Aget_type(a);
    char *u = NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    cr_assert_geq(H5Aread(a, mt, &u), 0);
    snprintf(units, usize, "%s", u);
    H5free_memory(u);
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
    H5Dclose(d);
    cr_assert_eq(H5Lexists(f, "/entry/data/z", H5P_DEFAULT), 0, "the detector-row z axis is replaced");
    H5Fclose(f);
}

Test(try_mode, slices_at_each_axis_the_true_one_sharpest)
{
    char out[4300], png[4300];
    snprintf(out, sizeof out, "%s/try.nxs", dir);
    snprintf(png, sizeof png, "%s/try_try.png", dir);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --reconstruction-type try --rotation-axis 67 --center-search-width 3 "
                    "--center-search-step 0.5 --threads 2",
                scan, out);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* the middle row of 0..3 (as recon's central slice), said on stdout and in the log */
    cr_assert(strstr(r.out, "row 2 (the middle of rows 0..3), 13 trial axes around 67.0"), "%s", r.out);
    cr_assert(strstr(r.err, "row 2 (the middle of rows 0..3)"), "%s", r.err);
    for (int i = 0; i < 13; i++) {
        char line[64];
        snprintf(line, sizeof line, "\n  %d axis %.1f\n", i, 64.0 + 0.5 * i);
        cr_assert(strstr(r.out, line), "no line '%s' in %s", line + 1, r.out);
    }
    cr_assert(strstr(r.out, png), "the montage path is printed: %s", r.out);
    cr_assert(strstr(r.out, out));

    size_t nz, ny, nx;
    tl_error err = {0};
    cr_assert_eq(tl_volume_probe(out, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert_eq(nz, 13);
    cr_assert_eq(ny, 128);
    cr_assert_eq(nx, 128);
    double axes[13];
    char units[32];
    read_doubles(out, "/entry/data/rotation_axis", axes, 13, units, sizeof units);
    for (int i = 0; i < 13; i++)
        cr_assert_eq(axes[i], 64.0 + 0.5 * i, "axis %d is %.17g", i, axes[i]);
    cr_assert_str_eq(units, "pixel");

    /* the slice at the true axis (67.0, index 6) is the closest to the truth */
    float *vol = NULL, *t = NULL;
    size_t tr, tc;
    cr_assert_eq(tl_volume_read(out, &vol, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_read_slice(truth, 'z', 2, &t, &tr, &tc, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tr, 128);
    double e[13];
    size_t best_e = 0;
    for (size_t i = 0; i < 13; i++) {
        e[i] = tl_test_rel_l2_disk(vol + i * 128 * 128, t, 128, 60.0);
        if (e[i] < e[best_e])
            best_e = i;
    }
    cr_log_info("relative L2 error by axis: %.3f %.3f %.3f %.3f %.3f %.3f [%.3f] %.3f %.3f %.3f %.3f %.3f %.3f", e[0],
                e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9], e[10], e[11], e[12]);
    cr_assert_eq(best_e, 6, "least error at axis %.1f", axes[best_e]);
    /* and the error grows away from the true axis on both sides */
    for (size_t i = 0; i < 6; i++)
        cr_assert_gt(e[i], e[i + 1], "error at %.1f vs %.1f", axes[i], axes[i + 1]);
    for (size_t i = 6; i < 12; i++)
        cr_assert_lt(e[i], e[i + 1], "error at %.1f vs %.1f", axes[i], axes[i + 1]);
    cr_assert_lt(e[6], 0.25, "the slice at the true axis is a good reconstruction: %.3f", e[6]);
    free(vol);
    free(t);

    /* the montage: 13 tiles of 128 in 4 columns and 4 rows, a label band of 22 over each, gaps of 4 */
    uint32_t w, h;
    int depth, color;
    png_size(png, &w, &h, &depth, &color);
    cr_assert_eq(w, 4 * 128 + 5 * 4);
    cr_assert_eq(h, 4 * (22 + 128) + 5 * 4);
    cr_assert_eq(depth, 8);
    cr_assert_eq(color, 0, "grey");
    char partial[4400];
    snprintf(partial, sizeof partial, "%s.partial", out);
    cr_assert(!tl_test_file_exists(partial));
}

Test(try_mode, too_many_trials_is_refused_before_any_work)
{
    char out[4300], png[4300];
    snprintf(out, sizeof out, "%s/many.nxs", dir);
    snprintf(png, sizeof png, "%s/many_try.png", dir);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --reconstruction-type try --rotation-axis 67 --center-search-width 600 "
                    "--center-search-step 0.5",
                scan, out);
    cr_assert_eq(r.exit_code, 2, "a usage error: %d %s", r.exit_code, r.err);
    cr_assert_str_eq(r.err, "tomoline: error: --center-search-width 600 and --center-search-step 0.5 give 2401 trial "
                            "axes; at most 1001 are allowed (raise --center-search-step or lower "
                            "--center-search-width)\n");
    cr_assert(!tl_test_file_exists(out) && !tl_test_file_exists(png));
    /* 1001 exactly is allowed; axes off the detector are dropped (64 + 250 * 0.5 > 127) */
    tl_test_run(&r, "recon '%s' -o '%s' --reconstruction-type try --rotation-axis 67 --center-search-width 250 "
                    "--center-search-step 0.5 --quiet",
                scan, out);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "255 trial axes around 67.0"), "0 to 127 in steps of 0.5: %s", r.out);
    cr_assert(strstr(r.out, "\n  0 axis 0.0\n") && strstr(r.out, "\n  254 axis 127.0\n"), "%s", r.out);
}

Test(try_mode, existing_outputs_are_refused_and_failures_leave_nothing)
{
    char out[4300], png[4300];
    snprintf(out, sizeof out, "%s/again.nxs", dir);
    snprintf(png, sizeof png, "%s/again_try.png", dir);
    const char *opts = "--reconstruction-type try --rotation-axis 67 --center-search-width 1 --center-search-step 1 "
                       "--quiet";
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' %s", scan, out, opts);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    struct stat before, after;
    cr_assert_eq(stat(out, &before), 0);
    tl_test_run(&r, "recon '%s' -o '%s' %s", scan, out, opts);
    cr_assert_eq(r.exit_code, 1);
    char expect[9000];
    snprintf(expect, sizeof expect, "tomoline: error: '%s' already exists (use --overwrite to replace it)\n", out);
    cr_assert_str_eq(r.err, expect);
    cr_assert_eq(stat(out, &after), 0);
    cr_assert_eq(before.st_mtime, after.st_mtime);
    cr_assert_eq(before.st_size, after.st_size);

    /* the montage alone is protected too */
    cr_assert_eq(remove(out), 0);
    tl_test_run(&r, "recon '%s' -o '%s' %s", scan, out, opts);
    cr_assert_eq(r.exit_code, 1);
    snprintf(expect, sizeof expect, "tomoline: error: '%s' already exists (use --overwrite to replace it)\n", png);
    cr_assert_str_eq(r.err, expect);
    cr_assert(!tl_test_file_exists(out), "nothing written");

    /* --overwrite replaces; when the montage cannot be written (a directory is
     * in its way) the volume is not left behind either */
    tl_test_run(&r, "recon '%s' -o '%s' %s --overwrite", scan, out, opts);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(tl_test_file_exists(out) && tl_test_file_exists(png));
    cr_assert_eq(remove(out), 0);
    cr_assert_eq(remove(png), 0);
    cr_assert_eq(mkdir(png, 0755), 0);
    char inside[4400];
    snprintf(inside, sizeof inside, "%s/keep", png);
    FILE *f = fopen(inside, "w");
    cr_assert_not_null(f);
    fclose(f);
    tl_test_run(&r, "recon '%s' -o '%s' %s --overwrite", scan, out, opts);
    cr_assert_neq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.err, "tomoline: error: "), "%s", r.err);
    char partial[4400];
    snprintf(partial, sizeof partial, "%s.partial", out);
    cr_assert(!tl_test_file_exists(out) && !tl_test_file_exists(partial), "no volume without its montage");
    cr_assert(tl_test_file_exists(inside), "the directory in the way is untouched");
}

Test(try_mode, tiff_stack_and_axes_in_the_provenance)
{
    char out[4300], png[4300];
    snprintf(out, sizeof out, "%s/trytif", dir);
    snprintf(png, sizeof png, "%s/trytif_try.png", dir);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --save-format tiff --reconstruction-type try --rotation-axis center "
                    "--center-search-width 1 --center-search-step 0.25 --start-row 1 --end-row 4 --quiet",
                scan, out);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    size_t nz, ny, nx;
    tl_error err = {0};
    cr_assert_eq(tl_volume_probe(out, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert_eq(nz, 9);
    cr_assert(strstr(r.out, "row 2 (the middle of rows 1..3), 9 trial axes around 63.50"), "%s", r.out);
    cr_assert(strstr(r.out, "\n  0 axis 62.50\n") && strstr(r.out, "\n  8 axis 64.50\n"), "%s", r.out);
    cr_assert(tl_test_file_exists(png));
    char prov[4400], text[8192] = "";
    snprintf(prov, sizeof prov, "%s/provenance.txt", out);
    FILE *f = fopen(prov, "r");
    cr_assert_not_null(f);
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    cr_assert(strstr(text, "try mode: row 2, slice z reconstructed at axis 62.5 + 0.25 z (z = 0..8)"), "%s", text);
}

Test(try_mode, dataset_1d_is_refused_where_it_cannot_go)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/v.nxs", dir);
    tl_volume_desc d = {.nz = 3, .ny = 4, .nx = 4};
    tl_volume_writer *w = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_volume_writer_create(path, &d, 0, &w, &err), TL_OK, "%s", err.message);
    const double v[3] = {1, 2, 3};
    cr_assert_eq(tl_volume_writer_add_dataset_1d(w, "axis", v, 2, "pixel", 1, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "2 values, the volume 3 slices"), "%s", err.message);
    cr_assert_eq(tl_volume_writer_add_dataset_1d(w, "z", v, 3, "pixel", 0, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_volume_writer_add_dataset_1d(w, "a/b", v, 3, NULL, 0, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_volume_writer_add_dataset_1d(w, "energy", v, 2, NULL, 0, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_add_dataset_1d(w, "energy", v, 2, NULL, 0, &err), TL_ERR_INVALID, "twice");
    tl_volume_writer_abort(&w);

    snprintf(path, sizeof path, "%s/vtif", dir);
    d.format = TL_VOLUME_TIFF;
    cr_assert_eq(tl_volume_writer_create(path, &d, 0, &w, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_add_dataset_1d(w, "axis", v, 3, "pixel", 1, &err), TL_ERR_UNSUPPORTED);
    tl_volume_writer_abort(&w);
    cr_assert(!tl_test_file_exists(path));
}
