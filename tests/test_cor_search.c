/* test_cor_search.c - the centre-of-rotation searches (cor.h) on simulated
 * sinograms with known axes, the sub-pixel peak fit, the degenerate inputs,
 * and `tomoline cor` / `recon --rotation-axis auto` end to end. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor.h"
#include "cor_methods.h"
#include "rng.h"
#include "sim.h"
#include "support.h"
#include "workers.h"

typedef struct {
    float *sino;
    double *angles;
    tl_cor_sinograms in;
} sim_sino;

/* Rows of an analytic phantom scanned with the axis at `axis`, Poisson noise
 * for `photons` (0: none) and per-column gain errors of relative size `rings`. */
static void make_sino(sim_sino *s, tl_phantom_kind kind, size_t w, size_t n_angles, double arc, double axis,
                      size_t rows, double photons, double rings, uint64_t seed)
{
    s->sino = malloc(rows * n_angles * w * sizeof *s->sino);
    s->angles = malloc(n_angles * sizeof *s->angles);
    cr_assert(s->sino && s->angles);
    for (size_t i = 0; i < n_angles; i++)
        s->angles[i] = arc * (double)i / (double)n_angles;
    tl_phantom *ph = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_phantom_create(kind, w, rows * 4, axis, 10, seed, &ph, &err), TL_OK, "%s", err.message);
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    double *gain = malloc(w * sizeof *gain);
    for (size_t c = 0; c < w; c++)
        gain[c] = 1.0 + rings * tl_rng_normal(&rng);
    for (size_t r = 0; r < rows; r++) {
        float *line = s->sino + r * n_angles * w;
        tl_phantom_project_row(ph, 4 * r + 2 * rows / 2 + 1, s->angles, n_angles, line);
        for (size_t k = 0; k < n_angles * w; k++) {
            double t = exp(-line[k]) * gain[k % w];
            if (photons > 0) {
                double counts = tl_rng_poisson(&rng, photons * t);
                t = (counts < 1 ? 1 : counts) / photons;
            }
            line[k] = (float)-log(t);
        }
    }
    free(gain);
    tl_phantom_destroy(&ph);
    s->in = (tl_cor_sinograms){.sino = s->sino, .n_rows = rows, .n_angles = n_angles, .n_cols = w,
                               .angles_deg = s->angles};
}

static void free_sino(sim_sino *s)
{
    free(s->sino);
    free(s->angles);
}

static tl_workers *workers(void)
{
    static tl_workers *w;
    tl_error err = {0};
    if (!w)
        cr_assert_eq(tl_workers_create(2, &w, &err), TL_OK);
    return w;
}

static double find(const tl_cor_sinograms *in, tl_cor_method m, tl_cor_report *rep)
{
    tl_error err = {0};
    tl_status st = tl_cor_find(in, m, NULL, workers(), rep, &err);
    cr_assert_eq(st, TL_OK, "%s: %s", tl_cor_method_name(m), err.message);
    return rep->axis;
}

/* Each method on a noisy 180-degree scan and a noisy 360-degree scan with
 * fractional axis offsets, within the tolerances. */
static void check_methods(double arc, double offset, tl_phantom_kind kind, double rings)
{
    const size_t w = 192;
    double axis = 0.5 * (w - 1) + offset;
    sim_sino s;
    make_sino(&s, kind, w, 360, arc, axis, 4, 2e4, rings, 7);
    static const struct {
        tl_cor_method m;
        double tol;
    } cases[] = {{TL_COR_REGISTRATION, 0.15}, {TL_COR_VO, 0.15}, {TL_COR_ENTROPY, 0.35}, {TL_COR_CNN, 0.5},
                   {TL_COR_AUTO, 0.1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tl_cor_report rep;
        double a = find(&s.in, cases[i].m, &rep);
        cr_expect(fabs(a - axis) <= cases[i].tol, "%s on a %.0f-degree scan: %.3f, true %.3f (tolerance %.2f)",
                  tl_cor_method_name(cases[i].m), arc, a, axis, cases[i].tol);
        cr_expect(rep.confidence > 0 && rep.confidence <= 1, "%s: confidence %.3f", tl_cor_method_name(cases[i].m),
                  rep.confidence);
    }
    free_sino(&s);
}

Test(cor_search, methods_on_180_degrees) { check_methods(180, -17.37, TL_PHANTOM_ELLIPSES, 0); }
Test(cor_search, methods_on_360_degrees) { check_methods(360, 21.64, TL_PHANTOM_SHEPP_LOGAN, 0); }
Test(cor_search, methods_with_rings) { check_methods(180, 8.81, TL_PHANTOM_SHEPP_LOGAN, 0.003); }

/* The trial-slice searches with each trial reconstruction given explicitly
 * (--rotation-axis-algorithm fbp|gridrec; the default, auto, is what
 * check_methods runs: gridrec for entropy, fbp for the CNN) keep the
 * tolerances. */
Test(cor_search, trial_searches_with_either_algorithm, .timeout = 120)
{
    const size_t w = 192;
    double axis = 0.5 * (w - 1) - 13.26;
    sim_sino s;
    make_sino(&s, TL_PHANTOM_ELLIPSES, w, 360, 180, axis, 4, 2e4, 0, 11);
    static const struct {
        tl_cor_method m;
        double tol;
    } cases[] = {{TL_COR_ENTROPY, 0.35}, {TL_COR_CNN, 0.5}};
    static const tl_algorithm algorithms[] = {TL_ALGORITHM_FBP, TL_ALGORITHM_GRIDREC};
    for (size_t a = 0; a < 2; a++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            tl_cor_options opt = {.trial_given = 1, .trial_algorithm = algorithms[a]};
            tl_cor_report rep;
            tl_error err = {0};
            cr_assert_eq(tl_cor_find(&s.in, cases[i].m, &opt, workers(), &rep, &err), TL_OK, "%s", err.message);
            cr_expect(fabs(rep.axis - axis) <= cases[i].tol, "%s with %s trials: %.3f, true %.3f (tolerance %.2f)",
                      tl_cor_method_name(cases[i].m), tl_algorithm_name(algorithms[a]), rep.axis, axis,
                      cases[i].tol);
        }
    free_sino(&s);
}

/* The sub-pixel fit: two opposite lines whose mirror relation is an exact,
 * fractional shift (smooth profiles sampled analytically). */
Test(cor_search, registration_subpixel_peak)
{
    const size_t w = 128;
    static const double axes[] = {60.13, 63.5, 64.77, 70.01};
    for (size_t t = 0; t < sizeof axes / sizeof axes[0]; t++) {
        double a = axes[t];
        float sino[2 * 128];
        double angles[2] = {0, 180};
        /* p0(s) for s = c - a; p180(c) = p0(-(c - a)) */
        for (size_t c = 0; c < w; c++) {
            double s0 = (double)c - a, s1 = -((double)c - a);
            sino[c] = (float)(exp(-0.5 * pow((s0 - 9.3) / 3.0, 2)) + 0.6 * exp(-0.5 * pow((s0 + 14.1) / 5.0, 2)));
            sino[w + c] = (float)(exp(-0.5 * pow((s1 - 9.3) / 3.0, 2)) + 0.6 * exp(-0.5 * pow((s1 + 14.1) / 5.0, 2)));
        }
        tl_cor_sinograms in = {.sino = sino, .n_rows = 1, .n_angles = 2, .n_cols = w, .angles_deg = angles};
        tl_cor_report rep;
        double found = find(&in, TL_COR_REGISTRATION, &rep);
        cr_expect(fabs(found - a) < 0.01, "axis %.3f found at %.4f", a, found);
    }
}

/* An arc whose last angle is not 180 degrees from the first (0..179 in 1-degree
 * steps: 0 pairs with 179): the partner is moved to 180 degrees. */
Test(cor_search, registration_on_an_arc_short_of_180)
{
    const size_t w = 160;
    double axis = 0.5 * (w - 1) + 11.3;
    sim_sino s;
    make_sino(&s, TL_PHANTOM_SHEPP_LOGAN, w, 180, 180, axis, 2, 0, 0, 3); /* angles 0, 1, ..., 179 */
    tl_cor_report rep;
    double a = find(&s.in, TL_COR_REGISTRATION, &rep);
    cr_expect(fabs(a - axis) < 0.05, "found %.3f, true %.3f", a, axis);
    free_sino(&s);
}

static void expect_error(const tl_cor_sinograms *in, tl_cor_method m, const char *needle)
{
    tl_cor_report rep;
    tl_error err = {0};
    tl_status st = tl_cor_find(in, m, NULL, workers(), &rep, &err);
    cr_expect_neq(st, TL_OK, "%s accepted degenerate data", tl_cor_method_name(m));
    cr_expect(strstr(err.message, needle) != NULL, "%s: expected '%s' in '%s'", tl_cor_method_name(m), needle,
              err.message);
}

Test(cor_search, degenerate_inputs_are_errors)
{
    const size_t w = 64;
    static float flat[4 * 64 * 180];
    static double angles[180];
    for (size_t i = 0; i < 180; i++)
        angles[i] = (double)i;
    for (size_t k = 0; k < sizeof flat / sizeof flat[0]; k++)
        flat[k] = 0.25f;
    tl_cor_sinograms in = {.sino = flat, .n_rows = 4, .n_angles = 180, .n_cols = w, .angles_deg = angles};
    for (int m = 0; m < TL_COR_METHOD_COUNT; m++)
        expect_error(&in, (tl_cor_method)m, "centre search: the sinograms have no contrast (all values 0.25");

    sim_sino s;
    make_sino(&s, TL_PHANTOM_SHEPP_LOGAN, w, 120, 120, 31.5, 1, 0, 0, 1); /* 0..119 degrees */
    for (int m = 0; m < TL_COR_METHOD_COUNT; m++)
        expect_error(&s.in, (tl_cor_method)m,
                     "centre search: the projections cover 120.00 degrees (0.00 to 119.00, 120 angles); finding "
                     "the axis needs an arc of at least 180 degrees");
    s.in.n_angles = 1;
    for (int m = 0; m < TL_COR_METHOD_COUNT; m++)
        expect_error(&s.in, (tl_cor_method)m, "centre search: the scan has 1 projection angle");
    free_sino(&s);

    make_sino(&s, TL_PHANTOM_SHEPP_LOGAN, w, 90, 180, 31.5, 1, 0, 0, 1);
    tl_cor_options bad = {.window_lo = 40, .window_hi = 20};
    tl_cor_report rep;
    tl_error err = {0};
    cr_expect_neq(tl_cor_find(&s.in, TL_COR_VO, &bad, workers(), &rep, &err), TL_OK);
    cr_expect_str_eq(err.message, "centre search: the window 40.00..20.00 is not a range of axes on the detector "
                                  "(allowed: within 0..63, low below high)");
    free_sino(&s);
}

/* With the axis outside the window, a method says so instead of answering the edge. */
Test(cor_search, axis_outside_the_window_is_an_error)
{
    const size_t w = 128;
    sim_sino s;
    make_sino(&s, TL_PHANTOM_SHEPP_LOGAN, w, 180, 180, 0.5 * (w - 1) + 20.0, 2, 0, 0, 1);
    tl_cor_options opt = {.window_lo = 50, .window_hi = 70};
    static const tl_cor_method ms[] = {TL_COR_REGISTRATION, TL_COR_VO};
    for (size_t i = 0; i < 2; i++) {
        tl_cor_report rep;
        tl_error err = {0};
        cr_expect_neq(tl_cor_find(&s.in, ms[i], &opt, workers(), &rep, &err), TL_OK, "%s answered %.2f",
                      tl_cor_method_name(ms[i]), rep.axis);
        cr_expect(strstr(err.message, "search window") != NULL, "%s", err.message);
    }
    free_sino(&s);
}

Test(cor_search, method_names_parse)
{
    tl_cor_method m;
    tl_error err = {0};
    cr_assert_eq(tl_cor_method_parse("vo", &m, &err), TL_OK);
    cr_assert_eq(m, TL_COR_VO);
    cr_assert_neq(tl_cor_method_parse("centroid", &m, &err), TL_OK);
    cr_assert_str_eq(err.message, "--rotation-axis-method: 'centroid' is not a method (allowed: entropy, "
                                  "registration, vo, cnn, auto)");
}

/* End to end: a scan file through `tomoline cor` (last line, --json) and recon's
 * default --rotation-axis auto recorded in the provenance. */
Test(cor_search, cli_cor_and_recon_auto, .timeout = 120)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    tl_test_run_result r;
    tl_test_run(&r, "sim -q -o %s/scan.nxs --size 128 --angles 180 --slices 4 --axis-offset 6.3 --photons 20000 "
                    "--phantom ellipses --progress none",
                dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    tl_test_run(&r, "cor %s/scan.nxs", dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *last = r.out + strlen(r.out);
    while (last > r.out && last[-1] == '\n')
        last--;
    while (last > r.out && last[-1] != '\n')
        last--;
    double a = strtod(last, NULL);
    cr_expect(fabs(a - (63.5 + 6.3)) < 0.1, "last line '%s'", last);
    cr_expect(strstr(r.out, "registration") && strstr(r.out, "vo"), "%s", r.out);

    tl_test_run(&r, "cor %s/scan.nxs --rotation-axis-method registration --json", dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *v = strstr(r.out, "\"rotation_axis\": ");
    cr_assert_not_null(v, "%s", r.out);
    cr_expect(fabs(strtod(v + 17, NULL) - 69.8) < 0.1, "%s", r.out);
    cr_expect(strstr(r.out, "\"method\": \"registration\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"confidence\": ") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"methods\": {\"registration\": {\"rotation_axis\": ") != NULL, "%s", r.out);

    tl_test_run(&r, "cor %s/scan.nxs --rotation-axis-method sideways", dir);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "tomoline: error: --rotation-axis-method") != NULL, "%s", r.err);

    tl_test_run(&r, "recon -q %s/scan.nxs -o %s/rec.nxs --progress none", dir, dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "h5dump -a /entry/process/rotation_axis/method %s/rec.nxs", dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char buf[8192] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    pclose(p);
    cr_expect(strstr(buf, "auto: registration and vo agree") != NULL, "%s", buf);
    const char *reg = strstr(buf, "; registration ");
    cr_assert_not_null(reg, "%s", buf);
    cr_expect(fabs(strtod(reg + 15, NULL) - 69.8) < 0.1, "%s", buf);
}
