#include "reference_fbp.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void tl_reference_fbp(const float *sino, size_t n_angles, size_t w, const double *angles_deg, double arc_deg,
                      double axis, float *out)
{
    size_t np = 1;
    while (np < 2 * w)
        np *= 2;
    float *line = fftwf_alloc_real(np);
    fftwf_complex *spec = fftwf_alloc_complex(np / 2 + 1);
    fftwf_plan fwd = fftwf_plan_dft_r2c_1d((int)np, line, spec, FFTW_ESTIMATE);
    fftwf_plan bwd = fftwf_plan_dft_c2r_1d((int)np, spec, line, FFTW_ESTIMATE);
    double *q = malloc(n_angles * w * sizeof *q);
    for (size_t i = 0; i < n_angles; i++) {
        memset(line, 0, np * sizeof *line);
        memcpy(line, sino + i * w, w * sizeof *line);
        fftwf_execute(fwd);
        for (size_t k = 0; k <= np / 2; k++) {
            float h = (float)k / (float)np / (float)np; /* |f| and the 1/np of the inverse DFT */
            spec[k][0] *= h;
            spec[k][1] *= h;
        }
        fftwf_execute(bwd);
        for (size_t j = 0; j < w; j++)
            q[i * w + j] = line[j];
    }
    /* integral over [0, pi): d theta = arc / n_angles, and a 360-degree scan counts every line twice */
    double scale = (arc_deg * M_PI / 180.0) / (double)n_angles * (arc_deg > 180.0 ? 0.5 : 1.0);
    double centre = 0.5 * ((double)w - 1);
    double *cs = malloc(2 * n_angles * sizeof *cs);
    for (size_t i = 0; i < n_angles; i++) {
        cs[2 * i] = cos(angles_deg[i] * M_PI / 180.0);
        cs[2 * i + 1] = sin(angles_deg[i] * M_PI / 180.0);
    }
    for (size_t r = 0; r < w; r++)
        for (size_t c = 0; c < w; c++) {
            double x = (double)c - centre, y = (double)r - centre, acc = 0;
            for (size_t i = 0; i < n_angles; i++) {
                double j = x * cs[2 * i] + y * cs[2 * i + 1] + axis;
                double f = floor(j);
                long j0 = (long)f;
                double t = j - f;
                double v0 = (j0 >= 0 && j0 < (long)w) ? q[i * w + (size_t)j0] : 0;
                double v1 = (j0 + 1 >= 0 && j0 + 1 < (long)w) ? q[i * w + (size_t)j0 + 1] : 0;
                acc += v0 + t * (v1 - v0);
            }
            out[r * w + c] = (float)(acc * scale);
        }
    free(cs);
    free(q);
    fftwf_destroy_plan(fwd);
    fftwf_destroy_plan(bwd);
    fftwf_free(line);
    fftwf_free(spec);
}
