/* cor_methods.h - the individual centre searches behind tl_cor_find() (cor.h).
 *
 * Each takes validated input (tl_cor_check), the search window [lo, hi] in
 * columns, how trial slices are reconstructed (`trial`: entropy and CNN; the
 * others do not reconstruct and ignore it), and fills *est (found, axis, confidence, message). A method that
 * cannot decide sets est->found = 0 with the reason and returns TL_ERR_INVALID
 * with the same reason; only allocation failures are other errors.
 */
#ifndef TL_COR_METHODS_H
#define TL_COR_METHODS_H

#include "cor.h"

/* Checks shared by all methods (see tl_cor_find); fills *arc_deg with the
 * angular range the projections cover (last - first + one step). */
tl_status tl_cor_check(const tl_cor_sinograms *in, double *arc_deg, tl_error *err) TL_MUST_CHECK;
/* The window of opt, or the default plausible range; checked against the detector. */
tl_status tl_cor_window(const tl_cor_options *opt, size_t n_cols, double *lo, double *hi,
                        tl_error *err) TL_MUST_CHECK;

/* Donath et al. 2006: minimum histogram entropy of trial reconstructions. */
tl_status tl_cor_entropy(const tl_cor_sinograms *in, double lo, double hi, tl_algorithm trial, tl_workers *workers,
                         tl_cor_estimate *est, tl_error *err) TL_MUST_CHECK;
/* Phase correlation of opposite projections (mirrored), sub-pixel peak. */
tl_status tl_cor_registration(const tl_cor_sinograms *in, double lo, double hi, tl_algorithm trial,
                              tl_workers *workers, tl_cor_estimate *est, tl_error *err) TL_MUST_CHECK;
/* Vo et al. 2014: double-wedge Fourier metric of the sinogram joined with its mirror. */
tl_status tl_cor_vo(const tl_cor_sinograms *in, double lo, double hi, tl_algorithm trial, tl_workers *workers,
                    tl_cor_estimate *est, tl_error *err) TL_MUST_CHECK;
/* Yang et al. 2017: a small CNN scores trial reconstructions (cor_cnn.c). */
tl_status tl_cor_cnn(const tl_cor_sinograms *in, double lo, double hi, tl_algorithm trial, tl_workers *workers,
                     tl_cor_estimate *est, tl_error *err) TL_MUST_CHECK;

#endif
