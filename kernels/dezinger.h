/* dezinger.h - remove zingers (isolated bright outliers) from raw detector frames.
 *
 * A zinger is one pixel of one frame far brighter than its neighbours: a cosmic
 * ray or a scattered high-energy photon hitting the detector. It is not in the
 * flats, so after normalization it is a dark spot in one projection and a streak
 * in the slice. As TomoPy's remove_outlier (Gursoy et al. 2014, "TomoPy: a
 * framework for the analysis of synchrotron tomographic data", J. Synchrotron
 * Rad. 21:1188) and tomocupy's --dezinger (Nikitin 2023, "TomocuPy - efficient
 * GPU-based tomographic reconstruction ...", J. Synchrotron Rad. 30:179) do, a
 * raw value v is replaced by the median m of the N x N window centred on it
 * when
 *     v - m > threshold            (threshold in raw counts)
 * The window lies in the frame (rows x columns of one projection, flat or dark),
 * not along the angles: a zinger is an event of one frame, while the object
 * moves between frames. N is odd; the window is clipped at the frame's edges
 * (the median of the pixels that are there; of an even count, the lower of the
 * two middle values); non-finite values never enter a median and are never
 * replaced (normalization reports them). The median is always taken from the
 * input, never from values already replaced, so the result does not depend on
 * the order of the work or the number of threads, and a frame without outliers
 * comes back bit for bit unchanged.
 *
 * Speed: the median of a window is at least its minimum, so a value within
 * `threshold` of its window's minimum cannot be a zinger. The minimum is a
 * separable filter (along rows, then columns, O(N) per pixel), and the exact
 * median (quickselect over N x N values) is computed only for the values that
 * pass that test: object edges and zingers, a small fraction of a frame.
 *
 * Slabs: a window needs (N - 1) / 2 rows above and below, so a caller working on
 * a slab of rows reads that many more rows around it (tl_dezinger_margin) and
 * asks for the slab's rows only; the result is then the same as on whole frames.
 */
#ifndef TL_DEZINGER_H
#define TL_DEZINGER_H

#include <stddef.h>

#include "status.h"
#include "workers.h"

#define TL_DEZINGER_MAX_SIZE 31

/* Rows of context a window of size N needs on each side: (N - 1) / 2. */
size_t tl_dezinger_margin(size_t size);

/* Floats of scratch tl_dezinger_frame needs for a frame of n_rows x n_cols. */
size_t tl_dezinger_scratch_floats(size_t n_rows, size_t n_cols, size_t size);

/* One frame, out of place: rows [row_begin, row_end) of out (n_rows x n_cols,
 * the same layout as in) get in's values with the zingers replaced; every row of
 * in is context for the windows; other rows of out are not written. out may not
 * overlap in. scratch: tl_dezinger_scratch_floats() floats. Returns the number
 * of values replaced; row_counts (NULL, or [n_rows]) gets each row's number
 * added. size odd, 3..31. */
size_t tl_dezinger_frame(const float *in, float *out, size_t n_rows, size_t n_cols, size_t row_begin, size_t row_end,
                         size_t size, float threshold, float *scratch, size_t *row_counts);

/* Many frames in place, one frame per task on the workers. The plan holds a
 * copy of one frame and the scratch per thread, made once. */
typedef struct tl_dezinger_plan tl_dezinger_plan;

/* Frames of at most max_rows x n_cols. Errors: size not odd in 3..31, a
 * negative or non-finite threshold, out of memory. Caller owns *out. */
tl_status tl_dezinger_plan_create(size_t max_rows, size_t n_cols, size_t size, double threshold, tl_workers *workers,
                                  tl_dezinger_plan **out, tl_error *err) TL_MUST_CHECK;
void tl_dezinger_plan_destroy(tl_dezinger_plan **plan);
size_t tl_dezinger_plan_bytes(const tl_dezinger_plan *plan);

/* frames[n_frames][n_rows][n_cols] in place (n_rows <= max_rows): as
 * tl_dezinger_frame on each frame. Returns the values replaced over all
 * frames; row_counts (NULL, or [n_rows]) gets each row's number (over all
 * frames) added. Allocates nothing. */
size_t tl_dezinger_exec(tl_dezinger_plan *plan, float *frames, size_t n_frames, size_t n_rows, size_t row_begin,
                        size_t row_end, size_t *row_counts);

#endif
