/* serve.c - `tomoline serve`: the beamline service, first version.
 *
 * Binds a PULL socket (--listen), takes scans in stream protocol 1
 * (docs/protocol.md), and turns each complete scan into OUT_DIR/<name>.nxs
 * with its provenance and catalog record, then waits for the next one; runs
 * until SIGINT or SIGTERM (a scan in progress is then abandoned, its partial
 * file removed) and exits 0.
 *
 * This version is disk-backed and simple, not yet the staged in-memory
 * pipeline of issue 6: the frames of a scan go, as they arrive, into an NXtomo
 * file OUT_DIR/.incoming-<name>.nxs (written as .partial; memory is one frame
 * per scan in flight, whatever the scan's size), and at scan-end that file is
 * reconstructed by the batch path (tl_recon_run, every recon option applies)
 * and removed. Frames of each kind are stored in arrival order; the projection
 * angles are those of scan-start (a projection whose angle differs from its
 * slot's is counted as out of order and logged).
 *
 * Faults (each logged with its reason and counted; the service keeps running):
 * malformed headers, wrong part counts or payload sizes, unknown scans, shapes
 * that differ from the scan's, duplicate frame indices, indices beyond the
 * declared count, frames beyond a kind's count, scans over --max-frame-bytes
 * or --max-scan-bytes, a sender silent for --scan-timeout, abort. A scan that
 * ends incomplete is discarded: no output file, the reason in the log (a
 * reconstruction from part of the angles looks plausible and is wrong).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "log.h"
#include "recon.h"
#include "scan_write.h"
#include "wire.h"

#define MAX_SCANS 4 /* scans in flight at once */

enum { C_MALFORMED, C_BAD_PAYLOAD, C_UNKNOWN_SCAN, C_BAD_SHAPE, C_DUPLICATE, C_OVER_COUNT, C_OVER_LIMIT,
       C_OUT_OF_ORDER, C_TIMEOUT, C_ABORTED, C_INCOMPLETE, C_FAILED, C_DONE, C_COUNT };
static const char *const counter_names[C_COUNT] = {
    "malformed", "bad-payload", "unknown-scan", "bad-shape", "duplicate", "over-count", "over-limit",
    "out-of-order", "timed-out", "aborted", "incomplete", "failed", "reconstructed"};

typedef struct scan_state {
    int active;
    char id[TL_WIRE_SCAN_ID_MAX];
    char name[TL_WIRE_TEXT_MAX];
    tl_wire_scan_start start; /* owns the angles */
    char incoming[4200], output[4200];
    tl_scan_writer *writer;
    unsigned char *seen;      /* [total frames] index received */
    size_t total, received, per_kind[3];
    double last_seen;
    float *frame;             /* one frame, converted */
} scan_state;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

static void scan_drop(scan_state *s, const char *why)
{
    if (why)
        tl_log_warn("serve: scan '%s' discarded: %s (%zu of %zu frames received)", s->id, why, s->received, s->total);
    tl_scan_writer_abort(&s->writer);
    free(s->start.angles);
    free(s->start.experiment);
    free(s->seen);
    free(s->frame);
    memset(s, 0, sizeof *s);
}

static scan_state *find_scan(scan_state *scans, const char *id)
{
    for (int i = 0; i < MAX_SCANS; i++)
        if (scans[i].active && strcmp(scans[i].id, id) == 0)
            return &scans[i];
    return NULL;
}

/* An output path that exists, or that another scan in flight will write. */
static int output_taken(const scan_state *scans, const scan_state *self, const char *path)
{
    if (access(path, F_OK) == 0)
        return 1;
    for (int i = 0; i < MAX_SCANS; i++)
        if (&scans[i] != self && scans[i].active && strcmp(scans[i].output, path) == 0)
            return 1;
    return 0;
}

static void start_scan(const tl_config *cfg, scan_state *scans, tl_wire_msg *m, size_t *count)
{
    if (find_scan(scans, m->scan)) {
        tl_log_warn("serve: scan-start for scan '%s', which is already in progress: ignored", m->scan);
        count[C_MALFORMED]++;
        return;
    }
    double frame_bytes = (double)m->start.rows * (double)m->start.cols * (double)tl_wire_dtype_size(m->start.dtype);
    double scan_bytes = (double)(m->start.n_proj + m->start.n_flat + m->start.n_dark) * frame_bytes;
    if (frame_bytes > (double)cfg->max_frame_bytes || scan_bytes > cfg->max_scan_bytes) {
        if (frame_bytes > (double)cfg->max_frame_bytes)
            tl_log_warn("serve: scan '%s' refused: a frame of %zu x %zu %s is %.0f bytes, more than --max-frame-bytes "
                        "%ld",
                        m->scan, m->start.rows, m->start.cols, tl_wire_dtype_name(m->start.dtype), frame_bytes,
                        cfg->max_frame_bytes);
        else
            tl_log_warn("serve: scan '%s' refused: its frames are %.0f bytes, more than --max-scan-bytes %.0f",
                        m->scan, scan_bytes, cfg->max_scan_bytes);
        count[C_OVER_LIMIT]++;
        return;
    }
    scan_state *s = NULL;
    for (int i = 0; i < MAX_SCANS && !s; i++)
        if (!scans[i].active)
            s = &scans[i];
    if (!s) {
        tl_log_warn("serve: scan '%s' refused: %d scans are already in progress", m->scan, MAX_SCANS);
        count[C_OVER_LIMIT]++;
        return;
    }
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", m->scan);
    tl_wire_sanitize_name(m->start.name, s->name, sizeof s->name);
    s->start = m->start;
    m->start.angles = NULL; /* ours now */
    m->start.experiment = NULL;
    s->total = s->start.n_proj + s->start.n_flat + s->start.n_dark;
    /* The slot keeps incoming files of scans in flight apart. An existing volume
     * is never replaced without --overwrite, and beam time is never thrown away
     * for a name clash: the scan goes to <name>_2.nxs, _3, ... instead. */
    snprintf(s->incoming, sizeof s->incoming, "%s/.incoming-%d-%s.nxs", cfg->out_path_name, (int)(s - scans),
             s->name);
    snprintf(s->output, sizeof s->output, "%s/%s.nxs", cfg->out_path_name, s->name);
    for (int k = 2; !cfg->overwrite && output_taken(scans, s, s->output); k++)
        snprintf(s->output, sizeof s->output, "%s/%s_%d.nxs", cfg->out_path_name, s->name, k);
    s->seen = calloc(s->total, 1);
    s->frame = malloc(s->start.rows * s->start.cols * sizeof *s->frame);
    tl_pixel_type type = s->start.dtype == TL_WIRE_UINT16   ? TL_PIXEL_UINT16
                         : s->start.dtype == TL_WIRE_UINT32 ? TL_PIXEL_UINT32
                                                            : TL_PIXEL_FLOAT32;
    tl_scan_desc d = {.layout = TL_LAYOUT_NXTOMO, .pixel_type = type, .n_rows = s->start.rows,
                      .n_cols = s->start.cols, .n_proj = s->start.n_proj, .n_flat = s->start.n_flat,
                      .n_dark = s->start.n_dark, .angles_deg = s->start.angles,
                      .sample_name = s->start.sample[0] ? s->start.sample : NULL};
    tl_error err = {0};
    s->active = 1;
    if (!s->seen || !s->frame) {
        scan_drop(s, "out of memory");
        count[C_FAILED]++;
        return;
    }
    if (tl_scan_writer_create(s->incoming, &d, 1, &s->writer, &err) != TL_OK) {
        scan_drop(s, err.message);
        count[C_FAILED]++;
        return;
    }
    s->last_seen = tl_now();
    tl_log_info("serve: scan '%s' -> %s: %zu darks, %zu flats, %zu projections of %zu x %zu %s", s->id, s->output,
                s->start.n_dark, s->start.n_flat, s->start.n_proj, s->start.rows, s->start.cols,
                tl_wire_dtype_name(s->start.dtype));
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
    if (tl_wire_check_parts(m, n_parts, payload_size, &err) != TL_OK) {
        tl_log_warn("serve: %s: dropped", err.message);
        count[C_BAD_PAYLOAD]++;
        return;
    }
    const tl_wire_frame *f = &m->frame;
    if (f->rows != s->start.rows || f->cols != s->start.cols || f->dtype != s->start.dtype) {
        tl_log_warn("serve: frame %llu of scan '%s' is %zu x %zu %s, the scan's frames are %zu x %zu %s: dropped",
                    (unsigned long long)f->index, s->id, f->rows, f->cols, tl_wire_dtype_name(f->dtype),
                    s->start.rows, s->start.cols, tl_wire_dtype_name(s->start.dtype));
        count[C_BAD_SHAPE]++;
        return;
    }
    if (f->index >= s->total) {
        tl_log_warn("serve: frame %llu of scan '%s': the scan declared %zu frames: dropped",
                    (unsigned long long)f->index, s->id, s->total);
        count[C_OVER_COUNT]++;
        return;
    }
    if (s->seen[f->index]) {
        tl_log_warn("serve: frame %llu of scan '%s' arrived twice: the repeat is dropped", (unsigned long long)f->index,
                    s->id);
        count[C_DUPLICATE]++;
        return;
    }
    size_t declared[3] = {s->start.n_proj, s->start.n_flat, s->start.n_dark};
    size_t slot = s->per_kind[f->image_key];
    if (slot >= declared[f->image_key]) {
        tl_log_warn("serve: frame %llu of scan '%s': more image_key %d frames than the %zu declared: dropped",
                    (unsigned long long)f->index, s->id, f->image_key, declared[f->image_key]);
        count[C_OVER_COUNT]++;
        return;
    }
    if (f->image_key == 0 && fabs(f->angle - s->start.angles[slot]) > 1e-6) {
        tl_log_warn("serve: projection %zu of scan '%s' has angle %g, scan-start lists %g at that place",
                    slot, s->id, f->angle, s->start.angles[slot]);
        count[C_OUT_OF_ORDER]++;
    }
    size_t n = f->rows * f->cols;
    const unsigned char *p = payload;
    for (size_t i = 0; i < n; i++) {
        if (f->dtype == TL_WIRE_UINT16) {
            s->frame[i] = (float)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
        } else {
            uint32_t v = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                         (uint32_t)p[4 * i + 3] << 24;
            if (f->dtype == TL_WIRE_UINT32) {
                s->frame[i] = (float)v;
            } else {
                float x;
                memcpy(&x, &v, sizeof x);
                s->frame[i] = x;
            }
        }
    }
    if (tl_scan_writer_put(s->writer, (tl_image_key)f->image_key, slot, 1, 0, f->rows, s->frame, &err) != TL_OK) {
        scan_drop(s, err.message);
        count[C_FAILED]++;
        return;
    }
    s->seen[f->index] = 1;
    s->per_kind[f->image_key]++;
    s->received++;
}

static void finish_scan(const tl_config *cfg, scan_state *s, uint64_t frames_sent, size_t *count)
{
    if (s->received < s->total) {
        char why[200];
        snprintf(why, sizeof why, "scan-end after %llu frames sent, %zu missing", (unsigned long long)frames_sent,
                 s->total - s->received);
        scan_drop(s, why);
        count[C_INCOMPLETE]++;
        return;
    }
    tl_error err = {0};
    if (tl_scan_writer_commit(&s->writer, &err) != TL_OK) {
        scan_drop(s, err.message);
        count[C_FAILED]++;
        return;
    }
    tl_recon_report rep;
    double t0 = tl_now();
    if (tl_recon_run(cfg, s->incoming, s->output, &rep, &err) != TL_OK) {
        tl_log(TL_LOG_ERROR, "serve: scan '%s' was complete but its reconstruction failed: %s", s->id, err.message);
        count[C_FAILED]++;
    } else {
        tl_log_info("serve: scan '%s' -> %s: %zu slices, axis %.2f (%s), %.2f s after scan-end%s%s", s->id,
                    s->output, rep.n_slices, rep.axis, rep.axis_method, tl_now() - t0,
                    rep.catalog_uuid[0] ? ", catalog record " : "", rep.catalog_uuid);
        printf("tomoline serve: wrote %s (scan '%s')\n", s->output, s->id);
        fflush(stdout);
        count[C_DONE]++;
    }
    unlink(s->incoming);
    scan_drop(s, NULL);
}

static int is_loopback(const char *endpoint)
{
    return strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0 ||
           strstr(endpoint, "://127.") || strstr(endpoint, "://localhost") || strstr(endpoint, "://[::1]");
}

static const tl_cli_command serve_command = {
    .name = "serve",
    .mask = TL_CMD_SERVE | TL_CMD_RECON,
    .usage = "serve --listen ENDPOINT -o OUT_DIR [--catalog URL] [recon options]",
    .summary = "The beamline service: take scans over ZeroMQ, reconstruct each into OUT_DIR.",
    .description =
        "Binds a PULL socket at --listen and takes scans in stream protocol 1 (docs/protocol.md;\n"
        "'tomoline send' replays a file). Each complete scan becomes OUT_DIR/<name>.nxs (name from\n"
        "scan-start, sanitised) with the provenance and, with --catalog, a catalog record; every\n"
        "recon option applies. Malformed or hostile messages are logged, counted and dropped; an\n"
        "incomplete scan (missing frames, abort, silent for --scan-timeout) is discarded and leaves no\n"
        "file. Runs until SIGINT or SIGTERM, then exits 0.\n"
        "This version stores the frames of a scan in OUT_DIR/.incoming-<name>.nxs as they arrive and\n"
        "reconstructs at scan-end; the in-memory staged pipeline is issue 6's next step.\n\n"
        "example:\n"
        "  tomoline serve --listen tcp://*:5555 -o /data/recon --catalog sqlite:/data/catalog.db",
    .max_positional = 0,
};

int tl_cmd_serve(int argc, char **argv)
{
    tl_config cfg;
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&serve_command, argc, argv, &cfg, NULL, &n_positional, &code))
        return code;
    if (!cfg.out_path_name[0]) {
        fprintf(stderr, "tomoline: error: serve needs -o OUT_DIR, the directory for the volumes\n");
        return 2;
    }
    if (access(cfg.out_path_name, W_OK) != 0) {
        fprintf(stderr, "tomoline: error: -o '%s': not a writable directory (%s)\n", cfg.out_path_name,
                strerror(errno));
        return 1;
    }
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_PULL) : NULL;
    if (!sock) {
        fprintf(stderr, "tomoline: error: cannot create a ZeroMQ socket: %s\n", zmq_strerror(errno));
        return 1;
    }
    int64_t max_msg = cfg.max_frame_bytes > (16 << 20) ? cfg.max_frame_bytes : (16 << 20);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(sock, cfg.listen) != 0) {
        fprintf(stderr, "tomoline: error: --listen '%s': %s\n", cfg.listen, zmq_strerror(errno));
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return 1;
    }
    if (!is_loopback(cfg.listen))
        tl_log_warn("serve: listening on %s, beyond this machine, without CURVE encryption: anyone who can reach "
                    "it can send scans",
                    cfg.listen);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    tl_log_info("serve: listening on %s, volumes to %s", cfg.listen, cfg.out_path_name);
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
    scan_state scans[MAX_SCANS];
    memset(scans, 0, sizeof scans);
    size_t count[C_COUNT] = {0};
    zmq_msg_t parts[2];
    while (!stop_requested) {
        zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
        int ready = zmq_poll(&item, 1, 200);
        double now = tl_now();
        for (int i = 0; i < MAX_SCANS; i++)
            if (scans[i].active && now - scans[i].last_seen > cfg.scan_timeout) {
                char why[128];
                snprintf(why, sizeof why, "no message for --scan-timeout %g s (the sender is gone?)", cfg.scan_timeout);
                scan_drop(&scans[i], why);
                count[C_TIMEOUT]++;
            }
        if (ready <= 0)
            continue;
        /* one message: keep the first two parts, count (and drop) any more */
        size_t n_parts = 0;
        int more = 1;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, sock, 0) < 0) {
                zmq_msg_close(&part);
                break;
            }
            more = zmq_msg_more(&part);
            if (n_parts < 2)
                parts[n_parts] = part;
            else
                zmq_msg_close(&part);
            n_parts++;
        }
        if (n_parts == 0)
            continue;
        tl_wire_msg m;
        tl_error err = {0};
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
                    start_scan(&cfg, scans, &m, count);
                }
                break;
            case TL_WIRE_FRAME:
                take_frame(scans, &m, n_parts, n_parts > 1 ? zmq_msg_data(&parts[1]) : NULL,
                           n_parts > 1 ? zmq_msg_size(&parts[1]) : 0, count);
                break;
            case TL_WIRE_SCAN_END:
                if ((s = find_scan(scans, m.scan)) != NULL)
                    finish_scan(&cfg, s, m.frames_sent, count);
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
    for (int i = 0; i < MAX_SCANS; i++)
        if (scans[i].active)
            scan_drop(&scans[i], "the service was stopped");
    char summary[1024];
    size_t used = 0;
    for (int c = 0; c < C_COUNT; c++)
        used += (size_t)snprintf(summary + used, sizeof summary - used, "%s%s %zu", c ? ", " : "", counter_names[c],
                                 count[c]);
    tl_log_info("serve: stopped; %s", summary);
    printf("tomoline serve: stopped; %s\n", summary);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}
