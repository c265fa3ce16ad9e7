/* preprocess.h - the preprocessing chain of raw scans, for the slab source.
 *
 * When any of --dezinger, --binning, --beam-normalization or
 * --retrieve-phase-method paganin is on, the slab source (slab_source.h) hands
 * its raw scan to this module, which turns detector rows into normalized
 * projections in this order, and why:
 *
 *   1. read the raw projections, flats and darks of the slab's rows, plus a
 *      margin of rows: (N - 1) / 2 for the dezinger window, and M binned rows
 *      on each side for the phase-retrieval filter (kernels/paganin.h:
 *      M = ceil(L ln 10^4), L = sqrt(c) / (2 pi) binned pixels, so the filter's
 *      kernel puts less than 1e-4 of its weight beyond the margin);
 *   2. dezinger each raw frame - projections, and every flat and dark before
 *      they are averaged (kernels/dezinger.h): zingers are single raw pixels of
 *      single frames, which averaging or binning would smear, not remove;
 *   3. bin projections, flats and darks b x b (kernels/binning.h) on the raw
 *      counts, before normalization: averaging counts keeps the photon
 *      statistics of the binned pixel (-log of a mean transmission; averaging
 *      -log values would bias noisy data), and every later step does b^2 less
 *      work;
 *   4. divide each projection and flat, dark subtracted, by its relative beam
 *      intensity (io/beam_monitor.h): P' = D + (P - D) / m_P, and the flat
 *      mean of D + (F_k - D) / m_k, so t = (P - D) / (F - D) is as if the beam
 *      had been constant;
 *   5. flat/dark correction as without preprocessing (kernels/normalize.h,
 *      flats before and after interpolated);
 *   6. Paganin phase retrieval on each transmission image (the slab and its
 *      margin), then -log with the floor policy of normalize.h, and the
 *      margin cropped.
 *
 * Rows and columns seen by the consumers are binned: n_rows / b and n_cols / b
 * (the trailing partial block dropped). --start-row/--end-row stay raw detector
 * rows: the binned rows that overlap [start, end) are processed, i.e. binned
 * rows start / b to ceil(end / b). A --rotation-axis given as a number or
 * 'center' is a raw column and becomes (a - (b - 1) / 2) / b; an axis found by
 * the search is in binned columns already.
 *
 * Memory (stated by tl_preprocess_bytes, logged by the commands): the binned
 * slab with its margins, angles x (rows + 2 M) x n_cols / b floats; with
 * dezinger or binning a raw slab, angles x ((rows + 2 M) b + N - 1) x n_cols
 * floats; flat and dark tables of those rows; per thread the dezinger's two
 * frames and the phase retrieval's padded frame.
 */
#ifndef TL_PREPROCESS_H
#define TL_PREPROCESS_H

#include <stddef.h>

#include "config.h"
#include "normalize.h"
#include "scan.h"
#include "status.h"
#include "workers.h"

typedef struct tl_preprocess tl_preprocess;

/* 1 when cfg turns on any step above (else the slab source's plain path runs). */
int tl_preprocess_wanted(const tl_config *cfg);

/* The options' values and their combinations, independent of the input: a
 * dezinger window that is not odd, phase retrieval without its physical
 * parameters or with both alpha and delta/beta. TL_ERR_INVALID with a message
 * naming the option, the value and what is allowed. */
tl_status tl_preprocess_check_options(const tl_config *cfg, tl_error *err) TL_MUST_CHECK;

/* For inputs that are not raw scans (normalized projections, sinograms): an
 * error naming the first step asked for, since every step works on raw counts
 * before normalization (and would otherwise be applied twice in a chain). */
tl_status tl_preprocess_refuse(const tl_config *cfg, const char *input, const char *what,
                               tl_error *err) TL_MUST_CHECK;

/* For the raw scan `scan` (kept open by the caller), slabs of at most max_rows
 * binned rows. Reads the beam monitor when asked. Caller owns *out. */
tl_status tl_preprocess_create(const tl_config *cfg, const char *input, tl_scan *scan, size_t max_rows,
                               tl_workers *workers, tl_preprocess **out, tl_error *err) TL_MUST_CHECK;
void tl_preprocess_destroy(tl_preprocess **p);

/* The detector as the consumers see it: binned rows and columns; the slab size
 * (max_rows clamped to the binned rows). */
void tl_preprocess_shape(const tl_preprocess *p, size_t *n_rows, size_t *n_cols, size_t *max_rows);
size_t tl_preprocess_binning(const tl_preprocess *p);

/* --start-row/--end-row (raw detector rows) as binned rows [*begin, *end). */
tl_status tl_preprocess_rows(const tl_preprocess *p, const tl_config *cfg, const char *input, size_t *begin,
                             size_t *end, tl_error *err) TL_MUST_CHECK;

/* Normalized projections of binned rows [row_begin, row_end): *proj points to
 * the module's buffer [n_angles][rows][n_cols / b], valid until the next call.
 * stats accumulates the normalization counts of those rows; read_s and
 * normalize_s the seconds spent reading and processing. */
tl_status tl_preprocess_projections(tl_preprocess *p, size_t row_begin, size_t row_end, int minus_log,
                                    const float **proj, tl_normalize_stats *stats, double *read_s,
                                    double *normalize_s, tl_error *err) TL_MUST_CHECK;

/* Working memory, bytes. */
size_t tl_preprocess_bytes(const tl_preprocess *p);

/* What was done so far, one line for logs and the provenance: the steps with
 * their parameters, zingers replaced (projections, flats, darks; each raw row
 * counted once), the beam monitor's source and range, the phase-retrieval
 * filter and margin. */
void tl_preprocess_summary(const tl_preprocess *p, char *buf, size_t size);

/* Zingers replaced so far in projections, flats and darks (each raw row once). */
void tl_preprocess_zingers(const tl_preprocess *p, size_t *proj, size_t *flat, size_t *dark);

#endif
