/* fbp.h - filtered backprojection of sinogram slabs: plan once, execute per slab.
 *
 * tl_fbp_plan_create() resolves the backend, computes the angular weights and
 * the trigonometric tables, designs the filter, plans the FFTs and allocates the
 * slab buffer; tl_fbp_exec() allocates nothing (STYLE.md, practice 4).
 *
 * The plan owns a sinogram buffer of max_slices x n_angles lines in the guarded
 * layout of backproject.h. Callers either write into it directly
 * (tl_fbp_sino_line(), e.g. the transpose does) and call tl_fbp_exec(), or hand
 * over contiguous sinograms with tl_fbp_exec_copy().
 *
 * Memory of a plan: max_slices * n_angles * (n_cols + 2) floats for the slab,
 * plus per worker one padded FFT line (gridrec: its grids, gridrec.h).
 */
#ifndef TL_FBP_H
#define TL_FBP_H

#include <stddef.h>

#include "backend.h"
#include "filter.h"
#include "status.h"
#include "workers.h"

/* How slices are made from the sinograms: direct filtered backprojection, or
 * Fourier gridding (gridrec.h), which takes the same unfiltered input. */
typedef enum { TL_ALGORITHM_FBP = 0, TL_ALGORITHM_GRIDREC } tl_algorithm;
/* "fbp" | "gridrec" -> algorithm; anything else is TL_ERR_INVALID naming the choices. */
tl_status tl_algorithm_parse(const char *name, tl_algorithm *out, tl_error *err) TL_MUST_CHECK;
const char *tl_algorithm_name(tl_algorithm algorithm);

typedef struct tl_fbp_desc {
    size_t n_angles, n_cols;   /* sinogram shape */
    size_t n;                  /* output slices are n x n (0: n_cols) */
    size_t max_slices;         /* slices per tl_fbp_exec call, at most */
    const double *angles_deg;  /* [n_angles] */
    double axis;               /* rotation axis a, detector columns */
    tl_filter_window window;
    tl_backend backend;
    tl_algorithm algorithm;    /* TL_ALGORITHM_FBP (0) unless asked */
} tl_fbp_desc;

typedef struct tl_fbp_plan tl_fbp_plan;

tl_status tl_fbp_plan_create(const tl_fbp_desc *desc, tl_workers *workers, tl_fbp_plan **out,
                             tl_error *err) TL_MUST_CHECK;
void tl_fbp_plan_destroy(tl_fbp_plan **plan);

/* Where to put column 0 of line (slice, angle) in the plan's buffer; n_cols floats. */
float *tl_fbp_sino_line(tl_fbp_plan *plan, size_t slice, size_t angle);
/* Distance between consecutive lines of the plan's buffer, in floats. */
size_t tl_fbp_sino_stride(const tl_fbp_plan *plan);

/* Filter and backproject the first n_slices slices of the plan's buffer into
 * out[n_slices][n][n]. The buffer's contents are consumed (filtered in place). */
tl_status tl_fbp_exec(tl_fbp_plan *plan, size_t n_slices, float *out, tl_error *err) TL_MUST_CHECK;

/* The two halves of tl_fbp_exec, for trial reconstructions at many axes (the
 * centre search, try mode): filter the buffer once in place, then backproject
 * the filtered buffer as often as needed, each time with its own axis (the
 * buffer is left as it is). With gridrec, the filter step does nothing (gridrec
 * filters in Fourier space) and each "backprojection" is a gridrec of the
 * unfiltered buffer. */
tl_status tl_fbp_filter(tl_fbp_plan *plan, size_t n_slices, tl_error *err) TL_MUST_CHECK;
tl_status tl_fbp_backproject(tl_fbp_plan *plan, size_t n_slices, double axis, float *out,
                             tl_error *err) TL_MUST_CHECK;

/* Same, from contiguous sinograms sino[n_slices][n_angles][n_cols]. */
tl_status tl_fbp_exec_copy(tl_fbp_plan *plan, const float *sino, size_t n_slices, float *out,
                           tl_error *err) TL_MUST_CHECK;

/* Bytes the plan holds (for the memory report). */
size_t tl_fbp_plan_bytes(const tl_fbp_plan *plan);

#endif
