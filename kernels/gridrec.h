/* gridrec.h - Fourier reconstruction by gridding ("gridrec"): plan once, execute per slab.
 *
 * The same reconstruction as the direct FBP (fbp.h: the band-limited ramp of
 * filter.h with its window, the angular weights of tl_angle_weights, the noise
 * power response of the FBP's linear interpolation, DESIGN.md geometry and
 * units), computed in O(N^2 log N) per slice instead of O(N^3):
 * each projection's 1-D spectrum is filtered and placed on its line through the
 * 2-D spectrum of the slice (Fourier slice theorem), interpolated onto a
 * Cartesian grid with a Kaiser-Bessel kernel, and the slice comes out of one
 * inverse 2-D FFT (Dowd et al. 1999; Marone & Stampanoni 2012). Two slices share
 * every complex FFT (one as the real, one as the imaginary part).
 *
 * The grid is oversampled twice with respect to both the detector and the
 * output (its side is the smallest 2^a 3^b 5^c 7^d >= 2 max(n, n_cols), the
 * padded length of the FBP filter for n = n_cols), so there is no wrap-around of
 * the ramp filter and the gridding error stays far below the FBP's own
 * discretisation error up to the edge of the field (the automatic padding that
 * unpadded gridrec lacks).
 *
 * Memory of a plan (tl_gridrec_plan_bytes): per worker thread one grid of
 * (M + 16)^2 complex floats (M the grid side: 34 MB for 1024 columns, 135 MB for
 * 2048) and one padded line; shared tables of O(n_angles + M) entries.
 */
#ifndef TL_GRIDREC_H
#define TL_GRIDREC_H

#include <stddef.h>

#include "filter.h"
#include "status.h"
#include "workers.h"

typedef struct tl_gridrec_plan tl_gridrec_plan;

/* n_angles x n_cols sinograms -> n x n slices (n = 0: n_cols; n may exceed n_cols),
 * angles in degrees in any order (180- or 360-degree arcs, irregular steps: the
 * weights of tl_angle_weights), the ramp filter with `window`. One slot of scratch
 * per thread of `workers` (NULL: one); exec must be run with the same workers.
 * All allocation and FFTW planning happen here. Caller owns *out. */
tl_status tl_gridrec_plan_create(size_t n_angles, size_t n_cols, size_t n, const double *angles_deg,
                                 tl_filter_window window, tl_workers *workers, tl_gridrec_plan **out,
                                 tl_error *err) TL_MUST_CHECK;
/* Accepts NULL and *plan == NULL; sets *plan = NULL. */
void tl_gridrec_plan_destroy(tl_gridrec_plan **plan);
/* Bytes the plan holds (for the memory report). */
size_t tl_gridrec_plan_bytes(const tl_gridrec_plan *plan);
/* Side M of the oversampled Fourier grid (and the padded projection length). */
size_t tl_gridrec_plan_grid_size(const tl_gridrec_plan *plan);

/* Reconstruct n_slices UNFILTERED -log sinograms. Line (s, i) (slice s, angle i)
 * has its n_cols values at sino + (s * n_angles + i) * stride + 1 (the guarded
 * layout of backproject.h; stride >= n_cols + 2; the guards are not read and the
 * input is not modified). axis: the rotation axis a in detector columns (column j
 * sees s = j - a), any finite value. out[n_slices][n][n]. Inside the disk the
 * detector sees at every angle the result differs from tl_fbp_exec's by less
 * than the FBP's own error (interpolation); outside it, it differs more (the
 * filtered projections are not cut at the detector edge). Threads over pairs of
 * slices with the plan's workers (one exec at a time per plan); allocates nothing. */
tl_status tl_gridrec_exec(tl_gridrec_plan *plan, const float *sino, size_t stride, size_t n_slices, double axis,
                          float *out, tl_error *err) TL_MUST_CHECK;

#endif
