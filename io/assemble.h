/* assemble.h - one volume file over the slab files of a routed scan (issue 9).
 *
 * `tomoline route` sends each worker a contiguous range of detector rows; each
 * worker writes its rows as a slab file (an ordinary tomoline volume whose
 * /entry/data/z holds its detector rows). This module writes the scan's volume
 * file without copying a voxel: /entry/data/data is an HDF5 virtual dataset
 * (H5Pset_virtual, HDF5 >= 1.10; The HDF Group, "Virtual Dataset (VDS)" RFC,
 * 2014) that maps each slab's /entry/data/data onto its rows. Source files are
 * named by their path relative to the volume file's directory, which HDF5
 * resolves from that directory when the file is read, so the volume and its
 * slabs can be moved or copied together. Voxels of a slab file that cannot be
 * found when reading are NaN (the dataset's fill value), never zeros that look
 * like data.
 *
 * Layout (the same /entry as tomoline's other volumes, io/volume.h):
 *   /entry                  NXentry, @default = "data"; /entry/sample and
 *                           /entry/instrument copied from the first slab if it has them
 *   /entry/data             NXdata, @signal, @axes = [z, y, x], @*_indices
 *   /entry/data/data        virtual [sum of slab rows, ny, nx], the slabs' type
 *   /entry/data/x, y        copied from the first slab; z: the detector rows
 *   /entry/process          the first slab's NXprocess (every parameter of the
 *                           reconstruction, version, axis), plus
 *   /entry/process/route    NXcollection: routing (JSON: router, workers, row
 *                           ranges, slab files, axes), row_begin, row_end and
 *                           rotation_axis per slab, @slab_files (relative paths),
 *                           @workers (endpoints), @hosts
 * Written as PATH.partial and renamed when complete.
 */
#ifndef TL_ASSEMBLE_H
#define TL_ASSEMBLE_H

#include <stddef.h>

#include "status.h"

typedef struct tl_assemble_slab {
    const char *path;          /* the slab file (absolute, or relative to the working directory) */
    size_t z_begin, z_end;     /* its detector rows: its /entry/data/z must start at z_begin */
    const char *worker;        /* the worker that wrote it (endpoint), for the provenance */
    const char *host;          /* the worker's host name, may be NULL */
    double axis;               /* rotation axis the worker used (NAN: unknown) */
} tl_assemble_slab;

typedef struct tl_assemble_desc {
    const tl_assemble_slab *slabs; /* in z order, contiguous: slabs[i].z_begin == slabs[i - 1].z_end */
    size_t n_slabs;
    const char *routing_json;  /* /entry/process/route/routing (NULL: none) */
    int overwrite;             /* replace an existing PATH */
} tl_assemble_desc;

typedef struct tl_assemble_result {
    size_t nz, ny, nx;
    char dtype[16];            /* "float32", "float16" */
    /* /entry/process/parameters of the first slab (the reconstruction's), for the catalog */
    size_t n_params;
    char **param_names, **param_values;
} tl_assemble_result;

/* Check every slab (readable, /entry/data/data 3-D with z_end - z_begin slices
 * of one shape and one type, z coordinates as declared, rows contiguous) and
 * write PATH as above. Nothing is left at PATH (nor PATH.partial) on failure;
 * errors name the slab file and what is wrong with it. Caller frees *result
 * with tl_assemble_result_free (also after a failure). */
tl_status tl_assemble_volume(const char *path, const tl_assemble_desc *desc, tl_assemble_result *result,
                             tl_error *err) TL_MUST_CHECK;
void tl_assemble_result_free(tl_assemble_result *result);

/* The path of `target` relative to directory `from_dir` (both absolute,
 * normalised: no "." or ".." parts, no repeated '/'), e.g. "../slabs/a.nxs".
 * Returns 0, or -1 when it does not fit in size. */
int tl_assemble_relative_path(const char *from_dir, const char *target, char *out, size_t size);

#endif
