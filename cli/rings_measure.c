/* rings_measure.c - the ring-artefact figure of merit (see rings_measure.h). */
#include "rings_measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fbp.h"
#include "log.h"
#include "rng.h"

void tl_rings_scan_default(tl_rings_scan *scan)
{
    memset(scan, 0, sizeof *scan);
    scan->size = 256;
    scan->angles = 360;
    scan->rows = 4;
    scan->arc_deg = 180.0;
    scan->phantom = TL_PHANTOM_SHEPP_LOGAN;
    scan->photons = 20000.0;
    scan->gain_error = 0.002;
    scan->defective_columns = 4;
    scan->defect_strength = 0.1;
    scan->defect_fraction = 1.0;
    scan->seed = 1;
}

/* Streams of the generator, so noise and gain maps never shift each other. */
enum { STREAM_NOISE = 101, STREAM_GAIN = 102, STREAM_DEFECTS = 103 };

/* The clean noisy sinograms and the same with gain stripes, [rows][angles][W]. */
static void make_sinograms(const tl_rings_scan *s, const tl_phantom *ph, const double *angles, float *clean,
                           float *rings, double *offsets)
{
    size_t w = s->size, na = s->angles;
    tl_rng defects;
    tl_rng_seed_stream(&defects, s->seed, STREAM_DEFECTS, 0);
    double *defect = offsets; /* reused below per row; first the defect map */
    for (size_t j = 0; j < w; j++)
        defect[j] = 0.0;
    for (size_t k = 0; k < s->defective_columns && k < w; k++) {
        size_t j;
        do
            j = (size_t)tl_rng_below(&defects, w);
        while (defect[j] != 0.0);
        defect[j] = (tl_rng_next(&defects) >> 63) ? s->defect_strength : -s->defect_strength;
    }
    double *column = offsets + w;
    size_t partial_end = (size_t)(s->defect_fraction * (double)na + 0.5);
    for (size_t r = 0; r < s->rows; r++) {
        float *c = clean + r * na * w, *g = rings + r * na * w;
        tl_phantom_project_row(ph, r, angles, na, c);
        tl_rng noise, gain;
        tl_rng_seed_stream(&noise, s->seed, STREAM_NOISE, r);
        tl_rng_seed_stream(&gain, s->seed, STREAM_GAIN, r);
        double *small = column + w; /* the small errors alone, for angles past defect_fraction */
        for (size_t j = 0; j < w; j++) {
            double e = s->gain_error * tl_rng_normal(&gain);
            column[j] = -log(fmax(1.0 + e + defect[j], 0.05));
            small[j] = -log(fmax(1.0 + e, 0.05));
        }
        for (size_t i = 0; i < na * w; i++) {
            double p = c[i];
            if (s->photons > 0.0) {
                double counts = tl_rng_poisson(&noise, s->photons * exp(-p));
                p = -log(fmax(counts, 0.5) / s->photons);
            }
            c[i] = (float)p;
            g[i] = (float)(p + (i / w < partial_end ? column[i % w] : small[i % w]));
        }
    }
}

tl_status tl_rings_measure(const tl_rings_scan *s, const tl_rings_params *params, tl_workers *workers,
                           tl_rings_score *out, tl_error *err)
{
    memset(out, 0, sizeof *out);
    if (s->size < 8 || s->angles < 2 || s->rows < 1)
        return tl_error_set(err, TL_ERR_INVALID, "ring measure: scan too small (%zu wide, %zu angles, %zu rows)",
                            s->size, s->angles, s->rows);
    size_t w = s->size, na = s->angles, rows = s->rows, n = w;
    size_t sino_count = rows * na * w, slice_count = rows * n * n;
    tl_status st;
    tl_phantom *ph = NULL;
    tl_fbp_plan *fbp = NULL;
    tl_rings_plan *rp = NULL;
    double *angles = malloc(na * sizeof *angles);
    double *offsets = malloc(3 * w * sizeof *offsets);
    float *clean = malloc(sino_count * sizeof *clean), *rings = malloc(sino_count * sizeof *rings);
    float *work = malloc(sino_count * sizeof *work);
    float *truth = malloc(slice_count * sizeof *truth);
    float *rec[4] = {NULL}; /* R(clean), R(rings), R_M(clean), R_M(rings) */
    for (int k = 0; k < 4; k++)
        rec[k] = malloc(slice_count * sizeof(float));
    if (!angles || !offsets || !clean || !rings || !work || !truth || !rec[0] || !rec[1] || !rec[2] || !rec[3]) {
        st = tl_error_set(err, TL_ERR_NOMEM, "ring measure: out of memory");
        goto done;
    }
    for (size_t i = 0; i < na; i++)
        angles[i] = s->arc_deg * (double)i / (double)na;
    double axis = 0.5 * (double)(w - 1);
    if ((st = tl_phantom_create(s->phantom, w, rows, axis, 12, s->seed, &ph, err)) != TL_OK)
        goto done;
    make_sinograms(s, ph, angles, clean, rings, offsets);
    for (size_t r = 0; r < rows; r++)
        tl_phantom_slice(ph, r, truth + r * n * n);

    tl_fbp_desc desc = {.n_angles = na, .n_cols = w, .n = n, .max_slices = rows, .angles_deg = angles,
                        .axis = axis, .window = TL_FILTER_RAMP, .backend = TL_BACKEND_CPU};
    if ((st = tl_fbp_plan_create(&desc, workers, &fbp, err)) != TL_OK ||
        (st = tl_rings_plan_create(params, na, w, workers, &rp, err)) != TL_OK)
        goto done;
    if ((st = tl_fbp_exec_copy(fbp, clean, rows, rec[0], err)) != TL_OK ||
        (st = tl_fbp_exec_copy(fbp, rings, rows, rec[1], err)) != TL_OK)
        goto done;
    double seconds = 0.0;
    for (int k = 0; k < 2; k++) {
        memcpy(work, k == 0 ? clean : rings, sino_count * sizeof *work);
        double t0 = tl_now();
        tl_rings_exec(rp, work, rows, w);
        seconds += tl_now() - t0;
        if ((st = tl_fbp_exec_copy(fbp, work, rows, rec[2 + k], err)) != TL_OK)
            goto done;
    }
    out->seconds_per_sinogram = seconds / (double)(2 * rows);

    /* sums of squares inside the inscribed disk */
    double ss_ring = 0, ss_ring_m = 0, ss_truth = 0, ss_err = 0, ss_err_m = 0, ss_change = 0;
    double c0 = 0.5 * (double)(n - 1), radius = 0.5 * (double)n - 1.0;
    for (size_t r = 0; r < rows; r++)
        for (size_t y = 0; y < n; y++)
            for (size_t x = 0; x < n; x++) {
                double dx = (double)x - c0, dy = (double)y - c0;
                if (dx * dx + dy * dy > radius * radius)
                    continue;
                size_t i = (r * n + y) * n + x;
                double t = truth[i];
                double a = rec[1][i] - rec[0][i], b = rec[3][i] - rec[2][i];
                ss_ring += a * a;
                ss_ring_m += b * b;
                ss_truth += t * t;
                ss_err += (rec[0][i] - t) * (rec[0][i] - t);
                ss_err_m += (rec[2][i] - t) * (rec[2][i] - t);
                ss_change += (rec[2][i] - rec[0][i]) * (rec[2][i] - rec[0][i]);
            }
    out->removed = ss_ring > 0 ? 1.0 - sqrt(ss_ring_m / ss_ring) : 0.0;
    out->clean_error_none = sqrt(ss_err / ss_truth);
    out->clean_error = sqrt(ss_err_m / ss_truth);
    out->clean_added = out->clean_error / out->clean_error_none - 1.0;
    out->clean_change = sqrt(ss_change / ss_err);
    out->ring_norm = sqrt(ss_ring / ss_truth);
    st = TL_OK;
done:
    tl_rings_plan_destroy(&rp);
    tl_fbp_plan_destroy(&fbp);
    tl_phantom_destroy(&ph);
    for (int k = 0; k < 4; k++)
        free(rec[k]);
    free(truth);
    free(work);
    free(rings);
    free(clean);
    free(offsets);
    free(angles);
    return st;
}
