/* png_write.h - 8-bit grey PNG images (previews), written safely.
 *
 * The file is written as PATH.partial and renamed when complete, as every
 * tomoline output is; an existing PATH is kept unless overwrite is set.
 * libpng reports errors by longjmp; they come back here as a tl_error that
 * names the file.
 */
#ifndef TL_PNG_WRITE_H
#define TL_PNG_WRITE_H

#include <stddef.h>

#include "status.h"

/* pixels[height][width], one byte per pixel (0 black .. 255 white). description
 * (may be NULL) goes into a tEXt "Description" chunk; "Software" is tomoline. */
tl_status tl_png_write_gray8(const char *path, const unsigned char *pixels, size_t height, size_t width,
                             const char *description, int overwrite, tl_error *err) TL_MUST_CHECK;

#endif
