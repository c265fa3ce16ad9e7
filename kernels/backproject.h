/* backproject.h - parallel-beam backprojection with linear interpolation.
 *
 * out[s][r][c] = sum_i q_s,i(x cos(theta_i) + y sin(theta_i) + a), with
 * x = c - (N-1)/2, y = r - (N-1)/2 (DESIGN.md geometry) and q linearly
 * interpolated between detector columns, zero outside the detector. Angular
 * weights are expected to be folded into q already (the filter does it).
 *
 * Layout of the filtered sinograms: line (s, i) starts at sino + (s*n_angles + i)
 * * stride; element 0 is a zero guard, columns 0..n_cols-1 are at 1..n_cols, and
 * element n_cols+1 is a zero guard (stride >= n_cols + 2). The guards make the
 * interpolation exact at the detector edges without a branch in the inner loop.
 *
 * Work is split over square tiles of pixels, taken by the threads one at a time;
 * a tile sweeps blocks of angles whose line spans stay in cache, with its sums in
 * registers, and the detector coordinates of a tile row are computed once per
 * angle for a group of slices. Vectorised with AVX-512 or AVX2 where the CPU has
 * them (chosen at run time), portable C elsewhere; TOMOLINE_SIMD=generic|avx2|avx512
 * in the environment caps the choice. Every path computes each term with the
 * same float operations in the same order and sums a pixel's angles in angle
 * order, so results are bit for bit the same on all paths and thread counts, and
 * accumulate passes over consecutive angle ranges equal one pass exactly. The
 * kernel allocates nothing. Design and references: backproject_cpu.c.
 */
#ifndef TL_BACKPROJECT_H
#define TL_BACKPROJECT_H

#include <stddef.h>

#include "workers.h"

typedef struct tl_backproject_args {
    const float *sino;     /* filtered sinograms, guarded layout above */
    size_t stride;         /* >= n_cols + 2 */
    size_t slice_stride;   /* floats from line (s, i) to line (s+1, i); 0: n_angles * stride. Lets a caller
                              backproject angles [i0, i1) of a larger sinogram: sino at line i0, n_angles =
                              i1 - i0, slice_stride = all angles * stride, cos/sin tables from i0 */
    size_t n_slices, n_angles, n_cols;
    const float *cos_theta, *sin_theta; /* [n_angles] */
    double axis;           /* a, in detector columns */
    size_t n;              /* output grid N x N */
    float *out;            /* [n_slices][N][N], overwritten (or added to, with accumulate) */
    int accumulate;        /* add to out instead of overwriting it: angles in several passes, in angle
                              order, give the same sums as one pass */
} tl_backproject_args;

void tl_backproject_cpu(const tl_backproject_args *args, tl_workers *workers);

#endif
