/* recon.c - `tomoline recon`: the batch slab loop (see recon.h). */
#include "recon.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "cor.h"
#include "fbp.h"
#include "filter.h"
#include "log.h"
#include "normalize.h"
#include "scan.h"
#include "transpose.h"
#include "version.h"
#include "volume.h"
#include "workers.h"

static const char *const stage_names[5] = {"read", "normalize", "transpose", "filter_backproject", "write"};

size_t tl_recon_memory(size_t n_proj, size_t n_flat, size_t n_dark, size_t n_cols, size_t rows, size_t n,
                       int threads)
{
    size_t nf = n_flat > n_dark ? n_flat : n_dark;
    size_t padded = tl_filter_padded_size(n_cols);
    return sizeof(float) * (n_proj * rows * n_cols            /* projection slab */
                            + n_proj * rows * (n_cols + 2)    /* sinogram slab (FBP plan) */
                            + rows * n * n                    /* reconstructed slices */
                            + 3 * rows * n_cols               /* flat, dark means, gain */
                            + nf * rows * n_cols              /* flats or darks being averaged */
                            + n_proj * (padded / 2 + 1)       /* filter responses */
                            + (size_t)threads * (padded + 2 + 2 * n));
}

tl_status tl_recon_run(const tl_config *cfg, const char *input, const char *output, tl_recon_report *report,
                       tl_error *err)
{
    memset(report, 0, sizeof *report);
    double t_start = tl_now();
    tl_status st;
    tl_backend backend;
    tl_filter_window window;
    if ((st = tl_backend_resolve(cfg->backend, &backend, err)) != TL_OK)
        return st;
    if ((st = tl_filter_parse(cfg->fbp_filter, &window, err)) != TL_OK)
        return st;
    snprintf(report->backend, sizeof report->backend, "%s", tl_backend_name(backend));

    /* An existing output is refused before any work, so nothing already written is lost. */
    struct stat sb;
    if (!cfg->overwrite && stat(output, &sb) == 0)
        return tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)", output);

    tl_scan *scan = NULL;
    tl_workers *workers = NULL;
    tl_fbp_plan *plan = NULL;
    tl_volume_writer *writer = NULL;
    float *proj = NULL, *flat = NULL, *dark = NULL, *slices = NULL;
    char *config_text = NULL;

    if ((st = tl_scan_open(input, &scan, err)) != TL_OK)
        return st;
    const tl_scan_info *info = tl_scan_get_info(scan);
    size_t n_rows = info->n_rows, n_cols = info->n_cols, n_proj = info->n_proj;

    /* rows */
    if ((size_t)cfg->start_row >= n_rows) {
        st = tl_error_set(err, TL_ERR_INVALID, "--start-row %ld is outside the detector (rows 0 to %zu of '%s')",
                          cfg->start_row, n_rows - 1, input);
        goto done;
    }
    size_t row_begin = (size_t)cfg->start_row;
    size_t row_end = cfg->end_row < 0 ? n_rows : (size_t)cfg->end_row;
    if (row_end > n_rows) {
        st = tl_error_set(err, TL_ERR_INVALID,
                          "--end-row %ld is past the last detector row (allowed: up to %zu, or -1 for all rows of "
                          "'%s')",
                          cfg->end_row, n_rows, input);
        goto done;
    }
    double axis = NAN;
    const char *axis_method = "";
    if ((st = tl_cor_resolve(cfg->rotation_axis, n_cols, &axis, &axis_method, err)) != TL_OK)
        goto done;

    size_t chunk = (size_t)cfg->nsino_per_chunk;
    if (chunk > row_end - row_begin)
        chunk = row_end - row_begin;
    size_t n = n_cols;
    if ((st = tl_workers_create((int)cfg->threads, &workers, err)) != TL_OK)
        goto done;
    tl_fbp_desc desc = {.n_angles = n_proj, .n_cols = n_cols, .n = n, .max_slices = chunk,
                        .angles_deg = info->angles_deg, .axis = axis, .window = window, .backend = backend};
    if ((st = tl_fbp_plan_create(&desc, workers, &plan, err)) != TL_OK)
        goto done;
    proj = malloc(n_proj * chunk * n_cols * sizeof *proj);
    flat = malloc(chunk * n_cols * sizeof *flat);
    dark = malloc(chunk * n_cols * sizeof *dark);
    slices = malloc(chunk * n * n * sizeof *slices);
    if (!proj || !flat || !dark || !slices) {
        st = tl_error_set(err, TL_ERR_NOMEM,
                          "cannot allocate a slab of %zu rows (%.1f MiB); lower --nsino-per-chunk", chunk,
                          (double)tl_recon_memory(n_proj, info->n_flat, info->n_dark, n_cols, chunk, n,
                                                  tl_workers_count(workers)) /
                              1048576.0);
        goto done;
    }
    report->slab_bytes =
        tl_recon_memory(n_proj, info->n_flat, info->n_dark, n_cols, chunk, n, tl_workers_count(workers));
    tl_log_info("recon: %s (%s): %zu projections, %zu flats, %zu darks, %zu x %zu pixels (%s)", input,
                info->layout_name, n_proj, info->n_flat, info->n_dark, n_rows, n_cols, info->pixel_type);
    tl_log_info("recon: rows %zu..%zu, axis %.2f (%s), filter %s, %s backend, %d threads, slabs of %zu rows "
                "(%.1f MiB working memory)",
                row_begin, row_end - 1, axis, axis_method, tl_filter_name(window), tl_backend_name(backend),
                tl_workers_count(workers), chunk, (double)report->slab_bytes / 1048576.0);

    tl_volume_desc vdesc = {.nz = row_end - row_begin, .ny = n, .nx = n, .z_first = row_begin,
                            .float16 = strcmp(cfg->dtype, "float16") == 0};
    if ((st = tl_volume_writer_create(output, &vdesc, (int)cfg->overwrite, &writer, err)) != TL_OK)
        goto done;

    tl_normalize_stats nstats = {0};
    double last_progress = tl_now();
    for (size_t r0 = row_begin; r0 < row_end; r0 += chunk) {
        size_t r1 = r0 + chunk < row_end ? r0 + chunk : row_end, rows = r1 - r0;
        double t0 = tl_now();
        if ((st = tl_scan_read_flat_mean(scan, r0, r1, flat, err)) != TL_OK ||
            (st = tl_scan_read_dark_mean(scan, r0, r1, dark, err)) != TL_OK ||
            (st = tl_scan_read_projections(scan, r0, r1, proj, err)) != TL_OK)
            goto done;
        double t1 = tl_now();
        if ((st = tl_normalize_cpu(proj, n_proj, rows, n_cols, flat, dark, (int)cfg->minus_log, r0, workers,
                                   &nstats, err)) != TL_OK) {
            tl_error_prefix(err, "'%s'", input);
            goto done;
        }
        double t2 = tl_now();
        /* [angle][row][col] -> the plan's [row][angle][col] lines (guarded stride) */
        tl_transpose_cpu(proj, n_proj, rows, n_cols, tl_fbp_sino_line(plan, 0, 0), tl_fbp_sino_stride(plan),
                         workers);
        double t3 = tl_now();
        if ((st = tl_fbp_exec(plan, rows, slices, err)) != TL_OK)
            goto done;
        double t4 = tl_now();
        if ((st = tl_volume_writer_write(writer, r0 - row_begin, rows, slices, err)) != TL_OK)
            goto done;
        double t5 = tl_now();
        report->stage_seconds[0] += t1 - t0;
        report->stage_seconds[1] += t2 - t1;
        report->stage_seconds[2] += t3 - t2;
        report->stage_seconds[3] += t4 - t3;
        report->stage_seconds[4] += t5 - t4;
        report->n_slices += rows;
        if (tl_now() - last_progress > 2.0 || r1 == row_end) {
            double el = tl_now() - t_start;
            tl_log_info("recon: %zu of %zu slices (%.0f%%), %.2f slices/s", report->n_slices, row_end - row_begin,
                        100.0 * (double)report->n_slices / (double)(row_end - row_begin),
                        (double)report->n_slices / el);
            last_progress = tl_now();
        }
    }
    if (nstats.n_floored)
        tl_log_warn("normalize: %zu of %zu values had a transmission <= %g (no photons above the dark) and were "
                    "set to it",
                    nstats.n_floored, nstats.n_values, (double)TL_NORMALIZE_FLOOR);
    if (nstats.n_dead_pixels)
        tl_log_warn("normalize: %zu detector pixels have flats no brighter than darks; given zero attenuation",
                    nstats.n_dead_pixels);

    /* provenance: every parameter of the table, defaults included */
    size_t n_params = 0, count = tl_config_param_count();
    const char **names = calloc(count, sizeof *names);
    const char **sections = calloc(count, sizeof *sections);
    const char **values = calloc(count, sizeof *values);
    char *value_text = calloc(count, 256);
    config_text = tl_cli_config_text(cfg, TL_CMD_RECON);
    if (!names || !sections || !values || !value_text) {
        free(names);
        free(sections);
        free(values);
        free(value_text);
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory writing the provenance");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        const tl_param_def *def = tl_config_param_at(i);
        if (!(def->commands & TL_CMD_RECON))
            continue;
        tl_config_format_value(cfg, def, value_text + 256 * n_params, 256);
        names[n_params] = def->flag;
        sections[n_params] = def->section;
        values[n_params] = value_text + 256 * n_params;
        n_params++;
    }
    char date[64], host[256] = "unknown";
    tl_cli_iso_date(date, sizeof date);
    gethostname(host, sizeof host - 1);
    report->seconds = tl_now() - t_start;
    tl_provenance prov = {.program = "tomoline",
                          .version = tl_version(),
                          .git_revision = tl_git_revision(),
                          .date = date,
                          .host = host,
                          .backend = tl_backend_name(backend),
                          .input_file = input,
                          .rotation_axis = axis,
                          .rotation_axis_method = axis_method,
                          .n_params = n_params,
                          .param_names = names,
                          .param_sections = sections,
                          .param_values = values,
                          .config_ini = config_text,
                          .n_stages = 5,
                          .stage_names = stage_names,
                          .stage_seconds = report->stage_seconds};
    st = tl_volume_writer_set_provenance(writer, &prov, err);
    free(names);
    free(sections);
    free(values);
    free(value_text);
    if (st != TL_OK)
        goto done;
    st = tl_volume_writer_commit(&writer, err);
    if (st != TL_OK)
        goto done;

    report->n = n;
    report->row_begin = row_begin;
    report->row_end = row_end;
    report->axis = axis;
    report->axis_method = axis_method;
    report->seconds = tl_now() - t_start;
    report->slices_per_second = (double)report->n_slices / report->seconds;
    report->n_floored = nstats.n_floored;
    report->n_dead_pixels = nstats.n_dead_pixels;

done:
    tl_volume_writer_abort(&writer);
    free(config_text);
    free(proj);
    free(flat);
    free(dark);
    free(slices);
    tl_fbp_plan_destroy(&plan);
    tl_workers_destroy(&workers);
    tl_scan_close(&scan);
    return st;
}

static const tl_cli_command recon_command = {
    .name = "recon",
    .mask = TL_CMD_RECON,
    .usage = "recon INPUT [-o OUTPUT.nxs] [options]",
    .summary = "Reconstruct a scan file into a NeXus/HDF5 volume.",
    .description =
        "INPUT is an HDF5 file in NXtomo or Data Exchange layout (detected from its content).\n"
        "Rows --start-row..--end-row-1 are normalized with the mean flat and dark, -log is taken,\n"
        "and each row is reconstructed by filtered backprojection on an N x N grid (N = detector\n"
        "width) centred on the rotation axis. The volume goes to /entry/data/data [z, y, x] of\n"
        "OUTPUT (default: INPUT without extension + _rec.nxs), written as OUTPUT.partial and\n"
        "renamed when complete; /entry/process records every parameter and the rotation axis.\n"
        "Values are attenuation per pixel (line integrals divided by path length in pixels).\n\n"
        "Memory: about 4 bytes x (2 x projections x rows x W + rows x W x W + flats x rows x W),\n"
        "rows = --nsino-per-chunk; the log states the figure for each run.\n\n"
        "example:\n"
        "  tomoline recon scan.nxs -o scan_rec.nxs --rotation-axis 1023.5 --fbp-filter shepp",
    .max_positional = 1,
};

int tl_cmd_recon(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&recon_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: recon needs one INPUT file (usage: tomoline %s)\n", recon_command.usage);
        return 2;
    }
    char output[TL_CONFIG_STRING_MAX + 16];
    if (cfg.out_path_name[0])
        snprintf(output, sizeof output, "%s", cfg.out_path_name);
    else
        tl_cli_default_output(positional[0], output, sizeof output);
    tl_recon_report rep;
    tl_error err = {0};
    if (tl_recon_run(&cfg, positional[0], output, &rep, &err) != TL_OK)
        return tl_cli_fail(&err);
    printf("tomoline recon: wrote %s: %zu slices of %zu x %zu %s (rows %zu..%zu), axis %.2f (%s), filter %s, "
           "%s backend\n",
           output, rep.n_slices, rep.n, rep.n, cfg.dtype, rep.row_begin, rep.row_end - 1, rep.axis, rep.axis_method,
           cfg.fbp_filter, rep.backend);
    printf("tomoline recon: %.2f s (%.2f slices/s; read %.2f, normalize %.2f, transpose %.2f, filter+backproject "
           "%.2f, write %.2f), peak memory %.1f MiB\n",
           rep.seconds, rep.slices_per_second, rep.stage_seconds[0], rep.stage_seconds[1], rep.stage_seconds[2],
           rep.stage_seconds[3], rep.stage_seconds[4], (double)tl_cli_peak_rss() / 1048576.0);
    return 0;
}
