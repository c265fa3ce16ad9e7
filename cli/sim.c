/* sim.c - `tomoline sim` and `tomoline demo`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "cli.h"
#include "log.h"
#include "recon.h"
#include "scan_write.h"
#include "sim.h"
#include "stitch.h"
#include "volume.h"
#include "workers.h"

/* NAME.nxs -> NAME_truth.nxs (the extension is kept; none -> .nxs). */
static void truth_path_for(const char *scan, char *out, size_t size)
{
    const char *slash = strrchr(scan, '/');
    const char *dot = strrchr(scan, '.');
    if (dot && (!slash || dot > slash + 1))
        snprintf(out, size, "%.*s_truth%s", (int)(dot - scan), scan, dot);
    else
        snprintf(out, size, "%s_truth.nxs", scan);
}

static void sim_params_from_config(const tl_config *cfg, tl_sim_params *p)
{
    tl_sim_params_default(p);
    p->size = (size_t)cfg->size;
    p->angles = (size_t)cfg->angles;
    p->slices = (size_t)cfg->slices;
    p->arc_deg = strcmp(cfg->arc, "360") == 0 ? 360.0 : 180.0;
    p->axis_offset = cfg->axis_offset;
    p->double_fov = (int)cfg->double_fov;
    p->phantom = strcmp(cfg->phantom, "ellipses") == 0 ? TL_PHANTOM_ELLIPSES : TL_PHANTOM_SHEPP_LOGAN;
    p->n_ellipses = (size_t)cfg->ellipses;
    p->seed = (uint64_t)cfg->seed;
    p->photons = cfg->photons;
    p->gain_error = cfg->gain_error;
    p->defective_columns = (size_t)cfg->defective_columns;
    p->defect_strength = cfg->defect_strength;
    p->n_flat = (size_t)cfg->flats;
    p->n_dark = (size_t)cfg->darks;
    p->layout = strcmp(cfg->layout, "dxchange") == 0 ? TL_LAYOUT_DXCHANGE : TL_LAYOUT_NXTOMO;
    p->pixel_type = strcmp(cfg->pixel_type, "uint16") == 0    ? TL_PIXEL_UINT16
                    : strcmp(cfg->pixel_type, "float32") == 0 ? TL_PIXEL_FLOAT32
                                                              : -1;
    p->overwrite = (int)cfg->overwrite;
    /* issue 10: phase contrast (the [recon] physics shared with Paganin retrieval), zingers, beam drift */
    p->distance_mm = cfg->propagation_distance;
    p->energy_kev = cfg->energy;
    p->pixel_size_um = cfg->pixel_size;
    p->delta_beta = cfg->delta_beta;
    p->zingers = cfg->zingers;
    p->beam_drift = cfg->beam_drift;
}

static const tl_cli_command sim_command = {
    .name = "sim",
    .mask = TL_CMD_SIM,
    .usage = "sim -o SCAN.nxs [options]",
    .summary = "Write a simulated parallel-beam scan with exact projections of an ellipsoid phantom.",
    .description =
        "The scan (darks, flats, projections, angles) is written in NXtomo or Data Exchange layout;\n"
        "the ground-truth volume goes beside it as SCAN_truth.nxs (same layout as a reconstruction),\n"
        "so any reconstruction can be compared with it. The rotation axis is at column\n"
        "(size-1)/2 + --axis-offset. Values are attenuation per pixel.\n\n"
        "Phase contrast (--propagation-distance > 0, with --energy, --pixel-size, --delta-beta): the\n"
        "phantom is one material; each projection's exit wave exp(-(1 + i delta/beta) p / 2) (p the\n"
        "line integral) is propagated by the Fresnel transfer function exp(-i pi lambda z |f|^2) on a\n"
        "padded grid (open beam past the sides, mirror images past the first and last rows) and the\n"
        "detector records |psi|^2: fringes at edges, which --retrieve-phase-method paganin removes.\n"
        "Rows are 0.5 R / slices pixels apart (R = size/2 - 3): square for --size 130 --slices 31.\n"
        "Zingers (--zingers F): a fraction F of every frame's pixels gets 1 to 2 x the flat counts\n"
        "added (the counts are printed). Beam drift (--beam-drift d): frame k of n is lit by\n"
        "1 + d sin(2 pi 2.5 (k + 1/2) / n), recorded in /entry/control/data (NXtomo).\n\n"
        "examples:\n"
        "  tomoline sim -o sl.nxs --size 512 --angles 720 --axis-offset 3.5\n"
        "  tomoline sim -o noisy.nxs --phantom ellipses --photons 20000 --gain-error 0.002 \\\n"
        "      --defective-columns 4 --arc 360 --layout dxchange\n"
        "  tomoline sim -o pc.nxs --size 130 --slices 31 --propagation-distance 100 --energy 20 \\\n"
        "      --pixel-size 1 --delta-beta 100     # Fresnel phase contrast of one material\n"
        "  tomoline sim -o z.nxs --zingers 1e-4 --beam-drift 0.1   # zingers and a beam monitor to correct\n"
        "  tomoline sim -o wide.nxs --double-fov --arc 360 --angles 720 --axis-offset -110   # axis at column 17.5",
    .max_positional = 0,
};

int tl_cmd_sim(int argc, char **argv)
{
    tl_config cfg;
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&sim_command, argc, argv, &cfg, NULL, &n_positional, &code))
        return code;
    if (!cfg.out_path_name[0]) {
        fprintf(stderr, "tomoline: error: sim needs an output file (-o SCAN.nxs)\n");
        return 2;
    }
    tl_sim_params p;
    sim_params_from_config(&cfg, &p);
    char truth[TL_CONFIG_STRING_MAX + 16];
    truth_path_for(cfg.out_path_name, truth, sizeof truth);
    tl_error err = {0};
    tl_workers *workers = NULL;
    double t0 = tl_now();
    if (tl_workers_create((int)cfg.threads, &workers, &err) != TL_OK)
        return tl_cli_fail(&err);
    tl_sim_counts injected = {0};
    p.counts = &injected;
    tl_status st = tl_sim_write(&p, cfg.out_path_name, cfg.truth ? truth : NULL, workers, &err);
    tl_workers_destroy(&workers);
    if (st != TL_OK)
        return tl_cli_fail(&err);
    printf("tomoline sim: wrote %s: %s phantom, %zu projections over %g degrees, %zu darks, %zu flats, "
           "%zu x %zu pixels, rotation axis at column %.2f, %s (%.1f s)\n",
           cfg.out_path_name, cfg.phantom, p.angles, p.arc_deg, p.n_dark, p.n_flat, p.slices, p.size,
           0.5 * ((double)p.size - 1) + p.axis_offset,
           p.photons > 0 ? "Poisson noise" : "noise-free", tl_now() - t0);
    if (p.double_fov) {
        tl_stitch_layout layout;
        if (tl_stitch_layout_for(p.size, 0.5 * ((double)p.size - 1) + p.axis_offset, &layout, &err) == TL_OK)
            printf("tomoline sim: 360-degree offset-axis scan: overlap %.2f px at the %s edge; reconstruct with "
                   "--file-type double_fov (stitched width %zu, the truth's width)\n",
                   layout.overlap, layout.side == TL_STITCH_LEFT ? "left" : "right", layout.width);
    }
    if (p.distance_mm > 0)
        printf("tomoline sim: phase contrast: delta/beta %g, %g keV, %g mm, %g um pixels (retrieve with "
               "--retrieve-phase-method paganin and the same values)\n",
               p.delta_beta, p.energy_kev, p.distance_mm, p.pixel_size_um);
    if (p.zingers > 0)
        printf("tomoline sim: zingers: %zu in projections, %zu in flats, %zu in darks\n", injected.zingers_proj,
               injected.zingers_flat, injected.zingers_dark);
    if (p.beam_drift > 0)
        printf("tomoline sim: beam intensity drifts by up to %g%%, recorded per frame in /entry/control/data\n",
               100.0 * p.beam_drift);
    if (cfg.truth)
        printf("tomoline sim: ground truth in %s\n", truth);
    return 0;
}

/* ---- demo --------------------------------------------------------------------------------- */

static const tl_cli_command demo_command = {
    .name = "demo",
    .mask = TL_CMD_DEMO,
    .usage = "demo [-o DIR] [options]",
    .summary = "Simulate a scan, reconstruct it, and compare the result with the ground truth.",
    .description =
        "Writes DIR/scan.nxs and DIR/scan_truth.nxs (tomoline sim), then DIR/recon.nxs (tomoline\n"
        "recon, which finds the rotation axis: --rotation-axis auto; the demo prints how far it is\n"
        "from the simulated one), and prints the accuracy: the relative L2 error\n"
        "inside the inscribed disk and the mean value of a uniform region against the phantom.\n"
        "It also writes a PNG of the central slice and registers the volume in the catalog\n"
        "(--catalog, default sqlite:DIR/catalog.db). DIR defaults to ./demo; files the demo wrote\n"
        "before are replaced.",
    .max_positional = 0,
};

/* Relative L2 error inside the inscribed disk (radius n/2 - 4) over all slices, and
 * the ratio of the means over the central disk (radius n/4): 1 means quantitative. */
static void compare_volumes(const float *rec, const float *truth, size_t nz, size_t n, double *rel_l2,
                            double *mean_ratio)
{
    double num = 0, den = 0, sum_rec = 0, sum_truth = 0, centre = 0.5 * ((double)n - 1);
    double r_err = 0.5 * (double)n - 4.0, r_mean = 0.25 * (double)n;
    for (size_t z = 0; z < nz; z++)
        for (size_t r = 0; r < n; r++)
            for (size_t c = 0; c < n; c++) {
                double x = (double)c - centre, y = (double)r - centre, d2 = x * x + y * y;
                size_t i = (z * n + r) * n + c;
                if (d2 <= r_err * r_err) {
                    double d = (double)rec[i] - (double)truth[i];
                    num += d * d;
                    den += (double)truth[i] * (double)truth[i];
                }
                if (d2 <= r_mean * r_mean) {
                    sum_rec += rec[i];
                    sum_truth += truth[i];
                }
            }
    *rel_l2 = den > 0 ? sqrt(num / den) : NAN;
    *mean_ratio = sum_truth != 0 ? sum_rec / sum_truth : NAN;
}

int tl_cmd_demo(int argc, char **argv)
{
    tl_config cfg;
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&demo_command, argc, argv, &cfg, NULL, &n_positional, &code))
        return code;
    const char *dir = cfg.out_path_name[0] ? cfg.out_path_name : "demo";
    struct stat sb;
    if (mkdir(dir, 0777) != 0 && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        fprintf(stderr, "tomoline: error: cannot create the demo directory '%s' (it exists and is not a directory, "
                        "or its parent is missing)\n", dir);
        return 1;
    }
    char scan[TL_CONFIG_STRING_MAX + 32], truth[TL_CONFIG_STRING_MAX + 32], recon[TL_CONFIG_STRING_MAX + 32];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(truth, sizeof truth, "%s/scan_truth.nxs", dir);
    snprintf(recon, sizeof recon, "%s/recon.nxs", dir);

    tl_error err = {0};
    tl_sim_params p;
    sim_params_from_config(&cfg, &p);
    p.overwrite = 1; /* the demo's own files */
    double axis = 0.5 * ((double)p.size - 1) + p.axis_offset;
    printf("tomoline demo: 1/3 simulating a %s scan: %zu projections over %g degrees, %zu slices of %zu x %zu "
           "pixels, axis at column %.2f, %s\n",
           cfg.phantom, p.angles, p.arc_deg, p.slices, p.size, p.size, axis,
           p.photons > 0 ? "Poisson noise" : "noise-free");
    tl_workers *workers = NULL;
    if (tl_workers_create((int)cfg.threads, &workers, &err) != TL_OK)
        return tl_cli_fail(&err);
    double t0 = tl_now();
    tl_status st = tl_sim_write(&p, scan, truth, workers, &err);
    tl_workers_destroy(&workers);
    if (st != TL_OK)
        return tl_cli_fail(&err);
    printf("tomoline demo:     wrote %s and its ground truth %s (%.1f s)\n", scan, truth, tl_now() - t0);

    tl_config rcfg = cfg;
    snprintf(rcfg.rotation_axis, sizeof rcfg.rotation_axis, "auto"); /* found, then checked against the truth */
    double axis_recon = axis; /* the axis recon reports: of the stitched sinogram with --double-fov */
    if (p.double_fov) {
        tl_stitch_layout layout;
        if (tl_stitch_layout_for(p.size, axis, &layout, &err) != TL_OK)
            return tl_cli_fail(&err);
        axis_recon = layout.axis_stitched;
        snprintf(rcfg.file_type, sizeof rcfg.file_type, "double_fov");
    }
    rcfg.overwrite = 1;
    rcfg.preview = 1;
    if (!rcfg.catalog[0])
        snprintf(rcfg.catalog, sizeof rcfg.catalog, "sqlite:%s/catalog.db", dir);
    printf("tomoline demo: 2/3 reconstructing (filtered backprojection, %s filter, ring removal %s, %s backend)\n",
           rcfg.fbp_filter, rcfg.remove_stripe_method, rcfg.backend);
    tl_recon_report rep;
    if (tl_recon_run(&rcfg, scan, recon, &rep, &err) != TL_OK)
        return tl_cli_fail(&err);
    printf("tomoline demo:     wrote %s: %zu slices of %zu x %zu %s in %.2f s (%.2f slices/s, %s backend)\n", recon,
           rep.n_slices, rep.n, rep.n, rcfg.dtype, rep.seconds, rep.slices_per_second, rep.backend);
    printf("tomoline demo:     rotation axis found at %.3f (%s); simulated at %.3f: off by %.3f px\n", rep.axis,
           rep.axis_method, axis_recon, rep.axis - axis_recon);
    printf("tomoline demo:     preview of the central slice: %s\n", rep.preview_path);
    {
        char shown[512];
        tl_catalog_redact_url(rcfg.catalog, shown, sizeof shown);
        printf("tomoline demo:     catalog record %s %s %s (see: tomoline catalog list --catalog %s)\n",
               rep.catalog_uuid, rep.catalog_queued ? "waits in the outbox for" : "registered in", shown, shown);
    }

    float *vol = NULL, *ref = NULL;
    size_t nz, ny, nx, tz, ty, tx;
    if (tl_volume_read(recon, &vol, &nz, &ny, &nx, &err) != TL_OK ||
        tl_volume_read(truth, &ref, &tz, &ty, &tx, &err) != TL_OK) {
        free(vol);
        return tl_cli_fail(&err);
    }
    if (nz != tz || ny != ty || nx != tx || ny != nx) {
        free(vol);
        free(ref);
        tl_error_set(&err, TL_ERR_INTERNAL, "the reconstruction (%zu x %zu x %zu) and the truth (%zu x %zu x %zu) "
                     "differ in shape", nz, ny, nx, tz, ty, tx);
        return tl_cli_fail(&err);
    }
    double rel, ratio;
    compare_volumes(vol, ref, nz, nx, &rel, &ratio);
    free(vol);
    free(ref);
    printf("tomoline demo: 3/3 accuracy against the ground truth: relative L2 error %.4f inside the inscribed disk "
           "(radius %zu/2 - 4), mean value ratio %.4f in the central disk (1 = quantitative)\n",
           rel, nx, ratio);
    printf("tomoline demo: done. The volume is %s (/entry/data/data, float32 [z, y, x]; provenance in "
           "/entry/process). Peak memory %.1f MiB.\n",
           recon, (double)tl_cli_peak_rss() / 1048576.0);
    return 0;
}
