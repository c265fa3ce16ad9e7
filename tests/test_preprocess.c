/* test_preprocess.c - the preprocessing kernels (issue 10): Paganin phase
 * retrieval's transfer function and padding, the dezinger, binning, the
 * simulator's Fresnel propagation, and the beam-monitor reader. The CLI end to
 * end (simulated scans through normalize/recon) is in test_preprocess_cli.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beam_monitor.h"
#include "binning.h"
#include "dezinger.h"
#include "fresnel.h"
#include "paganin.h"
#include "scan.h"
#include "sim.h"
#include "support.h"
#include "workers.h"

#define PI 3.14159265358979323846

/* ---- Paganin ------------------------------------------------------------------------------ */

/* The coefficient from the physics written out here independently of
 * paganin.c: lambda = 12.398419843 keV Angstrom / E, c = pi lambda z (delta/beta)
 * / dx^2 for f in cycles per pixel (Paganin et al. 2002, eq. 8 with k = 2 pi f). */
static double coefficient_by_hand(double kev, double z_m, double dx_m, double delta_beta)
{
    double lambda = 12.398419843e-10 / kev;
    return PI * lambda * z_m * delta_beta / (dx_m * dx_m);
}

Test(paganin, coefficient_and_response_follow_the_formula)
{
    tl_paganin_params p = {.energy_kev = 20.0, .distance_m = 0.1, .pixel_size_m = 1e-6, .delta_beta = 100.0};
    double c = tl_paganin_coefficient(&p);
    double want = coefficient_by_hand(20.0, 0.1, 1e-6, 100.0);
    cr_assert(fabs(c - want) <= 1e-8 * want, "c %.12g, by hand %.12g", c, want);
    cr_assert(fabs(tl_xray_wavelength_m(12.398419843) - 1e-10) < 1e-18, "12.4 keV is 1 Angstrom");
    /* sampled values of H(f) = 1 / (1 + c |f|^2), f in cycles per pixel */
    static const double f[][2] = {{0, 0}, {0.01, 0}, {0, 0.05}, {0.1, 0.2}, {0.5, 0.5}, {-0.25, 0.125}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        double h = tl_paganin_response(c, f[i][0], f[i][1]);
        double by_hand = 1.0 / (1.0 + c * (f[i][0] * f[i][0] + f[i][1] * f[i][1]));
        cr_assert(fabs(h - by_hand) <= 1e-15, "H(%g, %g) = %.17g, formula %.17g", f[i][0], f[i][1], h, by_hand);
    }
    cr_assert_eq(tl_paganin_response(c, 0, 0), 1.0, "H(0) = 1: a transmission stays a transmission");
    /* the margin: the kernel's weight beyond M pixels, exp(-M / L), is at most 1e-4 */
    double L = sqrt(c) / (2.0 * PI);
    size_t m = tl_paganin_margin(c);
    cr_assert(exp(-(double)m / L) <= TL_PAGANIN_TAIL * (1 + 1e-12), "margin %zu for L = %g", m, L);
    cr_assert(exp(-((double)m - 1.0) / L) > TL_PAGANIN_TAIL, "margin %zu is the smallest", m);
}

/* The filter applied to cos(pi ky (r + 1/2) / nr) cos(pi kx (c + 1/2) / nc), whose
 * mirror extension is periodic with 2 nr x 2 nc: with padded sizes 2 nr x 2 nc the
 * padded frame is exactly that cosine, so the output must be the input's
 * modulation times H(ky / (2 nr), kx / (2 nc)) - the transfer function measured
 * through the whole plan (padding, FFTs, crop). */
Test(paganin, measured_transfer_function_equals_the_formula)
{
    enum { NR = 24, NC = 32 };
    const double c = coefficient_by_hand(20.0, 0.1, 1e-6, 100.0); /* L = 7 px */
    tl_paganin_desc d = {.max_rows = NR, .n_cols = NC, .coefficient = c, .padded_rows = 2 * NR, .padded_cols = 2 * NC};
    tl_paganin_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_paganin_plan_create(&d, NULL, &plan, &err), TL_OK, "%s", err.message);
    static const int k[][2] = {{0, 1}, {1, 0}, {1, 1}, {3, 2}, {2, 7}, {11, 15}, {23, 31}};
    float frame[NR * NC];
    for (size_t t = 0; t < sizeof k / sizeof k[0]; t++) {
        const int ky = k[t][0], kx = k[t][1];
        for (int r = 0; r < NR; r++)
            for (int col = 0; col < NC; col++)
                frame[r * NC + col] = (float)(0.8 + 0.1 * cos(PI * ky * (r + 0.5) / NR) * cos(PI * kx * (col + 0.5) / NC));
        tl_paganin_frame(plan, frame, NR, 0);
        double h = 1.0 / (1.0 + c * (pow(ky / (2.0 * NR), 2) + pow(kx / (2.0 * NC), 2)));
        double worst = 0;
        for (int r = 0; r < NR; r++)
            for (int col = 0; col < NC; col++) {
                double want = 0.8 + 0.1 * h * cos(PI * ky * (r + 0.5) / NR) * cos(PI * kx * (col + 0.5) / NC);
                worst = fmax(worst, fabs(frame[r * NC + col] - want));
            }
        cr_assert(worst < 2e-6, "(ky, kx) = (%d, %d): H = %.6g, worst deviation %.3g", ky, kx, h, worst);
    }
    tl_paganin_plan_destroy(&plan);
    cr_assert_null(plan);
}

Test(paganin, open_beam_stays_open_beam)
{
    enum { NR = 20, NC = 50 };
    tl_paganin_desc d = {.max_rows = NR, .n_cols = NC, .coefficient = 500.0};
    tl_paganin_plan *plan = NULL;
    cr_assert_eq(tl_paganin_plan_create(&d, NULL, &plan, NULL), TL_OK);
    float frame[NR * NC];
    for (int i = 0; i < NR * NC; i++)
        frame[i] = 0.625f;
    tl_paganin_frame(plan, frame, 13, 0); /* fewer rows than planned: padded more */
    for (int i = 0; i < 13 * NC; i++)
        cr_assert(fabsf(frame[i] - 0.625f) < 1e-6f, "pixel %d: %.9g", i, frame[i]);
    tl_paganin_plan_destroy(&plan);
}

/* A transmission image of overlapping disks. */
static void disks_frame(float *f, size_t nr, size_t nc)
{
    for (size_t r = 0; r < nr; r++)
        for (size_t c = 0; c < nc; c++) {
            double p = 0;
            static const double disk[][4] = {{40, 30, 25, 0.02}, {120, 45, 18, 0.03}, {170, 20, 12, 0.05}, {90, 60, 9, 0.04}};
            for (int k = 0; k < 4; k++) {
                double dy = (double)r - disk[k][0], dx = (double)c - disk[k][1], rr = disk[k][2];
                double t = rr * rr - dx * dx - dy * dy;
                if (t > 0)
                    p += disk[k][3] * 2.0 * sqrt(t);
            }
            f[r * nc + c] = (float)exp(-p);
        }
}

/* Slabs of rows with the margin of tl_paganin_margin() around them give the
 * whole frame's result to within the kernel weight left out (1e-4 of the contrast). */
Test(paganin, slabs_with_their_margin_match_the_whole_frame)
{
    enum { NR = 208, NC = 72, SLAB = 16 };
    const double c = coefficient_by_hand(25.0, 0.2, 1.3e-6, 200.0); /* L about 6.3 px */
    const size_t m = tl_paganin_margin(c);
    float *whole = malloc(NR * NC * sizeof *whole), *raw = malloc(NR * NC * sizeof *raw);
    float *block = malloc((SLAB + 2 * m) * NC * sizeof *block);
    disks_frame(raw, NR, NC);
    memcpy(whole, raw, NR * NC * sizeof *whole);
    float lo = 1, hi = 0;
    for (int i = 0; i < NR * NC; i++) {
        lo = fminf(lo, raw[i]);
        hi = fmaxf(hi, raw[i]);
    }
    tl_paganin_plan *full = NULL, *part = NULL;
    tl_paganin_desc d_full = {.max_rows = NR, .n_cols = NC, .coefficient = c};
    tl_paganin_desc d_part = {.max_rows = SLAB + 2 * m, .n_cols = NC, .coefficient = c};
    cr_assert_eq(tl_paganin_plan_create(&d_full, NULL, &full, NULL), TL_OK);
    cr_assert_eq(tl_paganin_plan_create(&d_part, NULL, &part, NULL), TL_OK);
    tl_paganin_frame(full, whole, NR, 0);
    double worst = 0;
    for (size_t r0 = 0; r0 < NR; r0 += SLAB) {
        size_t r1 = r0 + SLAB, b0 = r0 > m ? r0 - m : 0, b1 = r1 + m < NR ? r1 + m : NR;
        memcpy(block, raw + b0 * NC, (b1 - b0) * NC * sizeof *block);
        tl_paganin_frame(part, block, b1 - b0, 0);
        for (size_t r = r0; r < r1; r++)
            for (size_t col = 0; col < NC; col++)
                worst = fmax(worst, fabs(block[(r - b0) * NC + col] - whole[r * NC + col]));
    }
    cr_assert(worst <= TL_PAGANIN_TAIL * (hi - lo), "slabs differ from the whole frame by %.3g (contrast %.3g, "
              "margin %zu)", worst, hi - lo, m);
    /* and without the margin they would not: the test can see the difference */
    double worst_no_margin = 0;
    for (size_t r0 = 0; r0 < NR; r0 += SLAB) {
        memcpy(block, raw + r0 * NC, SLAB * NC * sizeof *block);
        tl_paganin_frame(part, block, SLAB, 0);
        for (size_t i = 0; i < SLAB * NC; i++)
            worst_no_margin = fmax(worst_no_margin, fabs(block[i] - whole[r0 * NC + i]));
    }
    cr_assert(worst_no_margin > 10 * worst, "no margin %.3g, margin %.3g", worst_no_margin, worst);
    tl_paganin_plan_destroy(&full);
    tl_paganin_plan_destroy(&part);
    free(whole);
    free(raw);
    free(block);
}

Test(paganin, bad_plans_are_refused)
{
    tl_paganin_plan *plan = NULL;
    tl_error err = {0};
    tl_paganin_desc d = {.max_rows = 10, .n_cols = 10, .coefficient = 0};
    cr_assert_eq(tl_paganin_plan_create(&d, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "phase retrieval: the filter coefficient pi lambda z (delta/beta) / pixel^2 is 0, it "
                                  "must be a positive number");
    d.coefficient = 10;
    d.padded_rows = 11;
    cr_assert_eq(tl_paganin_plan_create(&d, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_null(plan);
}

/* ---- Fresnel propagation (the simulator's model) ------------------------------------------ */

Test(fresnel, contact_image_is_the_absorption_and_open_beam_stays_one)
{
    enum { NR = 12, NC = 40 };
    float p[NR * NC], out[NR * NC];
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++) {
            double x = c - 19.5;
            p[r * NC + c] = (float)(fabs(x) < 10 ? 0.3 * sqrt(100 - x * x) / 10 * (1 + 0.05 * r) : 0);
        }
    tl_fresnel_plan *plan = NULL;
    cr_assert_eq(tl_fresnel_plan_create(NR, NC, 0.0, 1.0, 500.0, NULL, &plan, NULL), TL_OK);
    tl_fresnel_exec(plan, p, out, 0);
    for (int i = 0; i < NR * NC; i++)
        cr_assert(fabs(out[i] - exp(-p[i])) < 2e-6, "z = 0: pixel %d %.8g, exp(-p) %.8g", i, out[i], exp(-p[i]));
    tl_fresnel_plan_destroy(&plan);
    /* open beam propagates to open beam; an object gives fringes that keep the mean */
    float zero[NR * NC] = {0};
    cr_assert_eq(tl_fresnel_plan_create(NR, NC, 3.0, 1.0, 500.0, NULL, &plan, NULL), TL_OK);
    tl_fresnel_exec(plan, zero, out, 0);
    for (int i = 0; i < NR * NC; i++)
        cr_assert(fabs(out[i] - 1.0) < 2e-6, "open beam: pixel %d %.8g", i, out[i]);
    tl_fresnel_exec(plan, p, out, 0);
    double max = 0;
    for (int i = 0; i < NR * NC; i++)
        max = fmax(max, out[i]);
    cr_assert(max > 1.01, "a phase object gives bright fringes (max %.4g)", max);
    tl_fresnel_plan_destroy(&plan);
}

/* The two models agree: a smooth object of one material, propagated by the Fresnel
 * model (kernels/fresnel.h), is recovered by Paganin's filter with the same
 * lambda z / dx^2 and delta/beta, where the transport-of-intensity equation
 * behind the filter holds (features much wider than sqrt(lambda z)). */
Test(fresnel, paganin_inverts_the_propagation_of_a_smooth_object)
{
    enum { NR = 64, NC = 128 };
    const double fresnel = 6.2, delta_beta = 100.0; /* 20 keV, 100 mm, 1 um pixels */
    float *p = malloc(NR * NC * sizeof *p), *img = malloc(NR * NC * sizeof *img);
    double norm = 0;
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++) {
            double x = c - 63.5, y = r - 31.5;
            p[r * NC + c] = (float)(0.1 * exp(-(x * x + y * y) / 200.0)); /* sigma 10 px */
            norm += (double)p[r * NC + c] * p[r * NC + c];
        }
    tl_fresnel_plan *fp = NULL;
    tl_paganin_plan *pp = NULL;
    cr_assert_eq(tl_fresnel_plan_create(NR, NC, fresnel, 1.0, delta_beta, NULL, &fp, NULL), TL_OK);
    tl_paganin_desc d = {.max_rows = NR, .n_cols = NC, .coefficient = PI * fresnel * delta_beta};
    cr_assert_eq(tl_paganin_plan_create(&d, NULL, &pp, NULL), TL_OK);
    tl_fresnel_exec(fp, p, img, 0);
    double e_plain = 0, e_retrieved = 0;
    for (int i = 0; i < NR * NC; i++)
        e_plain += pow(-log(img[i]) - p[i], 2);
    tl_paganin_frame(pp, img, NR, 0);
    for (int i = 0; i < NR * NC; i++)
        e_retrieved += pow(-log(img[i]) - p[i], 2);
    e_plain = sqrt(e_plain / norm);
    e_retrieved = sqrt(e_retrieved / norm);
    cr_assert(e_retrieved < 0.01 && e_plain > 0.5, "relative L2 of -log: %.4g retrieved, %.4g plain", e_retrieved,
              e_plain);
    tl_fresnel_plan_destroy(&fp);
    tl_paganin_plan_destroy(&pp);
    free(p);
    free(img);
}

/* ---- dezinger ----------------------------------------------------------------------------- */

/* A detector frame without zingers: flat field counts times the transmission of
 * a disk and a bar (sharp edges: single-pixel steps of up to 4500 counts, below
 * the threshold), plus deterministic noise of +-128 counts. */
static void clean_frame(float *f, size_t nr, size_t nc, unsigned seed)
{
    unsigned s = seed;
    for (size_t r = 0; r < nr; r++)
        for (size_t c = 0; c < nc; c++) {
            double dy = (double)r - 0.4 * (double)nr, dx = (double)c - 0.5 * (double)nc;
            double t = dx * dx + dy * dy < 0.09 * (double)(nc * nc) ? 0.7 : 1.0;
            if (fabs(dx - 10) < 4 && fabs(dy) < 30)
                t *= 0.8;
            s = s * 1103515245u + 12345u;
            f[r * nc + c] = (float)(10000.0 * t + 100.0 + (double)(s >> 16 & 0xff) - 128.0);
        }
}

Test(dezinger, clean_frame_comes_back_bit_for_bit)
{
    enum { NR = 60, NC = 90 };
    float in[NR * NC], out[NR * NC];
    float *scratch = malloc(tl_dezinger_scratch_floats(NR, NC, 5) * sizeof *scratch);
    clean_frame(in, NR, NC, 7);
    for (size_t size = 3; size <= 5; size += 2) {
        size_t replaced = tl_dezinger_frame(in, out, NR, NC, 0, NR, size, 5000.0f, scratch, NULL);
        cr_assert_eq(replaced, 0, "size %zu: %zu values of a clean frame replaced", size, replaced);
        cr_assert_eq(memcmp(in, out, sizeof in), 0, "size %zu: the clean frame changed", size);
    }
    free(scratch);
}

Test(dezinger, removes_every_injected_zinger_and_nothing_else)
{
    enum { NR = 64, NC = 80, N_ZINGERS = 60 };
    float clean[NR * NC], in[NR * NC], out[NR * NC];
    float *scratch = malloc(tl_dezinger_scratch_floats(NR, NC, 3) * sizeof *scratch);
    clean_frame(clean, NR, NC, 3);
    memcpy(in, clean, sizeof in);
    /* zingers at distinct positions, corners and edges included, 1 to 2 x the flat counts */
    int at[N_ZINGERS];
    unsigned s = 99;
    at[0] = 0;
    at[1] = NC - 1;
    at[2] = (NR - 1) * NC;
    at[3] = NR * NC - 1;
    at[4] = 5 * NC;
    for (int k = 5; k < N_ZINGERS; k++) {
        int again;
        do {
            s = s * 1103515245u + 12345u;
            at[k] = (int)((s >> 8) % (NR * NC));
            again = 0;
            for (int j = 0; j < k; j++)
                again |= at[j] == at[k];
        } while (again);
    }
    for (int k = 0; k < N_ZINGERS; k++)
        in[at[k]] += 10000.0f * (1.0f + (float)k / N_ZINGERS);
    size_t rows[NR] = {0};
    size_t replaced = tl_dezinger_frame(in, out, NR, NC, 0, NR, 3, 5000.0f, scratch, rows);
    cr_assert_eq(replaced, N_ZINGERS, "%zu of %d zingers replaced", replaced, N_ZINGERS);
    size_t by_rows = 0;
    for (int r = 0; r < NR; r++)
        by_rows += rows[r];
    cr_assert_eq(by_rows, N_ZINGERS);
    for (int i = 0; i < NR * NC; i++) {
        int zinger = 0;
        for (int k = 0; k < N_ZINGERS; k++)
            zinger |= at[k] == i;
        if (!zinger) {
            cr_assert_eq(out[i], in[i], "pixel %d without a zinger changed", i);
            continue;
        }
        /* replaced by the median of its window: back at the clean level, within the clean neighbourhood's range */
        int r = i / NC, c = i % NC;
        float lo = INFINITY, hi = -INFINITY;
        for (int y = r - 1; y <= r + 1; y++)
            for (int x = c - 1; x <= c + 1; x++)
                if (y >= 0 && y < NR && x >= 0 && x < NC && !(y == r && x == c)) {
                    lo = fminf(lo, clean[y * NC + x]);
                    hi = fmaxf(hi, in[y * NC + x]);
                }
        cr_assert(out[i] >= lo && out[i] <= hi && out[i] < clean[i] + 5000.0f, "pixel %d: %.1f, clean %.1f", i,
                  out[i], clean[i]);
    }
    free(scratch);
}

Test(dezinger, threads_and_slabs_give_the_same_frames)
{
    enum { NF = 7, NR = 40, NC = 50 };
    float *frames = malloc(NF * NR * NC * sizeof *frames), *ref = malloc(NF * NR * NC * sizeof *ref);
    float *scratch = malloc(tl_dezinger_scratch_floats(NR, NC, 5) * sizeof *scratch);
    for (int f = 0; f < NF; f++) {
        clean_frame(frames + f * NR * NC, NR, NC, 11 + (unsigned)f);
        for (int k = 0; k < 9; k++)
            frames[f * NR * NC + (k * 397 + f * 131) % (NR * NC)] += 30000.0f;
    }
    size_t expect = 0;
    for (int f = 0; f < NF; f++)
        expect += tl_dezinger_frame(frames + f * NR * NC, ref + f * NR * NC, NR, NC, 0, NR, 5, 5000.0f, scratch, NULL);
    cr_assert(expect >= 9 * NF - 3, "%zu replaced", expect);
    tl_workers *workers = NULL;
    tl_dezinger_plan *plan = NULL;
    cr_assert_eq(tl_workers_create(2, &workers, NULL), TL_OK);
    cr_assert_eq(tl_dezinger_plan_create(NR, NC, 5, 5000.0, workers, &plan, NULL), TL_OK);
    size_t rows[NR] = {0};
    size_t got = tl_dezinger_exec(plan, frames, NF, NR, 0, NR, rows);
    cr_assert_eq(got, expect);
    cr_assert_eq(memcmp(frames, ref, NF * NR * NC * sizeof *frames), 0, "threads changed the result");
    tl_dezinger_plan_destroy(&plan);
    tl_workers_destroy(&workers);
    free(frames);
    free(ref);
    free(scratch);
}

Test(dezinger, nonfinite_values_are_kept_and_bad_windows_refused)
{
    enum { NR = 5, NC = 5 };
    float in[NR * NC], out[NR * NC], scratch[(NR + 1) * NC + 9];
    for (int i = 0; i < NR * NC; i++)
        in[i] = 1000.0f;
    in[12] = NAN;
    in[6] = 50000.0f;
    in[18] = INFINITY;
    size_t n = tl_dezinger_frame(in, out, NR, NC, 0, NR, 3, 5000.0f, scratch, NULL);
    cr_assert_eq(n, 1);
    cr_assert_eq(out[6], 1000.0f, "the zinger next to a NaN becomes the median of the finite values");
    cr_assert(isnan(out[12]) && isinf(out[18]), "non-finite values are left for normalization to report");
    tl_dezinger_plan *plan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_dezinger_plan_create(8, 8, 4, 100, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--dezinger 4: the median window must be odd, from 3 to 31 (0 turns it off)");
    cr_assert_eq(tl_dezinger_plan_create(8, 8, 33, 100, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_eq(tl_dezinger_plan_create(8, 8, 3, -1, NULL, &plan, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--dezinger-threshold -1: must be a number >= 0 (raw counts)");
    cr_assert_null(plan);
}

/* ---- binning ------------------------------------------------------------------------------ */

Test(binning, preserves_the_mean_and_averages_whole_blocks)
{
    enum { NR = 64, NC = 96 };
    float *in = malloc(NR * NC * sizeof *in), *out = malloc(NR * NC * sizeof *out);
    unsigned s = 5;
    double sum_in = 0;
    for (int i = 0; i < NR * NC; i++) {
        s = s * 1103515245u + 12345u;
        in[i] = (float)(1000.0 + (double)(s >> 12 & 0xffff) / 7.0);
        sum_in += in[i];
    }
    for (size_t b = 2; b <= 8; b *= 2) {
        tl_binning_frame(in, NR, NC, b, out);
        double sum_out = 0;
        for (size_t i = 0; i < (NR / b) * (NC / b); i++)
            sum_out += out[i];
        double mean_in = sum_in / (NR * NC), mean_out = sum_out / (double)((NR / b) * (NC / b));
        cr_assert(fabs(mean_out - mean_in) <= 1e-6 * mean_in, "b %zu: mean %.9g -> %.9g", b, mean_in, mean_out);
        /* every binned pixel is its block's mean, correctly rounded */
        for (size_t r = 0; r < NR / b; r++)
            for (size_t c = 0; c < NC / b; c++) {
                double block = 0;
                for (size_t y = 0; y < b; y++)
                    for (size_t x = 0; x < b; x++)
                        block += in[(r * b + y) * NC + c * b + x];
                cr_assert_eq(out[r * (NC / b) + c], (float)(block / (double)(b * b)));
            }
    }
    free(in);
    free(out);
}

Test(binning, trailing_partial_blocks_are_left_out)
{
    enum { NR = 11, NC = 14 };
    float in[NR * NC], out[NR * NC];
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++)
            in[r * NC + c] = (r >= 8 || c >= 12) ? 1e6f : (float)(r * 100 + c);
    tl_binning_frame(in, NR, NC, 4, out); /* 2 x 3 whole blocks; rows 8-10 and columns 12-13 left out */
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++)
            cr_assert_eq(out[r * 3 + c], (float)((r * 4 + 1.5) * 100 + c * 4 + 1.5), "binned (%d, %d) %.2f", r, c,
                         out[r * 3 + c]);
    cr_assert_eq(tl_binning_factor(0), 1);
    cr_assert_eq(tl_binning_factor(3), 8);
    cr_assert_eq(tl_binning_factor(4), 0);
}

Test(binning, axis_in_binned_columns)
{
    /* the centre of a W-wide detector is the centre of its W/b-wide binning */
    cr_assert_float_eq(tl_binning_axis(127.5, 2), 63.5, 1e-12);
    cr_assert_float_eq(tl_binning_axis(127.5, 8), 15.5, 1e-12);
    /* binned column j is centred on raw column j b + (b - 1) / 2 */
    cr_assert_float_eq(tl_binning_axis(2.5, 4), 0.25, 1e-12);
    cr_assert_float_eq(tl_binning_axis(1.5, 4), 0.0, 1e-12);
    for (double a = 0; a < 50; a += 0.37)
        cr_assert_float_eq(tl_binning_axis_raw(tl_binning_axis(a, 4), 4), a, 1e-12);
}

/* ---- beam monitor ------------------------------------------------------------------------- */

Test(beam_monitor, reads_the_simulated_monitor_per_frame)
{
    char dir[4096], scan_path[4200];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    snprintf(scan_path, sizeof scan_path, "%s/drift.nxs", dir);
    tl_sim_params p;
    tl_sim_params_default(&p);
    p.size = 32;
    p.slices = 2;
    p.angles = 40;
    p.n_flat = 6;
    p.n_dark = 4;
    p.beam_drift = 0.2;
    tl_error err = {0};
    cr_assert_eq(tl_sim_write(&p, scan_path, NULL, NULL, &err), TL_OK, "%s", err.message);
    char partial[4300];
    snprintf(partial, sizeof partial, "%s.partial", scan_path);
    cr_assert(!tl_test_file_exists(partial), "the intermediate NAME.partial is gone");
    tl_scan *scan = NULL;
    cr_assert_eq(tl_scan_open(scan_path, &scan, &err), TL_OK, "%s", err.message);
    tl_beam_monitor *m = NULL;
    cr_assert_eq(tl_beam_monitor_read(scan, "", &m, &err), TL_OK, "%s", err.message);
    cr_assert_str_eq(m->source, "/entry/control/data");
    cr_assert(m->per_frame);
    cr_assert_not_null(m->flat);
    /* frame k of 50 (4 darks, 6 flats, 40 projections): 1 + 0.2 sin(2 pi 2.5 (k + 1/2) / 50), over the
     * projections' mean */
    double mean = 0;
    for (int i = 0; i < 40; i++)
        mean += 1 + 0.2 * sin(2 * PI * 2.5 * (10 + i + 0.5) / 50);
    mean /= 40;
    cr_assert(fabs(m->reference - 1e5 * mean) < 1e-6 * 1e5);
    for (int i = 0; i < 40; i++)
        cr_assert(fabs(m->proj[i] - (1 + 0.2 * sin(2 * PI * 2.5 * (10 + i + 0.5) / 50)) / mean) < 1e-12);
    for (int f = 0; f < 6; f++)
        cr_assert(fabs(m->flat[f] - (1 + 0.2 * sin(2 * PI * 2.5 * (4 + f + 0.5) / 50)) / mean) < 1e-12);
    tl_beam_monitor_destroy(&m);
    /* a dataset with the wrong count, named explicitly */
    cr_assert_eq(tl_beam_monitor_read(scan, "/entry/sample/rotation_angle", &m, &err), TL_ERR_DATA);
    cr_assert_null(m);
    tl_scan_close(&scan);
}
