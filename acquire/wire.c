/* wire.c - stream protocol version 1 (see wire.h and docs/protocol.md).
 *
 * Decoding order: size limit, then a NUL-terminated copy (the JSON reader
 * wants a C string; a NUL inside the header is refused first), then the JSON
 * tree, then the fields. Numbers that stand for counts must be integers within
 * their range: a JSON number is a double, so 1e300, -1, 2.5 and NaN-like text
 * are refused by value, not converted. Sizes are multiplied in double and
 * compared with the limits before anything is allocated for them.
 */
#include "wire.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const char *const type_names[] = {"scan-start", "frame", "scan-end", "abort"};
static const char *const dtype_names[] = {"uint16", "uint32", "float32"};
static const size_t dtype_sizes[] = {2, 4, 4};

const char *tl_wire_type_name(tl_wire_type type) { return (unsigned)type < 4 ? type_names[type] : "?"; }
const char *tl_wire_dtype_name(tl_wire_dtype dtype) { return (unsigned)dtype < 3 ? dtype_names[dtype] : "?"; }
size_t tl_wire_dtype_size(tl_wire_dtype dtype) { return (unsigned)dtype < 3 ? dtype_sizes[dtype] : 0; }

void tl_wire_limits_default(tl_wire_limits *limits)
{
    limits->max_header_bytes = (size_t)16 << 20;
    limits->max_frame_bytes = (size_t)256 << 20;
    limits->max_scan_bytes = 64.0 * 1073741824.0;
}

void tl_wire_msg_free(tl_wire_msg *msg)
{
    if (!msg)
        return;
    free(msg->start.angles);
    free(msg->start.experiment);
    memset(msg, 0, sizeof *msg);
}

/* --- decoding ------------------------------------------------------------------------------ */

typedef struct decoder {
    const tl_json *root;
    const char *what; /* "scan-start header", ... for messages */
    tl_error *err;
} decoder;

static tl_status bad(decoder *d, const char *fmt, ...) TL_PRINTF(2, 3);
static tl_status bad(decoder *d, const char *fmt, ...)
{
    char detail[TL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return tl_error_set(d->err, TL_ERR_DATA, "%s: %s", d->what, detail);
}

/* A short, printable rendering of a JSON value for messages. */
static void shown(const tl_json *v, char *buf, size_t size)
{
    tl_jbuf b = {0};
    tl_jbuf_value(&b, v);
    char *text = tl_jbuf_take(&b);
    if (!text) {
        snprintf(buf, size, "?");
        return;
    }
    if (strlen(text) > 40)
        snprintf(buf, size, "%.37s...", text);
    else
        snprintf(buf, size, "%s", text);
    free(text);
}

/* An integer field in [lo, hi]. Absent: *out = fallback when optional, else an error. */
static tl_status get_int(decoder *d, const char *key, double lo, double hi, int optional, double fallback,
                         double *out)
{
    const tl_json *v = tl_json_get(d->root, key);
    if (!v) {
        if (optional) {
            *out = fallback;
            return TL_OK;
        }
        return bad(d, "'%s' is missing (an integer from %.0f to %.0f)", key, lo, hi);
    }
    char s[48];
    if (v->type != TL_JSON_NUMBER || !isfinite(v->number) || v->number != floor(v->number) || v->number < lo ||
        v->number > hi) {
        shown(v, s, sizeof s);
        return bad(d, "'%s' must be an integer from %.0f to %.0f (got %s)", key, lo, hi, s);
    }
    *out = v->number;
    return TL_OK;
}

static tl_status get_number(decoder *d, const char *key, int optional, double *out)
{
    const tl_json *v = tl_json_get(d->root, key);
    if (!v) {
        if (optional) {
            *out = NAN;
            return TL_OK;
        }
        return bad(d, "'%s' is missing (a number)", key);
    }
    if (v->type != TL_JSON_NUMBER || !isfinite(v->number)) {
        char s[48];
        shown(v, s, sizeof s);
        return bad(d, "'%s' must be a finite number (got %s)", key, s);
    }
    *out = v->number;
    return TL_OK;
}

/* A string field of at most size - 1 bytes, printable (no control characters). */
static tl_status get_text(decoder *d, const char *key, int optional, char *out, size_t size)
{
    const tl_json *v = tl_json_get(d->root, key);
    out[0] = '\0';
    if (!v) {
        if (optional)
            return TL_OK;
        return bad(d, "'%s' is missing (a string)", key);
    }
    if (v->type != TL_JSON_STRING) {
        char s[48];
        shown(v, s, sizeof s);
        return bad(d, "'%s' must be a string (got %s)", key, s);
    }
    size_t n = strlen(v->text);
    if (n >= size)
        return bad(d, "'%s' is %zu bytes long (at most %zu)", key, n, size - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->text[i] < 0x20 || v->text[i] == 0x7f)
            return bad(d, "'%s' holds a control character at byte %zu", key, i);
    memcpy(out, v->text, n + 1);
    return TL_OK;
}

static tl_status get_dtype(decoder *d, tl_wire_dtype *out)
{
    char name[16];
    tl_status st = get_text(d, "dtype", 0, name, sizeof name);
    if (st != TL_OK)
        return bad(d, "'dtype' must be one of uint16, uint32, float32");
    for (int i = 0; i < 3; i++)
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (tl_wire_dtype)i;
            return TL_OK;
        }
    return bad(d, "'dtype' '%s' is not one of uint16, uint32, float32", name);
}

/* rows, cols and dtype of a frame or scan, with the frame's bytes within the limit. */
static tl_status get_shape(decoder *d, const tl_wire_limits *lim, size_t *rows, size_t *cols, tl_wire_dtype *dtype)
{
    double r = 0, c = 0;
    tl_status st;
    if ((st = get_int(d, "rows", 1, 1e9, 0, 0, &r)) != TL_OK || (st = get_int(d, "cols", 1, 1e9, 0, 0, &c)) != TL_OK ||
        (st = get_dtype(d, dtype)) != TL_OK)
        return st;
    double bytes = r * c * (double)tl_wire_dtype_size(*dtype);
    if (bytes > (double)lim->max_frame_bytes)
        return bad(d, "a frame of %.0f x %.0f %s is %.0f bytes, more than --max-frame-bytes %zu", r, c,
                   dtype_names[*dtype], bytes, lim->max_frame_bytes);
    *rows = (size_t)r;
    *cols = (size_t)c;
    return TL_OK;
}

static tl_status decode_start(decoder *d, const tl_wire_limits *lim, tl_wire_scan_start *s)
{
    tl_status st;
    double proj, flat, dark, offset;
    if ((st = get_shape(d, lim, &s->rows, &s->cols, &s->dtype)) != TL_OK ||
        (st = get_int(d, "row_offset", 0, 1e9, 1, 0, &offset)) != TL_OK ||
        (st = get_int(d, "projections", 1, TL_WIRE_MAX_COUNT, 0, 0, &proj)) != TL_OK ||
        (st = get_int(d, "flats", 0, TL_WIRE_MAX_COUNT, 1, 0, &flat)) != TL_OK ||
        (st = get_int(d, "darks", 0, TL_WIRE_MAX_COUNT, 1, 0, &dark)) != TL_OK ||
        (st = get_text(d, "sample", 1, s->sample, sizeof s->sample)) != TL_OK ||
        (st = get_text(d, "name", 1, s->name, sizeof s->name)) != TL_OK)
        return st;
    double scan_bytes = (proj + flat + dark) * (double)s->rows * (double)s->cols * (double)tl_wire_dtype_size(s->dtype);
    if (scan_bytes > lim->max_scan_bytes)
        return bad(d, "%.0f frames of %zu x %zu %s are %.0f bytes, more than --max-scan-bytes %.0f",
                   proj + flat + dark, s->rows, s->cols, dtype_names[s->dtype], scan_bytes, lim->max_scan_bytes);
    s->row_offset = (size_t)offset;
    s->n_proj = (size_t)proj;
    s->n_flat = (size_t)flat;
    s->n_dark = (size_t)dark;
    const tl_json *angles = tl_json_get(d->root, "angles");
    double start = NAN, step = NAN;
    if (!angles) {
        if ((st = get_number(d, "start_angle", 1, &start)) != TL_OK ||
            (st = get_number(d, "angle_step", 1, &step)) != TL_OK)
            return st;
        if (isnan(start) || isnan(step))
            return bad(d, "the angles are missing: give 'angles' (a list of %zu degrees) or 'start_angle' and "
                          "'angle_step'",
                       s->n_proj);
    } else if (angles->type != TL_JSON_ARRAY || angles->n != s->n_proj) {
        char v[48];
        shown(angles, v, sizeof v);
        return bad(d, "'angles' must be a list of %zu numbers, one per projection (got %s%s)", s->n_proj,
                   angles->type == TL_JSON_ARRAY ? "a list of " : "", angles->type == TL_JSON_ARRAY ? "" : v);
    }
    if (!(s->angles = malloc(s->n_proj * sizeof *s->angles)))
        return tl_error_set(d->err, TL_ERR_NOMEM, "%s: out of memory for %zu angles", d->what, s->n_proj);
    for (size_t i = 0; i < s->n_proj; i++) {
        if (!angles) {
            s->angles[i] = start + (double)i * step;
            continue;
        }
        const tl_json *a = &angles->items[i];
        if (a->type != TL_JSON_NUMBER || !isfinite(a->number))
            return bad(d, "'angles'[%zu] must be a finite number of degrees", i);
        s->angles[i] = a->number;
    }
    const tl_json *exp = tl_json_get(d->root, "experiment");
    if (exp) {
        if (exp->type != TL_JSON_OBJECT)
            return bad(d, "'experiment' must be an object");
        tl_jbuf b = {0};
        tl_jbuf_value(&b, exp);
        if (!(s->experiment = tl_jbuf_take(&b)))
            return tl_error_set(d->err, TL_ERR_NOMEM, "%s: out of memory", d->what);
    }
    return TL_OK;
}

static tl_status decode_frame(decoder *d, const tl_wire_limits *lim, tl_wire_frame *f)
{
    tl_status st;
    double index, key;
    if ((st = get_int(d, "index", 0, 9007199254740991.0, 0, 0, &index)) != TL_OK ||
        (st = get_int(d, "image_key", 0, 2, 0, 0, &key)) != TL_OK ||
        (st = get_number(d, "angle", 1, &f->angle)) != TL_OK ||
        (st = get_shape(d, lim, &f->rows, &f->cols, &f->dtype)) != TL_OK)
        return st;
    f->index = (uint64_t)index;
    f->image_key = (int)key;
    if (f->image_key == 0 && isnan(f->angle))
        return bad(d, "a projection (image_key 0) needs its 'angle' in degrees");
    return TL_OK;
}

tl_status tl_wire_decode(const void *header, size_t size, const tl_wire_limits *limits, tl_wire_msg *out,
                         tl_error *err)
{
    memset(out, 0, sizeof *out);
    tl_wire_limits lim;
    if (!limits)
        tl_wire_limits_default(&lim), limits = &lim;
    if (size == 0)
        return tl_error_set(err, TL_ERR_DATA, "empty header (a JSON object was expected)");
    if (size > limits->max_header_bytes)
        return tl_error_set(err, TL_ERR_DATA, "header of %zu bytes, more than the limit of %zu", size,
                            limits->max_header_bytes);
    if (memchr(header, '\0', size))
        return tl_error_set(err, TL_ERR_DATA, "header holds a NUL byte at %zu (not JSON text)",
                            (size_t)((const char *)memchr(header, '\0', size) - (const char *)header));
    char *text = malloc(size + 1);
    if (!text)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory for a header of %zu bytes", size);
    memcpy(text, header, size);
    text[size] = '\0';
    tl_json root;
    char why[200];
    int ok = tl_json_parse(text, &root, why, sizeof why);
    free(text);
    if (!ok)
        return tl_error_set(err, TL_ERR_DATA, "header is not valid JSON: %s", why);
    decoder d = {.root = &root, .what = "header", .err = err};
    tl_status st = TL_OK;
    if (root.type != TL_JSON_OBJECT) {
        st = bad(&d, "a JSON object was expected");
        goto done;
    }
    const tl_json *pv = tl_json_get(&root, "protocol");
    if (!pv) {
        st = bad(&d, "'protocol' is missing (this receiver speaks protocol %d)", TL_WIRE_PROTOCOL);
        goto done;
    }
    if (pv->type != TL_JSON_NUMBER || pv->number != TL_WIRE_PROTOCOL) {
        char s[48];
        shown(pv, s, sizeof s);
        st = bad(&d, "protocol %s is not supported (this receiver speaks protocol %d)", s, TL_WIRE_PROTOCOL);
        goto done;
    }
    char type[16];
    if ((st = get_text(&d, "type", 0, type, sizeof type)) != TL_OK) {
        st = bad(&d, "'type' must be one of scan-start, frame, scan-end, abort");
        goto done;
    }
    int t = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(type, type_names[i]) == 0)
            t = i;
    if (t < 0) {
        st = bad(&d, "type '%s' is not one of scan-start, frame, scan-end, abort", type);
        goto done;
    }
    out->type = (tl_wire_type)t;
    static const char *const what[] = {"scan-start header", "frame header", "scan-end header", "abort header"};
    d.what = what[t];
    if ((st = get_text(&d, "scan", 0, out->scan, sizeof out->scan)) != TL_OK)
        goto done;
    if (!out->scan[0]) {
        st = bad(&d, "'scan' is empty (a scan id is needed)");
        goto done;
    }
    double frames;
    switch (out->type) {
    case TL_WIRE_SCAN_START:
        st = decode_start(&d, limits, &out->start);
        if (st == TL_OK && !out->start.name[0])
            memcpy(out->start.name, out->scan, sizeof out->scan);
        break;
    case TL_WIRE_FRAME:
        st = decode_frame(&d, limits, &out->frame);
        break;
    case TL_WIRE_SCAN_END:
        if ((st = get_int(&d, "frames", 0, 9007199254740991.0, 0, 0, &frames)) == TL_OK)
            out->frames_sent = (uint64_t)frames;
        break;
    case TL_WIRE_ABORT:
        st = get_text(&d, "reason", 1, out->reason, sizeof out->reason);
        break;
    }
done:
    tl_json_free(&root);
    if (st != TL_OK)
        tl_wire_msg_free(out);
    return st;
}

tl_status tl_wire_check_parts(const tl_wire_msg *msg, size_t n_parts, size_t payload_bytes, tl_error *err)
{
    if (msg->type != TL_WIRE_FRAME) {
        if (n_parts != 1)
            return tl_error_set(err, TL_ERR_DATA, "%s of scan '%s' came with %zu parts (only the header was expected)",
                                tl_wire_type_name(msg->type), msg->scan, n_parts);
        return TL_OK;
    }
    const tl_wire_frame *f = &msg->frame;
    size_t expected = f->rows * f->cols * tl_wire_dtype_size(f->dtype);
    if (n_parts != 2)
        return tl_error_set(err, TL_ERR_DATA, "frame %llu of scan '%s' came with %zu parts (a header and the pixels "
                            "were expected)", (unsigned long long)f->index, msg->scan, n_parts);
    if (payload_bytes != expected)
        return tl_error_set(err, TL_ERR_DATA, "frame %llu of scan '%s': %zu bytes of pixels, but its header says "
                            "%zu x %zu %s = %zu bytes", (unsigned long long)f->index, msg->scan, payload_bytes,
                            f->rows, f->cols, tl_wire_dtype_name(f->dtype), expected);
    return TL_OK;
}

/* --- encoding ------------------------------------------------------------------------------ */

char *tl_wire_encode(const tl_wire_msg *msg)
{
    tl_jbuf b = {0};
    tl_jbuf_printf(&b, "{\"protocol\": %d, \"type\": ", TL_WIRE_PROTOCOL);
    tl_jbuf_string(&b, tl_wire_type_name(msg->type));
    tl_jbuf_raw(&b, ", \"scan\": ");
    tl_jbuf_string(&b, msg->scan);
    switch (msg->type) {
    case TL_WIRE_SCAN_START: {
        const tl_wire_scan_start *s = &msg->start;
        tl_jbuf_printf(&b, ", \"rows\": %zu, \"cols\": %zu, \"row_offset\": %zu, \"dtype\": \"%s\", "
                           "\"projections\": %zu, \"flats\": %zu, \"darks\": %zu, \"name\": ",
                       s->rows, s->cols, s->row_offset, tl_wire_dtype_name(s->dtype), s->n_proj, s->n_flat,
                       s->n_dark);
        tl_jbuf_string(&b, s->name[0] ? s->name : msg->scan);
        if (s->sample[0]) {
            tl_jbuf_raw(&b, ", \"sample\": ");
            tl_jbuf_string(&b, s->sample);
        }
        if (s->experiment)
            tl_jbuf_printf(&b, ", \"experiment\": %s", s->experiment);
        tl_jbuf_raw(&b, ", \"angles\": [");
        for (size_t i = 0; i < s->n_proj; i++) {
            if (i)
                tl_jbuf_raw(&b, ", ");
            tl_jbuf_printf(&b, "%.17g", s->angles ? s->angles[i] : 0.0);
        }
        tl_jbuf_raw(&b, "]");
        break;
    }
    case TL_WIRE_FRAME: {
        const tl_wire_frame *f = &msg->frame;
        tl_jbuf_printf(&b, ", \"index\": %llu, \"image_key\": %d, \"rows\": %zu, \"cols\": %zu, \"dtype\": \"%s\"",
                       (unsigned long long)f->index, f->image_key, f->rows, f->cols, tl_wire_dtype_name(f->dtype));
        if (isfinite(f->angle))
            tl_jbuf_printf(&b, ", \"angle\": %.17g", f->angle);
        break;
    }
    case TL_WIRE_SCAN_END:
        tl_jbuf_printf(&b, ", \"frames\": %llu", (unsigned long long)msg->frames_sent);
        break;
    case TL_WIRE_ABORT:
        tl_jbuf_raw(&b, ", \"reason\": ");
        tl_jbuf_string(&b, msg->reason);
        break;
    }
    tl_jbuf_raw(&b, "}");
    return tl_jbuf_take(&b);
}

void tl_wire_sanitize_name(const char *name, char *out, size_t size)
{
    if (size == 0)
        return;
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < size; p++) {
        char c = *p;
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_' || (c == '.' && n > 0);
        out[n++] = keep ? c : '_';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, size, "scan");
}
