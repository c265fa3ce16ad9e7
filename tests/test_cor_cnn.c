/* test_cor_cnn.c - the centring CNN: weight format, layer arithmetic against
 * a hand computation and a naive reference, corrupt weights, patches. (The
 * shipped model's accuracy on simulated scans is in test_cor_search.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"

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

/* Patches come from the most structured windows inside the disk, normalised. */
Test(cnn, patches_pick_structure_inside_the_disk)
{
    const size_t n = 128;
    float *slice = calloc(n * n, sizeof *slice);
    /* a bright square near (80, 40) in [r][c]; a brighter one outside the disk of radius 40 */
    for (size_t r = 72; r < 88; r++)
        for (size_t c = 40; c < 56; c++)
            slice[r * n + c] = 1.0f;
    for (size_t r = 0; r < 10; r++)
        for (size_t c = 0; c < 10; c++)
            slice[r * n + c] = 5.0f;
    float out[2 * P * P];
    size_t got = tl_cnn_patches(slice, n, 50.0, 2, 0.0, 2.0, out);
    cr_assert_eq(got, 2);
    double sum = 0, max = 0;
    for (size_t i = 0; i < P * P; i++) {
        sum += out[i];
        max = fmax(max, out[i]);
    }
    cr_expect_float_eq(max, 0.5, 1e-6, "the square, scaled by 1/2");
    cr_expect_gt(sum, 0.0);
    cr_expect_eq(tl_cnn_patches(slice, 40, 50.0, 2, 0.0, 1.0, out), 0, "a slice smaller than two patches");
    free(slice);
}

Test(cnn, sinogram_normalisation)
{
    /* a disk of radius 20 and attenuation 0.05 per pixel: the longest chord is 40 px, integral 2.0 */
    const size_t na = 90, nc = 100;
    float *sino = malloc(na * nc * sizeof *sino);
    for (size_t i = 0; i < na; i++)
        for (size_t c = 0; c < nc; c++) {
            double s = (double)c - 49.5;
            sino[i * nc + c] = fabs(s) < 20 ? (float)(2 * 0.05 * sqrt(400 - s * s)) : 0.0f;
        }
    double offset, scale;
    tl_cnn_sino_norm(sino, na, nc, &offset, &scale);
    cr_expect_float_eq(offset, 0.0, 1e-12);
    cr_expect(scale > 2 * 1.99 / 100 && scale <= 2 * 2.0 / 100 + 1e-6, "scale %g", scale);
    for (size_t k = 0; k < na * nc; k++)
        sino[k] = 0;
    tl_cnn_sino_norm(sino, na, nc, &offset, &scale);
    cr_expect_eq(scale, 0.0, "no positive values");
    free(sino);
}
