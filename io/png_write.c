/* png_write.c - 8-bit grey PNG with libpng (see png_write.h).
 *
 * Owns nothing beyond the call. libpng signals errors with longjmp back to the
 * setjmp here; every object that must be released afterwards is either set
 * before setjmp or volatile, so the cleanup path sees its current value.
 */
#define _POSIX_C_SOURCE 200809L
#include "png_write.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "version.h"

typedef struct png_ctx {
    char message[256];
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (c)
        snprintf(c->message, sizeof c->message, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    /* Warnings (e.g. about text chunks) never make the image wrong. */
    (void)png;
    (void)msg;
}

tl_status tl_png_write_gray8(const char *path, const unsigned char *pixels, size_t height, size_t width,
                             const char *description, int overwrite, tl_error *err)
{
    if (!path || !*path)
        return tl_error_set(err, TL_ERR_INVALID, "no PNG file name given");
    if (!pixels || height == 0 || width == 0)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': an image of %zu x %zu pixels cannot be written", path,
                            height, width);
    if (height > PNG_USER_HEIGHT_MAX || width > PNG_USER_WIDTH_MAX)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': %zu x %zu pixels is more than a PNG may hold (%u x %u)",
                            path, height, width, (unsigned)PNG_USER_HEIGHT_MAX, (unsigned)PNG_USER_WIDTH_MAX);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return tl_error_set(err, TL_ERR_INVALID, "'%s' is a directory, expected a PNG file name", path);
        if (!overwrite)
            return tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)", path);
    }
    size_t len = strlen(path);
    char *partial = malloc(len + sizeof ".partial");
    if (!partial)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    memcpy(partial, path, len);
    memcpy(partial + len, ".partial", sizeof ".partial");

    tl_status st = TL_OK;
    png_ctx ctx = {{0}};
    FILE *volatile fp = fopen(partial, "wb");
    png_structp png = NULL;
    png_infop info = NULL;
    if (!fp) {
        st = tl_error_set(err, TL_ERR_IO, "cannot create '%s': %s", partial, strerror(errno));
        goto done;
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (png)
        info = png_create_info_struct(png);
    if (!png || !info) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for libpng", partial);
        goto fail;
    }
    if (setjmp(png_jmpbuf(png))) {
        st = tl_error_set(err, TL_ERR_IO, "cannot write PNG '%s': %s", partial,
                          ctx.message[0] ? ctx.message : "libpng error");
        goto fail;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    char software[128];
    snprintf(software, sizeof software, "tomoline %s", tl_version());
    png_text text[2];
    memset(text, 0, sizeof text);
    text[0].compression = PNG_TEXT_COMPRESSION_NONE;
    text[0].key = (png_charp) "Software";
    text[0].text = software;
    int n_text = 1;
    if (description && *description) {
        text[1].compression = PNG_TEXT_COMPRESSION_NONE;
        text[1].key = (png_charp) "Description";
        text[1].text = (png_charp)description;
        n_text = 2;
    }
    png_set_text(png, info, text, n_text);
    png_write_info(png, info);
    for (size_t r = 0; r < height; r++)
        png_write_row(png, pixels + r * width);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    FILE *f = fp;
    fp = NULL;
    if (ferror(f) | (fclose(f) != 0)) {
        st = tl_error_set(err, TL_ERR_IO, "cannot write PNG '%s': %s", partial, strerror(errno));
        unlink(partial);
        goto done;
    }
    if (rename(partial, path) != 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot rename '%s' to '%s': %s", partial, path, strerror(errno));
        unlink(partial);
    }
    goto done;

fail:
    png_destroy_write_struct(&png, &info);
    if (fp)
        fclose(fp);
    unlink(partial);
done:
    free(partial);
    return st;
}
