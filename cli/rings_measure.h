/* rings_measure.h - how much ring artefact a stripe-removal method leaves, and
 * what it costs on a scan without rings (issue 5's figure of merit).
 *
 * A simulated scan is made in memory twice with the same Poisson noise: once
 * clean and once with per-pixel gain errors the flats do not capture (each
 * column of a detector row gets -log(1 + e_j): e_j ~ N(0, gain_error), plus
 * +-defect_strength on a few defective columns, as `tomoline sim` does). Both
 * go through the method M and a ramp-filtered FBP, and, for reference, through
 * the FBP alone. Inside the inscribed disk:
 *   removed     = 1 - ||R_M(rings) - R_M(clean)|| / ||R(rings) - R(clean)||
 *                 (the ring artefact that remains, relative to no removal)
 *   clean_added = e(R_M(clean)) / e(R(clean)) - 1, e = relative L2 error
 *                 against the phantom (the error a method adds to a clean scan)
 *   clean_change = ||R_M(clean) - R(clean)|| / ||R(clean) - truth||
 *                 (stricter: what the method changed, relative to the error
 *                 the reconstruction has anyway)
 */
#ifndef TL_RINGS_MEASURE_H
#define TL_RINGS_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "rings.h"
#include "sim.h"
#include "status.h"
#include "workers.h"

typedef struct tl_rings_scan {
    size_t size;            /* detector width W = slice size N */
    size_t angles;          /* over arc_deg */
    size_t rows;            /* detector rows (slices) measured */
    double arc_deg;         /* 180 or 360 */
    tl_phantom_kind phantom;
    double photons;         /* I0 per pixel; 0: no noise */
    double gain_error;      /* std of the small gain errors on every pixel */
    size_t defective_columns;
    double defect_strength; /* +- relative gain error of a defective column */
    double defect_fraction; /* defective columns are defective over the first this fraction of the
                               angles only (a pixel that fails mid-scan: a partial stripe); 1: all */
    uint64_t seed;
} tl_rings_scan;

/* 256 wide, 360 angles over 180 degrees, 4 rows, Shepp-Logan, 20000 photons,
 * gain errors N(0, 0.002) and 4 defective columns of +-10% over all angles. */
void tl_rings_scan_default(tl_rings_scan *scan);

typedef struct tl_rings_score {
    double removed;
    double clean_error_none, clean_error; /* relative L2 inside the disk */
    double clean_added, clean_change;
    double ring_norm;                     /* ||R(rings) - R(clean)|| / ||truth||, the artefact before removal */
    double seconds_per_sinogram;          /* wall time of the method per sinogram (all threads) */
} tl_rings_score;

/* Measure method p on the scan described; workers may be NULL. */
tl_status tl_rings_measure(const tl_rings_scan *scan, const tl_rings_params *p, tl_workers *workers,
                           tl_rings_score *out, tl_error *err) TL_MUST_CHECK;

#endif
