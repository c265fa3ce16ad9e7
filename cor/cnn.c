/* cnn.c - the centring CNN of Yang et al. 2017 (J. Synchrotron Rad. 24:469):
 * weights, forward pass, and the preparation of its input (cnn.h). */
#include "cnn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trial.h"

struct tl_cnn {
    uint32_t p, c1, c2, c3, h;
    float *w1, *b1, *w2, *b2, *w3, *b3, *wd1, *bd1, *wd2, *bd2;
    float *all;
};

static const unsigned char magic[8] = {'T', 'L', 'C', 'N', 'N', 0, 0, 1};

static uint32_t read_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void tl_cnn_destroy(tl_cnn **net)
{
    if (!net || !*net)
        return;
    free((*net)->all);
    free(*net);
    *net = NULL;
}

tl_status tl_cnn_load(const unsigned char *data, size_t size, const char *what, tl_cnn **out, tl_error *err)
{
    *out = NULL;
    if (size < 28 || memcmp(data, magic, 8) != 0)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "%s: not a tomoline CNN weights file (expected the magic TLCNN version 1 and a "
                            "28-byte header, got %zu bytes)",
                            what, size);
    uint32_t p = read_u32(data + 8), c1 = read_u32(data + 12), c2 = read_u32(data + 16), c3 = read_u32(data + 20),
             h = read_u32(data + 24);
    if (p != TL_CNN_PATCH || c1 == 0 || c2 == 0 || c3 == 0 || h == 0 || c1 > 256 || c2 > 256 || c3 > 256 ||
        h > 4096)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "%s: unsupported shape (patch %u, channels %u/%u/%u, hidden %u; allowed: patch %d, "
                            "1..256 channels, 1..4096 hidden)",
                            what, p, c1, c2, c3, h, TL_CNN_PATCH);
    size_t flat = (size_t)c3 * (p / 8) * (p / 8);
    size_t counts[10] = {(size_t)c1 * 9, c1, (size_t)c2 * c1 * 9, c2, (size_t)c3 * c2 * 9, c3, (size_t)h * flat, h,
                         h, 1};
    size_t total = 0;
    for (int i = 0; i < 10; i++)
        total += counts[i];
    if (size != 28 + 4 * total)
        return tl_error_set(err, TL_ERR_FORMAT,
                            "%s: %zu bytes, but the header (patch %u, channels %u/%u/%u, hidden %u) needs exactly "
                            "%zu (truncated or corrupt)",
                            what, size, p, c1, c2, c3, h, 28 + 4 * total);
    tl_cnn *n = calloc(1, sizeof *n);
    float *all = n ? malloc(total * sizeof *all) : NULL;
    if (!all) {
        free(n);
        return tl_error_set(err, TL_ERR_NOMEM, "%s: out of memory", what);
    }
    for (size_t i = 0; i < total; i++) {
        uint32_t bits = read_u32(data + 28 + 4 * i);
        float v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) {
            free(all);
            free(n);
            return tl_error_set(err, TL_ERR_FORMAT, "%s: weight %zu is not a finite number", what, i);
        }
        all[i] = v;
    }
    n->p = p, n->c1 = c1, n->c2 = c2, n->c3 = c3, n->h = h;
    n->all = all;
    float **slots[10] = {&n->w1, &n->b1, &n->w2, &n->b2, &n->w3, &n->b3, &n->wd1, &n->bd1, &n->wd2, &n->bd2};
    float *at = all;
    for (int i = 0; i < 10; i++) {
        *slots[i] = at;
        at += counts[i];
    }
    *out = n;
    return TL_OK;
}

size_t tl_cnn_scratch_floats(const tl_cnn *net)
{
    size_t p = net->p;
    /* two ping-pong buffers for the largest activation (C1 x P x P), plus the hidden layer */
    size_t big = (size_t)net->c1 * p * p;
    size_t b2 = (size_t)net->c2 * (p / 2) * (p / 2), b3 = (size_t)net->c3 * (p / 4) * (p / 4);
    big = big > b2 ? big : b2;
    big = big > b3 ? big : b3;
    return 2 * big + net->h;
}

/* conv 3x3, zero padding, + ReLU: in[cin][s][s] -> out[cout][s][s] */
static void conv_relu(const float *in, size_t cin, size_t s, const float *w, const float *b, size_t cout,
                      float *out)
{
    for (size_t o = 0; o < cout; o++) {
        float *dst = out + o * s * s;
        for (size_t k = 0; k < s * s; k++)
            dst[k] = b[o];
        for (size_t i = 0; i < cin; i++) {
            const float *src = in + i * s * s, *k9 = w + (o * cin + i) * 9;
            for (size_t y = 0; y < s; y++)
                for (int dy = -1; dy <= 1; dy++) {
                    long yy = (long)y + dy;
                    if (yy < 0 || yy >= (long)s)
                        continue;
                    const float *row = src + (size_t)yy * s;
                    float *drow = dst + y * s;
                    for (int dx = -1; dx <= 1; dx++) {
                        float kv = k9[(dy + 1) * 3 + (dx + 1)];
                        size_t x0 = dx < 0 ? 1 : 0, x1 = dx > 0 ? s - 1 : s;
                        for (size_t x = x0; x < x1; x++)
                            drow[x] += kv * row[(long)x + dx];
                    }
                }
        }
        for (size_t k = 0; k < s * s; k++)
            dst[k] = dst[k] > 0 ? dst[k] : 0;
    }
}

/* 2x2 max-pool: in[c][s][s] -> out[c][s/2][s/2] */
static void pool2(const float *in, size_t c, size_t s, float *out)
{
    size_t h = s / 2;
    for (size_t k = 0; k < c; k++)
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < h; x++) {
                const float *p = in + (k * s + 2 * y) * s + 2 * x;
                float m = p[0];
                m = p[1] > m ? p[1] : m;
                m = p[s] > m ? p[s] : m;
                m = p[s + 1] > m ? p[s + 1] : m;
                out[(k * h + y) * h + x] = m;
            }
}

double tl_cnn_score(const tl_cnn *net, const float *patch, float *scratch)
{
    size_t p = net->p, big = (tl_cnn_scratch_floats(net) - net->h) / 2;
    float *a = scratch, *b = scratch + big, *hidden = scratch + 2 * big;
    conv_relu(patch, 1, p, net->w1, net->b1, net->c1, a);
    pool2(a, net->c1, p, b);
    conv_relu(b, net->c1, p / 2, net->w2, net->b2, net->c2, a);
    pool2(a, net->c2, p / 2, b);
    conv_relu(b, net->c2, p / 4, net->w3, net->b3, net->c3, a);
    pool2(a, net->c3, p / 4, b);
    size_t flat = (size_t)net->c3 * (p / 8) * (p / 8);
    for (size_t j = 0; j < net->h; j++) {
        const float *w = net->wd1 + j * flat;
        double sum = net->bd1[j];
        for (size_t i = 0; i < flat; i++)
            sum += (double)w[i] * b[i];
        hidden[j] = sum > 0 ? (float)sum : 0.0f;
    }
    double z = net->bd2[0];
    for (size_t j = 0; j < net->h; j++)
        z += (double)net->wd2[j] * hidden[j];
    return 1.0 / (1.0 + exp(-z));
}

static int cmp_float(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

double tl_cnn_sino_scale(const float *sino, size_t n_angles, size_t n_cols)
{
    size_t total = n_angles * n_cols;
    float *v = total ? malloc(total * sizeof *v) : NULL;
    if (!v)
        return 0.0;
    memcpy(v, sino, total * sizeof *v);
    qsort(v, total, sizeof *v, cmp_float);
    double p = v[(size_t)(0.995 * (double)(total - 1))];
    free(v);
    return p > 0 ? 2.0 * p / (double)n_cols : 0.0;
}

#define RING_SIDE 4 /* columns on each side of the baseline */

/* median of v[0..n), n <= RING_SIDE (sorted copy) */
static double small_median(const double *v, size_t n)
{
    double w[RING_SIDE];
    for (size_t t = 0; t < n; t++) {
        size_t u = t;
        for (; u > 0 && w[u - 1] > v[t]; u--)
            w[u] = w[u - 1];
        w[u] = v[t];
    }
    return n % 2 ? w[n / 2] : 0.5 * (w[n / 2 - 1] + w[n / 2]);
}

void tl_cnn_suppress_rings(float *sino, size_t n_angles, size_t n_cols)
{
    if (n_angles == 0 || n_cols < 2 * RING_SIDE + 1)
        return;
    double *mean = calloc(n_cols, sizeof *mean);
    double *fix = malloc(n_cols * sizeof *fix);
    if (!mean || !fix) {
        free(mean);
        free(fix);
        return;
    }
    for (size_t i = 0; i < n_angles; i++)
        for (size_t j = 0; j < n_cols; j++)
            mean[j] += sino[i * n_cols + j];
    for (size_t j = 0; j < n_cols; j++)
        mean[j] /= (double)n_angles;
    /* baseline of column j: the mean of the medians of the RING_SIDE columns
     * on its left and on its right (exact on a linear slope, blind to the
     * column itself); one side only at the edges of the detector */
    for (size_t j = 0; j < n_cols; j++) {
        size_t nl = j < RING_SIDE ? j : RING_SIDE, nr = n_cols - 1 - j < RING_SIDE ? n_cols - 1 - j : RING_SIDE;
        double base;
        if (nl == RING_SIDE && nr == RING_SIDE)
            base = 0.5 * (small_median(mean + j - nl, nl) + small_median(mean + j + 1, nr));
        else if (nl > nr)
            base = small_median(mean + j - nl, nl);
        else
            base = small_median(mean + j + 1, nr);
        fix[j] = mean[j] - base;
    }
    for (size_t i = 0; i < n_angles; i++)
        for (size_t j = 0; j < n_cols; j++)
            sino[i * n_cols + j] -= (float)fix[j];
    free(mean);
    free(fix);
}

size_t tl_cnn_coarse_bin(size_t n_cols)
{
    size_t bin = 1;
    while (n_cols / bin > TL_CNN_COARSE_COLS)
        bin *= 2;
    return bin;
}

void tl_cnn_level_shape(size_t n_cols, size_t n_angles, size_t bin, size_t *angle_step, size_t *n)
{
    size_t w = n_cols / (bin ? bin : 1);
    *n = w < TL_CNN_MAX_N ? w : TL_CNN_MAX_N;
    /* about 1.4 angles per slice column: enough that streaks stay outside the slice */
    size_t want = (size_t)ceil(1.4 * (double)*n);
    *angle_step = n_angles / want > 1 ? n_angles / want : 1;
}

struct tl_cnn_view {
    size_t bin, rows, n, k, margin;
    tl_cor_trial *trial;
    float *slices;  /* [rows][n][n] */
    double *scale;  /* [rows] */
    size_t *pos;    /* [rows][k] */
    size_t *n_pos;  /* [rows] */
};

void tl_cnn_view_destroy(tl_cnn_view **view)
{
    if (!view || !*view)
        return;
    tl_cor_trial_destroy(&(*view)->trial);
    free((*view)->slices);
    free((*view)->scale);
    free((*view)->pos);
    free((*view)->n_pos);
    free(*view);
    *view = NULL;
}

size_t tl_cnn_view_capacity(const tl_cnn_view *view) { return view->rows * view->k; }
size_t tl_cnn_view_bin(const tl_cnn_view *view) { return view->bin; }

tl_status tl_cnn_view_create(const tl_cor_sinograms *in, size_t bin, size_t k, tl_algorithm trial,
                             tl_workers *workers, tl_cnn_view **out, tl_error *err)
{
    *out = NULL;
    bin = bin ? bin : 1;
    size_t step, n;
    tl_cnn_level_shape(in->n_cols, in->n_angles, bin, &step, &n);
    if (n < 2 * TL_CNN_PATCH || k == 0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "cnn: %zu detector columns binned by %zu leave %zu; at least %d are needed",
                            in->n_cols, bin, in->n_cols / bin, 2 * TL_CNN_PATCH);
    tl_cor_sinograms red = {0};
    tl_status st = tl_cor_reduce(in, bin, step, &red, err);
    if (st != TL_OK)
        return st;
    tl_cnn_view *v = calloc(1, sizeof *v);
    size_t w = red.n_cols, margin = (w + 1) / 2, wp = w + 2 * margin;
    float *padded = malloc(red.n_rows * red.n_angles * wp * sizeof *padded);
    if (!v || !padded)
        goto nomem;
    v->bin = bin, v->rows = red.n_rows, v->n = n, v->k = k, v->margin = margin;
    v->slices = malloc(v->rows * n * n * sizeof *v->slices);
    v->scale = calloc(v->rows, sizeof *v->scale);
    v->pos = calloc(v->rows * k, sizeof *v->pos);
    v->n_pos = calloc(v->rows, sizeof *v->n_pos);
    if (!v->slices || !v->scale || !v->pos || !v->n_pos)
        goto nomem;
    for (size_t r = 0; r < red.n_rows; r++) {
        float *s = (float *)red.sino + r * red.n_angles * w;
        tl_cnn_suppress_rings(s, red.n_angles, w);
        v->scale[r] = tl_cnn_sino_scale(s, red.n_angles, w);
        for (size_t i = 0; i < red.n_angles; i++) {
            const float *src = s + i * w;
            float *dst = padded + (r * red.n_angles + i) * wp;
            for (size_t j = 0; j < margin; j++) {
                dst[j] = src[0];
                dst[margin + w + j] = src[w - 1];
            }
            memcpy(dst + margin, src, w * sizeof *dst);
        }
    }
    tl_cor_sinograms pad = red;
    pad.sino = padded;
    pad.n_cols = wp;
    st = tl_cor_trial_create(&pad, n, TL_FILTER_RAMP, trial, workers, &v->trial, err);
    free(padded);
    tl_cor_reduced_free(&red);
    if (st != TL_OK) {
        tl_cnn_view_destroy(&v);
        return st;
    }
    *out = v;
    return TL_OK;
nomem:
    free(padded);
    tl_cor_reduced_free(&red);
    tl_cnn_view_destroy(&v);
    return tl_error_set(err, TL_ERR_NOMEM, "cnn: out of memory");
}

/* full-resolution column -> column of the padded, binned sinogram */
static double view_axis(const tl_cnn_view *v, double axis)
{
    return (axis - 0.5 * ((double)v->bin - 1.0)) / (double)v->bin + (double)v->margin;
}

size_t tl_cnn_pick_windows(const float *slice, size_t n, size_t k, size_t *pos)
{
    const size_t P = TL_CNN_PATCH, stride = P / 2;
    if (n < P || k == 0)
        return 0;
    size_t per_side = (n - P) / stride + 1, n_win = per_side * per_side;
    double *energy = malloc(n_win * sizeof *energy);
    if (!energy)
        return 0;
    double top = 0;
    for (size_t wy = 0; wy < per_side; wy++)
        for (size_t wx = 0; wx < per_side; wx++) {
            size_t y0 = wy * stride, x0 = wx * stride;
            double e = 0;
            for (size_t y = y0; y + 1 < y0 + P; y++)
                for (size_t x = x0; x + 1 < x0 + P; x++) {
                    double gx = slice[y * n + x + 1] - slice[y * n + x];
                    double gy = slice[(y + 1) * n + x] - slice[y * n + x];
                    e += gx * gx + gy * gy;
                }
            energy[wy * per_side + wx] = e;
            top = e > top ? e : top;
        }
    size_t got = 0;
    while (got < k) {
        size_t best = n_win;
        for (size_t i = 0; i < n_win; i++)
            if (energy[i] >= 0 && (best == n_win || energy[i] > energy[best]))
                best = i;
        if (best == n_win || !(energy[best] > 0.02 * top))
            break;
        size_t by = best / per_side, bx = best % per_side;
        pos[got++] = by * stride * n + bx * stride;
        /* windows overlapping the chosen one are out */
        for (size_t wy = by > 0 ? by - 1 : 0; wy <= by + 1 && wy < per_side; wy++)
            for (size_t wx = bx > 0 ? bx - 1 : 0; wx <= bx + 1 && wx < per_side; wx++)
                energy[wy * per_side + wx] = -1;
    }
    free(energy);
    return got;
}

tl_status tl_cnn_view_pick(tl_cnn_view *view, double axis, tl_error *err)
{
    tl_status st = tl_cor_trial_slices(view->trial, view_axis(view, axis), view->slices, err);
    if (st != TL_OK)
        return st;
    for (size_t r = 0; r < view->rows; r++)
        view->n_pos[r] = view->scale[r] > 0
                             ? tl_cnn_pick_windows(view->slices + r * view->n * view->n, view->n, view->k,
                                                   view->pos + r * view->k)
                             : 0;
    return TL_OK;
}

tl_status tl_cnn_view_patches(tl_cnn_view *view, double axis, float *out, size_t *count, tl_error *err)
{
    const size_t P = TL_CNN_PATCH, n = view->n;
    *count = 0;
    tl_status st = tl_cor_trial_slices(view->trial, view_axis(view, axis), view->slices, err);
    if (st != TL_OK)
        return st;
    for (size_t r = 0; r < view->rows; r++) {
        const float *slice = view->slices + r * n * n;
        float inv = (float)(1.0 / view->scale[r]);
        for (size_t i = 0; i < view->n_pos[r]; i++) {
            const float *src = slice + view->pos[r * view->k + i];
            float *dst = out + *count * P * P;
            for (size_t y = 0; y < P; y++)
                for (size_t x = 0; x < P; x++)
                    dst[y * P + x] = src[y * n + x] * inv;
            (*count)++;
        }
    }
    return TL_OK;
}

/* cmake/embed.cmake writes these from cor/weights/cor_cnn_v1.bin */
extern const unsigned char tl_cnn_builtin_weights[];
extern const unsigned long tl_cnn_builtin_weights_size;

tl_status tl_cnn_load_builtin(tl_cnn **out, tl_error *err)
{
    return tl_cnn_load(tl_cnn_builtin_weights, (size_t)tl_cnn_builtin_weights_size,
                       "the built-in CNN weights (cor/weights/cor_cnn_v1.bin)", out, err);
}
