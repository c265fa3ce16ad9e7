/* cor.c - rotation axis: given, centre of the detector, or searched (tl_cor_find). */
#include "cor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_methods.h"
#include "log.h"

int tl_cor_is_auto(const char *text) { return text && strcmp(text, "auto") == 0; }

tl_status tl_cor_resolve(const char *text, size_t n_cols, double *axis, const char **method, tl_error *err)
{
    if (strcmp(text, "center") == 0) {
        *axis = 0.5 * ((double)n_cols - 1.0);
        *method = "center of the detector";
        return TL_OK;
    }
    if (tl_cor_is_auto(text))
        return tl_error_set(err, TL_ERR_INVALID, "--rotation-axis auto needs a search (tl_cor_find)");
    char *end = NULL;
    double a = strtod(text, &end);
    if (!end || end == text || *end || !isfinite(a))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--rotation-axis: '%s' is not a number (allowed: a column position such as 127.5, "
                            "'center' or 'auto')",
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

static const char *const method_names[] = {
#define X(name, text) text,
    TL_COR_METHOD_TABLE
#undef X
};

const char *tl_cor_method_name(tl_cor_method method)
{
    return (unsigned)method < TL_COR_METHOD_COUNT ? method_names[method] : "?";
}

tl_status tl_cor_method_parse(const char *text, tl_cor_method *method, tl_error *err)
{
    for (int m = 0; m < TL_COR_METHOD_COUNT; m++)
        if (strcmp(text, method_names[m]) == 0) {
            *method = (tl_cor_method)m;
            return TL_OK;
        }
    return tl_error_set(err, TL_ERR_INVALID,
                        "--rotation-axis-method: '%s' is not a method (allowed: entropy, registration, vo, cnn, "
                        "auto)",
                        text);
}
