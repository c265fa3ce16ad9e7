/* paganin.h - single-material phase retrieval (--retrieve-phase-method paganin).
 *
 * Paganin, Mayo, Gureyev, Miller & Wilkins 2002, "Simultaneous phase and
 * amplitude extraction from a single defocused image of a homogeneous object",
 * J. Microscopy 206:33-40, eq. 8: for an object of one material (refractive
 * index n = 1 - delta + i beta) imaged at a distance z behind it, the intensity
 * I_z, divided by the flat field, is the contact transmission exp(-mu T) blurred
 * by the Laplacian term of the transport-of-intensity equation, and
 *     exp(-mu T) = F^-1 [ F[I_z / I_0] / (1 + pi lambda z (delta / beta) |f|^2) ],
 *     mu = 4 pi beta / lambda,
 * f the spatial frequency in cycles per metre, T the projected thickness. In
 * cycles per pixel (pixel size dx) the filter is
 *     H(f) = 1 / (1 + c |f|^2),   c = pi lambda z (delta / beta) / dx^2,
 * lambda = h c / E = 1.239841984e-9 m keV / E. tl_paganin_coefficient() gives c.
 * TomoPy and tomocupy write the same filter as 1 / (lambda z |k|^2 / (4 pi) +
 * alpha) with k = 2 pi f, i.e. alpha = beta / delta, but leave it scaled by
 * 1 / alpha; here H(0) = 1, so the filtered image stays a transmission and its
 * -log is mu T, the attenuation line integral in the pipeline's usual unit: a
 * reconstruction gives mu x pixel size per pixel, as without phase retrieval,
 * and the projected thickness is -log / mu (mu from beta and the energy).
 *
 * Padding (no wrap-around). H is a low-pass whose kernel in real space decays as
 * exp(-r / L), L = sqrt(c) / (2 pi) pixels (its profile along one axis is
 * exp(-|y| / L) / (2 L)); the weight it puts beyond M = ceil(L ln(1 / TAIL))
 * pixels is TAIL = 1e-4 (tl_paganin_margin). Each frame is extended by at least
 * M pixels on every side to the next even 2^a 3^b 5^c 7^d size by mirror reflection
 * (the edge pixel repeated: no jump at the border, so no ringing, and a frame
 * whose edges are open beam stays open beam), filtered by one 2-D real FFT, and
 * cropped. A slab of rows therefore needs M rows of real data above and below it
 * to match the whole-frame result to within TAIL of the local contrast: the
 * caller reads that margin (cli/preprocess.c) and the mirror padding only
 * replaces data beyond the detector's first and last rows.
 *
 * Plans (FFTW float, the wisdom rule of fftw_wisdom.h) are made once per plan
 * for its padded shape and reused for every frame; each worker thread has its
 * own in-place buffer of padded_rows x 2 (padded_cols / 2 + 1) floats.
 */
#ifndef TL_PAGANIN_H
#define TL_PAGANIN_H

#include <stddef.h>

#include "status.h"
#include "workers.h"

#define TL_PAGANIN_TAIL 1e-4
#define TL_HC_KEV_M 1.239841984e-9 /* h c in keV x metres (CODATA 2018): lambda = TL_HC_KEV_M / E */

/* Smallest even 2^a 3^b 5^c 7^d >= n (a >= 1: at 2048 + 2 x 65, FFTW ESTIMATE takes 43 ms
 * for 2240 x 2240 and 92 ms for 2187 = 3^7, bench_preprocess). */
size_t tl_fft_good_size(size_t n);

typedef struct tl_paganin_params {
    double energy_kev;   /* > 0 */
    double distance_m;   /* sample to detector, > 0 */
    double pixel_size_m; /* of the frames filtered (binned: b x the detector's), > 0 */
    double delta_beta;   /* delta / beta of the material, > 0 */
} tl_paganin_params;

/* lambda in metres for a photon energy in keV. */
double tl_xray_wavelength_m(double energy_kev);
/* c of H(f) = 1 / (1 + c |f|^2), f in cycles per pixel. */
double tl_paganin_coefficient(const tl_paganin_params *p);
/* H at (fy, fx) cycles per pixel. */
double tl_paganin_response(double coefficient, double fy, double fx);
/* M: pixels of context on each side for a kernel weight of TL_PAGANIN_TAIL beyond. */
size_t tl_paganin_margin(double coefficient);

typedef struct tl_paganin_desc {
    size_t max_rows, n_cols; /* largest frame filtered */
    double coefficient;      /* c, > 0 */
    size_t padded_rows, padded_cols; /* 0: automatic, the good size >= n + 2 M; else at least n + 2 */
} tl_paganin_desc;

typedef struct tl_paganin_plan tl_paganin_plan;

/* Errors: empty frames, c not > 0, padded sizes too small, out of memory, FFTW
 * cannot plan. Caller owns *out. */
tl_status tl_paganin_plan_create(const tl_paganin_desc *desc, tl_workers *workers, tl_paganin_plan **out,
                                 tl_error *err) TL_MUST_CHECK;
void tl_paganin_plan_destroy(tl_paganin_plan **plan);
size_t tl_paganin_plan_bytes(const tl_paganin_plan *plan);
void tl_paganin_plan_padded(const tl_paganin_plan *plan, size_t *rows, size_t *cols);
int tl_paganin_plan_slots(const tl_paganin_plan *plan);

/* In place on transmissions frames[n_frames][n_rows][n_cols] (n_rows <=
 * max_rows, n_cols as planned), one frame per task on the workers. */
void tl_paganin_exec(tl_paganin_plan *plan, float *frames, size_t n_frames, size_t n_rows);
/* One frame with slot `slot`'s buffer (0 <= slot < tl_paganin_plan_slots). */
void tl_paganin_frame(tl_paganin_plan *plan, float *frame, size_t n_rows, int slot);

#endif
