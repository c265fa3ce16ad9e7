/* cor.c - `tomoline cor`: find the rotation axis of a scan; and the axis
 * resolution that recon, fbp and try mode share (tl_recon_axis). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "recon.h"

size_t tl_recon_axis_rows(const tl_config *cfg, size_t begin, size_t end, size_t *rows)
{
    /* n rows spread evenly over [begin, end), each at the centre of its share */
    size_t total = end - begin, n = (size_t)cfg->rotation_axis_rows;
    if (n > total)
        n = total;
    if (n > TL_RECON_AXIS_ROWS_MAX)
        n = TL_RECON_AXIS_ROWS_MAX;
    for (size_t k = 0; k < n; k++)
        rows[k] = begin + (size_t)(((double)k + 0.5) * (double)total / (double)n);
    return n;
}

tl_status tl_recon_axis_search(const tl_config *cfg, float *sino, size_t n_rows, size_t n_angles, size_t n_cols,
                               const double *angles_deg, const size_t *rows, tl_workers *workers,
                               tl_cor_report *report, tl_error *err)
{
    tl_cor_method method;
    tl_status st = tl_cor_method_parse(cfg->rotation_axis_method, &method, err);
    if (st == TL_OK && strcmp(cfg->remove_stripe_method, "none") != 0) {
        /* the search sees what the reconstruction will see: stripes off */
        tl_rings_plan *rings = NULL;
        char described[256];
        st = tl_recon_rings_plan(cfg, n_angles, n_cols, workers, &rings, described, sizeof described, err);
        if (st == TL_OK)
            tl_rings_exec(rings, sino, n_rows, n_cols);
        tl_rings_plan_destroy(&rings);
    }
    if (st == TL_OK) {
        tl_cor_sinograms in = {.sino = sino, .n_rows = n_rows, .n_angles = n_angles, .n_cols = n_cols,
                               .angles_deg = angles_deg};
        double centre = 0.5 * ((double)n_cols - 1.0), w = cfg->rotation_axis_window;
        tl_cor_options opt = {0};
        opt.trial_given = strcmp(cfg->rotation_axis_algorithm, "auto") != 0;
        if (opt.trial_given && (st = tl_algorithm_parse(cfg->rotation_axis_algorithm, &opt.trial_algorithm, err)) != TL_OK)
            return st;
        if (w > 0) {
            opt.window_lo = fmax(0.0, centre - w);
            opt.window_hi = fmin((double)n_cols - 1.0, centre + w);
        }
        st = tl_cor_find(&in, method, &opt, workers, report, err);
        if (st != TL_OK)
            tl_error_prefix(err, "rotation axis (--rotation-axis auto, method %s, rows %zu..%zu)",
                            cfg->rotation_axis_method, rows[0], rows[n_rows - 1]);
    }
    return st;
}

static tl_status search_axis(const tl_config *cfg, tl_slab_source *src, size_t row_begin, size_t row_end,
                             tl_workers *workers, tl_cor_report *report, size_t *rows, size_t *n_rows,
                             tl_error *err)
{
    const tl_source_info *info = tl_slab_source_info(src);
    tl_status st = TL_OK;
    size_t n = tl_recon_axis_rows(cfg, row_begin, row_end, rows);
    *n_rows = n;
    size_t line = info->n_angles * info->n_cols;
    float *sino = malloc(n * line * sizeof *sino);
    if (!sino)
        return tl_error_set(err, TL_ERR_NOMEM, "centre search: cannot allocate %zu sinograms of %zu x %zu", n,
                            info->n_angles, info->n_cols);
    for (size_t k = 0; k < n && st == TL_OK; k++)
        st = tl_slab_source_sinograms(src, rows[k], rows[k] + 1, sino + k * line, info->n_cols, err);
    if (st == TL_OK)
        st = tl_recon_axis_search(cfg, sino, n, info->n_angles, info->n_cols, info->angles_deg, rows, workers, report,
                                  err);
    free(sino);
    return st;
}

tl_status tl_recon_axis(const tl_config *cfg, tl_slab_source *src, size_t row_begin, size_t row_end,
                        tl_workers *workers, double *axis, const char **method, tl_cor_report *search,
                        tl_error *err)
{
    const tl_source_info *info = tl_slab_source_info(src);
    if (search) {
        memset(search, 0, sizeof *search);
        search->method = TL_COR_METHOD_COUNT;
    }
    if (info->stitch) { /* --file-type double_fov: the stitch fixed the axis (slab_source.c) */
        *axis = info->stitch->layout.axis_stitched;
        *method = info->stitch->how;
        return TL_OK;
    }
    if (!tl_cor_is_auto(cfg->rotation_axis))
        return tl_slab_source_resolve_axis(src, cfg->rotation_axis, axis, method, err); /* raw columns (--binning) */
    tl_cor_report local;
    tl_cor_report *rep = search ? search : &local;
    size_t rows[TL_RECON_AXIS_ROWS_MAX], n_rows = 0;
    double t0 = tl_now();
    tl_status st = search_axis(cfg, src, row_begin, row_end, workers, rep, rows, &n_rows, err);
    if (st != TL_OK)
        return st;
    *axis = rep->axis;
    *method = search ? search->how : "auto";
    tl_log_info("rotation axis %.2f (%s, confidence %.2f, %zu rows, %.2f s)", rep->axis, rep->how,
                rep->confidence, n_rows, tl_now() - t0);
    return TL_OK;
}

void tl_recon_axis_summary(const tl_cor_report *search, const char *how, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s", how);
    if (!search || search->method == TL_COR_METHOD_COUNT)
        return;
    for (int m = 0; m < TL_COR_AUTO && used < size; m++) {
        const tl_cor_estimate *e = &search->by_method[m];
        if (!e->ran)
            continue;
        if (e->found)
            used += (size_t)snprintf(buf + used, size - used, "; %s %.3f", tl_cor_method_name((tl_cor_method)m),
                                     e->axis);
        else
            used += (size_t)snprintf(buf + used, size - used, "; %s failed", tl_cor_method_name((tl_cor_method)m));
    }
    if (used < size)
        snprintf(buf + used, size - used, "; confidence %.2f", search->confidence);
}

static const tl_cli_command cor_command = {
    .name = "cor",
    .mask = TL_CMD_COR,
    .usage = "cor INPUT [--rotation-axis-method entropy|registration|vo|cnn|auto] [--start-row R] "
             "[--end-row R] [--json]",
    .summary = "Find the rotation axis (centre of rotation) of a scan.",
    .description =
        "INPUT is a raw scan (any layout `tomoline info` reads), normalized projections or a sinogram\n"
        "file. The search uses --rotation-axis-rows rows spread over --start-row..--end-row, on -log\n"
        "data, and considers axes within --rotation-axis-window pixels of the detector centre (default:\n"
        "a quarter of the width either side, the whole plausible range).\n\n"
        "methods:\n"
        "  registration  phase correlation of opposite projections (0/180 degrees, every pair on 360-degree\n"
        "                scans), one mirrored, with a sub-pixel peak fit\n"
        "  vo            Vo et al. 2014: the sinogram joined with its mirror; a Fourier double-wedge metric\n"
        "  entropy       Donath et al. 2006: the axis whose trial reconstruction has the least entropy\n"
        "  cnn           Yang et al. 2017: a small CNN scores trial reconstructions\n"
        "  auto          registration and vo, checked by entropy when they disagree (default)\n\n"
        "The axis (column coordinate: detector column j sees s = j - a; the centre is (W-1)/2) is printed\n"
        "alone on the last line of stdout, ready for --rotation-axis; --json prints an object with\n"
        "rotation_axis, method, confidence and the value of each method that ran.\n\n"
        "With --file-type double_fov (a 360-degree scan with the axis near one edge of the detector)\n"
        "the axis is found from the overlap of the two half turns (Vo et al. 2021; kernels/stitch.h) and\n"
        "printed as a detector column near the edge, with the overlap and the stitched width.\n\n"
        "examples:\n"
        "  tomoline cor scan.nxs\n"
        "  tomoline recon scan.nxs --rotation-axis $(tomoline cor scan.nxs -q | tail -n 1)\n"
        "  tomoline cor scan.h5 --rotation-axis-method vo --start-row 500 --end-row 600 --json\n"
        "  tomoline cor wide.nxs --file-type double_fov",
    .max_positional = 1,
};

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* `cor --file-type double_fov`: the axis near the edge, found from the overlap
 * of the half turns when the source was opened (kernels/stitch.h). */
static void print_stitch(const tl_config *cfg, const char *input, const tl_source_stitch *x)
{
    const tl_stitch_layout *L = &x->layout;
    const char *edge = L->side == TL_STITCH_LEFT ? "left" : "right";
    if (cfg->json) {
        printf("{\"input\": ");
        json_string(stdout, input);
        printf(", \"file_type\": \"double_fov\", \"rotation_axis\": %.3f, \"method\": \"overlap\", \"how\": ",
               x->detector_axis);
        json_string(stdout, x->how);
        printf(", \"confidence\": %.3f, \"side\": \"%s\", \"overlap\": %.3f, \"stitched_width\": %zu, "
               "\"stitched_axis\": %.3f, \"seconds\": %.3f, \"detector_centre\": %.1f, \"rows\": [",
               x->search.confidence, edge, L->overlap, L->width, L->axis_stitched, x->search_seconds,
               0.5 * ((double)L->n_cols * (double)x->binning - 1.0));
        for (size_t k = 0; k < x->n_search_rows; k++)
            printf("%s%zu", k ? ", " : "", x->search_rows[k]);
        printf("]}\n");
        return;
    }
    printf("tomoline cor: %s: 360-degree offset-axis scan (--file-type double_fov): rows", input);
    for (size_t k = 0; k < x->n_search_rows; k++)
        printf(" %zu", x->search_rows[k]);
    printf(", detector centre %.1f, %.2f s\n", 0.5 * ((double)L->n_cols * (double)x->binning - 1.0),
           x->search_seconds);
    printf("  overlap      %9.3f px at the %s edge (%zu trial axes, %zu angle pairs)\n", L->overlap, edge,
           x->search.n_trials, x->search.n_pairs);
    printf("  stitched     %9zu columns, axis at %.3f\n", L->width, L->axis_stitched);
    printf("rotation axis: overlap of the half turns (Vo et al. 2021), confidence %.2f\n", x->search.confidence);
    printf("%.2f\n", x->detector_axis); /* raw detector columns, ready for --rotation-axis */
}

int tl_cmd_cor(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&cor_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: cor needs one INPUT (usage: tomoline %s)\n", cor_command.usage);
        return 2;
    }
    const char *input = positional[0];
    tl_error err = {0};
    tl_workers *workers = NULL;
    tl_slab_source *src = NULL;
    tl_cor_report rep;
    size_t rows[TL_RECON_AXIS_ROWS_MAX], n_rows = 0, row_begin = 0, row_end = 0;
    tl_status st = tl_workers_create((int)cfg.threads, &workers, &err);
    if (st == TL_OK)
        st = tl_slab_source_open(&cfg, input, 1, workers, &src, &err);
    if (st == TL_OK)
        st = tl_slab_source_rows(src, &cfg, input, &row_begin, &row_end, &err);
    if (st == TL_OK && tl_slab_source_info(src)->stitch) { /* --file-type double_fov: found at open */
        print_stitch(&cfg, input, tl_slab_source_info(src)->stitch);
        tl_slab_source_close(&src);
        tl_workers_destroy(&workers);
        return 0;
    }
    double t0 = tl_now();
    if (st == TL_OK)
        st = search_axis(&cfg, src, row_begin, row_end, workers, &rep, rows, &n_rows, &err);
    double seconds = tl_now() - t0;
    size_t n_cols = src ? tl_slab_source_info(src)->n_cols : 0;
    tl_slab_source_close(&src);
    tl_workers_destroy(&workers);
    if (st != TL_OK) {
        tl_error_prefix(&err, "%s", input);
        return tl_cli_fail(&err);
    }
    if (cfg.json) {
        printf("{\"input\": ");
        json_string(stdout, input);
        printf(", \"rotation_axis\": %.3f, \"method\": ", rep.axis);
        json_string(stdout, tl_cor_method_name(rep.method));
        printf(", \"how\": ");
        json_string(stdout, rep.how);
        printf(", \"confidence\": %.3f, \"spread\": %.3f, \"seconds\": %.3f, \"detector_centre\": %.1f, "
               "\"rows\": [",
               rep.confidence, rep.spread, seconds, 0.5 * ((double)n_cols - 1.0));
        for (size_t k = 0; k < n_rows; k++)
            printf("%s%zu", k ? ", " : "", rows[k]);
        printf("], \"methods\": {");
        int first = 1;
        for (int m = 0; m < TL_COR_AUTO; m++) {
            const tl_cor_estimate *e = &rep.by_method[m];
            if (!e->ran)
                continue;
            printf("%s\"%s\": {", first ? "" : ", ", tl_cor_method_name((tl_cor_method)m));
            first = 0;
            if (e->found)
                printf("\"rotation_axis\": %.3f, \"confidence\": %.3f, \"seconds\": %.3f}", e->axis,
                       e->confidence, e->seconds);
            else {
                printf("\"error\": ");
                json_string(stdout, e->message);
                printf(", \"seconds\": %.3f}", e->seconds);
            }
        }
        printf("}}\n");
        return 0;
    }
    printf("tomoline cor: %s: rows", input);
    for (size_t k = 0; k < n_rows; k++)
        printf(" %zu", rows[k]);
    printf(", detector centre %.1f, %.2f s\n", 0.5 * ((double)n_cols - 1.0), seconds);
    for (int m = 0; m < TL_COR_AUTO; m++) {
        const tl_cor_estimate *e = &rep.by_method[m];
        if (!e->ran)
            continue;
        if (e->found)
            printf("  %-12s %9.3f  (confidence %.2f, %.3f s)\n", tl_cor_method_name((tl_cor_method)m), e->axis,
                   e->confidence, e->seconds);
        else
            printf("  %-12s    failed  (%s)\n", tl_cor_method_name((tl_cor_method)m), e->message);
    }
    printf("rotation axis: %s, confidence %.2f\n", rep.how, rep.confidence);
    printf("%.2f\n", rep.axis);
    return 0;
}
