/* volume.c - write a reconstructed volume as NeXus/HDF5, and read one back.
 *
 * Owns the tl_volume_writer: the PATH.partial file, the volume dataset, the
 * float16 file type, a one-slice conversion buffer (float16 only, allocated at
 * create) and a record of which slices were written.
 *
 * Layout: see volume.h. Choices made here:
 *   - strings are variable-length UTF-8 everywhere (hdf5_util.h);
 *   - /entry/data carries @signal, @axes = ["z", "y", "x"] and the NeXus
 *     z_indices/y_indices/x_indices, so viewers (NeXpy, silx, h5web) plot it;
 *   - float16 is an HDF5 float type described field by field (sign bit 15,
 *     exponent bits 10-14 with bias 15, mantissa bits 0-9), which any HDF5
 *     reader converts to float or double. We round float -> half ourselves
 *     (round to nearest, ties to even; overflow to infinity) and hand HDF5 the
 *     bits, which is both exact and much faster than its soft conversion;
 *   - commit refuses a volume with slices never written: a file that looks
 *     whole must be whole, and a lost slab in a threaded pipeline is a bug we
 *     want reported, not saved as zeros;
 *   - provenance parameters: one string dataset per parameter under
 *     /entry/process/parameters, named by the flag without leading dashes, with
 *     @section; the INI text is /entry/process/config (beside parameters, so a
 *     parameter called "config" cannot collide with it).
 */
#define _POSIX_C_SOURCE 200809L
#include "volume.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hdf5_util.h"

struct tl_volume_writer {
    char *path;
    char *partial;
    hid_t file;
    hid_t dset;
    hid_t half_type; /* float16 file (and memory) type, or H5I_INVALID_HID */
    tl_volume_desc desc;
    uint16_t *half;           /* [ny * nx], float16 only */
    unsigned char *written;   /* [nz] */
    int have_provenance;
};

static const char *const data_path = "/entry/data/data";

/* IEEE 754 binary16 as an HDF5 type. The fields are set while the type is still
 * 32 bits wide (they must fit the precision), then precision and size shrink. */
static hid_t make_half_type(void)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0)
        return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_precision(t, 16) < 0 || H5Tset_size(t, 2) < 0 ||
        H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* float -> binary16 bits, round to nearest, ties to even. */
static uint16_t float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf, or NaN (kept quiet, with some payload) */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x0200u | ((a >> 13) & 0x3ffu) : 0));
    if (a >= 0x477ff000u) /* >= 65520 rounds past 65504, the largest half */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* Below 2^-14: a subnormal half counts units of 2^-24. Scaling by 2^24
         * is exact; nearbyintf rounds ties to even; 1024 is the smallest normal,
         * whose encoding is also 1024. */
        float af;
        memcpy(&af, &a, sizeof af);
        return (uint16_t)(sign | (uint16_t)nearbyintf(af * 16777216.0f));
    }
    uint32_t exp = (a >> 23) - 127 + 15; /* 1..30 */
    uint32_t mant = a & 0x7fffffu;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* a carry into the exponent is the right answer */
    return (uint16_t)(sign | h);
}

static void writer_free(tl_volume_writer *w)
{
    free(w->written);
    free(w->half);
    free(w->partial);
    free(w->path);
    free(w);
}

static void close_handles(tl_volume_writer *w)
{
    if (w->dset >= 0)
        H5Dclose(w->dset);
    if (w->half_type >= 0)
        H5Tclose(w->half_type);
    w->dset = w->half_type = H5I_INVALID_HID;
}

/* An axis dataset: values start + i (x, y centred; z from the first row). */
static tl_status write_axis(tl_volume_writer *w, hid_t group, const char *name, size_t n, double start,
                            tl_error *err)
{
    double *v = malloc(n * sizeof *v);
    if (!v)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", w->partial);
    for (size_t i = 0; i < n; i++)
        v[i] = start + (double)i;
    tl_status st = tl_h5_write_double_dataset(group, name, v, n, w->partial, "/entry/data", err);
    free(v);
    if (st != TL_OK)
        return st;
    hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
    if (d < 0)
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry/data/%s", w->partial, name);
    char full[64];
    snprintf(full, sizeof full, "/entry/data/%s", name);
    st = tl_h5_write_string_attr(d, "units", "pixel", w->partial, full, err);
    H5Dclose(d);
    return st;
}

static tl_status write_layout(tl_volume_writer *w, tl_error *err)
{
    const tl_volume_desc *d = &w->desc;
    const char *f = w->partial;
    hid_t entry = H5I_INVALID_HID, data = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t dcpl = H5I_INVALID_HID;
    tl_status st = TL_ERR_IO;

    if ((entry = tl_h5_create_group(w->file, "/entry", "NXentry", f, "/entry", err)) < 0)
        goto done;
    if ((st = tl_h5_write_string_attr(entry, "default", "data", f, "/entry", err)) != TL_OK)
        goto done;
    st = TL_ERR_IO;
    if ((data = tl_h5_create_group(entry, "data", "NXdata", f, "/entry/data", err)) < 0)
        goto done;
    static const char *const axes[3] = {"z", "y", "x"};
    if ((st = tl_h5_write_string_attr(data, "signal", "data", f, "/entry/data", err)) != TL_OK ||
        (st = tl_h5_write_string_array_attr(data, "axes", axes, 3, f, "/entry/data", err)) != TL_OK ||
        (st = tl_h5_write_int_attr(data, "z_indices", 0, f, "/entry/data", err)) != TL_OK ||
        (st = tl_h5_write_int_attr(data, "y_indices", 1, f, "/entry/data", err)) != TL_OK ||
        (st = tl_h5_write_int_attr(data, "x_indices", 2, f, "/entry/data", err)) != TL_OK)
        goto done;

    hid_t ftype = H5T_IEEE_F32LE;
    size_t esize = 4;
    if (d->float16) {
        w->half_type = make_half_type();
        if (w->half_type < 0) {
            st = tl_error_set(err, TL_ERR_INTERNAL, "'%s': cannot make the float16 HDF5 type", f);
            goto done;
        }
        ftype = w->half_type;
        esize = 2;
    }
    hsize_t dims[3] = {d->nz, d->ny, d->nx};
    /* One slice per chunk, as readers want slices; HDF5 caps a chunk at 4 GiB,
     * so very large slices are split into bands of rows. */
    hsize_t chunk[3] = {1, d->ny, d->nx};
    const hsize_t chunk_max = 0xffffffffu;
    if ((hsize_t)d->ny * d->nx * esize > chunk_max)
        chunk[1] = chunk_max / ((hsize_t)d->nx * esize) > 0 ? chunk_max / ((hsize_t)d->nx * esize) : 1;
    space = H5Screate_simple(3, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 3, chunk) < 0 ||
        (w->dset = H5Dcreate2(data, "data", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot create dataset %s (%zu x %zu x %zu)%s%s%s", f,
                          data_path, d->nz, d->ny, d->nx, reason[0] ? " (HDF5: " : "", reason,
                          reason[0] ? ")" : "");
        goto done;
    }
    if ((st = write_axis(w, data, "x", d->nx, -0.5 * ((double)d->nx - 1), err)) != TL_OK ||
        (st = write_axis(w, data, "y", d->ny, -0.5 * ((double)d->ny - 1), err)) != TL_OK ||
        (st = write_axis(w, data, "z", d->nz, (double)d->z_first, err)) != TL_OK)
        goto done;
    st = TL_OK;
done:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (data >= 0)
        H5Gclose(data);
    if (entry >= 0)
        H5Gclose(entry);
    return st;
}

tl_status tl_volume_writer_create(const char *path, const tl_volume_desc *desc, int overwrite,
                                  tl_volume_writer **out, tl_error *err)
{
    tl_h5_quiet();
    if (!out)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_create: no output pointer");
    *out = NULL;
    const char *p = path ? path : "";
    if (!desc)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no volume description given", p);
    if (desc->nz == 0 || desc->ny == 0 || desc->nx == 0)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': volume of %zu x %zu x %zu voxels, need at least 1 each",
                            p, desc->nz, desc->ny, desc->nx);
    if (desc->nx > SIZE_MAX / desc->ny / sizeof(float))
        return tl_error_set(err, TL_ERR_INVALID, "'%s': slices of %zu x %zu pixels are too large", p,
                            desc->ny, desc->nx);

    tl_volume_writer *w = calloc(1, sizeof *w);
    if (!w)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", p);
    w->file = w->dset = w->half_type = H5I_INVALID_HID;
    w->desc = *desc;
    tl_status st;
    w->path = strdup(p);
    w->written = calloc(desc->nz, 1);
    if (desc->float16)
        w->half = malloc(desc->ny * desc->nx * sizeof *w->half);
    if (!w->path || !w->written || (desc->float16 && !w->half)) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", p);
        goto fail_free;
    }
    st = tl_h5_output_begin(path, overwrite, &w->partial, &w->file, err);
    if (st != TL_OK)
        goto fail_free;
    st = write_layout(w, err);
    if (st != TL_OK)
        goto fail_file;
    *out = w;
    return TL_OK;

fail_file:
    close_handles(w);
    tl_h5_output_abort(w->file, w->partial);
fail_free:
    writer_free(w);
    return st;
}

tl_status tl_volume_writer_write(tl_volume_writer *w, size_t z_begin, size_t nz, const float *data,
                                 tl_error *err)
{
    if (!w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_write: no writer");
    tl_h5_quiet();
    const tl_volume_desc *d = &w->desc;
    if (z_begin > d->nz || nz > d->nz - z_begin)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': slices %zu to %zu requested, the volume has %zu",
                            w->partial, z_begin, z_begin + nz - 1, d->nz);
    if (nz == 0)
        return TL_OK;
    if (!data)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no voxels given", w->partial);
    hid_t fspace = H5Dget_space(w->dset);
    hid_t mspace = H5I_INVALID_HID;
    tl_status st = TL_OK;
    if (fspace < 0)
        goto fail;
    if (!d->float16) {
        hsize_t start[3] = {z_begin, 0, 0}, cnt[3] = {nz, d->ny, d->nx};
        mspace = H5Screate_simple(3, cnt, NULL);
        if (mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
            H5Dwrite(w->dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, data) < 0)
            goto fail;
    } else {
        size_t plane = d->ny * d->nx;
        hsize_t cnt[3] = {1, d->ny, d->nx};
        mspace = H5Screate_simple(3, cnt, NULL);
        if (mspace < 0)
            goto fail;
        for (size_t z = 0; z < nz; z++) {
            const float *src = data + z * plane;
            for (size_t i = 0; i < plane; i++)
                w->half[i] = float_to_half(src[i]);
            hsize_t start[3] = {z_begin + z, 0, 0};
            /* Memory type = file type: HDF5 copies the bits we rounded. */
            if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
                H5Dwrite(w->dset, w->half_type, mspace, fspace, H5P_DEFAULT, w->half) < 0)
                goto fail;
        }
    }
    memset(w->written + z_begin, 1, nz);
    goto done;
fail:;
    char reason[256];
    tl_h5_reason(reason, sizeof reason);
    st = tl_error_set(err, TL_ERR_IO, "'%s': cannot write slices %zu-%zu of dataset %s%s%s%s", w->partial,
                      z_begin, z_begin + nz - 1, data_path, reason[0] ? " (HDF5: " : "", reason,
                      reason[0] ? ")" : "");
done:
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return st;
}

/* Parameter names become dataset names: "--rotation-axis" -> "rotation-axis". */
static const char *param_dataset_name(const char *flag)
{
    while (*flag == '-')
        flag++;
    return flag;
}

static tl_status write_string_if(hid_t g, const char *name, const char *value, const char *f,
                                 tl_error *err)
{
    if (!value)
        return TL_OK;
    return tl_h5_write_string_dataset(g, name, value, f, "/entry/process", err);
}

static tl_status write_parameters(tl_volume_writer *w, hid_t process, const tl_provenance *prov,
                                  tl_error *err)
{
    const char *f = w->partial;
    hid_t params = tl_h5_create_group(process, "parameters", "NXcollection", f,
                                      "/entry/process/parameters", err);
    if (params < 0)
        return TL_ERR_IO;
    tl_status st = TL_OK;
    for (size_t i = 0; i < prov->n_params && st == TL_OK; i++) {
        const char *flag = prov->param_names ? prov->param_names[i] : NULL;
        const char *name = flag ? param_dataset_name(flag) : "";
        if (!*name || strchr(name, '/') || strcmp(name, ".") == 0) {
            st = tl_error_set(err, TL_ERR_INVALID,
                              "'%s': parameter %zu has the name '%s', which cannot name a dataset "
                              "(empty, '.' or containing '/')",
                              f, i, flag ? flag : "(null)");
            break;
        }
        char full[512];
        snprintf(full, sizeof full, "/entry/process/parameters/%s", name);
        if (H5Lexists(params, name, H5P_DEFAULT) > 0) {
            st = tl_error_set(err, TL_ERR_INVALID, "'%s': parameter '%s' is given twice", f, name);
            break;
        }
        st = tl_h5_write_string_dataset(params, name, prov->param_values ? prov->param_values[i] : NULL,
                                        f, "/entry/process/parameters", err);
        if (st != TL_OK)
            break;
        hid_t d = H5Dopen2(params, name, H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open %s", f, full);
            break;
        }
        st = tl_h5_write_string_attr(d, "section", prov->param_sections ? prov->param_sections[i] : NULL,
                                     f, full, err);
        H5Dclose(d);
    }
    H5Gclose(params);
    return st;
}

static tl_status write_stage_times(tl_volume_writer *w, hid_t process, const tl_provenance *prov,
                                   tl_error *err)
{
    const char *f = w->partial;
    hid_t g = tl_h5_create_group(process, "stage_times", "NXcollection", f, "/entry/process/stage_times",
                                 err);
    if (g < 0)
        return TL_ERR_IO;
    tl_status st = TL_OK;
    for (size_t i = 0; i < prov->n_stages && st == TL_OK; i++) {
        const char *name = prov->stage_names ? prov->stage_names[i] : NULL;
        if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0) {
            st = tl_error_set(err, TL_ERR_INVALID, "'%s': stage %zu has the name '%s', which cannot name a dataset",
                              f, i, name ? name : "(null)");
            break;
        }
        if (H5Lexists(g, name, H5P_DEFAULT) > 0) {
            st = tl_error_set(err, TL_ERR_INVALID, "'%s': stage '%s' is timed twice", f, name);
            break;
        }
        char full[512];
        snprintf(full, sizeof full, "/entry/process/stage_times/%s", name);
        st = tl_h5_write_double_scalar(g, name, prov->stage_seconds ? prov->stage_seconds[i] : NAN, f,
                                       "/entry/process/stage_times", err);
        if (st != TL_OK)
            break;
        hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open %s", f, full);
            break;
        }
        st = tl_h5_write_string_attr(d, "units", "s", f, full, err);
        H5Dclose(d);
    }
    H5Gclose(g);
    return st;
}

tl_status tl_volume_writer_set_provenance(tl_volume_writer *w, const tl_provenance *prov,
                                          tl_error *err)
{
    if (!w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_set_provenance: no writer");
    tl_h5_quiet();
    const char *f = w->partial;
    if (!prov)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no provenance given", f);
    if (w->have_provenance)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': /entry/process is already written", f);
    hid_t process = tl_h5_create_group(w->file, "/entry/process", "NXprocess", f, "/entry/process", err);
    if (process < 0)
        return TL_ERR_IO;
    w->have_provenance = 1;

    char now[32];
    const char *date = prov->date;
    if (!date) {
        /* The caller should give the run's date; the time of writing is the
         * next best thing, and a date is part of every provenance record. */
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
        date = now;
    }
    tl_status st;
    if ((st = write_string_if(process, "program", prov->program ? prov->program : "tomoline", f, err)) ||
        (st = write_string_if(process, "version", prov->version, f, err)) ||
        (st = write_string_if(process, "git_revision", prov->git_revision, f, err)) ||
        (st = write_string_if(process, "date", date, f, err)) ||
        (st = write_string_if(process, "host", prov->host, f, err)) ||
        (st = write_string_if(process, "backend", prov->backend, f, err)) ||
        (st = write_string_if(process, "input_file", prov->input_file, f, err)))
        goto done;
    if (isfinite(prov->rotation_axis)) {
        st = tl_h5_write_double_scalar(process, "rotation_axis", prov->rotation_axis, f, "/entry/process",
                                       err);
        if (st != TL_OK)
            goto done;
        hid_t d = H5Dopen2(process, "rotation_axis", H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry/process/rotation_axis", f);
            goto done;
        }
        st = tl_h5_write_string_attr(d, "units", "pixel", f, "/entry/process/rotation_axis", err);
        if (st == TL_OK && prov->rotation_axis_method)
            st = tl_h5_write_string_attr(d, "method", prov->rotation_axis_method, f,
                                         "/entry/process/rotation_axis", err);
        H5Dclose(d);
        if (st != TL_OK)
            goto done;
    }
    if ((st = write_parameters(w, process, prov, err)) != TL_OK ||
        (st = write_string_if(process, "config", prov->config_ini, f, err)) != TL_OK ||
        (st = write_stage_times(w, process, prov, err)) != TL_OK)
        goto done;
done:
    H5Gclose(process);
    return st;
}

tl_status tl_volume_writer_commit(tl_volume_writer **w, tl_error *err)
{
    if (!w || !*w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_commit: no writer");
    tl_h5_quiet();
    tl_volume_writer *v = *w;
    *w = NULL;
    size_t nz = v->desc.nz, missing = 0, first_missing = 0;
    for (size_t z = 0; z < nz; z++)
        if (!v->written[z] && missing++ == 0)
            first_missing = z;
    close_handles(v);
    tl_status st;
    if (missing) {
        st = tl_error_set(err, TL_ERR_INVALID,
                          "'%s': %zu of %zu slices were never written (the first is slice %zu); "
                          "the incomplete volume is not kept",
                          v->path, missing, nz, first_missing);
        tl_h5_output_abort(v->file, v->partial);
    } else {
        st = tl_h5_output_commit(v->file, v->partial, v->path, err);
    }
    writer_free(v);
    return st;
}

void tl_volume_writer_abort(tl_volume_writer **w)
{
    if (!w || !*w)
        return;
    tl_h5_quiet();
    close_handles(*w);
    tl_h5_output_abort((*w)->file, (*w)->partial);
    writer_free(*w);
    *w = NULL;
}

tl_status tl_volume_read(const char *path, float **data, size_t *nz, size_t *ny, size_t *nx,
                         tl_error *err)
{
    tl_h5_quiet();
    if (!data || !nz || !ny || !nx)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_read: missing output pointers");
    *data = NULL;
    *nz = *ny = *nx = 0;
    hid_t file;
    tl_status st = tl_h5_open_read(path, &file, err);
    if (st != TL_OK)
        return st;
    hid_t d = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    float *v = NULL;
    if (!tl_h5_link_exists(file, data_path)) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s missing (not a volume written by tomoline?)",
                          path, data_path);
        goto done;
    }
    d = H5Dopen2(file, data_path, H5P_DEFAULT);
    if (d < 0) {
        char why[768];
        tl_h5_describe_open_failure(file, data_path, why, sizeof why);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open dataset %s: %s", path, data_path, why);
        goto done;
    }
    type = H5Dget_type(d);
    space = H5Dget_space(d);
    if (type < 0 || space < 0) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the type and shape of dataset %s", path,
                          data_path);
        goto done;
    }
    if (H5Tget_class(type) != H5T_FLOAT) {
        char tname[64];
        tl_h5_type_name(type, tname, sizeof tname);
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s holds %s, expected floating-point voxels",
                          path, data_path, tname);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (rank != 3 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has rank %d, expected 3 (z, y, x)", path,
                          data_path, rank);
        goto done;
    }
    if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0 || dims[1] > SIZE_MAX / dims[2] ||
        dims[0] > SIZE_MAX / sizeof(float) / (dims[1] * dims[2])) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has an unusable shape %llu x %llu x %llu",
                          path, data_path, (unsigned long long)dims[0], (unsigned long long)dims[1],
                          (unsigned long long)dims[2]);
        goto done;
    }
    v = malloc((size_t)(dims[0] * dims[1] * dims[2]) * sizeof *v);
    if (!v) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for %llu x %llu x %llu voxels", path,
                          (unsigned long long)dims[0], (unsigned long long)dims[1],
                          (unsigned long long)dims[2]);
        goto done;
    }
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        st = tl_error_set(err, TL_ERR_IO,
                          "'%s': cannot read dataset %s, the file may be truncated or damaged%s%s%s", path,
                          data_path, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
        free(v);
        v = NULL;
        goto done;
    }
    *data = v;
    *nz = dims[0];
    *ny = dims[1];
    *nx = dims[2];
done:
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (d >= 0)
        H5Dclose(d);
    H5Fclose(file);
    return st;
}
