/* hdf5_util.h - small helpers shared by the HDF5 readers and writers in io/.
 *
 * Owns nothing: every function works on handles its caller owns. The helpers
 * exist so that the readers and writers agree on three things:
 *   - HDF5's automatic error printing is off (tl_h5_quiet) and failures become
 *     tl_error messages, with HDF5's own innermost reason appended where useful
 *     (tl_h5_reason);
 *   - strings are written one way everywhere: variable-length UTF-8 (what h5py
 *     writes for str, and what NeXus viewers read as text);
 *   - strings are read either way (fixed or variable length, scalar or a
 *     one-element array), because facility files use both.
 *
 * Not for use outside io/.
 */
#ifndef TL_HDF5_UTIL_H
#define TL_HDF5_UTIL_H

#include <hdf5.h>
#include <stddef.h>

#include "status.h"

/* Turn off HDF5's automatic error printing for the calling thread. The library
 * is built thread-safe, where error stacks (and their printing) are per thread,
 * so every public io/ entry point calls this; it does the work once per thread. */
void tl_h5_quiet(void);

/* The innermost message on the calling thread's HDF5 error stack ("truncated
 * file: eof = ..."), or "" when there is none. Call it right after the failing
 * HDF5 call: any later HDF5 call clears the stack. */
void tl_h5_reason(char *buf, size_t size);

/* 1 when every link along `path` (absolute or relative to loc) exists, 0 when
 * one is missing, -1 when HDF5 cannot tell (a damaged file). The target is not
 * resolved, so a dangling external link counts as present. */
int tl_h5_link_exists(hid_t loc, const char *path);

/* 1 when `path` exists and resolves to an object of the given type. */
int tl_h5_is_type(hid_t loc, const char *path, H5O_type_t type);

/* Read a string attribute `name` of object `obj` (or, for the dataset variant,
 * the string dataset `path` under loc) into buf, NUL-terminated, trailing
 * spaces and NULs removed. Fixed- or variable-length, scalar or one element.
 * Returns 0 on success, -1 when absent or not a string. */
int tl_h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t size);
int tl_h5_read_string_dataset(hid_t loc, const char *path, char *buf, size_t size);

/* Writers: variable-length UTF-8 strings. `what` names the file for messages.
 * A NULL value is written as "". */
tl_status tl_h5_write_string_attr(hid_t obj, const char *name, const char *value, const char *what,
                                  const char *obj_path, tl_error *err) TL_MUST_CHECK;
tl_status tl_h5_write_string_array_attr(hid_t obj, const char *name, const char *const *values,
                                        size_t n, const char *what, const char *obj_path,
                                        tl_error *err) TL_MUST_CHECK;
tl_status tl_h5_write_string_dataset(hid_t loc, const char *name, const char *value,
                                     const char *what, const char *loc_path,
                                     tl_error *err) TL_MUST_CHECK;
tl_status tl_h5_write_double_dataset(hid_t loc, const char *name, const double *values, size_t n,
                                     const char *what, const char *loc_path,
                                     tl_error *err) TL_MUST_CHECK;
/* A scalar float64 dataset. */
tl_status tl_h5_write_double_scalar(hid_t loc, const char *name, double value, const char *what,
                                    const char *loc_path, tl_error *err) TL_MUST_CHECK;
tl_status tl_h5_write_double_attr(hid_t obj, const char *name, double value, const char *what,
                                  const char *obj_path, tl_error *err) TL_MUST_CHECK;
tl_status tl_h5_write_int_attr(hid_t obj, const char *name, int value, const char *what,
                               const char *obj_path, tl_error *err) TL_MUST_CHECK;

/* Create group `name` under loc with attribute NX_class = nx_class (NULL: none).
 * Returns the open group, or H5I_INVALID_HID with err filled. */
hid_t tl_h5_create_group(hid_t loc, const char *name, const char *nx_class, const char *what,
                         const char *full_path, tl_error *err);

/* Output files are written as PATH.partial and renamed on commit. These helpers
 * hold the rules both writers share.
 * tl_h5_output_begin: refuses an existing PATH unless overwrite (TL_ERR_EXISTS,
 * touching nothing), makes "PATH.partial" in *partial (caller frees), replaces a
 * partial left from a crash, and creates it as an HDF5 file: *file. */
tl_status tl_h5_output_begin(const char *path, int overwrite, char **partial, hid_t *file,
                             tl_error *err) TL_MUST_CHECK;
/* Close file (which must hold no other open handles) and rename partial to path;
 * on any failure the partial file is removed. */
tl_status tl_h5_output_commit(hid_t file, const char *partial, const char *path,
                              tl_error *err) TL_MUST_CHECK;
/* Close file (if valid) and remove partial. */
void tl_h5_output_abort(hid_t file, const char *partial);

/* Check that `path` names a readable HDF5 file and open it read-only.
 * Errors: missing or unreadable file (strerror), a directory, not HDF5, truncated
 * or damaged (with HDF5's reason). */
tl_status tl_h5_open_read(const char *path, hid_t *file, tl_error *err) TL_MUST_CHECK;

/* Describe why dataset `dset_path` of `file` could not be opened: for an
 * external link, names the target file and object, where HDF5 looked for a
 * relative target (the linking file's directory) and whether that file exists.
 * Writes into buf. */
void tl_h5_describe_open_failure(hid_t file, const char *dset_path, char *buf, size_t size);

/* Human name of a dataset's element type ("uint16", "float32", "int64",
 * "string", ...) into buf. */
void tl_h5_type_name(hid_t type, char *buf, size_t size);

#endif
