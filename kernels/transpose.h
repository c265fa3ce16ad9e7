/* transpose.h - projections [angle][row][col] into sinograms [row][angle][col].
 *
 * Columns stay contiguous, so this permutes lines of n_cols floats. Work is cut
 * into tiles of TL_TRANSPOSE_TILE angles x rows so that source and destination
 * lines of a tile stay in cache, and tiles run on the workers. dst_stride is the
 * distance between consecutive angle lines in dst (>= n_cols; lets the caller pad
 * sinogram lines, e.g. for FFT), and the padding is left untouched.
 */
#ifndef TL_TRANSPOSE_H
#define TL_TRANSPOSE_H

#include <stddef.h>

#include "workers.h"

#define TL_TRANSPOSE_TILE 16

void tl_transpose_cpu(const float *src, size_t n_angles, size_t n_rows, size_t n_cols, float *dst,
                      size_t dst_stride, tl_workers *workers);

#endif
