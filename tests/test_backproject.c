/* test_backproject.c - physics of the filtered backprojection:
 * a uniform disk comes back with its value (not a scaled copy), the result does
 * not depend on where the axis sits on the detector nor on 180 vs 360 degrees,
 * and the backprojection is the adjoint of a linear-interpolation projector. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "fbp.h"
#include "support.h"
#include "workers.h"

/* Exact, pixel-averaged projection of a disk of radius rad and value rho centred
 * at (x0, y0) onto detector column j with the axis at a. */
static double disk_projection(double j, double a, double theta, double x0, double y0, double rad, double rho)
{
    /* average of 2 rho sqrt(rad^2 - t^2) over t in [t - 1/2, t + 1/2]; antiderivative F */
    double t = j - a - (x0 * cos(theta) + y0 * sin(theta));
    double lo = t - 0.5, hi = t + 0.5;
    if (lo < -rad)
        lo = -rad;
    if (hi > rad)
        hi = rad;
    if (hi <= lo)
        return 0.0;
#define F(u) (0.5 * ((u) * sqrt(rad * rad - (u) * (u)) + rad * rad * asin((u) / rad)))
    return 2.0 * rho * (F(hi) - F(lo));
#undef F
}

static float *disk_sinogram(size_t na, size_t w, double arc, double a, double x0, double y0, double rad,
                            double rho, double *angles)
{
    float *s = malloc(na * w * sizeof *s);
    for (size_t i = 0; i < na; i++) {
        angles[i] = arc * (double)i / (double)na;
        double th = angles[i] * M_PI / 180.0;
        for (size_t j = 0; j < w; j++)
            s[i * w + j] = (float)disk_projection((double)j, a, th, x0, y0, rad, rho);
    }
    return s;
}

static float *reconstruct(const float *sino, size_t na, size_t w, const double *angles, double a,
                          tl_filter_window win, int threads)
{
    tl_workers *workers = NULL;
    tl_fbp_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_workers_create(threads, &workers, &err), TL_OK);
    tl_fbp_desc d = {.n_angles = na, .n_cols = w, .max_slices = 1, .angles_deg = angles, .axis = a,
                     .window = win, .backend = TL_BACKEND_CPU};
    cr_assert_eq(tl_fbp_plan_create(&d, workers, &plan, &err), TL_OK, "%s", err.message);
    float *out = malloc(w * w * sizeof *out);
    cr_assert_eq(tl_fbp_exec_copy(plan, sino, 1, out, &err), TL_OK, "%s", err.message);
    tl_fbp_plan_destroy(&plan);
    tl_workers_destroy(&workers);
    return out;
}

Test(fbp, uniform_disk_returns_its_value)
{
    enum { W = 128, NA = 360 };
    double angles[NA], rho = 0.02, a = 0.5 * (W - 1);
    float *sino = disk_sinogram(NA, W, 180.0, a, 0, 0, 40.0, rho, angles);
    float *rec = reconstruct(sino, NA, W, angles, a, TL_FILTER_RAMP, 2);
    double inside = tl_test_mean_disk(rec, W, 0, 0, 30.0);
    cr_assert(fabs(inside / rho - 1.0) < 0.003, "mean inside the disk %g, expected %g (ratio %.5f)", inside, rho,
              inside / rho);
    /* outside the disk the reconstruction is zero to within the ripple of linear interpolation */
    double ring = tl_test_mean_disk(rec, W, 50, 0, 5.0);
    cr_assert(fabs(ring) < 0.003 * rho, "mean outside %g", ring);
    free(sino);
    free(rec);
}

Test(fbp, off_centre_axis_and_off_centre_object)
{
    enum { W = 128, NA = 400 };
    double angles[NA], rho = 0.01, a = 0.5 * (W - 1) + 7.25;
    /* object centred at (10, -6) relative to the axis */
    float *sino = disk_sinogram(NA, W, 180.0, a, 10, -6, 25.0, rho, angles);
    float *rec = reconstruct(sino, NA, W, angles, a, TL_FILTER_RAMP, 2);
    double inside = tl_test_mean_disk(rec, W, 10, -6, 18.0);
    cr_assert(fabs(inside / rho - 1.0) < 0.003, "ratio %.5f", inside / rho);
    cr_assert(fabs(tl_test_mean_disk(rec, W, -30, 20, 6.0)) < 0.003 * rho);
    free(sino);
    free(rec);
}

Test(fbp, full_turn_equals_half_turn)
{
    enum { W = 96, NA = 240 };
    double a180[NA], a360[2 * NA], a = 0.5 * (W - 1) - 3.5;
    float *s180 = disk_sinogram(NA, W, 180.0, a, 5, 8, 20.0, 0.03, a180);
    float *s360 = disk_sinogram(2 * NA, W, 360.0, a, 5, 8, 20.0, 0.03, a360);
    float *r180 = reconstruct(s180, NA, W, a180, a, TL_FILTER_SHEPP, 1);
    float *r360 = reconstruct(s360, 2 * NA, W, a360, a, TL_FILTER_SHEPP, 2);
    /* compare inside the disk that both arcs see fully: radius < the shorter side of the axis */
    double rel = tl_test_rel_l2_disk(r360, r180, W, 40.0);
    cr_assert(rel < 1e-4, "relative difference %g", rel);
    free(s180);
    free(s360);
    free(r180);
    free(r360);
}

Test(fbp, thread_count_does_not_change_the_result)
{
    enum { W = 64, NA = 90 };
    double angles[NA], a = 31.5;
    float *sino = disk_sinogram(NA, W, 180.0, a, 3, 2, 15.0, 0.05, angles);
    float *r1 = reconstruct(sino, NA, W, angles, a, TL_FILTER_HANN, 1);
    float *r3 = reconstruct(sino, NA, W, angles, a, TL_FILTER_HANN, 3);
    for (size_t i = 0; i < (size_t)W * W; i++)
        cr_assert_eq(r1[i], r3[i]);
    free(sino);
    free(r1);
    free(r3);
}

/* Adjoint of the backprojection: splat each pixel onto the detector with the
 * linear-interpolation weights (written independently of the kernel). */
static void project_adjoint(const float *img, size_t n, size_t w, size_t na, const double *angles, double a,
                            double *sino)
{
    double centre = 0.5 * ((double)n - 1);
    for (size_t i = 0; i < na * w; i++)
        sino[i] = 0;
    for (size_t i = 0; i < na; i++) {
        double th = angles[i] * M_PI / 180.0;
        for (size_t r = 0; r < n; r++)
            for (size_t c = 0; c < n; c++) {
                double j = ((double)c - centre) * cos(th) + ((double)r - centre) * sin(th) + a;
                double f = floor(j), t = j - f;
                long j0 = (long)f;
                if (j0 >= 0 && j0 < (long)w)
                    sino[i * w + (size_t)j0] += (1 - t) * img[r * n + c];
                if (j0 + 1 >= 0 && j0 + 1 < (long)w)
                    sino[i * w + (size_t)j0 + 1] += t * img[r * n + c];
            }
    }
}

Test(fbp, backprojection_is_the_adjoint_of_projection)
{
    /* <B q, f> = <q, B^T f> for the unfiltered backprojection B. Use the plan with
     * angular weights of pi/na folded in by filtering a constant-free test: we
     * call the kernel through a ramp-less path by comparing filtered data instead:
     * B(H q) against H q, both taken from the plan's own buffer. */
    enum { W = 40, NA = 17 };
    double angles[NA], a = 19.5 + 2.3;
    for (size_t i = 0; i < NA; i++)
        angles[i] = 180.0 * i / NA + 3.7;
    tl_fbp_desc d = {.n_angles = NA, .n_cols = W, .max_slices = 1, .angles_deg = angles, .axis = a,
                     .window = TL_FILTER_RAMP, .backend = TL_BACKEND_CPU};
    tl_fbp_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_fbp_plan_create(&d, NULL, &plan, &err), TL_OK);
    srand(3);
    float q[NA * W], img[W * W], out[W * W];
    for (size_t i = 0; i < NA * W; i++)
        q[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < W * W; i++)
        img[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    cr_assert_eq(tl_fbp_exec_copy(plan, q, 1, out, &err), TL_OK);
    /* the filtered, weighted sinogram the kernel backprojected is left in the plan's buffer */
    double lhs = 0, rhs = 0, *proj = malloc(NA * W * sizeof *proj);
    for (size_t i = 0; i < W * W; i++)
        lhs += (double)out[i] * img[i];
    project_adjoint(img, W, W, NA, angles, a, proj);
    for (size_t i = 0; i < NA; i++)
        for (size_t j = 0; j < W; j++)
            rhs += proj[i * W + j] * tl_fbp_sino_line(plan, 0, i)[j];
    cr_assert(fabs(lhs - rhs) <= 1e-4 * fabs(lhs), "<Bq,f> = %.9g, <q,B^T f> = %.9g", lhs, rhs);
    free(proj);
    tl_fbp_plan_destroy(&plan);
}

Test(fbp, plan_rejects_bad_requests)
{
    double angles[2] = {0, 90};
    tl_fbp_desc d = {.n_angles = 2, .n_cols = 8, .max_slices = 1, .angles_deg = angles, .axis = NAN,
                     .backend = TL_BACKEND_CPU};
    tl_fbp_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_fbp_plan_create(&d, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_null(plan);
    d.axis = 3.5;
    d.backend = TL_BACKEND_CUDA;
    cr_assert_eq(tl_fbp_plan_create(&d, NULL, &plan, &err), TL_ERR_UNSUPPORTED);
    d.backend = TL_BACKEND_CPU;
    cr_assert_eq(tl_fbp_plan_create(&d, NULL, &plan, &err), TL_OK);
    float out[64];
    cr_assert_eq(tl_fbp_exec(plan, 2, out, &err), TL_ERR_INVALID);
    tl_fbp_plan_destroy(&plan);
}
