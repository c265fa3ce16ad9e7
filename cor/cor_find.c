/* cor_find.c - input checks shared by the searches, and tl_cor_find() with the
 * 'auto' combination.
 *
 * auto: registration of opposite projections and Vo's method are fast and
 * precise when the data are clean; each has failure modes of its own (a
 * registration is fooled by a sample that moves between 0 and 180 degrees,
 * Vo's metric by strong rings). When both run and agree within a pixel, the
 * answer is their confidence-weighted mean. Otherwise entropy on trial
 * reconstructions, restricted to the neighbourhood of the candidates, decides
 * which candidate reconstructs best; the disagreement is logged as a warning.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_methods.h"
#include "log.h"

tl_status tl_cor_check(const tl_cor_sinograms *in, double *arc_deg, tl_error *err)
{
    if (!in->sino || !in->angles_deg || in->n_rows == 0)
        return tl_error_set(err, TL_ERR_INVALID, "centre search: no sinogram rows were given");
    if (in->n_angles < 2)
        return tl_error_set(err, TL_ERR_INVALID,
                            "centre search: the scan has %zu projection angle; a rotation axis needs "
                            "projections over at least 180 degrees",
                            in->n_angles);
    if (in->n_cols < 16)
        return tl_error_set(err, TL_ERR_INVALID,
                            "centre search: the detector is %zu columns wide; the search needs at least 16",
                            in->n_cols);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < in->n_angles; i++) {
        double t = in->angles_deg[i];
        if (!isfinite(t))
            return tl_error_set(err, TL_ERR_INVALID, "centre search: angle %zu is not a finite number", i);
        lo = t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    double step = (hi - lo) / (double)(in->n_angles - 1);
    double arc = hi - lo + step;
    *arc_deg = arc;
    if (arc < 180.0 - 1e-6 * 180.0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "centre search: the projections cover %.2f degrees (%.2f to %.2f, %zu angles); "
                            "finding the axis needs an arc of at least 180 degrees",
                            arc, lo, hi, in->n_angles);
    /* contrast: the standard deviation of all values against their magnitude */
    double sum = 0, sum2 = 0, amax = 0;
    size_t count = in->n_rows * in->n_angles * in->n_cols, bad = 0;
    for (size_t k = 0; k < count; k++) {
        double v = in->sino[k];
        if (!isfinite(v)) {
            bad++;
            continue;
        }
        sum += v;
        sum2 += v * v;
        amax = fabs(v) > amax ? fabs(v) : amax;
    }
    if (bad)
        return tl_error_set(err, TL_ERR_INVALID, "centre search: %zu of the sinogram values are not finite",
                            bad);
    double mean = sum / (double)count, var = sum2 / (double)count - mean * mean;
    double sd = var > 0 ? sqrt(var) : 0;
    if (sd <= 1e-6 * (amax > 1.0 ? amax : 1.0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "centre search: the sinograms have no contrast (all values %.4g, standard deviation "
                            "%.2g); nothing in them shows where the axis is",
                            mean, sd);
    return TL_OK;
}

tl_status tl_cor_window(const tl_cor_options *opt, size_t n_cols, double *lo, double *hi, tl_error *err)
{
    double centre = 0.5 * ((double)n_cols - 1.0);
    if (!opt || (opt->window_lo == 0 && opt->window_hi == 0)) {
        *lo = centre - 0.25 * (double)n_cols;
        *hi = centre + 0.25 * (double)n_cols;
        return TL_OK;
    }
    if (!(opt->window_lo < opt->window_hi) || opt->window_lo < 0 || opt->window_hi > (double)n_cols - 1)
        return tl_error_set(err, TL_ERR_INVALID,
                            "centre search: the window %.2f..%.2f is not a range of axes on the detector "
                            "(allowed: within 0..%zu, low below high)",
                            opt->window_lo, opt->window_hi, n_cols - 1);
    *lo = opt->window_lo;
    *hi = opt->window_hi;
    return TL_OK;
}

typedef tl_status (*method_fn)(const tl_cor_sinograms *, double, double, tl_algorithm, tl_workers *,
                               tl_cor_estimate *, tl_error *);

static const method_fn methods[TL_COR_METHOD_COUNT] = {
    [TL_COR_ENTROPY] = tl_cor_entropy,
    [TL_COR_REGISTRATION] = tl_cor_registration,
    [TL_COR_VO] = tl_cor_vo,
    [TL_COR_CNN] = tl_cor_cnn,
};

/* Run one method into report->by_method[m]; a failure is recorded, not returned
 * (except allocation failures). */
static tl_status run_method(tl_cor_method m, const tl_cor_sinograms *in, double lo, double hi,
                            const tl_cor_options *opt, tl_workers *workers, tl_cor_report *report, tl_error *err)
{
    tl_cor_estimate *e = &report->by_method[m];
    memset(e, 0, sizeof *e);
    e->ran = 1;
    double t0 = tl_now();
    tl_error merr;
    tl_error_clear(&merr);
    tl_algorithm trial = m == TL_COR_ENTROPY ? TL_ALGORITHM_GRIDREC : TL_ALGORITHM_FBP;
    if (opt && opt->trial_given)
        trial = opt->trial_algorithm;
    tl_status st = methods[m](in, lo, hi, trial, workers, e, &merr);
    e->seconds = tl_now() - t0;
    if (st != TL_OK) {
        e->found = 0;
        snprintf(e->message, sizeof e->message, "%s", merr.message);
        if (st == TL_ERR_NOMEM) {
            *err = merr;
            return st;
        }
        return TL_OK;
    }
    tl_log_debug("cor: %s: axis %.3f, confidence %.2f, %.3f s", tl_cor_method_name(m), e->axis, e->confidence,
                 e->seconds);
    return TL_OK;
}

static void spread_of(tl_cor_report *report)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int m = 0; m < TL_COR_AUTO; m++)
        if (report->by_method[m].found) {
            lo = fmin(lo, report->by_method[m].axis);
            hi = fmax(hi, report->by_method[m].axis);
        }
    report->spread = hi > lo ? hi - lo : 0.0;
}

static tl_status find_auto(const tl_cor_sinograms *in, double lo, double hi, const tl_cor_options *opt,
                           tl_workers *workers, tl_cor_report *report, tl_error *err)
{
    tl_status st;
    if ((st = run_method(TL_COR_REGISTRATION, in, lo, hi, opt, workers, report, err)) != TL_OK ||
        (st = run_method(TL_COR_VO, in, lo, hi, opt, workers, report, err)) != TL_OK)
        return st;
    const tl_cor_estimate *reg = &report->by_method[TL_COR_REGISTRATION], *vo = &report->by_method[TL_COR_VO];
    if (reg->found && vo->found && fabs(reg->axis - vo->axis) <= 1.0) {
        double wr = 0.05 + reg->confidence, wv = 0.05 + vo->confidence;
        report->axis = (wr * reg->axis + wv * vo->axis) / (wr + wv);
        double agree = fabs(reg->axis - vo->axis);
        report->confidence = fmin(1.0, 0.5 * (reg->confidence + vo->confidence)) * (1.0 - 0.5 * agree);
        snprintf(report->how, sizeof report->how, "auto: registration and vo agree within %.2f px", agree);
        spread_of(report);
        return TL_OK;
    }
    /* Disagreement or a failure: entropy decides, near the candidates when
     * there are any, over the whole window otherwise. */
    double elo = lo, ehi = hi;
    if (reg->found || vo->found) {
        double a = reg->found ? reg->axis : vo->axis, b = vo->found ? vo->axis : reg->axis;
        elo = fmax(lo, fmin(a, b) - 3.0);
        ehi = fmin(hi, fmax(a, b) + 3.0);
    }
    if ((st = run_method(TL_COR_ENTROPY, in, elo, ehi, opt, workers, report, err)) != TL_OK)
        return st;
    const tl_cor_estimate *ent = &report->by_method[TL_COR_ENTROPY];
    spread_of(report);
    if (!ent->found && !reg->found && !vo->found)
        return tl_error_set(err, TL_ERR_INVALID, "centre search: no method found the axis (registration: %s; vo: "
                            "%s; entropy: %s)",
                            reg->message, vo->message, ent->message);
    if (ent->found) {
        /* the candidate closest to the entropy minimum, when within a pixel of it */
        const tl_cor_estimate *best = ent;
        double dbest = 1.0;
        if (reg->found && fabs(reg->axis - ent->axis) <= dbest)
            best = reg, dbest = fabs(reg->axis - ent->axis);
        if (vo->found && fabs(vo->axis - ent->axis) < dbest)
            best = vo;
        report->axis = best->axis;
        report->confidence = 0.5 * best->confidence;
        snprintf(report->how, sizeof report->how, "auto: %s, chosen by entropy (registration %s, vo %s)",
                 best == ent ? "entropy" : best == reg ? "registration" : "vo",
                 reg->found ? "disagrees" : "failed", vo->found ? (reg->found ? "disagrees" : "found") : "failed");
        return TL_OK;
    }
    const tl_cor_estimate *only = reg->found ? reg : vo;
    report->axis = only->axis;
    report->confidence = 0.25 * only->confidence;
    snprintf(report->how, sizeof report->how, "auto: %s alone (the other methods failed)",
             only == reg ? "registration" : "vo");
    return TL_OK;
}

tl_status tl_cor_find(const tl_cor_sinograms *in, tl_cor_method method, const tl_cor_options *opt,
                      tl_workers *workers, tl_cor_report *report, tl_error *err)
{
    memset(report, 0, sizeof *report);
    report->method = method;
    report->axis = NAN;
    double arc = 0, lo = 0, hi = 0;
    tl_status st;
    if ((unsigned)method >= TL_COR_METHOD_COUNT)
        return tl_error_set(err, TL_ERR_INVALID, "centre search: unknown method %d", (int)method);
    if ((st = tl_cor_check(in, &arc, err)) != TL_OK || (st = tl_cor_window(opt, in->n_cols, &lo, &hi, err)) != TL_OK)
        return st;
    if (method == TL_COR_AUTO) {
        if ((st = find_auto(in, lo, hi, opt, workers, report, err)) != TL_OK)
            return st;
    } else {
        if ((st = run_method(method, in, lo, hi, opt, workers, report, err)) != TL_OK)
            return st;
        const tl_cor_estimate *e = &report->by_method[method];
        if (!e->found)
            return tl_error_set(err, TL_ERR_INVALID, "%s", e->message);
        report->axis = e->axis;
        report->confidence = e->confidence;
        snprintf(report->how, sizeof report->how, "%s", tl_cor_method_name(method));
    }
    if (report->spread > 1.0)
        tl_log_warn("centre search: THE METHODS DISAGREE by %.2f px (%s); check the axis with "
                    "--reconstruction-type try",
                    report->spread, report->how);
    return TL_OK;
}
