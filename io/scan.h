/* scan.h - read a raw tomography scan (projections, flats, darks, angles).
 *
 * The layout is detected from the content, never from the file name:
 *   - NeXus NXtomo: the NXentry whose `definition` is "NXtomo" (any entry name),
 *     or /entry when it has instrument/detector/data. Frames in
 *     ENTRY/instrument/detector/data [n, rows, cols], kinds in
 *     ENTRY/instrument/detector/image_key [n] (0 projection, 1 flat, 2 dark,
 *     3 invalid: skipped), angles in ENTRY/sample/rotation_angle [n] (degrees).
 *   - APS Data Exchange: /exchange/data, /exchange/data_white, /exchange/data_dark
 *     [n, rows, cols], /exchange/theta [n_proj] (degrees).
 * Pixels may be uint8, uint16, uint32 or float32; reads convert to float.
 *
 * A tl_scan keeps its file and dataset handles open for its lifetime (opening
 * once, reading many slabs). Reads take a range of detector rows so memory is
 * bounded by the slab, never by the file.
 */
#ifndef TL_SCAN_H
#define TL_SCAN_H

#include <stddef.h>

#include "status.h"

typedef enum { TL_LAYOUT_NXTOMO = 0, TL_LAYOUT_DXCHANGE = 1 } tl_layout;

typedef enum {
    TL_KEY_PROJECTION = 0,
    TL_KEY_FLAT = 1,
    TL_KEY_DARK = 2,
    TL_KEY_INVALID = 3
} tl_image_key;

typedef struct tl_scan_info {
    tl_layout layout;
    const char *layout_name;  /* "NXtomo" or "Data Exchange" */
    const char *path;         /* the file */
    const char *data_path;    /* dataset of the projections, e.g. "/entry/instrument/detector/data" */
    size_t n_proj, n_flat, n_dark;
    size_t n_rows, n_cols;    /* detector rows (slices) and columns (width W) */
    const char *pixel_type;   /* "uint8", "uint16", "uint32", "float32", ... */
    const double *angles_deg; /* [n_proj], in the order projections are read */
} tl_scan_info;

typedef struct tl_scan tl_scan;

/* Open and validate a scan. Errors (each naming the file and dataset):
 * missing file, not HDF5, truncated/unreadable, no known layout, missing data or
 * image_key or angles, rank not 3, angle count that does not match, no
 * projections, no flats, no darks, non-finite angles.
 * Caller owns *out; close with tl_scan_close(). */
tl_status tl_scan_open(const char *path, tl_scan **out, tl_error *err) TL_MUST_CHECK;
/* Accepts NULL and *scan == NULL; sets *scan = NULL. */
void tl_scan_close(tl_scan **scan);

/* Valid until tl_scan_close(). */
const tl_scan_info *tl_scan_get_info(const tl_scan *scan);

/* Projections, rows [row_begin, row_end) of every projection frame, converted to
 * float: out[n_proj][row_end - row_begin][n_cols] (caller allocates). */
tl_status tl_scan_read_projections(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                   tl_error *err) TL_MUST_CHECK;

/* Mean of all flat (or dark) frames over rows [row_begin, row_end):
 * out[row_end - row_begin][n_cols] (caller allocates). Uses a temporary buffer
 * of n_flat (or n_dark) x rows x n_cols floats. */
tl_status tl_scan_read_flat_mean(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                 tl_error *err) TL_MUST_CHECK;
tl_status tl_scan_read_dark_mean(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                 tl_error *err) TL_MUST_CHECK;

#endif
