/* route.h - stream protocol 1 fanned out to several workers (issue 9): the row
 * split, the "route" field that `tomoline route` adds to the scan-start it
 * forwards to each `tomoline serve` worker, and the slab report a worker sends
 * back when its slab file is written or its scan has failed.
 *
 * docs/protocol.md ("Routing to several workers") is the specification. In
 * short: the router gives worker k of N the contiguous detector rows
 * [row_begin, row_end) of every frame; the scan-start it forwards says
 * rows = row_end - row_begin, row_offset = the scan's row_offset + row_begin,
 * and carries
 *
 *   "route": {"row_begin": r0, "row_end": r1, "rows_total": R, "worker": k,
 *             "workers": N, "report_to": "tcp://router:5561", "ticket": "..."}
 *
 * The worker reconstructs those rows into a slab file and PUSHes one report,
 * a single-part JSON message, to report_to:
 *
 *   {"protocol": 1, "type": "slab-report", "scan": ID, "ticket": "...",
 *    "worker": k, "row_begin": r0, "row_end": r1, "status": "ok"|"failed",
 *    "reason": "...", "path": "/abs/slab.nxs", "host": "...", "axis": a,
 *    "axis_method": "...", "seconds": s}
 *
 * The ticket (the router's, unique per forwarded scan) tells a report of this
 * scan from one of an earlier scan with the same id.
 *
 * Everything here but tl_route_report_send is pure (no sockets, no global
 * state); decoding takes text from a socket as it came and refuses anything
 * out of range with the field, the value and what is allowed, as wire.h does.
 */
#ifndef TL_ROUTE_H
#define TL_ROUTE_H

#include <stddef.h>

#include "status.h"
#include "wire.h"

#define TL_ROUTE_WORKERS_MAX 256    /* workers of one router */
#define TL_ROUTE_ENDPOINT_MAX 256   /* bytes of an endpoint, with the NUL */
#define TL_ROUTE_TICKET_MAX 48      /* bytes of a ticket, with the NUL */
#define TL_ROUTE_PATH_MAX 4096      /* bytes of a slab path, with the NUL */
#define TL_ROUTE_REASON_MAX 1024    /* bytes of a failure reason, with the NUL */

/* Rows [*begin, *end) of worker k of n_workers for a frame of `rows` rows:
 * floor(k rows / n) to floor((k + 1) rows / n), so the ranges are contiguous,
 * in worker order, cover every row once and differ in size by at most one
 * (7 rows, 2 workers: 0..2 and 3..6). With more workers than rows, some
 * workers get no row (*begin == *end). */
void tl_route_split(size_t rows, size_t n_workers, size_t k, size_t *begin, size_t *end);

typedef struct tl_route_field {
    size_t row_begin, row_end;  /* this worker's rows, of the frames the router received */
    size_t rows_total;          /* rows of the frames the router received */
    size_t worker, workers;     /* k of N */
    char report_to[TL_ROUTE_ENDPOINT_MAX]; /* the router's report endpoint (tcp:// or ipc://) */
    char ticket[TL_ROUTE_TICKET_MAX];      /* letters, digits, '-' */
} tl_route_field;

/* The route field of a scan-start header (header[0..size), as received; it has
 * been decoded by tl_wire_decode already, so it is JSON), checked, with
 * row_end - row_begin == rows (the forwarded scan-start's rows). *present = 0
 * and TL_OK when the header has no "route"; TL_ERR_DATA naming the field
 * otherwise. */
tl_status tl_route_field_decode(const void *header, size_t size, size_t rows, tl_route_field *out, int *present,
                                tl_error *err) TL_MUST_CHECK;

/* The scan-start header for one worker (caller frees; NULL when out of memory):
 * `start` (a decoded scan-start, not changed) with rows = row_end - row_begin,
 * row_offset = start's row_offset + row_begin, and the route field. */
char *tl_route_encode_start(const tl_wire_msg *start, const tl_route_field *route);

typedef struct tl_route_report {
    char scan[TL_WIRE_SCAN_ID_MAX];
    char ticket[TL_ROUTE_TICKET_MAX];
    size_t worker, row_begin, row_end;
    int ok;                               /* status "ok" (1) or "failed" (0) */
    char reason[TL_ROUTE_REASON_MAX];     /* failed: why; "" when ok */
    char path[TL_ROUTE_PATH_MAX];         /* ok: the slab file, absolute */
    char host[256];                       /* the worker's host name */
    double axis;                          /* the rotation axis used, columns; NAN when unknown */
    char axis_method[400];                /* how it was found ("given", "auto: ...") */
    double seconds;                       /* scan-start to slab written (or failure) */
} tl_route_report;

/* The report as JSON text (caller frees; NULL when out of memory). */
char *tl_route_report_encode(const tl_route_report *report);

/* Decode a report received on the router's report socket (any bytes). */
tl_status tl_route_report_decode(const void *text, size_t size, tl_route_report *out, tl_error *err) TL_MUST_CHECK;

/* PUSH `json` to endpoint on a socket of zmq_ctx made for it (callable from
 * any thread: the context is thread-safe, the socket is this call's). The
 * message is queued at once; ZeroMQ delivers it in the background for up to
 * linger_s seconds (the context's termination waits that long at most). */
tl_status tl_route_report_send(void *zmq_ctx, const char *endpoint, const char *json, double linger_s,
                               tl_error *err) TL_MUST_CHECK;

#endif
