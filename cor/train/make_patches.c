/* make_patches.c - training data for the centring CNN (cnn.h; Yang et al.
 * 2017, J. Synchrotron Rad. 24:469). Run by hand (cor/train/README.md).
 *
 * usage: make_patches OUT.bin N_SCANS SEED
 *
 * Each scan: a seeded random phantom (4..23 random ellipsoids, or the
 * modified Shepp-Logan head one time in four), 256 columns (128 one time in
 * four), 360 angles (180 or 720 one time in six each) over 180 or 360
 * degrees, the axis at a random offset from the centre (+-25 px; +-12 at 128
 * columns), Poisson noise (none one time in seven, else 10^3..10^5 photons
 * per pixel in the flat, log-uniform), per-column gain errors one time in
 * three (normal, relative 0.05..0.5 %, plus up to 6 defective columns of
 * 2..15 %), two random detector rows. The rows go through exactly what
 * tl_cor_cnn does: split into 180-degree halves, a view (tl_cnn_view_create:
 * binning, ring suppression, scale, padding) at each level the search visits,
 * positions picked at a reference axis as the search would, patches of trial
 * slices at candidate axes around the truth:
 *   coarse level (tl_cnn_coarse_bin): reference within +-30 px of the truth
 *     (the search picks at the middle of the window), offsets d 40 % within
 *     +-2, 60 % within +-45 binned px;
 *   the finer levels down to full resolution: reference within +-0.6 px
 *     (half the time) or +-2.5 binned px, d 50 % within +-1.2, 30 % within
 *     +-4, 20 % within +-8 binned px.
 * Output records (little-endian): { float32 d (binned px), float32 level
 * (0 coarse, 1 finer), float32 patch[32][32] }.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "rng.h"
#include "sim.h"
#include "trial.h"
#include "workers.h"

#define ROWS 2
#define CANDIDATES 14
#define K 12

static double uniform(tl_rng *r, double a, double b) { return a + (b - a) * tl_rng_uniform(r); }

typedef struct {
    FILE *out;
    float *patches;
    size_t records;
} sink;

/* One level: positions picked at truth + ref (full px), CANDIDATES offsets. */
static int level(const tl_cor_sinograms *part, size_t bin, double truth, int coarse, tl_rng *rng, tl_workers *workers,
                 sink *sk)
{
    tl_error err = {0};
    tl_cnn_view *view = NULL;
    double b = (double)bin;
    double ref = coarse ? uniform(rng, -30, 30)
                        : (tl_rng_uniform(rng) < 0.5 ? uniform(rng, -0.6, 0.6) : uniform(rng, -2.5, 2.5) * b);
    if (tl_cnn_view_create(part, bin, K, workers, &view, &err) != TL_OK ||
        tl_cnn_view_pick(view, truth + ref, &err) != TL_OK) {
        fprintf(stderr, "make_patches: %s\n", err.message);
        tl_cnn_view_destroy(&view);
        return 1;
    }
    for (int c = 0; c < CANDIDATES; c++) {
        double u = tl_rng_uniform(rng), d;
        if (coarse)
            d = u < 0.4 ? uniform(rng, -2, 2) : uniform(rng, -45, 45);
        else
            d = u < 0.5 ? uniform(rng, -1.2, 1.2) : u < 0.8 ? uniform(rng, -4, 4) : uniform(rng, -8, 8);
        size_t got = 0;
        if (tl_cnn_view_patches(view, truth + d * b, sk->patches, &got, &err) != TL_OK) {
            fprintf(stderr, "make_patches: %s\n", err.message);
            tl_cnn_view_destroy(&view);
            return 1;
        }
        float head[2] = {(float)d, coarse ? 0.0f : 1.0f};
        for (size_t p = 0; p < got; p++) {
            fwrite(head, sizeof(float), 2, sk->out);
            fwrite(sk->patches + p * TL_CNN_PATCH * TL_CNN_PATCH, sizeof(float), TL_CNN_PATCH * TL_CNN_PATCH,
                   sk->out);
        }
        sk->records += got;
    }
    tl_cnn_view_destroy(&view);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: make_patches OUT.bin N_SCANS SEED\n");
        return 2;
    }
    size_t n_scans = strtoul(argv[2], NULL, 10);
    uint64_t seed = strtoull(argv[3], NULL, 10);
    sink sk = {fopen(argv[1], "wb"), malloc(2 * ROWS * K * TL_CNN_PATCH * TL_CNN_PATCH * sizeof(float)), 0};
    if (!sk.out || !sk.patches) {
        perror(argv[1]);
        return 1;
    }
    tl_workers *workers = NULL;
    tl_error err = {0};
    if (tl_workers_create(0, &workers, &err) != TL_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (size_t s = 0; s < n_scans; s++) {
        size_t w = tl_rng_uniform(&rng) < 0.25 ? 128 : 256;
        double u = tl_rng_uniform(&rng);
        size_t n_angles = u < 1.0 / 6 ? 180 : u < 2.0 / 6 ? 720 : 360;
        double arc = tl_rng_uniform(&rng) < 0.5 ? 180.0 : 360.0;
        double reach = w == 128 ? 12 : 25;
        double axis = 0.5 * ((double)w - 1.0) + uniform(&rng, -reach, reach);
        int shepp = tl_rng_uniform(&rng) < 0.25;
        double photons = tl_rng_uniform(&rng) < 1.0 / 7 ? 0 : pow(10.0, uniform(&rng, 3, 5));
        int rings = tl_rng_uniform(&rng) < 1.0 / 3;
        double *angles = malloc(n_angles * sizeof *angles);
        float *sino = malloc(ROWS * n_angles * w * sizeof *sino);
        double *gain = malloc(w * sizeof *gain);
        if (!angles || !sino || !gain)
            return 1;
        for (size_t i = 0; i < n_angles; i++)
            angles[i] = arc * (double)i / (double)n_angles;
        tl_phantom *ph = NULL;
        if (tl_phantom_create(shepp ? TL_PHANTOM_SHEPP_LOGAN : TL_PHANTOM_ELLIPSES, w, 16, axis,
                              4 + tl_rng_below(&rng, 20), seed * 100003 + s, &ph, &err) != TL_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double sigma = rings ? uniform(&rng, 0.0005, 0.005) : 0;
        for (size_t c = 0; c < w; c++)
            gain[c] = 1.0 + sigma * tl_rng_normal(&rng);
        if (rings)
            for (size_t k = tl_rng_below(&rng, 7); k > 0; k--)
                gain[tl_rng_below(&rng, w)] *= 1.0 + (tl_rng_uniform(&rng) < 0.5 ? -1 : 1) * uniform(&rng, 0.02, 0.15);
        for (size_t r = 0; r < ROWS; r++) {
            float *line = sino + r * n_angles * w;
            tl_phantom_project_row(ph, 2 + tl_rng_below(&rng, 12), angles, n_angles, line);
            for (size_t k = 0; k < n_angles * w; k++) {
                double t = exp(-line[k]) * gain[k % w];
                if (photons > 0) {
                    double counts = tl_rng_poisson(&rng, photons * t);
                    t = (counts < 1 ? 1 : counts) / photons;
                }
                line[k] = (float)-log(t);
            }
        }
        tl_phantom_destroy(&ph);
        tl_cor_sinograms full = {.sino = sino, .n_rows = ROWS, .n_angles = n_angles, .n_cols = w,
                                 .angles_deg = angles};
        tl_cor_sinograms halves[2] = {{0}};
        int parts = 0;
        if (tl_cor_split_halves(&full, 0, ROWS, halves, &parts, &err) != TL_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        size_t b0 = tl_cnn_coarse_bin(w);
        for (int p = 0; p < parts; p++) {
            if (level(&halves[p], b0, axis, 1, &rng, workers, &sk))
                return 1;
            for (size_t b = b0 > 1 ? b0 / 2 : 1;; b /= 2) {
                if (level(&halves[p], b, axis, 0, &rng, workers, &sk))
                    return 1;
                if (b == 1)
                    break;
            }
            tl_cor_reduced_free(&halves[p]);
        }
        free(angles);
        free(sino);
        free(gain);
        if ((s + 1) % 20 == 0)
            fprintf(stderr, "make_patches: %zu/%zu scans, %zu patches\n", s + 1, n_scans, sk.records);
    }
    fclose(sk.out);
    fprintf(stderr, "make_patches: wrote %zu patches to %s\n", sk.records, argv[1]);
    free(sk.patches);
    tl_workers_destroy(&workers);
    return 0;
}
