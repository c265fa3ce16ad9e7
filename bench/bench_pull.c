/* bench_pull.c - the bare ZeroMQ receiver: the reference `tomoline serve`'s
 * ingest rate is compared with (issue 6, "what it must show", second item).
 *
 *   bench_pull --listen ENDPOINT [--scans K]
 *   bench_pull --read FILE
 *
 * Binds a PULL socket with serve's message-size limit (ZMQ_MAXMSGSIZE at the
 * protocol's default frame limit) and no linger; the receive high-water mark
 * stays at ZeroMQ's default (serve sets it to --frame-buffers to bound its
 * memory; a loop that keeps nothing has nothing to bound). It receives
 * multipart messages and decodes only
 * their JSON header (tl_wire_decode, as serve does) to tell scan-start, frames
 * and scan-end apart. Pixels are neither checked nor converted nor stored: what
 * this loop reaches is the most a receiver on this machine and this transport
 * can take, so serve's rate divided by this one is the cost of everything the
 * service does beyond receiving.
 *
 * One line per scan, printed at its scan-end:
 *   bench_pull: scan 'ID': F frames, B bytes in T s (R frames/s, M MB/s)
 * T runs from the arrival of scan-start to the arrival of scan-end; B counts the
 * frames' pixel bytes (part 1), MB = 10^6 bytes. Exits after K scans (default 1)
 * or on SIGINT/SIGTERM, printing its peak resident memory and CPU time (a
 * receiver near one core's worth of CPU per second of wall time is the
 * bottleneck; one far below it waits for the sender).
 *
 * --read FILE is the sender's side without a socket: it reads FILE's frames as
 * `tomoline send` does (tl_scan_read_frames, one frame at a time, converted to
 * the uint16 it would send) and prints
 *   bench_pull: read 'FILE': F frames, B bytes in T s (R frames/s, M MB/s)
 * When the bare loop's rate is close to this one, the sender limits it.
 *
 * bench/run_ingest.sh drives it against `tomoline send`.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

#include "bench.h"
#include "log.h"
#include "scan.h"
#include "socket.h"
#include "wire.h"

#define MAX_SCANS 4 /* scans in flight at once, as serve */

typedef struct pull_scan {
    int active;
    char id[TL_WIRE_SCAN_ID_MAX];
    size_t frames;
    double bytes, t_start;
} pull_scan;

typedef struct pull_totals {
    size_t malformed, unknown, refused;
    double t_first, cpu_first; /* at the first scan-start */
    double t_last, cpu_last;   /* at the latest scan-end */
} pull_totals;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_pull --listen ENDPOINT [--scans K]\n"
                 "       bench_pull --read FILE\n"
                 "  binds a ZeroMQ PULL socket at ENDPOINT (e.g. tcp://127.0.0.1:5555), takes K scans\n"
                 "  (default 1) in stream protocol 1 and prints, per scan, its frames, bytes and rate\n"
                 "  from scan-start to scan-end; then its peak memory and CPU time.\n"
                 "  --read FILE: reads FILE's frames as 'tomoline send' does, no socket: the sender's own rate.\n");
}

/* The sender's work without its socket: send.c's loop (darks, flats before,
 * projections, flats after; one frame read and converted at a time). */
static int read_like_send(const char *path)
{
    tl_error err = {0};
    tl_scan *scan = NULL;
    double t_open = tl_now();
    if (tl_scan_open(path, &scan, &err) != TL_OK) {
        fprintf(stderr, "bench_pull: error: --read %s: %s\n", path, err.message);
        return 1;
    }
    t_open = tl_now() - t_open;
    const tl_scan_info *info = tl_scan_get_info(scan);
    int exact_counts = !info->normalized && (strcmp(info->pixel_type, "uint16") == 0 ||
                                             strcmp(info->pixel_type, "uint8") == 0);
    size_t plane = info->n_rows * info->n_cols, value_size = exact_counts ? 2 : 4;
    float *frame = malloc(plane * sizeof *frame);
    void *payload = malloc(plane * value_size);
    if (!frame || !payload) {
        fprintf(stderr, "bench_pull: error: --read %s: cannot allocate a frame of %zu x %zu\n", path, info->n_rows,
                info->n_cols);
        free(frame);
        free(payload);
        tl_scan_close(&scan);
        return 1;
    }
    tl_frame_group order[4];
    tl_scan_acquisition_order(info, order);
    size_t frames = 0;
    double t0 = tl_now(), cpu0 = cpu_seconds();
    for (int part = 0; part < 4; part++)
        for (size_t i = 0; i < order[part].count; i++) {
            if (tl_scan_read_frames(scan, order[part].key, order[part].first + i, 1, 0, info->n_rows, frame, &err) !=
                TL_OK) {
                fprintf(stderr, "bench_pull: error: --read %s: %s\n", path, err.message);
                free(frame);
                free(payload);
                tl_scan_close(&scan);
                return 1;
            }
            if (exact_counts) {
                uint16_t *out = payload;
                for (size_t p = 0; p < plane; p++) {
                    float v = frame[p];
                    out[p] = (uint16_t)(v <= 0.0f ? 0 : v >= 65535.0f ? 65535 : (unsigned)lrintf(v));
                }
            } else {
                memcpy(payload, frame, plane * sizeof(float));
            }
            frames++;
        }
    double secs = tl_now() - t0, cpu = cpu_seconds() - cpu0, bytes = (double)frames * (double)(plane * value_size);
    printf("bench_pull: read '%s': %zu frames, %.0f bytes in %.3f s (%.1f frames/s, %.1f MB/s)\n", path, frames, bytes,
           secs, secs > 0 ? (double)frames / secs : 0.0, secs > 0 ? bytes / secs / 1e6 : 0.0);
    printf("bench_pull: opening took %.3f s; CPU %.2f s in the %.3f s of reading; peak RSS %.1f MiB\n", t_open, cpu,
           secs, (double)tl_bench_peak_rss() / (1024.0 * 1024.0));
    free(frame);
    free(payload);
    tl_scan_close(&scan);
    return 0;
}

static pull_scan *find_scan(pull_scan *scans, const char *id)
{
    for (int i = 0; i < MAX_SCANS; i++)
        if (scans[i].active && strcmp(scans[i].id, id) == 0)
            return &scans[i];
    return NULL;
}

/* One decoded message: start, count or finish a scan. Returns 1 when a scan
 * ended (its line printed). */
static int take_message(pull_scan *scans, const tl_wire_msg *m, size_t n_parts, size_t payload_bytes,
                        pull_totals *totals)
{
    double now = tl_now();
    pull_scan *s = find_scan(scans, m->scan);
    switch (m->type) {
    case TL_WIRE_SCAN_START:
        if (s) {
            totals->malformed++; /* a second scan-start for a scan in progress, as serve counts it */
            return 0;
        }
        for (int i = 0; i < MAX_SCANS && !s; i++)
            if (!scans[i].active)
                s = &scans[i];
        if (!s) {
            totals->refused++;
            return 0;
        }
        *s = (pull_scan){.active = 1, .t_start = now};
        if (totals->t_first == 0) {
            totals->t_first = now;
            totals->cpu_first = cpu_seconds();
        }
        snprintf(s->id, sizeof s->id, "%s", m->scan);
        return 0;
    case TL_WIRE_FRAME:
        if (!s) {
            totals->unknown++;
            return 0;
        }
        s->frames++;
        s->bytes += n_parts > 1 ? (double)payload_bytes : 0.0;
        return 0;
    case TL_WIRE_SCAN_END: {
        if (!s) {
            totals->unknown++;
            return 0;
        }
        double secs = now - s->t_start;
        printf("bench_pull: scan '%s': %zu frames, %.0f bytes in %.3f s (%.1f frames/s, %.1f MB/s)\n", s->id,
               s->frames, s->bytes, secs, secs > 0 ? (double)s->frames / secs : 0.0,
               secs > 0 ? s->bytes / secs / 1e6 : 0.0);
        if ((uint64_t)s->frames != m->frames_sent)
            printf("bench_pull: scan '%s': the sender says it sent %llu frames, %zu arrived\n", s->id,
                   (unsigned long long)m->frames_sent, s->frames);
        fflush(stdout);
        s->active = 0;
        totals->t_last = now;
        totals->cpu_last = cpu_seconds();
        return 1;
    }
    case TL_WIRE_ABORT:
        if (s)
            s->active = 0;
        return 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen = NULL;
    long n_scans = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--read") == 0 && i + 1 < argc) {
            return read_like_send(argv[i + 1]);
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--scans") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            n_scans = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || n_scans < 1 || n_scans > 1000000) {
                fprintf(stderr, "bench_pull: error: --scans %s: not a whole number of scans (allowed: 1..1000000)\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "bench_pull: error: %s: unknown option or missing value (allowed: --listen ENDPOINT, "
                            "--scans K, --read FILE, --help)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!listen) {
        usage(stderr);
        return 2;
    }

    /* serve's message limit: its frame limit (default 256 MiB, at least 16 MiB
     * for long scan-start headers); the high-water mark left at ZeroMQ's */
    tl_wire_limits lim;
    tl_wire_limits_default(&lim);
    int64_t max_msg = lim.max_frame_bytes > (16u << 20) ? (int64_t)lim.max_frame_bytes : (int64_t)(16u << 20);
    int zero = 0;
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_PULL) : NULL;
    if (!sock) {
        fprintf(stderr, "bench_pull: error: cannot create a ZeroMQ socket: %s\n", zmq_strerror(errno));
        return 1;
    }
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(sock, listen) != 0) {
        fprintf(stderr, "bench_pull: error: --listen '%s': %s (allowed: tcp://HOST:PORT, ipc://PATH, ...)\n", listen,
                zmq_strerror(errno));
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("bench_pull: listening on %s\n", listen);
    fflush(stdout);

    pull_scan scans[MAX_SCANS];
    memset(scans, 0, sizeof scans);
    pull_totals totals = {0};
    long done = 0;
    while (!stop_requested && done < n_scans) {
        zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 200) <= 0)
            continue;
        /* one message: keep the first two parts, count the rest (as serve) */
        zmq_msg_t parts[2];
        size_t n_parts = tl_socket_recv_message(sock, parts);
        if (n_parts == 0)
            continue;
        tl_wire_msg m;
        tl_error err = {0};
        if (tl_wire_decode(zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), &lim, &m, &err) != TL_OK) {
            totals.malformed++;
        } else {
            done += take_message(scans, &m, n_parts, n_parts > 1 ? zmq_msg_size(&parts[1]) : 0, &totals);
            tl_wire_msg_free(&m);
        }
        for (size_t i = 0; i < n_parts && i < 2; i++)
            zmq_msg_close(&parts[i]);
    }
    if (done < n_scans)
        printf("bench_pull: stopped after %ld of %ld scans\n", done, n_scans);
    if (totals.malformed || totals.unknown || totals.refused)
        printf("bench_pull: dropped: malformed %zu, unknown-scan %zu, over-limit %zu\n", totals.malformed,
               totals.unknown, totals.refused);
    /* CPU of all threads (ZeroMQ's I/O thread included) from the first
     * scan-start to the last scan-end */
    double wall = totals.t_last - totals.t_first, cpu = totals.cpu_last - totals.cpu_first;
    if (totals.t_last > 0)
        printf("bench_pull: peak RSS %.1f MiB; CPU %.2f s in %.3f s of scans (%.0f%% of one core)\n",
               (double)tl_bench_peak_rss() / (1024.0 * 1024.0), cpu, wall, wall > 0 ? 100.0 * cpu / wall : 0.0);
    else
        printf("bench_pull: peak RSS %.1f MiB\n", (double)tl_bench_peak_rss() / (1024.0 * 1024.0));
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return done == n_scans ? 0 : 1;
}
