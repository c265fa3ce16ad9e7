/* preview.h - an 8-bit PNG of one slice of a volume, with robust contrast.
 *
 * People judge a reconstruction by looking at it. A preview reads ONE slice of
 * a volume (an HDF5 hyperslab of /entry/data/data, or the needed TIFF files of
 * a TIFF volume directory; see tl_volume_read_slice), maps the clip_percent and
 * 100 - clip_percent percentiles of its finite values to grey levels 0 and 255
 * (so a few hot pixels or NaNs cannot wash the image out), and writes the PNG
 * as PATH.partial, renamed when complete.
 *
 * Image orientation: a z slice is [y][x] (row 0 at the top); y and x slices
 * have z down the rows: [z][x] and [z][y].
 */
#ifndef TL_PREVIEW_H
#define TL_PREVIEW_H

#include <stddef.h>

#include "status.h"

/* What recon --preview uses; `tomoline preview --clip-percent` overrides it. */
#define TL_PREVIEW_CLIP_PERCENT_DEFAULT 0.5

typedef struct tl_preview_result {
    char png_path[4352]; /* the file written */
    char axis;           /* 'z', 'y' or 'x' */
    size_t index;        /* the slice used (the central one for -1) */
    size_t n_along;      /* slices along the axis */
    size_t width, height;/* PNG size in pixels */
    double lo, hi;       /* values mapped to grey 0 and 255 (NAN when no finite value) */
    size_t n_finite;     /* finite values in the slice */
} tl_preview_result;

/* Write the PNG of slice `index` (-1: the central one, n / 2) across `axis`
 * ('z', 'y' or 'x') of the volume file or TIFF volume directory volume_path.
 * png_path NULL: volume_path without its extension + "_z0128.png" (axis and
 * index). An existing PNG is kept unless overwrite (TL_ERR_EXISTS). An index
 * outside the volume is TL_ERR_INVALID: "--slice 500 is outside the volume (0 to
 * 255 along z)". */
tl_status tl_preview_volume(const char *volume_path, char axis, long index, double clip_percent,
                            const char *png_path, int overwrite, tl_error *err) TL_MUST_CHECK;
/* The same, also saying what was done (result may be NULL). */
tl_status tl_preview_volume_ex(const char *volume_path, char axis, long index, double clip_percent,
                               const char *png_path, int overwrite, tl_preview_result *result,
                               tl_error *err) TL_MUST_CHECK;

/* The default PNG name: "DIR/vol.nxs", 'z', 128 -> "DIR/vol_z0128.png". */
void tl_preview_default_path(const char *volume_path, char axis, size_t index, char *buf, size_t size);

/* The grey-level range of v[n]: the clip_percent and 100 - clip_percent
 * percentiles of its finite values (NaN and infinities ignored), by selection
 * (expected linear time) on a copy. *n_finite = how many values counted; with
 * none, lo = hi = NAN. clip_percent in [0, 50). */
tl_status tl_preview_range(const float *v, size_t n, double clip_percent, double *lo, double *hi, size_t *n_finite,
                           tl_error *err) TL_MUST_CHECK;

/* Map v[n] to grey: lo -> 0, hi -> 255, linear between, clamped; NaN and -inf
 * -> 0, +inf -> 255; when lo == hi, values equal to it -> 128. */
void tl_preview_to_gray8(const float *v, size_t n, double lo, double hi, unsigned char *out);

#endif
