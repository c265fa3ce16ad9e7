/* volume.c - write a reconstructed volume as NeXus/HDF5 (or TIFF), and read one back.
 *
 * Owns the tl_volume_writer: the PATH.partial file, the volume dataset, the
 * float16 file type, a one-slice conversion buffer (float16 only, allocated at
 * create) and a record of which slices were written; for TIFF output, the
 * tl_tiff_volume (tiff_write.h) that writes the slice directory instead.
 *
 * Layout: see volume.h. Choices made here:
 *   - strings are variable-length UTF-8 everywhere (hdf5_util.h);
 *   - /entry/data carries @signal, @axes = ["z", "y", "x"] and the NeXus
 *     z_indices/y_indices/x_indices, so viewers (NeXpy, silx, h5web) plot it;
 *   - float16 is an HDF5 float type described field by field (sign bit 15,
 *     exponent bits 10-14 with bias 15, mantissa bits 0-9), which any HDF5
 *     reader converts to float or double. We round float -> half ourselves
 *     (round to nearest, ties to even; overflow to infinity) and hand HDF5 the
 *     bits, which is both exact and much faster than its soft conversion;
 *   - commit refuses a volume with slices never written: a file that looks
 *     whole must be whole, and a lost slab in a threaded pipeline is a bug we
 *     want reported, not saved as zeros;
 *   - provenance parameters: one string dataset per parameter under
 *     /entry/process/parameters, named by the flag without leading dashes, with
 *     @section; the INI text is /entry/process/config (beside parameters, so a
 *     parameter called "config" cannot collide with it);
 *   - compression: byte shuffle then deflate (gzip) or lz4, or blosc's own
 *     shuffle with zstd. gzip and lz4 are mandatory filters. blosc is optional,
 *     as h5py and hdf5plugin set it: the blosc filter fails on a chunk it
 *     cannot shrink (random bits), and an optional filter lets HDF5 store that
 *     chunk as it is, where a mandatory one would fail the whole write when the
 *     chunk is flushed. Whether the plugin is installed is checked before the
 *     file is created, so the user hears it at once and nothing is left behind;
 *   - metadata copy: group by group with their attributes, datasets with
 *     H5Ocopy, never the frames (see tl_volume_writer_copy_metadata).
 */
#define _POSIX_C_SOURCE 200809L
#include "volume.h"

#include <errno.h>
#include <hdf5.h>
#include <stdarg.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hdf5_util.h"
#include "log.h"
#include "mpi_ranks.h"
#include "tiff_write.h"

struct tl_volume_writer {
    char *path;
    char *partial;
    hid_t file;
    hid_t dset;
    hid_t half_type; /* float16 file (and memory) type, or H5I_INVALID_HID */
    tl_volume_desc desc;
    uint16_t *half;           /* [ny * nx], float16 only */
    unsigned char *written;   /* [nz] */
    int have_provenance;
    int have_metadata;
    tl_tiff_volume *tiff;     /* TIFF output; then file and dset are unused */
    int shared;               /* opened by every MPI rank (tl_volume_writer_create_shared) */
    hid_t dxpl;               /* shared: collective transfers */
};

static const char *const data_path = "/entry/data/data";

/* IEEE 754 binary16 as an HDF5 type. The fields are set while the type is still
 * 32 bits wide (they must fit the precision), then precision and size shrink. */
static hid_t make_half_type(void)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0)
        return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_precision(t, 16) < 0 || H5Tset_size(t, 2) < 0 ||
        H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* float -> binary16 bits, round to nearest, ties to even. */
static uint16_t float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf, or NaN (kept quiet, with some payload) */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x0200u | ((a >> 13) & 0x3ffu) : 0));
    if (a >= 0x477ff000u) /* >= 65520 rounds past 65504, the largest half */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* Below 2^-14: a subnormal half counts units of 2^-24. Scaling by 2^24
         * is exact; nearbyintf rounds ties to even; 1024 is the smallest normal,
         * whose encoding is also 1024. */
        float af;
        memcpy(&af, &a, sizeof af);
        return (uint16_t)(sign | (uint16_t)nearbyintf(af * 16777216.0f));
    }
    uint32_t exp = (a >> 23) - 127 + 15; /* 1..30 */
    uint32_t mant = a & 0x7fffffu;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* a carry into the exponent is the right answer */
    return (uint16_t)(sign | h);
}

/* ---- names and compression ---------------------------------------------- */

static const char *const compression_names[4] = {"none", "gzip", "lz4", "zstd"};

const char *tl_volume_compression_name(int compression)
{
    return compression >= 0 && compression < 4 ? compression_names[compression] : "?";
}

tl_status tl_volume_compression_parse(const char *name, int *out, tl_error *err)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, compression_names[i]) == 0) {
            *out = i;
            return TL_OK;
        }
    return tl_error_set(err, TL_ERR_INVALID, "--compression '%s' is not known (allowed: none, gzip, lz4, zstd)",
                        name ? name : "");
}

tl_status tl_volume_format_parse(const char *name, int *out, tl_error *err)
{
    if (name && strcmp(name, "h5") == 0) {
        *out = TL_VOLUME_NEXUS;
        return TL_OK;
    }
    if (name && strcmp(name, "tiff") == 0) {
        *out = TL_VOLUME_TIFF;
        return TL_OK;
    }
    return tl_error_set(err, TL_ERR_INVALID, "--save-format '%s' is not known (allowed: h5, tiff)", name ? name : "");
}

/* Validate the compression request and resolve level 0 to the default. Checks
 * the filter plugin is installed and can compress, before any file exists. */
static tl_status check_compression(const char *path, tl_volume_desc *d, tl_error *err)
{
    const char *name = tl_volume_compression_name(d->compression);
    if (d->compression < TL_COMPRESSION_NONE || d->compression > TL_COMPRESSION_ZSTD)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': compression %d is not known (allowed: none, gzip, lz4, zstd)",
                            path, d->compression);
    if (d->compression_level < 0)
        return tl_error_set(err, TL_ERR_INVALID, "--compression-level %d: levels start at 1", d->compression_level);
    if (d->format == TL_VOLUME_TIFF) {
        if (d->compression != TL_COMPRESSION_NONE)
            tl_log_warn("--compression %s applies to NeXus/HDF5 output; the TIFF slices of '%s' are written "
                        "uncompressed, so every TIFF reader opens them",
                        name, path);
        return TL_OK;
    }
    H5Z_filter_t id;
    const char *plugin, *package;
    switch (d->compression) {
    case TL_COMPRESSION_NONE:
        return TL_OK;
    case TL_COMPRESSION_GZIP:
        if (d->compression_level == 0)
            d->compression_level = 4;
        if (d->compression_level > 9)
            return tl_error_set(err, TL_ERR_INVALID, "--compression-level %d is outside 1 to 9, the levels of gzip",
                                d->compression_level);
        if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
            return tl_error_set(err, TL_ERR_UNSUPPORTED,
                                "--compression gzip: this HDF5 library was built without deflate (zlib)");
        return TL_OK;
    case TL_COMPRESSION_LZ4:
        id = TL_H5_FILTER_LZ4;
        plugin = "lz4";
        package = "hdf5-filter-plugin";
        break;
    default:
        if (d->compression_level == 0)
            d->compression_level = 3;
        if (d->compression_level > 22)
            return tl_error_set(err, TL_ERR_INVALID, "--compression-level %d is outside 1 to 22, the levels of zstd",
                                d->compression_level);
        id = TL_H5_FILTER_BLOSC;
        plugin = "blosc";
        package = "hdf5-filter-plugin-blosc-serial";
        break;
    }
    /* H5Zfilter_avail also searches the plugin path (HDF5_PLUGIN_PATH, else
     * the library's default) and registers the plugin it finds. */
    if (H5Zfilter_avail(id) <= 0) {
#ifdef H5_HAVE_PARALLEL
        (void)package;
        return tl_error_set(err, TL_ERR_UNSUPPORTED,
                            "--compression %s: the HDF5 filter plugin (%s, id %d) is not available to the parallel "
                            "HDF5 of tomoline-mpi (Debian builds it for the serial library only); under mpirun "
                            "use --compression gzip or none",
                            name, plugin, (int)id);
#else
        return tl_error_set(err, TL_ERR_UNSUPPORTED,
                            "--compression %s: the HDF5 filter plugin (%s, id %d) is not installed (Debian: %s)", name,
                            plugin, (int)id, package);
#endif
    }
    unsigned config = 0;
    if (H5Zget_filter_info(id, &config) < 0 || !(config & H5Z_FILTER_CONFIG_ENCODE_ENABLED))
        return tl_error_set(err, TL_ERR_UNSUPPORTED,
                            "--compression %s: the HDF5 filter plugin (%s, id %d) is installed but cannot compress",
                            name, plugin, (int)id);
    return TL_OK;
}

/* blosc runs zstd at level 2c - 1 for its levels c = 1..7, 20 for 8 and 22 for
 * 9 (c-blosc, zstd_wrap_compress), so zstd level L becomes c = ceil(L / 2). */
static unsigned blosc_level_for_zstd(int level)
{
    int c = (level + 1) / 2;
    return (unsigned)(c < 1 ? 1 : c > 9 ? 9 : c);
}

/* The filters of the volume dataset, in pipeline order. */
static herr_t add_filters(hid_t dcpl, const tl_volume_desc *d)
{
    switch (d->compression) {
    case TL_COMPRESSION_GZIP:
        if (H5Pset_shuffle(dcpl) < 0)
            return -1;
        return H5Pset_deflate(dcpl, (unsigned)d->compression_level);
    case TL_COMPRESSION_LZ4:
        if (H5Pset_shuffle(dcpl) < 0)
            return -1;
        /* No parameters: the plugin's default block size (1 GiB, one block
         * per slice chunk). */
        return H5Pset_filter(dcpl, TL_H5_FILTER_LZ4, H5Z_FLAG_MANDATORY, 0, NULL);
    case TL_COMPRESSION_ZSTD: {
        /* cd_values of the blosc filter: [0..3] filled by the filter's
         * set_local (filter revision, blosc format, type size, chunk bytes),
         * [4] level 0..9, [5] shuffle (1 = byte), [6] compressor (5 = zstd). */
        const unsigned cd[7] = {0, 0, 0, 0, blosc_level_for_zstd(d->compression_level), 1, 5};
        return H5Pset_filter(dcpl, TL_H5_FILTER_BLOSC, H5Z_FLAG_OPTIONAL, 7, cd);
    }
    default:
        return 0;
    }
}

static void writer_free(tl_volume_writer *w)
{
    tl_tiff_volume_abort(&w->tiff);
    free(w->written);
    free(w->half);
    free(w->partial);
    free(w->path);
    free(w);
}

static void close_handles(tl_volume_writer *w)
{
    if (w->dset >= 0)
        H5Dclose(w->dset);
    if (w->half_type >= 0)
        H5Tclose(w->half_type);
    w->dset = w->half_type = H5I_INVALID_HID;
}

/* An axis dataset: values start + i (x, y centred; z from the first row). */
static tl_status write_axis(tl_volume_writer *w, hid_t group, const char *name, size_t n, double start,
                            tl_error *err)
{
    double *v = malloc(n * sizeof *v);
    if (!v)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", w->partial);
    for (size_t i = 0; i < n; i++)
        v[i] = start + (double)i;
    tl_status st = tl_h5_write_double_dataset(group, name, v, n, w->partial, "/entry/data", err);
    free(v);
    if (st != TL_OK)
        return st;
    hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
    if (d < 0)
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry/data/%s", w->partial, name);
    char full[64];
    snprintf(full, sizeof full, "/entry/data/%s", name);
    st = tl_h5_write_string_attr(d, "units", "pixel", w->partial, full, err);
    H5Dclose(d);
    return st;
}

static tl_status write_layout(tl_volume_writer *w, tl_error *err)
{
    const tl_volume_desc *d = &w->desc;
    const char *f = w->partial;
    hid_t entry = H5I_INVALID_HID, data = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t dcpl = H5I_INVALID_HID;
    tl_status st = TL_ERR_IO;

    if ((entry = tl_h5_create_group(w->file, "/entry", "NXentry", f, "/entry", err)) < 0)
        goto done;
    if ((st = tl_h5_write_string_attr(entry, "default", "data", f, "/entry", err)) != TL_OK)
        goto done;
    st = TL_ERR_IO;
    if ((data = tl_h5_create_group(entry, "data", "NXdata", f, "/entry/data", err)) < 0)
        goto done;
    static const char *const axes[3] = {"z", "y", "x"};
    if ((st = tl_h5_write_string_attr(data, "signal", "data", f, "/entry/data", err)) != TL_OK ||
        (st = tl_h5_write_string_array_attr(data, "axes", axes, 3, f, "/entry/data", err)) != TL_OK ||
        (st = tl_h5_write_int_attr(data, "z_indices", 0, f, "/entry/data", err)) != TL_OK ||
        (st = tl_h5_write_int_attr(data, "y_indices", 1, f, "/entry/data", err)) != TL_OK ||
        (st = tl_h5_write_int_attr(data, "x_indices", 2, f, "/entry/data", err)) != TL_OK)
        goto done;

    hid_t ftype = H5T_IEEE_F32LE;
    size_t esize = 4;
    if (d->float16) {
        w->half_type = make_half_type();
        if (w->half_type < 0) {
            st = tl_error_set(err, TL_ERR_INTERNAL, "'%s': cannot make the float16 HDF5 type", f);
            goto done;
        }
        ftype = w->half_type;
        esize = 2;
    }
    hsize_t dims[3] = {d->nz, d->ny, d->nx};
    /* One slice per chunk, as readers want slices; HDF5 caps a chunk at 4 GiB,
     * so very large slices are split into bands of rows. */
    hsize_t chunk[3] = {1, d->ny, d->nx};
    /* blosc and the lz4 plugin handle buffers below 2 GiB and 1 GiB blocks:
     * compressed chunks stay within 1 GiB. */
    const hsize_t chunk_max = d->compression != TL_COMPRESSION_NONE ? (hsize_t)1 << 30 : 0xffffffffu;
    if ((hsize_t)d->ny * d->nx * esize > chunk_max)
        chunk[1] = chunk_max / ((hsize_t)d->nx * esize) > 0 ? chunk_max / ((hsize_t)d->nx * esize) : 1;
    space = H5Screate_simple(3, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 3, chunk) < 0 || add_filters(dcpl, d) < 0 ||
        (w->dset = H5Dcreate2(data, "data", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot create dataset %s (%zu x %zu x %zu)%s%s%s", f,
                          data_path, d->nz, d->ny, d->nx, reason[0] ? " (HDF5: " : "", reason,
                          reason[0] ? ")" : "");
        goto done;
    }
    if ((st = write_axis(w, data, "x", d->nx, -0.5 * ((double)d->nx - 1), err)) != TL_OK ||
        (st = write_axis(w, data, "y", d->ny, -0.5 * ((double)d->ny - 1), err)) != TL_OK ||
        (st = write_axis(w, data, "z", d->nz, (double)d->z_first, err)) != TL_OK)
        goto done;
    st = TL_OK;
done:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (data >= 0)
        H5Gclose(data);
    if (entry >= 0)
        H5Gclose(entry);
    return st;
}

tl_status tl_volume_writer_create(const char *path, const tl_volume_desc *desc, int overwrite,
                                  tl_volume_writer **out, tl_error *err)
{
    tl_h5_quiet();
    if (!out)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_create: no output pointer");
    *out = NULL;
    const char *p = path ? path : "";
    if (!desc)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no volume description given", p);
    if (desc->nz == 0 || desc->ny == 0 || desc->nx == 0)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': volume of %zu x %zu x %zu voxels, need at least 1 each",
                            p, desc->nz, desc->ny, desc->nx);
    if (desc->nx > SIZE_MAX / desc->ny / sizeof(float))
        return tl_error_set(err, TL_ERR_INVALID, "'%s': slices of %zu x %zu pixels are too large", p,
                            desc->ny, desc->nx);
    if (desc->format != TL_VOLUME_NEXUS && desc->format != TL_VOLUME_TIFF)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': volume format %d is not known (allowed: h5, tiff)", p,
                            desc->format);
    tl_volume_desc d = *desc;
    tl_status st = check_compression(p, &d, err);
    if (st != TL_OK)
        return st;
    if (d.format == TL_VOLUME_TIFF && d.float16) {
        tl_log_warn("--dtype float16 applies to NeXus/HDF5 output; the TIFF slices of '%s' are written as 32-bit "
                    "float (ImageJ/Fiji and most TIFF readers have no half floats)",
                    p);
        d.float16 = 0;
    }

    tl_volume_writer *w = calloc(1, sizeof *w);
    if (!w)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", p);
    w->file = w->dset = w->half_type = w->dxpl = H5I_INVALID_HID;
    w->desc = d;
    w->path = strdup(p);
    w->written = calloc(d.nz, 1);
    if (d.float16)
        w->half = malloc(d.ny * d.nx * sizeof *w->half);
    if (!w->path || !w->written || (d.float16 && !w->half)) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", p);
        goto fail_free;
    }
    if (d.format == TL_VOLUME_TIFF) {
        st = tl_tiff_volume_create(path, d.nz, d.ny, d.nx, d.z_first, overwrite, &w->tiff, err);
        if (st != TL_OK)
            goto fail_free;
        w->partial = strdup(tl_tiff_volume_partial(w->tiff));
        if (!w->partial) {
            st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", p);
            tl_tiff_volume_abort(&w->tiff);
            goto fail_free;
        }
        *out = w;
        return TL_OK;
    }
    st = tl_h5_output_begin(path, overwrite, &w->partial, &w->file, err);
    if (st != TL_OK)
        goto fail_free;
    st = write_layout(w, err);
    if (st != TL_OK)
        goto fail_file;
    *out = w;
    return TL_OK;

fail_file:
    close_handles(w);
    tl_h5_output_abort(w->file, w->partial);
fail_free:
    writer_free(w);
    return st;
}

/* ---- one file written by every MPI rank (parallel HDF5) ------------------
 *
 * Rank 0 makes PATH.partial and its layout with the serial driver, exactly as
 * tl_volume_writer_create does, and closes it; then every rank opens it through
 * MPI-IO (H5Pset_fapl_mpio) and writes its slices with collective transfers,
 * so the MPI-IO layer can merge the ranks' requests into large contiguous
 * writes (the two-phase I/O of ROMIO; Thakur, Gropp and Lusk 1999, "Data
 * sieving and collective I/O in ROMIO"). Filters (compression) need collective
 * writes too, which is why every rank calls every write, with no slices when it
 * has none left. At the end every rank closes the file (collective), and rank 0
 * reopens it with the serial driver for the provenance, the copied metadata and
 * the commit. */

#if defined(TOMOLINE_MPI) && defined(H5_HAVE_PARALLEL)
#include <mpi.h>

static tl_status open_shared(tl_volume_writer *w, tl_error *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    tl_status st = TL_OK;
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) < 0 ||
        (w->file = H5Fopen(w->partial, H5F_ACC_RDWR, fapl)) < 0 ||
        (w->dset = H5Dopen2(w->file, data_path, H5P_DEFAULT)) < 0 ||
        (w->dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 || H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open %s for parallel writing (MPI-IO)%s%s%s", w->partial,
                          data_path, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    return st;
}

static void close_shared(tl_volume_writer *w)
{
    if (w->dxpl >= 0)
        H5Pclose(w->dxpl);
    w->dxpl = H5I_INVALID_HID;
    if (w->dset >= 0)
        H5Dclose(w->dset);
    w->dset = H5I_INVALID_HID;
    if (w->file >= 0)
        H5Fclose(w->file); /* collective */
    w->file = H5I_INVALID_HID;
}

tl_status tl_volume_writer_create_shared(const char *path, const tl_volume_desc *desc, int overwrite,
                                         tl_volume_writer **out, tl_error *err)
{
    if (!tl_mpi_active())
        return tl_volume_writer_create(path, desc, overwrite, out, err);
    *out = NULL;
    tl_volume_writer *w = NULL;
    tl_status st = TL_OK;
    if (desc && desc->format == TL_VOLUME_TIFF)
        st = tl_error_set(err, TL_ERR_UNSUPPORTED,
                          "'%s': --save-format tiff under mpirun is not supported (use h5, which all ranks write "
                          "together)",
                          path);
    else if (tl_mpi_rank() == 0 && (st = tl_volume_writer_create(path, desc, overwrite, &w, err)) == TL_OK) {
        close_handles(w);
        if (H5Fclose(w->file) < 0)
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot close the new file before parallel writing", w->partial);
        w->file = H5I_INVALID_HID;
    }
    if ((st = tl_mpi_agree(st, err)) != TL_OK) {
        if (w) {
            remove(w->partial);
            writer_free(w);
        }
        return st;
    }
    if (tl_mpi_rank() != 0) { /* the same description, checked by rank 0 */
        w = calloc(1, sizeof *w);
        if (w) {
            w->file = w->dset = w->half_type = w->dxpl = H5I_INVALID_HID;
            w->desc = *desc;
            w->path = strdup(path);
            w->partial = malloc(strlen(path) + sizeof ".partial");
            w->written = calloc(desc->nz, 1);
            if (w->partial)
                sprintf(w->partial, "%s.partial", path);
            if (!w->path || !w->partial || !w->written) {
                writer_free(w);
                w = NULL;
            }
        }
        if (!w)
            st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", path);
    }
    if (st == TL_OK && w->desc.float16 && w->half_type < 0 && (w->half_type = make_half_type()) < 0)
        st = tl_error_set(err, TL_ERR_INTERNAL, "'%s': cannot make the float16 HDF5 type", path);
    if (st == TL_OK) {
        w->shared = 1;
        w->dxpl = H5I_INVALID_HID;
        st = open_shared(w, err);
    }
    if ((st = tl_mpi_agree(st, err)) != TL_OK) {
        if (w) {
            w->shared = 1;
            tl_volume_writer_abort(&w);
        }
        return st;
    }
    *out = w;
    return TL_OK;
}

static tl_status write_shared(tl_volume_writer *w, size_t z_begin, size_t nz, const float *data, tl_error *err)
{
    const tl_volume_desc *d = &w->desc;
    size_t plane = d->ny * d->nx;
    uint16_t *half = NULL;
    tl_status st = TL_OK;
    if (nz && !data)
        st = tl_error_set(err, TL_ERR_INVALID, "'%s': no voxels given", w->partial);
    if (st == TL_OK && nz && d->float16 && !(half = malloc(nz * plane * sizeof *half)))
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for %zu float16 slices", w->partial, nz);
    /* every rank must take part in the transfer: agree first */
    if ((st = tl_mpi_agree(st, err)) != TL_OK) {
        free(half);
        return st;
    }
    for (size_t i = 0; half && i < nz * plane; i++)
        half[i] = float_to_half(data[i]);
    hsize_t start[3] = {z_begin, 0, 0}, cnt[3] = {nz, d->ny, d->nx}, one[3] = {1, 1, 1};
    hid_t fspace = H5Dget_space(w->dset);
    hid_t mspace = H5Screate_simple(3, nz ? cnt : one, NULL);
    int bad = fspace < 0 || mspace < 0;
    if (!bad && nz)
        bad = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0;
    else if (!bad)
        bad = H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0;
    static const float nothing = 0.0f;
    if (!bad)
        bad = H5Dwrite(w->dset, d->float16 ? w->half_type : H5T_NATIVE_FLOAT, mspace, fspace, w->dxpl,
                       d->float16 ? (const void *)half : nz ? (const void *)data : (const void *)&nothing) < 0;
    if (bad) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot write slices %zu-%zu of dataset %s (parallel)%s%s%s",
                          w->partial, z_begin, z_begin + nz - 1, data_path, reason[0] ? " (HDF5: " : "", reason,
                          reason[0] ? ")" : "");
    } else if (nz) {
        memset(w->written + z_begin, 1, nz);
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    free(half);
    return tl_mpi_agree(st, err);
}

tl_status tl_volume_writer_end_shared(tl_volume_writer **w, tl_error *err)
{
    if (!w || !*w || !(*w)->shared)
        return TL_OK;
    tl_volume_writer *v = *w;
    close_shared(v);
    size_t nz = v->desc.nz, count = 0;
    for (size_t z = 0; z < nz; z++)
        count += v->written[z];
    tl_mpi_sum_sizes(&count, 1);
    v->shared = 0;
    if (tl_mpi_rank() != 0) {
        writer_free(v);
        *w = NULL;
        return TL_OK;
    }
    tl_status st = TL_OK;
    if (count == nz) /* distinct slices on every rank: all were written */
        memset(v->written, 1, nz);
    if ((v->file = H5Fopen(v->partial, H5F_ACC_RDWR, H5P_DEFAULT)) < 0 ||
        (v->dset = H5Dopen2(v->file, data_path, H5P_DEFAULT)) < 0)
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot reopen the file the ranks wrote", v->partial);
    if (st != TL_OK)
        tl_volume_writer_abort(w);
    return st;
}

static void abort_shared(tl_volume_writer *w)
{
    close_shared(w);
    if (tl_mpi_rank() == 0)
        remove(w->partial);
}

#else /* no parallel HDF5: one rank */

tl_status tl_volume_writer_create_shared(const char *path, const tl_volume_desc *desc, int overwrite,
                                         tl_volume_writer **out, tl_error *err)
{
    return tl_volume_writer_create(path, desc, overwrite, out, err);
}

tl_status tl_volume_writer_end_shared(tl_volume_writer **w, tl_error *err)
{
    (void)w;
    (void)err;
    return TL_OK;
}

static tl_status write_shared(tl_volume_writer *w, size_t z_begin, size_t nz, const float *data, tl_error *err)
{
    (void)w;
    (void)z_begin;
    (void)nz;
    (void)data;
    return tl_error_set(err, TL_ERR_INTERNAL, "parallel volume writer in a build without parallel HDF5");
}

static void abort_shared(tl_volume_writer *w) { (void)w; }

#endif

tl_status tl_volume_writer_write(tl_volume_writer *w, size_t z_begin, size_t nz, const float *data,
                                 tl_error *err)
{
    if (!w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_write: no writer");
    tl_h5_quiet();
    const tl_volume_desc *d = &w->desc;
    if (z_begin > d->nz || nz > d->nz - z_begin)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': slices %zu to %zu requested, the volume has %zu",
                            w->partial, z_begin, z_begin + nz - 1, d->nz);
    if (w->shared)
        return write_shared(w, z_begin, nz, data, err);
    if (nz == 0)
        return TL_OK;
    if (!data)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no voxels given", w->partial);
    if (w->tiff) {
        tl_status ts = tl_tiff_volume_write(w->tiff, z_begin, nz, data, err);
        if (ts == TL_OK)
            memset(w->written + z_begin, 1, nz);
        return ts;
    }
    hid_t fspace = H5Dget_space(w->dset);
    hid_t mspace = H5I_INVALID_HID;
    tl_status st = TL_OK;
    if (fspace < 0)
        goto fail;
    if (!d->float16) {
        hsize_t start[3] = {z_begin, 0, 0}, cnt[3] = {nz, d->ny, d->nx};
        mspace = H5Screate_simple(3, cnt, NULL);
        if (mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
            H5Dwrite(w->dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, data) < 0)
            goto fail;
    } else {
        size_t plane = d->ny * d->nx;
        hsize_t cnt[3] = {1, d->ny, d->nx};
        mspace = H5Screate_simple(3, cnt, NULL);
        if (mspace < 0)
            goto fail;
        for (size_t z = 0; z < nz; z++) {
            const float *src = data + z * plane;
            for (size_t i = 0; i < plane; i++)
                w->half[i] = float_to_half(src[i]);
            hsize_t start[3] = {z_begin + z, 0, 0};
            /* Memory type = file type: HDF5 copies the bits we rounded. */
            if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
                H5Dwrite(w->dset, w->half_type, mspace, fspace, H5P_DEFAULT, w->half) < 0)
                goto fail;
        }
    }
    memset(w->written + z_begin, 1, nz);
    goto done;
fail:;
    char reason[256];
    tl_h5_reason(reason, sizeof reason);
    st = tl_error_set(err, TL_ERR_IO, "'%s': cannot write slices %zu-%zu of dataset %s%s%s%s", w->partial,
                      z_begin, z_begin + nz - 1, data_path, reason[0] ? " (HDF5: " : "", reason,
                      reason[0] ? ")" : "");
done:
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return st;
}

/* Parameter names become dataset names: "--rotation-axis" -> "rotation-axis". */
static const char *param_dataset_name(const char *flag)
{
    while (*flag == '-')
        flag++;
    return flag;
}

static tl_status write_string_if(hid_t g, const char *name, const char *value, const char *f,
                                 tl_error *err)
{
    if (!value)
        return TL_OK;
    return tl_h5_write_string_dataset(g, name, value, f, "/entry/process", err);
}

static tl_status write_parameters(tl_volume_writer *w, hid_t process, const tl_provenance *prov,
                                  tl_error *err)
{
    const char *f = w->partial;
    hid_t params = tl_h5_create_group(process, "parameters", "NXcollection", f,
                                      "/entry/process/parameters", err);
    if (params < 0)
        return TL_ERR_IO;
    tl_status st = TL_OK;
    for (size_t i = 0; i < prov->n_params && st == TL_OK; i++) {
        const char *flag = prov->param_names ? prov->param_names[i] : NULL;
        const char *name = flag ? param_dataset_name(flag) : "";
        if (!*name || strchr(name, '/') || strcmp(name, ".") == 0) {
            st = tl_error_set(err, TL_ERR_INVALID,
                              "'%s': parameter %zu has the name '%s', which cannot name a dataset "
                              "(empty, '.' or containing '/')",
                              f, i, flag ? flag : "(null)");
            break;
        }
        char full[512];
        snprintf(full, sizeof full, "/entry/process/parameters/%s", name);
        if (H5Lexists(params, name, H5P_DEFAULT) > 0) {
            st = tl_error_set(err, TL_ERR_INVALID, "'%s': parameter '%s' is given twice", f, name);
            break;
        }
        st = tl_h5_write_string_dataset(params, name, prov->param_values ? prov->param_values[i] : NULL,
                                        f, "/entry/process/parameters", err);
        if (st != TL_OK)
            break;
        hid_t d = H5Dopen2(params, name, H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open %s", f, full);
            break;
        }
        st = tl_h5_write_string_attr(d, "section", prov->param_sections ? prov->param_sections[i] : NULL,
                                     f, full, err);
        H5Dclose(d);
    }
    H5Gclose(params);
    return st;
}

static tl_status write_stage_times(tl_volume_writer *w, hid_t process, const tl_provenance *prov,
                                   tl_error *err)
{
    const char *f = w->partial;
    hid_t g = tl_h5_create_group(process, "stage_times", "NXcollection", f, "/entry/process/stage_times",
                                 err);
    if (g < 0)
        return TL_ERR_IO;
    tl_status st = TL_OK;
    for (size_t i = 0; i < prov->n_stages && st == TL_OK; i++) {
        const char *name = prov->stage_names ? prov->stage_names[i] : NULL;
        if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0) {
            st = tl_error_set(err, TL_ERR_INVALID, "'%s': stage %zu has the name '%s', which cannot name a dataset",
                              f, i, name ? name : "(null)");
            break;
        }
        if (H5Lexists(g, name, H5P_DEFAULT) > 0) {
            st = tl_error_set(err, TL_ERR_INVALID, "'%s': stage '%s' is timed twice", f, name);
            break;
        }
        char full[512];
        snprintf(full, sizeof full, "/entry/process/stage_times/%s", name);
        st = tl_h5_write_double_scalar(g, name, prov->stage_seconds ? prov->stage_seconds[i] : NAN, f,
                                       "/entry/process/stage_times", err);
        if (st != TL_OK)
            break;
        hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open %s", f, full);
            break;
        }
        st = tl_h5_write_string_attr(d, "units", "s", f, full, err);
        H5Dclose(d);
    }
    H5Gclose(g);
    return st;
}

/* The run's date, or the time of writing: a date is part of every record. */
static const char *provenance_date(const tl_provenance *prov, char *buf, size_t size)
{
    if (prov->date)
        return prov->date;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* key = value, the value on one line (newlines and backslashes escaped). */
static void ini_line(FILE *f, const char *key, const char *value)
{
    if (!value)
        return;
    fprintf(f, "%s = ", key);
    for (const char *c = value; *c; c++) {
        if (*c == '\n')
            fputs("\\n", f);
        else if (*c == '\r')
            fputs("\\r", f);
        else if (*c == '\\')
            fputs("\\\\", f);
        else
            fputc(*c, f);
    }
    fputc('\n', f);
}

/* A name that becomes an INI key (TIFF) or a dataset name (NeXus). */
static int bad_name(const char *name)
{
    return !name || !*name || strcmp(name, ".") == 0 || strpbrk(name, "/=\n\r[]") != NULL;
}

/* provenance.txt of a TIFF volume: the fields of /entry/process, same names. */
static tl_status write_provenance_text(tl_volume_writer *w, const tl_provenance *prov, tl_error *err)
{
    const char *f = w->partial;
    for (size_t i = 0; i < prov->n_params; i++) {
        const char *flag = prov->param_names ? prov->param_names[i] : NULL;
        if (bad_name(flag ? param_dataset_name(flag) : NULL))
            return tl_error_set(err, TL_ERR_INVALID,
                                "'%s': parameter %zu has the name '%s', which cannot name a dataset "
                                "(empty, '.' or containing '/')",
                                f, i, flag ? flag : "(null)");
    }
    for (size_t i = 0; i < prov->n_stages; i++)
        if (bad_name(prov->stage_names ? prov->stage_names[i] : NULL))
            return tl_error_set(err, TL_ERR_INVALID, "'%s': stage %zu has the name '%s', which cannot name a dataset",
                                f, i, prov->stage_names && prov->stage_names[i] ? prov->stage_names[i] : "(null)");
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory writing the provenance", f);
    char now[32], num[64];
    fprintf(m, "# tomoline provenance: the fields of /entry/process of a NeXus volume\n[process]\n");
    ini_line(m, "program", prov->program ? prov->program : "tomoline");
    ini_line(m, "version", prov->version);
    ini_line(m, "git_revision", prov->git_revision);
    ini_line(m, "date", provenance_date(prov, now, sizeof now));
    ini_line(m, "host", prov->host);
    ini_line(m, "backend", prov->backend);
    ini_line(m, "input_file", prov->input_file);
    ini_line(m, "input_file_sha256", prov->input_sha256);
    if (isfinite(prov->rotation_axis)) {
        snprintf(num, sizeof num, "%.17g", prov->rotation_axis);
        ini_line(m, "rotation_axis", num);
        ini_line(m, "rotation_axis_units", "pixel");
        ini_line(m, "rotation_axis_method", prov->rotation_axis_method);
    }
    if (prov->preprocessing)
        ini_line(m, "preprocessing", prov->preprocessing);
    if (prov->mpi_ranks > 0) {
        snprintf(num, sizeof num, "%d", prov->mpi_ranks);
        ini_line(m, "mpi_ranks", num);
        ini_line(m, "parallel", prov->parallel);
    }
    const tl_volume_desc *d = &w->desc;
    fprintf(m, "\n[volume]\nformat = tiff\ndtype = float32\nnz = %zu\nny = %zu\nnx = %zu\nz_first = %zu\n", d->nz,
            d->ny, d->nx, d->z_first);
    fprintf(m, "\n[stage_times]\n# seconds\n");
    for (size_t i = 0; i < prov->n_stages; i++) {
        snprintf(num, sizeof num, "%.17g", prov->stage_seconds ? prov->stage_seconds[i] : NAN);
        ini_line(m, prov->stage_names[i], num);
    }
    if (prov->stream_json) {
        fprintf(m, "\n[stream]\n");
        ini_line(m, "report", prov->stream_json);
    }
    fprintf(m, "\n[parameters]\n");
    for (size_t i = 0; i < prov->n_params; i++)
        ini_line(m, param_dataset_name(prov->param_names[i]),
                 prov->param_values && prov->param_values[i] ? prov->param_values[i] : "");
    int failed = ferror(m);
    fclose(m);
    tl_status st;
    if (failed || !text)
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory writing the provenance", f);
    else
        st = tl_tiff_volume_write_text(w->tiff, "provenance.txt", text, err);
    free(text);
    if (st == TL_OK && prov->config_ini)
        st = tl_tiff_volume_write_text(w->tiff, "config.ini", prov->config_ini, err);
    return st;
}

tl_status tl_volume_writer_set_provenance(tl_volume_writer *w, const tl_provenance *prov,
                                          tl_error *err)
{
    if (!w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_set_provenance: no writer");
    tl_h5_quiet();
    const char *f = w->partial;
    if (!prov)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no provenance given", f);
    if (w->have_provenance)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': /entry/process is already written", f);
    if (prov->input_sha256 &&
        (strlen(prov->input_sha256) != 64 || strspn(prov->input_sha256, "0123456789abcdefABCDEF") != 64))
        return tl_error_set(err, TL_ERR_INVALID, "'%s': the input's SHA-256 '%s' is not 64 hex digits", f,
                            prov->input_sha256);
    if (w->tiff) {
        w->have_provenance = 1;
        return write_provenance_text(w, prov, err);
    }
    hid_t process = tl_h5_create_group(w->file, "/entry/process", "NXprocess", f, "/entry/process", err);
    if (process < 0)
        return TL_ERR_IO;
    w->have_provenance = 1;

    char now[32];
    const char *date = provenance_date(prov, now, sizeof now);
    tl_status st;
    if ((st = write_string_if(process, "program", prov->program ? prov->program : "tomoline", f, err)) ||
        (st = write_string_if(process, "version", prov->version, f, err)) ||
        (st = write_string_if(process, "git_revision", prov->git_revision, f, err)) ||
        (st = write_string_if(process, "date", date, f, err)) ||
        (st = write_string_if(process, "host", prov->host, f, err)) ||
        (st = write_string_if(process, "backend", prov->backend, f, err)) ||
        (st = write_string_if(process, "input_file", prov->input_file, f, err)) ||
        (st = write_string_if(process, "input_file_sha256", prov->input_sha256, f, err)))
        goto done;
    if (prov->input_sha256) {
        hid_t d = H5Dopen2(process, "input_file_sha256", H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry/process/input_file_sha256", f);
            goto done;
        }
        st = tl_h5_write_string_attr(d, "algorithm", "SHA-256", f, "/entry/process/input_file_sha256", err);
        H5Dclose(d);
        if (st != TL_OK)
            goto done;
    }
    if (isfinite(prov->rotation_axis)) {
        st = tl_h5_write_double_scalar(process, "rotation_axis", prov->rotation_axis, f, "/entry/process",
                                       err);
        if (st != TL_OK)
            goto done;
        hid_t d = H5Dopen2(process, "rotation_axis", H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry/process/rotation_axis", f);
            goto done;
        }
        st = tl_h5_write_string_attr(d, "units", "pixel", f, "/entry/process/rotation_axis", err);
        if (st == TL_OK && prov->rotation_axis_method)
            st = tl_h5_write_string_attr(d, "method", prov->rotation_axis_method, f,
                                         "/entry/process/rotation_axis", err);
        H5Dclose(d);
        if (st != TL_OK)
            goto done;
    }
    if ((st = write_parameters(w, process, prov, err)) != TL_OK ||
        (st = write_string_if(process, "config", prov->config_ini, f, err)) != TL_OK ||
        (st = write_stage_times(w, process, prov, err)) != TL_OK ||
        (st = write_string_if(process, "stream", prov->stream_json, f, err)) != TL_OK ||
        (st = write_string_if(process, "preprocessing", prov->preprocessing, f, err)) != TL_OK)
        goto done;
    if (prov->mpi_ranks > 0) {
        if ((st = write_string_if(process, "parallel", prov->parallel ? prov->parallel : "mpi", f, err)) != TL_OK)
            goto done;
        hid_t d = H5Dopen2(process, "parallel", H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry/process/parallel", f);
            goto done;
        }
        st = tl_h5_write_int_attr(d, "ranks", prov->mpi_ranks, f, "/entry/process/parallel", err);
        H5Dclose(d);
    }
done:
    H5Gclose(process);
    return st;
}

/* ---- metadata copied from the input ------------------------------------- */

/* Datasets up to this size are copied; the frames are far larger. */
#define COPY_MAX_BYTES ((hsize_t)1 << 20)
#define COPY_MAX_DEPTH 32

typedef struct copy_ctx {
    const char *out_name;    /* output file, for messages */
    hid_t dst;               /* the group being filled */
    char rel[1024];          /* path of the current group below the copied one ("" or "detector/") */
    char **skipped;
    size_t n_skipped, cap;
    haddr_t stack[COPY_MAX_DEPTH]; /* addresses of the groups being copied, against cycles */
    int depth;
    tl_status st;
    tl_error *err;
} copy_ctx;

static void skip(copy_ctx *c, const char *name, const char *fmt, ...) TL_PRINTF(3, 4);

/* Record "rel/name (reason)". */
static void skip(copy_ctx *c, const char *name, const char *fmt, ...)
{
    if (c->st != TL_OK)
        return;
    char reason[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (c->n_skipped == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 16;
        char **p = realloc(c->skipped, nc * sizeof *p);
        if (!p) {
            c->st = tl_error_set(c->err, TL_ERR_NOMEM, "'%s': out of memory copying metadata", c->out_name);
            return;
        }
        c->skipped = p;
        c->cap = nc;
    }
    size_t n = strlen(c->rel) + strlen(name) + strlen(reason) + 4;
    char *s = malloc(n);
    if (!s) {
        c->st = tl_error_set(c->err, TL_ERR_NOMEM, "'%s': out of memory copying metadata", c->out_name);
        return;
    }
    snprintf(s, n, "%s%s (%s)", c->rel, name, reason);
    c->skipped[c->n_skipped++] = s;
}

/* Copy every attribute of src onto dst (a group we just created). */
static herr_t copy_attr(hid_t src, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    copy_ctx *c = data;
    hid_t a = H5Aopen(src, name, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t space = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hid_t b = H5I_INVALID_HID;
    void *buf = NULL;
    char label[300];
    snprintf(label, sizeof label, "@%s", name);
    if (a < 0 || type < 0 || space < 0) {
        skip(c, label, "attribute cannot be read");
        goto done;
    }
    if (H5Tget_class(type) == H5T_REFERENCE || H5Tdetect_class(type, H5T_REFERENCE) > 0) {
        /* A reference points into the input file: meaningless in the output. */
        skip(c, label, "object reference");
        goto done;
    }
    hssize_t np = H5Sget_simple_extent_npoints(space);
    size_t esize = H5Tget_size(type);
    if (np < 0 || esize == 0) {
        skip(c, label, "attribute cannot be read");
        goto done;
    }
    buf = calloc(np > 0 ? (size_t)np : 1, esize);
    if (!buf) {
        c->st = tl_error_set(c->err, TL_ERR_NOMEM, "'%s': out of memory copying metadata", c->out_name);
        goto done;
    }
    if (np > 0 && H5Aread(a, type, buf) < 0) {
        skip(c, label, "attribute cannot be read");
        free(buf);
        buf = NULL;
        goto done;
    }
    if (H5Aexists(c->dst, name) > 0)
        H5Adelete(c->dst, name);
    b = H5Acreate2(c->dst, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (b < 0 || (np > 0 && H5Awrite(b, type, buf) < 0)) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        c->st = tl_error_set(c->err, TL_ERR_IO, "'%s': cannot write attribute %s of /entry/%s%s%s%s", c->out_name,
                             name, c->rel, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    }
    /* Frees the strings HDF5 allocated for variable-length data (no-op otherwise). */
    if (np > 0)
        H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
done:
    free(buf);
    if (b >= 0)
        H5Aclose(b);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (a >= 0)
        H5Aclose(a);
    return c->st == TL_OK ? 0 : -1;
}

/* Why a dataset is not copied, or NULL to copy it. */
static const char *dataset_skip_reason(hid_t src, const char *name, char *buf, size_t size)
{
    hid_t d = H5Dopen2(src, name, H5P_DEFAULT);
    if (d < 0)
        return "dataset cannot be opened";
    hid_t type = H5Dget_type(d), space = H5Dget_space(d), dcpl = H5Dget_create_plist(d);
    const char *why = NULL;
    if (type < 0 || space < 0 || dcpl < 0) {
        why = "dataset cannot be read";
    } else if (H5Pget_layout(dcpl) == H5D_VIRTUAL) {
        why = "virtual dataset (its data live in other files)";
    } else if (H5Pget_external_count(dcpl) > 0) {
        why = "dataset with external raw data files";
    } else {
        hssize_t np = H5Sget_simple_extent_npoints(space);
        double bytes = (double)(np > 0 ? np : 0) * (double)H5Tget_size(type);
        if (bytes > (double)COPY_MAX_BYTES) {
            snprintf(buf, size, "dataset of %.1f MiB, over the 1 MiB copied", bytes / 1048576.0);
            why = buf;
        }
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(d);
    return why;
}

static herr_t copy_link(hid_t src, const char *name, const H5L_info_t *li, void *data);

/* Create dst/name as a copy of group src/name with its attributes, then its members. */
static void copy_group(copy_ctx *c, hid_t src, const char *name, haddr_t addr)
{
    for (int i = 0; i < c->depth; i++)
        if (c->stack[i] == addr) {
            skip(c, name, "link back to a group above it");
            return;
        }
    if (c->depth >= COPY_MAX_DEPTH) {
        skip(c, name, "groups nested more than %d deep", COPY_MAX_DEPTH);
        return;
    }
    size_t rl = strlen(c->rel);
    if (rl + strlen(name) + 2 > sizeof c->rel) {
        skip(c, name, "path too long");
        return;
    }
    hid_t sg = H5Gopen2(src, name, H5P_DEFAULT);
    if (sg < 0) {
        skip(c, name, "group cannot be opened");
        return;
    }
    hid_t dg = H5Gcreate2(c->dst, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dg < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        c->st = tl_error_set(c->err, TL_ERR_IO, "'%s': cannot create group /entry/%s%s%s%s%s", c->out_name, c->rel,
                             name, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
        H5Gclose(sg);
        return;
    }
    hid_t saved_dst = c->dst;
    c->dst = dg;
    snprintf(c->rel + rl, sizeof c->rel - rl, "%s/", name);
    c->stack[c->depth++] = addr;
    H5Aiterate2(sg, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attr, c);
    if (c->st == TL_OK)
        H5Literate(sg, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_link, c);
    c->depth--;
    c->rel[rl] = '\0';
    c->dst = saved_dst;
    H5Gclose(dg);
    H5Gclose(sg);
}

static herr_t copy_link(hid_t src, const char *name, const H5L_info_t *li, void *data)
{
    copy_ctx *c = data;
    if (li->type == H5L_TYPE_SOFT || li->type == H5L_TYPE_EXTERNAL) {
        /* Soft links name paths of the input's layout, external links other
         * files: neither is sure to mean the same thing in the output. */
        char *val = li->u.val_size > 0 ? malloc(li->u.val_size) : NULL;
        const char *file = NULL, *obj = NULL;
        unsigned flags = 0;
        if (val && H5Lget_val(src, name, val, li->u.val_size, H5P_DEFAULT) >= 0) {
            if (li->type == H5L_TYPE_SOFT)
                skip(c, name, "soft link to %.*s", (int)li->u.val_size, val);
            else if (H5Lunpack_elink_val(val, li->u.val_size, &flags, &file, &obj) >= 0)
                skip(c, name, "external link to %s:%s", file, obj);
            else
                skip(c, name, "external link");
        } else {
            skip(c, name, li->type == H5L_TYPE_SOFT ? "soft link" : "external link");
        }
        free(val);
        return c->st == TL_OK ? 0 : -1;
    }
    if (li->type != H5L_TYPE_HARD) {
        skip(c, name, "user-defined link");
        return c->st == TL_OK ? 0 : -1;
    }
    H5O_info_t oi;
    if (H5Oget_info_by_name(src, name, &oi, H5P_DEFAULT) < 0) {
        skip(c, name, "object cannot be read");
        return c->st == TL_OK ? 0 : -1;
    }
    char why_buf[128];
    const char *why;
    switch (oi.type) {
    case H5O_TYPE_GROUP:
        copy_group(c, src, name, oi.addr);
        break;
    case H5O_TYPE_DATASET:
    case H5O_TYPE_NAMED_DATATYPE:
        if (oi.type == H5O_TYPE_DATASET && (why = dataset_skip_reason(src, name, why_buf, sizeof why_buf)) != NULL) {
            skip(c, name, "%s", why);
            break;
        }
        /* A small dataset is copied whole, attributes included. */
        if (H5Ocopy(src, name, c->dst, name, H5P_DEFAULT, H5P_DEFAULT) < 0) {
            char reason[256];
            tl_h5_reason(reason, sizeof reason);
            skip(c, name, "cannot be copied%s%s", reason[0] ? ": " : "", reason);
        }
        break;
    default:
        skip(c, name, "unknown kind of object");
        break;
    }
    return c->st == TL_OK ? 0 : -1;
}

typedef struct entry_search {
    hid_t file;
    char found[256];
} entry_search;

static herr_t find_nxtomo(hid_t root, const char *name, const H5L_info_t *li, void *data)
{
    (void)root;
    (void)li;
    entry_search *s = data;
    char path[300], def[64];
    snprintf(path, sizeof path, "/%s/definition", name);
    if (strlen(name) < sizeof s->found - 1 && tl_h5_read_string_dataset(s->file, path, def, sizeof def) == 0 &&
        strcmp(def, "NXtomo") == 0) {
        snprintf(s->found, sizeof s->found, "/%s", name);
        return 1; /* stop */
    }
    return 0;
}

tl_status tl_volume_writer_copy_metadata(tl_volume_writer *w, const char *input_file, const char *input_entry_path,
                                         tl_error *err)
{
    if (!w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_copy_metadata: no writer");
    tl_h5_quiet();
    if (w->have_metadata)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': the input's metadata is already copied", w->partial);
    w->have_metadata = 1;
    if (w->tiff) {
        tl_log_debug("'%s': a TIFF volume holds no copy of the input's sample and instrument groups", w->partial);
        return TL_OK;
    }
    hid_t in;
    tl_status st = tl_h5_open_read(input_file, &in, err);
    if (st != TL_OK)
        return st;
    entry_search search = {.file = in, .found = ""};
    const char *entry = input_entry_path;
    if (!entry) {
        H5Literate(in, H5_INDEX_NAME, H5_ITER_INC, NULL, find_nxtomo, &search);
        if (search.found[0])
            entry = search.found;
        else if (tl_h5_is_type(in, "/entry", H5O_TYPE_GROUP))
            entry = "/entry";
        else if (tl_h5_is_type(in, "/measurement", H5O_TYPE_GROUP))
            entry = "/measurement"; /* Data Exchange keeps sample and instrument there */
        else
            entry = "";
    }
    hid_t out_entry = H5Gopen2(w->file, "/entry", H5P_DEFAULT);
    if (out_entry < 0) {
        H5Fclose(in);
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry", w->partial);
    }
    static const char *const groups[2] = {"sample", "instrument"};
    for (int g = 0; g < 2 && st == TL_OK; g++) {
        char src_path[1200];
        snprintf(src_path, sizeof src_path, "%s/%s", strcmp(entry, "/") == 0 ? "" : entry, groups[g]);
        if (!*entry || tl_h5_link_exists(in, src_path) <= 0 || !tl_h5_is_type(in, src_path, H5O_TYPE_GROUP)) {
            tl_log_debug("'%s': no group %s to copy", input_file, src_path);
            continue;
        }
        if (H5Lexists(out_entry, groups[g], H5P_DEFAULT) > 0) {
            st = tl_error_set(err, TL_ERR_INVALID, "'%s': /entry/%s already exists", w->partial, groups[g]);
            break;
        }
        H5O_info_t oi;
        char parent[1200];
        snprintf(parent, sizeof parent, "%s", src_path);
        char *slash = strrchr(parent, '/');
        if (slash == parent)
            slash[1] = '\0';
        else
            *slash = '\0';
        hid_t src_parent = H5Oopen(in, parent, H5P_DEFAULT);
        if (src_parent < 0 || H5Oget_info_by_name(in, src_path, &oi, H5P_DEFAULT) < 0) {
            if (src_parent >= 0)
                H5Oclose(src_parent);
            tl_log_warn("'%s': group %s cannot be read; not copied", input_file, src_path);
            continue;
        }
        copy_ctx c = {.out_name = w->partial, .dst = out_entry, .st = TL_OK, .err = err};
        copy_group(&c, src_parent, groups[g], oi.addr);
        H5Oclose(src_parent);
        st = c.st;
        if (st == TL_OK && c.n_skipped > 0) {
            char dst_path[64];
            snprintf(dst_path, sizeof dst_path, "/entry/%s", groups[g]);
            hid_t dg = H5Gopen2(w->file, dst_path, H5P_DEFAULT);
            if (dg < 0)
                st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open %s", w->partial, dst_path);
            else {
                /* Paths relative to the copied group, without its own name. */
                size_t strip = strlen(groups[g]) + 1;
                const char **names = malloc(c.n_skipped * sizeof *names);
                if (!names)
                    st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory copying metadata", w->partial);
                else {
                    for (size_t i = 0; i < c.n_skipped; i++)
                        names[i] = c.skipped[i] + strip;
                    st = tl_h5_write_string_array_attr(dg, "tomoline_skipped", names, c.n_skipped, w->partial,
                                                       dst_path, err);
                    free(names);
                }
                H5Gclose(dg);
            }
            tl_log_debug("'%s': %zu objects of %s not copied (see %s@tomoline_skipped)", input_file, c.n_skipped,
                         src_path, dst_path);
        }
        for (size_t i = 0; i < c.n_skipped; i++)
            free(c.skipped[i]);
        free(c.skipped);
    }
    H5Gclose(out_entry);
    H5Fclose(in);
    return st;
}

tl_status tl_volume_writer_commit(tl_volume_writer **w, tl_error *err)
{
    if (!w || !*w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_commit: no writer");
    tl_h5_quiet();
    tl_volume_writer *v = *w;
    *w = NULL;
    size_t nz = v->desc.nz, missing = 0, first_missing = 0;
    for (size_t z = 0; z < nz; z++)
        if (!v->written[z] && missing++ == 0)
            first_missing = z;
    close_handles(v);
    tl_status st;
    if (missing) {
        st = tl_error_set(err, TL_ERR_INVALID,
                          "'%s': %zu of %zu slices were never written (the first is slice %zu); "
                          "the incomplete volume is not kept",
                          v->path, missing, nz, first_missing);
        if (v->tiff)
            tl_tiff_volume_abort(&v->tiff);
        else
            tl_h5_output_abort(v->file, v->partial);
    } else if (v->tiff) {
        st = tl_tiff_volume_commit(&v->tiff, err);
    } else {
        st = tl_h5_output_commit(v->file, v->partial, v->path, err);
    }
    writer_free(v);
    return st;
}

void tl_volume_writer_abort(tl_volume_writer **w)
{
    if (!w || !*w)
        return;
    tl_h5_quiet();
    close_handles(*w);
    if ((*w)->shared)
        abort_shared(*w);
    else if ((*w)->tiff)
        tl_tiff_volume_abort(&(*w)->tiff);
    else
        tl_h5_output_abort((*w)->file, (*w)->partial);
    writer_free(*w);
    *w = NULL;
}

/* ---- reading ------------------------------------------------------------ */

static int is_directory(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Open /entry/data/data of a volume file: *file, *dset, dims; on failure both
 * are closed and err says why. want_float: refuse integer data. */
static tl_status open_volume_dataset(const char *path, int want_float, hid_t *file, hid_t *dset, hsize_t dims[3],
                                     tl_error *err)
{
    *dset = H5I_INVALID_HID;
    tl_status st = tl_h5_open_read(path, file, err);
    if (st != TL_OK)
        return st;
    hid_t d = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    if (!tl_h5_link_exists(*file, data_path)) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s missing (not a volume written by tomoline?)",
                          path, data_path);
        goto fail;
    }
    d = H5Dopen2(*file, data_path, H5P_DEFAULT);
    if (d < 0) {
        char why[768];
        tl_h5_describe_open_failure(*file, data_path, why, sizeof why);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open dataset %s: %s", path, data_path, why);
        goto fail;
    }
    type = H5Dget_type(d);
    space = H5Dget_space(d);
    if (type < 0 || space < 0) {
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read the type and shape of dataset %s", path,
                          data_path);
        goto fail;
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_FLOAT && (want_float || cls != H5T_INTEGER)) {
        char tname[64];
        tl_h5_type_name(type, tname, sizeof tname);
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s holds %s, expected %s voxels", path, data_path,
                          tname, want_float ? "floating-point" : "numeric");
        goto fail;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t got[H5S_MAX_RANK];
    if (rank != 3 || H5Sget_simple_extent_dims(space, got, NULL) < 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has rank %d, expected 3 (z, y, x)", path,
                          data_path, rank);
        goto fail;
    }
    if (got[0] == 0 || got[1] == 0 || got[2] == 0 || got[1] > SIZE_MAX / got[2] ||
        got[0] > SIZE_MAX / sizeof(float) / (got[1] * got[2])) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': dataset %s has an unusable shape %llu x %llu x %llu", path,
                          data_path, (unsigned long long)got[0], (unsigned long long)got[1],
                          (unsigned long long)got[2]);
        goto fail;
    }
    memcpy(dims, got, 3 * sizeof *dims);
    H5Sclose(space);
    H5Tclose(type);
    *dset = d;
    return TL_OK;
fail:
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (d >= 0)
        H5Dclose(d);
    H5Fclose(*file);
    *file = H5I_INVALID_HID;
    return st;
}

static tl_status read_failed(const char *path, const char *what, tl_error *err)
{
    char reason[256];
    tl_h5_reason(reason, sizeof reason);
    return tl_error_set(err, TL_ERR_IO, "'%s': cannot read %s of dataset %s, the file may be truncated or damaged%s%s%s",
                        path, what, data_path, reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
}

tl_status tl_volume_probe(const char *path, size_t *nz, size_t *ny, size_t *nx, tl_error *err)
{
    tl_h5_quiet();
    if (!nz || !ny || !nx)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_probe: missing output pointers");
    if (is_directory(path)) {
        int digits;
        return tl_tiff_volume_probe(path, nz, ny, nx, &digits, err);
    }
    hid_t file, d;
    hsize_t dims[3];
    tl_status st = open_volume_dataset(path, 0, &file, &d, dims, err);
    if (st != TL_OK)
        return st;
    *nz = dims[0];
    *ny = dims[1];
    *nx = dims[2];
    H5Dclose(d);
    H5Fclose(file);
    return TL_OK;
}

/* Every slice of a TIFF volume directory. */
static tl_status read_tiff_volume(const char *dir, float **data, size_t *nz, size_t *ny, size_t *nx, tl_error *err)
{
    size_t z_n, y_n, x_n;
    int digits;
    tl_status st = tl_tiff_volume_probe(dir, &z_n, &y_n, &x_n, &digits, err);
    if (st != TL_OK)
        return st;
    size_t plane = y_n * x_n;
    if (x_n > SIZE_MAX / y_n || z_n > SIZE_MAX / sizeof(float) / plane)
        return tl_error_set(err, TL_ERR_FORMAT, "'%s': %zu slices of %zu x %zu pixels are too many to hold", dir,
                            z_n, y_n, x_n);
    float *v = malloc(z_n * plane * sizeof *v);
    if (!v)
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for %zu x %zu x %zu voxels", dir, z_n, y_n, x_n);
    size_t len = strlen(dir) + 64;
    char *name = malloc(len);
    if (!name) {
        free(v);
        return tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", dir);
    }
    for (size_t z = 0; z < z_n && st == TL_OK; z++) {
        tl_tiff_volume_slice_path(name, len, dir, z, digits);
        st = tl_tiff_read_rows(name, y_n, x_n, 0, y_n, v + z * plane, err);
    }
    free(name);
    if (st != TL_OK) {
        free(v);
        return st;
    }
    *data = v;
    *nz = z_n;
    *ny = y_n;
    *nx = x_n;
    return TL_OK;
}

tl_status tl_volume_read(const char *path, float **data, size_t *nz, size_t *ny, size_t *nx,
                         tl_error *err)
{
    tl_h5_quiet();
    if (!data || !nz || !ny || !nx)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_read: missing output pointers");
    *data = NULL;
    *nz = *ny = *nx = 0;
    if (is_directory(path))
        return read_tiff_volume(path, data, nz, ny, nx, err);
    hid_t file, d;
    hsize_t dims[3];
    tl_status st = open_volume_dataset(path, 1, &file, &d, dims, err);
    if (st != TL_OK)
        return st;
    float *v = malloc((size_t)(dims[0] * dims[1] * dims[2]) * sizeof *v);
    if (!v) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for %llu x %llu x %llu voxels", path,
                          (unsigned long long)dims[0], (unsigned long long)dims[1],
                          (unsigned long long)dims[2]);
    } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        st = read_failed(path, "the voxels", err);
        free(v);
    } else {
        *data = v;
        *nz = dims[0];
        *ny = dims[1];
        *nx = dims[2];
    }
    H5Dclose(d);
    H5Fclose(file);
    return st;
}

/* One slice of a TIFF volume directory. */
static tl_status read_tiff_slice(const char *dir, int ax, size_t index, float *out, size_t z_n, size_t y_n,
                                 size_t x_n, int digits, tl_error *err)
{
    size_t len = strlen(dir) + 64;
    char *name = malloc(len);
    float *plane = ax == 2 ? malloc(y_n * x_n * sizeof *plane) : NULL;
    tl_status st = TL_OK;
    if (!name || (ax == 2 && !plane)) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory", dir);
        goto done;
    }
    if (ax == 0) {
        tl_tiff_volume_slice_path(name, len, dir, index, digits);
        st = tl_tiff_read_rows(name, y_n, x_n, 0, y_n, out, err);
        goto done;
    }
    for (size_t z = 0; z < z_n && st == TL_OK; z++) {
        tl_tiff_volume_slice_path(name, len, dir, z, digits);
        if (ax == 1) {
            st = tl_tiff_read_rows(name, y_n, x_n, index, 1, out + z * x_n, err);
        } else {
            st = tl_tiff_read_rows(name, y_n, x_n, 0, y_n, plane, err);
            for (size_t y = 0; st == TL_OK && y < y_n; y++)
                out[z * y_n + y] = plane[y * x_n + index];
        }
    }
done:
    free(plane);
    free(name);
    return st;
}

tl_status tl_volume_read_slice(const char *path, char axis, size_t index, float **data, size_t *rows, size_t *cols,
                               tl_error *err)
{
    tl_h5_quiet();
    if (!data || !rows || !cols)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_read_slice: missing output pointers");
    *data = NULL;
    *rows = *cols = 0;
    int ax = axis == 'z' ? 0 : axis == 'y' ? 1 : axis == 'x' ? 2 : -1;
    if (ax < 0)
        return tl_error_set(err, TL_ERR_INVALID, "axis '%c' is not known (allowed: z, y, x)", axis);
    int tiff = is_directory(path);
    hid_t file = H5I_INVALID_HID, d = H5I_INVALID_HID;
    size_t n[3];
    int digits = 0;
    tl_status st;
    if (tiff) {
        st = tl_tiff_volume_probe(path, &n[0], &n[1], &n[2], &digits, err);
    } else {
        hsize_t dims[3];
        st = open_volume_dataset(path, 0, &file, &d, dims, err);
        for (int i = 0; st == TL_OK && i < 3; i++)
            n[i] = (size_t)dims[i];
    }
    if (st != TL_OK)
        return st;
    float *v = NULL;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    /* The image: [ny][nx] for z, [nz][nx] for y, [nz][ny] for x. */
    size_t r = ax == 0 ? n[1] : n[0], c = ax == 2 ? n[1] : n[2];
    if (index >= n[ax]) {
        st = tl_error_set(err, TL_ERR_INVALID, "'%s': slice %zu along %c is outside the volume (0 to %zu)", path, index,
                          axis, n[ax] - 1);
        goto done;
    }
    v = malloc(r * c * sizeof *v);
    if (!v) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for a slice of %zu x %zu", path, r, c);
        goto done;
    }
    if (tiff) {
        st = read_tiff_slice(path, ax, index, v, n[0], n[1], n[2], digits, err);
    } else {
        hsize_t start[3] = {0, 0, 0}, count[3] = {n[0], n[1], n[2]}, mdims[2] = {r, c};
        start[ax] = index;
        count[ax] = 1;
        fspace = H5Dget_space(d);
        mspace = H5Screate_simple(2, mdims, NULL);
        if (fspace < 0 || mspace < 0 ||
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(d, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, v) < 0) {
            char what[64];
            snprintf(what, sizeof what, "slice %zu along %c", index, axis);
            st = read_failed(path, what, err);
        }
    }
done:
    if (st == TL_OK) {
        *data = v;
        *rows = r;
        *cols = c;
    } else {
        free(v);
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (d >= 0)
        H5Dclose(d);
    if (file >= 0)
        H5Fclose(file);
    return st;
}

/* ---- extra 1-D datasets (try mode's trial axes) -------------------------- */

tl_status tl_volume_writer_add_dataset_1d(tl_volume_writer *w, const char *name, const double *values, size_t n,
                                          const char *units, int along_z, tl_error *err)
{
    if (!w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_volume_writer_add_dataset_1d: no writer");
    tl_h5_quiet();
    const char *f = w->partial;
    if (!name || !*name || strlen(name) > 200 || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "data") == 0 || strcmp(name, "x") == 0 || strcmp(name, "y") == 0 || strcmp(name, "z") == 0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "'%s': '%s' cannot name a dataset of /entry/data (empty, too long, containing '/', or "
                            "one of data, x, y, z)",
                            f, name ? name : "(null)");
    if (!values || n == 0)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': no values given for /entry/data/%s", f, name);
    if (along_z && n != w->desc.nz)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': /entry/data/%s has %zu values, the volume %zu slices", f,
                            name, n, w->desc.nz);
    if (w->tiff)
        return tl_error_set(err, TL_ERR_UNSUPPORTED,
                            "'%s': a TIFF volume has no place for the dataset '%s' (--save-format h5 writes it)", f,
                            name);
    char full[256];
    snprintf(full, sizeof full, "/entry/data/%s", name);
    hid_t g = H5Gopen2(w->file, "/entry/data", H5P_DEFAULT);
    if (g < 0)
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot open /entry/data", f);
    tl_status st = TL_OK;
    if (H5Lexists(g, name, H5P_DEFAULT) != 0) {
        st = tl_error_set(err, TL_ERR_INVALID, "'%s': %s is already written", f, full);
        goto done;
    }
    if ((st = tl_h5_write_double_dataset(g, name, values, n, f, "/entry/data", err)) != TL_OK)
        goto done;
    if (units) {
        hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
        if (d < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot open %s", f, full);
            goto done;
        }
        st = tl_h5_write_string_attr(d, "units", units, f, full, err);
        H5Dclose(d);
        if (st != TL_OK)
            goto done;
    }
    if (along_z) {
        const char *axes[3] = {name, "y", "x"};
        char indices[240];
        snprintf(indices, sizeof indices, "%s_indices", name);
        if (H5Adelete(g, "axes") < 0 || H5Adelete(g, "z_indices") < 0 || H5Ldelete(g, "z", H5P_DEFAULT) < 0) {
            st = tl_error_set(err, TL_ERR_IO, "'%s': cannot replace the z axis of /entry/data by %s", f, name);
            goto done;
        }
        if ((st = tl_h5_write_string_array_attr(g, "axes", axes, 3, f, "/entry/data", err)) != TL_OK ||
            (st = tl_h5_write_int_attr(g, indices, 0, f, "/entry/data", err)) != TL_OK)
            goto done;
    }
done:
    H5Gclose(g);
    return st;
}
