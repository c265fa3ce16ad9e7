/* normalize_cpu.c - dark/flat correction, -log, and the policy of normalize.h. */
#include "normalize.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    float *proj;
    size_t n_rows, n_cols;
    const float *gain; /* 1 / (F - D), 0 for dead pixels */
    const float *dark;
    int minus_log;
    atomic_size_t n_floored;
    atomic_size_t first_bad; /* flat index of the first non-finite value, or SIZE_MAX */
} norm_ctx;

static void normalize_frames(void *p, size_t begin, size_t end, int thread)
{
    (void)thread;
    norm_ctx *c = p;
    size_t frame_size = c->n_rows * c->n_cols;
    size_t floored = 0;
    for (size_t f = begin; f < end; f++) {
        float *restrict v = c->proj + f * frame_size;
        const float *restrict gain = c->gain;
        const float *restrict dark = c->dark;
        for (size_t i = 0; i < frame_size; i++) {
            float raw = v[i];
            if (!isfinite(raw)) {
                size_t at = f * frame_size + i, cur = atomic_load(&c->first_bad);
                while (at < cur && !atomic_compare_exchange_weak(&c->first_bad, &cur, at))
                    ;
                v[i] = 0.0f;
                continue;
            }
            float t = gain[i] == 0.0f ? 1.0f : (raw - dark[i]) * gain[i];
            if (!(t > TL_NORMALIZE_FLOOR)) {
                t = TL_NORMALIZE_FLOOR;
                floored++;
            }
            v[i] = c->minus_log ? -logf(t) : t;
        }
    }
    atomic_fetch_add(&c->n_floored, floored);
}

tl_status tl_normalize_cpu(float *proj, size_t n_proj, size_t n_rows, size_t n_cols, const float *flat,
                           const float *dark, int minus_log, size_t row_offset, tl_workers *workers,
                           tl_normalize_stats *stats, tl_error *err)
{
    size_t frame_size = n_rows * n_cols;
    float *gain = malloc(frame_size * sizeof *gain);
    if (!gain)
        return tl_error_set(err, TL_ERR_NOMEM, "normalize: cannot allocate %zu x %zu gain table", n_rows, n_cols);

    size_t n_dead = 0, first_dead = (size_t)-1;
    for (size_t i = 0; i < frame_size; i++) {
        if (!isfinite(flat[i]) || !isfinite(dark[i])) {
            free(gain);
            return tl_error_set(err, TL_ERR_DATA,
                                "the mean %s at detector row %zu, column %zu is not a finite number (NaN or "
                                "infinite pixels in the %s frames)",
                                isfinite(flat[i]) ? "dark" : "flat", row_offset + i / n_cols, i % n_cols,
                                isfinite(flat[i]) ? "dark" : "flat");
        }
        float range = flat[i] - dark[i];
        if (range > 0.0f) {
            gain[i] = 1.0f / range;
        } else {
            gain[i] = 0.0f;
            if (n_dead++ == 0)
                first_dead = i;
        }
    }
    if (n_dead > TL_NORMALIZE_MAX_DEAD_FRACTION * (double)frame_size) {
        tl_status st = tl_error_set(
            err, TL_ERR_DATA,
            "flats are not brighter than darks at %zu of %zu detector pixels in rows %zu..%zu (first at row "
            "%zu, column %zu: flat %g, dark %g); at most %g%% may be dead. Are flats and darks swapped?",
            n_dead, frame_size, row_offset, row_offset + n_rows - 1, row_offset + first_dead / n_cols,
            first_dead % n_cols, (double)flat[first_dead], (double)dark[first_dead],
            100.0 * TL_NORMALIZE_MAX_DEAD_FRACTION);
        free(gain);
        return st;
    }

    norm_ctx c = {.proj = proj, .n_rows = n_rows, .n_cols = n_cols, .gain = gain, .dark = dark,
                  .minus_log = minus_log};
    atomic_init(&c.n_floored, 0);
    atomic_init(&c.first_bad, (size_t)-1);
    tl_workers_run(workers, n_proj, 1, normalize_frames, &c);
    free(gain);

    size_t bad = atomic_load(&c.first_bad);
    if (bad != (size_t)-1) {
        size_t f = bad / frame_size, i = bad % frame_size;
        return tl_error_set(err, TL_ERR_DATA,
                            "projection %zu has a pixel that is not a finite number (NaN or infinite) at "
                            "detector row %zu, column %zu",
                            f, row_offset + i / n_cols, i % n_cols);
    }
    if (stats) {
        stats->n_values += n_proj * frame_size;
        stats->n_floored += atomic_load(&c.n_floored);
        stats->n_dead_pixels += n_dead;
    }
    return TL_OK;
}
