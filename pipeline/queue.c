/* queue.c - bounded blocking FIFO (see queue.h): a ring of pointers under one mutex. */
#include "queue.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"

struct tl_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void **ring;
    size_t capacity, head, length;
    int closed;
    tl_queue_stats stats;
};

tl_status tl_queue_create(size_t capacity, tl_queue **out, tl_error *err)
{
    *out = NULL;
    if (capacity == 0)
        return tl_error_set(err, TL_ERR_INVALID, "a queue needs room for at least one item");
    tl_queue *q = calloc(1, sizeof *q);
    if (q)
        q->ring = calloc(capacity, sizeof *q->ring);
    if (!q || !q->ring) {
        free(q);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for a queue of %zu items", capacity);
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->capacity = q->stats.capacity = capacity;
    *out = q;
    return TL_OK;
}

void tl_queue_destroy(tl_queue **queue)
{
    if (!queue || !*queue)
        return;
    tl_queue *q = *queue;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
    *queue = NULL;
}

int tl_queue_push(tl_queue *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    if (q->length == q->capacity && !q->closed) {
        double t0 = tl_now();
        q->stats.blocked_pushes++;
        while (q->length == q->capacity && !q->closed)
            pthread_cond_wait(&q->not_full, &q->lock);
        q->stats.blocked_seconds += tl_now() - t0;
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return 0;
    }
    q->ring[(q->head + q->length) % q->capacity] = item;
    q->length++;
    q->stats.pushed++;
    if (q->length > q->stats.high_water)
        q->stats.high_water = q->length;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return 1;
}

static void *take(tl_queue *q)
{
    void *item = q->ring[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->length--;
    q->stats.popped++;
    pthread_cond_signal(&q->not_full);
    return item;
}

void *tl_queue_pop(tl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->length == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->lock);
    void *item = q->length ? take(q) : NULL;
    pthread_mutex_unlock(&q->lock);
    return item;
}

void *tl_queue_try_pop(tl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    void *item = q->length ? take(q) : NULL;
    pthread_mutex_unlock(&q->lock);
    return item;
}

void tl_queue_close(tl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t tl_queue_length(tl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->length;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void tl_queue_get_stats(tl_queue *q, tl_queue_stats *stats)
{
    pthread_mutex_lock(&q->lock);
    *stats = q->stats;
    pthread_mutex_unlock(&q->lock);
}
