/* test_preprocess_cli.c - the preprocessing of issue 10 end to end, on scans
 * from `tomoline sim`: Paganin retrieval of simulated phase contrast, the
 * dezinger on injected zingers, binning through recon, beam normalization of a
 * simulated drift, and the exact messages for bad option values. Each number
 * the tests bound is printed (stderr) so the README's figures can be checked. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5_util.h"
#include "scan.h"
#include "support.h"

static char dir[4096];
static void make_dir(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }
TestSuite(preprocess_cli, .init = make_dir, .timeout = 300);

static void run_ok(tl_test_run_result *r, const char *what, const char *args)
{
    tl_test_run(r, "%s", args);
    cr_assert_eq(r->exit_code, 0, "%s failed (%d): %s", what, r->exit_code, r->err);
}

/* Normalized projections written by `tomoline normalize` (caller frees). */
static float *read_projections(const char *path, size_t *n_proj, size_t *n_rows, size_t *n_cols)
{
    tl_scan *s = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_scan_open(path, &s, &err), TL_OK, "%s", err.message);
    const tl_scan_info *si = tl_scan_get_info(s);
    cr_assert_eq(si->normalized, 1, "%s holds line integrals", path);
    *n_proj = si->n_proj;
    *n_rows = si->n_rows;
    *n_cols = si->n_cols;
    float *v = malloc(si->n_proj * si->n_rows * si->n_cols * sizeof *v);
    cr_assert_eq(tl_scan_read_projections(s, 0, si->n_rows, v, &err), TL_OK, "%s", err.message);
    tl_scan_close(&s);
    return v;
}

static double rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return sqrt(num / den);
}

static void expect_parameter(const char *file, const char *name, const char *want)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", file);
    char path[256], buf[512];
    snprintf(path, sizeof path, "/entry/process/parameters/%s", name);
    cr_assert_eq(tl_h5_read_string_dataset(f, path, buf, sizeof buf), 0, "%s has no %s", file, path);
    cr_assert_str_eq(buf, want, "%s", path);
    H5Fclose(f);
}

/* ---- Paganin on simulated phase contrast ------------------------------------------------------ */

/* 130 columns and 31 rows make square pixels in the simulator (rows are 0.5 R / slices apart,
 * R = 62); 20 keV, 1 um pixels, 100 mm: lambda z / dx^2 = 6.2, with delta/beta = 100 strong
 * fringes (c = pi 6.2 100 = 1948, kernel length L = 7 px). */
#define PHASE "--propagation-distance 100 --energy 20 --pixel-size 1"

Test(preprocess_cli, paganin_recovers_the_projected_thickness)
{
    tl_test_run_result r;
    char args[8192];
    snprintf(args, sizeof args, "sim -o '%s/abs.nxs' --size 130 --slices 31 --angles 60 --truth=false -q", dir);
    run_ok(&r, "sim (absorption)", args);
    snprintf(args, sizeof args, "sim -o '%s/pc.nxs' --size 130 --slices 31 --angles 60 --truth=false -q " PHASE
             " --delta-beta 100", dir);
    run_ok(&r, "sim (phase contrast)", args);
    snprintf(args, sizeof args, "normalize '%s/abs.nxs' -o '%s/n_abs.nxs' -q", dir, dir);
    run_ok(&r, "normalize abs", args);
    snprintf(args, sizeof args, "normalize '%s/pc.nxs' -o '%s/n_plain.nxs' -q", dir, dir);
    run_ok(&r, "normalize pc without retrieval", args);
    snprintf(args, sizeof args, "normalize '%s/pc.nxs' -o '%s/n_pag.nxs' " PHASE
             " --retrieve-phase-method paganin --retrieve-phase-delta-beta 100", dir, dir);
    run_ok(&r, "normalize pc with Paganin", args);
    cr_assert(strstr(r.err, "phase retrieval: Paganin, delta/beta 100, 20 keV"), "%s", r.err);
    /* alpha = beta/delta is the same filter */
    snprintf(args, sizeof args, "normalize '%s/pc.nxs' -o '%s/n_alpha.nxs' " PHASE
             " --retrieve-phase-method paganin --retrieve-phase-alpha 0.01 -q", dir, dir);
    run_ok(&r, "normalize pc with Paganin (alpha)", args);

    size_t na, nr, nc, n2, r2, c2;
    char path[4200];
    snprintf(path, sizeof path, "%s/n_abs.nxs", dir);
    float *truth = read_projections(path, &na, &nr, &nc); /* mu T: the true projected thickness x mu */
    snprintf(path, sizeof path, "%s/n_plain.nxs", dir);
    float *plain = read_projections(path, &n2, &r2, &c2);
    snprintf(path, sizeof path, "%s/n_pag.nxs", dir);
    float *pag = read_projections(path, &n2, &r2, &c2);
    snprintf(path, sizeof path, "%s/n_alpha.nxs", dir);
    float *alpha = read_projections(path, &n2, &r2, &c2);
    cr_assert(na == n2 && nr == r2 && nc == c2);
    size_t n = na * nr * nc;
    cr_assert_eq(memcmp(pag, alpha, n * sizeof *pag), 0, "alpha 0.01 and delta/beta 100 differ");
    double err_plain = rel_l2(plain, truth, n), err_pag = rel_l2(pag, truth, n);
    /* smooth: no fringes; the total variation along the rows stays near the truth's */
    double tv_truth = 0, tv_pag = 0, tv_plain = 0;
    for (size_t l = 0; l < na * nr; l++)
        for (size_t c = 1; c < nc; c++) {
            size_t i = l * nc + c;
            tv_truth += fabs(truth[i] - truth[i - 1]);
            tv_pag += fabs(pag[i] - pag[i - 1]);
            tv_plain += fabs(plain[i] - plain[i - 1]);
        }
    fprintf(stderr, "paganin: relative L2 error of mu T: %.4f retrieved, %.4f plain -log; total variation along "
            "the rows: truth %.1f, retrieved %.1f, plain %.1f\n", err_pag, err_plain, tv_truth, tv_pag, tv_plain);
    /* The head's skull is a step of the thickness within a pixel, which no Paganin retrieval keeps
     * sharp (the filter's length here is L = 7 px): the error is at the edges (test_preprocess.c's
     * smooth object is recovered to 1%). */
    cr_assert(err_pag < 0.25, "Paganin's thickness map is off by %.4f (relative L2)", err_pag);
    cr_assert(err_plain > 4 * err_pag, "without retrieval %.4f, with %.4f", err_plain, err_pag);
    cr_assert(tv_pag < 1.05 * tv_truth && tv_plain > 3 * tv_truth, "total variation %.1f, %.1f, %.1f", tv_truth,
              tv_pag, tv_plain);
    free(truth);
    free(plain);
    free(pag);
    free(alpha);
}

/* Slabs of rows read the filter's margin around them: 4 rows at a time give what whole frames give.
 * 258 x 63 (square pixels), 5 mm: L = 1.6 px, a margin of 15 rows, so a slab reads 34 of 63 rows. */
Test(preprocess_cli, paganin_in_slabs_equals_whole_frames)
{
    tl_test_run_result r;
    char args[8192];
    snprintf(args, sizeof args, "sim -o '%s/pc.nxs' --size 258 --slices 63 --angles 12 --truth=false -q "
             "--propagation-distance 5 --energy 20 --pixel-size 1 --delta-beta 100", dir);
    run_ok(&r, "sim", args);
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "normalize '%s/pc.nxs' -o '%s/n%d.nxs' --propagation-distance 5 --energy 20 "
                 "--pixel-size 1 --retrieve-phase-method paganin --retrieve-phase-delta-beta 100 --nsino-per-chunk %d",
                 dir, dir, k, k ? 4 : 63);
        run_ok(&r, "normalize", args);
    }
    cr_assert(strstr(r.err, "15 rows of margin"), "%s", r.err);
    size_t na, nr, nc;
    char path[4200];
    snprintf(path, sizeof path, "%s/n0.nxs", dir);
    float *whole = read_projections(path, &na, &nr, &nc);
    snprintf(path, sizeof path, "%s/n1.nxs", dir);
    float *slabs = read_projections(path, &na, &nr, &nc);
    double worst = 0, peak = 0;
    for (size_t i = 0; i < na * nr * nc; i++) {
        worst = fmax(worst, fabs(slabs[i] - whole[i]));
        peak = fmax(peak, fabs(whole[i]));
    }
    fprintf(stderr, "paganin: slabs of 4 rows vs whole frames: largest difference %.3g (peak %.3g)\n", worst, peak);
    cr_assert(worst > 0 && worst < 1e-4 * peak, "slabs of 4 rows differ from whole frames by %.3g", worst);
    free(whole);
    free(slabs);
}

/* ---- dezinger --------------------------------------------------------------------------------- */

static size_t number_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "no '%s' in: %s", key, text);
    p += strlen(key);
    return (size_t)strtoul(p, NULL, 10);
}

Test(preprocess_cli, dezinger_removes_the_injected_zingers_and_leaves_clean_scans_alone)
{
    tl_test_run_result r;
    char args[8192];
    snprintf(args, sizeof args, "sim -o '%s/z.nxs' --size 96 --slices 12 --angles 90 --zingers 1e-3 --truth=false",
             dir);
    run_ok(&r, "sim with zingers", args);
    size_t zp = number_after(r.out, "zingers: "), zf = number_after(r.out, "in projections, ");
    size_t zd = number_after(r.out, "in flats, ");
    fprintf(stderr, "dezinger: injected %zu in projections, %zu in flats, %zu in darks\n", zp, zf, zd);
    cr_assert(zp > 50 && zf > 0 && zd > 0, "%s", r.out);
    snprintf(args, sizeof args, "normalize '%s/z.nxs' -o '%s/nz.nxs' --dezinger 3 --nsino-per-chunk 5", dir, dir);
    run_ok(&r, "normalize with dezinger", args);
    char want[256];
    snprintf(want, sizeof want, "%zu zingers replaced (%zu in projections, %zu in flats, %zu in darks)", zp + zf + zd,
             zp, zf, zd);
    cr_assert(strstr(r.err, want), "expected '%s' in: %s", want, r.err);
    /* the result is the zinger-free scan's, to the medians' difference from the clean values */
    snprintf(args, sizeof args, "sim -o '%s/c.nxs' --size 96 --slices 12 --angles 90 --truth=false -q", dir);
    run_ok(&r, "sim clean", args);
    snprintf(args, sizeof args, "normalize '%s/c.nxs' -o '%s/nc.nxs' -q", dir, dir);
    run_ok(&r, "normalize clean", args);
    snprintf(args, sizeof args, "normalize '%s/c.nxs' -o '%s/ncd.nxs' --dezinger 5", dir, dir);
    run_ok(&r, "normalize clean with dezinger", args);
    cr_assert(strstr(r.err, "dezinger 5 x 5, threshold 5000 counts: 0 zingers replaced"), "%s", r.err);
    size_t na, nr, nc;
    char path[4200];
    snprintf(path, sizeof path, "%s/nz.nxs", dir);
    float *dz = read_projections(path, &na, &nr, &nc);
    snprintf(path, sizeof path, "%s/nc.nxs", dir);
    float *clean = read_projections(path, &na, &nr, &nc);
    snprintf(path, sizeof path, "%s/ncd.nxs", dir);
    float *clean_dz = read_projections(path, &na, &nr, &nc);
    size_t n = na * nr * nc;
    cr_assert_eq(memcmp(clean, clean_dz, n * sizeof *clean), 0, "the dezinger changed a clean scan");
    /* a replaced value is its window's median, which differs from the clean value where the
     * object changes within the window; the values off by more than 0.05 are at most the
     * projections' zingers */
    double e = rel_l2(dz, clean, n), worst = 0;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(dz[i] - clean[i]));
        off += fabs(dz[i] - clean[i]) > 0.05;
    }
    fprintf(stderr, "dezinger: after removal, relative L2 %.3g from the clean scan, largest deviation %.3g, %zu values "
            "off by more than 0.05\n", e, worst, off);
    cr_assert(e < 5e-3 && off <= zp, "relative L2 %.3g, %zu values off by more than 0.05", e, off);
    /* and without the dezinger the zingers are there: a zinger is -log of 1 to 3 x the transmission */
    snprintf(args, sizeof args, "normalize '%s/z.nxs' -o '%s/nzz.nxs' -q", dir, dir);
    run_ok(&r, "normalize zingers", args);
    snprintf(path, sizeof path, "%s/nzz.nxs", dir);
    float *raw = read_projections(path, &na, &nr, &nc);
    size_t dark_spots = 0;
    for (size_t i = 0; i < n; i++)
        dark_spots += clean[i] - raw[i] > 0.5;
    cr_assert(dark_spots >= zp - zp / 10, "%zu of %zu zingers visible without the dezinger", dark_spots, zp);
    free(dz);
    free(clean);
    free(clean_dz);
    free(raw);
}

/* ---- binning through recon -------------------------------------------------------------------- */

Test(preprocess_cli, binned_recon_is_the_downsampled_full_recon)
{
    tl_test_run_result r;
    char args[8192];
    snprintf(args, sizeof args, "sim -o '%s/s.nxs' --size 128 --slices 16 --angles 256 --axis-offset 1.5 -q", dir);
    run_ok(&r, "sim", args);
    snprintf(args, sizeof args, "recon '%s/s.nxs' -o '%s/full.nxs' --rotation-axis 65 -q", dir, dir);
    run_ok(&r, "recon full", args);
    snprintf(args, sizeof args, "recon '%s/s.nxs' -o '%s/bin.nxs' --rotation-axis 65 --binning 1", dir, dir);
    run_ok(&r, "recon binned", args);
    cr_assert(strstr(r.out, "axis 32.25 (given (raw detector column, binned"), "%s", r.out);
    size_t fz, fy, fx, bz, by, bx;
    char path[4200];
    snprintf(path, sizeof path, "%s/full.nxs", dir);
    float *full = tl_test_read_volume(path, &fz, &fy, &fx);
    snprintf(path, sizeof path, "%s/bin.nxs", dir);
    float *bin = tl_test_read_volume(path, &bz, &by, &bx);
    cr_assert(fz == 16 && fy == 128 && bz == 8 && by == 64 && bx == 64, "%zu x %zu x %zu", bz, by, bx);
    expect_parameter(path, "binning", "1");
    /* the full volume averaged 2 x 2 x 2; the binned one is attenuation per binned pixel, twice
     * the per-pixel value */
    float *down = malloc(8 * 64 * 64 * sizeof *down), *half = malloc(8 * 64 * 64 * sizeof *half);
    for (size_t z = 0; z < 8; z++)
        for (size_t y = 0; y < 64; y++)
            for (size_t x = 0; x < 64; x++) {
                double s = 0;
                for (int k = 0; k < 8; k++)
                    s += full[((2 * z + (k >> 2)) * 128 + 2 * y + (k >> 1 & 1)) * 128 + 2 * x + (k & 1)];
                down[(z * 64 + y) * 64 + x] = (float)(s / 8);
                half[(z * 64 + y) * 64 + x] = bin[(z * 64 + y) * 64 + x] / 2;
            }
    /* Inside the skull (radius 16 binned pixels) the two agree to the binned grid's coarser resolution;
     * the skull itself, a step of the line integrals within a 2 x 2 block, is where binning counts
     * before -log (as tomocupy and Nabu do) differs from averaging -log values: -log of a block's mean
     * transmission is less than the mean of -log (the exponential edge-gradient effect). */
    double inner = 0, all = 0, mean_down = 0, mean_half = 0;
    for (size_t z = 0; z < 8; z++) {
        inner = fmax(inner, tl_test_rel_l2_disk(half + z * 4096, down + z * 4096, 64, 16));
        all = fmax(all, tl_test_rel_l2_disk(half + z * 4096, down + z * 4096, 64, 28));
        mean_down += tl_test_mean_disk(down + z * 4096, 64, 0, 0, 16) / 8;
        mean_half += tl_test_mean_disk(half + z * 4096, 64, 0, 0, 16) / 8;
    }
    fprintf(stderr, "binning: binned recon / 2 vs the full recon averaged 2x2x2: worst slice relative L2 %.4f inside "
            "the skull (r 16), %.4f with it (r 28); central means %.5f vs %.5f\n", inner, all, mean_half, mean_down);
    cr_assert(inner < 0.06, "relative L2 %.4f inside the skull", inner);
    cr_assert(all < 0.2, "relative L2 %.4f with the skull", all);
    cr_assert(fabs(mean_half - mean_down) < 0.01 * mean_down, "means %.5f vs %.5f", mean_half, mean_down);
    free(full);
    free(bin);
    free(down);
    free(half);
    /* rows stay raw detector rows: 5..10 are binned rows 2..4 (those that overlap them) */
    snprintf(args, sizeof args, "recon '%s/s.nxs' -o '%s/rows.nxs' --rotation-axis 65 --binning 1 --start-row 5 "
             "--end-row 10 -q", dir, dir);
    run_ok(&r, "recon binned rows", args);
    snprintf(path, sizeof path, "%s/rows.nxs", dir);
    float *rows = tl_test_read_volume(path, &bz, &by, &bx);
    cr_assert_eq(bz, 3);
    free(rows);
    /* the search finds the axis in binned columns: (65 - 0.5) / 2 */
    snprintf(args, sizeof args, "recon '%s/s.nxs' -o '%s/auto.nxs' --binning 1", dir, dir);
    run_ok(&r, "recon binned auto", args);
    const char *axis = strstr(r.out, "axis ");
    cr_assert_not_null(axis);
    double a = strtod(axis + 5, NULL);
    fprintf(stderr, "binning: axis found %.3f, expected 32.25\n", a);
    cr_assert(fabs(a - 32.25) < 0.1, "%s", r.out);
}

/* ---- beam normalization --------------------------------------------------------------------- */

Test(preprocess_cli, beam_normalization_undoes_a_drift)
{
    tl_test_run_result r;
    char args[8192];
    snprintf(args, sizeof args, "sim -o '%s/d.nxs' --size 96 --slices 8 --angles 120 --beam-drift 0.1 -q", dir);
    run_ok(&r, "sim drift", args);
    snprintf(args, sizeof args, "sim -o '%s/c.nxs' --size 96 --slices 8 --angles 120 -q", dir);
    run_ok(&r, "sim clean", args);
    static const char *const names[] = {"c", "d", "dn"};
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof args, "recon '%s/%s.nxs' -o '%s/%s_rec.nxs' --rotation-axis center %s", dir,
                 k == 0 ? "c" : "d", dir, names[k], k == 2 ? "--beam-normalization" : "-q");
        run_ok(&r, names[k], args);
    }
    cr_assert(strstr(r.err, "beam normalization: monitor /entry/control/data (one value per frame), projections at "
                            "0.8976..1.0968 of their mean"), "%s", r.err);
    size_t nz, ny, nx;
    char path[4200];
    snprintf(path, sizeof path, "%s/c_rec.nxs", dir);
    float *c = tl_test_read_volume(path, &nz, &ny, &nx);
    snprintf(path, sizeof path, "%s/d_rec.nxs", dir);
    float *d = tl_test_read_volume(path, &nz, &ny, &nx);
    snprintf(path, sizeof path, "%s/dn_rec.nxs", dir);
    float *dn = tl_test_read_volume(path, &nz, &ny, &nx);
    expect_parameter(path, "beam-normalization", "true");
    /* what the preprocessing did is in the provenance, as in the log */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", path);
    char prep[2048];
    cr_assert_eq(tl_h5_read_string_dataset(f, "/entry/process/preprocessing", prep, sizeof prep), 0,
                 "%s has no /entry/process/preprocessing", path);
    H5Fclose(f);
    cr_expect(strstr(prep, "beam normalization by /entry/control/data (per frame): projections at 0.8976..1.0968 "
                           "of the mean") != NULL,
              "/entry/process/preprocessing: %s", prep);
    snprintf(path, sizeof path, "%s/c_rec.nxs", dir);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_expect(!H5Lexists(f, "/entry/process/preprocessing", H5P_DEFAULT), "no preprocessing recorded without any");
    H5Fclose(f);
    snprintf(path, sizeof path, "%s/dn_rec.nxs", dir);
    double e_d = 0, e_dn = 0;
    for (size_t z = 0; z < nz; z++) {
        e_d = fmax(e_d, tl_test_rel_l2_disk(d + z * ny * nx, c + z * ny * nx, nx, 44));
        e_dn = fmax(e_dn, tl_test_rel_l2_disk(dn + z * ny * nx, c + z * ny * nx, nx, 44));
    }
    fprintf(stderr, "beam normalization: relative L2 to the drift-free scan %.3g without, %.3g with\n", e_d, e_dn);
    cr_assert(e_d > 0.05, "the drift shows without normalization (%.3g)", e_d);
    cr_assert(e_dn < 1e-4, "normalization undoes it (%.3g)", e_dn);
    free(c);
    free(d);
    free(dn);
}

/* ---- bad values ------------------------------------------------------------------------------- */

static void expect_error(const char *args, int code, const char *message)
{
    tl_test_run_result r;
    tl_test_run(&r, "%s", args);
    cr_assert_eq(r.exit_code, code, "%s: exit %d: %s", args, r.exit_code, r.err);
    char want[2048];
    snprintf(want, sizeof want, "tomoline: error: %s\n", message);
    cr_assert_str_eq(r.err, want, "%s", args);
}

Test(preprocess_cli, bad_values_get_exact_messages_and_leave_no_output)
{
    tl_test_run_result r;
    char args[8192], scan[4200], out[4200], msg[2048];
    snprintf(scan, sizeof scan, "%s/s.nxs", dir);
    snprintf(out, sizeof out, "%s/out.nxs", dir);
    snprintf(args, sizeof args, "sim -o '%s' --size 32 --slices 4 --angles 20 -q", scan);
    run_ok(&r, "sim", args);
#define RECON(extra) (snprintf(args, sizeof args, "recon '%s' -o '%s' -q --rotation-axis center " extra, scan, out), args)
    expect_error(RECON("--dezinger 4"), 2, "--dezinger 4: the median window must be odd, from 3 to 31 (0 turns it off)");
    expect_error(RECON("--dezinger 40"), 2, "--dezinger: '40' is above the maximum 31 (allowed: 0 to 31)");
    expect_error(RECON("--binning 4"), 2, "--binning: '4' is above the maximum 3 (allowed: 0 to 3)");
    expect_error(RECON("--retrieve-phase-method ctf"), 2, "--retrieve-phase-method: 'ctf' is not one of none, paganin");
    expect_error(RECON("--retrieve-phase-method paganin --propagation-distance 50 --pixel-size 1 "
                       "--retrieve-phase-delta-beta 100"),
                 2, "--retrieve-phase-method paganin needs --energy (the X-ray energy in keV, more than 0)");
    expect_error(RECON("--retrieve-phase-method paganin --energy 20 --pixel-size 1 --retrieve-phase-alpha 0.01"), 2,
                 "--retrieve-phase-method paganin needs --propagation-distance (sample to detector in mm, more than 0)");
    expect_error(RECON("--retrieve-phase-method paganin --energy 20 --propagation-distance 50 "
                       "--retrieve-phase-alpha 0.01"),
                 2, "--retrieve-phase-method paganin needs --pixel-size (the detector pixel at the sample in "
                    "micrometres, more than 0)");
    expect_error(RECON("--retrieve-phase-method paganin --energy 20 --propagation-distance 50 --pixel-size 6.5e-6 "
                       "--retrieve-phase-alpha 0.01"),
                 2, "--pixel-size 6.5e-06: the unit is micrometres (as tomocupy's: 6.5 for 6.5 um); allowed: 0.001 "
                    "and more");
    expect_error(RECON("--retrieve-phase-method paganin --energy 20 --propagation-distance 50 --pixel-size 1"), 2,
                 "--retrieve-phase-method paganin needs --retrieve-phase-delta-beta (delta/beta of the material, e.g. "
                 "100 to 1000) or --retrieve-phase-alpha (beta/delta)");
    expect_error(RECON("--retrieve-phase-method paganin --energy 20 --propagation-distance 50 --pixel-size 1 "
                       "--retrieve-phase-alpha 0.01 --retrieve-phase-delta-beta 100"),
                 2, "--retrieve-phase-alpha 0.01 and --retrieve-phase-delta-beta 100 are both given: give one "
                    "(alpha = beta/delta = 1 / delta-beta)");
    expect_error(RECON("--energy -1"), 2, "--energy: '-1' is below the minimum 0 (allowed: 0 to 10000)");
    snprintf(msg, sizeof msg,
             "--beam-normalization: '%s' (NXtomo) has no beam monitor where one is looked for (ENTRY/control/data, "
             "the NXtomo monitor); name the dataset of the beam intensity or ring current per frame with "
             "--beam-monitor-path /path or FILE:/path", scan);
    expect_error(RECON("--beam-normalization"), 1, msg);
    snprintf(msg, sizeof msg, "--beam-normalization: '%s': the beam monitor /entry/sample/rotation_angle is 0 at frame "
             "20 (projection 0); a beam intensity must be a positive number", scan);
    /* a dataset of one value per frame that is no beam intensity: the first projection's angle is 0 */
    expect_error(RECON("--beam-normalization --beam-monitor-path /entry/sample/rotation_angle"), 1, msg);
    snprintf(msg, sizeof msg, "--binning 3: the detector of '%s' (4 rows x 32 columns) has no whole 8 x 8 block "
             "(allowed: up to --binning 2 here)", scan);
    expect_error(RECON("--binning 3"), 2, msg);
    cr_assert(!tl_test_file_exists(out), "an output was left behind");
    char partial[4300];
    snprintf(partial, sizeof partial, "%s.partial", out);
    cr_assert(!tl_test_file_exists(partial));
    /* normalized projections: the steps belong where the raw scan is read */
    char norm[4200];
    snprintf(norm, sizeof norm, "%s/n.nxs", dir);
    snprintf(args, sizeof args, "normalize '%s' -o '%s' -q", scan, norm);
    run_ok(&r, "normalize", args);
    snprintf(args, sizeof args, "sino '%s' -o '%s/s.h5' --binning 1", norm, dir);
    snprintf(msg, sizeof msg, "--binning 1: '%s' holds normalized projections, but dezinger, binning, beam "
             "normalization and phase retrieval work on raw scans, before normalization (give them to the command "
             "that reads the raw scan)", norm);
    expect_error(args, 2, msg);
    /* the simulator's own checks */
    snprintf(args, sizeof args, "sim -o '%s/x.nxs' --beam-drift 0.1 --layout dxchange", dir);
    expect_error(args, 2, "--beam-drift 0.1: the per-frame beam monitor is written in the NXtomo layout only "
                          "(ENTRY/control/data); Data Exchange defines no such dataset");
    snprintf(args, sizeof args, "sim -o '%s/x.nxs' --propagation-distance 100 --pixel-size 1", dir);
    expect_error(args, 2, "--propagation-distance 100: phase contrast needs --energy (the X-ray energy in keV, more "
                          "than 0)");
    snprintf(args, sizeof args, "sim -o '%s/x.nxs' --zingers 0.5", dir);
    expect_error(args, 2, "--zingers: '0.5' is above the maximum 0.01 (allowed: 0 to 0.01)");
}
