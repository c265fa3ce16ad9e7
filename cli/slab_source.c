/* slab_source.c - raw scans, normalized projections or sinogram files, as slabs. */
#include "slab_source.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
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
};

void tl_slab_source_close(tl_slab_source **src)
{
    if (!src || !*src)
        return;
    tl_slab_source *s = *src;
    tl_scan_close(&s->scan);
    tl_sino_file_close(&s->sino);
    free(s->proj);
    free(s->flat);
    free(s->flat_after);
    free(s->dark);
    free(s);
    *src = NULL;
}

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
    if (max_rows > s->info.n_rows)
        max_rows = s->info.n_rows;
    s->max_rows = max_rows;
    size_t frame = max_rows * s->info.n_cols;
    s->proj = malloc(s->info.n_angles * frame * sizeof *s->proj);
    s->bytes = s->info.n_angles * frame * sizeof(float);
    if (s->info.kind == TL_SOURCE_RAW) {
        s->flat = malloc(frame * sizeof *s->flat);
        s->dark = malloc(frame * sizeof *s->dark);
        s->bytes += 2 * frame * sizeof(float);
        if (s->flat_after_weight) {
            s->flat_after = malloc(frame * sizeof *s->flat_after);
            s->bytes += frame * sizeof(float);
        }
    }
    if (!s->proj || (s->info.kind == TL_SOURCE_RAW && (!s->flat || !s->dark)) ||
        (s->flat_after_weight && s->info.kind == TL_SOURCE_RAW && !s->flat_after)) {
        st = tl_error_set(err, TL_ERR_NOMEM,
                          "cannot allocate a slab of %zu rows x %zu angles x %zu columns (%.1f MiB); lower "
                          "--nsino-per-chunk",
                          max_rows, s->info.n_angles, s->info.n_cols,
                          (double)s->info.n_angles * (double)frame * 4.0 / 1048576.0);
        goto fail;
    }
    *out = s;
    return TL_OK;
fail:
    tl_slab_source_close(&s);
    return st;
}

const tl_source_info *tl_slab_source_info(const tl_slab_source *src) { return &src->info; }
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

tl_status tl_slab_source_sinograms(tl_slab_source *s, size_t row_begin, size_t row_end, float *out, size_t stride,
                                   tl_error *err)
{
    tl_status st = check_rows(s, row_begin, row_end, err);
    if (st != TL_OK)
        return st;
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
