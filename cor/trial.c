/* trial.c - trial reconstructions at candidate axes, reduced sinograms. */
#include "trial.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fbp.h"

struct tl_cor_trial {
    tl_fbp_plan *plan;
    size_t n_rows, n;
};

tl_status tl_cor_trial_create(const tl_cor_sinograms *in, size_t n, tl_filter_window window, tl_algorithm algorithm,
                              tl_workers *workers, tl_cor_trial **out, tl_error *err)
{
    *out = NULL;
    tl_cor_trial *t = calloc(1, sizeof *t);
    if (!t)
        return tl_error_set(err, TL_ERR_NOMEM, "centre search: out of memory");
    t->n_rows = in->n_rows;
    t->n = n ? n : in->n_cols;
    tl_fbp_desc desc = {
        .n_angles = in->n_angles,
        .n_cols = in->n_cols,
        .n = t->n,
        .max_slices = in->n_rows,
        .angles_deg = in->angles_deg,
        .axis = 0.5 * ((double)in->n_cols - 1.0),
        .window = window,
        .backend = TL_BACKEND_CPU,
        .algorithm = algorithm,
    };
    tl_status st = tl_fbp_plan_create(&desc, workers, &t->plan, err);
    if (st == TL_OK) {
        for (size_t r = 0; r < in->n_rows; r++)
            for (size_t i = 0; i < in->n_angles; i++)
                memcpy(tl_fbp_sino_line(t->plan, r, i), in->sino + (r * in->n_angles + i) * in->n_cols,
                       in->n_cols * sizeof(float));
        st = tl_fbp_filter(t->plan, in->n_rows, err);
    }
    if (st != TL_OK) {
        tl_cor_trial_destroy(&t);
        return st;
    }
    *out = t;
    return TL_OK;
}

void tl_cor_trial_destroy(tl_cor_trial **trial)
{
    if (!trial || !*trial)
        return;
    tl_fbp_plan_destroy(&(*trial)->plan);
    free(*trial);
    *trial = NULL;
}

size_t tl_cor_trial_n(const tl_cor_trial *trial) { return trial->n; }

tl_status tl_cor_trial_slices(tl_cor_trial *trial, double axis, float *out, tl_error *err)
{
    return tl_fbp_backproject(trial->plan, trial->n_rows, axis, out, err);
}

tl_status tl_cor_reduce(const tl_cor_sinograms *in, size_t col_bin, size_t angle_step, tl_cor_sinograms *out,
                        tl_error *err)
{
    memset(out, 0, sizeof *out);
    if (col_bin == 0)
        col_bin = 1;
    if (angle_step == 0)
        angle_step = 1;
    size_t cols = in->n_cols / col_bin, angles = (in->n_angles + angle_step - 1) / angle_step;
    float *sino = malloc(in->n_rows * angles * cols * sizeof *sino);
    double *theta = malloc(angles * sizeof *theta);
    if (!sino || !theta) {
        free(sino);
        free(theta);
        return tl_error_set(err, TL_ERR_NOMEM, "centre search: out of memory");
    }
    for (size_t r = 0; r < in->n_rows; r++)
        for (size_t i = 0; i < angles; i++) {
            const float *src = in->sino + (r * in->n_angles + i * angle_step) * in->n_cols;
            float *dst = sino + (r * angles + i) * cols;
            for (size_t j = 0; j < cols; j++) {
                float sum = 0.0f;
                for (size_t b = 0; b < col_bin; b++)
                    sum += src[j * col_bin + b];
                dst[j] = sum / (float)col_bin;
            }
        }
    for (size_t i = 0; i < angles; i++)
        theta[i] = in->angles_deg[i * angle_step];
    *out = (tl_cor_sinograms){.sino = sino, .n_rows = in->n_rows, .n_angles = angles, .n_cols = cols,
                              .angles_deg = theta};
    return TL_OK;
}

void tl_cor_reduced_free(tl_cor_sinograms *reduced)
{
    free((void *)reduced->sino);
    free((void *)reduced->angles_deg);
    memset(reduced, 0, sizeof *reduced);
}

tl_status tl_cor_split_halves(const tl_cor_sinograms *in, size_t r0, size_t nr, tl_cor_sinograms parts[2],
                             int *n_parts, tl_error *err)
{
    double first = INFINITY, last = -INFINITY;
    for (size_t i = 0; i < in->n_angles; i++) {
        first = fmin(first, in->angles_deg[i]);
        last = fmax(last, in->angles_deg[i]);
    }
    double step = (last - first) / (double)(in->n_angles - 1);
    *n_parts = last - first + step >= 360.0 - 0.5 * step ? 2 : 1;
    memset(parts, 0, 2 * sizeof *parts);
    for (int p = 0; p < *n_parts; p++) {
        double a0 = *n_parts == 1 ? -INFINITY : first + 180.0 * p - 0.5 * step;
        double a1 = *n_parts == 1 ? INFINITY : first + 180.0 * (p + 1) - 0.5 * step;
        size_t m = 0;
        for (size_t i = 0; i < in->n_angles; i++)
            m += in->angles_deg[i] >= a0 && in->angles_deg[i] < a1;
        float *sino = malloc(nr * m * in->n_cols * sizeof *sino);
        double *theta = malloc(m * sizeof *theta);
        if (!sino || !theta) {
            free(sino);
            free(theta);
            tl_cor_reduced_free(&parts[0]);
            return tl_error_set(err, TL_ERR_NOMEM, "centre search: out of memory");
        }
        size_t k = 0;
        for (size_t i = 0; i < in->n_angles; i++) {
            if (!(in->angles_deg[i] >= a0 && in->angles_deg[i] < a1))
                continue;
            theta[k] = in->angles_deg[i];
            for (size_t r = 0; r < nr; r++)
                memcpy(sino + (r * m + k) * in->n_cols, in->sino + ((r0 + r) * in->n_angles + i) * in->n_cols,
                       in->n_cols * sizeof(float));
            k++;
        }
        parts[p] = (tl_cor_sinograms){.sino = sino, .n_rows = nr, .n_angles = m, .n_cols = in->n_cols,
                                      .angles_deg = theta};
    }
    return TL_OK;
}

