/* test_cor_cnn.c - the centring CNN (Yang et al. 2017): weight format and
 * layer arithmetic against a hand computation and a naive reference, corrupt
 * weights, the input preparation (window choice, ring suppression, scale),
 * and the shipped model finding the axis of simulated scans within 0.5 px. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "cor.h"
#include "cor_methods.h"
#include "rng.h"
#include "sim.h"
#include "workers.h"

#define P TL_CNN_PATCH

typedef struct {
    unsigned char *data;
    size_t size;
} blob;

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static size_t n_weights(uint32_t c1, uint32_t c2, uint32_t c3, uint32_t h)
{
    return c1 * 9 + c1 + c2 * c1 * 9 + c2 + c3 * c2 * 9 + c3 + h * c3 * 16 + h + h + 1;
}

static blob make_blob(uint32_t c1, uint32_t c2, uint32_t c3, uint32_t h, const float *w)
{
    size_t n = n_weights(c1, c2, c3, h);
    blob b = {malloc(28 + 4 * n), 28 + 4 * n};
    memcpy(b.data, "TLCNN\0\0\1", 8);
    put_u32(b.data + 8, P);
    put_u32(b.data + 12, c1);
    put_u32(b.data + 16, c2);
    put_u32(b.data + 20, c3);
    put_u32(b.data + 24, h);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &w[i], 4);
        put_u32(b.data + 28 + 4 * i, bits);
    }
    return b;
}

/* One channel everywhere, identity kernels, dense1 the mean, dense2 = 2x - 1:
 * a constant patch v gives sigmoid(2v - 1). */
Test(cnn, hand_computed_identity_network)
{
    float w[9 + 1 + 9 + 1 + 9 + 1 + 16 + 1 + 1 + 1] = {0};
    w[4] = 1;          /* conv1 centre tap */
    w[10 + 4] = 1;     /* conv2 */
    w[20 + 4] = 1;     /* conv3 */
    for (int i = 0; i < 16; i++)
        w[30 + i] = 1.0f / 16.0f; /* dense1 */
    w[47] = 2;         /* dense2 weight */
    w[48] = -1;        /* dense2 bias */
    blob b = make_blob(1, 1, 1, 1, w);
    tl_cnn *net = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_cnn_load(b.data, b.size, "test", &net, &err), TL_OK, "%s", err.message);
    float *scratch = malloc(tl_cnn_scratch_floats(net) * sizeof *scratch);
    float patch[P * P];
    for (int i = 0; i < P * P; i++)
        patch[i] = 0.75f;
    cr_expect_float_eq(tl_cnn_score(net, patch, scratch), 1.0 / (1.0 + exp(-0.5)), 1e-6);
    /* negative inputs are cut by the first ReLU: sigmoid(-1) */
    for (int i = 0; i < P * P; i++)
        patch[i] = -3.0f;
    cr_expect_float_eq(tl_cnn_score(net, patch, scratch), 1.0 / (1.0 + exp(1.0)), 1e-6);
    free(scratch);
    tl_cnn_destroy(&net);
    free(b.data);
}

/* naive reference: conv 3x3 zero-padded + ReLU, max-pool, dense, PyTorch order */
static void ref_conv(const float *in, int cin, int s, const float *w, const float *bias, int cout, float *out)
{
    for (int o = 0; o < cout; o++)
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                double sum = bias[o];
                for (int i = 0; i < cin; i++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int yy = y + ky - 1, xx = x + kx - 1;
                            if (yy >= 0 && yy < s && xx >= 0 && xx < s)
                                sum += w[((o * cin + i) * 3 + ky) * 3 + kx] * in[(i * s + yy) * s + xx];
                        }
                out[(o * s + y) * s + x] = sum > 0 ? (float)sum : 0.0f;
            }
}

static void ref_pool(const float *in, int c, int s, float *out)
{
    for (int k = 0; k < c; k++)
        for (int y = 0; y < s / 2; y++)
            for (int x = 0; x < s / 2; x++) {
                float m = -INFINITY;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        m = fmaxf(m, in[(k * s + 2 * y + dy) * s + 2 * x + dx]);
                out[(k * (s / 2) + y) * (s / 2) + x] = m;
            }
}

Test(cnn, matches_a_naive_reference)
{
    const int c1 = 3, c2 = 4, c3 = 5, h = 6;
    size_t n = n_weights(c1, c2, c3, h);
    float *w = malloc(n * sizeof *w);
    srand(7);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((rand() / (double)RAND_MAX - 0.5) * 0.6);
    blob b = make_blob(c1, c2, c3, h, w);
    tl_cnn *net = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_cnn_load(b.data, b.size, "test", &net, &err), TL_OK, "%s", err.message);
    float patch[P * P];
    for (int y = 0; y < P; y++)
        for (int x = 0; x < P; x++)
            patch[y * P + x] = (float)(sin(0.3 * x) * cos(0.17 * y) + 0.01 * ((x * 7 + y * 3) % 11));
    static float a[16 * P * P], bb[16 * P * P];
    const float *w1 = w, *b1 = w1 + c1 * 9, *w2 = b1 + c1, *b2 = w2 + c2 * c1 * 9, *w3 = b2 + c2,
                *b3 = w3 + c3 * c2 * 9, *wd1 = b3 + c3, *bd1 = wd1 + h * c3 * 16, *wd2 = bd1 + h, *bd2 = wd2 + h;
    ref_conv(patch, 1, P, w1, b1, c1, a);
    ref_pool(a, c1, P, bb);
    ref_conv(bb, c1, P / 2, w2, b2, c2, a);
    ref_pool(a, c2, P / 2, bb);
    ref_conv(bb, c2, P / 4, w3, b3, c3, a);
    ref_pool(a, c3, P / 4, bb);
    double z = bd2[0];
    for (int j = 0; j < h; j++) {
        double s = bd1[j];
        for (int i = 0; i < c3 * 16; i++)
            s += wd1[j * c3 * 16 + i] * bb[i];
        z += wd2[j] * (s > 0 ? s : 0);
    }
    float *scratch = malloc(tl_cnn_scratch_floats(net) * sizeof *scratch);
    cr_expect_float_eq(tl_cnn_score(net, patch, scratch), 1.0 / (1.0 + exp(-z)), 1e-5);
    free(scratch);
    tl_cnn_destroy(&net);
    free(b.data);
    free(w);
}

Test(cnn, corrupt_weights_are_refused)
{
    float w[49] = {0};
    blob b = make_blob(1, 1, 1, 1, w);
    tl_cnn *net = NULL;
    tl_error err = {0};
    cr_expect_neq(tl_cnn_load(b.data, b.size - 4, "w.bin", &net, &err), TL_OK);
    cr_expect_str_eq(err.message, "w.bin: 220 bytes, but the header (patch 32, channels 1/1/1, hidden 1) needs "
                                  "exactly 224 (truncated or corrupt)");
    cr_expect_null(net);
    cr_expect_neq(tl_cnn_load(b.data, 20, "w.bin", &net, &err), TL_OK);
    cr_expect_str_eq(err.message, "w.bin: not a tomoline CNN weights file (expected the magic TLCNN version 1 and "
                                  "a 28-byte header, got 20 bytes)");
    b.data[7] = 2;
    cr_expect_neq(tl_cnn_load(b.data, b.size, "w.bin", &net, &err), TL_OK);
    b.data[7] = 1;
    put_u32(b.data + 8, 64);
    cr_expect_neq(tl_cnn_load(b.data, b.size, "w.bin", &net, &err), TL_OK);
    cr_expect(strstr(err.message, "unsupported shape (patch 64") != NULL, "%s", err.message);
    put_u32(b.data + 8, P);
    uint32_t nan_bits = 0x7fc00000u;
    put_u32(b.data + 28 + 4 * 10, nan_bits);
    cr_expect_neq(tl_cnn_load(b.data, b.size, "w.bin", &net, &err), TL_OK);
    cr_expect_str_eq(err.message, "w.bin: weight 10 is not a finite number");
    free(b.data);
}

Test(cnn, builtin_weights_load)
{
    tl_cnn *net = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_cnn_load_builtin(&net, &err), TL_OK, "%s", err.message);
    cr_expect_gt(tl_cnn_scratch_floats(net), 0);
    tl_cnn_destroy(&net);
}

/* The most structured windows, not overlapping, none in the flat part. */
Test(cnn, windows_pick_structure_without_overlap)
{
    const size_t n = 128;
    float *slice = calloc(n * n, sizeof *slice);
    /* a bright square with corners inside window (64, 32), a fainter one at (0, 96) */
    for (size_t r = 72; r < 88; r++)
        for (size_t c = 40; c < 56; c++)
            slice[r * n + c] = 1.0f;
    for (size_t r = 4; r < 20; r++)
        for (size_t c = 100; c < 116; c++)
            slice[r * n + c] = 0.5f;
    size_t pos[8];
    size_t got = tl_cnn_pick_windows(slice, n, 8, pos);
    cr_assert(got >= 2, "got %zu", got);
    /* the windows holding the bright square (x0 in {32,40..}, y0 in {64,..}) come first */
    size_t y0 = pos[0] / n, x0 = pos[0] % n;
    cr_expect(x0 <= 40 && x0 + TL_CNN_PATCH >= 56 && y0 <= 72 && y0 + TL_CNN_PATCH >= 88, "first at %zu,%zu", y0, x0);
    for (size_t i = 0; i < got; i++)
        for (size_t j = i + 1; j < got; j++) {
            long dy = (long)(pos[i] / n) - (long)(pos[j] / n), dx = (long)(pos[i] % n) - (long)(pos[j] % n);
            cr_expect(labs(dy) >= TL_CNN_PATCH || labs(dx) >= TL_CNN_PATCH, "windows %zu and %zu overlap", i, j);
        }
    /* only windows touching an edge of a square have gradient energy */
    for (size_t i = 0; i < got; i++) {
        double e = 0;
        for (size_t y = pos[i] / n; y < pos[i] / n + TL_CNN_PATCH; y++)
            for (size_t x = pos[i] % n; x < pos[i] % n + TL_CNN_PATCH; x++)
                e += slice[y * n + x];
        cr_expect_gt(e, 0.0, "window %zu is flat", i);
    }
    cr_expect_eq(tl_cnn_pick_windows(slice, 20, 2, pos), 0, "a slice smaller than a patch");
    free(slice);
}

/* A constant offset per column (a gain error) is removed; a smooth object stays. */
Test(cnn, ring_suppression)
{
    const size_t na = 90, nc = 100;
    float *sino = malloc(na * nc * sizeof *sino), *clean = malloc(na * nc * sizeof *clean);
    for (size_t i = 0; i < na; i++)
        for (size_t c = 0; c < nc; c++) {
            double s = (double)c - 49.5 - 10 * cos(i * M_PI / na);
            clean[i * nc + c] = fabs(s) < 30 ? (float)(0.1 * sqrt(900 - s * s)) : 0.0f;
            sino[i * nc + c] = clean[i * nc + c] + (c == 20 ? 0.3f : c == 61 ? -0.2f : 0.0f);
        }
    tl_cnn_suppress_rings(sino, na, nc);
    double worst = 0, mean20 = 0;
    for (size_t i = 0; i < na; i++) {
        mean20 += (sino[i * nc + 20] - clean[i * nc + 20]) / na;
        for (size_t c = 0; c < nc; c++)
            worst = fmax(worst, fabs(sino[i * nc + c] - clean[i * nc + c]));
    }
    cr_expect_lt(fabs(mean20), 0.03, "column 20 still off by %g", mean20);
    cr_expect_lt(worst, 0.1, "largest change %g", worst);
    free(sino);
    free(clean);
}

Test(cnn, sinogram_scale)
{
    /* a disk of radius 20 and attenuation 0.05 per pixel: the longest chord is 40 px, integral 2.0 */
    const size_t na = 90, nc = 100;
    float *sino = malloc(na * nc * sizeof *sino);
    for (size_t i = 0; i < na; i++)
        for (size_t c = 0; c < nc; c++) {
            double s = (double)c - 49.5;
            sino[i * nc + c] = fabs(s) < 20 ? (float)(2 * 0.05 * sqrt(400 - s * s)) : 0.0f;
        }
    double scale = tl_cnn_sino_scale(sino, na, nc);
    cr_expect(scale > 2 * 1.99 / 100 && scale <= 2 * 2.0 / 100 + 1e-6, "scale %g", scale);
    for (size_t k = 0; k < na * nc; k++)
        sino[k] = 0;
    cr_expect_eq(tl_cnn_sino_scale(sino, na, nc), 0.0, "no positive values");
    free(sino);
}

Test(cnn, level_shapes)
{
    size_t step, n;
    cr_expect_eq(tl_cnn_coarse_bin(256), 2);
    cr_expect_eq(tl_cnn_coarse_bin(128), 1);
    cr_expect_eq(tl_cnn_coarse_bin(2048), 16);
    tl_cnn_level_shape(256, 360, 1, &step, &n);
    cr_expect(step == 1 && n == 256, "step %zu, n %zu", step, n);
    tl_cnn_level_shape(2048, 1500, 1, &step, &n);
    cr_expect(n == 256 && step == 4, "step %zu, n %zu", step, n);
}

/* ---- the shipped model on simulated scans ---- */

typedef struct {
    float *sino;
    double *angles;
    tl_cor_sinograms in;
} scan;

/* rows of a seeded phantom, Poisson noise of 10^4 photons, optional rings */
static scan simulate(size_t w, size_t n_angles, double arc, double offset, tl_phantom_kind kind, int rings,
                     uint64_t seed)
{
    const size_t rows = 4;
    scan s = {malloc(rows * n_angles * w * sizeof(float)), malloc(n_angles * sizeof(double)), {0}};
    cr_assert(s.sino && s.angles);
    for (size_t i = 0; i < n_angles; i++)
        s.angles[i] = arc * (double)i / (double)n_angles;
    tl_phantom *ph = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_phantom_create(kind, w, 16, 0.5 * (w - 1.0) + offset, 12, seed, &ph, &err), TL_OK, "%s",
                 err.message);
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    double *gain = malloc(w * sizeof *gain);
    for (size_t c = 0; c < w; c++)
        gain[c] = 1.0 + (rings ? 0.002 * tl_rng_normal(&rng) : 0.0);
    if (rings) {
        gain[w / 3] *= 0.9;
        gain[w / 2 + 7] *= 1.1;
    }
    for (size_t r = 0; r < rows; r++) {
        float *line = s.sino + r * n_angles * w;
        tl_phantom_project_row(ph, 5 + 2 * r, s.angles, n_angles, line);
        for (size_t k = 0; k < n_angles * w; k++) {
            double counts = tl_rng_poisson(&rng, 1e4 * exp(-line[k]) * gain[k % w]);
            line[k] = (float)-log((counts < 1 ? 1 : counts) / 1e4);
        }
    }
    free(gain);
    tl_phantom_destroy(&ph);
    s.in = (tl_cor_sinograms){.sino = s.sino, .n_rows = rows, .n_angles = n_angles, .n_cols = w,
                              .angles_deg = s.angles};
    return s;
}

static void check_scan(size_t w, size_t n_angles, double arc, double offset, tl_phantom_kind kind, int rings,
                       uint64_t seed)
{
    scan s = simulate(w, n_angles, arc, offset, kind, rings, seed);
    tl_workers *workers = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_workers_create(2, &workers, &err), TL_OK);
    tl_cor_report rep;
    memset(&rep, 0, sizeof rep);
    cr_assert_eq(tl_cor_find(&s.in, TL_COR_CNN, NULL, workers, &rep, &err), TL_OK, "%s", err.message);
    double truth = 0.5 * (w - 1.0) + offset;
    cr_expect_lt(fabs(rep.axis - truth), 0.5, "%zu wide, %g degrees, offset %+g: found %.3f, truth %.3f", w, arc,
                 offset, rep.axis, truth);
    cr_expect(rep.confidence > 0 && rep.confidence <= 1, "confidence %g", rep.confidence);
    tl_workers_destroy(&workers);
    free(s.sino);
    free(s.angles);
}

Test(cnn_search, arc180_offset_minus17, .timeout = 180)
{
    check_scan(256, 360, 180.0, -17.3, TL_PHANTOM_ELLIPSES, 0, 11);
}

Test(cnn_search, arc360_offset_plus8_rings, .timeout = 180)
{
    check_scan(256, 360, 360.0, 8.6, TL_PHANTOM_SHEPP_LOGAN, 1, 12);
}

Test(cnn_search, narrow_detector_arc360, .timeout = 180)
{
    check_scan(128, 180, 360.0, -6.4, TL_PHANTOM_ELLIPSES, 0, 13);
}

/* The truth outside a narrow window: the best score lies at its edge, and
 * the method says it cannot decide rather than make up an axis. */
Test(cnn_search, axis_outside_the_window_is_refused, .timeout = 180)
{
    scan s = simulate(128, 180, 180.0, 12.0, TL_PHANTOM_ELLIPSES, 0, 14);
    tl_workers *workers = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_workers_create(2, &workers, &err), TL_OK);
    tl_cor_estimate est;
    memset(&est, 0, sizeof est);
    cr_expect_eq(tl_cor_cnn(&s.in, 40.0, 60.0, TL_ALGORITHM_FBP, workers, &est, &err), TL_ERR_INVALID);
    cr_expect_eq(est.found, 0);
    /* refused either way: the best score at the window's edge, or no score high enough */
    cr_expect(strstr(est.message, "edge of the search window") != NULL ||
                  strstr(est.message, "no trial reconstruction looks centred") != NULL,
              "%s", est.message);
    /* too narrow a detector for a 32-px patch at any level */
    s.in.n_cols = 40;
    memset(&est, 0, sizeof est);
    cr_expect_eq(tl_cor_cnn(&s.in, 10.0, 30.0, TL_ALGORITHM_FBP, workers, &est, &err), TL_ERR_INVALID);
    cr_expect_eq(est.found, 0);
    cr_expect(strstr(est.message, "at least 64") != NULL, "%s", est.message);
    tl_workers_destroy(&workers);
    free(s.sino);
    free(s.angles);
}
