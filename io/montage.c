/* montage.c - labelled montages of slices (see montage.h).
 *
 * Layout of the image, for a grid of C columns and R rows of cells:
 *
 *   G | band | G | band | ... G      G = GAP pixels of grey GAP_GREY
 *     | tile |   | tile |            band = label band, black, the label in
 *   G                                       white, centred
 *     ...                            tile = the reduced slice
 *
 *   width  = C * tile_cols + (C + 1) * GAP
 *   height = R * (band + tile_rows) + (R + 1) * GAP
 *   band   = 7 * scale + 2 * pad, pad = 2 * scale (0 when no tile has a label)
 *
 * The label scale is one for all tiles: about tile_cols / 48 (1 to 4), lowered
 * until the longest label fits the tile width with its padding.
 */
#include "montage.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "png_write.h"
#include "preview.h"

#define GAP 4
#define GAP_GREY 96
#define BAND_GREY 0
#define TEXT_GREY 255
#define LABEL_MAX 64

/* ---- the font ------------------------------------------------------------ */

/* A 5 x 7 font in the style of the HD44780 character generator: each glyph is
 * 7 rows of 5 columns, '#' = ink. */
typedef struct glyph {
    char c;
    const char *rows[TL_FONT_HEIGHT];
} glyph;

static const glyph font[] = {
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
    {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
    {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
    {',', {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
    {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
    {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
    {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
    {'=', {".....", ".....", "#####", ".....", "#####", ".....", "....."}},
    {'/', {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."}},
    {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
    {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
    {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'A', {".###.", "#...#", "#...#", "#...#", "#####", "#...#", "#...#"}},
    {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."}},
    {'C', {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."}},
    {'D', {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."}},
    {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####"}},
    {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#...."}},
    {'G', {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"}},
    {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'I', {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
    {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"}},
    {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
    {'M', {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"}},
    {'N', {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"}},
    {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
    {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"}},
    {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
    {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####."}},
    {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
    {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."}},
    {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"}},
    {'Y', {"#...#", "#...#", "#...#", ".#.#.", "..#..", "..#..", "..#.."}},
    {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"}},
};

/* Drawn for a character the font lacks. */
static const glyph missing = {'?', {"#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####"}};

static const glyph *find_glyph(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
        if (font[i].c == c)
            return &font[i];
    return NULL;
}

int tl_font_has(char c) { return find_glyph(c) != NULL; }

void tl_font_text_size(const char *text, int scale, size_t *width, size_t *height)
{
    size_t len = text ? strlen(text) : 0;
    if (scale < 1)
        scale = 1;
    *width = len ? (len * TL_FONT_ADVANCE - 1) * (size_t)scale : 0;
    *height = len ? (size_t)TL_FONT_HEIGHT * (size_t)scale : 0;
}

void tl_font_draw(unsigned char *img, size_t height, size_t width, size_t stride, long x, long y, const char *text,
                  int scale, unsigned char value)
{
    if (!img || !text)
        return;
    if (scale < 1)
        scale = 1;
    long s = scale;
    for (size_t k = 0; text[k]; k++) {
        const glyph *g = find_glyph(text[k]);
        if (!g)
            g = &missing;
        long gx = x + (long)k * TL_FONT_ADVANCE * s;
        for (long r = 0; r < TL_FONT_HEIGHT; r++)
            for (long c = 0; c < TL_FONT_WIDTH; c++) {
                if (g->rows[r][c] != '#')
                    continue;
                for (long dy = 0; dy < s; dy++) {
                    long py = y + r * s + dy;
                    if (py < 0 || py >= (long)height)
                        continue;
                    for (long dx = 0; dx < s; dx++) {
                        long px = gx + c * s + dx;
                        if (px >= 0 && px < (long)width)
                            img[(size_t)py * stride + (size_t)px] = value;
                    }
                }
            }
    }
}

/* ---- the montage --------------------------------------------------------- */

struct tl_montage {
    tl_montage_desc desc;
    size_t factor;             /* box size of the reduction */
    size_t tile_rows, tile_cols;
    size_t grid_rows;
    float *tiles;              /* [n_tiles][tile_rows][tile_cols] */
    char (*labels)[LABEL_MAX]; /* [n_tiles] */
    unsigned char *set;        /* [n_tiles] */
};

tl_status tl_montage_create(const tl_montage_desc *desc, tl_montage **out, tl_error *err)
{
    *out = NULL;
    if (!desc || desc->n_tiles == 0 || desc->rows == 0 || desc->cols == 0)
        return tl_error_set(err, TL_ERR_INVALID, "montage: need at least one tile of at least 1 x 1 pixels");
    tl_montage *m = calloc(1, sizeof *m);
    if (!m)
        return tl_error_set(err, TL_ERR_NOMEM, "montage: out of memory");
    m->desc = *desc;
    size_t big = desc->rows > desc->cols ? desc->rows : desc->cols;
    m->factor = desc->max_tile ? (big + desc->max_tile - 1) / desc->max_tile : 1;
    if (m->factor < 1)
        m->factor = 1;
    m->tile_rows = (desc->rows + m->factor - 1) / m->factor;
    m->tile_cols = (desc->cols + m->factor - 1) / m->factor;
    if (!m->desc.columns) {
        size_t c = (size_t)ceil(sqrt((double)desc->n_tiles));
        while (c * c < desc->n_tiles) /* guard against sqrt rounding */
            c++;
        m->desc.columns = c ? c : 1;
    }
    if (m->desc.columns > desc->n_tiles)
        m->desc.columns = desc->n_tiles;
    m->grid_rows = (desc->n_tiles + m->desc.columns - 1) / m->desc.columns;
    size_t plane = m->tile_rows * m->tile_cols;
    if (plane > SIZE_MAX / sizeof(float) / desc->n_tiles) {
        size_t tr = m->tile_rows, tc = m->tile_cols;
        free(m);
        return tl_error_set(err, TL_ERR_INVALID, "montage: %zu tiles of %zu x %zu pixels are too many",
                            desc->n_tiles, tr, tc);
    }
    m->tiles = malloc(desc->n_tiles * plane * sizeof *m->tiles);
    m->labels = calloc(desc->n_tiles, sizeof *m->labels);
    m->set = calloc(desc->n_tiles, 1);
    if (!m->tiles || !m->labels || !m->set) {
        size_t tr = m->tile_rows, tc = m->tile_cols;
        tl_montage_destroy(&m);
        return tl_error_set(err, TL_ERR_NOMEM, "montage: cannot allocate %zu tiles of %zu x %zu pixels",
                            desc->n_tiles, tr, tc);
    }
    *out = m;
    return TL_OK;
}

void tl_montage_destroy(tl_montage **m)
{
    if (!m || !*m)
        return;
    free((*m)->tiles);
    free((*m)->labels);
    free((*m)->set);
    free(*m);
    *m = NULL;
}

tl_status tl_montage_set_tile(tl_montage *m, size_t index, const float *slice, const char *label, tl_error *err)
{
    if (!m || !slice)
        return tl_error_set(err, TL_ERR_INVALID, "montage: no montage or no slice given");
    if (index >= m->desc.n_tiles)
        return tl_error_set(err, TL_ERR_INVALID, "montage: tile %zu requested, the montage has %zu", index,
                            m->desc.n_tiles);
    const size_t f = m->factor, rows = m->desc.rows, cols = m->desc.cols;
    float *dst = m->tiles + index * m->tile_rows * m->tile_cols;
    /* Box average of f x f pixels (fewer at the right and bottom edges);
     * non-finite values are left out, a box without finite values is NaN. */
    for (size_t tr = 0; tr < m->tile_rows; tr++)
        for (size_t tc = 0; tc < m->tile_cols; tc++) {
            double sum = 0.0;
            size_t count = 0;
            for (size_t r = tr * f; r < rows && r < (tr + 1) * f; r++)
                for (size_t c = tc * f; c < cols && c < (tc + 1) * f; c++) {
                    float v = slice[r * cols + c];
                    if (isfinite(v)) {
                        sum += v;
                        count++;
                    }
                }
            dst[tr * m->tile_cols + tc] = count ? (float)(sum / (double)count) : NAN;
        }
    snprintf(m->labels[index], LABEL_MAX, "%s", label ? label : "");
    m->set[index] = 1;
    return TL_OK;
}

void tl_montage_tile_size(const tl_montage *m, size_t *tile_rows, size_t *tile_cols)
{
    *tile_rows = m->tile_rows;
    *tile_cols = m->tile_cols;
}

/* The label scale and the band height (0 when no tile has a label). */
static void label_layout(const tl_montage *m, int *scale, size_t *band)
{
    size_t longest = 0;
    for (size_t i = 0; i < m->desc.n_tiles; i++) {
        size_t len = strlen(m->labels[i]);
        if (len > longest)
            longest = len;
    }
    int s = (int)(m->tile_cols / 48);
    s = s < 1 ? 1 : s > 4 ? 4 : s;
    for (; s > 1; s--) {
        size_t w = longest ? (longest * TL_FONT_ADVANCE - 1) * (size_t)s : 0;
        if (w + 4 * (size_t)s <= m->tile_cols)
            break;
    }
    *scale = s;
    *band = longest ? (size_t)(TL_FONT_HEIGHT * s + 4 * s) : 0;
}

void tl_montage_size(const tl_montage *m, size_t *height, size_t *width)
{
    int scale;
    size_t band;
    label_layout(m, &scale, &band);
    *width = m->desc.columns * m->tile_cols + (m->desc.columns + 1) * GAP;
    *height = m->grid_rows * (band + m->tile_rows) + (m->grid_rows + 1) * GAP;
}

tl_status tl_montage_render(const tl_montage *m, double clip_percent, unsigned char **pixels, size_t *height,
                            size_t *width, double *lo, double *hi, tl_error *err)
{
    *pixels = NULL;
    for (size_t i = 0; i < m->desc.n_tiles; i++)
        if (!m->set[i])
            return tl_error_set(err, TL_ERR_INTERNAL, "montage: tile %zu of %zu was never given", i,
                                m->desc.n_tiles);
    size_t plane = m->tile_rows * m->tile_cols, n_finite = 0;
    double g_lo, g_hi;
    /* One grey range for all tiles together, so they compare fairly. */
    tl_status st = tl_preview_range(m->tiles, m->desc.n_tiles * plane, clip_percent, &g_lo, &g_hi, &n_finite, err);
    if (st != TL_OK)
        return st;
    int scale;
    size_t band, h, w;
    label_layout(m, &scale, &band);
    tl_montage_size(m, &h, &w);
    unsigned char *img = malloc(h * w);
    unsigned char *grey = malloc(plane);
    if (!img || !grey) {
        free(img);
        free(grey);
        return tl_error_set(err, TL_ERR_NOMEM, "montage: cannot allocate an image of %zu x %zu pixels", w, h);
    }
    memset(img, GAP_GREY, h * w);
    const size_t pad = 2 * (size_t)scale;
    for (size_t i = 0; i < m->desc.n_tiles; i++) {
        size_t gr = i / m->desc.columns, gc = i % m->desc.columns;
        size_t x0 = GAP + gc * (m->tile_cols + GAP);
        size_t y0 = GAP + gr * (band + m->tile_rows + GAP);
        /* the label band, then the tile under it */
        for (size_t r = 0; r < band; r++)
            memset(img + (y0 + r) * w + x0, BAND_GREY, m->tile_cols);
        if (band) {
            size_t tw, th;
            tl_font_text_size(m->labels[i], scale, &tw, &th);
            long tx = tw + 2 * pad <= m->tile_cols ? (long)((m->tile_cols - tw) / 2) : (long)pad;
            /* drawn into the band only: a label too long for the tile is cut at its edge */
            tl_font_draw(img + y0 * w + x0, band, m->tile_cols, w, tx, (long)pad, m->labels[i], scale, TEXT_GREY);
        }
        tl_preview_to_gray8(m->tiles + i * plane, plane, g_lo, g_hi, grey);
        for (size_t r = 0; r < m->tile_rows; r++)
            memcpy(img + (y0 + band + r) * w + x0, grey + r * m->tile_cols, m->tile_cols);
    }
    free(grey);
    *pixels = img;
    *height = h;
    *width = w;
    if (lo)
        *lo = g_lo;
    if (hi)
        *hi = g_hi;
    return TL_OK;
}

tl_status tl_montage_write_png(const tl_montage *m, const char *path, double clip_percent, const char *description,
                               int overwrite, double *lo, double *hi, tl_error *err)
{
    unsigned char *img = NULL;
    size_t h = 0, w = 0;
    tl_status st = tl_montage_render(m, clip_percent, &img, &h, &w, lo, hi, err);
    if (st != TL_OK)
        return st;
    st = tl_png_write_gray8(path, img, h, w, description, overwrite, err);
    free(img);
    return st;
}
