/* tiff_read.h - read stacks of single-channel TIFF frames, in slabs of rows.
 *
 * A tl_tiff_stack is a sequence of frames that all have the same size and pixel
 * type: either one frame per file (a list of files, in order) or every page of
 * one multi-page file. Headers are read and checked when the stack is opened;
 * pixels are read later, a range of rows of one frame at a time, so memory never
 * holds more than one strip or tile of a frame (plus the caller's slab).
 *
 * libtiff never prints: its errors and warnings are caught per handle and its
 * errors come back as tl_error messages naming the file.
 *
 * Pixels: uint8, uint16, uint32, int16, float32 or float64, one sample per pixel,
 * stripped or tiled, any compression libtiff decodes. Reads convert to float.
 *
 * Not thread-safe: one stack is used by one thread at a time.
 */
#ifndef TL_TIFF_READ_H
#define TL_TIFF_READ_H

#include <stddef.h>

#include "status.h"

typedef struct tl_tiff_stack tl_tiff_stack;

/* One frame per file, files[0..n) in order (the names are copied). `what`
 * names the frames in messages ("projection", "flat-field"). Every header is
 * read now: a file that is not a TIFF, has more than one sample per pixel, an
 * unsupported pixel type, or another size or type than the first file is an
 * error naming the file. Caller owns *out. */
tl_status tl_tiff_stack_open_files(const char *const *files, size_t n, const char *what,
                                   tl_tiff_stack **out, tl_error *err) TL_MUST_CHECK;

/* Every page (image file directory) of one TIFF file is a frame. */
tl_status tl_tiff_stack_open_pages(const char *file, const char *what, tl_tiff_stack **out,
                                   tl_error *err) TL_MUST_CHECK;

/* Accepts NULL and *stack == NULL; sets *stack = NULL. */
void tl_tiff_stack_close(tl_tiff_stack **stack);

size_t tl_tiff_stack_frames(const tl_tiff_stack *stack);
size_t tl_tiff_stack_rows(const tl_tiff_stack *stack);
size_t tl_tiff_stack_cols(const tl_tiff_stack *stack);
/* "uint16", "float32", ... */
const char *tl_tiff_stack_pixel_type(const tl_tiff_stack *stack);
/* The file of frame i (for messages). */
const char *tl_tiff_stack_file(const tl_tiff_stack *stack, size_t frame);

/* Rows [row_begin, row_end) of frame `frame` as float: out[row_end - row_begin][cols]. */
tl_status tl_tiff_stack_read(tl_tiff_stack *stack, size_t frame, size_t row_begin, size_t row_end,
                             float *out, tl_error *err) TL_MUST_CHECK;

/* 1 when `path` starts with a TIFF or BigTIFF signature, 0 otherwise. */
int tl_tiff_is_tiff(const char *path);

/* The files of a TIFF directory (see the naming rule at the top of tiff_read.c). */
typedef struct tl_tiff_dir {
    char **proj, **flat, **dark; /* full paths, sorted by frame number */
    size_t n_proj, n_flat, n_dark;
    size_t first_proj;           /* number of the first projection file */
    char *angles_file;           /* DIR/angles.txt, or NULL when absent */
} tl_tiff_dir;

/* List and check the directory: numbering without gaps or duplicates, at least
 * one projection. Caller frees with tl_tiff_dir_free(). */
tl_status tl_tiff_dir_list(const char *dir, tl_tiff_dir *out, tl_error *err) TL_MUST_CHECK;
void tl_tiff_dir_free(tl_tiff_dir *dir);

/* Read an angles file: one angle (degrees) per line, '#' starts a comment,
 * blank lines ignored. *angles is allocated (caller frees). */
tl_status tl_tiff_read_angles_file(const char *path, double **angles, size_t *n,
                                   tl_error *err) TL_MUST_CHECK;

#endif
