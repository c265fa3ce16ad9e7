/* wavelet.h - orthogonal compactly supported wavelets (Daubechies, symlets) and
 * periodised discrete wavelet transforms in 1-D and 2-D, and the translation-
 * invariant ("a trous") smoothing cascade that rings_fw.c uses.
 *
 * Filters are not tabulated: tl_wavelet_init() computes them from their
 * definition by spectral factorisation (wavelet.c), so every member of the
 * families "haar", "db1".."db20" and "sym2".."sym20" comes from one short,
 * checkable piece of code. tl_wavelet is a plain value (no allocation, no
 * destroy): copy it, keep it in a state.
 *
 * Conventions. lo[] is the scaling (low-pass) filter h[n], n = 0 .. length-1,
 * normalised so that sum h = sqrt(2) and sum h^2 = 1; for dbN it is the
 * minimum-phase factor (energy at the start: db2 = 0.483, 0.837, 0.224, -0.129,
 * the ordering of Daubechies' tables, GSL's h1 and PyWavelets' rec_lo); for
 * symN it is the least asymmetric factor, equal to PyWavelets' symN up to
 * time reversal (compared for N = 4..20; the two orders are equally good).
 * hi[n] = (-1)^n h[length-1-n] is the wavelet (high-pass) filter, with N
 * vanishing moments. The periodised analysis of x[0..n-1] (n even) is
 *     a[k] = sum_j h[j] x[(2k + j) mod n],   d[k] = sum_j g[j] x[(2k + j) mod n],
 * k = 0 .. n/2-1: an orthogonal transform for every even n, also n < length
 * (the filters wrap). Synthesis is its transpose, so reconstruction is exact up
 * to rounding and energy is preserved (Parseval).
 *
 * Transforms never allocate: callers pass scratch of the size stated.
 */
#ifndef TL_WAVELET_H
#define TL_WAVELET_H

#include <stddef.h>

#include "status.h"

#define TL_WAVELET_MAX_MOMENTS 20
#define TL_WAVELET_MAX_LENGTH (2 * TL_WAVELET_MAX_MOMENTS)

typedef enum { TL_WAVELET_DAUBECHIES, TL_WAVELET_SYMLET } tl_wavelet_family;

typedef struct tl_wavelet {
    char name[8];                     /* as asked: "haar", "db5", "sym8" */
    tl_wavelet_family family;         /* haar is db1 */
    int moments;                      /* N vanishing moments of the wavelet */
    int length;                       /* 2N taps */
    double lo[TL_WAVELET_MAX_LENGTH]; /* h: scaling filter */
    double hi[TL_WAVELET_MAX_LENGTH]; /* g[n] = (-1)^n h[length-1-n] */
    float lo_f[TL_WAVELET_MAX_LENGTH], hi_f[TL_WAVELET_MAX_LENGTH]; /* the same in float, for the transforms */
    /* halfband[n] = (1/2) sum_k h[k] h[k+n], n = 0 .. length-1: the symmetric
     * smoothing kernel of the translation-invariant transform (below); zero at
     * even n > 0 (orthogonality), halfband[0] = 1/2, sum over n = -(length-1)
     * .. length-1 is 1. Its response is |m0(w)|^2 = cos^2N(w/2) P(sin^2(w/2)). */
    double halfband[TL_WAVELET_MAX_LENGTH];
} tl_wavelet;

/* Compute the filters of `name`. Unknown names: TL_ERR_INVALID, "--fw-filter
 * 'NAME': unknown wavelet (allowed: haar, db1..db20, sym2..sym20)". */
tl_status tl_wavelet_init(tl_wavelet *w, const char *name, tl_error *err) TL_MUST_CHECK;

/* Deepest useful level for a signal of n samples: floor(log2(n / (length - 1)))
 * (PyWavelets' dwt_max_level: below it the filter would be longer than the
 * signal at the coarsest level); 0 when n < length - 1. */
int tl_wavelet_max_level(size_t n, const tl_wavelet *w);

/* 1-D analysis of n samples (n even, >= 2) x[i * in_stride] into approx[k *
 * out_stride] and detail[k * out_stride], k < n/2. scratch: 2 n + length
 * floats. The input is copied first, so the outputs may overlap it (in place). */
void tl_dwt_forward_1d(const tl_wavelet *w, const float *x, size_t n, size_t in_stride, float *approx,
                       float *detail, size_t out_stride, float *scratch);

/* 1-D synthesis, the inverse of tl_dwt_forward_1d: n/2 approx and detail
 * coefficients (stride in_stride) into x[i * out_stride], i < n. scratch: 2 n +
 * length floats. The inputs are copied first, so x may overlap them. */
void tl_dwt_inverse_1d(const tl_wavelet *w, const float *approx, const float *detail, size_t n, size_t in_stride,
                       float *x, size_t out_stride, float *scratch);

/* Multi-level 2-D transforms, in place, on data[r * stride + c], r < rows,
 * c < cols; rows and cols must be multiples of 2^levels (levels >= 1).
 * Level l (1-based) splits the rows0 x cols0 = (rows >> (l-1)) x (cols >> (l-1))
 * top-left block: first each of its rows (along c), then each of its columns
 * (along r). With rl = rows >> l and cl = cols >> l the block then holds
 *     [0, rl) x [0, cl)      low along r,  low along c   (split again at l+1)
 *     [0, rl) x [cl, 2cl)    low along r,  high along c  (vertical structures:
 *                                                          what is constant along r)
 *     [rl, 2rl) x [0, cl)    high along r, low along c
 *     [rl, 2rl) x [cl, 2cl)  high along both
 * (Mallat's layout). scratch: tl_dwt2_scratch_floats(rows, cols) floats. */
size_t tl_dwt2_scratch_floats(size_t rows, size_t cols);
void tl_dwt2_forward(const tl_wavelet *w, float *data, size_t rows, size_t cols, size_t stride, int levels,
                     float *scratch);
void tl_dwt2_inverse(const tl_wavelet *w, float *data, size_t rows, size_t cols, size_t stride, int levels,
                     float *scratch);

/* Translation-invariant approximation (Coifman & Donoho 1995, "Translation-
 * invariant de-noising", cycle spinning; the "a trous" form of Shensa 1992).
 * Averaging the decimated projection onto the level-L approximation space over
 * all 2^L circular shifts of the signal equals L convolutions with the halfband
 * kernel, the l-th upsampled by 2^(l-1). One step, level l >= 1, on a periodic
 * line of n samples (any n >= 1):
 *     out[i] = sum_{|m| < length} halfband[|m|] in[(i + m 2^(l-1)) mod n].
 * scratch: n + 2 (length - 1) 2^(l-1) floats. out must not overlap in. */
size_t tl_wavelet_smooth_scratch_floats(size_t n, const tl_wavelet *w, int level);
void tl_wavelet_smooth_periodic(const tl_wavelet *w, int level, const float *in, float *out, size_t n,
                                float *scratch);

#endif
