/* scan_read.h - internals shared by the scan readers: scan.c (open, checks,
 * reads) and the layouts nxtomo_read.c, dxchange_read.c, named_read.c (named
 * datasets, projections files, separate flat/dark files) and the TIFF directory
 * in scan.c. Not for use outside io/.
 *
 * Model: a scan is a set of frame stacks (an HDF5 dataset [n, rows, cols] or a
 * list of TIFF frames) and, per kind of frame (projection, flat, dark), a list of
 * runs: consecutive frames of one stack. A run also carries the acquisition
 * position of its first frame (the frame index in an NXtomo dataset; the order
 * pre-flats, projections, post-flats in Data Exchange; NAN when unknown), which
 * is what the flat interpolation is linear in.
 */
#ifndef TL_SCAN_READ_H
#define TL_SCAN_READ_H

#include <hdf5.h>
#include <stddef.h>

#include "scan.h"
#include "status.h"
#include "tiff_read.h"

#define TL_SCAN_PATH_MAX 1024

typedef struct tl_frame_stack {
    hid_t dset;          /* HDF5 dataset (owned), or H5I_INVALID_HID */
    tl_tiff_stack *tiff; /* or TIFF frames (owned) */
    char *file;          /* the file holding it, for messages */
    char *name;          /* dataset path, for messages */
    size_t n, rows, cols;
    char pixel_type[32];
} tl_frame_stack;

typedef struct tl_frame_run {
    size_t stack;        /* index into tl_scan.stacks */
    size_t start, count; /* frames [start, start + count) of the stack */
    double pos;          /* acquisition position of frame `start`; NAN: unknown */
    int after;           /* flats: taken after the last projection */
} tl_frame_run;

typedef struct tl_frame_kind {
    tl_frame_run *runs;
    size_t n_runs, cap;
    size_t n; /* frames */
} tl_frame_kind;

typedef struct tl_h5_other_file {
    char *path;
    hid_t id;
} tl_h5_other_file;

struct tl_scan {
    tl_scan_info info;
    const tl_scan_options *opt; /* during open only (never NULL there) */
    char *path;
    char *dir;                  /* directory of the input, for FILE:/path */
    hid_t file;                 /* the input, when HDF5 */
    tl_h5_other_file *others;   /* other HDF5 files opened for FILE:/path and flat/dark files */
    size_t n_others;
    tl_frame_stack *stacks;
    size_t n_stacks;
    tl_frame_kind kinds[3];     /* by tl_image_key 0..2 */
    size_t main_stack;          /* the stack of the projections */
    size_t *proj_frame;         /* [n_proj] frame of projection i within the main stack */
    double *angles;             /* [n_proj] */
    double *after_weight;       /* [n_proj] or NULL */
    /* strings the info points to */
    char entry[TL_SCAN_PATH_MAX];
    char data_desc[TL_SCAN_PATH_MAX];
    char key_desc[TL_SCAN_PATH_MAX];
    char angles_desc[TL_SCAN_PATH_MAX];
    char flat_desc[TL_SCAN_PATH_MAX];
    char dark_desc[TL_SCAN_PATH_MAX];
    char sample_name[256];
    /* why a kind may be missing, for the message when it is (set by the layout) */
    char missing_hint[3][TL_SCAN_PATH_MAX];
};

/* ---- helpers (scan.c) ---- */

/* Add a stack for an open HDF5 dataset (ownership of dset passes to the scan,
 * also on error): checks rank 3, pixel type and non-empty frames. */
tl_status tl_scan_add_h5_stack(tl_scan *s, hid_t dset, const char *file, const char *dpath, size_t *index,
                               tl_error *err) TL_MUST_CHECK;
/* Add a stack of TIFF frames (ownership passes, also on error). */
tl_status tl_scan_add_tiff_stack(tl_scan *s, tl_tiff_stack *tiff, const char *name, size_t *index,
                                 tl_error *err) TL_MUST_CHECK;
/* Append a run of `count` frames of `kind` (empty runs are ignored). */
tl_status tl_scan_add_run(tl_scan *s, int kind, size_t stack, size_t start, size_t count, double pos,
                          tl_error *err) TL_MUST_CHECK;
/* Drop every run of a kind (when another file replaces them). */
void tl_scan_clear_kind(tl_scan *s, int kind);

/* Runs from image keys keys[0..n) (values checked: 0..3) over `stack`, positions
 * = frame index. `what` names the key dataset in messages. */
tl_status tl_scan_runs_from_keys(tl_scan *s, size_t stack, const double *keys, size_t n, const char *what,
                                 tl_error *err) TL_MUST_CHECK;

/* Resolve "/path" (in the input) or "FILE:/path" for `option` ("--data-path"):
 * *file is the HDF5 file (owned by the scan), dpath the dataset path, file_name
 * the file's path, display the text for info ("/path" or "FILE:/path"). */
tl_status tl_scan_resolve(tl_scan *s, const char *spec, const char *option, hid_t *file, char *file_name,
                          size_t file_name_size, char *dpath, size_t dpath_size, tl_error *err) TL_MUST_CHECK;
/* An HDF5 file other than the input, opened once per scan (owned by the scan). */
tl_status tl_scan_open_other(tl_scan *s, const char *path, hid_t *file, tl_error *err) TL_MUST_CHECK;
/* `rel` relative to the input's directory unless absolute (into out). */
void tl_scan_relative_to_input(const tl_scan *s, const char *rel, char *out, size_t size);

/* Open a dataset that must exist; the message names the file and, for a link
 * that cannot be followed, the link and its target. `context` (may be NULL) is
 * put before "cannot open". */
tl_status tl_scan_open_dataset(hid_t file, const char *file_name, const char *dpath, const char *context,
                               hid_t *out, tl_error *err) TL_MUST_CHECK;

/* Read a numeric dataset of any shape as doubles (caller frees); *units gets its
 * "units" attribute ("" when absent). */
tl_status tl_scan_read_doubles(hid_t file, const char *file_name, const char *dpath, double **values, size_t *n,
                               char *units, size_t units_size, tl_error *err) TL_MUST_CHECK;
/* Convert in place when units say radians. */
void tl_scan_to_degrees(double *v, size_t n, const char *units);

/* Set the projection angles from values[0..n) (one per frame of the main stack
 * or one per projection; caller keeps values). source names them in messages. */
tl_status tl_scan_take_angles(tl_scan *s, const double *values, size_t n, const char *source,
                              tl_error *err) TL_MUST_CHECK;

/* Reads the tomoline_content attribute of the frames' dataset into info.normalized. */
tl_status tl_scan_read_content(tl_scan *s, hid_t dset, const char *file, const char *dpath,
                               tl_error *err) TL_MUST_CHECK;

/* 1 when frames of `kind` must be found in the input: not normalized and not
 * given by a separate file. */
int tl_scan_needs_kind(const tl_scan *s, int kind);

/* Sample name from a string dataset, if present. */
void tl_scan_read_sample_name(tl_scan *s, hid_t file, const char *dpath);

/* ---- layouts ---- */
/* The NXentry (or a group one level inside one) whose definition is NXtomo:
 * 1 found (path in out), 0 none, -1 the root group cannot be read. */
int tl_scan_find_nxtomo_entry(hid_t file, char *out, size_t size); /* nxtomo_read.c */
tl_status tl_scan_open_nxtomo(tl_scan *s, tl_error *err) TL_MUST_CHECK;   /* nxtomo_read.c */
tl_status tl_scan_open_dxchange(tl_scan *s, tl_error *err) TL_MUST_CHECK; /* dxchange_read.c */
tl_status tl_scan_open_named(tl_scan *s, tl_error *err) TL_MUST_CHECK;    /* named_read.c */
/* A projections-only file; 0 in *found when no dataset qualifies (no error). */
tl_status tl_scan_open_frames(tl_scan *s, int *found, tl_error *err) TL_MUST_CHECK; /* named_read.c */
/* Flats or darks from opt->flat_file / opt->dark_file. */
tl_status tl_scan_open_kind_file(tl_scan *s, int kind, const char *spec, const char *option,
                                 tl_error *err) TL_MUST_CHECK; /* named_read.c */

/* Nonzero when the options give a string. */
static inline int tl_scan_given(const char *s)
{
    return s && s[0];
}

#endif
