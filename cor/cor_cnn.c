/* cor_cnn.c - the axis whose trial reconstructions a small CNN scores as best
 * centred (Yang, De Carlo, Xiao et al., "A convolutional neural network
 * approach to calibrating the rotation axis for X-ray computed tomography",
 * J. Synchrotron Rad. 24, 469-475 (2017)). The network, its weights and the
 * preparation of its input are in cnn.h; how it was trained in cor/train/.
 *
 * Data: up to CNN_ROWS rows spread over the detector; a 360-degree scan is
 * judged as its two 180-degree halves (tl_cor_split_halves: each half shows
 * the lopsided arcs of a wrong axis, and the network was trained on
 * 180-degree reconstructions only).
 *
 * Search, coarse to fine (the score of a candidate axis is the mean
 * probability over the CNN_K patches of every row and half):
 *   1. on data binned to at most TL_CNN_COARSE_COLS columns, patch positions
 *      picked at the middle of the window, one binned pixel per step over the
 *      whole window [lo, hi];
 *   2. at each finer level down to full resolution, positions picked again at
 *      the best axis so far, half-binned-pixel steps within +-3 binned pixels;
 *   3. at full resolution, positions picked at the best axis, 0.1 px steps
 *      within +-0.8 px, and the vertex of the least-squares parabola through
 *      the scores within 0.5 px of the best.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "cor_methods.h"
#include "log.h"
#include "trial.h"

#define CNN_ROWS 4    /* detector rows judged */
#define CNN_K 12      /* patches per row and half */
#define FINE_STEP 0.1 /* px, stage 3 */
#define FINE_REACH 8  /* steps on either side in stage 3 */
#define FIT_HALF 0.5  /* px around the best score the parabola is fitted to */

typedef struct {
    const tl_cnn *net;
    tl_workers *workers;
    tl_algorithm trial;
    int parts;
    tl_cnn_view *view[2];
    float *patches;  /* [capacity][P][P] */
    double *scores;  /* [capacity] */
    size_t capacity, count;
    float **scratch; /* [threads] */
    int threads;
} scorer;

static void score_patches(void *ctx, size_t begin, size_t end, int thread)
{
    scorer *sc = ctx;
    const size_t pp = TL_CNN_PATCH * TL_CNN_PATCH;
    for (size_t i = begin; i < end; i++)
        sc->scores[i] = tl_cnn_score(sc->net, sc->patches + i * pp, sc->scratch[thread]);
}

static void views_free(scorer *sc)
{
    for (int p = 0; p < 2; p++)
        tl_cnn_view_destroy(&sc->view[p]);
}

static void scorer_free(scorer *sc)
{
    views_free(sc);
    free(sc->patches);
    free(sc->scores);
    if (sc->scratch)
        for (int t = 0; t < sc->threads; t++)
            free(sc->scratch[t]);
    free(sc->scratch);
}

/* The views of every half at binning `bin`, positions picked at `axis`. */
static tl_status level_init(scorer *sc, const tl_cor_sinograms *halves, size_t bin, double axis, tl_error *err)
{
    views_free(sc);
    tl_status s = TL_OK;
    for (int p = 0; p < sc->parts && s == TL_OK; p++)
        if ((s = tl_cnn_view_create(&halves[p], bin, CNN_K, sc->trial, sc->workers, &sc->view[p], err)) == TL_OK)
            s = tl_cnn_view_pick(sc->view[p], axis, err);
    return s;
}

static tl_status repick(scorer *sc, double axis, tl_error *err)
{
    tl_status s = TL_OK;
    for (int p = 0; p < sc->parts && s == TL_OK; p++)
        s = tl_cnn_view_pick(sc->view[p], axis, err);
    return s;
}

/* Mean CNN probability of the patches of the trial slices at `axis`. */
static tl_status score_at(scorer *sc, double axis, double *score, tl_error *err)
{
    const size_t pp = TL_CNN_PATCH * TL_CNN_PATCH;
    sc->count = 0;
    for (int p = 0; p < sc->parts; p++) {
        size_t got = 0;
        tl_status s = tl_cnn_view_patches(sc->view[p], axis, sc->patches + sc->count * pp, &got, err);
        if (s != TL_OK)
            return s;
        sc->count += got;
    }
    tl_workers_run(sc->workers, sc->count, 1, score_patches, sc);
    double sum = 0;
    for (size_t i = 0; i < sc->count; i++)
        sum += sc->scores[i];
    *score = sc->count ? sum / (double)sc->count : 0.0;
    return TL_OK;
}

/* Scores at a0 + step * i, i < count; *best is the index of the highest. */
static tl_status scan(scorer *sc, double a0, double step, size_t count, double *axes, double *score, size_t *best,
                      tl_error *err)
{
    *best = 0;
    for (size_t i = 0; i < count; i++) {
        axes[i] = a0 + step * (double)i;
        tl_status s = score_at(sc, axes[i], &score[i], err);
        if (s != TL_OK)
            return s;
        tl_log_debug("cor: cnn score at %.3f: %.4f (%zu patches)", axes[i], score[i], sc->count);
        if (score[i] > score[*best])
            *best = i;
    }
    return TL_OK;
}

/* Vertex of the least-squares parabola through the scores within FIT_HALF of
 * the best one; the best axis itself when the fit has no maximum there. */
static double parabola_vertex(const double *axes, const double *score, size_t count, size_t best)
{
    double s[5] = {0}, t[3] = {0};
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        double x = axes[i] - axes[best];
        if (fabs(x) > FIT_HALF + 1e-9)
            continue;
        double xp = 1;
        for (int k = 0; k < 5; k++, xp *= x)
            s[k] += xp;
        t[0] += score[i], t[1] += x * score[i], t[2] += x * x * score[i];
        used++;
    }
    if (used < 3)
        return axes[best];
    /* normal equations for c0 + c1 x + c2 x^2 (Cramer's rule) */
    double m[3][3] = {{s[0], s[1], s[2]}, {s[1], s[2], s[3]}, {s[2], s[3], s[4]}};
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if (fabs(det) < 1e-300)
        return axes[best];
    double d1 = m[0][0] * (t[1] * m[2][2] - m[1][2] * t[2]) - t[0] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                m[0][2] * (m[1][0] * t[2] - t[1] * m[2][0]);
    double d2 = m[0][0] * (m[1][1] * t[2] - t[1] * m[2][1]) - m[0][1] * (m[1][0] * t[2] - t[1] * m[2][0]) +
                t[0] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    double c1 = d1 / det, c2 = d2 / det;
    if (!(c2 < 0))
        return axes[best];
    double x = -c1 / (2 * c2);
    return fabs(x) <= FIT_HALF ? axes[best] + x : axes[best];
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

tl_status tl_cor_cnn(const tl_cor_sinograms *in, double lo, double hi, tl_algorithm trial, tl_workers *workers,
                     tl_cor_estimate *est, tl_error *err)
{
    est->found = 0;
    tl_cnn *net = NULL;
    tl_status s = tl_cnn_load_builtin(&net, err);
    if (s != TL_OK)
        return s;
    scorer sc = {.net = net, .workers = workers, .trial = trial, .threads = tl_workers_count(workers)};
    size_t w = in->n_cols, rows = in->n_rows < CNN_ROWS ? in->n_rows : CNN_ROWS;
    float *picked = malloc(rows * in->n_angles * w * sizeof *picked);
    tl_cor_sinograms halves[2] = {{0}};
    size_t n_max = w + 64;
    double *axes = malloc(n_max * sizeof *axes), *score = malloc(n_max * sizeof *score);
    double *sorted = malloc(n_max * sizeof *sorted);
    sc.capacity = 2 * rows * CNN_K;
    sc.patches = malloc(sc.capacity * TL_CNN_PATCH * TL_CNN_PATCH * sizeof *sc.patches);
    sc.scores = malloc(sc.capacity * sizeof *sc.scores);
    sc.scratch = calloc((size_t)sc.threads, sizeof *sc.scratch);
    if (!picked || !axes || !score || !sorted || !sc.patches || !sc.scores || !sc.scratch)
        goto nomem;
    for (int t = 0; t < sc.threads; t++)
        if (!(sc.scratch[t] = malloc(tl_cnn_scratch_floats(net) * sizeof(float))))
            goto nomem;
    /* rows spread evenly over the detector */
    for (size_t r = 0; r < rows; r++) {
        size_t src = (size_t)(((double)r + 0.5) * (double)in->n_rows / (double)rows);
        memcpy(picked + r * in->n_angles * w, in->sino + src * in->n_angles * w, in->n_angles * w * sizeof *picked);
    }
    tl_cor_sinograms sub = *in;
    sub.sino = picked;
    sub.n_rows = rows;
    if ((s = tl_cor_split_halves(&sub, 0, rows, halves, &sc.parts, err)) != TL_OK)
        goto done;

    /* stage 1: coarse, over the whole window */
    size_t b = tl_cnn_coarse_bin(w), best = 0;
    if ((s = level_init(&sc, halves, b, 0.5 * (lo + hi), err)) != TL_OK)
        goto done;
    size_t count = (size_t)floor((hi - lo) / (double)b) + 1;
    if (count > n_max)
        count = n_max;
    double first = 0.5 * (lo + hi) - 0.5 * (double)(count - 1) * (double)b;
    if ((s = scan(&sc, first, (double)b, count, axes, score, &best, err)) != TL_OK)
        goto done;
    int at_edge = count > 2 && (best == 0 || best == count - 1);
    double a = axes[best], coarse_top = score[best];
    memcpy(sorted, score, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, cmp_double);
    double baseline = sorted[count / 2];
    if (at_edge) {
        snprintf(est->message, sizeof est->message,
                 "cnn: the best score (%.3f) is at the edge of the search window %.2f..%.2f, at %.2f; widen "
                 "the window",
                 coarse_top, lo, hi, a);
        s = tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
        goto done;
    }
    /* stage 2: finer levels, half-binned-pixel steps within +-3 binned pixels */
    size_t b0 = b;
    do {
        if (b > 1) {
            b /= 2;
            if ((s = level_init(&sc, halves, b, a, err)) != TL_OK)
                goto done;
        } else if ((s = repick(&sc, a, err)) != TL_OK) {
            goto done;
        }
        if ((s = scan(&sc, a - 3.0 * (double)b, 0.5 * (double)b, 13, axes, score, &best, err)) != TL_OK)
            goto done;
        a = axes[best];
    } while (b > 1);
    /* stage 3: 0.1 px steps, positions picked at the best axis so far */
    if ((s = repick(&sc, a, err)) != TL_OK ||
        (s = scan(&sc, a - FINE_REACH * FINE_STEP, FINE_STEP, 2 * FINE_REACH + 1, axes, score, &best, err)) !=
            TL_OK)
        goto done;
    double top = score[best];
    double axis = parabola_vertex(axes, score, 2 * FINE_REACH + 1, best);
    if (top < 0.1 || axis < lo - 0.5 || axis > hi + 0.5) {
        snprintf(est->message, sizeof est->message,
                 top < 0.1 ? "cnn: no trial reconstruction looks centred (best score %.3f at %.2f)"
                           : "cnn: the best axis %.2f (score %.3f) is outside the search window",
                 top < 0.1 ? top : axis, top < 0.1 ? axis : top);
        s = tl_error_set(err, TL_ERR_INVALID, "%s", est->message);
        goto done;
    }
    est->found = 1;
    est->axis = axis;
    est->confidence = baseline < 1 ? fmax(0.0, fmin(1.0, (top - baseline) / (1.0 - baseline))) : 0.0;
    snprintf(est->message, sizeof est->message, "%zu rows, %d half%s, coarse bin %zu, best score %.3f", rows,
             sc.parts, sc.parts == 1 ? "" : "s", b0, top);
    goto done;
nomem:
    s = tl_error_set(err, TL_ERR_NOMEM, "cnn: out of memory");
done:
    if (s == TL_ERR_INVALID && !est->message[0])
        snprintf(est->message, sizeof est->message, "%s", err ? err->message : "cnn: invalid input");
    scorer_free(&sc);
    for (int p = 0; p < 2; p++)
        tl_cor_reduced_free(&halves[p]);
    free(picked);
    free(axes);
    free(score);
    free(sorted);
    tl_cnn_destroy(&net);
    return s;
}
