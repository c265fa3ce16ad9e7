/* slab_source.c - raw scans, normalized projections or sinogram files, as slabs. */
#include "slab_source.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "binning.h"
#include "cor.h"
#include "log.h"
#include "preprocess.h"
#include "recon.h"
#include "scan.h"
#include "sino_file.h"
#include "transpose.h"

struct tl_slab_source {
    tl_source_info info;
    tl_scan *scan;
    tl_sino_file *sino;
    tl_workers *workers;
    int minus_log;
    size_t max_rows;
    float *proj;                 /* [n_angles][max_rows][n_cols] (raw, normalized) or [max_rows][n_angles][n_cols] */
    float *flat, *flat_after, *dark; /* [max_rows][n_cols] */
    const double *flat_after_weight; /* [n_angles] or NULL: flats before and after are interpolated */
    int transmission;                /* the input holds transmissions: -log still to take */
    tl_normalize_stats stats;
    double read_s, normalize_s, transpose_s;
    size_t bytes;
    /* --file-type double_fov (stitched_sinograms below): info stays the raw
     * scan's geometry, view is what tl_slab_source_info() shows. */
    tl_stitch_plan *stitch_plan;
    tl_source_stitch stitch;
    tl_source_info view;
    double stitch_s;
    /* dezinger, binning, beam normalization, phase retrieval (cli/preprocess.h):
     * raw scans only; info then shows the binned detector */
    tl_preprocess *prep;
};

void tl_slab_source_close(tl_slab_source **src)
{
    if (!src || !*src)
        return;
    tl_slab_source *s = *src;
    tl_scan_close(&s->scan);
    tl_sino_file_close(&s->sino);
    tl_stitch_plan_destroy(&s->stitch_plan);
    if (s->prep) {
        char summary[1024];
        tl_preprocess_summary(s->prep, summary, sizeof summary);
        tl_log_info("preprocessing: %s", summary);
        tl_preprocess_destroy(&s->prep);
    }
    free(s->proj);
    free(s->flat);
    free(s->flat_after);
    free(s->dark);
    free(s);
    *src = NULL;
}

static tl_status stitch_setup(tl_slab_source *s, const tl_config *cfg, const char *input, tl_error *err);
static tl_status preprocess_setup(tl_slab_source *s, const tl_config *cfg, const char *input, size_t *max_rows,
                                  tl_error *err);

tl_status tl_slab_source_open(const tl_config *cfg, const char *input, size_t max_rows, tl_workers *workers,
                              tl_slab_source **out, tl_error *err)
{
    *out = NULL;
    tl_slab_source *s = calloc(1, sizeof *s);
    if (!s)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    s->workers = workers;
    s->minus_log = (int)cfg->minus_log;
    tl_status st;
    if (tl_sino_file_detect(input)) {
        if ((st = tl_sino_file_open(input, &s->sino, err)) != TL_OK)
            goto fail;
        const tl_sino_desc *d = tl_sino_file_info(s->sino);
        s->info.kind = TL_SOURCE_SINOGRAMS;
        s->info.description = "sinograms";
        s->info.first_row = d->first_row;
        s->info.n_rows = d->n_rows;
        s->info.n_angles = d->n_angles;
        s->info.n_cols = d->n_cols;
        s->info.angles_deg = d->angles_deg;
        s->transmission = d->content && strcmp(d->content, "transmission") == 0;
    } else {
        tl_scan_options opt;
        tl_scan_options_from_config(cfg, &opt);
        if ((st = tl_scan_open_with(input, &opt, &s->scan, err)) != TL_OK)
            goto fail;
        const tl_scan_info *si = tl_scan_get_info(s->scan);
        s->info.kind = si->normalized ? TL_SOURCE_NORMALIZED : TL_SOURCE_RAW;
        s->transmission = si->normalized == 2;
        s->flat_after_weight = si->flat_after_weight;
        s->info.entry_path = si->entry_path;
        s->info.sample_name = si->sample_name;
        s->info.description = si->layout_name;
        s->info.n_rows = si->n_rows;
        s->info.n_angles = si->n_proj;
        s->info.n_cols = si->n_cols;
        s->info.n_flat = si->n_flat;
        s->info.n_dark = si->n_dark;
        s->info.angles_deg = si->angles_deg;
    }
    if (tl_preprocess_wanted(cfg) && (st = preprocess_setup(s, cfg, input, &max_rows, err)) != TL_OK)
        goto fail;
    if (max_rows > s->info.n_rows)
        max_rows = s->info.n_rows;
    s->max_rows = max_rows;
    size_t frame = max_rows * s->info.n_cols;
    /* with preprocessing, the raw path's buffers are the preprocessor's */
    s->proj = malloc((s->prep ? 1 : s->info.n_angles * frame) * sizeof *s->proj);
    s->bytes = s->prep ? tl_preprocess_bytes(s->prep) : s->info.n_angles * frame * sizeof(float);
    if (s->info.kind == TL_SOURCE_RAW && !s->prep) {
        s->flat = malloc(frame * sizeof *s->flat);
        s->dark = malloc(frame * sizeof *s->dark);
        s->bytes += 2 * frame * sizeof(float);
        if (s->flat_after_weight) {
            s->flat_after = malloc(frame * sizeof *s->flat_after);
            s->bytes += frame * sizeof(float);
        }
    }
    if (!s->proj || (s->info.kind == TL_SOURCE_RAW && !s->prep && (!s->flat || !s->dark)) ||
        (s->flat_after_weight && s->info.kind == TL_SOURCE_RAW && !s->prep && !s->flat_after)) {
        st = tl_error_set(err, TL_ERR_NOMEM,
                          "cannot allocate a slab of %zu rows x %zu angles x %zu columns (%.1f MiB); lower "
                          "--nsino-per-chunk",
                          max_rows, s->info.n_angles, s->info.n_cols,
                          (double)s->info.n_angles * (double)frame * 4.0 / 1048576.0);
        goto fail;
    }
    if (strcmp(cfg->file_type, "double_fov") == 0 && (st = stitch_setup(s, cfg, input, err)) != TL_OK)
        goto fail;
    *out = s;
    return TL_OK;
fail:
    tl_slab_source_close(&s);
    return st;
}

const tl_source_info *tl_slab_source_info(const tl_slab_source *src)
{
    return src->stitch_plan ? &src->view : &src->info;
}
const tl_normalize_stats *tl_slab_source_stats(const tl_slab_source *src) { return &src->stats; }
size_t tl_slab_source_bytes(const tl_slab_source *src) { return src->bytes; }

void tl_slab_source_times(const tl_slab_source *src, double *read_s, double *normalize_s, double *transpose_s)
{
    *read_s = src->read_s;
    *normalize_s = src->normalize_s;
    *transpose_s = src->transpose_s;
}

tl_status tl_slab_source_rows(const tl_slab_source *src, const tl_config *cfg, const char *input, size_t *begin,
                              size_t *end, tl_error *err)
{
    if (src->prep) /* raw detector rows to binned rows */
        return tl_preprocess_rows(src->prep, cfg, input, begin, end, err);
    size_t first = src->info.first_row, last = src->info.first_row + src->info.n_rows;
    if ((size_t)cfg->start_row < first || (size_t)cfg->start_row >= last)
        return tl_error_set(err, TL_ERR_INVALID, "--start-row %ld is outside the detector (rows %zu to %zu of '%s')",
                            cfg->start_row, first, last - 1, input);
    *begin = (size_t)cfg->start_row;
    *end = cfg->end_row < 0 ? last : (size_t)cfg->end_row;
    if (*end > last)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--end-row %ld is past the last detector row (allowed: up to %zu, or -1 for all rows of "
                            "'%s')",
                            cfg->end_row, last, input);
    return TL_OK;
}

/* Transmissions to line integrals, with the floor policy of normalize.h. */
static void minus_log_in_place(float *v, size_t n, tl_normalize_stats *stats)
{
    for (size_t i = 0; i < n; i++) {
        float t = v[i];
        if (!(t > TL_NORMALIZE_FLOOR)) {
            t = TL_NORMALIZE_FLOOR;
            stats->n_floored++;
        }
        v[i] = -logf(t);
    }
    stats->n_values += n;
}

static tl_status check_rows(const tl_slab_source *s, size_t row_begin, size_t row_end, tl_error *err)
{
    if (row_begin >= row_end || row_begin < s->info.first_row || row_end > s->info.first_row + s->info.n_rows ||
        row_end - row_begin > s->max_rows)
        return tl_error_set(err, TL_ERR_INVALID, "rows %zu..%zu are not a slab of the input (rows %zu..%zu, %zu at once)",
                            row_begin, row_end - 1, s->info.first_row, s->info.first_row + s->info.n_rows - 1,
                            s->max_rows);
    return TL_OK;
}

tl_status tl_slab_source_projections(tl_slab_source *s, size_t row_begin, size_t row_end, const float **proj,
                                     tl_error *err)
{
    tl_status st = check_rows(s, row_begin, row_end, err);
    if (st != TL_OK)
        return st;
    if (s->info.kind == TL_SOURCE_SINOGRAMS)
        return tl_error_set(err, TL_ERR_INVALID, "a sinogram file holds no projections to normalize");
    if (s->prep)
        return tl_preprocess_projections(s->prep, row_begin, row_end, s->minus_log, proj, &s->stats, &s->read_s,
                                         &s->normalize_s, err);
    size_t rows = row_end - row_begin;
    double t0 = tl_now();
    if ((st = tl_scan_read_projections(s->scan, row_begin, row_end, s->proj, err)) != TL_OK)
        return st;
    if (s->info.kind == TL_SOURCE_RAW) {
        st = s->flat_after
                 ? tl_scan_read_flat_pair(s->scan, row_begin, row_end, s->flat, s->flat_after, err)
                 : tl_scan_read_flat_mean(s->scan, row_begin, row_end, s->flat, err);
        if (st == TL_OK)
            st = tl_scan_read_dark_mean(s->scan, row_begin, row_end, s->dark, err);
        if (st != TL_OK)
            return st;
    }
    double t1 = tl_now();
    s->read_s += t1 - t0;
    if (s->info.kind == TL_SOURCE_RAW) {
        st = tl_normalize_interp_cpu(s->proj, s->info.n_angles, rows, s->info.n_cols, s->flat, s->flat_after,
                                     s->flat_after_weight, s->dark, s->minus_log, row_begin, s->workers, &s->stats,
                                     err);
        if (st != TL_OK)
            return st;
    } else if (s->transmission && s->minus_log) {
        minus_log_in_place(s->proj, s->info.n_angles * rows * s->info.n_cols, &s->stats);
    }
    s->normalize_s += tl_now() - t1;
    *proj = s->proj;
    return TL_OK;
}

static tl_status stitched_sinograms(tl_slab_source *s, size_t row_begin, size_t row_end, float *out,
                                    size_t stride, tl_error *err);

tl_status tl_slab_source_sinograms(tl_slab_source *s, size_t row_begin, size_t row_end, float *out, size_t stride,
                                   tl_error *err)
{
    tl_status st = check_rows(s, row_begin, row_end, err);
    if (st != TL_OK)
        return st;
    if (s->stitch_plan)
        return stitched_sinograms(s, row_begin, row_end, out, stride, err);
    size_t rows = row_end - row_begin, na = s->info.n_angles, nc = s->info.n_cols;
    if (s->info.kind == TL_SOURCE_SINOGRAMS) {
        double t0 = tl_now();
        st = tl_sino_file_read(s->sino, row_begin - s->info.first_row, row_end - s->info.first_row, s->proj, err);
        if (st != TL_OK)
            return st;
        s->read_s += tl_now() - t0;
        if (s->transmission && s->minus_log)
            minus_log_in_place(s->proj, rows * na * nc, &s->stats);
        t0 = tl_now();
        for (size_t l = 0; l < rows * na; l++)
            memcpy(out + l * stride, s->proj + l * nc, nc * sizeof(float));
        s->transpose_s += tl_now() - t0;
        return TL_OK;
    }
    const float *proj;
    if ((st = tl_slab_source_projections(s, row_begin, row_end, &proj, err)) != TL_OK)
        return st;
    double t0 = tl_now();
    tl_transpose_cpu(proj, na, rows, nc, out, stride, s->workers);
    s->transpose_s += tl_now() - t0;
    return TL_OK;
}

/* ---- --file-type double_fov: 360-degree offset-axis scans (kernels/stitch.h) ---------------- */

/* The raw 360-degree sinogram of one detector row: dst[n_angles][n_cols]. */
static tl_status raw_sinogram_row(tl_slab_source *s, size_t row, float *dst, tl_error *err)
{
    const size_t line = s->info.n_angles * s->info.n_cols;
    if (s->info.kind == TL_SOURCE_SINOGRAMS) {
        double t0 = tl_now();
        tl_status st = tl_sino_file_read(s->sino, row - s->info.first_row, row - s->info.first_row + 1, s->proj, err);
        if (st != TL_OK)
            return st;
        s->read_s += tl_now() - t0;
        if (s->transmission && s->minus_log)
            minus_log_in_place(s->proj, line, &s->stats);
        memcpy(dst, s->proj, line * sizeof *dst);
        return TL_OK;
    }
    const float *proj; /* [n_angles][1][n_cols] */
    tl_status st = tl_slab_source_projections(s, row, row + 1, &proj, err);
    if (st == TL_OK)
        memcpy(dst, proj, line * sizeof *dst);
    return st;
}

static tl_status stitch_setup(tl_slab_source *s, const tl_config *cfg, const char *input, tl_error *err)
{
    tl_source_stitch *x = &s->stitch;
    memset(x, 0, sizeof *x);
    const size_t nc = s->info.n_cols, na = s->info.n_angles;
    /* A 180-degree scan is the likeliest mistake: say so before anything else. */
    tl_stitch_pairs pairs;
    tl_status st = tl_stitch_pairs_create(s->info.angles_deg, na, &pairs, err);
    if (st != TL_OK) {
        tl_error_prefix(err, "--file-type double_fov: '%s'", input);
        return st;
    }
    tl_stitch_pairs_free(&pairs);

    /* --binning b: the data are b times narrower; --rotation-axis and what we
     * report are raw detector columns, a_raw = a b + (b - 1) / 2 */
    const size_t b = s->prep ? tl_preprocess_binning(s->prep) : 1;
    x->binning = b;
    double axis = NAN, t0 = tl_now();
    if (!tl_cor_is_auto(cfg->rotation_axis)) {
        const char *given;
        if ((st = tl_slab_source_resolve_axis(s, cfg->rotation_axis, &axis, &given, err)) != TL_OK)
            return st;
        double llo, lhi, rlo, rhi;
        tl_stitch_allowed_axes(nc, &llo, &lhi, &rlo, &rhi);
        if (!((axis >= llo && axis <= lhi) || (axis >= rlo && axis <= rhi))) {
            const double bb = (double)b, half = 0.5 * (bb - 1.0), raw_cols = (double)nc * bb;
            return tl_error_set(err, TL_ERR_INVALID,
                                "--rotation-axis %s is not near an edge of the detector: --file-type double_fov "
                                "needs the axis within a third of the width of one edge (allowed: %g to %g or %g to "
                                "%g on the %g-pixel-wide detector of '%s'; the centre is %g)",
                                cfg->rotation_axis, llo * bb + half, lhi * bb + half, rlo * bb + half,
                                rhi * bb + half, raw_cols, input, 0.5 * (raw_cols - 1.0));
        }
    } else {
        /* The overlap search on --rotation-axis-rows rows of the rows asked for. */
        size_t begin = 0, end = 0;
        if ((st = tl_slab_source_rows(s, cfg, input, &begin, &end, err)) != TL_OK)
            return st;
        size_t *rows = x->search_rows;
        size_t n = tl_recon_axis_rows(cfg, begin, end, rows);
        x->n_search_rows = n;
        if (n == 0)
            return tl_error_set(err, TL_ERR_INVALID, "--file-type double_fov: no rows to search the axis on in '%s'",
                                input);
        float *sino = malloc(n * na * nc * sizeof *sino);
        if (!sino)
            return tl_error_set(err, TL_ERR_NOMEM,
                                "--file-type double_fov: cannot allocate %zu sinograms of %zu x %zu for the overlap "
                                "search; lower --rotation-axis-rows",
                                n, na, nc);
        for (size_t k = 0; k < n && st == TL_OK; k++)
            st = raw_sinogram_row(s, rows[k], sino + k * na * nc, err);
        if (st == TL_OK) {
            st = tl_stitch_find_axis(sino, n, na, nc, s->info.angles_deg, s->workers, &x->search, err);
            if (st != TL_OK)
                tl_error_prefix(err, "--file-type double_fov, --rotation-axis auto (rows %zu..%zu of '%s')",
                                rows[0], rows[n - 1], input);
        }
        free(sino);
        if (st != TL_OK)
            return st;
        axis = x->search.axis;
        x->searched = 1;
        /* the searched rows are normalized again when their slab comes */
        memset(&s->stats, 0, sizeof s->stats);
    }
    x->search_seconds = tl_now() - t0;
    x->detector_axis = axis * (double)b + 0.5 * ((double)b - 1.0);
    if ((st = tl_stitch_plan_create(nc, axis, s->info.angles_deg, na, tl_workers_count(s->workers), &s->stitch_plan,
                                    err)) != TL_OK) {
        tl_error_prefix(err, "--file-type double_fov: '%s'", input);
        return st;
    }
    const tl_stitch_pairs *pr = tl_stitch_plan_pairs(s->stitch_plan);
    x->layout = *tl_stitch_plan_layout(s->stitch_plan);
    x->raw_angles = na;
    x->n_exact = pr->n_exact;
    x->max_gap_deg = pr->max_gap_deg;
    s->view = s->info;
    s->view.n_cols = x->layout.width;
    s->view.n_angles = pr->n;
    s->view.angles_deg = pr->angles_deg;
    s->view.stitch = x;
    s->bytes += tl_stitch_plan_bytes(s->stitch_plan);
    const char *edge = x->layout.side == TL_STITCH_LEFT ? "left" : "right";
    int used = 0;
    if (x->searched)
        used = snprintf(x->how, sizeof x->how,
                        "double_fov: detector axis %.2f found from the overlap of the half turns (Vo et al. 2021; "
                        "%zu rows, %zu angle pairs, confidence %.2f)",
                        x->detector_axis, x->n_search_rows, x->search.n_pairs, x->search.confidence);
    else
        used = snprintf(x->how, sizeof x->how, "double_fov: detector axis %.2f given", x->detector_axis);
    if (b > 1 && used > 0 && (size_t)used < sizeof x->how)
        used += snprintf(x->how + used, sizeof x->how - (size_t)used, " (%zux binned: %.2f)", b, axis);
    if (used > 0 && (size_t)used < sizeof x->how)
        snprintf(x->how + used, sizeof x->how - (size_t)used,
                 "; %s edge, overlap %.2f px; stitched width %zu, axis %.2f; %zu of %zu angles kept, partners %zu "
                 "exact, %zu interpolated",
                 edge, x->layout.overlap, x->layout.width, x->layout.axis_stitched, pr->n, na, pr->n_exact,
                 pr->n - pr->n_exact);
    tl_log_info("%s (%.2f s)", x->how, x->search_seconds);
    double step = pr->arc_deg / (double)(na - 1);
    if (pr->max_gap_deg > 2.0 * step)
        tl_log_warn("double_fov: some partners at theta + 180 were interpolated across a gap of %.3g degrees "
                    "(the scan's step is %.3g)",
                    pr->max_gap_deg, step);
    return TL_OK;
}

typedef struct stitch_job {
    const tl_stitch_plan *plan;
    const float *in;
    size_t in_row_stride, in_angle_stride;
    float *out;
    size_t out_row_stride, out_stride;
} stitch_job;

static void stitch_rows(void *ctx, size_t begin, size_t end, int thread)
{
    const stitch_job *j = ctx;
    for (size_t r = begin; r < end; r++)
        tl_stitch_exec(j->plan, thread, j->in + r * j->in_row_stride, j->in_angle_stride,
                       j->out + r * j->out_row_stride, j->out_stride);
}

/* Raw 360-degree sinograms of the slab (read and normalized as for any
 * input), each stitched straight from the slab buffer into out: no copy of
 * the raw sinograms. The stitching time counts as transposing. */
static tl_status stitched_sinograms(tl_slab_source *s, size_t row_begin, size_t row_end, float *out,
                                    size_t stride, tl_error *err)
{
    const size_t rows = row_end - row_begin, na = s->info.n_angles, nc = s->info.n_cols;
    stitch_job job = {.plan = s->stitch_plan, .out = out, .out_row_stride = s->view.n_angles * stride,
                      .out_stride = stride};
    tl_status st;
    if (s->info.kind == TL_SOURCE_SINOGRAMS) {
        double t0 = tl_now();
        st = tl_sino_file_read(s->sino, row_begin - s->info.first_row, row_end - s->info.first_row, s->proj, err);
        if (st != TL_OK)
            return st;
        s->read_s += tl_now() - t0;
        if (s->transmission && s->minus_log)
            minus_log_in_place(s->proj, rows * na * nc, &s->stats);
        job.in = s->proj; /* [rows][angles][cols] */
        job.in_row_stride = na * nc;
        job.in_angle_stride = nc;
    } else {
        const float *proj; /* [angles][rows][cols] */
        if ((st = tl_slab_source_projections(s, row_begin, row_end, &proj, err)) != TL_OK)
            return st;
        job.in = proj;
        job.in_row_stride = nc;
        job.in_angle_stride = rows * nc;
    }
    double t0 = tl_now();
    tl_workers_run(s->workers, rows, 1, stitch_rows, &job);
    double dt = tl_now() - t0;
    s->stitch_s += dt;
    s->transpose_s += dt;
    return TL_OK;
}

/* ---- preprocessing of raw scans (cli/preprocess.h) ------------------------------------------ */

static tl_status preprocess_setup(tl_slab_source *s, const tl_config *cfg, const char *input, size_t *max_rows,
                                  tl_error *err)
{
    tl_status st = tl_preprocess_check_options(cfg, err);
    if (st != TL_OK)
        return st;
    if (s->info.kind != TL_SOURCE_RAW)
        return tl_preprocess_refuse(cfg, input,
                                    s->info.kind == TL_SOURCE_SINOGRAMS ? "sinograms" : "normalized projections", err);
    if ((st = tl_preprocess_create(cfg, input, s->scan, *max_rows, s->workers, &s->prep, err)) != TL_OK)
        return st;
    tl_preprocess_shape(s->prep, &s->info.n_rows, &s->info.n_cols, max_rows);
    return TL_OK;
}

tl_status tl_slab_source_resolve_axis(const tl_slab_source *src, const char *text, double *axis, const char **method,
                                      tl_error *err)
{
    if (!src->prep || tl_preprocess_binning(src->prep) == 1)
        return tl_cor_resolve(text, src->info.n_cols, axis, method, err);
    size_t b = tl_preprocess_binning(src->prep);
    tl_status st = tl_cor_resolve(text, tl_scan_get_info(src->scan)->n_cols, axis, method, err);
    if (st != TL_OK)
        return st;
    *axis = tl_binning_axis(*axis, b);
    *method = strcmp(*method, "given") == 0 ? "given (raw detector column, binned: (a - (b - 1) / 2) / b)"
                                            : "center of the detector (binned)";
    return TL_OK;
}

void tl_slab_source_preprocess_summary(const tl_slab_source *src, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    if (src->prep)
        tl_preprocess_summary(src->prep, buf, size);
}
