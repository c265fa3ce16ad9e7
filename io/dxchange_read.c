/* dxchange_read.c - the APS Data Exchange layout of tl_scan (see scan.h).
 *
 * Data Exchange keeps each kind of frame in its own dataset under /exchange.
 * What files really contain (APS tomoscan / areaDetector FrameType, the dxfile
 * definition, tomocupy's converters):
 *   data                                projections [n_proj, rows, cols]
 *   data_white                          flats (when alone: their time is not recorded)
 *   data_white_pre  | data_white_start  flats taken before the projections
 *   data_white_post | data_white_end    flats taken after them
 *   data_dark (| _pre/_start, _post/_end)  darks
 *   theta                               angles [n_proj], degrees (@units may say rad)
 * Before = the first of data_white_pre, data_white_start, data_white; after = the
 * first of data_white_post, data_white_end. With both, flats are interpolated in
 * acquisition order (pre-flats, projections, post-flats). An after set of zero
 * frames is ignored, and so is one whose first frame's middle row is all zeros:
 * some beamlines write data_white_post as an all-zero placeholder.
 */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5_util.h"
#include "log.h"
#include "scan_read.h"

static const char *first_existing(hid_t file, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tl_h5_link_exists(file, names[i]) > 0)
            return names[i];
    return NULL;
}

/* Open one flat or dark dataset as a stack; *index and *n frames. */
static tl_status open_set(tl_scan *s, const char *dpath, size_t *index, size_t *n, tl_error *err)
{
    hid_t d;
    tl_status st = tl_scan_open_dataset(s->file, s->path, dpath, NULL, &d, err);
    if (st != TL_OK)
        return st;
    st = tl_scan_add_h5_stack(s, d, s->path, dpath, index, err);
    if (st == TL_OK)
        *n = s->stacks[*index].n;
    return st;
}

/* 1 when the middle row of the first frame of stack `index` is all zeros. */
static int placeholder(tl_scan *s, size_t index)
{
    const tl_frame_stack *fs = &s->stacks[index];
    float *row = malloc(fs->cols * sizeof *row);
    if (!row)
        return 0;
    hid_t fspace = H5Dget_space(fs->dset);
    hsize_t start[3] = {0, fs->rows / 2, 0}, count[3] = {1, 1, fs->cols};
    hid_t mspace = H5Screate_simple(3, count, NULL);
    int zero = 0;
    if (fspace >= 0 && mspace >= 0 && H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dread(fs->dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, row) >= 0) {
        zero = 1;
        for (size_t c = 0; c < fs->cols && zero; c++)
            zero = row[c] == 0.0f;
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    free(row);
    return zero;
}

tl_status tl_scan_open_dxchange(tl_scan *s, tl_error *err)
{
    static const char *const data_path = "/exchange/data", *const theta_path = "/exchange/theta";
    static const char *const white_before[] = {"/exchange/data_white_pre", "/exchange/data_white_start",
                                               "/exchange/data_white"};
    static const char *const white_after[] = {"/exchange/data_white_post", "/exchange/data_white_end"};
    static const char *const dark_before[] = {"/exchange/data_dark", "/exchange/data_dark_pre",
                                              "/exchange/data_dark_start"};
    static const char *const dark_after[] = {"/exchange/data_dark_post", "/exchange/data_dark_end"};

    hid_t d;
    tl_status st = tl_scan_open_dataset(s->file, s->path, data_path, NULL, &d, err);
    if (st != TL_OK)
        return st;
    if ((st = tl_scan_add_h5_stack(s, d, s->path, data_path, &s->main_stack, err)) != TL_OK)
        return st;
    if ((st = tl_scan_read_content(s, d, s->path, data_path, err)) != TL_OK)
        return st;
    size_t n_proj = s->stacks[s->main_stack].n;
    if (n_proj == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no projections", s->path, data_path);

    /* flats: before, after */
    size_t nb = 0, na = 0, ib = 0, ia = 0;
    const char *wb = NULL, *wa = NULL;
    if (tl_scan_needs_kind(s, TL_KEY_FLAT)) {
        wb = first_existing(s->file, white_before, 3);
        wa = first_existing(s->file, white_after, 2);
        if (!wb && !wa)
            return tl_error_set(err, TL_ERR_FORMAT,
                                "'%s': /exchange/data_white missing (Data Exchange needs flat-field frames: "
                                "/exchange/data_white, or data_white_pre/_start and data_white_post/_end; or give "
                                "--flat-file-name)",
                                s->path);
        if (wb && (st = open_set(s, wb, &ib, &nb, err)) != TL_OK)
            return st;
        if (wa && (st = open_set(s, wa, &ia, &na, err)) != TL_OK)
            return st;
        if (wa && na > 0 && s->stacks[ia].rows == s->stacks[s->main_stack].rows &&
            s->stacks[ia].cols == s->stacks[s->main_stack].cols && placeholder(s, ia)) {
            tl_log_warn("'%s': %s is all zeros in its first frame (a placeholder, as some beamlines write): using "
                        "the flats before the projections only",
                        s->path, wa);
            na = 0;
        }
        if (nb + na == 0)
            return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no flat-field frames", s->path,
                                wb ? wb : wa);
        if (na == 0)
            wa = NULL;
        if (nb == 0)
            wb = NULL;
    }
    /* Acquisition order: pre-flats, projections, post-flats. */
    if ((st = tl_scan_add_run(s, TL_KEY_PROJECTION, s->main_stack, 0, n_proj, (double)nb, err)) != TL_OK)
        return st;
    /* A lone data_white has no recorded time: no position, no interpolation. */
    int lone_white = wb && !wa && strcmp(wb, "/exchange/data_white") == 0;
    if (wb && (st = tl_scan_add_run(s, TL_KEY_FLAT, ib, 0, nb, lone_white ? NAN : 0.0, err)) != TL_OK)
        return st;
    if (wa && (st = tl_scan_add_run(s, TL_KEY_FLAT, ia, 0, na, (double)(nb + n_proj), err)) != TL_OK)
        return st;
    if (wb && wa)
        snprintf(s->flat_desc, sizeof s->flat_desc, "%s (%zu) and %s (%zu)", wb, nb, wa, na);
    else if (wb || wa)
        snprintf(s->flat_desc, sizeof s->flat_desc, "%s", wb ? wb : wa);

    /* darks: every set, averaged together */
    if (tl_scan_needs_kind(s, TL_KEY_DARK)) {
        const char *db = first_existing(s->file, dark_before, 3), *da = first_existing(s->file, dark_after, 2);
        if (!db && !da)
            return tl_error_set(err, TL_ERR_FORMAT,
                                "'%s': /exchange/data_dark missing (Data Exchange needs dark-field frames; or give "
                                "--dark-file-name)",
                                s->path);
        size_t n_dark = 0;
        const char *sets[2] = {db, da};
        for (int i = 0; i < 2; i++) {
            if (!sets[i])
                continue;
            size_t index, n;
            if ((st = open_set(s, sets[i], &index, &n, err)) != TL_OK)
                return st;
            if ((st = tl_scan_add_run(s, TL_KEY_DARK, index, 0, n, NAN, err)) != TL_OK)
                return st;
            n_dark += n;
        }
        if (n_dark == 0)
            return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no dark-field frames", s->path,
                                db ? db : da);
        if (db && da)
            snprintf(s->dark_desc, sizeof s->dark_desc, "%s and %s", db, da);
        else
            snprintf(s->dark_desc, sizeof s->dark_desc, "%s", db ? db : da);
    }

    /* angles */
    if (!tl_scan_given(s->opt->angles_path)) {
        char units[64];
        double *theta = NULL;
        size_t n_theta = 0;
        if (!tl_h5_link_exists(s->file, theta_path))
            return tl_error_set(err, TL_ERR_FORMAT,
                                "'%s': %s missing (Data Exchange needs one angle in degrees per projection; "
                                "--angles-path names another dataset)",
                                s->path, theta_path);
        st = tl_scan_read_doubles(s->file, s->path, theta_path, &theta, &n_theta, units, sizeof units, err);
        if (st != TL_OK)
            return st;
        tl_scan_to_degrees(theta, n_theta, units);
        if (n_theta != n_proj) {
            free(theta);
            return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has %zu values but %s has %zu projections",
                                s->path, theta_path, n_theta, data_path, n_proj);
        }
        st = tl_scan_take_angles(s, theta, n_theta, "dataset /exchange/theta", err);
        free(theta);
        if (st != TL_OK)
            return st;
        snprintf(s->angles_desc, sizeof s->angles_desc, "%s", theta_path);
    }
    tl_scan_read_sample_name(s, s->file, "/measurement/sample/name");
    return TL_OK;
}
