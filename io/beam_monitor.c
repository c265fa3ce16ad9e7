/* beam_monitor.c - per-frame beam intensities of a scan (see beam_monitor.h). */
#include "beam_monitor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5_util.h"
#include "scan_read.h"

void tl_beam_monitor_destroy(tl_beam_monitor **m)
{
    if (!m || !*m)
        return;
    free((*m)->proj);
    free((*m)->flat);
    free(*m);
    *m = NULL;
}

/* A value that can divide a frame: finite and positive. */
static tl_status check_value(const tl_scan *s, const char *source, double v, const char *kind, size_t index,
                             size_t at, int per_frame, tl_error *err)
{
    if (isfinite(v) && v > 0.0)
        return TL_OK;
    if (per_frame)
        return tl_error_set(err, TL_ERR_DATA,
                            "'%s': the beam monitor %s is %g at frame %zu (%s %zu); a beam intensity must be a "
                            "positive number",
                            s->path, source, v, at, kind, index);
    return tl_error_set(err, TL_ERR_DATA,
                        "'%s': the beam monitor %s is %g at %s %zu; a beam intensity must be a positive number",
                        s->path, source, v, kind, index);
}

tl_status tl_beam_monitor_read(tl_scan *s, const char *spec, tl_beam_monitor **out, tl_error *err)
{
    *out = NULL;
    if (!s)
        return tl_error_set(err, TL_ERR_INVALID, "beam monitor: no scan");
    tl_h5_quiet();
    const tl_scan_info *info = &s->info;
    hid_t file = H5I_INVALID_HID;
    char file_name[TL_SCAN_PATH_MAX * 2], dpath[TL_SCAN_PATH_MAX];
    tl_status st;
    if (spec && spec[0]) {
        if ((st = tl_scan_resolve(s, spec, "--beam-monitor-path", &file, file_name, sizeof file_name, dpath,
                                  sizeof dpath, err)) != TL_OK)
            return st;
    } else {
        int found = 0;
        if (info->layout == TL_LAYOUT_NXTOMO && info->entry_path && s->file >= 0) {
            snprintf(dpath, sizeof dpath, "%s/control/data", info->entry_path);
            found = tl_h5_link_exists(s->file, dpath) > 0;
            file = s->file;
            snprintf(file_name, sizeof file_name, "%s", s->path);
        }
        if (!found)
            return tl_error_set(
                err, TL_ERR_FORMAT,
                "'%s' (%s) has no beam monitor where one is looked for (%s); name the dataset "
                "of the beam intensity or ring current per frame with --beam-monitor-path /path or FILE:/path",
                s->path, info->layout_name,
                info->layout == TL_LAYOUT_NXTOMO && info->entry_path ? "ENTRY/control/data, the NXtomo monitor"
                                                                      : "this layout defines none");
    }
    double *v = NULL;
    size_t n = 0;
    if ((st = tl_scan_read_doubles(file, file_name, dpath, &v, &n, NULL, 0, err)) != TL_OK)
        return st;

    tl_beam_monitor *m = calloc(1, sizeof *m);
    const size_t n_proj = info->n_proj, n_flat = info->n_flat;
    const size_t n_frames = s->n_stacks ? s->stacks[s->main_stack].n : 0;
    if (!m || !(m->proj = malloc((n_proj ? n_proj : 1) * sizeof *m->proj))) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for the beam monitor", s->path);
        goto fail;
    }
    if (file == s->file)
        snprintf(m->source, sizeof m->source, "%s", dpath);
    else
        snprintf(m->source, sizeof m->source, "%s:%s", file_name, dpath);
    m->n_proj = n_proj;
    m->n_flat = n_flat;
    /* per frame: every projection must come from the main stack */
    int per_frame = n == n_frames && n_frames > 0;
    const tl_frame_kind *pk = &s->kinds[TL_KEY_PROJECTION];
    for (size_t r = 0; per_frame && r < pk->n_runs; r++)
        per_frame = pk->runs[r].stack == s->main_stack;
    if (!per_frame && n != n_proj) {
        if (n_frames != n_proj && n_frames > 0)
            st = tl_error_set(err, TL_ERR_FORMAT,
                              "'%s': the beam monitor %s has %zu values, expected %zu (one per frame of %s) or %zu "
                              "(one per projection)",
                              s->path, m->source, n, n_frames, info->data_path, n_proj);
        else
            st = tl_error_set(err, TL_ERR_FORMAT, "'%s': the beam monitor %s has %zu values, expected %zu (one per "
                              "projection)", s->path, m->source, n, n_proj);
        goto fail;
    }
    m->per_frame = per_frame;
    double sum = 0.0;
    size_t i = 0;
    for (size_t r = 0; r < pk->n_runs; r++)
        for (size_t j = 0; j < pk->runs[r].count; j++, i++) {
            size_t at = per_frame ? pk->runs[r].start + j : i;
            if ((st = check_value(s, m->source, v[at], "projection", i, at, per_frame, err)) != TL_OK)
                goto fail;
            m->proj[i] = v[at];
            sum += v[at];
        }
    m->reference = sum / (double)n_proj;
    m->min = m->max = 1.0;
    for (i = 0; i < n_proj; i++) {
        m->proj[i] /= m->reference;
        m->min = fmin(m->min, m->proj[i]);
        m->max = fmax(m->max, m->proj[i]);
    }
    /* flats: values only when every flat is a frame of the main stack */
    const tl_frame_kind *fk = &s->kinds[TL_KEY_FLAT];
    int flats_have = per_frame && n_flat > 0;
    for (size_t r = 0; flats_have && r < fk->n_runs; r++)
        flats_have = fk->runs[r].stack == s->main_stack;
    if (flats_have) {
        if (!(m->flat = malloc(n_flat * sizeof *m->flat))) {
            st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for the beam monitor", s->path);
            goto fail;
        }
        i = 0;
        for (size_t r = 0; r < fk->n_runs; r++)
            for (size_t j = 0; j < fk->runs[r].count; j++, i++) {
                size_t at = fk->runs[r].start + j;
                if ((st = check_value(s, m->source, v[at], "flat", i, at, 1, err)) != TL_OK)
                    goto fail;
                m->flat[i] = v[at] / m->reference;
            }
    }
    free(v);
    *out = m;
    return TL_OK;
fail:
    free(v);
    tl_beam_monitor_destroy(&m);
    return st;
}
