/* bench_stitch.c - 360-degree offset-axis scans (--file-type double_fov, kernels/stitch.h):
 * the stitching time per sinogram, the overlap search, and the end-to-end
 * reconstruction time against a standard scan of the same detector.
 *
 *   bench_stitch [--width W (2048)] [--angles N (3600, over 360 degrees)] [--rows R (8)]
 *                [--repeat K (5)] [--threads T (0: all cores)]
 *       seconds per stitched sinogram, on one thread (tl_stitch_exec), with the
 *       axis at a whole or half column (the mirrored half copied) and at a
 *       fraction (the mirrored half shifted in Fourier space); and the overlap
 *       search on R rows with T threads (tl_stitch_find_axis)
 *   bench_stitch --recon [--size W (512)] [--angles N (720 per half turn)] [--slices S (8)]
 *                [--repeat K (3)] [--threads T] [--dir DIR (/tmp)]
 *       tl_recon_run file to file (ramp FBP, the axis given), median of K runs:
 *       a standard 180-degree scan (W wide, N angles), the 360-degree offset-axis
 *       scan of the same detector (2N angles, axis near the left edge, stitched
 *       to about 2W), and a standard scan as wide as the stitched sinogram
 *       (the same output size)
 * Prints one line per case: median, min, max and spread over the repetitions.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "config.h"
#include "log.h"
#include "recon.h"
#include "sim.h"
#include "stitch.h"
#include "workers.h"

static int fail(const tl_error *err)
{
    fprintf(stderr, "bench_stitch: error: %s\n", err->message);
    return 1;
}

static void usage(void)
{
    printf("usage: bench_stitch [--width W] [--angles N] [--rows R] [--repeat K] [--threads T]\n"
           "       bench_stitch --recon [--size W] [--angles N] [--slices S] [--repeat K] [--threads T] [--dir D]\n");
}

static void print_stats(const char *what, double *samples, int n, double scale, const char *unit)
{
    tl_bench_stats s;
    tl_bench_stats_of(samples, n, &s);
    printf("%-64s median %9.3f %s  min %9.3f  max %9.3f  spread %5.1f%%  (n %d)\n", what, s.median * scale, unit,
           s.min * scale, s.max * scale, 100.0 * s.spread, s.n);
    fflush(stdout);
}

static int kernel(size_t w, size_t na, size_t rows, int repeat, int threads)
{
    tl_error err = {0};
    double *angles = malloc(na * sizeof *angles);
    float *sino = malloc(rows * na * w * sizeof *sino);
    double *samples = malloc((size_t)repeat * sizeof *samples);
    if (!angles || !sino || !samples) {
        fprintf(stderr, "bench_stitch: error: out of memory for %zu sinograms of %zu x %zu\n", rows, na, w);
        return 1;
    }
    for (size_t i = 0; i < na; i++)
        angles[i] = 360.0 * (double)i / (double)na;
    /* exact projections of the Shepp-Logan phantom on a detector with the
     * axis at column a0 near the left edge (as tomoline sim --double-fov): the
     * search has a true answer */
    const double a0 = floor(0.1 * (double)w) + 0.3;
    tl_stitch_layout L0;
    tl_phantom *ph = NULL;
    if (tl_stitch_layout_for(w, a0, &L0, &err) != TL_OK ||
        tl_phantom_create(TL_PHANTOM_SHEPP_LOGAN, L0.width, rows, L0.axis_stitched, 1, 1, &ph, &err) != TL_OK)
        return fail(&err);
    float *line = malloc(na * L0.width * sizeof *line);
    if (!line)
        return fail(&err);
    for (size_t r = 0; r < rows; r++) {
        tl_phantom_project_row(ph, r, angles, na, line);
        for (size_t i = 0; i < na; i++)
            memcpy(sino + (r * na + i) * w, line + i * L0.width + L0.shift, w * sizeof *sino);
    }
    free(line);
    tl_phantom_destroy(&ph);
    char what[256];
    static const struct {
        double axis_fraction;
        const char *name;
    } cases[] = {{0.5, "axis at a half column: mirrored half copied"},
                 {0.3, "axis at .3 of a column: mirrored half Fourier-shifted"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double axis = floor(0.1 * (double)w) + cases[c].axis_fraction;
        tl_stitch_plan *plan = NULL;
        if (tl_stitch_plan_create(w, axis, angles, na, 1, &plan, &err) != TL_OK)
            return fail(&err);
        const tl_stitch_layout *L = tl_stitch_plan_layout(plan);
        size_t n_out = tl_stitch_plan_pairs(plan)->n;
        float *out = malloc(n_out * L->width * sizeof *out);
        if (!out)
            return fail(&err);
        tl_stitch_exec(plan, 0, sino, w, out, L->width); /* warm-up */
        for (int k = 0; k < repeat; k++) {
            double t0 = tl_now();
            for (size_t r = 0; r < rows; r++)
                tl_stitch_exec(plan, 0, sino + r * na * w, w, out, L->width);
            samples[k] = (tl_now() - t0) / (double)rows;
        }
        snprintf(what, sizeof what, "stitch %zu x %zu -> %zu x %zu, 1 thread, %s", na, w, n_out, L->width,
                 cases[c].name);
        print_stats(what, samples, repeat, 1e3, "ms/sino");
        free(out);
        tl_stitch_plan_destroy(&plan);
    }
    tl_workers *workers = NULL;
    if (tl_workers_create(threads, &workers, &err) != TL_OK)
        return fail(&err);
    tl_stitch_search found = {0};
    for (int k = 0; k < repeat; k++) {
        double t0 = tl_now();
        if (tl_stitch_find_axis(sino, rows, na, w, angles, workers, &found, &err) != TL_OK)
            return fail(&err);
        samples[k] = tl_now() - t0;
    }
    snprintf(what, sizeof what, "overlap search, %zu rows of %zu x %zu, %d threads (found %.3f, true %.3f)", rows, na,
             w, tl_workers_count(workers), found.axis, a0);
    print_stats(what, samples, repeat, 1.0, "s      ");
    tl_workers_destroy(&workers);
    free(angles);
    free(sino);
    free(samples);
    return 0;
}

static int time_recon(const char *what, const char *scan, const char *out, const char *file_type, double axis,
                      int repeat, int threads)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    snprintf(cfg.rotation_axis, sizeof cfg.rotation_axis, "%.17g", axis);
    snprintf(cfg.file_type, sizeof cfg.file_type, "%s", file_type);
    cfg.overwrite = 1;
    cfg.threads = threads;
    snprintf(cfg.progress, sizeof cfg.progress, "none");
    double samples[64];
    tl_recon_report rep;
    tl_error err = {0};
    for (int k = 0; k < repeat && k < 64; k++) {
        double t0 = tl_now();
        if (tl_recon_run(&cfg, scan, out, &rep, &err) != TL_OK)
            return fail(&err);
        samples[k] = tl_now() - t0;
    }
    char line[256];
    snprintf(line, sizeof line, "recon %s: %zu slices of %zu x %zu", what, rep.n_slices, rep.n, rep.n);
    print_stats(line, samples, repeat < 64 ? repeat : 64, 1.0, "s      ");
    printf("    last run's stages: read %.3f s, normalize %.3f s, transpose (and stitch) %.3f s, filter+backproject "
           "%.3f s, write %.3f s\n",
           rep.stage_seconds[0], rep.stage_seconds[1], rep.stage_seconds[2], rep.stage_seconds[4],
           rep.stage_seconds[5]);
    remove(out);
    return 0;
}

static int recon(size_t w, size_t na, size_t slices, int repeat, int threads, const char *dir)
{
    tl_error err = {0};
    tl_workers *workers = NULL;
    if (tl_workers_create(threads, &workers, &err) != TL_OK)
        return fail(&err);
    char standard[4200], wide[4200], full[4200], out[4200];
    snprintf(standard, sizeof standard, "%s/bench_stitch_standard.nxs", dir);
    snprintf(wide, sizeof wide, "%s/bench_stitch_double_fov.nxs", dir);
    snprintf(full, sizeof full, "%s/bench_stitch_wide_standard.nxs", dir);
    snprintf(out, sizeof out, "%s/bench_stitch_recon.nxs", dir);
    const double axis = floor(0.08 * (double)w) + 0.5; /* near the left edge */
    tl_stitch_layout L;
    if (tl_stitch_layout_for(w, axis, &L, &err) != TL_OK)
        return fail(&err);
    tl_sim_params p;
    tl_sim_params_default(&p);
    p.size = w;
    p.angles = na;
    p.slices = slices;
    p.overwrite = 1;
    if (tl_sim_write(&p, standard, NULL, workers, &err) != TL_OK)
        return fail(&err);
    p.double_fov = 1;
    p.arc_deg = 360.0;
    p.angles = 2 * na;
    p.axis_offset = axis - 0.5 * ((double)w - 1.0);
    if (tl_sim_write(&p, wide, NULL, workers, &err) != TL_OK)
        return fail(&err);
    p.double_fov = 0;
    p.arc_deg = 180.0;
    p.angles = na;
    p.size = L.width;
    p.axis_offset = L.axis_stitched - 0.5 * ((double)L.width - 1.0);
    if (tl_sim_write(&p, full, NULL, workers, &err) != TL_OK)
        return fail(&err);
    tl_workers_destroy(&workers);
    char what[256];
    snprintf(what, sizeof what, "standard, %zu wide, %zu angles over 180", w, na);
    if (time_recon(what, standard, out, "standard", 0.5 * ((double)w - 1.0), repeat, threads))
        return 1;
    snprintf(what, sizeof what, "double_fov, %zu wide, %zu angles over 360, axis %.1f", w, 2 * na, axis);
    if (time_recon(what, wide, out, "double_fov", axis, repeat, threads))
        return 1;
    snprintf(what, sizeof what, "standard, %zu wide (the stitched width), %zu angles", L.width, na);
    if (time_recon(what, full, out, "standard", L.axis_stitched, repeat, threads))
        return 1;
    remove(standard);
    remove(wide);
    remove(full);
    return 0;
}

int main(int argc, char **argv)
{
    size_t w = 2048, angles = 0, rows = 8, size = 512, slices = 8;
    int repeat = 5, threads = 0, do_recon = 0, repeat_set = 0;
    const char *dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--recon") == 0) {
            do_recon = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (!v) {
            fprintf(stderr, "bench_stitch: error: %s needs a value\n", a);
            return 2;
        }
        long n = strtol(v, NULL, 10);
        if (strcmp(a, "--dir") == 0)
            dir = v;
        else if (n <= 0) {
            fprintf(stderr, "bench_stitch: error: %s %s: a positive integer is needed\n", a, v);
            return 2;
        } else if (strcmp(a, "--width") == 0)
            w = (size_t)n;
        else if (strcmp(a, "--size") == 0)
            size = (size_t)n;
        else if (strcmp(a, "--angles") == 0)
            angles = (size_t)n;
        else if (strcmp(a, "--rows") == 0)
            rows = (size_t)n;
        else if (strcmp(a, "--slices") == 0)
            slices = (size_t)n;
        else if (strcmp(a, "--repeat") == 0) {
            repeat = (int)n;
            repeat_set = 1;
        } else if (strcmp(a, "--threads") == 0)
            threads = (int)n;
        else {
            fprintf(stderr, "bench_stitch: error: unknown option %s\n", a);
            usage();
            return 2;
        }
        i++;
    }
    tl_log_set_level(TL_LOG_WARN);
    if (do_recon) {
        tl_bench_header(stdout, "double_fov: end-to-end reconstruction (bench_stitch --recon)");
        return recon(size, angles ? angles : 720, slices, repeat_set ? repeat : 3, threads, dir);
    }
    tl_bench_header(stdout, "double_fov: stitching and overlap search (bench_stitch)");
    return kernel(w, angles ? angles : 3600, rows, repeat, threads);
}
