/* rings_vo.c - stripe removal after Vo, Atwood and Drakopoulos 2018 ("Superior
 * techniques for eliminating ring artifacts in X-ray micro-tomography", Optics
 * Express 26(22):28396), on sinograms of line integrals [n_angles][n_cols].
 *
 *   sorting    algorithm 3: sort each column along the angles; a median across
 *              columns, rank by rank, is the stripe-free estimate.
 *   filtering  algorithm 2: the same on the part of each column that is smooth
 *              along the angles (Gaussian low-pass in Fourier space).
 *   large      algorithm 5 with the detection of algorithm 4: only columns whose
 *              level stands out of a median-smoothed profile are corrected.
 *   vo-all     algorithms 6, 5, 3 in a chain, as Algotom's remove_all_stripe:
 *              unresponsive columns interpolated from their neighbours, then
 *              large stripes, then sorting.
 *
 * Why sorting works. After sorting, rank i of column j holds the i-th smallest
 * of the column's values. Neighbouring columns see nearly the same distribution
 * of line integrals, so their sorted profiles agree closely, and the noise,
 * once sorted, becomes a smooth quantile curve: what still makes a column
 * differ from its neighbours rank by rank is its stripe.
 *
 * Where we depart from the paper and the peers (TomoPy, Algotom), and why. The
 * issue's figure of merit (cli/rings_measure.h) compares a scan with gain
 * errors and the same scan without, both through the method, and measures the
 * error a method adds to a clean scan. Three changes:
 *
 * 1. A gain error on line integrals is an additive constant of its column, at
 *    every angle. The paper replaces each value by the median of its rank's
 *    neighbours, i.e. subtracts r[i][j] = s[i][j] - median(s[i][j-h..j+h]) at
 *    each rank i separately. That residual carries the stripe, but also, rank
 *    by rank, the difference between the column's noise and that of whichever
 *    neighbour is the median, and, where the object's sorted profile is not
 *    monotone across columns (a peak, the inner edge of a shell), the part of
 *    the object the median clips. Both change from scan to scan and add error
 *    to a clean scan. We subtract from each column one constant: the median
 *    over its ranks of r. A stripe is present at every rank; noise and the
 *    object's clipped peaks occupy some ranks and are voted out. The lowest and
 *    highest ranks (each column's minimum and maximum: noise extremes, and
 *    where columns differ most in structure) weigh no more than any other rank
 *    in a median.
 *
 * 2. A median across columns tracks a trend: where the sorted profile rises or
 *    falls faster across columns than a small offset, the median is the
 *    column's own value and the small stripe stays; and a strong stripe in the
 *    window moves the median of its neighbours by one step of the trend. So
 *    the sorted pass is followed by one in the sinogram itself (after the
 *    sorted pass's offsets are taken out): each value is predicted from its
 *    row's neighbours within the window, without itself (vo_predict_row:
 *    exact for a quadratic, robust to a stripe among the neighbours), and the
 *    column's offset is the median over the angles of value - prediction. In
 *    the sinogram an object's feature crosses a column at some angles only, so
 *    the median over the angles rejects it; in the sorted domain it could not
 *    be told apart (there, a feature's effect spreads over a run of ranks).
 *
 * 3. The peers' large-stripe step divides every column by a ratio of means (a
 *    gain model for transmissions) and so changes columns it did not detect.
 *    Ours subtracts a column's offset, and only in detected columns; and its
 *    detection tells an object's feature from a stripe (vo_large).
 *
 * On the default scan (bench_rings: 256 x 360, Shepp-Logan, 4 columns
 * of +-10% gain and N(0, 0.002) on all), the paper's rank-by-rank rule (as we
 * first wrote it here) removes 82% of the ring artefact and adds 54% to the
 * error of a clean scan; sorting as it is now removes 96% and adds 1.5%.
 *
 * What this gives up: the paper's per-rank correction also follows an offset
 * that changes with the value (a non-linear detector response) or over part
 * of the angles (a pixel that fails during the scan); ours removes the part of
 * such a stripe that is constant over the scan. The per-rank corrections cost
 * more on clean scans than the varying part they would add. And like every
 * sorting method it cannot tell a stripe from a feature of the object that is
 * itself ring-like: present at every angle in the same few columns (a thin
 * shell centred on the axis) and narrower than half the window; a small dense
 * feature off the axis is dented a little at the columns where its sinusoid
 * turns, where it dwells (about 1% of the line integral there, on a 256-wide
 * version of test_rings_vo's object).
 *
 * Plan/execute: create checks the parameters against the shape and allocates
 * one thread's scratch (a sinogram-sized work array, the sliding median's
 * window, column blocks, FFT buffers and plans of filtering); apply allocates
 * nothing (glibc's qsort may allocate, so the sorts here are our own).
 */
#include "rings_impl.h"

#include <fftw3.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

/* Widest median window: the sliding median costs O(window) per sample, and a
 * feature wider than this is structure of the object rather than a stripe. */
#define VO_MAX_WINDOW 255
/* Columns gathered at once (one cache line of floats), so strided gathers of
 * a column read whole lines. */
#define VO_COL_BLOCK 16
/* Columns filtered at once along the angles by one batched FFT (filtering). */
#define VO_FFT_BLOCK 64
/* Algotom's remove_dead_stripe: moving mean of 10 samples along the angles. */
#define VO_DEAD_SMOOTH 10
/* Dead columns: at most this fraction of their neighbours' activity (see vo_dead). */
#define VO_DEAD_ACTIVITY 0.3
/* large: a narrow stripe on top of an object's bump must stand out of its
 * neighbours by this many detection thresholds (see vo_large). */
#define VO_NARROW_FACTOR 3.0
/* vo-all: Algotom's remove_all_stripe keeps the large-stripe drop ratio at 0.1. */
#define VO_ALL_DROP_RATIO 0.1

typedef struct vo_state {
    tl_rings_method method;
    size_t n_angles, n_cols;
    /* parameters, checked */
    size_t small_window; /* sorting, filtering, vo-all's last step */
    size_t large_window; /* large, vo-all's dead and large steps */
    double snr, drop_ratio, sigma;
    /* scratch of one sinogram */
    float *work;          /* [n_angles][n_cols]: sorted columns, then residuals */
    float *smooth;        /* [n_angles][n_cols]: filtering's low-passed sinogram */
    uint32_t *keys;       /* [VO_COL_BLOCK][n_angles]: columns as ordered keys */
    uint32_t *keys_tmp;   /* [n_angles] */
    uint32_t *ext;        /* [n_cols + 2 * (VO_MAX_WINDOW / 2)]: a row as keys, reflected at the ends */
    uint32_t *window;     /* [VO_MAX_WINDOW]: the sliding window, sorted */
    float *row, *row2;    /* [n_cols] */
    double *offset, *offset2, *profile, *scratch, *scratch2, *spread, *acc; /* [n_cols] */
    unsigned char *mask, *keep; /* [n_cols] */
    size_t *left, *right; /* [n_cols]: nearest good columns (dead stripes) */
    /* filtering */
    size_t pad, n_pad, n_freq;
    float *fft_real;         /* [n_pad][VO_FFT_BLOCK] */
    fftwf_complex *fft_spec; /* [n_freq][VO_FFT_BLOCK] */
    float *lowpass;          /* [n_freq], 1 / n_pad included */
    fftwf_plan forward, backward;
} vo_state;

/* ---------------------------------------------------------------- helpers */

/* A float as an unsigned key with the same order (negative values flipped), so
 * sorting, selection and equality are exact and total, NaN included. */
static inline uint32_t vo_key(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float vo_unkey(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Half-sample reflection of any index k into [0, n) (scipy.ndimage's
 * 'reflect': ... d c b a | a b c d | d c b a ...). */
static inline size_t vo_reflect(long k, size_t n)
{
    long period = 2 * (long)n;
    k %= period;
    if (k < 0)
        k += period;
    return (size_t)(k < (long)n ? k : period - 1 - k);
}

/* LSD radix sort of n keys, 8 bits a pass; passes whose digit is the same for
 * all keys are skipped. The result is in keys. */
static void vo_radix_sort(uint32_t *keys, uint32_t *tmp, size_t n)
{
    size_t count[4][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < 4; p++)
            count[p][(keys[i] >> (8 * p)) & 0xff]++;
    uint32_t *src = keys, *dst = tmp;
    for (int p = 0; p < 4; p++) {
        size_t *c = count[p];
        if (c[(src[0] >> (8 * p)) & 0xff] == n)
            continue;
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i] >> (8 * p)) & 0xff]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys)
        memcpy(keys, src, n * sizeof *keys);
}

/* The k-th smallest of n keys (0-based), reordering them: Hoare's selection
 * (Wirth's form), average O(n). */
static uint32_t vo_select(uint32_t *v, size_t n, size_t k)
{
    long lo = 0, hi = (long)n - 1, kk = (long)k;
    while (lo < hi) {
        uint32_t x = v[kk];
        long i = lo, j = hi;
        do {
            while (v[i] < x)
                i++;
            while (x < v[j])
                j--;
            if (i <= j) {
                uint32_t t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk)
            lo = i;
        if (kk < i)
            hi = j;
    }
    return v[kk];
}

/* Median of n keys as a float (the mean of the two middle ones for even n). */
static float vo_median_keys(uint32_t *v, size_t n)
{
    float upper = vo_unkey(vo_select(v, n, n / 2));
    if (n % 2)
        return upper;
    /* after selecting n/2, the lower half holds the smaller ones: its maximum */
    uint32_t m = v[0];
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > m)
            m = v[i];
    return 0.5f * (vo_unkey(m) + upper);
}

static size_t vo_lower_bound(const uint32_t *w, size_t n, uint32_t k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Median of a sliding window of `window` (odd) samples across row[0..n). The
 * window is kept sorted: each step moves the samples between the one that
 * leaves and the one that enters by one place, O(window) at worst and a short
 * move in practice. At the ends the row is reflected (scipy.ndimage's
 * 'reflect', as Algotom and TomoPy), or, with `shrink`, the window shrinks to
 * stay centred inside the row (column j < h uses columns 0 .. 2j): a median of
 * a monotone sequence is then its centre, where a reflected one is off by up
 * to half the window, which matters where the detector's edge cuts the
 * object. out may be row. */
static void vo_median_row(vo_state *st, const float *row, size_t n, size_t window, int shrink, float *out)
{
    size_t h = window / 2;
    uint32_t *ext = st->ext, *win = st->window;
    for (size_t k = 0; k < n + 2 * h; k++)
        ext[k] = vo_key(row[vo_reflect((long)k - (long)h, n)]);
    for (size_t k = 0; k < window; k++) { /* insertion sort of the first window */
        uint32_t v = ext[k];
        size_t q = k;
        while (q > 0 && win[q - 1] > v) {
            win[q] = win[q - 1];
            q--;
        }
        win[q] = v;
    }
    out[0] = vo_unkey(win[h]);
    for (size_t j = 1; j < n; j++) {
        uint32_t leaving = ext[j - 1], entering = ext[j - 1 + window];
        if (leaving != entering) {
            size_t p = vo_lower_bound(win, window, leaving);
            size_t q = vo_lower_bound(win, window, entering);
            if (entering > leaving) {
                memmove(win + p, win + p + 1, (q - 1 - p) * sizeof *win);
                win[q - 1] = entering;
            } else {
                memmove(win + q + 1, win + q, (p - q) * sizeof *win);
                win[q] = entering;
            }
        }
        out[j] = vo_unkey(win[h]);
    }
    if (!shrink)
        return;
    for (size_t j = 0; j < n; j++) {
        if (j == h && n > 2 * h)
            j = n - h; /* the columns in between have whole windows */
        size_t m = j < n - 1 - j ? j : n - 1 - j;
        if (m >= h)
            continue;
        memcpy(win, ext + h + j - m, (2 * m + 1) * sizeof *win); /* row[j-m .. j+m] */
        out[j] = vo_unkey(vo_select(win, 2 * m + 1, m));
    }
}

/* Prediction of each sample of row[0..n) from its neighbours within the
 * window (h = window / 2), without the sample itself: with m_k the midpoint
 * (row[j-k] + row[j+k]) / 2, each (4 m_k - m_2k) / 3 for k = 1 .. h/2 is exact
 * for a quadratic (the object's curvature across columns cancels, where a
 * plain midpoint is off by half the curvature times k^2), and their median
 * keeps a stripe among the neighbours from spoiling the prediction. Near the
 * ends only the k that stay inside the row are used; with none (the two
 * outermost columns) the prediction is the sample itself. */
static void vo_predict_row(const float *row, size_t n, size_t window, float *out)
{
    size_t reach = window / 4;
    uint32_t term[VO_MAX_WINDOW / 4 + 1];
    for (size_t j = 0; j < n; j++) {
        size_t inside = (j < n - 1 - j ? j : n - 1 - j) / 2, m = reach < inside ? reach : inside;
        if (m == 0) {
            out[j] = row[j];
            continue;
        }
        for (size_t k = 1; k <= m; k++) {
            float m1 = 0.5f * (row[j - k] + row[j + k]), m2 = 0.5f * (row[j - 2 * k] + row[j + 2 * k]);
            term[k - 1] = vo_key((4.0f * m1 - m2) / 3.0f);
        }
        out[j] = vo_median_keys(term, m);
    }
}

/* In-place heapsort of n doubles. */
static void vo_sift_down(double *v, size_t root, size_t end)
{
    for (size_t child; (child = 2 * root + 1) < end; root = child) {
        if (child + 1 < end && v[child] < v[child + 1])
            child++;
        if (!(v[root] < v[child]))
            break;
        double t = v[root];
        v[root] = v[child];
        v[child] = t;
    }
}

static void vo_sort_doubles(double *v, size_t n)
{
    if (n < 2)
        return;
    for (size_t start = n / 2; start-- > 0;)
        vo_sift_down(v, start, n);
    for (size_t end = n - 1; end > 0; end--) {
        double t = v[0];
        v[0] = v[end];
        v[end] = t;
        vo_sift_down(v, 0, end);
    }
}

enum { VO_DETECT_HIGH = 1, VO_DETECT_LOW = 2 };

/* Algorithm 4 of Vo et al. 2018 (Algotom's detect_stripe): sort the profile,
 * fit a line to its middle half; the line's rise over the whole profile is the
 * noise level; values beyond the line's ends by more than snr/2 noise levels
 * are stripes (a side is tested only when its extreme is snr noise levels out).
 * Sets mask[j] = 1 for detected columns on the sides asked for. */
static void vo_detect_stripes(const double *profile, size_t n, double snr, int sides, double *sorted,
                              unsigned char *mask)
{
    memcpy(sorted, profile, n * sizeof *sorted);
    vo_sort_doubles(sorted, n);
    size_t drop = n / 4, first = drop, last = n - drop - 1; /* numpy's [drop : -drop - 1] */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, m = (double)(last - first);
    for (size_t i = first; i < last; i++) {
        double x = (double)i, y = sorted[i];
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    double den = m * sxx - sx * sx;
    double slope = den > 0 ? (m * sxy - sx * sy) / den : 0.0;
    double intercept = (sy - slope * sx) / m;
    double y_end = intercept + slope * (double)(n - 1);
    double noise = fabs(y_end - intercept);
    if (!(noise >= 1e-6))
        noise = 1e-6;
    if ((sides & VO_DETECT_HIGH) && fabs(sorted[n - 1] - y_end) / noise >= snr) {
        double upper = y_end + noise * snr * 0.5;
        for (size_t j = 0; j < n; j++)
            if (profile[j] > upper)
                mask[j] = 1;
    }
    if ((sides & VO_DETECT_LOW) && fabs(intercept - sorted[0]) / noise >= snr) {
        double lower = intercept - noise * snr * 0.5;
        for (size_t j = 0; j < n; j++)
            if (profile[j] <= lower)
                mask[j] = 1;
    }
}

/* Widen a mask of 0/1 by one column on each side (a binary dilation). */
static void vo_dilate(unsigned char *mask, size_t n)
{
    for (size_t j = 0; j < n; j++)
        if (mask[j] == 1) {
            if (j > 0 && !mask[j - 1])
                mask[j - 1] = 2;
            if (j + 1 < n && !mask[j + 1])
                mask[j + 1] = 2;
        }
    for (size_t j = 0; j < n; j++)
        mask[j] = mask[j] != 0;
}

/* Per column of a [n_angles][n_cols] array: the median over the rows. Columns
 * are gathered VO_COL_BLOCK at a time. */
static void vo_column_medians(vo_state *st, const float *a, double *out)
{
    size_t na = st->n_angles, nc = st->n_cols;
    for (size_t j0 = 0; j0 < nc; j0 += VO_COL_BLOCK) {
        size_t nb = nc - j0 < VO_COL_BLOCK ? nc - j0 : VO_COL_BLOCK;
        for (size_t i = 0; i < na; i++)
            for (size_t b = 0; b < nb; b++)
                st->keys[b * na + i] = vo_key(a[i * nc + j0 + b]);
        for (size_t b = 0; b < nb; b++)
            out[j0 + b] = vo_median_keys(st->keys + b * na, na);
    }
}

/* ---------------------------------------------------------------- the passes */

/* Sort each column of src [n_angles][n_cols] along the angles into st->work. */
static void vo_sort_columns(vo_state *st, const float *src)
{
    size_t na = st->n_angles, nc = st->n_cols;
    for (size_t j0 = 0; j0 < nc; j0 += VO_COL_BLOCK) {
        size_t nb = nc - j0 < VO_COL_BLOCK ? nc - j0 : VO_COL_BLOCK;
        for (size_t a = 0; a < na; a++)
            for (size_t b = 0; b < nb; b++)
                st->keys[b * na + a] = vo_key(src[a * nc + j0 + b]);
        for (size_t b = 0; b < nb; b++)
            vo_radix_sort(st->keys + b * na, st->keys_tmp, na);
        for (size_t i = 0; i < na; i++)
            for (size_t b = 0; b < nb; b++)
                st->work[i * nc + j0 + b] = vo_unkey(st->keys[b * na + i]);
    }
}

/* The sorted pass (algorithm 3, change 1 above): offset[j] = median over the
 * ranks i of s[i][j] - median(s[i][j-h..j+h]), s = src sorted along the angles.
 * If profile is not NULL it receives Algotom's large-stripe profile: the mean of
 * the same residual over the ranks drop .. n_angles - drop - 1. */
static void vo_sorted_offsets(vo_state *st, const float *src, size_t window, double *offset, double *profile,
                              size_t drop)
{
    size_t na = st->n_angles, nc = st->n_cols;
    vo_sort_columns(st, src);
    if (profile)
        for (size_t j = 0; j < nc; j++)
            profile[j] = 0;
    for (size_t i = 0; i < na; i++) {
        float *r = st->work + i * nc;
        vo_median_row(st, r, nc, window, 1, st->row);
        for (size_t j = 0; j < nc; j++)
            r[j] -= st->row[j];
        if (profile && i >= drop && i < na - drop)
            for (size_t j = 0; j < nc; j++)
                profile[j] += r[j];
    }
    if (profile)
        for (size_t j = 0; j < nc; j++)
            profile[j] /= (double)(na - 2 * drop);
    vo_column_medians(st, st->work, offset);
}

/* The sinogram pass (change 2 above): offset2[j] = median over the angles of
 * u[a][j] - (its prediction from u[a] around j within the window), where
 * u = src - offset1 (the sorted pass's offsets already taken out). With a
 * window below 9 the prediction reaches one column pair at most (3: none, and
 * the pass changes nothing). */
static void vo_sinogram_offsets(vo_state *st, const float *src, const double *offset1, size_t window,
                                double *offset2)
{
    size_t na = st->n_angles, nc = st->n_cols;
    for (size_t a = 0; a < na; a++) {
        const float *line = src + a * nc;
        float *u = st->row, *r = st->work + a * nc;
        for (size_t j = 0; j < nc; j++)
            u[j] = line[j] - (float)offset1[j];
        vo_predict_row(u, nc, window, st->row2);
        for (size_t j = 0; j < nc; j++)
            r[j] = u[j] - st->row2[j];
    }
    vo_column_medians(st, st->work, offset2);
}

static void vo_subtract_offsets(vo_state *st, float *sino, const double *o1, const double *o2,
                                const unsigned char *mask)
{
    size_t na = st->n_angles, nc = st->n_cols;
    float *c = st->row;
    for (size_t j = 0; j < nc; j++)
        c[j] = (mask && !mask[j]) ? 0.0f : (float)(o1[j] + (o2 ? o2[j] : 0.0));
    for (size_t a = 0; a < na; a++) {
        float *line = sino + a * nc;
        for (size_t j = 0; j < nc; j++)
            line[j] -= c[j];
    }
}

/* ---------------------------------------------------------------- the methods */

/* Algorithm 3 (sorting), with changes 1 and 2. */
static void vo_sorting(vo_state *st, float *sino, size_t window)
{
    vo_sorted_offsets(st, sino, window, st->offset, NULL, 0);
    vo_sinogram_offsets(st, sino, st->offset, window, st->offset2);
    vo_subtract_offsets(st, sino, st->offset, st->offset2, NULL);
}

/* Algorithm 2 (filtering): the sorted pass works on the part of each column
 * that is smooth along the angles, where the noise is gone (a stripe, constant
 * along the angles, is all in that part), the sinogram pass on the whole
 * sinogram, and the offsets are subtracted from the whole sinogram (smooth -
 * offset + rest, as the paper adds the rest back). Columns are extended at both
 * ends by reflection (numpy's 'reflect', min(150, n_angles / 10) samples as in
 * Algotom) so that the transform does not wrap the last angle onto the first,
 * and low-passed with exp(-k^2 / (2 sigma^2)), k the frequency index of the
 * padded length. */
static void vo_filtering(vo_state *st, float *sino, size_t window)
{
    size_t na = st->n_angles, nc = st->n_cols, B = VO_FFT_BLOCK;
    for (size_t j0 = 0; j0 < nc; j0 += B) {
        size_t nb = nc - j0 < B ? nc - j0 : B;
        for (size_t k = 0; k < st->n_pad; k++) {
            long a = (long)k - (long)st->pad;
            if (a < 0)
                a = -a;
            if (a >= (long)na)
                a = 2 * ((long)na - 1) - a;
            float *dst = st->fft_real + k * B;
            memcpy(dst, sino + (size_t)a * nc + j0, nb * sizeof *dst);
            if (nb < B)
                memset(dst + nb, 0, (B - nb) * sizeof *dst);
        }
        fftwf_execute_dft_r2c(st->forward, st->fft_real, st->fft_spec);
        for (size_t f = 0; f < st->n_freq; f++) {
            float g = st->lowpass[f];
            fftwf_complex *c = st->fft_spec + f * B;
            for (size_t b = 0; b < B; b++) {
                c[b][0] *= g;
                c[b][1] *= g;
            }
        }
        fftwf_execute_dft_c2r(st->backward, st->fft_spec, st->fft_real);
        for (size_t a = 0; a < na; a++)
            memcpy(st->smooth + a * nc + j0, st->fft_real + (a + st->pad) * B, nb * sizeof(float));
    }
    vo_sorted_offsets(st, st->smooth, window, st->offset, NULL, 0);
    vo_sinogram_offsets(st, sino, st->offset, window, st->offset2);
    vo_subtract_offsets(st, sino, st->offset, st->offset2, NULL);
}

/* Nearest columns outside the mask on each side (n_cols when there is none). */
static void vo_good_neighbours(vo_state *st)
{
    size_t nc = st->n_cols;
    for (size_t j = 0, good = nc; j < nc; j++) {
        if (!st->mask[j])
            good = j;
        st->left[j] = good;
    }
    for (size_t j = nc, good = nc; j-- > 0;) {
        if (!st->mask[j])
            good = j;
        st->right[j] = good;
    }
}

/* Median of v[j-2 .. j+2] (reflected at the ends). */
static double vo_median5(const double *v, size_t n, size_t j)
{
    double w[5];
    for (int k = 0; k < 5; k++)
        w[k] = v[vo_reflect((long)j + k - 2, n)];
    for (int a = 1; a < 5; a++)
        for (int b = a; b > 0 && w[b - 1] > w[b]; b--) {
            double t = w[b];
            w[b] = w[b - 1];
            w[b - 1] = t;
        }
    return w[2];
}

/* The standard deviation of a pixel's noise: from the differences between
 * consecutive angles (noise, and the object's slow change), on up to
 * VO_COL_BLOCK columns spread over the width; the median absolute difference
 * of two samples of N(0, s) is 0.6745 sqrt(2) s. */
static double vo_pixel_noise(vo_state *st, const float *sino)
{
    size_t na = st->n_angles, nc = st->n_cols, step = (nc + VO_COL_BLOCK - 1) / VO_COL_BLOCK, count = 0;
    for (size_t j = step / 2; j < nc; j += step)
        for (size_t a = 0; a + 1 < na; a++)
            st->keys[count++] = vo_key(fabsf(sino[(a + 1) * nc + j] - sino[a * nc + j]));
    return count ? vo_median_keys(st->keys, count) / (0.6745 * sqrt(2.0)) : 0.0;
}

/* The columns that predict a run [a, b] of masked columns: two on each side
 * when they are there and unmasked, else the one next to it on each side, else
 * the one next to it on the only side there is. Returns how many (1 to 4). */
static int vo_anchors(const unsigned char *mask, size_t n, size_t a, size_t b, size_t *anchor)
{
    int left = a >= 1 ? (a >= 2 && !mask[a - 2] ? 2 : 1) : 0;
    int right = b + 1 < n ? (b + 2 < n && !mask[b + 2] ? 2 : 1) : 0;
    if (left == 2 && right == 1)
        left = 1;
    if (right == 2 && left == 1)
        right = 1;
    int k = 0;
    for (int i = left; i >= 1; i--)
        anchor[k++] = a - (size_t)i;
    for (int i = 1; i <= right; i++)
        anchor[k++] = b + (size_t)i;
    return k;
}

/* Weights w such that sum w[k] y(anchor[k]) is, at column j, the least-squares
 * quadratic through 4 anchors (an object's curvature across the run does not
 * bias it), the straight line through 2, or the value of 1. */
static void vo_fit_weights(const size_t *anchor, int n, size_t j, double *w)
{
    if (n == 1) {
        w[0] = 1.0;
        return;
    }
    if (n == 2) {
        double t = ((double)j - (double)anchor[0]) / ((double)anchor[1] - (double)anchor[0]);
        w[0] = 1.0 - t, w[1] = t;
        return;
    }
    /* x centred and scaled on the anchors; normal equations of [1 x x^2] */
    double centre = 0.5 * ((double)anchor[0] + (double)anchor[n - 1]);
    double scale = 0.5 * ((double)anchor[n - 1] - (double)anchor[0]);
    double x[4], m[3][3] = {{0}}, inv[3][3];
    for (int k = 0; k < n; k++) {
        x[k] = ((double)anchor[k] - centre) / scale;
        double pw[5] = {1, x[k], x[k] * x[k], x[k] * x[k] * x[k], x[k] * x[k] * x[k] * x[k]};
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                m[r][c] += pw[r + c];
    }
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            int r1 = (c + 1) % 3, r2 = (c + 2) % 3, c1 = (r + 1) % 3, c2 = (r + 2) % 3;
            inv[r][c] = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
        }
    double xj = ((double)j - centre) / scale, q[3] = {1, xj, xj * xj}, g[3];
    for (int c = 0; c < 3; c++)
        g[c] = q[0] * inv[0][c] + q[1] * inv[1][c] + q[2] * inv[2][c];
    for (int k = 0; k < n; k++)
        w[k] = g[0] + g[1] * x[k] + g[2] * x[k] * x[k];
}

/* Confirm and measure the detected columns in the sinogram itself. mask holds
 * 1 for detected columns and 2 for those the widening added; a run is a
 * stretch of nonzero mask. Each column of a run is measured by the median over
 * the angles of its departure from the fit through the columns just outside
 * the run (vo_anchors, vo_fit_weights: a quadratic through two on each side,
 * so that the object's curvature across the run does not count): a stripe is
 * there at every angle, so this measures it, and unlike the sorted domain it
 * is not thrown off by a steep slope of the object across the run (where a
 * median across columns moves by a step of the slope per outlier). Each
 * stretch of detected columns is then judged on its own: kept, with its
 * widening, when the mean of these offsets agrees with the sorted domain's
 * (same sign, at least half of it, the latter above the threshold: a stretch
 * of mixed signs is structure) and stands out of the spread of the departures
 * over the angles (1.4826 times their median absolute deviation). That spread
 * is the noise for a stripe; an object's feature that looks like a stripe in
 * the sorted domain (where its sinusoid turns it dwells in the same columns
 * over many angles; near the axis it never leaves them) comes and goes with
 * the angle and spreads the departures far wider. Kept columns get their
 * measured offsets in offset[]; mask ends 0/1. */
static void vo_confirm_runs(vo_state *st, const float *sino, double *offset, const double *base, double threshold)
{
    size_t na = st->n_angles, nc = st->n_cols;
    unsigned char *mask = st->mask, *keep = st->keep;
    for (size_t a = 0; a < nc;) {
        if (!mask[a]) {
            a++;
            continue;
        }
        size_t b = a;
        while (b + 1 < nc && mask[b + 1])
            b++;
        for (size_t j = a; j <= b; j++)
            keep[j] = 0;
        if (a > 0 || b + 1 < nc) {
            size_t anchor[4];
            int n_anchor = vo_anchors(mask, nc, a, b, anchor);
            for (size_t j = a; j <= b; j++) {
                double w[4];
                vo_fit_weights(anchor, n_anchor, j, w);
                for (size_t i = 0; i < na; i++) {
                    const float *line = sino + i * nc;
                    double fit = 0;
                    for (int k = 0; k < n_anchor; k++)
                        fit += w[k] * line[anchor[k]];
                    st->keys_tmp[i] = vo_key((float)(line[j] - fit));
                }
                double m = vo_median_keys(st->keys_tmp, na);
                st->scratch2[j] = m;
                for (size_t i = 0; i < na; i++)
                    st->keys_tmp[i] = vo_key(fabsf(vo_unkey(st->keys_tmp[i]) - (float)m));
                st->spread[j] = 1.4826 * vo_median_keys(st->keys_tmp, na);
            }
            /* each stretch of detected columns is judged on its own, so a
             * stripe does not carry a false detection next to it */
            for (size_t c = a; c <= b;) {
                if (mask[c] != 1) {
                    c++;
                    continue;
                }
                size_t d = c;
                while (d + 1 <= b && mask[d + 1] == 1)
                    d++;
                double sorted_mean = 0, sinogram_mean = 0, spread = 0;
                for (size_t j = c; j <= d; j++) {
                    sorted_mean += offset[j] - base[j];
                    sinogram_mean += st->scratch2[j];
                    spread += st->spread[j];
                }
                sorted_mean /= (double)(d - c + 1);
                sinogram_mean /= (double)(d - c + 1);
                spread /= (double)(d - c + 1);
                if (fabs(sorted_mean) > threshold && sinogram_mean * sorted_mean > 0 &&
                    fabs(sinogram_mean) >= 0.5 * fabs(sorted_mean) && fabs(sinogram_mean) >= spread)
                    for (size_t j = c > a ? c - 1 : c; j <= d + 1 && j <= b; j++)
                        keep[j] = 1;
                c = d + 1;
            }
        }
        for (size_t j = a; j <= b; j++) {
            mask[j] = keep[j];
            if (keep[j])
                offset[j] = st->scratch2[j];
        }
        a = b + 1;
    }
}

/* Algorithm 5 with algorithm 4 (large stripes), with change 3.
 *
 * Profile, as the paper and Algotom: per column the mean over the ranks,
 * without drop_ratio / 2 of them at each end (as Algotom and TomoPy count the
 * ratio), of the sorted values minus their median across `window` columns; a
 * difference, not Algotom's ratio.
 *
 * Detection. Algorithm 4 takes the noise level from a line fitted to the
 * middle of the sorted profile and flags what lies snr/2 noise levels beyond
 * the line's ends: for a Gaussian profile of deviation sigma, beyond
 * 1.35 (1 + snr) sigma. But an object's feature narrower than half the window
 * is clipped by the median just like a stripe, and such bumps are many: they
 * steepen the fitted line (hiding real stripes), or, where the profile is
 * mostly flat, the line flattens and the noise of flat columns passes. So we
 * keep algorithm 4's threshold, 1.35 (1 + snr) sigma from the profile's
 * median, and measure sigma where bumps do not reach: in the profile minus the
 * mean of its 4 nearest neighbours (1.4826 times its median absolute value; a
 * median of 5 would be exactly 0 wherever the profile is monotone), but never
 * below the pixel noise over the square root of the number of angles (the
 * sorted profile can be smoother than the data allow). Each run of columns
 * beyond the threshold is then sorted out by its edges. A stripe is a step of
 * the column offsets; a clipped feature is a bump that rises gradually from
 * its foot. So the stripe is what lies between the outermost steps of the run
 * (a change from one column to the next of at least half the run's largest
 * deviation, and of the threshold): the run's own ends, or steps inside it,
 * where a stripe sits on a bump or where the stripe's own pull on the median
 * of its neighbours made the run's end fade. A run without two such steps is
 * dropped. Its offset is measured from the columns outside the steps. Narrow
 * stripes are also found on top of bumps, as columns that stand out of their
 * 4 neighbours by VO_NARROW_FACTOR thresholds and whose offset, measured from
 * the median of the 5, passes as many (a bump's crest stands out by a few: on
 * 8 ellipses scans of bench_rings with 4 defective columns each, a factor 1
 * removes 46% of the rings on average, 3 removes 55%). Other columns must
 * have an offset above the threshold. Last, every run is confirmed, and its
 * offsets measured, in the sinogram (vo_confirm_runs).
 *
 * Correction: the detected columns, widened by one on each side, lose the
 * offsets measured in the sinogram; no other column changes. */
static void vo_large(vo_state *st, float *sino, double snr, size_t window, double drop_ratio)
{
    size_t na = st->n_angles, nc = st->n_cols;
    size_t drop = (size_t)(0.5 * drop_ratio * (double)na);
    if (2 * drop >= na)
        drop = (na - 1) / 2;
    const double *p = st->profile;
    double *offset = st->offset, *base = st->scratch, *local = st->acc, *sorted = st->offset2;
    unsigned char *mask = st->mask;
    vo_sorted_offsets(st, sino, window, offset, st->profile, drop);
    for (size_t j = 0; j < nc; j++) {
        local[j] = p[j] - 0.25 * (p[vo_reflect((long)j - 2, nc)] + p[vo_reflect((long)j - 1, nc)] +
                                  p[vo_reflect((long)j + 1, nc)] + p[vo_reflect((long)j + 2, nc)]);
        sorted[j] = fabs(local[j]);
    }
    vo_sort_doubles(sorted, nc);
    /* |q| of Gaussian noise: its first quartile is 0.3186 standard deviations
     * (the lower quartile, not the median, as up to 3 columns in 4 may be
     * stripes or their neighbours), and q's deviation is 1.118 p's */
    double sigma = sorted[nc / 4] / (0.3186 * 1.118);
    /* a column's level is never known better than the pixel noise allows: a
     * profile of sorted values can be smoother than that (where the median
     * across columns is the column's own value, its residual is exactly 0) */
    double floor = vo_pixel_noise(st, sino) / sqrt((double)na);
    if (!(sigma >= floor))
        sigma = floor;
    if (!(sigma >= 1e-7))
        sigma = 1e-7;
    double threshold = 1.35 * (1.0 + snr) * sigma;

    memcpy(sorted, p, nc * sizeof *sorted);
    vo_sort_doubles(sorted, nc);
    double level = sorted[nc / 2];
    for (size_t j = 0; j < nc; j++) {
        mask[j] = fabs(p[j] - level) > threshold;
        base[j] = 0.0;
    }
    for (size_t a = 0; a < nc;) {
        if (!mask[a]) {
            a++;
            continue;
        }
        size_t b = a;
        while (b + 1 < nc && mask[b + 1])
            b++;
        double peak = 0;
        for (size_t j = a; j <= b; j++)
            if (fabs(p[j] - level) > peak)
                peak = fabs(p[j] - level);
        /* the outermost steps of at least half the run's deviation: the run's
         * own ends, or inside it where a stripe sits on an object's bump, or
         * where the stripe's own pull on the median made the run's end fade */
        double step = fmax(0.5 * peak, threshold);
        size_t c = a, d = b;
        while (c <= b && !(c == 0 || fabs(p[c] - p[c - 1]) >= step))
            c++;
        int found = 0;
        while (c <= b && !found) {
            if (d + 1 == nc || fabs(p[d] - p[d + 1]) >= step)
                found = 1;
            else if (d == c)
                break;
            else
                d--;
        }
        memset(mask + a, 0, b - a + 1);
        if (found) {
            double outside = 0;
            int n_out = 0;
            if (c > 0)
                outside += offset[c - 1], n_out++;
            if (d + 1 < nc)
                outside += offset[d + 1], n_out++;
            for (size_t j = c; j <= d; j++) {
                mask[j] = 1;
                base[j] = n_out ? outside / n_out : 0.0;
            }
        }
        a = b + 1;
    }
    for (size_t j = 0; j < nc; j++)
        if (!mask[j] && fabs(local[j]) > VO_NARROW_FACTOR * threshold) {
            mask[j] = 3; /* narrow, on a bump */
            base[j] = vo_median5(offset, nc, j);
        }
    for (size_t j = 0; j < nc; j++)
        if (mask[j]) {
            double need = mask[j] == 3 ? VO_NARROW_FACTOR * threshold : threshold;
            mask[j] = fabs(offset[j] - base[j]) > need;
        }
    for (size_t j = 0; j < nc; j++) /* the widening: 2 marks the added columns */
        if (mask[j] == 1) {
            if (j > 0 && !mask[j - 1])
                mask[j - 1] = 2;
            if (j + 1 < nc && !mask[j + 1])
                mask[j + 1] = 2;
        }
    vo_confirm_runs(st, sino, offset, base, threshold);
    vo_subtract_offsets(st, sino, offset, NULL, mask);
}

/* The value of masked column j at one angle as the good columns around it see
 * it: linear interpolation between the nearest good columns, or the nearest
 * one where the mask reaches the edge of the sinogram. */
static inline float vo_interpolate(const vo_state *st, const float *line, size_t j)
{
    size_t l = st->left[j], r = st->right[j], nc = st->n_cols;
    if (l == nc && r == nc)
        return line[j];
    if (l == nc)
        return line[r];
    if (r == nc)
        return line[l];
    double t = (double)(j - l) / (double)(r - l);
    return (float)((1.0 - t) * line[l] + t * line[r]);
}

/* Algorithm 6 (Algotom's remove_dead_stripe without its residual step):
 * unresponsive columns. A column's activity is the sum over the angles of
 * |value - its moving mean over VO_DEAD_SMOOTH angles|; divided by the
 * median-smoothed activity it is the detection profile, and only its low side
 * is tested (Algotom tests both: the high side flags the columns that cross
 * the object's edge, whose values change fastest with the angle, and
 * interpolating those damages the object). And a detected column must also
 * be quiet in absolute terms, at most VO_DEAD_ACTIVITY of its neighbours'
 * activity: the noise of line integrals changes smoothly across columns, so
 * a working pixel is rarely below 0.6 of its neighbours (measured on the
 * issue's ellipses scans, where algorithm 4 alone flags columns at 0.6 to 1.0
 * and interpolating them added up to 5% to the error of a clean scan), and a
 * dead one is near 0. Detected columns (widened by one, never the two
 * outermost on each side) are replaced by linear interpolation between the
 * nearest good columns, angle by angle. */
static void vo_dead(vo_state *st, float *sino, double snr, size_t window)
{
    size_t na = st->n_angles, nc = st->n_cols;
    /* moving mean over angles a-5 .. a+4 (scipy's uniform_filter1d of size 10,
     * reflected at the ends) as a running sum per column */
    long before = VO_DEAD_SMOOTH / 2, after = VO_DEAD_SMOOTH - 1 - VO_DEAD_SMOOTH / 2;
    double *acc = st->acc, *activity = st->profile, *background = st->scratch;
    for (size_t j = 0; j < nc; j++)
        acc[j] = activity[j] = 0;
    for (long k = -before; k <= after; k++) {
        const float *line = sino + vo_reflect(k, na) * nc;
        for (size_t j = 0; j < nc; j++)
            acc[j] += line[j];
    }
    for (size_t a = 0; a < na; a++) {
        const float *line = sino + a * nc;
        for (size_t j = 0; j < nc; j++)
            activity[j] += fabs((double)line[j] - acc[j] / VO_DEAD_SMOOTH);
        if (a + 1 < na) {
            const float *in = sino + vo_reflect((long)a + 1 + after, na) * nc;
            const float *out = sino + vo_reflect((long)a - before, na) * nc;
            for (size_t j = 0; j < nc; j++)
                acc[j] += (double)in[j] - (double)out[j];
        }
    }
    for (size_t j = 0; j < nc; j++)
        st->row[j] = (float)activity[j];
    vo_median_row(st, st->row, nc, window, 0, st->row2);
    double mean = 0;
    for (size_t j = 0; j < nc; j++)
        mean += fabs(st->row2[j]);
    mean /= (double)nc;
    for (size_t j = 0; j < nc; j++) {
        double b = st->row2[j] != 0.0f ? st->row2[j] : mean;
        activity[j] = b != 0.0 ? activity[j] / b : 1.0;
    }
    memset(st->mask, 0, nc);
    vo_detect_stripes(activity, nc, snr, VO_DETECT_LOW, background, st->mask);
    for (size_t j = 0; j < nc; j++)
        if (activity[j] > VO_DEAD_ACTIVITY)
            st->mask[j] = 0;
    vo_dilate(st->mask, nc);
    size_t keep = nc < 4 ? nc : 2;
    memset(st->mask, 0, keep);
    memset(st->mask + nc - keep, 0, keep);
    size_t n_bad = 0;
    for (size_t j = 0; j < nc; j++)
        n_bad += st->mask[j];
    if (n_bad == 0)
        return;
    vo_good_neighbours(st);
    for (size_t a = 0; a < na; a++) {
        float *line = sino + a * nc;
        for (size_t j = 0; j < nc; j++)
            if (st->mask[j])
                line[j] = vo_interpolate(st, line, j);
    }
}

static void vo_apply(void *state, float *sino)
{
    vo_state *st = state;
    switch (st->method) {
    case TL_RINGS_SORTING:
        vo_sorting(st, sino, st->small_window);
        break;
    case TL_RINGS_FILTERING:
        vo_filtering(st, sino, st->small_window);
        break;
    case TL_RINGS_LARGE:
        vo_large(st, sino, st->snr, st->large_window, st->drop_ratio);
        break;
    case TL_RINGS_VO_ALL:
        vo_dead(st, sino, st->snr, st->large_window);
        vo_large(st, sino, st->snr, st->large_window, VO_ALL_DROP_RATIO);
        vo_sorting(st, sino, st->small_window);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- plan */

static void vo_destroy(void *state)
{
    vo_state *st = state;
    if (!st)
        return;
    if (st->forward || st->backward)
        tl_rings_destroy_plans(st->forward, st->backward);
    fftwf_free(st->fft_real);
    fftwf_free(st->fft_spec);
    free(st->lowpass);
    free(st->work);
    free(st->smooth);
    free(st->keys);
    free(st->keys_tmp);
    free(st->ext);
    free(st->window);
    free(st->row);
    free(st->row2);
    free(st->offset);
    free(st->offset2);
    free(st->profile);
    free(st->scratch);
    free(st->scratch2);
    free(st->spread);
    free(st->acc);
    free(st->mask);
    free(st->keep);
    free(st->left);
    free(st->right);
    free(st);
}

static size_t vo_bytes(const void *state)
{
    const vo_state *st = state;
    if (!st)
        return 0;
    size_t na = st->n_angles, nc = st->n_cols;
    size_t bytes = sizeof *st + na * nc * sizeof(float) * (st->smooth ? 2 : 1);
    bytes += (VO_COL_BLOCK + 1) * na * sizeof(uint32_t);
    bytes += (nc + 2 * (VO_MAX_WINDOW / 2) + VO_MAX_WINDOW) * sizeof(uint32_t);
    bytes += nc * (2 * sizeof(float) + 7 * sizeof(double) + 2 + 2 * sizeof(size_t));
    if (st->n_pad)
        bytes += st->n_pad * VO_FFT_BLOCK * sizeof(float) + st->n_freq * VO_FFT_BLOCK * sizeof(fftwf_complex) +
                 st->n_freq * sizeof(float);
    return bytes;
}

/* A median window across columns: odd, 3 .. min(VO_MAX_WINDOW, n_cols). */
static tl_status vo_check_window(const char *option, long value, size_t n_cols, size_t *out, tl_error *err)
{
    long most = n_cols < VO_MAX_WINDOW ? (long)n_cols : VO_MAX_WINDOW;
    if (most % 2 == 0)
        most--;
    char why[160];
    why[0] = 0;
    if (value < 3)
        snprintf(why, sizeof why, "must be at least 3 (a median of fewer columns removes nothing)");
    else if (value % 2 == 0)
        snprintf(why, sizeof why, "must be odd (the median window is centred on each column)");
    else if (value > VO_MAX_WINDOW)
        snprintf(why, sizeof why, "must be at most %d (a feature wider than that is the object, not a stripe)",
                 VO_MAX_WINDOW);
    else if ((size_t)value > n_cols)
        snprintf(why, sizeof why, "wider than the sinogram (%zu columns)", n_cols);
    if (why[0])
        return tl_error_set(err, TL_ERR_INVALID, "--%s %ld: %s; allowed: odd values from 3 to %ld", option, value,
                            why, most);
    *out = (size_t)value;
    return TL_OK;
}

/* Detection threshold of algorithm 4. At snr <= 1 the threshold (the fitted
 * line's end plus snr/2 of its rise) falls inside the spread of a stripe-free
 * profile: for Gaussian noise the line's ends lie at about +-1.35 sigma and the
 * threshold at 1.35 (1 + snr) sigma, which at snr = 1 (2.7 sigma) flags about
 * 1 column in 150 of a clean sinogram, and at snr = 3 (5.4 sigma) none. */
static tl_status vo_check_snr(const char *option, double value, tl_error *err)
{
    if (!(value > 1.0) || !isfinite(value))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--%s %g: must be greater than 1 (at 1 or less the detection threshold lies inside the "
                            "noise of a stripe-free sinogram); allowed: finite values above 1, 3 is usual",
                            option, value);
    return TL_OK;
}

static tl_status vo_check_params(const tl_rings_params *p, size_t n_cols, vo_state *st, tl_error *err)
{
    tl_status s = TL_OK;
    switch (p->method) {
    case TL_RINGS_SORTING:
        return vo_check_window("sorting-size", p->sorting_size, n_cols, &st->small_window, err);
    case TL_RINGS_FILTERING:
        st->sigma = p->filtering_sigma;
        if (!(p->filtering_sigma > 0) || !isfinite(p->filtering_sigma))
            return tl_error_set(err, TL_ERR_INVALID,
                                "--filtering-sigma %g: must be greater than 0 (the width of the low-pass along the "
                                "angles, in frequency samples); allowed: finite values above 0, 3 is usual",
                                p->filtering_sigma);
        return vo_check_window("filtering-size", p->filtering_size, n_cols, &st->small_window, err);
    case TL_RINGS_LARGE:
        st->snr = p->large_snr;
        st->drop_ratio = p->large_drop_ratio;
        if ((s = vo_check_snr("large-snr", p->large_snr, err)) != TL_OK ||
            (s = vo_check_window("large-size", p->large_size, n_cols, &st->large_window, err)) != TL_OK)
            return s;
        if (!(p->large_drop_ratio >= 0.0 && p->large_drop_ratio <= 0.8))
            return tl_error_set(err, TL_ERR_INVALID,
                                "--large-drop-ratio %g: must be from 0 to 0.8 (the fraction of each column's sorted "
                                "values left out of its level, half at each end); allowed: 0 to 0.8",
                                p->large_drop_ratio);
        return TL_OK;
    case TL_RINGS_VO_ALL:
        st->snr = p->vo_all_snr;
        st->drop_ratio = VO_ALL_DROP_RATIO;
        if ((s = vo_check_snr("vo-all-snr", p->vo_all_snr, err)) != TL_OK ||
            (s = vo_check_window("vo-all-la-size", p->vo_all_la_size, n_cols, &st->large_window, err)) != TL_OK)
            return s;
        return vo_check_window("vo-all-sm-size", p->vo_all_sm_size, n_cols, &st->small_window, err);
    default:
        return tl_error_set(err, TL_ERR_INTERNAL, "rings_vo: method %s is not one of Vo's",
                            tl_rings_method_name(p->method));
    }
}

static tl_status vo_create(const tl_rings_params *p, size_t n_angles, size_t n_cols, void **state, tl_error *err)
{
    *state = NULL;
    const char *name = tl_rings_method_name(p->method);
    if (n_angles < 2 || n_cols < 3 || n_angles > (size_t)INT32_MAX || n_cols > SIZE_MAX / 16 / n_angles)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--remove-stripe-method %s: cannot work on a sinogram of %zu angles x %zu columns "
                            "(allowed: at least 2 angles and 3 columns)",
                            name, n_angles, n_cols);
    vo_state *st = calloc(1, sizeof *st);
    if (!st)
        return tl_error_set(err, TL_ERR_NOMEM, "--remove-stripe-method %s: out of memory", name);
    st->method = p->method;
    st->n_angles = n_angles;
    st->n_cols = n_cols;
    tl_status s = vo_check_params(p, n_cols, st, err);
    if (s != TL_OK) {
        free(st);
        return s;
    }
    size_t na = n_angles, nc = n_cols;
    st->work = malloc(na * nc * sizeof *st->work);
    st->keys = malloc(VO_COL_BLOCK * na * sizeof *st->keys);
    st->keys_tmp = malloc(na * sizeof *st->keys_tmp);
    st->ext = malloc((nc + 2 * (VO_MAX_WINDOW / 2)) * sizeof *st->ext);
    st->window = malloc(VO_MAX_WINDOW * sizeof *st->window);
    st->row = malloc(nc * sizeof *st->row);
    st->row2 = malloc(nc * sizeof *st->row2);
    st->offset = malloc(nc * sizeof *st->offset);
    st->offset2 = malloc(nc * sizeof *st->offset2);
    st->profile = malloc(nc * sizeof *st->profile);
    st->scratch = malloc(nc * sizeof *st->scratch);
    st->scratch2 = malloc(nc * sizeof *st->scratch2);
    st->spread = malloc(nc * sizeof *st->spread);
    st->acc = malloc(nc * sizeof *st->acc);
    st->mask = malloc(nc);
    st->keep = malloc(nc);
    st->left = malloc(nc * sizeof *st->left);
    st->right = malloc(nc * sizeof *st->right);
    if (!st->work || !st->keys || !st->keys_tmp || !st->ext || !st->window || !st->row || !st->row2 || !st->offset ||
        !st->offset2 || !st->profile || !st->scratch || !st->scratch2 || !st->spread || !st->acc || !st->mask || !st->keep || !st->left || !st->right)
        goto fail_nomem;
    if (p->method == TL_RINGS_FILTERING) {
        st->pad = na / 10 < 150 ? na / 10 : 150;
        st->n_pad = na + 2 * st->pad;
        st->n_freq = st->n_pad / 2 + 1;
        st->smooth = malloc(na * nc * sizeof *st->smooth);
        st->fft_real = fftwf_alloc_real(st->n_pad * VO_FFT_BLOCK);
        st->fft_spec = fftwf_alloc_complex(st->n_freq * VO_FFT_BLOCK);
        st->lowpass = malloc(st->n_freq * sizeof *st->lowpass);
        if (!st->smooth || !st->fft_real || !st->fft_spec || !st->lowpass)
            goto fail_nomem;
        for (size_t f = 0; f < st->n_freq; f++)
            st->lowpass[f] = (float)(exp(-(double)f * (double)f / (2.0 * st->sigma * st->sigma)) / (double)st->n_pad);
        int n = (int)st->n_pad, howmany = VO_FFT_BLOCK;
        tl_fftw_planner_lock();
        st->forward = fftwf_plan_many_dft_r2c(1, &n, howmany, st->fft_real, NULL, howmany, 1, st->fft_spec, NULL,
                                              howmany, 1, FFTW_ESTIMATE);
        st->backward = fftwf_plan_many_dft_c2r(1, &n, howmany, st->fft_spec, NULL, howmany, 1, st->fft_real, NULL,
                                               howmany, 1, FFTW_ESTIMATE);
        tl_fftw_planner_unlock();
        if (!st->forward || !st->backward) {
            size_t n_pad = st->n_pad;
            vo_destroy(st);
            return tl_error_set(err, TL_ERR_INTERNAL,
                                "--remove-stripe-method filtering: FFTW could not plan transforms of %zu points", n_pad);
        }
    }
    *state = st;
    return TL_OK;

fail_nomem:
    vo_destroy(st);
    return tl_error_set(err, TL_ERR_NOMEM,
                        "--remove-stripe-method %s: cannot allocate scratch for %zu x %zu sinograms", name, n_angles,
                        n_cols);
}

const tl_rings_impl tl_rings_sorting_impl = {"sorting", vo_create, vo_apply, vo_destroy, vo_bytes};
const tl_rings_impl tl_rings_filtering_impl = {"filtering", vo_create, vo_apply, vo_destroy, vo_bytes};
const tl_rings_impl tl_rings_large_impl = {"large", vo_create, vo_apply, vo_destroy, vo_bytes};
const tl_rings_impl tl_rings_vo_all_impl = {"vo-all", vo_create, vo_apply, vo_destroy, vo_bytes};
