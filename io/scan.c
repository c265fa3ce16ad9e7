/* scan.c - open a raw scan in any supported layout, check it, and read it in slabs.
 *
 * Owns the tl_scan (scan_read.h): the input file, other HDF5 files opened for
 * FILE:/path options and separate flat/dark files, the frame stacks (open HDF5
 * datasets or TIFF frame lists), the runs of each kind of frame, the projection
 * angles and the flat interpolation weights.
 *
 * Design:
 *   - Everything that can be checked without reading pixels is checked at open
 *     (layout, ranks, shapes, image keys, angles, that every pixel dataset can be
 *     opened at all, e.g. that external links resolve), so a long run fails in
 *     its first second rather than its last minute.
 *   - Opening is two steps: the layout (nxtomo_read.c, dxchange_read.c,
 *     named_read.c, or the TIFF directory below) finds the stacks and runs; then
 *     finish() applies what is common: flats/darks from separate files, angles
 *     from --angles-path or --start-angle/--angle-step, the checks that every
 *     kind needed is there and every frame has the projections' size, and the
 *     flat interpolation weights.
 *   - A read selects the union of the runs of one kind in one HDF5 dataset as one
 *     hyperslab selection and reads it with a single H5Dread (HDF5 delivers the
 *     frames in file order, the order the runs and the angles are kept in).
 *     Pixels of any supported type are converted to float by H5Dread itself.
 *   - Means of flats and darks are accumulated in double over batches of at most
 *     TL_SCAN_MEAN_BATCH frames, so their memory does not grow with the scan.
 *
 * Not thread-safe: one tl_scan is used by one thread at a time.
 */
#define _POSIX_C_SOURCE 200809L
#include "scan.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hdf5_util.h"
#include "log.h"
#include "scan_read.h"
#include "tiff_read.h"

static const char *const kind_names[3] = {"projections", "flat-field frames", "dark-field frames"};
static const char *const layout_names[] = {"NXtomo", "Data Exchange", "named datasets", "projections file",
                                           "TIFF directory"};

/* ---- lifetime ------------------------------------------------------------ */

void tl_scan_close(tl_scan **scan)
{
    if (!scan || !*scan)
        return;
    tl_scan *s = *scan;
    tl_h5_quiet();
    for (int k = 0; k < 3; k++)
        free(s->kinds[k].runs);
    for (size_t i = 0; i < s->n_stacks; i++) {
        if (s->stacks[i].dset >= 0)
            H5Dclose(s->stacks[i].dset);
        tl_tiff_stack_close(&s->stacks[i].tiff);
        free(s->stacks[i].file);
        free(s->stacks[i].name);
    }
    free(s->stacks);
    for (size_t i = 0; i < s->n_others; i++) {
        if (s->others[i].id >= 0)
            H5Fclose(s->others[i].id);
        free(s->others[i].path);
    }
    free(s->others);
    if (s->file >= 0)
        H5Fclose(s->file);
    free(s->angles);
    free(s->after_weight);
    free(s->proj_frame);
    free(s->path);
    free(s->dir);
    free(s);
    *scan = NULL;
}

const tl_scan_info *tl_scan_get_info(const tl_scan *scan)
{
    return scan ? &scan->info : NULL;
}

/* ---- helpers for the layouts --------------------------------------------- */

static tl_status add_stack(tl_scan *s, tl_frame_stack *fs, size_t *index, tl_error *err)
{
    tl_frame_stack *v = realloc(s->stacks, (s->n_stacks + 1) * sizeof *v);
    if (!v)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
    s->stacks = v;
    s->stacks[s->n_stacks] = *fs;
    *index = s->n_stacks++;
    return TL_OK;
}

static void free_stack(tl_frame_stack *fs)
{
    if (fs->dset >= 0)
        H5Dclose(fs->dset);
    tl_tiff_stack_close(&fs->tiff);
    free(fs->file);
    free(fs->name);
}

/* Check a pixel dataset: rank 3, supported type, non-empty frames. */
static tl_status check_pixels(hid_t d, const char *file, const char *dpath, hsize_t dims[3], char *type_name,
                              size_t type_size, tl_error *err)
{
    tl_status st = TL_OK;
    hid_t space = H5Dget_space(d);
    hid_t type = H5Dget_type(d);
    if (space < 0 || type < 0) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the shape and type of dataset %s", file, dpath);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t d8[H5S_MAX_RANK];
    if (rank < 0 || H5Sget_simple_extent_dims(space, d8, NULL) < 0) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the shape of dataset %s", file, dpath);
        goto done;
    }
    if (rank != 3) {
        char shape[256] = "";
        size_t len = 0;
        for (int i = 0; i < rank && len < sizeof shape; i++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%llu", i ? " x " : "",
                                    (unsigned long long)d8[i]);
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s': dataset %s has rank %d (%s), expected rank 3 (frames x rows x columns)", file,
                          dpath, rank, rank ? shape : "a scalar");
        goto done;
    }
    memcpy(dims, d8, 3 * sizeof *dims);
    if (dims[1] == 0 || dims[2] == 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has empty frames (%llu x %llu pixels)", file, dpath,
                          (unsigned long long)dims[1], (unsigned long long)dims[2]);
        goto done;
    }
    tl_h5_type_name(type, type_name, type_size);
    static const char *const supported[] = {"uint8", "uint16", "uint32", "int16", "int32", "float32", "float64"};
    H5T_class_t cls = H5Tget_class(type);
    int ok = 0;
    if (cls == H5T_INTEGER || cls == H5T_FLOAT)
        for (size_t i = 0; i < sizeof supported / sizeof *supported; i++)
            if (strcmp(type_name, supported[i]) == 0)
                ok = 1;
    if (!ok)
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s': dataset %s has pixels of type %s (supported: uint8, uint16, uint32, int16, int32, "
                          "float32, float64)",
                          file, dpath, type_name);
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

tl_status tl_scan_add_h5_stack(tl_scan *s, hid_t dset, const char *file, const char *dpath, size_t *index,
                               tl_error *err)
{
    tl_frame_stack fs = {.dset = dset, .tiff = NULL};
    hsize_t dims[3] = {0, 0, 0};
    tl_status st = check_pixels(dset, file, dpath, dims, fs.pixel_type, sizeof fs.pixel_type, err);
    if (st == TL_OK) {
        fs.n = dims[0];
        fs.rows = dims[1];
        fs.cols = dims[2];
        fs.file = strdup(file);
        fs.name = strdup(dpath);
        if (!fs.file || !fs.name)
            st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", file);
    }
    if (st == TL_OK)
        st = add_stack(s, &fs, index, err);
    if (st != TL_OK)
        free_stack(&fs);
    return st;
}

tl_status tl_scan_add_tiff_stack(tl_scan *s, tl_tiff_stack *tiff, const char *name, size_t *index, tl_error *err)
{
    tl_frame_stack fs = {.dset = H5I_INVALID_HID, .tiff = tiff};
    fs.n = tl_tiff_stack_frames(tiff);
    fs.rows = tl_tiff_stack_rows(tiff);
    fs.cols = tl_tiff_stack_cols(tiff);
    snprintf(fs.pixel_type, sizeof fs.pixel_type, "%s", tl_tiff_stack_pixel_type(tiff));
    fs.file = strdup(tl_tiff_stack_file(tiff, 0));
    fs.name = strdup(name);
    tl_status st = TL_OK;
    if (!fs.file || !fs.name)
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
    if (st == TL_OK)
        st = add_stack(s, &fs, index, err);
    if (st != TL_OK)
        free_stack(&fs);
    return st;
}

tl_status tl_scan_add_run(tl_scan *s, int kind, size_t stack, size_t start, size_t count, double pos, tl_error *err)
{
    if (count == 0)
        return TL_OK;
    tl_frame_kind *k = &s->kinds[kind];
    if (k->n_runs == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 8;
        tl_frame_run *v = realloc(k->runs, cap * sizeof *v);
        if (!v)
            return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
        k->runs = v;
        k->cap = cap;
    }
    k->runs[k->n_runs++] = (tl_frame_run){.stack = stack, .start = start, .count = count, .pos = pos};
    k->n += count;
    return TL_OK;
}

void tl_scan_clear_kind(tl_scan *s, int kind)
{
    s->kinds[kind].n_runs = 0;
    s->kinds[kind].n = 0;
}

tl_status tl_scan_runs_from_keys(tl_scan *s, size_t stack, const double *keys, size_t n, const char *what,
                                 tl_error *err)
{
    for (size_t i = 0; i < n; i++) {
        double kv = keys[i];
        if (!(kv >= 0 && kv <= 3) || kv != floor(kv))
            return tl_error_set(err, TL_ERR_DATA,
                                "'%s': %s has value %g at frame %zu (allowed: 0 projection, 1 flat, 2 dark, "
                                "3 invalid)",
                                s->path, what, kv, i);
    }
    s->info.n_invalid = 0;
    for (size_t i = 0; i < n;) {
        int k = (int)keys[i];
        size_t j = i;
        while (j < n && (int)keys[j] == k)
            j++;
        if (k == TL_KEY_INVALID) {
            s->info.n_invalid += j - i;
        } else {
            tl_status st = tl_scan_add_run(s, k, stack, i, j - i, (double)i, err);
            if (st != TL_OK)
                return st;
        }
        i = j;
    }
    if (s->info.n_invalid)
        tl_log_debug("'%s': skipping %zu frames marked invalid (image_key 3)", s->path, s->info.n_invalid);
    return TL_OK;
}

void tl_scan_relative_to_input(const tl_scan *s, const char *rel, char *out, size_t size)
{
    if (rel[0] == '/' || !s->dir || !s->dir[0])
        snprintf(out, size, "%s", rel);
    else
        snprintf(out, size, "%s/%s", s->dir, rel);
}

tl_status tl_scan_open_other(tl_scan *s, const char *path, hid_t *file, tl_error *err)
{
    if (s->file >= 0 && strcmp(path, s->path) == 0) {
        *file = s->file;
        return TL_OK;
    }
    for (size_t i = 0; i < s->n_others; i++)
        if (strcmp(s->others[i].path, path) == 0) {
            *file = s->others[i].id;
            return TL_OK;
        }
    tl_h5_other_file *v = realloc(s->others, (s->n_others + 1) * sizeof *v);
    if (!v)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    s->others = v;
    hid_t f;
    tl_status st = tl_h5_open_read(path, &f, err);
    if (st != TL_OK)
        return st;
    v[s->n_others].path = strdup(path);
    if (!v[s->n_others].path) {
        H5Fclose(f);
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    }
    v[s->n_others].id = f;
    s->n_others++;
    *file = f;
    return TL_OK;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

tl_status tl_scan_resolve(tl_scan *s, const char *spec, const char *option, hid_t *file, char *file_name,
                          size_t file_name_size, char *dpath, size_t dpath_size, tl_error *err)
{
    if (!spec || !spec[0])
        return tl_error_set(err, TL_ERR_INVALID, "%s: empty dataset name", option);
    const char *colon = NULL;
    char cand[TL_SCAN_PATH_MAX * 2];
    /* FILE:/path. A file name may itself hold ":/": take the first split whose
     * FILE exists; failing that, "/path" is a dataset of the input, and
     * anything else names a missing FILE at its first split. */
    const char *first = NULL;
    for (const char *p = strstr(spec, ":/"); p; p = strstr(p + 1, ":/")) {
        if (p == spec)
            continue;
        char prefix[TL_SCAN_PATH_MAX];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(p - spec), spec);
        tl_scan_relative_to_input(s, prefix, cand, sizeof cand);
        if (!first)
            first = p;
        if (file_exists(cand)) {
            colon = p;
            break;
        }
    }
    if (!colon && spec[0] != '/')
        colon = first;
    if (!colon) {
        /* "/path" (or "path") inside the input */
        if (s->file < 0)
            return tl_error_set(err, TL_ERR_INVALID,
                                "%s '%s': the input '%s' is not an HDF5 file, so name the file as FILE:/path",
                                option, spec, s->path);
        *file = s->file;
        snprintf(file_name, file_name_size, "%s", s->path);
        snprintf(dpath, dpath_size, "%s%s", spec[0] == '/' ? "" : "/", spec);
    } else {
        char prefix[TL_SCAN_PATH_MAX];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(colon - spec), spec);
        tl_scan_relative_to_input(s, prefix, cand, sizeof cand);
        snprintf(dpath, dpath_size, "%s", colon + 1);
        snprintf(file_name, file_name_size, "%s", cand);
        if (!file_exists(cand)) {
            struct stat sb;
            int is_dir = stat(cand, &sb) == 0 && S_ISDIR(sb.st_mode);
            if (prefix[0] == '/')
                return tl_error_set(err, TL_ERR_IO, "%s '%s': %s '%s'", option, spec,
                                    is_dir ? "FILE is a directory:" : "no such file", cand);
            return tl_error_set(err, TL_ERR_IO, "%s '%s': %s '%s' (FILE is relative to the input's directory %s)",
                                option, spec, is_dir ? "FILE is a directory:" : "no such file", cand, s->dir);
        }
        tl_status st = tl_scan_open_other(s, cand, file, err);
        if (st != TL_OK) {
            tl_error_prefix(err, "%s '%s'", option, spec);
            return st;
        }
    }
    int ex = tl_h5_link_exists(*file, dpath);
    if (ex < 0)
        return tl_error_set(err, TL_ERR_IO, "%s '%s': cannot read the groups of '%s', it may be truncated or damaged",
                            option, spec, file_name);
    if (ex == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "%s '%s': '%s' has no dataset %s", option, spec, file_name, dpath);
    return TL_OK;
}

tl_status tl_scan_open_dataset(hid_t file, const char *file_name, const char *dpath, const char *context, hid_t *out,
                               tl_error *err)
{
    *out = H5Dopen2(file, dpath, H5P_DEFAULT);
    if (*out < 0) {
        char why[768];
        tl_h5_describe_open_failure(file, dpath, why, sizeof why);
        return tl_error_set(err, TL_ERR_IO, "'%s': %s%scannot open dataset %s: %s", file_name, context ? context : "",
                            context ? ": " : "", dpath, why);
    }
    return TL_OK;
}

tl_status tl_scan_read_doubles(hid_t file, const char *file_name, const char *dpath, double **values, size_t *n,
                               char *units, size_t units_size, tl_error *err)
{
    *values = NULL;
    *n = 0;
    if (units && units_size)
        units[0] = '\0';
    hid_t d;
    tl_status st = tl_scan_open_dataset(file, file_name, dpath, NULL, &d, err);
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
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s holds %s, expected numbers", file_name, dpath, tname);
        goto done;
    }
    if (np < 0) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the shape of dataset %s", file_name, dpath);
        goto done;
    }
    double *v = malloc(((size_t)np > 0 ? (size_t)np : 1) * sizeof *v);
    if (!v) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory reading dataset %s", file_name, dpath);
        goto done;
    }
    if (np > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        free(v);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read dataset %s, the file may be truncated or damaged%s%s%s",
                          file_name, dpath, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
        goto done;
    }
    *values = v;
    *n = (size_t)np;
    if (units && units_size && tl_h5_read_string_attr(d, "units", units, units_size) != 0)
        units[0] = '\0';
done:
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(d);
    return st;
}

void tl_scan_to_degrees(double *v, size_t n, const char *units)
{
    /* Angles are degrees by our convention; honour units that say radians. */
    if (strncasecmp(units, "rad", 3) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] *= 180.0 / 3.14159265358979323846;
}

/* Frame index (within the main stack) of every projection, in read order. */
static tl_status projection_frames(tl_scan *s, tl_error *err)
{
    if (s->proj_frame)
        return TL_OK;
    const tl_frame_kind *k = &s->kinds[TL_KEY_PROJECTION];
    s->proj_frame = malloc((k->n ? k->n : 1) * sizeof *s->proj_frame);
    if (!s->proj_frame)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
    size_t j = 0;
    for (size_t r = 0; r < k->n_runs; r++)
        for (size_t i = 0; i < k->runs[r].count; i++)
            s->proj_frame[j++] = k->runs[r].start + i;
    return TL_OK;
}

tl_status tl_scan_take_angles(tl_scan *s, const double *values, size_t n, const char *source, tl_error *err)
{
    size_t n_proj = s->kinds[TL_KEY_PROJECTION].n;
    size_t n_frames = s->n_stacks ? s->stacks[s->main_stack].n : 0;
    tl_status st = projection_frames(s, err);
    if (st != TL_OK)
        return st;
    int per_frame;
    if (n == n_frames)
        per_frame = 1;
    else if (n == n_proj)
        per_frame = 0;
    else if (n_frames == n_proj)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': %s has %zu values but the data has %zu projections", s->path,
                            source, n, n_proj);
    else
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s': %s has %zu values, expected %zu (one per frame) or %zu (one per projection)",
                            s->path, source, n, n_frames, n_proj);
    double *a = malloc((n_proj ? n_proj : 1) * sizeof *a);
    if (!a)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
    for (size_t i = 0; i < n_proj; i++) {
        size_t at = per_frame ? s->proj_frame[i] : i;
        a[i] = values[at];
        if (!isfinite(a[i])) {
            free(a);
            return tl_error_set(err, TL_ERR_DATA, "'%s': %s has a non-finite angle (%g) at %s %zu", s->path, source,
                                values[at], per_frame && n_frames != n_proj ? "frame" : "projection", at);
        }
    }
    free(s->angles);
    s->angles = a;
    return TL_OK;
}

tl_status tl_scan_read_content(tl_scan *s, hid_t dset, const char *file, const char *dpath, tl_error *err)
{
    char content[64];
    s->info.normalized = 0;
    if (H5Aexists(dset, "tomoline_content") <= 0)
        return TL_OK;
    if (tl_h5_read_string_attr(dset, "tomoline_content", content, sizeof content) != 0)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': attribute tomoline_content of dataset %s is not a string",
                            file, dpath);
    if (strcmp(content, "line_integrals") == 0)
        s->info.normalized = 1;
    else if (strcmp(content, "transmission") == 0)
        s->info.normalized = 2;
    else if (strcmp(content, "raw") != 0 && content[0])
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s': attribute tomoline_content of dataset %s is '%s' (allowed: line_integrals, "
                            "transmission, raw)",
                            file, dpath, content);
    return TL_OK;
}

int tl_scan_needs_kind(const tl_scan *s, int kind)
{
    if (kind == TL_KEY_PROJECTION)
        return 1;
    if (s->info.normalized)
        return 0;
    return !tl_scan_given(kind == TL_KEY_FLAT ? s->opt->flat_file : s->opt->dark_file);
}

void tl_scan_read_sample_name(tl_scan *s, hid_t file, const char *dpath)
{
    if (s->sample_name[0])
        return;
    if (tl_h5_read_string_dataset(file, dpath, s->sample_name, sizeof s->sample_name) != 0)
        s->sample_name[0] = '\0';
}

/* ---- TIFF directory ------------------------------------------------------ */

static const char *base_name(const char *p)
{
    const char *slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

static tl_status open_tiff_dir(tl_scan *s, tl_error *err)
{
    tl_tiff_dir d;
    tl_status st = tl_tiff_dir_list(s->path, &d, err);
    if (st != TL_OK)
        return st;
    static const char *const whats[3] = {"projection", "flat-field", "dark-field"};
    char **lists[3] = {d.proj, d.flat, d.dark};
    size_t counts[3] = {d.n_proj, d.n_flat, d.n_dark};
    for (int k = 0; k < 3 && st == TL_OK; k++) {
        if (counts[k] == 0 || !tl_scan_needs_kind(s, k))
            continue;
        tl_tiff_stack *t = NULL;
        st = tl_tiff_stack_open_files((const char *const *)lists[k], counts[k], whats[k], &t, err);
        if (st != TL_OK)
            break;
        char name[TL_SCAN_PATH_MAX];
        snprintf(name, sizeof name, "%s .. %s", base_name(lists[k][0]), base_name(lists[k][counts[k] - 1]));
        size_t index;
        st = tl_scan_add_tiff_stack(s, t, name, &index, err);
        if (st != TL_OK)
            break;
        if (k == TL_KEY_PROJECTION) {
            s->main_stack = index;
            snprintf(s->data_desc, sizeof s->data_desc, "%s (%zu files)", name, counts[k]);
        } else {
            snprintf(k == TL_KEY_FLAT ? s->flat_desc : s->dark_desc, TL_SCAN_PATH_MAX, "%s (%zu files)", name,
                     counts[k]);
        }
        /* Positions are not known from file names: no interpolation. */
        st = tl_scan_add_run(s, k, index, 0, counts[k], k == TL_KEY_PROJECTION ? 0.0 : NAN, err);
    }
    snprintf(s->missing_hint[TL_KEY_FLAT], TL_SCAN_PATH_MAX,
             "the directory has no flat_NNNN.tif files; give --flat-file-name");
    snprintf(s->missing_hint[TL_KEY_DARK], TL_SCAN_PATH_MAX,
             "the directory has no dark_NNNN.tif files; give --dark-file-name");
    if (st == TL_OK && d.angles_file && !tl_scan_given(s->opt->angles_path)) {
        double *a = NULL;
        size_t n = 0;
        st = tl_tiff_read_angles_file(d.angles_file, &a, &n, err);
        if (st == TL_OK && n != d.n_proj)
            st = tl_error_set(err, TL_ERR_FORMAT, "'%s' has %zu angles but the directory has %zu projection frames",
                              d.angles_file, n, d.n_proj);
        if (st == TL_OK) {
            free(s->angles);
            s->angles = a;
            a = NULL;
            snprintf(s->angles_desc, sizeof s->angles_desc, "%s", d.angles_file);
        }
        free(a);
    }
    tl_tiff_dir_free(&d);
    return st;
}

/* ---- open ---------------------------------------------------------------- */

static tl_status missing_kind(tl_scan *s, int kind, tl_error *err)
{
    const char *hint = s->missing_hint[kind];
    return tl_error_set(err, TL_ERR_FORMAT, "'%s': no %s%s%s%s", s->path, kind_names[kind], hint[0] ? " (" : "", hint,
                        hint[0] ? ")" : "");
}

static void describe_stack(const tl_scan *s, const tl_frame_stack *fs, char *buf, size_t size)
{
    if (fs->tiff)
        snprintf(buf, size, "'%s'", fs->file);
    else if (strcmp(fs->file, s->path) == 0)
        snprintf(buf, size, "dataset %s", fs->name);
    else
        snprintf(buf, size, "dataset %s of '%s'", fs->name, fs->file);
}

/* Flats after the last projection, their weights, and what info says about flats. */
static tl_status flat_groups(tl_scan *s, tl_error *err)
{
    tl_frame_kind *pk = &s->kinds[TL_KEY_PROJECTION], *fk = &s->kinds[TL_KEY_FLAT];
    double last_proj = -INFINITY;
    int proj_known = 1;
    for (size_t r = 0; r < pk->n_runs; r++) {
        if (!isfinite(pk->runs[r].pos))
            proj_known = 0;
        else if (pk->runs[r].pos + (double)(pk->runs[r].count - 1) > last_proj)
            last_proj = pk->runs[r].pos + (double)(pk->runs[r].count - 1);
    }
    size_t n_before = 0, n_after = 0;
    int unknown = 0;
    double sum_before = 0, sum_after = 0;
    for (size_t r = 0; r < fk->n_runs; r++) {
        tl_frame_run *run = &fk->runs[r];
        double centre_sum = (run->pos + (double)(run->count - 1) / 2.0) * (double)run->count;
        run->after = proj_known && isfinite(run->pos) && run->pos > last_proj;
        if (!isfinite(run->pos))
            unknown = 1;
        if (run->after) {
            n_after += run->count;
            sum_after += centre_sum;
        } else {
            n_before += run->count;
            sum_before += centre_sum;
        }
    }
    s->info.n_flat_before = n_before;
    s->info.n_flat_after = n_after;
    s->info.flat_position = fk->n == 0        ? "none"
                            : n_after == 0    ? (unknown ? "unknown" : "before")
                            : n_before == 0   ? "after"
                            : "before and after";
    if (n_before == 0 || n_after == 0 || unknown)
        return TL_OK;
    /* Both: w linear in the acquisition position between the centres of the groups. */
    double cb = sum_before / (double)n_before, ca = sum_after / (double)n_after;
    size_t n_proj = pk->n;
    s->after_weight = malloc((n_proj ? n_proj : 1) * sizeof *s->after_weight);
    if (!s->after_weight)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
    size_t j = 0;
    for (size_t r = 0; r < pk->n_runs; r++)
        for (size_t i = 0; i < pk->runs[r].count; i++) {
            double w = (pk->runs[r].pos + (double)i - cb) / (ca - cb);
            s->after_weight[j++] = w < 0 ? 0 : w > 1 ? 1 : w;
        }
    return TL_OK;
}

static tl_status finish(tl_scan *s, tl_error *err)
{
    const tl_scan_options *o = s->opt;
    tl_status st;
    /* flats and darks from separate files */
    static const int kinds[2] = {TL_KEY_FLAT, TL_KEY_DARK};
    for (int i = 0; i < 2; i++) {
        int k = kinds[i];
        const char *spec = k == TL_KEY_FLAT ? o->flat_file : o->dark_file;
        if (!tl_scan_given(spec))
            continue;
        if (s->kinds[k].n)
            tl_log_info("'%s': using the %s of '%s' instead of the %zu in the input", s->path, kind_names[k], spec,
                        s->kinds[k].n);
        tl_scan_clear_kind(s, k);
        st = tl_scan_open_kind_file(s, k, spec, k == TL_KEY_FLAT ? "--flat-file-name" : "--dark-file-name", err);
        if (st != TL_OK)
            return st;
    }
    if (tl_scan_given(o->image_key_path) && !s->key_desc[0])
        tl_log_warn("'%s': --image-key-path %s is not used: %s input keeps each kind of frame apart", s->path,
                    o->image_key_path, layout_names[s->info.layout]);
    /* projections, flats, darks present */
    if (s->kinds[TL_KEY_PROJECTION].n == 0)
        return missing_kind(s, TL_KEY_PROJECTION, err);
    if (!s->info.normalized) {
        if (s->kinds[TL_KEY_FLAT].n == 0)
            return missing_kind(s, TL_KEY_FLAT, err);
        if (s->kinds[TL_KEY_DARK].n == 0)
            return missing_kind(s, TL_KEY_DARK, err);
    }
    /* every frame the size of the projections */
    const tl_frame_stack *main = &s->stacks[s->main_stack];
    for (size_t i = 0; i < s->n_stacks; i++) {
        const tl_frame_stack *fs = &s->stacks[i];
        if (fs->rows == main->rows && fs->cols == main->cols)
            continue;
        char a[TL_SCAN_PATH_MAX + 64], b[TL_SCAN_PATH_MAX + 64];
        describe_stack(s, fs, a, sizeof a);
        describe_stack(s, main, b, sizeof b);
        if (!fs->tiff && !main->tiff && strcmp(fs->file, main->file) == 0)
            snprintf(b, sizeof b, "%s", main->name);
        return tl_error_set(err, TL_ERR_FORMAT,
                            "'%s': %s has frames of %zu x %zu pixels but %s has %zu x %zu (rows x columns)",
                            s->path, a, fs->rows, fs->cols, b, main->rows, main->cols);
    }
    /* angles */
    if ((st = projection_frames(s, err)) != TL_OK)
        return st;
    if (tl_scan_given(o->angles_path)) {
        hid_t f;
        char fname[TL_SCAN_PATH_MAX * 2], dpath[TL_SCAN_PATH_MAX], units[64], source[TL_SCAN_PATH_MAX * 2];
        double *v = NULL;
        size_t n = 0;
        if ((st = tl_scan_resolve(s, o->angles_path, "--angles-path", &f, fname, sizeof fname, dpath, sizeof dpath,
                                  err)) != TL_OK)
            return st;
        if ((st = tl_scan_read_doubles(f, fname, dpath, &v, &n, units, sizeof units, err)) != TL_OK)
            return st;
        tl_scan_to_degrees(v, n, units);
        snprintf(source, sizeof source, "--angles-path %s", o->angles_path);
        st = tl_scan_take_angles(s, v, n, source, err);
        free(v);
        if (st != TL_OK)
            return st;
        snprintf(s->angles_desc, sizeof s->angles_desc, "%s", o->angles_path);
    } else if (!s->angles) {
        size_t n = s->kinds[TL_KEY_PROJECTION].n;
        double step = o->angle_step != 0.0 ? o->angle_step : 180.0 / (double)n;
        if (!isfinite(o->start_angle) || !isfinite(step))
            return tl_error_set(err, TL_ERR_INVALID, "--start-angle %g and --angle-step %g must be finite numbers",
                                o->start_angle, o->angle_step);
        s->angles = malloc(n * sizeof *s->angles);
        if (!s->angles)
            return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", s->path);
        for (size_t i = 0; i < n; i++)
            s->angles[i] = o->start_angle + step * (double)i;
        snprintf(s->angles_desc, sizeof s->angles_desc, "--start-angle %g --angle-step %g%s", o->start_angle, step,
                 o->angle_step != 0.0 ? "" : " (180 / projections)");
    }
    return flat_groups(s, err);
}


/* Detection in an HDF5 input: Data Exchange, then an NXtomo entry, then a plain
 * /entry with detector data, then (with separate flat/dark files) a file of
 * projections only. */
static tl_status open_hdf5_layout(tl_scan *s, tl_error *err)
{
    if (tl_scan_given(s->opt->data_path)) {
        s->info.layout = TL_LAYOUT_NAMED;
        return tl_scan_open_named(s, err);
    }
    int dx = tl_h5_link_exists(s->file, "/exchange/data");
    int nx = dx == 0 ? tl_scan_find_nxtomo_entry(s->file, s->entry, sizeof s->entry) : 0;
    int plain = dx == 0 && nx == 0 ? tl_h5_link_exists(s->file, "/entry/instrument/detector/data") : 0;
    if (dx < 0 || nx < 0 || plain < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        return tl_error_set(err, TL_ERR_IO,
                            "'%s': cannot read the groups of the file, it may be truncated or damaged%s%s%s", s->path,
                            reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    }
    if (dx) {
        s->info.layout = TL_LAYOUT_DXCHANGE;
        return tl_scan_open_dxchange(s, err);
    }
    if (nx || plain) {
        if (plain)
            snprintf(s->entry, sizeof s->entry, "/entry");
        s->info.layout = TL_LAYOUT_NXTOMO;
        return tl_scan_open_nxtomo(s, err);
    }
    if (tl_scan_given(s->opt->flat_file) || tl_scan_given(s->opt->dark_file)) {
        int found = 0;
        s->info.layout = TL_LAYOUT_FRAMES;
        tl_status st = tl_scan_open_frames(s, &found, err);
        if (st != TL_OK || found)
            return st;
    }
    return tl_error_set(err, TL_ERR_FORMAT,
                        "'%s': no tomography data found (looked for NXtomo (definition = NXtomo, or "
                        "/entry/instrument/detector/data) and Data Exchange (/exchange/data)); name the datasets "
                        "with --data-path, --image-key-path and --angles-path, or give --flat-file-name and "
                        "--dark-file-name for a file of projections only",
                        s->path);
}

tl_status tl_scan_open_with(const char *path, const tl_scan_options *opt, tl_scan **out, tl_error *err)
{
    tl_h5_quiet();
    if (!out)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_open: no output pointer");
    *out = NULL;
    if (!path || !*path)
        return tl_error_set(err, TL_ERR_INVALID, "no input file name given");
    static const tl_scan_options none = {0};
    tl_scan *s = calloc(1, sizeof *s);
    if (!s)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    s->file = H5I_INVALID_HID;
    s->opt = opt ? opt : &none;
    s->path = strdup(path);
    const char *slash = strrchr(path, '/');
    s->dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    tl_status st;
    if (!s->path || !s->dir) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
        goto fail;
    }
    snprintf(s->missing_hint[TL_KEY_FLAT], TL_SCAN_PATH_MAX, "give --flat-file-name");
    snprintf(s->missing_hint[TL_KEY_DARK], TL_SCAN_PATH_MAX, "give --dark-file-name");

    struct stat sb;
    if (stat(path, &sb) != 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(sb.st_mode)) {
        s->info.layout = TL_LAYOUT_TIFF;
        if (tl_scan_given(s->opt->data_path) || tl_scan_given(s->opt->image_key_path))
            st = tl_error_set(err, TL_ERR_INVALID,
                              "'%s' is a directory of TIFF frames: --data-path and --image-key-path name datasets "
                              "of an HDF5 input",
                              path);
        else
            st = open_tiff_dir(s, err);
    } else {
        st = tl_h5_open_read(path, &s->file, err);
        if (st == TL_ERR_FORMAT && tl_tiff_is_tiff(path))
            st = tl_error_set(err, TL_ERR_FORMAT,
                              "'%s' is a TIFF file, not an HDF5 file; give the directory that holds the TIFF frames "
                              "(proj_NNNN.tif, flat_NNNN.tif, dark_NNNN.tif)",
                              path);
        if (st == TL_OK)
            st = open_hdf5_layout(s, err);
    }
    if (st == TL_OK)
        st = finish(s, err);
    if (st != TL_OK)
        goto fail;

    tl_scan_info *in = &s->info;
    const tl_frame_stack *main = &s->stacks[s->main_stack];
    in->layout_name = layout_names[in->layout];
    in->path = s->path;
    if (!s->data_desc[0]) {
        if (strcmp(main->file, s->path) == 0)
            snprintf(s->data_desc, sizeof s->data_desc, "%s", main->name);
        else
            snprintf(s->data_desc, sizeof s->data_desc, "%s:%s", main->file, main->name);
    }
    in->data_path = s->data_desc;
    in->n_proj = s->kinds[TL_KEY_PROJECTION].n;
    in->n_flat = s->kinds[TL_KEY_FLAT].n;
    in->n_dark = s->kinds[TL_KEY_DARK].n;
    in->n_rows = main->rows;
    in->n_cols = main->cols;
    in->pixel_type = main->pixel_type;
    in->angles_deg = s->angles;
    in->entry_path = in->layout == TL_LAYOUT_NXTOMO ? s->entry : NULL;
    in->sample_name = s->sample_name[0] ? s->sample_name : NULL;
    in->flat_after_weight = s->after_weight;
    in->image_key_path = s->key_desc[0] ? s->key_desc : NULL;
    in->angles_source = s->angles_desc;
    if (!s->flat_desc[0])
        snprintf(s->flat_desc, sizeof s->flat_desc, "none");
    if (!s->dark_desc[0])
        snprintf(s->dark_desc, sizeof s->dark_desc, "none");
    in->flat_source = s->flat_desc;
    in->dark_source = s->dark_desc;
    s->opt = NULL; /* the caller's options are not kept */
    *out = s;
    return TL_OK;
fail:
    tl_scan_close(&s);
    return st;
}

tl_status tl_scan_open(const char *path, tl_scan **out, tl_error *err)
{
    return tl_scan_open_with(path, NULL, out, err);
}

/* ---- reads --------------------------------------------------------------- */

static tl_status check_rows(const tl_scan *s, size_t row_begin, size_t row_end, const float *out, tl_error *err)
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

/* Rows [rb, re) of the frames of runs[0..n_runs) (all of one kind) into out, in
 * order. Consecutive ascending runs of one HDF5 dataset are read with one H5Dread. */
static tl_status read_runs(tl_scan *s, int kind, const tl_frame_run *runs, size_t n_runs, size_t rb, size_t re,
                           float *out, tl_error *err)
{
    size_t plane = (re - rb) * s->info.n_cols;
    float *dst = out;
    for (size_t i = 0; i < n_runs;) {
        tl_frame_stack *fs = &s->stacks[runs[i].stack];
        if (fs->tiff) {
            for (size_t f = 0; f < runs[i].count; f++, dst += plane) {
                tl_status st = tl_tiff_stack_read(fs->tiff, runs[i].start + f, rb, re, dst, err);
                if (st != TL_OK)
                    return st;
            }
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n_runs && runs[j].stack == runs[i].stack &&
               runs[j].start >= runs[j - 1].start + runs[j - 1].count)
            j++;
        size_t frames = 0;
        hid_t fspace = H5Dget_space(fs->dset), mspace = H5I_INVALID_HID;
        int ok = fspace >= 0;
        for (size_t r = i; ok && r < j; r++) {
            hsize_t start[3] = {runs[r].start, rb, 0};
            hsize_t count[3] = {runs[r].count, re - rb, s->info.n_cols};
            ok = H5Sselect_hyperslab(fspace, r == i ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, count, NULL) >= 0;
            frames += runs[r].count;
        }
        if (ok) {
            hsize_t mdims[3] = {frames, re - rb, s->info.n_cols};
            mspace = H5Screate_simple(3, mdims, NULL);
            ok = mspace >= 0 && H5Dread(fs->dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, dst) >= 0;
        }
        char reason[256] = "";
        if (!ok)
            tl_h5_reason(reason, sizeof reason);
        if (mspace >= 0)
            H5Sclose(mspace);
        if (fspace >= 0)
            H5Sclose(fspace);
        if (!ok)
            return tl_error_set(err, TL_ERR_IO,
                                "'%s': cannot read %s (frames %zu-%zu, rows %zu-%zu) of dataset %s, the file may be "
                                "truncated or damaged%s%s%s",
                                fs->file, kind_names[kind], runs[i].start, runs[j - 1].start + runs[j - 1].count - 1,
                                rb, re - 1, fs->name, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
        dst += frames * plane;
        i = j;
    }
    return TL_OK;
}

tl_status tl_scan_read_projections(tl_scan *scan, size_t row_begin, size_t row_end, float *out, tl_error *err)
{
    if (!scan)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_read_projections: no scan");
    tl_h5_quiet();
    tl_status st = check_rows(scan, row_begin, row_end, out, err);
    if (st != TL_OK)
        return st;
    const tl_frame_kind *k = &scan->kinds[TL_KEY_PROJECTION];
    return read_runs(scan, TL_KEY_PROJECTION, k->runs, k->n_runs, row_begin, row_end, out, err);
}

tl_status tl_scan_read_frames(tl_scan *scan, int key, size_t first, size_t count, size_t row_begin, size_t row_end,
                              float *out, tl_error *err)
{
    if (!scan)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_read_frames: no scan");
    if (key < TL_KEY_PROJECTION || key > TL_KEY_DARK)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_read_frames: image key %d (allowed: 0, 1, 2)", key);
    tl_h5_quiet();
    tl_status st = check_rows(scan, row_begin, row_end, out, err);
    if (st != TL_OK)
        return st;
    const tl_frame_kind *k = &scan->kinds[key];
    if (count == 0 || first > k->n || count > k->n - first)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': %s %zu to %zu requested, but the scan has %zu", scan->path,
                            kind_names[key], first, first + count - 1, k->n);
    /* the runs that cover [first, first + count), cut to it, in order (at most 8
     * at a time, so no allocation: a read of a few frames rarely spans more) */
    tl_frame_run part[8];
    size_t n_part = 0, skip = first, left = count;
    float *dst = out;
    size_t plane = (row_end - row_begin) * scan->info.n_cols;
    for (size_t r = 0; r < k->n_runs && left > 0; r++) {
        tl_frame_run run = k->runs[r];
        if (skip >= run.count) {
            skip -= run.count;
            continue;
        }
        run.start += skip;
        run.count -= skip;
        skip = 0;
        if (run.count > left)
            run.count = left;
        left -= run.count;
        part[n_part++] = run;
        if (n_part == 8 || left == 0) {
            size_t frames = 0;
            for (size_t i = 0; i < n_part; i++)
                frames += part[i].count;
            if ((st = read_runs(scan, key, part, n_part, row_begin, row_end, dst, err)) != TL_OK)
                return st;
            dst += frames * plane;
            n_part = 0;
        }
    }
    return TL_OK;
}

enum { GROUP_ALL, GROUP_BEFORE, GROUP_AFTER };

/* Mean over the frames of `kind` in `group`, in batches of TL_SCAN_MEAN_BATCH frames. */
static tl_status read_mean(tl_scan *s, int kind, int group, size_t rb, size_t re, float *out, tl_error *err)
{
    if (!s)
        return tl_error_set(err, TL_ERR_INVALID, "reading the mean of %s: no scan", kind_names[kind]);
    tl_h5_quiet();
    tl_status st = check_rows(s, rb, re, out, err);
    if (st != TL_OK)
        return st;
    const tl_frame_kind *k = &s->kinds[kind];
    size_t n = 0;
    for (size_t r = 0; r < k->n_runs; r++)
        if (group == GROUP_ALL || (group == GROUP_AFTER) == (k->runs[r].after != 0))
            n += k->runs[r].count;
    if (n == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': the scan has no %s%s", s->path, kind_names[kind],
                            group == GROUP_BEFORE ? " before the projections"
                            : group == GROUP_AFTER ? " after the projections"
                                                   : "");
    size_t plane = (re - rb) * s->info.n_cols;
    size_t batch = n < TL_SCAN_MEAN_BATCH ? n : TL_SCAN_MEAN_BATCH;
    if (plane > SIZE_MAX / sizeof(double) / (batch + 1))
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': %zu %s of %zu pixels do not fit in memory", s->path, batch,
                            kind_names[kind], plane);
    float *frames = malloc(batch * plane * sizeof *frames);
    double *sum = calloc(plane, sizeof *sum);
    if (!frames || !sum) {
        free(frames);
        free(sum);
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for %zu %s of %zu pixels (rows %zu-%zu)", s->path,
                            batch, kind_names[kind], plane, rb, re - 1);
    }
    for (size_t r = 0; r < k->n_runs && st == TL_OK; r++) {
        const tl_frame_run *run = &k->runs[r];
        if (!(group == GROUP_ALL || (group == GROUP_AFTER) == (run->after != 0)))
            continue;
        for (size_t f = 0; f < run->count && st == TL_OK; f += batch) {
            tl_frame_run part = *run;
            part.start = run->start + f;
            part.count = run->count - f < batch ? run->count - f : batch;
            st = read_runs(s, kind, &part, 1, rb, re, frames, err);
            /* Double precision: thousands of 16-bit frames sum exactly. */
            for (size_t i = 0; st == TL_OK && i < part.count; i++) {
                const float *src = frames + i * plane;
                for (size_t p = 0; p < plane; p++)
                    sum[p] += src[p];
            }
        }
    }
    if (st == TL_OK)
        for (size_t p = 0; p < plane; p++)
            out[p] = (float)(sum[p] / (double)n);
    free(frames);
    free(sum);
    return st;
}

tl_status tl_scan_read_flat_mean(tl_scan *scan, size_t row_begin, size_t row_end, float *out, tl_error *err)
{
    return read_mean(scan, TL_KEY_FLAT, GROUP_ALL, row_begin, row_end, out, err);
}

tl_status tl_scan_read_dark_mean(tl_scan *scan, size_t row_begin, size_t row_end, float *out, tl_error *err)
{
    return read_mean(scan, TL_KEY_DARK, GROUP_ALL, row_begin, row_end, out, err);
}

tl_status tl_scan_read_flat_pair(tl_scan *scan, size_t row_begin, size_t row_end, float *before, float *after,
                                 tl_error *err)
{
    if (!scan)
        return tl_error_set(err, TL_ERR_INVALID, "tl_scan_read_flat_pair: no scan");
    if (!before || !after)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no output buffer given", scan->path);
    if (!scan->after_weight) {
        tl_status st = read_mean(scan, TL_KEY_FLAT, GROUP_ALL, row_begin, row_end, before, err);
        if (st == TL_OK)
            memcpy(after, before, (row_end - row_begin) * scan->info.n_cols * sizeof *after);
        return st;
    }
    tl_status st = read_mean(scan, TL_KEY_FLAT, GROUP_BEFORE, row_begin, row_end, before, err);
    if (st == TL_OK)
        st = read_mean(scan, TL_KEY_FLAT, GROUP_AFTER, row_begin, row_end, after, err);
    return st;
}

void tl_scan_acquisition_order(const tl_scan_info *info, tl_frame_group order[4])
{
    order[0] = (tl_frame_group){TL_KEY_DARK, 0, info->n_dark};
    order[1] = (tl_frame_group){TL_KEY_FLAT, 0, info->n_flat_before};
    order[2] = (tl_frame_group){TL_KEY_PROJECTION, 0, info->n_proj};
    order[3] = (tl_frame_group){TL_KEY_FLAT, info->n_flat_before, info->n_flat - info->n_flat_before};
}
