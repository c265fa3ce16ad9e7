/* cnn.h - the small convolutional network that scores trial reconstructions
 * as well- or badly-centred (Yang, De Carlo, Xiao et al., "A convolutional
 * neural network approach to calibrating the rotation axis for X-ray computed
 * tomography", J. Synchrotron Rad. 24, 469-475 (2017)), and the preparation of
 * its input that inference (cor_cnn.c) and the training-data generator
 * (cor/train/make_patches.c) share, so that both see exactly the same numbers.
 *
 * Network (fixed architecture, format version 1): input one P x P patch (P = 32);
 *   conv 3x3 (1 -> C1, zero padding 1) + ReLU, max-pool 2x2
 *   conv 3x3 (C1 -> C2, zero padding 1) + ReLU, max-pool 2x2
 *   conv 3x3 (C2 -> C3, zero padding 1) + ReLU, max-pool 2x2
 *   dense (C3 * (P/8)^2 -> H) + ReLU, dense (H -> 1), logistic sigmoid
 * The output is the probability that the patch comes from a slice
 * reconstructed within about half a pixel of the true axis.
 *
 * Weights file (little-endian; also cor/weights/README.md):
 *   bytes 0..7   magic "TLCNN\0\0\1"
 *   uint32 x 5   P, C1, C2, C3, H
 *   float32      conv1 w [C1][1][3][3], b [C1]; conv2 w [C2][C1][3][3], b [C2];
 *                conv3 w [C3][C2][3][3], b [C3]; dense1 w [H][C3*(P/8)^2], b [H];
 *                dense2 w [1][H], b [1]
 * (the flattening order of dense1's input is channel, row, column, as in
 * PyTorch). Nothing may follow the last weight; every value must be finite.
 *
 * Input preparation (a "view" of a few sinograms at one binning level):
 *   1. columns averaged in groups of `bin`, every angle_step-th angle kept
 *      (tl_cor_reduce);
 *   2. ring suppression: from every column the difference between its mean
 *      over the angles and a baseline is subtracted, the baseline being the
 *      mean of the medians of those means over the 4 columns on either side
 *      (a mean-column ring filter; a per-column gain error is a constant
 *      offset of the -log data, and the baseline is exact on linear slopes);
 *   3. each row's scale: 2 x the 99.5th percentile of its line integrals /
 *      its number of columns, about the attenuation per pixel of an object
 *      filling half the field of view (the same for every trial axis, so a
 *      smeared trial looks faint, as it is);
 *   4. the columns padded by half the width on both sides with the edge
 *      values, so that the whole n x n trial slice is seen by every
 *      projection for any axis on the detector;
 *   5. trial slices n x n centred on the axis (trial.h), ramp filter;
 *   6. patch positions fixed by tl_cnn_view_pick at one reference axis: per
 *      row the k non-overlapping P x P windows (on a grid of stride P/2) with
 *      the most gradient energy, ignoring windows with less than 2 % of the
 *      best; a wrong axis blurs the slice in place (the point spread is a
 *      circle or half circle of radius |offset| around each point), so the
 *      same windows show the same features at every nearby trial axis;
 *   7. patch values divided by the row's scale.
 */
#ifndef TL_CNN_H
#define TL_CNN_H

#include <stddef.h>

#include "cor.h"
#include "status.h"
#include "workers.h"

#define TL_CNN_PATCH 32
/* the coarsest level bins the columns by the smallest power of 2 that leaves
 * at most this many; trial slices are at most TL_CNN_MAX_N wide */
#define TL_CNN_COARSE_COLS 160
#define TL_CNN_MAX_N 256

typedef struct tl_cnn tl_cnn;

/* Parse a weights blob (copied). `what` names it in messages. Caller owns *out. */
tl_status tl_cnn_load(const unsigned char *data, size_t size, const char *what, tl_cnn **out,
                      tl_error *err) TL_MUST_CHECK;
/* The weights built into tomoline (cor/weights/cor_cnn_v1.bin). */
tl_status tl_cnn_load_builtin(tl_cnn **out, tl_error *err) TL_MUST_CHECK;
void tl_cnn_destroy(tl_cnn **net);
/* Scratch floats one tl_cnn_score call needs (one buffer per thread). */
size_t tl_cnn_scratch_floats(const tl_cnn *net);
/* Probability that one prepared patch [P][P] is well centred. */
double tl_cnn_score(const tl_cnn *net, const float *patch, float *scratch);

/* Step 2 above on one sinogram sino[n_angles][n_cols], in place. */
void tl_cnn_suppress_rings(float *sino, size_t n_angles, size_t n_cols);
/* Step 3: the scale of one sinogram (0 when it has no positive value). */
double tl_cnn_sino_scale(const float *sino, size_t n_angles, size_t n_cols);

/* The coarsest binning for a detector n_cols wide, and for a level `bin` the
 * angle step and the trial slice size used there. */
size_t tl_cnn_coarse_bin(size_t n_cols);
void tl_cnn_level_shape(size_t n_cols, size_t n_angles, size_t bin, size_t *angle_step, size_t *n);

typedef struct tl_cnn_view tl_cnn_view;

/* Steps 1-5 for the rows of `in` at binning `bin`, with up to k patches per
 * row. Caller owns *out. */
tl_status tl_cnn_view_create(const tl_cor_sinograms *in, size_t bin, size_t k, tl_algorithm trial,
                             tl_workers *workers, tl_cnn_view **out, tl_error *err) TL_MUST_CHECK;
void tl_cnn_view_destroy(tl_cnn_view **view);
/* Patches per trial axis at most (rows x k): the size of tl_cnn_view_patches' output in patches. */
size_t tl_cnn_view_capacity(const tl_cnn_view *view);
size_t tl_cnn_view_bin(const tl_cnn_view *view);
/* Step 6: fix the patch positions from the trial slices at `axis` (full-resolution columns). */
tl_status tl_cnn_view_pick(tl_cnn_view *view, double axis, tl_error *err) TL_MUST_CHECK;
/* Step 7: the patches of the trial slices at `axis` (full-resolution columns)
 * at the picked positions: out[*count][P][P], *count <= capacity. */
tl_status tl_cnn_view_patches(tl_cnn_view *view, double axis, float *out, size_t *count,
                              tl_error *err) TL_MUST_CHECK;

/* The window selection of step 6 on one slice [n][n] (exposed for tests):
 * writes up to k offsets y0 * n + x0 of windows to pos, returns how many. */
size_t tl_cnn_pick_windows(const float *slice, size_t n, size_t k, size_t *pos);

#endif
