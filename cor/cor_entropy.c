/* cor_entropy.c - the axis whose trial reconstruction has the least histogram
 * entropy: A. Donath, F. Marone, M. Stampanoni et al., "Automated determination
 * of the center of rotation in tomography data", J. Opt. Soc. Am. A 23(5),
 * 1048-1057 (2006) (TomoPy's find_center uses the same criterion).
 *
 * A wrong axis smears every feature into arcs of radius |error|: the values of
 * the slice spread and the histogram flattens, so its entropy rises. The
 * histogram range is fixed per stage (from the trial at the middle of the
 * stage's candidates), so entropies of different candidates compare, and
 * values are spread linearly over two neighbouring bins so that the entropy is
 * a smooth function of the axis. Only a disk centred on the candidate axis
 * that every candidate sees entirely is counted.
 *
 * Search: reduced data (columns binned to <= 128, <= 180 angles, 2 rows) over
 * the whole window in steps of one binned pixel; then the binning halved
 * level by level down to full resolution (4 rows), 0.5-binned-px steps around
 * the best of the level before; then 0.1-px steps within +-0.5 px and a
 * parabola through the three lowest points. On detectors wider than 800 px
 * the finest level stays binned (by W/800, rounded up) so that its counted
 * disk still covers a quarter of the width at a bounded cost; the answer is
 * then as fine as that binning allows (registration and Vo are not limited
 * so, and auto relies on them).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_methods.h"
#include "log.h"
#include "trial.h"

#define ENTROPY_BINS 256
#define ENTROPY_MAX_RADIUS 200.0 /* binned pixels counted around the axis, refinement levels */

typedef struct {
    tl_cor_trial *trial[2]; /* one per 180-degree part of the data */
    int parts;
    size_t rows, n;     /* trial grid n x n */
    double radius;      /* counted disk, pixels */
    float *slices;      /* [rows][n][n] */
    double lo, hi;      /* histogram range */
} stage;

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Entropy of the disk values of st->slices (already reconstructed). */
static double slice_entropy(const stage *st)
{
    double hist[ENTROPY_BINS] = {0};
    double c0 = 0.5 * ((double)st->n - 1.0), r2 = st->radius * st->radius;
    double scale = (ENTROPY_BINS - 1) / (st->hi - st->lo), total = 0;
    for (size_t s = 0; s < st->rows; s++)
        for (size_t r = 0; r < st->n; r++) {
            double y = (double)r - c0;
            const float *row = st->slices + (s * st->n + r) * st->n;
            for (size_t c = 0; c < st->n; c++) {
                double x = (double)c - c0;
                if (x * x + y * y > r2)
                    continue;
                double f = (row[c] - st->lo) * scale;
                f = f < 0 ? 0 : (f > ENTROPY_BINS - 1 ? ENTROPY_BINS - 1 : f);
                size_t b = (size_t)f;
                if (b >= ENTROPY_BINS - 1) {
                    hist[ENTROPY_BINS - 1] += 1.0;
                } else {
                    double frac = f - (double)b;
                    hist[b] += 1.0 - frac;
                    hist[b + 1] += frac;
                }
                total += 1.0;
            }
        }
    double h = 0;
    for (int b = 0; b < ENTROPY_BINS; b++)
        if (hist[b] > 0) {
            double p = hist[b] / total;
            h -= p * log(p);
        }
    return h;
}

static tl_status entropy_at(stage *st, double axis, double *h, tl_error *err)
{
    *h = 0;
    for (int p = 0; p < st->parts; p++) {
        tl_status s = tl_cor_trial_slices(st->trial[p], axis, st->slices, err);
        if (s != TL_OK)
            return s;
        *h += slice_entropy(st);
    }
    return TL_OK;
}

/* Histogram range from the trial at `axis`: the 0.5 and 99.5 percentiles of
 * the disk, widened by half their distance on each side. */
static tl_status set_range(stage *st, double axis, tl_error *err)
{
    tl_status s = tl_cor_trial_slices(st->trial[0], axis, st->slices, err);
    if (s != TL_OK)
        return s;
    size_t total = st->rows * st->n * st->n, k = 0;
    float *v = malloc(total * sizeof *v);
    if (!v)
        return tl_error_set(err, TL_ERR_NOMEM, "entropy: out of memory");
    double c0 = 0.5 * ((double)st->n - 1.0), r2 = st->radius * st->radius;
    for (size_t sl = 0; sl < st->rows; sl++)
        for (size_t r = 0; r < st->n; r++)
            for (size_t c = 0; c < st->n; c++) {
                double x = (double)c - c0, y = (double)r - c0;
                if (x * x + y * y <= r2)
                    v[k++] = st->slices[(sl * st->n + r) * st->n + c];
            }
    qsort(v, k, sizeof *v, cmp_float);
    double p_lo = v[(size_t)(0.005 * (double)(k - 1))], p_hi = v[(size_t)(0.995 * (double)(k - 1))];
    free(v);
    double span = p_hi - p_lo;
    if (!(span > 0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "entropy: the trial reconstruction is uniform; the data show nothing to focus on");
    st->lo = p_lo - 0.5 * span;
    st->hi = p_hi + 0.5 * span;
    return TL_OK;
}

static void stage_free(stage *st)
{
    tl_cor_trial_destroy(&st->trial[0]);
    tl_cor_trial_destroy(&st->trial[1]);
    free(st->slices);
    memset(st, 0, sizeof *st);
}

/* A stage on the parts of the data (one or two 180-degree sinogram sets)
 * whose candidates lie in [a_lo, a_hi] (data columns). */
static tl_status stage_init(stage *st, const tl_cor_sinograms *data, int parts, double a_lo, double a_hi,
                            double max_radius, tl_algorithm trial, tl_workers *workers, tl_error *err)
{
    memset(st, 0, sizeof *st);
    st->parts = parts;
    double w = (double)data[0].n_cols;
    double reach = fmin(a_lo, w - 1.0 - a_hi); /* every candidate sees this far on both sides */
    if (reach < 4.0)
        return tl_error_set(err, TL_ERR_INVALID, "entropy: the window reaches the detector edge");
    st->radius = fmin(reach - 1.0, max_radius);
    st->n = 2 * (size_t)ceil(st->radius) + 2;
    st->rows = data[0].n_rows;
    st->slices = malloc(st->rows * st->n * st->n * sizeof *st->slices);
    if (!st->slices)
        return tl_error_set(err, TL_ERR_NOMEM, "entropy: out of memory");
    tl_status s = TL_OK;
    for (int p = 0; p < parts && s == TL_OK; p++)
        s = tl_cor_trial_create(&data[p], st->n, TL_FILTER_RAMP, trial, workers, &st->trial[p], err);
    if (s == TL_OK)
        s = set_range(st, 0.5 * (a_lo + a_hi), err);
    if (s != TL_OK)
        stage_free(st);
    return s;
}

/* Entropies of candidates a0, a0+step, ..., within [a_lo, a_hi]; returns the
 * index of the lowest. */
static tl_status scan_candidates(stage *st, double a0, double step, size_t count, double *axes, double *h,
                                 size_t *best, tl_error *err)
{
    *best = 0;
    for (size_t i = 0; i < count; i++) {
        axes[i] = a0 + step * (double)i;
        tl_status s = entropy_at(st, axes[i], &h[i], err);
        if (s != TL_OK)
            return s;
        if (h[i] < h[*best])
            *best = i;
        tl_log_debug("cor: entropy at %.3f: %.5f", axes[i], h[i]);
    }
    return TL_OK;
}

/* The candidate whose entropy lies deepest below the chord between its
 * neighbours 4 candidates away on either side. A wrong axis far off smears the
 * slice into a flat, low-entropy haze, so the raw minimum can sit at the
 * window's edge on a long slope; the right axis is a narrow dip, and a slope
 * or a broad bowl lies on or above its chords. Candidates within 4 of the ends
 * have no chord and are not chosen (count >= 9). */
static size_t deepest_dip(const double *h, size_t count)
{
    size_t best = 4;
    double best_depth = -INFINITY;
    for (size_t i = 4; i + 4 < count; i++) {
        double depth = 0.5 * (h[i - 4] + h[i + 4]) - h[i];
        if (depth > best_depth) {
            best_depth = depth;
            best = i;
        }
    }
    return best;
}

tl_status tl_cor_entropy(const tl_cor_sinograms *in, double lo, double hi, tl_algorithm trial, tl_workers *workers,
                         tl_cor_estimate *est, tl_error *err)
{
    tl_status s;
    stage st = {0};
    tl_cor_sinograms coarse[2] = {{0}}, fine[2] = {{0}}, coarse_rows[2] = {{0}};
    int parts = 1;
    size_t w = in->n_cols;
    size_t n_max = 2 * w + 64;
    double *axes = calloc(n_max, sizeof *axes), *h = calloc(n_max, sizeof *h);
    if (!axes || !h) {
        free(axes);
        free(h);
        return tl_error_set(err, TL_ERR_NOMEM, "entropy: out of memory");
    }
    /* rows: at most 2 for the coarse pass, 4 for the fine ones, from the middle */
    size_t n2 = in->n_rows < 2 ? in->n_rows : 2, n4 = in->n_rows < 4 ? in->n_rows : 4;
    if ((s = tl_cor_split_halves(in, (in->n_rows - n2) / 2, n2, coarse_rows, &parts, err)) != TL_OK ||
        (s = tl_cor_split_halves(in, (in->n_rows - n4) / 2, n4, fine, &parts, err)) != TL_OK)
        goto done;

    /* stage 1: binned to <= 128 columns, <= 180 angles per part */
    size_t bin = (w + 127) / 128;
    size_t astep = coarse_rows[0].n_angles > 180 ? (coarse_rows[0].n_angles + 179) / 180 : 1;
    for (int p = 0; p < parts; p++)
        if ((s = tl_cor_reduce(&coarse_rows[p], bin, astep, &coarse[p], err)) != TL_OK)
            goto done;
    double off = 0.5 * ((double)bin - 1.0);
    double c_lo = (lo - off) / (double)bin, c_hi = (hi - off) / (double)bin;
    if ((s = stage_init(&st, coarse, parts, c_lo, c_hi, INFINITY, trial, workers, err)) != TL_OK)
        goto done;
    size_t count = (size_t)floor(c_hi - c_lo) + 1, best;
    if ((s = scan_candidates(&st, c_lo, 1.0, count, axes, h, &best, err)) != TL_OK)
        goto done;
    stage_free(&st);
    best = count >= 9 ? deepest_dip(h, count) : best;
    int at_edge = count > 2 && (best == 0 || best == count - 1);
    double a1 = axes[best] * (double)bin + off;
    /* depth of the coarse minimum against the median entropy, for the confidence */
    double h_min = h[best], h_med;
    for (size_t i = 1; i < count; i++)
        for (size_t k = i; k > 0 && h[k - 1] > h[k]; k--) {
            double x = h[k];
            h[k] = h[k - 1];
            h[k - 1] = x;
        }
    h_med = h[count / 2];

    /* stage 2: halve the binning level by level down to full resolution; at
     * each, 0.5-binned-px steps over the uncertainty the level before left
     * (+- its bin + 1 px). The counted disk is at most ENTROPY_MAX_RADIUS
     * binned px and the angles at most ~1.6 per binned column per 180 degrees,
     * so a level costs the same on any detector. */
    double a2 = a1;
    size_t prev = bin;
    /* the finest level: its disk (ENTROPY_MAX_RADIUS binned px) must still
     * cover a good part of the field of view (a quarter of the width) */
    size_t b_min = (size_t)ceil((double)w / (4.0 * ENTROPY_MAX_RADIUS));
    b_min = b_min < 1 ? 1 : b_min;
    size_t b = bin / 2 > b_min ? bin / 2 : b_min;
    double boff = 0;
    for (;; b = b / 2 > b_min ? b / 2 : b_min) {
        tl_cor_sinograms level[2] = {{0}};
        size_t wb = w / b;
        size_t want = (size_t)fmax(360.0, M_PI * fmin(0.5 * (double)wb, ENTROPY_MAX_RADIUS));
        size_t lstep = fine[0].n_angles > want ? (fine[0].n_angles + want - 1) / want : 1;
        for (int p = 0; p < parts && s == TL_OK; p++)
            s = tl_cor_reduce(&fine[p], b, lstep, &level[p], err);
        boff = 0.5 * ((double)b - 1.0);
        double half = (double)prev + 1.0;
        double f_lo = fmax(lo, a2 - half), f_hi = fmin(hi, a2 + half);
        double l_lo = (f_lo - boff) / (double)b, l_hi = (f_hi - boff) / (double)b;
        if (s == TL_OK)
            s = stage_init(&st, level, parts, fmax((lo - boff) / (double)b, l_lo - 1.0),
                           fmin((hi - boff) / (double)b, l_hi + 1.0), ENTROPY_MAX_RADIUS, trial, workers, err);
        for (int p = 0; p < 2; p++)
            tl_cor_reduced_free(&level[p]);
        if (s != TL_OK)
            goto done;
        count = (size_t)floor((l_hi - l_lo) / 0.5) + 1;
        if ((s = scan_candidates(&st, l_lo, 0.5, count, axes, h, &best, err)) != TL_OK)
            goto done;
        a2 = axes[best] * (double)b + boff;
        if (b == b_min)
            break;
        stage_free(&st);
        prev = b;
    }
    /* stage 3: 0.1-binned-px steps within +-0.5, same stage (range and disk) */
    if ((s = scan_candidates(&st, (a2 - boff) / (double)b - 0.5, 0.1, 11, axes, h, &best, err)) != TL_OK)
        goto done;
    double axis = axes[best];
    if (best > 0 && best < 10) {
        double denom = h[best - 1] - 2.0 * h[best] + h[best + 1];
        if (denom > 0)
            axis += 0.1 * 0.5 * (h[best - 1] - h[best + 1]) / denom;
    }
    axis = axis * (double)b + boff;
    if (at_edge || axis < lo - 0.5 || axis > hi + 0.5) {
        est->found = 0;
        snprintf(est->message, sizeof est->message,
                 "entropy: the lowest entropy is at the edge of the search window (axis %.2f, window "
                 "%.2f..%.2f); the axis is outside it",
                 axis, lo, hi);
        s = tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
        goto done;
    }
    est->found = 1;
    est->axis = axis;
    est->confidence = h_med > 0 ? fmax(0.0, fmin(1.0, 10.0 * (h_med - h_min) / h_med)) : 0.0;
    snprintf(est->message, sizeof est->message, "%zu rows, %d part%s, coarse bin %zu", n4, parts,
             parts == 1 ? "" : "s", bin);
done:
    stage_free(&st);
    for (int p = 0; p < 2; p++) {
        tl_cor_reduced_free(&coarse[p]);
        tl_cor_reduced_free(&coarse_rows[p]);
        tl_cor_reduced_free(&fine[p]);
    }
    free(axes);
    free(h);
    return s;
}
