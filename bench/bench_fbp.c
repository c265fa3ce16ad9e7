/* bench_fbp.c - speed and memory of the CPU reconstruction path.
 *
 *   bench_fbp kernel W ANGLES [SLICES [REPS [THREADS [ALGORITHM]]]]
 *       filter + backprojection (ALGORITHM fbp, the default) or gridrec
 *       (ALGORITHM gridrec) of SLICES sinograms (one slab) of a Shepp-Logan
 *       phantom, REPS times: slices per second (median, min, max), the
 *       backprojection alone in slices/s and GUPS (10^9 pixel updates, one pixel
 *       at one angle, per second), peak memory. TOMOLINE_SIMD=generic measures
 *       the portable backprojection; TOMOLINE_FFTW_MEASURE=1 plans the filter with
 *       FFTW_MEASURE and keeps the wisdom (kernels/fftw_wisdom.h).
 *   bench_fbp recon W ANGLES [SLICES [REPS [THREADS [ALGORITHM]]]]
 *       file to file: simulate a uint16 NXtomo scan of SLICES rows in $TMPDIR, then
 *       `tomoline recon` it (read, normalize, transpose, filter, backproject,
 *       write) REPS times: slices per second, peak memory.
 * Prints a block of readable text ending in one line
 *   "result: MODE ALGORITHM W ANGLES THREADS MEDIAN MIN MAX" (slices/s)
 * for scripts; bench/run_fbp.sh and bench/run_cpu_recon.sh collect them in bench/results/.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "config.h"
#include "fbp.h"
#include "fftw_wisdom.h"
#include "log.h"
#include "recon.h"
#include "sim.h"
#include "workers.h"

static int fail(const tl_error *err)
{
    fprintf(stderr, "bench_fbp: error: %s\n", err->message);
    return 1;
}

/* Which backprojection path runs (the rule of kernels/backproject_cpu.c, repeated for the record). */
static const char *simd_path(void)
{
    const char *cap = getenv("TOMOLINE_SIMD");
    if (cap && strcmp(cap, "generic") == 0)
        return "portable path (TOMOLINE_SIMD=generic)";
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    int capped = cap && strcmp(cap, "avx2") == 0;
    if (__builtin_cpu_supports("avx512f") && !capped)
        return "AVX-512 path";
    if (__builtin_cpu_supports("avx2"))
        return capped ? "AVX2 path (TOMOLINE_SIMD=avx2)" : "AVX2 path";
#endif
    return "portable path";
}

static int bench_kernel(size_t w, size_t na, size_t slices, int reps, int threads, tl_algorithm algorithm)
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
                     .window = TL_FILTER_RAMP, .backend = TL_BACKEND_CPU, .algorithm = algorithm};
    if (tl_fbp_plan_create(&d, workers, &plan, &err) != TL_OK)
        return fail(&err);
    t_plan = tl_now() - t_plan;
    /* each repetition: copy the slab in and filter it, then backproject it, timed apart;
     * one untimed run first (page faults of the plan's buffers, caches) */
    double *rate = malloc((size_t)reps * sizeof *rate), *bp_rate = malloc((size_t)reps * sizeof *bp_rate);
    double filter_seconds = 0;
    for (int r = -1; r < reps; r++) {
        double t0 = tl_now();
        for (size_t s = 0; s < slices; s++)
            for (size_t i = 0; i < na; i++)
                memcpy(tl_fbp_sino_line(plan, s, i), sino + (s * na + i) * w, w * sizeof(float));
        if (tl_fbp_filter(plan, slices, &err) != TL_OK)
            return fail(&err);
        double t1 = tl_now();
        if (tl_fbp_backproject(plan, slices, axis, out, &err) != TL_OK)
            return fail(&err);
        double t2 = tl_now();
        if (r < 0)
            continue;
        rate[r] = (double)slices / (t2 - t0);
        bp_rate[r] = (double)slices / (t2 - t1);
        filter_seconds += (t1 - t0) / reps;
    }
    tl_bench_stats st, bp;
    tl_bench_stats_of(rate, reps, &st);
    tl_bench_stats_of(bp_rate, reps, &bp);
    tl_fftw_wisdom_counters wisdom;
    tl_fftw_wisdom_get_counters(&wisdom);
    const double updates = (double)w * (double)w * (double)na * 1e-9; /* G pixel updates per slice */
    if (algorithm == TL_ALGORITHM_GRIDREC)
        printf("gridrec cpu %zux%zu (kernel: Fourier gridding of the unfiltered sinograms, %zu slices per slab, "
               "%d threads)\n",
               w, na, slices, tl_workers_count(workers));
    else
        printf("fbp cpu %zux%zu (kernel: filter + backprojection, %zu slices per slab, %d threads, %s)\n", w, na,
               slices, tl_workers_count(workers), simd_path());
    printf("  slices/s: median %.3f  min %.3f  max %.3f  spread %.1f%%  (%d runs)\n", st.median, st.min, st.max,
           100 * st.spread, st.n);
    printf("  per slice: %.3f s;  %.2f G %spixel-angles/s;  plan %.3f s\n", 1.0 / st.median, st.median * updates,
           algorithm == TL_ALGORITHM_GRIDREC ? "(direct-FBP equivalent) " : "backprojected ", t_plan);
    if (algorithm == TL_ALGORITHM_FBP)
        printf("  backprojection alone: %.3f slices/s (min %.3f, max %.3f), %.2f GUPS (G pixel updates/s); "
               "copy + filter %.3f s per slab\n",
               bp.median, bp.min, bp.max, bp.median * updates, filter_seconds);
    printf("  fftw plans: %lu from wisdom, %lu measured, %lu estimated (wisdom file %s)\n", wisdom.from_wisdom,
           wisdom.measured, wisdom.estimated, wisdom.loaded ? "imported" : "none");
    printf("  memory: plan %.1f MiB, peak RSS %.1f MiB (sinograms %.1f MiB and slices %.1f MiB of the slab "
           "included)\n",
           (double)tl_fbp_plan_bytes(plan) / 1048576.0, (double)tl_bench_peak_rss() / 1048576.0,
           (double)(slices * na * w * 4) / 1048576.0, (double)(slices * w * w * 4) / 1048576.0);
    printf("result: kernel %s %zu %zu %d %.4f %.4f %.4f\n", tl_algorithm_name(algorithm), w, na,
           tl_workers_count(workers), st.median, st.min, st.max);
    free(bp_rate);
    free(rate);
    free(angles);
    free(sino);
    free(out);
    tl_fbp_plan_destroy(&plan);
    tl_phantom_destroy(&ph);
    tl_workers_destroy(&workers);
    return 0;
}

static int bench_recon(size_t w, size_t na, size_t slices, int reps, int threads, tl_algorithm algorithm)
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
    snprintf(cfg.reconstruction_algorithm, sizeof cfg.reconstruction_algorithm, "%s", tl_algorithm_name(algorithm));
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
    printf("recon cpu %s %zux%zu (file to file: uint16 NXtomo in, float32 NeXus out, %zu slices, slabs of %ld rows, "
           "%d threads)\n",
           tl_algorithm_name(algorithm), w, na, slices, cfg.nsino_per_chunk, threads <= 0 ? tl_cpu_count() : threads);
    printf("  slices/s: median %.3f  min %.3f  max %.3f  spread %.1f%%  (%d runs)\n", st.median, st.min, st.max,
           100 * st.spread, st.n);
    printf("  mean stage times per run: read %.2f s, normalize %.2f s, transpose %.2f s, rings %.2f s, "
           "filter+backproject %.2f s, write %.2f s\n",
           stages[0], stages[1], stages[2], stages[3], stages[4], stages[5]);
    printf("  memory: slab working set %.1f MiB (stated by recon), peak RSS %.1f MiB\n",
           (double)rep.slab_bytes / 1048576.0, (double)tl_bench_peak_rss() / 1048576.0);
    printf("result: recon %s %zu %zu %d %.4f %.4f %.4f\n", tl_algorithm_name(algorithm), w, na,
           threads <= 0 ? tl_cpu_count() : threads, st.median, st.min, st.max);
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
        fprintf(stderr, "usage: bench_fbp info | kernel|recon W ANGLES [SLICES [REPS [THREADS [fbp|gridrec]]]]\n");
        return 2;
    }
    size_t w = strtoul(argv[2], NULL, 10), na = strtoul(argv[3], NULL, 10);
    size_t slices = argc > 4 ? strtoul(argv[4], NULL, 10) : 4;
    int reps = argc > 5 ? atoi(argv[5]) : 5;
    int threads = argc > 6 ? atoi(argv[6]) : 0;
    tl_log_set_level(TL_LOG_WARN);
    tl_algorithm algorithm = TL_ALGORITHM_FBP;
    tl_error err = {0};
    if (argc > 7 && tl_algorithm_parse(argv[7], &algorithm, &err) != TL_OK)
        return fail(&err);
    if (w < 8 || na < 2 || slices < 1 || reps < 1) {
        fprintf(stderr, "bench_fbp: error: W >= 8, ANGLES >= 2, SLICES >= 1, REPS >= 1\n");
        return 2;
    }
    if (strcmp(argv[1], "kernel") == 0)
        return bench_kernel(w, na, slices, reps, threads, algorithm);
    if (strcmp(argv[1], "recon") == 0)
        return bench_recon(w, na, slices, reps, threads, algorithm);
    fprintf(stderr, "bench_fbp: error: mode '%s' is not kernel or recon\n", argv[1]);
    return 2;
}
