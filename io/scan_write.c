/* scan_write.c - write raw scans (NXtomo or Data Exchange) that tl_scan reads.
 *
 * Owns the tl_scan_writer: the PATH.partial file, its pixel datasets, and a
 * one-frame conversion buffer for integer output (allocated at create, so put()
 * never allocates).
 *
 * Everything except the pixels (groups, image keys, angles, links) is written at
 * create; put() fills pixels in any order. Commit closes the file and renames it
 * to PATH, so a crash or an abort never leaves a file that looks whole.
 *
 * NXtomo layout written:
 *   /entry                        NXentry, definition = "NXtomo", @default = "data"
 *   /entry/instrument             NXinstrument
 *   /entry/instrument/detector    NXdetector: data [n_dark + n_flat + n_proj, rows, cols]
 *                                 (darks, flats, projections), image_key [n] int32
 *   /entry/sample                 NXsample: name (if given), rotation_angle [n] float64 degrees
 *                                 (darks and flats get the first projection angle)
 *   /entry/data                   NXdata: hard links data, image_key, rotation_angle
 * Data Exchange: /exchange/data, data_white, data_dark, theta (float64, @units = "degrees").
 * Pixel datasets are chunked [1, min(rows, 16), cols] so a slab of rows of one
 * frame is one chunk read. Integer pixels (uint8, uint16, uint32) are rounded to
 * nearest and clipped to the type's range; NaN becomes 0.
 * Normalized projections (desc->content) carry the attribute tomoline_content
 * ("line_integrals" or "transmission") on the projections' dataset; the reader
 * then needs no flats or darks.
 */
#define _POSIX_C_SOURCE 200809L
#include "scan_write.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5_util.h"

struct tl_scan_writer {
    char *path;
    char *partial;
    hid_t file;
    tl_scan_desc desc;   /* angles_deg is not kept: the angles are written at create */
    hid_t dset[3];       /* per kind (tl_image_key 0..2); NXtomo: the same dataset thrice */
    const char *dset_path[3];
    size_t offset[3];    /* first frame of the kind in its dataset */
    size_t n[3];         /* frames of the kind */
    uint32_t *buf;       /* [n_rows * n_cols], integer output only */
};

static const char *const kind_names[3] = {"projections", "flat-field frames", "dark-field frames"};

static void close_datasets(tl_scan_writer *w)
{
    for (int k = 0; k < 3; k++) {
        hid_t d = w->dset[k];
        if (d < 0)
            continue;
        /* NXtomo shares one dataset between the kinds: close it once. */
        for (int j = k; j < 3; j++)
            if (w->dset[j] == d)
                w->dset[j] = H5I_INVALID_HID;
        H5Dclose(d);
    }
}

static void writer_free(tl_scan_writer *w)
{
    free(w->buf);
    free(w->partial);
    free(w->path);
    free(w);
}

/* A pixel dataset [n, rows, cols], chunked per frame-row slab. */
static hid_t create_pixels(tl_scan_writer *w, hid_t loc, const char *name, const char *full_path,
                           size_t n, tl_error *err)
{
    const tl_scan_desc *d = &w->desc;
    hsize_t dims[3] = {n, d->n_rows, d->n_cols};
    hid_t space = H5Screate_simple(3, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dset = H5I_INVALID_HID;
    if (space >= 0 && dcpl >= 0) {
        /* A chunk may not exceed the extent of a fixed-size dataset: an empty
         * one (no flats, say) stays contiguous. */
        hsize_t chunk[3] = {1, d->n_rows < 16 ? d->n_rows : 16, d->n_cols};
        if (n > 0)
            H5Pset_chunk(dcpl, 3, chunk);
        hid_t ftype = d->pixel_type == TL_PIXEL_UINT16   ? H5T_STD_U16LE
                      : d->pixel_type == TL_PIXEL_UINT8  ? H5T_STD_U8LE
                      : d->pixel_type == TL_PIXEL_UINT32 ? H5T_STD_U32LE
                                                         : H5T_IEEE_F32LE;
        dset = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    }
    if (dset < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        tl_error_set(err, TL_ERR_IO, "'%s': cannot create dataset %s%s%s%s", w->partial, full_path,
                     reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return dset;
}

/* What the projections hold, when not raw counts (read back by tl_scan). */
static tl_status write_content(tl_scan_writer *w, hid_t dset, const char *dset_path, tl_error *err)
{
    if (!w->desc.content)
        return TL_OK;
    return tl_h5_write_string_attr(dset, "tomoline_content", w->desc.content, w->partial, dset_path, err);
}

static tl_status write_nxtomo(tl_scan_writer *w, tl_error *err)
{
    const tl_scan_desc *d = &w->desc;
    const char *f = w->partial;
    size_t n = d->n_dark + d->n_flat + d->n_proj;
    hid_t entry = H5I_INVALID_HID, inst = H5I_INVALID_HID, det = H5I_INVALID_HID;
    hid_t sample = H5I_INVALID_HID, data = H5I_INVALID_HID, keys_ds = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID;
    int32_t *keys = NULL;
    double *angles = NULL;
    tl_status st = TL_ERR_IO;

    if ((entry = tl_h5_create_group(w->file, "/entry", "NXentry", f, "/entry", err)) < 0)
        goto done;
    if ((st = tl_h5_write_string_attr(entry, "default", "data", f, "/entry", err)) != TL_OK)
        goto done;
    if ((st = tl_h5_write_string_dataset(entry, "definition", "NXtomo", f, "/entry", err)) != TL_OK)
        goto done;
    st = TL_ERR_IO;
    if ((inst = tl_h5_create_group(entry, "instrument", "NXinstrument", f, "/entry/instrument", err)) < 0)
        goto done;
    if ((det = tl_h5_create_group(inst, "detector", "NXdetector", f, "/entry/instrument/detector",
                                  err)) < 0)
        goto done;
    hid_t pixels = create_pixels(w, det, "data", "/entry/instrument/detector/data", n, err);
    if (pixels < 0)
        goto done;
    static const char *const data_path = "/entry/instrument/detector/data";
    for (int k = 0; k < 3; k++) {
        w->dset[k] = pixels;
        w->dset_path[k] = data_path;
    }
    if ((st = write_content(w, pixels, data_path, err)) != TL_OK)
        goto done;
    w->offset[TL_KEY_DARK] = 0;
    w->offset[TL_KEY_FLAT] = d->n_dark;
    w->offset[TL_KEY_PROJECTION] = d->n_dark + d->n_flat;

    keys = malloc((n ? n : 1) * sizeof *keys);
    angles = malloc((n ? n : 1) * sizeof *angles);
    if (!keys || !angles) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", f);
        goto done;
    }
    double first_angle = d->n_proj ? d->angles_deg[0] : 0.0;
    for (size_t i = 0; i < n; i++) {
        if (i < d->n_dark) {
            keys[i] = TL_KEY_DARK;
            angles[i] = first_angle;
        } else if (i < d->n_dark + d->n_flat) {
            keys[i] = TL_KEY_FLAT;
            angles[i] = first_angle;
        } else {
            keys[i] = TL_KEY_PROJECTION;
            angles[i] = d->angles_deg[i - d->n_dark - d->n_flat];
        }
    }
    hsize_t kdims[1] = {n};
    space = H5Screate_simple(1, kdims, NULL);
    if (space >= 0)
        keys_ds = H5Dcreate2(det, "image_key", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
    if (keys_ds < 0 ||
        (n > 0 && H5Dwrite(keys_ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, keys) < 0)) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot write dataset /entry/instrument/detector/image_key%s%s%s",
                          f, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
        goto done;
    }

    st = TL_ERR_IO;
    if ((sample = tl_h5_create_group(entry, "sample", "NXsample", f, "/entry/sample", err)) < 0)
        goto done;
    if (d->sample_name &&
        (st = tl_h5_write_string_dataset(sample, "name", d->sample_name, f, "/entry/sample", err)) != TL_OK)
        goto done;
    if ((st = tl_h5_write_double_dataset(sample, "rotation_angle", angles, n, f, "/entry/sample",
                                         err)) != TL_OK)
        goto done;
    hid_t ra = H5Dopen2(sample, "rotation_angle", H5P_DEFAULT);
    st = ra >= 0 ? tl_h5_write_string_attr(ra, "units", "degrees", f, "/entry/sample/rotation_angle", err)
                 : tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry/sample/rotation_angle", f);
    if (ra >= 0)
        H5Dclose(ra);
    if (st != TL_OK)
        goto done;

    st = TL_ERR_IO;
    if ((data = tl_h5_create_group(entry, "data", "NXdata", f, "/entry/data", err)) < 0)
        goto done;
    if ((st = tl_h5_write_string_attr(data, "signal", "data", f, "/entry/data", err)) != TL_OK)
        goto done;
    static const char *const links[3][2] = {
        {"/entry/instrument/detector/data", "data"},
        {"/entry/instrument/detector/image_key", "image_key"},
        {"/entry/sample/rotation_angle", "rotation_angle"},
    };
    for (int i = 0; i < 3; i++)
        if (H5Lcreate_hard(w->file, links[i][0], data, links[i][1], H5P_DEFAULT, H5P_DEFAULT) < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot link %s as /entry/data/%s", f, links[i][0],
                              links[i][1]);
            goto done;
        }
    st = TL_OK;
done:
    free(keys);
    free(angles);
    if (keys_ds >= 0)
        H5Dclose(keys_ds);
    if (space >= 0)
        H5Sclose(space);
    if (data >= 0)
        H5Gclose(data);
    if (sample >= 0)
        H5Gclose(sample);
    if (det >= 0)
        H5Gclose(det);
    if (inst >= 0)
        H5Gclose(inst);
    if (entry >= 0)
        H5Gclose(entry);
    return st;
}

static tl_status write_dxchange(tl_scan_writer *w, tl_error *err)
{
    const tl_scan_desc *d = &w->desc;
    const char *f = w->partial;
    tl_status st = tl_h5_write_string_dataset(w->file, "implements", "exchange", f, "/", err);
    if (st != TL_OK)
        return st;
    hid_t ex = tl_h5_create_group(w->file, "/exchange", NULL, f, "/exchange", err);
    if (ex < 0)
        return TL_ERR_IO;
    static const char *const names[3] = {"data", "data_white", "data_dark"};
    static const char *const paths[3] = {"/exchange/data", "/exchange/data_white", "/exchange/data_dark"};
    const size_t counts[3] = {d->n_proj, d->n_flat, d->n_dark};
    for (int k = 0; k < 3; k++) {
        w->dset[k] = create_pixels(w, ex, names[k], paths[k], counts[k], err);
        w->dset_path[k] = paths[k];
        w->offset[k] = 0;
        if (w->dset[k] < 0) {
            H5Gclose(ex);
            return TL_ERR_IO;
        }
        if (k == TL_KEY_PROJECTION && (st = write_content(w, w->dset[k], paths[k], err)) != TL_OK) {
            H5Gclose(ex);
            return st;
        }
    }
    st = tl_h5_write_double_dataset(ex, "theta", d->angles_deg, d->n_proj, f, "/exchange", err);
    if (st == TL_OK) {
        hid_t th = H5Dopen2(ex, "theta", H5P_DEFAULT);
        st = th >= 0 ? tl_h5_write_string_attr(th, "units", "degrees", f, "/exchange/theta", err)
                     : tl_error_set(err, TL_ERR_IO, "'%s': cannot open /exchange/theta", f);
        if (th >= 0)
            H5Dclose(th);
    }
    H5Gclose(ex);
    return st;
}

tl_status tl_scan_writer_create(const char *path, const tl_scan_desc *desc, int overwrite,
                                tl_scan_writer **out, tl_error *err)
{
    tl_h5_quiet();
    if (!out)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_writer_create: no output pointer");
    *out = NULL;
    if (!desc)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no scan description given", path ? path : "");
    if (desc->layout != TL_LAYOUT_NXTOMO && desc->layout != TL_LAYOUT_DXCHANGE)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': unknown layout %d (allowed: NXtomo, Data Exchange)",
                            path ? path : "", (int)desc->layout);
    if (desc->pixel_type != TL_PIXEL_UINT16 && desc->pixel_type != TL_PIXEL_FLOAT32 &&
        desc->pixel_type != TL_PIXEL_UINT8 && desc->pixel_type != TL_PIXEL_UINT32)
        return tl_error_set(err, TL_ERR_INVALID,
                            "'%s': unknown pixel type %d (allowed: uint8, uint16, uint32, float32)",
                            path ? path : "", (int)desc->pixel_type);
    if (desc->content && strcmp(desc->content, "line_integrals") != 0 && strcmp(desc->content, "transmission") != 0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "'%s': unknown content '%s' (allowed: line_integrals, transmission, or none for raw "
                            "counts)",
                            path ? path : "", desc->content);
    if (desc->n_rows == 0 || desc->n_cols == 0)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': frames of %zu x %zu pixels, need at least 1 x 1",
                            path ? path : "", desc->n_rows, desc->n_cols);
    if (desc->n_proj > 0 && !desc->angles_deg)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': %zu projections but no angles given",
                            path ? path : "", desc->n_proj);
    if (desc->n_cols > SIZE_MAX / desc->n_rows / sizeof(float))
        return tl_error_set(err, TL_ERR_INVALID, "'%s': frames of %zu x %zu pixels are too large",
                            path ? path : "", desc->n_rows, desc->n_cols);

    tl_scan_writer *w = calloc(1, sizeof *w);
    if (!w)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path ? path : "");
    w->file = H5I_INVALID_HID;
    for (int k = 0; k < 3; k++)
        w->dset[k] = H5I_INVALID_HID;
    w->desc = *desc;
    w->desc.angles_deg = NULL;
    w->desc.sample_name = NULL;
    w->desc.content = NULL;
    w->n[TL_KEY_PROJECTION] = desc->n_proj;
    w->n[TL_KEY_FLAT] = desc->n_flat;
    w->n[TL_KEY_DARK] = desc->n_dark;
    tl_status st = TL_ERR_NOMEM;
    w->path = strdup(path ? path : "");
    if (!w->path)
        goto fail_alloc;
    if (desc->pixel_type != TL_PIXEL_FLOAT32) {
        w->buf = malloc(desc->n_rows * desc->n_cols * sizeof *w->buf);
        if (!w->buf)
            goto fail_alloc;
    }
    st = tl_h5_output_begin(path, overwrite, &w->partial, &w->file, err);
    if (st != TL_OK)
        goto fail_free;
    /* The angles and sample name are only needed while the metadata is written. */
    tl_scan_desc full = w->desc;
    full.angles_deg = desc->angles_deg;
    full.sample_name = desc->sample_name;
    full.content = desc->content;
    w->desc = full;
    st = desc->layout == TL_LAYOUT_NXTOMO ? write_nxtomo(w, err) : write_dxchange(w, err);
    w->desc.angles_deg = NULL;
    w->desc.sample_name = NULL;
    w->desc.content = NULL;
    if (st != TL_OK)
        goto fail_file;
    *out = w;
    return TL_OK;

fail_file:
    close_datasets(w);
    tl_h5_output_abort(w->file, w->partial);
    goto fail_free;
fail_alloc:
    st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path ? path : "");
fail_free:
    writer_free(w);
    return st;
}

tl_status tl_scan_writer_put(tl_scan_writer *w, tl_image_key key, size_t first, size_t count,
                             size_t row_begin, size_t row_end, const float *data, tl_error *err)
{
    if (!w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_writer_put: no writer");
    tl_h5_quiet();
    if ((int)key < 0 || key > TL_KEY_DARK)
        return tl_error_set(err, TL_ERR_INVALID,
                            "'%s': cannot write frames of image key %d (allowed: 0 projection, 1 flat, "
                            "2 dark)",
                            w->partial, (int)key);
    size_t n = w->n[key];
    if (first > n || count > n - first)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': %s %zu to %zu requested, the scan has %zu",
                            w->partial, kind_names[key], first, first + count - 1, n);
    if (row_begin >= row_end || row_end > w->desc.n_rows)
        return tl_error_set(err, TL_ERR_INVALID,
                            "'%s': rows %zu to %zu requested, need row_begin < row_end <= %zu", w->partial,
                            row_begin, row_end, w->desc.n_rows);
    if (count == 0)
        return TL_OK;
    if (!data)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no pixels given", w->partial);

    size_t rows = row_end - row_begin, cols = w->desc.n_cols;
    hid_t d = w->dset[key];
    hid_t fspace = H5Dget_space(d);
    hid_t mspace = H5I_INVALID_HID;
    tl_status st = TL_OK;
    if (fspace < 0)
        goto fail;
    if (w->desc.pixel_type == TL_PIXEL_FLOAT32) {
        hsize_t start[3] = {w->offset[key] + first, row_begin, 0};
        hsize_t cnt[3] = {count, rows, cols};
        mspace = H5Screate_simple(3, cnt, NULL);
        if (mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
            H5Dwrite(d, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, data) < 0)
            goto fail;
    } else {
        hsize_t cnt[3] = {1, rows, cols};
        mspace = H5Screate_simple(3, cnt, NULL);
        if (mspace < 0)
            goto fail;
        const double max = w->desc.pixel_type == TL_PIXEL_UINT8    ? 255.0
                           : w->desc.pixel_type == TL_PIXEL_UINT16 ? 65535.0
                                                                   : 4294967295.0;
        for (size_t f = 0; f < count; f++) {
            const float *src = data + f * rows * cols;
            for (size_t i = 0; i < rows * cols; i++) {
                double v = src[i];
                /* !(v > 0) also sends NaN to 0; HDF5 narrows the in-range values
                 * to the file type exactly. */
                w->buf[i] = !(v > 0.0) ? 0 : v >= max ? (uint32_t)max : (uint32_t)llrint(v);
            }
            hsize_t start[3] = {w->offset[key] + first + f, row_begin, 0};
            if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
                H5Dwrite(d, H5T_NATIVE_UINT32, mspace, fspace, H5P_DEFAULT, w->buf) < 0)
                goto fail;
        }
    }
    goto done;
fail:;
    char reason[256];
    tl_h5_reason(reason, sizeof reason);
    st = tl_error_set(err, TL_ERR_IO, "'%s': cannot write %s %zu-%zu (rows %zu-%zu) to dataset %s%s%s%s",
                      w->partial, kind_names[key], first, first + count - 1, row_begin, row_end - 1,
                      w->dset_path[key], reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
done:
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return st;
}

tl_status tl_scan_writer_commit(tl_scan_writer **w, tl_error *err)
{
    if (!w || !*w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_writer_commit: no writer");
    tl_h5_quiet();
    tl_scan_writer *s = *w;
    close_datasets(s);
    tl_status st = tl_h5_output_commit(s->file, s->partial, s->path, err);
    writer_free(s);
    *w = NULL;
    return st;
}

void tl_scan_writer_abort(tl_scan_writer **w)
{
    if (!w || !*w)
        return;
    tl_h5_quiet();
    close_datasets(*w);
    tl_h5_output_abort((*w)->file, (*w)->partial);
    writer_free(*w);
    *w = NULL;
}
