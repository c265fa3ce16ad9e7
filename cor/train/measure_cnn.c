/* measure_cnn.c - accuracy and time of the CNN centre search (tl_cor_find
 * with TL_COR_CNN, the default window) on simulated scans. Run by hand
 * (cor/train/README.md); built with -DTOMOLINE_TRAIN=ON.
 *
 * usage: measure_cnn N_SCANS SEED [WIDTH [ANGLES [THREADS]]]
 *
 * Scan i: WIDTH columns (256), ANGLES projections (360) over 180 degrees for
 * even i and 360 for odd i, ellipsoids (4..23) or the modified Shepp-Logan
 * head alternating in pairs, the axis uniform within +-25 px of the centre
 * (+-WIDTH/10 below 256 columns), Poisson noise of 10^4 photons per pixel in
 * the flat, and every third scan rings: per-column gain errors of relative
 * std 0.2 % plus 4 defective columns of +-10 % (like bench/run_cor.sh's
 * --gain-error 0.002 --defective-columns 4). Eight detector rows. The seeds
 * of the phantoms differ from the training data's (make_patches).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor.h"
#include "log.h"
#include "rng.h"
#include "sim.h"
#include "workers.h"

#define ROWS 8

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: measure_cnn N_SCANS SEED [WIDTH [ANGLES [THREADS]]]\n");
        return 2;
    }
    size_t n_scans = strtoul(argv[1], NULL, 10);
    uint64_t seed = strtoull(argv[2], NULL, 10);
    size_t w = argc > 3 ? strtoul(argv[3], NULL, 10) : 256;
    size_t n_angles = argc > 4 ? strtoul(argv[4], NULL, 10) : 360;
    int threads = argc > 5 ? atoi(argv[5]) : 2;
    if (getenv("MEASURE_DEBUG"))
        tl_log_set_level(TL_LOG_DEBUG);
    tl_workers *workers = NULL;
    tl_error err = {0};
    if (tl_workers_create(threads, &workers, &err) != TL_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    float *sino = malloc(ROWS * n_angles * w * sizeof *sino);
    double *angles = malloc(n_angles * sizeof *angles), *gain = malloc(w * sizeof *gain);
    double *errs = malloc(n_scans * sizeof *errs), *times = malloc(n_scans * sizeof *times);
    if (!sino || !angles || !gain || !errs || !times)
        return 1;
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    size_t failed = 0;
    double reach = w >= 256 ? 25 : (double)w / 10;
    printf("scan  arc  phantom      rings  truth     found     error    conf  seconds\n");
    for (size_t s = 0; s < n_scans; s++) {
        double arc = s % 2 ? 360.0 : 180.0;
        int shepp = (s / 2) % 2;
        int rings = s % 3 == 2;
        double truth = 0.5 * ((double)w - 1.0) + reach * (2 * tl_rng_uniform(&rng) - 1);
        for (size_t i = 0; i < n_angles; i++)
            angles[i] = arc * (double)i / (double)n_angles;
        tl_phantom *ph = NULL;
        if (tl_phantom_create(shepp ? TL_PHANTOM_SHEPP_LOGAN : TL_PHANTOM_ELLIPSES, w, 16, truth,
                              4 + tl_rng_below(&rng, 20), 7777777 + seed * 1000 + s, &ph, &err) != TL_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        for (size_t c = 0; c < w; c++)
            gain[c] = 1.0 + (rings ? 0.002 * tl_rng_normal(&rng) : 0.0);
        if (rings)
            for (int k = 0; k < 4; k++)
                gain[tl_rng_below(&rng, w)] *= tl_rng_uniform(&rng) < 0.5 ? 0.9 : 1.1;
        for (size_t r = 0; r < ROWS; r++) {
            float *line = sino + r * n_angles * w;
            tl_phantom_project_row(ph, 4 + r, angles, n_angles, line);
            for (size_t k = 0; k < n_angles * w; k++) {
                double counts = tl_rng_poisson(&rng, 1e4 * exp(-line[k]) * gain[k % w]);
                line[k] = (float)-log((counts < 1 ? 1 : counts) / 1e4);
            }
        }
        tl_phantom_destroy(&ph);
        tl_cor_sinograms in = {.sino = sino, .n_rows = ROWS, .n_angles = n_angles, .n_cols = w, .angles_deg = angles};
        tl_cor_report rep;
        memset(&rep, 0, sizeof rep);
        double t0 = tl_now();
        tl_status st = tl_cor_find(&in, TL_COR_CNN, NULL, workers, &rep, &err);
        times[s] = tl_now() - t0;
        if (st != TL_OK) {
            failed++;
            errs[s] = INFINITY;
            printf("%-4zu  %3.0f  %-11s  %-5s  %7.2f   failed: %s\n", s, arc, shepp ? "shepp-logan" : "ellipses",
                   rings ? "yes" : "no", truth, err.message);
        } else {
            errs[s] = rep.axis - truth;
            printf("%-4zu  %3.0f  %-11s  %-5s  %7.2f  %7.2f  %+7.3f   %.2f   %.2f\n", s, arc,
                   shepp ? "shepp-logan" : "ellipses", rings ? "yes" : "no", truth, rep.axis, errs[s], rep.confidence,
                   times[s]);
        }
        fflush(stdout);
    }
    double *abs_err = malloc(n_scans * sizeof *abs_err);
    double max = 0, sum_t = 0;
    size_t within = 0;
    for (size_t s = 0; s < n_scans; s++) {
        abs_err[s] = fabs(errs[s]);
        max = fmax(max, abs_err[s]);
        within += abs_err[s] <= 0.5;
        sum_t += times[s];
    }
    qsort(abs_err, n_scans, sizeof *abs_err, cmp_double);
    qsort(times, n_scans, sizeof *times, cmp_double);
    printf("# %zu scans, %zu wide, %zu angles, %d threads: |error| median %.3f, max %.3f px, within 0.5 px %zu/%zu, "
           "failed %zu; time median %.2f s, max %.2f s, mean %.2f s\n",
           n_scans, w, n_angles, threads, abs_err[n_scans / 2], max, within, n_scans, failed, times[n_scans / 2],
           times[n_scans - 1], sum_t / (double)n_scans);
    free(abs_err);
    free(sino);
    free(angles);
    free(gain);
    free(errs);
    free(times);
    tl_workers_destroy(&workers);
    return 0;
}
