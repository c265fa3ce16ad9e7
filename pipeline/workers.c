/* workers.c - persistent threads for data-parallel loops.
 *
 * Design: a generation counter under one mutex. tl_workers_run() publishes the
 * job (fn, ctx, n_items, grain), bumps the generation and broadcasts; every
 * thread, the caller included, then claims blocks from an atomic cursor until
 * the range is exhausted, and the last one to finish signals `done`. Threads
 * wait for the next generation, so a spurious wake-up never runs a job twice.
 */
#define _GNU_SOURCE
#include "workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct tl_workers {
    int n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    unsigned long generation;
    int stopping;
    int active; /* threads still working on the current generation */
    /* the current job */
    tl_workers_fn fn;
    void *ctx;
    size_t n_items;
    size_t grain;
    atomic_size_t cursor;
};

int tl_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void run_blocks(tl_workers *w, int thread)
{
    for (;;) {
        size_t begin = atomic_fetch_add(&w->cursor, w->grain);
        if (begin >= w->n_items)
            break;
        size_t end = begin + w->grain;
        if (end > w->n_items)
            end = w->n_items;
        w->fn(w->ctx, begin, end, thread);
    }
}

struct thread_arg {
    tl_workers *w;
    int index;
};

static void *thread_main(void *p)
{
    struct thread_arg *arg = p;
    tl_workers *w = arg->w;
    int index = arg->index;
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stopping && w->generation == seen)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->stopping)
            break;
        seen = w->generation;
        pthread_mutex_unlock(&w->lock);
        run_blocks(w, index);
        pthread_mutex_lock(&w->lock);
        if (--w->active == 0)
            pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

tl_status tl_workers_create(int n_threads, tl_workers **out, tl_error *err)
{
    *out = NULL;
    if (n_threads <= 0)
        n_threads = tl_cpu_count();
    tl_workers *w = calloc(1, sizeof *w);
    if (!w)
        return tl_error_set(err, TL_ERR_NOMEM, "cannot allocate %d worker threads", n_threads);
    w->n_threads = 1; /* grows as threads start */
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->done, NULL);
    atomic_init(&w->cursor, 0);
    if (n_threads > 1) {
        w->threads = calloc((size_t)n_threads - 1, sizeof *w->threads);
        if (!w->threads)
            goto fail_alloc;
    }
    for (int i = 1; i < n_threads; i++) {
        struct thread_arg *arg = malloc(sizeof *arg);
        if (!arg)
            goto fail_threads;
        arg->w = w;
        arg->index = i;
        if (pthread_create(&w->threads[i - 1], NULL, thread_main, arg) != 0) {
            free(arg);
            goto fail_threads;
        }
        w->n_threads = i + 1; /* caller plus the threads started so far, for unwinding */
    }
    *out = w;
    return TL_OK;

fail_threads:
    tl_workers_destroy(&w); /* joins the w->n_threads - 1 threads that did start */
    return tl_error_set(err, TL_ERR_NOMEM, "cannot start %d worker threads", n_threads);
fail_alloc:
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return tl_error_set(err, TL_ERR_NOMEM, "cannot allocate %d worker threads", n_threads);
}

void tl_workers_destroy(tl_workers **workers)
{
    if (!workers || !*workers)
        return;
    tl_workers *w = *workers;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (int i = 1; i < w->n_threads; i++)
        pthread_join(w->threads[i - 1], NULL);
    free(w->threads);
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
    *workers = NULL;
}

int tl_workers_count(const tl_workers *workers) { return workers ? workers->n_threads : 1; }

void tl_workers_run(tl_workers *w, size_t n_items, size_t grain, tl_workers_fn fn, void *ctx)
{
    if (n_items == 0)
        return;
    if (!w || w->n_threads == 1) {
        fn(ctx, 0, n_items, 0);
        return;
    }
    if (grain == 0) {
        grain = n_items / ((size_t)w->n_threads * 4);
        if (grain == 0)
            grain = 1;
    }
    pthread_mutex_lock(&w->lock);
    w->fn = fn;
    w->ctx = ctx;
    w->n_items = n_items;
    w->grain = grain;
    atomic_store(&w->cursor, 0);
    w->active = w->n_threads - 1;
    w->generation++;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);

    run_blocks(w, 0);

    pthread_mutex_lock(&w->lock);
    while (w->active > 0)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}
