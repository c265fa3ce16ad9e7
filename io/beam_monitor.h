/* beam_monitor.h - the beam intensity of every frame of a scan (--beam-normalization).
 *
 * Synchrotron beams drift (top-up injections, a decaying ring current, monochromator
 * heat load), so a projection and the flats taken at another time saw different
 * intensities, and -log turns a relative change d of one projection into an offset
 * d of all its line integrals (streaks and a wrong mean). Beamlines record the beam
 * per frame with an ion chamber, a diode or the ring current. This module finds
 * that record and turns it into relative intensities; cli/preprocess.c divides each
 * projection and each flat, dark subtracted, by its value.
 *
 * Where the values come from:
 *   - `--beam-monitor-path` (/path in the input or FILE:/path, as --data-path):
 *     any numeric dataset;
 *   - otherwise, for NXtomo, ENTRY/control/data: the NXmonitor of the NXtomo
 *     definition (the I13 file in ../shared/data/diamond-i12/24888.nxs has one;
 *     `tomoline sim --beam-drift` writes one). Data Exchange defines no per-frame
 *     monitor, and the DIAD file's ring current links to a file that is absent,
 *     so those need --beam-monitor-path.
 * The dataset holds one value per frame of the frame stack that holds the
 * projections (NXtomo: darks, flats and projections in one stack, so flats get
 * their own values) or one value per projection (then the flats have none).
 *
 * Relative intensity: value / reference, the reference being the mean over the
 * projections. The reference cancels in (P - D) / (F - D) when the flats have
 * values; when they have none, the flats are taken to have been recorded at the
 * projections' mean intensity (logged by the caller).
 */
#ifndef TL_BEAM_MONITOR_H
#define TL_BEAM_MONITOR_H

#include <stddef.h>

#include "scan.h"
#include "status.h"

typedef struct tl_beam_monitor {
    size_t n_proj, n_flat;
    double *proj;      /* [n_proj] relative intensity of each projection (read order); mean 1 */
    double *flat;      /* [n_flat] relative intensity of each flat in tl_scan_read_frames order, or NULL */
    double reference;  /* the raw value that stands for 1 */
    double min, max;   /* of proj[] */
    char source[2100]; /* "FILE:/path" the values came from */
    int per_frame;     /* 1: one value per frame; 0: one per projection */
} tl_beam_monitor;

/* Read the monitor of `scan`: spec is --beam-monitor-path ("" or NULL: the NXtomo
 * ENTRY/control/data). Errors name the file, the dataset and what was expected:
 * none found, a dataset that is not numbers, a count that is neither per frame
 * nor per projection, a value that is not a positive finite number at a
 * projection or flat. Caller owns *out. */
tl_status tl_beam_monitor_read(tl_scan *scan, const char *spec, tl_beam_monitor **out, tl_error *err) TL_MUST_CHECK;
/* Accepts NULL and *m == NULL; sets *m = NULL. */
void tl_beam_monitor_destroy(tl_beam_monitor **m);

#endif
