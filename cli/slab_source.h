/* slab_source.h - slabs of sinograms from whatever the user gave us.
 *
 * One place that turns an input into normalized data, slab by slab, for recon,
 * normalize, sino and fbp:
 *   - a raw scan (any layout tl_scan reads): read projections, flats and darks of
 *     the slab's rows, normalize (flats before/after interpolated), -log;
 *   - normalized projections (written by `tomoline normalize`): read, -log if
 *     they hold transmissions;
 *   - a sinogram file (written by `tomoline sino`): read.
 * Rows are detector rows: [first_row, first_row + n_rows) is what the input has.
 * The source owns one slab of projections (max_rows x angles x columns floats)
 * and the flat/dark tables, allocated once at open.
 */
#ifndef TL_SLAB_SOURCE_H
#define TL_SLAB_SOURCE_H

#include <stddef.h>

#include "config.h"
#include "normalize.h"
#include "status.h"
#include "workers.h"

typedef enum { TL_SOURCE_RAW = 0, TL_SOURCE_NORMALIZED, TL_SOURCE_SINOGRAMS } tl_source_kind;

typedef struct tl_source_info {
    tl_source_kind kind;
    const char *description; /* "NXtomo", "Data Exchange", "sinograms", ... */
    size_t first_row, n_rows, n_angles, n_cols;
    size_t n_flat, n_dark;
    const double *angles_deg;
    const char *entry_path;  /* NXentry of the input with sample/instrument, or NULL */
    const char *sample_name; /* or NULL */
} tl_source_info;

typedef struct tl_slab_source tl_slab_source;

/* Open `input` with the [input] options of cfg; slabs of at most max_rows rows. */
tl_status tl_slab_source_open(const tl_config *cfg, const char *input, size_t max_rows, tl_workers *workers,
                              tl_slab_source **out, tl_error *err) TL_MUST_CHECK;
void tl_slab_source_close(tl_slab_source **src);
const tl_source_info *tl_slab_source_info(const tl_slab_source *src);

/* The detector rows --start-row..--end-row of cfg, checked against what the input
 * has (messages name `input`): [*begin, *end). */
tl_status tl_slab_source_rows(const tl_slab_source *src, const tl_config *cfg, const char *input, size_t *begin,
                              size_t *end, tl_error *err) TL_MUST_CHECK;

/* Normalized projections of detector rows [row_begin, row_end): a pointer to the
 * source's buffer [n_angles][rows][n_cols], valid until the next call. Not for
 * sinogram inputs (TL_ERR_INVALID). */
tl_status tl_slab_source_projections(tl_slab_source *src, size_t row_begin, size_t row_end, const float **proj,
                                     tl_error *err) TL_MUST_CHECK;

/* Sinograms of rows [row_begin, row_end): line (row, angle) written to
 * out + (row * n_angles + angle) * stride (stride >= n_cols). */
tl_status tl_slab_source_sinograms(tl_slab_source *src, size_t row_begin, size_t row_end, float *out,
                                   size_t stride, tl_error *err) TL_MUST_CHECK;

/* Counts of the normalization so far (floored values, dead pixels). */
const tl_normalize_stats *tl_slab_source_stats(const tl_slab_source *src);
/* Seconds spent reading and normalizing so far. */
void tl_slab_source_times(const tl_slab_source *src, double *read_s, double *normalize_s, double *transpose_s);
/* Working memory the source holds, bytes. */
size_t tl_slab_source_bytes(const tl_slab_source *src);

#endif
