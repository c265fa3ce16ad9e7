/* test_sim.c - the scan simulator: analytic projections, truth slices, noise and files. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phantom_internal.h"
#include "rng.h"
#include "scan.h"
#include "scan_write.h"
#include "sim.h"
#include "support.h"
#include "volume.h"
#include "workers.h"

/* ---------------------------------------------------------------- helpers */

#define TEST_PI 3.14159265358979323846

static tl_phantom *custom(size_t w, size_t rows, double axis, double radius, const tl_ellipsoid *e,
                          size_t n)
{
    tl_phantom *p = NULL;
    tl_error err;
    cr_assert_eq(tl_phantom_create_custom(w, rows, axis, radius, e, n, &p, &err), TL_OK, "%s",
                 err.message);
    return p;
}

static tl_phantom *standard(tl_phantom_kind kind, size_t w, size_t rows, double axis)
{
    tl_phantom *p = NULL;
    tl_error err;
    cr_assert_eq(tl_phantom_create(kind, w, rows, axis, 12, 7, &p, &err), TL_OK, "%s", err.message);
    return p;
}

/* Mean of 2 rho sqrt(r^2 - s^2) over s in [lo, hi], by the midpoint rule. */
static double disk_pixel_numeric(double rho, double r, double lo, double hi)
{
    const int n = 20000;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        double s = lo + (hi - lo) * (i + 0.5) / n;
        if (fabs(s) < r)
            sum += 2.0 * rho * sqrt(r * r - s * s);
    }
    return sum / n;
}

static double sum_floats(const float *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static char *partial_of(const char *path)
{
    size_t n = strlen(path) + 16;
    char *s = malloc(n);
    snprintf(s, n, "%s.partial", path);
    return s;
}

/* Whole scan read back as floats. */
typedef struct scan_data {
    size_t n_proj, rows, cols;
    float *proj; /* [n_proj][rows][cols] */
    float *flat; /* [rows][cols] mean */
    float *dark; /* [rows][cols] mean */
    double *angles;
} scan_data;

static void read_scan(const char *path, scan_data *d)
{
    tl_scan *scan = NULL;
    tl_error err;
    cr_assert_eq(tl_scan_open(path, &scan, &err), TL_OK, "%s", err.message);
    const tl_scan_info *info = tl_scan_get_info(scan);
    d->n_proj = info->n_proj;
    d->rows = info->n_rows;
    d->cols = info->n_cols;
    d->proj = malloc(d->n_proj * d->rows * d->cols * sizeof(float));
    d->flat = malloc(d->rows * d->cols * sizeof(float));
    d->dark = malloc(d->rows * d->cols * sizeof(float));
    d->angles = malloc(d->n_proj * sizeof(double));
    memcpy(d->angles, info->angles_deg, d->n_proj * sizeof(double));
    cr_assert_eq(tl_scan_read_projections(scan, 0, d->rows, d->proj, &err), TL_OK, "%s",
                 err.message);
    cr_assert_eq(tl_scan_read_flat_mean(scan, 0, d->rows, d->flat, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_read_dark_mean(scan, 0, d->rows, d->dark, &err), TL_OK, "%s", err.message);
    tl_scan_close(&scan);
}

static void free_scan(scan_data *d)
{
    free(d->proj);
    free(d->flat);
    free(d->dark);
    free(d->angles);
}

static void small_params(tl_sim_params *p)
{
    tl_sim_params_default(p);
    p->size = 32;
    p->angles = 12;
    p->slices = 10; /* more than one slab of 8 rows */
    p->n_flat = 3;
    p->n_dark = 2;
}

static void write_ok(const tl_sim_params *p, const char *scan, const char *truth, tl_workers *w)
{
    tl_error err;
    cr_assert_eq(tl_sim_write(p, scan, truth, w, &err), TL_OK, "%s", err.message);
}

/* Normalised transmission of the file divided by exp(-p) of the phantom the
 * simulator used: 1 + e for noise-free scans. ratio[n_proj][rows][cols]. */
static double *gain_ratio(const tl_sim_params *p, const scan_data *d)
{
    const size_t w = p->size;
    tl_phantom *ph = NULL;
    tl_error err;
    cr_assert_eq(tl_phantom_create(p->phantom, w, p->slices, (w - 1) / 2.0 + p->axis_offset,
                                   p->n_ellipses, p->seed, &ph, &err),
                 TL_OK);
    float *line = malloc(d->n_proj * w * sizeof(float));
    double *ratio = malloc(d->n_proj * d->rows * w * sizeof(double));
    for (size_t k = 0; k < d->rows; k++) {
        tl_phantom_project_row(ph, k, d->angles, d->n_proj, line);
        for (size_t a = 0; a < d->n_proj; a++)
            for (size_t j = 0; j < w; j++) {
                size_t px = k * w + j;
                double t = ((double)d->proj[(a * d->rows + k) * w + j] - d->dark[px]) /
                           ((double)d->flat[px] - d->dark[px]);
                ratio[(a * d->rows + k) * w + j] = t / exp(-(double)line[a * w + j]);
            }
    }
    free(line);
    tl_phantom_destroy(&ph);
    return ratio;
}

/* ------------------------------------------------------------ projector */

Test(sim_projector, centred_disk_matches_numeric_average)
{
    const size_t w = 64;
    const double axis = 31.5, radius = 28.0;
    /* a cylinder along z (c large), so the row at z = 0 cuts a disk of radius 0.6 R */
    tl_ellipsoid disk = {.rho = 1.0, .a = 0.6, .b = 0.6, .c = 100.0};
    tl_phantom *p = custom(w, 1, axis, radius, &disk, 1);
    const double rho = tl_phantom_scale(p), r = 0.6 * radius;
    const double angles[] = {0.0, 17.3, 90.0, 133.0, 271.5};
    float out[5 * 64];
    tl_phantom_project_row(p, 0, angles, 5, out);
    for (size_t a = 0; a < 5; a++)
        for (size_t j = 0; j < w; j++) {
            double s = (double)j - axis;
            double want = disk_pixel_numeric(rho, r, s - 0.5, s + 0.5);
            cr_assert(fabs(out[a * w + j] - want) < 2e-5 * 2.0 * rho * r,
                      "angle %g column %zu: %g, want %g", angles[a], j, out[a * w + j], want);
        }
    /* the centre pixel: nearly 2 rho r */
    cr_assert(fabs(out[31] - 2.0 * rho * r) / (2.0 * rho * r) < 1e-3);
    tl_phantom_destroy(&p);
}

Test(sim_projector, off_centre_ellipse_is_shifted_centred_projection)
{
    /* p_off(s) = p_centred(s - shift) with shift = x0 cos + y0 sin: detector
     * column j of the off-centre ellipse sees exactly what column j of the
     * centred one sees when its axis sits at a + shift. */
    const size_t w = 96;
    const double axis = 47.5, radius = 40.0;
    tl_ellipsoid off = {.rho = 0.7, .a = 0.3, .b = 0.15, .c = 10.0,
                        .x0 = 0.2, .y0 = -0.1, .phi_deg = 30.0};
    tl_ellipsoid centred = off;
    centred.x0 = centred.y0 = 0.0;
    tl_phantom *p_off = custom(w, 1, axis, radius, &off, 1);
    const double angles[] = {0.0, 25.0, 90.0, 160.0, 233.3};
    for (size_t a = 0; a < 5; a++) {
        double th = angles[a] * TEST_PI / 180.0;
        double shift = radius * (off.x0 * cos(th) + off.y0 * sin(th));
        tl_phantom *p_c = custom(w, 1, axis + shift, radius, &centred, 1);
        float got[96], want[96];
        tl_phantom_project_row(p_off, 0, &angles[a], 1, got);
        tl_phantom_project_row(p_c, 0, &angles[a], 1, want);
        double peak = 0.0;
        for (size_t j = 0; j < w; j++)
            peak = fmax(peak, want[j]);
        cr_assert(peak > 0.1);
        for (size_t j = 0; j < w; j++)
            cr_assert(fabs(got[j] - want[j]) < 1e-5 * peak, "angle %g column %zu: %g vs %g",
                      angles[a], j, got[j], want[j]);
        /* and the centroid moved by the shift (box averaging keeps centroids) */
        double m0 = 0, m1 = 0, c0 = 0, c1 = 0;
        float cen[96];
        tl_phantom *p_c0 = custom(w, 1, axis, radius, &centred, 1);
        tl_phantom_project_row(p_c0, 0, &angles[a], 1, cen);
        for (size_t j = 0; j < w; j++) {
            m0 += got[j];
            m1 += got[j] * (double)j;
            c0 += cen[j];
            c1 += cen[j] * (double)j;
        }
        cr_assert(fabs(m1 / m0 - c1 / c0 - shift) < 1e-3, "angle %g: centroid moved by %g, want %g",
                  angles[a], m1 / m0 - c1 / c0, shift);
        cr_assert(fabs(m0 - c0) < 1e-5 * c0);
        tl_phantom_destroy(&p_c0);
        tl_phantom_destroy(&p_c);
    }
    tl_phantom_destroy(&p_off);
}

static double worst_mass_error;

static void check_mass(tl_phantom_kind kind, size_t w, size_t rows, double offset)
{
    const double axis = (w - 1) / 2.0 + offset;
    tl_phantom *p = standard(kind, w, rows, axis);
    const double angles[] = {0.0, 33.0, 90.0, 147.5, 200.0, 359.0};
    const size_t na = sizeof angles / sizeof angles[0];
    float *proj = malloc(na * w * sizeof(float));
    float *slice = malloc(w * w * sizeof(float));
    for (size_t k = 0; k < rows; k++) {
        tl_phantom_project_row(p, k, angles, na, proj);
        tl_phantom_slice(p, k, slice);
        double mass = sum_floats(slice, w * w);
        cr_assert(mass > 0.0);
        for (size_t a = 0; a < na; a++) {
            double s = sum_floats(proj + a * w, w);
            worst_mass_error = fmax(worst_mass_error, fabs(s - mass) / mass);
            cr_assert(fabs(s - mass) < 0.005 * mass,
                      "%s, offset %g, row %zu, angle %g: projection sums to %g, slice to %g",
                      kind == TL_PHANTOM_ELLIPSES ? "ellipses" : "shepp-logan", offset, k,
                      angles[a], s, mass);
            /* nothing falls off the detector: the edge columns see no object */
            cr_assert_eq(proj[a * w], 0.0f);
            cr_assert_eq(proj[a * w + w - 1], 0.0f);
        }
    }
    free(slice);
    free(proj);
    tl_phantom_destroy(&p);
}

Test(sim_projector, mass_conservation_shepp_logan)
{
    /* The projections are exact; the slice's 4 x 4 samples are not. The head's
     * mass is the small difference of its skull (+1) and brain (-0.8)
     * ellipses, whose sampling errors do not cancel, so below R = 80 pixels
     * the slice's sum drifts towards 0.5% of the mass: test at real sizes. */
    check_mass(TL_PHANTOM_SHEPP_LOGAN, 256, 5, 0.0);
    check_mass(TL_PHANTOM_SHEPP_LOGAN, 256, 5, 20.7);
    check_mass(TL_PHANTOM_SHEPP_LOGAN, 192, 3, -40.0);
    cr_log_info("largest relative mass difference %.2e", worst_mass_error);
}

Test(sim_projector, mass_conservation_ellipses)
{
    check_mass(TL_PHANTOM_ELLIPSES, 128, 5, 0.0);
    check_mass(TL_PHANTOM_ELLIPSES, 128, 5, -15.25);
    check_mass(TL_PHANTOM_ELLIPSES, 96, 4, 23.0);
    cr_log_info("largest relative mass difference %.2e", worst_mass_error);
}

Test(sim_projector, largest_line_integral_about_one_and_a_half)
{
    const size_t sizes[] = {64, 256, 1024};
    for (size_t t = 0; t < 3; t++) {
        size_t w = sizes[t];
        tl_phantom *p = standard(TL_PHANTOM_SHEPP_LOGAN, w, 1, (w - 1) / 2.0);
        double angles[180];
        for (int i = 0; i < 180; i++)
            angles[i] = i;
        float *proj = malloc(180 * w * sizeof(float));
        tl_phantom_project_row(p, 0, angles, 180, proj);
        double mx = 0.0;
        for (size_t i = 0; i < 180 * w; i++)
            mx = fmax(mx, proj[i]);
        /* the largest ray integral is 1.50; averaging over a detector pixel
         * blunts that narrow peak (a ray grazing the skull) on small detectors */
        double low = w < 128 ? 1.3 : 1.4;
        cr_assert(mx > low && mx < 1.51, "size %zu: largest line integral %g", w, mx);
        cr_log_info("size %zu: largest pixel-averaged line integral %.4f", w, mx);
        free(proj);
        tl_phantom_destroy(&p);
    }
}

/* ---------------------------------------------------------------- slices */

/* Value of the slice pixel nearest the point given in the papers' frame (y up). */
static float at_paper_point(const float *slice, size_t n, double radius, double xp, double yp)
{
    double x = xp * radius, y = -yp * radius;
    long c = lround(x + (n - 1) / 2.0), r = lround(y + (n - 1) / 2.0);
    return slice[(size_t)r * n + (size_t)c];
}

Test(sim_slice, shepp_logan_known_values)
{
    const size_t n = 256;
    tl_phantom *p = standard(TL_PHANTOM_SHEPP_LOGAN, n, 1, (n - 1) / 2.0); /* the row at z = 0 */
    const double s = tl_phantom_scale(p), radius = tl_phantom_radius(p);
    cr_assert(fabs(radius - (128.0 - 3.0)) < 1e-12, "R = %g", radius);
    cr_assert(fabs(s - 2.7 / radius) < 1e-12);
    float *slice = malloc(n * n * sizeof(float));
    tl_phantom_slice(p, 0, slice);
    const double tol = 1e-5 * s;
    /* brain background: skull (1) + inside of the skull (-0.8) */
    cr_assert(fabs(at_paper_point(slice, n, radius, 0.5, -0.3) - 0.2 * s) < tol);
    cr_assert(fabs(at_paper_point(slice, n, radius, -0.45, 0.1) - 0.2 * s) < tol);
    /* the bright rim of the skull, at the top of the head */
    cr_assert(fabs(at_paper_point(slice, n, radius, 0.0, 0.888) - 1.0 * s) < tol);
    /* the ventricles (-0.2 on the brain): 0 */
    cr_assert(fabs(at_paper_point(slice, n, radius, -0.22, 0.0)) < tol);
    cr_assert(fabs(at_paper_point(slice, n, radius, 0.22, 0.0)) < tol);
    /* ellipsoid 5 (+0.1) above the centre: 0.3; its mirror point below is brain (0.2),
     * so the head is upright when row 0 is shown at the top */
    cr_assert(fabs(at_paper_point(slice, n, radius, 0.0, 0.35) - 0.3 * s) < tol);
    cr_assert(fabs(at_paper_point(slice, n, radius, 0.0, -0.35) - 0.2 * s) < tol);
    cr_assert(0.35 * radius > 20.0); /* the two points are far apart in rows */
    /* outside the head */
    cr_assert_eq(slice[0], 0.0f);
    cr_assert_eq(slice[n * n - 1], 0.0f);
    cr_assert_eq(at_paper_point(slice, n, radius, 0.0, 0.97), 0.0f);
    free(slice);
    tl_phantom_destroy(&p);
}

Test(sim_slice, independent_of_axis_position)
{
    /* the grid is centred on the rotation axis and so is the object */
    const size_t n = 64;
    tl_ellipsoid e[2] = {{.rho = 1.0, .a = 0.5, .b = 0.3, .c = 2.0, .x0 = 0.2, .phi_deg = 20.0},
                         {.rho = 0.5, .a = 0.2, .b = 0.2, .c = 2.0, .y0 = -0.4}};
    tl_phantom *p = custom(n, 1, 31.5, 20.0, e, 2);
    tl_phantom *q = custom(n, 1, 31.5 + 9.3, 20.0, e, 2);
    float a[64 * 64], b[64 * 64];
    tl_phantom_slice(p, 0, a);
    tl_phantom_slice(q, 0, b);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    /* a pixel deep inside ellipse 0 is exactly its value */
    float s = (float)tl_phantom_scale(p);
    cr_assert(fabs(a[31 * n + (size_t)(31.5 + 0.2 * 20.0 + 0.5)] - s) < 1e-6 * s);
    tl_phantom_destroy(&q);
    tl_phantom_destroy(&p);
}

Test(sim_slice, slices_vary_along_z)
{
    const size_t n = 64, rows = 16;
    tl_phantom *p = standard(TL_PHANTOM_SHEPP_LOGAN, n, rows, (n - 1) / 2.0);
    const double s = tl_phantom_scale(p);
    float *v = malloc(rows * n * n * sizeof(float));
    for (size_t k = 0; k < rows; k++)
        tl_phantom_slice(p, k, v + k * n * n);
    for (size_t k = 0; k + 1 < rows; k++) {
        size_t differ = 0;
        for (size_t i = 0; i < n * n; i++)
            differ += fabs(v[k * n * n + i] - v[(k + 1) * n * n + i]) > 1e-3 * s;
        cr_assert(differ > 0, "slices %zu and %zu are the same", k, k + 1);
    }
    /* the two small ellipsoids at z = 0.25 show in the last rows, not the first */
    size_t big = 0;
    for (size_t i = 0; i < n * n; i++)
        big += fabs(v[i] - v[(rows - 1) * n * n + i]) > 0.05 * s;
    cr_assert(big >= 10, "first and last slice differ in %zu pixels only", big);
    free(v);
    tl_phantom_destroy(&p);
}

Test(sim_slice, random_ellipses_reproducible_and_seeded)
{
    const size_t n = 48;
    tl_phantom *a = NULL, *b = NULL, *c = NULL;
    tl_error err;
    cr_assert_eq(tl_phantom_create(TL_PHANTOM_ELLIPSES, n, 4, 23.5, 12, 5, &a, &err), TL_OK);
    cr_assert_eq(tl_phantom_create(TL_PHANTOM_ELLIPSES, n, 4, 23.5, 12, 5, &b, &err), TL_OK);
    cr_assert_eq(tl_phantom_create(TL_PHANTOM_ELLIPSES, n, 4, 23.5, 12, 6, &c, &err), TL_OK);
    float sa[48 * 48], sb[48 * 48], sc[48 * 48];
    tl_phantom_slice(a, 2, sa);
    tl_phantom_slice(b, 2, sb);
    tl_phantom_slice(c, 2, sc);
    cr_assert_eq(memcmp(sa, sb, sizeof sa), 0);
    cr_assert_neq(memcmp(sa, sc, sizeof sa), 0);
    /* positive densities only, at most 12 of them stacked */
    double s = tl_phantom_scale(a);
    for (size_t i = 0; i < n * n; i++)
        cr_assert(sa[i] >= 0.0f && sa[i] <= 12.0 * s + 1e-6);
    cr_assert(sum_floats(sa, n * n) > 0.0);
    tl_phantom_destroy(&a);
    tl_phantom_destroy(&b);
    tl_phantom_destroy(&c);
}

Test(sim_slice, create_errors)
{
    tl_phantom *p = NULL;
    tl_error err;
    cr_assert_eq(tl_phantom_create(TL_PHANTOM_ELLIPSES, 64, 4, 31.5, 0, 1, &p, &err),
                 TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--ellipses 0") != NULL, "%s", err.message);
    cr_assert_eq(tl_phantom_create(TL_PHANTOM_SHEPP_LOGAN, 64, 4, 70.0, 0, 1, &p, &err),
                 TL_ERR_INVALID);
    cr_assert(strstr(err.message, "column 70") != NULL, "%s", err.message);
    cr_assert_null(p);
}

/* ------------------------------------------------------------------- rng */

static void poisson_moments(double mean)
{
    tl_rng rng;
    tl_rng_seed(&rng, 12345);
    const int n = 200000;
    double s = 0.0, s2 = 0.0;
    for (int i = 0; i < n; i++) {
        double k = tl_rng_poisson(&rng, mean);
        cr_assert(k >= 0.0 && k == floor(k));
        s += k;
        s2 += k * k;
    }
    double m = s / n, var = s2 / n - m * m;
    /* five standard errors of the mean; the sample variance's standard error
     * is about mean sqrt(2 / n) = 0.3% of the mean for large means */
    cr_assert(fabs(m - mean) < 5.0 * sqrt(mean / n), "mean %g: sample mean %g", mean, m);
    cr_assert(fabs(var - mean) < 0.025 * mean, "mean %g: sample variance %g", mean, var);
}

Test(sim_rng, poisson_mean_and_variance)
{
    poisson_moments(3.0);
    poisson_moments(29.5); /* the last inversion mean */
    poisson_moments(30.0); /* the first PTRS mean */
    poisson_moments(50.0);
    poisson_moments(5000.0);
    poisson_moments(1e7);
    tl_rng rng;
    tl_rng_seed(&rng, 1);
    cr_assert_eq(tl_rng_poisson(&rng, 0.0), 0.0);
    cr_assert_eq(tl_rng_poisson(&rng, -1.0), 0.0);
    cr_assert_eq(tl_rng_poisson(&rng, NAN), 0.0);
}

Test(sim_rng, poisson_small_mean_probabilities)
{
    /* exact inversion: P(k) of mean 3 within sampling error */
    tl_rng rng;
    tl_rng_seed(&rng, 99);
    const int n = 200000;
    int hist[8] = {0};
    for (int i = 0; i < n; i++) {
        double k = tl_rng_poisson(&rng, 3.0);
        if (k < 8)
            hist[(int)k]++;
    }
    double p = exp(-3.0);
    for (int k = 0; k < 8; k++) {
        double f = (double)hist[k] / n;
        cr_assert(fabs(f - p) < 5.0 * sqrt(p / n) + 1e-4, "P(%d) = %g, want %g", k, f, p);
        p *= 3.0 / (k + 1);
    }
}

Test(sim_rng, normal_uniform_and_streams)
{
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    const int n = 200000;
    double s = 0, s2 = 0, u = 0;
    for (int i = 0; i < n; i++) {
        double x = tl_rng_normal(&rng);
        s += x;
        s2 += x * x;
        double v = tl_rng_uniform(&rng);
        cr_assert(v >= 0.0 && v < 1.0);
        u += v;
    }
    cr_assert(fabs(s / n) < 0.015);
    cr_assert(fabs(s2 / n - 1.0) < 0.02);
    cr_assert(fabs(u / n - 0.5) < 0.005);
    for (int i = 0; i < 1000; i++)
        cr_assert(tl_rng_below(&rng, 7) < 7);
    /* streams: same triple same numbers, any change different numbers */
    tl_rng a, b, c, d;
    tl_rng_seed_stream(&a, 1, 2, 3);
    tl_rng_seed_stream(&b, 1, 2, 3);
    tl_rng_seed_stream(&c, 1, 2, 4);
    tl_rng_seed_stream(&d, 1, 3, 3);
    uint64_t x = tl_rng_next(&a);
    cr_assert_eq(x, tl_rng_next(&b));
    cr_assert_neq(x, tl_rng_next(&c));
    cr_assert_neq(x, tl_rng_next(&d));
}

/* -------------------------------------------------------------- tl_sim_write */

Test(sim_write, defaults_match_parameter_table)
{
    tl_sim_params p;
    tl_sim_params_default(&p);
    cr_assert_eq(p.size, 256);
    cr_assert_eq(p.angles, 360);
    cr_assert_eq(p.slices, 16);
    cr_assert_eq(p.arc_deg, 180.0);
    cr_assert_eq(p.axis_offset, 0.0);
    cr_assert_eq(p.phantom, TL_PHANTOM_SHEPP_LOGAN);
    cr_assert_eq(p.n_ellipses, 12);
    cr_assert_eq(p.seed, 1);
    cr_assert_eq(p.photons, 0.0);
    cr_assert_eq(p.gain_error, 0.0);
    cr_assert_eq(p.defective_columns, 0);
    cr_assert_eq(p.defect_strength, 0.1);
    cr_assert_eq(p.n_flat, 10);
    cr_assert_eq(p.n_dark, 10);
    cr_assert_eq(p.layout, TL_LAYOUT_NXTOMO);
    cr_assert_eq(p.pixel_type, -1);
    cr_assert_eq(p.overwrite, 0);
}

Test(sim_write, parameter_errors_name_the_flag_and_leave_no_file)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    char *scan = path_in(dir, "scan.nxs"), *truth = path_in(dir, "truth.nxs");
    char *scan_partial = partial_of(scan), *truth_partial = partial_of(truth);
    tl_sim_params p;
    tl_error err;

    tl_sim_params_default(&p);
    p.axis_offset = 100.0;
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message,
                     "--axis-offset 100: the axis must stay within W/4 = 64 pixels of the detector "
                     "centre");
    p.axis_offset = -64.0;
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--axis-offset -64:") != NULL, "%s", err.message);

    tl_sim_params_default(&p);
    p.size = 4;
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--size 4:") != NULL, "%s", err.message);

    tl_sim_params_default(&p);
    p.angles = 1;
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--angles 1:") != NULL, "%s", err.message);

    tl_sim_params_default(&p);
    p.slices = 0;
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--slices 0:") != NULL, "%s", err.message);

    tl_sim_params_default(&p);
    p.defective_columns = 300;
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--defective-columns 300:") != NULL, "%s", err.message);

    tl_sim_params_default(&p);
    p.photons = 1e6; /* uint16 by default with noise: would saturate */
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--photons 1000000:") != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "65535") != NULL, "%s", err.message);

    cr_assert(!tl_test_file_exists(scan));
    cr_assert(!tl_test_file_exists(truth));
    cr_assert(!tl_test_file_exists(scan_partial));
    cr_assert(!tl_test_file_exists(truth_partial));
    free(scan);
    free(truth);
    free(scan_partial);
    free(truth_partial);
}

Test(sim_write, existing_truth_aborts_both_files)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    char *scan = path_in(dir, "scan.nxs"), *truth = path_in(dir, "truth.nxs");
    char *scan_partial = partial_of(scan);
    FILE *f = fopen(truth, "w");
    cr_assert_not_null(f);
    fputs("keep me", f);
    fclose(f);
    tl_sim_params p;
    small_params(&p);
    tl_error err;
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_ERR_EXISTS, "%s", err.message);
    cr_assert(!tl_test_file_exists(scan));
    cr_assert(!tl_test_file_exists(scan_partial));
    f = fopen(truth, "r");
    char buf[16] = "";
    cr_assert_not_null(fgets(buf, sizeof buf, f));
    fclose(f);
    cr_assert_str_eq(buf, "keep me");
    /* with overwrite both are written */
    p.overwrite = 1;
    write_ok(&p, scan, truth, NULL);
    cr_assert(tl_test_file_exists(scan));
    free(scan);
    free(truth);
    free(scan_partial);
}

Test(sim_write, angle_lists_for_180_and_360)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    const double arcs[2] = {180.0, 360.0};
    for (int t = 0; t < 2; t++) {
        char name[32];
        snprintf(name, sizeof name, "arc%d.nxs", (int)arcs[t]);
        char *scan = path_in(dir, name);
        tl_sim_params p;
        small_params(&p);
        p.arc_deg = arcs[t];
        write_ok(&p, scan, NULL, NULL);
        scan_data d;
        read_scan(scan, &d);
        cr_assert_eq(d.n_proj, 12);
        for (size_t i = 0; i < 12; i++)
            cr_assert(fabs(d.angles[i] - arcs[t] * i / 12.0) < 1e-9, "arc %g angle %zu: %g",
                      arcs[t], i, d.angles[i]);
        free_scan(&d);
        free(scan);
    }
}

Test(sim_write, noise_free_transmission_is_exp_minus_p)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    const tl_layout layouts[2] = {TL_LAYOUT_NXTOMO, TL_LAYOUT_DXCHANGE};
    for (int t = 0; t < 2; t++) {
        char *scan = path_in(dir, t ? "dx.h5" : "nx.nxs");
        tl_sim_params p;
        small_params(&p);
        p.layout = layouts[t];
        p.axis_offset = 3.25;
        write_ok(&p, scan, NULL, NULL);
        scan_data d;
        read_scan(scan, &d);
        cr_assert_eq(d.rows, p.slices);
        cr_assert_eq(d.cols, p.size);
        double *ratio = gain_ratio(&p, &d);
        for (size_t i = 0; i < d.n_proj * d.rows * d.cols; i++)
            cr_assert(fabs(ratio[i] - 1.0) < 1e-5, "pixel %zu: transmission / exp(-p) = %.9g", i,
                      ratio[i]);
        /* darks are 100 +- 5, flats 10000 (1 +- 0.05) above them */
        for (size_t i = 0; i < d.rows * d.cols; i++) {
            cr_assert(d.dark[i] >= 95.0f && d.dark[i] <= 105.0f);
            double open = d.flat[i] - d.dark[i];
            cr_assert(open >= 9500.0 && open <= 10500.0, "flat %g", open);
        }
        free(ratio);
        free_scan(&d);
        free(scan);
    }
}

Test(sim_write, gain_errors_and_defective_columns)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    char *scan = path_in(dir, "defects.nxs");
    tl_sim_params p;
    small_params(&p);
    p.size = 64;
    p.defective_columns = 3;
    p.defect_strength = 0.2;
    write_ok(&p, scan, NULL, NULL);
    scan_data d;
    read_scan(scan, &d);
    double *ratio = gain_ratio(&p, &d);
    const size_t w = p.size;
    size_t n_bad = 0;
    for (size_t j = 0; j < w; j++) {
        double r0 = ratio[j];
        int bad = fabs(r0 - 1.0) > 0.1;
        if (bad) {
            n_bad++;
            cr_assert(fabs(fabs(r0 - 1.0) - 0.2) < 1e-4, "column %zu: gain %g", j, r0);
        } else {
            cr_assert(fabs(r0 - 1.0) < 1e-5, "column %zu: gain %g", j, r0);
        }
        /* the same on every row and every angle: a stripe in every sinogram */
        for (size_t a = 0; a < d.n_proj; a++)
            for (size_t k = 0; k < d.rows; k++)
                cr_assert(fabs(ratio[(a * d.rows + k) * w + j] - r0) < 1e-5);
    }
    cr_assert_eq(n_bad, 3);
    free(ratio);
    free_scan(&d);

    /* random per-pixel errors: the spread is --gain-error, constant over angles */
    p.defective_columns = 0;
    p.gain_error = 0.03;
    p.overwrite = 1;
    write_ok(&p, scan, NULL, NULL);
    read_scan(scan, &d);
    ratio = gain_ratio(&p, &d);
    double s = 0, s2 = 0;
    size_t n = d.rows * w;
    for (size_t i = 0; i < n; i++) {
        s += ratio[i] - 1.0;
        s2 += (ratio[i] - 1.0) * (ratio[i] - 1.0);
        for (size_t a = 1; a < d.n_proj; a++)
            cr_assert(fabs(ratio[a * n + i] - ratio[i]) < 1e-5);
    }
    double sd = sqrt(s2 / n - (s / n) * (s / n));
    cr_assert(fabs(sd - 0.03) < 0.006, "gain error spread %g", sd);
    free(ratio);
    free_scan(&d);
    free(scan);
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

Test(sim_write, reproducible_whatever_the_threads)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    tl_sim_params p;
    small_params(&p);
    p.phantom = TL_PHANTOM_ELLIPSES;
    p.photons = 2000;
    p.gain_error = 0.02;
    p.defective_columns = 2;
    p.seed = 42;
    tl_workers *w3 = NULL, *w12 = NULL;
    tl_error err;
    cr_assert_eq(tl_workers_create(3, &w3, &err), TL_OK);
    cr_assert_eq(tl_workers_create(12, &w12, &err), TL_OK); /* slabs of 12 rows instead of 8 */
    char *a = path_in(dir, "a.nxs"), *b = path_in(dir, "b.nxs"), *c = path_in(dir, "c.nxs");
    char *e = path_in(dir, "e.nxs");
    char *ta = path_in(dir, "ta.nxs"), *tb = path_in(dir, "tb.nxs");
    write_ok(&p, a, ta, NULL);
    write_ok(&p, b, tb, w3);
    write_ok(&p, c, NULL, w12);
    p.seed = 43;
    write_ok(&p, e, NULL, w3);
    scan_data da, db, dc, de;
    read_scan(a, &da);
    read_scan(b, &db);
    read_scan(c, &dc);
    read_scan(e, &de);
    size_t np = da.n_proj * da.rows * da.cols, nf = da.rows * da.cols;
    cr_assert(same_floats(da.proj, db.proj, np));
    cr_assert(same_floats(da.proj, dc.proj, np));
    cr_assert(same_floats(da.flat, dc.flat, nf));
    cr_assert(same_floats(da.dark, dc.dark, nf));
    cr_assert(!same_floats(da.proj, de.proj, np));
    cr_assert(!same_floats(da.flat, de.flat, nf));
    /* noisy scans are integers (uint16) */
    for (size_t i = 0; i < np; i++)
        cr_assert_eq(da.proj[i], floorf(da.proj[i]));
    /* noise really is there: repeated flats differ between frames */
    float *va = NULL, *vb = NULL;
    size_t nz, ny, nx;
    cr_assert_eq(tl_volume_read(ta, &va, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_read(tb, &vb, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert_eq(nz, p.slices);
    cr_assert_eq(ny, p.size);
    cr_assert_eq(nx, p.size);
    cr_assert(same_floats(va, vb, nz * ny * nx));
    free(va);
    free(vb);
    free_scan(&da);
    free_scan(&db);
    free_scan(&dc);
    free_scan(&de);
    free(a);
    free(b);
    free(c);
    free(e);
    free(ta);
    free(tb);
    tl_workers_destroy(&w3);
    tl_workers_destroy(&w12);
}

Test(sim_write, poisson_noise_level)
{
    /* flats: frame-to-frame spread of one pixel is sqrt(I0 g + 4) */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    char *scan = path_in(dir, "noisy.nxs");
    tl_sim_params p;
    small_params(&p);
    p.photons = 1000;
    p.n_flat = 1;
    p.angles = 200;
    p.arc_deg = 180;
    write_ok(&p, scan, NULL, NULL);
    scan_data d;
    read_scan(scan, &d);
    /* a corner pixel sees no object: every projection is an independent flat */
    const size_t w = p.size, px = 0;
    double s = 0, s2 = 0;
    for (size_t a = 0; a < d.n_proj; a++) {
        double v = d.proj[a * d.rows * w + px] - d.dark[px];
        s += v;
        s2 += v * v;
    }
    double m = s / d.n_proj, var = s2 / d.n_proj - m * m;
    cr_assert(m > 900 && m < 1100, "mean %g", m);
    cr_assert(var > 0.6 * (m + 4) && var < 1.5 * (m + 4), "variance %g for mean %g", var, m);
    free_scan(&d);
    free(scan);
}

Test(sim_write, truth_volume_matches_phantom)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    char *scan = path_in(dir, "s.nxs"), *truth = path_in(dir, "t.nxs");
    tl_sim_params p;
    small_params(&p);
    p.axis_offset = -5.5;
    write_ok(&p, scan, truth, NULL);
    float *v = NULL;
    size_t nz, ny, nx;
    tl_error err;
    cr_assert_eq(tl_volume_read(truth, &v, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert_eq(nz, 10);
    cr_assert_eq(ny, 32);
    cr_assert_eq(nx, 32);
    tl_phantom *ph = standard(TL_PHANTOM_SHEPP_LOGAN, 32, 10, 15.5 - 5.5);
    float slice[32 * 32];
    for (size_t k = 0; k < nz; k++) {
        tl_phantom_slice(ph, k, slice);
        cr_assert(same_floats(slice, v + k * 32 * 32, 32 * 32), "slice %zu", k);
    }
    tl_phantom_destroy(&ph);
    free(v);
    /* provenance: the axis the projections used, and the parameters */
    hid_t f = H5Fopen(truth, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t d = H5Dopen2(f, "/entry/process/rotation_axis", H5P_DEFAULT);
    cr_assert(d >= 0);
    double axis = 0.0;
    cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &axis) >= 0);
    cr_assert_eq(axis, 10.0);
    H5Dclose(d);
    cr_assert(H5Lexists(f, "/entry/process/parameters/axis-offset", H5P_DEFAULT) > 0);
    cr_assert(H5Lexists(f, "/entry/process/parameters/seed", H5P_DEFAULT) > 0);
    H5Fclose(f);
    free(scan);
    free(truth);
}
