/* sim.h - synthetic parallel-beam scans with analytic projections.
 *
 * Objects are sets of ellipsoids whose axes are rotated about z only, so each
 * detector row (slice) cuts every ellipsoid in an ellipse and the projections
 * are exact line integrals of ellipses (Kak & Slaney, "Principles of
 * Computerized Tomographic Imaging", 1988, sec. 3.2; the 3-D Shepp-Logan
 * head of Shepp & Logan 1974 / Kak & Slaney table 3.1, with the higher
 * contrast of Toft 1996 "modified Shepp-Logan").
 *
 * Geometry follows ../shared/DESIGN.md exactly: slice pixel [r][c] is centred
 * at x = c - (N-1)/2, y = r - (N-1)/2 (N = W, the grid centred on the rotation
 * axis); the projection at angle theta is p(s) = integral of f along
 * x cos(theta) + y sin(theta) = s, and detector column j sees s = j - a.
 * Values are attenuation per pixel, so line integrals are -log(transmission).
 *
 * A detector pixel integrates p(s) over its width [j - 1/2, j + 1/2] (closed
 * form); the ground-truth slice is the mean of 4 x 4 point samples per pixel.
 */
#ifndef TL_SIM_H
#define TL_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"
#include "status.h"
#include "workers.h"

typedef struct tl_phantom tl_phantom;

typedef enum { TL_PHANTOM_SHEPP_LOGAN = 0, TL_PHANTOM_ELLIPSES = 1 } tl_phantom_kind;

/* A phantom for a detector of n_cols columns and n_rows rows with the rotation
 * axis at column `axis`. It is scaled to lie inside the field of view for that
 * axis. Caller owns *out. */
tl_status tl_phantom_create(tl_phantom_kind kind, size_t n_cols, size_t n_rows, double axis,
                            size_t n_ellipses, uint64_t seed, tl_phantom **out,
                            tl_error *err) TL_MUST_CHECK;
void tl_phantom_destroy(tl_phantom **phantom);

/* Pixel-averaged line integrals of detector row `row`: out[n_angles][n_cols]. */
void tl_phantom_project_row(const tl_phantom *phantom, size_t row, const double *angles_deg,
                            size_t n_angles, float *out);

/* Ground truth of slice `row` on the N x N grid (N = n_cols): out[N][N]. */
void tl_phantom_slice(const tl_phantom *phantom, size_t row, float *out);

typedef struct tl_sim_params {
    size_t size;          /* detector width W (and slice size N) */
    size_t angles;        /* number of projections */
    size_t slices;        /* detector rows */
    double arc_deg;       /* 180 or 360; angles = arc * i / angles */
    double axis_offset;   /* a - (W-1)/2 */
    int double_fov;       /* 360-degree offset-axis scan (half acquisition): the axis within a third of the
                           * width of one edge, the phantom and the truth as wide as the 180-degree sinogram
                           * stitched from it (kernels/stitch.h: width W + round(W - 1 - 2a) for an axis near
                           * the left edge, W + round(2a - W + 1) near the right edge) */
    tl_phantom_kind phantom;
    size_t n_ellipses;
    uint64_t seed;
    double photons;       /* 0: noise-free */
    double gain_error;    /* relative std of uncaptured per-pixel gain errors */
    size_t defective_columns;
    double defect_strength;
    size_t n_flat, n_dark;
    tl_layout layout;
    int pixel_type;       /* -1 auto, else tl_pixel_type */
    int overwrite;
    /* issue 10 (preprocessing): phase contrast, zingers, beam drift; 0 = off */
    double distance_mm;   /* sample to detector; > 0: Fresnel phase contrast (kernels/fresnel.h) */
    double energy_kev;    /* with distance_mm: the X-ray energy */
    double pixel_size_um; /* with distance_mm: the detector pixel (columns; rows are 0.5 R / slices of it) */
    double delta_beta;    /* with distance_mm: delta/beta of the phantom's one material */
    double zingers;       /* fraction of the pixels of every frame that get a zinger of 1 to 2 x I0 counts */
    double beam_drift;    /* amplitude d of the beam intensity 1 + d sin(2 pi 2.5 k / n_frames) of frame k,
                           * written to /entry/control/data (NXtomo only) */
    struct tl_sim_counts *counts; /* optional out: what was injected */
} tl_sim_params;

/* What tl_sim_write injected (when tl_sim_params.counts is given). */
typedef struct tl_sim_counts {
    size_t zingers_proj, zingers_flat, zingers_dark;
} tl_sim_counts;

/* Fill p with the defaults of the parameter table's [sim] section. */
void tl_sim_params_default(tl_sim_params *p);

/* Write a simulated scan to scan_path (and, if truth_path is not NULL, the
 * ground-truth volume there), in slabs of rows so memory stays bounded. */
tl_status tl_sim_write(const tl_sim_params *p, const char *scan_path, const char *truth_path,
                       tl_workers *workers, tl_error *err) TL_MUST_CHECK;

#endif
