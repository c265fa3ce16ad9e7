/* stitch.c - 360-degree offset-axis scans into 180-degree sinograms (stitch.h).
 *
 * After Vo, Atwood, Drakopoulos & Connolley, Optics Express 29, 17849 (2021)
 * (doi:10.1364/OE.418448), as their reference implementation (Algotom,
 * prep/conversion.py convert_sinogram_360_to_180 and prep/calculation.py
 * find_center_360) does it: the first half turn and the mirrored second half
 * turn are two images of the same sinogram that overlap around the axis; the
 * axis is half the overlap from the near edge; the images are joined with a
 * weight ramp across the overlap. What we do differently, and why:
 *
 *   - Joining. Algotom ramps linearly across the overlap. We use a raised
 *     cosine, w(t) = (1 - cos(pi t)) / 2 over the whole overlap: weights still
 *     sum to 1 at every column, and the weight has no kink at the ends, so a
 *     small gain difference between the halves leaves no edge for the ramp
 *     filter to sharpen into a ring. The detector-edge column of each half gets
 *     weight 0, where edge artefacts of real detectors are worst.
 *   - Pairing. Algotom takes rows 0..n/2 and the last n/2 + 1 rows of the
 *     sinogram (equal steps assumed). We pair by angle: the partner of theta is
 *     theta + 180 exactly when the scan has it (within 1e-6 degrees), otherwise
 *     it is interpolated linearly in angle between the two projections that
 *     bracket theta + 180. So irregular, interlaced or slightly short 360-degree
 *     scans are handled, and the stitched sinogram keeps the first half turn's
 *     own angles.
 *   - Finding the axis. Algotom slides a fixed window of one half's edge over
 *     the other and takes a correlation metric. We compare the whole overlap
 *     for every trial axis a = m/2 on a half-pixel grid, with the normalised
 *     squared difference E(m) = sum (P(j) - Q(m - j))^2 / sum (P^2 + Q^2)
 *     (P the projection at theta, Q its partner at theta + 180; P(j) = Q(2a - j)
 *     holds exactly for pixel-averaged data at the true axis), over several rows
 *     and up to 64 angle pairs. The whole overlap uses every column the two
 *     halves share (no window width to choose); the normalisation keeps large
 *     and small overlaps comparable. Both edges are searched and the smaller E
 *     decides the side (Algotom compares the curvatures of the two metric
 *     curves). Sub-pixel: the vertex of the parabola through the minimum and
 *     its two neighbours, as Algotom's calculate_curvature does.
 *   - Sub-pixel placement. When 2a is not an integer the mirrored half falls
 *     between the stitched columns by the fraction f of 2a. Linear
 *     interpolation there blurs more than half of the stitched sinogram (its
 *     response at 0.4 of Nyquist with f = 0.4 is 0.6; measured: +29% relative
 *     L2 error against a full-field scan of the Shepp-Logan phantom; cubic
 *     (Keys) interpolation +14%). So the partner line is shifted by f in
 *     Fourier space instead (+11%), padded to the filter's length, the padding
 *     a linear ramp from the last value back to the first so the periodic line
 *     has no jump; exact for band-limited data. With an integer 2a the columns
 *     are copied (+0%). Algotom shifts both halves by the sub-pixel part with
 *     spline interpolation; we keep the direct half as measured.
 */
#include "stitch.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fftw_wisdom.h"
#include "filter.h"

#define TL_STITCH_PI 3.14159265358979323846
#define TL_STITCH_ANGLE_EPS 1e-6 /* degrees: angles this close are the same */
#define TL_STITCH_SEARCH_EDGE 2.0 /* the search keeps trial axes this far inside the detector */

struct tl_stitch_plan {
    tl_stitch_layout layout;
    tl_stitch_pairs pairs;
    float *weight;          /* [width] weight of the direct half */
    size_t *mirror;         /* [width] raw column t of the mirrored half: the value at t + f */
    unsigned char *inside;  /* [width] t + f lies on the detector (else the edge value, raw column t) */
    double frac;            /* f, the fraction of 2a (0: columns copied, no transform) */
    /* Fourier shift by f, when f != 0: per thread a padded line and its spectrum */
    int n_threads;
    size_t n_padded, n_freq;
    fftwf_complex *phase;   /* [n_freq] exp(2 pi i k f / n) / n */
    float **real;
    fftwf_complex **spectrum;
    fftwf_plan forward, backward;
    size_t bytes;
};

void tl_stitch_allowed_axes(size_t n_cols, double *left_lo, double *left_hi, double *right_lo, double *right_hi)
{
    double last = (double)n_cols - 1.0;
    *left_lo = TL_STITCH_MIN_EDGE;
    *left_hi = last / TL_STITCH_EDGE_DIVISOR;
    *right_lo = last - *left_hi; /* the mirror image, exactly */
    *right_hi = last - TL_STITCH_MIN_EDGE;
}

tl_status tl_stitch_layout_for(size_t n_cols, double axis, tl_stitch_layout *out, tl_error *err)
{
    memset(out, 0, sizeof *out);
    double llo, lhi, rlo, rhi;
    tl_stitch_allowed_axes(n_cols, &llo, &lhi, &rlo, &rhi);
    if (n_cols < 4 || lhi < llo)
        return tl_error_set(err, TL_ERR_INVALID,
                            "a detector of %zu columns is too narrow for a 360-degree offset-axis scan (at least 4)",
                            n_cols);
    double w = (double)n_cols;
    out->n_cols = n_cols;
    out->axis = axis;
    if (isfinite(axis) && axis >= llo && axis <= lhi) {
        out->side = TL_STITCH_LEFT;
        out->shift = (size_t)llround(w - 1.0 - 2.0 * axis);
        out->width = n_cols + out->shift;
        out->axis_stitched = axis + (double)out->shift;
        out->overlap = 2.0 * axis;
        return TL_OK;
    }
    if (isfinite(axis) && axis >= rlo && axis <= rhi) {
        out->side = TL_STITCH_RIGHT;
        out->shift = 0;
        out->width = n_cols + (size_t)llround(2.0 * axis - w + 1.0);
        out->axis_stitched = axis;
        out->overlap = 2.0 * (w - 1.0 - axis);
        return TL_OK;
    }
    return tl_error_set(err, TL_ERR_INVALID,
                        "the axis at column %g is not near an edge of the detector: a 360-degree offset-axis scan "
                        "needs it within a third of the width of one edge (allowed: %g to %g or %g to %g on the "
                        "%zu-pixel-wide detector; the centre is %g)",
                        axis, llo, lhi, rlo, rhi, n_cols, 0.5 * (w - 1.0));
}

/* ---- angle pairs ------------------------------------------------------------------------- */

typedef struct angle_index {
    double angle;
    size_t index;
} angle_index;

static int by_angle(const void *pa, const void *pb)
{
    const angle_index *a = pa, *b = pb;
    if (a->angle < b->angle)
        return -1;
    if (a->angle > b->angle)
        return 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

void tl_stitch_pairs_free(tl_stitch_pairs *pairs)
{
    if (!pairs)
        return;
    free(pairs->direct);
    free(pairs->angles_deg);
    free(pairs->partner_lo);
    free(pairs->partner_hi);
    free(pairs->partner_w);
    memset(pairs, 0, sizeof *pairs);
}

tl_status tl_stitch_pairs_create(const double *angles_deg, size_t n_raw, tl_stitch_pairs *out, tl_error *err)
{
    memset(out, 0, sizeof *out);
    if (n_raw < 4)
        return tl_error_set(err, TL_ERR_INVALID,
                            "a 360-degree offset-axis scan needs at least 4 projections (this one has %zu)", n_raw);
    for (size_t i = 0; i < n_raw; i++)
        if (!isfinite(angles_deg[i]))
            return tl_error_set(err, TL_ERR_DATA, "the angle of projection %zu is not a finite number", i);
    angle_index *sorted = malloc(n_raw * sizeof *sorted);
    if (!sorted)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory pairing %zu angles", n_raw);
    for (size_t i = 0; i < n_raw; i++)
        sorted[i] = (angle_index){angles_deg[i], i};
    qsort(sorted, n_raw, sizeof *sorted, by_angle);
    const double first = sorted[0].angle, last = sorted[n_raw - 1].angle;
    const double arc = last - first, step = arc / (double)(n_raw - 1);
    out->arc_deg = arc;
    if (arc + 1.5 * step < 360.0 - TL_STITCH_ANGLE_EPS) {
        free(sorted);
        return tl_error_set(err, TL_ERR_INVALID,
                            "a 360-degree scan is needed, but the %zu projections cover %g to %g degrees (an arc "
                            "of %g degrees; 360 minus 1.5 steps at least)",
                            n_raw, first, last, arc);
    }
    size_t n = 0;
    for (size_t i = 0; i < n_raw; i++)
        if (angles_deg[i] < first + 180.0 - TL_STITCH_ANGLE_EPS)
            n++;
    out->n_raw = n_raw;
    out->n = n;
    out->direct = malloc(n * sizeof *out->direct);
    out->angles_deg = malloc(n * sizeof *out->angles_deg);
    out->partner_lo = malloc(n * sizeof *out->partner_lo);
    out->partner_hi = malloc(n * sizeof *out->partner_hi);
    out->partner_w = malloc(n * sizeof *out->partner_w);
    if (!out->direct || !out->angles_deg || !out->partner_lo || !out->partner_hi || !out->partner_w) {
        free(sorted);
        tl_stitch_pairs_free(out);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory pairing %zu angles", n_raw);
    }
    size_t k = 0;
    for (size_t i = 0; i < n_raw; i++) {
        const double a = angles_deg[i];
        if (!(a < first + 180.0 - TL_STITCH_ANGLE_EPS))
            continue;
        const double target = a + 180.0;
        /* first sorted angle >= target - eps */
        size_t lo = 0, hi = n_raw;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (sorted[mid].angle < target - TL_STITCH_ANGLE_EPS)
                lo = mid + 1;
            else
                hi = mid;
        }
        out->direct[k] = i;
        out->angles_deg[k] = a;
        if (lo < n_raw && fabs(sorted[lo].angle - target) <= TL_STITCH_ANGLE_EPS) {
            out->partner_lo[k] = out->partner_hi[k] = sorted[lo].index;
            out->partner_w[k] = 0.0f;
            out->n_exact++;
        } else {
            /* lo >= 1: sorted[0] = first < target. Past the last angle the
             * projection at `first` stands again for first + 360. */
            const angle_index *below = &sorted[lo - 1];
            double above_angle = lo < n_raw ? sorted[lo].angle : first + 360.0;
            size_t above_index = lo < n_raw ? sorted[lo].index : sorted[0].index;
            double gap = above_angle - below->angle;
            double w = gap > 0.0 ? (target - below->angle) / gap : 0.0;
            out->partner_lo[k] = below->index;
            out->partner_hi[k] = above_index;
            out->partner_w[k] = (float)(w < 0.0 ? 0.0 : w > 1.0 ? 1.0 : w);
            if (gap > out->max_gap_deg)
                out->max_gap_deg = gap;
        }
        k++;
    }
    free(sorted);
    return TL_OK;
}

/* ---- the plan ---------------------------------------------------------------------------- */

static fftwf_plan plan_forward(void *ctx, unsigned flags)
{
    tl_stitch_plan *p = ctx;
    return fftwf_plan_dft_r2c_1d((int)p->n_padded, p->real[0], p->spectrum[0], flags);
}

static fftwf_plan plan_backward(void *ctx, unsigned flags)
{
    tl_stitch_plan *p = ctx;
    return fftwf_plan_dft_c2r_1d((int)p->n_padded, p->spectrum[0], p->real[0], flags);
}

/* Buffers and FFTW plans of the Fourier shift by p->frac. */
static tl_status plan_shift(tl_stitch_plan *p, tl_error *err)
{
    p->n_padded = tl_filter_padded_size(p->layout.n_cols);
    p->n_freq = p->n_padded / 2 + 1;
    p->phase = fftwf_alloc_complex(p->n_freq);
    p->real = calloc((size_t)p->n_threads, sizeof *p->real);
    p->spectrum = calloc((size_t)p->n_threads, sizeof *p->spectrum);
    if (!p->phase || !p->real || !p->spectrum)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for the stitching plan's Fourier shift");
    for (int t = 0; t < p->n_threads; t++) {
        p->real[t] = fftwf_alloc_real(p->n_padded);
        p->spectrum[t] = fftwf_alloc_complex(p->n_freq);
        if (!p->real[t] || !p->spectrum[t])
            return tl_error_set(err, TL_ERR_NOMEM, "out of memory for the stitching plan's Fourier shift");
    }
    p->bytes += p->n_freq * sizeof(fftwf_complex) +
                (size_t)p->n_threads * (p->n_padded * sizeof(float) + p->n_freq * sizeof(fftwf_complex));
    const double n = (double)p->n_padded;
    for (size_t k = 0; k < p->n_freq; k++) {
        double phi = 2.0 * TL_STITCH_PI * (double)k * p->frac / n;
        if (2 * k == p->n_padded) { /* Nyquist of an even length: the real part of the shift */
            p->phase[k][0] = (float)(cos(phi) / n);
            p->phase[k][1] = 0.0f;
        } else {
            p->phase[k][0] = (float)(cos(phi) / n);
            p->phase[k][1] = (float)(sin(phi) / n);
        }
    }
    tl_fftw_planner_lock();
    p->forward = tl_fftw_plan_with_wisdom(plan_forward, p);
    p->backward = tl_fftw_plan_with_wisdom(plan_backward, p);
    tl_fftw_planner_unlock();
    if (!p->forward || !p->backward)
        return tl_error_set(err, TL_ERR_INTERNAL, "stitch: FFTW could not plan a transform of %zu points",
                            p->n_padded);
    return TL_OK;
}

tl_status tl_stitch_plan_create(size_t n_cols, double axis, const double *angles_deg, size_t n_angles,
                                int n_threads, tl_stitch_plan **out, tl_error *err)
{
    *out = NULL;
    tl_stitch_plan *p = calloc(1, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for a stitching plan");
    p->n_threads = n_threads < 1 ? 1 : n_threads;
    tl_status st = tl_stitch_layout_for(n_cols, axis, &p->layout, err);
    if (st == TL_OK)
        st = tl_stitch_pairs_create(angles_deg, n_angles, &p->pairs, err);
    if (st != TL_OK) {
        tl_stitch_plan_destroy(&p);
        return st;
    }
    const tl_stitch_layout *L = &p->layout;
    const size_t width = L->width;
    p->weight = malloc(width * sizeof *p->weight);
    p->mirror = malloc(width * sizeof *p->mirror);
    p->inside = malloc(width * sizeof *p->inside);
    if (!p->weight || !p->mirror || !p->inside) {
        tl_stitch_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for a stitching plan of %zu columns", width);
    }
    p->bytes = sizeof *p + width * (sizeof *p->weight + sizeof *p->mirror + sizeof *p->inside) +
               p->pairs.n * (3 * sizeof(size_t) + sizeof(double) + sizeof(float));
    /* The overlap [k_lo, k_hi] in stitched columns: where the direct half
     * (raw columns 0..W-1 at k - shift) and the mirrored half (raw columns
     * 0..W-1 at 2a + shift - k) both lie on the detector. */
    const double a = L->axis, last = (double)n_cols - 1.0, shift = (double)L->shift;
    /* the mirrored column of stitched column k is jm = 2a + shift - k = (base - k) + frac */
    double base = floor(2.0 * a + shift + 1e-9);
    p->frac = 2.0 * a + shift - base;
    if (p->frac < 1e-6) /* 2a is an integer (to a millionth of a pixel) */
        p->frac = 0.0;
    const double k_lo = fmax(shift, 2.0 * a + shift - last), k_hi = fmin(shift + last, 2.0 * a + shift);
    for (size_t k = 0; k < width; k++) {
        double t = k_hi > k_lo ? ((double)k - k_lo) / (k_hi - k_lo) : ((double)k > k_lo ? 1.0 : 0.0);
        t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
        double ramp = 0.5 - 0.5 * cos(TL_STITCH_PI * t); /* 0 at k_lo, 1 at k_hi */
        double w = L->side == TL_STITCH_LEFT ? ramp : 1.0 - ramp;
        /* exact 0 and 1 outside the overlap (cos(pi) is not exactly -1) */
        if (t <= 0.0)
            w = L->side == TL_STITCH_LEFT ? 0.0 : 1.0;
        else if (t >= 1.0)
            w = L->side == TL_STITCH_LEFT ? 1.0 : 0.0;
        p->weight[k] = (float)w;
        /* mirrored value at column c + frac; off the detector (the outermost column, up
         * to half a pixel beyond, or columns the weights ignore) the edge column's value */
        double c = base - (double)k, jm = c + p->frac;
        p->inside[k] = jm >= 0.0 && jm <= last;
        p->mirror[k] = jm < 0.0 ? 0 : jm > last ? n_cols - 1 : (size_t)c;
    }
    if (p->frac > 0.0 && (st = plan_shift(p, err)) != TL_OK) {
        tl_stitch_plan_destroy(&p);
        return st;
    }
    *out = p;
    return TL_OK;
}

void tl_stitch_plan_destroy(tl_stitch_plan **plan)
{
    if (!plan || !*plan)
        return;
    tl_stitch_plan *p = *plan;
    tl_stitch_pairs_free(&p->pairs);
    if (p->forward || p->backward) {
        tl_fftw_planner_lock();
        if (p->forward)
            fftwf_destroy_plan(p->forward);
        if (p->backward)
            fftwf_destroy_plan(p->backward);
        tl_fftw_planner_unlock();
    }
    for (int t = 0; t < p->n_threads; t++) {
        if (p->real)
            fftwf_free(p->real[t]);
        if (p->spectrum)
            fftwf_free(p->spectrum[t]);
    }
    free(p->real);
    free(p->spectrum);
    fftwf_free(p->phase);
    free(p->weight);
    free(p->mirror);
    free(p->inside);
    free(p);
    *plan = NULL;
}

const tl_stitch_layout *tl_stitch_plan_layout(const tl_stitch_plan *plan) { return &plan->layout; }
const tl_stitch_pairs *tl_stitch_plan_pairs(const tl_stitch_plan *plan) { return &plan->pairs; }
size_t tl_stitch_plan_bytes(const tl_stitch_plan *plan) { return plan ? plan->bytes : 0; }

double tl_stitch_plan_weight(const tl_stitch_plan *plan, size_t k)
{
    return k < plan->layout.width ? (double)plan->weight[k] : NAN;
}

double tl_stitch_plan_fraction(const tl_stitch_plan *plan) { return plan->frac; }

/* q[t] = partner at t + f for t in [0, n_cols): the line through the padded
 * FFT, times the phase ramp, and back. */
static void shift_line(const tl_stitch_plan *p, int thread, const float *lo, const float *hi, float wl, float wh)
{
    const size_t n = p->layout.n_cols, np = p->n_padded;
    float *real = p->real[thread];
    fftwf_complex *spec = p->spectrum[thread];
    for (size_t j = 0; j < n; j++)
        real[j] = wl * lo[j] + wh * hi[j];
    const float first = real[0], last = real[n - 1];
    const size_t pad = np - n;
    for (size_t j = 0; j < pad; j++) /* from last back to first: the periodic line has no jump */
        real[n + j] = last + (first - last) * (float)((double)(j + 1) / (double)(pad + 1));
    fftwf_execute_dft_r2c(p->forward, real, spec);
    for (size_t k = 0; k < p->n_freq; k++) {
        const float re = spec[k][0], im = spec[k][1], cr = p->phase[k][0], ci = p->phase[k][1];
        spec[k][0] = re * cr - im * ci;
        spec[k][1] = re * ci + im * cr;
    }
    fftwf_execute_dft_c2r(p->backward, spec, real);
}

void tl_stitch_exec(const tl_stitch_plan *plan, int thread, const float *in, size_t in_stride, float *out,
                    size_t out_stride)
{
    const tl_stitch_pairs *pr = &plan->pairs;
    const size_t width = plan->layout.width, shift = plan->layout.shift;
    const float *weight = plan->weight;
    const size_t *mirror = plan->mirror;
    const unsigned char *inside = plan->inside;
    const int fourier = plan->frac > 0.0;
    const float *shifted = fourier ? plan->real[thread] : NULL;
    for (size_t i = 0; i < pr->n; i++) {
        const float *direct = in + pr->direct[i] * in_stride;
        const float *lo = in + pr->partner_lo[i] * in_stride, *hi = in + pr->partner_hi[i] * in_stride;
        const float wh = pr->partner_w[i], wl = 1.0f - wh;
        if (fourier)
            shift_line(plan, thread, lo, hi, wl, wh);
        float *o = out + i * out_stride;
        for (size_t k = 0; k < width; k++) {
            const float w = weight[k];
            float v = 0.0f;
            if (w > 0.0f) /* the direct half is on the detector here */
                v = w * direct[k - shift];
            if (w < 1.0f) {
                const size_t j = mirror[k];
                const float m = fourier && inside[k] ? shifted[j] : wl * lo[j] + wh * hi[j];
                v += (1.0f - w) * m;
            }
            o[k] = v;
        }
    }
}

/* ---- finding the axis -------------------------------------------------------------------- */

typedef struct search_job {
    const float *sino;
    size_t n_rows, n_angles, n_cols;
    const tl_stitch_pairs *pairs;
    const size_t *use;   /* [n_use] indices into pairs of the pairs compared */
    size_t n_use;
    size_t m_ranges[2][2]; /* [side][lo, hi] trial m = 2a, inclusive */
    double *num, *den;   /* [n_use][2 n_cols]: one task per angle pair, over all rows, so the sums do not
                          * depend on how the tasks fall on the threads (the same axis on every run) */
    float *scratch;      /* [threads][2 n_cols]: partner and its mirror */
} search_job;

static void search_tasks(void *ctx, size_t begin, size_t end, int thread)
{
    search_job *job = ctx;
    const size_t w = job->n_cols, span = 2 * w;
    float *q = job->scratch + (size_t)thread * span, *qr = q + w; /* q, then q mirrored */
    for (size_t task = begin * job->n_rows; task < end * job->n_rows; task++) {
        size_t pair = task / job->n_rows, row = task % job->n_rows, k = job->use[pair];
        double *num = job->num + pair * span, *den = job->den + pair * span;
        const float *line = job->sino + row * job->n_angles * w;
        const float *p = line + job->pairs->direct[k] * w;
        const float *lo = line + job->pairs->partner_lo[k] * w, *hi = line + job->pairs->partner_hi[k] * w;
        const float wh = job->pairs->partner_w[k], wl = 1.0f - wh;
        for (size_t j = 0; j < w; j++)
            q[j] = wl * lo[j] + wh * hi[j];
        for (size_t j = 0; j < w; j++) /* qr[t] = q[w - 1 - t]: q(m - j) = qr[w - 1 - m + j] */
            qr[j] = q[w - 1 - j];
        for (int side = 0; side < 2; side++) {
            for (size_t m = job->m_ranges[side][0]; m <= job->m_ranges[side][1]; m++) {
                size_t j0 = m > w - 1 ? m - (w - 1) : 0, j1 = m < w - 1 ? m : w - 1;
                const float *b = q + (2 * w - 1 - m); /* b[j] = qr[w - 1 - m + j], j >= j0 */
                float sd = 0.0f, ss = 0.0f;
                for (size_t j = j0; j <= j1; j++) {
                    float d = p[j] - b[j];
                    sd += d * d;
                    ss += p[j] * p[j] + b[j] * b[j];
                }
                num[m] += sd;
                den[m] += ss;
            }
        }
    }
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

tl_status tl_stitch_find_axis(const float *sino, size_t n_rows, size_t n_angles, size_t n_cols,
                              const double *angles_deg, tl_workers *workers, tl_stitch_search *out,
                              tl_error *err)
{
    memset(out, 0, sizeof *out);
    if (n_rows < 1 || n_cols < 16)
        return tl_error_set(err, TL_ERR_INVALID,
                            "the overlap search needs at least one row and 16 columns (got %zu rows of %zu columns)",
                            n_rows, n_cols);
    tl_stitch_pairs pairs;
    tl_status st = tl_stitch_pairs_create(angles_deg, n_angles, &pairs, err);
    if (st != TL_OK)
        return st;
    double llo, lhi, rlo, rhi;
    tl_stitch_allowed_axes(n_cols, &llo, &lhi, &rlo, &rhi);
    const double last = (double)n_cols - 1.0;
    search_job job = {.sino = sino, .n_rows = n_rows, .n_angles = n_angles, .n_cols = n_cols, .pairs = &pairs};
    job.m_ranges[0][0] = (size_t)ceil(2.0 * fmax(llo, TL_STITCH_SEARCH_EDGE));
    job.m_ranges[0][1] = (size_t)floor(2.0 * lhi);
    job.m_ranges[1][0] = (size_t)ceil(2.0 * rlo);
    job.m_ranges[1][1] = (size_t)floor(2.0 * fmin(rhi, last - TL_STITCH_SEARCH_EDGE));
    size_t n_use = pairs.n < TL_STITCH_SEARCH_PAIRS ? pairs.n : TL_STITCH_SEARCH_PAIRS;
    int threads = tl_workers_count(workers);
    if (threads < 1)
        threads = 1;
    const size_t span = 2 * n_cols;
    size_t *use = malloc(n_use * sizeof *use);
    double *num = calloc(n_use * span, sizeof *num), *den = calloc(n_use * span, sizeof *den);
    float *scratch = malloc((size_t)threads * span * sizeof *scratch);
    double *metric = malloc(span * sizeof *metric), *sorted = malloc(span * sizeof *sorted);
    if (!use || !num || !den || !scratch || !metric || !sorted) {
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory for the overlap search (%zu columns, %d threads)", n_cols,
                          threads);
        goto done;
    }
    for (size_t k = 0; k < n_use; k++) /* spread over the half turn */
        use[k] = (size_t)(((double)k + 0.5) * (double)pairs.n / (double)n_use);
    job.use = use;
    job.n_use = n_use;
    job.num = num;
    job.den = den;
    job.scratch = scratch;
    tl_workers_run(workers, n_use, 1, search_tasks, &job);
    for (size_t k = 1; k < n_use; k++) /* in a fixed order */
        for (size_t m = 0; m < span; m++) {
            num[m] += num[k * span + m];
            den[m] += den[k * span + m];
        }

    size_t n_trials = 0, best = 0;
    int best_side = -1;
    for (int side = 0; side < 2; side++)
        for (size_t m = job.m_ranges[side][0]; m <= job.m_ranges[side][1]; m++) {
            metric[m] = den[m] > 0.0 ? num[m] / den[m] : NAN;
            if (!isfinite(metric[m]))
                continue;
            sorted[n_trials++] = metric[m];
            if (best_side < 0 || metric[m] < metric[best]) {
                best = m;
                best_side = side;
            }
        }
    if (n_trials < 3 || best_side < 0) {
        st = tl_error_set(err, TL_ERR_DATA,
                          "the overlap search found no contrast (the sinograms are zero or empty): give the axis "
                          "with --rotation-axis");
        goto done;
    }
    qsort(sorted, n_trials, sizeof *sorted, cmp_double);
    double median = sorted[n_trials / 2];
    if (!(median > 0.0)) {
        st = tl_error_set(err, TL_ERR_DATA,
                          "the overlap search found no contrast (the two half turns agree at every trial axis): "
                          "give the axis with --rotation-axis");
        goto done;
    }
    if (best == job.m_ranges[best_side][0] || best == job.m_ranges[best_side][1]) {
        st = tl_error_set(err, TL_ERR_DATA,
                          "the overlap search found its best match at the end of the searched range (axis %g, "
                          "%s edge; searched %g to %g and %g to %g): the axis is not within a third of the width "
                          "of an edge, or the rows show too little structure; give the axis with --rotation-axis",
                          0.5 * (double)best, best_side == 0 ? "left" : "right", 0.5 * (double)job.m_ranges[0][0],
                          0.5 * (double)job.m_ranges[0][1], 0.5 * (double)job.m_ranges[1][0],
                          0.5 * (double)job.m_ranges[1][1]);
        goto done;
    }
    /* vertex of the parabola through (best - 1, best, best + 1) */
    double ym = metric[best - 1], y0 = metric[best], yp = metric[best + 1], delta = 0.0;
    double curvature = ym - 2.0 * y0 + yp;
    if (isfinite(ym) && isfinite(yp) && curvature > 0.0) {
        delta = 0.5 * (ym - yp) / curvature;
        delta = delta < -0.5 ? -0.5 : delta > 0.5 ? 0.5 : delta;
    }
    out->axis = 0.5 * ((double)best + delta);
    out->side = best_side == 0 ? TL_STITCH_LEFT : TL_STITCH_RIGHT;
    out->metric = y0;
    out->confidence = 1.0 - y0 / median;
    out->n_trials = n_trials;
    out->n_pairs = n_use;
done:
    free(use);
    free(num);
    free(den);
    free(scratch);
    free(metric);
    free(sorted);
    tl_stitch_pairs_free(&pairs);
    return st;
}
