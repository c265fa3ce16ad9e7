/* bench_rings.c - ring removal: artefact removed, error added on a clean scan,
 * and time per sinogram (issue 5's figures; cli/rings_measure.h defines them).
 *
 *   bench_rings [SCAN OPTIONS] [RING OPTIONS]
 *       measure --remove-stripe-method with its [rings] options (as tomoline's)
 *   bench_rings --all [SCAN OPTIONS] [RING OPTIONS]
 *       every method with the options given (defaults otherwise), one table row each
 *   bench_rings --timing [--width 2048 --angles 1500 --repeat 5] [RING OPTIONS]
 *       seconds per sinogram of one method on one thread, and per sinogram with
 *       all threads over a slab of --rows sinograms (median, min, max)
 * SCAN OPTIONS: --size W --angles N --rows R --arc 180|360 --phantom shepp-logan|ellipses
 *   --photons I0 --gain-error S --defective-columns K --defect-strength D --seed N --threads T
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "rings.h"
#include "rings_measure.h"
#include "sim.h"
#include "workers.h"

static int fail(const tl_error *err)
{
    fprintf(stderr, "bench_rings: error: %s\n", err->message);
    return 1;
}

static void usage(void)
{
    printf("usage: bench_rings [--all | --timing] [scan options] [ring options]\n"
           "scan options: --size W (256) --angles N (360) --rows R (4) --arc 180|360 (180)\n"
           "  --phantom shepp-logan|ellipses --photons I0 (20000; 0 noise-free) --gain-error S (0.002)\n"
           "  --defective-columns K (4) --defect-strength D (0.1) --defect-fraction F (1: defective at all angles)\n"
           "  --seed N (1) --threads T (0: all cores)\n"
           "timing: --width W (2048) --angles N (1500) --rows R (8) --repeat K (5)\n"
           "ring options: those of 'tomoline rings --help' (--remove-stripe-method, --fw-level, ...)\n"
           "prints: removed = 1 - remaining ring artefact / ring artefact without removal;\n"
           "  clean+ = relative L2 error of a clean scan with the method / without - 1;\n"
           "  change = ||R_M(clean) - R(clean)|| / ||R(clean) - truth||; time per sinogram\n");
}

static void print_row(const tl_rings_params *p, const tl_rings_score *s)
{
    char d[256];
    tl_rings_describe(p, d, sizeof d);
    printf("%-62s removed %6.1f%%  clean+ %6.1f%%  change %6.1f%%  (err %.4f -> %.4f, rings %.4f)  %.4f s/sino\n", d,
           100.0 * s->removed, 100.0 * s->clean_added, 100.0 * s->clean_change, s->clean_error_none, s->clean_error,
           s->ring_norm, s->seconds_per_sinogram);
    fflush(stdout);
}

static int timing(const tl_rings_params *p, size_t w, size_t na, size_t rows, int repeat, int threads)
{
    tl_error err = {0};
    tl_workers *workers = NULL;
    tl_phantom *ph = NULL;
    tl_rings_plan *one = NULL, *all = NULL;
    if (tl_workers_create(threads, &workers, &err) != TL_OK ||
        tl_phantom_create(TL_PHANTOM_SHEPP_LOGAN, w, rows, 0.5 * (double)(w - 1), 0, 1, &ph, &err) != TL_OK ||
        tl_rings_plan_create(p, na, w, NULL, &one, &err) != TL_OK ||
        tl_rings_plan_create(p, na, w, workers, &all, &err) != TL_OK)
        return fail(&err);
    double *angles = malloc(na * sizeof *angles);
    float *clean = malloc(rows * na * w * sizeof *clean), *work = malloc(rows * na * w * sizeof *work);
    double *t1 = malloc((size_t)repeat * sizeof *t1), *tn = malloc((size_t)repeat * sizeof *tn);
    for (size_t i = 0; i < na; i++)
        angles[i] = 180.0 * (double)i / (double)na;
    for (size_t r = 0; r < rows; r++) {
        tl_phantom_project_row(ph, r, angles, na, clean + r * na * w);
        for (size_t i = 0; i < na * w; i++) /* a few stripes, so detection paths run too */
            clean[r * na * w + i] += (i % w) % 97 == 5 ? 0.05f : 0.0f;
    }
    for (int k = 0; k < repeat; k++) {
        memcpy(work, clean, na * w * sizeof *work);
        double t0 = tl_now();
        tl_rings_exec_one(one, work);
        t1[k] = tl_now() - t0;
        memcpy(work, clean, rows * na * w * sizeof *work);
        t0 = tl_now();
        tl_rings_exec(all, work, rows, w);
        tn[k] = (tl_now() - t0) / (double)rows;
    }
    tl_bench_stats s1, sn;
    tl_bench_stats_of(t1, repeat, &s1);
    tl_bench_stats_of(tn, repeat, &sn);
    char d[256];
    tl_rings_describe(p, d, sizeof d);
    printf("%-62s %zu x %zu: 1 thread %.3f s/sino (min %.3f, max %.3f); %d threads %.3f s/sino (min %.3f, max %.3f); "
           "plan %.1f MiB per thread\n",
           d, na, w, s1.median, s1.min, s1.max, tl_workers_count(workers), sn.median, sn.min, sn.max,
           (double)tl_rings_plan_bytes(one) / 1048576.0);
    fflush(stdout);
    tl_rings_plan_destroy(&one);
    tl_rings_plan_destroy(&all);
    tl_phantom_destroy(&ph);
    tl_workers_destroy(&workers);
    free(angles), free(clean), free(work), free(t1), free(tn);
    return 0;
}

int main(int argc, char **argv)
{
    tl_rings_scan scan;
    tl_rings_scan_default(&scan);
    int all = 0, timing_mode = 0, threads = 0, repeat = 5;
    size_t width = 2048, timing_angles = 1500, timing_rows = 8;
    int angles_given = 0, rows_given = 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n_rest = 1;
    rest[0] = "rings";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--all") == 0) {
            all = 1;
        } else if (strcmp(a, "--timing") == 0) {
            timing_mode = 1;
        } else if (v && strcmp(a, "--size") == 0) {
            scan.size = strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--width") == 0) {
            width = strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--angles") == 0) {
            scan.angles = timing_angles = strtoul(v, NULL, 10), i++, angles_given = 1;
        } else if (v && strcmp(a, "--rows") == 0) {
            scan.rows = timing_rows = strtoul(v, NULL, 10), i++, rows_given = 1;
        } else if (v && strcmp(a, "--arc") == 0) {
            scan.arc_deg = atof(v), i++;
        } else if (v && strcmp(a, "--phantom") == 0) {
            scan.phantom = strcmp(v, "ellipses") == 0 ? TL_PHANTOM_ELLIPSES : TL_PHANTOM_SHEPP_LOGAN, i++;
        } else if (v && strcmp(a, "--photons") == 0) {
            scan.photons = atof(v), i++;
        } else if (v && strcmp(a, "--gain-error") == 0) {
            scan.gain_error = atof(v), i++;
        } else if (v && strcmp(a, "--defective-columns") == 0) {
            scan.defective_columns = strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--defect-strength") == 0) {
            scan.defect_strength = atof(v), i++;
        } else if (v && strcmp(a, "--defect-fraction") == 0) {
            scan.defect_fraction = atof(v), i++;
        } else if (v && strcmp(a, "--seed") == 0) {
            scan.seed = strtoull(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--threads") == 0) {
            threads = atoi(v), i++;
        } else if (v && strcmp(a, "--repeat") == 0) {
            repeat = atoi(v) > 0 ? atoi(v) : 1, i++;
        } else {
            rest[n_rest++] = argv[i];
        }
    }
    (void)angles_given, (void)rows_given;
    tl_config cfg;
    tl_error err = {0};
    tl_config_defaults(&cfg);
    int n_pos = 0;
    if (tl_config_parse_args(&cfg, TL_CMD_RINGS, n_rest, rest, 1, NULL, 0, &n_pos, &err) != TL_OK)
        return fail(&err);
    free(rest);
    tl_log_set_level(TL_LOG_WARN);
    tl_rings_params params;
    if (tl_rings_params_from_config(&cfg, &params, &err) != TL_OK)
        return fail(&err);
    if (timing_mode) {
        if (!all)
            return timing(&params, width, timing_angles, timing_rows, repeat, threads);
        for (int m = TL_RINGS_FW; m <= TL_RINGS_VO_ALL; m++) {
            params.method = (tl_rings_method)m;
            if (timing(&params, width, timing_angles, timing_rows, repeat, threads))
                return 1;
        }
        return 0;
    }
    tl_workers *workers = NULL;
    if (tl_workers_create(threads, &workers, &err) != TL_OK)
        return fail(&err);
    printf("# scan: %zu x %zu angles over %g deg, %zu rows, %s, photons %g, gain errors N(0, %g), %zu defective "
           "columns of +-%g over %g%% of the angles, seed %llu\n",
           scan.size, scan.angles, scan.arc_deg, scan.rows,
           scan.phantom == TL_PHANTOM_ELLIPSES ? "ellipses" : "shepp-logan", scan.photons, scan.gain_error,
           scan.defective_columns, scan.defect_strength, 100.0 * scan.defect_fraction, (unsigned long long)scan.seed);
    int first = all ? TL_RINGS_FW : (int)params.method, last = all ? TL_RINGS_VO_ALL : (int)params.method;
    for (int m = first; m <= last; m++) {
        params.method = (tl_rings_method)m;
        tl_rings_score score;
        if (tl_rings_measure(&scan, &params, workers, &score, &err) != TL_OK) {
            char d[256];
            tl_rings_describe(&params, d, sizeof d);
            printf("%-62s error: %s\n", d, err.message);
            continue;
        }
        print_row(&params, &score);
    }
    tl_workers_destroy(&workers);
    return 0;
}
