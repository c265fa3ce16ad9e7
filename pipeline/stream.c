/* stream.c - the streaming reconstruction of one scan (see stream.h).
 *
 * Filtered backprojection (Kak & Slaney 1988, ch. 3): the ramp filter acts on
 * each projection alone, and the backprojection is a sum over angles, so both
 * can proceed frame by frame while the scan runs; only ring removal (which
 * looks at all angles of a sinogram) and the deferred normalization wait for
 * the end.
 */
#define _GNU_SOURCE
#include "stream.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backproject.h"
#include "gridrec.h"
#include "log.h"
#include "normalize.h"
#include "workers.h"

const char *const tl_stream_stage_names[TL_STREAM_STAGE_COUNT] = {
    "receive_wait", "convert", "normalize", "filter", "rings", "backproject_during_scan", "backproject_after_scan"};

enum { SLOT_EMPTY = 0, SLOT_RAW, SLOT_NORMALIZED, SLOT_FILTERED };

typedef struct frame_item {
    int key;
    size_t slot;
    uint64_t index;
    int after;          /* a flat that arrived after a projection */
    int calibration_put; /* every flat and dark was handed over before this projection */
    unsigned char *raw; /* rows x cols pixels of the selected rows */
} frame_item;

struct tl_stream {
    tl_stream_desc d;
    double *angles;
    size_t rows, n, stride, pixel_size, filter_on_arrival;
    float *store;  /* [rows][n_proj][stride], guarded lines (backproject.h) */
    float *volume; /* [rows][n][n] */
    float *kept;   /* [n_keep][n_proj][cols] */
    size_t *keep_at; /* [n_keep] selected-row index of each kept row */
    float *cos_theta, *sin_theta;
    float **frame_scratch; /* per stage thread: rows x cols floats */
    frame_item *items;
    unsigned char *raw_buffers;
    tl_queue *free_items, *work;
    tl_workers *team; /* finish-time work; its count is the filter plan's slot count */
    tl_filter_plan *filter;
    tl_gridrec_plan *gridrec; /* TL_ALGORITHM_GRIDREC */
    size_t bytes;

    pthread_mutex_t lock;
    pthread_cond_t changed; /* any of the state below */
    unsigned char *slot_state; /* [n_proj] */
    uint64_t *proj_index;      /* [n_proj] frame index of each projection */
    double *dark_sum, *flat_sum[2]; /* [rows*cols]; flats before / after the first projection */
    size_t flat_count[2], dark_count;
    double flat_index_sum[2];
    int seen_projection; /* the receiver has taken a projection (orders flats before/after) */
    size_t calibration_frames_put; /* flats and darks handed over so far */
    int seen_flat_after;           /* a flat came after a projection: normalized at the end */
    tl_normalize_tables *tables;
    size_t in_flight; /* items out of the pool */
    double axis;
    int axis_known, final, stopping, failed;
    size_t bp_done; /* projections backprojected, a prefix in angle order */
    size_t bp_last_preview;
    tl_error error;
    tl_stream_stats stats;

    pthread_t *stage_threads;
    int n_stage_threads;
    pthread_t bp_thread;
    int bp_started;
};

static void fail(tl_stream *s, const tl_error *e)
{
    /* with s->lock held */
    if (!s->failed) {
        s->failed = 1;
        s->error = *e;
    }
    pthread_cond_broadcast(&s->changed);
}

/* The big arrays (store, volume): zeroed and touched now, at scan-start, in
 * huge pages where the kernel gives them (madvise mode of transparent huge
 * pages), so the stages do not take a page fault for every 4 KiB of the first
 * frames (a third of the ingest CPU of a 512^3 scan otherwise). */
static float *alloc_touched(size_t floats)
{
    const size_t huge = (size_t)2 << 20;
    size_t bytes = (floats * sizeof(float) + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

static float *store_line(tl_stream *s, size_t row, size_t angle)
{
    return s->store + (row * s->d.n_proj + angle) * s->stride + 1;
}

static void convert(const tl_stream *s, const unsigned char *p, float *out, size_t count)
{
    switch (s->d.dtype) {
    case TL_STREAM_UINT16:
        for (size_t i = 0; i < count; i++)
            out[i] = (float)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
        break;
    case TL_STREAM_UINT32:
        for (size_t i = 0; i < count; i++)
            out[i] = (float)((uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                             (uint32_t)p[4 * i + 3] << 24);
        break;
    case TL_STREAM_FLOAT32:
        for (size_t i = 0; i < count; i++) {
            uint32_t v = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                         (uint32_t)p[4 * i + 3] << 24;
            memcpy(&out[i], &v, sizeof v);
        }
        break;
    }
}

/* The mean flat (and dark) of the selected rows -> normalization tables. Called
 * with the lock held, once every flat and dark is in. Two flats (before and
 * after the projections) only at the end, when every projection's index is known. */
static tl_status make_tables(tl_stream *s, int two, tl_error *err)
{
    size_t count = s->rows * s->d.cols;
    float *mean = malloc(3 * count * sizeof *mean);
    if (!mean)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for the mean flat and dark");
    float *flat0 = mean, *flat1 = mean + count, *dark = mean + 2 * count;
    for (size_t i = 0; i < count; i++) {
        dark[i] = s->dark_count ? (float)(s->dark_sum[i] / (double)s->dark_count) : 0.0f;
        if (two) {
            flat0[i] = (float)(s->flat_sum[0][i] / (double)s->flat_count[0]);
            flat1[i] = (float)(s->flat_sum[1][i] / (double)s->flat_count[1]);
        } else {
            flat0[i] = (float)((s->flat_sum[0][i] + s->flat_sum[1][i]) / (double)(s->flat_count[0] + s->flat_count[1]));
        }
    }
    size_t n_dead = 0;
    tl_normalize_tables_destroy(&s->tables);
    tl_status st = tl_normalize_tables_create(flat0, two ? flat1 : NULL, dark, s->rows, s->d.cols, s->d.row_begin,
                                              &s->tables, &n_dead, err);
    free(mean);
    s->stats.n_dead_pixels = n_dead;
    return st;
}

static int calibrated(const tl_stream *s)
{
    return s->dark_count == s->d.n_dark && s->flat_count[0] + s->flat_count[1] == s->d.n_flat;
}

/* -log lines of projection `slot` (already in the store) -> kept rows, and
 * filtered when filtering on arrival. `thread` picks the filter's scratch. */
static tl_status normalize_projection(tl_stream *s, size_t slot, double weight, int thread, size_t *floored,
                                      tl_error *err)
{
    for (size_t r = 0; r < s->rows; r++) {
        size_t bad;
        float *line = store_line(s, r, slot);
        *floored += tl_normalize_line(s->tables, r, weight, 1, line, &bad);
        if (bad != (size_t)-1)
            return tl_error_set(err, TL_ERR_DATA,
                                "projection %zu (frame %llu) has a pixel that is not a finite number (NaN or "
                                "infinite) at detector row %zu, column %zu",
                                slot, (unsigned long long)s->proj_index[slot], s->d.row_begin + r, bad);
    }
    for (size_t k = 0; k < s->d.n_keep_rows; k++)
        memcpy(s->kept + (k * s->d.n_proj + slot) * s->d.cols, store_line(s, s->keep_at[k], slot),
               s->d.cols * sizeof(float));
    (void)thread;
    return TL_OK;
}

static void *stage_main(void *arg)
{
    tl_stream *s = ((void **)arg)[0];
    int thread = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    float *frame = s->frame_scratch[thread];
    size_t count = s->rows * s->d.cols;
    frame_item *it;
    while ((it = tl_queue_pop(s->work)) != NULL) {
        double t0 = tl_now(), t_convert = 0, t_norm = 0, t_filter = 0;
        tl_error err = {0};
        pthread_mutex_lock(&s->lock);
        int skip = s->failed || s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (!skip && s->d.stage_delay > 0) {
            struct timespec ts = {(time_t)s->d.stage_delay,
                                  (long)((s->d.stage_delay - floor(s->d.stage_delay)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        if (!skip && it->key != 0) {
            convert(s, it->raw, frame, count);
            t_convert = tl_now() - t0;
            pthread_mutex_lock(&s->lock);
            double *sum;
            if (it->key == 2) {
                sum = s->dark_sum;
                s->dark_count++;
            } else {
                int after = it->after;
                sum = s->flat_sum[after];
                s->flat_count[after]++;
                s->flat_index_sum[after] += (double)it->index;
            }
            for (size_t i = 0; i < count; i++)
                sum[i] += frame[i];
            /* The last flat or dark: tables for the projections still to come. Flats
             * that came after projections make a two-flat scan, finished at the end. */
            if (calibrated(s) && s->flat_count[1] == 0 && make_tables(s, 0, &err) != TL_OK)
                fail(s, &err);
            pthread_cond_broadcast(&s->changed);
            pthread_mutex_unlock(&s->lock);
        } else if (!skip) {
            size_t slot = it->slot;
            convert(s, it->raw, frame, count);
            for (size_t r = 0; r < s->rows; r++)
                memcpy(store_line(s, r, slot), frame + r * s->d.cols, s->d.cols * sizeof(float));
            double t1 = tl_now();
            t_convert = t1 - t0;
            pthread_mutex_lock(&s->lock);
            s->proj_index[slot] = it->index;
            /* Flats and darks handed over before this projection are ahead of it in
             * the queue, perhaps still being summed on another thread: wait for
             * them rather than defer the projection to the end of the scan. */
            while (it->calibration_put && !s->tables && !s->failed && !s->stopping)
                pthread_cond_wait(&s->changed, &s->lock);
            int ready = calibrated(s) && s->flat_count[1] == 0 && s->tables;
            if (!ready) {
                s->slot_state[slot] = SLOT_RAW;
                s->stats.deferred++;
            }
            pthread_mutex_unlock(&s->lock);
            if (ready) {
                size_t floored = 0;
                tl_status st = normalize_projection(s, slot, 0.0, thread, &floored, &err);
                double t2 = tl_now();
                t_norm = t2 - t1;
                if (st == TL_OK && s->filter_on_arrival)
                    tl_filter_exec_projection(s->filter, store_line(s, 0, slot), s->rows, s->d.n_proj * s->stride,
                                              slot, thread);
                t_filter = tl_now() - t2;
                pthread_mutex_lock(&s->lock);
                if (st != TL_OK)
                    fail(s, &err);
                else
                    s->slot_state[slot] = s->filter_on_arrival ? SLOT_FILTERED : SLOT_NORMALIZED;
                s->stats.n_floored += floored;
                s->stats.n_values += count;
                pthread_cond_broadcast(&s->changed);
                pthread_mutex_unlock(&s->lock);
            }
        }
        pthread_mutex_lock(&s->lock);
        s->stats.seconds[TL_STREAM_CONVERT] += t_convert;
        s->stats.seconds[TL_STREAM_NORMALIZE] += t_norm;
        s->stats.seconds[TL_STREAM_FILTER] += t_filter;
        s->in_flight--;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        tl_queue_push(s->free_items, it);
    }
    return NULL;
}

/* Backproject projections [i0, i1) (filtered, in the store) into the volume. */
static void backproject_range(tl_stream *s, size_t i0, size_t i1, double axis, tl_workers *team)
{
    tl_backproject_args a = {.sino = s->store + i0 * s->stride,
                             .stride = s->stride,
                             .slice_stride = s->d.n_proj * s->stride,
                             .n_slices = s->rows,
                             .n_angles = i1 - i0,
                             .n_cols = s->d.cols,
                             .cos_theta = s->cos_theta + i0,
                             .sin_theta = s->sin_theta + i0,
                             .axis = axis,
                             .n = s->n,
                             .out = s->volume,
                             .accumulate = 1};
    tl_backproject_cpu(&a, team);
}

static void *backproject_main(void *arg)
{
    tl_stream *s = arg;
    /* Below the stages that keep up with the detector: when the cores are
     * short, frames are taken and filtered first, and backprojection uses only
     * what they leave idle (Linux SCHED_IDLE, per thread, inherited by the
     * team's threads; nice 19 where it is refused). At scan-end, with the
     * stages idle, it has the cores to itself. */
    struct sched_param idle = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    tl_workers *team = NULL;
    tl_error err = {0};
    if (tl_workers_create(s->d.threads, &team, &err) != TL_OK) {
        pthread_mutex_lock(&s->lock);
        fail(s, &err);
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    size_t batch = s->d.backproject_batch ? s->d.backproject_batch : (s->d.n_proj + 15) / 16;
    if (batch < 1)
        batch = 1;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        size_t ready = s->bp_done;
        while (ready < s->d.n_proj && s->slot_state[ready] == SLOT_FILTERED)
            ready++;
        /* final: tl_stream_finish takes over the rest at normal priority */
        if (s->stopping || s->failed || s->final || s->bp_done == s->d.n_proj)
            break;
        if (!s->axis_known || ready == s->bp_done || ready - s->bp_done < batch) {
            pthread_cond_wait(&s->changed, &s->lock);
            continue;
        }
        size_t i0 = s->bp_done, i1 = ready;
        double axis = s->axis;
        pthread_mutex_unlock(&s->lock);
        double t0 = tl_now();
        backproject_range(s, i0, i1, axis, team);
        double dt = tl_now() - t0;
        pthread_mutex_lock(&s->lock);
        s->bp_done = i1;
        s->stats.backproject_passes++;
        s->stats.seconds[TL_STREAM_BACKPROJECT_DURING] += dt;
        int publish = s->d.preview && (s->bp_done - s->bp_last_preview >= (s->d.preview_every ? s->d.preview_every : 1) ||
                                       s->bp_done == s->d.n_proj);
        if (publish) {
            s->bp_last_preview = s->bp_done;
            size_t done = s->bp_done;
            pthread_mutex_unlock(&s->lock);
            s->d.preview(s->d.preview_ctx, s->volume, s->rows, s->n, done, s->d.n_proj);
            pthread_mutex_lock(&s->lock);
        }
        pthread_cond_broadcast(&s->changed);
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    tl_workers_destroy(&team);
    return NULL;
}

size_t tl_stream_bytes(const tl_stream *s) { return s->bytes; }

void tl_stream_destroy(tl_stream **stream)
{
    if (!stream || !*stream)
        return;
    tl_stream *s = *stream;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    if (s->work)
        tl_queue_close(s->work);
    for (int t = 0; t < s->n_stage_threads; t++)
        pthread_join(s->stage_threads[t], NULL);
    if (s->bp_started)
        pthread_join(s->bp_thread, NULL);
    tl_queue_destroy(&s->work);
    tl_queue_destroy(&s->free_items);
    tl_filter_plan_destroy(&s->filter);
    tl_gridrec_plan_destroy(&s->gridrec);
    tl_workers_destroy(&s->team);
    tl_normalize_tables_destroy(&s->tables);
    if (s->frame_scratch)
        for (int t = 0; t < s->d.threads; t++)
            free(s->frame_scratch[t]);
    free(s->frame_scratch);
    free(s->stage_threads);
    free(s->angles);
    free(s->store);
    free(s->volume);
    free(s->kept);
    free(s->keep_at);
    free(s->cos_theta);
    free(s->sin_theta);
    free(s->items);
    free(s->raw_buffers);
    free(s->slot_state);
    free(s->proj_index);
    free(s->dark_sum);
    free(s->flat_sum[0]);
    free(s->flat_sum[1]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->changed);
    free(s);
    *stream = NULL;
}

tl_status tl_stream_create(const tl_stream_desc *desc, tl_stream **out, tl_error *err)
{
    *out = NULL;
    const tl_stream_desc *d = desc;
    if (d->row_begin >= d->row_end || d->row_end > d->rows || d->cols < 2 || d->n_proj < 2 || d->n_flat < 1 ||
        d->threads < 1 || d->frame_buffers < 2)
        return tl_error_set(err, TL_ERR_INVALID,
                            "stream: rows %zu..%zu of %zu, %zu columns, %zu projections, %zu flats, %d threads, %zu "
                            "frame buffers: need rows inside the frame, at least 2 columns, 2 projections, 1 flat, "
                            "1 thread, 2 buffers",
                            d->row_begin, d->row_end, d->rows, d->cols, d->n_proj, d->n_flat, d->threads,
                            d->frame_buffers);
    tl_stream *s = calloc(1, sizeof *s);
    if (!s)
        return tl_error_set(err, TL_ERR_NOMEM, "stream: out of memory");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->d = *d;
    s->d.angles_deg = NULL;
    s->d.keep_rows = NULL;
    s->rows = d->row_end - d->row_begin;
    s->n = d->n ? d->n : d->cols;
    s->stride = d->cols + 2;
    s->pixel_size = d->dtype == TL_STREAM_UINT16 ? 2 : 4;
    s->filter_on_arrival = (!d->rings || tl_rings_plan_method(d->rings) == TL_RINGS_NONE) &&
                           d->algorithm == TL_ALGORITHM_FBP;
    s->axis = d->axis;
    s->axis_known = isfinite(d->axis);
    size_t frame = s->rows * d->cols, T = (size_t)d->threads;
    size_t store_floats = s->rows * d->n_proj * s->stride, volume_floats = s->rows * s->n * s->n;
    s->store = alloc_touched(store_floats);
    s->volume = alloc_touched(volume_floats);
    s->kept = d->n_keep_rows ? malloc(d->n_keep_rows * d->n_proj * d->cols * sizeof(float)) : NULL;
    s->keep_at = d->n_keep_rows ? malloc(d->n_keep_rows * sizeof *s->keep_at) : NULL;
    s->angles = malloc(d->n_proj * sizeof *s->angles);
    s->cos_theta = malloc(d->n_proj * sizeof(float));
    s->sin_theta = malloc(d->n_proj * sizeof(float));
    s->frame_scratch = calloc(T, sizeof *s->frame_scratch);
    s->items = calloc(d->frame_buffers, sizeof *s->items);
    s->raw_buffers = malloc(d->frame_buffers * frame * s->pixel_size);
    s->slot_state = calloc(d->n_proj, 1);
    s->proj_index = calloc(d->n_proj, sizeof *s->proj_index);
    s->dark_sum = calloc(frame, sizeof(double));
    s->flat_sum[0] = calloc(frame, sizeof(double));
    s->flat_sum[1] = calloc(frame, sizeof(double));
    s->stage_threads = calloc(T, sizeof *s->stage_threads);
    double *weights = malloc(d->n_proj * sizeof *weights);
    int ok = s->store && s->volume && (!d->n_keep_rows || (s->kept && s->keep_at)) && s->angles && s->cos_theta &&
             s->sin_theta && s->frame_scratch && s->items &&
             s->raw_buffers && s->slot_state && s->proj_index && s->dark_sum && s->flat_sum[0] && s->flat_sum[1] &&
             s->stage_threads && weights;
    for (size_t t = 0; ok && t < T; t++)
        ok = (s->frame_scratch[t] = malloc(frame * sizeof(float))) != NULL;
    s->bytes = (store_floats + volume_floats + d->n_keep_rows * d->n_proj * d->cols + T * frame) * sizeof(float) +
               d->frame_buffers * frame * s->pixel_size + 3 * frame * sizeof(double);
    if (!ok) {
        free(weights);
        tl_stream_destroy(&s);
        return tl_error_set(err, TL_ERR_NOMEM,
                            "stream: cannot allocate %.1f MiB for %zu rows x %zu projections x %zu columns and a "
                            "%zu x %zu x %zu volume; reconstruct fewer rows (--start-row/--end-row)",
                            (double)((store_floats + volume_floats) * sizeof(float)) / 1048576.0, s->rows,
                            d->n_proj, d->cols, s->rows, s->n, s->n);
    }
    memcpy(s->angles, d->angles_deg, d->n_proj * sizeof *s->angles);
    for (size_t i = 0; i < d->n_proj; i++) {
        double t = d->angles_deg[i] * M_PI / 180.0;
        s->cos_theta[i] = (float)cos(t);
        s->sin_theta[i] = (float)sin(t);
    }
    for (size_t k = 0; k < d->n_keep_rows; k++) {
        if (d->keep_rows[k] < d->row_begin || d->keep_rows[k] >= d->row_end) {
            free(weights);
            tl_stream_destroy(&s);
            return tl_error_set(err, TL_ERR_INVALID, "stream: kept row %zu is not among rows %zu..%zu",
                                d->keep_rows[k], d->row_begin, d->row_end - 1);
        }
        s->keep_at[k] = d->keep_rows[k] - d->row_begin;
    }
    tl_status st = tl_angle_weights(d->angles_deg, d->n_proj, weights, err);
    if (st == TL_OK)
        st = tl_workers_create(d->threads, &s->team, err);
    if (st == TL_OK && d->algorithm == TL_ALGORITHM_GRIDREC)
        st = tl_gridrec_plan_create(d->n_proj, d->cols, s->n, d->angles_deg, d->window, s->team, &s->gridrec, err);
    else if (st == TL_OK)
        st = tl_filter_plan_create(d->n_proj, d->cols, d->window, weights, s->team, &s->filter, err);
    free(weights);
    if (st == TL_OK)
        st = tl_queue_create(d->frame_buffers, &s->free_items, err);
    if (st == TL_OK)
        st = tl_queue_create(d->frame_buffers, &s->work, err);
    if (st != TL_OK) {
        tl_stream_destroy(&s);
        return st;
    }
    s->bytes += s->gridrec ? tl_gridrec_plan_bytes(s->gridrec)
                           : tl_filter_padded_size(d->cols) * (T + d->n_proj / 2 + 1) * sizeof(float);
    for (size_t i = 0; i < d->frame_buffers; i++) {
        s->items[i].raw = s->raw_buffers + i * frame * s->pixel_size;
        if (!tl_queue_push(s->free_items, &s->items[i])) {
            tl_stream_destroy(&s);
            return tl_error_set(err, TL_ERR_INTERNAL, "stream: the frame pool could not be filled");
        }
    }
    for (size_t t = 0; t < T; t++) {
        void **arg = malloc(2 * sizeof *arg);
        if (arg) {
            arg[0] = s;
            arg[1] = (void *)(intptr_t)t;
        }
        if (!arg || pthread_create(&s->stage_threads[t], NULL, stage_main, arg) != 0) {
            free(arg);
            tl_stream_destroy(&s);
            return tl_error_set(err, TL_ERR_INTERNAL, "stream: cannot start a filter stage thread");
        }
        s->n_stage_threads++;
    }
    if (pthread_create(&s->bp_thread, NULL, backproject_main, s) != 0) {
        tl_stream_destroy(&s);
        return tl_error_set(err, TL_ERR_INTERNAL, "stream: cannot start the backprojection thread");
    }
    s->bp_started = 1;
    s->stats.bytes_held = s->bytes;
    *out = s;
    return TL_OK;
}

int tl_stream_failed(tl_stream *s)
{
    pthread_mutex_lock(&s->lock);
    int f = s->failed;
    pthread_mutex_unlock(&s->lock);
    return f;
}

static tl_status failed_error(tl_stream *s, tl_error *err)
{
    /* with the lock held */
    *err = s->error;
    return s->error.status != TL_OK ? s->error.status : TL_ERR_DATA;
}

tl_status tl_stream_put(tl_stream *s, int image_key, size_t slot, uint64_t index, const void *pixels, tl_error *err)
{
    if (image_key < 0 || image_key > 2 || (image_key == 0 && slot >= s->d.n_proj))
        return tl_error_set(err, TL_ERR_INVALID, "stream: image_key %d slot %zu is not a frame of this scan",
                            image_key, slot);
    pthread_mutex_lock(&s->lock);
    if (s->failed) {
        tl_status st = failed_error(s, err);
        pthread_mutex_unlock(&s->lock);
        return st;
    }
    s->in_flight++;
    pthread_mutex_unlock(&s->lock);
    double t0 = tl_now();
    frame_item *it = tl_queue_try_pop(s->free_items);
    if (!it) {
        it = tl_queue_pop(s->free_items);
        double waited = tl_now() - t0;
        pthread_mutex_lock(&s->lock);
        s->stats.receive_waits++;
        s->stats.seconds[TL_STREAM_RECEIVE_WAIT] += waited;
        pthread_mutex_unlock(&s->lock);
    }
    if (!it) { /* closed: being destroyed */
        pthread_mutex_lock(&s->lock);
        s->in_flight--;
        pthread_mutex_unlock(&s->lock);
        return tl_error_set(err, TL_ERR_INTERNAL, "stream: stopped");
    }
    size_t row_bytes = s->d.cols * s->pixel_size;
    memcpy(it->raw, (const unsigned char *)pixels + s->d.row_begin * row_bytes, s->rows * row_bytes);
    it->key = image_key;
    it->slot = slot;
    it->index = index;
    pthread_mutex_lock(&s->lock);
    /* flats before or after the projections: by arrival, in the receiver's order */
    it->after = image_key == 1 && s->seen_projection;
    if (image_key == 0)
        s->seen_projection = 1;
    else
        s->calibration_frames_put++;
    it->calibration_put = image_key == 0 && !s->seen_flat_after &&
                          s->calibration_frames_put == s->d.n_flat + s->d.n_dark;
    s->seen_flat_after |= it->after;
    s->stats.frames[image_key]++;
    s->stats.bytes += s->d.rows * row_bytes;
    pthread_mutex_unlock(&s->lock);
    tl_queue_push(s->work, it);
    return TL_OK;
}

typedef struct {
    tl_stream *s;
    const double *weight; /* [n_proj] or NULL */
    const size_t *slots;
    size_t floored;
    tl_error err;
    int failed;
    pthread_mutex_t lock;
} deferred_ctx;

static void deferred_run(void *p, size_t begin, size_t end, int thread)
{
    deferred_ctx *c = p;
    tl_stream *s = c->s;
    size_t floored = 0;
    tl_error err = {0};
    int failed = 0;
    for (size_t k = begin; k < end && !failed; k++) {
        size_t slot = c->slots[k];
        failed = normalize_projection(s, slot, c->weight ? c->weight[slot] : 0.0, thread, &floored, &err) != TL_OK;
        if (!failed && s->filter_on_arrival)
            tl_filter_exec_projection(s->filter, store_line(s, 0, slot), s->rows, s->d.n_proj * s->stride, slot,
                                      thread);
    }
    pthread_mutex_lock(&c->lock);
    c->floored += floored;
    if (failed && !c->failed) {
        c->failed = 1;
        c->err = err;
    }
    pthread_mutex_unlock(&c->lock);
}

tl_status tl_stream_drain(tl_stream *s, tl_error *err)
{
    pthread_mutex_lock(&s->lock);
    while (s->in_flight > 0 && !s->failed)
        pthread_cond_wait(&s->changed, &s->lock);
    if (s->failed) {
        tl_status st = failed_error(s, err);
        pthread_mutex_unlock(&s->lock);
        return st;
    }
    if (!calibrated(s) || s->stats.frames[0] != s->d.n_proj) {
        pthread_mutex_unlock(&s->lock);
        return tl_error_set(err, TL_ERR_INVALID, "stream: the scan is not complete (%zu of %zu projections, %zu of "
                                                 "%zu flats, %zu of %zu darks)",
                            s->stats.frames[0], s->d.n_proj, s->flat_count[0] + s->flat_count[1], s->d.n_flat,
                            s->dark_count, s->d.n_dark);
    }
    /* Deferred projections: flats taken after the projections give the
     * interpolated flat of batch mode, with the same weights (io/scan.c): w
     * linear in the frame index between the mean indices of the two groups. */
    size_t n_deferred = 0;
    for (size_t i = 0; i < s->d.n_proj; i++)
        n_deferred += s->slot_state[i] == SLOT_RAW;
    tl_status st = TL_OK;
    double *weight = NULL;
    size_t *slots = NULL;
    int two = s->flat_count[0] > 0 && s->flat_count[1] > 0;
    s->stats.flats_after = s->flat_count[1];
    if (n_deferred) {
        weight = two ? malloc(s->d.n_proj * sizeof *weight) : NULL;
        slots = malloc(n_deferred * sizeof *slots);
        if (!slots || (two && !weight))
            st = tl_error_set(err, TL_ERR_NOMEM, "stream: out of memory");
        if (st == TL_OK && (two || !s->tables))
            st = make_tables(s, two, err);
        if (st == TL_OK && two) {
            double cb = s->flat_index_sum[0] / (double)s->flat_count[0];
            double ca = s->flat_index_sum[1] / (double)s->flat_count[1];
            for (size_t i = 0; i < s->d.n_proj; i++) {
                double w = ca != cb ? ((double)s->proj_index[i] - cb) / (ca - cb) : 0.0;
                weight[i] = w < 0 ? 0 : w > 1 ? 1 : w;
            }
        }
        size_t k = 0;
        for (size_t i = 0; i < s->d.n_proj; i++)
            if (s->slot_state[i] == SLOT_RAW)
                slots[k++] = i;
    }
    pthread_mutex_unlock(&s->lock);
    if (st == TL_OK && n_deferred) {
        double t0 = tl_now();
        deferred_ctx c = {.s = s, .weight = weight, .slots = slots};
        pthread_mutex_init(&c.lock, NULL);
        tl_workers_run(s->team, n_deferred, 1, deferred_run, &c);
        pthread_mutex_destroy(&c.lock);
        pthread_mutex_lock(&s->lock);
        s->stats.seconds[TL_STREAM_NORMALIZE] += tl_now() - t0;
        s->stats.n_floored += c.floored;
        s->stats.n_values += n_deferred * s->rows * s->d.cols;
        if (c.failed) {
            fail(s, &c.err);
            st = failed_error(s, err);
        } else {
            for (size_t k = 0; k < n_deferred; k++)
                s->slot_state[slots[k]] = s->filter_on_arrival ? SLOT_FILTERED : SLOT_NORMALIZED;
        }
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
    }
    free(weight);
    free(slots);
    return st;
}

const float *tl_stream_kept_sinogram(const tl_stream *s, size_t k)
{
    return k < s->d.n_keep_rows ? s->kept + k * s->d.n_proj * s->d.cols : NULL;
}

void tl_stream_set_axis(tl_stream *s, double axis)
{
    pthread_mutex_lock(&s->lock);
    s->axis = axis;
    s->axis_known = isfinite(axis);
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

tl_status tl_stream_finish(tl_stream *s, const float **volume, tl_stream_stats *stats, tl_error *err)
{
    *volume = NULL;
    tl_status st = tl_stream_drain(s, err);
    if (st != TL_OK)
        return st;
    pthread_mutex_lock(&s->lock);
    int axis_known = s->axis_known;
    s->stats.done_at_finish = s->bp_done;
    pthread_mutex_unlock(&s->lock);
    if (!axis_known)
        return tl_error_set(err, TL_ERR_INVALID, "stream: no rotation axis was given before the end of the scan");
    /* The backprojection thread ends its pass and stops; the rest runs here, on
     * the team at normal priority (the ingest stages are idle now). */
    pthread_mutex_lock(&s->lock);
    s->final = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    if (s->bp_started) {
        pthread_join(s->bp_thread, NULL);
        s->bp_started = 0;
    }
    if (!s->filter_on_arrival) {
        /* Ring removal sees whole sinograms; then every line is filtered, or the
         * whole store goes through gridrec. */
        double t0 = tl_now();
        if (s->d.rings && tl_rings_plan_method(s->d.rings) != TL_RINGS_NONE)
            tl_rings_exec(s->d.rings, s->store + 1, s->rows, s->stride);
        double t1 = tl_now();
        if (s->gridrec) {
            st = tl_gridrec_exec(s->gridrec, s->store, s->stride, s->rows, s->axis, s->volume, err);
            pthread_mutex_lock(&s->lock);
            s->stats.seconds[TL_STREAM_RINGS] += t1 - t0;
            s->stats.seconds[TL_STREAM_BACKPROJECT_AFTER] += tl_now() - t1;
            if (st != TL_OK) {
                fail(s, err);
                pthread_mutex_unlock(&s->lock);
                return st;
            }
            s->bp_done = s->d.n_proj; /* the backprojection thread has nothing to do */
            s->stats.backproject_passes = 1;
            pthread_cond_broadcast(&s->changed);
            pthread_mutex_unlock(&s->lock);
            if (s->d.preview)
                s->d.preview(s->d.preview_ctx, s->volume, s->rows, s->n, s->d.n_proj, s->d.n_proj);
        } else {
            tl_filter_exec(s->filter, s->store + 1, s->rows * s->d.n_proj, s->stride);
            pthread_mutex_lock(&s->lock);
            s->stats.seconds[TL_STREAM_RINGS] += t1 - t0;
            s->stats.seconds[TL_STREAM_FILTER] += tl_now() - t1;
            memset(s->slot_state, SLOT_FILTERED, s->d.n_proj);
            pthread_mutex_unlock(&s->lock);
        }
    }
    pthread_mutex_lock(&s->lock);
    size_t i0 = s->bp_done;
    pthread_mutex_unlock(&s->lock);
    if (i0 < s->d.n_proj && !tl_stream_failed(s)) {
        double t0 = tl_now();
        backproject_range(s, i0, s->d.n_proj, s->axis, s->team);
        pthread_mutex_lock(&s->lock);
        s->bp_done = s->d.n_proj;
        s->stats.backproject_passes++;
        s->stats.seconds[TL_STREAM_BACKPROJECT_AFTER] += tl_now() - t0;
        pthread_mutex_unlock(&s->lock);
        if (s->d.preview)
            s->d.preview(s->d.preview_ctx, s->volume, s->rows, s->n, s->d.n_proj, s->d.n_proj);
    }
    pthread_mutex_lock(&s->lock);
    if (s->failed) {
        st = failed_error(s, err);
        pthread_mutex_unlock(&s->lock);
        return st;
    }
    tl_queue_get_stats(s->work, &s->stats.frames_queue);
    if (stats)
        *stats = s->stats;
    pthread_mutex_unlock(&s->lock);
    *volume = s->volume;
    return TL_OK;
}
