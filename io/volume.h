/* volume.h - write (and read back) a reconstructed volume: NeXus/HDF5 or TIFF.
 *
 * NeXus layout (../shared/DESIGN.md), the default (format TL_VOLUME_NEXUS):
 *   /entry                     NXentry, @default = "data"
 *   /entry/data                NXdata, @signal = "data", @axes = ["z", "y", "x"]
 *   /entry/data/data           float32 or float16 [nz, ny, nx], chunked one slice per chunk,
 *                              optionally compressed (gzip; lz4 and zstd through the HDF5
 *                              filter plugins 32004 and 32001 = blosc, which h5py reads
 *                              with hdf5plugin)
 *   /entry/data/x, y, z        axis coordinates in pixels (x, y centred: c - (n-1)/2;
 *                              z: detector row index)
 *   /entry/process             NXprocess: program, version, git_revision, date (ISO 8601),
 *                              host, backend, input_file, input_file_sha256,
 *                              rotation_axis (+ @method), stage_times/ (seconds),
 *                              preprocessing (when any), parallel (+ @ranks; MPI runs only),
 *                              parameters/ (NXcollection: one string dataset per
 *                              parameter), config (the INI text)
 *   /entry/sample, /entry/instrument   copied from the input (tl_volume_writer_copy_metadata)
 * float16 is the IEEE half type (sign 15, exponent 10..14 bias 15, mantissa 0..9,
 * little endian), which h5py maps to numpy float16 and silx shows as it is.
 *
 * TIFF layout (format TL_VOLUME_TIFF): PATH is a directory of 32-bit float slices
 * slice_00000.tif ... (see tiff_write.h), with provenance.txt (the /entry/process
 * fields as INI-like text) and config.ini. float16 is written as float32 there
 * (a warning says so: ImageJ and most TIFF readers have no half floats), and
 * compression does not apply (slices stay uncompressed so every reader opens them).
 *
 * Either way the output is written as PATH.partial and renamed when complete, so a
 * crash never leaves an output that looks whole; an existing PATH is kept unless
 * overwrite is set.
 */
#ifndef TL_VOLUME_H
#define TL_VOLUME_H

#include <stddef.h>

#include "status.h"

typedef enum { TL_VOLUME_NEXUS = 0, TL_VOLUME_TIFF = 1 } tl_volume_format;

typedef enum {
    TL_COMPRESSION_NONE = 0,
    TL_COMPRESSION_GZIP = 1, /* HDF5 deflate, levels 1..9 */
    TL_COMPRESSION_LZ4 = 2,  /* filter plugin 32004 (no levels) */
    TL_COMPRESSION_ZSTD = 3  /* blosc filter plugin 32001 with zstd and byte shuffle, levels 1..22 */
} tl_compression;

/* HDF5 filter ids registered with The HDF Group. */
#define TL_H5_FILTER_BLOSC 32001
#define TL_H5_FILTER_LZ4 32004

typedef struct tl_volume_desc {
    size_t nz, ny, nx;
    size_t z_first;  /* detector row of slice 0 (for the z axis) */
    int float16;     /* store as IEEE half precision (NeXus only) */
    int format;      /* tl_volume_format; 0 = NeXus */
    int compression; /* tl_compression; 0 = none (NeXus only) */
    int compression_level; /* 0: the method's default (gzip 4, zstd 3) */
} tl_volume_desc;

/* "none" | "gzip" | "lz4" | "zstd" -> tl_compression. */
tl_status tl_volume_compression_parse(const char *name, int *out, tl_error *err) TL_MUST_CHECK;
/* "h5" | "tiff" (the --save-format values) -> tl_volume_format. */
tl_status tl_volume_format_parse(const char *name, int *out, tl_error *err) TL_MUST_CHECK;
const char *tl_volume_compression_name(int compression);

typedef struct tl_provenance {
    const char *program;      /* "tomoline" */
    const char *version;
    const char *git_revision;
    const char *date;         /* ISO 8601 */
    const char *host;
    const char *backend;      /* "cpu" */
    const char *input_file;   /* may be NULL */
    const char *input_sha256; /* 64 hex digits (tl_sha256_file), or NULL */
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
    const char *stream_json;  /* streamed scans: the service's report (JSON) for /entry/process/stream, or NULL */
    const char *preprocessing; /* what was done to the projections before -log (dezinger, binning, beam
                                * monitor, phase retrieval): /entry/process/preprocessing, or NULL */
    int mpi_ranks;            /* > 0: written by this many MPI ranks: /entry/process/parallel (@ranks) */
    const char *parallel;     /* with mpi_ranks: how (library, rows of each rank), or NULL */
} tl_provenance;

typedef struct tl_volume_writer tl_volume_writer;

/* Checks the description first (sizes, compression level, the filter plugin being
 * installed), so a bad request creates nothing. */
tl_status tl_volume_writer_create(const char *path, const tl_volume_desc *desc, int overwrite,
                                  tl_volume_writer **out, tl_error *err) TL_MUST_CHECK;
/* Slices [z_begin, z_begin + nz) from data[nz][ny][nx]. */
tl_status tl_volume_writer_write(tl_volume_writer *w, size_t z_begin, size_t nz, const float *data,
                                 tl_error *err) TL_MUST_CHECK;
/* Write /entry/process (TIFF: provenance.txt and config.ini). Call once, before
 * commit. */
tl_status tl_volume_writer_set_provenance(tl_volume_writer *w, const tl_provenance *prov,
                                          tl_error *err) TL_MUST_CHECK;
/* Copy ENTRY/sample and ENTRY/instrument of the input file into /entry/sample and
 * /entry/instrument, recursively with their attributes, but not the frames:
 * datasets over 1 MiB, virtual datasets and datasets with external raw data,
 * external and soft links are left out, and their paths (relative to the copied
 * group, with the reason) listed in the string-array attribute @tomoline_skipped
 * of that group. input_entry_path NULL: the NXentry whose definition is NXtomo,
 * else /entry, else /measurement (Data Exchange). A missing group copies nothing
 * and is no error. Call at most once, before commit. TIFF volumes: does nothing. */
tl_status tl_volume_writer_copy_metadata(tl_volume_writer *w, const char *input_file, const char *input_entry_path,
                                         tl_error *err) TL_MUST_CHECK;
/* Close and rename PATH.partial to PATH; frees *w, sets it to NULL. On error the
 * partial file is removed. */
tl_status tl_volume_writer_commit(tl_volume_writer **w, tl_error *err) TL_MUST_CHECK;
/* Close and remove PATH.partial; accepts NULL. */
void tl_volume_writer_abort(tl_volume_writer **w);

/* One file written by every MPI rank (mpi_ranks.h; parallel HDF5, NeXus only). Every
 * rank calls these, in the same order:
 *   tl_volume_writer_create_shared: rank 0 checks the request and creates
 *     PATH.partial with its layout as tl_volume_writer_create does; then all ranks
 *     open it through MPI-IO. Errors are agreed: every rank returns the same.
 *   tl_volume_writer_write: collective; every rank calls it the same number of
 *     times, with nz = 0 when it has no slices left; slices of different ranks
 *     never overlap.
 *   tl_volume_writer_end_shared: closes the parallel file on every rank; rank 0
 *     keeps a serial writer (provenance, metadata, commit as usual; the commit
 *     checks that the ranks together wrote every slice), the others get NULL.
 * Without MPI, or with one rank, they are tl_volume_writer_create and nothing. */
tl_status tl_volume_writer_create_shared(const char *path, const tl_volume_desc *desc, int overwrite,
                                         tl_volume_writer **out, tl_error *err) TL_MUST_CHECK;
tl_status tl_volume_writer_end_shared(tl_volume_writer **w, tl_error *err) TL_MUST_CHECK;

/* Read /entry/data/data (any float type, through any installed filter plugin) of a
 * volume file, or every slice of a TIFF volume directory, into a new float array
 * [nz][ny][nx]; caller frees *data with free(). */
tl_status tl_volume_read(const char *path, float **data, size_t *nz, size_t *ny, size_t *nx,
                         tl_error *err) TL_MUST_CHECK;

/* Shape of a volume file or TIFF volume directory, reading no voxels. */
tl_status tl_volume_probe(const char *path, size_t *nz, size_t *ny, size_t *nx, tl_error *err) TL_MUST_CHECK;

/* One slice, reading only what it needs (an HDF5 hyperslab; for TIFF one file for
 * z, one row of every file for y): axis 'z' -> [ny][nx] at z = index, 'y' ->
 * [nz][nx] at y = index, 'x' -> [nz][ny] at x = index. Integer datasets (raw
 * frames) are converted too. Caller frees *data. */
tl_status tl_volume_read_slice(const char *path, char axis, size_t index, float **data, size_t *rows, size_t *cols,
                               tl_error *err) TL_MUST_CHECK;

/* A 1-D float64 dataset /entry/data/NAME [n] beside the volume, with @units
 * (NULL: none), e.g. the trial rotation axis of each slice in try mode. With
 * along_z set, n must be nz and NAME becomes the coordinate along the first
 * axis in place of the detector rows: @axes of /entry/data names NAME instead
 * of "z", @NAME_indices = 0, and /entry/data/z (and @z_indices) are removed.
 * NAME may not be data, x, y or z. Call before commit. A TIFF volume has no
 * place for it: TL_ERR_UNSUPPORTED, the writer unchanged. */
tl_status tl_volume_writer_add_dataset_1d(tl_volume_writer *w, const char *name, const double *values, size_t n,
                                          const char *units, int along_z, tl_error *err) TL_MUST_CHECK;

#endif
