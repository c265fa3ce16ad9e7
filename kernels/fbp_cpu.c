/* fbp_cpu.c - the CPU filtered backprojection plan (FFTW filter + threaded
 * pixel-driven backprojection). The CUDA plan (issue 7) will fill the same
 * interface; until then a CUDA request is refused when the backend is resolved. */
#include "fbp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backproject.h"
#include "gridrec.h"

struct tl_fbp_plan {
    tl_fbp_desc desc;
    tl_workers *workers;
    size_t stride;
    float *sino; /* [max_slices][n_angles][stride], guarded lines */
    float *cos_theta, *sin_theta;
    tl_filter_plan *filter;
    tl_gridrec_plan *gridrec; /* TL_ALGORITHM_GRIDREC */
    size_t bytes;
};

tl_status tl_algorithm_parse(const char *name, tl_algorithm *out, tl_error *err)
{
    if (strcmp(name, "fbp") == 0)
        *out = TL_ALGORITHM_FBP;
    else if (strcmp(name, "gridrec") == 0)
        *out = TL_ALGORITHM_GRIDREC;
    else
        return tl_error_set(err, TL_ERR_INVALID, "--reconstruction-algorithm '%s': unknown (allowed: fbp, gridrec)",
                            name);
    return TL_OK;
}

const char *tl_algorithm_name(tl_algorithm algorithm) { return algorithm == TL_ALGORITHM_GRIDREC ? "gridrec" : "fbp"; }

void tl_fbp_plan_destroy(tl_fbp_plan **plan)
{
    if (!plan || !*plan)
        return;
    tl_fbp_plan *p = *plan;
    tl_filter_plan_destroy(&p->filter);
    tl_gridrec_plan_destroy(&p->gridrec);
    free(p->sino);
    free(p->cos_theta);
    free(p->sin_theta);
    free(p);
    *plan = NULL;
}

tl_status tl_fbp_plan_create(const tl_fbp_desc *desc, tl_workers *workers, tl_fbp_plan **out, tl_error *err)
{
    *out = NULL;
    if (desc->backend != TL_BACKEND_CPU)
        return tl_error_set(err, TL_ERR_UNSUPPORTED, "filtered backprojection on '%s' is not built yet",
                            tl_backend_name(desc->backend));
    if (desc->n_angles < 2 || desc->n_cols < 2 || desc->max_slices == 0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "fbp: a sinogram needs at least 2 angles and 2 columns (got %zu x %zu)",
                            desc->n_angles, desc->n_cols);
    if (!isfinite(desc->axis))
        return tl_error_set(err, TL_ERR_INVALID, "fbp: the rotation axis is not a finite number");

    tl_fbp_plan *p = calloc(1, sizeof *p);
    if (!p)
        return tl_error_set(err, TL_ERR_NOMEM, "fbp: out of memory");
    p->desc = *desc;
    p->desc.angles_deg = NULL; /* not owned; only the tables below are kept */
    if (p->desc.n == 0)
        p->desc.n = desc->n_cols;
    p->workers = workers;
    p->stride = desc->n_cols + 2;
    size_t threads = (size_t)tl_workers_count(workers);
    size_t sino_floats = desc->max_slices * desc->n_angles * p->stride;
    p->sino = calloc(sino_floats, sizeof *p->sino);
    p->cos_theta = malloc(desc->n_angles * sizeof *p->cos_theta);
    p->sin_theta = malloc(desc->n_angles * sizeof *p->sin_theta);
    double *weights = malloc(desc->n_angles * sizeof *weights);
    if (!p->sino || !p->cos_theta || !p->sin_theta || !weights) {
        free(weights);
        tl_fbp_plan_destroy(&p);
        return tl_error_set(err, TL_ERR_NOMEM,
                            "fbp: cannot allocate a slab of %zu sinograms of %zu x %zu (%.1f MiB); lower "
                            "--nsino-per-chunk",
                            desc->max_slices, desc->n_angles, desc->n_cols,
                            (double)sino_floats * 4.0 / 1048576.0);
    }
    p->bytes = sino_floats * sizeof(float) + 2 * desc->n_angles * sizeof(float);
    for (size_t i = 0; i < desc->n_angles; i++) {
        double t = desc->angles_deg[i] * M_PI / 180.0;
        p->cos_theta[i] = (float)cos(t);
        p->sin_theta[i] = (float)sin(t);
    }
    tl_status st = tl_angle_weights(desc->angles_deg, desc->n_angles, weights, err);
    if (st == TL_OK && desc->algorithm == TL_ALGORITHM_GRIDREC) {
        st = tl_gridrec_plan_create(desc->n_angles, desc->n_cols, p->desc.n, desc->angles_deg, desc->window, workers,
                                    &p->gridrec, err);
        if (st == TL_OK)
            p->bytes += tl_gridrec_plan_bytes(p->gridrec);
        free(weights);
        if (st != TL_OK) {
            tl_fbp_plan_destroy(&p);
            return st;
        }
        *out = p;
        return TL_OK;
    }
    if (st == TL_OK)
        st = tl_filter_plan_create(desc->n_angles, desc->n_cols, desc->window, weights, workers, &p->filter, err);
    free(weights);
    if (st != TL_OK) {
        tl_fbp_plan_destroy(&p);
        return st;
    }
    p->bytes += (size_t)threads * (tl_filter_padded_size(desc->n_cols) + 2) * sizeof(float) +
                desc->n_angles * (tl_filter_padded_size(desc->n_cols) / 2 + 1) * sizeof(float);
    *out = p;
    return TL_OK;
}

float *tl_fbp_sino_line(tl_fbp_plan *plan, size_t slice, size_t angle)
{
    return plan->sino + (slice * plan->desc.n_angles + angle) * plan->stride + 1;
}

size_t tl_fbp_sino_stride(const tl_fbp_plan *plan) { return plan->stride; }

size_t tl_fbp_plan_bytes(const tl_fbp_plan *plan) { return plan->bytes; }

static tl_status check_slices(const tl_fbp_plan *p, size_t n_slices, tl_error *err)
{
    if (n_slices > p->desc.max_slices)
        return tl_error_set(err, TL_ERR_INVALID, "fbp: %zu slices requested, the plan holds %zu", n_slices,
                            p->desc.max_slices);
    return TL_OK;
}

tl_status tl_fbp_filter(tl_fbp_plan *p, size_t n_slices, tl_error *err)
{
    tl_status st = check_slices(p, n_slices, err);
    if (st != TL_OK || n_slices == 0)
        return st;
    if (p->gridrec)
        return TL_OK; /* gridrec filters in Fourier space, inside tl_gridrec_exec */
    size_t n_lines = n_slices * p->desc.n_angles;
    /* filter the data columns (offset 1), then re-zero the guards the filter may not touch */
    tl_filter_exec(p->filter, p->sino + 1, n_lines, p->stride);
    for (size_t l = 0; l < n_lines; l++) {
        p->sino[l * p->stride] = 0.0f;
        p->sino[l * p->stride + p->desc.n_cols + 1] = 0.0f;
    }
    return TL_OK;
}

tl_status tl_fbp_backproject(tl_fbp_plan *p, size_t n_slices, double axis, float *out, tl_error *err)
{
    tl_status st = check_slices(p, n_slices, err);
    if (st != TL_OK || n_slices == 0)
        return st;
    if (!isfinite(axis))
        return tl_error_set(err, TL_ERR_INVALID, "fbp: the rotation axis is not a finite number");
    if (p->gridrec)
        return tl_gridrec_exec(p->gridrec, p->sino, p->stride, n_slices, axis, out, err);
    tl_backproject_args args = {
        .sino = p->sino,
        .stride = p->stride,
        .n_slices = n_slices,
        .n_angles = p->desc.n_angles,
        .n_cols = p->desc.n_cols,
        .cos_theta = p->cos_theta,
        .sin_theta = p->sin_theta,
        .axis = axis,
        .n = p->desc.n,
        .out = out,
    };
    tl_backproject_cpu(&args, p->workers);
    return TL_OK;
}

tl_status tl_fbp_exec(tl_fbp_plan *p, size_t n_slices, float *out, tl_error *err)
{
    tl_status st = tl_fbp_filter(p, n_slices, err);
    if (st == TL_OK)
        st = tl_fbp_backproject(p, n_slices, p->desc.axis, out, err);
    return st;
}

tl_status tl_fbp_exec_copy(tl_fbp_plan *p, const float *sino, size_t n_slices, float *out, tl_error *err)
{
    tl_status st = check_slices(p, n_slices, err);
    if (st != TL_OK)
        return st;
    for (size_t s = 0; s < n_slices; s++)
        for (size_t i = 0; i < p->desc.n_angles; i++)
            memcpy(tl_fbp_sino_line(p, s, i), sino + (s * p->desc.n_angles + i) * p->desc.n_cols,
                   p->desc.n_cols * sizeof(float));
    return tl_fbp_exec(p, n_slices, out, err);
}
