/* tiff_write.h - volumes as a directory of 32-bit float TIFF slices.
 *
 * The TIFF output of `--save-format tiff`, meant for ImageJ/Fiji and every
 * other image program: OUTPUT/ holds one file per z slice, slice_00000.tif,
 * slice_00001.tif, ... (5 digits, more when a volume has more than 99999
 * slices), each one page of 32-bit IEEE float, one sample per pixel
 * (SampleFormat = IEEEFP, MinIsBlack, uncompressed, native byte order), so the
 * values read back are exactly the values written. ImageDescription holds a
 * short provenance line with the slice index; the full provenance is written
 * beside the slices by the volume writer (provenance.txt, config.ini).
 *
 * Like every tomoline output the directory is written as OUTPUT.partial/ and
 * renamed when complete. Removing a directory is only ever done to one that
 * holds nothing but files of this layout (slice_N.tif, provenance.txt,
 * config.ini): a mistyped --overwrite never deletes someone's other files.
 *
 * Also here: reading single-sample TIFF files back as float (what we write,
 * and 8/16/32-bit integer or 64-bit float grey images), for previews and
 * tl_volume_read. libtiff's messages are captured per file, never printed.
 *
 * Used by volume.c and preview.c; most callers want volume.h.
 */
#ifndef TL_TIFF_WRITE_H
#define TL_TIFF_WRITE_H

#include <stddef.h>

#include "status.h"

/* ---- one file ------------------------------------------------------------ */

/* Write data[ny][nx] as a 32-bit float TIFF at path (replacing a file there).
 * description (may be NULL) goes to the ImageDescription tag. */
tl_status tl_tiff_write_float(const char *path, const float *data, size_t ny, size_t nx, const char *description,
                              tl_error *err) TL_MUST_CHECK;

/* Size of the first page of a TIFF file, checking that it is one we can read
 * (grey, one sample per pixel, strips, a supported sample type). */
tl_status tl_tiff_probe(const char *path, size_t *ny, size_t *nx, tl_error *err) TL_MUST_CHECK;

/* Rows [row_begin, row_begin + n_rows) of the first page into out[n_rows][nx],
 * converted to float. When ny_expect / nx_expect are not 0 the file must have
 * that size (a stack whose slices differ is an error naming the file). */
tl_status tl_tiff_read_rows(const char *path, size_t ny_expect, size_t nx_expect, size_t row_begin, size_t n_rows,
                            float *out, tl_error *err) TL_MUST_CHECK;

/* ---- a volume directory -------------------------------------------------- */

typedef struct tl_tiff_volume tl_tiff_volume;

/* Start OUTPUT.partial/ for a volume of nz slices of ny x nx. An existing path
 * is refused without overwrite (TL_ERR_EXISTS, touching nothing); with it, it
 * is replaced at commit (a directory only if it holds nothing but this layout).
 * A leftover OUTPUT.partial/ from a crash is emptied. z_first: the detector row
 * of slice 0, for the descriptions. Caller owns *out. */
tl_status tl_tiff_volume_create(const char *path, size_t nz, size_t ny, size_t nx, size_t z_first, int overwrite,
                                tl_tiff_volume **out, tl_error *err) TL_MUST_CHECK;
/* Slices [z_begin, z_begin + nz) from data[nz][ny][nx]. */
tl_status tl_tiff_volume_write(tl_tiff_volume *v, size_t z_begin, size_t nz, const float *data,
                               tl_error *err) TL_MUST_CHECK;
/* A text file beside the slices ("provenance.txt", "config.ini"). */
tl_status tl_tiff_volume_write_text(tl_tiff_volume *v, const char *name, const char *text,
                                    tl_error *err) TL_MUST_CHECK;
/* The directory being written ("OUTPUT.partial"). */
const char *tl_tiff_volume_partial(const tl_tiff_volume *v);
/* Rename OUTPUT.partial to OUTPUT (replacing an old OUTPUT when allowed at
 * create); frees *v and sets it to NULL. On failure the partial directory is
 * removed and an old OUTPUT is kept. */
tl_status tl_tiff_volume_commit(tl_tiff_volume **v, tl_error *err) TL_MUST_CHECK;
/* Remove OUTPUT.partial and free; accepts NULL. */
void tl_tiff_volume_abort(tl_tiff_volume **v);

/* Read side: the slice files of a volume directory. Fails with a message that
 * names the directory when it holds no slice files, when one is missing
 * (slice_00003.tif of 0..9) or when their numbering is inconsistent. *digits
 * is the width of the numbers in the names. */
tl_status tl_tiff_volume_probe(const char *dir, size_t *nz, size_t *ny, size_t *nx, int *digits,
                               tl_error *err) TL_MUST_CHECK;
/* "DIR/slice_00012.tif" into buf. */
void tl_tiff_volume_slice_path(char *buf, size_t size, const char *dir, size_t z, int digits);

#endif
