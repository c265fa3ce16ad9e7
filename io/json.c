/* json.c - a small JSON reader and writer (RFC 8259; see json.h).
 *
 * The catalog writes JSON in three places: outbox files, the parameters column and `--json`
 * output; the stream protocol's headers are JSON too. The reader takes any JSON text into a
 * small tree; it exists so that an outbox file or a header from a socket that is damaged (a
 * full disk, a hand edit, a broken sender) is reported, never half-read: it refuses trailing
 * garbage, raw control characters in strings, bad escapes, lone surrogates, NUL characters (the
 * strings become C strings) and nesting deeper than a fixed limit (no unbounded recursion).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_MAX_DEPTH 32

typedef struct parser {
    const char *text;
    const char *p;
    char *why;
    size_t why_size;
} parser;

static int fail(parser *ps, const char *what)
{
    if (ps->why && ps->why_size)
        snprintf(ps->why, ps->why_size, "%s at byte %zu", what, (size_t)(ps->p - ps->text));
    return 0;
}

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ps->p at the opening quote. The decoded string is never longer than the escaped one. */
static int parse_string(parser *ps, char **out)
{
    const char *start = ++ps->p;
    const char *end = start;
    while (*end && *end != '"') {
        if (*end == '\\' && end[1])
            end++;
        end++;
    }
    if (!*end)
        return fail(ps, "unterminated string");
    char *s = malloc((size_t)(end - start) + 1);
    if (!s)
        return fail(ps, "out of memory");
    size_t n = 0;
    while (ps->p < end) {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            free(s);
            return fail(ps, "control character inside a string");
        }
        if (c != '\\') {
            s[n++] = (char)c;
            ps->p++;
            continue;
        }
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"': s[n++] = '"'; break;
        case '\\': s[n++] = '\\'; break;
        case '/': s[n++] = '/'; break;
        case 'b': s[n++] = '\b'; break;
        case 'f': s[n++] = '\f'; break;
        case 'n': s[n++] = '\n'; break;
        case 'r': s[n++] = '\r'; break;
        case 't': s[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (end - ps->p < 4 || !hex4(ps->p, &cp)) {
                free(s);
                return fail(ps, "bad \\u escape");
            }
            ps->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || !hex4(ps->p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    free(s);
                    return fail(ps, "lone surrogate in a \\u escape");
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(s);
                return fail(ps, "lone surrogate in a \\u escape");
            }
            if (cp == 0) {
                free(s);
                return fail(ps, "NUL character in a string");
            }
            n += put_utf8(s + n, cp); /* at most 4 bytes for 6 or 12 escaped ones */
            break;
        }
        default:
            free(s);
            return fail(ps, "bad escape in a string");
        }
    }
    s[n] = '\0';
    ps->p = end + 1;
    *out = s;
    return 1;
}

static int parse_number(parser *ps, tl_json *v)
{
    const char *s = ps->p, *q = s;
    if (*q == '-')
        q++;
    if (*q == '0')
        q++;
    else if (*q >= '1' && *q <= '9')
        while (*q >= '0' && *q <= '9')
            q++;
    else
        return fail(ps, "bad number");
    if (*q == '.') {
        q++;
        if (!(*q >= '0' && *q <= '9'))
            return fail(ps, "bad number");
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!(*q >= '0' && *q <= '9'))
            return fail(ps, "bad number");
        while (*q >= '0' && *q <= '9')
            q++;
    }
    v->type = TL_JSON_NUMBER;
    v->text = malloc((size_t)(q - s) + 1);
    if (!v->text)
        return fail(ps, "out of memory");
    memcpy(v->text, s, (size_t)(q - s));
    v->text[q - s] = '\0';
    v->number = strtod(v->text, NULL);
    ps->p = q;
    return 1;
}

static int parse_value(parser *ps, tl_json *v, int depth);

static int grow(tl_json *v, size_t *cap, int with_keys)
{
    if (v->n < *cap)
        return 1;
    size_t nc = *cap ? 2 * *cap : 4;
    tl_json *items = realloc(v->items, nc * sizeof *items);
    if (!items)
        return 0;
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, nc * sizeof *keys);
        if (!keys)
            return 0;
        v->keys = keys;
    }
    *cap = nc;
    return 1;
}

static int parse_container(parser *ps, tl_json *v, int depth, int object)
{
    char close = object ? '}' : ']';
    size_t cap = 0;
    v->type = object ? TL_JSON_OBJECT : TL_JSON_ARRAY;
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return 1;
    }
    for (;;) {
        if (!grow(v, &cap, object))
            return fail(ps, "out of memory");
        char *key = NULL;
        if (object) {
            skip_ws(ps);
            if (*ps->p != '"')
                return fail(ps, "expected a string key");
            if (!parse_string(ps, &key))
                return 0;
            skip_ws(ps);
            if (*ps->p != ':') {
                free(key);
                return fail(ps, "expected ':'");
            }
            ps->p++;
        }
        tl_json *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        if (object)
            v->keys[v->n] = key;
        v->n++; /* counted now, so tl_json_free releases a half-parsed item */
        if (!parse_value(ps, item, depth + 1))
            return 0;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return 1;
        }
        return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(parser *ps, tl_json *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return fail(ps, "nested too deeply");
    skip_ws(ps);
    switch (*ps->p) {
    case '{': return parse_container(ps, v, depth, 1);
    case '[': return parse_container(ps, v, depth, 0);
    case '"':
        v->type = TL_JSON_STRING;
        return parse_string(ps, &v->text);
    case 't':
        if (strncmp(ps->p, "true", 4) != 0)
            return fail(ps, "unexpected text");
        v->type = TL_JSON_BOOL;
        v->boolean = 1;
        ps->p += 4;
        return 1;
    case 'f':
        if (strncmp(ps->p, "false", 5) != 0)
            return fail(ps, "unexpected text");
        v->type = TL_JSON_BOOL;
        ps->p += 5;
        return 1;
    case 'n':
        if (strncmp(ps->p, "null", 4) != 0)
            return fail(ps, "unexpected text");
        v->type = TL_JSON_NULL;
        ps->p += 4;
        return 1;
    case '\0': return fail(ps, "unexpected end of text");
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps, v);
        return fail(ps, "unexpected character");
    }
}

int tl_json_parse(const char *text, tl_json *out, char *why, size_t why_size)
{
    parser ps = {.text = text, .p = text, .why = why, .why_size = why_size};
    memset(out, 0, sizeof *out);
    if (!parse_value(&ps, out, 0)) {
        tl_json_free(out);
        return 0;
    }
    skip_ws(&ps);
    if (*ps.p) {
        fail(&ps, "trailing text after the value");
        tl_json_free(out);
        return 0;
    }
    return 1;
}

void tl_json_free(tl_json *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        tl_json_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->text);
    memset(v, 0, sizeof *v);
}

const tl_json *tl_json_get(const tl_json *object, const char *key)
{
    if (!object || object->type != TL_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < object->n; i++)
        if (strcmp(object->keys[i], key) == 0)
            return &object->items[i];
    return NULL;
}

/* --- writer ----------------------------------------------------------------------------------- */

static int reserve(tl_jbuf *b, size_t more)
{
    if (b->failed)
        return 0;
    if (b->len + more + 1 <= b->cap)
        return 1;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + more + 1)
        nc *= 2;
    char *d = realloc(b->data, nc);
    if (!d) {
        b->failed = 1;
        return 0;
    }
    b->data = d;
    b->cap = nc;
    return 1;
}

static void put(tl_jbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tl_jbuf_raw(tl_jbuf *b, const char *text) { put(b, text, strlen(text)); }

void tl_jbuf_printf(tl_jbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        put(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tl_jbuf_string(tl_jbuf *b, const char *s)
{
    if (!s) {
        tl_jbuf_raw(b, "null");
        return;
    }
    put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': put(b, "\\\"", 2); break;
        case '\\': put(b, "\\\\", 2); break;
        case '\n': put(b, "\\n", 2); break;
        case '\r': put(b, "\\r", 2); break;
        case '\t': put(b, "\\t", 2); break;
        case '\b': put(b, "\\b", 2); break;
        case '\f': put(b, "\\f", 2); break;
        default:
            if (*p < 0x20) {
                tl_jbuf_printf(b, "\\u%04x", *p);
            } else {
                put(b, (const char *)p, 1);
            }
        }
    }
    put(b, "\"", 1);
}

void tl_jbuf_number(tl_jbuf *b, double v)
{
    if (!isfinite(v))
        tl_jbuf_raw(b, "null");
    else {
        /* the shortest text that reads back as exactly v */
        char text[40];
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(text, sizeof text, "%.*g", digits, v);
            if (strtod(text, NULL) == v)
                break;
        }
        tl_jbuf_raw(b, text);
    }
}

void tl_jbuf_value(tl_jbuf *b, const tl_json *v)
{
    switch (v->type) {
    case TL_JSON_NULL: tl_jbuf_raw(b, "null"); break;
    case TL_JSON_BOOL: tl_jbuf_raw(b, v->boolean ? "true" : "false"); break;
    case TL_JSON_NUMBER: tl_jbuf_raw(b, v->text); break;
    case TL_JSON_STRING: tl_jbuf_string(b, v->text); break;
    case TL_JSON_ARRAY:
    case TL_JSON_OBJECT:
        tl_jbuf_raw(b, v->type == TL_JSON_ARRAY ? "[" : "{");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                tl_jbuf_raw(b, ", ");
            if (v->type == TL_JSON_OBJECT) {
                tl_jbuf_string(b, v->keys[i]);
                tl_jbuf_raw(b, ": ");
            }
            tl_jbuf_value(b, &v->items[i]);
        }
        tl_jbuf_raw(b, v->type == TL_JSON_ARRAY ? "]" : "}");
        break;
    }
}

char *tl_jbuf_take(tl_jbuf *b)
{
    char *d = b->failed ? NULL : b->data;
    if (b->failed)
        free(b->data);
    else if (!d)
        d = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
    return d;
}
