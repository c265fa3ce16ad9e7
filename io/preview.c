/* preview.c - PNG previews of volume slices (see preview.h).
 *
 * Owns nothing beyond a call: the slice (one image of floats), a copy of its
 * finite values for the percentile selection, and the grey image, all freed
 * before returning. Memory is three images of the slice size, whatever the
 * volume's size.
 */
#define _POSIX_C_SOURCE 200809L
#include "preview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "png_write.h"
#include "volume.h"

static void swap(float *a, size_t i, size_t j)
{
    float t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Rearrange a[0..n) so that a[k] is the k-th smallest, nothing larger before it
 * and nothing smaller after it (Hoare's selection, median-of-three pivots).
 * No NaN in a. */
static float select_kth(float *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo])
            swap(a, lo, mid);
        if (a[hi] < a[lo])
            swap(a, lo, hi);
        if (a[hi] < a[mid])
            swap(a, mid, hi);
        if (hi - lo < 3)
            break; /* three or fewer values: now sorted */
        float pivot = a[mid];
        size_t i = lo, j = hi;
        /* a[lo] <= pivot <= a[hi] keeps both scans inside [lo, hi]. */
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            swap(a, i, j);
            i++;
            j--;
        }
        /* Now a[lo..j] <= pivot <= a[j+1..hi]. */
        if (i == j) {
            /* a[i] == pivot and it sits in its final place. */
            if (k == i)
                return a[k];
            if (k < i)
                hi = i - 1;
            else
                lo = i + 1;
        } else if (k <= j) {
            hi = j;
        } else {
            lo = j + 1;
        }
    }
    return a[k];
}

tl_status tl_preview_range(const float *v, size_t n, double clip_percent, double *lo, double *hi, size_t *n_finite,
                           tl_error *err)
{
    *lo = *hi = NAN;
    *n_finite = 0;
    if (!(clip_percent >= 0 && clip_percent < 50))
        return tl_error_set(err, TL_ERR_INVALID, "--clip-percent %g is outside 0 to 50 (exclusive)", clip_percent);
    float *a = malloc((n ? n : 1) * sizeof *a);
    if (!a)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for the contrast of a %zu-pixel slice", n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            a[m++] = v[i];
    *n_finite = m;
    if (m > 0) {
        double f = clip_percent / 100.0;
        size_t k_lo = (size_t)floor(f * (double)(m - 1));
        size_t k_hi = (size_t)ceil((1.0 - f) * (double)(m - 1));
        if (k_hi < k_lo)
            k_hi = k_lo;
        if (k_hi > m - 1)
            k_hi = m - 1;
        *lo = select_kth(a, m, k_lo);
        /* Everything from k_lo on is >= a[k_lo]: search only there. */
        *hi = select_kth(a + k_lo, m - k_lo, k_hi - k_lo);
    }
    free(a);
    return TL_OK;
}

void tl_preview_to_gray8(const float *v, size_t n, double lo, double hi, unsigned char *out)
{
    double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (isnan(x) || x == -INFINITY) {
            out[i] = 0;
        } else if (x == INFINITY) {
            out[i] = 255;
        } else if (!(hi > lo)) {
            out[i] = isnan(lo) ? 0 : x < lo ? 0 : x > hi ? 255 : 128;
        } else {
            double g = (x - lo) * scale;
            out[i] = g <= 0 ? 0 : g >= 255 ? 255 : (unsigned char)(g + 0.5);
        }
    }
}

void tl_preview_default_path(const char *volume_path, char axis, size_t index, char *buf, size_t size)
{
    size_t len = strlen(volume_path);
    while (len > 1 && volume_path[len - 1] == '/')
        len--; /* a TIFF volume directory given as "vol/" */
    size_t stem = len;
    for (size_t i = len; i > 0; i--) {
        char c = volume_path[i - 1];
        if (c == '/')
            break;
        if (c == '.' && i > 1 && volume_path[i - 2] != '/') {
            stem = i - 1;
            break;
        }
    }
    snprintf(buf, size, "%.*s_%c%04zu.png", (int)stem, volume_path, axis, index);
}

tl_status tl_preview_volume_ex(const char *volume_path, char axis, long index, double clip_percent,
                               const char *png_path, int overwrite, tl_preview_result *result, tl_error *err)
{
    if (!volume_path || !*volume_path)
        return tl_error_set(err, TL_ERR_INVALID, "no volume given to preview");
    int ax = axis == 'z' ? 0 : axis == 'y' ? 1 : axis == 'x' ? 2 : -1;
    if (ax < 0)
        return tl_error_set(err, TL_ERR_INVALID, "--axis '%c' is not known (allowed: z, y, x)", axis);
    if (!(clip_percent >= 0 && clip_percent < 50))
        return tl_error_set(err, TL_ERR_INVALID, "--clip-percent %g is outside 0 to 50 (exclusive)", clip_percent);
    size_t n[3];
    tl_status st = tl_volume_probe(volume_path, &n[0], &n[1], &n[2], err);
    if (st != TL_OK)
        return st;
    if (index < -1 || (index >= 0 && (size_t)index >= n[ax]))
        return tl_error_set(err, TL_ERR_INVALID, "--slice %ld is outside the volume (0 to %zu along %c)", index,
                            n[ax] - 1, axis);
    size_t k = index < 0 ? n[ax] / 2 : (size_t)index;
    char def[4352];
    if (!png_path || !*png_path) {
        tl_preview_default_path(volume_path, axis, k, def, sizeof def);
        png_path = def;
    }
    /* Refuse before reading anything: the same check the PNG writer makes. */
    struct stat sb;
    if (!overwrite && stat(png_path, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)", png_path);

    float *slice = NULL;
    unsigned char *grey = NULL;
    size_t rows = 0, cols = 0, n_finite = 0;
    double lo = NAN, hi = NAN;
    if ((st = tl_volume_read_slice(volume_path, axis, k, &slice, &rows, &cols, err)) != TL_OK)
        return st;
    if ((st = tl_preview_range(slice, rows * cols, clip_percent, &lo, &hi, &n_finite, err)) != TL_OK)
        goto done;
    grey = malloc(rows * cols);
    if (!grey) {
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory for a %zu x %zu preview", rows, cols);
        goto done;
    }
    tl_preview_to_gray8(slice, rows * cols, lo, hi, grey);
    if (n_finite == 0)
        tl_log_warn("'%s': slice %zu along %c holds no finite value; the preview is black", volume_path, k, axis);
    char desc[4600];
    snprintf(desc, sizeof desc,
             "slice %c=%zu of %zu of %s; grey 0..255 = values %.6g..%.6g (%g%% clipped at each end)", axis, k, n[ax],
             volume_path, lo, hi, clip_percent);
    if ((st = tl_png_write_gray8(png_path, grey, rows, cols, desc, overwrite, err)) != TL_OK)
        goto done;
    if (result) {
        memset(result, 0, sizeof *result);
        snprintf(result->png_path, sizeof result->png_path, "%s", png_path);
        result->axis = axis;
        result->index = k;
        result->n_along = n[ax];
        result->width = cols;
        result->height = rows;
        result->lo = lo;
        result->hi = hi;
        result->n_finite = n_finite;
    }
done:
    free(grey);
    free(slice);
    return st;
}

tl_status tl_preview_volume(const char *volume_path, char axis, long index, double clip_percent,
                            const char *png_path, int overwrite, tl_error *err)
{
    return tl_preview_volume_ex(volume_path, axis, index, clip_percent, png_path, overwrite, NULL, err);
}
