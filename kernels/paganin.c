/* paganin.c - Paganin et al. 2002 phase retrieval on the CPU (FFTW float); see paganin.h. */
#include "paganin.h"

#include <fftw3.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fftw_wisdom.h"
#include "filter.h" /* tl_fftw_planner_lock */

#define TL_PAGANIN_PI 3.14159265358979323846

size_t tl_fft_good_size(size_t n)
{
    if (n < 2)
        n = 2;
    for (size_t m = n + (n & 1);; m += 2) { /* even: FFTW's real transforms are about 2x faster (bench) */
        size_t r = m;
        static const size_t primes[] = {2, 3, 5, 7};
        for (int i = 0; i < 4; i++)
            while (r % primes[i] == 0)
                r /= primes[i];
        if (r == 1)
            return m;
    }
}

double tl_xray_wavelength_m(double energy_kev) { return TL_HC_KEV_M / energy_kev; }

double tl_paganin_coefficient(const tl_paganin_params *p)
{
    double lambda = tl_xray_wavelength_m(p->energy_kev);
    return TL_PAGANIN_PI * lambda * p->distance_m * p->delta_beta / (p->pixel_size_m * p->pixel_size_m);
}

double tl_paganin_response(double coefficient, double fy, double fx)
{
    return 1.0 / (1.0 + coefficient * (fx * fx + fy * fy));
}

size_t tl_paganin_margin(double coefficient)
{
    if (!(coefficient > 0.0))
        return 0;
    double l = sqrt(coefficient) / (2.0 * TL_PAGANIN_PI);
    return (size_t)ceil(l * log(1.0 / TL_PAGANIN_TAIL));
}

struct tl_paganin_plan {
    size_t max_rows, n_cols, n_pr, n_pc, n_freq; /* padded rows, columns; n_pc / 2 + 1 */
    size_t stride;                               /* floats per padded row in place: 2 n_freq */
    float *response;                             /* [n_pr][n_freq], H / (n_pr n_pc) */
    size_t *col_map;                             /* [n_pc]: padded column -> frame column */
    int n_threads;
    float **buf; /* per thread [n_pr][stride] */
    fftwf_plan forward, backward;
    size_t bytes;
    tl_workers *workers;
};

/* Half-sample mirror reflection of i into [0, n): ... 1 0 | 0 1 ... n-1 | n-1 n-2 ... */
static size_t reflect(ptrdiff_t i, size_t n)
{
    ptrdiff_t period = 2 * (ptrdiff_t)n, m = i % period;
    if (m < 0)
        m += period;
    return m < (ptrdiff_t)n ? (size_t)m : (size_t)(period - 1 - m);
}

void tl_paganin_plan_destroy(tl_paganin_plan **plan)
{
    if (!plan || !*plan)
        return;
    tl_paganin_plan *p = *plan;
    tl_fftw_planner_lock();
    if (p->forward)
        fftwf_destroy_plan(p->forward);
    if (p->backward)
        fftwf_destroy_plan(p->backward);
    tl_fftw_planner_unlock();
    for (int t = 0; p->buf && t < p->n_threads; t++)
        fftwf_free(p->buf[t]);
    free(p->buf);
    free(p->response);
    free(p->col_map);
    free(p);
    *plan = NULL;
}

static fftwf_plan plan_forward(void *ctx, unsigned flags)
{
    tl_paganin_plan *p = ctx;
    return fftwf_plan_dft_r2c_2d((int)p->n_pr, (int)p->n_pc, p->buf[0], (fftwf_complex *)p->buf[0], flags);
}

static fftwf_plan plan_backward(void *ctx, unsigned flags)
{
    tl_paganin_plan *p = ctx;
    return fftwf_plan_dft_c2r_2d((int)p->n_pr, (int)p->n_pc, (fftwf_complex *)p->buf[0], p->buf[0], flags);
}

tl_status tl_paganin_plan_create(const tl_paganin_desc *d, tl_workers *workers, tl_paganin_plan **out,
                                 tl_error *err)
{
    *out = NULL;
    if (d->max_rows == 0 || d->n_cols == 0)
        return tl_error_set(err, TL_ERR_INVALID, "phase retrieval: empty frames (%zu x %zu)", d->max_rows, d->n_cols);
    if (!(d->coefficient > 0.0) || !isfinite(d->coefficient))
        return tl_error_set(err, TL_ERR_INVALID,
                            "phase retrieval: the filter coefficient pi lambda z (delta/beta) / pixel^2 is %g, "
                            "it must be a positive number",
                            d->coefficient);
    size_t margin = tl_paganin_margin(d->coefficient);
    size_t n_pr = d->padded_rows ? d->padded_rows : tl_fft_good_size(d->max_rows + 2 * margin);
    size_t n_pc = d->padded_cols ? d->padded_cols : tl_fft_good_size(d->n_cols + 2 * margin);
    if (n_pr < d->max_rows + 2 || n_pc < d->n_cols + 2 || n_pr > (1u << 20) || n_pc > (1u << 20))
        return tl_error_set(err, TL_ERR_INVALID,
                            "phase retrieval: padded frame %zu x %zu for frames of %zu x %zu (it must be at least "
                            "2 larger and at most 1048576 in each direction; the filter's kernel is %zu pixels "
                            "long: lower --propagation-distance or --retrieve-phase-delta-beta?)",
                            n_pr, n_pc, d->max_rows, d->n_cols, margin);
    tl_paganin_plan *p = calloc(1, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "phase retrieval: out of memory");
    p->max_rows = d->max_rows;
    p->n_cols = d->n_cols;
    p->n_pr = n_pr;
    p->n_pc = n_pc;
    p->n_freq = n_pc / 2 + 1;
    p->stride = 2 * p->n_freq;
    p->workers = workers;
    p->n_threads = tl_workers_count(workers);
    p->response = malloc(n_pr * p->n_freq * sizeof *p->response);
    p->col_map = malloc(n_pc * sizeof *p->col_map);
    p->buf = calloc((size_t)p->n_threads, sizeof *p->buf);
    int ok = p->response && p->col_map && p->buf;
    for (int t = 0; ok && t < p->n_threads; t++)
        ok = (p->buf[t] = fftwf_alloc_real(n_pr * p->stride)) != NULL;
    if (!ok) {
        tl_paganin_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_NOMEM,
                            "phase retrieval: cannot allocate %d padded frames of %zu x %zu (%.1f MiB each)",
                            tl_workers_count(workers), n_pr, n_pc, (double)(n_pr * 2 * (n_pc / 2 + 1)) * 4.0 / 1048576.0);
    }
    p->bytes = (size_t)p->n_threads * n_pr * p->stride * sizeof(float) + n_pr * p->n_freq * sizeof(float) +
               n_pc * sizeof(size_t);
    const double norm = 1.0 / ((double)n_pr * (double)n_pc);
    for (size_t ky = 0; ky < n_pr; ky++) {
        double fy = (double)(ky <= n_pr / 2 ? (ptrdiff_t)ky : (ptrdiff_t)ky - (ptrdiff_t)n_pr) / (double)n_pr;
        for (size_t kx = 0; kx < p->n_freq; kx++)
            p->response[ky * p->n_freq + kx] =
                (float)(tl_paganin_response(d->coefficient, fy, (double)kx / (double)n_pc) * norm);
    }
    const size_t left = (n_pc - d->n_cols) / 2;
    for (size_t j = 0; j < n_pc; j++)
        p->col_map[j] = reflect((ptrdiff_t)j - (ptrdiff_t)left, d->n_cols);

    tl_fftw_planner_lock();
    p->forward = tl_fftw_plan_with_wisdom(plan_forward, p);
    p->backward = tl_fftw_plan_with_wisdom(plan_backward, p);
    tl_fftw_planner_unlock();
    if (!p->forward || !p->backward) {
        tl_paganin_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_INTERNAL, "phase retrieval: FFTW could not plan a %zu x %zu transform", n_pr,
                            n_pc);
    }
    *out = p;
    return TL_OK;
}

size_t tl_paganin_plan_bytes(const tl_paganin_plan *plan) { return plan ? plan->bytes : 0; }
int tl_paganin_plan_slots(const tl_paganin_plan *plan) { return plan->n_threads; }

void tl_paganin_plan_padded(const tl_paganin_plan *plan, size_t *rows, size_t *cols)
{
    *rows = plan->n_pr;
    *cols = plan->n_pc;
}

void tl_paganin_frame(tl_paganin_plan *p, float *frame, size_t n_rows, int slot)
{
    if (n_rows == 0 || n_rows > p->max_rows)
        return;
    float *buf = p->buf[slot];
    const size_t nc = p->n_cols, top = (p->n_pr - n_rows) / 2, left = (p->n_pc - nc) / 2;
    for (size_t i = 0; i < p->n_pr; i++) {
        const float *src = frame + reflect((ptrdiff_t)i - (ptrdiff_t)top, n_rows) * nc;
        float *dst = buf + i * p->stride;
        for (size_t j = 0; j < left; j++)
            dst[j] = src[p->col_map[j]];
        memcpy(dst + left, src, nc * sizeof *dst);
        for (size_t j = left + nc; j < p->n_pc; j++)
            dst[j] = src[p->col_map[j]];
    }
    fftwf_complex *spec = (fftwf_complex *)buf;
    fftwf_execute_dft_r2c(p->forward, buf, spec);
    const size_t n_spec = p->n_pr * p->n_freq;
    for (size_t k = 0; k < n_spec; k++) {
        spec[k][0] *= p->response[k];
        spec[k][1] *= p->response[k];
    }
    fftwf_execute_dft_c2r(p->backward, spec, buf);
    for (size_t i = 0; i < n_rows; i++)
        memcpy(frame + i * nc, buf + (top + i) * p->stride + left, nc * sizeof *frame);
}

typedef struct {
    tl_paganin_plan *plan;
    float *frames;
    size_t n_rows;
} exec_ctx;

static void filter_frames(void *ctx, size_t begin, size_t end, int thread)
{
    exec_ctx *c = ctx;
    for (size_t f = begin; f < end; f++)
        tl_paganin_frame(c->plan, c->frames + f * c->n_rows * c->plan->n_cols, c->n_rows, thread);
}

void tl_paganin_exec(tl_paganin_plan *plan, float *frames, size_t n_frames, size_t n_rows)
{
    exec_ctx c = {.plan = plan, .frames = frames, .n_rows = n_rows};
    tl_workers_run(plan->workers, n_frames, 1, filter_frames, &c);
}
