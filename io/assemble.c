/* assemble.c - a volume file over slab files through an HDF5 virtual dataset
 * (see assemble.h).
 *
 * Order: every slab is opened and checked before the output is created, so a
 * missing or inconsistent slab creates nothing; the output is then written as
 * PATH.partial (tl_h5_output_begin) and renamed only when complete.
 *
 * Source file names in a VDS mapping are printf-like patterns to HDF5 ('%b'
 * is the block number, '%%' a literal '%'), so a '%' in a path is doubled.
 */
#define _GNU_SOURCE
#include "assemble.h"

#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5_util.h"

void tl_assemble_result_free(tl_assemble_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->param_names[i]);
        free(r->param_values[i]);
    }
    free(r->param_names);
    free(r->param_values);
    r->param_names = r->param_values = NULL;
    r->n_params = 0;
}

int tl_assemble_relative_path(const char *from_dir, const char *target, char *out, size_t size)
{
    /* the longest common prefix that ends at a component boundary */
    size_t common = 0, i = 0;
    for (; from_dir[i] && target[i] && from_dir[i] == target[i]; i++)
        if (from_dir[i] == '/')
            common = i + 1;
    if (!from_dir[i] && target[i] == '/')
        common = i + 1; /* from_dir is a prefix of target's directory */
    if (strcmp(from_dir, "/") == 0)
        common = 1;
    size_t used = 0;
    out[0] = '\0';
    /* one ".." per component of from_dir beyond the common part */
    const char *rest = from_dir + (common < strlen(from_dir) ? common : strlen(from_dir));
    for (const char *p = rest; *p;) {
        const char *slash = strchr(p, '/');
        if (used + 3 >= size)
            return -1;
        memcpy(out + used, "../", 3);
        used += 3;
        if (!slash)
            break;
        p = slash + 1;
    }
    int n = snprintf(out + used, size - used, "%s", target + common);
    return n < 0 || (size_t)n >= size - used ? -1 : 0;
}

/* path with every '%' doubled (a VDS source name is a pattern). */
static int escape_percent(const char *path, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = path; *p; p++) {
        if (n + 3 > size)
            return -1;
        if (*p == '%')
            out[n++] = '%';
        out[n++] = *p;
    }
    out[n] = '\0';
    return 0;
}

static tl_status h5_fail(tl_error *err, const char *fmt_path, const char *what)
{
    char reason[256];
    tl_h5_reason(reason, sizeof reason);
    return tl_error_set(err, TL_ERR_IO, "'%s': %s%s%s%s", fmt_path, what, reason[0] ? " (HDF5: " : "", reason,
                        reason[0] ? ")" : "");
}

/* Check slab i and keep what the output needs: its open file, type, shape. */
static tl_status check_slab(const tl_assemble_desc *d, size_t i, hid_t *file, hid_t *type0, hsize_t shape[3],
                            tl_error *err)
{
    const tl_assemble_slab *s = &d->slabs[i];
    char who[TL_ERROR_MSG_MAX / 2];
    snprintf(who, sizeof who, "slab %zu of %zu (rows %zu..%zu, from %s)", i + 1, d->n_slabs, s->z_begin,
             s->z_end ? s->z_end - 1 : 0, s->worker ? s->worker : "?");
    if (!s->path || s->z_end <= s->z_begin)
        return tl_error_set(err, TL_ERR_INVALID, "%s: no file or no rows", who);
    if (i > 0 && s->z_begin != d->slabs[i - 1].z_end)
        return tl_error_set(err, TL_ERR_DATA, "%s: its rows do not follow the previous slab's (which end at %zu)",
                            who, d->slabs[i - 1].z_end - 1);
    tl_status st = tl_h5_open_read(s->path, file, err);
    if (st != TL_OK) {
        tl_error_prefix(err, "%s", who);
        return st;
    }
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID, z = H5I_INVALID_HID;
    hsize_t dims[3] = {0, 0, 0};
    st = TL_ERR_DATA;
    if (tl_h5_link_exists(*file, "/entry/data/data") <= 0 || (dset = H5Dopen2(*file, "/entry/data/data", H5P_DEFAULT)) < 0) {
        tl_error_set(err, TL_ERR_DATA, "%s: '%s' has no /entry/data/data", who, s->path);
        goto done;
    }
    space = H5Dget_space(dset);
    type = H5Dget_type(dset);
    if (space < 0 || type < 0 || H5Sget_simple_extent_ndims(space) != 3 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 3 || H5Tget_class(type) != H5T_FLOAT) {
        tl_error_set(err, TL_ERR_DATA, "%s: /entry/data/data of '%s' is not a 3-D floating-point volume", who,
                     s->path);
        goto done;
    }
    if (dims[0] != s->z_end - s->z_begin) {
        tl_error_set(err, TL_ERR_DATA, "%s: '%s' holds %llu slices, the worker reported %zu", who, s->path,
                     (unsigned long long)dims[0], s->z_end - s->z_begin);
        goto done;
    }
    if (i == 0) {
        shape[1] = dims[1];
        shape[2] = dims[2];
        *type0 = H5Tcopy(type);
    } else if (dims[1] != shape[1] || dims[2] != shape[2]) {
        tl_error_set(err, TL_ERR_DATA, "%s: slices of '%s' are %llu x %llu, those of the first slab %llu x %llu", who,
                     s->path, (unsigned long long)dims[1], (unsigned long long)dims[2],
                     (unsigned long long)shape[1], (unsigned long long)shape[2]);
        goto done;
    } else if (H5Tequal(type, *type0) <= 0) {
        tl_error_set(err, TL_ERR_DATA, "%s: '%s' stores another data type than the first slab (--dtype differs "
                     "between the workers?)", who, s->path);
        goto done;
    }
    /* the worker's own record of its rows */
    double z0 = NAN;
    hsize_t one = 1, first = 0;
    hid_t zspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    if ((z = H5Dopen2(*file, "/entry/data/z", H5P_DEFAULT)) >= 0 && (zspace = H5Dget_space(z)) >= 0 &&
        (mspace = H5Screate_simple(1, &one, NULL)) >= 0 &&
        H5Sselect_hyperslab(zspace, H5S_SELECT_SET, &first, NULL, &one, NULL) >= 0)
        H5Dread(z, H5T_NATIVE_DOUBLE, mspace, zspace, H5P_DEFAULT, &z0);
    if (zspace >= 0)
        H5Sclose(zspace);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (z0 != (double)s->z_begin) {
        tl_error_set(err, TL_ERR_DATA, "%s: /entry/data/z of '%s' starts at %g, not at row %zu", who, s->path, z0,
                     s->z_begin);
        goto done;
    }
    st = TL_OK;
done:
    if (z >= 0)
        H5Dclose(z);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    return st;
}

/* Copy the hard-linked children of the first slab's /entry, other than data. */
typedef struct copy_ctx {
    hid_t dst;
    const char *partial;
    tl_status st;
    tl_error *err;
} copy_ctx;

static herr_t copy_child(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    copy_ctx *c = data;
    if (info->type != H5L_TYPE_HARD || strcmp(name, "data") == 0)
        return 0;
    if (H5Ocopy(group, name, c->dst, name, H5P_DEFAULT, H5P_DEFAULT) < 0) {
        char what[300];
        snprintf(what, sizeof what, "cannot copy /entry/%s of the first slab", name);
        c->st = h5_fail(c->err, c->partial, what);
        return -1;
    }
    return 0;
}

typedef struct params_ctx {
    tl_assemble_result *r;
    size_t cap;
} params_ctx;

static herr_t read_param(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    params_ctx *c = data;
    static _Thread_local char value[16384];
    if (info->type != H5L_TYPE_HARD || tl_h5_read_string_dataset(group, name, value, sizeof value) != 0)
        return 0;
    tl_assemble_result *r = c->r;
    if (r->n_params == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        char **names = realloc(r->param_names, cap * sizeof *names);
        if (names)
            r->param_names = names;
        char **values = names ? realloc(r->param_values, cap * sizeof *values) : NULL;
        if (values)
            r->param_values = values;
        if (!names || !values)
            return -1;
        c->cap = cap;
    }
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n), free(v);
        return -1;
    }
    r->param_names[r->n_params] = n;
    r->param_values[r->n_params++] = v;
    return 0;
}

static tl_status write_route(hid_t process, const tl_assemble_desc *d, char *const *relative, const char *f,
                             tl_error *err)
{
    size_t n = d->n_slabs;
    hid_t route = tl_h5_create_group(process, "route", "NXcollection", f, "/entry/process/route", err);
    if (route < 0)
        return TL_ERR_IO;
    double *v = malloc(3 * n * sizeof *v);
    const char **workers = malloc(n * sizeof *workers), **hosts = malloc(n * sizeof *hosts);
    tl_status st = TL_OK;
    if (!v || !workers || !hosts) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", f);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = (double)d->slabs[i].z_begin;
        v[n + i] = (double)d->slabs[i].z_end;
        v[2 * n + i] = d->slabs[i].axis;
        workers[i] = d->slabs[i].worker ? d->slabs[i].worker : "";
        hosts[i] = d->slabs[i].host ? d->slabs[i].host : "";
    }
    const char *p = "/entry/process/route";
    if ((st = tl_h5_write_double_dataset(route, "row_begin", v, n, f, p, err)) != TL_OK ||
        (st = tl_h5_write_double_dataset(route, "row_end", v + n, n, f, p, err)) != TL_OK ||
        (st = tl_h5_write_double_dataset(route, "rotation_axis", v + 2 * n, n, f, p, err)) != TL_OK ||
        (st = tl_h5_write_string_array_attr(route, "slab_files", (const char *const *)relative, n, f, p, err)) !=
            TL_OK ||
        (st = tl_h5_write_string_array_attr(route, "workers", workers, n, f, p, err)) != TL_OK ||
        (st = tl_h5_write_string_array_attr(route, "hosts", hosts, n, f, p, err)) != TL_OK ||
        (st = tl_h5_write_int_attr(route, "n_workers", (int)n, f, p, err)) != TL_OK)
        goto done;
    if (d->routing_json)
        st = tl_h5_write_string_dataset(route, "routing", d->routing_json, f, p, err);
done:
    free(v);
    free(workers);
    free(hosts);
    H5Gclose(route);
    return st;
}

tl_status tl_assemble_volume(const char *path, const tl_assemble_desc *d, tl_assemble_result *res, tl_error *err)
{
    memset(res, 0, sizeof *res);
    tl_h5_quiet();
    if (!path || !d || d->n_slabs == 0 || !d->slabs)
        return tl_error_set(err, TL_ERR_INVALID, "assembling a volume needs an output path and at least one slab");
    size_t n = d->n_slabs;
    hid_t *src = malloc(n * sizeof *src);
    char **relative = calloc(n, sizeof *relative), **pattern = calloc(n, sizeof *pattern);
    hid_t type0 = H5I_INVALID_HID, file = H5I_INVALID_HID, entry = H5I_INVALID_HID, data = H5I_INVALID_HID,
          vspace = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID, process = H5I_INVALID_HID,
          src_entry = H5I_INVALID_HID;
    char *partial = NULL;
    tl_status st = TL_OK;
    if (!src || !relative || !pattern) {
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        src[i] = H5I_INVALID_HID;
    hsize_t shape[3] = {0, 0, 0};
    for (size_t i = 0; i < n && st == TL_OK; i++)
        st = check_slab(d, i, &src[i], &type0, shape, err);
    if (st != TL_OK)
        goto done;
    size_t z_first = d->slabs[0].z_begin;
    shape[0] = d->slabs[n - 1].z_end - z_first;
    res->nz = shape[0], res->ny = shape[1], res->nx = shape[2];
    snprintf(res->dtype, sizeof res->dtype, "%s", H5Tget_size(type0) == 2 ? "float16" : H5Tget_size(type0) == 8 ? "float64" : "float32");

    /* each slab's path relative to the output's directory */
    char dir[PATH_MAX], dir_abs[PATH_MAX], slab_abs[PATH_MAX];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (slash == path ? 1 : (int)(slash - path)) : 1, slash ? path : ".");
    if (!realpath(dir, dir_abs)) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot resolve its directory '%s'", path, dir);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        relative[i] = malloc(PATH_MAX);
        pattern[i] = malloc(2 * PATH_MAX);
        if (!relative[i] || !pattern[i]) {
            st = tl_error_set(err, TL_ERR_NOMEM, "out of memory");
            goto done;
        }
        if (!realpath(d->slabs[i].path, slab_abs) ||
            tl_assemble_relative_path(dir_abs, slab_abs, relative[i], PATH_MAX) != 0 ||
            escape_percent(relative[i], pattern[i], 2 * PATH_MAX) != 0) {
            st = tl_error_set(err, TL_ERR_IO, "slab '%s': cannot name it relative to '%s'", d->slabs[i].path, dir_abs);
            goto done;
        }
    }

    if ((st = tl_h5_output_begin(path, d->overwrite, &partial, &file, err)) != TL_OK)
        goto done;
    const char *f = partial;
    st = TL_ERR_IO;
    if ((entry = tl_h5_create_group(file, "/entry", "NXentry", f, "/entry", err)) < 0 ||
        tl_h5_write_string_attr(entry, "default", "data", f, "/entry", err) != TL_OK ||
        (data = tl_h5_create_group(entry, "data", "NXdata", f, "/entry/data", err)) < 0)
        goto done;
    static const char *const axes[3] = {"z", "y", "x"};
    if (tl_h5_write_string_attr(data, "signal", "data", f, "/entry/data", err) != TL_OK ||
        tl_h5_write_string_array_attr(data, "axes", axes, 3, f, "/entry/data", err) != TL_OK ||
        tl_h5_write_int_attr(data, "z_indices", 0, f, "/entry/data", err) != TL_OK ||
        tl_h5_write_int_attr(data, "y_indices", 1, f, "/entry/data", err) != TL_OK ||
        tl_h5_write_int_attr(data, "x_indices", 2, f, "/entry/data", err) != TL_OK)
        goto done;

    /* the virtual dataset: slab i's whole dataset onto rows [z_begin, z_end) */
    vspace = H5Screate_simple(3, shape, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    float nan = NAN;
    if (vspace < 0 || dcpl < 0 || H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan) < 0) {
        st = h5_fail(err, f, "cannot set up the virtual dataset /entry/data/data");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        hsize_t start[3] = {d->slabs[i].z_begin - z_first, 0, 0};
        hsize_t count[3] = {d->slabs[i].z_end - d->slabs[i].z_begin, shape[1], shape[2]};
        hid_t sspace = H5Screate_simple(3, count, NULL);
        herr_t e = sspace < 0 ? -1 : H5Sselect_hyperslab(vspace, H5S_SELECT_SET, start, NULL, count, NULL);
        if (e >= 0)
            e = H5Pset_virtual(dcpl, vspace, pattern[i], "/entry/data/data", sspace);
        if (sspace >= 0)
            H5Sclose(sspace);
        if (e < 0) {
            char what[PATH_MAX + 64];
            snprintf(what, sizeof what, "cannot map slab '%s' into /entry/data/data", relative[i]);
            st = h5_fail(err, f, what);
            goto done;
        }
    }
    H5Sselect_all(vspace);
    if ((dset = H5Dcreate2(data, "data", type0, vspace, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        st = h5_fail(err, f, "cannot create the virtual dataset /entry/data/data");
        goto done;
    }
    H5Dclose(dset);
    dset = H5I_INVALID_HID;

    /* x and y as the slabs have them; z: the detector rows */
    if (H5Ocopy(src[0], "/entry/data/x", data, "x", H5P_DEFAULT, H5P_DEFAULT) < 0 ||
        H5Ocopy(src[0], "/entry/data/y", data, "y", H5P_DEFAULT, H5P_DEFAULT) < 0) {
        st = h5_fail(err, f, "cannot copy /entry/data/x and y of the first slab");
        goto done;
    }
    double *z = malloc(shape[0] * sizeof *z);
    if (!z) {
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < shape[0]; i++)
        z[i] = (double)(z_first + i);
    st = tl_h5_write_double_dataset(data, "z", z, shape[0], f, "/entry/data", err);
    free(z);
    if (st != TL_OK)
        goto done;
    hid_t zd = H5Dopen2(data, "z", H5P_DEFAULT);
    st = zd < 0 ? h5_fail(err, f, "cannot open /entry/data/z")
                : tl_h5_write_string_attr(zd, "units", "pixel", f, "/entry/data/z", err);
    if (zd >= 0)
        H5Dclose(zd);
    if (st != TL_OK)
        goto done;

    /* provenance: the first slab's /entry (process, sample, instrument), then the routing */
    if ((src_entry = H5Gopen2(src[0], "/entry", H5P_DEFAULT)) < 0) {
        st = h5_fail(err, d->slabs[0].path, "cannot open /entry");
        goto done;
    }
    copy_ctx cc = {.dst = entry, .partial = f, .st = TL_OK, .err = err};
    if (H5Literate(src_entry, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_child, &cc) < 0) {
        st = cc.st != TL_OK ? cc.st : h5_fail(err, f, "cannot copy the first slab's /entry");
        goto done;
    }
    if (tl_h5_is_type(entry, "process", H5O_TYPE_GROUP))
        process = H5Gopen2(entry, "process", H5P_DEFAULT);
    else
        process = tl_h5_create_group(entry, "process", "NXprocess", f, "/entry/process", err);
    if (process < 0) {
        st = TL_ERR_IO;
        goto done;
    }
    if ((st = write_route(process, d, relative, f, err)) != TL_OK)
        goto done;
    if (tl_h5_is_type(src[0], "/entry/process/parameters", H5O_TYPE_GROUP)) {
        hid_t pg = H5Gopen2(src[0], "/entry/process/parameters", H5P_DEFAULT);
        params_ctx pc = {.r = res};
        herr_t e = pg < 0 ? -1 : H5Literate(pg, H5_INDEX_NAME, H5_ITER_INC, NULL, read_param, &pc);
        if (pg >= 0)
            H5Gclose(pg);
        if (e < 0) {
            st = tl_error_set(err, TL_ERR_NOMEM, "out of memory for the parameters of '%s'", d->slabs[0].path);
            goto done;
        }
    }
    H5Gclose(process);
    process = H5I_INVALID_HID;
    H5Pclose(dcpl);
    dcpl = H5I_INVALID_HID;
    H5Sclose(vspace);
    vspace = H5I_INVALID_HID;
    H5Gclose(data);
    data = H5I_INVALID_HID;
    H5Gclose(entry);
    entry = H5I_INVALID_HID;
    st = tl_h5_output_commit(file, partial, path, err);
    file = H5I_INVALID_HID;

done:
    if (process >= 0)
        H5Gclose(process);
    if (dset >= 0)
        H5Dclose(dset);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (vspace >= 0)
        H5Sclose(vspace);
    if (data >= 0)
        H5Gclose(data);
    if (entry >= 0)
        H5Gclose(entry);
    if (src_entry >= 0)
        H5Gclose(src_entry);
    if (file >= 0)
        tl_h5_output_abort(file, partial);
    free(partial);
    if (type0 >= 0)
        H5Tclose(type0);
    for (size_t i = 0; src && i < n; i++)
        if (src[i] >= 0)
            H5Fclose(src[i]);
    for (size_t i = 0; relative && pattern && i < n; i++) {
        free(relative[i]);
        free(pattern[i]);
    }
    free(relative);
    free(pattern);
    free(src);
    if (st != TL_OK)
        tl_assemble_result_free(res);
    return st;
}
