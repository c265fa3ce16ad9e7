/* rings_ti.c - Titarenko's regularisation approach to ring removal.
 *
 * S. Titarenko, P. J. Withers, A. Yagola, "An analytical formula for ring
 * artefact suppression in X-ray tomography", Applied Mathematics Letters 23
 * (2010) 1489-1495; V. Titarenko, R. Bradley, C. Martin, P. J. Withers,
 * S. Titarenko, "Regularization methods for inverse problems in X-ray
 * tomography", Proc. SPIE 7804 (2010) 78040Z.
 *
 * Model: a pixel whose gain the flats miss adds a constant offset c_j to column
 * j of the sinogram (line integrals). The stripe-free profile across columns is
 * smooth, the offsets are not. Tikhonov regularisation picks, for a profile g,
 *     u = argmin  ||u - g||^2 + alpha ||D^m u||^2,
 * D the first difference, i.e. (I + alpha (D^T D)^m) u = g, and g - u is the
 * stripe part. For m = 1, away from the edges, u is the convolution of g with
 * the normalised kernel beta q^|n|, q = (1 - beta) / (1 + beta) (the paper's
 * analytical formula; tomocupy's --ti-beta is this beta), which gives
 * alpha_1 = (1 - beta^2) / (4 beta^2). The papers treat other orders of the
 * regulariser as well; we use m = 2 (second differences, as in TomoPy's
 * combination) with alpha_2 = alpha_1^2, so the cut-off frequency
 * (alpha lambda^m = 1) is that of beta's first-order kernel but the transition
 * is steeper: measured on the issue-5 scans at beta 0.2 it removes 82-86% of
 * the rings where m = 1 removes 80-83%, for the same error on clean scans.
 * With free ends (Neumann) D^T D is diagonalised by the DCT-II, eigenvalues
 * lambda_k = 2 - 2 cos(pi k / n), so u = IDCT(DCT(g) / (1 + alpha lambda_k^m)):
 * exact at the edges, no wrap-around, O(n log n).
 *
 * Which profile. The paper (and TomoPy) regularise the column means over all
 * angles. But a column mean of a real object is not smooth: a feature at radius
 * r from the axis spends a long time near columns a +- r (the turning points of
 * its sinusoid), so the mean has sharp peaks there, which the smoothing takes
 * for stripes and "corrects", drawing rings into a clean scan (measured here,
 * first order: +220% error on a clean Shepp-Logan scan at beta 0.022, +13% at
 * beta 0.3 while removing only 71% of the rings). A stripe is in the same column at EVERY
 * angle; an object edge is near a given column only at a few. So we apply the
 * regularised smoothing to every line (angle) of the sinogram, take the
 * residual g_i - u_i (stripes plus the object's edges at that angle), and
 * estimate c_j as the MEDIAN over the angles of the residuals of column j: the
 * edges, present at a minority of angles, do not move the median. c is
 * subtracted from column j at every angle.
 *
 * What no stripe filter can tell apart: a feature within about 1/beta columns of
 * the rotation axis stays near the same columns at every angle, as a stripe
 * does. Smaller beta removes wider stripes and touches more of such features
 * (on a 96-pixel Shepp-Logan, beta 0.1 adds 52% error, beta 0.2 8%).
 *
 * apply: one DCT pair per line (FFTW r2r, plans made in create), a transposed
 * residual buffer [n_cols][n_angles], one quickselect per column.
 */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "rings_impl.h"
#include "select.h"

typedef struct ti_state {
    size_t n_angles, n_cols;
    float *line;     /* [n_cols] DCT work buffer (FFTW-aligned) */
    float *response; /* [n_cols] 1 / (1 + alpha lambda_k^2) / (2 n_cols), the normalised smoothing */
    float *residual; /* [n_cols][n_angles] line minus its smoothed self, transposed */
    fftwf_plan forward, backward;
} ti_state;

static void ti_destroy(void *state)
{
    ti_state *s = state;
    if (!s)
        return;
    tl_rings_destroy_plans(s->forward, s->backward);
    fftwf_free(s->line);
    free(s->response);
    free(s->residual);
    free(s);
}

static tl_status ti_create(const tl_rings_params *p, size_t n_angles, size_t n_cols, void **state, tl_error *err)
{
    *state = NULL;
    if (!(p->ti_beta > 0.0 && p->ti_beta <= 1.0))
        return tl_error_set(err, TL_ERR_INVALID, "--ti-beta %g: must be in (0, 1] (smaller smooths more)", p->ti_beta);
    if (n_cols > 0x7fffffff)
        return tl_error_set(err, TL_ERR_INVALID, "ti: %zu columns is more than FFTW takes", n_cols);
    ti_state *s = calloc(1, sizeof *s);
    if (!s)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    s->n_angles = n_angles;
    s->n_cols = n_cols;
    s->line = fftwf_malloc(n_cols * sizeof *s->line);
    s->response = malloc(n_cols * sizeof *s->response);
    s->residual = malloc(n_cols * n_angles * sizeof *s->residual);
    if (!s->line || !s->response || !s->residual) {
        ti_destroy(s);
        return tl_error_set(err, TL_ERR_NOMEM, "ti: cannot allocate %zu x %zu floats of scratch", n_cols, n_angles);
    }
    tl_fftw_planner_lock();
    s->forward = fftwf_plan_r2r_1d((int)n_cols, s->line, s->line, FFTW_REDFT10, FFTW_ESTIMATE);
    s->backward = fftwf_plan_r2r_1d((int)n_cols, s->line, s->line, FFTW_REDFT01, FFTW_ESTIMATE);
    tl_fftw_planner_unlock();
    if (!s->forward || !s->backward) {
        ti_destroy(s);
        return tl_error_set(err, TL_ERR_INTERNAL, "ti: FFTW could not plan a DCT of %zu points", n_cols);
    }
    double beta = p->ti_beta, alpha1 = (1.0 - beta * beta) / (4.0 * beta * beta);
    for (size_t k = 0; k < n_cols; k++) {
        double lambda = 2.0 - 2.0 * cos(M_PI * (double)k / (double)n_cols), x = alpha1 * lambda;
        s->response[k] = (float)(1.0 / ((1.0 + x * x) * 2.0 * (double)n_cols));
    }
    *state = s;
    return TL_OK;
}

static void ti_apply(void *state, float *sino)
{
    ti_state *s = state;
    size_t na = s->n_angles, nc = s->n_cols;
    for (size_t i = 0; i < na; i++) {
        const float *row = sino + i * nc;
        memcpy(s->line, row, nc * sizeof *row);
        fftwf_execute_r2r(s->forward, s->line, s->line);
        for (size_t k = 0; k < nc; k++)
            s->line[k] *= s->response[k];
        fftwf_execute_r2r(s->backward, s->line, s->line);
        for (size_t j = 0; j < nc; j++)
            s->residual[j * na + i] = row[j] - s->line[j];
    }
    for (size_t j = 0; j < nc; j++) {
        float offset = tl_select(s->residual + j * na, na, na / 2);
        for (size_t i = 0; i < na; i++)
            sino[i * nc + j] -= offset;
    }
}

static size_t ti_bytes(const void *state)
{
    const ti_state *s = state;
    return sizeof *s + (2 * s->n_cols + s->n_cols * s->n_angles) * sizeof(float);
}

const tl_rings_impl tl_rings_ti_impl = {"ti", ti_create, ti_apply, ti_destroy, ti_bytes};
