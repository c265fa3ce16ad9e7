/* transpose_cpu.c - cache-blocked projection -> sinogram transpose. */
#include "transpose.h"

#include <string.h>

typedef struct {
    const float *src;
    float *dst;
    size_t n_angles, n_rows, n_cols, dst_stride;
    size_t tiles_per_row_band;
} transpose_ctx;

static void transpose_tiles(void *p, size_t begin, size_t end, int thread)
{
    (void)thread;
    const transpose_ctx *c = p;
    for (size_t t = begin; t < end; t++) {
        size_t row0 = (t / c->tiles_per_row_band) * TL_TRANSPOSE_TILE;
        size_t angle0 = (t % c->tiles_per_row_band) * TL_TRANSPOSE_TILE;
        size_t row1 = row0 + TL_TRANSPOSE_TILE < c->n_rows ? row0 + TL_TRANSPOSE_TILE : c->n_rows;
        size_t angle1 = angle0 + TL_TRANSPOSE_TILE < c->n_angles ? angle0 + TL_TRANSPOSE_TILE : c->n_angles;
        for (size_t row = row0; row < row1; row++)
            for (size_t angle = angle0; angle < angle1; angle++)
                memcpy(c->dst + (row * c->n_angles + angle) * c->dst_stride,
                       c->src + (angle * c->n_rows + row) * c->n_cols, c->n_cols * sizeof(float));
    }
}

void tl_transpose_cpu(const float *src, size_t n_angles, size_t n_rows, size_t n_cols, float *dst,
                      size_t dst_stride, tl_workers *workers)
{
    transpose_ctx c = {.src = src, .dst = dst, .n_angles = n_angles, .n_rows = n_rows, .n_cols = n_cols,
                       .dst_stride = dst_stride};
    c.tiles_per_row_band = (n_angles + TL_TRANSPOSE_TILE - 1) / TL_TRANSPOSE_TILE;
    size_t n_tiles = c.tiles_per_row_band * ((n_rows + TL_TRANSPOSE_TILE - 1) / TL_TRANSPOSE_TILE);
    tl_workers_run(workers, n_tiles, 0, transpose_tiles, &c);
}
