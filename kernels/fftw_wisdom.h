/* fftw_wisdom.h - FFTW (float) wisdom kept across runs, and plans that use it.
 *
 * FFTW_MEASURE finds faster transforms than FFTW_ESTIMATE but takes from
 * milliseconds to seconds per size to plan; wisdom remembers what it found. This
 * module owns one wisdom file per host and the rule for choosing planner flags:
 *
 *   - The file is $TOMOLINE_FFTW_WISDOM when set, else
 *     ${XDG_CACHE_HOME:-$HOME/.cache}/tomoline/fftw-wisdom-<host>. It is imported
 *     once per process, at the first plan; a missing or unreadable file is fine
 *     (a debug log line).
 *   - A plan comes from wisdom (FFTW_MEASURE | FFTW_WISDOM_ONLY) when the wisdom
 *     has that problem; otherwise it is measured when TOMOLINE_FFTW_MEASURE=1
 *     (and the grown wisdom is written back at once), else planned with
 *     FFTW_ESTIMATE, so small runs and the tests never wait for the planner.
 *   - Writing is atomic (NAME.<pid>.partial, then rename), so a crash or two
 *     processes saving at once never leave a torn file; a failure to write is a
 *     debug log line, never an error.
 *
 * A plan from wisdom can use another algorithm than an estimated one, so
 * results may differ in the last float bits between a run with wisdom and one
 * without (the transforms are exact to float rounding either way).
 *
 * Thread safety: FFTW's planner and wisdom are process-global and not
 * thread-safe; every function here except tl_fftw_wisdom_get_counters() expects the
 * planner lock of filter.h (tl_fftw_planner_lock) to be held by the caller.
 */
#ifndef TL_FFTW_WISDOM_H
#define TL_FFTW_WISDOM_H

#include <fftw3.h>
#include <stddef.h>

/* Makes one plan with the given planner flags (FFTW_MEASURE may overwrite the
 * plan's arrays: use scratch buffers). Returns NULL when FFTW cannot plan, or,
 * with FFTW_WISDOM_ONLY, when the wisdom lacks the problem. */
typedef fftwf_plan (*tl_fftw_planner_fn)(void *ctx, unsigned flags);

/* Plan through wisdom by the rule above. Planner lock held. NULL when FFTW
 * cannot plan the problem at all. Caller owns the plan (fftwf_destroy_plan under
 * the lock). */
fftwf_plan tl_fftw_plan_with_wisdom(tl_fftw_planner_fn plan, void *ctx);

/* Import the wisdom file if this process has not tried yet. Planner lock held.
 * tl_fftw_plan_with_wisdom() calls it; exposed for planners that need the
 * wisdom before planning otherwise. */
void tl_fftw_wisdom_load(void);

/* Write all wisdom of the process to the file (atomically). Planner lock held.
 * Returns 1 on success, 0 on failure (logged at debug level). */
int tl_fftw_wisdom_save(void);

/* The wisdom file of this process: 1 and the path in buf, or 0 when there is
 * none (no $HOME, or the path does not fit in size bytes). */
int tl_fftw_wisdom_path(char *buf, size_t size);

/* What happened so far in this process (for tests, logs and benchmarks). */
typedef struct {
    int loaded;                                     /* the file was imported */
    unsigned long from_wisdom, measured, estimated; /* plans made by tl_fftw_plan_with_wisdom */
    unsigned long saved, save_failed;               /* writes of the file */
} tl_fftw_wisdom_counters;

/* A snapshot of the counters; takes the planner lock itself. */
void tl_fftw_wisdom_get_counters(tl_fftw_wisdom_counters *out);

#endif
