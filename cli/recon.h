/* recon.h - batch reconstruction of a scan file into a NeXus volume.
 *
 * The slab loop: for each slab of --nsino-per-chunk rows, get sinograms from the
 * input (cli/slab_source.h: raw scans are read and normalized, normalized
 * projections and sinogram files are read), filter and backproject, and write the
 * slices. Memory is bounded by the slab (report->slab_bytes), never by the file.
 * The threaded streaming pipeline of pipeline/ (issue 6) will overlap these steps.
 */
#ifndef TL_RECON_H
#define TL_RECON_H

#include <stddef.h>

#include "config.h"
#include "cor.h"
#include "rings.h"
#include "slab_source.h"
#include "status.h"
#include "volume.h"
#include "workers.h"

typedef struct tl_recon_report {
    size_t n_slices, n, row_begin, row_end;
    double axis;
    char axis_method[400];   /* how the axis was found (search results when 'auto') */
    double seconds, slices_per_second;
    double stage_seconds[6]; /* read, normalize, transpose, rings, fbp, write */
    size_t slab_bytes;       /* working memory of the slab loop */
    size_t n_floored, n_dead_pixels;
    char backend[16];
    char catalog_uuid[37];   /* "" when no catalog was given */
    int catalog_queued;      /* the record waits in the outbox */
    char preview_path[4200]; /* "" unless --preview */
} tl_recon_report;

/* Reconstruct `input` into `output` with the configuration cfg (recon section).
 * On failure nothing is left at `output` (nor at output.partial). */
tl_status tl_recon_run(const tl_config *cfg, const char *input, const char *output, tl_recon_report *report,
                       tl_error *err) TL_MUST_CHECK;

/* The rotation axis that cfg asks for, for rows [row_begin, row_end) of src: a
 * number, 'center', or 'auto': tl_cor_find() with --rotation-axis-method on
 * --rotation-axis-rows rows spread evenly over the range (cli/cor.c). *method
 * is a static string or points into *search (which may be NULL unless 'auto';
 * search->method is TL_COR_METHOD_COUNT when no search ran). */
tl_status tl_recon_axis(const tl_config *cfg, tl_slab_source *src, size_t row_begin, size_t row_end,
                        tl_workers *workers, double *axis, const char **method, tl_cor_report *search,
                        tl_error *err) TL_MUST_CHECK;

/* What tl_recon_publish records about a volume and where it came from. */
/* INPUTs `recon` takes on its command line at most (--file-list takes any number). */
#define TL_RECON_MAX_INPUTS 4096

typedef struct tl_recon_output {
    const char *input;            /* the input file, or (stream) a description of the source */
    int input_is_file;            /* checksum it (and copy its metadata when copy_metadata) */
    int copy_metadata;            /* /entry/sample and /entry/instrument from the input */
    const char *input_entry_path; /* NULL: found */
    const char *sample_name;      /* for the catalog; may be NULL */
    size_t row_begin, row_end, n;
    double axis;
    const char *axis_method;
    const char *backend;
    size_t n_stages;
    const char *const *stage_names;
    const double *stage_seconds;
    const char *stream_json;      /* NULL, or the stream's report for /entry/process/stream */
    const char *preprocessing;    /* NULL, or what was done to the projections (slab_source.h) */
    int mpi_ranks;                /* > 0: the MPI ranks that wrote it (provenance) */
    const char *parallel;         /* with mpi_ranks: how they shared the work, or NULL */
} tl_recon_output;

/* Finish a volume whose slices are written: the provenance (every parameter,
 * the input's checksum), commit (rename from .partial), then --preview and the
 * catalog record. report's seconds, preview_path and catalog fields are set. */
tl_status tl_recon_publish(const tl_config *cfg, const char *output, tl_volume_writer **writer,
                           const tl_recon_output *o, double t_start, tl_recon_report *report,
                           tl_error *err) TL_MUST_CHECK;
/* Where catalog records wait when the catalog cannot be reached: --outbox, else
 * .tomoline-outbox beside the output (output_abs: its absolute path). */
void tl_recon_outbox(const tl_config *cfg, const char *output_abs, char *buf, size_t size);
/* --catalog names a backend that exists (checked before any work). */
tl_status tl_recon_check_catalog_url(const tl_config *cfg, tl_error *err) TL_MUST_CHECK;

/* The rows the centre search uses in [begin, end): --rotation-axis-rows of
 * them, spread evenly; returns how many (at most TL_RECON_AXIS_ROWS_MAX). */
#define TL_RECON_AXIS_ROWS_MAX 256
size_t tl_recon_axis_rows(const tl_config *cfg, size_t begin, size_t end, size_t *rows);
/* The search of --rotation-axis auto on sino[n_rows][n_angles][n_cols] of -log
 * data (ring removal of cfg applied first, in place); rows name them in messages. */
tl_status tl_recon_axis_search(const tl_config *cfg, float *sino, size_t n_rows, size_t n_angles, size_t n_cols,
                               const double *angles_deg, const size_t *rows, tl_workers *workers,
                               tl_cor_report *report, tl_error *err) TL_MUST_CHECK;

/* The ring-removal plan of cfg's [rings] options for n_angles x n_cols
 * sinograms (a plan that does nothing for method none), and one line that
 * describes it (cli/rings.c). */
tl_status tl_recon_rings_plan(const tl_config *cfg, size_t n_angles, size_t n_cols, tl_workers *workers,
                              tl_rings_plan **out, char *described, size_t described_size, tl_error *err) TL_MUST_CHECK;

/* Every parameter of `command` (TL_CMD_*) with its value, for the provenance
 * and the catalog. Free with tl_recon_params_free. */
typedef struct tl_recon_params {
    size_t n;
    const char **names, **sections, **values;
    char *text;
} tl_recon_params;
tl_status tl_recon_params_collect(const tl_config *cfg, unsigned command, tl_recon_params *p,
                                  tl_error *err) TL_MUST_CHECK;
void tl_recon_params_free(tl_recon_params *p);

/* One line on how the axis was found, for logs and the provenance: `how`, and
 * when a search ran, each method's value and the confidence. */
void tl_recon_axis_summary(const tl_cor_report *search, const char *how, char *buf, size_t size);

/* `recon --reconstruction-type try` (cli/recon_try.c): one slice at each trial
 * axis, written as a stack and a labelled PNG montage. */
tl_status tl_recon_try(const tl_config *cfg, const char *input, const char *output, tl_recon_report *report,
                       tl_error *err) TL_MUST_CHECK;

#endif
