/* test_gridrec.c - Fourier gridding reconstruction (kernels/gridrec.h, issue 8):
 * it is the FBP sum evaluated exactly up to the gridding error (checked against
 * the direct non-uniform Fourier sum), a uniform disk and a point come back with
 * their values and at their positions (centred and off-centre axes, even and odd
 * widths, two slices per FFT), on random phantoms it is as accurate as the direct
 * FBP, and bad arguments get exact messages. */
#include <criterion/criterion.h>
#include <complex.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fbp.h"
#include "filter.h"
#include "gridrec.h"
#include "sim.h"
#include "support.h"
#include "workers.h"


/* Pixel-averaged projection of the Gaussian blob amp exp(-r^2 / (2 sigma^2)) at (x0, y0):
 * p(s) = amp sqrt(2 pi) sigma exp(-(s - s0)^2 / (2 sigma^2)), averaged over [s - 1/2, s + 1/2]. */
static double blob_projection(double j, double a, double theta, double x0, double y0, double sigma, double amp)
{
    double s = j - a - (x0 * cos(theta) + y0 * sin(theta));
    double cdf_hi = 0.5 * erfc(-(s + 0.5) / (sigma * M_SQRT2)), cdf_lo = 0.5 * erfc(-(s - 0.5) / (sigma * M_SQRT2));
    return amp * 2.0 * M_PI * sigma * sigma * (cdf_hi - cdf_lo);
}

/* Sinograms in the guarded layout of backproject.h: line (s, i) at (s * na + i) * stride + 1. */
typedef struct {
    size_t n_slices, n_angles, n_cols, stride;
    double *angles;
    float *guarded; /* for gridrec */
    float *plain;   /* [n_slices][n_angles][n_cols], for tl_fbp_exec_copy */
} sinograms;

static sinograms sinograms_new(size_t n_slices, size_t n_angles, size_t n_cols, double arc)
{
    sinograms s = {.n_slices = n_slices, .n_angles = n_angles, .n_cols = n_cols, .stride = n_cols + 2};
    s.angles = malloc(n_angles * sizeof *s.angles);
    s.guarded = calloc(n_slices * n_angles * s.stride, sizeof *s.guarded);
    s.plain = calloc(n_slices * n_angles * n_cols, sizeof *s.plain);
    cr_assert(s.angles && s.guarded && s.plain);
    for (size_t i = 0; i < n_angles; i++)
        s.angles[i] = arc * (double)i / (double)n_angles;
    return s;
}

static void sinograms_set(sinograms *s, size_t slice, size_t angle, size_t col, double value)
{
    s->guarded[(slice * s->n_angles + angle) * s->stride + 1 + col] = (float)value;
    s->plain[(slice * s->n_angles + angle) * s->n_cols + col] = (float)value;
}

static void sinograms_free(sinograms *s)
{
    free(s->angles);
    free(s->guarded);
    free(s->plain);
}

static float *run_gridrec(const sinograms *s, size_t n, double axis, tl_filter_window window, int threads)
{
    tl_workers *workers = NULL;
    tl_gridrec_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_workers_create(threads, &workers, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_gridrec_plan_create(s->n_angles, s->n_cols, n, s->angles, window, workers, &plan, &err), TL_OK,
                 "%s", err.message);
    size_t side = n ? n : s->n_cols;
    float *out = malloc(s->n_slices * side * side * sizeof *out);
    cr_assert_eq(tl_gridrec_exec(plan, s->guarded, s->stride, s->n_slices, axis, out, &err), TL_OK, "%s",
                 err.message);
    tl_gridrec_plan_destroy(&plan);
    cr_assert_null(plan);
    tl_workers_destroy(&workers);
    return out;
}

static float *run_fbp(const sinograms *s, double axis, tl_filter_window window)
{
    tl_workers *workers = NULL;
    tl_fbp_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_workers_create(2, &workers, &err), TL_OK);
    tl_fbp_desc d = {.n_angles = s->n_angles, .n_cols = s->n_cols, .max_slices = s->n_slices,
                     .angles_deg = s->angles, .axis = axis, .window = window, .backend = TL_BACKEND_CPU};
    cr_assert_eq(tl_fbp_plan_create(&d, workers, &plan, &err), TL_OK, "%s", err.message);
    float *out = malloc(s->n_slices * s->n_cols * s->n_cols * sizeof *out);
    cr_assert_eq(tl_fbp_exec_copy(plan, s->plain, s->n_slices, out, &err), TL_OK, "%s", err.message);
    tl_fbp_plan_destroy(&plan);
    tl_workers_destroy(&workers);
    return out;
}

/* Relative L2 of (a - b) over a disk of `radius` centred at (x0, y0) (DESIGN.md coordinates), against `ref`. */
static double rel_l2_around(const float *a, const float *b, size_t n, double x0, double y0, double radius,
                            double ref)
{
    double num = 0, den = 0, centre = 0.5 * ((double)n - 1);
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < n; c++) {
            double x = (double)c - centre - x0, y = (double)r - centre - y0;
            if (x * x + y * y <= radius * radius) {
                double d = b ? (double)a[r * n + c] - b[r * n + c] : (double)a[r * n + c] - ref;
                num += d * d;
                den += b ? (double)b[r * n + c] * b[r * n + c] : ref * ref;
            }
        }
    return sqrt(num / den);
}

/* Three slices (two share an FFT, the third is alone in its pair), each a disk of
 * its own value and place: each comes back with its value inside, zero outside. */
static void check_disks(size_t w, size_t na, double arc, double axis_offset, int threads)
{
    const double rad = 0.25 * (double)w, a = 0.5 * ((double)w - 1) + axis_offset;
    const double rho[3] = {0.02, 0.05, -0.01}, x0[3] = {0, 6.5, -4}, y0[3] = {0, -3, 5.25};
    sinograms s = sinograms_new(3, na, w, arc);
    for (size_t z = 0; z < 3; z++)
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < w; j++)
                sinograms_set(&s, z, i, j,
                              tl_test_disk_projection((double)j, a, s.angles[i] * M_PI / 180.0, x0[z], y0[z], rad, rho[z]));
    float *rec = run_gridrec(&s, 0, a, TL_FILTER_RAMP, threads);
    for (size_t z = 0; z < 3; z++) {
        const float *slice = rec + z * w * w;
        double mean = tl_test_mean_disk(slice, w, x0[z], y0[z], 0.8 * rad);
        cr_assert(fabs(mean / rho[z] - 1.0) < 0.002, "W %zu slice %zu: mean inside %g, expected %g (ratio %.5f)", w,
                  z, mean, rho[z], mean / rho[z]);
        double rel = rel_l2_around(slice, NULL, w, x0[z], y0[z], 0.8 * rad, rho[z]);
        cr_assert(rel < 0.03, "W %zu slice %zu: relative L2 error inside 0.8 R is %g", w, z, rel);
        /* between the disk and the edge of the field the slice is empty */
        double outside = tl_test_mean_disk(slice, w, -0.39 * (double)w, 0, 0.03 * (double)w);
        cr_assert(fabs(outside) < 0.01 * fabs(rho[z]), "W %zu slice %zu: mean outside %g", w, z, outside);
    }
    free(rec);
    sinograms_free(&s);
}

Test(gridrec, uniform_disks_return_their_values)
{
    check_disks(128, 360, 180.0, 0.0, 2);
    check_disks(129, 300, 360.0, -3.3, 1);
    check_disks(100, 250, 180.0, 4.75, 3);
}

/* A narrow Gaussian blob lands on its pixel, with its sub-pixel position and mass. */
static void check_point(size_t w, double axis_offset, double x0, double y0)
{
    const size_t na = 2 * w;
    const double a = 0.5 * ((double)w - 1) + axis_offset, sigma = 0.8, amp = 1.0;
    sinograms s = sinograms_new(1, na, w, 180.0);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < w; j++)
            sinograms_set(&s, 0, i, j, blob_projection((double)j, a, s.angles[i] * M_PI / 180.0, x0, y0, sigma, amp));
    float *rec = run_gridrec(&s, 0, a, TL_FILTER_RAMP, 2);
    size_t best = 0;
    for (size_t p = 1; p < w * w; p++)
        if (rec[p] > rec[best])
            best = p;
    const double centre = 0.5 * ((double)w - 1);
    const long want_c = lround(x0 + centre), want_r = lround(y0 + centre);
    cr_assert(best / w == (size_t)want_r && best % w == (size_t)want_c,
              "W %zu axis %+.2f: peak at row %zu column %zu, expected row %ld column %ld", w, axis_offset, best / w,
              best % w, want_r, want_c);
    /* centroid and mass over a 13 x 13 window around the peak */
    double mass = 0, mx = 0, my = 0;
    for (long r = want_r - 6; r <= want_r + 6; r++)
        for (long c = want_c - 6; c <= want_c + 6; c++) {
            double v = rec[(size_t)r * w + (size_t)c];
            mass += v;
            mx += v * ((double)c - centre);
            my += v * ((double)r - centre);
        }
    double expected_mass = amp * 2.0 * M_PI * sigma * sigma;
    cr_assert(fabs(mass / expected_mass - 1.0) < 0.02, "W %zu: mass %g, expected %g", w, mass, expected_mass);
    cr_assert(fabs(mx / mass - x0) < 0.03 && fabs(my / mass - y0) < 0.03,
              "W %zu axis %+.2f: centroid (%.3f, %.3f), expected (%.3f, %.3f)", w, axis_offset, mx / mass, my / mass,
              x0, y0);
    free(rec);
    sinograms_free(&s);
}

Test(gridrec, a_point_lands_at_its_position)
{
    /* on a pixel centre (x = c - (W-1)/2), then between pixels */
    check_point(128, 0.0, 20.5, -30.5);
    check_point(128, 3.3, 20.5, -30.5);
    check_point(129, 0.0, -17.0, 9.0);
    check_point(129, 3.3, -17.0, 9.0);
    check_point(96, -5.6, 10.2, 14.7);
}

/* The sum the plan approximates, evaluated directly in double precision:
 *   f(x) = sum_i w_i sum_{k = -M/2..M/2} c_k H(|k|) L(k)/M P_i(k) exp(2 pi i k (x cos + y sin) / M),
 *   P_i(k) = sum_j p_ij exp(-2 pi i k (j - a) / M), c_k = 1/2 at |k| = M/2, else 1,
 * with H of tl_filter_design, w of tl_angle_weights and L(k) = sqrt((2 + cos(2 pi k / M)) / 3),
 * the mean power response of the direct FBP's linear interpolation (see gridrec_cpu.c). */
static void exact_fourier_sum(const sinograms *s, size_t slice, size_t n, size_t m, double a,
                              tl_filter_window window, double *out)
{
    double *h = malloc((m / 2 + 1) * sizeof *h), *w = malloc(s->n_angles * sizeof *w);
    double complex *q = malloc((m + 1) * sizeof *q);
    tl_error err = {0};
    cr_assert_eq(tl_angle_weights(s->angles, s->n_angles, w, &err), TL_OK);
    tl_filter_design(window, m, h);
    memset(out, 0, n * n * sizeof *out);
    for (size_t i = 0; i < s->n_angles; i++) {
        const float *p = s->plain + (slice * s->n_angles + i) * s->n_cols;
        double th = s->angles[i] * M_PI / 180.0, ct = cos(th), st = sin(th);
        for (long k = -(long)m / 2; k <= (long)m / 2; k++) {
            double complex sum = 0;
            for (size_t j = 0; j < s->n_cols; j++)
                sum += p[j] * cexp(-2.0 * M_PI * I * (double)k * ((double)j - a) / (double)m);
            double interpolation = sqrt((2.0 + cos(2.0 * M_PI * (double)k / (double)m)) / 3.0);
            double weight = h[labs(k)] * interpolation * w[i] / (double)m * (labs(k) == (long)m / 2 ? 0.5 : 1.0);
            q[k + (long)m / 2] = weight * sum;
        }
        for (size_t r = 0; r < n; r++)
            for (size_t c = 0; c < n; c++) {
                double x = (double)c - 0.5 * ((double)n - 1), y = (double)r - 0.5 * ((double)n - 1);
                double t = x * ct + y * st;
                double complex step = cexp(2.0 * M_PI * I * t / (double)m), e = cexp(-M_PI * I * t), acc = 0;
                for (size_t k = 0; k <= m; k++, e *= step)
                    acc += q[k] * e;
                out[r * n + c] += creal(acc);
            }
    }
    free(h);
    free(w);
    free(q);
}

static void check_exact(size_t w, size_t n, size_t na, double axis_offset, tl_filter_window window)
{
    const double a = 0.5 * ((double)w - 1) + axis_offset;
    sinograms s = sinograms_new(2, na, w, 180.0);
    for (size_t i = 0; i < na; i++) /* irregular angles */
        s.angles[i] += 0.37 * (double)(i % 3);
    srand(5);
    for (size_t z = 0; z < 2; z++)
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < w; j++)
                sinograms_set(&s, z, i, j, (double)rand() / RAND_MAX);
    tl_gridrec_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_gridrec_plan_create(na, w, n, s.angles, window, NULL, &plan, &err), TL_OK, "%s", err.message);
    size_t side = n ? n : w, m = tl_gridrec_plan_grid_size(plan);
    cr_assert(m % 2 == 0 && m >= 2 * (side > w ? side : w), "grid side %zu for %zu columns and %zu pixels", m, w,
              side);
    float *rec = malloc(2 * side * side * sizeof *rec);
    cr_assert_eq(tl_gridrec_exec(plan, s.guarded, s.stride, 2, a, rec, &err), TL_OK, "%s", err.message);
    double *exact = malloc(side * side * sizeof *exact);
    for (size_t z = 0; z < 2; z++) {
        exact_fourier_sum(&s, z, side, m, a, window, exact);
        double num = 0, den = 0;
        for (size_t p = 0; p < side * side; p++) {
            double d = rec[z * side * side + p] - exact[p];
            num += d * d;
            den += exact[p] * exact[p];
        }
        cr_assert(sqrt(num / den) < 1e-4, "W %zu N %zu slice %zu: gridrec differs from the exact sum by %g", w, side,
                  z, sqrt(num / den));
    }
    free(exact);
    free(rec);
    tl_gridrec_plan_destroy(&plan);
    sinograms_free(&s);
}

Test(gridrec, equals_the_exact_fourier_sum_up_to_the_gridding_error)
{
    check_exact(32, 0, 40, 0.0, TL_FILTER_RAMP);
    check_exact(33, 0, 41, 2.3, TL_FILTER_SHEPP);
    check_exact(32, 45, 40, -1.6, TL_FILTER_HANN);
    /* tiny detectors: the kernel is wider than the data, the grid has its minimum side */
    check_exact(2, 0, 2, 0.0, TL_FILTER_RAMP);
    check_exact(3, 5, 7, 0.4, TL_FILTER_PARZEN);
}

/* Random ellipses (tomoline's simulator, exact pixel-averaged projections):
 * gridrec's error against the ground truth is within 5% of the direct FBP's
 * (issue 8), and the two reconstructions differ by less than the FBP's error. */
static void check_phantom(tl_phantom_kind kind, size_t w, size_t na, double arc, double axis_offset, uint64_t seed)
{
    const double a = 0.5 * ((double)w - 1) + axis_offset;
    tl_phantom *ph = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_phantom_create(kind, w, 1, a, 20, seed, &ph, &err), TL_OK, "%s", err.message);
    sinograms s = sinograms_new(1, na, w, arc);
    tl_phantom_project_row(ph, 0, s.angles, na, s.plain);
    for (size_t i = 0; i < na; i++)
        memcpy(s.guarded + i * s.stride + 1, s.plain + i * w, w * sizeof(float));
    float *truth = malloc(w * w * sizeof *truth);
    tl_phantom_slice(ph, 0, truth);
    float *grid = run_gridrec(&s, 0, a, TL_FILTER_RAMP, 2), *fbp = run_fbp(&s, a, TL_FILTER_RAMP);
    const double radius = 0.5 * (double)w - 4;
    double err_grid = tl_test_rel_l2_disk(grid, truth, w, radius), err_fbp = tl_test_rel_l2_disk(fbp, truth, w, radius);
    double diff = tl_test_rel_l2_disk(grid, fbp, w, radius);
    printf("gridrec %s %zu px %zu angles arc %.0f offset %+.2f: relative L2 gridrec %.5f, fbp %.5f (ratio %.4f), "
           "gridrec vs fbp %.5f\n",
           kind == TL_PHANTOM_SHEPP_LOGAN ? "shepp-logan" : "ellipses", w, na, arc, axis_offset, err_grid, err_fbp,
           err_grid / err_fbp, diff);
    cr_assert(err_grid <= 1.05 * err_fbp, "W %zu, %zu angles over %.0f: gridrec error %.5f, fbp %.5f", w, na, arc,
              err_grid, err_fbp);
    cr_assert(diff < err_fbp, "W %zu: gridrec and fbp differ by %.5f, more than fbp's error %.5f", w, diff, err_fbp);
    free(truth);
    free(grid);
    free(fbp);
    sinograms_free(&s);
    tl_phantom_destroy(&ph);
}

Test(gridrec, as_accurate_as_the_direct_fbp_on_random_phantoms, .timeout = 120)
{
    check_phantom(TL_PHANTOM_ELLIPSES, 64, 96, 180.0, 0.0, 1);
    check_phantom(TL_PHANTOM_ELLIPSES, 127, 200, 360.0, -2.5, 2);
    check_phantom(TL_PHANTOM_ELLIPSES, 200, 300, 180.0, 3.3, 3);
    check_phantom(TL_PHANTOM_ELLIPSES, 257, 400, 360.0, 1.75, 4);
    check_phantom(TL_PHANTOM_SHEPP_LOGAN, 256, 360, 180.0, -4.5, 5);
}

Test(gridrec, full_turn_equals_half_turn)
{
    enum { W = 96, NA = 240 };
    const double a = 0.5 * (W - 1) - 3.5; /* 2a is an integer: the second half-turn sees the same samples */
    sinograms half = sinograms_new(1, NA, W, 180.0), full = sinograms_new(1, 2 * NA, W, 360.0);
    for (size_t i = 0; i < 2 * NA; i++)
        for (size_t j = 0; j < W; j++) {
            double v = tl_test_disk_projection((double)j, a, full.angles[i] * M_PI / 180.0, 5, 8, 20.0, 0.03);
            sinograms_set(&full, 0, i, j, v);
            if (i < NA)
                sinograms_set(&half, 0, i, j, v);
        }
    float *r180 = run_gridrec(&half, 0, a, TL_FILTER_SHEPP, 1), *r360 = run_gridrec(&full, 0, a, TL_FILTER_SHEPP, 2);
    double rel = tl_test_rel_l2_disk(r360, r180, W, 40.0);
    cr_assert(rel < 1e-4, "relative difference %g", rel);
    free(r180);
    free(r360);
    sinograms_free(&half);
    sinograms_free(&full);
}

Test(gridrec, thread_count_does_not_change_the_result_and_the_input_is_kept)
{
    enum { W = 70, NA = 90, S = 5 };
    const double a = 33.8;
    sinograms s = sinograms_new(S, NA, W, 180.0);
    for (size_t z = 0; z < S; z++)
        for (size_t i = 0; i < NA; i++)
            for (size_t j = 0; j < W; j++)
                sinograms_set(&s, z, i, j,
                              tl_test_disk_projection((double)j, a, s.angles[i] * M_PI / 180.0, 3.0 * z, -2, 15.0, 0.05));
    /* the guards are not read: poison them */
    for (size_t l = 0; l < S * NA; l++) {
        s.guarded[l * s.stride] = NAN;
        s.guarded[l * s.stride + W + 1] = NAN;
    }
    float *copy = malloc(S * NA * s.stride * sizeof *copy);
    memcpy(copy, s.guarded, S * NA * s.stride * sizeof *copy);
    float *r1 = run_gridrec(&s, 0, a, TL_FILTER_HANN, 1), *r3 = run_gridrec(&s, 0, a, TL_FILTER_HANN, 3);
    cr_assert(memcmp(copy, s.guarded, S * NA * s.stride * sizeof *copy) == 0, "the input was modified");
    for (size_t p = 0; p < (size_t)S * W * W; p++) {
        cr_assert(isfinite(r1[p]), "pixel %zu is %g", p, r1[p]);
        cr_assert_eq(r1[p], r3[p], "pixel %zu: %g with 1 thread, %g with 3", p, r1[p], r3[p]);
    }
    free(copy);
    free(r1);
    free(r3);
    sinograms_free(&s);
}

Test(gridrec, output_larger_than_the_detector)
{
    enum { W = 96, NA = 300, N = 150 };
    const double a = 0.5 * (W - 1) + 2.0;
    sinograms s = sinograms_new(1, NA, W, 180.0);
    for (size_t i = 0; i < NA; i++)
        for (size_t j = 0; j < W; j++)
            sinograms_set(&s, 0, i, j, tl_test_disk_projection((double)j, a, s.angles[i] * M_PI / 180.0, -4, 6, 30.0, 0.04));
    float *rec = run_gridrec(&s, N, a, TL_FILTER_RAMP, 2);
    double mean = tl_test_mean_disk(rec, N, -4, 6, 24.0);
    cr_assert(fabs(mean / 0.04 - 1.0) < 0.002, "mean inside %g", mean);
    cr_assert(fabs(tl_test_mean_disk(rec, N, 35, -20, 4.0)) < 0.01 * 0.04);
    free(rec);
    sinograms_free(&s);
}

Test(gridrec, an_axis_far_off_the_detector_sees_nothing)
{
    enum { W = 40, NA = 30 };
    sinograms s = sinograms_new(1, NA, W, 180.0);
    for (size_t i = 0; i < NA; i++)
        for (size_t j = 0; j < W; j++)
            sinograms_set(&s, 0, i, j, 1.0);
    tl_gridrec_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_gridrec_plan_create(NA, W, 0, s.angles, TL_FILTER_RAMP, NULL, &plan, &err), TL_OK);
    float out[W * W];
    const double axes[] = {-1e6, 1e300, -DBL_MAX};
    for (size_t k = 0; k < 3; k++) {
        cr_assert_eq(tl_gridrec_exec(plan, s.guarded, s.stride, 1, axes[k], out, &err), TL_OK, "%s", err.message);
        for (size_t p = 0; p < W * W; p++)
            cr_assert_eq(out[p], 0.0f, "axis %g: pixel %zu is %g", axes[k], p, out[p]);
    }
    tl_gridrec_plan_destroy(&plan);
    tl_gridrec_plan_destroy(&plan); /* accepts NULL */
    tl_gridrec_plan_destroy(NULL);
    sinograms_free(&s);
}

Test(gridrec, bad_arguments_get_exact_messages)
{
    double angles[4] = {0, 45, 90, 135}, same[3] = {10, 190, 10}, bad_angle[3] = {0, NAN, 90};
    tl_gridrec_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_gridrec_plan_create(1, 64, 0, angles, TL_FILTER_RAMP, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_null(plan);
    cr_assert_str_eq(err.message, "--reconstruction-algorithm gridrec: a sinogram of 1 angles x 64 columns is too "
                                  "small (allowed: at least 2 angles and 2 columns)");
    cr_assert_eq(tl_gridrec_plan_create(4, 1, 0, angles, TL_FILTER_RAMP, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--reconstruction-algorithm gridrec: a sinogram of 4 angles x 1 columns is too "
                                  "small (allowed: at least 2 angles and 2 columns)");
    cr_assert_eq(tl_gridrec_plan_create(4, 64, 0, NULL, TL_FILTER_RAMP, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "gridrec: no projection angles given");
    cr_assert_eq(tl_gridrec_plan_create(4, 64, 0, angles, (tl_filter_window)42, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--fbp-filter 42: unknown window (allowed: ramp|shepp|cosine|hamming|hann|parzen)");
    cr_assert_eq(tl_gridrec_plan_create(4, 64, 40000, angles, TL_FILTER_RAMP, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--reconstruction-algorithm gridrec: slices of 40000 x 40000 from 64 columns are "
                                  "too large (allowed: at most 32768 pixels and columns)");
    cr_assert_eq(tl_gridrec_plan_create(3, 64, 0, bad_angle, TL_FILTER_RAMP, NULL, &plan, &err), TL_ERR_DATA);
    cr_assert_str_eq(err.message, "projection angle 1 is not a finite number");
    cr_assert_eq(tl_gridrec_plan_create(3, 64, 0, same, TL_FILTER_RAMP, NULL, &plan, &err), TL_ERR_DATA);
    cr_assert_str_eq(err.message, "all 3 projection angles are equal (mod 180 degrees)");
    cr_assert_null(plan);

    cr_assert_eq(tl_gridrec_plan_create(4, 8, 0, angles, TL_FILTER_RAMP, NULL, &plan, &err), TL_OK, "%s",
                 err.message);
    cr_assert_geq(tl_gridrec_plan_bytes(plan), tl_gridrec_plan_grid_size(plan) * tl_gridrec_plan_grid_size(plan) * 8);
    float sino[4 * 10] = {0}, out[2 * 64];
    cr_assert_eq(tl_gridrec_exec(plan, sino, 10, 1, NAN, out, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--rotation-axis nan: not a finite number (allowed: any finite detector column)");
    cr_assert_eq(tl_gridrec_exec(plan, sino, 10, 1, -INFINITY, out, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--rotation-axis -inf: not a finite number (allowed: any finite detector column)");
    cr_assert_eq(tl_gridrec_exec(plan, sino, 9, 1, 3.5, out, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "gridrec: sinogram line stride 9 is too short for 8 guarded columns (allowed: at "
                                  "least 10)");
    cr_assert_eq(tl_gridrec_exec(plan, NULL, 10, 1, 3.5, out, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "gridrec: no sinogram or output buffer for 1 slices");
    cr_assert_eq(tl_gridrec_exec(plan, NULL, 10, 0, 3.5, NULL, &err), TL_OK, "zero slices is a no-op");
    cr_assert_eq(tl_gridrec_exec(plan, sino, 10, 1, 3.5, out, &err), TL_OK, "%s", err.message);
    tl_gridrec_plan_destroy(&plan);
}
