/* info.c - `tomoline info INPUT [input options]`: describe a raw scan.
 *
 * Opens the scan exactly as recon does (same options, same errors), prints its
 * layout, the datasets used, shape, counts, where the flats are, the angles and
 * what looks wrong, and exits 0 when the scan is usable, 1 (with the error recon
 * would give) when it is not. Fast on any size: metadata, plus the flat, dark and
 * projection values of one detector row in the middle of the frame.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scan.h"

static const tl_cli_command info_command = {
    .name = "info",
    .mask = TL_CMD_INFO,
    .usage = "info INPUT [input options]",
    .summary = "Describe a raw scan: layout, datasets, shape, frame counts, angles, what is missing or suspicious.",
    .description =
        "INPUT is read as recon reads it: an NXtomo or Data Exchange file (detected from its content), a\n"
        "file whose datasets are named with --data-path/--image-key-path/--angles-path (each /path or\n"
        "FILE:/path), a file of projections with --flat-file-name/--dark-file-name, a directory of TIFF\n"
        "frames (proj_NNNN.tif, flat_NNNN.tif, dark_NNNN.tif, angles.txt), or normalized projections.\n"
        "Only metadata and one detector row are read. Exit status 0: the scan is usable (warnings are\n"
        "listed under 'suspicious'); 1: it is not, with the error recon would give.\n\n"
        "example:\n"
        "  tomoline info k11-18014.nxs --data-path /entry/imaging/data \\\n"
        "      --image-key-path /entry/instrument/imaging/image_key \\\n"
        "      --angles-path k11-18014/k11-18014-pcompPanda.h5:/entry/gts_theta.value/gts_theta.value",
    .max_positional = 1,
};

/* A growing list of warnings. */
typedef struct notes {
    char text[16][512];
    size_t n;
} notes;

static void note(notes *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(notes *ns, const char *fmt, ...)
{
    if (ns->n >= sizeof ns->text / sizeof ns->text[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ns->text[ns->n++], sizeof ns->text[0], fmt, ap);
    va_end(ap);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The angles line, and warnings about the angles. */
static void describe_angles(const tl_scan_info *in, notes *ns)
{
    size_t n = in->n_proj;
    const double *a = in->angles_deg;
    double lo = a[0], hi = a[0];
    for (size_t i = 1; i < n; i++) {
        lo = a[i] < lo ? a[i] : lo;
        hi = a[i] > hi ? a[i] : hi;
    }
    if (n < 2) {
        printf("angles:        %g degrees (one projection)\n", a[0]);
        note(ns, "only one projection");
        return;
    }
    double *d = malloc((n - 1) * sizeof *d);
    if (!d) {
        printf("angles:        %g to %g degrees\n", a[0], a[n - 1]);
        return;
    }
    for (size_t i = 0; i + 1 < n; i++)
        d[i] = a[i + 1] - a[i];
    double *sorted = malloc((n - 1) * sizeof *sorted);
    double median = d[0];
    if (sorted) {
        memcpy(sorted, d, (n - 1) * sizeof *d);
        qsort(sorted, n - 1, sizeof *sorted, cmp_double);
        median = sorted[(n - 1) / 2];
        free(sorted);
    }
    double step = fabs(median), min_d = d[0], max_d = d[0];
    size_t dups = 0, reversals = 0, first_dup = 0, first_rev = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        min_d = d[i] < min_d ? d[i] : min_d;
        max_d = d[i] > max_d ? d[i] : max_d;
        if (fabs(d[i]) < 1e-9) {
            if (!dups++)
                first_dup = i + 1;
        } else if (d[i] * median < 0) {
            if (!reversals++)
                first_rev = i + 1;
        }
    }
    /* Encoder readings jitter: uniform within 5% of the step. */
    int uniform = step > 0 && max_d - median <= 0.05 * step && median - min_d <= 0.05 * step;
    double range = hi - lo;
    printf("angles:        %g to %g degrees (range %g), step %g%s\n", a[0], a[n - 1], range, median,
           uniform ? " (uniform)" : " (not uniform)");
    if (!uniform && step > 0)
        note(ns, "angle steps are not uniform: from %g to %g degrees (median %g)", min_d, max_d, median);
    if (step == 0)
        note(ns, "most consecutive angles are equal (median step 0)");
    if (dups)
        note(ns, "%zu projection%s the previous angle (first: projection %zu at %g degrees)", dups,
             dups == 1 ? " repeats" : "s repeat", first_dup, a[first_dup]);
    if (reversals)
        note(ns, "angles are not monotonic: %zu step%s against the scan direction (first: projection %zu, %g -> %g "
                 "degrees)",
             reversals, reversals == 1 ? "" : "s", first_rev, a[first_rev - 1], a[first_rev]);
    /* A half or full turn sampled with n steps spans the turn minus up to a step
     * (or the turn exactly when both ends are included). */
    int ok = 0;
    const double turns[2] = {180.0, 360.0};
    for (int t = 0; t < 2; t++)
        if (range >= turns[t] - 1.5 * step - 1e-6 && range <= turns[t] + 1.5 * step + 1e-6)
            ok = 1;
    if (!ok && step > 0)
        note(ns, "the angles span %g degrees, neither about 180 nor about 360 (minus a step of %g)", range, step);
    free(d);
}

static double mean_of(const float *v, size_t n, int *finite)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            *finite = 0;
        else
            s += v[i];
    }
    return n ? s / (double)n : 0;
}

/* Read one row in the middle of the detector and compare flats, darks and
 * projections. Returns TL_OK or the read error. */
static tl_status check_intensities(tl_scan *scan, const tl_scan_info *in, notes *ns, tl_error *err)
{
    size_t row = in->n_rows / 2, cols = in->n_cols;
    float *proj = malloc(in->n_proj * cols * sizeof *proj);
    float *before = malloc(cols * sizeof *before), *after = malloc(cols * sizeof *after);
    float *dark = malloc(cols * sizeof *dark);
    tl_status st = TL_OK;
    if (!proj || !before || !after || !dark) {
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory reading row %zu of '%s'", row, in->path);
        goto done;
    }
    if ((st = tl_scan_read_projections(scan, row, row + 1, proj, err)) != TL_OK)
        goto done;
    int finite = 1;
    double mp = mean_of(proj, in->n_proj * cols, &finite);
    if (in->normalized) {
        printf("checked row:   %zu (projection mean %g)\n", row, mp);
        if (in->normalized == 2 && mp > 1.5)
            note(ns, "transmission above 1 on average in row %zu (%g): is this really normalized?", row, mp);
        if (in->normalized == 1 && mp < 0)
            note(ns, "negative line integrals on average in row %zu (%g)", row, mp);
    } else {
        if ((st = tl_scan_read_flat_pair(scan, row, row + 1, before, after, err)) != TL_OK ||
            (st = tl_scan_read_dark_mean(scan, row, row + 1, dark, err)) != TL_OK)
            goto done;
        double mb = mean_of(before, cols, &finite), ma = mean_of(after, cols, &finite);
        double md = mean_of(dark, cols, &finite);
        if (in->flat_after_weight)
            printf("checked row:   %zu (flat mean %g before, %g after; dark mean %g; projection mean %g)\n", row, mb,
                   ma, md, mp);
        else
            printf("checked row:   %zu (flat mean %g, dark mean %g, projection mean %g)\n", row, mb, md, mp);
        const char *which[2] = {in->flat_after_weight ? "flats before the projections" : "flats",
                                "flats after the projections"};
        double fm[2] = {mb, ma};
        for (int g = 0; g < (in->flat_after_weight ? 2 : 1); g++) {
            if (fm[g] == 0)
                note(ns, "%s are all zero in row %zu", which[g], row);
            else if (fm[g] <= md)
                note(ns, "%s are not brighter than the darks on average in row %zu (flat %g, dark %g)", which[g], row,
                     fm[g], md);
        }
        double mf = in->flat_after_weight ? 0.5 * (mb + ma) : mb;
        if (mf > md && mp > md + 1.05 * (mf - md))
            note(ns, "projections are brighter than the flats on average in row %zu (%g vs %g): flats and "
                     "projections swapped?",
                 row, mp, mf);
    }
    if (!finite)
        note(ns, "non-finite pixel values (NaN or infinity) in row %zu", row);
done:
    free(proj);
    free(before);
    free(after);
    free(dark);
    return st;
}

int tl_cmd_info(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&info_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: info needs one INPUT file or directory (usage: tomoline %s)\n",
                info_command.usage);
        return 2;
    }
    tl_scan_options opt;
    tl_scan_options_from_config(&cfg, &opt);
    tl_error err = {0};
    tl_scan *scan = NULL;
    if (tl_scan_open_with(positional[0], &opt, &scan, &err) != TL_OK)
        return tl_cli_fail(&err);
    const tl_scan_info *in = tl_scan_get_info(scan);
    notes ns = {.n = 0};

    printf("file:          %s\n", in->path);
    if (in->entry_path)
        printf("layout:        %s (entry %s)\n", in->layout_name, in->entry_path);
    else
        printf("layout:        %s\n", in->layout_name);
    printf("projections:   %s\n", in->data_path);
    printf("image keys:    %s\n", in->image_key_path ? in->image_key_path : "none");
    printf("flats from:    %s\n", in->flat_source);
    printf("darks from:    %s\n", in->dark_source);
    printf("angles from:   %s\n", in->angles_source);
    printf("frame shape:   %zu rows x %zu columns\n", in->n_rows, in->n_cols);
    printf("pixel type:    %s\n", in->pixel_type);
    printf("frames:        %zu projections, %zu flats, %zu darks, %zu invalid (image_key 3)\n", in->n_proj,
           in->n_flat, in->n_dark, in->n_invalid);
    if (in->flat_after_weight)
        printf("flats taken:   before and after the projections (%zu + %zu; interpolated linearly in frame index)\n",
               in->n_flat_before, in->n_flat_after);
    else
        printf("flats taken:   %s%s\n", in->flat_position,
               strcmp(in->flat_position, "before") == 0 || strcmp(in->flat_position, "after") == 0
                   ? " the projections"
               : strcmp(in->flat_position, "unknown") == 0 ? " (one set, averaged)"
                                                            : "");
    describe_angles(in, &ns);
    printf("normalized:    %s\n", in->normalized == 1   ? "yes: line integrals (-log taken; recon skips normalization)"
                                  : in->normalized == 2 ? "yes: transmission (flats and darks applied)"
                                                        : "no (raw counts)");
    printf("sample:        %s\n", in->sample_name ? in->sample_name : "(not recorded)");
    if (in->n_invalid)
        note(&ns, "%zu frame%s marked invalid (image_key 3) %s skipped", in->n_invalid, in->n_invalid == 1 ? "" : "s",
             in->n_invalid == 1 ? "is" : "are");
    if (!in->normalized && in->n_flat < 3)
        note(&ns, "only %zu flat-field frame%s: the flat mean will be noisy", in->n_flat, in->n_flat == 1 ? "" : "s");
    if (check_intensities(scan, in, &ns, &err) != TL_OK) {
        tl_scan_close(&scan);
        return tl_cli_fail(&err);
    }
    if (ns.n == 0) {
        printf("suspicious:    none\n");
    } else {
        printf("suspicious:\n");
        for (size_t i = 0; i < ns.n; i++)
            printf("  - %s\n", ns.text[i]);
    }
    tl_scan_close(&scan);
    return 0;
}
