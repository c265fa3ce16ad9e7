/* volume.h - write (and read back) a reconstructed volume as NeXus/HDF5.
 *
 * Layout (../shared/DESIGN.md):
 *   /entry                     NXentry, @default = "data"
 *   /entry/data                NXdata, @signal = "data", @axes = ["z", "y", "x"]
 *   /entry/data/data           float32 or float16 [nz, ny, nx], chunked one slice per chunk
 *   /entry/data/x, y, z        axis coordinates in pixels (x, y centred: c - (n-1)/2;
 *                              z: detector row index)
 *   /entry/process             NXprocess: program, version, git_revision, date (ISO 8601),
 *                              host, backend, input_file, rotation_axis (+ @method),
 *                              stage_times/ (seconds), parameters/ (NXcollection: one
 *                              string dataset per parameter, and `config`: the INI text)
 * The file is written as PATH.partial and renamed when complete, so a crash never
 * leaves a file that looks whole; an existing PATH is kept unless overwrite is set.
 */
#ifndef TL_VOLUME_H
#define TL_VOLUME_H

#include <stddef.h>

#include "status.h"

typedef struct tl_volume_desc {
    size_t nz, ny, nx;
    size_t z_first;  /* detector row of slice 0 (for the z axis) */
    int float16;     /* store as IEEE half precision */
} tl_volume_desc;

typedef struct tl_provenance {
    const char *program;      /* "tomoline" */
    const char *version;
    const char *git_revision;
    const char *date;         /* ISO 8601 */
    const char *host;
    const char *backend;      /* "cpu" */
    const char *input_file;   /* may be NULL */
    double rotation_axis;     /* NAN when not applicable */
    const char *rotation_axis_method; /* "given", "center", ... */
    size_t n_params;
    const char *const *param_names;    /* flag names, [n_params] */
    const char *const *param_sections; /* [n_params] */
    const char *const *param_values;   /* [n_params] */
    const char *config_ini;   /* the effective configuration as INI text, may be NULL */
    size_t n_stages;
    const char *const *stage_names;    /* [n_stages] */
    const double *stage_seconds;       /* [n_stages] */
} tl_provenance;

typedef struct tl_volume_writer tl_volume_writer;

tl_status tl_volume_writer_create(const char *path, const tl_volume_desc *desc, int overwrite,
                                  tl_volume_writer **out, tl_error *err) TL_MUST_CHECK;
/* Slices [z_begin, z_begin + nz) from data[nz][ny][nx]. */
tl_status tl_volume_writer_write(tl_volume_writer *w, size_t z_begin, size_t nz, const float *data,
                                 tl_error *err) TL_MUST_CHECK;
/* Write /entry/process. Call once, before commit. */
tl_status tl_volume_writer_set_provenance(tl_volume_writer *w, const tl_provenance *prov,
                                          tl_error *err) TL_MUST_CHECK;
/* Close and rename PATH.partial to PATH; frees *w, sets it to NULL. On error the
 * partial file is removed. */
tl_status tl_volume_writer_commit(tl_volume_writer **w, tl_error *err) TL_MUST_CHECK;
/* Close and remove PATH.partial; accepts NULL. */
void tl_volume_writer_abort(tl_volume_writer **w);

/* Read /entry/data/data (any float type) of a volume file into a new float array
 * [nz][ny][nx]; caller frees *data with free(). */
tl_status tl_volume_read(const char *path, float **data, size_t *nz, size_t *ny, size_t *nx,
                         tl_error *err) TL_MUST_CHECK;

#endif
