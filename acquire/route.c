/* route.c - the route field and the slab report (see route.h and
 * docs/protocol.md, "Routing to several workers").
 *
 * Decoding follows wire.c: the text is bounded, copied NUL-terminated, parsed
 * into a JSON tree, and every field is checked by value (integers must be
 * integral and within their range, strings bounded and free of control
 * characters) before anything is kept.
 */
#include "route.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "json.h"

#define REPORT_MAX_BYTES 65536 /* a report is a few hundred bytes; the reason and the path bound it */

void tl_route_split(size_t rows, size_t n_workers, size_t k, size_t *begin, size_t *end)
{
    if (n_workers == 0 || k >= n_workers) {
        *begin = *end = rows;
        return;
    }
    /* in long double so that rows x workers cannot overflow for any size_t rows */
    *begin = (size_t)((long double)k * rows / n_workers);
    *end = (size_t)((long double)(k + 1) * rows / n_workers);
    if (k + 1 == n_workers)
        *end = rows;
}

/* --- decoding helpers ------------------------------------------------------------------------ */

typedef struct reader {
    const tl_json *obj;
    const char *what; /* "scan-start header: 'route'", "slab report" */
    tl_error *err;
} reader;

static tl_status bad(reader *r, const char *fmt, ...) TL_PRINTF(2, 3);
static tl_status bad(reader *r, const char *fmt, ...)
{
    char detail[TL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return tl_error_set(r->err, TL_ERR_DATA, "%s: %s", r->what, detail);
}

static void shown(const tl_json *v, char *buf, size_t size)
{
    tl_jbuf b = {0};
    tl_jbuf_value(&b, v);
    char *text = tl_jbuf_take(&b);
    snprintf(buf, size, "%.37s%s", text ? text : "?", text && strlen(text) > 37 ? "..." : "");
    free(text);
}

static tl_status get_size(reader *r, const char *key, double lo, double hi, size_t *out)
{
    const tl_json *v = tl_json_get(r->obj, key);
    if (!v)
        return bad(r, "'%s' is missing (an integer from %.0f to %.0f)", key, lo, hi);
    if (v->type != TL_JSON_NUMBER || !isfinite(v->number) || v->number != floor(v->number) || v->number < lo ||
        v->number > hi) {
        char s[48];
        shown(v, s, sizeof s);
        return bad(r, "'%s' must be an integer from %.0f to %.0f (got %s)", key, lo, hi, s);
    }
    *out = (size_t)v->number;
    return TL_OK;
}

/* A string of 0 (optional) or 1 (required) to size - 1 bytes without control characters. */
static tl_status get_text(reader *r, const char *key, int required, char *out, size_t size)
{
    const tl_json *v = tl_json_get(r->obj, key);
    out[0] = '\0';
    if (!v)
        return required ? bad(r, "'%s' is missing (a string)", key) : TL_OK;
    if (v->type != TL_JSON_STRING) {
        char s[48];
        shown(v, s, sizeof s);
        return bad(r, "'%s' must be a string (got %s)", key, s);
    }
    size_t n = strlen(v->text);
    if (n >= size)
        return bad(r, "'%s' is %zu bytes long (at most %zu)", key, n, size - 1);
    if (required && n == 0)
        return bad(r, "'%s' is empty", key);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->text[i] < 0x20 || v->text[i] == 0x7f)
            return bad(r, "'%s' holds a control character at byte %zu", key, i);
    memcpy(out, v->text, n + 1);
    return TL_OK;
}

static tl_status check_ticket(reader *r, const char *ticket)
{
    for (const char *p = ticket; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-'))
            return bad(r, "'ticket' may hold letters, digits and '-' only (got '%s')", ticket);
    return TL_OK;
}

/* Parse text[0..size) as one JSON object into *root. */
static tl_status parse_object(const void *text, size_t size, size_t max, const char *what, tl_json *root,
                              tl_error *err)
{
    if (size == 0 || size > max)
        return tl_error_set(err, TL_ERR_DATA, "%s of %zu bytes (1 to %zu allowed)", what, size, max);
    if (memchr(text, '\0', size))
        return tl_error_set(err, TL_ERR_DATA, "%s holds a NUL byte (not JSON text)", what);
    char *copy = malloc(size + 1);
    if (!copy)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for a %s of %zu bytes", what, size);
    memcpy(copy, text, size);
    copy[size] = '\0';
    char why[200];
    int ok = tl_json_parse(copy, root, why, sizeof why);
    free(copy);
    if (!ok)
        return tl_error_set(err, TL_ERR_DATA, "%s is not valid JSON: %s", what, why);
    if (root->type != TL_JSON_OBJECT) {
        tl_json_free(root);
        return tl_error_set(err, TL_ERR_DATA, "%s: a JSON object was expected", what);
    }
    return TL_OK;
}

/* --- the route field ---------------------------------------------------------------------------- */

tl_status tl_route_field_decode(const void *header, size_t size, size_t rows, tl_route_field *out, int *present,
                                tl_error *err)
{
    memset(out, 0, sizeof *out);
    *present = 0;
    tl_json root;
    tl_wire_limits lim;
    tl_wire_limits_default(&lim);
    tl_status st = parse_object(header, size, lim.max_header_bytes, "scan-start header", &root, err);
    if (st != TL_OK)
        return st;
    const tl_json *route = tl_json_get(&root, "route");
    if (!route)
        goto done;
    *present = 1;
    reader r = {.obj = route, .what = "scan-start header: 'route'", .err = err};
    if (route->type != TL_JSON_OBJECT) {
        st = bad(&r, "an object was expected");
        goto done;
    }
    if ((st = get_size(&r, "workers", 1, TL_ROUTE_WORKERS_MAX, &out->workers)) != TL_OK ||
        (st = get_size(&r, "worker", 0, (double)out->workers - 1, &out->worker)) != TL_OK ||
        (st = get_size(&r, "rows_total", 1, 1e9, &out->rows_total)) != TL_OK ||
        (st = get_size(&r, "row_begin", 0, (double)out->rows_total - 1, &out->row_begin)) != TL_OK ||
        (st = get_size(&r, "row_end", (double)out->row_begin + 1, (double)out->rows_total, &out->row_end)) !=
            TL_OK ||
        (st = get_text(&r, "report_to", 1, out->report_to, sizeof out->report_to)) != TL_OK ||
        (st = get_text(&r, "ticket", 1, out->ticket, sizeof out->ticket)) != TL_OK ||
        (st = check_ticket(&r, out->ticket)) != TL_OK)
        goto done;
    if (strncmp(out->report_to, "tcp://", 6) != 0 && strncmp(out->report_to, "ipc://", 6) != 0) {
        st = bad(&r, "'report_to' '%s' is not a tcp:// or ipc:// endpoint", out->report_to);
        goto done;
    }
    if (out->row_end - out->row_begin != rows)
        st = bad(&r, "rows %zu..%zu are %zu rows, but the scan-start's 'rows' is %zu", out->row_begin,
                 out->row_end - 1, out->row_end - out->row_begin, rows);
done:
    tl_json_free(&root);
    if (st != TL_OK)
        memset(out, 0, sizeof *out);
    return st;
}

char *tl_route_encode_start(const tl_wire_msg *start, const tl_route_field *route)
{
    tl_wire_msg m = *start; /* shallow: the angles and the experiment stay start's */
    m.type = TL_WIRE_SCAN_START;
    m.start.rows = route->row_end - route->row_begin;
    m.start.row_offset = start->start.row_offset + route->row_begin;
    char *head = tl_wire_encode(&m);
    if (!head)
        return NULL;
    size_t n = strlen(head);
    if (n == 0 || head[n - 1] != '}') { /* tl_wire_encode always ends the object */
        free(head);
        return NULL;
    }
    head[n - 1] = '\0';
    tl_jbuf b = {0};
    tl_jbuf_raw(&b, head);
    free(head);
    tl_jbuf_printf(&b, ", \"route\": {\"row_begin\": %zu, \"row_end\": %zu, \"rows_total\": %zu, \"worker\": %zu, "
                       "\"workers\": %zu, \"report_to\": ",
                   route->row_begin, route->row_end, route->rows_total, route->worker, route->workers);
    tl_jbuf_string(&b, route->report_to);
    tl_jbuf_raw(&b, ", \"ticket\": ");
    tl_jbuf_string(&b, route->ticket);
    tl_jbuf_raw(&b, "}}");
    return tl_jbuf_take(&b);
}

/* --- the slab report ---------------------------------------------------------------------------- */

char *tl_route_report_encode(const tl_route_report *rep)
{
    tl_jbuf b = {0};
    tl_jbuf_printf(&b, "{\"protocol\": %d, \"type\": \"slab-report\", \"scan\": ", TL_WIRE_PROTOCOL);
    tl_jbuf_string(&b, rep->scan);
    tl_jbuf_raw(&b, ", \"ticket\": ");
    tl_jbuf_string(&b, rep->ticket);
    tl_jbuf_printf(&b, ", \"worker\": %zu, \"row_begin\": %zu, \"row_end\": %zu, \"status\": \"%s\", \"reason\": ",
                   rep->worker, rep->row_begin, rep->row_end, rep->ok ? "ok" : "failed");
    tl_jbuf_string(&b, rep->reason);
    tl_jbuf_raw(&b, ", \"path\": ");
    tl_jbuf_string(&b, rep->path);
    tl_jbuf_raw(&b, ", \"host\": ");
    tl_jbuf_string(&b, rep->host);
    tl_jbuf_raw(&b, ", \"axis\": ");
    tl_jbuf_number(&b, rep->axis);
    tl_jbuf_raw(&b, ", \"axis_method\": ");
    tl_jbuf_string(&b, rep->axis_method);
    tl_jbuf_raw(&b, ", \"seconds\": ");
    tl_jbuf_number(&b, rep->seconds);
    tl_jbuf_raw(&b, "}");
    return tl_jbuf_take(&b);
}

tl_status tl_route_report_decode(const void *text, size_t size, tl_route_report *out, tl_error *err)
{
    memset(out, 0, sizeof *out);
    out->axis = NAN;
    tl_json root;
    tl_status st = parse_object(text, size, REPORT_MAX_BYTES, "slab report", &root, err);
    if (st != TL_OK)
        return st;
    reader r = {.obj = &root, .what = "slab report", .err = err};
    const tl_json *pv = tl_json_get(&root, "protocol"), *axis = tl_json_get(&root, "axis"),
                  *secs = tl_json_get(&root, "seconds");
    char type[32], status[16];
    if (!pv || pv->type != TL_JSON_NUMBER || pv->number != TL_WIRE_PROTOCOL) {
        st = bad(&r, "'protocol' must be %d", TL_WIRE_PROTOCOL);
        goto done;
    }
    if ((st = get_text(&r, "type", 1, type, sizeof type)) != TL_OK)
        goto done;
    if (strcmp(type, "slab-report") != 0) {
        st = bad(&r, "type '%s' is not slab-report", type);
        goto done;
    }
    if ((st = get_text(&r, "scan", 1, out->scan, sizeof out->scan)) != TL_OK ||
        (st = get_text(&r, "ticket", 1, out->ticket, sizeof out->ticket)) != TL_OK ||
        (st = check_ticket(&r, out->ticket)) != TL_OK ||
        (st = get_size(&r, "worker", 0, TL_ROUTE_WORKERS_MAX - 1, &out->worker)) != TL_OK ||
        (st = get_size(&r, "row_begin", 0, 1e9, &out->row_begin)) != TL_OK ||
        (st = get_size(&r, "row_end", (double)out->row_begin + 1, 1e9, &out->row_end)) != TL_OK ||
        (st = get_text(&r, "status", 1, status, sizeof status)) != TL_OK ||
        (st = get_text(&r, "reason", 0, out->reason, sizeof out->reason)) != TL_OK ||
        (st = get_text(&r, "path", 0, out->path, sizeof out->path)) != TL_OK ||
        (st = get_text(&r, "host", 0, out->host, sizeof out->host)) != TL_OK ||
        (st = get_text(&r, "axis_method", 0, out->axis_method, sizeof out->axis_method)) != TL_OK)
        goto done;
    if (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0) {
        st = bad(&r, "'status' '%s' is not one of ok, failed", status);
        goto done;
    }
    out->ok = strcmp(status, "ok") == 0;
    if (out->ok && out->path[0] != '/') {
        st = bad(&r, "status ok needs the slab's absolute 'path' (got '%s')", out->path);
        goto done;
    }
    if (axis && axis->type == TL_JSON_NUMBER && isfinite(axis->number))
        out->axis = axis->number;
    else if (axis && axis->type != TL_JSON_NULL) {
        st = bad(&r, "'axis' must be a number or null");
        goto done;
    }
    if (secs && secs->type == TL_JSON_NUMBER && isfinite(secs->number))
        out->seconds = secs->number;
done:
    tl_json_free(&root);
    if (st != TL_OK) {
        memset(out, 0, sizeof *out);
        out->axis = NAN;
    }
    return st;
}

tl_status tl_route_report_send(void *zmq_ctx, const char *endpoint, const char *json, double linger_s,
                               tl_error *err)
{
    void *sock = zmq_socket(zmq_ctx, ZMQ_PUSH);
    if (!sock)
        return tl_error_set(err, TL_ERR_IO, "cannot create a socket for the slab report: %s", zmq_strerror(errno));
    int linger = (int)(linger_s * 1000.0), timeout = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    tl_status st = TL_OK;
    if (zmq_connect(sock, endpoint) != 0)
        st = tl_error_set(err, TL_ERR_IO, "cannot connect to the router's report endpoint '%s': %s", endpoint,
                          zmq_strerror(errno));
    else if (zmq_send(sock, json, strlen(json), 0) < 0) /* queued until the connection is up */
        st = tl_error_set(err, TL_ERR_IO, "cannot queue the slab report for '%s': %s", endpoint, zmq_strerror(errno));
    zmq_close(sock);
    return st;
}
