/* test_provenance.c - where a volume came from: SHA-256 (known answers, files
 * compared with sha256sum), and a volume written from a simulated scan with the
 * full /entry/process record and the input's /entry/sample and
 * /entry/instrument copied (without the frames), all read back with the HDF5
 * API. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hdf5_util.h"
#include "sha256.h"
#include "sim.h"
#include "support.h"
#include "version.h"
#include "volume.h"

static char tmpdir[4096];

static void make_tmp(void)
{
    const char *d = tl_test_tmpdir();
    cr_assert(d != NULL, "cannot make a temporary directory");
    snprintf(tmpdir, sizeof tmpdir, "%s", d);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void remove_tmp(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(provenance, .init = make_tmp, .fini = remove_tmp);

/* ---- SHA-256 --------------------------------------------------------------- */

static void expect_buffer_sha(const void *data, size_t n, const char *want)
{
    char hex[65];
    tl_error err = {0};
    cr_assert_eq(tl_sha256_buffer(data, n, hex, &err), TL_OK, "%s", err.message);
    cr_assert_str_eq(hex, want);
}

/* FIPS 180-2 appendix B and the NIST example vectors. */
Test(provenance, sha256_known_answers)
{
    expect_buffer_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_buffer_sha(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_buffer_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_buffer_sha(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    expect_buffer_sha(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* The same through a file. */
    char path[4200], hex[65];
    snprintf(path, sizeof path, "%s/million_a", tmpdir);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(million, 1, 1000000, f), 1000000);
    fclose(f);
    free(million);
    tl_error err = {0};
    cr_assert_eq(tl_sha256_file(path, hex, &err), TL_OK, "%s", err.message);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* The checksum by an independent program. */
static void sha256sum(const char *path, char hex[65])
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "cannot run sha256sum");
    cr_assert_eq(fscanf(p, "%64s", hex), 1, "no output from sha256sum");
    cr_assert_eq(pclose(p), 0, "sha256sum failed");
}

Test(provenance, sha256_file_across_read_blocks)
{
    /* 3 MiB + 17 bytes: several 1 MiB reads and a short last one. */
    char path[4200], got[65], want[65];
    snprintf(path, sizeof path, "%s/blocks.bin", tmpdir);
    size_t n = 3 * 1048576 + 17;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    FILE *f = fopen(path, "wb");
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    tl_error err = {0};
    cr_assert_eq(tl_sha256_file(path, got, &err), TL_OK, "%s", err.message);
    sha256sum(path, want);
    cr_assert_str_eq(got, want);
    cr_assert_eq(tl_sha256_buffer(buf, n, got, &err), TL_OK);
    cr_assert_str_eq(got, want);
    free(buf);
}

Test(provenance, sha256_file_errors)
{
    char path[4200], hex[65], msg[4400];
    tl_error err = {0};
    snprintf(path, sizeof path, "%s/absent.nxs", tmpdir);
    cr_assert_eq(tl_sha256_file(path, hex, &err), TL_ERR_IO);
    snprintf(msg, sizeof msg, "cannot open '%s' for its SHA-256 checksum: No such file or directory", path);
    cr_assert_str_eq(err.message, msg);
    cr_assert_str_eq(hex, "");
    cr_assert_eq(tl_sha256_file(tmpdir, hex, &err), TL_ERR_INVALID);
    snprintf(msg, sizeof msg, "'%s' is a directory; a SHA-256 checksum needs a file", tmpdir);
    cr_assert_str_eq(err.message, msg);
}

/* ---- a volume with its full provenance ----------------------------------- */

static void expect_string(hid_t file, const char *path, const char *want)
{
    char buf[8192];
    cr_assert_eq(tl_h5_read_string_dataset(file, path, buf, sizeof buf), 0, "no string dataset %s", path);
    cr_assert_str_eq(buf, want, "%s", path);
}

static double read_scalar(hid_t file, const char *path)
{
    double v = NAN;
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    cr_assert(d >= 0, "no dataset %s", path);
    cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0);
    H5Dclose(d);
    return v;
}

/* Every string of a string-array attribute, joined by '\n'. */
static void read_string_array_attr(hid_t file, const char *obj_path, const char *name, char *out, size_t size)
{
    hid_t o = H5Oopen(file, obj_path, H5P_DEFAULT);
    cr_assert(o >= 0, "no object %s", obj_path);
    hid_t a = H5Aopen(o, name, H5P_DEFAULT);
    cr_assert(a >= 0, "%s has no attribute %s", obj_path, name);
    hid_t s = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char **v = calloc((size_t)n, sizeof *v);
    cr_assert(H5Aread(a, t, v) >= 0);
    out[0] = '\0';
    for (hssize_t i = 0; i < n; i++) {
        strncat(out, v[i], size - strlen(out) - 2);
        strcat(out, "\n");
    }
    H5Dvlen_reclaim(t, s, H5P_DEFAULT, v);
    free(v);
    H5Tclose(t);
    H5Sclose(s);
    H5Aclose(a);
    H5Oclose(o);
}

/* Add what real facility files carry beside the frames: a source group with
 * attributes, an external link to a file that is not there, a soft link. */
static void decorate_input(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t g = H5Gcreate2(f, "/entry/instrument/source", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    tl_error err = {0};
    cr_assert_eq(tl_h5_write_string_attr(g, "NX_class", "NXsource", path, "/entry/instrument/source", &err), TL_OK);
    cr_assert_eq(tl_h5_write_string_dataset(g, "name", "Diamond Light Source", path, "/entry/instrument/source", &err),
                 TL_OK);
    cr_assert_eq(tl_h5_write_double_attr(g, "energy_GeV", 3.0, path, "/entry/instrument/source", &err), TL_OK);
    H5Gclose(g);
    cr_assert(H5Lcreate_external("flats_elsewhere.h5", "/flats", f, "/entry/instrument/detector/flat_ext",
                                 H5P_DEFAULT, H5P_DEFAULT) >= 0);
    cr_assert(H5Lcreate_soft("/entry/sample/rotation_angle", f, "/entry/sample/angle_alias", H5P_DEFAULT,
                             H5P_DEFAULT) >= 0);
    H5Fclose(f);
}

static void make_scan(const char *path)
{
    tl_sim_params p;
    tl_sim_params_default(&p);
    p.size = 64;
    p.angles = 360;
    p.slices = 16;
    tl_error err = {0};
    cr_assert_eq(tl_sim_write(&p, path, NULL, NULL, &err), TL_OK, "%s", err.message);
}

Test(provenance, volume_records_where_it_came_from)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", tmpdir);
    snprintf(out, sizeof out, "%s/scan_rec.nxs", tmpdir);
    make_scan(scan);
    decorate_input(scan);

    tl_error err = {0};
    char sha[65], date[64], host[256] = "unknown";
    cr_assert_eq(tl_sha256_file(scan, sha, &err), TL_OK, "%s", err.message);
    tl_cli_iso_date(date, sizeof date);
    gethostname(host, sizeof host - 1);

    tl_volume_desc desc = {.nz = 4, .ny = 8, .nx = 8, .z_first = 6};
    tl_volume_writer *w = NULL;
    cr_assert_eq(tl_volume_writer_create(out, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    float slab[4 * 8 * 8];
    for (int i = 0; i < 4 * 8 * 8; i++)
        slab[i] = (float)i;
    cr_assert_eq(tl_volume_writer_write(w, 0, 4, slab, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_copy_metadata(w, scan, NULL, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_copy_metadata(w, scan, NULL, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "already copied"), "%s", err.message);
    const char *names[3] = {"--rotation-axis", "--fbp-filter", "--compression"};
    const char *sections[3] = {"recon", "recon", "output"};
    const char *values[3] = {"31.5", "ramp", "none"};
    const char *ini = "[recon]\nrotation-axis = 31.5\nfbp-filter = ramp\n\n[output]\ncompression = none\n";
    const char *stages[3] = {"read", "filter_backproject", "write"};
    const double seconds[3] = {0.125, 3.5, 0.25};
    tl_provenance prov = {.program = "tomoline", .version = tl_version(), .git_revision = tl_git_revision(),
                          .date = date, .host = host, .backend = "cpu", .input_file = scan, .input_sha256 = sha,
                          .rotation_axis = 31.5, .rotation_axis_method = "given", .n_params = 3,
                          .param_names = names, .param_sections = sections, .param_values = values,
                          .config_ini = ini, .n_stages = 3, .stage_names = stages, .stage_seconds = seconds};
    cr_assert_eq(tl_volume_writer_set_provenance(w, &prov, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    char buf[8192];
    /* /entry/process */
    hid_t proc = H5Oopen(f, "/entry/process", H5P_DEFAULT);
    cr_assert_eq(tl_h5_read_string_attr(proc, "NX_class", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "NXprocess");
    H5Oclose(proc);
    expect_string(f, "/entry/process/program", "tomoline");
    expect_string(f, "/entry/process/version", tl_version());
    expect_string(f, "/entry/process/git_revision", tl_git_revision());
    cr_assert_eq(tl_h5_read_string_dataset(f, "/entry/process/date", buf, sizeof buf), 0);
    int yy, mo, dd, hh, mi, ss, zh, zm;
    char sign;
    cr_assert_eq(sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%c%2d:%2d", &yy, &mo, &dd, &hh, &mi, &ss, &sign, &zh, &zm), 9,
                 "date '%s' is not ISO 8601 with an offset", buf);
    cr_assert(strlen(buf) == 25 && (sign == '+' || sign == '-') && mo >= 1 && mo <= 12 && dd >= 1 && dd <= 31 &&
                  hh < 24 && mi < 60 && ss < 61,
              "date '%s'", buf);
    expect_string(f, "/entry/process/host", host);
    expect_string(f, "/entry/process/backend", "cpu");
    expect_string(f, "/entry/process/input_file", scan);
    /* The checksum, against sha256sum run on the input now. */
    char want_sha[65];
    sha256sum(scan, want_sha);
    expect_string(f, "/entry/process/input_file_sha256", want_sha);
    cr_assert_eq(read_scalar(f, "/entry/process/rotation_axis"), 31.5);
    hid_t ra = H5Oopen(f, "/entry/process/rotation_axis", H5P_DEFAULT);
    cr_assert_eq(tl_h5_read_string_attr(ra, "method", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "given");
    H5Oclose(ra);
    cr_assert_eq(tl_h5_read_string_dataset(f, "/entry/process/config", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "[recon]\nrotation-axis = 31.5\nfbp-filter = ramp\n\n[output]\ncompression = none");
    expect_string(f, "/entry/process/parameters/rotation-axis", "31.5");
    expect_string(f, "/entry/process/parameters/compression", "none");
    cr_assert_eq(read_scalar(f, "/entry/process/stage_times/read"), 0.125);
    cr_assert_eq(read_scalar(f, "/entry/process/stage_times/filter_backproject"), 3.5);
    cr_assert_eq(read_scalar(f, "/entry/process/stage_times/write"), 0.25);

    /* /entry/sample: copied with its attributes; the soft link left out. */
    hid_t in = H5Fopen(scan, H5F_ACC_RDONLY, H5P_DEFAULT);
    char in_name[256];
    cr_assert_eq(tl_h5_read_string_dataset(in, "/entry/sample/name", in_name, sizeof in_name), 0);
    expect_string(f, "/entry/sample/name", in_name);
    hid_t s = H5Oopen(f, "/entry/sample", H5P_DEFAULT);
    cr_assert_eq(tl_h5_read_string_attr(s, "NX_class", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "NXsample");
    H5Oclose(s);
    hid_t da = H5Dopen2(in, "/entry/sample/rotation_angle", H5P_DEFAULT);
    hid_t db = H5Dopen2(f, "/entry/sample/rotation_angle", H5P_DEFAULT);
    cr_assert(db >= 0, "rotation_angle not copied");
    hssize_t n = H5Sget_simple_extent_npoints(H5Dget_space(da));
    cr_assert_eq(H5Sget_simple_extent_npoints(H5Dget_space(db)), n);
    double *a1 = malloc((size_t)n * sizeof *a1), *a2 = malloc((size_t)n * sizeof *a2);
    H5Dread(da, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a1);
    H5Dread(db, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a2);
    cr_assert_eq(memcmp(a1, a2, (size_t)n * sizeof *a1), 0);
    free(a1);
    free(a2);
    H5Dclose(da);
    hid_t ua = H5Oopen(f, "/entry/sample/rotation_angle", H5P_DEFAULT);
    cr_assert_eq(tl_h5_read_string_attr(ua, "units", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "degrees");
    H5Oclose(ua);
    H5Dclose(db);
    cr_assert_eq(H5Lexists(f, "/entry/sample/angle_alias", H5P_DEFAULT), 0);
    read_string_array_attr(f, "/entry/sample", "tomoline_skipped", buf, sizeof buf);
    cr_assert_str_eq(buf, "angle_alias (soft link to /entry/sample/rotation_angle)\n");

    /* /entry/instrument: everything but the frames and the external link. */
    cr_assert_gt(H5Lexists(f, "/entry/instrument/detector/image_key", H5P_DEFAULT), 0);
    cr_assert_eq(H5Lexists(f, "/entry/instrument/detector/data", H5P_DEFAULT), 0, "the frames were copied");
    cr_assert_eq(H5Lexists(f, "/entry/instrument/detector/flat_ext", H5P_DEFAULT), 0);
    expect_string(f, "/entry/instrument/source/name", "Diamond Light Source");
    hid_t src = H5Oopen(f, "/entry/instrument/source", H5P_DEFAULT);
    cr_assert_eq(tl_h5_read_string_attr(src, "NX_class", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "NXsource");
    hid_t ea = H5Aopen(src, "energy_GeV", H5P_DEFAULT);
    double gev = 0;
    cr_assert(ea >= 0 && H5Aread(ea, H5T_NATIVE_DOUBLE, &gev) >= 0);
    cr_assert_eq(gev, 3.0);
    H5Aclose(ea);
    H5Oclose(src);
    hid_t det = H5Oopen(f, "/entry/instrument/detector", H5P_DEFAULT);
    cr_assert_eq(tl_h5_read_string_attr(det, "NX_class", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "NXdetector");
    H5Oclose(det);
    hid_t frames = H5Dopen2(in, "/entry/instrument/detector/data", H5P_DEFAULT);
    hid_t ft = H5Dget_type(frames);
    double mib = (double)H5Sget_simple_extent_npoints(H5Dget_space(frames)) * (double)H5Tget_size(ft) / 1048576.0;
    cr_assert_gt(mib, 1.0, "the simulated frames must be larger than 1 MiB for this test");
    H5Tclose(ft);
    H5Dclose(frames);
    char want_skips[512];
    snprintf(want_skips, sizeof want_skips,
             "detector/data (dataset of %.1f MiB, over the 1 MiB copied)\n"
             "detector/flat_ext (external link to flats_elsewhere.h5:/flats)\n",
             mib);
    read_string_array_attr(f, "/entry/instrument", "tomoline_skipped", buf, sizeof buf);
    cr_assert_str_eq(buf, want_skips);
    H5Fclose(in);
    H5Fclose(f);

    /* The copy never touched the input. */
    char after[65];
    cr_assert_eq(tl_sha256_file(scan, after, &err), TL_OK);
    cr_assert_str_eq(after, sha);
}

Test(provenance, copy_metadata_missing_groups_and_errors)
{
    char scan[4200], out[4200];
    snprintf(scan, sizeof scan, "%s/dx.h5", tmpdir);
    snprintf(out, sizeof out, "%s/dx_rec.nxs", tmpdir);
    tl_sim_params p;
    tl_sim_params_default(&p);
    p.size = 16;
    p.angles = 20;
    p.slices = 2;
    p.layout = TL_LAYOUT_DXCHANGE;
    tl_error err = {0};
    cr_assert_eq(tl_sim_write(&p, scan, NULL, NULL, &err), TL_OK, "%s", err.message);

    tl_volume_desc desc = {.nz = 1, .ny = 2, .nx = 2};
    tl_volume_writer *w = NULL;
    cr_assert_eq(tl_volume_writer_create(out, &desc, 0, &w, &err), TL_OK, "%s", err.message);
    /* A Data Exchange file without /measurement, and an entry that does not
     * exist: nothing to copy, no error. */
    cr_assert_eq(tl_volume_writer_copy_metadata(w, scan, "/no_such_entry", &err), TL_OK, "%s", err.message);
    float zero[4] = {0};
    cr_assert_eq(tl_volume_writer_write(w, 0, 1, zero, &err), TL_OK);
    cr_assert_eq(tl_volume_writer_commit(&w, &err), TL_OK, "%s", err.message);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_eq(H5Lexists(f, "/entry/sample", H5P_DEFAULT), 0);
    cr_assert_eq(H5Lexists(f, "/entry/instrument", H5P_DEFAULT), 0);
    H5Fclose(f);

    /* A missing input names the file; the volume being written is unharmed. */
    cr_assert_eq(tl_volume_writer_create(out, &desc, 1, &w, &err), TL_OK, "%s", err.message);
    char missing[4300], msg[4400];
    snprintf(missing, sizeof missing, "%s/absent.nxs", tmpdir);
    cr_assert_eq(tl_volume_writer_copy_metadata(w, missing, NULL, &err), TL_ERR_IO);
    snprintf(msg, sizeof msg, "cannot open '%s': No such file or directory", missing);
    cr_assert_str_eq(err.message, msg);
    tl_volume_writer_abort(&w);

    /* A bad checksum string is refused. */
    cr_assert_eq(tl_volume_writer_create(out, &desc, 1, &w, &err), TL_OK, "%s", err.message);
    tl_provenance prov = {.rotation_axis = NAN, .input_sha256 = "abc"};
    cr_assert_eq(tl_volume_writer_set_provenance(w, &prov, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "SHA-256 'abc' is not 64 hex digits"), "%s", err.message);
    tl_volume_writer_abort(&w);
}
