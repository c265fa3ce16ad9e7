/* stream.h - the streaming reconstruction of one scan: frames in as they
 * arrive, a volume out shortly after the last one.
 *
 * Stages, each in its own threads, joined by bounded queues (queue.h):
 *
 *   receive (the caller's thread: tl_stream_put copies the frame's rows into a
 *            recycled buffer; it waits when all --frame-buffers are in use, which
 *            stops the caller reading its socket: backpressure, not memory)
 *   -> normalize + transpose + filter (threads): darks and flats are summed;
 *            once all of them are in, each projection is normalized (-log),
 *            written as line (row, angle) of the sinogram store, and ramp-filtered
 *            at once (filtering is shift-invariant and per projection, so it
 *            needs neither the axis nor the other angles). Projections that come
 *            before the last flat or dark are kept raw and normalized at the end
 *            (flats taken after the projections: interpolated as in batch).
 *            With ring removal the lines are kept unfiltered: stripes are found
 *            over all angles, so rings and filtering run at the end.
 *   -> backproject (one thread, lower scheduling priority than the stages that
 *            keep up with the detector): as soon as the axis is known, filtered
 *            projections are added into the volume in angle order, a batch at a
 *            time; a preview callback sees the volume grow.
 *   -> at tl_stream_finish: the deferred work and the remaining projections.
 *
 * Accumulating the angles in order in several passes gives the same sums as
 * the batch path's single pass, so the volume equals `tomoline recon` of the
 * same frames to float rounding of the flat and dark means.
 *
 * Memory, all allocated in tl_stream_create (nothing grows with the input):
 *   store   rows x projections x (cols + 2) floats   the sinograms
 *   volume  rows x n x n floats                     the reconstruction
 *   frames  frame_buffers x rows x cols x pixel size
 *   search  keep rows x projections x cols floats    unfiltered rows for the axis search
 * plus the sums of the flats and darks and per-thread scratch (tl_stream_bytes).
 */
#ifndef TL_STREAM_H
#define TL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "fbp.h"
#include "filter.h"
#include "queue.h"
#include "rings.h"
#include "status.h"

typedef enum { TL_STREAM_UINT16 = 0, TL_STREAM_UINT32, TL_STREAM_FLOAT32 } tl_stream_dtype;

/* Called on the backprojection thread after a pass: volume[nz][n][n] holds the
 * first `done` of n_proj projections. The volume must not be kept. */
typedef void (*tl_stream_preview_fn)(void *ctx, const float *volume, size_t nz, size_t n, size_t done,
                                     size_t n_proj);

typedef struct tl_stream_desc {
    size_t rows, cols;            /* shape of every frame (the detector) */
    size_t row_begin, row_end;    /* detector rows to reconstruct */
    tl_stream_dtype dtype;
    size_t n_proj, n_flat, n_dark; /* n_flat >= 1; n_dark 0: a dark of zero counts */
    const double *angles_deg;     /* [n_proj], degrees, copied */
    size_t n;                     /* output slices are n x n (0: cols) */
    tl_filter_window window;
    tl_algorithm algorithm;       /* fbp: incremental as above; gridrec: the store is kept unfiltered and
                                     reconstructed at tl_stream_finish (Fourier gridding is not a sum over
                                     angles that could start early; it is fast at the end) */
    double axis;                  /* NAN: not known yet (tl_stream_set_axis) */
    tl_rings_plan *rings;         /* NULL or method none: filter on arrival; borrowed, lives longer */
    const size_t *keep_rows;      /* detector rows whose unfiltered -log sinograms are kept (axis search) */
    size_t n_keep_rows;
    int threads;                  /* normalize/filter threads and backprojection threads (>= 1) */
    size_t frame_buffers;         /* recycled frame buffers (>= 2) */
    size_t backproject_batch;     /* projections per backprojection pass (0: automatic) */
    double stage_delay;           /* seconds the filter stage sleeps per frame (tests of backpressure) */
    tl_stream_preview_fn preview; /* optional */
    void *preview_ctx;
    size_t preview_every;         /* projections between previews (0: every pass) */
} tl_stream_desc;

/* Per-stage figures, for the log and the provenance. */
enum {
    TL_STREAM_RECEIVE_WAIT,       /* the receiver waited for a free frame buffer (backpressure) */
    TL_STREAM_CONVERT,            /* pixels to float, thread-seconds */
    TL_STREAM_NORMALIZE,          /* flat/dark, -log, transpose into the store, thread-seconds */
    TL_STREAM_FILTER,             /* ramp filter, thread-seconds */
    TL_STREAM_RINGS,              /* ring removal at the end */
    TL_STREAM_BACKPROJECT_DURING, /* backprojection while frames were arriving */
    TL_STREAM_BACKPROJECT_AFTER,  /* backprojection after tl_stream_finish was called */
    TL_STREAM_STAGE_COUNT
};
extern const char *const tl_stream_stage_names[TL_STREAM_STAGE_COUNT];

typedef struct tl_stream_stats {
    size_t frames[3];       /* taken, by image_key: projections, flats, darks */
    size_t bytes;           /* pixel bytes taken */
    size_t deferred;        /* projections that came before the last flat or dark */
    size_t flats_after;     /* flats that came after projections (interpolated) */
    size_t n_values, n_floored, n_dead_pixels;
    size_t receive_waits;   /* frames the receiver had to wait for a free buffer for */
    size_t backproject_passes;
    size_t done_at_finish;  /* projections already backprojected when tl_stream_finish was called */
    double seconds[TL_STREAM_STAGE_COUNT];
    tl_queue_stats frames_queue; /* receive -> filter stage; high_water <= frame_buffers */
    size_t bytes_held;      /* memory of the engine (tl_stream_bytes) */
} tl_stream_stats;

typedef struct tl_stream tl_stream;

/* Allocates everything (the store, the volume, the buffers), plans the filter
 * and starts the threads. Errors name the figure that did not fit. */
tl_status tl_stream_create(const tl_stream_desc *desc, tl_stream **out, tl_error *err) TL_MUST_CHECK;
/* Stops the threads (a scan in progress is abandoned) and frees everything. */
void tl_stream_destroy(tl_stream **stream);
size_t tl_stream_bytes(const tl_stream *stream);

/* Take one frame: image_key 0 projection (slot = its angle's place in
 * angles_deg), 1 flat, 2 dark (slot = 0, 1, ... in arrival order); index = the
 * frame's place in the scan (orders flats before and after the projections).
 * pixels: rows x cols little-endian values of the scan's dtype. Waits while
 * every frame buffer is in use. Each slot once (the caller checks). An error
 * means the scan has failed (a stage's error, e.g. non-finite pixels). */
tl_status tl_stream_put(tl_stream *stream, int image_key, size_t slot, uint64_t index, const void *pixels,
                        tl_error *err) TL_MUST_CHECK;
/* Whether a stage has failed (then tl_stream_put and tl_stream_finish return its error). */
int tl_stream_failed(tl_stream *stream);

/* Wait until every frame taken is through the filter stage, then normalize the
 * deferred projections. Needs all frames (the caller checks completeness).
 * After it, the kept rows are available. */
tl_status tl_stream_drain(tl_stream *stream, tl_error *err) TL_MUST_CHECK;
/* The unfiltered -log sinogram [n_proj][cols] of keep_rows[k] (after drain). */
const float *tl_stream_kept_sinogram(const tl_stream *stream, size_t k);

/* Give the axis (columns) once it is known; backprojection starts. */
void tl_stream_set_axis(tl_stream *stream, double axis);

/* Drain, ring removal and filtering where deferred, the remaining
 * backprojection; the axis must be set. *volume: [rows][n][n], owned by the
 * stream (valid until tl_stream_destroy). */
tl_status tl_stream_finish(tl_stream *stream, const float **volume, tl_stream_stats *stats,
                           tl_error *err) TL_MUST_CHECK;

#endif
