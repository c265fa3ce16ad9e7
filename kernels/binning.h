/* binning.h - b x b detector binning (--binning 0|1|2|3: b = 1, 2, 4, 8).
 *
 * A binned pixel is the mean of a whole b x b block of detector pixels, blocks
 * aligned on detector row 0 and column 0: binned pixel (i, j) covers rows
 * [i b, i b + b) and columns [j b, j b + b). Rows and columns past the last whole
 * block (the trailing n mod b) are left out, as TomoPy's downsample and
 * tomocupy's binning do: a partial block would average fewer pixels and be
 * noisier than its neighbours. The block is summed in double and divided once,
 * so the mean of a binned frame equals the mean of the pixels it covers to float
 * rounding (exactly the frame's mean when both sizes are multiples of b).
 *
 * Geometry: binned column j is centred on raw column j b + (b - 1) / 2, so a
 * rotation axis at raw column a is at binned column (a - (b - 1) / 2) / b
 * (tl_binning_axis); the same holds for rows.
 */
#ifndef TL_BINNING_H
#define TL_BINNING_H

#include <stddef.h>

#include "workers.h"

/* 2^level for level 0..3, 0 otherwise. */
size_t tl_binning_factor(long level);

/* The axis (or any column coordinate) in binned pixels. */
double tl_binning_axis(double raw_axis, size_t factor);
/* Back to raw detector columns: a b + (b - 1) / 2. */
double tl_binning_axis_raw(double binned_axis, size_t factor);

/* out[n_rows / b][n_cols / b] = mean of each whole b x b block of
 * in[n_rows][n_cols]. out may not overlap in. Allocates nothing. */
void tl_binning_frame(const float *in, size_t n_rows, size_t n_cols, size_t factor, float *out);

/* Frames [n_frames][n_rows][n_cols] -> [n_frames][n_rows / b][n_cols / b],
 * one frame per task on the workers (NULL: serial). */
void tl_binning_frames(const float *in, size_t n_frames, size_t n_rows, size_t n_cols, size_t factor, float *out,
                       tl_workers *workers);

#endif
