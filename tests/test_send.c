/* test_send.c - `tomoline send` replays a scan over the stream protocol: a raw
 * ZeroMQ PULL peer on loopback receives scan-start with the file's shape,
 * counts and angles, every frame in order (darks, flats, projections) with the
 * file's exact counts as pixels, and scan-end with the frame count; a missing
 * receiver is an error, not a silent success. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "scan.h"
#include "support.h"
#include "wire.h"

static char dir[4096];
static void make_dir(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }
TestSuite(send, .init = make_dir);

/* One message: its parts, concatenated per part. */
typedef struct message {
    size_t n_parts;
    size_t size[3];
    unsigned char *data[3];
} message;

static int receive(void *sock, message *m)
{
    memset(m, 0, sizeof *m);
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, 0) < 0) {
            zmq_msg_close(&part);
            return 0;
        }
        if (m->n_parts < 3) {
            m->size[m->n_parts] = zmq_msg_size(&part);
            m->data[m->n_parts] = malloc(zmq_msg_size(&part) + 1);
            memcpy(m->data[m->n_parts], zmq_msg_data(&part), zmq_msg_size(&part));
        }
        m->n_parts++;
        int more = zmq_msg_more(&part);
        zmq_msg_close(&part);
        if (!more)
            return 1;
    }
}

static void message_free(message *m)
{
    for (int i = 0; i < 3; i++)
        free(m->data[i]);
}

Test(send, replays_a_scan_frame_by_frame)
{
    char scan_path[4200];
    snprintf(scan_path, sizeof scan_path, "%s/s.nxs", dir);
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 24 --angles 30 --slices 3 --flats 4 --darks 2 --photons 5000 --quiet",
                scan_path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);

    void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
    int timeout = 10000, zero = 0;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq(zmq_bind(pull, "tcp://127.0.0.1:*"), 0);
    char endpoint[256];
    size_t len = sizeof endpoint;
    zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, endpoint, &len);

    tl_test_run(&r, "send '%s' --connect %s --name 'my scan' --send-timeout 10 --quiet", scan_path, endpoint);
    cr_assert_eq(r.exit_code, 0, "send failed: %s", r.err);
    cr_expect(strstr(r.out, "36 frames to"), "%s", r.out);

    tl_scan *scan = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_scan_open(scan_path, &scan, &err), TL_OK, "%s", err.message);
    const tl_scan_info *info = tl_scan_get_info(scan);
    size_t plane = info->n_rows * info->n_cols;
    float *expect = malloc(plane * sizeof *expect);

    message m;
    tl_wire_msg w;
    cr_assert(receive(pull, &m), "no scan-start arrived");
    cr_assert_eq(tl_wire_decode(m.data[0], m.size[0], NULL, &w, &err), TL_OK, "%s", err.message);
    cr_assert_eq(w.type, TL_WIRE_SCAN_START);
    cr_assert_eq(w.start.rows, 3);
    cr_assert_eq(w.start.cols, 24);
    cr_assert_eq(w.start.dtype, TL_WIRE_UINT16);
    cr_assert_eq(w.start.n_proj, 30);
    cr_assert_eq(w.start.n_flat, 4);
    cr_assert_eq(w.start.n_dark, 2);
    cr_assert_str_eq(w.start.name, "my scan");
    for (size_t i = 0; i < 30; i++)
        cr_assert_eq(w.start.angles[i], info->angles_deg[i]);
    char scan_id[TL_WIRE_SCAN_ID_MAX];
    snprintf(scan_id, sizeof scan_id, "%s", w.scan);
    tl_wire_msg_free(&w);
    message_free(&m);

    /* darks, flats, projections, in order, with the file's counts */
    const int keys[3] = {TL_KEY_DARK, TL_KEY_FLAT, TL_KEY_PROJECTION};
    const size_t counts[3] = {2, 4, 30};
    uint64_t index = 0;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < counts[k]; i++, index++) {
            cr_assert(receive(pull, &m), "frame %llu did not arrive", (unsigned long long)index);
            cr_assert_eq(tl_wire_decode(m.data[0], m.size[0], NULL, &w, &err), TL_OK, "%s", err.message);
            cr_assert_eq(w.type, TL_WIRE_FRAME);
            cr_assert_str_eq(w.scan, scan_id);
            cr_assert_eq(w.frame.index, index);
            cr_assert_eq(w.frame.image_key, keys[k]);
            cr_assert_eq(tl_wire_check_parts(&w, m.n_parts, m.size[1], &err), TL_OK, "%s", err.message);
            if (keys[k] == TL_KEY_PROJECTION)
                cr_assert_eq(w.frame.angle, info->angles_deg[i]);
            else
                cr_assert(isnan(w.frame.angle));
            cr_assert_eq(tl_scan_read_frames(scan, keys[k], i, 1, 0, info->n_rows, expect, &err), TL_OK, "%s",
                         err.message);
            const unsigned char *px = m.data[1];
            for (size_t p = 0; p < plane; p++) {
                uint16_t v = (uint16_t)(px[2 * p] | (px[2 * p + 1] << 8)); /* little-endian */
                cr_assert_eq((float)v, expect[p], "frame %llu pixel %zu: sent %u, file %g",
                             (unsigned long long)index, p, v, expect[p]);
            }
            tl_wire_msg_free(&w);
            message_free(&m);
        }
    cr_assert(receive(pull, &m), "no scan-end arrived");
    cr_assert_eq(tl_wire_decode(m.data[0], m.size[0], NULL, &w, &err), TL_OK, "%s", err.message);
    cr_assert_eq(w.type, TL_WIRE_SCAN_END);
    cr_assert_eq(w.frames_sent, 36);
    tl_wire_msg_free(&w);
    message_free(&m);
    free(expect);
    tl_scan_close(&scan);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

Test(send, a_missing_receiver_is_an_error)
{
    char scan_path[4200];
    snprintf(scan_path, sizeof scan_path, "%s/m.nxs", dir);
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 16 --angles 10 --slices 2 --quiet", scan_path);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* a port on loopback where nothing listens: bind one, note it, close it */
    void *ctx = zmq_ctx_new(), *probe = zmq_socket(ctx, ZMQ_PULL);
    cr_assert_eq(zmq_bind(probe, "tcp://127.0.0.1:*"), 0);
    char endpoint[256];
    size_t len = sizeof endpoint;
    zmq_getsockopt(probe, ZMQ_LAST_ENDPOINT, endpoint, &len);
    zmq_close(probe);
    zmq_ctx_term(ctx);
    tl_test_run(&r, "send '%s' --connect %s --send-timeout 0.5", scan_path, endpoint);
    cr_expect_neq(r.exit_code, 0);
    cr_expect_eq(r.signaled, 0);
    cr_expect(strstr(r.err, "tomoline: error: --connect tcp://127.0.0.1:"), "%s", r.err);
    cr_expect(strstr(r.err, "no receiver took scan-start within --send-timeout 0.5 s"), "%s", r.err);
    tl_test_run(&r, "send '%s' --connect nonsense://x", scan_path);
    cr_expect_neq(r.exit_code, 0);
    cr_expect(strstr(r.err, "tomoline: error: --connect 'nonsense://x': "), "%s", r.err);
    tl_test_run(&r, "send");
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "tomoline: error: send needs one INPUT file"), "%s", r.err);
}
