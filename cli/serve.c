/* serve.c - `tomoline serve`: the beamline service.
 *
 * Binds a PULL socket (--listen), takes scans in stream protocol 1
 * (docs/protocol.md), and turns each complete scan into OUT_DIR/<name>.nxs
 * with its provenance and catalog record, while the next scan may already be
 * arriving; runs until SIGINT or SIGTERM (scans still arriving are then
 * abandoned, scans being finished are finished) and exits 0.
 *
 * Each scan in flight has a streaming reconstruction (pipeline/stream.h): this
 * thread decodes and checks every message and hands each frame's pixels to the
 * scan's stages (normalize and filter as frames arrive, backproject as soon as
 * the axis is known); at scan-end a finisher thread does what is left (the
 * axis search for --rotation-axis auto, ring removal, the last projections),
 * writes the volume and registers it. Memory per scan is fixed at scan-start
 * (stream.h lists it) and refused beyond --max-scan-bytes; when the stages
 * fall behind, this thread waits for a free frame buffer and stops reading the
 * socket, so the sender meets ZeroMQ's high-water mark: backpressure, never
 * unbounded memory.
 *
 * Faults (each logged with its reason and counted; the service keeps running):
 * malformed headers, wrong part counts or payload sizes, unknown scans, shapes
 * that differ from the scan's, duplicate frame indices, indices beyond the
 * declared count, frames beyond a kind's count or at an angle scan-start does
 * not list, scans over --max-frame-bytes or --max-scan-bytes, a sender silent
 * for --scan-timeout, abort. Projections that arrive out of order are placed
 * by their angle and counted. A scan that ends incomplete is discarded: no
 * output file, the reason in the log (a reconstruction from part of the angles
 * looks plausible and is wrong).
 *
 * A worker of `tomoline route` (issue 9): a scan-start with a "route" field
 * (acquire/route.h) gives this service some rows of a larger detector. Such a
 * scan is reconstructed for every row it brings (--start-row/--end-row do not
 * apply), its z coordinates are the detector rows (row_offset), it is written
 * as OUT_DIR/<name>_rowsAAAAA-BBBBB.nxs with no catalog record (the router
 * makes one for the whole volume), and whatever becomes of it (written,
 * refused, incomplete, failed) is reported to the router's report endpoint.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "backend.h"
#include "cli.h"
#include "curve.h"
#include "json.h"
#include "log.h"
#include "recon.h"
#include "route.h"
#include "socket.h"
#include "stream.h"
#include "volume.h"
#include "wire.h"

#define MAX_SCANS 4 /* scans in flight at once (arriving or being finished) */

enum { C_MALFORMED, C_BAD_PAYLOAD, C_UNKNOWN_SCAN, C_BAD_SHAPE, C_DUPLICATE, C_OVER_COUNT, C_OVER_LIMIT,
       C_OUT_OF_ORDER, C_TIMEOUT, C_ABORTED, C_INCOMPLETE, C_FAILED, C_DONE, C_COUNT };
static const char *const counter_names[C_COUNT] = {
    "malformed", "bad-payload", "unknown-scan", "bad-shape", "duplicate", "over-count", "over-limit",
    "out-of-order", "timed-out", "aborted", "incomplete", "failed", "reconstructed"};

/* Stage times in the provenance of a streamed volume: the stream's, then these. */
enum { ST_AXIS = TL_STREAM_STAGE_COUNT, ST_WRITE, ST_COUNT };

typedef struct service {
    const tl_config *cfg;
    void *ctx;          /* for the sockets that carry slab reports (any thread) */
    void *preview_sock; /* PUB, or NULL */
    pthread_mutex_t preview_lock; /* one PUB socket, several backprojection threads */
    pthread_mutex_t hdf5_lock;    /* HDF5 is not built thread-safe: one volume written at a time */
} service;

enum { SCAN_FREE = 0, SCAN_RECEIVING, SCAN_FINISHING };

typedef struct scan_state {
    int state;
    service *srv;
    char id[TL_WIRE_SCAN_ID_MAX];
    char name[TL_WIRE_TEXT_MAX];
    tl_wire_scan_start start; /* owns the angles and the experiment */
    char output[4200];
    char client[128];         /* the CURVE client's key name (ZAP User-Id), or "" */
    int routed;               /* a router's worker for rows of a larger detector: route holds them */
    tl_route_field route;
    size_t row_begin, row_end;
    tl_workers *team;         /* ring removal and the axis search */
    tl_rings_plan *rings;
    tl_stream *engine;
    double axis;
    const char *axis_how;
    size_t keep_rows[TL_RECON_AXIS_ROWS_MAX], n_keep;
    unsigned char *seen;      /* [total frames] index received */
    unsigned char *slot_taken; /* [projections] */
    size_t total, received, per_kind[3];
    size_t count[C_COUNT];    /* this scan's faults, for its provenance */
    double t_start, t_first_frame, t_last_frame, last_seen;
    pthread_t finisher;
    atomic_int finished;      /* the finisher is done: C_DONE or C_FAILED in result */
    int result;
} scan_state;

static int stop_requested;

static void scan_free(scan_state *s)
{
    tl_stream_destroy(&s->engine);
    tl_rings_plan_destroy(&s->rings);
    tl_workers_destroy(&s->team);
    free(s->start.angles);
    free(s->start.experiment);
    free(s->seen);
    free(s->slot_taken);
    memset(s, 0, sizeof *s);
}

/* Routed scans: tell the router what became of the slab (reason NULL: written
 * to path). Best effort: a router that does not hear of it gives the scan up
 * after its --route-timeout. */
static void route_report(service *srv, const tl_route_field *route, const char *scan, const char *reason,
                         const char *path, double axis, const char *axis_method, double t_start)
{
    tl_route_report rep;
    memset(&rep, 0, sizeof rep);
    snprintf(rep.scan, sizeof rep.scan, "%s", scan);
    snprintf(rep.ticket, sizeof rep.ticket, "%s", route->ticket);
    rep.worker = route->worker;
    rep.row_begin = route->row_begin;
    rep.row_end = route->row_end;
    rep.ok = reason == NULL;
    snprintf(rep.reason, sizeof rep.reason, "%s", reason ? reason : "");
    if (path && !realpath(path, rep.path))
        snprintf(rep.path, sizeof rep.path, "%s", path);
    gethostname(rep.host, sizeof rep.host - 1);
    rep.axis = axis;
    snprintf(rep.axis_method, sizeof rep.axis_method, "%s", axis_method ? axis_method : "");
    rep.seconds = tl_now() - t_start;
    const char *to = srv->cfg->report_to[0] ? srv->cfg->report_to : route->report_to;
    char *json = tl_route_report_encode(&rep);
    tl_error err = {0};
    if (!json)
        tl_log_warn("serve: scan '%s': no report for the router: out of memory", scan);
    else if (tl_route_report_send(srv->ctx, to, json, 5.0, &err) != TL_OK)
        tl_log_warn("serve: scan '%s': no report for the router: %s", scan, err.message);
    else
        tl_log_info("serve: scan '%s' (rows %zu..%zu of the router's worker %zu): reported %s to %s", scan,
                    route->row_begin, route->row_end - 1, route->worker, reason ? "failure" : "the slab", to);
    free(json);
}

static void scan_drop(scan_state *s, const char *why)
{
    tl_log_warn("serve: scan '%s' discarded: %s (%zu of %zu frames received)", s->id, why, s->received, s->total);
    if (s->routed)
        route_report(s->srv, &s->route, s->id, why, NULL, NAN, NULL, s->t_start);
    scan_free(s);
}

/* A scan-start refused before it got a place: logged, counted, reported to its router. */
static void refuse_scan(service *srv, const tl_route_field *route, const char *scan, size_t *count, int counter,
                        const char *why)
{
    tl_log_warn("serve: scan '%s' refused: %s", scan, why);
    count[counter]++;
    if (route)
        route_report(srv, route, scan, why, NULL, NAN, NULL, tl_now());
}

static scan_state *find_scan(scan_state *scans, const char *id)
{
    for (int i = 0; i < MAX_SCANS; i++)
        if (scans[i].state == SCAN_RECEIVING && strcmp(scans[i].id, id) == 0)
            return &scans[i];
    return NULL;
}

/* An output path that exists, or that another scan in flight will write. */
static int output_taken(const scan_state *scans, const scan_state *self, const char *path)
{
    if (access(path, F_OK) == 0)
        return 1;
    for (int i = 0; i < MAX_SCANS; i++)
        if (&scans[i] != self && scans[i].state != SCAN_FREE && strcmp(scans[i].output, path) == 0)
            return 1;
    return 0;
}

/* --preview-publish: the central cuts of the growing volume (docs/protocol.md, "Live preview"). */
static void publish_cut(service *srv, const char *scan, char cut, size_t index, size_t rows, size_t cols,
                        const float *pixels, size_t done, size_t n_proj)
{
    tl_jbuf b = {0};
    tl_jbuf_raw(&b, "{\"type\":\"preview\",\"protocol\":1,\"scan\":");
    tl_jbuf_string(&b, scan);
    tl_jbuf_printf(&b, ",\"cut\":\"%c\",\"index\":%zu,\"rows\":%zu,\"cols\":%zu,\"dtype\":\"float32\","
                       "\"projections_done\":%zu,\"projections\":%zu}",
                   cut, index, rows, cols, done, n_proj);
    char *header = tl_jbuf_take(&b);
    if (!header)
        return;
    /* never block the reconstruction for a viewer: drop the preview instead */
    if (zmq_send(srv->preview_sock, header, strlen(header), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send(srv->preview_sock, pixels, rows * cols * sizeof(float), ZMQ_DONTWAIT);
    free(header);
}

static void on_preview(void *ctx, const float *volume, size_t nz, size_t n, size_t done, size_t n_proj)
{
    scan_state *s = ctx;
    service *srv = s->srv;
    float *cut = malloc((nz > n ? nz : n) * n * sizeof *cut);
    if (!cut)
        return;
    pthread_mutex_lock(&srv->preview_lock);
    size_t zc = nz / 2, c = n / 2;
    publish_cut(srv, s->id, 'z', s->start.row_offset + s->row_begin + zc, n, n, volume + zc * n * n, done, n_proj);
    for (size_t z = 0; z < nz; z++)
        memcpy(cut + z * n, volume + (z * n + c) * n, n * sizeof *cut);
    publish_cut(srv, s->id, 'y', c, nz, n, cut, done, n_proj);
    for (size_t z = 0; z < nz; z++)
        for (size_t y = 0; y < n; y++)
            cut[z * n + y] = volume[(z * n + y) * n + c];
    publish_cut(srv, s->id, 'x', c, nz, n, cut, done, n_proj);
    pthread_mutex_unlock(&srv->preview_lock);
    free(cut);
}

static void start_scan(service *srv, scan_state *scans, tl_wire_msg *m, const char *client,
                       const tl_route_field *route, size_t *count)
{
    const tl_config *cfg = srv->cfg;
    char why[600];
    if (find_scan(scans, m->scan)) {
        tl_log_warn("serve: scan-start for scan '%s', which is already in progress: ignored", m->scan);
        count[C_MALFORMED]++;
        if (route)
            route_report(srv, route, m->scan, "a scan with this id is already in progress on the worker", NULL, NAN,
                         NULL, tl_now());
        return;
    }
    const tl_wire_scan_start *st = &m->start;
    double frame_bytes = (double)st->rows * (double)st->cols * (double)tl_wire_dtype_size(st->dtype);
    double scan_bytes = (double)(st->n_proj + st->n_flat + st->n_dark) * frame_bytes;
    if (frame_bytes > (double)cfg->max_frame_bytes) {
        snprintf(why, sizeof why, "a frame of %zu x %zu %s is %.0f bytes, more than --max-frame-bytes %ld", st->rows,
                 st->cols, tl_wire_dtype_name(st->dtype), frame_bytes, cfg->max_frame_bytes);
        refuse_scan(srv, route, m->scan, count, C_OVER_LIMIT, why);
        return;
    }
    if (scan_bytes > cfg->max_scan_bytes) {
        snprintf(why, sizeof why, "its frames are %.0f bytes, more than --max-scan-bytes %.0f", scan_bytes,
                 cfg->max_scan_bytes);
        refuse_scan(srv, route, m->scan, count, C_OVER_LIMIT, why);
        return;
    }
    /* What the stages can work with; refused (and counted) like a limit, with
     * the reason. A routed scan brings only the rows it is to reconstruct. */
    size_t row_begin = route ? 0 : (size_t)cfg->start_row,
           row_end = route || cfg->end_row < 0 ? st->rows : (size_t)cfg->end_row;
    const char *unusable = NULL;
    if (row_end > st->rows)
        row_end = st->rows;
    if (route && strcmp(cfg->save_format, "h5") != 0) {
        unusable = "a routed slab is written as NeXus/HDF5 for the router to assemble (--save-format h5)";
    } else if (row_begin >= row_end) {
        snprintf(why, sizeof why, "--start-row %ld --end-row %ld select no row of its %zu", cfg->start_row,
                 cfg->end_row, st->rows);
        unusable = why;
    } else if (st->n_flat == 0) {
        unusable = "it declares no flat field (image_key 1): it cannot be normalized";
    } else if (st->n_proj < 2 || st->cols < 2) {
        unusable = "a reconstruction needs at least 2 projections of at least 2 columns";
    }
    if (unusable) {
        refuse_scan(srv, route, m->scan, count, C_OVER_LIMIT, unusable);
        return;
    }
    /* sinograms rows x projections x (cols + 2) and volume rows x cols x cols, floats */
    double held = (double)(row_end - row_begin) *
                  ((double)st->n_proj * (double)(st->cols + 2) + (double)st->cols * (double)st->cols) * 4.0;
    if (held > cfg->max_scan_bytes) {
        snprintf(why, sizeof why, "reconstructing its rows %zu..%zu holds %.0f bytes (sinograms and volume), more "
                 "than --max-scan-bytes %.0f; reconstruct fewer rows (%s)", st->row_offset + row_begin,
                 st->row_offset + row_end - 1, held,
                 cfg->max_scan_bytes, route ? "route to more workers" : "--start-row/--end-row");
        refuse_scan(srv, route, m->scan, count, C_OVER_LIMIT, why);
        return;
    }
    scan_state *s = NULL;
    for (int i = 0; i < MAX_SCANS && !s; i++)
        if (scans[i].state == SCAN_FREE)
            s = &scans[i];
    if (!s) {
        snprintf(why, sizeof why, "%d scans are already in progress", MAX_SCANS);
        refuse_scan(srv, route, m->scan, count, C_OVER_LIMIT, why);
        return;
    }
    memset(s, 0, sizeof *s);
    s->srv = srv;
    snprintf(s->id, sizeof s->id, "%s", m->scan);
    snprintf(s->client, sizeof s->client, "%s", client ? client : "");
    tl_wire_sanitize_name(st->name, s->name, sizeof s->name);
    s->start = *st;
    m->start.angles = NULL; /* ours now */
    m->start.experiment = NULL;
    s->total = s->start.n_proj + s->start.n_flat + s->start.n_dark;
    s->row_begin = row_begin;
    s->row_end = row_end;
    s->state = SCAN_RECEIVING;
    s->t_start = s->last_seen = tl_now();
    if (route) {
        s->routed = 1;
        s->route = *route;
    }
    /* An existing volume is never replaced without --overwrite, and beam time is
     * never thrown away for a name clash: the scan goes to <name>_2.nxs, _3, ...
     * A routed slab is named by its detector rows (the z of its slices). */
    char rows_part[64] = "";
    if (route)
        snprintf(rows_part, sizeof rows_part, "_rows%05zu-%05zu", st->row_offset, st->row_offset + st->rows - 1);
    snprintf(s->output, sizeof s->output, "%s/%s%s.nxs", cfg->out_path_name, s->name, rows_part);
    for (int k = 2; !cfg->overwrite && output_taken(scans, s, s->output); k++)
        snprintf(s->output, sizeof s->output, "%s/%s%s_%d.nxs", cfg->out_path_name, s->name, rows_part, k);

    tl_error err = {0};
    tl_status rc = TL_OK;
    tl_filter_window window = TL_FILTER_RAMP;
    tl_algorithm algorithm = TL_ALGORITHM_FBP;
    char rings_described[256] = "";
    s->seen = calloc(s->total, 1);
    s->slot_taken = calloc(s->start.n_proj, 1);
    if (!s->seen || !s->slot_taken)
        rc = tl_error_set(&err, TL_ERR_NOMEM, "out of memory");
    if (rc == TL_OK)
        rc = tl_filter_parse(cfg->fbp_filter, &window, &err);
    if (rc == TL_OK)
        rc = tl_algorithm_parse(cfg->reconstruction_algorithm, &algorithm, &err);
    if (rc == TL_OK)
        rc = tl_workers_create((int)cfg->threads, &s->team, &err);
    if (rc == TL_OK)
        rc = tl_recon_rings_plan(cfg, s->start.n_proj, s->start.cols, s->team, &s->rings, rings_described,
                                 sizeof rings_described, &err);
    s->axis = NAN;
    if (rc == TL_OK && tl_cor_is_auto(cfg->rotation_axis)) {
        s->n_keep = tl_recon_axis_rows(cfg, row_begin, row_end, s->keep_rows);
        s->axis_how = "auto";
    } else if (rc == TL_OK) {
        rc = tl_cor_resolve(cfg->rotation_axis, s->start.cols, &s->axis, &s->axis_how, &err);
    }
    if (rc == TL_OK) {
        tl_stream_desc d = {.rows = s->start.rows,
                            .cols = s->start.cols,
                            .row_begin = row_begin,
                            .row_end = row_end,
                            .dtype = s->start.dtype == TL_WIRE_UINT16   ? TL_STREAM_UINT16
                                     : s->start.dtype == TL_WIRE_UINT32 ? TL_STREAM_UINT32
                                                                        : TL_STREAM_FLOAT32,
                            .n_proj = s->start.n_proj,
                            .n_flat = s->start.n_flat,
                            .n_dark = s->start.n_dark,
                            .angles_deg = s->start.angles,
                            .window = window,
                            .algorithm = algorithm,
                            .axis = s->axis,
                            .rings = s->rings,
                            .keep_rows = s->keep_rows,
                            .n_keep_rows = s->n_keep,
                            .threads = tl_workers_count(s->team),
                            .frame_buffers = (size_t)cfg->frame_buffers,
                            .stage_delay = cfg->stage_delay,
                            .preview = srv->preview_sock ? on_preview : NULL,
                            .preview_ctx = s,
                            .preview_every = (size_t)cfg->preview_every};
        rc = tl_stream_create(&d, &s->engine, &err);
    }
    if (rc != TL_OK) {
        scan_drop(s, err.message);
        count[C_FAILED]++;
        return;
    }
    if (s->client[0])
        tl_log_info("serve: scan '%s' from CURVE client '%s'", s->id, s->client);
    if (route)
        tl_log_info("serve: scan '%s': worker %zu of %zu of a router (its rows %zu..%zu of %zu), reports to %s", s->id,
                    route->worker, route->workers, route->row_begin, route->row_end - 1, route->rows_total,
                    cfg->report_to[0] ? cfg->report_to : route->report_to);
    tl_log_info("serve: scan '%s' -> %s: %zu darks, %zu flats, %zu projections of %zu x %zu %s; rows %zu..%zu, axis "
                "%s, ring removal %s, %.1f MiB held",
                s->id, s->output, s->start.n_dark, s->start.n_flat, s->start.n_proj, s->start.rows, s->start.cols,
                tl_wire_dtype_name(s->start.dtype), row_begin, row_end - 1,
                isfinite(s->axis) ? cfg->rotation_axis : "auto (searched at scan-end)", rings_described,
                (double)tl_stream_bytes(s->engine) / 1048576.0);
}

/* The place of a projection in scan-start's angle list: its arrival place when
 * the angle matches (the usual case), else the first free place with its angle. */
static long place_projection(const scan_state *s, double angle)
{
    size_t expect = s->per_kind[0], n = s->start.n_proj;
    const double *a = s->start.angles;
    if (expect < n && !s->slot_taken[expect] && (!isfinite(angle) || fabs(angle - a[expect]) <= 1e-6))
        return (long)expect;
    for (size_t i = 0; isfinite(angle) && i < n; i++)
        if (!s->slot_taken[i] && fabs(angle - a[i]) <= 1e-6)
            return (long)i;
    return -1;
}

static void take_frame(scan_state *scans, const tl_wire_msg *m, size_t n_parts, const void *payload,
                       size_t payload_size, size_t *count)
{
    scan_state *s = find_scan(scans, m->scan);
    tl_error err = {0};
    if (!s) {
        tl_log_warn("serve: frame %llu of unknown scan '%s' (no scan-start): dropped", (unsigned long long)m->frame.index,
                    m->scan);
        count[C_UNKNOWN_SCAN]++;
        return;
    }
    s->last_seen = tl_now();
    int c = -1;
    const tl_wire_frame *f = &m->frame;
    long slot = 0;
    if (tl_wire_check_parts(m, n_parts, payload_size, &err) != TL_OK) {
        tl_log_warn("serve: %s: dropped", err.message);
        c = C_BAD_PAYLOAD;
    } else if (f->rows != s->start.rows || f->cols != s->start.cols || f->dtype != s->start.dtype) {
        tl_log_warn("serve: frame %llu of scan '%s' is %zu x %zu %s, the scan's frames are %zu x %zu %s: dropped",
                    (unsigned long long)f->index, s->id, f->rows, f->cols, tl_wire_dtype_name(f->dtype),
                    s->start.rows, s->start.cols, tl_wire_dtype_name(s->start.dtype));
        c = C_BAD_SHAPE;
    } else if (f->index >= s->total) {
        tl_log_warn("serve: frame %llu of scan '%s': the scan declared %zu frames: dropped",
                    (unsigned long long)f->index, s->id, s->total);
        c = C_OVER_COUNT;
    } else if (s->seen[f->index]) {
        tl_log_warn("serve: frame %llu of scan '%s' arrived twice: the repeat is dropped", (unsigned long long)f->index,
                    s->id);
        c = C_DUPLICATE;
    } else {
        size_t declared[3] = {s->start.n_proj, s->start.n_flat, s->start.n_dark};
        if (s->per_kind[f->image_key] >= declared[f->image_key]) {
            tl_log_warn("serve: frame %llu of scan '%s': more image_key %d frames than the %zu declared: dropped",
                        (unsigned long long)f->index, s->id, f->image_key, declared[f->image_key]);
            c = C_OVER_COUNT;
        } else if (f->image_key == 0 && (slot = place_projection(s, f->angle)) < 0) {
            tl_log_warn("serve: projection (frame %llu) of scan '%s' at angle %g: scan-start lists no other "
                        "projection at that angle: dropped",
                        (unsigned long long)f->index, s->id, f->angle);
            c = C_OVER_COUNT;
        } else if (f->image_key == 0 && (size_t)slot != s->per_kind[0]) {
            tl_log_debug("serve: projection %zu of scan '%s' (angle %g) arrived as projection %zu: placed by its angle",
                         (size_t)slot, s->id, f->angle, s->per_kind[0]);
            count[C_OUT_OF_ORDER]++;
            s->count[C_OUT_OF_ORDER]++;
        }
    }
    if (c >= 0) {
        count[c]++;
        s->count[c]++;
        return;
    }
    if (f->image_key != 0)
        slot = (long)s->per_kind[f->image_key];
    if (s->received == 0)
        s->t_first_frame = tl_now();
    if (tl_stream_put(s->engine, f->image_key, (size_t)slot, f->index, payload, &err) != TL_OK) {
        scan_drop(s, err.message);
        count[C_FAILED]++;
        return;
    }
    s->t_last_frame = tl_now();
    s->seen[f->index] = 1;
    if (f->image_key == 0)
        s->slot_taken[slot] = 1;
    s->per_kind[f->image_key]++;
    s->received++;
}

/* The service's report of a scan, for /entry/process/stream (docs/protocol.md). */
static char *stream_report(const scan_state *s, const tl_stream_stats *st, const char *listen)
{
    tl_jbuf b = {0};
    tl_jbuf_raw(&b, "{\"scan\":");
    tl_jbuf_string(&b, s->id);
    tl_jbuf_raw(&b, ",\"name\":");
    tl_jbuf_string(&b, s->start.name);
    tl_jbuf_raw(&b, ",\"listen\":");
    tl_jbuf_string(&b, listen);
    if (s->client[0]) {
        tl_jbuf_raw(&b, ",\"client\":");
        tl_jbuf_string(&b, s->client);
    }
    tl_jbuf_printf(&b, ",\"frames\":{\"projections\":%zu,\"flats\":%zu,\"darks\":%zu},\"bytes\":%zu",
                   st->frames[0], st->frames[1], st->frames[2], st->bytes);
    tl_jbuf_printf(&b, ",\"ingest_seconds\":%.6f", s->t_last_frame - s->t_start);
    tl_jbuf_printf(&b, ",\"rows\":[%zu,%zu],\"deferred_projections\":%zu,\"flats_after\":%zu", s->row_begin,
                   s->row_end, st->deferred, st->flats_after);
    tl_jbuf_printf(&b, ",\"frame_buffers\":%zu,\"queue_high_water\":%zu,\"receive_waits\":%zu",
                   st->frames_queue.capacity, st->frames_queue.high_water, st->receive_waits);
    tl_jbuf_printf(&b, ",\"backproject_passes\":%zu,\"backprojected_before_scan_end\":%zu,\"memory_bytes\":%zu",
                   st->backproject_passes, st->done_at_finish, st->bytes_held);
    tl_jbuf_printf(&b, ",\"normalize\":{\"values\":%zu,\"floored\":%zu,\"dead_pixels\":%zu}", st->n_values,
                   st->n_floored, st->n_dead_pixels);
    tl_jbuf_raw(&b, ",\"faults\":{");
    static const int fault[] = {C_BAD_PAYLOAD, C_BAD_SHAPE, C_DUPLICATE, C_OVER_COUNT, C_OUT_OF_ORDER};
    for (size_t i = 0; i < sizeof fault / sizeof *fault; i++)
        tl_jbuf_printf(&b, "%s\"%s\":%zu", i ? "," : "", counter_names[fault[i]], s->count[fault[i]]);
    tl_jbuf_raw(&b, "}");
    if (s->routed) {
        tl_jbuf_printf(&b, ",\"route\":{\"worker\":%zu,\"workers\":%zu,\"rows\":[%zu,%zu],\"rows_total\":%zu,"
                           "\"ticket\":",
                       s->route.worker, s->route.workers, s->route.row_begin, s->route.row_end, s->route.rows_total);
        tl_jbuf_string(&b, s->route.ticket);
        tl_jbuf_raw(&b, ",\"report_to\":");
        tl_jbuf_string(&b, s->srv->cfg->report_to[0] ? s->srv->cfg->report_to : s->route.report_to);
        tl_jbuf_raw(&b, "}");
    }
    if (s->start.sample[0]) {
        tl_jbuf_raw(&b, ",\"sample\":");
        tl_jbuf_string(&b, s->start.sample);
    }
    if (s->start.experiment) {
        tl_jbuf_raw(&b, ",\"experiment\":");
        tl_jbuf_raw(&b, s->start.experiment);
    }
    tl_jbuf_raw(&b, "}");
    return tl_jbuf_take(&b);
}

/* The finisher thread of a complete scan: the rest of the reconstruction, the
 * file, the catalog record. */
static void *finish_main(void *arg)
{
    scan_state *s = arg;
    const tl_config *cfg = s->srv->cfg;
    tl_error err = {0};
    double stage_seconds[ST_COUNT] = {0};
    const char *stage_names[ST_COUNT];
    for (int i = 0; i < TL_STREAM_STAGE_COUNT; i++)
        stage_names[i] = tl_stream_stage_names[i];
    stage_names[ST_AXIS] = "axis_search";
    stage_names[ST_WRITE] = "write";
    char axis_method[400];
    snprintf(axis_method, sizeof axis_method, "%s", s->axis_how ? s->axis_how : "");
    tl_stream_stats st;
    const float *volume = NULL;
    tl_volume_writer *writer = NULL;
    char *report_json = NULL;
    tl_status rc = tl_stream_drain(s->engine, &err);
    if (rc == TL_OK && !isfinite(s->axis)) {
        /* --rotation-axis auto: the search of batch mode, on the kept rows */
        double t0 = tl_now();
        size_t line = s->start.n_proj * s->start.cols;
        float *sino = malloc(s->n_keep * line * sizeof *sino);
        tl_cor_report search;
        if (!sino)
            rc = tl_error_set(&err, TL_ERR_NOMEM, "out of memory for the centre search");
        for (size_t k = 0; rc == TL_OK && k < s->n_keep; k++)
            memcpy(sino + k * line, tl_stream_kept_sinogram(s->engine, k), line * sizeof *sino);
        if (rc == TL_OK)
            rc = tl_recon_axis_search(cfg, sino, s->n_keep, s->start.n_proj, s->start.cols, s->start.angles,
                                      s->keep_rows, s->team, &search, &err);
        free(sino);
        if (rc == TL_OK) {
            s->axis = search.axis;
            tl_recon_axis_summary(&search, search.how, axis_method, sizeof axis_method);
            tl_stream_set_axis(s->engine, s->axis);
            tl_log_info("serve: scan '%s': rotation axis %.2f (%s)", s->id, s->axis, axis_method);
        }
        stage_seconds[ST_AXIS] = tl_now() - t0;
    }
    if (rc == TL_OK)
        rc = tl_stream_finish(s->engine, &volume, &st, &err);
    tl_recon_report rep;
    memset(&rep, 0, sizeof rep);
    if (rc == TL_OK) {
        for (int i = 0; i < TL_STREAM_STAGE_COUNT; i++)
            stage_seconds[i] = st.seconds[i];
        report_json = stream_report(s, &st, cfg->listen);
        int compression = 0;
        size_t nz = s->row_end - s->row_begin, n = s->start.cols;
        pthread_mutex_lock(&s->srv->hdf5_lock);
        double t0 = tl_now();
        rc = tl_volume_compression_parse(cfg->compression, &compression, &err);
        int format = 0;
        if (rc == TL_OK)
            rc = tl_volume_format_parse(cfg->save_format, &format, &err);
        tl_volume_desc vdesc = {.nz = nz, .ny = n, .nx = n, .z_first = s->start.row_offset + s->row_begin,
                                .float16 = strcmp(cfg->dtype, "float16") == 0, .format = format,
                                .compression = compression, .compression_level = (int)cfg->compression_level};
        if (rc == TL_OK)
            rc = tl_volume_writer_create(s->output, &vdesc, (int)cfg->overwrite, &writer, &err);
        if (rc == TL_OK)
            rc = tl_volume_writer_write(writer, 0, nz, volume, &err);
        stage_seconds[ST_WRITE] = tl_now() - t0;
        char source[600];
        snprintf(source, sizeof source, "%s (stream protocol 1, scan '%s')", cfg->listen, s->id);
        rep.n_slices = nz;
        tl_recon_output out = {.input = source,
                               .sample_name = s->start.sample[0] ? s->start.sample : NULL,
                               .row_begin = s->row_begin,
                               .row_end = s->row_end,
                               .n = n,
                               .axis = s->axis,
                               .axis_method = axis_method,
                               .backend = "cpu",
                               .n_stages = ST_COUNT,
                               .stage_names = stage_names,
                               .stage_seconds = stage_seconds,
                               .stream_json = report_json};
        /* A routed slab gets no catalog record: the router makes one for the volume. */
        tl_config *slab_cfg = NULL;
        if (rc == TL_OK && s->routed && !(slab_cfg = malloc(sizeof *slab_cfg)))
            rc = tl_error_set(&err, TL_ERR_NOMEM, "out of memory");
        if (slab_cfg) {
            *slab_cfg = *cfg;
            slab_cfg->catalog[0] = '\0';
        }
        if (rc == TL_OK)
            rc = tl_recon_publish(slab_cfg ? slab_cfg : cfg, s->output, &writer, &out, s->t_start, &rep, &err);
        free(slab_cfg);
        tl_volume_writer_abort(&writer);
        pthread_mutex_unlock(&s->srv->hdf5_lock);
    }
    if (rc != TL_OK) {
        tl_log(TL_LOG_ERROR, "serve: scan '%s' was complete but its reconstruction failed: %s", s->id, err.message);
        s->result = C_FAILED;
        if (s->routed)
            route_report(s->srv, &s->route, s->id, err.message, NULL, s->axis, axis_method, s->t_start);
    } else {
        double latency = tl_now() - s->t_last_frame, ingest = s->t_last_frame - s->t_start;
        size_t frames = st.frames[0] + st.frames[1] + st.frames[2];
        tl_log_info("serve: scan '%s' -> %s: %zu slices, axis %.2f (%s); %zu of %zu projections backprojected "
                    "before scan-end; stages %s %.2f s (waited), %s %.2f, %s %.2f, %s %.2f, %s %.2f, %s %.2f, %s "
                    "%.2f, axis search %.2f, write %.2f; frame queue high water %zu of %zu%s%s",
                    s->id, s->output, rep.n_slices, s->axis, axis_method, st.done_at_finish, s->start.n_proj,
                    stage_names[0], stage_seconds[0], stage_names[1], stage_seconds[1], stage_names[2],
                    stage_seconds[2], stage_names[3], stage_seconds[3], stage_names[4], stage_seconds[4],
                    stage_names[5], stage_seconds[5], stage_names[6], stage_seconds[6], stage_seconds[ST_AXIS],
                    stage_seconds[ST_WRITE], st.frames_queue.high_water, st.frames_queue.capacity,
                    rep.catalog_uuid[0] ? ", catalog record " : "", rep.catalog_uuid);
        printf("tomoline serve: wrote %s (scan '%s'): %zu frames, %zu bytes in %.3f s of ingest (%.1f frames/s, %.1f "
               "MB/s), volume complete %.3f s after the last frame; peak memory %.1f MiB\n",
               s->output, s->id, frames, st.bytes, ingest, ingest > 0 ? (double)frames / ingest : 0.0,
               ingest > 0 ? (double)st.bytes / ingest / 1e6 : 0.0, latency, (double)tl_cli_peak_rss() / 1048576.0);
        fflush(stdout);
        s->result = C_DONE;
        if (s->routed)
            route_report(s->srv, &s->route, s->id, NULL, s->output, s->axis, axis_method, s->t_start);
    }
    free(report_json);
    atomic_store(&s->finished, 1);
    return NULL;
}

static void finish_scan(scan_state *s, uint64_t frames_sent, size_t *count)
{
    if (s->received < s->total) {
        char why[200];
        snprintf(why, sizeof why, "scan-end after %llu frames sent, %zu missing", (unsigned long long)frames_sent,
                 s->total - s->received);
        scan_drop(s, why);
        count[C_INCOMPLETE]++;
        return;
    }
    s->state = SCAN_FINISHING;
    atomic_init(&s->finished, 0);
    if (pthread_create(&s->finisher, NULL, finish_main, s) != 0) {
        scan_drop(s, "cannot start a thread to finish it");
        count[C_FAILED]++;
    }
}

/* Join the finishers that are done; with wait, all of them. */
static void reap(scan_state *scans, size_t *count, int wait)
{
    for (int i = 0; i < MAX_SCANS; i++)
        if (scans[i].state == SCAN_FINISHING && (wait || atomic_load(&scans[i].finished))) {
            pthread_join(scans[i].finisher, NULL);
            count[scans[i].result]++;
            scan_free(&scans[i]);
        }
}

static int is_loopback(const char *endpoint)
{
    return strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0 ||
           strstr(endpoint, "://127.") || strstr(endpoint, "://localhost") || strstr(endpoint, "://[::1]");
}

static const tl_cli_command serve_command = {
    .name = "serve",
    .mask = TL_CMD_SERVE | TL_CMD_RECON,
    .usage = "serve --listen ENDPOINT -o OUT_DIR [--catalog URL] [--preview-publish ENDPOINT] [recon options]",
    .summary = "The beamline service: take scans over ZeroMQ, reconstruct each into OUT_DIR.",
    .description =
        "Binds a PULL socket at --listen and takes scans in stream protocol 1 (docs/protocol.md;\n"
        "'tomoline send' replays a file). Frames are normalized and ramp-filtered as they arrive and,\n"
        "once the axis is known (--rotation-axis given, or searched at scan-end with 'auto'),\n"
        "backprojected while the scan runs; at scan-end the volume is finished, written to\n"
        "OUT_DIR/<name>.nxs (name from scan-start, sanitised; _2, _3, ... rather than replacing a\n"
        "volume) with the provenance and, with --catalog, a catalog record. Every recon option\n"
        "applies (--start-row/--end-row limit the rows reconstructed). Malformed or hostile messages\n"
        "are logged, counted and dropped; an incomplete scan (missing frames, abort, silent for\n"
        "--scan-timeout) is discarded and leaves no file. Runs until SIGINT or SIGTERM, then exits 0.\n\n"
        "Memory per scan: rows x projections x (cols + 2) x 4 bytes of sinograms, rows x cols^2 x 4 of\n"
        "volume, and --frame-buffers frames; a scan needing more than --max-scan-bytes is refused.\n"
        "When the stages fall behind the sender, the service stops reading the socket (backpressure).\n"
        "Security: --curve-secret-key and --curve-allowed-keys (docs/security.md, 'tomoline keygen').\n"
        "--preview-publish ENDPOINT publishes the central slices as the volume grows (docs/protocol.md).\n"
        "As a worker of 'tomoline route' (a scan-start with a 'route' field) it reconstructs the rows it\n"
        "is given into OUT_DIR/<name>_rowsAAAAA-BBBBB.nxs (AAAAA..BBBBB: detector rows), makes no catalog\n"
        "record, and reports the slab (or its failure) to the router (--report-to overrides where).\n\n"
        "example:\n"
        "  tomoline serve --listen tcp://*:5555 -o /data/recon --catalog sqlite:/data/catalog.db \\\n"
        "      --curve-secret-key server.secret --curve-allowed-keys /etc/tomoline/clients",
    .max_positional = 0,
};

int tl_cmd_serve(int argc, char **argv)
{
    tl_config cfg;
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&serve_command, argc, argv, &cfg, NULL, &n_positional, &code))
        return code;
    tl_error err = {0};
    if ((code = tl_cli_check_service_options(&cfg, "serve", "the volumes")) != 0)
        return code;
    if (cfg.report_to[0] && strncmp(cfg.report_to, "tcp://", 6) != 0 && strncmp(cfg.report_to, "ipc://", 6) != 0) {
        fprintf(stderr, "tomoline: error: --report-to '%s' is not a tcp:// or ipc:// endpoint (the router's "
                        "--report-listen as this worker reaches it)\n",
                cfg.report_to);
        return 2;
    }
    /* Options every scan will use are checked once, here, not at the first scan-end. */
    tl_backend backend;
    tl_filter_window window;
    tl_algorithm algorithm;
    int fmt = 0, compression = 0;
    if (tl_recon_check_catalog_url(&cfg, &err) != TL_OK || tl_backend_resolve(cfg.backend, &backend, &err) != TL_OK ||
        tl_filter_parse(cfg.fbp_filter, &window, &err) != TL_OK ||
        tl_algorithm_parse(cfg.reconstruction_algorithm, &algorithm, &err) != TL_OK ||
        tl_volume_format_parse(cfg.save_format, &fmt, &err) != TL_OK ||
        tl_volume_compression_parse(cfg.compression, &compression, &err) != TL_OK)
        return tl_cli_fail(&err);
    if (backend != TL_BACKEND_CPU) {
        fprintf(stderr, "tomoline: error: --backend %s: serve reconstructs on the CPU in this version (allowed: "
                        "auto, cpu)\n", cfg.backend);
        return 2;
    }
    /* SIGINT and SIGTERM are blocked in every thread (threads inherit the mask
     * from this one, which creates them all) and taken here, in the receive
     * loop, with sigtimedwait: a signal handed by the kernel to a starved
     * SCHED_IDLE backprojection thread would otherwise wait for it to run. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_PULL) : NULL;
    if (!sock) {
        fprintf(stderr, "tomoline: error: cannot create a ZeroMQ socket: %s\n", zmq_strerror(errno));
        return 1;
    }
    int64_t max_msg = cfg.max_frame_bytes > (16 << 20) ? cfg.max_frame_bytes : (16 << 20);
    int zero = 0;
    /* ZeroMQ's own queue of received messages is bounded too (a message is a
     * whole frame): what waits in it plus the frame buffers is the memory a fast
     * sender can make the service hold; beyond it, the sender's socket blocks. */
    int rcvhwm = (int)cfg.frame_buffers;
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    tl_curve_server *curve = NULL;
    service srv = {.cfg = &cfg, .ctx = ctx};
    pthread_mutex_init(&srv.preview_lock, NULL);
    pthread_mutex_init(&srv.hdf5_lock, NULL);
    int exit_code = 0;
    if (cfg.curve_secret_key[0] &&
        tl_curve_server_start(ctx, sock, cfg.curve_secret_key, cfg.curve_allowed_keys, &curve, &err) != TL_OK) {
        exit_code = tl_cli_fail(&err);
        goto out;
    }
    if (zmq_bind(sock, cfg.listen) != 0) {
        fprintf(stderr, "tomoline: error: --listen '%s': %s\n", cfg.listen, zmq_strerror(errno));
        exit_code = 1;
        goto out;
    }
    if (cfg.preview_publish[0]) {
        srv.preview_sock = zmq_socket(ctx, ZMQ_PUB);
        if (!srv.preview_sock || zmq_setsockopt(srv.preview_sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_bind(srv.preview_sock, cfg.preview_publish) != 0) {
            fprintf(stderr, "tomoline: error: --preview-publish '%s': %s\n", cfg.preview_publish, zmq_strerror(errno));
            exit_code = 1;
            goto out;
        }
    }
    if (!is_loopback(cfg.listen) && !curve)
        tl_log_warn("serve: listening on %s, beyond this machine, without CURVE encryption: anyone who can reach "
                    "it can send scans (see --curve-secret-key)",
                    cfg.listen);
    tl_log_info("serve: listening on %s%s, volumes to %s", cfg.listen, curve ? " (CURVE)" : "", cfg.out_path_name);
    printf("tomoline serve: listening on %s\n", cfg.listen);
    fflush(stdout);

    /* The decoder's limits stay at least the protocol's defaults: a scan over
     * this service's limits is refused (and counted as such) by start_scan, with
     * the option in the message; pixel memory is bounded by ZMQ_MAXMSGSIZE. */
    tl_wire_limits lim;
    tl_wire_limits_default(&lim);
    if ((size_t)cfg.max_frame_bytes > lim.max_frame_bytes)
        lim.max_frame_bytes = (size_t)cfg.max_frame_bytes;
    if (cfg.max_scan_bytes > lim.max_scan_bytes)
        lim.max_scan_bytes = cfg.max_scan_bytes;
    static scan_state scans[MAX_SCANS];
    memset(scans, 0, sizeof scans);
    size_t count[C_COUNT] = {0};
    zmq_msg_t parts[2];
    while (!stop_requested) {
        zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
        int ready = zmq_poll(&item, 1, 200);
        const struct timespec no_wait = {0, 0};
        if (sigtimedwait(&stop_signals, NULL, &no_wait) > 0)
            stop_requested = 1;
        reap(scans, count, 0);
        double now = tl_now();
        for (int i = 0; i < MAX_SCANS; i++)
            if (scans[i].state == SCAN_RECEIVING && now - scans[i].last_seen > cfg.scan_timeout) {
                char why[128];
                snprintf(why, sizeof why, "no message for --scan-timeout %g s (the sender is gone?)", cfg.scan_timeout);
                scan_drop(&scans[i], why);
                count[C_TIMEOUT]++;
            }
        if (ready <= 0)
            continue;
        /* one message: keep the first two parts, count (and drop) any more */
        size_t n_parts = tl_socket_recv_message(sock, parts);
        if (n_parts == 0)
            continue;
        tl_wire_msg m;
        if (tl_wire_decode(zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), &lim, &m, &err) != TL_OK) {
            tl_log_warn("serve: message dropped: %s", err.message);
            count[C_MALFORMED]++;
        } else {
            scan_state *s;
            switch (m.type) {
            case TL_WIRE_SCAN_START:
                if (n_parts != 1) {
                    tl_log_warn("serve: scan-start of '%s' with %zu parts: dropped", m.scan, n_parts);
                    count[C_BAD_PAYLOAD]++;
                } else {
                    /* a router's worker? (acquire/route.h) */
                    tl_route_field route;
                    int routed = 0;
                    if (tl_route_field_decode(zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), m.start.rows,
                                              &route, &routed, &err) != TL_OK) {
                        tl_log_warn("serve: scan-start of '%s' dropped: %s", m.scan, err.message);
                        count[C_MALFORMED]++;
                        break;
                    }
                    /* with CURVE, which allowed key sent it (the name of its .public file) */
                    start_scan(&srv, scans, &m, curve ? zmq_msg_gets(&parts[0], "User-Id") : NULL,
                               routed ? &route : NULL, count);
                }
                break;
            case TL_WIRE_FRAME:
                take_frame(scans, &m, n_parts, n_parts > 1 ? zmq_msg_data(&parts[1]) : NULL,
                           n_parts > 1 ? zmq_msg_size(&parts[1]) : 0, count);
                break;
            case TL_WIRE_SCAN_END:
                if ((s = find_scan(scans, m.scan)) != NULL)
                    finish_scan(s, m.frames_sent, count);
                else {
                    tl_log_warn("serve: scan-end of unknown scan '%s': ignored", m.scan);
                    count[C_UNKNOWN_SCAN]++;
                }
                break;
            case TL_WIRE_ABORT:
                if ((s = find_scan(scans, m.scan)) != NULL) {
                    char why[300];
                    snprintf(why, sizeof why, "the sender aborted it (%s)", m.reason[0] ? m.reason : "no reason given");
                    scan_drop(s, why);
                    count[C_ABORTED]++;
                } else {
                    count[C_UNKNOWN_SCAN]++;
                }
                break;
            }
            tl_wire_msg_free(&m);
        }
        for (size_t i = 0; i < n_parts && i < 2; i++)
            zmq_msg_close(&parts[i]);
    }
    /* Scans still arriving are abandoned; scans being finished are finished. */
    for (int i = 0; i < MAX_SCANS; i++)
        if (scans[i].state == SCAN_RECEIVING)
            scan_drop(&scans[i], "the service was stopped");
    reap(scans, count, 1);
    char summary[1024];
    size_t used = 0;
    for (int c = 0; c < C_COUNT; c++)
        used += (size_t)snprintf(summary + used, sizeof summary - used, "%s%s %zu", c ? ", " : "", counter_names[c],
                                 count[c]);
    if (curve)
        snprintf(summary + used, sizeof summary - used, ", clients refused %zu", tl_curve_server_refused(curve));
    tl_log_info("serve: stopped; %s", summary);
    printf("tomoline serve: stopped; %s\n", summary);
out:
    zmq_close(sock);
    if (srv.preview_sock)
        zmq_close(srv.preview_sock);
    tl_curve_server_stop(&curve);
    zmq_ctx_term(ctx);
    pthread_mutex_destroy(&srv.preview_lock);
    pthread_mutex_destroy(&srv.hdf5_lock);
    return exit_code;
}
