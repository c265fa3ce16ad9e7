/* sino_file.h - sinograms on disk, the file between `tomoline sino` and `tomoline fbp`.
 *
 *   /entry                      NXentry, @tomoline_content = "sinograms"
 *   /entry/data                 NXdata, @signal = "data"
 *   /entry/data/data            float32 [n_rows, n_angles, n_cols], one chunk per row (sinogram)
 *   /entry/data/rotation_angle  float64 [n_angles], degrees
 *   /entry/data/data @first_row detector row of sinogram 0 (int)
 *   /entry/data/data @content   "line_integrals" (after -log) or "transmission"
 *   /entry/data/data @ring_removal  the stripe removal applied, when one was ('tomoline rings')
 * Written as PATH.partial and renamed when complete, like every tomoline output.
 */
#ifndef TL_SINO_FILE_H
#define TL_SINO_FILE_H

#include <stddef.h>

#include "status.h"

typedef struct tl_sino_desc {
    size_t n_rows, n_angles, n_cols;
    size_t first_row;
    const double *angles_deg; /* [n_angles] */
    const char *content;      /* "line_integrals" or "transmission" */
    const char *ring_removal; /* method and parameters, or NULL (written only) */
} tl_sino_desc;

typedef struct tl_sino_writer tl_sino_writer;

tl_status tl_sino_writer_create(const char *path, const tl_sino_desc *desc, int overwrite, tl_sino_writer **out,
                                tl_error *err) TL_MUST_CHECK;
/* Rows [row_begin, row_begin + n) (relative to the file) from data[n][n_angles][n_cols]. */
tl_status tl_sino_writer_write(tl_sino_writer *w, size_t row_begin, size_t n, const float *data,
                               tl_error *err) TL_MUST_CHECK;
tl_status tl_sino_writer_commit(tl_sino_writer **w, tl_error *err) TL_MUST_CHECK;
void tl_sino_writer_abort(tl_sino_writer **w);

typedef struct tl_sino_file tl_sino_file;

/* 1 when path is an HDF5 file whose /entry says it holds sinograms, 0 otherwise. */
int tl_sino_file_detect(const char *path);

/* Open for reading; the info (with angles) lives as long as the file. */
tl_status tl_sino_file_open(const char *path, tl_sino_file **out, tl_error *err) TL_MUST_CHECK;
const tl_sino_desc *tl_sino_file_info(const tl_sino_file *f);
/* Rows [row_begin, row_end) relative to the file into out[rows][n_angles][n_cols]. */
tl_status tl_sino_file_read(tl_sino_file *f, size_t row_begin, size_t row_end, float *out,
                            tl_error *err) TL_MUST_CHECK;
void tl_sino_file_close(tl_sino_file **f);

#endif
