/* test_filter.c - ramp filter design, windows, angular weights, FFTW plan. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "filter.h"

Test(filter, padded_size_is_smooth_and_at_least_twice_the_width)
{
    size_t widths[] = {8, 100, 256, 1000, 1024, 2048, 2560, 4001};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        size_t n = tl_filter_padded_size(widths[i]);
        cr_assert_geq(n, 2 * widths[i]);
        size_t m = n;
        for (int p = 2; p <= 7; p++)
            while (m % p == 0)
                m /= p;
        cr_assert_eq(m, 1, "padded size %zu of width %zu has a factor above 7", n, widths[i]);
    }
    cr_assert_eq(tl_filter_padded_size(1024), 2048);
}

Test(filter, ramp_response_is_abs_frequency_and_dc_is_nearly_zero)
{
    size_t np = 512;
    double *h = malloc((np / 2 + 1) * sizeof *h);
    tl_filter_design(TL_FILTER_RAMP, np, h);
    /* continuous ramp |f| in cycles per sample = k / np; the band-limited spatial design
     * matches it away from DC within a fraction of a percent */
    for (size_t k = 8; k <= np / 2; k += 8) {
        double expect = (double)k / (double)np;
        cr_assert(fabs(h[k] - expect) < 0.01 * expect + 2e-4, "H(%zu) = %g, |f| = %g", k, h[k], expect);
    }
    /* DC: the sum of the spatial kernel over the padded support, 1/4 - 2 sum 1/(pi n)^2 over odd n <= np/2,
     * which is small and positive (the truncated tail), not the 0 of a sampled |f| */
    cr_assert(h[0] > 0 && h[0] < 2.0 / (M_PI * M_PI * (double)np), "H(0) = %g", h[0]);
    free(h);
}

Test(filter, windows_are_one_at_dc_and_shaped_at_nyquist)
{
    tl_filter_window all[] = {TL_FILTER_RAMP,    TL_FILTER_SHEPP, TL_FILTER_COSINE,
                              TL_FILTER_HAMMING, TL_FILTER_HANN,  TL_FILTER_PARZEN};
    for (size_t i = 0; i < 6; i++)
        cr_assert_float_eq(tl_filter_window_value(all[i], 0.0), 1.0, 1e-12, "%s at 0", tl_filter_name(all[i]));
    cr_assert_float_eq(tl_filter_window_value(TL_FILTER_SHEPP, 1.0), 2.0 / M_PI, 1e-12);
    cr_assert_float_eq(tl_filter_window_value(TL_FILTER_COSINE, 1.0), 0.0, 1e-12);
    cr_assert_float_eq(tl_filter_window_value(TL_FILTER_HAMMING, 1.0), 0.08, 1e-12);
    cr_assert_float_eq(tl_filter_window_value(TL_FILTER_HANN, 1.0), 0.0, 1e-12);
    cr_assert_float_eq(tl_filter_window_value(TL_FILTER_PARZEN, 0.5), 0.25, 1e-12);
    cr_assert_float_eq(tl_filter_window_value(TL_FILTER_PARZEN, 1.0), 0.0, 1e-12);
    /* every window is monotone non-increasing on [0, 1] */
    for (size_t i = 0; i < 6; i++)
        for (double x = 0; x < 1.0; x += 0.01)
            cr_assert_leq(tl_filter_window_value(all[i], x + 0.01), tl_filter_window_value(all[i], x) + 1e-12);
}

Test(filter, parse_names_and_reject_unknown)
{
    tl_filter_window w;
    tl_error err = {0};
    cr_assert_eq(tl_filter_parse("hann", &w, &err), TL_OK);
    cr_assert_eq(w, TL_FILTER_HANN);
    cr_assert_eq(tl_filter_parse("gauss", &w, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "'gauss' is not one of ramp, shepp, cosine, hamming, hann, parzen"));
}

static double sum(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

Test(filter, angle_weights_cover_pi_for_180_360_and_irregular_scans)
{
    enum { N = 360 };
    double angles[N + 1], w[N + 1];
    tl_error err = {0};
    for (size_t i = 0; i < N; i++)
        angles[i] = 180.0 * (double)i / N;
    cr_assert_eq(tl_angle_weights(angles, N, w, &err), TL_OK);
    cr_assert_float_eq(sum(w, N), M_PI, 1e-9);
    for (size_t i = 0; i < N; i++)
        cr_assert_float_eq(w[i], M_PI / N, 1e-9);
    /* 360 degrees: every angle has a twin 180 degrees away, each gets half */
    for (size_t i = 0; i < N; i++)
        angles[i] = 360.0 * (double)i / N;
    cr_assert_eq(tl_angle_weights(angles, N, w, &err), TL_OK);
    cr_assert_float_eq(sum(w, N), M_PI, 1e-9);
    /* 0..180 inclusive (the last projection repeats the first): still pi in all */
    for (size_t i = 0; i <= N; i++)
        angles[i] = 180.0 * (double)i / N;
    cr_assert_eq(tl_angle_weights(angles, N + 1, w, &err), TL_OK);
    cr_assert_float_eq(sum(w, N + 1), M_PI, 1e-9);
    cr_assert_float_eq(w[0] + w[N], M_PI / N, 1e-9);
    /* irregular, unsorted, negative angles */
    double odd[] = {10, -80, 55, 100, 3, 140, -20};
    cr_assert_eq(tl_angle_weights(odd, 7, w, &err), TL_OK);
    cr_assert_float_eq(sum(w, 7), M_PI, 1e-9);
    /* limited angle: the missing wedge is not handed to the edge projections */
    for (size_t i = 0; i < 90; i++)
        angles[i] = (double)i; /* 0..89 degrees */
    cr_assert_eq(tl_angle_weights(angles, 90, w, &err), TL_OK);
    cr_assert(w[0] < 2.5 * M_PI / 180 && w[89] < 2.5 * M_PI / 180);
}

Test(filter, angle_weights_reject_bad_lists)
{
    double one[] = {0}, same[] = {5, 185, 5}, bad[] = {0, NAN, 2};
    double w[3];
    tl_error err = {0};
    cr_assert_eq(tl_angle_weights(one, 1, w, &err), TL_ERR_DATA);
    cr_assert_eq(tl_angle_weights(same, 3, w, &err), TL_ERR_DATA);
    cr_assert(strstr(err.message, "all 3 projection angles are equal"));
    cr_assert_eq(tl_angle_weights(bad, 3, w, &err), TL_ERR_DATA);
    cr_assert(strstr(err.message, "projection angle 1 is not a finite number"));
}

Test(filter, exec_is_linear_and_shift_invariant)
{
    enum { A = 3, W = 64 };
    tl_filter_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_filter_plan_create(A, W, TL_FILTER_SHEPP, NULL, NULL, &plan, &err), TL_OK, "%s", err.message);
    float x[W], y[W], z[W], shifted[W];
    srand(7);
    for (int i = 0; i < W; i++) {
        x[i] = (float)rand() / (float)RAND_MAX;
        y[i] = (float)rand() / (float)RAND_MAX;
        z[i] = 2.0f * x[i] - 3.0f * y[i];
    }
    /* an impulse in the middle, and the same impulse shifted by 5 columns */
    float imp[W] = {0}, imp5[W] = {0};
    imp[30] = 1;
    imp5[35] = 1;
    tl_filter_exec(plan, x, 1, W);
    tl_filter_exec(plan, y, 1, W);
    tl_filter_exec(plan, z, 1, W);
    for (int i = 0; i < W; i++)
        cr_assert_float_eq(z[i], 2.0f * x[i] - 3.0f * y[i], 1e-5);
    tl_filter_exec(plan, imp, 1, W);
    tl_filter_exec(plan, imp5, 1, W);
    for (int i = 0; i + 5 < W; i++)
        cr_assert_float_eq(imp5[i + 5], imp[i], 1e-6);
    (void)shifted;
    /* the filtered impulse of the unwindowed ramp is the spatial kernel h(n) itself */
    tl_filter_plan_destroy(&plan);
    cr_assert_null(plan);
    cr_assert_eq(tl_filter_plan_create(A, W, TL_FILTER_RAMP, NULL, NULL, &plan, &err), TL_OK);
    float d[W] = {0};
    d[20] = 1;
    tl_filter_exec(plan, d, 1, W);
    cr_assert_float_eq(d[20], 0.25f, 1e-6);
    cr_assert_float_eq(d[21], -1.0 / (M_PI * M_PI), 1e-6);
    cr_assert_float_eq(d[22], 0.0f, 1e-6);
    cr_assert_float_eq(d[23], -1.0 / (9 * M_PI * M_PI), 1e-6);
    tl_filter_plan_destroy(&plan);
    tl_filter_plan_destroy(&plan); /* NULL-safe */
}
