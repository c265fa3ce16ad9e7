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
#include "stitch.h"
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
    const struct tl_source_stitch *stitch; /* --file-type double_fov: how the sinograms are stitched; else NULL */
} tl_source_info;

/* --file-type double_fov (kernels/stitch.h): the source reads a 360-degree
 * offset-axis scan and delivers 180-degree sinograms of the stitched width;
 * tl_source_info then describes the stitched sinograms (n_cols = layout.width,
 * n_angles and angles_deg = the first half turn). The axis is --rotation-axis
 * (a raw detector column near an edge) or, for 'auto' (and for commands
 * without --rotation-axis), found at open from --rotation-axis-rows rows of
 * --start-row..--end-row (tl_stitch_find_axis). */
typedef struct tl_source_stitch {
    tl_stitch_layout layout;  /* axis, side, overlap, stitched width and axis, in the columns of the data */
    size_t binning;           /* --binning: the data's columns are this many detector columns (else 1) */
    double detector_axis;     /* the axis in raw detector columns (as --rotation-axis takes it) */
    size_t raw_angles;        /* projections of the 360-degree scan */
    size_t n_exact;           /* kept angles whose partner is exactly 180 degrees later */
    double max_gap_deg;       /* widest angle interval interpolated across for a partner (0: none) */
    int searched;             /* the axis was found from the data (else given) */
    tl_stitch_search search;  /* when searched */
    size_t n_search_rows;     /* rows the search used */
    size_t search_rows[256];  /* the rows (--rotation-axis-rows is at most 256) */
    double search_seconds;
    char how[400];            /* one line for logs and the provenance (the axis method) */
} tl_source_stitch;

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

/* Preprocessing of raw scans (cli/preprocess.h: --dezinger, --binning,
 * --beam-normalization, --retrieve-phase-method). With --binning the source
 * shows the binned detector (info n_rows, n_cols; tl_slab_source_rows maps
 * --start-row/--end-row from raw rows). A --rotation-axis that is a number or
 * 'center' means a raw detector column: this gives it in the columns of the
 * data the source delivers ((a - (b - 1) / 2) / b when binned), checked
 * against the raw detector; without binning it is tl_cor_resolve(). */
tl_status tl_slab_source_resolve_axis(const tl_slab_source *src, const char *text, double *axis, const char **method,
                                      tl_error *err) TL_MUST_CHECK;
/* What the preprocessing did so far (steps, parameters, zingers replaced, beam
 * monitor, phase filter), one line for logs and the provenance; "" when none. */
void tl_slab_source_preprocess_summary(const tl_slab_source *src, char *buf, size_t size);

#endif
