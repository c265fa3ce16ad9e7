/* scan_write.h - write a raw scan in NXtomo or Data Exchange layout.
 *
 * Used by `tomoline sim` (and tests) to produce the files that tl_scan reads.
 * NXtomo frame order is darks, flats, projections. The file is written as
 * PATH.partial and renamed to PATH by tl_scan_writer_commit(); abort removes it.
 */
#ifndef TL_SCAN_WRITE_H
#define TL_SCAN_WRITE_H

#include <stddef.h>

#include "scan.h"
#include "status.h"

typedef enum { TL_PIXEL_UINT16 = 0, TL_PIXEL_FLOAT32 = 1, TL_PIXEL_UINT8 = 2, TL_PIXEL_UINT32 = 3 } tl_pixel_type;

typedef struct tl_scan_desc {
    tl_layout layout;
    tl_pixel_type pixel_type; /* integers: values rounded and clipped to the type's range, NaN -> 0 */
    size_t n_rows, n_cols;
    size_t n_proj, n_flat, n_dark;
    const double *angles_deg; /* [n_proj] */
    /* optional NXtomo metadata; NULL to omit */
    const char *sample_name;
    /* NULL: raw counts. "line_integrals" (-log done) or "transmission" (flat/dark
     * done): normalized projections, stored as attribute tomoline_content on the
     * projections' dataset; n_flat = n_dark = 0 is then what readers expect. */
    const char *content;
} tl_scan_desc;

typedef struct tl_scan_writer tl_scan_writer;

/* Create PATH.partial. An existing PATH is an error (TL_ERR_EXISTS) unless overwrite. */
tl_status tl_scan_writer_create(const char *path, const tl_scan_desc *desc, int overwrite,
                                tl_scan_writer **out, tl_error *err) TL_MUST_CHECK;

/* Write rows [row_begin, row_end) of frames [first, first + count) of one kind
 * (index within that kind: projection 0 is the first projection).
 * data[count][row_end - row_begin][n_cols]. */
tl_status tl_scan_writer_put(tl_scan_writer *w, tl_image_key key, size_t first, size_t count,
                             size_t row_begin, size_t row_end, const float *data,
                             tl_error *err) TL_MUST_CHECK;

/* Close and rename PATH.partial to PATH; frees *w and sets it to NULL (also on error,
 * in which case the partial file is removed). */
tl_status tl_scan_writer_commit(tl_scan_writer **w, tl_error *err) TL_MUST_CHECK;
/* Close and remove PATH.partial; accepts NULL. */
void tl_scan_writer_abort(tl_scan_writer **w);

#endif
