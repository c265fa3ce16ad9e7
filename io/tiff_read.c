/* tiff_read.c - TIFF frame stacks and TIFF scan directories (see tiff_read.h).
 *
 * TIFF directory naming (the README's "TIFF input" section repeats this):
 *   DIR/proj_NNNN.tif   projections            (required)
 *   DIR/flat_NNNN.tif   flat fields (open beam) (optional: else --flat-file-name)
 *   DIR/dark_NNNN.tif   dark fields             (optional: else --dark-file-name)
 *   DIR/angles.txt      one angle in degrees per projection, in projection order;
 *                       '#' starts a comment, blank lines are ignored (optional:
 *                       else --start-angle and --angle-step)
 * NNNN is any number of decimal digits (proj_7.tif, proj_0007.tif); the
 * extension is .tif or .tiff in any case. Frames are ordered by their number,
 * which may start anywhere but must have no gaps ("projection frame 12 is
 * missing (found 0..11 and 13..99)") and no duplicates (proj_7 and proj_007).
 * Other files in the directory are ignored. Each file holds one frame of one
 * sample per pixel (uint8, uint16, uint32, int16, float32 or float64); all frames
 * have the same size.
 *
 * Reading: a read opens the frame's file (one handle stays cached, so reading
 * several pages of one file or the same file again costs no reopen), then
 * decodes only the strips that hold the rows asked for: scanline by scanline
 * for stripped images (from the first row of the strip holding the first row
 * wanted, since compressed strips cannot be entered in the middle),
 * tile row by tile row for tiled images. Memory: one scanline or one tile.
 */
#define _POSIX_C_SOURCE 200809L
#include "tiff_read.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <tiffio.h>

typedef enum { PX_U8, PX_U16, PX_U32, PX_I16, PX_F32, PX_F64 } px_kind;

static const char *const px_names[] = {"uint8", "uint16", "uint32", "int16", "float32", "float64"};
static const size_t px_bytes[] = {1, 2, 4, 2, 4, 8};

/* libtiff messages for one handle: the first error is kept, warnings dropped. */
typedef struct tiff_msg {
    char text[512];
} tiff_msg;

struct tl_tiff_stack {
    char **files;   /* [n_files] */
    size_t n_files; /* 1 for a multi-page stack */
    int pages;      /* frames are pages of files[0] */
    size_t n, rows, cols;
    px_kind px;
    char what[32];
    /* the cached open handle */
    TIFF *tif;
    size_t tif_file; /* index into files of the open handle */
    tiff_msg msg;    /* written by libtiff through the handle's error handler */
    unsigned char *buf; /* one scanline or one tile */
    size_t buf_size;
};

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)module;
    tiff_msg *m = user;
    if (m && !m->text[0])
        vsnprintf(m->text, sizeof m->text, fmt, ap);
    return 1; /* handled: libtiff's global handler (stderr) is not called */
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1; /* unknown tags and the like: nothing the user can act on */
}

static TIFF *open_quiet(const char *path, tiff_msg *msg)
{
    msg->text[0] = '\0';
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o)
        return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, msg);
    TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, msg);
    TIFF *t = TIFFOpenExt(path, "r", o);
    TIFFOpenOptionsFree(o);
    return t;
}

static const char *reason(const tiff_msg *m)
{
    return m->text[0] ? m->text : "libtiff gave no reason";
}

int tl_tiff_is_tiff(const char *path)
{
    unsigned char b[4];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(b, 1, 4, f);
    fclose(f);
    if (got != 4)
        return 0;
    return (b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0) ||
           (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43));
}

/* Header of the current directory of t: size and pixel kind, checked. */
static tl_status read_header(TIFF *t, const char *file, size_t page, int paged, size_t *rows, size_t *cols,
                             px_kind *px, tl_error *err)
{
    uint32_t w = 0, h = 0;
    uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT;
    char where[64] = "";
    if (paged)
        snprintf(where, sizeof where, " page %zu", page);
    if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h) || w == 0 || h == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s'%s: no image size in the TIFF header", file, where);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
    if (spp != 1)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s'%s: %u samples per pixel (colour?), expected one channel (grey levels)", file, where,
                            (unsigned)spp);
    int ok = 1;
    if (fmt == SAMPLEFORMAT_UINT || fmt == SAMPLEFORMAT_VOID)
        *px = bps == 8 ? PX_U8 : bps == 16 ? PX_U16 : bps == 32 ? PX_U32 : (ok = 0, PX_U8);
    else if (fmt == SAMPLEFORMAT_INT)
        *px = bps == 16 ? PX_I16 : (ok = 0, PX_U8);
    else if (fmt == SAMPLEFORMAT_IEEEFP)
        *px = bps == 32 ? PX_F32 : bps == 64 ? PX_F64 : (ok = 0, PX_U8);
    else
        ok = 0;
    if (!ok)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s'%s: %u-bit %s pixels are not supported (supported: uint8, uint16, uint32, int16, "
                            "float32, float64)",
                            file, where, (unsigned)bps,
                            fmt == SAMPLEFORMAT_INT ? "signed" : fmt == SAMPLEFORMAT_IEEEFP ? "float" : "unsigned");
    *rows = h;
    *cols = w;
    return TL_OK;
}

static tl_status stack_alloc(const char *const *files, size_t n_files, const char *what, tl_tiff_stack **out,
                             tl_error *err)
{
    tl_tiff_stack *s = calloc(1, sizeof *s);
    if (!s)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory opening %zu TIFF files", n_files);
    snprintf(s->what, sizeof s->what, "%s", what ? what : "TIFF");
    s->files = calloc(n_files ? n_files : 1, sizeof *s->files);
    if (!s->files) {
        free(s);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory opening %zu TIFF files", n_files);
    }
    s->n_files = n_files;
    for (size_t i = 0; i < n_files; i++) {
        s->files[i] = strdup(files[i]);
        if (!s->files[i]) {
            tl_tiff_stack_close(&s);
            return tl_error_set(err, TL_ERR_NOMEM, "out of memory opening %zu TIFF files", n_files);
        }
    }
    *out = s;
    return TL_OK;
}

static tl_status open_failure(const char *file, const tiff_msg *m, tl_error *err)
{
    struct stat sb;
    if (stat(file, &sb) != 0)
        return tl_error_set(err, TL_ERR_IO, "cannot open '%s': %s", file, strerror(errno));
    if (!tl_tiff_is_tiff(file))
        return tl_error_set(err, TL_ERR_FORMAT, "'%s' is not a TIFF file", file);
    return tl_error_set(err, TL_ERR_FORMAT, "'%s': cannot read the TIFF file (libtiff: %s)", file, reason(m));
}

static tl_status size_mismatch(const tl_tiff_stack *s, const char *file, const char *where, size_t rows,
                               size_t cols, px_kind px, tl_error *err)
{
    if (rows != s->rows || cols != s->cols)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s'%s: %s frame of %zu x %zu pixels, but '%s' has %zu x %zu (rows x columns); all "
                            "frames must have the same size",
                            file, where, s->what, rows, cols, s->files[0], s->rows, s->cols);
    return tl_error_set(err, TL_ERR_FORMAT, "'%s'%s: %s pixels, but '%s' has %s pixels; all frames must have one type",
                        file, where, px_names[px], s->files[0], px_names[s->px]);
}

tl_status tl_tiff_stack_open_files(const char *const *files, size_t n, const char *what, tl_tiff_stack **out,
                                   tl_error *err)
{
    *out = NULL;
    if (n == 0)
        return tl_error_set(err, TL_ERR_INVALID, "no %s TIFF files given", what ? what : "");
    tl_tiff_stack *s = NULL;
    tl_status st = stack_alloc(files, n, what, &s, err);
    if (st != TL_OK)
        return st;
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        tiff_msg m;
        TIFF *t = open_quiet(files[i], &m);
        if (!t) {
            st = open_failure(files[i], &m, err);
            goto fail;
        }
        size_t rows, cols;
        px_kind px;
        st = read_header(t, files[i], 0, 0, &rows, &cols, &px, err);
        TIFFClose(t);
        if (st != TL_OK)
            goto fail;
        if (i == 0) {
            s->rows = rows;
            s->cols = cols;
            s->px = px;
        } else if (rows != s->rows || cols != s->cols || px != s->px) {
            st = size_mismatch(s, files[i], "", rows, cols, px, err);
            goto fail;
        }
    }
    *out = s;
    return TL_OK;
fail:
    tl_tiff_stack_close(&s);
    return st;
}

tl_status tl_tiff_stack_open_pages(const char *file, const char *what, tl_tiff_stack **out, tl_error *err)
{
    *out = NULL;
    tl_tiff_stack *s = NULL;
    tl_status st = stack_alloc(&file, 1, what, &s, err);
    if (st != TL_OK)
        return st;
    s->pages = 1;
    tiff_msg m;
    TIFF *t = open_quiet(file, &m);
    if (!t) {
        st = open_failure(file, &m, err);
        goto fail;
    }
    size_t page = 0;
    do {
        size_t rows, cols;
        px_kind px;
        st = read_header(t, file, page, 1, &rows, &cols, &px, err);
        if (st != TL_OK)
            break;
        if (page == 0) {
            s->rows = rows;
            s->cols = cols;
            s->px = px;
        } else if (rows != s->rows || cols != s->cols || px != s->px) {
            char where[64];
            snprintf(where, sizeof where, " page %zu", page);
            st = size_mismatch(s, file, where, rows, cols, px, err);
            break;
        }
        page++;
    } while (TIFFReadDirectory(t));
    TIFFClose(t);
    if (st != TL_OK)
        goto fail;
    s->n = page;
    *out = s;
    return TL_OK;
fail:
    tl_tiff_stack_close(&s);
    return st;
}

void tl_tiff_stack_close(tl_tiff_stack **stack)
{
    if (!stack || !*stack)
        return;
    tl_tiff_stack *s = *stack;
    if (s->tif)
        TIFFClose(s->tif);
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    free(s->buf);
    free(s);
    *stack = NULL;
}

size_t tl_tiff_stack_frames(const tl_tiff_stack *s)
{
    return s ? s->n : 0;
}

size_t tl_tiff_stack_rows(const tl_tiff_stack *s)
{
    return s ? s->rows : 0;
}

size_t tl_tiff_stack_cols(const tl_tiff_stack *s)
{
    return s ? s->cols : 0;
}

const char *tl_tiff_stack_pixel_type(const tl_tiff_stack *s)
{
    return s ? px_names[s->px] : "";
}

const char *tl_tiff_stack_file(const tl_tiff_stack *s, size_t frame)
{
    if (!s || s->n_files == 0)
        return "";
    return s->pages ? s->files[0] : s->files[frame < s->n_files ? frame : s->n_files - 1];
}

/* Convert n pixels of kind px at src to float. */
static void to_float(const unsigned char *src, px_kind px, size_t n, float *dst)
{
    switch (px) {
    case PX_U8:
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)src[i];
        break;
    case PX_U16:
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, src + 2 * i, 2);
            dst[i] = (float)v;
        }
        break;
    case PX_U32:
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, src + 4 * i, 4);
            dst[i] = (float)v;
        }
        break;
    case PX_I16:
        for (size_t i = 0; i < n; i++) {
            int16_t v;
            memcpy(&v, src + 2 * i, 2);
            dst[i] = (float)v;
        }
        break;
    case PX_F32:
        memcpy(dst, src, n * sizeof *dst);
        break;
    case PX_F64:
        for (size_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = (float)v;
        }
        break;
    }
}

static tl_status ensure_buf(tl_tiff_stack *s, size_t size, const char *file, tl_error *err)
{
    if (size <= s->buf_size)
        return TL_OK;
    unsigned char *b = realloc(s->buf, size);
    if (!b)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for a TIFF buffer of %zu bytes", file, size);
    s->buf = b;
    s->buf_size = size;
    return TL_OK;
}

/* Make the handle for `frame` current (opening its file, or selecting its page). */
static tl_status select_frame(tl_tiff_stack *s, size_t frame, tl_error *err)
{
    size_t fi = s->pages ? 0 : frame;
    const char *file = s->files[fi];
    if (!s->tif || s->tif_file != fi) {
        if (s->tif) {
            TIFFClose(s->tif);
            s->tif = NULL;
        }
        s->tif = open_quiet(file, &s->msg);
        if (!s->tif)
            return open_failure(file, &s->msg, err);
        s->tif_file = fi;
    }
    s->msg.text[0] = '\0';
    if (s->pages && TIFFCurrentDirectory(s->tif) != frame && !TIFFSetDirectory(s->tif, (tdir_t)frame))
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot select page %zu (libtiff: %s)", file, frame,
                            reason(&s->msg));
    /* The file may have changed since open: check again what the reads rely on. */
    size_t rows, cols;
    px_kind px;
    tl_status st = read_header(s->tif, file, frame, s->pages, &rows, &cols, &px, err);
    if (st != TL_OK)
        return st;
    if (rows != s->rows || cols != s->cols || px != s->px)
        return size_mismatch(s, file, "", rows, cols, px, err);
    return TL_OK;
}

tl_status tl_tiff_stack_read(tl_tiff_stack *s, size_t frame, size_t rb, size_t re, float *out, tl_error *err)
{
    if (!s || !out)
        return tl_error_set(err, TL_ERR_INVALID, "tl_tiff_stack_read: no stack or no output buffer");
    if (frame >= s->n)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': %s frame %zu requested, the stack has %zu", s->files[0],
                            s->what, frame, s->n);
    if (rb >= re || re > s->rows)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': rows %zu to %zu requested, need row_begin < row_end <= %zu",
                            tl_tiff_stack_file(s, frame), rb, re, s->rows);
    tl_status st = select_frame(s, frame, err);
    if (st != TL_OK)
        return st;
    const char *file = s->files[s->tif_file];
    TIFF *t = s->tif;
    size_t bytes = px_bytes[s->px];
    if (!TIFFIsTiled(t)) {
        tmsize_t line = TIFFScanlineSize(t);
        if (line <= 0 || (size_t)line < s->cols * bytes)
            return tl_error_set(err, TL_ERR_FORMAT, "'%s': unexpected scanline size %lld for %zu %s pixels", file,
                                (long long)line, s->cols, px_names[s->px]);
        if ((st = ensure_buf(s, (size_t)line, file, err)) != TL_OK)
            return st;
        /* Compressed strips cannot be entered in the middle: decode from the
         * first row of the strip that holds row_begin (one line at a time). */
        uint32_t per_strip = 0;
        TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &per_strip);
        if (per_strip == 0 || per_strip > s->rows)
            per_strip = (uint32_t)s->rows;
        for (size_t r = rb / per_strip * per_strip; r < re; r++) {
            if (TIFFReadScanline(t, s->buf, (uint32_t)r, 0) < 0)
                return tl_error_set(err, TL_ERR_IO, "'%s': cannot read row %zu of %s frame %zu (libtiff: %s)", file,
                                    r, s->what, frame, reason(&s->msg));
            if (r >= rb)
                to_float(s->buf, s->px, s->cols, out + (r - rb) * s->cols);
        }
        return TL_OK;
    }
    uint32_t tw = 0, th = 0;
    if (!TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw) || !TIFFGetField(t, TIFFTAG_TILELENGTH, &th) || tw == 0 || th == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': tiled TIFF without a tile size", file);
    tmsize_t tsize = TIFFTileSize(t);
    if (tsize <= 0 || (size_t)tsize < (size_t)tw * th * bytes)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': unexpected tile size %lld", file, (long long)tsize);
    if ((st = ensure_buf(s, (size_t)tsize, file, err)) != TL_OK)
        return st;
    for (size_t ty = rb / th * th; ty < re; ty += th) {
        for (size_t tx = 0; tx < s->cols; tx += tw) {
            if (TIFFReadTile(t, s->buf, (uint32_t)tx, (uint32_t)ty, 0, 0) < 0)
                return tl_error_set(err, TL_ERR_IO, "'%s': cannot read the tile at row %zu, column %zu of %s frame "
                                    "%zu (libtiff: %s)",
                                    file, ty, tx, s->what, frame, reason(&s->msg));
            size_t r0 = ty > rb ? ty : rb, r1 = ty + th < re ? ty + th : re;
            size_t ncols = tx + tw <= s->cols ? tw : s->cols - tx;
            for (size_t r = r0; r < r1; r++)
                to_float(s->buf + ((r - ty) * tw) * bytes, s->px, ncols, out + (r - rb) * s->cols + tx);
        }
    }
    return TL_OK;
}

/* ---- directories ---------------------------------------------------------- */

typedef struct numbered {
    unsigned long long number;
    char *name; /* file name within the directory */
} numbered;

typedef struct numbered_list {
    numbered *v;
    size_t n, cap;
} numbered_list;

static int push(numbered_list *l, unsigned long long number, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        numbered *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].name = strdup(name);
    if (!l->v[l->n].name)
        return -1;
    l->v[l->n].number = number;
    l->n++;
    return 0;
}

static void list_free(numbered_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int by_number(const void *a, const void *b)
{
    const numbered *x = a, *y = b;
    return x->number < y->number ? -1 : x->number > y->number ? 1 : strcmp(x->name, y->name);
}

/* "proj_0012.tif" with prefix "proj_": 1 and *number = 12; 0 when the name does not follow the rule. */
static int parse_name(const char *name, const char *prefix, unsigned long long *number)
{
    size_t lp = strlen(prefix);
    if (strncmp(name, prefix, lp) != 0)
        return 0;
    const char *p = name + lp;
    if (!isdigit((unsigned char)*p))
        return 0;
    const char *q = p;
    while (isdigit((unsigned char)*q))
        q++;
    if (strcasecmp(q, ".tif") != 0 && strcasecmp(q, ".tiff") != 0)
        return 0;
    if (q - p > 18)
        return 0; /* more digits than a frame count can need */
    *number = strtoull(p, NULL, 10);
    return 1;
}

/* Describe the numbers present in l as "0..11 and 13..99" (at most a few ranges). */
static void describe_ranges(const numbered_list *l, char *buf, size_t size)
{
    size_t len = 0, shown = 0, n_ranges = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->n; i++)
        if (i == 0 || l->v[i].number != l->v[i - 1].number + 1)
            n_ranges++;
    for (size_t i = 0; i < l->n && len < size;) {
        size_t j = i;
        while (j + 1 < l->n && l->v[j + 1].number == l->v[j].number + 1)
            j++;
        const char *sep = shown == 0 ? "" : shown + 1 == n_ranges ? " and " : ", ";
        if (shown == 6 && n_ranges > 7) {
            len += (size_t)snprintf(buf + len, size - len, ", ... (%zu ranges)", n_ranges);
            break;
        }
        if (i == j)
            len += (size_t)snprintf(buf + len, size - len, "%s%llu", sep, l->v[i].number);
        else
            len += (size_t)snprintf(buf + len, size - len, "%s%llu..%llu", sep, l->v[i].number, l->v[j].number);
        shown++;
        i = j + 1;
    }
}

/* Sort, then check for duplicates and gaps; fill *paths with DIR/name. */
static tl_status finish_list(const char *dir, numbered_list *l, const char *what, char ***paths, tl_error *err)
{
    *paths = NULL;
    if (l->n == 0)
        return TL_OK;
    qsort(l->v, l->n, sizeof *l->v, by_number);
    for (size_t i = 1; i < l->n; i++) {
        if (l->v[i].number == l->v[i - 1].number)
            return tl_error_set(err, TL_ERR_FORMAT, "TIFF directory '%s': %s frame %llu appears twice (%s and %s)", dir,
                                what, l->v[i].number, l->v[i - 1].name, l->v[i].name);
    }
    for (size_t i = 1; i < l->n; i++) {
        if (l->v[i].number != l->v[i - 1].number + 1) {
            char ranges[256];
            describe_ranges(l, ranges, sizeof ranges);
            return tl_error_set(err, TL_ERR_FORMAT, "TIFF directory '%s': %s frame %llu is missing (found %s)", dir,
                                what, l->v[i - 1].number + 1, ranges);
        }
    }
    char **p = calloc(l->n, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "TIFF directory '%s': out of memory", dir);
    for (size_t i = 0; i < l->n; i++) {
        size_t len = strlen(dir) + strlen(l->v[i].name) + 2;
        p[i] = malloc(len);
        if (!p[i]) {
            for (size_t j = 0; j < i; j++)
                free(p[j]);
            free(p);
            return tl_error_set(err, TL_ERR_NOMEM, "TIFF directory '%s': out of memory", dir);
        }
        snprintf(p[i], len, "%s/%s", dir, l->v[i].name);
    }
    *paths = p;
    return TL_OK;
}

void tl_tiff_dir_free(tl_tiff_dir *d)
{
    if (!d)
        return;
    char **lists[3] = {d->proj, d->flat, d->dark};
    size_t counts[3] = {d->n_proj, d->n_flat, d->n_dark};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < counts[k]; i++)
            free(lists[k][i]);
        free(lists[k]);
    }
    free(d->angles_file);
    memset(d, 0, sizeof *d);
}

tl_status tl_tiff_dir_list(const char *dir, tl_tiff_dir *out, tl_error *err)
{
    memset(out, 0, sizeof *out);
    DIR *dh = opendir(dir);
    if (!dh)
        return tl_error_set(err, TL_ERR_IO, "cannot read TIFF directory '%s': %s", dir, strerror(errno));
    static const char *const prefixes[3] = {"proj_", "flat_", "dark_"};
    static const char *const whats[3] = {"projection", "flat-field", "dark-field"};
    numbered_list lists[3] = {{0}, {0}, {0}};
    int have_angles = 0;
    tl_status st = TL_OK;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, "angles.txt") == 0) {
            have_angles = 1;
            continue;
        }
        for (int k = 0; k < 3; k++) {
            unsigned long long number;
            if (parse_name(e->d_name, prefixes[k], &number)) {
                if (push(&lists[k], number, e->d_name) != 0) {
                    st = tl_error_set(err, TL_ERR_NOMEM, "TIFF directory '%s': out of memory", dir);
                    goto done;
                }
                break;
            }
        }
    }
    if (lists[0].n == 0) {
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s' is a directory but holds no projection frames (a TIFF directory has files named "
                          "proj_NNNN.tif, and may have flat_NNNN.tif, dark_NNNN.tif and angles.txt)",
                          dir);
        goto done;
    }
    char **paths[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3 && st == TL_OK; k++)
        st = finish_list(dir, &lists[k], whats[k], &paths[k], err);
    out->proj = paths[0];
    out->flat = paths[1];
    out->dark = paths[2];
    out->n_proj = paths[0] ? lists[0].n : 0;
    out->n_flat = paths[1] ? lists[1].n : 0;
    out->n_dark = paths[2] ? lists[2].n : 0;
    out->first_proj = (size_t)lists[0].v[0].number;
    if (st == TL_OK && have_angles) {
        size_t len = strlen(dir) + sizeof "/angles.txt";
        out->angles_file = malloc(len);
        if (!out->angles_file)
            st = tl_error_set(err, TL_ERR_NOMEM, "TIFF directory '%s': out of memory", dir);
        else
            snprintf(out->angles_file, len, "%s/angles.txt", dir);
    }
    if (st != TL_OK)
        tl_tiff_dir_free(out);
done:
    closedir(dh);
    for (int k = 0; k < 3; k++)
        list_free(&lists[k]);
    return st;
}

tl_status tl_tiff_read_angles_file(const char *path, double **angles, size_t *n, tl_error *err)
{
    *angles = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return tl_error_set(err, TL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 256, count = 0, line_no = 0;
    double *v = malloc(cap * sizeof *v);
    char *line = NULL;
    size_t line_cap = 0;
    tl_status st = TL_OK;
    if (!v) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
        goto done;
    }
    while (getline(&line, &line_cap, f) >= 0) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue;
        char *end;
        errno = 0;
        double a = strtod(p, &end);
        char *rest = end;
        while (isspace((unsigned char)*rest))
            rest++;
        if (end == p || *rest || errno == ERANGE) {
            size_t len = strcspn(p, "\r\n");
            st = tl_error_set(err, TL_ERR_FORMAT, "'%s' line %zu: '%.*s' is not an angle in degrees (one number per line)",
                              path, line_no, (int)(len > 60 ? 60 : len), p);
            goto done;
        }
        if (!isfinite(a) || a > 1e9 || a < -1e9) {
            st = tl_error_set(err, TL_ERR_DATA, "'%s' line %zu: angle %g is not a finite number of degrees", path,
                              line_no, a);
            goto done;
        }
        if (count == cap) {
            double *nv = realloc(v, 2 * cap * sizeof *nv);
            if (!nv) {
                st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
                goto done;
            }
            v = nv;
            cap *= 2;
        }
        v[count++] = a;
    }
    if (ferror(f))
        st = tl_error_set(err, TL_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
done:
    free(line);
    fclose(f);
    if (st != TL_OK) {
        free(v);
        return st;
    }
    *angles = v;
    *n = count;
    return TL_OK;
}
