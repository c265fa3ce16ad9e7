/* rings_impl.h - what each ring-removal method provides to rings.c (internal).
 *
 * A method is a small interface over one sinogram, contiguous [n_angles][n_cols]:
 *   create   check the parameters against the shape (messages name the option,
 *            the value and what is allowed: "--sorting-size 20: must be odd ...")
 *            and allocate everything one thread needs (scratch, FFTW plans,
 *            filters). Called once per worker thread, one thread at a time, so
 *            FFTW planning here is safe.
 *   apply    remove the stripes of one sinogram in place. Allocates nothing,
 *            cannot fail, touches only its own state: states of different
 *            threads run concurrently.
 *   destroy  free the state (accepts NULL).
 *   bytes    the memory the state holds.
 */
#ifndef TL_RINGS_IMPL_H
#define TL_RINGS_IMPL_H

#include <fftw3.h>
#include <stddef.h>

#include "rings.h"

typedef struct tl_rings_impl {
    const char *name;
    tl_status (*create)(const tl_rings_params *p, size_t n_angles, size_t n_cols, void **state, tl_error *err);
    void (*apply)(void *state, float *sino);
    void (*destroy)(void *state);
    size_t (*bytes)(const void *state);
} tl_rings_impl;

/* Destroy a method's FFTW plans (either may be NULL) under the planner lock. */
void tl_rings_destroy_plans(fftwf_plan forward, fftwf_plan backward);

extern const tl_rings_impl tl_rings_fw_impl;        /* rings_fw.c */
extern const tl_rings_impl tl_rings_ti_impl;        /* rings_ti.c */
extern const tl_rings_impl tl_rings_sorting_impl;   /* rings_vo.c */
extern const tl_rings_impl tl_rings_filtering_impl; /* rings_vo.c */
extern const tl_rings_impl tl_rings_large_impl;     /* rings_vo.c */
extern const tl_rings_impl tl_rings_vo_all_impl;    /* rings_vo.c */

#endif
