/* dezinger.c - median-based zinger removal (see dezinger.h for the method and its references). */
#include "dezinger.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

size_t tl_dezinger_margin(size_t size) { return size > 1 ? (size - 1) / 2 : 0; }

size_t tl_dezinger_scratch_floats(size_t n_rows, size_t n_cols, size_t size)
{
    return (n_rows + 1) * n_cols + size * size;
}

/* The smaller of m and x, ignoring a NaN x: one vector min instruction. */
static inline float min_keep(float m, float x) { return x < m ? x : m; }

size_t tl_dezinger_frame(const float *in, float *out, size_t n_rows, size_t n_cols, size_t row_begin, size_t row_end,
                         size_t size, float threshold, float *scratch, size_t *row_counts)
{
    if (row_end > n_rows)
        row_end = n_rows;
    if (row_begin >= row_end || n_cols == 0)
        return 0;
    const size_t h = tl_dezinger_margin(size);
    float *hmin = scratch;                          /* [n_rows][n_cols]: minimum along each row's window */
    float *vmin = scratch + n_rows * n_cols;        /* [n_cols]: minimum over the whole window, one row */
    float *window = vmin + n_cols;                  /* [size * size] */
    const size_t r_lo = row_begin > h ? row_begin - h : 0;
    const size_t r_hi = row_end + h < n_rows ? row_end + h : n_rows;
    /* Minima with NaN left out (a NaN becomes +inf, then never wins), in loops the compiler vectorises. */
    for (size_t r = r_lo; r < r_hi; r++) {
        const float *src = in + r * n_cols;
        float *dst = hmin + r * n_cols;
        for (size_t c = 0; c < n_cols; c++)
            dst[c] = src[c] == src[c] ? src[c] : INFINITY;
        for (size_t k = 1; k <= h && k < n_cols; k++) {
            for (size_t c = 0; c + k < n_cols; c++)
                dst[c] = min_keep(dst[c], src[c + k]);
            for (size_t c = k; c < n_cols; c++)
                dst[c] = min_keep(dst[c], src[c - k]);
        }
    }
    size_t replaced = 0;
    for (size_t r = row_begin; r < row_end; r++) {
        const size_t w0 = r > h ? r - h : 0, w1 = r + h < n_rows ? r + h : n_rows - 1;
        memcpy(vmin, hmin + w0 * n_cols, n_cols * sizeof *vmin);
        for (size_t k = w0 + 1; k <= w1; k++) {
            const float *row = hmin + k * n_cols;
            for (size_t c = 0; c < n_cols; c++)
                vmin[c] = min_keep(vmin[c], row[c]);
        }
        const float *src = in + r * n_cols;
        float *dst = out + r * n_cols;
        memcpy(dst, src, n_cols * sizeof *dst);
        size_t in_row = 0;
        for (size_t c = 0; c < n_cols; c++) {
            const float v = src[c];
            /* the median is >= the minimum: most values stop here (a non-finite v too: inf - inf is NaN) */
            if (!(v - vmin[c] > threshold) || !isfinite(v))
                continue;
            const size_t c0 = c > h ? c - h : 0, c1 = c + h < n_cols ? c + h : n_cols - 1;
            size_t m = 0;
            for (size_t k = w0; k <= w1; k++)
                for (size_t j = c0; j <= c1; j++) {
                    float x = in[k * n_cols + j];
                    if (isfinite(x))
                        window[m++] = x;
                }
            const float median = tl_select(window, m, (m - 1) / 2);
            if (v - median > threshold) {
                dst[c] = median;
                in_row++;
            }
        }
        replaced += in_row;
        if (row_counts)
            row_counts[r] += in_row;
    }
    return replaced;
}

struct tl_dezinger_plan {
    size_t max_rows, n_cols, size;
    float threshold;
    int n_threads;
    float **copy;    /* per thread [max_rows * n_cols] */
    float **scratch; /* per thread [tl_dezinger_scratch_floats] */
    size_t *counts;  /* per thread, for one exec */
    size_t **rows;   /* per thread [max_rows], for one exec */
    size_t bytes;
    tl_workers *workers;
};

void tl_dezinger_plan_destroy(tl_dezinger_plan **plan)
{
    if (!plan || !*plan)
        return;
    tl_dezinger_plan *p = *plan;
    for (int t = 0; t < p->n_threads; t++) {
        if (p->copy)
            free(p->copy[t]);
        if (p->scratch)
            free(p->scratch[t]);
        if (p->rows)
            free(p->rows[t]);
    }
    free(p->rows);
    free(p->copy);
    free(p->scratch);
    free(p->counts);
    free(p);
    *plan = NULL;
}

tl_status tl_dezinger_plan_create(size_t max_rows, size_t n_cols, size_t size, double threshold, tl_workers *workers,
                                  tl_dezinger_plan **out, tl_error *err)
{
    *out = NULL;
    if (size < 3 || size > TL_DEZINGER_MAX_SIZE || size % 2 == 0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--dezinger %zu: the median window must be odd, from 3 to %d (0 turns it off)", size,
                            TL_DEZINGER_MAX_SIZE);
    if (!(threshold >= 0.0) || !isfinite(threshold))
        return tl_error_set(err, TL_ERR_INVALID, "--dezinger-threshold %g: must be a number >= 0 (raw counts)",
                            threshold);
    if (max_rows == 0 || n_cols == 0)
        return tl_error_set(err, TL_ERR_INVALID, "dezinger: empty frames (%zu x %zu)", max_rows, n_cols);
    tl_dezinger_plan *p = calloc(1, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "dezinger: out of memory");
    p->max_rows = max_rows;
    p->n_cols = n_cols;
    p->size = size;
    p->threshold = (float)threshold;
    p->workers = workers;
    p->n_threads = tl_workers_count(workers);
    p->copy = calloc((size_t)p->n_threads, sizeof *p->copy);
    p->scratch = calloc((size_t)p->n_threads, sizeof *p->scratch);
    p->counts = calloc((size_t)p->n_threads, sizeof *p->counts);
    p->rows = calloc((size_t)p->n_threads, sizeof *p->rows);
    int ok = p->copy && p->scratch && p->counts && p->rows;
    size_t frame = max_rows * n_cols, extra = tl_dezinger_scratch_floats(max_rows, n_cols, size);
    for (int t = 0; ok && t < p->n_threads; t++) {
        p->copy[t] = malloc(frame * sizeof(float));
        p->scratch[t] = malloc(extra * sizeof(float));
        p->rows[t] = calloc(max_rows, sizeof(size_t));
        ok = p->copy[t] && p->scratch[t] && p->rows[t];
    }
    if (!ok) {
        tl_dezinger_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_NOMEM, "dezinger: cannot allocate %d x %.1f MiB of frame buffers",
                            tl_workers_count(workers), (double)(frame + extra) * 4.0 / 1048576.0);
    }
    p->bytes = (size_t)p->n_threads * ((frame + extra) * sizeof(float) + max_rows * sizeof(size_t));
    *out = p;
    return TL_OK;
}

size_t tl_dezinger_plan_bytes(const tl_dezinger_plan *plan) { return plan ? plan->bytes : 0; }

typedef struct {
    tl_dezinger_plan *plan;
    float *frames;
    size_t n_rows, row_begin, row_end;
} exec_ctx;

static void dezinger_frames(void *ctx, size_t begin, size_t end, int thread)
{
    exec_ctx *c = ctx;
    tl_dezinger_plan *p = c->plan;
    const size_t frame = c->n_rows * p->n_cols;
    for (size_t f = begin; f < end; f++) {
        float *data = c->frames + f * frame;
        memcpy(p->copy[thread], data, frame * sizeof(float));
        p->counts[thread] += tl_dezinger_frame(p->copy[thread], data, c->n_rows, p->n_cols, c->row_begin, c->row_end,
                                               p->size, p->threshold, p->scratch[thread], p->rows[thread]);
    }
}

size_t tl_dezinger_exec(tl_dezinger_plan *plan, float *frames, size_t n_frames, size_t n_rows, size_t row_begin,
                        size_t row_end, size_t *row_counts)
{
    if (!plan || n_frames == 0 || n_rows == 0 || n_rows > plan->max_rows)
        return 0;
    for (int t = 0; t < plan->n_threads; t++) {
        plan->counts[t] = 0;
        memset(plan->rows[t], 0, n_rows * sizeof(size_t));
    }
    exec_ctx c = {.plan = plan, .frames = frames, .n_rows = n_rows, .row_begin = row_begin, .row_end = row_end};
    tl_workers_run(plan->workers, n_frames, 1, dezinger_frames, &c);
    size_t total = 0;
    for (int t = 0; t < plan->n_threads; t++) {
        total += plan->counts[t];
        for (size_t r = 0; row_counts && r < n_rows; r++)
            row_counts[r] += plan->rows[t][r];
    }
    return total;
}
