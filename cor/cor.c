/* cor.c - rotation axis given by the user or at the detector centre. */
#include "cor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

tl_status tl_cor_resolve(const char *text, size_t n_cols, double *axis, const char **method, tl_error *err)
{
    if (strcmp(text, "center") == 0) {
        *axis = 0.5 * ((double)n_cols - 1.0);
        *method = "center of the detector";
        return TL_OK;
    }
    char *end = NULL;
    double a = strtod(text, &end);
    if (!end || end == text || *end || !isfinite(a))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--rotation-axis: '%s' is not a number (allowed: a column position such as 127.5, "
                            "or 'center')",
                            text);
    if (a < 0 || a > (double)n_cols - 1)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--rotation-axis %s is outside the detector (allowed: 0 to %zu, the columns of the "
                            "%zu-pixel-wide detector; the centre is %.1f)",
                            text, n_cols - 1, n_cols, 0.5 * ((double)n_cols - 1.0));
    *axis = a;
    *method = "given";
    return TL_OK;
}
