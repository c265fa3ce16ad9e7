/* fresnel.c - Fresnel propagation of a single-material exit wave (see fresnel.h). */
#include "fresnel.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fftw_wisdom.h"
#include "filter.h" /* tl_fftw_planner_lock */
#include "paganin.h" /* tl_fft_good_size */

#define TL_FRESNEL_PI 3.14159265358979323846

struct tl_fresnel_plan {
    size_t n_rows, n_cols, n_pr, n_pc; /* padded: 2 n_rows, good size >= 2 n_cols */
    double delta_beta;
    fftwf_complex *propagator; /* [n_pr][n_pc], divided by n_pr n_pc */
    int n_threads;
    fftwf_complex **buf;       /* per thread [n_pr][n_pc] */
    fftwf_plan forward, backward;
    size_t bytes;
};

void tl_fresnel_plan_destroy(tl_fresnel_plan **plan)
{
    if (!plan || !*plan)
        return;
    tl_fresnel_plan *p = *plan;
    tl_fftw_planner_lock();
    if (p->forward)
        fftwf_destroy_plan(p->forward);
    if (p->backward)
        fftwf_destroy_plan(p->backward);
    tl_fftw_planner_unlock();
    for (int t = 0; p->buf && t < p->n_threads; t++)
        fftwf_free(p->buf[t]);
    free(p->buf);
    fftwf_free(p->propagator);
    free(p);
    *plan = NULL;
}

static fftwf_plan plan_forward(void *ctx, unsigned flags)
{
    tl_fresnel_plan *p = ctx;
    return fftwf_plan_dft_2d((int)p->n_pr, (int)p->n_pc, p->buf[0], p->buf[0], FFTW_FORWARD, flags);
}

static fftwf_plan plan_backward(void *ctx, unsigned flags)
{
    tl_fresnel_plan *p = ctx;
    return fftwf_plan_dft_2d((int)p->n_pr, (int)p->n_pc, p->buf[0], p->buf[0], FFTW_BACKWARD, flags);
}

tl_status tl_fresnel_plan_create(size_t n_rows, size_t n_cols, double fresnel, double row_pitch, double delta_beta,
                                 tl_workers *workers, tl_fresnel_plan **out, tl_error *err)
{
    *out = NULL;
    if (n_rows == 0 || n_cols == 0 || !(fresnel >= 0.0) || !isfinite(fresnel) || !(row_pitch > 0.0) ||
        !isfinite(row_pitch) || !(delta_beta >= 0.0) || !isfinite(delta_beta))
        return tl_error_set(err, TL_ERR_INVALID,
                            "propagation: frames of %zu x %zu, lambda z / pixel^2 = %g, row pitch %g, delta/beta %g "
                            "(sizes must be positive, the others finite and >= 0, the pitch > 0)",
                            n_rows, n_cols, fresnel, row_pitch, delta_beta);
    tl_fresnel_plan *p = calloc(1, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "propagation: out of memory");
    p->n_rows = n_rows;
    p->n_cols = n_cols;
    p->n_pr = 2 * n_rows;
    p->n_pc = tl_fft_good_size(2 * n_cols);
    p->delta_beta = delta_beta;
    p->n_threads = tl_workers_count(workers);
    const size_t n = p->n_pr * p->n_pc;
    p->propagator = fftwf_alloc_complex(n);
    p->buf = calloc((size_t)p->n_threads, sizeof *p->buf);
    int ok = p->propagator && p->buf;
    for (int t = 0; ok && t < p->n_threads; t++)
        ok = (p->buf[t] = fftwf_alloc_complex(n)) != NULL;
    if (!ok) {
        tl_fresnel_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_NOMEM, "propagation: cannot allocate %d padded frames of %zu x %zu",
                            tl_workers_count(workers), 2 * n_rows, tl_fft_good_size(2 * n_cols));
    }
    p->bytes = (size_t)(p->n_threads + 1) * n * sizeof(fftwf_complex);
    const double norm = 1.0 / (double)n;
    for (size_t ky = 0; ky < p->n_pr; ky++) {
        double fy = (double)(ky <= p->n_pr / 2 ? (ptrdiff_t)ky : (ptrdiff_t)ky - (ptrdiff_t)p->n_pr) /
                    (double)p->n_pr / row_pitch;
        for (size_t kx = 0; kx < p->n_pc; kx++) {
            double fx = (double)(kx <= p->n_pc / 2 ? (ptrdiff_t)kx : (ptrdiff_t)kx - (ptrdiff_t)p->n_pc) /
                        (double)p->n_pc;
            double phase = -TL_FRESNEL_PI * fresnel * (fx * fx + fy * fy);
            p->propagator[ky * p->n_pc + kx][0] = (float)(cos(phase) * norm);
            p->propagator[ky * p->n_pc + kx][1] = (float)(sin(phase) * norm);
        }
    }
    tl_fftw_planner_lock();
    p->forward = tl_fftw_plan_with_wisdom(plan_forward, p);
    p->backward = tl_fftw_plan_with_wisdom(plan_backward, p);
    tl_fftw_planner_unlock();
    if (!p->forward || !p->backward) {
        tl_fresnel_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_INTERNAL, "propagation: FFTW could not plan a %zu x %zu transform",
                            2 * n_rows, tl_fft_good_size(2 * n_cols));
    }
    *out = p;
    return TL_OK;
}

size_t tl_fresnel_plan_bytes(const tl_fresnel_plan *plan) { return plan ? plan->bytes : 0; }

void tl_fresnel_exec(tl_fresnel_plan *p, const float *in, float *intensity, int slot)
{
    fftwf_complex *buf = p->buf[slot];
    const size_t nr = p->n_rows, nc = p->n_cols, left = (p->n_pc - nc) / 2;
    const double half = 0.5, db = p->delta_beta;
    /* rows 0..nr-1 are the frame, rows nr..2nr-1 its mirror image (periodic with 2 nr) */
    for (size_t i = 0; i < p->n_pr; i++) {
        const float *src = in + (i < nr ? i : 2 * nr - 1 - i) * nc;
        fftwf_complex *dst = buf + i * p->n_pc;
        for (size_t j = 0; j < p->n_pc; j++) {
            if (j < left || j >= left + nc) {
                dst[j][0] = 1.0f; /* open beam */
                dst[j][1] = 0.0f;
                continue;
            }
            double v = (double)src[j - left], amp = exp(-half * v), phase = -half * db * v;
            dst[j][0] = (float)(amp * cos(phase));
            dst[j][1] = (float)(amp * sin(phase));
        }
    }
    fftwf_execute_dft(p->forward, buf, buf);
    const size_t n = p->n_pr * p->n_pc;
    for (size_t k = 0; k < n; k++) {
        float re = buf[k][0], im = buf[k][1], pr = p->propagator[k][0], pi = p->propagator[k][1];
        buf[k][0] = re * pr - im * pi;
        buf[k][1] = re * pi + im * pr;
    }
    fftwf_execute_dft(p->backward, buf, buf);
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < nc; j++) {
            const fftwf_complex *v = buf + i * p->n_pc + left + j;
            intensity[i * nc + j] = (*v)[0] * (*v)[0] + (*v)[1] * (*v)[1];
        }
}
