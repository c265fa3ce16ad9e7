/* fftw_wisdom.c - FFTW (float) wisdom kept across runs; see fftw_wisdom.h.
 *
 * All state below is guarded by the FFTW planner lock of filter.h, which the
 * callers hold: FFTW's wisdom is process-global, like its planner.
 */
#include "fftw_wisdom.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter.h"
#include "log.h"

static int tried_load;                    /* planner lock */
static tl_fftw_wisdom_counters counters;  /* planner lock */

/* The host name with anything but [A-Za-z0-9._-] replaced by '_' (it becomes part of a file name). */
static void host_name(char *buf, size_t size)
{
    if (gethostname(buf, size) != 0 || buf[0] == '\0')
        snprintf(buf, size, "unknown");
    buf[size - 1] = '\0';
    for (char *c = buf; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                 *c == '_' || *c == '-';
        if (!ok)
            *c = '_';
    }
    if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)
        snprintf(buf, size, "unknown");
}

/* The cache directory: $XDG_CACHE_HOME when absolute (the XDG spec ignores relative ones), else
 * $HOME/.cache. 0 when there is neither. */
static int cache_dir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, size, "%s", xdg);
    else if (home && home[0] != '\0')
        n = snprintf(buf, size, "%s/.cache", home);
    else
        return 0;
    return n > 0 && (size_t)n < size;
}

int tl_fftw_wisdom_path(char *buf, size_t size)
{
    const char *explicit_path = getenv("TOMOLINE_FFTW_WISDOM");
    int n;
    if (explicit_path && explicit_path[0] != '\0') {
        n = snprintf(buf, size, "%s", explicit_path);
    } else {
        char dir[4096], host[256];
        if (!cache_dir(dir, sizeof dir))
            return 0;
        host_name(host, sizeof host);
        n = snprintf(buf, size, "%s/tomoline/fftw-wisdom-%s", dir, host);
    }
    return n > 0 && (size_t)n < size;
}

/* mkdir -p of the default location only ($XDG_CACHE_HOME/tomoline): a path given in
 * $TOMOLINE_FFTW_WISDOM is the user's, and its directory must exist. 0700 as the XDG spec asks. */
static void make_cache_dirs(void)
{
    const char *explicit_path = getenv("TOMOLINE_FFTW_WISDOM");
    char dir[4096], sub[4200];
    if ((explicit_path && explicit_path[0] != '\0') || !cache_dir(dir, sizeof dir))
        return;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return;
    snprintf(sub, sizeof sub, "%s/tomoline", dir);
    (void)mkdir(sub, 0700);
}

void tl_fftw_wisdom_load(void)
{
    if (tried_load)
        return;
    tried_load = 1;
    char path[4096];
    struct stat st;
    if (!tl_fftw_wisdom_path(path, sizeof path)) {
        tl_log_debug("fftw wisdom: no cache directory ($HOME and $XDG_CACHE_HOME unset); planning without");
        return;
    }
    if (stat(path, &st) != 0) {
        tl_log_debug("fftw wisdom: %s: %s; planning without", path, strerror(errno));
        return;
    }
    if (!fftwf_import_wisdom_from_filename(path)) {
        tl_log_debug("fftw wisdom: %s is not FFTW float wisdom (or unreadable); ignored", path);
        return;
    }
    counters.loaded = 1;
    tl_log_debug("fftw wisdom: imported %s", path);
}

int tl_fftw_wisdom_save(void)
{
    char path[4096], partial[4200];
    if (!tl_fftw_wisdom_path(path, sizeof path)) {
        counters.save_failed++;
        tl_log_debug("fftw wisdom: no cache directory ($HOME and $XDG_CACHE_HOME unset); not saved");
        return 0;
    }
    make_cache_dirs();
    /* one partial file per process: two runs saving at once each rename a whole file */
    snprintf(partial, sizeof partial, "%s.%ld.partial", path, (long)getpid());
    if (!fftwf_export_wisdom_to_filename(partial)) {
        counters.save_failed++;
        tl_log_debug("fftw wisdom: cannot write %s; not saved", partial);
        unlink(partial);
        return 0;
    }
    if (rename(partial, path) != 0) {
        counters.save_failed++;
        tl_log_debug("fftw wisdom: cannot rename %s to %s: %s; not saved", partial, path, strerror(errno));
        unlink(partial);
        return 0;
    }
    counters.saved++;
    tl_log_debug("fftw wisdom: saved %s", path);
    return 1;
}

/* TOMOLINE_FFTW_MEASURE=1: measure problems the wisdom lacks (slow once, then from wisdom). */
static int measure_wanted(void)
{
    const char *v = getenv("TOMOLINE_FFTW_MEASURE");
    return v && strcmp(v, "1") == 0;
}

fftwf_plan tl_fftw_plan_with_wisdom(tl_fftw_planner_fn plan, void *ctx)
{
    tl_fftw_wisdom_load();
    fftwf_plan p = plan(ctx, FFTW_MEASURE | FFTW_WISDOM_ONLY);
    if (p) {
        counters.from_wisdom++;
        return p;
    }
    if (measure_wanted()) {
        p = plan(ctx, FFTW_MEASURE);
        if (p) {
            counters.measured++;
            tl_fftw_wisdom_save(); /* now, not at exit: a run that is killed still leaves it */
            return p;
        }
    }
    p = plan(ctx, FFTW_ESTIMATE);
    if (p)
        counters.estimated++;
    return p;
}

void tl_fftw_wisdom_get_counters(tl_fftw_wisdom_counters *out)
{
    tl_fftw_planner_lock();
    *out = counters;
    tl_fftw_planner_unlock();
}
