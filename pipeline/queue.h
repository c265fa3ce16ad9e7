/* queue.h - a bounded, blocking FIFO of pointers joining two pipeline stages.
 *
 * The stages of the streaming pipeline (pipeline/stream.h) hand buffers to each
 * other through these queues. A queue holds at most `capacity` items: a
 * producer that finds it full waits, which is how backpressure travels from a
 * slow stage back to the socket (the receiver stops reading, ZeroMQ's
 * high-water mark stops the sender) instead of memory growing with the input.
 * A pool of recycled buffers is a queue filled with them at the start: take
 * one with tl_queue_pop(), give it back with tl_queue_push().
 *
 * Any number of producers and consumers; one mutex, two condition variables
 * (the classic monitor of Hoare 1974). tl_queue_close() wakes everyone: pushes
 * then fail and pops drain what is left, then return NULL.
 */
#ifndef TL_QUEUE_H
#define TL_QUEUE_H

#include <stddef.h>

#include "status.h"

typedef struct tl_queue tl_queue;

typedef struct tl_queue_stats {
    size_t capacity;
    size_t pushed, popped;
    size_t high_water;     /* most items held at once */
    size_t blocked_pushes; /* pushes that had to wait for room */
    double blocked_seconds; /* total time producers waited for room */
} tl_queue_stats;

tl_status tl_queue_create(size_t capacity, tl_queue **out, tl_error *err) TL_MUST_CHECK;
/* Frees the queue, not the items it still holds. NULL and *queue == NULL are fine. */
void tl_queue_destroy(tl_queue **queue);
/* Append item (not NULL); waits while the queue is full. Returns 0 when the
 * queue is (or gets) closed and the item was not taken, 1 otherwise. */
int tl_queue_push(tl_queue *queue, void *item);
/* The oldest item; waits while the queue is empty and open. NULL: closed and empty. */
void *tl_queue_pop(tl_queue *queue);
/* The oldest item, or NULL at once when there is none. */
void *tl_queue_try_pop(tl_queue *queue);
void tl_queue_close(tl_queue *queue);
size_t tl_queue_length(tl_queue *queue);
void tl_queue_get_stats(tl_queue *queue, tl_queue_stats *stats);

#endif
