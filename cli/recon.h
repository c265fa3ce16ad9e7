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
#include "status.h"

typedef struct tl_recon_report {
    size_t n_slices, n, row_begin, row_end;
    double axis;
    const char *axis_method;
    double seconds, slices_per_second;
    double stage_seconds[5]; /* read, normalize, transpose, fbp, write */
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

#endif
