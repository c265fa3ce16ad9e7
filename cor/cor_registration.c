/* cor_registration.c - the axis from opposite projections.
 *
 * p(s, theta + 180) = p(-s, theta): the projection at theta + 180 degrees,
 * mirrored, is the one at theta shifted. With s = j - a, the mirrored line
 * M(u) = P180(W-1-u) equals P0(u + d) with d = 2a - (W-1), so a = (W-1+d)/2.
 * d is found by phase correlation (Kuglin & Hines 1975, "The phase correlation
 * image alignment method") of the opposite pairs of every sinogram row, with
 * the sub-pixel peak located on the correlation evaluated at arbitrary shifts
 * from its spectrum (the matrix-multiply DFT refinement of Guizar-Sicairos,
 * Thurman & Fienup 2008, Opt. Lett. 33:156, in one dimension).
 *
 * Pairs: on a 360-degree scan every projection of the first half with its
 * opposite; on a 180-degree scan the pair closest to 180 degrees apart. When a
 * pair is 180 + D degrees apart (an arc of 0..179.5 degrees pairs 0 with
 * 179.5), the partner is moved to exactly theta + 180 by linear interpolation
 * (or extrapolation by at most one step) in angle with its neighbour: the
 * mirrored line of theta + 180 + D is the projection at theta + D, whose
 * features have moved by D times their angular rate, and that first-order
 * motion is what the angular interpolation removes, whatever the weighting
 * of the phase correlation.
 */
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_methods.h"
#include "filter.h"

typedef struct {
    size_t i, j;     /* angle indices: j is opposite i */
    double excess;   /* theta_j - theta_i - 180, degrees */
} pair;


/* index order sorted by angle (insertion sort: angle counts are small) */
static void sort_indices(const double *theta, size_t n, size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], k = i;
        while (k > 0 && theta[order[k - 1]] > theta[v]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = v;
    }
}

/* The position in sorted order whose angle is closest to t. */
static size_t nearest(const double *theta, const size_t *order, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (theta[order[mid]] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == n)
        return n - 1;
    if (lo > 0 && fabs(theta[order[lo - 1]] - t) <= fabs(theta[order[lo]] - t))
        return lo - 1;
    return lo;
}

/* Opposite pairs; returns how many. pos_of[] maps angle index -> sorted position. */
static size_t find_pairs(const double *theta, const size_t *order, size_t n, double step, pair *pairs)
{
    double first = theta[order[0]], last = theta[order[n - 1]];
    size_t count = 0;
    if (last - first + step >= 360.0 - 0.5 * step) {
        for (size_t k = 0; k < n && theta[order[k]] < first + 180.0 - 0.5 * step; k++) {
            size_t m = nearest(theta, order, n, theta[order[k]] + 180.0);
            double excess = theta[order[m]] - theta[order[k]] - 180.0;
            if (fabs(excess) <= 0.5 * step + 1e-9)
                pairs[count++] = (pair){order[k], order[m], excess};
        }
        if (count)
            return count;
    }
    /* the single pair closest to 180 degrees apart */
    double best = INFINITY;
    for (size_t k = 0; k < n; k++) {
        size_t m = nearest(theta, order, n, theta[order[k]] + 180.0);
        double excess = theta[order[m]] - theta[order[k]] - 180.0;
        if (fabs(excess) < fabs(best)) {
            best = excess;
            pairs[0] = (pair){order[k], order[m], excess};
            count = 1;
        }
    }
    return count;
}

/* Tukey taper of the outer 10% of a line, after removing its edge level. */
static void taper_line(const float *src, size_t w, float *dst, size_t padded)
{
    size_t edge = w / 10 > 1 ? w / 10 : 1;
    for (size_t c = 0; c < w; c++) {
        double f = 1.0;
        if (c < edge)
            f = 0.5 - 0.5 * cos(M_PI * ((double)c + 0.5) / (double)edge);
        else if (c >= w - edge)
            f = 0.5 - 0.5 * cos(M_PI * ((double)(w - 1 - c) + 0.5) / (double)edge);
        dst[c] = (float)(src[c] * f);
    }
    for (size_t c = w; c < padded; c++)
        dst[c] = 0.0f;
}

/* The correlation at shift t (samples) from its one-sided spectrum R[0..L/2]. */
static double correlation_at(const fftwf_complex *spec, size_t L, double t)
{
    double sum = spec[0][0];
    size_t half = L / 2;
    for (size_t k = 1; k < half; k++) {
        double ph = 2.0 * M_PI * (double)k * t / (double)L;
        sum += 2.0 * (spec[k][0] * cos(ph) + spec[k][1] * sin(ph));
    }
    sum += spec[half][0] * cos(M_PI * t);
    return sum;
}

tl_status tl_cor_registration(const tl_cor_sinograms *in, double lo, double hi, tl_algorithm trial,
                              tl_workers *workers, tl_cor_estimate *est, tl_error *err)
{
    (void)trial; /* no trial reconstructions */
    (void)workers;
    size_t n = in->n_angles, w = in->n_cols;
    if (n < 2 || w < 2)
        return tl_error_set(err, TL_ERR_INVALID, "registration: needs at least 2 angles and 2 columns");
    size_t L = tl_filter_padded_size(w);
    size_t half = L / 2;
    size_t *order = malloc(n * sizeof *order);
    pair *pairs = malloc(n * sizeof *pairs);
    float *line_a = fftwf_malloc(L * sizeof(float)), *line_b = fftwf_malloc(L * sizeof(float));
    float *mirrored = malloc(w * sizeof *mirrored);
    fftwf_complex *fa = fftwf_malloc((half + 1) * sizeof *fa), *fb = fftwf_malloc((half + 1) * sizeof *fb);
    fftwf_complex *acc = fftwf_malloc((half + 1) * sizeof *acc);
    double *corr = malloc(L * sizeof *corr);
    fftwf_plan plan_a = NULL, plan_b = NULL;
    tl_status st = TL_OK;
    if (!order || !pairs || !line_a || !line_b || !mirrored || !fa || !fb || !acc || !corr) {
        st = tl_error_set(err, TL_ERR_NOMEM, "registration: out of memory");
        goto done;
    }
    tl_fftw_planner_lock(); /* FFTW's planner is not thread-safe (filter.h) */
    plan_a = fftwf_plan_dft_r2c_1d((int)L, line_a, fa, FFTW_ESTIMATE);
    plan_b = fftwf_plan_dft_r2c_1d((int)L, line_b, fb, FFTW_ESTIMATE);
    tl_fftw_planner_unlock();
    if (!plan_a || !plan_b) {
        st = tl_error_set(err, TL_ERR_NOMEM, "registration: cannot plan an FFT of %zu points", L);
        goto done;
    }
    sort_indices(in->angles_deg, n, order);
    double step = (in->angles_deg[order[n - 1]] - in->angles_deg[order[0]]) / (double)(n - 1);
    size_t n_pairs = find_pairs(in->angles_deg, order, n, step, pairs);
    if (n_pairs == 0 || fabs(pairs[0].excess) > fmax(2.0 * step, 1e-9) || fabs(pairs[0].excess) > 5.0) {
        est->found = 0;
        snprintf(est->message, sizeof est->message,
                 "registration: no two projections are 180 degrees apart (closest: %.2f degrees off, angle "
                 "step %.3f)",
                 n_pairs ? pairs[0].excess : NAN, step);
        st = tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
        goto done;
    }
    /* sorted position of each angle, for the partner's neighbour */
    size_t *pos = malloc(n * sizeof *pos);
    if (!pos) {
        st = tl_error_set(err, TL_ERR_NOMEM, "registration: out of memory");
        goto done;
    }
    for (size_t k = 0; k < n; k++)
        pos[order[k]] = k;

    memset(acc, 0, (half + 1) * sizeof *acc);
    for (size_t p = 0; p < n_pairs; p++) {
        /* the partner moved to exactly theta_i + 180: weight f of the neighbour */
        size_t kj = pos[pairs[p].j], kn = kj;
        double excess = pairs[p].excess, f = 0;
        if (excess != 0) {
            if (excess < 0)
                kn = kj + 1 < n ? kj + 1 : (kj > 0 ? kj - 1 : kj);
            else
                kn = kj > 0 ? kj - 1 : (kj + 1 < n ? kj + 1 : kj);
            double dt = in->angles_deg[order[kn]] - in->angles_deg[pairs[p].j];
            f = kn != kj && dt != 0 ? -excess / dt : 0;
        }
        for (size_t r = 0; r < in->n_rows; r++) {
            const float *pa = in->sino + (r * n + pairs[p].i) * w, *pb = in->sino + (r * n + pairs[p].j) * w;
            const float *pn = in->sino + (r * n + order[kn]) * w;
            for (size_t c = 0; c < w; c++)
                mirrored[c] = (float)((1.0 - f) * pb[w - 1 - c] + f * pn[w - 1 - c]);
            taper_line(pa, w, line_a, L);
            taper_line(mirrored, w, line_b, L);
            fftwf_execute(plan_a);
            fftwf_execute(plan_b);
            /* cross spectrum M * conj(P): its phase is +2 pi k d / L for M(u) = P(u + d) */
            for (size_t k = 0; k <= half; k++) {
                double re = fb[k][0] * fa[k][0] + fb[k][1] * fa[k][1];
                double im = fb[k][1] * fa[k][0] - fb[k][0] * fa[k][1];
                acc[k][0] += (float)re;
                acc[k][1] += (float)im;
            }
        }
    }
    free(pos);
    /* phase correlation: whiten the summed cross spectrum, keep a Gaussian
     * low-pass so that noise-dominated frequencies weigh little */
    double amax = 0;
    for (size_t k = 0; k <= half; k++)
        amax = fmax(amax, hypot(acc[k][0], acc[k][1]));
    if (!(amax > 0)) {
        est->found = 0;
        snprintf(est->message, sizeof est->message, "registration: the opposite projections have no contrast");
        st = tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
        goto done;
    }
    double sigma = 0.15 * (double)L;
    for (size_t k = 0; k <= half; k++) {
        double mag = hypot(acc[k][0], acc[k][1]);
        double g = exp(-0.5 * ((double)k / sigma) * ((double)k / sigma)) / (mag + 1e-3 * amax);
        acc[k][0] = (float)(acc[k][0] * g);
        acc[k][1] = (float)(acc[k][1] * g);
    }
    /* the correlation at every integer shift d of an axis on the detector; the
     * highest peak must lie in the window (a lower one inside it is not an answer) */
    long i_lo = -(long)(w - 1), i_hi = (long)(w - 1);
    long best_d = i_lo;
    double best = -INFINITY;
    for (long d = i_lo; d <= i_hi; d++) {
        double v = correlation_at(acc, L, (double)d);
        corr[d - i_lo] = v;
        if (v > best) {
            best = v;
            best_d = d;
        }
    }
    /* second peak: highest value more than 3 samples from the best */
    double second = 0;
    for (long d = i_lo; d <= i_hi; d++)
        if (labs(d - best_d) > 3)
            second = fmax(second, corr[d - i_lo]);
    /* sub-pixel: the correlation on a 0.01-sample grid around the peak, then a parabola */
    double fine_best = -INFINITY, t_best = (double)best_d;
    for (int k = -100; k <= 100; k++) {
        double t = (double)best_d + 0.01 * k, v = correlation_at(acc, L, t);
        if (v > fine_best) {
            fine_best = v;
            t_best = t;
        }
    }
    double vm = correlation_at(acc, L, t_best - 0.01), v0 = fine_best, vp = correlation_at(acc, L, t_best + 0.01);
    double denom = vm - 2.0 * v0 + vp;
    if (denom < 0)
        t_best += 0.01 * 0.5 * (vm - vp) / denom;
    double axis = 0.5 * ((double)w - 1.0 + t_best);
    if (axis < lo - 0.5 || axis > hi + 0.5) {
        est->found = 0;
        snprintf(est->message, sizeof est->message,
                 "registration: the best match lies outside the search window (axis %.2f, window %.2f..%.2f)",
                 axis, lo, hi);
        st = tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
        goto done;
    }
    est->found = 1;
    est->axis = axis;
    est->confidence = best > 0 ? fmax(0.0, fmin(1.0, 1.0 - second / best)) : 0.0;
    snprintf(est->message, sizeof est->message, "%zu opposite pair%s, %zu rows", n_pairs, n_pairs == 1 ? "" : "s",
             in->n_rows);
done:
    tl_fftw_planner_lock();
    if (plan_a)
        fftwf_destroy_plan(plan_a);
    if (plan_b)
        fftwf_destroy_plan(plan_b);
    tl_fftw_planner_unlock();
    free(order);
    free(pairs);
    fftwf_free(line_a);
    fftwf_free(line_b);
    free(mirrored);
    fftwf_free(fa);
    fftwf_free(fb);
    fftwf_free(acc);
    free(corr);
    return st;
}
