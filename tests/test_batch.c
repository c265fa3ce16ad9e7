/* test_batch.c - `tomoline recon` on a batch of scans (issue 9): several
 * INPUTs and --file-list, one output each, finished scans skipped so that a
 * killed job restarts where it stopped, failures reported without stopping
 * the others, and the errors of bad batches. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

static char dir[4096];

static void setup(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }

static void simulate(const char *path, size_t size, size_t slices, double offset)
{
    tl_test_run_result r;
    tl_test_run(&r,
                "sim -q -o '%s' --size %zu --angles 120 --slices %zu --axis-offset %.2f --phantom ellipses "
                "--photons 20000 --progress none",
                path, size, slices, offset);
    cr_assert_eq(r.exit_code, 0, "sim: %s", r.err);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Batch: --file-list plus an INPUT; a scan with an output is skipped, the
 * partial file a killed job left is replaced, a failing scan does not stop the
 * others, and the summary and exit status say what happened. */
Test(batch, restarts_where_it_stopped, .init = setup, .timeout = 300)
{
    char a[4200], b[4200], c[4200], list[4200], outdir[4200], path[4400];
    snprintf(a, sizeof a, "%s/a.nxs", dir);
    snprintf(b, sizeof b, "%s/b.nxs", dir);
    snprintf(c, sizeof c, "%s/c.nxs", dir);
    snprintf(list, sizeof list, "%s/list.txt", dir);
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    simulate(a, 48, 3, 0);
    simulate(b, 48, 3, 0);
    simulate(c, 48, 3, 0);
    cr_assert_eq(mkdir(outdir, 0755), 0);
    FILE *f = fopen(list, "w");
    cr_assert(f);
    fprintf(f, "# scans of the night\n%s\n\n   %s   \n%s/missing.nxs\n", a, b, dir);
    fclose(f);
    /* a finished a, and the partial file of b from a killed run */
    snprintf(path, sizeof path, "%s/a_rec.nxs", outdir);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --rotation-axis center -q", a, path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    snprintf(path, sizeof path, "%s/b_rec.nxs.partial", outdir);
    f = fopen(path, "w");
    cr_assert(f);
    fputs("half a volume", f);
    fclose(f);

    tl_test_run(&r, "recon --file-list '%s' '%s' -o '%s' --rotation-axis center -q", list, c, outdir);
    cr_expect_eq(r.exit_code, 1, "a failed scan makes the exit status non-zero");
    cr_expect(strstr(r.out, "tomoline recon: 4 scans: 2 reconstructed, 1 skipped (already done), 1 failed") != NULL,
              "%s", r.out);
    snprintf(path, sizeof path, "tomoline recon: skipped %s: %s/a_rec.nxs exists", a, outdir);
    cr_expect(strstr(r.out, path) != NULL, "%s", r.out);
    char expected[8400];
    snprintf(expected, sizeof expected, "tomoline: error: scan 4 of 4: cannot open '%s/missing.nxs'", dir);
    cr_expect(strstr(r.err, expected) != NULL, "expected '%s' in: %s", expected, r.err);
    snprintf(path, sizeof path, "%s/b_rec.nxs", outdir);
    cr_expect(exists(path), "b reconstructed");
    snprintf(path, sizeof path, "%s/b_rec.nxs.partial", outdir);
    cr_expect(!exists(path), "the killed run's partial file is gone");
    snprintf(path, sizeof path, "%s/c_rec.nxs", outdir);
    cr_expect(exists(path), "c reconstructed (it comes after the list's scans)");

    /* bad batches */
    tl_test_run(&r, "recon --file-list '%s/none.txt'", dir);
    cr_expect_eq(r.exit_code, 1);
    snprintf(expected, sizeof expected, "tomoline: error: --file-list '%s/none.txt': No such file or directory", dir);
    cr_expect(strstr(r.err, expected) != NULL, "%s", r.err);
    f = fopen(list, "w");
    fputs("# nothing yet\n\n", f);
    fclose(f);
    tl_test_run(&r, "recon --file-list '%s'", list);
    snprintf(expected, sizeof expected,
             "tomoline: error: --file-list '%s' names no input (one path per line, # comments)", list);
    cr_expect(strstr(r.err, expected) != NULL, "%s", r.err);
    tl_test_run(&r, "recon '%s' '%s' -o '%s/nodir'", a, b, dir);
    cr_expect_eq(r.exit_code, 2);
    snprintf(expected, sizeof expected,
             "tomoline: error: -o/--out-path-name '%s/nodir': with several inputs it names the directory of the "
             "outputs, which must exist",
             dir);
    cr_expect(strstr(r.err, expected) != NULL, "%s", r.err);
}
