/* test_double_fov.c - 360-degree offset-axis scans, --file-type double_fov
 * (issue 10, item 1; kernels/stitch.h).
 *
 * The stitch itself: exact layouts (width, axis, overlap) for axes near either
 * edge, the value of every stitched pixel across the overlap against the
 * weights' formula (they sum to 1), consistent synthetic sinograms reproduced
 * exactly, angle pairing (exact, interpolated, across 360 degrees) and the
 * refusal of 180-degree scans. The axis search on exact phantom projections
 * finds the simulated axis within 0.5 px (measured: a few hundredths). End to
 * end: a simulated 360-degree offset-axis scan (tomoline sim --double-fov)
 * reconstructed through the CLI has a relative L2 error within 1.2x of a
 * full-field 180-degree scan of the same phantom on a detector as wide as the
 * stitched sinogram (measured ratios are printed), `cor` finds the axis near
 * the edge, `sino` + `fbp` give the same volume, and bad option values get
 * exact messages and leave no output.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5_util.h"
#include "sim.h"
#include "stitch.h"
#include "support.h"
#include "volume.h"
#include "workers.h"

#define PI 3.14159265358979323846

static char dir[4096];

static void make_tmp(void)
{
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void remove_tmp(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(stitch, .init = make_tmp, .fini = remove_tmp);
TestSuite(double_fov, .init = make_tmp, .fini = remove_tmp, .timeout = 240);

/* ---- layout ------------------------------------------------------------------------------ */

Test(stitch, layout_is_exact_for_both_edges)
{
    static const struct {
        size_t w;
        double axis;
        tl_stitch_side side;
        size_t shift, width;
        double axis_stitched, overlap;
    } cases[] = {
        {256, 17.5, TL_STITCH_LEFT, 220, 476, 237.5, 35.0},   /* 2W - (2a + 1) */
        {256, 237.5, TL_STITCH_RIGHT, 0, 476, 237.5, 35.0},  /* the mirror image */
        {256, 20.0, TL_STITCH_LEFT, 215, 471, 235.0, 40.0},
        {256, 20.2, TL_STITCH_LEFT, 215, 471, 235.2, 40.4},  /* round(255 - 40.4) */
        {256, 20.4, TL_STITCH_LEFT, 214, 470, 234.4, 40.8},  /* round(214.2) */
        {128, 10.5, TL_STITCH_LEFT, 106, 234, 116.5, 21.0},
        {128, 115.6, TL_STITCH_RIGHT, 0, 232, 115.6, 22.8},  /* 128 + round(104.2) */
        {256, 1.0, TL_STITCH_LEFT, 253, 509, 254.0, 2.0},    /* the smallest overlap allowed */
        {256, 85.0, TL_STITCH_LEFT, 85, 341, 170.0, 170.0},  /* a third of the width */
        {256, 170.0, TL_STITCH_RIGHT, 0, 341, 170.0, 170.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tl_stitch_layout L;
        tl_error err = {0};
        cr_assert_eq(tl_stitch_layout_for(cases[i].w, cases[i].axis, &L, &err), TL_OK, "%s", err.message);
        cr_expect_eq(L.side, cases[i].side, "case %zu", i);
        cr_expect_eq(L.shift, cases[i].shift, "case %zu: shift %zu", i, L.shift);
        cr_expect_eq(L.width, cases[i].width, "case %zu: width %zu", i, L.width);
        cr_expect_float_eq(L.axis_stitched, cases[i].axis_stitched, 1e-9, "case %zu: axis %g", i, L.axis_stitched);
        cr_expect_float_eq(L.overlap, cases[i].overlap, 1e-9, "case %zu: overlap %g", i, L.overlap);
        /* the stitched axis is within half a pixel of the stitched sinogram's centre */
        cr_expect_leq(fabs(L.axis_stitched - 0.5 * ((double)L.width - 1.0)), 0.5, "case %zu", i);
    }
}

Test(stitch, layout_refuses_an_axis_far_from_the_edges)
{
    tl_stitch_layout L;
    tl_error err = {0};
    cr_assert_eq(tl_stitch_layout_for(256, 127.5, &L, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message,
                     "the axis at column 127.5 is not near an edge of the detector: a 360-degree offset-axis scan "
                     "needs it within a third of the width of one edge (allowed: 1 to 85 or 170 to 254 on the "
                     "256-pixel-wide detector; the centre is 127.5)");
    cr_assert_eq(tl_stitch_layout_for(256, 85.5, &L, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_stitch_layout_for(256, 0.5, &L, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_stitch_layout_for(256, 254.5, &L, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_stitch_layout_for(256, NAN, &L, &err), TL_ERR_INVALID);
}

/* ---- stitching values -------------------------------------------------------------------- */

static double *even_angles(size_t n, double arc, double first)
{
    double *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = first + arc * (double)i / (double)n;
    return a;
}

/* Raw values that a consistent scan could not have (each angle and column its
 * own number), so each output pixel shows which inputs it mixed and how. */
Test(stitch, every_value_across_the_overlap_follows_the_weights)
{
    const size_t w = 16, n = 8;
    const double a = 3.5;
    double *angles = even_angles(n, 360.0, 0.0);
    float raw[8][16];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < w; j++)
            raw[i][j] = (float)(100.0 * (double)i + (double)j);
    tl_stitch_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_stitch_plan_create(w, a, angles, n, 1, &plan, &err), TL_OK, "%s", err.message);
    const tl_stitch_layout *L = tl_stitch_plan_layout(plan);
    cr_assert_eq(L->width, 24);
    cr_assert_eq(L->shift, 8);
    cr_assert_float_eq(L->axis_stitched, 11.5, 1e-12);
    const tl_stitch_pairs *pr = tl_stitch_plan_pairs(plan);
    cr_assert_eq(pr->n, 4);
    cr_assert_eq(pr->n_exact, 4);
    float out[4][24];
    tl_stitch_exec(plan, 0, &raw[0][0], w, &out[0][0], 24);
    /* the overlap is stitched columns 8..15 (direct raw columns 0..7, mirrored raw columns 7..0) */
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(pr->direct[i], i);
        cr_assert_float_eq(pr->angles_deg[i], 45.0 * (double)i, 1e-12);
        cr_assert_eq(pr->partner_lo[i], i + 4);
        for (size_t k = 0; k < 24; k++) {
            double t = ((double)k - 8.0) / 7.0;
            double wd = k <= 8 ? 0.0 : k >= 15 ? 1.0 : 0.5 - 0.5 * cos(PI * t);
            double direct = k >= 8 ? raw[i][k - 8] : 0.0;
            double mirrored = k <= 15 ? raw[i + 4][15 - k] : 0.0;
            double want = wd * direct + (1.0 - wd) * mirrored;
            cr_expect_float_eq(out[i][k], want, 1e-3, "angle %zu column %zu: %g, want %g", i, k, out[i][k], want);
            cr_expect_float_eq(tl_stitch_plan_weight(plan, k), wd, 1e-6, "weight of column %zu", k);
        }
        /* outside the overlap one half alone */
        cr_expect_eq(out[i][0], raw[i + 4][15]);
        cr_expect_eq(out[i][7], raw[i + 4][8]);
        cr_expect_eq(out[i][15], raw[i][7]);
        cr_expect_eq(out[i][23], raw[i][15]);
    }
    /* the weights rise monotonically from 0 to 1 across the overlap */
    for (size_t k = 1; k < 24; k++)
        cr_expect_geq(tl_stitch_plan_weight(plan, k), tl_stitch_plan_weight(plan, k - 1));
    tl_stitch_plan_destroy(&plan);
    cr_assert_null(plan);
    free(angles);
}

/* A consistent 360-degree sinogram, g(s, theta + 180) = g(-s, theta): the
 * stitched sinogram must be g on the stitched grid, whatever the weights (they
 * sum to 1), on both edges. With 2a an integer no column is resampled: any g
 * (here quadratic in s) comes back to float rounding. Otherwise the mirrored
 * half is shifted in Fourier space: exact for band-limited lines, so g is a
 * slow sinusoid in s there (values 1 to 11), checked to 3e-3 away from the
 * detector's edges and to 5e-2 within 8 columns of them, where the periodic
 * padding shows (measured: 1.6e-3 and 1.7e-2). */
static double consistent(double s, double theta_deg, int quadratic)
{
    double t = theta_deg * PI / 180.0;
    if (!quadratic)
        return 5.0 + 3.0 * sin(2.0 * t) + 2.0 * cos(t) * sin(2.0 * PI * s / 40.0) + cos(2.0 * PI * s / 50.0);
    return s * cos(t) + 3.0 * sin(2.0 * t) + 5.0 + 0.01 * s * s;
}

static void check_consistent(size_t w, double a, int quadratic)
{
    const size_t n = 36;
    double *angles = even_angles(n, 360.0, 2.5);
    float *raw = malloc(n * w * sizeof *raw);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < w; j++)
            raw[i * w + j] = (float)consistent((double)j - a, angles[i], quadratic);
    tl_stitch_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_stitch_plan_create(w, a, angles, n, 1, &plan, &err), TL_OK, "%s", err.message);
    const tl_stitch_layout *L = tl_stitch_plan_layout(plan);
    const tl_stitch_pairs *pr = tl_stitch_plan_pairs(plan);
    cr_assert_eq(pr->n, n / 2);
    size_t stride = L->width + 3; /* padded lines, as the FBP plan asks */
    float *out = malloc(pr->n * stride * sizeof *out);
    tl_stitch_exec(plan, 0, raw, w, out, stride);
    /* s covered by the direct half [-a, W-1-a] or the mirrored one [a-(W-1), a]; the
     * outermost column may lie up to half a pixel beyond (it takes the edge value) */
    const double s_lo = fmin(-a, a - ((double)w - 1.0)), s_hi = fmax((double)w - 1.0 - a, a);
    double worst = 0.0, worst_edge = 0.0;
    size_t checked = 0;
    for (size_t i = 0; i < pr->n; i++)
        for (size_t k = 0; k < L->width; k++) {
            double s = (double)k - L->axis_stitched;
            if (s < s_lo - 1e-9 || s > s_hi + 1e-9)
                continue;
            double d = fabs(out[i * stride + k] - consistent(s, pr->angles_deg[i], quadratic));
            /* the mirrored column read here, and its weight */
            double jm = 2.0 * a + (double)L->shift - (double)k, wm = 1.0 - tl_stitch_plan_weight(plan, k);
            int near_edge = wm > 0.0 && (jm < 8.0 || jm > (double)w - 9.0);
            if (near_edge && !quadratic)
                worst_edge = d > worst_edge ? d : worst_edge;
            else
                worst = d > worst ? d : worst;
            checked++;
        }
    cr_expect_geq(checked, pr->n * (L->width - 1));
    printf("stitch of a consistent sinogram, W %zu, axis %g (%s): worst difference %.2e (%.2e near the edges)\n", w,
           a, quadratic ? "columns copied" : "Fourier shift", worst, worst_edge);
    cr_expect_leq(worst, quadratic ? 2e-4 : 3e-3, "W %zu axis %g: worst difference %g", w, a, worst);
    cr_expect_leq(worst_edge, 5e-2, "W %zu axis %g: worst difference near the edges %g", w, a, worst_edge);
    tl_stitch_plan_destroy(&plan);
    free(out);
    free(raw);
    free(angles);
}

Test(stitch, a_consistent_sinogram_is_reproduced)
{
    check_consistent(64, 9.5, 1);   /* left, 2a integer: no interpolation */
    check_consistent(64, 53.5, 1);  /* right */
    check_consistent(64, 12.0, 1);
    check_consistent(64, 9.3, 0);   /* left, mirrored half interpolated */
    check_consistent(64, 50.85, 0); /* right */
}

/* ---- angle pairs ------------------------------------------------------------------------- */

Test(stitch, pairs_exact_interpolated_and_across_360)
{
    /* first half turn 0, 2, ..., 178; second half 181, 183, ..., 359 */
    double angles[180];
    for (size_t i = 0; i < 90; i++) {
        angles[i] = 2.0 * (double)i;
        angles[90 + i] = 181.0 + 2.0 * (double)i;
    }
    tl_stitch_pairs pr;
    tl_error err = {0};
    cr_assert_eq(tl_stitch_pairs_create(angles, 180, &pr, &err), TL_OK, "%s", err.message);
    cr_assert_eq(pr.n, 90);
    cr_assert_eq(pr.n_exact, 0);
    /* 0 -> 180: between 178 (index 89) and 181 (index 90), 2/3 of the way */
    cr_expect_eq(pr.partner_lo[0], 89);
    cr_expect_eq(pr.partner_hi[0], 90);
    cr_expect_float_eq(pr.partner_w[0], 2.0 / 3.0, 1e-6);
    /* 2 -> 182: halfway between 181 and 183 */
    cr_expect_eq(pr.partner_lo[1], 90);
    cr_expect_eq(pr.partner_hi[1], 91);
    cr_expect_float_eq(pr.partner_w[1], 0.5, 1e-6);
    cr_expect_float_eq(pr.max_gap_deg, 3.0, 1e-9);
    tl_stitch_pairs_free(&pr);

    /* 1, 3, ..., 359 in an interlaced order: exact partners, kept in input order */
    double inter[180];
    for (size_t i = 0; i < 180; i++)
        inter[i] = 1.0 + 2.0 * (double)((i * 7) % 180);
    cr_assert_eq(tl_stitch_pairs_create(inter, 180, &pr, &err), TL_OK, "%s", err.message);
    cr_assert_eq(pr.n, 90);
    cr_assert_eq(pr.n_exact, 90);
    for (size_t k = 0; k < pr.n; k++) {
        cr_expect_lt(pr.angles_deg[k], 181.0);
        cr_expect_float_eq(inter[pr.partner_lo[k]], pr.angles_deg[k] + 180.0, 1e-9);
        if (k > 0)
            cr_expect_gt(pr.direct[k], pr.direct[k - 1]);
    }
    tl_stitch_pairs_free(&pr);

    /* 0, 3, ..., 357: the partner of 179.x wraps to between 357 and 360 (= 0) */
    double third[120];
    for (size_t i = 0; i < 120; i++)
        third[i] = 3.0 * (double)i;
    cr_assert_eq(tl_stitch_pairs_create(third, 120, &pr, &err), TL_OK, "%s", err.message);
    cr_assert_eq(pr.n, 60); /* 0..177 */
    cr_assert_eq(pr.n_exact, 60);
    tl_stitch_pairs_free(&pr);
    double shifted[120];
    for (size_t i = 0; i < 120; i++)
        shifted[i] = 1.5 + 3.0 * (double)i; /* 1.5 .. 358.5 */
    shifted[59] = 178.5;                    /* unchanged: first half is 1.5..178.5 */
    shifted[119] = 358.0;                   /* the partner of 178.5 (358.5) is past the last angle */
    cr_assert_eq(tl_stitch_pairs_create(shifted, 120, &pr, &err), TL_OK, "%s", err.message);
    cr_assert_eq(pr.n, 60);
    cr_expect_eq(pr.partner_lo[59], 119);
    cr_expect_eq(pr.partner_hi[59], 0); /* 1.5 + 360 */
    cr_expect_float_eq(pr.partner_w[59], 0.5 / 3.5, 1e-6);
    cr_expect_eq(pr.n_exact, 59);
    tl_stitch_pairs_free(&pr);
}

Test(stitch, a_180_degree_scan_is_refused)
{
    double *angles = even_angles(360, 180.0, 0.0);
    tl_stitch_pairs pr;
    tl_error err = {0};
    cr_assert_eq(tl_stitch_pairs_create(angles, 360, &pr, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "a 360-degree scan is needed, but the 360 projections cover 0 to 179.5 degrees "
                                  "(an arc of 179.5 degrees; 360 minus 1.5 steps at least)");
    free(angles);
}

/* ---- finding the axis -------------------------------------------------------------------- */

/* Exact pixel-averaged projections of the Shepp-Logan phantom on a W-wide
 * detector with the axis at a, for rows [0, rows): [rows][angles][W], through
 * the simulator's phantom on the stitched width (as tomoline sim --double-fov). */
static float *phantom_scan(size_t w, double a, size_t rows, size_t n_angles, const double *angles, double noise)
{
    tl_stitch_layout L;
    tl_error err = {0};
    cr_assert_eq(tl_stitch_layout_for(w, a, &L, &err), TL_OK, "%s", err.message);
    tl_phantom *ph = NULL;
    cr_assert_eq(tl_phantom_create(TL_PHANTOM_SHEPP_LOGAN, L.width, rows, L.axis_stitched, 1, 1, &ph, &err), TL_OK,
                 "%s", err.message);
    float *wide = malloc(n_angles * L.width * sizeof *wide), *out = malloc(rows * n_angles * w * sizeof *out);
    unsigned long long state = 12345;
    for (size_t r = 0; r < rows; r++) {
        tl_phantom_project_row(ph, r, angles, n_angles, wide);
        for (size_t i = 0; i < n_angles; i++)
            for (size_t j = 0; j < w; j++) {
                double v = wide[i * L.width + j + L.shift];
                if (noise > 0) { /* uniform noise of the given standard deviation */
                    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                    v += noise * sqrt(12.0) * ((double)(state >> 11) / 9007199254740992.0 - 0.5);
                }
                out[(r * n_angles + i) * w + j] = (float)v;
            }
    }
    free(wide);
    tl_phantom_destroy(&ph);
    return out;
}

Test(stitch, the_axis_search_finds_the_simulated_axis)
{
    const size_t w = 128, n = 720, rows = 4;
    double *angles = even_angles(n, 360.0, 0.0);
    static const struct {
        double axis, noise;
        tl_stitch_side side;
    } cases[] = {
        {10.5, 0.0, TL_STITCH_LEFT},   {17.3, 0.0, TL_STITCH_LEFT},   {30.75, 0.0, TL_STITCH_LEFT},
        {116.2, 0.0, TL_STITCH_RIGHT}, {100.5, 0.0, TL_STITCH_RIGHT}, {12.4, 0.02, TL_STITCH_LEFT},
        {113.9, 0.02, TL_STITCH_RIGHT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float *sino = phantom_scan(w, cases[c].axis, rows, n, angles, cases[c].noise);
        tl_stitch_search found;
        tl_error err = {0};
        cr_assert_eq(tl_stitch_find_axis(sino, rows, n, w, angles, NULL, &found, &err), TL_OK, "%s", err.message);
        printf("double_fov axis search: W %zu, axis %.2f, noise %.2f: found %.3f (error %+.3f px, %s edge, "
               "confidence %.2f, %zu trials)\n",
               w, cases[c].axis, cases[c].noise, found.axis, found.axis - cases[c].axis,
               found.side == TL_STITCH_LEFT ? "left" : "right", found.confidence, found.n_trials);
        cr_expect_eq(found.side, cases[c].side);
        cr_expect_leq(fabs(found.axis - cases[c].axis), 0.5, "axis %g found at %g", cases[c].axis, found.axis);
        cr_expect_leq(fabs(found.axis - cases[c].axis), 0.1, "axis %g found at %g", cases[c].axis, found.axis);
        cr_expect_gt(found.confidence, 0.5);
        /* the same answer, to the last bit, on any number of threads */
        tl_workers *workers = NULL;
        cr_assert_eq(tl_workers_create(3, &workers, &err), TL_OK, "%s", err.message);
        tl_stitch_search again;
        cr_assert_eq(tl_stitch_find_axis(sino, rows, n, w, angles, workers, &again, &err), TL_OK, "%s", err.message);
        cr_expect_eq(again.axis, found.axis, "1 thread %.17g, 3 threads %.17g", found.axis, again.axis);
        tl_workers_destroy(&workers);
        free(sino);
    }
    free(angles);
}

Test(stitch, the_axis_search_refuses_a_centred_axis_and_flat_data)
{
    const size_t w = 64, n = 180;
    double *angles = even_angles(n, 360.0, 0.0);
    /* a centred axis: the best match is at the inner end of both ranges */
    tl_phantom *ph = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_phantom_create(TL_PHANTOM_SHEPP_LOGAN, w, 1, 31.5, 1, 1, &ph, &err), TL_OK, "%s", err.message);
    float *sino = malloc(n * w * sizeof *sino);
    tl_phantom_project_row(ph, 0, angles, n, sino);
    tl_stitch_search found;
    cr_assert_eq(tl_stitch_find_axis(sino, 1, n, w, angles, NULL, &found, &err), TL_ERR_DATA);
    cr_assert(strstr(err.message, "the overlap search found its best match at the end of the searched range") ==
                  err.message,
              "%s", err.message);
    memset(sino, 0, n * w * sizeof *sino);
    cr_assert_eq(tl_stitch_find_axis(sino, 1, n, w, angles, NULL, &found, &err), TL_ERR_DATA);
    cr_assert_str_eq(err.message, "the overlap search found no contrast (the sinograms are zero or empty): give the "
                                  "axis with --rotation-axis");
    tl_phantom_destroy(&ph);
    free(sino);
    free(angles);
}

/* ---- end to end -------------------------------------------------------------------------- */

static void run_ok(const char *what, const char *fmt, const char *a1, const char *a2, const char *extra)
{
    tl_test_run_result *r = malloc(sizeof *r);
    cr_assert_eq(tl_test_run(r, fmt, a1, a2, extra), 0);
    cr_assert_eq(r->exit_code, 0, "%s failed: %s", what, r->err);
    free(r);
}

static void sim(const char *path, const char *options)
{
    run_ok("sim", "sim -o '%s' %s%s -q", path, options, "");
}

/* Mean relative L2 error over the slices, inside the disk of radius N/2 - 4. */
static double volume_error(const char *recon, const char *truth, size_t *n_out)
{
    size_t nz, ny, nx, tz, ty, tx;
    float *v = tl_test_read_volume(recon, &nz, &ny, &nx);
    float *t = tl_test_read_volume(truth, &tz, &ty, &tx);
    cr_assert(nz == tz && ny == ty && nx == tx && ny == nx, "recon %zu x %zu x %zu, truth %zu x %zu x %zu", nz, ny,
              nx, tz, ty, tx);
    double e = 0;
    for (size_t z = 0; z < nz; z++)
        e += tl_test_rel_l2_disk(v + z * nx * nx, t + z * nx * nx, nx, 0.5 * (double)nx - 4.0) / (double)nz;
    free(v);
    free(t);
    *n_out = nx;
    return e;
}

static double read_process_axis(const char *path, char *method, size_t size)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "cannot open %s", path);
    hid_t d = H5Dopen2(f, "/entry/process/rotation_axis", H5P_DEFAULT);
    cr_assert_geq(d, 0);
    double axis = NAN;
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &axis), 0);
    cr_assert_eq(tl_h5_read_string_attr(d, "method", method, size), 0);
    H5Dclose(d);
    H5Fclose(f);
    return axis;
}

/* A 360-degree offset-axis scan against a full-field 180-degree scan of the
 * same phantom: the full-field detector is as wide as the stitched sinogram
 * and centred on the same axis, so both truths are the same volume. */
static void compare_with_full_field(double axis, size_t angles, const char *noise, const char *axis_option,
                                    double want_width)
{
    char wide[4200], wide_truth[4200], full[4200], full_truth[4200], rec_wide[4200], rec_full[4200], opt[512];
    snprintf(wide, sizeof wide, "%s/wide.nxs", dir);
    snprintf(wide_truth, sizeof wide_truth, "%s/wide_truth.nxs", dir);
    snprintf(full, sizeof full, "%s/full.nxs", dir);
    snprintf(full_truth, sizeof full_truth, "%s/full_truth.nxs", dir);
    snprintf(rec_wide, sizeof rec_wide, "%s/rec_wide.nxs", dir);
    snprintf(rec_full, sizeof rec_full, "%s/rec_full.nxs", dir);
    const size_t w = 128;
    tl_stitch_layout L;
    tl_error err = {0};
    cr_assert_eq(tl_stitch_layout_for(w, axis, &L, &err), TL_OK, "%s", err.message);
    cr_assert_eq(L.width, (size_t)want_width);
    snprintf(opt, sizeof opt, "--double-fov --arc 360 --size %zu --angles %zu --slices 4 --axis-offset %.17g %s", w,
             2 * angles, axis - 0.5 * ((double)w - 1.0), noise);
    sim(wide, opt);
    snprintf(opt, sizeof opt, "--arc 180 --size %zu --angles %zu --slices 4 --axis-offset %.17g %s", L.width, angles,
             L.axis_stitched - 0.5 * ((double)L.width - 1.0), noise);
    sim(full, opt);

    tl_test_run_result *r = malloc(sizeof *r);
    cr_assert_eq(tl_test_run(r, "recon '%s' -o '%s' --file-type double_fov %s", wide, rec_wide, axis_option), 0);
    cr_assert_eq(r->exit_code, 0, "%s", r->err);
    char expect_log[256];
    snprintf(expect_log, sizeof expect_log, "edge, overlap "); /* its value depends on the axis found */
    cr_expect(strstr(r->err, expect_log) != NULL, "the log does not say '%s': %s", expect_log, r->err);
    snprintf(expect_log, sizeof expect_log, "stitched width %zu, axis ", L.width);
    cr_expect(strstr(r->err, expect_log) != NULL, "the log does not say '%s': %s", expect_log, r->err);
    snprintf(expect_log, sizeof expect_log, "%zu of %zu angles kept, partners %zu exact, 0 interpolated", angles,
             2 * angles, angles);
    cr_expect(strstr(r->err, expect_log) != NULL, "the log does not say '%s': %s", expect_log, r->err);
    free(r);
    char opt_axis[64];
    snprintf(opt_axis, sizeof opt_axis, "--rotation-axis %.17g", L.axis_stitched);
    run_ok("recon (full field)", "recon '%s' -o '%s' %s -q", full, rec_full, opt_axis);

    size_t n_wide, n_full;
    double e_wide = volume_error(rec_wide, wide_truth, &n_wide), e_full = volume_error(rec_full, full_truth, &n_full);
    cr_assert_eq(n_wide, L.width, "the volume is %zu wide, the stitched width is %zu", n_wide, L.width);
    cr_assert_eq(n_full, L.width);
    /* the two truths are the same phantom on the same grid */
    size_t nz, ny, nx;
    float *t1 = tl_test_read_volume(wide_truth, &nz, &ny, &nx), *t2 = tl_test_read_volume(full_truth, &nz, &ny, &nx);
    cr_assert_eq(memcmp(t1, t2, nz * ny * nx * sizeof *t1), 0, "the truths differ");
    free(t1);
    free(t2);

    char method[1024];
    double found = read_process_axis(rec_wide, method, sizeof method);
    printf("double_fov end to end: axis %.2f (%s edge), %zu angles over 360, %s, axis option '%s': stitched "
           "width %zu, axis %.3f (raw %.3f, error %+.3f px); relative L2 error %.5f vs full field %.5f: ratio %.3f\n",
           axis, L.side == TL_STITCH_LEFT ? "left" : "right", 2 * angles, noise[0] ? noise : "noise-free",
           axis_option, L.width, found, found - (double)L.shift, found - L.axis_stitched, e_wide, e_full,
           e_wide / e_full);
    cr_expect_leq(fabs(found - L.axis_stitched), 0.5, "axis %g, want %g", found, L.axis_stitched);
    cr_expect(strstr(method, "double_fov: detector axis") == method, "provenance method '%s'", method);
    cr_expect(strstr(method, expect_log) != NULL, "provenance method '%s'", method);
    char width[64];
    snprintf(width, sizeof width, "edge, overlap %.2f px; stitched width %zu, axis %.2f;",
             L.side == TL_STITCH_LEFT ? 2.0 * (found - (double)L.shift) : 2.0 * ((double)w - 1.0 - found), L.width,
             found);
    cr_expect(strstr(method, width) != NULL, "provenance method '%s' lacks '%s'", method, width);
    cr_expect_leq(e_wide, 1.2 * e_full, "double_fov error %g vs full field %g", e_wide, e_full);
}

Test(double_fov, left_edge_auto_axis_is_close_to_a_full_field_scan)
{
    compare_with_full_field(10.5, 360, "", "", 234);
}

Test(double_fov, right_edge_given_axis_with_noise_is_close_to_a_full_field_scan)
{
    compare_with_full_field(115.6, 360, "--photons 20000", "--rotation-axis 115.6", 232);
}

Test(double_fov, right_edge_auto_axis_fractional)
{
    compare_with_full_field(114.3, 300, "", "", 230); /* 128 + round(228.6 - 127) */
}

Test(double_fov, cor_prints_the_axis_near_the_edge)
{
    char wide[4200];
    snprintf(wide, sizeof wide, "%s/wide.nxs", dir);
    sim(wide, "--double-fov --arc 360 --size 128 --angles 720 --slices 4 --axis-offset -53");
    tl_test_run_result *r = malloc(sizeof *r);
    cr_assert_eq(tl_test_run(r, "cor '%s' --file-type double_fov -q", wide), 0);
    cr_assert_eq(r->exit_code, 0, "%s", r->err);
    char *last = r->out + strlen(r->out);
    while (last > r->out && last[-1] == '\n')
        *--last = '\0';
    char *line = strrchr(r->out, '\n');
    double axis = atof(line ? line + 1 : r->out);
    cr_expect_leq(fabs(axis - 10.5), 0.5, "cor printed %s", r->out);
    cr_expect(strstr(r->out, "at the left edge") != NULL, "%s", r->out);
    cr_expect(strstr(r->out, "  stitched           234 columns, axis at 116.") != NULL, "%s", r->out);
    cr_assert_eq(tl_test_run(r, "cor '%s' --file-type double_fov --json -q", wide), 0);
    cr_assert_eq(r->exit_code, 0, "%s", r->err);
    cr_expect(strstr(r->out, "\"file_type\": \"double_fov\", \"rotation_axis\": 10.") != NULL, "%s", r->out);
    cr_expect(strstr(r->out, "\"side\": \"left\"") != NULL, "%s", r->out);
    cr_expect(strstr(r->out, "\"stitched_width\": 234") != NULL, "%s", r->out);
    free(r);
}

Test(double_fov, sino_then_fbp_equals_recon)
{
    char wide[4200], s[4200], a[4200], b[4200];
    snprintf(wide, sizeof wide, "%s/wide.nxs", dir);
    snprintf(s, sizeof s, "%s/s.h5", dir);
    snprintf(a, sizeof a, "%s/a.nxs", dir);
    snprintf(b, sizeof b, "%s/b.nxs", dir);
    sim(wide, "--double-fov --arc 360 --size 96 --angles 400 --slices 3 --axis-offset 38");
    /* sino has no --rotation-axis: both find the axis from the overlap (the same
     * rows, the same answer); fbp gets the stitched axis recon used */
    run_ok("recon", "recon '%s' -o '%s' --file-type double_fov %s-q", wide, a, "");
    run_ok("sino", "sino '%s' -o '%s' --file-type double_fov %s-q", wide, s, "");
    char method[1024], axis[64];
    double stitched_axis = read_process_axis(a, method, sizeof method);
    cr_expect_leq(fabs(stitched_axis - 85.5), 0.1, "%s", method); /* right edge: the stitched axis is the raw one */
    snprintf(axis, sizeof axis, "--rotation-axis %.17g ", stitched_axis);
    run_ok("fbp", "fbp '%s' -o '%s' %s-q", s, b, axis);
    size_t z1, y1, x1, z2, y2, x2;
    float *v1 = tl_test_read_volume(a, &z1, &y1, &x1), *v2 = tl_test_read_volume(b, &z2, &y2, &x2);
    cr_assert(z1 == 3 && y1 == 172 && x1 == 172, "%zu x %zu x %zu", z1, y1, x1); /* 96 + round(171 - 95) */
    cr_assert(z1 == z2 && y1 == y2 && x1 == x2);
    double d = 0, scale = 0; /* the same sinograms; the FFTs may round differently (as in test_stages) */
    for (size_t i = 0; i < z1 * y1 * x1; i++) {
        d = fmax(d, fabs((double)v1[i] - (double)v2[i]));
        scale = fmax(scale, fabs((double)v1[i]));
    }
    cr_assert(d <= 1e-5 * scale, "sino + fbp differ from recon by %g (max %g)", d, scale);
    free(v1);
    free(v2);
}

/* --binning (cli/preprocess.h): the stitch works on the binned detector;
 * --rotation-axis and the reported detector axis stay raw detector columns. */
Test(double_fov, binned_scans_stitch_in_binned_columns)
{
    char wide[4200], a[4200], b[4200], method[1024];
    snprintf(wide, sizeof wide, "%s/wide.nxs", dir);
    snprintf(a, sizeof a, "%s/a.nxs", dir);
    snprintf(b, sizeof b, "%s/b.nxs", dir);
    sim(wide, "--double-fov --arc 360 --size 128 --angles 720 --slices 4 --axis-offset -53"); /* axis 10.5 */
    run_ok("recon", "recon '%s' -o '%s' --file-type double_fov --binning 1 %s-q", wide, a, "--rotation-axis 10.5 ");
    run_ok("recon", "recon '%s' -o '%s' --file-type double_fov --binning 1 %s-q", wide, b, "");
    size_t nz, ny, nx;
    float *v = tl_test_read_volume(a, &nz, &ny, &nx);
    /* binned: 64 columns, axis (10.5 - 0.5) / 2 = 5, stitched 64 + round(63 - 10) = 117 wide, axis 58 */
    cr_expect(nz == 2 && ny == 117 && nx == 117, "%zu x %zu x %zu", nz, ny, nx);
    free(v);
    cr_expect_float_eq(read_process_axis(a, method, sizeof method), 58.0, 1e-9, "%s", method);
    cr_expect(strstr(method, "double_fov: detector axis 10.50 given (2x binned: 5.00); left edge, overlap 10.00 px; "
                             "stitched width 117, axis 58.00;") == method,
              "%s", method);
    double found = read_process_axis(b, method, sizeof method);
    cr_expect_leq(fabs(found - 58.0), 0.25, "%s", method); /* 0.5 raw px */
}

Test(double_fov, the_simulated_truth_is_as_wide_as_the_stitch)
{
    static const double axes[] = {1.0, 5.25, 9.5, 21.0, 42.0, 90.0, 100.75, 117.5, 126.0};
    char scan[4200], truth[4200], opt[256];
    snprintf(scan, sizeof scan, "%s/t.nxs", dir);
    snprintf(truth, sizeof truth, "%s/t_truth.nxs", dir);
    for (size_t i = 0; i < sizeof axes / sizeof axes[0]; i++) {
        tl_stitch_layout L;
        tl_error err = {0};
        cr_assert_eq(tl_stitch_layout_for(128, axes[i], &L, &err), TL_OK, "%s", err.message);
        snprintf(opt, sizeof opt, "--double-fov --arc 360 --size 128 --angles 8 --slices 1 --overwrite "
                                  "--axis-offset %.17g", axes[i] - 63.5);
        sim(scan, opt);
        size_t nz, ny, nx;
        float *t = tl_test_read_volume(truth, &nz, &ny, &nx);
        cr_expect(ny == L.width && nx == L.width, "axis %g: truth %zu x %zu, stitched width %zu", axes[i], ny, nx,
                  L.width);
        free(t);
    }
}

/* ---- bad values -------------------------------------------------------------------------- */

static void expect_error(const char *cmd, int code, const char *message)
{
    tl_test_run_result *r = malloc(sizeof *r);
    cr_assert_eq(tl_test_run(r, "%s", cmd), 0);
    cr_expect_eq(r->exit_code, code, "%s: exit %d: %s", cmd, r->exit_code, r->err);
    char want[2048];
    snprintf(want, sizeof want, "tomoline: error: %s\n", message);
    cr_expect(strstr(r->err, want) != NULL, "%s:\nwant %s\ngot  %s", cmd, want, r->err);
    free(r);
}

Test(double_fov, bad_values_get_exact_messages_and_no_output)
{
    char s180[4200], wide[4200], centred[4200], out[4200], cmd[16384], msg[8192];
    snprintf(s180, sizeof s180, "%s/s180.nxs", dir);
    snprintf(wide, sizeof wide, "%s/wide.nxs", dir);
    snprintf(centred, sizeof centred, "%s/centred.nxs", dir);
    snprintf(out, sizeof out, "%s/out.nxs", dir);
    sim(s180, "--size 64 --angles 90 --slices 2");
    sim(wide, "--double-fov --arc 360 --size 64 --angles 180 --slices 2 --axis-offset -24");
    sim(centred, "--arc 360 --size 64 --angles 180 --slices 2");

    /* double_fov on a 180-degree scan */
    snprintf(cmd, sizeof cmd, "recon '%s' -o '%s' --file-type double_fov", s180, out);
    snprintf(msg, sizeof msg,
             "--file-type double_fov: '%s': a 360-degree scan is needed, but the 90 projections cover 0 to 178 "
             "degrees (an arc of 178 degrees; 360 minus 1.5 steps at least)",
             s180);
    expect_error(cmd, 2, msg);
    cr_expect_not(tl_test_file_exists(out));
    snprintf(cmd, sizeof cmd, "cor '%s' --file-type double_fov", s180);
    char cor_msg[8400];
    snprintf(cor_msg, sizeof cor_msg, "%s: %s", s180, msg); /* cor names its input first */
    expect_error(cmd, 2, cor_msg);

    /* an axis that is not near an edge */
    snprintf(cmd, sizeof cmd, "recon '%s' -o '%s' --file-type double_fov --rotation-axis 31.5", wide, out);
    snprintf(msg, sizeof msg,
             "--rotation-axis 31.5 is not near an edge of the detector: --file-type double_fov needs the axis "
             "within a third of the width of one edge (allowed: 1 to 21 or 42 to 62 on the 64-pixel-wide detector "
             "of '%s'; the centre is 31.5)",
             wide);
    expect_error(cmd, 2, msg);
    snprintf(cmd, sizeof cmd, "recon '%s' -o '%s' --file-type double_fov --rotation-axis center", wide, out);
    snprintf(msg, sizeof msg,
             "--rotation-axis center is not near an edge of the detector: --file-type double_fov needs the axis "
             "within a third of the width of one edge (allowed: 1 to 21 or 42 to 62 on the 64-pixel-wide detector "
             "of '%s'; the centre is 31.5)",
             wide);
    expect_error(cmd, 2, msg);
    cr_expect_not(tl_test_file_exists(out));

    /* the search on a scan whose axis is centred */
    snprintf(cmd, sizeof cmd, "recon '%s' -o '%s' --file-type double_fov", centred, out);
    tl_test_run_result *r = malloc(sizeof *r);
    cr_assert_eq(tl_test_run(r, "%s", cmd), 0);
    cr_expect_eq(r->exit_code, 1, "%s", r->err);
    snprintf(msg, sizeof msg,
             "tomoline: error: --file-type double_fov, --rotation-axis auto (rows 0..1 of '%s'): the overlap "
             "search found its best match at the end of the searched range",
             centred);
    cr_expect(strstr(r->err, msg) != NULL, "want %s\ngot %s", msg, r->err);
    free(r);
    cr_expect_not(tl_test_file_exists(out));

    /* the option's own checks */
    snprintf(cmd, sizeof cmd, "recon '%s' -o '%s' --file-type double", wide, out);
    expect_error(cmd, 2, "--file-type: 'double' is not one of standard, double_fov (did you mean 'double_fov'?)");
    snprintf(cmd, sizeof cmd, "normalize '%s' -o '%s' --file-type double_fov", wide, out);
    expect_error(cmd, 2,
                 "--file-type is not an option of 'tomoline normalize' (see 'tomoline normalize --help'); it is an "
                 "option of 'tomoline recon' and 'tomoline sino' and 'tomoline fbp' and 'tomoline cor' and "
                 "'tomoline rings'");
    cr_expect_not(tl_test_file_exists(out));

    /* the simulator */
    snprintf(cmd, sizeof cmd, "sim -o '%s' --double-fov --size 64", out);
    expect_error(cmd, 2, "--double-fov needs --arc 360 (a 360-degree scan; --arc is 180)");
    snprintf(cmd, sizeof cmd, "sim -o '%s' --double-fov --arc 360 --size 64 --axis-offset 3", out);
    expect_error(cmd, 2,
                 "--axis-offset 3: with --double-fov the axis (column 34.5) must lie within a third of the width of "
                 "one edge (allowed offsets: -30.5 to -10.5 or 10.5 to 30.5)");
    cr_expect_not(tl_test_file_exists(out));
}
