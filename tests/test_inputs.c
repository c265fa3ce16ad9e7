/* test_inputs.c - one object, every input layout, the same data and the same volume.
 *
 * A Shepp-Logan phantom is projected analytically (acquire/sim.h) and turned
 * into detector counts with darks of 100, flats of 1000 times a per-column gain,
 * and - where flats are taken before and after - a drifting beam: the flat
 * intensity grows linearly with the frame index, and each projection is made
 * with the flat of its own frame. The scan is then written in every layout the
 * readers accept: NXtomo under "entry", "scan_1" and the nested
 * "/entry1/tomo_entry" (flats before, after, both; image_key 3 frames;
 * NXtransformations angles), Data Exchange (pre and post whites; whites at the
 * end only), named datasets (FILE:/path into other files and an external link),
 * a projections file with separate flat (multi-page TIFF) and dark files, a TIFF
 * directory, and normalized projections (line integrals, transmission).
 *
 * For each, what tl_scan returns, normalized with kernels/normalize.h (the
 * interpolated flat when the scan says so), must equal the phantom's line
 * integrals within 1e-4 - and, for the drifting beam, must not without the
 * interpolation. The filtered backprojections of all layouts then agree with
 * that of the exact line integrals. Reconstructions through tl_recon_run are
 * compared too: today for the layouts recon reads without options, and for all
 * of them once recon passes the [input] options to tl_scan_open_with (the test
 * finds out which by itself and skips, saying so, until then).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "fbp.h"
#include "filter.h"
#include "log.h"
#include "normalize.h"
#include "recon.h"
#include "scan.h"
#include "scan_write.h"
#include "sim.h"
#include "support.h"

#define W 32
#define R 3
#define NP 48
#define DARK 100.0
#define FLAT 1000.0
#define DRIFT 0.25 /* flat intensity grows by 25% over the frames of a drifting scan */
#define TOL 1e-4

static char tmpdir[4096];
static double angles[NP];
static float truth[NP][R][W]; /* line integrals [projection][row][column] */

static void setup(void)
{
    const char *d = tl_test_tmpdir();
    cr_assert(d != NULL, "cannot make a temporary directory");
    snprintf(tmpdir, sizeof tmpdir, "%s", d);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    tl_log_set_level(TL_LOG_WARN); /* recon's progress lines */
    for (size_t i = 0; i < NP; i++)
        angles[i] = 180.0 * (double)i / NP;
    tl_phantom *ph = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_phantom_create(TL_PHANTOM_SHEPP_LOGAN, W, R, (W - 1) / 2.0, 0, 7, &ph, &err), TL_OK, "%s",
                 err.message);
    static float row[NP * W];
    for (size_t r = 0; r < R; r++) {
        tl_phantom_project_row(ph, r, angles, NP, row);
        for (size_t p = 0; p < NP; p++)
            for (size_t c = 0; c < W; c++)
                truth[p][r][c] = row[p * W + c];
    }
    tl_phantom_destroy(&ph);
}

static void teardown(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(inputs, .init = setup, .fini = teardown, .timeout = 120);

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* ---- the detector -------------------------------------------------------- */

static double gain(size_t c)
{
    return 1.0 + 0.1 * sin(0.7 * (double)c);
}

enum { K_PROJ = 0, K_FLAT = 1, K_DARK = 2, K_BAD = 3 };

/* Frames of a key sequence: out[n][R][W]. Frame i sees the beam F0 (1 + drift i / (n - 1));
 * projection j (the j-th key 0) is truth[j]. Invalid frames hold nonsense. */
static void make_frames(const int *keys, size_t n, double drift, float *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        double beam = FLAT * (1.0 + drift * (double)i / (double)(n - 1));
        for (size_t r = 0; r < R; r++)
            for (size_t c = 0; c < W; c++) {
                double v;
                switch (keys[i]) {
                case K_PROJ:
                    v = DARK + beam * gain(c) * exp(-(double)truth[j][r][c]);
                    break;
                case K_FLAT:
                    v = DARK + beam * gain(c);
                    break;
                case K_DARK:
                    v = DARK;
                    break;
                default:
                    v = 7777.0;
                }
                out[(i * R + r) * W + c] = (float)v;
            }
        if (keys[i] == K_PROJ)
            j++;
    }
    cr_assert_eq(j, NP, "the key sequence has %zu projections, expected %d", j, NP);
}

/* keys: a list of (kind, count) pairs ending with count 0. */
static size_t key_sequence(int *keys, const int *spec)
{
    size_t n = 0;
    for (size_t i = 0; spec[2 * i + 1] > 0; i++)
        for (int k = 0; k < spec[2 * i + 1]; k++)
            keys[n++] = spec[2 * i];
    return n;
}

/* ---- HDF5 and TIFF helpers ------------------------------------------------ */

static hid_t lcpl(void)
{
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(p, 1);
    return p;
}

static void attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0);
    cr_assert(H5Awrite(a, t, &value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void attr_doubles(hid_t obj, const char *name, const double *v, hsize_t n)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0);
    cr_assert(H5Awrite(a, H5T_NATIVE_DOUBLE, v) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
}

static void string_dataset(hid_t loc, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t l = lcpl();
    hid_t d = H5Dcreate2(loc, name, t, sp, l, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0, "cannot create %s", name);
    cr_assert(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) >= 0);
    H5Dclose(d);
    H5Pclose(l);
    H5Sclose(sp);
    H5Tclose(t);
}

static hid_t doubles(hid_t loc, const char *name, const double *v, hsize_t n)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t l = lcpl();
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F64LE, sp, l, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0, "cannot create %s", name);
    cr_assert(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Pclose(l);
    H5Sclose(sp);
    return d;
}

static void ints(hid_t loc, const char *name, const int *v, hsize_t n)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t l = lcpl();
    hid_t d = H5Dcreate2(loc, name, H5T_STD_I32LE, sp, l, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0, "cannot create %s", name);
    cr_assert(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Pclose(l);
    H5Sclose(sp);
}

/* A float32 frame dataset [n][R][W], chunked like detectors write it. */
static void frames_dataset(hid_t loc, const char *name, const float *v, hsize_t n)
{
    hsize_t dims[3] = {n, R, W}, chunk[3] = {1, R, W};
    hid_t sp = H5Screate_simple(3, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (n)
        H5Pset_chunk(dcpl, 3, chunk);
    hid_t l = lcpl();
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F32LE, sp, l, dcpl, H5P_DEFAULT);
    cr_assert(d >= 0, "cannot create %s", name);
    if (n)
        cr_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Pclose(l);
    H5Pclose(dcpl);
    H5Sclose(sp);
}

static hid_t group(hid_t loc, const char *name, const char *nx_class)
{
    hid_t l = lcpl();
    hid_t g = H5Gcreate2(loc, name, l, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(l);
    cr_assert(g >= 0, "cannot create group %s", name);
    if (nx_class)
        attr_string(g, "NX_class", nx_class);
    return g;
}

/* float32 TIFF: one page per frame of v[pages][R][W]; strips of 2 rows. */
static void write_tiff(const char *path, const float *v, size_t pages)
{
    TIFF *t = TIFFOpen(path, "w");
    cr_assert(t != NULL, "cannot write %s", path);
    for (size_t p = 0; p < pages; p++) {
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)W);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)R);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 32);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 2);
        TIFFSetField(t, TIFFTAG_COMPRESSION, p % 2 ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_NONE);
        for (uint32_t r = 0; r < R; r++) {
            float line[W];
            memcpy(line, v + (p * R + r) * W, sizeof line);
            cr_assert(TIFFWriteScanline(t, line, r, 0) >= 0);
        }
        cr_assert(TIFFWriteDirectory(t));
    }
    TIFFClose(t);
}

/* ---- the layouts --------------------------------------------------------- */

typedef struct layout_case {
    const char *name;
    char input[4200];
    char data_path[4300], key_path[4300], angles_path[4300], flat_file[4300], dark_file[4300];
    tl_layout layout;
    size_t n_flat, n_dark, n_invalid;
    const char *flat_position;
    int normalized;
    int recon_without_options; /* tl_recon_run reads it correctly today */
} layout_case;

static tl_scan_options options_of(const layout_case *lc)
{
    return (tl_scan_options){.data_path = lc->data_path,
                             .image_key_path = lc->key_path,
                             .angles_path = lc->angles_path,
                             .flat_file = lc->flat_file,
                             .dark_file = lc->dark_file};
}

static float *frames_of(const int *spec, double drift, int *keys, size_t *n)
{
    *n = key_sequence(keys, spec);
    float *f = malloc(*n * R * W * sizeof *f);
    make_frames(keys, *n, drift, f);
    return f;
}

/* Per-frame angles of a key sequence (non-projection frames get 999: unused). */
static void frame_angles(const int *keys, size_t n, double *out)
{
    for (size_t i = 0, j = 0; i < n; i++)
        out[i] = keys[i] == K_PROJ ? angles[j++] : 999.0;
}

/* 1. NXtomo /entry through tl_scan_writer (darks, flats, projections). */
static void build_nx_entry(layout_case *lc)
{
    lc->name = "NXtomo /entry, flats before";
    tmp_path(lc->input, sizeof lc->input, "entry.nxs");
    static const int spec[] = {K_DARK, 2, K_FLAT, 3, K_PROJ, NP, 0, 0};
    int keys[64];
    size_t n;
    float *f = frames_of(spec, 0.0, keys, &n);
    tl_scan_desc desc = {.layout = TL_LAYOUT_NXTOMO, .pixel_type = TL_PIXEL_FLOAT32, .n_rows = R, .n_cols = W,
                         .n_proj = NP, .n_flat = 3, .n_dark = 2, .angles_deg = angles, .sample_name = "phantom"};
    tl_error err = {0};
    tl_scan_writer *w = NULL;
    cr_assert_eq(tl_scan_writer_create(lc->input, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_DARK, 0, 2, 0, R, f, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_FLAT, 0, 3, 0, R, f + 2 * R * W, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, NP, 0, R, f + 5 * R * W, &err), TL_OK, "%s",
                 err.message);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    free(f);
    lc->layout = TL_LAYOUT_NXTOMO;
    lc->n_flat = 3;
    lc->n_dark = 2;
    lc->flat_position = "before";
    lc->recon_without_options = 1;
}

/* NXtomo written by hand: entry path, parent NXentry for nested entries,
 * angles as rotation_angle or an NXtransformations rotation. */
static void write_nx(const char *path, const char *entry, int nested, const int *keys, size_t n, const float *f,
                     int transformations)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(file >= 0);
    if (nested) {
        char parent[256];
        snprintf(parent, sizeof parent, "%s", entry);
        *strrchr(parent, '/') = '\0';
        H5Gclose(group(file, parent, "NXentry"));
    }
    hid_t e = group(file, entry, nested ? "NXsubentry" : "NXentry");
    string_dataset(e, "definition", "NXtomo");
    frames_dataset(e, "instrument/detector/data", f, n);
    ints(e, "instrument/detector/image_key", keys, n);
    double fa[128];
    frame_angles(keys, n, fa);
    hid_t sample = group(e, "sample", "NXsample");
    string_dataset(sample, "name", "phantom");
    if (!transformations) {
        H5Dclose(doubles(sample, "rotation_angle", fa, n));
    } else {
        /* A chain: depends_on -> rot (about y, radians) -> offset (a translation). */
        hid_t tr = group(sample, "transformations", "NXtransformations");
        double rad[128];
        for (size_t i = 0; i < n; i++)
            rad[i] = fa[i] * M_PI / 180.0;
        hid_t rot = doubles(tr, "rot", rad, n);
        attr_string(rot, "transformation_type", "rotation");
        attr_string(rot, "units", "rad");
        attr_string(rot, "depends_on", "offset");
        const double y[3] = {0, 1, 0}, x[3] = {1, 0, 0};
        attr_doubles(rot, "vector", y, 3);
        H5Dclose(rot);
        const double zero = 0.0;
        hid_t off = doubles(tr, "offset", &zero, 1);
        attr_string(off, "transformation_type", "translation");
        attr_doubles(off, "vector", x, 3);
        attr_string(off, "depends_on", ".");
        H5Dclose(off);
        string_dataset(sample, "depends_on", "transformations/rot");
        H5Gclose(tr);
    }
    H5Gclose(sample);
    H5Gclose(e);
    cr_assert(H5Fclose(file) >= 0);
}

/* 2. NXtomo /scan_1, flats after the projections. */
static void build_nx_scan1(layout_case *lc)
{
    lc->name = "NXtomo /scan_1, flats after";
    tmp_path(lc->input, sizeof lc->input, "scan_1.nxs");
    static const int spec[] = {K_DARK, 2, K_PROJ, NP, K_FLAT, 4, 0, 0};
    int keys[64];
    size_t n;
    float *f = frames_of(spec, 0.0, keys, &n);
    write_nx(lc->input, "/scan_1", 0, keys, n, f, 0);
    free(f);
    lc->layout = TL_LAYOUT_NXTOMO;
    lc->n_flat = 4;
    lc->n_dark = 2;
    lc->flat_position = "after";
    lc->recon_without_options = 1;
}

/* 3. NXtomo /entry1/tomo_entry: flats before and after with a drifting beam,
 * invalid frames mid-scan, angles from NXtransformations. */
static void build_nx_nested(layout_case *lc)
{
    lc->name = "NXtomo /entry1/tomo_entry, flats both, image_key 3, NXtransformations";
    tmp_path(lc->input, sizeof lc->input, "nested.nxs");
    static const int spec[] = {K_FLAT, 3, K_DARK, 2, K_PROJ, NP / 2, K_BAD, 2, K_PROJ, NP / 2, K_FLAT, 3, 0, 0};
    int keys[64];
    size_t n;
    float *f = frames_of(spec, DRIFT, keys, &n);
    write_nx(lc->input, "/entry1/tomo_entry", 1, keys, n, f, 1);
    free(f);
    lc->layout = TL_LAYOUT_NXTOMO;
    lc->n_flat = 6;
    lc->n_dark = 2;
    lc->n_invalid = 2;
    lc->flat_position = "before and after";
}

/* Data Exchange: pre whites, projections, post whites (acquisition order), darks. */
static void write_dx(const char *path, size_t n_pre, size_t n_post, const char *pre_name, const char *post_name,
                     double drift)
{
    int spec[8] = {K_FLAT, (int)n_pre, K_PROJ, NP, K_FLAT, (int)n_post, 0, 0};
    if (n_pre == 0) {
        spec[0] = K_PROJ;
        spec[1] = NP;
        spec[2] = K_FLAT;
        spec[3] = (int)n_post;
        spec[5] = 0;
    }
    int keys[64];
    size_t n;
    float *f = frames_of(spec, drift, keys, &n);
    static float dark[2 * R * W];
    for (size_t i = 0; i < 2 * R * W; i++)
        dark[i] = (float)DARK;
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(file >= 0);
    if (n_pre)
        frames_dataset(file, pre_name, f, n_pre);
    frames_dataset(file, "/exchange/data", f + n_pre * R * W, NP);
    if (n_post)
        frames_dataset(file, post_name, f + (n_pre + NP) * R * W, n_post);
    frames_dataset(file, "/exchange/data_dark", dark, 2);
    hid_t th = doubles(file, "/exchange/theta", angles, NP);
    attr_string(th, "units", "degrees");
    H5Dclose(th);
    string_dataset(file, "/measurement/sample/name", "phantom");
    cr_assert(H5Fclose(file) >= 0);
    free(f);
}

/* 4. Data Exchange, whites before and after, drifting beam. */
static void build_dx_both(layout_case *lc)
{
    lc->name = "Data Exchange, data_white_pre and data_white_post";
    tmp_path(lc->input, sizeof lc->input, "dx_both.h5");
    write_dx(lc->input, 3, 3, "/exchange/data_white_pre", "/exchange/data_white_post", DRIFT);
    lc->layout = TL_LAYOUT_DXCHANGE;
    lc->n_flat = 6;
    lc->n_dark = 2;
    lc->flat_position = "before and after";
}

/* 5. Data Exchange, whites taken at the end only. */
static void build_dx_end(layout_case *lc)
{
    lc->name = "Data Exchange, whites at the end (data_white_end)";
    tmp_path(lc->input, sizeof lc->input, "dx_end.h5");
    write_dx(lc->input, 0, 4, NULL, "/exchange/data_white_end", 0.0);
    lc->layout = TL_LAYOUT_DXCHANGE;
    lc->n_flat = 4;
    lc->n_dark = 2;
    lc->flat_position = "after";
    lc->recon_without_options = 1;
}

/* 6. Named datasets: the frames are an external link (relative, into raw/),
 * the image keys in the input, the angles in meta/angles.h5 given as FILE:/path. */
static void build_named(layout_case *lc)
{
    lc->name = "named datasets, external link and FILE:/path";
    char dir[4300], raw[4300], meta[4300];
    tmp_path(dir, sizeof dir, "raw");
    mkdir(dir, 0755);
    tmp_path(dir, sizeof dir, "meta");
    mkdir(dir, 0755);
    tmp_path(raw, sizeof raw, "raw/frames.h5");
    tmp_path(meta, sizeof meta, "meta/angles.h5");
    tmp_path(lc->input, sizeof lc->input, "named.h5");
    static const int spec[] = {K_DARK, 2, K_FLAT, 3, K_PROJ, NP, K_FLAT, 3, 0, 0};
    int keys[64];
    size_t n;
    float *f = frames_of(spec, DRIFT, keys, &n);
    hid_t file = H5Fcreate(raw, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    frames_dataset(file, "/detector/stack", f, n);
    H5Fclose(file);
    double fa[128];
    frame_angles(keys, n, fa);
    file = H5Fcreate(meta, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(doubles(file, "/positions/theta", fa, n));
    H5Fclose(file);
    file = H5Fcreate(lc->input, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = group(file, "/measure", NULL);
    cr_assert(H5Lcreate_external("raw/frames.h5", "/detector/stack", g, "frames", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    ints(g, "keys", keys, n);
    H5Gclose(g);
    H5Fclose(file);
    free(f);
    snprintf(lc->data_path, sizeof lc->data_path, "/measure/frames");
    snprintf(lc->key_path, sizeof lc->key_path, "/measure/keys");
    snprintf(lc->angles_path, sizeof lc->angles_path, "meta/angles.h5:/positions/theta");
    lc->layout = TL_LAYOUT_NAMED;
    lc->n_flat = 6;
    lc->n_dark = 2;
    lc->flat_position = "before and after";
}

/* 7. Projections in one file, flats in a multi-page TIFF, darks in an HDF5 file
 * whose only 3-D dataset is not at a standard path; angles from start/step. */
static void build_separate(layout_case *lc)
{
    lc->name = "projections file with separate flat (TIFF) and dark (HDF5) files";
    tmp_path(lc->input, sizeof lc->input, "proj_only.hdf");
    static const int spec[] = {K_FLAT, 3, K_DARK, 2, K_PROJ, NP, 0, 0};
    int keys[64];
    size_t n;
    float *f = frames_of(spec, 0.0, keys, &n);
    hid_t file = H5Fcreate(lc->input, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    frames_dataset(file, "/entry/data/data", f + 5 * R * W, NP);
    H5Fclose(file);
    tmp_path(lc->flat_file, sizeof lc->flat_file, "flats.tif");
    write_tiff(lc->flat_file, f, 3);
    tmp_path(lc->dark_file, sizeof lc->dark_file, "darks.h5");
    file = H5Fcreate(lc->dark_file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    frames_dataset(file, "/camera/background/stack", f + 3 * R * W, 2);
    H5Dclose(doubles(file, "/camera/exposure", angles, 3));
    H5Fclose(file);
    /* the dark file by a name relative to the input's directory */
    snprintf(lc->dark_file, sizeof lc->dark_file, "darks.h5");
    free(f);
    lc->layout = TL_LAYOUT_FRAMES;
    lc->n_flat = 3;
    lc->n_dark = 2;
    lc->flat_position = "unknown";
}

/* 8. A TIFF directory. */
static void build_tiff_dir(layout_case *lc)
{
    lc->name = "TIFF directory";
    tmp_path(lc->input, sizeof lc->input, "tiffs");
    mkdir(lc->input, 0755);
    static const int spec[] = {K_FLAT, 3, K_DARK, 2, K_PROJ, NP, 0, 0};
    int keys[64];
    size_t n;
    float *f = frames_of(spec, 0.0, keys, &n);
    char path[4400];
    for (size_t i = 0; i < n; i++) {
        size_t index = keys[i] == K_FLAT ? i : keys[i] == K_DARK ? i - 3 : i - 5;
        const char *prefix = keys[i] == K_FLAT ? "flat" : keys[i] == K_DARK ? "dark" : "proj";
        snprintf(path, sizeof path, "%s/%s_%04zu.tif", lc->input, prefix, index);
        write_tiff(path, f + i * R * W, 1);
    }
    snprintf(path, sizeof path, "%s/angles.txt", lc->input);
    FILE *a = fopen(path, "w");
    fprintf(a, "# angles in degrees, one per projection\n\n");
    for (size_t i = 0; i < NP; i++)
        fprintf(a, "%.17g\n", angles[i]);
    fclose(a);
    free(f);
    lc->layout = TL_LAYOUT_TIFF;
    lc->n_flat = 3;
    lc->n_dark = 2;
    lc->flat_position = "unknown";
    lc->recon_without_options = 1;
}

/* 9, 10. Normalized projections written by tl_scan_writer. */
static void build_normalized(layout_case *lc, int transmission)
{
    lc->name = transmission ? "normalized projections (transmission, Data Exchange)"
                            : "normalized projections (line integrals, NXtomo)";
    tmp_path(lc->input, sizeof lc->input, transmission ? "transmission.h5" : "line_integrals.nxs");
    tl_scan_desc desc = {.layout = transmission ? TL_LAYOUT_DXCHANGE : TL_LAYOUT_NXTOMO,
                         .pixel_type = TL_PIXEL_FLOAT32, .n_rows = R, .n_cols = W, .n_proj = NP,
                         .angles_deg = angles, .content = transmission ? "transmission" : "line_integrals"};
    static float v[NP][R][W];
    for (size_t p = 0; p < NP; p++)
        for (size_t r = 0; r < R; r++)
            for (size_t c = 0; c < W; c++)
                v[p][r][c] = transmission ? (float)exp(-(double)truth[p][r][c]) : truth[p][r][c];
    tl_error err = {0};
    tl_scan_writer *w = NULL;
    cr_assert_eq(tl_scan_writer_create(lc->input, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_writer_put(w, TL_KEY_PROJECTION, 0, NP, 0, R, &v[0][0][0], &err), TL_OK, "%s",
                 err.message);
    cr_assert_eq(tl_scan_writer_commit(&w, &err), TL_OK, "%s", err.message);
    lc->layout = desc.layout;
    lc->flat_position = "none";
    lc->normalized = transmission ? 2 : 1;
}

#define N_CASES 10

static void build_all(layout_case *cases)
{
    memset(cases, 0, N_CASES * sizeof *cases);
    build_nx_entry(&cases[0]);
    build_nx_scan1(&cases[1]);
    build_nx_nested(&cases[2]);
    build_dx_both(&cases[3]);
    build_dx_end(&cases[4]);
    build_named(&cases[5]);
    build_separate(&cases[6]);
    build_tiff_dir(&cases[7]);
    build_normalized(&cases[8], 0);
    build_normalized(&cases[9], 1);
}

/* ---- checks -------------------------------------------------------------- */

/* Line integrals [NP][R][W] of a layout through tl_scan (+ normalize). With
 * interpolate = 0 the mean of all flats is used even where the scan has both. */
static void line_integrals(const layout_case *lc, int interpolate, float *out)
{
    tl_scan_options opt = options_of(lc);
    tl_error err = {0};
    tl_scan *s = NULL;
    cr_assert_eq(tl_scan_open_with(lc->input, &opt, &s, &err), TL_OK, "%s: %s", lc->name, err.message);
    const tl_scan_info *in = tl_scan_get_info(s);
    cr_assert_eq(in->n_proj, NP, "%s", lc->name);
    cr_assert_eq(in->n_rows, R);
    cr_assert_eq(in->n_cols, W);
    cr_assert_eq(in->normalized, lc->normalized, "%s", lc->name);
    cr_assert_eq(tl_scan_read_projections(s, 0, R, out, &err), TL_OK, "%s: %s", lc->name, err.message);
    if (in->normalized == 1) {
        /* as is */
    } else if (in->normalized == 2) {
        for (size_t i = 0; i < (size_t)NP * R * W; i++)
            out[i] = -logf(out[i]);
    } else {
        float before[R * W], after[R * W], dark[R * W];
        cr_assert_eq(tl_scan_read_flat_pair(s, 0, R, before, after, &err), TL_OK, "%s", err.message);
        cr_assert_eq(tl_scan_read_dark_mean(s, 0, R, dark, &err), TL_OK, "%s", err.message);
        if (!interpolate) {
            cr_assert_eq(tl_scan_read_flat_mean(s, 0, R, before, &err), TL_OK, "%s", err.message);
            memcpy(after, before, sizeof after);
        }
        cr_assert_eq(tl_normalize_interp_cpu(out, NP, R, W, before, after, interpolate ? in->flat_after_weight : NULL,
                                             dark, 1, 0, NULL, NULL, &err),
                     TL_OK, "%s: %s", lc->name, err.message);
    }
    tl_scan_close(&s);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d;
    }
    return m;
}

/* FBP of sinograms made from projections [NP][R][W]: out[R][W][W]. */
static void fbp(const float *proj, float *out)
{
    static float sino[R][NP][W];
    for (size_t p = 0; p < NP; p++)
        for (size_t r = 0; r < R; r++)
            memcpy(sino[r][p], proj + (p * R + r) * W, W * sizeof(float));
    tl_filter_window window;
    tl_error err = {0};
    cr_assert_eq(tl_filter_parse("ramp", &window, &err), TL_OK);
    tl_fbp_desc desc = {.n_angles = NP, .n_cols = W, .n = W, .max_slices = R, .angles_deg = angles,
                        .axis = (W - 1) / 2.0, .window = window, .backend = TL_BACKEND_CPU};
    tl_fbp_plan *plan = NULL;
    cr_assert_eq(tl_fbp_plan_create(&desc, NULL, &plan, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_fbp_exec_copy(plan, &sino[0][0][0], R, out, &err), TL_OK, "%s", err.message);
    tl_fbp_plan_destroy(&plan);
}

Test(inputs, every_layout_reads_the_same_line_integrals)
{
    static layout_case cases[N_CASES];
    build_all(cases);
    static float li[NP * R * W];
    for (int i = 0; i < N_CASES; i++) {
        const layout_case *lc = &cases[i];
        /* what the reader says about the scan */
        tl_scan_options opt = options_of(lc);
        tl_error err = {0};
        tl_scan *s = NULL;
        cr_assert_eq(tl_scan_open_with(lc->input, &opt, &s, &err), TL_OK, "%s: %s", lc->name, err.message);
        const tl_scan_info *in = tl_scan_get_info(s);
        cr_assert_eq(in->layout, lc->layout, "%s: layout %d", lc->name, (int)in->layout);
        cr_assert_eq(in->n_flat, lc->n_flat, "%s: %zu flats", lc->name, in->n_flat);
        cr_assert_eq(in->n_dark, lc->n_dark, "%s: %zu darks", lc->name, in->n_dark);
        cr_assert_eq(in->n_invalid, lc->n_invalid, "%s", lc->name);
        cr_assert_str_eq(in->flat_position, lc->flat_position, "%s", lc->name);
        cr_assert_eq(in->flat_after_weight != NULL, strcmp(lc->flat_position, "before and after") == 0, "%s",
                     lc->name);
        for (size_t p = 0; p < NP; p++)
            cr_assert_float_eq(in->angles_deg[p], angles[p], 1e-9, "%s: angle %zu is %.12g", lc->name, p,
                               in->angles_deg[p]);
        if (lc->layout == TL_LAYOUT_NXTOMO && !lc->normalized) {
            cr_assert_not_null(in->sample_name, "%s", lc->name);
            cr_assert_str_eq(in->sample_name, "phantom");
            cr_assert_not_null(in->entry_path);
        }
        tl_scan_close(&s);

        line_integrals(lc, 1, li);
        double d = max_diff(li, &truth[0][0][0], (size_t)NP * R * W);
        cr_assert(d <= TOL, "%s: line integrals differ from the phantom's by %g (allowed %g)", lc->name, d, TOL);
        if (strcmp(lc->flat_position, "before and after") == 0) {
            /* The drifting beam: without the interpolation the data is off. */
            line_integrals(lc, 0, li);
            d = max_diff(li, &truth[0][0][0], (size_t)NP * R * W);
            cr_assert(d > 20 * TOL, "%s: the mean flat should miss the drift, but the error is only %g", lc->name, d);
        }
    }
}

Test(inputs, nested_entry_and_weights)
{
    layout_case lc = {0};
    build_nx_nested(&lc);
    tl_scan *s = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_scan_open(lc.input, &s, &err), TL_OK, "%s", err.message);
    const tl_scan_info *in = tl_scan_get_info(s);
    cr_assert_str_eq(in->entry_path, "/entry1/tomo_entry");
    cr_assert_str_eq(in->data_path, "/entry1/tomo_entry/instrument/detector/data");
    cr_assert(strstr(in->angles_source, "/entry1/tomo_entry/sample/transformations/rot") != NULL, "%s",
              in->angles_source);
    cr_assert_eq(in->n_flat_before, 3);
    cr_assert_eq(in->n_flat_after, 3);
    /* Frames: F F F D D P*24 X X P*24 F F F; flat centres at frames 1 and 56. */
    for (size_t p = 0; p < NP; p++) {
        double frame = p < NP / 2 ? 5.0 + (double)p : 7.0 + (double)p;
        cr_assert_float_eq(in->flat_after_weight[p], (frame - 1.0) / 55.0, 1e-12, "weight %zu", p);
    }
    /* The pair: means of each group. */
    float before[R * W], after[R * W], mean[R * W];
    cr_assert_eq(tl_scan_read_flat_pair(s, 0, R, before, after, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_scan_read_flat_mean(s, 0, R, mean, &err), TL_OK, "%s", err.message);
    size_t n_frames = 3 + 2 + NP + 2 + 3;
    for (size_t c = 0; c < W; c++) {
        double fb = DARK + FLAT * (1 + DRIFT * 1.0 / (double)(n_frames - 1)) * gain(c);
        double fa = DARK + FLAT * (1 + DRIFT * 56.0 / (double)(n_frames - 1)) * gain(c);
        cr_assert_float_eq(before[c], fb, 1e-3);
        cr_assert_float_eq(after[c], fa, 1e-3);
        cr_assert_float_eq(mean[c], (fb + fa) / 2, 1e-3);
    }
    tl_scan_close(&s);
}

Test(inputs, every_layout_gives_the_same_filtered_backprojection)
{
    static layout_case cases[N_CASES];
    build_all(cases);
    static float li[NP * R * W], ref[R * W * W], vol[R * W * W];
    fbp(&truth[0][0][0], ref);
    double peak = 0;
    for (size_t i = 0; i < (size_t)R * W * W; i++)
        peak = fabs(ref[i]) > peak ? fabs(ref[i]) : peak;
    cr_assert(peak > 0.01, "the reference volume is empty");
    for (int i = 0; i < N_CASES; i++) {
        line_integrals(&cases[i], 1, li);
        fbp(li, vol);
        double d = max_diff(vol, ref, (size_t)R * W * W);
        cr_assert(d <= 1e-3 * peak, "%s: volume differs by %g (peak %g)", cases[i].name, d, peak);
    }
}

/* ---- through recon -------------------------------------------------------- */

static void read_volume(const char *path, float *out)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", path);
    hid_t d = H5Dopen2(f, "/entry/data/data", H5P_DEFAULT);
    cr_assert(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[3];
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), 3);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    cr_assert(dims[0] == R && dims[1] == W && dims[2] == W, "volume of %llu x %llu x %llu",
              (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2]);
    cr_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
}

static tl_status run_recon(const layout_case *lc, const char *output, tl_error *err)
{
    static tl_config cfg;
    tl_config_defaults(&cfg);
    snprintf(cfg.data_path, sizeof cfg.data_path, "%s", lc->data_path);
    snprintf(cfg.image_key_path, sizeof cfg.image_key_path, "%s", lc->key_path);
    snprintf(cfg.angles_path, sizeof cfg.angles_path, "%s", lc->angles_path);
    snprintf(cfg.flat_file_name, sizeof cfg.flat_file_name, "%s", lc->flat_file);
    snprintf(cfg.dark_file_name, sizeof cfg.dark_file_name, "%s", lc->dark_file);
    snprintf(cfg.backend, sizeof cfg.backend, "cpu");
    cfg.threads = 2;
    cfg.overwrite = 1;
    tl_recon_report rep;
    return tl_recon_run(&cfg, lc->input, output, &rep, err);
}

static void compare_recon(const layout_case *lc, const float *ref, double peak)
{
    static float vol[R * W * W];
    char out[4300];
    tmp_path(out, sizeof out, "recon.nxs");
    tl_error err = {0};
    cr_assert_eq(run_recon(lc, out, &err), TL_OK, "%s: %s", lc->name, err.message);
    read_volume(out, vol);
    double d = max_diff(vol, ref, (size_t)R * W * W);
    cr_assert(d <= 1e-3 * peak, "%s: recon's volume differs by %g from the FBP of the exact line integrals (peak %g)",
              lc->name, d, peak);
}

Test(inputs, recon_same_volume_from_layouts_without_options)
{
    static layout_case cases[N_CASES];
    build_all(cases);
    static float ref[R * W * W];
    fbp(&truth[0][0][0], ref);
    double peak = 0;
    for (size_t i = 0; i < (size_t)R * W * W; i++)
        peak = fabs(ref[i]) > peak ? fabs(ref[i]) : peak;
    int n = 0;
    for (int i = 0; i < N_CASES; i++)
        if (cases[i].recon_without_options) {
            compare_recon(&cases[i], ref, peak);
            n++;
        }
    cr_assert_geq(n, 4);
}

/* Does tl_recon_run pass the [input] options to the reader? A data path that
 * does not exist must then fail; today recon ignores it. */
static int recon_uses_input_options(const layout_case *nx)
{
    layout_case probe = *nx;
    snprintf(probe.data_path, sizeof probe.data_path, "/no/such/frames");
    char out[4300];
    tmp_path(out, sizeof out, "probe.nxs");
    tl_error err = {0};
    tl_status st = run_recon(&probe, out, &err);
    unlink(out);
    if (st == TL_OK)
        return 0;
    cr_assert(strstr(err.message, "/no/such/frames") != NULL, "recon failed for another reason: %s", err.message);
    return 1;
}

Test(inputs, recon_same_volume_from_every_layout)
{
    static layout_case cases[N_CASES];
    build_all(cases);
    if (!recon_uses_input_options(&cases[0]))
        cr_skip_test("tl_recon_run does not pass the [input] options to tl_scan_open_with yet (nor interpolate "
                     "flats or skip normalization): this test runs once it does");
    static float ref[R * W * W];
    fbp(&truth[0][0][0], ref);
    double peak = 0;
    for (size_t i = 0; i < (size_t)R * W * W; i++)
        peak = fabs(ref[i]) > peak ? fabs(ref[i]) : peak;
    for (int i = 0; i < N_CASES; i++)
        compare_recon(&cases[i], ref, peak);
}
