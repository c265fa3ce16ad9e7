/* scan.h - read a raw tomography scan (projections, flats, darks, angles).
 *
 * The layout is detected from the content, never from the file name:
 *   - NeXus NXtomo: the NXentry whose `definition` is "NXtomo" (any entry name,
 *     or a group one level inside an NXentry, e.g. /entry1/tomo_entry), or /entry
 *     when it has instrument/detector/data. Frames in ENTRY/instrument/detector/data
 *     [n, rows, cols], kinds in ENTRY/instrument/detector/image_key [n] (0
 *     projection, 1 flat, 2 dark, 3 invalid: skipped), angles in
 *     ENTRY/sample/rotation_angle [n] or, when absent, the rotation of the
 *     sample's NXtransformations (ENTRY/sample/depends_on chain, else the first
 *     rotation about y or z in ENTRY/sample/transformations). Flats may be taken
 *     before, after or both; "after" = flat frames past the last projection.
 *   - APS Data Exchange: /exchange/data [n_proj, rows, cols]; flats before the
 *     projections in /exchange/data_white_pre, data_white_start or data_white,
 *     flats after them in /exchange/data_white_post or data_white_end; darks in
 *     /exchange/data_dark (or data_dark_pre/_start and data_dark_post/_end);
 *     angles in /exchange/theta [n_proj].
 *   - Named datasets (opt->data_path given): frames from that dataset, image keys
 *     from opt->image_key_path (none: every frame is a projection), angles from
 *     opt->angles_path or start_angle/angle_step. Each is "/path" in the input
 *     or "FILE:/path" (FILE relative to the input's directory unless absolute).
 *   - A file of projections only (a 3-D dataset at /entry/data/data, or the
 *     file's only 3-D dataset) when flats and darks come from opt->flat_file and
 *     opt->dark_file.
 *   - A TIFF directory (INPUT is a directory): see the top of tiff_read.c.
 *   - Normalized projections (attribute tomoline_content = "line_integrals" or
 *     "transmission" on the frames' dataset, written by tl_scan_writer): no flats
 *     or darks needed; info->normalized says which.
 * Flats and darks may also come from other files (opt->flat_file, opt->dark_file,
 * as tomocupy's --flat-file-name/--dark-file-name): an HDF5 file (the dataset is
 * FILE:/path when given so, else the first of /exchange/data_white (flats) or
 * /exchange/data_dark (darks), /exchange/data, /entry/data/data,
 * /entry/instrument/detector/data, else the file's only 3-D dataset; every frame
 * of it is used) or a multi-page TIFF file. Their frame size must match.
 * HDF5 external links are followed; a relative link target is looked up in the
 * linking file's directory (HDF5's rule). A link whose target is missing is an
 * error naming the link and the target file.
 * Pixels may be uint8, uint16, uint32, int16, int32, float32 or float64; reads
 * convert to float.
 *
 * A tl_scan keeps its files and dataset handles open for its lifetime (opening
 * once, reading many slabs). Reads take a range of detector rows so memory is
 * bounded by the slab, never by the file.
 */
#ifndef TL_SCAN_H
#define TL_SCAN_H

#include <stddef.h>

#include "status.h"

typedef enum {
    TL_LAYOUT_NXTOMO = 0,
    TL_LAYOUT_DXCHANGE = 1,
    TL_LAYOUT_NAMED = 2,  /* datasets named by the options */
    TL_LAYOUT_FRAMES = 3, /* one 3-D dataset of projections; flats/darks from other files */
    TL_LAYOUT_TIFF = 4    /* a directory of TIFF files */
} tl_layout;

typedef enum {
    TL_KEY_PROJECTION = 0,
    TL_KEY_FLAT = 1,
    TL_KEY_DARK = 2,
    TL_KEY_INVALID = 3
} tl_image_key;

/* How to read an input that does not describe itself. Strings NULL or "" = not
 * given. The strings are used only during tl_scan_open_with(). */
typedef struct tl_scan_options {
    const char *data_path, *image_key_path, *angles_path, *flat_file, *dark_file;
    double start_angle; /* degrees, when the input has no angles */
    double angle_step;  /* degrees; 0 = 180 / n_proj */
} tl_scan_options;

typedef struct tl_scan_info {
    tl_layout layout;
    const char *layout_name;  /* "NXtomo", "Data Exchange", "named datasets", "projections file", "TIFF directory" */
    const char *path;         /* the input file or directory */
    const char *data_path;    /* dataset of the projections, e.g. "/entry/instrument/detector/data"
                                 ("FILE:/path" when in another file; "proj_0000.tif .. proj_0099.tif
                                 (100 files)" for a TIFF directory) */
    size_t n_proj, n_flat, n_dark;
    size_t n_rows, n_cols;    /* detector rows (slices) and columns (width W) */
    const char *pixel_type;   /* "uint8", "uint16", "uint32", "float32", ... */
    const double *angles_deg; /* [n_proj], in the order projections are read */
    /* since issue 3 */
    const char *entry_path;   /* NXtomo: the group holding sample/ and instrument/; else NULL */
    const char *sample_name;  /* ENTRY/sample/name (or /measurement/sample/name); NULL when absent */
    int normalized;           /* 0 raw counts, 1 line integrals (-log done), 2 transmission */
    const double *flat_after_weight; /* NULL unless flats were taken before and after the
                                        projections; else [n_proj] weights w in [0, 1]: the flat of
                                        projection i is (1 - w) F_before + w F_after */
    size_t n_invalid;         /* frames skipped (image_key 3) */
    size_t n_flat_before, n_flat_after; /* n_flat = before + after; "before" also holds flats whose
                                           position is not known (another file, data_white) */
    const char *flat_position; /* "before", "after", "before and after", "unknown", "none" */
    const char *image_key_path; /* dataset of the image keys, NULL when none */
    const char *angles_source;  /* dataset or file the angles came from, or "--start-angle/--angle-step" */
    const char *flat_source, *dark_source; /* where the flats and darks are read from ("none") */
} tl_scan_info;

typedef struct tl_scan tl_scan;

/* Open and validate a scan with the layout options (NULL: none). Errors (each
 * naming the file, dataset or option): missing file, not HDF5 and not a TIFF
 * directory, truncated/unreadable, no known layout, missing data or image_key or
 * angles, a dangling external link, rank not 3, counts that do not match, frame
 * sizes that differ, no projections, no flats, no darks (unless normalized),
 * non-finite angles. Caller owns *out; close with tl_scan_close(). */
tl_status tl_scan_open_with(const char *path, const tl_scan_options *opt, tl_scan **out,
                            tl_error *err) TL_MUST_CHECK;
/* tl_scan_open_with(path, NULL, ...). */
tl_status tl_scan_open(const char *path, tl_scan **out, tl_error *err) TL_MUST_CHECK;
/* Accepts NULL and *scan == NULL; sets *scan = NULL. */
void tl_scan_close(tl_scan **scan);

/* The [input] section of a configuration as options; the strings point into cfg,
 * which must outlive opt. Defined in cli/scan_options.c (io/ does not depend on
 * config/). */
struct tl_config;
void tl_scan_options_from_config(const struct tl_config *cfg, tl_scan_options *opt);

/* Valid until tl_scan_close(). */
const tl_scan_info *tl_scan_get_info(const tl_scan *scan);

/* Projections, rows [row_begin, row_end) of every projection frame, converted to
 * float: out[n_proj][row_end - row_begin][n_cols] (caller allocates). */
tl_status tl_scan_read_projections(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                   tl_error *err) TL_MUST_CHECK;

/* The order a detector takes a scan's frames, and `send` replays them: darks,
 * the flats taken before the projections, the projections, the flats after.
 * Group g is frames [first, first + count) of kind `key`. */
typedef struct tl_frame_group {
    int key; /* tl_image_key */
    size_t first, count;
} tl_frame_group;
void tl_scan_acquisition_order(const tl_scan_info *info, tl_frame_group order[4]);

/* Frames [first, first + count) of one kind (TL_KEY_PROJECTION, _FLAT, _DARK; in
 * the order the scan lists them: projections in angle-list order, flats before
 * then after), rows [row_begin, row_end), converted to float:
 * out[count][row_end - row_begin][n_cols] (caller allocates). For replaying a
 * scan frame by frame (`tomoline send`). */
tl_status tl_scan_read_frames(tl_scan *scan, int key, size_t first, size_t count, size_t row_begin, size_t row_end,
                              float *out, tl_error *err) TL_MUST_CHECK;

/* Mean of all flat (or dark) frames over rows [row_begin, row_end):
 * out[row_end - row_begin][n_cols] (caller allocates). Works in batches of at
 * most TL_SCAN_MEAN_BATCH frames: a temporary buffer of that many frames' rows
 * plus one row slab of doubles. Error when the scan has no such frames. */
#define TL_SCAN_MEAN_BATCH 32
tl_status tl_scan_read_flat_mean(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                 tl_error *err) TL_MUST_CHECK;
tl_status tl_scan_read_dark_mean(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                 tl_error *err) TL_MUST_CHECK;

/* Means of the flats taken before and after the projections, for
 * info->flat_after_weight; when that is NULL both get the mean of all flats. */
tl_status tl_scan_read_flat_pair(tl_scan *scan, size_t row_begin, size_t row_end, float *before,
                                 float *after, tl_error *err) TL_MUST_CHECK;

#endif
