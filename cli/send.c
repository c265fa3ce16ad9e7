/* send.c - `tomoline send`: replay a scan file as a detector would, over the
 * stream protocol (docs/protocol.md) to `tomoline serve` or any receiver.
 *
 * Order: scan-start (shape, counts, the file's angles, the sample), darks,
 * the flats taken before the projections, the projections in angle order, the
 * flats taken after, scan-end. One frame is read at a time (memory: two frame
 * buffers, whatever the file's size). uint8 and uint16 files are sent as
 * uint16 (their exact counts), anything else as float32.
 *
 * The PUSH socket is connected with ZMQ_IMMEDIATE, so messages queue only for a
 * receiver that is really there, and every send waits at most --send-timeout:
 * a missing receiver is an error, not a silent success after frames vanished
 * into a queue. --rate paces the frames like a detector (0: as fast as the
 * receiver takes them: the load generator of the benchmarks).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "curve.h"
#include "log.h"
#include "progress.h"
#include "scan.h"
#include "wire.h"

typedef struct sender {
    void *ctx, *sock;
    const tl_config *cfg;
    tl_wire_msg msg;
    size_t frames_sent;
    double t0;
} sender;

static tl_status send_parts(sender *s, const void *header, size_t header_size, const void *payload,
                            size_t payload_size, const char *what, tl_error *err)
{
    int more = payload ? ZMQ_SNDMORE : 0;
    if (zmq_send(s->sock, header, header_size, more) < 0 ||
        (payload && zmq_send(s->sock, payload, payload_size, 0) < 0)) {
        if (errno == EAGAIN)
            return tl_error_set(err, TL_ERR_IO,
                                "--connect %s: no receiver took %s within --send-timeout %g s (is 'tomoline serve "
                                "--listen' running there?%s)",
                                s->cfg->connect, what, s->cfg->send_timeout,
                                s->cfg->curve_server_key[0]
                                    ? " With CURVE: does the service allow this --curve-client-key, and is "
                                      "--curve-server-key its key?"
                                    : "");
        return tl_error_set(err, TL_ERR_IO, "--connect %s: sending %s failed: %s", s->cfg->connect, what,
                            zmq_strerror(errno));
    }
    return TL_OK;
}

static tl_status send_header(sender *s, const void *payload, size_t payload_size, const char *what, tl_error *err)
{
    char *header = tl_wire_encode(&s->msg);
    if (!header)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory encoding %s", what);
    tl_status st = send_parts(s, header, strlen(header), payload, payload_size, what, err);
    free(header);
    return st;
}

static void pace(const sender *s)
{
    if (s->cfg->rate <= 0)
        return;
    double due = s->t0 + (double)s->frames_sent / s->cfg->rate, wait = due - tl_now();
    if (wait > 0) {
        struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - floor(wait)) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static tl_status run_send(const tl_config *cfg, const char *input, size_t *n_frames, char *scan_id,
                          size_t scan_id_size, tl_error *err)
{
    tl_scan_options opt;
    tl_scan_options_from_config(cfg, &opt);
    tl_scan *scan = NULL;
    tl_status st = tl_scan_open_with(input, &opt, &scan, err);
    if (st != TL_OK)
        return st;
    const tl_scan_info *info = tl_scan_get_info(scan);
    sender s = {.cfg = cfg};
    float *frame = NULL;
    void *payload = NULL;
    tl_progress *progress = NULL;
    int exact_counts = !info->normalized && (strcmp(info->pixel_type, "uint16") == 0 ||
                                             strcmp(info->pixel_type, "uint8") == 0);
    tl_wire_dtype dtype = exact_counts ? TL_WIRE_UINT16 : TL_WIRE_FLOAT32;
    size_t rows = info->n_rows, cols = info->n_cols, plane = rows * cols;

    /* the scan id: the name, the time and the process, so repeated sends differ */
    char name[TL_WIRE_TEXT_MAX];
    if (cfg->name[0]) {
        snprintf(name, sizeof name, "%.*s", (int)sizeof name - 1, cfg->name);
    } else {
        const char *base = strrchr(input, '/');
        base = base ? base + 1 : input;
        const char *dot = strrchr(base, '.');
        snprintf(name, sizeof name, "%.*s", (int)(dot && dot > base ? (size_t)(dot - base) : strlen(base)), base);
    }
    snprintf(scan_id, scan_id_size, "%.80s-%lld-%ld", name, (long long)time(NULL), (long)getpid());

    if (!(frame = malloc(plane * sizeof *frame)) || !(payload = malloc(plane * tl_wire_dtype_size(dtype)))) {
        st = tl_error_set(err, TL_ERR_NOMEM, "cannot allocate a frame of %zu x %zu", rows, cols);
        goto done;
    }
    s.ctx = zmq_ctx_new();
    s.sock = s.ctx ? zmq_socket(s.ctx, ZMQ_PUSH) : NULL;
    if (!s.sock) {
        st = tl_error_set(err, TL_ERR_IO, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
        goto done;
    }
    int timeout_ms = (int)fmin(cfg->send_timeout * 1000.0, 2e9), one = 1;
    zmq_setsockopt(s.sock, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s.sock, ZMQ_LINGER, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s.sock, ZMQ_IMMEDIATE, &one, sizeof one);
    /* CURVE (acquire/curve.h): the keys must be on the socket before it connects */
    if (cfg->curve_server_key[0] &&
        (st = tl_curve_client_setup(s.sock, cfg->curve_client_key, cfg->curve_server_key, err)) != TL_OK)
        goto done;
    if (zmq_connect(s.sock, cfg->connect) != 0) {
        st = tl_error_set(err, TL_ERR_INVALID, "--connect '%s': %s (allowed: tcp://HOST:PORT, ipc://PATH, ...)",
                          cfg->connect, zmq_strerror(errno));
        goto done;
    }

    s.msg.type = TL_WIRE_SCAN_START;
    snprintf(s.msg.scan, sizeof s.msg.scan, "%s", scan_id);
    s.msg.start = (tl_wire_scan_start){.rows = rows, .cols = cols, .dtype = dtype, .n_proj = info->n_proj,
                                       .n_flat = info->n_flat, .n_dark = info->n_dark,
                                       .angles = (double *)info->angles_deg};
    snprintf(s.msg.start.name, sizeof s.msg.start.name, "%s", name);
    if (info->sample_name)
        snprintf(s.msg.start.sample, sizeof s.msg.start.sample, "%.*s", (int)sizeof s.msg.start.sample - 1,
                 info->sample_name);
    if ((st = send_header(&s, NULL, 0, "scan-start", err)) != TL_OK)
        goto done;
    s.msg.start.angles = NULL; /* the scan's, not ours */
    tl_log_info("send: %s (%s, %s) to %s as scan '%s': %zu darks, %zu flats, %zu projections of %zu x %zu %s%s",
                input, info->layout_name, info->pixel_type, cfg->connect, scan_id, info->n_dark, info->n_flat,
                info->n_proj, rows, cols, tl_wire_dtype_name(dtype),
                cfg->rate > 0 ? "" : ", as fast as the receiver takes them");

    /* darks, flats before, projections, flats after */
    tl_frame_group order[4];
    tl_scan_acquisition_order(info, order);
    size_t total = info->n_dark + info->n_flat + info->n_proj;
    progress = tl_progress_create("send", total, "frames", tl_progress_mode_parse(cfg->progress));
    s.t0 = tl_now();
    for (int part = 0; part < 4; part++)
        for (size_t i = 0; i < order[part].count; i++) {
            size_t index = order[part].first + i;
            if ((st = tl_scan_read_frames(scan, order[part].key, index, 1, 0, rows, frame, err)) != TL_OK)
                goto done;
            if (dtype == TL_WIRE_UINT16) {
                uint16_t *out = payload;
                for (size_t p = 0; p < plane; p++) {
                    float v = frame[p];
                    out[p] = (uint16_t)(v <= 0.0f ? 0 : v >= 65535.0f ? 65535 : (unsigned)lrintf(v));
                }
            } else {
                memcpy(payload, frame, plane * sizeof(float));
            }
            s.msg.type = TL_WIRE_FRAME;
            s.msg.frame = (tl_wire_frame){.index = s.frames_sent, .image_key = order[part].key, .angle = NAN,
                                          .rows = rows, .cols = cols, .dtype = dtype};
            if (order[part].key == TL_KEY_PROJECTION)
                s.msg.frame.angle = info->angles_deg[index];
            pace(&s);
            char what[64];
            snprintf(what, sizeof what, "frame %zu", s.frames_sent);
            if ((st = send_header(&s, payload, plane * tl_wire_dtype_size(dtype), what, err)) != TL_OK)
                goto done;
            s.frames_sent++;
            tl_progress_update(progress, s.frames_sent, NULL);
        }
    s.msg.type = TL_WIRE_SCAN_END;
    s.msg.frames_sent = s.frames_sent;
    st = send_header(&s, NULL, 0, "scan-end", err);
done:
    tl_progress_finish(&progress);
    *n_frames = s.frames_sent;
    if (s.sock)
        zmq_close(s.sock);
    if (s.ctx)
        zmq_ctx_term(s.ctx); /* waits (at most the linger time) until the queued messages are out */
    free(payload);
    free(frame);
    tl_scan_close(&scan);
    return st;
}

static const tl_cli_command send_command = {
    .name = "send",
    .mask = TL_CMD_SEND,
    .usage = "send INPUT [--connect ENDPOINT] [--rate FPS] [--name NAME] [options]",
    .summary = "Replay a scan file over ZeroMQ as a detector would (stream protocol 1).",
    .description =
        "INPUT is any scan 'tomoline info' reads. Sends scan-start (shape, counts, angles, sample),\n"
        "the darks, the flats taken before, the projections, the flats taken after, then scan-end,\n"
        "on a PUSH socket connected to --connect (docs/protocol.md). uint8/uint16 files go as uint16,\n"
        "others as float32. A receiver that does not take a message within --send-timeout is an error.\n"
        "With --curve-server-key and --curve-client-key (both, 'tomoline keygen') the connection is\n"
        "encrypted and this client authenticated to a service that runs with CURVE (docs/security.md).\n\n"
        "example:\n"
        "  tomoline send scan.nxs --connect tcp://beamline-recon:5555 --rate 100",
    .max_positional = 1,
};

int tl_cmd_send(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&send_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: send needs one INPUT file (usage: tomoline %s)\n", send_command.usage);
        return 2;
    }
    if (!cfg.curve_server_key[0] != !cfg.curve_client_key[0]) {
        fprintf(stderr,
                "tomoline: error: %s '%s' needs %s too (allowed: both, for CURVE: --curve-server-key SERVER.public "
                "--curve-client-key CLIENT.secret; or neither)\n",
                cfg.curve_server_key[0] ? "--curve-server-key" : "--curve-client-key",
                cfg.curve_server_key[0] ? cfg.curve_server_key : cfg.curve_client_key,
                cfg.curve_server_key[0] ? "--curve-client-key" : "--curve-server-key");
        return 2;
    }
    tl_error err = {0};
    size_t frames = 0;
    char scan_id[TL_WIRE_SCAN_ID_MAX];
    double t0 = tl_now();
    if (run_send(&cfg, positional[0], &frames, scan_id, sizeof scan_id, &err) != TL_OK) {
        if (frames)
            tl_error_prefix(&err, "after %zu frames", frames);
        return tl_cli_fail(&err);
    }
    double secs = tl_now() - t0;
    printf("tomoline send: sent scan '%s': %zu frames to %s in %.2f s (%.1f frames/s)\n", scan_id, frames,
           cfg.connect, secs, secs > 0 ? (double)frames / secs : 0.0);
    return 0;
}
