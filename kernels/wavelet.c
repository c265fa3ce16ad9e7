/* wavelet.c - Daubechies and symlet filters by spectral factorisation, and the
 * periodised DWT in 1-D and 2-D (see wavelet.h).
 *
 * Filters (Daubechies 1988, "Orthonormal bases of compactly supported
 * wavelets", Comm. Pure Appl. Math. 41:909-996; Daubechies 1992, "Ten Lectures
 * on Wavelets", SIAM, sec. 6.1 and 8.1). With m0(w) = 2^-1/2 sum_n h[n] e^{-inw},
 * a wavelet with N vanishing moments has
 *     |m0(w)|^2 = cos^2N(w/2) P(sin^2(w/2)),   P(y) = sum_{k<N} C(N-1+k, k) y^k,
 * and m0(w) = ((1 + e^{-iw}) / 2)^N L(e^{-iw}) where |L|^2 = P(sin^2(w/2)).
 * With z = e^{iw}, sin^2(w/2) = (2 - z - 1/z) / 4, so each root y_k of P gives
 * two reciprocal zeros z, 1/z of z^2 - 2(1 - 2 y_k) z + 1; L takes one zero of
 * each reciprocal pair (conjugate roots together, so h stays real), and every
 * choice has the same |L|^2. The choices:
 *   dbN   all zeros inside the unit circle: the minimum-phase factor
 *         (Ten Lectures, sec. 6.1, Table 6.1);
 *   symN  the choice whose phase is closest to linear (sec. 8.1, the "least
 *         asymmetric" wavelets): the factor (1 + e^{-iw})^N has linear phase,
 *         and a group of zeros taken outside the circle contributes minus the
 *         non-linear phase of the same group taken inside, so we minimise
 *         integral_0^pi (sum_g s_g psi_g(w))^2 dw over the signs s_g = +-1,
 *         psi_g(w) = sum of arg(1 - z e^{-iw}) over the inside zeros of group
 *         g (zero at w = 0 and w = pi, so it is its own non-linear part). This is
 *         the L2 criterion of the MATLAB Wavelet Toolbox's symaux, whose tables
 *         PyWavelets copies; s and -s give time-reversed filters of equal merit.
 * P's roots come from gsl_poly_complex_solve (balanced companion matrix, in
 * double) and are polished by Newton steps in long double before the product is
 * expanded in long double complex, which keeps db20 at ~1e-15 of unit norm.
 */
#include "wavelet.h"

#include <complex.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_poly.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef long double complex cld;

/* "haar", "dbN" (1 <= N <= 20), "symN" (2 <= N <= 20); no signs, no leading zeros. */
static int parse_name(const char *name, tl_wavelet_family *family, int *moments)
{
    if (!name)
        return 0;
    if (strcmp(name, "haar") == 0) {
        *family = TL_WAVELET_DAUBECHIES;
        *moments = 1;
        return 1;
    }
    const char *digits;
    int min;
    if (strncmp(name, "db", 2) == 0) {
        *family = TL_WAVELET_DAUBECHIES;
        digits = name + 2;
        min = 1;
    } else if (strncmp(name, "sym", 3) == 0) {
        *family = TL_WAVELET_SYMLET;
        digits = name + 3;
        min = 2;
    } else {
        return 0;
    }
    size_t nd = strlen(digits);
    if (nd < 1 || nd > 2 || digits[0] == '0')
        return 0;
    int v = 0;
    for (size_t i = 0; i < nd; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return 0;
        v = 10 * v + (digits[i] - '0');
    }
    if (v < min || v > TL_WAVELET_MAX_MOMENTS)
        return 0;
    *moments = v;
    return 1;
}

/* The N-1 roots of P(y) = sum_{k<N} C(N-1+k, k) y^k. Returns 0 on success. */
static int daubechies_poly_roots(int moments, cld *roots)
{
    int degree = moments - 1;
    long double coef[TL_WAVELET_MAX_MOMENTS];
    double coef_d[TL_WAVELET_MAX_MOMENTS];
    coef[0] = 1.0L;
    for (int k = 1; k <= degree; k++)
        coef[k] = coef[k - 1] * (long double)(moments - 1 + k) / (long double)k;
    for (int k = 0; k <= degree; k++)
        coef_d[k] = (double)coef[k];
    if (degree == 0)
        return 0;
    if (degree == 1) {
        roots[0] = -coef[0] / coef[1];
        return 0;
    }
    double packed[2 * (TL_WAVELET_MAX_MOMENTS - 1)];
    gsl_poly_complex_workspace *ws = gsl_poly_complex_workspace_alloc((size_t)degree + 1);
    if (!ws)
        return -1;
    /* The polynomials are a fixed set of 20 (all solved by test_wavelet), so the
     * solver's failure path (GSL's error handler) is never reached from input. */
    int rc = gsl_poly_complex_solve(coef_d, (size_t)degree + 1, ws, packed);
    gsl_poly_complex_workspace_free(ws);
    if (rc != GSL_SUCCESS)
        return -1;
    for (int r = 0; r < degree; r++) {
        cld y = packed[2 * r] + packed[2 * r + 1] * (long double complex)I;
        for (int it = 0; it < 8; it++) { /* Newton polish in long double */
            cld p = coef[degree], dp = 0.0L;
            for (int k = degree - 1; k >= 0; k--) {
                dp = dp * y + p;
                p = p * y + coef[k];
            }
            if (dp == 0.0L)
                break;
            cld step = p / dp;
            y -= step;
            if (cabsl(step) <= 1e-19L * cabsl(y))
                break;
        }
        roots[r] = y;
    }
    return 0;
}

/* A group of zeros of L: one real zero, or a conjugate pair; `inside` is the one
 * with |z| < 1 (for a pair, the member with imag >= 0). */
typedef struct {
    cld inside;
    int pair;
} zero_group;

static int zero_groups(int moments, zero_group *groups)
{
    cld y[TL_WAVELET_MAX_MOMENTS];
    if (daubechies_poly_roots(moments, y) != 0)
        return -1;
    int n_groups = 0, counted = 0;
    for (int r = 0; r < moments - 1; r++) {
        long double im = cimagl(y[r]);
        int real = fabsl(im) <= 1e-12L * (1.0L + cabsl(y[r]));
        if (!real && im < 0.0L)
            continue; /* the conjugate of a root already taken */
        cld yr = real ? (cld)creall(y[r]) : y[r];
        cld s = 1.0L - 2.0L * yr, root = csqrtl(s * s - 1.0L);
        cld z1 = s + root, z2 = s - root;
        cld z = cabsl(z1) < cabsl(z2) ? z1 : z2;
        if (real)
            z = creall(z);
        else if (cimagl(z) < 0.0L)
            z = conjl(z);
        groups[n_groups].inside = z;
        groups[n_groups].pair = !real;
        n_groups++;
        counted += real ? 1 : 2;
    }
    return counted == moments - 1 ? n_groups : -1;
}

/* h from the zeros: (1 + x)^N prod (1 - z x), x = z^-1, normalised to sum sqrt(2).
 * Bit g of `outside` takes group g's zeros outside the unit circle. */
static void expand_filter(int moments, const zero_group *groups, int n_groups, unsigned outside, double *h)
{
    cld c[TL_WAVELET_MAX_LENGTH + 1] = {1.0L};
    int len = 1;
    for (int k = 0; k < moments; k++, len++)
        for (int i = len; i >= 1; i--)
            c[i] += c[i - 1];
    for (int g = 0; g < n_groups; g++) {
        cld z = groups[g].inside;
        if (outside & (1u << g))
            z = 1.0L / z;
        for (int m = 0; m < (groups[g].pair ? 2 : 1); m++, len++) {
            cld zz = m ? conjl(z) : z;
            for (int i = len; i >= 1; i--)
                c[i] -= zz * c[i - 1];
        }
    }
    long double sum = 0.0L;
    for (int i = 0; i < len; i++)
        sum += creall(c[i]);
    for (int i = 0; i < len; i++)
        h[i] = (double)(creall(c[i]) * sqrtl(2.0L) / sum);
}

/* The symlet choice (Ten Lectures, sec. 8.1): the signs minimising the L2 norm
 * of the non-linear phase on a grid of (0, pi). Group 0 stays inside: the
 * complementary choice is the same filter reversed. */
enum { PHASE_SAMPLES = 512 };

static unsigned least_asymmetric_choice(const zero_group *groups, int n_groups)
{
    if (n_groups <= 1)
        return 0;
    static const long double pi = 3.141592653589793238462643383279502884L;
    double psi[TL_WAVELET_MAX_MOMENTS][PHASE_SAMPLES];
    for (int g = 0; g < n_groups; g++)
        for (int i = 0; i < PHASE_SAMPLES; i++) {
            long double w = pi * ((long double)i + 0.5L) / PHASE_SAMPLES;
            cld e = cexpl(-w * (long double complex)I);
            cld z = groups[g].inside;
            /* |z| < 1: 1 - z e^{-iw} has a positive real part, so the principal
             * argument is already continuous */
            long double phase = cargl(1.0L - z * e);
            if (groups[g].pair)
                phase += cargl(1.0L - conjl(z) * e);
            psi[g][i] = (double)phase;
        }
    unsigned best = 0;
    double best_cost = INFINITY;
    for (unsigned mask = 0; mask < (1u << (n_groups - 1)); mask++) {
        unsigned outside = mask << 1;
        double cost = 0.0;
        for (int i = 0; i < PHASE_SAMPLES; i++) {
            double s = 0.0;
            for (int g = 0; g < n_groups; g++)
                s += (outside & (1u << g)) ? -psi[g][i] : psi[g][i];
            cost += s * s;
        }
        if (cost < best_cost * (1.0 - 1e-12)) {
            best_cost = cost;
            best = outside;
        }
    }
    return best;
}

tl_status tl_wavelet_init(tl_wavelet *w, const char *name, tl_error *err)
{
    memset(w, 0, sizeof *w);
    tl_wavelet_family family;
    int moments;
    if (!parse_name(name, &family, &moments))
        return tl_error_set(err, TL_ERR_INVALID, "--fw-filter '%s': unknown wavelet (allowed: haar, db1..db20, "
                            "sym2..sym20)", name ? name : "");
    snprintf(w->name, sizeof w->name, "%s", name);
    w->family = family;
    w->moments = moments;
    w->length = 2 * moments;
    zero_group groups[TL_WAVELET_MAX_MOMENTS];
    int n_groups = zero_groups(moments, groups);
    if (n_groups < 0)
        return tl_error_set(err, TL_ERR_INTERNAL, "wavelet %s: the roots of its polynomial were not found", name);
    unsigned outside = family == TL_WAVELET_SYMLET ? least_asymmetric_choice(groups, n_groups) : 0;
    expand_filter(moments, groups, n_groups, outside, w->lo);
    for (int n = 0; n < w->length; n++) {
        w->hi[n] = (n % 2 ? -1.0 : 1.0) * w->lo[w->length - 1 - n];
        w->lo_f[n] = (float)w->lo[n];
        w->hi_f[n] = (float)w->hi[n];
    }
    for (int n = 0; n < w->length; n++) {
        double a = 0.0;
        for (int k = 0; k + n < w->length; k++)
            a += w->lo[k] * w->lo[k + n];
        /* orthogonality to even shifts makes the even lags vanish; store them as
         * exact zeros so the smoothing skips them */
        w->halfband[n] = n == 0 ? 0.5 : n % 2 == 0 ? 0.0 : 0.5 * a;
    }
    return TL_OK;
}

int tl_wavelet_max_level(size_t n, const tl_wavelet *w)
{
    size_t span = (size_t)w->length - 1;
    int level = 0;
    while ((n >> (level + 1)) >= span)
        level++;
    return level;
}

/* 1-D transforms, polyphase: with e[t] = x[2t], o[t] = x[2t+1] (periodically),
 *     a[k] = sum_i h[2i] e[k+i] + h[2i+1] o[k+i],
 * and the synthesis, with p = m div 2,
 *     x[2p]   = sum_i h[2i]   a[p-i] + g[2i]   d[p-i],
 *     x[2p+1] = sum_i h[2i+1] a[p-i] + g[2i+1] d[p-i]   (indices mod n/2),
 * so every inner loop runs over k or p with unit stride and vectorises. */
void tl_dwt_forward_1d(const tl_wavelet *w, const float *x, size_t n, size_t in_stride, float *approx,
                       float *detail, size_t out_stride, float *scratch)
{
    size_t half = n / 2, taps = (size_t)w->length / 2, ext = half + taps;
    float *even = scratch, *odd = scratch + ext;
    for (size_t t = 0; t < ext; t++) {
        size_t i = (2 * t) % n;
        even[t] = x[i * in_stride];
        odd[t] = x[(i + 1) * in_stride];
    }
    /* the extended copies hold all the input: the outputs may overlap x */
    float *acc_a = scratch + 2 * ext, *acc_d = acc_a + half;
    for (size_t k = 0; k < half; k++)
        acc_a[k] = acc_d[k] = 0.0f;
    for (size_t i = 0; i < taps; i++) {
        float h0 = w->lo_f[2 * i], h1 = w->lo_f[2 * i + 1], g0 = w->hi_f[2 * i], g1 = w->hi_f[2 * i + 1];
        const float *e = even + i, *o = odd + i;
        for (size_t k = 0; k < half; k++) {
            acc_a[k] += h0 * e[k] + h1 * o[k];
            acc_d[k] += g0 * e[k] + g1 * o[k];
        }
    }
    for (size_t k = 0; k < half; k++) {
        approx[k * out_stride] = acc_a[k];
        detail[k * out_stride] = acc_d[k];
    }
}

void tl_dwt_inverse_1d(const tl_wavelet *w, const float *approx, const float *detail, size_t n, size_t in_stride,
                       float *x, size_t out_stride, float *scratch)
{
    size_t half = n / 2, taps = (size_t)w->length / 2, lead = taps - 1, ext = half + lead;
    float *a = scratch, *d = scratch + ext, *xe = d + ext, *xo = xe + half;
    /* a[q] holds approx[(q - lead) mod half]: a[p - i + lead] is approx[p - i] */
    for (size_t q = 0; q < ext; q++) {
        size_t k = (q + half * (lead / half + 1) - lead) % half;
        a[q] = approx[k * in_stride];
        d[q] = detail[k * in_stride];
    }
    for (size_t p = 0; p < half; p++)
        xe[p] = xo[p] = 0.0f;
    for (size_t i = 0; i < taps; i++) {
        float h0 = w->lo_f[2 * i], h1 = w->lo_f[2 * i + 1], g0 = w->hi_f[2 * i], g1 = w->hi_f[2 * i + 1];
        const float *ai = a + lead - i, *di = d + lead - i;
        for (size_t p = 0; p < half; p++) {
            xe[p] += h0 * ai[p] + g0 * di[p];
            xo[p] += h1 * ai[p] + g1 * di[p];
        }
    }
    for (size_t p = 0; p < half; p++) {
        x[2 * p * out_stride] = xe[p];
        x[(2 * p + 1) * out_stride] = xo[p];
    }
}

/* Along r (the columns of a block), many columns at once: the same formulas
 * with whole row segments as the samples, so the inner loops run along c. The
 * block is done in strips of STRIP columns (out: n x STRIP), which keeps the
 * scratch small and the rows a strip touches in cache. */
enum { STRIP = 64 };

static void columns_forward(const tl_wavelet *w, float *data, size_t n, size_t width, size_t stride, float *out)
{
    size_t half = n / 2, taps = (size_t)w->length;
    for (size_t c0 = 0; c0 < width; c0 += STRIP) {
        size_t sw = width - c0 < STRIP ? width - c0 : STRIP;
        for (size_t k = 0; k < half; k++) {
            float *a = out + k * STRIP, *d = out + (half + k) * STRIP;
            for (size_t c = 0; c < sw; c++)
                a[c] = d[c] = 0.0f;
            for (size_t j = 0; j < taps; j++) {
                const float *src = data + ((2 * k + j) % n) * stride + c0;
                float hj = w->lo_f[j], gj = w->hi_f[j];
                for (size_t c = 0; c < sw; c++) {
                    a[c] += hj * src[c];
                    d[c] += gj * src[c];
                }
            }
        }
        for (size_t r = 0; r < n; r++)
            memcpy(data + r * stride + c0, out + r * STRIP, sw * sizeof *out);
    }
}

static void columns_inverse(const tl_wavelet *w, float *data, size_t n, size_t width, size_t stride, float *out)
{
    size_t half = n / 2, taps = (size_t)w->length / 2;
    for (size_t c0 = 0; c0 < width; c0 += STRIP) {
        size_t sw = width - c0 < STRIP ? width - c0 : STRIP;
        for (size_t p = 0; p < half; p++) {
            float *xe = out + 2 * p * STRIP, *xo = xe + STRIP;
            for (size_t c = 0; c < sw; c++)
                xe[c] = xo[c] = 0.0f;
            for (size_t i = 0; i < taps; i++) {
                size_t q = (p + half * (i / half + 1) - i) % half;
                const float *a = data + q * stride + c0, *d = data + (half + q) * stride + c0;
                float h0 = w->lo_f[2 * i], h1 = w->lo_f[2 * i + 1], g0 = w->hi_f[2 * i], g1 = w->hi_f[2 * i + 1];
                for (size_t c = 0; c < sw; c++) {
                    xe[c] += h0 * a[c] + g0 * d[c];
                    xo[c] += h1 * a[c] + g1 * d[c];
                }
            }
        }
        for (size_t r = 0; r < n; r++)
            memcpy(data + r * stride + c0, out + r * STRIP, sw * sizeof *out);
    }
}

size_t tl_dwt2_scratch_floats(size_t rows, size_t cols)
{
    size_t longest = rows > cols ? rows : cols;
    return rows * STRIP + 2 * longest + 2 * TL_WAVELET_MAX_LENGTH;
}

void tl_dwt2_forward(const tl_wavelet *w, float *data, size_t rows, size_t cols, size_t stride, int levels,
                     float *scratch)
{
    for (int l = 0; l < levels; l++) {
        size_t nr = rows >> l, nc = cols >> l;
        float *line_scratch = scratch + nr * STRIP;
        for (size_t r = 0; r < nr; r++) {
            float *row = data + r * stride;
            tl_dwt_forward_1d(w, row, nc, 1, row, row + nc / 2, 1, line_scratch);
        }
        columns_forward(w, data, nr, nc, stride, scratch);
    }
}

void tl_dwt2_inverse(const tl_wavelet *w, float *data, size_t rows, size_t cols, size_t stride, int levels,
                     float *scratch)
{
    for (int l = levels - 1; l >= 0; l--) {
        size_t nr = rows >> l, nc = cols >> l;
        float *line_scratch = scratch + nr * STRIP;
        columns_inverse(w, data, nr, nc, stride, scratch);
        for (size_t r = 0; r < nr; r++) {
            float *row = data + r * stride;
            tl_dwt_inverse_1d(w, row, row + nc / 2, nc, 1, row, 1, line_scratch);
        }
    }
}

size_t tl_wavelet_smooth_scratch_floats(size_t n, const tl_wavelet *w, int level)
{
    return n + 2 * (size_t)(w->length - 1) * ((size_t)1 << (level - 1));
}

void tl_wavelet_smooth_periodic(const tl_wavelet *w, int level, const float *in, float *out, size_t n,
                                float *scratch)
{
    size_t step = (size_t)1 << (level - 1), halo = (size_t)(w->length - 1) * step;
    /* ext[halo + i] = in[i mod n] for i in [-halo, n + halo) */
    float *ext = scratch;
    for (size_t i = 0; i < n + 2 * halo; i++)
        ext[i] = in[(i + n * (halo / n + 1) - halo) % n];
    const float *centre = ext + halo;
    float a0 = (float)w->halfband[0];
    for (size_t i = 0; i < n; i++)
        out[i] = a0 * centre[i];
    for (int m = 1; m < w->length; m++) {
        if (w->halfband[m] == 0.0)
            continue;
        float a = (float)w->halfband[m];
        size_t off = (size_t)m * step;
        const float *right = centre + off, *left = centre - off;
        for (size_t i = 0; i < n; i++)
            out[i] += a * (right[i] + left[i]);
    }
}
