/* test_cor.c - resolving --rotation-axis. */
#include <criterion/criterion.h>
#include <string.h>

#include "cor.h"

Test(cor, center_number_and_errors)
{
    double a;
    const char *how;
    tl_error err = {0};
    cr_assert_eq(tl_cor_resolve("center", 256, &a, &how, &err), TL_OK);
    cr_assert_float_eq(a, 127.5, 1e-12);
    cr_assert_str_eq(how, "center of the detector");
    cr_assert_eq(tl_cor_resolve("130.25", 256, &a, &how, &err), TL_OK);
    cr_assert_float_eq(a, 130.25, 1e-12);
    cr_assert_str_eq(how, "given");
    cr_assert_eq(tl_cor_resolve("0", 256, &a, &how, &err), TL_OK);
    cr_assert_eq(tl_cor_resolve("255", 256, &a, &how, &err), TL_OK);
    cr_assert_eq(tl_cor_resolve("255.5", 256, &a, &how, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--rotation-axis 255.5 is outside the detector (allowed: 0 to 255"), "%s",
              err.message);
    cr_assert_eq(tl_cor_resolve("", 256, &a, &how, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_cor_resolve("12x", 256, &a, &how, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "'12x' is not a number"));
    cr_assert_eq(tl_cor_resolve("nan", 256, &a, &how, &err), TL_ERR_INVALID);
}
