/* test_workers.c - the thread set runs every item exactly once. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "workers.h"

typedef struct {
    atomic_int *hits;
    int n_threads;
    atomic_int bad_thread;
} ctx_t;

static void body(void *p, size_t begin, size_t end, int thread)
{
    ctx_t *c = p;
    if (thread < 0 || thread >= c->n_threads)
        atomic_store(&c->bad_thread, 1);
    for (size_t i = begin; i < end; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

Test(workers, every_item_once_for_many_runs_and_sizes)
{
    int counts[] = {1, 2, 5};
    for (size_t t = 0; t < 3; t++) {
        tl_workers *w = NULL;
        tl_error err = {0};
        cr_assert_eq(tl_workers_create(counts[t], &w, &err), TL_OK);
        cr_assert_eq(tl_workers_count(w), counts[t]);
        for (size_t n = 0; n < 300; n += 37) {
            for (size_t grain = 0; grain < 4; grain++) {
                atomic_int *hits = calloc(n + 1, sizeof *hits);
                ctx_t c = {.hits = hits, .n_threads = counts[t]};
                tl_workers_run(w, n, grain, body, &c);
                for (size_t i = 0; i < n; i++)
                    cr_assert_eq(atomic_load(&hits[i]), 1, "item %zu of %zu ran %d times", i, n,
                                 atomic_load(&hits[i]));
                cr_assert_eq(atomic_load(&c.bad_thread), 0);
                free(hits);
            }
        }
        tl_workers_destroy(&w);
        cr_assert_null(w);
    }
    tl_workers_destroy(NULL);
}

Test(workers, zero_means_one_per_core)
{
    tl_workers *w = NULL;
    cr_assert_eq(tl_workers_create(0, &w, NULL), TL_OK);
    cr_assert_eq(tl_workers_count(w), tl_cpu_count());
    tl_workers_destroy(&w);
}
