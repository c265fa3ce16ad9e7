/* fresnel.h - free-space propagation of a single-material object's exit wave:
 * the phase-contrast model of the simulator (`tomoline sim --propagation-distance`).
 *
 * Model (D. M. Paganin 2006, "Coherent X-Ray Optics", Oxford University Press:
 * the projection approximation and the Fresnel propagator; the forward model
 * that Paganin et al. 2002 invert). A plane monochromatic wave of
 * wavelength lambda crosses an object of one material, n = 1 - delta + i beta,
 * with projected thickness T. With p = mu T the attenuation line integral (mu =
 * 4 pi beta / lambda: what the simulator's projections are), the projection
 * approximation gives the exit wave
 *     psi_0 = exp(-i k delta T - k beta T) = exp(-(1 + i delta/beta) p / 2),
 * (k = 2 pi / lambda), so only delta/beta and p are needed. Free-space
 * propagation over a distance z is the Fresnel (paraxial) transfer function
 *     psi_z = F^-1 [ F[psi_0] exp(-i pi lambda z |f|^2) ]
 * (the constant phase exp(i k z) dropped), and the detector sees I = |psi_z|^2,
 * with I = 1 where the wave met no object. In pixel units only the Fresnel
 * number's inverse F = lambda z / dx^2 enters: exp(-i pi F (fx^2 + fy^2)), f in
 * cycles per pixel. A contact image (z = 0) is exp(-p), the absorption scan.
 *
 * Grid. Rows may be taller than columns are wide (row_pitch = row height /
 * column width; the simulator's rows are 0.5 R / n_rows column pixels apart),
 * so fy is divided by row_pitch. The frame is padded (no wrap-around): columns
 * with open beam (psi = 1) to the next 2^a 3^b 5^c 7^d size >= 2 n_cols (the
 * object lies inside the field of view), rows by mirror reflection to 2 n_rows
 * (the object is taken to continue past the first and last rows as its mirror
 * image, so no artificial edge appears there; the same extension Paganin
 * retrieval uses at the detector's edges). Complex FFTs in float (FFTW), planned
 * once per plan; each worker thread has its own buffer.
 */
#ifndef TL_FRESNEL_H
#define TL_FRESNEL_H

#include <stddef.h>

#include "status.h"
#include "workers.h"

typedef struct tl_fresnel_plan tl_fresnel_plan;

/* Frames of n_rows x n_cols; fresnel = lambda z / dx^2 (>= 0), row_pitch > 0,
 * delta_beta >= 0. Caller owns *out. */
tl_status tl_fresnel_plan_create(size_t n_rows, size_t n_cols, double fresnel, double row_pitch, double delta_beta,
                                 tl_workers *workers, tl_fresnel_plan **out, tl_error *err) TL_MUST_CHECK;
void tl_fresnel_plan_destroy(tl_fresnel_plan **plan);
size_t tl_fresnel_plan_bytes(const tl_fresnel_plan *plan);

/* p[n_rows][n_cols] (line integrals) -> intensity[n_rows][n_cols] (may be p),
 * with slot `slot`'s buffer (0 <= slot < tl_workers_count of the plan's workers).
 * Allocates nothing. */
void tl_fresnel_exec(tl_fresnel_plan *plan, const float *p, float *intensity, int slot);

#endif
