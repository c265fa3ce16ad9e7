/* select.h - the k-th smallest of an array (medians for ring removal and the dezinger). */
#ifndef TL_SELECT_H
#define TL_SELECT_H

#include <stddef.h>

/* The k-th smallest of v[0..n-1] (0 <= k < n; v is permuted): Wirth's
 * selection, O(n) on average. */
float tl_select(float *v, size_t n, size_t k);

#endif
