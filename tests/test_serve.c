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

#include <hdf5.h>

#include "hdf5_util.h"
#include "json.h"
#include "support.h"
#include "volume.h"
#include "wire.h"

static char dir[4096];
static void make_dir(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }
TestSuite(serve, .init = make_dir, .timeout = 240);

static void push(void *sock, const char *header, const void *payload, size_t size)
{
    cr_assert_geq(zmq_send(sock, header, strlen(header), payload ? ZMQ_SNDMORE : 0), 0);
    if (payload)
        cr_assert_geq(zmq_send(sock, payload, size, 0), 0);
}

/* A `tomoline serve` in the background, under `timeout`. */
typedef struct service {
    char endpoint[64], out[4200], log[4200], status[4200];
    long pid;
} service;

static void start_service(service *sv, const char *name, const char *options)
{
    char pidfile[4200], cmd[16384];
    snprintf(sv->out, sizeof sv->out, "%s/%s", dir, name);
    snprintf(sv->log, sizeof sv->log, "%s/%s.log", dir, name);
    snprintf(sv->status, sizeof sv->status, "%s/%s.status", dir, name);
    snprintf(pidfile, sizeof pidfile, "%s/%s.pid", dir, name);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sv->out);
    cr_assert_eq(system(cmd), 0);
    snprintf(sv->endpoint, sizeof sv->endpoint, "tcp://127.0.0.1:%d", tl_test_free_port());
    snprintf(cmd, sizeof cmd,
             "( timeout -s TERM 200 '%s' serve --listen %s -o '%s' %s >'%s' 2>&1 & echo $! > '%s'; wait $!; "
             "echo \"exit status $?\" > '%s' ) >/dev/null 2>&1 &",
             TL_TEST_EXE, sv->endpoint, sv->out, options, sv->log, pidfile, sv->status);
    cr_assert_eq(system(cmd), 0);
    cr_assert(tl_test_wait_for(sv->log, "tomoline serve: listening on", 20), "serve did not start: %s", sv->log);
    cr_assert(tl_test_wait_for(pidfile, NULL, 5));
    FILE *pf = fopen(pidfile, "r");
    cr_assert_eq(fscanf(pf, "%ld", &sv->pid), 1);
    fclose(pf);
}

static void stop_service(service *sv)
{
    kill((pid_t)sv->pid, SIGTERM);
    cr_assert(tl_test_wait_for(sv->status, "exit status", 20), "serve did not stop on SIGTERM");
    cr_expect(tl_test_file_has(sv->status, "exit status 0"), "serve's exit status is not 0");
    cr_expect(!tl_test_file_has(sv->log, "Sanitizer"), "a sanitizer report in %s", sv->log);
}

static void simulate(const char *path)
{
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 48 --angles 60 --slices 3 --photons 20000 --quiet", path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
}

static void assert_volumes_equal(const char *a_path, const char *b_path, double tol)
{
    size_t z, y, x, z2, y2, x2;
    float *a = tl_test_read_volume(a_path, &z, &y, &x), *b = tl_test_read_volume(b_path, &z2, &y2, &x2);
    cr_assert(z == z2 && y == y2 && x == x2, "%s is %zu x %zu x %zu, %s is %zu x %zu x %zu", a_path, z, y, x, b_path,
              z2, y2, x2);
    for (size_t i = 0; i < z * y * x; i++)
        cr_assert_float_eq(a[i], b[i], tol, "voxel %zu: %s %g, %s %g", i, a_path, a[i], b_path, b[i]);
    free(a), free(b);
}

/* /entry/process/stream of a streamed volume, parsed. */
static tl_json *stream_report(const char *path)
{
    static char text[1 << 16];
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "cannot open %s", path);
    cr_assert_eq(tl_h5_read_string_dataset(f, "/entry/process/stream", text, sizeof text), 0,
                 "no /entry/process/stream in %s", path);
    H5Fclose(f);
    tl_json *v = calloc(1, sizeof *v);
    char why[200];
    cr_assert(tl_json_parse(text, v, why, sizeof why), "stream report: %s: %s", why, text);
    return v;
}

static double json_number(const tl_json *o, const char *key)
{
    const tl_json *v = tl_json_get(o, key);
    cr_assert(v && v->type == TL_JSON_NUMBER, "no number '%s' in the stream report", key);
    return v->number;
}

/* A small scan from the raw peer (2 x 48 pixels, 4 projections at 0, 45, 90,
 * 135 degrees) in the order given: 'd' dark, 'f' flat, '0'..'3' projections. */
static void push_small_scan(void *sock, const char *scan, const char *order, const uint16_t *px)
{
    char h[1024];
    snprintf(h, sizeof h,
             "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"%s\",\"rows\":2,\"cols\":48,\"dtype\":\"uint16\","
             "\"projections\":4,\"flats\":1,\"darks\":1,\"start_angle\":0,\"angle_step\":45}",
             scan);
    push(sock, h, NULL, 0);
    uint16_t frame[2 * 48];
    int index = 0;
    for (const char *o = order; *o; o++, index++) {
        int key = *o == 'd' ? 2 : *o == 'f' ? 1 : 0, p = key ? 0 : *o - '0';
        char angle[64] = "";
        for (int i = 0; i < 2 * 48; i++) /* dark 100, flat 2100, projections between */
            frame[i] = key == 2 ? 100 : key == 1 ? 2100 : (uint16_t)(px[i] + 150 * p);
        if (!key)
            snprintf(angle, sizeof angle, "\"angle\":%d,", 45 * p);
        snprintf(h, sizeof h,
                 "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"%s\",\"index\":%d,\"image_key\":%d,%s\"rows\":2,"
                 "\"cols\":48,\"dtype\":\"uint16\"}",
                 scan, index, key, angle);
        push(sock, h, frame, sizeof frame);
    }
    snprintf(h, sizeof h, "{\"protocol\":1,\"type\":\"scan-end\",\"scan\":\"%s\",\"frames\":%d}", scan, index);
    push(sock, h, NULL, 0);
}

Test(serve, send_then_hostile_messages_then_a_good_scan)
{
    char scan[4200], log[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    simulate(scan);
    const char *opts = "--rotation-axis 23.5 --threads 2";
    char options[512];
    snprintf(options, sizeof options, "%s --max-frame-bytes 100000 --scan-timeout 3", opts);
    service sv;
    start_service(&sv, "out", options);
    const char *endpoint = sv.endpoint, *out = sv.out;
    snprintf(log, sizeof log, "%s", sv.log);
    tl_test_run_result r;
    char cmd[16384];

    /* 1. a good scan through send, equal to the batch recon */
    tl_test_run(&r, "send '%s' --connect %s --name 'first/../scan' --quiet", scan, endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    char first[4200], batch[4200];
    snprintf(first, sizeof first, "%s/first_.._scan.nxs", out);
    cr_assert(tl_test_wait_for(first, NULL, 60), "no %s; log:\n%s", first, log);
    snprintf(batch, sizeof batch, "%s/batch.nxs", dir);
    tl_test_run(&r, "recon '%s' -o '%s' %s --quiet", scan, batch, opts);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    assert_volumes_equal(first, batch, 1e-5);
    tl_json *rep = stream_report(first);
    cr_expect_eq(json_number(tl_json_get(rep, "frames"), "projections"), 60);
    cr_expect_eq(json_number(tl_json_get(rep, "frames"), "flats"), 10);
    cr_expect_eq(json_number(tl_json_get(rep, "frames"), "darks"), 10);
    tl_json_free(rep);
    free(rep);

    /* 2. hostile messages from a raw peer */
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 2000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(sock, endpoint), 0);
    /* 2 x 48 pixels: as wide as the good scans, so --rotation-axis 23.5 fits them */
    uint16_t px[2 * 48];
    for (int i = 0; i < 2 * 48; i++)
        px[i] = (uint16_t)(1000 + 7 * i);
    push(sock, "\x01\x02garbage", NULL, 0);
    push(sock, "{\"protocol\":1,\"type\":", NULL, 0);
    push(sock, "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"ghost\",\"index\":0,\"image_key\":2,\"rows\":2,\"cols\":48,"
               "\"dtype\":\"uint16\"}", px, sizeof px);
    push(sock, "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"huge\",\"rows\":1000,\"cols\":1000,\"dtype\":\"uint16\","
               "\"projections\":2,\"start_angle\":0,\"angle_step\":90}", NULL, 0);
    const char *start = "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"%s\",\"rows\":2,\"cols\":48,\"dtype\":"
                        "\"uint16\",\"projections\":2,\"flats\":1,\"darks\":1,\"start_angle\":0,\"angle_step\":90}";
    const char *frame = "{\"protocol\":1,\"type\":\"frame\",\"scan\":\"%s\",\"index\":%d,\"image_key\":%d,%s\"rows\":2,"
                        "\"cols\":48,\"dtype\":\"uint16\"}";
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
    /* the same small scan in order, and shuffled with the flat after projections:
     * placed by angle, normalized at the end, the same volume */
    push_small_scan(sock, "ordered", "df0123", px);
    push_small_scan(sock, "shuffled", "d20f31", px);
    /* a scan whose sender disappears (--scan-timeout 3) */
    snprintf(h, sizeof h, start, "vanished");
    push(sock, h, NULL, 0);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    cr_assert(tl_test_wait_for(log, "scan 'vanished' discarded: no message for --scan-timeout 3 s", 30), "no timeout");
    char ordered[4200], shuffled[4200];
    snprintf(ordered, sizeof ordered, "%s/ordered.nxs", out);
    snprintf(shuffled, sizeof shuffled, "%s/shuffled.nxs", out);
    cr_assert(tl_test_wait_for(shuffled, NULL, 30) && tl_test_wait_for(ordered, NULL, 30), "no %s or %s", ordered, shuffled);
    assert_volumes_equal(shuffled, ordered, 1e-6);
    rep = stream_report(shuffled);
    /* the flat came after projections: every projection waits for the end of the scan */
    cr_expect_eq(json_number(rep, "deferred_projections"), 4);
    cr_expect_eq(json_number(tl_json_get(rep, "faults"), "out-of-order"), 4, "none arrived at its place");
    tl_json_free(rep);
    free(rep);

    /* 3. the next good scan is reconstructed */
    tl_test_run(&r, "send '%s' --connect %s --name second --quiet", scan, endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    char second[4200];
    snprintf(second, sizeof second, "%s/second.nxs", out);
    cr_assert(tl_test_wait_for(second, NULL, 60), "the service did not reconstruct the scan after the hostile ones");

    /* 4. the same name again: the first volume is kept, the new one goes beside it */
    tl_test_run(&r, "send '%s' --connect %s --name second --quiet", scan, endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    char again[4200];
    snprintf(again, sizeof again, "%s/second_2.nxs", out);
    cr_assert(tl_test_wait_for(again, NULL, 60), "a second scan named 'second' did not go to %s", again);

    stop_service(&sv);
    cr_expect(tl_test_file_has(log, "malformed 2, bad-payload 1, unknown-scan 1, bad-shape 0, duplicate 1, over-count 0, "
                            "over-limit 1, out-of-order 4, timed-out 1, aborted 1, incomplete 1, failed 0, "
                            "reconstructed 5"),
              "counts in %s", log);
    cr_expect(tl_test_file_has(log, "scan 'huge' refused: a frame of 1000 x 1000 uint16 is 2000000 bytes, more than "
                            "--max-frame-bytes 100000"),
              "over-limit reason");
    cr_expect(tl_test_file_has(log, "frame 0 of scan 'short': 190 bytes of pixels, but its header says 2 x 48 uint16 = 192 bytes"),
              "payload reason");
    cr_expect(tl_test_file_has(log, "scan 'aborted' discarded: the sender aborted it (beam lost)"), "abort reason");
    cr_expect(tl_test_file_has(log, "scan 'short' discarded: scan-end after 4 frames sent, 3 missing"), "incomplete reason");
    /* the bad scans left no file */
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 5", out);
    cr_expect_eq(system(cmd), 0, "only the five good volumes in %s", out);
}

/* The filter stage made slow (--stage-delay): the sender is faster than the
 * pipeline; the frame queue stays within --frame-buffers, the receiver waits
 * (backpressure), no frame is lost and the volume equals the batch recon. */
Test(serve, a_slow_stage_holds_the_queue_limit)
{
    char scan[4200], batch[4200], vol[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(batch, sizeof batch, "%s/batch.nxs", dir);
    simulate(scan);
    service sv;
    start_service(&sv, "slow", "--rotation-axis 23.5 --threads 2 --stage-delay 0.03 --frame-buffers 4");
    tl_test_run_result r;
    tl_test_run(&r, "send '%s' --connect %s --name slow --quiet", scan, sv.endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    snprintf(vol, sizeof vol, "%s/slow.nxs", sv.out);
    cr_assert(tl_test_wait_for(vol, NULL, 60), "no %s", vol);
    tl_test_run(&r, "recon '%s' -o '%s' --rotation-axis 23.5 --quiet", scan, batch);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    assert_volumes_equal(vol, batch, 1e-5);
    tl_json *rep = stream_report(vol);
    cr_expect_leq(json_number(rep, "queue_high_water"), 4);
    cr_expect_eq(json_number(rep, "frame_buffers"), 4);
    /* without backpressure it would be 0; a sender slowed by a loaded machine gives fewer waits */
    cr_expect_gt(json_number(rep, "receive_waits"), 20, "the receiver should have waited for many frames (waited %g "
                 "times, queue high water %g)",
                 json_number(rep, "receive_waits"), json_number(rep, "queue_high_water"));
    const tl_json *frames = tl_json_get(rep, "frames");
    cr_expect_eq(json_number(frames, "projections") + json_number(frames, "flats") + json_number(frames, "darks"), 80,
                 "no frame lost");
    tl_json_free(rep);
    free(rep);
    stop_service(&sv);
}

/* --preview-publish: a viewer on a SUB socket sees the volume grow, and the
 * last z cut is the central slice of the written volume. */
Test(serve, live_preview_of_the_growing_volume)
{
    char scan[4200], vol[4200], options[512];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    simulate(scan);
    char pub[64];
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", tl_test_free_port());
    snprintf(options, sizeof options,
             "--rotation-axis 23.5 --threads 2 --preview-publish %s --preview-every 10 --stage-delay 0.002", pub);
    service sv;
    start_service(&sv, "preview", options);
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "{\"type\":\"preview\"", 17), 0);
    int timeout_ms = 200;
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    cr_assert_eq(zmq_connect(sub, pub), 0);
    tl_test_sleep(0.5); /* the subscription reaches the publisher */
    tl_test_run_result r;
    tl_test_run(&r, "send '%s' --connect %s --name live --quiet", scan, sv.endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    snprintf(vol, sizeof vol, "%s/live.nxs", sv.out);
    cr_assert(tl_test_wait_for(vol, NULL, 60), "no %s", vol);
    static float last_z[48 * 48];
    int n_z = 0, n_y = 0, n_x = 0, final_z = 0;
    double last_done = -1;
    for (int tries = 0; tries < 50; tries++) {
        char header[1024];
        int n = zmq_recv(sub, header, sizeof header - 1, 0);
        if (n < 0)
            break;
        header[n] = '\0';
        cr_assert(zmq_getsockopt(sub, ZMQ_RCVMORE, &(int){0}, &(size_t){sizeof(int)}) == 0);
        tl_json h;
        char why[200];
        cr_assert(tl_json_parse(header, &h, why, sizeof why), "%s: %s", why, header);
        char cut = tl_json_get(&h, "cut")->text[0];
        double rows = json_number(&h, "rows"), cols = json_number(&h, "cols"), done = json_number(&h, "projections_done");
        cr_expect_eq(json_number(&h, "projections"), 60);
        cr_expect_str_eq(tl_json_get(&h, "dtype")->text, "float32");
        static float pixels[48 * 48];
        int bytes = zmq_recv(sub, pixels, sizeof pixels, 0);
        cr_assert_eq(bytes, (int)(rows * cols * 4), "%s: %d bytes", header, bytes);
        if (cut == 'z') {
            n_z++;
            cr_expect(rows == 48 && cols == 48, "z cut %g x %g", rows, cols);
            cr_expect_geq(done, last_done, "previews go forward");
            last_done = done;
            if (done == 60) {
                final_z = 1;
                memcpy(last_z, pixels, sizeof last_z);
            }
        } else {
            cr_expect(rows == 3 && cols == 48, "%c cut %g x %g", cut, rows, cols);
            n_y += cut == 'y';
            n_x += cut == 'x';
        }
        tl_json_free(&h);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    cr_expect_geq(n_z, 2, "the volume should be seen growing: %d z previews", n_z);
    cr_expect_eq(n_y, n_z);
    cr_expect_eq(n_x, n_z);
    cr_assert(final_z, "no preview of the finished volume");
    size_t z, y, x;
    float *v = tl_test_read_volume(vol, &z, &y, &x);
    for (size_t i = 0; i < 48 * 48; i++)
        cr_assert_float_eq(last_z[i], v[(z / 2) * 48 * 48 + i], 1e-6, "pixel %zu of the last z preview", i);
    free(v);
    stop_service(&sv);
}

/* CURVE: an allowed client's scan is reconstructed; a client whose key is not
 * allowed, and a client without CURVE, get nothing through. */
Test(serve, curve_admits_allowed_clients_only)
{
    char scan[4200], keys[4200], allowed[4200], cmd[16384], options[16384];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    simulate(scan);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    snprintf(allowed, sizeof allowed, "%s/allowed", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s'", keys, allowed);
    cr_assert_eq(system(cmd), 0);
    tl_test_run_result r;
    const char *who[] = {"server", "beamline", "intruder"};
    for (int i = 0; i < 3; i++) {
        tl_test_run(&r, "keygen '%s/%s'", keys, who[i]);
        cr_assert_eq(r.exit_code, 0, "keygen: %s", r.err);
    }
    snprintf(cmd, sizeof cmd, "cp '%s/beamline.public' '%s/'", keys, allowed);
    cr_assert_eq(system(cmd), 0);
    snprintf(options, sizeof options,
             "--rotation-axis 23.5 --threads 2 --curve-secret-key '%s/server.secret' --curve-allowed-keys '%s'", keys,
             allowed);
    service sv;
    start_service(&sv, "curve", options);
    tl_test_run(&r, "send '%s' --connect %s --name admitted --curve-server-key '%s/server.public' "
                    "--curve-client-key '%s/beamline.secret' --quiet",
                scan, sv.endpoint, keys, keys);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    char vol[4200];
    snprintf(vol, sizeof vol, "%s/admitted.nxs", sv.out);
    cr_assert(tl_test_wait_for(vol, NULL, 60), "the allowed client's scan was not reconstructed");
    tl_json *rep = stream_report(vol);
    const tl_json *client = tl_json_get(rep, "client");
    cr_expect(client && client->type == TL_JSON_STRING && strcmp(client->text, "beamline") == 0,
              "the provenance names the client key that sent the scan");
    tl_json_free(rep);
    free(rep);
    tl_test_run(&r, "send '%s' --connect %s --name refused --curve-server-key '%s/server.public' "
                    "--curve-client-key '%s/intruder.secret' --send-timeout 2 --quiet",
                scan, sv.endpoint, keys, keys);
    cr_expect_neq(r.exit_code, 0, "a client with a key not allowed could send");
    cr_expect(strstr(r.err, "no receiver took") != NULL, "send's error: %s", r.err);
    tl_test_run(&r, "send '%s' --connect %s --name plain --send-timeout 2 --quiet", scan, sv.endpoint);
    cr_expect_neq(r.exit_code, 0, "a client without CURVE could send");
    tl_test_sleep(1);
    stop_service(&sv);
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", sv.out);
    cr_expect_eq(system(cmd), 0, "only the admitted volume in %s", sv.out);
    cr_expect(tl_test_file_has(sv.log, "serve: CURVE: refused client"), "no refusal in %s", sv.log);
    cr_expect(tl_test_file_has(sv.log, "reconstructed 1, clients refused "), "summary in %s", sv.log);
}

/* --rotation-axis auto and ring removal: the axis search and the rings run at
 * scan-end on what the stages kept, and the volume equals the batch recon's. */
static void served_equals_batch(const char *opts)
{
    char scan[4200], batch[4200], vol[4200];
    snprintf(scan, sizeof scan, "%s/scan.nxs", dir);
    snprintf(batch, sizeof batch, "%s/batch.nxs", dir);
    simulate(scan);
    service sv;
    start_service(&sv, "auto", opts);
    tl_test_run_result r;
    tl_test_run(&r, "send '%s' --connect %s --name auto --quiet", scan, sv.endpoint);
    cr_assert_eq(r.exit_code, 0, "send: %s", r.err);
    snprintf(vol, sizeof vol, "%s/auto.nxs", sv.out);
    cr_assert(tl_test_wait_for(vol, NULL, 60), "no %s", vol);
    tl_test_run(&r, "recon '%s' -o '%s' %s --quiet", scan, batch, opts);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    assert_volumes_equal(vol, batch, 1e-5);
    cr_expect(tl_test_file_has(sv.log, "rotation axis 23.5"), "the searched axis in %s", sv.log);
    stop_service(&sv);
}

Test(serve, auto_axis_and_ring_removal_equal_batch)
{
    served_equals_batch("--rotation-axis auto --remove-stripe-method fw --threads 2");
}

/* gridrec: the stages keep the sinograms unfiltered and grid them at scan-end. */
Test(serve, gridrec_equals_batch)
{
    served_equals_batch("--rotation-axis auto --reconstruction-algorithm gridrec --threads 2");
}
