/* stitch.h - 360-degree offset-axis scans ("double field of view", half
 * acquisition) turned into 180-degree sinograms about twice as wide.
 *
 * A sample wider than the detector is scanned over 360 degrees with the
 * rotation axis near one edge of the detector, so that each projection sees a
 * little more than half of the object. Since p(s, theta + 180) = p(-s, theta),
 * the projection at theta + 180 mirrored about the axis is the missing half of
 * the projection at theta. This module
 *   - lays out the stitched sinogram for an axis a (tl_stitch_layout): width,
 *     its axis, the overlap of the two halves and which edge the axis is near;
 *   - pairs every angle theta of the first half turn with theta + 180
 *     (tl_stitch_plan_create): exact partners are used as they are, the others
 *     are interpolated linearly in angle between the two projections that
 *     bracket theta + 180 (the projection at theta0 stands again for
 *     theta0 + 360, so the last interval of the turn is bridged too);
 *   - stitches sinograms (tl_stitch_exec): the direct and the mirrored half,
 *     joined across their overlap with raised-cosine weights that sum to 1;
 *   - finds the axis from the data (tl_stitch_find_axis): the two halves agree
 *     only where they overlap, and only for the true axis.
 *
 * Method: N. T. Vo, R. C. Atwood, M. Drakopoulos, T. Connolley, "Data processing
 * methods and data acquisition for samples larger than the field of view in
 * parallel-beam tomography", Optics Express 29(12), 17849-17874 (2021),
 * doi:10.1364/OE.418448: the 0-180 and the mirrored 180-360 halves of a
 * 360-degree sinogram are two images with an overlap; the overlap gives the
 * axis (cor = overlap / 2 from the near edge) and the images are joined with a
 * ramp across it. Where we differ, see stitch.c.
 *
 * Geometry (DESIGN.md): raw detector column j sees s = j - a. Stitched column k
 * sees s = k - axis_stitched, axis_stitched = a + shift with an integer shift,
 * so the direct half is copied without interpolation (raw column k - shift) and
 * the mirrored half is read at raw column 2a + shift - k of the partner
 * projection: copied when 2a is an integer, else the partner line is shifted
 * by the fraction of 2a in Fourier space (see stitch.c for why not linear
 * interpolation).
 *   axis near the left edge  (a < (W-1)/2): shift = round(W - 1 - 2a), width W + shift;
 *   axis near the right edge (a > (W-1)/2): shift = 0, width W + round(2a - W + 1).
 * The outermost stitched column may lie up to half a pixel beyond the mirrored
 * detector's edge: it takes the edge pixel's value. With an integer or
 * half-integer axis the stitched sinogram equals what a detector of the
 * stitched width centred on the axis would have recorded over 180 degrees.
 */
#ifndef TL_STITCH_H
#define TL_STITCH_H

#include <stddef.h>

#include "status.h"
#include "workers.h"

/* The axis must lie within a third of the detector width of one edge:
 * a <= (W-1) / 3 or a >= (W-1) - (W-1) / 3 (stitched width at least 4/3 W), and
 * at least TL_STITCH_MIN_EDGE columns inside the detector (an overlap of two
 * columns or more). */
#define TL_STITCH_EDGE_DIVISOR 3.0
#define TL_STITCH_MIN_EDGE 1.0

typedef enum { TL_STITCH_LEFT = 0, TL_STITCH_RIGHT = 1 } tl_stitch_side;

typedef struct tl_stitch_layout {
    size_t n_cols;        /* W, raw detector width */
    double axis;          /* a, raw axis (column coordinate) */
    tl_stitch_side side;  /* the edge the axis is near */
    size_t shift;         /* stitched column k holds raw column k - shift of the direct half */
    size_t width;         /* stitched width */
    double axis_stitched; /* a + shift */
    double overlap;       /* width of the region both halves see, pixels: 2a (left) or 2 (W - 1 - a) (right) */
} tl_stitch_layout;

/* The layout for axis a on a detector of n_cols columns; TL_ERR_INVALID with a
 * message naming the allowed ranges when a is not near an edge. */
tl_status tl_stitch_layout_for(size_t n_cols, double axis, tl_stitch_layout *out, tl_error *err) TL_MUST_CHECK;

/* Ranges of axes tl_stitch_layout_for() accepts: [*left_lo, *left_hi] and
 * [*right_lo, *right_hi] (empty, lo > hi, on tiny detectors). */
void tl_stitch_allowed_axes(size_t n_cols, double *left_lo, double *left_hi, double *right_lo, double *right_hi);

/* Angles of a 360-degree scan: the first half turn [theta0, theta0 + 180)
 * (theta0 the smallest angle) and the partner of each at theta + 180. */
typedef struct tl_stitch_pairs {
    size_t n_raw;        /* angles of the 360-degree scan */
    size_t n;            /* angles kept: the first half turn, in input order */
    size_t *direct;      /* [n] raw index of each kept angle */
    double *angles_deg;  /* [n] its angle */
    size_t *partner_lo;  /* [n] raw indices of the projections bracketing theta + 180 */
    size_t *partner_hi;
    float *partner_w;    /* [n] weight of partner_hi (0 when partner_lo is exact) */
    size_t n_exact;      /* kept angles whose partner is exactly 180 degrees later (1e-6 degrees) */
    double max_gap_deg;  /* widest angular interval interpolated across (0 if all exact) */
    double arc_deg;      /* largest minus smallest angle of the scan */
} tl_stitch_pairs;

/* Pair the angles (n_raw >= 4, finite). A scan whose arc plus 1.5 steps does
 * not reach 360 degrees is TL_ERR_INVALID ("needs a 360-degree scan ..."). */
tl_status tl_stitch_pairs_create(const double *angles_deg, size_t n_raw, tl_stitch_pairs *out,
                                 tl_error *err) TL_MUST_CHECK;
void tl_stitch_pairs_free(tl_stitch_pairs *pairs);

/* Plan: layout + pairs + the per-column indices and weights, and (2a not an
 * integer) FFTW plans and one padded line per thread for the Fourier shift.
 * Allocates everything; tl_stitch_exec() allocates nothing. */
typedef struct tl_stitch_plan tl_stitch_plan;

tl_status tl_stitch_plan_create(size_t n_cols, double axis, const double *angles_deg, size_t n_angles,
                                int n_threads, tl_stitch_plan **out, tl_error *err) TL_MUST_CHECK;
void tl_stitch_plan_destroy(tl_stitch_plan **plan);
const tl_stitch_layout *tl_stitch_plan_layout(const tl_stitch_plan *plan);
const tl_stitch_pairs *tl_stitch_plan_pairs(const tl_stitch_plan *plan);
/* Bytes the plan holds. */
size_t tl_stitch_plan_bytes(const tl_stitch_plan *plan);
/* Weight of the direct half at stitched column k (the mirrored half has
 * 1 - weight): 0 or 1 outside the overlap, a raised cosine across it. */
double tl_stitch_plan_weight(const tl_stitch_plan *plan, size_t k);
/* The fraction of 2a by which the mirrored half is shifted (0: copied). */
double tl_stitch_plan_fraction(const tl_stitch_plan *plan);

/* Stitch one 360-degree sinogram: raw angle line i (n_cols floats) at
 * in + i * in_stride; stitched line i (width floats, the plan's kept angles in
 * order) written to out + i * out_stride. `thread` (0 <= thread < n_threads of
 * the plan) picks the scratch line: calls on different threads may run at once. */
void tl_stitch_exec(const tl_stitch_plan *plan, int thread, const float *in, size_t in_stride, float *out,
                    size_t out_stride);

/* The axis of a 360-degree offset-axis scan, found from the data.
 *
 * sino: n_rows sinograms of -log data, line (row r, raw angle i) at
 * sino + (r * n_angles + i) * n_cols. For every trial axis a = m / 2 (m an
 * integer; a within the ranges of tl_stitch_allowed_axes, at least 2 px from
 * the edge) the overlap of each kept projection with its mirrored partner is
 * compared: E(m) = sum (P(j) - Q(m - j))^2 / sum (P(j)^2 + Q(m - j)^2) over the
 * overlap, summed over the rows and over up to TL_STITCH_SEARCH_PAIRS angle
 * pairs spread over the half turn. The least E wins; a parabola through it and
 * its neighbours gives the sub-pixel axis. A minimum at the end of a range, or
 * no contrast at all, is TL_ERR_DATA. */
#define TL_STITCH_SEARCH_PAIRS 64
typedef struct tl_stitch_search {
    double axis;        /* a, raw column coordinate */
    tl_stitch_side side;
    double metric;      /* E at the best integer m */
    double confidence;  /* 1 - E(best) / median E over the trials (0..1; near 1 is a clear minimum) */
    size_t n_trials;    /* trial axes compared */
    size_t n_pairs;     /* angle pairs used */
} tl_stitch_search;

tl_status tl_stitch_find_axis(const float *sino, size_t n_rows, size_t n_angles, size_t n_cols,
                              const double *angles_deg, tl_workers *workers, tl_stitch_search *out,
                              tl_error *err) TL_MUST_CHECK;

#endif
