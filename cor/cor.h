/* cor.h - the rotation axis (centre of rotation) of a scan.
 *
 * --rotation-axis takes the axis position a in detector columns (DESIGN.md:
 * column j sees s = j - a), 'center' for (W-1)/2, or 'auto' to search for it.
 *
 * The searches work on a few sinograms of -log data (line integrals), never on
 * transmissions: entropy, registration of opposite projections, Vo's Fourier
 * double-wedge metric, a small CNN, and 'auto' which combines them. Every
 * method reports the axis in the same column coordinate as --rotation-axis.
 */
#ifndef TL_COR_H
#define TL_COR_H

#include <stddef.h>

#include "fbp.h"
#include "status.h"
#include "workers.h"

/* Resolve the text of --rotation-axis for a detector n_cols wide. *method says
 * how the axis was found ("given", "center of the detector"); static string.
 * 'auto' is not resolved here: it returns TL_ERR_INVALID (callers check
 * tl_cor_is_auto() first and run tl_cor_find()). */
tl_status tl_cor_resolve(const char *text, size_t n_cols, double *axis, const char **method,
                         tl_error *err) TL_MUST_CHECK;
int tl_cor_is_auto(const char *text);

#define TL_COR_METHOD_TABLE                                                                       \
    X(ENTROPY, "entropy")                                                                         \
    X(REGISTRATION, "registration")                                                               \
    X(VO, "vo")                                                                                   \
    X(CNN, "cnn")                                                                                 \
    X(AUTO, "auto")

typedef enum {
#define X(name, text) TL_COR_##name,
    TL_COR_METHOD_TABLE
#undef X
    TL_COR_METHOD_COUNT
} tl_cor_method;

const char *tl_cor_method_name(tl_cor_method method);
/* "entropy" -> TL_COR_ENTROPY; anything else is TL_ERR_INVALID naming the choices. */
tl_status tl_cor_method_parse(const char *text, tl_cor_method *method, tl_error *err) TL_MUST_CHECK;

/* The data a search sees: n_rows sinograms of -log data. */
typedef struct tl_cor_sinograms {
    const float *sino;        /* [n_rows][n_angles][n_cols] */
    size_t n_rows, n_angles, n_cols;
    const double *angles_deg; /* [n_angles], any order */
} tl_cor_sinograms;

typedef struct tl_cor_options {
    /* Candidate axes [window_lo, window_hi] in columns. Both 0: the plausible
     * range, the centre (W-1)/2 +- W/4 (an axis further out leaves less than
     * half of the field of view on one side). */
    double window_lo, window_hi;
    /* How the entropy and CNN searches reconstruct their trial slices. With
     * trial_given 0 (the default) each method's own choice: gridrec for entropy
     * (as fast there, and its minimum is sharper), direct FBP for the CNN
     * (trained on FBP trials; gridrec's grid makes its small crops slower);
     * bench/results/cor_trial_*. With trial_given 1, trial_algorithm for both. */
    int trial_given;
    tl_algorithm trial_algorithm;
} tl_cor_options;

/* What one method found. */
typedef struct tl_cor_estimate {
    int ran;            /* the method was run */
    int found;          /* it produced an axis (else `message` says why) */
    double axis;        /* columns */
    double confidence;  /* 0 (none) .. 1 (sure) */
    double seconds;     /* wall time */
    char message[256];
} tl_cor_estimate;

typedef struct tl_cor_report {
    tl_cor_method method;  /* what was asked for */
    double axis;           /* the answer, columns */
    double confidence;     /* 0..1 */
    char how[160];         /* e.g. "auto: registration and vo agree (0.04 px), refined by entropy" */
    double spread;         /* largest difference between the methods that ran, px (0 for one method) */
    tl_cor_estimate by_method[TL_COR_METHOD_COUNT]; /* [TL_COR_AUTO] unused */
} tl_cor_report;

/* Find the axis with `method`. Degenerate data (fewer than 2 angles, an arc
 * shorter than 180 degrees, sinograms without contrast, a window outside the
 * detector) is TL_ERR_INVALID with a message that says what was wrong; a
 * method that cannot decide is an error too, never a made-up number. With
 * TL_COR_AUTO, a method that fails is reported in by_method[] and the others
 * decide; `spread` > 1 px is logged as a warning by tl_cor_find(). */
tl_status tl_cor_find(const tl_cor_sinograms *in, tl_cor_method method, const tl_cor_options *opt,
                      tl_workers *workers, tl_cor_report *report, tl_error *err) TL_MUST_CHECK;

#endif
