/* rings.c - ring removal: method dispatch, parameter defaults, threads over
 * sinograms (see rings.h; the methods are in rings_fw.c, rings_ti.c and
 * rings_vo.c behind rings_impl.h).
 *
 * Threads: one method state per worker thread, made at plan time. A slab's
 * sinograms are handed out one by one (grain 1); a thread copies its sinogram
 * from the strided slab (the FBP plan's guarded layout) into the state's
 * contiguous buffer, applies the method and copies it back, so the methods see
 * only contiguous [n_angles][n_cols] arrays and never share scratch.
 */
#include "rings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "rings_impl.h"

static const char *const method_names[] = {"none", "fw", "ti", "sorting", "filtering", "large", "vo-all"};
#define N_METHODS (sizeof method_names / sizeof method_names[0])

tl_status tl_rings_method_parse(const char *name, tl_rings_method *out, tl_error *err)
{
    for (size_t i = 0; i < N_METHODS; i++)
        if (name && strcmp(name, method_names[i]) == 0) {
            *out = (tl_rings_method)i;
            return TL_OK;
        }
    return tl_error_set(err, TL_ERR_INVALID,
                        "--remove-stripe-method '%s': unknown method (allowed: none, fw, ti, sorting, filtering, "
                        "large, vo-all)",
                        name ? name : "");
}

const char *tl_rings_method_name(tl_rings_method method)
{
    return (size_t)method < N_METHODS ? method_names[method] : "?";
}

void tl_rings_params_default(tl_rings_params *p)
{
    /* Keep in step with the [rings] section of config/params.def (test_rings checks it). */
    memset(p, 0, sizeof *p);
    p->method = TL_RINGS_NONE;
    p->fw_level = 3;
    p->fw_sigma = 1.0;
    snprintf(p->fw_filter, sizeof p->fw_filter, "%s", "haar");
    p->fw_pad = 1;
    p->ti_beta = 0.2;
    p->sorting_size = 21;
    p->filtering_sigma = 3.0;
    p->filtering_size = 21;
    p->large_snr = 3.0;
    p->large_size = 51;
    p->large_drop_ratio = 0.1;
    p->vo_all_snr = 3.0;
    p->vo_all_la_size = 61;
    p->vo_all_sm_size = 21;
}

void tl_rings_describe(const tl_rings_params *p, char *buf, size_t size)
{
    switch (p->method) {
    case TL_RINGS_FW:
        snprintf(buf, size, "fw (Munch et al. 2009): level %ld, %s, sigma %g%s", p->fw_level, p->fw_filter,
                 p->fw_sigma, p->fw_pad ? ", padded" : "");
        break;
    case TL_RINGS_TI:
        snprintf(buf, size, "ti (Titarenko et al. 2010): beta %g", p->ti_beta);
        break;
    case TL_RINGS_SORTING:
        snprintf(buf, size, "sorting (Vo et al. 2018): size %ld", p->sorting_size);
        break;
    case TL_RINGS_FILTERING:
        snprintf(buf, size, "filtering (Vo et al. 2018): sigma %g, size %ld", p->filtering_sigma, p->filtering_size);
        break;
    case TL_RINGS_LARGE:
        snprintf(buf, size, "large (Vo et al. 2018): snr %g, size %ld, drop ratio %g", p->large_snr, p->large_size,
                 p->large_drop_ratio);
        break;
    case TL_RINGS_VO_ALL:
        snprintf(buf, size, "vo-all (Vo et al. 2018): snr %g, la-size %ld, sm-size %ld", p->vo_all_snr,
                 p->vo_all_la_size, p->vo_all_sm_size);
        break;
    default:
        snprintf(buf, size, "none");
        break;
    }
}

static const tl_rings_impl *impl_of(tl_rings_method method)
{
    switch (method) {
    case TL_RINGS_FW:
        return &tl_rings_fw_impl;
    case TL_RINGS_TI:
        return &tl_rings_ti_impl;
    case TL_RINGS_SORTING:
        return &tl_rings_sorting_impl;
    case TL_RINGS_FILTERING:
        return &tl_rings_filtering_impl;
    case TL_RINGS_LARGE:
        return &tl_rings_large_impl;
    case TL_RINGS_VO_ALL:
        return &tl_rings_vo_all_impl;
    default:
        return NULL;
    }
}

void tl_rings_destroy_plans(fftwf_plan forward, fftwf_plan backward)
{
    tl_fftw_planner_lock();
    if (forward)
        fftwf_destroy_plan(forward);
    if (backward)
        fftwf_destroy_plan(backward);
    tl_fftw_planner_unlock();
}

struct tl_rings_plan {
    tl_rings_method method;
    const tl_rings_impl *impl;
    size_t n_angles, n_cols;
    int n_states;
    void **states;   /* [n_states] */
    float **buffers; /* [n_states][n_angles * n_cols] */
    tl_workers *workers;
    /* the slab of the current tl_rings_exec call */
    float *sino;
    size_t stride;
};

void tl_rings_plan_destroy(tl_rings_plan **plan)
{
    if (!plan || !*plan)
        return;
    tl_rings_plan *p = *plan;
    for (int t = 0; t < p->n_states; t++) {
        if (p->states && p->states[t])
            p->impl->destroy(p->states[t]);
        if (p->buffers)
            free(p->buffers[t]);
    }
    free(p->states);
    free(p->buffers);
    free(p);
    *plan = NULL;
}

tl_status tl_rings_plan_create(const tl_rings_params *params, size_t n_angles, size_t n_cols, tl_workers *workers,
                               tl_rings_plan **out, tl_error *err)
{
    *out = NULL;
    if ((size_t)params->method >= N_METHODS)
        return tl_error_set(err, TL_ERR_INVALID, "--remove-stripe-method: unknown method %d", (int)params->method);
    if (n_angles < 2 || n_cols < 2)
        return tl_error_set(err, TL_ERR_INVALID,
                            "ring removal needs sinograms of at least 2 angles x 2 columns (got %zu x %zu)", n_angles,
                            n_cols);
    tl_rings_plan *p = calloc(1, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    p->method = params->method;
    p->impl = impl_of(params->method);
    p->n_angles = n_angles;
    p->n_cols = n_cols;
    p->workers = workers;
    if (!p->impl) {
        *out = p;
        return TL_OK;
    }
    int n = workers ? tl_workers_count(workers) : 1;
    p->states = calloc((size_t)n, sizeof *p->states);
    p->buffers = calloc((size_t)n, sizeof *p->buffers);
    if (!p->states || !p->buffers) {
        tl_rings_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    }
    p->n_states = n;
    for (int t = 0; t < n; t++) {
        tl_status st = p->impl->create(params, n_angles, n_cols, &p->states[t], err);
        if (st != TL_OK) {
            tl_rings_plan_destroy(&p);
            return st;
        }
        if (!(p->buffers[t] = malloc(n_angles * n_cols * sizeof(float)))) {
            tl_rings_plan_destroy(&p);
            return tl_error_set(err, TL_ERR_NOMEM, "cannot allocate ring-removal buffers for %zu x %zu sinograms",
                                n_angles, n_cols);
        }
    }
    *out = p;
    return TL_OK;
}

static void run_sinograms(void *ctx, size_t begin, size_t end, int thread)
{
    tl_rings_plan *p = ctx;
    float *buf = p->buffers[thread];
    size_t na = p->n_angles, nc = p->n_cols;
    for (size_t s = begin; s < end; s++) {
        float *sino = p->sino + s * na * p->stride;
        for (size_t a = 0; a < na; a++)
            memcpy(buf + a * nc, sino + a * p->stride, nc * sizeof(float));
        p->impl->apply(p->states[thread], buf);
        for (size_t a = 0; a < na; a++)
            memcpy(sino + a * p->stride, buf + a * nc, nc * sizeof(float));
    }
}

void tl_rings_exec(tl_rings_plan *plan, float *sino, size_t n_sino, size_t stride)
{
    if (!plan->impl || n_sino == 0)
        return;
    plan->sino = sino;
    plan->stride = stride;
    tl_workers_run(plan->workers, n_sino, 1, run_sinograms, plan);
}

void tl_rings_exec_one(tl_rings_plan *plan, float *sino)
{
    if (plan->impl)
        plan->impl->apply(plan->states[0], sino);
}

tl_rings_method tl_rings_plan_method(const tl_rings_plan *plan) { return plan->method; }

size_t tl_rings_plan_bytes(const tl_rings_plan *plan)
{
    size_t bytes = sizeof *plan;
    for (int t = 0; t < plan->n_states; t++)
        bytes += plan->n_angles * plan->n_cols * sizeof(float) + plan->impl->bytes(plan->states[t]);
    return bytes;
}
