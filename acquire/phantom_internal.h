/* phantom_internal.h - what sim.c needs from phantom.c beyond sim.h (private to acquire/). */
#ifndef TL_PHANTOM_INTERNAL_H
#define TL_PHANTOM_INTERNAL_H

#include <stddef.h>

#include "sim.h"

/* tl_phantom_project_row() writing angle i at out + i * angle_stride (floats),
 * so a slab [angle][row][col] can be filled row by row without a copy. */
void tl_phantom_project_row_strided(const tl_phantom *phantom, size_t row, const double *angles_deg,
                                    size_t n_angles, float *out, size_t angle_stride);

/* One ellipsoid in normalised coordinates (unit R, origin on the rotation
 * axis, y as in DESIGN.md's slice frame): density, semi-axes a (along the
 * direction phi_deg from +x towards +y), b, c (along z), centre. */
typedef struct tl_ellipsoid {
    double rho, a, b, c, x0, y0, z0, phi_deg;
} tl_ellipsoid;

/* A phantom of the given ellipsoids with radius R = radius pixels (the fit
 * rule of tl_phantom_create is not applied: tests place objects themselves).
 * Caller owns *out. */
tl_status tl_phantom_create_custom(size_t n_cols, size_t n_rows, double axis, double radius,
                                   const tl_ellipsoid *ellipsoids, size_t n, tl_phantom **out,
                                   tl_error *err) TL_MUST_CHECK;

/* Attenuation per pixel of unit density: TL_PHANTOM_ATTENUATION / R. */
double tl_phantom_scale(const tl_phantom *phantom);
/* R, the phantom radius in pixels (the unit of its normalised coordinates). */
double tl_phantom_radius(const tl_phantom *phantom);

#endif
