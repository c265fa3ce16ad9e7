/* test_normalize.c - dark/flat correction, -log and the documented policy. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "normalize.h"

Test(normalize, recovers_line_integrals)
{
    enum { A = 3, R = 2, C = 4 };
    float flat[R * C], dark[R * C], proj[A * R * C];
    for (int i = 0; i < R * C; i++) {
        dark[i] = 100.0f + (float)i;
        flat[i] = 5000.0f + 100.0f * (float)i;
    }
    for (int a = 0; a < A; a++)
        for (int i = 0; i < R * C; i++) {
            double p = 0.1 * (a + 1) + 0.01 * i; /* the line integral to recover */
            proj[a * R * C + i] = (float)((flat[i] - dark[i]) * exp(-p) + dark[i]);
        }
    tl_normalize_stats st = {0};
    tl_error err = {0};
    cr_assert_eq(tl_normalize_cpu(proj, A, R, C, flat, dark, 1, 0, NULL, &st, &err), TL_OK, "%s", err.message);
    for (int a = 0; a < A; a++)
        for (int i = 0; i < R * C; i++)
            cr_assert_float_eq(proj[a * R * C + i], 0.1 * (a + 1) + 0.01 * i, 2e-5);
    cr_assert_eq(st.n_values, A * R * C);
    cr_assert_eq(st.n_floored, 0);
}

Test(normalize, without_minus_log_gives_transmission)
{
    float flat[2] = {200, 300}, dark[2] = {100, 100}, proj[2] = {150, 200};
    cr_assert_eq(tl_normalize_cpu(proj, 1, 1, 2, flat, dark, 0, 0, NULL, NULL, NULL), TL_OK);
    cr_assert_float_eq(proj[0], 0.5f, 1e-7);
    cr_assert_float_eq(proj[1], 0.5f, 1e-7);
}

Test(normalize, non_positive_transmission_is_floored_and_counted)
{
    float flat[3] = {1000, 1000, 1000}, dark[3] = {100, 100, 100}, proj[3] = {100, 50, 550};
    tl_normalize_stats st = {0};
    cr_assert_eq(tl_normalize_cpu(proj, 1, 1, 3, flat, dark, 1, 0, NULL, &st, NULL), TL_OK);
    cr_assert_eq(st.n_floored, 2);
    cr_assert_float_eq(proj[0], -logf(TL_NORMALIZE_FLOOR), 1e-4);
    cr_assert_float_eq(proj[1], -logf(TL_NORMALIZE_FLOOR), 1e-4);
    cr_assert_float_eq(proj[2], -logf(0.5f), 1e-6);
    cr_assert(isfinite(proj[0]));
}

Test(normalize, few_dead_pixels_are_tolerated_many_are_an_error)
{
    enum { N = 200 };
    float flat[N], dark[N], proj[N];
    for (int i = 0; i < N; i++) {
        flat[i] = 1000;
        dark[i] = 100;
        proj[i] = 550;
    }
    flat[17] = 100; /* one dead pixel in 200: 0.5%, tolerated */
    tl_normalize_stats st = {0};
    tl_error err = {0};
    cr_assert_eq(tl_normalize_cpu(proj, 1, 1, N, flat, dark, 1, 0, NULL, &st, &err), TL_OK);
    cr_assert_eq(st.n_dead_pixels, 1);
    cr_assert_float_eq(proj[17], 0.0f, 1e-7, "a dead pixel is given zero attenuation");
    /* flats and darks swapped: every pixel dead */
    for (int i = 0; i < N; i++)
        proj[i] = 550;
    cr_assert_eq(tl_normalize_cpu(proj, 1, 2, N / 2, dark, flat, 1, 40, NULL, NULL, &err), TL_ERR_DATA);
    cr_assert(strstr(err.message, "flats are not brighter than darks at 200 of 200 detector pixels in rows 40..41"),
              "%s", err.message);
    cr_assert(strstr(err.message, "first at row 40, column 0: flat 100, dark 1000"), "%s", err.message);
}

Test(normalize, nan_pixels_are_an_error_naming_the_frame)
{
    float flat[4] = {1000, 1000, 1000, 1000}, dark[4] = {100, 100, 100, 100};
    float proj[8] = {500, 500, 500, 500, 500, 500, NAN, 500};
    tl_error err = {0};
    cr_assert_eq(tl_normalize_cpu(proj, 2, 2, 2, flat, dark, 1, 10, NULL, NULL, &err), TL_ERR_DATA);
    cr_assert(strstr(err.message, "projection 1 has a pixel that is not a finite number (NaN or infinite) at "
                                  "detector row 11, column 0"),
              "%s", err.message);
    flat[3] = NAN;
    cr_assert_eq(tl_normalize_cpu(proj, 2, 2, 2, flat, dark, 1, 0, NULL, NULL, &err), TL_ERR_DATA);
    cr_assert(strstr(err.message, "the mean flat at detector row 1, column 1 is not a finite number"), "%s",
              err.message);
}

Test(normalize, flats_before_and_after_are_interpolated_per_projection)
{
    /* the beam decays linearly over the scan: flat 2000 before, 1000 after */
    enum { A = 5, C = 3 };
    float before[C] = {2100, 2100, 2100}, after[C] = {1100, 1100, 1100}, dark[C] = {100, 100, 100};
    double w[A];
    float proj[A * C], copy[A * C];
    for (int a = 0; a < A; a++) {
        w[a] = (double)a / (A - 1);
        double flat = (1 - w[a]) * 2000 + w[a] * 1000;
        for (int c = 0; c < C; c++)
            proj[a * C + c] = copy[a * C + c] = (float)(flat * exp(-0.3 * (c + 1)) + 100);
    }
    tl_error err = {0};
    cr_assert_eq(tl_normalize_interp_cpu(proj, A, 1, C, before, after, w, dark, 1, 0, NULL, NULL, &err), TL_OK);
    for (int a = 0; a < A; a++)
        for (int c = 0; c < C; c++)
            cr_assert_float_eq(proj[a * C + c], 0.3 * (c + 1), 1e-5, "projection %d column %d", a, c);
    /* with the first flat alone the late projections come out too dark: the interpolation matters */
    cr_assert_eq(tl_normalize_cpu(copy, A, 1, C, before, dark, 1, 0, NULL, NULL, &err), TL_OK);
    cr_assert(copy[(A - 1) * C] > 0.3 + 0.5, "%g", copy[(A - 1) * C]);
}
