/* trial.h - trial reconstructions of a few sinograms at many candidate axes,
 * and the reduced (binned) sinograms the coarse stages of the searches use.
 *
 * The sinograms are filtered once (the ramp filter does not depend on the
 * axis); each trial only backprojects (fbp.h: tl_fbp_filter/tl_fbp_backproject).
 * Used by the entropy and CNN searches and by `recon --reconstruction-type try`.
 */
#ifndef TL_COR_TRIAL_H
#define TL_COR_TRIAL_H

#include <stddef.h>

#include "cor.h"
#include "filter.h"
#include "fbp.h"
#include "status.h"
#include "workers.h"

typedef struct tl_cor_trial tl_cor_trial;

/* sino[n_rows][n_angles][n_cols] is copied and filtered; slices are n x n
 * (0: n_cols), centred on the axis as in DESIGN.md, by direct FBP or gridrec. */
tl_status tl_cor_trial_create(const tl_cor_sinograms *in, size_t n, tl_filter_window window, tl_algorithm algorithm,
                              tl_workers *workers, tl_cor_trial **out, tl_error *err) TL_MUST_CHECK;
void tl_cor_trial_destroy(tl_cor_trial **trial);
size_t tl_cor_trial_n(const tl_cor_trial *trial);
/* Reconstruct every row at `axis` into out[n_rows][n][n]. */
tl_status tl_cor_trial_slices(tl_cor_trial *trial, double axis, float *out, tl_error *err) TL_MUST_CHECK;

/* A reduced copy of `in`: columns summed in groups of col_bin (a trailing
 * partial group is dropped), every angle_step-th angle kept. The axis of the
 * reduced data a' relates to the full one as a = a' * col_bin + (col_bin-1)/2.
 * out->sino and out->angles_deg are malloc'ed (free both with tl_cor_reduced_free). */
tl_status tl_cor_reduce(const tl_cor_sinograms *in, size_t col_bin, size_t angle_step, tl_cor_sinograms *out,
                        tl_error *err) TL_MUST_CHECK;
void tl_cor_reduced_free(tl_cor_sinograms *reduced);

/* Rows [r0, r0+nr) of `in` as 180-degree parts: two on a 360-degree scan
 * (angles [first, first+180) and [first+180, first+360)), one otherwise. A
 * wrong axis blurs a 360-degree reconstruction symmetrically, which is hard
 * to see, while each half alone shows the lopsided arcs of the error; the
 * entropy and CNN searches judge the halves. Free each with tl_cor_reduced_free. */
tl_status tl_cor_split_halves(const tl_cor_sinograms *in, size_t r0, size_t nr, tl_cor_sinograms parts[2],
                              int *n_parts, tl_error *err) TL_MUST_CHECK;

#endif
