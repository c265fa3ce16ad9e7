/* normalize_cpu.c - dark/flat correction, -log, and the policy of normalize.h. */
#include "normalize.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *proj;
    size_t n_rows, n_cols;
    const float *gain;       /* 1 / (F - D), 0 for dead pixels (one flat) */
    const float *range_before, *range_after; /* F - D before and after (two flats), 0 dead */
    const double *after_weight;
    const float *dark;
    int minus_log;
    atomic_size_t n_floored;
    atomic_size_t first_bad; /* flat index of the first non-finite value, or SIZE_MAX */
} norm_ctx;

/* One raw value -> t or -log(t), by the policy of normalize.h. `one` selects
 * the single-flat form (gain = 1 / (F - D)) over the interpolated one. */
static inline float normalize_value(float raw, int one, float gain, float range_before, float range_after, float w,
                                    float dark, int minus_log, size_t *floored)
{
    float t;
    if (one) {
        t = gain == 0.0f ? 1.0f : (raw - dark) * gain;
    } else {
        float range = (1.0f - w) * range_before + w * range_after;
        t = (range_before == 0.0f || range_after == 0.0f) ? 1.0f : (raw - dark) / range;
    }
    if (!(t > TL_NORMALIZE_FLOOR)) {
        t = TL_NORMALIZE_FLOOR;
        (*floored)++;
    }
    return minus_log ? -logf(t) : t;
}

static void normalize_frames(void *p, size_t begin, size_t end, int thread)
{
    (void)thread;
    norm_ctx *c = p;
    size_t frame_size = c->n_rows * c->n_cols;
    size_t floored = 0;
    const int one = !c->after_weight;
    for (size_t f = begin; f < end; f++) {
        float *restrict v = c->proj + f * frame_size;
        const float w = c->after_weight ? (float)c->after_weight[f] : 0.0f;
        for (size_t i = 0; i < frame_size; i++) {
            float raw = v[i];
            if (!isfinite(raw)) {
                size_t at = f * frame_size + i, cur = atomic_load(&c->first_bad);
                while (at < cur && !atomic_compare_exchange_weak(&c->first_bad, &cur, at))
                    ;
                v[i] = 0.0f;
                continue;
            }
            v[i] = normalize_value(raw, one, one ? c->gain[i] : 0.0f, one ? 0.0f : c->range_before[i],
                                   one ? 0.0f : c->range_after[i], w, c->dark[i], c->minus_log, &floored);
        }
    }
    atomic_fetch_add(&c->n_floored, floored);
}

/* F - D of every pixel into range (0 for dead pixels), checking the policy of
 * normalize.h; counts dead pixels into *n_dead. */
static tl_status flat_ranges(const float *flat, const float *dark, size_t n_rows, size_t n_cols, size_t row_offset,
                             float *range, size_t *n_dead, tl_error *err)
{
    size_t frame_size = n_rows * n_cols, dead = 0, first_dead = (size_t)-1;
    for (size_t i = 0; i < frame_size; i++) {
        if (!isfinite(flat[i]) || !isfinite(dark[i]))
            return tl_error_set(err, TL_ERR_DATA,
                                "the mean %s at detector row %zu, column %zu is not a finite number (NaN or "
                                "infinite pixels in the %s frames)",
                                isfinite(flat[i]) ? "dark" : "flat", row_offset + i / n_cols, i % n_cols,
                                isfinite(flat[i]) ? "dark" : "flat");
        float r = flat[i] - dark[i];
        if (r > 0.0f) {
            range[i] = r;
        } else {
            range[i] = 0.0f;
            if (dead++ == 0)
                first_dead = i;
        }
    }
    if (dead > TL_NORMALIZE_MAX_DEAD_FRACTION * (double)frame_size)
        return tl_error_set(
            err, TL_ERR_DATA,
            "flats are not brighter than darks at %zu of %zu detector pixels in rows %zu..%zu (first at row "
            "%zu, column %zu: flat %g, dark %g); at most %g%% may be dead. Are flats and darks swapped?",
            dead, frame_size, row_offset, row_offset + n_rows - 1, row_offset + first_dead / n_cols,
            first_dead % n_cols, (double)flat[first_dead], (double)dark[first_dead],
            100.0 * TL_NORMALIZE_MAX_DEAD_FRACTION);
    *n_dead = dead;
    return TL_OK;
}

tl_status tl_normalize_cpu(float *proj, size_t n_proj, size_t n_rows, size_t n_cols, const float *flat,
                           const float *dark, int minus_log, size_t row_offset, tl_workers *workers,
                           tl_normalize_stats *stats, tl_error *err)
{
    return tl_normalize_interp_cpu(proj, n_proj, n_rows, n_cols, flat, NULL, NULL, dark, minus_log, row_offset,
                                   workers, stats, err);
}

tl_status tl_normalize_interp_cpu(float *proj, size_t n_proj, size_t n_rows, size_t n_cols,
                                  const float *flat_before, const float *flat_after, const double *after_weight,
                                  const float *dark, int minus_log, size_t row_offset, tl_workers *workers,
                                  tl_normalize_stats *stats, tl_error *err)
{
    size_t frame_size = n_rows * n_cols;
    int two = after_weight && flat_after;
    float *before = malloc(frame_size * sizeof *before);
    float *after = two ? malloc(frame_size * sizeof *after) : NULL;
    if (!before || (two && !after)) {
        free(before);
        free(after);
        return tl_error_set(err, TL_ERR_NOMEM, "normalize: cannot allocate %zu x %zu flat tables", n_rows, n_cols);
    }
    size_t n_dead = 0, n_dead_after = 0;
    tl_status st = flat_ranges(flat_before, dark, n_rows, n_cols, row_offset, before, &n_dead, err);
    if (st == TL_OK && two)
        st = flat_ranges(flat_after, dark, n_rows, n_cols, row_offset, after, &n_dead_after, err);
    if (st != TL_OK) {
        free(before);
        free(after);
        return st;
    }
    if (!two) /* one flat: the reciprocal once per pixel, a multiply per value */
        for (size_t i = 0; i < frame_size; i++)
            before[i] = before[i] > 0.0f ? 1.0f / before[i] : 0.0f;

    norm_ctx c = {.proj = proj, .n_rows = n_rows, .n_cols = n_cols, .dark = dark, .minus_log = minus_log};
    if (two) {
        c.range_before = before;
        c.range_after = after;
        c.after_weight = after_weight;
    } else {
        c.gain = before;
    }
    atomic_init(&c.n_floored, 0);
    atomic_init(&c.first_bad, (size_t)-1);
    tl_workers_run(workers, n_proj, 1, normalize_frames, &c);
    free(before);
    free(after);

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
        stats->n_dead_pixels += n_dead > n_dead_after ? n_dead : n_dead_after;
    }
    return TL_OK;
}

struct tl_normalize_tables {
    size_t n_rows, n_cols;
    int one;
    float *gain_or_before; /* one flat: 1 / (F - D); two: F_before - D (0: dead) */
    float *range_after;    /* two flats: F_after - D */
    float *dark;
};

void tl_normalize_tables_destroy(tl_normalize_tables **tables)
{
    if (!tables || !*tables)
        return;
    free((*tables)->gain_or_before);
    free((*tables)->range_after);
    free((*tables)->dark);
    free(*tables);
    *tables = NULL;
}

tl_status tl_normalize_tables_create(const float *flat_before, const float *flat_after, const float *dark,
                                     size_t n_rows, size_t n_cols, size_t row_offset, tl_normalize_tables **out,
                                     size_t *n_dead, tl_error *err)
{
    *out = NULL;
    size_t frame_size = n_rows * n_cols, dead = 0, dead_after = 0;
    tl_normalize_tables *t = calloc(1, sizeof *t);
    if (!t)
        return tl_error_set(err, TL_ERR_NOMEM, "normalize: out of memory");
    t->n_rows = n_rows;
    t->n_cols = n_cols;
    t->one = flat_after == NULL;
    t->gain_or_before = malloc(frame_size * sizeof(float));
    t->range_after = t->one ? NULL : malloc(frame_size * sizeof(float));
    t->dark = malloc(frame_size * sizeof(float));
    if (!t->gain_or_before || !t->dark || (!t->one && !t->range_after)) {
        tl_normalize_tables_destroy(&t);
        return tl_error_set(err, TL_ERR_NOMEM, "normalize: cannot allocate %zu x %zu flat tables", n_rows, n_cols);
    }
    tl_status st = flat_ranges(flat_before, dark, n_rows, n_cols, row_offset, t->gain_or_before, &dead, err);
    if (st == TL_OK && !t->one)
        st = flat_ranges(flat_after, dark, n_rows, n_cols, row_offset, t->range_after, &dead_after, err);
    if (st != TL_OK) {
        tl_normalize_tables_destroy(&t);
        return st;
    }
    if (t->one)
        for (size_t i = 0; i < frame_size; i++)
            t->gain_or_before[i] = t->gain_or_before[i] > 0.0f ? 1.0f / t->gain_or_before[i] : 0.0f;
    memcpy(t->dark, dark, frame_size * sizeof(float));
    if (n_dead)
        *n_dead = dead > dead_after ? dead : dead_after;
    *out = t;
    return TL_OK;
}

size_t tl_normalize_line(const tl_normalize_tables *t, size_t row, double weight_after, int minus_log, float *line,
                         size_t *non_finite)
{
    size_t floored = 0, n = t->n_cols, at = row * n;
    const float w = (float)weight_after;
    *non_finite = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        float raw = line[i];
        if (!isfinite(raw)) {
            if (*non_finite == (size_t)-1)
                *non_finite = i;
            line[i] = 0.0f;
            continue;
        }
        line[i] = normalize_value(raw, t->one, t->one ? t->gain_or_before[at + i] : 0.0f,
                                  t->one ? 0.0f : t->gain_or_before[at + i], t->one ? 0.0f : t->range_after[at + i],
                                  w, t->dark[at + i], minus_log, &floored);
    }
    return floored;
}
