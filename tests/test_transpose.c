/* test_transpose.c - projections to sinograms is an exact permutation. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "transpose.h"
#include "workers.h"

static void check(size_t na, size_t nr, size_t nc, size_t stride, int threads)
{
    float *src = malloc(na * nr * nc * sizeof *src);
    float *dst = malloc(nr * na * stride * sizeof *dst);
    for (size_t i = 0; i < na * nr * nc; i++)
        src[i] = (float)i;
    for (size_t i = 0; i < nr * na * stride; i++)
        dst[i] = -1.0f;
    tl_workers *w = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_workers_create(threads, &w, &err), TL_OK);
    tl_transpose_cpu(src, na, nr, nc, dst, stride, w);
    for (size_t a = 0; a < na; a++)
        for (size_t r = 0; r < nr; r++) {
            for (size_t c = 0; c < nc; c++)
                cr_assert_eq(dst[(r * na + a) * stride + c], src[(a * nr + r) * nc + c]);
            for (size_t c = nc; c < stride; c++)
                cr_assert_eq(dst[(r * na + a) * stride + c], -1.0f, "padding must be left untouched");
        }
    tl_workers_destroy(&w);
    free(src);
    free(dst);
}

Test(transpose, exact_for_tile_multiples_and_ragged_edges)
{
    check(32, 16, 8, 8, 1);
    check(37, 5, 11, 11, 2);
    check(1, 1, 1, 1, 3);
    check(100, 19, 7, 10, 2);
}
