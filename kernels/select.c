/* select.c - Wirth's selection (select.h). */
#include "select.h"

/* The k-th smallest of v[0..n-1] (v is permuted): Wirth's selection (N. Wirth,
 * "Algorithms + Data Structures = Programs", 1976, sec. 2.3.4), O(n) on average. */
float tl_select(float *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[k];
        size_t i = lo, j = hi;
        do {
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        } while (i <= j);
        if (j < k)
            lo = i;
        if (k < i)
            hi = j;
    }
    return v[k];
}
