/* backproject_cpu.c - pixel-driven backprojection with linear interpolation
 * (Kak & Slaney 1988, sec. 3.3.3, eq. 65). See backproject.h for the layout. */
#include "backproject.h"

#include <math.h>
#include <string.h>

#define ROW_BLOCK 8

typedef struct {
    const tl_backproject_args *a;
} bp_ctx;

/* Columns c in [*lo, *hi) whose guarded detector coordinate base + c*step lies in
 * [0, n_cols + 1), i.e. whose two interpolation taps are inside the guarded line. */
static void column_range(float base, float step, size_t n, size_t n_cols, size_t *lo, size_t *hi)
{
    const float upper = (float)n_cols + 1.0f;
    double first, last;
    if (fabsf(step) < 1e-12f) {
        if (base >= 0.0f && base < upper) {
            *lo = 0;
            *hi = n;
        } else {
            *lo = *hi = 0;
        }
        return;
    }
    first = (0.0 - base) / step;
    last = ((double)upper - base) / step;
    if (first > last) {
        double t = first;
        first = last;
        last = t;
    }
    /* a superset, then shrink with the exact expression used in the loop */
    double l = floor(first) - 1, h = ceil(last) + 2;
    size_t a = l < 0 ? 0 : (l > (double)n ? n : (size_t)l);
    size_t b = h < 0 ? 0 : (h > (double)n ? n : (size_t)h);
    while (a < b) {
        float j = base + (float)a * step;
        if (j >= 0.0f && j < upper)
            break;
        a++;
    }
    while (b > a) {
        float j = base + (float)(b - 1) * step;
        if (j >= 0.0f && j < upper)
            break;
        b--;
    }
    *lo = a;
    *hi = b;
}

static void backproject_rows(void *p, size_t begin, size_t end, int thread)
{
    const tl_backproject_args *a = ((bp_ctx *)p)->a;
    const size_t n = a->n;
    int *restrict idx = a->index_scratch + (size_t)thread * n;
    float *restrict wt = a->weight_scratch + (size_t)thread * n;
    const float centre = 0.5f * (float)(n - 1);
    /* row blocks [begin, end) in units of ROW_BLOCK pixel rows */
    size_t r0 = begin * ROW_BLOCK, r1 = end * ROW_BLOCK < n ? end * ROW_BLOCK : n;
    const size_t slice_stride = a->slice_stride ? a->slice_stride : a->n_angles * a->stride;
    if (!a->accumulate)
        for (size_t s = 0; s < a->n_slices; s++)
            memset(a->out + (s * n + r0) * n, 0, (r1 - r0) * n * sizeof(float));
    for (size_t i = 0; i < a->n_angles; i++) {
        const float ct = a->cos_theta[i], st = a->sin_theta[i];
        for (size_t r = r0; r < r1; r++) {
            const float y = (float)r - centre;
            /* guarded coordinate: detector column j = x cos + y sin + a, plus 1 for the guard */
            const float base = -centre * ct + y * st + (float)a->axis + 1.0f;
            size_t lo, hi;
            column_range(base, ct, n, a->n_cols, &lo, &hi);
            for (size_t c = lo; c < hi; c++) {
                float j = base + (float)c * ct;
                int j0 = (int)j;
                idx[c] = j0;
                wt[c] = j - (float)j0;
            }
            for (size_t s = 0; s < a->n_slices; s++) {
                const float *restrict q = a->sino + s * slice_stride + i * a->stride;
                float *restrict o = a->out + (s * n + r) * n;
                for (size_t c = lo; c < hi; c++) {
                    float q0 = q[idx[c]], q1 = q[idx[c] + 1];
                    o[c] += q0 + wt[c] * (q1 - q0);
                }
            }
        }
    }
}

void tl_backproject_cpu(const tl_backproject_args *args, tl_workers *workers)
{
    bp_ctx c = {.a = args};
    size_t n_blocks = (args->n + ROW_BLOCK - 1) / ROW_BLOCK;
    tl_workers_run(workers, n_blocks, 1, backproject_rows, &c);
}
