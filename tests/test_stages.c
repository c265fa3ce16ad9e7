/* test_stages.c - the per-stage chain normalize -> sino -> fbp gives the volume of
 * recon, and each stage's file is what the next reads (issue 3). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "volume.h"

static char dir[4096];
static void make_dir(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }
TestSuite(stages, .init = make_dir);

static void run_ok(const char *what, const char *fmt, const char *a, const char *b, const char *extra)
{
    tl_test_run_result r;
    char args[8192];
    snprintf(args, sizeof args, fmt, a, b, extra ? extra : "");
    tl_test_run(&r, "%s", args);
    cr_assert_eq(r.exit_code, 0, "%s failed (%d): %s", what, r.exit_code, r.err);
}

static double max_abs_diff(const float *a, const float *b, size_t n, double *scale)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    *scale = s;
    return d;
}

Test(stages, normalize_sino_fbp_equals_recon)
{
    char scan[4200], rec[4200], norm[4200], sino[4200], rec2[4200], rec3[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(rec, sizeof rec, "%s/rec.nxs", dir);
    snprintf(norm, sizeof norm, "%s/norm.nxs", dir);
    snprintf(sino, sizeof sino, "%s/sino.h5", dir);
    snprintf(rec2, sizeof rec2, "%s/rec_stages.nxs", dir);
    snprintf(rec3, sizeof rec3, "%s/rec_from_norm.nxs", dir);
    run_ok("sim", "sim -o '%s' %s%s --size 48 --angles 60 --slices 5 --photons 5000 --axis-offset 1.5 --quiet", scan,
           "", NULL);
    const char *opts = "--rotation-axis 25 --fbp-filter shepp --nsino-per-chunk 2 --quiet";
    run_ok("recon", "recon '%s' -o '%s' %s", scan, rec, opts);
    run_ok("normalize", "normalize '%s' -o '%s' %s", scan, norm, "--nsino-per-chunk 3 --quiet");
    run_ok("sino", "sino '%s' -o '%s' %s", norm, sino, "--quiet");
    run_ok("fbp", "fbp '%s' -o '%s' %s", sino, rec2, opts);
    run_ok("recon of normalized projections", "recon '%s' -o '%s' %s", norm, rec3, opts);

    size_t z1, y1, x1, z2, y2, x2, z3, y3, x3;
    float *a = tl_test_read_volume(rec, &z1, &y1, &x1), *b = tl_test_read_volume(rec2, &z2, &y2, &x2);
    float *c = tl_test_read_volume(rec3, &z3, &y3, &x3);
    cr_assert(z1 == 5 && y1 == 48 && x1 == 48 && z2 == z1 && y2 == y1 && x2 == x1 && z3 == z1);
    double scale, d = max_abs_diff(b, a, z1 * y1 * x1, &scale);
    cr_assert(d <= 1e-5 * scale, "stages differ from recon by %g (max %g)", d, scale);
    d = max_abs_diff(c, a, z1 * y1 * x1, &scale);
    cr_assert(d <= 1e-5 * scale, "recon of normalized projections differs by %g (max %g)", d, scale);
    free(a);
    free(b);
    free(c);
}

Test(stages, sino_of_a_row_range_keeps_the_detector_rows)
{
    char scan[4200], sino[4200], rec[4200], part[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(sino, sizeof sino, "%s/sino.h5", dir);
    snprintf(rec, sizeof rec, "%s/rec.nxs", dir);
    snprintf(part, sizeof part, "%s/part.nxs", dir);
    run_ok("sim", "sim -o '%s' %s%s --size 32 --angles 40 --slices 6 --quiet", scan, "", NULL);
    run_ok("sino", "sino '%s' -o '%s' %s", scan, sino, "--start-row 2 --end-row 5 --quiet");
    run_ok("recon", "recon '%s' -o '%s' %s", scan, rec, "--start-row 3 --end-row 5 --quiet");
    /* fbp of rows 3..4 of a sinogram file that starts at detector row 2 */
    run_ok("fbp", "fbp '%s' -o '%s' %s", sino, part, "--start-row 3 --end-row 5 --quiet");
    size_t z1, y1, x1, z2, y2, x2;
    float *a = tl_test_read_volume(rec, &z1, &y1, &x1), *b = tl_test_read_volume(part, &z2, &y2, &x2);
    cr_assert(z1 == 2 && z2 == 2 && y1 == y2 && x1 == x2);
    double scale, d = max_abs_diff(b, a, z1 * y1 * x1, &scale);
    cr_assert(d <= 1e-5 * scale, "differs by %g", d);
    free(a);
    free(b);
    /* rows outside the file are refused with the rows it has */
    tl_test_run_result r;
    tl_test_run(&r, "fbp '%s' -o '%s/x.nxs' --start-row 0", sino, dir);
    cr_assert_neq(r.exit_code, 0);
    cr_assert(strstr(r.err, "--start-row 0 is outside the detector (rows 2 to 4"), "%s", r.err);
}

Test(stages, wrong_inputs_are_refused)
{
    char scan[4200], sino[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(sino, sizeof sino, "%s/sino.h5", dir);
    run_ok("sim", "sim -o '%s' %s%s --size 16 --angles 20 --slices 2 --quiet", scan, "", NULL);
    tl_test_run_result r;
    tl_test_run(&r, "fbp '%s' -o '%s/x.nxs'", scan, dir);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "tomoline: error: ") && strstr(r.err, "is not a sinogram file"), "%s", r.err);
    run_ok("sino", "sino '%s' -o '%s' %s", scan, sino, "--quiet");
    tl_test_run(&r, "sino '%s' -o '%s/y.h5'", sino, dir);
    cr_assert_neq(r.exit_code, 0);
    cr_assert(strstr(r.err, "already holds sinograms; give it to 'tomoline fbp'"), "%s", r.err);
    /* the default output names */
    tl_test_run(&r, "sino '%s' --quiet", scan);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char path[4300];
    snprintf(path, sizeof path, "%s/scan_sino.h5", dir);
    cr_assert(tl_test_file_exists(path));
}
