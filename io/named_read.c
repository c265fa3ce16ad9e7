/* named_read.c - tl_scan layouts that follow no definition (see scan.h):
 *   - named datasets: --data-path (frames), --image-key-path, --angles-path, each
 *     "/path" in the input or "FILE:/path" (FILE relative to the input's
 *     directory unless absolute);
 *   - a file of projections only (Diamond I12 writes projections, flats and
 *     darks to three files), used when --flat-file-name/--dark-file-name are given;
 *   - flats or darks from a separate file (--flat-file-name, --dark-file-name).
 *
 * Which dataset of a file holds frames, when the option does not say (a
 * separate flat/dark file, or the projections file):
 *   1. flats: /exchange/data_white, /exchange/data_white_pre, /exchange/data_white_start;
 *      darks: /exchange/data_dark;
 *   2. /exchange/data, /entry/data/data, /entry/instrument/detector/data;
 *   3. the file's only 3-D numeric dataset (reached by hard links); several is
 *      an error listing them (name one as FILE:/path).
 * Every frame of that dataset is of the one kind. A separate file may also be a
 * multi-page TIFF (each page a frame). Its path is taken as given (relative to
 * the working directory), else relative to the input's directory.
 */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hdf5_util.h"
#include "log.h"
#include "scan_read.h"
#include "tiff_read.h"

static const char *const kind_words[3] = {"projections", "flat-field frames", "dark-field frames"};

/* ---- the only 3-D dataset ------------------------------------------------ */

typedef struct find3d {
    char names[4][TL_SCAN_PATH_MAX];
    size_t n;
} find3d;

static herr_t find3d_cb(hid_t group, const char *name, const H5L_info_t *li, void *data)
{
    find3d *f = data;
    /* Hard links only: soft and external links would lead elsewhere (or nowhere). */
    if (li->type != H5L_TYPE_HARD)
        return 0;
    H5O_info_t oi;
    if (H5Oget_info_by_name(group, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET)
        return 0;
    hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    int ok = sp >= 0 && ty >= 0 && H5Sget_simple_extent_ndims(sp) == 3 &&
             (H5Tget_class(ty) == H5T_INTEGER || H5Tget_class(ty) == H5T_FLOAT);
    if (ty >= 0)
        H5Tclose(ty);
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    if (ok) {
        if (f->n < 4)
            snprintf(f->names[f->n], TL_SCAN_PATH_MAX, "/%s", name);
        f->n++;
    }
    return 0;
}

/* Pick the frames dataset of `file` for `kind` (rules at the top). 1 found
 * (path in out), 0 none, -1 ambiguous (list in out). */
static int pick_dataset(hid_t file, int kind, int with_fallbacks, char *out, size_t size)
{
    static const char *const flat_names[] = {"/exchange/data_white", "/exchange/data_white_pre",
                                             "/exchange/data_white_start"};
    static const char *const dark_names[] = {"/exchange/data_dark"};
    static const char *const common[] = {"/exchange/data", "/entry/data/data", "/entry/instrument/detector/data"};
    if (kind == TL_KEY_FLAT)
        for (size_t i = 0; i < 3; i++)
            if (tl_h5_link_exists(file, flat_names[i]) > 0) {
                snprintf(out, size, "%s", flat_names[i]);
                return 1;
            }
    if (kind == TL_KEY_DARK && tl_h5_link_exists(file, dark_names[0]) > 0) {
        snprintf(out, size, "%s", dark_names[0]);
        return 1;
    }
    for (size_t i = 0; i < 3; i++)
        if (tl_h5_link_exists(file, common[i]) > 0) {
            snprintf(out, size, "%s", common[i]);
            return 1;
        }
    if (!with_fallbacks)
        return 0;
    find3d f = {.n = 0};
    H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, find3d_cb, &f);
    if (f.n == 1) {
        snprintf(out, size, "%s", f.names[0]);
        return 1;
    }
    if (f.n == 0)
        return 0;
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < f.n && i < 4 && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", f.names[i]);
    if (f.n > 4 && len < size)
        snprintf(out + len, size - len, ", ... (%zu in all)", f.n);
    return -1;
}

/* ---- named datasets ------------------------------------------------------ */

tl_status tl_scan_open_named(tl_scan *s, tl_error *err)
{
    const tl_scan_options *o = s->opt;
    hid_t file, d;
    char fname[TL_SCAN_PATH_MAX * 2], dpath[TL_SCAN_PATH_MAX];
    tl_status st = tl_scan_resolve(s, o->data_path, "--data-path", &file, fname, sizeof fname, dpath, sizeof dpath,
                                   err);
    if (st != TL_OK)
        return st;
    if ((st = tl_scan_open_dataset(file, fname, dpath, "--data-path", &d, err)) != TL_OK)
        return st;
    if ((st = tl_scan_add_h5_stack(s, d, fname, dpath, &s->main_stack, err)) != TL_OK)
        return st;
    if ((st = tl_scan_read_content(s, d, fname, dpath, err)) != TL_OK)
        return st;
    snprintf(s->data_desc, sizeof s->data_desc, "%s", o->data_path);
    size_t n_frames = s->stacks[s->main_stack].n;

    if (tl_scan_given(o->image_key_path)) {
        hid_t kf;
        char kname[TL_SCAN_PATH_MAX * 2], kpath[TL_SCAN_PATH_MAX], what[TL_SCAN_PATH_MAX + 32];
        double *keys = NULL;
        size_t n_keys = 0;
        if ((st = tl_scan_resolve(s, o->image_key_path, "--image-key-path", &kf, kname, sizeof kname, kpath,
                                  sizeof kpath, err)) != TL_OK)
            return st;
        if ((st = tl_scan_read_doubles(kf, kname, kpath, &keys, &n_keys, NULL, 0, err)) != TL_OK)
            return st;
        if (n_keys != n_frames) {
            free(keys);
            return tl_error_set(err, TL_ERR_FORMAT, "'%s': --image-key-path %s has %zu values but --data-path %s has %zu frames",
                                s->path, o->image_key_path, n_keys, o->data_path, n_frames);
        }
        snprintf(what, sizeof what, "--image-key-path %s", o->image_key_path);
        st = tl_scan_runs_from_keys(s, s->main_stack, keys, n_keys, what, err);
        free(keys);
        if (st != TL_OK)
            return st;
        snprintf(s->key_desc, sizeof s->key_desc, "%s", o->image_key_path);
        snprintf(s->missing_hint[TL_KEY_PROJECTION], TL_SCAN_PATH_MAX, "--image-key-path %s has no 0",
                 o->image_key_path);
        snprintf(s->missing_hint[TL_KEY_FLAT], TL_SCAN_PATH_MAX,
                 "--image-key-path %s marks no frame as a flat (1); give --flat-file-name", o->image_key_path);
        snprintf(s->missing_hint[TL_KEY_DARK], TL_SCAN_PATH_MAX,
                 "--image-key-path %s marks no frame as a dark (2); give --dark-file-name", o->image_key_path);
        snprintf(s->flat_desc, sizeof s->flat_desc, "%s (image key 1)", o->data_path);
        snprintf(s->dark_desc, sizeof s->dark_desc, "%s (image key 2)", o->data_path);
    } else {
        if ((st = tl_scan_add_run(s, TL_KEY_PROJECTION, s->main_stack, 0, n_frames, 0.0, err)) != TL_OK)
            return st;
        snprintf(s->missing_hint[TL_KEY_PROJECTION], TL_SCAN_PATH_MAX, "--data-path %s has no frames",
                 o->data_path);
        snprintf(s->missing_hint[TL_KEY_FLAT], TL_SCAN_PATH_MAX,
                 "--data-path %s holds projections only (no --image-key-path), so the flats must come from "
                 "--flat-file-name",
                 o->data_path);
        snprintf(s->missing_hint[TL_KEY_DARK], TL_SCAN_PATH_MAX,
                 "--data-path %s holds projections only (no --image-key-path), so the darks must come from "
                 "--dark-file-name",
                 o->data_path);
    }
    if (s->file >= 0)
        tl_scan_read_sample_name(s, s->file, "/entry/sample/name");
    return TL_OK;
}

/* ---- a file of projections ----------------------------------------------- */

tl_status tl_scan_open_frames(tl_scan *s, int *found, tl_error *err)
{
    char dpath[TL_SCAN_PATH_MAX * 2];
    *found = 0;
    int r = pick_dataset(s->file, TL_KEY_PROJECTION, 1, dpath, sizeof dpath);
    if (r < 0)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s': cannot tell which dataset holds the projections (3-D datasets: %s); name it with "
                            "--data-path",
                            s->path, dpath);
    if (r == 0)
        return TL_OK;
    *found = 1;
    hid_t d;
    tl_status st = tl_scan_open_dataset(s->file, s->path, dpath, NULL, &d, err);
    if (st != TL_OK)
        return st;
    if ((st = tl_scan_add_h5_stack(s, d, s->path, dpath, &s->main_stack, err)) != TL_OK)
        return st;
    if ((st = tl_scan_read_content(s, d, s->path, dpath, err)) != TL_OK)
        return st;
    snprintf(s->missing_hint[TL_KEY_PROJECTION], TL_SCAN_PATH_MAX, "dataset %s has no frames", dpath);
    return tl_scan_add_run(s, TL_KEY_PROJECTION, s->main_stack, 0, s->stacks[s->main_stack].n, 0.0, err);
}

/* ---- flats or darks from another file ------------------------------------ */

static int regular_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

tl_status tl_scan_open_kind_file(tl_scan *s, int kind, const char *spec, const char *option, tl_error *err)
{
    char path[TL_SCAN_PATH_MAX * 2], dpath[TL_SCAN_PATH_MAX * 2];
    hid_t file = H5I_INVALID_HID;
    char *desc = kind == TL_KEY_FLAT ? s->flat_desc : s->dark_desc;
    tl_status st;
    size_t index;
    if (regular_file(spec)) {
        snprintf(path, sizeof path, "%s", spec);
    } else {
        tl_scan_relative_to_input(s, spec, path, sizeof path);
        if (!regular_file(path)) {
            if (strstr(spec, ":/")) {
                /* FILE:/path names the dataset too. */
                st = tl_scan_resolve(s, spec, option, &file, path, sizeof path, dpath, sizeof dpath, err);
                if (st != TL_OK)
                    return st;
                goto open_dataset;
            }
            return tl_error_set(err, TL_ERR_IO,
                                "%s '%s': no such file (looked in the working directory and in the input's directory "
                                "'%s')",
                                option, spec, s->dir);
        }
    }
    if (tl_tiff_is_tiff(path)) {
        tl_tiff_stack *t = NULL;
        if ((st = tl_tiff_stack_open_pages(path, kind == TL_KEY_FLAT ? "flat-field" : "dark-field", &t, err)) !=
            TL_OK)
            return st;
        if ((st = tl_scan_add_tiff_stack(s, t, path, &index, err)) != TL_OK)
            return st;
        snprintf(desc, TL_SCAN_PATH_MAX, "%s (%zu TIFF pages)", path, s->stacks[index].n);
        return tl_scan_add_run(s, kind, index, 0, s->stacks[index].n, NAN, err);
    }
    if ((st = tl_scan_open_other(s, path, &file, err)) != TL_OK) {
        tl_error_prefix(err, "%s", option);
        return st;
    }
    int r = pick_dataset(file, kind, 1, dpath, sizeof dpath);
    if (r < 0)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "%s '%s': cannot tell which dataset holds the %s (3-D datasets: %s); name it as FILE:/path",
                            option, path, kind_words[kind], dpath);
    if (r == 0)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "%s '%s': no 3-D dataset of frames found (looked for /exchange/data_white or "
                            "/exchange/data_dark, /exchange/data, /entry/data/data, /entry/instrument/detector/data, "
                            "and any 3-D dataset)",
                            option, path);
open_dataset:;
    hid_t d;
    if ((st = tl_scan_open_dataset(file, path, dpath, option, &d, err)) != TL_OK)
        return st;
    if ((st = tl_scan_add_h5_stack(s, d, path, dpath, &index, err)) != TL_OK)
        return st;
    size_t n = s->stacks[index].n;
    if (n == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "%s '%s': dataset %s has no frames", option, path, dpath);
    snprintf(desc, TL_SCAN_PATH_MAX, "%s:%s (%zu frames)", path, dpath, n);
    return tl_scan_add_run(s, kind, index, 0, n, NAN, err);
}
