/* filter_cpu.c - ramp filtering of sinogram lines with FFTW (float).
 *
 * Plan once, execute many (FFTW's own discipline): tl_filter_plan_create() makes
 * one r2c and one c2r plan for the padded length and a pair of work buffers per
 * worker thread; tl_filter_exec() uses FFTW's new-array execute functions, which
 * are thread-safe, on each thread's buffers and allocates nothing. Planning is
 * serialised with a mutex because the FFTW planner is not thread-safe. Plans
 * come from the FFTW wisdom kept across runs when it has the padded length, else
 * FFTW_ESTIMATE (or FFTW_MEASURE on request); see fftw_wisdom.h.
 */
#include "filter.h"

#include <fftw3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fftw_wisdom.h"

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

void tl_fftw_planner_lock(void) { pthread_mutex_lock(&planner_lock); }
void tl_fftw_planner_unlock(void) { pthread_mutex_unlock(&planner_lock); }

struct tl_filter_plan {
    size_t n_angles, n_cols, n_padded, n_freq;
    float *response; /* [n_angles][n_freq]: window * ramp * angular weight / n_padded */
    int n_threads;
    float **real;           /* per thread [n_padded] */
    fftwf_complex **spectrum; /* per thread [n_freq] */
    fftwf_plan forward, backward;
    tl_workers *workers;
};

void tl_filter_plan_destroy(tl_filter_plan **plan)
{
    if (!plan || !*plan)
        return;
    tl_filter_plan *p = *plan;
    pthread_mutex_lock(&planner_lock);
    if (p->forward)
        fftwf_destroy_plan(p->forward);
    if (p->backward)
        fftwf_destroy_plan(p->backward);
    pthread_mutex_unlock(&planner_lock);
    for (int t = 0; t < p->n_threads; t++) {
        if (p->real)
            fftwf_free(p->real[t]);
        if (p->spectrum)
            fftwf_free(p->spectrum[t]);
    }
    free(p->real);
    free(p->spectrum);
    free(p->response);
    free(p);
    *plan = NULL;
}

static fftwf_plan plan_forward(void *ctx, unsigned flags)
{
    tl_filter_plan *p = ctx;
    return fftwf_plan_dft_r2c_1d((int)p->n_padded, p->real[0], p->spectrum[0], flags);
}

static fftwf_plan plan_backward(void *ctx, unsigned flags)
{
    tl_filter_plan *p = ctx;
    return fftwf_plan_dft_c2r_1d((int)p->n_padded, p->spectrum[0], p->real[0], flags);
}

tl_status tl_filter_plan_create(size_t n_angles, size_t n_cols, tl_filter_window window,
                                const double *weights, tl_workers *workers, tl_filter_plan **out,
                                tl_error *err)
{
    *out = NULL;
    if (n_angles == 0 || n_cols == 0)
        return tl_error_set(err, TL_ERR_INVALID, "filter: empty sinogram (%zu angles x %zu columns)", n_angles,
                            n_cols);
    tl_filter_plan *p = calloc(1, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "filter: out of memory");
    p->n_angles = n_angles;
    p->n_cols = n_cols;
    p->n_padded = tl_filter_padded_size(n_cols);
    p->n_freq = p->n_padded / 2 + 1;
    p->workers = workers;
    p->n_threads = tl_workers_count(workers);

    double *design = malloc(p->n_freq * sizeof *design);
    p->response = malloc(n_angles * p->n_freq * sizeof *p->response);
    p->real = calloc((size_t)p->n_threads, sizeof *p->real);
    p->spectrum = calloc((size_t)p->n_threads, sizeof *p->spectrum);
    if (!design || !p->response || !p->real || !p->spectrum)
        goto fail_nomem;
    for (int t = 0; t < p->n_threads; t++) {
        p->real[t] = fftwf_alloc_real(p->n_padded);
        p->spectrum[t] = fftwf_alloc_complex(p->n_freq);
        if (!p->real[t] || !p->spectrum[t])
            goto fail_nomem;
    }
    tl_filter_design(window, p->n_padded, design);
    for (size_t a = 0; a < n_angles; a++) {
        double scale = (weights ? weights[a] : 1.0) / (double)p->n_padded;
        for (size_t k = 0; k < p->n_freq; k++)
            p->response[a * p->n_freq + k] = (float)(design[k] * scale);
    }
    free(design);
    design = NULL;

    /* from wisdom when it has this length, measured with TOMOLINE_FFTW_MEASURE=1, else estimated
     * (fftw_wisdom.h); the plans' arrays are thread 0's scratch, which measuring may overwrite */
    pthread_mutex_lock(&planner_lock);
    p->forward = tl_fftw_plan_with_wisdom(plan_forward, p);
    p->backward = tl_fftw_plan_with_wisdom(plan_backward, p);
    pthread_mutex_unlock(&planner_lock);
    if (!p->forward || !p->backward) {
        tl_filter_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_INTERNAL, "filter: FFTW could not plan a transform of %zu points",
                            tl_filter_padded_size(n_cols));
    }
    *out = p;
    return TL_OK;

fail_nomem:
    free(design);
    tl_filter_plan_destroy(&p);
    return tl_error_set(err, TL_ERR_NOMEM, "filter: cannot allocate buffers for %zu x %zu sinograms", n_angles,
                        n_cols);
}

typedef struct {
    tl_filter_plan *plan;
    float *data;
    size_t stride;
} exec_ctx;

/* One line through the padded FFT, the response h, and back. */
static void filter_line(const tl_filter_plan *p, float *line, const float *restrict h, float *restrict real,
                        fftwf_complex *restrict spec)
{
    memcpy(real, line, p->n_cols * sizeof *real);
    memset(real + p->n_cols, 0, (p->n_padded - p->n_cols) * sizeof *real);
    fftwf_execute_dft_r2c(p->forward, real, spec);
    for (size_t k = 0; k < p->n_freq; k++) {
        spec[k][0] *= h[k];
        spec[k][1] *= h[k];
    }
    fftwf_execute_dft_c2r(p->backward, spec, real);
    memcpy(line, real, p->n_cols * sizeof *real);
}

static void filter_lines(void *ctx, size_t begin, size_t end, int thread)
{
    exec_ctx *c = ctx;
    tl_filter_plan *p = c->plan;
    for (size_t l = begin; l < end; l++)
        filter_line(p, c->data + l * c->stride, p->response + (l % p->n_angles) * p->n_freq, p->real[thread],
                    p->spectrum[thread]);
}

void tl_filter_exec_projection(tl_filter_plan *plan, float *data, size_t n_lines, size_t stride, size_t angle,
                               int slot)
{
    const float *h = plan->response + (angle % plan->n_angles) * plan->n_freq;
    for (size_t l = 0; l < n_lines; l++)
        filter_line(plan, data + l * stride, h, plan->real[slot], plan->spectrum[slot]);
}

int tl_filter_plan_slots(const tl_filter_plan *plan) { return plan->n_threads; }

void tl_filter_exec(tl_filter_plan *plan, float *data, size_t n_lines, size_t stride)
{
    exec_ctx c = {.plan = plan, .data = data, .stride = stride};
    tl_workers_run(plan->workers, n_lines, 0, filter_lines, &c);
}
