/* test_accuracy.c - the reconstruction is quantitative and no worse than a
 * textbook FBP on the same data (issue 2, "What it must show"), and gridrec
 * (--reconstruction-algorithm gridrec) is within 5% of the direct FBP's error
 * (issue 8).
 *
 * Scans come from tomoline's simulator (exact, pixel-integrated projections); the
 * reconstruction goes through the whole recon path (file in, file out); the
 * textbook FBP (tests/support/reference_fbp.c) gets the same normalized data.
 * The error is the relative L2 error inside the inscribed disk of radius N/2 - 4.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "normalize.h"
#include "recon.h"
#include "reference_fbp.h"
#include "scan.h"
#include "sim.h"
#include "support.h"
#include "volume.h"

typedef struct {
    double ours, gridrec, textbook, mean_ratio;
} accuracy;

static accuracy run_case(tl_phantom_kind kind, size_t size, size_t angles, size_t slices, double arc,
                         double offset, double photons)
{
    char dir[4096], scan[4200], truth[4200], recon[4200], gridrec[4200];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(truth, sizeof truth, "%s/truth.nxs", dir);
    snprintf(recon, sizeof recon, "%s/recon.nxs", dir);
    snprintf(gridrec, sizeof gridrec, "%s/gridrec.nxs", dir);
    tl_error err = {0};
    tl_sim_params p;
    tl_sim_params_default(&p);
    p.phantom = kind;
    p.size = size;
    p.angles = angles;
    p.slices = slices;
    p.arc_deg = arc;
    p.axis_offset = offset;
    p.photons = photons;
    p.seed = 11;
    cr_assert_eq(tl_sim_write(&p, scan, truth, NULL, &err), TL_OK, "%s", err.message);

    double axis = 0.5 * ((double)size - 1) + offset;
    tl_config cfg;
    tl_config_defaults(&cfg);
    snprintf(cfg.rotation_axis, sizeof cfg.rotation_axis, "%.17g", axis);
    tl_recon_report rep;
    cr_assert_eq(tl_recon_run(&cfg, scan, recon, &rep, &err), TL_OK, "%s", err.message);
    snprintf(cfg.reconstruction_algorithm, sizeof cfg.reconstruction_algorithm, "gridrec");
    cr_assert_eq(tl_recon_run(&cfg, scan, gridrec, &rep, &err), TL_OK, "%s", err.message);

    float *vol = NULL, *ref = NULL, *grid = NULL;
    size_t nz, ny, nx, tz, ty, tx, gz, gy, gx;
    cr_assert_eq(tl_volume_read(recon, &vol, &nz, &ny, &nx, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_read(gridrec, &grid, &gz, &gy, &gx, &err), TL_OK, "%s", err.message);
    cr_assert(gz == nz && gy == ny && gx == nx);
    cr_assert_eq(tl_volume_read(truth, &ref, &tz, &ty, &tx, &err), TL_OK, "%s", err.message);
    cr_assert(nz == slices && ny == size && nx == size && tz == nz && ty == ny && tx == nx);

    /* the same normalized data for the textbook FBP */
    tl_scan *sc = NULL;
    cr_assert_eq(tl_scan_open(scan, &sc, &err), TL_OK, "%s", err.message);
    const tl_scan_info *info = tl_scan_get_info(sc);
    float *proj = malloc(angles * slices * size * sizeof *proj);
    float *flat = malloc(slices * size * sizeof *flat), *dark = malloc(slices * size * sizeof *dark);
    cr_assert_eq(tl_scan_read_projections(sc, 0, slices, proj, &err), TL_OK);
    cr_assert_eq(tl_scan_read_flat_mean(sc, 0, slices, flat, &err), TL_OK);
    cr_assert_eq(tl_scan_read_dark_mean(sc, 0, slices, dark, &err), TL_OK);
    cr_assert_eq(tl_normalize_cpu(proj, angles, slices, size, flat, dark, 1, 0, NULL, NULL, &err), TL_OK);
    float *sino = malloc(angles * size * sizeof *sino), *textbook = malloc(size * size * sizeof *textbook);

    accuracy acc = {0};
    double sum_rec = 0, sum_truth = 0, c = 0.5 * ((double)size - 1), rmean = 0.25 * (double)size;
    for (size_t z = 0; z < slices; z++) {
        for (size_t a = 0; a < angles; a++)
            memcpy(sino + a * size, proj + (a * slices + z) * size, size * sizeof *sino);
        tl_reference_fbp(sino, angles, size, info->angles_deg, arc, axis, textbook);
        const float *ours = vol + z * size * size, *truth_z = ref + z * size * size;
        acc.ours += tl_test_rel_l2_disk(ours, truth_z, size, 0.5 * (double)size - 4) / (double)slices;
        acc.gridrec += tl_test_rel_l2_disk(grid + z * size * size, truth_z, size, 0.5 * (double)size - 4) /
                       (double)slices;
        acc.textbook += tl_test_rel_l2_disk(textbook, truth_z, size, 0.5 * (double)size - 4) / (double)slices;
        for (size_t r = 0; r < size; r++)
            for (size_t col = 0; col < size; col++) {
                double x = (double)col - c, y = (double)r - c;
                if (x * x + y * y <= rmean * rmean) {
                    sum_rec += ours[r * size + col];
                    sum_truth += truth_z[r * size + col];
                }
            }
    }
    acc.mean_ratio = sum_rec / sum_truth;
    printf("accuracy %s %zu px %zu angles arc %.0f offset %+.2f photons %.0f: relative L2 ours %.5f, gridrec "
           "%.5f (%.3f x fbp), textbook %.5f, mean ratio %.5f\n",
           kind == TL_PHANTOM_SHEPP_LOGAN ? "shepp-logan" : "ellipses", size, angles, arc, offset, photons,
           acc.ours, acc.gridrec, acc.gridrec / acc.ours, acc.textbook, acc.mean_ratio);
    cr_expect_leq(acc.gridrec, 1.05 * acc.ours, "gridrec %g is more than 5%% worse than the direct FBP %g",
                  acc.gridrec, acc.ours);
    tl_scan_close(&sc);
    free(proj);
    free(flat);
    free(dark);
    free(sino);
    free(textbook);
    free(vol);
    free(grid);
    free(ref);
    remove(scan);
    remove(truth);
    remove(recon);
    remove(gridrec);
    remove(dir);
    return acc;
}

Test(accuracy, noise_free_shepp_logan_256_off_centre_axis, .timeout = 300)
{
    accuracy a = run_case(TL_PHANTOM_SHEPP_LOGAN, 256, 360, 3, 180.0, 3.5, 0);
    cr_assert_leq(a.ours, a.textbook, "ours %g is worse than the textbook FBP %g", a.ours, a.textbook);
    cr_assert(fabs(a.mean_ratio - 1.0) < 0.005, "mean ratio %g: values must not be a scaled copy", a.mean_ratio);
    cr_assert_lt(a.ours, 0.15);
}

Test(accuracy, noisy_random_ellipses_512_full_turn_off_centre_axis, .timeout = 600)
{
    accuracy a = run_case(TL_PHANTOM_ELLIPSES, 512, 720, 2, 360.0, -6.25, 20000);
    cr_assert_leq(a.ours, a.textbook, "ours %g is worse than the textbook FBP %g", a.ours, a.textbook);
    cr_assert(fabs(a.mean_ratio - 1.0) < 0.01, "mean ratio %g", a.mean_ratio);
}

Test(accuracy, noise_free_ellipses_256_with_720_angles, .timeout = 300)
{
    accuracy a = run_case(TL_PHANTOM_ELLIPSES, 256, 720, 2, 180.0, -2.0, 0);
    cr_assert_leq(a.ours, a.textbook, "ours %g, textbook %g", a.ours, a.textbook);
    cr_assert(fabs(a.mean_ratio - 1.0) < 0.005, "mean ratio %g", a.mean_ratio);
}

Test(accuracy, noisy_shepp_logan_512_half_turn, .timeout = 600)
{
    accuracy a = run_case(TL_PHANTOM_SHEPP_LOGAN, 512, 720, 2, 180.0, 5.0, 50000);
    cr_assert_leq(a.ours, a.textbook, "ours %g, textbook %g", a.ours, a.textbook);
    cr_assert(fabs(a.mean_ratio - 1.0) < 0.01, "mean ratio %g", a.mean_ratio);
}
