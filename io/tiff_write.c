/* tiff_write.c - TIFF slice files and volume directories (see tiff_write.h).
 *
 * Owns the tl_tiff_volume: the OUTPUT and OUTPUT.partial names, a scratch
 * buffer for file names and the width of the slice numbers. Each slice file
 * costs one small row allocation, negligible beside the file's own I/O.
 *
 * libtiff reports problems through handlers; TIFFOpenExt lets each open file
 * carry its own, so messages land in a buffer on the caller's stack and become
 * tl_error text (nothing global is changed, and nothing reaches stderr).
 *
 * Rows are copied into the row buffer before TIFFWriteScanline because libtiff
 * may modify the buffer it is given (byte swapping, predictors); the caller's
 * slab is const.
 */
#define _POSIX_C_SOURCE 200809L
#include "tiff_write.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "tiff_read.h"
#include "version.h"

/* ---- libtiff messages ---------------------------------------------------- */

typedef struct tiff_msgs {
    char error[512];
} tiff_msgs;

static int on_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)module;
    tiff_msgs *m = user;
    if (m && m->error[0] == '\0') /* the first message is the cause */
        vsnprintf(m->error, sizeof m->error, fmt, ap);
    return 1; /* handled: do not call the global handler (stderr) */
}

static int on_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    /* Unknown tags from other writers and the like: not our business. */
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static TIFF *tiff_open(const char *path, const char *mode, tiff_msgs *m)
{
    m->error[0] = '\0';
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts)
        return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_tiff_error, m);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_tiff_warning, m);
    TIFF *tif = TIFFOpenExt(path, mode, opts);
    TIFFOpenOptionsFree(opts);
    return tif;
}

/* ": reason" or "" */
static const char *sep(const tiff_msgs *m)
{
    return m->error[0] ? ": " : "";
}

/* ---- one file ------------------------------------------------------------ */

tl_status tl_tiff_write_float(const char *path, const float *data, size_t ny, size_t nx, const char *description,
                              tl_error *err)
{
    if (!path || !*path)
        return tl_error_set(err, TL_ERR_INVALID, "no TIFF file name given");
    if (!data || ny == 0 || nx == 0)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': an image of %zu x %zu pixels cannot be written", path, ny,
                            nx);
    if (ny > UINT32_MAX || nx > UINT32_MAX / sizeof(float))
        return tl_error_set(err, TL_ERR_INVALID, "'%s': %zu x %zu pixels is more than a TIFF may hold", path, ny,
                            nx);
    float *row = malloc(nx * sizeof *row);
    if (!row)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    /* Classic TIFF addresses 4 GiB; BigTIFF ("w8") only when needed, since
     * some older readers do not know it. */
    double bytes = (double)ny * (double)nx * sizeof(float);
    tiff_msgs m;
    TIFF *tif = tiff_open(path, bytes > 4.0e9 ? "w8" : "w", &m);
    if (!tif) {
        free(row);
        if (!m.error[0])
            snprintf(m.error, sizeof m.error, "%s", strerror(errno));
        return tl_error_set(err, TL_ERR_IO, "cannot create TIFF '%s': %s", path, m.error);
    }
    char software[128];
    snprintf(software, sizeof software, "tomoline %s", tl_version());
    int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)nx) && TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)ny) &&
             TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 32) && TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1) &&
             TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP) &&
             TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK) &&
             TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
             TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE) &&
             TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0)) &&
             TIFFSetField(tif, TIFFTAG_SOFTWARE, software) &&
             (!description || TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, description));
    for (size_t r = 0; ok && r < ny; r++) {
        memcpy(row, data + r * nx, nx * sizeof *row);
        ok = TIFFWriteScanline(tif, row, (uint32_t)r, 0) == 1;
    }
    /* TIFFClose writes the directory; a full disk shows up only there. */
    ok = ok && TIFFWriteDirectory(tif);
    TIFFClose(tif);
    free(row);
    if (!ok)
        return tl_error_set(err, TL_ERR_IO, "cannot write TIFF '%s'%s%s", path, sep(&m), m.error);
    return TL_OK;
}

/* Reading slices back goes through the one TIFF reader of io/ (tiff_read.h). */
tl_status tl_tiff_probe(const char *path, size_t *ny, size_t *nx, tl_error *err)
{
    tl_tiff_stack *stack = NULL;
    const char *files[1] = {path};
    tl_status st = tl_tiff_stack_open_files(files, 1, "slice", &stack, err);
    if (st == TL_OK) {
        *ny = tl_tiff_stack_rows(stack);
        *nx = tl_tiff_stack_cols(stack);
    }
    tl_tiff_stack_close(&stack);
    return st;
}

tl_status tl_tiff_read_rows(const char *path, size_t ny_expect, size_t nx_expect, size_t row_begin, size_t n_rows,
                            float *out, tl_error *err)
{
    tl_tiff_stack *stack = NULL;
    const char *files[1] = {path};
    tl_status st = tl_tiff_stack_open_files(files, 1, "slice", &stack, err);
    if (st != TL_OK)
        return st;
    size_t h = tl_tiff_stack_rows(stack), w = tl_tiff_stack_cols(stack);
    if ((ny_expect && h != ny_expect) || (nx_expect && w != nx_expect))
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s' is %zu x %zu pixels, expected %zu x %zu like the other slices",
                          path, h, w, ny_expect ? ny_expect : h, nx_expect ? nx_expect : w);
    else if (row_begin > h || n_rows > h - row_begin || n_rows == 0)
        st = tl_error_set(err, TL_ERR_INVALID, "'%s': rows %zu to %zu requested, the image has %zu", path, row_begin,
                          row_begin + n_rows - 1, h);
    else
        st = tl_tiff_stack_read(stack, 0, row_begin, row_begin + n_rows, out, err);
    tl_tiff_stack_close(&stack);
    return st;
}

/* ---- volume directories -------------------------------------------------- */

struct tl_tiff_volume {
    char *path;
    char *partial;
    char *name;   /* scratch for file paths inside partial */
    size_t name_size;
    size_t nz, ny, nx, z_first;
    int digits;
    int overwrite;
};

static const char slice_prefix[] = "slice_";
static const char slice_suffix[] = ".tif";

/* 1 when name is slice_<digits>.tif; *index and *width get the number. */
static int parse_slice_name(const char *name, size_t *index, int *width)
{
    size_t lp = sizeof slice_prefix - 1, ls = sizeof slice_suffix - 1, len = strlen(name);
    if (len <= lp + ls || strncmp(name, slice_prefix, lp) != 0 || strcmp(name + len - ls, slice_suffix) != 0)
        return 0;
    size_t v = 0;
    int w = 0;
    for (const char *p = name + lp; p < name + len - ls; p++, w++) {
        if (*p < '0' || *p > '9' || w >= 18)
            return 0;
        v = v * 10 + (size_t)(*p - '0');
    }
    *index = v;
    *width = w;
    return 1;
}

/* Files this layout writes, which removal may delete. */
static int ours(const char *name)
{
    size_t i;
    int w;
    return strcmp(name, "provenance.txt") == 0 || strcmp(name, "config.ini") == 0 || parse_slice_name(name, &i, &w);
}

/* Remove a volume directory that holds only our files. Returns 0 on success,
 * 1 when something else is in it (its name in foreign; nothing removed), -1 on
 * a system error (errno). */
static int remove_volume_dir(const char *dir, char *foreign, size_t foreign_size)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int bad = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!ours(e->d_name)) {
            snprintf(foreign, foreign_size, "%s", e->d_name);
            bad = 1;
            break;
        }
    }
    if (bad) {
        closedir(d);
        return 1;
    }
    rewinddir(d);
    size_t dl = strlen(dir);
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t n = dl + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            errno = ENOMEM;
            rc = -1;
            break;
        }
        snprintf(p, n, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0 && errno != ENOENT)
            rc = -1;
        free(p);
    }
    closedir(d);
    if (rc == 0 && rmdir(dir) != 0)
        rc = -1;
    return rc;
}

/* May `path` (which exists) be replaced? Sets err when not. */
static tl_status check_replaceable(const char *path, const struct stat *sb, tl_error *err)
{
    if (S_ISREG(sb->st_mode))
        return TL_OK;
    if (!S_ISDIR(sb->st_mode))
        return tl_error_set(err, TL_ERR_EXISTS, "'%s' exists and is neither a file nor a directory; not replaced",
                            path);
    DIR *d = opendir(path);
    if (!d)
        return tl_error_set(err, TL_ERR_IO, "cannot read directory '%s': %s", path, strerror(errno));
    struct dirent *e;
    tl_status st = TL_OK;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || ours(e->d_name))
            continue;
        st = tl_error_set(err, TL_ERR_EXISTS,
                          "'%s' is a directory holding files tomoline did not write (e.g. '%s'); --overwrite "
                          "replaces only a TIFF volume directory, so choose another output",
                          path, e->d_name);
        break;
    }
    closedir(d);
    return st;
}

static int count_digits(size_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

void tl_tiff_volume_slice_path(char *buf, size_t size, const char *dir, size_t z, int digits)
{
    snprintf(buf, size, "%s/%s%0*zu%s", dir, slice_prefix, digits, z, slice_suffix);
}

static void volume_free(tl_tiff_volume *v)
{
    free(v->name);
    free(v->partial);
    free(v->path);
    free(v);
}

tl_status tl_tiff_volume_create(const char *path, size_t nz, size_t ny, size_t nx, size_t z_first, int overwrite,
                                tl_tiff_volume **out, tl_error *err)
{
    if (!out)
        return tl_error_set(err, TL_ERR_INVALID, "tl_tiff_volume_create: no output pointer");
    *out = NULL;
    if (!path || !*path)
        return tl_error_set(err, TL_ERR_INVALID, "no output directory name given");
    if (nz == 0 || ny == 0 || nx == 0)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': volume of %zu x %zu x %zu voxels, need at least 1 each", path,
                            nz, ny, nx);
    /* "out/" and "out" name the same directory; OUTPUT.partial must sit beside it. */
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    struct stat sb;
    tl_status st;
    if (stat(path, &sb) == 0) {
        if (!overwrite)
            return tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)", path);
        if ((st = check_replaceable(path, &sb, err)) != TL_OK)
            return st;
    }
    tl_tiff_volume *v = calloc(1, sizeof *v);
    if (!v)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    v->nz = nz;
    v->ny = ny;
    v->nx = nx;
    v->z_first = z_first;
    v->overwrite = overwrite;
    v->digits = count_digits(nz - 1) > 5 ? count_digits(nz - 1) : 5;
    v->path = malloc(len + 1);
    v->partial = malloc(len + sizeof ".partial");
    v->name_size = len + sizeof ".partial" + 64;
    v->name = malloc(v->name_size);
    if (!v->path || !v->partial || !v->name) {
        volume_free(v);
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    }
    memcpy(v->path, path, len);
    v->path[len] = '\0';
    snprintf(v->partial, len + sizeof ".partial", "%s.partial", v->path);

    /* A leftover from a crash: ours to replace, but only if it holds our files. */
    if (lstat(v->partial, &sb) == 0) {
        char foreign[256] = "";
        int rc = S_ISDIR(sb.st_mode) ? remove_volume_dir(v->partial, foreign, sizeof foreign) : unlink(v->partial);
        if (rc == 1) {
            st = tl_error_set(err, TL_ERR_EXISTS,
                              "'%s' is left from an earlier run and holds files tomoline did not write (e.g. '%s'); "
                              "remove it",
                              v->partial, foreign);
            volume_free(v);
            return st;
        }
        if (rc != 0) {
            st = tl_error_set(err, TL_ERR_IO, "cannot remove '%s' left from an earlier run: %s", v->partial,
                              strerror(errno));
            volume_free(v);
            return st;
        }
    }
    if (mkdir(v->partial, 0777) != 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot create directory '%s': %s", v->partial, strerror(errno));
        volume_free(v);
        return st;
    }
    *out = v;
    return TL_OK;
}

tl_status tl_tiff_volume_write(tl_tiff_volume *v, size_t z_begin, size_t nz, const float *data, tl_error *err)
{
    if (!v)
        return tl_error_set(err, TL_ERR_INVALID, "tl_tiff_volume_write: no volume");
    if (z_begin > v->nz || nz > v->nz - z_begin)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': slices %zu to %zu requested, the volume has %zu",
                            v->partial, z_begin, z_begin + nz - 1, v->nz);
    if (nz > 0 && !data)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no voxels given", v->partial);
    size_t plane = v->ny * v->nx;
    for (size_t i = 0; i < nz; i++) {
        size_t z = z_begin + i;
        tl_tiff_volume_slice_path(v->name, v->name_size, v->partial, z, v->digits);
        char desc[256];
        snprintf(desc, sizeof desc,
                 "tomoline %s (git %s): slice z=%zu of %zu (detector row %zu), %zu x %zu pixels, 32-bit float; "
                 "provenance in provenance.txt",
                 tl_version(), tl_git_revision(), z, v->nz, v->z_first + z, v->ny, v->nx);
        tl_status st = tl_tiff_write_float(v->name, data + i * plane, v->ny, v->nx, desc, err);
        if (st != TL_OK)
            return st;
    }
    return TL_OK;
}

tl_status tl_tiff_volume_write_text(tl_tiff_volume *v, const char *name, const char *text, tl_error *err)
{
    if (!v || !name)
        return tl_error_set(err, TL_ERR_INVALID, "tl_tiff_volume_write_text: no volume or name");
    if (!ours(name) || strchr(name, '/'))
        return tl_error_set(err, TL_ERR_INVALID, "'%s': '%s' is not a file of a TIFF volume", v->partial, name);
    snprintf(v->name, v->name_size, "%s/%s", v->partial, name);
    FILE *f = fopen(v->name, "w");
    if (!f)
        return tl_error_set(err, TL_ERR_IO, "cannot create '%s': %s", v->name, strerror(errno));
    size_t n = text ? strlen(text) : 0;
    int ok = fwrite(text ? text : "", 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        return tl_error_set(err, TL_ERR_IO, "cannot write '%s': %s", v->name, strerror(errno));
    return TL_OK;
}

const char *tl_tiff_volume_partial(const tl_tiff_volume *v)
{
    return v ? v->partial : "";
}

void tl_tiff_volume_abort(tl_tiff_volume **v)
{
    if (!v || !*v)
        return;
    char foreign[256];
    /* Only our files were written there; a stray file (someone else's) keeps
     * the directory, which is the safe failure. */
    remove_volume_dir((*v)->partial, foreign, sizeof foreign);
    volume_free(*v);
    *v = NULL;
}

tl_status tl_tiff_volume_commit(tl_tiff_volume **vp, tl_error *err)
{
    if (!vp || !*vp)
        return tl_error_set(err, TL_ERR_INVALID, "tl_tiff_volume_commit: no volume");
    tl_tiff_volume *v = *vp;
    tl_status st = TL_OK;
    char foreign[256] = "";
    struct stat sb;
    char *old = NULL;
    if (lstat(v->path, &sb) == 0) {
        /* Checked at create too; the output may have appeared since. */
        if (!v->overwrite) {
            st = tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)", v->path);
            goto fail;
        }
        if ((st = check_replaceable(v->path, &sb, err)) != TL_OK)
            goto fail;
        /* Move the old output aside first: rename cannot replace a non-empty
         * directory, and the old one must survive a failed rename. */
        size_t n = strlen(v->path) + sizeof ".old";
        old = malloc(n);
        if (!old) {
            st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", v->path);
            goto fail;
        }
        snprintf(old, n, "%s.old", v->path);
        struct stat ob;
        if (lstat(old, &ob) == 0) {
            int rc = S_ISDIR(ob.st_mode) ? remove_volume_dir(old, foreign, sizeof foreign) : unlink(old);
            if (rc != 0) {
                st = tl_error_set(err, TL_ERR_IO, "cannot replace '%s': '%s' is in the way and cannot be removed",
                                  v->path, old);
                goto fail;
            }
        }
        if (rename(v->path, old) != 0) {
            st = tl_error_set(err, TL_ERR_IO, "cannot move the old '%s' aside: %s", v->path, strerror(errno));
            goto fail;
        }
    }
    if (rename(v->partial, v->path) != 0) {
        int e = errno;
        if (old && rename(old, v->path) != 0)
            tl_error_set(err, TL_ERR_IO, "cannot rename '%s' to '%s' (%s), and the old volume stays at '%s'",
                         v->partial, v->path, strerror(e), old);
        else
            tl_error_set(err, TL_ERR_IO, "cannot rename '%s' to '%s': %s", v->partial, v->path, strerror(e));
        st = TL_ERR_IO;
        goto fail;
    }
    if (old) {
        int rc = S_ISDIR(sb.st_mode) ? remove_volume_dir(old, foreign, sizeof foreign) : unlink(old);
        (void)rc; /* the new volume is in place; a leftover .old is only clutter */
    }
    free(old);
    volume_free(v);
    *vp = NULL;
    return TL_OK;
fail:
    free(old);
    tl_tiff_volume_abort(vp);
    return st;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

tl_status tl_tiff_volume_probe(const char *dir, size_t *nz, size_t *ny, size_t *nx, int *digits, tl_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tl_error_set(err, TL_ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
    size_t n = 0, cap = 0, *idx = NULL;
    int width = -1, mixed = 0;
    struct dirent *e;
    tl_status st = TL_OK;
    while ((e = readdir(d)) != NULL) {
        size_t i;
        int w;
        if (!parse_slice_name(e->d_name, &i, &w))
            continue;
        if (width >= 0 && w != width)
            mixed = 1;
        width = w;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            size_t *p = realloc(idx, nc * sizeof *p);
            if (!p) {
                st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory listing slice files", dir);
                goto done;
            }
            idx = p;
            cap = nc;
        }
        idx[n++] = i;
    }
    if (n == 0) {
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s' holds no slice_NNNNN.tif files (not a TIFF volume written by tomoline)", dir);
        goto done;
    }
    if (mixed) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': the slice file names have numbers of different widths", dir);
        goto done;
    }
    qsort(idx, n, sizeof *idx, cmp_size);
    for (size_t i = 0; i < n; i++) {
        if (idx[i] != i) {
            char name[64];
            snprintf(name, sizeof name, "%s%0*zu%s", slice_prefix, width, i, slice_suffix);
            st = tl_error_set(err, TL_ERR_FORMAT,
                              "'%s': slice file %s is missing (%zu slice files, numbered up to %zu)", dir, name, n,
                              idx[n - 1]);
            goto done;
        }
    }
    char first[4200];
    tl_tiff_volume_slice_path(first, sizeof first, dir, 0, width);
    size_t h = 0, w = 0;
    if ((st = tl_tiff_probe(first, &h, &w, err)) != TL_OK)
        goto done;
    *nz = n;
    *ny = h;
    *nx = w;
    *digits = width;
done:
    free(idx);
    closedir(d);
    return st;
}
