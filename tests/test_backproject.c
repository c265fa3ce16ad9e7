/* test_backproject.c - physics of the filtered backprojection:
 * a uniform disk comes back with its value (not a scaled copy), the result does
 * not depend on where the axis sits on the detector nor on 180 vs 360 degrees,
 * and the backprojection is the adjoint of a linear-interpolation projector. */
#include <criterion/criterion.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backproject.h"
#include "fbp.h"
#include "fftw_wisdom.h"
#include "filter.h"
#include "support.h"
#include "workers.h"


static float *disk_sinogram(size_t na, size_t w, double arc, double a, double x0, double y0, double rad,
                            double rho, double *angles)
{
    float *s = malloc(na * w * sizeof *s);
    for (size_t i = 0; i < na; i++) {
        angles[i] = arc * (double)i / (double)na;
        double th = angles[i] * M_PI / 180.0;
        for (size_t j = 0; j < w; j++)
            s[i * w + j] = (float)tl_test_disk_projection((double)j, a, th, x0, y0, rad, rho);
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

/* ---- the kernel itself (backproject.h) against a straightforward loop ---------------------- */

/* One backprojection problem on random guarded sinograms. The sinogram buffer has exactly the
 * size the layout needs (stride = n_cols + 2), so ASan sees any read past the last line. */
typedef struct {
    size_t n, n_cols, n_angles, n_slices;
    double axis;
    double first_deg, arc_deg; /* angles first + arc * i / n_angles */
} bp_case;

typedef struct {
    bp_case c;
    size_t stride;
    float *sino, *cos_theta, *sin_theta;
} bp_problem;

static void problem_create(bp_problem *p, const bp_case *c, unsigned seed)
{
    p->c = *c;
    p->stride = c->n_cols + 2;
    p->sino = calloc(c->n_slices * c->n_angles * p->stride, sizeof *p->sino);
    p->cos_theta = malloc(c->n_angles * sizeof *p->cos_theta);
    p->sin_theta = malloc(c->n_angles * sizeof *p->sin_theta);
    cr_assert(p->sino && p->cos_theta && p->sin_theta);
    srand(seed);
    for (size_t l = 0; l < c->n_slices * c->n_angles; l++)
        for (size_t j = 0; j < c->n_cols; j++) /* the guards (elements 0 and n_cols + 1) stay 0 */
            p->sino[l * p->stride + 1 + j] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < c->n_angles; i++) {
        double t = (c->first_deg + c->arc_deg * (double)i / (double)c->n_angles) * M_PI / 180.0;
        p->cos_theta[i] = (float)cos(t);
        p->sin_theta[i] = (float)sin(t);
    }
}

static void problem_destroy(bp_problem *p)
{
    free(p->sino);
    free(p->cos_theta);
    free(p->sin_theta);
}

/* The straightforward loop of backproject.h, in float: for each pixel and angle, j = -centre cos
 * + y sin + a + 1 + c cos in guarded coordinates; pixels whose j falls outside [0, n_cols + 1)
 * add nothing; the others add the linear interpolation between the two taps. */
static void reference_backproject(const bp_problem *p, float *out)
{
    const bp_case *c = &p->c;
    const float centre = 0.5f * (float)(c->n - 1), upper = (float)c->n_cols + 1.0f;
    for (size_t s = 0; s < c->n_slices; s++)
        for (size_t r = 0; r < c->n; r++)
            for (size_t col = 0; col < c->n; col++) {
                float sum = 0.0f, y = (float)r - centre;
                for (size_t i = 0; i < c->n_angles; i++) {
                    const float ct = p->cos_theta[i], st = p->sin_theta[i];
                    const float *line = p->sino + (s * c->n_angles + i) * p->stride;
                    float base = -centre * ct + y * st + (float)c->axis + 1.0f;
                    float j = base + (float)col * ct;
                    if (!(j >= 0.0f && j < upper))
                        continue;
                    int j0 = (int)j;
                    float w = j - (float)j0;
                    sum += line[j0] + w * (line[j0 + 1] - line[j0]);
                }
                out[(s * c->n + r) * c->n + col] = sum;
            }
}

/* The kernel over angles [i0, i1) of the problem, as pipeline/stream.c calls it (the scratch
 * tables are documented as unused: NULL). */
static void kernel_range(const bp_problem *p, size_t i0, size_t i1, int accumulate, float *out, tl_workers *w)
{
    const bp_case *c = &p->c;
    tl_backproject_args a = {.sino = p->sino + i0 * p->stride,
                             .stride = p->stride,
                             .slice_stride = c->n_angles * p->stride,
                             .n_slices = c->n_slices,
                             .n_angles = i1 - i0,
                             .n_cols = c->n_cols,
                             .cos_theta = p->cos_theta + i0,
                             .sin_theta = p->sin_theta + i0,
                             .axis = c->axis,
                             .n = c->n,
                             .out = out,
                             .accumulate = accumulate};
    tl_backproject_cpu(&a, w);
}

static double max_abs(const float *v, size_t count)
{
    double m = 0;
    for (size_t i = 0; i < count; i++)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

/* Pixels where a and b differ, and the largest difference (infinite where either is not finite). */
static size_t count_differences(const float *a, const float *b, size_t count, double *max_diff)
{
    size_t k = 0;
    *max_diff = 0;
    for (size_t i = 0; i < count; i++)
        if (a[i] != b[i] || !isfinite(a[i])) {
            k++;
            double d = isfinite(a[i]) && isfinite(b[i]) ? fabs((double)a[i] - b[i]) : INFINITY;
            *max_diff = d > *max_diff ? d : *max_diff;
        }
    return k;
}

/* odd and even N, N below, equal to and above the detector width, centred and off-centre axes
 * (one off the detector), 180 and 360 degrees with angles of exactly 0, 90, 180 and 270 degrees,
 * 1 to 5 slices (slices go in groups of 2 in the kernel) */
static const bp_case kernel_cases[] = {
    {64, 64, 90, 3, 31.5, 0.0, 180.0},      {65, 64, 91, 1, 30.2, 0.0, 180.0},
    {77, 50, 33, 3, 20.7, 3.7, 180.0},      {40, 97, 17, 2, 60.3, 10.0, 180.0},
    {33, 40, 24, 1, -3.0, 0.0, 360.0},      {100, 120, 64, 5, 71.25, 0.0, 360.0},
    {131, 128, 120, 2, 64.0 - 9.6, 0.0, 180.0},
    /* at 0 degrees the guarded coordinate of column c is 2 - 2^-20 + c: column 8 gives 10 - 2^-20,
     * floor 9, column 15 gives 17 - 2^-20, which rounds (a tie, to even) to 17: eight neighbours
     * whose taps span 8 columns, not 7 - the case the vector path must not take as "inner" */
    {16, 48, 8, 1, 8.5 - 0x1p-20, 0.0, 180.0},
    /* one tile whose rays at the last angle (81 degrees) reach column 37.7 of 40, eight neighbours
     * within 1.1 columns: 8-wide loads from there would run past the last line of the buffer, which
     * ASan watches (the buffer has exactly the size of the layout) */
    {32, 40, 2, 1, 20.0, 80.0, 2.0},
};

/* The kernel on each of its paths (TOMOLINE_SIMD caps it: the widest the CPU has, AVX2, the
 * portable C), with 1 and 3 threads, equals the loop. The design keeps the reference's float
 * operations and their order, so the sums agree bit for bit with the flags of this project; the
 * assertion against the loop allows 1e-6 of the largest value for builds that contract a * b + c
 * into a fused multiply-add in one of them. Thread counts must agree exactly (same path, same
 * order of every sum). On a CPU without AVX-512 or AVX2 the capped runs repeat a narrower path. */
Test(backproject, kernel_equals_straightforward_loop)
{
    static const char *const paths[] = {NULL, "avx2", "generic"};
    for (size_t k = 0; k < sizeof kernel_cases / sizeof *kernel_cases; k++) {
        const bp_case *c = &kernel_cases[k];
        bp_problem p;
        problem_create(&p, c, 11 + (unsigned)k);
        size_t count = c->n_slices * c->n * c->n;
        float *ref = malloc(count * sizeof *ref), *out = malloc(count * sizeof *out),
              *one_thread = malloc(count * sizeof *one_thread);
        reference_backproject(&p, ref);
        double scale = max_abs(ref, count);
        cr_assert(scale > 0.1, "case %zu: the reference is empty", k);
        for (size_t path = 0; path < sizeof paths / sizeof *paths; path++) {
            if (paths[path])
                setenv("TOMOLINE_SIMD", paths[path], 1);
            for (int threads = 1; threads <= 3; threads += 2) {
                tl_workers *w = NULL;
                tl_error err = {0};
                cr_assert_eq(tl_workers_create(threads, &w, &err), TL_OK);
                for (size_t i = 0; i < count; i++)
                    out[i] = NAN; /* every pixel must be written (accumulate = 0) */
                kernel_range(&p, 0, c->n_angles, 0, out, w);
                tl_workers_destroy(&w);
                double max_diff;
                size_t differ = count_differences(out, ref, count, &max_diff);
                cr_assert(max_diff <= 1e-6 * scale,
                          "case %zu (N %zu, %zu columns, axis %g, path %s, %d threads): %zu pixels differ from "
                          "the loop, by up to %g (largest value %g)",
                          k, c->n, c->n_cols, c->axis, paths[path] ? paths[path] : "widest", threads, differ,
                          max_diff, scale);
                if (threads == 1)
                    memcpy(one_thread, out, count * sizeof *out);
                else
                    cr_assert_eq(count_differences(out, one_thread, count, &max_diff), 0,
                                 "case %zu: 3 threads differ from 1 by up to %g", k, max_diff);
            }
        }
        unsetenv("TOMOLINE_SIMD");
        free(ref);
        free(out);
        free(one_thread);
        problem_destroy(&p);
    }
}

/* accumulate = 1 over angles [0, a), [a, b), [b, n) - the streaming path's passes - gives the sums
 * of one pass exactly: each pixel still adds its angles in angle order, onto what is in out.
 * Also: accumulate = 1 adds to what out held before (here: a constant). */
Test(backproject, three_accumulating_passes_equal_one_pass)
{
    for (size_t k = 0; k < sizeof kernel_cases / sizeof *kernel_cases; k++) {
        const bp_case *c = &kernel_cases[k];
        bp_problem p;
        problem_create(&p, c, 101 + (unsigned)k);
        size_t count = c->n_slices * c->n * c->n;
        float *one = malloc(count * sizeof *one), *three = malloc(count * sizeof *three),
              *onto = malloc(count * sizeof *onto);
        tl_workers *w = NULL;
        tl_error err = {0};
        cr_assert_eq(tl_workers_create(2, &w, &err), TL_OK);
        kernel_range(&p, 0, c->n_angles, 0, one, w);
        size_t a = c->n_angles / 3, b = a + c->n_angles / 5 + 1;
        for (size_t i = 0; i < count; i++)
            three[i] = 0.0f;
        kernel_range(&p, 0, a, 1, three, w);
        kernel_range(&p, a, b, 1, three, w);
        kernel_range(&p, b, c->n_angles, 1, three, w);
        double max_diff;
        size_t differ = count_differences(three, one, count, &max_diff);
        cr_assert_eq(differ, 0, "case %zu: passes [0,%zu) [%zu,%zu) [%zu,%zu): %zu pixels differ, by up to %g", k, a,
                     a, b, b, c->n_angles, differ, max_diff);
        /* onto a constant: the same as adding the constant first, then the angles in order */
        for (size_t i = 0; i < count; i++)
            onto[i] = 0.25f;
        kernel_range(&p, 0, c->n_angles, 1, onto, w);
        for (size_t i = 0; i < count; i++)
            cr_assert(fabsf(onto[i] - (one[i] + 0.25f)) <= 1e-5f * (fabsf(one[i]) + 1.0f),
                      "case %zu pixel %zu: %g onto 0.25 vs %g + 0.25", k, i, onto[i], one[i]);
        tl_workers_destroy(&w);
        free(one);
        free(three);
        free(onto);
        problem_destroy(&p);
    }
}

/* ---- FFTW wisdom kept across runs (fftw_wisdom.h), through the filter of the FBP plan --------- */

static tl_filter_plan *filter_plan_of(size_t n_cols)
{
    tl_filter_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_filter_plan_create(4, n_cols, TL_FILTER_RAMP, NULL, NULL, &plan, &err), TL_OK, "%s",
                 err.message);
    return plan;
}

static char *slurp_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = calloc(1 << 20, 1);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* No NAME.*.partial left behind in dir. */
static int partial_files_in(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '\\.partial$' >/dev/null", dir);
    return system(cmd) == 0;
}

Test(fftw_wisdom, measured_plans_are_saved_atomically)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    snprintf(path, sizeof path, "%s/wisdom", dir);
    setenv("TOMOLINE_FFTW_WISDOM", path, 1);
    setenv("TOMOLINE_FFTW_MEASURE", "1", 1);
    tl_filter_plan *plan = filter_plan_of(50); /* padded to 100 */
    tl_fftw_wisdom_counters n;
    tl_fftw_wisdom_get_counters(&n);
    cr_assert_eq(n.loaded, 0, "there was no file to import");
    cr_assert_eq(n.measured, 2, "forward and backward measured: %lu", n.measured);
    cr_assert_eq(n.from_wisdom + n.estimated, 0);
    cr_assert_eq(n.saved, 2, "saved after each measured plan: %lu (failed %lu)", n.saved, n.save_failed);
    char *text = slurp_text(path);
    cr_assert_not_null(text, "%s was not written", path);
    cr_assert(strncmp(text, "(fftw-3", 7) == 0 && strstr(text, "fftwf_wisdom"), "not float wisdom: %.80s", text);
    cr_assert(!partial_files_in(dir), "a .partial file was left in %s", dir);
    /* the measured plans filter right: the ramp filter is the convolution with the spatial ramp
     * h(0) = 1/4, h(odd m) = -1/(pi m)^2 (filter.h), exact here because |j - k| < n_padded / 2 */
    float line[50];
    for (int j = 0; j < 50; j++)
        line[j] = (float)sin(0.3 * j) + (j == 17 ? 1.0f : 0.0f);
    double direct[50];
    for (int j = 0; j < 50; j++) {
        direct[j] = 0;
        for (int k = 0; k < 50; k++) {
            int m = abs(j - k);
            direct[j] += line[k] * (m == 0 ? 0.25 : (m % 2 ? -1.0 / (M_PI * M_PI * m * m) : 0.0));
        }
    }
    tl_filter_exec(plan, line, 1, 50);
    for (int j = 0; j < 50; j++)
        cr_assert(fabs(line[j] - direct[j]) <= 1e-5, "column %d: %.7g, convolution %.7g", j, line[j], direct[j]);
    tl_filter_plan_destroy(&plan);
    free(text);
}

/* Wisdom for the padded length, written beforehand (here with FFTW directly, then forgotten): the
 * FBP plan imports it and its filter plans come from it without measuring - and without
 * TOMOLINE_FFTW_MEASURE. A length the wisdom lacks is estimated. The reconstruction is still exact. */
Test(fftw_wisdom, plans_come_from_saved_wisdom)
{
    enum { W = 128, NA = 360 };
    char path[4200];
    snprintf(path, sizeof path, "%s/wisdom", tl_test_tmpdir());
    size_t padded = tl_filter_padded_size(W);
    tl_fftw_planner_lock();
    float *real = fftwf_alloc_real(padded);
    fftwf_complex *spec = fftwf_alloc_complex(padded / 2 + 1);
    fftwf_plan f = fftwf_plan_dft_r2c_1d((int)padded, real, spec, FFTW_MEASURE);
    fftwf_plan b = fftwf_plan_dft_c2r_1d((int)padded, spec, real, FFTW_MEASURE);
    cr_assert(f && b && fftwf_export_wisdom_to_filename(path));
    fftwf_destroy_plan(f);
    fftwf_destroy_plan(b);
    fftwf_forget_wisdom();
    fftwf_free(real);
    fftwf_free(spec);
    tl_fftw_planner_unlock();

    setenv("TOMOLINE_FFTW_WISDOM", path, 1);
    unsetenv("TOMOLINE_FFTW_MEASURE");
    double angles[NA], rho = 0.02, a = 0.5 * (W - 1);
    float *sino = disk_sinogram(NA, W, 180.0, a, 0, 0, 40.0, rho, angles);
    float *rec = reconstruct(sino, NA, W, angles, a, TL_FILTER_RAMP, 2);
    tl_fftw_wisdom_counters n;
    tl_fftw_wisdom_get_counters(&n);
    cr_assert_eq(n.loaded, 1);
    cr_assert_eq(n.from_wisdom, 2, "from wisdom %lu, measured %lu, estimated %lu", n.from_wisdom, n.measured,
                 n.estimated);
    cr_assert_eq(n.measured + n.estimated + n.saved, 0);
    double inside = tl_test_mean_disk(rec, W, 0, 0, 30.0);
    cr_assert(fabs(inside / rho - 1.0) < 0.003, "ratio %.5f", inside / rho);

    tl_filter_plan *other = filter_plan_of(W + 10); /* another padded length: not in the wisdom */
    tl_fftw_wisdom_get_counters(&n);
    cr_assert_eq(n.estimated, 2);
    cr_assert_eq(n.measured, 0);
    tl_filter_plan_destroy(&other);
    free(sino);
    free(rec);
}

/* A file that is not wisdom is ignored; a file that cannot be written is not an error; either
 * way the plans are made and work. */
Test(fftw_wisdom, bad_or_unwritable_files_are_not_errors)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    snprintf(path, sizeof path, "%s/wisdom", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("(fftw-3.3.10 fftwf_wisdom #x00000000 (garbage", f);
    fclose(f);
    setenv("TOMOLINE_FFTW_WISDOM", path, 1);
    unsetenv("TOMOLINE_FFTW_MEASURE");
    tl_filter_plan *plan = filter_plan_of(40);
    tl_fftw_wisdom_counters n;
    tl_fftw_wisdom_get_counters(&n);
    cr_assert_eq(n.loaded, 0);
    cr_assert_eq(n.estimated, 2);
    tl_filter_plan_destroy(&plan);

    /* measuring into a directory that does not exist: measured, saving fails quietly */
    snprintf(path, sizeof path, "%s/missing/dir/wisdom", dir);
    setenv("TOMOLINE_FFTW_WISDOM", path, 1);
    setenv("TOMOLINE_FFTW_MEASURE", "1", 1);
    plan = filter_plan_of(60);
    tl_fftw_wisdom_get_counters(&n);
    cr_assert_eq(n.measured, 2);
    cr_assert_eq(n.saved, 0);
    cr_assert_eq(n.save_failed, 2);
    cr_assert(!tl_test_file_exists(path));
    tl_filter_plan_destroy(&plan);
}

/* Without TOMOLINE_FFTW_WISDOM the file is ${XDG_CACHE_HOME:-$HOME/.cache}/tomoline/fftw-wisdom-<host>,
 * and the directories are made when wisdom is saved. A relative XDG_CACHE_HOME is ignored (XDG spec). */
Test(fftw_wisdom, default_file_is_in_the_cache_directory)
{
    char cache[4096], home[4096], path[8192], expected[8192], host[256];
    snprintf(cache, sizeof cache, "%s/cache", tl_test_tmpdir());
    snprintf(home, sizeof home, "%s", tl_test_tmpdir());
    cr_assert_eq(gethostname(host, sizeof host), 0);
    host[sizeof host - 1] = '\0';
    unsetenv("TOMOLINE_FFTW_WISDOM");
    setenv("HOME", home, 1);
    setenv("XDG_CACHE_HOME", "relative/cache", 1);
    cr_assert(tl_fftw_wisdom_path(path, sizeof path));
    snprintf(expected, sizeof expected, "%s/.cache/tomoline/fftw-wisdom-", home);
    cr_assert(strncmp(path, expected, strlen(expected)) == 0, "%s", path);
    setenv("XDG_CACHE_HOME", cache, 1);
    cr_assert(tl_fftw_wisdom_path(path, sizeof path));
    snprintf(expected, sizeof expected, "%s/tomoline/fftw-wisdom-", cache);
    cr_assert(strncmp(path, expected, strlen(expected)) == 0, "%s", path);
    if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(host))
        cr_assert_str_eq(path + strlen(expected), host);
    char small[8];
    cr_assert_eq(tl_fftw_wisdom_path(small, sizeof small), 0, "a path that does not fit is refused");

    setenv("TOMOLINE_FFTW_MEASURE", "1", 1);
    tl_filter_plan *plan = filter_plan_of(30);
    cr_assert(tl_test_file_exists(path), "%s was not written", path);
    tl_filter_plan_destroy(&plan);
}
