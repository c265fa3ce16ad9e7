/* bench_preprocess.c - time per projection of each preprocessing filter (issue 10):
 * dezinger, binning, beam normalization, flat/dark normalization (for scale) and
 * Paganin phase retrieval, on W x W frames (default 2048 x 2048).
 *
 *   bench_preprocess [--size W] [--repeat K] [--threads T] [--frames F]
 *
 * Each filter runs K times on one frame on one thread (seconds per projection:
 * median, min, max, spread), then K times on F frames with T threads (seconds per
 * projection = wall time / F). The frame is the Shepp-Logan head's projection at
 * 30 degrees in counts (flat 10000, dark 100) with +-1% deterministic noise and
 * zingers at 1e-4 of the pixels, so the dezinger does its real work. FFTW plans
 * come from the wisdom rule of kernels/fftw_wisdom.h (FFTW_ESTIMATE unless wisdom
 * exists or TOMOLINE_FFTW_MEASURE=1); planning is outside the timing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "binning.h"
#include "dezinger.h"
#include "log.h"
#include "normalize.h"
#include "paganin.h"
#include "sim.h"
#include "workers.h"

typedef enum { F_DEZINGER3, F_DEZINGER5, F_BIN2, F_BIN4, F_BIN8, F_BEAM, F_NORMALIZE, F_PAGANIN_A, F_PAGANIN_B, F_COUNT } filter;

static const char *const names[F_COUNT] = {
    "dezinger 3x3 (threshold 5000)",  "dezinger 5x5 (threshold 5000)", "binning 2x2", "binning 4x4", "binning 8x8",
    "beam normalization",             "flat/dark normalization + -log",
    "paganin 20 keV 100 mm 1 um d/b 100", "paganin 30 keV 300 mm 1.3 um d/b 1000",
};

typedef struct {
    size_t w, frames;
    float *src;   /* [frames][w][w] the input frames, never modified */
    float *work;  /* [frames][w][w] */
    float *out;   /* [frames][w][w] */
    float *flat, *dark;
    tl_dezinger_plan *dz3, *dz5;
    tl_paganin_plan *pg[2];
    tl_workers *workers;
} bench_ctx;

/* The filter f on frames work[0..n) (refilled from src by the caller, outside the timing). */
static void run(bench_ctx *c, filter f, size_t n)
{
    const size_t plane = c->w * c->w;
    switch (f) {
    case F_DEZINGER3:
        tl_dezinger_exec(c->dz3, c->work, n, c->w, 0, c->w, NULL);
        break;
    case F_DEZINGER5:
        tl_dezinger_exec(c->dz5, c->work, n, c->w, 0, c->w, NULL);
        break;
    case F_BIN2:
    case F_BIN4:
    case F_BIN8:
        tl_binning_frames(c->work, n, c->w, c->w, (size_t)2 << (f - F_BIN2), c->out, c->workers);
        break;
    case F_BEAM:
        for (size_t k = 0; k < n; k++) {
            float *v = c->work + k * plane;
            const float inv = 1.0f / 1.03f;
            for (size_t i = 0; i < plane; i++)
                v[i] = c->dark[i] + (v[i] - c->dark[i]) * inv;
        }
        break;
    case F_NORMALIZE:
        if (tl_normalize_cpu(c->work, n, c->w, c->w, c->flat, c->dark, 1, 0, c->workers, NULL, NULL) != TL_OK)
            fprintf(stderr, "bench_preprocess: normalization failed\n");
        break;
    case F_PAGANIN_A:
    case F_PAGANIN_B:
        tl_paganin_exec(c->pg[f - F_PAGANIN_A], c->work, n, c->w);
        break;
    default:
        break;
    }
}

int main(int argc, char **argv)
{
    size_t w = 2048, frames = 4;
    int repeat = 5, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc)
            w = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            frames = (size_t)atol(argv[++i]);
        else {
            printf("usage: bench_preprocess [--size W (2048)] [--repeat K (5)] [--threads T (0: all cores)] "
                   "[--frames F (4)]\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (w < 64 || repeat < 1 || frames < 1) {
        fprintf(stderr, "bench_preprocess: --size >= 64, --repeat >= 1, --frames >= 1\n");
        return 2;
    }
    tl_log_set_level(TL_LOG_WARN);
    tl_error err = {0};
    bench_ctx c = {.w = w, .frames = frames};
    tl_workers *one = NULL;
    tl_phantom *ph = NULL;
    const size_t plane = w * w;
    if (tl_workers_create(threads, &c.workers, &err) != TL_OK || tl_workers_create(1, &one, &err) != TL_OK ||
        tl_phantom_create(TL_PHANTOM_SHEPP_LOGAN, w, w, 0.5 * ((double)w - 1.0), 0, 1, &ph, &err) != TL_OK) {
        fprintf(stderr, "bench_preprocess: %s\n", err.message);
        return 1;
    }
    c.src = malloc(frames * plane * sizeof(float));
    c.work = malloc(frames * plane * sizeof(float));
    c.out = malloc(frames * plane * sizeof(float));
    c.flat = malloc(plane * sizeof(float));
    c.dark = malloc(plane * sizeof(float));
    if (!c.src || !c.work || !c.out || !c.flat || !c.dark) {
        fprintf(stderr, "bench_preprocess: out of memory for %zu frames of %zu x %zu\n", frames, w, w);
        return 1;
    }
    /* the frame: counts of the head's projection at 30 degrees, every row its own slice */
    const double angle = 30.0;
    for (size_t r = 0; r < w; r++)
        tl_phantom_project_row(ph, r, &angle, 1, c.src + r * w);
    unsigned s = 12345;
    for (size_t i = 0; i < plane; i++) {
        s = s * 1103515245u + 12345u;
        double noise = 1.0 + 0.01 * ((double)(s >> 16 & 0x7fff) / 16384.0 - 1.0);
        c.src[i] = (float)(10000.0 * exp(-(double)c.src[i]) * noise + 100.0);
        if ((s >> 3) % 10000 == 0)
            c.src[i] += 15000.0f;
        c.flat[i] = 10100.0f;
        c.dark[i] = 100.0f;
    }
    for (size_t k = 1; k < frames; k++)
        memcpy(c.src + k * plane, c.src, plane * sizeof(float));
    tl_paganin_params pa = {.energy_kev = 20, .distance_m = 0.1, .pixel_size_m = 1e-6, .delta_beta = 100};
    tl_paganin_params pb = {.energy_kev = 30, .distance_m = 0.3, .pixel_size_m = 1.3e-6, .delta_beta = 1000};
    const tl_paganin_params *pp[2] = {&pa, &pb};
    tl_bench_header(stdout, "preprocessing filters (issue 10): time per projection");
    double load[3] = {0, 0, 0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = load[1] = load[2] = -1;
        fclose(la);
    }
    printf("load:     %.2f %.2f %.2f (1, 5, 15 min averages at the start; other work on the machine slows the "
           "threaded column)\n", load[0], load[1], load[2]);
    printf("frame:    %zu x %zu float32; %d repeats; %d threads for the batch of %zu frames\n", w, w, repeat,
           tl_workers_count(c.workers), frames);
    for (int k = 0; k < 2; k++) {
        double coef = tl_paganin_coefficient(pp[k]);
        size_t pr, pc;
        tl_paganin_desc d = {.max_rows = w, .n_cols = w, .coefficient = coef};
        tl_paganin_plan *probe = NULL;
        if (tl_paganin_plan_create(&d, one, &probe, &err) != TL_OK) {
            fprintf(stderr, "bench_preprocess: %s\n", err.message);
            return 1;
        }
        tl_paganin_plan_padded(probe, &pr, &pc);
        tl_paganin_plan_destroy(&probe);
        printf("%s: c = %.4g, kernel length %.1f px, margin %zu, padded %zu x %zu\n", names[F_PAGANIN_A + k], coef,
               sqrt(coef) / (2 * 3.14159265358979), tl_paganin_margin(coef), pr, pc);
    }
    printf("\nmilliseconds per projection: one frame on 1 thread (median, min, max, spread) | a batch on %d threads\n",
           tl_workers_count(c.workers));
    printf("%-40s %9s %9s %9s %7s | %9s %7s\n", "filter", "median", "min", "max", "spread", "median", "spread");
    double *samples = malloc((size_t)repeat * sizeof *samples);
    /* one frame on one thread, then a batch of frames on all threads, each with its own plans */
    tl_bench_stats st1[F_COUNT], stn[F_COUNT];
    tl_workers *all = c.workers;
    for (int pass = 0; pass < 2; pass++) {
        tl_workers *wk = pass == 0 ? one : all;
        c.workers = wk;
        tl_dezinger_plan_destroy(&c.dz3);
        tl_dezinger_plan_destroy(&c.dz5);
        tl_paganin_plan_destroy(&c.pg[0]);
        tl_paganin_plan_destroy(&c.pg[1]);
        if (tl_dezinger_plan_create(w, w, 3, 5000, wk, &c.dz3, &err) != TL_OK ||
            tl_dezinger_plan_create(w, w, 5, 5000, wk, &c.dz5, &err) != TL_OK) {
            fprintf(stderr, "bench_preprocess: %s\n", err.message);
            return 1;
        }
        for (int k = 0; k < 2; k++) {
            tl_paganin_desc d = {.max_rows = w, .n_cols = w, .coefficient = tl_paganin_coefficient(pp[k])};
            if (tl_paganin_plan_create(&d, wk, &c.pg[k], &err) != TL_OK) {
                fprintf(stderr, "bench_preprocess: %s\n", err.message);
                return 1;
            }
        }
        const size_t n = pass == 0 ? 1 : frames;
        for (int f = 0; f < F_COUNT; f++) {
            for (int r = -1; r < repeat; r++) { /* r = -1: warm-up (pages, caches) */
                memcpy(c.work, c.src, n * plane * sizeof(float));
                double t0 = tl_now();
                run(&c, (filter)f, n);
                if (r >= 0)
                    samples[r] = (tl_now() - t0) / (double)n;
            }
            tl_bench_stats_of(samples, repeat, pass == 0 ? &st1[f] : &stn[f]);
        }
    }
    c.workers = all;
    for (int f = 0; f < F_COUNT; f++)
        printf("%-40s %9.2f %9.2f %9.2f %6.1f%% | %9.2f %6.1f%%\n", names[f], 1e3 * st1[f].median, 1e3 * st1[f].min,
               1e3 * st1[f].max, 100 * st1[f].spread, 1e3 * stn[f].median, 100 * stn[f].spread);
    printf("\npeak memory %.0f MiB\n", (double)tl_bench_peak_rss() / 1048576.0);
    tl_dezinger_plan_destroy(&c.dz3);
    tl_dezinger_plan_destroy(&c.dz5);
    tl_paganin_plan_destroy(&c.pg[0]);
    tl_paganin_plan_destroy(&c.pg[1]);
    tl_phantom_destroy(&ph);
    tl_workers_destroy(&one);
    tl_workers_destroy(&c.workers);
    free(samples);
    free(c.src);
    free(c.work);
    free(c.out);
    free(c.flat);
    free(c.dark);
    return 0;
}
