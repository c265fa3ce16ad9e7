/* bench_fbp.c - speed and memory of the CPU reconstruction path.
 *
 *   bench_fbp kernel W ANGLES [SLICES [REPS [THREADS]]]
 *       filter + backprojection of SLICES sinograms (one slab) of a Shepp-Logan
 *       phantom, REPS times: slices per second (median, min, max), peak memory.
 *   bench_fbp recon W ANGLES [SLICES [REPS [THREADS]]]
 *       file to file: simulate a uint16 NXtomo scan of SLICES rows in $TMPDIR, then
 *       `tomoline recon` it (read, normalize, transpose, filter, backproject,
 *       write) REPS times: slices per second, peak memory.
 * Prints a block of readable text; bench/run_fbp.sh collects them in bench/results/.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "config.h"
#include "fbp.h"
#include "log.h"
#include "recon.h"
#include "sim.h"
#include "workers.h"

static int fail(const tl_error *err)
{
    fprintf(stderr, "bench_fbp: error: %s\n", err->message);
    return 1;
}

static int bench_kernel(size_t w, size_t na, size_t slices, int reps, int threads)
{
    tl_error err = {0};
    tl_workers *workers = NULL;
    tl_phantom *ph = NULL;
    tl_fbp_plan *plan = NULL;
    double axis = 0.5 * ((double)w - 1);
    if (tl_workers_create(threads, &workers, &err) != TL_OK ||
        tl_phantom_create(TL_PHANTOM_SHEPP_LOGAN, w, slices, axis, 0, 1, &ph, &err) != TL_OK)
        return fail(&err);
    double *angles = malloc(na * sizeof *angles);
    float *sino = malloc(slices * na * w * sizeof *sino);
    float *out = malloc(slices * w * w * sizeof *out);
    for (size_t i = 0; i < na; i++)
        angles[i] = 180.0 * (double)i / (double)na;
    for (size_t s = 0; s < slices; s++)
        tl_phantom_project_row(ph, s, angles, na, sino + s * na * w);
    double t_plan = tl_now();
    tl_fbp_desc d = {.n_angles = na, .n_cols = w, .max_slices = slices, .angles_deg = angles, .axis = axis,
                     .window = TL_FILTER_RAMP, .backend = TL_BACKEND_CPU};
    if (tl_fbp_plan_create(&d, workers, &plan, &err) != TL_OK)
        return fail(&err);
    t_plan = tl_now() - t_plan;
    double *rate = malloc((size_t)reps * sizeof *rate);
    for (int r = 0; r < reps; r++) {
        double t0 = tl_now();
        if (tl_fbp_exec_copy(plan, sino, slices, out, &err) != TL_OK)
            return fail(&err);
        rate[r] = (double)slices / (tl_now() - t0);
    }
    tl_bench_stats st;
    tl_bench_stats_of(rate, reps, &st);
    printf("fbp cpu %zux%zu (kernel: filter + backprojection, %zu slices per slab, %d threads)\n", w, na, slices,
           tl_workers_count(workers));
    printf("  slices/s: median %.3f  min %.3f  max %.3f  spread %.1f%%  (%d runs)\n", st.median, st.min, st.max,
           100 * st.spread, st.n);
    printf("  per slice: %.3f s;  %.2f G backprojected pixel-angles/s;  plan %.3f s\n", 1.0 / st.median,
           st.median * (double)w * (double)w * (double)na * 1e-9, t_plan);
    printf("  memory: plan %.1f MiB, peak RSS %.1f MiB (sinograms %.1f MiB and slices %.1f MiB of the slab "
           "included)\n",
           (double)tl_fbp_plan_bytes(plan) / 1048576.0, (double)tl_bench_peak_rss() / 1048576.0,
           (double)(slices * na * w * 4) / 1048576.0, (double)(slices * w * w * 4) / 1048576.0);
    free(rate);
    free(angles);
    free(sino);
    free(out);
    tl_fbp_plan_destroy(&plan);
    tl_phantom_destroy(&ph);
    tl_workers_destroy(&workers);
    return 0;
}

static int bench_recon(size_t w, size_t na, size_t slices, int reps, int threads)
{
    tl_error err = {0};
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char scan[1024], out[1024];
    snprintf(scan, sizeof scan, "%s/bench_fbp_%d_scan.nxs", tmp, (int)getpid());
    snprintf(out, sizeof out, "%s/bench_fbp_%d_rec.nxs", tmp, (int)getpid());
    tl_sim_params p;
    tl_sim_params_default(&p);
    p.size = w;
    p.angles = na;
    p.slices = slices;
    p.photons = 20000; /* uint16 counts, like a detector */
    p.overwrite = 1;
    tl_workers *workers = NULL;
    if (tl_workers_create(threads, &workers, &err) != TL_OK)
        return fail(&err);
    if (tl_sim_write(&p, scan, NULL, workers, &err) != TL_OK)
        return fail(&err);
    tl_workers_destroy(&workers);
    tl_config cfg;
    tl_config_defaults(&cfg);
    cfg.threads = threads;
    cfg.overwrite = 1;
    double *rate = malloc((size_t)reps * sizeof *rate);
    tl_recon_report rep = {0};
    double stages[6] = {0};
    for (int r = 0; r < reps; r++) {
        if (tl_recon_run(&cfg, scan, out, &rep, &err) != TL_OK)
            return fail(&err);
        rate[r] = rep.slices_per_second;
        for (int s = 0; s < 6; s++)
            stages[s] += rep.stage_seconds[s] / reps;
    }
    tl_bench_stats st;
    tl_bench_stats_of(rate, reps, &st);
    printf("recon cpu %zux%zu (file to file: uint16 NXtomo in, float32 NeXus out, %zu slices, slabs of %ld rows, "
           "%d threads)\n",
           w, na, slices, cfg.nsino_per_chunk, threads <= 0 ? tl_cpu_count() : threads);
    printf("  slices/s: median %.3f  min %.3f  max %.3f  spread %.1f%%  (%d runs)\n", st.median, st.min, st.max,
           100 * st.spread, st.n);
    printf("  mean stage times per run: read %.2f s, normalize %.2f s, transpose %.2f s, rings %.2f s, "
           "filter+backproject %.2f s, write %.2f s\n",
           stages[0], stages[1], stages[2], stages[3], stages[4], stages[5]);
    printf("  memory: slab working set %.1f MiB (stated by recon), peak RSS %.1f MiB\n",
           (double)rep.slab_bytes / 1048576.0, (double)tl_bench_peak_rss() / 1048576.0);
    unlink(scan);
    unlink(out);
    free(rate);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "info") == 0) {
        tl_bench_header(stdout, "CPU reconstruction path: slices per second and peak memory");
        return 0;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: bench_fbp info | kernel|recon W ANGLES [SLICES [REPS [THREADS]]]\n");
        return 2;
    }
    size_t w = strtoul(argv[2], NULL, 10), na = strtoul(argv[3], NULL, 10);
    size_t slices = argc > 4 ? strtoul(argv[4], NULL, 10) : 4;
    int reps = argc > 5 ? atoi(argv[5]) : 5;
    int threads = argc > 6 ? atoi(argv[6]) : 0;
    tl_log_set_level(TL_LOG_WARN);
    if (w < 8 || na < 2 || slices < 1 || reps < 1) {
        fprintf(stderr, "bench_fbp: error: W >= 8, ANGLES >= 2, SLICES >= 1, REPS >= 1\n");
        return 2;
    }
    if (strcmp(argv[1], "kernel") == 0)
        return bench_kernel(w, na, slices, reps, threads);
    if (strcmp(argv[1], "recon") == 0)
        return bench_recon(w, na, slices, reps, threads);
    fprintf(stderr, "bench_fbp: error: mode '%s' is not kernel or recon\n", argv[1]);
    return 2;
}
