/* binning.c - b x b block means (see binning.h). */
#include "binning.h"

#include <string.h>

size_t tl_binning_factor(long level) { return level >= 0 && level <= 3 ? (size_t)1 << level : 0; }

double tl_binning_axis(double raw_axis, size_t factor)
{
    double b = (double)factor;
    return (raw_axis - 0.5 * (b - 1.0)) / b;
}

double tl_binning_axis_raw(double binned_axis, size_t factor)
{
    double b = (double)factor;
    return binned_axis * b + 0.5 * (b - 1.0);
}

/* Output columns per pass: the sums of one output row live on the stack. */
#define TL_BINNING_BLOCK 256

void tl_binning_frame(const float *in, size_t n_rows, size_t n_cols, size_t factor, float *out)
{
    const size_t b = factor, out_rows = n_rows / b, out_cols = n_cols / b;
    if (b == 1) {
        memcpy(out, in, n_rows * n_cols * sizeof *out);
        return;
    }
    const double scale = 1.0 / (double)(b * b);
    double sum[TL_BINNING_BLOCK];
    for (size_t i = 0; i < out_rows; i++)
        for (size_t j0 = 0; j0 < out_cols; j0 += TL_BINNING_BLOCK) {
            const size_t nj = out_cols - j0 < TL_BINNING_BLOCK ? out_cols - j0 : TL_BINNING_BLOCK;
            for (size_t j = 0; j < nj; j++)
                sum[j] = 0.0;
            for (size_t r = i * b; r < i * b + b; r++) {
                const float *src = in + r * n_cols + j0 * b;
                for (size_t j = 0; j < nj; j++)
                    for (size_t k = 0; k < b; k++)
                        sum[j] += (double)src[j * b + k];
            }
            float *dst = out + i * out_cols + j0;
            for (size_t j = 0; j < nj; j++)
                dst[j] = (float)(sum[j] * scale);
        }
}

typedef struct {
    const float *in;
    float *out;
    size_t n_rows, n_cols, factor;
} frames_ctx;

static void bin_frames(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    frames_ctx *c = ctx;
    const size_t in_frame = c->n_rows * c->n_cols;
    const size_t out_frame = (c->n_rows / c->factor) * (c->n_cols / c->factor);
    for (size_t f = begin; f < end; f++)
        tl_binning_frame(c->in + f * in_frame, c->n_rows, c->n_cols, c->factor, c->out + f * out_frame);
}

void tl_binning_frames(const float *in, size_t n_frames, size_t n_rows, size_t n_cols, size_t factor, float *out,
                       tl_workers *workers)
{
    frames_ctx c = {.in = in, .out = out, .n_rows = n_rows, .n_cols = n_cols, .factor = factor};
    tl_workers_run(workers, n_frames, 1, bin_frames, &c);
}
