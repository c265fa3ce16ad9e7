/* test_stream.c - the streaming reconstruction (pipeline/stream.h) and its
 * bounded queue (pipeline/queue.h).
 *
 * The scan: a uniform disk of attenuation MU (per pixel) of radius R centred on
 * the rotation axis, exact projections p(s) = 2 MU sqrt(R^2 - s^2) turned into
 * counts with a dark of 100 and flats of 100 + 4000 (and a per-column gain, so
 * the flat correction matters). Checks: the volume equals the batch filtered
 * backprojection (tl_fbp) of the same -log sinograms; out-of-order projections,
 * flats after the projections and a slow stage change nothing; the queue limit
 * holds under a slow stage with no frame lost; the disk's value comes back.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fbp.h"
#include "queue.h"
#include "stream.h"

#define ROWS 4
#define COLS 64
#define NPROJ 90
#define MU 0.02
#define RADIUS 20.0
#define AXIS 31.5

static uint16_t raw_frame[3][ROWS * COLS]; /* dark, flat, (unused) */
static uint16_t proj_frames[NPROJ][ROWS * COLS];
static double angles[NPROJ];

static void make_scan(void)
{
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            double gain = 1.0 + 0.2 * sin(0.7 * c);
            raw_frame[0][r * COLS + c] = 100;
            raw_frame[1][r * COLS + c] = (uint16_t)lround(100 + 4000 * gain);
        }
    for (int i = 0; i < NPROJ; i++) {
        angles[i] = 180.0 * i / NPROJ;
        for (int r = 0; r < ROWS; r++)
            for (int c = 0; c < COLS; c++) {
                double s = c - AXIS, p = fabs(s) < RADIUS ? 2 * MU * sqrt(RADIUS * RADIUS - s * s) : 0.0;
                double gain = 1.0 + 0.2 * sin(0.7 * c);
                proj_frames[i][r * COLS + c] = (uint16_t)lround(100 + 4000 * gain * exp(-p));
            }
    }
}

typedef struct {
    size_t frame_buffers, batch;
    double delay, axis;
    int shuffle;     /* projections in a scrambled order, placed by slot */
    int flats_after; /* the flat comes after the projections */
} variant;

static float *run(const variant *v, tl_stream_stats *stats)
{
    tl_stream_desc d = {.rows = ROWS, .cols = COLS, .row_begin = 0, .row_end = ROWS, .dtype = TL_STREAM_UINT16,
                        .n_proj = NPROJ, .n_flat = 1, .n_dark = 1, .angles_deg = angles, .window = TL_FILTER_RAMP,
                        .axis = v->axis, .threads = 2, .frame_buffers = v->frame_buffers,
                        .backproject_batch = v->batch, .stage_delay = v->delay};
    tl_stream *s = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_stream_create(&d, &s, &err), TL_OK, "%s", err.message);
    uint64_t index = 0;
    cr_assert_eq(tl_stream_put(s, 2, 0, index++, raw_frame[0], &err), TL_OK, "%s", err.message);
    if (!v->flats_after)
        cr_assert_eq(tl_stream_put(s, 1, 0, index++, raw_frame[1], &err), TL_OK, "%s", err.message);
    for (int k = 0; k < NPROJ; k++) {
        int i = v->shuffle ? (k * 37) % NPROJ : k; /* 37 is prime to 90: a permutation */
        cr_assert_eq(tl_stream_put(s, 0, (size_t)i, index++, proj_frames[i], &err), TL_OK, "%s", err.message);
    }
    if (v->flats_after)
        cr_assert_eq(tl_stream_put(s, 1, 0, index++, raw_frame[1], &err), TL_OK, "%s", err.message);
    if (!isfinite(v->axis)) {
        cr_assert_eq(tl_stream_drain(s, &err), TL_OK, "%s", err.message);
        tl_stream_set_axis(s, AXIS);
    }
    const float *vol = NULL;
    cr_assert_eq(tl_stream_finish(s, &vol, stats, &err), TL_OK, "%s", err.message);
    float *copy = malloc(ROWS * COLS * COLS * sizeof *copy);
    memcpy(copy, vol, ROWS * COLS * COLS * sizeof *copy);
    tl_stream_destroy(&s);
    cr_assert_null(s);
    return copy;
}

/* The batch path: the same -log sinograms through tl_fbp. */
static float *batch(void)
{
    float *sino = malloc(ROWS * NPROJ * COLS * sizeof *sino);
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < NPROJ; i++)
            for (int c = 0; c < COLS; c++) {
                float dark = raw_frame[0][r * COLS + c], gain = 1.0f / ((float)raw_frame[1][r * COLS + c] - dark);
                float t = ((float)proj_frames[i][r * COLS + c] - dark) * gain;
                sino[(r * NPROJ + i) * COLS + c] = -logf(t);
            }
    tl_fbp_desc d = {.n_angles = NPROJ, .n_cols = COLS, .max_slices = ROWS, .angles_deg = angles, .axis = AXIS,
                     .window = TL_FILTER_RAMP, .backend = TL_BACKEND_CPU};
    tl_workers *w = NULL;
    tl_fbp_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_workers_create(2, &w, &err), TL_OK);
    cr_assert_eq(tl_fbp_plan_create(&d, w, &plan, &err), TL_OK, "%s", err.message);
    float *out = malloc(ROWS * COLS * COLS * sizeof *out);
    cr_assert_eq(tl_fbp_exec_copy(plan, sino, ROWS, out, &err), TL_OK, "%s", err.message);
    tl_fbp_plan_destroy(&plan);
    tl_workers_destroy(&w);
    free(sino);
    return out;
}

static void assert_same(const float *a, const float *b, double tol, const char *what)
{
    for (size_t i = 0; i < (size_t)ROWS * COLS * COLS; i++)
        cr_assert(fabsf(a[i] - b[i]) <= tol, "%s: voxel %zu: %g vs %g", what, i, a[i], b[i]);
}

Test(stream, equals_the_batch_fbp_and_returns_the_disk)
{
    make_scan();
    tl_stream_stats st;
    variant v = {.frame_buffers = 8, .batch = 7, .axis = AXIS, .delay = 0.001}; /* frames trickle in */
    float *vol = run(&v, &st), *ref = batch();
    assert_same(vol, ref, 1e-6, "stream vs batch");
    cr_expect_eq(st.frames[0], NPROJ);
    cr_expect_eq(st.frames[1], 1);
    cr_expect_eq(st.frames[2], 1);
    cr_expect_eq(st.deferred, 0);
    cr_expect_geq(st.backproject_passes, 2, "backprojected in %zu passes", st.backproject_passes);
    /* the disk's attenuation, inside (away from its edge) */
    double sum = 0;
    int n = 0;
    for (int y = 0; y < COLS; y++)
        for (int x = 0; x < COLS; x++) {
            double dx = x - (COLS - 1) / 2.0, dy = y - (COLS - 1) / 2.0;
            if (dx * dx + dy * dy < 12 * 12)
                sum += vol[(1 * COLS + y) * COLS + x], n++;
        }
    cr_expect(fabs(sum / n - MU) < 0.03 * MU, "mean inside the disk %g, expected %g", sum / n, MU);
    free(vol), free(ref);
}

Test(stream, out_of_order_flats_after_and_late_axis_change_nothing)
{
    make_scan();
    tl_stream_stats st;
    variant in_order = {.frame_buffers = 8, .axis = AXIS};
    float *ref = run(&in_order, &st);
    variant shuffled = {.frame_buffers = 8, .axis = AXIS, .shuffle = 1, .batch = 3};
    float *a = run(&shuffled, &st);
    assert_same(a, ref, 1e-6, "shuffled");
    variant after = {.frame_buffers = 8, .axis = AXIS, .flats_after = 1};
    float *b = run(&after, &st);
    cr_expect_eq(st.deferred, NPROJ, "every projection came before the flat: %zu deferred", st.deferred);
    cr_expect_eq(st.flats_after, 1);
    assert_same(b, ref, 1e-6, "flat after the projections");
    variant late = {.frame_buffers = 8, .axis = NAN};
    float *c = run(&late, &st);
    cr_expect_eq(st.done_at_finish, 0, "nothing can be backprojected before the axis is known");
    assert_same(c, ref, 1e-6, "axis given after the scan");
    free(ref), free(a), free(b), free(c);
}

Test(stream, a_slow_stage_holds_the_queue_limit_and_loses_nothing)
{
    make_scan();
    tl_stream_stats st;
    variant fast = {.frame_buffers = 3, .axis = AXIS};
    float *ref = run(&fast, &st);
    variant slow = {.frame_buffers = 3, .axis = AXIS, .delay = 0.004};
    float *vol = run(&slow, &st);
    cr_expect_leq(st.frames_queue.high_water, 3, "queue high water %zu", st.frames_queue.high_water);
    cr_expect_eq(st.frames_queue.capacity, 3);
    cr_expect_gt(st.receive_waits, NPROJ / 2, "the receiver waited %zu times for a free buffer", st.receive_waits);
    cr_expect_gt(st.seconds[TL_STREAM_RECEIVE_WAIT], 0.05, "waited %g s", st.seconds[TL_STREAM_RECEIVE_WAIT]);
    cr_expect_eq(st.frames[0] + st.frames[1] + st.frames[2], NPROJ + 2, "no frame lost");
    assert_same(vol, ref, 1e-6, "slow stage");
    free(ref), free(vol);
}

Test(stream, a_non_finite_pixel_fails_the_scan_with_its_place)
{
    make_scan();
    float frame[ROWS * COLS];
    float dark[ROWS * COLS], flat[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        dark[i] = 100.0f, flat[i] = 4100.0f, frame[i] = 2000.0f;
    frame[2 * COLS + 5] = NAN;
    tl_stream_desc d = {.rows = ROWS, .cols = COLS, .row_begin = 1, .row_end = ROWS, .dtype = TL_STREAM_FLOAT32,
                        .n_proj = 2, .n_flat = 1, .n_dark = 1, .angles_deg = angles, .axis = AXIS, .threads = 1,
                        .frame_buffers = 2};
    tl_stream *s = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_stream_create(&d, &s, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_stream_put(s, 2, 0, 0, dark, &err), TL_OK);
    cr_assert_eq(tl_stream_put(s, 1, 0, 1, flat, &err), TL_OK);
    cr_assert_eq(tl_stream_put(s, 0, 0, 2, frame, &err), TL_OK);
    const float *vol;
    tl_status st = tl_stream_put(s, 0, 1, 3, flat, &err);
    if (st == TL_OK)
        st = tl_stream_finish(s, &vol, NULL, &err);
    cr_assert_eq(st, TL_ERR_DATA);
    cr_expect_str_eq(err.message, "projection 0 (frame 2) has a pixel that is not a finite number (NaN or infinite) "
                                  "at detector row 2, column 5");
    tl_stream_destroy(&s);
}

Test(stream, refuses_what_it_cannot_reconstruct)
{
    tl_stream_desc d = {.rows = ROWS, .cols = COLS, .row_begin = 2, .row_end = 2, .dtype = TL_STREAM_UINT16,
                        .n_proj = 2, .n_flat = 1, .angles_deg = angles, .axis = AXIS, .threads = 1,
                        .frame_buffers = 2};
    tl_stream *s = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_stream_create(&d, &s, &err), TL_ERR_INVALID);
    cr_expect_null(s);
    cr_expect_str_eq(err.message, "stream: rows 2..2 of 4, 64 columns, 2 projections, 1 flats, 1 threads, 2 frame "
                                  "buffers: need rows inside the frame, at least 2 columns, 2 projections, 1 flat, 1 "
                                  "thread, 2 buffers");
}

/* ---- the queue ----------------------------------------------------------- */

typedef struct {
    tl_queue *q;
    int n;
    int out_of_order;
    int got;
} consumer;

static void *consume_slowly(void *p)
{
    consumer *c = p;
    for (int i = 0; i < c->n; i++) {
        int *item = tl_queue_pop(c->q);
        if (!item || *item != i)
            c->out_of_order++;
        c->got++;
        usleep(300);
    }
    return NULL;
}

Test(queue, fifo_bounded_under_a_slow_consumer)
{
    tl_queue *q = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_queue_create(4, &q, &err), TL_OK);
    int items[500];
    consumer c = {.q = q, .n = 500};
    pthread_t t;
    pthread_create(&t, NULL, consume_slowly, &c);
    for (int i = 0; i < 500; i++) {
        items[i] = i;
        cr_assert_eq(tl_queue_push(q, &items[i]), 1);
        cr_assert_leq(tl_queue_length(q), 4);
    }
    pthread_join(t, NULL);
    tl_queue_stats st;
    tl_queue_get_stats(q, &st);
    cr_expect_eq(c.got, 500);
    cr_expect_eq(c.out_of_order, 0, "items out of order or missing");
    cr_expect_eq(st.pushed, 500);
    cr_expect_eq(st.popped, 500);
    cr_expect_leq(st.high_water, 4);
    cr_expect_gt(st.blocked_pushes, 400, "the producer waited only %zu times", st.blocked_pushes);
    tl_queue_destroy(&q);
    cr_expect_null(q);
}

Test(queue, close_wakes_and_drains)
{
    tl_queue *q = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_queue_create(2, &q, &err), TL_OK);
    int a = 1, b = 2;
    cr_assert_eq(tl_queue_push(q, &a), 1);
    cr_assert_eq(tl_queue_push(q, &b), 1);
    tl_queue_close(q);
    cr_expect_eq(tl_queue_push(q, &a), 0, "a closed queue takes nothing");
    cr_expect_eq(tl_queue_pop(q), &a);
    cr_expect_eq(tl_queue_pop(q), &b);
    cr_expect_null(tl_queue_pop(q));
    cr_expect_null(tl_queue_try_pop(q));
    tl_queue_destroy(&q);
    cr_expect_eq(tl_queue_create(0, &q, &err), TL_ERR_INVALID);
    cr_expect_null(q);
}
