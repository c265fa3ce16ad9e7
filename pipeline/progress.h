/* progress.h - progress of long runs, for the person watching.
 *
 * On a terminal (stderr is a tty) a bar redrawn in place at most ten times a
 * second: stage, items done, rate and time left. Elsewhere (logs, CI, pipes)
 * plain lines, at most one every few seconds and at the end. Nothing at all when
 * the log level is below info (--quiet) or the mode is "none".
 * All functions accept NULL, so callers need not check tl_progress_create().
 */
#ifndef TL_PROGRESS_H
#define TL_PROGRESS_H

#include <stddef.h>

typedef enum { TL_PROGRESS_AUTO = 0, TL_PROGRESS_BAR, TL_PROGRESS_LINES, TL_PROGRESS_NONE } tl_progress_mode;

typedef struct tl_progress tl_progress;

/* "auto", "bar", "lines", "none"; unknown names give TL_PROGRESS_AUTO. */
tl_progress_mode tl_progress_mode_parse(const char *name);

/* label: "recon"; unit: "slices". Caller owns the result (may be NULL). */
tl_progress *tl_progress_create(const char *label, size_t total, const char *unit, tl_progress_mode mode);
/* done of total items finished; stage names what runs now (may be NULL). */
void tl_progress_update(tl_progress *p, size_t done, const char *stage);
/* Final state (a line with the totals) and destroy; sets *p = NULL. */
void tl_progress_finish(tl_progress **p);

/* "1:02:03" or "2:03" into buf. */
void tl_progress_format_seconds(double seconds, char *buf, size_t size);

#endif
