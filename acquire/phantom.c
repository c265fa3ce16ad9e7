/* phantom.c - ellipsoid phantoms: exact pixel-averaged projections and sampled slices.
 *
 * Coordinates. A phantom is a list of ellipsoids in normalised coordinates
 * whose unit is the phantom radius R (pixels): every ellipsoid lies inside
 * the unit ball. Its (x, y) origin is the rotation axis, so in pixels a point
 * (x, y) of the phantom is at (R x, R y) in the DESIGN.md slice frame, whatever
 * the axis position on the detector. Ellipsoid axes are rotated about z only,
 * by phi (from +x towards +y), so every slice cuts an ellipse.
 *
 * Fit rule (why R is what it is). The object lies within R of the axis, so its
 * projections cover s in [-R, R], i.e. detector columns [a - R, a + R]. The
 * detector spans column coordinates [-1/2, W - 1/2] and the truth slice spans
 * [-W/2, W/2] around the axis, so with
 *     half = min(W/2, a + 1/2, W - 1/2 - a),   margin = min(3, half/4),
 *     R = half - margin
 * every ray that touches the object lands on the detector at every angle, and
 * the whole object is inside the truth slice, with a margin of 3 pixels (less
 * only on detectors too small for it).
 *
 * z. Detector row k is at normalised z = ((k + 0.5) / n_rows - 0.5) * 0.5:
 * the rows span z in [-1/4, 1/4] whatever their number, so 16 rows of the
 * Shepp-Logan head cut visibly different slices (the small ellipsoids at
 * z = 0.25 and z = 0 come and go) while one row is the central slice z = 0.
 *
 * Attenuation scale. Densities are multiplied by TL_PHANTOM_ATTENUATION / R to
 * give attenuation per pixel, so line integrals (in pixels) do not depend on
 * the size: the largest line integral of the Shepp-Logan head (through the
 * central slice) is 1.5, i.e. the most opaque ray keeps exp(-1.5) = 22% of
 * the beam. That ray grazes the inner skull, a narrow peak, so the largest
 * pixel-averaged value is a little lower on small detectors (1.48 at W = 1024,
 * 1.43 at 256, 1.34 at 64). Random ellipsoids use the same factor (overlaps
 * can add up).
 *
 * Projection of one ellipse (Kak & Slaney 1988, ch. 3, the ellipse example):
 * with semi-axes A, B (pixels) rotated by phi, centre (x0, y0) and density rho,
 *     p(s) = 2 rho A B sqrt(m^2 - t^2) / m^2  for |t| < m,  0 otherwise,
 *     m^2 = A^2 cos^2(theta - phi) + B^2 sin^2(theta - phi),
 *     t = s - (x0 cos theta + y0 sin theta).
 * A detector pixel averages p over s in [j - a - 1/2, j - a + 1/2]; with
 *     F(t) = (t sqrt(m^2 - t^2) + m^2 asin(t/m)) / 2,  t clipped to [-m, m],
 * the average is 2 rho A B / m^2 (F(t_hi) - F(t_lo)), exact. F is evaluated
 * once per pixel edge; sums are in double and stored as float.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phantom_internal.h"
#include "rng.h"
#include "sim.h"

/* Line-integral scale, see the top comment: attenuation per pixel of unit
 * density is TL_PHANTOM_ATTENUATION / R. The Shepp-Logan head's largest
 * normalised line integral is 0.554 (measured with this projector: a ray at
 * about 26 degrees grazing the inner skull ellipse, so running along the
 * bright rim), so its largest line integral is 2.7 * 0.554 = 1.50. */
#define TL_PHANTOM_ATTENUATION 2.7

#define TL_PI 3.14159265358979323846

/* Normalised z of the detector rows: [-ZSPAN/2, ZSPAN/2]. */
#define TL_PHANTOM_ZSPAN 0.5

/* Stream ids of tl_rng_seed_stream() used by the phantom (sim.c uses others). */
#define TL_RNG_STREAM_PHANTOM 0x9a1

typedef struct ellipsoid {
    double rho;        /* density (before the attenuation scale) */
    double a, b, c;    /* semi-axes along the rotated x', y' and along z */
    double x0, y0, z0; /* centre */
    double phi;        /* rotation of x' from +x towards +y, radians */
    double cphi, sphi; /* its cosine and sine */
} ellipsoid;

struct tl_phantom {
    tl_phantom_kind kind;
    size_t n_cols, n_rows;
    double axis;   /* a, column coordinate of the rotation axis */
    double radius; /* R, pixels */
    double scale;  /* attenuation per pixel of unit density */
    size_t n;
    ellipsoid *e;
};

/* The 3-D head with the contrast of Toft's modified Shepp-Logan phantom.
 *
 * In-plane geometry: Shepp & Logan, "The Fourier reconstruction of a head
 * section", IEEE Trans. Nucl. Sci. 21 (1974) 21-43; Kak & Slaney, "Principles
 * of Computerized Tomographic Imaging" (1988), Table 3.1. Intensities: P. Toft,
 * "The Radon Transform - Theory and Implementation", PhD thesis, DTU (1996),
 * sec. 4.1 (original 2, -0.98, -0.02, -0.02, 0.01 x 6 raised to 1, -0.8,
 * -0.2, -0.2, 0.1 x 6 so the inner structures are visible). The z semi-axes
 * and centres are those of the 3-D ellipsoid extension of the head in common
 * use; its small tilts of the two ventricles out of the xy plane are dropped,
 * since our ellipsoids rotate about z only.
 *
 * Columns: rho, a (semi-axis along direction phi), b, c (along z), x0, y0, z0,
 * phi in degrees. Written, as in the papers, with y pointing up; see
 * shepp_logan() for the flip into image rows. Kak & Slaney list ventricle c as
 * major 0.31 at 72 degrees: the same ellipse as a = 0.11 along -18 degrees. */
static const double shepp_logan_table[10][8] = {
    /*  rho     a       b      c      x0      y0      z0    phi */
    {1.0, 0.69, 0.92, 0.81, 0.0, 0.0, 0.0, 0.0},
    {-0.8, 0.6624, 0.874, 0.78, 0.0, -0.0184, 0.0, 0.0},
    {-0.2, 0.11, 0.31, 0.22, 0.22, 0.0, 0.0, -18.0},
    {-0.2, 0.16, 0.41, 0.28, -0.22, 0.0, 0.0, 18.0},
    {0.1, 0.21, 0.25, 0.41, 0.0, 0.35, -0.15, 0.0},
    {0.1, 0.046, 0.046, 0.05, 0.0, 0.1, 0.25, 0.0},
    {0.1, 0.046, 0.046, 0.05, 0.0, -0.1, 0.25, 0.0},
    {0.1, 0.046, 0.023, 0.05, -0.08, -0.605, 0.0, 0.0},
    {0.1, 0.023, 0.023, 0.02, 0.0, -0.606, 0.0, 0.0},
    {0.1, 0.023, 0.046, 0.02, 0.06, -0.605, 0.0, 0.0},
};

static void shepp_logan(ellipsoid *e)
{
    const double deg = TL_PI / 180.0;
    for (size_t i = 0; i < 10; i++) {
        const double *t = shepp_logan_table[i];
        /* The papers draw y upwards; DESIGN.md's y grows with the image row,
         * which viewers show downwards. Mirroring y (and so the angle) makes the
         * head look as in the papers when row 0 is displayed at the top. */
        e[i] = (ellipsoid){.rho = t[0], .a = t[1], .b = t[2], .c = t[3],
                           .x0 = t[4], .y0 = -t[5], .z0 = t[6], .phi = -t[7] * deg};
    }
}

/* Seeded random ellipsoids inside the unit ball: semi-axes in [0.05, 0.5],
 * densities in [0.1, 1], any rotation about z. Centres are drawn with z in the
 * span of the detector rows (so every ellipsoid shows in some slice) and (x, y)
 * uniform in the disk that keeps the whole ellipsoid (within its largest
 * semi-axis of the centre) inside the unit ball. */
static void random_ellipsoids(ellipsoid *e, size_t n, uint64_t seed)
{
    tl_rng rng;
    tl_rng_seed_stream(&rng, seed, TL_RNG_STREAM_PHANTOM, 0);
    for (size_t i = 0; i < n; i++) {
        double a = 0.05 + 0.45 * tl_rng_uniform(&rng);
        double b = 0.05 + 0.45 * tl_rng_uniform(&rng);
        double c = 0.05 + 0.45 * tl_rng_uniform(&rng);
        double rmax = fmax(a, fmax(b, c));
        double z0 = (tl_rng_uniform(&rng) - 0.5) * TL_PHANTOM_ZSPAN;
        /* rmax <= 0.5 and |z0| <= 0.25 leave a disk of radius >= 0.43 */
        double disk = sqrt((1.0 - rmax) * (1.0 - rmax) - z0 * z0);
        double x0, y0;
        do {
            x0 = 2.0 * tl_rng_uniform(&rng) - 1.0;
            y0 = 2.0 * tl_rng_uniform(&rng) - 1.0;
        } while (x0 * x0 + y0 * y0 > 1.0);
        e[i] = (ellipsoid){.rho = 0.1 + 0.9 * tl_rng_uniform(&rng), .a = a, .b = b, .c = c,
                           .x0 = disk * x0, .y0 = disk * y0, .z0 = z0,
                           .phi = TL_PI * tl_rng_uniform(&rng)};
    }
}

tl_status tl_phantom_create(tl_phantom_kind kind, size_t n_cols, size_t n_rows, double axis,
                            size_t n_ellipses, uint64_t seed, tl_phantom **out, tl_error *err)
{
    *out = NULL;
    if (n_cols < 1 || n_rows < 1)
        return tl_error_set(err, TL_ERR_INVALID,
                            "phantom of %zu columns and %zu rows: both must be at least 1", n_cols,
                            n_rows);
    double half = fmin((double)n_cols / 2.0, fmin(axis + 0.5, (double)n_cols - 0.5 - axis));
    if (!isfinite(axis) || !(half > 0.0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "rotation axis at column %g: it must lie on the detector of %zu "
                            "columns (-0.5 < axis < %g)",
                            axis, n_cols, (double)n_cols - 0.5);
    size_t n;
    switch (kind) {
    case TL_PHANTOM_SHEPP_LOGAN:
        n = 10;
        break;
    case TL_PHANTOM_ELLIPSES:
        if (n_ellipses < 1 || n_ellipses > 100000)
            return tl_error_set(err, TL_ERR_INVALID,
                                "--ellipses %zu: the number of random ellipsoids must be from 1 to "
                                "100000",
                                n_ellipses);
        n = n_ellipses;
        break;
    default:
        return tl_error_set(err, TL_ERR_INVALID,
                            "phantom kind %d: allowed are shepp-logan and ellipses", (int)kind);
    }
    tl_phantom *p = calloc(1, sizeof *p);
    if (!p)
        goto fail_nomem;
    p->e = calloc(n, sizeof *p->e);
    if (!p->e)
        goto fail_e;
    p->kind = kind;
    p->n = n;
    p->n_cols = n_cols;
    p->n_rows = n_rows;
    p->axis = axis;
    p->radius = half - fmin(3.0, half / 4.0);
    p->scale = TL_PHANTOM_ATTENUATION / p->radius;
    if (kind == TL_PHANTOM_SHEPP_LOGAN)
        shepp_logan(p->e);
    else
        random_ellipsoids(p->e, n, seed);
    for (size_t i = 0; i < n; i++) {
        p->e[i].cphi = cos(p->e[i].phi);
        p->e[i].sphi = sin(p->e[i].phi);
    }
    *out = p;
    return TL_OK;

fail_e:
    free(p);
fail_nomem:
    return tl_error_set(err, TL_ERR_NOMEM, "out of memory for a phantom of %zu ellipsoids", n);
}

tl_status tl_phantom_create_custom(size_t n_cols, size_t n_rows, double axis, double radius,
                                   const tl_ellipsoid *ellipsoids, size_t n, tl_phantom **out,
                                   tl_error *err)
{
    *out = NULL;
    if (n_cols < 1 || n_rows < 1 || n < 1 || !isfinite(axis) || !(radius > 0.0) ||
        !isfinite(radius))
        return tl_error_set(err, TL_ERR_INVALID,
                            "custom phantom of %zu ellipsoids, %zu columns, %zu rows, axis %g, "
                            "radius %g: counts must be at least 1, axis finite, radius positive",
                            n, n_cols, n_rows, axis, radius);
    for (size_t i = 0; i < n; i++) {
        const tl_ellipsoid *e = &ellipsoids[i];
        if (!(e->a > 0.0 && e->b > 0.0 && e->c > 0.0) || !isfinite(e->rho) ||
            !isfinite(e->x0) || !isfinite(e->y0) || !isfinite(e->z0) || !isfinite(e->phi_deg))
            return tl_error_set(err, TL_ERR_INVALID,
                                "custom phantom: ellipsoid %zu needs positive semi-axes and "
                                "finite values",
                                i);
    }
    tl_phantom *p = calloc(1, sizeof *p);
    if (!p)
        goto fail_nomem;
    p->e = calloc(n, sizeof *p->e);
    if (!p->e)
        goto fail_e;
    p->kind = TL_PHANTOM_ELLIPSES;
    p->n = n;
    p->n_cols = n_cols;
    p->n_rows = n_rows;
    p->axis = axis;
    p->radius = radius;
    p->scale = TL_PHANTOM_ATTENUATION / radius;
    for (size_t i = 0; i < n; i++) {
        const tl_ellipsoid *e = &ellipsoids[i];
        double phi = e->phi_deg * (TL_PI / 180.0);
        p->e[i] = (ellipsoid){.rho = e->rho, .a = e->a, .b = e->b, .c = e->c, .x0 = e->x0,
                              .y0 = e->y0, .z0 = e->z0, .phi = phi, .cphi = cos(phi),
                              .sphi = sin(phi)};
    }
    *out = p;
    return TL_OK;

fail_e:
    free(p);
fail_nomem:
    return tl_error_set(err, TL_ERR_NOMEM, "out of memory for a phantom of %zu ellipsoids", n);
}

void tl_phantom_destroy(tl_phantom **phantom)
{
    if (!phantom || !*phantom)
        return;
    free((*phantom)->e);
    free(*phantom);
    *phantom = NULL;
}

double tl_phantom_scale(const tl_phantom *phantom) { return phantom->scale; }
double tl_phantom_radius(const tl_phantom *phantom) { return phantom->radius; }

/* The ellipse that row `row` cuts from ellipsoid e, in pixels. */
typedef struct cut {
    double rho;        /* attenuation per pixel */
    double a, b;       /* semi-axes, pixels */
    double x0, y0;     /* centre, pixels (slice frame) */
    double cphi, sphi; /* cos, sin of the rotation */
} cut;

static int cut_ellipse(const tl_phantom *p, const ellipsoid *e, size_t row, cut *c)
{
    double z = (((double)row + 0.5) / (double)p->n_rows - 0.5) * TL_PHANTOM_ZSPAN;
    double dz = (z - e->z0) / e->c;
    if (!(fabs(dz) < 1.0))
        return 0;
    double k = sqrt(1.0 - dz * dz);
    double r = p->radius;
    *c = (cut){.rho = e->rho * p->scale, .a = e->a * k * r, .b = e->b * k * r,
               .x0 = e->x0 * r, .y0 = e->y0 * r, .cphi = e->cphi, .sphi = e->sphi};
    return c->a > 0.0 && c->b > 0.0;
}

/* Antiderivative of sqrt(m^2 - t^2), t clipped to [-m, m]. */
static inline double chord_integral(double t, double m, double m2)
{
    if (t <= -m)
        return -0.25 * TL_PI * m2;
    if (t >= m)
        return 0.25 * TL_PI * m2;
    double q = t / m;
    if (q > 1.0)
        q = 1.0;
    else if (q < -1.0)
        q = -1.0;
    return 0.5 * (t * sqrt(fmax(m2 - t * t, 0.0)) + m2 * asin(q));
}

/* Columns are accumulated in double in blocks of this many (on the stack). */
#define TL_PHANTOM_BLOCK 512

void tl_phantom_project_row_strided(const tl_phantom *phantom, size_t row, const double *angles_deg,
                                    size_t n_angles, float *out, size_t angle_stride)
{
    const tl_phantom *p = phantom;
    const size_t w = p->n_cols;
    double acc[TL_PHANTOM_BLOCK];
    for (size_t ia = 0; ia < n_angles; ia++) {
        const double theta = angles_deg[ia] * (TL_PI / 180.0);
        const double ct = cos(theta), st = sin(theta);
        float *dst = out + ia * angle_stride;
        for (size_t j0 = 0; j0 < w; j0 += TL_PHANTOM_BLOCK) {
            const size_t j1 = j0 + TL_PHANTOM_BLOCK < w ? j0 + TL_PHANTOM_BLOCK : w;
            memset(acc, 0, sizeof acc);
            for (size_t i = 0; i < p->n; i++) {
                /* cutting is a few flops next to the asin per column: no table */
                cut one;
                if (!cut_ellipse(p, &p->e[i], row, &one))
                    continue;
                const cut *c = &one;
                /* cos(theta - phi), sin(theta - phi) */
                double cd = ct * c->cphi + st * c->sphi;
                double sd = st * c->cphi - ct * c->sphi;
                double m2 = c->a * c->a * cd * cd + c->b * c->b * sd * sd;
                double m = sqrt(m2);
                double centre = c->x0 * ct + c->y0 * st; /* s of the ellipse centre */
                /* columns whose pixel [j - a - 1/2, j - a + 1/2] meets (centre - m, centre + m) */
                double lo = floor(centre - m + p->axis + 0.5);
                double hi = floor(centre + m + p->axis + 0.5);
                /* written so that NaN (a non-finite angle) skips the ellipse */
                if (!(hi >= (double)j0 && lo <= (double)(j1 - 1)))
                    continue;
                size_t jl = lo < (double)j0 ? j0 : (size_t)lo;
                size_t jh = hi > (double)(j1 - 1) ? j1 - 1 : (size_t)hi;
                double coef = 2.0 * c->rho * c->a * c->b / m2;
                double t = (double)jl - p->axis - 0.5 - centre;
                double f_lo = chord_integral(t, m, m2);
                for (size_t j = jl; j <= jh; j++) {
                    t = (double)j - p->axis + 0.5 - centre;
                    double f_hi = chord_integral(t, m, m2);
                    acc[j - j0] += coef * (f_hi - f_lo);
                    f_lo = f_hi;
                }
            }
            for (size_t j = j0; j < j1; j++)
                dst[j] = (float)acc[j - j0];
        }
    }
}

void tl_phantom_project_row(const tl_phantom *phantom, size_t row, const double *angles_deg,
                            size_t n_angles, float *out)
{
    tl_phantom_project_row_strided(phantom, row, angles_deg, n_angles, out, phantom->n_cols);
}

/* 4 x 4 point samples per pixel at offsets -3/8, -1/8, 1/8, 3/8: along a row
 * the samples form a grid of step 1/4 starting at x = -(N-1)/2 - 3/8, sample
 * m belonging to pixel m / 4. For each sample row y and each ellipse the
 * inside is one interval of x, so the samples it covers are counted directly
 * (no per-sample inside test). */
void tl_phantom_slice(const tl_phantom *phantom, size_t row, float *out)
{
    const tl_phantom *p = phantom;
    const size_t n = p->n_cols;
    const double centre = ((double)n - 1.0) / 2.0;
    const double x_first = -centre - 0.375; /* x of sample 0 */
    double acc[TL_PHANTOM_BLOCK];
    for (size_t r = 0; r < n; r++) {
        for (size_t c0 = 0; c0 < n; c0 += TL_PHANTOM_BLOCK) {
            const size_t c1 = c0 + TL_PHANTOM_BLOCK < n ? c0 + TL_PHANTOM_BLOCK : n;
            memset(acc, 0, sizeof acc);
            for (size_t i = 0; i < p->n; i++) {
                cut one;
                if (!cut_ellipse(p, &p->e[i], row, &one))
                    continue;
                const cut *c = &one;
                /* inside: (dx cphi + dy sphi)^2 / a^2 + (-dx sphi + dy cphi)^2 / b^2 <= 1,
                 * a quadratic alpha dx^2 + beta dx + gamma <= 0 for each sample row */
                const double ia2 = 1.0 / (c->a * c->a), ib2 = 1.0 / (c->b * c->b);
                const double alpha = c->cphi * c->cphi * ia2 + c->sphi * c->sphi * ib2;
                const double beta1 = 2.0 * c->cphi * c->sphi * (ia2 - ib2);
                const double gamma1 = c->sphi * c->sphi * ia2 + c->cphi * c->cphi * ib2;
                const double w = c->rho / 16.0;
                for (int sy = 0; sy < 4; sy++) {
                    double y = (double)r - centre + 0.25 * sy - 0.375;
                    double dy = y - c->y0;
                    double beta = beta1 * dy;
                    double gamma = gamma1 * dy * dy - 1.0;
                    double disc = beta * beta - 4.0 * alpha * gamma;
                    if (!(disc > 0.0))
                        continue;
                    double sq = sqrt(disc);
                    double xl = c->x0 + (-beta - sq) / (2.0 * alpha);
                    double xr = c->x0 + (-beta + sq) / (2.0 * alpha);
                    double ml = ceil((xl - x_first) * 4.0);
                    double mr = floor((xr - x_first) * 4.0);
                    double m_min = 4.0 * (double)c0, m_max = 4.0 * (double)c1 - 1.0;
                    if (ml < m_min)
                        ml = m_min;
                    if (mr > m_max)
                        mr = m_max;
                    if (ml > mr)
                        continue;
                    for (size_t m = (size_t)ml; m <= (size_t)mr; m++)
                        acc[m / 4 - c0] += w;
                }
            }
            for (size_t c = c0; c < c1; c++)
                out[r * n + c] = (float)acc[c - c0];
        }
    }
}
