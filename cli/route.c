/* route.c - `tomoline route`: one detector stream fanned out to several
 * `tomoline serve` workers, one volume file per scan (issue 9, part 2).
 *
 * Design. One thread owns every socket (ZeroMQ sockets are not thread-safe):
 *
 *   detector --PUSH--> [PULL --listen]  router  [PUSH]--> worker 0 (serve --listen E0)
 *                                               [PUSH]--> worker 1 ...
 *   workers  --PUSH--> [PULL --report-listen]   (slab reports)
 *
 * One PUSH socket per worker, not one PUSH connected to all (which would deal
 * the frames round-robin): every worker must see every frame. For each
 * scan-start the frame rows are split into contiguous ranges, as even as
 * possible (acquire/route.h); worker k gets a scan-start whose rows are its
 * range, with the "route" field (rows, k of N, where to report, a ticket), and
 * then its rows of every frame. The pixels are not copied: each worker's part
 * is a view into the received message (zmq_msg_init_data with a shared
 * reference count), released when the last worker's copy has gone out.
 * scan-end and abort go to every worker.
 *
 * Each worker reconstructs its rows into a slab file and PUSHes a report when
 * it is written (or its scan has failed). When every worker has reported ok, a
 * thread writes the scan's volume: an HDF5 virtual dataset over the slab files
 * (io/assemble.h), then one catalog record. Anything else makes the scan
 * incomplete, with one log line naming the worker, its endpoint and its rows,
 * and no volume and no record (never a volume silently short of rows):
 *   - a worker that does not take a message within --route-send-timeout
 *     (not connected, or its queue stays full);
 *   - a worker whose connection drops (the monitor's DISCONNECTED event; the
 *     links carry ZMTP heartbeats every --route-heartbeat seconds, so a peer
 *     that is gone without closing its connection is noticed too);
 *   - a worker that reports failure (refused the scan, frames missing, ...);
 *   - a worker that has not reported --route-timeout seconds after scan-end.
 * The other workers are then sent abort, so they free the scan at once.
 *
 * Backpressure: each worker link queues at most --route-queue frames; when a
 * worker falls behind, the router waits on it and stops reading the detector,
 * whose PUSH socket then meets its high-water mark, as with a single serve.
 * Memory: about --route-queue frames (shared by the links) plus ZeroMQ's
 * receive queue of --route-queue frames.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "assemble.h"
#include "catalog.h"
#include "cli.h"
#include "curve.h"
#include "json.h"
#include "log.h"
#include "recon.h"
#include "route.h"
#include "socket.h"
#include "version.h"
#include "wire.h"

#define MAX_ROUTE_SCANS 16 /* scans in flight at once (arriving, awaiting reports, being assembled) */

enum { R_SCANS, R_ASSEMBLED, R_INCOMPLETE, R_ABORTED, R_TIMEOUT, R_FAILED, R_MALFORMED, R_BAD_PAYLOAD,
       R_UNKNOWN_SCAN, R_BAD_SHAPE, R_OVER_LIMIT, R_BAD_REPORT, R_COUNT };
static const char *const counter_names[R_COUNT] = {
    "scans", "assembled", "incomplete", "aborted", "timed-out", "failed", "malformed", "bad-payload",
    "unknown-scan", "bad-shape", "over-limit", "bad-report"};

typedef struct worker_link {
    char endpoint[TL_ROUTE_ENDPOINT_MAX];
    void *sock;    /* PUSH */
    void *monitor; /* PAIR: the PUSH socket's connection events */
    int connected; /* a ZMTP connection is up (handshake done, not yet dropped) */
} worker_link;

enum { SLAB_NONE = 0, SLAB_STARTED, SLAB_ENDED, SLAB_OK, SLAB_FAILED };

typedef struct slab {
    size_t row_begin, row_end; /* of the received frames */
    int state;
    tl_route_report report;    /* SLAB_OK: the worker's report */
} slab;

enum { SCAN_FREE = 0, SCAN_RECEIVING, SCAN_WAITING, SCAN_ASSEMBLING, SCAN_DEAD };

struct router;

typedef struct route_scan {
    int state;
    struct router *r;
    char id[TL_WIRE_SCAN_ID_MAX], name[TL_WIRE_TEXT_MAX], sample[TL_WIRE_TEXT_MAX];
    char ticket[TL_ROUTE_TICKET_MAX];
    size_t rows, cols, row_offset;
    tl_wire_dtype dtype;
    size_t n_slabs, n_ok;
    slab *slabs;               /* [n_slabs]: worker k has slabs[k] */
    int ended;                 /* scan-end (or abort) arrived: a dead scan can go */
    size_t frames, bytes, dropped;
    double t_start, t_first_frame, t_last_frame, t_end, last_seen;
    char output[4200];
    pthread_t assembler;
    atomic_int assembled;      /* the assembler is done: R_ASSEMBLED or R_FAILED in result */
    int result;
} route_scan;

typedef struct router {
    const tl_config *cfg;
    void *ctx, *in, *status;
    worker_link *workers;
    size_t n_workers;
    char report_address[TL_ROUTE_ENDPOINT_MAX];
    size_t count[R_COUNT];
    unsigned long tickets;
    pthread_mutex_t hdf5_lock; /* HDF5 is not built thread-safe everywhere: one assembly at a time */
    route_scan scans[MAX_ROUTE_SCANS];
} router;

/* --- the worker list -------------------------------------------------------------------------- */

/* --to E1,E2,...: endpoints[n], each tcp:// or ipc://, none twice, not --listen. 0, or 2 with the message printed. */
static int parse_workers(const tl_config *cfg, worker_link **out, size_t *n_out)
{
    const char *to = cfg->to;
    static const char *const allowed = "comma-separated ZeroMQ endpoints of the serve workers, tcp://HOST:PORT or "
                                       "ipc://PATH, e.g. --to tcp://gpu1:5556,tcp://gpu2:5556";
    if (!to[0]) {
        fprintf(stderr, "tomoline: error: route needs --to, the serve workers to send the rows to (allowed: %s)\n",
                allowed);
        return 2;
    }
    size_t n = 1;
    for (const char *p = to; *p; p++)
        n += *p == ',';
    if (n > TL_ROUTE_WORKERS_MAX) {
        fprintf(stderr, "tomoline: error: --to names %zu workers (at most %d)\n", n, TL_ROUTE_WORKERS_MAX);
        return 2;
    }
    worker_link *w = calloc(n, sizeof *w);
    if (!w) {
        fprintf(stderr, "tomoline: error: out of memory\n");
        return 1;
    }
    const char *p = to;
    for (size_t k = 0; k < n; k++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            fprintf(stderr, "tomoline: error: --to '%s': worker %zu is empty (allowed: %s)\n", to, k + 1, allowed);
            goto bad;
        }
        if (len >= sizeof w[k].endpoint) {
            fprintf(stderr, "tomoline: error: --to: worker %zu is %zu bytes long (at most %zu)\n", k + 1, len,
                    sizeof w[k].endpoint - 1);
            goto bad;
        }
        memcpy(w[k].endpoint, p, len);
        w[k].endpoint[len] = '\0';
        if ((strncmp(w[k].endpoint, "tcp://", 6) != 0 || len == 6) &&
            (strncmp(w[k].endpoint, "ipc://", 6) != 0 || len == 6)) {
            fprintf(stderr, "tomoline: error: --to: '%s' is not a worker endpoint (allowed: %s)\n", w[k].endpoint,
                    allowed);
            goto bad;
        }
        if (strcmp(w[k].endpoint, cfg->listen) == 0) {
            fprintf(stderr, "tomoline: error: --to: '%s' is this router's own --listen (a loop)\n", w[k].endpoint);
            goto bad;
        }
        for (size_t j = 0; j < k; j++)
            if (strcmp(w[j].endpoint, w[k].endpoint) == 0) {
                fprintf(stderr, "tomoline: error: --to: '%s' is given twice (each worker once)\n", w[k].endpoint);
                goto bad;
            }
        p += len + 1;
    }
    *out = w;
    *n_out = n;
    return 0;
bad:
    free(w);
    return 2;
}

/* --- scans ------------------------------------------------------------------------------------ */

static void scan_free(route_scan *s)
{
    free(s->slabs);
    memset(s, 0, sizeof *s);
}

/* A scan in flight with this id (dead ones included; not those being assembled). */
static route_scan *find_scan(router *r, const char *id)
{
    for (int i = 0; i < MAX_ROUTE_SCANS; i++)
        if (r->scans[i].state != SCAN_FREE && r->scans[i].state != SCAN_ASSEMBLING && strcmp(r->scans[i].id, id) == 0)
            return &r->scans[i];
    return NULL;
}

static int output_taken(const router *r, const route_scan *self, const char *path)
{
    if (access(path, F_OK) == 0)
        return 1;
    for (int i = 0; i < MAX_ROUTE_SCANS; i++)
        if (&r->scans[i] != self && r->scans[i].state != SCAN_FREE && strcmp(r->scans[i].output, path) == 0)
            return 1;
    return 0;
}

/* Why a send to worker k failed, for the log. */
static void send_failure(const router *r, size_t k, int error, char *buf, size_t size)
{
    if (error == EAGAIN && !r->workers[k].connected)
        snprintf(buf, size, "not connected: it took no message within --route-send-timeout %g s",
                 r->cfg->route_send_timeout);
    else if (error == EAGAIN)
        snprintf(buf, size, "its queue stayed full for --route-send-timeout %g s (the worker is stuck or far behind)",
                 r->cfg->route_send_timeout);
    else
        snprintf(buf, size, "sending to it failed: %s", zmq_strerror(error));
}

/* A single-part message to worker k; 0, or an errno. */
static int send_header(router *r, size_t k, const char *header)
{
    return zmq_send(r->workers[k].sock, header, strlen(header), 0) < 0 ? errno : 0;
}

static void fail_slab(router *r, route_scan *s, size_t k, const char *reason);

/* abort to every worker of s that has the scan and has not finished it. */
static void abort_workers(router *r, route_scan *s, const char *reason)
{
    tl_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = TL_WIRE_ABORT;
    snprintf(m.scan, sizeof m.scan, "%s", s->id);
    snprintf(m.reason, sizeof m.reason, "%s", reason);
    char *header = tl_wire_encode(&m);
    for (size_t k = 0; header && k < s->n_slabs; k++)
        if (s->slabs[k].state == SLAB_STARTED || s->slabs[k].state == SLAB_ENDED) {
            int e = send_header(r, k, header);
            if (e)
                tl_log_debug("route: abort of scan '%s' not delivered to worker %zu (%s): %s", s->id, k,
                             r->workers[k].endpoint, zmq_strerror(e));
        }
    free(header);
}

/* Worker k has failed scan s: the scan is incomplete (one line, the first
 * time), the other workers drop it. s stays in the table (SCAN_DEAD) until
 * its scan-end, abort or timeout. */
static void fail_slab(router *r, route_scan *s, size_t k, const char *reason)
{
    slab *sl = &s->slabs[k];
    if (sl->state == SLAB_OK || sl->state == SLAB_FAILED)
        return;
    sl->state = SLAB_FAILED;
    const char *ep = r->workers[k].endpoint;
    if (s->state == SCAN_DEAD) {
        tl_log_info("route: scan '%s': worker %zu (%s, rows %zu..%zu) failed too: %s", s->id, k, ep, sl->row_begin,
                    sl->row_end - 1, reason);
        return;
    }
    tl_log_warn("route: scan '%s' incomplete: worker %zu (%s, rows %zu..%zu): %s; no volume assembled, no catalog "
                "record",
                s->id, k, ep, sl->row_begin, sl->row_end - 1, reason);
    r->count[R_INCOMPLETE]++;
    if (s->state == SCAN_WAITING)
        s->ended = 1;
    s->state = SCAN_DEAD;
    char why[TL_WIRE_TEXT_MAX];
    snprintf(why, sizeof why, "routed scan incomplete: worker %zu (rows %zu..%zu) failed", k, sl->row_begin,
             sl->row_end - 1);
    abort_workers(r, s, why);
    for (size_t j = 0; j < s->n_slabs; j++)
        if (s->slabs[j].state == SLAB_OK)
            tl_log_info("route: scan '%s': the slab of worker %zu is kept: %s", s->id, j, s->slabs[j].report.path);
}

static void start_scan(router *r, tl_wire_msg *m, const void *raw, size_t raw_size)
{
    const tl_config *cfg = r->cfg;
    const tl_wire_scan_start *st = &m->start;
    route_scan *s = find_scan(r, m->scan);
    if (s && s->state == SCAN_DEAD) {
        scan_free(s); /* a new start of a scan that failed */
    } else if (s) {
        tl_log_warn("route: scan-start for scan '%s', which is already in progress: ignored", m->scan);
        r->count[R_MALFORMED]++;
        return;
    }
    tl_route_field field;
    int present = 0;
    tl_error err = {0};
    if (tl_route_field_decode(raw, raw_size, st->rows, &field, &present, &err) != TL_OK || present) {
        if (present)
            tl_log_warn("route: scan '%s' refused: its scan-start already carries a route field (a router's output "
                        "goes to serve workers, not to another router)",
                        m->scan);
        else
            tl_log_warn("route: scan-start of '%s' dropped: %s", m->scan, err.message);
        r->count[R_MALFORMED]++;
        return;
    }
    double frame_bytes = (double)st->rows * (double)st->cols * (double)tl_wire_dtype_size(st->dtype);
    if (frame_bytes > (double)cfg->max_frame_bytes) {
        tl_log_warn("route: scan '%s' refused: a frame of %zu x %zu %s is %.0f bytes, more than --max-frame-bytes %ld",
                    m->scan, st->rows, st->cols, tl_wire_dtype_name(st->dtype), frame_bytes, cfg->max_frame_bytes);
        r->count[R_OVER_LIMIT]++;
        return;
    }
    for (int i = 0; i < MAX_ROUTE_SCANS && !s; i++)
        if (r->scans[i].state == SCAN_FREE)
            s = &r->scans[i];
    if (!s) {
        tl_log_warn("route: scan '%s' refused: %d scans are already in progress", m->scan, MAX_ROUTE_SCANS);
        r->count[R_OVER_LIMIT]++;
        return;
    }
    memset(s, 0, sizeof *s);
    s->n_slabs = r->n_workers < st->rows ? r->n_workers : st->rows;
    if (!(s->slabs = calloc(s->n_slabs, sizeof *s->slabs))) {
        tl_log_warn("route: scan '%s' refused: out of memory", m->scan);
        r->count[R_FAILED]++;
        return;
    }
    s->r = r;
    s->state = SCAN_RECEIVING;
    snprintf(s->id, sizeof s->id, "%s", m->scan);
    tl_wire_sanitize_name(st->name, s->name, sizeof s->name);
    snprintf(s->sample, sizeof s->sample, "%s", st->sample);
    s->rows = st->rows, s->cols = st->cols, s->row_offset = st->row_offset, s->dtype = st->dtype;
    s->t_start = s->last_seen = tl_now();
    snprintf(s->ticket, sizeof s->ticket, "%x-%lx-%lu", (unsigned)getpid(), (unsigned long)time(NULL), ++r->tickets);
    snprintf(s->output, sizeof s->output, "%s/%s.nxs", cfg->out_path_name, s->name);
    for (int k = 2; !cfg->overwrite && output_taken(r, s, s->output); k++)
        snprintf(s->output, sizeof s->output, "%s/%s_%d.nxs", cfg->out_path_name, s->name, k);
    r->count[R_SCANS]++;

    char ranges[2048] = "";
    size_t used = 0;
    for (size_t k = 0; k < s->n_slabs; k++) {
        tl_route_split(st->rows, s->n_slabs, k, &s->slabs[k].row_begin, &s->slabs[k].row_end);
        used += (size_t)snprintf(ranges + used, used < sizeof ranges ? sizeof ranges - used : 0, "%s%zu..%zu",
                                 k ? ", " : "", s->slabs[k].row_begin, s->slabs[k].row_end - 1);
        if (used >= sizeof ranges)
            used = sizeof ranges;
    }
    tl_log_info("route: scan '%s' -> %s: %zu row%s of %zu columns to %zu worker%s (rows %s)%s", s->id, s->output,
                st->rows, st->rows == 1 ? "" : "s", st->cols, s->n_slabs, s->n_slabs == 1 ? "" : "s", ranges,
                s->n_slabs < r->n_workers ? "; fewer rows than workers: the others get none" : "");
    for (size_t k = 0; k < s->n_slabs && s->state == SCAN_RECEIVING; k++) {
        tl_route_field f = {.row_begin = s->slabs[k].row_begin,
                            .row_end = s->slabs[k].row_end,
                            .rows_total = st->rows,
                            .worker = k,
                            .workers = s->n_slabs};
        snprintf(f.report_to, sizeof f.report_to, "%s", r->report_address);
        snprintf(f.ticket, sizeof f.ticket, "%s", s->ticket);
        char *header = tl_route_encode_start(m, &f);
        int e = header ? send_header(r, k, header) : ENOMEM;
        free(header);
        if (e) {
            char why[300];
            send_failure(r, k, e, why, sizeof why);
            fail_slab(r, s, k, why);
        } else {
            s->slabs[k].state = SLAB_STARTED;
        }
    }
}

/* A received frame shared by the workers' parts (zero-copy): freed with the last part. */
typedef struct shared_frame {
    zmq_msg_t msg;
    atomic_int refs;
} shared_frame;

static void release_part(void *data, void *hint)
{
    (void)data;
    shared_frame *sf = hint;
    if (atomic_fetch_sub(&sf->refs, 1) == 1) {
        zmq_msg_close(&sf->msg);
        free(sf);
    }
}

static void forward_frame(router *r, const tl_wire_msg *m, size_t n_parts, zmq_msg_t *payload)
{
    route_scan *s = find_scan(r, m->scan);
    tl_error err = {0};
    const tl_wire_frame *f = &m->frame;
    if (!s || s->state == SCAN_WAITING) {
        tl_log_warn("route: frame %llu of %s scan '%s': dropped", (unsigned long long)f->index,
                    s ? "ended" : "unknown", m->scan);
        r->count[R_UNKNOWN_SCAN]++;
        return;
    }
    s->last_seen = tl_now();
    if (s->state == SCAN_DEAD) {
        s->dropped++;
        return;
    }
    if (tl_wire_check_parts(m, n_parts, n_parts > 1 ? zmq_msg_size(payload) : 0, &err) != TL_OK) {
        tl_log_warn("route: %s: dropped", err.message);
        r->count[R_BAD_PAYLOAD]++;
        return;
    }
    if (f->rows != s->rows || f->cols != s->cols || f->dtype != s->dtype) {
        tl_log_warn("route: frame %llu of scan '%s' is %zu x %zu %s, the scan's frames are %zu x %zu %s: dropped",
                    (unsigned long long)f->index, s->id, f->rows, f->cols, tl_wire_dtype_name(f->dtype), s->rows,
                    s->cols, tl_wire_dtype_name(s->dtype));
        r->count[R_BAD_SHAPE]++;
        return;
    }
    if (s->frames == 0)
        s->t_first_frame = s->last_seen;
    size_t row_bytes = s->cols * tl_wire_dtype_size(s->dtype);
    shared_frame *sf = malloc(sizeof *sf);
    if (!sf) {
        fail_slab(r, s, 0, "the router ran out of memory");
        return;
    }
    zmq_msg_init(&sf->msg);
    zmq_msg_move(&sf->msg, payload);
    atomic_init(&sf->refs, 1); /* ours, until every part is handed over */
    char *base = zmq_msg_data(&sf->msg);
    for (size_t k = 0; k < s->n_slabs && s->state == SCAN_RECEIVING; k++) {
        slab *sl = &s->slabs[k];
        if (sl->state != SLAB_STARTED)
            continue;
        tl_wire_msg fm = *m;
        fm.frame.rows = sl->row_end - sl->row_begin;
        char *header = tl_wire_encode(&fm);
        int e = 0;
        if (!header) {
            e = ENOMEM;
        } else if (zmq_send(r->workers[k].sock, header, strlen(header), ZMQ_SNDMORE) < 0) {
            e = errno;
        } else {
            zmq_msg_t part;
            atomic_fetch_add(&sf->refs, 1);
            zmq_msg_init_data(&part, base + sl->row_begin * row_bytes, (sl->row_end - sl->row_begin) * row_bytes,
                              release_part, sf);
            if (zmq_msg_send(&part, r->workers[k].sock, 0) < 0) {
                e = errno;
                zmq_msg_close(&part);
            }
        }
        free(header);
        if (e) {
            char why[300];
            send_failure(r, k, e, why, sizeof why);
            fail_slab(r, s, k, why);
        }
    }
    release_part(NULL, sf);
    s->frames++;
    s->bytes += s->rows * row_bytes;
    s->t_last_frame = tl_now();
}

static void end_scan(router *r, const tl_wire_msg *m)
{
    route_scan *s = find_scan(r, m->scan);
    if (!s || s->state == SCAN_WAITING) {
        tl_log_warn("route: scan-end of %s scan '%s': ignored", s ? "ended" : "unknown", m->scan);
        r->count[R_UNKNOWN_SCAN]++;
        return;
    }
    s->last_seen = tl_now();
    if (s->state == SCAN_DEAD) {
        s->ended = 1;
        return;
    }
    char *header = tl_wire_encode(m);
    for (size_t k = 0; k < s->n_slabs && s->state == SCAN_RECEIVING; k++) {
        if (s->slabs[k].state != SLAB_STARTED)
            continue;
        int e = header ? send_header(r, k, header) : ENOMEM;
        if (e) {
            char why[300];
            send_failure(r, k, e, why, sizeof why);
            fail_slab(r, s, k, why);
        } else {
            s->slabs[k].state = SLAB_ENDED;
        }
    }
    free(header);
    s->t_end = tl_now();
    if (s->state == SCAN_DEAD)
        s->ended = 1;
    else
        s->state = SCAN_WAITING;
    tl_log_info("route: scan '%s': scan-end after %zu frames forwarded; waiting for %zu slab report%s", s->id,
                s->frames, s->n_slabs, s->n_slabs == 1 ? "" : "s");
}

static void abort_scan(router *r, const tl_wire_msg *m)
{
    route_scan *s = find_scan(r, m->scan);
    if (!s) {
        r->count[R_UNKNOWN_SCAN]++;
        return;
    }
    char why[TL_WIRE_TEXT_MAX];
    snprintf(why, sizeof why, "%s", m->reason[0] ? m->reason : "the sender aborted it");
    if (s->state != SCAN_DEAD) {
        tl_log_warn("route: scan '%s' aborted by the sender (%s): no volume", s->id,
                    m->reason[0] ? m->reason : "no reason given");
        r->count[R_ABORTED]++;
    }
    abort_workers(r, s, why);
    scan_free(s);
}

/* --- assembly --------------------------------------------------------------------------------- */

static char *routing_json(const route_scan *s, const router *r, const char *host, const char *date)
{
    tl_jbuf b = {0};
    tl_jbuf_raw(&b, "{\"router\":{\"host\":");
    tl_jbuf_string(&b, host);
    tl_jbuf_raw(&b, ",\"listen\":");
    tl_jbuf_string(&b, r->cfg->listen);
    tl_jbuf_raw(&b, ",\"report_to\":");
    tl_jbuf_string(&b, r->report_address);
    tl_jbuf_raw(&b, ",\"version\":");
    tl_jbuf_string(&b, tl_version());
    tl_jbuf_raw(&b, ",\"git_revision\":");
    tl_jbuf_string(&b, tl_git_revision());
    tl_jbuf_raw(&b, ",\"date\":");
    tl_jbuf_string(&b, date);
    tl_jbuf_raw(&b, "},\"scan\":");
    tl_jbuf_string(&b, s->id);
    tl_jbuf_raw(&b, ",\"ticket\":");
    tl_jbuf_string(&b, s->ticket);
    tl_jbuf_printf(&b, ",\"rows_total\":%zu,\"row_offset\":%zu,\"cols\":%zu,\"frames\":%zu,\"bytes\":%zu", s->rows,
                   s->row_offset, s->cols, s->frames, s->bytes);
    tl_jbuf_printf(&b, ",\"ingest_seconds\":%.6f,\"last_frame_to_reports_seconds\":%.6f",
                   s->t_last_frame - s->t_start, tl_now() - s->t_last_frame);
    tl_jbuf_raw(&b, ",\"workers\":[");
    for (size_t k = 0; k < s->n_slabs; k++) {
        const slab *sl = &s->slabs[k];
        tl_jbuf_printf(&b, "%s{\"worker\":%zu,\"endpoint\":", k ? "," : "", k);
        tl_jbuf_string(&b, r->workers[k].endpoint);
        tl_jbuf_printf(&b, ",\"rows\":[%zu,%zu],\"z\":[%zu,%zu],\"host\":", sl->row_begin, sl->row_end,
                       s->row_offset + sl->row_begin, s->row_offset + sl->row_end);
        tl_jbuf_string(&b, sl->report.host);
        tl_jbuf_raw(&b, ",\"slab\":");
        tl_jbuf_string(&b, sl->report.path);
        tl_jbuf_raw(&b, ",\"rotation_axis\":");
        tl_jbuf_number(&b, sl->report.axis);
        tl_jbuf_raw(&b, ",\"axis_method\":");
        tl_jbuf_string(&b, sl->report.axis_method);
        tl_jbuf_raw(&b, ",\"seconds\":");
        tl_jbuf_number(&b, sl->report.seconds);
        tl_jbuf_raw(&b, "}");
    }
    tl_jbuf_raw(&b, "]}");
    return tl_jbuf_take(&b);
}

/* The assembler thread: the volume over the slabs, then the catalog record. */
static void *assemble_main(void *arg)
{
    route_scan *s = arg;
    router *r = s->r;
    const tl_config *cfg = r->cfg;
    tl_error err = {0};
    tl_status st = TL_OK;
    char date[64], host[256] = "unknown";
    tl_cli_iso_date(date, sizeof date);
    gethostname(host, sizeof host - 1);
    tl_assemble_slab *slabs = calloc(s->n_slabs, sizeof *slabs);
    char *routing = routing_json(s, r, host, date);
    tl_assemble_result res = {0};
    double axis_min = INFINITY, axis_max = -INFINITY, axis_sum = 0;
    size_t n_axes = 0;
    if (!slabs || !routing)
        st = tl_error_set(&err, TL_ERR_NOMEM, "out of memory");
    for (size_t k = 0; st == TL_OK && k < s->n_slabs; k++) {
        const slab *sl = &s->slabs[k];
        slabs[k] = (tl_assemble_slab){.path = sl->report.path,
                                      .z_begin = s->row_offset + sl->row_begin,
                                      .z_end = s->row_offset + sl->row_end,
                                      .worker = r->workers[k].endpoint,
                                      .host = sl->report.host,
                                      .axis = sl->report.axis};
        if (isfinite(sl->report.axis)) {
            axis_min = fmin(axis_min, sl->report.axis);
            axis_max = fmax(axis_max, sl->report.axis);
            axis_sum += sl->report.axis;
            n_axes++;
        }
    }
    /* With --rotation-axis auto each worker searched on its own rows. */
    if (n_axes > 1 && axis_max - axis_min > 0.5) {
        char axes[1024] = "";
        size_t used = 0;
        for (size_t k = 0; k < s->n_slabs && used < sizeof axes; k++)
            used += (size_t)snprintf(axes + used, sizeof axes - used, "%sworker %zu %.2f", k ? ", " : "", k,
                                     s->slabs[k].report.axis);
        tl_log_warn("route: scan '%s': the workers' rotation axes differ by %.2f px (%s): their slabs may not join "
                    "smoothly; give --rotation-axis to the workers (each axis is in /entry/process/route)",
                    s->id, axis_max - axis_min, axes);
    }
    if (st == TL_OK) {
        tl_assemble_desc d = {.slabs = slabs, .n_slabs = s->n_slabs, .routing_json = routing,
                              .overwrite = (int)cfg->overwrite};
        pthread_mutex_lock(&r->hdf5_lock);
        st = tl_assemble_volume(s->output, &d, &res, &err);
        pthread_mutex_unlock(&r->hdf5_lock);
    }
    char uuid[37] = "";
    int queued = 0;
    if (st == TL_OK && cfg->catalog[0]) {
        char out_abs[PATH_MAX], input[600], outbox[TL_CONFIG_STRING_MAX + 32];
        if (!realpath(s->output, out_abs))
            snprintf(out_abs, sizeof out_abs, "%s", s->output);
        snprintf(input, sizeof input, "%s (stream protocol 1, scan '%s', routed to %zu workers)", cfg->listen, s->id,
                 s->n_slabs);
        tl_recon_outbox(cfg, out_abs, outbox, sizeof outbox);
        tl_catalog_record rec = {.output_path = out_abs,
                                 .input_path = input,
                                 .created = date,
                                 .sample = s->sample[0] ? s->sample : NULL,
                                 .shape = {res.nz, res.ny, res.nx},
                                 .rotation_axis = n_axes ? axis_sum / (double)n_axes : NAN,
                                 .n_params = res.n_params,
                                 .param_names = (const char *const *)res.param_names,
                                 .param_values = (const char *const *)res.param_values,
                                 .status = "complete"};
        st = tl_catalog_register(cfg->catalog, &rec, outbox, cfg->catalog_timeout, &queued, uuid, &err);
        if (st != TL_OK)
            tl_error_prefix(&err, "the volume %s is complete, but its catalog record failed", s->output);
    }
    if (st != TL_OK) {
        tl_log(TL_LOG_ERROR, "route: scan '%s': every worker reported its slab, but the volume was not assembled: %s",
               s->id, err.message);
        s->result = R_FAILED;
    } else {
        double now = tl_now();
        tl_log_info("route: scan '%s' -> %s: %zu x %zu x %zu %s over %zu slab file%s%s%s", s->id, s->output, res.nz,
                    res.ny, res.nx, res.dtype, s->n_slabs, s->n_slabs == 1 ? "" : "s", uuid[0] ? (queued ? ", catalog record (outbox) " :
                                                                                ", catalog record ") : "",
                    uuid);
        printf("tomoline route: wrote %s (scan '%s'): %zu row%s from %zu worker%s, %zu frames; volume complete %.3f s "
               "after the first frame, %.3f s after the last\n",
               s->output, s->id, res.nz, res.nz == 1 ? "" : "s", s->n_slabs, s->n_slabs == 1 ? "" : "s", s->frames, now - s->t_first_frame, now - s->t_last_frame);
        fflush(stdout);
        s->result = R_ASSEMBLED;
    }
    tl_assemble_result_free(&res);
    free(slabs);
    free(routing);
    atomic_store(&s->assembled, 1);
    return NULL;
}

static void take_report(router *r, const void *text, size_t size)
{
    tl_route_report rep;
    tl_error err = {0};
    if (tl_route_report_decode(text, size, &rep, &err) != TL_OK) {
        tl_log_warn("route: report dropped: %s", err.message);
        r->count[R_BAD_REPORT]++;
        return;
    }
    route_scan *s = NULL;
    for (int i = 0; i < MAX_ROUTE_SCANS && !s; i++)
        if (r->scans[i].state != SCAN_FREE && strcmp(r->scans[i].id, rep.scan) == 0 &&
            strcmp(r->scans[i].ticket, rep.ticket) == 0)
            s = &r->scans[i];
    if (!s) {
        tl_log_info("route: a report of worker %zu for scan '%s' (%s), which is not in progress: ignored", rep.worker,
                    rep.scan, rep.ok ? "ok" : rep.reason);
        return;
    }
    if (rep.worker >= s->n_slabs || rep.row_begin != s->slabs[rep.worker].row_begin ||
        rep.row_end != s->slabs[rep.worker].row_end) {
        tl_log_warn("route: report for scan '%s' names worker %zu rows %zu..%zu, which it was not given: dropped",
                    rep.scan, rep.worker, rep.row_begin, rep.row_end - 1);
        r->count[R_BAD_REPORT]++;
        return;
    }
    size_t k = rep.worker;
    slab *sl = &s->slabs[k];
    if (sl->state == SLAB_OK || sl->state == SLAB_FAILED || s->state == SCAN_ASSEMBLING) {
        tl_log_debug("route: a repeated report of worker %zu for scan '%s': ignored", k, s->id);
        return;
    }
    if (!rep.ok) {
        char why[TL_ROUTE_REASON_MAX + 32];
        snprintf(why, sizeof why, "it reported: %s", rep.reason[0] ? rep.reason : "failed (no reason given)");
        fail_slab(r, s, k, why);
        return;
    }
    sl->state = SLAB_OK;
    sl->report = rep;
    tl_log_info("route: scan '%s': worker %zu (%s) wrote rows %zu..%zu: %s", s->id, k, r->workers[k].endpoint,
                sl->row_begin, sl->row_end - 1, rep.path);
    if (s->state == SCAN_DEAD) {
        tl_log_info("route: scan '%s': the slab of worker %zu is kept: %s", s->id, k, rep.path);
        return;
    }
    if (++s->n_ok == s->n_slabs && s->state == SCAN_WAITING) {
        s->state = SCAN_ASSEMBLING;
        atomic_init(&s->assembled, 0);
        if (pthread_create(&s->assembler, NULL, assemble_main, s) != 0) {
            tl_log(TL_LOG_ERROR, "route: scan '%s': cannot start a thread to assemble it", s->id);
            r->count[R_FAILED]++;
            scan_free(s);
        }
    }
}

/* The monitor of worker k's PUSH socket: connections up and down. */
static void take_monitor_event(router *r, size_t k)
{
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&ev, r->workers[k].monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
        return;
    }
    if (zmq_msg_more(&ev))
        zmq_msg_recv(&addr, r->workers[k].monitor, 0);
    uint16_t event = 0;
    if (zmq_msg_size(&ev) >= 2)
        memcpy(&event, zmq_msg_data(&ev), 2); /* the event number, in host order */
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
    worker_link *w = &r->workers[k];
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && !w->connected) {
        w->connected = 1;
        tl_log_info("route: worker %zu (%s) connected", k, w->endpoint);
    } else if (event == ZMQ_EVENT_DISCONNECTED && w->connected) {
        w->connected = 0;
        tl_log_warn("route: worker %zu (%s) disconnected", k, w->endpoint);
        char why[200];
        snprintf(why, sizeof why, "disconnected (the worker stopped, or sent no heartbeat for %g s)",
                 3 * r->cfg->route_heartbeat);
        for (int i = 0; i < MAX_ROUTE_SCANS; i++) {
            route_scan *s = &r->scans[i];
            if ((s->state == SCAN_RECEIVING || s->state == SCAN_WAITING) && k < s->n_slabs &&
                (s->slabs[k].state == SLAB_STARTED || s->slabs[k].state == SLAB_ENDED))
                fail_slab(r, s, k, why);
        }
    }
}

/* Timeouts, finished assemblies, dead scans that can go. */
static void sweep(router *r, int wait)
{
    const tl_config *cfg = r->cfg;
    double now = tl_now();
    for (int i = 0; i < MAX_ROUTE_SCANS; i++) {
        route_scan *s = &r->scans[i];
        if (s->state == SCAN_ASSEMBLING && (wait || atomic_load(&s->assembled))) {
            pthread_join(s->assembler, NULL);
            r->count[s->result]++;
            scan_free(s);
        } else if (s->state == SCAN_RECEIVING && now - s->last_seen > cfg->scan_timeout) {
            tl_log_warn("route: scan '%s' discarded: no message for --scan-timeout %g s (the sender is gone?); %zu "
                        "frames forwarded",
                        s->id, cfg->scan_timeout, s->frames);
            abort_workers(r, s, "the detector went silent (router --scan-timeout)");
            r->count[R_TIMEOUT]++;
            scan_free(s);
        } else if (s->state == SCAN_WAITING && now - s->t_end > cfg->route_timeout) {
            char why[200];
            snprintf(why, sizeof why, "did not report within --route-timeout %g s after scan-end", cfg->route_timeout);
            for (size_t k = 0; k < s->n_slabs; k++)
                if (s->slabs[k].state == SLAB_ENDED)
                    fail_slab(r, s, k, why);
        } else if (s->state == SCAN_DEAD && (s->ended || now - s->last_seen > cfg->scan_timeout)) {
            if (s->dropped)
                tl_log_debug("route: scan '%s': %zu frames after it failed were dropped", s->id, s->dropped);
            scan_free(s);
        }
    }
}

static int is_loopback(const char *endpoint)
{
    return strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0 ||
           strstr(endpoint, "://127.") || strstr(endpoint, "://localhost") || strstr(endpoint, "://[::1]");
}

static const tl_cli_command route_command = {
    .name = "route",
    .mask = TL_CMD_ROUTE,
    .usage = "route --listen ENDPOINT --to E1,E2,... -o OUT_DIR [--catalog URL] [options]",
    .summary = "Fan a detector stream out to several serve workers, by rows; one volume per scan.",
    .description =
        "Binds a PULL socket at --listen for a detector (or 'tomoline send') in stream protocol 1 and\n"
        "connects one PUSH socket to each worker of --to ('tomoline serve' processes). Each scan's\n"
        "detector rows are split into contiguous ranges, as even as possible (7 rows, 2 workers:\n"
        "0..2 and 3..6); worker k gets a scan-start for its rows with a 'route' field, its rows of\n"
        "every frame, and scan-end or abort (docs/protocol.md, 'Routing to several workers').\n"
        "Each worker writes its rows into its own -o directory as <name>_rowsAAAAA-BBBBB.nxs and\n"
        "reports to --report-listen; when every worker has reported its slab, the router writes\n"
        "OUT_DIR/<name>.nxs, an HDF5 virtual dataset over the slab files (relative paths: keep them\n"
        "together), with the routing in /entry/process/route, and one catalog record (--catalog).\n\n"
        "A worker that is not connected, stays stuck for --route-send-timeout, disconnects (ZMTP\n"
        "heartbeats every --route-heartbeat s), reports a failure or does not report within\n"
        "--route-timeout s after scan-end makes the scan incomplete: one log line names the worker,\n"
        "its endpoint and its rows; no volume, no catalog record. The workers' output directories\n"
        "must be readable here at the paths they report (a shared filesystem, docs/beamline_layout.md).\n"
        "Runs until SIGINT or SIGTERM, then prints a summary and exits 0.\n\n"
        "example (detector -> router on this host, two GPU nodes sharing /data):\n"
        "  gpu1$ tomoline serve --listen tcp://*:5556 -o /data/slabs --rotation-axis 1023.5\n"
        "  gpu2$ tomoline serve --listen tcp://*:5556 -o /data/slabs --rotation-axis 1023.5\n"
        "  tomoline route --listen tcp://*:5555 --to tcp://gpu1:5556,tcp://gpu2:5556 \\\n"
        "      --report-listen tcp://*:5561 -o /data/recon --catalog sqlite:/data/catalog.db",
    .max_positional = 0,
};

/* Bind `socket` to the endpoint of --OPTION; on failure say why, with examples on `port`. */
static int bind_or_say(void *socket, const char *option, const char *endpoint, int port)
{
    if (zmq_bind(socket, endpoint) == 0)
        return 0;
    fprintf(stderr, "tomoline: error: --%s '%s': %s (allowed: an endpoint of this host to bind, e.g. tcp://*:%d, "
                    "tcp://127.0.0.1:%d or ipc://PATH)\n",
            option, endpoint, zmq_strerror(errno), port, port);
    return -1;
}

int tl_cmd_route(int argc, char **argv)
{
    tl_config cfg;
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&route_command, argc, argv, &cfg, NULL, &n_positional, &code))
        return code;
    tl_error err = {0};
    if ((code = tl_cli_check_service_options(&cfg, "route", "the assembled volumes")) != 0)
        return code;
    if (strcmp(cfg.report_listen, cfg.listen) == 0) {
        fprintf(stderr, "tomoline: error: --report-listen '%s' is also --listen (give each its own endpoint)\n",
                cfg.listen);
        return 2;
    }
    if (tl_recon_check_catalog_url(&cfg, &err) != TL_OK)
        return tl_cli_fail(&err);
    static router r;
    memset(&r, 0, sizeof r);
    r.cfg = &cfg;
    if ((code = parse_workers(&cfg, &r.workers, &r.n_workers)) != 0)
        return code;
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    pthread_mutex_init(&r.hdf5_lock, NULL);
    int exit_code = 0, zero = 0, one = 1;
    tl_curve_server *curve = NULL;
    r.ctx = zmq_ctx_new();
    r.in = r.ctx ? zmq_socket(r.ctx, ZMQ_PULL) : NULL;
    r.status = r.ctx ? zmq_socket(r.ctx, ZMQ_PULL) : NULL;
    if (!r.in || !r.status) {
        fprintf(stderr, "tomoline: error: cannot create a ZeroMQ socket: %s\n", zmq_strerror(errno));
        exit_code = 1;
        goto out;
    }
    int64_t max_msg = cfg.max_frame_bytes > (16 << 20) ? cfg.max_frame_bytes : (16 << 20), max_report = 65536;
    int queue = (int)cfg.route_queue;
    zmq_setsockopt(r.in, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(r.in, ZMQ_RCVHWM, &queue, sizeof queue);
    zmq_setsockopt(r.in, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(r.status, ZMQ_MAXMSGSIZE, &max_report, sizeof max_report);
    zmq_setsockopt(r.status, ZMQ_LINGER, &zero, sizeof zero);
    if (cfg.curve_secret_key[0] &&
        tl_curve_server_start(r.ctx, r.in, cfg.curve_secret_key, cfg.curve_allowed_keys, &curve, &err) != TL_OK) {
        exit_code = tl_cli_fail(&err);
        goto out;
    }
    if (bind_or_say(r.in, "listen", cfg.listen, 5555) != 0 ||
        bind_or_say(r.status, "report-listen", cfg.report_listen, 5561) != 0) {
        exit_code = 1;
        goto out;
    }
    /* The address workers report to: given, or the bound one with a wildcard host made this host's name. */
    if (cfg.report_address[0]) {
        snprintf(r.report_address, sizeof r.report_address, "%s", cfg.report_address);
    } else {
        char bound[TL_ROUTE_ENDPOINT_MAX], host[200] = "localhost";
        size_t len = sizeof bound;
        if (zmq_getsockopt(r.status, ZMQ_LAST_ENDPOINT, bound, &len) != 0)
            snprintf(bound, sizeof bound, "%s", cfg.report_listen);
        char *any = strstr(bound, "://0.0.0.0:");
        gethostname(host, sizeof host - 1);
        if (any)
            snprintf(r.report_address, sizeof r.report_address, "%.*s://%s%s", (int)(any - bound), bound, host,
                     any + 10);
        else
            snprintf(r.report_address, sizeof r.report_address, "%s", bound);
    }
    if (strncmp(r.report_address, "tcp://", 6) != 0 && strncmp(r.report_address, "ipc://", 6) != 0) {
        fprintf(stderr, "tomoline: error: --report-address '%s': the workers need a tcp:// or ipc:// endpoint\n",
                r.report_address);
        exit_code = 2;
        goto out;
    }
    int send_ms = (int)(cfg.route_send_timeout * 1000.0), hb_ms = (int)(cfg.route_heartbeat * 1000.0),
        hb_timeout_ms = 3 * hb_ms, linger_ms = 1000;
    for (size_t k = 0; k < r.n_workers; k++) {
        worker_link *w = &r.workers[k];
        char monitor_ep[64];
        snprintf(monitor_ep, sizeof monitor_ep, "inproc://tl-route-monitor-%zu", k);
        w->sock = zmq_socket(r.ctx, ZMQ_PUSH);
        w->monitor = zmq_socket(r.ctx, ZMQ_PAIR);
        if (!w->sock || !w->monitor) {
            fprintf(stderr, "tomoline: error: cannot create a ZeroMQ socket: %s\n", zmq_strerror(errno));
            exit_code = 1;
            goto out;
        }
        /* IMMEDIATE: nothing queues for a worker that is not connected, so a
         * missing worker is noticed by the send timeout, not lost in a queue. */
        zmq_setsockopt(w->sock, ZMQ_SNDHWM, &queue, sizeof queue);
        zmq_setsockopt(w->sock, ZMQ_SNDTIMEO, &send_ms, sizeof send_ms);
        zmq_setsockopt(w->sock, ZMQ_IMMEDIATE, &one, sizeof one);
        zmq_setsockopt(w->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_IVL, &hb_ms, sizeof hb_ms);
        zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout_ms, sizeof hb_timeout_ms);
        zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_TTL, &hb_timeout_ms, sizeof hb_timeout_ms);
        zmq_setsockopt(w->monitor, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_socket_monitor(w->sock, monitor_ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0 ||
            zmq_connect(w->monitor, monitor_ep) != 0) {
            fprintf(stderr, "tomoline: error: cannot monitor the link to worker %zu: %s\n", k + 1,
                    zmq_strerror(errno));
            exit_code = 1;
            goto out;
        }
        if (zmq_connect(w->sock, w->endpoint) != 0) {
            fprintf(stderr, "tomoline: error: --to: worker %zu '%s': %s (allowed: tcp://HOST:PORT or ipc://PATH)\n",
                    k + 1, w->endpoint, zmq_strerror(errno));
            exit_code = 2;
            goto out;
        }
    }
    if (!is_loopback(cfg.listen) && !curve)
        tl_log_warn("route: listening on %s, beyond this machine, without CURVE encryption: anyone who can reach it "
                    "can send scans (see --curve-secret-key)",
                    cfg.listen);
    if (!is_loopback(cfg.report_listen))
        tl_log_warn("route: --report-listen %s is reachable beyond this machine: keep it on the cluster's private "
                    "network (reports are not authenticated)",
                    cfg.report_listen);
    tl_log_info("route: listening on %s%s, %zu worker%s (%s), reports to %s, volumes to %s", cfg.listen,
                curve ? " (CURVE)" : "", r.n_workers, r.n_workers == 1 ? "" : "s", cfg.to, r.report_address,
                cfg.out_path_name);
    printf("tomoline route: listening on %s, %zu worker%s\n", cfg.listen, r.n_workers, r.n_workers == 1 ? "" : "s");
    fflush(stdout);

    tl_wire_limits lim;
    tl_wire_limits_default(&lim);
    if ((size_t)cfg.max_frame_bytes > lim.max_frame_bytes)
        lim.max_frame_bytes = (size_t)cfg.max_frame_bytes;
    if (cfg.max_scan_bytes > lim.max_scan_bytes)
        lim.max_scan_bytes = cfg.max_scan_bytes;
    zmq_pollitem_t *items = calloc(r.n_workers + 2, sizeof *items);
    if (!items) {
        fprintf(stderr, "tomoline: error: out of memory\n");
        exit_code = 1;
        goto out;
    }
    items[0] = (zmq_pollitem_t){.socket = r.in, .events = ZMQ_POLLIN};
    items[1] = (zmq_pollitem_t){.socket = r.status, .events = ZMQ_POLLIN};
    for (size_t k = 0; k < r.n_workers; k++)
        items[k + 2] = (zmq_pollitem_t){.socket = r.workers[k].monitor, .events = ZMQ_POLLIN};
    int stop = 0;
    zmq_msg_t parts[2];
    while (!stop) {
        int ready = zmq_poll(items, (int)r.n_workers + 2, 200);
        const struct timespec no_wait = {0, 0};
        if (sigtimedwait(&stop_signals, NULL, &no_wait) > 0)
            stop = 1;
        /* connection events first: a worker gone is noticed before more is sent to it */
        for (size_t k = 0; ready > 0 && k < r.n_workers; k++)
            if (items[k + 2].revents & ZMQ_POLLIN)
                take_monitor_event(&r, k);
        while (ready > 0 && (items[1].revents & ZMQ_POLLIN)) {
            zmq_msg_t rep;
            zmq_msg_init(&rep);
            if (zmq_msg_recv(&rep, r.status, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&rep);
                break;
            }
            if (zmq_msg_more(&rep)) {
                tl_log_warn("route: report dropped: a multipart message (a report is one part)");
                r.count[R_BAD_REPORT]++;
                while (zmq_msg_more(&rep)) {
                    zmq_msg_close(&rep);
                    zmq_msg_init(&rep);
                    if (zmq_msg_recv(&rep, r.status, 0) < 0)
                        break;
                }
            } else {
                take_report(&r, zmq_msg_data(&rep), zmq_msg_size(&rep));
            }
            zmq_msg_close(&rep);
        }
        sweep(&r, 0);
        /* then a batch of detector messages, as many as are waiting (at most 256) */
        for (int batch = 0; ready > 0 && (items[0].revents & ZMQ_POLLIN) && batch < 256; batch++) {
            int events = 0;
            size_t elen = sizeof events;
            if (batch > 0 && (zmq_getsockopt(r.in, ZMQ_EVENTS, &events, &elen) != 0 || !(events & ZMQ_POLLIN)))
                break;
            size_t n_parts = tl_socket_recv_message(r.in, parts);
            if (n_parts == 0)
                break;
            tl_wire_msg m;
            if (tl_wire_decode(zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), &lim, &m, &err) != TL_OK) {
                tl_log_warn("route: message dropped: %s", err.message);
                r.count[R_MALFORMED]++;
            } else {
                switch (m.type) {
                case TL_WIRE_SCAN_START:
                    if (n_parts != 1) {
                        tl_log_warn("route: scan-start of '%s' with %zu parts: dropped", m.scan, n_parts);
                        r.count[R_BAD_PAYLOAD]++;
                    } else {
                        start_scan(&r, &m, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]));
                    }
                    break;
                case TL_WIRE_FRAME:
                    forward_frame(&r, &m, n_parts, n_parts > 1 ? &parts[1] : NULL);
                    break;
                case TL_WIRE_SCAN_END:
                    end_scan(&r, &m);
                    break;
                case TL_WIRE_ABORT:
                    abort_scan(&r, &m);
                    break;
                }
                tl_wire_msg_free(&m);
            }
            for (size_t i = 0; i < n_parts && i < 2; i++)
                zmq_msg_close(&parts[i]); /* a forwarded payload was moved out: closing it is a no-op */
        }
    }
    /* Scans still arriving or awaiting reports are abandoned; assemblies are finished. */
    for (int i = 0; i < MAX_ROUTE_SCANS; i++) {
        route_scan *s = &r.scans[i];
        if (s->state == SCAN_RECEIVING || s->state == SCAN_WAITING) {
            tl_log_warn("route: scan '%s' abandoned: the router was stopped before every worker reported its slab; "
                        "no volume assembled",
                        s->id);
            abort_workers(&r, s, "the router was stopped");
            r.count[R_INCOMPLETE]++;
            scan_free(s);
        }
    }
    sweep(&r, 1);
    free(items);
    char summary[1024];
    size_t used = 0;
    for (int c = 0; c < R_COUNT; c++)
        used += (size_t)snprintf(summary + used, sizeof summary - used, "%s%s %zu", c ? ", " : "", counter_names[c],
                                 r.count[c]);
    if (curve)
        snprintf(summary + used, sizeof summary - used, ", clients refused %zu", tl_curve_server_refused(curve));
    tl_log_info("route: stopped; %s", summary);
    printf("tomoline route: stopped; %s\n", summary);
out:
    for (size_t k = 0; k < r.n_workers; k++) {
        if (r.workers[k].sock) {
            zmq_socket_monitor(r.workers[k].sock, NULL, 0);
            zmq_close(r.workers[k].sock);
        }
        if (r.workers[k].monitor)
            zmq_close(r.workers[k].monitor);
    }
    if (r.in)
        zmq_close(r.in);
    if (r.status)
        zmq_close(r.status);
    tl_curve_server_stop(&curve);
    if (r.ctx)
        zmq_ctx_term(r.ctx);
    free(r.workers);
    pthread_mutex_destroy(&r.hdf5_lock);
    return exit_code;
}
