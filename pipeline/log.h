/* log.h - messages to stderr for people watching a run.
 *
 * Levels: error < warn < info < debug. The CLI sets the level once from
 * --verbose/--quiet; libraries only call tl_log_*. Errors that end a command are
 * printed by the CLI as "tomoline: error: ..." and not through this module.
 * Thread-safe: each message is written with a single fprintf under a lock.
 */
#ifndef TL_LOG_H
#define TL_LOG_H

#include "status.h"

typedef enum { TL_LOG_ERROR = 0, TL_LOG_WARN, TL_LOG_INFO, TL_LOG_DEBUG } tl_log_level;

void tl_log_set_level(tl_log_level level);
/* Who speaks ("tomoline (rank 1 of 4)" under MPI; "tomoline" by default), and
 * the most detailed level allowed from now on, whatever --verbose says. */
void tl_log_set_source(const char *name, tl_log_level cap);
tl_log_level tl_log_get_level(void);

void tl_log(tl_log_level level, const char *fmt, ...) TL_PRINTF(2, 3);
#define tl_log_warn(...) tl_log(TL_LOG_WARN, __VA_ARGS__)
#define tl_log_info(...) tl_log(TL_LOG_INFO, __VA_ARGS__)
#define tl_log_debug(...) tl_log(TL_LOG_DEBUG, __VA_ARGS__)

/* Monotonic seconds, for stage timings and progress. */
double tl_now(void);

#endif
