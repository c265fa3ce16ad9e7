/* nxtomo_read.c - the NeXus NXtomo layout of tl_scan (see scan.h, scan_read.h).
 *
 * Finds the entry (definition = NXtomo under any NXentry name, or one level
 * inside an NXentry, or a plain /entry with detector data), reads the image
 * keys (or --image-key-path) and the angles: ENTRY/sample/rotation_angle (or
 * its ENTRY/data copy), else the rotation of the sample's NXtransformations:
 *   - ENTRY/sample/depends_on names the last transformation of a chain; each
 *     transformation's @depends_on names the next, until ".". Paths are absolute
 *     or relative to the group holding the link. The first rotation about y or z
 *     met along the chain gives the angles.
 *   - Without depends_on, the first dataset (by name) of
 *     ENTRY/sample/transformations that is such a rotation.
 * A rotation is a dataset with @transformation_type = "rotation" and @vector
 * along the y axis (0, +-1, 0) or the z axis (0, 0, +-1); a negative vector
 * reverses the sense of rotation, so its angles are negated. @units "rad..."
 * converts from radians. One value per frame or one per projection.
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

/* ---- finding the entry --------------------------------------------------- */

typedef struct find_ctx {
    char *out;
    size_t size;
    const char *prefix; /* "" at the root, "/entry1" one level down */
    int depth;
} find_ctx;

static int is_nxtomo_group(hid_t g)
{
    char def[64];
    return tl_h5_read_string_dataset(g, "definition", def, sizeof def) == 0 && strcmp(def, "NXtomo") == 0;
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

int tl_scan_find_nxtomo_entry(hid_t file, char *out, size_t size)
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

/* ---- NXtransformations --------------------------------------------------- */

/* 1 when dataset `path` is a rotation about y or z; *sign = -1 for a negative axis. */
static int is_axis_rotation(hid_t file, const char *path, int *sign)
{
    if (!tl_h5_is_type(file, path, H5O_TYPE_DATASET))
        return 0;
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0)
        return 0;
    int ok = 0;
    char type[64];
    if (tl_h5_read_string_attr(d, "transformation_type", type, sizeof type) == 0 && strcmp(type, "rotation") == 0 &&
        H5Aexists(d, "vector") > 0) {
        hid_t a = H5Aopen(d, "vector", H5P_DEFAULT);
        hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
        double v[3];
        if (sp >= 0 && H5Sget_simple_extent_npoints(sp) == 3 && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0) {
            double tol = 1e-6;
            int along_y = fabs(v[0]) < tol && fabs(v[2]) < tol && fabs(v[1]) > tol;
            int along_z = fabs(v[0]) < tol && fabs(v[1]) < tol && fabs(v[2]) > tol;
            if (along_y || along_z) {
                ok = 1;
                *sign = (along_y ? v[1] : v[2]) < 0 ? -1 : 1;
            }
        }
        if (sp >= 0)
            H5Sclose(sp);
        if (a >= 0)
            H5Aclose(a);
    }
    H5Dclose(d);
    return ok;
}

/* `target` relative to the group `base` unless absolute, into out. */
static void join_path(const char *base, const char *target, char *out, size_t size)
{
    if (target[0] == '/')
        snprintf(out, size, "%s", target);
    else
        snprintf(out, size, "%s/%s", strcmp(base, "/") ? base : "", target);
}

static void parent_of(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash == out)
        out[1] = '\0';
    else if (slash)
        *slash = '\0';
}

typedef struct first_rotation {
    hid_t file;
    const char *group;
    char *out;
    size_t size;
    int sign;
} first_rotation;

static herr_t first_rotation_cb(hid_t group, const char *name, const H5L_info_t *li, void *data)
{
    (void)group;
    first_rotation *fr = data;
    if (li->type != H5L_TYPE_HARD && li->type != H5L_TYPE_SOFT)
        return 0;
    char path[TL_SCAN_PATH_MAX];
    join_path(fr->group, name, path, sizeof path);
    if (!is_axis_rotation(fr->file, path, &fr->sign))
        return 0;
    snprintf(fr->out, fr->size, "%s", path);
    return 1;
}

/* The dataset of the sample's rotation: 1 found (path, sign), 0 none. */
static int find_rotation(tl_scan *s, char *out, size_t size, int *sign)
{
    char sample[TL_SCAN_PATH_MAX], dep_path[TL_SCAN_PATH_MAX], link[TL_SCAN_PATH_MAX];
    snprintf(sample, sizeof sample, "%s/sample", s->entry);
    snprintf(dep_path, sizeof dep_path, "%s/depends_on", sample);
    if (tl_h5_read_string_dataset(s->file, dep_path, link, sizeof link) == 0) {
        char base[TL_SCAN_PATH_MAX], cur[TL_SCAN_PATH_MAX];
        snprintf(base, sizeof base, "%s", sample);
        for (int step = 0; step < 32 && link[0] && strcmp(link, ".") != 0; step++) {
            join_path(base, link, cur, sizeof cur);
            if (is_axis_rotation(s->file, cur, sign)) {
                snprintf(out, size, "%s", cur);
                return 1;
            }
            if (!tl_h5_is_type(s->file, cur, H5O_TYPE_DATASET))
                break;
            hid_t d = H5Dopen2(s->file, cur, H5P_DEFAULT);
            if (d < 0)
                break;
            int more = tl_h5_read_string_attr(d, "depends_on", link, sizeof link) == 0;
            H5Dclose(d);
            if (!more)
                break;
            parent_of(cur, base, sizeof base);
        }
    }
    char group[TL_SCAN_PATH_MAX];
    snprintf(group, sizeof group, "%s/transformations", sample);
    if (!tl_h5_is_type(s->file, group, H5O_TYPE_GROUP))
        return 0;
    hid_t g = H5Gopen2(s->file, group, H5P_DEFAULT);
    if (g < 0)
        return 0;
    first_rotation fr = {s->file, group, out, size, 1};
    herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, first_rotation_cb, &fr);
    H5Gclose(g);
    *sign = fr.sign;
    return r > 0;
}

/* ---- the layout ---------------------------------------------------------- */

tl_status tl_scan_open_nxtomo(tl_scan *s, tl_error *err)
{
    char key_path[TL_SCAN_PATH_MAX], angle_path[TL_SCAN_PATH_MAX], data_path[TL_SCAN_PATH_MAX];
    char key_file_name[TL_SCAN_PATH_MAX * 2], units[64];
    double *keys = NULL, *angles = NULL;
    size_t n_keys = 0, n_angles = 0;
    tl_status st;
    const char *e = s->entry;
    const tl_scan_options *o = s->opt;
    hid_t key_file = s->file;
    int rotation_sign = 1, from_transformations = 0, want_angles = !tl_scan_given(o->angles_path);

    snprintf(data_path, sizeof data_path, "%s/instrument/detector/data", e);
    snprintf(angle_path, sizeof angle_path, "%s/sample/rotation_angle", e);
    snprintf(key_file_name, sizeof key_file_name, "%s", s->path);
    if (!tl_h5_link_exists(s->file, data_path))
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s missing (NXtomo entry %s has no frames)", s->path,
                            data_path, e);
    if (tl_scan_given(o->image_key_path)) {
        st = tl_scan_resolve(s, o->image_key_path, "--image-key-path", &key_file, key_file_name,
                             sizeof key_file_name, key_path, sizeof key_path, err);
        if (st != TL_OK)
            return st;
        snprintf(s->key_desc, sizeof s->key_desc, "%s", o->image_key_path);
    } else {
        snprintf(key_path, sizeof key_path, "%s/instrument/detector/image_key", e);
        if (!tl_h5_link_exists(s->file, key_path))
            return tl_error_set(err, TL_ERR_FORMAT,
                                "'%s': dataset %s missing (NXtomo needs one image key per frame: 0 projection, "
                                "1 flat, 2 dark, 3 invalid)",
                                s->path, key_path);
        snprintf(s->key_desc, sizeof s->key_desc, "%s", key_path);
    }
    if (want_angles && !tl_h5_link_exists(s->file, angle_path)) {
        /* NXtomo links the angles into ENTRY/data as well; accept that copy, then
         * the sample's NXtransformations. */
        char alt[TL_SCAN_PATH_MAX];
        snprintf(alt, sizeof alt, "%s/data/rotation_angle", e);
        if (tl_h5_link_exists(s->file, alt))
            memcpy(angle_path, alt, sizeof alt);
        else if (find_rotation(s, angle_path, sizeof angle_path, &rotation_sign))
            from_transformations = 1;
        else
            return tl_error_set(err, TL_ERR_FORMAT,
                                "'%s': dataset %s missing (NXtomo needs one rotation angle in degrees per frame, "
                                "there or as a rotation about y or z in %s/sample/transformations; --angles-path "
                                "names another dataset)",
                                s->path, angle_path, e);
    }
    st = tl_scan_read_doubles(key_file, key_file_name, key_path, &keys, &n_keys, NULL, 0, err);
    if (st != TL_OK)
        goto done;
    if (want_angles) {
        st = tl_scan_read_doubles(s->file, s->path, angle_path, &angles, &n_angles, units, sizeof units, err);
        if (st != TL_OK)
            goto done;
        tl_scan_to_degrees(angles, n_angles, units);
        for (size_t i = 0; i < n_angles; i++)
            angles[i] *= rotation_sign;
    }

    size_t count[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n_keys; i++) {
        double kv = keys[i];
        if (kv >= 0 && kv <= 3 && kv == floor(kv))
            count[(int)kv]++;
    }

    /* Open the pixels now (reading comes later), so a broken external link is
     * reported at open; the counts help the user recognise the scan. */
    hid_t d;
    char context[TL_SCAN_PATH_MAX + 128];
    snprintf(context, sizeof context, "NXtomo entry %s (image_key: %zu projections, %zu flats, %zu darks)", e,
             count[0], count[1], count[2]);
    st = tl_scan_open_dataset(s->file, s->path, data_path, context, &d, err);
    if (st != TL_OK)
        goto done;
    st = tl_scan_add_h5_stack(s, d, s->path, data_path, &s->main_stack, err);
    if (st != TL_OK)
        goto done;
    if ((st = tl_scan_read_content(s, d, s->path, data_path, err)) != TL_OK)
        goto done;
    size_t n_frames = s->stacks[s->main_stack].n;
    if (n_keys != n_frames) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has %zu values but the data has %zu frames",
                          key_file_name, key_path, n_keys, n_frames);
        goto done;
    }
    if (want_angles && !from_transformations && n_angles != n_frames) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has %zu values but the data has %zu frames", s->path,
                          angle_path, n_angles, n_frames);
        goto done;
    }
    char what[TL_SCAN_PATH_MAX + 16];
    snprintf(what, sizeof what, "dataset %s", key_path);
    if ((st = tl_scan_runs_from_keys(s, s->main_stack, keys, n_keys, what, err)) != TL_OK)
        goto done;
    const char *kind_text[3] = {"projections (image_key 0)", "flat-field frames (image_key 1)",
                                "dark-field frames (image_key 2)"};
    for (int k = 0; k < 3; k++)
        if (count[k] == 0 && tl_scan_needs_kind(s, k)) {
            st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has no %s", key_file_name, key_path,
                              kind_text[k]);
            goto done;
        }
    if (want_angles) {
        char source[TL_SCAN_PATH_MAX + 64];
        snprintf(source, sizeof source, "%sdataset %s", from_transformations ? "NXtransformations rotation " : "",
                 angle_path);
        if ((st = tl_scan_take_angles(s, angles, n_angles, source, err)) != TL_OK)
            goto done;
        snprintf(s->angles_desc, sizeof s->angles_desc, "%s%s%s", angle_path,
                 from_transformations ? " (NXtransformations rotation" : "",
                 from_transformations ? (rotation_sign < 0 ? ", negative axis: negated)" : ")") : "");
    }
    snprintf(s->flat_desc, sizeof s->flat_desc, "%s (image_key 1)", data_path);
    snprintf(s->dark_desc, sizeof s->dark_desc, "%s (image_key 2)", data_path);
    char name_path[TL_SCAN_PATH_MAX];
    snprintf(name_path, sizeof name_path, "%s/sample/name", e);
    tl_scan_read_sample_name(s, s->file, name_path);
done:
    free(keys);
    free(angles);
    return st;
}
