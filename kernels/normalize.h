/* normalize.h - dark/flat correction and -log.
 *
 * t = (P - D) / (F - D) with D, F the mean dark and flat of each detector pixel;
 * the result is -log(t), the line integral in pixel units (DESIGN.md).
 *
 * Policy for values that have no logarithm (documented in README, "Normalization"):
 *   - NaN or infinite raw pixels (projection, flat or dark) are an error naming the
 *     frame, row and column: they mean a broken file or detector, not a dim pixel.
 *   - Detector pixels whose flat is not brighter than their dark (F - D <= 0) are
 *     "dead". If more than TL_NORMALIZE_MAX_DEAD_FRACTION of the pixels in a slab are
 *     dead, the scan is rejected ("flats not brighter than darks"); otherwise dead
 *     pixels get t = 1 (zero attenuation), are counted and reported.
 *   - Transmissions t <= TL_NORMALIZE_FLOOR (photon starvation, noise below the dark)
 *     are raised to TL_NORMALIZE_FLOOR, counted and reported; -log never sees t <= 0.
 */
#ifndef TL_NORMALIZE_H
#define TL_NORMALIZE_H

#include <stddef.h>

#include "status.h"
#include "workers.h"

#define TL_NORMALIZE_FLOOR 1e-6f
#define TL_NORMALIZE_MAX_DEAD_FRACTION 0.01

typedef struct tl_normalize_stats {
    size_t n_values;      /* values normalized */
    size_t n_floored;     /* t <= floor, raised to the floor */
    size_t n_dead_pixels; /* detector pixels with F <= D */
} tl_normalize_stats;

/* In place on proj[n_proj][n_rows][n_cols] (raw counts in, -log(t) or t out).
 * flat, dark: [n_rows][n_cols]. row_offset is the detector row of row 0, for
 * messages. stats (optional) accumulates counts. */
tl_status tl_normalize_cpu(float *proj, size_t n_proj, size_t n_rows, size_t n_cols, const float *flat,
                           const float *dark, int minus_log, size_t row_offset, tl_workers *workers,
                           tl_normalize_stats *stats, tl_error *err) TL_MUST_CHECK;

/* The same with flats taken before and after the projections: the flat of
 * projection i is (1 - w[i]) flat_before + w[i] flat_after, w linear in the frame
 * index (the beam decays or drifts during the scan). A pixel is dead when either
 * flat is not brighter than the dark. after_weight == NULL: flat_before alone. */
tl_status tl_normalize_interp_cpu(float *proj, size_t n_proj, size_t n_rows, size_t n_cols,
                                  const float *flat_before, const float *flat_after, const double *after_weight,
                                  const float *dark, int minus_log, size_t row_offset, tl_workers *workers,
                                  tl_normalize_stats *stats, tl_error *err) TL_MUST_CHECK;

/* Prepared tables for normalizing one line at a time (streaming: each frame as
 * it arrives). Made once when the flats and darks are known; the same policy
 * and the same arithmetic as tl_normalize_interp_cpu. flat_after NULL: one
 * flat. Checks the dead-pixel policy over all n_rows x n_cols pixels. */
typedef struct tl_normalize_tables tl_normalize_tables;
tl_status tl_normalize_tables_create(const float *flat_before, const float *flat_after, const float *dark,
                                     size_t n_rows, size_t n_cols, size_t row_offset, tl_normalize_tables **out,
                                     size_t *n_dead, tl_error *err) TL_MUST_CHECK;
void tl_normalize_tables_destroy(tl_normalize_tables **tables);
/* In place on line[n_cols] of raw counts of table row `row`; weight_after is
 * the projection's w (ignored with one flat). Returns the number of values
 * raised to the floor; *non_finite gets the column of the first NaN/infinite
 * raw value, or SIZE_MAX (that value is set to 0). Allocates nothing. */
size_t tl_normalize_line(const tl_normalize_tables *tables, size_t row, double weight_after, int minus_log,
                         float *line, size_t *non_finite);

#endif
