/* filter.h - the ramp filter of filtered backprojection: design (shared host maths)
 * and the CPU (FFTW) plan that applies it to sinogram lines.
 *
 * Design (Kak & Slaney 1988, "Principles of Computerized Tomographic Imaging",
 * sec. 3.3.3, eqs. 61-64): the band-limited ramp is built in the spatial domain,
 *     h(0) = 1/4,  h(n) = -1/(pi^2 n^2) for odd n,  h(n) = 0 for even n != 0,
 * and its DFT over the padded length is the frequency response. Unlike sampling
 * |f| directly, this keeps the correct DC term, so zero padding does not bias the
 * reconstruction (an FBP of exact projections returns the phantom's values).
 * The response is multiplied by a window of the normalised frequency
 * x = f / f_Nyquist in [0, 1]:
 *     ramp    1
 *     shepp   sin(pi x / 2) / (pi x / 2)          (Shepp & Logan 1974)
 *     cosine  cos(pi x / 2)
 *     hamming 0.54 + 0.46 cos(pi x)
 *     hann    0.5 + 0.5 cos(pi x)
 *     parzen  1 - 6 x^2 (1 - x) for x <= 1/2, 2 (1 - x)^3 above
 * Lines are zero-padded to the smallest 2^a 3^b 5^c 7^d >= 2 n_cols (no
 * wrap-around of the linear convolution inside the detector).
 *
 * Angular weights: FBP integrates over theta in [0, pi). Each projection gets
 * the width of the angular interval it stands for, computed on theta mod pi
 * (half the gap to each neighbour, wrapping at pi; gaps wider than twice the
 * median gap are capped), so 180-degree, 360-degree and irregular angle lists
 * all reconstruct quantitatively; for full coverage the weights sum to pi.
 */
#ifndef TL_FILTER_H
#define TL_FILTER_H

#include <stddef.h>

#include "status.h"
#include "workers.h"

typedef enum {
    TL_FILTER_RAMP = 0,
    TL_FILTER_SHEPP,
    TL_FILTER_COSINE,
    TL_FILTER_HAMMING,
    TL_FILTER_HANN,
    TL_FILTER_PARZEN
} tl_filter_window;

/* "ramp", "shepp", ... -> window. */
tl_status tl_filter_parse(const char *name, tl_filter_window *out, tl_error *err) TL_MUST_CHECK;
const char *tl_filter_name(tl_filter_window window);

/* Smallest 2^a 3^b 5^c 7^d >= 2 n_cols. */
size_t tl_filter_padded_size(size_t n_cols);

/* Window at normalised frequency x in [0, 1]. */
double tl_filter_window_value(tl_filter_window window, double x);

/* response[k], k = 0 .. n_padded/2: DFT of the spatial ramp times the window.
 * Not normalised by n_padded. */
void tl_filter_design(tl_filter_window window, size_t n_padded, double *response);

/* weights[i] in radians for angles_deg[i]; see the comment above. Errors on
 * non-finite angles or n < 2. */
tl_status tl_angle_weights(const double *angles_deg, size_t n, double *weights, tl_error *err) TL_MUST_CHECK;

/* FFTW's planner (plan creation and destruction) is not thread-safe: every
 * fftwf_plan_* and fftwf_destroy_plan call in tomoline holds this lock. */
void tl_fftw_planner_lock(void);
void tl_fftw_planner_unlock(void);

/* CPU plan: filters lines of n_cols samples in place. */
typedef struct tl_filter_plan tl_filter_plan;

/* weights[n_angles]: the angular weight of each line, folded into the filter
 * (pass all 1.0 to filter only). Plans FFTW once (all allocation happens here). */
tl_status tl_filter_plan_create(size_t n_angles, size_t n_cols, tl_filter_window window,
                                const double *weights, tl_workers *workers, tl_filter_plan **out,
                                tl_error *err) TL_MUST_CHECK;
void tl_filter_plan_destroy(tl_filter_plan **plan);

/* Filter n_lines lines in place; line l starts at data + l * stride, holds
 * n_cols samples, and is projection (l % n_angles). Allocates nothing. */
void tl_filter_exec(tl_filter_plan *plan, float *data, size_t n_lines, size_t stride);

/* Filter n_lines lines of the one projection `angle` in place, on the calling
 * thread, with the scratch buffers of thread slot `slot` (0 <= slot < the
 * thread count of the plan's workers; no two callers may use one slot at once).
 * For stages that filter each frame as it arrives. Allocates nothing. */
void tl_filter_exec_projection(tl_filter_plan *plan, float *data, size_t n_lines, size_t stride, size_t angle,
                               int slot);
int tl_filter_plan_slots(const tl_filter_plan *plan);

#endif
