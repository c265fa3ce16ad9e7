/* hdf5_util.c - shared HDF5 helpers for io/: quiet errors, strings, output files.
 *
 * See hdf5_util.h. Everything here reports failures through tl_error and never
 * lets HDF5 print to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include "hdf5_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tl_h5_quiet(void)
{
    /* Thread-safe HDF5 keeps one error stack, with its own print setting, per
     * thread: silencing once per process would leave worker threads noisy. */
    static _Thread_local int done;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

typedef struct reason_ctx {
    char *buf;
    size_t size;
} reason_ctx;

static herr_t reason_walk(unsigned n, const H5E_error2_t *e, void *data)
{
    reason_ctx *ctx = data;
    (void)n;
    /* Walking upward starts at the most specific error: keep the first one that
     * says something. */
    if (ctx->buf[0] == '\0' && e->desc && e->desc[0])
        snprintf(ctx->buf, ctx->size, "%s", e->desc);
    return 0;
}

void tl_h5_reason(char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    reason_ctx ctx = {buf, size};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_walk, &ctx);
}

int tl_h5_link_exists(hid_t loc, const char *path)
{
    /* H5Lexists fails (rather than answering 0) when an intermediate group is
     * missing, so check each prefix in turn. */
    char buf[1024];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        htri_t ok = H5Lexists(loc, buf, H5P_DEFAULT);
        buf[i] = saved;
        if (ok < 0)
            return -1;
        if (ok == 0)
            return 0;
    }
    return 1;
}

int tl_h5_is_type(hid_t loc, const char *path, H5O_type_t type)
{
    if (tl_h5_link_exists(loc, path) <= 0)
        return 0;
    H5O_info_t info;
    if (H5Oget_info_by_name(loc, path, &info, H5P_DEFAULT) < 0)
        return 0;
    return info.type == type;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* Read a string from an attribute (is_attr) or dataset `h` into buf. */
static int read_string(hid_t h, int is_attr, char *buf, size_t size)
{
    int rc = -1;
    hid_t type = is_attr ? H5Aget_type(h) : H5Dget_type(h);
    hid_t space = is_attr ? H5Aget_space(h) : H5Dget_space(h);
    hid_t mem = H5I_INVALID_HID;
    if (type < 0 || space < 0 || H5Tget_class(type) != H5T_STRING)
        goto done;
    hssize_t npoints = H5Sget_simple_extent_npoints(space);
    if (npoints != 1)
        goto done;
    htri_t vlen = H5Tis_variable_str(type);
    if (vlen < 0)
        goto done;
    mem = H5Tcopy(H5T_C_S1);
    if (mem < 0)
        goto done;
    if (vlen) {
        char *s = NULL;
        if (H5Tset_size(mem, H5T_VARIABLE) < 0 || H5Tset_cset(mem, H5Tget_cset(type)) < 0)
            goto done;
        herr_t r = is_attr ? H5Aread(h, mem, &s) : H5Dread(h, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s);
        if (r < 0)
            goto done;
        snprintf(buf, size, "%s", s ? s : "");
        H5free_memory(s);
    } else {
        size_t len = H5Tget_size(type);
        char *tmp = calloc(len + 1, 1);
        if (!tmp)
            goto done;
        /* Read with the file's own padding; NUL-terminate ourselves. */
        if (H5Tset_size(mem, len) < 0 || H5Tset_strpad(mem, H5T_STR_NULLPAD) < 0 ||
            H5Tset_cset(mem, H5Tget_cset(type)) < 0) {
            free(tmp);
            goto done;
        }
        herr_t r = is_attr ? H5Aread(h, mem, tmp) : H5Dread(h, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp);
        if (r < 0) {
            free(tmp);
            goto done;
        }
        snprintf(buf, size, "%s", tmp);
        free(tmp);
    }
    trim(buf);
    rc = 0;
done:
    if (mem >= 0)
        H5Tclose(mem);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return rc;
}

int tl_h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t size)
{
    if (size == 0)
        return -1;
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    int rc = read_string(attr, 1, buf, size);
    H5Aclose(attr);
    return rc;
}

int tl_h5_read_string_dataset(hid_t loc, const char *path, char *buf, size_t size)
{
    if (size == 0)
        return -1;
    buf[0] = '\0';
    if (tl_h5_link_exists(loc, path) <= 0)
        return -1;
    hid_t dset = H5Dopen2(loc, path, H5P_DEFAULT);
    if (dset < 0)
        return -1;
    int rc = read_string(dset, 0, buf, size);
    H5Dclose(dset);
    return rc;
}

/* The one string type written by tomoline: variable-length UTF-8. */
static hid_t vlen_utf8(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

static tl_status write_fail(tl_error *err, const char *what, const char *kind, const char *obj_path,
                            const char *name)
{
    char reason[256];
    tl_h5_reason(reason, sizeof reason);
    return tl_error_set(err, TL_ERR_IO, "'%s': cannot write %s %s/%s%s%s%s", what, kind,
                        strcmp(obj_path, "/") ? obj_path : "", name, reason[0] ? " (HDF5: " : "",
                        reason, reason[0] ? ")" : "");
}

/* Write an attribute of the given file type from a memory buffer. */
static tl_status write_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hid_t space,
                            const void *buf, const char *what, const char *obj_path, tl_error *err)
{
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0)
        return write_fail(err, what, "attribute", obj_path, name);
    herr_t r = H5Awrite(attr, mtype, buf);
    if (r < 0) {
        tl_status st = write_fail(err, what, "attribute", obj_path, name);
        H5Aclose(attr);
        return st;
    }
    if (H5Aclose(attr) < 0)
        return write_fail(err, what, "attribute", obj_path, name);
    return TL_OK;
}

tl_status tl_h5_write_string_attr(hid_t obj, const char *name, const char *value, const char *what,
                                  const char *obj_path, tl_error *err)
{
    hid_t type = vlen_utf8();
    hid_t space = H5Screate(H5S_SCALAR);
    tl_status st;
    const char *v = value ? value : "";
    if (type < 0 || space < 0)
        st = write_fail(err, what, "attribute", obj_path, name);
    else
        st = write_attr(obj, name, type, type, space, &v, what, obj_path, err);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return st;
}

tl_status tl_h5_write_string_array_attr(hid_t obj, const char *name, const char *const *values,
                                        size_t n, const char *what, const char *obj_path,
                                        tl_error *err)
{
    hsize_t dims[1] = {n};
    hid_t type = vlen_utf8();
    hid_t space = H5Screate_simple(1, dims, NULL);
    tl_status st;
    if (type < 0 || space < 0)
        st = write_fail(err, what, "attribute", obj_path, name);
    else
        st = write_attr(obj, name, type, type, space, values, what, obj_path, err);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return st;
}

tl_status tl_h5_write_double_attr(hid_t obj, const char *name, double value, const char *what,
                                  const char *obj_path, tl_error *err)
{
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0)
        return write_fail(err, what, "attribute", obj_path, name);
    tl_status st = write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space, &value, what,
                              obj_path, err);
    H5Sclose(space);
    return st;
}

tl_status tl_h5_write_int_attr(hid_t obj, const char *name, int value, const char *what,
                               const char *obj_path, tl_error *err)
{
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0)
        return write_fail(err, what, "attribute", obj_path, name);
    tl_status st = write_attr(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, space, &value, what,
                              obj_path, err);
    H5Sclose(space);
    return st;
}

tl_status tl_h5_write_string_dataset(hid_t loc, const char *name, const char *value,
                                     const char *what, const char *loc_path, tl_error *err)
{
    hid_t type = vlen_utf8();
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t dset = H5I_INVALID_HID;
    tl_status st = TL_OK;
    const char *v = value ? value : "";
    if (type < 0 || space < 0) {
        st = write_fail(err, what, "dataset", loc_path, name);
        goto done;
    }
    dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset < 0 || H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0)
        st = write_fail(err, what, "dataset", loc_path, name);
done:
    if (dset >= 0 && H5Dclose(dset) < 0 && st == TL_OK)
        st = write_fail(err, what, "dataset", loc_path, name);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return st;
}

tl_status tl_h5_write_double_dataset(hid_t loc, const char *name, const double *values, size_t n,
                                     const char *what, const char *loc_path, tl_error *err)
{
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dset = H5I_INVALID_HID;
    tl_status st = TL_OK;
    if (space < 0) {
        st = write_fail(err, what, "dataset", loc_path, name);
        goto done;
    }
    dset = H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset < 0 || (n > 0 && H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                       values) < 0))
        st = write_fail(err, what, "dataset", loc_path, name);
done:
    if (dset >= 0 && H5Dclose(dset) < 0 && st == TL_OK)
        st = write_fail(err, what, "dataset", loc_path, name);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

tl_status tl_h5_write_double_scalar(hid_t loc, const char *name, double value, const char *what,
                                    const char *loc_path, tl_error *err)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t dset = H5I_INVALID_HID;
    tl_status st = TL_OK;
    if (space < 0) {
        st = write_fail(err, what, "dataset", loc_path, name);
        goto done;
    }
    dset = H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset < 0 || H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0)
        st = write_fail(err, what, "dataset", loc_path, name);
done:
    if (dset >= 0 && H5Dclose(dset) < 0 && st == TL_OK)
        st = write_fail(err, what, "dataset", loc_path, name);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

hid_t tl_h5_create_group(hid_t loc, const char *name, const char *nx_class, const char *what,
                         const char *full_path, tl_error *err)
{
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        tl_error_set(err, TL_ERR_IO, "'%s': cannot create group %s%s%s%s", what, full_path,
                     reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
        return H5I_INVALID_HID;
    }
    if (nx_class && tl_h5_write_string_attr(g, "NX_class", nx_class, what, full_path, err) != TL_OK) {
        H5Gclose(g);
        return H5I_INVALID_HID;
    }
    return g;
}

tl_status tl_h5_output_begin(const char *path, int overwrite, char **partial, hid_t *file,
                             tl_error *err)
{
    *partial = NULL;
    *file = H5I_INVALID_HID;
    if (!path || !*path)
        return tl_error_set(err, TL_ERR_INVALID, "no output file name given");
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return tl_error_set(err, TL_ERR_INVALID, "'%s' is a directory, expected an output file name",
                                path);
        if (!overwrite)
            return tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)",
                                path);
    }
    size_t len = strlen(path);
    char *p = malloc(len + sizeof ".partial");
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    memcpy(p, path, len);
    memcpy(p + len, ".partial", sizeof ".partial");
    /* Create (or empty a leftover from a crash) with plain POSIX first: it gives a
     * clear reason (no such directory, permission denied) that HDF5 would not. */
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        tl_status s = tl_error_set(err, TL_ERR_IO, "cannot create '%s': %s", p, strerror(errno));
        free(p);
        return s;
    }
    close(fd);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* STRONG: closing the file closes anything still open in it, so a forgotten
     * handle can never keep the data from reaching the disk before the rename. */
    if (fapl >= 0)
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        tl_status s = tl_error_set(err, TL_ERR_IO, "cannot create HDF5 file '%s'%s%s%s", p,
                                   reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
        unlink(p);
        free(p);
        return s;
    }
    *partial = p;
    *file = f;
    return TL_OK;
}

tl_status tl_h5_output_commit(hid_t file, const char *partial, const char *path, tl_error *err)
{
    if (H5Fclose(file) < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        unlink(partial);
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot finish writing the file%s%s%s", partial,
                            reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    }
    if (rename(partial, path) != 0) {
        int e = errno;
        unlink(partial);
        return tl_error_set(err, TL_ERR_IO, "cannot rename '%s' to '%s': %s", partial, path,
                            strerror(e));
    }
    return TL_OK;
}

void tl_h5_output_abort(hid_t file, const char *partial)
{
    if (file >= 0)
        H5Fclose(file);
    if (partial)
        unlink(partial);
}

tl_status tl_h5_open_read(const char *path, hid_t *file, tl_error *err)
{
    *file = H5I_INVALID_HID;
    if (!path || !*path)
        return tl_error_set(err, TL_ERR_INVALID, "no input file name given");
    struct stat st;
    if (stat(path, &st) != 0)
        return tl_error_set(err, TL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return tl_error_set(err, TL_ERR_FORMAT, "'%s' is a directory, not an HDF5 file", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return tl_error_set(err, TL_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    close(fd);
    htri_t is = H5Fis_hdf5(path);
    if (is == 0)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s' is not an HDF5 file", path);
    if (is < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        return tl_error_set(err, TL_ERR_IO, "cannot check whether '%s' is an HDF5 file%s%s%s", path,
                            reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        return tl_error_set(err, TL_ERR_IO,
                            "'%s': cannot open the HDF5 file, it may be truncated or damaged%s%s%s",
                            path, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    }
    *file = f;
    return TL_OK;
}

void tl_h5_describe_open_failure(hid_t file, const char *dset_path, char *buf, size_t size)
{
    char reason[256];
    tl_h5_reason(reason, sizeof reason); /* before any other call clears the stack */
    H5L_info_t li;
    int have_info = H5Lget_info(file, dset_path, &li, H5P_DEFAULT) >= 0;
    if (have_info && li.type == H5L_TYPE_EXTERNAL && li.u.val_size > 0) {
        char *val = malloc(li.u.val_size);
        const char *target_file = NULL, *target_obj = NULL;
        unsigned flags = 0;
        if (val && H5Lget_val(file, dset_path, val, li.u.val_size, H5P_DEFAULT) >= 0 &&
            H5Lunpack_elink_val(val, li.u.val_size, &flags, &target_file, &target_obj) >= 0) {
            /* HDF5 looks for a relative target in the linking file's directory
             * (then the working directory): say where, and whether it is there. */
            char looked[2048], linking[1024] = "";
            if (target_file[0] == '/') {
                snprintf(looked, sizeof looked, "%s", target_file);
            } else {
                ssize_t len = H5Fget_name(file, linking, sizeof linking);
                char *slash = len > 0 ? strrchr(linking, '/') : NULL;
                if (slash)
                    *slash = '\0';
                snprintf(looked, sizeof looked, "%s%s%s", slash ? linking : "", slash ? "/" : "", target_file);
            }
            struct stat sb;
            if (stat(looked, &sb) != 0)
                snprintf(buf, size, "it is an external link to %s%s in '%s', and '%s' does not exist",
                         target_obj[0] == '/' ? "" : "/", target_obj, target_file, looked);
            else
                snprintf(buf, size,
                         "it is an external link to %s%s in '%s', which cannot be opened "
                         "(no such dataset in '%s', or the file is unreadable or damaged)",
                         target_obj[0] == '/' ? "" : "/", target_obj, target_file, looked);
            free(val);
            return;
        }
        free(val);
    }
    if (have_info && li.type == H5L_TYPE_SOFT)
        snprintf(buf, size, "it is a soft link whose target cannot be opened%s%s%s",
                 reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    else
        snprintf(buf, size, "the file may be truncated or damaged%s%s%s", reason[0] ? " (HDF5: " : "",
                 reason, reason[0] ? ")" : "");
}

void tl_h5_type_name(hid_t type, char *buf, size_t size)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t bytes = H5Tget_size(type);
    switch (cls) {
    case H5T_INTEGER: {
        H5T_sign_t sign = H5Tget_sign(type);
        snprintf(buf, size, "%sint%zu", sign == H5T_SGN_NONE ? "u" : "", bytes * 8);
        return;
    }
    case H5T_FLOAT:
        snprintf(buf, size, "float%zu", bytes * 8);
        return;
    case H5T_STRING:
        snprintf(buf, size, "string");
        return;
    case H5T_COMPOUND:
        snprintf(buf, size, "compound");
        return;
    case H5T_ENUM:
        snprintf(buf, size, "enum");
        return;
    default:
        snprintf(buf, size, "an unsupported type (class %d, %zu bytes)", (int)cls, bytes);
        return;
    }
}
