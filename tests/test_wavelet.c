/* test_wavelet.c - Daubechies and symlet filters from spectral factorisation,
 * and the periodised 1-D and 2-D transforms (exact inverse, Parseval, what a
 * vertical stripe looks like after the transform). */
#include <criterion/criterion.h>
#include <gsl/gsl_wavelet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "wavelet.h"

static const double sqrt2 = 1.41421356237309504880;

static tl_wavelet make(const char *name)
{
    tl_wavelet w;
    tl_error err = {0};
    cr_assert_eq(tl_wavelet_init(&w, name, &err), TL_OK, "%s: %s", name, err.message);
    return w;
}

/* xorshift64*, uniform in [-1, 1) */
static double uniform(unsigned long long *s)
{
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ull) >> 11) / 4503599627370496.0 - 1.0;
}

Test(wavelet, daubechies_equal_gsl_tables)
{
    for (int n = 2; n <= 10; n++) {
        char name[8];
        snprintf(name, sizeof name, "db%d", n);
        tl_wavelet w = make(name);
        gsl_wavelet *g = gsl_wavelet_alloc(gsl_wavelet_daubechies, (size_t)(2 * n));
        cr_assert_not_null(g);
        cr_assert_eq(g->nc, (size_t)w.length, "%s: %zu taps in GSL, %d here", name, g->nc, w.length);
        /* GSL's h1 is the scaling filter with sum sqrt(2), minimum phase first,
         * the same ordering and normalisation as lo[] */
        for (int i = 0; i < w.length; i++)
            cr_assert(fabs(w.lo[i] - g->h1[i]) < 1e-10, "%s h[%d] = %.17g, GSL %.17g", name, i, w.lo[i], g->h1[i]);
        gsl_wavelet_free(g);
    }
}

static const char *all_names(int i)
{
    static char name[8];
    if (i == 0)
        return "haar";
    if (i <= 20)
        snprintf(name, sizeof name, "db%d", i);
    else
        snprintf(name, sizeof name, "sym%d", i - 19);
    return name;
}
#define N_NAMES 40 /* haar, db1..db20, sym2..sym20 */

Test(wavelet, every_filter_is_orthonormal_with_n_vanishing_moments)
{
    for (int f = 0; f < N_NAMES; f++) {
        const char *name = all_names(f);
        tl_wavelet w = make(name);
        int len = w.length, n_mom = w.moments;
        cr_assert_eq(len, 2 * n_mom, "%s", name);
        double sum = 0, sum2 = 0;
        for (int i = 0; i < len; i++)
            sum += w.lo[i], sum2 += w.lo[i] * w.lo[i];
        cr_assert(fabs(sum - sqrt2) < 1e-13, "%s: sum h = %.17g", name, sum);
        cr_assert(fabs(sum2 - 1.0) < 1e-13, "%s: sum h^2 = %.17g", name, sum2);
        /* orthogonal to its even shifts, and to the wavelet at every even shift */
        for (int m = 1; 2 * m < len; m++) {
            double o = 0;
            for (int i = 0; i + 2 * m < len; i++)
                o += w.lo[i] * w.lo[i + 2 * m];
            cr_assert(fabs(o) < 1e-13, "%s: <h, h shifted by %d> = %g", name, 2 * m, o);
        }
        for (int m = -len / 2; m <= len / 2; m++) {
            double o = 0;
            for (int i = 0; i < len; i++)
                if (i + 2 * m >= 0 && i + 2 * m < len)
                    o += w.lo[i] * w.hi[i + 2 * m];
            cr_assert(fabs(o) < 1e-13, "%s: <h, g shifted by %d> = %g", name, 2 * m, o);
        }
        /* sum_n t^k g[n] = 0 for k < N, t = (n - centre) / length (centred and
         * scaled so that the sums do not cancel), relative to sum |t^k g[n]|;
         * and not N + 1 of them: the N-th moment is clearly non-zero */
        for (int k = 0; k <= n_mom; k++) {
            double m = 0, scale = 0;
            for (int i = 0; i < len; i++) {
                double t = pow((i - 0.5 * (len - 1)) / len, (double)k) * w.hi[i];
                m += t, scale += fabs(t);
            }
            if (k < n_mom)
                cr_assert(fabs(m) < 1e-13 * scale, "%s: moment %d of g = %g (scale %g)", name, k, m, scale);
            else
                cr_assert(fabs(m) > 1e-7 * scale, "%s: moment %d of g vanishes too (%g)", name, k, m / scale);
        }
    }
}

Test(wavelet, haar_and_db1_are_the_two_tap_average)
{
    tl_wavelet h = make("haar"), d = make("db1");
    cr_assert_eq(h.length, 2);
    cr_assert_eq(d.length, 2);
    for (int i = 0; i < 2; i++) {
        cr_assert(fabs(h.lo[i] - sqrt(0.5)) < 1e-15);
        cr_assert(fabs(d.lo[i] - sqrt(0.5)) < 1e-15);
    }
    cr_assert(fabs(h.hi[0] - sqrt(0.5)) < 1e-15 && fabs(h.hi[1] + sqrt(0.5)) < 1e-15);
}

Test(wavelet, sym4_equals_the_published_filter_up_to_reversal)
{
    /* PyWavelets' sym4 dec_lo (the MATLAB toolbox's table); rec_lo is its reverse */
    static const double published[8] = {-0.07576571478927333, -0.02963552764599851, 0.49761866763201545,
                                        0.8037387518059161,   0.29785779560527736,  -0.09921954357684722,
                                        -0.012603967262037833, 0.0322231006040427};
    tl_wavelet w = make("sym4");
    double fwd = 0, rev = 0;
    for (int i = 0; i < 8; i++) {
        fwd = fmax(fwd, fabs(w.lo[i] - published[i]));
        rev = fmax(rev, fabs(w.lo[i] - published[7 - i]));
    }
    cr_assert(fmin(fwd, rev) < 1e-10, "sym4 differs from the published values by %g (reversed: %g)", fwd, rev);
}

/* |H(w)|^2 at w */
static double power_response(const tl_wavelet *w, double omega)
{
    double re = 0, im = 0;
    for (int i = 0; i < w->length; i++)
        re += w->lo[i] * cos(omega * i), im -= w->lo[i] * sin(omega * i);
    return re * re + im * im;
}

/* The non-linear part of the phase of H, RMS over (0, pi). H = (1 + x)^N L(x),
 * x = e^{-iw}: the first factor has linear phase and N zeros at pi, where the
 * phase of H cannot be read, so measure L (h divided N times by 1 + x), which
 * has no zero on the unit circle. */
static double phase_nonlinearity(const tl_wavelet *w)
{
    double l[TL_WAVELET_MAX_LENGTH];
    int deg = w->length - 1;
    for (int i = 0; i <= deg; i++)
        l[i] = w->lo[i];
    for (int k = 0; k < w->moments; k++, deg--)
        for (int i = 1; i < deg; i++) /* quotient by (1 + x), low order first */
            l[i] -= l[i - 1];
    enum { M = 2000 };
    double prev = 0, unwrapped = 0, ph[M + 1];
    for (int k = 0; k <= M; k++) {
        double omega = M_PI * k / M, re = 0, im = 0;
        for (int i = 0; i <= deg; i++)
            re += l[i] * cos(omega * i), im -= l[i] * sin(omega * i);
        double p = atan2(im, re);
        if (k > 0) {
            double d = p - prev;
            d -= 2 * M_PI * floor((d + M_PI) / (2 * M_PI));
            unwrapped += d;
        } else {
            unwrapped = p;
        }
        prev = p;
        ph[k] = unwrapped;
    }
    /* remove the least-squares line */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int k = 0; k <= M; k++)
        sx += k, sy += ph[k], sxx += (double)k * k, sxy += k * ph[k];
    double n = M + 1, slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), icpt = (sy - slope * sx) / n, ss = 0;
    for (int k = 0; k <= M; k++)
        ss += (ph[k] - icpt - slope * k) * (ph[k] - icpt - slope * k);
    return sqrt(ss / n);
}

Test(wavelet, symlets_share_the_daubechies_spectrum_with_a_more_linear_phase)
{
    for (int n = 2; n <= 20; n++) {
        char dn[8], sn[8];
        snprintf(dn, sizeof dn, "db%d", n);
        snprintf(sn, sizeof sn, "sym%d", n);
        tl_wavelet d = make(dn), s = make(sn);
        for (double omega = 0; omega <= M_PI; omega += M_PI / 97)
            cr_assert(fabs(power_response(&d, omega) - power_response(&s, omega)) < 1e-12, "%s vs %s at %g", dn,
                      sn, omega);
        double pd = phase_nonlinearity(&d), ps = phase_nonlinearity(&s);
        if (n >= 4)
            cr_assert(ps < 0.5 * pd, "%s: phase non-linearity %g, %s: %g", sn, ps, dn, pd);
        else /* sym2, sym3 are db2, db3: one group of zeros, no other choice */
            cr_assert(fabs(ps - pd) < 1e-9, "%s: %g vs %s: %g", sn, ps, dn, pd);
    }
}

Test(wavelet, unknown_names_are_rejected_with_the_option_and_the_families)
{
    const char *bad[] = {"db0", "db21", "sym1", "sym21", "db05", "db", "sym", "coif3", "DB4", "db4x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tl_wavelet w;
        tl_error err = {0};
        cr_assert_eq(tl_wavelet_init(&w, bad[i], &err), TL_ERR_INVALID, "'%s' accepted", bad[i]);
        char expect[256];
        snprintf(expect, sizeof expect,
                 "--fw-filter '%s': unknown wavelet (allowed: haar, db1..db20, sym2..sym20)", bad[i]);
        cr_assert_str_eq(err.message, expect);
    }
    tl_wavelet w;
    tl_error err = {0};
    cr_assert_eq(tl_wavelet_init(&w, NULL, &err), TL_ERR_INVALID);
}

Test(wavelet, max_level_follows_pywavelets_rule)
{
    tl_wavelet haar = make("haar"), db5 = make("db5"), db20 = make("db20");
    cr_assert_eq(tl_wavelet_max_level(256, &haar), 8);
    cr_assert_eq(tl_wavelet_max_level(255, &haar), 7);
    cr_assert_eq(tl_wavelet_max_level(256, &db5), 4);  /* log2(256 / 9) = 4.83 */
    cr_assert_eq(tl_wavelet_max_level(360, &db5), 5);  /* log2(40) = 5.32 */
    cr_assert_eq(tl_wavelet_max_level(2048, &db5), 7); /* log2(227.6) = 7.83 */
    cr_assert_eq(tl_wavelet_max_level(8, &db5), 0);
    cr_assert_eq(tl_wavelet_max_level(9, &db5), 0);
    cr_assert_eq(tl_wavelet_max_level(18, &db5), 1);
    cr_assert_eq(tl_wavelet_max_level(156, &db20), 2); /* 156 / 39 = 4 */
    cr_assert_eq(tl_wavelet_max_level(155, &db20), 1);
}

/* 1-D: inverse(forward(x)) = x and sum a^2 + d^2 = sum x^2, for lengths below,
 * at and above the filter length and with strides. */
Test(wavelet, one_d_transform_is_orthogonal_and_exactly_invertible)
{
    const char *names[] = {"haar", "db2", "db5", "sym8", "db20"};
    size_t lengths[] = {2, 4, 6, 10, 38, 64, 250};
    unsigned long long seed = 12345;
    for (size_t f = 0; f < 5; f++) {
        tl_wavelet w = make(names[f]);
        for (size_t li = 0; li < 7; li++) {
            size_t n = lengths[li], stride = 3;
            float *x = malloc(n * stride * sizeof *x), *y = malloc(n * stride * sizeof *y);
            float *coef = malloc(n * 2 * sizeof *coef), *scratch = malloc((2 * n + 40) * sizeof *scratch);
            double e_x = 0, e_c = 0, e_d = 0;
            for (size_t i = 0; i < n; i++)
                x[i * stride] = (float)uniform(&seed), e_x += (double)x[i * stride] * x[i * stride];
            tl_dwt_forward_1d(&w, x, n, stride, coef, coef + 1, 2, scratch);
            for (size_t k = 0; k < n; k++)
                e_c += (double)coef[k] * coef[k];
            tl_dwt_inverse_1d(&w, coef, coef + 1, n, 2, y, stride, scratch);
            for (size_t i = 0; i < n; i++)
                e_d += ((double)y[i * stride] - x[i * stride]) * ((double)y[i * stride] - x[i * stride]);
            cr_assert(fabs(e_c - e_x) < 1e-5 * e_x, "%s n=%zu: energy %g -> %g", names[f], n, e_x, e_c);
            cr_assert(sqrt(e_d / e_x) < 1e-5, "%s n=%zu: reconstruction error %g", names[f], n, sqrt(e_d / e_x));
            free(x), free(y), free(coef), free(scratch);
        }
    }
}

Test(wavelet, one_d_in_place_equals_out_of_place)
{
    tl_wavelet w = make("db4");
    size_t n = 32;
    float x[32], a[16], d[16], inplace[32], scratch[2 * 32 + 40];
    unsigned long long seed = 7;
    for (size_t i = 0; i < n; i++)
        x[i] = inplace[i] = (float)uniform(&seed);
    tl_dwt_forward_1d(&w, x, n, 1, a, d, 1, scratch);
    tl_dwt_forward_1d(&w, inplace, n, 1, inplace, inplace + n / 2, 1, scratch);
    for (size_t k = 0; k < n / 2; k++)
        cr_assert(a[k] == inplace[k] && d[k] == inplace[n / 2 + k]);
    tl_dwt_inverse_1d(&w, inplace, inplace + n / 2, n, 1, inplace, 1, scratch);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(inplace[i] - x[i]) < 1e-5f);
}

/* Vanishing moments in action: polynomials of degree < N have no detail away
 * from the periodic wrap, and a constant has approximation sqrt(2) c. */
Test(wavelet, polynomials_below_n_moments_have_no_detail)
{
    for (int n_mom = 1; n_mom <= 6; n_mom++) {
        char name[8];
        snprintf(name, sizeof name, "db%d", n_mom);
        tl_wavelet w = make(name);
        size_t n = 64;
        float x[64], a[32], d[32], scratch[2 * 64 + 40];
        for (size_t i = 0; i < n; i++) {
            double t = (double)i / (double)n;
            x[i] = (float)pow(t, n_mom - 1) + 0.25f;
        }
        tl_dwt_forward_1d(&w, x, n, 1, a, d, 1, scratch);
        for (size_t k = 0; 2 * k + (size_t)w.length <= n; k++)
            cr_assert(fabsf(d[k]) < 2e-6f, "%s: detail %zu of t^%d = %g", name, k, n_mom - 1, d[k]);
        for (size_t i = 0; i < n; i++)
            x[i] = 3.0f;
        tl_dwt_forward_1d(&w, x, n, 1, a, d, 1, scratch);
        for (size_t k = 0; k < n / 2; k++) {
            cr_assert(fabsf(d[k]) < 1e-5f);
            cr_assert(fabsf(a[k] - 3.0f * (float)sqrt2) < 1e-5f);
        }
    }
}

static void check_2d(const char *name, size_t rows, size_t cols, size_t stride, int levels)
{
    tl_wavelet w = make(name);
    float *x = malloc(rows * stride * sizeof *x), *y = malloc(rows * stride * sizeof *y);
    float *scratch = malloc(tl_dwt2_scratch_floats(rows, cols) * sizeof *scratch);
    unsigned long long seed = 99 + rows;
    double e_x = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < stride; c++) {
            x[r * stride + c] = c < cols ? (float)uniform(&seed) : 1234.5f;
            y[r * stride + c] = x[r * stride + c];
            if (c < cols)
                e_x += (double)x[r * stride + c] * x[r * stride + c];
        }
    tl_dwt2_forward(&w, y, rows, cols, stride, levels, scratch);
    double e_c = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            e_c += (double)y[r * stride + c] * y[r * stride + c];
    cr_assert(fabs(e_c - e_x) < 1e-5 * e_x, "%s %zux%zu L%d: energy %g -> %g", name, rows, cols, levels, e_x, e_c);
    tl_dwt2_inverse(&w, y, rows, cols, stride, levels, scratch);
    double e_d = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < stride; c++) {
            double diff = (double)y[r * stride + c] - x[r * stride + c];
            if (c >= cols)
                cr_assert(diff == 0.0, "column %zu beyond the width was touched", c);
            e_d += diff * diff;
        }
    cr_assert(sqrt(e_d / e_x) < 1e-5, "%s %zux%zu L%d: reconstruction error %g", name, rows, cols, levels,
              sqrt(e_d / e_x));
    free(x), free(y), free(scratch);
}

Test(wavelet, two_d_multilevel_is_orthogonal_and_exactly_invertible)
{
    check_2d("haar", 16, 8, 8, 3);
    check_2d("db2", 48, 64, 70, 3);
    check_2d("db5", 368, 256, 256, 4);
    check_2d("sym8", 64, 96, 100, 5); /* deeper than the filter length: the filters wrap */
    check_2d("db20", 32, 40, 40, 2);
}

/* Level 1 of the 2-D transform is the 1-D transform of every row, then of every
 * column of the result (the layout wavelet.h states). */
Test(wavelet, two_d_level_one_is_rows_then_columns)
{
    tl_wavelet w = make("db3");
    size_t rows = 12, cols = 16;
    float x[12 * 16], y[12 * 16], t[12 * 16], scratch[2 * 16 + 40];
    float *s2 = malloc(tl_dwt2_scratch_floats(rows, cols) * sizeof *s2);
    unsigned long long seed = 3;
    for (size_t i = 0; i < rows * cols; i++)
        x[i] = y[i] = (float)uniform(&seed);
    for (size_t r = 0; r < rows; r++)
        tl_dwt_forward_1d(&w, x + r * cols, cols, 1, t + r * cols, t + r * cols + cols / 2, 1, scratch);
    float expect[12 * 16];
    for (size_t c = 0; c < cols; c++)
        tl_dwt_forward_1d(&w, t + c, rows, cols, expect + c, expect + (rows / 2) * cols + c, cols, scratch);
    tl_dwt2_forward(&w, y, rows, cols, cols, 1, s2);
    for (size_t i = 0; i < rows * cols; i++)
        cr_assert(fabsf(y[i] - expect[i]) < 1e-6f, "at %zu: %g vs %g", i, y[i], expect[i]);
    free(s2);
}

/* A sinogram of vertical stripes (constant along r) has nothing in the bands
 * that are high-pass along r, at every level: Munch et al.'s premise. */
Test(wavelet, vertical_stripes_live_only_in_bands_low_along_rows)
{
    tl_wavelet w = make("db5");
    size_t rows = 64, cols = 128;
    int levels = 3;
    float *x = malloc(rows * cols * sizeof *x), *scratch = malloc(tl_dwt2_scratch_floats(rows, cols) * sizeof *x);
    unsigned long long seed = 5;
    float profile[128];
    for (size_t c = 0; c < cols; c++)
        profile[c] = (float)uniform(&seed);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            x[r * cols + c] = profile[c];
    tl_dwt2_forward(&w, x, rows, cols, cols, levels, scratch);
    double high_r = 0, vertical = 0;
    for (int l = 1; l <= levels; l++) {
        size_t rl = rows >> l, cl = cols >> l;
        for (size_t r = rl; r < 2 * rl; r++)
            for (size_t c = 0; c < 2 * cl; c++)
                high_r += (double)x[r * cols + c] * x[r * cols + c];
        for (size_t r = 0; r < rl; r++)
            for (size_t c = cl; c < 2 * cl; c++)
                vertical += (double)x[r * cols + c] * x[r * cols + c];
        /* and within the vertical band every column is constant along r */
        for (size_t r = 1; r < rl; r++)
            for (size_t c = cl; c < 2 * cl; c++)
                cr_assert(fabsf(x[r * cols + c] - x[c]) < 1e-4f);
    }
    cr_assert(high_r < 1e-8 * vertical, "high-pass along r holds %g of %g", high_r, vertical);
    free(x), free(scratch);
}

Test(wavelet, halfband_kernel_is_the_autocorrelation_and_sums_to_one)
{
    for (int f = 0; f < N_NAMES; f++) {
        const char *name = all_names(f);
        tl_wavelet w = make(name);
        double sum = w.halfband[0];
        for (int n = 1; n < w.length; n++) {
            double a = 0;
            for (int k = 0; k + n < w.length; k++)
                a += 0.5 * w.lo[k] * w.lo[k + n];
            if (n % 2 == 0)
                cr_assert(w.halfband[n] == 0.0 && fabs(a) < 1e-13, "%s: even lag %d = %g", name, n, a);
            else
                cr_assert(fabs(w.halfband[n] - a) < 1e-15, "%s: lag %d", name, n);
            sum += 2 * w.halfband[n];
        }
        cr_assert(fabs(w.halfband[0] - 0.5) < 1e-15);
        cr_assert(fabs(sum - 1.0) < 1e-13, "%s: halfband sums to %.17g", name, sum);
    }
}

/* Decimated projection onto the level-L approximation space of a periodic line:
 * L analysis steps, details set to zero, L synthesis steps. */
static void project_approx(const tl_wavelet *w, float *x, size_t n, int levels, float *scratch)
{
    for (int l = 0; l < levels; l++)
        tl_dwt_forward_1d(w, x, n >> l, 1, x, x + (n >> (l + 1)), 1, scratch);
    for (size_t i = n >> levels; i < n; i++)
        x[i] = 0.0f;
    for (int l = levels - 1; l >= 0; l--)
        tl_dwt_inverse_1d(w, x, x + (n >> (l + 1)), n >> l, 1, x, 1, scratch);
}

/* Cycle spinning (Coifman & Donoho 1995): the cascade of halfband smoothings is
 * the decimated projection averaged over all 2^L circular shifts. */
Test(wavelet, smoothing_cascade_is_the_shift_averaged_projection)
{
    const char *names[] = {"haar", "db2", "db5", "sym8"};
    size_t n = 128;
    unsigned long long seed = 77;
    float x[128], shifted[128], average[128], cascade[128], tmp[128];
    float *scratch = malloc(4096 * sizeof *scratch);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)uniform(&seed);
    for (size_t f = 0; f < 4; f++) {
        tl_wavelet w = make(names[f]);
        for (int levels = 1; levels <= 3; levels++) {
            size_t shifts = (size_t)1 << levels;
            for (size_t i = 0; i < n; i++)
                average[i] = 0.0f;
            for (size_t sh = 0; sh < shifts; sh++) {
                for (size_t i = 0; i < n; i++)
                    shifted[i] = x[(i + sh) % n];
                project_approx(&w, shifted, n, levels, scratch);
                for (size_t i = 0; i < n; i++)
                    average[(i + sh) % n] += shifted[i] / (float)shifts;
            }
            for (size_t i = 0; i < n; i++)
                cascade[i] = x[i];
            for (int l = 1; l <= levels; l++) {
                cr_assert_leq(tl_wavelet_smooth_scratch_floats(n, &w, l), 4096);
                tl_wavelet_smooth_periodic(&w, l, cascade, tmp, n, scratch);
                for (size_t i = 0; i < n; i++)
                    cascade[i] = tmp[i];
            }
            for (size_t i = 0; i < n; i++)
                cr_assert(fabsf(cascade[i] - average[i]) < 2e-5f, "%s L%d at %zu: cascade %g, shift average %g",
                          names[f], levels, i, cascade[i], average[i]);
        }
    }
    free(scratch);
}

Test(wavelet, smoothing_keeps_constants_and_wraps_short_lines)
{
    tl_wavelet w = make("db4");
    float x[5] = {2, 2, 2, 2, 2}, y[5], scratch[5 + 2 * 7 * 4];
    tl_wavelet_smooth_periodic(&w, 3, x, y, 5, scratch); /* the kernel is longer than the line */
    for (int i = 0; i < 5; i++)
        cr_assert(fabsf(y[i] - 2.0f) < 1e-6f);
    /* a periodic impulse spreads into the kernel, folded onto the line */
    float d[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, e[9], s2[9 + 2 * 7];
    tl_wavelet_smooth_periodic(&w, 1, d, e, 9, s2);
    double total = 0;
    for (int i = 0; i < 9; i++)
        total += e[i];
    cr_assert(fabs(total - 1.0) < 1e-6, "mass %g", total);
    cr_assert(fabsf(e[4] - 0.5f) < 1e-6f);
}
