/* cor.h - the rotation axis (centre of rotation) of a scan.
 *
 * --rotation-axis takes the axis position a in detector columns (DESIGN.md:
 * column j sees s = j - a), or 'center' for (W-1)/2. The searches (entropy,
 * 0/180 registration, Vo, CNN, auto) arrive with issue 4 behind this header.
 */
#ifndef TL_COR_H
#define TL_COR_H

#include <stddef.h>

#include "status.h"

/* Resolve the text of --rotation-axis for a detector n_cols wide. *method says
 * how the axis was found ("given", "center of the detector"); static string. */
tl_status tl_cor_resolve(const char *text, size_t n_cols, double *axis, const char **method,
                         tl_error *err) TL_MUST_CHECK;

#endif
