/* test_serve.c - the service end to end on loopback (issue 6): `tomoline serve`
 * in the background, `tomoline send` of a simulated scan -> OUT/<name>.nxs equal
 * to the batch recon of the same file; then a raw ZeroMQ peer sends hostile
 * messages (garbage, bad JSON, a frame before scan-start, a payload of the wrong
 * size, a scan over the limits, duplicate frames, an aborted scan, a scan that
 * ends with frames missing): the service stays up, counts each, writes no file
 * for the bad scans, and reconstructs the next good scan; a scan whose name is
 * taken goes beside the existing volume; SIGTERM stops it with exit status 0. Everything is bounded in time (serve runs under `timeout`). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "support.h"
#include "volume.h"
#include "wire.h"

static char dir[4096];
static void make_dir(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }
TestSuite(serve, .init = make_dir, .timeout = 240);

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static int file_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

static int wait_for(const char *path, const char *text, double seconds)
{
    for (double t = 0; t < seconds; t += 0.1, sleep_s(0.1))
        if (text ? file_has(path, text) : tl_test_file_exists(path))
            return 1;
    return 0;
}

static int free_port(void)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PULL);
    zmq_bind(s, "tcp://127.0.0.1:*");
    char ep[256];
    size_t len = sizeof ep;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return atoi(strrchr(ep, ':') + 1);
}

static void push(void *sock, const char *header, const void *payload, size_t size)
{
    cr_assert_geq(zmq_send(sock, header, strlen(header), payload ? ZMQ_SNDMORE : 0), 0);
    if (payload)
        cr_assert_geq(zmq_send(sock, payload, size, 0), 0);
}

Test(serve, send_then_hostile_messages_then_a_good_scan)
{
    char scan[4200], out[4200], log[4200], pidfile[4200], cmd[16384];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(log, sizeof log, "%s/serve.log", dir);
    snprintf(pidfile, sizeof pidfile, "%s/serve.pid", dir);
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 48 --angles 60 --slices 3 --photons 20000 --quiet", scan);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", out);
    cr_assert_eq(system(cmd), 0);
    int port = free_port();
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    const char *opts = "--rotation-axis 23.5 --threads 2";
    char status[4200];
    snprintf(status, sizeof status, "%s/serve.status", dir);
    snprintf(cmd, sizeof cmd,
             "( timeout -s TERM 200 '%s' serve --listen %s -o '%s' %s --max-frame-bytes 100000 --scan-timeout 3 "
             ">'%s' 2>&1 & echo $! > '%s'; wait $!; echo \"exit status $?\" > '%s' ) >/dev/null 2>&1 &",
             TL_TEST_EXE, endpoint, out, opts, log, pidfile, status);
    cr_assert_eq(system(cmd), 0);
    cr_assert(wait_for(log, "tomoline serve: listening on", 20), "serve did not start");
    cr_assert(wait_for(pidfile, NULL, 5));
    FILE *pf = fopen(pidfile, "r");
    long pid = 0;
    cr_assert_eq(fscanf(pf, "%ld", &pid), 1);
    fclose(pf);

    /* 1. a good scan through send, equal to the batch recon */
    tl_test_run(&r, "send '%s' --connect %s --name 'first/../scan' --quiet", scan, endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    char first[4200], batch[4200];
    snprintf(first, sizeof first, "%s/first_.._scan.nxs", out);
    cr_assert(wait_for(first, NULL, 60), "no %s; log:\n%s", first, log);
    snprintf(batch, sizeof batch, "%s/batch.nxs", dir);
    tl_test_run(&r, "recon '%s' -o '%s' %s --quiet", scan, batch, opts);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    float *a = NULL, *b = NULL;
    size_t z, y, x, z2, y2, x2;
    tl_error err = {0};
    cr_assert_eq(tl_volume_read(first, &a, &z, &y, &x, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_volume_read(batch, &b, &z2, &y2, &x2, &err), TL_OK, "%s", err.message);
    cr_assert_eq(z * y * x, z2 * y2 * x2);
    for (size_t i = 0; i < z * y * x; i++)
        cr_assert_float_eq(a[i], b[i], 1e-5, "voxel %zu: served %g, batch %g", i, a[i], b[i]);
    free(a), free(b);

    /* 2. hostile messages from a raw peer */
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 2000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(sock, endpoint), 0);
    uint16_t px[2 * 4] = {100, 200, 300, 400, 500, 600, 700, 800};
    push(sock, "\x01\x02garbage", NULL, 0);
    push(sock, "{\"protocol\":1,\"type\":", NULL, 0);
    push(sock, "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"ghost\",\"index\":0,\"image_key\":2,\"rows\":2,\"cols\":4,"
               "\"dtype\":\"uint16\"}", px, sizeof px);
    push(sock, "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"huge\",\"rows\":1000,\"cols\":1000,\"dtype\":\"uint16\","
               "\"projections\":2,\"start_angle\":0,\"angle_step\":90}", NULL, 0);
    const char *start = "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"%s\",\"rows\":2,\"cols\":4,\"dtype\":"
                        "\"uint16\",\"projections\":2,\"flats\":1,\"darks\":1,\"start_angle\":0,\"angle_step\":90}";
    const char *frame = "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"%s\",\"index\":%d,\"image_key\":%d,%s\"rows\":2,"
                        "\"cols\":4,\"dtype\":\"uint16\"}";
    char h[1024];
    /* a scan with a short payload, a duplicate, then scan-end with a frame missing */
    snprintf(h, sizeof h, start, "short");
    push(sock, h, NULL, 0);
    snprintf(h, sizeof h, frame, "short", 0, 2, "");
    push(sock, h, px, sizeof px - 2);
    push(sock, h, px, sizeof px);
    push(sock, h, px, sizeof px);
    push(sock, "{\"protocol\":1,\"type\":\"scan-end\",\"scan\":\"short\",\"frames\":4}", NULL, 0);
    /* an aborted scan */
    snprintf(h, sizeof h, start, "aborted");
    push(sock, h, NULL, 0);
    push(sock, "{\"protocol\":1,\"type\":\"abort\",\"scan\":\"aborted\",\"reason\":\"beam lost\"}", NULL, 0);
    /* a scan whose sender disappears (--scan-timeout 3) */
    snprintf(h, sizeof h, start, "vanished");
    push(sock, h, NULL, 0);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    cr_assert(wait_for(log, "scan 'vanished' discarded: no message for --scan-timeout 3 s", 30), "no timeout");

    /* 3. the next good scan is reconstructed */
    tl_test_run(&r, "send '%s' --connect %s --name second --quiet", scan, endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    char second[4200];
    snprintf(second, sizeof second, "%s/second.nxs", out);
    cr_assert(wait_for(second, NULL, 60), "the service did not reconstruct the scan after the hostile ones");

    /* 4. the same name again: the first volume is kept, the new one goes beside it */
    tl_test_run(&r, "send '%s' --connect %s --name second --quiet", scan, endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    char again[4200];
    snprintf(again, sizeof again, "%s/second_2.nxs", out);
    cr_assert(wait_for(again, NULL, 60), "a second scan named 'second' did not go to %s", again);

    kill((pid_t)pid, SIGTERM);
    cr_assert(wait_for(status, "exit status", 20), "serve did not stop on SIGTERM");
    cr_expect(file_has(status, "exit status 0"), "serve's exit status is not 0");
    cr_expect(!file_has(log, "Sanitizer"), "a sanitizer report in %s", log);
    cr_expect(file_has(log, "malformed 2, bad-payload 1, unknown-scan 1, bad-shape 0, duplicate 1, over-count 0, "
                            "over-limit 1, out-of-order 0, timed-out 1, aborted 1, incomplete 1, failed 0, "
                            "reconstructed 3"),
              "counts in %s", log);
    cr_expect(file_has(log, "scan 'huge' refused: a frame of 1000 x 1000 uint16 is 2000000 bytes, more than "
                            "--max-frame-bytes 100000"),
              "over-limit reason");
    cr_expect(file_has(log, "frame 0 of scan 'short': 14 bytes of pixels, but its header says 2 x 4 uint16 = 16 bytes"),
              "payload reason");
    cr_expect(file_has(log, "scan 'aborted' discarded: the sender aborted it (beam lost)"), "abort reason");
    cr_expect(file_has(log, "scan 'short' discarded: scan-end after 4 frames sent, 3 missing"), "incomplete reason");
    /* the bad scans left no file, and no incoming file is left behind */
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 3", out);
    cr_expect_eq(system(cmd), 0, "only the three good volumes in %s", out);
}
