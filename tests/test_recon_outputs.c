/* test_recon_outputs.c - what recon does around the reconstruction (issue 3):
 * provenance with the input's SHA-256, TIFF and compressed outputs, the preview,
 * the catalog record (also through the outbox when the catalog is down), and the
 * errors that must come before any work. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sha256.h"
#include "support.h"
#include "volume.h"

static char dir[4096], scan[4200];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 32 --angles 40 --slices 3 --quiet", scan);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
}
TestSuite(recon_outputs, .init = setup);

static void read_string(hid_t f, const char *path, char *buf, size_t size)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s missing", path);
    hid_t t = H5Dget_type(d);
    cr_assert(H5Tis_variable_str(t) > 0, "%s is not a variable-length string", path);
    char *s = NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    cr_assert_geq(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s), 0);
    snprintf(buf, size, "%s", s ? s : "");
    H5free_memory(s);
    H5Tclose(mt);
    H5Tclose(t);
    H5Dclose(d);
}

Test(recon_outputs, provenance_holds_the_input_checksum_and_no_password)
{
    char out[4300];
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    tl_test_run_result r;
    /* the catalog is down (closed loopback port): the record goes to the outbox, the password stays secret */
    tl_test_run(&r, "recon '%s' -o '%s' --catalog 'postgresql://tomo:s3cret@127.0.0.1:1/cat' --catalog-timeout 1 "
                    "--outbox '%s/outbox'",
                scan, out, dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "waits in the outbox"), "%s", r.out);
    cr_assert(!strstr(r.out, "s3cret") && !strstr(r.err, "s3cret"), "password printed: %s %s", r.out, r.err);
    char expect[65];
    tl_error err = {0};
    cr_assert_eq(tl_sha256_file(scan, expect, &err), TL_OK);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    char buf[65536];
    read_string(f, "/entry/process/input_file_sha256", buf, sizeof buf);
    cr_assert_str_eq(buf, expect);
    read_string(f, "/entry/process/config", buf, sizeof buf);
    cr_assert(!strstr(buf, "s3cret") && strstr(buf, "tomo:***@127.0.0.1"), "%s", buf);
    read_string(f, "/entry/process/parameters/catalog", buf, sizeof buf);
    cr_assert(!strstr(buf, "s3cret"), "%s", buf);
    cr_assert_gt(H5Lexists(f, "/entry/sample", H5P_DEFAULT), 0, "the input's sample group is copied");
    H5Fclose(f);

    /* the catalog is back: push delivers the record once */
    tl_test_run(&r, "catalog push --catalog 'sqlite:%s/cat.db' --outbox '%s/outbox'", dir, dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    tl_test_run(&r, "catalog list --catalog 'sqlite:%s/cat.db' --json", dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "rec.nxs") && strstr(r.out, expect), "%s", r.out);
    tl_test_run(&r, "catalog push --catalog 'sqlite:%s/cat.db' --outbox '%s/outbox'", dir, dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    tl_test_run(&r, "catalog list --catalog 'sqlite:%s/cat.db'", dir);
    const char *first = strstr(r.out, "rec.nxs");
    cr_assert(first && !strstr(first + 1, "rec.nxs"), "the record must be there once: %s", r.out);
}

Test(recon_outputs, sqlite_catalog_preview_tiff_and_compression)
{
    char out[4300], tif[4300], path[4400];
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    snprintf(tif, sizeof tif, "%s/rec_tiff", dir);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --catalog 'sqlite:%s/cat.db' --preview --compression gzip --quiet", scan,
                out, dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "registered in sqlite:"), "%s", r.out);
    snprintf(path, sizeof path, "%s/rec_z0001.png", dir);
    cr_assert(tl_test_file_exists(path), "no preview at %s: %s", path, r.out);
    tl_test_run(&r, "catalog search --catalog 'sqlite:%s/cat.db' --sample shepp", dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "rec.nxs"), "%s", r.out);
    tl_test_run(&r, "recon '%s' -o '%s' --save-format tiff --quiet", scan, tif);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    snprintf(path, sizeof path, "%s/slice_00002.tif", tif);
    cr_assert(tl_test_file_exists(path));
    /* the same values in both formats */
    float *a = NULL, *b = NULL;
    size_t z1, y1, x1, z2, y2, x2;
    tl_error err = {0};
    cr_assert_eq(tl_volume_read(out, &a, &z1, &y1, &x1, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_read(tif, &b, &z2, &y2, &x2, &err), TL_OK, "%s", err.message);
    cr_assert(z1 == z2 && y1 == y2 && x1 == x2);
    cr_assert_eq(memcmp(a, b, z1 * y1 * x1 * sizeof *a), 0);
    free(a);
    free(b);
}

Test(recon_outputs, bad_catalog_url_and_unwritable_directory_fail_before_any_output)
{
    char out[4300], ro[4300];
    snprintf(out, sizeof out, "%s/rec.nxs", dir);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --catalog 'mysql://u:pw@h/db'", scan, out);
    cr_assert_neq(r.exit_code, 0);
    cr_assert(strstr(r.err, "tomoline: error: --catalog 'mysql://u:***@h/db': unknown catalog scheme"), "%s", r.err);
    cr_assert(!tl_test_file_exists(out));
    snprintf(ro, sizeof ro, "%s/nowhere/rec.nxs", dir);
    tl_test_run(&r, "recon '%s' -o '%s'", scan, ro);
    cr_assert_neq(r.exit_code, 0);
    cr_assert_eq(r.signaled, 0);
    cr_assert(strstr(r.err, "tomoline: error: ") && strstr(r.err, "nowhere"), "%s", r.err);
    /* a corrupt catalog file is an error, the volume stays complete, the catalog file is untouched */
    char db[4300];
    snprintf(db, sizeof db, "%s/bad.db", dir);
    FILE *f = fopen(db, "w");
    fputs("this is not a database, it is a text file of some length to look like one............\n", f);
    fclose(f);
    tl_test_run(&r, "recon '%s' -o '%s' --catalog 'sqlite:%s'", scan, out, db);
    cr_assert_neq(r.exit_code, 0);
    cr_assert(strstr(r.err, "is complete, but its catalog record failed"), "%s", r.err);
    cr_assert(tl_test_file_exists(out), "the complete volume is kept");
}
