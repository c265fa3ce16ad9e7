/* recon.c - `tomoline recon`: the batch slab loop (see recon.h). */
#include "recon.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "catalog.h"
#include "preview.h"
#include "sha256.h"
#include "cli.h"
#include "cor.h"
#include "fbp.h"
#include "filter.h"
#include "log.h"
#include "normalize.h"
#include "progress.h"
#include "slab_source.h"
#include "version.h"
#include "volume.h"
#include "workers.h"

static const char *const stage_names[6] = {"read", "normalize", "transpose", "rings", "filter_backproject", "write"};

void tl_recon_params_free(tl_recon_params *p)
{
    free(p->names);
    free(p->sections);
    free(p->values);
    free(p->text);
    memset(p, 0, sizeof *p);
}

tl_status tl_recon_params_collect(const tl_config *cfg, unsigned command, tl_recon_params *p, tl_error *err)
{
    size_t count = tl_config_param_count();
    memset(p, 0, sizeof *p);
    p->names = calloc(count, sizeof *p->names);
    p->sections = calloc(count, sizeof *p->sections);
    p->values = calloc(count, sizeof *p->values);
    p->text = calloc(count, TL_CONFIG_STRING_MAX);
    if (!p->names || !p->sections || !p->values || !p->text) {
        tl_recon_params_free(p);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory collecting the parameters");
    }
    for (size_t i = 0; i < count; i++) {
        const tl_param_def *def = tl_config_param_at(i);
        if (!(def->commands & command))
            continue;
        char *value = p->text + TL_CONFIG_STRING_MAX * p->n;
        tl_config_format_value(cfg, def, value, TL_CONFIG_STRING_MAX);
        p->names[p->n] = def->flag;
        p->sections[p->n] = def->section;
        p->values[p->n] = value;
        p->n++;
    }
    return TL_OK;
}

tl_status tl_recon_check_catalog_url(const tl_config *cfg, tl_error *err)
{
    if (cfg->catalog[0] && !(strncmp(cfg->catalog, "sqlite:", 7) == 0 && cfg->catalog[7]) &&
        strncmp(cfg->catalog, "postgresql://", 13) != 0 && strncmp(cfg->catalog, "postgres://", 11) != 0) {
        char shown[512];
        tl_catalog_redact_url(cfg->catalog, shown, sizeof shown);
        return tl_error_set(err, TL_ERR_INVALID,
                            "--catalog '%s': unknown catalog scheme (allowed: sqlite:PATH, postgresql://...)", shown);
    }
    return TL_OK;
}

tl_status tl_recon_publish(const tl_config *cfg, const char *output, tl_volume_writer **writer,
                           const tl_recon_output *o, double t_start, tl_recon_report *report, tl_error *err)
{
    tl_status st;
    tl_recon_params params = {0};
    char *config_text = NULL;
    int format = 0;
    if ((st = tl_volume_format_parse(cfg->save_format, &format, err)) != TL_OK)
        return st;
    /* Credentials never reach the provenance: the recorded configuration has the URL redacted. */
    tl_config *recorded = malloc(sizeof *recorded);
    if (!recorded)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    *recorded = *cfg;
    tl_catalog_redact_url(cfg->catalog, recorded->catalog, sizeof recorded->catalog);

    /* provenance: every parameter of the table, defaults included */
    if ((st = tl_recon_params_collect(recorded, TL_CMD_RECON, &params, err)) != TL_OK)
        goto done;
    config_text = tl_cli_config_text(recorded, TL_CMD_RECON);
    /* where the result came from: the input's checksum and its sample/instrument groups */
    struct stat in_st;
    char sha[65] = "";
    if (o->input_is_file && stat(o->input, &in_st) == 0 && S_ISREG(in_st.st_mode)) {
        double t_sha = tl_now();
        if ((st = tl_sha256_file(o->input, sha, err)) != TL_OK)
            goto done;
        tl_log_debug("recon: SHA-256 of %s in %.2f s", o->input, tl_now() - t_sha);
        if (o->copy_metadata && format == TL_VOLUME_NEXUS) {
            tl_error cerr = {0};
            if (tl_volume_writer_copy_metadata(*writer, o->input, o->input_entry_path, &cerr) != TL_OK)
                tl_log_warn("provenance: the input's sample and instrument groups were not copied: %s", cerr.message);
        }
    }
    char date[64], host[256] = "unknown";
    tl_cli_iso_date(date, sizeof date);
    gethostname(host, sizeof host - 1);
    tl_provenance prov = {.program = "tomoline",
                          .version = tl_version(),
                          .git_revision = tl_git_revision(),
                          .date = date,
                          .host = host,
                          .backend = o->backend,
                          .input_file = o->input,
                          .input_sha256 = sha[0] ? sha : NULL,
                          .rotation_axis = o->axis,
                          .rotation_axis_method = o->axis_method,
                          .n_params = params.n,
                          .param_names = params.names,
                          .param_sections = params.sections,
                          .param_values = params.values,
                          .config_ini = config_text,
                          .n_stages = o->n_stages,
                          .stage_names = o->stage_names,
                          .stage_seconds = o->stage_seconds,
                          .stream_json = o->stream_json};
    if ((st = tl_volume_writer_set_provenance(*writer, &prov, err)) != TL_OK)
        goto done;
    if ((st = tl_volume_writer_commit(writer, err)) != TL_OK)
        goto done;
    report->seconds = tl_now() - t_start;
    report->slices_per_second = (double)report->n_slices / report->seconds;

    /* After the file is complete: the preview, then the catalog record. A failure
     * here is reported, and the volume (already complete) is kept. */
    if (cfg->preview) {
        tl_preview_default_path(output, 'z', (o->row_end - o->row_begin) / 2, report->preview_path,
                                sizeof report->preview_path);
        if ((st = tl_preview_volume(output, 'z', -1, TL_PREVIEW_CLIP_PERCENT_DEFAULT, report->preview_path,
                                    (int)cfg->overwrite, err)) != TL_OK) {
            tl_error_prefix(err, "the volume %s is complete, but its preview failed", output);
            report->preview_path[0] = '\0';
            goto done;
        }
    }
    if (cfg->catalog[0]) {
        char in_abs[PATH_MAX], out_abs[PATH_MAX], checksum[80], outbox[TL_CONFIG_STRING_MAX + 32];
        if (!o->input_is_file || !realpath(o->input, in_abs))
            snprintf(in_abs, sizeof in_abs, "%s", o->input);
        if (!realpath(output, out_abs))
            snprintf(out_abs, sizeof out_abs, "%s", output);
        snprintf(checksum, sizeof checksum, "sha256:%s", sha);
        if (cfg->outbox[0]) {
            snprintf(outbox, sizeof outbox, "%s", cfg->outbox);
        } else {
            const char *slash = strrchr(out_abs, '/');
            snprintf(outbox, sizeof outbox, "%.*s/.tomoline-outbox", slash ? (int)(slash - out_abs) : 1,
                     slash ? out_abs : ".");
        }
        tl_catalog_record rec = {.output_path = out_abs,
                                 .input_path = in_abs,
                                 .checksum = sha[0] ? checksum : NULL,
                                 .created = date,
                                 .sample = o->sample_name,
                                 .shape = {o->row_end - o->row_begin, o->n, o->n},
                                 .rotation_axis = o->axis,
                                 .n_params = params.n,
                                 .param_names = params.names,
                                 .param_values = params.values,
                                 .status = "complete"};
        if ((st = tl_catalog_register(cfg->catalog, &rec, outbox, cfg->catalog_timeout, &report->catalog_queued,
                                      report->catalog_uuid, err)) != TL_OK) {
            tl_error_prefix(err, "the volume %s is complete, but its catalog record failed", output);
            goto done;
        }
    }
done:
    tl_recon_params_free(&params);
    free(config_text);
    free(recorded);
    return st;
}

tl_status tl_recon_run(const tl_config *cfg, const char *input, const char *output, tl_recon_report *report,
                       tl_error *err)
{
    if (strcmp(cfg->reconstruction_type, "try") == 0)
        return tl_recon_try(cfg, input, output, report, err);
    memset(report, 0, sizeof *report);
    double t_start = tl_now();
    tl_status st;
    tl_backend backend;
    tl_filter_window window;
    if ((st = tl_backend_resolve(cfg->backend, &backend, err)) != TL_OK)
        return st;
    tl_algorithm algorithm;
    if ((st = tl_filter_parse(cfg->fbp_filter, &window, err)) != TL_OK ||
        (st = tl_algorithm_parse(cfg->reconstruction_algorithm, &algorithm, err)) != TL_OK)
        return st;
    snprintf(report->backend, sizeof report->backend, "%s", tl_backend_name(backend));

    int format = 0, compression = 0;
    if ((st = tl_volume_format_parse(cfg->save_format, &format, err)) != TL_OK ||
        (st = tl_volume_compression_parse(cfg->compression, &compression, err)) != TL_OK)
        return st;
    /* A catalog URL that cannot work is refused before hours of reconstruction. */
    if ((st = tl_recon_check_catalog_url(cfg, err)) != TL_OK)
        return st;
    /* An existing output is refused before any work, so nothing already written is lost. */
    struct stat sb;
    if (!cfg->overwrite && stat(output, &sb) == 0)
        return tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)", output);

    tl_slab_source *src = NULL;
    tl_workers *workers = NULL;
    tl_fbp_plan *plan = NULL;
    tl_rings_plan *rings = NULL;
    tl_volume_writer *writer = NULL;
    tl_progress *progress = NULL;
    float *slices = NULL;

    if ((st = tl_workers_create((int)cfg->threads, &workers, err)) != TL_OK)
        return st;
    if ((st = tl_slab_source_open(cfg, input, (size_t)cfg->nsino_per_chunk, workers, &src, err)) != TL_OK)
        goto done;
    const tl_source_info *info = tl_slab_source_info(src);
    size_t n_cols = info->n_cols, n_angles = info->n_angles;
    size_t row_begin = 0, row_end = 0;
    if ((st = tl_slab_source_rows(src, cfg, input, &row_begin, &row_end, err)) != TL_OK)
        goto done;
    double axis = NAN;
    const char *how = "";
    tl_cor_report search;
    if ((st = tl_recon_axis(cfg, src, row_begin, row_end, workers, &axis, &how, &search, err)) != TL_OK)
        goto done;
    char axis_method[sizeof report->axis_method];
    tl_recon_axis_summary(&search, how, axis_method, sizeof axis_method);

    size_t chunk = (size_t)cfg->nsino_per_chunk;
    if (chunk > row_end - row_begin)
        chunk = row_end - row_begin;
    size_t n = n_cols;
    tl_fbp_desc desc = {.n_angles = n_angles, .n_cols = n_cols, .n = n, .max_slices = chunk,
                        .angles_deg = info->angles_deg, .axis = axis, .window = window, .backend = backend,
                        .algorithm = algorithm};
    if ((st = tl_fbp_plan_create(&desc, workers, &plan, err)) != TL_OK)
        goto done;
    char rings_described[256];
    if ((st = tl_recon_rings_plan(cfg, n_angles, n_cols, workers, &rings, rings_described, sizeof rings_described,
                                  err)) != TL_OK)
        goto done;
    slices = malloc(chunk * n * n * sizeof *slices);
    if (!slices) {
        st = tl_error_set(err, TL_ERR_NOMEM, "cannot allocate %zu slices of %zu x %zu; lower --nsino-per-chunk",
                          chunk, n, n);
        goto done;
    }
    report->slab_bytes = tl_slab_source_bytes(src) + tl_fbp_plan_bytes(plan) + tl_rings_plan_bytes(rings) +
                         chunk * n * n * sizeof(float);
    if (info->kind == TL_SOURCE_SINOGRAMS)
        tl_log_info("recon: %s (sinograms): rows %zu..%zu, %zu angles, %zu columns", input, info->first_row,
                    info->first_row + info->n_rows - 1, n_angles, n_cols);
    else
        tl_log_info("recon: %s (%s%s): %zu projections, %zu flats, %zu darks, %zu x %zu pixels", input,
                    info->description, info->kind == TL_SOURCE_NORMALIZED ? ", normalized" : "", n_angles,
                    info->n_flat, info->n_dark, info->n_rows, n_cols);
    tl_log_info("recon: rows %zu..%zu, axis %.2f (%s), ring removal %s, %s, filter %s, %s backend, %d threads, slabs "
                "of %zu rows (%.1f MiB working memory)",
                row_begin, row_end - 1, axis, axis_method, rings_described, tl_algorithm_name(algorithm),
                tl_filter_name(window),
                tl_backend_name(backend),
                tl_workers_count(workers), chunk, (double)report->slab_bytes / 1048576.0);

    tl_volume_desc vdesc = {.nz = row_end - row_begin, .ny = n, .nx = n, .z_first = row_begin,
                            .float16 = strcmp(cfg->dtype, "float16") == 0, .format = format,
                            .compression = compression, .compression_level = (int)cfg->compression_level};
    if ((st = tl_volume_writer_create(output, &vdesc, (int)cfg->overwrite, &writer, err)) != TL_OK)
        goto done;

    progress = tl_progress_create("recon", row_end - row_begin, "slices", tl_progress_mode_parse(cfg->progress));
    double rings_s = 0, fbp_s = 0, write_s = 0;
    for (size_t r0 = row_begin; r0 < row_end; r0 += chunk) {
        size_t r1 = r0 + chunk < row_end ? r0 + chunk : row_end, rows = r1 - r0;
        tl_progress_update(progress, report->n_slices, "read and normalize");
        st = tl_slab_source_sinograms(src, r0, r1, tl_fbp_sino_line(plan, 0, 0), tl_fbp_sino_stride(plan), err);
        if (st != TL_OK) {
            if (st == TL_ERR_DATA)
                tl_error_prefix(err, "'%s'", input);
            goto done;
        }
        double t_rings = tl_now();
        if (tl_rings_plan_method(rings) != TL_RINGS_NONE) {
            tl_progress_update(progress, report->n_slices, "remove rings");
            tl_rings_exec(rings, tl_fbp_sino_line(plan, 0, 0), rows, tl_fbp_sino_stride(plan));
        }
        double t0 = tl_now();
        rings_s += t0 - t_rings;
        tl_progress_update(progress, report->n_slices, "filter and backproject");
        if ((st = tl_fbp_exec(plan, rows, slices, err)) != TL_OK)
            goto done;
        double t1 = tl_now();
        if ((st = tl_volume_writer_write(writer, r0 - row_begin, rows, slices, err)) != TL_OK)
            goto done;
        fbp_s += t1 - t0;
        write_s += tl_now() - t1;
        report->n_slices += rows;
        tl_progress_update(progress, report->n_slices, "write");
    }
    tl_progress_finish(&progress);
    const tl_normalize_stats *nstats = tl_slab_source_stats(src);
    if (nstats->n_floored)
        tl_log_warn("normalize: %zu of %zu values had a transmission <= %g (no photons above the dark) and were "
                    "set to it",
                    nstats->n_floored, nstats->n_values, (double)TL_NORMALIZE_FLOOR);
    if (nstats->n_dead_pixels)
        tl_log_warn("normalize: %zu detector pixels have flats no brighter than darks; given zero attenuation",
                    nstats->n_dead_pixels);
    tl_slab_source_times(src, &report->stage_seconds[0], &report->stage_seconds[1], &report->stage_seconds[2]);
    report->stage_seconds[3] = rings_s;
    report->stage_seconds[4] = fbp_s;
    report->stage_seconds[5] = write_s;

    report->n = n;
    report->row_begin = row_begin;
    report->row_end = row_end;
    report->axis = axis;
    snprintf(report->axis_method, sizeof report->axis_method, "%s", axis_method);
    report->n_floored = nstats->n_floored;
    report->n_dead_pixels = nstats->n_dead_pixels;
    tl_recon_output out = {.input = input,
                           .input_is_file = 1,
                           .copy_metadata = info->kind != TL_SOURCE_SINOGRAMS,
                           .input_entry_path = info->entry_path,
                           .sample_name = info->sample_name,
                           .row_begin = row_begin,
                           .row_end = row_end,
                           .n = n,
                           .axis = axis,
                           .axis_method = axis_method,
                           .backend = tl_backend_name(backend),
                           .n_stages = 6,
                           .stage_names = stage_names,
                           .stage_seconds = report->stage_seconds};
    st = tl_recon_publish(cfg, output, &writer, &out, t_start, report, err);

done:
    tl_progress_finish(&progress);
    tl_volume_writer_abort(&writer);
    free(slices);
    tl_rings_plan_destroy(&rings);
    tl_fbp_plan_destroy(&plan);
    tl_slab_source_close(&src);
    tl_workers_destroy(&workers);
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
    if (!cfg.out_path_name[0] && strcmp(cfg.save_format, "tiff") == 0)
        output[strlen(output) - 4] = '\0'; /* a directory: INPUT_rec */
    tl_recon_report rep;
    tl_error err = {0};
    if (tl_recon_run(&cfg, positional[0], output, &rep, &err) != TL_OK)
        return tl_cli_fail(&err);
    if (strcmp(cfg.reconstruction_type, "try") == 0)
        printf("tomoline recon: wrote %s: %zu trial slices of %zu x %zu %s of row %zu around axis %.2f (%s), filter "
               "%s, %s backend\n",
               output, rep.n_slices, rep.n, rep.n, cfg.dtype, rep.row_begin, rep.axis, rep.axis_method,
               cfg.fbp_filter, rep.backend);
    else
        printf("tomoline recon: wrote %s: %zu slices of %zu x %zu %s (rows %zu..%zu), axis %.2f (%s), %s, filter %s, "
               "%s backend\n",
               output, rep.n_slices, rep.n, rep.n, cfg.dtype, rep.row_begin, rep.row_end - 1, rep.axis,
               rep.axis_method, cfg.reconstruction_algorithm, cfg.fbp_filter, rep.backend);
    printf("tomoline recon: %.2f s (%.2f slices/s; read %.2f, normalize %.2f, transpose %.2f, rings %.2f, "
           "filter+backproject %.2f, write %.2f), peak memory %.1f MiB\n",
           rep.seconds, rep.slices_per_second, rep.stage_seconds[0], rep.stage_seconds[1], rep.stage_seconds[2],
           rep.stage_seconds[3], rep.stage_seconds[4], rep.stage_seconds[5], (double)tl_cli_peak_rss() / 1048576.0);
    if (rep.preview_path[0])
        printf("tomoline recon: preview of the central slice: %s\n", rep.preview_path);
    if (rep.catalog_uuid[0]) {
        char shown[512];
        tl_catalog_redact_url(cfg.catalog, shown, sizeof shown);
        printf("tomoline recon: catalog record %s %s %s\n", rep.catalog_uuid,
               rep.catalog_queued ? "waits in the outbox for" : "registered in", shown);
    }
    return 0;
}
