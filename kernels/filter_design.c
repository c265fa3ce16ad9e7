/* filter_design.c - ramp filter design and angular weights (host maths shared by
 * every backend). References are in filter.h. */
#include "filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const window_names[] = {"ramp", "shepp", "cosine", "hamming", "hann", "parzen"};
#define N_WINDOWS (sizeof window_names / sizeof window_names[0])

tl_status tl_filter_parse(const char *name, tl_filter_window *out, tl_error *err)
{
    for (size_t i = 0; i < N_WINDOWS; i++)
        if (strcmp(name, window_names[i]) == 0) {
            *out = (tl_filter_window)i;
            return TL_OK;
        }
    return tl_error_set(err, TL_ERR_INVALID,
                        "--fbp-filter: '%s' is not one of ramp, shepp, cosine, hamming, hann, parzen", name);
}

const char *tl_filter_name(tl_filter_window window)
{
    return (size_t)window < N_WINDOWS ? window_names[window] : "unknown";
}

size_t tl_filter_padded_size(size_t n_cols)
{
    size_t target = 2 * n_cols;
    if (target < 16)
        target = 16;
    for (size_t n = target;; n++) {
        size_t m = n;
        while (m % 2 == 0)
            m /= 2;
        while (m % 3 == 0)
            m /= 3;
        while (m % 5 == 0)
            m /= 5;
        while (m % 7 == 0)
            m /= 7;
        if (m == 1)
            return n;
    }
}

double tl_filter_window_value(tl_filter_window window, double x)
{
    if (x < 0)
        x = -x;
    if (x > 1)
        x = 1;
    switch (window) {
    case TL_FILTER_RAMP:
        return 1.0;
    case TL_FILTER_SHEPP: {
        double a = 0.5 * M_PI * x;
        return a == 0 ? 1.0 : sin(a) / a;
    }
    case TL_FILTER_COSINE:
        return cos(0.5 * M_PI * x);
    case TL_FILTER_HAMMING:
        return 0.54 + 0.46 * cos(M_PI * x);
    case TL_FILTER_HANN:
        return 0.5 + 0.5 * cos(M_PI * x);
    case TL_FILTER_PARZEN:
        return x <= 0.5 ? 1.0 - 6.0 * x * x * (1.0 - x) : 2.0 * (1.0 - x) * (1.0 - x) * (1.0 - x);
    }
    return 1.0;
}

void tl_filter_design(tl_filter_window window, size_t n_padded, double *response)
{
    /* H(k) = sum over n in (-n_padded/2, n_padded/2] of h(n) exp(-2 pi i k n / n_padded);
     * h is even, so H is real: h(0) + 2 sum_{n>0} h(n) cos(.) (the n = n_padded/2 term,
     * present once when n_padded is even, is added with weight 1). */
    size_t half = n_padded / 2;
    for (size_t k = 0; k <= half; k++) {
        double sum = 0.25;
        for (size_t n = 1; n <= half; n += 2) {
            double h = -1.0 / (M_PI * M_PI * (double)n * (double)n);
            double weight = (n_padded % 2 == 0 && n == half) ? 1.0 : 2.0;
            sum += weight * h * cos(2.0 * M_PI * (double)((k * n) % n_padded) / (double)n_padded);
        }
        double x = (double)k / (0.5 * (double)n_padded);
        response[k] = sum * tl_filter_window_value(window, x);
    }
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double theta; /* radians, mod pi */
    size_t index;
} angle_entry;

static int compare_entry(const void *a, const void *b)
{
    const angle_entry *x = a, *y = b;
    if (x->theta != y->theta)
        return (x->theta > y->theta) - (x->theta < y->theta);
    return (x->index > y->index) - (x->index < y->index);
}

tl_status tl_angle_weights(const double *angles_deg, size_t n, double *weights, tl_error *err)
{
    if (n < 2)
        return tl_error_set(err, TL_ERR_DATA, "a reconstruction needs at least 2 projection angles, got %zu", n);
    angle_entry *e = malloc(n * sizeof *e);
    double *gaps = malloc(n * sizeof *gaps);
    if (!e || !gaps) {
        free(e);
        free(gaps);
        return tl_error_set(err, TL_ERR_NOMEM, "cannot allocate angle tables for %zu angles", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(angles_deg[i])) {
            free(e);
            free(gaps);
            return tl_error_set(err, TL_ERR_DATA, "projection angle %zu is not a finite number", i);
        }
        double t = fmod(angles_deg[i] * M_PI / 180.0, M_PI);
        if (t < 0)
            t += M_PI;
        if (t >= M_PI) /* fmod rounding */
            t = 0;
        e[i].theta = t;
        e[i].index = i;
    }
    qsort(e, n, sizeof *e, compare_entry);
    /* gaps[i]: from sorted angle i to the next (wrapping at pi) */
    for (size_t i = 0; i < n; i++)
        gaps[i] = (i + 1 < n ? e[i + 1].theta : e[0].theta + M_PI) - e[i].theta;
    /* cap: a gap much wider than typical (limited-angle scans) must not give its
     * edge projections a huge weight. Ignore zero gaps (repeated angles) for the median. */
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        free(e);
        free(gaps);
        return tl_error_set(err, TL_ERR_NOMEM, "cannot allocate angle tables for %zu angles", n);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (gaps[i] > 1e-9)
            sorted[m++] = gaps[i];
    if (m == 0 || e[n - 1].theta - e[0].theta < 1e-9) {
        free(sorted);
        free(e);
        free(gaps);
        return tl_error_set(err, TL_ERR_DATA, "all %zu projection angles are equal (mod 180 degrees)", n);
    }
    qsort(sorted, m, sizeof *sorted, compare_double);
    double cap = 2.0 * sorted[m / 2];
    free(sorted);
    for (size_t i = 0; i < n; i++)
        if (gaps[i] > cap)
            gaps[i] = cap;
    /* Repeated angles share the interval: a run of equal angles splits the
     * half-gaps on both sides of the run evenly. */
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j + 1 < n && gaps[j] <= 1e-9)
            j++;
        double before = gaps[(i + n - 1) % n], after = gaps[j];
        double share = 0.5 * (before + after) / (double)(j - i + 1);
        for (size_t k = i; k <= j; k++)
            weights[e[k].index] = share;
        i = j + 1;
    }
    free(e);
    free(gaps);
    return TL_OK;
}
