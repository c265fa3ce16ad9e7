/* test_rings_vo.c - Vo et al. 2018 stripe removal (kernels/rings_vo.c): sorting,
 * filtering, large and vo-all on synthetic sinograms of line integrals.
 *
 * The object is a set of Gaussian blobs, whose parallel projections are
 * Gaussians in s = x cos(theta) + y sin(theta) (a blob of amplitude A and width
 * w projects to A sqrt(2 pi) w exp(-(s - s0)^2 / (2 w^2))): a body wider than
 * the field of view (cut by the detector's edges), a hollow, and small dense
 * features off the axis, plus Gaussian noise. Stripes are additive column
 * offsets, as a gain error is on line integrals. The figure of merit follows
 * the (cli/rings_measure.h) in the sinogram: the same noisy sinogram
 * with and without offsets goes through the method, and what is left of their
 * difference is the stripe left over.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rings.h"
#include "rng.h"
#include "workers.h"

enum { NA = 360, NC = 512 };
#define NOISE 0.01

static void project_object(float *sino, size_t na, size_t nc)
{
    static const double blobs[][4] = {
        /* amplitude (per pixel), x0, y0, width (x0, y0 and width in units of nc) */
        {0.012, 0.00, 0.02, 0.20},    {0.020, 0.12, -0.05, 0.03}, {-0.010, -0.10, 0.08, 0.05},
        {0.030, -0.05, -0.12, 0.015}, {0.015, 0.20, 0.15, 0.04},
    };
    for (size_t a = 0; a < na; a++) {
        double th = M_PI * (double)a / (double)na, c = cos(th), s = sin(th);
        for (size_t j = 0; j < nc; j++) {
            double x = (double)j - 0.5 * (double)(nc - 1), v = 0;
            for (size_t b = 0; b < sizeof blobs / sizeof blobs[0]; b++) {
                double w = blobs[b][3] * (double)nc;
                double s0 = (blobs[b][1] * c + blobs[b][2] * s) * (double)nc;
                v += blobs[b][0] * sqrt(2 * M_PI) * w * exp(-(x - s0) * (x - s0) / (2 * w * w));
            }
            sino[a * nc + j] = (float)v;
        }
    }
}

static void add_noise(float *sino, size_t n, double sigma, uint64_t seed)
{
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        sino[i] += (float)(sigma * tl_rng_normal(&rng));
}

/* Column of large stripe k of n_large, spread over the width. */
static size_t large_column(size_t k, size_t n_large, size_t nc)
{
    return 20 + (nc - 40) * k / (n_large > 1 ? n_large - 1 : 1);
}

/* n_large columns of alternately -large and +large spread over the width, plus
 * N(0, small) on every column. */
static void make_offsets(double *off, size_t nc, size_t n_large, double large, double small, uint64_t seed)
{
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (size_t j = 0; j < nc; j++)
        off[j] = small * tl_rng_normal(&rng);
    for (size_t k = 0; k < n_large; k++)
        off[large_column(k, n_large, nc)] += (k % 2 ? large : -large);
}

static void add_offsets(float *sino, const double *off, size_t na, size_t nc)
{
    for (size_t a = 0; a < na; a++)
        for (size_t j = 0; j < nc; j++)
            sino[a * nc + j] += (float)off[j];
}

static double rms_diff(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / (double)n);
}

static tl_rings_params params_for(tl_rings_method m)
{
    tl_rings_params p;
    tl_rings_params_default(&p);
    p.method = m;
    return p;
}

static void run(const tl_rings_params *p, float *sino, size_t na, size_t nc)
{
    tl_rings_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_rings_plan_create(p, na, nc, NULL, &plan, &err), TL_OK, "%s", err.message);
    tl_rings_exec_one(plan, sino);
    tl_rings_plan_destroy(&plan);
}

/* The noisy object, and the same with offsets; caller frees both. */
static void make_pair(const double *off, float **clean, float **striped)
{
    size_t n = (size_t)NA * NC;
    *clean = malloc(n * sizeof **clean);
    *striped = malloc(n * sizeof **striped);
    cr_assert(*clean && *striped);
    project_object(*clean, NA, NC);
    add_noise(*clean, n, NOISE, 7);
    memcpy(*striped, *clean, n * sizeof **striped);
    add_offsets(*striped, off, NA, NC);
}

typedef struct {
    double remaining; /* ||M(striped) - M(clean)|| / ||striped - clean|| */
    double change;    /* ||M(clean) - clean|| / ||noise|| */
} score;

static score measure(tl_rings_method m, size_t n_large, double large, double small)
{
    size_t n = (size_t)NA * NC;
    double off[NC];
    float *clean, *striped;
    make_offsets(off, NC, n_large, large, small, 11);
    make_pair(off, &clean, &striped);
    float *mc = malloc(n * sizeof *mc), *ms = malloc(n * sizeof *ms);
    memcpy(mc, clean, n * sizeof *mc);
    memcpy(ms, striped, n * sizeof *ms);
    tl_rings_params p = params_for(m);
    run(&p, mc, NA, NC);
    run(&p, ms, NA, NC);
    score s = {rms_diff(ms, mc, n) / rms_diff(striped, clean, n), rms_diff(mc, clean, n) / NOISE};
    free(clean), free(striped), free(mc), free(ms);
    return s;
}

/* Six columns of +-0.1 (a 10% gain error) and N(0, 0.003) on every column,
 * pixel noise 0.01. Measured when written: remaining 0.26 (sorting), 0.25
 * (filtering), 0.12 (vo-all); change 0.12 of the noise for all three. */
Test(rings_vo, sorting_filtering_vo_all_remove_offsets_and_barely_change_a_clean_sinogram)
{
    struct {
        tl_rings_method m;
        double remaining, change;
    } bound[] = {
        {TL_RINGS_SORTING, 0.33, 0.16}, {TL_RINGS_FILTERING, 0.33, 0.16}, {TL_RINGS_VO_ALL, 0.18, 0.16}};
    for (size_t i = 0; i < sizeof bound / sizeof bound[0]; i++) {
        score s = measure(bound[i].m, 6, 0.1, 0.003);
        cr_log_info("%-9s remaining %.3f, change %.3f of the noise", tl_rings_method_name(bound[i].m), s.remaining,
                    s.change);
        cr_expect_leq(s.remaining, bound[i].remaining, "%s: %.3f of the stripes remain",
                      tl_rings_method_name(bound[i].m), s.remaining);
        cr_expect_leq(s.change, bound[i].change, "%s: a clean sinogram changed by %.3f of its noise",
                      tl_rings_method_name(bound[i].m), s.change);
    }
}

/* Columns that are the same at every angle, with isolated stripes: every
 * method gives back the stripe-free sinogram (the sorted pass measures each
 * stripe exactly, the sinogram pass predicts a constant row exactly). */
Test(rings_vo, isolated_stripes_on_a_uniform_object_are_removed_exactly)
{
    size_t n = (size_t)NA * NC;
    float *truth = malloc(n * sizeof *truth), *sino = malloc(n * sizeof *sino);
    for (size_t a = 0; a < NA; a++)
        for (size_t j = 0; j < NC; j++)
            truth[a * NC + j] = (float)(1.0 + 0.5 * sin(0.05 * (double)a));
    double off[NC] = {0};
    off[40] = 0.1, off[130] = -0.05, off[260] = 0.2, off[400] = -0.1, off[470] = 0.03;
    tl_rings_method all[] = {TL_RINGS_SORTING, TL_RINGS_FILTERING, TL_RINGS_LARGE, TL_RINGS_VO_ALL};
    for (size_t m = 0; m < 4; m++) {
        memcpy(sino, truth, n * sizeof *sino);
        add_offsets(sino, off, NA, NC);
        tl_rings_params p = params_for(all[m]);
        run(&p, sino, NA, NC);
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            worst = fmax(worst, fabs((double)sino[i] - truth[i]));
        cr_expect_leq(worst, 1e-5, "%s: off by %g", tl_rings_method_name(all[m]), worst);
    }
    free(truth), free(sino);
}

/* large corrects the columns of large stripes and nothing far from them; on
 * the stripe-free sinogram it changes nothing at all. Next to a stripe in a
 * steep part of the object the detection can spread by a column or two (the
 * stripe pulls the median of its neighbours by a step of the slope); those
 * columns are measured in the sinogram and change by little. */
Test(rings_vo, large_finds_the_large_stripes_and_nothing_on_a_clean_sinogram)
{
    size_t n = (size_t)NA * NC, n_large = 6;
    double off[NC];
    make_offsets(off, NC, n_large, 0.1, 0.0, 11);
    float *clean, *striped;
    make_pair(off, &clean, &striped);
    float *out = malloc(n * sizeof *out);
    tl_rings_params p = params_for(TL_RINGS_LARGE);

    memcpy(out, clean, n * sizeof *out);
    run(&p, out, NA, NC);
    cr_expect_eq(memcmp(out, clean, n * sizeof *out), 0, "large changed a sinogram without stripes");

    memcpy(out, striped, n * sizeof *out);
    run(&p, out, NA, NC);
    int distance[NC]; /* to the nearest stripe */
    for (size_t j = 0; j < NC; j++) {
        distance[j] = NC;
        for (size_t k = 0; k < n_large; k++) {
            int d = abs((int)j - (int)large_column(k, n_large, NC));
            distance[j] = d < distance[j] ? d : distance[j];
        }
    }
    for (size_t j = 0; j < NC; j++) {
        double left = 0; /* mean over the angles of what is left of the stripe */
        int changed = 0;
        for (size_t a = 0; a < NA; a++) {
            left += (double)out[a * NC + j] - clean[a * NC + j];
            changed |= out[a * NC + j] != striped[a * NC + j];
        }
        left /= NA;
        if (distance[j] > 3)
            cr_expect_not(changed, "column %zu changed, %d columns from the nearest stripe", j, distance[j]);
        else if (distance[j] > 1)
            cr_expect_leq(fabs(left), 0.002, "column %zu, next to a stripe, changed by %+.4f", j, left);
        if (off[j] != 0.0)
            cr_expect_leq(fabs(left), 0.1 * fabs(off[j]), "column %zu: %+.4f of %+.4f left", j, left, off[j]);
    }
    free(clean), free(striped), free(out);
}

/* A stripe 15 columns wide is more than half the sorting window (21): the
 * median across columns is then the stripe itself. large's window (51) sees
 * past it. (Where the object's line integrals change across the stripe's
 * width by more than the stripe, as on the steep flanks of this object, the
 * median across columns follows the object instead and large misses a stripe
 * this weak; measured: 0.05 is found only here, at the object's centre, 0.2 at
 * three of five places tried.) */
Test(rings_vo, large_removes_a_stripe_wider_than_half_the_sorting_window)
{
    size_t n = (size_t)NA * NC, first = 249, width = 15;
    double off[NC] = {0};
    for (size_t j = first; j < first + width; j++)
        off[j] = 0.05;
    float *clean, *striped;
    make_pair(off, &clean, &striped);
    float *out = malloc(n * sizeof *out);
    double left[2];
    tl_rings_method m[2] = {TL_RINGS_SORTING, TL_RINGS_LARGE};
    for (int k = 0; k < 2; k++) {
        memcpy(out, striped, n * sizeof *out);
        tl_rings_params p = params_for(m[k]);
        run(&p, out, NA, NC);
        left[k] = rms_diff(out, clean, n) / rms_diff(striped, clean, n);
    }
    cr_log_info("a stripe 15 columns wide: sorting left %.3f, large %.3f", left[0], left[1]);
    cr_expect_geq(left[0], 0.5, "sorting left %.3f of a wide stripe", left[0]);
    cr_expect_leq(left[1], 0.1, "large left %.3f of a wide stripe", left[1]);
    free(clean), free(striped), free(out);
}

/* vo-all replaces dead columns (the same value at every angle) by the
 * interpolation of their neighbours: afterwards they follow the object. */
Test(rings_vo, vo_all_replaces_dead_columns)
{
    size_t dead[] = {150, 151, 333};
    double off[NC] = {0};
    float *clean, *sino;
    make_pair(off, &clean, &sino);
    for (size_t d = 0; d < 3; d++)
        for (size_t a = 0; a < NA; a++)
            sino[a * NC + dead[d]] = 0.7f;
    tl_rings_params p = params_for(TL_RINGS_VO_ALL);
    run(&p, sino, NA, NC);
    for (size_t d = 0; d < 3; d++) {
        double err = 0, spread = 0, mean = 0;
        for (size_t a = 0; a < NA; a++)
            mean += clean[a * NC + dead[d]] / (double)NA;
        for (size_t a = 0; a < NA; a++) {
            double t = clean[a * NC + dead[d]], v = sino[a * NC + dead[d]];
            err += (v - t) * (v - t);
            spread += (t - mean) * (t - mean);
        }
        /* the column's variation along the angles is many times the noise; what
         * is left is about the noise of the interpolation */
        cr_expect_gt(sqrt(spread / NA), 10 * NOISE, "column %zu barely varies in the object", dead[d]);
        cr_expect_leq(sqrt(err / NA), 3 * NOISE, "dead column %zu: rms error %.4f after vo-all", dead[d],
                      sqrt(err / NA));
    }
    free(clean), free(sino);
}

/* A stripe over half of the angles (a pixel that fails during the scan): the
 * methods subtract a constant per column, the stripe's mean over the scan;
 * what is left is half the stripe, + at half the angles and - at the others,
 * 1/sqrt(2) = 0.71 of the stripe in rms (measured 0.71). */
Test(rings_vo, a_stripe_over_half_the_angles_is_halved)
{
    size_t n = (size_t)NA * NC, col = 222;
    double off[NC] = {0};
    float *clean, *striped;
    make_pair(off, &clean, &striped);
    for (size_t a = 0; a < NA / 2; a++)
        striped[a * NC + col] += 0.1f;
    float *mc = malloc(n * sizeof *mc), *ms = malloc(n * sizeof *ms);
    tl_rings_params p = params_for(TL_RINGS_SORTING);
    memcpy(mc, clean, n * sizeof *mc);
    memcpy(ms, striped, n * sizeof *ms);
    run(&p, mc, NA, NC);
    run(&p, ms, NA, NC);
    double left = rms_diff(ms, mc, n) / rms_diff(striped, clean, n);
    cr_log_info("sorting left %.3f of a stripe over half the angles", left);
    cr_expect_leq(left, 0.75, "sorting left %.3f of a stripe over half the angles", left);
    free(clean), free(striped), free(mc), free(ms);
}

/* Threads: each has its own state, and the result does not depend on which
 * thread ran a sinogram. */
Test(rings_vo, a_slab_on_threads_equals_one_sinogram_at_a_time)
{
    size_t n = (size_t)NA * NC, n_sino = 4;
    double off[NC];
    make_offsets(off, NC, 4, 0.1, 0.003, 5);
    float *clean, *striped;
    make_pair(off, &clean, &striped);
    float *slab = malloc(n_sino * n * sizeof *slab), *one = malloc(n * sizeof *one);
    tl_workers *workers = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_workers_create(2, &workers, &err), TL_OK, "%s", err.message);
    tl_rings_method all[] = {TL_RINGS_SORTING, TL_RINGS_FILTERING, TL_RINGS_LARGE, TL_RINGS_VO_ALL};
    for (size_t m = 0; m < 4; m++) {
        tl_rings_params p = params_for(all[m]);
        tl_rings_plan *plan = NULL;
        cr_assert_eq(tl_rings_plan_create(&p, NA, NC, workers, &plan, &err), TL_OK, "%s", err.message);
        for (size_t s = 0; s < n_sino; s++)
            memcpy(slab + s * n, s % 2 ? clean : striped, n * sizeof *slab);
        tl_rings_exec(plan, slab, n_sino, NC);
        for (size_t s = 0; s < n_sino; s++) {
            memcpy(one, s % 2 ? clean : striped, n * sizeof *one);
            tl_rings_exec_one(plan, one);
            cr_expect_eq(memcmp(one, slab + s * n, n * sizeof *one), 0, "%s: sinogram %zu differs",
                         tl_rings_method_name(all[m]), s);
        }
        cr_expect_gt(tl_rings_plan_bytes(plan), 2 * 2 * n * sizeof(float));
        tl_rings_plan_destroy(&plan);
    }
    tl_workers_destroy(&workers);
    free(clean), free(striped), free(slab), free(one);
}

/* NaN and infinities (a dead pixel in the flats) must not hang or crash a
 * method; the smallest sinograms work too. */
Test(rings_vo, non_finite_values_and_tiny_sinograms)
{
    size_t n = (size_t)NA * NC;
    double off[NC];
    make_offsets(off, NC, 4, 0.1, 0.003, 5);
    float *clean, *striped;
    make_pair(off, &clean, &striped);
    for (size_t a = 0; a < NA; a += 7)
        striped[a * NC + 100] = NAN, striped[a * NC + 101] = INFINITY, striped[a * NC + 300] = -INFINITY;
    tl_rings_method all[] = {TL_RINGS_SORTING, TL_RINGS_FILTERING, TL_RINGS_LARGE, TL_RINGS_VO_ALL};
    for (size_t m = 0; m < 4; m++) {
        float *work = malloc(n * sizeof *work);
        memcpy(work, striped, n * sizeof *work);
        tl_rings_params p = params_for(all[m]);
        run(&p, work, NA, NC);
        float tiny[2 * 3] = {1, 2, 3, 1.5f, 2.5f, 3.5f};
        p.sorting_size = p.filtering_size = p.large_size = p.vo_all_la_size = p.vo_all_sm_size = 3;
        run(&p, tiny, 2, 3);
        for (int i = 0; i < 6; i++)
            cr_expect(isfinite(tiny[i]), "%s: tiny sinogram gave %g", tl_rings_method_name(all[m]), tiny[i]);
        free(work);
    }
    free(clean), free(striped);
}

static void expect_error(tl_rings_params p, size_t n_cols, const char *message)
{
    tl_rings_plan *plan = NULL;
    tl_error err = {0};
    cr_expect_eq(tl_rings_plan_create(&p, 100, n_cols, NULL, &plan, &err), TL_ERR_INVALID, "accepted: %s", message);
    cr_expect_null(plan);
    cr_expect_str_eq(err.message, message);
    tl_rings_plan_destroy(&plan);
}

Test(rings_vo, bad_parameters_are_refused_with_the_option_the_value_and_what_is_allowed)
{
    tl_rings_params p = params_for(TL_RINGS_SORTING);
    p.sorting_size = 20;
    expect_error(p, 2048,
                 "--sorting-size 20: must be odd (the median window is centred on each column); allowed: odd "
                 "values from 3 to 255");
    p.sorting_size = 1;
    expect_error(p, 2048,
                 "--sorting-size 1: must be at least 3 (a median of fewer columns removes nothing); allowed: odd "
                 "values from 3 to 255");
    p.sorting_size = 257;
    expect_error(p, 2048,
                 "--sorting-size 257: must be at most 255 (a feature wider than that is the object, not a "
                 "stripe); allowed: odd values from 3 to 255");
    p.sorting_size = 101;
    expect_error(p, 100, "--sorting-size 101: wider than the sinogram (100 columns); allowed: odd values from 3 to 99");

    p = params_for(TL_RINGS_FILTERING);
    p.filtering_sigma = 0;
    expect_error(p, 2048,
                 "--filtering-sigma 0: must be greater than 0 (the width of the low-pass along the angles, in "
                 "frequency samples); allowed: finite values above 0, 3 is usual");
    p.filtering_sigma = NAN;
    expect_error(p, 2048,
                 "--filtering-sigma nan: must be greater than 0 (the width of the low-pass along the angles, in "
                 "frequency samples); allowed: finite values above 0, 3 is usual");
    p.filtering_sigma = 3;
    p.filtering_size = 22;
    expect_error(p, 2048,
                 "--filtering-size 22: must be odd (the median window is centred on each column); allowed: odd "
                 "values from 3 to 255");

    p = params_for(TL_RINGS_LARGE);
    p.large_snr = 1;
    expect_error(p, 2048,
                 "--large-snr 1: must be greater than 1 (at 1 or less the detection threshold lies inside the "
                 "noise of a stripe-free sinogram); allowed: finite values above 1, 3 is usual");
    p.large_snr = 3;
    p.large_size = 4;
    expect_error(p, 2048,
                 "--large-size 4: must be odd (the median window is centred on each column); allowed: odd values "
                 "from 3 to 255");
    p.large_size = 51;
    p.large_drop_ratio = 0.9;
    expect_error(p, 2048,
                 "--large-drop-ratio 0.9: must be from 0 to 0.8 (the fraction of each column's sorted values left "
                 "out of its level, half at each end); allowed: 0 to 0.8");
    p.large_drop_ratio = -0.1;
    expect_error(p, 2048,
                 "--large-drop-ratio -0.1: must be from 0 to 0.8 (the fraction of each column's sorted values left "
                 "out of its level, half at each end); allowed: 0 to 0.8");

    p = params_for(TL_RINGS_VO_ALL);
    p.vo_all_snr = 0.5;
    expect_error(p, 2048,
                 "--vo-all-snr 0.5: must be greater than 1 (at 1 or less the detection threshold lies inside the "
                 "noise of a stripe-free sinogram); allowed: finite values above 1, 3 is usual");
    p.vo_all_snr = 3;
    p.vo_all_la_size = 61;
    expect_error(p, 50, "--vo-all-la-size 61: wider than the sinogram (50 columns); allowed: odd values from 3 to 49");
    p.vo_all_sm_size = 0;
    expect_error(p, 2048,
                 "--vo-all-sm-size 0: must be at least 3 (a median of fewer columns removes nothing); allowed: odd "
                 "values from 3 to 255");

    /* the defaults fit a 2048-wide detector */
    tl_rings_method all[] = {TL_RINGS_SORTING, TL_RINGS_FILTERING, TL_RINGS_LARGE, TL_RINGS_VO_ALL};
    for (size_t m = 0; m < 4; m++) {
        tl_rings_params d = params_for(all[m]);
        tl_rings_plan *plan = NULL;
        tl_error err = {0};
        cr_expect_eq(tl_rings_plan_create(&d, 100, 2048, NULL, &plan, &err), TL_OK, "%s", err.message);
        tl_rings_plan_destroy(&plan);
    }
}
