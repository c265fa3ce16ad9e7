/* cor_vo.c - Vo's method: N. T. Vo, M. Drakopoulos, R. C. Atwood and C. Rau,
 * "Reliable method for calculating the center of rotation in parallel-beam
 * tomography", Optics Express 22(16), 19078-19086 (2014).
 *
 * The 180-degree sinogram S is joined below by its mirror F(theta, c) =
 * S(theta, 2a - c), which is the 180..360-degree half when a is the axis. A
 * point at radius r draws s = r cos(theta - phi): in the 2-D Fourier transform
 * of a complete 360-degree sinogram its energy lies where the angular harmonic
 * |n| <= |omega| r (omega in radians per pixel; the Bessel functions J_n(omega
 * r) vanish beyond). With a wrong a the join has a jump at every column, which
 * spreads energy over all n. The metric is the mean magnitude inside the
 * double wedge |n| > omega * R (R = half the detector width times RATIO, here
 * 0.5 as in the paper), and the axis minimises it.
 *
 * Search: integer shifts of the mirror (a in 0.5-px steps) on reduced data
 * over the whole window, then integer shifts at full resolution around the
 * best, then sub-pixel shifts (Fourier shift of the mirrored lines) in 0.05-px
 * steps of a within +-0.35 px, and a parabola through the three lowest points.
 */
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_methods.h"
#include "filter.h"
#include "trial.h"

#define VO_RATIO 0.5
#define VO_MIN_HARMONIC 2 /* leave out the lowest angular harmonics (the mean and the slow drift) */

typedef struct {
    const float *half;   /* [rows][m][w] the 180-degree part, sorted by angle */
    size_t rows, m, w;
    size_t L;            /* padded length of the mirrored lines for sub-pixel shifts */
    fftwf_complex *mirror_hat; /* [rows][m][L/2+1] spectra of the padded mirrored lines, or NULL */
    unsigned char *mask; /* [2m][w/2+1] */
    size_t n_mask;
    fftwf_plan plan2d, plan_shift; /* templates for new-array execution */
    int threads;
    float **joined;      /* [threads] 2m x w */
    fftwf_complex **spec;/* [threads] 2m x (w/2+1) */
    float **line;        /* [threads] L */
    fftwf_complex **line_hat; /* [threads] L/2+1 */
    /* the batch being scored */
    const double *shifts; /* t = 2a - (w-1) */
    double *metric;
    int fractional;
} vo_ctx;

static void vo_free(vo_ctx *v)
{
    tl_fftw_planner_lock();
    if (v->plan2d)
        fftwf_destroy_plan(v->plan2d);
    if (v->plan_shift)
        fftwf_destroy_plan(v->plan_shift);
    tl_fftw_planner_unlock();
    for (int t = 0; t < v->threads; t++) {
        if (v->joined)
            fftwf_free(v->joined[t]);
        if (v->spec)
            fftwf_free(v->spec[t]);
        if (v->line)
            fftwf_free(v->line[t]);
        if (v->line_hat)
            fftwf_free(v->line_hat[t]);
    }
    free(v->joined);
    free(v->spec);
    free(v->line);
    free(v->line_hat);
    fftwf_free(v->mirror_hat);
    free(v->mask);
    memset(v, 0, sizeof *v);
}

/* Buffers, plans and the mask for data [rows][m][w]; sub-pixel shifts when fractional. */
static tl_status vo_init(vo_ctx *v, const float *half, size_t rows, size_t m, size_t w, int fractional,
                         int threads, tl_error *err)
{
    memset(v, 0, sizeof *v);
    v->half = half;
    v->rows = rows;
    v->m = m;
    v->w = w;
    v->threads = threads;
    v->fractional = fractional;
    size_t wh = w / 2 + 1;
    v->mask = calloc(2 * m * wh, 1);
    v->joined = calloc((size_t)threads, sizeof *v->joined);
    v->spec = calloc((size_t)threads, sizeof *v->spec);
    v->line = calloc((size_t)threads, sizeof *v->line);
    v->line_hat = calloc((size_t)threads, sizeof *v->line_hat);
    if (!v->mask || !v->joined || !v->spec || !v->line || !v->line_hat)
        goto nomem;
    v->L = tl_filter_padded_size(w);
    size_t lh = v->L / 2 + 1;
    for (int t = 0; t < threads; t++) {
        v->joined[t] = fftwf_malloc(2 * m * w * sizeof(float));
        v->spec[t] = fftwf_malloc(2 * m * wh * sizeof(fftwf_complex));
        v->line[t] = fftwf_malloc(v->L * sizeof(float));
        v->line_hat[t] = fftwf_malloc(lh * sizeof(fftwf_complex));
        if (!v->joined[t] || !v->spec[t] || !v->line[t] || !v->line_hat[t])
            goto nomem;
    }
    tl_fftw_planner_lock(); /* FFTW's planner is not thread-safe (filter.h) */
    v->plan2d = fftwf_plan_dft_r2c_2d((int)(2 * m), (int)w, v->joined[0], v->spec[0], FFTW_ESTIMATE);
    v->plan_shift = fftwf_plan_dft_c2r_1d((int)v->L, v->line_hat[0], v->line[0], FFTW_ESTIMATE);
    tl_fftw_planner_unlock();
    if (!v->plan2d || !v->plan_shift) {
        vo_free(v);
        return tl_error_set(err, TL_ERR_NOMEM, "vo: cannot plan the FFTs (%zu x %zu)", 2 * m, w);
    }
    /* the double wedge: |n| > pi * RATIO * k, n the angular harmonic per 360 degrees */
    for (size_t i = 0; i < 2 * m; i++) {
        double n = i <= m ? (double)i : (double)i - 2.0 * (double)m;
        for (size_t k = 0; k < wh; k++)
            if (fabs(n) >= VO_MIN_HARMONIC && fabs(n) > M_PI * VO_RATIO * (double)k) {
                v->mask[i * wh + k] = 1;
                v->n_mask++;
            }
    }
    if (fractional) {
        /* spectra of the mirrored lines, padded with their edge values */
        v->mirror_hat = fftwf_malloc(rows * m * lh * sizeof(fftwf_complex));
        float *pad = fftwf_malloc(v->L * sizeof(float));
        tl_fftw_planner_lock();
        fftwf_plan fwd = pad && v->mirror_hat ? fftwf_plan_dft_r2c_1d((int)v->L, pad, v->line_hat[0], FFTW_ESTIMATE | FFTW_UNALIGNED)
                                             : NULL;
        tl_fftw_planner_unlock();
        if (!fwd) {
            fftwf_free(pad);
            goto nomem;
        }
        for (size_t r = 0; r < rows; r++)
            for (size_t a = 0; a < m; a++) {
                const float *src = half + (r * m + a) * w;
                for (size_t c = 0; c < w; c++)
                    pad[c] = src[w - 1 - c];
                size_t gap = v->L - w;
                for (size_t c = 0; c < gap; c++) /* right edge first, then the left edge (circular) */
                    pad[w + c] = c < gap / 2 ? pad[w - 1] : pad[0];
                fftwf_execute_dft_r2c(fwd, pad, v->mirror_hat + (r * m + a) * lh);
            }
        tl_fftw_planner_lock();
        fftwf_destroy_plan(fwd);
        tl_fftw_planner_unlock();
        fftwf_free(pad);
    }
    return TL_OK;
nomem:
    vo_free(v);
    return tl_error_set(err, TL_ERR_NOMEM, "vo: out of memory (%zu x %zu sinogram)", 2 * m, w);
}

/* The metric of shift t (mirror F(c) = S(W-1-c) moved by t columns) summed over rows. */
static double vo_metric(vo_ctx *v, double t, int thread)
{
    size_t m = v->m, w = v->w, wh = w / 2 + 1, lh = v->L / 2 + 1;
    float *joined = v->joined[thread];
    fftwf_complex *spec = v->spec[thread];
    double total = 0;
    long ti = lround(t);
    for (size_t r = 0; r < v->rows; r++) {
        const float *s = v->half + r * m * w;
        memcpy(joined, s, m * w * sizeof(float));
        for (size_t a = 0; a < m; a++) {
            float *dst = joined + (m + a) * w;
            const float *src = s + a * w;
            if (!v->fractional) {
                /* F(c) = S(W-1-(c-t)), edge values outside */
                for (size_t c = 0; c < w; c++) {
                    long j = (long)w - 1 - ((long)c - ti);
                    j = j < 0 ? 0 : (j >= (long)w ? (long)w - 1 : j);
                    dst[c] = src[j];
                }
            } else {
                const fftwf_complex *in = v->mirror_hat + (r * m + a) * lh;
                fftwf_complex *hat = v->line_hat[thread];
                for (size_t k = 0; k < lh; k++) {
                    double ph = -2.0 * M_PI * (double)k * t / (double)v->L;
                    double c = cos(ph), sn = sin(ph);
                    hat[k][0] = (float)(in[k][0] * c - in[k][1] * sn);
                    hat[k][1] = (float)(in[k][0] * sn + in[k][1] * c);
                }
                fftwf_execute_dft_c2r(v->plan_shift, hat, v->line[thread]);
                float scale = 1.0f / (float)v->L;
                const float *line = v->line[thread];
                for (size_t c = 0; c < w; c++)
                    dst[c] = line[c] * scale;
            }
        }
        fftwf_execute_dft_r2c(v->plan2d, joined, spec);
        double sum = 0;
        for (size_t i = 0; i < 2 * m * wh; i++)
            if (v->mask[i])
                sum += hypot(spec[i][0], spec[i][1]);
        total += sum / (double)v->n_mask;
    }
    return total;
}

static void vo_batch(void *ctx, size_t begin, size_t end, int thread)
{
    vo_ctx *v = ctx;
    for (size_t i = begin; i < end; i++)
        v->metric[i] = vo_metric(v, v->shifts[i], thread);
}

static void score(vo_ctx *v, tl_workers *workers, const double *shifts, double *metric, size_t n)
{
    v->shifts = shifts;
    v->metric = metric;
    tl_workers_run(workers, n, 1, vo_batch, v);
}

/* Index of the smallest value. */
static size_t argmin(const double *x, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] < x[best])
            best = i;
    return best;
}

/* The 180-degree part of the data, sorted by angle: [rows][m][w]. */
static float *half_sinogram(const tl_cor_sinograms *in, size_t angle_step, size_t *m_out)
{
    size_t n = in->n_angles;
    size_t *order = malloc(n * sizeof *order);
    if (!order)
        return NULL;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], k = i;
        while (k > 0 && in->angles_deg[order[k - 1]] > in->angles_deg[v]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = v;
    }
    double first = in->angles_deg[order[0]];
    double step = (in->angles_deg[order[n - 1]] - first) / (double)(n - 1);
    size_t m_all = 0;
    while (m_all < n && in->angles_deg[order[m_all]] < first + 180.0 - 0.5 * step)
        m_all++;
    size_t m = (m_all + angle_step - 1) / angle_step;
    float *half = malloc(in->n_rows * m * in->n_cols * sizeof *half);
    if (half)
        for (size_t r = 0; r < in->n_rows; r++)
            for (size_t a = 0; a < m; a++)
                memcpy(half + (r * m + a) * in->n_cols, in->sino + (r * n + order[a * angle_step]) * in->n_cols,
                       in->n_cols * sizeof(float));
    free(order);
    *m_out = m;
    return half;
}

tl_status tl_cor_vo(const tl_cor_sinograms *in, double lo, double hi, tl_algorithm trial, tl_workers *workers,
                    tl_cor_estimate *est, tl_error *err)
{
    (void)trial; /* no trial reconstructions */
    size_t w = in->n_cols;
    int threads = tl_workers_count(workers);
    tl_status st = TL_OK;
    vo_ctx v = {0};
    double *shifts = NULL, *metric = NULL;
    tl_cor_sinograms coarse = {0};
    float *half = NULL, *coarse_half = NULL;

    /* coarse: binned to <= 256 columns, <= 4 rows, <= 180 angles over 180 degrees */
    size_t bin = (w + 255) / 256;
    size_t m_full = 0;
    float *probe = half_sinogram(in, 1, &m_full);
    free(probe);
    if (!probe)
        return tl_error_set(err, TL_ERR_NOMEM, "vo: out of memory");
    if (m_full < 8) {
        est->found = 0;
        snprintf(est->message, sizeof est->message, "vo: only %zu projections in 180 degrees; the method needs 8",
                 m_full);
        return tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
    }
    size_t coarse_rows = in->n_rows < 4 ? in->n_rows : 4;
    tl_cor_sinograms sub = *in;
    sub.n_rows = coarse_rows;
    sub.sino = in->sino + (in->n_rows - coarse_rows) / 2 * in->n_angles * in->n_cols;
    if ((st = tl_cor_reduce(&sub, bin, 1, &coarse, err)) != TL_OK)
        return st;
    size_t mc = 0;
    coarse_half = half_sinogram(&coarse, (m_full + 179) / 180, &mc);
    size_t mf = 0;
    half = half_sinogram(in, (m_full + 359) / 360, &mf);
    size_t n_max = 4 * w + 64;
    shifts = malloc(n_max * sizeof *shifts);
    metric = malloc(n_max * sizeof *metric);
    if (!coarse_half || !half || !shifts || !metric) {
        st = tl_error_set(err, TL_ERR_NOMEM, "vo: out of memory");
        goto done;
    }
    /* stage 1: reduced data, integer shifts t' = 2a' - (w'-1) over the window */
    size_t wc = coarse.n_cols;
    double lo_c = (lo - 0.5 * ((double)bin - 1.0)) / (double)bin, hi_c = (hi - 0.5 * ((double)bin - 1.0)) / (double)bin;
    long t_lo = (long)ceil(2.0 * lo_c - ((double)wc - 1.0)), t_hi = (long)floor(2.0 * hi_c - ((double)wc - 1.0));
    if (t_hi < t_lo + 2) {
        est->found = 0;
        snprintf(est->message, sizeof est->message, "vo: the search window %.2f..%.2f is too narrow", lo, hi);
        st = tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
        goto done;
    }
    if ((st = vo_init(&v, coarse_half, coarse_rows, mc, wc, 0, threads, err)) != TL_OK)
        goto done;
    size_t n = 0;
    for (long t = t_lo; t <= t_hi; t++)
        shifts[n++] = (double)t;
    score(&v, workers, shifts, metric, n);
    vo_free(&v);
    size_t b = argmin(metric, n);
    /* contrast of the minimum against the median of the curve, for the confidence */
    double sorted_med;
    {
        double *tmp = malloc(n * sizeof *tmp);
        if (!tmp) {
            st = tl_error_set(err, TL_ERR_NOMEM, "vo: out of memory");
            goto done;
        }
        memcpy(tmp, metric, n * sizeof *tmp);
        for (size_t i = 1; i < n; i++)
            for (size_t k = i; k > 0 && tmp[k - 1] > tmp[k]; k--) {
                double x = tmp[k];
                tmp[k] = tmp[k - 1];
                tmp[k - 1] = x;
            }
        sorted_med = tmp[n / 2];
        free(tmp);
    }
    double depth = sorted_med > 0 ? (sorted_med - metric[b]) / sorted_med : 0;
    double a_coarse = 0.5 * (shifts[b] + (double)wc - 1.0) * (double)bin + 0.5 * ((double)bin - 1.0);
    int at_edge = (b == 0 || b == n - 1);

    /* stage 2: full resolution, integer shifts within +-(bin + 1) px of a */
    if ((st = vo_init(&v, half, in->n_rows, mf, w, 0, threads, err)) != TL_OK)
        goto done;
    long tc = lround(2.0 * a_coarse - ((double)w - 1.0)), reach = 2 * (long)bin + 2;
    n = 0;
    for (long t = tc - reach; t <= tc + reach; t++)
        if (t >= (long)ceil(2.0 * lo - ((double)w - 1.0)) && t <= (long)floor(2.0 * hi - ((double)w - 1.0)))
            shifts[n++] = (double)t;
    if (n == 0) {
        vo_free(&v);
        st = tl_error_set(err, TL_ERR_INTERNAL, "vo: no full-resolution candidates");
        goto done;
    }
    score(&v, workers, shifts, metric, n);
    vo_free(&v);
    b = argmin(metric, n);
    double t_int = shifts[b];

    /* stage 3: sub-pixel shifts, a in 0.05-px steps within +-0.35 px (stage 2's
     * integer shifts are 0.5-px steps of a) */
    if ((st = vo_init(&v, half, in->n_rows, mf, w, 1, threads, err)) != TL_OK)
        goto done;
    n = 0;
    for (int k = -7; k <= 7; k++)
        shifts[n++] = t_int + 0.1 * k;
    score(&v, workers, shifts, metric, n);
    vo_free(&v);
    b = argmin(metric, n);
    double t_best = shifts[b];
    if (b > 0 && b + 1 < n) {
        double denom = metric[b - 1] - 2.0 * metric[b] + metric[b + 1];
        if (denom > 0)
            t_best += 0.1 * 0.5 * (metric[b - 1] - metric[b + 1]) / denom;
    }
    double axis = 0.5 * (t_best + (double)w - 1.0);
    if (at_edge || axis < lo - 0.5 || axis > hi + 0.5) {
        est->found = 0;
        snprintf(est->message, sizeof est->message,
                 "vo: the metric is lowest at the edge of the search window (axis %.2f, window %.2f..%.2f); the "
                 "axis is outside it",
                 axis, lo, hi);
        st = tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
        goto done;
    }
    est->found = 1;
    est->axis = axis;
    est->confidence = fmax(0.0, fmin(1.0, 2.0 * depth));
    snprintf(est->message, sizeof est->message, "%zu angles over 180 degrees, %zu rows", mf, in->n_rows);
done:
    vo_free(&v);
    free(shifts);
    free(metric);
    free(half);
    free(coarse_half);
    tl_cor_reduced_free(&coarse);
    return st;
}
