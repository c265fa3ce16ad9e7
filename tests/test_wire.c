/* test_wire.c - the stream protocol's headers (acquire/wire.h, docs/protocol.md):
 * every message survives encode -> decode; every malformed header is refused
 * with its exact reason; limits hold before allocation; names are sanitised. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static tl_status decode_text(const char *text, tl_wire_msg *m, tl_error *err)
{
    return tl_wire_decode(text, strlen(text), NULL, m, err);
}

static void refused(const char *text, const char *message)
{
    tl_wire_msg m;
    tl_error err = {0};
    cr_assert_eq(decode_text(text, &m, &err), TL_ERR_DATA, "accepted: %s", text);
    cr_expect_str_eq(err.message, message, "for %s", text);
    tl_wire_msg_free(&m);
}

Test(wire, scan_start_round_trip)
{
    double angles[3] = {0.0, 0.12345678901234567, 179.5};
    tl_wire_msg m = {.type = TL_WIRE_SCAN_START};
    snprintf(m.scan, sizeof m.scan, "s-42");
    m.start = (tl_wire_scan_start){.rows = 8, .cols = 640, .row_offset = 100, .dtype = TL_WIRE_UINT16, .n_proj = 3,
                                   .n_flat = 2, .n_dark = 1, .angles = angles};
    snprintf(m.start.name, sizeof m.start.name, "my scan/1");
    snprintf(m.start.sample, sizeof m.start.sample, "rock \"A\"");
    m.start.experiment = "{\"proposal\": \"p1\", \"energy_kev\": 25}";
    char *text = tl_wire_encode(&m);
    cr_assert_not_null(text);
    tl_wire_msg d;
    tl_error err = {0};
    cr_assert_eq(decode_text(text, &d, &err), TL_OK, "%s: %s", text, err.message);
    cr_assert_eq(d.type, TL_WIRE_SCAN_START);
    cr_assert_str_eq(d.scan, "s-42");
    cr_assert_eq(d.start.rows, 8);
    cr_assert_eq(d.start.cols, 640);
    cr_assert_eq(d.start.row_offset, 100);
    cr_assert_eq(d.start.dtype, TL_WIRE_UINT16);
    cr_assert_eq(d.start.n_proj, 3);
    cr_assert_eq(d.start.n_flat, 2);
    cr_assert_eq(d.start.n_dark, 1);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(d.start.angles[i], angles[i], "angle %d exact through %%.17g", i);
    cr_assert_str_eq(d.start.name, "my scan/1");
    cr_assert_str_eq(d.start.sample, "rock \"A\"");
    cr_assert_str_eq(d.start.experiment, "{\"proposal\": \"p1\", \"energy_kev\": 25}");
    tl_wire_msg_free(&d);
    free(text);
}

Test(wire, frame_end_abort_round_trip)
{
    tl_wire_msg m = {.type = TL_WIRE_FRAME};
    snprintf(m.scan, sizeof m.scan, "x");
    m.frame = (tl_wire_frame){.index = 9007199254740991ull, .image_key = 0, .angle = -12.25, .rows = 2, .cols = 3,
                              .dtype = TL_WIRE_FLOAT32};
    char *text = tl_wire_encode(&m);
    tl_wire_msg d;
    tl_error err = {0};
    cr_assert_eq(decode_text(text, &d, &err), TL_OK, "%s", err.message);
    cr_assert_eq(d.frame.index, 9007199254740991ull);
    cr_assert_eq(d.frame.angle, -12.25);
    cr_assert_eq(d.frame.dtype, TL_WIRE_FLOAT32);
    cr_assert_eq(tl_wire_check_parts(&d, 2, 24, &err), TL_OK);
    cr_assert_eq(tl_wire_check_parts(&d, 2, 23, &err), TL_ERR_DATA);
    cr_assert_str_eq(err.message, "frame 9007199254740991 of scan 'x': 23 bytes of pixels, but its header says 2 x 3 "
                                  "float32 = 24 bytes");
    cr_assert_eq(tl_wire_check_parts(&d, 1, 0, &err), TL_ERR_DATA);
    cr_assert_str_eq(err.message, "frame 9007199254740991 of scan 'x' came with 1 parts (a header and the pixels "
                                  "were expected)");
    tl_wire_msg_free(&d);
    free(text);
    /* a dark needs no angle */
    cr_assert_eq(decode_text("{\"protocol\":1,\"type\":\"frame\",\"scan\":\"x\",\"index\":0,\"image_key\":2,\"rows\":1,"
                             "\"cols\":1,\"dtype\":\"uint16\"}",
                             &d, &err),
                 TL_OK, "%s", err.message);
    cr_assert(isnan(d.frame.angle));
    tl_wire_msg_free(&d);

    tl_wire_msg e = {.type = TL_WIRE_SCAN_END, .frames_sent = 723};
    snprintf(e.scan, sizeof e.scan, "x");
    text = tl_wire_encode(&e);
    cr_assert_eq(decode_text(text, &d, &err), TL_OK);
    cr_assert_eq(d.frames_sent, 723);
    cr_assert_eq(tl_wire_check_parts(&d, 1, 0, &err), TL_OK);
    cr_assert_eq(tl_wire_check_parts(&d, 2, 5, &err), TL_ERR_DATA);
    cr_assert_str_eq(err.message, "scan-end of scan 'x' came with 2 parts (only the header was expected)");
    free(text);
    tl_wire_msg a = {.type = TL_WIRE_ABORT};
    snprintf(a.scan, sizeof a.scan, "x");
    snprintf(a.reason, sizeof a.reason, "beam lost");
    text = tl_wire_encode(&a);
    cr_assert_eq(decode_text(text, &d, &err), TL_OK);
    cr_assert_str_eq(d.reason, "beam lost");
    free(text);
}

Test(wire, start_angle_and_step_and_unknown_fields)
{
    tl_wire_msg d;
    tl_error err = {0};
    cr_assert_eq(decode_text("{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"a\",\"rows\":2,\"cols\":4,"
                             "\"dtype\":\"uint16\",\"projections\":4,\"start_angle\":10,\"angle_step\":0.5,"
                             "\"future_field\":{\"x\":[1,2]}}",
                             &d, &err),
                 TL_OK, "%s", err.message);
    cr_assert_eq(d.start.angles[3], 11.5);
    cr_assert_eq(d.start.n_flat, 0);
    cr_assert_str_eq(d.start.name, "a", "the name defaults to the scan id");
    tl_wire_msg_free(&d);
}

#define START "{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"a\",\"rows\":2,\"cols\":4,\"dtype\":\"uint16\""

Test(wire, malformed_headers_are_refused_with_their_reason)
{
    refused("", "empty header (a JSON object was expected)");
    refused("garbage", "header is not valid JSON: unexpected character at byte 0");
    refused("{\"protocol\":1,", "header is not valid JSON: expected a string key at byte 14");
    refused("[1,2]", "header: a JSON object was expected");
    refused("{\"type\":\"frame\"}", "header: 'protocol' is missing (this receiver speaks protocol 1)");
    refused("{\"protocol\":2,\"type\":\"frame\"}", "header: protocol 2 is not supported (this receiver speaks protocol 1)");
    refused("{\"protocol\":\"1\",\"type\":\"frame\"}",
            "header: protocol \"1\" is not supported (this receiver speaks protocol 1)");
    refused("{\"protocol\":1,\"type\":\"hello\",\"scan\":\"a\"}",
            "header: type 'hello' is not one of scan-start, frame, scan-end, abort");
    refused("{\"protocol\":1,\"type\":3}", "header: 'type' must be one of scan-start, frame, scan-end, abort");
    refused("{\"protocol\":1,\"type\":\"scan-end\",\"frames\":3}", "scan-end header: 'scan' is missing (a string)");
    refused("{\"protocol\":1,\"type\":\"scan-end\",\"scan\":\"\",\"frames\":3}",
            "scan-end header: 'scan' is empty (a scan id is needed)");
    refused("{\"protocol\":1,\"type\":\"scan-end\",\"scan\":\"a\\u0001\",\"frames\":3}",
            "scan-end header: 'scan' holds a control character at byte 1");
    refused("{\"protocol\":1,\"type\":\"scan-end\",\"scan\":\"a\",\"frames\":-1}",
            "scan-end header: 'frames' must be an integer from 0 to 9007199254740991 (got -1)");
    refused("{\"protocol\":1,\"type\":\"frame\",\"scan\":\"a\",\"index\":2.5,\"image_key\":0}",
            "frame header: 'index' must be an integer from 0 to 9007199254740991 (got 2.5)");
    refused("{\"protocol\":1,\"type\":\"frame\",\"scan\":\"a\",\"index\":1,\"image_key\":7}",
            "frame header: 'image_key' must be an integer from 0 to 2 (got 7)");
    refused("{\"protocol\":1,\"type\":\"frame\",\"scan\":\"a\",\"index\":1,\"image_key\":0,\"rows\":1,\"cols\":1,"
            "\"dtype\":\"uint16\"}",
            "frame header: a projection (image_key 0) needs its 'angle' in degrees");
    refused("{\"protocol\":1,\"type\":\"frame\",\"scan\":\"a\",\"index\":1,\"image_key\":1,\"rows\":1,\"cols\":1,"
            "\"dtype\":\"int8\"}",
            "frame header: 'dtype' 'int8' is not one of uint16, uint32, float32");
    refused("{\"protocol\":1,\"type\":\"frame\",\"scan\":\"a\",\"index\":1,\"image_key\":1,\"rows\":100000,"
            "\"cols\":100000,\"dtype\":\"float32\"}",
            "frame header: a frame of 100000 x 100000 float32 is 40000000000 bytes, more than --max-frame-bytes "
            "268435456");
    refused(START ",\"projections\":3}",
            "scan-start header: the angles are missing: give 'angles' (a list of 3 degrees) or 'start_angle' and "
            "'angle_step'");
    refused(START ",\"projections\":3,\"angles\":[1,2]}",
            "scan-start header: 'angles' must be a list of 3 numbers, one per projection (got a list of )");
    refused(START ",\"projections\":2,\"angles\":[1,\"x\"]}", "scan-start header: 'angles'[1] must be a finite number of degrees");
    refused(START ",\"projections\":0,\"angles\":[]}",
            "scan-start header: 'projections' must be an integer from 1 to 1000000 (got 0)");
    refused(START ",\"projections\":1000001,\"start_angle\":0,\"angle_step\":1}",
            "scan-start header: 'projections' must be an integer from 1 to 1000000 (got 1000001)");
    refused("{\"protocol\":1,\"type\":\"scan-start\",\"scan\":\"a\",\"rows\":2048,\"cols\":2048,\"dtype\":"
            "\"uint16\",\"projections\":9000,\"flats\":10,\"start_angle\":0,\"angle_step\":0.02}",
            "scan-start header: 9010 frames of 2048 x 2048 uint16 are 75581358080 bytes, more than --max-scan-bytes "
            "68719476736");
    refused(START ",\"projections\":1,\"angles\":[0],\"experiment\":[1]}",
            "scan-start header: 'experiment' must be an object");
}

Test(wire, limits_hold_before_parsing)
{
    tl_wire_limits lim;
    tl_wire_limits_default(&lim);
    lim.max_header_bytes = 16;
    tl_wire_msg m;
    tl_error err = {0};
    const char *text = "{\"protocol\":1,\"type\":\"abort\",\"scan\":\"a\"}";
    cr_assert_eq(tl_wire_decode(text, strlen(text), &lim, &m, &err), TL_ERR_DATA);
    cr_assert_str_eq(err.message, "header of 40 bytes, more than the limit of 16");
    char with_nul[] = "{\"protocol\":1}\0xx";
    cr_assert_eq(tl_wire_decode(with_nul, sizeof with_nul - 1, NULL, &m, &err), TL_ERR_DATA);
    cr_assert_str_eq(err.message, "header holds a NUL byte at 14 (not JSON text)");
    /* deep nesting is refused by the JSON reader, not by the stack */
    char deep[4096];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "{\"protocol\":1,\"x\":");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    cr_assert_eq(tl_wire_decode(deep, n, NULL, &m, &err), TL_ERR_DATA);
    cr_assert(strstr(err.message, "header is not valid JSON: "), "%s", err.message);
}

Test(wire, names_are_sanitised)
{
    char out[32];
    tl_wire_sanitize_name("scan_01-a.b", out, sizeof out);
    cr_assert_str_eq(out, "scan_01-a.b");
    tl_wire_sanitize_name("../../etc/passwd", out, sizeof out);
    cr_assert_str_eq(out, "_._.._etc_passwd");
    cr_assert_null(strchr(out, '/'));
    tl_wire_sanitize_name("..", out, sizeof out);
    cr_assert_str_eq(out, "_.");
    tl_wire_sanitize_name(".hidden", out, sizeof out);
    cr_assert_str_eq(out, "_hidden");
    tl_wire_sanitize_name("", out, sizeof out);
    cr_assert_str_eq(out, "scan");
    tl_wire_sanitize_name("a b\tc\\d", out, sizeof out);
    cr_assert_str_eq(out, "a_b_c_d");
    tl_wire_sanitize_name("0123456789012345678901234567890123456789", out, 8);
    cr_assert_str_eq(out, "0123456");
}
