/* rings.h - ring (stripe) removal on sinograms: plan once, execute per slab.
 *
 * Rings in a reconstruction come from detector pixels whose response the flats
 * do not capture; in a sinogram [angle][column] they are stripes: columns with
 * an offset that is (nearly) constant over the angles. The methods, under the
 * names users know from TomoPy, tomocupy and Algotom:
 *   fw         Fourier-wavelet (Munch et al. 2009)                  rings_fw.c
 *   ti         Titarenko's regularisation (Titarenko et al. 2010)   rings_ti.c
 *   sorting    sorting-based (Vo et al. 2018, algorithm 3)          rings_vo.c
 *   filtering  filtering-based (Vo et al. 2018, algorithm 2)        rings_vo.c
 *   large      large stripes (Vo et al. 2018, algorithm 5)          rings_vo.c
 *   vo-all     unresponsive + large + sorting, as Algotom's
 *              remove_all_stripe (Vo et al. 2018, algorithms 6, 5, 3) rings_vo.c
 * All work on line integrals (sinograms after -log), where a gain error of a
 * pixel is an additive offset of its column.
 *
 * tl_rings_plan_create() checks the parameters against the sinogram shape
 * (messages name the option, the value and what is allowed) and allocates one
 * state per worker thread (scratch, FFT plans, wavelet filters);
 * tl_rings_exec() allocates nothing and runs the sinograms of a slab in
 * parallel, one sinogram per thread at a time.
 */
#ifndef TL_RINGS_H
#define TL_RINGS_H

#include <stddef.h>

#include "status.h"
#include "workers.h"

typedef enum {
    TL_RINGS_NONE = 0,
    TL_RINGS_FW,
    TL_RINGS_TI,
    TL_RINGS_SORTING,
    TL_RINGS_FILTERING,
    TL_RINGS_LARGE,
    TL_RINGS_VO_ALL
} tl_rings_method;

typedef struct tl_rings_params {
    tl_rings_method method;
    /* fw */
    long fw_level;        /* wavelet decomposition levels, >= 1 */
    double fw_sigma;      /* width of the Gaussian notch along the angles, > 0 */
    char fw_filter[32];   /* "haar", "db1".."db20", "sym2".."sym20" */
    int fw_pad;           /* pad the sinogram (both axes) before the transform */
    /* ti */
    double ti_beta;       /* regularisation, 0 < beta <= 1 (smaller: smoother profile) */
    /* sorting */
    long sorting_size;    /* odd median window across columns */
    /* filtering */
    double filtering_sigma; /* Gaussian low-pass along the angles, in frequency samples */
    long filtering_size;    /* odd median window across columns */
    /* large */
    double large_snr;       /* detection threshold, > 1 */
    long large_size;        /* odd median window across columns */
    double large_drop_ratio; /* fraction of the sorted values dropped, half at each end, 0 .. 0.8 */
    /* vo-all */
    double vo_all_snr;
    long vo_all_la_size;  /* odd window for unresponsive and large stripes */
    long vo_all_sm_size;  /* odd window for the final sorting step */
} tl_rings_params;

/* "none", "fw", ... -> method (error names --remove-stripe-method and the allowed values). */
tl_status tl_rings_method_parse(const char *name, tl_rings_method *out, tl_error *err) TL_MUST_CHECK;
const char *tl_rings_method_name(tl_rings_method method);

/* The defaults of the parameter table (method none). */
void tl_rings_params_default(tl_rings_params *p);

typedef struct tl_rings_plan tl_rings_plan;

/* A plan for sinograms of n_angles x n_cols. With method none the plan exists
 * and tl_rings_exec() does nothing. Errors: TL_ERR_INVALID for parameters that
 * do not fit the method or the shape, TL_ERR_NOMEM. */
tl_status tl_rings_plan_create(const tl_rings_params *p, size_t n_angles, size_t n_cols, tl_workers *workers,
                               tl_rings_plan **out, tl_error *err) TL_MUST_CHECK;
void tl_rings_plan_destroy(tl_rings_plan **plan);

/* Remove stripes from n_sino sinograms in place: line (s, a) of sinogram s at
 * angle a holds n_cols floats at sino + (s * n_angles + a) * stride
 * (stride >= n_cols). Allocates nothing; cannot fail. */
void tl_rings_exec(tl_rings_plan *plan, float *sino, size_t n_sino, size_t stride);

/* One sinogram, contiguous [n_angles][n_cols], on the calling thread (state 0). */
void tl_rings_exec_one(tl_rings_plan *plan, float *sino);

tl_rings_method tl_rings_plan_method(const tl_rings_plan *plan);
/* Bytes the plan holds (for the memory report). */
size_t tl_rings_plan_bytes(const tl_rings_plan *plan);
/* One line describing the method and its parameters, e.g.
 * "sorting (Vo et al. 2018), size 21". */
void tl_rings_describe(const tl_rings_params *p, char *buf, size_t size);

#endif
