/* preprocess.c - dezinger, binning, beam normalization, flat/dark correction and
 * Paganin phase retrieval of raw slabs (the order and the reasons: preprocess.h).
 *
 * Rows. Three row ranges matter for a slab of binned rows [row_begin, row_end):
 *   block   binned rows [blk_lo, blk_hi): the slab and M rows of phase-retrieval
 *           margin on each side (clipped to the detector);
 *   raw     raw rows [blk_lo b, blk_hi b): what the block is binned from;
 *   read    raw rows [rd_lo, rd_hi): raw plus the dezinger window's (N - 1) / 2
 *           rows on each side (clipped), the context of the windows.
 * Frames are read over `read`, dezingered over `raw`, binned into `block`,
 * normalized and filtered over `block`, and the slab's rows are cropped out.
 * Zingers are counted in the slab's own raw rows [row_begin b, row_end b),
 * and each raw row once (a bitmap), so a recon's total is the number of
 * zingers in the rows it covers even when the centre search reads rows twice.
 */
#include "preprocess.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beam_monitor.h"
#include "binning.h"
#include "dezinger.h"
#include "log.h"
#include "paganin.h"

enum { Z_PROJ = 0, Z_FLAT = 1, Z_DARK = 2 };

struct tl_preprocess {
    tl_scan *scan; /* not owned */
    tl_workers *workers;
    char input[512];
    /* options */
    size_t dezinger, b, margin_dz; /* window N, binning factor, (N - 1) / 2 */
    float threshold;
    int beam, paganin;
    tl_paganin_params phase;
    double coefficient;
    size_t margin; /* M, binned rows */
    /* geometry */
    size_t raw_rows, raw_cols, rows, cols, n_angles, n_flat, n_flat_before, n_dark;
    size_t max_rows, max_blk, max_raw, max_rd;
    const double *after_weight; /* flats before and after, or NULL */
    /* buffers */
    float *proj;                            /* [n_angles][max_blk][cols] */
    float *raw;                             /* [n_angles][max_rd][raw_cols], or NULL (no dezinger, no binning) */
    float *flat_raw, *flat_after_raw, *dark_raw; /* [max_raw][raw_cols] */
    float *flat, *flat_after, *dark;        /* [max_blk][cols]: the raw ones when b == 1 */
    double *sum;                            /* [max_raw][raw_cols] when flats or darks go frame by frame */
    size_t *row_counts;                     /* [max_rd] */
    unsigned char *counted;                 /* [raw_rows]: zingers of the row counted */
    tl_dezinger_plan *dz_plan;
    tl_paganin_plan *pg_plan;
    tl_beam_monitor *monitor;
    int flats_by_frame, darks_by_frame;
    /* what was done */
    size_t zingers[3];
    double t_dezinger, t_binning, t_beam, t_paganin;
    size_t bytes;
};

int tl_preprocess_wanted(const tl_config *cfg)
{
    return cfg->dezinger > 0 || cfg->binning > 0 || cfg->beam_normalization ||
           strcmp(cfg->retrieve_phase_method, "paganin") == 0;
}

static int paganin_on(const tl_config *cfg) { return strcmp(cfg->retrieve_phase_method, "paganin") == 0; }

tl_status tl_preprocess_check_options(const tl_config *cfg, tl_error *err)
{
    if (cfg->dezinger > 0 && (cfg->dezinger < 3 || cfg->dezinger % 2 == 0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--dezinger %ld: the median window must be odd, from 3 to %d (0 turns it off)",
                            cfg->dezinger, TL_DEZINGER_MAX_SIZE);
    if (!paganin_on(cfg))
        return TL_OK;
    if (!(cfg->energy > 0.0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--retrieve-phase-method paganin needs --energy (the X-ray energy in keV, more than 0)");
    if (!(cfg->propagation_distance > 0.0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--retrieve-phase-method paganin needs --propagation-distance (sample to detector in mm, "
                            "more than 0)");
    if (!(cfg->pixel_size > 0.0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--retrieve-phase-method paganin needs --pixel-size (the detector pixel at the sample in "
                            "micrometres, more than 0)");
    if (cfg->pixel_size < 0.001)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--pixel-size %g: the unit is micrometres (as tomocupy's: 6.5 for 6.5 um); allowed: "
                            "0.001 and more",
                            cfg->pixel_size);
    if (cfg->retrieve_phase_alpha > 0.0 && cfg->retrieve_phase_delta_beta > 0.0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--retrieve-phase-alpha %g and --retrieve-phase-delta-beta %g are both given: give one "
                            "(alpha = beta/delta = 1 / delta-beta)",
                            cfg->retrieve_phase_alpha, cfg->retrieve_phase_delta_beta);
    if (!(cfg->retrieve_phase_alpha > 0.0) && !(cfg->retrieve_phase_delta_beta > 0.0))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--retrieve-phase-method paganin needs --retrieve-phase-delta-beta (delta/beta of the "
                            "material, e.g. 100 to 1000) or --retrieve-phase-alpha (beta/delta)");
    return TL_OK;
}

tl_status tl_preprocess_refuse(const tl_config *cfg, const char *input, const char *what, tl_error *err)
{
    char step[64];
    if (cfg->dezinger > 0)
        snprintf(step, sizeof step, "--dezinger %ld", cfg->dezinger);
    else if (cfg->binning > 0)
        snprintf(step, sizeof step, "--binning %ld", cfg->binning);
    else if (cfg->beam_normalization)
        snprintf(step, sizeof step, "--beam-normalization");
    else
        snprintf(step, sizeof step, "--retrieve-phase-method %s", cfg->retrieve_phase_method);
    return tl_error_set(err, TL_ERR_INVALID,
                        "%s: '%s' holds %s, but dezinger, binning, beam normalization and phase retrieval work on "
                        "raw scans, before normalization (give them to the command that reads the raw scan)",
                        step, input, what);
}

void tl_preprocess_destroy(tl_preprocess **pp)
{
    if (!pp || !*pp)
        return;
    tl_preprocess *p = *pp;
    tl_dezinger_plan_destroy(&p->dz_plan);
    tl_paganin_plan_destroy(&p->pg_plan);
    tl_beam_monitor_destroy(&p->monitor);
    if (p->flat != p->flat_raw)
        free(p->flat);
    if (p->flat_after != p->flat_after_raw)
        free(p->flat_after);
    if (p->dark != p->dark_raw)
        free(p->dark);
    free(p->flat_raw);
    free(p->flat_after_raw);
    free(p->dark_raw);
    free(p->proj);
    free(p->raw);
    free(p->sum);
    free(p->row_counts);
    free(p->counted);
    free(p);
    *pp = NULL;
}

static float *alloc_floats(size_t n, size_t *bytes)
{
    *bytes += n * sizeof(float);
    return malloc((n ? n : 1) * sizeof(float));
}

tl_status tl_preprocess_create(const tl_config *cfg, const char *input, tl_scan *scan, size_t max_rows,
                               tl_workers *workers, tl_preprocess **out, tl_error *err)
{
    *out = NULL;
    tl_status st = tl_preprocess_check_options(cfg, err);
    if (st != TL_OK)
        return st;
    const tl_scan_info *si = tl_scan_get_info(scan);
    tl_preprocess *p = calloc(1, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    p->scan = scan;
    p->workers = workers;
    snprintf(p->input, sizeof p->input, "%s", input);
    p->dezinger = cfg->dezinger > 0 ? (size_t)cfg->dezinger : 0;
    p->margin_dz = tl_dezinger_margin(p->dezinger);
    p->threshold = (float)cfg->dezinger_threshold;
    p->b = tl_binning_factor(cfg->binning);
    p->beam = (int)cfg->beam_normalization;
    p->paganin = paganin_on(cfg);
    p->raw_rows = si->n_rows;
    p->raw_cols = si->n_cols;
    p->rows = si->n_rows / p->b;
    p->cols = si->n_cols / p->b;
    p->n_angles = si->n_proj;
    p->n_flat = si->n_flat;
    p->n_flat_before = si->n_flat_before;
    p->n_dark = si->n_dark;
    p->after_weight = si->flat_after_weight;
    if (p->rows == 0 || p->cols == 0) {
        st = tl_error_set(err, TL_ERR_INVALID,
                          "--binning %ld: the detector of '%s' (%zu rows x %zu columns) has no whole %zu x %zu block "
                          "(allowed: up to --binning %d here)",
                          cfg->binning, input, si->n_rows, si->n_cols, p->b, p->b,
                          (int)floor(log2((double)(si->n_rows < si->n_cols ? si->n_rows : si->n_cols))));
        goto fail;
    }
    if (p->beam) {
        if ((st = tl_beam_monitor_read(scan, cfg->beam_monitor_path, &p->monitor, err)) != TL_OK) {
            tl_error_prefix(err, "--beam-normalization");
            goto fail;
        }
        tl_log_info("beam normalization: monitor %s (one value per %s), projections at %.4f..%.4f of their mean "
                    "%.6g",
                    p->monitor->source, p->monitor->per_frame ? "frame" : "projection", p->monitor->min,
                    p->monitor->max, p->monitor->reference);
        if (!p->monitor->flat && p->n_flat > 0)
            tl_log_warn("beam normalization: the flats of '%s' have no monitor values (%s); they are taken to have "
                        "been recorded at the projections' mean intensity",
                        input, p->monitor->per_frame ? "they are in another file" : "one value per projection");
    }
    if (p->paganin) {
        p->phase = (tl_paganin_params){
            .energy_kev = cfg->energy,
            .distance_m = cfg->propagation_distance * 1e-3,
            .pixel_size_m = cfg->pixel_size * 1e-6 * (double)p->b,
            .delta_beta = cfg->retrieve_phase_delta_beta > 0.0 ? cfg->retrieve_phase_delta_beta
                                                                : 1.0 / cfg->retrieve_phase_alpha,
        };
        p->coefficient = tl_paganin_coefficient(&p->phase);
        p->margin = tl_paganin_margin(p->coefficient);
    }
    if (max_rows > p->rows)
        max_rows = p->rows;
    if (max_rows == 0)
        max_rows = 1;
    p->max_rows = max_rows;
    p->max_blk = max_rows + 2 * p->margin < p->rows ? max_rows + 2 * p->margin : p->rows;
    p->max_raw = p->max_blk * p->b;
    p->max_rd = p->max_raw + 2 * p->margin_dz < p->raw_rows ? p->max_raw + 2 * p->margin_dz : p->raw_rows;
    p->flats_by_frame = p->n_flat > 0 && (p->dezinger > 0 || (p->monitor && p->monitor->flat));
    p->darks_by_frame = p->n_dark > 0 && p->dezinger > 0;

    size_t bytes = 0, raw_plane = p->max_raw * p->raw_cols, plane = p->max_blk * p->cols;
    int ok = 1;
    ok &= (p->proj = alloc_floats(p->n_angles * plane, &bytes)) != NULL;
    if (p->dezinger > 0 || p->b > 1)
        ok &= (p->raw = alloc_floats(p->n_angles * p->max_rd * p->raw_cols, &bytes)) != NULL;
    ok &= (p->flat_raw = alloc_floats(raw_plane, &bytes)) != NULL;
    ok &= (p->dark_raw = alloc_floats(raw_plane, &bytes)) != NULL;
    if (p->after_weight)
        ok &= (p->flat_after_raw = alloc_floats(raw_plane, &bytes)) != NULL;
    if (p->b > 1) {
        ok &= (p->flat = alloc_floats(plane, &bytes)) != NULL;
        ok &= (p->dark = alloc_floats(plane, &bytes)) != NULL;
        if (p->after_weight)
            ok &= (p->flat_after = alloc_floats(plane, &bytes)) != NULL;
    } else {
        p->flat = p->flat_raw;
        p->dark = p->dark_raw;
        p->flat_after = p->flat_after_raw;
    }
    if (p->flats_by_frame || p->darks_by_frame) {
        bytes += raw_plane * sizeof(double);
        ok &= (p->sum = malloc(raw_plane * sizeof *p->sum)) != NULL;
    }
    ok &= (p->row_counts = calloc(p->max_rd, sizeof *p->row_counts)) != NULL;
    ok &= (p->counted = calloc(p->raw_rows, 1)) != NULL;
    bytes += p->max_rd * sizeof(size_t) + p->raw_rows;
    if (!ok) {
        st = tl_error_set(err, TL_ERR_NOMEM,
                          "preprocessing: cannot allocate the slab buffers of %zu rows (%zu with margins) x %zu angles "
                          "x %zu columns (%.1f MiB); lower --nsino-per-chunk",
                          max_rows, p->max_blk, p->n_angles, p->cols, (double)bytes / 1048576.0);
        goto fail;
    }
    if (p->dezinger > 0 &&
        (st = tl_dezinger_plan_create(p->max_rd, p->raw_cols, p->dezinger, cfg->dezinger_threshold, workers,
                                      &p->dz_plan, err)) != TL_OK)
        goto fail;
    if (p->paganin) {
        tl_paganin_desc d = {.max_rows = p->max_blk, .n_cols = p->cols, .coefficient = p->coefficient};
        if ((st = tl_paganin_plan_create(&d, workers, &p->pg_plan, err)) != TL_OK) {
            tl_error_prefix(err, "--retrieve-phase-method paganin");
            goto fail;
        }
        size_t pr, pc;
        tl_paganin_plan_padded(p->pg_plan, &pr, &pc);
        tl_log_info("phase retrieval: Paganin, delta/beta %.6g, %.6g keV (lambda %.4g m), %.6g mm, %.6g um pixels%s: "
                    "filter 1 / (1 + %.6g |f|^2), kernel length %.3g px, %zu rows of margin, padded %zu x %zu",
                    p->phase.delta_beta, p->phase.energy_kev, tl_xray_wavelength_m(p->phase.energy_kev),
                    cfg->propagation_distance, p->phase.pixel_size_m * 1e6, p->b > 1 ? " (binned)" : "",
                    p->coefficient, sqrt(p->coefficient) / (2.0 * 3.14159265358979323846), p->margin, pr, pc);
        if (p->max_blk > 2 * p->max_rows && p->max_blk < p->rows)
            tl_log_info("phase retrieval: each slab of %zu rows reads %zu (the filter's margin); a larger "
                        "--nsino-per-chunk reads less twice",
                        p->max_rows, p->max_blk);
    }
    bytes += tl_dezinger_plan_bytes(p->dz_plan) + tl_paganin_plan_bytes(p->pg_plan);
    p->bytes = bytes;
    if (p->b > 1)
        tl_log_info("binning %zu x %zu: %zu x %zu detector pixels -> %zu x %zu%s", p->b, p->b, p->raw_rows,
                    p->raw_cols, p->rows, p->cols,
                    p->raw_rows % p->b || p->raw_cols % p->b ? " (the trailing partial block is left out)" : "");
    *out = p;
    return TL_OK;
fail:
    tl_preprocess_destroy(&p);
    return st;
}

void tl_preprocess_shape(const tl_preprocess *p, size_t *n_rows, size_t *n_cols, size_t *max_rows)
{
    *n_rows = p->rows;
    *n_cols = p->cols;
    *max_rows = p->max_rows;
}

size_t tl_preprocess_binning(const tl_preprocess *p) { return p->b; }
size_t tl_preprocess_bytes(const tl_preprocess *p) { return p->bytes; }

void tl_preprocess_zingers(const tl_preprocess *p, size_t *proj, size_t *flat, size_t *dark)
{
    *proj = p->zingers[Z_PROJ];
    *flat = p->zingers[Z_FLAT];
    *dark = p->zingers[Z_DARK];
}

tl_status tl_preprocess_rows(const tl_preprocess *p, const tl_config *cfg, const char *input, size_t *begin,
                             size_t *end, tl_error *err)
{
    const size_t b = p->b;
    if ((size_t)cfg->start_row >= p->raw_rows)
        return tl_error_set(err, TL_ERR_INVALID, "--start-row %ld is outside the detector (rows 0 to %zu of '%s')",
                            cfg->start_row, p->raw_rows - 1, input);
    if (cfg->end_row > 0 && (size_t)cfg->end_row > p->raw_rows)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--end-row %ld is past the last detector row (allowed: up to %zu, or -1 for all rows of "
                            "'%s')",
                            cfg->end_row, p->raw_rows, input);
    *begin = (size_t)cfg->start_row / b;
    size_t e = cfg->end_row < 0 ? p->raw_rows : (size_t)cfg->end_row;
    *end = (e + b - 1) / b;
    if (*end > p->rows)
        *end = p->rows;
    if (*begin >= *end)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--start-row %ld: with --binning %ld (%zu x %zu blocks) the last %zu rows of '%s' are "
                            "left out (a partial block); the binned rows cover detector rows 0 to %zu",
                            cfg->start_row, cfg->binning, b, b, p->raw_rows - p->rows * b, input, p->rows * b - 1);
    return TL_OK;
}

/* ---- frame by frame means of flats and darks ----------------------------------------------- */

typedef struct {
    size_t rd_lo, rd_hi, raw_lo, raw_hi, own_lo, own_hi; /* raw rows: read, kept, the slab's own */
} slab_rows;

/* Add the zingers of rows the slab owns and that were not counted before. */
static void count_zingers(tl_preprocess *p, const slab_rows *r, int kind)
{
    for (size_t row = r->own_lo; row < r->own_hi; row++)
        if (!p->counted[row])
            p->zingers[kind] += p->row_counts[row - r->rd_lo];
}

/* Mean of frames [first, first + count) of `key` over raw rows [raw_lo, raw_hi),
 * each frame dezingered first; with `monitor` (relative intensities of those
 * frames, indexed from 0) the mean of D + (F - D) / m with D = dark. The sums
 * run in the order tl_scan_read_flat_mean's do, so without zingers and monitor
 * the result is the same to the bit. */
static tl_status mean_by_frame(tl_preprocess *p, int key, size_t first, size_t count, const double *monitor,
                               const float *dark, const slab_rows *r, float *out, double *read_s, tl_error *err)
{
    const size_t nrd = r->rd_hi - r->rd_lo, nraw = r->raw_hi - r->raw_lo, off = r->raw_lo - r->rd_lo;
    const size_t nc = p->raw_cols, plane = nraw * nc;
    float *frames = p->raw ? p->raw : p->proj; /* n_angles frames of max_rd raw rows: room for a batch */
    size_t batch = p->n_angles < TL_SCAN_MEAN_BATCH ? p->n_angles : TL_SCAN_MEAN_BATCH;
    memset(p->sum, 0, plane * sizeof *p->sum);
    if (p->dezinger)
        memset(p->row_counts, 0, nrd * sizeof *p->row_counts);
    tl_status st = TL_OK;
    for (size_t f = 0; f < count && st == TL_OK; f += batch) {
        size_t n = count - f < batch ? count - f : batch;
        double t0 = tl_now();
        if ((st = tl_scan_read_frames(p->scan, key, first + f, n, r->rd_lo, r->rd_hi, frames, err)) != TL_OK)
            break;
        double t1 = tl_now();
        *read_s += t1 - t0;
        if (p->dezinger)
            tl_dezinger_exec(p->dz_plan, frames, n, nrd, off, off + nraw, p->row_counts);
        p->t_dezinger += tl_now() - t1;
        for (size_t i = 0; i < n; i++) {
            const float *src = frames + (i * nrd + off) * nc;
            if (monitor) {
                const double inv = 1.0 / monitor[f + i];
                for (size_t k = 0; k < plane; k++)
                    p->sum[k] += ((double)src[k] - (double)dark[k]) * inv;
            } else {
                for (size_t k = 0; k < plane; k++)
                    p->sum[k] += src[k];
            }
        }
    }
    if (st != TL_OK)
        return st;
    for (size_t k = 0; k < plane; k++)
        out[k] = monitor ? (float)((double)dark[k] + p->sum[k] / (double)count) : (float)(p->sum[k] / (double)count);
    if (p->dezinger)
        count_zingers(p, r, key == TL_KEY_DARK ? Z_DARK : Z_FLAT);
    return TL_OK;
}

/* ---- the slab ------------------------------------------------------------------------------ */

typedef struct {
    tl_preprocess *p;
    size_t nrd, off, nraw, nblk;
} bin_ctx;

static void bin_projections(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    bin_ctx *c = ctx;
    tl_preprocess *p = c->p;
    for (size_t a = begin; a < end; a++) {
        const float *in = p->raw + (a * c->nrd + c->off) * p->raw_cols;
        float *out = p->proj + a * c->nblk * p->cols;
        if (p->b == 1)
            memcpy(out, in, c->nraw * p->raw_cols * sizeof *out);
        else
            tl_binning_frame(in, c->nraw, p->raw_cols, p->b, out);
    }
}

typedef struct {
    tl_preprocess *p;
    size_t plane;
} beam_ctx;

static void beam_projections(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    beam_ctx *c = ctx;
    tl_preprocess *p = c->p;
    for (size_t a = begin; a < end; a++) {
        float *v = p->proj + a * c->plane;
        const float inv = (float)(1.0 / p->monitor->proj[a]);
        for (size_t k = 0; k < c->plane; k++)
            v[k] = p->dark[k] + (v[k] - p->dark[k]) * inv;
    }
}

typedef struct {
    float *proj;
    size_t plane;
    atomic_size_t floored;
} log_ctx;

static void minus_log_frames(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    log_ctx *c = ctx;
    size_t floored = 0;
    for (size_t a = begin; a < end; a++) {
        float *v = c->proj + a * c->plane;
        for (size_t k = 0; k < c->plane; k++) {
            float t = v[k];
            if (!(t > TL_NORMALIZE_FLOOR)) {
                t = TL_NORMALIZE_FLOOR;
                floored++;
            }
            v[k] = -logf(t);
        }
    }
    atomic_fetch_add(&c->floored, floored);
}

tl_status tl_preprocess_projections(tl_preprocess *p, size_t row_begin, size_t row_end, int minus_log,
                                    const float **proj, tl_normalize_stats *stats, double *read_s,
                                    double *normalize_s, tl_error *err)
{
    if (row_begin >= row_end || row_end > p->rows || row_end - row_begin > p->max_rows)
        return tl_error_set(err, TL_ERR_INVALID, "rows %zu..%zu are not a slab of the binned detector (%zu rows, %zu "
                            "at once)", row_begin, row_end - 1, p->rows, p->max_rows);
    const size_t b = p->b, M = p->margin, R = row_end - row_begin;
    const size_t blk_lo = row_begin > M ? row_begin - M : 0;
    const size_t blk_hi = row_end + M < p->rows ? row_end + M : p->rows;
    const size_t nblk = blk_hi - blk_lo, top = row_begin - blk_lo;
    slab_rows r = {.raw_lo = blk_lo * b, .raw_hi = blk_hi * b, .own_lo = row_begin * b, .own_hi = row_end * b};
    r.rd_lo = r.raw_lo > p->margin_dz ? r.raw_lo - p->margin_dz : 0;
    r.rd_hi = r.raw_hi + p->margin_dz < p->raw_rows ? r.raw_hi + p->margin_dz : p->raw_rows;
    const size_t nrd = r.rd_hi - r.rd_lo, nraw = r.raw_hi - r.raw_lo, off = r.raw_lo - r.rd_lo;
    const size_t plane = nblk * p->cols;
    const int pair = p->after_weight != NULL;
    tl_status st = TL_OK;
    double t_read = 0.0, t_all = tl_now();

    /* 1-2. darks, flats (frame by frame when dezingered or beam-normalized), projections */
    double t0 = tl_now();
    if (p->darks_by_frame)
        st = mean_by_frame(p, TL_KEY_DARK, 0, p->n_dark, NULL, NULL, &r, p->dark_raw, &t_read, err);
    else
        st = tl_scan_read_dark_mean(p->scan, r.raw_lo, r.raw_hi, p->dark_raw, err);
    if (st == TL_OK && !p->flats_by_frame)
        st = pair ? tl_scan_read_flat_pair(p->scan, r.raw_lo, r.raw_hi, p->flat_raw, p->flat_after_raw, err)
                  : tl_scan_read_flat_mean(p->scan, r.raw_lo, r.raw_hi, p->flat_raw, err);
    if (!p->darks_by_frame)
        t_read += tl_now() - t0;
    if (st == TL_OK && p->flats_by_frame) {
        const double *m = p->monitor ? p->monitor->flat : NULL;
        size_t n_before = pair ? p->n_flat_before : p->n_flat;
        st = mean_by_frame(p, TL_KEY_FLAT, 0, n_before, m, p->dark_raw, &r, p->flat_raw, &t_read, err);
        if (st == TL_OK && pair)
            st = mean_by_frame(p, TL_KEY_FLAT, n_before, p->n_flat - n_before, m ? m + n_before : NULL, p->dark_raw,
                               &r, p->flat_after_raw, &t_read, err);
    }
    if (st != TL_OK)
        return st;
    t0 = tl_now();
    if (p->raw)
        st = tl_scan_read_projections(p->scan, r.rd_lo, r.rd_hi, p->raw, err);
    else
        st = tl_scan_read_projections(p->scan, r.raw_lo, r.raw_hi, p->proj, err);
    if (st != TL_OK)
        return st;
    t_read += tl_now() - t0;
    t0 = tl_now();
    if (p->dezinger) {
        memset(p->row_counts, 0, nrd * sizeof *p->row_counts);
        tl_dezinger_exec(p->dz_plan, p->raw, p->n_angles, nrd, off, off + nraw, p->row_counts);
        count_zingers(p, &r, Z_PROJ);
        for (size_t row = r.own_lo; row < r.own_hi; row++)
            p->counted[row] = 1;
    }
    double t1 = tl_now();
    p->t_dezinger += t1 - t0;

    /* 3. binning (or, dezingered only, dropping the window's margin rows) */
    if (p->raw) {
        bin_ctx bc = {.p = p, .nrd = nrd, .off = off, .nraw = nraw, .nblk = nblk};
        tl_workers_run(p->workers, p->n_angles, 1, bin_projections, &bc);
        if (b > 1) {
            tl_binning_frame(p->dark_raw, nraw, p->raw_cols, b, p->dark);
            tl_binning_frame(p->flat_raw, nraw, p->raw_cols, b, p->flat);
            if (pair)
                tl_binning_frame(p->flat_after_raw, nraw, p->raw_cols, b, p->flat_after);
        }
    }
    double t2 = tl_now();
    p->t_binning += t2 - t1;

    /* 4. beam normalization of the projections (the flats' is in their mean) */
    if (p->monitor) {
        beam_ctx ec = {.p = p, .plane = plane};
        tl_workers_run(p->workers, p->n_angles, 0, beam_projections, &ec);
    }
    double t3 = tl_now();
    p->t_beam += t3 - t2;

    /* 5. flat/dark correction; with phase retrieval transmissions, counted below */
    tl_normalize_stats block = {0};
    st = tl_normalize_interp_cpu(p->proj, p->n_angles, nblk, p->cols, p->flat, pair ? p->flat_after : NULL,
                                 pair ? p->after_weight : NULL, p->dark, p->paganin ? 0 : minus_log, blk_lo,
                                 p->workers, p->paganin ? &block : stats, err);
    if (st != TL_OK) {
        if (b > 1)
            tl_error_prefix(err, "binned %zu x %zu (rows and columns below are binned pixels)", b, b);
        return st;
    }

    /* 6. phase retrieval on the block, the slab's rows cropped out, -log */
    if (p->paganin) {
        double t4 = tl_now();
        tl_paganin_exec(p->pg_plan, p->proj, p->n_angles, nblk);
        const size_t out_plane = R * p->cols;
        if (nblk != R)
            for (size_t a = 0; a < p->n_angles; a++) /* ascending: each destination lies before its source */
                memmove(p->proj + a * out_plane, p->proj + a * plane + top * p->cols, out_plane * sizeof(float));
        p->t_paganin += tl_now() - t4;
        log_ctx lc = {.proj = p->proj, .plane = out_plane};
        atomic_init(&lc.floored, 0);
        if (minus_log)
            tl_workers_run(p->workers, p->n_angles, 1, minus_log_frames, &lc);
        if (stats) {
            size_t dead = 0;
            for (size_t k = top * p->cols; k < (top + R) * p->cols; k++)
                dead += !(p->flat[k] - p->dark[k] > 0.0f) || (pair && !(p->flat_after[k] - p->dark[k] > 0.0f));
            stats->n_values += p->n_angles * out_plane;
            stats->n_floored += atomic_load(&lc.floored);
            stats->n_dead_pixels += dead;
        }
    }
    *read_s += t_read;
    *normalize_s += tl_now() - t_all - t_read;
    *proj = p->proj;
    return TL_OK;
}

void tl_preprocess_summary(const tl_preprocess *p, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
#define TL_ADD(...)                                                                                                \
    do {                                                                                                           \
        if (used < size)                                                                                           \
            used += (size_t)snprintf(buf + used, size - used, __VA_ARGS__);                                        \
    } while (0)
    if (p->dezinger)
        TL_ADD("dezinger %zu x %zu, threshold %g counts: %zu zingers replaced (%zu in projections, %zu in flats, %zu "
               "in darks), %.2f s",
               p->dezinger, p->dezinger, (double)p->threshold,
               p->zingers[Z_PROJ] + p->zingers[Z_FLAT] + p->zingers[Z_DARK], p->zingers[Z_PROJ], p->zingers[Z_FLAT],
               p->zingers[Z_DARK], p->t_dezinger);
    if (p->b > 1)
        TL_ADD("%sbinning %zu x %zu: %zu x %zu -> %zu x %zu pixels, %.2f s", used ? "; " : "", p->b, p->b,
               p->raw_rows, p->raw_cols, p->rows, p->cols, p->t_binning);
    if (p->monitor)
        TL_ADD("%sbeam normalization by %s (per %s%s): projections at %.4f..%.4f of the mean %.6g, %.2f s",
               used ? "; " : "", p->monitor->source, p->monitor->per_frame ? "frame" : "projection",
               p->monitor->flat || p->n_flat == 0 ? "" : "; flats taken at the mean", p->monitor->min,
               p->monitor->max, p->monitor->reference, p->t_beam);
    if (p->paganin)
        TL_ADD("%sphase retrieval: Paganin 2002, delta/beta %.6g, %.6g keV, %.6g m, pixel %.6g um: 1 / (1 + %.6g "
               "|f|^2), margin %zu rows, %.2f s",
               used ? "; " : "", p->phase.delta_beta, p->phase.energy_kev, p->phase.distance_m,
               p->phase.pixel_size_m * 1e6, p->coefficient, p->margin, p->t_paganin);
#undef TL_ADD
}
