/* recon_try.c - `recon --reconstruction-type try`: one slice at many trial
 * rotation axes, so a person can pick the sharpest (what tomocupy users know as
 * try mode).
 *
 * The slice is the middle row of --start-row..--end-row. The trial axes are
 * a - width, a - width + step, ..., a + width (a = --rotation-axis: a number,
 * 'center', or 'auto', the centre search), those outside the detector dropped;
 * at least one is kept (a itself) and at most TRY_MAX_TRIALS are allowed.
 *
 * The row's sinogram is filtered once and backprojected at each axis
 * (cor/trial.h): the ramp filter does not depend on the axis. Each slice goes
 * straight to the output volume and, reduced, into the montage, so memory is
 * one sinogram, one slice and the montage's tiles (bounded by its tile size),
 * not trials x slices.
 *
 * Outputs, both or neither (the volume is committed last; if that fails the
 * PNG just written is removed):
 *   OUT                 a volume like recon's, z = one slice per trial axis;
 *                       NeXus: /entry/data/rotation_axis [z] (@units pixel) is
 *                       the z coordinate. TIFF: slice_0000z.tif, the axes in
 *                       stdout and in provenance.txt (rotation_axis_method).
 *   OUT-without-ext_try.png   the labelled montage (io/montage.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "recon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "catalog.h"
#include "cli.h"
#include "filter.h"
#include "log.h"
#include "montage.h"
#include "preview.h"
#include "progress.h"
#include "trial.h"
#include "version.h"
#include "volume.h"

/* More trials than this is a mistake in the options, not a useful montage. */
#define TRY_MAX_TRIALS 1001

static const char *const stage_names[7] = {"read", "normalize", "transpose", "rings", "filter_backproject", "write",
                                           "montage"};

/* "DIR/out.nxs" -> "DIR/out_try.png" (the extension of the last path component
 * dropped). Caller frees. */
static char *montage_path_for(const char *output)
{
    size_t len = strlen(output);
    const char *slash = strrchr(output, '/');
    const char *base = slash ? slash + 1 : output;
    const char *dot = strrchr(base, '.');
    if (dot && dot > base)
        len = (size_t)(dot - output);
    char *p = malloc(len + sizeof "_try.png");
    if (p)
        snprintf(p, len + sizeof "_try.png", "%.*s_try.png", (int)len, output);
    return p;
}

/* Decimals that show every axis exactly (1 to 3). */
static int axis_decimals(const double *axes, size_t n)
{
    for (int d = 1; d < 3; d++) {
        double scale = pow(10.0, d);
        size_t i = 0;
        while (i < n && fabs(axes[i] * scale - nearbyint(axes[i] * scale)) < 1e-6)
            i++;
        if (i == n)
            return d;
    }
    return 3;
}

/* The trial axes around `axis`: axis - width + i * step up to axis + width,
 * those on the detector [0, n_cols - 1] kept; none left: axis alone. axes has
 * room for TRY_MAX_TRIALS (the caller checked the count). */
static size_t trial_axes(double axis, double width, double step, size_t n_total, size_t n_cols, double *axes,
                         int *only_axis)
{
    *only_axis = 0;
    size_t n = 0;
    const double tol = 1e-9;
    for (size_t i = 0; i < n_total; i++) {
        double v = axis - width + (double)i * step;
        if (v >= -tol && v <= (double)n_cols - 1.0 + tol)
            axes[n++] = v;
    }
    if (n == 0) {
        axes[n++] = axis;
        *only_axis = 1;
    }
    return n;
}

tl_status tl_recon_try(const tl_config *cfg, const char *input, const char *output, tl_recon_report *report,
                       tl_error *err)
{
    memset(report, 0, sizeof *report);
    double t_start = tl_now();
    tl_status st;
    tl_backend backend;
    tl_filter_window window;
    tl_algorithm algorithm;
    int format = 0, compression = 0;
    if ((st = tl_backend_resolve(cfg->backend, &backend, err)) != TL_OK ||
        (st = tl_filter_parse(cfg->fbp_filter, &window, err)) != TL_OK ||
        (st = tl_algorithm_parse(cfg->reconstruction_algorithm, &algorithm, err)) != TL_OK ||
        (st = tl_volume_format_parse(cfg->save_format, &format, err)) != TL_OK ||
        (st = tl_volume_compression_parse(cfg->compression, &compression, err)) != TL_OK)
        return st;
    /* cor/trial.h reconstructs on the CPU: one slice per axis is quick there. */
    if (backend != TL_BACKEND_CPU)
        tl_log_info("recon try: trial slices are reconstructed on the CPU");
    snprintf(report->backend, sizeof report->backend, "%s", tl_backend_name(TL_BACKEND_CPU));

    /* The number of trials follows from the options alone: refuse too many
     * before any work (counted in double: width / step can be huge). */
    const double width = cfg->center_search_width, step = cfg->center_search_step;
    double n_total_d = floor(2.0 * width / step + 1e-9) + 1.0;
    if (!(n_total_d <= TRY_MAX_TRIALS))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--center-search-width %g and --center-search-step %g give %.0f trial axes; at most %d "
                            "are allowed (raise --center-search-step or lower --center-search-width)",
                            width, step, n_total_d, TRY_MAX_TRIALS);
    size_t n_total = (size_t)n_total_d;

    char *png_path = montage_path_for(output);
    tl_config *recorded = malloc(sizeof *recorded);
    if (!png_path || !recorded) {
        free(png_path);
        free(recorded);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    }
    /* Credentials never reach the provenance. */
    *recorded = *cfg;
    tl_catalog_redact_url(cfg->catalog, recorded->catalog, sizeof recorded->catalog);

    /* Existing outputs are refused before any work, so nothing already written is lost. */
    struct stat sb;
    if (!cfg->overwrite && (stat(output, &sb) == 0 || stat(png_path, &sb) == 0)) {
        st = tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)",
                          stat(output, &sb) == 0 ? output : png_path);
        free(png_path);
        free(recorded);
        return st;
    }
    if (cfg->catalog[0])
        tl_log_info("recon try: --catalog ignored: trial slices are not registered");
    if (cfg->preview)
        tl_log_info("recon try: --preview ignored: the montage %s is the preview", png_path);

    tl_workers *workers = NULL;
    tl_slab_source *src = NULL;
    tl_cor_trial *trial = NULL;
    tl_volume_writer *writer = NULL;
    tl_montage *montage = NULL;
    tl_progress *progress = NULL;
    float *sino = NULL, *slice = NULL;
    double *axes = NULL;
    char *config_text = NULL, *description = NULL, *how_try = NULL;
    tl_recon_params params = {0};
    int png_written = 0;

    if ((st = tl_workers_create((int)cfg->threads, &workers, err)) != TL_OK)
        goto done;
    if ((st = tl_slab_source_open(cfg, input, 1, workers, &src, err)) != TL_OK)
        goto done;
    const tl_source_info *info = tl_slab_source_info(src);
    const size_t n_cols = info->n_cols, n_angles = info->n_angles, n = n_cols;
    size_t row_begin = 0, row_end = 0;
    if ((st = tl_slab_source_rows(src, cfg, input, &row_begin, &row_end, err)) != TL_OK)
        goto done;
    /* The middle row, as recon's preview picks the central slice. */
    const size_t row = row_begin + (row_end - row_begin) / 2;

    double axis = NAN;
    const char *how = "";
    tl_cor_report search;
    if ((st = tl_recon_axis(cfg, src, row_begin, row_end, workers, &axis, &how, &search, err)) != TL_OK)
        goto done;
    char axis_method[sizeof report->axis_method];
    tl_recon_axis_summary(&search, how, axis_method, sizeof axis_method);

    axes = malloc(TRY_MAX_TRIALS * sizeof *axes);
    sino = malloc(n_angles * n_cols * sizeof *sino);
    slice = malloc(n * n * sizeof *slice);
    if (!axes || !sino || !slice) {
        st = tl_error_set(err, TL_ERR_NOMEM, "recon try: cannot allocate a sinogram of %zu x %zu and a slice of "
                          "%zu x %zu", n_angles, n_cols, n, n);
        goto done;
    }
    int only_axis = 0;
    const size_t n_trials = trial_axes(axis, width, step, n_total, n_cols, axes, &only_axis);
    if (only_axis)
        tl_log_info("recon try: no trial axis lies on the detector (0 to %zu); the axis %.2f alone is used",
                    n_cols - 1, axis);
    else if (n_trials < n_total)
        tl_log_info("recon try: %zu of the %zu trial axes lie outside the detector (0 to %zu) and are skipped",
                    n_total - n_trials, n_total, n_cols - 1);
    const int decimals = axis_decimals(axes, n_trials);
    tl_log_info("recon try: %s: row %zu (the middle of rows %zu..%zu), %zu trial axes %.*f..%.*f (step %g) around "
                "%.2f (%s), filter %s",
                input, row, row_begin, row_end - 1, n_trials, decimals, axes[0], decimals, axes[n_trials - 1], step,
                axis, axis_method, tl_filter_name(window));

    /* One sinogram, filtered once. */
    st = tl_slab_source_sinograms(src, row, row + 1, sino, n_cols, err);
    if (st != TL_OK) {
        if (st == TL_ERR_DATA)
            tl_error_prefix(err, "'%s'", input);
        goto done;
    }
    double t_rings = tl_now();
    {
        tl_rings_plan *rings = NULL;
        char rings_described[256];
        if ((st = tl_recon_rings_plan(cfg, n_angles, n_cols, workers, &rings, rings_described,
                                      sizeof rings_described, err)) != TL_OK)
            goto done;
        tl_rings_exec(rings, sino, 1, n_cols);
        tl_rings_plan_destroy(&rings);
    }
    double rings_s = tl_now() - t_rings;
    double t_fbp = tl_now();
    tl_cor_sinograms in = {.sino = sino, .n_rows = 1, .n_angles = n_angles, .n_cols = n_cols,
                           .angles_deg = info->angles_deg};
    if ((st = tl_cor_trial_create(&in, n, window, algorithm, workers, &trial, err)) != TL_OK)
        goto done;
    double fbp_s = tl_now() - t_fbp, write_s = 0;
    free(sino);
    sino = NULL;

    /* Montage tiles: about 4096 pixels across at most, 128 to 512 per tile. */
    size_t columns = (size_t)ceil(sqrt((double)n_trials));
    size_t max_tile = 4096 / (columns ? columns : 1);
    max_tile = max_tile < 128 ? 128 : max_tile > 512 ? 512 : max_tile;
    tl_montage_desc mdesc = {.n_tiles = n_trials, .rows = n, .cols = n, .max_tile = max_tile, .columns = 0};
    if ((st = tl_montage_create(&mdesc, &montage, err)) != TL_OK)
        goto done;
    size_t tile_rows, tile_cols;
    tl_montage_tile_size(montage, &tile_rows, &tile_cols);
    report->slab_bytes = tl_slab_source_bytes(src) + n * n * sizeof(float) +
                         n_trials * tile_rows * tile_cols * sizeof(float);

    tl_volume_desc vdesc = {.nz = n_trials, .ny = n, .nx = n, .z_first = row,
                            .float16 = strcmp(cfg->dtype, "float16") == 0, .format = format,
                            .compression = compression, .compression_level = (int)cfg->compression_level};
    if ((st = tl_volume_writer_create(output, &vdesc, (int)cfg->overwrite, &writer, err)) != TL_OK)
        goto done;

    progress = tl_progress_create("recon try", n_trials, "axes", tl_progress_mode_parse(cfg->progress));
    for (size_t i = 0; i < n_trials; i++) {
        tl_progress_update(progress, i, "backproject");
        double t0 = tl_now();
        if ((st = tl_cor_trial_slices(trial, axes[i], slice, err)) != TL_OK)
            goto done;
        double t1 = tl_now();
        if ((st = tl_volume_writer_write(writer, i, 1, slice, err)) != TL_OK)
            goto done;
        double t2 = tl_now();
        char label[64];
        snprintf(label, sizeof label, "%.*f", decimals, axes[i]);
        if ((st = tl_montage_set_tile(montage, i, slice, label, err)) != TL_OK)
            goto done;
        fbp_s += t1 - t0;
        write_s += t2 - t1;
    }
    tl_progress_finish(&progress);
    report->n_slices = n_trials;

    /* The axis of each slice. NeXus: a dataset that is the z coordinate. */
    if (format == TL_VOLUME_NEXUS &&
        (st = tl_volume_writer_add_dataset_1d(writer, "rotation_axis", axes, n_trials, "pixel", 1, err)) != TL_OK)
        goto done;

    /* provenance: every parameter, and how the slices map to axes */
    size_t how_size = strlen(axis_method) + 256;
    how_try = malloc(how_size);
    if (!how_try) {
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(how_try, how_size,
             "%s; try mode: row %zu, slice z reconstructed at axis %.10g + %.10g z (z = 0..%zu)%s", axis_method,
             row, axes[0], step, n_trials - 1,
             format == TL_VOLUME_NEXUS ? ", values in /entry/data/rotation_axis" : "");
    if ((st = tl_recon_params_collect(recorded, TL_CMD_RECON, &params, err)) != TL_OK)
        goto done;
    config_text = tl_cli_config_text(recorded, TL_CMD_RECON);
    /* No SHA-256 of the input here: try mode should take seconds, and hashing a
     * large scan takes minutes. The full reconstruction records it. */
    struct stat in_st;
    if (stat(input, &in_st) == 0 && S_ISREG(in_st.st_mode) && info->kind != TL_SOURCE_SINOGRAMS &&
        format == TL_VOLUME_NEXUS) {
        tl_error cerr = {0};
        if (tl_volume_writer_copy_metadata(writer, input, info->entry_path, &cerr) != TL_OK)
            tl_log_warn("provenance: the input's sample and instrument groups were not copied: %s", cerr.message);
    }
    double stage_seconds[7] = {0};
    tl_slab_source_times(src, &stage_seconds[0], &stage_seconds[1], &stage_seconds[2]);
    stage_seconds[3] = rings_s;
    stage_seconds[4] = fbp_s;
    stage_seconds[5] = write_s;
    double t_montage = tl_now();

    /* The montage, before the volume is committed: both outputs or neither. */
    double lo = NAN, hi = NAN;
    size_t desc_size = 512 + strlen(input) + 24 * n_trials;
    description = malloc(desc_size);
    if (!description) {
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t used = (size_t)snprintf(description, desc_size,
                                   "tomoline recon try mode of %s, row %zu: one slice per trial rotation axis "
                                   "(pixels), tiles left to right, top to bottom:",
                                   input, row);
    for (size_t i = 0; i < n_trials && used < desc_size; i++)
        used += (size_t)snprintf(description + used, desc_size - used, " %.*f", decimals, axes[i]);
    if ((st = tl_montage_write_png(montage, png_path, TL_PREVIEW_CLIP_PERCENT_DEFAULT, description,
                                   (int)cfg->overwrite, &lo, &hi, err)) != TL_OK)
        goto done;
    png_written = 1;
    stage_seconds[6] = tl_now() - t_montage;

    char date[64], host[256] = "unknown";
    tl_cli_iso_date(date, sizeof date);
    gethostname(host, sizeof host - 1);
    tl_provenance prov = {.program = "tomoline",
                          .version = tl_version(),
                          .git_revision = tl_git_revision(),
                          .date = date,
                          .host = host,
                          .backend = tl_backend_name(TL_BACKEND_CPU),
                          .input_file = input,
                          .input_sha256 = NULL,
                          .rotation_axis = axis,
                          .rotation_axis_method = how_try,
                          .n_params = params.n,
                          .param_names = params.names,
                          .param_sections = params.sections,
                          .param_values = params.values,
                          .config_ini = config_text,
                          .n_stages = 7,
                          .stage_names = stage_names,
                          .stage_seconds = stage_seconds};
    if ((st = tl_volume_writer_set_provenance(writer, &prov, err)) != TL_OK)
        goto done;
    if ((st = tl_volume_writer_commit(&writer, err)) != TL_OK)
        goto done;
    png_written = 0; /* both are complete: keep them */

    report->n = n;
    report->row_begin = row;
    report->row_end = row + 1;
    report->axis = axis;
    snprintf(report->axis_method, sizeof report->axis_method, "%s", axis_method);
    for (int k = 0; k < 6; k++)
        report->stage_seconds[k] = stage_seconds[k];
    report->stage_seconds[5] += stage_seconds[6]; /* the montage counts as writing */
    report->seconds = tl_now() - t_start;
    report->slices_per_second = (double)n_trials / report->seconds;
    const tl_normalize_stats *nstats = tl_slab_source_stats(src);
    report->n_floored = nstats->n_floored;
    report->n_dead_pixels = nstats->n_dead_pixels;

    size_t png_h = 0, png_w = 0;
    tl_montage_size(montage, &png_h, &png_w);
    printf("tomoline recon: try mode: row %zu (the middle of rows %zu..%zu), %zu trial axes around %.*f (%s)\n", row,
           row_begin, row_end - 1, n_trials, decimals, axis, axis_method);
    for (size_t i = 0; i < n_trials; i++)
        printf("  %zu axis %.*f\n", i, decimals, axes[i]);
    if (format == TL_VOLUME_NEXUS)
        printf("tomoline recon: trial slices: %s (slice z at /entry/data/rotation_axis[z])\n", output);
    else
        printf("tomoline recon: trial slices: %s (slice_N.tif at axis N above)\n", output);
    printf("tomoline recon: montage: %s (%zu x %zu pixels, grey 0..255 = %.4g..%.4g)\n", png_path, png_w, png_h, lo,
           hi);
    fflush(stdout);

done:
    if (png_written)
        unlink(png_path); /* the volume failed: no montage of it either */
    tl_progress_finish(&progress);
    tl_volume_writer_abort(&writer);
    tl_montage_destroy(&montage);
    tl_cor_trial_destroy(&trial);
    tl_slab_source_close(&src);
    tl_workers_destroy(&workers);
    tl_recon_params_free(&params);
    free(config_text);
    free(description);
    free(how_try);
    free(slice);
    free(sino);
    free(axes);
    free(png_path);
    free(recorded);
    return st;
}
