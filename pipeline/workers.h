/* workers.h - a fixed set of threads that run data-parallel loops.
 *
 * The runner owns threads, kernels never start their own (STYLE.md, practice 6).
 * A kernel receives a tl_workers and calls tl_workers_run() with a range of
 * items; the range is cut into contiguous blocks handed out dynamically, so
 * uneven blocks (slices near the edge of the disk) balance out.
 *
 * The threads are started once in tl_workers_create() and sleep on a condition
 * variable between runs: tl_workers_run() allocates nothing. The calling thread
 * takes part in the work, so a tl_workers of one thread starts no thread at all.
 * One run at a time per tl_workers (calls are serialised by the caller).
 */
#ifndef TL_WORKERS_H
#define TL_WORKERS_H

#include <stddef.h>

#include "status.h"

typedef struct tl_workers tl_workers;

/* Body of a parallel loop: process items [begin, end) on thread `thread`
 * (0 <= thread < tl_workers_count()). */
typedef void (*tl_workers_fn)(void *ctx, size_t begin, size_t end, int thread);

/* Start n_threads - 1 threads (n_threads <= 0: one per online core).
 * Caller owns *out and frees it with tl_workers_destroy(). */
tl_status tl_workers_create(int n_threads, tl_workers **out, tl_error *err) TL_MUST_CHECK;
/* Stop and join the threads; accepts NULL and *workers == NULL; sets *workers = NULL. */
void tl_workers_destroy(tl_workers **workers);
int tl_workers_count(const tl_workers *workers);

/* Run fn over [0, n_items) in blocks of at most `grain` items (0: automatic)
 * and return when every block is done. workers may be NULL (runs serially). */
void tl_workers_run(tl_workers *workers, size_t n_items, size_t grain, tl_workers_fn fn, void *ctx);

/* Number of online cores (at least 1). */
int tl_cpu_count(void);

#endif
