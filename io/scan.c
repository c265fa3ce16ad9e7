/* scan.c - read raw tomography scans (NXtomo, Data Exchange) from HDF5.
 *
 * Owns the tl_scan: the open file, the open pixel datasets (one for NXtomo,
 * three for Data Exchange), the projection angles and, per kind of frame
 * (projection, flat, dark), the runs of consecutive frames of that kind.
 *
 * Design:
 *   - Everything that can be checked without reading pixels is checked at open
 *     (layout, ranks, shapes, image keys, angles, that the pixel dataset can be
 *     opened at all, e.g. that an external link resolves), so that a long run
 *     fails in its first second rather than its last minute.
 *   - NXtomo interleaves kinds in one dataset (darks, flats, projections, maybe
 *     flats again; key 3 frames are skipped). A read selects the union of the
 *     runs of one kind as one hyperslab selection and reads it with a single
 *     H5Dread into out[count][rows][cols]; HDF5 delivers the selected frames in
 *     file order, which is the order the angles are kept in.
 *   - Pixels of any supported integer or float type are converted to float by
 *     H5Dread itself (memory type H5T_NATIVE_FLOAT).
 *
 * Not thread-safe: one tl_scan is used by one thread at a time.
 */
#define _POSIX_C_SOURCE 200809L
#include "scan.h"

#include <ctype.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdf5_util.h"
#include "log.h"

#define TL_SCAN_PATH_MAX 512

typedef struct kind_source {
    hid_t dset;            /* borrowed from tl_scan: not closed here */
    const char *dset_path; /* into tl_scan */
    size_t n;              /* frames of this kind */
    size_t n_runs;
    size_t *run_start; /* [n_runs] first frame of each run, ascending */
    size_t *run_count; /* [n_runs] */
} kind_source;

struct tl_scan {
    tl_scan_info info;
    char *path;
    char entry[TL_SCAN_PATH_MAX];
    char data_path[TL_SCAN_PATH_MAX];
    char flat_path[TL_SCAN_PATH_MAX];
    char dark_path[TL_SCAN_PATH_MAX];
    char pixel_type[64];
    hid_t file;
    hid_t data; /* projections (and, for NXtomo, every frame) */
    hid_t flat; /* Data Exchange only */
    hid_t dark; /* Data Exchange only */
    size_t n_frames;
    kind_source kinds[3]; /* indexed by tl_image_key 0..2 */
    double *angles;       /* [n_proj] */
};

static const char *const kind_names[3] = {"projections", "flat-field frames", "dark-field frames"};

void tl_scan_close(tl_scan **scan)
{
    if (!scan || !*scan)
        return;
    tl_scan *s = *scan;
    tl_h5_quiet();
    for (int k = 0; k < 3; k++) {
        free(s->kinds[k].run_start);
        free(s->kinds[k].run_count);
    }
    if (s->dark >= 0)
        H5Dclose(s->dark);
    if (s->flat >= 0)
        H5Dclose(s->flat);
    if (s->data >= 0)
        H5Dclose(s->data);
    if (s->file >= 0)
        H5Fclose(s->file);
    free(s->angles);
    free(s->path);
    free(s);
    *scan = NULL;
}

const tl_scan_info *tl_scan_get_info(const tl_scan *scan)
{
    return scan ? &scan->info : NULL;
}

/* ---- layout detection ---------------------------------------------------- */

typedef struct find_ctx {
    char *out;     /* entry path when found */
    size_t size;
    const char *prefix; /* "" at the root, "/entry1" one level down */
    int depth;
} find_ctx;

static int is_nxtomo_group(hid_t g)
{
    char def[64];
    return tl_h5_read_string_dataset(g, "definition", def, sizeof def) == 0 &&
           strcmp(def, "NXtomo") == 0;
}

static herr_t find_entry_cb(hid_t group, const char *name, const H5L_info_t *li, void *data)
{
    find_ctx *ctx = data;
    /* External links would make HDF5 open other files (maybe missing) just to
     * look: entries live in this file. */
    if (li->type != H5L_TYPE_HARD && li->type != H5L_TYPE_SOFT)
        return 0;
    if (!tl_h5_is_type(group, name, H5O_TYPE_GROUP))
        return 0;
    hid_t g = H5Gopen2(group, name, H5P_DEFAULT);
    if (g < 0)
        return 0;
    int found = 0;
    if (ctx->depth == 0) {
        char cls[64];
        if (tl_h5_read_string_attr(g, "NX_class", cls, sizeof cls) == 0 && strcmp(cls, "NXentry") == 0) {
            if (is_nxtomo_group(g)) {
                snprintf(ctx->out, ctx->size, "/%s", name);
                found = 1;
            } else {
                /* NXtomo as a subentry, e.g. /entry1/tomo_entry (Diamond I13). */
                char prefix[TL_SCAN_PATH_MAX];
                snprintf(prefix, sizeof prefix, "/%s", name);
                find_ctx sub = {ctx->out, ctx->size, prefix, 1};
                found = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, find_entry_cb, &sub) > 0;
            }
        }
    } else if (is_nxtomo_group(g)) {
        snprintf(ctx->out, ctx->size, "%s/%s", ctx->prefix, name);
        found = 1;
    }
    H5Gclose(g);
    return found ? 1 : 0;
}

/* Finds the NXentry (or a group one level inside one) whose definition is NXtomo:
 * 1 found (path in out), 0 none, -1 the root group cannot be read. */
static int find_nxtomo_entry(hid_t file, char *out, size_t size)
{
    find_ctx ctx = {out, size, "", 0};
    out[0] = '\0';
    hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    if (root < 0)
        return -1;
    herr_t r = H5Literate(root, H5_INDEX_NAME, H5_ITER_INC, NULL, find_entry_cb, &ctx);
    H5Gclose(root);
    return r > 0 ? 1 : r < 0 ? -1 : 0;
}

/* ---- small readers ------------------------------------------------------- */

/* Open a dataset that must exist; the message says why it cannot be opened. */
static tl_status open_dataset(tl_scan *s, const char *dpath, hid_t *out, tl_error *err)
{
    *out = H5Dopen2(s->file, dpath, H5P_DEFAULT);
    if (*out < 0) {
        char why[768];
        tl_h5_describe_open_failure(s->file, dpath, why, sizeof why);
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot open dataset %s: %s", s->path, dpath, why);
    }
    return TL_OK;
}

/* Read a numeric dataset of any shape as a flat array of doubles (caller frees).
 * *units gets its "units" attribute ("" when absent). */
static tl_status read_doubles(tl_scan *s, const char *dpath, double **values, size_t *n, char *units,
                              size_t units_size, tl_error *err)
{
    *values = NULL;
    *n = 0;
    hid_t d;
    tl_status st = open_dataset(s, dpath, &d, err);
    if (st != TL_OK)
        return st;
    hid_t type = H5Dget_type(d);
    hid_t space = H5Dget_space(d);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    hssize_t np = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        char tname[64] = "an unknown type";
        if (type >= 0)
            tl_h5_type_name(type, tname, sizeof tname);
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s holds %s, expected numbers", s->path,
                          dpath, tname);
        goto done;
    }
    if (np < 0) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the shape of dataset %s", s->path, dpath);
        goto done;
    }
    double *v = malloc(((size_t)np > 0 ? (size_t)np : 1) * sizeof *v);
    if (!v) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory reading dataset %s", s->path, dpath);
        goto done;
    }
    if (np > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        free(v);
        st = tl_error_set(err, TL_ERR_IO,
                          "'%s': cannot read dataset %s, the file may be truncated or damaged%s%s%s",
                          s->path, dpath, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
        goto done;
    }
    *values = v;
    *n = (size_t)np;
    if (units && tl_h5_read_string_attr(d, "units", units, units_size) != 0)
        units[0] = '\0';
done:
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(d);
    return st;
}

/* Angles are degrees by our convention; honour a units attribute that says radians. */
static void to_degrees(double *v, size_t n, const char *units)
{
    if (strncasecmp(units, "rad", 3) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] *= 180.0 / 3.14159265358979323846;
}

/* Check a pixel dataset: rank 3, supported type, non-empty frames. */
static tl_status check_pixels(tl_scan *s, hid_t d, const char *dpath, hsize_t dims[3], char *type_name,
                              size_t type_size, tl_error *err)
{
    tl_status st = TL_OK;
    hid_t space = H5Dget_space(d);
    hid_t type = H5Dget_type(d);
    if (space < 0 || type < 0) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the shape and type of dataset %s", s->path,
                          dpath);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t d8[H5S_MAX_RANK];
    if (rank < 0 || H5Sget_simple_extent_dims(space, d8, NULL) < 0) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the shape of dataset %s", s->path, dpath);
        goto done;
    }
    if (rank != 3) {
        char shape[256] = "";
        size_t len = 0;
        for (int i = 0; i < rank && len < sizeof shape; i++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%llu", i ? " x " : "",
                                    (unsigned long long)d8[i]);
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s': dataset %s has rank %d (%s), expected rank 3 (frames x rows x columns)",
                          s->path, dpath, rank, rank ? shape : "a scalar");
        goto done;
    }
    memcpy(dims, d8, 3 * sizeof *dims);
    if (dims[1] == 0 || dims[2] == 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has empty frames (%llu x %llu pixels)",
                          s->path, dpath, (unsigned long long)dims[1], (unsigned long long)dims[2]);
        goto done;
    }
    tl_h5_type_name(type, type_name, type_size);
    static const char *const supported[] = {"uint8", "uint16", "uint32", "int16",
                                            "int32", "float32", "float64"};
    H5T_class_t cls = H5Tget_class(type);
    int ok = 0;
    if (cls == H5T_INTEGER || cls == H5T_FLOAT)
        for (size_t i = 0; i < sizeof supported / sizeof *supported; i++)
            if (strcmp(type_name, supported[i]) == 0)
                ok = 1;
    if (!ok)
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s': dataset %s has pixels of type %s (supported: uint8, uint16, uint32, "
                          "int16, int32, float32, float64)",
                          s->path, dpath, type_name);
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

static tl_status check_finite(tl_scan *s, const char *dpath, const double *v, size_t n,
                              const char *index_word, tl_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return tl_error_set(err, TL_ERR_DATA, "'%s': dataset %s has a non-finite angle (%g) at %s %zu",
                                s->path, dpath, v[i], index_word, i);
    return TL_OK;
}

/* One run [0, n) for a Data Exchange dataset. */
static tl_status single_run(tl_scan *s, int kind, hid_t d, const char *dpath, size_t n, tl_error *err)
{
    kind_source *k = &s->kinds[kind];
    k->dset = d;
    k->dset_path = dpath;
    k->n = n;
    k->n_runs = 1;
    k->run_start = malloc(sizeof *k->run_start);
    k->run_count = malloc(sizeof *k->run_count);
    if (!k->run_start || !k->run_count)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
    k->run_start[0] = 0;
    k->run_count[0] = n;
    return TL_OK;
}

/* ---- NXtomo -------------------------------------------------------------- */

static tl_status open_nxtomo(tl_scan *s, tl_error *err)
{
    char key_path[TL_SCAN_PATH_MAX], angle_path[TL_SCAN_PATH_MAX], units[64];
    double *keys = NULL, *angles = NULL;
    size_t n_keys = 0, n_angles = 0;
    tl_status st;
    const char *e = s->entry;

    snprintf(s->data_path, sizeof s->data_path, "%s/instrument/detector/data", e);
    snprintf(key_path, sizeof key_path, "%s/instrument/detector/image_key", e);
    snprintf(angle_path, sizeof angle_path, "%s/sample/rotation_angle", e);
    if (!tl_h5_link_exists(s->file, s->data_path))
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s missing (NXtomo entry %s has no frames)",
                            s->path, s->data_path, e);
    if (!tl_h5_link_exists(s->file, key_path))
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s': dataset %s missing (NXtomo needs one image key per frame: "
                            "0 projection, 1 flat, 2 dark, 3 invalid)",
                            s->path, key_path);
    if (!tl_h5_link_exists(s->file, angle_path)) {
        /* NXtomo links the angles into ENTRY/data as well; accept that copy. */
        char alt[TL_SCAN_PATH_MAX];
        snprintf(alt, sizeof alt, "%s/data/rotation_angle", e);
        if (!tl_h5_link_exists(s->file, alt))
            return tl_error_set(err, TL_ERR_FORMAT,
                                "'%s': dataset %s missing (NXtomo needs one rotation angle in degrees "
                                "per frame)",
                                s->path, angle_path);
        memcpy(angle_path, alt, sizeof alt);
    }
    st = read_doubles(s, key_path, &keys, &n_keys, NULL, 0, err);
    if (st != TL_OK)
        goto done;
    st = read_doubles(s, angle_path, &angles, &n_angles, units, sizeof units, err);
    if (st != TL_OK)
        goto done;
    to_degrees(angles, n_angles, units);

    size_t count[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n_keys; i++) {
        double kv = keys[i];
        if (!(kv >= 0 && kv <= 3) || kv != floor(kv)) {
            st = tl_error_set(err, TL_ERR_DATA,
                              "'%s': dataset %s has value %g at frame %zu (allowed: 0 projection, "
                              "1 flat, 2 dark, 3 invalid)",
                              s->path, key_path, kv, i);
            goto done;
        }
        count[(int)kv]++;
    }

    /* Open the pixels now (reading comes later), so a broken external link is
     * reported at open; the counts help the user recognise the scan. */
    s->data = H5Dopen2(s->file, s->data_path, H5P_DEFAULT);
    if (s->data < 0) {
        char why[768];
        tl_h5_describe_open_failure(s->file, s->data_path, why, sizeof why);
        st = tl_error_set(err, TL_ERR_IO,
                          "'%s': NXtomo entry %s (image_key: %zu projections, %zu flats, %zu darks): "
                          "cannot open dataset %s: %s",
                          s->path, e, count[0], count[1], count[2], s->data_path, why);
        goto done;
    }
    hsize_t dims[3];
    st = check_pixels(s, s->data, s->data_path, dims, s->pixel_type, sizeof s->pixel_type, err);
    if (st != TL_OK)
        goto done;
    s->n_frames = dims[0];
    s->info.n_rows = dims[1];
    s->info.n_cols = dims[2];
    if (n_keys != s->n_frames) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has %zu values but the data has %zu frames",
                          s->path, key_path, n_keys, s->n_frames);
        goto done;
    }
    if (n_angles != s->n_frames) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has %zu values but the data has %zu frames",
                          s->path, angle_path, n_angles, s->n_frames);
        goto done;
    }
    if (count[TL_KEY_PROJECTION] == 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no projections (image_key 0)", s->path,
                          key_path);
        goto done;
    }
    if (count[TL_KEY_FLAT] == 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no flat-field frames (image_key 1)",
                          s->path, key_path);
        goto done;
    }
    if (count[TL_KEY_DARK] == 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no dark-field frames (image_key 2)",
                          s->path, key_path);
        goto done;
    }
    for (size_t i = 0; i < n_keys; i++)
        if (keys[i] == TL_KEY_PROJECTION && !isfinite(angles[i])) {
            st = tl_error_set(err, TL_ERR_DATA,
                              "'%s': dataset %s has a non-finite angle (%g) at frame %zu", s->path,
                              angle_path, angles[i], i);
            goto done;
        }

    /* Runs of consecutive frames per kind, and the projection angles in order. */
    for (int k = 0; k < 3; k++) {
        kind_source *ks = &s->kinds[k];
        size_t runs = 0;
        for (size_t i = 0; i < n_keys; i++)
            if ((int)keys[i] == k && (i == 0 || (int)keys[i - 1] != k))
                runs++;
        ks->dset = s->data;
        ks->dset_path = s->data_path;
        ks->n = count[k];
        ks->run_start = malloc(runs * sizeof *ks->run_start);
        ks->run_count = malloc(runs * sizeof *ks->run_count);
        if (!ks->run_start || !ks->run_count) {
            st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
            goto done;
        }
        ks->n_runs = 0;
        for (size_t i = 0; i < n_keys; i++) {
            if ((int)keys[i] != k)
                continue;
            if (i == 0 || (int)keys[i - 1] != k) {
                ks->run_start[ks->n_runs] = i;
                ks->run_count[ks->n_runs] = 0;
                ks->n_runs++;
            }
            ks->run_count[ks->n_runs - 1]++;
        }
    }
    s->angles = malloc(count[0] * sizeof *s->angles);
    if (!s->angles) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
        goto done;
    }
    for (size_t i = 0, j = 0; i < n_keys; i++)
        if (keys[i] == TL_KEY_PROJECTION)
            s->angles[j++] = angles[i];
    s->info.n_proj = count[0];
    s->info.n_flat = count[1];
    s->info.n_dark = count[2];
    if (count[3])
        tl_log_debug("'%s': skipping %zu frames marked invalid (image_key 3)", s->path, count[3]);
done:
    free(keys);
    free(angles);
    return st;
}

/* ---- Data Exchange ------------------------------------------------------- */

static tl_status open_dx_dark_or_flat(tl_scan *s, int kind, const char *dpath, hid_t *d,
                                      const hsize_t data_dims[3], tl_error *err)
{
    const char *what = kind == TL_KEY_FLAT ? "flat-field" : "dark-field";
    if (!tl_h5_link_exists(s->file, dpath))
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': %s missing (Data Exchange needs %s frames)",
                            s->path, dpath, what);
    tl_status st = open_dataset(s, dpath, d, err);
    if (st != TL_OK)
        return st;
    hsize_t dims[3];
    char tname[64];
    st = check_pixels(s, *d, dpath, dims, tname, sizeof tname, err);
    if (st != TL_OK)
        return st;
    if (dims[1] != data_dims[1] || dims[2] != data_dims[2])
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s': dataset %s has frames of %llu x %llu pixels but /exchange/data has "
                            "%llu x %llu (rows x columns)",
                            s->path, dpath, (unsigned long long)dims[1], (unsigned long long)dims[2],
                            (unsigned long long)data_dims[1], (unsigned long long)data_dims[2]);
    if (dims[0] == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no %s frames", s->path, dpath, what);
    return single_run(s, kind, *d, dpath, dims[0], err);
}

static tl_status open_dxchange(tl_scan *s, tl_error *err)
{
    const char *theta_path = "/exchange/theta";
    char units[64];
    double *theta = NULL;
    size_t n_theta = 0;
    snprintf(s->data_path, sizeof s->data_path, "/exchange/data");
    snprintf(s->flat_path, sizeof s->flat_path, "/exchange/data_white");
    snprintf(s->dark_path, sizeof s->dark_path, "/exchange/data_dark");

    tl_status st = open_dataset(s, s->data_path, &s->data, err);
    if (st != TL_OK)
        return st;
    hsize_t dims[3];
    st = check_pixels(s, s->data, s->data_path, dims, s->pixel_type, sizeof s->pixel_type, err);
    if (st != TL_OK)
        return st;
    if (dims[0] == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no projections", s->path,
                            s->data_path);
    s->n_frames = dims[0];
    s->info.n_rows = dims[1];
    s->info.n_cols = dims[2];
    st = single_run(s, TL_KEY_PROJECTION, s->data, s->data_path, dims[0], err);
    if (st != TL_OK)
        return st;
    st = open_dx_dark_or_flat(s, TL_KEY_FLAT, s->flat_path, &s->flat, dims, err);
    if (st != TL_OK)
        return st;
    st = open_dx_dark_or_flat(s, TL_KEY_DARK, s->dark_path, &s->dark, dims, err);
    if (st != TL_OK)
        return st;
    if (!tl_h5_link_exists(s->file, theta_path))
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s': %s missing (Data Exchange needs one angle in degrees per projection)",
                            s->path, theta_path);
    st = read_doubles(s, theta_path, &theta, &n_theta, units, sizeof units, err);
    if (st != TL_OK)
        return st;
    to_degrees(theta, n_theta, units);
    if (n_theta != dims[0]) {
        free(theta);
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has %zu values but %s has %llu projections",
                            s->path, theta_path, n_theta, s->data_path, (unsigned long long)dims[0]);
    }
    st = check_finite(s, theta_path, theta, n_theta, "projection", err);
    if (st != TL_OK) {
        free(theta);
        return st;
    }
    s->angles = theta;
    s->info.n_proj = s->kinds[TL_KEY_PROJECTION].n;
    s->info.n_flat = s->kinds[TL_KEY_FLAT].n;
    s->info.n_dark = s->kinds[TL_KEY_DARK].n;
    return TL_OK;
}

/* ---- open ---------------------------------------------------------------- */

tl_status tl_scan_open(const char *path, tl_scan **out, tl_error *err)
{
    tl_h5_quiet();
    if (!out)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_open: no output pointer");
    *out = NULL;
    if (!path || !*path)
        return tl_error_set(err, TL_ERR_INVALID, "no input file name given");
    tl_scan *s = calloc(1, sizeof *s);
    if (!s)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    s->file = s->data = s->flat = s->dark = H5I_INVALID_HID;
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    }
    tl_status st = tl_h5_open_read(path, &s->file, err);
    if (st != TL_OK)
        goto fail;

    /* Detection: Data Exchange, then an NXentry whose definition is NXtomo,
     * then a plain /entry with detector data. -1 means HDF5 could not read the
     * groups at all, which is damage, not a missing layout. */
    int dx = tl_h5_link_exists(s->file, "/exchange/data");
    int nx = dx == 0 ? find_nxtomo_entry(s->file, s->entry, sizeof s->entry) : 0;
    int plain = dx == 0 && nx == 0 ? tl_h5_link_exists(s->file, "/entry/instrument/detector/data") : 0;
    if (dx < 0 || nx < 0 || plain < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the groups of the file, it may be truncated or damaged%s%s%s",
                          path, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    } else if (dx) {
        s->info.layout = TL_LAYOUT_DXCHANGE;
        st = open_dxchange(s, err);
    } else if (nx || plain) {
        if (plain)
            snprintf(s->entry, sizeof s->entry, "/entry");
        s->info.layout = TL_LAYOUT_NXTOMO;
        st = open_nxtomo(s, err);
    } else {
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s': no tomography data found (looked for NXtomo (definition = NXtomo, or "
                          "/entry/instrument/detector/data) and Data Exchange (/exchange/data))",
                          path);
    }
    if (st != TL_OK)
        goto fail;

    s->info.layout_name = s->info.layout == TL_LAYOUT_NXTOMO ? "NXtomo" : "Data Exchange";
    s->info.path = s->path;
    s->info.data_path = s->data_path;
    s->info.pixel_type = s->pixel_type;
    s->info.angles_deg = s->angles;
    *out = s;
    return TL_OK;
fail:
    tl_scan_close(&s);
    return st;
}

/* ---- reads --------------------------------------------------------------- */

static tl_status check_rows(const tl_scan *s, size_t row_begin, size_t row_end, const float *out,
                            tl_error *err)
{
    if (!out)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no output buffer given", s->path);
    if (row_begin >= row_end || row_end > s->info.n_rows)
        return tl_error_set(err, TL_ERR_INVALID,
                            "'%s': rows %zu to %zu requested, but the detector has rows 0 to %zu "
                            "(need row_begin < row_end <= %zu)",
                            s->path, row_begin, row_end, s->info.n_rows - 1, s->info.n_rows);
    return TL_OK;
}

/* Rows [rb, re) of every frame of one kind into out[n][re - rb][n_cols]. */
static tl_status read_kind(tl_scan *s, int kind, size_t rb, size_t re, float *out, tl_error *err)
{
    const kind_source *k = &s->kinds[kind];
    tl_status st = TL_OK;
    hid_t fspace = H5Dget_space(k->dset);
    hid_t mspace = H5I_INVALID_HID;
    size_t first = k->run_start[0];
    size_t last = k->run_start[k->n_runs - 1] + k->run_count[k->n_runs - 1] - 1;
    if (fspace < 0)
        goto fail;
    for (size_t r = 0; r < k->n_runs; r++) {
        hsize_t start[3] = {k->run_start[r], rb, 0};
        hsize_t count[3] = {k->run_count[r], re - rb, s->info.n_cols};
        if (H5Sselect_hyperslab(fspace, r == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, count,
                                NULL) < 0)
            goto fail;
    }
    hsize_t mdims[3] = {k->n, re - rb, s->info.n_cols};
    mspace = H5Screate_simple(3, mdims, NULL);
    if (mspace < 0 || H5Dread(k->dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, out) < 0)
        goto fail;
    goto done;
fail:;
    char reason[256];
    tl_h5_reason(reason, sizeof reason);
    st = tl_error_set(err, TL_ERR_IO,
                      "'%s': cannot read %s (frames %zu-%zu, rows %zu-%zu) of dataset %s, the file may "
                      "be truncated or damaged%s%s%s",
                      s->path, kind_names[kind], first, last, rb, re - 1, k->dset_path,
                      reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
done:
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return st;
}

tl_status tl_scan_read_projections(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                   tl_error *err)
{
    if (!scan)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_read_projections: no scan");
    tl_h5_quiet();
    tl_status st = check_rows(scan, row_begin, row_end, out, err);
    if (st != TL_OK)
        return st;
    return read_kind(scan, TL_KEY_PROJECTION, row_begin, row_end, out, err);
}

static tl_status read_mean(tl_scan *s, int kind, size_t rb, size_t re, float *out, tl_error *err)
{
    if (!s)
        return tl_error_set(err, TL_ERR_INVALID, "reading the mean of %s: no scan", kind_names[kind]);
    tl_h5_quiet();
    tl_status st = check_rows(s, rb, re, out, err);
    if (st != TL_OK)
        return st;
    size_t n = s->kinds[kind].n;
    size_t plane = (re - rb) * s->info.n_cols;
    if (plane > SIZE_MAX / sizeof(double) / (n + 1))
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': %zu %s of %zu pixels do not fit in memory", s->path,
                            n, kind_names[kind], plane);
    float *frames = malloc(n * plane * sizeof *frames);
    double *sum = calloc(plane, sizeof *sum);
    if (!frames || !sum) {
        free(frames);
        free(sum);
        return tl_error_set(err, TL_ERR_NOMEM,
                            "'%s': out of memory for %zu %s of %zu pixels (rows %zu-%zu)", s->path, n,
                            kind_names[kind], plane, rb, re - 1);
    }
    st = read_kind(s, kind, rb, re, frames, err);
    if (st == TL_OK) {
        /* Double precision: thousands of 16-bit frames sum exactly. */
        for (size_t f = 0; f < n; f++) {
            const float *src = frames + f * plane;
            for (size_t i = 0; i < plane; i++)
                sum[i] += src[i];
        }
        for (size_t i = 0; i < plane; i++)
            out[i] = (float)(sum[i] / (double)n);
    }
    free(frames);
    free(sum);
    return st;
}

tl_status tl_scan_read_flat_mean(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                 tl_error *err)
{
    return read_mean(scan, TL_KEY_FLAT, row_begin, row_end, out, err);
}

tl_status tl_scan_read_dark_mean(tl_scan *scan, size_t row_begin, size_t row_end, float *out,
                                 tl_error *err)
{
    return read_mean(scan, TL_KEY_DARK, row_begin, row_end, out, err);
}
