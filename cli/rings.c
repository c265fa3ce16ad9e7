/* rings.c - `tomoline rings`: the ring-removal stage on its own, and the
 * [rings] options turned into kernel parameters for recon and fbp.
 *
 * rings reads a raw scan, normalized projections or a sinogram file, removes
 * stripes from each sinogram with --remove-stripe-method and writes a sinogram
 * file ('tomoline fbp' reads it). It works in slabs of --nsino-per-chunk rows,
 * so memory is bounded by the options, never by the input.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "montage.h"
#include "preview.h"
#include "progress.h"
#include "recon.h"
#include "rings.h"
#include "sino_file.h"
#include "slab_source.h"
#include "workers.h"

tl_status tl_rings_params_from_config(const tl_config *cfg, tl_rings_params *p, tl_error *err)
{
    tl_rings_params_default(p);
    tl_status st = tl_rings_method_parse(cfg->remove_stripe_method, &p->method, err);
    if (st != TL_OK)
        return st;
    p->fw_level = cfg->fw_level;
    p->fw_sigma = cfg->fw_sigma;
    snprintf(p->fw_filter, sizeof p->fw_filter, "%.*s", (int)sizeof p->fw_filter - 1, cfg->fw_filter);
    if (strlen(cfg->fw_filter) >= sizeof p->fw_filter)
        return tl_error_set(err, TL_ERR_INVALID, "--fw-filter '%.40s...': unknown wavelet (allowed: haar, db1..db20, "
                            "sym2..sym20)", cfg->fw_filter);
    p->fw_pad = (int)cfg->fw_pad;
    p->ti_beta = cfg->ti_beta;
    p->sorting_size = cfg->sorting_size;
    p->filtering_sigma = cfg->filtering_sigma;
    p->filtering_size = cfg->filtering_size;
    p->large_snr = cfg->large_snr;
    p->large_size = cfg->large_size;
    p->large_drop_ratio = cfg->large_drop_ratio;
    p->vo_all_snr = cfg->vo_all_snr;
    p->vo_all_la_size = cfg->vo_all_la_size;
    p->vo_all_sm_size = cfg->vo_all_sm_size;
    return TL_OK;
}

tl_status tl_recon_rings_plan(const tl_config *cfg, size_t n_angles, size_t n_cols, tl_workers *workers,
                              tl_rings_plan **out, char *described, size_t described_size, tl_error *err)
{
    tl_rings_params params;
    tl_status st = tl_rings_params_from_config(cfg, &params, err);
    if (st != TL_OK)
        return st;
    tl_rings_describe(&params, described, described_size);
    return tl_rings_plan_create(&params, n_angles, n_cols, workers, out, err);
}

/* The picture of --preview: the middle sinogram before and after, on one grey
 * range so they compare fairly, and what was removed, stretched to that range
 * around mid-grey (its own contrast: stripes are small next to the object). */
static tl_status write_picture(const char *png, const float *before, const float *after, size_t na, size_t nc,
                               size_t row, int overwrite, tl_error *err)
{
    size_t n = na * nc;
    float *removed = malloc(n * sizeof *removed);
    if (!removed)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for the preview");
    double lo = 0, hi = 1, rlo = 0, rhi = 1;
    size_t finite = 0;
    for (size_t i = 0; i < n; i++)
        removed[i] = before[i] - after[i];
    tl_status st = tl_preview_range(before, n, TL_PREVIEW_CLIP_PERCENT_DEFAULT, &lo, &hi, &finite, err);
    if (st == TL_OK)
        st = tl_preview_range(removed, n, TL_PREVIEW_CLIP_PERCENT_DEFAULT, &rlo, &rhi, &finite, err);
    if (st == TL_OK) {
        double half = fmax(fabs(rlo), fabs(rhi)), mid = 0.5 * (lo + hi);
        double gain = half > 0 ? 0.5 * (hi - lo) / half : 0.0;
        for (size_t i = 0; i < n; i++)
            removed[i] = (float)(mid + gain * removed[i]);
    }
    tl_montage *m = NULL;
    tl_montage_desc d = {.n_tiles = 3, .rows = na, .cols = nc, .max_tile = 1024, .columns = 3};
    char label[3][96];
    snprintf(label[0], sizeof label[0], "ROW %zu BEFORE", row);
    snprintf(label[1], sizeof label[1], "AFTER");
    snprintf(label[2], sizeof label[2], "REMOVED (STRETCHED)");
    if (st == TL_OK)
        st = tl_montage_create(&d, &m, err);
    if (st == TL_OK)
        st = tl_montage_set_tile(m, 0, before, label[0], err);
    if (st == TL_OK)
        st = tl_montage_set_tile(m, 1, after, label[1], err);
    if (st == TL_OK)
        st = tl_montage_set_tile(m, 2, removed, label[2], err);
    if (st == TL_OK)
        st = tl_montage_write_png(m, png, TL_PREVIEW_CLIP_PERCENT_DEFAULT, "tomoline rings: sinogram before, after, "
                                  "removed", overwrite, NULL, NULL, err);
    tl_montage_destroy(&m);
    free(removed);
    return st;
}

static tl_status run_rings(const tl_config *cfg, const char *input, const char *output, size_t *n_rows_done,
                           double *rings_seconds, char *described, size_t described_size, char *png, size_t png_size,
                           tl_error *err)
{
    tl_status st;
    tl_workers *workers = NULL;
    tl_slab_source *src = NULL;
    tl_rings_plan *plan = NULL;
    tl_sino_writer *writer = NULL;
    tl_progress *progress = NULL;
    float *sino = NULL, *before = NULL, *after = NULL;
    png[0] = '\0';
    if ((st = tl_workers_create((int)cfg->threads, &workers, err)) != TL_OK)
        return st;
    if ((st = tl_slab_source_open(cfg, input, (size_t)cfg->nsino_per_chunk, workers, &src, err)) != TL_OK)
        goto done;
    const tl_source_info *info = tl_slab_source_info(src);
    size_t row_begin = 0, row_end = 0;
    if ((st = tl_slab_source_rows(src, cfg, input, &row_begin, &row_end, err)) != TL_OK)
        goto done;
    size_t na = info->n_angles, nc = info->n_cols, rows_total = row_end - row_begin;
    size_t chunk = (size_t)cfg->nsino_per_chunk < rows_total ? (size_t)cfg->nsino_per_chunk : rows_total;
    if ((st = tl_recon_rings_plan(cfg, na, nc, workers, &plan, described, described_size, err)) != TL_OK)
        goto done;
    if (tl_rings_plan_method(plan) == TL_RINGS_NONE)
        tl_log_warn("rings: --remove-stripe-method none: the sinograms are written unchanged");
    if (!cfg->minus_log && info->kind != TL_SOURCE_SINOGRAMS) {
        st = tl_error_set(err, TL_ERR_INVALID, "--no-minus-log: ring removal works on line integrals (after -log); "
                          "drop --no-minus-log for 'tomoline rings'");
        goto done;
    }
    tl_sino_desc d = {.n_rows = rows_total, .n_angles = na, .n_cols = nc, .first_row = row_begin,
                      .angles_deg = info->angles_deg, .content = "line_integrals", .ring_removal = described};
    if ((st = tl_sino_writer_create(output, &d, (int)cfg->overwrite, &writer, err)) != TL_OK)
        goto done;
    if (!(sino = malloc(chunk * na * nc * sizeof *sino))) {
        st = tl_error_set(err, TL_ERR_NOMEM, "cannot allocate a slab of %zu sinograms of %zu x %zu; lower "
                          "--nsino-per-chunk", chunk, na, nc);
        goto done;
    }
    size_t row_mid = row_begin + rows_total / 2;
    if (cfg->preview && (!(before = malloc(2 * na * nc * sizeof *before)))) {
        st = tl_error_set(err, TL_ERR_NOMEM, "cannot allocate the preview's sinograms (%zu x %zu)", na, nc);
        goto done;
    }
    after = before ? before + na * nc : NULL;
    tl_log_info("rings: %s: rows %zu..%zu, %zu angles, %zu columns, %s, slabs of %zu rows (%.1f MiB)", input,
                row_begin, row_end - 1, na, nc, described, chunk,
                (double)(tl_slab_source_bytes(src) + tl_rings_plan_bytes(plan) + chunk * na * nc * sizeof(float)) /
                    1048576.0);
    progress = tl_progress_create("rings", rows_total, "rows", tl_progress_mode_parse(cfg->progress));
    for (size_t r0 = row_begin; r0 < row_end; r0 += chunk) {
        size_t r1 = r0 + chunk < row_end ? r0 + chunk : row_end;
        if ((st = tl_slab_source_sinograms(src, r0, r1, sino, nc, err)) != TL_OK)
            goto done;
        int has_mid = before && row_mid >= r0 && row_mid < r1;
        if (has_mid)
            memcpy(before, sino + (row_mid - r0) * na * nc, na * nc * sizeof *sino);
        double t0 = tl_now();
        tl_rings_exec(plan, sino, r1 - r0, nc);
        *rings_seconds += tl_now() - t0;
        if (has_mid)
            memcpy(after, sino + (row_mid - r0) * na * nc, na * nc * sizeof *sino);
        if ((st = tl_sino_writer_write(writer, r0 - row_begin, r1 - r0, sino, err)) != TL_OK)
            goto done;
        *n_rows_done += r1 - r0;
        tl_progress_update(progress, *n_rows_done, NULL);
    }
    tl_progress_finish(&progress);
    if ((st = tl_sino_writer_commit(&writer, err)) != TL_OK)
        goto done;
    /* after the sinograms are complete: a failed picture is reported, the file kept */
    if (before) {
        tl_cli_derived_output(output, ".png", png, png_size);
        if ((st = write_picture(png, before, after, na, nc, row_mid, (int)cfg->overwrite, err)) != TL_OK) {
            tl_error_prefix(err, "the sinograms %s are complete, but their preview failed", output);
            png[0] = '\0';
        }
    }
done:
    if (st == TL_ERR_DATA)
        tl_error_prefix(err, "'%s'", input);
    tl_progress_finish(&progress);
    tl_sino_writer_abort(&writer);
    free(sino);
    free(before);
    tl_rings_plan_destroy(&plan);
    tl_slab_source_close(&src);
    tl_workers_destroy(&workers);
    return st;
}

static const tl_cli_command rings_command = {
    .name = "rings",
    .mask = TL_CMD_RINGS,
    .usage = "rings INPUT [-o OUTPUT.h5] --remove-stripe-method METHOD [options]",
    .summary = "Remove stripes (rings) from the sinograms of a scan; write sinograms.",
    .description =
        "INPUT is a raw scan, normalized projections ('tomoline normalize') or sinograms ('tomoline\n"
        "sino'). Each sinogram of rows --start-row..--end-row-1 goes through --remove-stripe-method\n"
        "and the result is written as a sinogram file (what 'tomoline fbp' reads), with the method\n"
        "and its parameters in /entry/data/data @ring_removal. 'tomoline recon' applies the same step\n"
        "between transposing and filtering. Default OUTPUT: INPUT without extension + _rings.h5.\n"
        "--preview also writes OUTPUT without extension + .png: the middle sinogram before and after\n"
        "(one grey range) and what was removed (stretched).\n\n"
        "methods (all on line integrals, where a pixel's uncaptured gain error is a column offset):\n"
        "  fw         Fourier-wavelet (Munch et al. 2009): the stripes of the wavelet detail bands\n"
        "             across columns, taken out along the angles\n"
        "  ti         Titarenko et al. 2010: each column's offset from a regularised smooth profile\n"
        "  sorting    Vo et al. 2018: columns sorted along the angles, each compared with its\n"
        "             neighbours' median rank by rank\n"
        "  filtering  Vo et al. 2018: sorting on the part of the sinogram smooth along the angles\n"
        "  large      Vo et al. 2018: detects large stripes and corrects those only\n"
        "  vo-all     Vo et al. 2018: unresponsive, then large stripes, then sorting\n"
        "All estimate one offset per column (the median over the angles or ranks, so the object's\n"
        "edges, which cross a column at some angles only, are not taken for stripes); a pixel that\n"
        "fails part-way through a scan is removed only in part.\n\n"
        "example:\n"
        "  tomoline rings scan.nxs -o scan_rings.h5 --remove-stripe-method ti && tomoline fbp scan_rings.h5",
    .max_positional = 1,
};

int tl_cmd_rings(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&rings_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: rings needs one INPUT file (usage: tomoline %s)\n", rings_command.usage);
        return 2;
    }
    char output[TL_CONFIG_STRING_MAX + 16];
    if (cfg.out_path_name[0])
        snprintf(output, sizeof output, "%s", cfg.out_path_name);
    else
        tl_cli_derived_output(positional[0], "_rings.h5", output, sizeof output);
    tl_error err = {0};
    size_t rows = 0;
    double t0 = tl_now(), rings_s = 0.0;
    char described[256], png[TL_CONFIG_STRING_MAX + 32];
    if (run_rings(&cfg, positional[0], output, &rows, &rings_s, described, sizeof described, png, sizeof png,
                  &err) != TL_OK)
        return tl_cli_fail(&err);
    printf("tomoline rings: wrote %s: %zu rows, %s (%.2f s, of which ring removal %.2f s)\n", output, rows, described,
           tl_now() - t0, rings_s);
    if (png[0])
        printf("tomoline rings: preview of the middle sinogram before, after and removed: %s\n", png);
    return 0;
}
