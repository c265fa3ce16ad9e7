/* montage.h - labelled montages: slices as 8-bit tiles in a grid, each with a
 * text label, written as one grey PNG.
 *
 * Made for `recon --reconstruction-type try` (one slice per trial rotation
 * axis, labelled with the axis), usable for any set of same-sized slices.
 *
 * A tl_montage owns a float copy of every tile, reduced when the slices are
 * large: a slice is box-averaged by the smallest integer factor that brings its
 * larger side to at most max_tile pixels. Memory is n_tiles x tile pixels x 4
 * bytes, plus the 8-bit image when rendered; the caller bounds it by max_tile.
 *
 * Rendering maps every tile with ONE grey range (tl_preview_range over the
 * values of all tiles), so tiles compare fairly: a sharper tile looks sharper,
 * not just differently stretched. Each tile sits in a cell under a black label
 * band that holds its label in white, so the label is readable whatever the
 * slice looks like and hides none of it. Cells are separated by grey gaps.
 *
 * Labels use a built-in 5 x 7 pixel bitmap font (tl_font_*), scaled by an
 * integer factor: digits, '.', '-', '+', ':', '=', ',', '/', '(', ')', ' ' and
 * the letters A-Z (lower case is drawn as upper case). A character the font
 * lacks is drawn as a hollow box, so it is visibly wrong rather than silently
 * dropped.
 */
#ifndef TL_MONTAGE_H
#define TL_MONTAGE_H

#include <stddef.h>

#include "status.h"

/* ---- the font ------------------------------------------------------------ */

#define TL_FONT_WIDTH 5   /* glyph cell, pixels at scale 1 */
#define TL_FONT_HEIGHT 7
#define TL_FONT_ADVANCE 6 /* glyph plus one column of space */

/* 1 when the font has a glyph for c (lower-case letters count as upper case). */
int tl_font_has(char c);

/* Size of `text` drawn at `scale` (>= 1): width (len * 6 - 1) * scale, height
 * 7 * scale; 0 x 0 for an empty text. */
void tl_font_text_size(const char *text, int scale, size_t *width, size_t *height);

/* Draw `text` into img (height x width pixels, row stride `stride` bytes) with
 * its top-left corner at column x, row y: glyph pixels are set to `value`, the
 * rest is left as it is; anything outside the image is clipped. */
void tl_font_draw(unsigned char *img, size_t height, size_t width, size_t stride, long x, long y, const char *text,
                  int scale, unsigned char value);

/* ---- the montage --------------------------------------------------------- */

typedef struct tl_montage_desc {
    size_t n_tiles;
    size_t rows, cols; /* size of each slice given to tl_montage_set_tile */
    size_t max_tile;   /* the larger side of a tile at most this (0: full size) */
    size_t columns;    /* tiles per row of the grid (0: ceil(sqrt(n_tiles))) */
} tl_montage_desc;

typedef struct tl_montage tl_montage;

/* Caller owns *out (tl_montage_destroy). */
tl_status tl_montage_create(const tl_montage_desc *desc, tl_montage **out, tl_error *err) TL_MUST_CHECK;
void tl_montage_destroy(tl_montage **m);

/* Tile `index` (row-major in the grid) from slice[rows][cols], and its label
 * (copied; may be NULL or ""). */
tl_status tl_montage_set_tile(tl_montage *m, size_t index, const float *slice, const char *label,
                              tl_error *err) TL_MUST_CHECK;

/* Geometry: tile size after reduction, label scale, the whole image. */
void tl_montage_tile_size(const tl_montage *m, size_t *tile_rows, size_t *tile_cols);
void tl_montage_size(const tl_montage *m, size_t *height, size_t *width);

/* The montage as an 8-bit image (caller frees *pixels) and the values mapped
 * to grey 0 and 255: the clip_percent and 100 - clip_percent percentiles of
 * all tiles together (tl_preview_range). Every tile must have been set. */
tl_status tl_montage_render(const tl_montage *m, double clip_percent, unsigned char **pixels, size_t *height,
                            size_t *width, double *lo, double *hi, tl_error *err) TL_MUST_CHECK;

/* Render and write the PNG at path (PATH.partial, renamed when complete; an
 * existing file is kept unless overwrite). description (may be NULL) goes into
 * the PNG; lo and hi (may be NULL) receive the grey range. */
tl_status tl_montage_write_png(const tl_montage *m, const char *path, double clip_percent, const char *description,
                               int overwrite, double *lo, double *hi, tl_error *err) TL_MUST_CHECK;

#endif
