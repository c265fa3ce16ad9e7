/* sim.c - write a simulated raw scan (and its ground truth) the way a beamline would.
 *
 * Physics. A detector pixel (row k, column j) counts
 *     dark:        D = 100 + d(k, j)                          (+ read noise)
 *     flat:        F = I0 g(k, j) + D                          (Poisson on I0 g)
 *     projection:  P = I0 g(k, j) (1 + e(k, j)) exp(-p) + D    (Poisson on the first term)
 * where p is the exact pixel-averaged line integral of the phantom (phantom.c),
 * I0 = --photons (10000 when --photons is 0, the noise-free case), d is a fixed
 * per-pixel dark offset uniform in [-5, 5], g = 1 + 0.05 s(k, j) a smooth gain
 * (s, a sum of low-order cosines, |s| <= 1) that the flats capture, and e an
 * uncaptured gain error: N(0, --gain-error) per pixel plus +-(--defect-strength)
 * on every row of --defective-columns distinct seeded columns. e is what makes
 * rings after flat-field correction; 1 + e is kept >= 0.05 (no pixel responds
 * negatively). With noise (--photons > 0) every frame draws its own Poisson
 * counts and Gaussian read noise of standard deviation 2 counts; without noise
 * every value is exact, so (P - D) / (F - D) = exp(-p) to float precision when
 * --gain-error is 0.
 *
 * Attenuation scale. Phantom densities become attenuation per pixel through
 * the factor 2.7 / R (R the phantom radius in pixels, see phantom.c), so the
 * largest line integral of the Shepp-Logan head is about 1.5 at every size.
 *
 * Angles. Projection i is at arc * i / n_angles degrees (the last angle of the
 * arc excluded, so 360 degrees does not repeat 0).
 *
 * Double field of view (--double-fov). A 360-degree scan of a sample wider
 * than the detector, the axis near one edge: the phantom is made for a virtual
 * detector as wide as the 180-degree sinogram stitched from the scan
 * (kernels/stitch.h), whose column j + shift is detector column j, so the
 * detector records exact pixel-averaged line integrals of a part of each
 * projection, and the truth is that width square.
 *
 * Phase contrast (--propagation-distance > 0, issue 10). The phantom is one
 * material of the given delta/beta; each projection's line integrals p (the
 * absorption part, as above) make the exit wave exp(-(1 + i delta/beta) p / 2),
 * which is propagated to the detector by the Fresnel transfer function
 * exp(-i pi lambda z |f|^2) on a padded grid (kernels/fresnel.h: open beam past
 * the left and right edges, mirror images past the first and last rows), and
 * the detector sees |psi_z|^2 in place of exp(-p): edges get bright and dark
 * fringes. Rows are 0.5 R / slices column pixels apart (phantom.c's z), so
 * pixels are square only when --slices is R/2 (R = W/2 - 3 for a centred axis,
 * e.g. --size 130 --slices 31); the propagation uses the true pitch, Paganin's
 * filter in recon assumes square pixels. The whole frame is needed, so the
 * slab is every row. Bright fringes may exceed the flat: uint16 scans are
 * checked against 1.5 x the flat counts.
 *
 * Zingers (--zingers F). Every frame (dark, flat, projection) gets zingers at
 * a fraction F of its pixels, drawn from their own stream per row (geometric
 * gaps), each adding (1 + u) I0 counts, u uniform in [0, 1): what a dezinger
 * must remove. tl_sim_params.counts returns how many went into each kind.
 *
 * Beam drift (--beam-drift d). The beam intensity of frame k (darks, flats,
 * projections in acquisition order, n frames) is m_k = 1 + d sin(2 pi 2.5
 * (k + 1/2) / n), scaling the open-beam signal of flats and projections (not
 * the darks); 1e5 m_k is written per frame to /entry/control/data (NXmonitor,
 * NXtomo only), where --beam-normalization finds it. The scan is committed to
 * NAME.partial first and renamed to NAME once the monitor is in it.
 *
 * Reproducibility. Every random number comes from a generator derived from
 * (--seed, purpose, detector row) (rng.h): the phantom, the defective columns,
 * the per-pixel maps (dark offsets, gain errors) and the noise each have their
 * own stream, so the same seed gives the same bytes whatever the number of
 * threads or the slab size, and the gain errors do not change with --photons.
 *
 * Memory. Rows are simulated in slabs of max(8, threads) rows: buffers of
 * (angles + flats + darks) x slab x W floats, plus slab x W x W floats of
 * truth. Rows of a slab are computed in parallel (tl_workers_run), then the
 * slab goes to tl_scan_writer_put / tl_volume_writer_write from this thread.
 * Both outputs are written as NAME.partial; any error aborts both, so no
 * partial or half-written file is left.
 */
#define _POSIX_C_SOURCE 200809L
#include "sim.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fresnel.h"
#include "hdf5_util.h"
#include "log.h"
#include "paganin.h" /* TL_HC_KEV_M */
#include "phantom_internal.h"
#include "rng.h"
#include "scan_write.h"
#include "version.h"
#include "volume.h"

#define TL_SIM_PI 3.14159265358979323846

/* Streams of tl_rng_seed_stream() (the phantom uses its own, in phantom.c). */
enum { TL_SIM_STREAM_DEFECTS = 0x51a1, TL_SIM_STREAM_MAPS = 0x51a2, TL_SIM_STREAM_NOISE = 0x51a3 };
enum { TL_SIM_STREAM_ZINGERS = 0x51a4 }; /* issue 10 */
#define TL_SIM_MONITOR_SCALE 1e5   /* /entry/control/data of a frame at the mean intensity */
#define TL_SIM_FRINGE_HEADROOM 1.5 /* phase contrast: brightest fringe over the flat, for the uint16 check */

#define TL_SIM_I0_NOISE_FREE 10000.0 /* flat counts when --photons is 0 */
#define TL_SIM_DARK_LEVEL 100.0      /* dark counts */
#define TL_SIM_DARK_SPREAD 5.0       /* per-pixel dark offset in [-5, 5] */
#define TL_SIM_READ_NOISE 2.0        /* standard deviation of the read noise (counts) */
#define TL_SIM_GAIN_SMOOTH 0.05      /* amplitude of the captured smooth gain */
#define TL_SIM_MIN_RESPONSE 0.05     /* floor of 1 + e */
#define TL_SIM_SLAB_ROWS 8

void tl_sim_params_default(tl_sim_params *p)
{
    memset(p, 0, sizeof *p);
    p->size = 256;
    p->angles = 360;
    p->slices = 16;
    p->arc_deg = 180.0;
    p->axis_offset = 0.0;
    p->phantom = TL_PHANTOM_SHEPP_LOGAN;
    p->n_ellipses = 12;
    p->seed = 1;
    p->photons = 0.0;
    p->gain_error = 0.0;
    p->defective_columns = 0;
    p->defect_strength = 0.1;
    p->n_flat = 10;
    p->n_dark = 10;
    p->layout = TL_LAYOUT_NXTOMO;
    p->pixel_type = -1;
    p->overwrite = 0;
    p->delta_beta = 100.0;
}

static const char *phantom_name(tl_phantom_kind kind)
{
    return kind == TL_PHANTOM_ELLIPSES ? "ellipses" : "shepp-logan";
}

/* --double-fov: a 360-degree scan with the axis within a third of the width
 * of one edge (the range kernels/stitch.h accepts). */
static tl_status validate_double_fov(const tl_sim_params *p, tl_error *err)
{
    if (p->arc_deg != 360.0)
        return tl_error_set(err, TL_ERR_INVALID, "--double-fov needs --arc 360 (a 360-degree scan; --arc is %g)",
                            p->arc_deg);
    const double last = (double)p->size - 1.0, centre = 0.5 * last, axis = centre + p->axis_offset;
    const double llo = 1.0, lhi = last / 3.0, rlo = last - lhi, rhi = last - 1.0;
    if (!((axis >= llo && axis <= lhi) || (axis >= rlo && axis <= rhi)))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--axis-offset %.15g: with --double-fov the axis (column %.15g) must lie within a third "
                            "of the width of one edge (allowed offsets: %.15g to %.15g or %.15g to %.15g)",
                            p->axis_offset, axis, llo - centre, lhi - centre, rlo - centre, rhi - centre);
    return TL_OK;
}

/* --double-fov: the stitched geometry of kernels/stitch.h (tl_stitch_layout_for),
 * repeated here because acquire/ does not link kernels/ (test_double_fov checks
 * that the two agree): detector column j is column j + shift of the stitched
 * sinogram, which is `width` wide. */
static void double_fov_layout(size_t w, double axis, size_t *shift, size_t *width)
{
    if (axis < 0.5 * ((double)w - 1.0)) {
        *shift = (size_t)llround((double)w - 1.0 - 2.0 * axis);
        *width = w + *shift;
    } else {
        *shift = 0;
        *width = w + (size_t)llround(2.0 * axis - (double)w + 1.0);
    }
}

/* Issue 10: phase contrast, zingers and beam drift. */
static tl_status validate_preprocess_inputs(const tl_sim_params *p, tl_error *err)
{
    if (!(p->distance_mm >= 0.0 && p->distance_mm <= 1e9))
        return tl_error_set(err, TL_ERR_INVALID, "--propagation-distance %.15g: must be from 0 (no phase contrast) "
                            "to 1e9 mm", p->distance_mm);
    if (p->distance_mm > 0.0) {
        if (!(p->energy_kev > 0.0 && p->energy_kev <= 10000.0))
            return tl_error_set(err, TL_ERR_INVALID, "--propagation-distance %.15g: phase contrast needs --energy "
                                "(the X-ray energy in keV, more than 0)", p->distance_mm);
        if (!(p->pixel_size_um > 0.0 && p->pixel_size_um <= 1e9))
            return tl_error_set(err, TL_ERR_INVALID, "--propagation-distance %.15g: phase contrast needs --pixel-size "
                                "(the detector pixel in micrometres, more than 0)", p->distance_mm);
        if (!(p->delta_beta > 0.0 && p->delta_beta <= 1e9))
            return tl_error_set(err, TL_ERR_INVALID, "--delta-beta %.15g: phase contrast needs delta/beta of the "
                                "material, more than 0 (e.g. 100 to 1000)", p->delta_beta);
        if (p->double_fov)
            return tl_error_set(err, TL_ERR_INVALID, "--propagation-distance %.15g: phase contrast cannot be "
                                "simulated with --double-fov", p->distance_mm);
    }
    if (!(p->zingers >= 0.0 && p->zingers <= 0.01))
        return tl_error_set(err, TL_ERR_INVALID, "--zingers %.15g: must be from 0 to 0.01 (a fraction of the pixels "
                            "of each frame)", p->zingers);
    if (!(p->beam_drift >= 0.0 && p->beam_drift <= 0.5))
        return tl_error_set(err, TL_ERR_INVALID, "--beam-drift %.15g: must be from 0 to 0.5", p->beam_drift);
    if (p->beam_drift > 0.0 && p->layout != TL_LAYOUT_NXTOMO)
        return tl_error_set(err, TL_ERR_INVALID, "--beam-drift %.15g: the per-frame beam monitor is written in the "
                            "NXtomo layout only (ENTRY/control/data); Data Exchange defines no such dataset",
                            p->beam_drift);
    return TL_OK;
}

/* Checks that need no file. The ranges are those of the [sim] table in
 * config/params.def, repeated because library callers bypass the CLI. */
static tl_status validate(const tl_sim_params *p, tl_error *err)
{
    if (p->size < 8 || p->size > 16384)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--size %zu: the detector width must be from 8 to 16384 pixels",
                            p->size);
    if (p->angles < 2 || p->angles > 100000)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--angles %zu: the number of projections must be from 2 to 100000",
                            p->angles);
    if (p->slices < 1 || p->slices > 16384)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--slices %zu: the number of detector rows must be from 1 to 16384",
                            p->slices);
    if (!(p->arc_deg > 0.0 && p->arc_deg <= 360.0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--arc %.15g: the rotation range must be more than 0 and at most 360 "
                            "degrees (usually 180 or 360)",
                            p->arc_deg);
    double quarter = (double)p->size / 4.0;
    if (p->double_fov) {
        tl_status st = validate_double_fov(p, err);
        if (st != TL_OK)
            return st;
    } else if (!(fabs(p->axis_offset) < quarter))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--axis-offset %.15g: the axis must stay within W/4 = %.15g pixels "
                            "of the detector centre",
                            p->axis_offset, quarter);
    if (p->phantom != TL_PHANTOM_SHEPP_LOGAN && p->phantom != TL_PHANTOM_ELLIPSES)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--phantom %d: allowed are shepp-logan and ellipses", (int)p->phantom);
    if (p->phantom == TL_PHANTOM_ELLIPSES && (p->n_ellipses < 1 || p->n_ellipses > 1000))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--ellipses %zu: the number of random ellipsoids must be from 1 to "
                            "1000",
                            p->n_ellipses);
    if (!(p->photons >= 0.0 && p->photons <= 1e9))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--photons %.15g: must be from 0 (noise-free) to 1e9", p->photons);
    if (!(p->gain_error >= 0.0 && p->gain_error <= 0.5))
        return tl_error_set(err, TL_ERR_INVALID, "--gain-error %.15g: must be from 0 to 0.5",
                            p->gain_error);
    if (p->defective_columns > p->size)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--defective-columns %zu: the detector has only %zu columns",
                            p->defective_columns, p->size);
    if (!(p->defect_strength >= 0.0 && p->defect_strength <= 0.9))
        return tl_error_set(err, TL_ERR_INVALID, "--defect-strength %.15g: must be from 0 to 0.9",
                            p->defect_strength);
    if (p->n_flat > 100000)
        return tl_error_set(err, TL_ERR_INVALID, "--flats %zu: must be from 0 to 100000",
                            p->n_flat);
    if (p->n_dark > 100000)
        return tl_error_set(err, TL_ERR_INVALID, "--darks %zu: must be from 0 to 100000",
                            p->n_dark);
    if (p->layout != TL_LAYOUT_NXTOMO && p->layout != TL_LAYOUT_DXCHANGE)
        return tl_error_set(err, TL_ERR_INVALID, "--layout %d: allowed are nxtomo and dxchange",
                            (int)p->layout);
    if (p->pixel_type != -1 && p->pixel_type != TL_PIXEL_UINT16 &&
        p->pixel_type != TL_PIXEL_FLOAT32)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--pixel-type %d: allowed are auto, uint16 and float32", p->pixel_type);
    return validate_preprocess_inputs(p, err);
}

static tl_pixel_type resolve_pixel_type(const tl_sim_params *p)
{
    if (p->pixel_type == -1)
        return p->photons > 0.0 ? TL_PIXEL_UINT16 : TL_PIXEL_FLOAT32;
    return (tl_pixel_type)p->pixel_type;
}

static double flat_counts(const tl_sim_params *p)
{
    return p->photons > 0.0 ? p->photons : TL_SIM_I0_NOISE_FREE;
}

/* uint16 holds at most 65535 counts: refuse settings whose bright pixels would
 * be clipped rather than write a silently saturated scan. The bound is the
 * brightest expected value plus five standard deviations of its noise. */
static tl_status check_range(const tl_sim_params *p, tl_pixel_type type, tl_error *err)
{
    if (type != TL_PIXEL_UINT16)
        return TL_OK;
    double i0 = flat_counts(p);
    double response = 1.0 + 5.0 * p->gain_error + (p->defective_columns ? p->defect_strength : 0.0);
    double top = i0 * (1.0 + TL_SIM_GAIN_SMOOTH) * response * (1.0 + p->beam_drift) *
                 (p->distance_mm > 0.0 ? TL_SIM_FRINGE_HEADROOM : 1.0);
    double peak = top + TL_SIM_DARK_LEVEL + TL_SIM_DARK_SPREAD +
                  5.0 * sqrt(top + TL_SIM_READ_NOISE * TL_SIM_READ_NOISE);
    if (peak > 65535.0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--photons %.15g: bright pixels would reach about %.0f counts, more "
                            "than uint16 pixels hold (65535); lower --photons or use --pixel-type "
                            "float32",
                            p->photons, peak);
    return TL_OK;
}

/* The captured smooth gain: low-order cosines in detector coordinates scaled
 * by the width (pixels are square), so the pattern does not depend on the
 * number of rows; |s| <= 0.5 + 0.3 + 0.2 = 1. */
static double smooth_gain(size_t row, size_t col, size_t width)
{
    const double u = (double)col / (double)width, v = (double)row / (double)width;
    const double two_pi = 2.0 * TL_SIM_PI;
    double s = 0.5 * cos(two_pi * (1.3 * u + 0.10)) + 0.3 * cos(two_pi * (0.7 * v + 0.35)) +
               0.2 * cos(two_pi * (2.1 * u + 1.1 * v + 0.60));
    return 1.0 + TL_SIM_GAIN_SMOOTH * s;
}

/* Everything a row task reads (shared, read-only) and its slab buffers
 * (each row task writes only its own row of them). */
typedef struct sim_job {
    const tl_sim_params *p;
    const tl_phantom *phantom;
    const double *angles;     /* [n_angles] */
    const double *col_defect; /* [W] signed defect of each column (0 for most) */
    double i0;
    int noisy;
    size_t row_first;         /* detector row of slab row 0 */
    size_t slab;              /* rows in this slab */
    float *proj;              /* [angles][slab][W] */
    float *flat;              /* [n_flat][slab][W] */
    float *dark;              /* [n_dark][slab][W] */
    float *truth;             /* [slab][N][N] or NULL (N = W, or the stitched width with --double-fov) */
    size_t n_truth;           /* N */
    size_t fov_shift;         /* --double-fov: detector column j is column j + fov_shift of the phantom's */
    float *wide;              /* --double-fov: [slab][angles][N] projections onto the stitched width, else NULL */
    double *gain;             /* [slab][W]: I0 g, the mean flat signal */
    double *response;         /* [slab][W]: I0 g (1 + e), mean open-beam signal of projections */
    double *offset;           /* [slab][W]: mean dark */
    const double *beam;       /* --beam-drift: [n_dark + n_flat + angles] relative intensity per frame, else NULL */
    int have_integrals;       /* phase contrast: proj already holds -log of the propagated intensity */
    size_t *zingers;          /* --zingers: [slab][3] injected in darks, flats, projections of each row */
} sim_job;

/* --zingers: bright outliers in the frames of one detector row, from the row's
 * own stream; frames of a kind are `slab` rows of W apart. Counts go to
 * counts[0..2] (darks, flats, projections). */
static void inject_zingers(const tl_sim_params *p, size_t row, double i0, size_t slab, float *dark, float *flat,
                           float *proj, size_t *counts)
{
    const size_t w = p->size, stride = slab * w;
    float *const base[3] = {dark, flat, proj};
    const size_t frames[3] = {p->n_dark, p->n_flat, p->angles};
    const double log_miss = log1p(-p->zingers);
    tl_rng rng;
    tl_rng_seed_stream(&rng, p->seed, TL_SIM_STREAM_ZINGERS, row);
    for (int k = 0; k < 3; k++) {
        counts[k] = 0;
        const size_t total = frames[k] * w;
        for (size_t at = 0;;) {
            /* the gap to the next hit is geometric: floor(log(u) / log(1 - F)) */
            double gap = floor(log(1.0 - tl_rng_uniform(&rng)) / log_miss);
            if (!(gap < (double)(total - at)))
                break;
            at += (size_t)gap;
            base[k][(at / w) * stride + at % w] += (float)(i0 * (1.0 + tl_rng_uniform(&rng)));
            counts[k]++;
            at++;
        }
    }
}

/* Simulate detector row row_first + i, entirely from its own generators. */
static void sim_row(sim_job *job, size_t i)
{
    const tl_sim_params *p = job->p;
    const size_t w = p->size, slab = job->slab;
    const size_t row = job->row_first + i;
    double *gain = job->gain + i * w;
    double *response = job->response + i * w;
    double *offset = job->offset + i * w;

    /* fixed per-pixel maps: dark offsets first, then gain errors, always in
     * this order so one does not shift the other */
    tl_rng maps;
    tl_rng_seed_stream(&maps, p->seed, TL_SIM_STREAM_MAPS, row);
    for (size_t j = 0; j < w; j++)
        offset[j] = TL_SIM_DARK_LEVEL + TL_SIM_DARK_SPREAD * (2.0 * tl_rng_uniform(&maps) - 1.0);
    for (size_t j = 0; j < w; j++) {
        double e = job->col_defect[j];
        if (p->gain_error > 0.0)
            e += p->gain_error * tl_rng_normal(&maps);
        double g = job->i0 * smooth_gain(row, j, w);
        gain[j] = g;
        response[j] = g * fmax(1.0 + e, TL_SIM_MIN_RESPONSE);
    }

    tl_rng noise;
    tl_rng_seed_stream(&noise, p->seed, TL_SIM_STREAM_NOISE, row);
    for (size_t f = 0; f < p->n_dark; f++) {
        float *dst = job->dark + (f * slab + i) * w;
        for (size_t j = 0; j < w; j++) {
            double v = offset[j];
            if (job->noisy)
                v += TL_SIM_READ_NOISE * tl_rng_normal(&noise);
            dst[j] = (float)v;
        }
    }
    for (size_t f = 0; f < p->n_flat; f++) {
        float *dst = job->flat + (f * slab + i) * w;
        for (size_t j = 0; j < w; j++) {
            double v;
            const double open = gain[j] * (job->beam ? job->beam[p->n_dark + f] : 1.0);
            if (job->noisy)
                v = tl_rng_poisson(&noise, open) + offset[j] +
                    TL_SIM_READ_NOISE * tl_rng_normal(&noise);
            else
                v = open + offset[j];
            dst[j] = (float)v;
        }
    }
    /* line integrals straight into the slab, then turned into counts in place */
    float *proj = job->proj + i * w;
    const size_t stride = slab * w;
    if (job->wide) { /* --double-fov: the stitched width, of which the detector sees W columns */
        float *wide = job->wide + i * p->angles * job->n_truth;
        tl_phantom_project_row(job->phantom, row, job->angles, p->angles, wide);
        for (size_t a = 0; a < p->angles; a++)
            memcpy(proj + a * stride, wide + a * job->n_truth + job->fov_shift, w * sizeof *proj);
    } else if (!job->have_integrals) { /* phase contrast: filled for the slab (sim_phase_contrast) */
        tl_phantom_project_row_strided(job->phantom, row, job->angles, p->angles, proj, stride);
    }
    for (size_t a = 0; a < p->angles; a++) {
        float *dst = proj + a * stride;
        for (size_t j = 0; j < w; j++) {
            double mean = response[j] * exp(-(double)dst[j]) *
                          (job->beam ? job->beam[p->n_dark + p->n_flat + a] : 1.0);
            double v;
            if (job->noisy)
                v = tl_rng_poisson(&noise, mean) + offset[j] +
                    TL_SIM_READ_NOISE * tl_rng_normal(&noise);
            else
                v = mean + offset[j];
            dst[j] = (float)v;
        }
    }
    if (p->zingers > 0.0)
        inject_zingers(p, row, job->i0, slab, job->dark + i * w, job->flat + i * w, proj, job->zingers + 3 * i);
    if (job->truth)
        tl_phantom_slice(job->phantom, row, job->truth + i * job->n_truth * job->n_truth);
}

static void sim_rows(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    for (size_t i = begin; i < end; i++)
        sim_row(ctx, i);
}

/* Distinct defective columns with random signs, from their own stream: a
 * partial Fisher-Yates shuffle of the column indices. */
static tl_status pick_defects(const tl_sim_params *p, double *col_defect, tl_error *err)
{
    const size_t w = p->size;
    for (size_t j = 0; j < w; j++)
        col_defect[j] = 0.0;
    if (p->defective_columns == 0)
        return TL_OK;
    size_t *order = malloc(w * sizeof *order);
    if (!order)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory choosing %zu defective columns",
                            p->defective_columns);
    for (size_t j = 0; j < w; j++)
        order[j] = j;
    tl_rng rng;
    tl_rng_seed_stream(&rng, p->seed, TL_SIM_STREAM_DEFECTS, 0);
    for (size_t k = 0; k < p->defective_columns; k++) {
        size_t pick = k + (size_t)tl_rng_below(&rng, w - k);
        size_t t = order[k];
        order[k] = order[pick];
        order[pick] = t;
        double sign = (tl_rng_next(&rng) >> 63) ? 1.0 : -1.0;
        col_defect[order[k]] = sign * p->defect_strength;
    }
    free(order);
    return TL_OK;
}

/* n floats, refusing products that overflow (huge --angles x --size). */
static float *alloc_floats(size_t a, size_t b, size_t c, size_t *bytes)
{
    double n = (double)a * (double)b * (double)c;
    if (n * sizeof(float) > (double)(SIZE_MAX / 2))
        return NULL;
    size_t count = a * b * c;
    *bytes += count * sizeof(float);
    return malloc(count ? count * sizeof(float) : 1);
}

/* The parameters as the names and values that go into the truth file's
 * provenance (flag names of config/params.def). */
enum { N_SIM_PARAMS = 23, PARAM_TEXT = 48 };

static void describe_params(const tl_sim_params *p, tl_pixel_type type, const char **names,
                            const char **sections, char values[][PARAM_TEXT], char *ini,
                            size_t ini_size)
{
    static const char *const flag_names[N_SIM_PARAMS] = {
        "size",    "angles",     "slices",            "arc",
        "axis-offset", "phantom", "ellipses",          "seed",
        "photons", "gain-error", "defective-columns", "defect-strength",
        "flats",   "darks",      "layout",            "pixel-type",
        "double-fov",
        "delta-beta", "zingers", "beam-drift", "propagation-distance", "energy", "pixel-size"};
    int k = 0;
    snprintf(values[k++], PARAM_TEXT, "%zu", p->size);
    snprintf(values[k++], PARAM_TEXT, "%zu", p->angles);
    snprintf(values[k++], PARAM_TEXT, "%zu", p->slices);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->arc_deg);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->axis_offset);
    snprintf(values[k++], PARAM_TEXT, "%s", phantom_name(p->phantom));
    snprintf(values[k++], PARAM_TEXT, "%zu", p->n_ellipses);
    snprintf(values[k++], PARAM_TEXT, "%llu", (unsigned long long)p->seed);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->photons);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->gain_error);
    snprintf(values[k++], PARAM_TEXT, "%zu", p->defective_columns);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->defect_strength);
    snprintf(values[k++], PARAM_TEXT, "%zu", p->n_flat);
    snprintf(values[k++], PARAM_TEXT, "%zu", p->n_dark);
    snprintf(values[k++], PARAM_TEXT, "%s",
             p->layout == TL_LAYOUT_DXCHANGE ? "dxchange" : "nxtomo");
    snprintf(values[k++], PARAM_TEXT, "%s", type == TL_PIXEL_UINT16 ? "uint16" : "float32");
    snprintf(values[k++], PARAM_TEXT, "%s", p->double_fov ? "true" : "false");
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->delta_beta);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->zingers);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->beam_drift);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->distance_mm);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->energy_kev);
    snprintf(values[k++], PARAM_TEXT, "%.17g", p->pixel_size_um);
    size_t used = (size_t)snprintf(ini, ini_size, "[sim]\n");
    for (int i = 0; i < N_SIM_PARAMS; i++) {
        names[i] = flag_names[i];
        sections[i] = i >= N_SIM_PARAMS - 3 ? "recon" : "sim"; /* distance, energy, pixel size: shared with recon */
        if (i == N_SIM_PARAMS - 3 && used < ini_size)
            used += (size_t)snprintf(ini + used, ini_size - used, "[recon]\n");
        if (used < ini_size)
            used += (size_t)snprintf(ini + used, ini_size - used, "%s = %s\n", flag_names[i],
                                     values[i]);
    }
}

static tl_status finish_truth(tl_volume_writer *vw, const tl_sim_params *p, tl_pixel_type type,
                              double axis, double seconds, tl_error *err)
{
    const char *names[N_SIM_PARAMS], *sections[N_SIM_PARAMS], *values_ptr[N_SIM_PARAMS];
    char values[N_SIM_PARAMS][PARAM_TEXT];
    char ini[2048];
    describe_params(p, type, names, sections, values, ini, sizeof ini);
    for (int i = 0; i < N_SIM_PARAMS; i++)
        values_ptr[i] = values[i];
    char date[32] = "";
    time_t now = time(NULL);
    struct tm tm_utc;
    if (gmtime_r(&now, &tm_utc))
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
    char host[256] = "unknown";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    const char *stage_names[1] = {"simulate"};
    const double stage_seconds[1] = {seconds};
    tl_provenance prov = {
        .program = "tomoline sim",
        .version = tl_version(),
        .git_revision = tl_git_revision(),
        .date = date,
        .host = host,
        .backend = "cpu",
        .input_file = NULL,
        .rotation_axis = axis,
        .rotation_axis_method = "simulated",
        .n_params = N_SIM_PARAMS,
        .param_names = names,
        .param_sections = sections,
        .param_values = values_ptr,
        .config_ini = ini,
        .n_stages = 1,
        .stage_names = stage_names,
        .stage_seconds = stage_seconds,
    };
    return tl_volume_writer_set_provenance(vw, &prov, err);
}

/* ---- issue 10: phase contrast, zingers, beam drift ---------------------------------------- */

typedef struct sim_extras {
    tl_fresnel_plan *fresnel; /* phase contrast, else NULL */
    float **frames;           /* per thread [slices][W]: one projection's line integrals, then intensity */
    int n_threads;
    double *beam;             /* --beam-drift: [n_dark + n_flat + angles], else NULL */
    size_t n_beam;
    char *partial;            /* --beam-drift: NAME.partial, where the scan is committed first */
    size_t *zingers;          /* --zingers: [slab][3] */
    size_t injected[3];       /* darks, flats, projections */
} sim_extras;

static void sim_extras_free(sim_extras *ex)
{
    tl_fresnel_plan_destroy(&ex->fresnel);
    for (int t = 0; ex->frames && t < ex->n_threads; t++)
        free(ex->frames[t]);
    free(ex->frames);
    free(ex->beam);
    if (ex->partial)
        unlink(ex->partial); /* a scan committed there but not renamed: never left behind */
    free(ex->partial);
    free(ex->zingers);
    memset(ex, 0, sizeof *ex);
}

static tl_status sim_extras_setup(sim_extras *ex, const tl_sim_params *p, const tl_phantom *phantom,
                                  const char *scan_path, size_t slab_rows, tl_workers *workers, tl_error *err)
{
    if (p->distance_mm > 0.0) {
        double dx = p->pixel_size_um * 1e-6;
        double fresnel = TL_HC_KEV_M / p->energy_kev * p->distance_mm * 1e-3 / (dx * dx);
        double pitch = 0.5 * tl_phantom_radius(phantom) / (double)p->slices;
        tl_status st = tl_fresnel_plan_create(p->slices, p->size, fresnel, pitch, p->delta_beta, workers,
                                              &ex->fresnel, err);
        if (st != TL_OK)
            return st;
        ex->n_threads = tl_workers_count(workers);
        ex->frames = calloc((size_t)ex->n_threads, sizeof *ex->frames);
        for (int t = 0; ex->frames && t < ex->n_threads; t++)
            if (!(ex->frames[t] = malloc(p->slices * p->size * sizeof(float))))
                return tl_error_set(err, TL_ERR_NOMEM, "sim: out of memory for the phase-contrast frames");
        if (!ex->frames)
            return tl_error_set(err, TL_ERR_NOMEM, "sim: out of memory for the phase-contrast frames");
        tl_log_info("sim: phase contrast: delta/beta %g, %g keV, %g mm, %g um pixels: lambda z / pixel^2 = %.4g; "
                    "rows %.4g pixels apart%s",
                    p->delta_beta, p->energy_kev, p->distance_mm, p->pixel_size_um, fresnel, pitch,
                    fabs(pitch - 1.0) > 0.05 ? " (not square: Paganin's filter assumes square pixels)" : "");
    }
    if (p->zingers > 0.0 && !(ex->zingers = calloc(3 * slab_rows, sizeof *ex->zingers)))
        return tl_error_set(err, TL_ERR_NOMEM, "sim: out of memory");
    if (p->beam_drift > 0.0) {
        ex->n_beam = p->n_dark + p->n_flat + p->angles;
        if (!(ex->beam = malloc(ex->n_beam * sizeof *ex->beam)))
            return tl_error_set(err, TL_ERR_NOMEM, "sim: out of memory");
        for (size_t k = 0; k < ex->n_beam; k++)
            ex->beam[k] = 1.0 + p->beam_drift * sin(2.0 * TL_SIM_PI * 2.5 * ((double)k + 0.5) / (double)ex->n_beam);
        /* the writer commits to NAME.partial; NAME itself is checked here as the writer would */
        struct stat sb;
        if (stat(scan_path, &sb) == 0 && (S_ISDIR(sb.st_mode) || !p->overwrite))
            return tl_error_set(err, S_ISDIR(sb.st_mode) ? TL_ERR_INVALID : TL_ERR_EXISTS,
                                S_ISDIR(sb.st_mode) ? "'%s' is a directory, expected an output file name"
                                                    : "'%s' already exists (use --overwrite to replace it)",
                                scan_path);
        size_t n = strlen(scan_path) + sizeof ".partial";
        if (!(ex->partial = malloc(n)))
            return tl_error_set(err, TL_ERR_NOMEM, "sim: out of memory");
        snprintf(ex->partial, n, "%s.partial", scan_path);
    }
    return TL_OK;
}

typedef struct {
    sim_extras *ex;
    const tl_phantom *phantom;
    const double *angles;
    size_t slices, w, slab;
    float *proj; /* [angles][slab][W] */
} phase_job;

static void phase_angles(void *ctx, size_t begin, size_t end, int thread)
{
    phase_job *j = ctx;
    float *frame = j->ex->frames[thread];
    for (size_t a = begin; a < end; a++) {
        for (size_t r = 0; r < j->slices; r++)
            tl_phantom_project_row(j->phantom, r, j->angles + a, 1, frame + r * j->w);
        tl_fresnel_exec(j->ex->fresnel, frame, frame, thread);
        /* -log of the intensity: sim_row turns it back into counts as exp(-x) */
        for (size_t r = 0; r < j->slices; r++)
            for (size_t c = 0; c < j->w; c++)
                j->proj[(a * j->slab + r) * j->w + c] = (float)-log(fmax((double)frame[r * j->w + c], 1e-30));
    }
}

/* Phase contrast: every projection's intensity after propagation, for the
 * slab (every row), as -log into proj[angles][slab][W]. */
static void sim_phase_contrast(sim_extras *ex, const tl_phantom *phantom, const double *angles, size_t n_angles,
                               size_t w, size_t slab, float *proj, tl_workers *workers)
{
    phase_job j = {.ex = ex, .phantom = phantom, .angles = angles, .slices = slab, .w = w, .slab = slab,
                   .proj = proj};
    tl_workers_run(workers, n_angles, 1, phase_angles, &j);
}

/* --beam-drift: /entry/control/data (NXmonitor) into the committed
 * NAME.partial, then the rename to NAME. */
static tl_status sim_add_monitor(sim_extras *ex, const tl_sim_params *p, const char *scan_path, tl_error *err)
{
    (void)p;
    tl_status st = TL_OK;
    double *values = malloc(ex->n_beam * sizeof *values);
    if (!values)
        return tl_error_set(err, TL_ERR_NOMEM, "sim: out of memory");
    for (size_t k = 0; k < ex->n_beam; k++)
        values[k] = TL_SIM_MONITOR_SCALE * ex->beam[k];
    tl_h5_quiet();
    hid_t file = H5Fopen(ex->partial, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t control = H5I_INVALID_HID;
    if (file < 0)
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot reopen the scan to add its beam monitor", ex->partial);
    if (st == TL_OK &&
        (control = tl_h5_create_group(file, "/entry/control", "NXmonitor", ex->partial, "/entry/control", err)) < 0)
        st = err && err->status != TL_OK ? err->status : TL_ERR_IO;
    if (st == TL_OK)
        st = tl_h5_write_double_dataset(control, "data", values, ex->n_beam, ex->partial, "/entry/control", err);
    if (control >= 0)
        H5Gclose(control);
    if (file >= 0 && H5Fclose(file) < 0 && st == TL_OK)
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot finish writing the beam monitor", ex->partial);
    free(values);
    if (st == TL_OK && rename(ex->partial, scan_path) != 0)
        st = tl_error_set(err, TL_ERR_IO, "cannot rename '%s' to '%s': %s", ex->partial, scan_path, strerror(errno));
    return st; /* on failure sim_extras_free removes NAME.partial */
}

tl_status tl_sim_write(const tl_sim_params *p, const char *scan_path, const char *truth_path,
                       tl_workers *workers, tl_error *err)
{
    tl_status st = validate(p, err);
    if (st != TL_OK)
        return st;
    if (!scan_path || !*scan_path)
        return tl_error_set(err, TL_ERR_INVALID, "--out-path-name: an output file name is needed");
    const tl_pixel_type type = resolve_pixel_type(p);
    st = check_range(p, type, err);
    if (st != TL_OK)
        return st;

    const double t_start = tl_now();
    const size_t w = p->size;
    const double axis = ((double)w - 1.0) / 2.0 + p->axis_offset;
    size_t fov_shift = 0, n_truth = w; /* the phantom's detector and the truth's grid */
    if (p->double_fov)
        double_fov_layout(w, axis, &fov_shift, &n_truth);
    int threads = tl_workers_count(workers);
    size_t slab_rows = threads > TL_SIM_SLAB_ROWS ? (size_t)threads : TL_SIM_SLAB_ROWS;
    if (slab_rows > p->slices || p->distance_mm > 0.0) /* phase contrast couples the rows: whole frames */
        slab_rows = p->slices;

    tl_phantom *phantom = NULL;
    tl_scan_writer *sw = NULL;
    tl_volume_writer *vw = NULL;
    sim_extras ex = {0}; /* issue 10: phase contrast, zingers, beam drift */
    double *angles = NULL, *col_defect = NULL, *maps = NULL;
    float *proj = NULL, *flat = NULL, *dark = NULL, *truth = NULL, *wide = NULL;

    st = tl_phantom_create(p->phantom, n_truth, p->slices, axis + (double)fov_shift, p->n_ellipses, p->seed,
                           &phantom, err);
    if (st != TL_OK)
        return st;

    size_t bytes = 0;
    angles = malloc(p->angles * sizeof *angles);
    col_defect = malloc(w * sizeof *col_defect);
    maps = malloc(3 * slab_rows * w * sizeof *maps);
    proj = alloc_floats(p->angles, slab_rows, w, &bytes);
    flat = alloc_floats(p->n_flat, slab_rows, w, &bytes);
    dark = alloc_floats(p->n_dark, slab_rows, w, &bytes);
    if (truth_path)
        truth = alloc_floats(slab_rows, n_truth, n_truth, &bytes);
    if (p->double_fov)
        wide = alloc_floats(slab_rows, p->angles, n_truth, &bytes);
    if (!angles || !col_defect || !maps || !proj || !flat || !dark || (truth_path && !truth) ||
        (p->double_fov && !wide)) {
        st = tl_error_set(err, TL_ERR_NOMEM,
                          "out of memory for slabs of %zu rows (%.1f MiB of buffers for %zu "
                          "angles, %zu flats, %zu darks and a detector %zu pixels wide)",
                          slab_rows, (double)bytes / 1048576.0, p->angles, p->n_flat, p->n_dark, w);
        goto done;
    }
    for (size_t i = 0; i < p->angles; i++)
        angles[i] = p->arc_deg * (double)i / (double)p->angles;
    st = pick_defects(p, col_defect, err);
    if (st == TL_OK)
        st = sim_extras_setup(&ex, p, phantom, scan_path, slab_rows, workers, err);
    if (st != TL_OK)
        goto done;

    tl_scan_desc desc = {
        .layout = p->layout,
        .pixel_type = type,
        .n_rows = p->slices,
        .n_cols = w,
        .n_proj = p->angles,
        .n_flat = p->n_flat,
        .n_dark = p->n_dark,
        .angles_deg = angles,
        .sample_name = p->phantom == TL_PHANTOM_ELLIPSES ? "random ellipsoids phantom"
                                                         : "modified Shepp-Logan phantom",
    };
    st = tl_scan_writer_create(ex.beam ? ex.partial : scan_path, &desc, ex.beam ? 1 : p->overwrite, &sw, err);
    if (st != TL_OK)
        goto done;
    if (truth_path) {
        tl_volume_desc vdesc = {.nz = p->slices, .ny = n_truth, .nx = n_truth, .z_first = 0, .float16 = 0};
        st = tl_volume_writer_create(truth_path, &vdesc, p->overwrite, &vw, err);
        if (st != TL_OK)
            goto done;
    }
    tl_log_debug("sim: %s phantom, %zu x %zu x %zu (angles x rows x columns), axis at column %g, "
                "slabs of %zu rows (%.1f MiB of buffers)",
                phantom_name(p->phantom), p->angles, p->slices, w, axis, slab_rows,
                (double)bytes / 1048576.0);
    if (p->double_fov)
        tl_log_info("sim: 360-degree offset-axis scan: axis at detector column %g (%s edge); the phantom and the "
                    "truth are %zu pixels wide (the stitched width), the detector sees its columns %zu..%zu",
                    axis, fov_shift > 0 ? "left" : "right", n_truth, fov_shift, fov_shift + w - 1);

    sim_job job = {
        .p = p,
        .phantom = phantom,
        .angles = angles,
        .col_defect = col_defect,
        .i0 = flat_counts(p),
        .noisy = p->photons > 0.0,
        .proj = proj,
        .flat = flat,
        .dark = dark,
        .truth = truth,
        .n_truth = n_truth,
        .fov_shift = fov_shift,
        .wide = wide,
    };
    job.beam = ex.beam;
    job.have_integrals = ex.fresnel != NULL;
    job.zingers = ex.zingers;
    for (size_t r0 = 0; r0 < p->slices; r0 += slab_rows) {
        const size_t r1 = r0 + slab_rows < p->slices ? r0 + slab_rows : p->slices;
        job.row_first = r0;
        job.slab = r1 - r0;
        job.gain = maps;
        job.response = maps + job.slab * w;
        job.offset = maps + 2 * job.slab * w;
        if (ex.fresnel)
            sim_phase_contrast(&ex, phantom, angles, p->angles, w, job.slab, proj, workers);
        tl_workers_run(workers, job.slab, 1, sim_rows, &job);
        for (size_t i = 0; ex.zingers && i < job.slab; i++)
            for (int k = 0; k < 3; k++)
                ex.injected[k] += ex.zingers[3 * i + k];
        if (p->n_dark > 0) {
            st = tl_scan_writer_put(sw, TL_KEY_DARK, 0, p->n_dark, r0, r1, dark, err);
            if (st != TL_OK)
                goto done;
        }
        if (p->n_flat > 0) {
            st = tl_scan_writer_put(sw, TL_KEY_FLAT, 0, p->n_flat, r0, r1, flat, err);
            if (st != TL_OK)
                goto done;
        }
        st = tl_scan_writer_put(sw, TL_KEY_PROJECTION, 0, p->angles, r0, r1, proj, err);
        if (st != TL_OK)
            goto done;
        if (vw) {
            st = tl_volume_writer_write(vw, r0, r1 - r0, truth, err);
            if (st != TL_OK)
                goto done;
        }
    }

    /* Commit the truth first: once the scan is committed nothing else can fail
     * but its own commit, and if that fails the committed truth is removed,
     * so either both files exist whole or neither does. */
    if (vw) {
        st = finish_truth(vw, p, type, axis, tl_now() - t_start, err);
        if (st != TL_OK)
            goto done;
        st = tl_volume_writer_commit(&vw, err);
        if (st != TL_OK)
            goto done;
    }
    st = tl_scan_writer_commit(&sw, err);
    if (st == TL_OK && ex.beam) /* the monitor into NAME.partial, then renamed to NAME */
        st = sim_add_monitor(&ex, p, scan_path, err);
    if (st != TL_OK && truth_path)
        remove(truth_path);
    if (st == TL_OK)
        tl_log_info("sim: wrote %s%s%s in %.2f s", scan_path, truth_path ? " and " : "",
                    truth_path ? truth_path : "", tl_now() - t_start);
    if (st == TL_OK && p->zingers > 0.0)
        tl_log_info("sim: %zu zingers injected (%zu in projections, %zu in flats, %zu in darks)",
                    ex.injected[0] + ex.injected[1] + ex.injected[2], ex.injected[2], ex.injected[1], ex.injected[0]);
    if (st == TL_OK && p->counts)
        *p->counts = (tl_sim_counts){.zingers_proj = ex.injected[2], .zingers_flat = ex.injected[1],
                                     .zingers_dark = ex.injected[0]};

done:
    tl_volume_writer_abort(&vw);
    tl_scan_writer_abort(&sw);
    sim_extras_free(&ex);
    free(wide);
    free(truth);
    free(dark);
    free(flat);
    free(proj);
    free(maps);
    free(col_defect);
    free(angles);
    tl_phantom_destroy(&phantom);
    return st;
}
