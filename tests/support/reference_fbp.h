/* reference_fbp.h - a textbook filtered backprojection to compare against.
 *
 * Deliberately plain (Kak & Slaney 1988 ch. 3 as usually implemented): the ramp
 * |f| sampled directly in the frequency domain (H[k] = k / n_padded), zero
 * padding to the next power of two >= 2W, linear interpolation, and the uniform
 * weight pi / n_angles (180-degree scans) or pi / n_angles (360-degree scans use
 * the same formula with a factor 1/2). Double precision. Slow; for tests and the
 * accuracy benchmark only.
 */
#ifndef TL_REFERENCE_FBP_H
#define TL_REFERENCE_FBP_H

#include <stddef.h>

/* sino[n_angles][w] -> out[n][n], n = w. arc_deg is 180 or 360. */
void tl_reference_fbp(const float *sino, size_t n_angles, size_t w, const double *angles_deg, double arc_deg,
                      double axis, float *out);

#endif
