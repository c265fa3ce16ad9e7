/* test_mpi.c - `mpirun -n K tomoline recon` (issue 9): the ranks' one output
 * file equals the single-process volume, with rows not divisible by the ranks;
 * errors agreed across ranks; only recon runs under MPI. (The batch mode of
 * recon is in test_batch.c.)
 *
 * The ranks run on this machine only: Open MPI's shared-memory transport
 * (btl self,vader) and its out-of-band channel on the loopback interface;
 * every mpirun is bounded by `timeout`. Built only with MPI (TOMOLINE_MPI).
 */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "support.h"
#include "volume.h"

static char dir[4096];

static void setup(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }

/* Run `mpirun -n RANKS tomoline ARGS` (loopback only, at most 180 s); stdout and
 * stderr together into out. Returns the exit status. Sanitizer builds: Open MPI
 * keeps allocations for the life of the process, so leak checking is off for
 * the ranks (ASan's other checks stay on). */
static int mpirun(int ranks, char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int mpirun(int ranks, char *out, size_t size, const char *fmt, ...)
{
    char args[8192], cmd[12288];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader "
             "OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=1 "
             "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 timeout 180 mpirun -n %d %s %s 2>&1",
             ranks, TL_TEST_EXE, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "cannot run %s", cmd);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void simulate(const char *path, size_t size, size_t slices, double offset)
{
    tl_test_run_result r;
    tl_test_run(&r,
                "sim -q -o '%s' --size %zu --angles 120 --slices %zu --axis-offset %.2f --phantom ellipses "
                "--photons 20000 --progress none",
                path, size, slices, offset);
    cr_assert_eq(r.exit_code, 0, "sim: %s", r.err);
}

/* Largest |a - b| over two volumes of the same shape. */
static double max_difference(const char *a, const char *b)
{
    float *va = NULL, *vb = NULL;
    size_t az, ay, ax, bz, by, bx;
    tl_error err = {0};
    cr_assert_eq(tl_volume_read(a, &va, &az, &ay, &ax, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_read(b, &vb, &bz, &by, &bx, &err), TL_OK, "%s", err.message);
    cr_assert(az == bz && ay == by && ax == bx, "shapes %zux%zux%zu and %zux%zux%zu", az, ay, ax, bz, by, bx);
    double worst = 0;
    for (size_t i = 0; i < az * ay * ax; i++) {
        double d = fabs((double)va[i] - (double)vb[i]);
        worst = d > worst ? d : worst;
    }
    free(va);
    free(vb);
    return worst;
}

/* /entry/process/parallel@ranks of a volume, or -1. */
static int ranks_in_provenance(const char *path)
{
    int ranks = -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", path);
    hid_t d = H5Dopen2(f, "/entry/process/parallel", H5P_DEFAULT);
    if (d >= 0) {
        hid_t a = H5Aopen(d, "ranks", H5P_DEFAULT);
        if (a >= 0) {
            H5Aread(a, H5T_NATIVE_INT, &ranks);
            H5Aclose(a);
        }
        H5Dclose(d);
    }
    H5Fclose(f);
    return ranks;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* 9 rows over 2 ranks (5 + 4) in slabs of 2: the collective writes include
 * passes where one rank has nothing left. Direct FBP of a row does not depend on
 * its slab, so the file equals the single-process one bit for bit. */
Test(mpi, two_ranks_equal_one_process_bit_for_bit, .init = setup, .timeout = 300)
{
    char scan[4200], one[4200], two[4200], out[65536];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(one, sizeof one, "%s/one.nxs", dir);
    snprintf(two, sizeof two, "%s/two.nxs", dir);
    simulate(scan, 96, 9, 3.25);
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' --rotation-axis auto --nsino-per-chunk 2 -q", scan, one);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    int code = mpirun(2, out, sizeof out, "recon '%s' -o '%s' --rotation-axis auto --nsino-per-chunk 2", scan, two);
    cr_assert_eq(code, 0, "mpirun: %s", out);
    cr_expect(strstr(out, "mpi: 2 ranks") != NULL, "the log states the ranks: %s", out);
    cr_expect(strstr(out, "this rank (0) has rows 0..4") != NULL, "rank 0 has rows 0..4: %s", out);
    cr_expect(strstr(out, "wrote ") != NULL && strstr(strstr(out, "wrote ") + 1, "wrote ") == NULL,
              "one report, from rank 0: %s", out);
    cr_expect_eq(max_difference(one, two), 0.0, "the ranks' volume differs from one process's");
    cr_expect_eq(ranks_in_provenance(two), 2);
    cr_expect_eq(ranks_in_provenance(one), -1, "a plain run records no ranks");
    char partial[4300];
    snprintf(partial, sizeof partial, "%s.partial", two);
    cr_expect(!exists(partial), "no partial file left");
}

/* 7 rows over 3 ranks (3 + 2 + 2), gridrec (pairs of slices share an FFT, so
 * the pairing differs: float tolerance), float16 output. */
Test(mpi, three_ranks_uneven_gridrec_float16, .init = setup, .timeout = 300)
{
    char scan[4200], one[4200], three[4200], out[65536];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(one, sizeof one, "%s/one.nxs", dir);
    snprintf(three, sizeof three, "%s/three.nxs", dir);
    simulate(scan, 64, 7, -2.5);
    const char *opts = "--rotation-axis 29 --reconstruction-algorithm gridrec --dtype float16 --nsino-per-chunk 8";
    tl_test_run_result r;
    tl_test_run(&r, "recon '%s' -o '%s' %s -q", scan, one, opts);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    int code = mpirun(3, out, sizeof out, "recon '%s' -o '%s' %s", scan, three, opts);
    cr_assert_eq(code, 0, "mpirun: %s", out);
    /* float16 rounding of equal values is equal; gridrec's pairing changes the last float bits */
    cr_expect_leq(max_difference(one, three), 1e-3, "3 ranks vs 1 process");
    cr_expect_eq(ranks_in_provenance(three), 3);
}

/* A failure on the ranks is one agreed error, said once; nothing is written. */
Test(mpi, errors_are_agreed_and_leave_nothing, .init = setup, .timeout = 300)
{
    char scan[4200], vol[4200], out[65536];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(vol, sizeof vol, "%s/vol.nxs", dir);
    simulate(scan, 48, 4, 0);
    int code = mpirun(2, out, sizeof out, "recon '%s/missing.nxs' -o '%s'", dir, vol);
    cr_expect_neq(code, 0);
    char expected[8400];
    snprintf(expected, sizeof expected, "tomoline: error: rank 0: cannot open '%s/missing.nxs'", dir);
    cr_expect(strstr(out, expected) != NULL, "expected '%s' in: %s", expected, out);
    cr_expect(strstr(strstr(out, "error:") + 1, "error:") == NULL, "said once: %s", out);
    cr_expect(!exists(vol));

    /* TIFF output is not written by ranks together */
    code = mpirun(2, out, sizeof out, "recon '%s' -o '%s/tiffs' --save-format tiff --rotation-axis center", scan, dir);
    cr_expect_neq(code, 0);
    cr_expect(strstr(out, "--save-format tiff under mpirun is not supported") != NULL, "%s", out);

    /* Debian's lz4/blosc plugins serve the serial HDF5 only: said before the slabs, nothing left */
    code = mpirun(2, out, sizeof out, "recon '%s' -o '%s' --compression lz4 --rotation-axis center", scan, vol);
    cr_expect_neq(code, 0);
    cr_expect(strstr(out, "--compression lz4: the HDF5 filter plugin (lz4, id 32004) is not available to the parallel "
                          "HDF5 of tomoline-mpi") != NULL,
              "%s", out);
    cr_expect(!exists(vol));

    /* only recon runs under mpirun */
    code = mpirun(2, out, sizeof out, "sim -o '%s/x.nxs'", dir);
    cr_expect_eq(code, 2);
    cr_expect(strstr(out, "tomoline: error: under mpirun only 'recon' runs (its ranks share the rows); run 'sim' "
                          "without mpirun") != NULL,
              "%s", out);
}
