/* stages.c - the per-stage tools: `tomoline normalize`, `sino` and `fbp`.
 *
 * Each stage writes what the next reads, so a scientist can run the chain one
 * step at a time, inspect each intermediate file, and get the same volume as
 * `tomoline recon`:
 *   normalize  raw scan -> normalized projections (NXtomo, image_key 0 only,
 *              data @tomoline_content = "line_integrals" or "transmission")
 *   sino       raw scan or normalized projections -> sinograms (io/sino_file.h)
 *   fbp        sinograms -> volume (the same code path as recon)
 * All three work in slabs of --nsino-per-chunk rows (bounded memory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "progress.h"
#include "recon.h"
#include "scan_write.h"
#include "sino_file.h"
#include "slab_source.h"
#include "workers.h"

typedef enum { STAGE_NORMALIZE, STAGE_SINO } stage_kind;

static tl_status run_stage(stage_kind kind, const tl_config *cfg, const char *input, const char *output,
                           size_t *n_rows_done, tl_error *err)
{
    tl_workers *workers = NULL;
    tl_slab_source *src = NULL;
    tl_scan_writer *proj_writer = NULL;
    tl_sino_writer *sino_writer = NULL;
    tl_progress *progress = NULL;
    float *sino = NULL;
    tl_status st;
    const char *content = cfg->minus_log ? "line_integrals" : "transmission";
    if ((st = tl_workers_create((int)cfg->threads, &workers, err)) != TL_OK)
        return st;
    if ((st = tl_slab_source_open(cfg, input, (size_t)cfg->nsino_per_chunk, workers, &src, err)) != TL_OK)
        goto done;
    const tl_source_info *info = tl_slab_source_info(src);
    if (info->kind == TL_SOURCE_SINOGRAMS) {
        st = tl_error_set(err, TL_ERR_INVALID, "'%s' already holds sinograms; give it to 'tomoline fbp'", input);
        goto done;
    }
    size_t row_begin = 0, row_end = 0;
    if ((st = tl_slab_source_rows(src, cfg, input, &row_begin, &row_end, err)) != TL_OK)
        goto done;
    size_t chunk = (size_t)cfg->nsino_per_chunk, rows_total = row_end - row_begin;
    size_t na = info->n_angles, nc = info->n_cols;
    if (kind == STAGE_NORMALIZE) {
        tl_scan_desc d = {.layout = TL_LAYOUT_NXTOMO, .pixel_type = TL_PIXEL_FLOAT32, .n_rows = rows_total,
                          .n_cols = nc, .n_proj = na, .angles_deg = info->angles_deg, .sample_name = info->sample_name,
                          .content = content};
        st = tl_scan_writer_create(output, &d, (int)cfg->overwrite, &proj_writer, err);
    } else {
        tl_sino_desc d = {.n_rows = rows_total, .n_angles = na, .n_cols = nc, .first_row = row_begin,
                          .angles_deg = info->angles_deg, .content = content};
        st = tl_sino_writer_create(output, &d, (int)cfg->overwrite, &sino_writer, err);
        if (st == TL_OK && !(sino = malloc((chunk < rows_total ? chunk : rows_total) * na * nc * sizeof *sino)))
            st = tl_error_set(err, TL_ERR_NOMEM, "cannot allocate a slab of %zu sinograms", chunk);
    }
    if (st != TL_OK)
        goto done;
    progress = tl_progress_create(kind == STAGE_NORMALIZE ? "normalize" : "sino", rows_total, "rows",
                                  tl_progress_mode_parse(cfg->progress));
    for (size_t r0 = row_begin; r0 < row_end; r0 += chunk) {
        size_t r1 = r0 + chunk < row_end ? r0 + chunk : row_end;
        if (kind == STAGE_NORMALIZE) {
            const float *proj;
            if ((st = tl_slab_source_projections(src, r0, r1, &proj, err)) != TL_OK ||
                (st = tl_scan_writer_put(proj_writer, TL_KEY_PROJECTION, 0, na, r0 - row_begin, r1 - row_begin, proj,
                                         err)) != TL_OK)
                goto done;
        } else {
            if ((st = tl_slab_source_sinograms(src, r0, r1, sino, nc, err)) != TL_OK ||
                (st = tl_sino_writer_write(sino_writer, r0 - row_begin, r1 - r0, sino, err)) != TL_OK)
                goto done;
        }
        *n_rows_done += r1 - r0;
        tl_progress_update(progress, *n_rows_done, NULL);
    }
    tl_progress_finish(&progress);
    const tl_normalize_stats *ns = tl_slab_source_stats(src);
    if (ns->n_floored)
        tl_log_warn("normalize: %zu of %zu values had a transmission <= %g and were set to it", ns->n_floored,
                    ns->n_values, (double)TL_NORMALIZE_FLOOR);
    st = kind == STAGE_NORMALIZE ? tl_scan_writer_commit(&proj_writer, err) : tl_sino_writer_commit(&sino_writer, err);
done:
    if (st != TL_OK && st == TL_ERR_DATA)
        tl_error_prefix(err, "'%s'", input);
    tl_progress_finish(&progress);
    tl_scan_writer_abort(&proj_writer);
    tl_sino_writer_abort(&sino_writer);
    free(sino);
    tl_slab_source_close(&src);
    tl_workers_destroy(&workers);
    return st;
}

static const tl_cli_command normalize_command = {
    .name = "normalize",
    .mask = TL_CMD_NORMALIZE,
    .usage = "normalize INPUT [-o OUTPUT.nxs] [options]",
    .summary = "Dark/flat-correct a scan and take -log; write the projections as NXtomo.",
    .description =
        "The output holds only projections (image_key 0), float32, with the input's angles and\n"
        "@tomoline_content = \"line_integrals\" (or \"transmission\" with --no-minus-log) on the data;\n"
        "'tomoline sino' and 'tomoline recon' read it and skip normalization.\n"
        "Default OUTPUT: INPUT without extension + _norm.nxs.",
    .max_positional = 1,
};

static const tl_cli_command sino_command = {
    .name = "sino",
    .mask = TL_CMD_SINO,
    .usage = "sino INPUT [-o OUTPUT.h5] [options]",
    .summary = "Turn a scan (raw or normalized) into sinograms [row][angle][column].",
    .description =
        "Raw input is normalized first (as 'tomoline normalize'). The output (/entry/data/data,\n"
        "float32 [rows, angles, columns], /entry/data/rotation_angle) is what 'tomoline fbp' reads.\n"
        "Default OUTPUT: INPUT without extension + _sino.h5.",
    .max_positional = 1,
};

static const tl_cli_command fbp_command = {
    .name = "fbp",
    .mask = TL_CMD_FBP,
    .usage = "fbp SINOGRAMS [-o OUTPUT.nxs] [options]",
    .summary = "Reconstruct a sinogram file (from 'tomoline sino') by filtered backprojection.",
    .description = "The same reconstruction as 'tomoline recon' from the sinograms on; the output layout and\n"
                   "provenance are those of recon. Default OUTPUT: INPUT without extension + _rec.nxs.",
    .max_positional = 1,
};

static int run_stage_command(const tl_cli_command *cmd, stage_kind kind, const char *suffix, int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(cmd, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: %s needs one INPUT file (usage: tomoline %s)\n", cmd->name, cmd->usage);
        return 2;
    }
    char output[TL_CONFIG_STRING_MAX + 16];
    if (cfg.out_path_name[0])
        snprintf(output, sizeof output, "%s", cfg.out_path_name);
    else
        tl_cli_derived_output(positional[0], suffix, output, sizeof output);
    tl_error err = {0};
    size_t rows = 0;
    double t0 = tl_now();
    if (run_stage(kind, &cfg, positional[0], output, &rows, &err) != TL_OK)
        return tl_cli_fail(&err);
    printf("tomoline %s: wrote %s: %zu rows (%.2f s)\n", cmd->name, output, rows, tl_now() - t0);
    return 0;
}

int tl_cmd_normalize(int argc, char **argv)
{
    return run_stage_command(&normalize_command, STAGE_NORMALIZE, "_norm.nxs", argc, argv);
}

int tl_cmd_sino(int argc, char **argv) { return run_stage_command(&sino_command, STAGE_SINO, "_sino.h5", argc, argv); }

int tl_cmd_fbp(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&fbp_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: fbp needs one SINOGRAMS file (usage: tomoline %s)\n", fbp_command.usage);
        return 2;
    }
    if (!tl_sino_file_detect(positional[0])) {
        fprintf(stderr,
                "tomoline: error: '%s' is not a sinogram file (make one with 'tomoline sino', or reconstruct a scan "
                "with 'tomoline recon')\n",
                positional[0]);
        return 1;
    }
    char output[TL_CONFIG_STRING_MAX + 16];
    if (cfg.out_path_name[0])
        snprintf(output, sizeof output, "%s", cfg.out_path_name);
    else
        tl_cli_derived_output(positional[0], "_rec.nxs", output, sizeof output);
    tl_recon_report rep;
    tl_error err = {0};
    if (tl_recon_run(&cfg, positional[0], output, &rep, &err) != TL_OK)
        return tl_cli_fail(&err);
    printf("tomoline fbp: wrote %s: %zu slices of %zu x %zu (rows %zu..%zu), axis %.2f (%s), filter %s, %.2f s\n",
           output, rep.n_slices, rep.n, rep.n, rep.row_begin, rep.row_end - 1, rep.axis, rep.axis_method,
           cfg.fbp_filter, rep.seconds);
    return 0;
}
