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
#include "mpi_ranks.h"
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

void tl_recon_outbox(const tl_config *cfg, const char *output_abs, char *buf, size_t size)
{
    if (cfg->outbox[0]) {
        snprintf(buf, size, "%s", cfg->outbox);
        return;
    }
    const char *slash = strrchr(output_abs, '/');
    snprintf(buf, size, "%.*s/.tomoline-outbox", slash ? (int)(slash - output_abs) : 1, slash ? output_abs : ".");
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
                          .stream_json = o->stream_json,
                          .preprocessing = o->preprocessing,
                          .mpi_ranks = o->mpi_ranks,
                          .parallel = o->parallel};
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
        tl_recon_outbox(cfg, out_abs, outbox, sizeof outbox);
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

    /* Under mpirun every rank runs this function: each fallible step is agreed
     * (tl_mpi_agree) before the next collective one, so all ranks stop together. */
    const int rank = tl_mpi_rank(), ranks = tl_mpi_size();
    int started_together = 0; /* every rank passed the first agreement */
    int threads = (int)cfg->threads;
    if (threads == 0 && ranks > 1) { /* the ranks of a node share its cores */
        threads = tl_cpu_count() / tl_mpi_local_size();
        threads = threads > 0 ? threads : 1;
    }
    if ((st = tl_workers_create(threads, &workers, err)) == TL_OK)
        st = tl_slab_source_open(cfg, input, (size_t)cfg->nsino_per_chunk, workers, &src, err);
    const tl_source_info *info = st == TL_OK ? tl_slab_source_info(src) : NULL;
    size_t row_begin = 0, row_end = 0;
    if (st == TL_OK)
        st = tl_slab_source_rows(src, cfg, input, &row_begin, &row_end, err);
    if ((st = tl_mpi_agree(st, err)) != TL_OK)
        goto done;
    started_together = 1;
    size_t n_cols = info->n_cols, n_angles = info->n_angles;
    /* The axis is found once, by rank 0, and broadcast. */
    double axis = NAN;
    char axis_method[sizeof report->axis_method] = "";
    if (rank == 0) {
        const char *how = "";
        tl_cor_report search;
        if ((st = tl_recon_axis(cfg, src, row_begin, row_end, workers, &axis, &how, &search, err)) == TL_OK)
            tl_recon_axis_summary(&search, how, axis_method, sizeof axis_method);
    }
    if ((st = tl_mpi_agree(st, err)) != TL_OK)
        goto done;
    tl_mpi_bcast(&axis, sizeof axis);
    tl_mpi_bcast(axis_method, sizeof axis_method);

    /* Rows: rank k reconstructs the contiguous share [my_begin, my_end), in
     * slabs of `chunk` rows; every rank makes the same number of passes (the
     * writes are collective), a rank whose share is used up writes nothing. */
    size_t my_begin = row_begin, my_end = row_end, share = row_end - row_begin;
    if (ranks > 1) {
        size_t b, e;
        tl_mpi_split(row_end - row_begin, rank, ranks, &b, &e);
        my_begin = row_begin + b;
        my_end = row_begin + e;
        share = (row_end - row_begin + (size_t)ranks - 1) / (size_t)ranks;
    }
    size_t chunk = (size_t)cfg->nsino_per_chunk;
    if (chunk > share)
        chunk = share;
    size_t passes = (share + chunk - 1) / chunk;
    size_t n = n_cols;
    tl_fbp_desc desc = {.n_angles = n_angles, .n_cols = n_cols, .n = n, .max_slices = chunk,
                        .angles_deg = info->angles_deg, .axis = axis, .window = window, .backend = backend,
                        .algorithm = algorithm};
    char rings_described[256];
    if ((st = tl_fbp_plan_create(&desc, workers, &plan, err)) == TL_OK)
        st = tl_recon_rings_plan(cfg, n_angles, n_cols, workers, &rings, rings_described, sizeof rings_described,
                                 err);
    if (st == TL_OK && !(slices = malloc(chunk * n * n * sizeof *slices)))
        st = tl_error_set(err, TL_ERR_NOMEM, "cannot allocate %zu slices of %zu x %zu; lower --nsino-per-chunk",
                          chunk, n, n);
    if ((st = tl_mpi_agree(st, err)) != TL_OK)
        goto done;
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
    char parallel[512] = "";
    if (ranks > 1) {
        snprintf(parallel, sizeof parallel, "mpi: %d ranks (%s), %zu rows each at most, split contiguously",
                 ranks, tl_mpi_library(), share);
        tl_log_info("recon: %s; this rank (%d) has rows %zu..%zu", parallel, rank, my_begin, my_end - 1);
    }

    tl_volume_desc vdesc = {.nz = row_end - row_begin, .ny = n, .nx = n, .z_first = row_begin,
                            .float16 = strcmp(cfg->dtype, "float16") == 0, .format = format,
                            .compression = compression, .compression_level = (int)cfg->compression_level};
    if ((st = tl_volume_writer_create_shared(output, &vdesc, (int)cfg->overwrite, &writer, err)) != TL_OK)
        goto done;

    progress = tl_progress_create("recon", my_end - my_begin, "slices",
                                  rank == 0 ? tl_progress_mode_parse(cfg->progress) : TL_PROGRESS_NONE);
    double rings_s = 0, fbp_s = 0, write_s = 0;
    for (size_t pass = 0; pass < passes; pass++) {
        size_t r0 = my_begin + pass * chunk < my_end ? my_begin + pass * chunk : my_end;
        size_t r1 = r0 + chunk < my_end ? r0 + chunk : my_end, rows = r1 - r0;
        double t0 = tl_now(), t1 = t0;
        if (rows) {
            tl_progress_update(progress, report->n_slices, "read and normalize");
            st = tl_slab_source_sinograms(src, r0, r1, tl_fbp_sino_line(plan, 0, 0), tl_fbp_sino_stride(plan), err);
            if (st == TL_ERR_DATA)
                tl_error_prefix(err, "'%s'", input);
            double t_rings = tl_now();
            if (st == TL_OK && tl_rings_plan_method(rings) != TL_RINGS_NONE) {
                tl_progress_update(progress, report->n_slices, "remove rings");
                tl_rings_exec(rings, tl_fbp_sino_line(plan, 0, 0), rows, tl_fbp_sino_stride(plan));
            }
            t0 = tl_now();
            rings_s += t0 - t_rings;
            if (st == TL_OK) {
                tl_progress_update(progress, report->n_slices, "filter and backproject");
                st = tl_fbp_exec(plan, rows, slices, err);
            }
            t1 = tl_now();
        }
        if ((st = tl_mpi_agree(st, err)) != TL_OK ||
            (st = tl_volume_writer_write(writer, r0 - row_begin, rows, slices, err)) != TL_OK)
            goto done;
        fbp_s += t1 - t0;
        write_s += tl_now() - t1;
        report->n_slices += rows;
        tl_progress_update(progress, report->n_slices, "write");
    }
    tl_progress_finish(&progress);
    if ((st = tl_volume_writer_end_shared(&writer, err)) != TL_OK)
        goto done;
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
    /* the slowest rank's stage times; the counts of all ranks */
    tl_mpi_max_doubles(report->stage_seconds, 6);
    size_t counts[3] = {report->n_slices, nstats->n_floored, nstats->n_dead_pixels};
    tl_mpi_sum_sizes(counts, 3);
    report->n_slices = counts[0];

    report->n = n;
    report->row_begin = row_begin;
    report->row_end = row_end;
    report->axis = axis;
    snprintf(report->axis_method, sizeof report->axis_method, "%s", axis_method);
    report->n_floored = counts[1];
    report->n_dead_pixels = counts[2];
    if (rank != 0) /* rank 0 writes the provenance, commits and registers */
        goto done;
    char preprocessing[2048];
    tl_slab_source_preprocess_summary(src, preprocessing, sizeof preprocessing);
    if (preprocessing[0] && ranks > 1) {
        size_t used = strlen(preprocessing);
        snprintf(preprocessing + used, sizeof preprocessing - used, " (counts of rank 0's rows)");
    }
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
                           .stage_seconds = report->stage_seconds,
                           .preprocessing = preprocessing[0] ? preprocessing : NULL,
                           .mpi_ranks = ranks > 1 ? ranks : 0,
                           .parallel = parallel[0] ? parallel : NULL};
    st = tl_recon_publish(cfg, output, &writer, &out, t_start, report, err);

done:
    if (ranks > 1 && started_together) /* every rank is here: agree on the end */
        st = tl_mpi_agree(st, err);
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
    .usage = "recon INPUT [-o OUTPUT.nxs] [options] | recon INPUT... | --file-list LIST [-o DIR] [options]",
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
        "Batch: several INPUTs, or --file-list LIST (one path per line), each reconstructed into its\n"
        "own output (INPUT-STEM_rec.nxs beside it, or in the directory -o DIR); a scan whose output\n"
        "exists is skipped, so a killed job restarts where it stopped. One failed scan does not stop\n"
        "the others; the exit status is non-zero when any failed.\n\n"
        "MPI (tomoline --version says whether this build has it): mpirun -n K tomoline recon ...\n"
        "splits the rows into K contiguous slabs; the axis is found once (rank 0) and broadcast; all\n"
        "ranks write the one output file together through parallel HDF5 (NeXus output, float32 or\n"
        "float16; Debian's compression plugins exist for the serial HDF5 only); rank 0 writes the\n"
        "provenance (with the ranks) and the catalog record. docs/hpc.md has a Slurm script.\n\n"
        "examples:\n"
        "  tomoline recon scan.nxs -o scan_rec.nxs --rotation-axis 1023.5 --fbp-filter shepp\n"
        "  tomoline recon --file-list scans.txt -o /data/recon --rotation-axis auto\n"
        "  mpirun -n 8 tomoline recon big_scan.nxs -o big_rec.nxs",
    .max_positional = TL_RECON_MAX_INPUTS,
};

/* What the summary lines of one finished recon say. */
static void print_report(const tl_config *cfg, const char *output, const tl_recon_report *rep)
{
    if (strcmp(cfg->reconstruction_type, "try") == 0)
        printf("tomoline recon: wrote %s: %zu trial slices of %zu x %zu %s of row %zu around axis %.2f (%s), filter "
               "%s, %s backend\n",
               output, rep->n_slices, rep->n, rep->n, cfg->dtype, rep->row_begin, rep->axis, rep->axis_method,
               cfg->fbp_filter, rep->backend);
    else
        printf("tomoline recon: wrote %s: %zu slices of %zu x %zu %s (rows %zu..%zu), axis %.2f (%s), %s, filter %s, "
               "%s backend\n",
               output, rep->n_slices, rep->n, rep->n, cfg->dtype, rep->row_begin, rep->row_end - 1, rep->axis,
               rep->axis_method, cfg->reconstruction_algorithm, cfg->fbp_filter, rep->backend);
    printf("tomoline recon: %.2f s (%.2f slices/s; read %.2f, normalize %.2f, transpose %.2f, rings %.2f, "
           "filter+backproject %.2f, write %.2f), peak memory %.1f MiB\n",
           rep->seconds, rep->slices_per_second, rep->stage_seconds[0], rep->stage_seconds[1], rep->stage_seconds[2],
           rep->stage_seconds[3], rep->stage_seconds[4], rep->stage_seconds[5], (double)tl_cli_peak_rss() / 1048576.0);
    if (rep->preview_path[0])
        printf("tomoline recon: preview of the central slice: %s\n", rep->preview_path);
    if (rep->catalog_uuid[0]) {
        char shown[512];
        tl_catalog_redact_url(cfg->catalog, shown, sizeof shown);
        printf("tomoline recon: catalog record %s %s %s\n", rep->catalog_uuid,
               rep->catalog_queued ? "waits in the outbox for" : "registered in", shown);
    }
}

/* The inputs of a batch: the positional ones, then the lines of --file-list
 * (blank lines and # comments skipped, surrounding blanks trimmed). */
typedef struct {
    char **names;
    size_t n, cap;
} input_list;

static int add_input(input_list *l, const char *name, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **grown = realloc(l->names, cap * sizeof *grown);
        if (!grown)
            return -1;
        l->names = grown;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strndup(name, len)))
        return -1;
    l->n++;
    return 0;
}

static void free_inputs(input_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

static tl_status read_file_list(const char *path, input_list *l, tl_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tl_error_set(err, TL_ERR_IO, "--file-list '%s': %s", path, strerror(errno));
    char line[TL_CONFIG_STRING_MAX];
    size_t lineno = 0;
    tl_status st = TL_OK;
    while (st == TL_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            st = tl_error_set(err, TL_ERR_INVALID, "--file-list '%s', line %zu: longer than %zu characters", path,
                              lineno, sizeof line - 2);
            break;
        }
        char *b = line, *e = line + len;
        while (*b == ' ' || *b == '\t')
            b++;
        while (e > b && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e == b || *b == '#')
            continue;
        if (add_input(l, b, (size_t)(e - b)) != 0)
            st = tl_error_set(err, TL_ERR_NOMEM, "--file-list '%s': out of memory", path);
    }
    if (st == TL_OK && ferror(f))
        st = tl_error_set(err, TL_ERR_IO, "--file-list '%s': read error at line %zu", path, lineno + 1);
    fclose(f);
    if (st == TL_OK && l->n == 0)
        st = tl_error_set(err, TL_ERR_INVALID, "--file-list '%s' names no input (one path per line, # comments)",
                          path);
    return st;
}

/* The output of one input: -o as given for a single input; for a batch, -o is a
 * directory (default: beside each input) holding INPUT-STEM_rec.nxs (or the
 * INPUT-STEM_rec directory of TIFF slices). */
static void output_of(const tl_config *cfg, const char *input, int batch, char *out, size_t size)
{
    if (cfg->out_path_name[0] && !batch) {
        snprintf(out, size, "%s", cfg->out_path_name);
        return;
    }
    char derived[TL_CONFIG_STRING_MAX + 16];
    tl_cli_default_output(input, derived, sizeof derived);
    if (strcmp(cfg->save_format, "tiff") == 0)
        derived[strlen(derived) - 4] = '\0'; /* a directory: INPUT_rec */
    if (batch && cfg->out_path_name[0]) {
        const char *base = strrchr(derived, '/');
        snprintf(out, size, "%s/%s", cfg->out_path_name, base ? base + 1 : derived);
    } else {
        snprintf(out, size, "%s", derived);
    }
}

int tl_cmd_recon(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[TL_RECON_MAX_INPUTS];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&recon_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    tl_error err = {0};
    input_list inputs = {0};
    for (int i = 0; i < n_positional; i++)
        if (add_input(&inputs, positional[i], strlen(positional[i])) != 0) {
            free_inputs(&inputs);
            tl_error_set(&err, TL_ERR_NOMEM, "out of memory");
            return tl_cli_fail(&err);
        }
    if (cfg.file_list[0] && read_file_list(cfg.file_list, &inputs, &err) != TL_OK) {
        free_inputs(&inputs);
        return tl_cli_fail(&err);
    }
    if (inputs.n == 0) {
        fprintf(stderr, "tomoline: error: recon needs an INPUT file or --file-list (usage: tomoline %s)\n",
                recon_command.usage);
        free_inputs(&inputs);
        return 2;
    }
    int batch = inputs.n > 1 || cfg.file_list[0];
    if (batch && strcmp(cfg.reconstruction_type, "try") == 0) {
        fprintf(stderr, "tomoline: error: --reconstruction-type try takes one INPUT, not a batch of %zu\n", inputs.n);
        free_inputs(&inputs);
        return 2;
    }
    struct stat sb;
    if (batch && cfg.out_path_name[0] && (stat(cfg.out_path_name, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        fprintf(stderr, "tomoline: error: -o/--out-path-name '%s': with several inputs it names the directory of "
                        "the outputs, which must exist\n",
                cfg.out_path_name);
        free_inputs(&inputs);
        return 2;
    }
    size_t done = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < inputs.n; i++) {
        char output[TL_CONFIG_STRING_MAX + 16];
        output_of(&cfg, inputs.names[i], batch, output, sizeof output);
        /* a finished scan of an earlier run (outputs appear only when complete) */
        int exists = batch && !cfg.overwrite && stat(output, &sb) == 0;
        tl_mpi_bcast(&exists, sizeof exists); /* rank 0's view of the file system decides */
        if (exists) {
            printf("tomoline recon: skipped %s: %s exists (done by an earlier run; --overwrite redoes it)\n",
                   inputs.names[i], output);
            skipped++;
            continue;
        }
        if (batch)
            tl_log_info("recon: scan %zu of %zu: %s", i + 1, inputs.n, inputs.names[i]);
        tl_recon_report rep;
        tl_error_clear(&err);
        if (tl_recon_run(&cfg, inputs.names[i], output, &rep, &err) != TL_OK) {
            failed++;
            if (tl_mpi_rank() == 0) { /* an agreed error: rank 0 says it */
                if (batch)
                    tl_error_prefix(&err, "scan %zu of %zu", i + 1, inputs.n);
                code = tl_cli_fail(&err);
            } else {
                code = 1;
            }
            if (!batch)
                break;
            continue;
        }
        done++;
        print_report(&cfg, output, &rep);
    }
    if (batch)
        printf("tomoline recon: %zu scans: %zu reconstructed, %zu skipped (already done), %zu failed\n", inputs.n,
               done, skipped, failed);
    free_inputs(&inputs);
    return failed ? (code ? code : 1) : 0;
}
